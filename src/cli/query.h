/*
 * query.h - `dojowatch query` and `dojowatch query-range`: PromQL through a
 * running daemon's Prometheus HTTP API (src/cli/query.c).
 */
#ifndef DW_CLI_QUERY_H
#define DW_CLI_QUERY_H

/** The full --help texts of the two commands. */
extern const char dw_cli_query_usage[];
extern const char dw_cli_query_range_usage[];

/**
 * Run `dojowatch query` / `dojowatch query-range` with argv[0] the command
 * name. Return the exit status: 0 answered, 1 the server refused or failed
 * the query (its error type and message are printed) or could not be
 * reached, 2 bad usage.
 */
int dw_cli_query(int argc, char **argv);
int dw_cli_query_range(int argc, char **argv);

#endif
