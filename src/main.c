/* main.c - the command line: which command (a script run, explain,
 * produce, consume, status, help), its options, and the signals. Options are matched
 * exactly (no abbreviations), checked against the command they belong to,
 * and every numeric value against its range: a mistake is one line naming
 * the option, and what it accepts, exit 2. The help text is generated from
 * the manual page (docs/luastream.1, scripts/man2help.awk). Everything else
 * lives in the library (libluastream.a). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_app.h"
#include "ls_engine.h"
#include "ls_explain.h"
#include "ls_consume.h"
#include "ls_produce.h"
#include "ls_status.h"
#include "ls_test.h"

#ifndef LS_VERSION
#define LS_VERSION "0.1.0"
#endif

static const char help_text[] =
#include "help.inc"
    ;

static const char see_help[] = "see luastream --help";

/* The one piece of global mutable state: the signal (SIGINT or SIGTERM)
 * that asked the run loops to stop, 0 until then. They finish the batch in
 * progress (produce: the deliveries in flight) and exit cleanly. A second
 * signal ends the process at once. */
static volatile sig_atomic_t stop_requested = 0;
/* SIGHUP during a script run: reload the script between two batches. */
static volatile sig_atomic_t reload_requested = 0;

static void on_hangup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void on_signal(int sig)
{
    if (stop_requested) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_requested = sig;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    ls_kafka_set_interrupt(&stop_requested);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a full file system or size limit is a write error, not a death */
}

/* ---- options ------------------------------------------------------------ */

enum { RUN = 1, PRODUCE = 2, CONSUME = 4, TEST = 8, EXPLAIN = 16, STATUS = 32, ANY = 63 };

enum {
    O_SET, O_TRIGGER, O_PROGRESS, O_CHECKPOINT, O_APP, O_STANDBYS, O_PARTITIONS, O_PARALLELISM, O_MAX_STATE, O_UI,
    O_UNSAFE_LUA, O_WATCH, O_QUIET, O_TOPIC, O_BOOTSTRAP, O_RATE, O_KEY, O_PARTITION, O_MAX, O_KAFKA,
    O_RAW, O_FROM_BEGINNING, O_TO_END, O_META, O_INPUT, O_EXPECT, O_OUTPUT, O_BATCH_SIZE, O_JSON,
    O_HELP, O_VERSION, O_COUNT
};

typedef struct option_def {
    const char *name;   /* without the leading "--" */
    const char *arg;    /* the value's name in messages, NULL for a flag */
    int commands;       /* where it applies */
    int repeatable;
} option_def;

static const option_def options[O_COUNT] = {
    [O_SET] = { "set", "NAME=VALUE", RUN | TEST | EXPLAIN, 1 },
    [O_TRIGGER] = { "trigger", "SPEC", RUN | EXPLAIN, 0 },
    [O_PROGRESS] = { "progress", "PATH", RUN, 0 },
    [O_CHECKPOINT] = { "checkpoint", "DIR", RUN | EXPLAIN, 0 },
    [O_APP] = { "app", "ID", RUN | EXPLAIN | STATUS, 0 },
    [O_STANDBYS] = { "standbys", "N", RUN, 0 },
    [O_PARTITIONS] = { "partitions", "N", RUN | TEST | EXPLAIN, 0 },
    [O_PARALLELISM] = { "parallelism", "N", RUN | EXPLAIN, 0 },
    [O_MAX_STATE] = { "max-state-rows", "N", RUN | TEST | EXPLAIN, 0 },
    [O_UI] = { "ui", "[HOST:]PORT", RUN, 0 },
    [O_UNSAFE_LUA] = { "unsafe-lua", NULL, RUN | TEST | EXPLAIN, 0 },
    [O_WATCH] = { "watch", NULL, RUN, 0 },
    [O_QUIET] = { "quiet", NULL, RUN | PRODUCE, 0 },
    [O_TOPIC] = { "topic", "T", PRODUCE | CONSUME, 0 },
    [O_BOOTSTRAP] = { "bootstrap", "B", PRODUCE | CONSUME | STATUS, 0 },
    [O_RATE] = { "rate", "N", PRODUCE, 0 },
    [O_KEY] = { "key", "FIELD", PRODUCE, 0 },
    [O_PARTITION] = { "partition", "P", PRODUCE, 0 },
    [O_MAX] = { "max", "N", PRODUCE | CONSUME, 0 },
    [O_KAFKA] = { "kafka", "PROP=VALUE", PRODUCE | CONSUME | STATUS, 1 },
    [O_RAW] = { "raw", NULL, PRODUCE, 0 },
    [O_FROM_BEGINNING] = { "from-beginning", NULL, CONSUME, 0 },
    [O_TO_END] = { "to-end", NULL, CONSUME, 0 },
    [O_META] = { "meta", NULL, CONSUME, 0 },
    [O_INPUT] = { "input", "[SOURCE=]FILE", TEST, 1 },
    [O_EXPECT] = { "expect", "DIR", TEST, 0 },
    [O_OUTPUT] = { "output", "DIR", TEST, 0 },
    [O_BATCH_SIZE] = { "batch-size", "N", TEST, 0 },
    [O_JSON] = { "json", NULL, EXPLAIN | STATUS, 0 },
    [O_HELP] = { "help", NULL, ANY, 1 },
    [O_VERSION] = { "version", NULL, ANY, 1 },
};

