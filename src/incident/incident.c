/*
 * incident.c - the incident model: store tables, the state machine, alert
 * events and page acknowledgements in, targets, actions from people.
 *
 * DESIGN
 * State lives in the store (component "incident") and is written in the
 * call that changes it, so a restart loses nothing:
 *  - incidents: one row per incident, a column per field and per state's
 *    timestamp, breaches, mergedInto.
 *  - incident_groups: alert groups attached to an incident (one group
 *    belongs to one incident), and whether each is firing.
 *  - incident_timeline: what happened, when, who (alerts, states, notes,
 *    fields, roles, action items, merges, breaches). Pages' timelines stay in
 *    the on-call module and are merged in when an incident is read.
 *  - incident_actions: action items (task, owner, due, done).
 *
 * One turn (dw_incidents_tick, on the module's thread every 200 ms or when
 * an alert event arrives): alert events (consumer "incident") in one
 * transaction, the cursor moved after its commit; then page
 * acknowledgements of triggered incidents (read through the on-call API);
 * then targets; then the metrics. People's actions are durable commits
 * (they are answered "done").
 *
 * Views (JSON, statistics, metrics) are in incident_view.c.
 *
 * Threads: one mutex guards the configuration, every turn and every action.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident/incident_internal.h"
#include "incident/report.h"

#define EVENT_BATCH 256
#define TURN_MS 200
#define ID_SUFFIX_MAX 1000
/* A page belongs to an incident's alert group episode when it opened at most this long before. */
#define PAGE_SLACK_MS (5 * 60000)

static const char *const state_names[DW_INCIDENT_STATE_COUNT] = {
    "triggered",  "acknowledged", "investigating", "identified",
    "monitoring", "resolved",     "postmortem",    "closed"};

#define B(s) (1u << DW_INCIDENT_##s)
static const unsigned allowed[DW_INCIDENT_STATE_COUNT] = {
    [DW_INCIDENT_TRIGGERED] =
        B(ACKNOWLEDGED) | B(INVESTIGATING) | B(IDENTIFIED) | B(MONITORING) | B(RESOLVED),
    [DW_INCIDENT_ACKNOWLEDGED] = B(INVESTIGATING) | B(IDENTIFIED) | B(MONITORING) | B(RESOLVED),
    [DW_INCIDENT_INVESTIGATING] = B(IDENTIFIED) | B(MONITORING) | B(RESOLVED),
    [DW_INCIDENT_IDENTIFIED] = B(INVESTIGATING) | B(MONITORING) | B(RESOLVED),
    [DW_INCIDENT_MONITORING] = B(INVESTIGATING) | B(IDENTIFIED) | B(RESOLVED),
    [DW_INCIDENT_RESOLVED] = B(INVESTIGATING) | B(POSTMORTEM) | B(CLOSED),
    [DW_INCIDENT_POSTMORTEM] = B(CLOSED),
    [DW_INCIDENT_CLOSED] = 0,
};
#undef B

const char *dw_incident_state_name(enum dw_incident_state s)
{
    return (unsigned)s < DW_INCIDENT_STATE_COUNT ? state_names[s] : "unknown";
}

int dw_incident_state_parse(const char *name)
{
    for (int i = 0; name && i < DW_INCIDENT_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

bool dw_incident_transition_allowed(enum dw_incident_state from, enum dw_incident_state to)
{
    return (unsigned)from < DW_INCIDENT_STATE_COUNT && (unsigned)to < DW_INCIDENT_STATE_COUNT &&
           (allowed[from] & (1u << to));
}

static const struct dw_store_migration migrations[] = {
    {1, "CREATE TABLE incidents ("
        " id TEXT PRIMARY KEY,"
        " title TEXT NOT NULL,"
        " severity INTEGER NOT NULL,"
        " priority TEXT,"
        " state TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " acknowledged_at BIGINT, investigating_at BIGINT, identified_at BIGINT,"
        " monitoring_at BIGINT, resolved_at BIGINT, postmortem_at BIGINT, closed_at BIGINT,"
        " commander TEXT, communications_lead TEXT, scribe TEXT,"
        " affected_systems TEXT NOT NULL DEFAULT '[]',"
        " impact TEXT, users_affected TEXT, data_loss INTEGER NOT NULL DEFAULT 0,"
        " root_cause TEXT, contributing_factors TEXT NOT NULL DEFAULT '[]',"
        " detection_method TEXT, detection_alert TEXT,"
        " resolution TEXT, prevention TEXT, lessons_learned TEXT,"
        " merged_into TEXT,"
        " ack_breached_at BIGINT, resolution_breached_at BIGINT,"
        " created_by TEXT,"
        " updated_at BIGINT NOT NULL);"
        "CREATE INDEX incidents_by_created ON incidents (created_at);"
        "CREATE INDEX incidents_by_state ON incidents (state);"
        "CREATE TABLE incident_groups ("
        " group_key TEXT PRIMARY KEY,"
        " incident_id TEXT NOT NULL,"
        " firing INTEGER NOT NULL,"
        " attached_at BIGINT NOT NULL);"
        "CREATE INDEX incident_groups_by_incident ON incident_groups (incident_id);"
        "CREATE TABLE incident_timeline ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " incident_id TEXT NOT NULL,"
        " at BIGINT NOT NULL,"
        " kind TEXT NOT NULL,"
        " who TEXT,"
        " text TEXT NOT NULL);"
        "CREATE INDEX incident_timeline_by_incident ON incident_timeline (incident_id, at, id);"
        "CREATE TABLE incident_actions ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " incident_id TEXT NOT NULL,"
        " task TEXT NOT NULL,"
        " owner TEXT,"
        " due BIGINT,"
        " done INTEGER NOT NULL DEFAULT 0,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"
        "CREATE INDEX incident_actions_by_incident ON incident_actions (incident_id, id);"},
    /* Communications (comms.c): the first status-page update and its breach,
     * reminders sent once per (incident, kind, deadline), the timeline
     * cursor of the posting to the incidents channel and per-incident
     * progress (page entries posted, stakeholder updates sent). The cursor
     * starts at the newest entry so an upgrade posts nothing old. */
    {2, "ALTER TABLE incidents ADD COLUMN status_page_at BIGINT;"
        "ALTER TABLE incidents ADD COLUMN status_page_breached_at BIGINT;"
        "CREATE TABLE incident_reminders ("
        " incident_id TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " due BIGINT NOT NULL,"
        " at BIGINT NOT NULL,"
        " PRIMARY KEY (incident_id, kind, due));"
        "CREATE TABLE incident_comms ("
        " incident_id TEXT PRIMARY KEY,"
        " pages_posted_until BIGINT NOT NULL DEFAULT 0,"
        " updates_sent INTEGER NOT NULL DEFAULT 0,"
        " final_sent INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE incident_cursor (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
        "INSERT INTO incident_cursor (name, value)"
        " SELECT 'timeline', COALESCE(MAX(id), 0) FROM incident_timeline;"},
};

/* ---- configuration: incidents.rules ---- */

static const char *const priority_values[] = {"P0", "P1", "P2", NULL};

static const struct dw_schema_field rule_fields[] = {
    {.name = "priority",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     .values = priority_values,
     DW_SCHEMA_AT(struct y_rule, priority)},
    {.name = "severity",
     .type = DW_SCHEMA_INT,
     .flags = DW_SCHEMA_REQUIRED,
     .min = 1,
     .max = 4,
     DW_SCHEMA_AT(struct y_rule, severity)},
    {.name = "services",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_rule, services, nservices)},
};
static const struct dw_schema rule_schema = {rule_fields, DW_ARRAY_LEN(rule_fields), false, NULL};

/* A destination: slack:#chan | slack:<purpose> | email:addr | sms:+number |
 * person:<id> | team:<id> | contacts:<technical|business>. */
static bool decode_dest(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    const char *colon = strchr(value, ':');
    size_t kl = colon ? (size_t)(colon - value) : 0;
    const char *v = colon ? colon + 1 : "";
    static const char *const kinds[] = {"slack", "email", "sms", "person", "team", "contacts"};
    bool known = false;
    for (size_t i = 0; i < DW_ARRAY_LEN(kinds); i++)
        known |= kl == strlen(kinds[i]) && strncmp(value, kinds[i], kl) == 0;
    if (!colon || !known || !*v) {
        dw_schema_error(ctx,
                        "\"%s\" is not a destination; write slack:#channel, "
                        "slack:<purpose>, email:<address>, sms:<+number>, person:<id>, "
                        "team:<id> or contacts:<technical|business>",
                        value);
        return false;
    }
    if (strncmp(value, "person:", 7) == 0)
        dw_schema_ref(ctx, "person", v);
    else if (strncmp(value, "team:", 5) == 0)
        dw_schema_ref(ctx, "team", v);
    else if (strncmp(value, "slack:", 6) == 0 && *v != '#' && *v != '@')
        dw_schema_ref(ctx, "channel", v);
    else if (strncmp(value, "contacts:", 9) == 0 && strcmp(v, "technical") != 0 &&
             strcmp(v, "business") != 0) {
        dw_schema_error(ctx, "contacts:%s: the contact kinds are technical and business", v);
        return false;
    } else if (strncmp(value, "email:", 6) == 0 && !strchr(v, '@')) {
        dw_schema_error(ctx, "\"%s\" is not an e-mail address", v);
        return false;
    }
    *(char **)dst = dw_strdup(value);
    return true;
}

/* The decoder, release and hint of a destination field (decode_dest). */
#define DEST_FIELD(example)                                                                        \
    .decode = decode_dest, .release = dw_schema_release_string,                                    \
    .expect = "a destination like " example

static const struct dw_schema_field stakeholder_fields[] = {
    {.name = "every",
     .type = DW_SCHEMA_DURATION,
     .flags = DW_SCHEMA_NONE_ZERO,
     .def = "1h",
     .min = 60000,
     .max = 86400000,
     DW_SCHEMA_AT(struct y_stakeholders, every_ms)},
    {.name = "max_severity",
     .type = DW_SCHEMA_INT,
     .def = "2",
     .min = 1,
     .max = 4,
     DW_SCHEMA_AT(struct y_stakeholders, max_severity)},
    {.name = "to",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_CUSTOM,
     DEST_FIELD("email:ceo@example.com or contacts:business"),
     DW_SCHEMA_LIST_AT(struct y_stakeholders, to, nto)},
};
static const struct dw_schema stakeholder_schema = {stakeholder_fields,
                                                    DW_ARRAY_LEN(stakeholder_fields), false, NULL};

static void check_daily(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_daily *d = obj;
    int h, m;
    char extra;
    if (d->at &&
        (sscanf(d->at, "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59))
        dw_schema_error_at(ctx, &d->at, "\"%s\" is not a time of day; write HH:MM, e.g. 09:00",
                           d->at);
    char *err = NULL;
    if (d->timezone && !dw_tz_get(d->timezone, &err))
        dw_schema_error_at(ctx, &d->timezone, "%s", err ? err : "unknown time zone");
    free(err);
}

static const struct dw_schema_field daily_fields[] = {
    {.name = "at", .type = DW_SCHEMA_STRING, .def = "09:00", DW_SCHEMA_AT(struct y_daily, at)},
    {.name = "timezone", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_daily, timezone)},
    {.name = "to",
     .type = DW_SCHEMA_CUSTOM,
     DEST_FIELD("slack:engineering"),
     DW_SCHEMA_AT(struct y_daily, to)},
    {.name = "enabled",
     .type = DW_SCHEMA_BOOL,
     .def = "true",
     DW_SCHEMA_AT(struct y_daily, enabled)},
};
static const struct dw_schema daily_schema = {daily_fields, DW_ARRAY_LEN(daily_fields), false,
                                              check_daily};

static const struct dw_schema_field comms_fields[] = {
    {.name = "timeline",
     .type = DW_SCHEMA_CUSTOM,
     DEST_FIELD("slack:incidents"),
     DW_SCHEMA_AT(struct y_comms, timeline)},
    {.name = "timeline_enabled",
     .type = DW_SCHEMA_BOOL,
     .def = "true",
     DW_SCHEMA_AT(struct y_comms, timeline_enabled)},
    {.name = "stakeholders",
     .type = DW_SCHEMA_OBJECT,
     .sub = &stakeholder_schema,
     DW_SCHEMA_AT(struct y_comms, stakeholders)},
    {.name = "daily_summary",
     .type = DW_SCHEMA_OBJECT,
     .sub = &daily_schema,
     DW_SCHEMA_AT(struct y_comms, daily)},
};
static const struct dw_schema comms_schema = {comms_fields, DW_ARRAY_LEN(comms_fields), false,
                                              NULL};

static const struct dw_schema_field reminder_fields[] = {
    {.name = "at_percent",
     .type = DW_SCHEMA_INT,
     .def = "80",
     .min = 10,
     .max = 99,
     DW_SCHEMA_AT(struct y_reminders, at_percent)},
    {.name = "action_items",
     .type = DW_SCHEMA_BOOL,
     .def = "true",
     DW_SCHEMA_AT(struct y_reminders, action_items)},
};
static const struct dw_schema reminder_schema = {reminder_fields, DW_ARRAY_LEN(reminder_fields),
                                                 false, NULL};

/* A template given inline or in a file: the file is read now and both are
 * compiled, so a broken template is refused at load time. */
static void check_templates(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_templates *t = obj;
    char **texts[] = {&t->report, &t->notice};
    char **files[] = {&t->report_file, &t->notice_file};
    static const char *const names[] = {"report", "notice"};
    for (int i = 0; i < 2; i++) {
        if (*texts[i] && *files[i]) {
            dw_schema_error_at(ctx, files[i], "give %s or %s_file, not both", names[i], names[i]);
            continue;
        }
        if (*files[i]) {
            struct dw_diags d;
            dw_diags_init(&d);
            size_t len = 0;
            char *text = dw_read_file(*files[i], 1u << 20, &len, &d);
            if (!text) {
                dw_schema_error_at(ctx, files[i], "cannot read the %s template %s: %s", names[i],
                                   *files[i], d.n ? d.items[0].msg : "unknown error");
                dw_diags_release(&d);
                continue;
            }
            dw_diags_release(&d);
            *texts[i] = text;
        }
        char *err = NULL;
        if (*texts[i] && dw_incident_template_check(names[i], *texts[i], &err) != 0) {
            dw_schema_error_at(ctx, *files[i] ? (const void *)files[i] : (const void *)texts[i],
                               "%s", err ? err : "the template does not compile");
        }
        free(err);
    }
}

static const struct dw_schema_field template_fields[] = {
    {.name = "report", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_templates, report)},
    {.name = "notice", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_templates, notice)},
    {.name = "report_file",
     .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_templates, report_file)},
    {.name = "notice_file",
     .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_templates, notice_file)},
};
static const struct dw_schema template_schema = {template_fields, DW_ARRAY_LEN(template_fields),
                                                 false, check_templates};

