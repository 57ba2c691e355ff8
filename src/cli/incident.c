/*
 * incident.c - `dojowatch incident`: incidents from the command line.
 *
 *   incident list [--state S] [--severity N] [--since T] [--limit N]
 *                                            GET /api/incidents
 *   incident show ID                         GET /api/incidents/{id}
 *   incident create --title T --severity N ...
 *                                            POST /api/incidents
 *   incident ack ID | resolve ID | state ID STATE
 *                                            POST /api/incidents/{id}/state
 *   incident update ID --field VALUE...      PATCH /api/incidents/{id}
 *   incident note ID TEXT                    POST /api/incidents/{id}/notes
 *   incident action ID --task T ...          POST /api/incidents/{id}/actions
 *   incident action ID N [--done] ...        PATCH /api/incidents/{id}/actions/{n}
 *   incident actions [--overdue]             GET /api/incidents/actions
 *   incident merge ID --into ID              POST /api/incidents/{id}/merge
 *   incident report ID [--format F]          GET /api/incidents/{id}/report
 *   incident notice ID [--format F]          GET /api/incidents/{id}/notice
 *   incident stats [--since T] [--until T]   GET /api/incidents/stats
 *
 * DESIGN
 * A thin client shaped like oncall.c, run by the subcommand runner
 * (subcmd.c): each subcommand lists the flags it takes (a flag meant for
 * another one is a usage error, exit status 2, instead of being ignored)
 * and the operands it needs; values the daemon
 * would refuse anyway (severity, state names, times, yes/no) are checked
 * here first so that the message can say what to type instead. The request
 * goes through the CLI's client (client.c) with the token from --token or
 * $DOJOWATCH_TOKEN; the answer's "data" is printed as text or, with -o json,
 * as JSON. An error answer prints the server's reason and exits 1. The
 * report and the notice are documents: they go to stdout as the server
 * sends them.
 *
 * Threads: one.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/incident.h"
#include "core/core.h"
#include "incident/incident.h"

#define TIMEOUT_MS 30000L
#define LIMIT_MAX DW_INCIDENT_LIST_MAX
#define NEED_ID "which incident? give its id (dojowatch incident list)"

const char dw_cli_incident_usage[] =
    "usage: dojowatch incident COMMAND [OPTIONS]\n"
    "\n"
    "Incidents on a running daemon (its incident API): from the first page to the\n"
    "post-mortem, with states, roles, a timeline, action items and the documents.\n"
    "\n"
    "commands:\n"
    "  list [--state S] [--severity N] [--since T] [--limit N]\n"
    "                                  incidents, newest first (S: a state or open)\n"
    "  show ID                         one incident: details, timeline, action items\n"
    "  create --title T --severity N [--priority P] [--commander PERSON]\n"
    "         [--impact TEXT] [--system S]...\n"
    "                                  open an incident by hand; prints its id\n"
    "  ack ID                          acknowledge (state acknowledged)\n"
    "  state ID STATE                  move to a state (triggered, acknowledged,\n"
    "                                  investigating, identified, monitoring, resolved,\n"
    "                                  postmortem, closed)\n"
    "  resolve ID                      resolve (state resolved)\n"
    "  update ID --FIELD VALUE...      change fields: --root-cause, --impact, --commander ...\n"
    "  note ID TEXT                    add a note to the timeline\n"
    "  action ID --task T [--owner P] [--due DATE]\n"
    "                                  add an action item\n"
    "  action ID N [--done|--not-done] [--task T] [--owner P] [--due DATE]\n"
    "                                  change action item N\n"
    "  actions [--overdue]             open action items across incidents\n"
    "  merge ID --into ID              merge an incident into another (it is closed)\n"
    "  report ID [--format markdown|html]\n"
    "                                  the internal incident report on stdout\n"
    "  notice ID [--format text|markdown|html]\n"
    "                                  the user-facing notice on stdout\n"
    "  stats [--since T] [--until T]   MTTA and MTTR per severity\n"
    "\n"
    "Times: RFC 3339, Unix seconds, now or now-7d. Severity: 1 (SEV1, the worst) to 4.\n"
    "\n"
    "options of every command:\n"
    "  -s, --server URL      the daemon (default $DOJOWATCH_SERVER or " DW_CLI_DEFAULT_SERVER ")\n"
    "  -t, --token T         bearer token (default $DOJOWATCH_TOKEN): viewer to read,\n"
    "                        responder to change incidents\n"
    "  -o, --output FORMAT   table (default) or json (the server's data)\n"
    "  -h, --help            this help (also: dojowatch incident COMMAND --help)\n"
    "\n"
    "exit status: 0 done, 1 the server refused or could not be reached (its reason is\n"
    "printed), 2 bad usage.\n"
    "\n"
    "examples:\n"
    "  id=$(dojowatch incident create --title 'Checkout errors' --severity 2 --system api)\n"
    "  dojowatch incident state \"$id\" investigating\n"
    "  dojowatch incident update \"$id\" --root-cause 'expired TLS certificate'\n"
    "  dojowatch incident report \"$id\" --format html > report.html\n";

/* The flags beyond the common ones; a subcommand lists those it takes. */
enum {
    OPT_STATE = DW_CLI_OPT_FIRST,
    OPT_SEVERITY,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_LIMIT,
    OPT_TITLE,
    OPT_PRIORITY,
    OPT_COMMANDER,
    OPT_COMMS_LEAD,
    OPT_SCRIBE,
    OPT_IMPACT,
    OPT_SYSTEM,
    OPT_ROOT_CAUSE,
    OPT_RESOLUTION,
    OPT_PREVENTION,
    OPT_LESSONS,
    OPT_DATA_LOSS,
    OPT_USERS,
    OPT_FACTOR,
    OPT_TASK,
    OPT_OWNER,
    OPT_DUE,
    OPT_DONE,
    OPT_NOT_DONE,
    OPT_OVERDUE,
    OPT_INTO,
    OPT_FORMAT,
    OPT_END_ /* not a flag */
};
#define BIT(opt) DW_CLI_BIT(opt)
_Static_assert(OPT_END_ - OPT_STATE <= DW_CLI_MAX_FLAGS, "the flags fit an unsigned");

