/* redirect.c - the redirect handler. */
#include "handlers/redirect.h"

#include <string.h>

#include "http/status.h"
#include "http/url.h"

void redirect_handle(struct http_exchange *x, const struct redirect_conf *conf, const char *rest,
                     size_t rest_len)
{
    char location[4096];
    size_t to_len = strlen(conf->to), n = to_len, body_len;
    const char *body;

    if (to_len >= sizeof location) {
        http_resp_error(x, 500, NULL);
        return;
    }
    memcpy(location, conf->to, to_len);
    if (to_len > 0 && conf->to[to_len - 1] == '/' && rest_len > 1) {
        n += url_percent_encode_path(rest + 1, rest_len - 1, location + n, sizeof location - n);
        if (n >= sizeof location) {
            http_resp_error(x, 414, NULL);
            return;
        }
    }
    if (x->req->query.len > 0 && n + 1 + x->req->query.len < sizeof location) {
        location[n++] = '?';
        memcpy(location + n, x->req->query.p, x->req->query.len);
        n += x->req->query.len;
    }
    body = http_status_body((int)conf->status, &body_len);
    if (http_resp_begin(x, (int)conf->status) < 0)
        return;
    http_resp_header(x, "Location", 8, location, n);
    http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    http_resp_body(x, body, body_len);
}
