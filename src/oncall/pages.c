/*
 * pages.c - pages: from an alert group firing to a person acknowledging,
 * through the escalation policy's steps, with a timeline of everything.
 *
 * DESIGN
 * State lives in the store (component "oncall") and is written in the same
 * call that changes it, so a restart resumes every page where it was:
 *  - oncall_pages: one row per page (group key, policy, state triggered /
 *    acknowledged / resolved, the step and round notified last, when the
 *    next step is due, the group's latest payload).
 *  - oncall_queue: notifications to people waiting for their time (a
 *    person's rule "call after 2 minutes", or a bundling window).
 *  - oncall_timeline: what happened to a page, who, when, how (the incident
 *    module reads it).
 *  - oncall_sent: the last SMS / call per person (bundling), and which pages
 *    went to whom by SMS (replies act on those).
 *  - oncall_overrides: overrides added at run time.
 *
 * One turn (dw_oncall_tick, on the module's thread every 200 ms or when an
 * alert event arrives): read new alert events (consumer "oncall"): "fired"
 * (or "changed" with no open page) opens a page and runs its first step at
 * once; "resolved" resolves the group's open page. Then every page whose
 * next step is due escalates; then every queued person notification that is
 * due is sent, bundled per person and channel: when someone got an SMS or a
 * call less than bundle.window ago, what follows for them waits for the
 * window to end and goes out as one message naming every page (its links act
 * on all of them). Messages go through dw_notifier_enqueue with dedup keys
 * made of page, step, round, person and channel, so replaying a turn after a
 * crash queues nothing twice.
 *
 * A step resolves its targets at the moment it runs: schedule -> who is on
 * call now (nobody: a timeline entry and the next step comes sooner, after
 * one minute at most), person, team -> every member. Slack channels of a
 * step get one message per step; phone, SMS and e-mail go to each person
 * (their notification rules replace the step's person channels). A call
 * falls back to SMS when it cannot be placed, unless SMS is sent anyway.
 *
 * Threads: one mutex guards the configuration and every turn; actions from
 * HTTP handlers and the CLI take it too.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncall/oncall_internal.h"

#define EVENT_BATCH 256
#define TURN_MS 200
#define NO_ONE_RETRY_MS 60000
#define PAGES_MAX_LIST 1000
#define SUMMARY_MAX 200

struct dw_oncall {
    struct dw_store *store;
    struct dw_alerter *alerter;
    struct dw_notifier *notifier;
    char *consumer;
    pthread_mutex_t mu;
    struct dw_config *cfg; /* reference */
    struct oncall_conf *conf;
    struct token_key key;
    struct dw_alert_consumer worker; /* the module's thread */
};

static const struct dw_store_migration migrations[] = {
    {1, "CREATE TABLE oncall_pages ("
        " id TEXT PRIMARY KEY,"
        " group_key TEXT NOT NULL,"
        " receiver TEXT NOT NULL,"
        " priority TEXT,"
        " policy TEXT NOT NULL,"
        " state TEXT NOT NULL,"
        " step INTEGER NOT NULL,"
        " round INTEGER NOT NULL,"
        " next_at BIGINT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " summary TEXT NOT NULL,"
        " payload TEXT NOT NULL,"
        " acked_by TEXT, acked_at BIGINT, acked_via TEXT,"
        " resolved_by TEXT, resolved_at BIGINT, resolved_via TEXT);"
        "CREATE INDEX oncall_pages_by_group ON oncall_pages (group_key, state);"
        "CREATE INDEX oncall_pages_by_next ON oncall_pages (state, next_at);"
        "CREATE TABLE oncall_timeline ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " page_id TEXT NOT NULL,"
        " at BIGINT NOT NULL,"
        " kind TEXT NOT NULL,"
        " who TEXT,"
        " via TEXT,"
        " detail TEXT);"
        "CREATE INDEX oncall_timeline_by_page ON oncall_timeline (page_id, id);"
        "CREATE TABLE oncall_queue ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " page_id TEXT NOT NULL,"
        " step INTEGER NOT NULL,"
        " round INTEGER NOT NULL,"
        " person TEXT NOT NULL,"
        " channel TEXT NOT NULL,"
        " fallback INTEGER NOT NULL,"
        " due_at BIGINT NOT NULL);"
        "CREATE INDEX oncall_queue_by_due ON oncall_queue (due_at);"
        "CREATE TABLE oncall_sent ("
        " person TEXT NOT NULL,"
        " channel TEXT NOT NULL,"
        " at BIGINT NOT NULL,"
        " PRIMARY KEY (person, channel));"
        "CREATE TABLE oncall_sms_pages ("
        " person TEXT NOT NULL,"
        " page_id TEXT NOT NULL,"
        " at BIGINT NOT NULL,"
        " PRIMARY KEY (person, page_id));"
        "CREATE TABLE oncall_overrides ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " schedule TEXT NOT NULL,"
        " person TEXT NOT NULL,"
        " replaces TEXT,"
        " start_at BIGINT NOT NULL,"
        " end_at BIGINT NOT NULL,"
        " created_by TEXT NOT NULL,"
        " created_at BIGINT NOT NULL);"},
};

/* ---- small store helpers ---- */

static struct dw_value text_or_null(const char *s)
{
    return s ? DW_VTEXT(s) : DW_VNULL;
}

static int exec(struct dw_oncall *oc, const char *sql, const struct dw_value *p, size_t n)
{
    char *err = NULL;
    int rc = dw_store_exec(oc->store, sql, p, n, NULL, NULL, &err);
    if (rc != 0) {
        dw_log_kv(DW_LOG_ERROR, "oncall", "store statement failed", "error", err, NULL);
        free(err);
    }
    return rc;
}

static void timeline(struct dw_oncall *oc, const char *page, int64_t at, const char *kind,
                     const char *who, const char *via, const char *detail)
{
    struct dw_value p[] = {DW_VTEXT(page),    DW_VINT(at),       DW_VTEXT(kind),
                           text_or_null(who), text_or_null(via), text_or_null(detail)};
    exec(oc,
         "INSERT INTO oncall_timeline (page_id, at, kind, who, via, detail)"
         " VALUES ($1, $2, $3, $4, $5, $6)",
         p, DW_ARRAY_LEN(p));
}

/* ---- pages in memory for one turn ---- */

struct page {
    char *id, *group_key, *receiver, *priority, *policy, *state, *summary, *payload;
    int64_t step, round, next_at, created_at;
};

static void page_release(struct page *p)
{
    free(p->id);
    free(p->group_key);
    free(p->receiver);
    free(p->priority);
    free(p->policy);
    free(p->state);
    free(p->summary);
    free(p->payload);
    *p = (struct page){0};
}

struct pages {
    struct page *v;
    size_t n, cap;
};

static char *col(const struct dw_value *v)
{
    return v->type == DW_VAL_NULL ? NULL : dw_strndup(v->s, v->n);
}

static int page_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct pages *ps = ctx;
    ps->v = dw_grow(ps->v, &ps->cap, ps->n + 1, sizeof *ps->v);
    ps->v[ps->n++] = (struct page){.id = col(&c[0]),
                                   .group_key = col(&c[1]),
                                   .receiver = col(&c[2]),
                                   .priority = col(&c[3]),
                                   .policy = col(&c[4]),
                                   .state = col(&c[5]),
                                   .step = c[6].i,
                                   .round = c[7].i,
                                   .next_at = c[8].i,
                                   .created_at = c[9].i,
                                   .summary = col(&c[10]),
                                   .payload = col(&c[11])};
    return 0;
}

#define PAGE_COLS                                                                                  \
    "id, group_key, receiver, priority, policy, state, step, round, next_at, created_at,"          \
    " summary, payload"

static void pages_release(struct pages *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        page_release(&ps->v[i]);
    free(ps->v);
    *ps = (struct pages){0};
}

static int pages_query(struct dw_oncall *oc, const char *where, const struct dw_value *p, size_t n,
                       struct pages *out)
{
    char *sql = dw_asprintf("SELECT " PAGE_COLS " FROM oncall_pages WHERE %s", where);
    char *err = NULL;
    int rc = dw_store_exec(oc->store, sql, p, n, page_row, out, &err);
    free(sql);
    if (rc != 0) {
        dw_log_kv(DW_LOG_ERROR, "oncall", "reading pages failed", "error", err, NULL);
        free(err);
    }
    return rc;
}

