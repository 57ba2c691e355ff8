/*
 * alerts.c - `dojowatch alerts`: the alerts of a running daemon from the
 * command line.
 *
 *   alerts list [-f MATCHER]... [--all]      firing alerts (GET /api/v2/alerts), or with
 *                                            --all every alert and its lifecycle
 *   alerts ack FP... [-c TEXT] [--false-positive]
 *   alerts silence -c TEXT [--duration D | --end T] [--start T] [--author A] MATCHER...
 *   alerts silences [-f MATCHER]... [--expired]
 *   alerts unsilence ID...
 *   alerts stats [--since T] [--until T]
 *
 * DESIGN
 * A thin client like `dojowatch query`: flags are checked locally (exit
 * status 2 on a typo; matchers with the alert module's own parser), the
 * request goes to the daemon through the CLI's client (client.c) with the
 * bearer token from --token or $DOJOWATCH_TOKEN, and the answer is printed
 * as a table or, with -o json, as the server's JSON. An error answer prints the server's
 * reason and exits 1. Alertmanager endpoints answer errors as a JSON
 * string; dojowatch's own endpoints with the {"status":"error"} envelope;
 * both are understood.
 *
 * Threads: one.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "cli/alerts.h"
#include "cli/cli.h"
#include "core/core.h"

#define TIMEOUT_MS 30000L
#define MAX_FILTERS 64

const char dw_cli_alerts_usage[] =
    "usage: dojowatch alerts COMMAND [OPTIONS]\n"
    "\n"
    "Lists, acknowledges and silences the alerts of a running daemon (its Alertmanager\n"
    "API v2 and alert endpoints).\n"
    "\n"
    "commands:\n"
    "  list [-f MATCHER]... [--all]    firing alerts; --all: every alert with its lifecycle\n"
    "                                  (pending, firing, resolved, flapping, acknowledged)\n"
    "  ack FINGERPRINT... [-c TEXT] [--false-positive]\n"
    "                                  acknowledge (or mark as a false positive)\n"
    "  silence -c TEXT [--duration D | --end T] [--start T] [--author NAME] MATCHER...\n"
    "                                  mute matching alerts (default for 1h); prints the id\n"
    "  silences [-f MATCHER]... [--expired]\n"
    "                                  active and pending silences (--expired: all)\n"
    "  unsilence ID...                 expire silences now\n"
    "  stats [--since T] [--until T]   alert quality per alertname (fired, mean time\n"
    "                                  firing, share acknowledged / false positive, flaps)\n"
    "\n"
    "MATCHER is Alertmanager's syntax: name=\"value\", name!=\"value\", name=~\"regex\",\n"
    "name!~\"regex\" (quotes optional; regexes match the whole value).\n"
    "Times: RFC 3339, Unix seconds, now or now-1h. Durations: 90s, 2h, 1d.\n"
    "\n"
    "options of every command:\n"
    "  -s, --server URL      the daemon (default $DOJOWATCH_SERVER or " DW_CLI_DEFAULT_SERVER ")\n"
    "  -t, --token T         bearer token (default $DOJOWATCH_TOKEN): viewer to list,\n"
    "                        responder to acknowledge and silence\n"
    "  -o, --output FORMAT   table (default) or json (the server's answer)\n"
    "  -h, --help            this help (also: dojowatch alerts COMMAND --help)\n"
    "\n"
    "examples:\n"
    "  dojowatch alerts list -f 'priority=\"P0\"'\n"
    "  dojowatch alerts silence -c 'db failover' --duration 30m 'service=\"db\"'\n"
    "  dojowatch alerts ack 1a2b3c4d5e6f7a8b -c 'on it'\n";

struct opts {
    struct dw_cli_client c;
    bool json; /* -o json: the server's answer as it is */
    const char *filters[MAX_FILTERS];
    size_t nfilters;
    const char *comment, *author;
    bool all, false_positive, expired;
    int64_t start, end, duration; /* ms; 0 unset */
    bool has_start, has_end;
    int64_t since, until;
};

static int usage(const struct opts *o, const char *fmt, const char *arg)
{
    return dw_cli_usage_error(o->c.cmd, fmt, arg);
}

/* ---- HTTP ---- */

