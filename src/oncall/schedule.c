/*
 * schedule.c - DESIGN: who is on call when, computed from a decoded
 * sched_set (sched_config.c builds it).
 *
 * A schedule is a piecewise-constant function of time. Each layer is one
 * too: nobody before its first handoff; then shift k (the k-th handoff
 * onwards) belongs to members[k mod n], and with restrict windows the
 * layer has nobody outside them. Rotation lengths of whole days advance in
 * local calendar days: shift k starts at local day (anchor + k * days) at
 * the handoff minute, converted to an instant in the schedule's zone, so a
 * daily shift over a DST change lasts 23 h or 25 h and the handoff stays at
 * 09:00 local. Other lengths advance in absolute time from the first
 * handoff. Local times that do not exist (spring forward) map to the first
 * instant after the gap, ambiguous ones (fall back) to the first occurrence
 * (sched_local_to_ms). Restrict windows are evaluated as instants too, with
 * the same conversion, so coverage and boundaries always agree.
 *
 * The final schedule at t: the last-listed layer that has someone at t;
 * then plain overrides on top; then swaps, which apply only while their
 * replaced person would be on call. Overrides are kept sorted by start.
 *
 * Everything walks boundaries: schedule_next(t) is the earliest instant
 * after t at which any layer or override may change (a handoff to a
 * different member, a window edge, an override edge). Shifts are the
 * segments between boundaries, merged; sched_who's `until` is the first
 * boundary where the person differs. Every walk is bounded (steps and
 * horizon) so no input can make it run away.
 *
 * Threads: readers only read; sched_add_override is the one writer (see
 * schedule.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncall/schedule.h"

#define DAY_MS 86400000LL
#define WHO_HORIZON_MS (366 * DAY_MS)
#define WALK_MAX_STEPS 1000000 /* boundaries visited by one sched_shifts call */
/* Instants accepted from callers: years 0001 to 9999, far from overflow. */
#define TIME_MIN_MS (-62135596800000LL)
#define TIME_MAX_MS 253402300799999LL

/* ---- local time ---- */

int sched_weekday(int64_t day)
{
    int64_t w = (day + 4) % 7; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}

int64_t sched_local_day(const struct dw_tz *z, int64_t ms)
{
    struct dw_civil c;
    dw_civil_at(z, ms, &c);
    return dw_days_from_civil(c.year, c.month, c.day);
}

