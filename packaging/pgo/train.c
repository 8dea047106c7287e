/* train.c - the training load of cohttpd's profile-guided build
 * (cmake/Pgo.cmake, COHTTPD_PGO=ON).
 *
 * Runs the instrumented daemon on a site of its own in a temporary directory,
 * on a listening socket passed the way systemd passes one (LISTEN_FDS), so no
 * port is chosen in advance. Sends it the requests a server mostly sees
 * (static files one at a time and pipelined, a browser's head, HEAD,
 * conditionals, ranges, compression, redirects, 404s, a connection per
 * request, CGI, the reverse proxy) and checks the status of every answer.
 * Then stops it with SIGTERM and waits for it, so that it writes its
 * counters. It does so twice: without and with an access log.
 *
 *   cohttpd-pgo-train DAEMON
 *
 * Exit status 0 when every answer had the expected status and the daemon
 * exited with 0; otherwise 1, with the reason on stderr. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO_TIMEOUT_MS  20000
#define STOP_TIMEOUT_S 30
#define BUF_SIZE       (512 * 1024)

static char dir[256];    /* the temporary directory ("" before it exists) */
static pid_t daemon_pid; /* the daemon while it runs, else 0 */
static unsigned port;    /* where it listens */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
        daemon_pid = 0;
    }
    if (dir[0])
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
}

static void die(const char *fmt, ...)
{
    va_list ap;
    char log[512];
    FILE *f;

    fputs("cohttpd-pgo-train: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs("cohttpd-pgo-train: (configure with -DCOHTTPD_PGO=OFF to build without "
          "profile-guided optimisation)\n",
          stderr);
    /* The daemon's own words, when it wrote any. */
    snprintf(log, sizeof log, "%s/daemon.log", dir);
    if (dir[0] && (f = fopen(log, "r"))) {
        char line[512];

        while (fgets(line, sizeof line, f))
            fprintf(stderr, "  %s", line);
        fclose(f);
    }
    cleanup();
    exit(1);
}

static void write_file(const char *rel, const void *data, size_t len, mode_t mode)
{
    char path[512];
    int fd;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0)
        die("cannot write %s: %s", path, strerror(errno));
}

static void make_dir(const char *rel)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (mkdir(path, 0755) < 0)
        die("cannot create %s: %s", path, strerror(errno));
}

/* The site: a 612-byte page, a directory with an index, 100 KiB of text
 * (compressed on the fly) and of bytes that do not compress, a stylesheet
 * with a precompressed sibling, a CGI script. */
static void make_site(void)
{
    static char buf[100 * 1024];
    const char *tmp = getenv("TMPDIR");
    static const char line[] = "cohttpd training file: a page like any other.\n";
    static const char script[] = "#!/bin/sh\n"
                                 "printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                                 "printf 'hello from %s\\n' \"$REQUEST_METHOD\"\n";
    uint32_t x = 2463534242u;
    size_t i;

    snprintf(dir, sizeof dir, "%s/cohttpd-pgo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        die("cannot create a temporary directory: %s", strerror(errno));
    }
    make_dir("www");
    make_dir("www/docs");
    make_dir("cgi-bin");
    for (i = 0; i < 612; i++)
        buf[i] = line[i % (sizeof line - 1)];
    write_file("www/index.html", buf, 612, 0644);
    write_file("www/docs/index.html", buf, 612, 0644);
    for (i = 0; i < sizeof buf; i++)
        buf[i] = line[i % (sizeof line - 1)];
    write_file("www/text.txt", buf, sizeof buf, 0644);
    write_file("www/style.css", buf, 4096, 0644);
    write_file("www/style.css.gz", buf, 1024, 0644);
    for (i = 0; i < sizeof buf; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char)x;
    }
    write_file("www/big.bin", buf, sizeof buf, 0644);
    write_file("cgi-bin/hello.sh", script, sizeof script - 1, 0755);
}

