/* Tests of server/core/io.c: every call over socketpairs, pipes, TCP and files, with timeouts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/io.h"

#include "loop_test.h"

static void make_pipe(int p[2]) { cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0); }

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

/* A pair of coroutine endpoints sharing one loop and a countdown to stop it. */
struct duo {
    struct loop *loop;
    struct loop_watch a, b; /* a: one end, b: the other */
    int running;
    ssize_t r1, r2, r3;
    char buf[256];
    size_t len;
};

static void duo_done(struct duo *d)
{
    if (--d->running == 0)
        loop_stop(d->loop);
}

static void duo_open_pair(struct duo *d)
{
    int sv[2];

    d->loop = loop_new(STACK);
    cr_assert_not_null(d->loop);
    make_pair(sv);
    watch(d->loop, &d->a, sv[0]);
    watch(d->loop, &d->b, sv[1]);
}

static void duo_close(struct duo *d)
{
    if (d->a.loop)
        unwatch(&d->a);
    if (d->b.loop)
        unwatch(&d->b);
    loop_free(d->loop);
}

static uint64_t in_ms(struct loop *loop, uint64_t ms) { return loop_now(loop) + ms; }

/* ---- read and write, data arriving later ---- */

static void reader_body(struct coro *co, void *arg)
{
    struct duo *d = arg;

    (void)co;
    d->r1 = co_read(&d->a, d->buf, sizeof d->buf, in_ms(d->loop, 5000));
    d->len = d->r1 > 0 ? (size_t)d->r1 : 0;
    duo_done(d);
}

static void late_writer_body(struct coro *co, void *arg)
{
    struct duo *d = arg;

    (void)co;
    d->r3 = co_sleep(d->loop, in_ms(d->loop, 20));
    d->r2 = co_write(&d->b, "hello", 5, in_ms(d->loop, 5000));
    duo_done(d);
}

Test(io, read_parks_on_eagain_until_data_arrives)
{
    struct duo d = {.running = 2};

    duo_open_pair(&d);
    loop_spawn(d.loop, reader_body, &d);
    cr_assert_eq(d.running, 2, "the reader found nothing and parked");
    cr_assert_not(d.a.ready & LOOP_READ, "EAGAIN cleared the read bit");
    loop_spawn(d.loop, late_writer_body, &d);
    run(d.loop);
    cr_assert_eq(d.r3, 0);
    cr_assert_eq(d.r2, 5);
    cr_assert_eq(d.r1, 5);
    cr_assert_eq(memcmp(d.buf, "hello", 5), 0);
    cr_assert_not(d.a.ready & LOOP_READ, "a short read marks the fd drained");
    duo_close(&d);
}

static void two_reads_body(struct coro *co, void *arg)
{
    struct duo *d = arg;

    (void)co;
    d->r1 = co_read(&d->a, d->buf, sizeof d->buf, in_ms(d->loop, 5000));
    d->r2 = co_read(&d->a, d->buf + 100, sizeof d->buf - 100, in_ms(d->loop, 5000));
    duo_done(d);
}

Test(io, peer_close_reads_as_end_of_file_after_the_data)
{
    struct duo d = {.running = 1};

    duo_open_pair(&d);
    loop_spawn(d.loop, two_reads_body, &d);
    /* Data and the close arrive together, in one edge. */
    cr_assert_eq(write(d.b.fd, "bye", 3), 3);
    cr_assert_eq(shutdown(d.b.fd, SHUT_WR), 0);
    run(d.loop);
    cr_assert_eq(d.r1, 3);
    cr_assert_eq(d.r2, 0, "end of file, not a timeout");
    duo_close(&d);
}

static void write_to_closed_body(struct coro *co, void *arg)
{
    struct duo *d = arg;
    static char big[1 << 16];

    (void)co;
    d->r1 = co_write(&d->a, "x", 1, 0);
    d->r2 = co_write(&d->a, big, sizeof big, in_ms(d->loop, 5000));
    struct iovec iov[2] = {{.iov_base = big, .iov_len = 10}, {.iov_base = big, .iov_len = 10}};
    d->r3 = co_writev(&d->a, iov, 2, in_ms(d->loop, 5000));
    duo_done(d);
}

