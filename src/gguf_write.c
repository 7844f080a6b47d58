/* gguf_write: GGUF builder, atomic save, and model export. */
#include "analysis/afile.h"
#include "src/gguf_write.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant/ggml_types.h"
#include "src/half.h"
#include "src/model.h"
#include "src/tokenizer.h"

struct wbuf {
    uint8_t *p;
    size_t n, cap;
};

struct wtensor {
    char *name;
    uint32_t type;
    uint32_t ndim;
    uint64_t ne[4];        /* innermost first */
    uint64_t nelem, nbytes, offset;
    const float *data;     /* borrowed, or */
    gguf_fill_fn fill;     /* produced at save time, or */
    void *ctx;
    const void *raw;       /* raw bytes, or */
    gguf_fill_bytes_fn fill_bytes; /* raw bytes produced at save time */
};

struct gguf_writer {
    uint32_t version, alignment;
    uint64_t n_kv;
    struct wbuf kv;        /* serialized key/values */
    struct wtensor *t;
    uint64_t n_t, cap_t;
    uint64_t data_size;
    struct qerr err;       /* first error from an add call */
};

static int werr(struct gguf_writer *w, int code, const char *fmt, const char *arg)
{
    if (!w->err.code)
        qerr_set(&w->err, code, fmt, arg);
    return code;
}

static int put(struct gguf_writer *w, struct wbuf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return werr(w, QERR_NOMEM, "out of memory building GGUF%s", "");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return 0;
}

static int put_u32(struct gguf_writer *w, uint32_t v) { return put(w, &w->kv, &v, 4); }
static int put_u64(struct gguf_writer *w, uint64_t v) { return put(w, &w->kv, &v, 8); }

static int put_str(struct gguf_writer *w, const char *s, size_t n)
{
    return put_u64(w, n) || put(w, &w->kv, s, n) ? QERR_NOMEM : 0;
}

struct gguf_writer *gguf_writer_new(uint32_t version)
{
    struct gguf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->version = version;
    w->alignment = 32;
    if (version != 2 && version != 3)
        werr(w, QERR_ARG, "GGUF version must be 2 or 3%s", "");
    return w;
}

void gguf_writer_free(struct gguf_writer *w)
{
    if (!w)
        return;
    for (uint64_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    free(w->kv.p);
    free(w);
}

static int key_head(struct gguf_writer *w, const char *key, enum gguf_vtype t)
{
    if (!key || !*key)
        return werr(w, QERR_ARG, "empty metadata key%s", "");
    if (put_str(w, key, strlen(key)) || put_u32(w, (uint32_t)t))
        return QERR_NOMEM;
    w->n_kv++;
    return 0;
}

int gguf_writer_add_scalar(struct gguf_writer *w, const char *key, enum gguf_vtype t,
                           const void *value)
{
    if (!gguf_vtype_size(t))
        return werr(w, QERR_ARG, "metadata key %s: not a scalar type", key);
    if (key_head(w, key, t))
        return QERR_ARG;
    return put(w, &w->kv, value, gguf_vtype_size(t));
}

int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v)
{
    return gguf_writer_add_scalar(w, key, GGUF_T_U32, &v);
}

int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v)
{
    return gguf_writer_add_scalar(w, key, GGUF_T_I32, &v);
}

int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v)
{
    return gguf_writer_add_scalar(w, key, GGUF_T_F32, &v);
}

int gguf_writer_add_bool(struct gguf_writer *w, const char *key, int v)
{
    uint8_t b = v != 0;
    return gguf_writer_add_scalar(w, key, GGUF_T_BOOL, &b);
}

int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *val)
{
    if (key_head(w, key, GGUF_T_STRING))
        return QERR_ARG;
    return put_str(w, val, strlen(val));
}

