/*
 * cli.h - what the subcommand files of `dojowatch` share: usage errors and
 * the -o/--output option (main.c), the HTTP client of the commands that
 * talk to a running daemon and the helpers of its JSON API (client.c), and
 * the runner of commands made of subcommands (subcmd.c).
 */
#ifndef DW_CLI_H
#define DW_CLI_H

#include <stdbool.h>
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

/* ---- dojowatch's JSON API: the {"status","data"} envelope (client.c) ---- */

/* The most a command keeps of one answer. */
#define DW_CLI_MAX_RESPONSE (64u << 20)

struct json_t; /* jansson's json_t */

/**
 * dw_cli_request() that wants a 2xx answer: 0 with it appended to out
 * (caller-initialised), else 1 after printing why ("dojowatch CMD: HTTP 404:
 * reason", the reason from the {"status":"error","error"} envelope, a JSON
 * string or the body as it is).
 */
int dw_cli_request_ok(const struct dw_cli_client *c, const char *method, const char *path,
                      const char *content_type, const char *body, struct dw_buf *out);

/**
 * dw_cli_request_ok() for the JSON API: *data gets the envelope's "data" (a
 * new reference, NULL on failure). 0, or 1 after printing why, also when the
 * answer has no data.
 */
int dw_cli_call(const struct dw_cli_client *c, const char *method, const char *path,
                const char *content_type, const char *body, struct json_t **data);

/** Appends ?name=value, or &name=value when path already has a query; value URL-encoded. */
void dw_cli_add_param(struct dw_buf *path, const char *name, const char *value);
/** dw_cli_add_param() with ms as RFC 3339. */
void dw_cli_add_time_param(struct dw_buf *path, const char *name, int64_t ms);

/** Prints doc as indented JSON and a newline to stdout ("null" for NULL). */
void dw_cli_print_json(struct json_t *doc);

/** obj's string field key, or dflt when it is missing, not a string or empty. */
const char *dw_cli_str(struct json_t *obj, const char *key, const char *dflt);

/* ---- commands made of subcommands: `dojowatch oncall who ...` (subcmd.c) ---- */

struct option; /* <getopt.h> */

/* The first value of a command's own flags; flag v is bit DW_CLI_BIT(v). */
#define DW_CLI_OPT_FIRST 256
#define DW_CLI_MAX_FLAGS 32
#define DW_CLI_BIT(opt) (1u << ((opt)-DW_CLI_OPT_FIRST))

/**
 * One subcommand, an entry of its command's table. run gets the command's
 * state (the ctx given to dw_cli_subcmd_main()) and the operands,
 * NULL-terminated.
 */
struct dw_cli_subcmd {
    const char *name;
    unsigned flags;         /* DW_CLI_BIT() of the command's flags it takes */
    int min_args, max_args; /* operands after the flags; max -1: any number */
    const char *missing;    /* the usage error when no operand is given */
    const char *more;       /* ... when some but too few are (NULL: missing) */
    int (*run)(void *ctx, char **args);
    const char *usage; /* its --help */
};

/**
 * A command made of subcommands. Every subcommand takes -s/--server,
 * -t/--token, -o/--output table|json and -h/--help; the command's own flags
 * (flags, values DW_CLI_OPT_FIRST on in order, ending with a zero entry) only
 * where its entry lists them.
 */
struct dw_cli_command {
    const char *name;  /* "oncall" */
    const char *usage; /* the command's --help */
    const struct dw_cli_subcmd *subs;
    size_t nsubs;
    const char *names_text;     /* the subcommands for "unknown command 'x' (...)" */
    const struct option *flags; /* the command's own long options */
    const char *time_example;   /* "now-1h" in "'x' is not a time: ..." */
    long timeout_ms;            /* of each request */
    /* A flag of the subcommand, already checked as applying and kept in
     * s->val; -1 to go on, or the exit status (NULL: nothing to check). */
    int (*flag)(void *ctx, int opt, const char *arg);
    /* True when the subcommand as given needs no daemon (NULL: never). */
    bool (*local)(void *ctx);
};

/** What dw_cli_subcmd_main() parsed; the command's state (ctx) holds it. */
struct dw_cli_sub {
    struct dw_cli_client c; /* c.cmd is "COMMAND SUBCOMMAND" */
    const struct dw_cli_command *cmd;
    const struct dw_cli_subcmd *sub;
    bool json;                         /* -o json */
    unsigned given;                    /* DW_CLI_BIT() of the flags given */
    const char *val[DW_CLI_MAX_FLAGS]; /* each flag's last value (borrowed from argv) */
    char name[32];                     /* storage of c.cmd */
};

/**
 * `dojowatch COMMAND` with argv[0] the command's name: the command's usage
 * for no subcommand (stderr, 2) or -h/--help (stdout, 0); else finds the
 * subcommand ("did you mean" for a near miss), parses its flags into *s
 * (the flag hook gets ctx), checks the operand count, starts the client
 * (unless local) and runs it. Returns the exit status: 2 on bad usage.
 */
int dw_cli_subcmd_main(const struct dw_cli_command *cmd, int argc, char **argv,
                       struct dw_cli_sub *s, void *ctx);

/** A usage error of the subcommand: dw_cli_usage_error() with its name. */
int dw_cli_sub_usage(const struct dw_cli_sub *s, const char *fmt, const char *arg)
    __attribute__((format(printf, 2, 0)));

/** A time flag's value into *ms: -1 to go on, else 2 after the usage error. */
int dw_cli_sub_time(const struct dw_cli_sub *s, const char *arg, int64_t *ms);

#endif
