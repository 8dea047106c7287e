/* harness.c - runs the real cohttpd for integration tests and talks to it. */
#include "harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *cohttpd_bin(void)
{
    const char *env = getenv("COHTTPD_BIN");

    return env && *env ? env : COHTTPD_BIN_DEFAULT;
}

const char *cohttpd_test_bin(void)
{
    const char *env = getenv("COHTTPD_TEST_BIN");

    return env && *env ? env : COHTTPD_TEST_BIN_DEFAULT;
}

long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t harness_fork(void)
{
    pid_t parent = getpid(), pid = fork();

    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
        _exit(126);
    return pid;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    cr_assert_not_null(f, "cannot create %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* Replaces every %ROOT% in ini with root. */
static char *expand(const char *ini, const char *root)
{
    size_t cap = strlen(ini) * 2 + 4096, n = 0;
    char *out = malloc(cap);

    cr_assert_not_null(out);
    for (const char *p = ini; *p;) {
        if (strncmp(p, "%ROOT%", 6) == 0) {
            n += (size_t)snprintf(out + n, cap - n, "%s", root);
            p += 6;
        } else if (n + 1 < cap) {
            out[n++] = *p++;
        } else {
            break;
        }
    }
    out[n] = '\0';
    return out;
}

void daemon_prepare(struct daemon *d, const char *ini)
{
    char *body;
    FILE *f;

    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/cohttpd-test-XXXXXX");
    cr_assert_not_null(mkdtemp(d->dir));
    snprintf(d->root, sizeof d->root, "%s/www", d->dir);
    snprintf(d->config, sizeof d->config, "%s/cohttpd.ini", d->dir);
    snprintf(d->log, sizeof d->log, "%s/stderr.log", d->dir);
    cr_assert_eq(mkdir(d->root, 0755), 0);
    body = expand(ini, d->root);
    f = fopen(d->config, "w");
    cr_assert_not_null(f);
    if (strncmp(body, "[server]", 8) != 0)
        fprintf(f, "[server]\nlisten = 127.0.0.1:0\nworkers = 2\n");
    fputs(body, f);
    fclose(f);
    free(body);
}

/* Finds "serving on 127.0.0.1:PORT" in the daemon's stderr. */
static unsigned find_port(const char *log)
{
    char buf[65536];
    FILE *f = fopen(log, "r");
    size_t n;
    const char *p;
    unsigned port = 0;

    if (!f)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strstr(buf, "serving on ");
    if (p && (p = strstr(p, "127.0.0.1:")))
        port = (unsigned)strtoul(p + 10, NULL, 10);
    return port;
}

static void daemon_spawn_bin(struct daemon *d, const char *bin)
{
    d->pid = harness_fork();
    if (d->pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        /* Nothing of the daemon's may hold the test runner's output pipe. */
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl(bin, "cohttpd", "-c", d->config, (char *)NULL);
        _exit(127);
    }
}

void daemon_spawn(struct daemon *d) { daemon_spawn_bin(d, cohttpd_bin()); }

void daemon_start(struct daemon *d, const char *ini) { daemon_start_bin(d, cohttpd_bin(), ini); }

void daemon_start_bin(struct daemon *d, const char *bin, const char *ini)
{
    daemon_prepare(d, ini);
    daemon_start_prepared(d, bin);
}

void daemon_start_with_dir(struct daemon *d, const char *ini, const char *rel)
{
    char dir[1200];

    daemon_prepare(d, ini);
    snprintf(dir, sizeof dir, "%s/%s", d->root, rel);
    cr_assert_eq(mkdir(dir, 0755), 0, "%s: %s", dir, strerror(errno));
    daemon_start_prepared(d, cohttpd_bin());
}

/* Logs what each thread of pid is doing (its name, wait channel and the
 * system call it is in), so that a daemon that does not start says where
 * it stopped. */
static void log_threads(pid_t pid)
{
    char path[512], line[512], out[8192];
    size_t n = 0;
    struct dirent *e;
    DIR *dir;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    if (!(dir = opendir(path)))
        return;
    while ((e = readdir(dir)) && n + 600 < sizeof out) {
        static const char *const parts[] = {"comm", "wchan", "syscall"};

        if (e->d_name[0] == '.')
            continue;
        n += (size_t)snprintf(out + n, sizeof out - n, "thread %s:", e->d_name);
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            FILE *f;

            snprintf(path, sizeof path, "/proc/%d/task/%s/%s", (int)pid, e->d_name, parts[i]);
            line[0] = '\0';
            if ((f = fopen(path, "r"))) {
                if (!fgets(line, sizeof line, f))
                    line[0] = '\0';
                fclose(f);
            }
            line[strcspn(line, "\n")] = '\0';
            n += (size_t)snprintf(out + n, sizeof out - n, " %s=%.120s", parts[i], line);
        }
        n += (size_t)snprintf(out + n, sizeof out - n, "\n");
    }
    closedir(dir);
    cr_log_error("cohttpd (pid %d) threads:\n%s", (int)pid, out);
}

void daemon_start_prepared(struct daemon *d, const char *bin)
{
    long deadline;
    int status;

    daemon_spawn_bin(d, bin);
    deadline = now_ms() + HARNESS_WAIT_MS;
    while (now_ms() < deadline) {
        if ((d->port = find_port(d->log)) != 0)
            return;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            /* The whole of it (an assertion's message is cut at about 1 KB). */
            char *out = file_slurp(d->log);

            d->pid = 0;
            cr_log_error("cohttpd exited at startup (status %d); its stderr:\n%s", status, out);
            free(out);
            cr_assert_fail("cohttpd exited at startup (status %d): its stderr is logged above",
                           status);
        }
        usleep(10000);
    }
    {
        char *log = file_slurp(d->log);

        log_threads(d->pid);
        cr_assert_fail("cohttpd did not start within %d s; its stderr:\n%s", HARNESS_WAIT_MS / 1000,
                       log);
    }
}

