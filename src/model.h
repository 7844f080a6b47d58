/* model: one architecture-neutral view of a Llama-family checkpoint.
 *
 * Every loader (llama2.c .bin, GGUF, safetensors) fills the same struct:
 * a config and a flat array of named tensors whose bytes stay in the
 * memory-mapped file.  Names are canonical and follow GGUF's scheme, whatever
 * the source format called them:
 *
 *   token_embd                 (vocab, dim)
 *   blk.N.attn_norm            (dim)
 *   blk.N.attn_q               (n_heads*head_dim, dim)      + blk.N.attn_q_bias
 *   blk.N.attn_k               (n_kv_heads*head_dim, dim)   + blk.N.attn_k_bias
 *   blk.N.attn_v               (n_kv_heads*head_dim, dim)   + blk.N.attn_v_bias
 *   blk.N.attn_output          (dim, n_heads*head_dim)
 *   blk.N.attn_q_norm          (head_dim)  Qwen3, Gemma 3: RMSNorm of each
 *   blk.N.attn_k_norm          (head_dim)  q/k head before RoPE
 *   blk.N.post_attention_norm  (dim)       Gemma 2/3: norm of the attention
 *                                          output before the residual add
 *   blk.N.ffn_norm             (dim)
 *   blk.N.ffn_gate             (hidden, dim)   w1
 *   blk.N.ffn_up               (hidden, dim)   w3
 *   blk.N.ffn_down             (dim, hidden)   w2
 *   blk.N.post_ffw_norm        (dim)       Gemma 2/3: norm of the FFN output
 *   output_norm                (dim)
 *   output                     (vocab, dim)    absent when tied to token_embd
 *
 * Fused source tensors (Phi-3's qkv_proj / attn_qkv and gate_up_proj /
 * fused ffn_up) are split on load into attn_q/k/v and ffn_gate/up views of
 * the same file bytes (row ranges of the fused matrix; no copy).
 *
 * Norm weights are the multipliers the forward pass uses: Gemma's HF
 * checkpoints store w for a (1 + w) multiplier, so their loader sets
 * qtensor.add = 1 and every reader sees w + 1, the value llama.cpp's
 * converter writes into GGUF.
 *
 * Shapes are written outermost first, as PyTorch does: a linear layer's
 * weight is (out_features, in_features), row-major, so y = W x reads row r
 * of W for output r.  (GGUF stores ne[] innermost first; the loader
 * reverses it.)
 *
 * RoPE convention: every loader leaves Q/K rows in the layout its format
 * uses and says which rotation that layout needs in cfg.rope_style.
 * llama2.c and GGUF use interleaved pairs (x[2i], x[2i+1]); HF safetensors
 * checkpoints use rotate-half (x[i], x[i+d/2]), and so does GGUF's qwen2
 * architecture (llama.cpp's NEOX rope; its converter does not permute). */
#ifndef QLENS_MODEL_H
#define QLENS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/qerr.h"

#define QM_MAX_DIMS 4
#define QM_NAME_MAX 96

/* Storage types.  The block types are llama.cpp's (quant/ggml_types.h):
 * a row of the innermost dimension is n / block elements of block_bytes
 * each; qtensor_read_f32 decodes them bit-identically to llama.cpp. */
enum qdtype {
    QD_F32 = 0, QD_F16, QD_BF16,
    QD_Q4_0, QD_Q4_1, QD_Q5_0, QD_Q5_1, QD_Q8_0,
    QD_Q2_K, QD_Q3_K, QD_Q4_K, QD_Q5_K, QD_Q6_K,
    QD_IQ4_NL, QD_IQ4_XS,
    QD__COUNT
};

enum qformat { QF_LLAMA2C = 0, QF_GGUF, QF_SAFETENSORS };

enum qrope { QROPE_INTERLEAVED = 0, QROPE_HALF };