typedef struct given {
    int id;
    const char *value; /* NULL for a flag */
} given;

typedef struct cli {
    given *opts;
    size_t nopts;
    char **pos;        /* positional arguments, in order */
    size_t npos;
    int seen[O_COUNT];
} cli;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("luastream: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%s)\n", see_help);
    va_end(ap);
    return 2;
}

/* Edits (insert, delete, replace) between two short option names. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[64];
    if (la > 62 || lb > 62) return 99;
    for (size_t j = 0; j <= lb; j++) d[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = d[0];
        d[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = d[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (d[j - 1] + 1 < best) best = d[j - 1] + 1;
            diag = up;
            d[j] = best;
        }
    }
    return d[lb];
}

/* Unknown option: suggest the options it abbreviates, else a near miss. */
static int unknown_option(const char *arg)
{
    const char *name = arg + 2;
    size_t n = strcspn(name, "=");
    char shown[48];
    snprintf(shown, sizeof shown, "%.*s", (int)(n < 40 ? n : 40), name);
    const char *pre[O_COUNT];
    size_t npre = 0, best = 99;
    const char *near = NULL;
    for (int i = 0; i < O_COUNT; i++) {
        if (n > 0 && strncmp(options[i].name, shown, strlen(shown)) == 0) pre[npre++] = options[i].name;
        size_t d = distance(shown, options[i].name);
        if (d < best) {
            best = d;
            near = options[i].name;
        }
    }
    if (npre == 1) return usage_error("unknown option --%s; did you mean --%s?", shown, pre[0]);
    if (npre == 2)
        return usage_error("unknown option --%s; did you mean --%s or --%s?", shown, pre[0], pre[1]);
    if (near && best <= 2 && best < strlen(shown))
        return usage_error("unknown option --%s; did you mean --%s?", shown, near);
    return usage_error("unknown option --%s", shown);
}

static int find_option(const char *name, size_t n)
{
    for (int i = 0; i < O_COUNT; i++)
        if (strlen(options[i].name) == n && strncmp(options[i].name, name, n) == 0) return i;
    return -1;
}

/* Splits argv into options and positional arguments. */
static int parse(int argc, char **argv, cli *c)
{
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            c->pos[c->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0) a = "--help";
        if (a[1] != '-') {
            return usage_error("unknown option %s (options are written --name)", a);
        }
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        int id = find_option(a + 2, n);
        if (id < 0) return unknown_option(a);
        const option_def *o = &options[id];
        const char *value = NULL;
        if (o->arg) {
            if (eq) value = eq + 1;
            else if (i + 1 < argc) value = argv[++i];
            else return usage_error("--%s needs a value: --%s %s", o->name, o->name, o->arg);
        } else if (eq) {
            return usage_error("--%s takes no value", o->name);
        }
        if (c->seen[id] && !o->repeatable)
            return usage_error("--%s is given twice", o->name);
        c->seen[id]++;
        c->opts[c->nopts].id = id;
        c->opts[c->nopts++].value = value;
    }
    return 0;
}