/* The fields `update` changes: flag, JSON key, how the value is sent. */
enum field_kind { F_TEXT, F_SEVERITY, F_BOOL, F_USERS, F_LIST };
static const struct {
    int opt;
    const char *key;
    enum field_kind kind;
} fields[] = {
    {OPT_TITLE, "title", F_TEXT},
    {OPT_SEVERITY, "severity", F_SEVERITY},
    {OPT_PRIORITY, "priority", F_TEXT},
    {OPT_COMMANDER, "commander", F_TEXT},
    {OPT_COMMS_LEAD, "communicationsLead", F_TEXT},
    {OPT_SCRIBE, "scribe", F_TEXT},
    {OPT_SYSTEM, "affectedSystems", F_LIST},
    {OPT_IMPACT, "impact", F_TEXT},
    {OPT_USERS, "usersAffected", F_USERS},
    {OPT_DATA_LOSS, "dataLoss", F_BOOL},
    {OPT_ROOT_CAUSE, "rootCause", F_TEXT},
    {OPT_FACTOR, "contributingFactors", F_LIST},
    {OPT_RESOLUTION, "resolution", F_TEXT},
    {OPT_PREVENTION, "prevention", F_TEXT},
    {OPT_LESSONS, "lessonsLearned", F_TEXT},
};
#define UPDATE_FLAGS                                                                               \
    (BIT(OPT_TITLE) | BIT(OPT_SEVERITY) | BIT(OPT_PRIORITY) | BIT(OPT_COMMANDER) |                 \
     BIT(OPT_COMMS_LEAD) | BIT(OPT_SCRIBE) | BIT(OPT_SYSTEM) | BIT(OPT_IMPACT) | BIT(OPT_USERS) |  \
     BIT(OPT_DATA_LOSS) | BIT(OPT_ROOT_CAUSE) | BIT(OPT_FACTOR) | BIT(OPT_RESOLUTION) |            \
     BIT(OPT_PREVENTION) | BIT(OPT_LESSONS))

/* A repeatable flag's values (borrowed from argv). */
struct list {
    const char *v[DW_INCIDENT_LIST_ITEMS_MAX];
    size_t n;
};

struct opts {
    struct dw_cli_sub s;  /* the client, -o json, the flags given and their values */
    struct list systems;  /* --system */
    struct list factors;  /* --factor */
    int severity;         /* --severity, 1..4 */
    bool data_loss;       /* --data-loss */
    int64_t limit;        /* --limit */
    int64_t since, until; /* ms */
};

static const char *flag(const struct opts *o, int opt)
{
    return o->s.val[opt - OPT_STATE];
}

static int usage(const struct opts *o, const char *fmt, const char *arg)
{
    return dw_cli_sub_usage(&o->s, fmt, arg);
}

/* A JSON request: body (may be NULL; its reference is taken) goes as
 * application/json, *data gets the envelope's "data" (a new reference). */
static int call(const struct opts *o, const char *method, const char *path, json_t *body,
                json_t **data)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int rc = dw_cli_call(&o->s.c, method, path, text ? "application/json" : NULL, text, data);
    free(text);
    return rc;
}

/* /api/incidents/ID plus suffix. */
static char *incident_path(const char *id, const char *suffix)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "/api/incidents/");
    dw_buf_url_encode(&b, id);
    dw_buf_puts(&b, suffix);
    return dw_buf_steal(&b);
}

/* ---- flags ---- */

static const struct option flags[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"severity", required_argument, NULL, OPT_SEVERITY},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"title", required_argument, NULL, OPT_TITLE},
    {"priority", required_argument, NULL, OPT_PRIORITY},
    {"commander", required_argument, NULL, OPT_COMMANDER},
    {"comms-lead", required_argument, NULL, OPT_COMMS_LEAD},
    {"scribe", required_argument, NULL, OPT_SCRIBE},
    {"impact", required_argument, NULL, OPT_IMPACT},
    {"system", required_argument, NULL, OPT_SYSTEM},
    {"root-cause", required_argument, NULL, OPT_ROOT_CAUSE},
    {"resolution", required_argument, NULL, OPT_RESOLUTION},
    {"prevention", required_argument, NULL, OPT_PREVENTION},
    {"lessons", required_argument, NULL, OPT_LESSONS},
    {"data-loss", required_argument, NULL, OPT_DATA_LOSS},
    {"users-affected", required_argument, NULL, OPT_USERS},
    {"factor", required_argument, NULL, OPT_FACTOR},
    {"task", required_argument, NULL, OPT_TASK},
    {"owner", required_argument, NULL, OPT_OWNER},
    {"due", required_argument, NULL, OPT_DUE},
    {"done", no_argument, NULL, OPT_DONE},
    {"not-done", no_argument, NULL, OPT_NOT_DONE},
    {"overdue", no_argument, NULL, OPT_OVERDUE},
    {"into", required_argument, NULL, OPT_INTO},
    {"format", required_argument, NULL, OPT_FORMAT},
    {0, 0, 0, 0},
};

