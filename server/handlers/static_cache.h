/* static_cache.h - the per-worker cache of open files and their metadata. */
#ifndef COHTTPD_HANDLERS_STATIC_CACHE_H
#define COHTTPD_HANDLERS_STATIC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "handlers/cond.h"
#include "handlers/conf.h"
#include "http/date.h"
#include "http/exchange.h"

struct static_root;
struct static_cache;

/* Entries one cache (one worker, one generation) keeps open at most. While
 * a reload is under way a worker may briefly hold two: the old one until
 * its last request ends. */
#define STATIC_CACHE_MAX 256
/* Files up to this size are also kept in memory, sent with one write. */
#define STATIC_CACHE_SMALL_MAX (16 * 1024)
/* The most file bytes one cache keeps in memory. */
#define STATIC_CACHE_DATA_MAX (4u * 1024 * 1024)
/* An entry is checked against the file system at most this often (ms):
 * a changed, replaced or deleted file is noticed within this time. */
#define STATIC_CACHE_VALID_MS 1000
/* An entry unused for this long (ms) is closed. */
#define STATIC_CACHE_IDLE_MS 30000

/* A compressed form of an entry's file, made on the fly (static_compress.c)
 * and kept with the entry, under the cache's budget, until the file
 * changes or the budget needs room. Counted references: the entry holds
 * one, each response sending it another. */
struct static_comp {
    unsigned refs;
    bool useless; /* compressing did not make it smaller: send the file as it is */
    char etag[COND_ETAG_MAX + 8];
    size_t etag_len;
    size_t len;
    char data[];
};

/* What a precompressed sibling (FILE.br, FILE.gz) of an entry is known to be. */
enum static_sibling { STATIC_SIBLING_UNKNOWN, STATIC_SIBLING_ABSENT, STATIC_SIBLING_PRESENT };

/* An open regular file below a root. The public fields are read-only for
 * holders of a reference; they describe the file as it was when the entry
 * was last checked. */
struct static_file {
    int fd;
    uint64_t size;
    int64_t mtime;    /* seconds, for Last-Modified and dates */
    const char *data; /* the whole content when small, else NULL */
    char etag[COND_ETAG_MAX];
    size_t etag_len;
    char last_modified[HTTP_DATE_LEN + 1];
    /* what FILE.br and FILE.gz are, indexed by enum static_encoding; reset
     * to unknown each time the entry is checked */
    enum static_sibling sibling[2];
    /* The head of a 200 for this file sent as itself (the status line,
     * Content-Type through the configured headers, and Content-Length),
     * kept by the first one sent; empty (head.bytes NULL) until then.
     * An entry belongs to one root of one configuration, whose settings and
     * MIME table do not change, and a changed file gets a new entry: a
     * reload makes new roots, hence new entries. */
    struct http_prepared head;
    /* compressed forms by enum static_encoding, or NULL; busy: being made */
    struct static_comp *comp[STATIC_ENCODINGS];
    bool comp_busy[STATIC_ENCODINGS];
    /* The file's MIME type from the root's configuration (its name cannot
     * change), looked up by the first response; NULL until then. */
    const char *type;
    size_t type_len;
    /* private to static_cache.c */
    struct static_file *hnext, *prev, *next;
    struct static_cache *cache; /* the cache it came from */
    uint64_t root_id, checked_ms, used_ms;
    uint32_t hash;
    unsigned refs;
    bool linked; /* in the table; else freed on its last release */
    dev_t dev;
    ino_t ino;
    long mtime_nsec;
    struct timespec ctime;
    size_t rel_len;
    char rel[];
};

/*
 * A worker's cache for one configuration generation: every static route
 * of the generation shares it (entries are keyed by root). It belongs to
 * one worker thread: only that thread may use it and the entries it hands
 * out. Returns NULL without memory.
 */
struct static_cache *static_cache_new(void);

/* Closes and frees every entry and c itself (NULL is fine). No request may
 * hold an entry any more: call it once the generation's last request on
 * this worker ended. */
void static_cache_free(struct static_cache *c);

/*
 * Finds rel[0..rel_len) (NUL-terminated, relative to the root: "a/b.html",
 * or "." for the root) in c, or opens it beneath the root. An entry checked
 * more than STATIC_CACHE_VALID_MS before now_ms (a monotonic clock) is
 * checked again with a stat of the path and replaced when the file changed
 * (inode, size, mtime or ctime) or went away.
 * Returns 0 with a reference in *out (give it back with
 * static_file_release) for a regular file; -EISDIR for a directory;
 * -ENOENT for a missing file or one that is neither; -EXDEV or -ELOOP for
 * a path that leaves the root; another -errno (-EACCES, -EMFILE ...).
 * Never yields.
 */
int static_file_get(struct static_cache *c, const struct static_root *root, const char *rel,
                    size_t rel_len, uint64_t now_ms, struct static_file **out);

/* Keeps *head (from http_resp_prepare) as f's head, taking what it holds;
 * the head f kept before is freed. */
void static_file_keep_head(struct static_file *f, struct http_prepared *head);

/* Makes room for bytes more compressed data in c within budget, dropping
 * the compressed forms of the least recently used entries; false when
 * bytes alone exceed the budget. Never yields. */
bool static_cache_comp_room(struct static_cache *c, size_t bytes, uint64_t budget);

/* Sets f's compressed form for enc (taking the caller's reference to comp;
 * NULL drops it), counting its bytes in f's cache. Never yields. */
void static_file_set_comp(struct static_file *f, int enc, struct static_comp *comp);

/* Gives back a reference to a compressed form. */
void static_comp_release(struct static_comp *comp);

/* Compressed bytes c keeps (for tests and the status page). */
size_t static_cache_comp_bytes(const struct static_cache *c);

/* Gives back a reference from static_file_get (on the cache's thread). */
void static_file_release(struct static_file *f);

/* True when the last static_file_get on c found its entry (a hit), false
 * when it had to open the file (a miss; for the status page). */
bool static_cache_last_hit(const struct static_cache *c);

/* Entries in c's table (for tests). */
size_t static_cache_count(const struct static_cache *c);

/* Closes every entry of c that no request holds (for tests). */
void static_cache_flush(struct static_cache *c);

#endif
