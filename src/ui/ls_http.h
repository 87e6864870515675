/* ls_http.h - the embedded web server (--ui HOST:PORT): the live page, the
 * JSON API, Prometheus metrics and health, served by libmicrohttpd on its
 * own thread from an ls_monitor, never touching the processing threads. */
#ifndef LS_HTTP_H
#define LS_HTTP_H

#include "ls_monitor.h"

typedef struct ls_http ls_http;

/* Starts serving on spec ("PORT", "HOST:PORT"; HOST defaults to
 * 127.0.0.1). NULL + err when the address is bad or cannot be bound. */
ls_http *ls_http_start(const char *spec, ls_monitor *m, ls_err *err);
void ls_http_stop(ls_http *h);
/* "http://HOST:PORT/" as bound (for the log line). */
const char *ls_http_url(const ls_http *h);

#endif