int gguf_writer_add_array(struct gguf_writer *w, const char *key, enum gguf_vtype et,
                          const void *elems, uint64_t n)
{
    if (!gguf_vtype_size(et))
        return werr(w, QERR_ARG, "metadata key %s: array element type must be a scalar", key);
    if (key_head(w, key, GGUF_T_ARRAY) || put_u32(w, (uint32_t)et) || put_u64(w, n))
        return QERR_NOMEM;
    return n ? put(w, &w->kv, elems, (size_t)(n * gguf_vtype_size(et))) : 0;
}

int gguf_writer_add_str_array(struct gguf_writer *w, const char *key, const char *const *strs,
                              uint64_t n)
{
    if (key_head(w, key, GGUF_T_ARRAY) || put_u32(w, GGUF_T_STRING) || put_u64(w, n))
        return QERR_NOMEM;
    for (uint64_t i = 0; i < n; i++)
        if (put_str(w, strs[i], strlen(strs[i])))
            return QERR_NOMEM;
    return 0;
}

/* Copy a parsed value: scalars are re-narrowed from the widened union,
 * arrays copied from the source bytes. */
int gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_kv *kv)
{
    if (put_str(w, kv->key.ptr, (size_t)kv->key.len) || put_u32(w, (uint32_t)kv->type))
        return QERR_NOMEM;
    w->n_kv++;
    if (kv->type == GGUF_T_STRING)
        return put_str(w, kv->v.s.ptr, (size_t)kv->v.s.len);
    if (kv->type != GGUF_T_ARRAY) {
        uint8_t b[8];
        if (kv->type == GGUF_T_F32) {
            float f = (float)kv->v.f;
            memcpy(b, &f, 4);
        } else {
            memcpy(b, &kv->v.u, 8);  /* little endian: low bytes first */
        }
        return put(w, &w->kv, b, gguf_vtype_size(kv->type));
    }
    if (put_u32(w, (uint32_t)kv->arr_type) || put_u64(w, kv->arr_n))
        return QERR_NOMEM;
    if (kv->arr_type != GGUF_T_STRING)
        return put(w, &w->kv, kv->arr_data, (size_t)(kv->arr_n * gguf_vtype_size(kv->arr_type)));
    for (uint64_t i = 0; i < kv->arr_n; i++)
        if (put_str(w, kv->arr_strs[i].ptr, (size_t)kv->arr_strs[i].len))
            return QERR_NOMEM;
    return 0;
}

int gguf_writer_set_alignment(struct gguf_writer *w, uint32_t alignment)
{
    if (!alignment || (alignment & (alignment - 1)) || w->n_t)
        return werr(w, QERR_ARG, "alignment must be a power of two, set before tensors%s", "");
    w->alignment = alignment;
    return alignment == 32 ? 0 : gguf_writer_add_u32(w, "general.alignment", alignment);
}

/* ---- tensors ---- */

static struct wtensor *new_tensor(struct gguf_writer *w, const char *name, uint32_t type, int ndim,
                                  const int64_t *shape)
{
    if (ndim < 1 || ndim > 4) {
        werr(w, QERR_ARG, "tensor %s: 1..4 dimensions", name);
        return NULL;
    }
    if (w->n_t == w->cap_t) {
        uint64_t cap = w->cap_t ? 2 * w->cap_t : 64;
        struct wtensor *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (!t) {
            werr(w, QERR_NOMEM, "out of memory building GGUF%s", "");
            return NULL;
        }
        w->t = t;
        w->cap_t = cap;
    }
    struct wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->type = type;
    t->ndim = (uint32_t)ndim;
    t->nelem = 1;
    for (int d = 0; d < ndim; d++) {
        t->ne[d] = (uint64_t)shape[ndim - 1 - d];
        t->nelem *= t->ne[d];
    }
    if (!t->name) {
        werr(w, QERR_NOMEM, "out of memory building GGUF%s", "");
        return NULL;
    }
    w->n_t++;
    return t;
}

static void place(struct gguf_writer *w, struct wtensor *t)
{
    t->offset = w->data_size;
    w->data_size += (t->nbytes + w->alignment - 1) / w->alignment * w->alignment;
}

