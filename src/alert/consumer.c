/*
 * consumer.c - the thread every consumer of the event queue runs (on-call,
 * incidents): a turn when an event arrives after its cursor, and at least
 * every `every_ms`, so its timers (escalations, targets) fire on time on
 * dw_now_ms's clock.
 *
 * DESIGN
 * The thread calls turn(ctx, dw_now_ms()), then waits in
 * dw_alerter_events_wait for the consumer's cursor (or sleeps on the clock
 * when there is no alerter, so the test clock's kick wakes it). Stop raises
 * the flag, kicks the clock and joins: at most one wait slice later.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"

static void *consumer_main(void *arg)
{
    struct dw_alert_consumer *c = arg;
    while (!atomic_load(&c->stop)) {
        c->turn(c->ctx, dw_now_ms());
        if (c->alerter)
            dw_alerter_events_wait(c->alerter, c->consumer, c->every_ms);
        else
            dw_clock_sleep_until(dw_now_ms() + c->every_ms, &c->stop);
    }
    return NULL;
}

int dw_alert_consumer_start(struct dw_alert_consumer *c, const char *thread_name)
{
    if (c->running)
        return 0;
    atomic_store(&c->stop, false);
    int rc = pthread_create(&c->thread, NULL, consumer_main, c);
    if (rc != 0) {
        dw_log_kv(DW_LOG_ERROR, "alert", "cannot start a consumer thread", "thread", thread_name,
                  "error", strerror(rc), NULL);
        return -1;
    }
    pthread_setname_np(c->thread, thread_name);
    c->running = true;
    return 0;
}

void dw_alert_consumer_stop(struct dw_alert_consumer *c)
{
    if (!c->running)
        return;
    atomic_store(&c->stop, true);
    dw_clock_kick();
    pthread_join(c->thread, NULL);
    c->running = false;
}
