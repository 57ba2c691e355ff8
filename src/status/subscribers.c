/*
 * subscribers.c - people who asked to hear about incidents and maintenance:
 * double opt-in by e-mail, webhooks, per-component choice, one-click
 * unsubscribe, the notices fan-out at a bounded rate, and the limits on the
 * public routes.
 *
 * DESIGN
 * Tables (migration 2): status_subscribers (kind email|webhook, address,
 * the webhook owner's e-mail, components [] = every one, state
 * pending|active, times) and status_notices (one per public update or
 * maintenance change: the text every subscriber gets, the Statuspage
 * webhook body, the components it concerns, and how far the fan-out got:
 * cursor = the last subscriber id handled). A notice is written in the
 * transaction that stores its update, so no update is published without it.
 *
 * Fan-out (dw_status_notices_turn, after every tick, one at a time under
 * notices_mu): a token bucket of send_rate per second, at most one second's
 * worth at once, decides how many messages this turn may queue. The oldest
 * unfinished notice takes active subscribers with id > cursor in id order;
 * those whose components meet the notice's are queued with one
 * dw_notifier_enqueue_many (one fsync) under dedup keys
 * "status:notice:<notice>:<subscriber>", then the cursor moves. A kill
 * between the two queues the same keys again: nobody twice, nobody lost.
 * When the list is through, the notice is done and an incident's timeline
 * records how many were notified ("notice" entry).
 *
 * Tokens (confirm, manage) are "<id>.<32 hex>" = the first 16 bytes of
 * HMAC-SHA-256(secret, "<purpose>:<id>"), compared in constant time; the
 * secret (32 random bytes) is created once in status_secret. Ids are never
 * reused, so a token cannot reach a later subscriber.
 *
 * Limits: per client address (subscribe requests per hour, every public
 * request per second: dw_ratelimit), new subscriptions per hour across all
 * clients, the total number of subscribers, one confirmation or reminder
 * mail per address per hour, pending subscriptions forgotten after
 * confirm_within (swept once a minute). Webhook URLs naming a loopback,
 * private or link-local address literal or "localhost" are refused unless
 * allow_private_webhooks (names that resolve there are not checked).
 *
 * Threads: any; the configuration is read under st->mu, the store is
 * thread-safe, the fan-out state under notices_mu.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "status/status_internal.h"

#define HOUR_MS 3600000LL
#define RESEND_MS HOUR_MS /* one confirmation / reminder mail per address per hour */
#define IMPORT_MAX 100000 /* subscribers in one import */
#define EMAIL_MAX 254     /* RFC 5321's path limit */
#define WEBHOOK_MAX 2048
#define SCAN_MAX 5000    /* subscribers read in one fan-out step */
#define LIMIT_KEYS 65536 /* client addresses the limiters remember */
#define SWEEP_MS 60000

const char st_subs_schema_sql[] =
    "CREATE TABLE status_secret (id INTEGER PRIMARY KEY, secret TEXT NOT NULL);"
    "CREATE TABLE status_subscribers ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL,"
    " address TEXT NOT NULL,"
    " email TEXT NOT NULL,"
    " components TEXT NOT NULL DEFAULT '[]',"
    " state TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " confirmed_at BIGINT,"
    " mailed_at BIGINT);"
    "CREATE UNIQUE INDEX status_subscribers_address ON status_subscribers (kind, address);"
    "CREATE INDEX status_subscribers_state ON status_subscribers (state, id);"
    "CREATE INDEX status_subscribers_created ON status_subscribers (created_at);"
    "CREATE TABLE status_notices ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL,"
    " ref TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " url TEXT NOT NULL,"
    " components TEXT NOT NULL DEFAULT '[]',"
    " webhook TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " cursor BIGINT NOT NULL DEFAULT 0,"
    " emails BIGINT NOT NULL DEFAULT 0,"
    " webhooks BIGINT NOT NULL DEFAULT 0,"
    " failed BIGINT NOT NULL DEFAULT 0,"
    " done_at BIGINT);"
    "CREATE INDEX status_notices_open ON status_notices (done_at, id);";

static char *col_text(const struct dw_value *v)
{
    return v->type == DW_VAL_TEXT ? dw_strndup(v->s, v->n) : NULL;
}

/* dw_store_exec that writes *err only when it fails (the store's call always sets it). */
static int sexec(struct dw_store *s, const char *sql, const struct dw_value *p, size_t n,
                 dw_store_row_fn fn, void *ctx, char **err)
{
    char *e = NULL;
    int rc = dw_store_exec(s, sql, p, n, fn, ctx, err ? &e : NULL);
    if (rc != 0 && err) {
        free(*err);
        *err = e;
    } else {
        free(e);
    }
    return rc;
}

/* ---- open, configuration, close ---- */

static int secret_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    char **out = ctx;
    if (nc == 1 && !*out)
        *out = col_text(&c[0]);
    return 0;
}

int st_subs_open(struct dw_status *st, char **err)
{
    pthread_mutex_init(&st->notices_mu, NULL);
    st->read_limit = dw_ratelimit_new(50, 200, LIMIT_KEYS);
    st->subs_limit = dw_ratelimit_new(10.0 / 3600, 10, LIMIT_KEYS);
    char *hex = NULL;
    if (sexec(st->store, "SELECT secret FROM status_secret WHERE id = 1", NULL, 0, secret_cb, &hex,
              err) != 0)
        return -1;
    if (!hex) {
        uint8_t raw[32];
        dw_random_bytes(raw, sizeof raw);
        hex = dw_calloc(1, 65);
        for (size_t i = 0; i < sizeof raw; i++)
            snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        struct dw_value p[] = {DW_VTEXT(hex)};
        /* Two processes racing: the first secret wins, both read it back. */
        if (sexec(st->store,
                  "INSERT INTO status_secret (id, secret) VALUES (1, $1)"
                  " ON CONFLICT (id) DO NOTHING",
                  p, 1, NULL, NULL, err) != 0) {
            free(hex);
            return -1;
        }
        free(hex);
        hex = NULL;
        dw_store_exec(st->store, "SELECT secret FROM status_secret WHERE id = 1", NULL, 0,
                      secret_cb, &hex, NULL);
    }
    bool ok = hex && strlen(hex) == 64;
    for (size_t i = 0; ok && i < 32; i++)
        st->secret[i] = (uint8_t)(dw_hex_digit(hex[2 * i]) << 4 | dw_hex_digit(hex[2 * i + 1]));
    free(hex);
    if (!ok)
        dw_set_err(err, "the status page's token secret in the store is damaged");
    return ok ? 0 : -1;
}

