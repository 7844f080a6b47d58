/* stats: descriptive statistics of float arrays (see stats.h).
 *
 * Fast path, exact and single-threaded, built to run near memory speed:
 *
 *   pass 1  one streaming pass in chunks of CHUNK floats.  Each chunk sums
 *           powers of d = x - c in double (c = the running mean, or 0 when
 *           the data sit within half a std of 0, so the sums stay well
 *           conditioned even for 1e4 + N(0,1)), turns them into central
 *           moments and merges them into the running total with the
 *           pairwise-update formulas of Chan/Pebay.  Every block of BLK
 *           floats leaves its min and max in a summary array, and while the
 *           chunk is in L1 the few values beyond 0.95 * 3 running std (or
 *           beyond abs_thresh) are copied out as candidates.
 *   pass 2  exact counts beyond mean +- 3 std, mean +- 6 std, +-abs_thresh
 *           (same double expression as the reference, so counts agree): from
 *           the candidates of each chunk whose candidate bounds were no
 *           wider than the final ones, else by re-reading only the blocks
 *           whose [min, max] can reach a threshold.
 *
 * A chunk holding NaN/Inf makes its double sums non-finite (finite floats
 * cannot overflow a double sum of CHUNK powers <= 4), which sends that
 * chunk through the scalar path that filters them.  stats_compute_ref is
 * the plain two-pass definition the tests hold the fast path to. */
#include "analysis/stats.h"
#include "analysis/stats_mom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define BLK 64          /* floats per min/max summary block               */
#define CHUNK 4096      /* floats per moment chunk (stays in L1 for redo) */
_Static_assert(CHUNK == STATS_SRC_MAX, "fetch ranges are chunks");
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

/* a <- a U b */
static void mom_merge(struct mom *a, const struct mom *b)
{
    stats_mom_merge(&a->n, &a->mean, &a->m2, &a->m3, &a->m4, b->n, b->mean, b->m2, b->m3,
                    b->m4);
}

/* Shifted power sums s[k] = sum (x-c)^k, k = 1..4, over cnt values ->
 * central moments. */
