/* bench_ggml: llama.cpp's types in qlens, as ratios within one run.
 *
 * (a) Decoding for statistics: every type's to_float over a 64 Mi-element
 *     tensor, one 16 Ki-element chunk at a time into a cache-resident
 *     buffer that is then summed (what a streaming statistics pass does),
 *     against a plain read of the same number of floats from memory (a
 *     64 Mi-float array summed with four vector accumulators).  Reported as
 *     G elements/s and decode / read (target >= 0.5).
 * (b) Quantizing a 4096 x 4096 matrix to q4_K: the fast path (the
 *     reference recipe on rows split over 2 threads) against the plain
 *     single-threaded reference, wall clock; ratio fast / reference (target
 *     <= 2, i.e. "within 2x"), and the bytes are checked equal.
 * Medians of REPS repetitions, the measurements interleaved. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "bench/bench.h"
#include "quant/ggml_types.h"

#define REPS 5
#define N_ELEM (64L << 20)
#define CHUNK (16L << 10)

static volatile float sink;

static float plain_sum(const float *x, size_t n)
{
    size_t i = 0;
    float s = 0;
#if defined(__AVX512F__)
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    for (; i + 64 <= n; i += 64) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(x + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(x + i + 16));
        c = _mm512_add_ps(c, _mm512_loadu_ps(x + i + 32));
        d = _mm512_add_ps(d, _mm512_loadu_ps(x + i + 48));
    }
    s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
#else
    float a[16] = {0};
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++)
            a[k] += x[i + k];
    for (int k = 0; k < 16; k++)
        s += a[k];
#endif
    for (; i < n; i++)
        s += x[i];
    return s;
}

static double time_plain(const float *x)
{
    double t0 = bench_thread_cpu();
    sink = plain_sum(x, (size_t)N_ELEM);
    return bench_thread_cpu() - t0;
}

static double time_decode(const struct ggt_traits *t, const uint8_t *q, float *buf)
{
    const size_t chunk_bytes = (size_t)(CHUNK / t->blck_size) * (size_t)t->type_size;
    float s = 0;
    double t0 = bench_thread_cpu();
    for (long i = 0; i < N_ELEM / CHUNK; i++) {
        t->to_float(q + (size_t)i * chunk_bytes, buf, CHUNK);
        s += plain_sum(buf, (size_t)CHUNK);
    }
    sink = s;
    return bench_thread_cpu() - t0;
}

static void bench_decode(void)
{
    float *x = malloc((size_t)N_ELEM * sizeof *x), *buf = malloc((size_t)CHUNK * sizeof *buf);
    uint8_t *q = malloc((size_t)N_ELEM * 4);
    if (!x || !buf || !q) {
        printf("bench_ggml: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < N_ELEM; i++) /* a cheap deterministic spread */
        x[i] = (float)((i * 2654435761u) % 2001) * 1e-5f - 0.01f;
    printf("(a) decode %ld Mi elements in %ld Ki chunks, summed; baseline: sum of %ld Mi floats\n",
           N_ELEM >> 20, CHUNK >> 10, N_ELEM >> 20);
    printf("%-8s %10s %10s %14s\n", "type", "G elem/s", "read G/s", "decode/read");
    int n;
    const struct ggt_traits *all = ggt_all(&n);
    for (int k = 0; k < n; k++) {
        const struct ggt_traits *t = &all[k];
        if (t->id == GGT_F32)
            continue;
        /* quantize once (row length 4096; the fast path) */
        if (ggt_quantize(t->id, x, q, N_ELEM / 4096, 4096, NULL, NULL)) {
            printf("%-8s quantize failed\n", t->name);
            continue;
        }
        double tp[REPS], td[REPS];
        for (int r = 0; r < REPS; r++) {
            tp[r] = time_plain(x);
            td[r] = time_decode(t, q, buf);
        }
        double p = bench_median(tp, REPS), d = bench_median(td, REPS);
        printf("%-8s %10.2f %10.2f %14.2f\n", t->name, N_ELEM / d * 1e-9, N_ELEM / p * 1e-9, p / d);
    }
    free(x), free(buf), free(q);
}

static void bench_quant_q4k(void)
{
    const int R = 4096, C = 4096;
    float *w = malloc((size_t)R * C * sizeof *w);
    size_t bytes = (size_t)R * ggt_row_size(GGT_Q4_K, C);
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    for (long i = 0; i < (long)R * C; i++)
        w[i] = (float)(((i * 2654435761u) % 2001) * 1e-5 - 0.01);
    const struct ggt_traits *t = ggt_traits(GGT_Q4_K);
    double tf[3], tr[3];
    for (int r = 0; r < 3; r++) {
        double t0 = bench_wall();
        t->quantize(w, a, R, C, NULL);
        tf[r] = bench_wall() - t0;
        t0 = bench_wall();
        t->quantize_ref(w, b, R, C, NULL);
        tr[r] = bench_wall() - t0;
    }
    double f = bench_median(tf, 3), ref = bench_median(tr, 3);
    printf("\n(b) q4_K quantize of %dx%d: fast %.3f s, reference %.3f s, fast/reference %.2f "
           "(target <= 2), bytes %s\n", R, C, f, ref, f / ref, memcmp(a, b, bytes) ? "DIFFER" : "equal");
    free(w), free(a), free(b);
}

int main(void)
{
    bench_decode();
    bench_quant_q4k();
    return 0;
}
