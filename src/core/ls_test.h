/* ls_test.h - `luastream test`: a script run over files instead of Kafka,
 * its final rows compared with expected ones (Kafka Streams users have
 * TopologyTestDriver, Benthos users `benthos test`).
 *
 * The script is loaded as for a run; each source reads the files given
 * with --input (a Kafka source reads each record as a message's value:
 * a .json file as a JSON array or values one after another, any other
 * file one record per line; a file source reads them in its own format);
 * every sink and the dead-letter output keep rows in memory; nothing
 * touches the network or a checkpoint. The run is available-now: one
 * batch, or batches of --batch-size records per source with the watermark
 * advancing between them, then the no-data batch a watermark asks for.
 * A query's final rows are what a table fed by it would hold at the end
 * (see ls_sink_memory.c), written as JSON lines with sorted keys, sorted.
 * Dead letters name an input file by its base name, wherever it is. */
#ifndef LS_TEST_H
#define LS_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "ls_engine.h"

typedef struct ls_test_opts {
    ls_engine_opts run;        /* script, --set, --partitions, ... */
    const char *const *inputs; /* --input [SOURCE=]FILE, in order */
    size_t ninputs;
    const char *expect_dir;    /* --expect DIR, or NULL */
    const char *output_dir;    /* --output DIR, or NULL (stdout) */
    int64_t batch_size;        /* --batch-size N, 0 = one batch */
} ls_test_opts;

/* Runs the test; returns the exit status: 0 (rows as expected, or written),
 * 1 (rows differ, or the run failed), 2 (a usage or script error). */
int ls_test(const ls_test_opts *o);

/* The canonical text of one JSON value: objects' keys sorted, no spaces;
 * with numbers_by_value, numbers written by their value (1, 1.0 and 1e0
 * are one text), for comparisons. -1 with err when json is not JSON. */
int ls_test_canonical(const char *json, size_t len, int numbers_by_value, ls_buf *out,
                      ls_err *err);

#endif
