/* ls_checkpoint.c - checkpoint files and recovery (see ls_checkpoint.h). */
#include "ls_checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl_gen.h>
#include <yajl_tree.h>

#include "ls_plan.h"
#include "ls_sink.h"

struct ls_checkpoint {
    char *dir;
    int64_t next_batch;   /* the first batch this run executes */
    int replay;           /* offsets/next_batch exists: replay it within its limits */
    void *replay_offsets; /* yajl tree of that entry's offsets */
    int64_t kept;         /* batches of history kept (older files are removed) */
    size_t nfiles;        /* the output files' lengths between batches */
    const char **file_paths; /* borrowed from the sinks and the dead-letter output */
    int64_t *file_lens;
    int lock_fd;          /* DIR/lock, flock'ed while the run lasts: one run per directory */
};

int64_t ls_checkpoint_next_batch(const ls_checkpoint *c)
{
    return c->next_batch;
}

int ls_checkpoint_replaying(const ls_checkpoint *c)
{
    return c->replay && c->replay_offsets;
}

#define KEEP_BATCHES 2

/* ---- files ---------------------------------------------------------- */

static void path_of(ls_buf *b, const ls_checkpoint *cp, const char *sub, int64_t n)
{
    ls_buf_reset(b);
    if (n >= 0) ls_buf_printf(b, "%s/%s/%lld", cp->dir, sub, (long long)n);
    else ls_buf_printf(b, "%s/%s", cp->dir, sub);
}

static int fsync_dir(const char *path)
{
    char *d = ls_xstrdup(path);
    char *slash = strrchr(d, '/');
    if (slash) *slash = '\0';
    int fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY);
    free(d);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes via a temporary file, fsync and rename: all or nothing. */
int ls_checkpoint_write_file(const char *path, const char *data, size_t len, ls_err *err)
{
    ls_buf tmp;
    ls_buf_init(&tmp);
    ls_buf_printf(&tmp, "%s.tmp", path);
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int ok = fd >= 0 && ls_write_all(fd, data, len, NULL) == 0;
    if (ok && fsync(fd) != 0) ok = 0;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    if (ok && rename(tmp.data, path) != 0) ok = 0;
    if (ok) fsync_dir(path);
    if (!ok) {
        ls_seterr(err, "checkpoint: cannot write %s: %s", path, strerror(errno));
        unlink(tmp.data);
    }
    ls_buf_free(&tmp);
    return ok ? 0 : -1;
}

static yajl_val read_json(const char *path, ls_err *err)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_err why;
    if (ls_read_file(path, &b, &why)) {
        ls_seterr(err, "checkpoint: cannot read %s", why.msg);
        ls_buf_free(&b);
        return NULL;
    }
    char perr[256];
    yajl_val v = yajl_tree_parse(b.data, perr, sizeof perr);
    ls_buf_free(&b);
    if (!v || !YAJL_IS_OBJECT(v)) {
        ls_seterr(err, "checkpoint: %s is corrupt or truncated (not a JSON object)", path);
        if (v) yajl_tree_free(v);
        return NULL;
    }
    return v;
}

static yajl_val field(yajl_val obj, const char *name)
{
    const char *p[] = { name, NULL };
    return yajl_tree_get(obj, p, yajl_t_any);
}

/* Largest N among the numeric names in dir/sub, or -1. */
static int64_t latest(const ls_checkpoint *cp, const char *sub)
{
    ls_buf p;
    ls_buf_init(&p);
    path_of(&p, cp, sub, -1);
    DIR *d = opendir(p.data);
    ls_buf_free(&p);
    if (!d) return -1;
    int64_t best = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long long v = strtoll(de->d_name, &end, 10);
        if (end != de->d_name && *end == '\0' && v > best) best = v;
    }
    closedir(d);
    return best;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- what is recorded ------------------------------------------------ */

static void gen_str(yajl_gen g, const char *s) { yajl_gen_string(g, (const unsigned char *)s, strlen(s)); }

/* A signature of what the state depends on: grouping, aggregates, mode,
 * topics. A checkpoint from another declaration cannot be resumed. */
