/* static_serve.c - one file as a response: encodings, conditionals, ranges. */
#include "handlers/static_serve.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "handlers/cond.h"
#include "handlers/range.h"
#include "handlers/static_compress.h"
#include "handlers/static_encoding.h"
#include "http/mime.h"
#include "http/status.h"

/* Longest Content-Type that multipart/byteranges parts carry; a longer one
 * gets the whole representation instead. */
#define PART_TYPE_MAX 256

/* The representation being sent: the file itself or a precompressed sibling. */
struct repr {
    struct static_file *f;
    const char *encoding; /* Content-Encoding, or NULL */
    const char *type;     /* Content-Type of the original file */
    size_t type_len;
};

/* Whether every configured sibling of f is known to be absent (so also
 * when none is configured): then no Accept-Encoding can choose one. */
static bool siblings_absent(const struct static_conf *conf, const struct static_file *f)
{
    for (size_t i = 0; i < conf->n_precompressed; i++)
        if (f->sibling[conf->precompressed[i]] != STATIC_SIBLING_ABSENT)
            return false;
    return true;
}

/* The sibling to send instead of f for this request's Accept-Encoding, or
 * NULL. Sets *enc. What is learnt about siblings is remembered in f; the
 * field is not parsed once every sibling is known to be absent. */
static struct static_file *pick_sibling(struct http_exchange *x, const struct static_root *root,
                                        struct static_file *f, char *rel, size_t rel_len,
                                        enum static_encoding *enc)
{
    const struct static_conf *conf = root->conf;
    struct static_accept accept;
    unsigned skip = 0;
    size_t len;
    const char *value = http_req_field(x, HTTP_F_ACCEPT_ENCODING, &len);

    if (!value || siblings_absent(conf, f))
        return NULL;
    static_accept_parse(value, len, &accept);
    for (;;) {
        int e = static_accept_pick(&accept, conf->precompressed, conf->n_precompressed, skip);
        struct static_file *sib;
        int r;

        if (e < 0)
            return NULL;
        skip |= 1u << e;
        if (f->sibling[e] == STATIC_SIBLING_ABSENT)
            continue;
        memcpy(rel + rel_len, static_encoding_suffix((enum static_encoding)e), 4);
        r = static_file_get(x->handler_worker, root, rel, rel_len + 3, loop_now(x->loop), &sib);
        http_count_file_cache(x, static_cache_last_hit(x->handler_worker));
        rel[rel_len] = '\0';
        f->sibling[e] = r == 0 ? STATIC_SIBLING_PRESENT : STATIC_SIBLING_ABSENT;
        if (r == 0) {
            *enc = (enum static_encoding)e;
            return sib;
        }
    }
}

/* Headers every answer about the representation carries, 304 included. */
static void add_validators(struct http_exchange *x, const struct static_conf *conf,
                           const struct repr *rp)
{
    http_resp_header(x, "ETag", 4, rp->f->etag, rp->f->etag_len);
    http_resp_header(x, "Last-Modified", 13, rp->f->last_modified, HTTP_DATE_LEN);
    if (conf->cache_control && *conf->cache_control)
        http_resp_header(x, "Cache-Control", 13, conf->cache_control, strlen(conf->cache_control));
    if (conf->n_precompressed > 0 || conf->compress)
        http_resp_header(x, "Vary", 4, "Accept-Encoding", 15);
    static_add_conf_headers(x, conf);
}

/* Headers of a response with content: the type, the coding, validators. */
static void add_entity(struct http_exchange *x, const struct static_conf *conf,
                       const struct repr *rp)
{
    http_resp_header(x, "Content-Type", 12, rp->type, rp->type_len);
    if (rp->encoding)
        http_resp_header(x, "Content-Encoding", 16, rp->encoding, strlen(rp->encoding));
    http_resp_header(x, "Accept-Ranges", 13, "bytes", 5);
    add_validators(x, conf, rp);
}

/* Sends bytes [first, first + len) of the representation as the body. */
static void send_slice(struct http_exchange *x, const struct static_file *f, uint64_t first,
                       uint64_t len)
{
    if (f->data)
        http_resp_body(x, f->data + first, (size_t)len);
    else
        http_resp_sendfile(x, f->fd, (off_t)first, (size_t)len);
}

/* A 200 with the whole representation: from the head the file's cache
 * entry keeps, or made now and kept for the next requests. Only a file
 * sent as itself keeps one: a precompressed sibling sent for its original
 * carries the original's type and a Content-Encoding, while the same entry
 * asked for by its own name carries neither. */
