/*
 * render.c - every public rendering of the status page, built from one view
 * (status.c's rebuild) into named documents: the HTML page, incident pages
 * and paged history; the Statuspage v2 JSON; RSS 2.0 and Atom feeds; SVG
 * badges; the in-app banner (banner.json and embed.js).
 *
 * DESIGN
 * Pure functions of the view: no store, no clock, no locks. Every string
 * that comes from configuration, people or alerts goes through
 * st_html_escape (text and attribute values alike, quotes included) or
 * jansson (JSON); the only URLs put in href are the page's own paths and
 * http(s) URLs (st_html_href), so no javascript: link can appear. The HTML
 * has no script and no external asset: one inline <style> with a dark
 * variant under prefers-color-scheme. Each document gets a strong ETag
 * from the SHA-256 of its bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "status/status_internal.h"

#define DOC_MAX (8u << 20)

static const char *const state_labels[DW_STATUS_STATE_COUNT] = {
    "Operational", "Under maintenance", "Degraded performance", "Partial outage", "Major outage"};

/* ---- documents ---- */

struct docs {
    struct st_doc **v;
    size_t *n;
    size_t cap;
};

static void doc_add(struct docs *d, const char *name, const char *ctype, struct dw_buf *b,
                    bool cors)
{
    *d->v = dw_grow(*d->v, &d->cap, *d->n + 1, sizeof **d->v);
    struct st_doc *doc = &(*d->v)[(*d->n)++];
    *doc = (struct st_doc){.name = dw_strdup(name), .ctype = ctype, .cors = cors};
    doc->len = b->len;
    doc->body = dw_buf_steal(b);
    char hex[65];
    dw_sha256_hex(doc->body, doc->len, hex);
    snprintf(doc->etag, sizeof doc->etag, "\"%.32s\"", hex);
}

static void doc_json(struct docs *d, const char *name, json_t *j, bool cors)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct dw_buf b;
    dw_buf_init(&b, DOC_MAX);
    dw_buf_puts(&b, s ? s : "{}");
    free(s);
    doc_add(d, name, "application/json", &b, cors);
}

/* ---- escaping ---- */

void st_html_escape(struct dw_buf *b, const char *s)
{
    dw_buf_xml_escape(b, s ? s : "");
}

void st_html_href(struct dw_buf *b, const char *url)
{
    if (url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0))
        st_html_escape(b, url);
    else
        dw_buf_puts(b, "#");
}

/* A path segment: percent-encoded, then escaped (it goes into an attribute). */
static void put_segment(struct dw_buf *b, const char *s)
{
    struct dw_buf e;
    dw_buf_init(&e, 4096);
    dw_buf_url_encode(&e, s ? s : "");
    st_html_escape(b, e.data ? e.data : "");
    dw_buf_release(&e);
}

static json_t *time_json(int64_t ms)
{
    char t[40];
    st_time(ms, t);
    return ms > 0 ? json_string(t) : json_null();
}

/* "97.5", "100", "99.98": at most two decimals, no trailing zeros. */
static void fmt_pct(double v, char out[16])
{
    snprintf(out, 16, "%.2f", v);
    char *dot = strchr(out, '.');
    if (!dot)
        return;
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (out[n - 1] == '.')
        out[n - 1] = '\0';
}

/* ---- what the page says ---- */

void st_indicator(const struct st_view *v, const char **indicator, const char **description)
{
    int level = 0;
    bool maint = false;
    for (size_t i = 0; i < v->ncomps; i++) {
        int s = v->comps[i].state;
        int l = s == DW_STATUS_MAJOR_OUTAGE           ? 3
                : s == DW_STATUS_PARTIAL_OUTAGE       ? 2
                : s == DW_STATUS_DEGRADED_PERFORMANCE ? 1
                                                      : 0;
        level = l > level ? l : level;
        maint |= s == DW_STATUS_UNDER_MAINTENANCE;
    }
    for (size_t i = 0; i < v->nincidents; i++) {
        const struct st_incident *inc = &v->incidents[i];
        if (strcmp(inc->status, "resolved") == 0 || strcmp(inc->status, "postmortem") == 0)
            continue;
        int l = strcmp(inc->impact, "critical") == 0 ? 3
                : strcmp(inc->impact, "major") == 0  ? 2
                : strcmp(inc->impact, "minor") == 0  ? 1
                                                     : 0;
        level = l > level ? l : level;
    }
    static const char *const names[] = {"none", "minor", "major", "critical"};
    static const char *const texts[] = {"All Systems Operational", "Partially Degraded Service",
                                        "Partial System Outage", "Major System Outage"};
    *indicator = names[level];
    *description = level == 0 && maint ? "Service Under Maintenance" : texts[level];
}

static const char *group_state(const struct st_view *v, const char *gid)
{
    int s = DW_STATUS_OPERATIONAL;
    for (size_t i = 0; i < v->ncomps; i++) {
        const char *g = v->conf->y.components[i].group;
        if (g && strcmp(g, gid) == 0 && v->comps[i].state > s)
            s = v->comps[i].state;
    }
    return dw_status_state_name(s);
}

static int64_t comp_updated(const struct st_view *v, size_t i)
{
    return v->comps[i].updated_at ? v->comps[i].updated_at : v->comps[i].since;
}

