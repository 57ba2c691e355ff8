/*
 * console.c - the web console's page shell: GET /, /console and the
 * console's client-side routes (/console/{view}, /console/{view}/{id}).
 *
 * DESIGN
 * The console is a script (web/src/console.js, bundled by esbuild and
 * embedded under a hashed name, assets.c) that draws every view in the
 * browser from the JSON APIs. This file only writes the small HTML page it
 * runs in: the hashed script and stylesheet (dw_http_asset_url), a
 * <noscript> note, and either the sign-in form or an empty frame for the
 * views. Nothing inline: no <script> or <style> elements and no style
 * attributes, so the Content-Security-Policy of
 * dw_http_resp_console_headers (script-src 'self'; style-src 'self';
 * frame-ancestors 'none') holds without exceptions.
 *
 * The route is open (DW_ROLE_NONE) because a signed-out visitor must get the
 * sign-in form. The handler checks the dw_session cookie itself: with a live
 * session the page carries the user, the role and the session's CSRF token
 * as data attributes, so the script draws the first view without asking
 * GET /api/auth/me first (a round trip less before the first paint) and
 * hides the actions the role may not take (the API refuses them anyway).
 * The page is per session, so it is never cached (no-store).
 *
 * Without web assets (-Dweb_assets=false) the page says so with a 503.
 *
 * Threads: libmicrohttpd's polling threads; the auth module is thread-safe.
 */
#include <string.h>

#include "auth/auth.h"
#include "http_internal.h"

/* Escaped text into b; NULL is empty. */
static void text(struct dw_buf *b, const char *s)
{
    dw_buf_xml_escape(b, s ? s : "");
}

/* The live session of the request's cookie, if any: true with *s filled. */
static bool live_session(struct dw_http_request *req, const struct dw_http_app *app,
                         struct dw_auth_session *s)
{
    const char *cookie = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, DW_AUTH_COOKIE);
    if (!app->auth || !cookie || !*cookie)
        return false;
    return dw_auth_session_check(app->auth, cookie, s, NULL) == 0;
}

static void head(struct dw_buf *b, const char *service, const char *css, const char *js,
                 const char *icon)
{
    dw_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<meta name=\"color-scheme\" content=\"light dark\">"
                   "<meta name=\"referrer\" content=\"same-origin\"><title>");
    text(b, service);
    dw_buf_puts(b, " · dojowatch</title>");
    if (icon) {
        dw_buf_puts(b, "<link rel=\"icon\" type=\"image/svg+xml\" href=\"");
        text(b, icon);
        dw_buf_puts(b, "\">");
    }
    dw_buf_puts(b, "<link rel=\"stylesheet\" href=\"");
    text(b, css);
    dw_buf_puts(b, "\"><script src=\"");
    text(b, js);
    dw_buf_puts(b, "\" defer></script></head>\n");
}

static void noscript(struct dw_buf *b)
{
    dw_buf_puts(b, "<noscript><p class=\"dw-noscript\">The dojowatch console needs JavaScript. "
                   "Everything it shows also comes from the HTTP API "
                   "(<code>/api/plan</code>, <code>/api/dashboards</code>, "
                   "<code>/api/v2/alerts</code>, <code>/api/incidents</code>, "
                   "<code>/api/oncall/now</code>; see docs/API.md) and the "
                   "<code>dojowatch</code> command; the public status page is "
                   "<a href=\"/status\">/status</a>.</p></noscript>\n");
}

static void signin_form(struct dw_buf *b, const char *service)
{
    dw_buf_puts(b, "<main class=\"dw-signin\" id=\"dw-main\"><form id=\"dw-signin\" "
                   "class=\"dw-card\" method=\"post\" action=\"/api/auth/login\" "
                   "autocomplete=\"on\"><h1><span class=\"dw-logo\" aria-hidden=\"true\">"
                   "</span>dojowatch</h1><p class=\"dw-muted\">Sign in to watch ");
    text(b, service);
    dw_buf_puts(b, ".</p><label for=\"dw-username\">User name</label>"
                   "<input id=\"dw-username\" name=\"username\" autocomplete=\"username\" "
                   "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"64\" required "
                   "autofocus>"
                   "<label for=\"dw-password\">Password</label>"
                   "<input id=\"dw-password\" name=\"password\" type=\"password\" "
                   "autocomplete=\"current-password\" maxlength=\"1024\" required>"
                   "<button type=\"submit\" class=\"dw-primary\">Sign in</button>"
                   "<p id=\"dw-signin-error\" class=\"dw-error\" role=\"alert\" hidden></p>"
                   "</form></main>\n");
}

/* GET /, /console, /console/{view}, /console/{view}/{id}. */
void dw_api_console_shell(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app)
{
    dw_http_resp_console_headers(resp);
    dw_http_resp_header(resp, "Cache-Control", "no-store");
    const char *js = dw_http_asset_url("console.js"), *css = dw_http_asset_url("console.css");
    if (!js || !css) {
        static const char none[] =
            "<!doctype html><title>dojowatch</title><p>This dojowatch was built without its web "
            "assets (-Dweb_assets=false), so it has no console; the HTTP API works "
            "(docs/API.md).</p>\n";
        dw_http_resp_body(resp, 503, "text/html; charset=utf-8", dw_strdup(none), sizeof none - 1);
        return;
    }
    struct dw_config *cfg = app->config_get ? app->config_get(app->ctx) : NULL;
    const char *service = cfg ? dw_config_service_name(cfg) : NULL;
    if (!service || !*service)
        service = "dojowatch";
    struct dw_auth_session s = {0};
    bool in = live_session(req, app, &s);
    struct dw_buf b;
    dw_buf_init(&b, 0); /* our own text and escaped names: bounded by the configuration */
    head(&b, service, css, js, dw_http_asset_url("favicon.svg"));
    /* data-now: the server's clock (the test clock in tests) for relative times */
    dw_buf_printf(&b, "<body><div id=\"dw-app\" data-now=\"%lld\" data-service=\"",
                  (long long)dw_now_ms());
    text(&b, service);
    if (in) {
        dw_buf_puts(&b, "\" data-user=\"");
        text(&b, s.user);
        dw_buf_printf(&b, "\" data-role=\"%s\" data-csrf=\"", dw_role_name((enum dw_role)s.role));
        text(&b, s.csrf);
        dw_buf_puts(&b, "\"><main id=\"dw-main\" class=\"dw-main\"><p class=\"dw-muted\">"
                        "Loading the console…</p></main>\n");
    } else {
        dw_buf_puts(&b, "\" data-signed-out=\"1\">");
        signin_form(&b, service);
    }
    noscript(&b);
    dw_buf_puts(&b, "</div></body></html>\n");
    explicit_bzero(s.csrf, sizeof s.csrf);
    dw_config_unref(&cfg);
    size_t len = b.len;
    dw_http_resp_body(resp, 200, "text/html; charset=utf-8", dw_buf_steal(&b), len);
}
