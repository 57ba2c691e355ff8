/*
 * listen.c - turns a listen address ("127.0.0.1:9107", "[::1]:0", ":9107",
 * "localhost:9107") into a bound, listening socket for libmicrohttpd.
 *
 * We bind the socket ourselves instead of letting libmicrohttpd do it so a
 * failure reaches the operator as one clear sentence with the real errno
 * ("Address already in use") and what to do about it.
 *
 * ":port" means every interface: an IPv6 dual-stack socket when the host
 * has IPv6, IPv4 0.0.0.0 otherwise. Port 0 asks the kernel for a free port;
 * the bound port is read back with getsockname().
 *
 * Threads: called once from dw_http_start() on the caller's thread.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"

/* Splits into host (NULL for all interfaces) and port text; both heap. */
static int split_listen(const char *addr, char **host, char **port)
{
    const char *colon;
    *host = *port = NULL;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        *host = dw_strndup(addr + 1, (size_t)(close - addr - 1));
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
            return -1; /* no port, or a bare IPv6 address that needs brackets */
        if (colon > addr)
            *host = dw_strndup(addr, (size_t)(colon - addr));
    }
    int64_t port_num;
    if (dw_parse_int64(colon + 1, &port_num) < 0 || port_num < 0 || port_num > 65535 ||
        (*host && !**host)) {
        free(*host);
        *host = NULL;
        return -1;
    }
    *port = dw_strdup(colon + 1);
    return 0;
}

/* Tries each address in turn; returns a listening fd or -1 with errno set. */
static int bind_first(const struct addrinfo *list)
{
    int saved = EADDRNOTAVAIL;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int on = 1, off = 0;
        /* Restarting must not wait for TIME_WAIT sockets of the last run. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
            return fd;
        saved = errno;
        close(fd);
    }
    errno = saved;
    return -1;
}

static int resolve_and_bind(const char *host, const char *port, int family, int *gai_err)
{
    struct addrinfo hints = {0}, *list = NULL;
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    *gai_err = getaddrinfo(host, port, &hints, &list);
    if (*gai_err != 0)
        return -1;
    int fd = bind_first(list);
    int saved = errno;
    freeaddrinfo(list);
    errno = saved;
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static char *bind_error(const char *addr, int err)
{
    const char *hint = "";
    if (err == EADDRINUSE)
        hint = "; stop the other process or pass --listen";
    else if (err == EACCES)
        hint = "; ports below 1024 need privileges, pick another with --listen";
    else if (err == EADDRNOTAVAIL)
        hint = "; the address is not one of this host's, check --listen";
    return dw_asprintf("cannot listen on %s: %s%s", addr, strerror(err), hint);
}

int dw_http_listen_open(const char *addr, int *port, char **err)
{
    char *host, *port_text;
    int gai_err = 0, fd;
    if (split_listen(addr, &host, &port_text) < 0) {
        *err = dw_asprintf("invalid listen address '%s': expected host:port, [ipv6]:port "
                           "or :port",
                           addr);
        return -1;
    }
    if (host) {
        fd = resolve_and_bind(host, port_text, AF_UNSPEC, &gai_err);
    } else {
        fd = resolve_and_bind(NULL, port_text, AF_INET6, &gai_err);
        if (fd < 0 && (gai_err != 0 || errno == EAFNOSUPPORT))
            fd = resolve_and_bind(NULL, port_text, AF_INET, &gai_err);
    }
    int saved = errno;
    free(host);
    free(port_text);
    if (fd < 0) {
        *err = gai_err ? dw_asprintf("cannot listen on %s: %s", addr, gai_strerror(gai_err))
                       : bind_error(addr, saved);
        return -1;
    }
    *port = bound_port(fd);
    return fd;
}
