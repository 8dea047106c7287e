/* cgi_env.c - tests for server/handlers/cgi_env.c: the CGI environment builder. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/cgi_env.h"

static struct http_span span(const char *s) { return (struct http_span){.p = s, .len = strlen(s)}; }

static struct http_request req;
static struct sockaddr_in peer, local;

/* A GET of /cgi-bin/s.sh/p%20q?a=1 with the header lines given as
 * name, value pairs (NULL-terminated). */
static void request(const char *const *headers)
{
    memset(&req, 0, sizeof req);
    req.method = HTTP_GET;
    req.method_name = span("GET");
    req.target = span("/cgi-bin/s.sh/p%20q?a=1");
    req.path = span("/cgi-bin/s.sh/p%20q");
    req.query = span("a=1");
    req.version_major = 1;
    req.version_minor = 1;
    req.content_length = -1;
    for (unsigned i = 0; headers[2 * i]; i++) {
        req.headers[i].name = span(headers[2 * i]);
        req.headers[i].value = span(headers[2 * i + 1]);
        if (strcasecmp(headers[2 * i], "Host") == 0)
            req.host = req.headers[i].value;
        req.header_count = i + 1;
    }
    peer = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(40000)};
    inet_pton(AF_INET, "192.0.2.7", &peer.sin_addr);
    local = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
}

static struct cgi_env_in input(void)
{
    static const char *const extra[] = {"A_LINE=one", "SERVER_SOFTWARE=replaced"};

    return (struct cgi_env_in){
        .req = &req,
        .script_name = "/cgi-bin/s.sh",
        .script_name_len = 13,
        .path_info = "/p q",
        .path_info_len = 4,
        .script_filename = "/srv/cgi/s.sh",
        .document_root = "/srv/cgi",
        .peer = (const struct sockaddr *)&peer,
        .local = (const struct sockaddr *)&local,
        .content_length = -1,
        .server_software = "cohttpd/test",
        .path = "/usr/bin:/bin",
        .extra = extra,
        .n_extra = 2,
    };
}

static char buf[65536];
static char *envp[300];