static int64_t page_updated(const struct st_view *v)
{
    int64_t t = 0;
    for (size_t i = 0; i < v->ncomps; i++)
        t = comp_updated(v, i) > t ? comp_updated(v, i) : t;
    for (size_t i = 0; i < v->nincidents; i++)
        t = v->incidents[i].updated_at > t ? v->incidents[i].updated_at : t;
    for (size_t i = 0; i < v->nmaints; i++)
        t = v->maints[i].updated_at > t ? v->maints[i].updated_at : t;
    return t;
}

static bool unresolved(const struct st_incident *inc)
{
    return strcmp(inc->status, "resolved") != 0 && strcmp(inc->status, "postmortem") != 0;
}

static bool maint_is(const struct st_maint *m, const char *a, const char *b)
{
    return strcmp(m->state, a) == 0 || (b && strcmp(m->state, b) == 0);
}

/* ---- Statuspage v2 JSON ---- */

static json_t *page_json(const struct st_view *v)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", v->page_id, "name", v->conf->title, "url",
                     v->conf->url, "time_zone", v->conf->y.time_zone ? v->conf->y.time_zone : "UTC",
                     "updated_at", time_json(page_updated(v)));
}

json_t *st_component_json(const struct st_view *v, size_t i)
{
    const struct st_component_conf *c = &v->conf->y.components[i];
    int64_t up = comp_updated(v, i);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:s?, s:b, s:n, s:s?, s:s, s:b, s:b}", "id",
                     c->id, "name", c->name, "status", dw_status_state_name(v->comps[i].state),
                     "created_at", time_json(v->comps[i].since), "updated_at", time_json(up),
                     "position", (json_int_t)(i + 1), "description", c->description, "showcase",
                     c->showcase, "start_date", "group_id", c->group, "page_id", v->page_id,
                     "group", 0, "only_show_if_degraded", c->only_show_if_degraded);
}

static json_t *components_json(const struct st_view *v)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < v->ncomps; i++)
        json_array_append_new(arr, st_component_json(v, i));
    for (size_t g = 0; g < v->conf->y.ngroups; g++) {
        const struct st_group_conf *gc = &v->conf->y.groups[g];
        json_t *members = json_array();
        for (size_t i = 0; i < v->ncomps; i++)
            if (v->conf->y.components[i].group &&
                strcmp(v->conf->y.components[i].group, gc->id) == 0)
                json_array_append_new(members, json_string(v->conf->y.components[i].id));
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:n, s:o, s:I, s:s?, s:b, s:n, s:n, s:s, s:b, s:b, "
                           "s:o}",
                           "id", gc->id, "name", gc->name, "status", group_state(v, gc->id),
                           "created_at", "updated_at", time_json(page_updated(v)), "position",
                           (json_int_t)(v->ncomps + g + 1), "description", gc->description,
                           "showcase", 0, "start_date", "group_id", "page_id", v->page_id, "group",
                           1, "only_show_if_degraded", 0, "components", members));
    }
    return arr;
}

static json_t *affected_components_json(const struct st_view *v, const json_t *ids)
{
    json_t *arr = json_array();
    size_t k;
    json_t *id;
    json_array_foreach(ids, k, id)
    {
        int i = st_conf_component(v->conf, json_string_value(id));
        if (i >= 0)
            json_array_append_new(arr, st_component_json(v, (size_t)i));
    }
    return arr;
}

json_t *st_incident_json(const struct st_view *v, const struct st_incident *inc)
{
    json_t *updates = json_array();
    json_t *last = json_object(); /* component -> state before each update (oldest first) */
    json_t **per = dw_calloc(inc->nupdates ? inc->nupdates : 1, sizeof *per);
    for (size_t n = inc->nupdates; n-- > 0;) {
        const struct st_update *u = &inc->updates[n];
        json_t *aff = json_object_size(u->components) ? json_array() : json_null();
        const char *cid;
        json_t *sv;
        json_object_foreach(u->components, cid, sv)
        {
            int ci = st_conf_component(v->conf, cid);
            const char *old = json_string_value(json_object_get(last, cid));
            json_array_append_new(aff, json_pack("{s:s, s:s, s:s, s:O}", "code", cid, "name",
                                                 ci >= 0 ? v->conf->y.components[ci].name : cid,
                                                 "old_status", old ? old : "operational",
                                                 "new_status", sv));
            json_object_set(last, cid, sv);
        }
        char uid[32];
        snprintf(uid, sizeof uid, "%lld", (long long)u->id);
        per[n] = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", uid, "status",
                           u->status, "body", u->body, "incident_id", inc->id, "created_at",
                           time_json(u->created_at), "updated_at", time_json(u->created_at),
                           "display_at", time_json(u->created_at), "affected_components", aff);
    }
    for (size_t n = 0; n < inc->nupdates; n++)
        json_array_append_new(updates, per[n]);
    free(per);
    json_decref(last);
    char *shortlink = dw_asprintf("%s/incidents/%s", v->conf->url, inc->id);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:s, s:o, s:o}", "id", inc->id, "name",
        inc->name, "status", inc->status, "created_at", time_json(inc->created_at), "updated_at",
        time_json(inc->updated_at), "monitoring_at", time_json(inc->monitoring_at), "resolved_at",
        time_json(inc->resolved_at), "impact", inc->impact, "shortlink", shortlink, "started_at",
        time_json(inc->created_at), "page_id", v->page_id, "incident_updates", updates,
        "components", affected_components_json(v, inc->affected));
    free(shortlink);
    return o;
}

