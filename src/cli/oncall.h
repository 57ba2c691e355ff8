/*
 * oncall.h - `dojowatch oncall`: who is on call, pages and their timeline,
 * acknowledge / resolve, gaps, overrides and iCal feeds from the command
 * line (src/cli/oncall.c).
 */
#ifndef DW_CLI_ONCALL_H
#define DW_CLI_ONCALL_H

/** The --help text of `dojowatch oncall`. */
extern const char dw_cli_oncall_usage[];

/**
 * Runs `dojowatch oncall SUBCOMMAND ...` with argv[0] = "oncall". Returns
 * the exit status: 0 done, 1 the server refused or could not be reached
 * (its reason is printed), 2 bad usage or an invalid configuration file,
 * 3 `oncall check` found gaps or double bookings.
 */
int dw_cli_oncall(int argc, char **argv);

#endif
