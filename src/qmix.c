/* qmix: a llama-quantize preset over a whole model (see qmix.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/gguf.h"
#include "src/gguf_write.h"
#include "src/qmix.h"

void qmix_facts(const struct qmodel *m, int has_imatrix, struct gmix_model *f)
{
    const struct qconfig *c = &m->cfg;
    memset(f, 0, sizeof *f);
    f->n_layers = c->n_layers;
    f->n_gqa = c->n_kv_heads > 0 ? c->n_heads / c->n_kv_heads : 1;
    f->falcon = !strcmp(c->arch, "falcon");
    f->is_70b = !strcmp(c->arch, "llama") && c->n_layers == 80 && c->n_heads != c->n_kv_heads;
    f->tied_output = qmodel_find(m, "output") < 0;
    f->has_imatrix = has_imatrix;
    if (m->gguf) {
        char key[64];
        int64_t v;
        snprintf(key, sizeof key, "%s.expert_count", c->arch);
        if (!gguf_get_int(m->gguf, key, &v) && v > 0 && v < 1 << 20)
            f->n_expert = (int)v;
    }
}

/* llama_model_loader's weight order: outside blocks (-1) first, then by
 * block, then by name. */
static int file_order(const void *a, const void *b)
{
    const struct qmix_tensor *x = a, *y = b;
    int lx = -1, ly = -1;
    sscanf(x->gguf_name, "blk.%d.", &lx);
    sscanf(y->gguf_name, "blk.%d.", &ly);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return strcmp(x->gguf_name, y->gguf_name);
}

/* The float type a tensor that is not quantized keeps. */
static enum ggt_id source_float_type(const struct qtensor *t)
{
    return t->dtype == QD_F16 ? GGT_F16 : t->dtype == QD_BF16 ? GGT_BF16 : GGT_F32;
}

/* The stored type and size of tensor t once x->c is chosen, added to the
 * mix's totals. */
static int account(struct qmix *q, const struct qtensor *t, struct qmix_tensor *x,
                   struct qerr *err)
{
    x->type = x->c.quantized ? x->c.type : source_float_type(t);
    x->nbytes = ggt_row_size(x->type, qtensor_cols(t)) * (uint64_t)qtensor_rows(t);
    if (!x->nbytes)
        return qerr_set(err, QERR_ARG, "%s: tensor %s: %lld columns do not fit type %s",
                        q->m->path, t->name, (long long)qtensor_cols(t), ggt_traits(x->type)->name);
    q->n_quantized += x->c.quantized;
    q->n_fallback += x->c.fallback;
    q->n_params += t->nelem;
    q->bytes += x->nbytes;
    return 0;
}

static int plan_one(struct qmix *q, const struct gmix_opts *o, int i, struct qmix_tensor *x,
                    struct qerr *err)
{
    struct qtensor *t = &q->m->tensors[i];
    x->index = i;
    int rc = gmix_tensor_type(q->p, &q->facts, o, t->name, t->layer, t->ndim, qtensor_cols(t),
                              &x->c, err);
    if (rc)
        return rc;
    return account(q, t, x, err);
}

int qmix_plan(struct qmix *q, struct qmodel *m, const struct gmix_preset *p,
              const struct gmix_opts *o, int has_imatrix, struct qerr *err)
{
    memset(q, 0, sizeof *q);
    q->m = m;
    q->p = p;
    q->pure = o && o->pure;
    qmix_facts(m, has_imatrix, &q->facts);
    q->permute_qk = !m->gguf && m->cfg.rope_style == QROPE_HALF;
    q->t = calloc((size_t)m->n_tensors + 1, sizeof *q->t);
    if (!q->t)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_tensors; i++) {
        struct qmix_tensor *x = &q->t[q->n];
        if (!gguf_export_name(m, &m->tensors[i], x->gguf_name, sizeof x->gguf_name))
            continue;
        int rc = plan_one(q, o, i, x, err);
        if (rc)
            return rc;
        q->n++;
    }
    qsort(q->t, (size_t)q->n, sizeof *q->t, file_order);
    return 0;
}

