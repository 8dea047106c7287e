/* cgi_env.c - the CGI environment builder: meta-variables, HTTP_* and the route's lines. */
#include "handlers/cgi_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Variables cohttpd sets itself besides one per header, PATH and the
 * route's lines (a bound for envp). */
#define ENV_FIXED 24

/* The environment being written: strings into buf, pointers into envp. */
struct env_out {
    char *buf;
    size_t cap, used;
    char **envp;
    size_t max, n;
    bool full;
};

static void put(struct env_out *o, const char *s, size_t len)
{
    if (o->full || o->cap - o->used < len + 1) {
        o->full = true;
        return;
    }
    if (len == 0)
        return; /* s may be an empty span's NULL */
    memcpy(o->buf + o->used, s, len);
    o->used += len;
}

/* Starts a variable: its bytes follow with put(), then end(). */
static void begin_raw(struct env_out *o)
{
    if (o->n + 1 >= o->max)
        o->full = true;
    if (!o->full)
        o->envp[o->n] = o->buf + o->used;
}

/* Starts "NAME=". */
static void begin(struct env_out *o, const char *name)
{
    begin_raw(o);
    put(o, name, strlen(name));
    put(o, "=", 1);
}

static void end(struct env_out *o)
{
    if (o->full)
        return;
    o->buf[o->used++] = '\0';
    o->n++;
}

static void var(struct env_out *o, const char *name, const char *value, size_t len)
{
    begin(o, name);
    put(o, value, len);
    end(o);
}

static void var_str(struct env_out *o, const char *name, const char *value)
{
    var(o, name, value, strlen(value));
}

/* One byte of a header name as it appears in its variable's name. */
static char var_byte(char c)
{
    if (c >= 'a' && c <= 'z')
        return (char)(c - 'a' + 'A');
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return c;
    return '_';
}

static bool same_var(const struct http_span *a, const struct http_span *b)
{
    if (a->len != b->len)
        return false;
    for (size_t i = 0; i < a->len; i++)
        if (var_byte(a->p[i]) != var_byte(b->p[i]))
            return false;
    return true;
}

static bool name_is(const struct http_span *s, const char *name)
{
    return strlen(name) == s->len && strncasecmp(s->p, name, s->len) == 0;
}

/* HTTP_NAME for header i, with the values of later fields of the same name
 * joined; nothing when an earlier field had it. -EPROTO on a collision. */
static int header_var(struct env_out *o, const struct cgi_env_in *in, unsigned i)
{
    const struct http_request *req = in->req;
    const struct http_header *h = &req->headers[i];

    for (unsigned j = 0; j < i; j++) {
        const struct http_span *other = &req->headers[j].name;

        if (same_var(&h->name, other))
            return other->len == h->name.len && strncasecmp(other->p, h->name.p, h->name.len) == 0
                       ? 0
                       : -EPROTO;
    }
    if (name_is(&h->name, "Content-Length") || name_is(&h->name, "Content-Type") ||
        name_is(&h->name, "Proxy"))
        return 0; /* CONTENT_* are set apart; HTTP_PROXY never (httpoxy) */
    if (in->remote_user && name_is(&h->name, "Authorization"))
        return 0; /* checked by cohttpd: the password stays out of the script */
    begin_raw(o);
    put(o, "HTTP_", 5);
    for (size_t k = 0; k < h->name.len; k++) {
        char c = var_byte(h->name.p[k]);

        put(o, &c, 1);
    }
    put(o, "=", 1);
    put(o, h->value.p, h->value.len);
    for (unsigned k = i + 1; k < req->header_count; k++) {
        if (req->headers[k].name.len == h->name.len &&
            strncasecmp(req->headers[k].name.p, h->name.p, h->name.len) == 0) {
            put(o, ", ", 2);
            put(o, req->headers[k].value.p, req->headers[k].value.len);
        }
    }
    end(o);
    return 0;
}

/* ADDR and PORT of sa into the variables named addr_name and port_name. */
static void address_vars(struct env_out *o, const struct sockaddr *sa, const char *addr_name,
                         const char *port_name)
{
    char text[INET6_ADDRSTRLEN] = "", port[8] = "0";

    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        snprintf(port, sizeof port, "%u", ntohs(in->sin_port));
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        snprintf(port, sizeof port, "%u", ntohs(in6->sin6_port));
    }
    var_str(o, addr_name, text);
    var_str(o, port_name, port);
}

