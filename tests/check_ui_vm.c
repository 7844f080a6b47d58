/* View-model tests of the dashboard (no terminal): key table, layer rows,
 * outlier map, histogram and grid. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/mdiff.h"
#include "tests/testutil.h"
#include "ui/keys.h"
#include "ui/view.h"
#include "ui/vm_hist.h"
#include "ui/vm_layers.h"
#include "ui/vm_map.h"

/* ---- key table ---- */

START_TEST(keys_no_conflicts)
{
    /* Two rows with the same key must not share a view: the first would
     * silently shadow the second. */
    for (int i = 0; i < ui_n_keys; i++)
        for (int j = i + 1; j < ui_n_keys; j++)
            ck_assert_msg(!(ui_keys[i].key == ui_keys[j].key &&
                            (ui_keys[i].views & ui_keys[j].views)),
                          "key %s bound twice", ui_keys[i].name);
}
END_TEST

START_TEST(keys_every_view_can_quit_and_help)
{
    for (int v = 0; v < UV__COUNT; v++) {
        ck_assert_int_eq(ui_key_lookup('q', v), UA_QUIT);
        ck_assert_int_eq(ui_key_lookup('?', v), UA_HELP);
        ck_assert_int_eq(ui_key_lookup('1' + v, v), UA_VIEW_LAYERS + v);
    }
    ck_assert_int_eq(ui_key_lookup('Z', UV_LAYERS), UA_FOLD_ALL);
    ck_assert_int_eq(ui_key_lookup('Z', UV_TENSOR), UA_NONE);
    ck_assert_int_eq(ui_key_lookup('Q', UV_LAYERS), UA_NONE);
    ck_assert_int_eq(ui_key_lookup('\n', UV_LAYERS), UA_OPEN);
    ck_assert_int_eq(ui_key_lookup('\n', UV_CORR), UA_NONE);
    ck_assert_int_eq(ui_key_lookup('b', UV_TENSOR), UA_BITS_UP);
}
END_TEST

/* The view table: every view can be shown (name, draw, act, init) and
 * its name is unique; the tab numbers 1..N reach them in order. */
START_TEST(views_table_complete)
{
    for (int v = 0; v < UV__COUNT; v++) {
        const struct view_ops *o = ui_views[v];
        ck_assert_ptr_nonnull(o);
        ck_assert_ptr_nonnull(o->name);
        ck_assert_ptr_nonnull(o->init);
        ck_assert_ptr_nonnull(o->draw);
        ck_assert_ptr_nonnull(o->act);
        ck_assert_int_ge(o->min_w, 20);
        ck_assert_int_ge(o->min_h, 1);
        ck_assert_str_eq(ui_view_name(v), o->name);
        for (int w = 0; w < v; w++)
            ck_assert_str_ne(ui_views[w]->name, o->name);
    }
}
END_TEST

/* The help overlay lists each action once with all its keys. */
START_TEST(keys_help_entries_merge_aliases)
{
    char names[64];
    int up = -1, k = -1, enter = -1, enter2 = -1;
    for (int i = 0; i < ui_n_keys; i++) {
        if (ui_keys[i].act == UA_UP && up < 0) up = i;
        else if (ui_keys[i].act == UA_UP) k = i;
        if (ui_keys[i].act == UA_OPEN && enter < 0) enter = i;
        else if (ui_keys[i].act == UA_OPEN) enter2 = i;
    }
    ck_assert_int_ge(k, 0);
    ck_assert_int_ge(enter2, 0);
    ck_assert_int_eq(ui_key_entry(up, UVM(UV_LAYERS), names, sizeof names), 1);
    ck_assert_str_eq(names, "Up, k");
    ck_assert_int_eq(ui_key_entry(k, UVM(UV_LAYERS), names, sizeof names), 0);
    ck_assert_int_eq(ui_key_entry(enter, UVM(UV_LAYERS), names, sizeof names), 1);
    ck_assert_str_eq(names, "Enter"); /* Enter and CR are one key to a person */
    ck_assert_int_eq(ui_key_entry(enter2, UVM(UV_LAYERS), names, sizeof names), 0);
    ck_assert_int_eq(ui_key_entry(enter, UVM(UV_CORR), names, sizeof names), 0);
    ck_assert_int_eq(ui_key_entry(-1, UVM_ALL, names, sizeof names), 0);
    /* Every action of a view appears in exactly one entry. */
    for (int v = 0; v < UV__COUNT; v++)
        for (int i = 0; i < ui_n_keys; i++) {
            if (!(ui_keys[i].views & UVM(v)))
                continue;
            int entries = 0;
            for (int j = 0; j < ui_n_keys; j++)
                if (ui_keys[j].act == ui_keys[i].act && !strcmp(ui_keys[j].help, ui_keys[i].help))
                    entries += ui_key_entry(j, UVM(v), names, sizeof names);
            ck_assert_int_eq(entries, 1);
        }
}
END_TEST