static void send_whole(struct http_exchange *x, const struct static_conf *conf,
                       const struct repr *rp)
{
    struct static_file *f = rp->f;
    struct http_prepared head;

    if (!rp->encoding && f->head.bytes) {
        http_resp_prepared(x, &f->head, f->data, f->fd);
        return;
    }
    if (http_resp_begin(x, 200) < 0)
        return;
    add_entity(x, conf, rp);
    if (!rp->encoding && http_resp_prepare(x, f->size, &head) == 0)
        static_file_keep_head(f, &head);
    send_slice(x, f, 0, f->size);
}

/* The request fields cond_evaluate reads, as bits of fields_seen. */
#define COND_FIELDS                                                                                \
    (1u << HTTP_F_IF_MATCH | 1u << HTTP_F_IF_NONE_MATCH | 1u << HTTP_F_IF_MODIFIED_SINCE |         \
     1u << HTTP_F_IF_UNMODIFIED_SINCE)

static enum cond_result evaluate_conditions(struct http_exchange *x, const struct static_file *f)
{
    struct cond_request cr = {.get_or_head = true};

    if (!(x->req->fields_seen & COND_FIELDS))
        return COND_PROCEED; /* no precondition */

    cr.if_match = http_req_field(x, HTTP_F_IF_MATCH, &cr.if_match_len);
    cr.if_none_match = http_req_field(x, HTTP_F_IF_NONE_MATCH, &cr.if_none_match_len);
    cr.if_modified_since = http_req_field(x, HTTP_F_IF_MODIFIED_SINCE, &cr.if_modified_since_len);
    cr.if_unmodified_since =
        http_req_field(x, HTTP_F_IF_UNMODIFIED_SINCE, &cr.if_unmodified_since_len);
    return cond_evaluate(&cr, f->etag, f->etag_len, f->mtime);
}

static void reply_unsatisfiable(struct http_exchange *x, const struct static_conf *conf,
                                uint64_t size)
{
    char cr[RANGE_CONTENT_RANGE_MAX];
    size_t cr_len = range_format_unsatisfied(cr, sizeof cr, size), body_len;
    const char *body = http_status_body(416, &body_len);

    cr[cr_len] = '\0';
    if (http_resp_error_page(x, 416, "Content-Range", cr) != -ENOENT)
        return;
    if (http_resp_begin(x, 416) < 0)
        return;
    http_resp_header(x, "Content-Range", 13, cr, cr_len);
    static_add_conf_headers(x, conf);
    http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    http_resp_body(x, body, body_len);
}

static void send_single(struct http_exchange *x, const struct static_conf *conf,
                        const struct repr *rp, const struct http_range *r)
{
    char cr[RANGE_CONTENT_RANGE_MAX];
    size_t cr_len = range_format_content_range(cr, sizeof cr, r, rp->f->size);

    if (http_resp_begin(x, 206) < 0)
        return;
    http_resp_header(x, "Content-Range", 13, cr, cr_len);
    add_entity(x, conf, rp);
    send_slice(x, rp->f, r->first, r->last - r->first + 1);
}

/* Streams the parts of a multipart/byteranges body. */
static int write_parts(struct http_exchange *x, const struct repr *rp,
                       const struct http_range *ranges, size_t n, const char *boundary)
{
    char part[PART_TYPE_MAX + 256];
    const struct static_file *f = rp->f;
    size_t len;
    int r = 0;

    for (size_t i = 0; i < n && r == 0; i++) {
        uint64_t first = ranges[i].first, count = ranges[i].last - first + 1;

        len = range_format_part_header(part, sizeof part, boundary, RANGE_BOUNDARY_LEN, rp->type,
                                       rp->type_len, &ranges[i], f->size);
        r = http_resp_write(x, part, len);
        if (r == 0 && f->data)
            r = http_resp_write(x, f->data + first, (size_t)count);
        else if (r == 0)
            r = http_resp_write_file(x, f->fd, (off_t)first, (size_t)count);
    }
    if (r == 0) {
        len = range_format_closing(part, sizeof part, boundary, RANGE_BOUNDARY_LEN);
        r = http_resp_write(x, part, len);
    }
    return r == 0 ? http_resp_finish(x) : r;
}

