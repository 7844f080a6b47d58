/* ppl: perplexity / KL divergence over chunks (method in ppl.h). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include "src/fastmath.h"
#include "src/klfile.h"
#include "src/ppl.h"
#include "src/qclock.h"

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

/* log-softmax as llama.cpp's: sum exp(x - max) by fm_sum_exp (fastmath.h,
 * partial sums flushed to double). */
double ppl_logprob(const float *logits, int vocab, int target, int *argmax)
{
    float mx = row_max(logits, vocab, argmax);
    return (double)(logits[target] - mx) - log(fm_sum_exp(logits, vocab, mx));
}

double ppl_kl(const float *base, const float *cand, int vocab, int target, double *pb_t,
              double *pc_t, int *am_b, int *am_c)
{
    float mb = row_max(base, vocab, am_b), mc = row_max(cand, vocab, am_c);
    double lzb = log(fm_sum_exp(base, vocab, mb)), lzc = log(fm_sum_exp(cand, vocab, mc));
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
    double s = 0, s2 = 0, s4 = 0;
    for (size_t i = 0; i < n; i++) {
        double x2 = (double)v[i] * v[i];
        s += v[i];
        s2 += x2;
        s4 += x2 * x2;
    }
    d->mean = s / n;
    d->rms = sqrt(s2 / n);
    double var = s2 / n - d->mean * d->mean, var2 = s4 / n - (s2 / n) * (s2 / n);
    d->stderr_mean = n > 1 && var > 0 ? sqrt(var / (n - 1)) : 0;
    d->rms_stderr = n > 1 && var2 > 0 && d->rms > 0 ? 0.5 / d->rms * sqrt(var2 / (n - 1)) : 0;
    qsort(v, n, sizeof *v, cmp_float);
    d->min = v[0];
    d->max = v[n - 1];
    d->median = n % 2 ? v[n / 2] : 0.5 * ((double)v[n / 2] + v[n / 2 - 1]);
    d->p001 = percentile(v, n, 0.001);
    d->p01 = percentile(v, n, 0.01);
    d->p05 = percentile(v, n, 0.05);
    d->p10 = percentile(v, n, 0.10);
    d->p25 = percentile(v, n, 0.25);
    d->p75 = percentile(v, n, 0.75);
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
    if (!o->full && o->n_ctx < 4)
        return qerr_set(err, QERR_ARG, "context %d: the llama.cpp method scores positions "
                        "n_ctx/2 .. n_ctx-2, none at this size (use at least 4, or full-window "
                        "mode)", o->n_ctx);
    if (o->n_ctx > f->max_tokens)
        return qerr_set(err, QERR_ARG, "context %d exceeds the forward context (%d tokens)",
                        o->n_ctx, f->max_tokens);
    if (o->max_chunks < 0)
        return qerr_set(err, QERR_ARG, "--chunks %d: must be positive", o->max_chunks);
    if (o->kl && o->base && (o->base->cfg.vocab_size != f->cfg.vocab_size ||
                             o->base->max_tokens < o->n_ctx))
        return qerr_set(err, QERR_ARG, "baseline model: vocabulary %d vs %d or context %d < %d",
                        o->base->cfg.vocab_size, f->cfg.vocab_size, o->base->max_tokens,
                        o->n_ctx);
    if (ppl_n_chunks(n_tokens, o->n_ctx) < 1)
        return qerr_set(err, QERR_FORMAT, "text too short: %zu tokens, one chunk needs %d",
                        n_tokens, o->n_ctx);
    return 0;
}

/* Per-chunk sums, kept apart so that chunks may finish in any order (two
 * workers) and are still combined in chunk order: the result does not
 * depend on the number of workers. */
struct chunk_sums {
    double nll, nll2, bnll, bnll2, nn; /* nn: sum of nll * base nll    */
    size_t same_top;
};

static void add_pair(struct chunk_sums *cs, double v, double vb)
{
    cs->nll += v;
    cs->nll2 += v * v;
    cs->bnll += vb;
    cs->bnll2 += vb * vb;
    cs->nn += v * vb;
}

