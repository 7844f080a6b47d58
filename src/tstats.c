/* tstats: statistics of every tensor of a model (see tstats.h). */
#include "src/tstats.h"
#include "src/tscache.h"

#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tstats_opts_default(struct tstats_opts *o)
{
    memset(o, 0, sizeof *o);
    stats_opts_default(&o->st);
}

const char *tstats_channels_name(enum tstats_channels c)
{
    switch (c) {
    case TSTATS_ROWS: return "rows";
    case TSTATS_COLS: return "cols";
    default: return "none";
    }
}

/* ---- tiled sources: the file bytes converted a tile at a time ---- */

#define TS_MAX_BLOCK 256 /* largest block of the ggml types (K-quants) */

/* The floats to measure when they already exist in memory: the override,
 * a float copy made earlier, or aligned F32 bytes of a model that has no
 * file descriptor to stream from.  NULL: stream through a qtreader. */
static const float *in_memory(const struct qtensor *t, const struct qtreader *rd)
{
    const float *x = qtensor_f32_direct(t, 1); /* never an evictable copy */
    if (t->override || (x && x != t->data) || rd->fd < 0)
        return x;
    return NULL;
}

static int conv_error(const struct qtensor *t, struct qerr *err)
{
    return qerr_set(err, QERR_UNSUPP, "%s: cannot convert %s to float", t->name,
                    qdtype_name(t->dtype));
}

/* After a streamed pass: a short read means the file shrank. */
static int read_error(const struct qmodel *m, const struct qtreader *rd, struct qerr *err)
{
    const struct qtensor *t = rd->t;
    return qerr_set(err, QERR_FORMAT, "%s: tensor %s: reading its data failed (the file was "
                    "truncated while open?)", m->maps[t->map_index].path, t->name);
}

struct tsrc {
    struct qtreader *rd;
    int64_t bs;                               /* elements per block       */
    float tmp[STATS_SRC_MAX + 2 * TS_MAX_BLOCK]; /* misaligned ranges     */
};

/* A range the reader refused (only after a failed read: the ranges are
 * checked) reads as zeros; the caller reports rd->failed. */
static const float *zeros(float *buf, size_t len)
{
    memset(buf, 0, len * sizeof *buf);
    return buf;
}

/* Elements [off, off+len): aligned ranges decode straight into buf (or
 * come as a pointer into the reader's window); a range inside a block
 * (the engine's second pass re-reads 64 values) decodes the blocks around
 * it into tmp. */
static const float *tsrc_fetch(void *ud, size_t off, size_t len, float *buf)
{
    struct tsrc *s = ud;
    int64_t n = s->rd->t->nelem, o = (int64_t)off, l = (int64_t)len;
    if (o % s->bs == 0 && (l % s->bs == 0 || o + l == n)) {
        const float *p = qtreader_get(s->rd, o, l, buf);
        return p ? p : zeros(buf, len);
    }
    int64_t a0 = o / s->bs * s->bs, a1 = (o + l + s->bs - 1) / s->bs * s->bs;
    a1 = a1 < n ? a1 : n;
    const float *p = qtreader_get(s->rd, a0, a1 - a0, s->tmp);
    return p ? p + (o - a0) : zeros(buf, len);
}

/* Whole-tensor statistics: in place when floats exist, else tiled. */
static int tstats_whole(const struct qmodel *m, struct qtreader *rd, const struct tstats_opts *o,
                        struct stats *st, struct qerr *err)
{
    const struct qtensor *t = rd->t;
    const float *x = in_memory(t, rd); /* x: (nelem) */
    if (x) {
        stats_compute(x, (size_t)t->nelem, &o->st, st);
        return 0;
    }
    int bs = qdtype_block(t->dtype);
    if (bs < 1 || bs > TS_MAX_BLOCK || t->nelem % bs)
        return conv_error(t, err);
    struct tsrc *s = malloc(sizeof *s);
    if (!s)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory converting to float", t->name);
    s->rd = rd;
    s->bs = bs;
    struct stats_src src = {tsrc_fetch, s};
    int rc = stats_compute_src(&src, (size_t)t->nelem, &o->st, st);
    free(s);
    if (rc)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for statistics", t->name);
    return rd->failed ? read_error(m, rd, err) : 0;
}

