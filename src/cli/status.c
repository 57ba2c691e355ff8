/*
 * status.c - `dojowatch status`: the public status page from the command line.
 *
 *   status components                      GET /api/status/components
 *   status component ID                    GET /api/status/components/{id} (+ /uptime)
 *   status override ID STATE | --clear     POST /api/status/components/{id}
 *   status update INCIDENT --status S --body TEXT|--body-file F [--component ID=STATE]...
 *                                          POST /api/status/incidents/{id}/updates
 *   status maintenance list|create|update|delete
 *                                          GET/POST /api/status/maintenances,
 *                                          PATCH/DELETE /api/status/maintenances/{id}
 *   status subscribers list [--after N] [--limit N] [--all]
 *                                          GET /api/status/subscribers (admin)
 *   status subscribers import FILE [--dry-run]
 *                                          POST /api/status/subscribers (admin)
 *   status subscribers delete ID...        DELETE /api/status/subscribers/{id} (admin)
 *   status notices                         GET /api/status/notices
 *
 * DESIGN
 * A thin client shaped like incident.c, run by the subcommand runner
 * (subcmd.c). `maintenance` and `subscribers` are groups: dw_cli_status()
 * hands them to the runner again as commands of their own ("status
 * maintenance", "status subscribers"), so each action has its flags, its
 * --help, "did you mean" and exit status 2 for bad usage like every other
 * subcommand. One flag table serves the three commands; each entry lists
 * the flags it takes. Values the daemon would refuse anyway (states,
 * statuses, times, ids, a missing body) are checked here first so that the
 * message can say what to type instead.
 *
 * `subscribers import` reads a CSV file (a header line email[,webhook]
 * [,components], components separated by ';') or a JSON array of {email,
 * webhook, components}. Before anything is sent it asks the daemon for the
 * page's components (an admin-only request first, so a token without the
 * role is refused before any work) and checks every line: the CSV and JSON
 * syntax, the e-mail address, the webhook URL's form and the component ids.
 * Any bad line is reported as FILE:LINE:COL: reason (in file order, the
 * first problem of each line) and nothing is imported (exit status 2).
 * A valid file goes in requests of at most IMPORT_CHUNK subscribers (the
 * API takes 100,000 at most, all or nothing per request); with stderr on a
 * terminal a progress line shows the count and the rate. The daemon keeps
 * known addresses as they are, so when a later request is refused (a
 * private webhook address the page does not allow, the store) the message
 * says which lines landed and running the import again after the fix adds
 * only the rest.
 *
 * Threads: one.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/status.h"
#include "core/core.h"
#include "status/status.h"

#define TIMEOUT_MS 30000L
#define IMPORT_TIMEOUT_MS 300000L /* one request of IMPORT_CHUNK subscribers */
#define IMPORT_CHUNK 10000        /* subscribers per import request */
#define IMPORT_FILE_MAX (256u << 20)
#define IMPORT_SHOWN_MAX 50 /* bad lines printed; the others are counted */
#define PAGE_MAX 1000       /* subscribers per listing request (the API's maximum) */
#define COMPONENTS_MAX 100  /* --component flags of one update (the API's maximum) */
#define NEED_COMPONENT "which component? give its id (dojowatch status components)"
#define NEED_INCIDENT "which incident? give its id (dojowatch incident list)"
#define NEED_MAINTENANCE "which maintenance? give its id (dojowatch status maintenance list)"
#define NEED_SUBSCRIBER "which subscriber? give its id (dojowatch status subscribers list)"
#define STATES "operational, degraded_performance, partial_outage, major_outage, under_maintenance"
#define CSV_HEADER "email[,webhook][,components]"

const char dw_cli_status_usage[] =
    "usage: dojowatch status COMMAND [OPTIONS]\n"
    "\n"
    "The public status page of a running daemon (its status API): components and their\n"
    "state, manual overrides, public incident updates, scheduled maintenance, the\n"
    "page's subscribers and the notices sent to them.\n"
    "\n"
    "commands:\n"
    "  components                      every component: state, override, reasons\n"
    "  component ID                    one component and its uptime over 7, 30, 90 days\n"
    "  override ID STATE | --clear     set or clear a component's manual state\n"
    "  update INCIDENT --status S --body TEXT|--body-file F [--component ID=STATE]...\n"
    "                                  post a public update of an incident\n"
    "  maintenance list|create|update|delete\n"
    "                                  scheduled maintenance (dojowatch status maintenance\n"
    "                                  --help)\n"
    "  subscribers list|import|delete  the page's subscribers (admin; dojowatch status\n"
    "                                  subscribers --help)\n"
    "  notices                         notices to subscribers and how far each has gone\n"
    "\n"
    "States: " STATES ".\n"
    "Times: RFC 3339, Unix seconds, now, now-1h or now+1h.\n"
    "\n"
    "options of every command:\n"
    "  -s, --server URL      the daemon (default $DOJOWATCH_SERVER or " DW_CLI_DEFAULT_SERVER ")\n"
    "  -t, --token T         bearer token (default $DOJOWATCH_TOKEN): viewer to read,\n"
    "                        responder to override, update and schedule maintenance,\n"
    "                        admin for subscribers\n"
    "  -o, --output FORMAT   table (default) or json (the server's data)\n"
    "  -h, --help            this help (also: dojowatch status COMMAND --help)\n"
    "\n"
    "exit status: 0 done, 1 the server refused or could not be reached (its reason is\n"
    "printed), 2 bad usage or a bad import file (nothing imported).\n"
    "\n"
    "examples:\n"
    "  dojowatch status override api major_outage\n"
    "  dojowatch status update INC-20260302100000-1 --status identified \\\n"
    "      --body 'A bad deploy; rolling back.' --component api=partial_outage\n"
    "  dojowatch status maintenance create --title 'Database upgrade' --components api \\\n"
    "      --from 2026-03-10T02:00:00Z --until 2026-03-10T03:00:00Z\n"
    "  dojowatch status subscribers import subscribers.csv\n";

static const char maintenance_usage[] =
    "usage: dojowatch status maintenance COMMAND [OPTIONS]\n"
    "\n"
    "Scheduled maintenance on the status page: its components show under_maintenance\n"
    "inside the window and their alerts are silenced.\n"
    "\n"
    "commands:\n"
    "  list                            every maintenance, latest first\n"
    "  create --title T --from TIME --until TIME [--body TEXT] [--components a,b]\n"
    "                                  schedule one; prints its id\n"
    "  update ID [--title T] [--body TEXT] [--components a,b] [--from TIME]\n"
    "         [--until TIME] [--status verifying|completed]\n"
    "                                  change one\n"
    "  delete ID                       delete one (its silences expire)\n"
    "\n"
    "Times: RFC 3339, Unix seconds, now, now-1h or now+1h.\n"
    "Every command takes -s URL, -t TOKEN, -o json and --help (dojowatch status --help).\n"
    "Reading needs a viewer token, changes a responder token.\n";

static const char subscribers_usage[] =
    "usage: dojowatch status subscribers COMMAND [OPTIONS]\n"
    "\n"
    "The people and webhooks subscribed to the status page. Needs an admin token.\n"
    "\n"
    "commands:\n"
    "  list [--after ID] [--limit N] [--all]\n"
    "                                  subscribers by id, with the active and pending counts\n"
    "  import FILE [--dry-run]         add confirmed subscribers from a CSV file (" CSV_HEADER ")\n"
    "                                  or a JSON array; every line is checked first\n"
    "  delete ID...                    remove subscribers\n"
    "\n"
    "Every command takes -s URL, -t TOKEN, -o json and --help (dojowatch status --help).\n";

