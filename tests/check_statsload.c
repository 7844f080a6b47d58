/* statsload: the dashboard's background statistics (ui/statsload.h) give
 * exactly what the synchronous pass (vm_layers_init, tstats_tensor) gives,
 * say which tensors failed, never touch the model's float copies or
 * overrides, and stop when cancelled. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/half.h"
#include "tests/testutil.h"
#include "ui/statsload.h"
#include "ui/vm_layers.h"

#define NT 6
static float w[NT][256];
static struct qtensor tens[NT];
static struct qmodel model;

static void make_model(int bad)
{
    static const char *const names[NT] = {"token_embd", "blk.0.attn_q", "blk.0.attn_k",
                                          "blk.0.ffn_up", "blk.1.attn_q", "output_norm"};
    memset(&model, 0, sizeof model);
    tu_seed(3);
    for (int i = 0; i < NT; i++) {
        struct qtensor *t = &tens[i];
        memset(t, 0, sizeof *t);
        for (int k = 0; k < 256; k++)
            w[i][k] = (float)(0.02 * tu_normal());
        w[i][i * 7] = 1.5f * (float)(i + 1);
        snprintf(t->name, sizeof t->name, "%s", names[i]);
        qmodel_classify(t->name, &t->layer, &t->role);
        t->dtype = QD_F32;
        t->ndim = 2;
        t->shape[0] = 16;
        t->shape[1] = 16;
        t->nelem = 256;
        t->nbytes = 1024;
        t->data = w[i];
    }
    if (bad) { /* a block type whose blocks do not fit: no decoder can read it */
        tens[2].dtype = QD_Q4_0;
        tens[2].shape[1] = 8;
        tens[2].shape[0] = 1;
        tens[2].ndim = 1;
        tens[2].nelem = 8;
        tens[2].nbytes = 18;
    }
    model.tensors = tens;
    model.n_tensors = NT;
    model.cfg.n_layers = 2;
}

static void load_all(struct vm_layers *v)
{
    struct statsload l;
    ck_assert_int_eq(vm_layers_init_rows(v, &model), 0);
    ck_assert_int_eq(statsload_start(&l, &model, 0), 0);
    statsload_want(&l, NT - 1);
    statsload_join(&l);
    ck_assert(!statsload_busy(&l));
    ck_assert_int_eq(statsload_done(&l), NT);
    ck_assert_int_eq(statsload_take(&l, v), NT);
    ck_assert_int_eq(statsload_take(&l, v), 0); /* each once */
    statsload_free(&l);
}

START_TEST(same_as_synchronous)
{
    make_model(0);
    struct vm_layers a, b;
    ck_assert_int_eq(vm_layers_init(&a, &model, NULL, NULL), 0);
    load_all(&b);
    ck_assert_int_eq(b.n_stats, NT);
    ck_assert_int_eq(b.n_failed, 0);
    for (int i = 0; i < NT; i++) {
        ck_assert_int_eq(b.rows[i].st_state, VL_ST_OK);
        ck_assert(memcmp(&a.rows[i].st, &b.rows[i].st, sizeof a.rows[i].st) == 0);
        ck_assert_int_eq(a.rows[i].difficulty, b.rows[i].difficulty);
    }
    ck_assert_double_eq_tol(b.rows[1].st.absmax, 3.0, 1e-6);
    vm_layers_free(&a);
    vm_layers_free(&b);
}
END_TEST

/* The thread reads the file bytes only: a float copy or an override the
 * main thread or a job installs is neither used nor touched. */
START_TEST(ignores_overrides)
{
    make_model(0);
    float ov[256];
    for (int k = 0; k < 256; k++)
        ov[k] = 100.0f;
    tens[1].override = ov;
    struct vm_layers v;
    load_all(&v);
    ck_assert_double_eq_tol(v.rows[1].st.absmax, 3.0, 1e-6);
    ck_assert_ptr_eq(tens[1].override, ov);
    tens[1].override = NULL;
    vm_layers_free(&v);
}
END_TEST

START_TEST(failure_is_reported)
{
    make_model(1);
    struct vm_layers v;
    load_all(&v);
    ck_assert_int_eq(v.n_stats, NT);
    ck_assert_int_eq(v.n_failed, 1);
    ck_assert_int_eq(v.rows[2].st_state, VL_ST_FAILED);
    ck_assert_msg(strstr(v.rows[2].st_err, "blk.0.attn_k") && strstr(v.rows[2].st_err, "Q4_0"),
                  "message: %s", v.rows[2].st_err);
    ck_assert_int_eq(v.rows[3].st_state, VL_ST_OK);
    vm_layers_free(&v);
}
END_TEST