static int add_float_tensor(struct gguf_writer *w, const char *name, uint32_t type, int ndim,
                            const int64_t *shape, const float *data, gguf_fill_fn fill, void *ctx)
{
    if (type != GGML_T_F32 && type != GGML_T_F16 && type != GGML_T_BF16)
        return werr(w, QERR_ARG, "tensor %s: writer converts to F32, F16 or BF16 only", name);
    if (!data && !fill)
        return werr(w, QERR_ARG, "tensor %s: no data", name);
    struct wtensor *t = new_tensor(w, name, type, ndim, shape);
    if (!t)
        return QERR_ARG;
    t->data = data;
    t->fill = fill;
    t->ctx = ctx;
    t->nbytes = t->nelem * (type == GGML_T_F32 ? 4 : 2);
    place(w, t);
    return 0;
}

int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t ggml_type, int ndim,
                           const int64_t *shape, const float *data)
{
    return add_float_tensor(w, name, ggml_type, ndim, shape, data, NULL, NULL);
}

int gguf_writer_add_tensor_fill(struct gguf_writer *w, const char *name, uint32_t ggml_type,
                                int ndim, const int64_t *shape, gguf_fill_fn fill, void *ctx)
{
    return add_float_tensor(w, name, ggml_type, ndim, shape, NULL, fill, ctx);
}

int gguf_writer_add_tensor_raw(struct gguf_writer *w, const char *name, uint32_t ggml_type,
                               int ndim, const int64_t *shape, const void *bytes, uint64_t nbytes)
{
    struct wtensor *t = new_tensor(w, name, ggml_type, ndim, shape);
    if (!t)
        return QERR_ARG;
    t->raw = bytes;
    t->nbytes = nbytes;
    place(w, t);
    return 0;
}

int gguf_writer_add_tensor_bytes(struct gguf_writer *w, const char *name, uint32_t ggml_type,
                                 int ndim, const int64_t *shape, uint64_t nbytes,
                                 gguf_fill_bytes_fn fill, void *ctx)
{
    if (!fill)
        return werr(w, QERR_ARG, "tensor %s: no data", name);
    struct wtensor *t = new_tensor(w, name, ggml_type, ndim, shape);
    if (!t)
        return QERR_ARG;
    uint64_t want = t->ne[0] ? ggt_row_size(ggml_type, (int64_t)t->ne[0]) * (t->nelem / t->ne[0]) : 0;
    if (ggt_traits(ggml_type) && want != nbytes) {
        char msg[200];
        snprintf(msg, sizeof msg, "tensor %s: %llu bytes do not fit type %s and its shape "
                 "(%llu expected)", name, (unsigned long long)nbytes,
                 ggt_traits(ggml_type)->name, (unsigned long long)want);
        return werr(w, QERR_ARG, "%s", msg);
    }
    t->fill_bytes = fill;
    t->ctx = ctx;
    t->nbytes = nbytes;
    place(w, t);
    return 0;
}

/* ---- saving ---- */

static int wr(FILE *f, const void *p, size_t n) { return !n || fwrite(p, 1, n, f) == n ? 0 : -1; }

static int pad(FILE *f, uint64_t n)
{
    static const uint8_t zero[64];
    while (n) {
        size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
        if (wr(f, zero, k))
            return -1;
        n -= k;
    }
    return 0;
}

static int write_head(struct gguf_writer *w, FILE *f)
{
    uint64_t counts[2] = {w->n_t, w->n_kv};
    if (wr(f, "GGUF", 4) || wr(f, &w->version, 4) || wr(f, counts, 16) || wr(f, w->kv.p, w->kv.n))
        return -1;
    uint64_t pos = 24 + w->kv.n;
    for (uint64_t i = 0; i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        uint64_t len = strlen(t->name);
        if (wr(f, &len, 8) || wr(f, t->name, (size_t)len) || wr(f, &t->ndim, 4) ||
            wr(f, t->ne, 8 * t->ndim) || wr(f, &t->type, 4) || wr(f, &t->offset, 8))
            return -1;
        pos += 8 + len + 4 + 8 * t->ndim + 4 + 8;
    }
    return pad(f, (w->alignment - pos % w->alignment) % w->alignment);
}