static const struct dw_schema_field slack_fields[] = {
    {.name = "signing_secret",
     .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_slack_cmd, signing_secret)},
    {.name = "signing_secret_file",
     .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_slack_cmd, signing_secret_file)},
    {.name = "default_severity",
     .type = DW_SCHEMA_INT,
     .def = "2",
     .min = 1,
     .max = 4,
     DW_SCHEMA_AT(struct y_slack_cmd, default_severity)},
};
static const struct dw_schema slack_schema = {slack_fields, DW_ARRAY_LEN(slack_fields), false,
                                              NULL};

static const struct dw_schema_field incidents_fields[] = {
    {.name = "rules",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &rule_schema,
     DW_SCHEMA_LIST_AT(struct y_incidents, rules, nrules)},
    {.name = "timeline", .type = DW_SCHEMA_YAML, DW_SCHEMA_AT(struct y_incidents, timeline)},
    {.name = "communications",
     .type = DW_SCHEMA_OBJECT,
     .sub = &comms_schema,
     DW_SCHEMA_AT(struct y_incidents, comms)},
    {.name = "reminders",
     .type = DW_SCHEMA_OBJECT,
     .sub = &reminder_schema,
     DW_SCHEMA_AT(struct y_incidents, reminders)},
    {.name = "templates",
     .type = DW_SCHEMA_OBJECT,
     .sub = &template_schema,
     DW_SCHEMA_AT(struct y_incidents, templates)},
    {.name = "slack",
     .type = DW_SCHEMA_OBJECT,
     .sub = &slack_schema,
     DW_SCHEMA_AT(struct y_incidents, slack)},
};
/* Closed: a misspelt key is reported ("did you mean"). */
static const struct dw_schema incidents_schema = {incidents_fields, DW_ARRAY_LEN(incidents_fields),
                                                  false, NULL};

static void conf_free(struct incident_conf **c)
{
    if (!*c)
        return;
    dw_schema_free(&incidents_schema, &(*c)->y);
    free(*c);
    *c = NULL;
}

static void note_rules(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_incidents *y = obj;
    y->rules_seen = dw_schema_seen(ctx, &y->rules) || y->nrules > 0;
    y->comms.stakeholders_seen = dw_schema_seen(ctx, &y->comms.stakeholders.to);
    y->comms.timeline_seen = dw_schema_seen(ctx, &y->comms.timeline);
    y->comms.daily_to_seen = dw_schema_seen(ctx, &y->comms.daily.to);
}

static struct incident_conf *conf_decode(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct incident_conf *c = dw_calloc(1, sizeof *c);
    size_t errors =
        dw_config_decode_section(cfg, "incidents", &incidents_schema, &c->y, note_rules, diags);
    if (errors)
        conf_free(&c);
    return c;
}

size_t dw_incidents_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags);
    struct incident_conf *c = conf_decode(cfg, diags);
    conf_free(&c);
    return dw_diags_errors(diags) - before;
}

/* ---- small helpers ---- */

struct dw_value inc_text_or_null(const char *s)
{
    return s ? DW_VTEXT(s) : DW_VNULL;
}

char *inc_col(const struct dw_value *v)
{
    return v->type == DW_VAL_NULL ? NULL : dw_strndup(v->s, v->n);
}

int64_t inc_count(struct dw_incidents *inc, const char *sql, const struct dw_value *p, size_t n)
{
    int64_t v = 0;
    dw_store_int(inc->store, sql, p, n, &v, NULL);
    return v;
}

int64_t inc_col_int(const struct dw_value *v)
{
    return v->type == DW_VAL_NULL ? 0 : v->i;
}

