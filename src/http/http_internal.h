/*
 * http_internal.h - what the files of the http module share with each other
 * (server, router, request, response, routes, api_*.c). No other module
 * includes this header.
 */
#ifndef DW_HTTP_INTERNAL_H
#define DW_HTTP_INTERNAL_H

#include <microhttpd.h>

#include "http/http.h"

/** A decoded name/value pair (argument, path parameter or header). Both heap. */
struct dw_http_kv {
    char *name;
    char *value;
};

/** A growable list of pairs; every string in it is owned by the list. */
struct dw_http_kvs {
    struct dw_http_kv *items;
    size_t n;
    size_t cap;
};

/*
 * One request, from the moment its headers are complete until libmicrohttpd
 * reports it finished. Lives on one polling thread; nothing in it is shared.
 */
struct dw_http_request {
    struct MHD_Connection *conn;       /* borrowed from libmicrohttpd */
    struct dw_http_server *srv;        /* borrowed */
    const struct dw_http_route *route; /* borrowed from the route table; NULL when unrouted */
    char *method;                      /* heap copy of the request method */
    char *path;                        /* heap copy of the raw (still encoded) path */
    char **segments;                   /* heap: decoded path segments */
    size_t nsegments;
    struct dw_http_kvs params; /* {name} captures */
    struct dw_http_kvs query;  /* query-string arguments, in order */
    struct dw_http_kvs form;   /* form-body arguments; they take precedence over query */
    struct dw_buf body;        /* max = the route's body limit */
    uint64_t body_seen;        /* bytes received, including those not kept */
    uint64_t body_max;
    bool overflow; /* body_seen passed body_max: the rest is dropped */
    bool admitted; /* passed the header checks (route, access, limits) */
    enum dw_role role;
    char *principal; /* heap copy of the token's name; NULL for anonymous */
    int64_t start_ns;
    int status; /* status of the queued response; 0 until one is queued */
};

/** A response header whose name and value the response borrows (see dw_http_resp_header_ref). */
struct dw_http_header_ref {
    const char *name;
    const char *value;
};

#define DW_HTTP_HEADER_REFS 8

/** What a handler fills in; the server turns it into a libmicrohttpd response. */
struct dw_http_response {
    bool set;
    int status;
    char *content_type;           /* heap; NULL: content_type_ref */
    const char *content_type_ref; /* borrowed like a borrowed body */
    const char *body;             /* may be NULL when len == 0 */
    size_t len;
    /*
     * Frees the body: free(release_cls) for a heap body, the owner's release
     * for a borrowed one (dw_http_resp_borrow). libmicrohttpd calls it once
     * it has sent the body; whatever a borrowed body's owner keeps alive
     * (content type, header values) stays valid until then.
     */
    void (*release)(void *cls);
    void *release_cls;
    struct dw_http_kvs headers;
    struct dw_http_header_ref header_refs[DW_HTTP_HEADER_REFS];
    size_t nheader_refs;
};

/* ---- pairs ---- */
void dw_http_kvs_add(struct dw_http_kvs *kvs, const char *name, const char *value);
/** Takes ownership of name and value (heap). */
void dw_http_kvs_take(struct dw_http_kvs *kvs, char *name, char *value);
const char *dw_http_kvs_get(const struct dw_http_kvs *kvs, const char *name);
void dw_http_kvs_release(struct dw_http_kvs *kvs);

/* ---- decoding (request.c) ---- */

/**
 * Percent-decodes s[0..n) into a fresh heap string (*out). With plus_is_space
 * '+' means ' ' (form encoding). Returns -1 on a malformed escape or an
 * encoded NUL byte, leaving *out NULL.
 */
int dw_http_decode(const char *s, size_t n, bool plus_is_space, char **out);
/**
 * Parses application/x-www-form-urlencoded text ("a=1&b=x+y") into kvs.
 * Returns -1 on a malformed escape (kvs keeps the pairs before it).
 */
int dw_http_form_parse(const char *s, size_t n, struct dw_http_kvs *kvs);
/** Splits a raw path into decoded segments; -1 on malformed encoding. */
int dw_http_path_split(const char *path, char ***segments, size_t *n);

struct dw_http_request *dw_http_request_new(struct dw_http_server *srv, struct MHD_Connection *conn,
                                            const char *method, const char *path);
void dw_http_request_free(struct dw_http_request **req);

