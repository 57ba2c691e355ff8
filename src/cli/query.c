/*
 * query.c - `dojowatch query` and `dojowatch query-range`: PromQL through a
 * running daemon's Prometheus HTTP API (/api/v1/query, /api/v1/query_range).
 *
 * DESIGN
 * The commands are thin clients: they check their flags, send the request
 * as a POST form through the CLI's client (client.c) and print the answer.
 * The server evaluates; nothing is computed here but the defaults of
 * query-range (end = now, step = the span / 250, at least 1s, like
 * promtool). Times are checked with the API's own parser before sending,
 * so a typo fails locally with exit status 2; "now" and "now-<duration>"
 * are turned into Unix seconds.
 *
 * Output: a table by default (series and value; for ranges each series
 * followed by its points), or with -o json the API's `data` member exactly
 * as the server wrote it (cut out of the body, not re-encoded, so values
 * and timestamps keep their digits). Warnings go to stderr. An error answer
 * prints the server's error type and message and exits 1.
 *
 * Threads: one.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/query.h"
#include "core/core.h"
#include "http/http.h"

#define MAX_RESPONSE (512u << 20) /* bytes kept of an answer */
#define CONNECT_TIMEOUT_MS 10000L
#define SERVER_TIMEOUT_MS 120000LL /* the daemon's default query.timeout */
#define SERIES_COLUMN_MAX 100      /* wider series names overflow their column */

const char dw_cli_query_usage[] =
    "usage: dojowatch query [--server URL] [--token T] [--time T] [--timeout D]\n"
    "                       [-o table|json] EXPR\n"
    "\n"
    "Evaluates the PromQL expression EXPR at one instant on a running daemon\n"
    "(POST /api/v1/query) and prints the result: each series with its value, a\n"
    "scalar or a string. Exit status 1 when the server refuses or fails the query\n"
    "(its error type and message are printed), 2 on bad usage.\n"
    "\n"
    "  -s, --server URL      the daemon (default $DOJOWATCH_SERVER or " DW_CLI_DEFAULT_SERVER ")\n"
    "  -t, --token T         bearer token with the viewer role (default $DOJOWATCH_TOKEN)\n"
    "      --time T          evaluation time: RFC 3339, Unix seconds, now or now-1h\n"
    "                        (default now)\n"
    "      --timeout D       give up after D (e.g. 30s); the server's limit still applies\n"
    "  -o, --output FORMAT   table (default) or json (the API's data member)\n"
    "  -h, --help            this help\n"
    "\n"
    "example: dojowatch query 'sum by (job) (rate(http_requests_total[5m]))'\n";

const char dw_cli_query_range_usage[] =
    "usage: dojowatch query-range --start T [--end T] [--step D] [--server URL]\n"
    "                             [--token T] [--timeout D] [-o table|json] EXPR\n"
    "\n"
    "Evaluates EXPR at every step from --start to --end on a running daemon\n"
    "(POST /api/v1/query_range) and prints each series with its points. At most\n"
    "11,000 steps. Exit status 1 when the server refuses or fails the query, 2 on\n"
    "bad usage.\n"
    "\n"
    "      --start T         first step: RFC 3339, Unix seconds, now or now-1h\n"
    "      --end T           last step (default now)\n"
    "      --step D          distance between steps: 15s, 1m, 0.5 (seconds); default\n"
    "                        the span / 250, at least 1s\n"
    "  -s, --server URL      the daemon (default $DOJOWATCH_SERVER or " DW_CLI_DEFAULT_SERVER ")\n"
    "  -t, --token T         bearer token with the viewer role (default $DOJOWATCH_TOKEN)\n"
    "      --timeout D       give up after D; the server's limit still applies\n"
    "  -o, --output FORMAT   table (default) or json (the API's data member)\n"
    "  -h, --help            this help\n"
    "\n"
    "example: dojowatch query-range --start now-1h --step 1m 'up'\n";

struct query_args {
    struct dw_cli_client c; /* c.cmd: "query" or "query-range" */
    const char *expr;
    char time[64], start[64], end[64], step[64], timeout[64];
    bool json;
};

/* ---- flags ---- */

/*
 * Checks a time flag and copies it to out: "now" and "now-<duration>"
 * become Unix seconds; anything else must be what the API accepts and is
 * sent as written. *ms gets the time. -1 when it is not a time.
 */