Test(io, write_to_a_closed_peer_is_epipe_not_sigpipe)
{
    struct duo d = {.running = 1};

    duo_open_pair(&d);
    unwatch(&d.b);
    loop_spawn(d.loop, write_to_closed_body, &d);
    run(d.loop);
    cr_assert_eq(d.r1, -EPIPE);
    cr_assert_eq(d.r2, -EPIPE);
    cr_assert_eq(d.r3, -EPIPE);
    duo_close(&d);
}

static void parked_reader_body(struct coro *co, void *arg)
{
    struct duo *d = arg;

    (void)co;
    d->r1 = co_read(&d->a, d->buf, sizeof d->buf, in_ms(d->loop, 5000));
    duo_done(d);
}

static void closer_body(struct coro *co, void *arg)
{
    struct duo *d = arg;

    (void)co;
    co_sleep(d->loop, in_ms(d->loop, 10));
    unwatch(&d->b);
    duo_done(d);
}

Test(io, parked_reader_sees_end_of_file_when_the_peer_closes)
{
    struct duo d = {.running = 2};

    duo_open_pair(&d);
    loop_spawn(d.loop, parked_reader_body, &d);
    loop_spawn(d.loop, closer_body, &d);
    run(d.loop);
    cr_assert_eq(d.r1, 0);
    duo_close(&d);
}

/* ---- timeouts and wakeups ---- */

static void timeout_body(struct coro *co, void *arg)
{
    struct duo *d = arg;

    (void)co;
    d->r1 = co_read(&d->a, d->buf, sizeof d->buf, in_ms(d->loop, 30));
    d->r2 = (ssize_t)loop_now(d->loop);
    duo_done(d);
}

Test(io, read_times_out_at_the_deadline)
{
    struct duo d = {.running = 1};

    duo_open_pair(&d);
    uint64_t start = loop_now(d.loop);
    loop_spawn(d.loop, timeout_body, &d);
    run(d.loop);
    cr_assert_eq(d.r1, -ETIMEDOUT);
    cr_assert_geq((uint64_t)d.r2, start + 30);
    duo_close(&d);
}

static bool past_done;
static struct loop_watch past_listener;

static void past_deadline_body(struct coro *co, void *arg)
{
    struct duo *d = arg;
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    (void)co;
    d->r1 = co_read(&d->a, d->buf, sizeof d->buf, 1);
    d->r2 = co_accept(&past_listener, (struct sockaddr *)&sa, &len, 1);
    d->r3 = co_sleep(d->loop, 1);
    past_done = true;
}

Test(io, a_deadline_already_past_fails_without_yielding)
{
    struct duo d = {.running = 1};
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    duo_open_pair(&d);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(lfd, 4), 0);
    watch(d.loop, &past_listener, lfd);
    past_done = false;
    loop_spawn(d.loop, past_deadline_body, &d);
    cr_assert(past_done, "the coroutine never yielded");
    cr_assert_eq(d.r1, -ETIMEDOUT);
    cr_assert_eq(d.r2, -ETIMEDOUT);
    cr_assert_eq(d.r3, 0, "sleeping until a past time returns at once");
    unwatch(&past_listener);
    duo_close(&d);
}

struct cancel_state {
    struct duo d;
    struct coro *victim;
};

static void victim_body(struct coro *co, void *arg)
{
    struct cancel_state *cs = arg;

    cs->victim = co;
    cs->d.r1 = co_read(&cs->d.a, cs->d.buf, sizeof cs->d.buf, 0);
    cs->d.r2 = co_sleep(cs->d.loop, in_ms(cs->d.loop, 60000));
    duo_done(&cs->d);
}

static void canceller_body(struct coro *co, void *arg)
{
    struct cancel_state *cs = arg;

    (void)co;
    co_sleep(cs->d.loop, in_ms(cs->d.loop, 10));
    loop_wakeup(cs->d.loop, cs->victim);
    co_sleep(cs->d.loop, in_ms(cs->d.loop, 10));
    loop_wakeup(cs->d.loop, cs->victim);
    duo_done(&cs->d);
}

Test(io, loop_wakeup_cancels_a_blocked_call)
{
    struct cancel_state cs = {.d.running = 2};

    duo_open_pair(&cs.d);
    loop_spawn(cs.d.loop, victim_body, &cs);
    loop_spawn(cs.d.loop, canceller_body, &cs);
    run(cs.d.loop);
    cr_assert_eq(cs.d.r1, -ECANCELED, "a read without deadline was cancelled");
    cr_assert_eq(cs.d.r2, -ECANCELED, "and so was a sleep");
    duo_close(&cs.d);
}