START_TEST(keys_every_row_documented)
{
    for (int i = 0; i < ui_n_keys; i++) {
        ck_assert_ptr_nonnull(ui_keys[i].name);
        ck_assert_msg(ui_keys[i].help && strlen(ui_keys[i].help) > 3, "key %s", ui_keys[i].name);
        ck_assert_msg(ui_keys[i].views != 0, "key %s acts nowhere", ui_keys[i].name);
    }
    const char *path = tu_tmpfile("keys.md");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ui_keys_print_markdown(f);
    fclose(f);
    f = fopen(path, "r");
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "| Key | Views | Action |"));
    for (int i = 0; i < ui_n_keys; i++) {
        char want[32];
        snprintf(want, sizeof want, "`%s`", ui_keys[i].name);
        ck_assert_msg(strstr(buf, want) != NULL, "key %s missing from the list", ui_keys[i].name);
    }
}
END_TEST

/* ---- a small in-memory model ---- */

static float w_easy[64], w_heavy[64], w_norm[8];
static struct qtensor tens[4];
static struct qmodel model;

static void add_t(int i, const char *name, float *data, int rows, int cols)
{
    struct qtensor *t = &tens[i];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    qmodel_classify(name, &t->layer, &t->role);
    t->dtype = QD_F32;
    t->ndim = rows > 1 ? 2 : 1;
    if (rows > 1) {
        t->shape[0] = rows;
        t->shape[1] = cols;
    } else {
        t->shape[0] = cols;
    }
    t->nelem = (int64_t)rows * cols;
    t->nbytes = (size_t)t->nelem * 4;
    t->data = data;
}

/* Display lines of this model in model order:
 *   0 - blk.0 attention (1)     1 blk.0.attn_norm (tensor 1)
 *   2 - blk.0 FFN (1)           3 blk.0.ffn_up    (tensor 2)
 *   4 - blk.1 attention (2)     5 blk.1.attn_q    (tensor 0)
 *                               6 blk.1.attn_k    (tensor 3) */
static void make_model(void)
{
    tu_seed(7);
    for (int i = 0; i < 64; i++) {
        w_easy[i] = (float)(0.1 * tu_normal());
        w_heavy[i] = (float)(0.1 * tu_normal());
    }
    w_heavy[5] = 30; /* one huge outlier: kurtosis near 64 */
    for (int i = 0; i < 8; i++)
        w_norm[i] = 1.0f + 0.01f * i;
    memset(&model, 0, sizeof model);
    add_t(0, "blk.1.attn_q", w_heavy, 8, 8);
    add_t(1, "blk.0.attn_norm", w_norm, 1, 8);
    add_t(2, "blk.0.ffn_up", w_easy, 8, 8);
    add_t(3, "blk.1.attn_k", w_easy, 8, 8);
    model.tensors = tens;
    model.n_tensors = 4;
    model.cfg.n_layers = 2;
}

static void cell_is(const struct vm_layers *v, int line, int col, const char *want)
{
    char buf[64];
    vm_layers_cell(v, line, col, buf, sizeof buf);
    ck_assert_str_eq(buf, want);
}