/* The server's reason from either error shape. */
static void print_error(const struct dw_cli_client *c, long status, const struct dw_buf *body)
{
    json_error_t je;
    json_t *doc = body->len ? json_loadb(body->data, body->len, JSON_DECODE_ANY, &je) : NULL;
    const char *msg = json_is_string(doc) ? json_string_value(doc)
                                          : json_string_value(json_object_get(doc, "error"));
    fprintf(stderr, "dojowatch %s: HTTP %ld: %s\n", c->cmd, status,
            msg          ? msg
            : body->data ? body->data
                         : "(no reason given)");
    json_decref(doc);
}

/*
 * Sends the request; on 2xx returns the parsed answer (*doc, may be NULL for
 * an empty body) and 0, else prints the reason and returns 1.
 */
static int call(const struct dw_cli_client *c, const char *method, const char *path,
                const char *body, json_t **doc)
{
    struct dw_buf out;
    dw_buf_init(&out, DW_CLI_MAX_RESPONSE);
    long status = 0;
    int rc = 1;
    *doc = NULL;
    if (dw_cli_request(c, method, path, "application/json", body, &status, &out) == 0) {
        if (status >= 200 && status < 300) {
            json_error_t je;
            *doc = out.len ? json_loadb(out.data, out.len, JSON_DECODE_ANY, &je) : NULL;
            rc = 0;
        } else {
            print_error(c, status, &out);
        }
    }
    dw_buf_release(&out);
    return rc;
}

/* GET path?filter=M&filter=... with the -f matchers; like call(). */
static int get_filtered(const struct opts *o, const char *path, json_t **doc)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, path);
    for (size_t i = 0; i < o->nfilters; i++) {
        dw_buf_puts(&b, i ? "&filter=" : "?filter=");
        dw_buf_url_encode(&b, o->filters[i]);
    }
    int rc = call(&o->c, "GET", b.data, NULL, doc);
    dw_buf_release(&b);
    return rc;
}

/* ---- flags ---- */

enum {
    OPT_ALL = 256,
    OPT_FALSE_POSITIVE,
    OPT_DURATION,
    OPT_START,
    OPT_END,
    OPT_AUTHOR,
    OPT_EXPIRED,
    OPT_SINCE,
    OPT_UNTIL
};

static int check_matcher(const struct opts *o, const char *s)
{
    char *name, *value, *err = NULL;
    bool re, eq;
    if (dw_alert_matcher_parse(s, &name, &value, &re, &eq, &err) < 0) {
        int rc = usage(o, "%s", err);
        free(err);
        return rc;
    }
    free(name);
    free(value);
    return -1;
}

/* One option; -1 to go on, or the exit status. */
static int one_flag(int ch, struct opts *o, const char *help)
{
    switch (ch) {
    case 's': o->c.server = optarg; return -1;
    case 't': o->c.token = optarg; return -1;
    case 'c': o->comment = optarg; return -1;
    case 'f':
        if (o->nfilters == MAX_FILTERS)
            return usage(o, "at most %s filters", "64");
        o->filters[o->nfilters++] = optarg;
        return check_matcher(o, optarg);
    case 'o':
        if (strcmp(optarg, "json") && strcmp(optarg, "table") && strcmp(optarg, "text"))
            return usage(o, "unknown output format '%s' (table, json)", optarg);
        o->json = strcmp(optarg, "json") == 0;
        return -1;
    case OPT_ALL: o->all = true; return -1;
    case OPT_FALSE_POSITIVE: o->false_positive = true; return -1;
    case OPT_EXPIRED: o->expired = true; return -1;
    case OPT_AUTHOR: o->author = optarg; return -1;
    case OPT_DURATION:
        if (dw_parse_duration(optarg, &o->duration) < 0 || o->duration <= 0)
            return usage(o, "'%s' is not a positive duration like 30m or 2h", optarg);
        return -1;
    case OPT_START:
    case OPT_END:
    case OPT_SINCE:
    case OPT_UNTIL: {
        int64_t *dst = ch == OPT_START   ? &o->start
                       : ch == OPT_END   ? &o->end
                       : ch == OPT_SINCE ? &o->since
                                         : &o->until;
        if (dw_cli_parse_time(optarg, dst) < 0)
            return usage(o, "'%s' is not a time: RFC 3339, Unix seconds, now or now-1h", optarg);
        o->has_start |= ch == OPT_START;
        o->has_end |= ch == OPT_END;
        return -1;
    }
    case 'h': fputs(help, stdout); return 0;
    default: return usage(o, "%s", "bad option");
    }
}

