/*
 * loop.h - the collector's one event loop (internal to src/collect).
 *
 * DESIGN
 * One thread drives every scrape and probe: libcurl's multi interface for
 * HTTP(S) transfers and connect-only handles, plus raw file descriptors
 * (UDP DNS queries, WebSocket frames over a connect-only curl handle) and
 * timers, all waited on with curl_multi_poll(). Nothing blocks: a check
 * starts its work, registers callbacks and returns; its callbacks run on the
 * loop thread when the transfer ends, the fd is ready or the deadline passes.
 *
 * Deadlines of fds are on the monotonic clock (dw_mono_ms()), never the test
 * clock, because network timeouts are real. Timers are on the monotonic
 * clock too; the scheduler converts the (injectable) wall clock into them.
 */
#ifndef DW_COLLECT_LOOP_H
#define DW_COLLECT_LOOP_H

#include <curl/curl.h>
#include <stdint.h>

struct dw_loop;
struct dw_loop_watch;

/** Monotonic milliseconds (for network deadlines and loop timers). */
int64_t dw_mono_ms(void);

struct dw_loop *dw_loop_new(void);
/** Removes every handle and watch (without callbacks) and frees; NULL is a no-op. */
void dw_loop_free(struct dw_loop **l);

/**
 * Waits at most max_wait_ms for activity, then runs every callback that is
 * due: finished curl transfers, ready fds, passed fd deadlines and timers.
 * Returns the number of callbacks run.
 */
int dw_loop_run_once(struct dw_loop *l, int max_wait_ms);
/** Wakes a dw_loop_run_once() waiting in another thread (thread-safe). */
void dw_loop_wakeup(struct dw_loop *l);

/** Called once when the transfer has ended (rc CURLE_OK or the error); the
 *  handle has been removed from the multi already and belongs to the caller. */
typedef void (*dw_loop_curl_fn)(void *arg, CURL *easy, CURLcode rc);
/** Adds a configured easy handle; 0, or -1 when curl refuses it. */
int dw_loop_add_curl(struct dw_loop *l, CURL *easy, dw_loop_curl_fn done, void *arg);
/** Stops a transfer without calling its callback. */
void dw_loop_remove_curl(struct dw_loop *l, CURL *easy);
/** Transfers in flight. */
size_t dw_loop_active(const struct dw_loop *l);

/**
 * One-shot watch of fd for events (POLLIN/POLLOUT) until deadline_ms
 * (dw_mono_ms() scale). The callback gets the poll revents, or 0 when the
 * deadline passed first. After the callback the watch is gone; register a
 * new one to keep waiting.
 */
typedef void (*dw_loop_fd_fn)(void *arg, int fd, short revents);
struct dw_loop_watch *dw_loop_watch_fd(struct dw_loop *l, int fd, short events, int64_t deadline_ms,
                                       dw_loop_fd_fn fn, void *arg);
/** A timer: fn(arg, -1, 0) at at_ms (monotonic). */
struct dw_loop_watch *dw_loop_timer(struct dw_loop *l, int64_t at_ms, dw_loop_fd_fn fn, void *arg);
/** Cancels a pending watch or timer (no callback). NULL is a no-op. */
void dw_loop_unwatch(struct dw_loop *l, struct dw_loop_watch *w);

#endif