static const char *const states_text = "triggered, acknowledged, investigating, identified, "
                                       "monitoring, resolved, postmortem, closed";

/* "2", "SEV2" or "sev2" as 1..4; -1 otherwise. */
static int parse_severity(const char *s)
{
    if ((s[0] == 'S' || s[0] == 's') && (s[1] == 'E' || s[1] == 'e') &&
        (s[2] == 'V' || s[2] == 'v'))
        s += 3;
    return s[0] >= '1' && s[0] <= '4' && !s[1] ? s[0] - '0' : -1;
}

static int list_flag(const struct opts *o, struct list *l, const char *v)
{
    if (!*v)
        return usage(o, "%s", "an empty value; leave the flag out instead");
    if (l->n == DW_ARRAY_LEN(l->v))
        return usage(o, "%s", "at most 100 values of a repeated flag");
    l->v[l->n++] = v;
    return -1;
}

/* A flag of a subcommand (its value already kept); -1 to go on, or the exit status. */
static int sub_flag(void *ctx, int opt, const char *arg)
{
    struct opts *o = ctx;
    switch (opt) {
    case OPT_STATE:
        if (strcmp(arg, "open") && dw_incident_state_parse(arg) < 0)
            return usage(o, "unknown state '%s' (open or one of: triggered ... closed)", arg);
        return -1;
    case OPT_SEVERITY:
        o->severity = parse_severity(arg);
        if (o->severity < 0)
            return usage(o, "--severity needs 1 (SEV1, the worst) to 4, got '%s'", arg);
        return -1;
    case OPT_LIMIT:
        if (dw_parse_int64(arg, &o->limit) != 0 || o->limit < 1 || o->limit > LIMIT_MAX)
            return usage(o, "--limit needs a number from 1 to 1000, got '%s'", arg);
        return -1;
    case OPT_DATA_LOSS:
        if (strcmp(arg, "yes") && strcmp(arg, "no") && strcmp(arg, "true") && strcmp(arg, "false"))
            return usage(o, "--data-loss needs yes or no, got '%s'", arg);
        o->data_loss = arg[0] == 'y' || arg[0] == 't';
        return -1;
    case OPT_SINCE: return dw_cli_sub_time(&o->s, arg, &o->since);
    case OPT_UNTIL: return dw_cli_sub_time(&o->s, arg, &o->until);
    case OPT_SYSTEM: return list_flag(o, &o->systems, arg);
    case OPT_FACTOR: return list_flag(o, &o->factors, arg);
    default: return -1;
    }
}

/* ---- list ---- */

#define LIST_ROW "%-24s  %-4s  %-8s  %-13s  %-24s  %-10s  %-20s  %s\n"

static void print_summary_row(json_t *i)
{
    char sev[16];
    snprintf(sev, sizeof sev, "SEV%lld",
             (long long)json_integer_value(json_object_get(i, "severity")));
    printf(LIST_ROW, dw_cli_str(i, "id", "?"), sev, dw_cli_str(i, "priority", "-"),
           dw_cli_str(i, "state", "?"), dw_cli_str(i, "createdAt", "-"),
           dw_cli_str(i, "duration", "-"), dw_cli_str(i, "commander", "-"),
           dw_cli_str(i, "title", ""));
}

static int cmd_list(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    struct dw_buf path;
    dw_buf_init(&path, 0);
    dw_buf_puts(&path, "/api/incidents");
    if (flag(o, OPT_STATE))
        dw_cli_add_param(&path, "state", flag(o, OPT_STATE));
    if (o->s.given & BIT(OPT_SEVERITY))
        dw_buf_printf(&path, "%sseverity=%d", strchr(path.data, '?') ? "&" : "?", o->severity);
    if (o->s.given & BIT(OPT_SINCE))
        dw_cli_add_time_param(&path, "since", o->since);
    if (o->limit)
        dw_buf_printf(&path, "%slimit=%lld", strchr(path.data, '?') ? "&" : "?",
                      (long long)o->limit);
    json_t *data;
    int rc = call(o, "GET", path.data, NULL, &data);
    dw_buf_release(&path);
    if (rc == 0 && o->s.json) {
        dw_cli_print_json(data);
    } else if (rc == 0) {
        size_t k;
        json_t *i;
        printf(LIST_ROW, "ID", "SEV", "PRIORITY", "STATE", "CREATED", "DURATION", "COMMANDER",
               "TITLE");
        json_array_foreach(data, k, i) print_summary_row(i);
        if (!json_array_size(data))
            fprintf(stderr, "no incidents\n");
    }
    json_decref(data);
    return rc;
}

/* ---- show ---- */

/* text and a newline; its further lines indented by `indent` columns. */
static void print_indented(int indent, const char *text)
{
    for (const char *p = text;;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("%*s%.*s\n", p == text ? 0 : indent, "", len, p);
        if (!nl)
            break;
        p = nl + 1;
    }
}

/* "label  value"; nothing when there is no value. */
static void print_field(const char *label, const char *value)
{
    if (!value)
        return;
    printf("%-16s", label);
    print_indented(16, value);
}

