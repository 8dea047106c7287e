/* config_site.c - the site keys: [server] trusted_proxies, and allow/deny in [server] and every
 * route. */
#include <errno.h>
#include <string.h>

#include "daemon/config_internal.h"
#include "handlers/auth.h"

/* The most address blocks one trusted_proxies, or one section's allow and
 * deny lines together, hold. */
#define SITE_MAX_CIDRS 64

/* ---- trusted_proxies ------------------------------------------------------ */

static int trusted_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct loader *ld = (struct loader *)io;
    struct http_trusted *t = &((struct config_server *)obj)->trusted;
    struct cidr *v = (struct cidr *)t->v;

    if (len == 4 && memcmp(w, "unix", 4) == 0) {
        t->unix_peers = true;
        return 0;
    }
    if (t->n == SITE_MAX_CIDRS) {
        conf_error(io, "trusted_proxies takes at most %d address blocks", SITE_MAX_CIDRS);
        return -1;
    }
    if (!v && !(v = ld_alloc(ld, SITE_MAX_CIDRS * sizeof *v)))
        return -1;
    t->v = v;
    if (cidr_parse(w, len, &v[t->n]) < 0) {
        conf_error(io,
                   "trusted_proxies: '%.*s' is not an address, ADDRESS/BITS (IPv4 or IPv6) or "
                   "unix",
                   (int)len, w);
        return -1;
    }
    t->n++;
    return 0;
}

void site_parse_trusted(struct conf_io *io, const struct key_spec *key, void *obj,
                        const char *value)
{
    (void)key;
    conf_for_each_word(io, value, obj, trusted_word);
}

void site_dump_trusted(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct http_trusted *t = &((const struct config_server *)obj)->trusted;

    fprintf(out, "%s =", key->name);
    for (size_t i = 0; i < t->n; i++) {
        fputc(' ', out);
        cidr_print(out, &t->v[i]);
    }
    fputs(t->unix_peers ? " unix\n" : "\n", out);
}

/* ---- allow, deny ---------------------------------------------------------- */

/* Adds one rule of an allow or a deny line to the section's policy obj. */
static int access_word(struct conf_io *io, void *obj, const char *w, size_t len, bool allow)
{
    struct loader *ld = (struct loader *)io;
    struct http_access *a = &((struct http_policy *)obj)->access;
    struct http_access_rule r = {.allow = allow};

    if (len == 3 && memcmp(w, "all", 3) == 0) {
        r.cidr = (struct cidr){.prefix = 0};
    } else if (cidr_parse(w, len, &r.cidr) < 0) {
        conf_error(io, "%s: '%.*s' is not an address, ADDRESS/BITS (IPv4 or IPv6) or all",
                   allow ? "allow" : "deny", (int)len, w);
        return -1;
    }
    if (a->n == SITE_MAX_CIDRS) {
        conf_error(io, "allow and deny take at most %d address blocks per section", SITE_MAX_CIDRS);
        return -1;
    }
    if (!a->rules && !(a->rules = ld_alloc(ld, SITE_MAX_CIDRS * sizeof *a->rules)))
        return -1;
    a->rules[a->n++] = r;
    a->any_allow = a->any_allow || allow;
    return 0;
}

static int allow_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    return access_word(io, obj, w, len, true);
}

static int deny_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    return access_word(io, obj, w, len, false);
}

static void parse_access(struct conf_io *io, const struct key_spec *key, void *obj,
                         const char *value)
{
    conf_for_each_word(io, value, obj, key->name[0] == 'a' ? allow_word : deny_word);
}

/* One "allow = ..." or "deny = ..." line per run of rules of one kind, in
 * order: read back, they make the same list. */
static void dump_access(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct http_access *a = &((const struct http_policy *)obj)->access;

    if (key->name[0] == 'd')
        return; /* allow's dump writes both, in their order */
    for (size_t i = 0; i < a->n; i++) {
        if (i == 0 || a->rules[i].allow != a->rules[i - 1].allow)
            fprintf(out, "%s%s =", i ? "\n" : "", a->rules[i].allow ? "allow" : "deny");
        if (a->rules[i].cidr.prefix == 0)
            fputs(" all", out);
        else {
            fputc(' ', out);
            cidr_print(out, &a->rules[i].cidr);
        }
    }
    if (a->n)
        fputc('\n', out);
}

