/* check_klfile: llama.cpp's --kl-divergence-base files (src/klfile.c):
 * the byte layout, the uint16 log-probability packing and its error bound,
 * llama.cpp's scoring, a write/read round trip through ppl_run on
 * stories260K, and bad files. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/forward.h"
#include "src/klfile.h"
#include "src/model.h"
#include "src/ppl.h"
#include "tests/testutil.h"

/* exact log-softmax in double */
static void log_softmax(const float *x, int n, double *lp)
{
    double mx = x[0], z = 0;
    for (int i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++)
        z += exp(x[i] - mx);
    for (int i = 0; i < n; i++)
        lp[i] = x[i] - mx - log(z);
}

static void random_row(float *x, int n, double spread)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)(tu_normal() * spread);
}

START_TEST(test_sizes)
{
    ck_assert_int_eq(klfile_row_words(512), 516);
    ck_assert_int_eq(klfile_row_words(511), 516);
    ck_assert_int_eq(klfile_row_words(1), 6);
    ck_assert_int_eq(klfile_rows(128), 63);
    ck_assert_int_eq(klfile_rows(512), 255);
    ck_assert_int_eq(klfile_rows(4), 1);
}
END_TEST

/* Degenerate rows: constant (scale 0) and a single entry. */
START_TEST(test_pack_degenerate)
{
    uint16_t rec[16];
    float c[7] = {3, 3, 3, 3, 3, 3, 3};
    memset(rec, 0xff, sizeof rec);
    klfile_pack(c, 7, rec);
    for (int v = 0; v < 7; v++) {
        ck_assert_int_eq(rec[4 + v], 0);
        ck_assert_double_eq_tol(klfile_logprob(rec, v), -log(7.0), 1e-6);
    }
    ck_assert_int_eq(rec[4 + 7], 0); /* the padding word of an odd vocabulary */
    float one[1] = {-5};
    klfile_pack(one, 1, rec);
    ck_assert_double_eq_tol(klfile_logprob(rec, 0), 0, 1e-7);
}
END_TEST

/* |unpacked - exact| <= scale/2 (+ float rounding) within 16 nats of the
 * top; below that every entry reads the floor min_log_prob, which is at
 * least the exact value. */
START_TEST(test_pack_error_bound)
{
    enum { N = 1001 };
    float x[N];
    double lp[N];
    uint16_t rec[N + 5];
    tu_seed(3);
    double spreads[4] = {0.01, 1, 4, 30};
    for (int s = 0; s < 4; s++)
        for (int rep = 0; rep < 20; rep++) {
            random_row(x, N, spreads[s]);
            log_softmax(x, N, lp);
            klfile_pack(x, N, rec);
            float scale, min_lp;
            memcpy(&scale, rec, 4);
            memcpy(&min_lp, rec + 2, 4);
            ck_assert(scale > 0 && scale <= 16.0f / 65535 * 1.0001f);
            double mx = -INFINITY;
            for (int i = 0; i < N; i++)
                mx = x[i] > mx ? x[i] : mx;
            int clamped = 0;
            for (int v = 0; v < N; v++) {
                double got = klfile_logprob(rec, v);
                if (x[v] > mx - 16 || spreads[s] < 1) {
                    ck_assert_msg(fabs(got - lp[v]) <= scale / 2 + 4e-6 * (1 + fabs(lp[v])),
                                  "v %d: %g vs %g (scale %g)", v, got, lp[v], scale);
                } else {
                    ck_assert_uint_eq(rec[4 + v], 0);
                    ck_assert(got >= lp[v] - 1e-5);
                    clamped++;
                }
            }
            if (s == 3)
                ck_assert(clamped > 0); /* the spread-30 rows exercise the floor */
        }
}
END_TEST

/* llama.cpp's scoring against a record: the same logits give KL ~ 0 and
 * equal top tokens; other logits give the exact KL up to the packing error
 * (all entries within 16 nats here, so nothing is dropped). */
