/*
 * probe.h - `dojowatch probe`: run one configured synthetic probe once and
 * print what it found (src/cli/probe.c).
 */
#ifndef DW_CLI_PROBE_H
#define DW_CLI_PROBE_H

/** The full --help text. */
extern const char dw_cli_probe_usage[];

/**
 * Runs `dojowatch probe` with argv[0] the command name. Returns the exit
 * status: 0 every run succeeded, 1 a run failed (its reason and detail are
 * printed), 2 bad usage or an invalid configuration.
 */
int dw_cli_probe(int argc, char **argv);

#endif