/* Against a llama.cpp base file: its packed records (rows of nv words). */
static void score_chunk_file(int vocab, int nv, const int *targets, int n_score, const float *lc,
                             const uint16_t *pk, struct chunk_sums *cs, float *kld, float *dp)
{
    memset(cs, 0, sizeof *cs);
    for (int j = 0; j < n_score; j++) {
        struct klfile_tok t;
        klfile_score(lc + (size_t)j * vocab, pk + (size_t)j * nv, vocab, targets[j], &t);
        add_pair(cs, t.nll, t.nll_base);
        kld[j] = (float)t.kld;
        dp[j] = (float)t.dp;
        cs->same_top += t.same_top;
    }
}

static void score_chunk(const struct ppl_opts *o, int vocab, const int *targets, int n_score,
                        const float *lc, const float *lb, struct chunk_sums *cs, float *kld,
                        float *dp)
{
    memset(cs, 0, sizeof *cs);
    for (int j = 0; j < n_score; j++) {
        const float *c = lc + (size_t)j * vocab;
        int t = targets[j], amc, amb;
        if (!o->kl) {
            double v = -ppl_logprob(c, vocab, t, &amc);
            cs->nll += v;
            cs->nll2 += v * v;
        } else {
            const float *b = lb + (size_t)j * vocab;
            double pb, pc;
            double kl = ppl_kl(b, c, vocab, t, &pb, &pc, &amb, &amc);
            add_pair(cs, -log(pc), -log(pb));
            kld[j] = (float)kl;
            dp[j] = (float)(pc - pb);
            cs->same_top += amb == amc;
        }
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

struct ppl_job {
    const struct ppl_opts *o;
    const int *tokens;
    int n_chunks, first, n_score, vocab;
    pthread_mutex_t mu;
    int next, done, stop, rc;
    struct qerr err;
    struct chunk_sums *sums; /* (n_chunks)                                 */
    unsigned char *is_done;  /* (n_chunks)                                 */
    float *kld, *dp;         /* (n_chunks * n_score), KL mode              */
    struct ppl_cache *cache; /* validated o->cache or NULL                 */
    int reported;            /* chunks done at the last progress call      */
};

/* llama.cpp's perplexity statistics of a pair (formulas in ppl.h). */
static void pair_stats(struct ppl_result *r, double nn, size_t count)
{
    double se = r->ppl > 0 ? r->ppl_stderr / r->ppl : 0;
    double seb = r->base_ppl > 0 ? r->base_ppl_stderr / r->base_ppl : 0;
    double cov = count > 1 ? (nn / count - r->nll_mean * r->base_nll_mean) / (count - 1) : 0;
    double v = se * se + seb * seb - 2 * cov;
    r->nll_cor = se > 0 && seb > 0 ? cov / (se * seb) : 0;
    r->ln_ppl_ratio_stderr = v > 0 ? sqrt(v) : 0;
    r->ppl_ratio = exp(r->ln_ppl_ratio);
    r->ppl_ratio_stderr = r->ppl_ratio * r->ln_ppl_ratio_stderr;
    r->ppl_diff = r->ppl - r->base_ppl;
    double vd = r->ppl_stderr * r->ppl_stderr + r->base_ppl_stderr * r->base_ppl_stderr -
                2 * r->ppl * r->base_ppl * cov;
    r->ppl_diff_stderr = vd > 0 ? sqrt(vd) : 0;
}

static void finish(struct ppl_result *r, struct ppl_job *j)
{
    double n = 0, n2 = 0, b = 0, b2 = 0, nn = 0;
    size_t top = 0, count = (size_t)j->n_chunks * j->n_score;
    for (int c = 0; c < j->n_chunks; c++) {
        n += j->sums[c].nll; n2 += j->sums[c].nll2;
        b += j->sums[c].bnll; b2 += j->sums[c].bnll2;
        nn += j->sums[c].nn;
        top += j->sums[c].same_top;
    }
    r->n_scored = count;
    ppl_from_sums(n, n2, count, &r->nll_mean, &r->ppl, &r->ppl_stderr);
    if (!j->o->kl)
        return;
    r->kl = 1;
    ppl_from_sums(b, b2, count, &r->base_nll_mean, &r->base_ppl, &r->base_ppl_stderr);
    r->ln_ppl_ratio = r->nll_mean - r->base_nll_mean;
    r->kl_file = j->o->kl_in != NULL;
    pair_stats(r, nn, count);
    ppl_dist_compute(j->kld, count, &r->kld);
    ppl_dist_compute(j->dp, count, &r->dp);
    r->top1 = (double)top / count;
    r->top1_stderr = count > 1 ? sqrt(r->top1 * (1 - r->top1) / (count - 1)) : 0;
}

/* One chunk: candidate (and baseline, unless it is cached) logits of the
 * scored positions. */
static int run_chunk(struct fwd *f, const struct ppl_opts *o, const int *toks, int c, int first,
                     float *lc, float *lb, int base_cached)
{
    int rc = 0, need_base = o->kl && !base_cached && !o->kl_in;
    if (need_base && o->base) {
        rc = fwd_chunk_from(o->base, toks, o->n_ctx, first, lb, NULL);
        if (rc)
            qerr_set(&f->err, rc, "baseline model: %s", o->base->err.msg);
    } else if (need_base) {
        fwd_use_overrides(f, 0);
        rc = fwd_chunk_from(f, toks, o->n_ctx, first, lb, NULL);
        fwd_use_overrides(f, 1);
    }
    if (!rc)
        rc = o->cand ? o->cand(o->cand_ud, f, c, first, lc)
                     : fwd_chunk_from(f, toks, o->n_ctx, first, lc, o->hooks);
    return rc;
}

struct ppl_worker {
    struct ppl_job *job;
    struct fwd *f;
    int is_main;          /* only the calling thread reports progress     */
    float *lc, *lb;       /* (n_ctx-first, vocab) candidate / baseline     */
    int *buf;             /* (n_ctx) chunk tokens with BOS                 */
    uint16_t *pk;         /* (n_score, nv) packed log-probs: kl_in / kl_out */
};

static void job_fail(struct ppl_job *j, int rc, const char *msg)
{
    pthread_mutex_lock(&j->mu);
    if (!j->rc) {
        j->rc = rc;
        qerr_set(&j->err, rc, "%s", msg);
    }
    j->stop = 1;
    pthread_mutex_unlock(&j->mu);
}

/* Running PPL over the chunks done so far (progress display only). */
static double running_ppl(struct ppl_job *j)
{
    double n = 0;
    size_t cnt = 0;
    pthread_mutex_lock(&j->mu);
    for (int c = 0; c < j->n_chunks; c++)
        if (j->is_done[c]) {
            n += j->sums[c].nll;
            cnt += (size_t)j->n_score;
        }
    pthread_mutex_unlock(&j->mu);
    return cnt ? exp(n / cnt) : 0;
}

/* Point the logit buffers of chunk c into the cache: the rows a run fills,
 * or the stored baseline (returns 1: no baseline pass needed). */
static int cache_rows(const struct ppl_job *j, int c, float **lc, float **lb)
{
    const struct ppl_cache *k = j->cache;
    if (!k)
        return 0;
    float *rows = k->logits + (size_t)c * k->rows * (size_t)k->vocab;
    if (k->filled) {
        *lb = rows;
        return 1;
    }
    if (j->o->kl)
        *lb = rows;
    else
        *lc = rows;
    return 0;
}

/* Evaluate and score chunk c; read its llama.cpp records first (kl_in) or
 * write them after (kl_out). */
static int do_chunk(struct ppl_worker *w, int c, struct qerr *e)
{
    struct ppl_job *j = w->job;
    const struct ppl_opts *o = j->o;
    const int *src = j->tokens + (size_t)c * o->n_ctx;
    memcpy(w->buf, src, (size_t)o->n_ctx * sizeof(int));
    if (o->bos >= 0)
        w->buf[0] = o->bos;
    int rc = o->kl_in ? klfile_read_chunk(o->kl_in, c, w->pk, e) : 0;
    if (rc)
        return rc;
    float *lc = w->lc, *lb = w->lb;
    int cached = cache_rows(j, c, &lc, &lb);
    if ((rc = run_chunk(w->f, o, w->buf, c, j->first, lc, lb, cached)))
        return qerr_set(e, rc, "%s", rc == QERR_CANCEL ? "perplexity: cancelled" : w->f->err.msg);
    size_t off = (size_t)c * j->n_score;
    const int *targets = src + j->first + 1;
    if (o->kl_in)
        score_chunk_file(j->vocab, o->kl_in->nv, targets, j->n_score, lc, w->pk, &j->sums[c],
                         j->kld + off, j->dp + off);
    else
        score_chunk(o, j->vocab, targets, j->n_score, lc, lb, &j->sums[c],
                    o->kl ? j->kld + off : NULL, o->kl ? j->dp + off : NULL);
    return o->kl_out ? klfile_write_chunk(o->kl_out, c, lc, w->pk, e) : 0;
}

static void *worker(void *arg)
{
    struct ppl_worker *w = arg;
    struct ppl_job *j = w->job;
    const struct ppl_opts *o = j->o;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int c = j->next, stop = j->stop || c >= j->n_chunks;
        if (!stop)
            j->next++;
        pthread_mutex_unlock(&j->mu);
        if (stop)
            break;
        if (o->cancel && *o->cancel) {
            job_fail(j, QERR_CANCEL, "perplexity: cancelled");
            break;
        }
        struct qerr e = {0};
        int rc = do_chunk(w, c, &e);
        if (rc) {
            job_fail(j, rc, e.msg);
            break;
        }
        pthread_mutex_lock(&j->mu);
        j->is_done[c] = 1;
        int done = ++j->done;
        pthread_mutex_unlock(&j->mu);
        if (w->is_main && o->progress) {
            j->reported = done; /* only this thread reads it */
            if (o->progress(o->progress_ud, done, j->n_chunks, running_ppl(j)))
                job_fail(j, QERR_CANCEL, "perplexity: cancelled");
        }
    }
    return NULL;
}

static int worker_init(struct ppl_worker *w, struct ppl_job *j, struct fwd *f, int is_main)
{
    size_t rows = (size_t)(j->o->n_ctx - j->first);
    w->job = j;
    w->f = f;
    w->is_main = is_main;
    w->lc = malloc(rows * j->vocab * sizeof(float));
    w->lb = j->o->kl ? malloc(rows * j->vocab * sizeof(float)) : NULL;
    w->buf = malloc((size_t)j->o->n_ctx * sizeof(int));
    int packed = j->o->kl_in || j->o->kl_out;
    if (packed)
        w->pk = malloc((size_t)j->n_score * klfile_row_words(j->vocab) * sizeof *w->pk);
    return w->lc && w->buf && (!j->o->kl || w->lb) && (!packed || w->pk) ? 0 : -1;
}

static void worker_free(struct ppl_worker *w)
{
    free(w->lc);
    free(w->lb);
    free(w->buf);
    free(w->pk);
}

/* Two workers (each single-threaded: no synchronization inside a chunk at
 * all) when there are two chunks, two CPUs, no hooks (unless the caller
 * says they are thread-safe) and no second baseline model; else one. */
static int n_workers(const struct fwd *f, const struct ppl_opts *o, int n_chunks)
{
    if (o->max_workers == 1 || (o->hooks && !o->hooks_mt) || o->base || n_chunks < 2)
        return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus >= 2 ? 2 : 1;
}

/* The second worker: its own forward context on the same model (weights
 * converted up front by fwd_prepare so the workers only read them). */
static void run_two(struct ppl_job *j, struct fwd *f, struct ppl_worker *w0)
{
    struct fwd f2;
    struct ppl_worker w1 = {0};
    struct qerr e2 = {0};
    pthread_t th;
    if (fwd_prepare(f) < 0 || fwd_init(&f2, f->m, f->max_tokens, &e2) != 0) {
        worker(w0); /* fall back to one worker */
        return;
    }
    f2.use_overrides = f->use_overrides;
    fwd_set_override(&f2, f->ovr_t, f->ovr_w);
    f2.cancel = f->cancel;
    int bt = f->blas_threads, at = f->att_threads, tt = f->tile_threads;
    f->blas_threads = f2.blas_threads = 1; /* one core per worker */
    f->att_threads = f2.att_threads = 1;
    /* and no helper thread for the weight products either: two workers
     * splitting each product again ran four threads on two cores */
    f->tile_threads = f2.tile_threads = 1;
    /* OpenBLAS's thread count is process-wide: set it once here, so the
     * workers' passes find it already at 1 and never change it. */
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(1);
    int spawned = worker_init(&w1, j, &f2, 0) == 0 && pthread_create(&th, NULL, worker, &w1) == 0;
    worker(w0);
    if (spawned)
        pthread_join(th, NULL);
    openblas_set_num_threads(prev);
    f->blas_threads = bt;
    f->att_threads = at;
    f->tile_threads = tt;
    worker_free(&w1);
    fwd_free(&f2);
}

/* Chunks a run of o over n_tokens evaluates. */
static int run_n_chunks(size_t n_tokens, const struct ppl_opts *o)
{
    int n = ppl_n_chunks(n_tokens, o->n_ctx);
    return o->max_chunks > 0 && o->max_chunks < n ? o->max_chunks : n;
}

size_t ppl_cache_bytes(const struct fwd *f, size_t n_tokens, const struct ppl_opts *o)
{
    int first = o->full ? 0 : o->n_ctx / 2;
    return (size_t)run_n_chunks(n_tokens, o) * (size_t)(o->n_ctx - first) *
           (size_t)f->cfg.vocab_size * sizeof(float);
}

int ppl_cache_init(struct ppl_cache *c, const struct fwd *f, const int *tokens,
                   size_t n_tokens, const struct ppl_opts *o, size_t budget)
{
    memset(c, 0, sizeof *c);
    size_t bytes = ppl_cache_bytes(f, n_tokens, o);
    if (o->n_ctx < 2 || bytes == 0 || bytes > budget || !(c->logits = malloc(bytes)))
        return 0;
    c->tokens = tokens;
    c->n_tokens = n_tokens;
    c->n_ctx = o->n_ctx;
    c->first = o->full ? 0 : o->n_ctx / 2;
    c->n_chunks = run_n_chunks(n_tokens, o);
    c->vocab = f->cfg.vocab_size;
    c->bos = o->bos;
    c->rows = (size_t)(o->n_ctx - c->first);
    return 1;
}

void ppl_cache_free(struct ppl_cache *c)
{
    free(c->logits);
    memset(c, 0, sizeof *c);
}

/* The cache must hold exactly the chunks of this run. */
static int cache_check(const struct ppl_job *j, const struct ppl_opts *o, size_t n_tokens,
                       struct qerr *err)
{
    const struct ppl_cache *c = o->cache;
    if (!c)
        return 0;
    if (!c->logits || c->tokens != j->tokens || c->n_tokens != n_tokens || c->n_ctx != o->n_ctx ||
        c->first != j->first || c->n_chunks != j->n_chunks || c->vocab != j->vocab ||
        c->bos != o->bos)
        return qerr_set(err, QERR_ARG, "perplexity: the baseline cache was made for other "
                        "chunks (%d x %d tokens) than this run (%d x %d)", c->n_chunks,
                        c->n_ctx, j->n_chunks, o->n_ctx);
    return 0;
}

/* A llama.cpp base file holds the second half of every chunk, scored or
 * written: the run must be the llama.cpp method on the file's chunks. */
static int file_check(const struct ppl_job *j, const struct ppl_opts *o, struct qerr *err)
{
    if ((o->kl_in || o->kl_out) && o->full)
        return qerr_set(err, QERR_ARG, "llama.cpp KL files hold the second half of each chunk: "
                        "not with full-window mode");
    if (o->kl_in && !o->kl)
        return qerr_set(err, QERR_ARG, "%s: a KL base file is read in KL mode only",
                        o->kl_in->path);
    if (o->kl_in)
        return klfile_check_run(o->kl_in, o->n_ctx, j->vocab, j->n_chunks, j->tokens, err);
    if (o->kl_out && (o->kl || o->kl_out->n_ctx != o->n_ctx || o->kl_out->n_vocab != j->vocab ||
                      o->kl_out->n_chunk != j->n_chunks))
        return qerr_set(err, QERR_ARG, "%s: made for %d x %d tokens, vocabulary %d; this run: "
                        "%d x %d, %d%s", o->kl_out->a.path, o->kl_out->n_chunk, o->kl_out->n_ctx,
                        o->kl_out->n_vocab, j->n_chunks, o->n_ctx, j->vocab,
                        o->kl ? " (and KL mode)" : "");
    return 0;
}

int ppl_run(struct fwd *f, const int *tokens, size_t n_tokens, const struct ppl_opts *o,
            struct ppl_result *r, struct qerr *err)
{
    memset(r, 0, sizeof *r);
    int rc = ppl_check(f, n_tokens, o, err);
    if (rc)
        return rc;
    struct ppl_job j = {.o = o, .tokens = tokens, .vocab = f->cfg.vocab_size};
    j.n_chunks = run_n_chunks(n_tokens, o);
    j.first = o->full ? 0 : o->n_ctx / 2;
    j.n_score = o->n_ctx - 1 - j.first;
    if ((rc = file_check(&j, o, err)) || (!o->kl_in && (rc = cache_check(&j, o, n_tokens, err))))
        return rc;
    j.cache = o->kl_in ? NULL : o->cache; /* a file baseline needs no float logits */
    r->n_ctx = o->n_ctx;
    r->first = j.first;
    size_t total = (size_t)j.n_chunks * j.n_score;
    j.sums = calloc((size_t)j.n_chunks, sizeof *j.sums);
    j.is_done = calloc((size_t)j.n_chunks, 1);
    if (o->kl) {
        j.kld = malloc(total * sizeof(float));
        j.dp = malloc(total * sizeof(float));
    }
    struct ppl_worker w0 = {0};
    if (!j.sums || !j.is_done || (o->kl && (!j.kld || !j.dp)) || worker_init(&w0, &j, f, 1) < 0)
        rc = qerr_set(err, QERR_NOMEM, "perplexity: out of memory for %d x %d logits",
                      o->n_ctx - j.first, j.vocab);
    pthread_mutex_init(&j.mu, NULL);
    volatile int *saved_cancel = f->cancel;
    if (o->cancel)
        f->cancel = o->cancel; /* also between blocks of a chunk */
    double t0 = qclock_seconds();
    if (!rc && n_workers(f, o, j.n_chunks) == 2)
        run_two(&j, f, &w0);
    else if (!rc)
        worker(&w0);
    r->seconds = qclock_seconds() - t0;
    f->cancel = saved_cancel;
    /* the other worker may have finished the last chunk: report it, so a
     * progress display always ends at n/n */
    if (!rc && !j.rc && o->progress && j.reported != j.done)
        o->progress(o->progress_ud, j.done, j.n_chunks, running_ppl(&j));
    r->n_chunks = j.done;
    if (!rc && j.rc) {
        rc = j.rc;
        qerr_set(err, rc, "%s after %d chunks", j.err.msg, j.done);
    }
    if (!rc)
        finish(r, &j);
    if (!rc && j.cache && j.done == j.n_chunks)
        j.cache->filled = 1;
    pthread_mutex_destroy(&j.mu);
    worker_free(&w0);
    free(j.sums); free(j.is_done); free(j.kld); free(j.dp);
    return rc;
}
