/* Integration: every raw request of tests/cases/requests.txt against the real daemon. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

#define CASES_FILE COHTTPD_SOURCE_DIR "/tests/cases/requests.txt"
#define MAX_ROWS   512
#define ROW_BYTES  2048

/* One line of requests.txt: the bytes to send and the first status expected. */
struct row {
    unsigned line;
    int expect;
    size_t len;
    char bytes[ROW_BYTES];
    char comment[256];
};

static struct daemon d;
static const char index_html[] = "<h1>index</h1>\n";

static void start(void)
{
    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    site_write(&d, "index.html", index_html, sizeof index_html - 1);
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0); }

TestSuite(malformed, .init = start, .fini = stop, .timeout = 120);

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the C-style escapes of a BYTES column (\r \n \t \0 \\ \xHH). */
static size_t unescape(const char *s, size_t n, char *out, size_t cap, unsigned line)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        cr_assert_lt(len, cap, "line %u: request too long for the test", line);
        if (c == '\\' && i + 1 < n) {
            char e = s[++i];

            if (e == 'x') {
                int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
                int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;

                cr_assert(hi >= 0 && lo >= 0, "line %u: bad \\x escape", line);
                c = (char)(hi * 16 + lo);
                i += 2;
            } else {
                c = e == 'r' ? '\r' : e == 'n' ? '\n' : e == 't' ? '\t' : e == '0' ? '\0' : e;
                cr_assert(strchr("rnt0\\", e), "line %u: unknown escape \\%c", line, e);
            }
        }
        out[len++] = c;
    }
    return len;
}

/* Reads every case of requests.txt into rows (malloc'd); returns the count. */
static size_t load_rows(struct row **rows)
{
    FILE *f = fopen(CASES_FILE, "r");
    char text[8192];
    size_t n = 0;
    unsigned line = 0;

    cr_assert_not_null(f, "cannot open %s", CASES_FILE);
    *rows = calloc(MAX_ROWS, sizeof **rows);
    cr_assert_not_null(*rows);
    while (fgets(text, sizeof text, f)) {
        struct row *r = &(*rows)[n];
        char *tab1, *tab2, *end;

        line++;
        text[strcspn(text, "\n")] = '\0';
        if (text[0] == '\0' || text[0] == '#')
            continue;
        tab1 = strchr(text, '\t');
        tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        cr_assert(tab1 && tab2, "line %u: want EXPECT<TAB>BYTES<TAB>comment", line);
        cr_assert_lt(n, MAX_ROWS);
        r->line = line;
        r->expect = (int)strtol(text, &end, 10);
        cr_assert(end == tab1 && r->expect >= 100 && r->expect <= 599, "line %u: bad EXPECT", line);
        r->len = unescape(tab1 + 1, (size_t)(tab2 - tab1 - 1), r->bytes, sizeof r->bytes, line);
        snprintf(r->comment, sizeof r->comment, "%s", tab2 + 1);
        n++;
    }
    fclose(f);
    return n;
}

/* Statuses after which the connection must close: the request's framing
 * cannot be trusted (DESIGN §2.3). The others (404, 405, 412, 416) answer a
 * well-framed request and keep the connection. */
static bool status_closes(int status)
{
    switch (status) {
    case 400:
    case 408:
    case 411:
    case 413:
    case 414:
    case 417:
    case 431:
    case 501:
    case 505: return true;
    default: return false;
    }
}

/* An error response carries a short text body that its Content-Length
 * covers exactly, a Date and a Server header. */
static void expect_error_shape(const struct row *r, const char *out, size_t len)
{
    char value[128];
    size_t body_len;
    const char *body = response_body(out, len, &body_len);

    cr_expect(response_header(out, "Content-Length", value, sizeof value),
              "line %u (%s): no Content-Length:\n%s", r->line, r->comment, out);
    cr_expect(body && body_len > 0 && body_len < 200 && strtoul(value, NULL, 10) == body_len,
              "line %u (%s): body and Content-Length differ:\n%s", r->line, r->comment, out);
    cr_expect(response_header(out, "Content-Type", value, sizeof value) &&
                  strncmp(value, "text/plain", 10) == 0,
              "line %u (%s): error body is not text/plain:\n%s", r->line, r->comment, out);
    cr_expect(response_header(out, "Date", value, sizeof value), "line %u: no Date", r->line);
    cr_expect(response_header(out, "Server", value, sizeof value), "line %u: no Server", r->line);
}

/* After a kept connection's error, the same connection serves "/" again. */
static void expect_still_open(const struct row *r, int fd, const char *out)
{
    static const char next[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char value[64];
    size_t len, body_len;
    char *again;
    const char *body;

    cr_expect_null(response_header(out, "Connection", value, sizeof value),
                   "line %u (%s): the connection should stay open:\n%s", r->line, r->comment, out);
    cr_expect(tcp_send_all(fd, next, sizeof next - 1), "line %u: connection closed", r->line);
    again = read_responses(fd, 1, HARNESS_WAIT_MS, &len);
    body = response_body(again, len, &body_len);
    cr_expect_eq(response_status(again), 200, "line %u (%s): no answer after the error:\n%s",
                 r->line, r->comment, again);
    cr_expect(body && body_len == sizeof index_html - 1 && memcmp(body, index_html, body_len) == 0,
              "line %u: wrong body after the error", r->line);
    free(again);
}

/* Sends one row on a new connection and checks the first answer and what
 * happens to the connection after it. */
static void check_row(const struct row *r)
{
    int fd = tcp_connect(d.port);
    size_t len;
    char *out, value[64];
    int status;

    tcp_send_all(fd, r->bytes, r->len);
    out = read_responses_to(fd, 1, strncmp(r->bytes, "HEAD ", 5) == 0, HARNESS_WAIT_MS, &len);
    status = response_status(out);
    cr_expect_eq(status, r->expect, "line %u (%s): expected %d, got:\n%s", r->line, r->comment,
                 r->expect, out);
    if (status >= 400)
        expect_error_shape(r, out, len);
    if (status >= 400 && status_closes(status)) {
        cr_expect(response_header(out, "Connection", value, sizeof value) &&
                      strcasecmp(value, "close") == 0,
                  "line %u (%s): no Connection: close:\n%s", r->line, r->comment, out);
        cr_expect(response_count(out, len) <= 1, "line %u: answers after an error:\n%s", r->line,
                  out);
        cr_expect(wait_closed(fd, HARNESS_WAIT_MS), "line %u (%s): connection left open after %d",
                  r->line, r->comment, status);
    } else if (status >= 400) {
        expect_still_open(r, fd, out);
    }
    free(out);
    close(fd);
}

/* Runs the rows whose index is part (mod parts), so the table is shared by
 * tests that run side by side. */
static void run_part(int part, int parts)
{
    struct row *rows;
    size_t n = load_rows(&rows);

    cr_assert_geq(n, 60, "requests.txt holds only %zu cases", n);
    for (size_t i = (size_t)part; i < n; i += (size_t)parts)
        check_row(&rows[i]);
    free(rows);
}

Test(malformed, table_part_1_of_3) { run_part(0, 3); }
Test(malformed, table_part_2_of_3) { run_part(1, 3); }
Test(malformed, table_part_3_of_3) { run_part(2, 3); }
