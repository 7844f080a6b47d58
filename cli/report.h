/* report: one document about a model and what quantization does to it --
 * the model, per-layer statistics (weights; activations and K/V with a
 * calibration text), outlier maps and histograms of the most outlier-heavy
 * tensors, the quantization runs with their size/quality Pareto plot, the
 * perplexity/benchmark correlation and how the report was made.
 *
 * Two outputs: one self-contained XHTML file (inline CSS and SVG, no
 * script, no network), or Markdown with one SVG file per figure beside it
 * (OUT.md + OUT-figN.svg).  Every file is written atomically (afile); a
 * failure leaves no half file.  Every number comes from the shared
 * computations: tstats (weights), acts_collect/calib (activations),
 * results_* (runs, stores), filter + corr_compute (correlation).
 *
 * Input that cannot be used (a runs file that does not parse or holds no
 * run of this model, a results store that fails to load, a too-short text)
 * does not stop the report: the section says what was left out and why,
 * and the same notes are returned to the caller. */
#ifndef QLENS_REPORT_H
#define QLENS_REPORT_H

#include "analysis/qerr.h"

#define REPORT_MAX_STORES 16
#define REPORT_MAX_NOTES 32

struct report_opts {
    const char *model;        /* path, or NULL for cli_model_path's default  */
    const char *runs;         /* results store / session file, or NULL       */
    char *results[REPORT_MAX_STORES]; /* stores for the correlation          */
    int n_results;            /* 0 = the bundled papers' data                */
    const char *where;        /* correlation selection (filter.h syntax);
                                 NULL = Jin et al.'s Table 3 selection on the
                                 bundled data, every entry otherwise        */
    const char *calib;        /* text for activation / K/V statistics, NULL  */
    long ctx, chunks;         /* for the calibration pass (-1 / 8 default)   */
    int top;                  /* outlier maps of this many tensors (3)       */
    int grid_bits;            /* bits of the grid drawn on histograms (4)    */
    int md;                   /* Markdown + SVG files instead of XHTML       */
    const char *out;          /* output path                                 */
    const char *cmdline;      /* how it was made (as typed)                  */
};

struct report_notes {
    char msg[REPORT_MAX_NOTES][512];
    int n;
};

void report_opts_default(struct report_opts *o);
/* Build and write the report.  0, or <0 with err (no model, cannot write,
 * out of memory, interrupted); notes (may be NULL) gets what was left out. */
int report_write(const struct report_opts *o, struct report_notes *notes, struct qerr *err);

/* Max |x| over each (bh x bw) block of a (rows, cols) matrix into cells
 * (gh, gw), gh = ceil(rows/bh), gw = ceil(cols/bw): the pooling of the
 * dashboard's outlier map (ui/vm_map.h), so a lone outlier never vanishes
 * when a big matrix is shrunk.  Non-finite values count as +inf. */
void report_maxpool(const float *x, long rows, long cols, long bh, long bw, float *cells);
/* Block sizes for at most max_w x max_h cells. */
void report_pool_blocks(long rows, long cols, int max_w, int max_h, long *bh, long *bw);

/* Points of the lower-left Pareto front of (x, y) (smaller is better in
 * both): front[i] = 1 when no other point is <= in both and < in one.
 * Non-finite points are never on it. */
void report_pareto(const double *x, const double *y, int n, unsigned char *front);

#endif