START_TEST(test_score)
{
    enum { N = 300 };
    float b[N], c[N];
    double lb[N], lc[N];
    uint16_t rec[N + 4];
    tu_seed(9);
    for (int rep = 0; rep < 30; rep++) {
        random_row(b, N, 1.5);
        klfile_pack(b, N, rec);
        struct klfile_tok t;
        int tgt = rep * 7 % N;
        klfile_score(b, rec, N, tgt, &t);
        ck_assert(fabs(t.kld) < 1e-3);
        ck_assert_int_eq(t.same_top, 1);
        ck_assert_double_eq_tol(t.nll, t.nll_base, 2e-4);
        ck_assert(fabs(t.dp) < 1e-4);
        for (int i = 0; i < N; i++)
            c[i] = b[i] + (float)(tu_normal() * 0.5);
        log_softmax(b, N, lb);
        log_softmax(c, N, lc);
        double kl = 0;
        for (int i = 0; i < N; i++)
            kl += exp(lb[i]) * (lb[i] - lc[i]);
        klfile_score(c, rec, N, tgt, &t);
        ck_assert_double_eq_tol(t.kld, kl, 1e-3 * (1 + kl));
        ck_assert_double_eq_tol(t.nll, -lc[tgt], 1e-5);
        ck_assert_double_eq_tol(t.nll_base, -lb[tgt], 2e-4);
        ck_assert_double_eq_tol(t.dp, exp(lc[tgt]) - exp(lb[tgt]), 1e-4);
    }
}
END_TEST

/* ---- files ---- */

