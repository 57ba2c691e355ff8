/*
 * scrape.c - one HTTP scrape of one target on the collector's loop.
 *
 * DESIGN
 * A scrape is a libcurl easy handle added to the loop: the body is read into
 * a buffer capped at the job's body_size_limit (the write callback refuses
 * more, which ends the transfer at once), the whole transfer is bounded by
 * scrape_timeout, and on completion the callback gets the body and its
 * Content-Type. Parsing and storing happen in the scheduler (collect.c), so
 * the same path serves the built-in host collector. Headers follow
 * Prometheus: Accept prefers OpenMetrics, X-Prometheus-Scrape-Timeout-Seconds
 * tells the target how long it has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/scrape.h"

#define ACCEPT_HEADER                                                                              \
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"             \
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

struct scrape_run {
    CURL *easy;
    struct curl_slist *headers;
    struct dw_buf body;
    bool too_big;
    scrape_done_fn done;
    void *arg;
    char *secret; /* password or token read from a file, wiped on free */
    int64_t start_ns;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct scrape_run *r = arg;
    if (dw_buf_append(&r->body, p, size * n) < 0) {
        r->too_big = true;
        return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    }
    return size * n;
}

/* Reads a one-line secret file (password_file, credentials_file). */
static char *read_secret(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[4096];
    char *s = fgets(line, sizeof line, f) ? dw_strdup(line) : dw_strdup("");
    fclose(f);
    s[strcspn(s, "\r\n")] = '\0';
    return s;
}

static void free_run(struct scrape_run *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    dw_buf_release(&r->body);
    if (r->secret) {
        explicit_bzero(r->secret, strlen(r->secret));
        free(r->secret);
    }
    free(r);
}

static void set_auth(struct scrape_run *r, const struct scrape_job *j)
{
    if (j->basic_auth.username) {
        const char *pw = j->basic_auth.password ? j->basic_auth.password : "";
        if (j->basic_auth.password_file && (r->secret = read_secret(j->basic_auth.password_file)))
            pw = r->secret;
        curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(r->easy, CURLOPT_USERNAME, j->basic_auth.username);
        curl_easy_setopt(r->easy, CURLOPT_PASSWORD, pw);
        return;
    }
    const char *type = j->authorization.type ? j->authorization.type : "Bearer";
    const char *cred =
        j->authorization.credentials ? j->authorization.credentials : j->bearer_token;
    const char *file = j->authorization.credentials_file ? j->authorization.credentials_file
                                                         : j->bearer_token_file;
    if (file && (r->secret = read_secret(file)))
        cred = r->secret;
    if (!cred)
        return;
    char *h = dw_asprintf("Authorization: %s %s", type, cred);
    r->headers = curl_slist_append(r->headers, h);
    explicit_bzero(h, strlen(h));
    free(h);
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    struct scrape_run *r = arg;
    struct scrape_result res = {.ok = false};
    res.duration_s = (double)(dw_mono_ns() - r->start_ns) / 1e9;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    char *ctype = NULL;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype);
    if (r->too_big)
        snprintf(res.error, sizeof res.error, "body size limit exceeded (%zu bytes)", r->body.max);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(res.error, sizeof res.error, "context deadline exceeded (scrape timeout)");
    else if (rc != CURLE_OK)
        snprintf(res.error, sizeof res.error, "%s", curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(res.error, sizeof res.error, "server returned HTTP status %ld", status);
    else
        res.ok = true;
    res.content_type = ctype;
    res.body = r->body.data ? r->body.data : "";
    res.len = r->body.len;
    r->done(r->arg, &res);
    free_run(r);
}

struct scrape_run *dw_scrape_start(struct dw_loop *loop, const struct scrape_target *t,
                                   scrape_done_fn done, void *arg)
{
    const struct scrape_job *j = t->job;
    struct scrape_run *r = dw_calloc(1, sizeof *r);
    dw_buf_init(&r->body, j->body_size_limit ? j->body_size_limit : 64u << 20);
    r->done = done;
    r->arg = arg;
    r->easy = curl_easy_init();
    if (!r->easy) {
        free_run(r);
        return NULL;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "dojowatch/" DW_VERSION);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (j->tls.insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (j->tls.ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, j->tls.ca_file);
    r->headers = curl_slist_append(r->headers, ACCEPT_HEADER);
    char h[96];
    snprintf(h, sizeof h, "X-Prometheus-Scrape-Timeout-Seconds: %g", (double)t->timeout_ms / 1e3);
    r->headers = curl_slist_append(r->headers, h);
    set_auth(r, j);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    r->start_ns = dw_mono_ns();
    if (dw_loop_add_curl(loop, e, on_done, r) < 0) {
        free_run(r);
        return NULL;
    }
    return r;
}

void dw_scrape_abort(struct dw_loop *loop, struct scrape_run **rp)
{
    struct scrape_run *r = rp ? *rp : NULL;
    if (!r)
        return;
    dw_loop_remove_curl(loop, r->easy);
    free_run(r);
    *rp = NULL;
}