/* The flags beyond the common ones, of the three commands; an entry lists those it takes. */
enum {
    OPT_CLEAR = DW_CLI_OPT_FIRST,
    OPT_STATUS,
    OPT_BODY,
    OPT_BODY_FILE,
    OPT_COMPONENT,
    OPT_TITLE,
    OPT_COMPONENTS,
    OPT_FROM,
    OPT_UNTIL,
    OPT_AFTER,
    OPT_LIMIT,
    OPT_ALL,
    OPT_DRY_RUN,
    OPT_END_ /* not a flag */
};
#define BIT(opt) DW_CLI_BIT(opt)
_Static_assert(OPT_END_ - OPT_CLEAR <= DW_CLI_MAX_FLAGS, "the flags fit an unsigned");

static const struct option flags[] = {
    {"clear", no_argument, NULL, OPT_CLEAR},
    {"status", required_argument, NULL, OPT_STATUS},
    {"body", required_argument, NULL, OPT_BODY},
    {"body-file", required_argument, NULL, OPT_BODY_FILE},
    {"component", required_argument, NULL, OPT_COMPONENT},
    {"title", required_argument, NULL, OPT_TITLE},
    {"components", required_argument, NULL, OPT_COMPONENTS},
    {"from", required_argument, NULL, OPT_FROM},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"after", required_argument, NULL, OPT_AFTER},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"all", no_argument, NULL, OPT_ALL},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {0, 0, 0, 0},
};

struct opts {
    struct dw_cli_sub s;                   /* the client, -o json, the flags given */
    const char *component[COMPONENTS_MAX]; /* --component ID=STATE (borrowed from argv) */
    size_t ncomponent;
    int64_t from, until; /* ms */
    int64_t after, limit;
};

static const char *flag(const struct opts *o, int opt)
{
    return o->s.val[opt - OPT_CLEAR];
}

static bool given(const struct opts *o, int opt)
{
    return (o->s.given & BIT(opt)) != 0;
}

static int usage(const struct opts *o, const char *fmt, const char *arg)
{
    return dw_cli_sub_usage(&o->s, fmt, arg);
}

/* A usage error whose message is built first (msg is freed). */
static int usage_msg(const struct opts *o, char *msg)
{
    int rc = usage(o, "%s", msg);
    free(msg);
    return rc;
}

/*
 * One request of the status API: body (may be NULL; its reference is taken)
 * goes as JSON. With data, *data gets the envelope's "data"; routes that
 * answer without data (a public update, a deletion) pass NULL and a 2xx is
 * enough. 0, or 1 after the client printed why.
 */
static int api(const struct opts *o, const char *method, const char *path, json_t *body,
               json_t **data)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    const char *ctype = text ? "application/json" : NULL;
    json_decref(body);
    int rc;
    if (data) {
        rc = dw_cli_call(&o->s.c, method, path, ctype, text, data);
    } else {
        struct dw_buf out;
        dw_buf_init(&out, DW_CLI_MAX_RESPONSE);
        rc = dw_cli_request_ok(&o->s.c, method, path, ctype, text, &out);
        dw_buf_release(&out);
    }
    free(text);
    return rc;
}

/* prefix + id (URL-encoded) + suffix (caller frees). */
static char *api_path(const char *prefix, const char *id, const char *suffix)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_printf(&b, "%s/", prefix);
    dw_buf_url_encode(&b, id);
    dw_buf_puts(&b, suffix);
    return dw_buf_steal(&b);
}

/* GET path and print its data as text (print) or JSON. */
static int get_and_print(const struct opts *o, const char *path, void (*print)(json_t *))
{
    json_t *data;
    int rc = api(o, "GET", path, NULL, &data);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        print(data);
    json_decref(data);
    return rc;
}

/* ---- flags ---- */

/* "id=state" of --component; -1 to go on, or the exit status. */
static int component_flag(struct opts *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return usage(o, "--component needs ID=STATE (e.g. api=partial_outage), got '%s'", arg);
    if (dw_status_state_parse(eq + 1) < 0)
        return usage_msg(
            o, dw_asprintf("--component %s: unknown state '%s' (%s)", arg, eq + 1, STATES));
    if (o->ncomponent == COMPONENTS_MAX)
        return usage(o, "%s", "at most 100 --component flags");
    o->component[o->ncomponent++] = arg;
    return -1;
}

/* A window's time: what dw_cli_sub_time() takes, or now+DURATION (maintenance lies
 * ahead); -1 to go on, or the exit status. */
static int window_time(struct opts *o, const char *arg, int64_t *ms)
{
    int64_t ahead;
    if (dw_str_has_prefix(arg, "now+") && dw_parse_duration(arg + 4, &ahead) == 0) {
        *ms = dw_now_ms() + ahead;
        return -1;
    }
    return dw_cli_sub_time(&o->s, arg, ms);
}

/* A flag of a subcommand (its value already kept); -1 to go on, or the exit status. */
static int sub_flag(void *ctx, int opt, const char *arg)
{
    struct opts *o = ctx;
    switch (opt) {
    case OPT_COMPONENT: return component_flag(o, arg);
    case OPT_FROM: return window_time(o, arg, &o->from);
    case OPT_UNTIL: return window_time(o, arg, &o->until);
    case OPT_AFTER:
        if (dw_parse_int64(arg, &o->after) != 0 || o->after < 0)
            return usage(o, "--after needs a subscriber id (0 or more), got '%s'", arg);
        return -1;
    case OPT_LIMIT:
        if (dw_parse_int64(arg, &o->limit) != 0 || o->limit < 1 || o->limit > PAGE_MAX)
            return usage(o, "--limit needs a number from 1 to 1000, got '%s'", arg);
        return -1;
    default: return -1;
    }
}

/* ---- small formatting ---- */

/* ms since the epoch (a JSON integer) as RFC 3339 into out[40]; "-" for none. */
static const char *ms_text(json_t *v, char out[40])
{
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return "-";
    dw_format_rfc3339(json_integer_value(v), out, 40);
    return out;
}

/* The strings of arr, or the `key` field of its objects, joined by sep into b. */
static void put_joined(struct dw_buf *b, json_t *arr, const char *key, const char *sep)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_is_object(v) ? dw_cli_str(v, key, "?") : json_string_value(v);
        dw_buf_printf(b, "%s%s", i ? sep : "", s ? s : "?");
    }
}

/* "label  value" for the detail views; nothing without a value. */
static void print_field(const char *label, const char *value)
{
    if (value)
        printf("%-14s %s\n", label, value);
}

/* ---- components ---- */

#define COMPONENTS_ROW "%-16s  %-24s  %-20s  %-20s  %s\n"

static void print_components(json_t *data)
{
    printf(COMPONENTS_ROW, "ID", "NAME", "STATE", "OVERRIDE", "REASONS");
    size_t i;
    json_t *c;
    json_array_foreach(data, i, c)
    {
        struct dw_buf reasons;
        dw_buf_init(&reasons, 0);
        put_joined(&reasons, json_object_get(c, "reasons"), NULL, "; ");
        printf(COMPONENTS_ROW, dw_cli_str(c, "id", "?"), dw_cli_str(c, "name", ""),
               dw_cli_str(c, "state", "?"),
               dw_cli_str(json_object_get(c, "override"), "state", "-"),
               reasons.len ? reasons.data : "-");
        dw_buf_release(&reasons);
    }
    if (!json_array_size(data))
        fprintf(stderr, "the page has no components (the status section of the config)\n");
}

static int cmd_components(void *ctx, char **args)
{
    (void)args;
    return get_and_print(ctx, "/api/status/components", print_components);
}

