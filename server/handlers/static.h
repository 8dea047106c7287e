/* static.h - the static file handler. */
#ifndef COHTTPD_HANDLERS_STATIC_H
#define COHTTPD_HANDLERS_STATIC_H

#include <stddef.h>

#include "handlers/conf.h"
#include "http/exchange.h"

struct static_root;

/*
 * Opens conf->root as a directory fd for one configuration generation, so
 * that every file is opened beneath it with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS). Returns NULL (errno). Shared by all workers.
 */
struct static_root *static_root_open(const struct static_conf *conf);
void static_root_close(struct static_root *root);

/*
 * Serves x from the route's root: rest is the normalised path below the
 * route's prefix (starts with '/'). Answers every outcome itself (200, 206,
 * 301 to add a slash, 304, 403, 404, 405, 412, 416 ...). May yield.
 */
void static_handle(struct http_exchange *x, struct static_root *root, const char *rest,
                   size_t rest_len);

#endif
