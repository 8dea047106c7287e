/* harness.h - runs the real cohttpd for integration tests and talks to it. */
#ifndef COHTTPD_TESTS_HARNESS_H
#define COHTTPD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The longest the harness waits for something the daemon owes (starting,
 * stopping, the first byte of an answer): generous, since every such wait
 * ends as soon as the event comes, and a loaded machine is slow. */
#define HARNESS_WAIT_MS 30000

/* A running daemon with its own temporary directory. */
struct daemon {
    pid_t pid;
    unsigned port;    /* the TCP port it listens on (127.0.0.1) */
    char dir[256];    /* temporary directory: config, site, logs */
    char root[300];   /* dir/www: the default static root */
    char config[300]; /* dir/cohttpd.ini */
    char log[300];    /* dir/stderr.log: everything the daemon wrote to stderr */
};

/*
 * Makes a temporary directory with an empty site in dir/www, writes
 * dir/cohttpd.ini with `ini` (printf-style; "%ROOT%" stands for dir/www),
 * prepended with "[server]\nlisten = 127.0.0.1:0\n" unless ini has its own
 * [server] section first, and starts build/cohttpd -c on it. Waits until it
 * logs "serving on" and reads the port from that line. Fails the test,
 * with the daemon's stderr, if it does not start within HARNESS_WAIT_MS.
 */
void daemon_start(struct daemon *d, const char *ini);

/* Like daemon_start, with the daemon binary at bin (cohttpd_test_bin() for
 * the test kinds). */
void daemon_start_bin(struct daemon *d, const char *bin, const char *ini);

/* The second half of daemon_start_bin: starts bin on a directory that
 * daemon_prepare made (and the caller filled, e.g. with the directories
 * its config names) and waits until it serves, as daemon_start does. */
void daemon_start_prepared(struct daemon *d, const char *bin);
/* daemon_prepare, then an empty directory rel below the site root (a CGI
 * route's root, say), then daemon_start_prepared with the shipped binary. */
void daemon_start_with_dir(struct daemon *d, const char *ini, const char *rel);

/* Like daemon_start but only prepares dir and the config: the caller runs
 * the daemon (for command-line tests). */
void daemon_prepare(struct daemon *d, const char *ini);

/* Starts build/cohttpd -c d->config with its stderr in d->log; sets d->pid
 * and returns at once (the caller waits for what it needs). */
void daemon_spawn(struct daemon *d);

/* Sends SIGTERM and waits (HARNESS_WAIT_MS at most, then SIGKILL);
 * returns the exit status (the code, or 128 + signal; 255 when it had to
 * be killed). Removes the temporary directory. */
int daemon_stop(struct daemon *d);

/* Writes a file below d->root (creating directories) with len bytes. */
void site_write(const struct daemon *d, const char *rel, const void *data, size_t len);

/* site_write of text, then made executable (a CGI script). */
void site_write_script(const struct daemon *d, const char *rel, const char *text);

/* A response as the curl CLI saw it (curl_fetch). */
struct curl_got {
    int status;      /* the status, or -1 when curl failed */
    char head[4096]; /* the response head (curl -D), truncated to fit */
    char body[8192]; /* the body, truncated to fit */
};

/* Runs curl with extra arguments args (shell words) on
 * http://127.0.0.1:d->port/path into g; the head and body go through files
 * in d->dir. Returns g->status. */
int curl_fetch(const struct daemon *d, const char *args, const char *path, struct curl_got *g);

/* Kills the daemon (SIGKILL) and removes its directory, for a suite's fini
 * after a failed test; harmless when daemon_stop already ran. The process
 * groups its children lead (CGI scripts) are killed first, so that a
 * failing test leaves no script behind. */
void daemon_kill(struct daemon *d);

/* CLOCK_MONOTONIC in milliseconds. */
long now_ms(void);

/* The whole file at path (malloc'd, NUL-terminated), or "" when missing. */
char *file_slurp(const char *path);

/*
 * fork(2) for every process a test starts (the daemon, a shell, strace):
 * the child gets PR_SET_PDEATHSIG(SIGKILL), so the kernel kills it when the
 * calling thread's process ends, however it ends (an assertion that fails
 * in a suite's init, a crash, Criterion's timeout); a child whose parent is
 * already gone exits at once. Call it from the test's own thread (the
 * signal follows the thread that forked). Returns 0 in the child and the
 * pid in the parent; fails the test when fork fails. A child that changes
 * its user or group ids loses the signal (the kernel clears it): tests
 * that make the daemon drop privileges keep their own fini cleanup too.
 */
pid_t harness_fork(void);

/* Waits until the file at path holds needle (rereading it every 10 ms);
 * false when it does not after ms. */
