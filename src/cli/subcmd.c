/*
 * subcmd.c - the runner of the commands made of subcommands (`dojowatch
 * oncall`, `dojowatch incident`): `dojowatch COMMAND SUBCOMMAND [flags]
 * [operands]`.
 *
 * DESIGN
 * A command is a table (struct dw_cli_command): its subcommands, each with
 * the command flags it takes and how many operands it needs, and the long
 * options of those flags. The runner checks everything that does not depend
 * on the command: an unknown subcommand (with "did you mean"), a flag that
 * belongs to another subcommand, a bad -o, too few or too many operands; each
 * is a usage error, exit status 2, instead of being ignored. The command's
 * flag hook checks the values it knows (states, numbers, times) and its
 * subcommands do the work, usually one request through the client
 * (client.c). -h/--help anywhere prints the subcommand's usage.
 *
 * Threads: one (getopt_long's state is global).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"

static const struct option common_flags[] = {
    {"server", required_argument, NULL, 's'},
    {"token", required_argument, NULL, 't'},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
};

int dw_cli_sub_usage(const struct dw_cli_sub *s, const char *fmt, const char *arg)
{
    return dw_cli_usage_error(s->c.cmd, fmt, arg);
}

int dw_cli_sub_time(const struct dw_cli_sub *s, const char *arg, int64_t *ms)
{
    if (dw_cli_parse_time(arg, ms) == 0)
        return -1;
    char *msg = dw_asprintf("'%s' is not a time: RFC 3339, Unix seconds, now or %s", arg,
                            s->cmd->time_example);
    int rc = dw_cli_sub_usage(s, "%s", msg);
    free(msg);
    return rc;
}

/* The common flags and then the command's, for getopt_long (caller frees). */
static struct option *all_flags(const struct dw_cli_command *cmd, size_t *nflags)
{
    size_t n = 0;
    while (cmd->flags[n].name)
        n++;
    *nflags = n;
    struct option *all = dw_calloc(DW_ARRAY_LEN(common_flags) + n + 1, sizeof *all);
    memcpy(all, common_flags, sizeof common_flags);
    memcpy(all + DW_ARRAY_LEN(common_flags), cmd->flags, n * sizeof *all);
    return all;
}

/* One option; -1 to go on, or the exit status. */
static int one_flag(struct dw_cli_sub *s, void *ctx, int ch, const struct option *flag,
                    size_t nflags)
{
    switch (ch) {
    case 's': s->c.server = optarg; return -1;
    case 't': s->c.token = optarg; return -1;
    case 'o':
        if (strcmp(optarg, "json") && strcmp(optarg, "table") && strcmp(optarg, "text"))
            return dw_cli_sub_usage(s, "unknown output format '%s' (table, json)", optarg);
        s->json = strcmp(optarg, "json") == 0;
        return -1;
    case 'h': fputs(s->sub->usage, stdout); return 0;
    case '?': return dw_cli_sub_usage(s, "%s", "bad option");
    default: break;
    }
    if (ch < DW_CLI_OPT_FIRST || (size_t)(ch - DW_CLI_OPT_FIRST) >= nflags)
        return dw_cli_sub_usage(s, "%s", "bad option");
    if (!(s->sub->flags & DW_CLI_BIT(ch)))
        return dw_cli_sub_usage(s, "--%s does not apply to this command", flag->name);
    s->given |= DW_CLI_BIT(ch);
    s->val[ch - DW_CLI_OPT_FIRST] = optarg;
    return s->cmd->flag ? s->cmd->flag(ctx, ch, optarg) : -1;
}

/* The flags and the operand count; -1 to go on (operands from optind), or
 * the exit status. */
static int parse_flags(struct dw_cli_sub *s, void *ctx, int argc, char **argv)
{
    size_t nflags;
    struct option *flags = all_flags(s->cmd, &nflags);
    int ch, longindex = 0, rc = -1;
    optind = 1;
    while (rc < 0 && (ch = getopt_long(argc, argv, "s:t:o:h", flags, &longindex)) != -1)
        rc = one_flag(s, ctx, ch, &flags[longindex], nflags);
    free(flags);
    if (rc >= 0)
        return rc;
    const struct dw_cli_subcmd *sub = s->sub;
    int n = argc - optind;
    if (n < sub->min_args)
        return dw_cli_sub_usage(s, "%s", n == 0 || !sub->more ? sub->missing : sub->more);
    if (sub->max_args >= 0 && n > sub->max_args)
        return dw_cli_sub_usage(s, "unexpected argument '%s'", argv[optind + sub->max_args]);
    return -1;
}

static int unknown_sub(const struct dw_cli_command *cmd, const char *word)
{
    const char **names = dw_calloc(cmd->nsubs, sizeof *names);
    for (size_t i = 0; i < cmd->nsubs; i++)
        names[i] = cmd->subs[i].name;
    const char *near = dw_suggest(word, names, cmd->nsubs);
    char *msg = near ? dw_asprintf("unknown command '%s'; did you mean '%s'?", word, near)
                     : dw_asprintf("unknown command '%s' (%s)", word, cmd->names_text);
    int rc = dw_cli_usage_error(cmd->name, "%s", msg);
    free(msg);
    free(names);
    return rc;
}

int dw_cli_subcmd_main(const struct dw_cli_command *cmd, int argc, char **argv,
                       struct dw_cli_sub *s, void *ctx)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(cmd->usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    size_t k = 0;
    while (k < cmd->nsubs && strcmp(argv[1], cmd->subs[k].name) != 0)
        k++;
    if (k == cmd->nsubs)
        return unknown_sub(cmd, argv[1]);
    s->cmd = cmd;
    s->sub = &cmd->subs[k];
    snprintf(s->name, sizeof s->name, "%s %s", cmd->name, s->sub->name);
    dw_cli_client_init(&s->c, s->name);
    s->c.timeout_ms = cmd->timeout_ms;
    int rc = parse_flags(s, ctx, argc - 1, argv + 1);
    if (rc >= 0)
        return rc;
    char **args = argv + 1 + optind;
    if (cmd->local && cmd->local(ctx))
        return s->sub->run(ctx, args);
    if (dw_cli_client_start(&s->c) != 0)
        return 1;
    rc = s->sub->run(ctx, args);
    dw_cli_client_finish();
    return rc;
}
