/*
 * probe.c - `dojowatch probe`: run one configured synthetic probe once, on a
 * private event loop, and print the result.
 *
 * DESIGN
 * The command loads the configuration like serve does (errors printed as
 * file:line:col, exit status 2), decodes the probes section with the
 * collector's own schema, and starts the named check through the same
 * dw_probe_start() the scheduler uses: once per device the check lists (all
 * at once, on one loop), or once with --device NAME, or once plain. The loop
 * runs until every run has called done; a run that has not finished a few
 * seconds after its deadline is a bug, reported and aborted, never waited for.
 *
 * Output: per run the success, reason, detail, duration and every sample the
 * probe produced (text), or one JSON object (-o json). Exit status 0 when
 * every run succeeded, 1 when one failed.
 *
 * Threads: one (the loop runs on the calling thread).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/probe.h"
#include "collect/probe.h"
#include "plan/plan.h"

#define OVERDUE_MS 5000 /* a run still going this long after its deadline is abandoned */
#define WAIT_STEP_MS 100

const char dw_cli_probe_usage[] =
    "usage: dojowatch probe [-c CONFIG] [-o text|json] [--device NAME] NAME\n"
    "\n"
    "Runs the synthetic probe NAME from the probes section of CONFIG once and prints\n"
    "the outcome: success, the failure reason and detail, the duration and every\n"
    "sample it produced (blackbox_exporter names). A check with devices runs once per\n"
    "device. Exit status 0 when every run succeeded, 1 when one failed, 2 on bad\n"
    "usage or an invalid configuration.\n"
    "\n"
    "  -c, --config FILE     the configuration (default $DOJOWATCH_CONFIG)\n"
    "  -d, --device NAME     run only as this device profile (e.g. mobile)\n"
    "  -o, --output FORMAT   text (default) or json\n"
    "  -h, --help            this help\n"
    "\n"
    "example: dojowatch probe -c examples/dojopool.yaml api-health\n";

struct probe_args {
    const char *config;
    const char *device;
    const char *name;
    bool json;
};

struct cli_run {
    struct dw_probe_run run;
    bool finished;
    int64_t started_ns;
    double duration_s;
};

/* Returns -1 to go on, or the exit status (0 after --help, 2 on bad usage). */
static int parse_args(int argc, char **argv, struct probe_args *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"device", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    a->config = getenv("DOJOWATCH_CONFIG");
    while ((c = getopt_long(argc, argv, "c:d:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'd': a->device = optarg; break;
        case 'o':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                return dw_cli_usage_error("probe", "unknown output format '%s' (text, json)",
                                          optarg);
            a->json = strcmp(optarg, "json") == 0;
            break;
        case 'h': fputs(dw_cli_probe_usage, stdout); return 0;
        default: return dw_cli_usage_error("probe", "%s", "bad option");
        }
    }
    if (optind != argc - 1)
        return dw_cli_usage_error("probe", "%s", "give exactly one probe NAME");
    a->name = argv[optind];
    if (!a->config || !*a->config)
        return dw_cli_usage_error("probe", "%s", "which configuration? -c FILE");
    return -1;
}

static void print_diags(const struct dw_diags *diags)
{
    for (size_t i = 0; i < diags->n; i++) {
        struct dw_buf line;
        dw_buf_init(&line, 0);
        dw_diag_format(&diags->items[i], &line);
        fprintf(stderr, "%s\n", line.data);
        dw_buf_release(&line);
    }
}

/* Loads the file and decodes its probes section; 0, or 2 after printing why. */
static int load_probes(const char *path, struct dw_probes_cfg *pc)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct dw_config *cfg = dw_config_load_file(path, &diags);
    if (cfg)
        dw_config_decode_section(cfg, "probes", &dw_probes_schema, pc, NULL, &diags);
    print_diags(&diags);
    size_t errors = dw_diags_errors(&diags);
    dw_diags_release(&diags);
    dw_config_unref(&cfg);
    if (errors)
        fprintf(stderr, "%s: %zu error(s); run 'dojowatch check-config %s' after fixing them\n",
                path, errors, path);
    return errors ? 2 : 0;
}

static void run_done(struct dw_probe_run *run)
{
    struct cli_run *r = run->sched_arg;
    r->finished = true;
    r->duration_s = (double)(dw_mono_ns() - r->started_ns) / 1e9;
}

static bool all_finished(const struct cli_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!runs[i].finished)
            return false;
    return true;
}

/* Runs every run to its end on one private loop. */
static void run_all(struct cli_run *runs, size_t n, const struct dw_probe_cfg *check)
{
    struct dw_loop *loop = dw_loop_new();
    int64_t deadline = dw_mono_ms() + check->timeout_ms;
    for (size_t i = 0; i < n; i++) {
        struct dw_probe_run *run = &runs[i].run;
        run->cfg = check;
        run->loop = loop;
        run->deadline_mono_ms = deadline;
        run->done = run_done;
        run->sched_arg = &runs[i];
        runs[i].started_ns = dw_mono_ns();
        dw_probe_start(run);
    }
    while (!all_finished(runs, n) && dw_mono_ms() < deadline + OVERDUE_MS)
        dw_loop_run_once(loop, WAIT_STEP_MS);
    for (size_t i = 0; i < n; i++) {
        if (runs[i].finished)
            continue;
        dw_probe_abort(&runs[i].run);
        runs[i].run.success = false;
        dw_strlcpy(runs[i].run.reason, "timeout", sizeof runs[i].run.reason);
        dw_strlcpy(runs[i].run.detail, "the probe did not finish by its deadline (a bug)",
                   sizeof runs[i].run.detail);
        runs[i].duration_s = (double)(dw_mono_ns() - runs[i].started_ns) / 1e9;
    }
    dw_loop_free(&loop);
    dw_probe_easy_drain();
}