/* Per-row statistics, one converted row at a time. */
static int tstats_by_row(const struct qmodel *m, struct qtreader *rd, const struct tstats_opts *o,
                         struct stats *ch, struct qerr *err)
{
    const struct qtensor *t = rd->t;
    int64_t rows = qtensor_rows(t), cols = qtensor_cols(t);
    const float *x = in_memory(t, rd); /* x: (rows, cols) */
    if (x) {
        stats_per_channel(x, (size_t)rows, (size_t)cols, STATS_ROWS, &o->st, ch);
        return 0;
    }
    float *row = malloc((size_t)cols * sizeof *row);
    if (!row)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for a row", t->name);
    int rc = 0;
    for (int64_t r = 0; r < rows && !rc; r++) {
        const float *p;
        if (o->cancel && *o->cancel)
            rc = qerr_set(err, QERR_CANCEL, "statistics cancelled");
        else if (!(p = qtreader_get(rd, r * cols, cols, row)))
            rc = rd->failed ? read_error(m, rd, err) : conv_error(t, err);
        else
            stats_compute(p, (size_t)cols, &o->st, &ch[r]);
    }
    free(row);
    return rc;
}

static const float *rows_fetch(void *ud, size_t r0, size_t nr, float *buf)
{
    struct qtreader *rd = ud;
    int64_t cols = qtensor_cols(rd->t);
    const float *p = qtreader_get(rd, (int64_t)r0 * cols, (int64_t)nr * cols, buf);
    return p ? p : zeros(buf, nr * (size_t)cols);
}

/* Per-column statistics: the matrix streamed a block of rows at a time
 * (two passes), never a float copy of the tensor. */
static int tstats_by_col(const struct qmodel *m, struct qtreader *rd, const struct tstats_opts *o,
                         struct stats *ch, struct qerr *err)
{
    const struct qtensor *t = rd->t;
    int64_t rows = qtensor_rows(t), cols = qtensor_cols(t);
    const float *x = in_memory(t, rd);
    if (x) {
        stats_per_channel(x, (size_t)rows, (size_t)cols, STATS_COLS, &o->st, ch);
        return 0;
    }
    if (qdtype_block(t->dtype) < 1)
        return conv_error(t, err);
    struct stats_rows_src src = {rows_fetch, rd};
    if (stats_per_col_src(&src, (size_t)rows, (size_t)cols, &o->st, ch))
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for column statistics", t->name);
    return rd->failed ? read_error(m, rd, err) : 0;
}

int tstats_tensor(struct qmodel *m, int i, const struct tstats_opts *o,
                  struct tstats_row *r, struct qerr *err)
{
    struct qtensor *t = &m->tensors[i];
    memset(r, 0, sizeof *r);
    r->tensor = i;
    r->rows = qtensor_rows(t);
    r->cols = qtensor_cols(t);
    if (o->channels == TSTATS_NONE && tscache_get(o->cache, t, o->st.abs_thresh, &r->st))
        return 0;
    struct qtreader rd;
    if (qtreader_init(&rd, m, t, QTREADER_WINDOW))
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for a read window", t->name);
    int rc = tstats_whole(m, &rd, o, &r->st, err);
    if (!rc)
        tscache_put(o->cache, t, &r->st);
    if (!rc && o->channels != TSTATS_NONE) {
        int64_t nch = o->channels == TSTATS_ROWS ? r->rows : r->cols;
        r->ch = malloc((size_t)nch * sizeof *r->ch);
        if (!r->ch)
            rc = qerr_set(err, QERR_NOMEM, "%s: out of memory for %lld channel statistics",
                          t->name, (long long)nch);
        else
            r->n_channels = nch;
        if (!rc)
            rc = o->channels == TSTATS_ROWS ? tstats_by_row(m, &rd, o, r->ch, err)
                                            : tstats_by_col(m, &rd, o, r->ch, err);
    }
    qtreader_free(&rd);
    return rc;
}

/* ---- histograms of one tensor, streamed ---- */

