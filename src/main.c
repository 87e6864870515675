/* main.c - command-line entry: run a script, or the produce / consume
 * helpers. Argument parsing is getopt_long's; everything else lives in the
 * library (libluastream.a). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_engine.h"
#include "ls_produce.h"

#ifndef LS_VERSION
#define LS_VERSION "0.1.0"
#endif

/* The one piece of global mutable state: set by SIGINT/SIGTERM, read by
 * the run loops, which finish the batch in progress and exit cleanly. */
static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const char usage[] =
    "usage:\n"
    "  luastream SCRIPT [options]          run the queries a Lua script declares\n"
    "  luastream produce FILE --topic T    send each record of a JSON file to Kafka\n"
    "  luastream consume --topic T         print a topic's messages\n"
    "\n"
    "run options:\n"
    "  --set NAME=VALUE     script parameter, read with ls.param(NAME, default); repeatable\n"
    "  --trigger SPEC       override the script's trigger: an interval (\"2 seconds\", \"500ms\",\n"
    "                       \"1 minute\"), once, or available-now (process what is in the\n"
    "                       topic at start, then exit 0)\n"
    "  --progress PATH      append each batch's progress report (JSON lines) to PATH\n"
    "  --ui [HOST:]PORT     serve a live web UI, /api/queries, /metrics (Prometheus) and\n"
    "                       /healthz (HOST defaults to 127.0.0.1)\n"
    "  --checkpoint DIR     keep offsets, state and commits in DIR; a restart resumes there\n"
    "                       with exactly the results of an uninterrupted run\n"
    "  --partitions N       hash partitions of aggregation state (default 16)\n"
    "  --max-state-rows N   stop with a clear error when a query's state holds more than\n"
    "                       N groups (default: no cap; also max_state_rows per query)\n"
    "  --parallelism N      worker threads, each with its own Lua state (default 1:\n"
    "                       everything on the engine thread)\n"
    "  --unsafe-lua         let the script use os.execute, io.popen and native modules\n"
    "                       (by default only lua-cjson is loadable)\n"
    "  --quiet              no progress lines on stderr\n"
    "\n"
    "produce options:\n"
    "  --topic T            topic to write (required)\n"
    "  --bootstrap B        Kafka bootstrap servers (default localhost:9092)\n"
    "  --rate N             at most N records per second\n"
    "  --key FIELD          message key from this top-level field of each record\n"
    "  --partition P        write every record to partition P\n"
    "  --max N              stop after N records\n"
    "  --kafka PROP=VALUE   librdkafka property; repeatable\n"
    "  --quiet              only the final summary line\n"
    "  --raw                send each line as one message, unchecked (empty lines too)\n"
    "  FILE is a JSON array or newline-delimited JSON, or - for stdin.\n"
    "\n"
    "consume options:\n"
    "  --topic T, --bootstrap B, --kafka PROP=VALUE as above\n"
    "  --from-beginning     start at the earliest offsets (default: only new messages)\n"
    "  --to-end             stop at the end offsets the topic had at start\n"
    "  --max N              stop after N messages\n"
    "  --meta               prefix each line with topic/partition@offset and the key\n"
    "\n"
    "  --help, --version\n"
    "\n"
    "exit codes: 0 done, 1 runtime failure, 2 bad usage, bad script or unreachable broker\n"
    "The Lua API and examples: README.md (section \"The Lua API\").\n";

static int bad_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "luastream: %s%s%s\n\n%s", msg, arg ? " " : "", arg ? arg : "", usage);
    return 2;
}

/* Splits NAME=VALUE; returns -1 when there is no '='. */
static int split_kv(const char *arg, char **name, char **value)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return -1;
    *name = ls_xstrndup(arg, (size_t)(eq - arg));
    *value = ls_xstrdup(eq + 1);
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a full file system or size limit is a write error, not a death */
}