/* ---- writev, sendmsg, pipes ---- */

static void writev_body(struct coro *co, void *arg)
{
    struct duo *d = arg;
    char head[] = "HTTP/1.1 200 OK\r\n", empty[1], body[] = "body!";
    struct iovec iov[3] = {
        {.iov_base = head, .iov_len = strlen(head)},
        {.iov_base = empty, .iov_len = 0},
        {.iov_base = body, .iov_len = strlen(body)},
    };
    struct iovec more[1] = {{.iov_base = body, .iov_len = 4}};

    (void)co;
    d->r1 = co_writev(&d->b, iov, 3, in_ms(d->loop, 5000));
    d->r2 = co_sendmsg(&d->b, more, 1, MSG_MORE, in_ms(d->loop, 5000));
    d->r3 = co_read(&d->a, d->buf, sizeof d->buf, in_ms(d->loop, 5000));
    duo_done(d);
}

Test(io, writev_and_sendmsg_send_every_buffer_in_order)
{
    struct duo d = {.running = 1};

    duo_open_pair(&d);
    loop_spawn(d.loop, writev_body, &d);
    run(d.loop);
    cr_assert_eq(d.r1, 22);
    cr_assert_eq(d.r2, 4);
    cr_assert_eq(d.r3, 26);
    cr_assert_eq(memcmp(d.buf, "HTTP/1.1 200 OK\r\nbody!body", 26), 0);
    duo_close(&d);
}

static void pipe_body(struct coro *co, void *arg)
{
    struct duo *d = arg;
    char one[] = "to a ", two[] = "pipe";
    struct iovec iov[2] = {{.iov_base = one, .iov_len = 5}, {.iov_base = two, .iov_len = 4}};

    (void)co;
    d->r1 = co_writev(&d->b, iov, 2, in_ms(d->loop, 5000));
    d->r2 = co_write(&d->b, "!", 1, in_ms(d->loop, 5000));
    unwatch(&d->b); /* the writer exits: data and hang-up in one edge */
    d->r3 = co_read(&d->a, d->buf, sizeof d->buf, in_ms(d->loop, 5000));
    d->len = (size_t)co_read(&d->a, d->buf + 64, 64, in_ms(d->loop, 5000));
    duo_done(d);
}

Test(io, pipes_work_for_writev_and_read_to_end_of_file)
{
    struct duo d = {.running = 1};
    int p[2];

    d.loop = loop_new(STACK);
    make_pipe(p);
    watch(d.loop, &d.a, p[0]);
    watch(d.loop, &d.b, p[1]);
    loop_spawn(d.loop, pipe_body, &d);
    run(d.loop);
    cr_assert_eq(d.r1, 9);
    cr_assert_eq(d.r2, 1);
    cr_assert_eq(d.r3, 10);
    cr_assert_eq(memcmp(d.buf, "to a pipe!", 10), 0);
    cr_assert_eq(d.len, 0, "end of file after the hang-up, not a timeout");
    duo_close(&d);
}

/* ---- partial writes against a small buffer ---- */

#define BULK (1 << 20)

struct bulk {
    struct duo d;
    unsigned char *out, *in;
    size_t got;
    bool writer_done;
};

static void bulk_writer_body(struct coro *co, void *arg)
{
    struct bulk *bk = arg;

    (void)co;
    bk->d.r1 = co_write(&bk->d.a, bk->out, BULK, in_ms(bk->d.loop, 8000));
    bk->writer_done = true;
    duo_done(&bk->d);
}

static void bulk_reader_body(struct coro *co, void *arg)
{
    struct bulk *bk = arg;

    (void)co;
    while (bk->got < BULK) {
        ssize_t n = co_read(&bk->d.b, bk->in + bk->got, 3000, in_ms(bk->d.loop, 8000));

        if (n <= 0) {
            bk->d.r2 = n;
            break;
        }
        bk->got += (size_t)n;
    }
    duo_done(&bk->d);
}

