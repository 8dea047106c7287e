/* compress_stream.c - streamed CGI and proxy responses compressed as their bytes arrive. */
#include "handlers/compress_stream.h"

#include <brotli/encode.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "handlers/compress.h"
#include "handlers/static_encoding.h"

/* Input compressed per step; the output room always holds one step's
 * output, flush included. */
#define IN_STEP  16384
#define OUT_ROOM (2 * IN_STEP + 4096)

/* Codings, in order of preference among equal weights. */
static const enum static_encoding stream_codings[] = {STATIC_ENCODING_BR, STATIC_ENCODING_ZSTD,
                                                      STATIC_ENCODING_GZIP};

struct cstream {
    enum static_encoding enc;
    bool head_only; /* a HEAD: the GET's coding headers, no coder, no body */
    z_stream z;
    ZSTD_CCtx *zc;
    BrotliEncoderState *br;
    size_t out_pos, out_len; /* out[out_pos..out_len): compressed, not taken yet */
    size_t held;             /* input bytes whose output that is */
    unsigned char out[OUT_ROOM];
};

static void cstream_free(void *data)
{
    struct cstream *cs = data;

    if (cs->enc == STATIC_ENCODING_GZIP && !cs->head_only)
        deflateEnd(&cs->z);
    ZSTD_freeCCtx(cs->zc);
    if (cs->br)
        BrotliEncoderDestroyInstance(cs->br);
    free(cs);
}

static int coder_init(struct cstream *cs)
{
    switch (cs->enc) {
    case STATIC_ENCODING_GZIP:
        /* windowBits 15 + 16: a gzip header and trailer around the deflate data */
        return deflateInit2(&cs->z, COMPRESS_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
                            Z_DEFAULT_STRATEGY) == Z_OK
                   ? 0
                   : -ENOMEM;
    case STATIC_ENCODING_ZSTD:
        cs->zc = ZSTD_createCCtx();
        return cs->zc && !ZSTD_isError(ZSTD_CCtx_setParameter(cs->zc, ZSTD_c_compressionLevel,
                                                              COMPRESS_ZSTD_LEVEL))
                   ? 0
                   : -ENOMEM;
    case STATIC_ENCODING_BR:
        cs->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        return cs->br && BrotliEncoderSetParameter(cs->br, BROTLI_PARAM_QUALITY, COMPRESS_BR_LEVEL)
                   ? 0
                   : -ENOMEM;
    }
    return -EINVAL;
}

/* True when x's request and h let the response be compressed. */
static bool compressible(struct http_exchange *x, const struct cstream_head *h)
{
    size_t len;

    if (http_req_header(x, "Range", &len) || h->has_encoding || h->has_range || h->status < 200 ||
        h->status > 299 || h->status == 204 || h->status == 206 || !h->type)
        return false;
    if (h->type_len >= 17 && strncasecmp(h->type, "text/event-stream", 17) == 0)
        return false;
    return compress_type_listed(compress_default_types, COMPRESS_N_DEFAULT_TYPES, h->type,
                                h->type_len);
}

struct cstream *cstream_open(struct http_exchange *x, bool on, const struct cstream_head *h)
{
    struct static_accept accept;
    const char *value;
    struct cstream *cs;
    size_t len;
    int enc;

    if (!on || !compressible(x, h) || !(value = http_req_header(x, "Accept-Encoding", &len)))
        return NULL;
    static_accept_parse(value, len, &accept);
    enc = static_accept_pick(&accept, stream_codings,
                             sizeof stream_codings / sizeof stream_codings[0], 0);
    if (enc < 0 || !(cs = calloc(1, sizeof *cs)))
        return NULL;
    cs->enc = (enum static_encoding)enc;
    cs->head_only = x->head_only;
    if ((!cs->head_only && coder_init(cs) < 0) || http_exchange_defer(x, cstream_free, cs) < 0) {
        cstream_free(cs);
        return NULL;
    }
    return cs;
}

/* ---- the head ------------------------------------------------------------ */

