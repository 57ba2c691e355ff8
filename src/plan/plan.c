/*
 * plan.c - DESIGN: questions about the launch plan at a time T, and the
 * names of the plan's enums.
 *
 * Phases are offsets from launch.at that tile time without gaps (the loader
 * guarantees it), so "which phase at T" is the phase with
 * start <= T - launch < end: a boundary instant belongs to the phase that
 * begins there (exactly 72 h after launch is already stabilization). Before
 * launch the first phase is returned: the plan is armed and monitoring runs
 * at the critical cadence from the moment the daemon starts. After the end
 * of a last phase that has an end, that phase stays in force.
 *
 * Pure functions of an immutable config: safe from any thread.
 */
#include <string.h>

#include "plan_internal.h"

static const char *const class_names[DW_CLASS_COUNT] = {
    "system_health",
    "user_experience",
    "business",
    "performance_analysis",
};
static const char *const priority_names[DW_PRIORITY_COUNT] = {"P0", "P1", "P2"};
static const char *const role_names[] = {"none", "viewer", "responder", "admin"};

/* T - launch without overflow, saturating at the int64 limits. */
static int64_t since_launch(const struct dw_config *cfg, int64_t t_ms)
{
    int64_t launch = dw_config_launch_at(cfg), d;
    if (__builtin_sub_overflow(t_ms, launch, &d))
        return t_ms < launch ? INT64_MIN : INT64_MAX;
    return d;
}

bool dw_plan_before_launch(const struct dw_config *cfg, int64_t t_ms)
{
    return t_ms < dw_config_launch_at(cfg);
}

const struct dw_plan_phase *dw_plan_phase_at(const struct dw_config *cfg, int64_t t_ms)
{
    size_t n;
    const struct dw_plan_phase *ph = dw_config_phases(cfg, &n);
    if (n == 0)
        return NULL;
    int64_t off = since_launch(cfg, t_ms);
    for (size_t i = 0; i < n; i++)
        if (off < ph[i].end_ms)
            return &ph[i];
    return &ph[n - 1];
}

int64_t dw_plan_interval_at(const struct dw_config *cfg, enum dw_check_class c, int64_t t_ms)
{
    const struct dw_plan_phase *ph = dw_plan_phase_at(cfg, t_ms);
    if (!ph || (unsigned)c >= DW_CLASS_COUNT)
        return 0;
    return ph->cadence_ms[c];
}

int64_t dw_plan_next_phase_change(const struct dw_config *cfg, int64_t t_ms)
{
    const struct dw_plan_phase *ph = dw_plan_phase_at(cfg, t_ms);
    int64_t at;
    if (!ph || ph->end_ms == INT64_MAX)
        return INT64_MAX;
    if (__builtin_add_overflow(dw_config_launch_at(cfg), ph->end_ms, &at))
        return INT64_MAX;
    /* A closed last phase that is already over changes no more. */
    return at > t_ms ? at : INT64_MAX;
}

const char *dw_check_class_name(enum dw_check_class c)
{
    return (unsigned)c < DW_CLASS_COUNT ? class_names[c] : "unknown";
}

int dw_check_class_parse(const char *s)
{
    for (int i = 0; s && i < DW_CLASS_COUNT; i++)
        if (strcmp(s, class_names[i]) == 0)
            return i;
    return -1;
}

const char *dw_priority_name(enum dw_priority p)
{
    return (unsigned)p < DW_PRIORITY_COUNT ? priority_names[p] : "unknown";
}

int dw_priority_parse(const char *s)
{
    for (int i = 0; s && i < DW_PRIORITY_COUNT; i++)
        if (strcmp(s, priority_names[i]) == 0)
            return i;
    return -1;
}

const char *dw_role_name(enum dw_role r)
{
    return (unsigned)r < DW_ARRAY_LEN(role_names) ? role_names[r] : "unknown";
}

enum dw_role dw_role_parse(const char *s)
{
    for (size_t i = 1; s && i < DW_ARRAY_LEN(role_names); i++)
        if (strcmp(s, role_names[i]) == 0)
            return (enum dw_role)i;
    return DW_ROLE_NONE;
}
