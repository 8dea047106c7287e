/* status.c - the status handler: counters as JSON or Prometheus text, and its allow list. */
#include "handlers/status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/cidr.h"
#include "http/server.h"

/* The most CIDRs one allow list holds. */
#define STATUS_MAX_ALLOW 32

struct status_conf {
    struct cidr allow[STATUS_MAX_ALLOW];
    size_t n_allow;
};

/* The totals of every worker. */
struct totals {
    struct http_view_worker w;
    uint64_t idle;
};

/* ---- addresses ----------------------------------------------------------- */

/* True when the client of x (the real client behind a trusted proxy) may
 * read the page. */
static bool status_allowed(const struct status_conf *conf, const struct http_exchange *x)
{
    const struct sockaddr *sa = x->client;
    unsigned char addr[16];

    if (!sa || sa->sa_family == AF_UNIX)
        return true; /* a local socket: its file's permissions decide */
    if (!cidr_addr_of(sa, addr))
        return false;
    return cidr_match_any(conf->allow, conf->n_allow, addr);
}

/* ---- the counters, summed ------------------------------------------------ */

static void totals_add(struct totals *t, const struct http_view_worker *w)
{
    t->w.http.connections_total += w->http.connections_total;
    t->w.http.connections_open += w->http.connections_open;
    t->w.http.requests += w->http.requests;
    for (size_t i = 0; i < 6; i++)
        t->w.http.status_class[i] += w->http.status_class[i];
    t->w.http.bytes_out += w->http.bytes_out;
    t->w.http.bytes_in += w->http.bytes_in;
    t->w.http.conns_reading += w->http.conns_reading;
    t->w.http.conns_writing += w->http.conns_writing;
    for (size_t i = 0; i < HTTP_DURATION_BUCKETS; i++)
        t->w.http.duration[i] += w->http.duration[i];
    t->w.http.duration_sum_us += w->http.duration_sum_us;
    t->w.http.file_cache_hits += w->http.file_cache_hits;
    t->w.http.file_cache_misses += w->http.file_cache_misses;
    t->w.http.scripts_running += w->http.scripts_running;
    t->w.http.scripts_killed_timeout += w->http.scripts_killed_timeout;
    t->w.http.scripts_killed_gone += w->http.scripts_killed_gone;
    t->w.accept_refused += w->accept_refused;
    t->w.accept_pauses += w->accept_pauses;
}

static void totals_of(const struct http_view *v, struct totals *t)
{
    uint64_t busy;

    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < v->n_workers; i++)
        totals_add(t, &v->workers[i]);
    /* Counters read one by one: a connection may be seen in two places. */
    busy = t->w.http.conns_reading + t->w.http.conns_writing;
    t->idle = t->w.http.connections_open > busy ? t->w.http.connections_open - busy : 0;
}

static double busy_ratio(const struct http_view_worker *w)
{
    uint64_t all = w->loop_busy_ns + w->loop_idle_ns;

    return all ? (double)w->loop_busy_ns / (double)all : 0.0;
}

/* Writes name[0..len) quoted for JSON or a Prometheus label (the same
 * escapes: backslash, double quote, and control bytes). */
