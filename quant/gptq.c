/* GPTQ (Frantar et al. 2022, arXiv 2210.17323): quantize one column at a
 * time and push each column's rounding error onto the not-yet-quantized
 * columns through the inverse Hessian, so the layer output WX moves as
 * little as possible.
 *
 * The engine here (gptq_hess_*, gptq_run) is shared with SpQR: the method
 * supplies the per-column quantizer through struct gptq_hooks. */
#include <cblas.h>
#include <math.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "quant/quant_impl.h"

/* LAPACK (OpenBLAS ships the Fortran symbols, not LAPACKE's header); the
 * trailing size_t is the hidden length of the character argument. */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info,
             size_t uplo_len);
void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda,
             int *info, size_t uplo_len, size_t diag_len);

/* ---- Hessian -> upper Cholesky factor of its inverse ------------------ */

/* GPTQ needs U upper with Uᵀ U = H⁻¹.  With P the reversal permutation and
 * L Lᵀ = P H P (Cholesky), H⁻¹ = P L⁻ᵀ L⁻¹ P = Vᵀ V for V = P L⁻¹ P, which
 * is upper triangular: one potrf and one trtri (2n³/3 flops) instead of
 * potrf + potri + potrf (4n³/3).  a (n, n) holds P H P on entry (build_h
 * writes it reversed); u gets V row-major (lower triangle zero). */
static int inv_upper_chol(double *a, int n, float *u)
{
    long nn = n;
    int info = 0;
    dpotrf_("L", &n, a, &n, &info, 1);     /* column-major lower L */
    if (!info)
        dtrtri_("L", "N", &n, a, &n, &info, 1, 1);
    if (info)
        return info;
    /* V(i, j) = L⁻¹(n-1-i, n-1-j); column-major (r, c) sits at c*n + r */
    for (long i = 0; i < nn; i++)
        for (long j = 0; j < nn; j++)
            u[i * nn + j] = j < i ? 0.0f : (float)a[(nn - 1 - j) * nn + (nn - 1 - i)];
    return 0;
}

static int cmp_diag_desc(const void *pa, const void *pb, void *ud)
{
    const double *d = ud;
    int a = *(const int *)pa, b = *(const int *)pb;
    if (d[a] != d[b])
        return d[a] > d[b] ? -1 : 1;
    return a - b;  /* stable: ties keep the original order */
}

/* h = P H P: the permuted (act order), dead-fixed, damped Hessian, written
 * reversed for inv_upper_chol. */
static void build_h(double *h, const double *xtx, int n, const struct gptq_hess *g,
                    double damp_abs)
{
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            int pi = g->perm[i], pj = g->perm[j];
            double v = xtx[(long)pi * n + pj];
            if (g->dead[pi] || g->dead[pj])
                v = pi == pj ? 1.0 : 0.0;
            h[(n - 1 - i) * n + (n - 1 - j)] = v + (i == j ? damp_abs : 0.0);
        }
}

int gptq_hess_init(struct gptq_hess *g, const double *xtx, int n, double damp,
                   int act_order, struct qerr *err)
{
    memset(g, 0, sizeof *g);
    g->cols = n;
    g->perm = malloc(n * sizeof *g->perm);
    g->dead = calloc(n, 1);
    g->hinv = malloc((size_t)n * n * sizeof *g->hinv);
    double *diag = malloc(n * sizeof *diag), *h = malloc((size_t)n * n * sizeof *h);
    if (!g->perm || !g->dead || !g->hinv || !diag || !h) {
        free(diag), free(h), gptq_hess_free(g);
        return qerr_set(err, QERR_NOMEM, "GPTQ: out of memory for a %d x %d Hessian", n, n);
    }
    double mean = 0;
    for (int i = 0; i < n; i++) {
        diag[i] = xtx[(long)i * n + i];
        g->dead[i] = !(diag[i] > 0);
        if (g->dead[i])
            diag[i] = 1.0;   /* a never-active input: H_ii = 1, W col = 0 */
        mean += diag[i] / n;
        g->perm[i] = i;
    }
    if (act_order)
        qsort_r(g->perm, n, sizeof *g->perm, cmp_diag_desc, diag);
    int info = 1;
    for (int k = 0; k < 4 && info; k++, damp = damp > 0 ? damp * 10 : 1e-6) {
        build_h(h, xtx, n, g, damp * mean);
        info = inv_upper_chol(h, n, g->hinv);
        g->damp_used = damp;
    }
    free(diag);
    free(h);
    if (info) {
        gptq_hess_free(g);
        return qerr_set(err, QERR_NUMERIC,
                        "GPTQ: Hessian (%d x %d) not positive definite even with damping %g "
                        "(LAPACK info %d)", n, n, g->damp_used, info);
    }
    return 0;
}

