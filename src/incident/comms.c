/*
 * comms.c - what the incident module says, and to whom: the timeline posted
 * to the incidents channel, stakeholder updates, the daily summary of open
 * P2 work, and reminders before a target is missed.
 *
 * DESIGN
 * Everything leaves through the notifier's outbox (dw_notifier_enqueue_many:
 * durable, deduplicated, delivered at least once) as a "message" payload
 * ({"message": {title, text, url, thread, color, fields}}, see
 * notify_internal.h), so this file only decides what to send and records
 * that it did. One turn (inc_comms_turn, on the module's thread after the
 * locked part of a tick) has three phases:
 *
 *   1. read (under inc->mu): new timeline entries past the cursor, incidents
 *      whose stakeholder update or reminder is due, overdue action items,
 *      whether today's summary went out; page entries of open incidents
 *      come from dw_incident_json (which locks by itself), at most every 2 s;
 *   2. send (no lock): every message in one enqueue_many, with dedup keys
 *      that name exactly what they carry (incident:<id>:timeline:<entry>,
 *      incident:<id>:stakeholders:<n>:<destination>, ...);
 *   3. record (under inc->mu, one transaction): the cursor, updates sent,
 *      reminders given (incident_reminders, once per incident, kind and
 *      deadline), and the timeline entries that say so ("reminder",
 *      "message", "breach"), which the next turn posts to the channel.
 *
 * A crash between 2 and 3 sends the same messages again under the same keys,
 * which the outbox drops: nothing is lost and nothing doubles. Messages of
 * one incident share the order key "incident:<id>" and the thread key <id>:
 * the notifier delivers them in order and the Slack channel (in Web API
 * mode) threads them under the first one; e-mail threads by Message-ID.
 *
 * Who hears what (config `incidents.communications`, defaults from the plan):
 *   timeline       every entry of every incident, in real time, to
 *                  slack:incidents ("Incident Reports: Real-time updates to
 *                  #incidents"); page entries (paged, escalated,
 *                  acknowledged) of open incidents too.
 *   stakeholders   while a SEV1/SEV2 is open: one update when it opens, one
 *                  every hour after ("Stakeholder Updates: Hourly during
 *                  critical periods"), and a last one when it resolves; to
 *                  the business contacts by e-mail unless configured.
 *   daily_summary  at 09:00 (the plan's daily standup) to slack:engineering:
 *                  firing P2 alert groups, open incidents, open action items
 *                  ("P2 ... Communication: Daily status summary"). Once per
 *                  local day, also when the daemon starts after 09:00.
 * Reminders (config `incidents.reminders`), each once, as a timeline entry
 * (so in the incident's thread) and a direct message to the person
 * responsible (the communications lead for updates and the status page, the
 * commander otherwise, the owner for an action item): when at_percent (80)
 * of the acknowledgement, resolution or status-page target has passed, 80 %
 * into each stakeholder interval, and when an action item becomes overdue.
 * A status-page update missing at its deadline (the priority's
 * status_page_within: 10 min for P0) is recorded as a breach.
 *
 * Threads: the module's thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident/incident_internal.h"

#define TIMELINE_BATCH 200
#define PAGES_EVERY_MS 2000
#define NOTES_IN_UPDATE 3
#define SUMMARY_LINES 30

/* ---- messages ---- */

struct out {
    char *dedup, *kind, *to, *person, *order, *payload;
};

struct outs {
    struct out *v;
    size_t n, cap;
};

static void outs_release(struct outs *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].dedup);
        free(o->v[i].kind);
        free(o->v[i].to);
        free(o->v[i].person);
        free(o->v[i].order);
        free(o->v[i].payload);
    }
    free(o->v);
    *o = (struct outs){0};
}

/* A destination resolved to one recipient. */
struct dest {
    const char *kind; /* slack, email, sms */
    const char *to;
    const char *person; /* may be NULL */
};

struct dests {
    struct dest *v;
    size_t n, cap;
};

static void dests_add(struct dests *d, const char *kind, const char *to, const char *person)
{
    if (!to || !*to)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].kind, kind) == 0 && strcmp(d->v[i].to, to) == 0)
            return;
    d->v = dw_grow(d->v, &d->cap, d->n + 1, sizeof *d->v);
    d->v[d->n++] = (struct dest){kind, to, person};
}

/* A person by e-mail (prefer_slack: by Slack first), else the other. */
static void dests_person(struct dests *d, const struct dw_plan_person *p, bool prefer_slack)
{
    if (!p)
        return;
    if (prefer_slack && p->slack && *p->slack)
        dests_add(d, "slack", p->slack, p->id);
    else if (p->email && *p->email)
        dests_add(d, "email", p->email, p->id);
    else if (p->slack && *p->slack)
        dests_add(d, "slack", p->slack, p->id);
}

