/*
 * probe_net.c - DESIGN: the tcp, websocket and dns probe kinds.
 *
 * tcp and websocket connect with a libcurl easy handle in CONNECT_ONLY mode,
 * so name resolution, happy eyeballs and TLS (tcp tls, wss://) are curl's,
 * then talk over the connection with non-blocking curl_easy_send/recv.
 * Such a handle cannot go through the loop's shared multi: the loop removes
 * a finished handle from it, and removing a connect-only handle closes its
 * connection. So each connection (struct conn) drives a private multi with
 * curl's socket and timer callbacks mapped onto dw_loop_watch_fd and
 * dw_loop_timer; once connected, the private multi is left alone and the
 * socket is watched directly. Every watch carries the run's deadline, so a
 * silent peer ends the run on time.
 *
 * struct conn calls its owner back: connected(rc) once, then progress() after
 * every wake-up (bytes were sent or received, the peer closed, or an error),
 * and expired() when the deadline passes. progress() returns nonzero when
 * the owner closed the connection, which then must not be touched.
 *
 * websocket: the RFC 6455 handshake and frames come from probe_wire.h.
 * Without hold: handshake, then ping_count pings one after another, each
 * waiting for its pong. With hold: the connection is kept for the hold
 * window, pinging every ping_interval; a drop (close frame, EOF, error) is
 * counted and followed by a reconnect after a short pause; the run reports
 * drops, reconnects and the share of the window it was connected.
 *
 * dns: one non-blocking connected UDP socket; the query is sent again when
 * a try's share of the timeout passes without an answer (three tries).
 *
 * Threads: the loop thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collect/probe.h"
#include "collect/probe_wire.h"

#define MAX_SOCKS 4 /* sockets curl may open while connecting (happy eyeballs) */
#define RECV_CHUNK 16384
#define TCP_MAX_READ 65536   /* bytes of a tcp answer matched against expect */
#define WS_MAX_IN (1u << 20) /* bytes buffered from a WebSocket server */
#define WS_MAX_FRAME 65536
#define WS_RETRY_MS 1000 /* pause before reconnecting a dropped held connection */
#define DNS_TRIES 3
#define DNS_MIN_TRY_MS 200

static double mono_s(void)
{
    return (double)dw_mono_ns() / 1e9;
}

/* ---- a connect-only curl connection on the loop ---- */

struct conn;
struct conn_ops {
    void (*connected)(struct conn *c, CURLcode rc);
    int (*progress)(struct conn *c);
    void (*expired)(struct conn *c);
};

struct csock {
    curl_socket_t fd;
    int what; /* CURL_POLL_* */
    struct dw_loop_watch *w;
};

struct conn {
    struct dw_probe_run *run;
    const struct conn_ops *ops;
    void *owner;
    CURLM *multi;
    CURL *easy;
    bool driving; /* the private multi is still connecting */
    struct csock socks[MAX_SOCKS];
    size_t nsocks;
    struct dw_loop_watch *timer;
    curl_socket_t fd;
    struct dw_loop_watch *io;
    short io_events;
    struct dw_buf in, out;
    size_t max_in; /* bytes buffered before reading stops */
    bool eof;
    CURLcode err;
    bool tls_on;
    struct dw_probe_tls tls;
    char errbuf[CURL_ERROR_SIZE];
};

static void conn_stop_driving(struct conn *c)
{
    c->driving = false;
    for (size_t i = 0; i < c->nsocks; i++)
        dw_loop_unwatch(c->run->loop, c->socks[i].w);
    c->nsocks = 0;
    dw_loop_unwatch(c->run->loop, c->timer);
    c->timer = NULL;
}

static void conn_close(struct conn **cp)
{
    struct conn *c = *cp;
    if (!c)
        return;
    conn_stop_driving(c);
    dw_loop_unwatch(c->run->loop, c->io);
    if (c->easy) {
        curl_multi_remove_handle(c->multi, c->easy);
        curl_easy_cleanup(c->easy);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    dw_buf_release(&c->in);
    dw_buf_release(&c->out);
    free(c);
    *cp = NULL;
}

/* Reads what the private multi finished: the connect is done. */
static void conn_check_done(struct conn *c)
{
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode rc = m->data.result;
        conn_stop_driving(c);
        if (rc == CURLE_OK && curl_easy_getinfo(c->easy, CURLINFO_ACTIVESOCKET, &c->fd) != CURLE_OK)
            rc = CURLE_COULDNT_CONNECT;
        if (rc == CURLE_OK && c->tls_on)
            dw_probe_tls_collect(c->easy, &c->tls);
        c->ops->connected(c, rc);
        return; /* the owner may have closed c */
    }
}

static void conn_on_sock(void *arg, int fd, short revents);