void gptq_hess_free(struct gptq_hess *g)
{
    free(g->hinv);
    free(g->perm);
    free(g->dead);
    g->hinv = NULL, g->perm = NULL, g->dead = NULL;
}

void gptq_permute_in(const float *w, int rows, int cols, const struct gptq_hess *h,
                     float *work)
{
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < cols; j++) {
            int c = h->perm[j];
            work[r * cols + j] = h->dead[c] ? 0.0f : w[r * cols + c];
        }
}

void gptq_permute_out(const float *work, int rows, int cols, const struct gptq_hess *h,
                      float *out)
{
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < cols; j++)
            out[r * cols + h->perm[j]] = work[r * cols + j];
}

/* ---- the column loop --------------------------------------------------- */

/* Quantize column j, store q in place, return errors e = (w - q) / U_jj. */
static void do_column(float *w, int rows, int cols, int j, const struct gptq_hess *h,
                      const struct gptq_hooks *hk, float *wc, float *qc, float *e)
{
    if (hk->group > 0 && j % hk->group == 0)
        hk->group_start(hk->ud, w + j, cols, j, cols - j < hk->group ? cols - j : hk->group);
    float d = h->hinv[(long)j * cols + j];
    for (long r = 0; r < rows; r++)
        wc[r] = w[r * cols + j];
    hk->quant_col(hk->ud, j, wc, qc, d);
    for (long r = 0; r < rows; r++) {
        e[r] = (wc[r] - qc[r]) / d;
        w[r * cols + j] = qc[r];
    }
}

/* w[k] -= e * u[k] for k < n: the in-block update, most of GPTQ's
 * scalar work (rows · cols · block / 2 multiply-adds). */
static void axpy_neg_ref(float *w, const float *u, float e, int n)
{
    for (int k = 0; k < n; k++)
        w[k] -= e * u[k];
}

static void axpy_neg(float *restrict w, const float *restrict u, float e, int n)
{
    int k = 0;
#if defined(__AVX512F__)
    __m512 ve = _mm512_set1_ps(e);
    for (; k + 16 <= n; k += 16)
        _mm512_storeu_ps(w + k, _mm512_fnmadd_ps(ve, _mm512_loadu_ps(u + k),
                                                 _mm512_loadu_ps(w + k)));
#endif
    for (; k < n; k++)
        w[k] -= e * u[k];
}

/* Within [j+1, end): w[r][k] -= e[r] * U[j][k] for every row. */
static void update_rows(float *w, int rows, int cols, int j, int end, const float *u,
                        const float *e, int plain)
{
    const float *uj = u + (long)j * cols + j + 1;
    for (long r = 0; r < rows; r++) {
        if (plain)
            axpy_neg_ref(w + r * cols + j + 1, uj, e[r], end - j - 1);
        else
            axpy_neg(w + r * cols + j + 1, uj, e[r], end - j - 1);
    }
}

/* Lazy batches must not split a group that starts strictly inside the
 * block: its statistics need every earlier column's update applied. */
static int block_end(int i1, int block, int cols, int group)
{
    int i2 = i1 + block < cols ? i1 + block : cols;
    if (group > 0 && i2 < cols) {
        int c = ((i2 - 1) / group) * group;   /* last group start < i2 */
        if (c > i1 && c + group > i2)
            i2 = c;
    }
    return i2;
}

static int run_plain(float *w, int rows, int cols, const struct gptq_hess *h,
                     const struct gptq_hooks *hk, float *wc, float *qc, float *e,
                     const struct quant_ctl *ctl)
{
    for (int j = 0; j < cols; j++) {
        do_column(w, rows, cols, j, h, hk, wc, qc, e);
        update_rows(w, rows, cols, j, cols, h->hinv, e, 1);
        if ((j & 63) == 63 && qi_poll(ctl, (double)j / cols))
            return QERR_CANCEL;
    }
    return 0;
}