/* ---- error_page ----------------------------------------------------------- */

/* The most error_page statuses per section. */
#define SITE_MAX_PAGES 64

/* One line in the making: its statuses, then its page (the last word). */
struct page_line {
    int status[SITE_MAX_PAGES];
    size_t n_status;
    const char *path;
    size_t path_len;
    bool bad;
};

static int page_word(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct page_line *l = obj;
    int v = 0;

    l->bad = true; /* until the word is taken */

    if (l->path) {
        conf_error(io,
                   "error_page: the page '%.*s' must come last (error_page = 404 410 /404.html)",
                   (int)l->path_len, l->path);
        return -1;
    }
    if (w[0] == '/') {
        l->path = w;
        l->path_len = len;
        l->bad = false;
        return 0;
    }
    for (size_t i = 0; i < len && len == 3; i++)
        v = w[i] >= '0' && w[i] <= '9' ? v * 10 + (w[i] - '0') : -1000;
    if (len != 3 || v < 400 || v > 599) {
        conf_error(io, "error_page: '%.*s' is not an error status (400 to 599) or a path", (int)len,
                   w);
        return -1;
    }
    if (l->n_status == SITE_MAX_PAGES)
        return -1;
    l->status[l->n_status++] = v;
    l->bad = false;
    return 0;
}

static void parse_error_page(struct conf_io *io, const struct key_spec *key, void *obj,
                             const char *value)
{
    struct loader *ld = (struct loader *)io;
    struct http_policy *p = obj;
    struct page_line l = {0};
    char *path;
    (void)key;
    conf_for_each_word(io, value, &l, page_word);
    if (l.bad || (!l.path && !l.n_status))
        return; /* an error said, or an empty line: no page */
    if (!l.path || !l.n_status) {
        conf_error(io, "error_page needs statuses and a page: error_page = 404 410 /404.html");
        return;
    }
    path = conf_strndup(io, l.path, l.path_len);
    if (!path || !conf_url_path_ok(path) || path[l.path_len - 1] == '/') {
        conf_error(io, "error_page: '%.*s' is not a file's URL path", (int)l.path_len, l.path);
        return;
    }
    if (!p->pages && !(p->pages = ld_alloc(ld, SITE_MAX_PAGES * sizeof *p->pages)))
        return;
    for (size_t i = 0; i < l.n_status; i++) {
        size_t k = 0;

        while (k < p->n_pages && p->pages[k].status != l.status[i])
            k++;
        if (k == SITE_MAX_PAGES) {
            conf_error(io, "error_page: at most %d statuses per section", SITE_MAX_PAGES);
            return;
        }
        p->pages[k] = (struct http_error_page){.status = l.status[i], .path = path};
        p->n_pages += k == p->n_pages;
    }
}

/* One line per page, with every status it answers, in the order first set. */
static void dump_error_page(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct http_policy *p = obj;

    for (size_t i = 0; i < p->n_pages; i++) {
        size_t j = 0;

        while (j < i && strcmp(p->pages[j].path, p->pages[i].path) != 0)
            j++;
        if (j < i)
            continue; /* written with its first status */
        fprintf(out, "%s =", key->name);
        for (j = i; j < p->n_pages; j++) {
            if (strcmp(p->pages[j].path, p->pages[i].path) == 0)
                fprintf(out, " %d", p->pages[j].status);
        }
        fprintf(out, " %s\n", p->pages[i].path);
    }
}

/* ---- auth_basic, auth_basic_file ------------------------------------------ */

/* auth_basic = REALM, or off: this route authenticates no one, whatever
 * [server] says. */
static void parse_auth_realm(struct conf_io *io, const struct key_spec *key, void *obj,
                             const char *value)
{
    struct http_policy *p = obj;

    (void)key;
    p->auth_realm = NULL;
    p->auth_off = strcmp(value, "off") == 0;
    if (!*value || p->auth_off)
        return;
    if (!auth_realm_ok(value)) {
        conf_error(io,
                   "auth_basic realm '%s' must be 1 to 200 printable characters without '\"' "
                   "or '\\' (or off)",
                   value);
        return;
    }
    p->auth_realm = conf_strdup(io, value);
}

static void dump_auth_realm(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct http_policy *p = obj;

    if (p->auth_off || p->auth_realm)
        fprintf(out, "%s = %s\n", key->name, p->auth_off ? "off" : p->auth_realm);
}

