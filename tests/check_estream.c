/* check_estream: the streamed evaluation (src/estream.h) equals ppl_run's
 * whole passes bit for bit on stories260K with perturbed weights (float
 * overrides on every block linear) and a fake-quantizing hook, with one
 * worker and with two, in KL mode and plain; blocks out of order, a
 * finish before the last block, a short text, another baseline model and
 * a cancel are refused with a message. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/estream.h"
#include "src/forward.h"
#include "src/model.h"
#include "src/ppl.h"
#include "tests/testutil.h"

struct env {
    struct qmodel m;
    struct fwd f;
    int *toks;
    size_t n;
};

/* Every block linear gets a float override: its weights on a coarse grid
 * (a stand-in for a quantizer: different from the original, exact). */
static void perturb(struct qmodel *m)
{
    for (int i = 0; i < m->n_tensors; i++) {
        struct qtensor *t = &m->tensors[i];
        if (t->layer < 0 || t->ndim != 2)
            continue;
        const float *w = qtensor_f32_orig(t);
        ck_assert_ptr_nonnull(w);
        float *o = malloc((size_t)t->nelem * sizeof *o);
        ck_assert_ptr_nonnull(o);
        for (int64_t k = 0; k < t->nelem; k++)
            o[k] = roundf(w[k] * 16.0f) / 16.0f;
        qtensor_set_override(t, o);
    }
}

static void env_open(struct env *e, int n_tok)
{
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&e->m, tu_shared("models/stories260K.gguf"), &err), 0);
    ck_assert_int_eq(fwd_init(&e->f, &e->m, 128, &err), 0);
    e->n = (size_t)n_tok;
    e->toks = malloc(e->n * sizeof(int));
    tu_seed(7);
    for (size_t i = 0; i < e->n; i++)
        e->toks[i] = 3 + (int)(tu_uniform() * 200);
    perturb(&e->m);
}

static void env_close(struct env *e)
{
    fwd_free(&e->f);
    qmodel_close(&e->m);
    free(e->toks);
}

/* A linear-input hook: activations rounded to 1/8 (as a fake quantizer). */
static int round_hook(void *ud, int layer, enum qrole role, float *x, int n, int in_dim)
{
    (void)ud, (void)layer, (void)role;
    for (size_t i = 0; i < (size_t)n * in_dim; i++)
        x[i] = roundf(x[i] * 8.0f) / 8.0f;
    return 0;
}

static void streamed(struct env *e, const struct ppl_opts *o, struct ppl_result *r)
{
    struct estream s;
    struct qerr err = {0};
    ck_assert_msg(estream_begin(&s, &e->f, e->toks, e->n, o, &err) == 0, "%s", err.msg);
    for (int l = 0; l < e->m.cfg.n_layers; l++)
        ck_assert_msg(estream_block(&s, l, &err) == 0, "%s", err.msg);
    ck_assert_msg(estream_finish(&s, r, &err) == 0, "%s", err.msg);
    estream_free(&s);
}

static void same(const struct ppl_result *a, const struct ppl_result *b)
{
    ck_assert_int_eq(a->n_chunks, b->n_chunks);
    ck_assert_uint_eq(a->n_scored, b->n_scored);
    ck_assert(a->ppl == b->ppl && a->nll_mean == b->nll_mean && a->ppl_stderr == b->ppl_stderr);
    ck_assert(a->kl == b->kl);
    if (!a->kl)
        return;
    ck_assert(a->base_ppl == b->base_ppl && a->top1 == b->top1);
    ck_assert(!memcmp(&a->kld, &b->kld, sizeof a->kld));
    ck_assert(!memcmp(&a->dp, &b->dp, sizeof a->dp));
    ck_assert(a->nll_cor == b->nll_cor && a->ppl_ratio == b->ppl_ratio);
}

