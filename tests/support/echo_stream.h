/* echo_stream.h - a test handler that streams the request body back as it arrives. */
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

#endif
