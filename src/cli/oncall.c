/*
 * oncall.c - `dojowatch oncall`: schedules and pages from the command line.
 *
 *   oncall who [--at T] [--schedule ID] [--config FILE]
 *                                  who is on call (GET /api/oncall/now, or
 *                                  computed from FILE without a daemon)
 *   oncall pages [--state S] [--limit N]     GET /api/oncall/pages
 *   oncall page ID                           GET /api/oncall/pages/{id}
 *   oncall ack ID... | resolve ID...         POST /api/oncall/pages/{id}/ack|resolve
 *   oncall check [--from T] [--to T]         GET /api/oncall/check (exit 3 on issues)
 *   oncall override --schedule S --person P [--replaces Q] --start T --end T
 *                                            POST /api/oncall/overrides
 *   oncall ical schedule|person ID           GET /api/oncall/{schedules|people}/{id}/ical
 *
 * DESIGN
 * A thin client like alerts.c: flags are checked locally by the subcommand
 * runner (subcmd.c; each subcommand lists the flags it takes, so a flag meant
 * for another one is a usage error, exit status 2, instead of being ignored)
 * and by sub_flag() here, the request goes to the daemon
 * through the CLI's client (client.c) with the token from --token or
 * $DOJOWATCH_TOKEN, and the answer's "data" is printed as a table or, with
 * -o json, as JSON. An error answer prints the server's reason and exits 1.
 * `who --config FILE` is the one command that needs no daemon: it loads
 * FILE like `serve` would (plan and the oncall section's checks) and asks
 * the on-call module the same question the daemon answers.
 * `check` exits 3 when it finds gaps or double bookings so that scripts and
 * CI can gate on a schedule change.
 *
 * Threads: one.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/oncall.h"
#include "core/core.h"
#include "oncall/oncall.h"
#include "plan/plan.h"

#define TIMEOUT_MS 30000L
#define EXIT_ISSUES 3
#define LIMIT_MAX 1000
/* What a subcommand says when its operands are missing. */
#define NEED_PAGE "which page? give its id (dojowatch oncall pages)"
#define NEED_FEED "which feed? give schedule ID or person ID"

const char dw_cli_oncall_usage[] =
    "usage: dojowatch oncall COMMAND [OPTIONS]\n"
    "\n"
    "Who is on call, and the pages that reach them, on a running daemon (its on-call\n"
    "API); `who --config FILE` answers from a configuration file without a daemon.\n"
    "\n"
    "commands:\n"
    "  who [--at T] [--schedule ID] [--config FILE]\n"
    "                                  who is on call per schedule, and until when\n"
    "  pages [--state S] [--limit N]   pages, newest first (S: triggered, acknowledged,\n"
    "                                  resolved)\n"
    "  page ID                         one page and its timeline\n"
    "  ack ID...                       acknowledge pages (stops their escalation)\n"
    "  resolve ID...                   resolve pages\n"
    "  check [--from T] [--to T]       gaps and double bookings in the schedules (default\n"
    "                                  the next 28 days); exit status 3 when there are any\n"
    "  override --schedule S --person P [--replaces Q] --start T --end T\n"
    "                                  put P on call for S from T to T (a swap with Q\n"
    "                                  when --replaces is given)\n"
    "  overrides                       the overrides added at run time, with their ids\n"
    "  unoverride ID...                delete run-time overrides\n"
    "  ical schedule|person ID         the iCalendar feed of a schedule's or a person's\n"
    "                                  shifts (7 days back, 90 ahead) on stdout\n"
    "\n"
    "Times: RFC 3339, Unix seconds, now or now-1h.\n"
    "\n"
    "options of every command:\n"
    "  -s, --server URL      the daemon (default $DOJOWATCH_SERVER or " DW_CLI_DEFAULT_SERVER ")\n"
    "  -t, --token T         bearer token (default $DOJOWATCH_TOKEN): viewer to read,\n"
    "                        responder to acknowledge, resolve and override\n"
    "  -o, --output FORMAT   table (default) or json (the server's data)\n"
    "  -h, --help            this help (also: dojowatch oncall COMMAND --help)\n"
    "\n"
    "exit status: 0 done, 1 the server refused or could not be reached (its reason is\n"
    "printed), 2 bad usage or an invalid configuration file, 3 `check` found issues.\n"
    "\n"
    "examples:\n"
    "  dojowatch oncall who --config examples/dojopool.yaml --at 2026-11-10T12:00:00Z\n"
    "  dojowatch oncall ack PG-42\n"
    "  dojowatch oncall check --from 2026-11-02T00:00:00Z || echo 'the schedule has holes'\n";

