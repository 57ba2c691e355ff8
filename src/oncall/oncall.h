/*
 * oncall.h - who is on call, and pages that reach them until someone
 * acknowledges.
 *
 * Schedules (layers, daily / weekly / custom rotations with a local handoff
 * time in an IANA zone, overrides and swaps) say who is on call at any
 * time; `dojowatch oncall who`, GET /api/oncall/now and the iCal feeds read
 * them. Pages: every alert group the alerter fires (its event queue,
 * consumer "oncall") opens a page for its priority's escalation policy; the
 * page notifies the policy's first step (schedule -> the person on call,
 * person, team; Slack channels), waits the step's time and escalates to the
 * next step until someone acknowledges or the group resolves. Messages go
 * through the notifier's outbox (at least once, deduplicated per page, step,
 * person and channel). Acknowledge and resolve work from every place a page
 * is seen: signed, expiring links (Slack buttons, e-mail, SMS), an SMS
 * reply ("4" / "6"), the call keypad, the web API and the CLI. Every page,
 * notification, escalation, acknowledgement and resolution is written to the
 * page's timeline with who, when and how.
 *
 * Threads: dw_oncall_start runs one thread that reads the alert events and
 * runs due escalation steps on dw_now_ms's clock (so tests move time with
 * the test clock). Every other function may be called from any thread.
 *
 * Design note: docs/internals/oncall.md.
 */
#ifndef DW_ONCALL_H
#define DW_ONCALL_H

#include <jansson.h>

#include "alert/alert.h"
#include "core/core.h"
#include "notify/notify.h"
#include "plan/plan.h"
#include "store/store.h"

struct dw_oncall;

/* Return codes besides 0 and -1 (store failure). */
#define DW_ONCALL_EINVAL (-2)    /* bad input; *err says what */
#define DW_ONCALL_ENOTFOUND (-3) /* no such page, schedule or person */
#define DW_ONCALL_EDENIED (-4)   /* a link or signature that does not verify, or expired */

struct dw_oncall_options {
    struct dw_store *store;       /* borrowed */
    struct dw_alerter *alerter;   /* borrowed; may be NULL (no pages from alerts) */
    struct dw_notifier *notifier; /* borrowed; may be NULL (pages recorded, nothing sent) */
    const struct dw_config *config;
    const char *consumer; /* alert event cursor; NULL: "oncall" */
};

/**
 * Validates the oncall section (schedules, escalation_policies, links,
 * bundle, business_hours) with file:line:col. Returns the number of errors.
 */
size_t dw_oncall_check_config(const struct dw_config *cfg, struct dw_diags *diags);

/** Opens on a store (migrations "oncall") with cfg's schedules and policies. NULL with *err. */
struct dw_oncall *dw_oncall_open(const struct dw_oncall_options *o, char **err);
/** Stops and frees; NULL is a no-op. */
void dw_oncall_close(struct dw_oncall **oc);
/** Starts the thread (events, escalation timers). 0 or -1. */
int dw_oncall_start(struct dw_oncall *oc);
void dw_oncall_stop(struct dw_oncall *oc);
/** Switches to a new configuration (already validated). 0, or -1 with *err (nothing changed). */
int dw_oncall_apply(struct dw_oncall *oc, const struct dw_config *cfg, char **err);
/** One turn at now_ms: reads alert events, runs due steps (tests call it without the thread). */
void dw_oncall_tick(struct dw_oncall *oc, int64_t now_ms);

/* ---- schedules ---- */

/**
 * {"at", "schedules": [{"id", "name", "timeZone", "onCall": {"id", "name",
 * "email", "phone"} | null, "until"}]} for every schedule (or only `schedule`
 * when non-NULL). DW_ONCALL_ENOTFOUND for an unknown schedule.
 */
int dw_oncall_who_json(struct dw_oncall *oc, const char *schedule, int64_t at_ms, json_t **out,
                       char **err);
/** The same computed from a configuration alone (the CLI without a daemon). */
int dw_oncall_who_config_json(const struct dw_config *cfg, const char *schedule, int64_t at_ms,
                              json_t **out, char **err);
/**
 * An iCalendar feed of a schedule's shifts (kind "schedule") or a person's
 * (kind "person") from 7 days before now to 90 days after.
 */
int dw_oncall_ical(struct dw_oncall *oc, const char *kind, const char *id, int64_t now_ms,
                   char **out, char **err);
/** Gaps and double bookings in [from, to): {"issues": [...]}. */
int dw_oncall_check_json(struct dw_oncall *oc, int64_t from_ms, int64_t to_ms, json_t **out,
                         char **err);