static int parse_flags(int argc, char **argv, struct opts *o, const char *help)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"token", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"filter", required_argument, NULL, 'f'},
        {"comment", required_argument, NULL, 'c'},
        {"all", no_argument, NULL, OPT_ALL},
        {"false-positive", no_argument, NULL, OPT_FALSE_POSITIVE},
        {"expired", no_argument, NULL, OPT_EXPIRED},
        {"author", required_argument, NULL, OPT_AUTHOR},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"start", required_argument, NULL, OPT_START},
        {"end", required_argument, NULL, OPT_END},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:t:o:f:c:h", longopts, NULL)) != -1) {
        int rc = one_flag(ch, o, help);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

/* ---- list ---- */

static const char *label(json_t *alert, const char *name)
{
    const char *v = json_string_value(json_object_get(json_object_get(alert, "labels"), name));
    return v ? v : "-";
}

static void other_labels(json_t *alert, struct dw_buf *b)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(alert, "labels"), k, v)
    {
        if (strcmp(k, "alertname") == 0 || strcmp(k, "priority") == 0)
            continue;
        dw_buf_printf(b, "%s%s=\"", b->len ? ", " : "", k);
        dw_buf_put_label_value(b, json_string_value(v) ? json_string_value(v) : "");
        dw_buf_putc(b, '"');
    }
}

static void print_firing(json_t *arr)
{
    size_t i;
    json_t *a;
    if (json_array_size(arr))
        printf("%-16s  %-24s  %-8s  %-10s  %-24s  %s\n", "FINGERPRINT", "ALERTNAME", "PRIORITY",
               "STATE", "STARTED", "LABELS");
    json_array_foreach(arr, i, a)
    {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        other_labels(a, &b);
        printf("%-16s  %-24s  %-8s  %-10s  %-24s  %s\n",
               json_string_value(json_object_get(a, "fingerprint")), label(a, "alertname"),
               label(a, "priority"),
               json_string_value(json_object_get(json_object_get(a, "status"), "state")),
               json_string_value(json_object_get(a, "startsAt")), b.data ? b.data : "");
        dw_buf_release(&b);
    }
    if (!json_array_size(arr))
        fprintf(stderr, "no firing alerts\n");
}

static void flags_of(json_t *a, struct dw_buf *b)
{
    static const char *const keys[][2] = {{"silencedBy", "silenced"}, {"inhibitedBy", "inhibited"}};
    for (size_t i = 0; i < DW_ARRAY_LEN(keys); i++)
        if (json_array_size(json_object_get(a, keys[i][0])))
            dw_buf_printf(b, "%s%s", b->len ? "," : "", keys[i][1]);
    if (json_is_true(json_object_get(a, "flapping")))
        dw_buf_printf(b, "%sflapping", b->len ? "," : "");
    if (json_is_object(json_object_get(a, "acknowledged")))
        dw_buf_printf(b, "%sacked", b->len ? "," : "");
    if (json_is_object(json_object_get(a, "falsePositive")))
        dw_buf_printf(b, "%sfalse-positive", b->len ? "," : "");
}

static void print_lifecycle(json_t *arr)
{
    size_t i;
    json_t *a;
    if (json_array_size(arr))
        printf("%-16s  %-24s  %-8s  %-9s  %-24s  %s\n", "FINGERPRINT", "ALERTNAME", "PRIORITY",
               "STATE", "SINCE", "FLAGS");
    json_array_foreach(arr, i, a)
    {
        const char *state = json_string_value(json_object_get(a, "state"));
        const char *key = !state                           ? "updatedAt"
                          : strcmp(state, "pending") == 0  ? "pendingAt"
                          : strcmp(state, "resolved") == 0 ? "resolvedAt"
                                                           : "firingAt";
        const char *since = json_string_value(json_object_get(a, key));
        struct dw_buf b;
        dw_buf_init(&b, 0);
        flags_of(a, &b);
        printf("%-16s  %-24s  %-8s  %-9s  %-24s  %s\n",
               json_string_value(json_object_get(a, "fingerprint")), label(a, "alertname"),
               label(a, "priority"), state ? state : "?", since ? since : "-",
               b.data ? b.data : "");
        dw_buf_release(&b);
    }
    if (!json_array_size(arr))
        fprintf(stderr, "no alerts\n");
}

