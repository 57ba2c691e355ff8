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

/* ---- the `incidents` section (decoded in incident.c) ---- */

struct y_rule {
    char *priority;
    int64_t severity;
    char **services;
    size_t nservices;
};

struct y_stakeholders {
    int64_t every_ms;     /* default 1h; 0 ("none"): no stakeholder updates */
    int64_t max_severity; /* SEV1..this (default 2) */
    char **to;            /* destinations (decode_dest); default contacts:business */
    size_t nto;
};

struct y_daily {
    char *at;       /* "09:00" */
    char *timezone; /* NULL: UTC */
    char *to;       /* default slack:engineering */
    bool enabled;
};

struct y_comms {
    char *timeline; /* where the timeline goes; default slack:incidents */
    bool timeline_enabled;
    struct y_stakeholders stakeholders;
    struct y_daily daily;
    bool timeline_seen, stakeholders_seen, daily_to_seen; /* keys written */
};

struct y_reminders {
    int64_t at_percent; /* a reminder when this share of a target has passed (default 80) */
    bool action_items;  /* overdue action items are reminded */
};

struct y_templates {
    char *report, *notice;           /* Mustache text (a file's content when *_file is given) */
    char *report_file, *notice_file; /* paths */
};

struct y_slack_cmd {
    char *signing_secret, *signing_secret_file;
    int64_t default_severity;
};

struct y_incidents {
    char *timeline;       /* the plan's response timeline, read by the report (kept as YAML) */
    struct y_rule *rules; /* not first: dw_schema_seen(&rules) must not mean the section */
    size_t nrules;
    bool rules_seen; /* the key was written (an empty list means "never from alerts") */
    struct y_comms comms;
    struct y_reminders reminders;
    struct y_templates templates;
    struct y_slack_cmd slack;
};

struct incident_conf {
    struct y_incidents y;
};

struct dw_incidents {
    struct dw_store *store;       /* borrowed */
    struct dw_alerter *alerter;   /* borrowed, may be NULL */
    struct dw_oncall *oncall;     /* borrowed, may be NULL */
    struct dw_notifier *notifier; /* borrowed, may be NULL: no communications */
    char *consumer;
    pthread_mutex_t mu;
    struct dw_config *cfg; /* reference */
    struct incident_conf *conf;
    struct dw_alert_consumer worker; /* the module's thread */
    int64_t pages_posted_at;         /* comms.c: last look at page entries */
    atomic_uint_fast64_t changes;    /* committed changes, for dw_incidents_changes */
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
    " data_loss, ack_breached_at, resolution_breached_at, status_page_at,"                         \
    " status_page_breached_at"

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
    int64_t status_page_at;         /* first status-page update, 0 when none */
    int64_t status_page_breach;     /* 0 when not missed */
};

void inc_row_release(struct inc_row *r);
/** Reads one incident; false when there is none. */
bool inc_row_get(struct dw_incidents *inc, const char *id, struct inc_row *out);

struct dw_value inc_text_or_null(const char *s);
char *inc_col(const struct dw_value *v);
int64_t inc_col_int(const struct dw_value *v);
/** The integer a query answers (a count, an id, 1 for "exists"); 0 for no row or NULL. */
int64_t inc_count(struct dw_incidents *inc, const char *sql, const struct dw_value *p, size_t n);
int inc_timeline(struct dw_incidents *inc, const char *id, int64_t at, const char *kind,
                 const char *who, const char *text);
/** A person's name from the plan, else the id as given ("nobody" for NULL). */
const char *inc_person_label(struct dw_incidents *inc, const char *id);
int inc_check_person(struct dw_incidents *inc, const char *role, const char *person, char **err);

/* incident_view.c */
void inc_metrics_register(void);
/** Counts one message handed to the notifier: "queued", "dropped", "failed". */
void inc_metric_message(const char *result);
/** dw_incidents_actions_json with inc->mu held. */
json_t *inc_actions_json_locked(struct dw_incidents *inc, bool overdue_only, int64_t now);

/* comms.c */
/** One turn of communications at now (takes inc->mu itself; the module's thread). */
void inc_comms_turn(struct dw_incidents *inc, int64_t now);
/** Sets the self-metrics from the store (caller holds inc->mu). */
void inc_metrics_refresh(struct dw_incidents *inc, int64_t now);

#endif
