/* view_ext: the views built on the quantizer, perplexity, calibration and
 * results layers (Quant, Runs, Correlation, activation maps), behind a few
 * hooks the frame and the Tensor view call.  Internal to ui/. */
#ifndef QLENS_UI_VIEW_EXT_H
#define QLENS_UI_VIEW_EXT_H

#include "ui/tui_int.h"

int tui_ext_init(struct tui *t);
void tui_ext_free(struct tui *t);
/* The current tensor changed (recompute live quantization). */
void tui_ext_tensor_changed(struct tui *t);
/* Draw / act for UV_QUANT, UV_RUNS, UV_CORR. */
void tui_ext_draw(struct tui *t, int y0, int h);
int tui_ext_act(struct tui *t, enum ui_act a);
/* Job keys (calibrate, baseline, apply to all) from any view. */
int tui_ext_global_act(struct tui *t, enum ui_act a);
/* Quantizer keys pressed in the Tensor view. */
int tui_ext_tensor_act(struct tui *t, enum ui_act a);
void tui_ext_click(struct tui *t, int row, int dbl);
/* A filter / jump prompt was confirmed with text s. */
void tui_ext_prompt_done(struct tui *t, enum ui_act a, const char *s);
/* The background job finished (called on the main thread). */
void tui_ext_job_done(struct tui *t);
/* Called every idle tick; returns 1 when the screen needs a redraw. */
int tui_ext_tick(struct tui *t);
/* The current quantizer's grid for a tensor with stats s (histogram
 * overlay): the levels of the scale that covers the weight map's cursor
 * (its group, its row, or the tensor); returns the number of values
 * written.  The title says which. */
int tui_ext_grid(struct tui *t, const struct stats *s, float *lev, int cap);
void tui_ext_grid_title(struct tui *t, char *buf, int cap);
/* Point mp at the activation (tokens, channels) matrix feeding the current
 * tensor; 0 when none was captured. */
int tui_ext_act_matrix(struct tui *t, struct vm_map *mp);
double tui_ext_act_std(struct tui *t);
/* Histogram drawing shared with the Quant view (ui/view_tensor.c). */
void view_draw_hist(struct tui *t, const struct vm_hist *hs, int y0, int h, int w,
                    const char *title);

#endif