/* ---- a per-tensor plan ---- */

/* The ggml type of a planned candidate, or NULL (not a llama.cpp type). */
static const struct ggt_traits *cand_type(const struct qplan_cand *c)
{
    return c && !c->is_float && c->spec.method->apply == ggml_method_apply
               ? ggt_by_name(c->spec.method->name) : NULL;
}

/* Every planned candidate must be a llama.cpp type (or float). */
static int spec_types_ok(const struct qplan *p, struct qerr *err)
{
    for (int i = 0; i < p->n; i++) {
        const struct qplan_line *l = &p->l[i];
        if (!l->c.is_float && !cand_type(&l->c))
            return qerr_set(err, QERR_FORMAT, "%s:%d: %s=%s is not a llama.cpp type: a GGUF "
                            "export stores llama.cpp's blocks, so every planned tensor needs "
                            "one (q4_k, q8_0, ...) or float; --save-gguf writes any plan "
                            "dequantized to F32", p->path, l->line, l->tensor, l->c.label);
    }
    return 0;
}

/* The --pure preset of the type most planned tensors use. */
static const struct gmix_preset *dominant_preset(const struct qplan *p)
{
    int count[GGT__LIMIT] = {0}, best = -1;
    for (int i = 0; p->slot && i < p->n_layers * QPLAN_N_ROLES; i++) {
        const struct ggt_traits *t = cand_type(p->slot[i]);
        if (t && (int)t->id < GGT__LIMIT && ++count[t->id] > (best < 0 ? 0 : count[best]))
            best = (int)t->id;
    }
    int n;
    const struct gmix_preset *all = gmix_all(&n);
    for (int i = 0; best >= 0 && i < n; i++)
        if ((int)all[i].base == best)
            return &all[i];
    return NULL;
}

static int spec_one(struct qmix *q, const struct qplan *p, int i, struct qmix_tensor *x,
                    struct qerr *err)
{
    struct qtensor *t = &q->m->tensors[i];
    const struct ggt_traits *ty = cand_type(qplan_get(p, t->layer, t->role));
    x->index = i;
    memset(&x->c, 0, sizeof x->c);
    if (ty) {
        struct gmix_override ov;
        char pat[64];
        snprintf(pat, sizeof pat, ".=%s", ty->name);
        int rc = gmix_override_parse(&ov, pat, err);
        if (rc)
            return rc;
        struct gmix_opts o = {.pure = 1, .ov = &ov, .n_ov = 1};
        rc = gmix_tensor_type(q->p, &q->facts, &o, t->name, t->layer, t->ndim, qtensor_cols(t),
                              &x->c, err);
        gmix_override_free(&ov);
        if (rc)
            return rc;
    }
    return account(q, t, x, err);
}

int qmix_plan_spec(struct qmix *q, struct qmodel *m, const struct qplan *p, struct qerr *err)
{
    memset(q, 0, sizeof *q);
    q->m = m;
    int rc = spec_types_ok(p, err);
    if (rc)
        return rc;
    if (!p->slot || p->n_layers != m->cfg.n_layers)
        return qerr_set(err, QERR_ARG, "%s: plan not bound to %s", p->path, m->path);
    if (!(q->p = dominant_preset(p)))
        return qerr_set(err, QERR_FORMAT, "%s: no tensor of the plan has a llama.cpp type: "
                        "nothing to export", p->path);
    q->pure = 1;
    qmix_facts(m, 0, &q->facts);
    q->permute_qk = !m->gguf && m->cfg.rope_style == QROPE_HALF;
    q->t = calloc((size_t)m->n_tensors + 1, sizeof *q->t);
    if (!q->t)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        struct qmix_tensor *x = &q->t[q->n];
        if (!gguf_export_name(m, &m->tensors[i], x->gguf_name, sizeof x->gguf_name))
            continue;
        if (!(rc = spec_one(q, p, i, x, err)))
            q->n++;
    }
    if (!rc)
        qsort(q->t, (size_t)q->n, sizeof *q->t, file_order);
    return rc;
}

