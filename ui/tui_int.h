/* tui_int: the dashboard's state shared by the frame (ui/tui.c) and the
 * views (ui/view_*.c).  Views draw from view-models (ui/vm_*.h); only the
 * frame reads keys.  Internal to ui/. */
#ifndef QLENS_UI_TUI_INT_H
#define QLENS_UI_TUI_INT_H

#include "src/model.h"
#include "ui/keys.h"
#include "ui/vm_hist.h"
#include "ui/vm_layers.h"
#include "ui/vm_map.h"
#include "ui/worker.h"

/* Values a frame may scan for a map or histogram; bigger work continues
 * on the following frames (idle ticks), so no frame blocks on a huge
 * tensor. */
#define TUI_STEP_VALUES (1u << 20)

struct tui_quant;         /* ui/view_quant.c */
struct tui_runs;          /* ui/view_runs.c  */
struct tui_corr;          /* ui/view_corr.c  */

struct tui {
    struct qmodel m;
    int model_open;
    char model_name[256];
    struct vm_layers lay;
    int lay_col0;         /* first column after the name (Left/Right)     */
    int lay_more;         /* columns hidden: 1 to the right, 2 to the left */
    enum ui_view view;
    int help_on, help_top;
    int h, w;             /* screen size                                  */
    int body_y, body_h;   /* rows of the view between tab and status bar */

    /* Tensor view */
    int ti;               /* tensor shown (-1 none)                        */
    struct vm_map map;
    struct vm_hist hist;
    const float *hist_x;  /* values the histogram was built from          */
    float *prof;          /* per-channel AbsMax (rows or cols), prof_n     */
    int64_t prof_n;
    int prof_mode;        /* 0 off, 1 rows (output channels), 2 columns    */
    int prof_ti, prof_for;
    double mark_k;        /* outlier mark at k*std                         */
    int act_map;          /* show the activation token x channel map       */

    struct tui_quant *q;  /* live quantization state (view_quant.c)       */
    struct tui_runs *runs;
    struct tui_corr *corr;
    struct worker job;

    /* one-line prompt for filter / jump */
    enum ui_act prompt_act;
    char prompt[64];
    int prompt_len;

    char msg[256];
    int msg_err;
    int quit;
    struct demo *demo;    /* a scripted tour playing (ui/demo.h), or NULL  */
    int tab_x[UV__COUNT + 1]; /* tab start columns for mouse clicks     */
    int list_y0, list_h;  /* list rows of the current view (mouse)        */
};

/* Status-bar message (printf-style); err marks it as an error. */
void tui_msg(struct tui *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Is a map or histogram still being computed in steps? */
int tui_pending(const struct tui *t);
/* Make tensor `ti` the current tensor of the Tensor and Quant views. */
void tui_select_tensor(struct tui *t, int ti);

/* Views: draw into rows [y0, y0+h) of the screen; act returns 1 when the
 * action was handled.  min_* is the smallest body each view can draw. */
void view_layers_draw(struct tui *t, int y0, int h);
int view_layers_act(struct tui *t, enum ui_act a);
void view_layers_click(struct tui *t, int row, int dbl);

void view_tensor_draw(struct tui *t, int y0, int h);
int view_tensor_act(struct tui *t, enum ui_act a);
void view_tensor_free(struct tui *t);

void view_help_draw(struct tui *t, int y0, int h);

#endif