START_TEST(layers_empty_model)
{
    struct qmodel m;
    memset(&m, 0, sizeof m);
    struct vm_layers v;
    ck_assert_int_eq(vm_layers_init(&v, &m, NULL, NULL), 0);
    ck_assert_int_eq(v.n_vis, 0);
    ck_assert_int_eq(v.n_lines, 0);
    ck_assert_ptr_null(vm_layers_selected(&v));
    ck_assert_int_eq(vm_layers_line_group(&v, 0), -1);
    vm_layers_move(&v, 5, 10);
    vm_layers_toggle(&v, 0);
    vm_layers_toggle_all(&v);
    ck_assert_int_eq(vm_layers_search(&v, "x"), 0);
    cell_is(&v, 0, VL_NAME, "");
    ck_assert_ptr_null(vm_layers_row(&v, 0));
    vm_layers_free(&v);
}
END_TEST

START_TEST(layers_model_order_and_stats)
{
    make_model();
    struct vm_layers v;
    ck_assert_int_eq(vm_layers_init(&v, &model, NULL, NULL), 0);
    ck_assert_int_eq(v.n_vis, 4);
    ck_assert_int_eq(v.n_lines, 7);
    ck_assert(v.grouped);
    /* The first tensor is selected, not its header, and the header shows. */
    ck_assert_int_eq(v.sel, 1);
    ck_assert_int_eq(v.top, 0);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 1);
    /* Grouped by layer, attention before FFN, file order inside a group. */
    cell_is(&v, 0, VL_NAME, "- blk.0 attention (1)");
    cell_is(&v, 1, VL_NAME, "blk.0.attn_norm");
    cell_is(&v, 2, VL_NAME, "- blk.0 FFN (1)");
    cell_is(&v, 4, VL_NAME, "- blk.1 attention (2)");
    cell_is(&v, 5, VL_NAME, "blk.1.attn_q");
    cell_is(&v, 6, VL_NAME, "blk.1.attn_k");
    cell_is(&v, 5, VL_SHAPE, "8x8");
    cell_is(&v, 5, VL_ABSMAX, "30");
    ck_assert_int_eq(vm_layers_line_group(&v, 5), -1);
    ck_assert_int_eq(vm_layers_line_group(&v, 4), v.rows[0].gi);
    /* Header: parameters of all its tensors, maxima over quantized ones. */
    cell_is(&v, 4, VL_SHAPE, "128 params");
    cell_is(&v, 4, VL_ABSMAX, "30");
    char hk[32], rk[32];
    vm_layers_cell(&v, 4, VL_KURT, hk, sizeof hk);
    vm_layers_cell(&v, 5, VL_KURT, rk, sizeof rk);
    ck_assert_str_eq(hk, rk); /* the heavy tensor's kurtosis */
    ck_assert_int_eq(v.groups[v.rows[0].gi].difficulty, 3);
    /* A group of norms only: nothing quantized, no maxima. */
    cell_is(&v, 0, VL_SHAPE, "8 params");
    cell_is(&v, 0, VL_KURT, "-");
    cell_is(&v, 0, VL_OUTL, "-");
    ck_assert_int_eq(v.groups[v.rows[1].gi].difficulty, -1);
    /* Difficulty: norm is not quantized; the outlier tensor is extreme. */
    ck_assert_int_eq(v.rows[1].difficulty, -1);
    ck_assert_int_eq(v.rows[0].difficulty, 3);
    ck_assert_int_le(v.rows[2].difficulty, 1);
    /* Activation columns appear only after calibration. */
    ck_assert_int_eq(vm_layers_ncols(&v), VL_A_STD);
    cell_is(&v, 1, VL_A_KURT, "-");
    vm_layers_free(&v);
}
END_TEST

/* Rows first, statistics later (the dashboard's background loading):
 * rows without statistics say "...", a failure says FAILED, neither shows
 * a zero, and sorting puts them last in both orders. */
