/* static_internal.h - what the static handler's files share: the root and reply helpers. */
#ifndef COHTTPD_HANDLERS_STATIC_INTERNAL_H
#define COHTTPD_HANDLERS_STATIC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "handlers/conf.h"
#include "handlers/conf_keys.h"
#include "http/exchange.h"

/* The longest path below a root the handler opens (Linux's PATH_MAX). */
#define STATIC_PATH_MAX 4096

/* The methods a static route answers, for Allow. */
#define STATIC_ALLOW "GET, HEAD, OPTIONS"

/* One [static] route of one configuration generation. Read-only once open:
 * shared by every worker thread. */
struct static_root {
    const struct static_conf *conf;
    int dirfd;   /* conf->root, O_PATH | O_DIRECTORY */
    uint64_t id; /* unique for the process's lifetime: keys the per-worker caches */
};

/* The keys of [static MATCH] (static_conf.c) and their defaults. */
extern const struct section_spec static_schema;
void static_conf_defaults(void *conf);

/* Parses a `root` key (for static and every kind that maps paths beneath
 * a directory): an existing directory, made absolute, stored as a string
 * at key->offset in obj. */
void static_parse_root(struct conf_io *io, const struct key_spec *key, void *obj,
                       const char *value);

/* Opens rel (relative to root->dirfd; "." for the root itself) with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) and flags (O_CLOEXEC and
 * O_NOCTTY are added). Returns the fd or -errno: -EXDEV or -ELOOP when the
 * path or a symlink on it leaves the root. Never yields. */
int static_open_beneath(const struct static_root *root, const char *rel, int flags);

/* Adds the route's configured `header = ` lines to the response begun on x. */
void static_add_conf_headers(struct http_exchange *x, const struct static_conf *conf);

/* Answers status with its short text body, the route's headers, and Allow
 * when allow is not NULL. May yield. */
void static_reply_status(struct http_exchange *x, const struct static_conf *conf, int status,
                         const char *allow);

#endif
