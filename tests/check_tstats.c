/* Tests of src/tstats: every tensor of a real model, per channel,
 * selection by regex, progress and cancel, overrides. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/tstats.h"
#include "tests/testutil.h"

static void open_model(struct qmodel *m, const char *rel)
{
    const char *p = tu_shared(rel);
    ck_assert_msg(p != NULL, "missing %s under $QLENS_SHARED", rel);
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(m, p, &err) == 0, "%s", err.msg);
}

static void same(const struct stats *a, const struct stats *b)
{
    ck_assert(a->n == b->n && a->min == b->min && a->max == b->max);
    ck_assert(fabs(a->mean - b->mean) <= 1e-12 * (fabs(b->mean) + b->std));
    ck_assert(fabs(a->std - b->std) <= 1e-10 * b->std);
    ck_assert(fabs(a->kurt - b->kurt) <= 1e-9 * b->kurt);
    ck_assert(a->n_k3 == b->n_k3 && a->n_k6 == b->n_k6 && a->n_abs == b->n_abs);
}

START_TEST(test_empty_selection)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    unsigned char *sel = calloc((size_t)m.n_tensors, 1);
    struct tstats_opts o;
    tstats_opts_default(&o);
    o.select = sel;
    struct tstats ts;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), 0);
    ck_assert_int_eq(ts.n, 0);
    tstats_free(&ts);
    tstats_free(&ts); /* idempotent */
    free(sel);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_all_tensors_vs_ref)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    struct tstats ts;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&m, NULL, &ts, &err), 0);
    ck_assert_int_eq(ts.n, m.n_tensors);
    for (int i = 0; i < ts.n; i++) {
        struct qtensor *t = &m.tensors[ts.rows[i].tensor];
        ck_assert_int_eq(ts.rows[i].tensor, i);
        ck_assert(ts.rows[i].n_channels == 0 && ts.rows[i].ch == NULL);
        struct stats ref;
        stats_compute_ref(qtensor_f32(t), (size_t)t->nelem, NULL, &ref);
        same(&ts.rows[i].st, &ref);
        ck_assert(ts.rows[i].rows * ts.rows[i].cols == t->nelem);
    }
    tstats_free(&ts);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_per_channel)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    unsigned char *sel;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_select(&m, "^blk\\.0\\.ffn_down$", &sel, &err), 1);
    for (int axis = 0; axis < 2; axis++) {
        struct tstats_opts o;
        tstats_opts_default(&o);
        o.select = sel;
        o.channels = axis ? TSTATS_COLS : TSTATS_ROWS;
        o.st.abs_thresh = 0.3;
        struct tstats ts;
        ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), 0);
        ck_assert_int_eq(ts.n, 1);
        struct tstats_row *r = &ts.rows[0];
        struct qtensor *t = &m.tensors[r->tensor];
        ck_assert_str_eq(t->name, "blk.0.ffn_down");
        ck_assert(r->rows == 64 && r->cols == 172); /* (dim, hidden) */
        ck_assert(r->n_channels == (axis ? 172 : 64));
        const float *x = qtensor_f32(t);
        float col[64];
        for (int64_t c = 0; c < r->n_channels; c++) {
            struct stats ref;
            if (axis) {
                for (int k = 0; k < 64; k++)
                    col[k] = x[k * 172 + c];
                stats_compute_ref(col, 64, &o.st, &ref);
            } else {
                stats_compute_ref(x + c * 172, 172, &o.st, &ref);
            }
            same(&r->ch[c], &ref);
        }
        tstats_free(&ts);
    }
    free(sel);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_select)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    unsigned char *sel;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_select(&m, "attn_q$", &sel, &err), m.cfg.n_layers);
    free(sel);
    ck_assert_int_eq(tstats_select(&m, "nothing-like-this", &sel, &err), 0);
    free(sel);
    ck_assert_int_eq(tstats_select(&m, "blk.(0|1", &sel, &err), QERR_ARG);
    ck_assert(sel == NULL && strstr(err.msg, "blk.(0|1") != NULL);
    qmodel_close(&m);
}
END_TEST