/* RoPE scaling, all expressed as per-frequency divisors (cfg.rope_div). */
enum qrope_scaling { QRS_NONE = 0, QRS_LINEAR, QRS_LLAMA3 };

enum qffn_act { QACT_SILU = 0, QACT_GELU_TANH };

#define QM_ROPE_MAX_PAIRS 256   /* head_dim up to 512 */

enum qrole {
    QR_OTHER = 0,
    QR_TOK_EMBD,
    QR_ATTN_NORM,
    QR_ATTN_Q,
    QR_ATTN_K,
    QR_ATTN_V,
    QR_ATTN_OUT,
    QR_ATTN_Q_BIAS,
    QR_ATTN_K_BIAS,
    QR_ATTN_V_BIAS,
    QR_FFN_NORM,
    QR_FFN_GATE,
    QR_FFN_UP,
    QR_FFN_DOWN,
    QR_OUT_NORM,
    QR_OUTPUT,
    QR_ATTN_Q_NORM,
    QR_ATTN_K_NORM,
    QR_ATTN_POST_NORM,
    QR_FFN_POST_NORM,
    QR__COUNT
};

struct qconfig {
    char arch[32];        /* "llama", "qwen2", "mistral", ...            */
    int dim;              /* model width (d_model)                        */
    int hidden_dim;       /* FFN width                                    */
    int n_layers;
    int n_heads;
    int n_kv_heads;       /* grouped-query attention: n_heads % n_kv == 0 */
    int head_dim;         /* usually dim / n_heads                        */
    int vocab_size;
    int ctx_len;          /* training context length                      */
    float rope_theta;     /* 10000 for Llama-2                            */
    float norm_eps;       /* RMSNorm epsilon                              */
    int tied_output;      /* 1: logits use token_embd, no `output`        */
    int has_qkv_bias;     /* Qwen2                                        */
    enum qrope rope_style;
    /* RoPE scaling (global layers only): the angle of pair i at position p
     * is p * theta^(-2i/head_dim) / rope_div[i] when has_rope_div (linear:
     * every divisor = factor; llama3: the smooth per-frequency factors,
     * equal to GGUF's rope_freqs tensor). */
    enum qrope_scaling rope_scaling;
    float rope_factor;    /* linear / llama3 factor (info)                 */
    float rope_low_freq, rope_high_freq; /* llama3 (info)                  */
    int rope_orig_ctx;    /* llama3 original_max_position_embeddings       */
    int has_rope_div;
    float rope_div[QM_ROPE_MAX_PAIRS]; /* (head_dim/2)                    */
    /* Family features; zero means "as Llama". */
    int qk_norm;          /* Qwen3, Gemma 3: attn_q_norm / attn_k_norm     */
    int post_norms;       /* Gemma 2/3: post_attention_norm, post_ffw_norm */
    enum qffn_act act;    /* SwiGLU (silu) or GeGLU (gelu, tanh approx)    */
    float embd_scale;     /* token embeddings times this (Gemma: sqrt(dim)) */
    float attn_scale;     /* score scale; 0 = 1/sqrt(head_dim)            */
    float attn_softcap;   /* scores = cap * tanh(scores / cap) (Gemma 2)  */
    float final_softcap;  /* logits = cap * tanh(logits / cap) (Gemma 2)  */
    int swa_window;       /* sliding window on local layers: key j is seen
                             by query i when i - j < swa_window            */
    int swa_pattern;      /* layer l is local when (l+1) % swa_pattern != 0
                             (Gemma 2: 2, Gemma 3: 6); 0 = every layer     */
    float rope_theta_local; /* theta of local layers (Gemma 3: 10000); 0 = rope_theta */
    char fused[48];       /* fused source tensors split on load ("" none)  */
};

/* Does layer l use the sliding window (and the local RoPE)? */
int qconfig_layer_is_local(const struct qconfig *c, int l);
/* How many layers use the sliding window. */
int qconfig_local_layers(const struct qconfig *c);
/* The family features in words ("q/k norm; sliding window 4096 on 13 of
 * 26 layers; ..."), "" for a plain Llama. */