static void write_file(const char *path, int n_ctx, int vocab, int n_chunk, const int *toks,
                       float *logits)
{
    struct klfile_out w;
    struct qerr err = {0};
    ck_assert_int_eq(klfile_create(&w, path, n_ctx, vocab, n_chunk, toks, &err), 0);
    int rows = klfile_rows(n_ctx);
    uint16_t *scratch = malloc((size_t)rows * w.nv * 2);
    for (int c = n_chunk - 1; c >= 0; c--) /* any order */
        ck_assert_int_eq(klfile_write_chunk(&w, c, logits + (size_t)c * rows * vocab, scratch,
                                            &err), 0);
    ck_assert_int_eq(klfile_commit(&w, &err), 0);
    free(scratch);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

START_TEST(test_round_trip_layout)
{
    enum { CTX = 8, V = 5, CH = 3, ROWS = CTX - 1 - CTX / 2 };
    int toks[CTX * CH];
    float logits[CH * ROWS * V];
    tu_seed(4);
    for (int i = 0; i < CTX * CH; i++)
        toks[i] = i % V;
    random_row(logits, CH * ROWS * V, 2);
    const char *p = tu_tmpfile("rt.kl");
    write_file(p, CTX, V, CH, toks, logits);
    size_t n;
    unsigned char *b = slurp(p, &n);
    int nv = klfile_row_words(V); /* 10: 4 + 5 + 1 padding */
    ck_assert_uint_eq(n, 20 + 4 * CTX * CH + 2 * (size_t)CH * ROWS * nv);
    ck_assert(!memcmp(b, "_logits_", 8));
    int32_t h[3];
    memcpy(h, b + 8, 12);
    ck_assert(h[0] == CTX && h[1] == V && h[2] == CH);
    ck_assert(!memcmp(b + 20, toks, sizeof toks));
    /* chunk 1, record 2 at its place, byte for byte the packed row */
    uint16_t rec[16];
    klfile_pack(logits + (1 * ROWS + 2) * V, V, rec);
    size_t off = 20 + sizeof toks + 2 * (size_t)(1 * ROWS + 2) * nv;
    ck_assert(!memcmp(b + off, rec, 2 * (size_t)nv));
    ck_assert_int_eq(rec[4 + V], 0);
    free(b);

    struct klfile k;
    struct qerr err = {0};
    ck_assert_int_eq(klfile_open(&k, p, &err), 0);
    ck_assert(k.n_ctx == CTX && k.n_vocab == V && k.n_chunk == CH && k.rows == ROWS && k.nv == nv);
    ck_assert(!memcmp(k.tokens, toks, sizeof toks));
    uint16_t buf[ROWS * 16];
    ck_assert_int_eq(klfile_read_chunk(&k, 2, buf, &err), 0);
    for (int r = 0; r < ROWS; r++) {
        klfile_pack(logits + (2 * ROWS + r) * V, V, rec);
        ck_assert(!memcmp(buf + r * nv, rec, 2 * (size_t)nv));
    }
    ck_assert_int_eq(klfile_read_chunk(&k, 3, buf, &err), QERR_ARG);
    /* the run checks: vocabulary, context, chunks, tokens */
    ck_assert_int_eq(klfile_check_run(&k, CTX, V, CH, toks, &err), 0);
    ck_assert_int_eq(klfile_check_run(&k, CTX, V, 2, toks, &err), 0);
    ck_assert_int_eq(klfile_check_run(&k, CTX, V + 1, CH, toks, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "n_vocab 5"));
    ck_assert_int_eq(klfile_check_run(&k, CTX + 2, V, CH, toks, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "n_ctx 8"));
    ck_assert_int_eq(klfile_check_run(&k, CTX, V, CH + 1, toks, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "n_chunk 3"));
    toks[13] = (toks[13] + 1) % V;
    ck_assert_int_eq(klfile_check_run(&k, CTX, V, CH, toks, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "token 13 (chunk 1, position 5)"));
    klfile_close(&k);
}
END_TEST

/* A file that is bad in one field; the message must name it. */
static void expect_bad(const unsigned char *b, size_t n, const char *what)
{
    const char *p = tu_tmpfile("bad.kl");
    ck_assert_int_eq(tu_write_file(p, b, n), 0);
    struct klfile k;
    struct qerr err = {0};
    int rc = klfile_open(&k, p, &err);
    if (rc == 0) { /* header fine: the records must be refused */
        uint16_t *buf = malloc((size_t)k.rows * k.nv * 2);
        rc = klfile_read_chunk(&k, 0, buf, &err);
        free(buf);
        klfile_close(&k);
    }
    ck_assert_msg(rc == QERR_FORMAT, "%s: rc %d (%s)", what, rc, err.msg);
    ck_assert_msg(strstr(err.msg, what) && strstr(err.msg, p), "%s: '%s'", what, err.msg);
}

START_TEST(test_bad_files)
{
    enum { CTX = 4, V = 3, CH = 1 };
    int toks[CTX * CH] = {0, 1, 2, 1};
    float logits[V] = {0.5f, -1, 2};
    const char *p = tu_tmpfile("good.kl");
    write_file(p, CTX, V, CH, toks, logits);
    size_t n;
    unsigned char *g = slurp(p, &n), *b = malloc(n + 8);
    struct klfile k;
    struct qerr err = {0};
    ck_assert_int_eq(klfile_open(&k, tu_tmpfile("missing.kl"), &err), QERR_IO);
    ck_assert_int_eq(klfile_open(&k, p, &err), 0);
    klfile_close(&k);
    expect_bad(g, 0, "truncated header");
    expect_bad(g, 12, "truncated header");
    memcpy(b, g, n); b[0] = 'X';
    expect_bad(b, n, "magic");
    expect_bad(g, n - 1, "truncated");
    expect_bad(g, 20 + 8, "truncated"); /* tokens cut */
    memcpy(b, g, n); b[n] = 0;
    expect_bad(b, n + 1, "trailing bytes");
    int32_t v;
    memcpy(b, g, n); v = 0; memcpy(b + 8, &v, 4);
    expect_bad(b, n, "n_ctx 0");
    memcpy(b, g, n); v = -7; memcpy(b + 12, &v, 4);
    expect_bad(b, n, "n_vocab -7");
    memcpy(b, g, n); v = 1000000; memcpy(b + 16, &v, 4);
    expect_bad(b, n, "n_chunk 1000000");
    memcpy(b, g, n); v = 2000000000; memcpy(b + 8, &v, 4); memcpy(b + 12, &v, 4);
    expect_bad(b, n, "implausibly large");
    memcpy(b, g, n); v = 3; memcpy(b + 20 + 4 * 2, &v, 4);
    expect_bad(b, n, "token 2 is 3");
    float nanv = NAN, pos = 1.0f;
    size_t rec0 = 20 + sizeof toks;
    memcpy(b, g, n); memcpy(b + rec0, &nanv, 4);
    expect_bad(b, n, "chunk 0 record 0");
    memcpy(b, g, n); memcpy(b + rec0 + 4, &pos, 4); /* min_log_prob > 0 */
    expect_bad(b, n, "min_log_prob");
    /* the writer refuses what llama.cpp could not score */
    struct klfile_out w;
    ck_assert_int_eq(klfile_create(&w, tu_tmpfile("w.kl"), 2, V, 1, toks, &err), QERR_ARG);
    free(g);
    free(b);
}
END_TEST

/* ---- through ppl_run on stories260K ---- */

struct env {
    struct qmodel m;
    struct fwd f;
    int *toks;
    size_t n;
};

static void env_open(struct env *e, int n_tok, int max_tokens)
{
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&e->m, tu_shared("models/stories260K.bin"), &err), 0);
    ck_assert_int_eq(fwd_init(&e->f, &e->m, max_tokens, &err), 0);
    e->n = (size_t)n_tok;
    e->toks = malloc(e->n * sizeof(int));
    tu_seed(12);
    for (size_t i = 0; i < e->n; i++)
        e->toks[i] = 3 + (int)(tu_uniform() * 60);
}

