/* accesslog.h - a worker's access log: one line per request, written in batches. */
#ifndef COHTTPD_HTTP_ACCESSLOG_H
#define COHTTPD_HTTP_ACCESSLOG_H

#include <stdint.h>

#include "core/loop.h"
#include "http/server.h"

struct access_log;
struct http_exchange;

/*
 * A per-worker log writing to fd (not owned: the daemon opens and closes
 * it; it may be shared by workers since each batch is one write(2) of whole
 * lines with O_APPEND). Lines gather in a buffer that is written when it is
 * nearly full and at most a second after the first unwritten line, so there
 * is no syscall per request. Returns NULL (errno).
 */
struct access_log *access_log_new(struct loop *loop, int fd, enum http_log_format format);

/* Writes what is buffered, then frees. */
void access_log_free(struct access_log *log);

/* Points the log at another fd (after a reopen); writes pending lines first. */
void access_log_set_fd(struct access_log *log, int fd);

/* Records the exchange's request and response: the combined or JSON
 * fields, then the Host, the duration (µs), the bytes received, the route
 * and (JSON) the upstream; the size is the body bytes actually sent
 * (http_resp_body_sent). For a request that could not be parsed, x->req
 * is NULL. Never yields; writes only when the buffer is full. */
void access_log_record(struct access_log *log, const struct http_exchange *x);

/* Writes what is buffered now. */
void access_log_flush(struct access_log *log);

#endif
