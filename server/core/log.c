/* log.c - the error log: one write per line, to stderr or a file, or a sink (the journal). */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The longest message kept; longer ones are cut. */
#define LOG_LINE_MAX 2000

static _Atomic int log_level = LOG_LVL_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static _Atomic bool log_journal_prefix = false;
static _Atomic(log_sink_fn) log_sink; /* NULL: no sink */

void log_set_sink(log_sink_fn sink) { atomic_store(&log_sink, sink); }

void log_set_level(enum log_level level) { atomic_store(&log_level, (int)level); }

enum log_level log_get_level(void) { return (enum log_level)atomic_load(&log_level); }

/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected to us. */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;

    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return false;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

int log_open(const char *path)
{
    int fd = STDERR_FILENO, old;

    if (path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -errno;
    }
    atomic_store(&log_journal_prefix, !path && stderr_is_journal());
    old = atomic_exchange(&log_fd, fd);
    if (old != STDERR_FILENO && old != fd)
        close(old);
    return 0;
}

static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_LVL_ERROR: return "error";
    case LOG_LVL_WARN: return "warning";
    case LOG_LVL_INFO: return "info";
    default: return "debug";
    }
}

/* Writes "prefix message\n" to the log fd in one write(2). */
static void log_write_line(enum log_level level, const char *msg, size_t len)
{
    char line[LOG_LINE_MAX + 64];
    int n;

    if (atomic_load(&log_journal_prefix))
        n = snprintf(line, sizeof line, "<%d>", (int)level);
    else
        n = snprintf(line, sizeof line, "cohttpd[%ld]: %s: ", (long)getpid(), level_name(level));
    if (n < 0)
        n = 0;
    memcpy(line + n, msg, len);
    n += (int)len;
    line[n++] = '\n';
    if (write(atomic_load(&log_fd), line, (size_t)n) < 0) {
        /* Nowhere left to report it. */
    }
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX];
    log_sink_fn sink = atomic_load(&log_sink);
    int m;

    if ((int)level > atomic_load(&log_level))
        return;
    m = vsnprintf(msg, sizeof msg, fmt, ap);
    if (m < 0)
        m = 0;
    if ((size_t)m >= sizeof msg)
        m = (int)sizeof msg - 1;
    if (sink && sink(level, msg, (size_t)m) == 0)
        return;
    log_write_line(level, msg, (size_t)m);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
