/* Integration: the per-worker open-file cache notices changed, replaced and deleted files. */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../support/head_split.h"
#include "harness.h"
#include "test_static_util.h"

/* The cache re-checks an entry at most once a second; the tests poll for
 * this long before they call a change missed. The bound is generous: on a
 * loaded machine twelve answers in a row can take seconds by themselves,
 * and the time a change took is logged, not judged. */
#define NOTICE_WITHIN_MS 20000
/* Answers in a row (on new connections, so on every worker) that must all
 * show the change. */
#define IN_A_ROW 12

static struct daemon d;

static void start(void) { daemon_start(&d, "[static /]\nroot = %ROOT%\n"); }

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0); }

TestSuite(static_cache, .init = start, .fini = stop);

static void site_path(const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", d.root, rel);
}

static void set_mtime(const char *rel, time_t t)
{
    char path[600];
    struct timeval tv[2] = {{.tv_sec = t}, {.tv_sec = t}};

    site_path(rel, path, sizeof path);
    cr_assert_eq(utimes(path, tv), 0);
}

/* Fetches target on new connections until `ok` holds for IN_A_ROW answers
 * in a row; returns the milliseconds until the first of them, or -1 past
 * NOTICE_WITHIN_MS. `never` (may be NULL) must not appear in any answer
 * meanwhile. */
static long poll_until(const char *target, const char *headers, bool (*ok)(const struct st_resp *r),
                       const char *never)
{
    long start = now_ms(), first = 0;
    int row = 0;

    while (now_ms() - start < NOTICE_WITHIN_MS) {
        long t = now_ms();
        struct st_resp r = st_get(d.port, target, headers);

        if (never)
            cr_assert_not(st_contains(&r, never), "leaked: %s", r.raw);
        if (!ok(&r))
            row = 0;
        else if (row++ == 0)
            first = t;
        st_free(&r);
        if (row == IN_A_ROW)
            return first - start;
        usleep(20000);
    }
    return -1;
}

/* Warms every worker's cache with target. */
static void warm(const char *target, const void *body, size_t len)
{
    for (int i = 0; i < 16; i++) {
        struct st_resp r = st_get(d.port, target, "");

        cr_assert_eq(r.status, 200, "%s", r.raw);
        cr_assert(st_body_is(&r, body, len), "%s", r.raw);
        st_free(&r);
    }
}

#define V1 "version one\n"
#define V2 "version two, a little longer\n"

static bool is_v2(const struct st_resp *r)
{
    return r->status == 200 && st_body_is(r, V2, strlen(V2));
}

static bool is_404(const struct st_resp *r) { return r->status == 404; }

Test(static_cache, a_file_rewritten_in_place_is_noticed)
{
    long ms;

    site_write(&d, "f.txt", V1, strlen(V1));
    set_mtime("f.txt", 1600000000);
    warm("/f.txt", V1, strlen(V1));
    site_write(&d, "f.txt", V2, strlen(V2)); /* same inode, new size and mtime */
    ms = poll_until("/f.txt", "", is_v2, NULL);
    cr_assert_geq(ms, 0, "the change was not noticed within %d ms", NOTICE_WITHIN_MS);
    cr_log_info("in-place change noticed after %ld ms", ms);
}

/* The entity headers a cache entry keeps preformatted follow the file. */
static char v1_etag[128];
static bool is_v2_with_its_headers(const struct st_resp *r)
{
    char etag[128], modified[64], length[32];

    return is_v2(r) && st_header(r, "ETag", etag, sizeof etag) && strcmp(etag, v1_etag) != 0 &&
           st_header(r, "Last-Modified", modified, sizeof modified) &&
           strcmp(modified, "Tue, 14 Nov 2023 22:13:20 GMT") == 0 &&
           st_header(r, "Content-Length", length, sizeof length) &&
           (size_t)atoi(length) == strlen(V2);
}