void st_subs_apply(struct dw_status *st)
{
    const struct st_yaml *y = &st->conf->y;
    dw_ratelimit_set(st->read_limit, y->rate.requests_per_second, (double)y->rate.burst);
    double n = (double)y->subs.per_client_per_hour;
    dw_ratelimit_set(st->subs_limit, n / 3600.0, n);
}

void st_subs_close(struct dw_status *st)
{
    dw_ratelimit_free(&st->read_limit);
    dw_ratelimit_free(&st->subs_limit);
    pthread_mutex_destroy(&st->notices_mu);
}

/* ---- tokens ---- */

static void token_make(const struct dw_status *st, const char *purpose, int64_t id, char out[64])
{
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%s:%lld", purpose, (long long)id);
    uint8_t mac[32];
    dw_hmac_sha256(st->secret, sizeof st->secret, msg, (size_t)n, mac);
    int k = snprintf(out, 64, "%lld.", (long long)id);
    for (int i = 0; i < 16; i++)
        snprintf(out + k + 2 * i, 3, "%02x", mac[i]);
}

/* The id a token names when its MAC is right, else 0. */
static int64_t token_id(const struct dw_status *st, const char *purpose, const char *token)
{
    if (!token || strlen(token) > 60)
        return 0;
    char *end;
    long long id = strtoll(token, &end, 10);
    if (id <= 0 || *end != '.' || !isdigit((unsigned char)token[0]))
        return 0;
    char want[64];
    token_make(st, purpose, id, want);
    size_t n = strlen(want);
    if (strlen(token) != n || !dw_ct_equal(want, token, n))
        return 0;
    return id;
}

/* ---- checking input ---- */

const char *dw_status_email_problem(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    const char *at = n ? strchr(s, '@') : NULL;
    if (!n)
        return "the e-mail address is empty";
    if (n > EMAIL_MAX)
        return "the e-mail address is longer than 254 bytes";
    if (strcspn(s, " \t<>,;:\"()[]\\") < n)
        return "the e-mail address holds a space or one of < > , ; : \" ( ) [ ] \\";
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return "the e-mail address holds a control character";
    if (!at || at == s || strchr(at + 1, '@') || at[1] == '.' || !strchr(at + 1, '.') ||
        s[n - 1] == '.')
        return "give a valid e-mail address (name@example.com)";
    return NULL;
}

/* Loopback, private, link-local or unspecified address literals, and localhost. */
static bool private_host(const char *host)
{
    if (strcasecmp(host, "localhost") == 0 || dw_str_has_suffix(host, ".localhost"))
        return true;
    unsigned a, b, c, d;
    char tail;
    if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a < 256 && b < 256)
        return a == 0 || a == 10 || a == 127 || (a == 169 && b == 254) ||
               (a == 172 && b >= 16 && b < 32) || (a == 192 && b == 168) ||
               (a == 100 && b >= 64 && b < 128);
    if (host[0] == '[') { /* IPv6: ::, ::1, fc00::/7, fe80::/10, v4-mapped */
        const char *h = host + 1;
        return strncmp(h, "::]", 3) == 0 || strncmp(h, "::1]", 4) == 0 ||
               strncasecmp(h, "fc", 2) == 0 || strncasecmp(h, "fd", 2) == 0 ||
               strncasecmp(h, "fe8", 3) == 0 || strncasecmp(h, "fe9", 3) == 0 ||
               strncasecmp(h, "fea", 3) == 0 || strncasecmp(h, "feb", 3) == 0 ||
               strncasecmp(h, "::ffff:", 7) == 0;
    }
    return false;
}

const char *dw_status_webhook_problem(const char *url, bool allow_private)
{
    size_t n = strlen(url);
    if (n > WEBHOOK_MAX)
        return "the webhook URL is longer than 2048 bytes";
    const char *rest = dw_str_has_prefix(url, "https://")  ? url + 8
                       : dw_str_has_prefix(url, "http://") ? url + 7
                                                           : NULL;
    if (!rest)
        return "the webhook URL must start with https:// or http://";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return "the webhook URL cannot hold spaces or control characters";
    size_t hl = strcspn(rest, "/?#");
    char *authority = dw_strndup(rest, hl);
    if (strchr(authority, '@')) {
        free(authority);
        return "the webhook URL cannot carry a user name or password";
    }
    /* the host without the port: [v6]:port or name:port */
    char *host = authority;
    if (host[0] != '[') {
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
    } else {
        char *close = strchr(host, ']');
        if (close)
            close[1] = '\0';
    }
    bool bad = !*host, priv = !bad && private_host(host);
    free(authority);
    if (bad)
        return "the webhook URL has no host";
    if (priv && !allow_private)
        return "the webhook URL names a private or loopback address";
    return NULL;
}

/* The components as a JSON array after checking each is on the page (mu held). */
static json_t *components_of(struct dw_status *st, const char *const *ids, size_t n, char **err)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        if (st_conf_component(st->conf, ids[i]) < 0) {
            dw_set_err(err, "unknown component \"%.64s\"", ids[i] ? ids[i] : "");
            json_decref(a);
            return NULL;
        }
        bool dup = false;
        size_t k;
        json_t *v;
        json_array_foreach(a, k, v) dup |= strcmp(json_string_value(v), ids[i]) == 0;
        if (!dup)
            json_array_append_new(a, json_string(ids[i]));
    }
    return a;
}

/* ---- mail to one subscriber ---- */

struct sub {
    int64_t id;
    char *kind, *address, *email, *state;
    json_t *components;
    int64_t created_at, confirmed_at, mailed_at;
};

static void sub_release(struct sub *s)
{
    free(s->kind);
    free(s->address);
    free(s->email);
    free(s->state);
    json_decref(s->components);
    *s = (struct sub){0};
}

#define SUB_COLS "id, kind, address, email, components, state, created_at, confirmed_at, mailed_at"

static void sub_read(struct sub *s, const struct dw_value *c)
{
    s->id = c[0].i;
    s->kind = col_text(&c[1]);
    s->address = col_text(&c[2]);
    s->email = col_text(&c[3]);
    s->components = json_loadb(c[4].s ? c[4].s : "[]", c[4].n, 0, NULL);
    if (!json_is_array(s->components)) {
        json_decref(s->components);
        s->components = json_array();
    }
    s->state = col_text(&c[5]);
    s->created_at = c[6].i;
    s->confirmed_at = c[7].type == DW_VAL_INT ? c[7].i : 0;
    s->mailed_at = c[8].type == DW_VAL_INT ? c[8].i : 0;
}