static int run_blocked(float *w, int rows, int cols, const struct gptq_hess *h,
                       const struct gptq_hooks *hk, int block, float *wc, float *qc,
                       float *e, float *eb, const struct quant_ctl *ctl)
{
    for (int i1 = 0, i2; i1 < cols; i1 = i2) {
        i2 = block_end(i1, block, cols, hk->group);
        int cnt = i2 - i1;
        for (int j = i1; j < i2; j++) {
            do_column(w, rows, cols, j, h, hk, wc, qc, e);
            update_rows(w, rows, cols, j, i2, h->hinv, e, 0);
            for (long r = 0; r < rows; r++)
                eb[r * block + (j - i1)] = e[r];   /* eb (rows, block) */
        }
        if (i2 < cols)  /* W[:, i2:] -= E (rows, cnt) · U[i1:i2, i2:] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols - i2, cnt,
                        -1.0f, eb, block, h->hinv + (long)i1 * cols + i2, cols, 1.0f,
                        w + i2, cols);
        if (qi_poll(ctl, (double)i2 / cols))
            return QERR_CANCEL;
    }
    return 0;
}

int gptq_run(float *w, int rows, int cols, const struct gptq_hess *h,
             const struct gptq_hooks *hk, int block, int plain,
             const struct quant_ctl *ctl, struct qerr *err)
{
    if (block < 1)
        block = 128;
    float *wc = malloc(rows * sizeof *wc), *qc = malloc(rows * sizeof *qc);
    float *e = malloc(rows * sizeof *e);
    float *eb = plain ? NULL : malloc((size_t)rows * block * sizeof *eb);
    int rc = QERR_NOMEM;
    if (wc && qc && e && (plain || eb))
        rc = plain ? run_plain(w, rows, cols, h, hk, wc, qc, e, ctl)
                   : run_blocked(w, rows, cols, h, hk, block, wc, qc, e, eb, ctl);
    free(wc), free(qc), free(e), free(eb);
    if (rc == QERR_NOMEM)
        return qerr_set(err, rc, "GPTQ: out of memory (%d rows)", rows);
    if (rc == QERR_CANCEL)
        return qerr_set(err, rc, "GPTQ: cancelled");
    return rc;
}

/* ---- the GPTQ method --------------------------------------------------- */

/* Grids: dynamic groups are fitted at group start on the error-updated
 * weights (rows entries, reused per group); per-channel, per-tensor and
 * static groups (act order + groups, as the reference's static_groups) are
 * fitted once on the original W before any update. */
struct gptq_ud {
    const struct quant_spec *spec;
    const struct gptq_hess *h;
    int rows, cols, ng;   /* ng: static groups per row                    */
    int dynamic;
    struct qgrid *grid;   /* (rows) dynamic | (rows, ng) static | (1)     */
};

static void g_group_start(void *ud, const float *w, int ld, int c0, int n)
{
    struct gptq_ud *u = ud;
    for (long r = 0; r < u->rows; r++)
        qgrid_fit(&u->grid[r], w + r * ld, n, 1, NULL, u->spec->bits, u->spec->sym, 1.0f);
}

static void g_quant_col(void *ud, int j, const float *w, float *q, float d)
{
    struct gptq_ud *u = ud;
    int glen = qgrid_glen(u->cols, u->spec->group);
    for (long r = 0; r < u->rows; r++) {
        const struct qgrid *g;
        if (u->spec->group < 0)
            g = &u->grid[0];
        else if (u->dynamic)
            g = &u->grid[r];
        else
            g = &u->grid[r * u->ng + u->h->perm[j] / glen];
        q[r] = qgrid_q(g, w[r]);
    }
}

/* Static grids on the original W (dead columns zeroed, original order). */
static void static_grids(struct gptq_ud *u, const float *w)
{
    const struct quant_spec *s = u->spec;
    if (s->group < 0) {
        float lo = 0, hi = 0;
        for (long i = 0; i < (long)u->rows * u->cols; i++)
            if (!u->h->dead[i % u->cols])
                lo = fminf(lo, w[i]), hi = fmaxf(hi, w[i]);
        qgrid_from_range(&u->grid[0], lo, hi, s->bits, s->sym, 1);
        return;
    }
    int glen = qgrid_glen(u->cols, s->group);
    for (long r = 0; r < u->rows; r++)
        for (int k = 0; k < u->ng; k++) {
            int c0 = k * glen, n = u->cols - c0 < glen ? u->cols - c0 : glen;
            qgrid_fit(&u->grid[r * u->ng + k], w + r * u->cols + c0, n, 1,
                      u->h->dead + c0, s->bits, s->sym, 1.0f);
        }
}

/* ---- the Hessian shared by linears with one input ---- */

struct quant_hcache {
    int valid;
    const double *xtx;   /* key: the calibration and the options */
    int cols, act_order;
    double damp;
    struct gptq_hess h;
};

struct quant_hcache *quant_hcache_new(void)
{
    return calloc(1, sizeof(struct quant_hcache));
}

void quant_hcache_free(struct quant_hcache *c)
{
    if (c && c->valid)
        gptq_hess_free(&c->h);
    free(c);
}

/* The factorized Hessian for (xtx, damp, act_order): the cached one when
 * the key matches, else built (and cached when there is a cache).  *own
 * says the caller frees h. */
static int hess_get(const struct quant_calib *calib, int cols, double damp, int act_order,
                    struct gptq_hess *tmp, const struct gptq_hess **h, int *own,
                    struct qerr *err)
{
    struct quant_hcache *c = calib->hcache;
    *own = 0;
    if (c && c->valid && c->xtx == calib->xtx && c->cols == cols && c->damp == damp &&
        c->act_order == act_order) {
        *h = &c->h;
        return 0;
    }
    int rc = gptq_hess_init(tmp, calib->xtx, cols, damp, act_order, err);
    if (rc < 0)
        return rc;
    if (!c) {
        *h = tmp;
        *own = 1;
        return 0;
    }
    if (c->valid)
        gptq_hess_free(&c->h);
    *c = (struct quant_hcache){1, calib->xtx, cols, act_order, damp, *tmp};
    *h = &c->h;
    return 0;
}

static int gptq_common(const struct quant_spec *spec, const float *w, int rows, int cols,
                       const struct quant_calib *calib, float *out,
                       struct quant_report *rep, const struct quant_ctl *ctl,
                       struct qerr *err, int plain)
{
    int act_order = qi_opt(spec, "act_order") != 0, own;
    struct gptq_hess tmp;
    const struct gptq_hess *hp;
    int rc = hess_get(calib, cols, qi_opt(spec, "damp"), act_order, &tmp, &hp, &own, err);
    if (rc < 0)
        return rc;
    const struct gptq_hess h = *hp;
    struct gptq_ud u = {.spec = spec, .h = &h, .rows = rows, .cols = cols};
    u.ng = spec->group < 0 ? 1 : qgrid_ngroups(cols, spec->group);
    u.dynamic = spec->group > 0 && spec->group < cols && !act_order;
    u.grid = malloc((size_t)rows * u.ng * sizeof *u.grid);
    float *work = malloc((size_t)rows * cols * sizeof *work);
    if (!u.grid || !work) {
        rc = qerr_set(err, QERR_NOMEM, "GPTQ: out of memory for a %d x %d layer", rows, cols);
        goto done;
    }
    gptq_permute_in(w, rows, cols, &h, work);
    if (!u.dynamic)
        static_grids(&u, w);
    struct gptq_hooks hk = {.ud = &u, .group = u.dynamic ? spec->group : 0,
                            .group_start = g_group_start, .quant_col = g_quant_col};
    rc = gptq_run(work, rows, cols, &h, &hk, (int)qi_opt(spec, "block"), plain, ctl, err);
    if (rc == 0) {
        gptq_permute_out(work, rows, cols, &h, out);
        rep->bits_per_weight = quant_grid_bpw(spec->bits, spec->group, spec->sym, rows, cols);
    }
done:
    free(u.grid);
    free(work);
    if (own)
        gptq_hess_free(&tmp);
    return rc;
}

int gptq_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
               const struct quant_calib *calib, float *out, struct quant_side *side,
               struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return gptq_common(spec, w, rows, cols, calib, out, rep, ctl, err, 0);
}

int gptq_apply_ref(const struct quant_spec *spec, const float *w, int rows, int cols,
                   const struct quant_calib *calib, float *out, struct quant_side *side,
                   struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return gptq_common(spec, w, rows, cols, calib, out, rep, ctl, err, 1);
}

static const struct quant_param gptq_params[] = {
    {"damp", "dampening added to diag(H), relative to its mean", 0.01, 0.0, 10.0, 0},
    {"act_order", "1: quantize columns in decreasing H_ii order (static groups)", 0, 0, 1, 1},
    {"block", "lazy-batch block width (columns)", 128, 1, 4096, 1},
};

const struct quantizer quant_gptq = {
    .name = "GPTQ",
    .summary = "column-by-column rounding with inverse-Hessian error feedback",
    .params = gptq_params,
    .n_params = 3,
    .needs_calib = QUANT_CALIB_HESSIAN,
    .def_bits = 4,
    .def_group = 128,
    .def_sym = 0,
    .apply = gptq_apply,
};
