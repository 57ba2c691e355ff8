/*
 * loop.c - the collector's event loop: libcurl multi plus fd watches and
 * timers, waited on together with curl_multi_poll().
 *
 * DESIGN
 * Single-threaded: every function except dw_loop_wakeup() runs on the loop's
 * thread. A transfer's bookkeeping rides in CURLOPT_PRIVATE (so callers must
 * not use that option) and sits in an array so the loop can take back every
 * handle when it is freed (curl 7.88 cannot list a multi's handles).
 * Watches live in one array; callbacks may add and cancel watches while the
 * loop dispatches, so dispatch first marks what is due, then calls, and
 * cancelled entries are only compacted away between rounds. An fd watch is
 * one-shot: it fires once (ready or deadline) and is gone, which keeps
 * ownership simple for the probes' state machines.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collect/loop.h"
#include "core/core.h"

struct dw_loop_watch {
    int fd; /* -1 for a timer */
    short events;
    short revents;
    int64_t deadline_ms;
    dw_loop_fd_fn fn;
    void *arg;
    bool dead, due;
};

struct xfer {
    CURL *easy;
    dw_loop_curl_fn done;
    void *arg;
    size_t index; /* in dw_loop.xfers */
};

struct dw_loop {
    CURLM *multi;
    struct xfer **xfers;
    size_t nxfers, xcap;
    struct dw_loop_watch **watches;
    size_t nwatches, wcap;
    struct curl_waitfd *wfds;
    size_t wfd_cap;
    bool dispatching;
};

int64_t dw_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct dw_loop *dw_loop_new(void)
{
    struct dw_loop *l = dw_calloc(1, sizeof *l);
    l->multi = curl_multi_init();
    if (!l->multi)
        dw_oom(0);
    /* Keep few idle connections, so most probes measure a real connect. */
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 64L);
    return l;
}

static void xfer_forget(struct dw_loop *l, struct xfer *x)
{
    curl_multi_remove_handle(l->multi, x->easy);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
    struct xfer *last = l->xfers[--l->nxfers];
    l->xfers[x->index] = last;
    last->index = x->index;
    free(x);
}

void dw_loop_free(struct dw_loop **lp)
{
    struct dw_loop *l = lp ? *lp : NULL;
    if (!l)
        return;
    while (l->nxfers)
        xfer_forget(l, l->xfers[l->nxfers - 1]);
    free(l->xfers);
    for (size_t i = 0; i < l->nwatches; i++)
        free(l->watches[i]);
    free(l->watches);
    free(l->wfds);
    curl_multi_cleanup(l->multi);
    free(l);
    *lp = NULL;
}

void dw_loop_wakeup(struct dw_loop *l)
{
    curl_multi_wakeup(l->multi);
}

size_t dw_loop_active(const struct dw_loop *l)
{
    return l->nxfers;
}

int dw_loop_add_curl(struct dw_loop *l, CURL *easy, dw_loop_curl_fn done, void *arg)
{
    struct xfer *x = dw_calloc(1, sizeof *x);
    *x = (struct xfer){.easy = easy, .done = done, .arg = arg, .index = l->nxfers};
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(x);
        return -1;
    }
    l->xfers = dw_grow(l->xfers, &l->xcap, l->nxfers + 1, sizeof *l->xfers);
    l->xfers[l->nxfers++] = x;
    return 0;
}

void dw_loop_remove_curl(struct dw_loop *l, CURL *easy)
{
    void *priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    if (priv)
        xfer_forget(l, priv);
}

static struct dw_loop_watch *add_watch(struct dw_loop *l, int fd, short events, int64_t deadline,
                                       dw_loop_fd_fn fn, void *arg)
{
    struct dw_loop_watch *w = dw_calloc(1, sizeof *w);
    *w = (struct dw_loop_watch){
        .fd = fd, .events = events, .deadline_ms = deadline, .fn = fn, .arg = arg};
    l->watches = dw_grow(l->watches, &l->wcap, l->nwatches + 1, sizeof *l->watches);
    l->watches[l->nwatches++] = w;
    return w;
}

