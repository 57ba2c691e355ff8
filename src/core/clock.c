/*
 * clock.c - the one clock every module reads time through.
 *
 * Real mode reads CLOCK_REALTIME. Manual mode (tests, `serve --test-clock`)
 * freezes time at a chosen instant and moves it only on dw_clock_advance(),
 * which wakes every thread sleeping in dw_clock_sleep_until() so timers
 * (phases, `for`, escalations, SLA deadlines) fire in test time.
 *
 * Sleepers wait on one condition variable; in real mode they wake at least
 * every 250 ms (and on dw_clock_kick) so wall-clock jumps are noticed.
 */
#include <pthread.h>
#include <time.h>

#include "core.h"

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clock_cond;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;
static atomic_bool manual;
static atomic_int_fast64_t manual_now_ms;

static void clock_init_once(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&clock_cond, &attr);
    pthread_condattr_destroy(&attr);
}

int64_t dw_now_ms(void)
{
    if (atomic_load(&manual))
        return atomic_load(&manual_now_ms);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dw_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void dw_clock_set_manual(int64_t start_ms)
{
    atomic_store(&manual_now_ms, start_ms);
    atomic_store(&manual, true);
    dw_clock_kick();
}

void dw_clock_set_real(void)
{
    atomic_store(&manual, false);
    dw_clock_kick();
}

bool dw_clock_is_manual(void)
{
    return atomic_load(&manual);
}

void dw_clock_advance(int64_t delta_ms)
{
    if (!atomic_load(&manual))
        return;
    atomic_fetch_add(&manual_now_ms, delta_ms);
    dw_clock_kick();
}

void dw_clock_kick(void)
{
    pthread_once(&clock_once, clock_init_once);
    pthread_mutex_lock(&clock_lock);
    pthread_cond_broadcast(&clock_cond);
    pthread_mutex_unlock(&clock_lock);
}

bool dw_clock_sleep_until(int64_t deadline_ms, const atomic_bool *stop)
{
    pthread_once(&clock_once, clock_init_once);
    pthread_mutex_lock(&clock_lock);
    for (;;) {
        if (stop && atomic_load(stop)) {
            pthread_mutex_unlock(&clock_lock);
            return false;
        }
        int64_t now = dw_now_ms();
        if (now >= deadline_ms) {
            pthread_mutex_unlock(&clock_lock);
            return true;
        }
        int64_t wait_ms = deadline_ms - now;
        if (wait_ms > 250 || atomic_load(&manual))
            wait_ms = 250;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (wait_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(wait_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&clock_cond, &clock_lock, &ts);
    }
}
