/*
 * eval_prefetch.c - reading a selection's series on a worker thread while the
 * query's thread computes with the ones already read.
 *
 * DESIGN: most of a dashboard query's time is the storage decoding samples
 * (chunk decoding, iteration); the rest is the engine's per-series work
 * (rollup windows, aggregation). The two overlap: a worker of a small pool,
 * created once for the process (one thread per CPU beyond the first, at most
 * PF_MAX_WORKERS; DW_PROMQL_READERS=N in the environment sets the number, 0
 * turns read-ahead off), walks the series set, copies each series' labels and reads
 * its samples (cleaned exactly as read_series does) into batches of about
 * PF_BATCH_SAMPLES samples; the query's thread takes the batches in order and
 * hands every series to the same code as before. So the series, their order
 * and all arithmetic are unchanged; only who decodes differs.
 *
 * Threads and ordering: a prefetch is handed to one idle worker (when none
 * is idle, because other queries use them, the caller reads in its own thread
 * as before). The series set is used by the worker only, from start() until
 * end() has seen the worker finish; the caller then reads its error and
 * closes it. Batches pass through a ring of PF_RING slots under one mutex;
 * each slot is filled by the worker, then read by the caller, then free
 * again. end() (normal end, error, timeout or cancellation on the caller's
 * side) raises `stop`, which the worker checks between series, and waits for
 * it. The limit on samples is still counted by the caller per delivered
 * series; a worker refuses to buffer one series beyond max_samples so a huge
 * series fails as before instead of filling memory.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "promql/eval_internal.h"

#define PF_MAX_WORKERS 4
#define PF_RING 3
#define PF_BATCH_SAMPLES 16384
#define PF_BATCH_SERIES 256

struct pf_ser {
    size_t lab, nlab; /* into pf_batch.lab */
    size_t smp, n;    /* into pf_batch.t/.v */
};

struct pf_label {
    size_t name, value; /* offsets into pf_batch.str */
};

struct pf_batch {
    struct pf_ser *ser; /* dw_malloc'd, like every array here */
    size_t nser, ser_cap;
    struct pf_label *lab;
    size_t nlab, lab_cap;
    char *str;
    size_t nstr, str_cap;
    int64_t *t;
    double *v;
    size_t nsmp, smp_cap;
    bool full; /* published by the worker, not yet given back by the caller */
};

struct ev_prefetch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pf_batch ring[PF_RING];
    size_t prod, cons; /* next slot to fill / to read */
    bool done;         /* the worker has left the series set */
    bool too_many;     /* a series held more than max_samples */
    atomic_bool stop;
    struct dw_promql_series_set *ss;
    int64_t mint, maxt;
    bool keep_stale;
    size_t max_samples;
    bool job;      /* handed to the worker, not yet released by end() */
    bool released; /* end() is done with this prefetch */
    /* caller side */
    struct pf_batch *cur;
    size_t next_ser;
    struct dw_label *labels; /* the current series' labels, pointing into cur->str */
    size_t labels_cap;
};

/* ---- the pool ---- */

/* One prefetch per worker, reused query after query with its buffers. */
static struct ev_prefetch pool_slot[PF_MAX_WORKERS];
static bool pool_busy[PF_MAX_WORKERS];
static int pool_size;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

static void produce(struct ev_prefetch *p);

static void *pool_worker(void *arg)
{
    struct ev_prefetch *p = arg;
    size_t self = (size_t)(p - pool_slot);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->job)
            pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        produce(p);
        pthread_mutex_lock(&p->mu);
        while (!p->released)
            pthread_cond_wait(&p->cv, &p->mu);
        p->job = false;
        pthread_mutex_unlock(&p->mu);
        pthread_mutex_lock(&pool_mu);
        pool_busy[self] = false;
        pthread_mutex_unlock(&pool_mu);
    }
    return NULL;
}

