/*
 * twilio.c - SMS and voice calls through Twilio's REST API (2010-04-01),
 * or any provider that offers the same API at another api_url; and the
 * signature check of Twilio's inbound webhooks.
 *
 * DESIGN
 * sms: render gives the message text: "[P0 FIRING] summary (2 alerts)."
 *   and, for a page from the on-call module, "Reply 4 to ack, 6 to
 *   resolve." and the page's signed acknowledge link. At most 1600
 *   characters (Twilio's limit, counted in UTF-16 units as Twilio does):
 *   the summary is cut (with "…") so the hint and the link stay whole.
 *   A plain message: "title\ntext" cut to the same limit, then " url" when
 *   it still fits. voice skips plain messages (nothing to acknowledge).
 * voice: render gives inline TwiML, XML-escaped (preceded by a line
 * "StatusCallback: URL" when the page has a status_url, which request sends
 * as the call's StatusCallback, so an unanswered call reaches the on-call
 * module and falls back to SMS): with the page's voice_url
 *   a <Gather numDigits="1"> posting the key pressed there, around a <Say>
 *   of the alert and "Press 4 to acknowledge, 6 to resolve.", then a
 *   goodbye; without it (or for a resolve) a plain <Say>. Twilio takes at
 *   most 4000 characters of Twiml; a longer one (a huge voice_url) falls
 *   back to the plain <Say>.
 * Neither body holds a secret; request composes the form
 * (application/x-www-form-urlencoded) into the attempt: To (the message's
 * destination or the configured `to`), From, Body or Twiml, StatusCallback
 * (+ StatusCallbackEvent=completed for calls), POSTed to
 * {api_url}/2010-04-01/Accounts/{sid}/Messages.json or .../Calls.json with
 * HTTP basic auth sid:token (the token, or its file read at each request,
 * never logged).
 *
 * outcome: the webhook's table (2xx delivered - Twilio answers 201 -, 429
 * and 5xx retried, Retry-After honoured); a given-up 4xx carries Twilio's
 * error code and message ({"code": 21211, "message": ...}) in the detail.
 *
 * dw_notify_twilio_signature_ok: Twilio's documented X-Twilio-Signature:
 * base64(HMAC-SHA1(auth token, the full URL followed by each POST
 * parameter's name and value, sorted by name)), compared in constant time.
 * The HTTP module calls it for the voice keypad callbacks.
 *
 * Threads: channels run on the notifier's delivery thread; the signature
 * check is pure and thread-safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "notify/notify_internal.h"

/* A voice body may start with this line naming the call's status callback (a page's
 * status_url); the rest is the TwiML. */
#define STATUS_LINE "StatusCallback: "

#define SMS_MAX 1600    /* UTF-16 units */
#define TWIML_MAX 4000  /* characters */
#define SAY_SUMMARY 300 /* characters of the summary spoken */
#define SIGNED_MAX (1u << 20)

/* ---- text ---- */

/* UTF-16 units of the UTF-8 sequence starting with byte c. */
static size_t units_of(unsigned char c)
{
    return c >= 0xF0 ? 2 : 1;
}

static size_t utf16_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n += units_of(*p);
    return n;
}

/* s cut to at most max UTF-16 units, "…" (one unit) ending a cut text. */
static char *cut_units(const char *s, size_t max)
{
    if (utf16_len(s) <= max)
        return dw_strdup(s);
    size_t i = 0, used = 0;
    while (s[i]) {
        size_t u = units_of((unsigned char)s[i]), len = 1;
        while (((unsigned char)s[i + len] & 0xC0) == 0x80)
            len++;
        if (used + u + 1 > max)
            break;
        used += u;
        i += len;
    }
    char *out = dw_malloc(i + 4);
    memcpy(out, s, i);
    memcpy(out + i, "\xE2\x80\xA6", 4);
    return out;
}

static const char *state_of(json_t *doc)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (msg_resolved(doc))
        return "RESOLVED";
    return kind && strcmp(kind, "acknowledged") == 0 ? "ACKNOWLEDGED" : "FIRING";
}

static size_t alerts_shown(json_t *doc)
{
    return msg_resolved(doc) ? msg_count(doc, "resolved") : msg_count(doc, "firing");
}

/* ---- sms ---- */

static char *sms_tail(json_t *doc)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    size_t n = alerts_shown(doc);
    dw_buf_printf(&b, " (%zu alert%s", n, n == 1 ? "" : "s");
    json_t *page = json_object_get(doc, "page");
    json_int_t bundled = json_integer_value(json_object_get(page, "bundled"));
    if (bundled > 1)
        dw_buf_printf(&b, ", %lld pages", (long long)bundled);
    dw_buf_puts(&b, ").");
    if (json_is_object(page) && !msg_resolved(doc)) {
        const char *ack = json_string_value(json_object_get(page, "ack_url"));
        dw_buf_puts(&b, " Reply 4 to ack, 6 to resolve.");
        if (ack && *ack)
            dw_buf_printf(&b, " %s", ack);
    }
    return dw_buf_steal(&b);
}

