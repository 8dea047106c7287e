/* proxy_fake.h - fake upstreams for the proxy tests: raw sockets that answer well or badly. */
#ifndef COHTTPD_TESTS_PROXY_FAKE_H
#define COHTTPD_TESTS_PROXY_FAKE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* How a fake upstream answers each request. */
enum fake_mode {
    FAKE_OK,        /* 200 "conn=C req=R\n", keep-alive */
    FAKE_HEADERS,   /* 200 with the request head as received as its body */
    FAKE_HANG,      /* reads the request, never answers */
    FAKE_CUT,       /* Content-Length: 100000, 1000 bytes, then closes */
    FAKE_CUT_CHUNK, /* chunked, one chunk, then closes */
    FAKE_CLTE,      /* Content-Length and Transfer-Encoding: chunked */
    FAKE_TWO_CL,    /* two different Content-Lengths */
    FAKE_RACE,      /* answers a connection's first request, closes at its second */
    FAKE_ECHO,      /* streams the body back (Content-Length, or chunked as received) */
    FAKE_SSE,       /* one event, then a second once the test sets sse_go */
    FAKE_INTERIM,   /* 100 and 103 before a 200 "ok" */
    FAKE_CLOSE,     /* reads a request, closes without an answer */
    FAKE_BIG,       /* 200 with FAKE_BIG_SIZE bytes of 'x', counted in sent */
    FAKE_HOP_HEAD,  /* 203 with a reason, hop-by-hop headers, its own Date and Server */
    FAKE_BIG_HEAD,  /* 200 "ok" with an X-Big header of N bytes for a path ending in /N */
};

#define FAKE_BIG_SIZE (256LL << 20)

/* A listening socket on 127.0.0.1 and a thread per connection. */
struct fake {
    int lfd;
    unsigned port;
    pthread_t th;
    _Atomic int mode;
    _Atomic int accepted;   /* connections accepted so far */
    _Atomic int sse_go;     /* FAKE_SSE: the second event may go */
    _Atomic int stop;       /* closes the listener and every connection */
    _Atomic long long sent; /* FAKE_BIG: body bytes the socket took so far */
};

/* Starts f in mode on an ephemeral port. */
void fake_start(struct fake *f, enum fake_mode mode);

/* Closes the listener and every open connection (a dead upstream); harmless
 * on a fake never started or already killed. */
void fake_kill(struct fake *f);

/* A port where nothing listens (connections are refused). */
unsigned fake_dead_port(void);

/* A port where connections neither complete nor fail (a listener whose
 * queue is full: its SYNs are dropped): what a connect_timeout is for.
 * fds[0], fds[1] are the listener and the connection filling it, for the
 * caller to close. */
unsigned fake_stalled_port(int fds[2]);

#endif