static void pool_start(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cpus > 1 ? (int)(cpus - 1) : 1;
    const char *env = getenv("DW_PROMQL_READERS"); /* worker count; 0 reads in the query's thread */
    if (env && *env >= '0' && *env <= '9')
        n = (int)strtol(env, NULL, 10);
    if (n > PF_MAX_WORKERS)
        n = PF_MAX_WORKERS;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < n; i++) {
        struct ev_prefetch *p = &pool_slot[pool_size];
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        pthread_t th;
        if (pthread_create(&th, &attr, pool_worker, p) != 0) {
            pthread_cond_destroy(&p->cv);
            pthread_mutex_destroy(&p->mu);
            break;
        }
        pool_size++;
    }
    pthread_attr_destroy(&attr);
}

/* An idle worker's prefetch, now reserved for the caller; NULL when none is idle. */
static struct ev_prefetch *pool_take(void)
{
    pthread_once(&pool_once, pool_start);
    struct ev_prefetch *p = NULL;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < pool_size && !p; i++)
        if (!pool_busy[i]) {
            pool_busy[i] = true;
            p = &pool_slot[i];
        }
    pthread_mutex_unlock(&pool_mu);
    return p;
}

/* ---- the worker's side ---- */

#define GROW(arr, cap, need)                                                                       \
    do {                                                                                           \
        if ((need) > (cap)) {                                                                      \
            size_t c_ = (cap) ? (cap) : 64;                                                        \
            while (c_ < (need))                                                                    \
                c_ *= 2;                                                                           \
            (arr) = dw_realloc((arr), c_ * sizeof *(arr));                                         \
            (cap) = c_;                                                                            \
        }                                                                                          \
    } while (0)

static size_t put_str(struct pf_batch *b, const char *s)
{
    size_t len = strlen(s) + 1, at = b->nstr;
    GROW(b->str, b->str_cap, b->nstr + len);
    memcpy(b->str + at, s, len);
    b->nstr += len;
    return at;
}

static void smp_reserve(struct pf_batch *b, size_t need)
{
    if (need <= b->smp_cap)
        return;
    size_t c = b->smp_cap ? b->smp_cap : PF_BATCH_SAMPLES;
    while (c < need)
        c *= 2;
    b->t = dw_realloc(b->t, c * sizeof *b->t);
    b->v = dw_realloc(b->v, c * sizeof *b->v);
    b->smp_cap = c;
}

/* Reads the current series into b; false when it holds more than max_samples. */
static bool add_series(struct ev_prefetch *p, struct pf_batch *b)
{
    struct dw_promql_series_set *ss = p->ss;
    size_t nl = 0;
    const struct dw_label *l = ss->ops->labels(ss, &nl);
    GROW(b->ser, b->ser_cap, b->nser + 1);
    GROW(b->lab, b->lab_cap, b->nlab + nl);
    struct pf_ser *x = &b->ser[b->nser];
    x->lab = b->nlab;
    x->nlab = nl;
    for (size_t i = 0; i < nl; i++) {
        b->lab[b->nlab + i].name = put_str(b, l[i].name);
        b->lab[b->nlab + i].value = put_str(b, l[i].value);
    }
    b->nlab += nl;
    x->smp = b->nsmp;
    size_t n = 0;
    if (ss->ops->sample_read) {
        for (;;) {
            smp_reserve(b, x->smp + n + 256);
            size_t k = ss->ops->sample_read(ss, p->mint, p->maxt, b->t + x->smp + n,
                                            b->v + x->smp + n, b->smp_cap - x->smp - n);
            if (k == 0)
                break;
            n += k;
            if (n > p->max_samples)
                return false;
        }
    } else {
        int64_t t;
        double v;
        for (bool ok = ss->ops->sample_seek(ss, p->mint, &t, &v); ok && t <= p->maxt;
             ok = ss->ops->sample_next(ss, &t, &v)) {
            if ((n & 4095) == 4095 && n > p->max_samples)
                return false;
            smp_reserve(b, x->smp + n + 1);
            b->t[x->smp + n] = t;
            b->v[x->smp + n] = v;
            n++;
        }
    }
    x->n = ev_samples_clean(b->t + x->smp, b->v + x->smp, n, p->mint, p->maxt, p->keep_stale);
    b->nsmp += x->n;
    b->nser++;
    return x->n <= p->max_samples;
}

