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

int tstats_tensor(struct qmodel *m, int i, const struct tstats_opts *o,
                  struct tstats_row *r, struct qerr *err)
{
    struct qtensor *t = &m->tensors[i];
    memset(r, 0, sizeof *r);
    r->tensor = i;
    r->rows = qtensor_rows(t);
    r->cols = qtensor_cols(t);
    const float *x = qtensor_f32(t); /* x: (rows, cols) row-major */
    if (!x)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory converting to float", t->name);
    stats_compute(x, (size_t)t->nelem, &o->st, &r->st);
    if (o->channels == TSTATS_NONE)
        return 0;
    int64_t nch = o->channels == TSTATS_ROWS ? r->rows : r->cols;
    r->ch = malloc((size_t)nch * sizeof *r->ch);
    if (!r->ch)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for %lld channel statistics",
                        t->name, (long long)nch);
    r->n_channels = nch;
    stats_per_channel(x, (size_t)r->rows, (size_t)r->cols,
                      o->channels == TSTATS_ROWS ? STATS_ROWS : STATS_COLS, &o->st, r->ch);
    return 0;
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
