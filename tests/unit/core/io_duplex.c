/* Tests of server/core/io.c and loop.c for relaying: a reader and a writer on one socket, the
 * non-blocking forms, one wait over a pipe, a pidfd and a socket. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/io.h"

#include "loop_test.h"

#define BULK (1 << 20)

/* Whether loop.c checks its callers (the same test as loop.c's). */
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__)
#define CHECKED_BUILD 1
#else
#define CHECKED_BUILD 0
#endif

static uint64_t in_ms(struct loop *loop, uint64_t ms) { return loop_now(loop) + ms; }

static void watch(struct loop *loop, struct loop_watch *w, int fd)
{
    *w = (struct loop_watch){.fd = fd};
    cr_assert_eq(loop_watch_add(loop, w), 0);
}

static void unwatch(struct loop_watch *w)
{
    cr_assert_eq(loop_watch_del(w), 0);
    close(w->fd);
}

/* ---- a reader and a writer parked on one socket ---- */

struct relay {
    struct loop *loop;
    struct loop_watch a, b; /* a: the shared socket; b: its peer */
    unsigned char *out;
    size_t drained;
    ssize_t read_rc, write_rc;
    char got;
    int running;
};

static void relay_done(struct relay *r)
{
    if (--r->running == 0)
        loop_stop(r->loop);
}

static void relay_reader(struct coro *co, void *arg)
{
    struct relay *r = arg;

    (void)co;
    r->read_rc = co_read(&r->a, &r->got, 1, in_ms(r->loop, 5000));
    relay_done(r);
}

static void relay_writer(struct coro *co, void *arg)
{
    struct relay *r = arg;

    (void)co;
    r->write_rc = co_write(&r->a, r->out, BULK, in_ms(r->loop, 5000));
    relay_done(r);
}

/* The peer: one byte for the reader first, then it takes the writer's bytes. */
static void relay_peer(struct coro *co, void *arg)
{
    struct relay *r = arg;
    static unsigned char sink[65536];

    (void)co;
    co_sleep(r->loop, in_ms(r->loop, 10));
    cr_assert_eq(co_write(&r->b, "x", 1, in_ms(r->loop, 1000)), 1);
    while (r->drained < BULK) {
        ssize_t n = co_read(&r->b, sink, sizeof sink, in_ms(r->loop, 5000));

        if (n <= 0)
            break;
        r->drained += (size_t)n;
    }
    relay_done(r);
}

static void relay_open(struct relay *r)
{
    int sv[2], small = 4096;

    r->loop = loop_new(STACK);
    cr_assert_not_null(r->loop);
    make_pair(sv);
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    watch(r->loop, &r->a, sv[0]);
    watch(r->loop, &r->b, sv[1]);
    r->out = calloc(1, BULK);
    cr_assert_not_null(r->out);
}

static void relay_close(struct relay *r)
{
    unwatch(&r->a);
    unwatch(&r->b);
    free(r->out);
    loop_free(r->loop);
}

Test(io_duplex, a_reader_and_a_writer_on_one_socket_both_wake)
{
    struct relay r = {.running = 3};

    relay_open(&r);
    loop_spawn(r.loop, relay_reader, &r);
    loop_spawn(r.loop, relay_writer, &r);
    cr_assert_not_null(r.a.waiter, "the reader is parked");
    cr_assert_not_null(r.a.waiter2, "the writer is parked on the same watch");
    cr_assert_neq(r.a.waiter, r.a.waiter2);
    loop_spawn(r.loop, relay_peer, &r);
    run(r.loop);
    cr_assert_eq(r.read_rc, 1, "the reader woke with the byte, not at its deadline");
    cr_assert_eq(r.got, 'x');
    cr_assert_eq(r.write_rc, BULK, "the writer woke each time the peer made room");
    cr_assert_eq(r.drained, BULK);
    cr_assert_null(r.a.waiter);
    cr_assert_null(r.a.waiter2);
    relay_close(&r);
    assert_no_leaks();
}

static void second_reader(struct coro *co, void *arg)
{
    struct relay *r = arg;
    char c;

    (void)co;
    r->write_rc = co_read(&r->a, &c, 1, in_ms(r->loop, 5000));
    relay_done(r);
}

#if CHECKED_BUILD
Test(io_duplex, a_second_reader_on_one_socket_aborts, .signal = SIGABRT)
{
    struct relay r = {.running = 2};

    relay_open(&r);
    loop_spawn(r.loop, relay_reader, &r);
    loop_spawn(r.loop, second_reader, &r); /* a bug: loop.c aborts here */
}
#else
static void late_byte(struct coro *co, void *arg)
{
    struct relay *r = arg;

    (void)co;
    co_sleep(r->loop, in_ms(r->loop, 10));
    cr_assert_eq(co_write(&r->b, "y", 1, in_ms(r->loop, 1000)), 1);
    relay_done(r);
}

Test(io_duplex, a_second_reader_on_one_socket_is_refused)
{
    struct relay r = {.running = 3};

    relay_open(&r);
    loop_spawn(r.loop, relay_reader, &r);
    loop_spawn(r.loop, second_reader, &r);
    cr_assert_eq(r.write_rc, -EBUSY, "the second reader is refused at once");
    loop_spawn(r.loop, late_byte, &r);
    run(r.loop);
    cr_assert_eq(r.read_rc, 1, "the first reader kept its place");
    relay_close(&r);
}
#endif

/* ---- what is there, what fits ---- */

struct nowait {
    struct loop *loop;
    struct loop_watch a, b;
    ssize_t empty, three, eof;
    size_t filled;
    ssize_t full;
    char buf[8];
};