static int exec(struct dw_incidents *inc, const char *sql, const struct dw_value *p, size_t n)
{
    return dw_store_exec(inc->store, sql, p, n, NULL, NULL, NULL);
}

static const char *who_or_system(const char *by)
{
    return by && *by ? by : "system";
}

int inc_timeline(struct dw_incidents *inc, const char *id, int64_t at, const char *kind,
                 const char *who, const char *text)
{
    struct dw_value p[] = {DW_VTEXT(id), DW_VINT(at), DW_VTEXT(kind), DW_VTEXT(who_or_system(who)),
                           DW_VTEXT(text)};
    return exec(inc,
                "INSERT INTO incident_timeline (incident_id, at, kind, who, text)"
                " VALUES ($1, $2, $3, $4, $5)",
                p, DW_ARRAY_LEN(p));
}

/* ---- one incident in memory ---- */

void inc_row_release(struct inc_row *r)
{
    free(r->id);
    free(r->title);
    free(r->priority);
    for (size_t i = 0; i < DW_ARRAY_LEN(r->text); i++)
        free(r->text[i]);
    *r = (struct inc_row){0};
}

static int row_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct inc_row *r = ctx;
    r->id = inc_col(&c[0]);
    r->title = inc_col(&c[1]);
    r->severity = (int)c[2].i;
    r->priority = inc_col(&c[3]);
    r->state = dw_incident_state_parse(c[4].s);
    r->created_at = c[5].i;
    for (int s = 1; s < DW_INCIDENT_STATE_COUNT; s++)
        r->at[s] = inc_col_int(&c[5 + s]);
    r->at[0] = r->created_at;
    for (size_t i = 0; i < DW_ARRAY_LEN(r->text); i++)
        r->text[i] = inc_col(&c[13 + i]);
    r->data_loss = inc_col_int(&c[13 + INC_T_COUNT]) != 0;
    r->ack_breach = inc_col_int(&c[14 + INC_T_COUNT]);
    r->res_breach = inc_col_int(&c[15 + INC_T_COUNT]);
    r->status_page_at = inc_col_int(&c[16 + INC_T_COUNT]);
    r->status_page_breach = inc_col_int(&c[17 + INC_T_COUNT]);
    r->found = true;
    return 1;
}

bool inc_row_get(struct dw_incidents *inc, const char *id, struct inc_row *out)
{
    *out = (struct inc_row){0};
    struct dw_value p[] = {DW_VTEXT(id)};
    dw_store_exec(inc->store, "SELECT " INC_ROW_COLS " FROM incidents WHERE id = $1", p, 1, row_cb,
                  out, NULL);
    return out->found;
}

/* Writes the state and every state timestamp of r. */
static int row_save_state(struct dw_incidents *inc, const struct inc_row *r, int64_t now)
{
    struct dw_value p[DW_INCIDENT_STATE_COUNT + 2];
    p[0] = DW_VTEXT(r->id);
    p[1] = DW_VTEXT(state_names[r->state]);
    for (int s = 1; s < DW_INCIDENT_STATE_COUNT; s++)
        p[1 + s] = r->at[s] ? DW_VINT(r->at[s]) : DW_VNULL;
    p[DW_INCIDENT_STATE_COUNT + 1] = DW_VINT(now);
    return exec(inc,
                "UPDATE incidents SET state = $2, acknowledged_at = $3, investigating_at = $4,"
                " identified_at = $5, monitoring_at = $6, resolved_at = $7, postmortem_at = $8,"
                " closed_at = $9, updated_at = $10 WHERE id = $1",
                p, DW_ARRAY_LEN(p));
}

/*
 * Moves r to `to` at `at` (already checked) and writes it with a timeline
 * entry. The first time a state is entered sets its timestamp; resolved is
 * set on every entry and cleared when the incident reopens.
 */
static int move(struct dw_incidents *inc, struct inc_row *r, enum dw_incident_state to, int64_t at,
                const char *who, const char *why)
{
    enum dw_incident_state from = r->state;
    if (to > DW_INCIDENT_TRIGGERED && !r->at[DW_INCIDENT_ACKNOWLEDGED])
        r->at[DW_INCIDENT_ACKNOWLEDGED] = at;
    if (!r->at[to] || to == DW_INCIDENT_RESOLVED)
        r->at[to] = at;
    if (from >= DW_INCIDENT_RESOLVED && to < DW_INCIDENT_RESOLVED)
        r->at[DW_INCIDENT_RESOLVED] = 0;
    r->state = to;
    char *text = dw_asprintf("%s -> %s%s%s", state_names[from], state_names[to], why ? ": " : "",
                             why ? why : "");
    int rc = row_save_state(inc, r, at);
    if (rc == 0)
        rc = inc_timeline(inc, r->id, at, "state", who, text);
    free(text);
    return rc;
}

static char *next_states_text(enum dw_incident_state from)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (int s = 0; s < DW_INCIDENT_STATE_COUNT; s++)
        if (allowed[from] & (1u << s))
            dw_buf_printf(&b, "%s%s", b.len ? ", " : "", state_names[s]);
    if (!b.len)
        dw_buf_puts(&b, "nothing (it is closed)");
    return dw_buf_steal(&b);
}

/* ---- ids ---- */

static bool id_taken(struct dw_incidents *inc, const char *id)
{
    struct dw_value p[] = {DW_VTEXT(id)};
    return inc_count(inc, "SELECT 1 FROM incidents WHERE id = $1", p, 1) != 0;
}

