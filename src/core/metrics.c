/*
 * metrics.c - the registry of the daemon's own metrics, written out in the
 * Prometheus text format 0.0.4 by GET /metrics.
 *
 * Families are registered once (usually at start-up) and live until
 * dw_metrics_shutdown(). Children (one per label-value combination) are
 * created on first use. One mutex guards the registry: updates are a few
 * additions, far below the cost of the requests they count.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

enum kind { COUNTER, GAUGE, HISTOGRAM };

struct child {
    char **values;
    double value;      /* counter/gauge */
    double sum;        /* histogram */
    uint64_t *buckets; /* histogram: cumulative counts computed on write */
    uint64_t count;
};

struct dw_metric {
    char *name;
    char *help;
    enum kind kind;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    struct child *children;
    size_t nchildren, cap;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dw_metric **families;
static size_t nfamilies, families_cap;

static char **split_labels(const char *names, size_t *n)
{
    *n = 0;
    if (!names || !*names)
        return NULL;
    char **out = NULL;
    size_t cap = 0;
    const char *p = names;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        out = dw_grow(out, &cap, *n + 1, sizeof *out);
        out[(*n)++] = dw_strndup(p, len);
        p += len + (comma ? 1 : 0);
    }
    return out;
}

static struct dw_metric *reg(const char *name, const char *help, enum kind kind, const char *labels,
                             const double *bounds, size_t nbounds)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < nfamilies; i++) {
        if (strcmp(families[i]->name, name) == 0) {
            pthread_mutex_unlock(&reg_lock);
            return families[i];
        }
    }
    struct dw_metric *m = dw_calloc(1, sizeof *m);
    m->name = dw_strdup(name);
    m->help = dw_strdup(help);
    m->kind = kind;
    m->labels = split_labels(labels, &m->nlabels);
    if (nbounds) {
        m->bounds = dw_malloc(nbounds * sizeof *bounds);
        memcpy(m->bounds, bounds, nbounds * sizeof *bounds);
        m->nbounds = nbounds;
    }
    families = dw_grow(families, &families_cap, nfamilies + 1, sizeof *families);
    families[nfamilies++] = m;
    pthread_mutex_unlock(&reg_lock);
    return m;
}

struct dw_metric *dw_metric_counter(const char *name, const char *help, const char *labels)
{
    return reg(name, help, COUNTER, labels, NULL, 0);
}

struct dw_metric *dw_metric_gauge(const char *name, const char *help, const char *labels)
{
    return reg(name, help, GAUGE, labels, NULL, 0);
}

struct dw_metric *dw_metric_histogram(const char *name, const char *help, const char *labels,
                                      const double *bounds, size_t nbounds)
{
    return reg(name, help, HISTOGRAM, labels, bounds, nbounds);
}

/* Caller holds reg_lock. */
static struct child *child_for(struct dw_metric *m, const char *const *values)
{
    for (size_t i = 0; i < m->nchildren; i++) {
        struct child *c = &m->children[i];
        size_t j;
        for (j = 0; j < m->nlabels; j++)
            if (strcmp(c->values[j], values[j] ? values[j] : "") != 0)
                break;
        if (j == m->nlabels)
            return c;
    }
    m->children = dw_grow(m->children, &m->cap, m->nchildren + 1, sizeof *m->children);
    struct child *c = &m->children[m->nchildren++];
    memset(c, 0, sizeof *c);
    if (m->nlabels) {
        c->values = dw_malloc(m->nlabels * sizeof *c->values);
        for (size_t j = 0; j < m->nlabels; j++)
            c->values[j] = dw_strdup(values[j] ? values[j] : "");
    }
    if (m->kind == HISTOGRAM)
        c->buckets = dw_calloc(m->nbounds + 1, sizeof *c->buckets);
    return c;
}

void dw_metric_add(struct dw_metric *m, const char *const *values, double delta)
{
    pthread_mutex_lock(&reg_lock);
    child_for(m, values)->value += delta;
    pthread_mutex_unlock(&reg_lock);
}

void dw_metric_set(struct dw_metric *m, const char *const *values, double value)
{
    pthread_mutex_lock(&reg_lock);
    child_for(m, values)->value = value;
    pthread_mutex_unlock(&reg_lock);
}

