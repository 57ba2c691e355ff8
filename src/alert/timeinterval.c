/*
 * timeinterval.c - Alertmanager's time intervals: "does this instant fall in
 * business hours?".
 *
 * DESIGN
 * A named interval is a list of periods; an instant is inside when any
 * period contains it. A period constrains, each optionally: minutes of the
 * day [start, end), weekdays, days of the month (negative counts from the
 * month's end: -1 is the last day), months and years, all evaluated in the
 * period's location (an IANA zone read by tz.c; UTC when absent). Empty
 * constraints allow everything. Parsing and the semantics (clamping of
 * day-of-month ranges to the month's length, the "always before" checks)
 * follow Alertmanager 0.25's timeinterval package.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert/alert_internal.h"

static const char *const weekday_names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday"};
static const char *const month_names[] = {"january",   "february", "march",    "april",
                                          "may",       "june",     "july",     "august",
                                          "september", "october",  "november", "december"};

/* "HH:MM" (00:00 .. 23:59, or 24:00) into minutes; -1 when malformed. */
static int parse_clock(const char *s)
{
    if (!s || strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && !isdigit((unsigned char)s[i]))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    return h * 60 + m;
}

int ti_parse_time_range(const char *start, const char *end, struct irange *out, char **err)
{
    int b = parse_clock(start), e = parse_clock(end);
    if (b < 0 || e < 0) {
        *err = dw_asprintf("invalid time of day \"%s\": expected HH:MM between 00:00 and 24:00",
                           b < 0 ? (start ? start : "") : end);
        return -1;
    }
    if (b >= e) {
        *err = dw_asprintf("start_time %s must be before end_time %s", start, end);
        return -1;
    }
    *out = (struct irange){b, e};
    return 0;
}

/* Splits "a:b" (or "a") into two heap strings. */
static void split_range(const char *s, char **a, char **b)
{
    const char *colon = strchr(s, ':');
    *a = colon ? dw_strndup(s, (size_t)(colon - s)) : dw_strdup(s);
    *b = dw_strdup(colon ? colon + 1 : s);
}

static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

int ti_parse_weekdays(const char *s, struct irange *out, char **err)
{
    char *a, *b;
    split_range(s, &a, &b);
    int x = name_index(a, weekday_names, 7), y = name_index(b, weekday_names, 7);
    int rc = 0;
    if (x < 0 || y < 0) {
        *err = dw_asprintf("\"%s\" is not a day of the week (sunday .. saturday)", x < 0 ? a : b);
        rc = -1;
    } else if (x > y) {
        *err = dw_asprintf("start day %s is after end day %s (weeks run sunday .. saturday)", a, b);
        rc = -1;
    } else {
        *out = (struct irange){x, y};
    }
    free(a);
    free(b);
    return rc;
}

static int parse_int_part(const char *s, int *out)
{
    int64_t v;
    if (dw_parse_int64(s, &v) < 0 || v < -100000 || v > 100000)
        return -1;
    *out = (int)v;
    return 0;
}

int ti_parse_mdays(const char *s, struct irange *out, char **err)
{
    char *a, *b;
    split_range(s, &a, &b);
    int x, y, rc = -1;
    if (parse_int_part(a, &x) < 0 || parse_int_part(b, &y) < 0)
        *err = dw_asprintf("\"%s\" is not a day of the month like 1, -1 or 1:15", s);
    else if (x == 0 || x < -31 || x > 31 || y == 0 || y < -31 || y > 31)
        *err = dw_asprintf("%d is not a valid day of the month: out of range",
                           x == 0 || x < -31 || x > 31 ? x : y);
    else if (x < 0 && y > 0)
        *err = dw_asprintf("end day must be negative if start day is negative");
    else if ((x < 0 ? 28 + x : x) > (y < 0 ? 28 + y : y))
        *err = dw_asprintf("end day %d is always before start day %d", y, x);
    else
        rc = 0, *out = (struct irange){x, y};
    free(a);
    free(b);
    return rc;
}

static int month_value(const char *s)
{
    int i = name_index(s, month_names, 12);
    if (i >= 0)
        return i + 1;
    int v;
    return parse_int_part(s, &v) == 0 && v >= 1 && v <= 12 ? v : -1;
}

int ti_parse_months(const char *s, struct irange *out, char **err)
{
    char *a, *b;
    split_range(s, &a, &b);
    int x = month_value(a), y = month_value(b), rc = -1;
    if (x < 0 || y < 0)
        *err = dw_asprintf("\"%s\" is not a month (january .. december or 1 .. 12)", x < 0 ? a : b);
    else if (x > y)
        *err = dw_asprintf("end month %s is before start month %s", b, a);
    else
        rc = 0, *out = (struct irange){x, y};
    free(a);
    free(b);
    return rc;
}

int ti_parse_years(const char *s, struct irange *out, char **err)
{
    char *a, *b;
    split_range(s, &a, &b);
    int x, y, rc = -1;
    if (parse_int_part(a, &x) < 0 || parse_int_part(b, &y) < 0 || x < 1 || y < 1)
        *err = dw_asprintf("\"%s\" is not a year like 2026 or 2026:2027", s);
    else if (x > y)
        *err = dw_asprintf("end year %d is before start year %d", y, x);
    else
        rc = 0, *out = (struct irange){x, y};
    free(a);
    free(b);
    return rc;
}

static bool in_ranges(const struct irange *r, size_t n, int v)
{
    for (size_t i = 0; i < n; i++)
        if (v >= r[i].begin && v <= r[i].end)
            return true;
    return false;
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static bool mday_ok(const struct tperiod *p, const struct dw_civil *c)
{
    int dim = dw_days_in_month(c->year, c->month);
    for (size_t i = 0; i < p->nmdays; i++) {
        int b = p->mdays[i].begin < 0 ? dim + p->mdays[i].begin + 1 : p->mdays[i].begin;
        int e = p->mdays[i].end < 0 ? dim + p->mdays[i].end + 1 : p->mdays[i].end;
        if (b > dim)
            continue;
        b = clamp(b, -dim, dim);
        e = clamp(e, -dim, dim);
        if (c->day >= b && c->day <= e)
            return true;
    }
    return false;
}

static bool times_ok(const struct tperiod *p, const struct dw_civil *c)
{
    int minute = c->hour * 60 + c->minute;
    for (size_t i = 0; i < p->ntimes; i++)
        if (minute >= p->times[i].begin && minute < p->times[i].end)
            return true;
    return false;
}

bool tperiod_contains(const struct tperiod *p, int64_t ms)
{
    struct dw_civil c;
    dw_civil_at(p->loc, ms, &c);
    if (p->ntimes && !times_ok(p, &c))
        return false;
    if (p->nmdays && !mday_ok(p, &c))
        return false;
    if (p->nmonths && !in_ranges(p->months, p->nmonths, c.month))
        return false;
    if (p->nweekdays && !in_ranges(p->weekdays, p->nweekdays, c.weekday))
        return false;
    if (p->nyears && !in_ranges(p->years, p->nyears, c.year))
        return false;
    return true;
}

bool tinterval_contains(const struct tinterval *ti, int64_t ms)
{
    for (size_t i = 0; i < ti->np; i++)
        if (tperiod_contains(&ti->p[i], ms))
            return true;
    return false;
}

void tperiod_release(struct tperiod *p)
{
    free(p->times);
    free(p->weekdays);
    free(p->mdays);
    free(p->months);
    free(p->years);
    memset(p, 0, sizeof *p);
}