/* INC-YYYYMMDDHHMMSS (UTC) of at, with -2, -3 ... when taken. false after 1000 tries. */
static bool new_id(struct dw_incidents *inc, int64_t at, char out[DW_INCIDENT_ID_LEN])
{
    int64_t secs = at / 1000, y;
    int mo, d;
    dw_civil_from_days(secs / 86400 - (secs % 86400 < 0), &y, &mo, &d);
    int64_t sod = ((secs % 86400) + 86400) % 86400;
    char base[24];
    snprintf(base, sizeof base, "INC-%04d%02d%02d%02d%02d%02d", (int)y, mo, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
    for (int i = 1; i <= ID_SUFFIX_MAX; i++) {
        if (i == 1)
            snprintf(out, DW_INCIDENT_ID_LEN, "%s", base);
        else
            snprintf(out, DW_INCIDENT_ID_LEN, "%.19s-%d", base, i);
        if (!id_taken(inc, out))
            return true;
    }
    return false;
}

/* ---- creating ---- */

struct create_args {
    const char *title;
    int severity;
    const char *priority;
    const char *commander, *impact;
    const char *affected_json; /* a JSON array */
    const char *det_method, *det_alert;
    const char *by;
    int64_t at;
};

static const char *default_priority(int severity)
{
    return severity == 1 ? "P0" : severity == 2 ? "P1" : "P2";
}

static int insert_incident(struct dw_incidents *inc, const struct create_args *a,
                           char id[DW_INCIDENT_ID_LEN])
{
    if (!new_id(inc, a->at, id))
        return -1;
    struct dw_value p[] = {DW_VTEXT(id),
                           DW_VTEXT(a->title),
                           DW_VINT(a->severity),
                           DW_VTEXT(a->priority ? a->priority : default_priority(a->severity)),
                           DW_VINT(a->at),
                           inc_text_or_null(a->commander),
                           DW_VTEXT(a->affected_json ? a->affected_json : "[]"),
                           inc_text_or_null(a->impact),
                           inc_text_or_null(a->det_method),
                           inc_text_or_null(a->det_alert),
                           DW_VTEXT(who_or_system(a->by))};
    int rc = exec(inc,
                  "INSERT INTO incidents (id, title, severity, priority, state, created_at,"
                  " commander, affected_systems, impact, detection_method, detection_alert,"
                  " created_by, updated_at)"
                  " VALUES ($1, $2, $3, $4, 'triggered', $5, $6, $7, $8, $9, $10, $11, $5)",
                  p, DW_ARRAY_LEN(p));
    if (rc != 0)
        return rc;
    char *text = dw_asprintf("opened: SEV%d %s (%s)", a->severity, a->title,
                             a->det_alert ? "from an alert" : "by hand");
    rc = inc_timeline(inc, id, a->at, "state", a->by, text);
    free(text);
    return rc;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static char *cut_utf8(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return dw_strdup(s);
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return dw_strndup(s, max);
}

static int check_title(const char *title, char **err)
{
    if (!title || !*title) {
        dw_set_err(err, "an incident needs a title: say in a few words what is wrong");
        return DW_INCIDENT_EINVAL;
    }
    if (strlen(title) > DW_INCIDENT_TITLE_MAX) {
        dw_set_err(err, "the title has %zu bytes; shorten it to at most %d", strlen(title),
                   DW_INCIDENT_TITLE_MAX);
        return DW_INCIDENT_EINVAL;
    }
    return 0;
}

static int check_severity(int sev, char **err)
{
    if (sev < 1 || sev > 4) {
        dw_set_err(err, "severity %d is not one of 1 (SEV1, the worst) to 4", sev);
        return DW_INCIDENT_EINVAL;
    }
    return 0;
}

int inc_check_person(struct dw_incidents *inc, const char *role, const char *person, char **err)
{
    if (!person || dw_config_find_person(inc->cfg, person))
        return 0;
    size_t n = 0;
    const struct dw_plan_person *ps = dw_config_people(inc->cfg, &n);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (size_t i = 0; i < n && i < 20; i++)
        dw_buf_printf(&b, "%s%s", i ? ", " : "", ps[i].id);
    dw_set_err(err, "%s: no person \"%s\" in the plan's people; use one of: %s", role, person,
               b.len ? b.data : "(none configured)");
    dw_buf_release(&b);
    return DW_INCIDENT_EINVAL;
}

static char *string_list_json(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

struct create_ctx {
    struct dw_incidents *inc;
    const struct create_args *a;
    char *id;
};

static int create_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct create_ctx *cc = ctx;
    return insert_incident(cc->inc, cc->a, cc->id);
}

int dw_incident_create(struct dw_incidents *inc, const struct dw_incident_new *in, const char *by,
                       int64_t now, char id_out[DW_INCIDENT_ID_LEN], char **err)
{
    int rc = check_title(in->title, err);
    if (rc == 0)
        rc = check_severity(in->severity, err);
    if (rc == 0 && in->priority && dw_priority_parse(in->priority) < 0) {
        dw_set_err(err, "priority \"%s\" is not P0, P1 or P2", in->priority);
        rc = DW_INCIDENT_EINVAL;
    }
    if (rc == 0 && in->impact && strlen(in->impact) > DW_INCIDENT_TEXT_MAX) {
        dw_set_err(err, "impact is over %d bytes; shorten it", DW_INCIDENT_TEXT_MAX);
        rc = DW_INCIDENT_EINVAL;
    }
    if (rc == 0 && in->naffected_systems > DW_INCIDENT_LIST_ITEMS_MAX) {
        dw_set_err(err, "at most %d affected systems", DW_INCIDENT_LIST_ITEMS_MAX);
        rc = DW_INCIDENT_EINVAL;
    }
    for (size_t i = 0; rc == 0 && i < in->naffected_systems; i++)
        if (!in->affected_systems[i] || strlen(in->affected_systems[i]) > DW_INCIDENT_ITEM_MAX) {
            dw_set_err(err, "affected system %zu is empty or over %d bytes", i + 1,
                       DW_INCIDENT_ITEM_MAX);
            rc = DW_INCIDENT_EINVAL;
        }
    pthread_mutex_lock(&inc->mu);
    if (rc == 0)
        rc = inc_check_person(inc, "commander", in->commander, err);
    if (rc == 0) {
        char *affected = string_list_json(in->affected_systems, in->naffected_systems);
        struct create_args a = {.title = in->title,
                                .severity = in->severity,
                                .priority = in->priority,
                                .commander = in->commander,
                                .impact = in->impact,
                                .affected_json = affected,
                                .det_method = "manual",
                                .by = by,
                                .at = now};
        struct create_ctx cc = {inc, &a, id_out};
        char *serr = NULL;
        rc = dw_store_tx_durable(inc->store, create_tx, &cc, &serr);
        if (rc == 0)
            atomic_fetch_add(&inc->changes, 1);
        if (rc != 0) {
            dw_set_err(err, "could not record the incident (%s); try again",
                       serr ? serr : "too many incidents this second");
            rc = -1;
        }
        free(serr);
        free(affected);
    }
    pthread_mutex_unlock(&inc->mu);
    return rc;
}

/* ---- people's actions: one durable transaction each ---- */

struct act {
    struct dw_incidents *inc;
    const char *id;
    const char *by;
    int64_t now;
    int code;  /* EINVAL / ENOTFOUND decided inside */
    char *msg; /* its message */
    const void *arg;
};

static int act_fail(struct act *a, int code, char *msg)
{
    a->code = code;
    free(a->msg);
    a->msg = msg;
    return code;
}

static int run_act(struct dw_incidents *inc, int (*fn)(struct dw_store *, void *), struct act *a,
                   char **err)
{
    char *serr = NULL;
    pthread_mutex_lock(&inc->mu);
    int rc = dw_store_tx_durable(inc->store, fn, a, &serr);
    pthread_mutex_unlock(&inc->mu);
    if (rc == 0)
        atomic_fetch_add(&inc->changes, 1);
    if (rc != 0 && a->code) {
        dw_set_err(err, "%s", a->msg);
        rc = a->code;
    } else if (rc != 0) {
        dw_set_err(err, "the store failed (%s); nothing changed, try again",
                   serr ? serr : "unknown error");
        rc = -1;
    }
    free(serr);
    free(a->msg);
    return rc;
}

/* Loads a->id into r, or fails the action with ENOTFOUND. */
static int load_for_act(struct act *a, struct inc_row *r)
{
    if (!a->id || !inc_row_get(a->inc, a->id, r))
        return act_fail(a, DW_INCIDENT_ENOTFOUND,
                        dw_asprintf("no incident %s; `dojowatch incident list` shows them",
                                    a->id ? a->id : "(none given)"));
    return 0;
}

static int transition_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct act *a = ctx;
    const char *want = a->arg;
    struct inc_row r;
    int rc = load_for_act(a, &r);
    if (rc != 0)
        return rc;
    int to = dw_incident_state_parse(want);
    char *next = next_states_text(r.state);
    if (to < 0)
        rc = act_fail(a, DW_INCIDENT_EINVAL,
                      dw_asprintf("unknown state \"%s\"; from %s you can go to: %s", want,
                                  state_names[r.state], next));
    else if (!dw_incident_transition_allowed(r.state, to))
        rc = act_fail(a, DW_INCIDENT_EINVAL,
                      dw_asprintf("%s is %s and cannot go to %s; from %s you can go to: %s", r.id,
                                  state_names[r.state], want, state_names[r.state], next));
    else
        rc = move(a->inc, &r, to, a->now, a->by,
                  r.state == DW_INCIDENT_RESOLVED && to == DW_INCIDENT_INVESTIGATING ? "reopened"
                                                                                     : NULL);
    free(next);
    inc_row_release(&r);
    return rc;
}

int dw_incident_transition(struct dw_incidents *inc, const char *id, const char *state,
                           const char *by, int64_t now, char **err)
{
    struct act a = {.inc = inc, .id = id, .by = by, .now = now, .arg = state ? state : ""};
    return run_act(inc, transition_tx, &a, err);
}

struct entry_arg {
    const char *kind, *text;
};

static int note_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct act *a = ctx;
    const struct entry_arg *e = a->arg;
    struct inc_row r;
    int rc = load_for_act(a, &r);
    if (rc == 0)
        rc = inc_timeline(a->inc, a->id, a->now, e->kind, a->by, e->text);
    if (rc == 0 && strcmp(e->kind, "status_page") == 0 && !r.status_page_at) {
        struct dw_value p[] = {DW_VTEXT(a->id), DW_VINT(a->now)};
        rc = exec(a->inc, "UPDATE incidents SET status_page_at = $2 WHERE id = $1", p, 2);
    }
    inc_row_release(&r);
    return rc;
}

static int add_entry(struct dw_incidents *inc, const char *id, const char *kind, const char *text,
                     const char *by, int64_t now, char **err)
{
    if (!text || !*text) {
        dw_set_err(err, "the %s is empty; write what happened or what you found",
                   strcmp(kind, "note") == 0 ? "note" : "entry");
        return DW_INCIDENT_EINVAL;
    }
    if (strlen(text) > DW_INCIDENT_TEXT_MAX) {
        dw_set_err(err, "the %s has %zu bytes, over the %d allowed; split it into several",
                   strcmp(kind, "note") == 0 ? "note" : "entry", strlen(text),
                   DW_INCIDENT_TEXT_MAX);
        return DW_INCIDENT_EINVAL;
    }
    struct entry_arg e = {kind, text};
    struct act a = {.inc = inc, .id = id, .by = by, .now = now, .arg = &e};
    return run_act(inc, note_tx, &a, err);
}

int dw_incident_note(struct dw_incidents *inc, const char *id, const char *text, const char *by,
                     int64_t now, char **err)
{
    return add_entry(inc, id, "note", text, by, now, err);
}

int dw_incident_record(struct dw_incidents *inc, const char *id, const char *kind, const char *text,
                       const char *by, int64_t now, char **err)
{
    static const char *const kinds[] = {"status_page", "message", "notice"};
    for (size_t i = 0; i < DW_ARRAY_LEN(kinds); i++)
        if (kind && strcmp(kind, kinds[i]) == 0)
            return add_entry(inc, id, kinds[i], text, by, now, err);
    dw_set_err(err, "unknown timeline entry kind \"%s\"; one of status_page, message, notice",
               kind ? kind : "");
    return DW_INCIDENT_EINVAL;
}

/* ---- deleting ---- */

static int delete_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct act *a = ctx;
    struct inc_row r;
    int rc = load_for_act(a, &r);
    inc_row_release(&r);
    static const char *const sql[] = {
        "DELETE FROM incident_timeline WHERE incident_id = $1",
        "DELETE FROM incident_actions WHERE incident_id = $1",
        "DELETE FROM incident_groups WHERE incident_id = $1",
        "DELETE FROM incident_reminders WHERE incident_id = $1",
        "DELETE FROM incident_comms WHERE incident_id = $1",
        "DELETE FROM incidents WHERE id = $1",
    };
    struct dw_value p[] = {DW_VTEXT(a->id)};
    for (size_t i = 0; rc == 0 && i < DW_ARRAY_LEN(sql); i++)
        rc = exec(a->inc, sql[i], p, 1);
    return rc;
}