/* The flags beyond the common ones; a subcommand lists those it takes. */
enum {
    OPT_AT = DW_CLI_OPT_FIRST,
    OPT_SCHEDULE,
    OPT_CONFIG,
    OPT_STATE,
    OPT_LIMIT,
    OPT_FROM,
    OPT_TO,
    OPT_PERSON,
    OPT_REPLACES,
    OPT_START,
    OPT_END,
};
#define BIT(opt) DW_CLI_BIT(opt)

static const struct option flags[] = {
    {"at", required_argument, NULL, OPT_AT},
    {"schedule", required_argument, NULL, OPT_SCHEDULE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"state", required_argument, NULL, OPT_STATE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"person", required_argument, NULL, OPT_PERSON},
    {"replaces", required_argument, NULL, OPT_REPLACES},
    {"start", required_argument, NULL, OPT_START},
    {"end", required_argument, NULL, OPT_END},
    {0, 0, 0, 0},
};

struct opts {
    struct dw_cli_sub s; /* the client, -o json, the flags given */
    const char *schedule, *config, *state, *person, *replaces;
    int64_t at, from, to, start, end; /* ms */
    int64_t limit;
};

static int usage(const struct opts *o, const char *fmt, const char *arg)
{
    return dw_cli_sub_usage(&o->s, fmt, arg);
}

static int call(const struct opts *o, const char *method, const char *path, const char *ctype,
                const char *body, json_t **data)
{
    return dw_cli_call(&o->s.c, method, path, ctype, body, data);
}

/* A flag of a subcommand; -1 to go on, or the exit status. */
static int sub_flag(void *ctx, int opt, const char *arg)
{
    struct opts *o = ctx;
    switch (opt) {
    case OPT_SCHEDULE: o->schedule = arg; return -1;
    case OPT_CONFIG: o->config = arg; return -1;
    case OPT_PERSON: o->person = arg; return -1;
    case OPT_REPLACES: o->replaces = arg; return -1;
    case OPT_STATE:
        if (strcmp(arg, "triggered") && strcmp(arg, "acknowledged") && strcmp(arg, "resolved"))
            return usage(o, "unknown state '%s' (triggered, acknowledged, resolved)", arg);
        o->state = arg;
        return -1;
    case OPT_LIMIT:
        if (dw_parse_int64(arg, &o->limit) != 0 || o->limit < 1 || o->limit > LIMIT_MAX)
            return usage(o, "--limit needs a number from 1 to 1000, got '%s'", arg);
        return -1;
    case OPT_AT: return dw_cli_sub_time(&o->s, arg, &o->at);
    case OPT_FROM: return dw_cli_sub_time(&o->s, arg, &o->from);
    case OPT_TO: return dw_cli_sub_time(&o->s, arg, &o->to);
    case OPT_START: return dw_cli_sub_time(&o->s, arg, &o->start);
    default: return dw_cli_sub_time(&o->s, arg, &o->end); /* OPT_END */
    }
}

/* ---- who ---- */

