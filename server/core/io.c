/* io.c - coroutine I/O: the syscall first, a park in the loop on EAGAIN, -errno out. */
#include "core/io.h"

#include <errno.h>
#include <limits.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "core/sys.h"

/*
 * Every call follows one shape: while the watch's ready bit (or LOOP_HUP) is
 * set, try the syscall; on EAGAIN clear the bit and park in loop_wait() for
 * it with the deadline. Each pass of a loop either makes progress, returns,
 * or parks the coroutine; EINTR is retried at most IO_MAX_EINTR times.
 *
 * Two private bits ride in w->ready beside the LOOP_* ones: LOOP_EOF,
 * set by loop.c on EPOLLRDHUP (so a short read after it is not "drained":
 * the end of file is still to be read, and no further edge will say so),
 * and IO_NOT_SOCKET, set here the first time sendmsg() answers ENOTSOCK so
 * later writes to that pipe go straight to writev(). Writing to a pipe whose
 * reader is gone, and sendfile() to a closed socket, raise SIGPIPE: the
 * daemon ignores that signal.
 */
#define IO_NOT_SOCKET (1u << 31)
#define IO_MAX_EINTR  100
#define IO_POLL_MAX   31

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static bool io_ready(const struct loop_watch *w, uint32_t bit)
{
    return (w->ready & (bit | LOOP_HUP)) != 0;
}

/* The kernel said EAGAIN: nothing is pending in that direction, not even a
 * hang-up (a real one would have answered otherwise). */
static void io_drained(struct loop_watch *w, uint32_t bit)
{
    w->ready &= ~(bit | LOOP_HUP);
    if (bit == LOOP_READ)
        w->ready &= ~LOOP_EOF;
}

static int io_reason(int reason)
{
    switch (reason) {
    case LOOP_WAKE_TIMEOUT: return -ETIMEDOUT;
    case LOOP_WAKE_WAKEUP: return -ECANCELED;
    case LOOP_WAKE_ERROR: return -ENOMEM;
    case LOOP_WAKE_BUSY: return -EBUSY;
    default: return 0;
    }
}

void io_rate_start(struct io_rate *r, uint64_t rate, uint64_t window_ms)
{
    *r = (struct io_rate){
        .rate = rate,
        .window_ms = window_ms,
        .credit = (int64_t)(window_ms * rate),
    };
}

uint64_t io_rate_seen(const struct io_rate *r)
{
    return r->waited_ms ? (r->bytes + r->unsettled) * 1000 / r->waited_ms : 0;
}

/* The account of w's direction bit, or NULL when it keeps none. */
static struct io_rate *io_rate_of(const struct loop_watch *w, uint32_t bit)
{
    struct io_rate *r;

    if (!w->rates)
        return NULL;
    r = bit == LOOP_READ ? &w->rates->in : &w->rates->out;
    return r->window_ms ? r : NULL;
}

/* n bytes moved in direction bit: one addition, settled at the next wait. */
static void io_count(const struct loop_watch *w, uint32_t bit, size_t n)
{
    struct io_rate *r = io_rate_of(w, bit);

    if (r)
        r->unsettled += n;
}

/* The bytes moved since the last settlement earn their credit. Returns
 * the milliseconds of waiting the credit still pays for (0: less than
 * one). An account with a rate only. */
static uint64_t io_rate_earn(struct io_rate *r)
{
    r->credit += (int64_t)r->unsettled * 1000;
    r->bytes += r->unsettled;
    r->unsettled = 0;
    return r->credit < (int64_t)r->rate ? 0 : (uint64_t)r->credit / r->rate;
}

/* Before a wait starting at now: the bytes moved since the last one earn
 * their credit. Returns when the wait must end: window_ms from now, or
 * sooner when the credit runs out first (*by_rate is then set); 0 when
 * it is spent already. */
static uint64_t io_rate_settle(struct io_rate *r, uint64_t now, bool *by_rate)
{
    uint64_t left;

    *by_rate = false;
    if (!r->rate)
        return now + r->window_ms;
    left = io_rate_earn(r);
    if (left == 0)
        return 0; /* less than a millisecond of waiting left */
    if (left >= r->window_ms)
        return now + r->window_ms;
    *by_rate = true;
    return now + left;
}

