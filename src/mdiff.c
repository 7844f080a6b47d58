/* mdiff: a model against a base model, tensor by tensor (see mdiff.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/gguf_write.h"
#include "src/mdiff.h"

void mdiff_read(const struct qmodel *ref, const struct qmodel *m, const struct qtensor *t,
                float *dst, float *tmp)
{
    int heads = 0;
    if (ref->cfg.rope_style != m->cfg.rope_style) {
        if (t->role == QR_ATTN_Q || t->role == QR_ATTN_Q_BIAS)
            heads = m->cfg.n_heads;
        else if (t->role == QR_ATTN_K || t->role == QR_ATTN_K_BIAS)
            heads = m->cfg.n_kv_heads;
    }
    if (!heads) {
        qtensor_read_f32(t, dst);
        return;
    }
    int hd = m->cfg.head_dim;
    int64_t cols = t->nelem / ((int64_t)heads * hd);
    qtensor_read_f32(t, tmp);
    if (m->cfg.rope_style == QROPE_HALF)
        gguf_permute_qk(tmp, dst, heads, hd, cols);
    else
        gguf_unpermute_qk(tmp, dst, heads, hd, cols);
}

int mdiff_match(const struct qmodel *base, const struct qmodel *m, int i)
{
    const struct qtensor *t = &m->tensors[i];
    int j = qmodel_find(base, t->name);
    if (j < 0)
        return -1;
    const struct qtensor *b = &base->tensors[j];
    if (b->ndim != t->ndim)
        return -2;
    for (int d = 0; d < t->ndim; d++)
        if (b->shape[d] != t->shape[d])
            return -2;
    return j;
}

double mdiff_bpw(const struct qtensor *t)
{
    return t->nelem ? 8.0 * (double)t->nbytes / (double)t->nelem : 0;
}

int mdiff_open(struct mdiff *d, struct qmodel *m, const char *base_path, struct qerr *err)
{
    memset(d, 0, sizeof *d);
    d->m = m;
    d->rows = calloc((size_t)m->n_tensors + 1, sizeof *d->rows);
    if (!d->rows)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    int rc = qmodel_open(&d->base, base_path, err);
    if (rc) {
        free(d->rows);
        d->rows = NULL;
        return qerr_prefix(err, "base model: ");
    }
    return 0;
}

void mdiff_close(struct mdiff *d)
{
    if (d->rows)
        qmodel_close(&d->base);
    free(d->rows);
    memset(d, 0, sizeof *d);
}

/* Base values (wb) and m's values in the base's layout (wm) of tensor i. */
static int read_pair(struct mdiff *d, int i, int j, float **wb, float **wm)
{
    const struct qtensor *t = &d->m->tensors[i];
    size_t n = (size_t)t->nelem;
    *wb = malloc(n * sizeof **wb);
    *wm = malloc(n * sizeof **wm);
    float *tmp = malloc(n * sizeof *tmp);
    if (!*wb || !*wm || !tmp) {
        free(*wb), free(*wm), free(tmp);
        *wb = *wm = NULL;
        return QERR_NOMEM;
    }
    qtensor_read_f32(&d->base.tensors[j], *wb);
    mdiff_read(&d->base, d->m, t, *wm, tmp);
    free(tmp);
    return 0;
}

const struct mdiff_row *mdiff_row(struct mdiff *d, int i)
{
    struct mdiff_row *r = &d->rows[i];
    if (r->state)
        return r;
    int j = mdiff_match(&d->base, d->m, i);
    r->bpw = mdiff_bpw(&d->m->tensors[i]);
    if (j < 0) {
        r->state = j;
        return r;
    }
    r->base_bpw = mdiff_bpw(&d->base.tensors[j]);
    float *wb, *wm;
    if (read_pair(d, i, j, &wb, &wm)) {
        r->state = -3;
        return r;
    }
    struct tdiff acc;
    tdiff_init(&acc);
    tdiff_add(&acc, wb, wm, d->m->tensors[i].nelem);
    tdiff_finish(&acc, &r->e);
    r->state = 1;
    free(wb), free(wm);
    return r;
}

int mdiff_absdiff(struct mdiff *d, int i, float *out, struct qerr *err)
{
    const struct qtensor *t = &d->m->tensors[i];
    int j = mdiff_match(&d->base, d->m, i);
    if (j < 0)
        return qerr_set(err, QERR_ARG, "%s: %s in the base model %s", t->name,
                        j == -1 ? "not" : "another shape", d->base.path);
    float *wb, *wm;
    if (read_pair(d, i, j, &wb, &wm))
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", t->name);
    for (int64_t k = 0; k < t->nelem; k++)
        out[k] = fabsf(wm[k] - wb[k]);
    free(wb), free(wm);
    return 0;
}