static const char *command_name(int cmd)
{
    return cmd == PRODUCE   ? "produce"
           : cmd == CONSUME ? "consume"
           : cmd == TEST    ? "test"
           : cmd == EXPLAIN ? "explain"
           : cmd == STATUS  ? "status"
                            : "a script run";
}

/* An option given to a command it does not belong to: say where it does. */
static int misplaced(int id, int cmd)
{
    const option_def *o = &options[id];
    int script = cmd == RUN || cmd == EXPLAIN || cmd == TEST;
    if (script && (id == O_TOPIC || id == O_BOOTSTRAP))
        return usage_error("--%s is an option of produce, consume and status, not of %s: "
                           "give it to the script as --set %s=%s (read with ls.param)",
                           o->name, command_name(cmd), o->name, id == O_TOPIC ? "T" : "HOST:PORT");
    if (script && id == O_KAFKA)
        return usage_error("--kafka is an option of produce, consume and status, not of %s: "
                           "put librdkafka properties in the script, "
                           "ls.kafka_source { kafka = { [\"PROP\"] = VALUE } }", command_name(cmd));
    if (cmd == EXPLAIN && (o->commands & RUN))
        return usage_error("--%s is an option of a script run, not of explain (which runs "
                           "nothing and opens nothing)", o->name);
    const char *where = o->commands & RUN ? "a script run"
                        : o->commands & TEST ? "test"
                        : (o->commands & EXPLAIN) && (o->commands & STATUS) ? "explain and status"
                        : o->commands & EXPLAIN ? "explain"
                        : (o->commands & PRODUCE) && (o->commands & STATUS) ? "produce, consume and status"
                        : (o->commands & PRODUCE) && (o->commands & CONSUME) ? "produce and consume"
                        : o->commands & PRODUCE ? "produce" : "consume";
    return usage_error("--%s is an option of %s, not of %s", o->name, where, command_name(cmd));
}

static int parse_int(int id, const char *arg, long long min, long long max, long long *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(arg, &end, 10);
    if (!(arg[0] >= '0' && arg[0] <= '9') && !(arg[0] == '-' && min < 0)) end = (char *)arg;
    if (end == arg || *end || errno == ERANGE || v < min || v > max)
        return usage_error("--%s expects a whole number from %lld to %lld, got \"%s\"",
                           options[id].name, min, max, arg);
    *out = v;
    return 0;
}

/* Splits NAME=VALUE; the name must not be empty. */
static int split_kv(int id, const char *arg, char **name, char **value)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return usage_error("--%s expects %s, got \"%s\"", options[id].name, options[id].arg, arg);
    *name = ls_xstrndup(arg, (size_t)(eq - arg));
    *value = ls_xstrdup(eq + 1);
    return 0;
}

/* Everything the three commands take, filled from the parsed options. */
typedef struct settings {
    ls_engine_opts run;
    ls_props props;
    const char *topic, *bootstrap, *key;
    double rate;
    long long max, partition, batch_size;
    const char **inputs;
    size_t ninputs;
    const char *expect, *output;
    int from_beginning, to_end, meta, raw, quiet, json;
} settings;

static void free_settings(settings *s)
{
    for (size_t i = 0; i < s->run.nset; i++) {
        free(s->run.set_names[i]);
        free(s->run.set_values[i]);
    }
    free(s->run.set_names);
    free(s->run.set_values);
    free(s->inputs);
    ls_props_free(&s->props);
}