static int time_flag(const char *s, char *out, size_t size, int64_t *ms)
{
    if (dw_cli_parse_time(s, ms) < 0)
        return -1;
    if (strncmp(s, "now", 3) == 0)
        snprintf(out, size, "%.3f", (double)*ms / 1000.0);
    else if (strlen(s) < size)
        dw_strlcpy(out, s, size);
    else
        return -1;
    return 0;
}

static int duration_flag(const char *s, char *out, size_t size, int64_t *ns)
{
    if (dw_http_parse_duration(s, ns) < 0 || *ns <= 0 || strlen(s) >= size)
        return -1;
    dw_strlcpy(out, s, size);
    return 0;
}

enum { OPT_TIME = 256, OPT_START, OPT_END, OPT_STEP, OPT_TIMEOUT };

static int bad_time(const char *cmd, const char *arg)
{
    return dw_cli_usage_error(cmd, "'%s' is not a time: RFC 3339, Unix seconds, now or now-1h",
                              arg);
}

static int bad_duration(const char *cmd, const char *arg)
{
    return dw_cli_usage_error(cmd, "'%s' is not a positive duration like 15s, 1m30s or 0.5", arg);
}

/* One option; returns -1 to go on, or the exit status. */
static int one_flag(int c, bool range, struct query_args *a, int64_t *timeout_ms)
{
    const char *cmd = a->c.cmd;
    int64_t ms, ns;
    bool for_range = c == OPT_START || c == OPT_END || c == OPT_STEP;
    if ((c == OPT_TIME && range) || (for_range && !range))
        return dw_cli_usage_error(
            cmd, "%s",
            range ? "--time is for 'dojowatch query'; use --start and --end"
                  : "--start, --end and --step are for 'dojowatch query-range'");
    switch (c) {
    case 's': a->c.server = optarg; return -1;
    case 't': a->c.token = optarg; return -1;
    case OPT_TIME:
        return time_flag(optarg, a->time, sizeof a->time, &ms) < 0 ? bad_time(cmd, optarg) : -1;
    case OPT_START:
        return time_flag(optarg, a->start, sizeof a->start, &ms) < 0 ? bad_time(cmd, optarg) : -1;
    case OPT_END:
        return time_flag(optarg, a->end, sizeof a->end, &ms) < 0 ? bad_time(cmd, optarg) : -1;
    case OPT_STEP:
        return duration_flag(optarg, a->step, sizeof a->step, &ns) < 0 ? bad_duration(cmd, optarg)
                                                                       : -1;
    case OPT_TIMEOUT:
        if (duration_flag(optarg, a->timeout, sizeof a->timeout, &ns) < 0)
            return bad_duration(cmd, optarg);
        *timeout_ms = ns / 1000000;
        return -1;
    case 'o':
        if (strcmp(optarg, "json") == 0)
            a->json = true;
        else if (strcmp(optarg, "table") == 0 || strcmp(optarg, "text") == 0)
            a->json = false;
        else
            return dw_cli_usage_error(cmd, "unknown output format '%s' (table, json)", optarg);
        return -1;
    case 'h': fputs(range ? dw_cli_query_range_usage : dw_cli_query_usage, stdout); return 0;
    default: return dw_cli_usage_error(cmd, "%s", "bad option");
    }
}

/* Returns -1 to go on, or the exit status (0 after --help, 2 on bad usage). */
static int parse_flags(int argc, char **argv, bool range, struct query_args *a, int64_t *timeout_ms)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"token", required_argument, NULL, 't'},
        {"time", required_argument, NULL, OPT_TIME},
        {"start", required_argument, NULL, OPT_START},
        {"end", required_argument, NULL, OPT_END},
        {"step", required_argument, NULL, OPT_STEP},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "s:t:o:h", longopts, NULL)) != -1) {
        int rc = one_flag(c, range, a, timeout_ms);
        if (rc >= 0)
            return rc;
    }
    if (optind >= argc)
        return dw_cli_usage_error(a->c.cmd, "%s", "which expression? e.g. 'up'");
    if (optind + 1 < argc)
        return dw_cli_usage_error(a->c.cmd, "one expression only (quote it), got '%s' too",
                                  argv[optind + 1]);
    a->expr = argv[optind];
    return -1;
}

