/* model: format detection, mapping, the tensor table and float access. */
#include "src/model.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "quant/ggml_types.h"
#include "src/gguf.h"
#include "src/mapguard.h"

/* qdtype -> name and ggml id; block sizes come from quant/ggml_types. */
static const struct {
    const char *name;
    uint32_t ggml;
} dtypes[QD__COUNT] = {
    [QD_F32] = {"F32", GGT_F32},         [QD_F16] = {"F16", GGT_F16},
    [QD_BF16] = {"BF16", GGT_BF16},      [QD_Q4_0] = {"Q4_0", GGT_Q4_0},
    [QD_Q4_1] = {"Q4_1", GGT_Q4_1},      [QD_Q5_0] = {"Q5_0", GGT_Q5_0},
    [QD_Q5_1] = {"Q5_1", GGT_Q5_1},      [QD_Q8_0] = {"Q8_0", GGT_Q8_0},
    [QD_Q2_K] = {"Q2_K", GGT_Q2_K},      [QD_Q3_K] = {"Q3_K", GGT_Q3_K},
    [QD_Q4_K] = {"Q4_K", GGT_Q4_K},      [QD_Q5_K] = {"Q5_K", GGT_Q5_K},
    [QD_Q6_K] = {"Q6_K", GGT_Q6_K},      [QD_IQ4_NL] = {"IQ4_NL", GGT_IQ4_NL},
    [QD_IQ4_XS] = {"IQ4_XS", GGT_IQ4_XS},
};

const char *qdtype_name(enum qdtype dt) { return dt < QD__COUNT ? dtypes[dt].name : "?"; }
uint32_t qdtype_ggml(enum qdtype dt) { return dt < QD__COUNT ? dtypes[dt].ggml : UINT32_MAX; }

int qdtype_from_ggml(uint32_t ggml_type, enum qdtype *dt)
{
    for (int i = 0; i < QD__COUNT; i++)
        if (dtypes[i].ggml == ggml_type) {
            *dt = (enum qdtype)i;
            return 0;
        }
    return -1;
}

static const struct ggt_traits *dtype_traits(enum qdtype dt)
{
    return dt < QD__COUNT ? ggt_traits(dtypes[dt].ggml) : NULL;
}

int qdtype_block(enum qdtype dt)
{
    const struct ggt_traits *t = dtype_traits(dt);
    return t ? t->blck_size : 0;
}

size_t qdtype_block_bytes(enum qdtype dt)
{
    const struct ggt_traits *t = dtype_traits(dt);
    return t ? (size_t)t->type_size : 0;
}

size_t qdtype_size(enum qdtype dt)
{
    return qdtype_block(dt) == 1 ? qdtype_block_bytes(dt) : 0;
}

double qdtype_bpw(enum qdtype dt)
{
    const struct ggt_traits *t = dtype_traits(dt);
    return t ? t->bpw : 0;
}

const char *qformat_name(enum qformat f)
{
    switch (f) {
    case QF_LLAMA2C: return "llama2.c";
    case QF_GGUF: return "GGUF";
    case QF_SAFETENSORS: return "safetensors";
    }
    return "?";
}

/* Suffix of a canonical name -> role.  One table: classification, role
 * names and "is it a linear layer" all read it. */
static const struct {
    const char *suffix;
    enum qrole role;
    int linear;
} role_table[] = {
    {"token_embd", QR_TOK_EMBD, 0},
    {"attn_norm", QR_ATTN_NORM, 0},
    {"attn_q", QR_ATTN_Q, 1},
    {"attn_k", QR_ATTN_K, 1},
    {"attn_v", QR_ATTN_V, 1},
    {"attn_output", QR_ATTN_OUT, 1},
    {"attn_q_bias", QR_ATTN_Q_BIAS, 0},
    {"attn_k_bias", QR_ATTN_K_BIAS, 0},
    {"attn_v_bias", QR_ATTN_V_BIAS, 0},
    {"ffn_norm", QR_FFN_NORM, 0},
    {"ffn_gate", QR_FFN_GATE, 1},
    {"ffn_up", QR_FFN_UP, 1},
    {"ffn_down", QR_FFN_DOWN, 1},
    {"output_norm", QR_OUT_NORM, 0},
    {"output", QR_OUTPUT, 1},
    {"attn_q_norm", QR_ATTN_Q_NORM, 0},
    {"attn_k_norm", QR_ATTN_K_NORM, 0},
    {"post_attention_norm", QR_ATTN_POST_NORM, 0},
    {"post_ffw_norm", QR_FFN_POST_NORM, 0},
};
#define N_ROLES (sizeof role_table / sizeof role_table[0])

const char *qrole_name(enum qrole r)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (role_table[i].role == r)
            return role_table[i].suffix;
    return "other";
}

int qrole_is_linear(enum qrole r)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (role_table[i].role == r)
            return role_table[i].linear;
    return 0;
}

void qmodel_classify(const char *name, int *layer, enum qrole *role)
{
    *layer = -1;
    *role = QR_OTHER;
    const char *suffix = name;
    if (!strncmp(name, "blk.", 4)) {
        char *end;
        long l = strtol(name + 4, &end, 10);
        if (end == name + 4 || *end != '.' || l < 0 || l > 1000000)
            return;
        *layer = (int)l;
        suffix = end + 1;
    }
    for (size_t i = 0; i < N_ROLES; i++) {
        if (strcmp(suffix, role_table[i].suffix))
            continue;
        int global = role_table[i].role == QR_TOK_EMBD || role_table[i].role == QR_OUT_NORM ||
                     role_table[i].role == QR_OUTPUT;
        if (global == (*layer < 0))
            *role = role_table[i].role;
        return;
    }
}