/* Resolves one destination spec (decode_dest's syntax) against the config. */
static void dests_resolve(const struct dw_config *cfg, const char *spec, bool prefer_slack,
                          struct dests *d)
{
    const char *v = strchr(spec, ':');
    if (!v)
        return;
    v++;
    if (strncmp(spec, "slack:", 6) == 0)
        dests_add(d, "slack", *v == '#' || *v == '@' ? v : dw_config_channel(cfg, v), NULL);
    else if (strncmp(spec, "email:", 6) == 0)
        dests_add(d, "email", v, NULL);
    else if (strncmp(spec, "sms:", 4) == 0)
        dests_add(d, "sms", v, NULL);
    else if (strncmp(spec, "person:", 7) == 0)
        dests_person(d, dw_config_find_person(cfg, v), prefer_slack);
    else if (strncmp(spec, "team:", 5) == 0) {
        const struct dw_plan_team *t = dw_config_find_team(cfg, v);
        for (size_t i = 0; t && i < t->nmembers; i++)
            dests_person(d, dw_config_find_person(cfg, t->members[i]), prefer_slack);
    } else if (strncmp(spec, "contacts:", 9) == 0) {
        size_t n = 0;
        const struct dw_plan_contact *c = dw_config_contacts(cfg, &n);
        for (size_t i = 0; i < n; i++)
            if (c[i].person && c[i].kind && strcmp(c[i].kind, v) == 0)
                dests_person(d, dw_config_find_person(cfg, c[i].person), prefer_slack);
    }
}

/* Queues {"message": msg} (stolen) for every recipient of d. */
static void send_to(struct outs *o, const struct dests *d, const char *dedup_base,
                    const char *order, json_t *msg)
{
    json_t *doc = json_pack("{s:o}", "message", msg);
    char *payload = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    for (size_t i = 0; i < d->n; i++) {
        o->v = dw_grow(o->v, &o->cap, o->n + 1, sizeof *o->v);
        o->v[o->n++] =
            (struct out){.dedup = dw_asprintf("%s:%s:%s", dedup_base, d->v[i].kind, d->v[i].to),
                         .kind = dw_strdup(d->v[i].kind),
                         .to = dw_strdup(d->v[i].to),
                         .person = d->v[i].person ? dw_strdup(d->v[i].person) : NULL,
                         .order = order ? dw_strdup(order) : NULL,
                         .payload = dw_strdup(payload)};
    }
    free(payload);
}

static json_t *message(const char *title, const char *text, const char *thread, const char *color,
                       const char *url)
{
    json_t *m = json_pack("{s:s, s:s}", "title", title, "text", text);
    if (thread)
        json_object_set_new(m, "thread", json_string(thread));
    if (color)
        json_object_set_new(m, "color", json_string(color));
    if (url)
        json_object_set_new(m, "url", json_string(url));
    return m;
}

static void add_field(json_t *m, const char *title, const char *value)
{
    json_t *f = json_object_get(m, "fields");
    if (!f) {
        f = json_array();
        json_object_set_new(m, "fields", f);
    }
    json_array_append_new(
        f, json_pack("{s:s, s:s}", "title", title, "value", value && *value ? value : "-"));
}

static void clock_text(int64_t ms, char *out, size_t size)
{
    struct dw_civil c;
    dw_civil_at(NULL, ms, &c);
    snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d UTC", c.year, c.month, c.day, c.hour,
             c.minute, c.second);
}

/* ---- configuration with the plan's defaults ---- */

static const char *timeline_dest(const struct dw_incidents *inc)
{
    const struct y_comms *c = &inc->conf->y.comms;
    if (!c->timeline_enabled)
        return NULL;
    return c->timeline_seen && c->timeline ? c->timeline : "slack:incidents";
}

static void stakeholder_dests(const struct dw_incidents *inc, struct dests *d)
{
    const struct y_stakeholders *s = &inc->conf->y.comms.stakeholders;
    if (inc->conf->y.comms.stakeholders_seen)
        for (size_t i = 0; i < s->nto; i++)
            dests_resolve(inc->cfg, s->to[i], false, d);
    else
        dests_resolve(inc->cfg, "contacts:business", false, d);
}

static char *incident_url(struct dw_incidents *inc, const char *id)
{
    char *base = inc->oncall ? dw_oncall_base_url(inc->oncall) : NULL;
    char *u = base && *base ? dw_asprintf("%s/api/incidents/%s", base, id) : NULL;
    free(base);
    return u;
}

/* ---- 1. read ---- */

struct tl_entry {
    int64_t id, at, first_id;
    char *incident, *kind, *who, *text, *title, *priority, *state;
    int severity;
};

struct incident_info {
    char *id, *title, *priority, *state, *impact, *commander, *comms_lead;
    int severity;
    int64_t created, acked, resolved, status_page_at, status_page_breach;
    int64_t updates_sent, pages_until;
    bool final_sent;
};

struct reminder {
    char *incident, *kind, *text, *person;
    int64_t due;
    bool breach; /* a status-page breach: column and timeline "breach" */
};

struct turn {
    struct dw_incidents *inc;
    int64_t now;
    int64_t cursor, new_cursor;
    struct tl_entry *tl;
    size_t ntl, captl;
    struct incident_info *inc_v;
    size_t ninc, capinc;
    struct reminder *rem;
    size_t nrem, caprem;
    /* what phase 3 writes besides reminders */
    struct {
        char *incident;
        int64_t updates_sent; /* -1: unchanged */
        bool final_sent;
        int64_t pages_until; /* -1: unchanged */
        char *entry;         /* a "message" timeline entry, or NULL */
    } * rec;
    size_t nrec, caprec;
    int64_t summary_day; /* -1: no summary sent this turn */
    struct outs outs;
};