START_TEST(layers_progressive_rows)
{
    make_model();
    struct vm_layers v;
    ck_assert_int_eq(vm_layers_init_rows(&v, &model), 0);
    ck_assert_int_eq(v.n_stats, 0);
    ck_assert_int_eq(v.n_vis, 4);
    cell_is(&v, 5, VL_NAME, "blk.1.attn_q");
    cell_is(&v, 5, VL_SHAPE, "8x8");
    cell_is(&v, 5, VL_STD, "...");
    cell_is(&v, 5, VL_KURT, "...");
    cell_is(&v, 5, VL_OUTL, "...");
    cell_is(&v, 4, VL_ABSMAX, "..."); /* its group's header */
    ck_assert_int_eq(v.rows[0].difficulty, -1); /* no colour yet */
    struct stats sh, se;
    struct stats_opts o;
    stats_opts_default(&o);
    stats_compute(w_heavy, 64, &o, &sh);
    stats_compute(w_easy, 64, &o, &se);
    vm_layers_set_stats(&v, 0, &sh);
    vm_layers_set_failed(&v, 3, "blk.1.attn_k: cannot convert Q4_0 to float");
    vm_layers_refresh(&v);
    ck_assert_int_eq(v.n_stats, 2);
    ck_assert_int_eq(v.n_failed, 1);
    cell_is(&v, 5, VL_ABSMAX, "30");
    ck_assert_int_eq(v.rows[0].difficulty, 3);
    cell_is(&v, 6, VL_STD, "FAILED");
    cell_is(&v, 6, VL_ABSMAX, "-");
    cell_is(&v, 6, VL_OUTL, "-");
    ck_assert_str_eq(v.rows[3].st_err, "blk.1.attn_k: cannot convert Q4_0 to float");
    cell_is(&v, 4, VL_ABSMAX, "30"); /* the header's maximum over what is in */
    /* Sorted by AbsMax: the measured row first either way, the others after. */
    vm_layers_sort(&v, VL_ABSMAX, 1);
    cell_is(&v, 0, VL_NAME, "blk.1.attn_q");
    vm_layers_sort(&v, VL_ABSMAX, 0);
    cell_is(&v, 0, VL_NAME, "blk.1.attn_q");
    /* A later success replaces the failure; the counts follow. */
    vm_layers_set_stats(&v, 3, &se);
    vm_layers_set_stats(&v, 3, &se);
    vm_layers_refresh(&v);
    ck_assert_int_eq(v.n_stats, 2);
    ck_assert_int_eq(v.n_failed, 0);
    ck_assert_str_eq(v.rows[3].st_err, "");
    vm_layers_set_stats(&v, 99, &se); /* out of range: ignored */
    vm_layers_set_failed(&v, -1, "x");
    ck_assert_int_eq(v.n_stats, 2);
    vm_layers_free(&v);
}
END_TEST

START_TEST(layers_fold_groups)
{
    make_model();
    struct vm_layers v;
    vm_layers_init(&v, &model, NULL, NULL);
    /* Folding the group of the selected tensor moves the cursor to its header. */
    vm_layers_toggle(&v, v.rows[1].gi);
    ck_assert_int_eq(v.n_lines, 6);
    ck_assert_int_eq(v.sel, 0);
    ck_assert_ptr_null(vm_layers_selected(&v));
    cell_is(&v, 0, VL_NAME, "+ blk.0 attention (1)");
    cell_is(&v, 1, VL_NAME, "- blk.0 FFN (1)");
    /* A jump into a folded group unfolds it. */
    vm_layers_move(&v, 10, 10);
    ck_assert_int_eq(vm_layers_search(&v, "attn_norm"), 1);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 1);
    ck_assert_int_eq(v.n_lines, 7);
    /* Fold all (cursor to the header of its group), then unfold all. */
    ck_assert_int_eq(vm_layers_toggle_all(&v), 1);
    ck_assert_int_eq(v.n_lines, 3);
    ck_assert_int_eq(vm_layers_line_group(&v, v.sel), v.rows[1].gi);
    ck_assert_int_eq(vm_layers_toggle_all(&v), 0);
    ck_assert_int_eq(v.n_lines, 7);
    /* Selecting a tensor of a folded group unfolds it. */
    vm_layers_toggle(&v, v.rows[3].gi);
    ck_assert_int_eq(v.n_lines, 5);
    vm_layers_select_tensor(&v, 3, 10);
    ck_assert_int_eq(v.n_lines, 7);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 3);
    /* Sorted by a number the list is flat: no headers, folding inert. */
    vm_layers_toggle(&v, v.rows[2].gi);
    vm_layers_sort(&v, VL_KURT, 1);
    ck_assert(!v.grouped);
    ck_assert_int_eq(v.n_lines, 4);
    for (int i = 0; i < v.n_lines; i++)
        ck_assert_int_eq(vm_layers_line_group(&v, i), -1);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 3);
    vm_layers_toggle(&v, 0);
    ck_assert_int_eq(v.n_lines, 4);
    /* Back in model order, the folded group is still folded. */
    vm_layers_sort(&v, VL_NAME, 0);
    ck_assert_int_eq(v.n_lines, 6);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 3);
    vm_layers_free(&v);
}
END_TEST