static bool named(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

void cstream_header(const struct cstream *cs, struct http_exchange *x, const char *name,
                    size_t name_len, const char *value, size_t value_len)
{
    if (cs && named(name, name_len, "Content-Length"))
        return;
    if (cs && named(name, name_len, "ETag") && !(value_len >= 2 && memcmp(value, "W/", 2) == 0)) {
        http_resp_headerf(x, "ETag", "W/%.*s", (int)value_len, value);
        return;
    }
    http_resp_header(x, name, name_len, value, value_len);
}

void cstream_coding_headers(const struct cstream *cs, struct http_exchange *x)
{
    const char *coding;

    if (!cs)
        return;
    coding = static_encoding_name(cs->enc);
    http_resp_header(x, "Content-Encoding", 16, coding, strlen(coding));
    http_resp_header(x, "Vary", 4, "Accept-Encoding", 15);
}

/* Calls fn on each header line of a raw head (after its status line):
 * name, value without blanks around it, and the whole line with its CRLF. */
static void raw_lines(const char *head, size_t len, void *ctx,
                      void (*fn)(void *ctx, const char *name, size_t name_len, const char *value,
                                 size_t value_len, const char *line, size_t line_len))
{
    const char *p = memchr(head, '\n', len), *end = head + len;

    for (p = p ? p + 1 : end; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v, *ve;

        if (!eol || eol - p <= 1)
            return; /* the empty line */
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
                ;
            for (ve = eol - 1; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
                ;
            fn(ctx, p, (size_t)(colon - p), v, (size_t)(ve - v), p, (size_t)(eol + 1 - p));
        }
        p = eol + 1;
    }
}

static void parse_line(void *ctx, const char *name, size_t name_len, const char *value,
                       size_t value_len, const char *line, size_t line_len)
{
    struct cstream_head *h = ctx;

    (void)line;
    (void)line_len;
    if (named(name, name_len, "Content-Type")) {
        h->type = value;
        h->type_len = value_len;
    }
    h->has_encoding |= named(name, name_len, "Content-Encoding");
    h->has_range |= named(name, name_len, "Content-Range");
}

void cstream_raw_parse(const char *head, size_t len, struct cstream_head *h)
{
    *h = (struct cstream_head){.status = 0};
    if (len > 12 && head[8] == ' ')
        h->status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
    raw_lines(head, len, h, parse_line);
}

struct raw_out {
    char *buf;
    size_t len, cap;
    bool full;
};

static void raw_put(struct raw_out *o, const char *s, size_t len)
{
    if (o->full || len > o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, len);
    o->len += len;
}

static void rewrite_line(void *ctx, const char *name, size_t name_len, const char *value,
                         size_t value_len, const char *line, size_t line_len)
{
    struct raw_out *o = ctx;

    if (named(name, name_len, "Content-Length"))
        return;
    if (named(name, name_len, "ETag") && !(value_len >= 2 && memcmp(value, "W/", 2) == 0)) {
        raw_put(o, "ETag: W/", 8);
        raw_put(o, value, value_len);
        raw_put(o, "\r\n", 2);
        return;
    }
    raw_put(o, line, line_len);
}

int cstream_raw_head(const struct cstream *cs, char *head, size_t *len, size_t cap)
{
    const char *status_end = memchr(head, '\n', *len), *coding;
    struct raw_out o = {.cap = cap};

    if (!cs || !status_end)
        return 0;
    o.buf = malloc(cap);
    if (!o.buf)
        return -ENOMEM;
    coding = static_encoding_name(cs->enc);
    raw_put(&o, head, (size_t)(status_end + 1 - head));
    raw_lines(head, *len, &o, rewrite_line);
    raw_put(&o, "Content-Encoding: ", 18);
    raw_put(&o, coding, strlen(coding));
    raw_put(&o, "\r\nVary: Accept-Encoding\r\n\r\n", 27);
    if (!o.full) {
        memcpy(head, o.buf, o.len);
        *len = o.len;
    }
    free(o.buf);
    return o.full ? -ENOSPC : 0;
}

/* ---- the body ------------------------------------------------------------ */

static int gzip_step(struct cstream *cs, const void *in, size_t len, bool finish)
{
    int r;

    cs->z.next_in = (Bytef *)(uintptr_t)in;
    cs->z.avail_in = (uInt)len;
    cs->z.next_out = cs->out;
    cs->z.avail_out = OUT_ROOM;
    r = deflate(&cs->z, finish ? Z_FINISH : Z_SYNC_FLUSH);
    if ((finish ? r != Z_STREAM_END : r != Z_OK && r != Z_BUF_ERROR) || cs->z.avail_in ||
        cs->z.avail_out == 0)
        return -EIO;
    cs->out_len = OUT_ROOM - cs->z.avail_out;
    return 0;
}

static int zstd_step(struct cstream *cs, const void *in, size_t len, bool finish)
{
    ZSTD_inBuffer ib = {.src = in, .size = len};
    ZSTD_outBuffer ob = {.dst = cs->out, .size = OUT_ROOM};
    size_t left = ZSTD_compressStream2(cs->zc, &ob, &ib, finish ? ZSTD_e_end : ZSTD_e_flush);

    if (ZSTD_isError(left) || left != 0 || ib.pos != len)
        return -EIO;
    cs->out_len = ob.pos;
    return 0;
}

static int br_step(struct cstream *cs, const void *in, size_t len, bool finish)
{
    const uint8_t *next_in = in;
    uint8_t *next_out = cs->out;
    size_t avail_in = len, avail_out = OUT_ROOM;
    BrotliEncoderOperation op = finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;

    do {
        if (!BrotliEncoderCompressStream(cs->br, op, &avail_in, &next_in, &avail_out, &next_out,
                                         NULL) ||
            avail_out == 0)
            return -EIO;
    } while (avail_in > 0 || BrotliEncoderHasMoreOutput(cs->br) ||
             (finish && !BrotliEncoderIsFinished(cs->br)));
    cs->out_len = OUT_ROOM - avail_out;
    return 0;
}

/* Compresses in[0..len) (len <= IN_STEP) and flushes the coder (or ends
 * its stream) into cs->out. 0 or -EIO. */
static int code_step(struct cstream *cs, const void *in, size_t len, bool finish)
{
    cs->out_pos = cs->out_len = 0;
    switch (cs->enc) {
    case STATIC_ENCODING_GZIP: return gzip_step(cs, in, len, finish);
    case STATIC_ENCODING_ZSTD: return zstd_step(cs, in, len, finish);
    case STATIC_ENCODING_BR: return br_step(cs, in, len, finish);
    }
    return -EINVAL;
}

/* Hands the engine what it takes of the pending output: 0 when all went,
 * -EAGAIN, -errno. */
static int drain_nowait(struct cstream *cs, struct http_exchange *x)
{
    while (cs->out_pos < cs->out_len) {
        ssize_t n = http_resp_write_nowait(x, cs->out + cs->out_pos, cs->out_len - cs->out_pos);

        if (n < 0)
            return (int)n;
        cs->out_pos += (size_t)n;
    }
    return 0;
}

ssize_t cstream_write_nowait(struct cstream *cs, struct http_exchange *x, const void *data,
                             size_t len)
{
    int r;

    if (!cs || cs->head_only)
        return http_resp_write_nowait(x, data, len);
    if (cs->out_pos == cs->out_len) {
        cs->held = len < IN_STEP ? len : IN_STEP;
        if ((r = code_step(cs, data, cs->held, false)) < 0)
            return r;
    }
    if ((r = drain_nowait(cs, x)) < 0)
        return r;
    r = (int)cs->held;
    cs->held = 0;
    return r;
}

int cstream_finish(struct cstream *cs, struct http_exchange *x)
{
    int r;

    if (!cs || cs->head_only)
        return http_resp_finish(x);
    if (cs->out_pos < cs->out_len &&
        (r = http_resp_write(x, cs->out + cs->out_pos, cs->out_len - cs->out_pos)) < 0)
        return r;
    if ((r = code_step(cs, NULL, 0, true)) < 0 ||
        (r = http_resp_write(x, cs->out, cs->out_len)) < 0)
        return r;
    cs->out_pos = cs->out_len;
    return http_resp_finish(x);
}

void cstream_describe(FILE *out, bool on)
{
    if (on)
        fprintf(out, "compress: br, zstd or gzip by Accept-Encoding, streamed (flushed as the "
                     "output arrives) for the text types static routes compress; never "
                     "text/event-stream, ranges, 204 or a coded body (a HEAD gets the GET's "
                     "coding headers)\n");
}
