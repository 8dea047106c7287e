/* static_serve.h - one file as a response: encodings, conditionals, ranges. */
#ifndef COHTTPD_HANDLERS_STATIC_SERVE_H
#define COHTTPD_HANDLERS_STATIC_SERVE_H

#include <stddef.h>

#include "handlers/static_cache.h"
#include "handlers/static_internal.h"
#include "http/exchange.h"

/* Room a path buffer given to static_serve_file needs beyond the path, for
 * a sibling's suffix. */
#define STATIC_SUFFIX_ROOM 8

/*
 * Answers a GET or HEAD with the regular file f, found at rel[0..rel_len)
 * below the root (rel is NUL-terminated in a buffer of at least rel_len +
 * STATIC_SUFFIX_ROOM bytes, which is used as scratch and restored). The
 * Content-Type comes from rel's extension. With precompressed siblings
 * configured and accepted (static_encoding.h), FILE.br or FILE.gz is sent
 * instead, with Content-Encoding and its own ETag; Range and the
 * preconditions then apply to that representation. With precompressed
 * configured, every answer about a file carries Vary: Accept-Encoding.
 * Then the preconditions in RFC 9110 §13.2.2 order (304 with the
 * validators and no body, 412), then Range, for GET only (HEAD ignores it,
 * as RFC 9110 §14.2 says): If-Range, 206 with Content-Range, several
 * ranges as multipart/byteranges, 416 with the Content-Range of
 * range_format_unsatisfied, a malformed header ignored; else 200 with
 * Accept-Ranges: bytes. Small files go from memory in one write, others
 * with sendfile. f stays the caller's. May yield.
 */
void static_serve_file(struct http_exchange *x, const struct static_root *root,
                       struct static_file *f, char *rel, size_t rel_len);

#endif