static int tl_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct turn *t = ctx;
    t->tl = dw_grow(t->tl, &t->captl, t->ntl + 1, sizeof *t->tl);
    t->tl[t->ntl++] = (struct tl_entry){.id = c[0].i,
                                        .incident = inc_col(&c[1]),
                                        .at = c[2].i,
                                        .kind = inc_col(&c[3]),
                                        .who = inc_col(&c[4]),
                                        .text = inc_col(&c[5]),
                                        .title = inc_col(&c[6]),
                                        .severity = (int)c[7].i,
                                        .priority = inc_col(&c[8]),
                                        .state = inc_col(&c[9]),
                                        .first_id = c[10].i};
    return 0;
}

static int info_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct turn *t = ctx;
    t->inc_v = dw_grow(t->inc_v, &t->capinc, t->ninc + 1, sizeof *t->inc_v);
    t->inc_v[t->ninc++] = (struct incident_info){.id = inc_col(&c[0]),
                                                 .title = inc_col(&c[1]),
                                                 .severity = (int)c[2].i,
                                                 .priority = inc_col(&c[3]),
                                                 .state = inc_col(&c[4]),
                                                 .created = c[5].i,
                                                 .acked = inc_col_int(&c[6]),
                                                 .resolved = inc_col_int(&c[7]),
                                                 .impact = inc_col(&c[8]),
                                                 .commander = inc_col(&c[9]),
                                                 .comms_lead = inc_col(&c[10]),
                                                 .status_page_at = inc_col_int(&c[11]),
                                                 .status_page_breach = inc_col_int(&c[12]),
                                                 .updates_sent = inc_col_int(&c[13]),
                                                 .final_sent = inc_col_int(&c[14]) != 0,
                                                 .pages_until = inc_col_int(&c[15])};
    return 0;
}

static void read_locked(struct turn *t)
{
    struct dw_incidents *inc = t->inc;
    t->cursor =
        inc_count(inc, "SELECT value FROM incident_cursor WHERE name = 'timeline'", NULL, 0);
    t->new_cursor = t->cursor;
    struct dw_value p[] = {DW_VINT(t->cursor), DW_VINT(TIMELINE_BATCH)};
    char *err = NULL;
    if (dw_store_exec(
            inc->store,
            "SELECT t.id, t.incident_id, t.at, t.kind, t.who, t.text, i.title, i.severity,"
            " i.priority, i.state,"
            " (SELECT MIN(f.id) FROM incident_timeline f WHERE f.incident_id = t.incident_id)"
            " FROM incident_timeline t JOIN incidents i ON i.id = t.incident_id"
            " WHERE t.id > $1 ORDER BY t.id LIMIT $2",
            p, 2, tl_cb, t, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "incident", "reading the timeline failed", "error", err, NULL);
        free(err);
        err = NULL;
    }
    /* Open incidents, and resolved ones whose last stakeholder update is owed. */
    if (dw_store_exec(
            inc->store,
            "SELECT i.id, i.title, i.severity, i.priority, i.state, i.created_at,"
            " i.acknowledged_at, i.resolved_at, i.impact, i.commander, i.communications_lead,"
            " i.status_page_at, i.status_page_breached_at, COALESCE(c.updates_sent, 0),"
            " COALESCE(c.final_sent, 0), COALESCE(c.pages_posted_until, 0)"
            " FROM incidents i LEFT JOIN incident_comms c ON c.incident_id = i.id"
            " WHERE i.merged_into IS NULL AND (i.state NOT IN ('resolved', 'postmortem', 'closed')"
            " OR (COALESCE(c.updates_sent, 0) > 0 AND COALESCE(c.final_sent, 0) = 0))"
            " ORDER BY i.created_at LIMIT 1000",
            NULL, 0, info_cb, t, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "incident", "reading open incidents failed", "error", err, NULL);
        free(err);
    }
}

static void tl_release(struct tl_entry *e)
{
    free(e->incident);
    free(e->kind);
    free(e->who);
    free(e->text);
    free(e->title);
    free(e->priority);
    free(e->state);
}

static void info_release(struct incident_info *i)
{
    free(i->id);
    free(i->title);
    free(i->priority);
    free(i->state);
    free(i->impact);
    free(i->commander);
    free(i->comms_lead);
}

static bool is_open(const char *state)
{
    int s = dw_incident_state_parse(state);
    return s >= 0 && s < DW_INCIDENT_RESOLVED;
}

/* ---- the timeline to the incidents channel ---- */

static const char *kind_label(const char *kind)
{
    static const char *const map[][2] = {{"state", "State"},
                                         {"alert", "Alert"},
                                         {"note", "Note"},
                                         {"field", "Update"},
                                         {"role", "Role"},
                                         {"action", "Action item"},
                                         {"merge", "Merge"},
                                         {"breach", "Target missed"},
                                         {"reminder", "Reminder"},
                                         {"message", "Message sent"},
                                         {"status_page", "Status page"},
                                         {"notice", "User notice"},
                                         {"page", "Page"},
                                         {"escalation", "Escalation"},
                                         {"acknowledgement", "Acknowledged"}};
    for (size_t i = 0; i < DW_ARRAY_LEN(map); i++)
        if (strcmp(map[i][0], kind) == 0)
            return map[i][1];
    return kind;
}