static void csock_arm(struct conn *c, struct csock *s)
{
    if (s->w || !c->driving)
        return;
    short ev = (short)(((s->what & CURL_POLL_IN) ? POLLIN : 0) |
                       ((s->what & CURL_POLL_OUT) ? POLLOUT : 0));
    s->w = dw_loop_watch_fd(c->run->loop, s->fd, ev, c->run->deadline_mono_ms, conn_on_sock, c);
}

static struct csock *csock_find(struct conn *c, curl_socket_t fd)
{
    for (size_t i = 0; i < c->nsocks; i++)
        if (c->socks[i].fd == fd)
            return &c->socks[i];
    return NULL;
}

static int conn_sock_cb(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
    struct conn *c = arg;
    if (!c->driving)
        return 0;
    struct csock *s = csock_find(c, fd);
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            dw_loop_unwatch(c->run->loop, s->w);
            *s = c->socks[--c->nsocks];
        }
        return 0;
    }
    if (!s) {
        if (c->nsocks == MAX_SOCKS)
            return -1;
        s = &c->socks[c->nsocks++];
        *s = (struct csock){.fd = fd};
    }
    if (s->what != what) {
        dw_loop_unwatch(c->run->loop, s->w);
        s->w = NULL;
        s->what = what;
    }
    csock_arm(c, s);
    return 0;
}

static void conn_on_timer(void *arg, int fd, short revents)
{
    struct conn *c = arg;
    int running;
    c->timer = NULL;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    conn_check_done(c);
}

static int conn_timer_cb(CURLM *m, long timeout_ms, void *arg)
{
    struct conn *c = arg;
    if (!c->driving)
        return 0;
    dw_loop_unwatch(c->run->loop, c->timer);
    c->timer = NULL;
    if (timeout_ms >= 0)
        c->timer = dw_loop_timer(c->run->loop, dw_mono_ms() + timeout_ms, conn_on_timer, c);
    return 0;
}

static void conn_on_sock(void *arg, int fd, short revents)
{
    struct conn *c = arg;
    struct csock *s = csock_find(c, fd);
    if (s)
        s->w = NULL;
    if (revents == 0) {
        conn_stop_driving(c);
        c->ops->connected(c, CURLE_OPERATION_TIMEDOUT);
        return;
    }
    int ev = ((revents & (POLLIN | POLLHUP)) ? CURL_CSELECT_IN : 0) |
             ((revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
             ((revents & POLLERR) ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action(c->multi, fd, ev, &running);
    s = csock_find(c, fd);
    if (s)
        csock_arm(c, s);
    conn_check_done(c);
}

/* Starts connecting to url ("http://host:port/" or "https://..."); NULL when
 * curl cannot start (recorded on the run). */
static struct conn *conn_open(struct dw_probe_run *run, const char *url, bool tls_insecure,
                              const char *ca_file, const struct conn_ops *ops, void *owner)
{
    struct conn *c = dw_calloc(1, sizeof *c);
    *c = (struct conn){
        .run = run, .ops = ops, .owner = owner, .driving = true, .fd = -1, .max_in = WS_MAX_IN};
    dw_buf_init(&c->in, 0);
    dw_buf_init(&c->out, 0);
    c->multi = curl_multi_init();
    c->easy = curl_easy_init();
    if (!c->multi || !c->easy) {
        dw_probe_fail(run, "protocol_error", "curl could not make a handle");
        conn_close(&c);
        return NULL;
    }
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    dw_probe_curl_common(run, e, DW_PROBE_IP_ANY);
    /* Forbidding reuse would close the connection the moment the connect is done. */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 0L);
    dw_probe_curl_tls(e, tls_insecure, ca_file);
    c->tls_on = dw_str_has_prefix(url, "https://");
    if (c->tls_on)
        dw_probe_tls_setup(e, &c->tls);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, conn_sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, conn_timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        dw_probe_fail(run, "protocol_error", "curl refused the connection");
        conn_close(&c);
        return NULL;
    }
    return c;
}

/* Sends what is queued; -1 on a send error (c->err set). */
static int conn_flush(struct conn *c)
{
    while (c->out.len > 0) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(c->easy, c->out.data, c->out.len, &sent);
        if (rc == CURLE_AGAIN)
            return 0;
        if (rc != CURLE_OK) {
            c->err = rc;
            return -1;
        }
        memmove(c->out.data, c->out.data + sent, c->out.len - sent);
        c->out.len -= sent;
    }
    return 0;
}

/* Receives everything available (TLS may hold decrypted bytes the socket no
 * longer shows), up to max buffered bytes. */
static void conn_fill(struct conn *c, size_t max)
{
    char buf[RECV_CHUNK];
    while (!c->eof && !c->err && c->in.len < max) {
        size_t n = 0;
        CURLcode rc = curl_easy_recv(c->easy, buf, sizeof buf, &n);
        if (rc == CURLE_AGAIN)
            return;
        if (rc != CURLE_OK)
            c->err = rc;
        else if (n == 0)
            c->eof = true;
        else
            dw_buf_append(&c->in, buf, n);
    }
}