/* The first second in (lo, hi] whose offset differs from lo's; hi when none. */
static int64_t transition_between(const struct dw_tz *z, int64_t lo, int64_t hi)
{
    int32_t off = dw_tz_offset(z, lo);
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (dw_tz_offset(z, mid) == off)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

int64_t sched_local_to_ms(const struct dw_tz *z, int64_t day, int min)
{
    int64_t local = day * 86400 + (int64_t)min * 60;
    /* The offsets a day either side: real zones change at most once in between. */
    int32_t before = dw_tz_offset(z, local - 86400), after = dw_tz_offset(z, local + 86400);
    int64_t t1 = local - before, t2 = local - after;
    bool ok1 = dw_tz_offset(z, t1) == before, ok2 = dw_tz_offset(z, t2) == after;
    if (ok1 && ok2)
        return (t1 < t2 ? t1 : t2) * 1000; /* ambiguous: the first occurrence */
    if (ok1 || ok2)
        return (ok1 ? t1 : t2) * 1000;
    /* In a gap: the transition instant is the first valid time after it. */
    int64_t lo = t1 < t2 ? t1 : t2, hi = t1 < t2 ? t2 : t1;
    return transition_between(z, lo, hi) * 1000;
}

/* ---- one layer ---- */

static int64_t shift_start(const struct sched_layer *l, const struct dw_tz *z, int64_t k)
{
    if (l->days)
        return sched_local_to_ms(z, l->anchor + k * l->days, l->handoff_min);
    return l->t0_ms + k * l->len_ms;
}

/* The shift running at t (t >= t0). */
static int64_t shift_index(const struct sched_layer *l, const struct dw_tz *z, int64_t t)
{
    int64_t k = (t - l->t0_ms) / l->len_ms;
    if (!l->days)
        return k;
    /* DST moves a local-day handoff by hours, so at most a step either way. */
    while (k > 0 && shift_start(l, z, k) > t)
        k--;
    while (shift_start(l, z, k + 1) <= t)
        k++;
    return k;
}

static const char *member(const struct sched_layer *l, int64_t k)
{
    return l->members[(size_t)(k % (int64_t)l->nmembers)];
}

/* The window w opened on local day d, as [*s, *e). */
static void window_span(const struct sched_window *w, const struct dw_tz *z, int64_t d, int64_t *s,
                        int64_t *e)
{
    int end = w->end_min > w->start_min ? w->end_min : w->end_min + 1440;
    *s = sched_local_to_ms(z, d, w->start_min);
    *e = sched_local_to_ms(z, d, end);
}

static bool window_covers(const struct sched_layer *l, const struct dw_tz *z, int64_t t)
{
    int64_t today = sched_local_day(z, t);
    for (int64_t d = today - 1; d <= today; d++) {
        int wd = sched_weekday(d);
        for (size_t i = 0; i < l->nwindows; i++) {
            int64_t s, e;
            if (!(l->windows[i].days & (1u << wd)))
                continue;
            window_span(&l->windows[i], z, d, &s, &e);
            if (s <= t && t < e)
                return true;
        }
    }
    return false;
}

/* The next window edge after t; INT64_MAX when there is none. */
static int64_t window_next(const struct sched_layer *l, const struct dw_tz *z, int64_t t)
{
    int64_t today = sched_local_day(z, t), best = INT64_MAX;
    for (int64_t d = today - 1; d <= today + 8; d++) {
        int wd = sched_weekday(d);
        for (size_t i = 0; i < l->nwindows; i++) {
            int64_t s, e;
            if (!(l->windows[i].days & (1u << wd)))
                continue;
            window_span(&l->windows[i], z, d, &s, &e);
            if (s > t && s < best)
                best = s;
            if (e > t && e < best)
                best = e;
        }
    }
    return best;
}

/* The member of layer l at t, or NULL. */
static const char *layer_at(const struct sched_layer *l, const struct dw_tz *z, int64_t t)
{
    if (t < l->t0_ms)
        return NULL;
    if (l->nwindows && !window_covers(l, z, t))
        return NULL;
    return member(l, shift_index(l, z, t));
}

/* The next handoff after t to a different member; INT64_MAX when all are the same. */
static int64_t handoff_next(const struct sched_layer *l, const struct dw_tz *z, int64_t t)
{
    int64_t k = shift_index(l, z, t);
    const char *now = member(l, k);
    for (int64_t j = k + 1; j <= k + (int64_t)l->nmembers; j++)
        if (strcmp(member(l, j), now) != 0)
            return shift_start(l, z, j);
    return INT64_MAX;
}

static int64_t layer_next(const struct sched_layer *l, const struct dw_tz *z, int64_t t)
{
    if (t < l->t0_ms)
        return l->t0_ms;
    int64_t next = handoff_next(l, z, t);
    if (l->nwindows) {
        int64_t w = window_next(l, z, t);
        next = w < next ? w : next;
    }
    return next;
}

/* ---- a whole schedule ---- */

struct who {
    const char *person; /* NULL: a gap */
    const char *layer;
    bool override;
};

static const char *const OVERRIDE_LAYER = "override";

static void apply_overrides(const struct sched_schedule *sc, int64_t t, struct who *w)
{
    const struct sched_override *swap = NULL;
    for (size_t i = 0; i < sc->noverrides && sc->overrides[i].start_ms <= t; i++) {
        const struct sched_override *o = &sc->overrides[i];
        if (t >= o->end_ms)
            continue;
        if (!o->replaces)
            *w = (struct who){o->person, OVERRIDE_LAYER, true};
        else
            swap = swap ? swap : o; /* looked at once plain overrides are in */
    }
    for (size_t i = 0; swap && i < sc->noverrides && sc->overrides[i].start_ms <= t; i++) {
        const struct sched_override *o = &sc->overrides[i];
        if (o->replaces && t < o->end_ms && w->person && strcmp(o->replaces, w->person) == 0) {
            *w = (struct who){o->person, OVERRIDE_LAYER, true};
            break;
        }
    }
}

static struct who schedule_at(const struct sched_schedule *sc, int64_t t)
{
    struct who w = {NULL, NULL, false};
    for (size_t i = sc->nlayers; i-- > 0;) {
        const char *p = layer_at(&sc->layers[i], sc->zone, t);
        if (p) {
            w = (struct who){p, sc->layers[i].name, false};
            break;
        }
    }
    apply_overrides(sc, t, &w);
    return w;
}

static int64_t schedule_next(const struct sched_schedule *sc, int64_t t)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < sc->nlayers; i++) {
        int64_t n = layer_next(&sc->layers[i], sc->zone, t);
        next = n < next ? n : next;
    }
    for (size_t i = 0; i < sc->noverrides; i++) {
        const struct sched_override *o = &sc->overrides[i];
        if (o->start_ms > t && o->start_ms < next)
            next = o->start_ms;
        if (o->end_ms > t && o->end_ms < next)
            next = o->end_ms;
    }
    return next > t ? next : t + 1; /* always progress */
}