static void post_entry(struct turn *t, const struct dests *d, const char *incident,
                       const char *title, int severity, const char *priority, const char *state,
                       bool root, int64_t at, const char *kind, const char *who, const char *text,
                       const char *dedup)
{
    char when[40], *head, *body;
    clock_text(at, when, sizeof when);
    if (root)
        head = dw_asprintf("[SEV%d] %s: %s", severity, incident, title);
    else
        head = dw_asprintf("%s · %s", incident, kind_label(kind));
    body = dw_asprintf("%s — %s: %s", when, who && *who ? who : "system", text);
    char *url = incident_url(t->inc, incident);
    bool resolved = strcmp(kind, "state") == 0 && strncmp(text, "resolved", 8) == 0;
    json_t *m = message(head, body, incident, root ? priority : resolved ? "resolved" : NULL, url);
    if (root) {
        char sev[8];
        snprintf(sev, sizeof sev, "SEV%d", severity);
        add_field(m, "Severity", sev);
        add_field(m, "Priority", priority);
        add_field(m, "State", state);
    }
    char *order = dw_asprintf("incident:%s", incident);
    send_to(&t->outs, d, dedup, order, m);
    free(order);
    free(url);
    free(head);
    free(body);
}

static void timeline_posts(struct turn *t, const struct dests *d)
{
    for (size_t i = 0; i < t->ntl; i++) {
        const struct tl_entry *e = &t->tl[i];
        if (e->id > t->new_cursor)
            t->new_cursor = e->id;
        if (!d->n)
            continue;
        char *dedup = dw_asprintf("incident:%s:timeline:%lld", e->incident, (long long)e->id);
        post_entry(t, d, e->incident, e->title, e->severity, e->priority, e->state,
                   e->id == e->first_id, e->at, e->kind, e->who, e->text, dedup);
        free(dedup);
    }
}

/* Page entries (paged, escalated, acknowledged) of the open incidents. */
static void page_posts(struct turn *t, const struct dests *d)
{
    for (size_t i = 0; i < t->ninc; i++) {
        struct incident_info *ii = &t->inc_v[i];
        if (!is_open(ii->state))
            continue;
        json_t *o = dw_incident_json(t->inc, ii->id);
        if (!o)
            continue;
        int64_t until = ii->pages_until;
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(o, "timeline"), k, e)
        {
            const char *kind = json_string_value(json_object_get(e, "kind"));
            const char *ats = json_string_value(json_object_get(e, "at"));
            const char *who = json_string_value(json_object_get(e, "who"));
            const char *text = json_string_value(json_object_get(e, "text"));
            int64_t at = 0;
            if (!kind || !ats || !text || dw_parse_rfc3339(ats, &at) != 0 || at < ii->pages_until ||
                (strcmp(kind, "page") != 0 && strcmp(kind, "escalation") != 0 &&
                 strcmp(kind, "acknowledgement") != 0))
                continue;
            if (at > until)
                until = at;
            char *key = dw_asprintf("%lld|%s|%s|%s", (long long)at, kind, who ? who : "", text);
            char hex[65];
            dw_sha256_hex(key, strlen(key), hex);
            hex[24] = '\0';
            char *dedup = dw_asprintf("incident:%s:page:%s", ii->id, hex);
            post_entry(t, d, ii->id, ii->title, ii->severity, ii->priority, ii->state, false, at,
                       kind, who, text, dedup);
            free(dedup);
            free(key);
        }
        json_decref(o);
        if (until != ii->pages_until) {
            t->rec = dw_grow(t->rec, &t->caprec, t->nrec + 1, sizeof *t->rec);
            t->rec[t->nrec++] = (__typeof__(*t->rec)){
                .incident = dw_strdup(ii->id), .updates_sent = -1, .pages_until = until};
        }
    }
}

/* ---- stakeholder updates ---- */

struct notes {
    struct dw_buf b;
    int n;
};

static int note_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct notes *ns = ctx;
    char when[40];
    clock_text(c[0].i, when, sizeof when);
    dw_buf_printf(&ns->b, "• %s (%.*s): %.*s\n", when, (int)c[1].n, c[1].s ? c[1].s : "",
                  (int)c[2].n, c[2].s ? c[2].s : "");
    ns->n++;
    return 0;
}

