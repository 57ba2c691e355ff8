/*
 * passwd.c - `dojowatch passwd`: reads a password and prints its Argon2id
 * hash (libsodium's crypto_pwhash_str string) for the configuration's
 * auth.users[].password_hash.
 *
 * DESIGN
 * On a terminal the password is typed twice with echo off (termios on
 * /dev/tty, restored before returning, and by a signal handler when Ctrl-C
 * or a hang-up ends the prompt). Otherwise (a pipe, a file, or --stdin) the first line of
 * standard input is the password, without its line end, so scripts can do
 * `printf '%s\n' "$PW" | dojowatch passwd`. A password is 1 to 1024 bytes
 * (DW_AUTH_PASSWORD_MAX, what sign-in accepts); a longer line is refused
 * rather than cut. The hash costs what the daemon's sign-in checks expect
 * (64 MiB, 2 passes: dw_auth_hash_password). The password is wiped from
 * memory once hashed.
 *
 * Threads: one.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "cli/passwd.h"

const char dw_cli_passwd_usage[] =
    "usage: dojowatch passwd [--stdin]\n"
    "\n"
    "Hashes a password for the web console with Argon2id (libsodium, 64 MiB, 2 passes)\n"
    "and prints the hash for auth.users[].password_hash:\n"
    "\n"
    "  auth:\n"
    "    users:\n"
    "      - name: alice\n"
    "        role: admin          # viewer, responder or admin\n"
    "        password_hash: ${ALICE_PASSWORD_HASH}\n"
    "\n"
    "On a terminal the password is asked twice without echo; otherwise the first line\n"
    "of standard input is the password (printf '%s\\n' \"$PW\" | dojowatch passwd).\n"
    "A password has 1 to 1024 bytes. The hash holds its own salt and cost; the\n"
    "password itself is stored nowhere.\n"
    "\n"
    "      --stdin     read the first line of standard input even on a terminal\n"
    "  -h, --help      this help\n";

#define CMD "passwd"
#define LINE_MAX_BYTES (DW_AUTH_PASSWORD_MAX + 2) /* the password, \r\n */

/*
 * Reads one line of f into buf (without its line end): its length, -1 at
 * end of input before any byte, -2 when it is longer than a password may be.
 */
static ssize_t read_line(FILE *f, char buf[LINE_MAX_BYTES + 1])
{
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n == LINE_MAX_BYTES) {
            while ((c = getc(f)) != EOF && c != '\n')
                ;
            return -2;
        }
        buf[n++] = (char)c;
    }
    if (c == EOF && n == 0)
        return -1;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The terminal's settings while echo is off, for the signal handler. */
static struct termios saved_tty;
static volatile sig_atomic_t saved_fd = -1;

static void restore_and_die(int sig)
{
    if (saved_fd >= 0)
        tcsetattr(saved_fd, TCSAFLUSH, &saved_tty);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Prompts on the terminal and reads a line with echo off. */
static ssize_t ask(FILE *tty, const char *prompt, char buf[LINE_MAX_BYTES + 1])
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa = {.sa_handler = restore_and_die}, old_sa[DW_ARRAY_LEN(sigs)];
    struct termios quiet;
    int fd = fileno(tty);
    fputs(prompt, tty);
    fflush(tty);
    bool restore = tcgetattr(fd, &saved_tty) == 0;
    if (restore) {
        for (size_t i = 0; i < DW_ARRAY_LEN(sigs); i++)
            sigaction(sigs[i], &sa, &old_sa[i]);
        saved_fd = fd;
        quiet = saved_tty;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    ssize_t n = read_line(tty, buf);
    if (restore) {
        tcsetattr(fd, TCSAFLUSH, &saved_tty);
        saved_fd = -1;
        for (size_t i = 0; i < DW_ARRAY_LEN(sigs); i++)
            sigaction(sigs[i], &old_sa[i], NULL);
    }
    return n;
}

/* The password into buf from the terminal (twice) or stdin: its length, or
 * -1 after printing why not (*status set). */
static ssize_t get_password(bool use_stdin, char buf[LINE_MAX_BYTES + 1], int *status)
{
    ssize_t n;
    FILE *tty = NULL;
    if (!use_stdin && isatty(STDIN_FILENO))
        tty = fopen("/dev/tty", "r+");
    if (tty) {
        char again[LINE_MAX_BYTES + 1];
        n = ask(tty, "Password: ", buf);
        ssize_t m = n >= 0 ? ask(tty, "Again: ", again) : n;
        bool differ = n >= 0 && m >= 0 && (n != m || memcmp(buf, again, (size_t)n) != 0);
        explicit_bzero(again, sizeof again);
        fclose(tty);
        if (differ) {
            fprintf(stderr, "dojowatch %s: the two passwords differ; nothing was hashed\n", CMD);
            *status = 2;
            return -1;
        }
    } else {
        n = read_line(stdin, buf);
        if (n == -1 && ferror(stdin)) {
            fprintf(stderr, "dojowatch %s: cannot read standard input: %s\n", CMD, strerror(errno));
            *status = 1;
            return -1;
        }
    }
    if (n == -2 || n == 0 || n == -1) {
        if (n == -2)
            fprintf(stderr, "dojowatch %s: the password is longer than %d bytes\n", CMD,
                    DW_AUTH_PASSWORD_MAX);
        else
            fprintf(stderr, "dojowatch %s: the password is empty%s\n", CMD,
                    n == -1 ? " (no input)" : "");
        *status = 2;
        return -1;
    }
    return n;
}

int dw_cli_passwd(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"stdin", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    bool use_stdin = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'S': use_stdin = true; break;
        case 'h': fputs(dw_cli_passwd_usage, stdout); return 0;
        default: return dw_cli_usage_error(CMD, "%s", "bad option");
        }
    }
    if (optind < argc)
        return dw_cli_usage_error(
            CMD, "unexpected argument '%s': the password is read, never given on the command line",
            argv[optind]);
    char pw[LINE_MAX_BYTES + 1];
    int status = 0;
    ssize_t n = get_password(use_stdin, pw, &status);
    if (n < 0)
        return status;
    char hash[DW_AUTH_HASH_MAX + 1], *err = NULL;
    int rc = dw_auth_hash_password(pw, (size_t)n, hash, &err);
    explicit_bzero(pw, sizeof pw);
    if (rc != 0) {
        fprintf(stderr, "dojowatch %s: %s\n", CMD, err);
        free(err);
        return 2;
    }
    printf("%s\n", hash);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "dojowatch %s: cannot write the hash: %s\n", CMD, strerror(errno));
        return 1;
    }
    return 0;
}