static void print_who(json_t *data)
{
    size_t i;
    json_t *s;
    printf("%-16s  %-24s  %-16s  %-36s  %-20s  %s\n", "SCHEDULE", "ON CALL", "PHONE", "EMAIL",
           "UNTIL", "NAME");
    json_array_foreach(json_object_get(data, "schedules"), i, s)
    {
        json_t *p = json_object_get(s, "onCall");
        printf("%-16s  %-24s  %-16s  %-36s  %-20s  %s\n", dw_cli_str(s, "id", "?"),
               json_is_object(p) ? dw_cli_str(p, "name", dw_cli_str(p, "id", "?")) : "(nobody)",
               dw_cli_str(p, "phone", "-"), dw_cli_str(p, "email", "-"),
               dw_cli_str(s, "until", "-"), dw_cli_str(s, "name", ""));
    }
}

/* The answer from a configuration file, checked like serve checks it. */
static int who_local(const struct opts *o, int64_t at, json_t **data)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct dw_config *cfg = dw_config_load_file(o->config, &diags);
    if (cfg && dw_oncall_check_config(cfg, &diags) != 0)
        dw_config_unref(&cfg);
    int rc = 0;
    if (!cfg) {
        for (size_t i = 0; i < diags.n; i++) {
            struct dw_buf line;
            dw_buf_init(&line, 0);
            dw_diag_format(&diags.items[i], &line);
            fprintf(stderr, "%s\n", line.data);
            dw_buf_release(&line);
        }
        fprintf(stderr, "dojowatch %s: cannot use %s (errors above; dojowatch check-config %s)\n",
                o->s.c.cmd, o->config, o->config);
        rc = 2;
    } else {
        char *err = NULL;
        int r = dw_oncall_who_config_json(cfg, o->schedule, at, data, &err);
        if (r != 0) {
            fprintf(stderr, "dojowatch %s: %s\n", o->s.c.cmd, err ? err : "failed");
            rc = r == DW_ONCALL_EINVAL ? 2 : 1;
        }
        free(err);
    }
    dw_config_unref(&cfg);
    dw_diags_release(&diags);
    return rc;
}

static int cmd_who(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    json_t *data = NULL;
    int rc;
    if (o->config) {
        rc = who_local(o, o->s.given & BIT(OPT_AT) ? o->at : dw_now_ms(), &data);
    } else {
        struct dw_buf path;
        dw_buf_init(&path, 0);
        dw_buf_puts(&path, "/api/oncall/now");
        if (o->s.given & BIT(OPT_AT))
            dw_cli_add_time_param(&path, "at", o->at);
        if (o->schedule)
            dw_cli_add_param(&path, "schedule", o->schedule);
        rc = call(o, "GET", path.data, NULL, NULL, &data);
        dw_buf_release(&path);
    }
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        print_who(data);
    json_decref(data);
    return rc;
}

/* ---- pages ---- */

#define PAGES_ROW "%-12s  %-12s  %-8s  %4s  %-24s  %s\n"

static void print_page_row(json_t *p)
{
    char step[24];
    snprintf(step, sizeof step, "%lld", (long long)json_integer_value(json_object_get(p, "step")));
    printf(PAGES_ROW, dw_cli_str(p, "id", "?"), dw_cli_str(p, "state", "?"),
           dw_cli_str(p, "priority", "-"), step, dw_cli_str(p, "createdAt", "-"),
           dw_cli_str(p, "summary", ""));
}

static int cmd_pages(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    struct dw_buf path;
    dw_buf_init(&path, 0);
    dw_buf_puts(&path, "/api/oncall/pages");
    if (o->state)
        dw_cli_add_param(&path, "state", o->state);
    if (o->limit)
        dw_buf_printf(&path, "%slimit=%lld", strchr(path.data, '?') ? "&" : "?",
                      (long long)o->limit);
    json_t *data;
    int rc = call(o, "GET", path.data, NULL, NULL, &data);
    dw_buf_release(&path);
    if (rc == 0 && o->s.json) {
        dw_cli_print_json(data);
    } else if (rc == 0) {
        size_t i;
        json_t *p;
        printf(PAGES_ROW, "ID", "STATE", "PRIORITY", "STEP", "CREATED", "SUMMARY");
        json_array_foreach(data, i, p) print_page_row(p);
        if (!json_array_size(data))
            fprintf(stderr, "no pages\n");
    }
    json_decref(data);
    return rc;
}