static void print_uptime(json_t *up)
{
    char target[32], line[64];
    snprintf(target, sizeof target, "%g %%", json_number_value(json_object_get(up, "target")));
    static const char *const windows[] = {"7d", "30d", "90d"};
    for (size_t i = 0; i < DW_ARRAY_LEN(windows); i++) {
        json_t *v = json_object_get(json_object_get(up, "uptime"), windows[i]);
        char label[24];
        snprintf(label, sizeof label, "uptime %s", windows[i]);
        if (json_is_number(v))
            snprintf(line, sizeof line, "%.3f %%", json_number_value(v));
        else
            snprintf(line, sizeof line, "no data");
        print_field(label, line);
    }
    print_field("target", target);
    size_t i, observed = 0;
    json_t *d;
    json_array_foreach(json_object_get(up, "days"), i, d) observed +=
        json_integer_value(json_object_get(d, "observed_ms")) > 0;
    snprintf(line, sizeof line, "%zu of %zu", observed,
             json_array_size(json_object_get(up, "days")));
    print_field("days observed", line);
}

static void print_component(json_t *c, json_t *up)
{
    print_field("component", dw_cli_str(c, "id", "?"));
    print_field("name", dw_cli_str(c, "name", NULL));
    print_field("group", dw_cli_str(c, "group", NULL));
    print_field("state", dw_cli_str(c, "state", "?"));
    print_field("computed", dw_cli_str(c, "computed", NULL));
    json_t *ov = json_object_get(c, "override");
    if (json_is_object(ov)) {
        char at[40];
        char *s = dw_asprintf("%s, set by %s at %s", dw_cli_str(ov, "state", "?"),
                              dw_cli_str(ov, "by", "?"), ms_text(json_object_get(ov, "at"), at));
        print_field("override", s);
        free(s);
    } else {
        print_field("override", "none");
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(c, "reasons"), i, r)
        print_field(i ? "" : "reasons", json_string_value(r));
    print_uptime(up);
}

static int cmd_component(void *ctx, char **args)
{
    struct opts *o = ctx;
    char *path = api_path("/api/status/components", args[0], "");
    char *uptime = api_path("/api/status/components", args[0], "/uptime");
    json_t *c = NULL, *up = NULL;
    int rc = api(o, "GET", path, NULL, &c);
    if (rc == 0)
        rc = api(o, "GET", uptime, NULL, &up);
    if (rc == 0 && o->s.json) {
        json_t *both = json_pack("{s:O, s:O}", "component", c, "uptime", up);
        dw_cli_print_json(both);
        json_decref(both);
    } else if (rc == 0) {
        print_component(c, up);
    }
    json_decref(up);
    json_decref(c);
    free(uptime);
    free(path);
    return rc;
}

static int cmd_override(void *ctx, char **args)
{
    struct opts *o = ctx;
    const char *state = args[1];
    if (given(o, OPT_CLEAR) && state)
        return usage(o, "%s", "give a STATE or --clear, not both");
    if (!given(o, OPT_CLEAR) && !state)
        return usage(o, "%s", "which state? one of " STATES ", or --clear");
    if (state && dw_status_state_parse(state) < 0)
        return usage_msg(o, dw_asprintf("unknown state '%s' (%s)", state, STATES));
    char *path = api_path("/api/status/components", args[0], "");
    json_t *data;
    int rc = api(o, "POST", path, json_pack("{s:s?}", "state", state), &data);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0 && state)
        printf("%s is %s until the override is cleared\n", args[0], state);
    else if (rc == 0)
        printf("%s: override cleared, now %s\n", args[0], dw_cli_str(data, "state", "?"));
    json_decref(data);
    return rc;
}

/* ---- public incident updates ---- */

static bool update_status_ok(const char *s)
{
    static const char *const ok[] = {"investigating", "identified", "monitoring", "resolved",
                                     "postmortem"};
    for (size_t i = 0; i < DW_ARRAY_LEN(ok); i++)
        if (strcmp(s, ok[i]) == 0)
            return true;
    return false;
}

/* The text of --body or --body-file (- is stdin), trailing newlines dropped; NULL after
 * the usage error (*rc). Caller frees. */
static char *update_body(const struct opts *o, int *rc)
{
    const char *body = flag(o, OPT_BODY), *file = flag(o, OPT_BODY_FILE);
    *rc = 0;
    if (body && file) {
        *rc = usage(o, "%s", "give --body or --body-file, not both");
        return NULL;
    }
    if (!body && !file) {
        *rc = usage(o, "%s", "what does the update say? give --body TEXT or --body-file FILE");
        return NULL;
    }
    char *text = NULL;
    if (file) {
        struct dw_diags d;
        dw_diags_init(&d);
        size_t len;
        text = dw_read_file(strcmp(file, "-") ? file : "/dev/stdin", 1u << 20, &len, &d);
        if (!text)
            *rc = usage_msg(o, dw_asprintf("--body-file %s: %s", file, d.n ? d.items[0].msg : "?"));
        dw_diags_release(&d);
    } else {
        text = dw_strdup(body);
    }
    size_t n = text ? strlen(text) : 0;
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    if (text && (n == 0 || n > DW_STATUS_BODY_MAX)) {
        *rc = usage_msg(
            o, dw_asprintf("the body has %zu bytes; it needs 1 to %d", n, DW_STATUS_BODY_MAX));
        free(text);
        text = NULL;
    }
    return text;
}

static int cmd_update(void *ctx, char **args)
{
    struct opts *o = ctx;
    const char *status = flag(o, OPT_STATUS);
    if (!status)
        return usage(o, "%s",
                     "--status is required: investigating, identified, monitoring, resolved or "
                     "postmortem");
    if (!update_status_ok(status))
        return usage(o,
                     "unknown status '%s' (investigating, identified, monitoring, resolved, "
                     "postmortem)",
                     status);
    int rc;
    char *body = update_body(o, &rc);
    if (!body)
        return rc;
    json_t *comps = json_object();
    for (size_t i = 0; i < o->ncomponent; i++) {
        const char *eq = strchr(o->component[i], '=');
        char *id = dw_strndup(o->component[i], (size_t)(eq - o->component[i]));
        json_object_set_new(comps, id, json_string(eq + 1));
        free(id);
    }
    json_t *sent = json_pack("{s:s, s:s, s:s, s:o}", "incident", args[0], "status", status, "body",
                             body, "components", comps);
    char *path = api_path("/api/status/incidents", args[0], "/updates");
    rc = api(o, "POST", path,
             json_pack("{s:s, s:s, s:O}", "status", status, "body", body, "components", comps),
             NULL);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(sent);
    else if (rc == 0)
        printf("%s is %s on the status page (public update posted)\n", args[0], status);
    json_decref(sent);
    free(body);
    return rc;
}

/* ---- maintenance ---- */

#define MAINT_ROW "%-22s  %-12s  %-20s  %-20s  %-20s  %s\n"

static void print_maintenances(json_t *data)
{
    printf(MAINT_ROW, "ID", "STATUS", "FROM", "UNTIL", "COMPONENTS", "NAME");
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m)
    {
        struct dw_buf comps;
        dw_buf_init(&comps, 0);
        put_joined(&comps, json_object_get(m, "components"), "id", ",");
        printf(MAINT_ROW, dw_cli_str(m, "id", "?"), dw_cli_str(m, "status", "?"),
               dw_cli_str(m, "scheduled_for", "-"), dw_cli_str(m, "scheduled_until", "-"),
               comps.len ? comps.data : "-", dw_cli_str(m, "name", ""));
        dw_buf_release(&comps);
    }
    if (!json_array_size(data))
        fprintf(stderr, "no maintenance\n");
}

