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
 * API's errors. The token is in a header only, never in a message.
 *
 * Threads: one (curl_global_init is not thread-safe).
 */
#include <curl/curl.h>
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
