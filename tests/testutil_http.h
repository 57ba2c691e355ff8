/*
 * testutil_http.h - a tiny scripted HTTP/1.1 receiver on 127.0.0.1 in a
 * thread of the test program: one connection at a time, each request
 * recorded (head, body and arrival time), answered from a script (then a
 * default) with a status, extra header lines, a body and an optional delay.
 */
#ifndef DW_TESTUTIL_HTTP_H
#define DW_TESTUTIL_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

struct http_answer {
    int status;
    const char *headers; /* extra header lines, each ending in \r\n */
    const char *body;    /* NULL: "ok" */
    int delay_ms;        /* before answering */
};

struct http_request {
    char *head; /* request line and headers */
    char *body;
    int64_t at_ns; /* dw_mono_ns() when it was read */
};

struct http_server {
    int fd, port;
    pthread_t tid;
    atomic_bool stop;
    pthread_mutex_t mu;
    struct http_answer script[16]; /* answers to the first requests; then the default */
    size_t nscript;
    struct http_answer dflt;
    struct http_request reqs[64];
    size_t nreqs;
};

/* Content-Length of a request head, 0 when absent. */
static inline size_t http_content_length(const char *head, const char *end)
{
    const char *cl = strcasestr(head, "Content-Length:");
    if (!cl || cl > end)
        return 0;
    for (cl += 15; *cl == ' '; cl++)
        ;
    size_t n = 0;
    while (*cl >= '0' && *cl <= '9')
        n = n * 10 + (size_t)(*cl++ - '0');
    return n;
}

static inline bool http_read_request(int c, struct dw_buf *b, size_t *head_len, size_t *body_len)
{
    char chunk[4096];
    for (;;) {
        char *end = b->len ? strstr(b->data, "\r\n\r\n") : NULL;
        if (end) {
            *head_len = (size_t)(end - b->data) + 4;
            *body_len = http_content_length(b->data, end);
            if (b->len >= *head_len + *body_len)
                return true;
        }
        ssize_t r = recv(c, chunk, sizeof chunk, 0);
        if (r <= 0)
            return false;
        dw_buf_append(b, chunk, (size_t)r);
    }
}

static inline struct http_answer http_record(struct http_server *s, const struct dw_buf *b,
                                             size_t head, size_t body)
{
    pthread_mutex_lock(&s->mu);
    size_t i = s->nreqs;
    if (i < DW_ARRAY_LEN(s->reqs)) {
        s->reqs[i] = (struct http_request){.head = dw_strndup(b->data, head),
                                           .body = dw_strndup(b->data + head, body),
                                           .at_ns = dw_mono_ns()};
        s->nreqs++;
    }
    struct http_answer a = i < s->nscript ? s->script[i] : s->dflt;
    pthread_mutex_unlock(&s->mu);
    return a;
}

static inline void http_serve_one(struct http_server *s, int c)
{
    struct dw_buf b;
    dw_buf_init(&b, 1 << 20);
    size_t head, body;
    if (http_read_request(c, &b, &head, &body)) {
        struct http_answer a = http_record(s, &b, head, body);
        for (int t = 0; t < a.delay_ms && !atomic_load(&s->stop); t += 10)
            usleep(10000);
        const char *text = a.body ? a.body : "ok";
        char *resp = dw_asprintf("HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n"
                                 "%s\r\n%s",
                                 a.status, strlen(text), a.headers ? a.headers : "", text);
        send(c, resp, strlen(resp), MSG_NOSIGNAL);
        free(resp);
    }
    dw_buf_release(&b);
    close(c);
}

static inline void *http_server_main(void *arg)
{
    struct http_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c >= 0)
            http_serve_one(s, c);
    }
    return NULL;
}

/* A listening socket on 127.0.0.1 with an ephemeral port; *port set. */
static inline int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ASSERT_EQ_INT(listen(fd, 64), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

static inline struct http_server *http_server_start(void)
{
    struct http_server *s = dw_calloc(1, sizeof *s);
    s->dflt = (struct http_answer){.status = 200};
    pthread_mutex_init(&s->mu, NULL);
    s->fd = listen_loopback(&s->port);
    pthread_create(&s->tid, NULL, http_server_main, s);
    return s;
}

static inline void http_server_script(struct http_server *s, const struct http_answer *a, size_t n)
{
    pthread_mutex_lock(&s->mu);
    memcpy(s->script, a, n * sizeof *a);
    s->nscript = n;
    pthread_mutex_unlock(&s->mu);
}

static inline void http_server_default(struct http_server *s, struct http_answer a)
{
    pthread_mutex_lock(&s->mu);
    s->dflt = a;
    pthread_mutex_unlock(&s->mu);
}

static inline size_t http_server_count(struct http_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static inline void http_server_stop(struct http_server **ps)
{
    struct http_server *s = *ps;
    atomic_store(&s->stop, true);
    pthread_join(s->tid, NULL);
    close(s->fd);
    for (size_t i = 0; i < s->nreqs; i++) {
        free(s->reqs[i].head);
        free(s->reqs[i].body);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}

#endif
