/*
 * passwd.h - `dojowatch passwd`: hashes a console password with Argon2id for
 * auth.users[].password_hash (src/cli/passwd.c).
 */
#ifndef DW_CLI_PASSWD_H
#define DW_CLI_PASSWD_H

/** The full --help text. */
extern const char dw_cli_passwd_usage[];

/**
 * Runs `dojowatch passwd` with argv[0] the command name. Returns the exit
 * status: 0 printed the hash, 1 the terminal or stdin failed, 2 bad usage or
 * an unusable password (empty, too long, two different entries).
 */
int dw_cli_passwd(int argc, char **argv);

#endif