START_TEST(cancel_marks_the_rest)
{
    make_model(0);
    struct vm_layers v;
    struct statsload l;
    ck_assert_int_eq(vm_layers_init_rows(&v, &model), 0);
    ck_assert_int_eq(statsload_start(&l, &model, 0), 0);
    statsload_cancel(&l);
    statsload_join(&l);
    statsload_take(&l, &v);
    ck_assert_int_eq(v.n_stats, NT); /* every row has an answer */
    for (int i = 0; i < NT; i++)
        if (v.rows[i].st_state == VL_ST_FAILED)
            ck_assert_str_eq(v.rows[i].st_err, "statistics not computed: cancelled");
    statsload_free(&l);
    statsload_free(&l); /* twice is harmless */
    vm_layers_free(&v);
}
END_TEST

START_TEST(empty_model)
{
    struct qmodel m;
    memset(&m, 0, sizeof m);
    struct vm_layers v;
    struct statsload l;
    ck_assert_int_eq(vm_layers_init_rows(&v, &m), 0);
    ck_assert_int_eq(statsload_start(&l, &m, 0), 0);
    statsload_want(&l, 3); /* out of range: ignored */
    statsload_join(&l);
    ck_assert_int_eq(statsload_take(&l, &v), 0);
    ck_assert(statsload_eta(&l, 0) < 0);
    statsload_free(&l);
    vm_layers_free(&v);
}
END_TEST

/* F16 tensors within the budget: the thread makes each tensor's lazy
 * float copy (what qtensor_f32_orig returns), equal to converting it; one
 * the main thread made first stays.  Over the budget nothing is copied. */
static uint16_t h[NT][256];

static void to_f16(void)
{
    for (int i = 0; i < NT; i++) {
        for (int k = 0; k < 256; k++)
            h[i][k] = f32_to_f16(w[i][k]);
        tens[i].dtype = QD_F16;
        tens[i].nbytes = 512;
        tens[i].data = h[i];
    }
}

START_TEST(float_copies_within_budget)
{
    make_model(0);
    to_f16();
    struct vm_layers a, v;
    ck_assert_int_eq(vm_layers_init(&a, &model, NULL, NULL), 0);
    ck_assert_double_eq(statsload_copy_bytes(&model), NT * 256.0 * 4);
    const float *mine = qtensor_f32_orig(&tens[4]); /* made before the thread's */
    struct statsload l;
    ck_assert_int_eq(vm_layers_init_rows(&v, &model), 0);
    ck_assert_int_eq(statsload_start(&l, &model, NT * 256.0 * 4), 0);
    statsload_join(&l);
    ck_assert_int_eq(statsload_take(&l, &v), NT);
    float ref[256];
    for (int i = 0; i < NT; i++) {
        ck_assert_ptr_nonnull(tens[i].f32);
        qtensor_read_f32(&tens[i], ref);
        ck_assert(memcmp(ref, tens[i].f32, sizeof ref) == 0);
        ck_assert(memcmp(&a.rows[i].st, &v.rows[i].st, sizeof a.rows[i].st) == 0);
    }
    ck_assert_ptr_eq(tens[4].f32, mine);
    statsload_free(&l);
    for (int i = 0; i < NT; i++) {
        free(tens[i].f32);
        tens[i].f32 = NULL;
    }
    vm_layers_free(&v);
    /* one byte short of the budget: statistics from tiles, no copies */
    ck_assert_int_eq(vm_layers_init_rows(&v, &model), 0);
    ck_assert_int_eq(statsload_start(&l, &model, NT * 256.0 * 4 - 1), 0);
    statsload_join(&l);
    statsload_take(&l, &v);
    for (int i = 0; i < NT; i++) {
        ck_assert_ptr_null(tens[i].f32);
        ck_assert(memcmp(&a.rows[i].st, &v.rows[i].st, sizeof a.rows[i].st) == 0);
    }
    statsload_free(&l);
    vm_layers_free(&v);
    vm_layers_free(&a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("statsload");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, empty_model);
    tcase_add_test(tc, same_as_synchronous);
    tcase_add_test(tc, ignores_overrides);
    tcase_add_test(tc, failure_is_reported);
    tcase_add_test(tc, cancel_marks_the_rest);
    tcase_add_test(tc, float_copies_within_budget);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
