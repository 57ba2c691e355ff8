/*
 * probe.c - DESIGN: what every probe kind shares: dispatch by kind, the
 * failure and finish helpers, the CURLcode -> reason mapping, device
 * profiles and headers, the curl options every probe sets, and TLS facts
 * (certificate expiry from CURLOPT_CERTINFO, the TLS version from curl's
 * verbose text, since libcurl 7.88 has no getinfo for it).
 *
 * A run's state (run->state) starts with struct dw_probe_op so abort can
 * cancel any kind. The first failure recorded wins: a later symptom of the
 * same problem never overwrites the cause. A run never calls done from
 * inside dw_probe_start; a failure found while starting is reported from a
 * zero-delay loop timer.
 *
 * Threads: everything runs on the loop thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "collect/probe.h"

#define TIMEOUT_MARGIN_MS 10 /* curl's own timeout fires before the run's deadline */
#define DEFAULT_USER_AGENT "dojowatch-probe/" DW_VERSION

/* ---- dispatch ---- */

struct soon_state {
    struct dw_probe_op op;
    struct dw_loop_watch *timer;
};

static void soon_abort(struct dw_probe_run *run)
{
    struct soon_state *s = run->state;
    dw_loop_unwatch(run->loop, s->timer);
    free(s);
    run->state = NULL;
}

static void soon_fire(void *arg, int fd, short revents)
{
    struct dw_probe_run *run = arg;
    free(run->state);
    run->state = NULL;
    dw_probe_finish(run);
}

/* Records a failure found while starting and ends the run from the loop. */
static void fail_soon(struct dw_probe_run *run, const char *reason, const char *detail)
{
    dw_probe_fail(run, reason, "%s", detail);
    struct soon_state *s = dw_calloc(1, sizeof *s);
    s->op.abort = soon_abort;
    run->state = s;
    s->timer = dw_loop_timer(run->loop, dw_mono_ms(), soon_fire, run);
}

void dw_probe_start(struct dw_probe_run *run)
{
    run->success = false;
    run->reason[0] = run->detail[0] = '\0';
    run->state = NULL;
    switch (run->cfg->kind) {
    case DW_PROBE_HTTP:
    case DW_PROBE_CDN: dw_probe_http_start(run); break;
    case DW_PROBE_JOURNEY: dw_probe_journey_start(run); break;
    case DW_PROBE_TCP: dw_probe_tcp_start(run); break;
    case DW_PROBE_WEBSOCKET: dw_probe_ws_start(run); break;
    case DW_PROBE_DNS: dw_probe_dns_start(run); break;
    default: fail_soon(run, "protocol_error", "unknown probe kind"); break;
    }
    if (!run->state && !run->reason[0])
        fail_soon(run, "protocol_error", "the probe could not start");
    else if (!run->state)
        fail_soon(run, run->reason, run->detail);
}

void dw_probe_abort(struct dw_probe_run *run)
{
    struct dw_probe_op *op = run->state;
    if (op)
        op->abort(run);
    run->state = NULL;
}

/* ---- outcome ---- */

void dw_probe_fail(struct dw_probe_run *run, const char *reason, const char *fmt, ...)
{
    if (run->reason[0])
        return;
    dw_strlcpy(run->reason, reason, sizeof run->reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->detail, sizeof run->detail, fmt, ap);
    va_end(ap);
}

void dw_probe_finish(struct dw_probe_run *run)
{
    run->success = run->reason[0] == '\0';
    if (run->success)
        run->detail[0] = '\0';
    run->done(run);
}

int64_t dw_probe_remaining_ms(const struct dw_probe_run *run)
{
    int64_t left = run->deadline_mono_ms - dw_mono_ms();
    return left > 1 ? left : 1;
}

const char *dw_probe_curl_reason(CURLcode rc, long os_errno)
{
    switch (rc) {
    case CURLE_OK: return "";
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "dns_failure";
    case CURLE_COULDNT_CONNECT:
        return os_errno == ECONNREFUSED ? "connection_refused" : "connection_failed";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED: return "tls_error";
    case CURLE_TOO_MANY_REDIRECTS: return "redirect_loop";
    case CURLE_FILESIZE_EXCEEDED: return "body_too_large";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: return "connection_failed";
    default: return "protocol_error";
    }
}