/* ---- mapping ---- */

int qmodel_map_file(struct qmodel *m, const char *path, struct qerr *err)
{
    struct stat st;
    int fd = afile_open_regular(path, &st, err);
    if (fd < 0)
        return fd;
    if (st.st_size == 0) {
        close(fd);
        return qerr_set(err, QERR_FORMAT, "%s: file is empty", path);
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    if (base == MAP_FAILED) {
        close(fd);
        return qerr_set(err, QERR_IO, "%s: cannot map: %s", path, strerror(e));
    }
    struct qmap *maps = realloc(m->maps, (size_t)(m->n_maps + 1) * sizeof *maps);
    if (!maps) {
        munmap(base, (size_t)st.st_size);
        close(fd);
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    }
    m->maps = maps;
    /* the descriptor stays open for qtreader: a path opened again later
     * could name another file by then */
    maps[m->n_maps] = (struct qmap){strdup(path), base, (size_t)st.st_size,
                                    mapguard_add(base, (size_t)st.st_size), fd};
    return m->n_maps++;
}

/* ---- tensor table ---- */

int qmodel_add_tensor(struct qmodel *m, const char *name, const char *src_name,
                      enum qdtype dt, int ndim, const int64_t *shape, int map_index,
                      uint64_t offset, struct qerr *err)
{
    const struct qmap *map = &m->maps[map_index];
    const char *what = src_name && *src_name ? src_name : name;
    if (strlen(name) >= QM_NAME_MAX)
        return qerr_set(err, QERR_FORMAT, "%s: tensor name '%.40s...' too long", map->path, name);
    if (dt >= QD__COUNT)
        return qerr_set(err, QERR_UNSUPP, "%s: tensor %s: unknown dtype", map->path, what);
    if (ndim < 1 || ndim > QM_MAX_DIMS)
        return qerr_set(err, QERR_FORMAT, "%s: tensor %s: %d dimensions (1..%d supported)",
                        map->path, what, ndim, QM_MAX_DIMS);
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return qerr_set(err, QERR_FORMAT, "%s: tensor %s: dimension %d is %lld",
                            map->path, what, i, (long long)shape[i]);
        /* 2^60 elements keep the byte count (<= 8 per element) inside 64 bits */
        if ((uint64_t)shape[i] > (UINT64_C(1) << 60) / n)
            return qerr_set(err, QERR_FORMAT, "%s: tensor %s: element count overflows",
                            map->path, what);
        n *= (uint64_t)shape[i];
    }
    /* block types: whole blocks per row of the innermost dimension */
    const int64_t blk = qdtype_block(dt), cols = shape[ndim - 1];
    if (cols % blk)
        return qerr_set(err, QERR_FORMAT,
                        "%s: tensor %s: row length (innermost dimension) %lld is not a multiple "
                        "of the %s block size %lld", map->path, what, (long long)cols,
                        qdtype_name(dt), (long long)blk);
    uint64_t nbytes = n / (uint64_t)blk * qdtype_block_bytes(dt);
    if (offset > map->size || nbytes > map->size - offset)
        return qerr_set(err, QERR_FORMAT,
                        "%s: tensor %s: data [%llu, %llu) runs past end of file (size %zu)",
                        map->path, what, (unsigned long long)offset,
                        (unsigned long long)(offset + nbytes), map->size);
    int dup = qmodel_find(m, name);  /* e.g. "x.weight" and "x" in one GGUF */
    if (dup >= 0)
        return qerr_set(err, QERR_FORMAT, "%s: tensor %s: its name %s is already taken by %s",
                        map->path, what, name,
                        m->tensors[dup].src_name[0] ? m->tensors[dup].src_name : name);
    if (m->n_tensors % 64 == 0) {
        struct qtensor *t = realloc(m->tensors, (size_t)(m->n_tensors + 64) * sizeof *t);
        if (!t)
            return qerr_set(err, QERR_NOMEM, "out of memory");
        m->tensors = t;
    }
    struct qtensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->src_name, sizeof t->src_name, "%s", src_name ? src_name : "");
    qmodel_classify(name, &t->layer, &t->role);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->nelem = (int64_t)n;
    t->nbytes = (size_t)nbytes;
    t->file_offset = offset;
    t->map_index = map_index;
    t->data = (const uint8_t *)map->base + offset;
    return m->n_tensors++;
}

int qmodel_find(const struct qmodel *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return i;
    return -1;
}

struct qtensor *qmodel_get(struct qmodel *m, int layer, enum qrole role)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].layer == layer && m->tensors[i].role == role)
            return &m->tensors[i];
    return NULL;
}

int64_t qtensor_cols(const struct qtensor *t) { return t->shape[t->ndim - 1]; }
int64_t qtensor_rows(const struct qtensor *t) { return t->nelem / t->shape[t->ndim - 1]; }

void qtensor_shape_str(const struct qtensor *t, const char *sep, char *buf, size_t cap)
{
    size_t o = 0;
    if (cap)
        buf[0] = '\0';
    for (int i = 0; i < t->ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? sep : "", (long long)t->shape[i]);
}

int64_t qmodel_param_count(const struct qmodel *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_tensors; i++)
        n += m->tensors[i].nelem;
    return n;
}

/* ---- fused tensors ---- */