int tstats_hist(struct qmodel *m, struct qtensor *t, const struct tstats_hist_req *h,
                uint64_t *counts, uint64_t *below, struct qerr *err)
{
    if (h->nbins > 0)
        memset(counts, 0, (size_t)h->nbins * sizeof *counts);
    if (below)
        *below = 0;
    struct qtreader rd;
    if (qtreader_init(&rd, m, t, QTREADER_WINDOW))
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for a read window", t->name);
    const float *x = in_memory(t, &rd);
    int64_t n = t->nelem, step = x ? n : STATS_SRC_MAX;
    float *buf = x ? NULL : malloc(STATS_SRC_MAX * sizeof *buf);
    int bs = qdtype_block(t->dtype), rc = 0;
    if (!x && (bs < 1 || STATS_SRC_MAX % bs))
        rc = conv_error(t, err);
    else if (!x && !buf)
        rc = qerr_set(err, QERR_NOMEM, "%s: out of memory for a histogram", t->name);
    for (int64_t o = 0; o < n && !rc; o += step) {
        int64_t l = n - o < step ? n - o : step;
        const float *p = x ? x : qtreader_get(&rd, o, l, buf);
        if (!p)
            rc = rd.failed ? read_error(m, &rd, err) : conv_error(t, err);
        else if (h->log2)
            stats_hist_log2_add(p, (size_t)l, h->emin, h->nbins, counts, below);
        else
            stats_hist_linear_add(p, (size_t)l, h->lo, h->hi, h->nbins, counts);
    }
    free(buf);
    qtreader_free(&rd);
    return rc;
}

/* ---- the whole model: tensors in parallel, delivered in order ---- */

/* Worker threads claim tensors in model order; the calling thread hands
 * finished rows to on_row / progress in model order, so the output is
 * the same whatever the threads' timing. */
struct tpool {
    struct qmodel *m;
    const struct tstats_opts *o;
    struct tstats *out;
    const int *idx;               /* (total) tensor index of each slot   */
    int total;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int next;                     /* next slot to claim                   */
    int stop;                     /* no more claims                       */
    unsigned char *done;          /* (total)                              */
    int *rc;                      /* (total)                              */
    struct qerr *errs;            /* (total)                              */
};

static void *tpool_worker(void *arg)
{
    struct tpool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        if (p->o->cancel && *p->o->cancel)
            p->stop = 1;
        int k = p->stop || p->next >= p->total ? -1 : p->next++;
        pthread_mutex_unlock(&p->mu);
        if (k < 0)
            return NULL;
        struct qerr e = {0};
        int rc = tstats_tensor(p->m, p->idx[k], p->o, &p->out->rows[k], &e);
        pthread_mutex_lock(&p->mu);
        p->rc[k] = rc;
        if (rc) {
            p->errs[k] = e;
            p->stop = 1;
        }
        p->done[k] = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static int cancelled(const struct tstats_opts *o, int done, int total)
{
    if (o->cancel && *o->cancel)
        return 1;
    return o->progress && o->progress(o->ud, done, total) != 0;
}

/* Slot k is finished: hand it out.  Returns 0, the tensor's error or
 * QERR_CANCEL. */
static int deliver(const struct tstats_opts *o, struct tstats *out, int k, int total, int rc,
                   struct qerr *err)
{
    out->n = k + 1; /* counted even on failure, so tstats_free frees its channels */
    if (rc)
        return rc;
    if (o->on_row && o->on_row(o->ud, &out->rows[k]))
        return qerr_set(err, QERR_CANCEL, "statistics cancelled after %d of %d tensors",
                        out->n, total);
    if (cancelled(o, out->n, total))
        return qerr_set(err, QERR_CANCEL, "statistics cancelled after %d of %d tensors",
                        out->n, total);
    return 0;
}

static int run_serial(struct qmodel *m, const struct tstats_opts *o, const int *idx, int total,
                      struct tstats *out, struct qerr *err)
{
    for (int k = 0; k < total; k++) {
        int rc = tstats_tensor(m, idx[k], o, &out->rows[k], err);
        if ((rc = deliver(o, out, k, total, rc, err)))
            return rc;
    }
    return 0;
}

static int run_pool(struct tpool *p, int nth, struct qerr *err)
{
    pthread_t th[TSTATS_MAX_THREADS];
    int started = 0, rc = 0, k = 0;
    for (; started < nth; started++)
        if (pthread_create(&th[started], NULL, tpool_worker, p))
            break;
    if (!started) /* no thread: the calling thread does the work */
        tpool_worker(p);
    pthread_mutex_lock(&p->mu);
    for (; k < p->total && !rc; k++) {
        while (!p->done[k] && !(p->stop && k >= p->next))
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->done[k])
            break; /* cancelled before it was claimed */
        pthread_mutex_unlock(&p->mu);
        if (p->rc[k])
            *err = p->errs[k];
        rc = deliver(p->o, p->out, k, p->total, p->rc[k], err);
        pthread_mutex_lock(&p->mu);
    }
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (!rc && k < p->total) /* the flag stopped the workers */
        rc = qerr_set(err, QERR_CANCEL, "statistics cancelled after %d of %d tensors",
                      p->out->n, p->total);
    for (int i = p->out->n; i < p->total; i++) { /* finished but not handed out */
        free(p->out->rows[i].ch);
        p->out->rows[i].ch = NULL;
    }
    return rc;
}