void dw_probe_fail_curl(struct dw_probe_run *run, CURL *e, CURLcode rc, const char *errbuf,
                        const char *what)
{
    long os_errno = 0;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
    const char *msg = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
    dw_probe_fail(run, dw_probe_curl_reason(rc, os_errno), "%s: %s", what, msg);
}

/* ---- easy handles: reused per thread ---- */

/* A probe a minute per target adds up: 10,000 probes a minute would make and
 * free 10,000 handles (with their buffers) a minute. Finished handles go to a
 * small per-thread pool and come back reset (curl_easy_reset keeps the
 * allocations, forgets every option). */
#define EASY_POOL_MAX 256
static _Thread_local CURL *easy_pool[EASY_POOL_MAX];
static _Thread_local size_t easy_pooled;

CURL *dw_probe_easy_new(void)
{
    if (easy_pooled) {
        CURL *e = easy_pool[--easy_pooled];
        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

void dw_probe_easy_done(CURL *e)
{
    if (!e)
        return;
    /* curl_easy_reset does not free collected certificate info: such a
     * handle (an https probe) is not reused. */
    struct curl_certinfo *ci = NULL;
    curl_easy_getinfo(e, CURLINFO_CERTINFO, &ci);
    if (easy_pooled < EASY_POOL_MAX && (!ci || ci->num_of_certs == 0))
        easy_pool[easy_pooled++] = e;
    else
        curl_easy_cleanup(e);
}

void dw_probe_easy_drain(void)
{
    while (easy_pooled)
        curl_easy_cleanup(easy_pool[--easy_pooled]);
}

/* ---- curl options every probe sets ---- */

void dw_probe_curl_common(struct dw_probe_run *run, CURL *e, int ip_protocol)
{
    int64_t left = dw_probe_remaining_ms(run) - TIMEOUT_MARGIN_MS;
    if (left < 1)
        left = 1;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
    /* Each run measures a real resolve and connect, like blackbox_exporter. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* direct: no proxy from the environment */
    long ipr = ip_protocol == DW_PROBE_IP4   ? CURL_IPRESOLVE_V4
               : ip_protocol == DW_PROBE_IP6 ? CURL_IPRESOLVE_V6
                                             : CURL_IPRESOLVE_WHATEVER;
    curl_easy_setopt(e, CURLOPT_IPRESOLVE, ipr);
}

void dw_probe_curl_tls(CURL *e, bool insecure, const char *ca_file)
{
    if (insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (ca_file && *ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
}

static bool has_header(const struct dw_schema_pair *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(h[i].key, name) == 0)
            return true;
    return false;
}

static struct curl_slist *append_header(struct curl_slist *list, const char *name,
                                        const char *value)
{
    /* "Name;" sends an empty header; "Name:" would remove it. */
    char *line = value && *value ? dw_asprintf("%s: %s", name, value) : dw_asprintf("%s;", name);
    struct curl_slist *l = curl_slist_append(list, line);
    free(line);
    if (!l)
        dw_oom(0);
    return l;
}

struct curl_slist *dw_probe_headers(const struct dw_probe_run *run, struct curl_slist *list,
                                    const struct dw_schema_pair *own, size_t nown)
{
    const struct dw_probe_device *d = run->device;
    const char *ua = d && d->user_agent ? d->user_agent : DEFAULT_USER_AGENT;
    if (!has_header(own, nown, "User-Agent"))
        list = append_header(list, "User-Agent", ua);
    for (size_t i = 0; d && i < d->nheaders; i++)
        if (!has_header(own, nown, d->headers[i].key))
            list = append_header(list, d->headers[i].key, d->headers[i].value);
    for (size_t i = 0; i < nown; i++)
        list = append_header(list, own[i].key, own[i].value);
    return list;
}

/* ---- TLS facts ---- */

void dw_probe_tls_label(const char *name, char *out, size_t cap)
{
    if (dw_str_has_prefix(name, "TLSv"))
        snprintf(out, cap, "TLS %s", name + 4);
    else
        dw_strlcpy(out, name, cap);
}

/* curl's verbose text says "SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384". */
static int tls_debug(CURL *e, curl_infotype type, char *data, size_t size, void *arg)
{
    static const char key[] = "SSL connection using ";
    struct dw_probe_tls *tls = arg;
    if (type != CURLINFO_TEXT || size <= sizeof key - 1 || memcmp(data, key, sizeof key - 1) != 0)
        return 0;
    const char *v = data + sizeof key - 1;
    size_t n = 0;
    while (n < size - (sizeof key - 1) && v[n] != ' ' && v[n] != '\n' && n < 15)
        n++;
    char name[16];
    memcpy(name, v, n);
    name[n] = '\0';
    dw_probe_tls_label(name, tls->version, sizeof tls->version);
    return 0;
}

void dw_probe_tls_setup(CURL *e, struct dw_probe_tls *tls)
{
    *tls = (struct dw_probe_tls){0};
    curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, tls_debug);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, tls);
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
}

static int month_index(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (strncmp(s, months + 3 * i, 3) == 0)
            return i;
    return -1;
}

double dw_probe_parse_cert_time(const char *s)
{
    struct tm tm = {0};
    char mon[4] = "";
    int day, year, h, m, sec, n = 0;
    while (*s == ' ')
        s++;
    if (sscanf(s, "%3s %d %d:%d:%d %d GMT%n", mon, &day, &h, &m, &sec, &year, &n) == 6 && n > 0) {
        tm.tm_mon = month_index(mon);
        if (tm.tm_mon < 0)
            return -1;
    } else if (sscanf(s, "%d-%d-%d %d:%d:%d GMT%n", &year, &tm.tm_mon, &day, &h, &m, &sec, &n) ==
                   6 &&
               n > 0) {
        tm.tm_mon -= 1;
    } else {
        return -1;
    }
    if (day < 1 || day > 31 || h > 23 || m > 59 || sec > 60 || tm.tm_mon > 11 || year < 1970)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mday = day;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    return (double)timegm(&tm);
}

void dw_probe_tls_collect(CURL *e, struct dw_probe_tls *tls)
{
    struct curl_certinfo *ci = NULL;
    if (curl_easy_getinfo(e, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci)
        return;
    for (int i = 0; i < ci->num_of_certs; i++) {
        for (struct curl_slist *s = ci->certinfo[i]; s; s = s->next) {
            if (!dw_str_has_prefix(s->data, "Expire date:"))
                continue;
            double t = dw_probe_parse_cert_time(s->data + strlen("Expire date:"));
            if (t > 0 && (tls->earliest_expiry == 0 || t < tls->earliest_expiry))
                tls->earliest_expiry = t;
        }
    }
}

void dw_probe_tls_report(struct dw_probe_run *run, const struct dw_probe_tls *tls, int64_t min_ms)
{
    if (tls->version[0])
        dw_csamples_add(&run->samples, "probe_tls_version_info", 1, "version", tls->version, NULL);
    if (tls->earliest_expiry <= 0)
        return;
    dw_csamples_add(&run->samples, "probe_ssl_earliest_cert_expiry", tls->earliest_expiry, NULL);
    /* Real time, not the test clock: certificates expire in the real world. */
    double left_s = tls->earliest_expiry - (double)time(NULL);
    if (min_ms > 0 && left_s * 1000.0 < (double)min_ms) {
        char when[32], min[32];
        dw_format_rfc3339((int64_t)tls->earliest_expiry * 1000, when, sizeof when);
        dw_format_duration(min_ms, min, sizeof min);
        dw_probe_fail(run, "cert_expiring", "a certificate expires at %s (%.1f days), within %s",
                      when, left_s / 86400.0, min);
    }
}
