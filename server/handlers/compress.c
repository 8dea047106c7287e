/* compress.c - one buffer compressed whole with gzip (zlib), brotli or zstd. */
#include "handlers/compress.h"

#include <brotli/encode.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

const char *const compress_default_types[COMPRESS_N_DEFAULT_TYPES] = {
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "text/markdown",
    "text/csv",
    "text/xml",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "image/svg+xml",
    "application/wasm",
};

static int gzip_buffer(int level, const void *in, size_t len, void **out, size_t *out_len)
{
    z_stream z = {0};
    size_t cap;
    int r;

    if (len > UINT32_MAX)
        return -EFBIG;
    /* windowBits 15 + 16: a gzip header and trailer around the deflate data */
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    cap = deflateBound(&z, (uLong)len);
    *out = malloc(cap);
    if (!*out) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    r = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(*out);
        return -EIO;
    }
    return 0;
}

static int brotli_buffer(int level, const void *in, size_t len, void **out, size_t *out_len)
{
    size_t cap = BrotliEncoderMaxCompressedSize(len);

    if (cap == 0)
        return -EFBIG;
    *out = malloc(cap);
    if (!*out)
        return -ENOMEM;
    *out_len = cap;
    if (!BrotliEncoderCompress(level, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, len, in, out_len,
                               *out)) {
        free(*out);
        return -EIO;
    }
    return 0;
}

static int zstd_buffer(int level, const void *in, size_t len, void **out, size_t *out_len)
{
    size_t cap = ZSTD_compressBound(len), n;

    *out = malloc(cap);
    if (!*out)
        return -ENOMEM;
    n = ZSTD_compress(*out, cap, in, len, level);
    if (ZSTD_isError(n)) {
        free(*out);
        return -EIO;
    }
    *out_len = n;
    return 0;
}

int compress_buffer(enum static_encoding enc, int level, const void *in, size_t len, void **out,
                    size_t *out_len)
{
    switch (enc) {
    case STATIC_ENCODING_GZIP: return gzip_buffer(level, in, len, out, out_len);
    case STATIC_ENCODING_BR: return brotli_buffer(level, in, len, out, out_len);
    case STATIC_ENCODING_ZSTD: return zstd_buffer(level, in, len, out, out_len);
    }
    return -EINVAL;
}

int compress_level_max(enum static_encoding enc)
{
    return enc == STATIC_ENCODING_GZIP ? COMPRESS_GZIP_MAX
           : enc == STATIC_ENCODING_BR ? COMPRESS_BR_MAX
                                       : COMPRESS_ZSTD_MAX;
}

bool compress_type_listed(const char *const *types, size_t n, const char *type, size_t len)
{
    const char *semi = memchr(type, ';', len);

    if (semi)
        len = (size_t)(semi - type);
    while (len > 0 && type[len - 1] == ' ')
        len--;
    for (size_t i = 0; i < n; i++) {
        const char *t = types[i];
        size_t tn = strlen(t);

        if (tn == len && strncasecmp(t, type, len) == 0)
            return true;
        if (tn >= 2 && t[tn - 1] == '*' && t[tn - 2] == '/' && len > tn - 1 &&
            strncasecmp(t, type, tn - 1) == 0)
            return true;
    }
    return false;
}