START_TEST(layers_sort_keeps_selection)
{
    make_model();
    struct vm_layers v;
    vm_layers_init(&v, &model, NULL, NULL);
    vm_layers_move(&v, 2, 10); /* blk.0.ffn_up */
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 2);
    vm_layers_sort(&v, VL_KURT, 1);
    for (int i = 1; i < v.n_vis; i++)
        ck_assert(v.rows[v.vis[i - 1]].st.kurt >= v.rows[v.vis[i]].st.kurt);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 2);
    vm_layers_sort(&v, VL_KURT, 0);
    ck_assert_int_eq(v.rows[v.vis[v.n_vis - 1]].tensor, 0); /* largest kurtosis last */
    /* Equal keys keep model order in both directions. */
    vm_layers_sort(&v, VL_DTYPE, 1);
    ck_assert_int_eq(v.rows[v.vis[0]].tensor, 1);
    ck_assert_int_eq(v.rows[v.vis[3]].tensor, 3);
    /* Sorting reorders vis only: the row of tensor i is still rows[i]. */
    for (int i = 0; i < model.n_tensors; i++)
        ck_assert_int_eq(vm_layers_row(&v, i)->tensor, i);
    ck_assert_ptr_null(vm_layers_row(&v, -1));
    ck_assert_ptr_null(vm_layers_row(&v, model.n_tensors));
    vm_layers_sort(&v, 999, 0); /* out of range falls back to model order */
    ck_assert_int_eq(v.sort_col, VL_NAME);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 2);
    vm_layers_free(&v);
}
END_TEST

START_TEST(layers_filter_search_move)
{
    make_model();
    struct vm_layers v;
    vm_layers_init(&v, &model, NULL, NULL);
    vm_layers_filter(&v, "blk.0");
    ck_assert_int_eq(v.n_vis, 2);
    ck_assert_int_eq(v.n_lines, 4);
    vm_layers_filter(&v, "nothing");
    ck_assert_int_eq(v.n_vis, 0);
    ck_assert_int_eq(v.n_lines, 0);
    ck_assert_ptr_null(vm_layers_selected(&v));
    /* A header counts the matching tensors of its group. */
    vm_layers_filter(&v, "attn_k");
    ck_assert_int_eq(v.n_lines, 2);
    cell_is(&v, 0, VL_NAME, "- blk.1 attention (1/2)");
    cell_is(&v, 0, VL_SHAPE, "64 params");
    vm_layers_filter(&v, "");
    ck_assert_int_eq(v.n_vis, 4);
    /* Search starts after the selection and wraps around. */
    vm_layers_move(&v, -100, 10); /* header of blk.0 attention */
    ck_assert_int_eq(vm_layers_search(&v, "attn"), 1);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 1);
    ck_assert_int_eq(vm_layers_search(&v, "attn"), 1);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 0);
    ck_assert_int_eq(vm_layers_search(&v, "attn"), 1);
    ck_assert_int_eq(vm_layers_search(&v, "attn"), 1);
    ck_assert_int_eq(vm_layers_selected(&v)->tensor, 1);
    ck_assert_int_eq(vm_layers_search(&v, "zzz"), 0);
    /* `n` repeats the last search with the view-model's own buffer: it
     * must keep the text (it used to be cleared, issue 13 item 7). */
    ck_assert_int_eq(vm_layers_search(&v, "attn"), 1);
    int first = vm_layers_selected(&v)->tensor;
    ck_assert_int_eq(vm_layers_search(&v, v.search), 1);
    ck_assert_str_eq(v.search, "attn");
    ck_assert_int_ne(vm_layers_selected(&v)->tensor, first);
    ck_assert(strstr(model.tensors[vm_layers_selected(&v)->tensor].name, "attn"));
    /* Move clamps and scrolls a 2-row window. */
    vm_layers_move(&v, -100, 2);
    ck_assert_int_eq(v.sel, 0);
    vm_layers_move(&v, 100, 2);
    ck_assert_int_eq(v.sel, 6);
    ck_assert_int_eq(v.top, 5);
    /* Activations: the header shows the group's maximum. */
    struct stats a = {0};
    a.kurt = 12;
    vm_layers_set_act(&v, 0, &a);
    a.kurt = 20;
    vm_layers_set_act(&v, 3, &a);
    ck_assert_int_eq(vm_layers_ncols(&v), VL_B_REL); /* base columns only with --base */
    cell_is(&v, 4, VL_A_KURT, "20");
    cell_is(&v, 5, VL_A_KURT, "12");
    cell_is(&v, 2, VL_A_KURT, "-");
    vm_layers_free(&v);
}
END_TEST