/* ---- output ---- */

static void print_sample(const struct dw_csample *s)
{
    printf("  %s", s->name);
    for (size_t j = 0; j < s->nlabels; j++) {
        struct dw_buf v;
        dw_buf_init(&v, 0);
        dw_buf_put_label_value(&v, s->label_values[j]);
        printf("%s%s=\"%s\"", j ? "," : "{", s->label_names[j], v.data ? v.data : "");
        dw_buf_release(&v);
    }
    printf("%s %.15g\n", s->nlabels ? "}" : "", s->value);
}

static void print_text(const struct dw_probe_cfg *check, const struct cli_run *runs, size_t n)
{
    printf("probe %s (%s, %s) %s\n", check->name, dw_probe_kind_name(check->kind),
           dw_check_class_name(check->cls), check->target);
    for (size_t i = 0; i < n; i++) {
        const struct dw_probe_run *run = &runs[i].run;
        if (run->device)
            printf("\ndevice: %s\n", dw_probe_device_name(run->device));
        printf("success: %s\n", run->success ? "yes" : "no");
        if (!run->success)
            printf("reason: %s\ndetail: %s\n", run->reason, run->detail);
        printf("duration: %.3fs\nsamples:\n", runs[i].duration_s);
        for (size_t k = 0; k < run->samples.n; k++)
            print_sample(&run->samples.items[k]);
    }
}

static json_t *samples_json(const struct dw_csamples *samples)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < samples->n; k++) {
        const struct dw_csample *s = &samples->items[k];
        json_t *labels = json_object();
        for (size_t j = 0; j < s->nlabels; j++)
            json_object_set_new(labels, s->label_names[j], json_string(s->label_values[j]));
        json_array_append_new(
            arr, json_pack("{s:s,s:o,s:f}", "name", s->name, "labels", labels, "value", s->value));
    }
    return arr;
}

static void print_json(const struct dw_probe_cfg *check, const struct cli_run *runs, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct dw_probe_run *run = &runs[i].run;
        const char *device = run->device ? dw_probe_device_name(run->device) : NULL;
        json_array_append_new(
            arr, json_pack("{s:s?,s:b,s:s,s:s,s:f,s:o}", "device", device, "success", run->success,
                           "reason", run->reason, "detail", run->detail, "duration_seconds",
                           runs[i].duration_s, "samples", samples_json(&run->samples)));
    }
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:o}", "probe", check->name, "kind",
                            dw_probe_kind_name(check->kind), "class",
                            dw_check_class_name(check->cls), "target", check->target, "runs", arr);
    char *s = json_dumps(out, JSON_INDENT(2));
    puts(s ? s : "{}");
    free(s);
    json_decref(out);
}

/* ---- the command ---- */

static bool takes_devices(const struct dw_probe_cfg *c)
{
    return c->kind == DW_PROBE_HTTP || c->kind == DW_PROBE_CDN || c->kind == DW_PROBE_JOURNEY;
}

/* The runs to make: one per device, or one plain; 2 on a bad --device. */
static int plan_runs(const struct dw_probes_cfg *pc, const struct dw_probe_cfg *check,
                     const char *device, struct cli_run **out, size_t *n)
{
    if (device && !takes_devices(check))
        return dw_cli_usage_error("probe", "--device does not apply to %s probes",
                                  dw_probe_kind_name(check->kind));
    const struct dw_probe_device *d = device ? dw_probes_device(pc, device) : NULL;
    if (device && !d)
        return dw_cli_usage_error("probe", "no device profile named '%s'", device);
    *n = d || check->ndevices == 0 ? 1 : check->ndevices;
    *out = dw_calloc(*n, sizeof **out);
    for (size_t i = 0; i < *n; i++) {
        dw_csamples_init(&(*out)[i].run.samples);
        (*out)[i].run.device = d                 ? d
                               : check->ndevices ? dw_probes_device(pc, check->devices[i])
                                                 : NULL;
    }
    return -1;
}

int dw_cli_probe(int argc, char **argv)
{
    struct probe_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    struct dw_probes_cfg pc = {0};
    if (load_probes(a.config, &pc) != 0) {
        dw_probes_cfg_release(&pc);
        return 2;
    }
    const struct dw_probe_cfg *check = dw_probes_find(&pc, a.name);
    struct cli_run *runs = NULL;
    size_t n = 0;
    if (!check) {
        rc = dw_cli_usage_error("probe", "no probe named '%s' in the probes section", a.name);
    } else if ((rc = plan_runs(&pc, check, a.device, &runs, &n)) < 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        run_all(runs, n, check);
        if (a.json)
            print_json(check, runs, n);
        else
            print_text(check, runs, n);
        rc = 0;
        for (size_t i = 0; i < n; i++)
            rc = runs[i].run.success ? rc : 1;
        curl_global_cleanup();
    }
    for (size_t i = 0; i < n; i++)
        dw_csamples_clear(&runs[i].run.samples);
    free(runs);
    dw_probes_cfg_release(&pc);
    return rc;
}
