/* tstats: statistics of every tensor of a model (see tstats.h). */
#include "src/tstats.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- tiled source: the file bytes converted chunk by chunk ---- */

#define TS_MAX_BLOCK 256 /* largest block of the ggml types (K-quants) */

struct tsrc {
    const struct qtensor *t;
    int64_t bs;                               /* elements per block       */
    float tmp[STATS_SRC_MAX + 2 * TS_MAX_BLOCK]; /* misaligned ranges     */
};

/* Elements [off, off+len): aligned ranges decode straight into buf; a
 * range inside a block (the engine's second pass re-reads 64 values)
 * decodes the blocks around it into tmp. */
static const float *tsrc_fetch(void *ud, size_t off, size_t len, float *buf)
{
    struct tsrc *s = ud;
    int64_t n = s->t->nelem, o = (int64_t)off, l = (int64_t)len;
    if (o % s->bs == 0 && (l % s->bs == 0 || o + l == n) &&
        qtensor_read_range(s->t, o, l, buf) == 0)
        return buf;
    int64_t a0 = o / s->bs * s->bs, a1 = (o + l + s->bs - 1) / s->bs * s->bs;
    a1 = a1 < n ? a1 : n;
    qtensor_read_range(s->t, a0, a1 - a0, s->tmp); /* checked in tstats_whole */
    return s->tmp + (o - a0);
}

/* Whole-tensor statistics: in place when floats exist, else tiled. */
static int tstats_whole(struct qtensor *t, const struct tstats_opts *o, struct stats *st,
                        struct qerr *err)
{
    const float *x = qtensor_f32_direct(t, 1); /* x: (nelem) */
    if (x) {
        stats_compute(x, (size_t)t->nelem, &o->st, st);
        return 0;
    }
    int bs = qdtype_block(t->dtype);
    if (bs < 1 || bs > TS_MAX_BLOCK || t->nelem % bs)
        return qerr_set(err, QERR_UNSUPP, "%s: cannot convert %s to float", t->name,
                        qdtype_name(t->dtype));
    struct tsrc *s = malloc(sizeof *s);
    if (!s)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory converting to float", t->name);
    s->t = t;
    s->bs = bs;
    struct stats_src src = {tsrc_fetch, s};
    int rc = stats_compute_src(&src, (size_t)t->nelem, &o->st, st);
    free(s);
    if (rc)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for statistics", t->name);
    return 0;
}

/* Per-row statistics, one converted row at a time. */
static int tstats_by_row(struct qtensor *t, const struct tstats_opts *o, struct stats *ch,
                         struct qerr *err)
{
    int64_t rows = qtensor_rows(t), cols = qtensor_cols(t);
    const float *x = qtensor_f32_direct(t, 1); /* x: (rows, cols) */
    if (x) {
        stats_per_channel(x, (size_t)rows, (size_t)cols, STATS_ROWS, &o->st, ch);
        return 0;
    }
    float *row = malloc((size_t)cols * sizeof *row);
    if (!row)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for a row", t->name);
    int rc = 0;
    for (int64_t r = 0; r < rows && !rc; r++) {
        if (o->cancel && *o->cancel)
            rc = qerr_set(err, QERR_CANCEL, "statistics cancelled");
        else if (qtensor_read_rows(t, r, 1, row))
            rc = qerr_set(err, QERR_UNSUPP, "%s: cannot convert %s to float", t->name,
                          qdtype_name(t->dtype));
        else
            stats_compute(row, (size_t)cols, &o->st, &ch[r]);
    }
    free(row);
    return rc;
}

/* Per-column statistics need every row of a column: one temporary float
 * copy of this tensor, freed before the next. */
static int tstats_by_col(struct qtensor *t, const struct tstats_opts *o, struct stats *ch,
                         struct qerr *err)
{
    int64_t rows = qtensor_rows(t), cols = qtensor_cols(t);
    const float *x = qtensor_f32_direct(t, 1);
    float *tmp = NULL;
    if (!x) {
        tmp = malloc((size_t)t->nelem * sizeof *tmp);
        if (!tmp)
            return qerr_set(err, QERR_NOMEM, "%s: out of memory converting to float (%lld MB)",
                            t->name, (long long)(t->nelem * 4 >> 20));
        if (qtensor_read_range(t, 0, t->nelem, tmp)) {
            free(tmp);
            return qerr_set(err, QERR_UNSUPP, "%s: cannot convert %s to float", t->name,
                            qdtype_name(t->dtype));
        }
        x = tmp;
    }
    stats_per_channel(x, (size_t)rows, (size_t)cols, STATS_COLS, &o->st, ch);
    free(tmp);
    return 0;
}

int tstats_tensor(struct qmodel *m, int i, const struct tstats_opts *o,
                  struct tstats_row *r, struct qerr *err)
{
    struct qtensor *t = &m->tensors[i];
    memset(r, 0, sizeof *r);
    r->tensor = i;
    r->rows = qtensor_rows(t);
    r->cols = qtensor_cols(t);
    int rc = tstats_whole(t, o, &r->st, err);
    if (rc || o->channels == TSTATS_NONE)
        return rc;
    int64_t nch = o->channels == TSTATS_ROWS ? r->rows : r->cols;
    r->ch = malloc((size_t)nch * sizeof *r->ch);
    if (!r->ch)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for %lld channel statistics",
                        t->name, (long long)nch);
    r->n_channels = nch;
    return o->channels == TSTATS_ROWS ? tstats_by_row(t, o, r->ch, err)
                                      : tstats_by_col(t, o, r->ch, err);
}

static int cancelled(const struct tstats_opts *o, int done, int total)
{
    if (o->cancel && *o->cancel)
        return 1;
    return o->progress && o->progress(o->ud, done, total) != 0;
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
    if (!out->rows)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    if (cancelled(o, 0, total))
        return qerr_set(err, QERR_CANCEL, "statistics cancelled");
    for (int i = 0; i < m->n_tensors; i++) {
        if (o->select && !o->select[i])
            continue;
        int rc = tstats_tensor(m, i, o, &out->rows[out->n], err);
        out->n++; /* counted even on failure, so tstats_free frees its channels */
        if (rc)
            return rc;
        if (cancelled(o, out->n, total))
            return qerr_set(err, QERR_CANCEL, "statistics cancelled after %d of %d tensors",
                            out->n, total);
    }
    return 0;
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