void qmix_free(struct qmix *q)
{
    free(q->t);
    q->t = NULL;
    q->n = 0;
}

/* The original floats of a tensor in the row order the export stores:
 * Q/K rows of a rotate-half (safetensors) source are interleaved, as
 * gguf_write_model does.  dst holds t->nelem floats; tmp too when
 * permuting. */
static void source_floats(const struct qmix *q, const struct qtensor *t, float *dst, float *tmp)
{
    int heads = 0;
    if (q->permute_qk && (t->role == QR_ATTN_Q || t->role == QR_ATTN_Q_BIAS))
        heads = q->m->cfg.n_heads;
    if (q->permute_qk && (t->role == QR_ATTN_K || t->role == QR_ATTN_K_BIAS))
        heads = q->m->cfg.n_kv_heads;
    if (!heads) {
        qtensor_read_f32(t, dst);
        return;
    }
    int hd = q->m->cfg.head_dim;
    qtensor_read_f32(t, tmp);
    gguf_permute_qk(tmp, dst, heads, hd, t->nelem / ((int64_t)heads * hd));
}

/* Quantize tensor x into bytes (x->nbytes). */
static int quantize_one(const struct qmix *q, const struct qmix_tensor *x, void *bytes,
                        struct qerr *err)
{
    const struct qtensor *t = &q->m->tensors[x->index];
    float *w = malloc((size_t)t->nelem * sizeof *w);
    float *tmp = q->permute_qk ? malloc((size_t)t->nelem * sizeof *tmp) : NULL;
    if (!w || (q->permute_qk && !tmp)) {
        free(w), free(tmp);
        return qerr_set(err, QERR_NOMEM, "tensor %s: out of memory", t->name);
    }
    source_floats(q, t, w, tmp);
    int rc = ggt_quantize(x->type, w, bytes, qtensor_rows(t), qtensor_cols(t), x->imatrix, err);
    free(w), free(tmp);
    return rc ? qerr_prefix(err, "%s: tensor %s: ", q->m->path, t->name) : 0;
}

/* The dequantized tensor as floats in the model's own row order. */
static int decode_one(const struct qmix *q, const struct qmix_tensor *x, const void *bytes,
                      float *out, struct qerr *err)
{
    struct qtensor *t = &q->m->tensors[x->index];
    int rc = ggt_to_float(x->type, bytes, out, qtensor_rows(t), qtensor_cols(t), err);
    if (rc || !q->permute_qk || (t->role != QR_ATTN_Q && t->role != QR_ATTN_K &&
                                 t->role != QR_ATTN_Q_BIAS && t->role != QR_ATTN_K_BIAS))
        return rc;
    int heads = t->role == QR_ATTN_Q || t->role == QR_ATTN_Q_BIAS ? q->m->cfg.n_heads
                                                                  : q->m->cfg.n_kv_heads;
    float *tmp = malloc((size_t)t->nelem * sizeof *tmp);
    if (!tmp)
        return qerr_set(err, QERR_NOMEM, "tensor %s: out of memory", t->name);
    memcpy(tmp, out, (size_t)t->nelem * sizeof *tmp);
    gguf_unpermute_qk(tmp, out, heads, q->m->cfg.head_dim,
                      t->nelem / ((int64_t)heads * q->m->cfg.head_dim));
    free(tmp);
    return 0;
}

