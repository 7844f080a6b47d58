/* stats: descriptive statistics of float arrays (see stats.h).
 *
 * Fast path, exact and single-threaded, built to run near memory speed:
 *
 *   pass 1  one streaming pass in chunks of CHUNK floats.  Each chunk sums
 *           powers of d = x - c in double (c = the running mean, so the sums
 *           stay well conditioned even for 1e4 + N(0,1)), turns them into
 *           central moments and merges them into the running total with the
 *           pairwise-update formulas of Chan/Pebay.  Alongside, every block
 *           of BLK floats leaves its min and max in a small summary array.
 *   pass 2  only blocks whose [min, max] can reach beyond mean +- 3 std,
 *           mean +- 6 std or +-abs_thresh are read again and counted exactly
 *           (same double expression as the reference, so counts agree).
 *
 * A chunk holding NaN/Inf makes its double sums non-finite (finite floats
 * cannot overflow a double sum of CHUNK powers <= 4), which sends that
 * chunk through the scalar path that filters them.  stats_compute_ref is
 * the plain two-pass definition the tests hold the fast path to. */
#include "analysis/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define BLK 64          /* floats per min/max summary block               */
#define CHUNK 4096      /* floats per moment chunk (stays in L1 for redo) */
#define STACK_BLOCKS 1024 /* summaries kept on the stack (n <= 64K floats) */

void stats_opts_default(struct stats_opts *o)
{
    o->abs_thresh = 6.0;
}

static double opt_thresh(const struct stats_opts *o)
{
    return o ? o->abs_thresh : 6.0;
}

/* ---- central-moment accumulator ---- */

/* n values with mean `mean` and m_k = sum (x - mean)^k (not divided). */
struct mom {
    double n, mean, m2, m3, m4;
};

/* a <- a U b (Chan et al. 1979; Pebay 2008 for m3, m4). */
static void mom_merge(struct mom *a, const struct mom *b)
{
    if (b->n == 0)
        return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    double na = a->n, nb = b->n, n = na + nb;
    double d = b->mean - a->mean, dn = d / n, dn2 = dn * dn;
    double m2 = a->m2 + b->m2 + d * dn * na * nb;
    double m3 = a->m3 + b->m3 + d * dn2 * na * nb * (na - nb)
                + 3.0 * dn * (na * b->m2 - nb * a->m2);
    double m4 = a->m4 + b->m4 + d * dn2 * dn * na * nb * (na * na - na * nb + nb * nb)
                + 6.0 * dn2 * (na * na * b->m2 + nb * nb * a->m2)
                + 4.0 * dn * (na * b->m3 - nb * a->m3);
    a->n = n;
    a->mean += dn * nb;
    a->m2 = m2;
    a->m3 = m3;
    a->m4 = m4;
}

/* Shifted power sums s[k] = sum (x-c)^k, k = 1..4, over cnt values ->
 * central moments. */
static struct mom mom_from_sums(double cnt, double c, const double s[5])
{
    struct mom r = {0};
    if (cnt == 0)
        return r;
    double m = s[1] / cnt;
    r.n = cnt;
    r.mean = c + m;
    r.m2 = s[2] - s[1] * m;
    if (r.m2 < 0)
        r.m2 = 0;
    r.m3 = s[3] - 3.0 * m * s[2] + 2.0 * m * m * s[1];
    r.m4 = s[4] - 4.0 * m * s[3] + 6.0 * m * m * s[2] - 3.0 * m * m * m * s[1];
    if (r.m4 < 0)
        r.m4 = 0;
    return r;
}

/* ---- pass 1 kernels over one chunk ---- */

/* Scalar, NaN/Inf-aware: s[0] = count of finite values, s[1..4] power
 * sums of x - c; block min/max over finite values (min > max when a block
 * has none).  Returns the number of non-finite values. */