/* ---- outlier map ---- */

/* qlens --base: error columns from src/mdiff (values checked in
 * check_mdiff); a tensor the base lacks shows "-" and sorts last. */
START_TEST(layers_base_columns)
{
    const char *gg = tu_shared("models/stories260K.gguf"), *bin = tu_shared("models/stories260K.bin");
    if (!gg || !bin)
        return;
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&m, gg, &err), 0);
    struct mdiff d;
    ck_assert_msg(mdiff_open(&d, &m, bin, &err) == 0, "%s", err.msg);
    struct vm_layers v;
    ck_assert_int_eq(vm_layers_init(&v, &m, NULL, NULL), 0);
    ck_assert_int_eq(vm_layers_ncols(&v), VL_A_STD);
    v.base = &d;
    ck_assert_int_eq(vm_layers_ncols(&v), VL__NCOL);
    vm_layers_sort(&v, VL_B_REL, 1);       /* flat; the tensor without a base last */
    int last = v.n_lines - 1;
    cell_is(&v, last, VL_NAME, "output");
    cell_is(&v, last, VL_B_REL, "-");
    cell_is(&v, last, VL_B_SQNR, "-");
    cell_is(&v, last, VL_B_BPW, "32");
    cell_is(&v, 0, VL_B_REL, "0");
    cell_is(&v, 0, VL_B_SQNR, "300");
    vm_layers_free(&v);
    mdiff_close(&d);
    qmodel_close(&m);
}
END_TEST

START_TEST(map_degenerate)
{
    struct vm_map mp;
    vm_map_init(&mp);
    vm_map_set(&mp, NULL, 0, 0);
    ck_assert_int_eq(vm_map_layout(&mp, 10, 4), 0);
    for (int i = 0; i < 40; i++)
        ck_assert(mp.cell[i] < 0);
    ck_assert_int_eq(vm_map_zoom(&mp, 3), 0);
    ck_assert_int_eq(vm_map_move(&mp, 5, 5), 0);
    char buf[64];
    vm_map_cursor_text(&mp, buf, sizeof buf);
    ck_assert_str_eq(buf, "(empty)");
    /* A 1x1 matrix on a 0x0 grid is clamped to 1x1 cells. */
    float one = -2;
    vm_map_set(&mp, &one, 1, 1);
    ck_assert_int_eq(vm_map_layout(&mp, 0, 0), 0);
    ck_assert(mp.cell[0] == 2);
    vm_map_free(&mp);
}
END_TEST

