/* calib: calibration capture and activation / KV fake-quant, built on the
 * forward-pass hooks (src/forward.h).
 *
 * Sites: per block, the four distinct linear-layer inputs and the K/V
 * caches:
 *   CALIB_ATTN_IN  input of attn_q (also attn_k, attn_v)   (n, dim)
 *   CALIB_ATTN_OUT input of attn_output                     (n, n_heads*head_dim)
 *   CALIB_FFN_IN   input of ffn_gate (also ffn_up)          (n, dim)
 *   CALIB_FFN_DOWN input of ffn_down                        (n, hidden_dim)
 *   CALIB_K, CALIB_V  K after RoPE, V                       (n, kv_dim)
 *
 * What is captured per selected (layer, site), over every token seen:
 *   CALIB_HESSIAN  running XᵀX (in_dim, in_dim), double, full symmetric
 *                  (the GPTQ Hessian up to the factor 2/n_rows); accumulated
 *                  per chunk with cblas_ssyrk in float, added into double
 *   CALIB_CHANNEL  per input channel: mean |x|, max |x| (AWQ, SmoothQuant,
 *                  LLM.int8 outlier features), Σ x² (importance matrix)
 *   CALIB_STATS    statistics of all values with analysis/stats.h
 *                  definitions: mean, std, skew, kurt, exkurt, min, max,
 *                  absmax, absmax/std, frac_abs (|x| > 6).  Central moments
 *                  are merged exactly across chunks (Pébay's formulas);
 *                  frac_k3 / frac_k6 are counted per chunk against that
 *                  chunk's mean/std (an approximation, documented).
 *
 * Memory stays bounded: nothing is allocated for unselected sites, and a
 * layer-by-layer runner selects only the layer it is quantizing
 * (calib_select(c, layer, ...)), calib_reset between layers.  The Hessian
 * of ffn_down is hidden_dim² doubles (32 MiB at hidden 2048).
 *
 * Fake-quant (applied before capture, so capture sees what the matmul
 * consumes): act_bits > 0 quantizes every linear input per token
 * (quant/actquant.h, groups of act_group channels, 0 = whole row);
 * kv_bits > 0 quantizes K and V per token or per channel (kv_axis) in
 * groups of kv_group. */
#ifndef QLENS_CALIB_H
#define QLENS_CALIB_H

#include <stdint.h>

#include "analysis/qerr.h"
#include "analysis/stats.h"
#include "src/forward.h"

enum calib_site {
    CALIB_ATTN_IN = 0,
    CALIB_ATTN_OUT,
    CALIB_FFN_IN,
    CALIB_FFN_DOWN,
    CALIB_K,
    CALIB_V,
    CALIB__NSITES
};

enum {
    CALIB_STATS = 1,
    CALIB_CHANNEL = 2,
    CALIB_HESSIAN = 4,
    CALIB_ALL = 7
};

enum calib_axis { CALIB_PER_TOKEN = 0, CALIB_PER_CHANNEL = 1 };

/* Accumulator of one (layer, site). */
struct calib_acc {
    unsigned want;        /* CALIB_* flags selected                       */
    int dim;              /* channels (in_dim / kv_dim)                   */
    uint64_t n_rows;      /* tokens seen                                  */
    /* CALIB_HESSIAN */
    double *xtx;          /* (dim, dim) sum over rows of x xᵀ, symmetric  */
    /* CALIB_CHANNEL */
    double *sum_abs;      /* (dim) sum |x|                                */
    float *max_abs;       /* (dim) max |x|                                */
    double *sum_sq;       /* (dim) sum x² (llama-imatrix's in_sum2)       */
    /* CALIB_STATS: merged moments of all finite values */
    uint64_t n, n_nonfinite, n_k3, n_k6, n_abs;
    double mean, M2, M3, M4, min, max;
};

struct calib {
    int n_layers;
    int dims[CALIB__NSITES];
    struct calib_acc *acc;  /* (n_layers, CALIB__NSITES)                  */
    struct stats_opts sopts;
    /* fake-quant settings (0 bits = off) */
    int act_bits, act_group, act_asym;
    int kv_bits, kv_group, kv_asym;
    enum calib_axis k_axis, v_axis;
    float *tmp;             /* (max dim, max dim) ssyrk scratch            */
    int tmp_dim;
    struct qerr err;
};

/* Sites and dims from the model config; nothing selected yet. */
int calib_init(struct calib *c, const struct qconfig *cfg, struct qerr *err);
void calib_free(struct calib *c);
/* Select what to capture: layer -1 = every layer, site -1 = every site;
 * want 0 deselects (and frees). */
int calib_select(struct calib *c, int layer, int site, unsigned want);
/* Zero every accumulator (keeps selection and buffers). */
void calib_reset(struct calib *c);

/* Hooks for fwd_chunk / fwd_block; ud must be the struct calib. */
void calib_hooks(struct calib *c, struct fwd_hooks *h);

/* Feed one (n, dim) batch to an accumulator directly (also used by the
 * hooks); returns <0 on out-of-memory. */
int calib_acc_add(struct calib *c, struct calib_acc *a, const float *x, int n, int dim);
struct calib_acc *calib_get(struct calib *c, int layer, int site);
/* The accumulated statistics in stats.h form. */
void calib_acc_stats(const struct calib_acc *a, struct stats *out);
const char *calib_site_name(int site);
/* The site whose input linear role r reads (attn_k/v read CALIB_ATTN_IN,
 * ffn_up CALIB_FFN_IN), or -1 (norms, embeddings, the classifier). */
int calib_site_of_role(enum qrole r);

#endif
