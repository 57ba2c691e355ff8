/*
 * status.h - `dojowatch status`: the public status page from the command
 * line: components and overrides, public incident updates, maintenance,
 * subscribers (list, import, delete) and their notices (src/cli/status.c).
 */
#ifndef DW_CLI_STATUS_H
#define DW_CLI_STATUS_H

/** The --help text of `dojowatch status`. */
extern const char dw_cli_status_usage[];

/**
 * Runs `dojowatch status SUBCOMMAND ...` with argv[0] = "status".
 * Returns the exit status: 0 done, 1 the server refused or could not be
 * reached (its reason is printed), 2 bad usage or a bad import file.
 */
int dw_cli_status(int argc, char **argv);

#endif
