/* estream: a streamed evaluation through the block loop (see estream.h). */
#include "src/estream.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/qclock.h"

/* Chunks ppl_run evaluates for o over n_tokens. */
static int eval_chunks(size_t n_tokens, const struct ppl_opts *o)
{
    int n = ppl_n_chunks(n_tokens, o->n_ctx);
    return o->max_chunks > 0 && o->max_chunks < n ? o->max_chunks : n;
}

double estream_bytes(const struct qconfig *c, size_t n_tokens, const struct ppl_opts *o)
{
    return (double)eval_chunks(n_tokens, o) * o->n_ctx * (double)c->dim * sizeof(float);
}

/* As ppl_run's workers: two single-threaded contexts, one chunk each, when
 * there are two chunks and two CPUs and the hooks allow it; else one. */
static int two_workers(const struct estream *s)
{
    const struct ppl_opts *o = &s->po;
    if (o->max_workers == 1 || (o->hooks && !o->hooks_mt) || s->n_chunks < 2)
        return 0;
    return sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

static float *chunk_h(const struct estream *s, int c)
{
    return s->h + (size_t)c * s->n_ctx * s->dim;
}

int estream_begin(struct estream *s, struct fwd *f, const int *tokens, size_t n_tokens,
                  const struct ppl_opts *o, struct qerr *err)
{
    memset(s, 0, sizeof *s);
    s->f = f;
    s->po = *o;
    s->tokens = tokens;
    s->n_tokens = n_tokens;
    int rc = ppl_check(f, n_tokens, o, err);
    if (rc)
        return rc;
    if (o->base)
        return qerr_set(err, QERR_ARG, "streamed evaluation: the baseline must be the float "
                        "originals of the same model");
    s->n_ctx = o->n_ctx;
    s->dim = f->cfg.dim;
    s->n_chunks = eval_chunks(n_tokens, o);
    size_t cd = (size_t)s->n_ctx * s->dim;
    int *buf = malloc((size_t)s->n_ctx * sizeof *buf);
    s->h = malloc((size_t)s->n_chunks * cd * sizeof(float));
    if (!buf || !s->h) {
        free(buf);
        return qerr_set(err, QERR_NOMEM, "out of memory for the hidden states of %d evaluation "
                        "chunks of %d x %d", s->n_chunks, s->n_ctx, s->dim);
    }
    if (two_workers(s) && fwd_prepare(f) == 0 && fwd_init(&s->f2, f->m, f->max_tokens, err) == 0)
        s->f2_ok = 1;
    qerr_clear(err);
    double t0 = qclock_seconds();
    fwd_use_overrides(f, 1);
    for (int c = 0; c < s->n_chunks && !rc; c++) {
        memcpy(buf, tokens + (size_t)c * s->n_ctx, (size_t)s->n_ctx * sizeof *buf);
        if (o->bos >= 0)
            buf[0] = o->bos;
        if ((rc = fwd_embed(f, buf, s->n_ctx, chunk_h(s, c))))
            qerr_set(err, rc, "%s", f->err.msg);
    }
    free(buf);
    s->seconds += qclock_seconds() - t0;
    return rc;
}

/* One worker's share of a block: chunks c0, c0 + step, ... */
struct blk_job {
    struct estream *s;
    struct fwd *f;
    int layer, c0, step, rc;
};

static void *blk_run(void *arg)
{
    struct blk_job *j = arg;
    struct estream *s = j->s;
    for (int c = j->c0; c < s->n_chunks && !j->rc; c += j->step) {
        if (s->po.cancel && *s->po.cancel)
            j->rc = QERR_CANCEL;
        else
            j->rc = fwd_block(j->f, j->layer, chunk_h(s, c), s->n_ctx, s->po.hooks);
    }
    return NULL;
}

/* Two workers, each single-threaded (ppl_run's run_two settings). */
static void blk_two(struct estream *s, struct blk_job *j)
{
    struct fwd *f = s->f, *f2 = &s->f2;
    f2->use_overrides = 1;
    int bt = f->blas_threads, at = f->att_threads, tt = f->tile_threads;
    f->blas_threads = f2->blas_threads = 1;
    f->att_threads = f2->att_threads = 1;
    f->tile_threads = f2->tile_threads = 1; /* no helper thread per product */
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(1);
    pthread_t th;
    int spawned = pthread_create(&th, NULL, blk_run, &j[1]) == 0;
    blk_run(&j[0]);
    if (spawned)
        pthread_join(th, NULL);
    else
        blk_run(&j[1]);
    openblas_set_num_threads(prev);
    f->blas_threads = bt;
    f->att_threads = at;
    f->tile_threads = tt;
}

int estream_block(struct estream *s, int layer, struct qerr *err)
{
    if (layer != s->next_layer)
        return qerr_set(err, QERR_ARG, "streamed evaluation: block %d after %d blocks", layer,
                        s->next_layer);
    double t0 = qclock_seconds();
    fwd_use_overrides(s->f, 1);
    struct blk_job j[2] = {{s, s->f, layer, 0, 1, 0}, {s, &s->f2, layer, 1, 2, 0}};
    if (s->f2_ok) {
        j[0].step = 2;
        blk_two(s, j);
    } else {
        blk_run(&j[0]);
    }
    s->seconds += qclock_seconds() - t0;
    for (int k = 0; k < 2; k++) {
        if (j[k].rc == QERR_CANCEL)
            return qerr_set(err, QERR_CANCEL, "perplexity: cancelled");
        if (j[k].rc)
            return qerr_set(err, j[k].rc, "%s", (k ? &s->f2 : s->f)->err.msg);
    }
    s->next_layer++;
    return 0;
}

/* ppl_opts.cand: the classifier on chunk c's hidden states. */
static int final_logits(void *ud, struct fwd *f, int c, int first, float *lc)
{
    struct estream *s = ud;
    return fwd_final(f, chunk_h(s, c) + (size_t)first * s->dim, s->n_ctx - first, lc,
                     s->po.hooks);
}

int estream_finish(struct estream *s, struct ppl_result *r, struct qerr *err)
{
    memset(r, 0, sizeof *r);
    if (s->next_layer != s->f->cfg.n_layers)
        return qerr_set(err, QERR_ARG, "streamed evaluation: %d of %d blocks applied",
                        s->next_layer, s->f->cfg.n_layers);
    if (s->f2_ok) { /* ppl_run makes its own second context */
        fwd_free(&s->f2);
        s->f2_ok = 0;
    }
    struct ppl_opts po = s->po;
    po.cand = final_logits;
    po.cand_ud = s;
    fwd_use_overrides(s->f, 1);
    int rc = ppl_run(s->f, s->tokens, s->n_tokens, &po, r, err);
    r->seconds += s->seconds;
    return rc;
}

void estream_free(struct estream *s)
{
    if (s->f2_ok)
        fwd_free(&s->f2);
    free(s->h);
    memset(s, 0, sizeof *s);
}
