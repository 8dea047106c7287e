/* io.h - coroutine I/O: calls that read like blocking ones and yield to the loop. */
#ifndef COHTTPD_CORE_IO_H
#define COHTTPD_CORE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/loop.h"

/*
 * Every call here runs inside a coroutine of w->loop, on a non-blocking fd
 * registered with loop_watch_add() (the _nowait forms never yield and may
 * run anywhere on the loop's thread). It tries the syscall first and yields to
 * the loop only when the kernel says EAGAIN, so a ready fd costs one syscall.
 * deadline is an absolute loop_now() time in ms (0: none). Each call returns
 * what the syscall would (bytes, an fd) or -errno; -ETIMEDOUT when the
 * deadline passed first; -ECANCELED when woken by loop_wakeup().
 */

/*
 * Minimum data rates. An owner that hangs a struct io_rates on its watch
 * (w->rates) makes the calls below keep an account for each direction
 * whose window_ms is not 0. No single wait for that direction lasts more
 * than window_ms: it bounds the gap between two moves of data however
 * long the call, where a deadline bounds the whole call. With a rate, the
 * account starts with window_ms of credit, every byte moved earns 1000 /
 * rate ms more, and every millisecond spent waiting for the fd (the peer
 * is slow) spends one: the peer must move data at rate bytes per second
 * on average, after a grace of window_ms (Apache's mod_reqtimeout MinRate
 * works so). When a wait would outlast the credit, the call returns
 * -ETIMEDOUT at the moment it runs out and the account is marked tripped.
 * Time the caller spends away from the fd is not counted, so a slow
 * producer is never blamed on its peer. The account is settled only when
 * a call has to wait; otherwise a call costs one addition. co_poll()
 * keeps the accounts that have a rate, for each direction it waits for
 * on a watch that has one: it returns -ETIMEDOUT, the account tripped,
 * when the credit runs out first; the window alone does not bound its
 * waits (its deadline does).
 */
struct io_rate {
    uint64_t rate;      /* bytes per second; 0: none */
    uint64_t window_ms; /* the longest wait, and the first credit; 0: no account */
    int64_t credit;     /* in bytes x 1000 (rate per ms of waiting) */
    uint64_t unsettled; /* bytes moved since the last settlement */
    uint64_t bytes;     /* bytes moved and settled */
    uint64_t waited_ms; /* time spent waiting */
    bool tripped;       /* a wait ran out of credit */
};

struct io_rates {
    struct io_rate in;  /* reads (co_read) */
    struct io_rate out; /* writes (co_write, co_writev, co_sendmsg, co_sendfile) */
};

/* Starts a fresh account: rate bytes per second (0: none) with window_ms
 * of credit (0: no account). Never yields. */
void io_rate_start(struct io_rate *r, uint64_t rate, uint64_t window_ms);

/* What the peer achieved: bytes moved per second spent waiting for it (0
 * when it never waited). Below rate when the account tripped. */
uint64_t io_rate_seen(const struct io_rate *r);

/* Reads at most len bytes, returning as soon as any arrive: > 0 bytes, 0 at
 * end of file. A read shorter than len marks the fd drained (no extra read to
 * hit EAGAIN). */
ssize_t co_read(struct loop_watch *w, void *buf, size_t len, uint64_t deadline);

/* Reads what is there, without waiting: > 0 bytes, 0 at end of file,
 * -EAGAIN when nothing is (no syscall when the watch already knows it is
 * drained), or -errno. Never yields; no deadline. */
ssize_t co_read_nowait(struct loop_watch *w, void *buf, size_t len);

/* Writes what fits, without waiting: the bytes the kernel took now (> 0,
 * possibly fewer than asked; iov is not modified), 0 when there was nothing
 * to write, -EAGAIN when nothing fits, or -errno (-EPIPE for a closed peer,
 * never SIGPIPE on a socket). Never yields; no deadline. */
ssize_t co_writev_nowait(struct loop_watch *w, struct iovec *iov, int iovcnt);
ssize_t co_write_nowait(struct loop_watch *w, const void *buf, size_t len);

/* Writes all len bytes, waiting as needed; returns len or -errno (bytes
 * written before an error are lost to the caller: the stream is broken). */
ssize_t co_write(struct loop_watch *w, const void *buf, size_t len, uint64_t deadline);

/* Writes all of iov[0..iovcnt) with as few writev calls as the kernel allows;
 * the iovec array is modified. MSG_NOSIGNAL semantics: a closed peer is
 * -EPIPE, never SIGPIPE (sockets use sendmsg). Returns total or -errno. */
ssize_t co_writev(struct loop_watch *w, struct iovec *iov, int iovcnt, uint64_t deadline);

/* Same as co_writev, with sendmsg() flags (MSG_MORE to hold a head for a
 * following sendfile). w->fd must be a socket. */
ssize_t co_sendmsg(struct loop_watch *w, struct iovec *iov, int iovcnt, int flags,
                   uint64_t deadline);

/* Sends count bytes of in_fd from *offset with sendfile(2), advancing
 * *offset; returns count, or -errno (with *offset telling how far it got);
 * -ENODATA if the file ended before count bytes. */
ssize_t co_sendfile(struct loop_watch *w, int in_fd, off_t *offset, size_t count,
                    uint64_t deadline);

/* Accepts a connection (accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC). */
int co_accept(struct loop_watch *w, struct sockaddr *addr, socklen_t *addrlen, uint64_t deadline);

/* Connects the non-blocking socket w->fd to addr; returns 0 or -errno. */
int co_connect(struct loop_watch *w, const struct sockaddr *addr, socklen_t addrlen,
               uint64_t deadline);

/* Waits, under one deadline, until one of n watches (sockets, pipes, a
 * pidfd: anything epoll takes) is ready for events[i] (LOOP_READ and/or
 * LOOP_WRITE; a hang-up counts as both). Returns a bit mask of the ready
 * indexes (bit i for watches[i], n <= 31; more is -EINVAL), -ETIMEDOUT,
 * -ECANCELED, -EBADF when a watch is not (or no longer) in the loop, or
 * -EBUSY when another coroutine already waits on a watch for the same
 * direction (see loop.h). A watch already marked ready returns at once
 * without yielding. */
int co_poll(struct loop_watch *const *watches, const uint32_t *events, size_t n, uint64_t deadline);

/* Sleeps until the loop's clock reaches deadline. Returns 0, or -ECANCELED. */
int co_sleep(struct loop *loop, uint64_t deadline);

#endif
