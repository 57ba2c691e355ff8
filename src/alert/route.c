/*
 * route.c - the routing tree: which routes an alert goes to, the labels
 * that name its group there, and the timers of that group.
 *
 * DESIGN
 * Alertmanager's Route.Match: a route that matches tries its children in
 * order; each matching child contributes its own matches, and the search
 * stops at the first matching child without `continue`. When no child
 * matches, the route itself is the result. The root matches everything.
 * Timers a route leaves unset (after inheritance) come from the
 * configuration's priority_timing for the group's most urgent priority.
 * A route is muted while one of its mute_time_intervals contains now, or
 * while it has active_time_intervals and none contains now.
 */
#include <string.h>

#include "alert/alert_internal.h"

static size_t match_into(const struct route *r, const struct lset *ls, const struct route **out,
                         size_t n, size_t max)
{
    if (!amatchers_match(&r->matchers, ls))
        return n;
    size_t before = n;
    for (size_t i = 0; i < r->nroutes; i++) {
        size_t got = match_into(&r->routes[i], ls, out, n, max);
        bool matched = got > n;
        n = got;
        if (matched && !r->routes[i].cont)
            break;
    }
    if (n == before && n < max)
        out[n++] = r;
    return n;
}

size_t route_match(const struct route *root, const struct lset *ls, const struct route **out,
                   size_t max)
{
    return match_into(root, ls, out, 0, max);
}

void route_group_labels(const struct route *r, const struct lset *ls, struct lset *out)
{
    if (r->group_all) {
        lset_copy(out, ls);
        return;
    }
    out->l = dw_calloc(r->ngroup_by ? r->ngroup_by : 1, sizeof *out->l);
    out->n = 0;
    for (size_t i = 0; i < r->ngroup_by; i++) {
        const char *v = lset_get(ls, r->group_by[i]);
        if (v)
            lset_set(out, r->group_by[i], v);
    }
}

void route_timing(const struct acfg *c, const struct route *r, int prio, struct timing *t)
{
    const struct timing *d = &c->prio[prio >= 0 && prio < PRIO_SLOTS ? prio : PRIO_NONE];
    t->group_wait = r->group_wait >= 0 ? r->group_wait : d->group_wait;
    t->group_interval = r->group_interval >= 0 ? r->group_interval : d->group_interval;
    t->repeat_interval = r->repeat_interval >= 0 ? r->repeat_interval : d->repeat_interval;
}

const struct route *route_find(const struct route *root, const char *id)
{
    if (strcmp(root->id, id) == 0)
        return root;
    for (size_t i = 0; i < root->nroutes; i++) {
        const struct route *r = route_find(&root->routes[i], id);
        if (r)
            return r;
    }
    return NULL;
}

bool route_time_muted(const struct acfg *c, const struct route *r, int64_t now)
{
    for (size_t i = 0; i < r->nmute; i++)
        if (r->mute[i] < c->nintervals && tinterval_contains(&c->intervals[r->mute[i]], now))
            return true;
    if (!r->nactive)
        return false;
    for (size_t i = 0; i < r->nactive; i++)
        if (r->active[i] < c->nintervals && tinterval_contains(&c->intervals[r->active[i]], now))
            return false;
    return true;
}