/* ---- responses (response.c) ---- */
void dw_http_response_init(struct dw_http_response *resp);
void dw_http_response_release(struct dw_http_response *resp);
/**
 * Answers status with len bytes at body that the response does not own:
 * release(cls) runs exactly once, when libmicrohttpd is done with them (or
 * when the response is replaced or dropped), on whichever thread that is.
 * content_type (may be NULL) must live as long. For a 304 / 204, pass
 * body NULL and len 0: release still runs, so the owner can keep header
 * values alive (dw_http_resp_header_ref).
 */
void dw_http_resp_borrow(struct dw_http_response *resp, int status, const char *content_type,
                         const char *body, size_t len, void (*release)(void *cls), void *cls);
/**
 * Adds a header without copying: name and value must stay valid until the
 * response is queued (after the handler returns): static strings, or ones
 * owned by a borrowed body's owner. Past DW_HTTP_HEADER_REFS it copies.
 */
void dw_http_resp_header_ref(struct dw_http_response *resp, const char *name, const char *value);

/* ---- listening (listen.c) ---- */

/**
 * Parses addr ("host:port", "[v6]:port", ":port"), binds and listens.
 * Returns the socket and the bound port in *port, or -1 with *err (caller
 * frees) that names the address, the reason and what to do.
 */
int dw_http_listen_open(const char *addr, int *port, char **err);

/* ---- routing (router.c) ---- */

/**
 * Finds the route for method + decoded segments. Test-only routes are skipped
 * unless test_routes. On a match, path captures go to params. When no route
 * matches the method but some match the path, their methods are appended to
 * allow ("GET, POST") so the caller can answer 405.
 */
const struct dw_http_route *dw_http_route_find(const struct dw_http_route *routes, size_t n,
                                               const char *method, char *const *segments,
                                               size_t nsegments, bool test_routes,
                                               struct dw_http_kvs *params, struct dw_buf *allow);

/** "viewer", "responder", "admin" or "none". */
const char *dw_http_role_name(enum dw_role role);

/* ---- ingestion handlers (api_write.c) ---- */
void dw_api_write(struct dw_http_request *req, struct dw_http_response *resp,
                  const struct dw_http_app *app);
void dw_api_import_prometheus(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app);
void dw_api_push(struct dw_http_request *req, struct dw_http_response *resp,
                 const struct dw_http_app *app);

/* ---- the Prometheus query API (api_query.c) ---- */
void dw_api_query(struct dw_http_request *req, struct dw_http_response *resp,
                  const struct dw_http_app *app);
void dw_api_query_range(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app);
void dw_api_query_exemplars(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);

/* Shared with api_meta.c. */

/** Appends s as a JSON string the way Go's encoding/json writes it (<, >, & escaped). */
void dw_api_json_string(struct dw_buf *b, const char *s);
/** Appends s quoted like Go's %q, for error messages that echo a parameter. */
void dw_api_go_quote(struct dw_buf *b, const char *s);
/** 503 unavailable when the app has no tsdb; returns whether it has one. */
bool dw_api_need_tsdb(const struct dw_http_app *app, struct dw_http_response *resp);

/* The return codes the modules share (alert, oncall, incident): 0, -1 store failure,
 * and these, each module's own names having the same values. */
#define DW_API_EINVAL (-2)    /* bad input: 400 */
#define DW_API_ENOTFOUND (-3) /* no such thing: 404 */
#define DW_API_EDENIED (-4)   /* a link or signature that does not verify: 403 */
/** The error a module's return code stands for, with its message (NULL: "store failure"). */
void dw_api_module_error(struct dw_http_response *resp, int rc, const char *err);
/** The request's JSON object body (new reference), or NULL after a 400 saying why. */
json_t *dw_api_body_object(struct dw_http_request *req, struct dw_http_response *resp);
/** The same for a JSON array. */
json_t *dw_api_body_array(struct dw_http_request *req, struct dw_http_response *resp);
/** True when module (a part of the app) is there, else false after a 503 with `missing`. */
bool dw_api_need(const void *module, struct dw_http_response *resp, const char *missing);
/** out (stolen) as success, or 404 "no <what> <id>" when out is NULL. */
void dw_api_found(struct dw_http_response *resp, json_t *out, const char *what, const char *id);
/** out (stolen) when rc is 0, else dw_api_module_error (out is released); frees err. */
void dw_api_module_answer(struct dw_http_response *resp, int rc, json_t *out, char *err);
/**
 * Reads an optional time parameter like Prometheus's parseTimeParam: absent
 * or empty gives def. Returns false after answering 400 bad_data
 * ("invalid parameter \"start\": Invalid time value for 'start': ...").
 */