static bool page_get(struct dw_oncall *oc, const char *id, struct page *out)
{
    struct pages ps = {0};
    struct dw_value p[] = {DW_VTEXT(id)};
    pages_query(oc, "id = $1", p, 1, &ps);
    bool found = ps.n == 1;
    if (found) {
        *out = ps.v[0];
        ps.n = 0;
    }
    pages_release(&ps);
    return found;
}

/* ---- messages ---- */

static const char *person_name(struct dw_oncall *oc, const char *id)
{
    const struct dw_plan_person *p = dw_config_find_person(oc->cfg, id);
    return p && p->name ? p->name : id;
}

static char *link_for(struct dw_oncall *oc, const char *path, const char *action,
                      const char *person, const char *const *pages, size_t n, int64_t now)
{
    char *tok = token_make(&oc->key, action, person, now + oc->conf->token_ttl_ms, pages, n);
    char *url = dw_asprintf("%s%s?t=%s", oc->conf->base_url, path, tok);
    free(tok);
    return url;
}

/* The page's payload with a "page" object (links for these pages and this person). */
static char *message_payload(struct dw_oncall *oc, const struct page *pg, const char *person,
                             const char *const *ids, size_t nids, const char *kind, int64_t now)
{
    json_t *doc = json_loads(pg->payload, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = json_object();
    }
    if (kind)
        json_object_set_new(doc, "kind", json_string(kind));
    json_t *page = json_object();
    json_object_set_new(page, "id", json_string(pg->id));
    json_object_set_new(page, "step", json_integer(pg->step + 1));
    if (person) {
        json_object_set_new(page, "recipient", json_string(person));
        json_object_set_new(page, "recipient_name", json_string(person_name(oc, person)));
    }
    char *ack = link_for(oc, "/oncall/act", "ack", person, ids, nids, now);
    char *res = link_for(oc, "/oncall/act", "resolve", person, ids, nids, now);
    char *voice = link_for(oc, "/api/oncall/twilio/voice", "any", person, ids, nids, now);
    char *status = link_for(oc, "/api/oncall/twilio/status", "any", person, ids, nids, now);
    json_object_set_new(page, "ack_url", json_string(ack));
    json_object_set_new(page, "resolve_url", json_string(res));
    json_object_set_new(page, "voice_url", json_string(voice));
    json_object_set_new(page, "status_url", json_string(status));
    free(status);
    free(ack);
    free(res);
    free(voice);
    if (nids > 1) {
        json_object_set_new(page, "bundled", json_integer((json_int_t)nids));
        json_t *ann = json_object_get(doc, "commonAnnotations");
        if (!json_is_object(ann)) {
            ann = json_object();
            json_object_set_new(doc, "commonAnnotations", ann);
        }
        char *sum = dw_asprintf("%zu pages, newest: %s", nids, pg->summary);
        json_object_set_new(ann, "summary", json_string(sum));
        free(sum);
    }
    json_object_set_new(doc, "page", page);
    char *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return out;
}

/* ---- steps ---- */

struct people {
    const char *id[64];
    size_t n;
};

static void people_add(struct people *ps, const char *id)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->id[i], id) == 0)
            return;
    if (ps->n < DW_ARRAY_LEN(ps->id))
        ps->id[ps->n++] = id;
}

/* Who a step reaches now; a schedule with nobody on call is noted. */
static void step_people(struct dw_oncall *oc, const struct page *pg, const struct step *st,
                        int64_t now, struct people *out)
{
    for (size_t i = 0; i < st->ntargets; i++) {
        const struct dw_plan_target *t = &st->targets[i];
        if (strcmp(t->kind, "person") == 0) {
            people_add(out, t->id);
        } else if (strcmp(t->kind, "team") == 0) {
            const struct dw_plan_team *tm = dw_config_find_team(oc->cfg, t->id);
            for (size_t k = 0; tm && k < tm->nmembers; k++)
                people_add(out, tm->members[k]);
        } else {
            ssize_t si = sched_find(oc->conf->sched, t->id);
            const char *who = si >= 0 ? sched_who(oc->conf->sched, (size_t)si, now, NULL) : NULL;
            if (who)
                people_add(out, who);
            else
                timeline(oc, pg->id, now, "no_one_on_call", NULL, NULL, t->id);
        }
    }
}

static bool has_channel(const struct step *st, const char *ch)
{
    for (size_t i = 0; i < st->nchannels; i++)
        if (strcmp(st->channels[i], ch) == 0)
            return true;
    return false;
}

static void queue_person(struct dw_oncall *oc, const struct page *pg, const char *person,
                         const char *channel, bool fallback, int64_t due)
{
    struct dw_value p[] = {DW_VTEXT(pg->id), DW_VINT(pg->step), DW_VINT(pg->round),
                           DW_VTEXT(person), DW_VTEXT(channel), DW_VINT(fallback ? 1 : 0),
                           DW_VINT(due)};
    exec(oc,
         "INSERT INTO oncall_queue (page_id, step, round, person, channel, fallback, due_at)"
         " VALUES ($1, $2, $3, $4, $5, $6, $7)",
         p, DW_ARRAY_LEN(p));
}

/* Queues the person channels of a step for one person (their rules, or the step's). */
static void queue_for(struct dw_oncall *oc, const struct page *pg, const struct step *st,
                      const char *person, int64_t now)
{
    const struct person_rules *r = oncall_rules(oc->conf, person);
    if (r) {
        bool sms = false;
        for (size_t i = 0; i < r->nrules; i++)
            sms = sms || strcmp(r->rules[i].channel, "sms") == 0;
        for (size_t i = 0; i < r->nrules; i++)
            queue_person(oc, pg, person, r->rules[i].channel,
                         strcmp(r->rules[i].channel, "phone") == 0 && !sms,
                         now + r->rules[i].after_ms);
        return;
    }
    static const char *const personal[] = {"phone", "sms", "email"};
    for (size_t i = 0; i < DW_ARRAY_LEN(personal); i++)
        if (has_channel(st, personal[i]))
            queue_person(oc, pg, person, personal[i], i == 0 && !has_channel(st, "sms"), now);
}

/* A step's Slack channels get one message each, through the queue like people
 * (person "", channel "slack:<purpose>"). */
static void slack_step(struct dw_oncall *oc, const struct page *pg, const struct step *st,
                       int64_t now)
{
    for (size_t i = 0; i < st->nchannels; i++)
        if (dw_str_has_prefix(st->channels[i], "slack:"))
            queue_person(oc, pg, "", st->channels[i], false, now);
}

static void save_progress(struct dw_oncall *oc, const struct page *pg, int64_t now)
{
    struct dw_value p[] = {DW_VTEXT(pg->id), DW_VINT(pg->step), DW_VINT(pg->round),
                           DW_VINT(pg->next_at), DW_VINT(now)};
    exec(oc,
         "UPDATE oncall_pages SET step = $2, round = $3, next_at = $4, updated_at = $5"
         " WHERE id = $1",
         p, DW_ARRAY_LEN(p));
}

/* Runs the step after pg's current one (or the first), and schedules the next. */
/*
 * A page a person opened ("direct:<priority>:<kind>:<id>") has a policy of
 * its own: the chosen target first, with the channels and wait of the
 * priority's first step (SMS and e-mail, 5 minutes, when the priority has no
 * policy), then the priority's own steps, so an unanswered direct page
 * escalates like an alert of that priority would.
 */
#define DIRECT_PREFIX "direct:"

struct direct_policy {
    struct policy pol;
    struct step *steps;
    struct dw_plan_target target;
    char *buf;
};

static char *const direct_channels[] = {"sms", "email"};

static const struct policy *direct_policy(struct dw_oncall *oc, const char *name,
                                          struct direct_policy *dp)
{
    dp->buf = dw_strdup(name + strlen(DIRECT_PREFIX));
    char *prio = dp->buf, *kind = strchr(prio, ':'), *id = kind ? strchr(kind + 1, ':') : NULL;
    if (!id)
        return NULL;
    *kind++ = '\0';
    *id++ = '\0';
    dp->target = (struct dw_plan_target){kind, id};
    int pr = dw_priority_parse(prio);
    const struct policy *base =
        pr >= 0 ? oncall_policy(oc->conf, oc->conf->priority_policy[pr]) : NULL;
    size_t nbase = base ? base->nsteps : 0;
    dp->steps = dw_calloc(nbase + 1, sizeof *dp->steps);
    dp->steps[0] = (struct step){.targets = &dp->target, .ntargets = 1};
    if (nbase) {
        dp->steps[0].channels = base->steps[0].channels;
        dp->steps[0].nchannels = base->steps[0].nchannels;
        dp->steps[0].wait_ms = base->steps[0].wait_ms;
        memcpy(dp->steps + 1, base->steps, nbase * sizeof *dp->steps);
    } else {
        dp->steps[0].channels = (char **)direct_channels;
        dp->steps[0].nchannels = DW_ARRAY_LEN(direct_channels);
        dp->steps[0].wait_ms = 5 * 60000;
    }
    dp->pol = (struct policy){.id = (char *)name,
                              .steps = dp->steps,
                              .nsteps = nbase + 1,
                              .repeat = base ? base->repeat : 0};
    return &dp->pol;
}

