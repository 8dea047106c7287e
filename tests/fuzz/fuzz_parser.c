/* fuzz_parser.c - libFuzzer harness for server/http/parser.c: a byte stream
 * of pipelined requests through http_parse_head and http_parse_body, once
 * whole and once in pseudo-random splits derived from the input; both runs
 * must give the same requests, bodies and statuses. The whole run is made
 * twice, with llhttp allowed to skip the heads it could only confirm (as
 * the daemon runs) and with llhttp made to read every head
 * (http_parser_always_llhttp): both must give the same answers, spans and
 * fields, so that the shortcut accepts and refuses exactly what llhttp
 * does.
 *
 * The input is plain request bytes (the seed corpus is raw HTTP). Each call
 * of the split run gets a fresh exact-size copy of the bytes available, so
 * reading past them trips AddressSanitizer. One input in four runs with
 * small limits to reach the 413/414/431 paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

#define FUZZ_MAX_REQUESTS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a run saw: a hash of everything, and where it stopped. */
struct fuzz_run {
    uint64_t hash;
    int status; /* the final error status, 0 if none */
    unsigned requests;
    size_t last_start; /* where the last request began */
    size_t stopped_at; /* bytes used; compared only when no error stopped the run */
};

struct fuzz_feed {
    const char *data;
    size_t size;
    size_t avail; /* bytes delivered so far */
    uint64_t rng; /* 0: everything at once */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

/* FNV-1a, streaming: hashing a body span by span gives the same value in
 * any split. */
static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Delivers more bytes; false when everything has been delivered. */
static bool feed_more(struct fuzz_feed *f)
{
    size_t step;

    if (f->avail >= f->size)
        return false;
    if (f->rng == 0) {
        f->avail = f->size;
        return true;
    }
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    step = (f->rng & 3) == 0 ? 1 : 1 + (size_t)(f->rng >> 8) % 97;
    f->avail = f->avail + step < f->size ? f->avail + step : f->size;
    return true;
}

/* An exact-size copy of data[from..avail) (split runs) or the data itself. */
static const char *feed_view(const struct fuzz_feed *f, size_t from, char **copy)
{
    *copy = NULL;
    if (f->rng == 0)
        return f->data + from;
    *copy = malloc(f->avail - from + 1);
    if (*copy == NULL)
        abort();
    memcpy(*copy, f->data + from, f->avail - from);
    return *copy;
}

static void check_span(struct http_span s, const char *base, size_t len)
{
    if (s.len == 0)
        return;
    if (s.p == NULL || s.p < base || s.p + s.len > base + len) {
        if (!(s.len == 1 && s.p[0] == '/')) /* the absolute-form default path */
            __builtin_trap();
    }
}

/* A span as its length and its offset from base; a span outside
 * base[0..len) (the absolute-form default path, a static "/") as its
 * length. */
static uint64_t span_hash(uint64_t h, struct http_span s, const char *base, size_t len)
{
    bool inside = s.len > 0 && s.p >= base && s.p + s.len <= base + len;

    return mix(mix(h, s.len), inside ? (uint64_t)(s.p - base) : UINT64_MAX);
}

/* Checks the invariants of an accepted head and hashes it, as offsets. */
static uint64_t request_hash(const struct http_request *r, const char *base, size_t len)
{
    uint64_t h = mix(r->head_len, r->method);
    size_t n = r->head_len;
    unsigned i;

    if (r->head_len > len || r->header_count > HTTP_MAX_HEADERS)
        __builtin_trap();
    check_span(r->method_name, base, n);
    check_span(r->target, base, n);
    check_span(r->path, base, n);
    check_span(r->query, base, n);
    check_span(r->host, base, n);
    h = span_hash(h, r->method_name, base, n);
    h = span_hash(span_hash(h, r->path, base, n), r->query, base, n);
    h = mix(h, (uint64_t)r->content_length);
    h = mix(h, (uint64_t)(r->version_major * 10 + r->version_minor));
    h = mix(
        h, (uint64_t)(r->chunked | r->keep_alive << 1 | r->expect_continue << 2 | r->upgrade << 3));
    h = span_hash(span_hash(h, r->target, base, n), r->host, base, n);
    for (i = 0; i < r->header_count; i++) {
        check_span(r->headers[i].name, base, n);
        check_span(r->headers[i].value, base, n);
        h = span_hash(span_hash(h, r->headers[i].name, base, n), r->headers[i].value, base, n);
    }
    return h;
}

/* Parses one head starting at data[base..); returns its length, 0 when the
 * input ended first, -status on error. */
static long run_head(struct http_parser *p, struct fuzz_feed *f, size_t base,
                     struct http_request *req, struct fuzz_run *run)
{
    for (;;) {
        char *copy;
        const char *view = feed_view(f, base, &copy);
        int r = http_parse_head(p, view, f->avail - base, req);

        if (r > 0)
            run->hash = mix(run->hash, request_hash(req, view, f->avail - base));
        free(copy);
        if (r != 0)
            return r;
        if (!feed_more(f))
            return 0;
    }
}

/* Decodes one body from data[*pos..); returns 1, 0 (input ended) or -status. */
static int run_body(struct http_parser *p, struct fuzz_feed *f, size_t *pos, struct fuzz_run *run)
{
    for (;;) {
        char *copy;
        const char *view = feed_view(f, *pos, &copy);
        size_t n = f->avail - *pos, used = 0, out_len = 0;
        const char *out = NULL;
        int r = http_parse_body(p, view, n, &used, &out, &out_len);

        if (r >= 0 && (used > n || (out_len > 0 && (out < view || out + out_len > view + n))))
            __builtin_trap();
        if (r == 1 && out_len != 0)
            __builtin_trap();
        if (out_len > 0)
            run->hash = hash_bytes(run->hash, (const uint8_t *)out, out_len);
        free(copy);
        if (r < 0)
            return r;
        *pos += used;
        if (r == 1)
            return 1;
        if (out_len == 0) {
            if (*pos != f->avail)
                __builtin_trap(); /* 0 without a span consumes everything */
            if (!feed_more(f))
                return 0;
        }
    }
}

/*
 * req is an automatic variable on purpose. As a function-local static, GCC
 * 12.2 (Debian 12) at -O2 and -O3 placed it in .rodata and the first write
 * of http_parse_head faulted: IPA-CP specializes run_head for req == &req
 * and the clone no longer records that req's address escapes to
 * http_parse_head, so the static-variable pass (ipa-reference-addressable)
 * takes req for never written. A compiler bug, not undefined behaviour: no
 * const object is written and no function is declared const or pure; a
 * 60-line reproduction outside cohttpd faults the same way and runs with
 * -fno-ipa-cp, -fno-ipa-reference-addressable, -O1 or clang.
 */
static void run_stream(const struct http_limits *lim, const uint8_t *data, size_t size,
                       uint64_t rng, bool always_llhttp, struct fuzz_run *run)
{
    struct http_request req;
    struct http_parser p;
    struct fuzz_feed f = {.data = (const char *)data, .size = size, .rng = rng};
    size_t pos = 0;

    *run = (struct fuzz_run){0};
    http_parser_init(&p, lim);
    http_parser_always_llhttp(&p, always_llhttp);
    feed_more(&f);
    while (run->requests < FUZZ_MAX_REQUESTS && pos < size) {
        long r;

        run->last_start = pos;
        r = run_head(&p, &f, pos, &req, run);

        if (r <= 0) {
            run->status = (int)-r;
            break;
        }
        pos += (size_t)r;
        r = run_body(&p, &f, &pos, run);
        if (r <= 0) {
            run->status = (int)-r;
            break;
        }
        run->requests++;
        http_parser_reset(&p);
    }
    run->stopped_at = pos;
}

/* Whether two runs over the same bytes saw the same requests, bodies and
 * statuses (and, when no error stopped them, stopped at the same byte). */
static bool runs_agree(const struct fuzz_run *a, const struct fuzz_run *b)
{
    return a->hash == b->hash && a->status == b->status && a->requests == b->requests &&
           a->last_start == b->last_start && (a->status != 0 || a->stopped_at == b->stopped_at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = hash_bytes(0xcbf29ce484222325ULL, data, size);
    struct http_limits lim = http_limits_default();
    struct fuzz_run whole, split, slow;

    if ((seed & 3) == 0) {
        lim.max_header_size = 64 + (size_t)(seed >> 8) % 512;
        lim.max_headers = 1 + (unsigned)(seed >> 20) % 8;
        lim.max_body_size = (seed >> 30) % 128;
    }
    run_stream(&lim, data, size, 0, false, &whole);
    run_stream(&lim, data, size, seed | 1, false, &split);
    run_stream(&lim, data, size, 0, true, &slow);
    if (!runs_agree(&whole, &split) || !runs_agree(&whole, &slow) ||
        whole.stopped_at != slow.stopped_at)
        __builtin_trap();
    return 0;
}
