/*
 * api_auth.c - signing in over HTTP, the session cookie, CSRF on requests a
 * cookie authenticates, and the security headers of the console's pages.
 *
 *   POST /api/auth/login   (open)     {"username","password"} as JSON or a form;
 *                                     sets the dw_session cookie
 *   POST /api/auth/logout  (open)     ends the cookie's session (CSRF token
 *                                     required while it is live), clears the cookie
 *   GET  /api/auth/me      (viewer)   who is signed in, role, CSRF token, expiry
 *
 * DESIGN
 * The auth module (src/auth) decides everything about passwords, sessions
 * and lockout; this file maps its answers to HTTP: 400 malformed input, 401
 * wrong name or password (the same words for unknown users), 429 with
 * Retry-After when locked out, 503 with Retry-After when too many checks run,
 * 413 for a body over LOGIN_BODY_MAX, 403 for a cross-origin sign-in.
 *
 * The cookie is "dw_session=<id>; Path=/; Max-Age=<lifetime>; HttpOnly;
 * SameSite=Strict", plus Secure over TLS or with auth.cookie_secure (behind a
 * TLS proxy). Strict rather than Lax: the console is a page of our own whose
 * data comes from same-origin fetches, which carry a Strict cookie, so a link
 * from Slack or e-mail still opens a signed-in console, while no request
 * started by another site, not even a top-level GET, carries the session.
 *
 * server.c hands a request that has no bearer token but the cookie to
 * dw_api_auth_authorize: the session gives the principal and its role, and a
 * method other than GET, HEAD and OPTIONS must carry the session's CSRF token
 * in X-CSRF-Token (403 otherwise). Bearer tokens need no CSRF token: a
 * browser never attaches them by itself.
 *
 * Passwords are wiped from the request body and the decoded form or JSON as
 * soon as they are checked; the session id only ever goes into Set-Cookie.
 *
 * Threads: handlers run on libmicrohttpd's polling threads; the auth module
 * is thread-safe.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "http_internal.h"

#define LOGIN_BODY_MAX 8192

static const char console_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

void dw_http_resp_console_headers(struct dw_http_response *resp)
{
    dw_http_resp_header(resp, "Content-Security-Policy", console_csp);
    dw_http_resp_header(resp, "Referrer-Policy", "same-origin");
    dw_http_resp_header(resp, "X-Frame-Options", "DENY");
}

/* ---- the cookie ---- */

static const char *session_cookie(struct dw_http_request *req)
{
    const char *c = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, DW_AUTH_COOKIE);
    return c && *c ? c : NULL;
}

bool dw_api_auth_has_cookie(struct dw_http_request *req)
{
    return session_cookie(req) != NULL;
}

static bool over_tls(struct dw_http_request *req)
{
    return MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_PROTOCOL) != NULL;
}

/* Set-Cookie with value and max_age_s (0 with "" clears the cookie). */
static void set_cookie(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app, const char *value, int64_t max_age_s)
{
    bool secure = (app->auth && dw_auth_cookie_secure(app->auth)) || over_tls(req);
    char *c = dw_asprintf("%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
                          DW_AUTH_COOKIE, value, (long long)max_age_s, secure ? "; Secure" : "");
    dw_http_resp_header(resp, "Set-Cookie", c);
    explicit_bzero(c, strlen(c));
    free(c);
}

static void clear_cookie(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app)
{
    set_cookie(req, resp, app, "", 0);
}

/* ---- answers ---- */

static json_t *time_json(int64_t ms)
{
    char t[40];
    dw_format_rfc3339(ms, t, sizeof t);
    return json_string(t);
}

static json_t *session_json(const struct dw_auth_session *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "user", json_string(s->user));
    json_object_set_new(o, "role", json_string(dw_role_name((enum dw_role)s->role)));
    json_object_set_new(o, "via", json_string("session"));
    json_object_set_new(o, "csrf_token", json_string(s->csrf));
    json_object_set_new(o, "csrf_header", json_string(DW_AUTH_CSRF_HEADER));
    json_object_set_new(o, "created_at", time_json(s->created_ms));
    json_object_set_new(o, "expires_at", time_json(s->idle_expires_ms));
    json_object_set_new(o, "absolute_expires_at", time_json(s->expires_ms));
    return o;
}