static int sub_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct sub *s = ctx;
    if (nc == 9 && !s->id)
        sub_read(s, c);
    return 0;
}

static bool sub_load(struct dw_status *st, const char *where, const struct dw_value *p, size_t n,
                     struct sub *out)
{
    char *sql = dw_asprintf("SELECT " SUB_COLS " FROM status_subscribers WHERE %s", where);
    *out = (struct sub){0};
    dw_store_exec(st->store, sql, p, n, sub_cb, out, NULL);
    free(sql);
    return out->id != 0;
}

/* The page's public URL and title, copied under mu. */
static void page_of(struct dw_status *st, char **url, char **title)
{
    pthread_mutex_lock(&st->mu);
    *url = dw_strdup(st->conf->url);
    *title = dw_strdup(st->conf->title);
    pthread_mutex_unlock(&st->mu);
}

/* Queues one mail about the subscription itself (confirm, or "you are already subscribed"). */
static int mail_subscriber(struct dw_status *st, const struct sub *s, bool confirm, int64_t now,
                           char **err)
{
    if (!st->notifier) {
        dw_set_err(err, "this server cannot send e-mail (no notifier): subscriptions are off");
        return -1;
    }
    char *url, *title, tok[64];
    page_of(st, &url, &title);
    token_make(st, confirm ? "confirm" : "manage", s->id, tok);
    bool hook = strcmp(s->kind, "webhook") == 0;
    char *link =
        dw_asprintf("%s/%s?token=%s", url, confirm ? "subscribe/confirm" : "subscription", tok);
    char *subject = confirm ? dw_asprintf("Confirm your subscription to %s", title)
                            : dw_asprintf("Your subscription to %s", title);
    char *text =
        confirm ? dw_asprintf("Someone, hopefully you, asked to receive %s updates %s%s.\n\n"
                              "Follow the link below to confirm. If it was not you, ignore this "
                              "message: nothing will be sent without your confirmation.",
                              title, hook ? "at the webhook " : "by e-mail", hook ? s->address : "")
                : dw_asprintf("Someone asked again to subscribe this address to %s updates. "
                              "You are already subscribed%s%s; the link below lets you choose "
                              "components or unsubscribe.",
                              title, hook ? " with the webhook " : "", hook ? s->address : "");
    json_t *payload =
        json_pack("{s:{s:s, s:s, s:s, s:s}}", "message", "title", subject, "text", text, "url",
                  link, "link_text", confirm ? "Confirm subscription" : "Manage subscription");
    char *body = json_dumps(payload, JSON_COMPACT);
    char key[96];
    snprintf(key, sizeof key, "status:%s:%lld:%lld", confirm ? "confirm" : "remind",
             (long long)s->id, (long long)(now / RESEND_MS));
    struct dw_notification m = {.dedup_key = key,
                                .kind = "email",
                                .to = s->email,
                                .payload = body,
                                .not_after_ms = now + 24 * HOUR_MS};
    int rc = dw_notifier_enqueue(st->notifier, &m, NULL, err);
    if (rc == 0) {
        struct dw_value p[] = {DW_VINT(s->id), DW_VINT(now)};
        dw_store_exec(st->store, "UPDATE status_subscribers SET mailed_at = $2 WHERE id = $1", p, 2,
                      NULL, NULL, NULL);
    }
    free(body);
    json_decref(payload);
    free(text);
    free(subject);
    free(link);
    free(url);
    free(title);
    return rc;
}

/* ---- subscribing ---- */