static uint64_t chunk_scalar(const float *x, size_t n, double c, double s[5],
                             float *bmin, float *bmax)
{
    uint64_t bad = 0;
    s[0] = s[1] = s[2] = s[3] = s[4] = 0;
    for (size_t b0 = 0; b0 < n; b0 += BLK) {
        size_t e = b0 + BLK < n ? b0 + BLK : n;
        float mn = INFINITY, mx = -INFINITY;
        for (size_t i = b0; i < e; i++) {
            if (!isfinite(x[i])) {
                bad++;
                continue;
            }
            double d = (double)x[i] - c, d2 = d * d;
            s[0] += 1;
            s[1] += d;
            s[2] += d2;
            s[3] += d2 * d;
            s[4] += d2 * d2;
            mn = x[i] < mn ? x[i] : mn;
            mx = x[i] > mx ? x[i] : mx;
        }
        bmin[b0 / BLK] = mn;
        bmax[b0 / BLK] = mx;
    }
    return bad;
}

#if defined(__AVX512F__)
/* 16 floats -> two halves of 8 doubles, shifted and accumulated. */
#define ACC8(dv, S1, S2, S3, S4)                                   \
    do {                                                           \
        __m512d d_ = _mm512_sub_pd(dv, vc);                        \
        __m512d d2_ = _mm512_mul_pd(d_, d_);                       \
        S1 = _mm512_add_pd(S1, d_);                                \
        S2 = _mm512_add_pd(S2, d2_);                               \
        S3 = _mm512_fmadd_pd(d2_, d_, S3);                         \
        S4 = _mm512_fmadd_pd(d2_, d2_, S4);                        \
    } while (0)

/* Vector kernel: assumes nothing about finiteness; the caller checks the
 * sums and falls back to chunk_scalar when any value was NaN/Inf. */
static void chunk_vec(const float *x, size_t n, double c, double s[5],
                      float *bmin, float *bmax)
{
    __m512d vc = _mm512_set1_pd(c);
    __m512d a1 = _mm512_setzero_pd(), a2 = a1, a3 = a1, a4 = a1;
    __m512d b1 = a1, b2 = a1, b3 = a1, b4 = a1;
    size_t full = n / BLK * BLK;
    for (size_t b0 = 0; b0 < full; b0 += BLK) {
        const float *p = x + b0;
        __m512 v0 = _mm512_loadu_ps(p), v1 = _mm512_loadu_ps(p + 16);
        __m512 v2 = _mm512_loadu_ps(p + 32), v3 = _mm512_loadu_ps(p + 48);
        __m512 mn = _mm512_min_ps(_mm512_min_ps(v0, v1), _mm512_min_ps(v2, v3));
        __m512 mx = _mm512_max_ps(_mm512_max_ps(v0, v1), _mm512_max_ps(v2, v3));
        ACC8(_mm512_cvtps_pd(_mm512_castps512_ps256(v0)), a1, a2, a3, a4);
        ACC8(_mm512_cvtps_pd(_mm256_loadu_ps(p + 8)), b1, b2, b3, b4);
        ACC8(_mm512_cvtps_pd(_mm512_castps512_ps256(v1)), a1, a2, a3, a4);
        ACC8(_mm512_cvtps_pd(_mm256_loadu_ps(p + 24)), b1, b2, b3, b4);
        ACC8(_mm512_cvtps_pd(_mm512_castps512_ps256(v2)), a1, a2, a3, a4);
        ACC8(_mm512_cvtps_pd(_mm256_loadu_ps(p + 40)), b1, b2, b3, b4);
        ACC8(_mm512_cvtps_pd(_mm512_castps512_ps256(v3)), a1, a2, a3, a4);
        ACC8(_mm512_cvtps_pd(_mm256_loadu_ps(p + 56)), b1, b2, b3, b4);
        bmin[b0 / BLK] = _mm512_reduce_min_ps(mn);
        bmax[b0 / BLK] = _mm512_reduce_max_ps(mx);
    }
    s[0] = (double)full;
    s[1] = _mm512_reduce_add_pd(_mm512_add_pd(a1, b1));
    s[2] = _mm512_reduce_add_pd(_mm512_add_pd(a2, b2));
    s[3] = _mm512_reduce_add_pd(_mm512_add_pd(a3, b3));
    s[4] = _mm512_reduce_add_pd(_mm512_add_pd(a4, b4));
    if (full < n) {
        double t[5];
        uint64_t bad = chunk_scalar(x + full, n - full, c, t, bmin + full / BLK,
                                    bmax + full / BLK);
        for (int k = 1; k < 5; k++)
            s[k] += t[k];
        s[0] += t[0];
        if (bad)
            s[1] = NAN; /* make the caller take the scalar path */
    }
}
#else
/* Portable build: the scalar kernel (non-finite values make the sums NaN
 * only through chunk_scalar's filter, so signal them explicitly). */