json_t *st_maint_json(const struct st_view *v, const struct st_maint *m)
{
    char *shortlink = dw_strdup(v->conf->url); /* maintenance has no page of its own */
    json_t *upd =
        json_pack("{s:s+, s:s, s:s, s:s, s:o, s:o, s:o, s:n}", "id", m->id, "-1", "status",
                  m->state, "body", m->body ? m->body : "", "incident_id", m->id, "created_at",
                  time_json(m->created_at), "updated_at", time_json(m->updated_at), "display_at",
                  time_json(m->created_at), "affected_components");
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:n, s:o, s:s, s:s, s:o, s:s, s:[o], s:o, s:o, s:o}", "id",
        m->id, "name", m->title, "status", m->state, "created_at", time_json(m->created_at),
        "updated_at", time_json(m->updated_at), "monitoring_at", "resolved_at",
        time_json(m->completed_at), "impact", "maintenance", "shortlink", shortlink, "started_at",
        time_json(m->started_at ? m->started_at : m->starts_at), "page_id", v->page_id,
        "incident_updates", upd, "components", affected_components_json(v, m->components),
        "scheduled_for", time_json(m->starts_at), "scheduled_until", time_json(m->ends_at));
    free(shortlink);
    return o;
}

static json_t *status_json(const struct st_view *v)
{
    const char *ind, *desc;
    st_indicator(v, &ind, &desc);
    return json_pack("{s:s, s:s}", "indicator", ind, "description", desc);
}

static json_t *incidents_json(const struct st_view *v, bool only_unresolved)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < v->nincidents; i++)
        if (!only_unresolved || unresolved(&v->incidents[i]))
            json_array_append_new(arr, st_incident_json(v, &v->incidents[i]));
    return arr;
}

enum { M_SCHEDULED = 1, M_IN_PROGRESS = 2, M_VERIFYING = 4, M_COMPLETED = 8, M_ALL = 15 };

static int maint_bit(const struct st_maint *m)
{
    return maint_is(m, "scheduled", NULL)     ? M_SCHEDULED
           : maint_is(m, "in_progress", NULL) ? M_IN_PROGRESS
           : maint_is(m, "verifying", NULL)   ? M_VERIFYING
                                              : M_COMPLETED;
}

static json_t *maints_json(const struct st_view *v, int mask)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < v->nmaints; i++)
        if (maint_bit(&v->maints[i]) & mask)
            json_array_append_new(arr, st_maint_json(v, &v->maints[i]));
    return arr;
}

static void render_json(const struct st_view *v, struct docs *d)
{
    doc_json(d, "/api/v2/summary.json",
             json_pack("{s:o, s:o, s:o, s:o, s:o}", "page", page_json(v), "components",
                       components_json(v), "incidents", incidents_json(v, true),
                       "scheduled_maintenances",
                       maints_json(v, M_SCHEDULED | M_IN_PROGRESS | M_VERIFYING), "status",
                       status_json(v)),
             false);
    doc_json(d, "/api/v2/status.json",
             json_pack("{s:o, s:o}", "page", page_json(v), "status", status_json(v)), false);
    doc_json(d, "/api/v2/components.json",
             json_pack("{s:o, s:o}", "page", page_json(v), "components", components_json(v)),
             false);
    doc_json(d, "/api/v2/incidents.json",
             json_pack("{s:o, s:o}", "page", page_json(v), "incidents", incidents_json(v, false)),
             false);
    doc_json(d, "/api/v2/incidents/unresolved.json",
             json_pack("{s:o, s:o}", "page", page_json(v), "incidents", incidents_json(v, true)),
             false);
    doc_json(d, "/api/v2/scheduled-maintenances.json",
             json_pack("{s:o, s:o}", "page", page_json(v), "scheduled_maintenances",
                       maints_json(v, M_ALL)),
             false);
    doc_json(d, "/api/v2/scheduled-maintenances/upcoming.json",
             json_pack("{s:o, s:o}", "page", page_json(v), "scheduled_maintenances",
                       maints_json(v, M_SCHEDULED)),
             false);
    doc_json(d, "/api/v2/scheduled-maintenances/active.json",
             json_pack("{s:o, s:o}", "page", page_json(v), "scheduled_maintenances",
                       maints_json(v, M_IN_PROGRESS | M_VERIFYING)),
             false);
}

/* ---- the banner ---- */

static void render_banner(const struct st_view *v, struct docs *d)
{
    const char *ind, *desc;
    st_indicator(v, &ind, &desc);
    json_t *incs = json_array(), *mts = json_array();
    const char *message = NULL;
    for (size_t i = 0; i < v->nincidents; i++) {
        const struct st_incident *inc = &v->incidents[i];
        if (!unresolved(inc))
            continue;
        char *url = dw_asprintf("%s/incidents/%s", v->conf->url, inc->id);
        json_array_append_new(incs, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", inc->id, "name",
                                              inc->name, "status", inc->status, "impact",
                                              inc->impact, "url", url));
        free(url);
        if (!message)
            message = inc->name;
    }
    bool in_maint = false;
    for (size_t i = 0; i < v->nmaints; i++) {
        const struct st_maint *m = &v->maints[i];
        if (!maint_is(m, "in_progress", "verifying") && !maint_is(m, "scheduled", NULL))
            continue;
        bool active = maint_is(m, "in_progress", "verifying");
        in_maint |= active;
        json_array_append_new(mts, json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", m->id, "name",
                                             m->title, "status", m->state, "scheduled_for",
                                             time_json(m->starts_at), "scheduled_until",
                                             time_json(m->ends_at)));
        if (!message && active)
            message = m->title;
    }
    bool active = json_array_size(incs) > 0 || in_maint || strcmp(ind, "none") != 0;
    const char *level = strcmp(ind, "none") == 0 && in_maint ? "maintenance" : ind;
    doc_json(d, "/api/banner.json",
             json_pack("{s:b, s:s, s:s, s:s, s:o, s:o}", "active", active, "level", level,
                       "message", active ? (message ? message : desc) : desc, "url", v->conf->url,
                       "incidents", incs, "maintenances", mts),
             true);
}

