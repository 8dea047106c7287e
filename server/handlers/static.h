/* static.h - the static file handler. */
#ifndef COHTTPD_HANDLERS_STATIC_H
#define COHTTPD_HANDLERS_STATIC_H

#include <stddef.h>

#include "handlers/conf.h"
#include "handlers/kinds.h"

struct static_root;

/*
 * Opens conf->root as a directory fd for one configuration generation (the
 * kind's open hook), so that every file is opened beneath it with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS). Returns NULL (errno;
 * ENOSYS when the kernel or a seccomp filter refuses openat2). Shared by
 * all workers; conf must outlive it. Call it at startup or reload, not
 * from a worker.
 */
struct static_root *static_root_open(const struct static_conf *conf);

/* Closes root (NULL is fine). No request may be using it any more. */
void static_root_close(struct static_root *root);

/*
 * [static MATCH] (struct static_conf). Route state: the root opened by
 * static_root_open. Worker state: the worker's open-file cache for the
 * generation (static_cache.h), closed with every file in it once no
 * request of the generation runs on the worker. The handler serves x from
 * the route's root: rest is the normalised path below the route's prefix
 * (starts with '/'). It answers every outcome itself and may yield.
 *   - GET and HEAD are served; OPTIONS gets 204 and every other method 405,
 *     both with Allow: GET, HEAD, OPTIONS.
 *   - A path with a segment starting with '.' is 404 unless dotfiles =
 *     allow. A path that leaves the root (through "..", an absolute or
 *     outward symlink, a magic link) is 404 too, never the fallback.
 *   - A directory asked for without its trailing slash is 301 to the path
 *     with one (query kept). With the slash: the first index file that
 *     exists, else the listing when autoindex is on, else (like a missing
 *     file) the fallback or 404 -- not 403, so that a directory's existence
 *     is not disclosed.
 *   - A file: a precompressed sibling when configured and accepted, then
 *     the preconditions (304, 412), then Range for GET (206, multipart,
 *     416), else 200; see static_serve.h. Files are kept open per worker
 *     (static_cache.h): a change on disk shows within about a second.
 *   - The route's `header =` lines go on every response, Cache-Control on
 *     those that describe a file (200, 206, 304).
 * EACCES gives 403; running out of descriptors or memory gives 503.
 */
extern const struct handler_kind static_kind;

#endif