int tstats_threads(const struct tstats_opts *o, int total)
{
    long n = o && o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);
    n = n < 1 ? 1 : n > TSTATS_MAX_THREADS ? TSTATS_MAX_THREADS : n;
    return total < n ? (total < 1 ? 1 : total) : (int)n;
}

int tstats_compute(struct qmodel *m, const struct tstats_opts *o, struct tstats *out,
                   struct qerr *err)
{
    struct tstats_opts def;
    if (!o) {
        tstats_opts_default(&def);
        o = &def;
    }
    memset(out, 0, sizeof *out);
    int total = 0;
    for (int i = 0; i < m->n_tensors; i++)
        total += !o->select || o->select[i];
    out->rows = calloc(total ? (size_t)total : 1, sizeof *out->rows);
    int *idx = malloc((total ? (size_t)total : 1) * sizeof *idx);
    if (!out->rows || !idx) {
        free(idx);
        return qerr_set(err, QERR_NOMEM, "out of memory");
    }
    for (int i = 0, k = 0; i < m->n_tensors; i++)
        if (!o->select || o->select[i])
            idx[k++] = i;
    int rc = 0, nth = tstats_threads(o, total);
    if (cancelled(o, 0, total)) {
        rc = qerr_set(err, QERR_CANCEL, "statistics cancelled");
    } else if (nth == 1) {
        rc = run_serial(m, o, idx, total, out, err);
    } else {
        struct tpool p = {.m = m, .o = o, .out = out, .idx = idx, .total = total};
        p.done = calloc((size_t)total, 1);
        p.rc = calloc((size_t)total, sizeof *p.rc);
        p.errs = calloc((size_t)total, sizeof *p.errs);
        if (!p.done || !p.rc || !p.errs) {
            rc = run_serial(m, o, idx, total, out, err);
        } else {
            pthread_mutex_init(&p.mu, NULL);
            pthread_cond_init(&p.cv, NULL);
            rc = run_pool(&p, nth, err);
            pthread_mutex_destroy(&p.mu);
            pthread_cond_destroy(&p.cv);
        }
        free(p.done);
        free(p.rc);
        free(p.errs);
    }
    free(idx);
    return rc;
}

void tstats_free(struct tstats *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++)
        free(t->rows[i].ch);
    free(t->rows);
    t->rows = NULL;
    t->n = 0;
}

int tstats_select(const struct qmodel *m, const char *re, unsigned char **sel,
                  struct qerr *err)
{
    regex_t rx;
    *sel = NULL;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[256];
        regerror(rc, &rx, msg, sizeof msg);
        return qerr_set(err, QERR_ARG, "bad regular expression '%s': %s", re, msg);
    }
    *sel = calloc(m->n_tensors ? (size_t)m->n_tensors : 1, 1);
    if (!*sel) {
        regfree(&rx);
        return qerr_set(err, QERR_NOMEM, "out of memory");
    }
    int n = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (regexec(&rx, m->tensors[i].name, 0, NULL, 0) == 0) {
            (*sel)[i] = 1;
            n++;
        }
    regfree(&rx);
    return n;
}
