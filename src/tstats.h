/* tstats: statistics of the tensors of a model, whole and optionally per
 * channel.  Shared by `qlens stats`, the default summary and the TUI's
 * layers view.  A tensor with an override (e.g. dequantized weights from a
 * quantizer), or one whose float copy already exists, is measured from
 * those floats.  Every other tensor is streamed from its file through a
 * qtreader (src/model.h: pread into a 512 KB window, decoded 4096 values
 * at a time into a reused scratch that stays in L1 for the statistics
 * kernels), whatever its type, F32 included: no float copy is made, per
 * row or per column either (columns stream blocks of rows twice), and the
 * results are bit-identical to converting the whole tensor first.
 *
 * tstats_compute measures several tensors at once (opts.threads; 0 = one
 * per CPU) and hands the rows out in model order from the calling thread.
 *
 * Long work: `progress` is called with (done, total) tensors before the
 * first and after every tensor; a nonzero return cancels, as does
 * *cancel becoming nonzero (checked between tensors and rows). */
#ifndef QLENS_TSTATS_H
#define QLENS_TSTATS_H

#include <stdint.h>

#include "analysis/qerr.h"
#include "analysis/stats.h"
#include "src/model.h"

enum tstats_channels { TSTATS_NONE = 0, TSTATS_ROWS, TSTATS_COLS };

#define TSTATS_MAX_THREADS 8

struct tstats_row;
struct tscache;

struct tstats_opts {
    struct stats_opts st;           /* abs_thresh                          */
    enum tstats_channels channels;  /* per-channel statistics as well      */
    const unsigned char *select;    /* model->n_tensors flags; NULL = all  */
    int (*progress)(void *ud, int done, int total);
    /* Called (when set) with each finished row, in model order, from the
     * calling thread, before progress; nonzero cancels.  `qlens stats`
     * prints rows as they come. */
    int (*on_row)(void *ud, const struct tstats_row *r);
    void *ud;
    volatile int *cancel;
    int threads;                    /* tensors measured at once; 0 = one
                                       per CPU (at most TSTATS_MAX_THREADS) */
    struct tscache *cache;          /* src/tscache.h: whole-tensor results
                                       looked up (without channels) and
                                       added; NULL = none. The caller
                                       saves it (tscache_save).           */
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
/* How many threads tstats_compute uses for `total` tensors. */
int tstats_threads(const struct tstats_opts *o, int total);

/* Flags (malloc'd, m->n_tensors entries) for the tensors whose canonical
 * name matches the POSIX extended regex `re` (unanchored, like grep -E).
 * Returns the number matched, or QERR_ARG with the regex error in err. */
int tstats_select(const struct qmodel *m, const char *re, unsigned char **sel,
                  struct qerr *err);

const char *tstats_channels_name(enum tstats_channels c); /* "rows", ... */

/* A histogram of one tensor's values (the override when set) without a
 * float copy: streamed 4096 values at a time like the statistics, equal
 * to stats_hist_linear / stats_hist_log2 on the converted array. */
struct tstats_hist_req {
    int log2;             /* 0: linear bins over [lo, hi]; 1: log2 bins  */
    double lo, hi;
    int emin;             /* log2: bin b counts floor(log2|x|) = emin + b */
    int nbins;
};
/* counts: nbins entries; below (log2 only, may be NULL).  Returns 0,
 * QERR_NOMEM, QERR_UNSUPP or QERR_FORMAT (a failed read). */
int tstats_hist(struct qmodel *m, struct qtensor *t, const struct tstats_hist_req *h,
                uint64_t *counts, uint64_t *below, struct qerr *err);

#endif