Test(io, partial_writes_complete_while_another_coroutine_drains)
{
    struct bulk bk = {.d.running = 2};
    int small = 4096;

    duo_open_pair(&bk.d);
    cr_assert_eq(setsockopt(bk.d.a.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    cr_assert_eq(setsockopt(bk.d.b.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    bk.out = malloc(BULK);
    bk.in = malloc(BULK);
    for (size_t i = 0; i < BULK; i++)
        bk.out[i] = (unsigned char)(i * 7 + i / 251);
    loop_spawn(bk.d.loop, bulk_writer_body, &bk);
    cr_assert_not(bk.writer_done, "the socket filled up and the writer parked");
    cr_assert_not(bk.d.a.ready & LOOP_WRITE);
    loop_spawn(bk.d.loop, bulk_reader_body, &bk);
    run(bk.d.loop);
    cr_assert_eq(bk.d.r1, BULK);
    cr_assert_eq(bk.got, BULK);
    cr_assert_eq(memcmp(bk.out, bk.in, BULK), 0, "every byte arrived in order");
    free(bk.out);
    free(bk.in);
    duo_close(&bk.d);
}

/* ---- sendfile ---- */

struct sf {
    struct duo d;
    int file;
    off_t offset;
    size_t count;
    unsigned char *in;
    size_t got;
};

static void sf_sender_body(struct coro *co, void *arg)
{
    struct sf *s = arg;

    (void)co;
    s->d.r1 = co_sendfile(&s->d.a, s->file, &s->offset, s->count, in_ms(s->d.loop, 8000));
    shutdown(s->d.a.fd, SHUT_WR); /* the reader sees the end of what was sent */
    duo_done(&s->d);
}

/* Reads until the sender's end of file (or an error). */
static void sf_reader_body(struct coro *co, void *arg)
{
    struct sf *s = arg;

    (void)co;
    while (s->got < BULK) {
        ssize_t n = co_read(&s->d.b, s->in + s->got, BULK - s->got, in_ms(s->d.loop, 30000));

        if (n <= 0)
            break;
        s->got += (size_t)n;
    }
    duo_done(&s->d);
}

static int temp_file(size_t size)
{
    char path[] = "/tmp/cohttpd-io-XXXXXX";
    int fd = mkstemp(path);
    unsigned char block[4096];

    cr_assert_geq(fd, 0);
    unlink(path);
    for (size_t off = 0; off < size; off += sizeof block) {
        for (size_t i = 0; i < sizeof block; i++)
            block[i] = (unsigned char)((off + i) % 253);
        cr_assert_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
    }
    return fd;
}

Test(io, sendfile_sends_a_file_range_through_a_small_socket)
{
    struct sf s = {.d.running = 2, .offset = 4096, .count = BULK - 8192};
    int small = 4096;

    duo_open_pair(&s.d);
    cr_assert_eq(setsockopt(s.d.a.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    s.file = temp_file(BULK);
    s.in = malloc(BULK);
    loop_spawn(s.d.loop, sf_sender_body, &s);
    loop_spawn(s.d.loop, sf_reader_body, &s);
    run(s.d.loop);
    cr_assert_eq(s.d.r1, (ssize_t)(BULK - 8192));
    cr_assert_eq(s.offset, BULK - 4096);
    cr_assert_eq(s.got, BULK - 8192);
    for (size_t i = 0; i < s.got; i++) {
        if (s.in[i] != (unsigned char)((4096 + i) % 253))
            cr_assert_fail("byte %zu differs", i);
    }
    free(s.in);
    close(s.file);
    duo_close(&s.d);
}

Test(io, sendfile_past_the_end_of_the_file_is_enodata)
{
    struct sf s = {.d.running = 2, .offset = BULK - 100, .count = 1000};

    duo_open_pair(&s.d);
    s.file = temp_file(BULK);
    s.in = malloc(BULK);
    loop_spawn(s.d.loop, sf_sender_body, &s);
    loop_spawn(s.d.loop, sf_reader_body, &s);
    run(s.d.loop);
    cr_assert_eq(s.d.r1, -ENODATA);
    cr_assert_eq(s.offset, BULK, "the offset tells how far it got");
    cr_assert_eq(s.got, 100);
    free(s.in);
    close(s.file);
    duo_close(&s.d);
}

/* ---- accept and connect over TCP on 127.0.0.1 ---- */

struct tcp {
    struct loop *loop;
    struct loop_watch listener, client, server;
    struct sockaddr_in addr;
    int running;
    int accepted, connected;
    ssize_t echoed;
    char buf[16];
};

static void tcp_done(struct tcp *t)
{
    if (--t->running == 0)
        loop_stop(t->loop);
}

static void acceptor_body(struct coro *co, void *arg)
{
    struct tcp *t = arg;
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    char buf[16];

    (void)co;
    t->accepted = co_accept(&t->listener, (struct sockaddr *)&peer, &len, in_ms(t->loop, 5000));
    if (t->accepted >= 0) {
        watch(t->loop, &t->server, t->accepted);
        ssize_t n = co_read(&t->server, buf, sizeof buf, in_ms(t->loop, 5000));
        if (n > 0)
            co_write(&t->server, buf, (size_t)n, in_ms(t->loop, 5000));
        cr_assert_eq(fcntl(t->accepted, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
        cr_assert_eq(fcntl(t->accepted, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    }
    tcp_done(t);
}

static void connector_body(struct coro *co, void *arg)
{
    struct tcp *t = arg;

    (void)co;
    t->connected =
        co_connect(&t->client, (struct sockaddr *)&t->addr, sizeof t->addr, in_ms(t->loop, 5000));
    if (t->connected == 0 && co_write(&t->client, "ping", 4, in_ms(t->loop, 5000)) == 4)
        t->echoed = co_read(&t->client, t->buf, sizeof t->buf, in_ms(t->loop, 5000));
    tcp_done(t);
}

static int tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    return fd;
}

static void tcp_listen(struct tcp *t)
{
    socklen_t len = sizeof t->addr;
    int lfd = tcp_socket();

    t->addr =
        (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(lfd, (struct sockaddr *)&t->addr, sizeof t->addr), 0);
    cr_assert_eq(listen(lfd, 16), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&t->addr, &len), 0);
    watch(t->loop, &t->listener, lfd);
}

Test(io, accept_and_connect_make_a_working_connection)
{
    struct tcp t = {.loop = loop_new(STACK), .running = 2};

    tcp_listen(&t);
    watch(t.loop, &t.client, tcp_socket());
    loop_spawn(t.loop, acceptor_body, &t); /* parks: nobody connected yet */
    cr_assert_eq(t.running, 2);
    loop_spawn(t.loop, connector_body, &t);
    run(t.loop);
    cr_assert_geq(t.accepted, 0);
    cr_assert_eq(t.connected, 0);
    cr_assert_eq(t.echoed, 4);
    cr_assert_eq(memcmp(t.buf, "ping", 4), 0);
    unwatch(&t.server);
    unwatch(&t.client);
    unwatch(&t.listener);
    loop_free(t.loop);
}

Test(io, connect_to_a_closed_port_is_refused)
{
    struct tcp t = {.loop = loop_new(STACK), .running = 1};

    tcp_listen(&t);
    unwatch(&t.listener); /* the port is free again: nothing listens */
    watch(t.loop, &t.client, tcp_socket());
    loop_spawn(t.loop, connector_body, &t);
    run(t.loop);
    cr_assert_eq(t.connected, -ECONNREFUSED);
    unwatch(&t.client);
    loop_free(t.loop);
}

static void accept_timeout_body(struct coro *co, void *arg)
{
    struct tcp *t = arg;

    (void)co;
    t->accepted = co_accept(&t->listener, NULL, NULL, in_ms(t->loop, 20));
    tcp_done(t);
}

Test(io, accept_times_out_when_nobody_connects)
{
    struct tcp t = {.loop = loop_new(STACK), .running = 1};

    tcp_listen(&t);
    loop_spawn(t.loop, accept_timeout_body, &t);
    run(t.loop);
    cr_assert_eq(t.accepted, -ETIMEDOUT);
    unwatch(&t.listener);
    loop_free(t.loop);
}

/* ---- poll over several fds ---- */

#define NPOLL 4

struct polls {
    struct loop *loop;
    struct loop_watch w[NPOLL];
    int peer[NPOLL];
    int first, second, timed_out, immediate;
    bool parked;
};

static void poll_body(struct coro *co, void *arg)
{
    struct polls *p = arg;
    struct loop_watch *ws[NPOLL];
    uint32_t ev[NPOLL];
    char c;

    (void)co;
    for (int i = 0; i < NPOLL; i++) {
        ws[i] = &p->w[i];
        ev[i] = LOOP_READ;
        /* Learn that nothing is there yet (a past deadline: no wait). */
        co_read(&p->w[i], &c, 1, 1);
    }
    p->parked = true;
    p->first = co_poll(ws, ev, NPOLL, in_ms(p->loop, 5000));
    p->immediate = co_poll(ws, ev, NPOLL, 1); /* still marked: no wait */
    co_read(&p->w[2], &c, 1, 1);
    co_read(&p->w[2], &c, 1, 1);
    p->timed_out = co_poll(ws, ev, NPOLL, in_ms(p->loop, 20));
    ev[1] = LOOP_WRITE;
    p->second = co_poll(ws, ev, NPOLL, in_ms(p->loop, 5000));
    loop_stop(p->loop);
}

static void poke_body(struct coro *co, void *arg)
{
    struct polls *p = arg;

    (void)co;
    co_sleep(p->loop, in_ms(p->loop, 10));
    cr_assert_eq(write(p->peer[2], "z", 1), 1);
}

Test(io, poll_reports_exactly_the_ready_watches)
{
    struct polls p = {.loop = loop_new(STACK)};

    for (int i = 0; i < NPOLL; i++) {
        int sv[2];

        make_pair(sv);
        watch(p.loop, &p.w[i], sv[0]);
        p.peer[i] = sv[1];
    }
    loop_spawn(p.loop, poll_body, &p);
    cr_assert(p.parked);
    loop_spawn(p.loop, poke_body, &p);
    run(p.loop);
    cr_assert_eq(p.first, 1 << 2);
    cr_assert_eq(p.immediate, 1 << 2);
    cr_assert_eq(p.timed_out, -ETIMEDOUT);
    cr_assert_eq(p.second, 1 << 1, "watch 1 is writable");
    for (int i = 0; i < NPOLL; i++) {
        unwatch(&p.w[i]);
        close(p.peer[i]);
    }
    loop_free(p.loop);
}

/* ---- a minimum rate across co_poll ---- */

struct poll_rate {
    struct loop *loop;
    struct loop_watch w;
    struct io_rates rates;
    int peer;
    int fed, starved;
};

static void poll_rate_body(struct coro *co, void *arg)
{
    struct poll_rate *p = arg;
    struct loop_watch *ws[1] = {&p->w};
    uint32_t ev[1] = {LOOP_READ};
    char buf[64];

    (void)co;
    co_read(&p->w, buf, sizeof buf, 1); /* learn that nothing is there yet */
    /* Bytes arrive in time: the credit pays for the wait. */
    p->fed = co_poll(ws, ev, 1, 0);
    co_read(&p->w, buf, sizeof buf, 1);
    /* Then nothing more: without a deadline, only the credit ends the wait. */
    p->starved = co_poll(ws, ev, 1, 0);
    loop_stop(p->loop);
}

static void feed_body(struct coro *co, void *arg)
{
    struct poll_rate *p = arg;

    (void)co;
    cr_assert_eq(write(p->peer, "abcd", 4), 4);
}

Test(io, poll_charges_its_waits_to_a_minimum_rate, .timeout = 30)
{
    struct poll_rate p = {.loop = loop_new(STACK)};
    int sv[2];

    make_pair(sv);
    watch(p.loop, &p.w, sv[0]);
    /* 100 kB/s with 50 ms of credit: a peer that sends nothing is cut
     * within 50 ms of waiting, whatever the caller's deadline. */
    io_rate_start(&p.rates.in, 100000, 50);
    io_rate_start(&p.rates.out, 0, 0);
    p.w.rates = &p.rates;
    p.peer = sv[1];
    loop_spawn(p.loop, poll_rate_body, &p);
    loop_spawn(p.loop, feed_body, &p);
    run(p.loop);
    cr_assert_eq(p.fed, 1, "the watch was ready with the bytes");
    cr_assert_eq(p.starved, -ETIMEDOUT, "the credit ran out");
    cr_assert(p.rates.in.tripped, "the account says the peer fell below its rate");
    cr_assert_eq(p.rates.in.bytes, 4, "the bytes read earned credit");
    p.w.rates = NULL;
    unwatch(&p.w);
    close(sv[1]);
    loop_free(p.loop);
}

/* ---- ten thousand coroutines ---- */

#define CROWD 10000

struct crowd {
    struct loop *loop;
    struct loop_watch *w;
    int finished, ok;
};

static struct crowd crowd;

/* Coroutine 2k and 2k+1 hold the two ends of socketpair k: the even one
 * sends a ping after every coroutine has parked, the odd one answers. */
static void crowd_body(struct coro *co, void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    struct loop_watch *w = &crowd.w[i];
    char buf[8];
    bool ok = false;

    (void)co;
    if (i % 2 == 0) {
        co_sleep(crowd.loop, in_ms(crowd.loop, 1));
        ok = co_write(w, "ping", 4, in_ms(crowd.loop, 8000)) == 4 &&
             co_read(w, buf, sizeof buf, in_ms(crowd.loop, 8000)) == 4 &&
             memcmp(buf, "pong", 4) == 0;
    } else {
        ok = co_read(w, buf, sizeof buf, in_ms(crowd.loop, 8000)) == 4 &&
             memcmp(buf, "ping", 4) == 0 && co_write(w, "pong", 4, in_ms(crowd.loop, 8000)) == 4;
    }
    crowd.ok += ok;
    if (++crowd.finished == CROWD)
        loop_stop(crowd.loop);
}

static void raise_fd_limit(size_t need)
{
    struct rlimit rl;

    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_geq(rl.rlim_cur, need, "RLIMIT_NOFILE hard limit %lu is too low",
                  (unsigned long)rl.rlim_max);
}

Test(io, ten_thousand_coroutines_round_trip_at_once, .timeout = 60)
{
    crowd = (struct crowd){.loop = loop_new(16 * 1024)};
    crowd.w = calloc(CROWD, sizeof *crowd.w);
    raise_fd_limit(CROWD + 64);
    cr_assert_not_null(crowd.loop);
    for (size_t k = 0; k < CROWD / 2; k++) {
        int sv[2];

        make_pair(sv);
        watch(crowd.loop, &crowd.w[2 * k], sv[0]);
        watch(crowd.loop, &crowd.w[2 * k + 1], sv[1]);
    }
    for (size_t i = 0; i < CROWD; i++)
        cr_assert_not_null(loop_spawn(crowd.loop, crowd_body, (void *)(uintptr_t)i));
    cr_assert_eq(loop_coroutines(crowd.loop), CROWD, "all of them are alive at once");
    run(crowd.loop);
    cr_assert_eq(crowd.finished, CROWD);
    cr_assert_eq(crowd.ok, CROWD);
    cr_assert_eq(loop_coroutines(crowd.loop), 0);
    for (size_t i = 0; i < CROWD; i++)
        unwatch(&crowd.w[i]);
    free(crowd.w);
    loop_free(crowd.loop);
}

/* ---- cancellation by loop_free ---- */

struct conn {
    struct loop_watch w;
    char *buf;
    int *closed;
};

static void conn_cleanup(void *arg)
{
    struct conn *c = arg;

    loop_watch_del(&c->w);
    close(c->w.fd);
    (*c->closed)++;
    free(c->buf);
    free(c);
}

static int closed_conns;

static void conn_body(struct coro *co, void *arg)
{
    struct conn *c = arg;

    coro_defer(co, conn_cleanup, c);
    c->buf = malloc(8192);
    co_read(&c->w, c->buf, 8192, 0); /* parks forever */
}

Test(io, loop_free_cancels_parked_io_and_runs_defers)
{
    struct loop *loop = loop_new(STACK);
    int peers[8];

    closed_conns = 0;
    for (int i = 0; i < 8; i++) {
        struct conn *c = calloc(1, sizeof *c);
        int sv[2];

        make_pair(sv);
        peers[i] = sv[1];
        c->closed = &closed_conns;
        watch(loop, &c->w, sv[0]);
        loop_spawn(loop, conn_body, c);
    }
    cr_assert_eq(loop_coroutines(loop), 8);
    loop_free(loop);
    assert_no_leaks();
    cr_assert_eq(closed_conns, 8);
    for (int i = 0; i < 8; i++) {
        char c;

        cr_assert_eq(read(peers[i], &c, 1), 0, "the connection was closed");
        close(peers[i]);
    }
}