static void retry_after(struct dw_http_response *resp, int64_t ms)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)((ms + 999) / 1000));
    dw_http_resp_header(resp, "Retry-After", s);
}

static bool state_changing(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

/* ---- authenticating a request by its cookie (server.c) ---- */

bool dw_api_auth_authorize(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app, enum dw_role need)
{
    struct dw_auth_session s;
    char *why = NULL;
    int rc = dw_auth_session_check(app->auth, session_cookie(req), &s, &why);
    if (rc == -1) {
        dw_http_resp_error(resp, 503, "unavailable", "cannot read sessions: %s",
                           why ? why : "store failure");
        free(why);
        return false;
    }
    if (rc != 0) {
        dw_http_resp_error(resp, 401, "unauthorized",
                           "%s; sign in again (POST /api/auth/login) or send "
                           "'Authorization: Bearer <token>'",
                           why ? why : "no session");
        clear_cookie(req, resp, app);
        free(why);
        return false;
    }
    req->principal = dw_strdup(s.user);
    req->role = (enum dw_role)s.role;
    if (req->role < need) {
        dw_log_kv(DW_LOG_INFO, "http", "forbidden", "method", req->method, "path", req->path,
                  "principal", req->principal, "role", dw_http_role_name(req->role), NULL);
        dw_http_resp_error(resp, 403, "forbidden",
                           "forbidden: this route needs the %s role; user '%s' has %s",
                           dw_http_role_name(need), s.user, dw_http_role_name(req->role));
        return false;
    }
    if (state_changing(req->method) &&
        !dw_auth_csrf_ok(&s, dw_http_req_header(req, DW_AUTH_CSRF_HEADER))) {
        const char *h = dw_http_req_header(req, DW_AUTH_CSRF_HEADER);
        dw_log_kv(DW_LOG_INFO, "http", "CSRF token missing or wrong", "method", req->method, "path",
                  req->path, "principal", req->principal, NULL);
        dw_http_resp_error(resp, 403, "csrf",
                           "%s X-CSRF-Token header: a %s signed in by cookie must carry the "
                           "session's CSRF token (csrf_token of GET /api/auth/me)",
                           h && *h ? "wrong" : "missing", req->method);
        return false;
    }
    return true;
}

/* ---- POST /api/auth/login ---- */

/* "scheme://host[:port]" of a URL: its length, or 0. */
static size_t origin_len(const char *url)
{
    const char *p = url ? strstr(url, "://") : NULL;
    return p ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : 0;
}

/* A browser's sign-in must come from a page of ours (login CSRF): its Origin
 * is this server (Host) or server.external_url. Clients that send no Origin
 * (curl, the CLI) are not browsers. */
static bool same_origin(struct dw_http_request *req, const struct dw_http_app *app)
{
    const char *origin = dw_http_req_header(req, "Origin");
    if (!origin)
        return true;
    const char *host = dw_http_req_header(req, "Host");
    size_t n = origin_len(origin);
    if (host && *host && n == strlen(origin)) {
        const char *rest = strstr(origin, "://") + 3;
        if (strcasecmp(rest, host) == 0)
            return true;
    }
    bool ok = false;
    struct dw_config *cfg = app->config_get ? app->config_get(app->ctx) : NULL;
    const char *ext = cfg ? dw_config_external_url(cfg) : NULL;
    size_t en = origin_len(ext);
    ok = en && en == strlen(origin) && strncasecmp(ext, origin, en) == 0;
    dw_config_unref(&cfg);
    return ok;
}

static bool is_json(const char *ct)
{
    static const char json[] = "application/json";
    return !ct || !*ct ||
           (strncasecmp(ct, json, sizeof json - 1) == 0 &&
            (ct[sizeof json - 1] == '\0' || ct[sizeof json - 1] == ';'));
}

static bool is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    return ct && strncasecmp(ct, form, sizeof form - 1) == 0;
}

