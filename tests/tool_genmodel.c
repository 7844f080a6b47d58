/* tool_genmodel: write a random-weight Llama-family model in a real format.
 *
 *   tool_genmodel --format gguf|safetensors|llama2c --dim 768 --hidden 2048
 *       --layers 12 --heads 12 [--kv-heads N] --vocab 32000 --ctx 1024
 *       [--dtype f32|f16|bf16] [--seed S]
 *       [--arch llama|mistral|qwen2|qwen3|gemma2|gemma3|phi3] [--head-dim D]
 *       [--rope-scaling llama3|linear:F] [--swa N] [--attn-softcap X]
 *       [--final-softcap Y] [--multimodal] [--std S] [--tied] [--shards N] [--gguf-version 2|3]
 *       [--vocab-from FILE.gguf] OUT
 *
 * Families as llama.cpp's converter (GGUF) and Hugging Face (safetensors)
 * store them: qwen3 and gemma3 add attn_q_norm / attn_k_norm; gemma2/3 add
 * post_attention_norm / post_ffw_norm, are tied, and their HF norm weights
 * hold w where GGUF holds w + 1 (the model's multiplier is the same); phi3
 * stores fused attn_qkv / qkv_proj and ffn_up / gate_up_proj (gate rows
 * first).  --rope-scaling llama3 writes config.json's rope_scaling (factor
 * 8, low 1, high 4, original context 8192, Llama 3.1's values) and GGUF's
 * rope_freqs tensor as the converter computes it; linear:F writes
 * rope_scaling {type linear} and <arch>.rope.scaling.type/factor.
 *
 * Weights ~ N(0, 0.02) (--std S: N(0, S)), norm weights ~ 1 + N(0, 0.02),
 * biases ~ N(0, 0.02) (or S).
 * Every tensor draws from its own generator seeded by (seed, canonical
 * name), so the SAME seed gives the SAME model in all three formats: the
 * safetensors output (and GGUF with --arch qwen2, as llama.cpp stores it)
 * holds Q/K rows in HF rotate-half order (the inverse of llama.cpp's
 * permute), GGUF llama/mistral and llama2.c in interleaved order.  Tests
 * rely on this to compare loaders across formats.
 *
 * OUT: a file for gguf / llama2c; a directory for safetensors (config.json,
 * model.safetensors, or model-0000i-of-0000N.safetensors + index with
 * --shards N). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "src/gguf.h"
#include "src/gguf_write.h"
#include "src/half.h"
#include "src/model.h"

struct opts {
    const char *format, *out, *vocab_from, *arch;
    int dim, hidden, layers, heads, kv_heads, vocab, ctx, tied, shards, version;
    enum qdtype dtype;
    unsigned long long seed;
    int head_dim, swa;    /* 0: dim/heads; 0: family default window     */
    int multimodal;       /* gemma3 safetensors as Gemma3ForConditional-
                             Generation: text_config, language_model.*
                             names, one vision tensor                    */
    const char *rope_scaling; /* NULL, "llama3", "linear:F"             */
    double attn_softcap, final_softcap; /* <0: family default           */
    double std;           /* weight standard deviation (0.02)            */
};

/* ---- the model's tensors ---- */

struct gt {
    char name[64];        /* canonical */
    int ndim;
    int64_t shape[2];
    int kind;             /* 0 weight, 1 norm, 2 fused (parts below)     */
    int qk_heads;         /* >0: Q/K weight or bias with this many heads */
};

static int is_gemma(const char *a) { return !strncmp(a, "gemma", 5); }
/* llama.cpp's NEOX families: Q/K rows stay in HF order in GGUF too. */
static int hf_order_arch(const char *a) { return strcmp(a, "llama") && strcmp(a, "mistral"); }

struct gen {
    struct opts o;
    int head_dim;
    struct gt *t;
    int n;
    struct gguf_file vg;  /* --vocab-from, parsed */
};

