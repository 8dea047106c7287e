/* Integration: reloads leak no descriptor; the previous generation's open files are closed. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "test_static_util.h"

/* How long a reload or a descriptor change may take before it is a failure:
 * generous, as a loaded machine can stall one reload for seconds. */
#define WAIT_MS 30000

static struct daemon d;
static unsigned generation; /* the configuration generation now serving */
static char ini[512];       /* the configuration, rewritten as it is at each reload */

static void start(const char *server_keys)
{
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\n%saccess_log = off\n[static /]\nroot = %%ROOT%%\n",
             server_keys);
    daemon_start(&d, ini);
    generation = 1;
}

static void start_one_worker(void) { start("workers = 1\n"); }
static void start_two_workers(void) { start("workers = 2\n"); }

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly"); }

TestSuite(reload_fds, .init = start_one_worker, .fini = stop);

/* Descriptors the daemon has open; with `path`, only those open on it
 * (*deleted counts those whose file was deleted meanwhile). */
static int daemon_fds(const char *path, int *deleted)
{
    char dir[64], link[PATH_MAX + 64], target[PATH_MAX + 64];
    struct dirent *e;
    DIR *dp;
    int n = 0;

    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)d.pid);
    dp = opendir(dir);
    cr_assert_not_null(dp);
    if (deleted)
        *deleted = 0;
    while ((e = readdir(dp))) {
        ssize_t len;

        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        len = readlink(link, target, sizeof target - 1);
        if (len < 0)
            continue; /* closed meanwhile */
        target[len] = '\0';
        if (!path) {
            n++;
        } else if (strncmp(target, path, strlen(path)) == 0) {
            const char *tail = target + strlen(path);

            n += *tail == '\0' || strcmp(tail, " (deleted)") == 0;
            if (deleted && strcmp(tail, " (deleted)") == 0)
                (*deleted)++;
        }
    }
    closedir(dp);
    return n;
}

/* Rewrites the configuration (the same one) as a deploy does: a new file
 * renamed over the old, so that the daemon never reads it half written. */
static void rewrite_config(void)
{
    char tmp[sizeof d.config + 8];
    const char *root = strstr(ini, "%ROOT%");
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.new", d.config);
    f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fprintf(f, "%.*s%s%s", (int)(root - ini), ini, d.root, root + 6);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, d.config), 0);
}

/* Rewrites the configuration and sends SIGHUP; returns once the daemon
 * says it serves the next generation. */
static void reload(void)
{
    char needle[64];
    long deadline = now_ms() + WAIT_MS;
    bool done = false;

    rewrite_config();
    generation++;
    snprintf(needle, sizeof needle, "(config generation %u)", generation);
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    while (!done && now_ms() < deadline) {
        char *log = file_slurp(d.log);

        done = strstr(log, needle) != NULL;
        if (!done && (strstr(log, "reload failed") || now_ms() >= deadline)) {
            /* The whole log: an assertion's message is cut at about 1 KB. */
            cr_log_error("waiting for '%s'; the daemon's log:\n%s", needle, log);
            cr_assert(false, "%s while waiting for '%s' (the daemon's log is above)",
                      strstr(log, "reload failed") ? "a reload failed" : "no answer in time",
                      needle);
        }
        free(log);
        if (!done)
            usleep(2000);
    }
}

static void get_ok(const char *target, const char *body)
{
    struct st_resp r = st_get(d.port, target, "");

    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert(st_body_is(&r, body, strlen(body)), "%s", r.raw);
    st_free(&r);
}

/* Waits until the daemon has want descriptors open (connections it is
 * still closing go away); returns the last count seen. */
static int settle_fds(int want)
{
    long deadline = now_ms() + WAIT_MS;
    int n;

    while ((n = daemon_fds(NULL, NULL)) != want && now_ms() < deadline)
        usleep(10000);
    return n;
}

Test(reload_fds, twenty_reloads_leave_one_descriptor_of_a_served_file)
{
    char path[600];
    int before, after, of_file;

    site_write(&d, "a.txt", "served\n", 7);
    snprintf(path, sizeof path, "%s/a.txt", d.root);
    get_ok("/a.txt", "served\n");
    before = settle_fds(daemon_fds(NULL, NULL));
    cr_assert_eq(daemon_fds(path, NULL), 1, "the worker keeps the file open");
    for (int i = 0; i < 20; i++) {
        get_ok("/a.txt", "served\n");
        reload();
    }
    get_ok("/a.txt", "served\n");
    after = settle_fds(before);
    of_file = daemon_fds(path, NULL);
    cr_log_info("descriptors: %d before, %d after 20 reloads; %d of the file", before, after,
                of_file);
    cr_assert_eq(after, before, "descriptors: %d before 20 reloads, %d after", before, after);
    cr_assert_eq(of_file, 1, "%d descriptors of %s", of_file, path);
}