static void stakeholder_update(struct turn *t, const struct incident_info *ii, int64_t number,
                               bool final, const struct dests *d)
{
    char when[40], next[40], dur[32];
    clock_text(ii->created, when, sizeof when);
    dw_incident_format_duration((final && ii->resolved ? ii->resolved : t->now) - ii->created, dur,
                                sizeof dur);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    if (final)
        dw_buf_printf(&b, "Resolved after %s.\n", dur);
    else
        dw_buf_printf(&b, "State: %s, open for %s (since %s).\n", ii->state, dur, when);
    dw_buf_printf(&b, "Impact: %s\n", ii->impact && *ii->impact ? ii->impact : "being assessed");
    dw_buf_printf(&b, "Incident commander: %s\n",
                  ii->commander ? inc_person_label(t->inc, ii->commander) : "not assigned yet");
    /* The latest notes: what responders wrote since the previous update. */
    struct notes ns;
    dw_buf_init(&ns.b, 0);
    ns.n = 0;
    struct dw_value p[] = {DW_VTEXT(ii->id), DW_VINT(NOTES_IN_UPDATE)};
    dw_store_exec(t->inc->store,
                  "SELECT at, who, text FROM (SELECT at, who, text, id FROM incident_timeline"
                  " WHERE incident_id = $1 AND kind = 'note' ORDER BY at DESC, id DESC LIMIT $2)"
                  " ORDER BY at, id",
                  p, 2, note_cb, &ns, NULL);
    if (ns.n)
        dw_buf_printf(&b, "Latest notes:\n%s", ns.b.data);
    dw_buf_release(&ns.b);
    int64_t every = t->inc->conf->y.comms.stakeholders.every_ms;
    if (!final && every > 0) {
        clock_text(ii->created + (number + 1) * every, next, sizeof next);
        dw_buf_printf(&b, "Next update by %s.", next);
    }
    char *title = final ? dw_asprintf("[SEV%d] Resolved: %s (%s)", ii->severity, ii->title, ii->id)
                  : number == 0 ? dw_asprintf("[SEV%d] Incident opened: %s (%s)", ii->severity,
                                              ii->title, ii->id)
                                : dw_asprintf("[SEV%d] Update %lld: %s (%s)", ii->severity,
                                              (long long)number, ii->title, ii->id);
    char *url = incident_url(t->inc, ii->id);
    json_t *m =
        message(title, b.data ? b.data : "", ii->id, final ? "resolved" : ii->priority, url);
    char *base = final ? dw_asprintf("incident:%s:stakeholders:final", ii->id)
                       : dw_asprintf("incident:%s:stakeholders:%lld", ii->id, (long long)number);
    char *order = dw_asprintf("incident:%s", ii->id);
    send_to(&t->outs, d, base, order, m);
    t->rec = dw_grow(t->rec, &t->caprec, t->nrec + 1, sizeof *t->rec);
    t->rec[t->nrec++] = (__typeof__(*t->rec)){
        .incident = dw_strdup(ii->id),
        .updates_sent = final ? -1 : number + 1,
        .final_sent = final,
        .pages_until = -1,
        .entry = final ? dw_asprintf("final stakeholder update sent to %zu recipients", d->n)
                 : number == 0
                     ? dw_asprintf("first stakeholder update sent to %zu recipients", d->n)
                     : dw_asprintf("stakeholder update %lld sent to %zu recipients",
                                   (long long)number, d->n)};
    free(order);
    free(base);
    free(url);
    free(title);
    dw_buf_release(&b);
}

static void stakeholder_updates(struct turn *t)
{
    const struct y_stakeholders *s = &t->inc->conf->y.comms.stakeholders;
    if (s->every_ms <= 0)
        return;
    struct dests d = {0};
    stakeholder_dests(t->inc, &d);
    for (size_t i = 0; d.n && i < t->ninc; i++) {
        const struct incident_info *ii = &t->inc_v[i];
        if (ii->severity > s->max_severity)
            continue;
        if (is_open(ii->state)) {
            int64_t number = (t->now - ii->created) / s->every_ms;
            if (number >= ii->updates_sent)
                stakeholder_update(t, ii, number, false, &d);
        } else if (ii->updates_sent > 0 && !ii->final_sent) {
            stakeholder_update(t, ii, 0, true, &d);
        }
    }
    free(d.v);
}

/* ---- reminders ---- */

static void remind(struct turn *t, const char *incident, const char *kind, int64_t due,
                   const char *person, bool breach, char *text /* stolen */)
{
    t->rem = dw_grow(t->rem, &t->caprem, t->nrem + 1, sizeof *t->rem);
    t->rem[t->nrem++] = (struct reminder){
        dw_strdup(incident), dw_strdup(kind), text, person ? dw_strdup(person) : NULL, due, breach};
}

static bool reminded(struct dw_incidents *inc, const char *id, const char *kind, int64_t due)
{
    struct dw_value p[] = {DW_VTEXT(id), DW_VTEXT(kind), DW_VINT(due)};
    return inc_count(inc,
                     "SELECT 1 FROM incident_reminders WHERE incident_id = $1 AND kind = $2"
                     " AND due = $3",
                     p, 3) != 0;
}

/* A reminder when `pct` of [start, due) has passed and due is still ahead. */
static bool reminder_due(struct turn *t, int64_t start, int64_t due)
{
    int64_t pct = t->inc->conf->y.reminders.at_percent;
    return due > start && t->now < due && t->now >= start + (due - start) * pct / 100;
}