START_TEST(map_max_pool_keeps_outlier)
{
    enum { R = 300, C = 77 };
    static float x[R * C];
    tu_seed(3);
    for (int i = 0; i < R * C; i++)
        x[i] = (float)(0.01 * tu_normal());
    x[123 * C + 45] = -9; /* one outlier */
    x[7 * C + 3] = NAN;   /* and one broken value */
    struct vm_map mp;
    vm_map_init(&mp);
    vm_map_set(&mp, x, R, C);
    ck_assert_int_eq(vm_map_layout(&mp, 20, 9), 0);
    ck_assert_int_eq(mp.bh, 34);
    ck_assert_int_eq(mp.bw, 4);
    int seen9 = 0, seen_inf = 0;
    for (int i = 0; i < mp.gh; i++)
        for (int j = 0; j < mp.gw; j++) {
            float want = vm_map_cell_ref(x, R, C, mp.r0 + i * mp.bh, mp.c0 + j * mp.bw, mp.bh, mp.bw);
            float got = mp.cell[i * mp.gw + j];
            ck_assert_msg(got == want || (isinf(got) && isinf(want)), "cell %d,%d", i, j);
            seen9 += got == 9;
            seen_inf += isinf(got);
        }
    ck_assert_int_eq(seen9, 1);
    ck_assert_int_eq(seen_inf, 1);
    ck_assert(mp.hi == 9);
    /* Zoom in until single values, cursor stays inside, text has coords. */
    for (int z = 0; z < 20; z++)
        vm_map_zoom(&mp, 1);
    ck_assert_int_eq(mp.bh, 1);
    ck_assert_int_eq(mp.bw, 1);
    mp.cur_r = 123;
    mp.cur_c = 45;
    vm_map_move(&mp, 0, 0);
    ck_assert(mp.cur_r >= mp.r0 && mp.cur_r < mp.r0 + mp.gh);
    ck_assert(mp.cur_c >= mp.c0 && mp.cur_c < mp.c0 + mp.gw);
    char buf[128];
    vm_map_cursor_text(&mp, buf, sizeof buf);
    ck_assert_str_eq(buf, "[row 123, col 45] = -9");
    vm_map_move(&mp, 1000, 1000); /* clamps to the last value */
    ck_assert_int_eq(mp.cur_r, R - 1);
    ck_assert_int_eq(mp.cur_c, C - 1);
    for (int i = 0; i < mp.gh; i++)
        for (int j = 0; j < mp.gw; j++) {
            float want = vm_map_cell_ref(x, R, C, mp.r0 + i, mp.c0 + j, 1, 1);
            float got = mp.cell[i * mp.gw + j];
            ck_assert(got == want || (isinf(got) && isinf(want)));
        }
    vm_map_zoom(&mp, -50);
    ck_assert_int_eq(mp.zoom, 0);
    vm_map_free(&mp);
}
END_TEST

START_TEST(map_levels_monotone)
{
    struct vm_map mp;
    vm_map_init(&mp);
    mp.lo = 0.01f;
    mp.hi = 10;
    ck_assert_int_eq(vm_map_level(&mp, -1, 10), -1);
    ck_assert_int_eq(vm_map_level(&mp, 0.01f, 10), 0);
    ck_assert_int_eq(vm_map_level(&mp, 10, 10), 9);
    ck_assert_int_eq(vm_map_level(&mp, INFINITY, 10), 9);
    /* log scale: the geometric midpoint is the middle level */
    ck_assert_int_eq(vm_map_level(&mp, (float)sqrt(0.1), 11), 5);
    int prev = -1;
    for (float v = 0.01f; v <= 10; v *= 1.3f) {
        int l = vm_map_level(&mp, v, 10);
        ck_assert_int_ge(l, prev);
        prev = l;
    }
}
END_TEST

START_TEST(absmax_profiles_and_pool)
{
    float x[6] = {1, -5, 2, 0.5f, 3, -4};
    float r[2], c[3], p[2];
    vm_absmax_rows(x, 2, 3, r);
    vm_absmax_cols(x, 2, 3, c);
    ck_assert(r[0] == 5 && r[1] == 4);
    ck_assert(c[0] == 1 && c[1] == 5 && c[2] == 4);
    float in[7] = {0, 0, 0, 9, 0, 0, 1};
    vm_maxpool(in, 7, p, 2);
    ck_assert(p[0] == 9 || p[1] == 9);
    ck_assert(fmaxf(p[0], p[1]) == 9);
}
END_TEST

/* ---- histogram and grid ---- */