int daemon_stop(struct daemon *d)
{
    int status = -1, code;
    long deadline = now_ms() + HARNESS_WAIT_MS;

    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        while (now_ms() < deadline && waitpid(d->pid, &status, WNOHANG) == 0)
            usleep(5000);
        if (now_ms() >= deadline) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &status, 0);
            cr_log_error("cohttpd did not stop within %d s of SIGTERM", HARNESS_WAIT_MS / 1000);
            status = -1;
        }
    }
    code = status == -1 ? 255 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0) {
        /* The whole of it: a crash report (a sanitizer's, say) comes last,
         * after however many lines the test made the daemon write. */
        char *out = file_slurp(d->log);

        cr_log_error("cohttpd exit status %d; its stderr (%zu bytes):\n%s", code, strlen(out), out);
        free(out);
    }
    run_cmd(NULL, 0, "rm -rf '%s'", d->dir);
    d->pid = 0;
    return code;
}

/* Sends SIGKILL to the process group of each child of pid that leads
 * its own (CGI scripts do), from /proc/PID/task/TID/children. */
static void kill_child_groups(pid_t pid)
{
    char path[64];
    struct dirent *e;
    DIR *dir;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    if (!(dir = opendir(path)))
        return;
    while ((e = readdir(dir))) {
        char file[400];
        FILE *f;
        int child;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(file, sizeof file, "%s/%s/children", path, e->d_name);
        if (!(f = fopen(file, "r")))
            continue;
        while (fscanf(f, "%d", &child) == 1) {
            if (getpgid(child) == child)
                kill(-child, SIGKILL);
        }
        fclose(f);
    }
    closedir(dir);
}

void daemon_kill(struct daemon *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGSTOP); /* no new child meanwhile */
        kill_child_groups(d->pid);
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
    if (d->dir[0])
        run_cmd(NULL, 0, "rm -rf '%s'", d->dir);
}

char *file_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap + 1);

    cr_assert_not_null(buf);
    while (f && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
    }
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

bool file_wait_for(const char *path, const char *needle, long ms)
{
    long deadline = now_ms() + ms;

    for (;;) {
        char *text = file_slurp(path);
        bool found = strstr(text, needle) != NULL;

        free(text);
        if (found)
            return true;
        if (now_ms() >= deadline)
            return false;
        usleep(10000);
    }
}

void site_write(const struct daemon *d, const char *rel, const void *data, size_t len)
{
    char path[1024];

    snprintf(path, sizeof path, "%s/%s", d->root, rel);
    for (char *p = path + strlen(d->root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    write_file(path, data, len);
}

void site_write_script(const struct daemon *d, const char *rel, const char *text)
{
    char path[1024];

    site_write(d, rel, text, strlen(text));
    snprintf(path, sizeof path, "%s/%s", d->root, rel);
    cr_assert_eq(chmod(path, 0755), 0, "chmod %s: %s", path, strerror(errno));
}

int curl_fetch(const struct daemon *d, const char *args, const char *path, struct curl_got *g)
{
    char code[64] = "", hfile[400], bfile[400];
    char *text;
    int rc;

    snprintf(hfile, sizeof hfile, "%s/curl-head.out", d->dir);
    snprintf(bfile, sizeof bfile, "%s/curl-body.out", d->dir);
    unlink(hfile);
    unlink(bfile);
    rc = run_cmd(code, sizeof code,
                 "curl -sS %s -D '%s' -o '%s' -w '%%{http_code}' 'http://127.0.0.1:%u%s'", args,
                 hfile, bfile, d->port, path);
    g->status = rc == 0 ? atoi(code) : -1;
    text = file_slurp(hfile);
    snprintf(g->head, sizeof g->head, "%s", text);
    free(text);
    text = file_slurp(bfile);
    snprintf(g->body, sizeof g->body, "%s", text);
    free(text);
    return g->status;
}

int tcp_connect(unsigned port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = HARNESS_WAIT_MS / 1000};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0, "connect: %s",
                 strerror(errno));
    return fd;
}

