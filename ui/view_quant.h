/* view_quant: what the Quant view shares with the other views: the
 * quantizer settings (also changed from the Tensor view, whose histogram
 * shows their grid, and used by the Runs view's whole-model job). */
#ifndef QLENS_UI_VIEW_QUANT_H
#define QLENS_UI_VIEW_QUANT_H

#include "analysis/stats.h"
#include "ui/vm_quant.h"

struct tui;

/* "RTN 4 bit g128 sym": the current settings. */
void view_quant_describe(struct tui *t, char *buf, int cap);
/* The spec of the current settings (whole-model runs). */
int view_quant_spec(struct tui *t, struct quant_spec *spec, struct qerr *err);
/* The values sharing one scale with value (r, c) of a (rows, cols) tensor. */
void view_quant_scope(struct tui *t, int64_t rows, int64_t cols, int64_t r, int64_t c,
                      struct vq_scope *sc);
/* The current quantizer's grid of scope sc of the current tensor, whose
 * floats (pinned by the caller; NULL: the tensor-wide range) are w and
 * statistics s; returns the number of values written to lev. */
int view_quant_grid(struct tui *t, const float *w, const struct vq_scope *sc,
                    const struct stats *s, float *lev, int cap);

#endif