int dw_incident_delete(struct dw_incidents *inc, const char *id, const char *by, int64_t now,
                       char **err)
{
    struct act a = {.inc = inc, .id = id, .by = by, .now = now};
    int rc = run_act(inc, delete_tx, &a, err);
    if (rc == 0)
        dw_log_kv(DW_LOG_WARN, "incident", "incident deleted", "id", id, "by", who_or_system(by),
                  NULL);
    return rc;
}

/* ---- field updates ---- */

enum field_kind {
    F_TITLE,
    F_SEVERITY,
    F_PRIORITY,
    F_PERSON,
    F_TEXT,
    F_LIST,
    F_BOOL,
    F_USERS,
    F_DET
};

struct field {
    const char *key;    /* JSON name */
    const char *column; /* NULL for detection (two columns) */
    enum field_kind kind;
};

static const struct field fields[] = {
    {"title", "title", F_TITLE},
    {"severity", "severity", F_SEVERITY},
    {"priority", "priority", F_PRIORITY},
    {"commander", "commander", F_PERSON},
    {"communicationsLead", "communications_lead", F_PERSON},
    {"scribe", "scribe", F_PERSON},
    {"affectedSystems", "affected_systems", F_LIST},
    {"contributingFactors", "contributing_factors", F_LIST},
    {"impact", "impact", F_TEXT},
    {"usersAffected", "users_affected", F_USERS},
    {"dataLoss", "data_loss", F_BOOL},
    {"rootCause", "root_cause", F_TEXT},
    {"resolution", "resolution", F_TEXT},
    {"prevention", "prevention", F_TEXT},
    {"lessonsLearned", "lessons_learned", F_TEXT},
    {"detection", NULL, F_DET},
};

static const struct field *field_find(const char *key)
{
    for (size_t i = 0; i < DW_ARRAY_LEN(fields); i++)
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

static char *fields_text(void)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (size_t i = 0; i < DW_ARRAY_LEN(fields); i++)
        dw_buf_printf(&b, "%s%s", i ? ", " : "", fields[i].key);
    return dw_buf_steal(&b);
}

static bool text_ok(const json_t *v, size_t max, bool nullable)
{
    return (nullable && json_is_null(v)) || (json_is_string(v) && json_string_length(v) <= max &&
                                             strlen(json_string_value(v)) == json_string_length(v));
}

/* Checks one key's value; NULL when fine, else a message (caller frees). */
static char *field_check(struct dw_incidents *inc, const struct field *f, const json_t *v)
{
    char *perr = NULL;
    switch (f->kind) {
    case F_TITLE:
        if (check_title(json_string_value(v), &perr) != 0)
            return perr;
        return NULL;
    case F_SEVERITY:
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4)
            return dw_strdup("severity: give a number from 1 (SEV1, the worst) to 4");
        return NULL;
    case F_PRIORITY:
        if (!json_is_string(v) || dw_priority_parse(json_string_value(v)) < 0)
            return dw_strdup("priority: give P0, P1 or P2");
        return NULL;
    case F_PERSON:
        if (json_is_null(v))
            return NULL;
        if (!json_is_string(v))
            return dw_asprintf("%s: give a person id from the plan, or null to clear", f->key);
        if (inc_check_person(inc, f->key, json_string_value(v), &perr) != 0)
            return perr;
        return NULL;
    case F_TEXT:
        if (!text_ok(v, DW_INCIDENT_TEXT_MAX, true))
            return dw_asprintf("%s: give text of at most %d bytes (or null)", f->key,
                               DW_INCIDENT_TEXT_MAX);
        return NULL;
    case F_USERS:
        if (!json_is_integer(v) && !text_ok(v, DW_INCIDENT_ITEM_MAX, true))
            return dw_asprintf("usersAffected: give a number or a short text (at most %d bytes)",
                               DW_INCIDENT_ITEM_MAX);
        return NULL;
    case F_BOOL:
        if (!json_is_boolean(v))
            return dw_strdup("dataLoss: give true or false");
        return NULL;
    case F_LIST: {
        if (!json_is_array(v) || json_array_size(v) > DW_INCIDENT_LIST_ITEMS_MAX)
            return dw_asprintf("%s: give a list of at most %d strings", f->key,
                               DW_INCIDENT_LIST_ITEMS_MAX);
        size_t i;
        json_t *e;
        json_array_foreach(
            v, i,
            e) if (!text_ok(e, DW_INCIDENT_ITEM_MAX,
                            false)) return dw_asprintf("%s[%zu]: give a string of at most %d bytes",
                                                       f->key, i, DW_INCIDENT_ITEM_MAX);
        return NULL;
    }
    case F_DET: {
        if (!json_is_object(v))
            return dw_strdup("detection: give {\"method\": ..., \"alert\": ...}");
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            if (strcmp(k, "method") != 0 && strcmp(k, "alert") != 0)
                return dw_asprintf("detection.%s: only method and alert can be set", k);
            if (!text_ok(e, DW_INCIDENT_ITEM_MAX, true))
                return dw_asprintf("detection.%s: give text of at most %d bytes", k,
                                   DW_INCIDENT_ITEM_MAX);
        }
        return NULL;
    }
    }
    return NULL;
}

const char *inc_person_label(struct dw_incidents *inc, const char *id)
{
    const struct dw_plan_person *p = id ? dw_config_find_person(inc->cfg, id) : NULL;
    return p && p->name ? p->name : id ? id : "nobody";
}

/* Writes one checked key and its timeline entry. */
static int field_apply(struct act *a, const struct field *f, const json_t *v)
{
    struct dw_incidents *inc = a->inc;
    if (f->kind == F_DET) {
        const json_t *m = json_object_get(v, "method"), *al = json_object_get(v, "alert");
        struct dw_value p[] = {DW_VTEXT(a->id), inc_text_or_null(json_string_value(m)),
                               inc_text_or_null(json_string_value(al)), DW_VINT(m != NULL),
                               DW_VINT(al != NULL)};
        int rc = exec(inc,
                      "UPDATE incidents SET"
                      " detection_method = CASE WHEN $4 = 1 THEN $2 ELSE detection_method END,"
                      " detection_alert = CASE WHEN $5 = 1 THEN $3 ELSE detection_alert END"
                      " WHERE id = $1",
                      p, DW_ARRAY_LEN(p));
        return rc ? rc : inc_timeline(inc, a->id, a->now, "field", a->by, "detection updated");
    }
    struct dw_value val;
    char *owned = NULL, *text = NULL;
    const char *kind = "field";
    switch (f->kind) {
    case F_SEVERITY:
        val = DW_VINT(json_integer_value(v));
        text = dw_asprintf("severity set to SEV%d", (int)json_integer_value(v));
        break;
    case F_BOOL:
        val = DW_VINT(json_is_true(v));
        text = dw_asprintf("dataLoss set to %s", json_is_true(v) ? "yes" : "no");
        break;
    case F_LIST:
        owned = json_dumps(v, JSON_COMPACT);
        val = DW_VTEXT(owned);
        text = dw_asprintf("%s updated", f->key);
        break;
    case F_USERS:
        if (json_is_integer(v)) {
            owned = dw_asprintf("%lld", (long long)json_integer_value(v));
            val = DW_VTEXT(owned);
        } else {
            val = inc_text_or_null(json_string_value(v));
        }
        text = dw_asprintf("usersAffected set to %s", owned                  ? owned
                                                      : json_string_value(v) ? json_string_value(v)
                                                                             : "nothing");
        break;
    case F_PERSON:
        val = inc_text_or_null(json_string_value(v));
        kind = "role";
        text = dw_asprintf("%s: %s", f->key, inc_person_label(inc, json_string_value(v)));
        break;
    case F_TITLE:
    case F_PRIORITY:
        val = DW_VTEXT(json_string_value(v));
        text = dw_asprintf("%s set to %s", f->key, json_string_value(v));
        break;
    default:
        val = inc_text_or_null(json_string_value(v));
        text = dw_asprintf("%s %s", f->key, json_is_null(v) ? "cleared" : "updated");
        break;
    }
    char *sql =
        dw_asprintf("UPDATE incidents SET %s = $2, updated_at = $3 WHERE id = $1", f->column);
    struct dw_value p[] = {DW_VTEXT(a->id), val, DW_VINT(a->now)};
    int rc = exec(inc, sql, p, DW_ARRAY_LEN(p));
    if (rc == 0)
        rc = inc_timeline(inc, a->id, a->now, kind, a->by, text);
    free(sql);
    free(owned);
    free(text);
    return rc;
}