static void nowait_body(struct coro *co, void *arg)
{
    struct nowait *nw = arg;
    static char block[65536];
    ssize_t n;

    (void)co;
    nw->empty = co_read_nowait(&nw->a, nw->buf, sizeof nw->buf);
    cr_assert_eq(co_write_nowait(&nw->b, "abc", 3), 3);
    /* The drained watch learns of the bytes from the loop, not by a read. */
    cr_assert_eq(co_read_nowait(&nw->a, nw->buf, sizeof nw->buf), -EAGAIN);
    cr_assert_eq(co_poll((struct loop_watch *const[]){&nw->a}, (const uint32_t[]){LOOP_READ}, 1,
                         in_ms(nw->loop, 5000)),
                 1);
    nw->three = co_read_nowait(&nw->a, nw->buf, sizeof nw->buf);
    /* Fill b's way to a until nothing fits: each call takes what fits. */
    while ((n = co_write_nowait(&nw->b, block, sizeof block)) > 0)
        nw->filled += (size_t)n;
    nw->full = n;
    shutdown(nw->b.fd, SHUT_WR);
    while ((n = co_read_nowait(&nw->a, block, sizeof block)) > 0 || n == -EAGAIN)
        if (n == -EAGAIN && co_poll((struct loop_watch *const[]){&nw->a},
                                    (const uint32_t[]){LOOP_READ}, 1, in_ms(nw->loop, 5000)) < 0)
            break;
    nw->eof = n;
    loop_stop(nw->loop);
}

Test(io_duplex, nowait_forms_read_what_is_there_and_write_what_fits)
{
    struct nowait nw = {.loop = loop_new(STACK)};
    int sv[2];

    make_pair(sv);
    watch(nw.loop, &nw.a, sv[0]);
    watch(nw.loop, &nw.b, sv[1]);
    loop_spawn(nw.loop, nowait_body, &nw);
    run(nw.loop);
    cr_assert_eq(nw.empty, -EAGAIN, "nothing there: -EAGAIN, no wait");
    cr_assert_eq(nw.three, 3);
    cr_assert_eq(memcmp(nw.buf, "abc", 3), 0);
    cr_assert_gt(nw.filled, 0);
    cr_assert_eq(nw.full, -EAGAIN, "a full socket takes nothing: -EAGAIN");
    cr_assert_eq(nw.eof, 0, "after the data, the end of file");
    unwatch(&nw.a);
    unwatch(&nw.b);
    loop_free(nw.loop);
}

/* ---- one deadline over a pipe, a pidfd and a socket ---- */

struct many {
    struct loop *loop;
    struct loop_watch pipe_r, pidfd, sock;
    int pipe_w, sock_peer, go_w;
    int first, second, third, timeout;
};

static void many_body(struct coro *co, void *arg)
{
    struct many *m = arg;
    struct loop_watch *ws[3] = {&m->pipe_r, &m->pidfd, &m->sock};
    uint32_t ev[3] = {LOOP_READ, LOOP_READ, LOOP_READ};
    char c;

    (void)co;
    m->pipe_r.ready = m->pidfd.ready = m->sock.ready = 0;
    m->first = co_poll(ws, ev, 3, in_ms(m->loop, 5000));
    cr_assert_eq(read(m->pipe_r.fd, &c, 1), 1);
    m->pipe_r.ready = 0;
    cr_assert_eq(write(m->go_w, "g", 1), 1); /* the child may exit now */
    m->second = co_poll(ws, ev, 3, in_ms(m->loop, 5000));
    m->pidfd.ready = 0;
    cr_assert_eq(write(m->sock_peer, "s", 1), 1);
    m->third = co_poll(ws, ev, 3, in_ms(m->loop, 5000));
    cr_assert_eq(read(m->sock.fd, &c, 1), 1);
    m->sock.ready = 0;
    m->timeout = co_poll(ws, ev, 3, in_ms(m->loop, 30));
    loop_stop(m->loop);
}

static void pipe_poke(struct coro *co, void *arg)
{
    struct many *m = arg;

    (void)co;
    co_sleep(m->loop, in_ms(m->loop, 10));
    cr_assert_eq(write(m->pipe_w, "p", 1), 1);
}

Test(io_duplex, one_poll_waits_on_a_pipe_a_pidfd_and_a_socket)
{
    struct many m = {.loop = loop_new(STACK)};
    int p[2], go[2], sv[2], status;
    char c;
    pid_t pid;

    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
    make_pair(sv);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(read(go[0], &c, 1) == 1 ? 0 : 1); /* exits when told */
    close(go[0]);
    m.go_w = go[1];
    watch(m.loop, &m.pipe_r, p[0]);
    m.pipe_w = p[1];
    watch(m.loop, &m.pidfd, pidfd_open(pid, 0));
    watch(m.loop, &m.sock, sv[0]);
    m.sock_peer = sv[1];
    loop_spawn(m.loop, many_body, &m);
    loop_spawn(m.loop, pipe_poke, &m);
    run(m.loop);
    cr_assert_eq(m.first, 1 << 0, "the pipe became readable first");
    cr_assert_eq(m.second, 1 << 1, "then the child exited: its pidfd is readable");
    cr_assert_eq(m.third, 1 << 2, "then the socket");
    cr_assert_eq(m.timeout, -ETIMEDOUT);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    unwatch(&m.pipe_r);
    unwatch(&m.pidfd);
    unwatch(&m.sock);
    close(p[1]);
    close(go[1]);
    close(sv[1]);
    loop_free(m.loop);
}