Test(static_cache, the_headers_of_a_rewritten_file_are_its_new_ones)
{
    struct st_resp r;
    long ms;

    site_write(&d, "h.txt", V1, strlen(V1));
    set_mtime("h.txt", 1600000000);
    warm("/h.txt", V1, strlen(V1));
    r = st_get(d.port, "/h.txt", "");
    cr_assert_not_null(st_header(&r, "ETag", v1_etag, sizeof v1_etag), "%s", r.raw);
    st_free(&r);
    site_write(&d, "h.txt", V2, strlen(V2));
    set_mtime("h.txt", 1700000000);
    ms = poll_until("/h.txt", "", is_v2_with_its_headers, NULL);
    cr_assert_geq(ms, 0, "new ETag, Last-Modified and length not all seen within %d ms",
                  NOTICE_WITHIN_MS);
}

Test(static_cache, a_file_replaced_by_rename_is_noticed)
{
    char tmp[600], path[600];
    long ms;

    site_write(&d, "r.txt", V1, strlen(V1));
    warm("/r.txt", V1, strlen(V1));
    site_write(&d, "r.txt.new", V2, strlen(V2));
    site_path("r.txt.new", tmp, sizeof tmp);
    site_path("r.txt", path, sizeof path);
    cr_assert_eq(rename(tmp, path), 0);
    ms = poll_until("/r.txt", "", is_v2, NULL);
    cr_assert_geq(ms, 0, "the new file was not served within %d ms", NOTICE_WITHIN_MS);
    cr_log_info("replacement noticed after %ld ms", ms);
}

static size_t big_len;
static bool is_big_v2(const struct st_resp *r)
{
    return r->status == 200 && r->body_len == big_len && r->body[0] == 'B' &&
           r->body[big_len - 1] == 'B';
}

Test(static_cache, a_large_file_changing_size_is_noticed)
{
    size_t len1 = 200 * 1024;
    char *buf = malloc(300 * 1024);
    long ms;

    cr_assert_not_null(buf);
    memset(buf, 'A', len1);
    site_write(&d, "big.bin", buf, len1);
    set_mtime("big.bin", 1600000000);
    warm("/big.bin", buf, len1);
    big_len = 300 * 1024;
    memset(buf, 'B', big_len);
    site_write(&d, "big.bin", buf, big_len);
    ms = poll_until("/big.bin", "", is_big_v2, NULL);
    cr_assert_geq(ms, 0, "the new size was not noticed within %d ms", NOTICE_WITHIN_MS);
    free(buf);
}

Test(static_cache, a_deleted_file_becomes_404)
{
    char path[600];
    long ms;

    site_write(&d, "gone.txt", V1, strlen(V1));
    warm("/gone.txt", V1, strlen(V1));
    site_path("gone.txt", path, sizeof path);
    cr_assert_eq(unlink(path), 0);
    ms = poll_until("/gone.txt", "", is_404, NULL);
    cr_assert_geq(ms, 0, "the deletion was not noticed within %d ms", NOTICE_WITHIN_MS);
    cr_log_info("deletion noticed after %ld ms", ms);
}

Test(static_cache, a_file_replaced_by_a_symlink_out_of_the_root_never_leaks)
{
    char secret[400], path[600];
    FILE *f;
    long ms;

    snprintf(secret, sizeof secret, "%s/secret.txt", d.dir);
    f = fopen(secret, "w");
    cr_assert_not_null(f);
    fputs("S3CR3T-beside-the-root\n", f);
    fclose(f);
    site_write(&d, "swap.txt", V1, strlen(V1));
    warm("/swap.txt", V1, strlen(V1));
    site_path("swap.txt", path, sizeof path);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(symlink("../secret.txt", path), 0);
    ms = poll_until("/swap.txt", "", is_404, "S3CR3T");
    cr_assert_geq(ms, 0, "the swap was not noticed within %d ms", NOTICE_WITHIN_MS);
}

static bool is_gzip(const struct st_resp *r)
{
    char v[64];

    return r->status == 200 && st_header(r, "Content-Encoding", v, sizeof v) &&
           strcmp(v, "gzip") == 0;
}

static bool is_identity(const struct st_resp *r)
{
    char v[64];

    return r->status == 200 && !st_header(r, "Content-Encoding", v, sizeof v) &&
           st_body_is(r, V1, strlen(V1));
}

