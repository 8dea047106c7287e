/* static_encoding.h - Accept-Encoding (RFC 9110 §12.5.3) for precompressed siblings. */
#ifndef COHTTPD_HANDLERS_STATIC_ENCODING_H
#define COHTTPD_HANDLERS_STATIC_ENCODING_H

#include <stddef.h>

#include "handlers/conf.h"

/* The quality (0 to 1000, thousandths) a request gives each coding the
 * static handler can serve. */
struct static_accept {
    int q[STATIC_ENCODINGS]; /* indexed by enum static_encoding: br, gzip, zstd */
    int identity;
};

/* Parses an Accept-Encoding value (NULL or len 0: the header is absent).
 * Names compare without case; "x-gzip" counts as gzip; "*" stands for every
 * coding not listed, identity included; an element with a malformed
 * weight is ignored; a coding listed twice gets its higher weight. A
 * coding neither listed nor covered by "*" gets 0, but identity gets 1000
 * (so only "identity;q=0" or "*;q=0" refuse it). Without the header only
 * identity is acceptable (br and gzip get 0). Pure. */
void static_accept_parse(const char *value, size_t len, struct static_accept *out);

/* The encoding to try first for a response: of the n configured ones (in
 * preference order), the one with the highest quality > 0 that is at least
 * identity's, ties going to the earlier one, skipping those whose bit
 * (1 << enc) is set in `skip`. Returns the enum static_encoding value, or
 * -1 for none (send identity). Pure. */
int static_accept_pick(const struct static_accept *a, const enum static_encoding *configured,
                       size_t n, unsigned skip);

/* "br", "gzip" or "zstd": the Content-Encoding of enc. */
const char *static_encoding_name(enum static_encoding enc);

/* ".br" or ".gz": the suffix of the sibling file holding enc. */
const char *static_encoding_suffix(enum static_encoding enc);

#endif