bool dw_api_time_param(struct dw_http_request *req, struct dw_http_response *resp, const char *name,
                       int64_t def, int64_t *out);
/** Starts {"status":"success","data": in b; the caller appends the data. */
void dw_api_begin(struct dw_buf *b);
/** Closes the envelope (with "warnings" when n > 0) and answers 200 with b's bytes. */
void dw_api_finish(struct dw_http_response *resp, struct dw_buf *b, char *const *warnings,
                   size_t n);

/* ---- the Prometheus metadata and status API (api_meta.c) ---- */
void dw_api_series(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app);
void dw_api_labels(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app);
void dw_api_label_values(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app);
void dw_api_metadata(struct dw_http_request *req, struct dw_http_response *resp,
                     const struct dw_http_app *app);
void dw_api_rules(struct dw_http_request *req, struct dw_http_response *resp,
                  const struct dw_http_app *app);
void dw_api_alerts(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app);
void dw_api_targets(struct dw_http_request *req, struct dw_http_response *resp,
                    const struct dw_http_app *app);
void dw_api_probes(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app);
void dw_api_buildinfo(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app);
void dw_api_runtimeinfo(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app);

/* ---- the alerter: Alertmanager API v2 and dojowatch's alert endpoints (api_alert.c) ---- */
void dw_api_am_post_alerts(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_am_get_alerts(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app);
void dw_api_am_get_groups(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app);
void dw_api_am_get_silences(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_am_post_silence(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_am_get_silence(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_am_delete_silence(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app);
void dw_api_am_status(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app);
void dw_api_am_receivers(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app);
void dw_api_alert_lifecycle(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_alert_ack(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app);
void dw_api_alert_false_positive(struct dw_http_request *req, struct dw_http_response *resp,
                                 const struct dw_http_app *app);
void dw_api_alert_stats(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app);

/* ---- handlers of the plan API, written in api_plan.c ---- */
/* api_incident.c: incidents, their reports and measures */
void dw_api_incidents_list(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_incidents_create(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app);
void dw_api_incident_get(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app);
void dw_api_incident_update(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_incident_state(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_incident_note(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app);
void dw_api_incident_action_add(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app);
void dw_api_incident_action_update(struct dw_http_request *req, struct dw_http_response *resp,
                                   const struct dw_http_app *app);
void dw_api_incident_merge(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_incident_delete(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_incident_slack(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_incident_report(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_incident_notice(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_incidents_stats(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_incidents_actions(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app);

/* api_status.c: the public status page (open) and its management API */
void dw_api_status_doc(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app);
void dw_api_status_history(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_status_incident_page(struct dw_http_request *req, struct dw_http_response *resp,
                                 const struct dw_http_app *app);
void dw_api_status_badge(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app);
void dw_api_status_preflight(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app);
/* api_subscribe.c */
/** The per-client limit of the public status routes: true, or false after a 429 answer. */
bool dw_api_status_admit(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app);
void dw_api_status_subscribe_form(struct dw_http_request *req, struct dw_http_response *resp,
                                  const struct dw_http_app *app);
void dw_api_status_subscribe(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app);
void dw_api_status_confirm_page(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app);
void dw_api_status_confirm(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_status_manage_page(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app);
void dw_api_status_manage(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app);
void dw_api_status_unsubscribe_page(struct dw_http_request *req, struct dw_http_response *resp,
                                    const struct dw_http_app *app);
void dw_api_status_unsubscribe(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app);
void dw_api_status_subscribers(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app);
void dw_api_status_subscribers_import(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app);
void dw_api_status_subscriber_delete(struct dw_http_request *req, struct dw_http_response *resp,
                                     const struct dw_http_app *app);
void dw_api_status_notices(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_status_components(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app);
void dw_api_status_component(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app);
void dw_api_status_component_uptime(struct dw_http_request *req, struct dw_http_response *resp,
                                    const struct dw_http_app *app);
void dw_api_status_component_override(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app);
void dw_api_status_incident_update(struct dw_http_request *req, struct dw_http_response *resp,
                                   const struct dw_http_app *app);
void dw_api_status_maintenances(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app);
void dw_api_status_maintenance_create(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app);
void dw_api_status_maintenance_update(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app);
void dw_api_status_maintenance_delete(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app);

/* api_oncall.c: on-call, pages, links, Twilio webhooks, the notification outbox */
void dw_api_oncall_now(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app);
void dw_api_oncall_check(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app);
void dw_api_oncall_schedule_ical(struct dw_http_request *req, struct dw_http_response *resp,
                                 const struct dw_http_app *app);
void dw_api_oncall_person_ical(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app);
void dw_api_oncall_overrides(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app);
void dw_api_oncall_override_delete(struct dw_http_request *req, struct dw_http_response *resp,
                                   const struct dw_http_app *app);
void dw_api_oncall_override(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_oncall_pages(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app);
void dw_api_oncall_page_create(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app);
void dw_api_oncall_page(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app);
void dw_api_oncall_ack(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app);
void dw_api_oncall_resolve(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);
void dw_api_oncall_link_get(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_oncall_link_post(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app);
void dw_api_oncall_twilio_sms(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app);
void dw_api_oncall_twilio_voice(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app);
void dw_api_oncall_twilio_status(struct dw_http_request *req, struct dw_http_response *resp,
                                 const struct dw_http_app *app);
void dw_api_notify_outbox(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app);

/* api_dashboard.c: dashboards, their definitions and their data in one answer */
void dw_api_dashboards_list(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app);
void dw_api_dashboard_get(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app);
void dw_api_kpis(struct dw_http_request *req, struct dw_http_response *resp,
                 const struct dw_http_app *app);
void dw_api_dashboard_data(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app);

void dw_api_plan_get(struct dw_http_request *req, struct dw_http_response *resp,
                     const struct dw_http_app *app);
void dw_api_plan_review(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app);
void dw_api_config_get(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app);

/* ---- signing in (api_auth.c) ---- */
void dw_api_auth_login(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app);
void dw_api_auth_logout(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app);
void dw_api_auth_me(struct dw_http_request *req, struct dw_http_response *resp,
                    const struct dw_http_app *app);
/** True when the request carries the dw_session cookie. */
bool dw_api_auth_has_cookie(struct dw_http_request *req);
/**
 * For server.c: authenticates a request by its session cookie (no bearer
 * token was sent): sets role and principal and returns true when the
 * session is live, has the role `need` and, for a method other than GET,
 * HEAD or OPTIONS, carries its CSRF token; else fills resp with the 401,
 * 403 or 503 saying why and returns false.
 */
bool dw_api_auth_authorize(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app, enum dw_role need);

/* ---- the web console (console.c: the page shell; api_console.c: what only it needs) ---- */
/** GET /, /console, /console/{view}[/{id}]: the console's HTML shell (or the sign-in form). */
void dw_api_console_shell(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app);
/** GET /api/console/directory: the plan's KPIs and people (ids, names, roles) for viewers. */
void dw_api_console_directory(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app);
/** POST /api/console/incidents/{id}/page: a text and an e-mail to a person, on the timeline. */
void dw_api_console_incident_page(struct dw_http_request *req, struct dw_http_response *resp,
                                  const struct dw_http_app *app);

/* ---- browser assets embedded at build time (assets.c; the table is generated) ---- */

/** One file of web/dist, as scripts/embed-assets.py wrote it into assets_data.c. Static memory. */
struct dw_http_asset {
    const char *logical;      /* "console.js": what pages ask dw_http_asset_url() for */
    const char *hashed;       /* "console.3f2a9c1b.js": the name in the URL */
    const char *url;          /* "/assets/console.3f2a9c1b.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const char *etag;         /* quoted, of the identity bytes */
    const char *etag_gzip;    /* quoted, of the gzip variant */
    const unsigned char *data;
    size_t len;
    const unsigned char *gzip; /* NULL when gzip would not be smaller */
    size_t gzip_len;
};

/* The generated table, sorted by hashed name (strcmp order); count may be 0. */
extern const struct dw_http_asset dw_http_assets_table[];
extern const size_t dw_http_assets_count;

/** The asset whose hashed name is hashed_name, or NULL. */
const struct dw_http_asset *dw_http_asset_find(const char *hashed_name);
/** "/assets/<hashed name>" of the asset with this logical name ("console.js"), or NULL. */
const char *dw_http_asset_url(const char *logical);
/** True when an Accept-Encoding value admits gzip (gzip, x-gzip or *, without q=0). */
bool dw_http_accepts_gzip(const char *accept_encoding);
/** GET /assets/{name}: immutable caching, ETag / If-None-Match, gzip when accepted; else 404. */
void dw_api_asset_get(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app);

#endif
