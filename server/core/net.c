/* net.c - socket helpers: listening sockets and address text. */
#include "core/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void net_tcp_options(int fd)
{
    int one = 1, secs = 1, qlen = 256;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Accepted sockets inherit it: no setsockopt per connection. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Wake the server only when the request has arrived. */
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
    setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof qlen);
}

/* A leftover socket file from an earlier run is replaced; anything else at
 * the path is left alone (bind then fails with EADDRINUSE). */
static void net_unlink_stale(const struct sockaddr *addr)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)(const void *)addr;
    struct stat st;

    if (sun->sun_path[0] && lstat(sun->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(sun->sun_path);
}

int net_listen(const struct sockaddr *addr, socklen_t addr_len, bool reuseport, int backlog)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, err;

    if (fd < 0)
        return -errno;
    if (addr->sa_family == AF_UNIX) {
        net_unlink_stale(addr);
    } else {
        net_tcp_options(fd);
        if (addr->sa_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
            goto fail;
    }
    if (bind(fd, addr, addr_len) < 0 || listen(fd, backlog) < 0)
        goto fail;
    return fd;
fail:
    err = errno;
    close(fd);
    return -err;
}

int net_probe(const struct sockaddr *addr, socklen_t addr_len)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, r = 0;

    if (fd < 0)
        return -errno;
    /* SO_REUSEADDR only lets TIME_WAIT leftovers through, not listeners. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, addr, addr_len) < 0)
        r = -errno;
    close(fd);
    return r;
}

void net_addr_text(const struct sockaddr *addr, socklen_t addr_len, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN];

    (void)addr_len;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)addr;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, ntohs(in->sin_port));
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)addr;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (addr->sa_family == AF_UNIX) {
        snprintf(out, cap, "unix:%s", ((const struct sockaddr_un *)(const void *)addr)->sun_path);
    } else {
        snprintf(out, cap, "?");
    }
}