Test(static_cache, a_sibling_appearing_or_going_is_noticed)
{
    char path[600];

    site_write(&d, "p.html", V1, strlen(V1));
    for (int i = 0; i < 16; i++) {
        struct st_resp r = st_get(d.port, "/p.html", "Accept-Encoding: gzip\r\n");

        cr_assert(is_identity(&r), "%s", r.raw);
        st_free(&r);
    }
    site_write(&d, "p.html.gz", "\x1f\x8b fake", 7);
    cr_assert_geq(poll_until("/p.html", "Accept-Encoding: gzip\r\n", is_gzip, NULL), 0,
                  "the new .gz was not used");
    site_path("p.html.gz", path, sizeof path);
    cr_assert_eq(unlink(path), 0);
    cr_assert_geq(poll_until("/p.html", "Accept-Encoding: gzip\r\n", is_identity, NULL), 0,
                  "the deleted .gz was still sent");
}

Test(static_cache, more_files_than_the_cache_holds_are_all_served)
{
    char name[64], body[64], target[80];
    const int n = 600;

    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "many/f%d.txt", i);
        snprintf(body, sizeof body, "file number %d\n", i);
        site_write(&d, name, body, strlen(body));
    }
    for (int round = 0; round < 2; round++) {
        int fd = tcp_connect(d.port);

        for (int i = 0; i < n; i++) {
            char req[128];
            size_t len;
            char *out;
            const char *b;
            int rl = snprintf(req, sizeof req, "GET /many/f%d.txt HTTP/1.1\r\nHost: x\r\n\r\n", i);

            cr_assert_eq(send(fd, req, (size_t)rl, MSG_NOSIGNAL), rl);
            out = read_responses(fd, 1, HARNESS_WAIT_MS, &len);
            snprintf(body, sizeof body, "file number %d\n", i);
            b = strstr(out, "\r\n\r\n");
            snprintf(target, sizeof target, "/many/f%d.txt", i);
            cr_assert(b && strcmp(b + 4, body) == 0, "%s: %s", target, out);
            free(out);
        }
        close(fd);
    }
}