/* Convert and write floats in chunks. */
static int write_floats(FILE *f, const float *x, uint64_t n, uint32_t type)
{
    if (type == GGML_T_F32)
        return wr(f, x, (size_t)n * 4);
    uint16_t buf[4096];
    for (uint64_t i = 0; i < n;) {
        size_t k = n - i < 4096 ? (size_t)(n - i) : 4096;
        for (size_t j = 0; j < k; j++)
            buf[j] = type == GGML_T_F16 ? f32_to_f16(x[i + j]) : f32_to_bf16(x[i + j]);
        if (wr(f, buf, k * 2))
            return -1;
        i += k;
    }
    return 0;
}

static int write_tensor(struct gguf_writer *w, FILE *f, const struct wtensor *t, struct qerr *err)
{
    int rc = 0;
    if (t->raw) {
        rc = wr(f, t->raw, (size_t)t->nbytes);
    } else if (t->fill_bytes) {
        void *buf = malloc(t->nbytes ? (size_t)t->nbytes : 1);
        if (!buf)
            return qerr_set(err, QERR_NOMEM, "tensor %s: out of memory", t->name);
        rc = t->fill_bytes(t->ctx, buf, t->nbytes, err);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        rc = wr(f, buf, (size_t)t->nbytes);
        free(buf);
    } else if (t->data) {
        rc = write_floats(f, t->data, t->nelem, t->type);
    } else {
        float *buf = malloc((size_t)t->nelem * sizeof *buf);
        if (!buf)
            return qerr_set(err, QERR_NOMEM, "tensor %s: out of memory", t->name);
        if (t->fill(t->ctx, buf, (int64_t)t->nelem) < 0) {
            free(buf);
            return qerr_set(err, QERR_ARG, "tensor %s: data source failed", t->name);
        }
        rc = write_floats(f, buf, t->nelem, t->type);
        free(buf);
    }
    if (!rc)
        rc = pad(f, (w->alignment - t->nbytes % w->alignment) % w->alignment);
    return rc ? qerr_set(err, QERR_IO, "write failed: %s", strerror(errno)) : 0;
}

