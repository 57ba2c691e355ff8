/*
 * rules.h - `dojowatch check-rules`: validate Prometheus rule files like
 * `promtool check rules` (src/cli/rules.c).
 */
#ifndef DW_CLI_RULES_H
#define DW_CLI_RULES_H

/** The full --help text. */
extern const char dw_cli_check_rules_usage[];

/**
 * Runs `dojowatch check-rules` with argv[0] the command name. Returns the
 * exit status, promtool's convention: 0 every file is valid, 1 a file has
 * errors (or cannot be read), 2 bad usage.
 */
int dw_cli_check_rules(int argc, char **argv);

#endif