/* A plain message: "title\ntext", cut to the limit, then " url" when it still fits. */
static char *sms_plain(json_t *m)
{
    const char *title = msg_plain_get(m, "title"), *text = msg_plain_get(m, "text");
    const char *url = msg_plain_get(m, "url");
    char *both =
        dw_asprintf("%s%s%s", title ? title : "", title && text ? "\n" : "", text ? text : "");
    char *body = cut_units(both, SMS_MAX);
    free(both);
    if (url && utf16_len(body) + 1 + utf16_len(url) <= SMS_MAX) {
        char *with = dw_asprintf("%s %s", body, url);
        free(body);
        body = with;
    }
    return body;
}

static char *sms_render(const void *conf, const char *payload, const char **skip)
{
    const struct y_twilio *c = conf;
    json_t *doc = msg_load(payload, c->send_resolved, skip);
    if (!doc)
        return NULL;
    if (msg_plain(doc)) {
        char *body = sms_plain(msg_plain(doc));
        json_decref(doc);
        return body;
    }
    const char *prio = json_string_value(json_object_get(doc, "priority"));
    char *head = dw_asprintf("[%s%s%s] ", prio ? prio : "", prio ? " " : "", state_of(doc));
    char *tail = sms_tail(doc);
    size_t fixed = utf16_len(head) + utf16_len(tail);
    char *summary = cut_units(msg_summary(doc), fixed < SMS_MAX ? SMS_MAX - fixed : 1);
    char *full = dw_asprintf("%s%s%s", head, summary, tail);
    char *body = cut_units(full, SMS_MAX); /* only when the tail alone is too long */
    free(full);
    free(summary);
    free(tail);
    free(head);
    json_decref(doc);
    return body;
}

/* ---- voice ---- */

static char *spoken(json_t *doc)
{
    const char *prio = json_string_value(json_object_get(doc, "priority"));
    char *summary = text_cut(msg_summary(doc), SAY_SUMMARY);
    size_t n = alerts_shown(doc);
    char *s;
    if (msg_resolved(doc))
        s = dw_asprintf("dojowatch: resolved. %s.", summary);
    else
        s = dw_asprintf("dojowatch alert%s%s. %s. %zu alert%s %s.", prio ? ", priority " : "",
                        prio ? prio : "", summary, n, n == 1 ? "" : "s",
                        strcmp(state_of(doc), "ACKNOWLEDGED") == 0 ? "acknowledged" : "firing");
    free(summary);
    return s;
}

static char *twiml_say(const char *text)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "<Response><Say>");
    dw_buf_xml_escape(&b, text);
    dw_buf_puts(&b, "</Say></Response>");
    return dw_buf_steal(&b);
}

static char *twiml_gather(const char *text, const char *action)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "<Response><Gather numDigits=\"1\" action=\"");
    dw_buf_xml_escape(&b, action);
    dw_buf_puts(&b, "\" method=\"POST\"><Say>");
    dw_buf_xml_escape(&b, text);
    dw_buf_puts(&b, " Press 4 to acknowledge, 6 to resolve.</Say></Gather>"
                    "<Say>No input received. Goodbye.</Say></Response>");
    return dw_buf_steal(&b);
}

static char *voice_render(const void *conf, const char *payload, const char **skip)
{
    const struct y_twilio *c = conf;
    json_t *doc = msg_load(payload, c->send_resolved, skip);
    if (doc && msg_plain(doc)) {
        json_decref(doc);
        *skip = MSG_NOT_FOR_PLAIN("voice");
        return NULL;
    }
    if (!doc)
        return NULL;
    char *text = spoken(doc);
    const char *action =
        json_string_value(json_object_get(json_object_get(doc, "page"), "voice_url"));
    char *twiml = NULL;
    if (action && *action && !msg_resolved(doc))
        twiml = twiml_gather(text, action);
    if (twiml && utf16_len(twiml) > TWIML_MAX) {
        free(twiml);
        twiml = NULL;
    }
    if (!twiml)
        twiml = twiml_say(text);
    free(text);
    const char *status =
        json_string_value(json_object_get(json_object_get(doc, "page"), "status_url"));
    if (status && *status && !strchr(status, '\n')) {
        char *both = dw_asprintf("%s%s\n%s", STATUS_LINE, status, twiml);
        free(twiml);
        twiml = both;
    }
    json_decref(doc);
    return twiml;
}

/* ---- request ---- */

static void form_add(struct dw_buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    if (b->len)
        dw_buf_putc(b, '&');
    dw_buf_puts(b, name);
    dw_buf_putc(b, '=');
    dw_buf_url_encode(b, value);
}