static void send_multipart(struct http_exchange *x, const struct static_conf *conf,
                           const struct repr *rp, const struct http_range *ranges, size_t n)
{
    char boundary[RANGE_BOUNDARY_LEN + 1];
    uint64_t seed = 0, total;

    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed ^= loop_now_ns(x->loop) ^ (uint64_t)(uintptr_t)x;
    range_boundary_format(boundary, sizeof boundary, seed);
    total = range_multipart_length(ranges, n, boundary, RANGE_BOUNDARY_LEN, rp->type, rp->type_len,
                                   rp->f->size);
    if (http_resp_begin(x, 206) < 0)
        return;
    http_resp_headerf(x, "Content-Type", "multipart/byteranges; boundary=%s", boundary);
    if (rp->encoding)
        http_resp_header(x, "Content-Encoding", 16, rp->encoding, strlen(rp->encoding));
    http_resp_header(x, "Accept-Ranges", 13, "bytes", 5);
    add_validators(x, conf, rp);
    if (http_resp_stream(x, (int64_t)total) == 0)
        write_parts(x, rp, ranges, n, boundary);
}

/* Answers a Range request; false when the whole representation should go. */
static bool serve_ranges(struct http_exchange *x, const struct static_conf *conf,
                         const struct repr *rp)
{
    struct http_range ranges[RANGE_MAX];
    const struct static_file *f = rp->f;
    size_t len, if_range_len;
    const char *value = http_req_field(x, HTTP_F_RANGE, &len);
    const char *if_range = http_req_field(x, HTTP_F_IF_RANGE, &if_range_len);
    int n;

    /* RFC 9110 §14.2: GET is the only method with range handling. */
    if (!value || x->req->method != HTTP_GET ||
        !cond_if_range(if_range, if_range_len, f->etag, f->etag_len, f->mtime))
        return false;
    n = range_parse(value, len, f->size, ranges, RANGE_MAX);
    if (n == -416) {
        reply_unsatisfiable(x, conf, f->size);
        return true;
    }
    if (n <= 0 || (n > 1 && rp->type_len > PART_TYPE_MAX))
        return false;
    if (n == 1)
        send_single(x, conf, rp, &ranges[0]);
    else
        send_multipart(x, conf, rp, ranges, (size_t)n);
    return true;
}

/* The request fields that may make the answer other than the whole
 * representation: the preconditions, Range (with If-Range). */
#define PARTIAL_FIELDS (COND_FIELDS | 1u << HTTP_F_RANGE)

static void serve_repr(struct http_exchange *x, const struct static_conf *conf,
                       const struct repr *rp)
{
    if (!(x->req->fields_seen & PARTIAL_FIELDS)) {
        send_whole(x, conf, rp);
        return;
    }
    switch (evaluate_conditions(x, rp->f)) {
    case COND_NOT_MODIFIED:
        if (http_resp_begin(x, 304) == 0) {
            add_validators(x, conf, rp);
            http_resp_body(x, NULL, 0);
        }
        return;
    case COND_PRECONDITION_FAILED: static_reply_status(x, conf, 412, NULL); return;
    case COND_PROCEED: break;
    }
    if (!serve_ranges(x, conf, rp))
        send_whole(x, conf, rp);
}

/* Serves comp, f compressed with enc, as a representation of its own: its
 * own ETag and length, f's dates, from memory. */
static void serve_comp(struct http_exchange *x, const struct static_conf *conf,
                       const struct static_file *f, const struct static_comp *comp,
                       enum static_encoding enc, struct repr *rp)
{
    struct static_file form = {.fd = -1,
                               .size = comp->len,
                               .mtime = f->mtime,
                               .data = comp->data,
                               .etag_len = comp->etag_len};

    memcpy(form.etag, comp->etag, comp->etag_len + 1);
    memcpy(form.last_modified, f->last_modified, sizeof form.last_modified);
    rp->f = &form;
    rp->encoding = static_encoding_name(enc);
    serve_repr(x, conf, rp);
}

void static_serve_file(struct http_exchange *x, const struct static_root *root,
                       struct static_file *f, char *rel, size_t rel_len)
{
    enum static_encoding enc = STATIC_ENCODING_BR;
    struct static_file *sib = pick_sibling(x, root, f, rel, rel_len, &enc);
    struct repr rp = {.f = sib ? sib : f, .encoding = sib ? static_encoding_name(enc) : NULL};
    struct static_comp *comp;

    if (!f->type)
        f->type = mime_lookup(x->site->mime, rel, rel_len, &f->type_len);
    rp.type = f->type;
    rp.type_len = f->type_len;
    if (sib) {
        serve_repr(x, root->conf, &rp);
        static_file_release(sib);
        return;
    }
    comp = root->conf->compress ? static_compress_get(x, root, f, rp.type, rp.type_len, &enc)
                                : NULL; /* a route that never compresses goes no further */
    if (comp) {
        serve_comp(x, root->conf, f, comp, enc, &rp);
        static_comp_release(comp);
        return;
    }
    serve_repr(x, root->conf, &rp);
}
