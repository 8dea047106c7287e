/* Integration: the access log in a file, combined and JSON, written in batches. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Longer than the log's one-second flush timer, with room for a loaded machine. */
#define LOG_WAIT_MS 15000

static struct daemon d;
static char logdir[64]; /* outside the daemon's directory: it outlives daemon_stop */
static char logpath[128];
static const char index_html[] = "<h1>logged</h1>\n";

static void start_with(const char *format)
{
    char ini[512];

    snprintf(logdir, sizeof logdir, "/tmp/cohttpd-log-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    snprintf(logpath, sizeof logpath, "%s/access.log", logdir);
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = %s\n"
             "access_log_format = %s\n[static /]\nroot = %%ROOT%%\n",
             logpath, format);
    daemon_start(&d, ini);
    site_write(&d, "index.html", index_html, sizeof index_html - 1);
}

static void start_combined(void) { start_with("combined"); }
static void start_json(void) { start_with("json"); }

static void stop(void)
{
    int status = d.pid > 0 ? daemon_stop(&d) : 0;

    run_cmd(NULL, 0, "rm -rf '%s'", logdir);
    cr_assert_eq(status, 0);
}

TestSuite(combined, .init = start_combined, .fini = stop, .timeout = 60);
TestSuite(json, .init = start_json, .fini = stop, .timeout = 60);

/* The log's content (malloc'd), once it holds at least `lines` lines or
 * wait_ms passed. */
static char *read_log(int lines, int wait_ms)
{
    long deadline = now_ms() + wait_ms;

    for (;;) {
        FILE *f = fopen(logpath, "r");
        char *text = calloc(1, 1 << 20);
        size_t n = 0;
        int count = 0;

        cr_assert_not_null(text);
        if (f) {
            n = fread(text, 1, (1 << 20) - 1, f);
            fclose(f);
        }
        for (size_t i = 0; i < n; i++)
            count += text[i] == '\n';
        if (count >= lines || now_ms() >= deadline)
            return text;
        free(text);
        usleep(20000);
    }
}

/* Sends raw requests on one connection and waits for n responses. */
static void request(const char *raw, int n)
{
    int fd = tcp_connect(d.port);
    size_t got;
    char *out;

    cr_assert(tcp_send_all(fd, raw, strlen(raw)));
    out = read_responses(fd, n, HARNESS_WAIT_MS, &got);
    cr_assert_eq(responses_complete(out, got, false), n, "%s", out);
    free(out);
    close(fd);
}

/* Line number `index` (0-based) of text, copied to out. */
static const char *line_of(const char *text, int index, char *out, size_t cap)
{
    const char *p = text, *end;

    for (int i = 0; i < index && p; i++)
        p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    cr_assert(p && *p, "no line %d in the log:\n%s", index + 1, text);
    end = strchr(p, '\n');
    cr_assert_not_null(end, "line %d is not whole", index + 1);
    cr_assert_lt((size_t)(end - p), cap);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return out;
}

static const char ua_req[] = "GET /index.html?q=1 HTTP/1.1\r\nHost: x\r\n"
                             "User-Agent: say \"hi\" \\ back\ttab caf\xe9\r\n"
                             "Referer: http://ref.example/\r\n\r\n";

