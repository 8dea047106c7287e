/* echo_stream.h - test handlers that stream both ways: the body echoed as it arrives, a body
 * read after the head, a tunnel after 101. */
#ifndef COHTTPD_TESTS_SUPPORT_ECHO_STREAM_H
#define COHTTPD_TESTS_SUPPORT_ECHO_STREAM_H

#include "http/exchange.h"

/*
 * Answers 200 with the request body, relayed as it arrives: what is there
 * is read without waiting and written as far as the client takes it; while
 * a piece waits to be written no more is read (back-pressure both ways,
 * nothing buffered beyond the engine's own buffers). The response has the
 * request's Content-Length, or is chunked when the request was. Uses only
 * exchange.h; arg is unused. Yields; returns when the body is echoed or
 * the exchange failed (the engine then closes the connection).
 */
void echo_stream(struct http_exchange *x, void *arg);

/*
 * Begins a chunked 200 with "started;" and flushes it, then reads the
 * request body (waiting up to body_timeout for each piece) and ends with
 * "got=N" when the body arrived whole (N bytes), or with "failed=-E" when
 * the read failed with -E. Shows that a body read after the head went out
 * loses nothing. arg is unused. Yields.
 */
void echo_late_body(struct http_exchange *x, void *arg);

/*
 * Answers 101 (Upgrade: echo) and takes the connection over: sends back the
 * bytes the client sent behind the request, then every byte it sends, until
 * the client closes or body_timeout passes without one. arg is unused.
 * Yields; the engine closes the connection when it returns.
 */
void echo_tunnel(struct http_exchange *x, void *arg);

#endif