static const char embed_js[] =
    "/* dojowatch status banner: fetches banner.json beside this script and shows a\n"
    "   dismissible notice while something is wrong. No dependencies. */\n"
    "(function () {\n"
    "  'use strict';\n"
    "  var me = document.currentScript;\n"
    "  if (!me || !window.fetch) return;\n"
    "  var api = me.src.replace(/embed\\.js(\\?.*)?$/, 'api/banner.json');\n"
    "  var colors = {minor: '#9a6700', major: '#bc4c00', critical: '#cf222e',\n"
    "                maintenance: '#0969da'};\n"
    "  function safeUrl(u) { return /^https?:\\/\\//i.test(u || '') ? u : null; }\n"
    "  function show(b) {\n"
    "    if (!b || !b.active) return;\n"
    "    var key = 'dw-status-dismissed:' + b.level + ':' + b.message;\n"
    "    try { if (sessionStorage.getItem(key)) return; } catch (e) {}\n"
    "    var box = document.createElement('div');\n"
    "    box.setAttribute('role', 'status');\n"
    "    box.style.cssText = 'position:fixed;left:0;right:0;top:0;z-index:2147483647;' +\n"
    "      'padding:.6em 3em .6em 1em;font:14px/1.4 system-ui,sans-serif;color:#fff;' +\n"
    "      'background:' + (colors[b.level] || '#57606a');\n"
    "    var text = document.createElement('span');\n"
    "    text.textContent = b.message;\n"
    "    box.appendChild(text);\n"
    "    var url = safeUrl(b.url);\n"
    "    if (url) {\n"
    "      var a = document.createElement('a');\n"
    "      a.href = url; a.textContent = ' Status page';\n"
    "      a.style.cssText = 'color:#fff;text-decoration:underline;margin-left:.5em';\n"
    "      box.appendChild(a);\n"
    "    }\n"
    "    var x = document.createElement('button');\n"
    "    x.type = 'button'; x.textContent = '\\u00d7';\n"
    "    x.setAttribute('aria-label', 'Dismiss');\n"
    "    x.style.cssText = 'position:absolute;right:.5em;top:.3em;background:none;border:0;' +\n"
    "      'color:#fff;font-size:20px;cursor:pointer';\n"
    "    x.onclick = function () {\n"
    "      box.remove();\n"
    "      try { sessionStorage.setItem(key, '1'); } catch (e) {}\n"
    "    };\n"
    "    box.appendChild(x);\n"
    "    document.body.appendChild(box);\n"
    "  }\n"
    "  fetch(api, {credentials: 'omit'}).then(function (r) { return r.ok ? r.json() : null; })\n"
    "    .then(show, function () {});\n"
    "})();\n";

/* ---- HTML ---- */

static const char css[] =
    ":root{--bg:#fff;--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--card:#f6f8fa;"
    "--ok:#1a7f37;--maint:#0969da;--degr:#9a6700;--part:#bc4c00;--major:#cf222e;--none:#d0d7de}"
    "@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;"
    "--line:#30363d;--card:#161b22;--ok:#3fb950;--maint:#58a6ff;--degr:#d29922;--part:#db6d28;"
    "--major:#f85149;--none:#30363d}}"
    "*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);"
    "font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;overflow-wrap:anywhere}"
    "header,main,footer{max-width:56rem;margin:0 auto;padding:1rem}"
    "h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}"
    "h3{font-size:1rem;margin:.25rem 0}a{color:var(--maint)}"
    ".banner{padding:1rem;border-radius:6px;color:#fff;font-weight:600;background:#1a7f37}"
    ".banner.s-minor{background:#9a6700}.banner.s-major{background:#bc4c00}"
    ".banner.s-critical{background:#cf222e}.banner.s-maintenance{background:#0969da}"
    ".card{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:.5rem 0;"
    "background:var(--card)}"
    "ul.components{list-style:none;padding:0;margin:0}"
    "ul.components>li{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;"
    "margin:.5rem 0}"
    ".row{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem}"
    ".st{font-weight:600}.s-operational{color:var(--ok)}.s-under_maintenance{color:var(--maint)}"
    ".s-degraded_performance{color:var(--degr)}.s-partial_outage{color:var(--part)}"
    ".s-major_outage{color:var(--major)}"
    "svg.bars{display:block;width:100%;height:2rem;margin:.5rem 0 .25rem}"
    "rect.b-operational{fill:var(--ok)}rect.b-under_maintenance{fill:var(--maint)}"
    "rect.b-degraded_performance{fill:var(--degr)}rect.b-partial_outage{fill:var(--part)}"
    "rect.b-major_outage{fill:var(--major)}rect.b-none{fill:var(--none)}"
    ".muted,time{color:var(--muted);font-size:.875rem}.below{color:var(--major)}"
    "ol.updates{list-style:none;padding:0;margin:.5rem 0}ol.updates>li{margin:.5rem 0}"
    ".body{white-space:pre-line;margin:.25rem 0}nav.pages{display:flex;gap:1rem}"
    "footer{border-top:1px solid var(--line);color:var(--muted)}";

