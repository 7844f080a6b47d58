/* qmix: a llama-quantize preset applied to a whole model, for evaluation
 * (dequantized overrides) and export (a GGUF of the real blocks).
 *
 *   plan    every tensor's ggml type from quant/ggml_mix (rules, --pure,
 *           --tensor-type, fallback), in llama.cpp's file order: tensors
 *           outside blocks first, then block by block, by GGUF name within
 *           each (llama_model_loader's weight order, so an export of the
 *           same source lines up with llama-quantize's file byte for byte)
 *   apply   quantize each tensor from its ORIGINAL floats to its type's
 *           blocks (quant/ggml_types.h, byte-identical to llama.cpp), decode
 *           them back and install the result as the tensor's override; the
 *           error against the original is kept per tensor (analysis/tdiff)
 *   export  write the blocks (quantized again, one tensor at a time, from
 *           the original floats) with the source's metadata and tokenizer
 *           and general.file_type = the preset's llama_ftype, atomically
 *
 * Tensors llama-quantize does not quantize (norms, biases, vectors) keep
 * their source type (F32/F16/BF16; a quantized source's are F32).
 * imatrix (per-column importance, as llama-quantize passes it) is set by
 * the caller per tensor after qmix_plan. */
#ifndef QLENS_QMIX_H
#define QLENS_QMIX_H

#include <stdint.h>

#include "analysis/qerr.h"
#include "analysis/tdiff.h"
#include "quant/ggml_mix.h"
#include "src/model.h"
#include "src/qplan.h"

struct qmix_tensor {
    int index;                  /* into m->tensors                         */
    char gguf_name[QM_NAME_MAX + 16];
    struct gmix_choice c;       /* the mix's answer (type, fallback, why)  */
    enum ggt_id type;           /* type written: c.type, or the source's
                                   float type when not quantized          */
    uint64_t nbytes;            /* stored size                            */
    const float *imatrix;       /* (cols) importance or NULL (borrowed)   */
    int applied;                /* err is valid                           */
    struct tdiff_metrics err;   /* vs the original floats (qmix_apply)    */
};

struct qmix {
    struct qmodel *m;
    const struct gmix_preset *p;
    struct gmix_model facts;    /* what the rules read, from m            */
    int pure;
    struct qmix_tensor *t;      /* (n) in file order                      */
    int n;
    int n_quantized, n_fallback;
    int64_t n_params;           /* values of all exported tensors         */
    uint64_t bytes;             /* their stored bytes                     */
    int permute_qk;             /* rotate-half source written as llama    */
    /* set by the caller when an importance matrix is used: llama-quantize
     * records it as quantize.imatrix.{file,dataset,entries_count,
     * chunks_count} */
    const char *imatrix_file, *imatrix_dataset;
    int imatrix_entries, imatrix_chunks;
};

/* The architecture facts of m that llama.cpp's rules read (n_expert from
 * <arch>.expert_count of a GGUF source; 70B = llama with 80 blocks and
 * grouped-query attention, as llama.cpp's model types say). */
void qmix_facts(const struct qmodel *m, int has_imatrix, struct gmix_model *f);

/* Choose every tensor's type (has_imatrix: the rules that depend on an
 * importance matrix apply). */
int qmix_plan(struct qmix *q, struct qmodel *m, const struct gmix_preset *p,
              const struct gmix_opts *o, int has_imatrix, struct qerr *err);
/* Every tensor's type from a per-tensor plan bound to m (src/qplan.h):
 * each planned block linear in its candidate's llama.cpp type (with
 * llama.cpp's fallback for rows its block does not divide), every other
 * tensor (float lines, token_embd, output, norms) in its source float type,
 * as the plan's evaluation leaves them.  A planned candidate that is not a
 * llama.cpp type is refused (QERR_FORMAT naming the spec's file, line and
 * tensor).  general.file_type: the --pure preset of the type most planned
 * tensors use. */
int qmix_plan_spec(struct qmix *q, struct qmodel *m, const struct qplan *p, struct qerr *err);
/* Quantize + dequantize every quantized tensor into overrides (cancel may
 * be NULL; polled between tensors, QERR_CANCEL). */
int qmix_apply(struct qmix *q, volatile int *cancel, struct qerr *err);
/* The same for the tensors of one block (layer -1: those outside the
 * blocks), for an evaluation streamed block by block (pipe_eval_blocks):
 * every tensor's result is the one qmix_apply gives it. */
int qmix_apply_layer(struct qmix *q, int layer, volatile int *cancel, struct qerr *err);
/* Write the GGUF of the real blocks to path, atomically. */
int qmix_export(const struct qmix *q, const char *path, struct qerr *err);
void qmix_free(struct qmix *q);

/* Mean stored bits per value over the quantized tensors, and over the whole
 * file (every exported tensor). */
double qmix_bpw_quantized(const struct qmix *q);
double qmix_bpw_file(const struct qmix *q);

#endif
