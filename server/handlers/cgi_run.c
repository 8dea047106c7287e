/* cgi_run.c - one script run: spawn, relay both ways, the header block, limits, the end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "handlers/cgi_env.h"
#include "handlers/cgi_head.h"
#include "handlers/cgi_internal.h"
#include "handlers/cgi_proc.h"
#include "handlers/compress_stream.h"
#include "http/status.h"

#ifndef COHTTPD_VERSION
#define COHTTPD_VERSION "unknown"
#endif

/* Bytes of the script's output held at once (the header block included). */
#define CGI_OUT_BUF (64 * 1024)
/* The longest stderr line logged (longer ones are cut). */
#define CGI_ERR_LINE 1024
/* After SIGTERM, how long a script has to exit before SIGKILL. */
#define CGI_KILL_GRACE_MS 2000
/* While only the script is waited for, how often the client is checked. */
#define CGI_CLIENT_CHECK_MS 250
/* stderr lines logged per worker: a burst of this many, then per second. */
#define CGI_LOG_BURST 50
#define CGI_LOG_RATE  10

enum { W_IN, W_OUT, W_ERR, W_PID, W_COUNT };

struct cgi_run {
    struct http_exchange *x;
    struct cgi_worker *w;
    struct cgi_script *script; /* owned by the run */
    const char *file;          /* script->file, for log lines */
    struct cgi_proc p;
    struct loop_watch watch[W_COUNT];
    bool watched[W_COUNT];
    bool ended;
    /* the request body on its way to stdin */
    const char *piece;
    size_t piece_len;
    bool body_end;
    bool need_body; /* the last body read found nothing yet */
    /* stdout on its way to the client */
    size_t olen, opos;
    bool out_eof, head_sent, discard, client_full;
    bool exited;
    bool nph;        /* an nph- script: its head goes to the client as written */
    int body_fd;     /* a chunked body collected before the start, or -1 */
    char *redirect;  /* a local Location without Status, or NULL */
    char *xsendfile; /* X-Sendfile's path (with x_sendfile on), or NULL */
    size_t xsendfile_len;
    bool xsendfile_on;    /* the route has x_sendfile */
    bool compress;        /* the route compresses responses */
    struct cstream *cs;   /* the body's compressor, or NULL */
    struct cgi_head head; /* the script's, once parsed (points into out) */
    size_t redirect_len;
    uint64_t started, active; /* loop ms: the start, the last bytes moved */
    uint64_t started_ns;      /* the loop's clock when the script started */
    unsigned long err_dropped;
    size_t elen;
    char err[CGI_ERR_LINE];
    char out[CGI_OUT_BUF];
};

/* ---- the end of a run ------------------------------------------------------ */

static int *watch_fd(struct cgi_run *r, int k)
{
    int *fds[W_COUNT] = {&r->p.in_fd, &r->p.out_fd, &r->p.err_fd, &r->p.pidfd};

    return fds[k];
}

