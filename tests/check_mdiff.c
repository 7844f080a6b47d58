/* mdiff: a model against a base model.  A missing base, tensors missing
 * from the base, identical files across formats, and a GGUF copy with one
 * tensor shifted by a known constant (error metrics and |W - W_base|). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/gguf_write.h"
#include "src/mdiff.h"
#include "tests/testutil.h"

START_TEST(missing_base)
{
    const char *gg = tu_shared("models/stories260K.gguf");
    if (!gg)
        return;
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&m, gg, &err), 0);
    struct mdiff d;
    ck_assert_int_lt(mdiff_open(&d, &m, tu_tmpfile("nope.gguf"), &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "base model: "));
    ck_assert_ptr_nonnull(strstr(err.msg, "nope.gguf"));
    mdiff_close(&d); /* harmless after a failed open */
    qmodel_close(&m);
}
END_TEST

START_TEST(same_weights_other_format)
{
    const char *gg = tu_shared("models/stories260K.gguf"), *bin = tu_shared("models/stories260K.bin");
    if (!gg || !bin)
        return;
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&m, gg, &err), 0);
    struct mdiff d;
    ck_assert_msg(mdiff_open(&d, &m, bin, &err) == 0, "%s", err.msg);
    for (int i = 0; i < m.n_tensors; i++) {
        const struct mdiff_row *r = mdiff_row(&d, i);
        if (!strcmp(m.tensors[i].name, "output")) {
            ck_assert_int_eq(r->state, -1);   /* the .bin ties it to token_embd */
            continue;
        }
        ck_assert_int_eq(r->state, 1);
        ck_assert(r->e.mse == 0 && r->e.sqnr_db == 300 && r->bpw == 32 && r->base_bpw == 32);
        ck_assert_ptr_eq(mdiff_row(&d, i), r); /* cached */
    }
    float x[4];
    ck_assert_int_eq(mdiff_absdiff(&d, qmodel_find(&m, "output"), x, &err), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "output: not in the base model"));
    mdiff_close(&d);
    qmodel_close(&m);
}
END_TEST

START_TEST(known_shift)
{
    const char *gg = tu_shared("models/stories260K.gguf");
    if (!gg)
        return;
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&m, gg, &err), 0);
    int q = qmodel_find(&m, "blk.1.attn_q");
    struct qtensor *t = &m.tensors[q];
    const float *w = qtensor_f32_orig(t);
    float *ov = malloc((size_t)t->nelem * sizeof *ov);
    double sig = 0;
    for (int64_t k = 0; k < t->nelem; k++) {
        ov[k] = w[k] + 0.01f;
        sig += (double)w[k] * w[k];
    }
    qtensor_set_override(t, ov);
    const char *copy = tu_tmpfile("shifted.gguf");
    ck_assert_msg(gguf_write_model(&m, copy, 1, &err) == 0, "%s", err.msg);
    qmodel_clear_overrides(&m);
    struct qmodel s;
    ck_assert_int_eq(qmodel_open(&s, copy, &err), 0);
    struct mdiff d;
    ck_assert_msg(mdiff_open(&d, &s, gg, &err) == 0, "%s", err.msg);
    int qs = qmodel_find(&s, "blk.1.attn_q");
    const struct mdiff_row *r = mdiff_row(&d, qs);
    ck_assert_int_eq(r->state, 1);
    ck_assert_double_eq_tol(r->e.mse, 1e-4, 1e-8);         /* float rounding of w + 0.01 */
    ck_assert_double_eq_tol(r->e.max_abs, 0.01, 1e-6);
    ck_assert_double_eq_tol(r->e.rel_fro, sqrt(1e-4 * t->nelem / sig), 1e-5);
    ck_assert_int_eq(mdiff_row(&d, qmodel_find(&s, "blk.0.attn_q"))->e.mse == 0, 1);
    float *ad = malloc((size_t)t->nelem * sizeof *ad);
    ck_assert_int_eq(mdiff_absdiff(&d, qs, ad, &err), 0);
    for (int64_t k = 0; k < t->nelem; k++)
        ck_assert(fabsf(ad[k] - 0.01f) < 1e-6f);
    free(ad);
    mdiff_close(&d);
    qmodel_close(&s);
    qmodel_close(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mdiff");
    TCase *t = tcase_create("mdiff");
    tcase_add_test(t, missing_base);
    tcase_add_test(t, same_weights_other_format);
    tcase_add_test(t, known_shift);
    suite_add_tcase(s, t);
    return tu_run(s);
}
