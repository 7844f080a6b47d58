/* bench_quant: time to quantize one linear layer, per method, beside a
 * baseline measured in the same run: one sgemm of the layer over the
 * calibration tokens, (rows, cols) x (cols, 2048) -- the cost of pushing
 * the calibration set through the layer once.  Reported as milliseconds
 * and as the ratio method / baseline.  Median of REPS runs.
 *
 * Layers: 768x768 (attention in a 110M Llama), 2048x768 (ffn_gate/up),
 * 768x2048 (ffn_down); weights N(0, 0.02²); the Hessian XᵀX from 2048
 * synthetic tokens with correlated channels (8 latent factors, ρ = 0.8,
 * channel magnitudes exp(0.5 N(0,1))).
 *
 * Interactive targets (issue 4): RTN < 5 ms and GPTQ < 200 ms at 768x768.
 * quant_apply also computes the report's layer-output error from xtx
 * (two (rows, cols) x (cols, cols) products); the "+report" columns
 * include it, the plain columns call the method alone. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant/quant.h"
#include "bench/bench.h"

#define REPS 5
#define NTOK 2048

static unsigned long long rng = 0x9E3779B97F4A7C15ULL;
static double unif(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void)
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

struct layer {
    int rows, cols;
    float *w, *x, *out, *mean_abs, *max_abs;   /* x: (NTOK, cols) */
    double *xtx;
    struct quant_calib calib;
};

static void make_layer(struct layer *L, int rows, int cols)
{
    enum { K = 8 };
    L->rows = rows, L->cols = cols;
    L->w = malloc((size_t)rows * cols * sizeof *L->w);
    L->out = malloc((size_t)rows * cols * sizeof *L->out);
    L->x = malloc((size_t)NTOK * cols * sizeof *L->x);
    L->mean_abs = calloc(cols, sizeof *L->mean_abs);
    L->max_abs = calloc(cols, sizeof *L->max_abs);
    L->xtx = malloc((size_t)cols * cols * sizeof *L->xtx);
    for (long i = 0; i < (long)rows * cols; i++)
        L->w[i] = (float)(0.02 * gauss());
    float *f = malloc(K * cols * sizeof *f), *s = malloc(cols * sizeof *s);
    for (int i = 0; i < K * cols; i++)
        f[i] = (float)(gauss() / sqrt(K));
    for (int j = 0; j < cols; j++)
        s[j] = (float)exp(0.5 * gauss());
    for (long t = 0; t < NTOK; t++) {
        double ft[K];
        for (int k = 0; k < K; k++)
            ft[k] = gauss();
        for (int j = 0; j < cols; j++) {
            double v = 0;
            for (int k = 0; k < K; k++)
                v += ft[k] * f[k * cols + j];
            float x = (float)(s[j] * (0.8 * v + 0.6 * gauss()));
            L->x[t * cols + j] = x;
            L->mean_abs[j] += fabsf(x) / NTOK;
            L->max_abs[j] = fmaxf(L->max_abs[j], fabsf(x));
        }
    }
    float *h = malloc((size_t)cols * cols * sizeof *h);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, cols, NTOK, 1.0f, L->x, cols, 0.0f, h,
                cols);
    for (long i = 0; i < cols; i++)
        for (long j = 0; j < cols; j++)
            L->xtx[i * cols + j] = j >= i ? h[i * cols + j] : h[j * cols + i];
    L->calib = (struct quant_calib){.xtx = L->xtx, .n_tokens = NTOK, .act_mean_abs = L->mean_abs,
                                    .act_max_abs = L->max_abs, .x = L->x, .n_x = NTOK};
    free(f), free(s), free(h);
}

static void free_layer(struct layer *L)
{
    free(L->w), free(L->out), free(L->x), free(L->mean_abs), free(L->max_abs), free(L->xtx);
}