static void print_page(json_t *p)
{
    static const char *const fields[][2] = {
        {"id", "page"},
        {"state", "state"},
        {"priority", "priority"},
        {"summary", "summary"},
        {"policy", "policy"},
        {"receiver", "receiver"},
        {"groupKey", "group"},
        {"createdAt", "created"},
        {"nextEscalationAt", "escalates"},
        {"ackedAt", "acked at"},
        {"ackedBy", "acked by"},
        {"ackedVia", "acked via"},
        {"resolvedAt", "resolved at"},
        {"resolvedBy", "resolved by"},
        {"resolvedVia", "resolved via"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(fields); i++) {
        const char *v = dw_cli_str(p, fields[i][0], NULL);
        if (v)
            printf("%-13s %s\n", fields[i][1], v);
        if (i == 2)
            printf("%-13s %lld (round %lld)\n", "step",
                   (long long)json_integer_value(json_object_get(p, "step")),
                   (long long)json_integer_value(json_object_get(p, "round")));
    }
    size_t i;
    json_t *t;
    printf("\n%-24s  %-14s  %-20s  %-8s  %s\n", "AT", "KIND", "WHO", "VIA", "DETAIL");
    json_array_foreach(json_object_get(p, "timeline"), i, t) printf(
        "%-24s  %-14s  %-20s  %-8s  %s\n", dw_cli_str(t, "at", "-"), dw_cli_str(t, "kind", "?"),
        dw_cli_str(t, "who", "-"), dw_cli_str(t, "via", "-"), dw_cli_str(t, "detail", ""));
}

/* /api/oncall/pages/ID plus suffix. */
static char *page_path(const char *id, const char *suffix)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "/api/oncall/pages/");
    dw_buf_url_encode(&b, id);
    dw_buf_puts(&b, suffix);
    return dw_buf_steal(&b);
}

static int cmd_page(void *ctx, char **args)
{
    struct opts *o = ctx;
    char *path = page_path(args[0], "");
    json_t *data;
    int rc = call(o, "GET", path, NULL, NULL, &data);
    free(path);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0)
        print_page(data);
    json_decref(data);
    return rc;
}

/* ack and resolve: one line per page; 1 when any failed. */
static int act(struct opts *o, char **args, bool resolve)
{
    const char *done = resolve ? "resolved" : "acknowledged";
    int status = 0;
    for (; *args; args++) {
        char *path = page_path(*args, resolve ? "/resolve" : "/ack");
        json_t *data;
        if (call(o, "POST", path, NULL, "via=cli", &data) != 0) {
            status = 1;
        } else if (o->s.json) {
            dw_cli_print_json(data);
        } else {
            /* Acting on a page already in that state (or resolved) succeeds unchanged. */
            const char *state = dw_cli_str(data, "state", done);
            if (strcmp(state, done) == 0)
                printf("%s %s\n", *args, done);
            else
                printf("%s is already %s\n", *args, state);
        }
        json_decref(data);
        free(path);
    }
    return status;
}

static int cmd_ack(void *ctx, char **args)
{
    struct opts *o = ctx;
    return act(o, args, false);
}

static int cmd_resolve(void *ctx, char **args)
{
    struct opts *o = ctx;
    return act(o, args, true);
}

/* ---- schedules ---- */