int dw_status_subscribe(struct dw_status *st, const struct dw_status_subscribe *in, int64_t now,
                        int *retry_after_s, char **err)
{
    bool hook = in->webhook && *in->webhook;
    pthread_mutex_lock(&st->mu);
    struct st_subs_conf c = st->conf->y.subs;
    json_t *comps = NULL;
    const char *why = NULL;
    if (!c.enabled || (hook ? !c.webhooks : !c.email))
        why = hook ? "this page does not take webhook subscriptions"
                   : "this page does not take e-mail subscriptions";
    else if ((why = dw_status_email_problem(in->email)) != NULL)
        ;
    else if (hook)
        why = dw_status_webhook_problem(in->webhook, c.allow_private_webhooks);
    if (!why)
        comps = components_of(st, in->components, in->ncomponents, err);
    pthread_mutex_unlock(&st->mu);
    if (why || !comps) {
        if (why)
            dw_set_err(err, "%s", why);
        return DW_STATUS_EINVAL;
    }
    int64_t retry_ms = 0;
    if (!dw_ratelimit_take(st->subs_limit, in->client ? in->client : "", now, &retry_ms)) {
        json_decref(comps);
        *retry_after_s = (int)((retry_ms + 999) / 1000);
        dw_set_err(err, "too many subscription requests from your address; try again later");
        return DW_STATUS_ELIMIT;
    }
    const char *address = hook ? in->webhook : in->email;
    /* e-mail addresses compare without case (the local part rarely matters; one row each) */
    char *addr = dw_strdup(address);
    if (!hook)
        for (char *p = addr; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    struct sub s;
    struct dw_value k[] = {DW_VTEXT(hook ? "webhook" : "email"), DW_VTEXT(addr)};
    int rc = 0;
    if (sub_load(st, "kind = $1 AND address = $2", k, 2, &s)) {
        /* Known: answer as for a new one; mail the owner at most once an hour. */
        bool pending = strcmp(s.state, "pending") == 0;
        if (pending) {
            char *cs = json_dumps(comps, JSON_COMPACT);
            struct dw_value p[] = {DW_VINT(s.id), DW_VTEXT(cs)};
            dw_store_exec(st->store, "UPDATE status_subscribers SET components = $2 WHERE id = $1",
                          p, 2, NULL, NULL, NULL);
            free(cs);
        }
        if (now - s.mailed_at >= RESEND_MS)
            rc = mail_subscriber(st, &s, pending, now, err);
        sub_release(&s);
    } else {
        int64_t recent = 0, total = 0;
        struct dw_value h[] = {DW_VINT(now - HOUR_MS)};
        dw_store_int(st->store,
                     "SELECT count(*) FROM status_subscribers WHERE created_at > $1 AND source = "
                     "'page'",
                     h, 1, &recent, NULL);
        dw_store_int(st->store, "SELECT count(*) FROM status_subscribers", NULL, 0, &total, NULL);
        if (recent >= c.max_new_per_hour || total >= c.max_subscribers) {
            *retry_after_s = total >= c.max_subscribers ? 3600 : 300;
            dw_set_err(err, "this page takes no more subscriptions right now; try again later");
            rc = DW_STATUS_ELIMIT;
        } else {
            char *cs = json_dumps(comps, JSON_COMPACT);
            struct dw_value p[] = {DW_VTEXT(hook ? "webhook" : "email"), DW_VTEXT(addr),
                                   DW_VTEXT(in->email), DW_VTEXT(cs), DW_VINT(now)};
            rc = sexec(st->store,
                       "INSERT INTO status_subscribers (kind, address, email, components,"
                       " state, source, created_at) VALUES ($1, $2, $3, $4, 'pending',"
                       " 'page', $5) ON CONFLICT (kind, address) DO NOTHING",
                       p, 5, NULL, NULL, err);
            free(cs);
            if (rc == 0 && sub_load(st, "kind = $1 AND address = $2", k, 2, &s)) {
                if (strcmp(s.state, "pending") == 0 && now - s.mailed_at >= RESEND_MS)
                    rc = mail_subscriber(st, &s, true, now, err);
                sub_release(&s);
            }
        }
    }
    free(addr);
    json_decref(comps);
    return rc;
}

int dw_status_subscription_confirm(struct dw_status *st, const char *token, int64_t now, char **err)
{
    int64_t id = token_id(st, "confirm", token);
    pthread_mutex_lock(&st->mu);
    int64_t within = st->conf->y.subs.confirm_within_ms;
    pthread_mutex_unlock(&st->mu);
    struct dw_value p[] = {DW_VINT(id), DW_VINT(now), DW_VINT(now - within)};
    int rc = id ? sexec(st->store,
                        "UPDATE status_subscribers SET state = 'active', confirmed_at = $2"
                        " WHERE id = $1 AND state = 'pending' AND created_at > $3",
                        p, 3, NULL, NULL, err)
                : 0;
    if (rc != 0)
        return -1;
    if (id && dw_store_changes(st->store) == 1)
        return 0;
    struct sub s;
    struct dw_value q[] = {DW_VINT(id)};
    bool active = id && sub_load(st, "id = $1", q, 1, &s) && strcmp(s.state, "active") == 0;
    if (id && s.id)
        sub_release(&s);
    if (active)
        return 0; /* a second click */
    dw_set_err(err, "this confirmation link is not valid (it may have expired: subscribe again)");
    return DW_STATUS_ENOTFOUND;
}

int dw_status_unsubscribe(struct dw_status *st, const char *token, int64_t now, char **err)
{
    (void)now;
    int64_t id = token_id(st, "manage", token);
    struct dw_value p[] = {DW_VINT(id)};
    if (id && sexec(st->store, "DELETE FROM status_subscribers WHERE id = $1", p, 1, NULL, NULL,
                    err) != 0)
        return -1;
    if (id && dw_store_changes(st->store) == 1)
        return 0;
    dw_set_err(err, "this link names no subscription (it may have ended already)");
    return DW_STATUS_ENOTFOUND;
}

json_t *dw_status_subscription_json(struct dw_status *st, const char *token)
{
    int64_t id = token_id(st, "manage", token);
    struct sub s;
    struct dw_value p[] = {DW_VINT(id)};
    if (!id || !sub_load(st, "id = $1", p, 1, &s))
        return NULL;
    json_t *j = json_pack("{s:s, s:s, s:O, s:s}", "kind", s.kind, "address", s.address,
                          "components", s.components, "state", s.state);
    sub_release(&s);
    return j;
}

int dw_status_subscription_components(struct dw_status *st, const char *token,
                                      const char *const *components, size_t n, int64_t now,
                                      char **err)
{
    (void)now;
    int64_t id = token_id(st, "manage", token);
    if (!id) {
        dw_set_err(err, "this link names no subscription");
        return DW_STATUS_ENOTFOUND;
    }
    pthread_mutex_lock(&st->mu);
    json_t *comps = components_of(st, components, n, err);
    pthread_mutex_unlock(&st->mu);
    if (!comps)
        return DW_STATUS_EINVAL;
    char *cs = json_dumps(comps, JSON_COMPACT);
    struct dw_value p[] = {DW_VINT(id), DW_VTEXT(cs)};
    int rc = sexec(st->store, "UPDATE status_subscribers SET components = $2 WHERE id = $1", p, 2,
                   NULL, NULL, err);
    free(cs);
    json_decref(comps);
    if (rc == 0 && dw_store_changes(st->store) != 1) {
        dw_set_err(err, "this link names no subscription");
        return DW_STATUS_ENOTFOUND;
    }
    return rc;
}

/* ---- operators ---- */

struct import {
    struct dw_status *st;
    const json_t *list;
    int64_t now;
    size_t added;
};

static int import_tx(struct dw_store *s, void *ctx)
{
    struct import *im = ctx;
    size_t i;
    json_t *e;
    json_array_foreach(im->list, i, e)
    {
        const char *hook = json_string_value(json_object_get(e, "webhook"));
        bool is_hook = hook && *hook;
        char *addr = dw_strdup(is_hook ? hook : json_string_value(json_object_get(e, "email")));
        if (!is_hook)
            for (char *p = addr; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        json_t *comps = json_object_get(e, "components");
        char *cs = comps ? json_dumps(comps, JSON_COMPACT) : dw_strdup("[]");
        struct dw_value p[] = {DW_VTEXT(is_hook ? "webhook" : "email"), DW_VTEXT(addr),
                               DW_VTEXT(json_string_value(json_object_get(e, "email"))),
                               DW_VTEXT(cs), DW_VINT(im->now)};
        int rc =
            dw_store_exec(s,
                          "INSERT INTO status_subscribers (kind, address, email, components,"
                          " state, source, created_at, confirmed_at) VALUES ($1, $2, $3, $4,"
                          " 'active', 'import', $5, $5) ON CONFLICT (kind, address) DO NOTHING",
                          p, 5, NULL, NULL, NULL);
        im->added += rc == 0 ? (size_t)dw_store_changes(s) : 0;
        free(cs);
        free(addr);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int dw_status_subscribers_import(struct dw_status *st, const json_t *list, int64_t now,
                                 size_t *added, char **err)
{
    if (!json_is_array(list) || json_array_size(list) > IMPORT_MAX) {
        dw_set_err(err, "expected a JSON array of at most %d subscribers", IMPORT_MAX);
        return DW_STATUS_EINVAL;
    }
    pthread_mutex_lock(&st->mu);
    bool allow_private = st->conf->y.subs.allow_private_webhooks;
    int rc = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *email = json_string_value(json_object_get(e, "email"));
        const char *hook = json_string_value(json_object_get(e, "webhook"));
        const char *why = !json_is_object(e)               ? "not an object"
                          : dw_status_email_problem(email) ? dw_status_email_problem(email)
                          : hook && *hook ? dw_status_webhook_problem(hook, allow_private)
                                          : NULL;
        json_t *comps = json_object_get(e, "components");
        if (!why && comps && !json_is_array(comps))
            why = "\"components\" must be an array of component ids";
        size_t k;
        json_t *v;
        json_array_foreach(comps, k,
                           v) if (!why && st_conf_component(st->conf, json_string_value(v)) < 0)
            why = "\"components\" names a component the page does not have";
        if (why) {
            dw_set_err(err, "subscriber %zu: %s (nothing was imported)", i, why);
            rc = DW_STATUS_EINVAL;
            break;
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (rc)
        return rc;
    struct import im = {st, list, now, 0};
    char *serr = NULL;
    if (dw_store_tx(st->store, import_tx, &im, &serr) != 0) {
        dw_set_err(err, "cannot store the subscribers: %s", serr ? serr : "store error");
        free(serr);
        return -1;
    }
    if (added)
        *added = im.added;
    return 0;
}

struct listing {
    json_t *arr;
};

static int list_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct listing *l = ctx;
    if (nc != 9)
        return 0;
    struct sub s = {0};
    sub_read(&s, c);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:O, s:s, s:I}", "id", (json_int_t)s.id, "kind",
                          s.kind, "address", s.address, "email", s.email, "components",
                          s.components, "state", s.state, "created_at", (json_int_t)s.created_at);
    if (s.confirmed_at)
        json_object_set_new(o, "confirmed_at", json_integer(s.confirmed_at));
    json_array_append_new(l->arr, o);
    sub_release(&s);
    return 0;
}

json_t *dw_status_subscribers_json(struct dw_status *st, int64_t after, size_t limit, char **err)
{
    if (limit < 1 || limit > 1000)
        limit = 1000;
    struct listing l = {json_array()};
    struct dw_value p[] = {DW_VINT(after), DW_VINT((int64_t)limit)};
    if (sexec(st->store,
              "SELECT " SUB_COLS " FROM status_subscribers WHERE id > $1 ORDER BY id"
              " LIMIT $2",
              p, 2, list_cb, &l, err) != 0) {
        json_decref(l.arr);
        return NULL;
    }
    int64_t active = 0, pending = 0;
    dw_store_int(st->store, "SELECT count(*) FROM status_subscribers WHERE state = 'active'", NULL,
                 0, &active, NULL);
    dw_store_int(st->store, "SELECT count(*) FROM status_subscribers WHERE state = 'pending'", NULL,
                 0, &pending, NULL);
    return json_pack("{s:o, s:I, s:I}", "subscribers", l.arr, "active", (json_int_t)active,
                     "pending", (json_int_t)pending);
}

int dw_status_subscriber_delete(struct dw_status *st, int64_t id, char **err)
{
    struct dw_value p[] = {DW_VINT(id)};
    if (sexec(st->store, "DELETE FROM status_subscribers WHERE id = $1", p, 1, NULL, NULL, err) !=
        0)
        return -1;
    if (dw_store_changes(st->store) == 1)
        return 0;
    dw_set_err(err, "no subscriber %lld", (long long)id);
    return DW_STATUS_ENOTFOUND;
}

/* ---- notices ---- */

static int notice_add(struct dw_status *st, const char *kind, const char *ref, const char *subject,
                      const char *body, const char *url, const json_t *components,
                      const json_t *webhook, int64_t now)
{
    if (!st->conf->y.subs.enabled)
        return 0;
    char *cs = json_dumps(components, JSON_COMPACT), *ws = json_dumps(webhook, JSON_COMPACT);
    struct dw_value p[] = {DW_VTEXT(kind),           DW_VTEXT(ref), DW_VTEXT(subject),
                           DW_VTEXT(body),           DW_VTEXT(url), DW_VTEXT(cs ? cs : "[]"),
                           DW_VTEXT(ws ? ws : "{}"), DW_VINT(now)};
    int rc = dw_store_exec(st->store,
                           "INSERT INTO status_notices (kind, ref, subject, body, url, components,"
                           " webhook, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                           p, DW_ARRAY_LEN(p), NULL, NULL, NULL);
    free(cs);
    free(ws);
    return rc;
}

static const char *status_word(const char *s)
{
    static const char *const words[][2] = {
        {"investigating", "Investigating"}, {"identified", "Identified"},
        {"monitoring", "Monitoring"},       {"resolved", "Resolved"},
        {"postmortem", "Postmortem"},       {"scheduled", "Scheduled"},
        {"in_progress", "In progress"},     {"completed", "Completed"}};
    for (size_t i = 0; i < DW_ARRAY_LEN(words); i++)
        if (strcmp(words[i][0], s) == 0)
            return words[i][1];
    return s;
}

/* Statuspage's page indicator of an impact, for the webhook body. */
static void page_indicator(const char *impact, bool over, const char **ind, const char **desc)
{
    static const char *const map[][2] = {{"critical", "Major System Outage"},
                                         {"major", "Partial System Outage"},
                                         {"minor", "Minor Service Outage"}};
    *ind = "none";
    *desc = "All Systems Operational";
    for (size_t i = 0; !over && i < DW_ARRAY_LEN(map); i++)
        if (strcmp(impact, map[i][0]) == 0) {
            *ind = map[i][0];
            *desc = map[i][1];
        }
}

int st_notice_incident(struct dw_status *st, const json_t *inc, const char *status,
                       const char *body, const json_t *affected, int64_t update_id, int64_t now)
{
    const char *id = json_string_value(json_object_get(inc, "id"));
    const char *title = json_string_value(json_object_get(inc, "title"));
    int sev = (int)json_integer_value(json_object_get(inc, "severity"));
    if (!id)
        return 0;
    if (!title)
        title = id;
    char *subject = dw_asprintf("[%s] %s: %s", st->conf->title, status_word(status), title);
    char *url = dw_asprintf("%s/incidents/%s", st->conf->url, id);
    char at[40];
    st_time(now, at);
    const char *impact = st_impact(sev), *ind, *desc;
    bool over = strcmp(status, "resolved") == 0 || strcmp(status, "postmortem") == 0;
    page_indicator(impact, over, &ind, &desc);
    json_t *hook = json_pack(
        "{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:I, s:s, s:s, s:s, s:s}],"
        " s:O}}",
        "page", "id", dw_store_instance_id(st->store), "status_indicator", ind,
        "status_description", desc, "incident", "id", id, "name", title, "status", status, "impact",
        impact, "shortlink", url, "updated_at", at, "incident_updates", "id", (json_int_t)update_id,
        "status", status, "body", body, "created_at", at, "incident_id", id, "components",
        affected);
    char *text = dw_asprintf("%s\n\n%s", status_word(status), body);
    int rc = notice_add(st, "incident", id, subject, text, url, affected, hook, now);
    json_decref(hook);
    free(text);
    free(url);
    free(subject);
    return rc;
}

void st_notice_maint(struct dw_status *st, const struct st_maint *m, const char *state, int64_t now)
{
    char from[40], until[40], at[40];
    st_time(m->starts_at, from);
    st_time(m->ends_at, until);
    st_time(now, at);
    char *subject = dw_asprintf("[%s] Maintenance %s: %s", st->conf->title,
                                strcmp(state, "scheduled") == 0     ? "scheduled"
                                : strcmp(state, "in_progress") == 0 ? "in progress"
                                                                    : "completed",
                                m->title);
    char *url = dw_asprintf("%s", st->conf->url);
    char *text = dw_asprintf("%s\n\nWindow: %s to %s (UTC)%s%s", status_word(state), from, until,
                             m->body && *m->body ? "\n\n" : "", m->body ? m->body : "");
    json_t *hook = json_pack(
        "{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}}", "page", "id",
        dw_store_instance_id(st->store), "status_indicator", "none", "status_description",
        strcmp(state, "in_progress") == 0 ? "Service Under Maintenance" : "All Systems Operational",
        "incident", "id", m->id, "name", m->title, "status", state, "impact", "maintenance",
        "scheduled_for", from, "scheduled_until", until, "updated_at", at, "shortlink", url,
        "components", m->components);
    notice_add(st, "maintenance", m->id, subject, text, url, m->components, hook, now);
    json_decref(hook);
    free(text);
    free(url);
    free(subject);
}

struct notice {
    int64_t id, cursor, emails, webhooks, failed, created_at;
    char *kind, *ref, *subject, *body, *url;
    json_t *components, *webhook;
};

static void notice_release(struct notice *n)
{
    free(n->kind);
    free(n->ref);
    free(n->subject);
    free(n->body);
    free(n->url);
    json_decref(n->components);
    json_decref(n->webhook);
    *n = (struct notice){0};
}

#define NOTICE_COLS                                                                                \
    "id, kind, ref, subject, body, url, components, webhook, cursor, emails, webhooks, failed,"    \
    " created_at, done_at"

static int notice_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct notice *n = ctx;
    if (nc != 14 || n->id)
        return 0;
    n->id = c[0].i;
    n->kind = col_text(&c[1]);
    n->ref = col_text(&c[2]);
    n->subject = col_text(&c[3]);
    n->body = col_text(&c[4]);
    n->url = col_text(&c[5]);
    n->components = json_loadb(c[6].s ? c[6].s : "[]", c[6].n, 0, NULL);
    n->webhook = json_loadb(c[7].s ? c[7].s : "{}", c[7].n, 0, NULL);
    n->cursor = c[8].i;
    n->emails = c[9].i;
    n->webhooks = c[10].i;
    n->failed = c[11].i;
    n->created_at = c[12].i;
    return 0;
}

static bool meets(const json_t *want, const json_t *have)
{
    if (json_array_size(want) == 0 || json_array_size(have) == 0)
        return true; /* subscribed to everything, or a notice about everything */
    size_t i, k;
    json_t *a, *b;
    json_array_foreach(want, i, a) json_array_foreach(have, k, b) if (json_equal(a, b)) return true;
    return false;
}

struct batch {
    struct dw_status *st;
    const struct notice *n;
    const char *page_url;
    size_t max;   /* messages this step may queue */
    int64_t last; /* the last subscriber id read */
    size_t rows;  /* subscribers read */
    struct dw_notification *msgs;
    char **keys, **bodies;
    bool *is_hook;
    size_t count;
};

static char *message_for(const struct batch *b, const struct sub *s, bool hook)
{
    char tok[64];
    token_make(b->st, "manage", s->id, tok);
    char *unsub = dw_asprintf("%s/unsubscribe?token=%s", b->page_url, tok);
    char *manage = dw_asprintf("%s/subscription?token=%s", b->page_url, tok);
    char *text = dw_asprintf("%s\n\nManage your subscription: %s", b->n->body, manage);
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s}", "title", b->n->subject, "text", text, "url",
                          b->n->url, "link_text", "View on the status page", "unsubscribe", unsub);
    if (hook) {
        json_t *w = json_deep_copy(b->n->webhook);
        json_object_set_new(w, "meta",
                            json_pack("{s:s, s:s}", "unsubscribe", unsub, "documentation", manage));
        json_object_set_new(m, "webhook_body", w);
    }
    json_t *payload = json_pack("{s:o}", "message", m);
    char *body = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    free(text);
    free(manage);
    free(unsub);
    return body;
}

