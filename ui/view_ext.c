/* view_ext: the hooks behind which the Quant, Runs and Correlation views,
 * the activation data and the worker jobs live. */
#define _XOPEN_SOURCE_EXTENDED 1
#include "ui/view_ext.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/ext_int.h"

int tui_ext_init(struct tui *t)
{
    t->q = calloc(1, sizeof *t->q);
    t->runs = calloc(1, sizeof *t->runs);
    t->corr = calloc(1, sizeof *t->corr);
    if (!t->q || !t->runs || !t->corr)
        return -1;
    vm_quant_init(&t->q->cur);
    t->q->stale = 1;
    jobs_data_init(&t->q->data, &t->m);
    t->q->site.site = -1;
    vm_map_init(&t->q->emap);
    vm_hist_init(&t->q->qhist);
    t->q->qhist_for = -1;
    vm_runs_init(&t->runs->vm, t->model_name, "tinystories-eval", vm_runs_default_path());
    struct qerr err;
    qerr_clear(&err);
    if (vm_runs_load(&t->runs->vm, &err) < 0)
        tui_msg(t, 1, "session file: %s", err.msg);
    vm_corr_init(&t->corr->vm);
    return 0;
}

void tui_ext_free(struct tui *t)
{
    if (t->q) {
        vm_quant_free(&t->q->cur);
        jobs_data_free(&t->q->data);
        jobs_site_free(&t->q->site);
        jobs_acts_free(&t->q->acts);
        vm_map_free(&t->q->emap);
        vm_hist_free(&t->q->qhist);
        if (t->q->job)
            vm_quant_free(&t->q->job->q);
        free(t->q->job);
    }
    if (t->runs)
        vm_runs_free(&t->runs->vm);
    if (t->corr)
        vm_corr_free(&t->corr->vm);
    free(t->q);
    free(t->runs);
    free(t->corr);
    t->q = NULL;
    t->runs = NULL;
    t->corr = NULL;
}

void tui_ext_tensor_changed(struct tui *t)
{
    if (!t->q)
        return;
    t->q->stale = 1;
    if (t->view == UV_QUANT)
        quant_refresh(t);
}

int ext_start_job(struct tui *t, struct jobs_ctx *j, const char *label)
{
    int rc = worker_start(&t->job, j->kind, label, jobs_run, j);
    if (rc < 0) {
        tui_msg(t, 1, "cannot start %s: %s", label,
                rc == QERR_ARG ? "a job is running" : t->job.err.msg);
        if (j->kind == JOB_QUANT)
            vm_quant_free(&j->q);
        free(j);
        return -1;
    }
    t->q->job = j;
    tui_msg(t, 0, "started: %s", label);
    return 0;
}

/* Index (layer * 4 + site) of the input site of tensor ti in a, or -1
 * when it has none (not a linear layer, or no pass yet). */
static int act_index(const struct tui *t, const struct jobs_acts *a, int ti)
{
    if (!a->have || ti < 0)
        return -1;
    const struct qtensor *qt = &t->m.tensors[ti];
    int s = calib_site_of_role(qt->role);
    return s >= 0 && qt->layer >= 0 && qt->layer < a->n_layers ? qt->layer * 4 + s : -1;
}

/* Activation statistics of the 'C' pass go into the Layers rows: each
 * linear gets the statistics of its input site. */
static void acts_to_layers(struct tui *t)
{
    struct jobs_acts *a = &t->q->acts;
    for (int i = 0; i < t->m.n_tensors; i++) {
        int k = act_index(t, a, i);
        if (k >= 0)
            vm_layers_set_act(&t->lay, i, &a->st[k]);
    }
}

void tui_ext_job_done(struct tui *t)
{
    struct jobs_ctx *j = t->q->job;
    t->q->job = NULL;
    if (!j)
        return;
    int rc = t->job.rc;
    switch (j->kind) {
    case JOB_QUANT: quant_job_done(t, j, rc); break;
    case JOB_CALIB:
        if (rc == 0) {
            t->q->acts.have = 1;
            acts_to_layers(t);
            tui_msg(t, 0, t->w < 120 ? "calibration done: activation columns in Layers (Right), w: map"
                                      : "calibration done: activation columns in Layers, w shows the map");
        } else {
            tui_msg(t, rc != QERR_CANCEL, "calibration: %s", rc == QERR_CANCEL ? "cancelled" : t->job.err.msg);
        }
        break;
    default: runs_job_done(t, j, rc); break;
    }
    free(j);
    if (t->q->stale && t->view == UV_QUANT)
        quant_refresh(t); /* settings changed while the worker was busy */
}

int tui_ext_tick(struct tui *t)
{
    if (!t->q || t->view != UV_QUANT)
        return 0;
    return vm_map_pending(&t->q->emap) || vm_hist_pending(&t->q->qhist);
}

void tui_ext_draw(struct tui *t, int y0, int h)
{
    switch (t->view) {
    case UV_QUANT: view_quant_draw(t, y0, h); break;
    case UV_RUNS: view_runs_draw(t, y0, h); break;
    case UV_CORR: view_corr_draw(t, y0, h); break;
    default: break;
    }
}