static void target_reminders(struct turn *t, const struct incident_info *ii)
{
    struct dw_incidents *inc = t->inc;
    int p = ii->priority ? dw_priority_parse(ii->priority) : -1;
    const struct dw_plan_priority *pp = p >= 0 ? dw_config_priority(inc->cfg, p) : NULL;
    if (!pp)
        return;
    const char *lead = ii->comms_lead ? ii->comms_lead : ii->commander;
    char when[40];
    int64_t due = ii->created + pp->response_ms;
    if (pp->response_ms > 0 && !ii->acked && reminder_due(t, ii->created, due) &&
        !reminded(inc, ii->id, "acknowledge", due)) {
        clock_text(due, when, sizeof when);
        remind(t, ii->id, "acknowledge", due, ii->commander, false,
               dw_asprintf("not acknowledged yet: the %s target ends at %s; acknowledge the "
                           "page or the incident",
                           ii->priority, when));
    }
    due = ii->created + pp->resolution_ms;
    if (pp->resolution_ms > 0 && reminder_due(t, ii->created, due) &&
        !reminded(inc, ii->id, "resolution", due)) {
        clock_text(due, when, sizeof when);
        remind(t, ii->id, "resolution", due, ii->commander, false,
               dw_asprintf("the %s resolution target ends at %s; mitigate or escalate",
                           ii->priority, when));
    }
    due = ii->created + pp->status_page_ms;
    if (pp->status_page_ms > 0 && !ii->status_page_at) {
        if (reminder_due(t, ii->created, due) && !reminded(inc, ii->id, "status_page", due)) {
            clock_text(due, when, sizeof when);
            remind(t, ii->id, "status_page", due, lead, false,
                   dw_asprintf("no status-page update yet: the plan wants one by %s", when));
        } else if (t->now >= due && !ii->status_page_breach &&
                   !reminded(inc, ii->id, "status_page_breach", due)) {
            char target[32];
            dw_incident_format_duration(pp->status_page_ms, target, sizeof target);
            remind(t, ii->id, "status_page_breach", due, lead, true,
                   dw_asprintf("status page target of %s missed", target));
        }
    }
    int64_t every = inc->conf->y.comms.stakeholders.every_ms;
    if (every > 0 && ii->severity <= inc->conf->y.comms.stakeholders.max_severity) {
        int64_t next = (t->now - ii->created) / every + 1;
        due = ii->created + next * every;
        if (reminder_due(t, due - every, due) && !reminded(inc, ii->id, "stakeholders", due)) {
            clock_text(due, when, sizeof when);
            remind(t, ii->id, "stakeholders", due, lead, false,
                   dw_asprintf("stakeholder update %lld goes out at %s; add a note with what "
                               "stakeholders should know",
                               (long long)next, when));
        }
    }
}

struct overdue {
    struct turn *t;
};

static int overdue_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct turn *t = ctx;
    char *incident = inc_col(&c[1]), *task = inc_col(&c[2]), *owner = inc_col(&c[3]);
    char kind[48], when[40];
    snprintf(kind, sizeof kind, "action:%lld", (long long)c[0].i);
    if (!reminded(t->inc, incident, kind, c[4].i)) {
        clock_text(c[4].i, when, sizeof when);
        remind(t, incident, kind, c[4].i, owner, false,
               dw_asprintf("action item #%lld is overdue (due %s, owner %s): %s", (long long)c[0].i,
                           when, owner ? inc_person_label(t->inc, owner) : "none", task));
    }
    free(incident);
    free(task);
    free(owner);
    return 0;
}

static void reminders(struct turn *t)
{
    for (size_t i = 0; i < t->ninc; i++)
        if (is_open(t->inc_v[i].state))
            target_reminders(t, &t->inc_v[i]);
    if (!t->inc->conf->y.reminders.action_items)
        return;
    struct dw_value p[] = {DW_VINT(t->now)};
    dw_store_exec(t->inc->store,
                  "SELECT id, incident_id, task, owner, due FROM incident_actions"
                  " WHERE done = 0 AND due IS NOT NULL AND due <= $1 ORDER BY due, id LIMIT 100",
                  p, 1, overdue_cb, t, NULL);
}

/* A direct message to the person a reminder is for. */
static void reminder_messages(struct turn *t)
{
    for (size_t i = 0; i < t->nrem; i++) {
        const struct reminder *r = &t->rem[i];
        struct dests d = {0};
        if (r->person)
            dests_person(&d, dw_config_find_person(t->inc->cfg, r->person), true);
        if (d.n) {
            char *title = dw_asprintf("Reminder: %s", r->incident);
            char *url = incident_url(t->inc, r->incident);
            char *base = dw_asprintf("incident:%s:reminder:%s:%lld", r->incident, r->kind,
                                     (long long)r->due);
            send_to(&t->outs, &d, base, NULL, message(title, r->text, NULL, NULL, url));
            free(base);
            free(url);
            free(title);
        }
        free(d.v);
    }
}

/* ---- the daily summary ---- */

static void summary_alerts(struct turn *t, struct dw_buf *b)
{
    if (!t->inc->alerter)
        return;
    struct dw_alert_filter f;
    dw_alert_filter_init(&f);
    const char *m[] = {"priority=\"P2\""};
    f.matchers = m;
    f.nmatchers = 1;
    f.silenced = false;
    f.inhibited = false;
    json_t *groups = NULL;
    if (dw_alerter_groups_json(t->inc->alerter, &f, &groups, NULL) != 0 || !groups)
        return;
    size_t i, n = 0;
    json_t *g;
    dw_buf_printf(b, "Firing P2 alert groups: %zu\n", json_array_size(groups));
    json_array_foreach(groups, i, g)
    {
        if (n++ >= SUMMARY_LINES)
            break;
        json_t *labels = json_object_get(g, "labels");
        const char *name = json_string_value(json_object_get(labels, "alertname"));
        json_t *alerts = json_object_get(g, "alerts");
        dw_buf_printf(b, "• %s (%zu alerts)\n", name ? name : "(no alertname)",
                      json_array_size(alerts));
    }
    json_decref(groups);
}