static int batch_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct batch *b = ctx;
    if (nc != 9)
        return 0;
    if (b->count >= b->max)
        return 1; /* the rest waits for the next step: last stays before it */
    struct sub s = {0};
    sub_read(&s, c);
    b->last = s.id;
    b->rows++;
    if (meets(s.components, b->n->components)) {
        bool hook = strcmp(s.kind, "webhook") == 0;
        size_t i = b->count++;
        b->keys[i] = dw_asprintf("status:notice:%lld:%lld", (long long)b->n->id, (long long)s.id);
        b->bodies[i] = message_for(b, &s, hook);
        b->is_hook[i] = hook;
        b->msgs[i] = (struct dw_notification){.dedup_key = b->keys[i],
                                              .kind = hook ? "webhook" : "email",
                                              .to = dw_strdup(s.address),
                                              .payload = b->bodies[i],
                                              .not_after_ms = b->n->created_at + 24 * HOUR_MS};
    }
    sub_release(&s);
    return 0;
}

static void batch_release(struct batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free(b->keys[i]);
        free(b->bodies[i]);
        free((char *)b->msgs[i].to);
    }
    free(b->keys);
    free(b->bodies);
    free(b->msgs);
    free(b->is_hook);
}

/* The incident's timeline learns how many subscribers the notice reached. */
static void notice_recorded(struct dw_status *st, const struct notice *n, int64_t now)
{
    if (strcmp(n->kind, "incident") != 0 || !st->incidents)
        return;
    char text[200];
    snprintf(text, sizeof text, "subscribers notified: %lld e-mails and %lld webhooks queued",
             (long long)n->emails, (long long)n->webhooks);
    if (n->failed)
        snprintf(text + strlen(text), sizeof text - strlen(text), ", %lld not queued",
                 (long long)n->failed);
    char *err = NULL;
    if (dw_incident_record(st->incidents, n->ref, "notice", text, "status", now, &err) != 0)
        dw_log_kv(DW_LOG_WARN, "status", "cannot record the notice on the incident", "incident",
                  n->ref, "error", err, NULL);
    free(err);
}

