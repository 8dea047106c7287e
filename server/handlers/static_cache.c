/* static_cache.c - the per-worker cache of open files and their metadata. */
#include "handlers/static_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handlers/static_internal.h"

#define CACHE_BUCKETS 512  /* a power of two */
#define CACHE_REL_MAX 1024 /* longer paths are served without being kept */
#define IDLE_SWEEP    4    /* idle entries closed per lookup at most */

struct file_list {
    struct static_file *head, *tail; /* head: most recently used */
};

/* One worker's cache for one configuration generation. Entries in the table are on `lru`; entries
 * taken out of it while a request still holds them wait on `zombies` for their last release. */
struct static_cache {
    struct static_file *buckets[CACHE_BUCKETS];
    struct file_list lru;
    struct file_list zombies;
    size_t count;
    size_t data_bytes;
    size_t comp_bytes; /* compressed forms held by entries, zombies included */
    bool last_hit;     /* the last static_file_get found a valid entry */
};

static void list_unlink(struct file_list *l, struct static_file *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
}

static void list_push_front(struct file_list *l, struct static_file *f)
{
    f->prev = NULL;
    f->next = l->head;
    if (l->head)
        l->head->prev = f;
    else
        l->tail = f;
    l->head = f;
}

void static_comp_release(struct static_comp *comp)
{
    if (comp && --comp->refs == 0)
        free(comp);
}

void static_file_set_comp(struct static_file *f, int enc, struct static_comp *comp)
{
    struct static_comp *old = f->comp[enc];

    if (old)
        f->cache->comp_bytes -= old->len;
    static_comp_release(old);
    f->comp[enc] = comp;
    if (comp)
        f->cache->comp_bytes += comp->len;
}

bool static_cache_comp_room(struct static_cache *c, size_t bytes, uint64_t budget)
{
    if (bytes > budget)
        return false;
    for (struct static_file *f = c->lru.tail; f && c->comp_bytes + bytes > budget; f = f->prev)
        for (int e = 0; e < STATIC_ENCODINGS; e++)
            if (f->comp[e])
                static_file_set_comp(f, e, NULL);
    for (struct static_file *f = c->zombies.tail; f && c->comp_bytes + bytes > budget; f = f->prev)
        for (int e = 0; e < STATIC_ENCODINGS; e++)
            if (f->comp[e])
                static_file_set_comp(f, e, NULL);
    return c->comp_bytes + bytes <= budget;
}

size_t static_cache_comp_bytes(const struct static_cache *c) { return c->comp_bytes; }

static void file_free(struct static_file *f)
{
    for (int e = 0; e < STATIC_ENCODINGS; e++)
        if (f->comp[e])
            static_file_set_comp(f, e, NULL);
    if (f->fd >= 0)
        close(f->fd);
    free((void *)f->data);
    http_prepared_free(&f->head);
    free(f);
}

void static_file_keep_head(struct static_file *f, struct http_prepared *head)
{
    http_prepared_free(&f->head);
    f->head = *head;
    *head = (struct http_prepared){0};
}

static void list_free_all(struct file_list *l)
{
    struct static_file *f = l->head, *next;

    for (; f; f = next) {
        next = f->next;
        file_free(f);
    }
    l->head = l->tail = NULL;
}

struct static_cache *static_cache_new(void) { return calloc(1, sizeof(struct static_cache)); }

void static_cache_free(struct static_cache *c)
{
    if (!c)
        return;
    list_free_all(&c->lru);
    list_free_all(&c->zombies);
    free(c);
}

static uint32_t cache_hash(uint64_t root_id, const char *rel, size_t len)
{
    uint64_t h = 14695981039346656037u ^ root_id;

    /* FNV-1a over eight bytes at a time, the high half folded into the
     * low after each step (the table is indexed by the low bits), then
     * over the bytes left. */
    for (; len >= 8; rel += 8, len -= 8) {
        uint64_t w;

        memcpy(&w, rel, 8);
        h = (h ^ w) * 1099511628211u;
        h ^= h >> 32;
    }
    for (; len > 0; rel++, len--)
        h = (h ^ (uint8_t)*rel) * 1099511628211u;
    return (uint32_t)(h ^ (h >> 32));
}

static struct static_file **bucket(struct static_cache *c, uint32_t hash)
{
    return &c->buckets[hash & (CACHE_BUCKETS - 1)];
}

/* Takes f out of the table; it is freed now or on its last release. */
static void table_remove(struct static_cache *c, struct static_file *f)
{
    struct static_file **pp = bucket(c, f->hash);

    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    f->hnext = NULL;
    list_unlink(&c->lru, f);
    c->count--;
    if (f->data)
        c->data_bytes -= f->size;
    f->linked = false;
    if (f->refs == 0)
        file_free(f);
    else
        list_push_front(&c->zombies, f);
}

static void table_insert(struct static_cache *c, struct static_file *f)
{
    struct static_file **b = bucket(c, f->hash);

    while (c->count >= STATIC_CACHE_MAX && c->lru.tail)
        table_remove(c, c->lru.tail);
    f->hnext = *b;
    *b = f;
    list_push_front(&c->lru, f);
    c->count++;
    if (f->data)
        c->data_bytes += f->size;
    f->linked = true;
}

static struct static_file *table_find(struct static_cache *c, uint64_t root_id, uint32_t hash,
                                      const char *rel, size_t len)
{
    for (struct static_file *f = *bucket(c, hash); f; f = f->hnext)
        if (f->hash == hash && f->root_id == root_id && f->rel_len == len &&
            memcmp(f->rel, rel, len) == 0)
            return f;
    return NULL;
}

