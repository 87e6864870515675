/* test_http.c - the web server's routes without an engine: a monitor fed by
 * hand, the server on a free local port, raw HTTP requests over a socket
 * (status line, content type, body) for every route and for the mistakes. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ls_http.h"
#include "ls_monitor.h"
#include "suites.h"

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The whole response to one request (the server closes the connection). */
static char *request(int port, const char *method, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Length: 0\r\n\r\n", method, path);
    ck_assert(write(fd, req, (size_t)n) == n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t k;
    while ((k = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)k;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

static void expect(int port, const char *method, const char *path, const char *status,
                   const char *type, const char *body_part)
{
    char *r = request(port, method, path);
    ck_assert_msg(strncmp(r, status, strlen(status)) == 0, "%s %s: %.80s", method, path, r);
    if (type) ck_assert_msg(strstr(r, type) != NULL, "%s %s: no %s in %.300s", method, path, type, r);
    if (body_part)
        ck_assert_msg(strstr(r, body_part) != NULL, "%s %s: no %s in %.600s", method, path,
                      body_part, r);
    free(r);
}

START_TEST(routes)
{
    const char *names[] = { "counts", "late" };
    ls_monitor *m = ls_monitor_new(names, 2);
    int port = free_port();
    char spec[32];
    ls_err err;
    snprintf(spec, sizeof spec, "127.0.0.1:%d", port);
    ls_http *h = ls_http_start(spec, m, &err);
    ck_assert_msg(h != NULL, "%s", err.msg);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    ck_assert_str_eq(ls_http_url(h), url);

    /* before the engine runs: not healthy */
    expect(port, "GET", "/healthz", "HTTP/1.1 503", "application/json", NULL);
    ls_monitor_set_running(m, 1);
    expect(port, "GET", "/healthz", "HTTP/1.1 200", "application/json", "{\"status\":\"ok\"}");

    ls_batch_figures f = { 10, 1, 3, 2, 7, 4096, 60000, 0.25 };
    ls_monitor_record(m, 0, "{\"name\":\"counts\",\"batchId\":0,\"numInputRows\":10}", &f);
    expect(port, "GET", "/", "HTTP/1.1 200", "text/html", "<html");
    expect(port, "GET", "/api/queries", "HTTP/1.1 200", "application/json", "\"counts\"");
    expect(port, "GET", "/api/queries", "HTTP/1.1 200", NULL, "\"late\"");
    expect(port, "GET", "/api/queries/counts/progress", "HTTP/1.1 200", "application/json",
           "\"numInputRows\":10");
    expect(port, "GET", "/api/queries/nope/progress", "HTTP/1.1 404", NULL, "no such query");
    expect(port, "GET", "/metrics", "HTTP/1.1 200", "text/plain; version=0.0.4", "counts");
    expect(port, "GET", "/nothing/here", "HTTP/1.1 404", NULL, "not found");
    expect(port, "POST", "/api/queries", "HTTP/1.1 405", NULL, "method not allowed");
    expect(port, "DELETE", "/", "HTTP/1.1 405", NULL, NULL);
    ls_http_stop(h);
    ls_monitor_free(m);
}
END_TEST

START_TEST(bad_addresses)
{
    ls_monitor *m = ls_monitor_new(NULL, 0);
    ls_err err;
    ck_assert_ptr_null(ls_http_start("not a port", m, &err));
    ck_assert_ptr_null(ls_http_start("203.0.113.1:1", m, &err)); /* not an address of this host */
    int port = free_port();
    char spec[32];
    snprintf(spec, sizeof spec, "127.0.0.1:%d", port);
    ls_http *h = ls_http_start(spec, m, &err);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_null(ls_http_start(spec, m, &err)); /* in use */
    ck_assert_msg(strlen(err.msg) > 0, "no reason given");
    ls_http_stop(h);
    ls_monitor_free(m);
}
END_TEST

Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("routes");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, routes);
    tcase_add_test(tc, bad_addresses);
    suite_add_tcase(s, tc);
    return s;
}
