/* SpQR (Dettmers et al. 2023, arXiv 2306.03078): GPTQ with small groups,
 * quantized group statistics and a sparse set of float outliers.
 *
 * On top of GPTQ's column loop (quant/gptq.c, act order on by default):
 *  - first level: groups of `group` (16) consecutive columns in quantization
 *    order; per row and group a `bits`-bit min/max grid (zero point kept
 *    fractional);
 *  - second level: the scales of one column group (a vector over rows) are
 *    themselves quantized to qq_bits (3) in groups of qq_group (16)
 *    consecutive rows, each with a 16-bit scale and zero; the zero points
 *    likewise (asymmetric only).  Unlike the reference, this grid spans
 *    exactly [min, max] of the statistics (the reference widens it to
 *    include 0, which wastes levels and can round a scale to 0);
 *  - outliers: before a group's statistics are fitted, a weight whose
 *    leave-one-out reduction of the group's Hessian-weighted error exceeds
 *    the threshold is left out of the min/max; then while quantizing,
 *    a weight whose error (w - q)² / U_jj² exceeds the threshold is kept in
 *    float (q = w) and counted.  threshold = outlier_thr · mean_j(var_r W_rj
 *    / U_jj²), the reference's relative scale.
 * bits/weight = bits + first-level stats (qq_bits each, or 16 when
 * qq_bits = 0) per group + 2 x 16 bits per second-level group and
 * statistic + 32 bits per outlier (16-bit value + 16-bit column index).
 * The column permutation of act order is not counted (the paper does not). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_impl.h"

struct spqr {
    const struct quant_spec *spec;
    const struct gptq_hess *h;
    int rows, cols, bits, sym, qq_bits, qq_group, outliers;
    int plain;              /* reference paths (O(n²) leave-one-out)      */
    double thr;             /* absolute outlier threshold                 */
    struct qgrid *grid;     /* (rows) current group's grids               */
    float *sc, *zp;         /* (rows) scales / zero points of one group   */
    unsigned char *deg;     /* (rows) row's group is all zero             */
    unsigned char *skip;    /* (group) LOO mask for one row               */
    unsigned char *mark;    /* (group) likely outliers of one row         */
    unsigned char *kept;    /* (rows, cols) permuted order, or NULL: the
                               weights kept in float (quant_side)       */
    float *d;               /* (group) U_jj of the group's columns        */
    long n_out;             /* weights kept in float                      */
};

/* Σ_i ((q_i - w_i) / d_i)² over a row's group, entries with skip set left
 * out of both the fit and the sum. */
static double group_err(const float *w, int n, const float *d, const unsigned char *skip,
                        int bits, int sym)
{
    struct qgrid g;
    qgrid_fit(&g, w, n, 1, skip, bits, sym, 1.0f);
    double e = 0;
    for (int i = 0; i < n; i++)
        if (!skip[i]) {
            double t = (qgrid_q(&g, w[i]) - w[i]) / d[i];
            e += t * t;
        }
    return e;
}

/* Mark (mark[i] = 1) the weights of one row's group whose removal lowers
 * the group's weighted error by more than thr: the reference, refitting
 * the grid without each weight in turn (O(n²) per row). */
static void loo_outliers_ref(struct spqr *S, const float *w, int n, const float *d,
                             unsigned char *mark)
{
    memset(S->skip, 0, n);
    double base = group_err(w, n, d, S->skip, S->bits, S->sym);
    for (int i = 0; i < n; i++) {
        S->skip[i] = 1;
        mark[i] = base - group_err(w, n, d, S->skip, S->bits, S->sym) > S->thr;
        S->skip[i] = 0;
    }
}

/* The same in O(n): a grid depends only on the min and max of the values
 * it is fitted to, so leaving out weight i changes the grid only when i is
 * the unique argmin or argmax.  Otherwise the reduction is just weight i's
 * own error term. */
static void loo_outliers(struct spqr *S, const float *w, int n, const float *d,
                         unsigned char *mark)
{
    struct qgrid g;
    if (n <= 0)
        return;
    qgrid_fit(&g, w, n, 1, NULL, S->bits, S->sym, 1.0f);
    int imin = 0, imax = 0, nmin = 0, nmax = 0;
    double base = 0;
    for (int i = 0; i < n; i++) {
        double t = (qgrid_q(&g, w[i]) - w[i]) / d[i];
        base += t * t;
        imin = w[i] < w[imin] ? i : imin;
        imax = w[i] > w[imax] ? i : imax;
    }
    for (int i = 0; i < n; i++)
        nmin += w[i] == w[imin], nmax += w[i] == w[imax];
    memset(S->skip, 0, n);
    for (int i = 0; i < n; i++) {
        double red;
        if ((i == imin && nmin == 1) || (i == imax && nmax == 1)) {
            S->skip[i] = 1;
            red = base - group_err(w, n, d, S->skip, S->bits, S->sym);
            S->skip[i] = 0;
        } else {
            double t = (qgrid_q(&g, w[i]) - w[i]) / d[i];
            red = t * t;
        }
        mark[i] = red > S->thr;
    }
}

