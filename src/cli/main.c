/*
 * main.c - the `dojowatch` command line: one table of subcommands, each with
 * its own --help. Subcommands call the same module functions as the HTTP API.
 *
 * Exit status: 0 success, 1 failure at run time, 2 bad usage or invalid input
 * (configuration errors included), like promtool.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/alerts.h"
#include "cli/cli.h"
#include "cli/host.h"
#include "cli/import.h"
#include "cli/incident.h"
#include "cli/oncall.h"
#include "cli/passwd.h"
#include "cli/probe.h"
#include "cli/query.h"
#include "cli/rules.h"
#include "cli/status.h"
#include "collect/collect.h"
#include "daemon/daemon.h"
#include "plan/plan.h"

struct command {
    const char *name;
    const char *summary;
    const char *usage; /* full --help text */
    int (*run)(int argc, char **argv);
};

static const struct command *find_command(const char *name);

int dw_cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "dojowatch %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun 'dojowatch %s --help' for usage\n", cmd);
    return 2;
}

static void print_help(const char *name)
{
    fputs(find_command(name)->usage, stdout);
}

int dw_cli_output_opts(const char *cmd, const char *usage, int argc, char **argv,
                       enum dw_cli_output *out)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (strcmp(optarg, "text") == 0)
                *out = DW_CLI_TEXT;
            else if (strcmp(optarg, "json") == 0)
                *out = DW_CLI_JSON;
            else
                return dw_cli_usage_error(cmd, "unknown output format '%s' (text, json)", optarg);
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return dw_cli_usage_error(cmd, "%s", "bad option");
        }
    }
    return -1;
}

/* dw_cli_output_opts() for a command of this file's table. */
static int output_opts(const char *cmd, int argc, char **argv, enum dw_cli_output *out)
{
    return dw_cli_output_opts(cmd, find_command(cmd)->usage, argc, argv, out);
}

/* ---- serve ---- */

static int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"log-level", required_argument, NULL, 'L'},
        {"test-clock", optional_argument, NULL, 'T'},
        {"retention", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct dw_daemon_options opts = {.config_path = NULL};
    int c;
    while ((c = getopt_long(argc, argv, "c:d:l:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opts.config_path = optarg; break;
        case 'd': opts.data_dir = optarg; break;
        case 'l': opts.listen = optarg; break;
        case 'L': {
            int level = dw_log_parse_level(optarg);
            if (level < 0)
                return dw_cli_usage_error(
                    "serve", "unknown log level '%s' (debug, info, warn, error)", optarg);
            dw_log_set_level((enum dw_log_level)level);
            break;
        }
        case 'R':
            if (dw_parse_duration(optarg, &opts.retention_ms) < 0 || opts.retention_ms <= 0)
                return dw_cli_usage_error(
                    "serve", "--retention needs a duration like 90d or 100y, got '%s'", optarg);
            break;
        case 'T':
            opts.test_clock = true;
            if (optarg && dw_parse_rfc3339(optarg, &opts.test_clock_start_ms) < 0)
                return dw_cli_usage_error("serve", "--test-clock needs an RFC 3339 time, got '%s'",
                                          optarg);
            break;
        case 'h': print_help("serve"); return 0;
        default: return dw_cli_usage_error("serve", "%s", "bad option");
        }
    }
    if (optind < argc)
        return dw_cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!opts.config_path)
        return dw_cli_usage_error("serve", "%s",
                                  "--config FILE is required (try examples/dojopool.yaml)");
    return dw_daemon_run(&opts);
}

/* ---- check-config ---- */

static void diags_json(const struct dw_diags *diags, json_t *errors, json_t *warnings)
{
    for (size_t i = 0; i < diags->n; i++) {
        const struct dw_diag *g = &diags->items[i];
        bool warning = dw_str_has_prefix(g->msg, "warning: ");
        json_t *o =
            json_pack("{s:s?,s:i,s:i,s:s?,s:s}", "file", g->file, "line", g->line, "col", g->col,
                      "key", g->key, "message", warning ? g->msg + strlen("warning: ") : g->msg);
        json_array_append_new(warning ? warnings : errors, o);
    }
}

static int check_one(const char *path, enum dw_cli_output out, json_t *results)
{
    struct dw_diags diags;
    struct dw_buf summary;
    dw_diags_init(&diags);
    dw_buf_init(&summary, 0);
    int rc = dw_config_check_file(path, &diags, &summary, dw_daemon_check_sections);
    if (out == DW_CLI_JSON) {
        json_t *errors = json_array(), *warnings = json_array();
        diags_json(&diags, errors, warnings);
        json_array_append_new(results, json_pack("{s:s,s:b,s:o,s:o,s:s}", "file", path, "valid",
                                                 rc == 0, "errors", errors, "warnings", warnings,
                                                 "summary", summary.data ? summary.data : ""));
    } else {
        for (size_t i = 0; i < diags.n; i++) {
            struct dw_buf line;
            dw_buf_init(&line, 0);
            dw_diag_format(&diags.items[i], &line);
            fprintf(stderr, "%s\n", line.data);
            dw_buf_release(&line);
        }
        if (rc == 0)
            printf("%s: valid\n%s", path, summary.data ? summary.data : "");
        else
            fprintf(stderr,
                    "%s: %zu error(s); fix them and run 'dojowatch check-config %s' "
                    "again\n",
                    path, dw_diags_errors(&diags), path);
    }
    dw_buf_release(&summary);
    dw_diags_release(&diags);
    return rc == 0 ? 0 : 2;
}

