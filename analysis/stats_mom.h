/* stats_mom: merging central moments of two sets (private to analysis/stats*.c).
 *
 * A set is (n, mean, m2, m3, m4) with m_k = sum (x - mean)^k, not divided.
 * The union's moments follow from both sets' (Chan et al. 1979; Pebay 2008
 * for m3 and m4), which lets the fast paths sum small blocks with a local
 * shift and combine them without cancellation. */
#ifndef QLENS_STATS_MOM_H
#define QLENS_STATS_MOM_H

#include <math.h>

#include "analysis/stats.h"

/* (n, mean, m2, m3, m4) <- itself U (nb, mb, m2b, m3b, m4b). */
static inline void stats_mom_merge(double *n_, double *mean, double *m2, double *m3,
                                   double *m4, double nb, double mb, double m2b,
                                   double m3b, double m4b)
{
    double na = *n_;
    if (nb == 0)
        return;
    if (na == 0) {
        *n_ = nb;
        *mean = mb;
        *m2 = m2b;
        *m3 = m3b;
        *m4 = m4b;
        return;
    }
    double n = na + nb, d = mb - *mean, dn = d / n, dn2 = dn * dn;
    double r2 = *m2 + m2b + d * dn * na * nb;
    double r3 = *m3 + m3b + d * dn2 * na * nb * (na - nb) + 3.0 * dn * (na * m2b - nb * *m2);
    double r4 = *m4 + m4b + d * dn2 * dn * na * nb * (na * na - na * nb + nb * nb)
                + 6.0 * dn2 * (na * na * m2b + nb * nb * *m2) + 4.0 * dn * (na * m3b - nb * *m3);
    *n_ = n;
    *mean += dn * nb;
    *m2 = r2;
    *m3 = r3;
    *m4 = r4;
}

/* Shifted power sums s[1..4] = sum (x - c)^k over cnt values -> mean and
 * central sums m[0..2] = m2, m3, m4 (m2, m4 clamped at 0 against rounding). */
static inline double stats_mom_from_sums(double cnt, double c, const double s[5], double m[3])
{
    if (cnt == 0) {
        m[0] = m[1] = m[2] = 0;
        return 0;
    }
    double u = s[1] / cnt;
    m[0] = s[2] - s[1] * u;
    m[1] = s[3] - 3.0 * u * s[2] + 2.0 * u * u * s[1];
    m[2] = s[4] - 4.0 * u * s[3] + 6.0 * u * u * s[2] - 3.0 * u * u * u * s[1];
    m[0] = m[0] < 0 ? 0 : m[0];
    m[2] = m[2] < 0 ? 0 : m[2];
    return c + u;
}

/* Fill the derived fields of s from n, mean, m2..m4, min, max (shared by
 * the whole-array, reference and per-column paths). */
static inline void stats_finish(struct stats *s, double m2, double m3, double m4)
{
    uint64_t n = s->n;
    s->absmax = fabs(s->min) > fabs(s->max) ? fabs(s->min) : fabs(s->max);
    if (n < 2 || s->min == s->max || m2 <= 0) {
        if (n > 0 && s->min == s->max)
            s->mean = s->min; /* exact, so |x - mean| > 0 never counts */
        s->std = s->skew = s->kurt = s->exkurt = s->absmax_over_std = 0;
        s->degenerate = 1;
        return;
    }
    double var = m2 / (double)n;
    s->std = sqrt(var);
    s->skew = (m3 / (double)n) / (var * s->std);
    s->kurt = (m4 / (double)n) / (var * var);
    s->exkurt = s->kurt - 3.0;
    s->absmax_over_std = s->absmax / s->std;
    s->degenerate = 0;
}

/* frac_* from the n_* counts. */
static inline void stats_fractions(struct stats *s)
{
    double n = (double)s->n;
    s->frac_k3 = n > 0 ? (double)s->n_k3 / n : 0;
    s->frac_k6 = n > 0 ? (double)s->n_k6 / n : 0;
    s->frac_abs = n > 0 ? (double)s->n_abs / n : 0;
}

#endif
