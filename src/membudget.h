/* membudget: what an operation will hold in memory, checked before it
 * starts (issue 15, "bad input": a model too large for the machine or for
 * the user's --mem-budget is refused with what it needs and which option
 * lowers it, instead of an out-of-memory kill halfway through).
 *
 * A plan is a short list of parts (bytes, and the option that makes the
 * part smaller, if any); mem_check compares its total with the budget:
 * the user's, else what the machine can give (mem_available_bytes).
 * The estimates are upper bounds of the big buffers, not of every small
 * allocation; mapped weights count fully (the pass reads every page, and
 * an address-space limit counts the mapping). */
#ifndef QLENS_MEMBUDGET_H
#define QLENS_MEMBUDGET_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "src/model.h"

#define MEM_MAX_PARTS 12

struct mem_part {
    const char *what;      /* "weights (mapped)", "calibration states", ... */
    double bytes;
    const char *lower;     /* option that lowers it ("--ctx"), or NULL   */
};

struct mem_plan {
    struct mem_part part[MEM_MAX_PARTS];
    int n;
    double total;          /* bytes, sum of the parts                    */
};

void mem_plan_init(struct mem_plan *p);
/* Add a part (ignored when bytes <= 0 or the plan is full). */
void mem_plan_add(struct mem_plan *p, const char *what, double bytes, const char *lower);

/* Bytes this process may still use: the least of MemAvailable
 * (/proc/meminfo), the cgroup's memory.max minus its usage, and
 * RLIMIT_AS minus the address space in use; -1 when none is known. */
double mem_available_bytes(void);

/* "4096", "4096M", "4G", "512k" (K/M/G/T, binary units; no suffix:
 * MiB) -> bytes.  Returns 0, or -1 when s is not such a size or is 0. */
int mem_parse_size(const char *s, double *bytes);

/* Does the plan fit?  budget > 0: the user's (--mem-budget); else the
 * available memory (no check when unknown).  On a miss: QERR_UNSUPP and
 * a message "OP needs about X GiB (parts, largest first) but BUDGET;
 * lower it with OPTIONS" where OPTIONS are the parts' options. */
int mem_check(const struct mem_plan *p, double budget, const char *op, struct qerr *err);

/* Parts of common work, for the plans of the front ends. */
/* The process's anonymous memory so far (texts, tokenizer, libraries'
 * buffers): "in use already". */
void mem_plan_self(struct mem_plan *p);
/* Bytes of m's tensors in the file (mapped, not copied). */
double mem_weights_bytes(const struct qmodel *m);
/* One forward context of T tokens (src/forward.c's scratch and tiles)
 * plus the (T, vocab) logits of one chunk. */
double mem_fwd_bytes(const struct qconfig *c, int T);

/* What a whole-model quantization holds beside the mapped weights and the
 * evaluation's forward passes (src/pipeline.c fills it from the model's
 * tensors).  Sizes in weights (floats), tokens or flags. */
struct mem_quant {
    double all;           /* weights of every quantized tensor           */
    double block_max;     /* the largest block's quantized linears       */
    double step_max;      /* the largest step (linears quantized together) */
    double outside;       /* quantized tensors outside the blocks        */
    int streamed;         /* the evaluation goes through each block as it
                             is quantized (src/estream.h): one block's
                             floats at a time, plus the hidden states    */
    int resident_opt;     /* not streamed because of --resident          */
    double eval_tokens;   /* evaluation chunks x n_ctx (streamed)        */
    int calibrated;       /* calibration captured (hidden states, XᵀX)   */
    int sequential;       /* one site's XᵀX at a time                    */
    double calib_tokens;  /* (calibration chunks + 1) x calib_ctx        */
};
/* Add its parts: the quantized floats (the whole model's, or one block's
 * and those outside the blocks when streamed), the evaluation's hidden
 * states (streamed), the quantizer's working copies (3 x the largest
 * step), the calibration hidden states and XᵀX with its factor (doubles;
 * the largest of dim², hidden², (heads x head_dim)², or all four sites'
 * at once when not sequential). */
void mem_plan_quant(struct mem_plan *p, const struct qconfig *c, const struct mem_quant *q);

/* A plain evaluation (qlens ppl): m's weights and `workers` forward
 * contexts of n_ctx tokens; then mem_check with op "PATH: evaluating". */
int mem_check_eval(const struct qmodel *m, int n_ctx, int workers, double budget,
                   struct qerr *err);

#endif