static void print_issues(json_t *data)
{
    json_t *issues = json_object_get(data, "issues");
    if (!json_array_size(issues)) {
        printf("no gaps or double bookings from %s to %s\n", dw_cli_str(data, "from", "?"),
               dw_cli_str(data, "to", "?"));
        return;
    }
    size_t i;
    json_t *s;
    printf("%-16s  %-16s  %-24s  %-24s  %s\n", "KIND", "SCHEDULE", "START", "END", "DETAIL");
    json_array_foreach(issues, i, s)
    {
        struct dw_buf detail;
        dw_buf_init(&detail, 0);
        if (dw_cli_str(s, "person", NULL))
            dw_buf_printf(&detail, "person %s", dw_cli_str(s, "person", ""));
        if (dw_cli_str(s, "otherSchedule", NULL))
            dw_buf_printf(&detail, "%swith schedule %s", detail.len ? " " : "",
                          dw_cli_str(s, "otherSchedule", ""));
        printf("%-16s  %-16s  %-24s  %-24s  %s\n", dw_cli_str(s, "kind", "?"),
               dw_cli_str(s, "schedule", "?"), dw_cli_str(s, "start", "-"),
               dw_cli_str(s, "end", "-"), detail.len ? detail.data : "");
        dw_buf_release(&detail);
    }
}

static int cmd_check(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    struct dw_buf path;
    dw_buf_init(&path, 0);
    dw_buf_puts(&path, "/api/oncall/check");
    if (o->s.given & BIT(OPT_FROM))
        dw_cli_add_time_param(&path, "from", o->from);
    if (o->s.given & BIT(OPT_TO))
        dw_cli_add_time_param(&path, "to", o->to);
    json_t *data;
    int rc = call(o, "GET", path.data, NULL, NULL, &data);
    dw_buf_release(&path);
    if (rc == 0) {
        if (o->s.json)
            dw_cli_print_json(data);
        else
            print_issues(data);
        if (json_array_size(json_object_get(data, "issues")))
            rc = EXIT_ISSUES;
    }
    json_decref(data);
    return rc;
}

static int cmd_override(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    static const struct {
        int opt;
        const char *msg;
    } required[] = {
        {OPT_SCHEDULE, "--schedule is required: which schedule (dojowatch oncall who)"},
        {OPT_PERSON, "--person is required: who goes on call (a people id)"},
        {OPT_START, "--start is required: when the override begins"},
        {OPT_END, "--end is required: when the override ends"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(required); i++)
        if (!(o->s.given & BIT(required[i].opt)))
            return usage(o, "%s", required[i].msg);
    if (o->end <= o->start)
        return usage(o, "%s", "--end must be after --start");
    char start[40], end[40];
    dw_format_rfc3339(o->start, start, sizeof start);
    dw_format_rfc3339(o->end, end, sizeof end);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "schedule", o->schedule, "person", o->person,
                             "start", start, "end", end);
    if (o->replaces)
        json_object_set_new(body, "replaces", json_string(o->replaces));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *data;
    int rc = call(o, "POST", "/api/oncall/overrides", "application/json", text, &data);
    free(text);
    if (rc == 0 && o->s.json)
        dw_cli_print_json(data);
    else if (rc == 0 && o->replaces)
        printf("%s replaces %s on %s from %s to %s\n", o->person, o->replaces, o->schedule, start,
               end);
    else if (rc == 0)
        printf("%s is on call for %s from %s to %s\n", o->person, o->schedule, start, end);
    json_decref(data);
    return rc;
}

static int cmd_overrides(void *ctx, char **args)
{
    struct opts *o = ctx;
    (void)args;
    json_t *data;
    int rc = call(o, "GET", "/api/oncall/overrides", NULL, NULL, &data);
    if (rc == 0 && o->s.json) {
        dw_cli_print_json(data);
    } else if (rc == 0) {
        printf("%-6s  %-16s  %-20s  %-20s  %-24s  %s\n", "ID", "SCHEDULE", "PERSON", "REPLACES",
               "START", "END");
        size_t i;
        json_t *v;
        json_array_foreach(data, i, v)
        {
            printf("%-6lld  %-16s  %-20s  %-20s  %-24s  %s\n",
                   (long long)json_integer_value(json_object_get(v, "id")),
                   dw_cli_str(v, "schedule", "?"), dw_cli_str(v, "person", "?"),
                   dw_cli_str(v, "replaces", "-"), dw_cli_str(v, "start", "?"),
                   dw_cli_str(v, "end", "?"));
        }
    }
    json_decref(data);
    return rc;
}