void qconfig_describe(const struct qconfig *c, char *buf, size_t cap);
const char *qrope_scaling_name(enum qrope_scaling s);
/* Fill rope_div for llama3 scaling from factor, low/high_freq_factor and
 * original context, as Meta's reference and llama.cpp's converter do. */
void qconfig_llama3_rope(struct qconfig *c);

struct qtensor {
    char name[QM_NAME_MAX]; /* canonical name, see top of file           */
    char src_name[QM_NAME_MAX]; /* name in the source file ("" if none)  */
    int layer;            /* block index, -1 outside blocks               */
    enum qrole role;
    enum qdtype dtype;
    int ndim;
    int64_t shape[QM_MAX_DIMS]; /* outermost first                       */
    int64_t nelem;
    size_t nbytes;
    uint64_t file_offset; /* absolute offset of the data in its file     */
    int map_index;        /* which of qmodel.maps holds the bytes         */
    const void *data;     /* into the mapping; may be unaligned           */
    float *f32;           /* float copy made on first access (owned), or
                             NULL when `data` is usable as float directly */
    float *override;      /* replacement weights (e.g. a dequantized copy
                             from a quantizer); owned by the model when set
                             through qmodel_set_override                  */
    float add;            /* added to every stored value when read (Gemma HF
                             norms: 1); 0 for nearly every tensor         */
    /* The float copy's place in the process's budgeted cache (model.c,
     * under its lock): pins held, last use, and whether the copy may be
     * evicted (made by qtensor_f32_pin and never handed out unpinned). */
    int f32_pins;
    int f32_lru;
    uint64_t f32_used;
};

struct qmap {
    char *path;
    void *base;
    size_t size;
    int guard;            /* src/mapguard.h slot (-1: unguarded)          */
    int fd;               /* the file, kept open for qtreader's pread()s
                             (-1: none; readers then decode the mapping)  */
};

struct qmodel {
    char *path;           /* what the user gave                           */
    enum qformat format;
    struct qconfig cfg;
    struct qtensor *tensors;
    int n_tensors;
    struct qmap *maps;
    int n_maps;
    char *tokenizer_path; /* llama2.c tokenizer.bin / HF tokenizer.json
                             found beside the model, or NULL              */
    struct gguf_file *gguf; /* parsed GGUF header (metadata, vocab) or NULL */
};

/* ---- opening ---- */

/* Detect the format (magic bytes, then extension / directory layout) and
 * load.  `path` may be a .bin (llama2.c), .gguf, .safetensors, a
 * model.safetensors.index.json, or a directory holding safetensors. */
int qmodel_open(struct qmodel *m, const char *path, struct qerr *err);
void qmodel_close(struct qmodel *m);

/* Is every file of the model still whole?  A model file that another
 * process truncates while it is mapped would kill qlens with SIGBUS at the
 * next read past the new end; src/mapguard.c catches that fault and reads
 * zeros instead, so anything computed since is void.  Returns 0, or
 * QERR_FORMAT (exit 1) with "FILE: the file was truncated while open ..."
 * in err.  Long operations call it before they report numbers. */
int qmodel_intact(const struct qmodel *m, struct qerr *err);

/* Per-format loaders, called by qmodel_open (m is zeroed, m->path set). */
int llama2c_load(struct qmodel *m, const char *path, struct qerr *err);
int gguf_model_load(struct qmodel *m, const char *path, struct qerr *err);
int safetensors_load(struct qmodel *m, const char *path, struct qerr *err);

/* ---- building (used by loaders) ---- */

/* Map a whole file read-only; returns its index in m->maps or <0. */
int qmodel_map_file(struct qmodel *m, const char *path, struct qerr *err);
/* Append a tensor; fills nelem/nbytes from shape and dtype, checks that
 * [offset, offset+nbytes) lies inside map `map_index` and that no dimension
 * is zero or overflows.  Returns the index or <0. */