static int cmd_list(struct opts *o)
{
    if (o->all && o->nfilters)
        return usage(o, "%s", "--filter works on firing alerts; leave out --all");
    json_t *doc;
    int rc = get_filtered(o, o->all ? "/api/v1/alerts/lifecycle" : "/api/v2/alerts", &doc);
    if (rc == 0) {
        json_t *arr = o->all ? json_object_get(doc, "data") : doc;
        if (o->json)
            dw_cli_print_json(arr);
        else if (o->all)
            print_lifecycle(arr);
        else
            print_firing(arr);
    }
    json_decref(doc);
    return rc;
}

/* ---- ack ---- */

static int cmd_ack(struct opts *o, int argc, char **argv)
{
    if (optind >= argc)
        return usage(o, "%s", "which alert? give its fingerprint (dojowatch alerts list)");
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct dw_buf path;
        dw_buf_init(&path, 0);
        dw_buf_puts(&path, "/api/v1/alerts/");
        dw_buf_url_encode(&path, argv[i]);
        dw_buf_puts(&path, o->false_positive ? "/false-positive" : "/ack");
        if (o->comment) {
            dw_buf_puts(&path, "?comment=");
            dw_buf_url_encode(&path, o->comment);
        }
        json_t *doc;
        if (call(&o->c, "POST", path.data, NULL, &doc) == 0) {
            if (o->json)
                dw_cli_print_json(json_object_get(doc, "data"));
            else
                printf("%s %s\n", argv[i],
                       o->false_positive ? "marked as a false positive" : "acknowledged");
        } else {
            status = 1;
        }
        json_decref(doc);
        dw_buf_release(&path);
    }
    return status;
}

/* ---- silences ---- */

static json_t *matchers_json(const struct opts *o, int argc, char **argv)
{
    json_t *arr = json_array();
    for (int i = optind; i < argc; i++) {
        char *name, *value, *err = NULL;
        bool re, eq;
        if (dw_alert_matcher_parse(argv[i], &name, &value, &re, &eq, &err) < 0) {
            usage(o, "%s", err);
            free(err);
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:b}", "name", name, "value", value,
                                             "isRegex", re, "isEqual", eq));
        free(name);
        free(value);
    }
    return arr;
}

static int cmd_silence(struct opts *o, int argc, char **argv)
{
    if (optind >= argc)
        return usage(o, "%s", "what to silence? e.g. 'alertname=\"DiskFull\"'");
    if (!o->comment || !*o->comment)
        return usage(o, "%s", "--comment is required: say why (it is shown to everyone)");
    if (o->has_end && o->duration)
        return usage(o, "%s", "give --end or --duration, not both");
    int64_t start = o->has_start ? o->start : dw_now_ms();
    int64_t end = o->has_end ? o->end : start + (o->duration ? o->duration : 3600000);
    json_t *ms = matchers_json(o, argc, argv);
    if (!ms)
        return 2;
    const char *user = getenv("USER");
    const char *author = o->author ? o->author : user && *user ? user : "dojowatch-cli";
    json_t *body = json_pack("{s:o,s:o,s:o,s:s,s:s}", "matchers", ms, "startsAt", json_string(""),
                             "endsAt", json_string(""), "createdBy", author, "comment", o->comment);
    char when[40];
    dw_format_rfc3339(start, when, sizeof when);
    json_object_set_new(body, "startsAt", json_string(when));
    dw_format_rfc3339(end, when, sizeof when);
    json_object_set_new(body, "endsAt", json_string(when));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *doc;
    int rc = call(&o->c, "POST", "/api/v2/silences", text, &doc);
    free(text);
    if (rc == 0) {
        if (o->json)
            dw_cli_print_json(doc);
        else
            printf("%s\n", json_string_value(json_object_get(doc, "silenceID")));
    }
    json_decref(doc);
    return rc;
}