static int write_all(struct gguf_writer *w, FILE *f, struct qerr *err)
{
    if (write_head(w, f))
        return qerr_set(err, QERR_IO, "write failed: %s", strerror(errno));
    for (uint64_t i = 0; i < w->n_t; i++) {
        int rc = write_tensor(w, f, &w->t[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

int gguf_writer_save(struct gguf_writer *w, const char *path, struct qerr *err)
{
    if (w->err.code)
        return qerr_set(err, w->err.code, "%s: %s", path, w->err.msg);
    struct afile a;
    int rc = afile_open(&a, path, err);
    if (rc)
        return rc;
    rc = write_all(w, a.f, err);
    if (rc) {
        afile_abort(&a);
        return qerr_prefix(err, "%s: ", path);
    }
    return afile_commit(&a, err);
}

/* ---- Q/K row order ---- */

void gguf_permute_qk(const float *src, float *dst, int n_head, int head_dim, int64_t cols)
{
    int half = head_dim / 2;
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(dst + ((int64_t)h * head_dim + 2 * i + j) * cols,
                       src + ((int64_t)h * head_dim + j * half + i) * cols,
                       (size_t)cols * sizeof *dst);
}

void gguf_unpermute_qk(const float *src, float *dst, int n_head, int head_dim, int64_t cols)
{
    int half = head_dim / 2;
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(dst + ((int64_t)h * head_dim + j * half + i) * cols,
                       src + ((int64_t)h * head_dim + 2 * i + j) * cols,
                       (size_t)cols * sizeof *dst);
}

/* ---- model export ---- */

struct src_tensor {
    struct qtensor *t;
    int use_override;
    int permute_heads;     /* >0: rotate-half -> interleaved, this many heads */
    int head_dim;
};

static int fill_from_model(void *ctx, float *dst, int64_t n)
{
    struct src_tensor *s = ctx;
    /* the file values through the budgeted cache (model.h), not a copy
     * kept per tensor until the model closes: an export of a 7B model
     * would otherwise hold every tensor as floats */
    int pinned = !(s->use_override && s->t->override);
    const float *x = pinned ? qtensor_f32_pin(s->t) : s->t->override;
    if (!x)
        return -1;
    if (s->permute_heads > 0)
        gguf_permute_qk(x, dst, s->permute_heads, s->head_dim, n / ((int64_t)s->permute_heads * s->head_dim));
    else
        memcpy(dst, x, (size_t)n * sizeof *dst);
    if (pinned)
        qtensor_f32_unpin(s->t);
    return 0;
}

static void add_config(struct gguf_writer *w, const struct qmodel *m, uint32_t file_type)
{
    const struct qconfig *c = &m->cfg;
    char name[256];
    snprintf(name, sizeof name, "%s", m->path);
    gguf_writer_add_str(w, "general.architecture", "llama");
    gguf_writer_add_str(w, "general.name", basename(name));
    gguf_writer_add_u32(w, "general.file_type", file_type);
    gguf_writer_add_u32(w, "llama.vocab_size", (uint32_t)c->vocab_size);
    gguf_writer_add_u32(w, "llama.context_length", (uint32_t)c->ctx_len);
    gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)c->dim);
    gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    gguf_writer_add_u32(w, "llama.block_count", (uint32_t)c->n_layers);
    gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    gguf_writer_add_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim);
    if (c->head_dim * c->n_heads != c->dim) {
        gguf_writer_add_u32(w, "llama.attention.key_length", (uint32_t)c->head_dim);
        gguf_writer_add_u32(w, "llama.attention.value_length", (uint32_t)c->head_dim);
    }
    gguf_writer_add_f32(w, "llama.rope.freq_base", c->rope_theta);
    gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
}

/* llama2.c tokenizer.bin: i32 max_len, then per token {f32 score, i32 len,
 * bytes}.  Converted as llama.cpp's convert-llama2c-to-ggml does: <unk>,
 * <s>, </s> as unknown/control, <0xXX> as byte tokens, ' ' -> U+2581. */
static int add_llama2c_vocab(struct gguf_writer *w, const struct qmodel *m, struct qerr *err);

static void add_tokenizer(struct gguf_writer *w, const struct qmodel *m, struct qerr *err)
{
    if (m->gguf) {
        for (uint64_t i = 0; i < m->gguf->n_kv; i++) {
            struct gguf_str k = m->gguf->kv[i].key;
            if (k.len > 10 && !memcmp(k.ptr, "tokenizer.", 10))
                gguf_writer_copy_kv(w, &m->gguf->kv[i]);
        }
    } else if (m->format == QF_LLAMA2C && m->tokenizer_path) {
        add_llama2c_vocab(w, m, err);
    } else {
        /* llama.cpp requires tokenizer.ggml.model; "no_vocab" loads the
         * weights with <arch>.vocab_size and no tokenizer (an HF
         * tokenizer.json is not converted). */
        gguf_writer_add_str(w, "tokenizer.ggml.model", "no_vocab");
    }
}

/* GGUF name of a canonical tensor name; 0 to skip the tensor. */
static int gguf_name(const struct qmodel *m, const struct qtensor *t, char *out, size_t cap)
{
    if (t->role == QR_OTHER) {
        if (m->format != QF_GGUF)
            return 0;  /* e.g. HF rotary inv_freq buffers: recomputed */
        snprintf(out, cap, "%s", t->src_name);
        return 1;
    }
    size_t n = strlen(t->name);
    if (t->role == QR_ATTN_Q_BIAS || t->role == QR_ATTN_K_BIAS || t->role == QR_ATTN_V_BIAS)
        snprintf(out, cap, "%.*s.bias", (int)(n - 5), t->name);
    else
        snprintf(out, cap, "%s.weight", t->name);
    return 1;
}

static int add_model_tensors(struct gguf_writer *w, struct qmodel *m, struct src_tensor *src,
                             int use_overrides)
{
    const struct qconfig *c = &m->cfg;
    for (int i = 0; i < m->n_tensors; i++) {
        struct qtensor *t = &m->tensors[i];
        char name[QM_NAME_MAX + 16];
        if (!gguf_name(m, t, name, sizeof name))
            continue;
        src[i] = (struct src_tensor){t, use_overrides, 0, c->head_dim};
        if (c->rope_style == QROPE_HALF) {
            if (t->role == QR_ATTN_Q || t->role == QR_ATTN_Q_BIAS)
                src[i].permute_heads = c->n_heads;
            if (t->role == QR_ATTN_K || t->role == QR_ATTN_K_BIAS)
                src[i].permute_heads = c->n_kv_heads;
        }
        if (gguf_writer_add_tensor_fill(w, name, GGML_T_F32, t->ndim, t->shape, fill_from_model,
                                        &src[i]))
            return -1;
    }
    return 0;
}

static int check_exportable(const struct qmodel *m, const char *path, struct qerr *err);
static void add_rope_scaling(struct gguf_writer *w, const struct qmodel *m);

int gguf_export_name(const struct qmodel *m, const struct qtensor *t, char *out, size_t cap)
{
    return gguf_name(m, t, out, cap);
}

/* A GGUF source's key/values in their order, as llama-quantize copies them:
 * the two quantization keys replaced where they are (appended when absent),
 * split and alignment keys dropped (one file, default alignment). */
static void copy_gguf_meta(struct gguf_writer *w, const struct gguf_file *g, uint32_t file_type)
{
    int have_qv = 0, have_ft = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const struct gguf_kv *kv = &g->kv[i];
        if (gguf_str_eq(kv->key, "general.quantization_version")) {
            gguf_writer_add_u32(w, "general.quantization_version", GGUF_QNT_VERSION);
            have_qv = 1;
        } else if (gguf_str_eq(kv->key, "general.file_type")) {
            gguf_writer_add_u32(w, "general.file_type", file_type);
            have_ft = 1;
        } else if (!gguf_str_eq(kv->key, "general.alignment") &&
                   !(kv->key.len > 6 && !memcmp(kv->key.ptr, "split.", 6))) {
            gguf_writer_copy_kv(w, kv);
        }
    }
    if (!have_qv)
        gguf_writer_add_u32(w, "general.quantization_version", GGUF_QNT_VERSION);
    if (!have_ft)
        gguf_writer_add_u32(w, "general.file_type", file_type);
}

