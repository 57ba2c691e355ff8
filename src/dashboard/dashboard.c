/*
 * dashboard.c - the dashboards the daemon serves, and their definitions as
 * JSON for the browser.
 *
 * DESIGN
 * The daemon holds one struct dw_dashboards for its life. Inside it, one
 * reference-counted set (config.c) is current; dw_dashboard_apply decodes
 * and checks a whole new set first and swaps the pointer under a mutex only
 * when it is clean, so a reload never leaves half of a new section applied.
 * A request takes a reference to the current set and answers from it alone
 * (its dashboards, its configuration's phases and query limits), even when
 * a reload swaps the set meanwhile.
 *
 * Definitions carry each row's effective refresh at the time of the
 * request: the row's own refresh; else, on a dashboard with `cadence_from:
 * plan` and a row with a class, the plan's cadence of that class in the
 * current phase (when the phase does not review the class, the dashboard's
 * refresh); else the dashboard's refresh. The phase and when it ends are in
 * the answer so a client knows when to fetch the definition again.
 *
 * Threads: any; the mutex guards only the pointer swap and the reference.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/dashboard_internal.h"

struct dw_dashboards {
    pthread_mutex_t lock;
    struct dash_set *cur; /* guarded by lock */
};

struct dash_set *dash_current(struct dw_dashboards *d)
{
    pthread_mutex_lock(&d->lock);
    struct dash_set *s = dash_set_ref(d->cur);
    pthread_mutex_unlock(&d->lock);
    return s;
}

static struct dash_set *load(const struct dw_config *cfg, char **err)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct dash_set *s = dash_set_load(cfg, &diags);
    if (!s && err)
        *err = dw_diags_text(&diags, 5, "; ", "the dashboards section is invalid");
    dw_diags_release(&diags);
    return s;
}

struct dw_dashboards *dw_dashboard_open(const struct dw_config *cfg, char **err)
{
    struct dash_set *s = load(cfg, err);
    if (!s)
        return NULL;
    struct dw_dashboards *d = dw_calloc(1, sizeof *d);
    pthread_mutex_init(&d->lock, NULL);
    d->cur = s;
    return d;
}

int dw_dashboard_apply(struct dw_dashboards *d, const struct dw_config *cfg, char **err)
{
    struct dash_set *s = load(cfg, err);
    if (!s)
        return -1;
    pthread_mutex_lock(&d->lock);
    struct dash_set *old = d->cur;
    d->cur = s;
    pthread_mutex_unlock(&d->lock);
    dash_set_unref(&old);
    return 0;
}

void dw_dashboard_close(struct dw_dashboards **pd)
{
    struct dw_dashboards *d = pd ? *pd : NULL;
    if (!d)
        return;
    dash_set_unref(&d->cur);
    pthread_mutex_destroy(&d->lock);
    free(d);
    *pd = NULL;
}

size_t dw_dashboard_count(struct dw_dashboards *d)
{
    struct dash_set *s = dash_current(d);
    size_t n = s->y.nboards;
    dash_set_unref(&s);
    return n;
}

/* ---- JSON ---- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *duration_string(int64_t ms)
{
    char buf[40];
    dw_format_duration(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *seconds_or_null(int64_t ms)
{
    return ms == INT64_MAX ? json_null() : json_real((double)ms / 1000.0);
}

json_t *dw_dashboard_list_json(struct dw_dashboards *d)
{
    struct dash_set *s = dash_current(d);
    json_t *arr = json_array();
    for (size_t i = 0; i < s->y.nboards; i++) {
        const struct dash_board *b = &s->y.boards[i];
        json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:I}", "id", b->id, "title", b->title,
                                             "description", str_or_null(b->description), "panels",
                                             (json_int_t)b->npanels));
    }
    dash_set_unref(&s);
    return arr;
}

static json_t *links_json(const struct dash_link *l, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s}", "title", l[i].title, "url", l[i].url));
    return arr;
}

static json_t *thresholds_json(const struct dash_panel *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < p->nthresholds; i++) {
        const struct dw_dashboard_threshold *t = &p->thresholds[i];
        json_array_append_new(arr, json_pack("{s:f,s:s,s:s}", "value", t->value, "color",
                                             dw_dashboard_color_name(t->color), "op",
                                             dw_dashboard_threshold_op(t, p->direction)));
    }
    return arr;
}

static json_t *panel_json(const struct dash_panel *p)
{
    json_t *targets = json_array();
    for (size_t i = 0; i < p->ntargets; i++)
        json_array_append_new(targets, json_pack("{s:s,s:o}", "query", p->targets[i].query.text,
                                                 "legend", str_or_null(p->targets[i].legend)));
    json_t *o = json_pack(
        "{s:s,s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:i,s:s}", "id", p->id, "title", p->title, "description",
        str_or_null(p->description), "kind", dash_kind_name(p->kind), "unit", dash_unit(p),
        "decimals", p->has_decimals ? json_integer(p->decimals) : json_null(), "min",
        p->has_min ? json_real(p->min) : json_null(), "max",
        p->has_max ? json_real(p->max) : json_null(), "width", (int)p->width, "direction",
        p->direction == DW_DASHBOARD_BELOW_IS_BAD ? "below_is_bad" : "above_is_bad");
    json_object_set_new(o, "thresholds", thresholds_json(p));
    json_object_set_new(o, "targets", targets);
    json_object_set_new(o, "links", links_json(p->links, p->nlinks));
    return o;
}

static json_t *row_json(const struct dash_set *s, const struct dash_board *b,
                        const struct dash_row *r, int64_t now_ms)
{
    const char *from;
    int64_t refresh = dash_row_refresh(s, b, r, now_ms, &from);
    json_t *panels = json_array();
    for (size_t i = 0; i < r->npanels; i++)
        json_array_append_new(panels, panel_json(&r->panels[i]));
    return json_pack("{s:s,s:o,s:o,s:f,s:s,s:o}", "title", r->title, "class",
                     r->cls ? json_string(dw_check_class_name(r->cls - 1)) : json_null(), "refresh",
                     duration_string(refresh), "refreshSeconds", (double)refresh / 1000.0,
                     "refreshFrom", from, "panels", panels);
}

json_t *dw_dashboard_get_json(struct dw_dashboards *d, const char *id, int64_t now_ms)
{
    struct dash_set *s = dash_current(d);
    const struct dash_board *b = dash_board_find(s, id);
    json_t *o = NULL;
    if (b) {
        const struct dw_plan_phase *ph = dw_plan_phase_at(s->cfg, now_ms);
        json_t *rows = json_array();
        for (size_t i = 0; i < b->nrows; i++)
            json_array_append_new(rows, row_json(s, b, &b->rows[i], now_ms));
        o = json_pack("{s:s,s:s,s:o,s:o,s:f,s:o,s:f,s:o,s:s,s:b,s:o}", "id", b->id, "title",
                      b->title, "description", str_or_null(b->description), "timeRange",
                      duration_string(b->time_range_ms), "timeRangeSeconds",
                      (double)b->time_range_ms / 1000.0, "refresh", duration_string(b->refresh_ms),
                      "refreshSeconds", (double)b->refresh_ms / 1000.0, "cadenceFrom",
                      b->cadence_from ? json_string("plan") : json_null(), "phase", ph->name,
                      "beforeLaunch", dw_plan_before_launch(s->cfg, now_ms), "phaseEndsAt",
                      seconds_or_null(dw_plan_next_phase_change(s->cfg, now_ms)));
        json_object_set_new(o, "links", links_json(b->links, b->nlinks));
        json_object_set_new(o, "rows", rows);
    }
    dash_set_unref(&s);
    return o;
}