START_TEST(hist_counts_and_heights)
{
    struct vm_hist h;
    vm_hist_init(&h);
    ck_assert_int_eq(vm_hist_build(&h, NULL, 0, 0, 0, 0), 0); /* empty, degenerate range */
    ck_assert_int_eq(h.nbins, 1);
    ck_assert_int_eq(vm_hist_height(&h, 0, 8), 0);
    float x[1000];
    tu_seed(5);
    for (int i = 0; i < 1000; i++)
        x[i] = (float)tu_normal();
    x[0] = 100; /* clamped into the last bin */
    ck_assert_int_eq(vm_hist_build(&h, x, 1000, -4, 4, 40), 0);
    uint64_t sum = 0;
    for (int b = 0; b < 40; b++)
        sum += h.counts[b];
    ck_assert_int_eq(sum, 1000);
    ck_assert_int_ge(vm_hist_height(&h, 39, 16), 1); /* lone outlier visible */
    ck_assert_int_eq(vm_hist_height(&h, 20, 16) <= 16, 1);
    int bmax = 0;
    for (int b = 0; b < 40; b++)
        if (h.counts[b] == h.maxc)
            bmax = b;
    ck_assert_int_eq(vm_hist_height(&h, bmax, 16), 16);
    ck_assert_int_eq(vm_hist_bin(&h, -1e9), 0);
    ck_assert_int_eq(vm_hist_bin(&h, 1e9), 39);
    vm_hist_free(&h);
}
END_TEST

START_TEST(grid_uniform)
{
    float lev[64];
    ck_assert_int_eq(vm_grid_uniform(0, 1, -1, 1, lev, 64), 0);
    int n = vm_grid_uniform(4, 1, -0.5, 2, lev, 64);
    ck_assert_int_eq(n, 15);
    ck_assert_float_eq_tol(lev[0], -2, 1e-6);
    ck_assert_float_eq_tol(lev[7], 0, 1e-6);
    ck_assert_float_eq_tol(lev[14], 2, 1e-6);
    n = vm_grid_uniform(2, 0, -1, 2, lev, 64);
    ck_assert_int_eq(n, 4);
    ck_assert_float_eq_tol(lev[0], -1, 1e-6);
    ck_assert_float_eq_tol(lev[3], 2, 1e-6);
    ck_assert_int_eq(vm_grid_uniform(8, 1, -1, 1, lev, 10), 10); /* cap respected */
    struct vm_hist h;
    vm_hist_init(&h);
    float x[2] = {-2, 2};
    vm_hist_build(&h, x, 2, -2, 2, 30);
    n = vm_grid_uniform(2, 1, -2, 2, lev, 64); /* -2, 0, 2 */
    vm_hist_set_grid(&h, lev, n);
    int marks = 0;
    for (int b = 0; b < 30; b++)
        marks += h.grid[b];
    ck_assert_int_eq(marks, 3);
    vm_hist_free(&h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ui_vm");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, keys_no_conflicts);
    tcase_add_test(tc, views_table_complete);
    tcase_add_test(tc, keys_every_view_can_quit_and_help);
    tcase_add_test(tc, keys_every_row_documented);
    tcase_add_test(tc, keys_help_entries_merge_aliases);
    suite_add_tcase(s, tc);
    tc = tcase_create("layers");
    tcase_add_test(tc, layers_empty_model);
    tcase_add_test(tc, layers_model_order_and_stats);
    tcase_add_test(tc, layers_progressive_rows);
    tcase_add_test(tc, layers_fold_groups);
    tcase_add_test(tc, layers_sort_keeps_selection);
    tcase_add_test(tc, layers_filter_search_move);
    tcase_add_test(tc, layers_base_columns);
    suite_add_tcase(s, tc);
    tc = tcase_create("map");
    tcase_add_test(tc, map_degenerate);
    tcase_add_test(tc, map_max_pool_keeps_outlier);
    tcase_add_test(tc, map_levels_monotone);
    tcase_add_test(tc, absmax_profiles_and_pool);
    suite_add_tcase(s, tc);
    tc = tcase_create("hist");
    tcase_add_test(tc, hist_counts_and_heights);
    tcase_add_test(tc, grid_uniform);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