static void put_quoted(FILE *out, const char *name, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];

        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", out);
        else if (ch < 0x20)
            fputc(' ', out);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static const char *const class_names[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

/* ---- JSON ---------------------------------------------------------------- */

/* The upstreams of route r (its kind's handler_kind.upstreams) into
 * out[0..HANDLER_MAX_UPSTREAMS); 0 for kinds without upstreams. */
static size_t route_upstreams(const struct http_view_route *r, struct handler_upstream *out)
{
    const struct handler_kind *kind = r->kind;

    if (!kind || !kind->upstreams || !r->state)
        return 0;
    return kind->upstreams(r->state, out, HANDLER_MAX_UPSTREAMS);
}

/* "upstreams":{"proxy /api/":[{"address":..., "state":"up", ...}, ...]}, */
static void json_upstreams(FILE *out, const struct http_view *v)
{
    struct handler_upstream u[HANDLER_MAX_UPSTREAMS];
    bool first = true;

    fputs("\"upstreams\":{", out);
    for (size_t i = 0; i < v->n_routes; i++) {
        size_t n = route_upstreams(&v->routes[i], u);

        if (n == 0)
            continue;
        fputs(first ? "" : ",", out);
        first = false;
        put_quoted(out, v->routes[i].name, v->routes[i].name_len);
        fputs(":[", out);
        for (size_t j = 0; j < n; j++) {
            fputs(j ? ",{\"address\":" : "{\"address\":", out);
            put_quoted(out, u[j].address, strlen(u[j].address));
            fprintf(out,
                    ",\"state\":\"%s\",\"failures\":%llu,\"retries\":%llu,\"active\":%u,"
                    "\"idle\":%u}",
                    u[j].up ? "up" : "down", (unsigned long long)u[j].failures,
                    (unsigned long long)u[j].retries, u[j].active, u[j].idle);
        }
        fputc(']', out);
    }
    fputs("},", out);
}

static void json_duration(FILE *out, const struct totals *t)
{
    uint64_t cumulative = 0;

    fputs("\"duration_us\":{\"buckets\":[", out);
    for (size_t i = 0; i < HTTP_DURATION_BUCKETS; i++) {
        cumulative += t->w.http.duration[i];
        if (i + 1 < HTTP_DURATION_BUCKETS)
            fprintf(out, "{\"le\":%llu,\"count\":%llu},",
                    (unsigned long long)http_duration_bounds_us[i], (unsigned long long)cumulative);
        else
            fprintf(out, "{\"le\":\"+Inf\",\"count\":%llu}", (unsigned long long)cumulative);
    }
    fprintf(out, "],\"sum\":%llu,\"count\":%llu}", (unsigned long long)t->w.http.duration_sum_us,
            (unsigned long long)cumulative);
}

static void json_workers(FILE *out, const struct http_view *v)
{
    fputs("\"workers\":[", out);
    for (size_t i = 0; i < v->n_workers; i++) {
        const struct http_view_worker *w = &v->workers[i];

        fprintf(out,
                "%s{\"id\":%zu,\"connections\":%llu,\"requests\":%llu,\"loop_iterations\":%llu,"
                "\"busy_ratio\":%.4f}",
                i ? "," : "", i, (unsigned long long)w->http.connections_open,
                (unsigned long long)w->http.requests, (unsigned long long)w->loop_iterations,
                busy_ratio(w));
    }
    fputc(']', out);
}

static void json_write(FILE *out, const struct http_view *v)
{
    struct totals t;

    totals_of(v, &t);
    fprintf(out,
            "{\"connections\":{\"open\":%llu,\"idle\":%llu,\"reading\":%llu,\"writing\":%llu,"
            "\"accepted\":%llu,\"refused_at_max_connections\":%llu,\"accept_pauses\":%llu},",
            (unsigned long long)t.w.http.connections_open, (unsigned long long)t.idle,
            (unsigned long long)t.w.http.conns_reading, (unsigned long long)t.w.http.conns_writing,
            (unsigned long long)t.w.http.connections_total, (unsigned long long)t.w.accept_refused,
            (unsigned long long)t.w.accept_pauses);
    fprintf(out, "\"requests\":{\"total\":%llu,\"status\":{",
            (unsigned long long)t.w.http.requests);
    for (size_t i = 1; i <= 6; i++)
        fprintf(out, "%s\"%s\":%llu", i > 1 ? "," : "", class_names[i % 6],
                (unsigned long long)t.w.http.status_class[i % 6]);
    fputs("},\"routes\":{", out);
    for (size_t i = 0; i < v->n_routes; i++) {
        fputs(i ? "," : "", out);
        put_quoted(out, v->routes[i].name, v->routes[i].name_len);
        fprintf(out, ":%llu", (unsigned long long)v->routes[i].requests);
    }
    fprintf(out, "}},\"bytes\":{\"in\":%llu,\"out\":%llu},", (unsigned long long)t.w.http.bytes_in,
            (unsigned long long)t.w.http.bytes_out);
    json_duration(out, &t);
    fprintf(out, ",\"file_cache\":{\"hits\":%llu,\"misses\":%llu},",
            (unsigned long long)t.w.http.file_cache_hits,
            (unsigned long long)t.w.http.file_cache_misses);
    fprintf(out,
            "\"scripts\":{\"running\":%llu,\"killed_timeout\":%llu,\"killed_client_gone\":%llu},",
            (unsigned long long)t.w.http.scripts_running,
            (unsigned long long)t.w.http.scripts_killed_timeout,
            (unsigned long long)t.w.http.scripts_killed_gone);
    json_upstreams(out, v);
    json_workers(out, v);
    fputs("}\n", out);
}

/* ---- Prometheus text format ---------------------------------------------- */

static void prom_head(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_value(FILE *out, const char *name, uint64_t value)
{
    fprintf(out, "%s %llu\n", name, (unsigned long long)value);
}

static void prom_connections(FILE *out, const struct totals *t)
{
    prom_head(out, "cohttpd_connections", "gauge", "Client connections open now, by state.");
    fprintf(out, "cohttpd_connections{state=\"idle\"} %llu\n", (unsigned long long)t->idle);
    fprintf(out, "cohttpd_connections{state=\"reading\"} %llu\n",
            (unsigned long long)t->w.http.conns_reading);
    fprintf(out, "cohttpd_connections{state=\"writing\"} %llu\n",
            (unsigned long long)t->w.http.conns_writing);
    prom_head(out, "cohttpd_connections_accepted_total", "counter", "Client connections accepted.");
    prom_value(out, "cohttpd_connections_accepted_total", t->w.http.connections_total);
    prom_head(out, "cohttpd_connections_refused_total", "counter",
              "Accepts held back because a worker was at max_connections.");
    prom_value(out, "cohttpd_connections_refused_total", t->w.accept_refused);
    prom_head(out, "cohttpd_accept_pauses_total", "counter",
              "Times a worker paused accepting (max_connections or no descriptors).");
    prom_value(out, "cohttpd_accept_pauses_total", t->w.accept_pauses);
}

static void prom_requests(FILE *out, const struct totals *t, const struct http_view *v)
{
    prom_head(out, "cohttpd_requests_total", "counter", "Requests answered, by status class.");
    for (size_t i = 1; i <= 6; i++)
        fprintf(out, "cohttpd_requests_total{class=\"%s\"} %llu\n", class_names[i % 6],
                (unsigned long long)t->w.http.status_class[i % 6]);
    prom_head(out, "cohttpd_route_requests_total", "counter",
              "Requests routed to each configured route since the last reload.");
    for (size_t i = 0; i < v->n_routes; i++) {
        fputs("cohttpd_route_requests_total{route=", out);
        put_quoted(out, v->routes[i].name, v->routes[i].name_len);
        fprintf(out, "} %llu\n", (unsigned long long)v->routes[i].requests);
    }
    prom_head(out, "cohttpd_received_bytes_total", "counter", "Request bytes received.");
    prom_value(out, "cohttpd_received_bytes_total", t->w.http.bytes_in);
    prom_head(out, "cohttpd_sent_bytes_total", "counter", "Response bytes sent.");
    prom_value(out, "cohttpd_sent_bytes_total", t->w.http.bytes_out);
}

static void prom_duration(FILE *out, const struct totals *t)
{
    uint64_t cumulative = 0;

    prom_head(out, "cohttpd_request_duration_seconds", "histogram",
              "Time from a request's first byte to the end of its response.");
    for (size_t i = 0; i < HTTP_DURATION_BUCKETS; i++) {
        cumulative += t->w.http.duration[i];
        if (i + 1 < HTTP_DURATION_BUCKETS)
            fprintf(out, "cohttpd_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                    (double)http_duration_bounds_us[i] / 1e6, (unsigned long long)cumulative);
        else
            fprintf(out, "cohttpd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                    (unsigned long long)cumulative);
    }
    fprintf(out, "cohttpd_request_duration_seconds_sum %.6f\n",
            (double)t->w.http.duration_sum_us / 1e6);
    prom_value(out, "cohttpd_request_duration_seconds_count", cumulative);
}

static void prom_scripts(FILE *out, const struct totals *t)
{
    prom_head(out, "cohttpd_scripts_running", "gauge", "CGI scripts running now.");
    prom_value(out, "cohttpd_scripts_running", t->w.http.scripts_running);
    prom_head(out, "cohttpd_scripts_killed_total", "counter",
              "CGI scripts killed before they ended, by reason.");
    fprintf(out, "cohttpd_scripts_killed_total{reason=\"timeout\"} %llu\n",
            (unsigned long long)t->w.http.scripts_killed_timeout);
    fprintf(out, "cohttpd_scripts_killed_total{reason=\"client_gone\"} %llu\n",
            (unsigned long long)t->w.http.scripts_killed_gone);
}

static void prom_workers(FILE *out, const struct totals *t, const struct http_view *v)
{
    prom_head(out, "cohttpd_file_cache_lookups_total", "counter",
              "Open-file cache lookups, by result.");
    fprintf(out, "cohttpd_file_cache_lookups_total{result=\"hit\"} %llu\n",
            (unsigned long long)t->w.http.file_cache_hits);
    fprintf(out, "cohttpd_file_cache_lookups_total{result=\"miss\"} %llu\n",
            (unsigned long long)t->w.http.file_cache_misses);
    prom_head(out, "cohttpd_worker_loop_iterations_total", "counter",
              "Event loop iterations of each worker.");
    for (size_t i = 0; i < v->n_workers; i++)
        fprintf(out, "cohttpd_worker_loop_iterations_total{worker=\"%zu\"} %llu\n", i,
                (unsigned long long)v->workers[i].loop_iterations);
    prom_head(out, "cohttpd_worker_busy_seconds_total", "counter",
              "Time each worker's loop spent working rather than waiting for events.");
    for (size_t i = 0; i < v->n_workers; i++)
        fprintf(out, "cohttpd_worker_busy_seconds_total{worker=\"%zu\"} %.6f\n", i,
                (double)v->workers[i].loop_busy_ns / 1e9);
    prom_head(out, "cohttpd_worker_busy_ratio", "gauge",
              "Share of each worker's time spent working since it started.");
    for (size_t i = 0; i < v->n_workers; i++)
        fprintf(out, "cohttpd_worker_busy_ratio{worker=\"%zu\"} %.4f\n", i,
                busy_ratio(&v->workers[i]));
}

/* The upstream metric families: name, type, help, and the value of one. */
static const struct {
    const char *name, *type, *help;
} up_metrics[] = {
    {"cohttpd_upstream_up", "gauge", "1 when the upstream takes requests, 0 while it is out."},
    {"cohttpd_upstream_failures_total", "counter",
     "Failed connects, timeouts and bad responses of the upstream since the last reload."},
    {"cohttpd_upstream_retries_total", "counter",
     "Requests moved from the upstream to another since the last reload."},
    {"cohttpd_upstream_active_connections", "gauge", "Upstream connections busy with a request."},
    {"cohttpd_upstream_idle_connections", "gauge", "Idle keep-alive upstream connections."},
};

static uint64_t up_metric(size_t m, const struct handler_upstream *u)
{
    const uint64_t values[] = {u->up, u->failures, u->retries, u->active, u->idle};

    return values[m];
}

static void prom_upstreams(FILE *out, const struct http_view *v)
{
    struct handler_upstream u[HANDLER_MAX_UPSTREAMS];

    for (size_t m = 0; m < sizeof up_metrics / sizeof up_metrics[0]; m++) {
        bool head = false;

        for (size_t i = 0; i < v->n_routes; i++) {
            size_t n = route_upstreams(&v->routes[i], u);

            for (size_t j = 0; j < n; j++) {
                if (!head)
                    prom_head(out, up_metrics[m].name, up_metrics[m].type, up_metrics[m].help);
                head = true;
                fprintf(out, "%s{route=", up_metrics[m].name);
                put_quoted(out, v->routes[i].name, v->routes[i].name_len);
                fputs(",upstream=", out);
                put_quoted(out, u[j].address, strlen(u[j].address));
                fprintf(out, "} %llu\n", (unsigned long long)up_metric(m, &u[j]));
            }
        }
    }
}

static void prom_write(FILE *out, const struct http_view *v)
{
    struct totals t;

    totals_of(v, &t);
    prom_connections(out, &t);
    prom_requests(out, &t, v);
    prom_duration(out, &t);
    prom_workers(out, &t, v);
    prom_scripts(out, &t);
    prom_upstreams(out, v);
}

/* ---- the handler --------------------------------------------------------- */

/* True when x asks for the Prometheus format: ?format=prometheus, or an
 * Accept naming text/plain (what Prometheus sends) without ?format=json. */
static bool wants_prometheus(const struct http_exchange *x)
{
    const struct http_request *r = x->req;
    size_t len;
    const char *accept = http_req_header(x, "Accept", &len);

    if (r->query.len && memmem(r->query.p, r->query.len, "format=prometheus", 17))
        return true;
    if (r->query.len && memmem(r->query.p, r->query.len, "format=json", 11))
        return false;
    return accept && len && memmem(accept, len, "text/plain", 10);
}

/* Frees the page and the cell that points at it. */
static void free_page(void *data)
{
    char **page = data;

    free(*page);
    free(page);
}

static void status_handle(struct http_exchange *x, void *state, const char *rest, size_t rest_len)
{
    const struct status_conf *conf = state;
    bool prom = wants_prometheus(x);
    struct http_view v;
    char **page;
    size_t len = 0;
    FILE *out;

    if (!status_allowed(conf, x)) {
        http_resp_error(x, 403, NULL);
        return;
    }
    if (rest_len != 1 || rest[0] != '/') {
        http_resp_error(x, 404, NULL);
        return;
    }
    if (x->req->method != HTTP_GET && x->req->method != HTTP_HEAD) {
        http_resp_error(x, 405, "GET, HEAD");
        return;
    }
    if (!x->site->observe || x->site->observe(x->site, &v) < 0) {
        http_resp_error(x, 503, NULL);
        return;
    }
    /* The page lives until the request ends, on every path. */
    page = calloc(1, sizeof *page);
    if (page && http_exchange_defer(x, free_page, page) < 0) {
        free(page);
        page = NULL;
    }
    out = page ? open_memstream(page, &len) : NULL;
    if (out) {
        (prom ? prom_write : json_write)(out, &v);
        fclose(out);
    }
    http_view_free(&v);
    if (!out) {
        http_resp_error(x, 503, NULL);
        return;
    }
    if (http_resp_begin(x, 200) < 0)
        return;
    http_resp_header(x, "Cache-Control", 13, "no-store", 8);
    if (prom)
        http_resp_headerf(x, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    else
        http_resp_headerf(x, "Content-Type", "application/json");
    http_resp_body(x, *page, len);
}

static void status_describe(FILE *out, const void *conf, const struct handler_target *t)
{
    const struct status_conf *sc = conf;

    if (t->rest_len != 1)
        fprintf(out, "status: 404 (the page is at the route's path itself)\n");
    else if (!(t->method_len == 3 && memcmp(t->method, "GET", 3) == 0) &&
             !(t->method_len == 4 && memcmp(t->method, "HEAD", 4) == 0))
        fprintf(out, "status: 405 Method Not Allowed\nallow: GET, HEAD\n");
    else
        fprintf(out, "status page: JSON, or Prometheus text for ?format=prometheus or "
                     "Accept: text/plain\n");
    fputs("clients allowed: ", out);
    for (size_t i = 0; i < sc->n_allow; i++) {
        fputs(i ? " " : "", out);
        cidr_print(out, &sc->allow[i]);
    }
    fputs(sc->n_allow ? " (others: 403)\n" : "none (403)\n", out);
}

/* ---- keys ---------------------------------------------------------------- */

static int add_cidr(struct conf_io *io, void *obj, const char *w, size_t len)
{
    struct status_conf *conf = obj;

    if (conf->n_allow == STATUS_MAX_ALLOW) {
        conf_error(io, "allow takes at most %d addresses", STATUS_MAX_ALLOW);
        return -1;
    }
    if (cidr_parse(w, len, &conf->allow[conf->n_allow]) < 0) {
        conf_error(io, "allow: '%.*s' is not an address or ADDRESS/BITS (IPv4 or IPv6)", (int)len,
                   w);
        return -1;
    }
    conf->n_allow++;
    return 0;
}

/* The list replaces the default; an empty one lets nobody in over TCP. */
static void parse_allow(struct conf_io *io, const struct key_spec *key, void *obj,
                        const char *value)
{
    (void)key;
    ((struct status_conf *)obj)->n_allow = 0;
    conf_for_each_word(io, value, obj, add_cidr);
}

static void dump_allow(FILE *out, const struct key_spec *key, const void *obj)
{
    const struct status_conf *conf = obj;

    fprintf(out, "%s =", key->name);
    for (size_t i = 0; i < conf->n_allow; i++) {
        fputc(' ', out);
        cidr_print(out, &conf->allow[i]);
    }
    fputc('\n', out);
}

static const struct key_spec status_keys[] = {
    {.name = "allow",
     .type = VT_CUSTOM,
     .offset = offsetof(struct status_conf, allow),
     .parse = parse_allow,
     .dump = dump_allow},
};

/* Default: loopback only. */
static void status_defaults(void *obj)
{
    struct status_conf *conf = obj;

    *conf = (struct status_conf){.n_allow = 2};
    cidr_parse("127.0.0.0/8", 11, &conf->allow[0]);
    cidr_parse("::1", 3, &conf->allow[1]);
}

static const struct section_spec status_schema = {
    .keys = status_keys, .n_keys = sizeof status_keys / sizeof status_keys[0]};

const struct handler_kind status_kind = {
    .name = "status",
    .schema = &status_schema,
    .conf_size = sizeof(struct status_conf),
    .conf_init = status_defaults,
    .handle = status_handle,
    .describe = status_describe,
};