/** Adds an override (or a swap when replaces is set) kept in the store. */
int dw_oncall_override_add(struct dw_oncall *oc, const char *schedule, const char *person,
                           const char *replaces, int64_t start_ms, int64_t end_ms, const char *by,
                           char **err);

/** Run-time overrides: id, schedule, person, replaces, start, end, createdBy, createdAt. */
json_t *dw_oncall_overrides_json(struct dw_oncall *oc);
/** Deletes a run-time override; the schedules are rebuilt without it. DW_ONCALL_ENOTFOUND. */
int dw_oncall_override_delete(struct dw_oncall *oc, int64_t id, const char *by, char **err);

/* ---- pages ---- */

enum dw_page_action { DW_PAGE_ACK, DW_PAGE_RESOLVE };

/**
 * Acknowledges (stops the escalation) or resolves a page, by whom and how
 * ("web", "cli", "slack", "email", "sms", "voice", "api"). Acting on a page
 * already in that state (or resolved) succeeds without change. Durable.
 */
int dw_oncall_page_act(struct dw_oncall *oc, const char *page_id, enum dw_page_action act,
                       const char *by, const char *via, int64_t now_ms, char **err);
/**
 * Acknowledges every triggered page of the alert with this fingerprint (the
 * alert was acknowledged itself: its pages stop escalating). *pages gets
 * the ids acknowledged (a new array, maybe empty). DW_ONCALL_EINVAL.
 */
int dw_oncall_ack_alert(struct dw_oncall *oc, const char *fingerprint, const char *by,
                        const char *via, int64_t now_ms, json_t **pages, char **err);
/**
 * The same from a signed link: verifies the token (DW_ONCALL_EDENIED when it
 * does not verify or has expired), then acts on every page it names.
 * action NULL: the token's own. *summary gets a line for the person.
 */
int dw_oncall_link_act(struct dw_oncall *oc, const char *token, const char *action, const char *via,
                       int64_t now_ms, char **summary, char **err);
/**
 * An inbound SMS (already signature-checked): "4"/"ack" acknowledges and
 * "6"/"resolve" resolves the open pages last sent to the person with that
 * phone number. *reply gets the text to answer with.
 */
int dw_oncall_sms_reply(struct dw_oncall *oc, const char *from, const char *body, int64_t now_ms,
                        char **reply, char **err);
/** The call keypad (token from the call's callback URL): *twiml gets the answer. */
int dw_oncall_voice_digits(struct dw_oncall *oc, const char *token, const char *digits,
                           int64_t now_ms, char **twiml, char **err);
/** A call's status callback: a failed, busy or unanswered call sends the SMS fallback. */
int dw_oncall_voice_status(struct dw_oncall *oc, const char *token, const char *status,
                           int64_t now_ms, char **err);
/** The Twilio auth token inbound requests are signed with (the notify section's sms). */
char *dw_oncall_twilio_token(struct dw_oncall *oc);

/** The base URL of the links in pages (oncall.links.base_url). Caller frees. */
char *dw_oncall_base_url(struct dw_oncall *oc);

#define DW_ONCALL_PAGE_ID_MAX 32

/** A page a person opens (the console's "page someone", `POST /api/oncall/pages`). */
struct dw_oncall_page_new {
    const char *target;   /* "person:<id>", "schedule:<id>" (who is on call) or "team:<id>" */
    const char *priority; /* P0, P1 or P2 (NULL: P1) */
    const char *summary;  /* what it is about, 1 to 200 bytes */
    const char *ref;      /* what it belongs to (an incident id), may be NULL */
};
/**
 * Opens a page that reaches the target first - on the channels and with the
 * wait of the priority's first escalation step - and then escalates through
 * the priority's policy until someone acknowledges it, like an alert's page
 * (same links, SMS replies, calls, timeline). Durable. DW_ONCALL_EINVAL for
 * an unknown target or bad input.
 */
int dw_oncall_page_create(struct dw_oncall *oc, const struct dw_oncall_page_new *in, const char *by,
                          int64_t now_ms, char id_out[DW_ONCALL_PAGE_ID_MAX], char **err);

/** Pages (newest first, at most limit), state NULL for any. */
json_t *dw_oncall_pages_json(struct dw_oncall *oc, const char *state, size_t limit);
/** One page with its timeline; NULL when there is no such page. */
json_t *dw_oncall_page_json(struct dw_oncall *oc, const char *page_id);
/** A signed link for a page (tests and the console). Caller frees. */
char *dw_oncall_link(struct dw_oncall *oc, const char *page_id, const char *action,
                     const char *person, int64_t now_ms);

#endif