Test(combined, a_line_per_request_with_its_fields)
{
    char line[4096];
    char *text;

    request(ua_req, 1);
    request("GET /missing HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    text = read_log(3, LOG_WAIT_MS);
    line_of(text, 0, line, sizeof line);
    cr_assert_eq(strncmp(line, "127.0.0.1 - - [", 15), 0, "%s", line);
    cr_assert(strstr(line, "] \"GET /index.html?q=1 HTTP/1.1\" 200 16 "), "%s", line);
    cr_assert(strstr(line, " \"http://ref.example/\" "), "%s", line);
    cr_assert(strstr(line, "\"say \\\"hi\\\" \\\\ back\\x09tab caf\\xE9\"") != NULL, "%s", line);
    line_of(text, 1, line, sizeof line);
    cr_assert(strstr(line, "\"GET /missing HTTP/1.1\" 404 "), "%s", line);
    cr_assert(strstr(line, " \"-\" \"-\""), "absent fields are '-': %s", line);
    line_of(text, 2, line, sizeof line);
    cr_assert(strstr(line, "\"HEAD / HTTP/1.1\" 200 0 "), "HEAD sends no body bytes: %s", line);
    free(text);
}

Test(combined, a_request_that_cannot_be_parsed_is_logged)
{
    char line[4096];
    char *text;

    request("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 1);
    text = read_log(1, LOG_WAIT_MS);
    line_of(text, 0, line, sizeof line);
    cr_assert(strstr(line, " \"-\" 400 "), "%s", line);
    free(text);
}

Test(combined, a_long_target_is_cut_and_the_line_stays_whole)
{
    size_t len = 6000;
    char *req = malloc(len + 64), line[8192];
    char *text;
    int n = snprintf(req, len + 64, "GET /");

    memset(req + n, 'a', len);
    n += (int)len;
    snprintf(req + n, 64, " HTTP/1.1\r\nHost: x\r\n\r\n");
    request(req, 1);
    free(req);
    text = read_log(1, LOG_WAIT_MS);
    line_of(text, 0, line, sizeof line);
    cr_assert(strstr(line, "aaaa HTTP/1.1\" 404 "), "%.200s...", line);
    cr_assert_lt(strlen(line), 4096);
    free(text);
}

Test(combined, lines_are_written_without_waiting_for_more_traffic)
{
    long t0 = now_ms();
    char *text;

    request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    text = read_log(1, LOG_WAIT_MS);
    cr_assert(strchr(text, '\n'), "no line within %d ms of the request", LOG_WAIT_MS);
    cr_log_info("the line appeared after %ld ms", now_ms() - t0);
    free(text);
}

Test(combined, buffered_lines_are_written_at_shutdown)
{
    char *text;

    request("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", 2);
    cr_assert_eq(daemon_stop(&d), 0);
    text = read_log(2, 0);
    cr_assert(strstr(text, "\"GET / HTTP/1.1\" 200 "), "%s", text);
    cr_assert(strstr(text, "\"GET /a HTTP/1.1\" 404 "), "%s", text);
    free(text);
}

Test(json, a_line_per_request_with_its_fields)
{
    char line[4096];
    char *text;

    request(ua_req, 1);
    request("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 1);
    text = read_log(2, LOG_WAIT_MS);
    line_of(text, 0, line, sizeof line);
    cr_assert_eq(strncmp(line, "{\"time\":\"", 9), 0, "%s", line);
    cr_assert_eq(line[strlen(line) - 1], '}', "%s", line);
    cr_assert(strstr(line, "\"remote_addr\":\"127.0.0.1\""), "%s", line);
    cr_assert(strstr(line, "\"request\":\"GET /index.html?q=1 HTTP/1.1\""), "%s", line);
    cr_assert(strstr(line, "\"status\":200,"), "%s", line);
    cr_assert(strstr(line, "\"body_bytes\":16,"), "%s", line);
    cr_assert(strstr(line, "\"referer\":\"http://ref.example/\""), "%s", line);
    cr_assert(strstr(line, "\"user_agent\":\"say \\\"hi\\\" \\\\ back\\u0009tab caf\\\\xE9\""),
              "%s", line);
    line_of(text, 1, line, sizeof line);
    cr_assert(strstr(line, "\"status\":400,"), "%s", line);
    free(text);
}

/* Lines in text. */
static int count_lines(const char *text)
{
    int lines = 0;

    for (const char *p = text; (p = strchr(p, '\n')); p++)
        lines++;
    return lines;
}

/* Well-formed UTF-8 (2, 3 and 4 bytes), then bytes that are not: a lone
 * Latin-1 byte, an overlong form, a surrogate, a cut sequence. */
static const char utf8_req[] = "GET / HTTP/1.1\r\nHost: x\r\n"
                               "User-Agent: caf\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e | "
                               "\xe9 \xc0\xaf \xed\xa0\x80 \xe2\x98\r\n\r\n";

Test(combined, bytes_from_0x80_are_escaped_as_nginx_does)
{
    char line[4096];
    char *text;

    request(utf8_req, 1);
    text = read_log(1, LOG_WAIT_MS);
    line_of(text, 0, line, sizeof line);
    cr_assert(strstr(line, " \"caf\\xC3\\xA9 \\xE2\\x98\\x95 \\xF0\\x9D\\x84\\x9E | \\xE9 "
                           "\\xC0\\xAF \\xED\\xA0\\x80 \\xE2\\x98\""),
              "%s", line);
    for (const char *p = line; *p; p++)
        cr_assert_lt((unsigned char)*p, 0x80, "a raw byte in the combined log: %s", line);
    free(text);
}

/* Saves line to logdir/line.json for a JSON parser; returns the path in out. */
static const char *save_line(const char *line, char *out, size_t cap)
{
    FILE *f;

    snprintf(out, cap, "%s/line.json", logdir);
    f = fopen(out, "w");
    cr_assert_not_null(f);
    fputs(line, f);
    fclose(f);
    return out;
}

Test(json, utf8_stays_readable_and_other_bytes_are_escaped)
{
    char line[4096], path[200], out[512];
    char *text;

    request(utf8_req, 1);
    text = read_log(1, LOG_WAIT_MS);
    line_of(text, 0, line, sizeof line);
    cr_assert(strstr(line, "\"user_agent\":\"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e | "
                           "\\\\xE9 \\\\xC0\\\\xAF \\\\xED\\\\xA0\\\\x80 \\\\xE2\\\\x98\""),
              "%s", line);
    /* A JSON parser takes the line and reads the text a person would. */
    save_line(line, path, sizeof path);
    cr_assert_eq(run_cmd(out, sizeof out,
                         "python3 -c 'import json, sys; "
                         "sys.stdout.write(json.load(open(sys.argv[1], encoding=\"utf-8\"))"
                         "[\"user_agent\"])' '%s'",
                         path),
                 0, "not valid JSON in UTF-8: %s", line);
    cr_assert_str_eq(out, "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e | \\xE9 \\xC0\\xAF "
                          "\\xED\\xA0\\x80 \\xE2\\x98");
    free(text);
}

Test(combined, a_thousand_requests_take_far_fewer_log_writes)
{
    char trace[128], cmd_out[64], pipeline[50 * 40];
    size_t len = 0;
    pid_t tracer;
    int writes, lines;
    char *text;

    for (int i = 0; i < 50; i++)
        len += (size_t)snprintf(pipeline + len, sizeof pipeline - len,
                                "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    snprintf(trace, sizeof trace, "%s/strace.out", logdir);
    tracer = strace_attach(d.pid, "write", trace);
    for (int round = 0; round < 20; round++)
        request(pipeline, 50);
    text = read_log(1000, LOG_WAIT_MS);
    lines = count_lines(text);
    free(text);
    cr_assert_eq(lines, 1000, "one line per request, got %d", lines);
    if (tracer == 0)
        cr_assert_fail("strace could not attach (packaging/install-deps --test installs it; "
                       "ptrace must be allowed): write(2) calls not counted");
    strace_detach(tracer);
    run_cmd(cmd_out, sizeof cmd_out, "grep -c 'write(' '%s'", trace);
    writes = (int)strtol(cmd_out, NULL, 10);
    cr_log_info("1000 requests, %d write(2) calls", writes);
    printf("access log: 1000 requests took %d write(2) calls\n", writes);
    cr_assert_gt(writes, 0, "strace saw no write at all: the log was not traced");
    cr_assert_leq(writes, 50, "%d writes for 1000 log lines: the log is not batched", writes);
}

/* ---- the fields after the standard ones ---------------------------------- */

static const char post_req[] = "POST /index.html HTTP/1.1\r\nHost: logged.example\r\n"
                               "Content-Length: 5\r\n\r\nhello";
static const char get_req[] = "GET /index.html HTTP/1.1\r\nHost: logged.example\r\n\r\n";

/* The log's line that holds needle (copied to out). */
static const char *line_with(const char *text, const char *needle, char *out, size_t cap)
{
    const char *p = strstr(text, needle), *start, *end;

    cr_assert_not_null(p, "no line with %s in the log:\n%s", needle, text);
    for (start = p; start > text && start[-1] != '\n'; start--)
        ;
    end = strchr(p, '\n');
    cr_assert_not_null(end, "the line is not whole: %s", start);
    cr_assert_lt((size_t)(end - start), cap);
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return out;
}

/* The fields after the user agent of a combined line: "HOST" US IN "ROUTE". */
static void combined_extra(const char *line, char *host, unsigned long long *us,
                           unsigned long long *in, char *route)
{
    const char *p = line;

    /* Skip the six quotes of "REQUEST", "REFERER" and "UA". */
    for (int q = 0; q < 6; q++) {
        p = strchr(p, '"');
        cr_assert_not_null(p, "%s", line);
        p++;
    }
    cr_assert_eq(sscanf(p, " \"%255[^\"]\" %llu %llu \"%255[^\"]\"", host, us, in, route), 4,
                 "the fields after the standard ones: %s", line);
}

Test(combined, host_duration_bytes_received_and_route_follow_the_standard_fields)
{
    char line[4096], host[256], route[256];
    unsigned long long us, in;
    char *text;

    request(get_req, 1);
    request(post_req, 1);
    cr_assert_eq(daemon_stop(&d), 0); /* stopping writes what is buffered */
    text = read_log(2, 0);
    line_with(text, "\"GET /index.html", line, sizeof line);
    /* The standard combined prefix, as log parsers read it. */
    cr_assert(strstr(line, "] \"GET /index.html HTTP/1.1\" 200 16 \"-\" \"-\" "), "%s", line);
    combined_extra(line, host, &us, &in, route);
    cr_assert_str_eq(host, "logged.example", "%s", line);
    cr_assert_eq(in, sizeof get_req - 1, "bytes received: %s", line);
    cr_assert_str_eq(route, "static /", "%s", line);
    line_with(text, "\"POST /index.html", line, sizeof line);
    cr_assert(strstr(line, "\" 405 "), "%s", line);
    combined_extra(line, host, &us, &in, route);
    cr_assert_eq(in, sizeof post_req - 1, "head and body received: %s", line);
    free(text);
}

Test(json, host_duration_bytes_received_and_route_are_named_fields)
{
    char line[4096], path[200], out[512];
    char *text;

    request(post_req, 1);
    cr_assert_eq(daemon_stop(&d), 0);
    text = read_log(1, 0);
    line_of(text, 0, line, sizeof line);
    save_line(line, path, sizeof path);
    /* A JSON parser reads each field with its type. */
    cr_assert_eq(run_cmd(out, sizeof out,
                         "python3 -c 'import json, sys; o = json.load(open(sys.argv[1])); "
                         "assert isinstance(o[\"duration_us\"], int); "
                         "print(o[\"host\"], o[\"bytes_in\"], o[\"route\"], o[\"status\"], "
                         "o[\"body_bytes\"], \"upstream\" in o, sep=\"|\")' '%s'",
                         path),
                 0, "not a JSON line with the fields: %s", line);
    snprintf(path, sizeof path, "logged.example|%zu|static /|405|23|False\n", sizeof post_req - 1);
    cr_assert_str_eq(out, path, "%s", line);
    free(text);
}

#define BIG_FILE (50u << 20)

/* Reads at least want bytes from fd; returns how many it read. */
static size_t read_at_least(int fd, size_t want)
{
    char buf[16384];
    size_t got = 0;

    while (got < want) {
        ssize_t n = read(fd, buf, sizeof buf);

        cr_assert_gt(n, 0, "the download ended after %zu bytes", got);
        got += (size_t)n;
    }
    return got;
}

/* A connection to 127.0.0.1:port whose receive buffer (and so its window)
 * is set to rcvbuf before it connects. */
static int connect_small_window(unsigned port, int rcvbuf)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 10};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

Test(combined, a_client_that_leaves_early_is_logged_with_the_bytes_sent)
{
    char line[4096], status[8];
    char *big = calloc(1, BIG_FILE), *text;
    unsigned long long logged;
    int fd;
    size_t got;
    const char *p;

    cr_assert_not_null(big);
    site_write(&d, "big.bin", big, BIG_FILE);
    free(big);
    fd = connect_small_window(d.port, 65536);
    cr_assert(tcp_send_all(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 35));
    got = read_at_least(fd, 100 * 1024);
    close(fd); /* unread bytes: the kernel resets the connection */
    cr_assert_eq(daemon_stop(&d), 0);
    text = read_log(1, 0);
    line_with(text, "\"GET /big.bin", line, sizeof line);
    p = strstr(line, "HTTP/1.1\" ");
    cr_assert_not_null(p, "%s", line);
    cr_assert_eq(sscanf(p + 10, "%7s %llu", status, &logged), 2, "%s", line);
    cr_assert_str_eq(status, "200", "%s", line);
    cr_log_info("read %zu bytes, logged %llu of %u", got, logged, BIG_FILE);
    cr_assert_lt(logged, BIG_FILE / 4, "logged as sent in full, but the client read %zu: %s", got,
                 line);
    cr_assert_geq(logged + 512, got, "logged less than the client read (%zu): %s", got, line);
    free(text);
}
