/* ls_consume.c - `luastream consume`: print a topic's messages for a look
 * by eye. Uses the same source as the engine (all partitions assigned).
 * The topic name is checked before anything reaches librdkafka; output
 * that cannot be written (a closed pipe: `consume | head`) ends the run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ls_consume.h"
#include "ls_source.h"

int ls_consume(const ls_consume_opts *o)
{
    ls_err err;
    if (ls_kafka_check_topic(o->topic, &err)) {
        ls_log("consume: --topic %s", err.msg);
        return 2;
    }
    ls_source *s = ls_source_new(o->bootstrap);
    ls_source_add_topic(s, o->topic);
    ls_source_decl *d = ls_source_decl_of(s);
    d->start_latest = !o->from_beginning;
    d->connect_timeout_ms = o->connect_timeout_ms;
    for (size_t i = 0; o->props && i < o->props->n; i++)
        ls_props_set(&d->props, o->props->names[i], o->props->values[i]);
    if (ls_source_open(s, o->to_end, &err)) {
        ls_log("consume: %s", err.msg);
        ls_source_free(s);
        return o->stop && *o->stop ? 128 + (int)*o->stop : 2;
    }
    int64_t n = 0;
    int rc = 0;
    while (!(o->stop && *o->stop) && !(o->max && n >= o->max) && !ls_source_exhausted(s)) {
        ls_source_part *part;
        int fatal = 0;
        rd_kafka_message_t *m = ls_source_poll(s, 200, &part, &fatal, &err);
        if (fatal) {
            ls_log("consume: %s", err.msg);
            rc = 1;
            break;
        }
        if (!m) continue;
        if (o->show_meta)
            printf("%s/%d@%lld\t%.*s\t", part ? part->topic : "?", part ? part->partition : -1,
                   (long long)m->offset, (int)m->key_len, m->key ? (const char *)m->key : "");
        fwrite(m->payload ? m->payload : "", 1, m->len, stdout);
        fputc('\n', stdout);
        rd_kafka_message_destroy(m);
        n++;
        if (ferror(stdout)) break;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE) { /* a reader that went away (| head) is not a failure */
            ls_log("consume: cannot write the output: %s", strerror(errno));
            rc = 1;
        }
    }
    ls_source_free(s);
    return rc;
}
