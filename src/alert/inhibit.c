/*
 * inhibit.c - inhibition rules: a firing alert matching a rule's source
 * matchers mutes the alerts matching its target matchers that carry the
 * same values for the `equal` labels ("a P0 for a service inhibits its P1
 * and P2 alerts").
 *
 * DESIGN
 * Each rule keeps the alerts whose labels match its source matchers (the
 * labels of an alert never change, so membership is decided once, when the
 * alert is created or the configuration changes); whether a source is
 * firing is checked when asked, so timeouts need no bookkeeping. As in
 * Alertmanager, a source must be firing (pending alerts never inhibit),
 * labels absent on both sides count as equal, and when the target also
 * matches the source matchers, sources that match the target matchers are
 * skipped, so an alert never inhibits itself or its peers.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

void inhibit_track(struct dw_alerter *a, struct alert *al)
{
    for (size_t i = 0; i < a->cfg->ninhibit; i++) {
        struct inhibit_rule *r = &a->cfg->inhibit[i];
        if (!amatchers_match(&r->source, &al->labels))
            continue;
        r->src = dw_grow(r->src, &r->capsrc, r->nsrc + 1, sizeof *r->src);
        r->src[r->nsrc++] = al;
    }
}

void inhibit_untrack(struct dw_alerter *a, struct alert *al)
{
    for (size_t i = 0; i < a->cfg->ninhibit; i++) {
        struct inhibit_rule *r = &a->cfg->inhibit[i];
        for (size_t k = 0; k < r->nsrc; k++)
            if (r->src[k] == al) {
                r->src[k] = r->src[--r->nsrc];
                break;
            }
    }
}

void inhibit_rebuild(struct dw_alerter *a)
{
    for (size_t i = 0; i < a->cfg->ninhibit; i++)
        a->cfg->inhibit[i].nsrc = 0;
    size_t it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it)))
        inhibit_track(a, al);
}

static bool equal_labels(const struct inhibit_rule *r, const struct alert *x, const struct alert *y)
{
    for (size_t i = 0; i < r->nequal; i++) {
        const char *vx = lset_get(&x->labels, r->equal[i]), *vy = lset_get(&y->labels, r->equal[i]);
        if (strcmp(vx ? vx : "", vy ? vy : "") != 0)
            return false;
    }
    return true;
}

const char *inhibited_by(const struct dw_alerter *a, const struct alert *al, int64_t now)
{
    for (size_t i = 0; i < a->cfg->ninhibit; i++) {
        const struct inhibit_rule *r = &a->cfg->inhibit[i];
        if (!amatchers_match(&r->target, &al->labels))
            continue;
        bool two_sided = amatchers_match(&r->source, &al->labels);
        for (size_t k = 0; k < r->nsrc; k++) {
            const struct alert *src = r->src[k];
            if (src == al || !alert_is_firing(src, now))
                continue;
            if (two_sided && amatchers_match(&r->target, &src->labels))
                continue;
            if (equal_labels(r, src, al))
                return src->fp_hex;
        }
    }
    return NULL;
}