static void matchers_text(json_t *ms, struct dw_buf *b)
{
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        bool re = json_is_true(json_object_get(m, "isRegex"));
        bool eq = !json_is_false(json_object_get(m, "isEqual"));
        dw_buf_printf(b, "%s%s%s\"", i ? "," : "", json_string_value(json_object_get(m, "name")),
                      re ? (eq ? "=~" : "!~") : (eq ? "=" : "!="));
        dw_buf_put_label_value(b, json_string_value(json_object_get(m, "value")));
        dw_buf_putc(b, '"');
    }
}

static void print_silences(json_t *arr, bool expired)
{
    size_t i, shown = 0;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        const char *state =
            json_string_value(json_object_get(json_object_get(s, "status"), "state"));
        if (!expired && state && strcmp(state, "expired") == 0)
            continue;
        if (!shown++)
            printf("%-36s  %-8s  %-24s  %-16s  %-40s  %s\n", "ID", "STATE", "ENDS", "CREATED BY",
                   "MATCHERS", "COMMENT");
        struct dw_buf b;
        dw_buf_init(&b, 0);
        matchers_text(json_object_get(s, "matchers"), &b);
        printf("%-36s  %-8s  %-24s  %-16s  %-40s  %s\n",
               json_string_value(json_object_get(s, "id")), state ? state : "?",
               json_string_value(json_object_get(s, "endsAt")),
               json_string_value(json_object_get(s, "createdBy")), b.data ? b.data : "",
               json_string_value(json_object_get(s, "comment")));
        dw_buf_release(&b);
    }
    if (!shown)
        fprintf(stderr, "no silences\n");
}

static int cmd_silences(struct opts *o)
{
    json_t *doc;
    int rc = get_filtered(o, "/api/v2/silences", &doc);
    if (rc == 0 && o->json)
        dw_cli_print_json(doc);
    else if (rc == 0)
        print_silences(doc, o->expired);
    json_decref(doc);
    return rc;
}

static int cmd_unsilence(struct opts *o, int argc, char **argv)
{
    if (optind >= argc)
        return usage(o, "%s", "which silence? give its id (dojowatch alerts silences)");
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct dw_buf path;
        dw_buf_init(&path, 0);
        dw_buf_puts(&path, "/api/v2/silence/");
        dw_buf_url_encode(&path, argv[i]);
        json_t *doc;
        if (call(&o->c, "DELETE", path.data, NULL, &doc) == 0)
            printf("%s expired\n", argv[i]);
        else
            status = 1;
        json_decref(doc);
        dw_buf_release(&path);
    }
    return status;
}

/* ---- stats ---- */

static void print_stats(json_t *arr)
{
    size_t i;
    json_t *s;
    if (json_array_size(arr))
        printf("%-32s  %6s  %8s  %14s  %6s  %6s  %5s  %6s\n", "ALERTNAME", "FIRED", "RESOLVED",
               "MEAN FIRING", "ACKED", "FALSE+", "FLAPS", "FIRING");
    json_array_foreach(arr, i, s)
    {
        char mean[32];
        dw_format_duration(
            (int64_t)(json_number_value(json_object_get(s, "meanFiringSeconds")) * 1000), mean,
            sizeof mean);
        printf("%-32s  %6lld  %8lld  %14s  %5.0f%%  %5.0f%%  %5lld  %6lld\n",
               json_string_value(json_object_get(s, "alertname")),
               (long long)json_integer_value(json_object_get(s, "fired")),
               (long long)json_integer_value(json_object_get(s, "resolved")), mean,
               100 * json_number_value(json_object_get(s, "acknowledgedShare")),
               100 * json_number_value(json_object_get(s, "falsePositiveShare")),
               (long long)json_integer_value(json_object_get(s, "flaps")),
               (long long)json_integer_value(json_object_get(s, "firingNow")));
    }
    if (!json_array_size(arr))
        fprintf(stderr, "no alert has fired in that range\n");
}

static int cmd_stats(struct opts *o)
{
    struct dw_buf path;
    dw_buf_init(&path, 0);
    dw_buf_puts(&path, "/api/v1/alerts/stats");
    if (o->since)
        dw_buf_printf(&path, "?since=%.3f", (double)o->since / 1000.0);
    if (o->until)
        dw_buf_printf(&path, "%suntil=%.3f", o->since ? "&" : "?", (double)o->until / 1000.0);
    json_t *doc;
    int rc = call(&o->c, "GET", path.data, NULL, &doc);
    dw_buf_release(&path);
    if (rc == 0 && o->json)
        dw_cli_print_json(json_object_get(doc, "data"));
    else if (rc == 0)
        print_stats(json_object_get(doc, "data"));
    json_decref(doc);
    return rc;
}