void ls_checkpoint_signature(const ls_query *q, char out[17])
{
    const ls_query_decl *qd = ls_query_declared(q);
    ls_buf b;
    ls_buf_init(&b);
    for (size_t t = 0; t < ls_source_declared(qd->source)->ntopics; t++) ls_buf_printf(&b, "topic %s;", ls_source_declared(qd->source)->topics[t]);
    for (size_t i = 0; i < qd->ngroups; i++) {
        const ls_groupcol *g = &qd->groups[i];
        ls_buf_printf(&b, "group %s %s", g->name, g->col.name);
        if (g->is_window) ls_buf_printf(&b, " %lld/%lld", (long long)g->win.size, (long long)g->win.slide);
        ls_buf_putc(&b, ';');
    }
    for (size_t a = 0; a < qd->naggs; a++) {
        ls_buf_printf(&b, "agg %s %s %s", ls_agg_fn_name(qd->aggs[a].fn),
                      qd->aggs[a].column ? qd->aggs[a].column : "*", qd->aggs[a].name);
        ls_agg_params_text(&qd->aggs[a], &b); /* sketches: their parameters */
        ls_buf_putc(&b, ';');
    }
    ls_buf_printf(&b, "mode %s", ls_mode_name(qd->mode));
    snprintf(out, 17, "%016llx", (unsigned long long)ls_hash(b.data, b.len));
    ls_buf_free(&b);
}

/* Every partition's offset: the planned end of the batch (the log entry
 * written before reading it) or the position reached (its commit). */
static void gen_offsets(yajl_gen g, const ls_plan *pl, int planned_end)
{
    gen_str(g, "sources");
    yajl_gen_array_open(g);
    for (size_t s = 0; s < pl->nsources; s++) {
        const ls_source *src = pl->sources[s];
        yajl_gen_array_open(g);
        for (size_t i = 0; i < ls_source_nparts(src); i++) {
            yajl_gen_array_open(g);
            gen_str(g, ls_source_part_at(src, i)->topic);
            yajl_gen_integer(g, ls_source_part_at(src, i)->partition);
            yajl_gen_integer(g, ls_source_position(ls_source_part_at(src, i), planned_end));
            yajl_gen_array_close(g);
        }
        yajl_gen_array_close(g);
    }
    yajl_gen_array_close(g);
}

static void note_files(ls_checkpoint *cp, const ls_plan *pl);

void ls_checkpoint_adopt(ls_checkpoint *cp, ls_plan *pl)
{
    free(cp->file_paths); /* they were borrowed from the sinks it had */
    free(cp->file_lens);
    cp->file_paths = NULL;
    cp->file_lens = NULL;
    note_files(cp, pl);
}

/* Records the current lengths of the output files (sinks and dead
 * letters): at open and after each commit, i.e. between batches, when
 * everything is flushed; a batch's entry reports these, not lengths taken
 * after its records were processed (buffered dead letters may already have
 * reached the disk by then). */
static void note_files(ls_checkpoint *cp, const ls_plan *pl)
{
    if (!cp->file_paths) {
        cp->file_paths = ls_xcalloc(pl->nqueries + 1, sizeof *cp->file_paths);
        cp->file_lens = ls_xcalloc(pl->nqueries + 1, sizeof *cp->file_lens);
    }
    cp->nfiles = 0;
    for (size_t i = 0; i <= pl->nqueries; i++) {
        const char *f = i < pl->nqueries ? ls_query_declared(pl->queries[i])->sink->file : pl->dl->path;
        struct stat st;
        if (f && stat(f, &st) == 0) {
            cp->file_paths[cp->nfiles] = f;
            cp->file_lens[cp->nfiles++] = (int64_t)st.st_size;
        }
    }
}

static void gen_files(yajl_gen g, const ls_checkpoint *cp)
{
    gen_str(g, "files");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < cp->nfiles; i++) {
        gen_str(g, cp->file_paths[i]);
        yajl_gen_integer(g, cp->file_lens[i]);
    }
    yajl_gen_map_close(g);
}

