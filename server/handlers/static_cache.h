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

struct static_root;

/* Entries one worker keeps open at most. */
#define STATIC_CACHE_MAX 256
/* Files up to this size are also kept in memory, sent with one write. */
#define STATIC_CACHE_SMALL_MAX (16 * 1024)
/* The most file bytes one worker keeps in memory. */
#define STATIC_CACHE_DATA_MAX (4u * 1024 * 1024)
/* An entry is checked against the file system at most this often (ms):
 * a changed, replaced or deleted file is noticed within this time. */
#define STATIC_CACHE_VALID_MS 1000
/* An entry unused for this long (ms) is closed. */
#define STATIC_CACHE_IDLE_MS 30000

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
    /* The entity header lines of a 200 for this file sent as itself (from
     * Content-Type through the configured headers), kept by the first one
     * sent; NULL until then.
     * An entry belongs to one root of one configuration, whose settings and
     * MIME table do not change: a reload makes new roots, hence new entries. */
    char *head;
    size_t head_len;
    /* private to static_cache.c */
    struct static_file *hnext, *prev, *next;
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
 * Finds rel[0..rel_len) (NUL-terminated, relative to the root: "a/b.html",
 * or "." for the root) in the calling thread's cache, or opens it beneath
 * the root. An entry checked more than STATIC_CACHE_VALID_MS before now_ms
 * (a monotonic clock) is checked again with a stat of the path and replaced
 * when the file changed (inode, size, mtime or ctime) or went away.
 * Returns 0 with a reference in *out (give it back with
 * static_file_release) for a regular file; -EISDIR for a directory;
 * -ENOENT for a missing file or one that is neither; -EXDEV or -ELOOP for
 * a path that leaves the root; another -errno (-EACCES, -EMFILE ...).
 * Never yields.
 */
int static_file_get(const struct static_root *root, const char *rel, size_t rel_len,
                    uint64_t now_ms, struct static_file **out);

/* Keeps lines[0..len) as f's preformatted entity headers (nothing is kept
 * when memory is short). */
void static_file_keep_head(struct static_file *f, const char *lines, size_t len);

/* Gives back a reference from static_file_get. */
void static_file_release(struct static_file *f);

/* Entries in the calling thread's cache (for tests). */
size_t static_cache_count(void);

/* Closes every entry of the calling thread's cache that no request holds
 * (for tests; a worker's cache is freed when its thread ends). */
void static_cache_flush(void);

#endif
