/*
 * marks.c - acknowledgements and "false positive" marks on alerts, and the
 * quality statistics the alert-tuning report reads.
 *
 * DESIGN
 * A mark belongs to a firing episode (alert_episodes), not to the alert's
 * label set forever: acknowledging today's outage says nothing about next
 * week's. Marking an alert picks its current episode, or its last one when
 * it has resolved since. Marks are kept as rows (who, when, comment) and
 * committed durably, since the HTTP answer tells a human "done".
 *
 * Statistics per alertname over the episodes that started in a range:
 * how many fired, how many ended and how long they fired on average
 * (endsAt - startsAt, the sender's own times), the share acknowledged and
 * the share marked false positive, how often the alert started flapping,
 * and how many are firing now.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

#define COMMENT_MAX 4096
#define BY_MAX 256

static int64_t episode_of(struct dw_alerter *a, uint64_t fp, const char *hex)
{
    pthread_mutex_lock(&a->mu);
    struct alert *al = alert_find(a, fp);
    int64_t ep = al ? al->episode : 0;
    pthread_mutex_unlock(&a->mu);
    if (ep)
        return ep;
    char *err = NULL;
    const struct dw_value p[] = {DW_VTEXT(hex)};
    dw_store_int(a->store,
                 "SELECT id FROM alert_episodes WHERE fingerprint = $1 ORDER BY id DESC LIMIT 1", p,
                 1, &ep, &err);
    free(err);
    return ep;
}

struct mark_ctx {
    const struct dw_value *p;
    char *err;
};

static int mark_tx(struct dw_store *s, void *ctx)
{
    struct mark_ctx *mc = ctx;
    return dw_store_exec(s,
                         "INSERT INTO alert_marks (episode, fingerprint, kind, marked_by,"
                         " marked_at, comment) VALUES ($1, $2, $3, $4, $5, $6)",
                         mc->p, 6, NULL, NULL, &mc->err);
}

int dw_alerter_mark(struct dw_alerter *a, const char *fingerprint, enum dw_alert_mark mark,
                    const char *by, const char *comment, int64_t now, char **err)
{
    uint64_t fp;
    if (!fingerprint || strlen(fingerprint) != 16 || fp_parse(fingerprint, &fp) < 0) {
        *err = dw_asprintf("\"%s\" is not an alert fingerprint (16 hex digits)",
                           fingerprint ? fingerprint : "");
        return DW_ALERT_EINVAL;
    }
    if (comment && strlen(comment) > COMMENT_MAX) {
        *err = dw_asprintf("comment is %zu bytes; the limit is %d", strlen(comment), COMMENT_MAX);
        return DW_ALERT_EINVAL;
    }
    char hex[17];
    fp_hex(fp, hex);
    int64_t ep = episode_of(a, fp, hex);
    if (!ep) {
        *err = dw_asprintf("alert %s has never fired (nothing to mark)", hex);
        return DW_ALERT_ENOTFOUND;
    }
    char who[BY_MAX];
    dw_strlcpy(who, by && *by ? by : "anonymous", sizeof who);
    const struct dw_value p[] = {DW_VINT(ep),
                                 DW_VTEXT(hex),
                                 DW_VTEXT(mark == DW_ALERT_MARK_ACK ? "ack" : "false_positive"),
                                 DW_VTEXT(who),
                                 DW_VINT(now),
                                 comment && *comment ? DW_VTEXT(comment) : DW_VNULL};
    struct mark_ctx mc = {p, NULL};
    char *txerr = NULL;
    int rc = dw_store_tx_durable(a->store, mark_tx, &mc, &txerr);
    if (rc != 0)
        *err = dw_asprintf("storing the mark failed: %s", mc.err  ? mc.err
                                                          : txerr ? txerr
                                                                  : "unknown error");
    free(mc.err);
    free(txerr);
    return rc == 0 ? 0 : -1;
}

/* ---- statistics ---- */

struct stats_ctx {
    struct dw_alert_stats *v;
    size_t n, cap;
};