struct prog {
    int calls, last_done, last_total, stop_at;
};

static int on_progress(void *ud, int done, int total)
{
    struct prog *p = ud;
    ck_assert(done == p->last_done + (p->calls > 0));
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    return p->stop_at >= 0 && done >= p->stop_at;
}

START_TEST(test_progress_cancel)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    struct tstats_opts o;
    tstats_opts_default(&o);
    struct prog p = {0, 0, 0, -1};
    o.progress = on_progress;
    o.ud = &p;
    struct tstats ts;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), 0);
    ck_assert_int_eq(p.calls, m.n_tensors + 1); /* 0, 1, ..., total */
    ck_assert_int_eq(p.last_done, m.n_tensors);
    ck_assert_int_eq(p.last_total, m.n_tensors);
    tstats_free(&ts);

    p = (struct prog){0, 0, 0, 3};
    ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), QERR_CANCEL);
    ck_assert_int_eq(ts.n, 3);
    tstats_free(&ts);

    volatile int cancel = 1;
    o.progress = NULL;
    o.cancel = &cancel;
    ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), QERR_CANCEL);
    ck_assert_int_eq(ts.n, 0);
    tstats_free(&ts);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_override)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    int i = qmodel_find(&m, "blk.1.attn_v");
    ck_assert_int_ge(i, 0);
    struct qtensor *t = &m.tensors[i];
    float *w = malloc((size_t)t->nelem * sizeof *w);
    for (int64_t k = 0; k < t->nelem; k++)
        w[k] = (k & 1) ? 2.0f : -2.0f; /* two-point: std 2, kurt 1 */
    qtensor_set_override(t, w);
    struct tstats_opts o;
    tstats_opts_default(&o);
    struct tstats_row r;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_tensor(&m, i, &o, &r, &err), 0);
    ck_assert(r.st.std == 2 && r.st.kurt == 1 && r.st.mean == 0);
    qmodel_close(&m);
}
END_TEST

/* Whole-tensor statistics do not depend on row order, so the llama2.c
 * checkpoint and its GGUF conversion (Q/K rows permuted) must agree
 * tensor by tensor, by canonical name. */
START_TEST(test_bin_vs_gguf)
{
    struct qmodel a, b;
    open_model(&a, "models/stories260K.bin");
    open_model(&b, "models/stories260K.gguf");
    struct tstats ta, tb;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&a, NULL, &ta, &err), 0);
    ck_assert_int_eq(tstats_compute(&b, NULL, &tb, &err), 0);
    int matched = 0;
    for (int i = 0; i < ta.n; i++) {
        int j = qmodel_find(&b, a.tensors[i].name);
        ck_assert_msg(j >= 0, "%s missing from the GGUF", a.tensors[i].name);
        const struct stats *x = &ta.rows[i].st, *y = &tb.rows[j].st;
        ck_assert_msg(x->n == y->n && x->min == y->min && x->max == y->max, "%s",
                      a.tensors[i].name);
        ck_assert_msg(fabs(x->std - y->std) <= 1e-6 * y->std, "%s std", a.tensors[i].name);
        ck_assert_msg(fabs(x->kurt - y->kurt) <= 1e-6 * y->kurt, "%s kurt", a.tensors[i].name);
        ck_assert(x->n_k3 == y->n_k3);
        matched++;
    }
    ck_assert_int_eq(matched, a.n_tensors);
    tstats_free(&ta);
    tstats_free(&tb);
    qmodel_close(&a);
    qmodel_close(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tstats");
    TCase *t = tcase_create("tstats");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, test_empty_selection);
    tcase_add_test(t, test_all_tensors_vs_ref);
    tcase_add_test(t, test_per_channel);
    tcase_add_test(t, test_select);
    tcase_add_test(t, test_progress_cancel);
    tcase_add_test(t, test_override);
    tcase_add_test(t, test_bin_vs_gguf);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