static void run_step(struct dw_oncall *oc, struct page *pg, const struct policy *pol, int64_t now);

static void run_next_step(struct dw_oncall *oc, struct page *pg, int64_t now)
{
    struct direct_policy dp = {0};
    const struct policy *pol = dw_str_has_prefix(pg->policy, DIRECT_PREFIX)
                                   ? direct_policy(oc, pg->policy, &dp)
                                   : oncall_policy(oc->conf, pg->policy);
    run_step(oc, pg, pol, now);
    free(dp.steps);
    free(dp.buf);
}

static void run_step(struct dw_oncall *oc, struct page *pg, const struct policy *pol, int64_t now)
{
    if (!pol || pol->nsteps == 0) {
        pg->next_at = 0;
        save_progress(oc, pg, now);
        return;
    }
    int64_t step = pg->step + 1, round = pg->round;
    if (step >= (int64_t)pol->nsteps) {
        step = 0;
        round++;
    }
    const struct step *st = &pol->steps[step];
    if (st->business_hours && !hours_contain(&oc->conf->hours, now)) {
        pg->next_at = hours_next_start(&oc->conf->hours, now);
        char when[40];
        dw_format_rfc3339(pg->next_at, when, sizeof when);
        timeline(oc, pg->id, now, "held", NULL, NULL, when);
        save_progress(oc, pg, now);
        return;
    }
    pg->step = step;
    pg->round = round;
    struct people who = {0};
    step_people(oc, pg, st, now, &who);
    char detail[256];
    snprintf(detail, sizeof detail, "step %lld of %zu (round %lld)", (long long)step + 1,
             pol->nsteps, (long long)round + 1);
    timeline(oc, pg->id, now, step == 0 && round == 0 ? "paged" : "escalated", NULL, NULL, detail);
    for (size_t i = 0; i < who.n; i++)
        queue_for(oc, pg, st, who.id[i], now);
    slack_step(oc, pg, st, now);
    bool last = step + 1 >= (int64_t)pol->nsteps && round >= pol->repeat;
    int64_t wait = who.n == 0 && st->wait_ms > NO_ONE_RETRY_MS ? NO_ONE_RETRY_MS : st->wait_ms;
    pg->next_at = last ? 0 : now + (wait > 0 ? wait : 1);
    save_progress(oc, pg, now);
}

/* ---- person notifications: due, bundled ---- */

struct qrow {
    int64_t id;
    char *page, *person, *channel;
    int64_t step, round, due;
    bool fallback;
};

struct qrows {
    struct qrow *v;
    size_t n, cap;
};

static int qrow_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct qrows *q = ctx;
    q->v = dw_grow(q->v, &q->cap, q->n + 1, sizeof *q->v);
    q->v[q->n++] = (struct qrow){.id = c[0].i,
                                 .page = col(&c[1]),
                                 .step = c[2].i,
                                 .round = c[3].i,
                                 .person = col(&c[4]),
                                 .channel = col(&c[5]),
                                 .fallback = c[6].i != 0,
                                 .due = c[7].i};
    return 0;
}

static void qrows_release(struct qrows *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].page);
        free(q->v[i].person);
        free(q->v[i].channel);
    }
    free(q->v);
}

static int64_t int_query(struct dw_oncall *oc, const char *sql, const struct dw_value *p, size_t n,
                         int64_t dflt)
{
    int64_t v = dflt;
    dw_store_int(oc->store, sql, p, n, &v, NULL);
    return v;
}

static const char *kind_of(const char *channel)
{
    if (dw_str_has_prefix(channel, "slack:"))
        return "slack";
    return strcmp(channel, "phone") == 0 ? "voice" : channel;
}

/* The destination of a queue row: a person's phone or e-mail, or a Slack channel. */
static const char *address_of(struct dw_oncall *oc, const char *person, const char *channel)
{
    if (dw_str_has_prefix(channel, "slack:"))
        return dw_config_channel(oc->cfg, channel + 6);
    const struct dw_plan_person *p = dw_config_find_person(oc->cfg, person);
    if (!p)
        return NULL;
    return strcmp(channel, "email") == 0 ? p->email : p->phone;
}

/* One message of a turn: for one person (or Slack channel) and channel, naming pages. */
struct outmsg {
    struct dw_notification msg;
    char *key, *payload;
    const char *ids[TOKEN_PAGES_MAX]; /* borrowed from the queue rows */
    size_t nids;
    const char *person, *channel;
    char *err; /* why it was not queued, NULL when it was */
};

struct turn {
    struct dw_oncall *oc;
    int64_t now;
    struct qrows q;
    struct outmsg *out;
    size_t nout;
    bool *done; /* per queue row: delete it at the end of the turn */
};

/* Builds the message for the due rows [0, n) of one destination (none: nothing to send). */
static void build_message(struct turn *t, struct qrow *rows, size_t n)
{
    struct dw_oncall *oc = t->oc;
    struct outmsg *m = &t->out[t->nout];
    *m = (struct outmsg){.person = rows[0].person, .channel = rows[0].channel};
    struct page newest = {0};
    for (size_t i = 0; i < n && m->nids < TOKEN_PAGES_MAX; i++) {
        struct page pg = {0};
        if (!page_get(oc, rows[i].page, &pg))
            continue;
        if (strcmp(pg.state, "triggered") == 0) {
            m->ids[m->nids++] = rows[i].page;
            page_release(&newest);
            newest = pg;
        } else {
            page_release(&pg);
        }
    }
    if (m->nids == 0) {
        page_release(&newest);
        return; /* acknowledged or resolved meanwhile */
    }
    bool slack = !*m->person;
    const char *to = address_of(oc, m->person, m->channel);
    if (!slack && (!to || !*to)) {
        for (size_t i = 0; i < m->nids; i++)
            timeline(oc, m->ids[i], t->now, "notify_failed", m->person, m->channel,
                     "the person has no address for this channel");
        page_release(&newest);
        return;
    }
    m->payload =
        message_payload(oc, &newest, slack ? NULL : m->person, m->ids, m->nids, NULL, t->now);
    m->key = dw_asprintf("pg:%s:s%lld:r%lld:%s:%s:q%lld", newest.id, (long long)rows[0].step,
                         (long long)rows[0].round, m->person, m->channel, (long long)rows[0].id);
    m->msg = (struct dw_notification){.dedup_key = m->key,
                                      .kind = kind_of(m->channel),
                                      .to = to,
                                      .payload = m->payload,
                                      .order_key = slack ? newest.group_key : m->person,
                                      .person = slack ? NULL : m->person,
                                      .fallback_kind = rows[0].fallback ? "sms" : NULL,
                                      .fallback_to = rows[0].fallback ? to : NULL};
    m->msg.order_key = dw_strdup(m->msg.order_key); /* outlives newest */
    t->nout++;
    page_release(&newest);
}

static bool same_dest(const struct qrow *a, const struct qrow *b)
{
    return strcmp(a->person, b->person) == 0 && strcmp(a->channel, b->channel) == 0;
}

/* The end of the person's bundling window on a channel (0 when it is not open). */
static int64_t window_end(struct dw_oncall *oc, const struct qrow *r, int64_t now)
{
    bool bundled = strcmp(r->channel, "phone") == 0 || strcmp(r->channel, "sms") == 0;
    if (oc->conf->bundle_ms <= 0 || !bundled)
        return 0;
    struct dw_value p[] = {DW_VTEXT(r->person), DW_VTEXT(r->channel)};
    int64_t last =
        int_query(oc, "SELECT at FROM oncall_sent WHERE person = $1 AND channel = $2", p, 2, 0);
    int64_t end = last ? last + oc->conf->bundle_ms : 0;
    return end > now ? end : 0;
}

