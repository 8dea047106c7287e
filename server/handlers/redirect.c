/* redirect.c - the redirect handler and its keys. */
#include "handlers/redirect.h"

#include <string.h>

#include "handlers/conf.h"
#include "http/status.h"
#include "http/url.h"

/* The longest Location sent. */
#define LOCATION_MAX 4096

/* Writes the Location for rest and query into out[0..LOCATION_MAX).
 * Returns its length, or -500 (the target itself is too long) or -414 (the
 * path below the prefix makes it too long). A query that does not fit is
 * left out. */
static int redirect_location(const struct redirect_conf *conf, const char *rest, size_t rest_len,
                             const char *query, size_t query_len, char *out)
{
    size_t to_len = strlen(conf->to), n = to_len;

    if (to_len >= LOCATION_MAX)
        return -500;
    memcpy(out, conf->to, to_len);
    if (to_len > 0 && conf->to[to_len - 1] == '/' && rest_len > 1) {
        n += url_percent_encode_path(rest + 1, rest_len - 1, out + n, LOCATION_MAX - n);
        if (n >= LOCATION_MAX)
            return -414;
    }
    if (query_len > 0 && n + 1 + query_len < LOCATION_MAX) {
        out[n++] = '?';
        memcpy(out + n, query, query_len);
        n += query_len;
    }
    return (int)n;
}

static void redirect_handle(struct http_exchange *x, void *state, const char *rest, size_t rest_len)
{
    const struct redirect_conf *conf = state;
    char location[LOCATION_MAX];
    int n = redirect_location(conf, rest, rest_len, x->req->query.p, x->req->query.len, location);
    size_t body_len;
    const char *body;

    if (n < 0) {
        http_resp_error(x, -n, NULL);
        return;
    }
    body = http_status_body((int)conf->status, &body_len);
    if (http_resp_begin(x, (int)conf->status) < 0)
        return;
    http_resp_header(x, "Location", 8, location, (size_t)n);
    http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    http_resp_body(x, body, body_len);
}

static void redirect_describe(FILE *out, const void *conf, const struct handler_target *t)
{
    const struct redirect_conf *rc = conf;
    char location[LOCATION_MAX];
    int n = redirect_location(rc, t->rest, t->rest_len, t->query, t->query_len, location);

    if (n < 0)
        fprintf(out, "redirect: none (%d %s: the Location would be too long)\n", -n,
                http_status_reason(-n));
    else
        fprintf(out, "redirect: %u %.*s\n", rc->status, n, location);
}

/* ---- keys ---------------------------------------------------------------- */

static bool redirect_target_ok(const char *to)
{
    const char *rest = NULL;

    if (strncmp(to, "http://", 7) == 0)
        rest = to + 7;
    else if (strncmp(to, "https://", 8) == 0)
        rest = to + 8;
    if (rest && (*rest == '\0' || *rest == '/'))
        return false;
    if (!rest && (to[0] != '/' || to[1] == '/'))
        return false;
    for (; *to; to++) {
        if ((unsigned char)*to <= 0x20 || *to == 0x7f)
            return false;
    }
    return true;
}

static void parse_to(struct conf_io *io, const struct key_spec *key, void *obj, const char *value)
{
    if (!*value) {
        conf_error(io, "'%s' needs a value", key->name);
        return;
    }
    if (!redirect_target_ok(value)) {
        conf_error(io,
                   "redirect target '%s' must be an http(s) URL or a path starting "
                   "with '/'",
                   value);
        return;
    }
    conf_set_string(obj, key, conf_strdup(io, value));
}

static const struct enum_name redirect_statuses[] = {
    {.name = "301", .value = 301},
    {.name = "302", .value = 302},
    {.name = "307", .value = 307},
    {.name = "308", .value = 308},
    {.name = NULL},
};

static const struct key_spec redirect_keys[] = {
    {.name = "to",
     .type = VT_CUSTOM,
     .offset = offsetof(struct redirect_conf, to),
     .required = true,
     .parse = parse_to,
     .dump = conf_dump_string},
    {.name = "status",
     .type = VT_ENUM,
     .offset = offsetof(struct redirect_conf, status),
     .width = sizeof(unsigned),
     .names = redirect_statuses},
};

static void redirect_defaults(void *conf)
{
    *(struct redirect_conf *)conf = (struct redirect_conf){.status = 301};
}

static const struct section_spec redirect_schema = {
    .keys = redirect_keys, .n_keys = sizeof redirect_keys / sizeof redirect_keys[0]};

const struct handler_kind redirect_kind = {
    .name = "redirect",
    .schema = &redirect_schema,
    .conf_size = sizeof(struct redirect_conf),
    .conf_init = redirect_defaults,
    .handle = redirect_handle,
    .describe = redirect_describe,
};