static void write_config(bool access_log)
{
    char text[2048], log[300];

    if (access_log)
        snprintf(log, sizeof log, "%s/access.log", dir);
    else
        snprintf(log, sizeof log, "off");
    snprintf(text, sizeof text,
             "[server]\n"
             "listen = 127.0.0.1:%u\n"
             "workers = 1\n"
             "access_log = %s\n"
             "error_log = %s/daemon.log\n"
             "[limits]\n"
             "keepalive_timeout = 1m\n"
             "[static /]\n"
             "root = %s/www\n"
             "compress = on\n"
             "[cgi /cgi-bin/]\n"
             "root = %s/cgi-bin\n"
             "[proxy /up/]\n"
             "upstream = 127.0.0.1:%u\n"
             "strip_prefix = on\n",
             port, log, dir, dir, dir, port);
    write_file("cohttpd.ini", text, strlen(text), 0644);
}

/* Starts the daemon with lfd as its one inherited socket (fd 3). */
static void start_daemon(const char *daemon_path, int lfd)
{
    char ini[300], out[300];
    pid_t pid;

    snprintf(ini, sizeof ini, "%s/cohttpd.ini", dir);
    snprintf(out, sizeof out, "%s/daemon.log", dir);
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        char pidtext[32];
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);

        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        if (lfd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(lfd, 3) < 0)
            _exit(127);
        snprintf(pidtext, sizeof pidtext, "%ld", (long)getpid());
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_PID", pidtext, 1);
        unsetenv("LISTEN_FDNAMES");
        unsetenv("NOTIFY_SOCKET");
        unsetenv("COHTTPD_CONFIG");
        execl(daemon_path, daemon_path, "-c", ini, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", daemon_path, strerror(errno));
        _exit(127);
    }
    daemon_pid = pid;
}

static void stop_daemon(void)
{
    int status, i;

    if (kill(daemon_pid, SIGTERM) < 0)
        die("cannot stop the daemon: %s", strerror(errno));
    for (i = 0; i < STOP_TIMEOUT_S * 100; i++) {
        pid_t r = waitpid(daemon_pid, &status, WNOHANG);

        if (r == daemon_pid) {
            daemon_pid = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("the daemon ended with status %d", status);
            return;
        }
        usleep(10000);
    }
    die("the daemon did not stop within %d s of SIGTERM", STOP_TIMEOUT_S);
}

/* ---- a client --------------------------------------------------------------- */

struct client {
    int fd;
    size_t len;
    char buf[BUF_SIZE];
};

static struct client cl;

/* Waits until fd is ready for events; fails when the daemon ended or nothing
 * came for IO_TIMEOUT_MS. */
static void wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int waited, status;

    for (waited = 0; waited < IO_TIMEOUT_MS; waited += 100) {
        int r = poll(&p, 1, 100);

        if (r > 0)
            return;
        if (r < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
            daemon_pid = 0;
            die("the daemon ended (status %d) while serving", status);
        }
    }
    die("no progress within %d ms", IO_TIMEOUT_MS);
}

static void client_open(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cl.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cl.fd < 0 || connect(cl.fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("cannot connect to 127.0.0.1:%u: %s", port, strerror(errno));
    setsockopt(cl.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    cl.len = 0;
}

static void client_close(void)
{
    if (cl.fd >= 0)
        close(cl.fd);
    cl.fd = -1;
    cl.len = 0;
}

static void send_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(cl.fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            wait_fd(cl.fd, POLLOUT);
            continue;
        }
        if (w <= 0)
            die("write: %s", w < 0 ? strerror(errno) : "nothing written");
        p += w;
        n -= (size_t)w;
    }
}

/* Reads more into the buffer; false at the end of the stream. */
static bool fill(void)
{
    ssize_t r;

    if (cl.len == sizeof cl.buf)
        die("an answer larger than %d bytes", BUF_SIZE);
    wait_fd(cl.fd, POLLIN);
    r = read(cl.fd, cl.buf + cl.len, sizeof cl.buf - cl.len);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (r < 0)
        die("read: %s", strerror(errno));
    cl.len += (size_t)r;
    return r > 0;
}

static void need(size_t n)
{
    while (cl.len < n)
        if (!fill())
            die("the connection ended inside an answer");
}

static void consume(size_t n)
{
    memmove(cl.buf, cl.buf + n, cl.len - n);
    cl.len -= n;
}

/* The value of header name in head[0..len), or NULL. */
static const char *header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', len), *end = head + len;

    while (p && p + 1 < end) {
        const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));

        if (!eol)
            break;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;

            while (v < eol && *v == ' ')
                v++;
            *vlen = (size_t)(eol - v);
            if (*vlen && v[*vlen - 1] == '\r')
                (*vlen)--;
            return v;
        }
        p = eol;
    }
    return NULL;
}

