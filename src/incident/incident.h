/*
 * incident.h - incidents: from the first alert (or a person) to the closed
 * post-mortem, with states, roles, a timeline, action items, targets and
 * measures.
 *
 * An incident opens automatically when a P0/P1 alert group fires (config
 * `incidents.rules` decide which and with what severity) or by hand
 * (dw_incident_create). It moves through states with a timestamp each:
 *
 *   triggered     -> acknowledged, investigating, identified, monitoring, resolved
 *   acknowledged  -> investigating, identified, monitoring, resolved
 *   investigating -> identified, monitoring, resolved
 *   identified    -> investigating, monitoring, resolved
 *   monitoring    -> investigating, identified, resolved
 *   resolved      -> investigating (reopened), postmortem, closed
 *   postmortem    -> closed
 *   closed        -> (nothing; a merged incident is closed too)
 *
 * Any move out of `triggered` acknowledges (acknowledgedAt is set if it was
 * not). The module also moves incidents by itself on its tick: acknowledged
 * when a page of an attached alert group is acknowledged; resolved when every
 * attached group has resolved; reopened (resolved -> investigating) when an
 * attached group fires again while the incident is `resolved` (its open
 * period ends at postmortem or closed; after that a new incident opens).
 *
 * Rules (`incidents.rules: [{priority: P0, severity: 1, services: [api]}]`):
 * the first rule whose priority equals the group's and whose services (when
 * given) contain the group's `service` label decides the severity. Without a
 * `rules` key the defaults are P0 -> SEV1 and P1 -> SEV2; with rules and no
 * match, no incident opens. One alert group belongs to one incident; merging
 * puts several groups into one.
 *
 * Targets (the plan's priorities: response = acknowledge, resolution) are
 * checked on every tick; a missed one is recorded once as a breach (a field
 * and a timeline entry at the deadline). Communications (comms.c): the
 * timeline posted to the incidents channel, hourly stakeholder updates for
 * SEV1/SEV2, the daily summary and reminders before a target is missed, all
 * through the notifier's outbox (options.notifier); see
 * docs/internals/incident.md.
 *
 * Threads: every function is thread-safe (one mutex inside). Times come
 * from dw_now_ms (tests use the manual clock).
 */
#ifndef DW_INCIDENT_H
#define DW_INCIDENT_H

#include <jansson.h>

#include "alert/alert.h"
#include "core/core.h"
#include "incident/report.h"
#include "notify/notify.h"
#include "oncall/oncall.h"
#include "plan/plan.h"
#include "store/store.h"

struct dw_incidents;

/* Return codes besides 0 and -1 (the store failed; *err says why). */
#define DW_INCIDENT_EINVAL (-2)    /* bad input or a transition not allowed (HTTP 400 / 409) */
#define DW_INCIDENT_ENOTFOUND (-3) /* no such incident or action item (HTTP 404) */
#define DW_INCIDENT_EDENIED (-4)   /* a request signature that does not verify (HTTP 403) */

/* Bounds on everything that comes from outside. */
#define DW_INCIDENT_TITLE_MAX 256      /* bytes */
#define DW_INCIDENT_TEXT_MAX 16384     /* a note or a text field (impact, root cause ...) */
#define DW_INCIDENT_ITEM_MAX 1024      /* an action item's task, one list entry */
#define DW_INCIDENT_LIST_ITEMS_MAX 100 /* affectedSystems, contributingFactors */
#define DW_INCIDENT_ACTIONS_MAX 1000   /* action items per incident */
#define DW_INCIDENT_LIST_MAX 1000      /* incidents per list */
#define DW_INCIDENT_ID_LEN 32          /* "INC-20260302100000-999" and its NUL fit */

enum dw_incident_state {
    DW_INCIDENT_TRIGGERED,
    DW_INCIDENT_ACKNOWLEDGED,
    DW_INCIDENT_INVESTIGATING,
    DW_INCIDENT_IDENTIFIED,
    DW_INCIDENT_MONITORING,
    DW_INCIDENT_RESOLVED,
    DW_INCIDENT_POSTMORTEM,
    DW_INCIDENT_CLOSED,
    DW_INCIDENT_STATE_COUNT
};

/** "triggered" ... "closed". */
const char *dw_incident_state_name(enum dw_incident_state s);
/** The state of a name, or -1. */
int dw_incident_state_parse(const char *name);
/** True when the table above allows from -> to. */
bool dw_incident_transition_allowed(enum dw_incident_state from, enum dw_incident_state to);

struct dw_incidents_options {
    struct dw_store *store;       /* borrowed */
    struct dw_alerter *alerter;   /* borrowed; may be NULL (no incidents from alerts) */
    struct dw_oncall *oncall;     /* borrowed; may be NULL (no page acknowledgements or timeline) */
    struct dw_notifier *notifier; /* borrowed; may be NULL (no communications sent) */
    const struct dw_config *config;
    const char *consumer; /* alert event cursor; NULL: "incident" */
};