static void html_head(struct dw_buf *b, const struct st_view *v, const char *subtitle)
{
    dw_buf_puts(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<meta name=\"color-scheme\" content=\"light dark\">\n<title>");
    if (subtitle) {
        st_html_escape(b, subtitle);
        dw_buf_puts(b, " - ");
    }
    st_html_escape(b, v->conf->title);
    dw_buf_puts(b, "</title>\n<link rel=\"alternate\" type=\"application/rss+xml\" "
                   "href=\"/status/history.rss\" title=\"Incidents (RSS)\">\n"
                   "<link rel=\"alternate\" type=\"application/atom+xml\" "
                   "href=\"/status/history.atom\" title=\"Incidents (Atom)\">\n<style>");
    dw_buf_puts(b, css);
    dw_buf_puts(b, "</style>\n</head>\n<body>\n<header>\n<h1><a href=\"/status\">");
    st_html_escape(b, v->conf->title);
    dw_buf_puts(b, "</a></h1>\n</header>\n<main>\n");
}

static void html_foot(struct dw_buf *b)
{
    dw_buf_puts(b, "</main>\n<footer>\n<p><a href=\"/status/history\">Incident history</a> · "
                   "<a href=\"/status/history.rss\">RSS</a> · "
                   "<a href=\"/status/history.atom\">Atom</a> · "
                   "<a href=\"/status/api/v2/summary.json\">JSON</a> · "
                   "<a href=\"/status/subscribe\">Subscribe to updates</a></p>\n</footer>\n"
                   "</body>\n</html>\n");
}

void st_html_open(struct dw_buf *b, const struct st_conf *conf, const char *subtitle)
{
    struct st_view v = {.conf = conf};
    html_head(b, &v, subtitle);
}

void st_html_close(struct dw_buf *b)
{
    html_foot(b);
}

static void html_time(struct dw_buf *b, int64_t ms)
{
    char t[40];
    st_time(ms, t);
    dw_buf_puts(b, "<time datetime=\"");
    dw_buf_puts(b, t);
    dw_buf_puts(b, "\">");
    struct dw_civil c;
    dw_civil_at(NULL, ms, &c);
    dw_buf_printf(b, "%04d-%02d-%02d %02d:%02d UTC", c.year, c.month, c.day, c.hour, c.minute);
    dw_buf_puts(b, "</time>");
}

static void html_status_word(struct dw_buf *b, const char *s)
{
    /* investigating -> Investigating (only our own fixed words come here) */
    char w[32];
    dw_strlcpy(w, s, sizeof w);
    if (w[0] >= 'a' && w[0] <= 'z')
        w[0] = (char)(w[0] - 'a' + 'A');
    for (char *p = w; *p; p++)
        if (*p == '_')
            *p = ' ';
    st_html_escape(b, w);
}

static void html_incident(struct dw_buf *b, const struct st_view *v, const struct st_incident *inc,
                          int level, bool all_updates)
{
    dw_buf_printf(b, "<article class=\"card\">\n<h%d><a href=\"/status/incidents/", level);
    put_segment(b, inc->id);
    dw_buf_puts(b, "\">");
    st_html_escape(b, inc->name);
    dw_buf_printf(b, "</a></h%d>\n<p class=\"muted\">Impact: ", level);
    st_html_escape(b, inc->impact);
    if (json_array_size(inc->affected)) {
        dw_buf_puts(b, " · Affected: ");
        size_t k;
        json_t *id;
        json_array_foreach(inc->affected, k, id)
        {
            int ci = st_conf_component(v->conf, json_string_value(id));
            if (k)
                dw_buf_puts(b, ", ");
            st_html_escape(b, ci >= 0 ? v->conf->y.components[ci].name : json_string_value(id));
        }
    }
    dw_buf_puts(b, "</p>\n<ol class=\"updates\" reversed>\n");
    size_t n = all_updates ? inc->nupdates : (inc->nupdates < 3 ? inc->nupdates : 3);
    for (size_t i = 0; i < n; i++) {
        const struct st_update *u = &inc->updates[i];
        dw_buf_puts(b, "<li><strong>");
        html_status_word(b, u->status);
        dw_buf_puts(b, "</strong> ");
        html_time(b, u->created_at);
        dw_buf_puts(b, "<p class=\"body\">");
        st_html_escape(b, u->body);
        dw_buf_puts(b, "</p></li>\n");
    }
    dw_buf_puts(b, "</ol>\n</article>\n");
}

static void html_maint(struct dw_buf *b, const struct st_view *v, const struct st_maint *m)
{
    dw_buf_puts(b, "<article class=\"card\">\n<h3>");
    st_html_escape(b, m->title);
    dw_buf_puts(b, "</h3>\n<p class=\"muted\">");
    html_status_word(b, m->state);
    dw_buf_puts(b, ": ");
    html_time(b, m->starts_at);
    dw_buf_puts(b, " to ");
    html_time(b, m->ends_at);
    dw_buf_puts(b, "</p>\n");
    if (m->body && *m->body) {
        dw_buf_puts(b, "<p class=\"body\">");
        st_html_escape(b, m->body);
        dw_buf_puts(b, "</p>\n");
    }
    dw_buf_puts(b, "</article>\n");
}