static void publish(struct ev_prefetch *p, struct pf_batch *b)
{
    pthread_mutex_lock(&p->mu);
    b->full = true;
    p->prod = (p->prod + 1) % PF_RING;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The next free slot, emptied; NULL when the caller wants the worker to stop. */
static struct pf_batch *acquire(struct ev_prefetch *p)
{
    pthread_mutex_lock(&p->mu);
    struct pf_batch *b = &p->ring[p->prod];
    while (b->full && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (atomic_load(&p->stop))
        return NULL;
    b->nser = b->nlab = b->nstr = b->nsmp = 0;
    return b;
}

static void produce(struct ev_prefetch *p)
{
    struct pf_batch *b = NULL;
    while (!atomic_load(&p->stop)) {
        if (!b && !(b = acquire(p)))
            break;
        if (!p->ss->ops->next(p->ss))
            break;
        if (!add_series(p, b)) {
            p->too_many = true; /* read by the caller after `done`, under the mutex */
            break;
        }
        if (b->nsmp >= PF_BATCH_SAMPLES || b->nser >= PF_BATCH_SERIES) {
            publish(p, b);
            b = NULL;
        }
    }
    if (b && b->nser && !p->too_many)
        publish(p, b);
    pthread_mutex_lock(&p->mu);
    p->done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---- the caller's side ---- */

struct ev_prefetch *ev_prefetch_start(struct evq *q, struct dw_promql_series_set *ss, int64_t mint,
                                      int64_t maxt, bool keep_stale)
{
    struct ev_prefetch *p = pool_take();
    if (!p)
        return NULL;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < PF_RING; i++)
        p->ring[i].full = false;
    p->prod = p->cons = 0;
    p->done = p->too_many = p->released = false;
    atomic_store(&p->stop, false);
    p->ss = ss;
    p->mint = mint;
    p->maxt = maxt;
    p->keep_stale = keep_stale;
    p->max_samples = q->max_samples;
    p->cur = NULL;
    p->next_ser = 0;
    p->job = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return p;
}

bool ev_prefetch_next(struct ev_prefetch *p, const struct dw_label **labels, size_t *nlabels,
                      struct samples *s)
{
    if (p->cur && p->next_ser == p->cur->nser) {
        pthread_mutex_lock(&p->mu);
        p->cur->full = false;
        p->cons = (p->cons + 1) % PF_RING;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        p->cur = NULL;
    }
    if (!p->cur) {
        pthread_mutex_lock(&p->mu);
        struct pf_batch *b = &p->ring[p->cons];
        while (!b->full && !p->done)
            pthread_cond_wait(&p->cv, &p->mu);
        bool ok = b->full;
        pthread_mutex_unlock(&p->mu);
        if (!ok)
            return false;
        p->cur = b;
        p->next_ser = 0;
    }
    struct pf_batch *b = p->cur;
    const struct pf_ser *x = &b->ser[p->next_ser++];
    if (x->nlab > p->labels_cap) {
        p->labels_cap = x->nlab;
        p->labels = dw_realloc(p->labels, x->nlab * sizeof *p->labels);
    }
    for (size_t i = 0; i < x->nlab; i++) {
        p->labels[i].name = b->str + b->lab[x->lab + i].name;
        p->labels[i].value = b->str + b->lab[x->lab + i].value;
    }
    *labels = p->labels;
    *nlabels = x->nlab;
    s->t = b->t + x->smp;
    s->v = b->v + x->smp;
    s->n = s->cap = x->n;
    return true;
}

int ev_prefetch_end(struct evq *q, struct ev_prefetch **pp)
{
    struct ev_prefetch *p = *pp;
    if (!p)
        return 0;
    *pp = NULL;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    while (!p->done)
        pthread_cond_wait(&p->cv, &p->mu);
    bool too_many = p->too_many;
    p->released = true; /* the worker may take the next query (buffers are kept) */
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (too_many)
        return ev_count(q, q->max_samples + 1);
    return 0;
}