/* A role: "Name (id)" when the plan knows the person, else the id. */
static void print_role(json_t *in, const char *label, const char *key)
{
    char idkey[40];
    snprintf(idkey, sizeof idkey, "%sId", key);
    const char *name = dw_cli_str(in, key, NULL), *id = dw_cli_str(in, idkey, NULL);
    if (name && id && strcmp(name, id) != 0) {
        char *both = dw_asprintf("%s (%s)", name, id);
        print_field(label, both);
        free(both);
    } else {
        print_field(label, name ? name : id);
    }
}

/* An array of strings as "a, b, c"; NULL when empty (caller frees). */
static char *joined(json_t *arr)
{
    if (!json_array_size(arr))
        return NULL;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        dw_buf_printf(&b, "%s%s", i ? ", " : "", json_is_string(v) ? json_string_value(v) : "?");
    return dw_buf_steal(&b);
}

static void print_list_field(json_t *in, const char *label, const char *key)
{
    char *s = joined(json_object_get(in, key));
    print_field(label, s);
    free(s);
}

static void print_header(json_t *in)
{
    char sev[64];
    snprintf(sev, sizeof sev, "%lld (%s)",
             (long long)json_integer_value(json_object_get(in, "severity")),
             dw_cli_str(in, "severityName", "-"));
    print_field("incident", dw_cli_str(in, "id", "?"));
    print_field("title", dw_cli_str(in, "title", ""));
    print_field("state", dw_cli_str(in, "state", "?"));
    print_field("severity", sev);
    print_field("priority", dw_cli_str(in, "priority", NULL));
    static const char *const times[][2] = {
        {"createdAt", "created"},
        {"acknowledgedAt", "acknowledged"},
        {"investigatingAt", "investigating"},
        {"identifiedAt", "identified"},
        {"monitoringAt", "monitoring"},
        {"resolvedAt", "resolved"},
        {"postmortemAt", "postmortem"},
        {"closedAt", "closed"},
        {"duration", "duration"},
        {"timeToAcknowledge", "to acknowledge"},
        {"timeToMitigate", "to mitigate"},
        {"timeToResolve", "to resolve"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(times); i++)
        print_field(times[i][1], dw_cli_str(in, times[i][0], NULL));
}

static void print_details(json_t *in)
{
    print_role(in, "commander", "commander");
    print_role(in, "comms lead", "communicationsLead");
    print_role(in, "scribe", "scribe");
    print_list_field(in, "systems", "affectedSystems");
    print_field("impact", dw_cli_str(in, "impact", NULL));
    json_t *users = json_object_get(in, "usersAffected");
    if (json_is_integer(users)) {
        char n[32];
        snprintf(n, sizeof n, "%lld", (long long)json_integer_value(users));
        print_field("users affected", n);
    } else {
        print_field("users affected", dw_cli_str(in, "usersAffected", NULL));
    }
    print_field("data loss", json_is_true(json_object_get(in, "dataLoss")) ? "yes" : "no");
    json_t *det = json_object_get(in, "detection");
    print_field("detected by", dw_cli_str(det, "method", NULL));
    print_field("detecting alert", dw_cli_str(det, "alert", NULL));
    print_field("root cause", dw_cli_str(in, "rootCause", NULL));
    print_list_field(in, "factors", "contributingFactors");
    print_field("resolution", dw_cli_str(in, "resolution", NULL));
    print_field("prevention", dw_cli_str(in, "prevention", NULL));
    print_field("lessons", dw_cli_str(in, "lessonsLearned", NULL));
    print_list_field(in, "alert groups", "groups");
    print_field("merged into", dw_cli_str(in, "mergedInto", NULL));
    print_field("created by", dw_cli_str(in, "createdBy", NULL));
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(in, "breaches"), i, b)
    {
        char *s = dw_asprintf("%s target %s missed at %s", dw_cli_str(b, "kind", "?"),
                              dw_cli_str(b, "target", "?"), dw_cli_str(b, "at", "?"));
        print_field("breach", s);
        free(s);
    }
}

static void print_timeline(json_t *in)
{
    size_t i;
    json_t *t;
    printf("\ntimeline:\n%-24s  %-16s  %-20s  %s\n", "AT", "KIND", "WHO", "TEXT");
    json_array_foreach(json_object_get(in, "timeline"), i, t)
    {
        printf("%-24s  %-16s  %-20s  ", dw_cli_str(t, "at", "-"), dw_cli_str(t, "kind", "?"),
               dw_cli_str(t, "who", "-"));
        print_indented(24 + 2 + 16 + 2 + 20 + 2, dw_cli_str(t, "text", ""));
    }
}

static void print_actions_of(json_t *in)
{
    json_t *items = json_object_get(in, "actionItems");
    if (!json_array_size(items)) {
        printf("\nno action items\n");
        return;
    }
    size_t i;
    json_t *a;
    printf("\naction items:\n%-4s  %-5s  %-24s  %-20s  %s\n", "ID", "DONE", "DUE", "OWNER", "TASK");
    json_array_foreach(items, i, a)
    {
        const char *done = json_is_true(json_object_get(a, "done"))      ? "yes"
                           : json_is_true(json_object_get(a, "overdue")) ? "LATE"
                                                                         : "no";
        printf("%-4lld  %-5s  %-24s  %-20s  %s\n",
               (long long)json_integer_value(json_object_get(a, "id")), done,
               dw_cli_str(a, "due", "-"), dw_cli_str(a, "ownerName", dw_cli_str(a, "owner", "-")),
               dw_cli_str(a, "task", ""));
    }
}

