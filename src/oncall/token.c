/*
 * token.c - signed, expiring action tokens for the links in pages (Slack
 * buttons, e-mail links, SMS text) and for Twilio's call callbacks.
 *
 * DESIGN
 * A token is base64url(claims) "." base64url(HMAC-SHA-256(secret, claims)),
 * claims being "v1|<action>|<person>|<expires ms>|<page id>,<page id>...".
 * Actions: "ack", "resolve", "any" (a call: the keypad decides), "feed" (an
 * iCal feed URL, page ids empty and person = the feed's subject). The
 * secret is the on-call section's links.secret or 32 random bytes kept in
 * the store's meta table, so links survive restarts. Verification compares
 * the MAC in constant time before reading anything from the claims.
 *
 * Threads: pure functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncall/oncall_internal.h"

#define TOKEN_MAX 4096
#define MAC_LEN 32

char *token_make(const struct token_key *k, const char *action, const char *person,
                 int64_t expires_ms, const char *const *pages, size_t npages)
{
    struct dw_buf c;
    dw_buf_init(&c, TOKEN_MAX);
    dw_buf_printf(&c, "v1|%s|%s|%lld|", action, person ? person : "", (long long)expires_ms);
    for (size_t i = 0; i < npages; i++)
        dw_buf_printf(&c, "%s%s", i ? "," : "", pages[i]);
    uint8_t mac[MAC_LEN];
    dw_hmac_sha256(k->secret, k->len, c.data, c.len, mac);
    char *claims = dw_base64(c.data, c.len, true);
    char *sig = dw_base64(mac, sizeof mac, true);
    char *tok = dw_asprintf("%s.%s", claims, sig);
    free(claims);
    free(sig);
    dw_buf_release(&c);
    return tok;
}

static int split_claims(char *claims, struct token_claims *out, char **err)
{
    char *f[5];
    size_t n = 0;
    char *p = claims;
    while (n < 4) {
        char *bar = strchr(p, '|');
        if (!bar)
            break;
        *bar = '\0';
        f[n++] = p;
        p = bar + 1;
    }
    f[n++] = p;
    int64_t exp = 0;
    if (n != 5 || strcmp(f[0], "v1") != 0 || dw_parse_int64(f[3], &exp) != 0) {
        *err = dw_strdup("the link is malformed");
        return -1;
    }
    out->action = dw_strdup(f[1]);
    out->person = dw_strdup(f[2]);
    out->expires_ms = exp;
    out->npages = 0;
    for (char *s = f[4]; *s && out->npages < TOKEN_PAGES_MAX;) {
        size_t len = strcspn(s, ",");
        out->pages[out->npages++] = dw_strndup(s, len);
        s += len + (s[len] == ',');
    }
    return 0;
}

int token_check(const struct token_key *k, const char *token, int64_t now_ms,
                struct token_claims *out, char **err)
{
    *out = (struct token_claims){0};
    const char *dot = token ? strchr(token, '.') : NULL;
    if (!dot || strlen(token) > TOKEN_MAX) {
        *err = dw_strdup("the link is malformed");
        return -1;
    }
    char *enc = dw_strndup(token, (size_t)(dot - token));
    char raw[TOKEN_MAX + 1];
    uint8_t mac[MAC_LEN], want[MAC_LEN];
    ssize_t rlen = dw_base64_decode(enc, true, raw, TOKEN_MAX);
    ssize_t mlen = dw_base64_decode(dot + 1, true, mac, sizeof mac);
    free(enc);
    if (rlen < 0 || mlen != MAC_LEN) {
        *err = dw_strdup("the link is malformed");
        return -1;
    }
    dw_hmac_sha256(k->secret, k->len, raw, (size_t)rlen, want);
    if (!dw_ct_equal(mac, want, MAC_LEN)) {
        *err = dw_strdup("the link's signature is not valid");
        return -1;
    }
    raw[rlen] = '\0';
    if (split_claims(raw, out, err) != 0)
        return -1;
    if (now_ms > out->expires_ms) {
        token_claims_release(out);
        *err = dw_strdup("the link has expired; acknowledge from the console or the CLI instead");
        return -1;
    }
    return 0;
}

void token_claims_release(struct token_claims *c)
{
    free(c->action);
    free(c->person);
    for (size_t i = 0; i < c->npages; i++)
        free(c->pages[i]);
    *c = (struct token_claims){0};
}