static int stats_row(void *ctx, const struct dw_value *c, size_t n)
{
    struct stats_ctx *sc = ctx;
    if (n < 7)
        return 1;
    sc->v = dw_grow(sc->v, &sc->cap, sc->n + 1, sizeof *sc->v);
    struct dw_alert_stats *st = &sc->v[sc->n++];
    memset(st, 0, sizeof *st);
    st->alertname = dw_strdup(c[0].s ? c[0].s : "");
    st->fired = c[1].i;
    st->resolved = c[2].i;
    st->mean_firing_ms = c[3].type == DW_VAL_REAL  ? c[3].d
                         : c[3].type == DW_VAL_INT ? (double)c[3].i
                                                   : 0;
    st->acked_share = st->fired ? (double)c[4].i / (double)st->fired : 0;
    st->false_positive_share = st->fired ? (double)c[5].i / (double)st->fired : 0;
    st->flaps = c[6].i;
    return 0;
}

static void count_firing(struct dw_alerter *a, struct dw_alert_stats *v, size_t n)
{
    pthread_mutex_lock(&a->mu);
    int64_t now = dw_now_ms();
    size_t it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it))) {
        if (!alert_is_firing(al, now))
            continue;
        const char *name = lset_get(&al->labels, "alertname");
        for (size_t i = 0; i < n; i++)
            if (strcmp(v[i].alertname, name ? name : "") == 0)
                v[i].firing_now++;
    }
    pthread_mutex_unlock(&a->mu);
}

int dw_alerter_stats(struct dw_alerter *a, int64_t since, int64_t until,
                     struct dw_alert_stats **out, size_t *n, char **err)
{
    struct stats_ctx sc = {0};
    const struct dw_value p[] = {DW_VINT(since), DW_VINT(until)};
    int rc = dw_store_exec(
        a->store,
        "SELECT e.alertname, COUNT(*), COUNT(e.resolved_at),"
        " AVG(CASE WHEN e.resolved_at IS NULL THEN NULL ELSE e.resolved_at - e.started_at END),"
        " SUM(CASE WHEN EXISTS (SELECT 1 FROM alert_marks m WHERE m.episode = e.id"
        "  AND m.kind = 'ack') THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN EXISTS (SELECT 1 FROM alert_marks m WHERE m.episode = e.id"
        "  AND m.kind = 'false_positive') THEN 1 ELSE 0 END),"
        " SUM(e.flaps)"
        " FROM alert_episodes e WHERE e.started_at >= $1 AND e.started_at < $2"
        " GROUP BY e.alertname ORDER BY e.alertname",
        p, 2, stats_row, &sc, err);
    if (rc < 0) {
        dw_alert_stats_free(sc.v, sc.n);
        return -1;
    }
    count_firing(a, sc.v, sc.n);
    *out = sc.v;
    *n = sc.n;
    return 0;
}

void dw_alert_stats_free(struct dw_alert_stats *st, size_t n)
{
    for (size_t i = 0; st && i < n; i++)
        free(st[i].alertname);
    free(st);
}

int dw_alerter_stats_json(struct dw_alerter *a, int64_t since, int64_t until, json_t **out,
                          char **err)
{
    struct dw_alert_stats *v;
    size_t n;
    if (dw_alerter_stats(a, since, until, &v, &n, err) < 0)
        return -1;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr,
            json_pack("{s:s,s:I,s:I,s:f,s:f,s:f,s:I,s:I}", "alertname", v[i].alertname, "fired",
                      (json_int_t)v[i].fired, "resolved", (json_int_t)v[i].resolved,
                      "meanFiringSeconds", round(v[i].mean_firing_ms) / 1000.0, "acknowledgedShare",
                      v[i].acked_share, "falsePositiveShare", v[i].false_positive_share, "flaps",
                      (json_int_t)v[i].flaps, "firingNow", (json_int_t)v[i].firing_now));
    dw_alert_stats_free(v, n);
    *out = arr;
    return 0;
}