static void env_close(struct env *e)
{
    fwd_free(&e->f);
    qmodel_close(&e->m);
    free(e->toks);
}

static void perturb(struct env *e)
{
    struct qtensor *t = qmodel_get(&e->m, 1, QR_FFN_DOWN);
    float *w = malloc((size_t)t->nelem * sizeof(float));
    const float *src = qtensor_f32_orig(t);
    for (int64_t i = 0; i < t->nelem; i++)
        w[i] = src[i] * (i % 3 ? 1.3f : -0.5f);
    qtensor_set_override(t, w); /* the model owns w */
}

START_TEST(test_ppl_round_trip)
{
    struct env e;
    struct qerr err = {0};
    env_open(&e, 64 * 4 + 5, 64);
    const char *p = tu_tmpfile("base.kl");
    struct ppl_opts o = {.n_ctx = 64, .bos = 1};
    struct ppl_result plain, self, file1, file2, exact;
    struct klfile_out w;
    ck_assert_int_eq(klfile_create(&w, p, 64, 512, 3, e.toks, &err), 0);
    o.kl_out = &w; /* made for 3 chunks, the run has 4 */
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &plain, &err), QERR_ARG);
    o.max_chunks = 3;
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &plain, &err), 0);
    ck_assert_int_eq(klfile_commit(&w, &err), 0);
    struct klfile k;
    ck_assert_int_eq(klfile_open(&k, p, &err), 0);
    o.kl_out = NULL;
    o.kl_in = &k;
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &self, &err), QERR_ARG); /* not KL mode */
    o.kl = 1;
    o.full = 1;
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &self, &err), QERR_ARG);
    o.full = 0;
    /* the float model against its own file: KL ~ 0, every top token equal */
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &self, &err), 0);
    ck_assert(self.kl && self.kl_file);
    ck_assert_double_eq_tol(self.ppl, plain.ppl, 1e-5 * plain.ppl);
    ck_assert(fabs(self.kld.mean) < 1e-5 && self.top1 == 1.0);
    /* random tokens: many targets lie beyond 16 nats and read the floor,
     * which only raises the base probability */
    ck_assert(self.base_ppl <= self.ppl && self.nll_cor > 0.9);
    /* a perturbed candidate: one worker or two, the same; close to the
     * exact in-process KL (the file keeps log-probs to 1.2e-4 nats) */
    perturb(&e);
    o.max_workers = 1;
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &file1, &err), 0);
    o.max_workers = 0;
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &file2, &err), 0);
    ck_assert_double_eq(file1.kld.mean, file2.kld.mean);
    ck_assert_double_eq(file1.dp.rms, file2.dp.rms);
    o.kl_in = NULL;
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &exact, &err), 0);
    ck_assert(exact.kld.mean > 1e-3);
    ck_assert_double_eq_tol(file1.ppl, exact.ppl, 1e-5 * exact.ppl);
    ck_assert_double_eq_tol(file1.kld.mean, exact.kld.mean, 0.01 * exact.kld.mean);
    ck_assert_double_eq_tol(file1.top1, exact.top1, 0.02);
    ck_assert_double_eq_tol(file1.dp.rms, exact.dp.rms, 0.01 * exact.dp.rms);
    /* another token stream is refused, naming the token */
    o.kl_in = &k;
    e.toks[70] = e.toks[70] == 3 ? 4 : 3;
    ck_assert_int_eq(ppl_run(&e.f, e.toks, e.n, &o, &file1, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "token 70"));
    klfile_close(&k);
    env_close(&e);
}
END_TEST

static Suite *klfile_suite(void)
{
    Suite *s = suite_create("klfile");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_pack_degenerate);
    tcase_add_test(tc, test_pack_error_bound);
    tcase_add_test(tc, test_score);
    tcase_add_test(tc, test_round_trip_layout);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_ppl_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(klfile_suite());
}