struct answer {
    int status;
    bool closes;
    char etag[128], modified[64];
};

/* Reads one answer (head and body); the body of a HEAD request is absent. */
static void read_answer(bool head_request, struct answer *ans)
{
    char *end;
    size_t hlen, vlen, body = 0;
    const char *v;
    bool chunked = false, length = false;

    while (!(end = memmem(cl.buf, cl.len, "\r\n\r\n", 4)))
        if (!fill())
            die("the connection ended before an answer");
    hlen = (size_t)(end - cl.buf) + 4;
    if (hlen < 12 || memcmp(cl.buf, "HTTP/1.1 ", 9) != 0)
        die("not an HTTP/1.1 answer: %.40s", cl.buf);
    ans->status = atoi(cl.buf + 9);
    ans->closes = (v = header(cl.buf, hlen, "Connection", &vlen)) && vlen == 5 &&
                  strncasecmp(v, "close", 5) == 0;
    ans->etag[0] = ans->modified[0] = '\0';
    if ((v = header(cl.buf, hlen, "ETag", &vlen)) && vlen < sizeof ans->etag)
        snprintf(ans->etag, sizeof ans->etag, "%.*s", (int)vlen, v);
    if ((v = header(cl.buf, hlen, "Last-Modified", &vlen)) && vlen < sizeof ans->modified)
        snprintf(ans->modified, sizeof ans->modified, "%.*s", (int)vlen, v);
    if ((v = header(cl.buf, hlen, "Transfer-Encoding", &vlen)))
        chunked = vlen == 7 && strncasecmp(v, "chunked", 7) == 0;
    if ((v = header(cl.buf, hlen, "Content-Length", &vlen))) {
        length = true;
        body = strtoul(v, NULL, 10);
    }
    consume(hlen);
    if (head_request || ans->status == 304 || ans->status == 204 || ans->status < 200)
        return;
    if (chunked) {
        for (;;) {
            char *eol;
            size_t size;

            while (!(eol = memmem(cl.buf, cl.len, "\r\n", 2)))
                if (!fill())
                    die("the connection ended inside a chunked body");
            size = strtoul(cl.buf, NULL, 16);
            consume((size_t)(eol - cl.buf) + 2);
            if (size == 0) {
                while (!(eol = memmem(cl.buf, cl.len, "\r\n", 2)))
                    if (!fill())
                        die("the connection ended inside the trailer");
                if (eol == cl.buf) {
                    consume(2);
                    return;
                }
                consume((size_t)(eol - cl.buf) + 2);
                continue;
            }
            need(size + 2);
            consume(size + 2);
        }
    }
    if (length) {
        need(body);
        consume(body);
        return;
    }
    while (fill()) /* delimited by the end of the connection */
        consume(cl.len);
    consume(cl.len);
    ans->closes = true;
}

/* Sends req (count requests written back to back) and reads count answers,
 * each of which must have status expect. */
static void exchange(const char *req, int count, bool head_request, int expect, struct answer *last)
{
    struct answer ans;
    int i;

    if (cl.fd < 0)
        client_open();
    send_all(req, strlen(req));
    for (i = 0; i < count; i++) {
        read_answer(head_request, &ans);
        if (ans.status != expect)
            die("expected %d, got %d for: %.60s", expect, ans.status, req);
        if (ans.closes) {
            if (i + 1 < count)
                die("the connection closed inside a pipeline: %.60s", req);
            client_close();
        }
    }
    if (last)
        *last = ans;
}

/* ---- the load --------------------------------------------------------------- */

static const char browser_fields[] =
    "Connection: keep-alive\r\n"
    "Cache-Control: max-age=0\r\n"
    "sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,image/apng,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n";

#define BROWSER "\x01" /* in kind.fields: browser_fields */

/* One kind of request: "METHOD TARGET", extra field lines (each ending in
 * CRLF, or BROWSER), a body, how many, the status
 * expected. close: each on a connection of its own. */
struct kind {
    const char *line, *fields, *body;
    int times, expect;
    bool close;
};

