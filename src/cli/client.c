/*
 * client.c - how the thin-client commands (`dojowatch query`, `query-range`,
 * `alerts`) talk to a running daemon.
 *
 * DESIGN
 * The server comes from --server, else $DOJOWATCH_SERVER, else
 * DW_CLI_DEFAULT_SERVER; the bearer token from --token, else
 * $DOJOWATCH_TOKEN. Each request is one libcurl easy handle, with the answer
 * kept in a bounded buffer the caller sizes. Only "could not reach the
 * server" is printed here ("dojowatch CMD: cannot reach URL: reason"); an
 * HTTP error answer goes back to the command, which knows the shape of its
 * API's errors; dw_cli_request_ok() and dw_cli_call() are for the commands
 * of dojowatch's own API, whose answers are the {"status","data"} envelope
 * and whose errors {"status":"error","error"}. The token is in a header
 * only, never in a message.
 *
 * Threads: one (curl_global_init is not thread-safe).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "http/http.h"

void dw_cli_client_init(struct dw_cli_client *c, const char *cmd)
{
    *c = (struct dw_cli_client){.cmd = cmd};
    c->server = getenv("DOJOWATCH_SERVER");
    c->token = getenv("DOJOWATCH_TOKEN");
}

int dw_cli_client_start(struct dw_cli_client *c)
{
    if (!c->server || !*c->server)
        c->server = DW_CLI_DEFAULT_SERVER;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "dojowatch %s: cannot initialise libcurl\n", c->cmd);
        return 1;
    }
    return 0;
}

void dw_cli_client_finish(void)
{
    curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    return dw_buf_append(ctx, data, size * n) == 0 ? size * n : 0;
}

int dw_cli_request(const struct dw_cli_client *c, const char *method, const char *path,
                   const char *content_type, const char *body, long *status, struct dw_buf *out)
{
    CURL *curl = curl_easy_init();
    if (!curl) {
        fprintf(stderr, "dojowatch %s: cannot initialise libcurl\n", c->cmd);
        return -1;
    }
    size_t n = strlen(c->server);
    while (n && c->server[n - 1] == '/')
        n--;
    char *url = dw_asprintf("%.*s%s", (int)n, c->server, path);
    struct curl_slist *headers = NULL;
    char *auth = c->token && *c->token ? dw_asprintf("Authorization: Bearer %s", c->token) : NULL;
    char *ctype = body && content_type ? dw_asprintf("Content-Type: %s", content_type) : NULL;
    if (auth)
        headers = curl_slist_append(headers, auth);
    if (ctype)
        headers = curl_slist_append(headers, ctype);
    if (!body && strcmp(method, "POST") == 0)
        body = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body); /* makes it a POST */
    if (strcmp(method, body ? "POST" : "GET") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    if (c->connect_timeout_ms > 0)
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    if (c->timeout_ms > 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "dojowatch/" DW_VERSION);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    else
        fprintf(stderr, "dojowatch %s: cannot reach %s: %s\n", c->cmd, url, curl_easy_strerror(rc));
    curl_slist_free_all(headers);
    free(ctype);
    free(auth); /* holds the token: never printed */
    free(url);
    curl_easy_cleanup(curl);
    return rc == CURLE_OK ? 0 : -1;
}

/* The reason of an error answer: the {"status":"error","error"} envelope, a
 * JSON string or the body as it is. */
static void print_error(const struct dw_cli_client *c, long status, const struct dw_buf *body)
{
    json_error_t je;
    json_t *doc = body->len ? json_loadb(body->data, body->len, JSON_DECODE_ANY, &je) : NULL;
    const char *msg = json_is_string(doc) ? json_string_value(doc)
                                          : json_string_value(json_object_get(doc, "error"));
    fprintf(stderr, "dojowatch %s: HTTP %ld: %s\n", c->cmd, status,
            msg         ? msg
            : body->len ? body->data
                        : "(no reason given)");
    json_decref(doc);
}

int dw_cli_request_ok(const struct dw_cli_client *c, const char *method, const char *path,
                      const char *content_type, const char *body, struct dw_buf *out)
{
    long status = 0;
    if (dw_cli_request(c, method, path, content_type, body, &status, out) != 0)
        return 1;
    if (status >= 200 && status < 300)
        return 0;
    print_error(c, status, out);
    return 1;
}

int dw_cli_call(const struct dw_cli_client *c, const char *method, const char *path,
                const char *content_type, const char *body, json_t **data)
{
    struct dw_buf out;
    dw_buf_init(&out, DW_CLI_MAX_RESPONSE);
    *data = NULL;
    int rc = dw_cli_request_ok(c, method, path, content_type, body, &out);
    if (rc == 0) {
        json_error_t je;
        json_t *doc = out.len ? json_loadb(out.data, out.len, 0, &je) : NULL;
        *data = json_incref(json_object_get(doc, "data"));
        json_decref(doc);
        if (!*data) {
            fprintf(stderr, "dojowatch %s: the server's answer has no data\n", c->cmd);
            rc = 1;
        }
    }
    dw_buf_release(&out);
    return rc;
}

void dw_cli_add_param(struct dw_buf *path, const char *name, const char *value)
{
    dw_buf_printf(path, "%s%s=", strchr(path->data, '?') ? "&" : "?", name);
    dw_buf_url_encode(path, value);
}

void dw_cli_add_time_param(struct dw_buf *path, const char *name, int64_t ms)
{
    char t[40];
    dw_format_rfc3339(ms, t, sizeof t);
    dw_cli_add_param(path, name, t);
}

void dw_cli_print_json(json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
    printf("%s\n", s ? s : "null");
    free(s);
}

const char *dw_cli_str(json_t *obj, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v && *v ? v : dflt;
}

int dw_cli_parse_time(const char *s, int64_t *ms)
{
    if (strncmp(s, "now", 3) == 0) {
        int64_t back = 0;
        if (s[3] && (s[3] != '-' || dw_parse_duration(s + 4, &back) < 0))
            return -1;
        *ms = dw_now_ms() - back;
        return 0;
    }
    return dw_http_parse_time(s, ms);
}
