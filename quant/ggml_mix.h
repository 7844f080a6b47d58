/* ggml_mix: llama-quantize's per-tensor type choice ("Q4_K_M" and friends).
 *
 * A llama.cpp quantization preset (a llama_ftype) is not one type: it names
 * a default type and a set of rules that give some tensors more bits --
 * attn_v and ffn_down of the first, last and every third block, the output
 * matrix in Q6_K -- and a fallback for rows that do not fill whole blocks.
 * This module is that choice as a pure function of the preset, the tensor's
 * canonical name (src/model.h), its block index and row length, and the
 * architecture facts the rules read (n_layers, n_expert, GQA ratio, ...).
 * It follows llama.cpp's llama_tensor_get_type (src/llama-quant.cpp of the
 * build that made ../shared/reference/ggml-types, February 2025):
 *
 *   use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
 *
 *   output (token_embd when tied)  Q8_0 if the row does not fill the default
 *                                  type's block (or Falcon), else Q6_K unless
 *                                  the default is Q8_0
 *   attn_v   Q2_K: Q4_K if GQA >= 4 else Q3_K;  Q3_K_M: Q5_K for blocks 0,1
 *            else Q4_K;  Q3_K_L: Q5_K;  IQ4_NL/IQ4_XS with GQA >= 4: Q5_K;
 *            Q4_K_M/Q5_K_M: Q6_K where use_more_bits;  Q4_K_S: Q5_K for
 *            blocks 0..3;  70B: Q3_K/Q4_K -> Q5_K;  8 experts: Q8_0
 *   attn_k   8 experts: Q8_0
 *   ffn_down Q2_K: Q3_K;  Q3_K_M: Q5_K below n/16, else Q4_K (Falcon: only
 *            where use_more_bits, else Q3_K);  Q3_K_L: Q5_K (Falcon Q4_K);
 *            Q4_K_M: Q6_K where use_more_bits (Falcon: Q6_K below n/16,
 *            Q5_K where use_more_bits);  IQ4_NL/IQ4_XS without imatrix:
 *            Q5_K below n/8;  Q5_K_M: Q6_K where use_more_bits;  Q4_K_S:
 *            Q5_K below n/8 (not Falcon);  Q4_0/Q5_0 with imatrix: Q4_1/Q5_1
 *            below n/8
 *   attn_output  Q2_K: Q3_K;  Q3_K_M: Q4_K;  Q3_K_L: Q5_K (Falcon: Q4_K for
 *            Q3_K_L only);  8 experts: Q5_K for the K/IQ4 presets
 *
 * llama.cpp indexes attn_v and ffn_down with counters over the tensors in
 * file order (i_attention_wv, i_ffn_down); with one attn_v and one ffn_down
 * per block those counters are the block index, which is what is used here
 * (so the answer does not depend on the order tensors are visited).
 *
 * --pure: every matrix in the default type.  --tensor-type REGEX=TYPE: the
 * first pattern that matches the GGUF tensor name ("blk.3.attn_v.weight",
 * POSIX extended regex, unanchored) gives the type, and the rules are
 * skipped for that tensor.  Both as in llama-quantize.
 *
 * Fallback (after rules, --pure or overrides): a row length that is not a
 * multiple of the type's block size cannot be stored in it.  llama.cpp
 * falls back Q2_K/Q3_K/IQ4_XS -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1,
 * Q6_K -> Q8_0, then F16 if even that block does not fit.  For types with
 * no fallback in llama.cpp (the 32-blocks, which it refuses) qlens uses F16.
 * The choice says whether it fell back and why.
 *
 * Pure: no I/O, no printing; errors through struct qerr. */
#ifndef QLENS_GGML_MIX_H
#define QLENS_GGML_MIX_H

#include <regex.h>
#include <stdint.h>

#include "analysis/qerr.h"
#include "quant/ggml_types.h"

struct gmix_preset {
    const char *name;     /* qlens's spelling: "q4_k_m"                   */
    const char *label;    /* llama-quantize's: "Q4_K_M"                   */
    int ftype;            /* llama_ftype, written as general.file_type    */
    enum ggt_id base;     /* the default type of the mix                  */
};

/* Case-insensitive ("Q4_K_M", "q4_k_m"); NULL when not a preset. */
const struct gmix_preset *gmix_find(const char *name);
/* All presets in llama-quantize's order; *n receives the count. */
const struct gmix_preset *gmix_all(int *n);

/* The architecture facts llama.cpp's rules read. */
struct gmix_model {
    int n_layers;         /* blocks                                       */
    int n_expert;         /* MoE experts; 0 or 1 for a dense model        */
    int n_gqa;            /* n_heads / n_kv_heads                          */
    int falcon;           /* architecture "falcon"                         */
    int is_70b;           /* llama.cpp's LLM_TYPE_70B (attn_v bump)        */
    int tied_output;      /* no output matrix: token_embd is the classifier */
    int has_imatrix;      /* an importance matrix is given                 */
};

/* One --tensor-type REGEX=TYPE. */
struct gmix_override {
    regex_t re;
    char pattern[128];
    enum ggt_id type;
};

struct gmix_opts {
    int pure;                           /* every matrix in the default type */
    const struct gmix_override *ov;     /* first match wins               */
    int n_ov;
};

struct gmix_choice {
    enum ggt_id type;     /* what the tensor is stored as                 */
    enum ggt_id wanted;   /* before the fallback                          */
    int quantized;        /* 0: not a matrix llama-quantize touches (norms,
                             biases, 1-D): kept in its source type        */
    int overridden;       /* a --tensor-type pattern chose `wanted`       */
    int fallback;         /* `wanted` did not fit the row: see why        */
    char why[160];
};

/* Does llama-quantize quantize this tensor?  2-D or more, not a norm, not a
 * bias (canonical name). */
int gmix_is_quantizable(const char *name, int ndim);

/* The type of one tensor.  name: canonical ("blk.3.attn_v"); layer: block
 * index or -1; ncols: row length (innermost dimension).  QERR_ARG for a
 * layer outside [0, n_layers) or a bad preset. */
int gmix_tensor_type(const struct gmix_preset *p, const struct gmix_model *mm,
                     const struct gmix_opts *o, const char *name, int layer, int ndim,
                     int64_t ncols, struct gmix_choice *c, struct qerr *err);

/* Parse "REGEX=TYPE" (TYPE a ggml type name: q4_k, Q6_K, f16, ...); the
 * last '=' splits.  Call gmix_override_free on success. */
int gmix_override_parse(struct gmix_override *ov, const char *spec, struct qerr *err);
void gmix_override_free(struct gmix_override *ov);

#endif
