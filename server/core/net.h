/* net.h - socket helpers: listening sockets and address text. */
#ifndef COHTTPD_CORE_NET_H
#define COHTTPD_CORE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * Creates a non-blocking, close-on-exec listening socket bound to addr.
 * reuseport sets SO_REUSEPORT (one socket per worker; the kernel spreads
 * connections). For AF_UNIX a stale socket file is replaced. TCP sockets get
 * SO_REUSEADDR, TCP_NODELAY (inherited by accepted sockets), TCP_DEFER_ACCEPT
 * and TCP_FASTOPEN where available.
 * Returns the fd or -errno.
 */
int net_listen(const struct sockaddr *addr, socklen_t addr_len, bool reuseport, int backlog);

/*
 * Tells whether addr is free to listen on, by binding a socket without
 * SO_REUSEPORT and closing it again: another process listening there (even
 * one that set SO_REUSEPORT, which would otherwise let a second server
 * share the port silently) makes it -EADDRINUSE. Returns 0 or -errno.
 * Call it before binding a group of SO_REUSEPORT sockets.
 */
int net_probe(const struct sockaddr *addr, socklen_t addr_len);

/* Formats addr as "1.2.3.4:80", "[::1]:80" or "unix:/path" into out. */
void net_addr_text(const struct sockaddr *addr, socklen_t addr_len, char *out, size_t cap);

#endif
