/*
 * ical.c - DESIGN: iCalendar (RFC 5545) feeds of on-call shifts, one for a
 * schedule and one for a person across every schedule, for calendar apps
 * that subscribe to a URL.
 *
 * Each shift of the final schedule (sched_shifts: merged, gaps left out)
 * becomes one VEVENT with times in UTC form (YYYYMMDDTHHMMSSZ), so no
 * VTIMEZONE is needed and clients show it in their own zone. The UID is
 * built from the schedule, the person and the shift's start, so a calendar
 * that re-fetches the feed updates the same events instead of adding new
 * ones. To keep that start stable while the feed's window slides, shifts
 * are read from a lookback point aligned to a 28-day grid before `from`
 * and those that end by `from` are dropped: a shift that began up to four
 * weeks earlier keeps its real start (longer ones start at the grid point,
 * which moves only every 28 days). Events are TRANSP:TRANSPARENT (being on
 * call does not make a person busy).
 *
 * Lines end with CRLF and are folded at 75 octets (a continuation line
 * starts with a space and carries at most 74 more), never inside a UTF-8
 * sequence. TEXT values escape backslash, semicolon, comma and newline;
 * other control characters are dropped. The whole feed is bounded
 * (ICAL_MAX_BYTES); a feed that would exceed it is NULL.
 *
 * Threads: reads the set only; any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncall/schedule.h"

#define ICAL_MAX_BYTES (32u << 20)
#define FOLD_OCTETS 75
#define LOOKBACK_GRID_MS (28 * 86400000LL)

/* ---- lines ---- */

static bool utf8_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Writes one content line, folded, with CRLF. */
static void put_folded(struct dw_buf *out, const char *line, size_t len)
{
    size_t room = FOLD_OCTETS, pos = 0;
    while (len - pos > room) {
        size_t cut = pos + room;
        while (cut > pos + 1 && utf8_continuation((unsigned char)line[cut]))
            cut--;
        dw_buf_append(out, line + pos, cut - pos);
        dw_buf_puts(out, "\r\n ");
        pos = cut;
        room = FOLD_OCTETS - 1; /* the leading space counts */
    }
    dw_buf_append(out, line + pos, len - pos);
    dw_buf_puts(out, "\r\n");
}

static void escape_text(struct dw_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\' || c == ';' || c == ',')
            dw_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            dw_buf_puts(b, "\\n");
        else if (c >= 0x20 && c != 0x7f)
            dw_buf_putc(b, (char)c);
        else if (c == '\t')
            dw_buf_putc(b, ' ');
    }
}

/* NAME:value, the value escaped as TEXT when text is true. */
static void put_prop(struct dw_buf *out, const char *name, const char *value, bool text)
{
    struct dw_buf line;
    dw_buf_init(&line, ICAL_MAX_BYTES);
    dw_buf_printf(&line, "%s:", name);
    if (text)
        escape_text(&line, value);
    else
        dw_buf_puts(&line, value);
    put_folded(out, line.data, line.len);
    dw_buf_release(&line);
}

/* UTC "YYYYMMDDTHHMMSSZ" into out[17]. */
static void format_utc(int64_t ms, char out[17])
{
    struct dw_civil c;
    dw_civil_at(NULL, ms, &c);
    char buf[64];
    snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", c.year, c.month, c.day, c.hour,
             c.minute, c.second);
    dw_strlcpy(out, buf, 17);
}

/* ---- the calendar ---- */

static void begin_calendar(struct dw_buf *out, const char *title)
{
    put_prop(out, "BEGIN", "VCALENDAR", false);
    put_prop(out, "VERSION", "2.0", false);
    put_prop(out, "PRODID", "-//dojowatch//oncall//EN", false);
    put_prop(out, "CALSCALE", "GREGORIAN", false);
    put_prop(out, "METHOD", "PUBLISH", false);
    put_prop(out, "X-WR-CALNAME", title, true);
}

static const char *person_name(const struct dw_config *cfg, const char *id)
{
    const struct dw_plan_person *p = cfg ? dw_config_find_person(cfg, id) : NULL;
    return p && p->name && *p->name ? p->name : id;
}

struct feed {
    const struct sched_set *s;
    const struct dw_config *cfg;
    char stamp[17]; /* DTSTAMP */
};

