/* mdiff: one model against a base model, tensor by tensor (the core of
 * `qlens diff` and of the dashboard's --base columns and error map).
 *
 * Tensors are matched by canonical name (src/model.h) and must have the
 * same shape.  Values are the FILE's (qtensor_read_f32: decoded blocks, no
 * override).  Q/K rows are compared in the base's RoPE layout: a model
 * whose layout differs (safetensors rotate-half vs GGUF interleaved) has its
 * rows permuted first, so the same weights compare equal.  Error metrics
 * are analysis/tdiff's. */
#ifndef QLENS_MDIFF_H
#define QLENS_MDIFF_H

#include <stdint.h>

#include "analysis/qerr.h"
#include "analysis/tdiff.h"
#include "src/model.h"

/* Tensor t of m as floats in ref's Q/K row layout.  dst and tmp hold
 * t->nelem floats each (tmp is used only when rows are permuted). */
void mdiff_read(const struct qmodel *ref, const struct qmodel *m, const struct qtensor *t,
                float *dst, float *tmp);

/* Index in base of m's tensor i: same name and shape; -1 when base has no
 * such tensor; -2 when the shapes differ. */
int mdiff_match(const struct qmodel *base, const struct qmodel *m, int i);

/* Stored bits per value of a tensor in its file (bytes * 8 / values). */
double mdiff_bpw(const struct qtensor *t);

/* The dashboard's view of a base model: per tensor of `m`, its error
 * against the base (computed on first request, then cached) and the map
 * |W - W_base|. */
struct mdiff_row {
    int state;                /* 0 not computed, 1 computed, -1 no match,
                                 -2 shapes differ, -3 out of memory      */
    struct tdiff_metrics e;
    double bpw, base_bpw;
};

struct mdiff {
    struct qmodel base;       /* owned: opened by mdiff_open            */
    struct qmodel *m;         /* the model compared (not owned)         */
    struct mdiff_row *rows;   /* (m->n_tensors)                         */
};

/* Open base_path as the base of m. */
int mdiff_open(struct mdiff *d, struct qmodel *m, const char *base_path, struct qerr *err);
void mdiff_close(struct mdiff *d);
/* The row of m's tensor i, computing it when needed (never NULL). */
const struct mdiff_row *mdiff_row(struct mdiff *d, int i);
/* |W - W_base| of m's tensor i into out (t->nelem floats).  QERR_ARG when
 * the tensor has no base of the same shape, QERR_NOMEM. */
int mdiff_absdiff(struct mdiff *d, int i, float *out, struct qerr *err);

#endif
