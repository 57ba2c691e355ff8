/*
 * cli.h - what the subcommand files of `dojowatch` share.
 */
#ifndef DW_CLI_H
#define DW_CLI_H

/**
 * Prints "dojowatch CMD: <fmt with arg>" and where to find the usage to
 * stderr; returns 2, the exit status of bad usage. fmt takes one %s: arg.
 */
int dw_cli_usage_error(const char *cmd, const char *fmt, const char *arg)
    __attribute__((format(printf, 2, 0)));

#endif