static int update_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct act *a = ctx;
    const json_t *changes = a->arg;
    struct inc_row r;
    int rc = load_for_act(a, &r);
    inc_row_release(&r);
    if (rc != 0)
        return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)changes, k, v)
    {
        const struct field *f = field_find(k);
        char *msg = NULL;
        if (!f) {
            char *all = fields_text();
            msg = dw_asprintf("unknown field \"%s\"; fields you can set: %s", k, all);
            free(all);
        } else {
            msg = field_check(a->inc, f, v);
        }
        if (msg)
            return act_fail(a, DW_INCIDENT_EINVAL, msg);
    }
    json_object_foreach((json_t *)changes, k, v)
    {
        rc = field_apply(a, field_find(k), v);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int dw_incident_update(struct dw_incidents *inc, const char *id, const json_t *changes,
                       const char *by, int64_t now, char **err)
{
    if (!json_is_object(changes) || json_object_size(changes) == 0) {
        dw_set_err(err,
                   "give the fields to change as a JSON object, e.g. {\"rootCause\": \"...\"}");
        return DW_INCIDENT_EINVAL;
    }
    struct act a = {.inc = inc, .id = id, .by = by, .now = now, .arg = changes};
    return run_act(inc, update_tx, &a, err);
}

/* ---- action items ---- */

static int owner_check(struct dw_incidents *inc, const char *owner, char **err)
{
    if (!owner || !*owner || dw_config_find_team(inc->cfg, owner))
        return 0;
    return inc_check_person(inc, "owner (a person or team id)", owner, err);
}

struct action_args {
    const char *task, *owner;
    int64_t due;
    int64_t *id_out;
    int64_t action_id;
    const struct dw_incident_action_change *ch;
};

static int action_add_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct act *a = ctx;
    const struct action_args *aa = a->arg;
    struct inc_row r;
    int rc = load_for_act(a, &r);
    inc_row_release(&r);
    if (rc != 0)
        return rc;
    struct dw_value p[] = {DW_VTEXT(a->id), DW_VTEXT(aa->task), inc_text_or_null(aa->owner),
                           aa->due > 0 ? DW_VINT(aa->due) : DW_VNULL, DW_VINT(a->now)};
    if (inc_count(a->inc, "SELECT COUNT(*) FROM incident_actions WHERE incident_id = $1", p, 1) >=
        DW_INCIDENT_ACTIONS_MAX)
        return act_fail(a, DW_INCIDENT_EINVAL,
                        dw_asprintf("%s already has %d action items, the most allowed; mark done "
                                    "ones or merge them",
                                    a->id, DW_INCIDENT_ACTIONS_MAX));
    rc = exec(a->inc,
              "INSERT INTO incident_actions (incident_id, task, owner, due, created_at, updated_at)"
              " VALUES ($1, $2, $3, $4, $5, $5)",
              p, DW_ARRAY_LEN(p));
    int64_t id =
        inc_count(a->inc, "SELECT MAX(id) FROM incident_actions WHERE incident_id = $1", p, 1);
    if (aa->id_out)
        *aa->id_out = id;
    char *text =
        dw_asprintf("action item %lld added: %s%s%s%s", (long long)id, aa->task,
                    aa->owner ? " (owner " : "", aa->owner ? aa->owner : "", aa->owner ? ")" : "");
    if (rc == 0)
        rc = inc_timeline(a->inc, a->id, a->now, "action", a->by, text);
    free(text);
    return rc;
}

static int check_task(const char *task, char **err)
{
    if (!task || !*task || strlen(task) > DW_INCIDENT_ITEM_MAX) {
        dw_set_err(err, "an action item needs a task of 1 to %d bytes", DW_INCIDENT_ITEM_MAX);
        return DW_INCIDENT_EINVAL;
    }
    return 0;
}

int dw_incident_action_add(struct dw_incidents *inc, const char *id, const char *task,
                           const char *owner, int64_t due_ms, const char *by, int64_t now,
                           int64_t *action_id, char **err)
{
    int rc = check_task(task, err);
    if (rc == 0 && due_ms < 0) {
        dw_set_err(err, "the due date is before 1970; give a date, or none");
        rc = DW_INCIDENT_EINVAL;
    }
    if (rc == 0) {
        pthread_mutex_lock(&inc->mu);
        rc = owner_check(inc, owner, err);
        pthread_mutex_unlock(&inc->mu);
    }
    if (rc != 0)
        return rc;
    struct action_args aa = {
        .task = task, .owner = owner && *owner ? owner : NULL, .due = due_ms, .id_out = action_id};
    struct act a = {.inc = inc, .id = id, .by = by, .now = now, .arg = &aa};
    return run_act(inc, action_add_tx, &a, err);
}

static int action_update_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct act *a = ctx;
    const struct action_args *aa = a->arg;
    const struct dw_incident_action_change *ch = aa->ch;
    struct dw_value p[] = {DW_VINT(aa->action_id),
                           DW_VTEXT(a->id),
                           inc_text_or_null(ch->task),
                           inc_text_or_null(ch->owner),
                           DW_VINT(ch->due_ms),
                           DW_VINT(ch->done),
                           DW_VINT(a->now)};
    if (inc_count(a->inc,
                  "SELECT COUNT(*) FROM incident_actions WHERE id = $1 AND incident_id = $2", p,
                  2) == 0)
        return act_fail(a, DW_INCIDENT_ENOTFOUND,
                        dw_asprintf("%s has no action item %lld; the incident's actionItems list "
                                    "them",
                                    a->id, (long long)aa->action_id));
    int rc = exec(a->inc,
                  "UPDATE incident_actions SET"
                  " task = COALESCE($3, task),"
                  " owner = CASE WHEN $4 IS NULL THEN owner WHEN $4 = '' THEN NULL ELSE $4 END,"
                  " due = CASE WHEN $5 < 0 THEN due WHEN $5 = 0 THEN NULL ELSE $5 END,"
                  " done = CASE WHEN $6 < 0 THEN done ELSE $6 END,"
                  " updated_at = $7 WHERE id = $1",
                  p, DW_ARRAY_LEN(p));
    char *text = dw_asprintf("action item %lld %s", (long long)aa->action_id,
                             ch->done == 1   ? "done"
                             : ch->done == 0 ? "reopened"
                                             : "updated");
    if (rc == 0)
        rc = inc_timeline(a->inc, a->id, a->now, "action", a->by, text);
    free(text);
    return rc;
}

int dw_incident_action_update(struct dw_incidents *inc, const char *id, int64_t action_id,
                              const struct dw_incident_action_change *ch, const char *by,
                              int64_t now, char **err)
{
    int rc = ch->task ? check_task(ch->task, err) : 0;
    if (rc == 0 && (ch->done < -1 || ch->done > 1 || ch->due_ms < -1)) {
        dw_set_err(err, "done is -1 (keep), 0 or 1; due is -1 (keep), 0 (none) or a time");
        rc = DW_INCIDENT_EINVAL;
    }
    if (rc == 0) {
        pthread_mutex_lock(&inc->mu);
        rc = owner_check(inc, ch->owner, err);
        pthread_mutex_unlock(&inc->mu);
    }
    if (rc != 0)
        return rc;
    struct action_args aa = {.action_id = action_id, .ch = ch};
    struct act a = {.inc = inc, .id = id, .by = by, .now = now, .arg = &aa};
    return run_act(inc, action_update_tx, &a, err);
}

/* ---- merge ---- */

static int merge_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct act *a = ctx;
    const char *into = a->arg;
    struct inc_row from = {0}, to = {0};
    int rc = load_for_act(a, &from);
    if (rc == 0 && !inc_row_get(a->inc, into, &to))
        rc = act_fail(a, DW_INCIDENT_ENOTFOUND, dw_asprintf("no incident %s to merge into", into));
    if (rc == 0 && strcmp(from.id, to.id) == 0)
        rc = act_fail(a, DW_INCIDENT_EINVAL, dw_strdup("an incident cannot be merged into itself"));
    if (rc == 0 && from.state == DW_INCIDENT_CLOSED)
        rc =
            act_fail(a, DW_INCIDENT_EINVAL,
                     dw_asprintf("%s is closed%s%s; merge an open incident", from.id,
                                 from.text[INC_T_MERGED_INTO] ? " (merged into " : "",
                                 from.text[INC_T_MERGED_INTO] ? from.text[INC_T_MERGED_INTO] : ""));
    if (rc == 0 && to.state == DW_INCIDENT_CLOSED)
        rc =
            act_fail(a, DW_INCIDENT_EINVAL,
                     dw_asprintf("%s is closed; merge into an incident that is not closed", to.id));
    if (rc == 0) {
        struct dw_value p[] = {DW_VTEXT(from.id), DW_VTEXT(to.id)};
        const char *moves[] = {
            "UPDATE incident_groups SET incident_id = $2 WHERE incident_id = $1",
            "UPDATE incident_timeline SET incident_id = $2 WHERE incident_id = $1",
            "UPDATE incident_actions SET incident_id = $2 WHERE incident_id = $1",
            "UPDATE incidents SET merged_into = $2 WHERE id = $1",
        };
        for (size_t i = 0; rc == 0 && i < DW_ARRAY_LEN(moves); i++)
            rc = exec(a->inc, moves[i], p, 2);
    }
    if (rc == 0) {
        char *why = dw_asprintf("merged into %s", to.id);
        from.state = DW_INCIDENT_CLOSED;
        from.at[DW_INCIDENT_CLOSED] = a->now;
        rc = row_save_state(a->inc, &from, a->now);
        if (rc == 0)
            rc = inc_timeline(a->inc, from.id, a->now, "merge", a->by, why);
        free(why);
        char *text = dw_asprintf("%s merged into this incident (its alerts, timeline and action "
                                 "items moved here)",
                                 from.id);
        if (rc == 0)
            rc = inc_timeline(a->inc, to.id, a->now, "merge", a->by, text);
        free(text);
    }
    inc_row_release(&from);
    inc_row_release(&to);
    return rc;
}

