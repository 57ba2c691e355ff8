/*
 * alerts.h - `dojowatch alerts`: list, acknowledge and silence alerts on a
 * running daemon through its Alertmanager API v2 and alert endpoints
 * (src/cli/alerts.c).
 */
#ifndef DW_CLI_ALERTS_H
#define DW_CLI_ALERTS_H

/** The --help text of `dojowatch alerts`. */
extern const char dw_cli_alerts_usage[];

/**
 * Runs `dojowatch alerts SUBCOMMAND ...` with argv[0] = "alerts". Returns
 * the exit status: 0 done, 1 the server refused or could not be reached
 * (its reason is printed), 2 bad usage.
 */
int dw_cli_alerts(int argc, char **argv);

#endif