enum { O_SET = 256, O_TRIGGER, O_PROGRESS, O_PARTITIONS, O_QUIET, O_TOPIC, O_BOOTSTRAP,
       O_RATE, O_KEY, O_PARTITION, O_MAX, O_KAFKA, O_FROM_BEGINNING, O_TO_END, O_META,
       O_HELP, O_VERSION, O_RAW, O_PARALLELISM, O_CHECKPOINT, O_UNSAFE_LUA, O_MAX_STATE, O_UI };

static const struct option longopts[] = {
    { "set", required_argument, NULL, O_SET },
    { "trigger", required_argument, NULL, O_TRIGGER },
    { "progress", required_argument, NULL, O_PROGRESS },
    { "partitions", required_argument, NULL, O_PARTITIONS },
    { "parallelism", required_argument, NULL, O_PARALLELISM },
    { "checkpoint", required_argument, NULL, O_CHECKPOINT },
    { "unsafe-lua", no_argument, NULL, O_UNSAFE_LUA },
    { "max-state-rows", required_argument, NULL, O_MAX_STATE },
    { "ui", required_argument, NULL, O_UI },
    { "quiet", no_argument, NULL, O_QUIET },
    { "topic", required_argument, NULL, O_TOPIC },
    { "bootstrap", required_argument, NULL, O_BOOTSTRAP },
    { "rate", required_argument, NULL, O_RATE },
    { "key", required_argument, NULL, O_KEY },
    { "partition", required_argument, NULL, O_PARTITION },
    { "max", required_argument, NULL, O_MAX },
    { "kafka", required_argument, NULL, O_KAFKA },
    { "from-beginning", no_argument, NULL, O_FROM_BEGINNING },
    { "to-end", no_argument, NULL, O_TO_END },
    { "meta", no_argument, NULL, O_META },
    { "raw", no_argument, NULL, O_RAW },
    { "help", no_argument, NULL, O_HELP },
    { "version", no_argument, NULL, O_VERSION },
    { NULL, 0, NULL, 0 },
};

typedef struct cli {
    ls_engine_opts run;
    ls_props props;
    const char *topic, *bootstrap, *key;
    double rate;
    long long max;
    int partition, from_beginning, to_end, meta, raw;
} cli;

static int parse_number(const char *opt, const char *arg, double *out)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || v < 0) {
        fprintf(stderr, "luastream: %s expects a non-negative number, got \"%s\"\n", opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, cli *c)
{
    int ch;
    double num;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *n, *v;
        switch (ch) {
        case O_SET:
            if (split_kv(optarg, &n, &v)) return bad_usage("--set expects NAME=VALUE, got", optarg);
            c->run.set_names = ls_xrealloc(c->run.set_names, (c->run.nset + 1) * sizeof(char *));
            c->run.set_values = ls_xrealloc(c->run.set_values, (c->run.nset + 1) * sizeof(char *));
            c->run.set_names[c->run.nset] = n;
            c->run.set_values[c->run.nset++] = v;
            break;
        case O_KAFKA:
            if (split_kv(optarg, &n, &v)) return bad_usage("--kafka expects PROP=VALUE, got", optarg);
            ls_props_set(&c->props, n, v);
            free(n);
            free(v);
            break;
        case O_TRIGGER: c->run.trigger = optarg; break;
        case O_PROGRESS: c->run.progress_path = optarg; break;
        case O_PARTITIONS:
            if (parse_number("--partitions", optarg, &num) || num < 1 || num > 65536) return 2;
            c->run.partitions = (int)num;
            break;
        case O_PARALLELISM:
            if (parse_number("--parallelism", optarg, &num) || num < 1 || num > 256) return 2;
            c->run.parallelism = (int)num;
            break;
        case O_CHECKPOINT: c->run.checkpoint = optarg; break;
        case O_UNSAFE_LUA: c->run.unsafe_lua = 1; break;
        case O_UI: c->run.ui = optarg; break;
        case O_MAX_STATE:
            if (parse_number("--max-state-rows", optarg, &num)) return 2;
            c->run.max_state_rows = (int64_t)num;
            break;
        case O_QUIET: c->run.quiet = 1; break;
        case O_TOPIC: c->topic = optarg; break;
        case O_BOOTSTRAP: c->bootstrap = optarg; break;
        case O_RATE:
            if (parse_number("--rate", optarg, &c->rate)) return 2;
            break;
        case O_KEY: c->key = optarg; break;
        case O_PARTITION:
            if (parse_number("--partition", optarg, &num)) return 2;
            c->partition = (int)num;
            break;
        case O_MAX:
            if (parse_number("--max", optarg, &num)) return 2;
            c->max = (long long)num;
            break;
        case O_FROM_BEGINNING: c->from_beginning = 1; break;
        case O_TO_END: c->to_end = 1; break;
        case O_META: c->meta = 1; break;
        case O_RAW: c->raw = 1; break;
        case O_HELP:
        case 'h':
            fputs(usage, stdout);
            return 1;
        case O_VERSION:
            printf("luastream %s\n", LS_VERSION);
            return 1;
        default:
            return bad_usage("unknown or incomplete option", argv[optind - 1]);
        }
    }
    return 0;
}