int qmodel_split_rows(struct qmodel *m, const char *fused, int n, const char *const *parts,
                      const int64_t *rows, struct qerr *err)
{
    int i = qmodel_find(m, fused);
    if (i < 0)
        return qerr_set(err, QERR_FORMAT, "%s: required tensor %s is missing", m->path, fused);
    struct qtensor t = m->tensors[i];
    int64_t total = 0, cols = qtensor_cols(&t);
    for (int k = 0; k < n; k++)
        total += rows[k];
    if (t.ndim != 2 || qtensor_rows(&t) != total)
        return qerr_set(err, QERR_FORMAT, "%s: fused tensor %s is %lld x %lld, config says "
                        "%lld x %lld", m->path, t.src_name[0] ? t.src_name : fused,
                        (long long)qtensor_rows(&t), (long long)cols, (long long)total,
                        (long long)cols);
    memmove(&m->tensors[i], &m->tensors[i + 1], (size_t)(m->n_tensors - i - 1) * sizeof t);
    m->n_tensors--;
    /* rows are whole blocks of a block type (GGUF checked the row length) */
    uint64_t row_bytes = (uint64_t)cols / (uint64_t)qdtype_block(t.dtype) * qdtype_block_bytes(t.dtype);
    int64_t row = 0;
    for (int k = 0; k < n; k++) {
        char src[QM_NAME_MAX];
        int64_t shape[2] = {rows[k], cols};
        snprintf(src, sizeof src, "%.60s[%lld:%lld]", t.src_name[0] ? t.src_name : fused,
                 (long long)row, (long long)(row + rows[k]));
        int rc = qmodel_add_tensor(m, parts[k], src, t.dtype, 2, shape, t.map_index,
                                   t.file_offset + (uint64_t)row * row_bytes, err);
        if (rc < 0)
            return rc;
        m->tensors[rc].add = t.add;
        row += rows[k];
    }
    return 0;
}

/* "blk.N.attn_qkv" -> 0, "blk.N.ffn_gate_up" -> 1 with *layer = N; any
 * other name -> -1. */
static int fused_kind(const char *name, int *layer)
{
    if (strncmp(name, "blk.", 4) || !isdigit((unsigned char)name[4]))
        return -1;
    char *end;
    long l = strtol(name + 4, &end, 10);
    if (l > INT_MAX || (name[4] == '0' && end != name + 5))  /* "blk.007": not ours */
        return -1;
    *layer = (int)l;
    return !strcmp(end, ".attn_qkv") ? 0 : !strcmp(end, ".ffn_gate_up") ? 1 : -1;
}

/* Phi-3's fused tensors: blk.N.attn_qkv (q_dim + 2 kv_dim rows) and
 * blk.N.ffn_gate_up (2 hidden rows, gate first), when present.  One pass
 * over the tensors, not over the layers: block_count comes from the file,
 * and a corrupt count of 2^31 layers would spin here for minutes. */
int qmodel_split_fused(struct qmodel *m, struct qerr *err)
{
    const struct qconfig *c = &m->cfg;
    static const char *const names[2][3] = {{"attn_q", "attn_k", "attn_v"},
                                            {"ffn_gate", "ffn_up", NULL}};
    int64_t rows[2][3] = {{(int64_t)c->n_heads * c->head_dim, (int64_t)c->n_kv_heads * c->head_dim,
                           (int64_t)c->n_kv_heads * c->head_dim},
                          {c->hidden_dim, c->hidden_dim, 0}};
    int count[2] = {0, 0}, rc = 0;
    for (int i = 0; i < m->n_tensors && !rc;) {
        int l, k = fused_kind(m->tensors[i].name, &l);
        if (k < 0 || l >= c->n_layers) {  /* past the last layer: validation names it */
            i++;
            continue;
        }
        char fused[QM_NAME_MAX], parts[3][64];
        const char *pp[3] = {parts[0], parts[1], parts[2]};
        snprintf(fused, sizeof fused, "%s", m->tensors[i].name);
        for (int j = 0; j < 3 - k; j++)
            snprintf(parts[j], sizeof parts[j], "blk.%d.%s", l, names[k][j]);
        /* the split removes tensor i and appends its parts at the end */
        rc = qmodel_split_rows(m, fused, 3 - k, pp, rows[k], err);
        count[k]++;
    }
    snprintf(m->cfg.fused, sizeof m->cfg.fused, "%s%s%s", count[0] ? "qkv" : "",
             count[0] && count[1] ? ", " : "", count[1] ? "gate_up" : "");
    return rc;
}

/* ---- config helpers ---- */

int qconfig_layer_is_local(const struct qconfig *c, int l)
{
    if (c->swa_window <= 0)
        return 0;
    return c->swa_pattern <= 0 || (l + 1) % c->swa_pattern != 0;
}

/* Llama 3.1's scaling: wavelengths shorter than orig_ctx/high_freq_factor
 * keep their frequency, longer than orig_ctx/low_freq_factor are divided
 * by factor, and the band between blends the two linearly in
 * orig_ctx/wavelength.  Frequencies in float (as the converter's torch
 * float32 arange), the blend in double. */