static int twilio_post(const struct y_twilio *c, const char *to, const char *resource,
                       const char *content_key, const char *body, struct attempt *at, char **err)
{
    const char *dest = to && *to ? to : c->to;
    if (!dest) {
        *err = dw_strdup("no destination number");
        return -1;
    }
    char *token = dw_secret_get(c->auth_token, c->auth_token_file, err);
    if (!token) {
        if (!*err)
            *err = dw_strdup("no auth_token");
        return -1;
    }
    /* a page's call names its own status callback in the body's first line */
    const char *status = c->status_callback;
    char *own = NULL;
    if (strncmp(body, STATUS_LINE, strlen(STATUS_LINE)) == 0) {
        const char *url = body + strlen(STATUS_LINE), *nl = strchr(url, '\n');
        if (nl) {
            own = dw_strndup(url, (size_t)(nl - url));
            status = own;
            body = nl + 1;
        }
    }
    struct dw_buf f;
    dw_buf_init(&f, 0);
    form_add(&f, "To", dest);
    form_add(&f, "From", c->from);
    form_add(&f, content_key, body);
    form_add(&f, "StatusCallback", status);
    if (status && strcmp(resource, "Calls") == 0)
        form_add(&f, "StatusCallbackEvent", "completed");
    free(own);
    at->upload_len = f.len;
    at->upload = dw_buf_steal(&f);
    struct dw_buf u;
    dw_buf_init(&u, 0);
    size_t al = strlen(c->api_url);
    dw_buf_append(&u, c->api_url, al && c->api_url[al - 1] == '/' ? al - 1 : al);
    dw_buf_puts(&u, "/2010-04-01/Accounts/");
    dw_buf_url_encode(&u, c->account_sid);
    dw_buf_printf(&u, "/%s.json", resource);
    int rc = http_post(at, u.data, "application/x-www-form-urlencoded", at->upload, at->upload_len,
                       c->timeout_ms, NULL, err);
    curl_easy_setopt(at->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(at->easy, CURLOPT_USERNAME, c->account_sid);
    curl_easy_setopt(at->easy, CURLOPT_PASSWORD, token);
    dw_buf_release(&u);
    free(token);
    return rc;
}

static int sms_request(const void *conf, const char *to, const char *body, struct attempt *at,
                       char **err)
{
    return twilio_post(conf, to, "Messages", "Body", body, at, err);
}

static int voice_request(const void *conf, const char *to, const char *body, struct attempt *at,
                         char **err)
{
    return twilio_post(conf, to, "Calls", "Twiml", body, at, err);
}

/* ---- outcome ---- */

static void twilio_outcome(CURL *e, CURLcode rc, const struct attempt *at, struct outcome *o)
{
    http_outcome(e, rc, at, o);
    if (rc != CURLE_OK || o->action != OUT_GIVE_UP)
        return;
    json_t *err = at->answer.len ? json_loadb(at->answer.data, at->answer.len, 0, NULL) : NULL;
    json_t *code = json_object_get(err, "code");
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (json_is_integer(code) || msg)
        snprintf(o->detail, sizeof o->detail, "twilio: HTTP %ld code %lld: %s", o->status,
                 (long long)json_integer_value(code), msg ? msg : "");
    else
        snprintf(o->detail, sizeof o->detail, "twilio: HTTP %ld %.*s", o->status,
                 (int)at->answer.len, at->answer.len ? at->answer.data : "");
    json_decref(err);
}

const struct channel sms_channel = {
    .kind = "sms",
    .render = sms_render,
    .request = sms_request,
    .outcome = twilio_outcome,
};

const struct channel voice_channel = {
    .kind = "voice",
    .render = voice_render,
    .request = voice_request,
    .outcome = twilio_outcome,
};

/* ---- inbound signatures ---- */

struct param {
    const char *name, *value;
};

static int param_order(const void *x, const void *y)
{
    const struct param *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->value, b->value);
}

/* The signed text: the URL, then name and value of each parameter sorted by name. */
static bool signed_text(const char *url, const char *const *names, const char *const *values,
                        size_t n, struct dw_buf *b)
{
    struct param *p = dw_calloc(n ? n : 1, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (struct param){names[i] ? names[i] : "", values[i] ? values[i] : ""};
    qsort(p, n, sizeof *p, param_order);
    dw_buf_puts(b, url);
    for (size_t i = 0; i < n; i++) {
        dw_buf_puts(b, p[i].name);
        dw_buf_puts(b, p[i].value);
    }
    free(p);
    return !b->overflow;
}

bool dw_notify_twilio_signature_ok(const char *auth_token, const char *url,
                                   const char *const *names, const char *const *values, size_t n,
                                   const char *signature)
{
    if (!auth_token || !*auth_token || !url || !signature || (n && (!names || !values)))
        return false;
    struct dw_buf b;
    dw_buf_init(&b, SIGNED_MAX);
    bool ok = signed_text(url, names, values, n, &b);
    uint8_t mac[20];
    if (ok)
        dw_hmac_sha1(auth_token, strlen(auth_token), b.data, b.len, mac);
    dw_buf_release(&b);
    if (!ok)
        return false;
    char *expect = dw_base64(mac, sizeof mac, false);
    size_t len = strlen(expect);
    ok = strlen(signature) == len && dw_ct_equal(expect, signature, len);
    free(expect);
    return ok;
}