static void free_cli(cli *c)
{
    for (size_t i = 0; i < c->run.nset; i++) {
        free(c->run.set_names[i]);
        free(c->run.set_values[i]);
    }
    free(c->run.set_names);
    free(c->run.set_values);
    ls_props_free(&c->props);
}

int main(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof c);
    c.partition = -1;
    c.bootstrap = "localhost:9092";
    int rc = parse_args(argc, argv, &c);
    if (rc) {
        free_cli(&c);
        return rc == 1 ? 0 : rc;
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs == 0) {
        free_cli(&c);
        return bad_usage("missing SCRIPT or command", NULL);
    }
    install_signals();
    char err[LS_ERRLEN] = "";

    if (strcmp(args[0], "produce") == 0) {
        if (nargs != 2 || !c.topic) {
            free_cli(&c);
            return bad_usage("usage: luastream produce FILE --topic T [options]", NULL);
        }
        ls_produce_opts o = { 0 };
        o.file = args[1];
        o.topic = c.topic;
        o.bootstrap = c.bootstrap;
        o.key_field = c.key;
        o.partition = c.partition;
        o.rate = c.rate;
        o.max = c.max;
        o.connect_timeout_ms = 10000;
        o.flush_timeout_ms = 120000;
        o.quiet = c.run.quiet;
        o.raw = c.raw;
        o.props = &c.props;
        rc = ls_produce(&o);
    } else if (strcmp(args[0], "consume") == 0) {
        if (nargs != 1 || !c.topic) {
            free_cli(&c);
            return bad_usage("usage: luastream consume --topic T [options]", NULL);
        }
        ls_consume_opts o = { 0 };
        o.topic = c.topic;
        o.bootstrap = c.bootstrap;
        o.from_beginning = c.from_beginning;
        o.to_end = c.to_end;
        o.max = c.max;
        o.show_meta = c.meta;
        o.connect_timeout_ms = 10000;
        o.props = &c.props;
        o.stop = &stop_requested;
        rc = ls_consume(&o);
    } else {
        if (nargs != 1) {
            free_cli(&c);
            return bad_usage("unexpected argument", args[1]);
        }
        c.run.script = args[0];
        c.run.stop = &stop_requested;
        ls_engine *e = ls_engine_new(&c.run, err);
        if (!e) {
            fprintf(stderr, "luastream: %s\n", err);
            rc = 2;
        } else {
            if (ls_engine_run(e, err)) {
                fprintf(stderr, "luastream: %s\n", err);
                rc = strstr(err, "cannot reach Kafka") ? 2 : 1;
            }
            ls_engine_free(e);
        }
    }
    free_cli(&c);
    return rc;
}
