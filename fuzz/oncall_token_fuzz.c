/*
 * oncall_token_fuzz.c - libFuzzer driver for the on-call links' tokens
 * (src/oncall/token.c): what arrives in ?t= of /oncall/act and of Twilio's
 * call callbacks, from anyone on the network.
 *
 * DESIGN
 * Every input is used two ways:
 *   - as a token (up to the first NUL): token_check must either refuse it
 *     with a message or accept it - which, without the key, only a token
 *     made with token_make can be - and never read outside it;
 *   - as the claims of a new token: the input's lines are an action, a
 *     person and page ids; token_make with a fixed key, then token_check at
 *     a time before the expiry must give back exactly those claims, and the
 *     same token must be refused after the expiry, under another key, and
 *     with any one character of its signature changed.
 * Any broken invariant aborts. Built with -DDW_FUZZ_REPLAY it replays files
 * and directories given on the command line (the seed corpus in CI).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncall/oncall_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "oncall_token_fuzz: invariant broken: %s\n", what);
        abort();
    }
}

static const struct token_key key = {.secret = "fuzz-secret-0123456789", .len = 22};
static const struct token_key other = {.secret = "another-secret", .len = 14};

static void fuzz_as_token(const char *s)
{
    struct token_claims c;
    char *err = NULL;
    if (token_check(&key, s, 0, &c, &err) == 0) {
        check(c.npages <= TOKEN_PAGES_MAX, "too many pages");
        token_claims_release(&c);
    } else {
        check(err && *err, "a refusal without a reason");
        free(err);
    }
}

/* Splits s at newlines into at most max fields; '|' and ',' are replaced
 * so a field cannot forge the claim separators. */
static size_t fields(char *s, char **out, size_t max)
{
    size_t n = 0;
    for (char *p = s; p && n < max;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        for (char *q = p; *q; q++)
            if (*q == '|' || *q == ',')
                *q = '_';
        out[n++] = p;
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static void fuzz_round_trip(char *s)
{
    char *f[2 + TOKEN_PAGES_MAX];
    size_t n = fields(s, f, DW_ARRAY_LEN(f));
    const char *action = n > 0 ? f[0] : "ack";
    const char *person = n > 1 ? f[1] : "";
    const char *const *pages = (const char *const *)(f + 2);
    size_t npages = n > 2 ? n - 2 : 0;
    if (npages && !*pages[npages - 1])
        npages--; /* a trailing empty id is not representable */
    for (size_t i = 0; i < npages; i++)
        if (!*pages[i])
            return; /* empty ids in the middle are not either */
    char *tok = token_make(&key, action, person, 1000, pages, npages);
    struct token_claims c;
    char *err = NULL;
    if (token_check(&key, tok, 999, &c, &err) != 0) {
        /* only a token longer than the 4 KiB limit may be refused */
        check(strlen(tok) > 4096, "a fresh token was refused");
        free(err);
        free(tok);
        return;
    }
    check(strcmp(c.action, action) == 0, "action changed");
    check(strcmp(c.person, person) == 0, "person changed");
    check(c.expires_ms == 1000, "expiry changed");
    check(c.npages == npages, "page count changed");
    for (size_t i = 0; i < npages; i++)
        check(strcmp(c.pages[i], pages[i]) == 0, "page id changed");
    token_claims_release(&c);
    check(token_check(&key, tok, 1001, &c, &err) != 0, "an expired token was accepted");
    free(err);
    err = NULL;
    check(token_check(&other, tok, 999, &c, &err) != 0, "another key's token was accepted");
    free(err);
    err = NULL;
    size_t len = strlen(tok);
    tok[len - 2] = tok[len - 2] == 'A' ? 'B' : 'A';
    check(token_check(&key, tok, 999, &c, &err) != 0, "a forged signature was accepted");
    free(err);
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *s = dw_strndup((const char *)data, size);
    s[strnlen(s, size)] = '\0';
    fuzz_as_token(s);
    fuzz_round_trip(s);
    free(s);
    return 0;
}

#ifdef DW_FUZZ_REPLAY
#include "replay.h"
#endif