int gguf_writer_add_model_meta(struct gguf_writer *w, const struct qmodel *m, uint32_t file_type,
                               struct qerr *err)
{
    qerr_clear(err);
    if (m->gguf && m->cfg.fused[0]) /* llama.cpp's loader wants them fused */
        return qerr_set(err, QERR_UNSUPP, "%s: cannot export a model whose %s tensors were "
                        "split on load", m->path, m->cfg.fused);
    if (m->gguf) {
        copy_gguf_meta(w, m->gguf, file_type);
        return 0;
    }
    int bad = check_exportable(m, m->path, err);
    if (bad)
        return bad;
    add_config(w, m, file_type);
    add_rope_scaling(w, m);
    gguf_writer_add_u32(w, "general.quantization_version", GGUF_QNT_VERSION);
    add_tokenizer(w, m, err);
    return err && err->code ? err->code : 0;
}

/* The export is a llama-architecture GGUF: families whose pass differs
 * from Llama's in more than RoPE layout and scaling cannot be written. */
static int check_exportable(const struct qmodel *m, const char *path, struct qerr *err)
{
    const struct qconfig *c = &m->cfg;
    const char *what = c->qk_norm ? "q/k norms" : c->post_norms ? "post-norms"
                     : c->act != QACT_SILU ? "GeGLU" : c->embd_scale > 0 ? "embedding scaling"
                     : c->attn_softcap > 0 || c->final_softcap > 0 ? "soft-capping"
                     : c->swa_window > 0 ? "sliding-window attention" : NULL;
    if (what)
        return qerr_set(err, QERR_UNSUPP, "%s: cannot save a %s model as GGUF: qlens writes the "
                        "llama architecture, which has no %s", path, c->arch, what);
    return 0;
}