static int apply_one(struct qmix *q, struct qmix_tensor *x, struct qerr *err)
{
    struct qtensor *t = &q->m->tensors[x->index];
    void *bytes = malloc(x->nbytes ? (size_t)x->nbytes : 1);
    float *out = malloc((size_t)t->nelem * sizeof *out);
    float *orig = malloc((size_t)t->nelem * sizeof *orig);
    int rc = bytes && out && orig ? 0 : qerr_set(err, QERR_NOMEM, "tensor %s: out of memory", t->name);
    if (!rc)
        rc = quantize_one(q, x, bytes, err);
    if (!rc)
        rc = decode_one(q, x, bytes, out, err);
    if (!rc) {
        struct tdiff d;
        qtensor_read_f32(t, orig);
        tdiff_init(&d);
        tdiff_add(&d, orig, out, t->nelem);
        tdiff_finish(&d, &x->err);
        x->applied = 1;
        qtensor_set_override(t, out); /* the model owns it now */
        out = NULL;
    }
    free(bytes), free(out), free(orig);
    return rc;
}

/* Apply the quantized tensors of `layer` (-1: outside the blocks), or of
 * every layer when all. */
static int apply_some(struct qmix *q, int all, int layer, volatile int *cancel, struct qerr *err)
{
    for (int k = 0; k < q->n; k++) {
        if (cancel && *cancel)
            return qerr_set(err, QERR_CANCEL, "cancelled");
        int tl = q->m->tensors[q->t[k].index].layer;
        if (!q->t[k].c.quantized || (!all && (tl < 0 ? -1 : tl) != layer))
            continue;
        int rc = apply_one(q, &q->t[k], err);
        if (rc)
            return rc;
    }
    return 0;
}

int qmix_apply(struct qmix *q, volatile int *cancel, struct qerr *err)
{
    return apply_some(q, 1, 0, cancel, err);
}

int qmix_apply_layer(struct qmix *q, int layer, volatile int *cancel, struct qerr *err)
{
    return apply_some(q, 0, layer, cancel, err);
}

/* ---- export ---- */

struct fill_ctx {
    const struct qmix *q;
    const struct qmix_tensor *x;
};

static int fill_blocks(void *ctx, void *dst, uint64_t nbytes, struct qerr *err)
{
    const struct fill_ctx *f = ctx;
    return quantize_one(f->q, f->x, dst, err);
}

int qmix_export(const struct qmix *q, const char *path, struct qerr *err)
{
    struct gguf_writer *w = gguf_writer_new(3);
    struct fill_ctx *fc = calloc((size_t)q->n + 1, sizeof *fc);
    if (!w || !fc) {
        gguf_writer_free(w);
        free(fc);
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    }
    int rc = gguf_writer_add_model_meta(w, q->m, (uint32_t)q->p->ftype, err);
    if (!rc && q->imatrix_file) {
        gguf_writer_add_str(w, "quantize.imatrix.file", q->imatrix_file);
        gguf_writer_add_str(w, "quantize.imatrix.dataset", q->imatrix_dataset ? q->imatrix_dataset : "");
        gguf_writer_add_i32(w, "quantize.imatrix.entries_count", q->imatrix_entries);
        gguf_writer_add_i32(w, "quantize.imatrix.chunks_count", q->imatrix_chunks);
    }
    for (int k = 0; !rc && k < q->n; k++) {
        const struct qmix_tensor *x = &q->t[k];
        const struct qtensor *t = &q->m->tensors[x->index];
        fc[k] = (struct fill_ctx){q, x};
        gguf_writer_add_tensor_bytes(w, x->gguf_name, x->type, t->ndim, t->shape, x->nbytes,
                                     fill_blocks, &fc[k]);
    }
    if (!rc)
        rc = gguf_writer_save(w, path, err);
    gguf_writer_free(w);
    free(fc);
    return rc;
}

double qmix_bpw_quantized(const struct qmix *q)
{
    double bits = 0, n = 0;
    for (int k = 0; k < q->n; k++)
        if (q->t[k].c.quantized) {
            bits += 8.0 * (double)q->t[k].nbytes;
            n += (double)q->m->tensors[q->t[k].index].nelem;
        }
    return n > 0 ? bits / n : 0;
}

double qmix_bpw_file(const struct qmix *q)
{
    return q->n_params ? 8.0 * (double)q->bytes / (double)q->n_params : 0;
}
