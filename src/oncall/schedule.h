/*
 * schedule.h - on-call schedules: layers of rotations in IANA zones,
 * overrides and swaps, who is on call when, gaps and double bookings, and
 * iCalendar feeds. Internal to src/oncall (included by oncall_internal.h).
 *
 * All times are milliseconds since the Unix epoch, UTC. Every string a
 * function returns without "caller frees" is borrowed from the set and lives
 * as long as the set.
 *
 * Threads: a decoded set is read-only, so any number of threads may query
 * it; sched_add_override() changes it and must not run concurrently with
 * anything else on the same set (the caller holds its lock).
 */
#ifndef DW_ONCALL_SCHEDULE_H
#define DW_ONCALL_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"
#include "plan/plan.h"

/* Bounds on what a configuration (or the API) may ask for. */
#define SCHED_MAX_SCHEDULES 200
#define SCHED_MAX_LAYERS 16
#define SCHED_MAX_MEMBERS 100    /* per layer */
#define SCHED_MAX_WINDOWS 32     /* restrict windows per layer */
#define SCHED_MAX_OVERRIDES 1000 /* per schedule, configured and runtime together */
#define SCHED_MAX_SHIFTS 10000   /* per sched_shifts() call */
#define SCHED_MAX_ISSUES 10000   /* per sched_check() call */

struct sched_set;

/**
 * Decodes the oncall section's schedules (and checks the rest of the
 * section's keys are known). NULL with positioned diags on errors; an empty
 * set when there is no oncall section.
 */
struct sched_set *sched_set_decode(const struct dw_config *cfg, struct dw_diags *diags);
/** Frees the set and sets *s to NULL; NULL is a no-op. */
void sched_set_free(struct sched_set **s);

size_t sched_count(const struct sched_set *s);
const char *sched_id(const struct sched_set *s, size_t i);
/** The schedule's name, or its id when it has none. */
const char *sched_name(const struct sched_set *s, size_t i);
/** The IANA name of the schedule's zone. */
const char *sched_zone(const struct sched_set *s, size_t i);
/** Index of the schedule with this id, -1 when none. */
ssize_t sched_find(const struct sched_set *s, const char *id);

/**
 * Adds a runtime override (replaces NULL: person covers the whole schedule
 * in [start, end)) or a swap (person takes replaces' on-call time within the
 * window only). Same rules as configured ones. 0, or -1 with *err (caller
 * frees): unknown schedule or person, end <= start, overlap, too many.
 */
int sched_add_override(struct sched_set *s, const char *schedule, const char *person,
                       const char *replaces, int64_t start_ms, int64_t end_ms, char **err);

/**
 * Who is on call in schedule i at at_ms: a person id, or NULL for a gap.
 * *until_ms (may be NULL) gets the instant the person (or the gap) changes;
 * INT64_MAX when nothing changes within the next 366 days.
 */
const char *sched_who(const struct sched_set *s, size_t i, int64_t at_ms, int64_t *until_ms);

struct sched_shift {
    const char *person; /* borrowed */
    int64_t start_ms, end_ms;
    const char *layer; /* the layer's name (of the first piece when merged); "override" */
    bool override;     /* from an override or a swap */
};

/**
 * The final schedule's shifts overlapping [from, to), clipped to it, merged
 * when adjacent with the same person and the same override flag; gaps are
 * left out. *out (caller frees) may be NULL when there are none. Returns
 * the count, or -1 with *err (caller frees) for a bad index or window, or
 * more than SCHED_MAX_SHIFTS shifts.
 */
ssize_t sched_shifts(const struct sched_set *s, size_t i, int64_t from_ms, int64_t to_ms,
                     struct sched_shift **out, char **err);

struct sched_issue {
    const char *kind;           /* "gap" | "double_booking" */
    const char *schedule;       /* borrowed */
    const char *other_schedule; /* double_booking: the second schedule; NULL for gaps */
    const char *person;         /* double_booking: who is booked twice; NULL for gaps */
    int64_t start_ms, end_ms;
};

