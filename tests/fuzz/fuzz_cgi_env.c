/* fuzz_cgi_env.c - libFuzzer harness for server/handlers/cgi_env.c: the CGI environment builder.
 *
 * Input: request header lines, "name: value" each on its own line (the
 * first line is the request target), made into a parsed request as the
 * engine would hand it over. The environment is built into a buffer of the
 * size cgi_env_bound gives; every violated invariant aborts. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/cgi_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* Fills req from the input lines: the target, then headers. */
static void make_request(struct http_request *req, const char *text, size_t len)
{
    const char *p = text, *end = text + len;

    memset(req, 0, sizeof *req);
    req->method_name = (struct http_span){.p = "POST", .len = 4};
    req->version_major = req->version_minor = 1;
    req->content_length = -1;
    for (int line = 0; p < end && req->header_count < 64; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(stop - p));

        if (line == 0) {
            req->target = (struct http_span){.p = p, .len = (size_t)(stop - p)};
            req->query = req->target;
        } else if (colon && colon > p && !memchr(p, '\0', (size_t)(stop - p))) {
            /* (the engine's parser refuses NUL in a head) */
            struct http_header *h = &req->headers[req->header_count++];

            h->name = (struct http_span){.p = p, .len = (size_t)(colon - p)};
            h->value = (struct http_span){.p = colon + 1, .len = (size_t)(stop - colon - 1)};
            if (h->name.len == 4 && memcmp(p, "Host", 4) == 0)
                req->host = h->value;
        }
        p = stop + 1;
    }
}

/* Every entry is NAME=value inside buf, no name twice, never HTTP_PROXY. */
static void check_env(char **envp, int n, const char *buf, size_t cap)
{
    check(envp[n] == NULL);
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(envp[i], '=');

        check(envp[i] >= buf && envp[i] + strlen(envp[i]) < buf + cap && eq && eq > envp[i]);
        check(strncmp(envp[i], "HTTP_PROXY=", 11) != 0);
        for (const char *c = envp[i]; c < eq; c++)
            check((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_');
        for (int j = 0; j < i; j++)
            check(strncmp(envp[j], envp[i], (size_t)(eq - envp[i]) + 1) != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_request req;
    struct sockaddr_in peer = {.sin_family = AF_INET};
    struct sockaddr_in6 local = {.sin6_family = AF_INET6};
    char *text = malloc(size ? size : 1), *buf, **envp;
    size_t cap, slots;
    int n;

    if (!text)
        abort();
    memcpy(text, data, size);
    make_request(&req, text, size);
    struct cgi_env_in in = {
        .req = &req,
        .script_name = "/s",
        .script_name_len = 2,
        .path_info = "",
        .script_filename = "/r/s",
        .document_root = "/r",
        .peer = (const struct sockaddr *)&peer,
        .local = (const struct sockaddr *)&local,
        .content_length = (int64_t)size,
        .server_software = "cohttpd/fuzz",
        .path = "/bin",
    };
    cap = cgi_env_bound(&req, 0, 16);
    slots = cgi_env_slots(&req, 0);
    buf = malloc(cap);
    envp = malloc(slots * sizeof *envp);
    if (!buf || !envp)
        abort();
    n = cgi_env_build(&in, buf, cap, envp, slots);
    check(n == -EPROTO || n > 0); /* the bound always fits */
    if (n > 0)
        check_env(envp, n, buf, cap);
    free(envp);
    free(buf);
    free(text);
    return 0;
}