static void conn_on_io(void *arg, int fd, short revents);

static void conn_arm_io(struct conn *c)
{
    short ev = (short)(POLLIN | (c->out.len ? POLLOUT : 0));
    if (c->io && c->io_events == ev)
        return;
    dw_loop_unwatch(c->run->loop, c->io);
    c->io_events = ev;
    c->io = dw_loop_watch_fd(c->run->loop, c->fd, ev, c->run->deadline_mono_ms, conn_on_io, c);
}

/* Sends, receives, tells the owner, and waits again unless the owner closed. */
static void conn_pump(struct conn *c)
{
    conn_flush(c);
    conn_fill(c, c->max_in);
    if (c->ops->progress(c) != 0)
        return;
    if (!c->eof && !c->err)
        conn_arm_io(c);
}

static void conn_on_io(void *arg, int fd, short revents)
{
    struct conn *c = arg;
    c->io = NULL;
    if (revents == 0)
        c->ops->expired(c);
    else
        conn_pump(c);
}

static void conn_write(struct conn *c, const void *data, size_t n)
{
    dw_buf_append(&c->out, data, n);
    if (conn_flush(c) == 0 && c->out.len)
        conn_arm_io(c);
}

static void conn_timing_samples(struct dw_probe_run *run, CURL *e, const char *name)
{
    curl_off_t nl = 0, conn = 0;
    curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &nl);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &conn);
    dw_csamples_add(&run->samples, "probe_dns_lookup_time_seconds", (double)nl / 1e6, NULL);
    if (name)
        dw_csamples_add(&run->samples, name, conn > nl ? (double)(conn - nl) / 1e6 : 0, NULL);
}

/* ---- tcp ---- */

struct tcp_state {
    struct dw_probe_op op;
    struct conn *c;
};

static void tcp_free(struct dw_probe_run *run)
{
    struct tcp_state *st = run->state;
    conn_close(&st->c);
    free(st);
    run->state = NULL;
}

static void tcp_end(struct dw_probe_run *run)
{
    const struct dw_probe_tcp *t = &run->cfg->tcp;
    if (t->expect.code)
        dw_csamples_add(&run->samples, "probe_failed_due_to_regex",
                        strcmp(run->reason, "expect_mismatch") == 0, NULL);
    tcp_free(run);
    dw_probe_finish(run);
}

static void tcp_connected(struct conn *c, CURLcode rc)
{
    struct dw_probe_run *run = c->run;
    const struct dw_probe_tcp *t = &run->cfg->tcp;
    conn_timing_samples(run, c->easy, "probe_tcp_connect_duration_seconds");
    if (rc != CURLE_OK) {
        dw_probe_fail_curl(run, c->easy, rc, c->errbuf, run->cfg->target);
        tcp_end(run);
        return;
    }
    if (c->tls_on)
        dw_probe_tls_report(run, &c->tls, 0);
    if (t->send && *t->send)
        dw_buf_append(&c->out, t->send, strlen(t->send));
    conn_pump(c);
}

static int tcp_progress(struct conn *c)
{
    struct dw_probe_run *run = c->run;
    const struct dw_probe_tcp *t = &run->cfg->tcp;
    if (c->err) {
        dw_probe_fail_curl(run, c->easy, c->err, NULL, run->cfg->target);
    } else if (!t->expect.code) {
        if (c->out.len)
            return 0; /* still sending */
    } else {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->expect.code, NULL);
        int m = pcre2_match(t->expect.code, (PCRE2_SPTR)(c->in.data ? c->in.data : ""), c->in.len,
                            0, 0, md, NULL);
        pcre2_match_data_free(md);
        if (m < 0 && !c->eof && c->in.len < TCP_MAX_READ)
            return 0; /* wait for more */
        if (m < 0)
            dw_probe_fail(run, "expect_mismatch", "%s: no match for /%s/ in %zu bytes%s",
                          run->cfg->target, t->expect.src, c->in.len,
                          c->eof ? " before the server closed" : "");
    }
    tcp_end(run);
    return 1;
}

static void tcp_expired(struct conn *c)
{
    struct dw_probe_run *run = c->run;
    const struct dw_probe_tcp *t = &run->cfg->tcp;
    if (c->in.len && t->expect.code)
        dw_probe_fail(run, "expect_mismatch",
                      "%s: no match for /%s/ in %zu bytes before the timeout", run->cfg->target,
                      t->expect.src, c->in.len);
    else
        dw_probe_fail(run, "timeout", "%s: no answer within %lld ms", run->cfg->target,
                      (long long)run->cfg->timeout_ms);
    tcp_end(run);
}

static const struct conn_ops tcp_ops = {tcp_connected, tcp_progress, tcp_expired};