static void start_one_worker(void)
{
    daemon_start(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n[static /]\nroot = %ROOT%\n");
}

TestSuite(static_cache_held, .init = start_one_worker, .fini = stop);

static unsigned char old_byte(size_t i) { return (unsigned char)((i * 7) ^ (i >> 13)); }

/* A download in progress keeps the file it started with, even when the
 * cache drops that entry because the file was replaced meanwhile. */
Test(static_cache_held, a_slow_download_survives_the_file_being_replaced)
{
    const size_t old_len = 32u << 20, new_len = 1u << 20;
    unsigned char *buf = malloc(old_len);
    char tmp[600], path[600];
    const char *req = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *body;
    size_t got, body_len;
    char *out;
    int slow;

    cr_assert_not_null(buf);
    for (size_t i = 0; i < old_len; i++)
        buf[i] = old_byte(i);
    site_write(&d, "big.bin", buf, old_len);
    slow = tcp_connect(d.port);
    cr_assert(tcp_send_all(slow, req, strlen(req)));
    /* The answer began: the daemon opened the old file and is now blocked
     * on the full socket. */
    cr_assert_eq(poll(&(struct pollfd){.fd = slow, .events = POLLIN}, 1, HARNESS_WAIT_MS), 1,
                 "the download did not begin: %s", file_slurp(d.log));
    memset(buf, 'B', new_len);
    site_write(&d, "big.bin.new", buf, new_len);
    site_path("big.bin.new", tmp, sizeof tmp);
    site_path("big.bin", path, sizeof path);
    cr_assert_eq(rename(tmp, path), 0);
    usleep(1100 * 1000); /* past the entry's validity: the next lookup drops it */
    {
        struct st_resp r = st_get(d.port, "/big.bin", "");

        cr_assert(st_body_is(&r, buf, new_len), "the new file is served: %.200s", r.raw);
        st_free(&r);
    }
    for (int i = 0; i < 300; i++) { /* churn the cache */
        char name[32];

        snprintf(name, sizeof name, "/churn%d", i);
        struct st_resp r = st_get(d.port, name, "");
        st_free(&r);
    }
    out = read_responses(slow, 1, 20000, &got);
    close(slow);
    cr_assert_eq(response_status(out), 200, "%.200s", out);
    body = response_body(out, got, &body_len);
    cr_assert_not_null(body);
    cr_assert_eq(body_len, old_len, "the whole old file arrived");
    for (size_t i = 0; i < old_len; i++)
        cr_assert_eq((unsigned char)body[i], old_byte(i), "byte %zu of the old file", i);
    free(out);
    free(buf);
}

/* A reload that changes what static answers carry: the headers kept with
 * the cached files of the old configuration are not reused. */
static void start_with_cache_control(void)
{
    daemon_start(&d, "[static /]\nroot = %ROOT%\ncache_control = max-age=60\n");
}

TestSuite(static_cache_reload, .init = start_with_cache_control, .fini = stop);

static bool has_no_cache(const struct st_resp *r)
{
    char cc[64];

    return r->status == 200 && st_header(r, "Cache-Control", cc, sizeof cc) &&
           strcmp(cc, "no-cache") == 0;
}

Test(static_cache_reload, a_reload_changes_the_headers_of_cached_files)
{
    char cc[64];
    struct st_resp r;
    FILE *f;
    long ms;

    site_write(&d, "c.txt", V1, strlen(V1));
    warm("/c.txt", V1, strlen(V1));
    r = st_get(d.port, "/c.txt", "");
    cr_assert_str_eq(st_header(&r, "Cache-Control", cc, sizeof cc), "max-age=60", "%s", r.raw);
    st_free(&r);
    f = fopen(d.config, "w");
    cr_assert_not_null(f);
    fprintf(f, "[server]\nlisten = 127.0.0.1:0\n[static /]\nroot = %s\ncache_control = no-cache\n",
            d.root);
    fclose(f);
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    ms = poll_until("/c.txt", "", has_no_cache, NULL);
    cr_assert_geq(ms, 0, "Cache-Control: no-cache not served within %d ms of the reload",
                  NOTICE_WITHIN_MS);
}

/* A cached file's 200 is sent from the head its first response left in
 * the cache: every later one, a HEAD and the one that closes carry the
 * same lines in the same order. */
Test(static_cache, the_head_kept_for_a_file_is_its_first_head_byte_for_byte)
{
    static const char body[] = "<h1>kept</h1>\n";
    static const char req[] = "GET /k.html HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /k.html HTTP/1.1\r\nHost: x\r\n\r\n"
                              "HEAD /k.html HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /k.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char first[1024], head[1024], etag[128], want[1024];
    size_t len = 0, at = 0, n = sizeof body - 1;
    bool closed = false;
    char *raw;

    site_write(&d, "k.html", body, n);
    set_mtime("k.html", 1700000000);
    raw = raw_exchange(d.port, req, sizeof req - 1, HARNESS_WAIT_MS, &len, &closed);
    cr_assert(closed, "the last request closes the connection:\n%s", raw);
    cr_assert(head_split(raw, &at, n, first, sizeof first), "a first head:\n%s", raw);
    cr_assert_not_null(response_header(first, "ETag", etag, sizeof etag), "%s", first);
    snprintf(want, sizeof want,
             "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nAccept-Ranges: bytes\r\n"
             "ETag: %s\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
             "Vary: Accept-Encoding\r\nDate: DDDDDDDDDDDDDDDDDDDDDDDDDDDDD\r\n"
             "Server: cohttpd\r\nContent-Length: %zu\r\n\r\n",
             etag, n);
    cr_assert_str_eq(first, want);
    cr_assert_eq(memcmp(raw + at - n, body, n), 0, "%s", raw);
    cr_assert(head_split(raw, &at, n, head, sizeof head), "%s", raw);
    cr_assert_str_eq(head, first, "the second GET, from the kept head");
    cr_assert_eq(memcmp(raw + at - n, body, n), 0, "%s", raw);
    cr_assert(head_split(raw, &at, 0, head, sizeof head), "%s", raw);
    cr_assert_str_eq(head, first, "HEAD: the same head, no body");
    cr_assert(head_split(raw, &at, n, head, sizeof head), "%s", raw);
    snprintf(want, sizeof want, "%.*sConnection: close\r\n\r\n", (int)strlen(first) - 2, first);
    cr_assert_str_eq(head, want, "the last says it closes");
    cr_assert_eq(at, len, "nothing after the last response:\n%s", raw);
    free(raw);
}