static int cmd_unoverride(void *ctx, char **args)
{
    struct opts *o = ctx;
    int status = 0;
    for (; *args; args++) {
        struct dw_buf path;
        dw_buf_init(&path, 0);
        dw_buf_puts(&path, "/api/oncall/overrides/");
        dw_buf_url_encode(&path, *args);
        json_t *data;
        if (call(o, "DELETE", path.data, NULL, NULL, &data) != 0)
            status = 1;
        else if (o->s.json)
            dw_cli_print_json(data);
        else
            printf("override %s deleted\n", *args);
        json_decref(data);
        dw_buf_release(&path);
    }
    return status;
}

static int cmd_ical(void *ctx, char **args)
{
    struct opts *o = ctx;
    const char *kind = args[0];
    if (strcmp(kind, "schedule") && strcmp(kind, "person"))
        return usage(o, "'%s': give 'schedule ID' or 'person ID'", kind);
    if (o->s.json)
        return usage(o, "%s", "the feed is iCalendar text; leave out -o json");
    struct dw_buf path, out;
    dw_buf_init(&path, 0);
    dw_buf_init(&out, DW_CLI_MAX_RESPONSE);
    dw_buf_puts(&path,
                strcmp(kind, "schedule") == 0 ? "/api/oncall/schedules/" : "/api/oncall/people/");
    dw_buf_url_encode(&path, args[1]);
    dw_buf_puts(&path, "/ical");
    int rc = dw_cli_request_ok(&o->s.c, "GET", path.data, NULL, NULL, &out);
    if (rc == 0 && out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
        fprintf(stderr, "dojowatch %s: cannot write the feed to stdout\n", o->s.c.cmd);
        rc = 1;
    }
    dw_buf_release(&out);
    dw_buf_release(&path);
    return rc;
}

/* ---- dispatch ---- */