static void tcp_abort(struct dw_probe_run *run)
{
    tcp_free(run);
}

void dw_probe_tcp_start(struct dw_probe_run *run)
{
    const struct dw_probe_tcp *t = &run->cfg->tcp;
    struct tcp_state *st = dw_calloc(1, sizeof *st);
    st->op.abort = tcp_abort;
    char *url = dw_asprintf("%s://%s/", t->tls ? "https" : "http", run->cfg->target);
    st->c = conn_open(run, url, t->tls_insecure, t->ca_file, &tcp_ops, st);
    free(url);
    if (!st->c) {
        free(st);
        return;
    }
    st->c->max_in = TCP_MAX_READ;
    /* A raw TLS service: no ALPN offer of http/1.1 (set before curl starts the handshake). */
    curl_easy_setopt(st->c->easy, CURLOPT_SSL_ENABLE_ALPN, 0L);
    run->state = st;
}

/* ---- websocket ---- */

enum ws_phase { WS_CONNECTING, WS_HANDSHAKE, WS_OPEN };

struct ws_state {
    struct dw_probe_op op;
    struct conn *c;
    enum ws_phase phase;
    char *connect_url, *host, *path;
    char key[25];
    bool hold;
    double conn_t0;     /* mono seconds when the current connection started */
    double handshake_s; /* of the first connection */
    bool ever_open;
    int pings_sent, pongs;
    double rtt_sum, ping_t0;
    bool awaiting_pong;
    unsigned seq;
    /* held connections */
    int64_t window_start, window_end;
    struct dw_loop_watch *ping_timer, *end_timer, *retry_timer;
    int drops, reconnects;
    int64_t connected_since; /* 0 while down */
    int64_t connected_ms;
    char down_reason[DW_PROBE_REASON_LEN], down_detail[DW_PROBE_DETAIL_LEN];
};

static void ws_free(struct dw_probe_run *run)
{
    struct ws_state *st = run->state;
    conn_close(&st->c);
    dw_loop_unwatch(run->loop, st->ping_timer);
    dw_loop_unwatch(run->loop, st->end_timer);
    dw_loop_unwatch(run->loop, st->retry_timer);
    free(st->connect_url);
    free(st->host);
    free(st->path);
    free(st);
    run->state = NULL;
}

static void ws_abort(struct dw_probe_run *run)
{
    ws_free(run);
}

static void ws_samples(struct dw_probe_run *run, struct ws_state *st)
{
    struct dw_csamples *s = &run->samples;
    if (st->ever_open)
        dw_csamples_add(s, "probe_websocket_handshake_seconds", st->handshake_s, NULL);
    if (st->pongs)
        dw_csamples_add(s, "probe_websocket_ping_rtt_seconds", st->rtt_sum / st->pongs, NULL);
    dw_csamples_add(s, "probe_websocket_pongs", st->pongs, NULL);
    if (!st->hold)
        return;
    int64_t hold = st->window_end - st->window_start;
    dw_csamples_add(s, "probe_websocket_drops", st->drops, NULL);
    dw_csamples_add(s, "probe_websocket_reconnects", st->reconnects, NULL);
    dw_csamples_add(s, "probe_websocket_connected_ratio",
                    hold > 0 ? (double)st->connected_ms / (double)hold : 0, NULL);
}

static void ws_end(struct dw_probe_run *run)
{
    struct ws_state *st = run->state;
    ws_samples(run, st);
    ws_free(run);
    dw_probe_finish(run);
}

static void ws_connect(struct dw_probe_run *run);

/* A connection problem: the run's failure, or in a held window after the
 * first success, a drop followed by a reconnect. Closes the connection. */
static void ws_trouble(struct dw_probe_run *run, const char *reason, const char *fmt, ...)
    DW_PRINTF(3, 4);

static void ws_retry(void *arg, int fd, short revents)
{
    struct dw_probe_run *run = arg;
    struct ws_state *st = run->state;
    st->retry_timer = NULL;
    ws_connect(run);
    if (!st->c) /* curl could not even start: try again later */
        st->retry_timer = dw_loop_timer(run->loop, dw_mono_ms() + WS_RETRY_MS, ws_retry, run);
}

