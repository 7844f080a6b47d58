/* view_tensor: drawing the Tensor view shares with the Quant view. */
#ifndef QLENS_UI_VIEW_TENSOR_H
#define QLENS_UI_VIEW_TENSOR_H

#include "ui/vm_hist.h"

struct tui;

/* A log histogram with the grid marks, in rows [y0, y0+h), w columns. */
void view_tensor_draw_hist(struct tui *t, const struct vm_hist *hs, int y0, int h, int w,
                           const char *title);

#endif