char *read_until_idle(int fd, int wait_ms, size_t *out_len, bool *closed)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);

    cr_assert_not_null(buf);
    *closed = false;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, wait_ms) <= 0)
            break;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
        r = recv(fd, buf + n, cap - n, 0);
        if (r <= 0) {
            *closed = true;
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out_len = n;
    return buf;
}

char *raw_exchange(unsigned port, const void *req, size_t len, int wait_ms, size_t *out_len,
                   bool *closed)
{
    int fd = tcp_connect(port);
    size_t off = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char *out;

    while (off < len) {
        ssize_t w = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);

        if (w <= 0)
            break; /* the server may close early on bad input */
        off += (size_t)w;
    }
    /* A loaded machine may take long to start answering; wait_ms is the
     * silence that ends the answer once it began. */
    poll(&pfd, 1, wait_ms > HARNESS_WAIT_MS ? wait_ms : HARNESS_WAIT_MS);
    out = read_until_idle(fd, wait_ms, out_len, closed);
    close(fd);
    return out;
}

int response_status(const char *buf)
{
    if (strncmp(buf, "HTTP/1.1 ", 9) != 0 && strncmp(buf, "HTTP/1.0 ", 9) != 0)
        return -1;
    return (int)strtol(buf + 9, NULL, 10);
}

int response_count(const char *buf, size_t len)
{
    int n = 0;

    for (size_t i = 0; i + 9 <= len; i++)
        if ((i == 0 || buf[i - 1] == '\n') && memcmp(buf + i, "HTTP/1.1 ", 9) == 0)
            n++;
    return n;
}

const char *response_header(const char *buf, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *end = strstr(buf, "\r\n\r\n");

    for (const char *p = strstr(buf, "\r\n"); p && (!end || p < end); p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;

        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1, *e;
            size_t len;

            while (*v == ' ')
                v++;
            e = strstr(v, "\r\n");
            len = e ? (size_t)(e - v) : strlen(v);
            if (len >= cap)
                len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

/* popen(cmd, "r") through harness_fork: /bin/sh runs cmd (and, for a
 * single command, becomes it) with the parent-death signal set. Returns
 * the read end of its stdout. */
static FILE *shell_open(const char *cmd, pid_t *pid)
{
    int fds[2];
    FILE *f;

    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
    *pid = harness_fork();
    if (*pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    cr_assert_not_null(f);
    return f;
}

int run_cmd(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[8192], sink[4096];
    va_list ap;
    FILE *p;
    pid_t pid;
    size_t n = 0;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    p = shell_open(cmd, &pid);
    if (out && cap > 0) {
        n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
    }
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    fclose(p);
    while (waitpid(pid, &status, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

long proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    long kib = -1;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

int responses_complete(const char *buf, size_t len, bool head_only)
{
    size_t off = 0;
    int n = 0;

    while (off < len) {
        const char *end = memmem(buf + off, len - off, "\r\n\r\n", 4);
        char value[32];
        size_t head_len, body = 0;

        if (!end)
            break;
        head_len = (size_t)(end - (buf + off)) + 4;
        {
            char head[8192];
            size_t hl = head_len < sizeof head - 1 ? head_len : sizeof head - 1;

            memcpy(head, buf + off, hl);
            head[hl] = '\0';
            if (!head_only && response_header(head, "Content-Length", value, sizeof value))
                body = (size_t)strtoull(value, NULL, 10);
        }
        if (off + head_len + body > len)
            break;
        off += head_len + body;
        n++;
    }
    return n;
}

char *read_responses(int fd, int n, int wait_ms, size_t *out_len)
{
    return read_responses_to(fd, n, false, wait_ms, out_len);
}

char *read_responses_to(int fd, int n, bool head_only, int wait_ms, size_t *out_len)
{
    size_t cap = 1 << 16, got = 0;
    char *buf = malloc(cap + 1);
    long deadline = now_ms() + wait_ms;

    cr_assert_not_null(buf);
    while (responses_complete(buf, got, head_only) < n && now_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, 20) <= 0)
            continue;
        if (got == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
        r = recv(fd, buf + got, cap - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *out_len = got;
    return buf;
}

bool tcp_send_all(int fd, const void *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);

        if (n <= 0)
            return false;
        off += (size_t)n;
    }
    return true;
}

bool wait_closed(int fd, int wait_ms)
{
    char sink[4096];

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, wait_ms) <= 0)
            return false;
        r = recv(fd, sink, sizeof sink, 0);
        if (r <= 0)
            return true;
    }
}

const char *response_body(const char *buf, size_t len, size_t *body_len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    char head[8192], value[32];
    size_t head_len, avail;

    *body_len = 0;
    if (!end)
        return NULL;
    head_len = (size_t)(end - buf) + 4;
    avail = len - head_len;
    memcpy(head, buf, head_len < sizeof head ? head_len : sizeof head - 1);
    head[head_len < sizeof head ? head_len : sizeof head - 1] = '\0';
    if (response_header(head, "Content-Length", value, sizeof value)) {
        size_t cl = (size_t)strtoull(value, NULL, 10);

        avail = cl < avail ? cl : avail;
    }
    *body_len = avail;
    return end + 4;
}

/* True when every thread of pid has a tracer. */
static bool all_threads_traced(pid_t pid)
{
    char path[320], status[4096];
    struct dirent *e;
    DIR *dir;
    bool all = true;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    dir = opendir(path);
    if (!dir)
        return false;
    while (all && (e = readdir(dir))) {
        const char *tracer;
        FILE *f;
        size_t n = 0;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)pid, e->d_name);
        f = fopen(path, "r");
        if (f) {
            n = fread(status, 1, sizeof status - 1, f);
            fclose(f);
        }
        status[n] = '\0';
        tracer = strstr(status, "TracerPid:");
        all = tracer && strtol(tracer + 10, NULL, 10) != 0;
    }
    closedir(dir);
    return all;
}