void dw_metric_observe(struct dw_metric *m, const char *const *values, double v)
{
    pthread_mutex_lock(&reg_lock);
    struct child *c = child_for(m, values);
    size_t i = 0;
    while (i < m->nbounds && v > m->bounds[i])
        i++;
    c->buckets[i]++;
    c->count++;
    c->sum += v;
    pthread_mutex_unlock(&reg_lock);
}

static void free_child(struct dw_metric *m, struct child *c)
{
    for (size_t j = 0; j < m->nlabels; j++)
        free(c->values[j]);
    free(c->values);
    free(c->buckets);
}

void dw_metric_reset(struct dw_metric *m)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < m->nchildren; i++)
        free_child(m, &m->children[i]);
    m->nchildren = 0;
    pthread_mutex_unlock(&reg_lock);
}

static void write_number(struct dw_buf *out, double v)
{
    if (isnan(v))
        dw_buf_puts(out, "NaN");
    else if (isinf(v))
        dw_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(int64_t)v && fabs(v) < 1e15)
        dw_buf_printf(out, "%lld", (long long)v);
    else {
        /* Shortest text that reads back as the same double, like Go's 'g', -1. */
        char tmp[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strtod(tmp, NULL) == v)
                break;
        }
        dw_buf_puts(out, tmp);
    }
}

static void write_labels(struct dw_buf *out, const struct dw_metric *m, const struct child *c,
                         const char *le)
{
    if (!m->nlabels && !le)
        return;
    dw_buf_putc(out, '{');
    for (size_t j = 0; j < m->nlabels; j++) {
        dw_buf_printf(out, "%s%s=\"", j ? "," : "", m->labels[j]);
        dw_buf_put_label_value(out, c->values[j]);
        dw_buf_putc(out, '"');
    }
    if (le)
        dw_buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    dw_buf_putc(out, '}');
}

static void write_family(struct dw_buf *out, const struct dw_metric *m)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    dw_buf_printf(out, "# HELP %s ", m->name);
    for (const char *h = m->help; *h; h++)
        dw_buf_puts(out, *h == '\n' ? "\\n" : *h == '\\' ? "\\\\" : (char[]){*h, 0});
    dw_buf_printf(out, "\n# TYPE %s %s\n", m->name, type_names[m->kind]);
    for (size_t i = 0; i < m->nchildren; i++) {
        const struct child *c = &m->children[i];
        if (m->kind != HISTOGRAM) {
            dw_buf_puts(out, m->name);
            write_labels(out, m, c, NULL);
            dw_buf_putc(out, ' ');
            write_number(out, c->value);
            dw_buf_putc(out, '\n');
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b <= m->nbounds; b++) {
            char le[32];
            cum += c->buckets[b];
            if (b < m->nbounds) {
                struct dw_buf tmp;
                dw_buf_init(&tmp, 0);
                write_number(&tmp, m->bounds[b]);
                dw_strlcpy(le, tmp.data, sizeof le);
                dw_buf_release(&tmp);
            } else {
                dw_strlcpy(le, "+Inf", sizeof le);
            }
            dw_buf_printf(out, "%s_bucket", m->name);
            write_labels(out, m, c, le);
            dw_buf_printf(out, " %llu\n", (unsigned long long)cum);
        }
        dw_buf_printf(out, "%s_sum", m->name);
        write_labels(out, m, c, NULL);
        dw_buf_putc(out, ' ');
        write_number(out, c->sum);
        dw_buf_printf(out, "\n%s_count", m->name);
        write_labels(out, m, c, NULL);
        dw_buf_printf(out, " %llu\n", (unsigned long long)c->count);
    }
}

void dw_metrics_write(struct dw_buf *out)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < nfamilies; i++)
        write_family(out, families[i]);
    pthread_mutex_unlock(&reg_lock);
}

void dw_metrics_shutdown(void)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < nfamilies; i++) {
        struct dw_metric *m = families[i];
        for (size_t k = 0; k < m->nchildren; k++)
            free_child(m, &m->children[k]);
        for (size_t j = 0; j < m->nlabels; j++)
            free(m->labels[j]);
        free(m->labels);
        free(m->children);
        free(m->bounds);
        free(m->name);
        free(m->help);
        free(m);
    }
    free(families);
    families = NULL;
    nfamilies = families_cap = 0;
    pthread_mutex_unlock(&reg_lock);
}