bool file_wait_for(const char *path, const char *needle, long ms);

/* Path of the cohttpd binary under test ($COHTTPD_BIN, else the build's). */
const char *cohttpd_bin(void);

/* Path of the test build of the daemon, with the test route kind [echo]
 * ($COHTTPD_TEST_BIN, else the build's cohttpd-test). */
const char *cohttpd_test_bin(void);

/* Opens a TCP connection to 127.0.0.1:port (blocking, with send and
 * receive timeouts of HARNESS_WAIT_MS). */
int tcp_connect(unsigned port);

/*
 * Sends req[0..len) on a new connection, half-closes nothing, waits up to
 * HARNESS_WAIT_MS (or wait_ms when longer) for the answer to begin, and
 * reads it until the server closes or `wait_ms` passes without data. Returns
 * a malloc'd NUL-terminated buffer (caller frees) and its length in *out_len.
 * *closed tells whether the server closed the connection.
 */
char *raw_exchange(unsigned port, const void *req, size_t len, int wait_ms, size_t *out_len,
                   bool *closed);

/* Reads from fd until the peer closes or wait_ms passes without data. */
char *read_until_idle(int fd, int wait_ms, size_t *out_len, bool *closed);

/* The status code of the first response in buf, or -1. */
int response_status(const char *buf);

/* Number of responses ("HTTP/1.1 " at a line start) in buf. */
int response_count(const char *buf, size_t len);

/* The value of header name in the first response (case-insensitive), or
 * NULL; copies at most cap-1 bytes to out. */
const char *response_header(const char *buf, const char *name, char *out, size_t cap);

/* Number of complete responses (head plus Content-Length body) at the
 * start of buf; head_only: responses to HEAD (no bodies). */
int responses_complete(const char *buf, size_t len, bool head_only);

/* Reads from fd until n complete responses arrived, the peer closed, or
 * wait_ms passed. Returns a malloc'd NUL-terminated buffer. */
char *read_responses(int fd, int n, int wait_ms, size_t *out_len);

/* Like read_responses; head_only: the responses answer HEAD (no bodies). */
char *read_responses_to(int fd, int n, bool head_only, int wait_ms, size_t *out_len);

/* Runs a shell command (through harness_fork) and returns its exit status;
 * its stdout (up to cap bytes) goes to out when out is not NULL. A command
 * that may keep running, such as the daemon, starts with "exec" so that the
 * parent-death signal reaches it (/bin/sh does not exec it by itself). */
int run_cmd(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Resident set size of a process in KiB (from /proc/PID/status). */
long proc_rss_kib(pid_t pid);

/* Sends all of buf[0..len) on fd; false when the peer stopped taking it
 * (it may close early on bad input). */
bool tcp_send_all(int fd, const void *buf, size_t len);

/* Reads and drops what fd receives until the peer closes (true) or wait_ms
 * pass without any data (false). */
bool wait_closed(int fd, int wait_ms);

/* The body of the first response in buf[0..len) (after its blank line), or
 * NULL when the head is incomplete; *body_len gets the bytes after the head
 * up to its Content-Length (or to len when it has none). */
const char *response_body(const char *buf, size_t len, size_t *body_len);

/* Starts `strace -f` on every thread of pid, recording the syscalls of
 * `syscalls` (a -e trace= list) to the file out, and waits until it is
 * attached to all of them. Returns strace's pid, or 0 when strace is not
 * installed or cannot attach (ptrace refused): the caller skips its check. */
pid_t strace_attach(pid_t pid, const char *syscalls, const char *out);

/* Detaches strace (SIGINT) and waits until it has written its file. */
void strace_detach(pid_t tracer);

/* Reads from fd into buf (NUL-terminated, *len bytes held so far, cap
 * bytes of room) until it holds needle, the peer closes, or wait_ms pass.
 * True when needle arrived. */
bool tcp_read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle, int wait_ms);

/* A listening TCP socket on 127.0.0.1 and an ephemeral port (in *port),
 * for a test that plays a server itself. */
int tcp_listen(unsigned *port);

/* Accepts one connection on lfd within wait_ms; -1 when none came. */
int tcp_accept(int lfd, int wait_ms);

/* Waits (wait_ms at most) until the server end of fd, a TCP connection to
 * 127.0.0.1 that the server has accepted (it began to answer, say), is
 * closed by its process: in /proc/net/tcp it has no socket inode any more
 * (what the kernel still sends for it is owned by no one) or is gone. True
 * when it closed. Reads nothing from fd, so it tells a daemon that gave up
 * on a client that does not read from one still writing to it. */
bool tcp_server_closed(int fd, int wait_ms);

#endif
