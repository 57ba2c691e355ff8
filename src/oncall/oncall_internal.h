/*
 * oncall_internal.h - what the files of src/oncall share; no other module
 * includes it. schedule.h (schedules, rotations, iCal) is included from here.
 */
#ifndef DW_ONCALL_INTERNAL_H
#define DW_ONCALL_INTERNAL_H

#include "oncall/oncall.h"
#include "oncall/schedule.h"

/* ---- tokens (token.c) ---- */

#define TOKEN_PAGES_MAX 64

struct token_key {
    uint8_t secret[64];
    size_t len;
};

struct token_claims {
    char *action; /* ack | resolve | any | feed */
    char *person;
    int64_t expires_ms;
    char *pages[TOKEN_PAGES_MAX];
    size_t npages;
};

/** A signed token for these pages. Caller frees. */
char *token_make(const struct token_key *k, const char *action, const char *person,
                 int64_t expires_ms, const char *const *pages, size_t npages);
/** Verifies and decodes; -1 with *err (malformed, bad signature, expired). */
int token_check(const struct token_key *k, const char *token, int64_t now_ms,
                struct token_claims *out, char **err);
void token_claims_release(struct token_claims *c);

/* ---- escalation policies and the rest of the section (policy.c) ---- */

struct step {
    struct dw_plan_target *targets; /* kind "schedule" | "person" | "team" */
    size_t ntargets;
    char **channels; /* phone, sms, email, slack, slack:<purpose> */
    size_t nchannels;
    int64_t wait_ms; /* before the next step */
    bool business_hours;
};

struct policy {
    char *id;
    struct step *steps;
    size_t nsteps;
    int64_t repeat; /* times the whole chain runs again after the last step */
};

struct rule { /* a person's notification rule: channel after a delay */
    char *channel;
    int64_t after_ms;
};

struct person_rules {
    char *person;
    struct rule *rules;
    size_t nrules;
};

struct hours {                    /* business hours */
    int weekday_from, weekday_to; /* 0 = Sunday, inclusive */
    int start_min, end_min;       /* minutes of the day, [start, end) */
    const struct dw_tz *zone;
};

/** The decoded on-call configuration besides the schedules. */
struct oncall_conf {
    struct policy *policies; /* configured ones, then P0..P2 derived from priorities */
    size_t npolicies;
    char *priority_policy[DW_PRIORITY_COUNT]; /* policy id per priority */
    struct person_rules *rules;
    size_t nrules;
    struct hours hours;
    char *base_url;       /* links: where people reach dojowatch */
    char *secret;         /* links: HMAC key (NULL: the store's) */
    int64_t token_ttl_ms; /* links expire after this */
    int64_t bundle_ms;    /* a person gets at most one SMS / call per window */
    struct sched_set *sched;
};

/** Decodes the section; NULL with diags on errors. */
struct oncall_conf *oncall_conf_decode(const struct dw_config *cfg, struct dw_diags *diags);
void oncall_conf_free(struct oncall_conf **c);
const struct policy *oncall_policy(const struct oncall_conf *c, const char *id);
/** The person's notification rules, NULL when none (the step's channels apply). */
const struct person_rules *oncall_rules(const struct oncall_conf *c, const char *person);
/** True when t is inside business hours. */
bool hours_contain(const struct hours *h, int64_t t_ms);
/** The next start of business hours at or after t. */
int64_t hours_next_start(const struct hours *h, int64_t t_ms);

/* ---- the running module's configuration, for who.c (pages.c) ---- */

struct oncall_view {
    const struct oncall_conf *conf;
    const struct dw_config *cfg;
};

/** Locks the module and exposes its configuration until oncall_view_end. */
void oncall_view_begin(struct dw_oncall *oc, struct oncall_view *v);
void oncall_view_end(struct dw_oncall *oc);

#endif
