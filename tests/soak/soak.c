/* soak.c - the soak's load generator: many connections, a mix of requests, every response checked.
 *
 * soak PORT ROOT TOTAL THREADS
 *
 * Sends TOTAL requests to 127.0.0.1:PORT from THREADS threads, each on its
 * own keep-alive connection (a new one every RECONNECT_EVERY requests and
 * after each malformed request): static hits of ROOT/f0.bin .. f7.bin,
 * misses, single ranges, conditionals (If-None-Match with the file's
 * ETag), pipelined batches, malformed requests, the CGI script
 * /cgi-bin/soak and the same files through the proxy route /up/. Every
 * response is checked: status, length, and the exact bytes. Prints a
 * summary; exits 0 when no valid request failed, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define N_FILES         8
#define RECONNECT_EVERY 200
#define PIPELINE        8
#define BUF_CAP         (1 << 20)
#define CGI_BODY        "soak cgi ok\n"

enum kind { K_HIT, K_MISS, K_RANGE, K_COND, K_PIPE, K_BAD, K_CGI, K_PROXY, K_COUNT };

static const char *const kind_names[K_COUNT] = {"hit",       "miss",      "range", "conditional",
                                                "pipelined", "malformed", "cgi",   "proxy"};

/* Out of 100 steps of the mix: what each kind gets. */
static const unsigned kind_weight[K_COUNT] = {38, 10, 10, 10, 10, 5, 2, 15};

/* Heads that must be answered 400 (len 0: strlen). */
static const struct bad_head {
    const char *head;
    size_t len;
} bad_heads[] = {
    {.head = "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"},
    {.head =
         "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"},
    {.head = "GET / HTTP/1.1\r\n\r\n"},
    {.head = "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n", .len = 30},
};

struct file {
    char *data;
    size_t len;
    char etag[128];
};

static struct {
    unsigned port;
    uint64_t total;
    struct file files[N_FILES];
    _Atomic uint64_t issued, ok, failed, retried, connections;
    _Atomic uint64_t by_kind[K_COUNT];
    _Atomic unsigned reported;
} g;

struct conn {
    int fd;
    unsigned served; /* requests on this connection */
    char *buf;       /* what was read and not consumed yet */
    size_t len;
    unsigned seed;
};

struct resp {
    int status;
    const char *body;
    size_t body_len;
    char etag[128];
    bool has_length;
};

/* Prints the first failures (the caller counts them). */
static void report(const char *what, const char *detail)
{
    if (atomic_fetch_add(&g.reported, 1) < 20)
        fprintf(stderr, "soak: FAILED %s: %.300s\n", what, detail);
}

static int conn_open(struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)g.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 30};
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->served = 0;
    c->len = 0;
    atomic_fetch_add(&g.connections, 1);
    return connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads more into c->buf: bytes read, 0 at the peer's close, -1 on error. */
