/* Synthetic weights and calibration data for the quantizer tests
 * (tests/check_quant.c, check_rtn.c, check_gptq.c, ...). */
#ifndef QLENS_TESTUTIL_QUANT_H
#define QLENS_TESTUTIL_QUANT_H

#include "quant/quant.h"

/* (rows, cols) matrix of N(0, sd²) from tu_normal (caller frees). */
float *tq_matrix(int rows, int cols, double sd);

/* Calibration for a layer with `cols` inputs: n tokens of correlated
 * inputs x_t = s ⊙ (ρ F f_t + sqrt(1-ρ²) z_t) with 8 latent factors, channel
 * magnitudes s_j = exp(0.5 N(0,1)), and n_big channels (the first ones)
 * scaled up by `big` (activation outlier features).  Everything of struct
 * quant_calib is filled: xtx (double), mean/max |x| and the sample x (all
 * n tokens). */
struct tq_calib {
    struct quant_calib c;
    double *xtx;
    float *x, *mean_abs, *max_abs;
    int cols, n;
};
void tq_calib_make(struct tq_calib *t, int cols, int n, double rho, int n_big, double big);
void tq_calib_free(struct tq_calib *t);

/* ‖(W - Ŵ) Xᵀ‖_F / ‖W Xᵀ‖_F over the n tokens of x (n, cols). */
double tq_out_err(const float *w, const float *wq, int rows, int cols, const float *x, int n);
/* ‖W - Ŵ‖_F / ‖W‖_F */
double tq_rel(const float *w, const float *wq, long n);

#endif