/* The value of name in envp[0..n), or NULL. */
static const char *get(int n, const char *name)
{
    size_t len = strlen(name);

    for (int i = 0; i < n; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return envp[i] + len + 1;
    return NULL;
}

static int count(int n, const char *name)
{
    int c = 0;
    size_t len = strlen(name);

    for (int i = 0; i < n; i++)
        c += strncmp(envp[i], name, len) == 0 && envp[i][len] == '=';
    return c;
}

Test(cgi_env, the_meta_variables_of_rfc_3875)
{
    static const char *const headers[] = {"Host",          "example.org:8443", "Accept", "*/*",
                                          "Authorization", "Basic eDp5",       NULL};
    struct cgi_env_in in;
    int n;

    request(headers);
    in = input();
    n = cgi_env_build(&in, buf, sizeof buf, envp, 300);
    cr_assert_gt(n, 0);
    cr_expect_null(envp[n]);
    cr_expect_str_eq(get(n, "GATEWAY_INTERFACE"), "CGI/1.1");
    cr_expect_str_eq(get(n, "REQUEST_METHOD"), "GET");
    cr_expect_str_eq(get(n, "REQUEST_URI"), "/cgi-bin/s.sh/p%20q?a=1");
    cr_expect_str_eq(get(n, "QUERY_STRING"), "a=1");
    cr_expect_str_eq(get(n, "SCRIPT_NAME"), "/cgi-bin/s.sh");
    cr_expect_str_eq(get(n, "SCRIPT_FILENAME"), "/srv/cgi/s.sh");
    cr_expect_str_eq(get(n, "PATH_INFO"), "/p q");
    cr_expect_str_eq(get(n, "PATH_TRANSLATED"), "/srv/cgi/p q");
    cr_expect_str_eq(get(n, "DOCUMENT_ROOT"), "/srv/cgi");
    cr_expect_str_eq(get(n, "REMOTE_ADDR"), "192.0.2.7");
    cr_expect_str_eq(get(n, "REMOTE_PORT"), "40000");
    cr_expect_str_eq(get(n, "SERVER_ADDR"), "127.0.0.1");
    cr_expect_str_eq(get(n, "SERVER_PORT"), "8080");
    cr_expect_str_eq(get(n, "SERVER_NAME"), "example.org");
    cr_expect_str_eq(get(n, "SERVER_PROTOCOL"), "HTTP/1.1");
    cr_expect_str_eq(get(n, "REDIRECT_STATUS"), "200");
    cr_expect_str_eq(get(n, "AUTH_TYPE"), "Basic");
    cr_expect_str_eq(get(n, "HTTP_HOST"), "example.org:8443");
    cr_expect_str_eq(get(n, "HTTP_ACCEPT"), "*/*");
    cr_expect_str_eq(get(n, "PATH"), "/usr/bin:/bin");
    cr_expect_str_eq(get(n, "A_LINE"), "one");
    cr_expect_str_eq(get(n, "SERVER_SOFTWARE"), "replaced", "a route line replaces a variable");
    cr_expect_eq(count(n, "SERVER_SOFTWARE"), 1);
    cr_expect_null(get(n, "CONTENT_LENGTH"), "no body, no CONTENT_LENGTH");
}

Test(cgi_env, bodies_and_ipv6_hosts)
{
    static const char *const headers[] = {
        "Host", "[::1]:8080", "Content-Type", "text/plain", "Content-Length", "5", NULL};
    struct cgi_env_in in;
    int n;

    request(headers);
    in = input();
    in.content_length = 5;
    in.path_info_len = 0;
    n = cgi_env_build(&in, buf, sizeof buf, envp, 300);
    cr_assert_gt(n, 0);
    cr_expect_str_eq(get(n, "CONTENT_LENGTH"), "5");
    cr_expect_str_eq(get(n, "CONTENT_TYPE"), "text/plain");
    cr_expect_null(get(n, "HTTP_CONTENT_TYPE"));
    cr_expect_null(get(n, "HTTP_CONTENT_LENGTH"));
    cr_expect_str_eq(get(n, "SERVER_NAME"), "[::1]");
    cr_expect_null(get(n, "PATH_INFO"), "no PATH_INFO when the script is the whole path");
    cr_expect_null(get(n, "PATH_TRANSLATED"));
}

Test(cgi_env, httpoxy_and_name_collisions)
{
    static const char *const proxy[] = {"Proxy", "http://evil/", "X-Twice", "a", "x-twice", "b",
                                        NULL};
    static const char *const clash[] = {"X-Forwarded-For", "1", "X_Forwarded_For", "2", NULL};
    static const char *const dots[] = {"X.A", "1", "X-A", "2", NULL};
    struct cgi_env_in in;
    int n;

    request(proxy);
    in = input();
    n = cgi_env_build(&in, buf, sizeof buf, envp, 300);
    cr_assert_gt(n, 0);
    cr_expect_null(get(n, "HTTP_PROXY"), "httpoxy");
    cr_expect_str_eq(get(n, "HTTP_X_TWICE"), "a, b");
    cr_expect_eq(count(n, "HTTP_X_TWICE"), 1);
    request(clash);
    in = input();
    cr_expect_eq(cgi_env_build(&in, buf, sizeof buf, envp, 300), -EPROTO);
    request(dots);
    in = input();
    cr_expect_eq(cgi_env_build(&in, buf, sizeof buf, envp, 300), -EPROTO);
}

Test(cgi_env, small_buffers_are_refused_and_the_bound_fits)
{
    static const char *const headers[] = {"Host", "h", "X-Long", "0123456789012345678901234567",
                                          NULL};
    struct cgi_env_in in;
    size_t bound;
    char *big;

    request(headers);
    in = input();
    cr_expect_eq(cgi_env_build(&in, buf, 100, envp, 300), -ENOSPC);
    cr_expect_eq(cgi_env_build(&in, buf, sizeof buf, envp, 5), -ENOSPC);
    bound = cgi_env_bound(&req, strlen("A_LINE=one") + strlen("SERVER_SOFTWARE=replaced") + 2,
                          strlen(in.script_filename) + strlen(in.document_root) + 20);
    big = malloc(bound);
    cr_assert_not_null(big);
    cr_expect_gt(cgi_env_build(&in, big, bound, envp, cgi_env_slots(&req, 2)), 0);
    free(big);
}

Test(cgi_env, repeated_fields_set_one_variable_each)
{
    static const char *const headers[] = {"Authorization", "Basic a",      "Authorization",
                                          "Digest b",      "Content-Type", "text/a",
                                          "Content-Type",  "text/b",       NULL};
    struct cgi_env_in in;
    int n;

    request(headers);
    in = input();
    n = cgi_env_build(&in, buf, sizeof buf, envp, 300);
    cr_assert_gt(n, 0);
    cr_expect_eq(count(n, "AUTH_TYPE"), 1);
    cr_expect_str_eq(get(n, "AUTH_TYPE"), "Basic");
    cr_expect_eq(count(n, "CONTENT_TYPE"), 1);
    cr_expect_str_eq(get(n, "CONTENT_TYPE"), "text/a");
    cr_expect_str_eq(get(n, "HTTP_AUTHORIZATION"), "Basic a, Digest b");
}

Test(cgi_env, an_authenticated_user_without_the_password)
{
    static const char *const headers[] = {"Authorization", "Basic Ym9iOmh1bnRlcjI=", "Accept",
                                          "*/*", NULL};
    struct cgi_env_in in;
    int n;

    request(headers);
    in = input();
    in.remote_user = "bob";
    n = cgi_env_build(&in, buf, sizeof buf, envp, 300);
    cr_assert_gt(n, 0);
    cr_expect_eq(count(n, "AUTH_TYPE"), 1);
    cr_expect_str_eq(get(n, "AUTH_TYPE"), "Basic");
    cr_expect_str_eq(get(n, "REMOTE_USER"), "bob");
    cr_expect_null(get(n, "HTTP_AUTHORIZATION"), "the credentials reached the environment");
    cr_expect_str_eq(get(n, "HTTP_ACCEPT"), "*/*");
}