static int cmd_show(void *ctx, char **args)
{
    struct opts *o = ctx;
    char *path = incident_path(args[0], "");
    json_t *data;
    int rc = call(o, "GET", path, NULL, &data);
    free(path);
    if (rc == 0 && o->s.json) {
        dw_cli_print_json(data);
    } else if (rc == 0) {
        print_header(data);
        print_details(data);
        print_timeline(data);
        print_actions_of(data);
    }
    json_decref(data);
    return rc;
}

/* ---- create and update ---- */

static json_t *list_json(const struct list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->v[i]));
    return a;
}

static int cmd_create(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    if (!flag(o, OPT_TITLE) || !*flag(o, OPT_TITLE))
        return usage(o, "%s", "--title is required: what is wrong, in a few words");
    if (!(o->s.given & BIT(OPT_SEVERITY)))
        return usage(o, "%s", "--severity is required: 1 (SEV1, the worst) to 4");
    json_t *body = json_pack("{s:s, s:i}", "title", flag(o, OPT_TITLE), "severity", o->severity);
    static const struct {
        int opt;
        const char *key;
    } optional[] = {
        {OPT_PRIORITY, "priority"},
        {OPT_COMMANDER, "commander"},
        {OPT_IMPACT, "impact"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(optional); i++)
        if (flag(o, optional[i].opt) && *flag(o, optional[i].opt))
            json_object_set_new(body, optional[i].key, json_string(flag(o, optional[i].opt)));
    if (o->systems.n)
        json_object_set_new(body, "affectedSystems", list_json(&o->systems));
    json_t *data;
    int rc = call(o, "POST", "/api/incidents", body, &data);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("%s\n", dw_cli_str(data, "id", "?"));
    json_decref(data);
    return rc;
}

/* A field's value as JSON; an empty text clears the field (null). */
static json_t *field_json(const struct opts *o, size_t i)
{
    const char *v = flag(o, fields[i].opt);
    int64_t n;
    switch (fields[i].kind) {
    case F_SEVERITY: return json_integer(o->severity);
    case F_BOOL: return json_boolean(o->data_loss);
    case F_LIST: return list_json(fields[i].opt == OPT_SYSTEM ? &o->systems : &o->factors);
    case F_USERS:
        if (dw_parse_int64(v, &n) == 0 && n >= 0)
            return json_integer(n);
        return *v ? json_string(v) : json_null();
    default: return *v ? json_string(v) : json_null();
    }
}

static int cmd_update(void *ctx, char **args)
{
    struct opts *o = ctx;
    if (!(o->s.given & UPDATE_FLAGS))
        return usage(o, "%s",
                     "nothing to change; give fields like --root-cause TEXT "
                     "(dojowatch incident update --help)");
    json_t *body = json_object();
    for (size_t i = 0; i < DW_ARRAY_LEN(fields); i++)
        if (o->s.given & BIT(fields[i].opt))
            json_object_set_new(body, fields[i].key, field_json(o, i));
    char *path = incident_path(args[0], "");
    json_t *data;
    int rc = call(o, "PATCH", path, body, &data);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("%s updated\n", args[0]);
    json_decref(data);
    return rc;
}

/* ---- states ---- */

static int set_state(struct opts *o, const char *id, const char *state)
{
    char *path = incident_path(id, "/state");
    json_t *data;
    int rc = call(o, "POST", path, json_pack("{s:s}", "state", state), &data);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("%s is now %s\n", id, dw_cli_str(data, "state", state));
    json_decref(data);
    return rc;
}

static int cmd_ack(void *ctx, char **args)
{
    struct opts *o = ctx;
    return set_state(o, args[0], "acknowledged");
}

static int cmd_resolve(void *ctx, char **args)
{
    struct opts *o = ctx;
    return set_state(o, args[0], "resolved");
}

static int cmd_state(void *ctx, char **args)
{
    struct opts *o = ctx;
    if (dw_incident_state_parse(args[1]) < 0) {
        char *msg = dw_asprintf("unknown state '%s' (%s)", args[1], states_text);
        int rc = usage(o, "%s", msg);
        free(msg);
        return rc;
    }
    return set_state(o, args[0], args[1]);
}

/* ---- notes, action items, merge ---- */

static int cmd_note(void *ctx, char **args)
{
    struct opts *o = ctx;
    struct dw_buf text;
    dw_buf_init(&text, 0);
    for (char **a = args + 1; *a; a++)
        dw_buf_printf(&text, "%s%s", a == args + 1 ? "" : " ", *a);
    if (!text.len) {
        dw_buf_release(&text);
        return usage(o, "%s", "the note is empty; give its text");
    }
    char *path = incident_path(args[0], "/notes");
    json_t *data;
    int rc = call(o, "POST", path, json_pack("{s:s}", "text", text.data), &data);
    free(path);
    dw_buf_release(&text);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("note added to %s\n", args[0]);
    json_decref(data);
    return rc;
}

/* The action item flags as a JSON object; an empty --owner or --due clears
 * the field of an existing item (the API: owner "", due null). */
static json_t *action_body(const struct opts *o, bool adding)
{
    json_t *body = json_object();
    if (flag(o, OPT_TASK))
        json_object_set_new(body, "task", json_string(flag(o, OPT_TASK)));
    if (flag(o, OPT_OWNER) && (*flag(o, OPT_OWNER) || !adding))
        json_object_set_new(body, "owner", json_string(flag(o, OPT_OWNER)));
    if (flag(o, OPT_DUE) && (*flag(o, OPT_DUE) || !adding))
        json_object_set_new(body, "due",
                            *flag(o, OPT_DUE) ? json_string(flag(o, OPT_DUE)) : json_null());
    if (o->s.given & (BIT(OPT_DONE) | BIT(OPT_NOT_DONE)))
        json_object_set_new(body, "done", json_boolean(o->s.given & BIT(OPT_DONE)));
    return body;
}

static int action_add(struct opts *o, const char *id)
{
    if (o->s.given & (BIT(OPT_DONE) | BIT(OPT_NOT_DONE)))
        return usage(o, "%s", "--done needs the action item's number: incident action ID N --done");
    if (!flag(o, OPT_TASK) || !*flag(o, OPT_TASK))
        return usage(o, "%s", "--task is required: what is to be done");
    char *path = incident_path(id, "/actions");
    json_t *data;
    int rc = call(o, "POST", path, action_body(o, true), &data);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("action item %lld added to %s\n",
               (long long)json_integer_value(json_object_get(data, "id")), id);
    json_decref(data);
    return rc;
}

static int action_update(struct opts *o, const char *id, const char *n)
{
    int64_t num;
    if (dw_parse_int64(n, &num) != 0 || num < 1)
        return usage(o, "'%s' is not an action item's number (dojowatch incident show ID)", n);
    if ((o->s.given & BIT(OPT_DONE)) && (o->s.given & BIT(OPT_NOT_DONE)))
        return usage(o, "%s", "give --done or --not-done, not both");
    if (!(o->s.given &
          (BIT(OPT_TASK) | BIT(OPT_OWNER) | BIT(OPT_DUE) | BIT(OPT_DONE) | BIT(OPT_NOT_DONE))))
        return usage(o, "%s",
                     "nothing to change; give --done, --not-done, --task, --owner or --due");
    char *suffix = dw_asprintf("/actions/%lld", (long long)num);
    char *path = incident_path(id, suffix);
    free(suffix);
    json_t *data;
    int rc = call(o, "PATCH", path, action_body(o, false), &data);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("action item %lld of %s updated\n", (long long)num, id);
    json_decref(data);
    return rc;
}

static int cmd_action(void *ctx, char **args)
{
    struct opts *o = ctx;
    return args[1] ? action_update(o, args[0], args[1]) : action_add(o, args[0]);
}

static int cmd_actions(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    json_t *data;
    int rc = call(o, "GET",
                  o->s.given & BIT(OPT_OVERDUE) ? "/api/incidents/actions?overdue=true"
                                                : "/api/incidents/actions",
                  NULL, &data);
    if (rc == 0 && o->s.json) {
        dw_cli_print_json(data);
    } else if (rc == 0) {
        printf("%-24s  %-4s  %-24s  %-7s  %-20s  %s\n", "INCIDENT", "ID", "DUE", "OVERDUE", "OWNER",
               "TASK");
        size_t i;
        json_t *a;
        json_array_foreach(data, i, a) printf(
            "%-24s  %-4lld  %-24s  %-7s  %-20s  %s\n", dw_cli_str(a, "incident", "?"),
            (long long)json_integer_value(json_object_get(a, "id")), dw_cli_str(a, "due", "-"),
            json_is_true(json_object_get(a, "overdue")) ? "yes" : "no",
            dw_cli_str(a, "ownerName", dw_cli_str(a, "owner", "-")), dw_cli_str(a, "task", ""));
        if (!json_array_size(data))
            fprintf(stderr, "no open action items\n");
    }
    json_decref(data);
    return rc;
}

static int cmd_merge(void *ctx, char **args)
{
    struct opts *o = ctx;
    const char *into = flag(o, OPT_INTO);
    if (!into || !*into)
        return usage(o, "%s", "--into is required: the incident that stays open");
    if (strcmp(into, args[0]) == 0)
        return usage(o, "cannot merge %s into itself", into);
    char *path = incident_path(args[0], "/merge");
    json_t *data;
    int rc = call(o, "POST", path, json_pack("{s:s}", "into", into), &data);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("%s merged into %s\n", args[0], into);
    json_decref(data);
    return rc;
}

/* ---- documents ---- */

/* report and notice: the document as the server sends it. */
static int document(struct opts *o, const char *id, const char *what, const char *formats)
{
    const char *format = flag(o, OPT_FORMAT);
    if (o->s.json)
        return usage(o, "%s", "the document is text; leave out -o json and use --format");
    if (format) {
        size_t n = strlen(format);
        const char *p = strstr(formats, format);
        if (!n || !p || (p > formats && p[-1] != '|') || (p[n] && p[n] != '|')) {
            char *msg = dw_asprintf("unknown format '%s' (%s)", format, formats);
            int rc = usage(o, "%s", msg);
            free(msg);
            return rc;
        }
    }
    char *path = incident_path(id, what);
    struct dw_buf full, out;
    dw_buf_init(&full, 0);
    dw_buf_puts(&full, path);
    free(path);
    if (format)
        dw_cli_add_param(&full, "format", format);
    dw_buf_init(&out, DW_CLI_MAX_RESPONSE);
    int rc = dw_cli_request_ok(&o->s.c, "GET", full.data, NULL, NULL, &out);
    if (rc == 0 && out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
        fprintf(stderr, "dojowatch %s: cannot write the document to stdout\n", o->s.c.cmd);
        rc = 1;
    }
    dw_buf_release(&out);
    dw_buf_release(&full);
    return rc;
}

static int cmd_report(void *ctx, char **args)
{
    struct opts *o = ctx;
    return document(o, args[0], "/report", "markdown|html");
}

static int cmd_notice(void *ctx, char **args)
{
    struct opts *o = ctx;
    return document(o, args[0], "/notice", "text|markdown|html");
}

/* ---- stats ---- */

/* A figure in seconds (or null) as "1h 23m", "-" for none. */
static const char *seconds(json_t *fig, const char *key, char *buf, size_t size)
{
    json_t *v = json_object_get(fig, key);
    if (!json_is_number(v))
        return "-";
    dw_incident_format_duration((int64_t)(json_number_value(v) * 1000.0 + 0.5), buf, size);
    return buf;
}

#define STATS_ROW "%-8s  %-12s  %9s  %-10s  %-10s  %-10s  %-10s  %-10s  %s\n"

static void print_stats(json_t *data)
{
    printf("incidents created from %s to %s\n\n", dw_cli_str(data, "since", "?"),
           dw_cli_str(data, "until", "?"));
    printf(STATS_ROW, "SEVERITY", "NAME", "INCIDENTS", "MTTA MEAN", "MTTA P50", "MTTA P90",
           "MTTR MEAN", "MTTR P50", "MTTR P90");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(data, "severities"), i, s)
    {
        char sev[16], count[24], b[6][32];
        json_t *mtta = json_object_get(s, "mtta"), *mttr = json_object_get(s, "mttr");
        snprintf(sev, sizeof sev, "%lld",
                 (long long)json_integer_value(json_object_get(s, "severity")));
        snprintf(count, sizeof count, "%lld",
                 (long long)json_integer_value(json_object_get(s, "incidents")));
        printf(STATS_ROW, sev, dw_cli_str(s, "name", "-"), count, seconds(mtta, "mean", b[0], 32),
               seconds(mtta, "p50", b[1], 32), seconds(mtta, "p90", b[2], 32),
               seconds(mttr, "mean", b[3], 32), seconds(mttr, "p50", b[4], 32),
               seconds(mttr, "p90", b[5], 32));
    }
}