void qconfig_llama3_rope(struct qconfig *c)
{
    int half = c->head_dim / 2;
    double lo = c->rope_low_freq, hi = c->rope_high_freq, ctx = c->rope_orig_ctx;
    double lo_wave = ctx / lo, hi_wave = ctx / hi;
    for (int i = 0; i < half && i < QM_ROPE_MAX_PAIRS; i++) {
        float freq = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)c->head_dim);
        double wave = 2.0 * M_PI / (double)freq, d;
        if (wave < hi_wave)
            d = 1.0;
        else if (wave > lo_wave)
            d = c->rope_factor;
        else {
            double smooth = (ctx / wave - lo) / (hi - lo);
            d = 1.0 / ((1.0 - smooth) / c->rope_factor + smooth);
        }
        c->rope_div[i] = (float)d;
    }
    c->has_rope_div = 1;
    c->rope_scaling = QRS_LLAMA3;
}

static const char *const rope_scaling_names[] = {"none", "linear", "llama3"};

const char *qrope_scaling_name(enum qrope_scaling s)
{
    return (unsigned)s < 3 ? rope_scaling_names[s] : "?";
}

int qconfig_local_layers(const struct qconfig *c)
{
    int n = 0;
    for (int l = 0; l < c->n_layers; l++)
        n += qconfig_layer_is_local(c, l);
    return n;
}

/* Append to buf (cap bytes, kept NUL-terminated). */
static void cat(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

void qconfig_describe(const struct qconfig *c, char *buf, size_t cap)
{
    if (!cap)
        return;
    buf[0] = '\0';
    if (c->rope_scaling == QRS_LLAMA3 && c->rope_orig_ctx > 0)
        cat(buf, cap, "; RoPE scaling llama3 (factor %g, low %g, high %g, original context %d)",
            c->rope_factor, c->rope_low_freq, c->rope_high_freq, c->rope_orig_ctx);
    else if (c->rope_scaling == QRS_LLAMA3)
        cat(buf, cap, "; RoPE scaling llama3 (rope_freqs divisors %g .. %g)", c->rope_div[0],
            c->rope_div[c->head_dim / 2 - 1]);
    else if (c->rope_scaling == QRS_LINEAR)
        cat(buf, cap, "; RoPE scaling linear (factor %g)", c->rope_factor);
    if (c->qk_norm)
        cat(buf, cap, "; q/k norm");
    if (c->post_norms)
        cat(buf, cap, "; post-attention and post-FFN norms");
    if (c->act == QACT_GELU_TANH)
        cat(buf, cap, "; GeGLU (gelu tanh)");
    if (c->embd_scale > 0)
        cat(buf, cap, "; embeddings x %g", c->embd_scale);
    if (c->attn_scale > 0)
        cat(buf, cap, "; query scale %g (1/sqrt(%g))", c->attn_scale,
            1.0 / ((double)c->attn_scale * c->attn_scale));
    if (c->attn_softcap > 0)
        cat(buf, cap, "; attention soft-cap %g", c->attn_softcap);
    if (c->final_softcap > 0)
        cat(buf, cap, "; final soft-cap %g", c->final_softcap);
    if (c->swa_window > 0)
        cat(buf, cap, "; sliding window %d on %d of %d layers", c->swa_window,
            qconfig_local_layers(c), c->n_layers);
    if (c->swa_window > 0 && c->rope_theta_local > 0)
        cat(buf, cap, " (local rope theta %g)", c->rope_theta_local);
    if (c->fused[0])
        cat(buf, cap, "; fused %s split on load", c->fused);
    if (buf[0])
        memmove(buf, buf + 2, strlen(buf + 2) + 1);
}

/* ---- validation ---- */

static int cmp_by_offset(const void *a, const void *b)
{
    const struct qtensor *x = *(const struct qtensor *const *)a, *y = *(const struct qtensor *const *)b;
    if (x->map_index != y->map_index)
        return x->map_index < y->map_index ? -1 : 1;
    return x->file_offset < y->file_offset ? -1 : x->file_offset > y->file_offset;
}

static int check_overlaps(struct qmodel *m, struct qerr *err)
{
    if (m->n_tensors < 2)
        return 0;
    const struct qtensor **v = malloc((size_t)m->n_tensors * sizeof *v);
    if (!v)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_tensors; i++)
        v[i] = &m->tensors[i];
    qsort(v, (size_t)m->n_tensors, sizeof *v, cmp_by_offset);
    int rc = 0;
    for (int i = 1; i < m->n_tensors && !rc; i++) {
        const struct qtensor *a = v[i - 1], *b = v[i];
        if (a->map_index == b->map_index && a->file_offset + a->nbytes > b->file_offset)
            rc = qerr_set(err, QERR_FORMAT, "%s: tensors %s and %s overlap (offset %llu)",
                          m->maps[a->map_index].path, a->name, b->name,
                          (unsigned long long)b->file_offset);
    }
    free(v);
    return rc;
}

static int check_config(const struct qmodel *m, struct qerr *err)
{
    const struct qconfig *c = &m->cfg;
    if (c->dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->vocab_size <= 0 || c->hidden_dim <= 0 || c->head_dim <= 0)
        return qerr_set(err, QERR_FORMAT,
                        "%s: invalid config: dim %d, hidden %d, layers %d, heads %d, kv heads %d, "
                        "vocab %d, head_dim %d", m->path, c->dim, c->hidden_dim, c->n_layers,
                        c->n_heads, c->n_kv_heads, c->vocab_size, c->head_dim);
    if (c->n_heads % c->n_kv_heads)
        return qerr_set(err, QERR_FORMAT, "%s: %d heads not a multiple of %d kv heads", m->path,
                        c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2)
        return qerr_set(err, QERR_FORMAT, "%s: head_dim %d is odd (RoPE needs pairs)", m->path,
                        c->head_dim);
    if (c->head_dim > 2 * QM_ROPE_MAX_PAIRS)
        return qerr_set(err, QERR_UNSUPP, "%s: head_dim %d is above %d", m->path, c->head_dim,
                        2 * QM_ROPE_MAX_PAIRS);
    if (c->swa_window < 0 || c->swa_pattern < 0)
        return qerr_set(err, QERR_FORMAT, "%s: negative sliding window %d or pattern %d",
                        m->path, c->swa_window, c->swa_pattern);
    for (int i = 0; c->has_rope_div && i < c->head_dim / 2; i++)
        if (!(c->rope_div[i] > 0) || c->rope_div[i] > 1e30f)
            return qerr_set(err, QERR_FORMAT, "%s: RoPE frequency divisor %d is %g (must be a "
                            "positive number)", m->path, i, c->rope_div[i]);
    return 0;
}