static void ws_trouble(struct dw_probe_run *run, const char *reason, const char *fmt, ...)
{
    struct ws_state *st = run->state;
    char detail[DW_PROBE_DETAIL_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    conn_close(&st->c);
    if (!st->hold || !st->ever_open) {
        dw_probe_fail(run, reason, "%s", detail);
        ws_end(run);
        return;
    }
    dw_strlcpy(st->down_reason, reason, sizeof st->down_reason);
    dw_strlcpy(st->down_detail, detail, sizeof st->down_detail);
    dw_loop_unwatch(run->loop, st->ping_timer);
    st->ping_timer = NULL;
    st->awaiting_pong = false;
    if (st->connected_since) {
        st->connected_ms += dw_mono_ms() - st->connected_since;
        st->connected_since = 0;
        st->drops++;
    }
    int64_t at = dw_mono_ms() + WS_RETRY_MS;
    if (at < st->window_end)
        st->retry_timer = dw_loop_timer(run->loop, at, ws_retry, run);
}

static void ws_send_frame(struct conn *c, int opcode, const void *payload, size_t n)
{
    uint8_t buf[256];
    int len = dw_ws_encode(opcode, payload, n, buf, sizeof buf);
    if (len > 0)
        conn_write(c, buf, (size_t)len);
}

static void ws_ping(struct dw_probe_run *run)
{
    struct ws_state *st = run->state;
    char payload[32];
    int n = snprintf(payload, sizeof payload, "dw-%u", ++st->seq);
    st->ping_t0 = mono_s();
    st->awaiting_pong = true;
    st->pings_sent++;
    ws_send_frame(st->c, DW_WS_PING, payload, (size_t)n);
}

static void ws_ping_timer(void *arg, int fd, short revents)
{
    struct dw_probe_run *run = arg;
    struct ws_state *st = run->state;
    st->ping_timer = NULL;
    if (!st->c || st->phase != WS_OPEN)
        return;
    ws_ping(run);
    int64_t next = dw_mono_ms() + run->cfg->websocket.ping_interval_ms;
    if (next < st->window_end)
        st->ping_timer = dw_loop_timer(run->loop, next, ws_ping_timer, run);
}

/* The end of a held window: success when connected and pings were answered. */
static void ws_window_end(void *arg, int fd, short revents)
{
    struct dw_probe_run *run = arg;
    struct ws_state *st = run->state;
    st->end_timer = NULL;
    if (st->connected_since) {
        st->connected_ms += dw_mono_ms() - st->connected_since;
        st->connected_since = 0;
    }
    bool up = st->c && st->phase == WS_OPEN;
    if (!up)
        dw_probe_fail(run, st->down_reason[0] ? st->down_reason : "connection_failed",
                      "down at the end of the hold window after %d drop(s): %s", st->drops,
                      st->down_detail);
    else if (st->pings_sent > 0 && st->pongs == 0)
        dw_probe_fail(run, "ws_no_pong", "%s: %d ping(s), no pong", run->cfg->target,
                      st->pings_sent);
    ws_end(run);
}

/* The handshake succeeded: start pinging (and the held window's clock). */
static void ws_opened(struct dw_probe_run *run)
{
    struct ws_state *st = run->state;
    const struct dw_probe_ws *w = &run->cfg->websocket;
    st->phase = WS_OPEN;
    if (!st->ever_open)
        st->handshake_s = mono_s() - st->conn_t0;
    else
        st->reconnects++;
    st->ever_open = true;
    if (!st->hold) {
        if (w->ping_count > 0)
            ws_ping(run);
        return;
    }
    st->connected_since = dw_mono_ms();
    st->ping_timer = dw_loop_timer(run->loop, dw_mono_ms(), ws_ping_timer, run);
}

/* 1: a pong for our ping; the run may be over (returns 1 after ending it). */
static int ws_pong(struct dw_probe_run *run, const struct dw_ws_frame *f)
{
    struct ws_state *st = run->state;
    char want[32];
    int n = snprintf(want, sizeof want, "dw-%u", st->seq);
    if (!st->awaiting_pong || f->len != (size_t)n || memcmp(f->payload, want, (size_t)n) != 0)
        return 0;
    st->awaiting_pong = false;
    st->pongs++;
    st->rtt_sum += mono_s() - st->ping_t0;
    if (st->hold)
        return 0;
    if (st->pongs < run->cfg->websocket.ping_count) {
        ws_ping(run);
        return 0;
    }
    ws_end(run);
    return 1;
}

/* Handles the frames buffered in c->in; nonzero when the connection is gone. */
static int ws_frames(struct dw_probe_run *run, struct conn *c)
{
    size_t off = 0;
    int rc = 0;
    while (off < c->in.len) {
        struct dw_ws_frame f;
        int used =
            dw_ws_decode((const uint8_t *)c->in.data + off, c->in.len - off, WS_MAX_FRAME, &f);
        if (used == 0)
            break;
        if (used < 0) {
            ws_trouble(run, "protocol_error", "%s: invalid WebSocket frame", run->cfg->target);
            return 1;
        }
        off += (size_t)used;
        if (f.opcode == DW_WS_PING)
            ws_send_frame(c, DW_WS_PONG, f.payload, f.len);
        else if (f.opcode == DW_WS_CLOSE)
            rc = -1;
        else if (f.opcode == DW_WS_PONG && ws_pong(run, &f))
            return 1; /* the run ended and freed c */
        if (rc)
            break;
    }
    memmove(c->in.data, c->in.data + off, c->in.len - off);
    c->in.len -= off;
    if (rc) {
        ws_trouble(run, "connection_failed", "%s: the server closed the WebSocket",
                   run->cfg->target);
        return 1;
    }
    return 0;
}

static int ws_handshake_in(struct dw_probe_run *run, struct conn *c)
{
    struct ws_state *st = run->state;
    size_t head = dw_ws_head_len(c->in.data ? c->in.data : "", c->in.len);
    if (head == 0)
        return 0;
    char msg[160] = "";
    if (dw_ws_check_handshake(c->in.data, head, st->key, msg, sizeof msg) < 0) {
        ws_trouble(run, "ws_handshake", "%s: %s", run->cfg->target, msg);
        return 1;
    }
    memmove(c->in.data, c->in.data + head, c->in.len - head);
    c->in.len -= head;
    ws_opened(run);
    return ws_frames(run, c);
}

static int ws_progress(struct conn *c)
{
    struct dw_probe_run *run = c->run;
    struct ws_state *st = run->state;
    int gone = 0;
    if (st->phase == WS_HANDSHAKE && c->in.len)
        gone = ws_handshake_in(run, c);
    else if (st->phase == WS_OPEN && c->in.len)
        gone = ws_frames(run, c);
    if (gone)
        return 1;
    if (c->err) {
        ws_trouble(run, "connection_failed", "%s: %s", run->cfg->target,
                   curl_easy_strerror(c->err));
        return 1;
    }
    if (c->eof) {
        ws_trouble(run, st->phase == WS_HANDSHAKE ? "ws_handshake" : "connection_failed",
                   "%s: the server closed the connection%s", run->cfg->target,
                   st->phase == WS_HANDSHAKE ? " during the handshake" : "");
        return 1;
    }
    return 0;
}

static void ws_expired(struct conn *c)
{
    struct dw_probe_run *run = c->run;
    struct ws_state *st = run->state;
    if (st->phase == WS_OPEN && st->awaiting_pong)
        dw_probe_fail(run, "ws_no_pong", "%s: no pong within the timeout (%d of %d answered)",
                      run->cfg->target, st->pongs, st->pings_sent);
    else
        dw_probe_fail(run, "timeout", "%s: %s within %lld ms", run->cfg->target,
                      st->phase == WS_HANDSHAKE ? "no handshake answer" : "no answer",
                      (long long)run->cfg->timeout_ms);
    ws_end(run);
}

/* "Name: value\r\n" lines: the configured headers and the subprotocol. */
static char *ws_extra_headers(const struct dw_probe_ws *w)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "User-Agent: dojowatch-probe/" DW_VERSION "\r\n");
    for (size_t i = 0; i < w->nheaders; i++)
        dw_buf_printf(&b, "%s: %s\r\n", w->headers[i].key, w->headers[i].value);
    if (w->subprotocol && *w->subprotocol)
        dw_buf_printf(&b, "Sec-WebSocket-Protocol: %s\r\n", w->subprotocol);
    return dw_buf_steal(&b);
}

