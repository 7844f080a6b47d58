/* imatrix: llama.cpp's importance matrices, read and written.
 *
 * Definition (llama-imatrix's): for every linear layer W (out, in) and its
 * input activations x_t over the calibration tokens t = 1..T,
 *     importance[j] = (1/T) Σ_t x_t[j]²          j = 0 .. in-1
 * i.e. the diagonal of XᵀX / T.  llama-quantize passes it to the ggml-type
 * quantizers as per-column weights (quant/ggml_types.h).
 *
 * Two file formats:
 *   legacy binary (llama-imatrix before mid-2025, still read by
 *   llama-quantize), all integers int32 little-endian:
 *       n_entries
 *       n_entries x { len, name[len], ncall, nval, float values[nval] }
 *       last_call, len, dataset[len]            (optional trailer)
 *     values are Σ x² scaled so that values / ncall is the mean above.
 *   GGUF (general.type = "imatrix"): per tensor `<name>.in_sum2`, F32
 *     (n_mat, in) holding Σ x², and `<name>.counts`, F32 (n_mat) holding
 *     T; the mean is in_sum2 / counts (a count of 0 means "never seen":
 *     importance 1, as llama-quantize does).
 *
 * Names: entries are stored with llama.cpp's names ("blk.0.attn_q.weight");
 * qlens keeps both that and the canonical model name ("blk.0.attn_q"). */
#ifndef QLENS_IMATRIX_H
#define QLENS_IMATRIX_H

#include <stdint.h>

#include "analysis/qerr.h"
#include "src/model.h"

struct qimatrix_entry {
    char name[QM_NAME_MAX];     /* canonical: "blk.0.attn_q"               */
    char src_name[QM_NAME_MAX]; /* as in the file: "blk.0.attn_q.weight"  */
    int64_t n;                  /* columns (the layer's in_features)      */
    int64_t n_mat;              /* stacked matrices (MoE experts), else 1  */
    int64_t ncall;              /* chunks (legacy) / tokens (GGUF counts)  */
    float *values;              /* (n_mat, n) mean x² per column           */
};

struct qimatrix {
    struct qimatrix_entry *e;
    int n;
    int64_t chunks;             /* calibration chunks (legacy last_call)   */
    char dataset[256];          /* calibration text file, "" if unknown    */
};

/* Read either format (detected by the GGUF magic).  Every count and length
 * is checked; errors name the file, the entry and the field. */
int qimatrix_read(struct qimatrix *im, const char *path, struct qerr *err);
/* Write the legacy format atomically (ncall = im->chunks, at least 1). */
int qimatrix_write(const struct qimatrix *im, const char *path, struct qerr *err);
void qimatrix_free(struct qimatrix *im);

/* Entry by canonical or file name, or NULL. */
const struct qimatrix_entry *qimatrix_find(const struct qimatrix *im, const char *name);
/* Append an entry (copies `values`, n_mat * n floats). */
int qimatrix_add(struct qimatrix *im, const char *canonical, int64_t n, int64_t ncall,
                 const float *values, struct qerr *err);
/* From a calibration capture (src/calib.h, CALIB_CHANNEL selected on
 * every layer): one entry per linear layer of m (q, k, v, output, gate,
 * up, down; the classifier is left out, as llama-imatrix does by default)
 * holding sum_sq / n_rows of the site the layer reads.  chunks is stored
 * as the call count. */
struct calib;
int qimatrix_from_calib(struct qimatrix *im, const struct calib *c, struct qmodel *m,
                        int64_t chunks, struct qerr *err);
/* Check every entry against the model: the tensor exists and its column
 * count equals the entry's length.  err names file, entry and field. */
int qimatrix_check(const struct qimatrix *im, const char *path, struct qmodel *m,
                   struct qerr *err);

#endif