/* Expected shape of a required tensor, from the config. */
static int expected_shape(const struct qconfig *c, enum qrole r, int64_t *rows, int64_t *cols)
{
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    switch (r) {
    case QR_TOK_EMBD: case QR_OUTPUT: *rows = c->vocab_size; *cols = c->dim; return 1;
    case QR_ATTN_NORM: case QR_FFN_NORM: case QR_OUT_NORM: *rows = 1; *cols = c->dim; return 1;
    case QR_ATTN_Q: *rows = q; *cols = c->dim; return 1;
    case QR_ATTN_K: case QR_ATTN_V: *rows = kv; *cols = c->dim; return 1;
    case QR_ATTN_OUT: *rows = c->dim; *cols = q; return 1;
    case QR_FFN_GATE: case QR_FFN_UP: *rows = c->hidden_dim; *cols = c->dim; return 1;
    case QR_FFN_DOWN: *rows = c->dim; *cols = c->hidden_dim; return 1;
    case QR_ATTN_Q_BIAS: *rows = 1; *cols = q; return 1;
    case QR_ATTN_K_BIAS: case QR_ATTN_V_BIAS: *rows = 1; *cols = kv; return 1;
    case QR_ATTN_Q_NORM: case QR_ATTN_K_NORM: *rows = 1; *cols = c->head_dim; return 1;
    case QR_ATTN_POST_NORM: case QR_FFN_POST_NORM: *rows = 1; *cols = c->dim; return 1;
    default: return 0;
    }
}

static int check_tensor(struct qmodel *m, int layer, enum qrole r, struct qerr *err)
{
    struct qtensor *t = qmodel_get(m, layer, r);
    char nm[64];
    if (layer >= 0)
        snprintf(nm, sizeof nm, "blk.%d.%s", layer, qrole_name(r));
    else
        snprintf(nm, sizeof nm, "%s", qrole_name(r));
    if (!t)
        return qerr_set(err, QERR_FORMAT, "%s: required tensor %s is missing", m->path, nm);
    int64_t rows, cols;
    if (expected_shape(&m->cfg, r, &rows, &cols) &&
        (qtensor_rows(t) != rows || qtensor_cols(t) != cols))
        return qerr_set(err, QERR_FORMAT, "%s: tensor %s is %lld x %lld, config says %lld x %lld",
                        m->path, nm, (long long)qtensor_rows(t), (long long)qtensor_cols(t),
                        (long long)rows, (long long)cols);
    return 0;
}

int qmodel_validate(struct qmodel *m, struct qerr *err)
{
    static const enum qrole per_layer[] = {QR_ATTN_NORM, QR_ATTN_Q, QR_ATTN_K, QR_ATTN_V,
                                           QR_ATTN_OUT, QR_FFN_NORM, QR_FFN_GATE, QR_FFN_UP,
                                           QR_FFN_DOWN};
    static const enum qrole bias[] = {QR_ATTN_Q_BIAS, QR_ATTN_K_BIAS, QR_ATTN_V_BIAS};
    static const enum qrole qk_norm[] = {QR_ATTN_Q_NORM, QR_ATTN_K_NORM};
    static const enum qrole post[] = {QR_ATTN_POST_NORM, QR_FFN_POST_NORM};
    int rc = check_config(m, err);
    if (!rc)
        rc = check_overlaps(m, err);
    if (!rc)
        rc = check_tensor(m, -1, QR_TOK_EMBD, err);
    if (!rc)
        rc = check_tensor(m, -1, QR_OUT_NORM, err);
    if (!rc && !m->cfg.tied_output)
        rc = check_tensor(m, -1, QR_OUTPUT, err);
    for (int l = 0; l < m->cfg.n_layers && !rc; l++) {
        for (size_t i = 0; i < sizeof per_layer / sizeof *per_layer && !rc; i++)
            rc = check_tensor(m, l, per_layer[i], err);
        for (size_t i = 0; m->cfg.has_qkv_bias && i < 3 && !rc; i++)
            rc = check_tensor(m, l, bias[i], err);
        for (size_t i = 0; m->cfg.qk_norm && i < 2 && !rc; i++)
            rc = check_tensor(m, l, qk_norm[i], err);
        for (size_t i = 0; m->cfg.post_norms && i < 2 && !rc; i++)
            rc = check_tensor(m, l, post[i], err);
    }
    /* a tensor the pass would ignore means a family feature we did not
     * recognise: refuse rather than compute something else */
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        enum qrole r = m->tensors[i].role;
        if (((r == QR_ATTN_Q_NORM || r == QR_ATTN_K_NORM) && !m->cfg.qk_norm) ||
            ((r == QR_ATTN_POST_NORM || r == QR_FFN_POST_NORM) && !m->cfg.post_norms))
            rc = qerr_set(err, QERR_UNSUPP, "%s: tensor %s is not used by architecture %s",
                          m->path, m->tensors[i].name, m->cfg.arch);
    }
    for (int i = 0; i < m->n_tensors && !rc; i++)
        if (m->tensors[i].layer >= m->cfg.n_layers)
            rc = qerr_set(err, QERR_FORMAT, "%s: tensor %s: layer %d but the model has %d layers",
                          m->path, m->tensors[i].name, m->tensors[i].layer, m->cfg.n_layers);
    return rc;
}

