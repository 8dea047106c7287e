/* app.c - a configuration generation at run time, each worker's use of it, the dispatcher. */
#include "daemon/app.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "handlers/auth.h"
#include "handlers/kinds.h"
#include "http/client.h"
#include "http/date.h"
#include "http/mime.h"
#include "http/policy.h"
#include "http/router.h"

/* Workers (app_workers) of one generation whose requests are counted by
 * route; more share the last row's absence (their routes go uncounted). */
#define APP_MAX_ROWS 1024

typedef _Atomic uint64_t app_counter;

/* What a route needs while serving; the router's conf points here. */
struct app_route {
    const struct handler_kind *kind;
    void *state;                      /* from kind->open, else the configuration's typed conf */
    size_t kind_index;                /* the kind's index in the handler table */
    bool opened;                      /* state came from kind->open: close it */
    const struct http_policy *policy; /* the route's site keys */
    const struct http_access *access; /* the allow/deny rules it applies; NULL: none */
    struct auth *auth;                /* whom the route lets in, or NULL: everyone */
    const char *name; /* the section as written, without its brackets ("static /") */
    size_t name_len;
};

struct app {
    struct config cfg;
    struct mime_table *mime;
    struct app_route *routes;
    size_t n_routes;
    struct router *router;
    struct auth *server_auth; /* [server]'s auth lines, for the routes that take them whole */
    size_t n_kinds;
    size_t *kind_routes; /* routes of each kind, by kind index */
    _Atomic long refs;
    int (*observe)(void *arg, struct http_view *v); /* the workers' counters */
    void *observe_arg;
    /* Requests per route, one row per app_worker (each written by its
     * worker's thread only), summed when the status page reads them. */
    _Atomic(app_counter *) route_rows[APP_MAX_ROWS]; /* NULL until its worker fills it */
    _Atomic size_t n_rows;                           /* rows reserved */
};

/* One worker's use of one generation: the site its engine serves with and
 * the kinds' worker states. Lives on that worker's thread only. */
struct app_worker {
    struct http_site site; /* first: the engine hands it back */
    struct app *app;
    unsigned refs;
    app_counter *route_requests; /* this worker's row in app->route_rows, or NULL */
    void *kind_worker[];         /* by kind index; NULL for kinds without routes */
};

/* Answers 403 to a client the route's allow/deny lines refuse. */
static void app_refuse(struct http_exchange *x, const struct app_route *ar)
{
    char client[INET6_ADDRSTRLEN];

    http_addr_text(x->client, client, sizeof client);
    log_info("client %s refused by the allow/deny lines of [%.*s]: 403", client, (int)ar->name_len,
             ar->name);
    http_resp_error(x, 403, NULL);
}

/* http_site.error_page: the page error_page names for status, served by
 * the route that matches its path when that route's kind serves pages. */
static int app_error_page(struct http_exchange *x, int status, const char *name, const char *value)
{
    const struct app_worker *aw = x->site->app;
    const char *page = http_policy_page(x->policy, &aw->app->cfg.server.policy, status), *rest;
    const struct route *route;
    const struct app_route *ar;
    void *worker = x->handler_worker;
    size_t rest_len;
    int r;

    if (!page)
        return -ENOENT;
    route = router_match(aw->app->router, x->req->host.p, x->req->host.len, page, strlen(page));
    ar = route ? route->conf : NULL;
    if (!ar || !ar->kind->serve_page)
        return -ENOENT;
    rest = route_rest(route, page, strlen(page), &rest_len);
    x->handler_worker = aw->kind_worker[ar->kind_index];
    r = ar->kind->serve_page(x, ar->state, rest, rest_len, status, name, value);
    x->handler_worker = worker;
    return r;
}

static void app_dispatch(struct http_exchange *x, void *arg)
{
    struct app_worker *aw = arg;
    const struct http_request *req = x->req;
    const struct route *route =
        router_match(aw->app->router, req->host.p, req->host.len, x->path, x->path_len);
    const struct app_route *ar;
    const char *rest;
    size_t rest_len;

    if (!route) {
        x->policy = &aw->app->cfg.server.policy;
        http_resp_error(x, 404, NULL);
        return;
    }
    ar = route->conf;
    x->policy = ar->policy;
    if (aw->route_requests)
        http_stat_add(&aw->route_requests[ar - aw->app->routes], 1);
    x->route = ar->name;
    x->route_len = ar->name_len;
    if (ar->access && !http_access_permits(ar->access, x->client)) {
        app_refuse(x, ar);
        return;
    }
    if (x->path_encoded_slash && !ar->kind->keeps_encoded_slash) {
        http_resp_error(x, 400, NULL);
        return;
    }
    if (ar->auth && !auth_check(x, ar->auth))
        return;
    rest = route_rest(route, x->path, x->path_len, &rest_len);
    x->handler_worker = aw->kind_worker[ar->kind_index];
    ar->kind->handle(x, ar->state, rest, rest_len);
}

