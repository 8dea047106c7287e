/* static_compress.h - static files compressed on the fly, once per version, kept in the cache. */
#ifndef COHTTPD_HANDLERS_STATIC_COMPRESS_H
#define COHTTPD_HANDLERS_STATIC_COMPRESS_H

#include <stddef.h>

#include "handlers/static_cache.h"
#include "handlers/static_internal.h"
#include "http/exchange.h"

/* Files larger than this are never compressed on the fly. */
#define STATIC_COMPRESS_MAX_INPUT (64u * 1024 * 1024)

/*
 * The compressed form of f to send for x, or NULL to send f as it is: the
 * route compresses (compress = on), the request is a GET or HEAD without
 * Range, f is at least compress_min_size and of a type in compress_types
 * (type[0..type_len), parameters ignored), and Accept-Encoding accepts br,
 * zstd or gzip (in that order of preference among equal weights) at least
 * as much as identity. A form f does not have yet is made on the work pool
 * while the request waits, and kept in f within compress_cache_size; while
 * one is being made, other requests get NULL. *enc gets the coding. The
 * caller gives the reference back with static_comp_release(). May yield.
 */
struct static_comp *static_compress_get(struct http_exchange *x, const struct static_root *root,
                                        struct static_file *f, const char *type, size_t type_len,
                                        enum static_encoding *enc);

#endif