/* ---- float access ---- */

/* The one place that turns file bytes into floats: every storage type goes
 * through its ggml traits decoder (F32 is a copy, F16/BF16 exact widening,
 * block types llama.cpp's dequantize_row_*). */
void qtensor_read_f32(const struct qtensor *t, float *dst)
{
    const struct ggt_traits *tr = dtype_traits(t->dtype);
    if (tr) /* nelem is whole blocks: checked by qmodel_add_tensor */
        tr->to_float(t->data, dst, t->nelem);
}

int qtensor_read_range(const struct qtensor *t, int64_t off, int64_t len, float *dst)
{
    const struct ggt_traits *tr = dtype_traits(t->dtype);
    if (!tr || off < 0 || len < 0 || off > t->nelem || len > t->nelem - off ||
        off % tr->blck_size || len % tr->blck_size)
        return -1;
    const char *src = (const char *)t->data + (size_t)(off / tr->blck_size) * tr->type_size;
    tr->to_float(src, dst, len);
    for (int64_t i = 0; t->add != 0.0f && i < len; i++) /* Gemma's stored (w - 1) norms */
        dst[i] += t->add;
    return 0;
}

int qtensor_read_rows(const struct qtensor *t, int64_t r0, int64_t nr, float *dst)
{
    int64_t cols = qtensor_cols(t);
    if (r0 < 0 || nr < 0 || r0 > qtensor_rows(t) || nr > qtensor_rows(t) - r0)
        return -1;
    return qtensor_read_range(t, r0 * cols, nr * cols, dst);
}

/* ---- streaming reader ---- */

int qtreader_init(struct qtreader *r, const struct qmodel *m, const struct qtensor *t,
                  size_t cap)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->fd = -1;
    if (t->map_index >= 0 && t->map_index < m->n_maps && m->maps[t->map_index].fd >= 0 &&
        (const char *)t->data == (const char *)m->maps[t->map_index].base + t->file_offset) {
        r->fd = m->maps[t->map_index].fd;
        r->base = t->file_offset;
    }
    if (r->fd < 0)
        return 0;
    r->cap = cap < 4096 ? 4096 : cap;
    r->win = malloc(r->cap);
    return r->win ? 0 : -1;
}

void qtreader_free(struct qtreader *r)
{
    free(r->win);
    r->win = NULL;
}