static void app_free(struct app *app)
{
    for (size_t i = 0; i < app->n_routes; i++) {
        if (app->routes[i].opened)
            app->routes[i].kind->close(app->routes[i].state);
        if (app->routes[i].auth != app->server_auth)
            auth_close(app->routes[i].auth); /* the route's own lines */
    }
    auth_close(app->server_auth);
    for (size_t i = 0; i < app->n_rows && i < APP_MAX_ROWS; i++)
        free(atomic_load_explicit(&app->route_rows[i], memory_order_acquire));
    router_free(app->router);
    free(app->routes);
    free(app->kind_routes);
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

/* The kind's index in the handler table (every route's kind is in it). */
static size_t kind_index(const struct handler_kind *kind)
{
    size_t i = 0;

    while (i + 1 < handler_kind_count() && handler_kind_at(i) != kind)
        i++;
    return i;
}

/* Opens whom route lets in: its own auth lines, else [server]'s (one
 * state shared by every route that takes them whole). 0 or -errno with
 * err set. */
static int app_open_auth(struct app *app, const struct route *route, struct app_route *ar,
                         char *err, size_t err_len)
{
    const struct http_policy *server = &app->cfg.server.policy, *p = route->policy;
    const char *file = http_policy_auth_file(p, server);
    int r;

    if (!file)
        return 0;
    if (!p->auth_file && !p->auth_realm) {
        if (!app->server_auth &&
            (r = auth_open(server->auth_realm, file, &app->server_auth, err, err_len)) < 0)
            return r;
        ar->auth = app->server_auth;
        return 0;
    }
    return auth_open(http_policy_auth_realm(p, server), file, &ar->auth, err, err_len);
}

/* Opens one route's state through its kind; logs why it cannot. */
static int app_open_route(struct app *app, const struct route *route, struct app_route *ar)
{
    char err[PATH_MAX + 256], where[PATH_MAX + 16];
    int r;

    ar->kind = route->kind;
    ar->kind_index = kind_index(route->kind);
    ar->state = route->conf;
    ar->policy = route->policy;
    ar->access = http_policy_access(route->policy, &app->cfg.server.policy);
    if (ar->access && ar->access->n == 0)
        ar->access = NULL; /* no rule: everyone */
    ar->name = route->name;
    ar->name_len = strlen(route->name);
    if (ar->name_len >= 2 && route->name[0] == '[') {
        ar->name++;
        ar->name_len -= 2;
    }
    r = app_open_auth(app, route, ar, err, sizeof err);
    if (r == 0 && ar->kind->open) {
        r = ar->kind->open(route->conf, app->kind_routes[ar->kind_index], &ar->state, err,
                           sizeof err);
        ar->opened = r == 0;
    }
    if (r < 0) {
        if (ar->auth != app->server_auth)
            auth_close(ar->auth);
        ar->auth = NULL;
        config_where(where, sizeof where, route->file, route->line);
        log_error("%s: %s", where, err);
        return r;
    }
    return 0;
}

/* Opens each route's handler state and builds the serving router. */
static int app_build_routes(struct app *app)
{
    struct route *copy = calloc(app->cfg.n_routes + 1, sizeof *copy);
    int r = -ENOMEM;

    app->n_kinds = handler_kind_count();
    app->routes = calloc(app->cfg.n_routes + 1, sizeof *app->routes);
    app->kind_routes = calloc(app->n_kinds, sizeof *app->kind_routes);
    if (!copy || !app->routes || !app->kind_routes)
        goto out;
    for (size_t i = 0; i < app->cfg.n_routes; i++) {
        struct app_route *ar = &app->routes[i];

        copy[i] = app->cfg.routes[i];
        copy[i].prefix_len = 0;
        copy[i].conf = ar;
        r = app_open_route(app, &app->cfg.routes[i], ar);
        if (r < 0)
            goto out;
        app->n_routes = i + 1;
        app->kind_routes[ar->kind_index]++;
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
    return app;
}

void app_hold(struct app *app) { atomic_fetch_add_explicit(&app->refs, 1, memory_order_relaxed); }

void app_release(struct app *app)
{
    if (atomic_fetch_sub_explicit(&app->refs, 1, memory_order_acq_rel) == 1)
        app_free(app);
}

const struct config *app_config(const struct app *app) { return &app->cfg; }

void app_set_observer(struct app *app, int (*fn)(void *arg, struct http_view *v), void *arg)
{
    app->observe = fn;
    app->observe_arg = arg;
}

/* http_site.observe: the workers' counters, then each route's requests
 * summed over the rows of this generation. */
static int app_observe(const struct http_site *site, struct http_view *v)
{
    const struct app *app = ((const struct app_worker *)site)->app;
    size_t rows = atomic_load_explicit(&app->n_rows, memory_order_relaxed);

    *v = (struct http_view){0};
    if (app->observe && app->observe(app->observe_arg, v) < 0)
        return -ENOMEM;
    v->routes = calloc(app->n_routes + 1, sizeof *v->routes);
    if (!v->routes) {
        http_view_free(v);
        return -ENOMEM;
    }
    v->n_routes = app->n_routes;
    for (size_t i = 0; i < app->n_routes; i++) {
        v->routes[i].name = app->routes[i].name;
        v->routes[i].name_len = app->routes[i].name_len;
        v->routes[i].kind = app->routes[i].kind;
        v->routes[i].state = app->routes[i].state;
        for (size_t r = 0; r < rows && r < APP_MAX_ROWS; r++) {
            app_counter *row = atomic_load_explicit(&app->route_rows[r], memory_order_acquire);

            if (row)
                v->routes[i].requests += atomic_load_explicit(&row[i], memory_order_relaxed);
        }
    }
    return 0;
}

/* Gives aw its own row of route counters (none when memory or rows run
 * out: its requests then go uncounted by route). */
static void app_worker_row(struct app_worker *aw)
{
    struct app *app = aw->app;
    app_counter *row = calloc(app->n_routes + 1, sizeof *row);
    size_t slot;

    if (!row)
        return;
    /* Workers make theirs at the same time: each reserves its own slot. */
    slot = atomic_fetch_add_explicit(&app->n_rows, 1, memory_order_relaxed);
    if (slot >= APP_MAX_ROWS) {
        free(row);
        return;
    }
    atomic_store_explicit(&app->route_rows[slot], row, memory_order_release);
    aw->route_requests = row;
}

/* ---- one worker's use of a generation ------------------------------------ */

static void app_worker_free(struct app_worker *aw)
{
    for (size_t i = 0; i < aw->app->n_kinds; i++) {
        if (aw->kind_worker[i])
            handler_kind_at(i)->worker_teardown(aw->kind_worker[i]);
    }
    app_release(aw->app);
    free(aw->site.head_lines);
    free(aw);
}

static void site_hold(const struct http_site *site) { ((struct app_worker *)site)->refs++; }

static void site_release(const struct http_site *site)
{
    struct app_worker *aw = (struct app_worker *)site;

    if (--aw->refs == 0)
        app_worker_free(aw);
}

/* Runs each kind's worker_init for the kinds the generation routes to. */
static int app_worker_init_kinds(struct app_worker *aw)
{
    for (size_t i = 0; i < aw->app->n_kinds; i++) {
        const struct handler_kind *kind = handler_kind_at(i);
        int r;

        if (!aw->app->kind_routes[i] || !kind->worker_init)
            continue;
        r = kind->worker_init(&aw->kind_worker[i], aw->app->kind_routes[i]);
        if (r < 0) {
            log_error("cannot prepare the %s routes of a worker: %s", kind->name, strerror(-r));
            return r;
        }
    }
    return 0;
}

struct app_worker *app_worker_new(struct app *app)
{
    struct app_worker *aw = calloc(1, sizeof *aw + app->n_kinds * sizeof aw->kind_worker[0]);

    if (!aw)
        return NULL;
    app_hold(app);
    aw->app = app;
    aw->refs = 1;
    aw->site = (struct http_site){
        .limits = app->cfg.limits,
        .mime = app->mime,
        .server_header = app->cfg.server.server_header,
        /* NULL without trusted proxies: each request then looks no further
         * than this pointer, not at a list it would find empty. */
        .trusted = app->cfg.server.trusted.n || app->cfg.server.trusted.unix_peers
                       ? &app->cfg.server.trusted
                       : NULL,
        .dispatch = app_dispatch,
        .error_page = app_error_page,
        .app = aw,
        .hold = site_hold,
        .release = site_release,
        .observe = app_observe,
        .head_lines = http_head_lines_new(app->cfg.server.server_header),
    };
    app_worker_row(aw);
    if (!aw->site.head_lines || app_worker_init_kinds(aw) < 0) {
        app_worker_free(aw);
        return NULL;
    }
    return aw;
}

const struct http_site *app_worker_site(const struct app_worker *aw) { return &aw->site; }

void app_worker_release(struct app_worker *aw) { site_release(&aw->site); }