#define STEP_NONE (-1)   /* no notice is open */
#define STEP_FAILED (-2) /* the outbox failed: the step is tried again next turn */

/* One step of the oldest open notice: the messages queued, or STEP_NONE / STEP_FAILED. */
static int64_t notice_step(struct dw_status *st, const char *page_url, size_t budget, int64_t now)
{
    struct notice n = {0};
    dw_store_exec(st->store,
                  "SELECT " NOTICE_COLS " FROM status_notices WHERE done_at IS NULL ORDER BY id"
                  " LIMIT 1",
                  NULL, 0, notice_cb, &n, NULL);
    if (!n.id)
        return STEP_NONE;
    struct batch b = {.st = st, .n = &n, .page_url = page_url, .max = budget, .last = n.cursor};
    b.msgs = dw_calloc(budget, sizeof *b.msgs);
    b.keys = dw_calloc(budget, sizeof *b.keys);
    b.bodies = dw_calloc(budget, sizeof *b.bodies);
    b.is_hook = dw_calloc(budget, sizeof *b.is_hook);
    size_t scan = budget * 4 < SCAN_MAX ? budget * 4 : SCAN_MAX;
    struct dw_value p[] = {DW_VINT(n.cursor), DW_VINT((int64_t)scan)};
    int rc = dw_store_exec(st->store,
                           "SELECT " SUB_COLS " FROM status_subscribers WHERE state = 'active' AND"
                           " id > $1 ORDER BY id LIMIT $2",
                           p, 2, batch_cb, &b, NULL);
    bool through = rc == 0 && b.count < budget && b.rows < scan;
    int64_t queued = 0, emails = 0, hooks = 0, failed = 0;
    if (rc == 0 && b.count) {
        char **errs = dw_calloc(b.count, sizeof *errs);
        queued = dw_notifier_enqueue_many(st->notifier, b.msgs, b.count, errs);
        for (size_t i = 0; i < b.count; i++) {
            if (errs[i]) {
                if (failed++ == 0)
                    dw_log_kv(DW_LOG_WARN, "status", "a subscriber notice was not queued", "notice",
                              n.subject, "error", errs[i], NULL);
                free(errs[i]);
            } else if (b.is_hook[i]) {
                hooks++;
            } else {
                emails++;
            }
        }
        free(errs);
        if (queued == 0 && failed == (int64_t)b.count && b.count > 1)
            rc = -1; /* the outbox itself failed: try this step again next turn */
    }
    if (rc == 0) {
        struct dw_value u[] = {DW_VINT(n.id),  DW_VINT(b.last), DW_VINT(emails),
                               DW_VINT(hooks), DW_VINT(failed), through ? DW_VINT(now) : DW_VNULL};
        dw_store_exec(st->store,
                      "UPDATE status_notices SET cursor = $2, emails = emails + $3,"
                      " webhooks = webhooks + $4, failed = failed + $5, done_at = $6 WHERE id = $1",
                      u, DW_ARRAY_LEN(u), NULL, NULL, NULL);
        if (through) {
            n.emails += emails;
            n.webhooks += hooks;
            n.failed += failed;
            notice_recorded(st, &n, now);
        }
    }
    batch_release(&b);
    notice_release(&n);
    return rc == 0 ? (int64_t)b.count : STEP_FAILED;
}

