/* ls_sink_kafka.c - Kafka topic sink: one message per result row, value =
 * the row as JSON, key = the group key columns as JSON (so a compacted
 * topic keeps the current value of every group). The batch is flushed and
 * every delivery confirmed before close_batch returns. */
#include <stdlib.h>
#include <string.h>

#include "ls_kafka.h"
#include "ls_sink.h"

typedef struct kafka_sink {
    ls_sink base;
    ls_kafka_producer *p; /* borrowed: the engine owns producers */
    char *topic;
    ls_buf key, val;
    yajl_gen gen;
} kafka_sink;

static int open_batch(ls_sink *s, int64_t batch_id, char *err)
{
    (void)batch_id;
    (void)err;
    s->rows_in_batch = 0;
    return 0;
}

static int write_row(ls_sink *s, const ls_row *row, char *err)
{
    kafka_sink *k = (kafka_sink *)s;
    ls_buf_reset(&k->key);
    ls_buf_reset(&k->val);
    ls_row_json_with(k->gen, row, 1, &k->key);
    ls_row_json_with(k->gen, row, 0, &k->val);
    if (ls_kafka_produce(k->p, k->topic, -1, k->key.data, k->key.len, k->val.data, k->val.len,
                         err))
        return -1;
    s->rows_in_batch++;
    return 0;
}

static int close_batch(ls_sink *s, char *err)
{
    kafka_sink *k = (kafka_sink *)s;
    return ls_kafka_flush(k->p, 60000, err);
}

static void destroy(ls_sink *s)
{
    kafka_sink *k = (kafka_sink *)s;
    ls_buf_free(&k->key);
    ls_buf_free(&k->val);
    yajl_gen_free(k->gen);
    free(k->topic);
    free(s->description);
    free(k);
}

static const ls_sink_vt kafka_vt = { open_batch, write_row, close_batch, destroy };

ls_sink *ls_sink_kafka_new(ls_kafka_producer *p, const char *topic, char *err)
{
    (void)err;
    kafka_sink *k = ls_xcalloc(1, sizeof *k);
    k->base.vt = &kafka_vt;
    k->p = p;
    k->topic = ls_xstrdup(topic);
    ls_buf d;
    ls_buf_init(&d);
    ls_buf_printf(&d, "KafkaSink[%s]", topic);
    k->base.description = d.data;
    ls_buf_init(&k->key);
    ls_buf_init(&k->val);
    k->gen = ls_row_gen_new();
    return &k->base;
}