static void chunk_vec(const float *x, size_t n, double c, double s[5],
                      float *bmin, float *bmax)
{
    if (chunk_scalar(x, n, c, s, bmin, bmax))
        s[1] = NAN;
}
#endif

/* ---- the engine (contiguous or strided input) ---- */

struct engine {
    const float *x;
    size_t n, stride;
    float buf[CHUNK];     /* gathered chunk when stride != 1             */
    float *bmin, *bmax;   /* one summary per BLK floats                  */
    struct mom m;
    uint64_t nonfinite;
};

static const float *eng_fetch(struct engine *e, size_t off, size_t len)
{
    if (e->stride == 1)
        return e->x + off;
    const float *p = e->x + off * e->stride;
    for (size_t i = 0; i < len; i++)
        e->buf[i] = p[i * e->stride];
    return e->buf;
}

static double first_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            return x[i];
    return 0;
}

/* One chunk's moments with shift c; returns them, adds non-finite count. */
static struct mom chunk_moments(struct engine *e, const float *p, size_t len,
                                double c, float *bmin, float *bmax, uint64_t *bad)
{
    double s[5];
    chunk_vec(p, len, c, s, bmin, bmax);
    *bad = 0;
    if (!isfinite(s[1]))
        *bad = chunk_scalar(p, len, c, s, bmin, bmax);
    return mom_from_sums(s[0], c, s);
}

static void eng_chunk(struct engine *e, size_t off, size_t len)
{
    const float *p = eng_fetch(e, off, len);
    float *bmin = e->bmin + off / BLK, *bmax = e->bmax + off / BLK;
    double c = e->m.n > 0 ? e->m.mean : first_finite(p, len);
    uint64_t bad;
    struct mom cm = chunk_moments(e, p, len, c, bmin, bmax, &bad);
    /* The shift was far from this chunk's mean (first chunk, or the data
     * jumps): redo around the chunk's own mean, from L1, to keep m3/m4
     * free of cancellation. */
    double dm = cm.mean - c;
    if (cm.n > 0 && dm * dm * cm.n > 64.0 * cm.m2)
        cm = chunk_moments(e, p, len, cm.mean, bmin, bmax, &bad);
    e->nonfinite += bad;
    mom_merge(&e->m, &cm);
}

/* Blocks that may hold a value beyond a threshold, counted exactly. */
static void eng_count(struct engine *e, struct stats *out)
{
    double mean = out->mean, t3 = 3.0 * out->std * (1 + STATS_KTOL);
    double t6 = 6.0 * out->std * (1 + STATS_KTOL);
    double ta = out->abs_thresh;
    size_t nb = (e->n + BLK - 1) / BLK;
    for (size_t b = 0; b < nb; b++) {
        double lo = e->bmin[b], hi = e->bmax[b];
        if (!(lo <= hi))
            continue; /* no finite value in this block */
        double amax = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
        if (!(hi - mean > t3 || mean - lo > t3 || amax > ta))
            continue;
        size_t off = b * BLK, len = e->n - off < BLK ? e->n - off : BLK;
        const float *p = eng_fetch(e, off, len);
        for (size_t i = 0; i < len; i++) {
            if (!isfinite(p[i]))
                continue;
            double d = fabs((double)p[i] - mean);
            out->n_k3 += d > t3;
            out->n_k6 += d > t6;
            out->n_abs += fabs((double)p[i]) > ta;
        }
    }
}