static void day_title(struct dw_buf *b, const struct st_day *d)
{
    int64_t y;
    int m, dd;
    dw_civil_from_days(d->days, &y, &m, &dd);
    dw_buf_printf(b, "%04lld-%02d-%02d: ", (long long)y, m, dd);
    if (d->observed <= 0) {
        dw_buf_puts(b, "no data");
        return;
    }
    bool first = true;
    for (int s = 0; s < DW_STATUS_STATE_COUNT; s++) {
        if (!d->ms[s])
            continue;
        char pct[16];
        fmt_pct(100.0 * (double)d->ms[s] / (double)d->observed, pct);
        dw_buf_printf(b, "%s%s%% %s", first ? "" : ", ", pct, dw_status_state_name(s));
        first = false;
    }
}

static void html_bars(struct dw_buf *b, const struct st_view *v, size_t i)
{
    const struct st_day *days = v->days[i];
    int bad = 0;
    for (int k = 0; k < DW_STATUS_DAYS; k++)
        bad += st_day_worst(&days[k]) > DW_STATUS_UNDER_MAINTENANCE;
    dw_buf_printf(b,
                  "<svg class=\"bars\" viewBox=\"0 0 %d 20\" preserveAspectRatio=\"none\" "
                  "role=\"img\" aria-label=\"",
                  DW_STATUS_DAYS * 4);
    st_html_escape(b, v->conf->y.components[i].name);
    dw_buf_printf(b, ": last %d days, %d with degraded service or an outage\">\n", DW_STATUS_DAYS,
                  bad);
    for (int k = 0; k < DW_STATUS_DAYS; k++) {
        int w = st_day_worst(&days[k]);
        dw_buf_printf(b, "<rect x=\"%d\" y=\"0\" width=\"3\" height=\"20\" class=\"b-%s\"><title>",
                      k * 4, w < 0 ? "none" : dw_status_state_name(w));
        day_title(b, &days[k]);
        dw_buf_puts(b, "</title></rect>\n");
    }
    dw_buf_puts(b, "</svg>\n");
}

static void html_component(struct dw_buf *b, const struct st_view *v, size_t i)
{
    const struct st_component_conf *c = &v->conf->y.components[i];
    int s = v->comps[i].state;
    if (c->only_show_if_degraded && s == DW_STATUS_OPERATIONAL)
        return;
    dw_buf_puts(b, "<li>\n<div class=\"row\"><h3>");
    st_html_escape(b, c->name);
    dw_buf_printf(b, "</h3><span class=\"st s-%s\">%s</span></div>\n", dw_status_state_name(s),
                  state_labels[s]);
    if (c->description) {
        dw_buf_puts(b, "<p class=\"muted\">");
        st_html_escape(b, c->description);
        dw_buf_puts(b, "</p>\n");
    }
    if (c->showcase) {
        html_bars(b, v, i);
        double u = v->uptime[i][2];
        dw_buf_puts(b, "<p class=\"muted\">");
        if (u < 0) {
            dw_buf_puts(b, "No uptime data yet");
        } else {
            char pct[16], t[16];
            fmt_pct(u, pct);
            dw_buf_printf(b, "%s %% uptime over %d days", pct, DW_STATUS_DAYS);
            if (v->conf->target > 0) {
                fmt_pct(v->conf->target, t);
                dw_buf_printf(b, " (target %s %%%s)", t,
                              u < v->conf->target ? ", <span class=\"below\">below</span>" : "");
            }
        }
        dw_buf_puts(b, "</p>\n");
    }
    dw_buf_puts(b, "</li>\n");
}

static void html_components(struct dw_buf *b, const struct st_view *v)
{
    const struct st_yaml *y = &v->conf->y;
    for (size_t g = 0; g < y->ngroups; g++) {
        dw_buf_printf(b, "<section aria-labelledby=\"g-%zu\">\n<h2 id=\"g-%zu\">", g, g);
        st_html_escape(b, y->groups[g].name);
        dw_buf_printf(b, " <span class=\"st s-%s\">%s</span></h2>\n<ul class=\"components\">\n",
                      group_state(v, y->groups[g].id),
                      state_labels[dw_status_state_parse(group_state(v, y->groups[g].id))]);
        for (size_t i = 0; i < v->ncomps; i++)
            if (y->components[i].group && strcmp(y->components[i].group, y->groups[g].id) == 0)
                html_component(b, v, i);
        dw_buf_puts(b, "</ul>\n</section>\n");
    }
    bool any = false;
    for (size_t i = 0; i < v->ncomps; i++)
        any |= !y->components[i].group;
    if (!any)
        return;
    dw_buf_puts(b, "<section aria-labelledby=\"g-all\">\n<h2 id=\"g-all\">Components</h2>\n"
                   "<ul class=\"components\">\n");
    for (size_t i = 0; i < v->ncomps; i++)
        if (!y->components[i].group)
            html_component(b, v, i);
    dw_buf_puts(b, "</ul>\n</section>\n");
}

