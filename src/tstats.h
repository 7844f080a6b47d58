/* tstats: statistics of the tensors of a model, whole and optionally per
 * channel.  Shared by `qlens stats`, the default summary and the TUI's
 * layers view.  A tensor with an override (e.g. dequantized weights from a
 * quantizer) is measured as overridden.  F16/BF16/quantized tensors are
 * never copied whole: the statistics engine converts them chunk by chunk
 * (4096 values) into a reused scratch, bit-identical to converting the
 * whole tensor first; only per-column statistics make a temporary float
 * copy of the one tensor, freed before the next.
 *
 * Long work: `progress` is called with (done, total) tensors before the
 * first and after every tensor; a nonzero return cancels, as does
 * *cancel becoming nonzero (checked between tensors and channels). */
#ifndef QLENS_TSTATS_H
#define QLENS_TSTATS_H

#include <stdint.h>

#include "analysis/qerr.h"
#include "analysis/stats.h"
#include "src/model.h"

enum tstats_channels { TSTATS_NONE = 0, TSTATS_ROWS, TSTATS_COLS };

struct tstats_opts {
    struct stats_opts st;           /* abs_thresh                          */
    enum tstats_channels channels;  /* per-channel statistics as well      */
    const unsigned char *select;    /* model->n_tensors flags; NULL = all  */
    int (*progress)(void *ud, int done, int total);
    void *ud;
    volatile int *cancel;
};

struct tstats_row {
    int tensor;                     /* index into model->tensors           */
    int64_t rows, cols;             /* the tensor seen as a matrix         */
    struct stats st;                /* whole tensor                        */
    int64_t n_channels;             /* rows or cols; 0 without channels    */
    struct stats *ch;               /* (n_channels) owned                  */
};

struct tstats {
    struct tstats_row *rows;        /* (n) in model order                  */
    int n;
};

void tstats_opts_default(struct tstats_opts *o);

/* Statistics of the selected tensors into out (zeroed first; free with
 * tstats_free, also after an error).  Returns 0, QERR_CANCEL or
 * QERR_NOMEM. */
int tstats_compute(struct qmodel *m, const struct tstats_opts *o, struct tstats *out,
                   struct qerr *err);
/* One tensor (index i of m) into row r (r->ch allocated when channels are
 * requested).  Returns 0, QERR_NOMEM, QERR_UNSUPP (a type with no decoder;
 * err names the tensor) or QERR_CANCEL. */
int tstats_tensor(struct qmodel *m, int i, const struct tstats_opts *o,
                  struct tstats_row *r, struct qerr *err);
void tstats_free(struct tstats *t);

/* Flags (malloc'd, m->n_tensors entries) for the tensors whose canonical
 * name matches the POSIX extended regex `re` (unanchored, like grep -E).
 * Returns the number matched, or QERR_ARG with the regex error in err. */
int tstats_select(const struct qmodel *m, const char *re, unsigned char **sel,
                  struct qerr *err);

const char *tstats_channels_name(enum tstats_channels c); /* "rows", ... */

#endif