static ssize_t conn_fill(struct conn *c)
{
    ssize_t n;

    if (c->len == BUF_CAP)
        return -1;
    n = recv(c->fd, c->buf + c->len, BUF_CAP - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

/* The value of header name in head[0..len) (case-insensitive), copied. */
static bool header_value(const char *head, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);

    for (const char *p = head; p && p < head + len; p = memchr(p, '\n', (size_t)(head + len - p))) {
        p += *p == '\n';
        if ((size_t)(head + len - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1, *end = memchr(v, '\r', (size_t)(head + len - v));
            size_t n;

            while (*v == ' ')
                v++;
            n = end ? (size_t)(end - v) : 0;
            snprintf(out, cap, "%.*s", (int)n, v);
            return true;
        }
    }
    return false;
}

/* Reads one response (head and Content-Length body) from c into r. The
 * previous response's bytes are dropped first (consumed). 0, or -1 when
 * the connection ended or broke first; *started: some bytes had come. */
static int read_response(struct conn *c, struct resp *r, size_t *consumed, bool *started)
{
    char *end, value[32];
    size_t head_len;

    memmove(c->buf, c->buf + *consumed, c->len - *consumed);
    c->len -= *consumed;
    *consumed = 0;
    *started = c->len > 0;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        if (conn_fill(c) <= 0)
            return -1;
        *started = true;
    }
    head_len = (size_t)(end - c->buf) + 4;
    *r = (struct resp){.status = -1};
    if (c->len < 12 || sscanf(c->buf, "HTTP/1.1 %d", &r->status) != 1)
        return -1;
    r->has_length = header_value(c->buf, head_len, "Content-Length", value, sizeof value);
    r->body_len = r->has_length ? strtoul(value, NULL, 10) : 0;
    header_value(c->buf, head_len, "ETag", r->etag, sizeof r->etag);
    if (r->body_len > BUF_CAP - head_len)
        return -1;
    while (c->len < head_len + r->body_len) {
        if (conn_fill(c) <= 0)
            return -1;
    }
    r->body = c->buf + head_len;
    *consumed = head_len + r->body_len;
    return 0;
}

/* One response checked against status and body (NULL: any body). */
static bool expect(struct conn *c, size_t *consumed, const char *what, int status, const char *body,
                   size_t body_len, bool *started)
{
    struct resp r;
    char detail[400];

    if (read_response(c, &r, consumed, started) < 0)
        return false;
    if (r.status == status && (status == 304 || r.has_length) &&
        (!body || (r.body_len == body_len && memcmp(r.body, body, body_len) == 0)))
        return true;
    snprintf(detail, sizeof detail, "status %d (want %d), %zu body bytes (want %zu): %.200s",
             r.status, status, r.body_len, body_len, c->buf);
    report(what, detail);
    *started = true; /* an answer came: not a connection to retry */
    return false;
}

/* Builds the request of kind k (one of PIPELINE for K_PIPE) into req; sets
 * what to expect. Returns its length. */
static size_t build(enum kind k, unsigned f, unsigned x, char *req, size_t cap, int *status,
                    const char **body, size_t *body_len)
{
    const struct file *fl = &g.files[f];
    size_t a = fl->len ? x % fl->len : 0, b = fl->len ? a + (x % 97) : 0;
    int n;

    if (b >= fl->len)
        b = fl->len - 1;
    *status = 200;
    *body = fl->data;
    *body_len = fl->len;
    switch (k) {
    case K_MISS:
        *status = 404, *body = NULL;
        n = snprintf(req, cap, "GET /missing-%u.bin HTTP/1.1\r\nHost: soak\r\n\r\n", x);
        break;
    case K_RANGE:
        *status = 206, *body = fl->data + a, *body_len = b - a + 1;
        n = snprintf(req, cap,
                     "GET /f%u.bin HTTP/1.1\r\nHost: soak\r\nRange: bytes=%zu-%zu\r\n\r\n", f, a,
                     b);
        break;
    case K_COND:
        *status = 304, *body = NULL;
        n = snprintf(req, cap, "GET /f%u.bin HTTP/1.1\r\nHost: soak\r\nIf-None-Match: %s\r\n\r\n",
                     f, fl->etag);
        break;
    case K_CGI:
        *body = CGI_BODY, *body_len = strlen(CGI_BODY);
        n = snprintf(req, cap, "GET /cgi-bin/soak?x=%u HTTP/1.1\r\nHost: soak\r\n\r\n", x);
        break;
    case K_PROXY:
        n = snprintf(req, cap, "GET /up/f%u.bin HTTP/1.1\r\nHost: soak\r\n\r\n", f);
        break;
    default: n = snprintf(req, cap, "GET /f%u.bin HTTP/1.1\r\nHost: soak\r\n\r\n", f); break;
    }
    return (size_t)n;
}

/* Sends n requests of kind k in one write and checks their answers in
 * order. Returns how many were answered as expected; *started as in
 * read_response. */
static unsigned run_batch(struct conn *c, enum kind k, unsigned n, bool *started)
{
    char req[PIPELINE * 256];
    int status[PIPELINE];
    const char *body[PIPELINE];
    size_t body_len[PIPELINE], len = 0, consumed = 0;
    unsigned good = 0;

    for (unsigned i = 0; i < n; i++) {
        unsigned x = (unsigned)rand_r(&c->seed);

        len += build(k, x % N_FILES, x, req + len, sizeof req - len, &status[i], &body[i],
                     &body_len[i]);
    }
    *started = false;
    if (!send_all(c->fd, req, len))
        return 0;
    for (unsigned i = 0; i < n; i++) {
        bool got = false;

        if (!expect(c, &consumed, kind_names[k], status[i], body[i], body_len[i], &got))
            break;
        *started |= got;
        good++;
    }
    memmove(c->buf, c->buf + consumed, c->len - consumed);
    c->len -= consumed;
    return good;
}

/* A malformed head: answered 400 (the connection is closed after it). */
static bool run_bad(struct conn *c, unsigned x)
{
    const struct bad_head *b = &bad_heads[x % (sizeof bad_heads / sizeof bad_heads[0])];
    size_t consumed = 0;
    bool started;

    if (!send_all(c->fd, b->head, b->len ? b->len : strlen(b->head))) {
        report("malformed", "the request could not be sent");
        return false;
    }
    return expect(c, &consumed, "malformed", 400, NULL, 0, &started);
}

static enum kind pick(unsigned x)
{
    unsigned step = x % 100, k = 0;

    while (step >= kind_weight[k]) {
        step -= kind_weight[k];
        k++;
    }
    return (enum kind)k;
}

/* One step of the mix on c (reconnecting as needed). */
static void step(struct conn *c)
{
    unsigned x = (unsigned)rand_r(&c->seed);
    enum kind k = pick(x);
    unsigned n = k == K_PIPE ? PIPELINE : 1, good;
    bool started = false, reused = c->served > 0;

    atomic_fetch_add(&g.issued, n);
    atomic_fetch_add(&g.by_kind[k], n);
    if (c->fd < 0 && conn_open(c) < 0) {
        report("connect", strerror(errno));
        atomic_fetch_add(&g.failed, n);
        conn_close(c);
        return;
    }
    if (k == K_BAD) {
        atomic_fetch_add(run_bad(c, x) ? &g.ok : &g.failed, 1);
        conn_close(c);
        return;
    }
    good = run_batch(c, k, n, &started);
    /* A reused connection that the daemon closed before any byte of the
     * answer came (a keep-alive close) is retried once, as clients do. */
    if (good == 0 && !started && reused) {
        atomic_fetch_add(&g.retried, 1);
        conn_close(c);
        if (conn_open(c) == 0)
            good = run_batch(c, k, n, &started);
    }
    atomic_fetch_add(&g.ok, good);
    if (good < n) {
        if (!started)
            report(kind_names[k], "the connection ended before an answer");
        atomic_fetch_add(&g.failed, n - good);
        conn_close(c);
        return;
    }
    c->served += n;
    if (c->served >= RECONNECT_EVERY)
        conn_close(c);
}

static void *worker(void *arg)
{
    struct conn c = {.fd = -1, .buf = malloc(BUF_CAP), .seed = (unsigned)(uintptr_t)arg};

    if (!c.buf)
        return NULL;
    while (atomic_load(&g.issued) < g.total)
        step(&c);
    conn_close(&c);
    free(c.buf);
    return NULL;
}

/* Reads ROOT/fN.bin and asks the daemon for its ETag. */
static int load_file(const char *root, unsigned i)
{
    struct file *f = &g.files[i];
    struct conn c = {.fd = -1, .buf = malloc(BUF_CAP)};
    char path[4096], req[128];
    size_t consumed = 0;
    struct resp r;
    bool started;
    FILE *in;

    snprintf(path, sizeof path, "%s/f%u.bin", root, i);
    in = fopen(path, "rb");
    if (!in || !c.buf)
        return -1;
    f->data = malloc(BUF_CAP);
    f->len = f->data ? fread(f->data, 1, BUF_CAP, in) : 0;
    fclose(in);
    snprintf(req, sizeof req, "GET /f%u.bin HTTP/1.1\r\nHost: soak\r\n\r\n", i);
    if (conn_open(&c) < 0 || !send_all(c.fd, req, strlen(req)) ||
        read_response(&c, &r, &consumed, &started) < 0 || r.status != 200 || !r.etag[0])
        return -1;
    snprintf(f->etag, sizeof f->etag, "%s", r.etag);
    conn_close(&c);
    free(c.buf);
    return 0;
}

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    pthread_t th[256];
    unsigned threads;
    double secs;

    if (argc != 5) {
        fprintf(stderr, "usage: soak PORT ROOT TOTAL THREADS\n");
        return 2;
    }
    g.port = (unsigned)strtoul(argv[1], NULL, 10);
    g.total = strtoull(argv[3], NULL, 10);
    threads = (unsigned)strtoul(argv[4], NULL, 10);
    if (threads == 0 || threads > 256)
        threads = 16;
    for (unsigned i = 0; i < N_FILES; i++) {
        if (load_file(argv[2], i) < 0) {
            fprintf(stderr, "soak: cannot read %s/f%u.bin or get its ETag\n", argv[2], i);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i * 7919 + 1));
    for (unsigned i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("soak: %llu requests in %.1f s (%.0f/s) over %llu connections: %llu as expected, "
           "%llu failed, %llu retried on a fresh connection\n",
           (unsigned long long)(g.ok + g.failed), secs, (double)(g.ok + g.failed) / secs,
           (unsigned long long)g.connections, (unsigned long long)g.ok,
           (unsigned long long)g.failed, (unsigned long long)g.retried);
    printf("soak: by kind:");
    for (int k = 0; k < K_COUNT; k++)
        printf(" %s %llu", kind_names[k], (unsigned long long)g.by_kind[k]);
    printf("\n");
    return g.failed == 0 ? 0 : 1;
}
