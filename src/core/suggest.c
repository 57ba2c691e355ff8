/*
 * suggest.c - "did you mean": the known word closest to a misspelt one.
 *
 * DESIGN: configuration and rule-file loaders report an unknown key or an
 * undefined name with the candidate a typo most likely meant. Closeness is
 * the Levenshtein distance, computed only as far as it matters (capped at
 * 3), over two rows of a fixed size, so no allocation; words of 64 bytes or
 * more are never close. Threads: no state.
 */
#include <string.h>

#include "core/core.h"

#define WORD_MAX 64 /* longer words are never suggested or matched */
#define DIST_CAP 3  /* distances from here on are all "too far" */

/* Levenshtein distance capped at DIST_CAP: only "close enough to suggest" matters. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[WORD_MAX], prev[WORD_MAX];
    if (la >= WORD_MAX || lb >= WORD_MAX)
        return DIST_CAP;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, row, sizeof row);
    }
    return prev[lb] > DIST_CAP ? DIST_CAP : prev[lb];
}

const char *dw_suggest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int bestd = DIST_CAP;
    for (size_t i = 0; i < n; i++) {
        int d = edit_distance(word, cands[i]);
        if (d < bestd && (size_t)d < strlen(word)) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}