/* Bytes [b0, b0 + cap) of the tensor (cut at its end) into the window. */
static int qtreader_fill(struct qtreader *r, uint64_t b0)
{
    uint64_t end = b0 + r->cap < r->t->nbytes ? b0 + r->cap : r->t->nbytes;
    size_t got = 0, want = (size_t)(end - b0);
    while (got < want) {
        ssize_t k = pread(r->fd, r->win + got, want - got, (off_t)(r->base + b0 + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            r->failed = 1;
            r->w0 = r->w1 = 0;
            return -1;
        }
        got += (size_t)k;
    }
    r->w0 = b0;
    r->w1 = end;
    return 0;
}

const float *qtreader_get(struct qtreader *r, int64_t off, int64_t len, float *dst)
{
    const struct qtensor *t = r->t;
    const struct ggt_traits *tr = dtype_traits(t->dtype);
    if (!tr || off < 0 || len < 0 || off > t->nelem || len > t->nelem - off ||
        off % tr->blck_size || len % tr->blck_size)
        return NULL;
    uint64_t b0 = (uint64_t)(off / tr->blck_size) * tr->type_size;
    uint64_t nb = (uint64_t)(len / tr->blck_size) * tr->type_size;
    /* a few bytes behind the window (a second pass re-reading a block
     * here and there): the mapping; a new pass over the tensor: pread */
    if (r->fd < 0 || (r->scattered && b0 < r->w0 && nb <= QTREADER_SMALL))
        return qtensor_read_range(t, off, len, dst) ? NULL : dst;
    if (nb > r->cap) { /* larger than the window: in pieces of whole blocks */
        int64_t step = (int64_t)(r->cap / tr->type_size) * tr->blck_size;
        for (int64_t o = 0; o < len; o += step) {
            int64_t l = len - o < step ? len - o : step;
            const float *p = qtreader_get(r, off + o, l, dst + o);
            if (!p)
                return NULL;
            if (p != dst + o) /* F32 handed out in place */
                memcpy(dst + o, p, (size_t)l * sizeof *dst);
        }
        return dst;
    }
    if ((b0 < r->w0 || b0 + nb > r->w1) && qtreader_fill(r, b0))
        return NULL;
    const unsigned char *p = r->win + (b0 - r->w0);
    if (t->dtype == QD_F32 && t->add == 0.0f && (uintptr_t)p % sizeof(float) == 0)
        return (const float *)p;
    tr->to_float(p, dst, len);
    for (int64_t i = 0; t->add != 0.0f && i < len; i++)
        dst[i] += t->add;
    return dst;
}

/* ---- float copies under a budget (see model.h) ----
 *
 * One lock for the process: the registry of evictable copies, the byte
 * count and the tensors' f32 / f32_pins / f32_lru / f32_used fields.
 * Conversions run outside the lock. */
static pthread_mutex_t f32_mu = PTHREAD_MUTEX_INITIALIZER;
static struct qtensor **f32_reg;  /* (f32_nreg) tensors with an evictable copy */
static int f32_nreg, f32_capreg;
static size_t f32_bytes, f32_budget;
static int f32_budget_set;
static uint64_t f32_tick;

int qmodel_parse_size(const char *s, size_t *bytes)
{
    char *end;
    double v = s && *s ? strtod(s, &end) : -1;
    if (!(v >= 0) || end == s)
        return -1;
    double mul = 1048576.0; /* a bare number: MiB */
    if (*end == 'K' || *end == 'k') mul = 1024.0, end++;
    else if (*end == 'M' || *end == 'm') mul = 1048576.0, end++;
    else if (*end == 'G' || *end == 'g') mul = 1073741824.0, end++;
    else if (*end == 'T' || *end == 't') mul = 1099511627776.0, end++;
    if (*end == 'B' || *end == 'b' || (*end == 'i' && (end[1] == 'B' || end[1] == 'b')))
        end += *end == 'i' ? 2 : 1;
    if (*end || v * mul > 9e18)
        return -1;
    *bytes = (size_t)(v * mul);
    return 0;
}

/* Under the lock. */
static size_t budget_locked(void)
{
    if (!f32_budget_set) {
        f32_budget_set = 1;
        f32_budget = QM_F32_BUDGET_DEFAULT;
        size_t b;
        const char *e = getenv("QLENS_F32_CACHE");
        if (e && qmodel_parse_size(e, &b) == 0)
            f32_budget = b;
    }
    return f32_budget;
}

void qmodel_set_f32_budget(size_t bytes)
{
    pthread_mutex_lock(&f32_mu);
    f32_budget = bytes;
    f32_budget_set = 1;
    pthread_mutex_unlock(&f32_mu);
}

size_t qmodel_f32_budget(void)
{
    pthread_mutex_lock(&f32_mu);
    size_t b = budget_locked();
    pthread_mutex_unlock(&f32_mu);
    return b;
}

size_t qmodel_f32_bytes(void)
{
    pthread_mutex_lock(&f32_mu);
    size_t b = f32_bytes;
    pthread_mutex_unlock(&f32_mu);
    return b;
}

static size_t copy_bytes(const struct qtensor *t)
{
    return (size_t)t->nelem * sizeof(float);
}

static void reg_remove(struct qtensor *t)
{
    for (int i = 0; i < f32_nreg; i++)
        if (f32_reg[i] == t) {
            f32_reg[i] = f32_reg[--f32_nreg];
            break;
        }
    t->f32_lru = 0;
}

/* Free unpinned evictable copies, least recently used first, until
 * `need` more bytes fit the budget (or none is left to free). */
static void evict_for(size_t need)
{
    while (f32_bytes + need > budget_locked()) {
        int best = -1;
        for (int i = 0; i < f32_nreg; i++)
            if (f32_reg[i]->f32_pins == 0 &&
                (best < 0 || f32_reg[i]->f32_used < f32_reg[best]->f32_used))
                best = i;
        if (best < 0)
            return;
        struct qtensor *t = f32_reg[best];
        free(t->f32);
        t->f32 = NULL;
        f32_bytes -= copy_bytes(t);
        reg_remove(t);
    }
}

static int direct_f32(const struct qtensor *t)
{
    return t->dtype == QD_F32 && ((uintptr_t)t->data % sizeof(float)) == 0 && t->add == 0.0f;
}

/* The file values converted into a new buffer (outside the lock). */
static float *convert_copy(const struct qtensor *t)
{
    if (!dtype_traits(t->dtype))
        return NULL;
    float *x = malloc(copy_bytes(t) ? copy_bytes(t) : 1);
    if (!x)
        return NULL;
    qtensor_read_f32(t, x);
    for (int64_t i = 0; t->add != 0.0f && i < t->nelem; i++)
        x[i] += t->add;
    return x;
}

/* t's copy, made if needed; `pin`: pinned and evictable unless already
 * permanent, else made permanent.  NULL when memory runs out. */
static const float *get_copy(struct qtensor *t, int pin)
{
    float *x, *made = NULL;
    for (;;) {
        pthread_mutex_lock(&f32_mu);
        x = t->f32;
        pthread_mutex_unlock(&f32_mu);
        if (!x && !made && !(made = convert_copy(t)))
            return NULL;
        pthread_mutex_lock(&f32_mu);
        if (t->f32 || made)
            break;
        /* the copy seen above was evicted by another thread before it
         * could be pinned: convert it ourselves */
        pthread_mutex_unlock(&f32_mu);
    }
    if (!t->f32) { /* nobody made it meanwhile */
        t->f32 = made;
        made = NULL;
        f32_bytes += copy_bytes(t);
        if (pin && f32_nreg == f32_capreg) {
            int cap = f32_capreg ? 2 * f32_capreg : 64;
            struct qtensor **r = realloc(f32_reg, (size_t)cap * sizeof *r);
            if (r)
                f32_reg = r, f32_capreg = cap;
        }
        if (pin && f32_nreg < f32_capreg) { /* else it stays, permanent */
            f32_reg[f32_nreg++] = t;
            t->f32_lru = 1;
        }
    }
    if (!pin && t->f32_lru)
        reg_remove(t); /* handed out unpinned: kept from now on */
    if (pin)
        t->f32_pins++;
    t->f32_used = ++f32_tick;
    evict_for(0); /* t is pinned or permanent now: never itself */
    x = t->f32;
    pthread_mutex_unlock(&f32_mu);
    free(made);
    return x;
}

const float *qtensor_f32_pin(struct qtensor *t)
{
    if (direct_f32(t))
        return t->data;
    return get_copy(t, 1);
}

void qtensor_f32_unpin(struct qtensor *t)
{
    if (direct_f32(t))
        return;
    pthread_mutex_lock(&f32_mu);
    if (t->f32_pins > 0)
        t->f32_pins--;
    pthread_mutex_unlock(&f32_mu);
}

/* A model's tensors leave the registry (and the byte count) when it
 * closes. */
static void drop_copies(struct qmodel *m)
{
    pthread_mutex_lock(&f32_mu);
    for (int i = 0; i < m->n_tensors; i++) {
        struct qtensor *t = &m->tensors[i];
        if (t->f32_lru)
            reg_remove(t);
        if (t->f32)
            f32_bytes -= copy_bytes(t);
        free(t->f32);
        t->f32 = NULL;
    }
    pthread_mutex_unlock(&f32_mu);
}

const float *qtensor_f32_direct(const struct qtensor *t, int overrides)
{
    if (overrides && t->override)
        return t->override;
    if (direct_f32(t))
        return t->data;
    /* only permanent copies: a cached one may be evicted by another thread */
    pthread_mutex_lock(&f32_mu);
    const float *x = t->f32_lru ? NULL : t->f32;
    pthread_mutex_unlock(&f32_mu);
    return x;
}

const float *qtensor_f32_orig(struct qtensor *t)
{
    if (direct_f32(t))
        return t->data;
    return get_copy(t, 0);
}

const float *qtensor_f32(struct qtensor *t)
{
    return t->override ? t->override : qtensor_f32_orig(t);
}

void qtensor_set_override(struct qtensor *t, float *w)
{
    free(t->override);
    t->override = w;
}

void qmodel_clear_overrides(struct qmodel *m)
{
    for (int i = 0; i < m->n_tensors; i++)
        qtensor_set_override(&m->tensors[i], NULL);
}

/* ---- open / close ---- */

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int detect_and_load(struct qmodel *m, const char *path, struct qerr *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return qerr_set(err, QERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode) || has_suffix(path, ".safetensors") || has_suffix(path, ".json"))
        return safetensors_load(m, path, err);
    unsigned char magic[9] = {0};
    FILE *f = afile_fopen_regular(path, err); /* a FIFO would block the sniff */
    if (!f)
        return err ? err->code : QERR_IO;
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (got >= 4 && !memcmp(magic, "GGUF", 4))
        return gguf_model_load(m, path, err);
    if (got == 9 && magic[8] == '{')   /* u64 header length, then JSON */
        return safetensors_load(m, path, err);
    return llama2c_load(m, path, err);
}

