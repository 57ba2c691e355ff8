/*
 * incident.h - `dojowatch incident`: incidents from the command line: list,
 * show, open, move through states, update fields, notes, action items,
 * merge, the report and the notice, MTTA/MTTR (src/cli/incident.c).
 */
#ifndef DW_CLI_INCIDENT_H
#define DW_CLI_INCIDENT_H

/** The --help text of `dojowatch incident`. */
extern const char dw_cli_incident_usage[];

/**
 * Runs `dojowatch incident SUBCOMMAND ...` with argv[0] = "incident".
 * Returns the exit status: 0 done, 1 the server refused or could not be
 * reached (its reason is printed), 2 bad usage.
 */
int dw_cli_incident(int argc, char **argv);

#endif