int dw_incident_merge(struct dw_incidents *inc, const char *from, const char *into, const char *by,
                      int64_t now, char **err)
{
    if (!into || !*into) {
        dw_set_err(err, "say which incident to merge into");
        return DW_INCIDENT_EINVAL;
    }
    struct act a = {.inc = inc, .id = from, .by = by, .now = now, .arg = into};
    return run_act(inc, merge_tx, &a, err);
}

/* ---- alert events ---- */

static int text_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    *(char **)ctx = inc_col(&c[0]);
    return 1;
}

/* The incident a group belongs to (heap id), or NULL. */
static char *incident_of_group(struct dw_incidents *inc, const char *group_key)
{
    char *id = NULL;
    struct dw_value p[] = {DW_VTEXT(group_key)};
    dw_store_exec(inc->store, "SELECT incident_id FROM incident_groups WHERE group_key = $1", p, 1,
                  text_cb, &id, NULL);
    return id;
}

/* A label of the group: commonLabels first, then the first alert's. */
static const char *payload_label(const json_t *pl, const char *name)
{
    const char *v = json_string_value(json_object_get(json_object_get(pl, "commonLabels"), name));
    if (!v)
        v = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(pl, "alerts"), 0), "labels"), name));
    return v;
}

static const char *payload_annotation(const json_t *pl, const char *name)
{
    const char *v =
        json_string_value(json_object_get(json_object_get(pl, "commonAnnotations"), name));
    if (!v)
        v = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(pl, "alerts"), 0), "annotations"),
            name));
    return v;
}

/* The severity the rules give a group (0: no incident). */
static int rule_severity(const struct incident_conf *c, const char *priority, const char *service)
{
    if (!priority)
        return 0;
    if (!c->y.rules_seen)
        return strcmp(priority, "P0") == 0 ? 1 : strcmp(priority, "P1") == 0 ? 2 : 0;
    for (size_t i = 0; i < c->y.nrules; i++) {
        const struct y_rule *r = &c->y.rules[i];
        if (strcmp(r->priority, priority) != 0)
            continue;
        bool match = r->nservices == 0;
        for (size_t j = 0; !match && service && j < r->nservices; j++)
            match = strcmp(r->services[j], service) == 0;
        if (match)
            return (int)r->severity;
    }
    return 0;
}

static char *alert_text(const char *kind, const json_t *pl)
{
    const char *name = payload_label(pl, "alertname");
    size_t n = json_array_size(json_object_get(pl, "alerts"));
    const char *summary = payload_annotation(pl, "summary");
    return dw_asprintf("%s: %s (%zu alert%s)%s%s", kind, name ? name : "alert group", n,
                       n == 1 ? "" : "s", summary ? " - " : "", summary ? summary : "");
}

static int open_from_event(struct dw_incidents *inc, const struct dw_alert_event *ev,
                           const json_t *pl, int64_t at)
{
    const char *service = payload_label(pl, "service");
    int sev = rule_severity(inc->conf, ev->priority, service);
    if (!sev)
        return 0;
    const char *name = payload_label(pl, "alertname");
    const char *summary = payload_annotation(pl, "summary");
    char *full = dw_asprintf("%s%s%s", name ? name : "Alert group", summary ? ": " : "",
                             summary && (!name || strcmp(summary, name) != 0) ? summary : "");
    if (summary && name && strcmp(summary, name) == 0)
        full[strlen(name)] = '\0';
    char *title = cut_utf8(full, DW_INCIDENT_TITLE_MAX);
    char *affected = service ? string_list_json(&service, 1) : NULL;
    struct create_args a = {.title = title,
                            .severity = sev,
                            .priority = ev->priority,
                            .affected_json = affected,
                            .det_method = "alert",
                            .det_alert = name ? name : ev->group_key,
                            .by = "alert",
                            .at = at};
    char id[DW_INCIDENT_ID_LEN];
    int rc = insert_incident(inc, &a, id);
    if (rc == 0) {
        struct dw_value p[] = {DW_VTEXT(ev->group_key), DW_VTEXT(id), DW_VINT(at)};
        rc = exec(inc,
                  "INSERT INTO incident_groups (group_key, incident_id, firing, attached_at)"
                  " VALUES ($1, $2, 1, $3)"
                  " ON CONFLICT (group_key) DO UPDATE SET incident_id = $2, firing = 1,"
                  " attached_at = $3",
                  p, 3);
    }
    char *text = alert_text("fired", pl);
    if (rc == 0)
        rc = inc_timeline(inc, id, at, "alert", "alert", text);
    if (rc == 0)
        dw_log_kv(DW_LOG_INFO, "incident", "incident opened from an alert group", "id", id, "group",
                  ev->group_key, NULL);
    free(text);
    free(full);
    free(title);
    free(affected);
    return rc;
}

static int set_firing(struct dw_incidents *inc, const char *group_key, bool firing)
{
    struct dw_value p[] = {DW_VTEXT(group_key), DW_VINT(firing)};
    return exec(inc, "UPDATE incident_groups SET firing = $2 WHERE group_key = $1", p, 2);
}

/* When a resolved group's alerts ended (the latest endsAt), not when the flush said so. */
static int64_t ended_at(const json_t *pl, int64_t at)
{
    int64_t last = 0, t;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(pl, "alerts"), i, a)
    {
        const char *s = json_string_value(json_object_get(a, "endsAt"));
        if (s && dw_parse_rfc3339(s, &t) == 0 && t > last && t <= at)
            last = t;
    }
    return last > 0 ? last : at;
}

static int handle_event(struct dw_incidents *inc, const struct dw_alert_event *ev, int64_t now)
{
    if (!ev->group_key || !ev->kind || strcmp(ev->kind, "repeat") == 0)
        return 0;
    int64_t at = ev->at_ms > 0 ? ev->at_ms : now;
    json_t *pl = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
    if (strcmp(ev->kind, "resolved") == 0)
        at = ended_at(pl, at);
    char *id = incident_of_group(inc, ev->group_key);
    struct inc_row r = {0};
    bool live = id && inc_row_get(inc, id, &r) && r.state < DW_INCIDENT_POSTMORTEM;
    bool resolved = strcmp(ev->kind, "resolved") == 0;
    int rc = 0;
    if (live) {
        char *text = alert_text(ev->kind, pl);
        rc = set_firing(inc, ev->group_key, !resolved);
        if (rc == 0)
            rc = inc_timeline(inc, r.id, at, "alert", "alert", text);
        free(text);
        struct dw_value p[] = {DW_VTEXT(r.id)};
        if (rc == 0 && resolved && r.state < DW_INCIDENT_RESOLVED &&
            inc_count(inc,
                      "SELECT COUNT(*) FROM incident_groups WHERE incident_id = $1 AND firing = 1",
                      p, 1) == 0)
            rc = move(inc, &r, DW_INCIDENT_RESOLVED, at, "alert", "every alert resolved");
        else if (rc == 0 && !resolved && r.state == DW_INCIDENT_RESOLVED)
            rc = move(inc, &r, DW_INCIDENT_INVESTIGATING, at, "alert",
                      "reopened: the alert fired again");
    } else if (!resolved && (strcmp(ev->kind, "fired") == 0 || !id)) {
        rc = open_from_event(inc, ev, pl, at);
    }
    inc_row_release(&r);
    free(id);
    json_decref(pl);
    return rc;
}

struct events_ctx {
    struct dw_incidents *inc;
    int64_t now;
    int64_t last;
};

static int events_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct events_ctx *ec = ctx;
    struct dw_alert_event *ev = NULL;
    size_t n = 0;
    char *err = NULL;
    if (dw_alerter_events_read(ec->inc->alerter, ec->inc->consumer, EVENT_BATCH, &ev, &n, &err) !=
        0) {
        dw_log_kv(DW_LOG_ERROR, "incident", "reading alert events failed", "error", err, NULL);
        free(err);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = handle_event(ec->inc, &ev[i], ec->now);
    ec->last = n ? ev[n - 1].id : 0;
    dw_alert_events_free(ev, n);
    return rc;
}

static void read_events(struct dw_incidents *inc, int64_t now)
{
    if (!inc->alerter)
        return;
    struct events_ctx ec = {inc, now, 0};
    char *err = NULL;
    if (dw_store_tx(inc->store, events_tx, &ec, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "incident", "handling alert events failed; retrying", "error", err,
                  NULL);
        free(err);
        return;
    }
    if (ec.last)
        atomic_fetch_add(&inc->changes, 1);
    if (ec.last && dw_alerter_events_ack(inc->alerter, inc->consumer, ec.last, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "incident", "moving the event cursor failed", "error", err, NULL);
        free(err);
    }
}

/* ---- page acknowledgements ---- */

struct triggered {
    char *id, *group_key;
    int64_t created_at;
};

struct triggered_list {
    struct triggered *v;
    size_t n, cap;
};

static int triggered_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct triggered_list *l = ctx;
    l->v = dw_grow(l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = (struct triggered){inc_col(&c[0]), inc_col(&c[1]), c[2].i};
    return 0;
}