static void auth_file_report(void *ctx, const char *msg) { conf_error(ctx, "%s", msg); }

/* The file is read and checked now, so that -t refuses what startup would. */
static void parse_auth_file(struct conf_io *io, const struct key_spec *key, void *obj,
                            const char *value)
{
    struct http_policy *p = obj;
    char *path;

    p->auth_file = NULL;
    if (!*value)
        return;
    path = conf_path(io, key->name, value);
    if (path && auth_file_check(path, auth_file_report, io) >= 0)
        p->auth_file = path;
}

static void dump_auth_file(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct http_policy *p = obj;

    if (p->auth_file)
        fprintf(out, "%s = %s\n", key->name, p->auth_file);
}

static const struct key_spec site_keys[] = {
    {.name = "allow",
     .type = VT_CUSTOM,
     .repeatable = true,
     .parse = parse_access,
     .dump = dump_access},
    {.name = "deny",
     .type = VT_CUSTOM,
     .repeatable = true,
     .parse = parse_access,
     .dump = dump_access},
    {.name = "error_page",
     .type = VT_CUSTOM,
     .repeatable = true,
     .parse = parse_error_page,
     .dump = dump_error_page},
    {.name = "auth_basic", .type = VT_CUSTOM, .parse = parse_auth_realm, .dump = dump_auth_realm},
    {.name = "auth_basic_file",
     .type = VT_CUSTOM,
     .parse = parse_auth_file,
     .dump = dump_auth_file},
};

const struct section_spec schema_site = {.keys = site_keys,
                                         .n_keys = sizeof site_keys / sizeof site_keys[0]};

/* Writes the rules of a, comma-separated ("allow 10.0.0.0/8, deny all"). */
static void access_print(FILE *out, const struct http_access *a)
{
    for (size_t i = 0; i < a->n; i++) {
        fprintf(out, "%s%s ", i ? ", " : "", a->rules[i].allow ? "allow" : "deny");
        if (a->rules[i].cidr.prefix == 0)
            fputs("all", out);
        else
            cidr_print(out, &a->rules[i].cidr);
    }
}

/* "error pages: 404 410 /404.html, 502 /502.html (WHOSE lines)" */
static void describe_pages(FILE *out, const struct route *route, const struct config *cfg)
{
    const struct http_policy *p =
        route->policy && route->policy->n_pages ? route->policy : &cfg->server.policy;

    if (!p->n_pages)
        return;
    fputs("error pages: ", out);
    for (size_t i = 0; i < p->n_pages; i++) {
        bool last = i + 1 == p->n_pages || strcmp(p->pages[i + 1].path, p->pages[i].path) != 0;

        fprintf(out, "%d ", p->pages[i].status);
        if (last)
            fprintf(out, "%s%s", p->pages[i].path, i + 1 < p->n_pages ? ", " : "");
    }
    fprintf(out, " (%s; a missing page: the built-in text)\n",
            p == &cfg->server.policy ? "[server]'s lines" : "the route's lines");
}

/* "auth: basic, realm ..., N users from PATH (WHOSE lines)", or why none. */
static void describe_auth(FILE *out, const struct route *route, const struct config *cfg)
{
    const struct http_policy *server = &cfg->server.policy;
    const char *file = http_policy_auth_file(route->policy, server);

    if (route->policy && route->policy->auth_off && server->auth_file)
        fputs("auth: none (auth_basic = off here; [server] has auth_basic_file)\n", out);
    if (!file)
        return;
    auth_describe(out, http_policy_auth_realm(route->policy, server), file,
                  route->policy && route->policy->auth_file ? "the route's lines"
                                                            : "[server]'s lines");
}

void config_describe_site(FILE *out, const struct route *route, const struct config *cfg)
{
    const struct http_access *a = http_policy_access(route->policy, &cfg->server.policy);

    describe_pages(out, route, cfg);
    describe_auth(out, route, cfg);
    if (a->n == 0)
        return; /* every client: nothing to say */
    fputs("access: ", out);
    access_print(out, a);
    fprintf(out, "; others %s (%s, first match wins; 403 when refused)\n",
            a->any_allow ? "refused" : "served",
            a == &cfg->server.policy.access ? "[server]'s lines" : "the route's lines");
}