/* Parks until w shows bit (or a hang-up). Returns 0, -ETIMEDOUT (the
 * deadline or the account's window passed, or the rate's credit ran out:
 * r->tripped), -ECANCELED, or -EBADF when the watch was removed from the
 * loop. */
static int io_wait(struct loop_watch *w, uint32_t bit, uint64_t deadline)
{
    struct loop_watch *const one[1] = {w};
    struct io_rate *r = io_rate_of(w, bit);
    uint64_t start, due = 0, waited;
    bool by_rate = false;
    int rc;

    if (!w->loop)
        return -EBADF;
    start = loop_now(w->loop);
    if (r && (due = io_rate_settle(r, start, &by_rate)) == 0) {
        r->tripped = true;
        return -ETIMEDOUT;
    }
    if (deadline && deadline <= due)
        due = 0; /* the caller's deadline comes first */
    rc = io_reason(loop_wait(w->loop, one, &bit, 1, due ? due : deadline));
    if (r) {
        waited = loop_now(w->loop) - start;
        r->credit -= (int64_t)(waited * r->rate);
        r->waited_ms += waited;
        if (rc == -ETIMEDOUT && due && by_rate)
            r->tripped = true;
    }
    if (rc == 0 && !w->loop)
        return -EBADF;
    return rc;
}

/* One read without waiting: bytes, 0 at end of file, -EAGAIN (the ready
 * bit is cleared) or -errno. A read shorter than len marks w drained. */
static ssize_t io_read_once(struct loop_watch *w, void *buf, size_t len)
{
    unsigned intr = 0;
    ssize_t n;

    for (;;) {
        n = sys_read(w->fd, buf, len);
        if (n >= 0) {
            io_count(w, LOOP_READ, (size_t)n);
            if (n > 0 && (size_t)n < len && !(w->ready & (LOOP_HUP | LOOP_EOF)))
                w->ready &= ~LOOP_READ; /* drained */
            return n;
        }
        if (errno == EINTR && ++intr < IO_MAX_EINTR)
            continue;
        if (errno == EAGAIN)
            io_drained(w, LOOP_READ);
        return -errno;
    }
}

ssize_t co_read(struct loop_watch *w, void *buf, size_t len, uint64_t deadline)
{
    ssize_t n;
    int rc;

    for (;;) {
        if (!io_ready(w, LOOP_READ) && (rc = io_wait(w, LOOP_READ, deadline)) < 0)
            return rc;
        n = io_read_once(w, buf, len);
        if (n != -EAGAIN)
            return n;
    }
}

ssize_t co_read_nowait(struct loop_watch *w, void *buf, size_t len)
{
    if (!io_ready(w, LOOP_READ))
        return -EAGAIN;
    return io_read_once(w, buf, len);
}

/* One send() or sendmsg() (sockets) or writev() (anything else, when
 * allowed). One buffer goes by send(): the kernel then copies no msghdr and
 * no iovec array in, which is most of what sendmsg() costs beyond it. */
static ssize_t io_send_once(struct loop_watch *w, struct iovec *iov, int iovcnt, int flags,
                            bool any_fd)
{
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n;

    if (!(w->ready & IO_NOT_SOCKET) || !any_fd) {
        if (iovcnt == 1)
            n = sys_send(w->fd, iov->iov_base, iov->iov_len, flags | MSG_NOSIGNAL);
        else
            n = sendmsg(w->fd, &msg, flags | MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno != ENOTSOCK || !any_fd)
            return -errno;
        w->ready |= IO_NOT_SOCKET;
    }
    n = writev(w->fd, iov, iovcnt);
    return n < 0 ? -errno : n;
}