/* Phase 1 (in a transaction): due rows, grouped per destination, bundled or built. */
static int plan_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct turn *t = ctx;
    struct dw_value p[] = {DW_VINT(t->now)};
    dw_store_exec(t->oc->store,
                  "SELECT id, page_id, step, round, person, channel, fallback, due_at"
                  " FROM oncall_queue WHERE due_at <= $1 ORDER BY person, channel, id LIMIT 1000",
                  p, 1, qrow_cb, &t->q, NULL);
    t->out = dw_calloc(t->q.n ? t->q.n : 1, sizeof *t->out);
    t->done = dw_calloc(t->q.n ? t->q.n : 1, sizeof *t->done);
    for (size_t i = 0; i < t->q.n;) {
        size_t k = i + 1;
        while (k < t->q.n && same_dest(&t->q.v[i], &t->q.v[k]))
            k++;
        int64_t wend = window_end(t->oc, &t->q.v[i], t->now);
        if (wend) { /* bundled: everything for them waits for the window's end */
            struct dw_value u[] = {DW_VTEXT(t->q.v[i].person), DW_VTEXT(t->q.v[i].channel),
                                   DW_VINT(wend)};
            exec(t->oc,
                 "UPDATE oncall_queue SET due_at = $3 WHERE person = $1 AND channel = $2"
                 " AND due_at < $3",
                 u, 3);
        } else {
            build_message(t, &t->q.v[i], k - i);
            for (size_t r = i; r < k; r++)
                t->done[r] = true;
        }
        i = k;
    }
    return 0;
}

/* Phase 3 (in a transaction): what was sent, on the timelines; the queue rows done. */
static int record_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct turn *t = ctx;
    struct dw_oncall *oc = t->oc;
    for (size_t i = 0; i < t->nout; i++) {
        struct outmsg *m = &t->out[i];
        const char *who = *m->person ? m->person : m->msg.to;
        char detail[64];
        snprintf(detail, sizeof detail, "%zu pages in one message", m->nids);
        for (size_t k = 0; k < m->nids; k++) {
            if (m->err)
                timeline(oc, m->ids[k], t->now, "notify_failed", who, m->channel, m->err);
            else
                timeline(oc, m->ids[k], t->now, "notified", who, *m->person ? m->channel : "slack",
                         m->nids > 1 ? detail : NULL);
        }
        if (m->err || !*m->person)
            continue;
        struct dw_value p[] = {DW_VTEXT(m->person), DW_VTEXT(m->channel), DW_VINT(t->now)};
        exec(oc,
             "INSERT INTO oncall_sent (person, channel, at) VALUES ($1, $2, $3)"
             " ON CONFLICT (person, channel) DO UPDATE SET at = $3",
             p, 3);
        for (size_t k = 0; k < m->nids && strcmp(m->channel, "email") != 0; k++) {
            struct dw_value q[] = {DW_VTEXT(m->person), DW_VTEXT(m->ids[k]), DW_VINT(t->now)};
            exec(oc,
                 "INSERT INTO oncall_sms_pages (person, page_id, at) VALUES ($1, $2, $3)"
                 " ON CONFLICT (person, page_id) DO UPDATE SET at = $3",
                 q, 3);
        }
    }
    for (size_t i = 0; i < t->q.n; i++) {
        if (!t->done[i])
            continue;
        struct dw_value p[] = {DW_VINT(t->q.v[i].id)};
        exec(oc, "DELETE FROM oncall_queue WHERE id = $1", p, 1);
    }
    return 0;
}

/*
 * Sends what is due in three steps: plan (one transaction), queue every
 * message in the notifier's outbox (one durable commit), record (one
 * transaction). A crash between the last two replays the turn: the same
 * dedup keys queue nothing twice.
 */
static void send_due(struct dw_oncall *oc, int64_t now)
{
    struct turn t = {.oc = oc, .now = now};
    char *err = NULL;
    if (dw_store_tx(oc->store, plan_tx, &t, &err) == 0 && t.nout) {
        struct dw_notification *msgs = dw_calloc(t.nout, sizeof *msgs);
        char **errs = dw_calloc(t.nout, sizeof *errs);
        for (size_t i = 0; i < t.nout; i++)
            msgs[i] = t.out[i].msg;
        if (oc->notifier)
            dw_notifier_enqueue_many(oc->notifier, msgs, t.nout, errs);
        for (size_t i = 0; i < t.nout; i++) {
            t.out[i].err = errs[i];
            if (errs[i])
                dw_log_kv(DW_LOG_WARN, "oncall", "cannot queue a page notification", "page",
                          t.out[i].ids[0], "channel", t.out[i].channel, "error", errs[i], NULL);
        }
        free(errs);
        free(msgs);
    }
    if (!err && t.q.n && dw_store_tx(oc->store, record_tx, &t, &err) != 0)
        dw_log_kv(DW_LOG_ERROR, "oncall", "recording sent pages failed", "error", err, NULL);
    free(err);
    for (size_t i = 0; i < t.nout; i++) {
        free(t.out[i].key);
        free(t.out[i].payload);
        free((char *)t.out[i].msg.order_key);
        free(t.out[i].err);
    }
    free(t.out);
    free(t.done);
    qrows_release(&t.q);
}

/* ---- alert events ---- */

static char *summary_of(const char *payload)
{
    json_t *doc = json_loads(payload ? payload : "", 0, NULL);
    const char *s =
        json_string_value(json_object_get(json_object_get(doc, "commonAnnotations"), "summary"));
    if (!s)
        s = json_string_value(json_object_get(json_object_get(doc, "commonLabels"), "alertname"));
    if (!s)
        s = json_string_value(json_object_get(json_object_get(doc, "groupLabels"), "alertname"));
    if (!s)
        s = "alert";
    size_t n = strlen(s);
    if (n > SUMMARY_MAX) { /* cut on a UTF-8 boundary */
        n = SUMMARY_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    char *out = dw_strndup(s, n);
    json_decref(doc);
    return out;
}

static bool open_page_of(struct dw_oncall *oc, const char *group_key, struct page *out)
{
    struct pages ps = {0};
    struct dw_value p[] = {DW_VTEXT(group_key)};
    pages_query(oc, "group_key = $1 AND state <> 'resolved' ORDER BY created_at DESC LIMIT 1", p, 1,
                &ps);
    bool found = ps.n == 1;
    if (found) {
        *out = ps.v[0];
        ps.n = 0;
    }
    pages_release(&ps);
    return found;
}

/* Stores a new page; false when it exists already (an event read again) or the store failed. */
static bool page_insert(struct dw_oncall *oc, const struct page *pg, int64_t now)
{
    struct dw_value p[] = {DW_VTEXT(pg->id),       DW_VTEXT(pg->group_key),
                           DW_VTEXT(pg->receiver), text_or_null(pg->priority),
                           DW_VTEXT(pg->policy),   DW_VINT(now),
                           DW_VTEXT(pg->summary),  DW_VTEXT(pg->payload)};
    return exec(oc,
                "INSERT INTO oncall_pages (id, group_key, receiver, priority, policy, state, step,"
                " round, next_at, created_at, updated_at, summary, payload)"
                " VALUES ($1, $2, $3, $4, $5, 'triggered', -1, 0, 0, $6, $6, $7, $8)"
                " ON CONFLICT (id) DO NOTHING",
                p, DW_ARRAY_LEN(p)) == 0 &&
           dw_store_changes(oc->store) == 1;
}

static void page_open(struct dw_oncall *oc, const struct dw_alert_event *ev, int64_t now)
{
    int pr = ev->priority ? dw_priority_parse(ev->priority) : DW_P2;
    const char *policy = pr >= 0 ? oc->conf->priority_policy[pr] : NULL;
    if (!policy)
        return; /* no escalation for this priority */
    struct page pg = {.id = dw_asprintf("PG-%lld", (long long)ev->id),
                      .group_key = dw_strdup(ev->group_key),
                      .receiver = dw_strdup(ev->receiver ? ev->receiver : ""),
                      .priority = ev->priority ? dw_strdup(ev->priority) : NULL,
                      .policy = dw_strdup(policy),
                      .state = dw_strdup("triggered"),
                      .summary = summary_of(ev->payload),
                      .payload = dw_strdup(ev->payload ? ev->payload : "{}"),
                      .step = -1,
                      .created_at = now};
    if (page_insert(oc, &pg, now)) {
        timeline(oc, pg.id, now, "triggered", NULL, "alert", pg.summary);
        run_next_step(oc, &pg, now);
    }
    page_release(&pg);
}

static void page_finish(struct dw_oncall *oc, const struct page *pg, const char *state,
                        const char *by, const char *via, int64_t now)
{
    bool ack = strcmp(state, "acknowledged") == 0;
    struct dw_value p[] = {DW_VTEXT(pg->id), DW_VTEXT(by), DW_VTEXT(via), DW_VINT(now)};
    exec(oc,
         ack ? "UPDATE oncall_pages SET state = 'acknowledged', next_at = 0, acked_by = $2,"
               " acked_via = $3, acked_at = $4, updated_at = $4 WHERE id = $1"
             : "UPDATE oncall_pages SET state = 'resolved', next_at = 0, resolved_by = $2,"
               " resolved_via = $3, resolved_at = $4, updated_at = $4 WHERE id = $1",
         p, DW_ARRAY_LEN(p));
    struct dw_value q[] = {DW_VTEXT(pg->id)};
    exec(oc, "DELETE FROM oncall_queue WHERE page_id = $1", q, 1);
    timeline(oc, pg->id, now, ack ? "acknowledged" : "resolved", by, via, NULL);
}

/* Marks the page's alerts acknowledged in the alerter (its statistics count them). */
static void mark_alerts(struct dw_oncall *oc, const struct page *pg, const char *by, int64_t now)
{
    if (!oc->alerter)
        return;
    json_t *doc = json_loads(pg->payload, 0, NULL);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "alerts"), i, a)
    {
        const char *fp = json_string_value(json_object_get(a, "fingerprint"));
        char *err = NULL;
        if (fp && dw_alerter_mark(oc->alerter, fp, DW_ALERT_MARK_ACK, by, "acknowledged page", now,
                                  &err) != 0)
            free(err);
    }
    json_decref(doc);
}

