/*
 * host.h - `dojowatch host-metrics`: the built-in host collector's metrics
 * printed to standard output (src/cli/host.c).
 */
#ifndef DW_CLI_HOST_H
#define DW_CLI_HOST_H

/** The full --help text. */
extern const char dw_cli_host_usage[];

/**
 * Runs `dojowatch host-metrics` with argv[0] the command name. Returns the
 * exit status: 0 printed, 1 nothing could be read or stdout failed, 2 bad
 * usage.
 */
int dw_cli_host(int argc, char **argv);

#endif