static bool same_person(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int64_t clamp_time(int64_t t)
{
    return t < TIME_MIN_MS ? TIME_MIN_MS : t > TIME_MAX_MS ? TIME_MAX_MS : t;
}

/* ---- the public questions ---- */

const char *sched_who(const struct sched_set *s, size_t i, int64_t at_ms, int64_t *until_ms)
{
    if (until_ms)
        *until_ms = INT64_MAX;
    if (!s || i >= s->n)
        return NULL;
    const struct sched_schedule *sc = &s->v[i];
    int64_t at = clamp_time(at_ms);
    struct who w = schedule_at(sc, at);
    if (!until_ms)
        return w.person;
    for (int64_t b = schedule_next(sc, at); b < at + WHO_HORIZON_MS && b <= TIME_MAX_MS;
         b = schedule_next(sc, b)) {
        if (!same_person(schedule_at(sc, b).person, w.person)) {
            *until_ms = b;
            break;
        }
    }
    return w.person;
}

static char *window_problem(const struct sched_set *s, size_t i, int64_t from, int64_t to)
{
    if (!s || i >= s->n)
        return dw_asprintf("no schedule number %zu", i);
    if (from >= to)
        return dw_strdup("the window's end must be after its start");
    if (from < TIME_MIN_MS || to > TIME_MAX_MS)
        return dw_strdup("the window must lie between the years 0001 and 9999");
    return NULL;
}

/* Appends [start, end) of w to the shifts, merging with the last one. */
static bool push_shift(struct sched_shift **v, size_t *n, size_t *cap, const struct who *w,
                       int64_t start, int64_t end)
{
    struct sched_shift *last = *n ? &(*v)[*n - 1] : NULL;
    if (last && last->end_ms == start && last->override == w->override &&
        same_person(last->person, w->person)) {
        last->end_ms = end;
        return true;
    }
    if (*n >= SCHED_MAX_SHIFTS)
        return false;
    *v = dw_grow(*v, cap, *n + 1, sizeof **v);
    (*v)[(*n)++] = (struct sched_shift){w->person, start, end, w->layer, w->override};
    return true;
}

ssize_t sched_shifts(const struct sched_set *s, size_t i, int64_t from_ms, int64_t to_ms,
                     struct sched_shift **out, char **err)
{
    *out = NULL;
    char *problem = window_problem(s, i, from_ms, to_ms);
    if (problem) {
        *err = problem;
        return -1;
    }
    const struct sched_schedule *sc = &s->v[i];
    struct sched_shift *v = NULL;
    size_t n = 0, cap = 0, steps = 0;
    for (int64_t t = from_ms; t < to_ms; steps++) {
        int64_t next = schedule_next(sc, t);
        int64_t end = next < to_ms ? next : to_ms;
        struct who w = schedule_at(sc, t);
        bool ok = steps < WALK_MAX_STEPS && (!w.person || push_shift(&v, &n, &cap, &w, t, end));
        if (!ok) {
            free(v);
            *err = dw_asprintf("more than %d shifts in the window; ask for a shorter one",
                               SCHED_MAX_SHIFTS);
            return -1;
        }
        t = end;
    }
    *out = v;
    return (ssize_t)n;
}

/* ---- gaps and double bookings ---- */

struct issues {
    struct sched_issue *v;
    size_t n, cap;
};

static bool push_issue(struct issues *is, struct sched_issue x)
{
    if (is->n >= SCHED_MAX_ISSUES)
        return false;
    is->v = dw_grow(is->v, &is->cap, is->n + 1, sizeof *is->v);
    is->v[is->n++] = x;
    return true;
}

static bool find_gaps(struct issues *is, const char *id, const struct sched_shift *v, size_t n,
                      int64_t from, int64_t to)
{
    int64_t covered = from;
    for (size_t k = 0; k <= n; k++) {
        int64_t next = k < n ? v[k].start_ms : to;
        if (next > covered &&
            !push_issue(is, (struct sched_issue){"gap", id, NULL, NULL, covered, next}))
            return false;
        if (k < n)
            covered = v[k].end_ms;
    }
    return true;
}

/* Both lists are sorted and non-overlapping: one merge pass. */
static bool find_doubles(struct issues *is, const char *ida, const struct sched_shift *a, size_t na,
                         const char *idb, const struct sched_shift *b, size_t nb)
{
    size_t x = 0, y = 0;
    while (x < na && y < nb) {
        int64_t s = a[x].start_ms > b[y].start_ms ? a[x].start_ms : b[y].start_ms;
        int64_t e = a[x].end_ms < b[y].end_ms ? a[x].end_ms : b[y].end_ms;
        if (s < e && strcmp(a[x].person, b[y].person) == 0 &&
            !push_issue(is, (struct sched_issue){"double_booking", ida, idb, a[x].person, s, e}))
            return false;
        if (a[x].end_ms < b[y].end_ms)
            x++;
        else
            y++;
    }
    return true;
}

struct shift_list {
    struct sched_shift *v;
    ssize_t n;
};

static void free_lists(struct shift_list *l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i].v);
    free(l);
}