static void handle_event(struct dw_oncall *oc, const struct dw_alert_event *ev, int64_t now)
{
    if (!ev->group_key || !ev->kind)
        return;
    struct page pg = {0};
    bool open = open_page_of(oc, ev->group_key, &pg);
    if (strcmp(ev->kind, "resolved") == 0) {
        if (open)
            page_finish(oc, &pg, "resolved", "alert", "alert", now);
    } else if (open) {
        struct dw_value p[] = {DW_VTEXT(pg.id), DW_VTEXT(ev->payload ? ev->payload : "{}"),
                               DW_VINT(now)};
        exec(oc, "UPDATE oncall_pages SET payload = $2, updated_at = $3 WHERE id = $1", p, 3);
    } else if (strcmp(ev->kind, "fired") == 0 || strcmp(ev->kind, "changed") == 0) {
        page_open(oc, ev, now);
    }
    page_release(&pg);
}

struct events_ctx {
    struct dw_oncall *oc;
    int64_t now;
    int64_t last; /* the newest event handled */
};

/* New alert events, handled in one transaction; the cursor moves after its commit. */
static int events_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct events_ctx *ec = ctx;
    struct dw_alert_event *ev = NULL;
    size_t n = 0;
    char *err = NULL;
    if (dw_alerter_events_read(ec->oc->alerter, ec->oc->consumer, EVENT_BATCH, &ev, &n, &err) !=
        0) {
        dw_log_kv(DW_LOG_ERROR, "oncall", "reading alert events failed", "error", err, NULL);
        free(err);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        handle_event(ec->oc, &ev[i], ec->now);
    ec->last = n ? ev[n - 1].id : 0;
    dw_alert_events_free(ev, n);
    return 0;
}

static void read_events(struct dw_oncall *oc, int64_t now)
{
    if (!oc->alerter)
        return;
    struct events_ctx ec = {oc, now, 0};
    char *err = NULL;
    if (dw_store_tx(oc->store, events_tx, &ec, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "oncall", "handling alert events failed; retrying", "error", err,
                  NULL);
        free(err);
        return;
    }
    if (ec.last && dw_alerter_events_ack(oc->alerter, oc->consumer, ec.last, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "oncall", "moving the event cursor failed", "error", err, NULL);
        free(err);
    }
}

static int escalate_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct events_ctx *ec = ctx;
    struct pages ps = {0};
    struct dw_value p[] = {DW_VINT(ec->now)};
    pages_query(ec->oc, "state = 'triggered' AND next_at > 0 AND next_at <= $1 ORDER BY next_at", p,
                1, &ps);
    for (size_t i = 0; i < ps.n; i++)
        run_next_step(ec->oc, &ps.v[i], ec->now);
    pages_release(&ps);
    return 0;
}

static void escalate_due(struct dw_oncall *oc, int64_t now)
{
    struct events_ctx ec = {oc, now, 0};
    char *err = NULL;
    if (dw_store_tx(oc->store, escalate_tx, &ec, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "oncall", "escalating pages failed; retrying", "error", err, NULL);
        free(err);
    }
}

/*
 * One turn: alert events (one transaction), due escalations (one
 * transaction), due notifications (send_due). Every write of a turn is an
 * ordinary commit; the messages are made durable by the notifier's commit.
 */
void dw_oncall_tick(struct dw_oncall *oc, int64_t now)
{
    pthread_mutex_lock(&oc->mu);
    read_events(oc, now);
    escalate_due(oc, now);
    send_due(oc, now);
    pthread_mutex_unlock(&oc->mu);
}

/* ---- actions ---- */

struct finish_ctx {
    struct dw_oncall *oc;
    const struct page *pg;
    const char *state, *by, *via;
    int64_t now;
};

static int finish_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct finish_ctx *fc = ctx;
    page_finish(fc->oc, fc->pg, fc->state, fc->by, fc->via, fc->now);
    return 0;
}

/* Acknowledges or resolves a page, durably: the person is told "done". */
static int act_locked(struct dw_oncall *oc, const char *id, enum dw_page_action act, const char *by,
                      const char *via, int64_t now, char **err)
{
    struct page pg = {0};
    if (!page_get(oc, id, &pg)) {
        *err = dw_asprintf("no page %s", id);
        return DW_ONCALL_ENOTFOUND;
    }
    bool done = strcmp(pg.state, "resolved") == 0 ||
                (act == DW_PAGE_ACK && strcmp(pg.state, "acknowledged") == 0);
    int rc = 0;
    if (!done) {
        struct finish_ctx fc = {oc, &pg, act == DW_PAGE_ACK ? "acknowledged" : "resolved",
                                by, via, now};
        if (dw_store_tx_durable(oc->store, finish_tx, &fc, err) != 0)
            rc = -1;
        else if (act == DW_PAGE_ACK)
            mark_alerts(oc, &pg, by, now);
    }
    page_release(&pg);
    return rc;
}

int dw_oncall_page_act(struct dw_oncall *oc, const char *id, enum dw_page_action act,
                       const char *by, const char *via, int64_t now, char **err)
{
    if (!id || !*id || !by || !*by) {
        *err = dw_strdup("a page id and who acts are required");
        return DW_ONCALL_EINVAL;
    }
    pthread_mutex_lock(&oc->mu);
    int rc = act_locked(oc, id, act, by, via ? via : "api", now, err);
    pthread_mutex_unlock(&oc->mu);
    return rc;
}

/* ---- pages a person opens ---- */

struct create_ctx {
    struct dw_oncall *oc;
    struct page *pg;
    const char *by;
    int64_t now;
};

static int create_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct create_ctx *c = ctx;
    struct page *pg = c->pg;
    if (!page_insert(c->oc, pg, c->now))
        return -1;
    timeline(c->oc, pg->id, c->now, "triggered", c->by, "manual", pg->summary);
    run_next_step(c->oc, pg, c->now);
    return 0;
}

/* NULL when "kind:id" names a person, team or schedule of the configuration, else why not. */
static char *target_problem(struct dw_oncall *oc, const char *target)
{
    const char *colon = target ? strchr(target, ':') : NULL;
    if (!colon)
        return dw_strdup("the target must be person:<id>, schedule:<id> or team:<id>");
    const char *id = colon + 1;
    bool ok = dw_str_has_prefix(target, "person:")     ? dw_config_find_person(oc->cfg, id) != NULL
              : dw_str_has_prefix(target, "team:")     ? dw_config_find_team(oc->cfg, id) != NULL
              : dw_str_has_prefix(target, "schedule:") ? sched_find(oc->conf->sched, id) >= 0
                                                       : false;
    return ok ? NULL : dw_asprintf("no %s in the configuration", target);
}