static void compare(int kl, int workers, int hooked)
{
    struct env e;
    env_open(&e, 128 * 5 + 17);
    struct fwd_hooks h = {NULL, round_hook, NULL};
    struct ppl_opts o = {.n_ctx = 128, .bos = 1, .kl = kl, .max_workers = workers,
                         .hooks = hooked ? &h : NULL, .hooks_mt = 1};
    struct ppl_result whole, st;
    struct qerr err = {0};
    ck_assert_msg(ppl_run(&e.f, e.toks, e.n, &o, &whole, &err) == 0, "%s", err.msg);
    streamed(&e, &o, &st);
    same(&whole, &st);
    ck_assert_int_eq(st.n_chunks, 5);
    if (kl) /* the overrides do change the model */
        ck_assert(whole.kld.mean > 0 && whole.top1 < 1);
    env_close(&e);
}

START_TEST(test_kl_two_workers) { compare(1, 0, 0); }
END_TEST
START_TEST(test_kl_one_worker) { compare(1, 1, 0); }
END_TEST
START_TEST(test_kl_hooks) { compare(1, 0, 1); }
END_TEST
START_TEST(test_plain) { compare(0, 0, 1); }
END_TEST

START_TEST(test_max_chunks)
{
    struct env e;
    env_open(&e, 128 * 5);
    struct ppl_opts o = {.n_ctx = 64, .bos = 1, .kl = 1, .max_chunks = 3};
    struct ppl_result whole, st;
    struct qerr err = {0};
    ck_assert_msg(ppl_run(&e.f, e.toks, e.n, &o, &whole, &err) == 0, "%s", err.msg);
    streamed(&e, &o, &st);
    same(&whole, &st);
    ck_assert_int_eq(st.n_chunks, 3);
    ck_assert_double_eq_tol(estream_bytes(&e.m.cfg, e.n, &o), 3.0 * 64 * e.m.cfg.dim * 4, 0.5);
    env_close(&e);
}
END_TEST

START_TEST(test_errors)
{
    struct env e;
    env_open(&e, 300);
    struct estream s;
    struct ppl_result r;
    struct qerr err = {0};
    struct ppl_opts o = {.n_ctx = 128, .bos = 1, .kl = 1};
    /* a text shorter than one chunk */
    ck_assert_int_eq(estream_begin(&s, &e.f, e.toks, 100, &o, &err), QERR_FORMAT);
    estream_free(&s);
    /* another baseline model */
    struct ppl_opts ob = o;
    ob.base = &e.f;
    ck_assert_int_eq(estream_begin(&s, &e.f, e.toks, e.n, &ob, &err), QERR_ARG);
    ck_assert_msg(strstr(err.msg, "baseline"), "%s", err.msg);
    estream_free(&s);
    /* blocks out of order; a finish before the last block */
    ck_assert_int_eq(estream_begin(&s, &e.f, e.toks, e.n, &o, &err), 0);
    ck_assert_int_eq(estream_block(&s, 1, &err), QERR_ARG);
    ck_assert_msg(strstr(err.msg, "block 1 after 0 blocks"), "%s", err.msg);
    ck_assert_int_eq(estream_block(&s, 0, &err), 0);
    ck_assert_int_eq(estream_finish(&s, &r, &err), QERR_ARG);
    ck_assert_msg(strstr(err.msg, "1 of 5 blocks"), "%s", err.msg);
    estream_free(&s);
    /* cancel between chunks */
    volatile int stop = 1;
    o.cancel = &stop;
    ck_assert_int_eq(estream_begin(&s, &e.f, e.toks, e.n, &o, &err), 0);
    ck_assert_int_eq(estream_block(&s, 0, &err), QERR_CANCEL);
    estream_free(&s);
    estream_free(&s); /* twice is harmless */
    env_close(&e);
}
END_TEST

static Suite *estream_suite(void)
{
    Suite *s = suite_create("estream");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_kl_two_workers);
    tcase_add_test(tc, test_kl_one_worker);
    tcase_add_test(tc, test_kl_hooks);
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_max_chunks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(estream_suite());
}