/* RoPE scaling in llama.cpp's terms: linear as rope.scaling keys, Llama 3's
 * divisors as the rope_freqs tensor (a GGUF source's own rope_freqs is
 * copied with the other tensors). */
static void add_rope_scaling(struct gguf_writer *w, const struct qmodel *m)
{
    const struct qconfig *c = &m->cfg;
    if (c->rope_scaling == QRS_LINEAR) {
        gguf_writer_add_str(w, "llama.rope.scaling.type", "linear");
        gguf_writer_add_f32(w, "llama.rope.scaling.factor", c->rope_factor);
    } else if (c->rope_scaling == QRS_LLAMA3 && qmodel_find(m, "rope_freqs") < 0) {
        int64_t shape[1] = {c->head_dim / 2};
        gguf_writer_add_tensor(w, "rope_freqs.weight", GGML_T_F32, 1, shape, c->rope_div);
    }
}

int gguf_write_model(struct qmodel *m, const char *path, int use_overrides, struct qerr *err)
{
    int bad = check_exportable(m, path, err);
    if (bad)
        return bad;
    struct gguf_writer *w = gguf_writer_new(3);
    struct src_tensor *src = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *src);
    if (!w || !src) {
        gguf_writer_free(w);
        free(src);
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    }
    qerr_clear(err);
    add_config(w, m, 0);  /* LLAMA_FTYPE_ALL_F32 */
    add_rope_scaling(w, m);
    add_tokenizer(w, m, err);
    int rc = err && err->code ? err->code : 0;
    if (!rc)
        add_model_tensors(w, m, src, use_overrides);
    if (!rc)
        rc = gguf_writer_save(w, path, err);
    gguf_writer_free(w);
    free(src);
    return rc;
}

/* ---- llama2.c vocabulary ---- */

/* Read by the tokenizer's own loader, which already converts as llama.cpp's
 * convert-llama2c-to-ggml does (' ' -> U+2581, "\n<s>\n" -> "<s>", token
 * types inferred); only the arrays GGUF wants are built here. */
static int add_llama2c_vocab(struct gguf_writer *w, const struct qmodel *m, struct qerr *err)
{
    struct tokenizer *t;
    int rc = tok_load_llama2c(&t, m->tokenizer_path, m->cfg.vocab_size, err);
    if (rc)
        return rc;
    int n = tok_vocab_size(t);
    const char **text = malloc((size_t)n * sizeof *text);
    float *score = malloc((size_t)n * sizeof *score);
    int32_t *type = malloc((size_t)n * sizeof *type);
    if (text && score && type) {
        for (int i = 0; i < n; i++) {
            text[i] = tok_piece(t, i);
            score[i] = tok_score(t, i);
            type[i] = tok_type(t, i);
        }
        gguf_writer_add_str(w, "tokenizer.ggml.model", "llama");
        gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", text, (uint64_t)n);
        gguf_writer_add_array(w, "tokenizer.ggml.scores", GGUF_T_F32, score, (uint64_t)n);
        gguf_writer_add_array(w, "tokenizer.ggml.token_type", GGUF_T_I32, type, (uint64_t)n);
        gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
        gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
        gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    } else {
        rc = qerr_set(err, QERR_NOMEM, "%s: out of memory", m->tokenizer_path);
    }
    free(text);
    free(score);
    free(type);
    tok_free(t);
    return rc;
}