/* Second level: quantize v[0..rows) in chunks of qq_group rows. */
static void quantize_stat(float *v, int rows, int qq_bits, int qq_group)
{
    for (int r0 = 0; r0 < rows; r0 += qq_group) {
        int n = rows - r0 < qq_group ? rows - r0 : qq_group;
        float lo = v[r0], hi = v[r0];
        for (int i = 1; i < n; i++)
            lo = fminf(lo, v[r0 + i]), hi = fmaxf(hi, v[r0 + i]);
        struct qgrid g;
        qgrid_from_minmax(&g, lo, hi, qq_bits);
        for (int i = 0; i < n; i++)
            v[r0 + i] = qgrid_q(&g, v[r0 + i]);
    }
}

/* An all-zero row group gets the fallback scale 1, far from every real
 * scale; left alone it would stretch the 3-bit grid of its second-level
 * group and spoil the neighbours' scales.  Any scale represents zeros, so
 * give it the mean of the real ones. */
static void fix_degenerate(struct spqr *S, const unsigned char *deg)
{
    double sum = 0;
    int n = 0;
    for (long r = 0; r < S->rows; r++)
        if (!deg[r])
            sum += S->grid[r].scale, n++;
    for (long r = 0; r < S->rows && n > 0; r++)
        if (deg[r])
            S->grid[r].scale = (float)(sum / n), S->grid[r].zero = 0.0f;
}

/* Second level: scales (and zero points, asymmetric) over rows to
 * qq_bits in groups of qq_group rows. */
static void quantize_stats(struct spqr *S)
{
    for (long r = 0; r < S->rows; r++)
        S->sc[r] = S->grid[r].scale, S->zp[r] = S->grid[r].zero;
    quantize_stat(S->sc, S->rows, S->qq_bits, S->qq_group);
    if (!S->sym)
        quantize_stat(S->zp, S->rows, S->qq_bits, S->qq_group);
    for (long r = 0; r < S->rows; r++) {
        S->grid[r].scale = S->sc[r] > 0 ? S->sc[r] : S->grid[r].scale;
        S->grid[r].zero = S->sym ? 0.0f : S->zp[r];
    }
}

static void s_group_start(void *ud, const float *w, int ld, int c0, int n)
{
    struct spqr *S = ud;
    for (int i = 0; i < n; i++)
        S->d[i] = S->h->hinv[(long)(c0 + i) * S->cols + c0 + i];
    for (long r = 0; r < S->rows; r++) {
        const float *wr = w + r * ld;
        float lo, hi;
        if (S->outliers && S->plain)
            loo_outliers_ref(S, wr, n, S->d, S->mark);
        else if (S->outliers)
            loo_outliers(S, wr, n, S->d, S->mark);
        qgrid_minmax(wr, n, 1, S->outliers ? S->mark : NULL, &lo, &hi);
        /* the zero point stays fractional when the second level quantizes it */
        qgrid_from_range(&S->grid[r], lo, hi, S->bits, S->sym, S->qq_bits <= 0);
        S->deg[r] = lo == 0.0f && hi == 0.0f;
    }
    if (S->qq_bits <= 0)
        return;
    fix_degenerate(S, S->deg);
    quantize_stats(S);
}

static void s_quant_col(void *ud, int j, const float *w, float *q, float d)
{
    struct spqr *S = ud;
    for (long r = 0; r < S->rows; r++) {
        q[r] = qgrid_q(&S->grid[r], w[r]);
        double e = (w[r] - q[r]) / d;
        if (S->outliers && e * e > S->thr) {
            q[r] = w[r];
            S->n_out++;
            if (S->kept)
                S->kept[(size_t)r * S->cols + j] = 1;
        }
    }
}

/* mean_j var_r(W_rj) / U_jj² on the permuted working matrix. */
static double outlier_scale(const float *w, int rows, int cols, const struct gptq_hess *h)
{
    double tot = 0;
    for (long j = 0; j < cols; j++) {
        double m = 0, v = 0;
        for (long r = 0; r < rows; r++)
            m += w[r * cols + j] / rows;
        for (long r = 0; r < rows; r++)
            v += (w[r * cols + j] - m) * (w[r * cols + j] - m) / rows;
        double d = h->hinv[j * cols + j];
        tot += v / (d * d);
    }
    return tot / cols;
}

static double spqr_bpw(const struct spqr *S, int group)
{
    double n = (double)S->rows * S->cols;
    int glen = qgrid_glen(S->cols, group), ng = (S->cols + glen - 1) / glen;
    double nstat = S->sym ? 1 : 2;               /* scale (+ zero)         */
    double g1 = (double)S->rows * ng;            /* first-level groups     */
    double g2 = (double)ng * ((S->rows + S->qq_group - 1) / S->qq_group);
    double bits = n * S->bits + S->n_out * 32.0;
    if (S->qq_bits > 0)
        bits += g1 * nstat * S->qq_bits + g2 * nstat * 2 * 16;
    else
        bits += g1 * nstat * 16;
    return bits / n;
}