static int cmd_maint_list(void *ctx, char **args)
{
    (void)args;
    return get_and_print(ctx, "/api/status/maintenances", print_maintenances);
}

/* The body of create and update from the flags given. */
static json_t *maint_body(const struct opts *o)
{
    json_t *in = json_object();
    char t[40];
    if (flag(o, OPT_TITLE))
        json_object_set_new(in, "name", json_string(flag(o, OPT_TITLE)));
    if (flag(o, OPT_BODY))
        json_object_set_new(in, "body", json_string(flag(o, OPT_BODY)));
    if (given(o, OPT_FROM)) {
        dw_format_rfc3339(o->from, t, sizeof t);
        json_object_set_new(in, "scheduled_for", json_string(t));
    }
    if (given(o, OPT_UNTIL)) {
        dw_format_rfc3339(o->until, t, sizeof t);
        json_object_set_new(in, "scheduled_until", json_string(t));
    }
    if (flag(o, OPT_STATUS))
        json_object_set_new(in, "status", json_string(flag(o, OPT_STATUS)));
    const char *list = flag(o, OPT_COMPONENTS);
    if (list) {
        json_t *ids = json_array();
        for (const char *p = list; *p;) {
            size_t n = strcspn(p, ",");
            char *id = dw_strndup(p, n), *s = id, *e = id + n;
            while (*s == ' ')
                s++;
            while (e > s && e[-1] == ' ')
                *--e = '\0';
            if (*s)
                json_array_append_new(ids, json_string(s));
            free(id);
            p += n + (p[n] == ',');
        }
        json_object_set_new(in, "components", ids);
    }
    return in;
}

/* The window's flags: until after from (when both are given); -1 to go on. */
static int check_window(const struct opts *o)
{
    if (given(o, OPT_FROM) && given(o, OPT_UNTIL) && o->until <= o->from)
        return usage(o, "%s", "--until must be after --from");
    if (flag(o, OPT_TITLE) && !*flag(o, OPT_TITLE))
        return usage(o, "%s", "--title is empty; say what is being done");
    return -1;
}

static int cmd_maint_create(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    if (!flag(o, OPT_TITLE))
        return usage(o, "%s", "--title is required: what is being done, in a few words");
    if (!given(o, OPT_FROM) || !given(o, OPT_UNTIL))
        return usage(o, "%s", "--from and --until are required: when the window opens and closes");
    int rc = check_window(o);
    if (rc >= 0)
        return rc;
    json_t *data;
    rc = api(o, "POST", "/api/status/maintenances", maint_body(o), &data);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("%s\n", dw_cli_str(data, "id", "?"));
    json_decref(data);
    return rc;
}

static int cmd_maint_update(void *ctx, char **args)
{
    struct opts *o = ctx;
    const char *status = flag(o, OPT_STATUS);
    if (!(o->s.given & (BIT(OPT_TITLE) | BIT(OPT_BODY) | BIT(OPT_COMPONENTS) | BIT(OPT_FROM) |
                        BIT(OPT_UNTIL) | BIT(OPT_STATUS))))
        return usage(o, "%s",
                     "nothing to change; give --title, --body, --components, --from, --until "
                     "or --status");
    if (status && strcmp(status, "verifying") && strcmp(status, "completed"))
        return usage(o, "--status '%s': only verifying or completed can be set by hand", status);
    int rc = check_window(o);
    if (rc >= 0)
        return rc;
    char *path = api_path("/api/status/maintenances", args[0], "");
    json_t *data;
    rc = api(o, "PATCH", path, maint_body(o), &data);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        printf("%s updated\n", args[0]);
    json_decref(data);
    return rc;
}

static int cmd_maint_delete(void *ctx, char **args)
{
    struct opts *o = ctx;
    char *path = api_path("/api/status/maintenances", args[0], "");
    int rc = api(o, "DELETE", path, NULL, NULL);
    free(path);
    if (rc == 0 && o->s.json) {
        json_t *out = json_pack("{s:s}", "deleted", args[0]);
        dw_cli_print_json(out);
        json_decref(out);
    } else if (rc == 0) {
        printf("maintenance %s deleted\n", args[0]);
    }
    return rc;
}

/* ---- subscribers: list and delete ---- */

#define SUBS_ROW "%-8s  %-7s  %-7s  %-24s  %-16s  %s\n"

static void print_subscriber(json_t *s)
{
    char id[24], created[40];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(s, "id")));
    struct dw_buf comps, addr;
    dw_buf_init(&comps, 0);
    dw_buf_init(&addr, 0);
    put_joined(&comps, json_object_get(s, "components"), NULL, ",");
    dw_buf_puts(&addr, dw_cli_str(s, "address", "?"));
    if (strcmp(dw_cli_str(s, "kind", ""), "webhook") == 0)
        dw_buf_printf(&addr, " (owner %s)", dw_cli_str(s, "email", "?"));
    printf(SUBS_ROW, id, dw_cli_str(s, "kind", "?"), dw_cli_str(s, "state", "?"),
           ms_text(json_object_get(s, "created_at"), created), comps.len ? comps.data : "all",
           addr.data);
    dw_buf_release(&addr);
    dw_buf_release(&comps);
}

/* One page of the listing after `after`: 0 with *page, or 1. */
static int subscribers_page(const struct opts *o, int64_t after, int64_t limit, json_t **page)
{
    char path[96];
    snprintf(path, sizeof path, "/api/status/subscribers?after=%lld", (long long)after);
    if (limit)
        snprintf(path + strlen(path), sizeof path - strlen(path), "&limit=%lld", (long long)limit);
    return api(o, "GET", path, NULL, page);
}

static int cmd_subs_list(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    bool all = given(o, OPT_ALL);
    if (all && given(o, OPT_LIMIT))
        return usage(o, "%s", "--all pages through everything; leave out --limit");
    json_t *every = all && o->s.json ? json_array() : NULL, *page = NULL;
    int64_t after = o->after;
    size_t shown = 0, n = 0, pages = 0;
    int rc;
    do {
        json_decref(page);
        rc = subscribers_page(o, after, all ? PAGE_MAX : o->limit, &page);
        if (rc == 0 && !o->s.json && pages++ == 0)
            printf(SUBS_ROW, "ID", "KIND", "STATE", "CREATED", "COMPONENTS", "ADDRESS");
        json_t *subs = json_object_get(page, "subscribers"), *s;
        size_t i;
        n = json_array_size(subs);
        json_array_foreach(subs, i, s)
        {
            if (every)
                json_array_append(every, s);
            else if (!o->s.json)
                print_subscriber(s);
            after = json_integer_value(json_object_get(s, "id"));
        }
        shown += n;
    } while (rc == 0 && all && n == PAGE_MAX);
    if (rc == 0 && every)
        json_object_set(page, "subscribers", every);
    if (rc == 0 && o->s.json) {
        dw_cli_print_json(page);
    } else if (rc == 0) {
        printf("\n%zu shown; %lld active, %lld pending\n", shown,
               (long long)json_integer_value(json_object_get(page, "active")),
               (long long)json_integer_value(json_object_get(page, "pending")));
        if (!all && n && n == (size_t)(o->limit ? o->limit : PAGE_MAX))
            fprintf(stderr, "more may follow: --after %lld for the next page, or --all\n",
                    (long long)after);
    }
    json_decref(every);
    json_decref(page);
    return rc;
}

static int cmd_subs_delete(void *ctx, char **args)
{
    struct opts *o = ctx;
    for (char **a = args; *a; a++) {
        int64_t id;
        if (dw_parse_int64(*a, &id) != 0 || id < 1)
            return usage(o, "'%s' is not a subscriber id (dojowatch status subscribers list)", *a);
    }
    int status = 0;
    for (; *args; args++) {
        char *path = api_path("/api/status/subscribers", *args, "");
        json_t *data;
        if (api(o, "DELETE", path, NULL, &data) != 0)
            status = 1;
        else if (o->s.json)
            dw_cli_print_json(data);
        else
            printf("subscriber %s deleted\n", *args);
        json_decref(data);
        free(path);
    }
    return status;
}