static int write_gen(yajl_gen g, const char *path, ls_err *err)
{
    const unsigned char *p;
    size_t len;
    yajl_gen_get_buf(g, &p, &len);
    int rc = ls_checkpoint_write_file(path, (const char *)p, len, err);
    yajl_gen_free(g);
    return rc;
}

/* Cuts the output files back to the lengths an entry recorded. */
static int restore_files(yajl_val entry, const char *path, ls_err *err)
{
    yajl_val files = field(entry, "files");
    if (!files || !YAJL_IS_OBJECT(files)) {
        ls_seterr(err, "checkpoint: %s has no \"files\"", path);
        return -1;
    }
    for (size_t i = 0; i < YAJL_GET_OBJECT(files)->len; i++) {
        const char *f = YAJL_GET_OBJECT(files)->keys[i];
        yajl_val len = YAJL_GET_OBJECT(files)->values[i];
        if (!YAJL_IS_INTEGER(len)) continue;
        struct stat st;
        if (stat(f, &st) == 0 && st.st_size > YAJL_GET_INTEGER(len) &&
            truncate(f, (off_t)YAJL_GET_INTEGER(len)) != 0) {
            ls_seterr(err, "checkpoint: cannot cut %s back to %lld bytes: %s", f,
                      (long long)YAJL_GET_INTEGER(len), strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Calls fn(source, topic, partition, offset) for each recorded position. */
static int each_offset(ls_plan *pl, yajl_val entry, const char *path,
                       void (*fn)(ls_source *, const char *, int32_t, int64_t), ls_err *err)
{
    yajl_val srcs = field(entry, "sources");
    if (!srcs || !YAJL_IS_ARRAY(srcs) || YAJL_GET_ARRAY(srcs)->len != pl->nsources) {
        ls_seterr(err, "checkpoint: %s does not match the script's sources", path);
        return -1;
    }
    for (size_t s = 0; s < pl->nsources; s++) {
        yajl_val parts = YAJL_GET_ARRAY(srcs)->values[s];
        if (!YAJL_IS_ARRAY(parts)) goto bad;
        for (size_t i = 0; i < YAJL_GET_ARRAY(parts)->len; i++) {
            yajl_val p = YAJL_GET_ARRAY(parts)->values[i];
            if (!YAJL_IS_ARRAY(p) || YAJL_GET_ARRAY(p)->len != 3) goto bad;
            yajl_val *v = YAJL_GET_ARRAY(p)->values;
            if (!YAJL_IS_STRING(v[0]) || !YAJL_IS_INTEGER(v[1]) || !YAJL_IS_INTEGER(v[2])) goto bad;
            fn(pl->sources[s], YAJL_GET_STRING(v[0]), (int32_t)YAJL_GET_INTEGER(v[1]),
               YAJL_GET_INTEGER(v[2]));
        }
    }
    return 0;
bad:
    ls_seterr(err, "checkpoint: %s is corrupt (bad offsets)", path);
    return -1;
}

/* ---- open / recover ----------------------------------------------------- */

static int check_metadata(ls_checkpoint *cp, ls_plan *pl, ls_err *err)
{
    ls_buf p;
    ls_buf_init(&p);
    path_of(&p, cp, "metadata", -1);
    int rc = -1;
    if (!exists(p.data)) {
        yajl_gen g = yajl_gen_alloc(NULL);
        yajl_gen_map_open(g);
        gen_str(g, "version");
        yajl_gen_integer(g, 1);
        gen_str(g, "queries");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < pl->nqueries; i++) {
            char sig[17];
            ls_checkpoint_signature(pl->queries[i], sig);
            yajl_gen_map_open(g);
            gen_str(g, "name");
            gen_str(g, ls_query_declared(pl->queries[i])->name);
            gen_str(g, "signature");
            gen_str(g, sig);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
        rc = write_gen(g, p.data, err);
        ls_buf_free(&p);
        return rc;
    }
    yajl_val md = read_json(p.data, err);
    if (!md) goto out;
    yajl_val qs = field(md, "queries");
    if (!qs || !YAJL_IS_ARRAY(qs)) {
        ls_seterr(err, "checkpoint: %s is corrupt (no queries)", p.data);
        goto out;
    }
    if (YAJL_GET_ARRAY(qs)->len != pl->nqueries) {
        ls_seterr(err, "checkpoint %s was written by a script with %zu quer%s, this one has %zu: "
                  "use a new checkpoint directory", p.data, YAJL_GET_ARRAY(qs)->len,
                  YAJL_GET_ARRAY(qs)->len == 1 ? "y" : "ies", pl->nqueries);
        goto out;
    }
    for (size_t i = 0; i < pl->nqueries; i++) {
        yajl_val q = YAJL_GET_ARRAY(qs)->values[i];
        yajl_val name = field(q, "name"), sig = field(q, "signature");
        char want[17];
        ls_checkpoint_signature(pl->queries[i], want);
        if (!YAJL_IS_STRING(name) || !YAJL_IS_STRING(sig)) {
            ls_seterr(err, "checkpoint: %s is corrupt", p.data);
            goto out;
        }
        const char *have_name = YAJL_GET_STRING(name), *have_sig = YAJL_GET_STRING(sig);
        if (!have_name || !have_sig || strcmp(have_name, ls_query_declared(pl->queries[i])->name) != 0 ||
            strcmp(have_sig, want) != 0) {
            ls_seterr(err, "checkpoint %s was written by another script: query %s changed "
                      "(name, source, grouping, aggregates or output mode); use a new "
                      "checkpoint directory", p.data, ls_query_declared(pl->queries[i])->name);
            goto out;
        }
    }
    rc = 0;
out:
    if (md) yajl_tree_free(md);
    ls_buf_free(&p);
    return rc;
}

static void set_resume(ls_source *s, const char *topic, int32_t part, int64_t off)
{
    ls_source_resume_at(s, topic, part, off);
}

static int restore_commit(ls_checkpoint *cp, ls_plan *pl, int64_t c, ls_err *err)
{
    ls_buf p;
    ls_buf_init(&p);
    path_of(&p, cp, "commits", c);
    int rc = -1;
    yajl_val cm = read_json(p.data, err);
    if (!cm) goto out;
    if (each_offset(pl, cm, p.data, set_resume, err) || restore_files(cm, p.data, err)) goto out;
    yajl_val wms = field(cm, "eventTimeWatermarks");
    yajl_val old = field(cm, "watermarks"); /* checkpoints of luastream 0.1 */
    for (size_t i = 0; i < pl->nqueries; i++) {
        ls_query *q = pl->queries[i];
        const char *wp[] = { ls_query_declared(q)->name, NULL };
        const char *bp[] = { ls_query_declared(q)->name, "batch", NULL }, *np[] = { ls_query_declared(q)->name, "next", NULL };
        yajl_val b = wms ? yajl_tree_get(wms, bp, yajl_t_number) : NULL;
        yajl_val nx = wms ? yajl_tree_get(wms, np, yajl_t_number) : NULL;
        yajl_val w = old ? yajl_tree_get(old, wp, yajl_t_array) : NULL;
        if (b && nx && YAJL_IS_INTEGER(b) && YAJL_IS_INTEGER(nx)) {
            ls_query_restore_watermark(q, YAJL_GET_INTEGER(b), YAJL_GET_INTEGER(nx));
        } else if (w && YAJL_GET_ARRAY(w)->len == 2 && YAJL_IS_INTEGER(YAJL_GET_ARRAY(w)->values[0]) &&
                   YAJL_GET_INTEGER(YAJL_GET_ARRAY(w)->values[0]) != LS_NO_TIME) {
            int64_t t = YAJL_GET_INTEGER(YAJL_GET_ARRAY(w)->values[0]);
            ls_query_restore_watermark(q, t, t);
        }
        ls_buf sp;
        ls_buf_init(&sp);
        ls_buf_printf(&sp, "%s/state/%s/%lld", cp->dir, ls_query_declared(q)->name, (long long)c);
        FILE *f = fopen(sp.data, "rb");
        if (!f) {
            ls_seterr(err, "checkpoint: missing state snapshot %s: %s", sp.data, strerror(errno));
            ls_buf_free(&sp);
            goto out;
        }
        int bad = ls_state_load(ls_query_state(q), f, sp.data, err);
        fclose(f);
        ls_buf_free(&sp);
        if (bad) goto out;
    }
    rc = 0;
out:
    if (cm) yajl_tree_free(cm);
    ls_buf_free(&p);
    return rc;
}

/* ---- one run per directory -------------------------------------------- */

/* DIR/lock, flock'ed for the run's lifetime (the kernel releases it when
 * the process ends, kill -9 included), holding the pid of the run that has
 * it. A second run on the same directory is refused, naming that pid. */
int ls_checkpoint_lock(const char *dir, ls_err *err)
{
    if (ls_mkdirs(dir, err)) return -1;
    ls_buf p;
    ls_buf_init(&p);
    ls_buf_printf(&p, "%s/lock", dir);
    int fd = open(p.data, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ls_seterr(err, "checkpoint: cannot open %s: %s", p.data, strerror(errno));
        ls_buf_free(&p);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        char pid[32] = "";
        ssize_t n = busy ? pread(fd, pid, sizeof pid - 1, 0) : -1;
        pid[n > 0 ? (size_t)n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (busy)
            ls_seterr(err, "checkpoint directory %s is in use by another luastream run (pid %s): "
                      "two runs on one checkpoint would corrupt it; stop that run, or give this "
                      "one another --checkpoint", dir, pid[0] ? pid : "unknown");
        else
            ls_seterr(err, "checkpoint: cannot lock %s: %s", p.data, strerror(errno));
        close(fd);
        ls_buf_free(&p);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        ls_seterr(err, "checkpoint: cannot write %s: %s", p.data, strerror(errno));
        close(fd);
        ls_buf_free(&p);
        return -1;
    }
    ls_buf_free(&p);
    return fd;
}

ls_checkpoint *ls_checkpoint_open(const char *dir, int lock_fd, ls_plan *pl, ls_err *err)
{
    ls_checkpoint *cp = ls_xcalloc(1, sizeof *cp);
    cp->dir = ls_xstrdup(dir);
    cp->kept = KEEP_BATCHES;
    cp->lock_fd = lock_fd;
    ls_buf p;
    ls_buf_init(&p);
    const char *subs[] = { "offsets", "commits", "state" };
    for (size_t i = 0; i < 3; i++) {
        path_of(&p, cp, subs[i], -1);
        if (ls_mkdirs(p.data, err)) goto fail;
    }
    for (size_t i = 0; i < pl->nqueries; i++) {
        ls_buf_reset(&p);
        ls_buf_printf(&p, "%s/state/%s", dir, ls_query_declared(pl->queries[i])->name);
        if (ls_mkdirs(p.data, err)) goto fail;
    }
    if (check_metadata(cp, pl, err)) goto fail;

    int64_t c = latest(cp, "commits");
    if (c >= 0 && restore_commit(cp, pl, c, err)) goto fail;
    cp->next_batch = c + 1;
    path_of(&p, cp, "offsets", cp->next_batch);
    if (exists(p.data)) {
        yajl_val wal = read_json(p.data, err);
        if (!wal) goto fail;
        /* Without a commit, the entry also tells how long the files were. */
        if (c < 0 && restore_files(wal, p.data, err)) {
            yajl_tree_free(wal);
            goto fail;
        }
        cp->replay = 1;
        cp->replay_offsets = wal;
    }
    ls_checkpoint_adopt(cp, pl); /* after the cut: what the first batch starts from */
    ls_buf_free(&p);
    return cp;
fail:
    ls_buf_free(&p);
    ls_checkpoint_free(cp);
    return NULL;
}

static void set_replay(ls_source *s, const char *topic, int32_t part, int64_t off)
{
    ls_source_replay(s, topic, part, off);
}

void ls_checkpoint_apply_replay(ls_checkpoint *cp, ls_plan *pl)
{
    if (!cp->replay) return;
    ls_err err;
    if (each_offset(pl, cp->replay_offsets, "offsets", set_replay, &err) == 0)
        ls_log("checkpoint: replaying batch %lld over the offsets it recorded",
               (long long)cp->next_batch);
}

/* ---- per batch ---------------------------------------------------------- */

int ls_checkpoint_wal(ls_checkpoint *cp, ls_plan *pl, int64_t batch, ls_err *err)
{
    if (cp->replay && batch == cp->next_batch) return 0; /* its entry is already there */
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    gen_str(g, "batchId");
    yajl_gen_integer(g, batch);
    gen_offsets(g, pl, 1);
    gen_files(g, cp); /* before this batch's rows: what a restart cuts back to */
    yajl_gen_map_close(g);
    ls_buf p;
    ls_buf_init(&p);
    path_of(&p, cp, "offsets", batch);
    int rc = write_gen(g, p.data, err);
    ls_buf_free(&p);
    return rc;
}

static void prune(ls_checkpoint *cp, ls_plan *pl, int64_t batch)
{
    ls_buf p;
    ls_buf_init(&p);
    for (int64_t old = batch - cp->kept; old >= 0 && old > batch - cp->kept - 64; old--) {
        path_of(&p, cp, "offsets", old);
        unlink(p.data);
        path_of(&p, cp, "commits", old);
        unlink(p.data);
        for (size_t i = 0; i < pl->nqueries; i++) {
            ls_buf_reset(&p);
            ls_buf_printf(&p, "%s/state/%s/%lld", cp->dir, ls_query_declared(pl->queries[i])->name, (long long)old);
            unlink(p.data);
        }
    }
    ls_buf_free(&p);
}

int ls_checkpoint_commit(ls_checkpoint *cp, ls_plan *pl, int64_t batch, ls_err *err)
{
    ls_buf p;
    ls_buf_init(&p);
    for (size_t i = 0; i < pl->nqueries; i++) {
        ls_query *q = pl->queries[i];
        ls_buf_reset(&p);
        ls_buf_printf(&p, "%s/state/%s/%lld.tmp", cp->dir, ls_query_declared(q)->name, (long long)batch);
        FILE *f = fopen(p.data, "wb");
        int bad = !f || ls_state_save(ls_query_state(q), f) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0;
        if (f && fclose(f) != 0) bad = 1;
        ls_buf fin;
        ls_buf_init(&fin);
        ls_buf_append(&fin, p.data, p.len - 4);
        if (!bad && rename(p.data, fin.data) != 0) bad = 1;
        if (bad) {
            ls_seterr(err, "checkpoint: cannot write %s: %s", fin.data, strerror(errno));
            unlink(p.data);
            ls_buf_free(&fin);
            ls_buf_free(&p);
            return -1;
        }
        fsync_dir(fin.data);
        ls_buf_free(&fin);
    }
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    gen_str(g, "batchId");
    yajl_gen_integer(g, batch);
    gen_offsets(g, pl, 0);
    note_files(cp, pl); /* the sinks wrote and flushed this batch */
    gen_files(g, cp);
    /* per query: the watermark this batch ran with (the next batch's late
     * rows are judged by it) and the one the next batch runs with */
    gen_str(g, "eventTimeWatermarks");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < pl->nqueries; i++) {
        gen_str(g, ls_query_declared(pl->queries[i])->name);
        yajl_gen_map_open(g);
        gen_str(g, "batch");
        yajl_gen_integer(g, ls_query_watermark(pl->queries[i])->batch);
        gen_str(g, "next");
        yajl_gen_integer(g, ls_query_watermark(pl->queries[i])->global);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    path_of(&p, cp, "commits", batch);
    int rc = write_gen(g, p.data, err);
    ls_buf_free(&p);
    if (rc) return -1;
    prune(cp, pl, batch);
    for (size_t s = 0; s < pl->nsources; s++) ls_source_commit_group(pl->sources[s]);
    return 0;
}

void ls_checkpoint_free(ls_checkpoint *cp)
{
    if (!cp) return;
    if (cp->lock_fd >= 0) close(cp->lock_fd); /* releases the lock */
    if (cp->replay_offsets) yajl_tree_free(cp->replay_offsets);
    free(cp->file_paths);
    free(cp->file_lens);
    free(cp->dir);
    free(cp);
}