static void daily_summary(struct turn *t)
{
    const struct y_daily *y = &t->inc->conf->y.comms.daily;
    if (!y->enabled)
        return;
    const struct dw_tz *tz = y->timezone ? dw_tz_get(y->timezone, NULL) : NULL;
    int64_t off = tz ? (int64_t)dw_tz_offset(tz, t->now / 1000) * 1000 : 0;
    int64_t local = t->now + off;
    int64_t day = local >= 0 ? local / 86400000 : (local - 86399999) / 86400000;
    int64_t minute = (local - day * 86400000) / 60000;
    int h = 9, mi = 0; /* y->at was checked when the config loaded */
    if (y->at)
        sscanf(y->at, "%d:%d", &h, &mi);
    if (minute < h * 60 + mi || reminded(t->inc, "", "daily_summary", day))
        return;
    struct dests d = {0};
    dests_resolve(t->inc->cfg,
                  t->inc->conf->y.comms.daily_to_seen && y->to ? y->to : "slack:engineering", true,
                  &d);
    t->summary_day = day;
    if (!d.n)
        return;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    summary_alerts(t, &b);
    size_t nopen = 0;
    for (size_t i = 0; i < t->ninc; i++)
        nopen += is_open(t->inc_v[i].state);
    dw_buf_printf(&b, "Open incidents: %zu\n", nopen);
    for (size_t i = 0, n = 0; i < t->ninc && n < SUMMARY_LINES; i++)
        if (is_open(t->inc_v[i].state)) {
            const struct incident_info *ii = &t->inc_v[i];
            dw_buf_printf(&b, "• %s [SEV%d, %s] %s\n", ii->id, ii->severity, ii->state, ii->title);
            n++;
        }
    json_t *actions = inc_actions_json_locked(t->inc, false, t->now);
    size_t i, overdue = 0;
    json_t *a;
    json_array_foreach(actions, i, a) overdue += json_is_true(json_object_get(a, "overdue"));
    dw_buf_printf(&b, "Open action items: %zu (%zu overdue)\n", json_array_size(actions), overdue);
    json_array_foreach(actions, i, a)
    {
        if (i >= SUMMARY_LINES)
            break;
        const char *owner = json_string_value(json_object_get(a, "ownerName"));
        dw_buf_printf(&b, "• %s%s (%s, owner %s)\n",
                      json_is_true(json_object_get(a, "overdue")) ? "OVERDUE " : "",
                      json_string_value(json_object_get(a, "task")),
                      json_string_value(json_object_get(a, "incident")), owner ? owner : "none");
    }
    json_decref(actions);
    struct dw_civil c;
    dw_civil_of_days(day, &c);
    char *title = dw_asprintf("Daily status summary, %04d-%02d-%02d", c.year, c.month, c.day);
    char *base = dw_asprintf("incident:daily:%04d-%02d-%02d", c.year, c.month, c.day);
    send_to(&t->outs, &d, base, NULL, message(title, b.data, NULL, NULL, NULL));
    free(base);
    free(title);
    dw_buf_release(&b);
    free(d.v);
}

/* ---- 3. record ---- */

static int record_tx(struct dw_store *s, void *ctx)
{
    struct turn *t = ctx;
    struct dw_incidents *inc = t->inc;
    int rc = 0;
    if (t->new_cursor != t->cursor) {
        struct dw_value p[] = {DW_VINT(t->new_cursor)};
        rc = dw_store_exec(s, "UPDATE incident_cursor SET value = $1 WHERE name = 'timeline'", p, 1,
                           NULL, NULL, NULL);
    }
    for (size_t i = 0; rc == 0 && i < t->nrec; i++) {
        struct dw_value p[] = {DW_VTEXT(t->rec[i].incident), DW_VINT(t->rec[i].updates_sent),
                               DW_VINT(t->rec[i].final_sent), DW_VINT(t->rec[i].pages_until)};
        rc = dw_store_exec(
            s,
            "INSERT INTO incident_comms (incident_id, pages_posted_until, updates_sent, final_sent)"
            " VALUES ($1, MAX($4, 0), MAX($2, 0), $3) ON CONFLICT (incident_id) DO UPDATE SET"
            " updates_sent = CASE WHEN $2 >= 0 THEN $2 ELSE updates_sent END,"
            " final_sent = MAX(final_sent, $3),"
            " pages_posted_until = CASE WHEN $4 >= 0 THEN $4 ELSE pages_posted_until END",
            p, 4, NULL, NULL, NULL);
        if (rc == 0 && t->rec[i].entry)
            rc = inc_timeline(inc, t->rec[i].incident, t->now, "message", "dojowatch",
                              t->rec[i].entry);
    }
    for (size_t i = 0; rc == 0 && i < t->nrem; i++) {
        const struct reminder *r = &t->rem[i];
        struct dw_value p[] = {DW_VTEXT(r->incident), DW_VTEXT(r->kind), DW_VINT(r->due),
                               DW_VINT(t->now)};
        rc = dw_store_exec(s,
                           "INSERT OR IGNORE INTO incident_reminders (incident_id, kind, due, at)"
                           " VALUES ($1, $2, $3, $4)",
                           p, 4, NULL, NULL, NULL);
        if (rc == 0 && r->breach) {
            struct dw_value q[] = {DW_VTEXT(r->incident), DW_VINT(r->due)};
            rc = dw_store_exec(s, "UPDATE incidents SET status_page_breached_at = $2 WHERE id = $1",
                               q, 2, NULL, NULL, NULL);
        }
        if (rc == 0)
            rc = inc_timeline(inc, r->incident, r->breach ? r->due : t->now,
                              r->breach ? "breach" : "reminder", "dojowatch", r->text);
    }
    if (rc == 0 && t->summary_day >= 0) {
        struct dw_value p[] = {DW_VINT(t->summary_day), DW_VINT(t->now)};
        rc = dw_store_exec(s,
                           "INSERT OR IGNORE INTO incident_reminders (incident_id, kind, due, at)"
                           " VALUES ('', 'daily_summary', $1, $2)",
                           p, 2, NULL, NULL, NULL);
    }
    return rc;
}

