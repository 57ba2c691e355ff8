/*
 * uptime.c - daily bars and uptime from state intervals.
 *
 * DESIGN
 * A component's history is a list of intervals [start, end) in one state,
 * recorded by status.c whenever the state changes (and closed at the last
 * time the daemon saw it, so time while dojowatch was down is not
 * "observed"). Everything here is plain arithmetic over those intervals:
 *  - a day (civil day in the page's zone, local midnight to midnight) gets
 *    the milliseconds spent in each state and the observed total;
 *  - uptime over [from, to) is (observed - outage - maintenance) /
 *    (observed - maintenance), outage being partial_outage + major_outage:
 *    degraded performance counts as up, maintenance is neither up nor down.
 */
#include "status/status_internal.h"

#define DAY_MS 86400000LL

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t offset_ms(const struct dw_tz *tz, int64_t ms)
{
    return tz ? (int64_t)dw_tz_offset(tz, floor_div(ms, 1000)) * 1000 : 0;
}

int64_t st_day_of(const struct dw_tz *tz, int64_t ms)
{
    return floor_div(ms + offset_ms(tz, ms), DAY_MS);
}

int64_t st_day_start(const struct dw_tz *tz, int64_t days)
{
    /* Local midnight: guess with the offset at UTC midnight, then correct once
     * with the offset in force at the guess (a DST change near midnight). */
    int64_t utc = days * DAY_MS;
    int64_t guess = utc - offset_ms(tz, utc);
    return utc - offset_ms(tz, guess);
}

static int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

void st_days(const struct st_interval *iv, size_t n, const struct dw_tz *tz, int64_t now,
             struct st_day out[DW_STATUS_DAYS])
{
    int64_t today = st_day_of(tz, now);
    for (int i = 0; i < DW_STATUS_DAYS; i++) {
        struct st_day *d = &out[i];
        *d = (struct st_day){.days = today - (DW_STATUS_DAYS - 1) + i};
        d->start = st_day_start(tz, d->days);
        d->end = st_day_start(tz, d->days + 1);
        int64_t end = d->end < now ? d->end : now;
        for (size_t k = 0; k < n; k++) {
            int64_t ms = overlap(d->start, end, iv[k].start, iv[k].end);
            if (ms > 0 && iv[k].state >= 0 && iv[k].state < DW_STATUS_STATE_COUNT) {
                d->ms[iv[k].state] += ms;
                d->observed += ms;
            }
        }
    }
}

double st_uptime(const struct st_interval *iv, size_t n, int64_t from, int64_t to)
{
    int64_t ms[DW_STATUS_STATE_COUNT] = {0}, observed = 0;
    for (size_t k = 0; k < n; k++) {
        int64_t o = overlap(from, to, iv[k].start, iv[k].end);
        if (o > 0 && iv[k].state >= 0 && iv[k].state < DW_STATUS_STATE_COUNT) {
            ms[iv[k].state] += o;
            observed += o;
        }
    }
    int64_t denom = observed - ms[DW_STATUS_UNDER_MAINTENANCE];
    if (denom <= 0)
        return -1;
    int64_t down = ms[DW_STATUS_PARTIAL_OUTAGE] + ms[DW_STATUS_MAJOR_OUTAGE];
    return 100.0 * (double)(denom - down) / (double)denom;
}

int st_day_worst(const struct st_day *d)
{
    if (d->observed <= 0)
        return -1;
    for (int s = DW_STATUS_STATE_COUNT - 1; s >= 0; s--)
        if (d->ms[s] > 0)
            return s;
    return DW_STATUS_OPERATIONAL;
}