static void put_event(struct dw_buf *out, const struct feed *f, size_t i,
                      const struct sched_shift *sh)
{
    char start[17], end[17];
    format_utc(sh->start_ms, start);
    format_utc(sh->end_ms, end);
    char *uid = dw_asprintf("%s-%s-%s@dojowatch", start, sched_id(f->s, i), sh->person);
    char *summary =
        dw_asprintf("On call: %s (%s)", person_name(f->cfg, sh->person), sched_name(f->s, i));
    char *desc = sh->override
                     ? dw_asprintf("Override in schedule %s", sched_id(f->s, i))
                     : dw_asprintf("Layer %s of schedule %s", sh->layer, sched_id(f->s, i));
    put_prop(out, "BEGIN", "VEVENT", false);
    put_prop(out, "UID", uid, true);
    put_prop(out, "DTSTAMP", f->stamp, false);
    put_prop(out, "DTSTART", start, false);
    put_prop(out, "DTEND", end, false);
    put_prop(out, "SUMMARY", summary, true);
    put_prop(out, "DESCRIPTION", desc, true);
    put_prop(out, "TRANSP", "TRANSPARENT", false);
    put_prop(out, "END", "VEVENT", false);
    free(uid);
    free(summary);
    free(desc);
}

static int64_t lookback(int64_t from_ms)
{
    if (from_ms < INT64_MIN / 2)
        return from_ms;
    int64_t t = from_ms - LOOKBACK_GRID_MS;
    int64_t r = t % LOOKBACK_GRID_MS;
    return t - (r < 0 ? r + LOOKBACK_GRID_MS : r);
}

/* Events of schedule i in [from, to), only `person`'s when not NULL. 0 or -1. */
static int put_schedule(struct dw_buf *out, const struct feed *f, size_t i, const char *person,
                        int64_t from_ms, int64_t to_ms)
{
    struct sched_shift *v = NULL;
    char *err = NULL;
    ssize_t n = sched_shifts(f->s, i, lookback(from_ms), to_ms, &v, &err);
    if (n < 0) { /* the lookback may cross a limit the window itself does not */
        free(err);
        err = NULL;
        n = sched_shifts(f->s, i, from_ms, to_ms, &v, &err);
    }
    free(err);
    for (ssize_t k = 0; k < n; k++)
        if (v[k].end_ms > from_ms && (!person || strcmp(v[k].person, person) == 0))
            put_event(out, f, i, &v[k]);
    free(v);
    return n < 0 ? -1 : 0;
}

static char *finish(struct dw_buf *out, bool ok)
{
    put_prop(out, "END", "VCALENDAR", false);
    if (!ok || out->overflow) {
        dw_buf_release(out);
        return NULL;
    }
    return dw_buf_steal(out);
}

char *sched_ical_schedule(const struct sched_set *s, size_t i, const struct dw_config *cfg,
                          int64_t from_ms, int64_t to_ms, int64_t now_ms)
{
    if (!s || i >= s->n || from_ms >= to_ms)
        return NULL;
    struct feed f = {s, cfg, ""};
    format_utc(now_ms, f.stamp);
    struct dw_buf out;
    dw_buf_init(&out, ICAL_MAX_BYTES);
    char *title = dw_asprintf("On call: %s", sched_name(s, i));
    begin_calendar(&out, title);
    free(title);
    return finish(&out, put_schedule(&out, &f, i, NULL, from_ms, to_ms) == 0);
}

char *sched_ical_person(const struct sched_set *s, const char *person, const struct dw_config *cfg,
                        int64_t from_ms, int64_t to_ms, int64_t now_ms)
{
    if (!s || !person || from_ms >= to_ms)
        return NULL;
    struct feed f = {s, cfg, ""};
    format_utc(now_ms, f.stamp);
    struct dw_buf out;
    dw_buf_init(&out, ICAL_MAX_BYTES);
    char *title = dw_asprintf("On call: %s", person_name(cfg, person));
    begin_calendar(&out, title);
    free(title);
    bool ok = true;
    for (size_t i = 0; i < s->n && ok; i++)
        ok = put_schedule(&out, &f, i, person, from_ms, to_ms) == 0;
    return finish(&out, ok);
}