/* ---- subscribers: import ---- */

enum { F_EMAIL, F_WEBHOOK, F_COMPONENTS, F_COUNT };
static const char *const field_names[F_COUNT] = {"email", "webhook", "components"};

/* One subscriber of the file and where it is. */
struct row {
    int line, col0;      /* where it starts */
    int col[F_COUNT];    /* of each field (JSON: of the element) */
    const char *email;   /* borrowed: the file's buffer (CSV) or the document (JSON) */
    const char *webhook; /* NULL or "": an e-mail subscription */
    json_t *components;  /* ids (owned), NULL: every component */
};

struct import {
    struct opts *o;
    const char *file;
    struct row *rows;
    size_t n, cap;
    json_t *doc;      /* JSON input: the parsed elements */
    const char **ids; /* the page's component ids (into known) */
    size_t nids;
    json_t *known;       /* GET /api/status/components */
    struct dw_diags bad; /* FILE:LINE:COL: reason, one per bad line */
};

/* The first unknown id of r's components, or NULL. */
static const char *unknown_component(const struct import *im, const struct row *r)
{
    size_t i, k;
    json_t *v;
    json_array_foreach(r->components, i, v)
    {
        const char *id = json_string_value(v);
        for (k = 0; k < im->nids && strcmp(im->ids[k], id) != 0; k++)
            ;
        if (k == im->nids)
            return id;
    }
    return NULL;
}

/* Checks a row and keeps it, or reports its first problem. */
static void add_row(struct import *im, struct row *r)
{
    const char *why = dw_status_email_problem(r->email), *id = NULL;
    int f = F_EMAIL;
    if (!why && r->webhook && *r->webhook) {
        why = dw_status_webhook_problem(r->webhook, true); /* the daemon knows its own rule */
        f = F_WEBHOOK;
    }
    if (!why && (id = unknown_component(im, r)) != NULL) {
        const char *near = dw_suggest(id, im->ids, im->nids);
        dw_diags_add(&im->bad, im->file, r->line, r->col[F_COMPONENTS], NULL,
                     "unknown component '%s'%s%s%s", id, near ? "; did you mean '" : "",
                     near ? near : "", near ? "'?" : "");
    } else if (why) {
        dw_diags_add(&im->bad, im->file, r->line, r->col[f], NULL, "%s", why);
    } else {
        im->rows = dw_grow(im->rows, &im->cap, im->n + 1, sizeof *im->rows);
        im->rows[im->n++] = *r;
        return;
    }
    json_decref(r->components);
}

/* ---- the CSV form ---- */

#define CSV_FIELDS_MAX (F_COUNT + 1) /* one more than a header can name: too many */

/*
 * Splits one line (NUL-terminated, without its newline) into at most max
 * fields in place: surrounding blanks dropped, "quoted" fields with ""
 * for a quote. The number of fields, or -1 with *bad_col and *why.
 */
static int csv_split(char *s, char **f, int *cols, int max, int *bad_col, const char **why)
{
    int n = 0;
    for (char *r = s;;) {
        while (*r == ' ' || *r == '\t')
            r++;
        char *w = r, *start = r;
        f[n] = w;
        cols[n] = (int)(r - s) + 1;
        if (*r == '"') {
            for (r++; *r && (*r != '"' || r[1] == '"'); r += 1 + (*r == '"'))
                *w++ = *r;
            *why = *r ? NULL : "a quoted field is not closed (a field cannot span lines)";
            *bad_col = cols[n];
            if (*why)
                return -1;
            for (r++; *r == ' ' || *r == '\t';)
                r++;
            *why = *r && *r != ',' ? "text after a closing quote; quote the whole field" : NULL;
        } else {
            while (*r && *r != ',' && *r != '"')
                *w++ = *r++;
            *why = *r == '"' ? "a quote inside a field; quote the whole field and double the quote"
                             : NULL;
            while (w > start && (w[-1] == ' ' || w[-1] == '\t'))
                w--;
        }
        if (*why) {
            *bad_col = (int)(r - s) + 1;
            return -1;
        }
        char sep = *r;
        *w = '\0';
        if (++n == max || !sep)
            return n;
        r++;
    }
}

/* The header line: which field is which (map[F_*], -1 for none). False after the error. */
static bool csv_header(struct import *im, int line, char **f, const int *cols, int nf,
                       int map[F_COUNT])
{
    for (int i = 0; i < nf; i++) {
        int k = 0;
        while (k < F_COUNT && strcasecmp(f[i], field_names[k]) != 0)
            k++;
        const char *why = k == F_COUNT && strchr(f[i], '@')
                              ? "the first line must be the header " CSV_HEADER
                          : k == F_COUNT ? "unknown column; the header is " CSV_HEADER
                          : map[k] >= 0  ? "this column is named twice"
                                         : NULL;
        if (why) {
            dw_diags_add(&im->bad, im->file, line, cols[i], NULL, "'%s': %s", f[i], why);
            return false;
        }
        map[k] = i;
    }
    if (map[F_EMAIL] < 0)
        dw_diags_add(&im->bad, im->file, line, 1, NULL,
                     "the header has no email column: " CSV_HEADER);
    return map[F_EMAIL] >= 0;
}

/* "a; b" as ["a", "b"]; NULL when it names none. */
static json_t *csv_components(const char *s)
{
    json_t *ids = json_array();
    while (*s) {
        size_t n = strcspn(s, ";");
        while (n && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        size_t len = n;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len)
            json_array_append_new(ids, json_stringn(s, len));
        s += n + (s[n] == ';');
    }
    if (!json_array_size(ids)) {
        json_decref(ids);
        return NULL;
    }
    return ids;
}

static void csv_row(struct import *im, int line, char **f, const int *cols, int nf,
                    const int map[F_COUNT])
{
    struct row r = {.line = line, .col0 = 1};
    const char *v[F_COUNT] = {"", NULL, NULL};
    for (int k = 0; k < F_COUNT; k++) {
        r.col[k] = map[k] >= 0 && map[k] < nf ? cols[map[k]] : 1;
        if (map[k] >= 0 && map[k] < nf)
            v[k] = f[map[k]];
    }
    r.email = v[F_EMAIL];
    r.webhook = v[F_WEBHOOK];
    r.components = v[F_COMPONENTS] ? csv_components(v[F_COMPONENTS]) : NULL;
    add_row(im, &r);
}