int qmodel_add_tensor(struct qmodel *m, const char *name, const char *src_name,
                      enum qdtype dt, int ndim, const int64_t *shape,
                      int map_index, uint64_t offset, struct qerr *err);
/* Replace fused tensor `fused` (rows = sum of parts) by views named
 * parts[i] of rows[i] rows each, in order.  Returns 0 or <0. */
int qmodel_split_rows(struct qmodel *m, const char *fused, int n, const char *const *parts,
                      const int64_t *rows, struct qerr *err);
/* Split every blk.N.attn_qkv into attn_q/k/v and blk.N.ffn_gate_up into
 * ffn_gate/ffn_up (rows from cfg); records what it split in cfg.fused. */
int qmodel_split_fused(struct qmodel *m, struct qerr *err);
/* Derive layer/role from the canonical name; used by qmodel_add_tensor. */
void qmodel_classify(const char *name, int *layer, enum qrole *role);
/* After all tensors are added: check overlaps between tensors of the same
 * map, that required tensors exist with shapes matching cfg. */
int qmodel_validate(struct qmodel *m, struct qerr *err);

/* ---- access ---- */

int qmodel_find(const struct qmodel *m, const char *name);  /* index or -1 */
/* Tensor of block `layer` with `role` (layer -1 for global), or NULL. */
struct qtensor *qmodel_get(struct qmodel *m, int layer, enum qrole role);

/* The tensor's values as floats: the override when set, the mapped bytes
 * when they are aligned F32, else a converted copy cached in t->f32.
 * Returns NULL only when memory runs out. */
const float *qtensor_f32(struct qtensor *t);
/* Original (file) values as floats, ignoring any override. */
const float *qtensor_f32_orig(struct qtensor *t);
/* Convert the file bytes to floats into dst (t->nelem floats). */
void qtensor_read_f32(const struct qtensor *t, float *dst);

/* Tiled access (no float copy kept): elements [off, off+len) of the file
 * values, or rows [r0, r0+nr) of the matrix view, converted into dst.
 * off and len must be multiples of the type's block size (whole rows
 * always are).  Returns 0, or -1 for a range outside the tensor, a
 * misaligned one or a type with no decoder. */
int qtensor_read_range(const struct qtensor *t, int64_t off, int64_t len, float *dst);
int qtensor_read_rows(const struct qtensor *t, int64_t r0, int64_t nr, float *dst);
/* Streaming reader of one tensor's file values, for passes that read a
 * tensor once in order (statistics, histograms).  The raw bytes are read
 * with pread() into a window of `cap` bytes and decoded from there, so the
 * mapping's pages are never touched: a first touch of a mapped page costs a
 * fault and a TLB miss, and the hardware prefetcher stops at every 4 KB
 * page, which made an F16 pass over a mapped file run at 0.15-0.2 of the
 * speed of read(); through the window it runs near read()'s speed, and
 * the process's RSS stays the window, not the file.  Same values, bit for
 * bit, as qtensor_read_range.  A model without file descriptors (a tensor
 * built in memory) decodes from `data`. */
struct qtreader {
    const struct qtensor *t;
    int fd;                 /* -1: decode from t->data                   */
    uint64_t base;          /* file offset of the tensor's first byte    */
    unsigned char *win;     /* (cap) raw bytes [w0, w1) of the tensor    */
    size_t cap;
    uint64_t w0, w1;        /* byte offsets from the tensor's start      */
    int failed;             /* a short read: the file shrank under us    */
};
#define QTREADER_WINDOW (1u << 19) /* stays in L2 on this machine's cores */
/* Returns 0 or -1 (no memory for the window). */
int qtreader_init(struct qtreader *r, const struct qmodel *m, const struct qtensor *t,
                  size_t cap);