static void render_page(const struct st_view *v, struct docs *d)
{
    struct dw_buf b;
    dw_buf_init(&b, DOC_MAX);
    html_head(&b, v, NULL);
    const char *ind, *desc;
    st_indicator(v, &ind, &desc);
    bool maint = strcmp(ind, "none") == 0 && strcmp(desc, "All Systems Operational") != 0;
    dw_buf_printf(&b, "<section class=\"banner s-%s\" aria-label=\"Overall status\">\n<p>",
                  maint ? "maintenance" : ind);
    st_html_escape(&b, desc);
    dw_buf_puts(&b, "</p>\n</section>\n");
    bool any = false;
    for (size_t i = 0; i < v->nincidents; i++) {
        if (!unresolved(&v->incidents[i]))
            continue;
        if (!any)
            dw_buf_puts(&b, "<section aria-labelledby=\"h-inc\">\n<h2 id=\"h-inc\">Active "
                            "incidents</h2>\n");
        any = true;
        html_incident(&b, v, &v->incidents[i], 3, false);
    }
    if (any)
        dw_buf_puts(&b, "</section>\n");
    static const char *const kinds[2][3] = {{"in_progress", "verifying", "Maintenance in progress"},
                                            {"scheduled", NULL, "Scheduled maintenance"}};
    for (int k = 0; k < 2; k++) {
        any = false;
        for (size_t i = v->nmaints; i-- > 0;) { /* soonest first */
            if (!maint_is(&v->maints[i], kinds[k][0], kinds[k][1]))
                continue;
            if (!any)
                dw_buf_printf(&b, "<section aria-labelledby=\"h-m%d\">\n<h2 id=\"h-m%d\">%s</h2>\n",
                              k, k, kinds[k][2]);
            any = true;
            html_maint(&b, v, &v->maints[i]);
        }
        if (any)
            dw_buf_puts(&b, "</section>\n");
    }
    html_components(&b, v);
    html_foot(&b);
    doc_add(d, "/", "text/html; charset=utf-8", &b, false);
}

static void render_incident_pages(const struct st_view *v, struct docs *d)
{
    for (size_t i = 0; i < v->nincidents; i++) {
        const struct st_incident *inc = &v->incidents[i];
        struct dw_buf b;
        dw_buf_init(&b, DOC_MAX);
        html_head(&b, v, inc->name);
        dw_buf_puts(&b, "<section aria-label=\"Incident\">\n");
        html_incident(&b, v, inc, 2, true);
        dw_buf_puts(&b, "</section>\n");
        html_foot(&b);
        char *name = dw_asprintf("/incidents/%s", inc->id);
        doc_add(d, name, "text/html; charset=utf-8", &b, false);
        free(name);
    }
}

static void render_history(const struct st_view *v, struct docs *d)
{
    size_t per = (size_t)v->conf->y.history_per_page;
    size_t pages = v->nincidents ? (v->nincidents + per - 1) / per : 1;
    for (size_t p = 1; p <= pages; p++) {
        struct dw_buf b;
        dw_buf_init(&b, DOC_MAX);
        html_head(&b, v, "Incident history");
        dw_buf_printf(&b, "<section aria-labelledby=\"h-hist\">\n<h2 id=\"h-hist\">Incident "
                          "history</h2>\n");
        if (!v->nincidents)
            dw_buf_puts(&b, "<p>No incidents reported.</p>\n");
        for (size_t i = (p - 1) * per; i < v->nincidents && i < p * per; i++)
            html_incident(&b, v, &v->incidents[i], 3, false);
        dw_buf_puts(&b, "</section>\n<nav class=\"pages\" aria-label=\"Pages\">\n");
        if (p > 1)
            dw_buf_printf(&b, "<a href=\"/status/history?page=%zu\" rel=\"prev\">Newer</a>\n",
                          p - 1);
        dw_buf_printf(&b, "<span>Page %zu of %zu</span>\n", p, pages);
        if (p < pages)
            dw_buf_printf(&b, "<a href=\"/status/history?page=%zu\" rel=\"next\">Older</a>\n",
                          p + 1);
        dw_buf_puts(&b, "</nav>\n");
        html_foot(&b);
        struct dw_buf copy;
        dw_buf_init(&copy, DOC_MAX);
        if (p == 1) {
            dw_buf_append(&copy, b.data, b.len);
            doc_add(d, "/history", "text/html; charset=utf-8", &copy, false);
        }
        dw_buf_release(&copy);
        char *name = dw_asprintf("/history?page=%zu", p);
        doc_add(d, name, "text/html; charset=utf-8", &b, false);
        free(name);
    }
}

/* ---- feeds ---- */

static void feed_text(struct dw_buf *b, const struct st_incident *inc)
{
    for (size_t i = 0; i < inc->nupdates; i++) {
        char t[40];
        st_time(inc->updates[i].created_at, t);
        dw_buf_printf(b, "%s%s (%s): ", i ? "\n\n" : "", inc->updates[i].status, t);
        dw_buf_xml_escape(b, inc->updates[i].body);
    }
}