/* SERVER_NAME: the Host without its port, else the local address. */
static void server_name(struct env_out *o, const struct cgi_env_in *in)
{
    const struct http_span *host = &in->req->host;
    size_t len = host->len;
    const char *bracket = memchr(host->p ? host->p : "", ']', len);
    const char *from = bracket ? bracket : host->p;

    if (len == 0) {
        char text[INET6_ADDRSTRLEN] = "";
        const struct sockaddr *sa = in->local;

        if (sa && sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
        else if (sa && sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof text);
        var_str(o, "SERVER_NAME", text);
        return;
    }
    for (const char *p = from; p < host->p + host->len; p++)
        if (*p == ':')
            len = (size_t)(p - host->p);
    var(o, "SERVER_NAME", host->p, len);
}

/* AUTH_TYPE, CONTENT_*, the request's own variables. */
static void request_vars(struct env_out *o, const struct cgi_env_in *in)
{
    const struct http_request *req = in->req;
    char num[24];

    bool auth = in->remote_user != NULL, type = false;

    if (auth) {
        var_str(o, "AUTH_TYPE", "Basic");
        var_str(o, "REMOTE_USER", in->remote_user);
    }

    for (unsigned i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];

        if (!auth && name_is(&h->name, "Authorization")) {
            const char *sp = memchr(h->value.p ? h->value.p : "", ' ', h->value.len);

            var(o, "AUTH_TYPE", h->value.p, sp ? (size_t)(sp - h->value.p) : h->value.len);
            auth = true;
        } else if (!type && name_is(&h->name, "Content-Type")) {
            var(o, "CONTENT_TYPE", h->value.p, h->value.len);
            type = true;
        }
    }
    if (in->content_length >= 0) {
        snprintf(num, sizeof num, "%lld", (long long)in->content_length);
        var_str(o, "CONTENT_LENGTH", num);
    }
    var(o, "QUERY_STRING", req->query.p ? req->query.p : "", req->query.len);
    var(o, "REQUEST_METHOD", req->method_name.p, req->method_name.len);
    var(o, "REQUEST_URI", req->target.p, req->target.len);
    snprintf(num, sizeof num, "HTTP/%u.%u", req->version_major, req->version_minor);
    var_str(o, "SERVER_PROTOCOL", num);
}

/* The route's NAME=value lines: each replaces a variable of that name. */
static void extra_vars(struct env_out *o, const struct cgi_env_in *in)
{
    for (size_t i = 0; i < in->n_extra; i++) {
        const char *line = in->extra[i], *eq = strchr(line, '=');
        size_t name_len = eq ? (size_t)(eq - line) + 1 : strlen(line);
        size_t k = 0;

        while (k < o->n && strncmp(o->envp[k], line, name_len) != 0)
            k++;
        if (o->full)
            return;
        if (k < o->n) {
            o->envp[k] = o->buf + o->used;
            put(o, line, strlen(line) + 1);
        } else {
            begin_raw(o);
            put(o, line, strlen(line));
            end(o);
        }
    }
}

int cgi_env_build(const struct cgi_env_in *in, char *buf, size_t cap, char **envp, size_t max)
{
    struct env_out o = {.buf = buf, .cap = cap, .envp = envp, .max = max};
    const struct http_request *req = in->req;

    for (unsigned i = 0; i < req->header_count; i++)
        if (header_var(&o, in, i) < 0)
            return -EPROTO;
    request_vars(&o, in);
    var_str(&o, "GATEWAY_INTERFACE", "CGI/1.1");
    var_str(&o, "DOCUMENT_ROOT", in->document_root);
    var(&o, "SCRIPT_NAME", in->script_name, in->script_name_len);
    var_str(&o, "SCRIPT_FILENAME", in->script_filename);
    if (in->path_info_len > 0) {
        var(&o, "PATH_INFO", in->path_info, in->path_info_len);
        begin(&o, "PATH_TRANSLATED");
        put(&o, in->document_root, strlen(in->document_root));
        put(&o, in->path_info, in->path_info_len);
        end(&o);
    }
    var_str(&o, "REDIRECT_STATUS", "200");
    address_vars(&o, in->peer, "REMOTE_ADDR", "REMOTE_PORT");
    address_vars(&o, in->local, "SERVER_ADDR", "SERVER_PORT");
    server_name(&o, in);
    var_str(&o, "SERVER_SOFTWARE", in->server_software);
    if (in->path)
        var_str(&o, "PATH", in->path);
    extra_vars(&o, in);
    if (o.full)
        return -ENOSPC;
    envp[o.n] = NULL;
    return (int)o.n;
}

size_t cgi_env_bound(const struct http_request *req, size_t extra_bytes, size_t paths_bytes)
{
    size_t n = 4096 + extra_bytes + 4 * paths_bytes + 2 * req->target.len;

    for (unsigned i = 0; i < req->header_count; i++)
        n += 2 * req->headers[i].name.len + req->headers[i].value.len + 16;
    return n;
}

size_t cgi_env_slots(const struct http_request *req, size_t n_extra)
{
    return req->header_count + n_extra + ENV_FIXED + 1;
}
