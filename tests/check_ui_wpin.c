/* check_ui_wpin: the dashboard's float copies stay under the budget
 * (ui/wpin.h, src/model.h): a view pins the tensor it shows and releases
 * it when the tensor changes or the view is left, so browsing every
 * tensor of a model holds the budget's worth of cached copies plus the
 * one tensor on screen, never a copy of each tensor seen. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <check.h>
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/half.h"
#include "src/model.h"
#include "ui/draw.h"
#include "ui/keys.h"
#include "ui/tui.h"
#include "ui/tui_int.h"
#include "ui/wpin.h"
#include "tests/testutil.h"

#define NT 5
#define TN 2048

static void f16_model(struct qmodel *m, const char *path)
{
    tu_f16_model(m, path, NT, TN);
}

static int pins(const struct qmodel *m)
{
    int n = 0;
    for (int k = 0; k < m->n_tensors; k++)
        n += m->tensors[k].f32_pins;
    return n;
}

START_TEST(wpin_one_pin_at_a_time)
{
    struct qmodel m;
    f16_model(&m, tu_tmpfile("wpin.bin"));
    const size_t one = TN * sizeof(float);
    qmodel_set_f32_budget(2 * one);
    struct wpin p;
    wpin_init(&p);
    ck_assert_ptr_null(wpin_get(&p, NULL));
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < NT; k++) {
            const float *x = wpin_get(&p, &m.tensors[k]);
            ck_assert_ptr_nonnull(x);
            ck_assert_ptr_eq(wpin_get(&p, &m.tensors[k]), x); /* the same pin */
            ck_assert_int_eq(m.tensors[k].f32_pins, 1);
            ck_assert_int_eq(pins(&m), 1);
            for (int i = 0; i < TN; i += 101)
                ck_assert(x[i] == f16_to_f32(f32_to_f16((float)k + (float)i / TN)));
            /* the budget's two cached copies, one of them the pinned one */
            ck_assert_uint_le(qmodel_f32_bytes(), 2 * one);
        }
    wpin_drop(&p);
    ck_assert_int_eq(pins(&m), 0);
    ck_assert_ptr_null(p.t);
    wpin_drop(&p); /* twice: nothing */
    ck_assert_int_eq(pins(&m), 0);
    /* a budget below one tensor: the pinned one is kept, nothing else */
    qmodel_set_f32_budget(one / 2);
    for (int k = 0; k < NT; k++) {
        ck_assert_ptr_nonnull(wpin_get(&p, &m.tensors[k]));
        ck_assert_uint_le(qmodel_f32_bytes(), one);
    }
    wpin_drop(&p);
    qmodel_close(&m);
    ck_assert_uint_eq(qmodel_f32_bytes(), 0);
    qmodel_set_f32_budget(QM_F32_BUDGET_DEFAULT);
}
END_TEST

/* Keys, then the frames that finish their work (maps, histograms, the
 * Quant view's buffers), as the main loop's idle ticks would. */
static void key(struct tui *t, int k)
{
    tui_step(t, k);
    for (int i = 0; i < 10000 && tui_idle(t); i++)
        ;
}

static size_t largest_copy(const struct qmodel *m)
{
    size_t b = 0;
    for (int k = 0; k < m->n_tensors; k++)
        if ((size_t)m->tensors[k].nelem * 4 > b)
            b = (size_t)m->tensors[k].nelem * 4;
    return b;
}

/* The dashboard on a generated F16 GGUF: every tensor shown in the
 * Tensor and the Quant view with a budget of two copies of the largest
 * tensor; what is held stays within the budget plus the tensor on
 * screen (the dashboard before pins held a copy of every tensor shown),
 * and leaving for the Layers view releases every pin. */
START_TEST(dashboard_walk_stays_in_budget)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmpfile("wpin-walk.gguf"));
    tu_genmodel(path, "--format gguf --dim 64 --hidden 160 --layers 3 --heads 4 --vocab 700 "
                "--ctx 64 --dtype f16");
    setenv("QLENS_NO_STATS_CACHE", "1", 1);
    setenv("QLENS_SESSION", tu_tmpfile("wpin-session.json"), 1);
    setenv("LINES", "40", 1);
    setenv("COLUMNS", "120", 1);
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    SCREEN *scr = newterm("xterm-256color", out, in);
    ck_assert_ptr_nonnull(scr);
    draw_init();
    /* the budget before opening: the statistics thread then warms no copy
     * (the model's copies exceed it) */
    struct qmodel probe;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&probe, path, &err), 0);
    size_t big = largest_copy(&probe), total = 0;
    for (int k = 0; k < probe.n_tensors; k++)
        total += (size_t)probe.tensors[k].nelem * 4;
    qmodel_close(&probe);
    size_t budget = 2 * big;
    ck_assert_uint_gt(total, 2 * budget); /* the walk would pass it otherwise */
    qmodel_set_f32_budget(budget);
    char ebuf[800];
    struct tui *t = tui_open(path, ebuf, sizeof ebuf);
    ck_assert_msg(t != NULL, "%s", ebuf);
    tui_wait_stats(t);
    tui_draw(t);
    int seen = 0;
    size_t peak = 0;
    for (int row = 0; row < 2 * t->m.n_tensors && seen < t->m.n_tensors; row++) {
        key(t, '1');
        key(t, UIK_DOWN);
        key(t, '2');
        key(t, '3');
        ck_assert_int_ge(t->ti, 0);
        size_t cur = (size_t)t->m.tensors[t->ti].nelem * 4, held = qmodel_f32_bytes();
        peak = held > peak ? held : peak;
        ck_assert_msg(held <= budget + cur, "%zu bytes of copies after %s (budget %zu)", held,
                      t->m.tensors[t->ti].name, budget);
        for (int k = 0; k < t->m.n_tensors; k++) /* only the tensor shown is pinned */
            ck_assert_msg(k == t->ti || t->m.tensors[k].f32_pins == 0, "%s pinned",
                          t->m.tensors[k].name);
        seen++;
    }
    ck_assert_int_ge(seen, t->m.n_tensors / 2);
    ck_assert_uint_gt(peak, 0); /* the views did make copies */
    key(t, '1'); /* leaving releases the pins */
    ck_assert_int_eq(pins(&t->m), 0);
    ck_assert_uint_le(qmodel_f32_bytes(), budget);
    tui_close(t);
    endwin();
    delscreen(scr);
    fclose(out);
    fclose(in);
    qmodel_set_f32_budget(QM_F32_BUDGET_DEFAULT);
    remove(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ui_wpin");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wpin_one_pin_at_a_time);
    tcase_add_test(tc, dashboard_walk_stays_in_budget);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
