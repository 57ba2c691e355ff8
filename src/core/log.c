/*
 * log.c - structured logs in logfmt, one line per event, to stderr.
 *
 * Threads: any thread may log; each line is formatted into a private buffer
 * and written with one fwrite under a mutex, so lines never interleave.
 * Secrets (tokens, passwords) must never be passed here.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static atomic_int log_level = DW_LOG_INFO;
static FILE *log_stream;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void dw_log_set_level(enum dw_log_level level)
{
    atomic_store(&log_level, (int)level);
}

int dw_log_parse_level(const char *s)
{
    for (size_t i = 0; i < DW_ARRAY_LEN(level_names); i++)
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    return -1;
}

void dw_log_set_stream(void *file)
{
    pthread_mutex_lock(&log_lock);
    log_stream = file;
    pthread_mutex_unlock(&log_lock);
}

void dw_logfmt_value(struct dw_buf *b, const char *value)
{
    if (!value)
        value = "";
    bool quote = *value == '\0';
    for (const char *p = value; *p && !quote; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            quote = true;
    if (!quote) {
        dw_buf_puts(b, value);
        return;
    }
    dw_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        switch (*p) {
        case '"': dw_buf_puts(b, "\\\""); break;
        case '\\': dw_buf_puts(b, "\\\\"); break;
        case '\n': dw_buf_puts(b, "\\n"); break;
        case '\r': dw_buf_puts(b, "\\r"); break;
        case '\t': dw_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                dw_buf_printf(b, "\\x%02x", *p);
            else
                dw_buf_putc(b, (char)*p);
        }
    }
    dw_buf_putc(b, '"');
}

static void emit(enum dw_log_level level, const char *component, const char *msg, va_list *kv)
{
    if ((int)level < atomic_load(&log_level))
        return;
    struct dw_buf b;
    char ts[40];
    dw_buf_init(&b, 0);
    /* Log lines carry real time even under a test clock, plus the clock's. */
    dw_format_rfc3339(dw_now_ms(), ts, sizeof ts);
    dw_buf_printf(&b, "ts=%s level=%s component=", ts, level_names[level]);
    dw_logfmt_value(&b, component);
    dw_buf_puts(&b, " msg=");
    dw_logfmt_value(&b, msg);
    if (kv) {
        const char *key;
        while ((key = va_arg(*kv, const char *)) != NULL) {
            const char *val = va_arg(*kv, const char *);
            dw_buf_printf(&b, " %s=", key);
            dw_logfmt_value(&b, val);
        }
    }
    dw_buf_putc(&b, '\n');
    pthread_mutex_lock(&log_lock);
    FILE *out = log_stream ? log_stream : stderr;
    fwrite(b.data, 1, b.len, out);
    fflush(out);
    pthread_mutex_unlock(&log_lock);
    dw_buf_release(&b);
}

void dw_log_kv(enum dw_log_level level, const char *component, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit(level, component, msg, &ap);
    va_end(ap);
}

void dw_log(enum dw_log_level level, const char *component, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, component, msg, NULL);
}