/* Waits until no descriptor of path is open; returns how many still are. */
static int wait_closed_file(const char *path, int *deleted)
{
    long deadline = now_ms() + WAIT_MS;

    while (daemon_fds(path, deleted) > 0 && now_ms() < deadline)
        usleep(10000);
    return daemon_fds(path, deleted);
}

Test(reload_fds, a_file_deleted_before_a_reload_is_closed_by_the_reload)
{
    char path[600];
    int deleted = 0;

    site_write(&d, "old.txt", "old\n", 4);
    snprintf(path, sizeof path, "%s/old.txt", d.root);
    get_ok("/old.txt", "old\n");
    cr_assert_eq(daemon_fds(path, NULL), 1);
    cr_assert_eq(unlink(path), 0);
    reload();
    cr_assert_eq(wait_closed_file(path, &deleted), 0, "%d deleted descriptors of %s", deleted,
                 path);
}

Test(reload_fds, a_file_deleted_after_a_reload_is_closed_when_asked_for_again)
{
    char path[600];
    int deleted = 0, status = 0;
    long deadline;

    site_write(&d, "new.txt", "new\n", 4);
    snprintf(path, sizeof path, "%s/new.txt", d.root);
    get_ok("/new.txt", "new\n");
    reload();
    get_ok("/new.txt", "new\n"); /* open in the new generation */
    cr_assert_eq(daemon_fds(path, NULL), 1, "one descriptor, the new generation's");
    cr_assert_eq(unlink(path), 0);
    deadline = now_ms() + WAIT_MS;
    while (status != 404 && now_ms() < deadline) {
        struct st_resp r = st_get(d.port, "/new.txt", "");

        status = r.status;
        st_free(&r);
        if (status != 404)
            usleep(50000);
    }
    cr_assert_eq(status, 404, "the deleted file is noticed");
    cr_assert_eq(wait_closed_file(path, &deleted), 0, "%d deleted descriptors of %s", deleted,
                 path);
}

Test(reload_fds, a_download_running_across_a_reload_completes_then_its_file_closes)
{
    size_t size = 16 * 1024 * 1024, got = 0, head_len = 0;
    char *file = malloc(size), path[600], buf[65536];
    const char *req = "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)d.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rcvbuf = 4096, fd, deleted = 0;
    const char *end;
    ssize_t n;

    cr_assert_not_null(file);
    for (size_t i = 0; i < size; i++)
        file[i] = (char)('a' + i % 19);
    site_write(&d, "big.bin", file, size);
    snprintf(path, sizeof path, "%s/big.bin", d.root);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    /* A small window keeps most of the file in the daemon while it reloads. */
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert(tcp_send_all(fd, req, strlen(req)));
    n = recv(fd, buf, sizeof buf, 0);
    cr_assert_gt(n, 0);
    cr_assert_eq(response_status(buf), 200, "%.200s", buf);
    end = memmem(buf, (size_t)n, "\r\n\r\n", 4);
    cr_assert_not_null(end, "the head came in the first read");
    head_len = (size_t)(end - buf) + 4;
    cr_assert_eq(memcmp(buf + head_len, file, (size_t)n - head_len), 0);
    reload();
    cr_assert_eq(daemon_fds(path, NULL), 1, "the running download keeps its generation's file");
    got = (size_t)n - head_len;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
        cr_assert_leq(got + (size_t)n, size);
        cr_assert_eq(memcmp(buf, file + got, (size_t)n), 0, "byte %zu differs", got);
        got += (size_t)n;
    }
    close(fd);
    free(file);
    cr_assert_eq(got, size, "%zu of %zu bytes arrived", got, size);
    /* Its generation's last request ended: the worker closed that cache. */
    cr_assert_eq(wait_closed_file(path, &deleted), 0);
}

/* ---- 200 reloads under load --------------------------------------------- */

#define LOAD_FILES   5
#define LOAD_CLIENTS 4
#define LOAD_RELOADS 200