static void render_feeds(const struct st_view *v, struct docs *d)
{
    struct dw_buf b;
    char date[32], t[40];
    int64_t updated = page_updated(v);
    dw_buf_init(&b, DOC_MAX);
    dw_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\">\n"
                    "<channel>\n<title>");
    dw_buf_xml_escape(&b, v->conf->title);
    dw_buf_puts(&b, " - Incident history</title>\n<link>");
    dw_buf_xml_escape(&b, v->conf->url);
    dw_buf_puts(&b, "</link>\n<description>Incidents reported on ");
    dw_buf_xml_escape(&b, v->conf->title);
    dw_buf_puts(&b, "</description>\n");
    if (updated > 0) {
        dw_status_http_date(updated, date);
        dw_buf_printf(&b, "<lastBuildDate>%s</lastBuildDate>\n", date);
    }
    for (size_t i = 0; i < v->nincidents; i++) {
        const struct st_incident *inc = &v->incidents[i];
        dw_buf_puts(&b, "<item>\n<title>");
        dw_buf_xml_escape(&b, inc->name);
        dw_buf_puts(&b, "</title>\n<link>");
        dw_buf_xml_escape(&b, v->conf->url);
        dw_buf_puts(&b, "/incidents/");
        dw_buf_xml_escape(&b, inc->id);
        dw_buf_puts(&b, "</link>\n<guid isPermaLink=\"false\">");
        dw_buf_xml_escape(&b, inc->id);
        dw_status_http_date(inc->created_at, date);
        dw_buf_printf(&b, "</guid>\n<pubDate>%s</pubDate>\n<description>", date);
        feed_text(&b, inc);
        dw_buf_puts(&b, "</description>\n</item>\n");
    }
    dw_buf_puts(&b, "</channel>\n</rss>\n");
    doc_add(d, "/history.rss", "application/rss+xml; charset=utf-8", &b, false);

    dw_buf_init(&b, DOC_MAX);
    st_time(updated > 0 ? updated : 1, t);
    dw_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                    "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<id>");
    dw_buf_xml_escape(&b, v->conf->url);
    dw_buf_puts(&b, "/history</id>\n<title>");
    dw_buf_xml_escape(&b, v->conf->title);
    dw_buf_printf(&b, " - Incident history</title>\n<updated>%s</updated>\n<author><name>", t);
    dw_buf_xml_escape(&b, v->conf->title);
    dw_buf_puts(&b, "</name></author>\n<link href=\"");
    dw_buf_xml_escape(&b, v->conf->url);
    dw_buf_puts(&b, "\"/>\n<link rel=\"self\" href=\"");
    dw_buf_xml_escape(&b, v->conf->url);
    dw_buf_puts(&b, "/history.atom\"/>\n");
    for (size_t i = 0; i < v->nincidents; i++) {
        const struct st_incident *inc = &v->incidents[i];
        dw_buf_puts(&b, "<entry>\n<id>");
        dw_buf_xml_escape(&b, v->conf->url);
        dw_buf_puts(&b, "/incidents/");
        dw_buf_xml_escape(&b, inc->id);
        dw_buf_puts(&b, "</id>\n<title>");
        dw_buf_xml_escape(&b, inc->name);
        st_time(inc->updated_at, t);
        dw_buf_printf(&b, "</title>\n<updated>%s</updated>\n", t);
        st_time(inc->created_at, t);
        dw_buf_printf(&b, "<published>%s</published>\n<link href=\"", t);
        dw_buf_xml_escape(&b, v->conf->url);
        dw_buf_puts(&b, "/incidents/");
        dw_buf_xml_escape(&b, inc->id);
        dw_buf_puts(&b, "\"/>\n<content type=\"text\">");
        feed_text(&b, inc);
        dw_buf_puts(&b, "</content>\n</entry>\n");
    }
    dw_buf_puts(&b, "</feed>\n");
    doc_add(d, "/history.atom", "application/atom+xml; charset=utf-8", &b, false);
}

/* ---- badges ---- */

static const char *const badge_colors[DW_STATUS_STATE_COUNT] = {"#1a7f37", "#0969da", "#9a6700",
                                                                "#bc4c00", "#cf222e"};

/* Cuts s to at most max bytes at a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

static void render_badges(const struct st_view *v, struct docs *d)
{
    for (size_t i = 0; i < v->ncomps; i++) {
        const struct st_component_conf *c = &v->conf->y.components[i];
        int s = v->comps[i].state;
        size_t ln = utf8_cut(c->name, 48);
        char *label = dw_strndup(c->name, ln);
        const char *text = state_labels[s];
        int lw = 10 + 7 * (int)ln, rw = 10 + 7 * (int)strlen(text);
        struct dw_buf b;
        dw_buf_init(&b, 65536);
        dw_buf_printf(&b,
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"20\" "
                      "role=\"img\" aria-label=\"",
                      lw + rw);
        st_html_escape(&b, label);
        dw_buf_printf(&b, ": %s\"><title>", text);
        st_html_escape(&b, label);
        dw_buf_printf(&b,
                      ": %s</title><rect width=\"%d\" height=\"20\" fill=\"#555\"/>"
                      "<rect x=\"%d\" width=\"%d\" height=\"20\" fill=\"%s\"/>"
                      "<g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,sans-serif\" "
                      "font-size=\"11\"><text x=\"5\" y=\"14\">",
                      text, lw, lw, rw, badge_colors[s]);
        st_html_escape(&b, label);
        dw_buf_printf(&b, "</text><text x=\"%d\" y=\"14\">%s</text></g></svg>\n", lw + 5, text);
        char *name = dw_asprintf("/badge/%s.svg", c->id);
        doc_add(d, name, "image/svg+xml", &b, false);
        free(name);
        free(label);
    }
}

void st_render_all(const struct st_view *v, struct st_doc **docs, size_t *ndocs)
{
    struct docs d = {docs, ndocs, 0};
    render_page(v, &d);
    render_history(v, &d);
    render_incident_pages(v, &d);
    render_json(v, &d);
    render_feeds(v, &d);
    render_badges(v, &d);
    render_banner(v, &d);
    struct dw_buf b;
    dw_buf_init(&b, sizeof embed_js);
    dw_buf_puts(&b, embed_js);
    doc_add(&d, "/embed.js", "text/javascript; charset=utf-8", &b, true);
}