static void ws_connected(struct conn *c, CURLcode rc)
{
    struct dw_probe_run *run = c->run;
    struct ws_state *st = run->state;
    if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno);
        ws_trouble(run, dw_probe_curl_reason(rc, os_errno), "%s: %s", run->cfg->target,
                   c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        return;
    }
    if (!st->ever_open) {
        conn_timing_samples(run, c->easy, NULL);
        if (c->tls_on)
            dw_probe_tls_report(run, &c->tls, 0);
    }
    dw_ws_make_key(st->key);
    char *extra = ws_extra_headers(&run->cfg->websocket);
    char req[4096];
    int n = dw_ws_build_handshake(st->host, st->path, st->key, extra, req, sizeof req);
    free(extra);
    if (n < 0) {
        ws_trouble(run, "protocol_error", "%s: the handshake request is too long",
                   run->cfg->target);
        return;
    }
    st->phase = WS_HANDSHAKE;
    dw_buf_append(&c->out, req, (size_t)n);
    conn_pump(c);
}

static const struct conn_ops ws_ops = {ws_connected, ws_progress, ws_expired};

static void ws_connect(struct dw_probe_run *run)
{
    struct ws_state *st = run->state;
    const struct dw_probe_ws *w = &run->cfg->websocket;
    st->phase = WS_CONNECTING;
    st->conn_t0 = mono_s();
    st->c = conn_open(run, st->connect_url, w->tls_insecure, w->ca_file, &ws_ops, st);
}

