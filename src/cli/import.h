/*
 * import.h - `dojowatch import`: offline backfill of OpenMetrics or
 * Prometheus text exposition with timestamps into the data directory's
 * blocks (src/cli/import.c).
 */
#ifndef DW_CLI_IMPORT_H
#define DW_CLI_IMPORT_H

/** The full --help text of the import command. */
extern const char dw_cli_import_usage[];

/**
 * Runs `dojowatch import` with argv[0] = "import". Returns the exit status:
 * 0 imported, 1 failed at run time (data directory locked, I/O), 2 bad usage
 * or invalid input (nothing imported).
 */
int dw_cli_import(int argc, char **argv);

#endif