static void sweep(struct dw_status *st, int64_t within, int64_t now)
{
    struct dw_value p[] = {DW_VINT(now - within), DW_VINT(now - 90 * 24 * HOUR_MS)};
    dw_store_exec(st->store,
                  "DELETE FROM status_subscribers WHERE state = 'pending' AND created_at <= $1", p,
                  1, NULL, NULL, NULL);
    dw_store_exec(st->store, "DELETE FROM status_notices WHERE done_at <= $1", p + 1, 1, NULL, NULL,
                  NULL);
}

void dw_status_notices_turn(struct dw_status *st, int64_t now)
{
    pthread_mutex_lock(&st->mu);
    double rate = st->conf->y.subs.send_rate;
    int64_t within = st->conf->y.subs.confirm_within_ms;
    char *url = dw_strdup(st->conf->url);
    pthread_mutex_unlock(&st->mu);
    pthread_mutex_lock(&st->notices_mu);
    if (now - st->subs_swept_at >= SWEEP_MS) {
        st->subs_swept_at = now;
        sweep(st, within, now);
    }
    double burst = rate < 1 ? 1 : rate; /* at most a second's worth at once */
    if (st->send_at == 0 || now < st->send_at)
        st->send_tokens = burst;
    else
        st->send_tokens = fmin(burst, st->send_tokens + (double)(now - st->send_at) * rate / 1000);
    st->send_at = now;
    /* Each step either queues, moves a cursor or finishes a notice; the cap bounds a turn
       that walks a long list matching nobody. */
    for (int steps = 0; st->notifier && st->send_tokens >= 1 && steps < 1000; steps++) {
        int64_t sent = notice_step(st, url, (size_t)st->send_tokens, now);
        if (sent < 0)
            break;
        st->send_tokens -= (double)sent;
    }
    pthread_mutex_unlock(&st->notices_mu);
    free(url);
}