struct load {
    unsigned port;
    atomic_bool stop;
    atomic_long ok, failed;
    char first_failure[256];
    pthread_mutex_t lock;
};

struct body {
    char data[64];
    size_t len;
};

static size_t body_add(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t len = size * n;

    if (b->len + len <= sizeof b->data) {
        memcpy(b->data + b->len, p, len);
        b->len += len;
    }
    return len;
}

static void load_fail(struct load *l, const char *what)
{
    pthread_mutex_lock(&l->lock);
    if (!l->first_failure[0])
        snprintf(l->first_failure, sizeof l->first_failure, "%s", what);
    pthread_mutex_unlock(&l->lock);
    atomic_fetch_add(&l->failed, 1);
}

/* One client: one keep-alive connection (libcurl reuses it), the files in
 * turn, each answer checked, until told to stop. */
static void *load_client(void *arg)
{
    struct load *l = arg;
    CURL *curl = curl_easy_init();
    char url[128], want[32];
    unsigned i = 0;

    if (!curl) {
        load_fail(l, "curl_easy_init");
        return NULL;
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_add);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)HARNESS_WAIT_MS);
    while (!atomic_load(&l->stop)) {
        struct body b = {.len = 0};
        long code = 0;
        CURLcode rc;

        snprintf(url, sizeof url, "http://127.0.0.1:%u/f%u.txt", l->port, i % LOAD_FILES);
        snprintf(want, sizeof want, "file %u\n", i % LOAD_FILES);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
        rc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK || code != 200 || b.len != strlen(want) || memcmp(b.data, want, b.len))
            load_fail(l, rc != CURLE_OK ? curl_easy_strerror(rc) : url);
        else
            atomic_fetch_add(&l->ok, 1);
        i++;
    }
    curl_easy_cleanup(curl);
    return NULL;
}

TestSuite(reload_fds_load, .init = start_two_workers, .fini = stop);

Test(reload_fds_load, two_hundred_reloads_under_load_leak_no_descriptor, .timeout = 300)
{
    static struct load l;
    pthread_t clients[LOAD_CLIENTS];
    long rss_before, rss_after;
    int before, after_load, after;

    for (unsigned i = 0; i < LOAD_FILES; i++) {
        char rel[16], text[16];

        snprintf(rel, sizeof rel, "f%u.txt", i);
        snprintf(text, sizeof text, "file %u\n", i);
        site_write(&d, rel, text, strlen(text));
    }
    reload(); /* a generation that served nothing yet: its caches are empty */
    before = settle_fds(daemon_fds(NULL, NULL));
    rss_before = proc_rss_kib(d.pid);
    l = (struct load){.port = d.port};
    pthread_mutex_init(&l.lock, NULL);
    for (int i = 0; i < LOAD_CLIENTS; i++)
        cr_assert_eq(pthread_create(&clients[i], NULL, load_client, &l), 0);
    for (int i = 0; i < LOAD_RELOADS; i++)
        reload();
    atomic_store(&l.stop, true);
    for (int i = 0; i < LOAD_CLIENTS; i++)
        pthread_join(clients[i], NULL);
    /* The clients' connections closed; what stays open is the current
     * generation's cache: at most every file in every worker. */
    after_load = settle_fds(before);
    reload();
    after = settle_fds(before);
    rss_after = proc_rss_kib(d.pid);
    cr_log_info("%ld requests during %d reloads; descriptors %d before, %d after the load, %d "
                "after one more reload; RSS %ld KiB before, %ld KiB after",
                atomic_load(&l.ok), LOAD_RELOADS, before, after_load, after, rss_before, rss_after);
    fprintf(stderr,
            "reload_fds_load: %ld requests during %d reloads; descriptors %d before, %d after the "
            "load, %d after one more reload; RSS %ld KiB before, %ld KiB after\n",
            atomic_load(&l.ok), LOAD_RELOADS, before, after_load, after, rss_before, rss_after);
    cr_assert_eq(atomic_load(&l.failed), 0, "%ld failed requests, the first: %s",
                 atomic_load(&l.failed), l.first_failure);
    cr_assert_gt(atomic_load(&l.ok), 0);
    cr_assert_leq(after_load, before + LOAD_FILES * 2, "descriptors: %d before, %d after", before,
                  after_load);
    cr_assert_eq(after, before, "descriptors: %d before the reloads, %d after", before, after);
    pthread_mutex_destroy(&l.lock);
}