static const struct dw_cli_subcmd subs[] = {
    {"who", BIT(OPT_AT) | BIT(OPT_SCHEDULE) | BIT(OPT_CONFIG), 0, 0, NULL, NULL, cmd_who,
     "usage: dojowatch oncall who [--at T] [--schedule ID] [--config FILE] [-o json]\n"
     "\n"
     "Who is on call for each schedule (or only --schedule) at --at (default now): the\n"
     "person's name, phone and e-mail and when their shift ends. Asks the daemon\n"
     "(GET /api/oncall/now, with its stored overrides), or with --config FILE computes\n"
     "it from FILE alone, without a daemon (FILE is checked like serve checks it;\n"
     "overrides added at run time are not in it).\n"
     "\n"
     "example: dojowatch oncall who --config examples/dojopool.yaml --at 2026-11-10T12:00:00Z\n"},
    {"pages", BIT(OPT_STATE) | BIT(OPT_LIMIT), 0, 0, NULL, NULL, cmd_pages,
     "usage: dojowatch oncall pages [--state S] [--limit N] [-o json]\n"
     "\n"
     "Pages, newest first (at most --limit, 1 to 1000, default 100): id, state, priority,\n"
     "escalation step, when it was opened and the alert's summary. --state keeps\n"
     "triggered, acknowledged or resolved pages.\n"},
    {"page", 0, 1, 1, NEED_PAGE, NULL, cmd_page,
     "usage: dojowatch oncall page ID [-o json]\n"
     "\n"
     "One page and its timeline: every notification, escalation, acknowledgement and\n"
     "resolution with when, who and how (via).\n"},
    {"ack", 0, 1, -1, NEED_PAGE, NULL, cmd_ack,
     "usage: dojowatch oncall ack ID...\n"
     "\n"
     "Acknowledges each page, as the token's name, via cli: its escalation stops.\n"
     "Prints one line per page; exit status 1 when any could not be acknowledged.\n"
     "Needs a responder token.\n"},
    {"resolve", 0, 1, -1, NEED_PAGE, NULL, cmd_resolve,
     "usage: dojowatch oncall resolve ID...\n"
     "\n"
     "Resolves each page, as the token's name, via cli. Prints one line per page; exit\n"
     "status 1 when any could not be resolved. Needs a responder token.\n"},
    {"check", BIT(OPT_FROM) | BIT(OPT_TO), 0, 0, NULL, NULL, cmd_check,
     "usage: dojowatch oncall check [--from T] [--to T] [-o json]\n"
     "\n"
     "Gaps (nobody on call) and double bookings (one person on two schedules at once)\n"
     "from --from (default now) to --to (default 28 days later; at most 366 days).\n"
     "\n"
     "exit status: 0 no issues, 3 issues found (listed), 1 the server refused.\n"
     "\n"
     "example: dojowatch oncall check --to 2026-12-31T00:00:00Z || exit 1\n"},
    {"override",
     BIT(OPT_SCHEDULE) | BIT(OPT_PERSON) | BIT(OPT_REPLACES) | BIT(OPT_START) | BIT(OPT_END), 0, 0,
     NULL, NULL, cmd_override,
     "usage: dojowatch oncall override --schedule S --person P [--replaces Q] --start T --end T\n"
     "\n"
     "Puts person P on call for schedule S from --start to --end, over the rotation;\n"
     "with --replaces Q only Q's shifts in that time go to P (a swap). Kept by the\n"
     "daemon (not in the configuration file). Needs a responder token.\n"
     "\n"
     "example: dojowatch oncall override --schedule primary --person cto \\\n"
     "           --start 2026-11-20T09:00:00Z --end 2026-11-21T09:00:00Z\n"},
    {"overrides", 0, 0, 0, NULL, NULL, cmd_overrides,
     "usage: dojowatch oncall overrides [-o json]\n"
     "\n"
     "The overrides added at run time (dojowatch oncall override), with their ids.\n"},
    {"unoverride", 0, 1, -1, NEED_PAGE, NULL, cmd_unoverride,
     "usage: dojowatch oncall unoverride ID...\n"
     "\n"
     "Deletes run-time overrides (ids from dojowatch oncall overrides); the rotation\n"
     "applies again. Exit status 1 when any could not be deleted. Needs a responder token.\n"},
    {"ical", 0, 2, 2, NEED_FEED, NULL, cmd_ical,
     "usage: dojowatch oncall ical schedule|person ID\n"
     "\n"
     "Writes the iCalendar feed (text/calendar) of a schedule's or a person's shifts,\n"
     "from 7 days ago to 90 days ahead, to stdout.\n"
     "\n"
     "example: dojowatch oncall ical person primary-engineer > oncall.ics\n"},
};

/* who --config needs no daemon. */
static bool local(void *ctx)
{
    const struct opts *o = ctx;
    return o->config != NULL;
}

static const struct dw_cli_command oncall = {
    .name = "oncall",
    .usage = dw_cli_oncall_usage,
    .subs = subs,
    .nsubs = DW_ARRAY_LEN(subs),
    .names_text = "who, pages, page, ack, resolve, check, override, ical",
    .flags = flags,
    .time_example = "now-1h",
    .timeout_ms = TIMEOUT_MS,
    .flag = sub_flag,
    .local = local,
};

int dw_cli_oncall(int argc, char **argv)
{
    struct opts o = {0};
    return dw_cli_subcmd_main(&oncall, argc, argv, &o.s, &o);
}