/* Stops watching descriptor k and closes it. */
static void drop(struct cgi_run *r, int k)
{
    int *fd = watch_fd(r, k);

    if (r->watched[k])
        loop_watch_del(&r->watch[k]);
    r->watched[k] = false;
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Ends the script and frees what the run holds but its struct; loop: the
 * caller runs in the request's coroutine (see cgi_proc_end), NULL from a
 * cancelled one. The access log learns the script and its run time. */
static void run_release(struct cgi_run *r, struct loop *loop)
{
    if (r->ended)
        return;
    if (loop && r->started_ns)
        http_exchange_set_upstream(r->x, r->file,
                                   (int64_t)((loop_now_ns(loop) - r->started_ns) / 1000));
    for (int k = 0; k < W_PID; k++)
        drop(r, k);
    if (r->watched[W_PID]) /* the pidfd is cgi_proc_end's, to reap with */
        loop_watch_del(&r->watch[W_PID]);
    r->watched[W_PID] = false;
    if (r->started_ns)
        http_count_script(r->x, HTTP_SCRIPT_ENDED);
    cgi_proc_end(&r->p, loop);
    if (r->body_fd >= 0)
        close(r->body_fd);
    r->body_fd = -1;
    r->w->running--;
    if (r->err_dropped)
        log_warn("cgi %s: %lu stderr lines not logged (rate limit)", r->file, r->err_dropped);
    r->ended = true;
}

/* The request's cleanup: every path ends here, the coroutine's cancel too. */
static void cgi_run_end(void *data)
{
    struct cgi_run *r = data;

    run_release(r, NULL); /* already done unless the coroutine was cancelled */
    free(r->redirect);
    free(r->xsendfile);
    free(r->script);
    free(r);
}

/* ---- stderr ---------------------------------------------------------------- */

/* One stderr line to the error log, within the worker's rate. */
static void err_line(struct cgi_run *r, const char *line, size_t len)
{
    struct cgi_worker *w = r->w;
    uint64_t now = loop_now(r->x->loop);
    uint64_t refill = (now - w->log_tokens_at) * CGI_LOG_RATE / 1000;

    if (refill > 0) {
        w->log_tokens = (unsigned)(w->log_tokens + refill > CGI_LOG_BURST ? CGI_LOG_BURST
                                                                          : w->log_tokens + refill);
        w->log_tokens_at = now;
    }
    if (w->log_tokens == 0) {
        r->err_dropped++;
        return;
    }
    w->log_tokens--;
    if (len > 0)
        log_warn("cgi %s: %.*s", r->file, (int)len, line);
}

/* Reads what stderr holds and logs its complete lines. True on progress. */
static bool step_err(struct cgi_run *r)
{
    ssize_t n;
    char *nl;

    if (r->p.err_fd < 0)
        return false;
    n = co_read_nowait(&r->watch[W_ERR], r->err + r->elen, sizeof r->err - r->elen);
    if (n == -EAGAIN)
        return false;
    if (n <= 0) {
        if (r->elen)
            err_line(r, r->err, r->elen);
        r->elen = 0;
        drop(r, W_ERR);
        return true;
    }
    r->elen += (size_t)n;
    while ((nl = memchr(r->err, '\n', r->elen))) {
        size_t len = (size_t)(nl - r->err);

        err_line(r, r->err, len);
        memmove(r->err, nl + 1, r->elen - len - 1);
        r->elen -= len + 1;
    }
    if (r->elen == sizeof r->err) {
        err_line(r, r->err, r->elen);
        r->elen = 0;
    }
    return true;
}

/* ---- the request body to stdin --------------------------------------------- */

/* Moves body bytes to the script's stdin. True on progress; -errno when
 * the body failed (http_body_status says what it deserves). */
static int step_body(struct cgi_run *r)
{
    ssize_t n;

    r->need_body = false;
    if (r->p.in_fd < 0)
        return 0;
    if (r->piece_len == 0 && !r->body_end) {
        n = http_body_read_nowait(r->x, &r->piece);
        if (n == -EAGAIN) {
            r->need_body = true;
            return 0;
        }
        if (n < 0)
            return (int)n;
        r->piece_len = (size_t)n;
        r->body_end = n == 0;
    }
    if (r->piece_len == 0) { /* the whole body is the script's: EOF */
        drop(r, W_IN);
        return 1;
    }
    n = co_write_nowait(&r->watch[W_IN], r->piece, r->piece_len);
    if (n == -EAGAIN)
        return 0;
    if (n < 0) { /* the script closed its stdin: it wants no more */
        r->body_end = true;
        r->piece_len = 0;
        drop(r, W_IN);
        return 1;
    }
    r->piece += n;
    r->piece_len -= (size_t)n;
    r->active = loop_now(r->x->loop); /* a script waiting for its input is not idle */
    return 1;
}

/* ---- the header block ------------------------------------------------------ */

/* Answers 502 for a script whose header block is wrong. */
static void bad_gateway(struct cgi_run *r, const char *why)
{
    log_warn("cgi %s: %s", r->file, why);
    http_resp_error(r->x, 502, NULL);
}

/* The status a parsed block gives. */
static int head_status(const struct cgi_head *h)
{
    if (h->status)
        return h->status;
    return h->location ? 302 : 200;
}

/* What h says for compressing the response (compress_stream.h). */
static void cgi_head_coding(const struct cgi_head *h, int status, struct cstream_head *ch)
{
    *ch = (struct cstream_head){.status = status};
    for (size_t i = 0; i < h->n_fields; i++) {
        const struct cgi_field *f = &h->fields[i];

        if (f->name_len == 12 && strncasecmp(f->name, "Content-Type", 12) == 0) {
            ch->type = f->value;
            ch->type_len = f->value_len;
        }
        ch->has_encoding |= f->name_len == 16 && strncasecmp(f->name, "Content-Encoding", 16) == 0;
        ch->has_range |= f->name_len == 13 && strncasecmp(f->name, "Content-Range", 13) == 0;
    }
}

/* Sends the response head for h. 0 or -errno. */
static int send_head(struct cgi_run *r, const struct cgi_head *h)
{
    struct http_exchange *x = r->x;
    int status = head_status(h), e;
    struct cstream_head ch;

    if ((e = http_resp_begin(x, status)) < 0)
        return e;
    cgi_head_coding(h, status, &ch);
    r->cs = cstream_open(x, r->compress, &ch);
    for (size_t i = 0; i < h->n_fields; i++)
        cstream_header(r->cs, x, h->fields[i].name, h->fields[i].name_len, h->fields[i].value,
                       h->fields[i].value_len);
    cstream_coding_headers(r->cs, x);
    if (h->location)
        http_resp_header(x, "Location", 8, h->location, h->location_len);
    r->head_sent = true;
    if (status == 204 || status == 304) {
        r->discard = true; /* no body may follow */
        return http_resp_body(x, NULL, 0);
    }
    return http_resp_stream(x, r->cs ? -1 : h->content_length);
}

/* An nph- script's head: a status line and fields ending in an empty line,
 * CRLF each, which the engine checks and frames (http_resp_raw). 1 when
 * it went out, 0 while more is needed, -EPROTO after a 502, -errno. */
static int take_raw_head(struct cgi_run *r, size_t max)
{
    const char *end = memmem(r->out, r->olen < max ? r->olen : max, "\r\n\r\n", 4);
    int e;

    if (!end) {
        if (r->olen >= max || r->out_eof) {
            bad_gateway(r, r->out_eof ? "the script ended before its head did"
                                      : "the head is too large");
            return -EPROTO;
        }
        return 0;
    }
    r->opos = (size_t)(end + 4 - r->out);
    e = http_resp_raw(r->x, r->out, r->opos);
    if (e == -EBADMSG) {
        log_warn("cgi %s: an invalid nph head (answered 502)", r->file);
        return -EPROTO;
    }
    r->head_sent = e == 0;
    return e < 0 ? e : 1;
}

/* True when h holds X-Sendfile: its value is kept in r->xsendfile (NULL
 * when memory is short). */
static bool take_xsendfile(struct cgi_run *r, const struct cgi_head *h)
{
    for (size_t i = 0; i < h->n_fields; i++) {
        const struct cgi_field *f = &h->fields[i];

        if (f->name_len == 10 && strncasecmp(f->name, "X-Sendfile", 10) == 0) {
            r->xsendfile = strndup(f->value, f->value_len);
            r->xsendfile_len = f->value_len;
            return true;
        }
    }
    return false;
}

/* Parses the header block in r->out once it is complete. 1 when the head
 * went out, 0 while more is needed, -EPROTO after a 502, -errno. */
static int take_head(struct cgi_run *r)
{
    size_t max = r->x->site->limits.max_header_size;
    const char *why = NULL;
    struct cgi_head *h = &r->head;
    int n;

    if (max > CGI_OUT_BUF)
        max = CGI_OUT_BUF;
    if (r->nph)
        return take_raw_head(r, max);
    n = cgi_head_parse(r->out, r->olen, max, h, &why);
    if (n == 0 && r->out_eof) {
        why = "the script ended before its header block did";
        n = -EBADMSG;
    }
    if (n < 0) {
        bad_gateway(r, why);
        return -EPROTO;
    }
    if (n > 0 && r->xsendfile_on && take_xsendfile(r, h))
        return r->xsendfile ? -EXDEV : -ENOMEM; /* the relay stops; cgi_run serves the file */
    if (n > 0 && cgi_head_location_local(h) && !h->status) {
        r->redirect = strndup(h->location, h->location_len);
        r->redirect_len = h->location_len;
        return r->redirect ? -EXDEV : -ENOMEM; /* the relay stops; cgi_run redirects */
    }
    if (n > 0) {
        r->opos = (size_t)n;
        n = send_head(r, h);
        n = n < 0 ? n : 1;
    }
    return n;
}

/* ---- stdout to the client -------------------------------------------------- */

/* Reads the script's output while there is room. True on progress. */
static bool read_out(struct cgi_run *r)
{
    ssize_t n;

    if (r->opos == r->olen && r->head_sent)
        r->opos = r->olen = 0;
    if (r->opos > 0 && r->olen == CGI_OUT_BUF) {
        memmove(r->out, r->out + r->opos, r->olen - r->opos);
        r->olen -= r->opos;
        r->opos = 0;
    }
    if (r->out_eof || r->olen == CGI_OUT_BUF)
        return false;
    n = co_read_nowait(&r->watch[W_OUT], r->out + r->olen, CGI_OUT_BUF - r->olen);
    if (n == -EAGAIN)
        return false;
    if (n <= 0) {
        r->out_eof = true;
        drop(r, W_OUT);
        return true;
    }
    r->olen += (size_t)n;
    r->active = loop_now(r->x->loop);
    return true;
}

/* Moves output to the client: the head once complete, then the body.
 * Returns 1 on progress, 0 when blocked, < 0 when the run must stop
 * (-EPROTO: a 502 was sent; -errno: the client is gone). */
static int step_out(struct cgi_run *r)
{
    int progress = read_out(r), e;
    ssize_t n;

    if (!r->head_sent) {
        if (r->olen == 0 && !r->out_eof)
            return progress;
        if ((e = take_head(r)) <= 0)
            return e < 0 ? e : progress;
        progress = 1;
    }
    r->client_full = false;
    if (r->opos == r->olen)
        return progress;
    if (r->discard) {
        r->opos = r->olen;
        return 1;
    }
    n = cstream_write_nowait(r->cs, r->x, r->out + r->opos, r->olen - r->opos);
    if (n == -EAGAIN) {
        r->client_full = true;
        return progress;
    }
    if (n < 0) {
        if (n == -EMSGSIZE)
            log_warn("cgi %s: more output than its Content-Length", r->file);
        return (int)n;
    }
    r->opos += (size_t)n;
    r->active = loop_now(r->x->loop);
    return 1;
}

/* ---- waiting --------------------------------------------------------------- */

/* True once the pidfd says the script exited (the watch starts out
 * "ready", so the kernel is asked). */
static bool step_exit(struct cgi_run *r)
{
    struct pollfd pfd = {.fd = r->p.pidfd, .events = POLLIN};

    if (r->exited || !(r->watch[W_PID].ready & (LOOP_READ | LOOP_HUP)))
        return false;
    if (poll(&pfd, 1, 0) == 1) {
        r->exited = true;
        drop(r, W_PID);
        return true;
    }
    r->watch[W_PID].ready &= ~(uint32_t)(LOOP_READ | LOOP_WRITE | LOOP_HUP);
    return false;
}

/* The deadline of the next wait: the run's end, the idle limit, and a
 * look at the client now and then when only the script is waited for. */
static uint64_t wait_deadline(const struct cgi_run *r, const struct cgi_conf *conf, bool client)
{
    uint64_t total = r->started + conf->timeout_ms, idle = r->active + conf->idle_timeout_ms;
    uint64_t d = total < idle ? total : idle;
    uint64_t check = loop_now(r->x->loop) + CGI_CLIENT_CHECK_MS;

    return !client && check < d ? check : d;
}

/* Waits for the next thing to do. 0, -ETIMEDOUT (a limit passed),
 * -ECONNRESET (the client left), or -errno. */
static int wait_next(struct cgi_run *r, const struct cgi_conf *conf)
{
    struct loop_watch *ws[W_COUNT];
    uint32_t ev[W_COUNT], client = 0;
    size_t n = 0;
    uint64_t deadline;
    int e;

    if (r->need_body)
        client |= LOOP_READ;
    if (r->client_full)
        client |= LOOP_WRITE;
    if (r->p.in_fd >= 0 && r->piece_len > 0)
        ws[n] = &r->watch[W_IN], ev[n++] = LOOP_WRITE;
    if (r->p.out_fd >= 0 && r->olen < CGI_OUT_BUF)
        ws[n] = &r->watch[W_OUT], ev[n++] = LOOP_READ;
    if (r->p.err_fd >= 0)
        ws[n] = &r->watch[W_ERR], ev[n++] = LOOP_READ;
    if (r->p.pidfd >= 0 && !r->exited)
        ws[n] = &r->watch[W_PID], ev[n++] = LOOP_READ;
    deadline = wait_deadline(r, conf, client != 0);
    e = http_poll(r->x, client, ws, ev, n, deadline);
    if (e != -ETIMEDOUT)
        return e < 0 ? e : 0;
    if (loop_now(r->x->loop) >= wait_deadline(r, conf, true))
        return -ETIMEDOUT;
    return http_client_gone(r->x) ? -ECONNRESET : 0;
}

/* SIGTERM to the group, 504 when nothing was answered, then a grace for
 * the script to exit (the cleanup sends SIGKILL after it). */
static void terminate(struct cgi_run *r, bool answer)
{
    struct loop_watch *pid = &r->watch[W_PID];
    uint32_t ev = LOOP_READ;
    uint64_t until;

    cgi_proc_signal(&r->p, SIGTERM);
    if (answer && !r->head_sent)
        http_resp_error(r->x, 504, NULL);
    until = loop_now(r->x->loop) + CGI_KILL_GRACE_MS;
    while (!r->exited && r->p.pidfd >= 0 && loop_now(r->x->loop) < until) {
        if (step_exit(r))
            break;
        if (co_poll(&pid, &ev, 1, until) < 0)
            break;
    }
}

/* ---- the relay ------------------------------------------------------------- */

/* True when the script's answer is complete: its stdout ended, and all of
 * it went to the client. */
static bool relay_done(const struct cgi_run *r)
{
    return r->out_eof && r->head_sent && r->opos == r->olen;
}

/* Moves bytes both ways until the script's output ends. 0, or what ended
 * the run: -EPROTO (answered with 502), -EXDEV (a local redirect: nothing
 * sent), -ETIMEDOUT, -ECONNRESET, -errno. */
static int relay(struct cgi_run *r, const struct cgi_conf *conf)
{
    int e, progress;

    for (;;) {
        progress = step_err(r);
        if ((e = step_body(r)) < 0)
            return e;
        progress |= e;
        if ((e = step_out(r)) < 0)
            return e;
        progress |= e | step_exit(r);
        if (relay_done(r))
            return 0;
        if (!progress && (e = wait_next(r, conf)) < 0)
            return e;
    }
}

/* Ends the response after the relay stopped with e. */
static void relay_end(struct cgi_run *r, const struct cgi_conf *conf, int e)
{
    int status;

    if (e == -EXDEV)
        return; /* a local redirect: the script is ended, and cgi_run goes on */
    if (e == 0) {
        if (!r->discard && cstream_finish(r->cs, r->x) == -EMSGSIZE)
            log_warn("cgi %s: less output than its Content-Length", r->file);
        return;
    }
    if (e == -ETIMEDOUT) {
        log_warn("cgi %s: no %s within %llu ms", r->file, r->head_sent ? "output" : "answer",
                 (unsigned long long)(loop_now(r->x->loop) - r->started >= conf->timeout_ms
                                          ? conf->timeout_ms
                                          : conf->idle_timeout_ms));
        http_count_script(r->x, HTTP_SCRIPT_KILLED_TIMEOUT);
        terminate(r, true);
    } else if (e == -EPROTO) {
        terminate(r, false);
    } else if ((status = http_body_status(r->x)) != 0 && !r->head_sent) {
        terminate(r, false);
        http_resp_error(r->x, status, NULL);
    } else {
        terminate(r, false); /* the client left, or its connection failed */
        http_count_script(r->x, HTTP_SCRIPT_KILLED_GONE);
        http_resp_client_gone(r->x);
    }
}

/* ---- starting a run -------------------------------------------------------- */

/* 503 with Retry-After: this worker runs max_scripts already. */
static void busy(struct http_exchange *x)
{
    size_t len;
    const char *body = http_status_body(503, &len);

    if (http_resp_begin(x, 503) < 0)
        return;
    http_resp_header(x, "Retry-After", 11, "1", 1);
    http_resp_header(x, "Content-Type", 12, "text/plain; charset=utf-8", 25);
    http_resp_body(x, body, len);
}

/* Fills in from the request, the route and the script. */
static void env_input(struct cgi_env_in *in, struct http_exchange *x, const struct cgi_route *route,
                      const struct cgi_script *s, size_t rest_len,
                      const struct sockaddr_storage *local, int64_t content_length)
{
    const struct cgi_conf *conf = route->conf;
    size_t path_info_len = rest_len - s->name_len;

    *in = (struct cgi_env_in){
        .req = x->req,
        .script_name = x->path,
        .script_name_len = x->path_len - path_info_len,
        .path_info = x->path + x->path_len - path_info_len,
        .path_info_len = path_info_len,
        .script_filename = s->file,
        .document_root = conf->root,
        .peer = x->client,
        .local = (const struct sockaddr *)local,
        .content_length = content_length,
        .server_software = "cohttpd/" COHTTPD_VERSION,
        .path = getenv("PATH"),
        .extra = conf->env,
        .n_extra = conf->n_env,
        .remote_user = x->auth_user,
    };
}

/* Builds the environment and spawns the script into r->p, its stdin the
 * request body (a pipe, the collected body, or nothing). 0 or minus a
 * status to answer (400, 403, 500, 503). */
static int start(struct cgi_run *r, const struct cgi_route *route, const struct cgi_script *s,
                 size_t rest_len, int64_t content_length)
{
    struct http_exchange *x = r->x;
    struct sockaddr_storage local;
    struct cgi_env_in in;
    size_t slots = cgi_env_slots(x->req, route->conf->n_env), extra = 0, cap;
    char **envp, *buf, dir[sizeof s->file];
    int e;

    memset(&local, 0, sizeof local);
    http_local_addr(x, &local);
    env_input(&in, x, route, s, rest_len, &local, content_length);
    for (size_t i = 0; i < route->conf->n_env; i++)
        extra += strlen(route->conf->env[i]) + 1;
    cap = cgi_env_bound(x->req, extra, strlen(s->file) + x->path_len + strlen(route->conf->root));
    envp = malloc(slots * sizeof *envp + cap);
    if (!envp)
        return -503;
    buf = (char *)(envp + slots);
    e = cgi_env_build(&in, buf, cap, envp, slots);
    if (e == -EPROTO) {
        log_info("cgi %s: two request header names map to one variable", s->file);
        free(envp);
        return -400;
    }
    memcpy(dir, s->file, s->dir_len);
    dir[s->dir_len] = '\0';
    e = e < 0 ? e
              : cgi_proc_spawn(&r->p, s->file, dir, envp,
                               r->body_fd >= 0              ? r->body_fd
                               : x->req->content_length > 0 ? CGI_STDIN_PIPE
                                                            : CGI_STDIN_NULL);
    free(envp);
    if (e < 0)
        log_warn("cgi %s: cannot start it: %s", s->file, strerror(-e));
    if (e == -EACCES || e == -ENOEXEC)
        return -403;
    return e == -EMFILE || e == -ENFILE || e == -EAGAIN || e == -ENOMEM ? -503 : e < 0 ? -500 : 0;
}

/* Reads a chunked request body to its end into an unlinked temporary
 * file (max_body_size bounds it), so that the script learns its
 * CONTENT_LENGTH. Returns 0 with its length in *len (r->body_fd at offset
 * 0), a status to answer, or -1 when the client is gone. May yield. */
static int collect_body(struct cgi_run *r, int64_t *len)
{
    const char *tmp = getenv("TMPDIR"), *data;
    ssize_t n;

    *len = 0;
    r->body_fd = open(tmp && *tmp ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (r->body_fd < 0) {
        log_error("cgi: cannot make a temporary file for a request body: %s", strerror(errno));
        return 503;
    }
    while ((n = http_body_read(r->x, &data)) > 0) {
        for (ssize_t off = 0, w; off < n; off += w) {
            w = write(r->body_fd, data + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR) {
                log_error("cgi: cannot keep a request body: %s", strerror(errno));
                return 503;
            }
            w = w < 0 ? 0 : w;
        }
        *len += n;
    }
    if (n < 0)
        return http_body_status(r->x) ? http_body_status(r->x) : -1;
    return lseek(r->body_fd, 0, SEEK_SET) < 0 ? 500 : 0;
}

/* Registers the run's descriptors with the loop. 0 or -errno. */
static int watch_all(struct cgi_run *r)
{
    for (int k = 0; k < W_COUNT; k++) {
        int fd = *watch_fd(r, k), e;

        if (fd < 0)
            continue;
        r->watch[k] = (struct loop_watch){.fd = fd};
        if ((e = loop_watch_add(r->x->loop, &r->watch[k])) < 0)
            return e;
        r->watched[k] = true;
    }
    return 0;
}

void cgi_run(struct http_exchange *x, const struct cgi_route *route, struct cgi_worker *w,
             struct cgi_script *s, const char *rest, size_t rest_len)
{
    struct cgi_run *r;
    int64_t length;
    int e;

    (void)rest;
    if (w->running >= route->conf->max_scripts) {
        free(s);
        busy(x);
        return;
    }
    r = calloc(1, sizeof *r);
    if (!r || http_exchange_defer(x, cgi_run_end, r) < 0) {
        free(r);
        free(s);
        http_resp_error(x, 503, NULL);
        return;
    }
    *r = (struct cgi_run){.x = x, .w = w, .body_fd = -1};
    r->script = s;
    r->file = s->file;
    r->nph = strncmp(strrchr(s->file, '/') + 1, "nph-", 4) == 0;
    r->xsendfile_on = route->xs_root != NULL;
    r->compress = route->conf->compress;
    r->p = (struct cgi_proc){.pidfd = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1};
    w->running++;
    length = x->req->content_length > 0 ? x->req->content_length : -1;
    if (x->req->chunked && (e = collect_body(r, &length)) != 0) {
        if (e > 0)
            http_resp_error(x, e, NULL);
        else
            http_resp_client_gone(x);
        return;
    }
    e = start(r, route, s, rest_len, length);
    if (r->body_fd >= 0)
        close(r->body_fd);
    r->body_fd = -1;
    if (e < 0) {
        http_resp_error(x, -e, NULL);
        return;
    }
    r->started = r->active = loop_now(x->loop);
    r->started_ns = loop_now_ns(x->loop);
    http_count_script(x, HTTP_SCRIPT_STARTED);
    if ((e = watch_all(r)) < 0 || (e = http_body_claim(x)) < 0)
        http_resp_error(x, 503, NULL);
    else
        relay_end(r, route->conf, relay(r, route->conf));
    run_release(r, x->loop);
    if (r->redirect)
        cgi_redirect(x, w, r->file, r->redirect, r->redirect_len);
    else if (r->xsendfile)
        cgi_xsendfile(x, route, w, r->file, r->xsendfile, r->xsendfile_len);
}
