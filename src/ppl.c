/* ppl: perplexity / KL divergence over chunks (method in ppl.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/fastmath.h"
#include "src/ppl.h"

/* ---- scoring kernels ---- */

static float row_max(const float *x, int n, int *arg)
{
    float mx = x[0];
    int am = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > mx) {
            mx = x[i];
            am = i;
        }
    if (arg)
        *arg = am;
    return mx;
}

/* sum exp(x - mx), as llama.cpp's log_softmax (vectorized in fastmath.h,
 * partial sums flushed to double). */
static double sum_exp(const float *x, int n, float mx)
{
    return fm_sum_exp(x, n, mx);
}

double ppl_logprob(const float *logits, int vocab, int target, int *argmax)
{
    float mx = row_max(logits, vocab, argmax);
    return (double)(logits[target] - mx) - log(sum_exp(logits, vocab, mx));
}

double ppl_kl(const float *base, const float *cand, int vocab, int target, double *pb_t,
              double *pc_t, int *am_b, int *am_c)
{
    float mb = row_max(base, vocab, am_b), mc = row_max(cand, vocab, am_c);
    double lzb = log(sum_exp(base, vocab, mb)), lzc = log(sum_exp(cand, vocab, mc));
    double kl = 0.0;
    for (int i = 0; i < vocab; i++) {
        double lpb = (double)(base[i] - mb) - lzb, lpc = (double)(cand[i] - mc) - lzc;
        kl += exp(lpb) * (lpb - lpc);
    }
    *pb_t = exp((double)(base[target] - mb) - lzb);
    *pc_t = exp((double)(cand[target] - mc) - lzc);
    return kl < 0 ? 0 : kl; /* rounding can leave -1e-17 for identical rows */
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* llama.cpp's percentile: linear interpolation at fraction*(n-1). */
static double percentile(const float *v, size_t n, double fraction)
{
    if (fraction <= 0)
        return v[0];
    if (fraction >= 1)
        return v[n - 1];
    double p = fraction * (double)(n - 1);
    size_t ip = (size_t)p;
    p -= (double)ip;
    return (1 - p) * v[ip] + p * v[ip + 1 < n ? ip + 1 : n - 1];
}

void ppl_dist_compute(float *v, size_t n, struct ppl_dist *d)
{
    memset(d, 0, sizeof *d);
    if (n == 0)
        return;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        s2 += (double)v[i] * v[i];
    }
    d->mean = s / n;
    d->rms = sqrt(s2 / n);
    double var = s2 / n - d->mean * d->mean;
    d->stderr_mean = n > 1 && var > 0 ? sqrt(var / (n - 1)) : 0;
    qsort(v, n, sizeof *v, cmp_float);
    d->min = v[0];
    d->max = v[n - 1];
    d->median = n % 2 ? v[n / 2] : 0.5 * ((double)v[n / 2] + v[n / 2 - 1]);
    d->p01 = percentile(v, n, 0.01);
    d->p05 = percentile(v, n, 0.05);
    d->p10 = percentile(v, n, 0.10);
    d->p90 = percentile(v, n, 0.90);
    d->p95 = percentile(v, n, 0.95);
    d->p99 = percentile(v, n, 0.99);
    d->p999 = percentile(v, n, 0.999);
}

/* ---- the run ---- */

int ppl_n_chunks(size_t n_tokens, int n_ctx)
{
    if (n_ctx < 1)
        return 0;
    size_t c = n_tokens / (size_t)n_ctx;
    return c > 1000000000 ? 1000000000 : (int)c;
}

int ppl_check(const struct fwd *f, size_t n_tokens, const struct ppl_opts *o, struct qerr *err)
{
    if (o->n_ctx < 2 || o->n_ctx % 2)
        return qerr_set(err, QERR_ARG, "context %d: must be even and at least 2", o->n_ctx);
    if (o->n_ctx > f->max_tokens)
        return qerr_set(err, QERR_ARG, "context %d exceeds the forward context (%d tokens)",
                        o->n_ctx, f->max_tokens);
    if (o->max_chunks < 0)
        return qerr_set(err, QERR_ARG, "--chunks %d: must be positive", o->max_chunks);
    if (ppl_n_chunks(n_tokens, o->n_ctx) < 1)
        return qerr_set(err, QERR_FORMAT, "text too short: %zu tokens, one chunk needs %d",
                        n_tokens, o->n_ctx);
    return 0;
}

struct ppl_acc {
    double nll, nll2, bnll, bnll2;
    size_t count, same_top;
    float *kld, *dp;      /* (n_scored total) per-token samples, KL mode  */
};