static int64_t json_time(const json_t *v)
{
    int64_t ms = 0;
    if (!json_is_string(v) || dw_parse_rfc3339(json_string_value(v), &ms) != 0)
        return 0;
    return ms;
}

/* Acknowledges the incident when a page of its group was acknowledged. */
static int follow_page(struct dw_incidents *inc, const struct triggered *t, const json_t *pages)
{
    size_t i;
    json_t *pg;
    json_array_foreach(pages, i, pg)
    {
        const char *gk = json_string_value(json_object_get(pg, "groupKey"));
        int64_t acked = json_time(json_object_get(pg, "ackedAt"));
        int64_t created = json_time(json_object_get(pg, "createdAt"));
        if (!gk || strcmp(gk, t->group_key) != 0 || !acked ||
            created < t->created_at - PAGE_SLACK_MS)
            continue;
        struct inc_row r;
        int rc = 0;
        if (inc_row_get(inc, t->id, &r) && r.state == DW_INCIDENT_TRIGGERED) {
            const char *who = json_string_value(json_object_get(pg, "ackedBy"));
            const char *via = json_string_value(json_object_get(pg, "ackedVia"));
            char *why = dw_asprintf("page %s acknowledged%s%s",
                                    json_string_value(json_object_get(pg, "id")),
                                    via ? " via " : "", via ? via : "");
            rc = move(inc, &r, DW_INCIDENT_ACKNOWLEDGED,
                      acked > r.created_at ? acked : r.created_at, who, why);
            free(why);
        }
        inc_row_release(&r);
        return rc;
    }
    return 0;
}

static int pages_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct dw_incidents *inc = ctx;
    struct triggered_list l = {0};
    dw_store_exec(inc->store,
                  "SELECT i.id, g.group_key, i.created_at FROM incidents i"
                  " JOIN incident_groups g ON g.incident_id = i.id WHERE i.state = 'triggered'",
                  NULL, 0, triggered_cb, &l, NULL);
    json_t *pages = l.n ? dw_oncall_pages_json(inc->oncall, NULL, 1000) : NULL;
    int rc = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (rc == 0)
            rc = follow_page(inc, &l.v[i], pages);
        free(l.v[i].id);
        free(l.v[i].group_key);
    }
    free(l.v);
    json_decref(pages);
    return rc;
}

static void follow_pages(struct dw_incidents *inc)
{
    if (!inc->oncall)
        return;
    char *err = NULL;
    if (dw_store_tx(inc->store, pages_tx, inc, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "incident", "following page acknowledgements failed", "error", err,
                  NULL);
        free(err);
    }
}

/* ---- targets ---- */

struct due_row {
    char *id, *priority;
    int64_t created_at, acked_at, ack_breach, res_breach;
};

struct due_list {
    struct due_row *v;
    size_t n, cap;
};

static int due_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct due_list *l = ctx;
    l->v = dw_grow(l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = (struct due_row){inc_col(&c[0]),     inc_col(&c[1]),     c[2].i,
                                    inc_col_int(&c[3]), inc_col_int(&c[4]), inc_col_int(&c[5])};
    return 0;
}

static int breach(struct dw_incidents *inc, const char *id, const char *column, const char *kind,
                  int64_t at, int64_t target_ms)
{
    char target[32], *sql = dw_asprintf("UPDATE incidents SET %s = $2 WHERE id = $1", column);
    dw_incident_format_duration(target_ms, target, sizeof target);
    struct dw_value p[] = {DW_VTEXT(id), DW_VINT(at)};
    int rc = exec(inc, sql, p, 2);
    char *text = dw_asprintf("%s target of %s missed", kind, target);
    if (rc == 0)
        rc = inc_timeline(inc, id, at, "breach", "dojowatch", text);
    free(text);
    free(sql);
    return rc;
}

static int targets_tx(struct dw_store *s, void *ctx)
{
    (void)s;
    struct events_ctx *ec = ctx;
    struct dw_incidents *inc = ec->inc;
    struct due_list l = {0};
    dw_store_exec(inc->store,
                  "SELECT id, priority, created_at, acknowledged_at, ack_breached_at,"
                  " resolution_breached_at FROM incidents WHERE state NOT IN"
                  " ('resolved', 'postmortem', 'closed') AND (ack_breached_at IS NULL OR"
                  " resolution_breached_at IS NULL)",
                  NULL, 0, due_cb, &l, NULL);
    int rc = 0;
    for (size_t i = 0; i < l.n; i++) {
        const struct due_row *d = &l.v[i];
        int p = d->priority ? dw_priority_parse(d->priority) : -1;
        const struct dw_plan_priority *pp = p >= 0 ? dw_config_priority(inc->cfg, p) : NULL;
        if (rc == 0 && pp && pp->response_ms > 0 && !d->acked_at && !d->ack_breach &&
            ec->now >= d->created_at + pp->response_ms)
            rc = breach(inc, d->id, "ack_breached_at", "acknowledge",
                        d->created_at + pp->response_ms, pp->response_ms);
        if (rc == 0 && pp && pp->resolution_ms > 0 && !d->res_breach &&
            ec->now >= d->created_at + pp->resolution_ms)
            rc = breach(inc, d->id, "resolution_breached_at", "resolution",
                        d->created_at + pp->resolution_ms, pp->resolution_ms);
        free(l.v[i].id);
        free(l.v[i].priority);
    }
    free(l.v);
    return rc;
}

static void check_targets(struct dw_incidents *inc, int64_t now)
{
    struct events_ctx ec = {inc, now, 0};
    char *err = NULL;
    if (dw_store_tx(inc->store, targets_tx, &ec, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "incident", "checking targets failed", "error", err, NULL);
        free(err);
    }
}

uint64_t dw_incidents_changes(struct dw_incidents *inc)
{
    return atomic_load(&inc->changes);
}

void dw_incidents_tick(struct dw_incidents *inc, int64_t now)
{
    pthread_mutex_lock(&inc->mu);
    read_events(inc, now);
    follow_pages(inc);
    check_targets(inc, now);
    inc_metrics_refresh(inc, now);
    pthread_mutex_unlock(&inc->mu);
    inc_comms_turn(inc, now);
}

/* ---- life ---- */

struct dw_incidents *dw_incidents_open(const struct dw_incidents_options *o, char **err)
{
    if (!o || !o->store || !o->config) {
        dw_set_err(err, "dw_incidents_open needs a store and a configuration");
        return NULL;
    }
    if (dw_store_migrate(o->store, "incident", migrations, DW_ARRAY_LEN(migrations), err) != 0)
        return NULL;
    struct dw_diags d;
    dw_diags_init(&d);
    struct incident_conf *conf = conf_decode(o->config, &d);
    if (!conf) {
        char *msg = dw_diags_text(&d, 0, "\n", "invalid incidents section");
        dw_set_err(err, "%s", msg);
        free(msg);
    }
    dw_diags_release(&d);
    if (!conf)
        return NULL;
    inc_metrics_register();
    struct dw_incidents *inc = dw_calloc(1, sizeof *inc);
    inc->store = o->store;
    inc->alerter = o->alerter;
    inc->oncall = o->oncall;
    inc->notifier = o->notifier;
    inc->consumer = dw_strdup(o->consumer ? o->consumer : "incident");
    inc->cfg = dw_config_ref((struct dw_config *)o->config);
    inc->conf = conf;
    pthread_mutex_init(&inc->mu, NULL);
    return inc;
}

int dw_incidents_apply(struct dw_incidents *inc, const struct dw_config *cfg, char **err)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct incident_conf *conf = conf_decode(cfg, &d);
    if (!conf) {
        char *msg = dw_diags_text(&d, 0, "\n", "invalid incidents section");
        dw_set_err(err, "%s", msg);
        free(msg);
    }
    dw_diags_release(&d);
    if (!conf)
        return -1;
    pthread_mutex_lock(&inc->mu);
    struct incident_conf *old = inc->conf;
    struct dw_config *oldcfg = inc->cfg;
    inc->conf = conf;
    inc->cfg = dw_config_ref((struct dw_config *)cfg);
    pthread_mutex_unlock(&inc->mu);
    conf_free(&old);
    dw_config_unref(&oldcfg);
    return 0;
}

static void incident_turn(void *ctx, int64_t now_ms)
{
    dw_incidents_tick(ctx, now_ms);
}

int dw_incidents_start(struct dw_incidents *inc)
{
    if (inc->worker.running)
        return 0;
    inc->worker = (struct dw_alert_consumer){.alerter = inc->alerter,
                                             .consumer = inc->consumer,
                                             .turn = incident_turn,
                                             .ctx = inc,
                                             .every_ms = TURN_MS};
    return dw_alert_consumer_start(&inc->worker, "dw-incident");
}

void dw_incidents_stop(struct dw_incidents *inc)
{
    if (inc)
        dw_alert_consumer_stop(&inc->worker);
}

void dw_incidents_close(struct dw_incidents **pinc)
{
    struct dw_incidents *inc = pinc ? *pinc : NULL;
    if (!inc)
        return;
    dw_incidents_stop(inc);
    conf_free(&inc->conf);
    dw_config_unref(&inc->cfg);
    pthread_mutex_destroy(&inc->mu);
    free(inc->consumer);
    free(inc);
    *pinc = NULL;
}
