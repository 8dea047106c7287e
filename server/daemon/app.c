/* app.c - one configuration generation at run time, and the request dispatcher. */
#include "daemon/app.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "handlers/redirect.h"
#include "handlers/static.h"
#include "http/mime.h"
#include "http/router.h"

/* What a route needs while serving; the router's conf points here. */
struct app_route {
    enum route_kind kind;
    const void *conf;         /* the configuration's typed conf */
    struct static_root *root; /* ROUTE_STATIC */
};

struct app {
    struct config cfg;
    struct mime_table *mime;
    struct app_route *routes;
    size_t n_routes;
    struct router *router;
    struct http_site site;
    _Atomic long refs;
};

static void app_dispatch(struct http_exchange *x, void *arg)
{
    struct app *app = arg;
    const struct http_request *req = x->req;
    const struct route *route =
        router_match(app->router, req->host.p, req->host.len, x->path, x->path_len);
    const struct app_route *ar;
    const char *rest;
    size_t rest_len;

    if (!route) {
        http_resp_error(x, 404, NULL);
        return;
    }
    ar = route->conf;
    rest = route_rest(route, x->path, x->path_len, &rest_len);
    switch (ar->kind) {
    case ROUTE_STATIC: static_handle(x, ar->root, rest, rest_len); break;
    case ROUTE_REDIRECT: redirect_handle(x, ar->conf, rest, rest_len); break;
    default: http_resp_error(x, 501, NULL); break;
    }
}

static void site_hold(const struct http_site *site)
{
    app_hold((struct app *)((char *)site - offsetof(struct app, site)));
}

static void site_release(const struct http_site *site)
{
    app_release((struct app *)((char *)site - offsetof(struct app, site)));
}

static void app_free(struct app *app)
{
    for (size_t i = 0; i < app->n_routes; i++)
        static_root_close(app->routes[i].root);
    router_free(app->router);
    free(app->routes);
    mime_table_free(app->mime);
    config_free(&app->cfg);
    free(app);
}

static int app_build_mime(struct app *app)
{
    const char *ext[CONFIG_MAX_MIME], *type[CONFIG_MAX_MIME];

    for (size_t i = 0; i < app->cfg.n_mime; i++) {
        ext[i] = app->cfg.mime[i].ext;
        type[i] = app->cfg.mime[i].type;
    }
    app->mime = mime_table_new("/etc/mime.types", ext, type, app->cfg.n_mime);
    return app->mime ? 0 : -ENOMEM;
}

/* Opens each route's handler state and builds the serving router. */
static int app_build_routes(struct app *app)
{
    struct route *copy = calloc(app->cfg.n_routes + 1, sizeof *copy);
    int r = -ENOMEM;

    app->routes = calloc(app->cfg.n_routes + 1, sizeof *app->routes);
    if (!copy || !app->routes)
        goto out;
    for (size_t i = 0; i < app->cfg.n_routes; i++) {
        struct app_route *ar = &app->routes[i];

        copy[i] = app->cfg.routes[i];
        copy[i].prefix_len = 0;
        copy[i].conf = ar;
        ar->kind = copy[i].kind;
        ar->conf = app->cfg.routes[i].conf;
        app->n_routes = i + 1;
        if (ar->kind == ROUTE_STATIC && !(ar->root = static_root_open(ar->conf))) {
            int err = errno;
            char where[PATH_MAX + 16];

            r = -err;
            config_where(where, sizeof where, copy[i].file, copy[i].line);
            log_error("%s: cannot open root %s: %s", where,
                      ((const struct static_conf *)ar->conf)->root,
                      err == ENOSYS ? "openat2 is not allowed here (it needs Linux 5.6 or "
                                      "later, and any seccomp filter must allow it)"
                                    : strerror(err));
            goto out;
        }
    }
    r = router_new(&app->router, copy, app->cfg.n_routes, NULL);
out:
    free(copy);
    return r;
}

struct app *app_new(struct config *cfg)
{
    struct app *app = calloc(1, sizeof *app);

    if (!app) {
        config_free(cfg);
        return NULL;
    }
    app->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    atomic_init(&app->refs, 1);
    if (app_build_mime(app) < 0 || app_build_routes(app) < 0) {
        app_free(app);
        return NULL;
    }
    app->site = (struct http_site){
        .limits = app->cfg.limits,
        .mime = app->mime,
        .server_header = app->cfg.server.server_header,
        .dispatch = app_dispatch,
        .app = app,
        .hold = site_hold,
        .release = site_release,
    };
    return app;
}

void app_hold(struct app *app) { atomic_fetch_add_explicit(&app->refs, 1, memory_order_relaxed); }

void app_release(struct app *app)
{
    if (atomic_fetch_sub_explicit(&app->refs, 1, memory_order_acq_rel) == 1)
        app_free(app);
}

const struct http_site *app_site(const struct app *app) { return &app->site; }

const struct config *app_config(const struct app *app) { return &app->cfg; }