/* Closes entries nobody used for STATIC_CACHE_IDLE_MS, oldest first, a few
 * per call: deleted files do not stay open for long. */
static void sweep_idle(struct static_cache *c, uint64_t now_ms)
{
    for (int i = 0; i < IDLE_SWEEP && c->lru.tail; i++) {
        struct static_file *f = c->lru.tail;

        if (now_ms < f->used_ms || now_ms - f->used_ms < STATIC_CACHE_IDLE_MS)
            break;
        table_remove(c, f);
    }
}

static bool same_file(const struct static_file *f, const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_dev == f->dev && st->st_ino == f->ino &&
           (uint64_t)st->st_size == f->size && st->st_mtim.tv_sec == f->mtime &&
           st->st_mtim.tv_nsec == f->mtime_nsec && st->st_ctim.tv_sec == f->ctime.tv_sec &&
           st->st_ctim.tv_nsec == f->ctime.tv_nsec;
}

/* True when f may still be served. The stat follows symlinks without the
 * openat2 rules, which is safe: it only confirms that the path still leads
 * to the inode that was opened beneath the root; anything else reopens. */
static bool revalidate(const struct static_root *root, struct static_file *f, uint64_t now_ms)
{
    struct stat st;

    if (now_ms >= f->checked_ms && now_ms - f->checked_ms < STATIC_CACHE_VALID_MS)
        return true;
    if (fstatat(root->dirfd, f->rel, &st, 0) < 0 || !same_file(f, &st))
        return false;
    f->checked_ms = now_ms;
    f->sibling[0] = f->sibling[1] = STATIC_SIBLING_UNKNOWN;
    return true;
}

static void describe(struct static_file *f, const struct stat *st)
{
    f->size = (uint64_t)st->st_size;
    f->mtime = st->st_mtim.tv_sec;
    f->mtime_nsec = st->st_mtim.tv_nsec;
    f->ctime = st->st_ctim;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->etag_len = cond_etag_format(f->etag, sizeof f->etag, (uint64_t)st->st_ino, f->size, f->mtime,
                                   f->mtime_nsec);
    http_date_format(f->mtime, f->last_modified);
}

/* Reads the whole of a small file into memory; keeps no copy when the file
 * changes meanwhile (the stat after the read must match the one before). */
static void read_small(struct static_file *f)
{
    char *data = malloc(f->size);
    size_t got = 0;
    struct stat st;

    if (!data)
        return;
    while (got < f->size) {
        ssize_t n = pread(f->fd, data + got, f->size - got, (off_t)got);

        if (n <= 0 && !(n < 0 && errno == EINTR))
            break;
        if (n > 0)
            got += (size_t)n;
    }
    if (got != f->size || fstat(f->fd, &st) < 0 || !same_file(f, &st)) {
        free(data);
        return;
    }
    f->data = data;
}

/* Opens rel beneath the root into a new entry (not in the table). */
static int file_open(const struct static_root *root, const char *rel, size_t len, bool may_copy,
                     struct static_file **out)
{
    struct static_file *f;
    struct stat st;
    int fd = static_open_beneath(root, rel, O_RDONLY | O_NONBLOCK);

    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0) {
        int r = -errno;

        close(fd);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -ENOENT;
    }
    f = calloc(1, sizeof *f + len + 1);
    if (!f) {
        close(fd);
        return -ENOMEM;
    }
    f->fd = fd;
    memcpy(f->rel, rel, len);
    f->rel_len = len;
    describe(f, &st);
    if (may_copy && f->size > 0 && f->size <= STATIC_CACHE_SMALL_MAX)
        read_small(f);
    *out = f;
    return 0;
}

int static_file_get(struct static_cache *c, const struct static_root *root, const char *rel,
                    size_t rel_len, uint64_t now_ms, struct static_file **out)
{
    uint32_t hash = cache_hash(root->id, rel, rel_len);
    struct static_file *f;
    bool may_copy;
    int r;

    sweep_idle(c, now_ms);
    f = table_find(c, root->id, hash, rel, rel_len);
    c->last_hit = f && revalidate(root, f, now_ms);
    if (c->last_hit) {
        if (c->lru.head != f) {
            list_unlink(&c->lru, f);
            list_push_front(&c->lru, f);
        }
        f->used_ms = now_ms;
        f->refs++;
        *out = f;
        return 0;
    }
    if (f)
        table_remove(c, f);
    may_copy = c->data_bytes + STATIC_CACHE_SMALL_MAX <= STATIC_CACHE_DATA_MAX;
    r = file_open(root, rel, rel_len, may_copy, &f);
    if (r < 0)
        return r;
    f->root_id = root->id;
    f->hash = hash;
    f->checked_ms = f->used_ms = now_ms;
    f->refs = 1;
    f->cache = c;
    if (rel_len <= CACHE_REL_MAX)
        table_insert(c, f);
    else
        list_push_front(&c->zombies, f); /* served once, never found again */
    *out = f;
    return 0;
}

void static_file_release(struct static_file *f)
{
    if (--f->refs > 0 || f->linked)
        return;
    list_unlink(&f->cache->zombies, f);
    file_free(f);
}

size_t static_cache_count(const struct static_cache *c) { return c->count; }

bool static_cache_last_hit(const struct static_cache *c) { return c->last_hit; }

void static_cache_flush(struct static_cache *c)
{
    while (c->lru.tail)
        table_remove(c, c->lru.tail);
}