/* Display order: token_embd, then block by block, then the output side. */
static int order_key(const struct qtensor *t)
{
    if (t->layer >= 0)
        return t->layer;
    return t->role == QR_TOK_EMBD ? -1 : 1 << 30;
}

static int cmp_tensor_order(const void *a, const void *b)
{
    const struct qtensor *x = a, *y = b;
    int kx = order_key(x), ky = order_key(y);
    if (kx != ky)
        return kx < ky ? -1 : 1;
    if (x->role != y->role)
        return x->role < y->role ? -1 : 1;
    return strcmp(x->name, y->name);
}

int qmodel_open(struct qmodel *m, const char *path, struct qerr *err)
{
    memset(m, 0, sizeof *m);
    m->path = strdup(path);
    if (!m->path)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    int rc = detect_and_load(m, path, err);
    if (!rc)
        rc = qmodel_validate(m, err);
    if (!rc)
        qsort(m->tensors, (size_t)m->n_tensors, sizeof *m->tensors, cmp_tensor_order);
    if (rc)
        qmodel_close(m);
    return rc;
}

int qmodel_intact(const struct qmodel *m, struct qerr *err)
{
    for (int i = 0; i < m->n_maps; i++) {
        if (!mapguard_faulted(m->maps[i].guard))
            continue;
        struct stat st;
        long long now = stat(m->maps[i].path, &st) == 0 ? (long long)st.st_size : -1;
        return qerr_set(err, QERR_FORMAT, "%s: the file was truncated while open (now %lld bytes, "
                        "was %zu): results read from it are void", m->maps[i].path, now,
                        m->maps[i].size);
    }
    return QERR_OK;
}

void qmodel_close(struct qmodel *m)
{
    drop_copies(m);
    for (int i = 0; i < m->n_tensors; i++)
        free(m->tensors[i].override);
    free(m->tensors);
    for (int i = 0; i < m->n_maps; i++) {
        mapguard_remove(m->maps[i].guard);
        munmap(m->maps[i].base, m->maps[i].size);
        if (m->maps[i].fd >= 0)
            close(m->maps[i].fd);
        free(m->maps[i].path);
    }
    free(m->maps);
    if (m->gguf) {
        gguf_free(m->gguf);
        free(m->gguf);
    }
    free(m->tokenizer_path);
    free(m->path);
    memset(m, 0, sizeof *m);
}