/* The two credentials, from the form or the JSON object (kept in *doc). */
struct credentials {
    const char *user;
    char *password; /* inside the request's form or *doc: wiped after the check */
    size_t password_len;
    json_t *doc;
};

static bool from_json(struct dw_http_request *req, struct dw_http_response *resp,
                      struct credentials *c)
{
    c->doc = dw_api_body_object(req, resp);
    if (!c->doc)
        return false;
    json_t *u = json_object_get(c->doc, "username"), *p = json_object_get(c->doc, "password");
    const char *bad = !json_is_string(u)                                      ? "username"
                      : !json_is_string(p)                                    ? "password"
                      : strlen(json_string_value(u)) != json_string_length(u) ? "username"
                                                                              : NULL;
    if (bad) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "%s: expected a string without NUL bytes; send "
                           "{\"username\":\"...\",\"password\":\"...\"}",
                           bad);
        return false;
    }
    c->user = json_string_value(u);
    c->password = (char *)json_string_value(p); /* our own copy: wiped after use */
    c->password_len = json_string_length(p);
    return true;
}

static bool read_credentials(struct dw_http_request *req, struct dw_http_response *resp,
                             struct credentials *c)
{
    const char *ct = dw_http_req_header(req, "Content-Type");
    if (is_form(ct)) {
        /* Only the body: credentials in a query string end up in logs. */
        c->user = dw_http_kvs_get(&req->form, "username");
        c->password = (char *)dw_http_kvs_get(&req->form, "password");
        if (!c->user || !c->password) {
            dw_http_resp_error(resp, 400, "bad_data",
                               "missing form field %s (send username and "
                               "password in the body)",
                               !c->user ? "username" : "password");
            return false;
        }
        c->password_len = strlen(c->password);
        return true;
    }
    if (is_json(ct))
        return from_json(req, resp, c);
    dw_http_resp_error(resp, 415, "unsupported_media_type",
                       "send the credentials as application/json or "
                       "application/x-www-form-urlencoded, not %s",
                       ct);
    return false;
}

static void wipe(struct dw_http_request *req, struct credentials *c)
{
    if (c->password)
        explicit_bzero(c->password, c->password_len);
    if (req->body.data)
        explicit_bzero(req->body.data, req->body.len);
    json_decref(c->doc);
}

static void login_refused(struct dw_http_response *resp, int rc, const struct dw_auth_login *out,
                          const char *err)
{
    switch (rc) {
    case DW_AUTH_EINVAL: dw_http_resp_error(resp, 400, "bad_data", "%s", err); break;
    case DW_AUTH_EDENIED: dw_http_resp_error(resp, 401, "unauthorized", "%s", err); break;
    case DW_AUTH_ELOCKED:
        dw_http_resp_error(resp, 429, "too_many_requests", "%s", err);
        retry_after(resp, out->retry_after_ms);
        break;
    case DW_AUTH_EBUSY:
        dw_http_resp_error(resp, 503, "unavailable", "%s", err);
        retry_after(resp, out->retry_after_ms);
        break;
    default:
        dw_http_resp_error(resp, 500, "internal", "cannot store the session: %s",
                           err ? err : "store failure");
    }
}