static int cmd_check_config(int argc, char **argv)
{
    enum dw_cli_output out = DW_CLI_TEXT;
    int rc = output_opts("check-config", argc, argv, &out);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return dw_cli_usage_error("check-config", "%s", "which file? e.g. examples/dojopool.yaml");
    int status = 0;
    json_t *results = json_array();
    for (int i = optind; i < argc; i++)
        if (check_one(argv[i], out, results) != 0)
            status = 2;
    if (out == DW_CLI_JSON) {
        char *s = json_dumps(results, JSON_INDENT(2));
        puts(s);
        free(s);
    }
    json_decref(results);
    return status;
}

/* ---- version and help ---- */

static int cmd_version(int argc, char **argv)
{
    enum dw_cli_output out = DW_CLI_TEXT;
    int rc = output_opts("version", argc, argv, &out);
    if (rc >= 0)
        return rc;
    if (out == DW_CLI_JSON)
        printf("{\"version\":\"%s\",\"compiler\":\"%s\",\"built\":\"%s %s\"}\n", DW_VERSION,
               __VERSION__, __DATE__, __TIME__);
    else
        printf("dojowatch %s (C11, %s)\n", DW_VERSION, __VERSION__);
    return 0;
}

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
    {"serve", "run the daemon",
     "usage: dojowatch serve --config FILE [--data DIR] [--listen ADDR] [--log-level LEVEL]\n"
     "\n"
     "Runs the daemon: collects, stores, evaluates and pages following the launch plan in\n"
     "FILE. SIGHUP or POST /-/reload re-reads FILE; SIGTERM or Ctrl-C stops it.\n"
     "\n"
     "  -c, --config FILE     the plan and settings (e.g. examples/dojopool.yaml)\n"
     "  -d, --data DIR        data directory (default: server.data_dir, ./data)\n"
     "  -l, --listen ADDR     host:port to serve HTTP on (default: server.listen,\n"
     "                        127.0.0.1:9107; port 0 picks a free port)\n"
     "      --log-level L     debug, info (default), warn or error\n"
     "      --retention D     keep raw samples for D (default: the plan's retention.raw,\n"
     "                        90d; e.g. 100y to load historical data)\n"
     "      --test-clock[=T]  for tests: freeze the clock at T (RFC 3339, default now);\n"
     "                        POST /-/test/clock advance=DURATION moves it\n"
     "  -h, --help            this help\n",
     cmd_serve},
    {"check-config", "validate configuration files",
     "usage: dojowatch check-config [-o text|json] FILE...\n"
     "\n"
     "Validates each FILE like serve would load it: YAML syntax, unknown keys, types,\n"
     "durations, phases without gaps or overlaps, references to people, teams and channels,\n"
     "and the scrape and probes sections (regexes, JSON paths, relabeling).\n"
     "Errors are printed as file:line:col: key: message. Exit status 2 when any file is\n"
     "invalid.\n"
     "\n"
     "  -o, --output FORMAT   text (default) or json\n"
     "  -h, --help            this help\n",
     cmd_check_config},
    {"import", "backfill OpenMetrics or Prometheus text files into blocks", dw_cli_import_usage,
     dw_cli_import},
    {"query", "evaluate a PromQL expression on a running daemon", dw_cli_query_usage, dw_cli_query},
    {"query-range", "evaluate a PromQL expression over a time range", dw_cli_query_range_usage,
     dw_cli_query_range},
    {"alerts", "list, acknowledge and silence alerts on a running daemon", dw_cli_alerts_usage,
     dw_cli_alerts},
    {"oncall", "who is on call; list, acknowledge and resolve pages", dw_cli_oncall_usage,
     dw_cli_oncall},
    {"incident", "open, follow and report incidents on a running daemon", dw_cli_incident_usage,
     dw_cli_incident},
    {"status", "the public status page: components, updates, maintenance, subscribers",
     dw_cli_status_usage, dw_cli_status},
    {"check-rules", "validate Prometheus rule files like promtool", dw_cli_check_rules_usage,
     dw_cli_check_rules},
    {"probe", "run one synthetic probe once and show the result", dw_cli_probe_usage, dw_cli_probe},
    {"passwd", "hash a web console password for auth.users (Argon2id)", dw_cli_passwd_usage,
     dw_cli_passwd},
    {"host-metrics", "print the built-in host collector's metrics", dw_cli_host_usage, dw_cli_host},
    {"version", "print the version", "usage: dojowatch version [-o text|json]\n", cmd_version},
    {"help", "help on a command", "usage: dojowatch help [COMMAND]\n", cmd_help},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < DW_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void overview(FILE *out)
{
    fprintf(out,
            "dojowatch %s - post-launch monitoring in one daemon\n\n"
            "usage: dojowatch COMMAND [OPTIONS]\n\ncommands:\n",
            DW_VERSION);
    for (size_t i = 0; i < DW_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nrun 'dojowatch COMMAND --help' for a command's options\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        print_help("help");
        return 0;
    }
    if (argc > 1) {
        const struct command *cmd = find_command(argv[1]);
        if (!cmd)
            return dw_cli_usage_error("help", "unknown command '%s'", argv[1]);
        fputs(cmd->usage, stdout);
        return 0;
    }
    overview(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        overview(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(1, argv);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv);
    const struct command *cmd = find_command(argv[1]);
    if (!cmd) {
        fprintf(stderr, "dojowatch: unknown command '%s'\n\n", argv[1]);
        overview(stderr);
        return 2;
    }
    return cmd->run(argc - 1, argv + 1);
}