void qtreader_free(struct qtreader *r);
/* Elements [off, off+len) as floats (same alignment rule as
 * qtensor_read_range): decoded into dst, or for F32 bytes that need no
 * change a pointer into the window (valid until the next call).  Reads
 * moving forward refill the window; a read behind it (a second pass
 * re-reading a few blocks) decodes the mapping instead.  NULL for a bad
 * range, a type with no decoder or a failed read (r->failed set). */
const float *qtreader_get(struct qtreader *r, int64_t off, int64_t len, float *dst);

/* The floats that exist without converting anything: the override (when
 * `overrides`), aligned F32 file bytes, or a float copy already made by
 * qtensor_f32*; else NULL, and the caller reads tiles. */
const float *qtensor_f32_direct(const struct qtensor *t, int overrides);

/* ---- float copies under a memory budget ----
 *
 * qtensor_f32_orig's copies stay until the model closes (callers keep the
 * pointer): on a 7B F16 model that is 28 GB.  A caller that can say when
 * it is done pins instead: the copy is valid until the matching unpin,
 * and unpinned copies are freed, least recently used first, when a new
 * copy would take the process's copies past the budget
 * (qmodel_set_f32_budget; default $QLENS_F32_CACHE, a size such as 512M
 * or 2G, else QM_F32_BUDGET_DEFAULT).  A copy asked for by
 * qtensor_f32_orig while cached becomes permanent.  Copies made over the
 * budget (everything pinned) are allowed: the budget bounds what is kept,
 * not what is in use.  All of this is thread-safe (one lock), so either
 * thread of the dashboard may make copies. */
#define QM_F32_BUDGET_DEFAULT ((size_t)1 << 30)
const float *qtensor_f32_pin(struct qtensor *t);
void qtensor_f32_unpin(struct qtensor *t);
void qmodel_set_f32_budget(size_t bytes);
size_t qmodel_f32_budget(void);
/* Bytes of float copies held now (pinned, cached and permanent). */
size_t qmodel_f32_bytes(void);
/* "512M", "2G", "1.5G", "4096" (MiB) -> bytes; <0 when not a size. */
int qmodel_parse_size(const char *s, size_t *bytes);

/* Install replacement weights (takes ownership of `w`, t->nelem floats);
 * NULL removes the override. */
void qtensor_set_override(struct qtensor *t, float *w);
void qmodel_clear_overrides(struct qmodel *m);

/* Rows and columns of the tensor seen as a matrix: cols = innermost dim,
 * rows = product of the rest (a vector is 1 x n). */
int64_t qtensor_rows(const struct qtensor *t);
int64_t qtensor_cols(const struct qtensor *t);
/* The shape outermost first with `sep` between dimensions ("64x512",
 * "64 x 512") into buf (cap bytes, cut to fit). */
void qtensor_shape_str(const struct qtensor *t, const char *sep, char *buf, size_t cap);

int64_t qmodel_param_count(const struct qmodel *m);
const char *qdtype_name(enum qdtype dt);  /* "F32", "Q4_K", "IQ4_XS" */
/* Bytes per element of the float types; 0 for block types. */
size_t qdtype_size(enum qdtype dt);
/* Elements per block (1 for float types) and bytes per block. */
int qdtype_block(enum qdtype dt);
size_t qdtype_block_bytes(enum qdtype dt);
double qdtype_bpw(enum qdtype dt);        /* bits per weight            */
/* ggml type id of dt, and back (returns <0 for a type qlens cannot
 * decode). */
uint32_t qdtype_ggml(enum qdtype dt);
int qdtype_from_ggml(uint32_t ggml_type, enum qdtype *dt);
const char *qformat_name(enum qformat f);
const char *qrole_name(enum qrole r);
/* Is this a linear-layer weight that quantizers act on? */
int qrole_is_linear(enum qrole r);

#endif