static void score_chunk(const struct ppl_opts *o, int vocab, const int *targets, int n_score,
                        const float *lc, const float *lb, struct ppl_acc *a)
{
    for (int j = 0; j < n_score; j++) {
        const float *c = lc + (size_t)j * vocab;
        int t = targets[j], amc, amb;
        if (!o->kl) {
            double v = -ppl_logprob(c, vocab, t, &amc);
            a->nll += v;
            a->nll2 += v * v;
        } else {
            const float *b = lb + (size_t)j * vocab;
            double pb, pc;
            double kl = ppl_kl(b, c, vocab, t, &pb, &pc, &amb, &amc);
            double v = -log(pc), vb = -log(pb);
            a->nll += v;
            a->nll2 += v * v;
            a->bnll += vb;
            a->bnll2 += vb * vb;
            a->kld[a->count] = (float)kl;
            a->dp[a->count] = (float)(pc - pb);
            a->same_top += amb == amc;
        }
        a->count++;
    }
}

/* PPL and llama.cpp's stderr from sums of nll and nll². */
static void ppl_from_sums(double nll, double nll2, size_t count, double *mean, double *ppl,
                          double *se)
{
    *mean = nll / count;
    *ppl = exp(*mean);
    double var = nll2 / count - *mean * *mean;
    *se = count > 1 && var > 0 ? sqrt(var / (count - 1)) * *ppl : 0;
}

static void finish(struct ppl_result *r, struct ppl_acc *a, int kl)
{
    r->n_scored = a->count;
    ppl_from_sums(a->nll, a->nll2, a->count, &r->nll_mean, &r->ppl, &r->ppl_stderr);
    if (!kl)
        return;
    r->kl = 1;
    ppl_from_sums(a->bnll, a->bnll2, a->count, &r->base_nll_mean, &r->base_ppl,
                  &r->base_ppl_stderr);
    r->ln_ppl_ratio = r->nll_mean - r->base_nll_mean;
    ppl_dist_compute(a->kld, a->count, &r->kld);
    ppl_dist_compute(a->dp, a->count, &r->dp);
    r->top1 = (double)a->same_top / a->count;
    r->top1_stderr = a->count > 1 ? sqrt(r->top1 * (1 - r->top1) / (a->count - 1)) : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One chunk: candidate (and baseline) logits of the scored positions. */
static int run_chunk(struct fwd *f, const struct ppl_opts *o, const int *toks, int first,
                     float *lc, float *lb, struct qerr *err)
{
    int rc = 0;
    if (o->kl) {
        fwd_use_overrides(f, 0);
        rc = fwd_chunk_from(f, toks, o->n_ctx, first, lb, NULL);
        fwd_use_overrides(f, 1);
    }
    if (!rc)
        rc = fwd_chunk_from(f, toks, o->n_ctx, first, lc, o->hooks);
    if (rc)
        qerr_set(err, rc, "%s", f->err.msg);
    return rc;
}

static int cancelled(const struct ppl_opts *o)
{
    return o->cancel && *o->cancel;
}

int ppl_run(struct fwd *f, const int *tokens, size_t n_tokens, const struct ppl_opts *o,
            struct ppl_result *r, struct qerr *err)
{
    memset(r, 0, sizeof *r);
    int rc = ppl_check(f, n_tokens, o, err);
    if (rc)
        return rc;
    int n_ctx = o->n_ctx, vocab = f->cfg.vocab_size;
    int n_chunks = ppl_n_chunks(n_tokens, n_ctx);
    if (o->max_chunks > 0 && o->max_chunks < n_chunks)
        n_chunks = o->max_chunks;
    int first = o->full ? 0 : n_ctx / 2, n_score = n_ctx - 1 - first;
    r->n_ctx = n_ctx;
    r->first = first;
    size_t rows = (size_t)(n_ctx - first), total = (size_t)n_chunks * n_score;
    struct ppl_acc a = {0};
    float *lc = malloc(rows * vocab * sizeof(float));
    float *lb = o->kl ? malloc(rows * vocab * sizeof(float)) : NULL;
    int *buf = malloc((size_t)n_ctx * sizeof(int));
    if (o->kl) {
        a.kld = malloc(total * sizeof(float));
        a.dp = malloc(total * sizeof(float));
    }
    if (!lc || !buf || (o->kl && (!lb || !a.kld || !a.dp)))
        rc = qerr_set(err, QERR_NOMEM, "perplexity: out of memory for %zu x %d logits", rows, vocab);
    double t0 = now_s();
    for (int c = 0; c < n_chunks && !rc; c++) {
        if (cancelled(o)) {
            rc = qerr_set(err, QERR_CANCEL, "perplexity: cancelled after %d chunks", c);
            break;
        }
        const int *src = tokens + (size_t)c * n_ctx;
        memcpy(buf, src, (size_t)n_ctx * sizeof(int));
        if (o->bos >= 0)
            buf[0] = o->bos;
        if ((rc = run_chunk(f, o, buf, first, lc, lb, err)))
            break;
        score_chunk(o, vocab, src + first + 1, n_score, lc, lb, &a);
        r->n_chunks = c + 1;
        if (o->progress && o->progress(o->progress_ud, c + 1, n_chunks, exp(a.nll / a.count)))
            rc = qerr_set(err, QERR_CANCEL, "perplexity: cancelled after %d chunks", c + 1);
    }
    r->seconds = now_s() - t0;
    if (!rc)
        finish(r, &a, o->kl);
    free(lc); free(lb); free(buf); free(a.kld); free(a.dp);
    return rc;
}
