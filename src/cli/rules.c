/*
 * rules.c - `dojowatch check-rules [-o text|json] FILE...`: validates
 * Prometheus rule files the way `promtool check rules` (Prometheus 2.42)
 * does, with the rules module's loader (src/rules/rulefile.c).
 *
 * DESIGN
 * Each file is loaded on its own, so one broken file does not hide the
 * others' results and each gets its own count. Text output follows
 * promtool: "Checking FILE" and "  SUCCESS: N rules found" on stdout, or
 * "  FAILED:" and one "file:line:col: message" line per error on stderr,
 * then a blank line. Warnings (promtool's duplicate-rules lint) go to stderr
 * and do not fail a file. -o json prints one array with an object per file.
 *
 * Exit status: 0 all valid, 1 a file has errors, 2 bad usage.
 * Threads: one.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/rules.h"
#include "core/core.h"
#include "rules/rulefile.h"

const char dw_cli_check_rules_usage[] =
    "usage: dojowatch check-rules [-o text|json] FILE...\n"
    "\n"
    "Validates Prometheus rule files like `promtool check rules` (Prometheus 2.42):\n"
    "YAML syntax, known fields and their types, durations, unique group names, exactly\n"
    "one of record or alert per rule, valid recording rule names, expr parsed as PromQL,\n"
    "for, keep_firing_for and annotations only on alerting rules, label and annotation\n"
    "names, and the templates of alerting rules' labels and annotations.\n"
    "Each error is printed as file:line:col: message. Two rules with the same name and\n"
    "labels in one file are a warning. Exit status 0 when every file is valid, 1 when a\n"
    "file has errors, 2 on bad usage.\n"
    "\n"
    "  -o, --output FORMAT   text (default) or json\n"
    "  -h, --help            this help\n"
    "\n"
    "example: dojowatch check-rules examples/rules/dojopool.rules.yml\n";

struct check {
    const char *path;
    struct dw_diags diags;
    struct dw_rule_set *set; /* NULL when the file has errors */
};

static void print_diags(const struct dw_diags *d, bool warnings)
{
    for (size_t i = 0; i < d->n; i++) {
        if (dw_str_has_prefix(d->items[i].msg, "warning: ") != warnings)
            continue;
        struct dw_buf line;
        dw_buf_init(&line, 0);
        dw_diag_format(&d->items[i], &line);
        fprintf(stderr, "%s\n", line.data);
        dw_buf_release(&line);
    }
}

static void print_text(const struct check *c)
{
    printf("Checking %s\n", c->path);
    fflush(stdout);
    if (c->set) {
        printf("  SUCCESS: %zu rules found\n", c->set->nrules);
    } else {
        fprintf(stderr, "  FAILED:\n");
        print_diags(&c->diags, false);
    }
    fflush(stdout);
    print_diags(&c->diags, true);
    printf("\n");
}

static json_t *diags_json(const struct dw_diags *d, bool warnings)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < d->n; i++) {
        const struct dw_diag *g = &d->items[i];
        bool warning = dw_str_has_prefix(g->msg, "warning: ");
        if (warning != warnings)
            continue;
        const char *msg = warning ? g->msg + strlen("warning: ") : g->msg;
        json_t *o = json_pack("{s:i,s:i,s:s}", "line", g->line, "col", g->col, "message", msg);
        if (!o) /* jansson wants UTF-8; the file may quote other bytes back */
            o = json_pack("{s:i,s:i,s:s}", "line", g->line, "col", g->col, "message",
                          "(message not valid UTF-8; see -o text)");
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *check_json(const struct check *c)
{
    return json_pack("{s:s,s:b,s:I,s:I,s:o,s:o}", "file", c->path, "valid", c->set != NULL,
                     "groups", (json_int_t)(c->set ? c->set->ngroups : 0), "rules",
                     (json_int_t)(c->set ? c->set->nrules : 0), "errors",
                     diags_json(&c->diags, false), "warnings", diags_json(&c->diags, true));
}

/* Checks one file; true when it is valid. */
static bool check_file(const char *path, bool json, json_t *results)
{
    struct check c = {.path = path};
    dw_diags_init(&c.diags);
    dw_rules_load_files(&path, 1, 0, &c.set, &c.diags);
    if (json)
        json_array_append_new(results, check_json(&c));
    else
        print_text(&c);
    bool ok = c.set != NULL;
    dw_rule_set_free(&c.set);
    dw_diags_release(&c.diags);
    return ok;
}

int dw_cli_check_rules(int argc, char **argv)
{
    enum dw_cli_output out = DW_CLI_TEXT;
    int rc = dw_cli_output_opts("check-rules", dw_cli_check_rules_usage, argc, argv, &out);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return dw_cli_usage_error("check-rules", "%s",
                                  "which files? e.g. examples/rules/dojopool.rules.yml");
    bool json = out == DW_CLI_JSON;
    json_t *results = json_array();
    int status = 0;
    for (int i = optind; i < argc; i++)
        if (!check_file(argv[i], json, results))
            status = 1;
    if (json) {
        char *s = json_dumps(results, JSON_INDENT(2));
        puts(s);
        free(s);
    }
    json_decref(results);
    if (fflush(stdout) != 0) {
        perror("dojowatch check-rules: stdout");
        return 1;
    }
    return status;
}