/* Splits ws(s)://host:port/path?q into the connect URL, Host and path. */
static int ws_parse_target(struct ws_state *st, const char *target)
{
    bool tls = dw_str_has_prefix(target, "wss://");
    char *as_http = dw_asprintf("%s%s", tls ? "https" : "http", target + (tls ? 3 : 2));
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, as_http, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        curl_url_get(u, CURLUPART_QUERY, &query, 0);
        st->host = port ? dw_asprintf("%s:%s", host, port) : dw_strdup(host);
        st->path =
            dw_asprintf("%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");
        st->connect_url = dw_asprintf("%s://%s/", tls ? "https" : "http", st->host);
        rc = 0;
    }
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    free(as_http);
    return rc;
}

void dw_probe_ws_start(struct dw_probe_run *run)
{
    const struct dw_probe_ws *w = &run->cfg->websocket;
    struct ws_state *st = dw_calloc(1, sizeof *st);
    st->op.abort = ws_abort;
    if (ws_parse_target(st, run->cfg->target) < 0) {
        dw_probe_fail(run, "protocol_error", "invalid WebSocket URL %s", run->cfg->target);
        run->state = st;
        ws_free(run);
        return;
    }
    run->state = st;
    st->hold = w->hold_ms > 0;
    st->window_start = dw_mono_ms();
    st->window_end = st->window_start + w->hold_ms;
    ws_connect(run);
    if (!st->c) {
        ws_free(run);
        return;
    }
    if (st->hold)
        st->end_timer = dw_loop_timer(run->loop, st->window_end, ws_window_end, run);
}

/* ---- dns ---- */

struct dns_state {
    struct dw_probe_op op;
    int fd;
    struct dw_loop_watch *w;
    uint16_t id;
    uint8_t query[512];
    size_t qlen;
    int tries;
    int64_t try_ms;
    double sent_at;
    char server[80];
};

static void dns_free(struct dw_probe_run *run)
{
    struct dns_state *st = run->state;
    dw_loop_unwatch(run->loop, st->w);
    if (st->fd >= 0)
        close(st->fd);
    free(st);
    run->state = NULL;
}

static void dns_abort(struct dw_probe_run *run)
{
    dns_free(run);
}

static void dns_end(struct dw_probe_run *run, bool answered)
{
    dw_csamples_add(&run->samples, "probe_dns_query_succeeded", answered, NULL);
    dns_free(run);
    dw_probe_finish(run);
}

/* The first "nameserver" of /etc/resolv.conf, or 127.0.0.1. */
static void default_server(char *out, size_t cap)
{
    dw_strlcpy(out, "127.0.0.1", cap);
    FILE *f = fopen("/etc/resolv.conf", "r");
    if (!f)
        return;
    char line[256], addr[64];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, " nameserver %63s", addr) == 1) {
            dw_strlcpy(out, addr, cap);
            break;
        }
    fclose(f);
}

/* "1.2.3.4", "1.2.3.4:53", "[::1]:53" or "::1" into a socket address. */
static int parse_server(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    int64_t port = 53;
    const char *colon = NULL;
    size_t hlen;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    if (s[0] == '[') {
        hlen = strcspn(s + 1, "]");
        colon = s[1 + hlen] == ']' && s[2 + hlen] == ':' ? s + 2 + hlen : NULL;
        s++;
    } else if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
        hlen = strlen(s);
    } else {
        colon = strchr(s, ':');
        hlen = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (hlen >= sizeof host ||
        (colon && (dw_parse_int64(colon + 1, &port) || port < 1 || port > 65535)))
        return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
        return -1;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return 0;
}

static void dns_on_ready(void *arg, int fd, short revents);

static int dns_send(struct dw_probe_run *run)
{
    struct dns_state *st = run->state;
    st->tries++;
    st->sent_at = mono_s();
    if (send(st->fd, st->query, st->qlen, 0) < 0 && errno != EAGAIN) {
        dw_probe_fail(run, errno == ECONNREFUSED ? "connection_refused" : "connection_failed",
                      "DNS server %s: send: %s", st->server, strerror(errno));
        return -1;
    }
    int64_t until = dw_mono_ms() + st->try_ms;
    if (until > run->deadline_mono_ms)
        until = run->deadline_mono_ms;
    st->w = dw_loop_watch_fd(run->loop, st->fd, POLLIN, until, dns_on_ready, run);
    return 0;
}

static bool rcode_ok(const struct dw_probe_dns *d, int rcode)
{
    if (d->nvalid_rcodes == 0)
        return rcode == 0;
    for (size_t i = 0; i < d->nvalid_rcodes; i++)
        if (d->valid_rcodes[i] == rcode)
            return true;
    return false;
}

static bool answers_match(const struct dw_probe_regex *re, const struct dw_dns_response *r)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    bool hit = false;
    for (size_t i = 0; i < r->nanswers_kept && !hit; i++)
        hit = pcre2_match(re->code, (PCRE2_SPTR)r->answers[i].data, strlen(r->answers[i].data), 0,
                          0, md, NULL) > 0;
    pcre2_match_data_free(md);
    return hit;
}