ssize_t sched_check(const struct sched_set *s, int64_t from_ms, int64_t to_ms,
                    struct sched_issue **out, char **err)
{
    *out = NULL;
    size_t n = s ? s->n : 0;
    struct shift_list *lists = dw_calloc(n ? n : 1, sizeof *lists);
    struct issues is = {0};
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        lists[i].n = sched_shifts(s, i, from_ms, to_ms, &lists[i].v, err);
        if (lists[i].n < 0) {
            free_lists(lists, n);
            return -1;
        }
        ok = find_gaps(&is, s->v[i].id, lists[i].v, (size_t)lists[i].n, from_ms, to_ms);
    }
    for (size_t i = 0; i < n && ok; i++)
        for (size_t j = i + 1; j < n && ok; j++)
            ok = find_doubles(&is, s->v[i].id, lists[i].v, (size_t)lists[i].n, s->v[j].id,
                              lists[j].v, (size_t)lists[j].n);
    free_lists(lists, n);
    if (!ok) {
        free(is.v);
        *err = dw_asprintf("more than %d issues in the window; ask for a shorter one",
                           SCHED_MAX_ISSUES);
        return -1;
    }
    *out = is.v;
    return (ssize_t)is.n;
}

/* ---- overrides ---- */

bool sched_overrides_clash(const char *replaces_a, int64_t start_a, int64_t end_a,
                           const char *replaces_b, int64_t start_b, int64_t end_b)
{
    if (start_a >= end_b || start_b >= end_a)
        return false;
    if (replaces_a && replaces_b)
        return strcmp(replaces_a, replaces_b) == 0;
    return true;
}

char *sched_override_problem(const struct sched_schedule *sc, const char *person,
                             const char *replaces, int64_t start_ms, int64_t end_ms)
{
    if (end_ms <= start_ms)
        return dw_strdup("the override's end must be after its start");
    if (start_ms < TIME_MIN_MS || end_ms > TIME_MAX_MS)
        return dw_strdup("the override must lie between the years 0001 and 9999");
    if (replaces && strcmp(replaces, person) == 0)
        return dw_strdup("a person cannot replace themselves");
    if (sc->noverrides >= SCHED_MAX_OVERRIDES)
        return dw_asprintf("schedule %s has %d overrides already (the most it may have)", sc->id,
                           SCHED_MAX_OVERRIDES);
    for (size_t i = 0; i < sc->noverrides; i++) {
        const struct sched_override *o = &sc->overrides[i];
        if (sched_overrides_clash(o->replaces, o->start_ms, o->end_ms, replaces, start_ms, end_ms))
            return dw_asprintf("overlaps the override of %s (%s)", o->person,
                               o->replaces ? "a swap" : "the whole schedule");
    }
    return NULL;
}