static int apply(const given *g, settings *s)
{
    long long v;
    char *n, *val;
    switch (g->id) {
    case O_SET:
        if (split_kv(g->id, g->value, &n, &val)) return 2;
        for (size_t i = 0; i < s->run.nset; i++)
            if (strcmp(s->run.set_names[i], n) == 0) {
                free(n);
                free(val);
                return usage_error("--set %s is given twice", s->run.set_names[i]);
            }
        s->run.set_names = ls_xrealloc(s->run.set_names, (s->run.nset + 1) * sizeof(char *));
        s->run.set_values = ls_xrealloc(s->run.set_values, (s->run.nset + 1) * sizeof(char *));
        s->run.set_names[s->run.nset] = n;
        s->run.set_values[s->run.nset++] = val;
        return 0;
    case O_KAFKA:
        if (split_kv(g->id, g->value, &n, &val)) return 2;
        if (ls_props_get(&s->props, n)) {
            int rc = usage_error("--kafka %s is given twice", n);
            free(n);
            free(val);
            return rc;
        }
        ls_props_set(&s->props, n, val);
        free(n);
        free(val);
        return 0;
    case O_TRIGGER: s->run.trigger = g->value; return 0;
    case O_PROGRESS: s->run.progress_path = g->value; return 0;
    case O_CHECKPOINT: s->run.checkpoint = g->value; return 0;
    case O_APP: {
        ls_err why;
        if (ls_app_check_id(g->value, &why)) return usage_error("--app %s", why.msg);
        s->run.app = g->value;
        return 0;
    }
    case O_UI: {
        const char *colon = strrchr(g->value, ':');
        const char *port = colon ? colon + 1 : g->value;
        char *end;
        errno = 0;
        long n = strtol(port, &end, 10);
        if (!(port[0] >= '0' && port[0] <= '9') || *end || errno || n < 1 || n > 65535 ||
            (colon && colon == g->value))
            return usage_error("--ui expects [HOST:]PORT with PORT from 1 to 65535, got \"%s\"",
                               g->value);
        s->run.ui = g->value;
        return 0;
    }
    case O_UNSAFE_LUA: s->run.unsafe_lua = 1; return 0;
    case O_WATCH: s->run.watch = 1; return 0;
    case O_QUIET: s->quiet = s->run.quiet = 1; return 0;
    case O_STANDBYS:
        if (parse_int(g->id, g->value, 0, 16, &v)) return 2;
        s->run.standbys = (int)v;
        s->run.standbys_given = 1;
        return 0;
    case O_PARTITIONS:
        if (parse_int(g->id, g->value, 1, 65536, &v)) return 2;
        s->run.partitions = (int)v;
        return 0;
    case O_PARALLELISM:
        if (parse_int(g->id, g->value, 1, 256, &v)) return 2;
        s->run.parallelism = (int)v;
        return 0;
    case O_MAX_STATE:
        if (parse_int(g->id, g->value, 1, INT64_MAX, &v)) return 2;
        s->run.max_state_rows = v;
        return 0;
    case O_TOPIC:
        if (!g->value[0]) return usage_error("--topic must not be empty");
        s->topic = g->value;
        return 0;
    case O_BOOTSTRAP:
        if (!g->value[0]) return usage_error("--bootstrap must not be empty (HOST:PORT[,HOST:PORT...])");
        s->bootstrap = g->value;
        return 0;
    case O_KEY:
        if (!g->value[0]) return usage_error("--key must name a top-level field");
        s->key = g->value;
        return 0;
    case O_RATE: {
        char *end;
        errno = 0;
        double r = strtod(g->value, &end);
        if (!((g->value[0] >= '0' && g->value[0] <= '9') || g->value[0] == '.') || *end ||
            errno == ERANGE || !isfinite(r) || r <= 0 || r > 1e9)
            return usage_error("--rate expects records per second, more than 0 and at most "
                               "1000000000, got \"%s\"", g->value);
        s->rate = r;
        return 0;
    }
    case O_PARTITION:
        return parse_int(g->id, g->value, 0, INT32_MAX, &s->partition) ? 2 : 0;
    case O_MAX:
        return parse_int(g->id, g->value, 1, INT64_MAX, &s->max) ? 2 : 0;
    case O_RAW: s->raw = 1; return 0;
    case O_FROM_BEGINNING: s->from_beginning = 1; return 0;
    case O_TO_END: s->to_end = 1; return 0;
    case O_META: s->meta = 1; return 0;
    case O_INPUT:
        if (!g->value[0]) return usage_error("--input expects [SOURCE=]FILE");
        s->inputs = ls_xrealloc(s->inputs, (s->ninputs + 1) * sizeof *s->inputs);
        s->inputs[s->ninputs++] = g->value;
        return 0;
    case O_EXPECT: s->expect = g->value; return 0;
    case O_OUTPUT: s->output = g->value; return 0;
    case O_BATCH_SIZE:
        return parse_int(g->id, g->value, 1, INT64_MAX, &s->batch_size) ? 2 : 0;
    case O_JSON: s->json = 1; return 0;
    }
    return 0;
}

