/* vm_quant: the live quantization of one tensor (no curses).
 *
 * Settings are changed by single keys (method from quant_registry, bits
 * 2..8, group size from vm_quant_groups[], symmetric/asymmetric, the
 * method's first option cycled through x1, x2, x4, x1/2, x1/4 of its
 * default, or toggled when it is a 0/1 switch).  Applying fills the
 * dequantized copy Ŵ, the error map |W - Ŵ| (both (rows, cols)) and the
 * quantizer's report (quant/quant.h definitions). */
#ifndef QLENS_UI_VM_QUANT_H
#define QLENS_UI_VM_QUANT_H

#include <stdint.h>

#include "quant/quant.h"

extern const int vm_quant_groups[];   /* -1 tensor, 0 row, 32, 64, 128, 256 */
extern const int vm_quant_n_groups;

struct vm_quant {
    int method;           /* index in quant_registry                      */
    int bits;             /* 2..8                                          */
    int group;            /* one of vm_quant_groups                        */
    int sym;
    int opt_step;         /* 0..4: x1, x2, x4, x1/2, x1/4 (or switch 0/1) */
    /* last result */
    int ti;               /* tensor the result belongs to (-1 none)        */
    int64_t rows, cols;
    float *wq;            /* (rows, cols) Ŵ                                */
    float *err;           /* (rows, cols) |W - Ŵ|                          */
    float *kept;          /* (rows, cols) 1 where the method kept the weight
                             in float (SpQR outliers), else 0; NULL when
                             it kept none                                 */
    int64_t cap;          /* values wq and err can hold: kept across
                             applies, tensors and pins (grow only), so a
                             key's frame reuses memory already touched
                             instead of faulting in fresh pages           */
    unsigned char *mask;  /* (cap) the quantizer's kept-weight flags      */
    int64_t touched;      /* values of the buffers written once already   */
    struct quant_report rep;
    int rc;               /* 0, or the QERR_* of the last apply            */
    char msg[800];        /* its message                                   */
    char desc[160];       /* quant_spec_format of the result's spec       */
    double ms;            /* wall time of the apply                        */
};

void vm_quant_init(struct vm_quant *q);
void vm_quant_free(struct vm_quant *q);
/* No result any more (ti -1); the buffers stay for the next apply. */
void vm_quant_clear(struct vm_quant *q);
const struct quantizer *vm_quant_method(const struct vm_quant *q);
/* Key actions: change one setting (results are then stale). */
void vm_quant_next_method(struct vm_quant *q);  /* keeps bits, group, sym */
void vm_quant_prev_method(struct vm_quant *q);
/* Direct entry: "method spqr, bits 2, group 16, asym" (also "b 3",
 * "g row", "group tensor", "sym").  All settings or none change; QERR_ARG
 * with a message naming the bad word. */
int vm_quant_command(struct vm_quant *q, const char *text, struct qerr *err);
void vm_quant_add_bits(struct vm_quant *q, int delta);
void vm_quant_next_group(struct vm_quant *q);
void vm_quant_toggle_sym(struct vm_quant *q);
void vm_quant_next_option(struct vm_quant *q);
/* The spec of the current settings. */
int vm_quant_spec(const struct vm_quant *q, struct quant_spec *spec, struct qerr *err);
/* "RTN 4 bit g128 sym" / group text ("tensor", "row", "g128"). */
void vm_quant_describe(const struct vm_quant *q, char *buf, int cap);
const char *vm_quant_group_name(int group, char *buf, int cap);
/* Does the method need calibration the caller must supply? */
int vm_quant_needs_calib(const struct vm_quant *q);
/* Quantize w (rows, cols) for tensor ti; calib/ctl may be NULL.  Fills
 * wq, err, rep, desc, ms; on failure rc/msg.  Returns rc. */
int vm_quant_apply(struct vm_quant *q, int ti, const float *w, int64_t rows, int64_t cols,
                   const struct quant_calib *calib, const struct quant_ctl *ctl);
/* Make the buffers ready for a result of n values ahead of the apply:
 * allocated, and their pages written once, for about `ms` milliseconds
 * per call (ms < 0: all at once).  Writing fresh memory costs a page
 * fault per 4 KB, which in a virtual machine took 40-90 ms for one
 * 2048x768 result: done in slices on idle frames, the frame that
 * quantizes or pins only reuses memory.  Returns 1 while pages are left,
 * 0 when ready, QERR_NOMEM.  vm_quant_apply and vm_quant_copy_result
 * work without it (touching inside the call). */
int vm_quant_prepare(struct vm_quant *q, int64_t n, double ms);
/* Are the buffers allocated and touched for n values? */
int vm_quant_ready(const struct vm_quant *q, int64_t n);
/* Copy src's settings and result into dst (the Quant view's pinned "B"
 * run); dst's old result is freed.  QERR_NOMEM leaves dst empty. */
int vm_quant_copy_result(struct vm_quant *dst, const struct vm_quant *src);
/* Move a finished result from src into dst (settings stay dst's). */
void vm_quant_take_result(struct vm_quant *dst, struct vm_quant *src);
/* Grid values over [mn, mx] for the histogram overlay (see
 * vm_grid_uniform); returns the count. */
int vm_quant_grid(const struct vm_quant *q, double mn, double mx, float *lev, int cap);

/* The values that share one scale with value (r, c) of a (rows, cols)
 * matrix under the current group setting (quant/quant.h: groups run along
 * a row; 0 = the row; -1 = the tensor, which SpQR treats as the row). */
enum vq_scope_kind { VQS_TENSOR = 0, VQS_ROW, VQS_GROUP };
struct vq_scope {
    int kind;
    int64_t r0, r1, c0, c1; /* rows [r0, r1) x cols [c0, c1)               */
};
void vm_quant_scope(const struct vm_quant *q, int64_t rows, int64_t cols, int64_t r, int64_t c,
                    struct vq_scope *sc);
/* Grid values of the scale of that scope: the uniform grid over the
 * scope's [min, max] of w (row-major, `cols` per row); for the tensor
 * scope over [tmin, tmax] without reading w.  Returns the count. */
int vm_quant_grid_scope(const struct vm_quant *q, const float *w, int64_t cols,
                        const struct vq_scope *sc, double tmin, double tmax, float *lev, int cap);
/* "(per-tensor scale)", "of row 3 (cursor's channel)",
 * "of row 3, cols 128-255 (cursor's group)": the end of a caption. */
void vm_quant_scope_text(const struct vq_scope *sc, char *buf, int cap);

#endif