/** Validates the `incidents` section (rules); returns the number of errors. */
size_t dw_incidents_check_config(const struct dw_config *cfg, struct dw_diags *diags);

/** Opens on a store (migrations "incident"). NULL with *err (the config's diagnostics). */
struct dw_incidents *dw_incidents_open(const struct dw_incidents_options *o, char **err);
/** Stops the thread and frees; sets *inc to NULL. NULL is a no-op. */
void dw_incidents_close(struct dw_incidents **inc);
/** Switches to a new configuration. 0, or -1 with *err (nothing changed). */
int dw_incidents_apply(struct dw_incidents *inc, const struct dw_config *cfg, char **err);
/** Starts the thread: a tick every 200 ms or when an alert event arrives. 0 or -1. */
int dw_incidents_start(struct dw_incidents *inc);
/**
 * A counter that moves after every committed change of an incident
 * (opened, changed by a person, by an alert event or a breached target):
 * readers that follow incidents (the status page) poll it cheaply.
 */
uint64_t dw_incidents_changes(struct dw_incidents *inc);
void dw_incidents_stop(struct dw_incidents *inc);
/**
 * One turn at now_ms: reads alert events (consumer "incident"), follows
 * page acknowledgements, records missed targets, refreshes the metrics.
 */
void dw_incidents_tick(struct dw_incidents *inc, int64_t now_ms);

/* ---- changing incidents (the HTTP layer and the CLI call these) ---- */

/** A new incident by hand. Only title and severity are required. Borrowed. */
struct dw_incident_new {
    const char *title;                   /* 1..256 bytes */
    int severity;                        /* 1..4 */
    const char *priority;                /* "P0".."P2"; NULL: P0 for SEV1, P1 for SEV2, else P2 */
    const char *commander;               /* person id or NULL */
    const char *impact;                  /* or NULL */
    const char *const *affected_systems; /* or NULL */
    size_t naffected_systems;
};

/**
 * Opens an incident (state triggered, detection method "manual") by `by`.
 * id_out gets its id. DW_INCIDENT_EINVAL with *err for bad input.
 */
int dw_incident_create(struct dw_incidents *inc, const struct dw_incident_new *in, const char *by,
                       int64_t now_ms, char id_out[DW_INCIDENT_ID_LEN], char **err);

/**
 * Moves an incident to `state` (see the table above). An unknown state or
 * a move the table does not allow is DW_INCIDENT_EINVAL ("from X you can go
 * to: ...") and changes nothing. Moving to the current state is EINVAL too.
 */
int dw_incident_transition(struct dw_incidents *inc, const char *id, const char *state,
                           const char *by, int64_t now_ms, char **err);

/**
 * Updates fields from a JSON object, all or nothing. Keys: title, severity
 * (1-4), priority, commander, communicationsLead, scribe (person ids from
 * the plan, or null to clear), affectedSystems, contributingFactors (arrays
 * of strings), impact, usersAffected (string or integer), dataLoss (bool),
 * rootCause, resolution, prevention, lessonsLearned (text up to 16 KiB),
 * detection ({"method", "alert"}). Every change is a timeline entry.
 */
int dw_incident_update(struct dw_incidents *inc, const char *id, const json_t *changes,
                       const char *by, int64_t now_ms, char **err);

/** Adds a note (1 byte to 16 KiB) to the timeline. */
int dw_incident_note(struct dw_incidents *inc, const char *id, const char *text, const char *by,
                     int64_t now_ms, char **err);

/**
 * Records what another module did for an incident as a timeline entry:
 * kind "status_page" (a public status-page update; the first one's time is
 * the incident's statusPageUpdatedAt and stops the "no status-page update"
 * reminder), "message" (a message sent about it) or "notice" (the user
 * notice sent to subscribers). text 1 byte to 16 KiB; EINVAL otherwise.
 */
int dw_incident_record(struct dw_incidents *inc, const char *id, const char *kind, const char *text,
                       const char *by, int64_t now_ms, char **err);

/**
 * Adds an action item: task (1..1024 bytes), owner (person or team id, or
 * NULL), due (ms since epoch, 0 for none). *action_id (may be NULL) gets its
 * id. At most 1000 per incident.
 */
int dw_incident_action_add(struct dw_incidents *inc, const char *id, const char *task,
                           const char *owner, int64_t due_ms, const char *by, int64_t now_ms,
                           int64_t *action_id, char **err);

