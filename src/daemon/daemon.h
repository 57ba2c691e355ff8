/*
 * daemon.h - `dojowatch serve`: start-up, the worker thread table, signals,
 * reload and graceful shutdown.
 */
#ifndef DW_DAEMON_H
#define DW_DAEMON_H

#include "core/core.h"

struct dw_daemon_options {
    const char *config_path;     /* required */
    const char *data_dir;        /* NULL: from the config (server.data_dir) */
    const char *listen;          /* NULL: from the config (server.listen) */
    bool test_clock;             /* manual clock, advanced through POST /-/test/clock */
    int64_t test_clock_start_ms; /* start of the manual clock (0: now) */
    int64_t retention_ms;        /* raw-data retention; 0: the plan's (retention.raw) */
};

/**
 * Runs the daemon until SIGTERM/SIGINT. Returns the process exit status:
 * 0 after a clean stop, 1 on a start-up failure (reason logged), 2 when the
 * configuration is invalid.
 */
int dw_daemon_run(const struct dw_daemon_options *opts);

struct dw_config;
/**
 * Validates the sections the modules own (scrape, probes, rules and the rule
 * files...) the way serve and a reload do; the number of errors added to
 * diags. `dojowatch check-config` uses it too.
 */
size_t dw_daemon_check_sections(const struct dw_config *cfg, struct dw_diags *diags);

#endif