/* ---- commands ----------------------------------------------------------- */

static int run_script(const char *script, settings *s)
{
    ls_err err = { "" };
    s->run.script = script;
    s->run.stop = &stop_requested;
    s->run.reload = &reload_requested;
    ls_engine *e = ls_engine_new(&s->run, &err);
    if (!e) {
        fprintf(stderr, "luastream: %s\n", err.msg);
        return stop_requested ? 128 + stop_requested : 2;
    }
    int rc = 0;
    if (ls_engine_run(e, &err)) {
        fprintf(stderr, "luastream: %s\n", err.msg);
        rc = stop_requested ? 128 + stop_requested : strstr(err.msg, "cannot reach Kafka") ? 2 : 1;
    }
    ls_engine_free(e);
    return rc;
}

/* luastream explain: the script's plan on stdout, nothing connected or
 * opened (ls_explain.h). */
static int explain(const char *script, settings *s)
{
    ls_err err = { "" };
    s->run.script = script;
    int rc = ls_explain(&s->run, s->json, stdout, &err);
    if (rc) fprintf(stderr, "luastream: %s\n", err.msg);
    return rc;
}

static int produce(const char *file, settings *s)
{
    if (s->raw && s->key)
        return usage_error("--key does not apply with --raw: raw lines are sent unparsed, "
                           "without a key");
    ls_produce_opts o = { 0 };
    o.file = file;
    o.topic = s->topic;
    o.bootstrap = s->bootstrap;
    o.key_field = s->key;
    o.partition = (int)s->partition;
    o.rate = s->rate;
    o.max = s->max;
    o.connect_timeout_ms = 10000;
    o.flush_timeout_ms = 120000;
    o.stop_flush_timeout_ms = 10000;
    o.quiet = s->quiet;
    o.raw = s->raw;
    o.props = &s->props;
    o.stop = &stop_requested;
    return ls_produce(&o);
}

static int consume(settings *s)
{
    ls_consume_opts o = { 0 };
    o.topic = s->topic;
    o.bootstrap = s->bootstrap;
    o.from_beginning = s->from_beginning;
    o.to_end = s->to_end;
    o.max = s->max;
    o.show_meta = s->meta;
    o.connect_timeout_ms = 10000;
    o.props = &s->props;
    o.stop = &stop_requested;
    return ls_consume(&o);
}

/* luastream status: the job's members, partitions and lag from Kafka's
 * admin API (ls_status.h). --app was checked by apply (ls_app_check_id). */
static int status(settings *s)
{
    ls_status_opts o;
    memset(&o, 0, sizeof o);
    o.app = s->run.app;
    o.bootstrap = s->bootstrap;
    o.json = s->json;
    o.timeout_ms = 10000;
    o.props = &s->props;
    o.stop = &stop_requested;
    o.out = stdout;
    return ls_status(&o);
}

static int test(const char *script, settings *s)
{
    if (!s->ninputs)
        return usage_error("test needs at least one --input [SOURCE=]FILE (records to run "
                           "the script's queries over)");
    ls_test_opts o;
    memset(&o, 0, sizeof o);
    o.run = s->run;
    o.run.script = script;
    o.run.stop = &stop_requested;
    o.inputs = s->inputs;
    o.ninputs = s->ninputs;
    o.expect_dir = s->expect;
    o.output_dir = s->output;
    o.batch_size = s->batch_size;
    return ls_test(&o);
}

