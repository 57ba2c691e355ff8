/*
 * cli.h - what the subcommand files of `dojowatch` share: usage errors and
 * the -o/--output option (main.c), and the HTTP client of the commands that
 * talk to a running daemon (client.c).
 */
#ifndef DW_CLI_H
#define DW_CLI_H

#include <stdint.h>

#include "core/core.h"

/**
 * Prints "dojowatch CMD: <fmt with arg>" and where to find the usage to
 * stderr; returns 2, the exit status of bad usage. fmt takes one %s: arg.
 */
int dw_cli_usage_error(const char *cmd, const char *fmt, const char *arg)
    __attribute__((format(printf, 2, 0)));

/* What -o/--output asks for. */
enum dw_cli_output { DW_CLI_TEXT, DW_CLI_JSON };

/**
 * Parses the options of a command that takes only -o/--output text|json and
 * -h/--help (which prints `usage` to stdout). Returns -1 to go on with the
 * arguments from optind, else the exit status: 0 after --help, 2 on bad
 * usage (reported).
 */
int dw_cli_output_opts(const char *cmd, const char *usage, int argc, char **argv,
                       enum dw_cli_output *out);

/* ---- a running daemon's HTTP API (client.c) ---- */

#define DW_CLI_DEFAULT_SERVER "http://127.0.0.1:9107"

/** How a command reaches the daemon. */
struct dw_cli_client {
    const char *cmd;         /* names the command in messages: "query", "alerts list" */
    const char *server;      /* base URL; NULL or "" until dw_cli_client_start() */
    const char *token;       /* bearer token; NULL or "" sends none */
    long connect_timeout_ms; /* 0: libcurl's default */
    long timeout_ms;         /* the whole request; 0: no limit */
};

/** Sets cmd, the server from $DOJOWATCH_SERVER and the token from $DOJOWATCH_TOKEN
 *  (flags may override them), and no timeouts. */
void dw_cli_client_init(struct dw_cli_client *c, const char *cmd);
/** After the flags: DW_CLI_DEFAULT_SERVER when no server was given, and libcurl's
 *  global setup. 0, or 1 (the exit status) after printing why not; then
 *  dw_cli_client_finish() when done. */
int dw_cli_client_start(struct dw_cli_client *c);
void dw_cli_client_finish(void);

/**
 * One request to the server's URL + path. A body (may be NULL) is sent with
 * content_type (NULL: libcurl's form type, application/x-www-form-urlencoded);
 * a POST without one sends an empty body. Returns 0 with the HTTP status and
 * the answer appended to out (whose maximum bounds it), or -1 after printing
 * why the server could not be reached.
 */
int dw_cli_request(const struct dw_cli_client *c, const char *method, const char *path,
                   const char *content_type, const char *body, long *status, struct dw_buf *out);


/** A time flag: "now", "now-<duration>" or what the HTTP API accepts (RFC 3339,
 *  Unix seconds), as ms since the epoch. -1 when it is not a time. */
int dw_cli_parse_time(const char *s, int64_t *ms);

#endif