void sched_override_insert(struct sched_schedule *sc, const char *person, const char *replaces,
                           int64_t start_ms, int64_t end_ms)
{
    sc->overrides =
        dw_grow(sc->overrides, &sc->capoverrides, sc->noverrides + 1, sizeof *sc->overrides);
    size_t at = sc->noverrides;
    while (at > 0 && sc->overrides[at - 1].start_ms > start_ms)
        at--;
    memmove(&sc->overrides[at + 1], &sc->overrides[at],
            (sc->noverrides - at) * sizeof *sc->overrides);
    sc->overrides[at] = (struct sched_override){
        dw_strdup(person), replaces ? dw_strdup(replaces) : NULL, start_ms, end_ms};
    sc->noverrides++;
}

static bool known_person(const struct sched_set *s, const char *id)
{
    for (size_t i = 0; i < s->npeople; i++)
        if (strcmp(s->people[i], id) == 0)
            return true;
    return false;
}

int sched_add_override(struct sched_set *s, const char *schedule, const char *person,
                       const char *replaces, int64_t start_ms, int64_t end_ms, char **err)
{
    ssize_t i = schedule ? sched_find(s, schedule) : -1;
    if (i < 0) {
        *err = dw_asprintf("unknown schedule \"%s\"", schedule ? schedule : "");
        return -1;
    }
    const char *unknown = !person || !known_person(s, person)      ? person
                          : replaces && !known_person(s, replaces) ? replaces
                                                                   : NULL;
    if (!person || unknown) {
        *err = dw_asprintf("unknown person \"%s\"", unknown ? unknown : "");
        return -1;
    }
    char *problem = sched_override_problem(&s->v[i], person, replaces, start_ms, end_ms);
    if (problem) {
        *err = problem;
        return -1;
    }
    sched_override_insert(&s->v[i], person, replaces, start_ms, end_ms);
    return 0;
}

/* ---- accessors and freeing ---- */

size_t sched_count(const struct sched_set *s)
{
    return s ? s->n : 0;
}

const char *sched_id(const struct sched_set *s, size_t i)
{
    return s && i < s->n ? s->v[i].id : NULL;
}

const char *sched_name(const struct sched_set *s, size_t i)
{
    if (!s || i >= s->n)
        return NULL;
    return s->v[i].name ? s->v[i].name : s->v[i].id;
}

const char *sched_zone(const struct sched_set *s, size_t i)
{
    return s && i < s->n ? dw_tz_name(s->v[i].zone) : NULL;
}

ssize_t sched_find(const struct sched_set *s, const char *id)
{
    for (size_t i = 0; s && id && i < s->n; i++)
        if (strcmp(s->v[i].id, id) == 0)
            return (ssize_t)i;
    return -1;
}

static void layer_release(struct sched_layer *l)
{
    free(l->name);
    for (size_t i = 0; i < l->nmembers; i++)
        free(l->members[i]);
    free(l->members);
    free(l->windows);
}

static void schedule_release(struct sched_schedule *sc)
{
    free(sc->id);
    free(sc->name);
    for (size_t i = 0; i < sc->nlayers; i++)
        layer_release(&sc->layers[i]);
    free(sc->layers);
    for (size_t i = 0; i < sc->noverrides; i++) {
        free(sc->overrides[i].person);
        free(sc->overrides[i].replaces);
    }
    free(sc->overrides);
}

void sched_set_free(struct sched_set **ps)
{
    struct sched_set *s = ps ? *ps : NULL;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        schedule_release(&s->v[i]);
    free(s->v);
    for (size_t i = 0; i < s->npeople; i++)
        free(s->people[i]);
    free(s->people);
    free(s);
    *ps = NULL;
}
