/* systemd.c - the daemon's only door to libsystemd: notifications, socket activation, journal. */
#include "daemon/systemd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SYSLOG_IDENTIFIER "SYSLOG_IDENTIFIER=cohttpd"
/* Where sd_journal_send sends its datagrams. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Readies an inherited listening socket as cohttpd's own: non-blocking,
 * close-on-exec, and TCP_NODELAY for the connections it accepts. */
static int set_nonblocking_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL), one = 1;

    if (sd_is_socket(fd, AF_INET, SOCK_STREAM, 1) > 0 ||
        sd_is_socket(fd, AF_INET6, SOCK_STREAM, 1) > 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

/* Keeps fd when it is a listening stream socket; closes it otherwise. */
static bool take_socket(int fd, const char *name, struct systemd_socket *out)
{
    int r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);

    if (r <= 0) {
        log_warn("socket activation: fd %d (%s) is not a listening stream socket: ignored", fd,
                 name);
        close(fd);
        return false;
    }
    r = set_nonblocking_cloexec(fd);
    if (r < 0) {
        log_warn("socket activation: fd %d (%s): %s: ignored", fd, name, strerror(-r));
        close(fd);
        return false;
    }
    *out = (struct systemd_socket){.fd = fd};
    snprintf(out->name, sizeof out->name, "%s", name);
    return true;
}

int systemd_listen_fds(struct systemd_socket *out, size_t cap)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names);
    size_t kept = 0;

    if (n < 0) {
        log_error("socket activation: %s", strerror(-n));
        return n;
    }
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        const char *name = names && names[i] ? names[i] : "";

        if (kept == cap) {
            log_warn("socket activation: more than %zu sockets: fd %d (%s) ignored", cap, fd, name);
            close(fd);
        } else if (take_socket(fd, name, &out[kept])) {
            kept++;
        }
    }
    if (names) {
        for (int i = 0; names[i]; i++)
            free(names[i]);
        free(names);
    }
    return (int)kept;
}

bool systemd_notify_enabled(void)
{
    const char *s = getenv("NOTIFY_SOCKET");

    return s && *s;
}

void systemd_notify_ready(const char *status) { sd_notifyf(0, "READY=1\nSTATUS=%s", status); }

void systemd_notify_reloading(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
               (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void systemd_notify_stopping(const char *status) { sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status); }

void systemd_notify_status(const char *status) { sd_notifyf(0, "STATUS=%s", status); }

void systemd_notify_failed(const char *status, int err)
{
    sd_notifyf(0, "STATUS=%s\nERRNO=%d", status, err);
}

void systemd_notify_watchdog(void) { sd_notify(0, "WATCHDOG=1"); }

uint64_t systemd_watchdog_usec(void)
{
    uint64_t usec = 0;

    return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

int systemd_journal_check(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)&sun, sizeof sun) < 0)
        r = -errno;
    close(fd);
    return r;
}

int systemd_journal_log(enum log_level level, const char *msg, size_t len)
{
    int r = sd_journal_send("MESSAGE=%.*s", (int)len, msg, "PRIORITY=%d", (int)level,
                            SYSLOG_IDENTIFIER, NULL);

    return r < 0 ? r : 0;
}

/* A text span inside an access log line. */
struct span {
    const char *p;
    int len;
};

/* The quoted field starting at *pp (at its opening quote): its content up
 * to the first unescaped quote, escapes kept as written. Advances *pp past
 * the closing quote. */
static struct span quoted(const char **pp, const char *end)
{
    const char *p = *pp, *start;
    struct span s = {.p = "", .len = 0};

    if (p >= end || *p != '"')
        return s;
    start = ++p;
    while (p < end && *p != '"')
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
    s = (struct span){.p = start, .len = (int)(p - start)};
    *pp = p < end ? p + 1 : end;
    return s;
}

/* The digits at *pp, advancing past them and one following space. */
static struct span digits(const char **pp, const char *end)
{
    const char *p = *pp, *start = p;

    while (p < end && *p >= '0' && *p <= '9')
        p++;
    *pp = p < end && *p == ' ' ? p + 1 : p;
    return (struct span){.p = start, .len = (int)(p - start)};
}

/* The fields of an access log line (combined or JSON). */
struct access_fields {
    struct span addr, request, status, bytes, referer, agent;
};

/* peer - - [stamp] "request" status bytes "referer" "user agent" */
static void parse_combined(const char *p, const char *end, struct access_fields *f)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    const char *q;

    if (!sp)
        return;
    f->addr = (struct span){.p = p, .len = (int)(sp - p)};
    q = memmem(sp, (size_t)(end - sp), "] \"", 3);
    if (!q)
        return;
    p = q + 2;
    f->request = quoted(&p, end);
    if (p < end && *p == ' ')
        p++;
    f->status = digits(&p, end);
    f->bytes = digits(&p, end);
    f->referer = quoted(&p, end);
    if (p < end && *p == ' ')
        p++;
    f->agent = quoted(&p, end);
}

/* The value after "key": in a JSON line: a string's content, or a number. */
static struct span json_value(const char *line, const char *end, const char *key)
{
    size_t klen = strlen(key);
    const char *p = memmem(line, (size_t)(end - line), key, klen);

    if (!p)
        return (struct span){.p = "", .len = 0};
    p += klen;
    return *p == '"' ? quoted(&p, end) : digits(&p, end);
}

static void parse_json(const char *line, const char *end, struct access_fields *f)
{
    f->addr = json_value(line, end, "\"remote_addr\":");
    f->request = json_value(line, end, "\"request\":");
    f->status = json_value(line, end, "\"status\":");
    f->bytes = json_value(line, end, "\"body_bytes\":");
    f->referer = json_value(line, end, "\"referer\":");
    f->agent = json_value(line, end, "\"user_agent\":");
}

int systemd_journal_access(const char *line, size_t len)
{
    const char *end = line + len;
    struct span none = {.p = "", .len = 0};
    struct access_fields f = {none, none, none, none, none, none};
    int r;

    if (len > 0 && line[0] == '{')
        parse_json(line, end, &f);
    else
        parse_combined(line, end, &f);
    r = sd_journal_send("MESSAGE=%.*s", (int)len, line, "PRIORITY=%d", (int)LOG_LVL_INFO,
                        SYSLOG_IDENTIFIER, "COHTTPD_LOG=access", "REMOTE_ADDR=%.*s", f.addr.len,
                        f.addr.p, "REQUEST=%.*s", f.request.len, f.request.p, "STATUS=%.*s",
                        f.status.len, f.status.p, "BYTES=%.*s", f.bytes.len, f.bytes.p,
                        "HTTP_REFERER=%.*s", f.referer.len, f.referer.p, "HTTP_USER_AGENT=%.*s",
                        f.agent.len, f.agent.p, NULL);
    return r < 0 ? r : 0;
}