/* Steps *iov past n written bytes and any empty entries. */
static void io_advance(struct iovec **iov, int *iovcnt, size_t n)
{
    while (*iovcnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*iovcnt)--;
    }
    if (*iovcnt > 0 && n > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

static ssize_t io_sendv(struct loop_watch *w, struct iovec *iov, int iovcnt, int flags,
                        uint64_t deadline, bool any_fd)
{
    size_t total = 0;
    unsigned intr = 0;
    ssize_t n;
    int rc;

    io_advance(&iov, &iovcnt, 0);
    while (iovcnt > 0) {
        if (!io_ready(w, LOOP_WRITE) && (rc = io_wait(w, LOOP_WRITE, deadline)) < 0)
            return rc;
        n = io_send_once(w, iov, iovcnt < IOV_MAX ? iovcnt : IOV_MAX, flags, any_fd);
        if (n > 0) {
            total += (size_t)n;
            io_count(w, LOOP_WRITE, (size_t)n);
            io_advance(&iov, &iovcnt, (size_t)n);
        } else if (n == 0) {
            return -EIO; /* no progress on a non-empty write: never loop on it */
        } else if (n == -EINTR && ++intr < IO_MAX_EINTR) {
            continue;
        } else if (n == -EAGAIN) {
            io_drained(w, LOOP_WRITE);
        } else {
            return n;
        }
    }
    return (ssize_t)total;
}

ssize_t co_writev_nowait(struct loop_watch *w, struct iovec *iov, int iovcnt)
{
    unsigned intr = 0;
    ssize_t n;

    io_advance(&iov, &iovcnt, 0);
    if (iovcnt == 0)
        return 0;
    if (!io_ready(w, LOOP_WRITE))
        return -EAGAIN;
    do {
        n = io_send_once(w, iov, iovcnt < IOV_MAX ? iovcnt : IOV_MAX, 0, true);
    } while (n == -EINTR && ++intr < IO_MAX_EINTR);
    if (n == -EAGAIN)
        io_drained(w, LOOP_WRITE);
    else if (n > 0)
        io_count(w, LOOP_WRITE, (size_t)n);
    return n == 0 ? -EIO : n;
}

ssize_t co_write_nowait(struct loop_watch *w, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    return co_writev_nowait(w, &iov, 1);
}

ssize_t co_write(struct loop_watch *w, const void *buf, size_t len, uint64_t deadline)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    return io_sendv(w, &iov, 1, 0, deadline, true);
}

ssize_t co_writev(struct loop_watch *w, struct iovec *iov, int iovcnt, uint64_t deadline)
{
    return io_sendv(w, iov, iovcnt, 0, deadline, true);
}

ssize_t co_sendmsg(struct loop_watch *w, struct iovec *iov, int iovcnt, int flags,
                   uint64_t deadline)
{
    return io_sendv(w, iov, iovcnt, flags, deadline, false);
}