static struct mom mom_from_sums(double cnt, double c, const double s[5])
{
    double m[3];
    struct mom r = {0};
    if (cnt == 0)
        return r;
    r.n = cnt;
    r.mean = stats_mom_from_sums(cnt, c, s, m);
    r.m2 = m[0];
    r.m3 = m[1];
    r.m4 = m[2];
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
/* 8 floats -> 8 doubles, shifted by vc, powers added to S1..S4. */
#define ACC8(f, S1, S2, S3, S4)                              \
    do {                                                     \
        __m512d d_ = _mm512_cvtps_pd(f);                     \
        if (shifted)                                         \
            d_ = _mm512_sub_pd(d_, vc);                      \
        __m512d d2_ = _mm512_mul_pd(d_, d_);                 \
        S1 = _mm512_add_pd(S1, d_);                          \
        S2 = _mm512_add_pd(S2, d2_);                         \
        S3 = _mm512_fmadd_pd(d2_, d_, S3);                   \
        S4 = _mm512_fmadd_pd(d2_, d2_, S4);                  \
        /* keep GCC from parking d, d^2 on the stack */      \
        __asm__("" : "+v"(S1), "+v"(S2), "+v"(S3), "+v"(S4)); \
    } while (0)

/* One BLK-float block at p: min/max vectors and moment sums (two
 * accumulator sets, a and b, to halve the add-latency chains). */
#define BLK_VEC(p, mn, mx)                                                      \
    do {                                                                       \
        __m512 v0 = _mm512_loadu_ps(p), v1 = _mm512_loadu_ps((p) + 16);         \
        __m512 v2 = _mm512_loadu_ps((p) + 32), v3 = _mm512_loadu_ps((p) + 48);  \
        mn = _mm512_min_ps(_mm512_min_ps(v0, v1), _mm512_min_ps(v2, v3));       \
        mx = _mm512_max_ps(_mm512_max_ps(v0, v1), _mm512_max_ps(v2, v3));       \
        ACC8(_mm512_castps512_ps256(v0), a1, a2, a3, a4);                       \
        ACC8(_mm256_loadu_ps((p) + 8), b1, b2, b3, b4);                         \
        ACC8(_mm512_castps512_ps256(v1), a1, a2, a3, a4);                       \
        ACC8(_mm256_loadu_ps((p) + 24), b1, b2, b3, b4);                        \
        ACC8(_mm512_castps512_ps256(v2), a1, a2, a3, a4);                       \
        ACC8(_mm256_loadu_ps((p) + 40), b1, b2, b3, b4);                        \
        ACC8(_mm512_castps512_ps256(v3), a1, a2, a3, a4);                       \
        ACC8(_mm256_loadu_ps((p) + 56), b1, b2, b3, b4);                        \
    } while (0)

/* Min (or max) of each of four 16-lane vectors, stored as 4 floats, by a
 * transposing tree: 8 shuffles and 5 min for four blocks instead of four
 * separate horizontal reductions. */
#define REDUCE4(OP, m0, m1, m2, m3, dst)                                        \
    do {                                                                       \
        __m512 r01 = OP(_mm512_shuffle_f32x4(m0, m1, 0x44), _mm512_shuffle_f32x4(m0, m1, 0xEE)); \
        __m512 r23 = OP(_mm512_shuffle_f32x4(m2, m3, 0x44), _mm512_shuffle_f32x4(m2, m3, 0xEE)); \
        __m512 s_ = OP(_mm512_shuffle_f32x4(r01, r23, 0x88), _mm512_shuffle_f32x4(r01, r23, 0xDD)); \
        s_ = OP(s_, _mm512_permute_ps(s_, 0x4E));                              \
        s_ = OP(s_, _mm512_permute_ps(s_, 0xB1));                              \
        _mm_storeu_ps(dst, _mm512_castps512_ps128(_mm512_permutexvar_ps(pick, s_))); \
    } while (0)

/* Vector kernel: assumes nothing about finiteness; the caller checks the
 * sums and falls back to chunk_scalar when any value was NaN/Inf. */
static inline __attribute__((always_inline)) void
chunk_vec_impl(const float *x, size_t n, double c, double s[5], float *bmin, float *bmax,
               const int shifted)
{
    __m512d vc = _mm512_set1_pd(c);
    __m512d a1 = _mm512_setzero_pd(), a2 = a1, a3 = a1, a4 = a1;
    __m512d b1 = a1, b2 = a1, b3 = a1, b4 = a1;
    const __m512i pick = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    size_t quad = n / (4 * BLK) * (4 * BLK), full = n / BLK * BLK, b0 = 0;
    for (; b0 < quad; b0 += 4 * BLK) {
        __m512 n0, n1, n2, n3, x0, x1, x2, x3;
        BLK_VEC(x + b0, n0, x0);
        BLK_VEC(x + b0 + BLK, n1, x1);
        BLK_VEC(x + b0 + 2 * BLK, n2, x2);
        BLK_VEC(x + b0 + 3 * BLK, n3, x3);
        REDUCE4(_mm512_min_ps, n0, n1, n2, n3, bmin + b0 / BLK);
        REDUCE4(_mm512_max_ps, x0, x1, x2, x3, bmax + b0 / BLK);
    }
    for (; b0 < full; b0 += BLK) {
        __m512 mn, mx;
        BLK_VEC(x + b0, mn, mx);
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

/* c == 0 (data centred near 0, the usual weight tensor) skips the
 * subtraction: one vector op in seven. */
static void chunk_vec(const float *x, size_t n, double c, double s[5],
                      float *bmin, float *bmax)
{
    if (c == 0)
        chunk_vec_impl(x, n, 0, s, bmin, bmax, 0);
    else
        chunk_vec_impl(x, n, c, s, bmin, bmax, 1);
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

static void ref_strided(const float *x, size_t n, size_t stride, const struct stats_opts *o,
                        struct stats *out);

struct engine {
    const float *x;
    size_t n, stride;
    const struct stats_src *src; /* converts on demand when x is NULL     */
    float *buf;           /* (CHUNK) gathered chunk when stride != 1     */
    float *bmin, *bmax;   /* one summary per BLK floats                  */
    struct mom m;
    float mn, mx;         /* over finite values so far                   */
    uint64_t nonfinite;
    double abs_thresh;
    /* Candidates for pass 2 (large inputs only, ci != NULL): values of
     * chunk i beyond the bounds (u, l) set from the running mean/std,
     * copied out while the chunk is in L1.  If the final bounds turn out
     * no wider than (u, l), pass 2 counts these instead of re-reading. */
    struct cinfo { float u, l; size_t begin, end; int ok; } *ci;
    float *cand;
    size_t ncand, capcand, maxcand;
    int collecting;
};

/* Min and max of the block summaries bmin[0..nb), bmax[0..nb). */
static void fold(const float *bmin, const float *bmax, size_t nb, float *mn, float *mx)
{
    size_t b = 0;
    float lo = *mn, hi = *mx;
#if defined(__AVX512F__)
    __m512 vl = _mm512_set1_ps(lo), vh = _mm512_set1_ps(hi);
    for (; b + 16 <= nb; b += 16) {
        vl = _mm512_min_ps(vl, _mm512_loadu_ps(bmin + b));
        vh = _mm512_max_ps(vh, _mm512_loadu_ps(bmax + b));
    }
    lo = _mm512_reduce_min_ps(vl);
    hi = _mm512_reduce_max_ps(vh);
#endif
    for (; b < nb; b++) {
        lo = bmin[b] < lo ? bmin[b] : lo;
        hi = bmax[b] > hi ? bmax[b] : hi;
    }
    *mn = lo;
    *mx = hi;
}

static const float *eng_fetch(struct engine *e, size_t off, size_t len)
{
    if (e->src)
        return e->src->fetch(e->src->ud, off, len, e->buf);
    if (e->stride == 1)
        return e->x + off;
    const float *p = e->x + off * e->stride;
    for (size_t i = 0; i < len; i++)
        e->buf[i] = p[i * e->stride];
    return e->buf;
}

/* One chunk's moments with shift c; returns them, adds non-finite count. */
static struct mom chunk_moments(const float *p, size_t len,
                                double c, float *bmin, float *bmax, uint64_t *bad)
{
    double s[5];
    chunk_vec(p, len, c, s, bmin, bmax);
    *bad = 0;
    if (!isfinite(s[1]))
        *bad = chunk_scalar(p, len, c, s, bmin, bmax);
    return mom_from_sums(s[0], c, s);
}

/* Float bounds (U, L) such that a block needs counting only if its max
 * exceeds U or its min is below L.  Widened outward (by far more than the
 * rounding of x - mean in double, then two float ulps) so the test can
 * only over-select, never miss a value. */
static void flag_bounds(double mean, double t3, double ta, float *U, float *L)
{
    double mar = 1e-9 * (fabs(mean) + t3);
    double u = t3 > 0 ? mean + t3 - mar : INFINITY, l = t3 > 0 ? mean - t3 + mar : -INFINITY;
    if (ta >= 0) { /* NaN threshold: |x| > NaN never holds */
        u = fmin(u, ta);
        l = fmax(l, -ta);
    } else if (ta < 0) {
        u = -INFINITY; /* every finite value counts */
        l = INFINITY;
    }
    *U = nextafterf(nextafterf((float)u, -INFINITY), -INFINITY);
    *L = nextafterf(nextafterf((float)l, INFINITY), INFINITY);
}

/* Indices of the blocks in [b0, b1) to count, into list; returns how many. */
static int collect(const float *bmin, const float *bmax, size_t b0, size_t b1, float U,
                   float L, uint32_t *list)
{
    int k = 0;
    size_t b = b0;
#if defined(__AVX512F__)
    __m512 vu = _mm512_set1_ps(U), vl = _mm512_set1_ps(L);
    __m512i idx = _mm512_add_epi32(_mm512_set1_epi32((int)b0),
                                   _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    for (; b + 16 <= b1; b += 16) {
        __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(bmax + b), vu, _CMP_GT_OQ)
                      | _mm512_cmp_ps_mask(_mm512_loadu_ps(bmin + b), vl, _CMP_LT_OQ);
        /* compress in a register: the memory form is slow on Zen 4 */
        _mm512_storeu_si512(list + k, _mm512_maskz_compress_epi32(m, idx));
        k += __builtin_popcount(m);
        idx = _mm512_add_epi32(idx, _mm512_set1_epi32(16));
    }
#endif
    for (; b < b1; b++)
        if (bmax[b] > U || bmin[b] < L)
            list[k++] = (uint32_t)b;
    return k;
}

#define CAND_MARGIN 0.95 /* candidates beyond 0.95 * 3 running std */

static int cand_reserve(struct engine *e, size_t need)
{
    if (e->ncand + need <= e->capcand)
        return 0;
    if (e->ncand + need > e->maxcand)
        return -1;
    size_t cap = e->capcand * 2 > e->ncand + need ? e->capcand * 2 : e->ncand + need;
    cap = cap < e->maxcand ? cap : e->maxcand;
    float *p = realloc(e->cand, cap * sizeof *p);
    if (!p)
        return -1;
    e->cand = p;
    e->capcand = cap;
    return 0;
}

/* Values of one block beyond (U, L), appended to e->cand (room for BLK +
 * 16 reserved: the vector path stores whole vectors). */
static void cand_block(struct engine *e, const float *p, size_t len, float U, float L)
{
    float *dst = e->cand + e->ncand;
    size_t k = 0, i = 0;
#if defined(__AVX512F__)
    __m512 vu = _mm512_set1_ps(U), vl = _mm512_set1_ps(L);
    for (; i + 16 <= len; i += 16) {
        __m512 v = _mm512_loadu_ps(p + i);
        __mmask16 m = _mm512_cmp_ps_mask(v, vu, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, vl, _CMP_LT_OQ);
        /* unconditional store: a branch on m would mispredict */
        _mm512_storeu_ps(dst + k, _mm512_maskz_compress_ps(m, v));
        k += (size_t)__builtin_popcount(m);
    }
#endif
    for (; i < len; i++)
        if (p[i] > U || p[i] < L)
            dst[k++] = p[i];
    e->ncand += k;
}

static void eng_extract(struct engine *e, size_t off, size_t len, const float *p,
                        const float *bmin, const float *bmax)
{
    if (!e->ci)
        return;
    struct cinfo *ci = &e->ci[off / CHUNK];
    ci->ok = 0;
    if (!e->collecting || e->m.n == 0)
        return;
    float U, L;
    flag_bounds(e->m.mean, 3.0 * CAND_MARGIN * sqrt(e->m.m2 / e->m.n), e->abs_thresh, &U, &L);
    ci->begin = e->ncand;
    uint32_t list[CHUNK / BLK + 16];
    int k = collect(bmin, bmax, 0, (len + BLK - 1) / BLK, U, L, list);
    if (cand_reserve(e, (size_t)k * BLK + 16)) {
        e->collecting = 0; /* too many: this and later chunks re-read */
        return;
    }
    for (int i = 0; i < k; i++) {
        size_t b = list[i], bl = len - b * BLK < BLK ? len - b * BLK : BLK;
        cand_block(e, p + b * BLK, bl, U, L);
    }
    ci->end = e->ncand;
    ci->u = U;
    ci->l = L;
    ci->ok = 1;
}

static void eng_chunk(struct engine *e, size_t off, size_t len)
{
    const float *p = eng_fetch(e, off, len);
    float *bmin = e->bmin + off / BLK, *bmax = e->bmax + off / BLK;
    /* Shift by the running mean, or by 0 (cheaper, see chunk_vec) when
     * that is within half a std of 0: sums of powers of x - c lose about
     * (1 + |mean - c|/std)^4 ulps to cancellation, harmless up to a few
     * std.  The first chunk tries 0 as well. */
    double c = 0;
    if (e->m.n > 0 && e->m.mean * e->m.mean * e->m.n > 0.25 * e->m.m2)
        c = e->m.mean;
    uint64_t bad;
    struct mom cm = chunk_moments(p, len, c, bmin, bmax, &bad);
    /* The shift was far from this chunk's mean (first chunk, or the data
     * jumps): redo around the chunk's own mean, from L1, to keep m3/m4
     * free of cancellation. */
    double dm = cm.mean - c;
    if (cm.n > 0 && dm * dm * cm.n > 16.0 * cm.m2)
        cm = chunk_moments(p, len, cm.mean, bmin, bmax, &bad);
    e->nonfinite += bad;
    mom_merge(&e->m, &cm);
    fold(bmin, bmax, (len + BLK - 1) / BLK, &e->mn, &e->mx);
    eng_extract(e, off, len, p, bmin, bmax);
}

/* Threshold counts over one block, scalar: the reference's expression. */
static void count_scalar(const float *p, size_t len, double mean, const double t[3],
                         uint64_t c[3])
{
    for (size_t i = 0; i < len; i++) {
        if (!isfinite(p[i]))
            continue;
        double d = fabs((double)p[i] - mean);
        c[0] += d > t[0];
        c[1] += d > t[1];
        c[2] += fabs((double)p[i]) > t[2];
    }
}

#if defined(__AVX512F__)
/* The same counts, 8 doubles at a time; non-finite lanes masked out
 * (|x| < inf is false for NaN and Inf).  Counters stay in vectors. */
static void count_vec(const float *p, size_t len, double mean, const double t[3],
                      uint64_t c[3])
{
    size_t i = 0;
    __m512d vm = _mm512_set1_pd(mean), v3 = _mm512_set1_pd(t[0]);
    __m512d v6 = _mm512_set1_pd(t[1]), va = _mm512_set1_pd(t[2]);
    __m512i one = _mm512_set1_epi64(1), c3 = _mm512_setzero_si512(), c6 = c3, ca = c3;
    __m256 inf = _mm256_set1_ps(INFINITY);
    for (; i + 8 <= len; i += 8) {
        __m256 f = _mm256_loadu_ps(p + i);
        __m256 af = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), f);
        __mmask8 fin = (__mmask8)_mm256_movemask_ps(_mm256_cmp_ps(af, inf, _CMP_LT_OQ));
        __m512d x = _mm512_cvtps_pd(f);
        __m512d d = _mm512_abs_pd(_mm512_sub_pd(x, vm));
        c3 = _mm512_mask_add_epi64(c3, fin & _mm512_cmp_pd_mask(d, v3, _CMP_GT_OQ), c3, one);
        c6 = _mm512_mask_add_epi64(c6, fin & _mm512_cmp_pd_mask(d, v6, _CMP_GT_OQ), c6, one);
        ca = _mm512_mask_add_epi64(ca, fin & _mm512_cmp_pd_mask(_mm512_abs_pd(x), va, _CMP_GT_OQ),
                                   ca, one);
    }
    c[0] += (uint64_t)_mm512_reduce_add_epi64(c3);
    c[1] += (uint64_t)_mm512_reduce_add_epi64(c6);
    c[2] += (uint64_t)_mm512_reduce_add_epi64(ca);
    count_scalar(p + i, len - i, mean, t, c);
}
#else
#define count_vec count_scalar
#endif

#define PF_BLOCKS 8     /* pass 2 prefetches this many flagged blocks ahead */
#define SCAN 1024       /* summaries scanned per round of pass 2 */

/* Count blocks [b0, b1) whose summaries reach beyond (U, L).  Flagged
 * blocks are scattered, so they are prefetched a few ahead to overlap
 * their memory latency. */
static void count_blocks(struct engine *e, size_t b0, size_t b1, float U, float L,
                         double mean, const double t[3], uint64_t c[3])
{
    uint32_t list[SCAN + 16]; /* + 16: collect stores whole vectors */
    for (; b0 < b1; b0 += SCAN) {
        int k = collect(e->bmin, e->bmax, b0, b0 + SCAN < b1 ? b0 + SCAN : b1, U, L, list);
        for (int i = 0; i < k; i++) {
            if (e->x && e->stride == 1 && i + PF_BLOCKS < k) {
                const char *q = (const char *)(e->x + (size_t)list[i + PF_BLOCKS] * BLK);
                for (int l = 0; l < BLK * 4; l += 64)
                    __builtin_prefetch(q + l);
            }
            size_t off = (size_t)list[i] * BLK, len = e->n - off < BLK ? e->n - off : BLK;
            count_vec(eng_fetch(e, off, len), len, mean, t, c);
        }
    }
}

/* Pass 2: exact threshold counts.  A chunk whose candidate bounds are no
 * wider than the final ones has every value that can count among its
 * candidates; other chunks re-read their flagged blocks. */
static void eng_count(struct engine *e, struct stats *out)
{
    double mean = out->mean;
    double t[3] = {3.0 * out->std * (1 + STATS_KTOL), 6.0 * out->std * (1 + STATS_KTOL),
                   out->abs_thresh};
    uint64_t c[3] = {0, 0, 0};
    float U, L;
    flag_bounds(mean, t[0], t[2], &U, &L);
    size_t nb = (e->n + BLK - 1) / BLK, nch = (e->n + CHUNK - 1) / CHUNK;
    size_t bad0 = 0; /* first chunk of the current run of chunks to re-read */
    for (size_t i = 0; i <= nch; i++) {
        const struct cinfo *ci = e->ci && i < nch ? &e->ci[i] : NULL;
        int good = ci && ci->ok && ci->u <= U && ci->l >= L;
        if (!good && i < nch)
            continue;
        size_t b1 = i * (CHUNK / BLK) < nb ? i * (CHUNK / BLK) : nb;
        count_blocks(e, bad0 * (CHUNK / BLK), b1, U, L, mean, t, c);
        bad0 = i + 1;
        if (good)
            count_vec(e->cand + ci->begin, ci->end - ci->begin, mean, t, c);
    }
    out->n_k3 = c[0];
    out->n_k6 = c[1];
    out->n_abs = c[2];
}

static void eng_run(struct engine *e, const struct stats_opts *o, struct stats *out)
{
    memset(out, 0, sizeof *out);
    out->abs_thresh = opt_thresh(o);
    for (size_t off = 0; off < e->n; off += CHUNK)
        eng_chunk(e, off, e->n - off < CHUNK ? e->n - off : CHUNK);
    float mn = e->mn, mx = e->mx;
    out->n_nonfinite = e->nonfinite;
    out->n = (uint64_t)e->m.n;
    if (out->n == 0)
        return;
    out->min = mn;
    out->max = mx;
    out->mean = e->m.mean;
    stats_finish(out, e->m.m2, e->m.m3, e->m.m4);
    eng_count(e, out);
    stats_fractions(out);
}

/* Summaries, candidates and the gather buffer of e, then the run.
 * Returns -1 (nothing computed) when memory runs out. */
static int eng_alloc_run(struct engine *e, const struct stats_opts *o, struct stats *out)
{
    size_t n = e->n;
    float stack[2 * STACK_BLOCKS];
    size_t nb = (n + BLK - 1) / BLK;
    float *sum = nb <= STACK_BLOCKS ? stack : malloc(2 * nb * sizeof(float));
    int gather = e->stride != 1 || e->src;
    if (gather)
        e->buf = malloc(CHUNK * sizeof(float));
    if (!sum || (gather && !e->buf)) {
        free(e->buf);
        if (sum != stack)
            free(sum);
        return -1;
    }
    e->bmin = sum;
    e->bmax = sum + nb;
    e->mn = INFINITY;
    e->mx = -INFINITY;
    e->abs_thresh = opt_thresh(o);
    if (nb > STACK_BLOCKS) { /* small inputs stay in cache: re-reading is cheap */
        e->ci = malloc((n + CHUNK - 1) / CHUNK * sizeof *e->ci);
        e->maxcand = n / 32; /* normal data need 0.4%, Laplace 2% */
        e->collecting = e->ci && cand_reserve(e, n / 256 + BLK + 16) == 0;
    }
    eng_run(e, o, out);
    free(e->ci);
    free(e->cand);
    free(e->buf);
    if (sum != stack)
        free(sum);
    return 0;
}

void stats_compute_strided(const float *x, size_t n, size_t stride,
                           const struct stats_opts *o, struct stats *out)
{
    struct engine e = {.x = x, .n = n, .stride = stride ? stride : 1};
    /* Out of memory: the reference needs none and is exact. */
    if (eng_alloc_run(&e, o, out))
        ref_strided(x, n, e.stride, o, out);
}

int stats_compute_src(const struct stats_src *src, size_t n, const struct stats_opts *o,
                      struct stats *out)
{
    struct engine e = {.n = n, .stride = 1, .src = src};
    memset(out, 0, sizeof *out);
    return eng_alloc_run(&e, o, out);
}

void stats_compute(const float *x, size_t n, const struct stats_opts *o,
                   struct stats *out)
{
    stats_compute_strided(x, n, 1, o, out);
}

/* ---- reference: the definitions, plainly ---- */

static void ref_strided(const float *x, size_t n, size_t stride, const struct stats_opts *o,
                        struct stats *out)
{
    memset(out, 0, sizeof *out);
    out->abs_thresh = opt_thresh(o);
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i * stride])) {
            out->n_nonfinite++;
            continue;
        }
        out->n++;
        sum += x[i * stride];
        mn = x[i * stride] < mn ? x[i * stride] : mn;
        mx = x[i * stride] > mx ? x[i * stride] : mx;
    }
    if (out->n == 0)
        return;
    out->min = mn;
    out->max = mx;
    out->mean = sum / (double)out->n;
    double m2 = 0, m3 = 0, m4 = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i * stride]))
            continue;
        double d = (double)x[i * stride] - out->mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    stats_finish(out, m2, m3, m4);
    double t3 = 3.0 * out->std * (1 + STATS_KTOL);
    double t6 = 6.0 * out->std * (1 + STATS_KTOL);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i * stride]))
            continue;
        double d = fabs((double)x[i * stride] - out->mean);
        out->n_k3 += d > t3;
        out->n_k6 += d > t6;
        out->n_abs += fabs((double)x[i * stride]) > out->abs_thresh;
    }
    stats_fractions(out);
}

void stats_compute_ref(const float *x, size_t n, const struct stats_opts *o,
                       struct stats *out)
{
    ref_strided(x, n, 1, o, out);
}
