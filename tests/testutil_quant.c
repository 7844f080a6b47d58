#include "tests/testutil_quant.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

float *tq_matrix(int rows, int cols, double sd)
{
    float *w = malloc((size_t)rows * cols * sizeof *w);
    for (long i = 0; i < (long)rows * cols; i++)
        w[i] = (float)(sd * tu_normal());
    return w;
}

void tq_calib_make(struct tq_calib *t, int cols, int n, double rho, int n_big, double big)
{
    enum { K = 8 };
    memset(t, 0, sizeof *t);
    t->cols = cols, t->n = n;
    double *f = malloc((size_t)K * cols * sizeof *f), *s = malloc(cols * sizeof *s);
    for (int i = 0; i < K * cols; i++)
        f[i] = tu_normal() / sqrt(K);
    for (int j = 0; j < cols; j++)
        s[j] = exp(0.5 * tu_normal()) * (j < n_big ? big : 1.0);
    t->x = malloc((size_t)n * cols * sizeof *t->x);
    double nz = sqrt(1 - rho * rho);
    for (long i = 0; i < n; i++) {
        double ft[K];
        for (int k = 0; k < K; k++)
            ft[k] = tu_normal();
        for (int j = 0; j < cols; j++) {
            double v = 0;
            for (int k = 0; k < K; k++)
                v += ft[k] * f[k * cols + j];
            t->x[i * cols + j] = (float)(s[j] * (rho * v + nz * tu_normal()));
        }
    }
    double *xd = malloc((size_t)n * cols * sizeof *xd);
    for (long i = 0; i < (long)n * cols; i++)
        xd[i] = t->x[i];
    t->xtx = calloc((size_t)cols * cols, sizeof *t->xtx);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, cols, n, 1.0, xd, cols, xd, cols,
                0.0, t->xtx, cols);
    t->mean_abs = calloc(cols, sizeof *t->mean_abs);
    t->max_abs = calloc(cols, sizeof *t->max_abs);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < cols; j++) {
            float a = fabsf(t->x[i * cols + j]);
            t->mean_abs[j] += a / n;
            t->max_abs[j] = a > t->max_abs[j] ? a : t->max_abs[j];
        }
    t->c = (struct quant_calib){.xtx = t->xtx, .n_tokens = n, .act_mean_abs = t->mean_abs,
                                .act_max_abs = t->max_abs, .x = t->x, .n_x = n};
    free(xd), free(f), free(s);
}

void tq_calib_free(struct tq_calib *t)
{
    free(t->xtx), free(t->x), free(t->mean_abs), free(t->max_abs);
    memset(t, 0, sizeof *t);
}

double tq_out_err(const float *w, const float *wq, int rows, int cols, const float *x, int n)
{
    double num = 0, den = 0;
    for (long t = 0; t < n; t++)
        for (long r = 0; r < rows; r++) {
            double y = 0, yq = 0;
            for (long c = 0; c < cols; c++) {
                y += (double)w[r * cols + c] * x[t * cols + c];
                yq += (double)wq[r * cols + c] * x[t * cols + c];
            }
            num += (y - yq) * (y - yq);
            den += y * y;
        }
    return den > 0 ? sqrt(num / den) : 0;
}

double tq_rel(const float *w, const float *wq, long n)
{
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)w[i] - wq[i];
        num += d * d;
        den += (double)w[i] * w[i];
    }
    return den > 0 ? sqrt(num / den) : 0;
}