static int cmd_stats(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    if ((o->s.given & BIT(OPT_SINCE)) && (o->s.given & BIT(OPT_UNTIL)) && o->until <= o->since)
        return usage(o, "%s", "--until must be after --since");
    struct dw_buf path;
    dw_buf_init(&path, 0);
    dw_buf_puts(&path, "/api/incidents/stats");
    if (o->s.given & BIT(OPT_SINCE))
        dw_cli_add_time_param(&path, "since", o->since);
    if (o->s.given & BIT(OPT_UNTIL))
        dw_cli_add_time_param(&path, "until", o->until);
    json_t *data;
    int rc = call(o, "GET", path.data, NULL, &data);
    dw_buf_release(&path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        print_stats(data);
    json_decref(data);
    return rc;
}

/* ---- dispatch ---- */

static const struct dw_cli_subcmd subs[] = {
    {"list", BIT(OPT_STATE) | BIT(OPT_SEVERITY) | BIT(OPT_SINCE) | BIT(OPT_LIMIT), 0, 0, NULL, NULL,
     cmd_list,
     "usage: dojowatch incident list [--state S] [--severity N] [--since T] [--limit N] [-o json]\n"
     "\n"
     "Incidents, newest first (at most --limit, 1 to 1000, default 100): id, severity,\n"
     "priority, state, when it opened, how long it lasted (so far), commander, title.\n"
     "--state keeps one state (triggered, acknowledged, investigating, identified,\n"
     "monitoring, resolved, postmortem, closed) or open (not resolved yet); --severity\n"
     "keeps 1 (SEV1) to 4; --since keeps those opened at or after T.\n"
     "\n"
     "example: dojowatch incident list --state open --severity 1\n"},
    {"show", 0, 1, 1, NEED_ID, NULL, cmd_show,
     "usage: dojowatch incident show ID [-o json]\n"
     "\n"
     "One incident: its fields (states with their times, durations, roles, impact,\n"
     "root cause ...), its timeline (state changes, updates, notes and its pages'\n"
     "entries in time order) and its action items.\n"},
    {"create",
     BIT(OPT_TITLE) | BIT(OPT_SEVERITY) | BIT(OPT_PRIORITY) | BIT(OPT_COMMANDER) | BIT(OPT_IMPACT) |
         BIT(OPT_SYSTEM),
     0, 0, NULL, NULL, cmd_create,
     "usage: dojowatch incident create --title T --severity N [--priority P]\n"
     "           [--commander PERSON] [--impact TEXT] [--system S]... [-o json]\n"
     "\n"
     "Opens an incident by hand (state triggered) and prints its id. --severity is 1\n"
     "(SEV1, the worst) to 4 (or SEV1 ... SEV4); --priority P0, P1 or P2 (default P0\n"
     "for SEV1, P1 for SEV2, else P2); --commander a person id from the plan; --system\n"
     "an affected system (repeat the flag for more). Needs a responder token.\n"
     "\n"
     "example: dojowatch incident create --title 'Checkout errors' --severity 2 --system api\n"},
    {"ack", 0, 1, 1, NEED_ID, NULL, cmd_ack,
     "usage: dojowatch incident ack ID [-o json]\n"
     "\n"
     "Acknowledges an incident (state acknowledged), as the token's name. Needs a\n"
     "responder token.\n"},
    {"state", 0, 2, 2, NEED_ID, "which state? give it after the id, e.g. investigating", cmd_state,
     "usage: dojowatch incident state ID STATE [-o json]\n"
     "\n"
     "Moves an incident to STATE: triggered, acknowledged, investigating, identified,\n"
     "monitoring, resolved, postmortem or closed. The server refuses a move its state\n"
     "table does not allow (e.g. closed -> anything) and says where it can go.\n"
     "Needs a responder token.\n"
     "\n"
     "example: dojowatch incident state INC-20260302100000-1 investigating\n"},
    {"resolve", 0, 1, 1, NEED_ID, NULL, cmd_resolve,
     "usage: dojowatch incident resolve ID [-o json]\n"
     "\n"
     "Resolves an incident (state resolved). Needs a responder token.\n"},
    {"update", UPDATE_FLAGS, 1, 1, NEED_ID, NULL, cmd_update,
     "usage: dojowatch incident update ID --FIELD VALUE... [-o json]\n"
     "\n"
     "Changes fields of an incident, all or nothing; each change is a timeline entry.\n"
     "\n"
     "  --title T              --severity 1-4           --priority P0|P1|P2\n"
     "  --commander PERSON     --comms-lead PERSON      --scribe PERSON\n"
     "  --impact TEXT          --users-affected N|TEXT  --data-loss yes|no\n"
     "  --root-cause TEXT      --resolution TEXT        --prevention TEXT\n"
     "  --lessons TEXT         --system S (repeat; replaces the list)\n"
     "  --factor F (a contributing factor; repeat; replaces the list)\n"
     "\n"
     "An empty value ('') clears a person or text field. Needs a responder token.\n"
     "\n"
     "example: dojowatch incident update INC-20260302100000-1 --root-cause 'disk full' \\\n"
     "           --data-loss no --system db --system api\n"},
    {"note", 0, 2, -1, NEED_ID, "what does the note say? give its text after the id", cmd_note,
     "usage: dojowatch incident note ID TEXT...\n"
     "\n"
     "Adds a note to the incident's timeline (the words of TEXT joined with spaces;\n"
     "up to 16 KiB). Needs a responder token.\n"
     "\n"
     "example: dojowatch incident note INC-20260302100000-1 'rolled back to v1.4.2'\n"},
    {"action", BIT(OPT_TASK) | BIT(OPT_OWNER) | BIT(OPT_DUE) | BIT(OPT_DONE) | BIT(OPT_NOT_DONE), 1,
     2, NEED_ID, NULL, cmd_action,
     "usage: dojowatch incident action ID --task T [--owner P] [--due DATE] [-o json]\n"
     "       dojowatch incident action ID N [--done|--not-done] [--task T] [--owner P]\n"
     "           [--due DATE]\n"
     "\n"
     "Adds an action item to an incident and prints its number, or changes item N\n"
     "(numbers in dojowatch incident show ID). --owner is a person or team id from the\n"
     "plan, --due RFC 3339 or YYYY-MM-DD; an empty --owner or --due clears it.\n"
     "Needs a responder token.\n"
     "\n"
     "examples:\n"
     "  dojowatch incident action INC-20260302100000-1 --task 'alert on disk' --due 2026-03-20\n"
     "  dojowatch incident action INC-20260302100000-1 1 --done\n"},
    {"actions", BIT(OPT_OVERDUE), 0, 0, NULL, NULL, cmd_actions,
     "usage: dojowatch incident actions [--overdue] [-o json]\n"
     "\n"
     "Action items not done yet across all incidents, by due date (--overdue: only\n"
     "those past their due date).\n"},
    {"merge", BIT(OPT_INTO), 1, 1, NEED_ID, NULL, cmd_merge,
     "usage: dojowatch incident merge ID --into ID [-o json]\n"
     "\n"
     "Merges the first incident into the --into one: its alert groups, timeline and\n"
     "action items move, and it is closed pointing at the other. Needs a responder token.\n"},
    {"report", BIT(OPT_FORMAT), 1, 1, NEED_ID, NULL, cmd_report,
     "usage: dojowatch incident report ID [--format markdown|html]\n"
     "\n"
     "Writes the internal incident report (post-mortem) to stdout as the server renders\n"
     "it: Markdown (default) or HTML.\n"
     "\n"
     "example: dojowatch incident report INC-20260302100000-1 --format html > report.html\n"},
    {"notice", BIT(OPT_FORMAT), 1, 1, NEED_ID, NULL, cmd_notice,
     "usage: dojowatch incident notice ID [--format text|markdown|html]\n"
     "\n"
     "Writes the user-facing notice (for a status page or an e-mail) to stdout: plain\n"
     "text (default), Markdown or HTML.\n"},
    {"stats", BIT(OPT_SINCE) | BIT(OPT_UNTIL), 0, 0, NULL, NULL, cmd_stats,
     "usage: dojowatch incident stats [--since T] [--until T] [-o json]\n"
     "\n"
     "Mean time to acknowledge (MTTA) and to resolve (MTTR) per severity, with the\n"
     "median and 90th percentile, for incidents opened from --since to --until\n"
     "(the server's defaults when left out); merged incidents are left out.\n"
     "\n"
     "example: dojowatch incident stats --since now-30d\n"},
};

static const struct dw_cli_command incident = {
    .name = "incident",
    .usage = dw_cli_incident_usage,
    .subs = subs,
    .nsubs = DW_ARRAY_LEN(subs),
    .names_text = "list, show, create, ack, state, resolve, update, note, action, actions, "
                  "merge, report, notice, stats",
    .flags = flags,
    .time_example = "now-7d",
    .timeout_ms = TIMEOUT_MS,
    .flag = sub_flag,
};

int dw_cli_incident(int argc, char **argv)
{
    struct opts o = {0};
    return dw_cli_subcmd_main(&incident, argc, argv, &o.s, &o);
}