static double baseline_once(struct layer *L, float *y)
{
    double t0 = bench_wall();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->rows, NTOK, L->cols, 1.0f, L->w,
                L->cols, L->x, L->cols, 0.0f, y, NTOK);
    return bench_wall() - t0;
}

/* mode 0: the method's apply alone; 1: quant_apply with the report. */
static double method_once(struct layer *L, const struct quant_spec *s, int mode,
                          struct quant_report *rep)
{
    struct qerr e = {0};
    struct quant_report mr;
    double t0 = bench_wall();
    int rc = mode ? quant_apply(s, L->w, L->rows, L->cols, &L->calib, L->out, NULL, rep, NULL, &e)
                  : s->method->apply(s, L->w, L->rows, L->cols, &L->calib, L->out, NULL, &mr,
                                     NULL, &e);
    double t = bench_wall() - t0;
    if (rc < 0) {
        fprintf(stderr, "bench_quant: %s\n", e.msg);
        exit(1);
    }
    return t;
}

/* Interleave baseline and method so both see the same machine state. */
static void measure(struct layer *L, const struct quant_spec *s, double med[3],
                    struct quant_report *rep)
{
    double tb[REPS], tm[REPS], tr[REPS];
    float *y = malloc((size_t)L->rows * NTOK * sizeof *y);
    for (int r = 0; r < REPS; r++) {
        tb[r] = baseline_once(L, y);
        tm[r] = method_once(L, s, 0, rep);
        tr[r] = method_once(L, s, 1, rep);
    }
    free(y);
    bench_sort(tb, REPS);
    bench_sort(tm, REPS);
    bench_sort(tr, REPS);
    med[0] = tb[REPS / 2], med[1] = tm[REPS / 2], med[2] = tr[REPS / 2];
}

static void row(struct layer *L, const char *method, int bits, int group, const char *opts)
{
    struct quant_spec s;
    struct qerr e = {0};
    if (quant_spec_parse(&s, method, bits, group, -1, opts, &e) < 0) {
        fprintf(stderr, "bench_quant: %s\n", e.msg);
        exit(1);
    }
    double med[3];
    struct quant_report rep;
    measure(L, &s, med, &rep);
    char name[96];
    quant_spec_format(&s, name, sizeof name);
    name[40] = '\0';
    printf("%5dx%-5d %-40s %9.2f %9.2f %8.2f %8.2f   %.4f\n", L->rows, L->cols, name,
           med[1] * 1e3, med[2] * 1e3, med[1] / med[0], med[2] / med[0], rep.out_err);
}

int main(int argc, char **argv)
{
    int all = argc > 1 && !strcmp(argv[1], "--all");
    int shapes[3][2] = {{768, 768}, {2048, 768}, {768, 2048}};
    printf("bench_quant: one layer, median of %d; baseline = sgemm (rows,cols)x(cols,%d)\n",
           REPS, NTOK);
    printf("%-11s %-40s %9s %9s %8s %8s   %s\n", "layer", "spec", "ms", "ms+rep", "x base",
           "x+rep", "out_err");
    for (int k = 0; k < 3; k++) {
        struct layer L;
        make_layer(&L, shapes[k][0], shapes[k][1]);
        struct quant_report rep;
        double med[3];
        struct quant_spec s;
        quant_spec_parse(&s, "rtn", 4, 128, 0, NULL, NULL);
        measure(&L, &s, med, &rep);
        printf("%5dx%-5d %-40s %9.2f\n", L.rows, L.cols, "baseline sgemm", med[0] * 1e3);
        row(&L, "rtn", 4, 128, NULL);
        row(&L, "gptq", 4, 128, NULL);
        row(&L, "gptq", 4, 128, "act_order=1");
        if (k == 0 || all) {
            row(&L, "awq", 4, 128, NULL);
            row(&L, "spqr", 3, 16, NULL);
            row(&L, "llm.int8", 8, 0, NULL);
            row(&L, "smoothquant", 8, 0, NULL);
        }
        free_layer(&L);
    }
    return 0;
}