int dw_oncall_page_create(struct dw_oncall *oc, const struct dw_oncall_page_new *in, const char *by,
                          int64_t now, char id_out[DW_ONCALL_PAGE_ID_MAX], char **err)
{
    const char *prio = in->priority && *in->priority ? in->priority : "P1";
    size_t n = in->summary ? strlen(in->summary) : 0;
    if (!by || !*by || n == 0 || n > SUMMARY_MAX || dw_priority_parse(prio) < 0) {
        *err = dw_asprintf("who pages, a priority P0, P1 or P2 and a summary of 1 to %d bytes "
                           "are required",
                           SUMMARY_MAX);
        return DW_ONCALL_EINVAL;
    }
    if (in->ref && strlen(in->ref) > 128) {
        *err = dw_strdup("the reference is longer than 128 bytes");
        return DW_ONCALL_EINVAL;
    }
    uint8_t rnd[6];
    dw_random_bytes(rnd, sizeof rnd);
    char id[DW_ONCALL_PAGE_ID_MAX];
    snprintf(id, sizeof id, "PG-M%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5]);
    pthread_mutex_lock(&oc->mu);
    char *why = target_problem(oc, in->target);
    if (why) {
        pthread_mutex_unlock(&oc->mu);
        *err = why;
        return DW_ONCALL_EINVAL;
    }
    char start[40];
    dw_format_rfc3339(now, start, sizeof start);
    /* Alertmanager's webhook shape, so every channel renders it like an alert's page. */
    json_t *labels =
        json_pack("{s:s, s:s, s:s}", "alertname", "Page", "priority", prio, "paged_by", by);
    if (in->ref && *in->ref)
        json_object_set_new(labels, "ref", json_string(in->ref));
    json_t *ann = json_pack("{s:s}", "summary", in->summary);
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:[{s:s, s:O, s:O, s:s, s:s}], s:O, s:O, s:{s:s}}", "version", "4",
        "status", "firing", "receiver", "manual", "groupKey", id, "alerts", "status", "firing",
        "labels", labels, "annotations", ann, "startsAt", start, "endsAt", "0001-01-01T00:00:00Z",
        "commonLabels", labels, "commonAnnotations", ann, "groupLabels", "alertname", "Page");
    char *payload = json_dumps(doc, JSON_COMPACT);
    struct page pg = {.id = dw_strdup(id),
                      .group_key = dw_asprintf("manual:%s", in->ref && *in->ref ? in->ref : id),
                      .receiver = dw_strdup("manual"),
                      .priority = dw_strdup(prio),
                      .policy = dw_asprintf(DIRECT_PREFIX "%s:%s", prio, in->target),
                      .state = dw_strdup("triggered"),
                      .summary = dw_strdup(in->summary),
                      .payload = payload,
                      .step = -1,
                      .created_at = now};
    struct create_ctx c = {oc, &pg, by, now};
    int rc = dw_store_tx_durable(oc->store, create_tx, &c, err) == 0 ? 0 : -1;
    pthread_mutex_unlock(&oc->mu);
    if (rc == 0) {
        dw_strlcpy(id_out, id, DW_ONCALL_PAGE_ID_MAX);
        dw_log_kv(DW_LOG_INFO, "oncall", "page opened by hand", "page", id, "target", in->target,
                  "by", by, NULL);
    }
    page_release(&pg);
    json_decref(doc);
    json_decref(labels);
    json_decref(ann);
    return rc;
}

/* True when the page's payload has an alert with this fingerprint. */
static bool page_has_alert(const struct page *pg, const char *fp)
{
    json_t *doc = json_loads(pg->payload ? pg->payload : "", 0, NULL);
    bool found = false;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "alerts"), i, a) found |=
        json_is_string(json_object_get(a, "fingerprint")) &&
        strcmp(json_string_value(json_object_get(a, "fingerprint")), fp) == 0;
    json_decref(doc);
    return found;
}

int dw_oncall_ack_alert(struct dw_oncall *oc, const char *fingerprint, const char *by,
                        const char *via, int64_t now, json_t **pages, char **err)
{
    if (!fingerprint || strlen(fingerprint) != 16 ||
        strspn(fingerprint, "0123456789abcdef") != 16 || !by || !*by) {
        *err = dw_strdup("a fingerprint of 16 lower-case hex digits and who acts are required");
        return DW_ONCALL_EINVAL;
    }
    *pages = json_array();
    char *like = dw_asprintf("%%%s%%", fingerprint);
    struct dw_value p[] = {DW_VTEXT(like)};
    struct pages ps = {0};
    pthread_mutex_lock(&oc->mu);
    pages_query(oc, "state = 'triggered' AND payload LIKE $1", p, 1, &ps);
    int rc = 0;
    for (size_t i = 0; i < ps.n && rc == 0; i++)
        if (page_has_alert(&ps.v[i], fingerprint) &&
            (rc = act_locked(oc, ps.v[i].id, DW_PAGE_ACK, by, via ? via : "api", now, err)) == 0)
            json_array_append_new(*pages, json_string(ps.v[i].id));
    pthread_mutex_unlock(&oc->mu);
    pages_release(&ps);
    free(like);
    return rc;
}

/* Acts on every page of verified claims; *summary says what happened. */
static int act_claims(struct dw_oncall *oc, const struct token_claims *c, enum dw_page_action act,
                      const char *via, int64_t now, char **summary, char **err)
{
    size_t ok = 0;
    const char *by = c->person && *c->person ? c->person : "link";
    pthread_mutex_lock(&oc->mu);
    for (size_t i = 0; i < c->npages; i++) {
        char *e = NULL;
        if (act_locked(oc, c->pages[i], act, by, via, now, &e) == 0)
            ok++;
        free(e);
    }
    pthread_mutex_unlock(&oc->mu);
    if (ok == 0) {
        *err = dw_strdup("none of the pages in this link exists any more");
        return DW_ONCALL_ENOTFOUND;
    }
    if (summary)
        *summary = dw_asprintf("%s %zu page%s", act == DW_PAGE_ACK ? "Acknowledged" : "Resolved",
                               ok, ok == 1 ? "" : "s");
    return 0;
}

int dw_oncall_link_act(struct dw_oncall *oc, const char *token, const char *action, const char *via,
                       int64_t now, char **summary, char **err)
{
    struct token_claims c;
    if (token_check(&oc->key, token, now, &c, err) != 0)
        return DW_ONCALL_EDENIED;
    const char *want = action ? action : c.action;
    int rc;
    if (strcmp(want, "ack") != 0 && strcmp(want, "resolve") != 0) {
        *err = dw_strdup("the action must be ack or resolve");
        rc = DW_ONCALL_EINVAL;
    } else if (strcmp(c.action, "any") != 0 && strcmp(c.action, want) != 0 &&
               !(strcmp(c.action, "resolve") == 0 && strcmp(want, "ack") == 0)) {
        *err = dw_asprintf("this link may only %s", c.action);
        rc = DW_ONCALL_EDENIED;
    } else {
        rc = act_claims(oc, &c, strcmp(want, "ack") == 0 ? DW_PAGE_ACK : DW_PAGE_RESOLVE,
                        via ? via : "link", now, summary, err);
    }
    token_claims_release(&c);
    return rc;
}

static void digits_only(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; s && *s && k + 1 < cap; s++)
        if (isdigit((unsigned char)*s))
            out[k++] = *s;
    out[k] = '\0';
}

static const char *person_by_phone(struct dw_oncall *oc, const char *phone)
{
    char want[32], have[32];
    digits_only(phone, want, sizeof want);
    size_t n = 0;
    const struct dw_plan_person *people = dw_config_people(oc->cfg, &n);
    for (size_t i = 0; want[0] && i < n; i++) {
        digits_only(people[i].phone, have, sizeof have);
        if (strcmp(want, have) == 0)
            return people[i].id;
    }
    return NULL;
}

static int id_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct token_claims *tc = ctx;
    if (tc->npages < TOKEN_PAGES_MAX)
        tc->pages[tc->npages++] = dw_strndup(c[0].s, c[0].n);
    return 0;
}