/* query-range's defaults: --start required, end now, step span/250 (>= 1s). */
static int range_defaults(struct query_args *a)
{
    if (!*a->start)
        return dw_cli_usage_error(a->c.cmd, "%s", "--start is required (e.g. --start now-1h)");
    int64_t start, end;
    if (!*a->end)
        time_flag("now", a->end, sizeof a->end, &end);
    if (dw_http_parse_time(a->start, &start) < 0 || dw_http_parse_time(a->end, &end) < 0)
        return dw_cli_usage_error(a->c.cmd, "%s", "bad --start or --end");
    if (end < start)
        return dw_cli_usage_error(a->c.cmd, "--end (%s) is before --start", a->end);
    if (!*a->step) {
        double seconds = floor((double)(end - start) / 1000.0 / 250.0);
        snprintf(a->step, sizeof a->step, "%.0f", seconds < 1 ? 1.0 : seconds);
    }
    return -1;
}

/* ---- the request ---- */

/* Appends name=value form-encoded (application/x-www-form-urlencoded); skips empty values. */
static void form_add(struct dw_buf *form, const char *name, const char *value)
{
    if (!*value)
        return;
    dw_buf_printf(form, "%s%s=", form->len ? "&" : "", name);
    dw_buf_url_encode(form, value);
}

/* ---- the answer ---- */

/* Index just past the JSON value starting at s[i] (the body was already validated). */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    int depth = 0;
    bool in_string = false;
    for (; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            if (!in_string && depth == 0)
                return i + 1;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i; /* closes the enclosing object: not part of a scalar */
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r')) {
            return i;
        }
    }
    return n;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i;
}

/* Writes the top-level "data" member of the answer as the server wrote it. */
static void print_raw_data(const char *s, size_t n)
{
    size_t i = skip_space(s, n, 0) + 1; /* past '{' */
    while (i < n) {
        i = skip_space(s, n, i);
        size_t key = i;
        i = skip_value(s, n, i);
        bool is_data = i - key == 6 && memcmp(s + key, "\"data\"", 6) == 0;
        i = skip_space(s, n, i) + 1; /* past ':' */
        size_t value = skip_space(s, n, i);
        i = skip_value(s, n, value);
        if (is_data) {
            fwrite(s + value, 1, i - value, stdout);
            fputc('\n', stdout);
            return;
        }
        i = skip_space(s, n, i);
        if (i >= n || s[i] != ',')
            return;
        i++;
    }
}

/* metric{a="b", c="d"} like Prometheus prints a label set. */
static void series_text(json_t *metric, struct dw_buf *out)
{
    json_t *name = json_object_get(metric, "__name__");
    if (json_is_string(name))
        dw_buf_puts(out, json_string_value(name));
    dw_buf_putc(out, '{');
    const char *key;
    json_t *value;
    bool first = true;
    json_object_foreach(metric, key, value)
    {
        if (strcmp(key, "__name__") == 0)
            continue;
        dw_buf_printf(out, "%s%s=\"", first ? "" : ", ", key);
        dw_buf_put_label_value(out, json_string_value(value) ? json_string_value(value) : "");
        dw_buf_putc(out, '"');
        first = false;
    }
    dw_buf_putc(out, '}');
}

/* A point [t, "v"]: the time as RFC 3339 and the value as the server wrote it. */
static void point_text(json_t *point, char *when, size_t size, const char **value)
{
    double t = json_number_value(json_array_get(point, 0));
    dw_format_rfc3339((int64_t)llround(t * 1000.0), when, size);
    *value = json_string_value(json_array_get(point, 1));
    if (!*value)
        *value = "?";
}

static void print_vector(json_t *result)
{
    size_t n = json_array_size(result), width = 6;
    struct dw_buf *names = dw_calloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        dw_buf_init(&names[i], 0);
        series_text(json_object_get(json_array_get(result, i), "metric"), &names[i]);
        if (names[i].len > width)
            width = names[i].len < SERIES_COLUMN_MAX ? names[i].len : SERIES_COLUMN_MAX;
    }
    if (n)
        printf("%-*s  %s\n", (int)width, "SERIES", "VALUE");
    char when[40] = "";
    for (size_t i = 0; i < n; i++) {
        const char *value;
        point_text(json_object_get(json_array_get(result, i), "value"), when, sizeof when, &value);
        printf("%-*s  %s\n", (int)width, names[i].data, value);
        dw_buf_release(&names[i]);
    }
    free(names);
    if (n)
        printf("(%zu series at %s)\n", n, when);
    else
        fprintf(stderr, "no series\n");
}