/* Fill the derived fields from n, mean, m2..m4, min, max. */
static void finish(struct stats *s, double m2, double m3, double m4)
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

static void fractions(struct stats *s)
{
    double n = (double)s->n;
    s->frac_k3 = n > 0 ? (double)s->n_k3 / n : 0;
    s->frac_k6 = n > 0 ? (double)s->n_k6 / n : 0;
    s->frac_abs = n > 0 ? (double)s->n_abs / n : 0;
}

static void eng_run(struct engine *e, const struct stats_opts *o, struct stats *out)
{
    memset(out, 0, sizeof *out);
    out->abs_thresh = opt_thresh(o);
    for (size_t off = 0; off < e->n; off += CHUNK)
        eng_chunk(e, off, e->n - off < CHUNK ? e->n - off : CHUNK);
    size_t nb = (e->n + BLK - 1) / BLK;
    float mn = INFINITY, mx = -INFINITY;
    for (size_t b = 0; b < nb; b++) {
        mn = e->bmin[b] < mn ? e->bmin[b] : mn;
        mx = e->bmax[b] > mx ? e->bmax[b] : mx;
    }
    out->n_nonfinite = e->nonfinite;
    out->n = (uint64_t)e->m.n;
    if (out->n == 0)
        return;
    out->min = mn;
    out->max = mx;
    out->mean = e->m.mean;
    finish(out, e->m.m2, e->m.m3, e->m.m4);
    eng_count(e, out);
    fractions(out);
}

void stats_compute_strided(const float *x, size_t n, size_t stride,
                           const struct stats_opts *o, struct stats *out)
{
    struct engine *e = malloc(sizeof *e);
    float stack[2 * STACK_BLOCKS];
    size_t nb = (n + BLK - 1) / BLK;
    float *sum = nb <= STACK_BLOCKS ? stack : malloc(2 * nb * sizeof(float));
    if (!e || !sum) {
        /* Out of memory: the reference needs none and is exact. */
        free(e);
        if (sum != stack)
            free(sum);
        if (stride == 1) {
            stats_compute_ref(x, n, o, out);
            return;
        }
        memset(out, 0, sizeof *out);
        out->abs_thresh = opt_thresh(o);
        return;
    }
    e->x = x;
    e->n = n;
    e->stride = stride ? stride : 1;
    e->bmin = sum;
    e->bmax = sum + nb;
    e->m = (struct mom){0};
    e->nonfinite = 0;
    eng_run(e, o, out);
    if (sum != stack)
        free(sum);
    free(e);
}

void stats_compute(const float *x, size_t n, const struct stats_opts *o,
                   struct stats *out)
{
    stats_compute_strided(x, n, 1, o, out);
}

/* ---- reference: the definitions, plainly ---- */

void stats_compute_ref(const float *x, size_t n, const struct stats_opts *o,
                       struct stats *out)
{
    memset(out, 0, sizeof *out);
    out->abs_thresh = opt_thresh(o);
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            out->n_nonfinite++;
            continue;
        }
        out->n++;
        sum += x[i];
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    if (out->n == 0)
        return;
    out->min = mn;
    out->max = mx;
    out->mean = sum / (double)out->n;
    double m2 = 0, m3 = 0, m4 = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        double d = (double)x[i] - out->mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    finish(out, m2, m3, m4);
    double t3 = 3.0 * out->std * (1 + STATS_KTOL);
    double t6 = 6.0 * out->std * (1 + STATS_KTOL);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        double d = fabs((double)x[i] - out->mean);
        out->n_k3 += d > t3;
        out->n_k6 += d > t6;
        out->n_abs += fabs((double)x[i]) > out->abs_thresh;
    }
    fractions(out);
}