static void dns_evaluate(struct dw_probe_run *run, const struct dw_dns_response *r, double rtt)
{
    const struct dw_probe_dns *d = &run->cfg->dns;
    struct dw_csamples *s = &run->samples;
    dw_csamples_add(s, "probe_dns_lookup_time_seconds", rtt, NULL);
    dw_csamples_add(s, "probe_dns_answer_rrs", (double)r->nanswer, NULL);
    dw_csamples_add(s, "probe_dns_authority_rrs", (double)r->nauthority, NULL);
    dw_csamples_add(s, "probe_dns_additional_rrs", (double)r->nadditional, NULL);
    if (!rcode_ok(d, r->rcode)) {
        dw_probe_fail(run, "dns_rcode", "%s %s: rcode %s%s", run->cfg->target,
                      dw_dns_type_name(d->query_type), dw_dns_rcode_name(r->rcode),
                      d->nvalid_rcodes ? ", not one of valid_rcodes" : ", expected NOERROR");
        return;
    }
    for (size_t i = 0; i < d->nanswer_regex; i++)
        if (!answers_match(&d->answer_regex[i], r)) {
            dw_probe_fail(run, "dns_answer", "%s %s: no answer matches /%s/ (%zu answer(s))",
                          run->cfg->target, dw_dns_type_name(d->query_type), d->answer_regex[i].src,
                          r->nanswer);
            return;
        }
}

/* Reads datagrams until ours; 1 when the run ended, 0 to keep waiting. */
static int dns_read(struct dw_probe_run *run)
{
    struct dns_state *st = run->state;
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = recv(st->fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        if (n < 0) {
            dw_probe_fail(run, errno == ECONNREFUSED ? "connection_refused" : "connection_failed",
                          "DNS server %s: %s", st->server, strerror(errno));
            dns_end(run, false);
            return 1;
        }
        struct dw_dns_response r;
        char msg[160] = "";
        if (dw_dns_parse_response(buf, (size_t)n, &r, msg, sizeof msg) < 0) {
            dw_probe_fail(run, "protocol_error", "DNS server %s: %s", st->server, msg);
            dns_end(run, false);
            return 1;
        }
        if (r.id != st->id)
            continue; /* a late answer to someone else's query */
        dns_evaluate(run, &r, mono_s() - st->sent_at);
        dns_end(run, true);
        return 1;
    }
}

static void dns_on_ready(void *arg, int fd, short revents)
{
    struct dw_probe_run *run = arg;
    struct dns_state *st = run->state;
    st->w = NULL;
    if (revents != 0) {
        if (dns_read(run))
            return;
        int64_t until = dw_mono_ms() + st->try_ms;
        st->w = dw_loop_watch_fd(run->loop, st->fd, POLLIN,
                                 until < run->deadline_mono_ms ? until : run->deadline_mono_ms,
                                 dns_on_ready, run);
        return;
    }
    if (st->tries < DNS_TRIES && run->deadline_mono_ms - dw_mono_ms() > 20 && dns_send(run) == 0)
        return;
    dw_probe_fail(run, "timeout", "DNS server %s: no answer to %s %s after %d tries", st->server,
                  dw_dns_type_name(run->cfg->dns.query_type), run->cfg->target, st->tries);
    dns_end(run, false);
}

static int dns_open(struct dw_probe_run *run, struct dns_state *st)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    if (parse_server(st->server, &ss, &len) < 0) {
        dw_probe_fail(run, "protocol_error", "bad DNS server address %s", st->server);
        return -1;
    }
    st->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->fd < 0 || connect(st->fd, (struct sockaddr *)&ss, len) < 0) {
        dw_probe_fail(run, "connection_failed", "DNS server %s: %s", st->server, strerror(errno));
        return -1;
    }
    return 0;
}

void dw_probe_dns_start(struct dw_probe_run *run)
{
    const struct dw_probe_dns *d = &run->cfg->dns;
    struct dns_state *st = dw_calloc(1, sizeof *st);
    st->op.abort = dns_abort;
    st->fd = -1;
    run->state = st;
    if (d->server)
        dw_strlcpy(st->server, d->server, sizeof st->server);
    else
        default_server(st->server, sizeof st->server);
    dw_random_bytes(&st->id, sizeof st->id);
    int qlen =
        dw_dns_build_query(st->id, run->cfg->target, d->query_type, st->query, sizeof st->query);
    if (qlen < 0) {
        dw_probe_fail(run, "protocol_error", "cannot build a query for %s", run->cfg->target);
        dns_free(run);
        return;
    }
    st->qlen = (size_t)qlen;
    int64_t left = dw_probe_remaining_ms(run);
    st->try_ms = left / DNS_TRIES > DNS_MIN_TRY_MS ? left / DNS_TRIES : DNS_MIN_TRY_MS;
    if (dns_open(run, st) < 0 || dns_send(run) < 0)
        dns_free(run);
}