static void turn_release(struct turn *t)
{
    for (size_t i = 0; i < t->ntl; i++)
        tl_release(&t->tl[i]);
    free(t->tl);
    for (size_t i = 0; i < t->ninc; i++)
        info_release(&t->inc_v[i]);
    free(t->inc_v);
    for (size_t i = 0; i < t->nrem; i++) {
        free(t->rem[i].incident);
        free(t->rem[i].kind);
        free(t->rem[i].text);
        free(t->rem[i].person);
    }
    free(t->rem);
    for (size_t i = 0; i < t->nrec; i++) {
        free(t->rec[i].incident);
        free(t->rec[i].entry);
    }
    free(t->rec);
    outs_release(&t->outs);
}

void inc_comms_turn(struct dw_incidents *inc, int64_t now)
{
    struct turn t = {.inc = inc, .now = now, .summary_day = -1};
    pthread_mutex_lock(&inc->mu);
    read_locked(&t);
    struct dests tld = {0};
    const char *spec = timeline_dest(inc);
    if (spec && inc->notifier)
        dests_resolve(inc->cfg, spec, true, &tld);
    timeline_posts(&t, &tld);
    if (inc->notifier) {
        stakeholder_updates(&t);
        daily_summary(&t);
    }
    reminders(&t);
    reminder_messages(&t);
    bool pages = tld.n && inc->oncall && now - inc->pages_posted_at >= PAGES_EVERY_MS;
    if (pages)
        inc->pages_posted_at = now;
    pthread_mutex_unlock(&inc->mu);

    if (pages)
        page_posts(&t, &tld);
    free(tld.v);

    if (t.outs.n || t.nrem)
        dw_log(DW_LOG_DEBUG, "incident", "%zu messages, %zu reminders, %zu entries", t.outs.n,
               t.nrem, t.ntl);
    /* 2. send: a failure leaves everything unrecorded, so the next turn tries again. */
    bool sent = true;
    if (t.outs.n && inc->notifier) {
        struct dw_notification *msgs = dw_calloc(t.outs.n, sizeof *msgs);
        char **errs = dw_calloc(t.outs.n, sizeof *errs);
        for (size_t i = 0; i < t.outs.n; i++)
            msgs[i] = (struct dw_notification){.dedup_key = t.outs.v[i].dedup,
                                               .kind = t.outs.v[i].kind,
                                               .to = t.outs.v[i].to,
                                               .payload = t.outs.v[i].payload,
                                               .order_key = t.outs.v[i].order,
                                               .person = t.outs.v[i].person};
        dw_notifier_enqueue_many(inc->notifier, msgs, t.outs.n, errs);
        for (size_t i = 0; i < t.outs.n; i++) {
            if (errs[i]) {
                /* A channel that is not configured will not become so by retrying:
                 * say it and go on; a store failure is retried next turn. */
                bool store = strstr(errs[i], "store") != NULL;
                sent &= !store;
                inc_metric_message(store ? "failed" : "dropped");
                dw_log_kv(store ? DW_LOG_ERROR : DW_LOG_WARN, "incident",
                          "incident message not queued", "key", t.outs.v[i].dedup, "error", errs[i],
                          NULL);
                free(errs[i]);
            } else {
                inc_metric_message("queued");
            }
        }
        free(errs);
        free(msgs);
    }

    /* 3. record */
    if (sent && (t.new_cursor != t.cursor || t.nrec || t.nrem || t.summary_day >= 0)) {
        char *err = NULL;
        pthread_mutex_lock(&inc->mu);
        if (dw_store_tx(inc->store, record_tx, &t, &err) != 0) {
            dw_log_kv(DW_LOG_ERROR, "incident", "recording communications failed", "error", err,
                      NULL);
            free(err);
        }
        pthread_mutex_unlock(&inc->mu);
    }
    turn_release(&t);
}
