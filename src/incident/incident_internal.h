/*
 * incident_internal.h - what incident.c and incident_view.c share; no other
 * module includes it.
 */
#ifndef DW_INCIDENT_INTERNAL_H
#define DW_INCIDENT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "incident/incident.h"

struct incident_conf;

struct dw_incidents {
    struct dw_store *store;     /* borrowed */
    struct dw_alerter *alerter; /* borrowed, may be NULL */
    struct dw_oncall *oncall;   /* borrowed, may be NULL */
    char *consumer;
    pthread_mutex_t mu;
    struct dw_config *cfg; /* reference */
    struct incident_conf *conf;
    struct dw_alert_consumer worker; /* the module's thread */
};

/* The text columns of an incident row, in INC_ROW_COLS order. */
enum inc_text {
    INC_T_COMMANDER,
    INC_T_COMMS,
    INC_T_SCRIBE,
    INC_T_AFFECTED, /* JSON array */
    INC_T_IMPACT,
    INC_T_USERS,
    INC_T_ROOT_CAUSE,
    INC_T_FACTORS, /* JSON array */
    INC_T_DET_METHOD,
    INC_T_DET_ALERT,
    INC_T_RESOLUTION,
    INC_T_PREVENTION,
    INC_T_LESSONS,
    INC_T_MERGED_INTO,
    INC_T_CREATED_BY,
    INC_T_COUNT
};

#define INC_ROW_COLS                                                                               \
    "id, title, severity, priority, state, created_at, acknowledged_at, investigating_at,"         \
    " identified_at, monitoring_at, resolved_at, postmortem_at, closed_at,"                        \
    " commander, communications_lead, scribe, affected_systems, impact, users_affected,"           \
    " root_cause, contributing_factors, detection_method, detection_alert, resolution,"            \
    " prevention, lessons_learned, merged_into, created_by,"                                       \
    " data_loss, ack_breached_at, resolution_breached_at"

/** One incident row (heap strings). */
struct inc_row {
    bool found;
    char *id, *title, *priority;
    int severity;
    int state;
    int64_t created_at;
    int64_t at[DW_INCIDENT_STATE_COUNT]; /* 0 when not (yet) entered; at[0] = created_at */
    char *text[INC_T_COUNT];
    bool data_loss;
    int64_t ack_breach, res_breach; /* 0 when not missed */
};

void inc_row_release(struct inc_row *r);
/** Reads one incident; false when there is none. */
bool inc_row_get(struct dw_incidents *inc, const char *id, struct inc_row *out);

void inc_set_err(char **err, const char *fmt, ...) DW_PRINTF(2, 3);
struct dw_value inc_text_or_null(const char *s);
char *inc_col(const struct dw_value *v);
int64_t inc_col_int(const struct dw_value *v);
int inc_timeline(struct dw_incidents *inc, const char *id, int64_t at, const char *kind,
                 const char *who, const char *text);
int inc_check_person(struct dw_incidents *inc, const char *role, const char *person, char **err);

/* incident_view.c */
void inc_metrics_register(void);
/** Sets the self-metrics from the store (caller holds inc->mu). */
void inc_metrics_refresh(struct dw_incidents *inc, int64_t now);

#endif