int dw_oncall_sms_reply(struct dw_oncall *oc, const char *from, const char *body, int64_t now,
                        char **reply, char **err)
{
    char word[16] = {0};
    size_t k = 0;
    for (const char *s = body ? body : ""; *s && k + 1 < sizeof word; s++)
        if (!isspace((unsigned char)*s))
            word[k++] = (char)tolower((unsigned char)*s);
    bool ack = strcmp(word, "4") == 0 || strcmp(word, "ack") == 0;
    bool res = strcmp(word, "6") == 0 || strcmp(word, "resolve") == 0;
    pthread_mutex_lock(&oc->mu);
    const char *person = person_by_phone(oc, from);
    char *pid = person ? dw_strdup(person) : NULL;
    pthread_mutex_unlock(&oc->mu);
    if (!pid) {
        *reply = dw_strdup("dojowatch: this number belongs to nobody on call.");
        return 0;
    }
    if (!ack && !res) {
        *reply = dw_strdup("dojowatch: reply 4 to acknowledge or 6 to resolve your open pages.");
        free(pid);
        return 0;
    }
    struct token_claims c = {.person = pid};
    struct dw_value p[] = {DW_VTEXT(pid)};
    dw_store_exec(oc->store,
                  "SELECT s.page_id FROM oncall_sms_pages s JOIN oncall_pages p ON p.id = s.page_id"
                  " WHERE s.person = $1 AND p.state = 'triggered' ORDER BY s.at DESC LIMIT 64",
                  p, 1, id_row, &c, NULL);
    if (c.npages == 0) {
        *reply = dw_strdup("dojowatch: you have no open pages.");
        token_claims_release(&c);
        return 0;
    }
    char *summary = NULL;
    int rc = act_claims(oc, &c, ack ? DW_PAGE_ACK : DW_PAGE_RESOLVE, "sms", now, &summary, err);
    if (rc == 0)
        *reply = dw_asprintf("dojowatch: %s.", summary);
    free(summary);
    token_claims_release(&c);
    return rc;
}

int dw_oncall_voice_digits(struct dw_oncall *oc, const char *token, const char *digits, int64_t now,
                           char **twiml, char **err)
{
    const char *action = digits && strcmp(digits, "4") == 0   ? "ack"
                         : digits && strcmp(digits, "6") == 0 ? "resolve"
                                                              : NULL;
    if (!action) {
        struct token_claims c;
        if (token_check(&oc->key, token, now, &c, err) != 0)
            return DW_ONCALL_EDENIED;
        token_claims_release(&c);
        *twiml = dw_strdup("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Press 4 to "
                           "acknowledge or 6 to resolve.</Say></Response>");
        return 0;
    }
    char *summary = NULL;
    int rc = dw_oncall_link_act(oc, token, action, "voice", now, &summary, err);
    if (rc != 0)
        return rc;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>");
    dw_buf_xml_escape(&b, summary);
    dw_buf_puts(&b, ". Goodbye.</Say></Response>");
    *twiml = dw_buf_steal(&b);
    free(summary);
    return 0;
}

int dw_oncall_voice_status(struct dw_oncall *oc, const char *token, const char *status, int64_t now,
                           char **err)
{
    struct token_claims c;
    if (token_check(&oc->key, token, now, &c, err) != 0)
        return DW_ONCALL_EDENIED;
    bool failed = status && (strcmp(status, "failed") == 0 || strcmp(status, "busy") == 0 ||
                             strcmp(status, "no-answer") == 0 || strcmp(status, "canceled") == 0);
    pthread_mutex_lock(&oc->mu);
    for (size_t i = 0; i < c.npages; i++) {
        timeline(oc, c.pages[i], now, failed ? "call_failed" : "call_completed", c.person, "voice",
                 status);
        struct page pg = {0};
        if (failed && page_get(oc, c.pages[i], &pg) && strcmp(pg.state, "triggered") == 0)
            queue_person(oc, &pg, c.person, "sms", false, now);
        page_release(&pg);
    }
    pthread_mutex_unlock(&oc->mu);
    token_claims_release(&c);
    return 0;
}

char *dw_oncall_link(struct dw_oncall *oc, const char *page_id, const char *action,
                     const char *person, int64_t now)
{
    const char *ids[] = {page_id};
    pthread_mutex_lock(&oc->mu);
    char *tok = token_make(&oc->key, action, person, now + oc->conf->token_ttl_ms, ids, 1);
    pthread_mutex_unlock(&oc->mu);
    return tok;
}

/* ---- views ---- */

static json_t *time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    dw_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *jstr(const struct dw_value *v)
{
    return v->type == DW_VAL_NULL ? json_null() : json_stringn(v->s, v->n);
}

static int page_json_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    json_t *o = json_object();
    static const char *const names[] = {
        "id",      "groupKey", "receiver", "priority",   "policy",  "state",
        NULL,      NULL,       NULL,       NULL,         "summary", NULL,
        "ackedBy", NULL,       "ackedVia", "resolvedBy", NULL,      "resolvedVia"};
    for (size_t i = 0; i < DW_ARRAY_LEN(names); i++)
        if (names[i])
            json_object_set_new(o, names[i], jstr(&c[i]));
    json_object_set_new(o, "step", json_integer(c[6].i + 1));
    json_object_set_new(o, "round", json_integer(c[7].i + 1));
    json_object_set_new(o, "nextEscalationAt", time_json(c[8].i));
    json_object_set_new(o, "createdAt", time_json(c[9].i));
    json_object_set_new(o, "ackedAt", time_json(c[13].type == DW_VAL_NULL ? 0 : c[13].i));
    json_object_set_new(o, "resolvedAt", time_json(c[16].type == DW_VAL_NULL ? 0 : c[16].i));
    json_array_append_new(ctx, o);
    return 0;
}

#define PAGE_JSON_COLS                                                                             \
    "id, group_key, receiver, priority, policy, state, step, round, next_at, created_at, summary," \
    " payload, acked_by, acked_at, acked_via, resolved_by, resolved_at, resolved_via"

json_t *dw_oncall_pages_json(struct dw_oncall *oc, const char *state, size_t limit)
{
    if (limit == 0 || limit > PAGES_MAX_LIST)
        limit = PAGES_MAX_LIST;
    json_t *arr = json_array();
    struct dw_value p[] = {text_or_null(state), DW_VINT((int64_t)limit)};
    dw_store_exec(oc->store,
                  "SELECT " PAGE_JSON_COLS " FROM oncall_pages WHERE ($1 IS NULL OR state = $1)"
                  " ORDER BY created_at DESC, id DESC LIMIT $2",
                  p, 2, page_json_row, arr, NULL);
    return arr;
}

static int timeline_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    json_array_append_new(ctx, json_pack("{s:o, s:o, s:o, s:o, s:o}", "at", time_json(c[0].i),
                                         "kind", jstr(&c[1]), "who", jstr(&c[2]), "via",
                                         jstr(&c[3]), "detail", jstr(&c[4])));
    return 0;
}

json_t *dw_oncall_page_json(struct dw_oncall *oc, const char *id)
{
    json_t *arr = json_array();
    struct dw_value p[] = {DW_VTEXT(id)};
    dw_store_exec(oc->store, "SELECT " PAGE_JSON_COLS " FROM oncall_pages WHERE id = $1", p, 1,
                  page_json_row, arr, NULL);
    json_t *page = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    if (!page)
        return NULL;
    json_t *tl = json_array();
    dw_store_exec(oc->store,
                  "SELECT at, kind, who, via, detail FROM oncall_timeline WHERE page_id = $1"
                  " ORDER BY id",
                  p, 1, timeline_row, tl, NULL);
    json_object_set_new(page, "timeline", tl);
    return page;
}

/* ---- schedules at run time ---- */

void oncall_view_begin(struct dw_oncall *oc, struct oncall_view *v)
{
    pthread_mutex_lock(&oc->mu);
    v->conf = oc->conf;
    v->cfg = oc->cfg;
}

void oncall_view_end(struct dw_oncall *oc)
{
    pthread_mutex_unlock(&oc->mu);
}