/* ---- dispatch ---- */

struct sub {
    const char *name;
    const char *usage;
};

static const struct sub subs[] = {
    {"list", "usage: dojowatch alerts list [-f MATCHER]... [--all] [-s URL] [-t TOKEN] [-o json]\n"
             "\n"
             "Firing alerts (GET /api/v2/alerts), each with its fingerprint, priority, state\n"
             "(active or suppressed) and labels; -f keeps those matching every MATCHER.\n"
             "--all lists every alert the daemon holds with its lifecycle (pending, firing,\n"
             "resolved) and flags (silenced, inhibited, flapping, acked, false-positive).\n"},
    {"ack", "usage: dojowatch alerts ack FINGERPRINT... [-c TEXT] [--false-positive]\n"
            "\n"
            "Acknowledges the current (or last) firing of each alert, as the token's name;\n"
            "--false-positive marks it as a false positive instead (for the tuning report).\n"
            "Needs a responder token.\n"},
    {"silence", "usage: dojowatch alerts silence -c TEXT [--duration D | --end T] [--start T]\n"
                "                               [--author NAME] MATCHER...\n"
                "\n"
                "Creates a silence muting alerts that match every MATCHER, from --start (now)\n"
                "for --duration (1h) or until --end, and prints its id. --author defaults to\n"
                "$USER. Needs a responder token.\n"
                "\n"
                "example: dojowatch alerts silence -c 'db failover' --duration 30m 'service=db'\n"},
    {"silences", "usage: dojowatch alerts silences [-f MATCHER]... [--expired] [-o json]\n"
                 "\n"
                 "Active and pending silences (--expired: expired ones too); -f keeps silences\n"
                 "that contain every MATCHER exactly, like Alertmanager.\n"},
    {"unsilence", "usage: dojowatch alerts unsilence ID...\n"
                  "\n"
                  "Expires each silence now. Needs a responder token.\n"},
    {"stats", "usage: dojowatch alerts stats [--since T] [--until T] [-o json]\n"
              "\n"
              "Alert quality per alertname for firings that started in the range: how often\n"
              "it fired, how long on average, the share acknowledged and marked false\n"
              "positive, how often it flapped, and how many fire now.\n"},
};

int dw_cli_alerts(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(dw_cli_alerts_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const struct sub *sub = NULL;
    for (size_t i = 0; i < DW_ARRAY_LEN(subs); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            sub = &subs[i];
    if (!sub)
        return dw_cli_usage_error("alerts",
                                  "unknown command '%s' (list, ack, silence, silences, "
                                  "unsilence, stats)",
                                  argv[1]);
    struct opts o = {0};
    char cmd[32];
    snprintf(cmd, sizeof cmd, "alerts %s", sub->name);
    dw_cli_client_init(&o.c, cmd);
    o.c.timeout_ms = TIMEOUT_MS;
    int rc = parse_flags(argc - 1, argv + 1, &o, sub->usage);
    if (rc >= 0)
        return rc;
    argc--;
    argv++;
    if (dw_cli_client_start(&o.c) != 0)
        return 1;
    const char *name = sub->name;
    bool takes_args =
        !strcmp(name, "ack") || !strcmp(name, "silence") || !strcmp(name, "unsilence");
    if (!takes_args && optind < argc)
        rc = usage(&o, "unexpected argument '%s'", argv[optind]);
    else if (!strcmp(name, "list"))
        rc = cmd_list(&o);
    else if (!strcmp(name, "ack"))
        rc = cmd_ack(&o, argc, argv);
    else if (!strcmp(name, "silence"))
        rc = cmd_silence(&o, argc, argv);
    else if (!strcmp(name, "silences"))
        rc = cmd_silences(&o);
    else if (!strcmp(name, "unsilence"))
        rc = cmd_unsilence(&o, argc, argv);
    else
        rc = cmd_stats(&o);
    dw_cli_client_finish();
    return rc;
}