static int quant_map_act(struct tui *t, enum ui_act a)
{
    struct vm_map *mp = &t->q->emap;
    if (a == UA_BACK) {
        t->view = UV_LAYERS;
        return 1;
    }
    if (mp->x != t->q->cur.err || !mp->x || t->q->cur.ti != t->ti)
        return 0; /* no valid result on screen yet */
    switch (a) {
    case UA_UP: vm_map_move(mp, -1, 0); return 1;
    case UA_DOWN: vm_map_move(mp, 1, 0); return 1;
    case UA_LEFT: vm_map_move(mp, 0, -1); return 1;
    case UA_RIGHT: vm_map_move(mp, 0, 1); return 1;
    case UA_ZOOM_IN: vm_map_zoom(mp, 1); return 1;
    case UA_ZOOM_OUT: vm_map_zoom(mp, -1); return 1;
    case UA_HOME: mp->cur_r = mp->cur_c = 0; vm_map_move(mp, 0, 0); return 1;
    default: return 0;
    }
}

int tui_ext_act(struct tui *t, enum ui_act a)
{
    switch (t->view) {
    case UV_QUANT: return quant_map_act(t, a) || quant_act(t, a);
    case UV_RUNS: return view_runs_act(t, a);
    case UV_CORR: return view_corr_act(t, a);
    default: return 0;
    }
}

int tui_ext_tensor_act(struct tui *t, enum ui_act a) { return quant_act(t, a); }

int tui_ext_global_act(struct tui *t, enum ui_act a)
{
    switch (a) {
    case UA_CALIBRATE: case UA_APPLY_ALL: return quant_act(t, a);
    case UA_BASELINE: runs_start(t, JOB_BASELINE); return 1;
    default: return 0;
    }
}

void tui_ext_click(struct tui *t, int row, int dbl)
{
    (void)dbl;
    if (t->view == UV_RUNS)
        vm_runs_move(&t->runs->vm, t->runs->vm.top + row - t->runs->vm.sel, t->list_h);
}

void tui_ext_prompt_done(struct tui *t, enum ui_act a, const char *s)
{
    if (a == UA_CORR_WHERE) {
        struct qerr err;
        qerr_clear(&err);
        if (vm_corr_set_where(&t->corr->vm, s, &err) < 0)
            tui_msg(t, 1, "%s", err.msg);
        else
            tui_msg(t, 0, s[0] ? "where %s: %zu pairs" : "where cleared%s: %zu pairs", s,
                    t->corr->vm.n);
        return;
    }
    if (a == UA_FILTER) {
        vm_layers_filter(&t->lay, s);
        tui_msg(t, 0, s[0] ? "filter \"%s\": %d tensors" : "filter cleared%s: %d tensors",
                s, t->lay.n_vis);
    } else if (a == UA_SEARCH) {
        if (vm_layers_search(&t->lay, s)) {
            vm_layers_move(&t->lay, 0, t->list_h);
            tui_select_tensor(t, vm_layers_selected(&t->lay)->tensor);
        } else {
            tui_msg(t, 1, "no tensor name contains \"%s\"", s);
        }
    }
}

/* The scale scope under the weight map's cursor (the whole tensor while
 * the map shows activations: their cursor is a token, not a weight). */
static void cursor_scope(struct tui *t, struct vq_scope *sc)
{
    struct qtensor *qt = &t->m.tensors[t->ti];
    int64_t rows = qtensor_rows(qt), cols = qtensor_cols(qt);
    int weights = !t->act_map && t->map.x == qtensor_f32_orig(qt);
    vm_quant_scope(&t->q->cur, rows, cols, weights ? t->map.cur_r : 0,
                   weights ? t->map.cur_c : 0, sc);
    if (!weights)
        *sc = (struct vq_scope){VQS_TENSOR, 0, rows, 0, cols};
}

int tui_ext_grid(struct tui *t, const struct stats *s, float *lev, int cap)
{
    if (t->ti < 0)
        return 0;
    struct vq_scope sc;
    cursor_scope(t, &sc);
    struct qtensor *qt = &t->m.tensors[t->ti];
    return vm_quant_grid_scope(&t->q->cur, qtensor_f32_orig(qt), qtensor_cols(qt), &sc, s->min,
                               s->max, lev, cap);
}

/* Short enough for 80 columns with a 128-wide group. */
void tui_ext_grid_title(struct tui *t, char *buf, int cap)
{
    char d[160], where[96] = "(per-tensor scale)";
    vm_quant_describe(&t->q->cur, d, sizeof d);
    if (t->ti >= 0) {
        struct vq_scope sc;
        cursor_scope(t, &sc);
        vm_quant_scope_text(&sc, where, sizeof where);
    }
    snprintf(buf, (size_t)cap, "log histogram; %.100s grid %s", d, where);
}

int tui_ext_act_matrix(struct tui *t, struct vm_map *mp)
{
    struct jobs_acts *a = &t->q->acts;
    int k = act_index(t, a, t->ti);
    if (k < 0 || !a->x[k])
        return 0;
    if (mp->x != a->x[k]) {
        vm_map_set(mp, a->x[k], a->rows, a->dim[k]);
        mp->gw = 0;
    }
    return 1;
}

double tui_ext_act_std(struct tui *t)
{
    int k = act_index(t, &t->q->acts, t->ti);
    return k >= 0 ? t->q->acts.st[k].std : 0;
}
