/* Integration: a 2 GiB sparse file served by ranges at its end, without the daemon's memory
 * growing. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test_static_util.h"

#define SIZE               (UINT64_C(2) << 30) /* 2 GiB */
#define TAIL               (UINT64_C(1) << 20) /* the last MiB holds data, the rest is a hole */
#define RSS_GROWTH_MAX_KIB (8 * 1024)

static struct daemon d;

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0);
}

TestSuite(static_big, .fini = stop);

static unsigned char byte_at(uint64_t off)
{
    return (unsigned char)((off * 131 + 7) ^ (off >> 12));
}

static void make_sparse(void)
{
    char path[600];
    unsigned char *tail = malloc(TAIL);
    int fd;

    cr_assert_not_null(tail);
    snprintf(path, sizeof path, "%s/huge.bin", d.root);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)SIZE), 0);
    for (uint64_t i = 0; i < TAIL; i++)
        tail[i] = byte_at(SIZE - TAIL + i);
    cr_assert_eq(pwrite(fd, tail, TAIL, (off_t)(SIZE - TAIL)), (ssize_t)TAIL);
    cr_assert_eq(close(fd), 0);
    free(tail);
}

/* Checks a 206 for bytes first..last of the file. */
static void check_range(const char *range, uint64_t first, uint64_t last)
{
    char headers[128], v[128], want[128];
    struct st_resp r;

    snprintf(headers, sizeof headers, "Range: %s\r\n", range);
    r = st_get(d.port, "/huge.bin", headers);
    cr_assert_eq(r.status, 206, "%s: %.300s", range, r.raw);
    snprintf(want, sizeof want, "bytes %llu-%llu/%llu", (unsigned long long)first,
             (unsigned long long)last, (unsigned long long)SIZE);
    cr_assert_str_eq(st_header(&r, "Content-Range", v, sizeof v), want);
    cr_assert_eq(r.body_len, last - first + 1, "%s", range);
    for (uint64_t i = 0; i < r.body_len; i++) {
        uint64_t off = first + i;
        unsigned char want_byte = off >= SIZE - TAIL ? byte_at(off) : 0;

        cr_assert_eq((unsigned char)r.body[i], want_byte, "%s: byte at %llu", range,
                     (unsigned long long)off);
    }
    st_free(&r);
}

Test(static_big, a_2gib_sparse_file_by_ranges_at_its_end)
{
    char v[128], range[128];
    long rss_before, rss_after;
    struct st_resp r;

    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    make_sparse();
    site_write(&d, "warm.txt", "warm\n", 5);
    for (int i = 0; i < 8; i++) {
        r = st_get(d.port, "/warm.txt", "");
        st_free(&r);
    }
    rss_before = proc_rss_kib(d.pid);
    check_range("bytes=-100", SIZE - 100, SIZE - 1);
    check_range("bytes=2147483647-", SIZE - 1, SIZE - 1);
    check_range("bytes=2147483000-2147483646", 2147483000, 2147483646);
    snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)(SIZE - TAIL));
    check_range(range, SIZE - TAIL, SIZE - 1);
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)(SIZE - TAIL - 4096),
             (unsigned long long)(SIZE - TAIL + 4095));
    check_range(range, SIZE - TAIL - 4096, SIZE - TAIL + 4095); /* across the hole's end */
    r = st_get(d.port, "/huge.bin", "Range: bytes=2147483648-\r\n");
    cr_assert_eq(r.status, 416, "%.300s", r.raw);
    cr_assert_str_eq(st_header(&r, "Content-Range", v, sizeof v), "bytes */2147483648");
    st_free(&r);
    r = st_get(d.port, "/huge.bin", "Range: bytes=0-9,2147483638-2147483647\r\n");
    cr_assert_eq(r.status, 206, "%.300s", r.raw);
    cr_assert(st_contains(&r, "Content-Range: bytes 2147483638-2147483647/2147483648\r\n"));
    st_free(&r);
    r = st_request(d.port, "HEAD", "/huge.bin", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Content-Length", v, sizeof v), "2147483648");
    cr_assert_eq(r.body_len, 0);
    st_free(&r);
    rss_after = proc_rss_kib(d.pid);
    cr_log_info("daemon RSS %ld KiB before, %ld KiB after the 2 GiB file's ranges (+%ld KiB)",
                rss_before, rss_after, rss_after - rss_before);
    cr_assert_gt(rss_before, 0);
    cr_assert_lt(rss_after - rss_before, RSS_GROWTH_MAX_KIB,
                 "RSS grew by %ld KiB serving a 2 GiB file", rss_after - rss_before);
}
