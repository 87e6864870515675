/* ls_source_files.c - a file source (ls.file_source): Spark's file source.
 *
 * Every file the path matches is a part of the source (topic = its path,
 * partition 0) whose offsets count records, so batches, the checkpoint's
 * log and commits, replays after a crash and progress reports treat files
 * as they treat Kafka partitions, with no code of their own. Files are
 * read oldest first; a batch takes the records of the first unfinished
 * files, at most max_files_per_trigger files and max_records_per_trigger
 * records (a file cut by the cap goes on in the next batch). A file is
 * loaded when a batch first plans it and freed at the first plan after it
 * was read to its end; from then on it is "done" and never read again,
 * even if it grows (as in Spark: write a file elsewhere, then move it in).
 * Unbounded runs list the path again at most every polling_ms; bounded
 * runs (trigger once, available-now) read the files present at the start. */
#include <stdlib.h>
#include <string.h>

#include "ls_source.h"
#include "ls_source_impl.h"
#include "ls_source_files.h"

ls_source *ls_source_new_files(const char *path, ls_file_format format)
{
    ls_source *s = ls_source_new("localhost:9092"); /* sinks and dead letters default to it */
    s->d.is_files = 1;
    s->d.path = ls_xstrdup(path);
    s->d.format = format;
    s->d.polling_ms = 1000;
    s->listed_at = -1;
    ls_source_add_topic(s, path);
    return s;
}

void ls_source_use_files(ls_source *s, const char *const *paths, const ls_file_format *formats,
                         size_t n)
{
    s->d.is_files = 1;
    free(s->d.path);
    s->d.path = NULL;
    s->fixed = ls_xcalloc(n + 1, sizeof *s->fixed);
    s->fixed_formats = ls_xcalloc(n + 1, sizeof *s->fixed_formats);
    for (size_t i = 0; i < n; i++) {
        s->fixed[i] = ls_xstrdup(paths[i]);
        s->fixed_formats[i] = formats[i];
    }
    s->nfixed = n;
}

static ls_source_part *add_part(ls_source *s, const char *path)
{
    s->parts = ls_xrealloc(s->parts, (s->nparts + 1) * sizeof *s->parts);
    ls_source_part *p = &s->parts[s->nparts++];
    memset(p, 0, sizeof *p);
    p->topic = ls_xstrdup(path);
    p->latest = -1; /* unknown until loaded */
    p->bound = -1;
    p->resume = -1;
    p->fixed_end = -1;
    p->reached = 1;
    p->format = s->d.format;
    return p;
}

/* Adds the files not known yet; returns how many. Failures are reported
 * once until listing works again. */
static size_t list_new(ls_source *s)
{
    s->listed_at = ls_mono_ms();
    ls_file_entry *l;
    size_t n;
    ls_err err;
    if (ls_files_list(s->d.path, &l, &n, &err)) {
        if (!s->list_failing) ls_log("file source: %s (retrying)", err.msg);
        s->list_failing = 1;
        return 0;
    }
    s->list_failing = 0;
    size_t added = 0;
    for (size_t i = 0; i < n; i++)
        if (!ls_source_find(s, l[i].path, 0)) {
            add_part(s, l[i].path);
            added++;
        }
    ls_files_list_free(l, n);
    return added;
}

static void maybe_list(ls_source *s)
{
    if (s->bounded || !s->d.path) return;
    if (s->listed_at >= 0 && ls_mono_ms() - s->listed_at < (double)s->d.polling_ms) return;
    list_new(s);
}

int ls_fsrc_open(ls_source *s, int bounded, ls_err *err)
{
    (void)err;
    s->bounded = bounded;
    if (!s->d.path) { /* a fixed list, read in its order; a file given twice is read twice */
        for (size_t i = 0; i < s->nfixed; i++) add_part(s, s->fixed[i])->format = s->fixed_formats[i];
        return 0;
    }
    /* files a checkpoint knows first, in the order they were found */
    for (size_t r = 0; r < s->nresume; r++) {
        ls_source_part *p = add_part(s, s->resume[r].topic);
        if (s->resume[r].next == LS_FILE_DONE) p->done = 1;
        else p->next = s->resume[r].next;
        p->batch_start = p->batch_end = p->next;
    }
    list_new(s);
    return 0;
}