static const struct kind kinds[] = {
    /* A benchmark's request. */
    {"GET /index.html", "", "", 20000, 200, false},
    /* A browser's: the directory's index, a stylesheet's gzip sibling, a
     * text compressed on the fly, a page with a query. */
    {"GET /", BROWSER, "", 5000, 200, false},
    {"GET /style.css", BROWSER, "", 1000, 200, false},
    {"GET /text.txt", BROWSER, "", 1000, 200, false},
    {"GET /docs/?page=2&q=x", BROWSER, "", 1000, 200, false},
    /* HEAD, a range, a larger file. */
    {"HEAD /index.html", "", "", 1000, 200, false},
    {"GET /big.bin", "Range: bytes=0-99\r\n", "", 1000, 206, false},
    {"GET /big.bin", "", "", 300, 200, false},
    /* What is not there, or not allowed. */
    {"GET /missing.html", "", "", 1000, 404, false},
    {"GET /docs", "", "", 300, 301, false},
    {"POST /index.html", "Content-Type: text/plain\r\n", "hello", 200, 405, false},
    /* A connection per request. */
    {"GET /index.html", "Connection: close\r\n", "", 2000, 200, true},
    /* CGI, and the reverse proxy (to this same daemon). */
    {"GET /cgi-bin/hello.sh/x?y=1", "", "", 150, 200, false},
    {"POST /cgi-bin/hello.sh", "Content-Type: text/plain\r\n", "hello", 50, 200, false},
    {"GET /up/index.html", BROWSER, "", 3000, 200, false},
    {"GET /up/big.bin", "", "", 100, 200, false},
};

static size_t format_request(char *out, size_t cap, const char *line, const char *fields,
                             const char *body)
{
    char length[48] = "";
    int n;

    if (*body)
        snprintf(length, sizeof length, "Content-Length: %zu\r\n", strlen(body));
    n = snprintf(out, cap, "%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s%s\r\n%s", line, port,
                 strcmp(fields, BROWSER) == 0 ? browser_fields : fields, length, body);
    if (n < 0 || (size_t)n >= cap)
        die("a request longer than %zu bytes", cap);
    return (size_t)n;
}

static void load(void)
{
    static char req[16 * 256];
    char one[4096], fields[256];
    struct answer a;
    size_t i, len;
    int k;

    cl.fd = -1;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const struct kind *kd = &kinds[i];

        format_request(one, sizeof one, kd->line, kd->fields, kd->body);
        if (kd->close)
            client_close();
        for (k = 0; k < kd->times; k++)
            exchange(one, 1, strncmp(kd->line, "HEAD ", 5) == 0, kd->expect, NULL);
        client_close();
    }

    /* Pipelined 16 deep. */
    len = format_request(one, sizeof one, "GET /index.html", "", "");
    for (k = 0; k < 16; k++)
        memcpy(req + (size_t)k * len, one, len + 1);
    for (k = 0; k < 1000; k++)
        exchange(req, 16, false, 200, NULL);

    /* Conditionals, with the validators of an answer. */
    format_request(one, sizeof one, "GET /index.html", "", "");
    exchange(one, 1, false, 200, &a);
    if (!a.etag[0] || !a.modified[0])
        die("the answer to GET /index.html has no ETag or Last-Modified");
    snprintf(fields, sizeof fields, "If-None-Match: %s\r\n", a.etag);
    format_request(one, sizeof one, "GET /index.html", fields, "");
    for (k = 0; k < 2000; k++)
        exchange(one, 1, false, 304, NULL);
    snprintf(fields, sizeof fields, "If-Modified-Since: %s\r\n", a.modified);
    format_request(one, sizeof one, "GET /index.html", fields, "");
    for (k = 0; k < 1000; k++)
        exchange(one, 1, false, 304, NULL);

    /* A malformed head: 400, and the connection closes. */
    snprintf(one, sizeof one, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
    for (k = 0; k < 50; k++)
        exchange(one, 1, false, 400, NULL);
    client_close();
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    int lfd, run;

    if (argc != 2) {
        fprintf(stderr, "usage: cohttpd-pgo-train DAEMON\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    make_site();
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
        die("cannot listen on 127.0.0.1: %s", strerror(errno));
    port = ntohs(a.sin_port);
    /* Without an access log, then with one: both ways are common. */
    for (run = 0; run < 2; run++) {
        write_config(run == 1);
        start_daemon(argv[1], lfd);
        load();
        stop_daemon();
    }
    close(lfd);
    cleanup();
    return 0;
}