static void csv_parse(struct import *im, char *buf)
{
    int map[F_COUNT] = {-1, -1, -1}, ncols = 0, line = 0;
    char *next;
    for (char *p = buf; p; p = next) {
        line++;
        char *nl = strchr(p, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r')
            p[--len] = '\0';
        if (strspn(p, " \t") == len)
            continue;
        char *f[CSV_FIELDS_MAX];
        int cols[CSV_FIELDS_MAX], bad_col, nf;
        const char *why;
        nf = csv_split(p, f, cols, CSV_FIELDS_MAX, &bad_col, &why);
        if (nf < 0)
            dw_diags_add(&im->bad, im->file, line, bad_col, NULL, "%s", why);
        else if (!ncols && !csv_header(im, line, f, cols, nf, map))
            return;
        else if (!ncols)
            ncols = nf;
        else if (nf > ncols)
            dw_diags_add(&im->bad, im->file, line, cols[ncols], NULL,
                         "more fields than the header's %d (" CSV_HEADER ")", ncols);
        else
            csv_row(im, line, f, cols, nf, map);
        if (nf < 0 && !ncols)
            return;
    }
    if (!ncols && !im->bad.n)
        dw_diags_add(&im->bad, im->file, 1, 1, NULL,
                     "the file is empty; its first line must be the header " CSV_HEADER);
}

/* ---- the JSON form ---- */

/* A position in the text: the line and where it starts, moved forward as parsing goes. */
struct where {
    const char *p;
    int line;
    const char *line_start;
};

static int col_at(struct where *w, const char *to)
{
    for (; w->p < to; w->p++)
        if (*w->p == '\n') {
            w->line++;
            w->line_start = w->p + 1;
        }
    return (int)(to - w->line_start) + 1;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* One element: its fields' types and names; the row is checked and kept by add_row. */
static void json_row(struct import *im, json_t *e, int line, int col)
{
    const char *key, *why = NULL;
    json_t *v;
    json_object_foreach(e, key, v)
    {
        int k = 0;
        while (k < F_COUNT && strcmp(key, field_names[k]) != 0)
            k++;
        if (k == F_COUNT) {
            dw_diags_add(&im->bad, im->file, line, col, NULL,
                         "unknown key \"%s\" (email, webhook, components)", key);
            return;
        }
    }
    json_t *email = json_object_get(e, "email"), *hook = json_object_get(e, "webhook");
    json_t *comps = json_object_get(e, "components");
    size_t i;
    json_array_foreach(comps, i, v) if (!json_is_string(v)) why =
        "\"components\" must be an array of component ids";
    if (!json_is_string(email))
        why = "each subscriber needs \"email\": a string";
    else if (hook && !json_is_null(hook) && !json_is_string(hook))
        why = "\"webhook\" must be a string (a URL)";
    else if (comps && !json_is_null(comps) && !json_is_array(comps))
        why = "\"components\" must be an array of component ids";
    if (why) {
        dw_diags_add(&im->bad, im->file, line, col, NULL, "%s", why);
        return;
    }
    struct row r = {.line = line,
                    .col0 = col,
                    .col = {col, col, col},
                    .email = json_string_value(email),
                    .webhook = json_string_value(hook),
                    .components = json_array_size(comps) ? json_incref(comps) : NULL};
    add_row(im, &r);
}

static void json_parse(struct import *im, const char *buf, size_t len)
{
    const char *end = buf + len, *p = skip_ws(buf, end);
    struct where w = {buf, 1, buf};
    im->doc = json_array();
    const char *why = p < end && *p == '[' ? NULL : "expected a JSON array of subscribers";
    if (!why)
        p = skip_ws(p + 1, end);
    while (!why && !(p < end && *p == ']')) {
        int col = col_at(&w, p), line = w.line;
        if (p == end || *p != '{') {
            why = p == end ? "the array is not closed with ]"
                           : "expected an object {\"email\": ..., \"webhook\": ..., "
                             "\"components\": [...]}";
            break;
        }
        json_error_t je;
        json_t *e = json_loadb(p, (size_t)(end - p), JSON_DISABLE_EOF_CHECK, &je);
        if (!e) {
            dw_diags_add(&im->bad, im->file, line + je.line - 1,
                         je.line == 1 ? col + je.column - 1 : je.column, NULL, "%s", je.text);
            return;
        }
        json_array_append_new(im->doc, e);
        json_row(im, e, line, col);
        p = skip_ws(p + je.position, end);
        if (p < end && *p == ']')
            break;
        if (p == end || *p != ',')
            why =
                p == end ? "the array is not closed with ]" : "expected , or ] after a subscriber";
        else if ((p = skip_ws(p + 1, end)) < end && *p == ']')
            why = "a comma before ]";
    }
    if (!why && (p = skip_ws(p + 1, end)) != end)
        why = "text after the array";
    if (why)
        dw_diags_add(&im->bad, im->file, w.line, col_at(&w, p), NULL, "%s", why);
}

/* ---- sending ---- */

/* Before reading the file: the role (an admin-only request) and the page's components. */
static int import_preflight(struct import *im)
{
    json_t *page;
    int rc = subscribers_page(im->o, 0, 1, &page);
    json_decref(page);
    if (rc == 0)
        rc = api(im->o, "GET", "/api/status/components", NULL, &im->known);
    if (rc != 0)
        return rc;
    im->ids = dw_calloc(json_array_size(im->known) + 1, sizeof *im->ids);
    size_t i;
    json_t *c;
    json_array_foreach(im->known, i, c) im->ids[im->nids++] = dw_cli_str(c, "id", "");
    return 0;
}

/* Prints the bad lines (the first IMPORT_SHOWN_MAX) and what to do; 2. */
static int import_refused(const struct import *im)
{
    struct dw_buf line;
    dw_buf_init(&line, 0);
    for (size_t i = 0; i < im->bad.n && i < IMPORT_SHOWN_MAX; i++) {
        dw_buf_clear(&line);
        dw_diag_format(&im->bad.items[i], &line);
        fprintf(stderr, "%s\n", line.data);
    }
    dw_buf_release(&line);
    if (im->bad.n > IMPORT_SHOWN_MAX)
        fprintf(stderr, "... and %zu more bad lines\n", im->bad.n - IMPORT_SHOWN_MAX);
    fprintf(stderr,
            "dojowatch %s: %s: %zu bad line%s; nothing was imported: fix %s and run the "
            "import again\n",
            im->o->s.c.cmd, im->file, im->bad.n, im->bad.n == 1 ? "" : "s",
            im->bad.n == 1 ? "it" : "them");
    return 2;
}

static json_t *row_json(const struct row *r)
{
    json_t *o = json_pack("{s:s}", "email", r->email);
    if (r->webhook && *r->webhook)
        json_object_set_new(o, "webhook", json_string(r->webhook));
    if (r->components)
        json_object_set(o, "components", r->components);
    return o;
}

/* The progress line on a terminal: done of total and the rate. */
static void import_progress(const struct import *im, size_t done, int64_t start_ns)
{
    double s = (double)(dw_mono_ns() - start_ns) / 1e9;
    fprintf(stderr, "\r\033[K%s: %zu of %zu subscribers (%d%%), %.0f a second", im->o->s.c.cmd,
            done, im->n, (int)(done * 100 / im->n), s > 0 ? (double)done / s : 0.0);
    fflush(stderr);
}

/*
 * After the request with rows at..at+k-1 was refused (the client printed the
 * server's reason): the line the reason names ("subscriber N: why", N within
 * the request) as FILE:LINE:COL, and what landed before.
 */
static void import_failed(const struct import *im, size_t at, size_t k, const struct dw_buf *out)
{
    json_t *doc = out->len ? json_loadb(out->data, out->len, 0, NULL) : NULL;
    const char *err = json_string_value(json_object_get(doc, "error"));
    size_t idx = 0;
    int used = 0;
    if (err && sscanf(err, "subscriber %zu: %n", &idx, &used) == 1 && used && idx < k) {
        const struct row *r = &im->rows[at + idx];
        const char *end = strstr(err + used, " (nothing was imported)");
        fprintf(stderr, "%s:%d:%d: %.*s\n", im->file, r->line, r->col0,
                end ? (int)(end - err - used) : (int)strlen(err + used), err + used);
    }
    json_decref(doc);
    if (at == 0)
        fprintf(stderr, "dojowatch %s: nothing was imported\n", im->o->s.c.cmd);
    else
        fprintf(stderr,
                "dojowatch %s: lines %d to %d were refused as a whole; the %zu subscribers "
                "before line %d were imported. Known addresses are kept as they are: fix %s "
                "and run the import again to add the rest\n",
                im->o->s.c.cmd, im->rows[at].line, im->rows[at + k - 1].line, at, im->rows[at].line,
                im->file);
}

/* Sends the rows in requests of IMPORT_CHUNK; *added counts the new ones. 0 or 1. */
static int import_send(struct import *im, size_t *added, size_t *requests)
{
    bool tty = isatty(STDERR_FILENO);
    int64_t start = dw_mono_ns();
    struct opts *o = im->o;
    o->s.c.timeout_ms = IMPORT_TIMEOUT_MS;
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < im->n; at += IMPORT_CHUNK) {
        size_t k = im->n - at < IMPORT_CHUNK ? im->n - at : IMPORT_CHUNK;
        if (tty)
            import_progress(im, at, start);
        json_t *chunk = json_array();
        for (size_t i = 0; i < k; i++)
            json_array_append_new(chunk, row_json(&im->rows[at + i]));
        char *text = json_dumps(chunk, JSON_COMPACT);
        json_decref(chunk);
        struct dw_buf out;
        dw_buf_init(&out, DW_CLI_MAX_RESPONSE);
        rc = dw_cli_request_ok(&o->s.c, "POST", "/api/status/subscribers", "application/json", text,
                               &out);
        if (tty && rc != 0)
            fputs("\r\033[K", stderr);
        if (rc != 0) {
            import_failed(im, at, k, &out);
        } else {
            json_t *doc = json_loadb(out.data, out.len, 0, NULL);
            *added +=
                (size_t)json_integer_value(json_object_get(json_object_get(doc, "data"), "added"));
            (*requests)++;
            json_decref(doc);
        }
        dw_buf_release(&out);
        free(text);
    }
    if (tty && rc == 0)
        fputs("\r\033[K", stderr);
    return rc;
}

static void import_release(struct import *im)
{
    for (size_t i = 0; i < im->n; i++)
        json_decref(im->rows[i].components);
    free(im->rows);
    free(im->ids);
    json_decref(im->known);
    json_decref(im->doc);
    dw_diags_release(&im->bad);
}

static void import_report(const struct import *im, size_t added, size_t requests, bool dry)
{
    if (im->o->s.json) {
        json_t *out = json_pack("{s:s, s:I, s:b}", "file", im->file, "subscribers",
                                (json_int_t)im->n, "imported", !dry);
        if (!dry) {
            json_object_set_new(out, "added", json_integer((json_int_t)added));
            json_object_set_new(out, "known", json_integer((json_int_t)(im->n - added)));
            json_object_set_new(out, "requests", json_integer((json_int_t)requests));
        }
        dw_cli_print_json(out);
        json_decref(out);
    } else if (dry) {
        printf("%s: %zu subscribers, every line valid (nothing imported: --dry-run)\n", im->file,
               im->n);
    } else {
        printf("%s: %zu subscribers imported in %zu request%s: %zu new, %zu already known\n",
               im->file, im->n, requests, requests == 1 ? "" : "s", added, im->n - added);
    }
}

static int cmd_subs_import(void *ctx, char **args)
{
    struct opts *o = ctx;
    struct import im = {.o = o, .file = args[0]};
    dw_diags_init(&im.bad);
    size_t len = 0, added = 0, requests = 0;
    char *buf = dw_read_file(im.file, IMPORT_FILE_MAX, &len, &im.bad);
    int rc = buf ? import_preflight(&im)
                 : usage_msg(o, dw_asprintf("%s: %s", im.file, im.bad.items[0].msg));
    if (buf && rc == 0) {
        char *text = buf + (dw_str_has_prefix(buf, "\xEF\xBB\xBF") ? 3 : 0); /* a BOM */
        size_t n = len - (size_t)(text - buf);
        const char *nul = memchr(text, '\0', n);
        const char *first = skip_ws(text, text + n);
        if (nul) {
            struct where w = {text, 1, text};
            int col = col_at(&w, nul);
            dw_diags_add(&im.bad, im.file, w.line, col, NULL, "a NUL byte: this is not text");
        } else if (first < text + n && *first == '[') {
            json_parse(&im, text, n);
        } else {
            csv_parse(&im, text);
        }
    }
    if (rc == 0 && im.bad.n)
        rc = import_refused(&im);
    else if (rc == 0 && !im.n)
        rc = usage_msg(o, dw_asprintf("%s has no subscribers to import", im.file));
    else if (rc == 0 && !given(o, OPT_DRY_RUN))
        rc = import_send(&im, &added, &requests);
    if (rc == 0)
        import_report(&im, added, requests, given(o, OPT_DRY_RUN));
    import_release(&im);
    free(buf);
    return rc;
}

/* ---- notices ---- */

#define NOTICES_ROW "%-6s  %-22s  %7s  %8s  %6s  %-34s  %s\n"

static void print_notices(json_t *data)
{
    printf(NOTICES_ROW, "ID", "KIND", "EMAILS", "WEBHOOKS", "FAILED", "PROGRESS", "SUBJECT");
    size_t i;
    json_t *n;
    json_array_foreach(data, i, n)
    {
        char id[24], emails[24], hooks[24], failed[24], progress[64], at[40];
        snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(n, "id")));
        snprintf(emails, sizeof emails, "%lld",
                 (long long)json_integer_value(json_object_get(n, "emails")));
        snprintf(hooks, sizeof hooks, "%lld",
                 (long long)json_integer_value(json_object_get(n, "webhooks")));
        snprintf(failed, sizeof failed, "%lld",
                 (long long)json_integer_value(json_object_get(n, "failed")));
        if (json_is_integer(json_object_get(n, "done_at")))
            snprintf(progress, sizeof progress, "done %s",
                     ms_text(json_object_get(n, "done_at"), at));
        else
            snprintf(progress, sizeof progress, "in progress (after subscriber %lld)",
                     (long long)json_integer_value(json_object_get(n, "cursor")));
        printf(NOTICES_ROW, id, dw_cli_str(n, "kind", "?"), emails, hooks, failed, progress,
               dw_cli_str(n, "subject", ""));
    }
    if (!json_array_size(data))
        fprintf(stderr, "no notices\n");
}