/**
 * Gaps (nobody on call, per schedule) and double bookings (one person on
 * call in two schedules at once) in [from, to), gaps first in schedule
 * order, then double bookings by schedule pair. *out (caller frees) may be
 * NULL when there are none. The count, or -1 with *err (caller frees).
 */
ssize_t sched_check(const struct sched_set *s, int64_t from_ms, int64_t to_ms,
                    struct sched_issue **out, char **err);

/**
 * iCalendar (RFC 5545) feed with one VEVENT per shift of schedule i in
 * [from, to); DTSTAMP is now_ms. Person names come from cfg. Caller frees;
 * NULL for a bad index or window, or too many shifts.
 */
char *sched_ical_schedule(const struct sched_set *s, size_t i, const struct dw_config *cfg,
                          int64_t from_ms, int64_t to_ms, int64_t now_ms);
/**
 * The same for one person across every schedule (events ordered by
 * schedule, then time). A person with no shifts gets an empty calendar.
 */
char *sched_ical_person(const struct sched_set *s, const char *person, const struct dw_config *cfg,
                        int64_t from_ms, int64_t to_ms, int64_t now_ms);

/* ---- shared by the files of the schedule part (not for pages.c) ---- */

/** A window of local time a layer covers: days (bit 0 = Sunday), [start, end) minutes; end <=
 * start runs past midnight into the next day. */
struct sched_window {
    uint8_t days;
    int start_min, end_min;
};

struct sched_layer {
    char *name;
    char **members; /* person ids, in rotation order */
    size_t nmembers;
    int64_t len_ms;               /* rotation length */
    int64_t days;                 /* len_ms in local calendar days, 0 when the length is absolute */
    int handoff_min;              /* local minute of the day */
    int64_t anchor;               /* day number (1970-01-01 = 0) of the first handoff */
    int64_t t0_ms;                /* instant of the first handoff: the layer starts there */
    struct sched_window *windows; /* restrict; none = always */
    size_t nwindows;
};

struct sched_override {
    char *person;
    char *replaces; /* NULL for a plain override */
    int64_t start_ms, end_ms;
};

struct sched_schedule {
    char *id, *name;
    const struct dw_tz *zone;
    struct sched_layer *layers; /* bottom first: the last listed wins */
    size_t nlayers;
    struct sched_override *overrides; /* sorted by start */
    size_t noverrides, capoverrides;
};

struct sched_set {
    struct sched_schedule *v;
    size_t n;
    char **people; /* person ids of the config, for runtime overrides */
    size_t npeople;
};

/** Day number of a proleptic Gregorian date: 0 = Sunday. */
int sched_weekday(int64_t day);
/**
 * The instant of local time `min` minutes after midnight of local day `day`
 * in zone z (min may exceed 1440). A time skipped by a spring-forward change
 * maps to the first instant after the gap (the transition itself: 01:30 on
 * 2026-03-29 in Europe/London is 01:00 UTC = 02:00 BST); a time that occurs
 * twice at a fall-back change maps to its first occurrence.
 */
int64_t sched_local_to_ms(const struct dw_tz *z, int64_t day, int min);
/** The local day number of instant ms in z. */
int64_t sched_local_day(const struct dw_tz *z, int64_t ms);
/**
 * True when two overrides may not overlap in time: both plain, a plain one
 * and a swap, or two swaps of the same person (swaps of different people may).
 */
bool sched_overrides_clash(const char *replaces_a, int64_t start_a, int64_t end_a,
                           const char *replaces_b, int64_t start_b, int64_t end_b);
/** Checks an override against the schedule's (range, overlap, limit); NULL or the problem. */
char *sched_override_problem(const struct sched_schedule *sc, const char *person,
                             const char *replaces, int64_t start_ms, int64_t end_ms);
/** Inserts an already checked override, keeping the order by start. Copies the strings. */
void sched_override_insert(struct sched_schedule *sc, const char *person, const char *replaces,
                           int64_t start_ms, int64_t end_ms);

#endif
