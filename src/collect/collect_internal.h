/*
 * collect_internal.h - shared between the files of src/collect only.
 *
 * The pieces: loop.h (the event loop), config.c (the scrape section),
 * probe.h (the probes section and the probe kinds), relabel.h (target
 * relabeling and file_sd), host.h (the built-in host collector),
 * probe_wire.h (DNS, WebSocket, JSON path and CDN helpers), and the
 * scheduler in collect.c, which owns the thread and writes to the tsdb.
 */
#ifndef DW_COLLECT_INTERNAL_H
#define DW_COLLECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/loop.h"
#include "core/core.h"

/* ---- samples a check produces (heap copies; the scheduler adds the target labels) ---- */

struct dw_csample {
    char *name;
    char **label_names; /* extra labels only (phase="connect"), heap */
    char **label_values;
    size_t nlabels;
    double value;
};

struct dw_csamples {
    struct dw_csample *items;
    size_t n, cap;
};

void dw_csamples_init(struct dw_csamples *s);
/** Frees every sample and re-initialises. */
void dw_csamples_clear(struct dw_csamples *s);
/**
 * Adds a sample: name, value, then label name/value pairs ending with NULL:
 * dw_csamples_add(s, "probe_http_duration_seconds", 0.012, "phase", "connect", NULL).
 */
void dw_csamples_add(struct dw_csamples *s, const char *name, double value, ...) DW_SENTINEL;

/* ---- one run of a probe (probe.h implements dw_probe_start) ---- */

struct dw_probe_cfg;
struct dw_probe_device;

/* Failure reasons: short machine codes, the text says more. */
#define DW_PROBE_REASON_LEN 48
#define DW_PROBE_DETAIL_LEN 256

struct dw_probe_run {
    /* in, set by the scheduler; valid until done() returns */
    const struct dw_probe_cfg *cfg;
    const struct dw_probe_device *device; /* NULL: no device profile (plain run) */
    struct dw_loop *loop;
    int64_t deadline_mono_ms; /* the run must call done() by then (dw_mono_ms scale) */
    void (*done)(struct dw_probe_run *run); /* called exactly once, on the loop thread */
    void *sched_arg;
    /* out, filled by the probe before done() */
    bool success;
    char reason[DW_PROBE_REASON_LEN]; /* "" on success: "timeout", "connection_refused"... */
    char detail[DW_PROBE_DETAIL_LEN]; /* human text: "GET https://x/: status 503, expected 2xx" */
    struct dw_csamples samples;       /* everything except probe_success/_duration (scheduler) */
    void *state;                      /* the probe's own, freed by the probe before done() */
};

#endif