static int dispatch(cli *c)
{
    if (c->seen[O_HELP] || (c->npos > 0 && strcmp(c->pos[0], "help") == 0)) {
        fputs(help_text, stdout);
        return 0;
    }
    if (c->seen[O_VERSION]) {
        printf("luastream %s\n", LS_VERSION);
        return 0;
    }
    if (c->npos == 0)
        return usage_error("missing SCRIPT or command; usage: luastream SCRIPT [options] | "
                           "luastream explain SCRIPT | luastream produce FILE --topic T | "
                           "luastream consume --topic T | luastream status --app ID");
    const char *first = c->pos[0];
    int cmd = strcmp(first, "produce") == 0   ? PRODUCE
              : strcmp(first, "consume") == 0 ? CONSUME
              : strcmp(first, "test") == 0    ? TEST
              : strcmp(first, "explain") == 0 ? EXPLAIN
              : strcmp(first, "status") == 0  ? STATUS
                                              : RUN;
    if (cmd == RUN && !strchr(first, '/') && !strchr(first, '.') && access(first, F_OK) != 0) {
        /* not a script: perhaps a misspelled command */
        static const char *commands[] = { "help", "produce", "consume", "test", "explain", "status" };
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
            if (distance(first, commands[i]) <= 2)
                return usage_error("no script or command %s; did you mean %s?", first,
                                   commands[i]);
    }
    for (size_t i = 0; i < c->nopts; i++)
        if (!(options[c->opts[i].id].commands & cmd)) return misplaced(c->opts[i].id, cmd);
    if (cmd == PRODUCE && c->npos < 2)
        return usage_error("produce needs a FILE (a JSON array or newline-delimited JSON, "
                           "or - for stdin): luastream produce FILE --topic T");
    if (cmd == TEST && c->npos < 2)
        return usage_error("test needs a SCRIPT: luastream test SCRIPT --input [SOURCE=]FILE...");
    if (cmd == EXPLAIN && c->npos < 2)
        return usage_error("explain needs a SCRIPT: luastream explain SCRIPT [--set NAME=VALUE]...");
    size_t want = cmd == PRODUCE || cmd == TEST || cmd == EXPLAIN ? 2 : 1;
    if (c->npos > want)
        return usage_error("unexpected argument \"%s\" after %s", c->pos[want],
                           cmd == RUN ? first : command_name(cmd));
    if ((cmd == PRODUCE || cmd == CONSUME) && !c->seen[O_TOPIC])
        return usage_error("%s needs --topic T", command_name(cmd));
    if (cmd == STATUS && !c->seen[O_APP])
        return usage_error("status needs --app ID (the job's app id: its consumer group): "
                           "luastream status --app ID [--bootstrap B]");

    settings s;
    memset(&s, 0, sizeof s);
    s.partition = -1;
    s.bootstrap = "localhost:9092";
    int rc = 0;
    for (size_t i = 0; i < c->nopts && rc == 0; i++) rc = apply(&c->opts[i], &s);
    if (rc == 0) {
        install_signals();
        rc = cmd == PRODUCE   ? produce(c->pos[1], &s)
             : cmd == CONSUME ? consume(&s)
             : cmd == TEST    ? test(c->pos[1], &s)
             : cmd == EXPLAIN ? explain(c->pos[1], &s)
             : cmd == STATUS  ? status(&s)
                              : run_script(first, &s);
    }
    free_settings(&s);
    return rc;
}

int main(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof c);
    c.opts = ls_xcalloc((size_t)argc + 1, sizeof *c.opts);
    c.pos = ls_xcalloc((size_t)argc + 1, sizeof *c.pos);
    int rc = parse(argc, argv, &c);
    if (rc == 0) rc = dispatch(&c);
    free(c.opts);
    free(c.pos);
    return rc;
}
