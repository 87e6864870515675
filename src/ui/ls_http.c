/* ls_http.c - routes of the embedded web server (see ls_http.h). HTTP
 * parsing, limits and connection handling are libmicrohttpd's. */
#include "ls_http.h"
#include "ls_ui_page.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

struct ls_http {
    struct MHD_Daemon *d;
    ls_monitor *m;
    char url[96];   /* http://HOST:PORT/ as bound */
};

const char *ls_http_url(const ls_http *h) { return h->url; }

/* Appends JSON for inclusion in a <script>: "</" would end the script. */
static void put_script_json(ls_buf *out, const char *json, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (json[i] == '<' && i + 1 < n && json[i + 1] == '/') {
            ls_buf_puts(out, "<\\/");
            i++;
        } else {
            ls_buf_putc(out, json[i]);
        }
    }
}

/* The page with the current figures in place of its LS_INITIAL marker:
 * {"queries": [...], "history": {"NAME": [last 120 reports], ...}}. */
static void page_with_figures(ls_monitor *m, ls_buf *out)
{
    static const char marker[] = "/*LS_INITIAL*/null";
    const char *at = strstr(ls_ui_page, marker);
    if (!at) {
        ls_buf_puts(out, ls_ui_page);
        return;
    }
    ls_buf json, part;
    ls_buf_init(&json);
    ls_buf_init(&part);
    ls_buf_puts(&json, "{\"queries\":");
    ls_monitor_queries_json(m, &part);
    ls_buf_append(&json, part.data ? part.data : "[]", part.data ? part.len : 2);
    ls_buf_puts(&json, ",\"history\":{");
    for (size_t i = 0; i < m->nqueries; i++) {
        ls_buf_reset(&part);
        if (ls_monitor_progress_json(m, m->queries[i].name, 120, &part)) continue;
        ls_buf_printf(&json, "%s\"%s\":", i ? "," : "", m->queries[i].name);
        ls_buf_append(&json, part.data ? part.data : "[]", part.data ? part.len : 2);
    }
    ls_buf_puts(&json, "}}");
    ls_buf_append(out, ls_ui_page, (size_t)(at - ls_ui_page));
    put_script_json(out, json.data, json.len);
    ls_buf_puts(out, at + sizeof marker - 1);
    ls_buf_free(&json);
    ls_buf_free(&part);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    ls_http *h = cls;
    if (*state == NULL) { /* first call: headers only */
        *state = h;
        return MHD_YES;
    }
    if (*upload_size) { /* no request bodies here */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    ls_buf b;
    ls_buf_init(&b);
    enum MHD_Result rc;
    const char *prefix = "/api/queries/", *suffix = "/progress";
    size_t ul = strlen(url), pl = strlen(prefix), sl = strlen(suffix);
    if (strcmp(url, "/") == 0) {
        page_with_figures(h->m, &b);
        rc = reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", b.data, b.len);
    } else if (strcmp(url, "/api/queries") == 0) {
        ls_monitor_queries_json(h->m, &b);
        rc = reply(c, MHD_HTTP_OK, "application/json", b.data, b.len);
    } else if (ul > pl + sl && strncmp(url, prefix, pl) == 0 && strcmp(url + ul - sl, suffix) == 0) {
        char *name = ls_xstrndup(url + pl, ul - pl - sl);
        const char *last = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last");
        long n = last ? strtol(last, NULL, 10) : 1;
        if (n < 1) n = 1;
        if (ls_monitor_progress_json(h->m, name, (size_t)n, &b) == 0)
            rc = reply(c, MHD_HTTP_OK, "application/json", b.data, b.len);
        else
            rc = reply_text(c, MHD_HTTP_NOT_FOUND, "no such query\n");
        free(name);
    } else if (strcmp(url, "/metrics") == 0) {
        ls_monitor_metrics(h->m, &b);
        rc = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    } else if (strcmp(url, "/healthz") == 0) {
        pthread_mutex_lock(&h->m->mu);
        int up = h->m->running;
        pthread_mutex_unlock(&h->m->mu);
        rc = up ? reply(c, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}", 15)
                : reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                        "{\"status\":\"starting\"}", 21);
    } else {
        rc = reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    ls_buf_free(&b);
    return rc;
}

ls_http *ls_http_start(const char *spec, ls_monitor *m, ls_err *err)
{
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(spec, ':');
    const char *port_s = colon ? colon + 1 : spec;
    if (colon) {
        size_t hl = (size_t)(colon - spec);
        if (hl == 0 || hl >= sizeof host) {
            ls_seterr(err, "--ui %s: expected PORT or HOST:PORT", spec);
            return NULL;
        }
        memcpy(host, spec, hl);
        host[hl] = '\0';
        if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    }
    char *end;
    long port = strtol(port_s, &end, 10);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (*port_s == '\0' || *end || port < 1 || port > 65535 ||
        inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        ls_seterr(err, "--ui %s: expected PORT or HOST:PORT with an IPv4 host", spec);
        return NULL;
    }
    ls_http *h = ls_xcalloc(1, sizeof *h);
    h->m = m;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL,
                            NULL, handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
                            MHD_OPTION_END);
    if (!h->d) {
        ls_seterr(err, "--ui %s: cannot listen on %s:%ld (in use?)", spec, host, port);
        free(h);
        return NULL;
    }
    snprintf(h->url, sizeof h->url, "http://%s:%ld/", host, port);
    return h;
}

void ls_http_stop(ls_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}
