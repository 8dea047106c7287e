/* loopback.h - the HTTP engine serving one in-process connection, for engine tests: a
 * socketpair, a loop on its own thread, a handler function, no network and no config. */
#ifndef COHTTPD_TESTS_SUPPORT_LOOPBACK_H
#define COHTTPD_TESTS_SUPPORT_LOOPBACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "http/exchange.h"
#include "http/limits.h"
#include "http/server.h"

typedef void (*loopback_handler)(struct http_exchange *x, void *arg);

struct loopback {
    int fd; /* the client's end: blocking, the test's to use */
    /* private */
    struct loop *loop;
    struct http_server *srv;
    struct http_site site;
    loopback_handler handler;
    void *arg;
    int server_fd;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    bool started;
};

/* Starts a worker thread with a loop and an HTTP engine that serves the
 * server end of a new socketpair with handler(x, arg) for every request,
 * under limits (NULL: the defaults). Aborts the test on failure. */
void loopback_start(struct loopback *lb, loopback_handler handler, void *arg,
                    const struct http_limits *limits);

/* Stops the loop (a handler still waiting is cancelled: its per-request
 * cleanups run), frees the engine and closes the client's end. */
void loopback_stop(struct loopback *lb);

/* Sends all of data on the client's end; false when the server is gone. */
bool loopback_send(struct loopback *lb, const void *data, size_t len);

/* Reads until the buffer holds needle (searched in out[0..*len)) or the
 * server closed, waiting at most 10 s at a time. Returns true when needle
 * is there. out holds cap bytes and stays NUL-terminated. */
bool loopback_read_until(struct loopback *lb, char *out, size_t cap, size_t *len,
                         const char *needle);

/* Reads until the server closes (or 10 s pass without a byte). Returns the
 * count appended to out[*len..cap). */
size_t loopback_read_to_end(struct loopback *lb, char *out, size_t cap, size_t *len);

/* The value of header name in the head at out (up to the blank line), or
 * NULL; *vlen gets its length. */
const char *loopback_header(const char *out, const char *name, size_t *vlen);

/* Decodes the chunked body at p[0..len) into out (cap bytes). Returns the
 * decoded length, or -1 when it is malformed or incomplete. */
ssize_t loopback_dechunk(const char *p, size_t len, char *out, size_t cap);

#endif
