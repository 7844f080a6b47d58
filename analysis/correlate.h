/* correlate: Pearson r, Spearman rho, p-values, a 95% confidence interval
 * and the least-squares line between two columns of numbers (GSL).
 *
 * Missing values are NAN: a pair with a NAN on either side is dropped
 * (pairwise-complete), and the count of dropped pairs is reported.
 * Degenerate input (fewer than 3 complete pairs, a constant column) returns
 * QERR_NUMERIC with a message saying which; the result then holds only n
 * and n_missing, never NaN in a field a caller would print. */
#ifndef QLENS_CORRELATE_H
#define QLENS_CORRELATE_H

#include <stddef.h>

#include "analysis/qerr.h"

/* Up to this n, Spearman's p is exact (all n! orderings, 40320 at 8). */
#define CORR_EXACT_MAX 8

struct corr_result {
    size_t n;          /* complete pairs used                          */
    size_t n_missing;  /* pairs dropped because x or y was NAN         */
    double r;          /* Pearson correlation                          */
    double r_p;        /* two-sided p, t = r sqrt((n-2)/(1-r^2)), df n-2 */
    double r_lo, r_hi; /* 95% CI of r via Fisher z (n = 3: [-1, 1])    */
    double rho;        /* Spearman rank correlation (ties: mean ranks) */
    double rho_p;      /* two-sided p: exact permutation test for
                          n <= CORR_EXACT_MAX, else the t approximation */
    double slope;      /* least squares y = intercept + slope * x      */
    double intercept;
    double x_mean, y_mean;
};

/* Correlate x[i] with y[i], i < n.  Returns QERR_OK, QERR_NUMERIC for
 * degenerate input, QERR_NOMEM, QERR_ARG for NULL pointers. */
int corr_compute(const double *x, const double *y, size_t n,
                 struct corr_result *out, struct qerr *err);

/* Two-sided p-value of a correlation r over n pairs (t distribution with
 * n-2 degrees of freedom); |r| = 1 gives 0.  n >= 3. */
double corr_p_value(double r, size_t n);

/* Mean ranks (1-based; tied values share the average of their ranks).
 * rank must hold n values.  Returns QERR_NOMEM or QERR_OK. */
int corr_ranks(const double *v, size_t n, double *rank, struct qerr *err);

/* Plain scalar two-pass Pearson r (reference for the GSL path). */
double corr_pearson_ref(const double *x, const double *y, size_t n);

#endif