static int cmd_notices(void *ctx, char **args)
{
    (void)args;
    return get_and_print(ctx, "/api/status/notices", print_notices);
}

/* ---- dispatch ---- */

/* `status maintenance` and `status subscribers` are dispatched before the runner
 * (dw_cli_status); their entries below give the top level's help and "did you
 * mean". Reached only if that ever changes. */
static int cmd_group(void *ctx, char **args)
{
    (void)args;
    return usage(ctx, "%s", "give one of its commands (--help lists them)");
}

static const struct dw_cli_subcmd subs[] = {
    {"components", 0, 0, 0, NULL, NULL, cmd_components,
     "usage: dojowatch status components [-o json]\n"
     "\n"
     "Every component of the page: id, name, state, the manual override if any and the\n"
     "reasons for the computed state (failing probes, firing alerts, incidents).\n"},
    {"component", 0, 1, 1, NEED_COMPONENT, NULL, cmd_component,
     "usage: dojowatch status component ID [-o json]\n"
     "\n"
     "One component: its state, the state computed without the override, the override\n"
     "(who set it, when), the reasons, and its uptime over the last 7, 30 and 90 days\n"
     "against the page's target. -o json prints {\"component\": ..., \"uptime\": ...}.\n"},
    {"override", BIT(OPT_CLEAR), 1, 2, NEED_COMPONENT, NULL, cmd_override,
     "usage: dojowatch status override ID STATE [-o json]\n"
     "       dojowatch status override ID --clear [-o json]\n"
     "\n"
     "Sets a component's state by hand (" STATES ")\n"
     "until it is cleared; --clear goes back to the computed state. The page follows at\n"
     "once. Needs a responder token.\n"
     "\n"
     "example: dojowatch status override api major_outage\n"},
    {"update", BIT(OPT_STATUS) | BIT(OPT_BODY) | BIT(OPT_BODY_FILE) | BIT(OPT_COMPONENT), 1, 1,
     NEED_INCIDENT, NULL, cmd_update,
     "usage: dojowatch status update INCIDENT --status S --body TEXT|--body-file F\n"
     "           [--component ID=STATE]... [-o json]\n"
     "\n"
     "Posts a public update of an incident on the status page: --status investigating,\n"
     "identified, monitoring, resolved or postmortem; the text from --body or from the\n"
     "file --body-file (- for stdin), 1 to 16384 bytes. Each --component sets a\n"
     "component's state while the incident is unresolved. Subscribers get a notice.\n"
     "-o json prints the update as posted. Needs a responder token.\n"
     "\n"
     "example: dojowatch status update INC-20260302100000-1 --status monitoring \\\n"
     "           --body 'A fix is out; we are watching.' --component api=degraded_performance\n"},
    {"maintenance", 0, 0, -1, NULL, NULL, cmd_group, maintenance_usage},
    {"subscribers", 0, 0, -1, NULL, NULL, cmd_group, subscribers_usage},
    {"notices", 0, 0, 0, NULL, NULL, cmd_notices,
     "usage: dojowatch status notices [-o json]\n"
     "\n"
     "The latest 100 notices to subscribers (one per public update and maintenance\n"
     "change): id, kind, e-mails and webhooks queued, failures, and whether it is done\n"
     "or still going through the list (the last subscriber id handled).\n"},
};