/** Changes to an action item; NULL / -1 fields stay as they are. */
struct dw_incident_action_change {
    const char *task;
    const char *owner; /* "" clears */
    int64_t due_ms;    /* -1: keep, 0: clear */
    int done;          /* -1: keep, 0, 1 */
};
int dw_incident_action_update(struct dw_incidents *inc, const char *id, int64_t action_id,
                              const struct dw_incident_action_change *ch, const char *by,
                              int64_t now_ms, char **err);

/**
 * Merges `from` into `into`: alert groups, timeline (notes included) and
 * action items move; `from` is closed with mergedInto pointing at `into`.
 */
int dw_incident_merge(struct dw_incidents *inc, const char *from, const char *into, const char *by,
                      int64_t now_ms, char **err);

/* ---- views ---- */

/**
 * One incident, or NULL when there is no such id: {"id", "title",
 * "severity", "severityName", "priority", "state", "createdAt",
 * "<state>At" for each state, "duration", "durationSeconds",
 * "timeToAcknowledge"(+"Seconds"), "timeToMitigate"(+"Seconds"),
 * "timeToResolve"(+"Seconds"), "commander", "communicationsLead", "scribe"
 * (names, with "commanderId" ...), "affectedSystems", "impact",
 * "usersAffected", "dataLoss", "rootCause", "contributingFactors",
 * "detection": {"method", "alert"}, "resolution", "prevention",
 * "lessonsLearned", "timeline": [{"at", "kind", "who", "text"}] (the
 * incident's own entries and its pages' in time order), "actionItems":
 * [{"id", "task", "owner", "ownerName", "due", "done", "overdue"}], "groups",
 * "breaches": [{"kind", "at", "target"}], "mergedInto", "createdBy"}.
 */
json_t *dw_incident_json(struct dw_incidents *inc, const char *id);

struct dw_incident_filter {
    const char *state; /* a state name, "open" (before resolved), or NULL for any */
    int severity;      /* 1..4, 0 for any */
    int64_t since_ms;  /* created at or after; 0 for any */
    size_t limit;      /* 0: 100; at most 1000 */
};
/** Incidents newest first (summaries). DW_INCIDENT_EINVAL for a bad filter. */
int dw_incidents_list_json(struct dw_incidents *inc, const struct dw_incident_filter *f,
                           json_t **out, char **err);

/** Action items not done across incidents (overdue_only: due before now), by due date. */
json_t *dw_incidents_actions_json(struct dw_incidents *inc, bool overdue_only, int64_t now_ms);

/**
 * MTTA and MTTR per severity for incidents created in [since, until) (merged
 * ones left out): {"since", "until", "severities": [{"severity", "name",
 * "incidents", "mtta": {"count", "mean", "p50", "p90"}, "mttr": {...}}]} in
 * seconds (null when no incident has the figure); percentiles by nearest rank.
 */
int dw_incidents_stats_json(struct dw_incidents *inc, int64_t since_ms, int64_t until_ms,
                            json_t **out, char **err);

/**
 * Renders an incident's internal report (report true) or its user-facing
 * notice in `format`, with the template of the config
 * (incidents.templates.report / notice, checked when the config loads) or
 * the default; the service name and status page URL come from the config.
 * Appends to out (bounded by out->max). DW_INCIDENT_ENOTFOUND, or
 * DW_INCIDENT_EINVAL with *err when the template cannot render it (output
 * over the bound).
 */
int dw_incident_document(struct dw_incidents *inc, const char *id, bool report,
                         enum dw_incident_format format, struct dw_buf *out, char **err);

/**
 * Deletes an incident and everything it holds (timeline, action items,
 * communications state); its alert groups are detached. For admins: an
 * incident opened by mistake or by a test. Incidents merged into it keep
 * pointing at the id. ENOTFOUND when there is none.
 */
int dw_incident_delete(struct dw_incidents *inc, const char *id, const char *by, int64_t now_ms,
                       char **err);

/** A Slack slash command request (borrowed strings). */
struct dw_incident_slack {
    const char *timestamp; /* X-Slack-Request-Timestamp */
    const char *signature; /* X-Slack-Signature */
    const char *body;      /* the raw form body, as signed */
    size_t body_len;
    const char *command, *text, *user_name; /* form fields */
};

/**
 * `/incident [sevN] title` from Slack (slash.c): verifies the request
 * signature with incidents.slack.signing_secret (DW_INCIDENT_EDENIED when it
 * does not verify or the timestamp is over 5 minutes away), opens the
 * incident and puts Slack's JSON answer in *out (caller frees): in_channel
 * with the id, or ephemeral with the usage or what was wrong with the input.
 */
int dw_incident_slack_command(struct dw_incidents *inc, const struct dw_incident_slack *in,
                              int64_t now_ms, char **out, char **err);

/** "1h 23m", "4m 30s", "12s", "2d 3h": how durations read in views and reports. */
void dw_incident_format_duration(int64_t ms, char *out, size_t size);

#endif