int dw_oncall_override_add(struct dw_oncall *oc, const char *schedule, const char *person,
                           const char *replaces, int64_t start, int64_t end, const char *by,
                           char **err)
{
    if (!schedule || !person || !by) {
        *err = dw_strdup("schedule, person and who adds it are required");
        return DW_ONCALL_EINVAL;
    }
    pthread_mutex_lock(&oc->mu);
    int rc = 0;
    if (!dw_config_find_person(oc->cfg, person) ||
        (replaces && !dw_config_find_person(oc->cfg, replaces))) {
        *err = dw_asprintf("no person \"%s\"",
                           dw_config_find_person(oc->cfg, person) ? replaces : person);
        rc = DW_ONCALL_EINVAL;
    } else if (sched_add_override(oc->conf->sched, schedule, person, replaces, start, end, err) !=
               0) {
        rc = DW_ONCALL_EINVAL;
    } else {
        struct dw_value p[] = {DW_VTEXT(schedule),  DW_VTEXT(person), text_or_null(replaces),
                               DW_VINT(start),      DW_VINT(end),     DW_VTEXT(by),
                               DW_VINT(dw_now_ms())};
        rc = exec(oc,
                  "INSERT INTO oncall_overrides (schedule, person, replaces, start_at, end_at,"
                  " created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                  p, DW_ARRAY_LEN(p));
        if (rc != 0)
            *err = dw_strdup("the store failed; the override is not kept");
    }
    pthread_mutex_unlock(&oc->mu);
    return rc;
}

static json_t *time_json(int64_t ms);
static json_t *jstr(const struct dw_value *v);

static int override_row_json(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    json_t *o =
        json_pack("{s:I, s:s%, s:s%, s:o, s:o, s:s%, s:o}", "id", (json_int_t)c[0].i, "schedule",
                  c[1].s, c[1].n, "person", c[2].s, c[2].n, "start", time_json(c[4].i), "end",
                  time_json(c[5].i), "createdBy", c[6].s, c[6].n, "createdAt", time_json(c[7].i));
    json_object_set_new(o, "replaces", jstr(&c[3]));
    json_array_append_new(ctx, o);
    return 0;
}

json_t *dw_oncall_overrides_json(struct dw_oncall *oc)
{
    json_t *arr = json_array();
    dw_store_exec(oc->store,
                  "SELECT id, schedule, person, replaces, start_at, end_at, created_by, created_at"
                  " FROM oncall_overrides ORDER BY start_at, id",
                  NULL, 0, override_row_json, arr, NULL);
    return arr;
}

static struct oncall_conf *decode_or_err(const struct dw_config *cfg, char **err);
static void load_overrides(struct dw_oncall *oc, struct oncall_conf *conf);

int dw_oncall_override_delete(struct dw_oncall *oc, int64_t id, const char *by, char **err)
{
    pthread_mutex_lock(&oc->mu);
    struct dw_value p[] = {DW_VINT(id)};
    int rc = exec(oc, "DELETE FROM oncall_overrides WHERE id = $1", p, 1);
    if (rc != 0) {
        *err = dw_strdup("the store failed; the override is still there");
    } else if (dw_store_changes(oc->store) == 0) {
        *err = dw_asprintf("no override %lld", (long long)id);
        rc = DW_ONCALL_ENOTFOUND;
    } else {
        /* schedules again from the configuration and the overrides that are left */
        struct oncall_conf *conf = decode_or_err(oc->cfg, err);
        if (conf) {
            load_overrides(oc, conf);
            struct oncall_conf *old = oc->conf;
            oc->conf = conf;
            oncall_conf_free(&old);
            char ids[24];
            snprintf(ids, sizeof ids, "%lld", (long long)id);
            dw_log_kv(DW_LOG_INFO, "oncall", "override deleted", "id", ids, "by", by, NULL);
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&oc->mu);
    return rc;
}

char *dw_oncall_base_url(struct dw_oncall *oc)
{
    pthread_mutex_lock(&oc->mu);
    char *u = dw_strdup(oc->conf->base_url);
    pthread_mutex_unlock(&oc->mu);
    return u;
}

char *dw_oncall_twilio_token(struct dw_oncall *oc)
{
    return oc->notifier ? dw_notifier_twilio_token(oc->notifier) : NULL;
}

/* ---- life ---- */

static void load_key(struct dw_oncall *oc)
{
    if (oc->conf->secret && *oc->conf->secret) {
        size_t n = strlen(oc->conf->secret);
        oc->key.len = n < sizeof oc->key.secret ? n : sizeof oc->key.secret;
        memcpy(oc->key.secret, oc->conf->secret, oc->key.len);
        return;
    }
    char *hex = NULL;
    if (dw_store_meta_get(oc->store, "oncall.link_secret", &hex, NULL) != 0 || !hex) {
        uint8_t raw[32];
        dw_random_bytes(raw, sizeof raw);
        free(hex);
        hex = dw_base64(raw, sizeof raw, true);
        dw_store_meta_set(oc->store, "oncall.link_secret", hex, NULL);
    }
    size_t n = strlen(hex);
    oc->key.len = n < sizeof oc->key.secret ? n : sizeof oc->key.secret;
    memcpy(oc->key.secret, hex, oc->key.len);
    free(hex);
}

struct ov_ctx {
    struct sched_set *s;
};

static int override_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct ov_ctx *o = ctx;
    char *err = NULL;
    if (sched_add_override(o->s, c[0].s, c[1].s, c[2].type == DW_VAL_NULL ? NULL : c[2].s, c[3].i,
                           c[4].i, &err) != 0) {
        dw_log_kv(DW_LOG_WARN, "oncall", "a stored override no longer applies", "schedule", c[0].s,
                  "error", err, NULL);
        free(err);
    }
    return 0;
}

static void load_overrides(struct dw_oncall *oc, struct oncall_conf *conf)
{
    struct ov_ctx o = {conf->sched};
    dw_store_exec(oc->store,
                  "SELECT schedule, person, replaces, start_at, end_at FROM oncall_overrides"
                  " ORDER BY id",
                  NULL, 0, override_row, &o, NULL);
}

static struct oncall_conf *decode_or_err(const struct dw_config *cfg, char **err)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct oncall_conf *c = oncall_conf_decode(cfg, &diags);
    if (!c) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        for (size_t i = 0; i < diags.n; i++) {
            dw_diag_format(&diags.items[i], &b);
            dw_buf_printf(&b, "\n");
        }
        *err = dw_strndup(b.data ? b.data : "invalid oncall section", b.len);
        dw_buf_release(&b);
    }
    dw_diags_release(&diags);
    return c;
}

struct dw_oncall *dw_oncall_open(const struct dw_oncall_options *o, char **err)
{
    if (dw_store_migrate(o->store, "oncall", migrations, DW_ARRAY_LEN(migrations), err) != 0)
        return NULL;
    struct oncall_conf *conf = decode_or_err(o->config, err);
    if (!conf)
        return NULL;
    struct dw_oncall *oc = dw_calloc(1, sizeof *oc);
    oc->store = o->store;
    oc->alerter = o->alerter;
    oc->notifier = o->notifier;
    oc->consumer = dw_strdup(o->consumer ? o->consumer : "oncall");
    oc->cfg = dw_config_ref((struct dw_config *)o->config);
    oc->conf = conf;
    pthread_mutex_init(&oc->mu, NULL);
    load_key(oc);
    load_overrides(oc, conf);
    return oc;
}

int dw_oncall_apply(struct dw_oncall *oc, const struct dw_config *cfg, char **err)
{
    struct oncall_conf *conf = decode_or_err(cfg, err);
    if (!conf)
        return -1;
    load_overrides(oc, conf);
    pthread_mutex_lock(&oc->mu);
    struct oncall_conf *old = oc->conf;
    struct dw_config *oldcfg = oc->cfg;
    oc->conf = conf;
    oc->cfg = dw_config_ref((struct dw_config *)cfg);
    load_key(oc);
    pthread_mutex_unlock(&oc->mu);
    oncall_conf_free(&old);
    dw_config_unref(&oldcfg);
    return 0;
}

static void oncall_turn(void *ctx, int64_t now_ms)
{
    dw_oncall_tick(ctx, now_ms);
}

int dw_oncall_start(struct dw_oncall *oc)
{
    if (oc->worker.running)
        return 0;
    oc->worker = (struct dw_alert_consumer){.alerter = oc->alerter,
                                            .consumer = oc->consumer,
                                            .turn = oncall_turn,
                                            .ctx = oc,
                                            .every_ms = TURN_MS};
    return dw_alert_consumer_start(&oc->worker, "dw-oncall");
}

void dw_oncall_stop(struct dw_oncall *oc)
{
    if (oc)
        dw_alert_consumer_stop(&oc->worker);
}

void dw_oncall_close(struct dw_oncall **poc)
{
    struct dw_oncall *oc = poc ? *poc : NULL;
    if (!oc)
        return;
    dw_oncall_stop(oc);
    oncall_conf_free(&oc->conf);
    dw_config_unref(&oc->cfg);
    pthread_mutex_destroy(&oc->mu);
    free(oc->consumer);
    free(oc);
    *poc = NULL;
}

size_t dw_oncall_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    size_t before = diags->n;
    struct oncall_conf *c = oncall_conf_decode(cfg, diags);
    oncall_conf_free(&c);
    size_t errors = 0;
    for (size_t i = before; i < diags->n; i++)
        errors += !dw_str_has_prefix(diags->items[i].msg, "warning: ");
    return errors;
}
