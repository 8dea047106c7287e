/* log.c - the error log: one write per line, to stderr or a file, or a sink (the journal);
 * repeated messages counted instead of written. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The longest message kept; longer ones are cut. */
#define LOG_LINE_MAX 2000

static _Atomic int log_level = LOG_LVL_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static _Atomic bool log_journal_prefix = false;
static _Atomic(log_sink_fn) log_sink; /* NULL: no sink */

/* Messages written recently, each with the identical ones that followed
 * it within the window and were counted instead. */
#define REPEAT_SLOTS    16
#define REPEAT_TEXT_MAX 512 /* a summary repeats at most this much of its message */

struct repeat {
    uint64_t hash; /* of the whole message; 0: free slot */
    size_t len;    /* of the whole message */
    enum log_level level;
    uint64_t since_ms;  /* when the message was written */
    unsigned long more; /* identical messages since then, not written */
    char text[REPEAT_TEXT_MAX];
};

static struct repeat repeats[REPEAT_SLOTS];
static pthread_mutex_t repeat_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned repeat_window_ms = LOG_REPEAT_WINDOW_MS;

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

/* One message to the sink, or to the fd when there is none or it failed. */
static void log_emit(enum log_level level, const char *msg, size_t len)
{
    log_sink_fn sink = atomic_load(&log_sink);

    if (sink && sink(level, msg, len) == 0)
        return;
    log_write_line(level, msg, len);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a, never 0 (0 marks a free slot). */
static uint64_t msg_hash(const char *msg, size_t len)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)msg[i]) * 1099511628211ULL;
    return h ? h : 1;
}

/* Writes how often slot's message came again unwritten (if it did) and
 * frees the slot. Under repeat_lock. */
static void repeat_close(struct repeat *slot, uint64_t now)
{
    if (slot->more > 0) {
        char line[REPEAT_TEXT_MAX + 96];
        uint64_t secs = (now - slot->since_ms + 999) / 1000;
        int keep = (int)(slot->len < REPEAT_TEXT_MAX ? slot->len : REPEAT_TEXT_MAX);
        int n = snprintf(line, sizeof line, "%.*s (repeated %lu more time%s in the last %llu s)",
                         keep, slot->text, slot->more, slot->more == 1 ? "" : "s",
                         (unsigned long long)(secs ? secs : 1));

        if (n > 0)
            log_emit(slot->level, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    slot->hash = 0;
}

/* Closes the windows that ended (all of them with all); returns the ms
 * until the next one with a count to write ends, or -1. Under repeat_lock. */
static int repeats_expire(uint64_t now, bool all)
{
    uint64_t window = atomic_load(&repeat_window_ms), next = UINT64_MAX;

    for (size_t i = 0; i < REPEAT_SLOTS; i++) {
        struct repeat *r = &repeats[i];

        if (!r->hash)
            continue;
        if (all || now - r->since_ms >= window)
            repeat_close(r, now);
        else if (r->more > 0 && r->since_ms + window - now < next)
            next = r->since_ms + window - now;
    }
    return next == UINT64_MAX ? -1 : next > INT32_MAX ? INT32_MAX : (int)next;
}

/* Is msg the repeat of one written within the window? Then it is counted
 * (true). Else it takes a slot (the oldest when all are taken) and is to be
 * written (false). Under repeat_lock. */
static bool repeat_seen(enum log_level level, const char *msg, size_t len, uint64_t now)
{
    uint64_t h = msg_hash(msg, len);
    size_t cmp = len < REPEAT_TEXT_MAX ? len : REPEAT_TEXT_MAX;
    struct repeat *slot = &repeats[0];

    for (size_t i = 0; i < REPEAT_SLOTS; i++) {
        struct repeat *r = &repeats[i];

        if (r->hash == h && r->len == len && r->level == level && memcmp(r->text, msg, cmp) == 0) {
            r->more++;
            return true;
        }
        if (slot->hash && (!r->hash || r->since_ms < slot->since_ms))
            slot = r;
    }
    if (slot->hash)
        repeat_close(slot, now);
    *slot = (struct repeat){.hash = h, .len = len, .level = level, .since_ms = now};
    memcpy(slot->text, msg, cmp);
    return false;
}

void log_set_repeat_window(unsigned ms) { atomic_store(&repeat_window_ms, ms); }

int log_flush_repeats(bool all)
{
    int next;

    pthread_mutex_lock(&repeat_lock);
    next = repeats_expire(mono_ms(), all);
    pthread_mutex_unlock(&repeat_lock);
    return next;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX];
    uint64_t now;
    int m;

    if ((int)level > atomic_load(&log_level))
        return;
    m = vsnprintf(msg, sizeof msg, fmt, ap);
    if (m < 0)
        m = 0;
    if ((size_t)m >= sizeof msg)
        m = (int)sizeof msg - 1;
    if (atomic_load(&repeat_window_ms) == 0) {
        log_emit(level, msg, (size_t)m);
        return;
    }
    now = mono_ms();
    pthread_mutex_lock(&repeat_lock);
    repeats_expire(now, false);
    if (!repeat_seen(level, msg, (size_t)m, now))
        log_emit(level, msg, (size_t)m);
    pthread_mutex_unlock(&repeat_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