void dw_api_auth_login(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app)
{
    size_t len = 0;
    dw_http_req_body(req, &len);
    dw_http_resp_header(resp, "Cache-Control", "no-store");
    if (!dw_api_need(app->auth, resp, "sign-in is not available in this process"))
        return;
    if (len > LOGIN_BODY_MAX) {
        dw_http_resp_error(resp, 413, "payload_too_large",
                           "a sign-in body is at most %d bytes; this one has %zu", LOGIN_BODY_MAX,
                           len);
        return;
    }
    if (!same_origin(req, app)) {
        dw_http_resp_error(resp, 403, "forbidden",
                           "cross-origin sign-in refused: Origin %s is neither this server nor "
                           "server.external_url",
                           dw_http_req_header(req, "Origin"));
        return;
    }
    struct credentials c = {0};
    if (!read_credentials(req, resp, &c)) {
        wipe(req, &c);
        return;
    }
    char client[64];
    dw_http_req_client(req, client);
    struct dw_auth_login out;
    char *err = NULL;
    int rc = dw_auth_login(app->auth, c.user, c.password, c.password_len, client, &out, &err);
    char user[DW_AUTH_NAME_MAX + 1];
    dw_strlcpy(user, c.user, sizeof user);
    wipe(req, &c);
    if (rc != 0) {
        dw_log_kv(DW_LOG_INFO, "http", "sign-in refused", "user", user, "client", client, "reason",
                  err, NULL);
        login_refused(resp, rc, &out, err);
        free(err);
        return;
    }
    dw_log_kv(DW_LOG_INFO, "http", "signed in", "user", user, "client", client, NULL);
    set_cookie(req, resp, app, out.session_id,
               (out.session.expires_ms - out.session.created_ms) / 1000);
    explicit_bzero(out.session_id, sizeof out.session_id);
    dw_http_resp_success(resp, session_json(&out.session));
}

/* ---- POST /api/auth/logout ---- */

void dw_api_auth_logout(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app)
{
    dw_http_resp_header(resp, "Cache-Control", "no-store");
    const char *cookie = session_cookie(req);
    struct dw_auth_session s;
    if (!cookie || !app->auth || dw_auth_session_check(app->auth, cookie, &s, NULL) != 0) {
        clear_cookie(req, resp, app); /* nothing live to end: just forget the cookie */
        dw_http_resp_success(resp, json_pack("{s:b}", "signed_out", false));
        return;
    }
    if (!dw_auth_csrf_ok(&s, dw_http_req_header(req, DW_AUTH_CSRF_HEADER))) {
        dw_http_resp_error(resp, 403, "csrf",
                           "missing or wrong X-CSRF-Token header: signing out needs the "
                           "session's CSRF token (csrf_token of GET /api/auth/me)");
        return;
    }
    char *err = NULL;
    if (dw_auth_logout(app->auth, cookie, &err) != 0) {
        dw_http_resp_error(resp, 503, "unavailable", "cannot end the session: %s",
                           err ? err : "store failure");
        free(err);
        return;
    }
    dw_log_kv(DW_LOG_INFO, "http", "signed out", "user", s.user, NULL);
    clear_cookie(req, resp, app);
    dw_http_resp_success(resp, json_pack("{s:b,s:s}", "signed_out", true, "user", s.user));
}

/* ---- GET /api/auth/me ---- */

void dw_api_auth_me(struct dw_http_request *req, struct dw_http_response *resp,
                    const struct dw_http_app *app)
{
    dw_http_resp_header(resp, "Cache-Control", "no-store");
    const char *cookie = session_cookie(req);
    /* The server has authenticated the request: by token when one was sent. */
    if (dw_http_req_header(req, "Authorization") || !cookie || !app->auth) {
        dw_http_resp_success(resp,
                             json_pack("{s:s,s:s,s:s}", "user", dw_http_req_principal(req), "role",
                                       dw_role_name(dw_http_req_role(req)), "via", "token"));
        return;
    }
    struct dw_auth_session s;
    char *why = NULL;
    int rc = dw_auth_session_check(app->auth, cookie, &s, &why);
    if (rc != 0) {
        dw_http_resp_error(resp, rc == -1 ? 503 : 401, rc == -1 ? "unavailable" : "unauthorized",
                           "%s", why ? why : "no session");
        if (rc != -1)
            clear_cookie(req, resp, app);
    } else {
        dw_http_resp_success(resp, session_json(&s));
    }
    free(why);
}