static void push(struct gen *g, const char *name, int64_t rows, int64_t cols, int kind, int qk)
{
    struct gt *t = &g->t[g->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = rows > 0 ? 2 : 1;
    t->shape[0] = rows > 0 ? rows : cols;
    t->shape[1] = cols;
    t->kind = kind;
    t->qk_heads = qk;
}

static void plan(struct gen *g)
{
    const struct opts *o = &g->o;
    int64_t D = o->dim, H = o->hidden, V = o->vocab, hd = g->head_dim;
    int64_t Q = o->heads * hd, KV = o->kv_heads * hd;
    int bias = !strcmp(o->arch, "qwen2"), qkn = !strcmp(o->arch, "qwen3") || !strcmp(o->arch, "gemma3");
    int post = is_gemma(o->arch), fused = !strcmp(o->arch, "phi3");
    g->t = calloc((size_t)(o->layers * 16 + 4), sizeof *g->t);
    push(g, "token_embd", V, D, 0, 0);
    for (int l = 0; l < o->layers; l++) {
        char n[64];
#define P(suf, r, c, k, qk) (snprintf(n, sizeof n, "blk.%d.%s", l, suf), push(g, n, r, c, k, qk))
        P("attn_norm", 0, D, 1, 0);
        if (fused) {
            P("attn_qkv", Q + 2 * KV, D, 2, 0);
        } else {
            P("attn_q", Q, D, 0, o->heads);
            P("attn_k", KV, D, 0, o->kv_heads);
            P("attn_v", KV, D, 0, 0);
        }
        if (qkn) {
            P("attn_q_norm", 0, hd, 1, 0);
            P("attn_k_norm", 0, hd, 1, 0);
        }
        if (bias) {
            P("attn_q_bias", 0, Q, 0, o->heads);
            P("attn_k_bias", 0, KV, 0, o->kv_heads);
            P("attn_v_bias", 0, KV, 0, 0);
        }
        P("attn_output", D, Q, 0, 0);
        if (post)
            P("post_attention_norm", 0, D, 1, 0);
        P("ffn_norm", 0, D, 1, 0);
        if (fused) {
            P("ffn_gate_up", 2 * H, D, 2, 0);
        } else {
            P("ffn_gate", H, D, 0, 0);
            P("ffn_up", H, D, 0, 0);
        }
        P("ffn_down", D, H, 0, 0);
        if (post)
            P("post_ffw_norm", 0, D, 1, 0);
#undef P
    }
    push(g, "output_norm", 0, D, 1, 0);
    if (!o->tied)
        push(g, "output", V, D, 0, 0);
    if (o->multimodal)
        push(g, "vision_tower.vision_model.post_layernorm.weight", 0, 32, 1, 0);
}

static int64_t nelem(const struct gt *t) { return t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0]; }

static const struct gt *find(const struct gen *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (!strcmp(g->t[i].name, name))
            return &g->t[i];
    return NULL;
}

/* ---- values ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Values of tensor t in interleaved (GGUF) row order: N(0, 0.02) by
 * Marsaglia's polar method (no trigonometry: the generator is the slow part
 * of writing a 110M model). */
