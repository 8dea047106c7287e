/* compress.h - one buffer compressed whole with gzip (zlib), brotli or zstd. */
#ifndef COHTTPD_HANDLERS_COMPRESS_H
#define COHTTPD_HANDLERS_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "handlers/conf.h"

/* The levels each coding takes, and cohttpd's defaults (nginx's gzip_comp_level
 * is 1 by default; 6 is zlib's own default). */
#define COMPRESS_GZIP_MAX   9
#define COMPRESS_BR_MAX     11
#define COMPRESS_ZSTD_MAX   19
#define COMPRESS_GZIP_LEVEL 6
#define COMPRESS_BR_LEVEL   5
#define COMPRESS_ZSTD_LEVEL 3

/* The types compressed by default: static routes' compress_types when the
 * route sets none, and the types streamed cgi and proxy responses are
 * compressed for. */
#define COMPRESS_N_DEFAULT_TYPES 15
extern const char *const compress_default_types[COMPRESS_N_DEFAULT_TYPES];

/*
 * Compresses in[0..len) with enc at level into a new buffer (*out, freed
 * by the caller with free()) of *out_len bytes: a complete gzip member, a
 * brotli stream or a zstd frame. Returns 0, -ENOMEM, or -EIO when the
 * library fails. Pure CPU: it takes milliseconds for large inputs, so the
 * static handler runs it on the work pool. Any thread; never yields.
 */
int compress_buffer(enum static_encoding enc, int level, const void *in, size_t len, void **out,
                    size_t *out_len);

/* The highest level enc takes. Pure. */
int compress_level_max(enum static_encoding enc);

/* True when type[0..len) (parameters after ';' ignored) is one of
 * types[0..n): exactly, or under a "major/" + "*" entry. Pure. */
bool compress_type_listed(const char *const *types, size_t n, const char *type, size_t len);

#endif