struct dw_loop_watch *dw_loop_watch_fd(struct dw_loop *l, int fd, short events, int64_t deadline_ms,
                                       dw_loop_fd_fn fn, void *arg)
{
    return add_watch(l, fd, events, deadline_ms, fn, arg);
}

struct dw_loop_watch *dw_loop_timer(struct dw_loop *l, int64_t at_ms, dw_loop_fd_fn fn, void *arg)
{
    return add_watch(l, -1, 0, at_ms, fn, arg);
}

void dw_loop_unwatch(struct dw_loop *l, struct dw_loop_watch *w)
{
    (void)l;
    if (w)
        w->dead = true;
}

/* Drops cancelled and fired watches (never while callbacks run). */
static void compact(struct dw_loop *l)
{
    size_t j = 0;
    for (size_t i = 0; i < l->nwatches; i++) {
        if (l->watches[i]->dead)
            free(l->watches[i]);
        else
            l->watches[j++] = l->watches[i];
    }
    l->nwatches = j;
}

/* Fills l->wfds with the live fd watches; returns how many, and lowers
 * *timeout to the nearest deadline. */
static unsigned build_waitfds(struct dw_loop *l, int64_t now, int *timeout)
{
    unsigned n = 0;
    l->wfds = dw_grow(l->wfds, &l->wfd_cap, l->nwatches + 1, sizeof *l->wfds);
    for (size_t i = 0; i < l->nwatches; i++) {
        struct dw_loop_watch *w = l->watches[i];
        int64_t left = w->deadline_ms - now;
        if (left < *timeout)
            *timeout = left < 0 ? 0 : (int)left;
        if (w->fd < 0)
            continue;
        l->wfds[n++] = (struct curl_waitfd){.fd = w->fd, .events = w->events, .revents = 0};
    }
    return n;
}

/* Copies poll results back to the watches (in the order build_waitfds used). */
static void mark_due(struct dw_loop *l, unsigned nfds, int64_t now)
{
    unsigned k = 0;
    for (size_t i = 0; i < l->nwatches; i++) {
        struct dw_loop_watch *w = l->watches[i];
        short rev = 0;
        if (w->fd >= 0 && k < nfds)
            rev = l->wfds[k++].revents;
        w->revents = rev;
        w->due = !w->dead && (rev != 0 || now >= w->deadline_ms);
    }
}

static int dispatch_watches(struct dw_loop *l)
{
    int ran = 0;
    size_t n = l->nwatches; /* watches added by callbacks wait for the next round */
    for (size_t i = 0; i < n; i++) {
        struct dw_loop_watch *w = l->watches[i];
        if (!w->due || w->dead)
            continue;
        w->dead = true;
        w->fn(w->arg, w->fd, w->revents);
        ran++;
    }
    return ran;
}

static int dispatch_transfers(struct dw_loop *l)
{
    int ran = 0, left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(l->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        void *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        if (!priv)
            continue;
        struct xfer *x = priv;
        dw_loop_curl_fn done = x->done;
        void *arg = x->arg;
        xfer_forget(l, x);
        done(arg, easy, rc);
        ran++;
    }
    return ran;
}

int dw_loop_run_once(struct dw_loop *l, int max_wait_ms)
{
    int running = 0;
    int timeout = max_wait_ms < 0 ? 0 : max_wait_ms;
    long curl_timeout = -1;
    curl_multi_timeout(l->multi, &curl_timeout);
    if (curl_timeout >= 0 && curl_timeout < timeout)
        timeout = (int)curl_timeout;
    unsigned nfds = build_waitfds(l, dw_mono_ms(), &timeout);
    curl_multi_poll(l->multi, l->wfds, nfds, timeout, NULL);
    int64_t now = dw_mono_ms();
    mark_due(l, nfds, now);
    curl_multi_perform(l->multi, &running);
    int ran = dispatch_transfers(l);
    ran += dispatch_watches(l);
    compact(l);
    return ran;
}
