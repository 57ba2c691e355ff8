/*
 * review.c - the plan's checklist reviews, kept in the store.
 *
 * The seed lists its Critical Metrics Dashboard rows as checkboxes reviewed at
 * a cadence that follows the launch phase (System Health every 15 minutes in
 * the first 72 hours, every 30 minutes on days 4-7, ...). A responder records
 * a review here; the plan answers when each row is next due and whether it is
 * overdue. The HTTP API and the CLI both call these functions.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"

#define MAX_NOTE 4096

static const struct dw_store_migration review_migrations[] = {
    {1, "CREATE TABLE plan_reviews ("
        " id INTEGER PRIMARY KEY,"
        " check_id TEXT NOT NULL,"
        " reviewed_at BIGINT NOT NULL,"
        " reviewer TEXT NOT NULL,"
        " note TEXT);"
        "CREATE INDEX plan_reviews_by_check ON plan_reviews (check_id, reviewed_at);"},
};

int dw_plan_review_migrate(struct dw_store *s, char **err)
{
    return dw_store_migrate(s, "plan", review_migrations, DW_ARRAY_LEN(review_migrations), err);
}

static const struct dw_plan_check *find_check(const struct dw_config *cfg, const char *id)
{
    size_t n;
    const struct dw_plan_check *checks = dw_config_checks(cfg, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(checks[i].id, id) == 0)
            return &checks[i];
    return NULL;
}

int dw_plan_review_record(struct dw_store *s, const struct dw_config *cfg, const char *check_id,
                          const char *by, const char *note, int64_t at_ms, char **err)
{
    if (!check_id || !find_check(cfg, check_id)) {
        if (err)
            *err = dw_asprintf("no check '%s' in the plan; GET /api/plan lists the check ids",
                               check_id ? check_id : "");
        return DW_PLAN_REVIEW_UNKNOWN_CHECK;
    }
    if (note && strlen(note) > MAX_NOTE) {
        if (err)
            *err = dw_asprintf("note is %zu bytes; the limit is %d", strlen(note), MAX_NOTE);
        return DW_PLAN_REVIEW_BAD_INPUT;
    }
    const struct dw_value params[] = {DW_VTEXT(check_id), DW_VINT(at_ms),
                                      DW_VTEXT(by ? by : "anonymous"),
                                      note ? DW_VTEXT(note) : DW_VNULL};
    return dw_store_exec(s,
                         "INSERT INTO plan_reviews (check_id, reviewed_at, reviewer, note) "
                         "VALUES ($1, $2, $3, $4)",
                         params, DW_ARRAY_LEN(params), NULL, NULL, err);
}

struct last_row {
    int64_t at;
    char by[64];
};

static int last_cb(void *ctx, const struct dw_value *cols, size_t ncols)
{
    struct last_row *r = ctx;
    if (ncols >= 2 && cols[0].type == DW_VAL_INT) {
        r->at = cols[0].i;
        if (cols[1].type == DW_VAL_TEXT)
            dw_strlcpy(r->by, cols[1].s, sizeof r->by);
    }
    return 1;
}

void dw_plan_review_status(struct dw_store *s, const struct dw_config *cfg,
                           const struct dw_plan_check *check, int64_t now,
                           struct dw_plan_review_status *out)
{
    struct last_row last = {0};
    const struct dw_value params[] = {DW_VTEXT(check->id)};
    if (s)
        dw_store_exec(s,
                      "SELECT reviewed_at, reviewer FROM plan_reviews WHERE check_id = $1 "
                      "ORDER BY reviewed_at DESC, id DESC LIMIT 1",
                      params, 1, last_cb, &last, NULL);
    memset(out, 0, sizeof *out);
    out->interval_ms = dw_plan_interval_at(cfg, check->cls, now);
    out->last_ms = last.at;
    dw_strlcpy(out->last_by, last.by, sizeof out->last_by);
    if (out->interval_ms == 0)
        return; /* not reviewed in this phase */
    int64_t launch = dw_config_launch_at(cfg);
    out->due_ms = last.at ? last.at + out->interval_ms : launch;
    if (out->due_ms < launch)
        out->due_ms = launch;
    out->overdue = !dw_plan_before_launch(cfg, now) && now > out->due_ms;
}