ssize_t co_sendfile(struct loop_watch *w, int in_fd, off_t *offset, size_t count, uint64_t deadline)
{
    size_t sent = 0;
    unsigned intr = 0;
    ssize_t n;
    int rc;

    while (sent < count) {
        if (!io_ready(w, LOOP_WRITE) && (rc = io_wait(w, LOOP_WRITE, deadline)) < 0)
            return rc;
        n = sendfile(w->fd, in_fd, offset, count - sent);
        if (n > 0) {
            sent += (size_t)n;
            io_count(w, LOOP_WRITE, (size_t)n);
            continue;
        }
        if (n == 0)
            return -ENODATA;
        if (errno == EINTR && ++intr < IO_MAX_EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        io_drained(w, LOOP_WRITE);
    }
    return (ssize_t)sent;
}

int co_accept(struct loop_watch *w, struct sockaddr *addr, socklen_t *addrlen, uint64_t deadline)
{
    unsigned intr = 0;
    int fd, rc;

    for (;;) {
        if (!io_ready(w, LOOP_READ) && (rc = io_wait(w, LOOP_READ, deadline)) < 0)
            return rc;
        fd = accept4(w->fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        /* A connection reset while queued is not the listener's error. */
        if ((errno == EINTR || errno == ECONNABORTED) && ++intr < IO_MAX_EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        io_drained(w, LOOP_READ);
    }
}

int co_connect(struct loop_watch *w, const struct sockaddr *addr, socklen_t addrlen,
               uint64_t deadline)
{
    int err = 0, rc;
    socklen_t len = sizeof err;

    if (connect(w->fd, addr, addrlen) == 0)
        return 0;
    /* EINTR: the connection goes on in the background, as for EINPROGRESS. */
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    io_drained(w, LOOP_WRITE);
    rc = io_wait(w, LOOP_WRITE, deadline);
    if (rc < 0)
        return rc;
    if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

/* Bit i set for each watch ready for events[i] or hung up. */
static int io_poll_mask(struct loop_watch *const *watches, const uint32_t *events, size_t n)
{
    uint32_t mask = 0;

    for (size_t i = 0; i < n; i++) {
        if (io_ready(watches[i], events[i]))
            mask |= UINT32_C(1) << i;
    }
    return (int)mask;
}

static bool io_all_registered(struct loop_watch *const *watches, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!watches[i]->loop)
            return false;
    }
    return true;
}

/* The directions an account is kept for. */
static const uint32_t io_dirs[2] = {LOOP_READ, LOOP_WRITE};

/* The minimum-rate account that a co_poll wait on watch i is charged to
 * in direction dir (LOOP_READ or LOOP_WRITE), or NULL. */
static struct io_rate *io_poll_rate(struct loop_watch *const *watches, const uint32_t *events,
                                    size_t i, uint32_t dir)
{
    struct io_rate *r = events[i] & dir ? io_rate_of(watches[i], dir) : NULL;

    return r && r->rate ? r : NULL;
}

/* Before a co_poll wait starting at now: settles every account it is
 * charged to. Returns when the first one's credit runs out (0: none is
 * charged), or sets *spent (and marks the account tripped) when one has
 * none left. */
static uint64_t io_poll_settle(struct loop_watch *const *watches, const uint32_t *events, size_t n,
                               uint64_t now, bool *spent)
{
    uint64_t due = 0;

    *spent = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < 2; d++) {
            struct io_rate *r = io_poll_rate(watches, events, i, io_dirs[d]);
            uint64_t left;

            if (!r)
                continue;
            left = io_rate_earn(r);
            if (left == 0) {
                r->tripped = *spent = true;
                return 0;
            }
            if (!due || now + left < due)
                due = now + left;
        }
    }
    return due;
}

/* After a co_poll wait of waited ms that ended with rc: charges it to the
 * accounts settled before; one whose credit ran out trips. */
static void io_poll_charge(struct loop_watch *const *watches, const uint32_t *events, size_t n,
                           uint64_t waited, int rc)
{

    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < 2; d++) {
            struct io_rate *r = io_poll_rate(watches, events, i, io_dirs[d]);

            if (!r)
                continue;
            r->credit -= (int64_t)(waited * r->rate);
            r->waited_ms += waited;
            if (rc == -ETIMEDOUT && r->credit < (int64_t)r->rate)
                r->tripped = true;
        }
    }
}

int co_poll(struct loop_watch *const *watches, const uint32_t *events, size_t n, uint64_t deadline)
{
    struct loop *loop;
    uint64_t start, due;
    bool spent;
    int mask, rc;

    /* Bit 31 would make the mask negative, like an error: 31 watches at most. */
    if (n == 0 || n > IO_POLL_MAX)
        return -EINVAL;
    mask = io_poll_mask(watches, events, n);
    if (mask)
        return mask;
    if (!io_all_registered(watches, n))
        return -EBADF;
    loop = watches[0]->loop;
    start = loop_now(loop);
    due = io_poll_settle(watches, events, n, start, &spent);
    if (spent)
        return -ETIMEDOUT;
    if (!due || (deadline && deadline < due))
        due = deadline;
    rc = io_reason(loop_wait(loop, watches, events, n, due));
    io_poll_charge(watches, events, n, loop_now(loop) - start, rc);
    if (rc < 0)
        return rc;
    if (!io_all_registered(watches, n))
        return -EBADF;
    /* The loop resumes an I/O wait only for an edge it asked for. */
    return io_poll_mask(watches, events, n);
}

int co_sleep(struct loop *loop, uint64_t deadline)
{
    if (deadline <= loop_now(loop))
        return 0;
    return loop_wait(loop, NULL, NULL, 0, deadline) == LOOP_WAKE_WAKEUP ? -ECANCELED : 0;
}