static void unload(ls_source_part *p)
{
    if (!p->recs) return;
    ls_file_records_free(p->recs);
    free(p->recs);
    p->recs = NULL;
}

/* Reads part p's file; one that cannot be read is reported and skipped. */
static int load(ls_source_part *p)
{
    ls_err err;
    p->recs = ls_xcalloc(1, sizeof *p->recs);
    if (ls_file_records_load(p->topic, p->format, p->recs, &err)) {
        ls_log("file source: %s (skipped)", err.msg);
        free(p->recs);
        p->recs = NULL;
        p->done = 1;
        return -1;
    }
    p->latest = (int64_t)p->recs->n;
    if (p->next > p->latest) {
        ls_log("file source: %s has %lld records, fewer than the %lld already read "
               "(it was rewritten; it is not read again)",
               p->topic, (long long)p->latest, (long long)p->next);
        p->next = p->latest;
    }
    return 0;
}

int64_t ls_fsrc_plan(ls_source *s, int64_t cap)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].done) unload(&s->parts[i]);
    maybe_list(s);
    int replay = 0;
    for (size_t i = 0; i < s->nparts; i++) replay |= s->parts[i].fixed_end >= 0;
    int64_t planned = 0, files = 0;
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        int64_t fixed = p->fixed_end;
        p->fixed_end = -1;
        p->batch_start = p->batch_end = p->next;
        p->reached = 1;
        if (p->done) continue;
        if (replay ? fixed <= p->next
                   : (s->d.max_files > 0 && files >= s->d.max_files) || (cap > 0 && planned >= cap))
            continue;
        if (!p->recs && load(p)) continue;
        int64_t end = replay && fixed < p->latest ? fixed : p->latest;
        if (!replay && cap > 0 && end - p->next > cap - planned) end = p->next + (cap - planned);
        if (end <= p->next) {
            if (p->next >= p->latest) p->done = 1; /* an empty file */
            continue;
        }
        p->batch_end = end;
        p->reached = 0;
        planned += end - p->next;
        files++;
    }
    return planned;
}

size_t ls_fsrc_read(ls_source *s, size_t pi, ls_record *out, size_t max)
{
    ls_source_part *p = &s->parts[pi];
    /* a fixed list (test inputs) names files by their base name: expected
     * dead letters do not depend on where the test runs from */
    const char *name = p->topic;
    if (!s->d.path && strrchr(name, '/')) name = strrchr(name, '/') + 1;
    size_t k = 0;
    while (k < max && p->next < p->batch_end && p->recs) {
        const ls_file_span *sp = &p->recs->recs[p->next];
        out[k] = (ls_record){ NULL, p->recs->buf + sp->off, sp->len, name, sp->line, p->next,
                              p->recs->msgs ? &p->recs->msgs[p->next] : NULL };
        p->next++;
        k++;
    }
    if (p->next >= p->batch_end || !p->recs) p->reached = 1;
    return k;
}

void ls_fsrc_end_batch(ls_source *s)
{
    /* the records stay loaded until the next plan: workers may still hold them */
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        if (p->recs && p->next >= p->latest) p->done = 1;
    }
}

size_t ls_fsrc_arrived(ls_source *s)
{
    maybe_list(s);
    size_t n = 0;
    for (size_t i = 0; i < s->nparts; i++) {
        const ls_source_part *p = &s->parts[i];
        n += !p->done && (!p->recs || p->next < p->latest);
    }
    return n;
}

void ls_fsrc_free(ls_source *s)
{
    for (size_t i = 0; i < s->nparts; i++) unload(&s->parts[i]);
    for (size_t i = 0; i < s->nfixed; i++) free(s->fixed[i]);
    free(s->fixed);
    free(s->fixed_formats);
    free(s->d.path);
}