static int notices_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    json_t *arr = ctx;
    struct notice n = {0};
    notice_cb(&n, c, nc);
    if (!n.id)
        return 0;
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:O, s:I, s:I, s:I, s:I, s:I}", "id",
                          (json_int_t)n.id, "kind", n.kind, "ref", n.ref, "subject", n.subject,
                          "components", n.components, "cursor", (json_int_t)n.cursor, "emails",
                          (json_int_t)n.emails, "webhooks", (json_int_t)n.webhooks, "failed",
                          (json_int_t)n.failed, "created_at", (json_int_t)n.created_at);
    json_object_set_new(o, "done_at",
                        c[13].type == DW_VAL_INT ? json_integer(c[13].i) : json_null());
    json_array_append_new(arr, o);
    notice_release(&n);
    return 0;
}

json_t *dw_status_notices_json(struct dw_status *st, size_t limit, char **err)
{
    json_t *arr = json_array();
    struct dw_value p[] = {DW_VINT((int64_t)(limit < 1 || limit > 1000 ? 100 : limit))};
    if (sexec(st->store, "SELECT " NOTICE_COLS " FROM status_notices ORDER BY id DESC LIMIT $1", p,
              1, notices_cb, arr, err) != 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- the per-client limit of public routes ---- */

bool dw_status_admit(struct dw_status *st, const char *client, const char *forwarded, int64_t now,
                     int *retry_after_s)
{
    const char *who = client ? client : "";
    char hop[64] = "";
    if (forwarded && *forwarded) {
        /* not st->mu: a tick holds it through its store work, and this is every request */
        pthread_rwlock_rdlock(&st->docs_lock);
        bool trusted = false;
        for (size_t i = 0; i < st->nproxies; i++)
            trusted |= strcmp(st->proxies[i], who) == 0;
        pthread_rwlock_unlock(&st->docs_lock);
        if (trusted) { /* the last address the proxy added */
            const char *last = strrchr(forwarded, ',');
            last = last ? last + 1 : forwarded;
            while (*last == ' ')
                last++;
            dw_strlcpy(hop, last, sizeof hop);
            hop[strcspn(hop, " ")] = '\0';
            if (*hop)
                who = hop;
        }
    }
    int64_t retry_ms = 0;
    if (dw_ratelimit_take(st->read_limit, who, now, &retry_ms))
        return true;
    *retry_after_s = (int)((retry_ms + 999) / 1000);
    return false;
}

/* ---- the pages ---- */

static void page_components(struct dw_buf *b, struct dw_status *st, const json_t *chosen)
{
    const struct st_yaml *y = &st->conf->y;
    dw_buf_puts(b, "<fieldset>\n<legend>Components (none ticked: every one)</legend>\n");
    for (size_t i = 0; i < y->ncomponents; i++) {
        bool on = false;
        size_t k;
        json_t *v;
        json_array_foreach(chosen, k, v) on |=
            strcmp(json_string_value(v), y->components[i].id) == 0;
        dw_buf_puts(b, "<label><input type=\"checkbox\" name=\"components\" value=\"");
        st_html_escape(b, y->components[i].id);
        dw_buf_printf(b, "\"%s> ", on ? " checked" : "");
        st_html_escape(b, y->components[i].name);
        dw_buf_puts(b, "</label><br>\n");
    }
    dw_buf_puts(b, "</fieldset>\n");
}

static void page_message(struct dw_buf *b, const char *message)
{
    if (!message)
        return;
    dw_buf_puts(b, "<p class=\"card\" role=\"status\">");
    st_html_escape(b, message);
    dw_buf_puts(b, "</p>\n");
}

char *dw_status_subscribe_page(struct dw_status *st, const char *kind, const char *token,
                               const char *message)
{
    json_t *sub = strcmp(kind, "manage") == 0 ? dw_status_subscription_json(st, token) : NULL;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    pthread_mutex_lock(&st->mu);
    st_html_open(&b, st->conf, "Subscribe");
    page_message(&b, message);
    if (strcmp(kind, "form") == 0) {
        dw_buf_puts(&b, "<h2>Get notified of incidents and maintenance</h2>\n"
                        "<form method=\"post\" action=\"/status/subscribe\">\n"
                        "<p><label>E-mail address<br><input type=\"email\" name=\"email\" "
                        "required maxlength=\"254\" autocomplete=\"email\"></label></p>\n"
                        "<p><label>Webhook URL (optional; notices are POSTed there, the "
                        "e-mail address hears about the subscription)<br><input type=\"url\" "
                        "name=\"webhook\" maxlength=\"2048\"></label></p>\n");
        page_components(&b, st, NULL);
        dw_buf_puts(&b, "<p><button type=\"submit\">Subscribe</button></p>\n</form>\n");
    } else if (strcmp(kind, "confirm") == 0 || strcmp(kind, "unsubscribe") == 0) {
        bool confirm = strcmp(kind, "confirm") == 0;
        dw_buf_printf(&b,
                      "<form method=\"post\" action=\"/status/%s\">\n"
                      "<input type=\"hidden\" name=\"token\" value=\"",
                      confirm ? "subscribe/confirm" : "unsubscribe");
        st_html_escape(&b, token ? token : "");
        dw_buf_printf(&b, "\">\n<p><button type=\"submit\">%s</button></p>\n</form>\n",
                      confirm ? "Confirm my subscription" : "Unsubscribe");
    } else if (strcmp(kind, "manage") == 0 && sub) {
        dw_buf_puts(&b, "<h2>Your subscription</h2>\n<p>");
        st_html_escape(&b, json_string_value(json_object_get(sub, "address")));
        dw_buf_puts(&b, "</p>\n<form method=\"post\" action=\"/status/subscription\">\n"
                        "<input type=\"hidden\" name=\"token\" value=\"");
        st_html_escape(&b, token);
        dw_buf_puts(&b, "\">\n");
        page_components(&b, st, json_object_get(sub, "components"));
        dw_buf_puts(&b, "<p><button type=\"submit\">Save</button></p>\n</form>\n"
                        "<form method=\"post\" action=\"/status/unsubscribe\">\n"
                        "<input type=\"hidden\" name=\"token\" value=\"");
        st_html_escape(&b, token);
        dw_buf_puts(&b, "\">\n<p><button type=\"submit\">Unsubscribe</button></p>\n</form>\n");
    }
    dw_buf_puts(&b, "<p><a href=\"/status\">Back to the status page</a></p>\n");
    st_html_close(&b);
    pthread_mutex_unlock(&st->mu);
    json_decref(sub);
    return dw_buf_steal(&b);
}