static void print_matrix(json_t *result)
{
    size_t n = json_array_size(result);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(result, i);
        struct dw_buf name;
        dw_buf_init(&name, 0);
        series_text(json_object_get(s, "metric"), &name);
        printf("%s\n", name.data);
        dw_buf_release(&name);
        json_t *values = json_object_get(s, "values"), *point;
        size_t k;
        json_array_foreach(values, k, point)
        {
            char when[40];
            const char *value;
            point_text(point, when, sizeof when, &value);
            printf("  %-24s  %s\n", when, value);
        }
    }
    if (!n)
        fprintf(stderr, "no series\n");
}

static void print_table(json_t *data)
{
    const char *type = json_string_value(json_object_get(data, "resultType"));
    json_t *result = json_object_get(data, "result");
    if (!type)
        type = "";
    if (strcmp(type, "vector") == 0) {
        print_vector(result);
    } else if (strcmp(type, "matrix") == 0) {
        print_matrix(result);
    } else if (strcmp(type, "scalar") == 0 || strcmp(type, "string") == 0) {
        const char *v = json_string_value(json_array_get(result, 1));
        printf("%s\n", v ? v : "");
    } else {
        char *text = json_dumps(data, JSON_INDENT(2));
        printf("%s\n", text ? text : "");
        free(text);
    }
}

/*
 * Prints the answer: the result, or the server's error. Returns the exit
 * status.
 */
static int answer(const struct query_args *a, long status, const struct dw_buf *body)
{
    json_error_t jerr;
    json_t *doc = body->len ? json_loadb(body->data, body->len, 0, &jerr) : NULL;
    const char *st = json_string_value(json_object_get(doc, "status"));
    int rc = 1;
    if (!st) {
        fprintf(stderr, "dojowatch %s: HTTP %ld from %s, not a Prometheus API answer: %.200s\n",
                a->c.cmd, status, a->c.server, body->data ? body->data : "(empty body)");
    } else if (strcmp(st, "success") != 0 || status != 200) {
        const char *type = json_string_value(json_object_get(doc, "errorType"));
        const char *msg = json_string_value(json_object_get(doc, "error"));
        fprintf(stderr, "dojowatch %s: %s: %s\n", a->c.cmd, type ? type : "error",
                msg ? msg : "(no message)");
    } else {
        json_t *warning;
        size_t i;
        json_array_foreach(json_object_get(doc, "warnings"), i, warning)
            fprintf(stderr, "warning: %s\n", json_string_value(warning));
        if (a->json)
            print_raw_data(body->data, body->len);
        else
            print_table(json_object_get(doc, "data"));
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

static int run(int argc, char **argv, bool range)
{
    struct query_args a = {.json = false};
    dw_cli_client_init(&a.c, range ? "query-range" : "query");
    int64_t timeout_ms = SERVER_TIMEOUT_MS;
    int rc = parse_flags(argc, argv, range, &a, &timeout_ms);
    if (rc < 0 && range)
        rc = range_defaults(&a);
    if (rc >= 0)
        return rc;
    a.c.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    /* The server answers 503 at its own timeout; leave it room to say so. */
    a.c.timeout_ms = (long)(timeout_ms + 30000);
    if (dw_cli_client_start(&a.c) != 0)
        return 1;
    struct dw_buf form, body;
    dw_buf_init(&form, 0);
    dw_buf_init(&body, MAX_RESPONSE);
    form_add(&form, "query", a.expr);
    form_add(&form, "time", a.time);
    form_add(&form, "start", a.start);
    form_add(&form, "end", a.end);
    form_add(&form, "step", a.step);
    form_add(&form, "timeout", a.timeout);
    long status = 0;
    rc = 1;
    if (dw_cli_request(&a.c, "POST", range ? "/api/v1/query_range" : "/api/v1/query", NULL,
                       form.data ? form.data : "", &status, &body) == 0)
        rc = answer(&a, status, &body);
    dw_buf_release(&form);
    dw_buf_release(&body);
    dw_cli_client_finish();
    return rc;
}

int dw_cli_query(int argc, char **argv)
{
    return run(argc, argv, false);
}

int dw_cli_query_range(int argc, char **argv)
{
    return run(argc, argv, true);
}