pid_t strace_attach(pid_t pid, const char *syscalls, const char *out)
{
    char target[16], filter[256];
    long deadline = now_ms() + HARNESS_WAIT_MS;
    pid_t tracer;

    if (run_cmd(NULL, 0, "command -v strace >/dev/null") != 0)
        return 0;
    snprintf(target, sizeof target, "%d", (int)pid);
    snprintf(filter, sizeof filter, "trace=%s", syscalls);
    tracer = harness_fork();
    if (tracer == 0) {
        execlp("strace", "strace", "-f", "-qq", "-e", filter, "-o", out, "-p", target,
               (char *)NULL);
        _exit(127);
    }
    while (!all_threads_traced(pid) && now_ms() < deadline)
        usleep(10000);
    if (!all_threads_traced(pid)) {
        kill(tracer, SIGKILL);
        waitpid(tracer, NULL, 0);
        return 0;
    }
    return tracer;
}

void strace_detach(pid_t tracer)
{
    kill(tracer, SIGINT);
    waitpid(tracer, NULL, 0);
}

bool tcp_read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle, int wait_ms)
{
    long deadline = now_ms() + wait_ms;
    size_t nlen = strlen(needle);

    while (!memmem(buf, *len, needle, nlen) && now_ms() < deadline && *len < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, buf + *len, cap - 1 - *len, 0);
        if (n <= 0)
            break;
        *len += (size_t)n;
        buf[*len] = '\0';
    }
    return memmem(buf, *len, needle, nlen) != NULL;
}

int tcp_listen(unsigned *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(fd, 16), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* Whether /proc/net/tcp holds the socket local -> remote (both on
 * 127.0.0.1, ports in host order) with an owner (a socket inode). */
static bool tcp_socket_owned(unsigned local, unsigned remote)
{
    char line[512];
    FILE *f = fopen("/proc/net/tcp", "r");
    bool owned = false;

    cr_assert_not_null(f, "/proc/net/tcp: %s", strerror(errno));
    while (!owned && fgets(line, sizeof line, f)) {
        unsigned laddr, lport, raddr, rport;
        unsigned long inode;

        if (sscanf(line, " %*u: %x:%x %x:%x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu", &laddr, &lport,
                   &raddr, &rport, &inode) == 5)
            owned = lport == local && rport == remote && inode != 0;
    }
    fclose(f);
    return owned;
}

bool tcp_server_closed(int fd, int wait_ms)
{
    struct sockaddr_in me, peer;
    socklen_t me_len = sizeof me, peer_len = sizeof peer;
    long deadline = now_ms() + wait_ms;

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&me, &me_len), 0);
    cr_assert_eq(getpeername(fd, (struct sockaddr *)&peer, &peer_len), 0);
    while (tcp_socket_owned(ntohs(peer.sin_port), ntohs(me.sin_port))) {
        if (now_ms() >= deadline)
            return false;
        usleep(10000);
    }
    return true;
}

int tcp_accept(int lfd, int wait_ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};

    if (poll(&p, 1, wait_ms) != 1)
        return -1;
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}