static void values(const struct gen *g, const struct gt *t, float *dst)
{
    uint64_t s = g->o.seed * 0x100000001b3ULL;
    for (const char *c = t->name; *c; c++)
        s = (s ^ (unsigned char)*c) * 0x100000001b3ULL;
    int64_t n = nelem(t);
    float base = t->kind == 1 ? 1.0f : 0.0f;
    for (int64_t i = 0; i < n; i += 2) {
        double u, v, q;
        do {
            u = (double)(splitmix(&s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
            v = (double)(splitmix(&s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
            q = u * u + v * v;
        } while (q >= 1.0 || q == 0.0);
        /* norms keep 1 + N(0, 0.02) whatever --std says */
        double r = (t->kind == 1 ? 0.02 : g->o.std) * sqrt(-2.0 * log(q) / q);
        dst[i] = (float)(r * u) + base;
        if (i + 1 < n)
            dst[i + 1] = (float)(r * v) + base;
    }
}

static int values_hf(const struct gen *g, const struct gt *t, float *dst);

/* A fused tensor: its parts generated as if separate (the same values a
 * non-fused model of this seed has), rows concatenated in HF order. */
static int values_fused(const struct gen *g, const struct gt *t, float *dst)
{
    static const char *const qkv[3] = {"attn_q", "attn_k", "attn_v"};
    static const char *const gu[2] = {"ffn_gate", "ffn_up"};
    int is_qkv = strstr(t->name, "attn_qkv") != NULL, n = is_qkv ? 3 : 2;
    int64_t hd = g->head_dim, cols = t->shape[1];
    int64_t rows[3] = {g->o.heads * hd, g->o.kv_heads * hd, g->o.kv_heads * hd};
    int heads[3] = {g->o.heads, g->o.kv_heads, 0};
    int l = atoi(t->name + 4);
    for (int k = 0; k < n; k++) {
        struct gt part = {.ndim = 2, .shape = {is_qkv ? rows[k] : g->o.hidden, cols},
                          .qk_heads = is_qkv ? heads[k] : 0};
        snprintf(part.name, sizeof part.name, "blk.%d.%s", l, is_qkv ? qkv[k] : gu[k]);
        if (values_hf(g, &part, dst) < 0)
            return -1;
        dst += nelem(&part);
    }
    return 0;
}

/* Values in HF order: Q/K rows un-permuted to rotate-half. */
static int values_hf(const struct gen *g, const struct gt *t, float *dst)
{
    if (t->kind == 2)
        return values_fused(g, t, dst);
    if (!t->qk_heads) {
        values(g, t, dst);
        return 0;
    }
    float *tmp = malloc((size_t)nelem(t) * sizeof *tmp);
    if (!tmp)
        return -1;
    values(g, t, tmp);
    gguf_unpermute_qk(tmp, dst, t->qk_heads, g->head_dim, nelem(t) / ((int64_t)t->qk_heads * g->head_dim));
    free(tmp);
    return 0;
}

/* ---- output helpers ---- */

static int write_converted(FILE *f, const float *x, int64_t n, enum qdtype dt)
{
    if (dt == QD_F32)
        return fwrite(x, 4, (size_t)n, f) == (size_t)n ? 0 : -1;
    uint16_t buf[4096];
    for (int64_t i = 0; i < n;) {
        size_t k = n - i < 4096 ? (size_t)(n - i) : 4096;
        for (size_t j = 0; j < k; j++)
            buf[j] = dt == QD_F16 ? f32_to_f16(x[i + j]) : f32_to_bf16(x[i + j]);
        if (fwrite(buf, 2, k, f) != k)
            return -1;
        i += (int64_t)k;
    }
    return 0;
}

/* One tensor generated, converted, written. */
static int emit(FILE *f, const struct gen *g, const struct gt *t, int hf, enum qdtype dt)
{
    float *x = malloc((size_t)nelem(t) * sizeof *x);
    if (!x)
        return -1;
    int rc = hf ? values_hf(g, t, x) : (values(g, t, x), 0);
    for (int64_t i = 0; hf && !rc && is_gemma(g->o.arch) && t->kind == 1 && i < nelem(t); i++)
        x[i] -= 1.0f;  /* HF Gemma stores w of a (1 + w) multiplier */
    if (!rc)
        rc = write_converted(f, x, nelem(t), dt);
    free(x);
    return rc;
}

/* ---- GGUF ---- */

struct fillctx {
    const struct gen *g;
    const struct gt *t;
};

/* GGUF's qwen2/qwen3/gemma/phi3 archs are rotate-half (HF order, as
 * llama.cpp's converter leaves it); llama / mistral are interleaved. */
static int fill(void *ctx, float *dst, int64_t n)
{
    struct fillctx *c = ctx;
    (void)n;
    if (hf_order_arch(c->g->o.arch))
        return values_hf(c->g, c->t, dst);
    values(c->g, c->t, dst);
    return 0;
}

/* Parse --vocab-from; sets the vocab size when --vocab was not given. */
static int open_vocab(struct gen *g)
{
    const char *path = g->o.vocab_from;
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        fprintf(stderr, "tool_genmodel: %s: %s\n", path, strerror(errno));
        return -1;
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    struct qerr err = {0};
    if (base == MAP_FAILED || gguf_parse(&g->vg, path, base, (size_t)st.st_size, &err)) {
        fprintf(stderr, "tool_genmodel: %s\n", err.msg[0] ? err.msg : "cannot map vocab file");
        return -1;
    }
    const struct gguf_kv *tok = gguf_find(&g->vg, "tokenizer.ggml.tokens");
    uint64_t n = tok && tok->type == GGUF_T_ARRAY ? tok->arr_n : 0;
    if (!g->o.vocab)
        g->o.vocab = (int)n;
    if (!n || n != (uint64_t)g->o.vocab) {
        fprintf(stderr, "tool_genmodel: %s: has %llu tokens, --vocab is %d\n", path,
                (unsigned long long)n, g->o.vocab);
        return -1;
    }
    return 0;
}

static void copy_vocab(struct gguf_writer *w, const struct gguf_file *vg)
{
    for (uint64_t i = 0; i < vg->n_kv; i++)
        if (vg->kv[i].key.len > 10 && !memcmp(vg->kv[i].key.ptr, "tokenizer.", 10))
            gguf_writer_copy_kv(w, &vg->kv[i]);
}

/* ---- family constants (as written by the converters) ---- */

static double rope_theta(const struct gen *g)
{
    return !strcmp(g->o.arch, "gemma3") ? 1000000.0 : 10000.0;
}

static int swa_window(const struct gen *g)
{
    return g->o.swa > 0 ? g->o.swa : !strcmp(g->o.arch, "gemma3") ? 512 : 4096;
}

static double attn_softcap(const struct gen *g)
{
    if (g->o.attn_softcap >= 0)
        return g->o.attn_softcap;
    return !strcmp(g->o.arch, "gemma2") ? 50.0 : 0.0;
}

static double final_softcap(const struct gen *g)
{
    if (g->o.final_softcap >= 0)
        return g->o.final_softcap;
    return !strcmp(g->o.arch, "gemma2") ? 30.0 : 0.0;
}

/* llama.cpp's converter for rope_scaling llama3: one factor per frequency
 * (1 at short wavelengths, `factor` at long ones, blended between),
 * freqs from a float32 arange, the blend in Python floats (double). */
static void llama3_factors(const struct gen *g, float *out)
{
    double factor = 8.0, lo = 1.0, hi = 4.0, old = 8192.0;
    int dim = g->head_dim;
    for (int i = 0; i < dim / 2; i++) {
        float freq = (float)(1.0 / pow(rope_theta(g), (double)(float)(2 * i) / dim));
        double wavelen = 2.0 * M_PI / freq;
        if (wavelen < old / hi)
            out[i] = 1.0f;
        else if (wavelen > old / lo)
            out[i] = (float)factor;
        else {
            double smooth = (old / wavelen - lo) / (hi - lo);
            out[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
}

static void gguf_config(struct gguf_writer *w, const struct gen *g)
{
    const struct opts *o = &g->o;
    char k[96];
#define KU(suf, v) (snprintf(k, sizeof k, "%s.%s", o->arch, suf), gguf_writer_add_u32(w, k, (uint32_t)(v)))
    gguf_writer_add_str(w, "general.architecture", o->arch);
    gguf_writer_add_str(w, "general.name", "qlens-genmodel");
    gguf_writer_add_u32(w, "general.file_type", o->dtype == QD_F32 ? 0 : o->dtype == QD_F16 ? 1 : 32);
    KU("context_length", o->ctx);
    KU("vocab_size", o->vocab);
    KU("embedding_length", o->dim);
    KU("feed_forward_length", o->hidden);
    KU("block_count", o->layers);
    KU("attention.head_count", o->heads);
    KU("attention.head_count_kv", o->kv_heads);
    KU("rope.dimension_count", g->head_dim);
    if (g->head_dim * o->heads != o->dim) {
        KU("attention.key_length", g->head_dim);
        KU("attention.value_length", g->head_dim);
    }
    if (is_gemma(o->arch))
        KU("attention.sliding_window", swa_window(g));
#undef KU
#define KF(suf, v) (snprintf(k, sizeof k, "%s.%s", o->arch, suf), gguf_writer_add_f32(w, k, (float)(v)))
    KF("rope.freq_base", rope_theta(g));
    KF("attention.layer_norm_rms_epsilon", 1e-5);
    if (is_gemma(o->arch) && attn_softcap(g) > 0)
        KF("attn_logit_softcapping", attn_softcap(g));
    if (is_gemma(o->arch) && final_softcap(g) > 0)
        KF("final_logit_softcapping", final_softcap(g));
    if (o->rope_scaling && !strncmp(o->rope_scaling, "linear:", 7)) {
        snprintf(k, sizeof k, "%s.rope.scaling.type", o->arch);
        gguf_writer_add_str(w, k, "linear");
        KF("rope.scaling.factor", atof(o->rope_scaling + 7));
    }
#undef KF
}

static void gguf_tname(const char *canon, char *out, size_t cap)
{
    size_t n = strlen(canon);
    if (n > 12 && !strcmp(canon + n - 12, ".ffn_gate_up"))  /* phi3: fused, named ffn_up */
        snprintf(out, cap, "%.*s.ffn_up.weight", (int)(n - 12), canon);
    else if (n > 5 && !strcmp(canon + n - 5, "_bias"))
        snprintf(out, cap, "%.*s.bias", (int)(n - 5), canon);
    else
        snprintf(out, cap, "%s.weight", canon);
}

static int write_gguf(const struct gen *g)
{
    static const uint32_t gt[QD__COUNT] = {GGML_T_F32, GGML_T_F16, GGML_T_BF16};
    struct gguf_writer *w = gguf_writer_new((uint32_t)g->o.version);
    struct fillctx *ctx = calloc((size_t)g->n, sizeof *ctx);
    int rc = w && ctx ? 0 : -1;
    if (!rc)
        gguf_config(w, g);
    if (!rc && g->o.vocab_from)
        copy_vocab(w, &g->vg);
    else if (!rc) /* llama.cpp needs the key; "no_vocab" loads without a tokenizer */
        gguf_writer_add_str(w, "tokenizer.ggml.model", "no_vocab");
    float freqs[512];
    if (!rc && g->o.rope_scaling && !strcmp(g->o.rope_scaling, "llama3")) {
        int64_t shape[1] = {g->head_dim / 2};
        llama3_factors(g, freqs);
        gguf_writer_add_tensor(w, "rope_freqs.weight", GGML_T_F32, 1, shape, freqs);
    }
    for (int i = 0; i < g->n && !rc; i++) {
        char name[80];
        gguf_tname(g->t[i].name, name, sizeof name);
        ctx[i] = (struct fillctx){g, &g->t[i]};
        /* vectors (norms, biases) stay F32 as llama.cpp's converter keeps
         * them: its CPU kernels do not multiply F32 by F16 vectors */
        int dt = g->t[i].ndim == 1 ? GGML_T_F32 : gt[g->o.dtype];
        gguf_writer_add_tensor_fill(w, name, dt, g->t[i].ndim, g->t[i].shape, fill, &ctx[i]);
    }
    struct qerr err = {0};
    if (!rc && gguf_writer_save(w, g->o.out, &err)) {
        fprintf(stderr, "tool_genmodel: %s\n", err.msg);
        rc = -1;
    }
    gguf_writer_free(w);
    free(ctx);
    return rc;
}

/* ---- llama2.c ---- */

static int write_stack(FILE *f, const struct gen *g, const char *suffix)
{
    for (int l = 0; l < g->o.layers; l++) {
        char n[64];
        snprintf(n, sizeof n, "blk.%d.%s", l, suffix);
        if (emit(f, g, find(g, n), 0, QD_F32))
            return -1;
    }
    return 0;
}

static int write_freq_cis(FILE *f, const struct gen *g)
{
    int half = g->head_dim / 2;
    for (int part = 0; part < 2; part++)
        for (int p = 0; p < g->o.ctx; p++)
            for (int i = 0; i < half; i++) {
                double a = p * pow(10000.0, -2.0 * i / g->head_dim);
                float v = (float)(part ? sin(a) : cos(a));
                if (fwrite(&v, 4, 1, f) != 1)
                    return -1;
            }
    return 0;
}

static int write_llama2c(const struct gen *g)
{
    const struct opts *o = &g->o;
    FILE *f = fopen(o->out, "wb");
    if (!f)
        return -1;
    int32_t h[7] = {o->dim, o->hidden, o->layers, o->heads, o->kv_heads,
                    o->tied ? o->vocab : -o->vocab, o->ctx};
    static const char *const order[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                        "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"};
    int rc = fwrite(h, 4, 7, f) == 7 ? 0 : -1;
    if (!rc)
        rc = emit(f, g, find(g, "token_embd"), 0, QD_F32);
    for (size_t i = 0; i < sizeof order / sizeof *order && !rc; i++)
        rc = write_stack(f, g, order[i]);
    if (!rc)
        rc = emit(f, g, find(g, "output_norm"), 0, QD_F32);
    if (!rc)
        rc = write_freq_cis(f, g);
    if (!rc && !o->tied)
        rc = emit(f, g, find(g, "output"), 0, QD_F32);
    if (fclose(f))
        rc = -1;
    return rc;
}

/* ---- safetensors ---- */

static void hf_name_text(const char *canon, const char *arch, char *out, size_t cap);

/* Gemma 3 multimodal (transformers < 4.52 layout): language_model.model.*,
 * language_model.lm_head, vision_tower.* */
static void hf_name(const char *canon, const struct opts *o, char *out, size_t cap)
{
    char tmp[128];
    if (!strncmp(canon, "vision_tower.", 13)) {
        snprintf(out, cap, "%s", canon);
        return;
    }
    hf_name_text(canon, o->arch, tmp, sizeof tmp);
    snprintf(out, cap, "%s%.80s", o->multimodal ? "language_model." : "", tmp);
}

static void hf_name_text(const char *canon, const char *arch, char *out, size_t cap)
{
    static const char *const map[][2] = {
        {"attn_q", "self_attn.q_proj.weight"}, {"attn_k", "self_attn.k_proj.weight"},
        {"attn_v", "self_attn.v_proj.weight"}, {"attn_output", "self_attn.o_proj.weight"},
        {"attn_q_bias", "self_attn.q_proj.bias"}, {"attn_k_bias", "self_attn.k_proj.bias"},
        {"attn_v_bias", "self_attn.v_proj.bias"}, {"ffn_gate", "mlp.gate_proj.weight"},
        {"ffn_up", "mlp.up_proj.weight"}, {"ffn_down", "mlp.down_proj.weight"},
        {"attn_norm", "input_layernorm.weight"}, {"ffn_norm", "post_attention_layernorm.weight"},
        {"attn_q_norm", "self_attn.q_norm.weight"}, {"attn_k_norm", "self_attn.k_norm.weight"},
        {"attn_qkv", "self_attn.qkv_proj.weight"}, {"ffn_gate_up", "mlp.gate_up_proj.weight"},
        {"post_ffw_norm", "post_feedforward_layernorm.weight"}};
    static const char *const gemma[][2] = {
        {"ffn_norm", "pre_feedforward_layernorm.weight"},
        {"post_attention_norm", "post_attention_layernorm.weight"}};
    if (!strcmp(canon, "token_embd"))
        snprintf(out, cap, "model.embed_tokens.weight");
    else if (!strcmp(canon, "output_norm"))
        snprintf(out, cap, "model.norm.weight");
    else if (!strcmp(canon, "output"))
        snprintf(out, cap, "lm_head.weight");
    else {
        int l = atoi(canon + 4);
        const char *suf = strchr(canon + 4, '.') + 1;
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (!strcmp(suf, map[i][0]))
                snprintf(out, cap, "model.layers.%d.%s", l, map[i][1]);
        for (size_t i = 0; is_gemma(arch) && i < sizeof gemma / sizeof *gemma; i++)
            if (!strcmp(suf, gemma[i][0]))
                snprintf(out, cap, "model.layers.%d.%s", l, gemma[i][1]);
    }
}

static int write_st_file(const struct gen *g, const char *path, int first, int last)
{
    static const char *const dts[QD__COUNT] = {"F32", "F16", "BF16"};
    size_t cap = 4096 + (size_t)(last - first) * 200, n = 0;
    char *js = malloc(cap);
    if (!js)
        return -1;
    uint64_t off = 0;
    n += (size_t)snprintf(js + n, cap - n, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = first; i < last; i++) {
        const struct gt *t = &g->t[i];
        char name[96];
        hf_name(t->name, &g->o, name, sizeof name);
        uint64_t nb = (uint64_t)nelem(t) * qdtype_size(g->o.dtype);
        n += (size_t)snprintf(js + n, cap - n, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld", name,
                              dts[g->o.dtype], (long long)t->shape[0]);
        if (t->ndim == 2)
            n += (size_t)snprintf(js + n, cap - n, ",%lld", (long long)t->shape[1]);
        n += (size_t)snprintf(js + n, cap - n, "],\"data_offsets\":[%llu,%llu]}",
                              (unsigned long long)off, (unsigned long long)(off + nb));
        off += nb;
    }
    n += (size_t)snprintf(js + n, cap - n, "}");
    while (n % 8)  /* the format pads the header with spaces to 8 bytes */
        js[n++] = ' ';
    FILE *f = fopen(path, "wb");
    uint64_t hl = n;
    int rc = f && fwrite(&hl, 8, 1, f) == 1 && fwrite(js, 1, n, f) == n ? 0 : -1;
    for (int i = first; i < last && !rc; i++)
        rc = emit(f, g, &g->t[i], 1, g->o.dtype);
    if (f && fclose(f))
        rc = -1;
    free(js);
    return rc;
}

static void st_family_keys(FILE *f, const struct gen *g)
{
    const struct opts *o = &g->o;
    if (g->head_dim * o->heads != o->dim || is_gemma(o->arch))
        fprintf(f, "  \"head_dim\": %d,\n", g->head_dim);
    if (is_gemma(o->arch)) {
        fprintf(f, "  \"hidden_activation\": \"gelu_pytorch_tanh\",\n"
                   "  \"query_pre_attn_scalar\": %d,\n  \"sliding_window\": %d,\n",
                g->head_dim, swa_window(g));
        if (attn_softcap(g) > 0)
            fprintf(f, "  \"attn_logit_softcapping\": %g,\n", attn_softcap(g));
        else
            fprintf(f, "  \"attn_logit_softcapping\": null,\n");
        if (final_softcap(g) > 0)
            fprintf(f, "  \"final_logit_softcapping\": %g,\n", final_softcap(g));
        else
            fprintf(f, "  \"final_logit_softcapping\": null,\n");
    } else {
        fprintf(f, "  \"hidden_act\": \"silu\",\n");
    }
    if (!strcmp(o->arch, "gemma3"))
        fprintf(f, "  \"rope_local_base_freq\": 10000.0,\n  \"sliding_window_pattern\": 6,\n");
    if (o->rope_scaling && !strcmp(o->rope_scaling, "llama3"))
        fprintf(f, "  \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0, "
                   "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192, "
                   "\"rope_type\": \"llama3\"},\n");
    else if (o->rope_scaling && !strncmp(o->rope_scaling, "linear:", 7))
        fprintf(f, "  \"rope_scaling\": {\"factor\": %s, \"rope_type\": \"linear\"},\n",
                o->rope_scaling + 7);
    else
        fprintf(f, "  \"rope_scaling\": null,\n");
}

static int write_st_config(const struct gen *g, const char *dir)
{
    static const char *const archs[][3] = {
        {"llama", "LlamaForCausalLM", "llama"},     {"mistral", "MistralForCausalLM", "mistral"},
        {"qwen2", "Qwen2ForCausalLM", "qwen2"},     {"qwen3", "Qwen3ForCausalLM", "qwen3"},
        {"gemma2", "Gemma2ForCausalLM", "gemma2"},  {"gemma3", "Gemma3ForCausalLM", "gemma3_text"},
        {"phi3", "Phi3ForCausalLM", "phi3"}};
    const struct opts *o = &g->o;
    const char *cls = archs[0][1], *mt = archs[0][2];
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        if (!strcmp(o->arch, archs[i][0])) {
            cls = archs[i][1];
            mt = archs[i][2];
        }
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    if (o->multimodal) /* the text model's keys go into text_config */
        fprintf(f, "{\n  \"architectures\": [\"Gemma3ForConditionalGeneration\"],\n"
                   "  \"model_type\": \"gemma3\",\n  \"vision_config\": {\"model_type\": "
                   "\"siglip_vision_model\"},\n  \"text_config\": {\n  \"model_type\": "
                   "\"gemma3_text\",\n");
    else
        fprintf(f, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n",
                cls, mt);
    st_family_keys(f, g);
    fprintf(f, "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
               "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n"
               "  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n"
               "  \"rope_theta\": %.1f,\n  \"rms_norm_eps\": 1e-05,\n"
               "  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"%s\"\n}%s\n",
            o->dim, o->hidden, o->layers, o->heads, o->kv_heads, o->vocab, o->ctx, rope_theta(g),
            o->tied ? "true" : "false",
            o->dtype == QD_F32 ? "float32" : o->dtype == QD_F16 ? "float16" : "bfloat16",
            o->multimodal ? "}" : "");
    return fclose(f) ? -1 : 0;
}

static int write_index(const struct gen *g, const char *dir, int shards)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"metadata\":{},\"weight_map\":{");
    for (int i = 0; i < g->n; i++) {
        char name[96];
        hf_name(g->t[i].name, &g->o, name, sizeof name);
        int s = (int)((int64_t)i * shards / g->n);
        fprintf(f, "%s\"%s\":\"model-%05d-of-%05d.safetensors\"", i ? "," : "", name, s + 1, shards);
    }
    fprintf(f, "}}\n");
    return fclose(f) ? -1 : 0;
}

static int write_safetensors(const struct gen *g)
{
    const char *dir = g->o.out;
    if (mkdir(dir, 0755) && errno != EEXIST)
        return -1;
    int rc = write_st_config(g, dir);
    char p[4096];
    if (g->o.shards <= 1) {
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        return rc ? rc : write_st_file(g, p, 0, g->n);
    }
    /* Tensor i goes to shard i*shards/n: contiguous runs. */
    for (int s = 0, first = 0; s < g->o.shards && !rc; s++) {
        int last = first;
        while (last < g->n && (int)((int64_t)last * g->o.shards / g->n) == s)
            last++;
        snprintf(p, sizeof p, "%s/model-%05d-of-%05d.safetensors", dir, s + 1, g->o.shards);
        rc = write_st_file(g, p, first, last);
        first = last;
    }
    return rc ? rc : write_index(g, dir, g->o.shards);
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: tool_genmodel --format gguf|safetensors|llama2c --dim D --hidden H "
               "--layers L --heads N [--kv-heads K] --vocab V --ctx C [--dtype f32|f16|bf16] "
               "[--seed S] [--arch llama|mistral|qwen2|qwen3|gemma2|gemma3|phi3] [--head-dim D] "
               "[--rope-scaling llama3|linear:F] [--swa N] [--attn-softcap X] "
               "[--final-softcap Y] [--multimodal] [--std S] [--tied] [--shards N] "
               "[--gguf-version 2|3] [--vocab-from FILE.gguf] OUT\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){"gguf", NULL, NULL, "llama", 64, 172, 2, 8, 0, 0, 128, 0, 1, 3, QD_F32, 1,
                       0, 0, 0, NULL, -1.0, -1.0, 0.02};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *iv = !strcmp(a, "--dim") ? &o->dim : !strcmp(a, "--hidden") ? &o->hidden
                : !strcmp(a, "--layers") ? &o->layers : !strcmp(a, "--heads") ? &o->heads
                : !strcmp(a, "--kv-heads") ? &o->kv_heads : !strcmp(a, "--vocab") ? &o->vocab
                : !strcmp(a, "--ctx") ? &o->ctx : !strcmp(a, "--shards") ? &o->shards
                : !strcmp(a, "--gguf-version") ? &o->version
                : !strcmp(a, "--head-dim") ? &o->head_dim : !strcmp(a, "--swa") ? &o->swa : NULL;
        if (!strcmp(a, "--tied")) {
            o->tied = 1;
            continue;
        }
        if (!strcmp(a, "--multimodal")) {
            o->multimodal = 1;
            continue;
        }
        if (a[0] != '-') {
            o->out = a;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (iv)
            *iv = atoi(v);
        else if (!strcmp(a, "--format"))
            o->format = v;
        else if (!strcmp(a, "--arch"))
            o->arch = v;
        else if (!strcmp(a, "--vocab-from"))
            o->vocab_from = v;
        else if (!strcmp(a, "--rope-scaling"))
            o->rope_scaling = v;
        else if (!strcmp(a, "--attn-softcap"))
            o->attn_softcap = atof(v);
        else if (!strcmp(a, "--final-softcap"))
            o->final_softcap = atof(v);
        else if (!strcmp(a, "--std"))
            o->std = atof(v);
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--dtype"))
            o->dtype = !strcmp(v, "f16") ? QD_F16 : !strcmp(v, "bf16") ? QD_BF16 : QD_F32;
        else
            return -1;
    }
    if (!o->kv_heads)
        o->kv_heads = o->heads;
    if (is_gemma(o->arch))
        o->tied = 1;  /* Gemma has no lm_head */
    int hd = o->head_dim > 0 ? o->head_dim : o->heads > 0 ? o->dim / o->heads : 0;
    if (!o->out || o->dim <= 0 || o->heads <= 0 || (!o->head_dim && o->dim % o->heads) ||
        o->kv_heads <= 0 || o->heads % o->kv_heads || hd <= 0 || hd % 2 || hd > 512 ||
        o->layers <= 0 || o->hidden <= 0 || o->vocab < 0 || o->ctx <= 0 || o->shards < 1 ||
        !(o->std > 0 && o->std < 10) ||
        (o->multimodal && (strcmp(o->arch, "gemma3") || strcmp(o->format, "safetensors"))) ||
        (o->rope_scaling && strcmp(o->rope_scaling, "llama3") &&
         (strncmp(o->rope_scaling, "linear:", 7) || !(atof(o->rope_scaling + 7) > 0))))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct gen g = {0};
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || parse_args(argc, argv, &g.o)) {
        usage(stderr);
        return 2;
    }
    g.head_dim = g.o.head_dim > 0 ? g.o.head_dim : g.o.dim / g.o.heads;
    if (g.o.vocab_from && (strcmp(g.o.format, "gguf") || open_vocab(&g))) {
        if (strcmp(g.o.format, "gguf"))
            fprintf(stderr, "tool_genmodel: --vocab-from needs --format gguf\n");
        return 1;
    }
    if (!g.o.vocab)
        g.o.vocab = 512;
    plan(&g);
    int rc;
    if (!strcmp(g.o.format, "gguf"))
        rc = write_gguf(&g);
    else if (!strcmp(g.o.format, "safetensors"))
        rc = write_safetensors(&g);
    else if (!strcmp(g.o.format, "llama2c") && !strcmp(g.o.arch, "llama") && g.o.dtype == QD_F32 &&
             !g.o.rope_scaling && !g.o.head_dim)
        rc = write_llama2c(&g);
    else {
        fprintf(stderr, "tool_genmodel: llama2c needs --arch llama --dtype f32; formats: gguf, "
                        "safetensors, llama2c\n");
        rc = -2;
    }
    if (rc == -1)
        fprintf(stderr, "tool_genmodel: writing %s failed: %s\n", g.o.out, strerror(errno));
    free(g.t);
    gguf_free(&g.vg);
    return rc ? 1 : 0;
}
