/*
 * collect.h - gathering data: scrapes of Prometheus targets, the built-in
 * host collector and synthetic probes, driven by one thread and one event
 * loop (libcurl multi), written to the time-series store.
 *
 * The configuration sections `scrape` and `probes` are decoded here (with
 * file:line:col errors through the plan module's schema walker). A new
 * configuration is validated completely before it replaces the running one;
 * targets and probes whose identity is unchanged keep their state and
 * schedule, removed ones get staleness markers.
 */
#ifndef DW_COLLECT_H
#define DW_COLLECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "plan/plan.h"
#include "tsdb/tsdb.h"

struct dw_collector;

/** Decodes and validates the scrape and probes sections of cfg; 0 when
 *  valid, otherwise the number of errors added to diags. */
size_t dw_collect_check_config(const struct dw_config *cfg, struct dw_diags *diags);

/** A collector writing to db (not started). */
struct dw_collector *dw_collector_new(struct dw_tsdb *db);
/**
 * Installs cfg's scrape and probes sections (any thread). All or nothing:
 * when a section is invalid, returns the error count with diags filled and
 * the running configuration stays. 0 on success.
 */
size_t dw_collector_apply(struct dw_collector *c, const struct dw_config *cfg,
                          struct dw_diags *diags);
/** Starts the collector thread; 0 or -1. */
int dw_collector_start(struct dw_collector *c);
/** Stops and joins the thread (staleness is not written at shutdown). */
void dw_collector_stop(struct dw_collector *c);
/** Stops if needed and frees; NULL is a no-op. */
void dw_collector_free(struct dw_collector **c);

/** Prometheus' /api/v1/targets "data" object (activeTargets, droppedTargets);
 *  state is "any", "active" or "dropped". New reference. */
json_t *dw_collector_targets_json(struct dw_collector *c, const char *state);
/** Every probe run target with its last result and reason. New reference. */
json_t *dw_collector_probes_json(struct dw_collector *c);

/**
 * Next start of a check of class cls whose interval follows the plan
 * (`interval: plan`), strictly after t: the phase's cadence anchored at the
 * phase start, and never later than the next phase change, so a new phase's
 * cadence takes effect at its first instant. INT64_MAX when neither this
 * phase nor a later one reviews the class.
 */
int64_t dw_collect_plan_next(const struct dw_config *cfg, int cls, int64_t t);

/* ---- the built-in host collector (host.c), also `dojowatch host-metrics` ---- */

struct dw_host_opts {
    const char *proc_root; /* NULL = "/proc" */
    const char *sys_root;  /* NULL = "/sys" */
    const char *rootfs;    /* NULL = "/": prefix for statfs of mount points and for
                              the udev database (<rootfs>/run/udev/data) */
};

/**
 * Appends Prometheus text exposition (with # HELP and # TYPE lines) to out.
 * o may be NULL (all defaults). Returns 0, or -1 with *err (heap, the
 * caller frees) when nothing at all could be read or out's maximum was
 * reached; out is then left as it was. Partial failures of single
 * collectors are skipped and reported as
 * node_scrape_collector_success{collector="..."} 0 like node_exporter.
 * Thread-safe; the filesystem collector may leave one helper thread behind
 * while a statfs() hangs (see the DESIGN note in host.c).
 */
int dw_host_collect(const struct dw_host_opts *o, struct dw_buf *out, char **err);

#endif