/* The kept-weight mask in the original column order (perm[j] is the
 * original column of working column j). */
static void kept_out(const struct spqr *S, const struct gptq_hess *h, unsigned char *dst)
{
    for (long r = 0; r < S->rows; r++)
        for (int j = 0; j < S->cols; j++)
            dst[(size_t)r * S->cols + (h->perm ? h->perm[j] : j)] = S->kept[(size_t)r * S->cols + j];
}

static int spqr_common(const struct quant_spec *spec, const float *w, int rows, int cols,
                       const struct quant_calib *calib, float *out, struct quant_side *side,
                       struct quant_report *rep, const struct quant_ctl *ctl,
                       struct qerr *err, int plain)
{
    struct gptq_hess h;
    int rc = gptq_hess_init(&h, calib->xtx, cols, qi_opt(spec, "damp"),
                            qi_opt(spec, "act_order") != 0, err);
    if (rc < 0)
        return rc;
    int glen = qgrid_glen(cols, spec->group);  /* -1 and 0: whole row */
    struct spqr S = {.spec = spec, .h = &h, .rows = rows, .cols = cols, .bits = spec->bits,
                     .sym = spec->sym, .qq_bits = (int)qi_opt(spec, "qq_bits"),
                     .qq_group = (int)qi_opt(spec, "qq_group"),
                     .outliers = qi_opt(spec, "outliers") != 0, .plain = plain};
    S.grid = malloc(rows * sizeof *S.grid);
    S.sc = malloc(rows * sizeof *S.sc), S.zp = malloc(rows * sizeof *S.zp);
    S.deg = malloc(rows);
    S.skip = malloc(glen), S.mark = malloc(glen);
    S.d = malloc(glen * sizeof *S.d);
    float *work = malloc((size_t)rows * cols * sizeof *work);
    if (side && side->fp_weights)
        S.kept = calloc((size_t)rows * cols, 1);
    if (!S.grid || !S.sc || !S.zp || !S.deg || !S.skip || !S.mark || !S.d || !work ||
        (side && side->fp_weights && !S.kept)) {
        rc = qerr_set(err, QERR_NOMEM, "SpQR: out of memory for a %d x %d layer", rows, cols);
        goto done;
    }
    gptq_permute_in(w, rows, cols, &h, work);
    S.thr = qi_opt(spec, "outlier_thr") * outlier_scale(work, rows, cols, &h);
    struct gptq_hooks hk = {.ud = &S, .group = glen, .group_start = s_group_start,
                            .quant_col = s_quant_col};
    rc = gptq_run(work, rows, cols, &h, &hk, (int)qi_opt(spec, "block"), plain, ctl, err);
    if (rc == 0) {
        gptq_permute_out(work, rows, cols, &h, out);
        rep->n_outliers = S.n_out;
        rep->outlier_frac = (double)S.n_out / ((double)rows * cols);
        rep->bits_per_weight = spqr_bpw(&S, spec->group);
        if (S.kept) {
            kept_out(&S, &h, side->fp_weights);
            side->has_fp_weights = 1;
        }
    }
done:
    free(S.grid), free(S.sc), free(S.zp), free(S.deg), free(S.skip), free(S.mark), free(S.d);
    free(work);
    free(S.kept);
    gptq_hess_free(&h);
    return rc;
}

int spqr_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
               const struct quant_calib *calib, float *out, struct quant_side *side,
               struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return spqr_common(spec, w, rows, cols, calib, out, side, rep, ctl, err, 0);
}

int spqr_apply_ref(const struct quant_spec *spec, const float *w, int rows, int cols,
                   const struct quant_calib *calib, float *out, struct quant_side *side,
                   struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return spqr_common(spec, w, rows, cols, calib, out, side, rep, ctl, err, 1);
}

static const struct quant_param spqr_params[] = {
    {"outliers", "1: keep high-error weights in float (0: the no-outlier ablation)", 1, 0, 1, 1},
    {"outlier_thr", "outlier threshold relative to mean var(W_j)/U_jj^2", 0.2, 0.0, 1e6, 0},
    {"qq_bits", "bits of the quantized scales/zeros (0: keep them 16-bit)", 3, 0, 8, 1},
    {"qq_group", "rows per second-level group of statistics", 16, 1, 4096, 1},
    {"damp", "dampening added to diag(H), relative to its mean", 0.01, 0.0, 10.0, 0},
    {"act_order", "1: quantize columns in decreasing H_ii order", 1, 0, 1, 1},
    {"block", "lazy-batch block width (columns)", 128, 1, 4096, 1},
};

const struct quantizer quant_spqr = {
    .name = "SpQR",
    .summary = "GPTQ with small groups, 3-bit quantized statistics and float outliers",
    .params = spqr_params,
    .n_params = 7,
    .needs_calib = QUANT_CALIB_HESSIAN,
    .def_bits = 3,
    .def_group = 16,
    .def_sym = 0,
    .apply = spqr_apply,
};
