/* static_compress.c - static files compressed on the fly, once per version, kept in the cache. */
#include "handlers/static_compress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "handlers/compress.h"
#include "handlers/pool.h"
#include "handlers/static_encoding.h"

/* Codings tried on the fly, in order of preference among equal weights. */
static const enum static_encoding on_the_fly[] = {STATIC_ENCODING_BR, STATIC_ENCODING_ZSTD,
                                                  STATIC_ENCODING_GZIP};

/* The coding to use for x, or -1. */
static int pick(struct http_exchange *x, const struct static_conf *conf,
                const struct static_file *f, const char *type, size_t type_len)
{
    struct static_accept accept;
    size_t len;
    const char *value = http_req_field(x, HTTP_F_ACCEPT_ENCODING, &len);

    if (!conf->compress || !value || http_req_field(x, HTTP_F_RANGE, &len) ||
        f->size < conf->compress_min_size || f->size > STATIC_COMPRESS_MAX_INPUT ||
        f->size > conf->compress_cache_size ||
        !compress_type_listed(conf->compress_types, conf->n_compress_types, type, type_len))
        return -1;
    value = http_req_field(x, HTTP_F_ACCEPT_ENCODING, &len);
    static_accept_parse(value, len, &accept);
    return static_accept_pick(&accept, on_the_fly, sizeof on_the_fly / sizeof on_the_fly[0], 0);
}

/* ---- the job, on the work pool ------------------------------------------- */

struct comp_job {
    struct workpool_job base;
    int fd;     /* a duplicate of the entry's, or -1 when data is given */
    char *data; /* the file's bytes (read by the job when fd >= 0) */
    size_t size;
    enum static_encoding enc;
    int level;
    void *out;
    size_t out_len;
    int rc;
};

static int read_all(int fd, char *buf, size_t size)
{
    size_t got = 0;

    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO; /* the file shrank: try another time */
        got += (size_t)n;
    }
    return 0;
}

static void comp_run(struct workpool_job *job)
{
    struct comp_job *j = (struct comp_job *)job;

    if (j->fd >= 0) {
        j->data = malloc(j->size ? j->size : 1);
        j->rc = j->data ? read_all(j->fd, j->data, j->size) : -ENOMEM;
        if (j->rc < 0)
            return;
    }
    j->rc = compress_buffer(j->enc, j->level, j->data, j->size, &j->out, &j->out_len);
}

static void comp_free(struct workpool_job *job)
{
    struct comp_job *j = (struct comp_job *)job;

    if (j->fd >= 0)
        close(j->fd);
    free(j->data);
    if (j->rc == 0)
        free(j->out);
    free(j);
}

/* Runs the compression of f with enc on the pool; the job's result or NULL. */
static struct comp_job *run_job(struct http_exchange *x, const struct static_root *root,
                                const struct static_file *f, enum static_encoding enc)
{
    struct comp_job *j = calloc(1, sizeof *j);
    struct workpool *pool = handlers_pool();

    if (!j || !pool) {
        free(j);
        return NULL;
    }
    *j = (struct comp_job){.base = {.run = comp_run, .free = comp_free},
                           .fd = -1,
                           .size = f->size,
                           .enc = enc,
                           .level = root->conf->compress_level[enc],
                           .rc = -EIO};
    if (f->data && (j->data = malloc(f->size)))
        memcpy(j->data, f->data, f->size);
    else if ((j->fd = dup(f->fd)) < 0) {
        free(j);
        return NULL;
    }
    if (workpool_run(pool, x->loop, &j->base) < 0) {
        comp_free(&j->base);
        return NULL;
    }
    return j;
}

/* ---- the kept forms ------------------------------------------------------- */

/* A new form of f from j's output: its ETag is f's with "-CODING" inside
 * the quotes, so that each coding has its own. */
static struct static_comp *make_comp(const struct static_file *f, enum static_encoding enc,
                                     const struct comp_job *j)
{
    bool useless = j->out_len >= f->size;
    size_t len = useless ? 0 : j->out_len;
    struct static_comp *c = malloc(sizeof *c + (len ? len : 1));

    if (!c)
        return NULL;
    *c = (struct static_comp){.refs = 1, .useless = useless, .len = len};
    memcpy(c->data, j->out, len);
    c->etag_len = (size_t)snprintf(c->etag, sizeof c->etag, "%.*s-%s\"", (int)f->etag_len - 1,
                                   f->etag, static_encoding_name(enc));
    return c;
}

/* Makes f's form for enc now and keeps it when the budget has room. */
static struct static_comp *make_form(struct http_exchange *x, const struct static_root *root,
                                     struct static_file *f, enum static_encoding enc)
{
    struct comp_job *j;
    struct static_comp *c = NULL;

    f->comp_busy[enc] = true;
    j = run_job(x, root, f, enc);
    f->comp_busy[enc] = false;
    if (!j || j->rc < 0) {
        if (j)
            log_warn("static %s: cannot compress %s with %s: %s", root->conf->root, f->rel,
                     static_encoding_name(enc), strerror(-j->rc));
        if (j)
            comp_free(&j->base);
        return NULL;
    }
    c = make_comp(f, enc, j);
    comp_free(&j->base);
    if (c && !f->comp[enc] &&
        static_cache_comp_room(x->handler_worker, c->len, root->conf->compress_cache_size)) {
        c->refs++;
        static_file_set_comp(f, enc, c);
    }
    return c;
}

struct static_comp *static_compress_get(struct http_exchange *x, const struct static_root *root,
                                        struct static_file *f, const char *type, size_t type_len,
                                        enum static_encoding *enc)
{
    int e = pick(x, root->conf, f, type, type_len);
    struct static_comp *c;

    if (e < 0 || f->comp_busy[e])
        return NULL;
    c = f->comp[e];
    if (c)
        c->refs++;
    else
        c = make_form(x, root, f, (enum static_encoding)e);
    if (c && c->useless) {
        static_comp_release(c);
        return NULL;
    }
    *enc = (enum static_encoding)e;
    return c;
}