static const struct dw_cli_subcmd maintenance_subs[] = {
    {"list", 0, 0, 0, NULL, NULL, cmd_maint_list,
     "usage: dojowatch status maintenance list [-o json]\n"
     "\n"
     "Every maintenance, latest first: id, status (scheduled, in_progress, verifying,\n"
     "completed), window, components and name. -o json gives Statuspage's shape.\n"},
    {"create",
     BIT(OPT_TITLE) | BIT(OPT_BODY) | BIT(OPT_COMPONENTS) | BIT(OPT_FROM) | BIT(OPT_UNTIL), 0, 0,
     NULL, NULL, cmd_maint_create,
     "usage: dojowatch status maintenance create --title T --from TIME --until TIME\n"
     "           [--body TEXT] [--components ID,ID...] [-o json]\n"
     "\n"
     "Schedules a maintenance and prints its id. Inside the window its components show\n"
     "under_maintenance and their alerts are silenced; subscribers get a notice when it\n"
     "is scheduled, starts and ends. Needs a responder token.\n"
     "\n"
     "example: dojowatch status maintenance create --title 'Database upgrade' \\\n"
     "           --components api,web --from 2026-03-10T02:00:00Z --until 2026-03-10T03:00:00Z\n"},
    {"update",
     BIT(OPT_TITLE) | BIT(OPT_BODY) | BIT(OPT_COMPONENTS) | BIT(OPT_FROM) | BIT(OPT_UNTIL) |
         BIT(OPT_STATUS),
     1, 1, NEED_MAINTENANCE, NULL, cmd_maint_update,
     "usage: dojowatch status maintenance update ID [--title T] [--body TEXT]\n"
     "           [--components ID,ID...] [--from TIME] [--until TIME]\n"
     "           [--status verifying|completed] [-o json]\n"
     "\n"
     "Changes a maintenance; --status verifying or completed ends its in_progress state\n"
     "by hand (completed early expires its silences). Needs a responder token.\n"},
    {"delete", 0, 1, 1, NEED_MAINTENANCE, NULL, cmd_maint_delete,
     "usage: dojowatch status maintenance delete ID [-o json]\n"
     "\n"
     "Deletes a maintenance; its silences expire. Needs a responder token.\n"},
};

static const struct dw_cli_subcmd subscribers_subs[] = {
    {"list", BIT(OPT_AFTER) | BIT(OPT_LIMIT) | BIT(OPT_ALL), 0, 0, NULL, NULL, cmd_subs_list,
     "usage: dojowatch status subscribers list [--after ID] [--limit N] [--all] [-o json]\n"
     "\n"
     "Subscribers by id (at most --limit, 1 to 1000, default 1000, with ids above\n"
     "--after): kind, state, when, components and address, then the active and pending\n"
     "counts. --all pages through every one. Needs an admin token.\n"},
    {"import", BIT(OPT_DRY_RUN), 1, 1, "which file? a CSV (" CSV_HEADER ") or a JSON array", NULL,
     cmd_subs_import,
     "usage: dojowatch status subscribers import FILE [--dry-run] [-o json]\n"
     "\n"
     "Adds confirmed subscribers (no confirmation e-mail is sent) from FILE: a CSV with\n"
     "the header line " CSV_HEADER " (components separated by ';', none:\n"
     "every component; quote a field holding a comma) or a JSON array of\n"
     "{\"email\", \"webhook\", \"components\": [...]}. Every line is checked first (e-mail,\n"
     "webhook URL, component ids); bad lines are listed as FILE:LINE:COL: reason and\n"
     "nothing is imported (exit status 2). Then the subscribers go in requests of\n"
     "10,000, with a progress line when stderr is a terminal. Addresses already\n"
     "subscribed are kept as they are, so an import can be run again. --dry-run only\n"
     "checks. Needs an admin token.\n"
     "\n"
     "example: printf 'email,components\\nann@example.com,api;web\\n' > s.csv\n"
     "         dojowatch status subscribers import s.csv\n"},
    {"delete", 0, 1, -1, NEED_SUBSCRIBER, NULL, cmd_subs_delete,
     "usage: dojowatch status subscribers delete ID... [-o json]\n"
     "\n"
     "Removes subscribers by id (dojowatch status subscribers list). Exit status 1 when\n"
     "any could not be removed. Needs an admin token.\n"},
};

static const struct dw_cli_command status_cmd = {
    .name = "status",
    .usage = dw_cli_status_usage,
    .subs = subs,
    .nsubs = DW_ARRAY_LEN(subs),
    .names_text = "components, component, override, update, maintenance, subscribers, notices",
    .flags = flags,
    .time_example = "now-1h",
    .timeout_ms = TIMEOUT_MS,
    .flag = sub_flag,
};

static const struct dw_cli_command groups[] = {
    {
        .name = "status maintenance",
        .usage = maintenance_usage,
        .subs = maintenance_subs,
        .nsubs = DW_ARRAY_LEN(maintenance_subs),
        .names_text = "list, create, update, delete",
        .flags = flags,
        .time_example = "now+1h",
        .timeout_ms = TIMEOUT_MS,
        .flag = sub_flag,
    },
    {
        .name = "status subscribers",
        .usage = subscribers_usage,
        .subs = subscribers_subs,
        .nsubs = DW_ARRAY_LEN(subscribers_subs),
        .names_text = "list, import, delete",
        .flags = flags,
        .time_example = "now-1h",
        .timeout_ms = TIMEOUT_MS,
        .flag = sub_flag,
    },
};

int dw_cli_status(int argc, char **argv)
{
    struct opts o = {0};
    for (size_t i = 0; argc > 1 && i < DW_ARRAY_LEN(groups); i++)
        if (strcmp(argv[1], groups[i].name + strlen("status ")) == 0)
            return dw_cli_subcmd_main(&groups[i], argc - 1, argv + 1, &o.s, &o);
    return dw_cli_subcmd_main(&status_cmd, argc, argv, &o.s, &o);
}
