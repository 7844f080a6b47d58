/* vm_map: the outlier map of a matrix (no curses).
 *
 * The matrix (rows, cols) is shown as a grid of gw x gh cells; each cell
 * covers a block of bh x bw values and holds the MAX |value| of that block,
 * so an outlier never vanishes when the matrix is shrunk to the screen
 * (mean pooling would drown it).  Colour is on a log scale between the
 * smallest and largest cell of the view; cells above k*std are marked.
 *
 * Zoom level 0 fits the whole matrix; each level halves the block size
 * (per axis, down to 1 value per cell).  A cursor (in value coordinates)
 * selects a cell; the view pans to keep it visible.  At 1x1 blocks the
 * cursor is a single value with its coordinates. */
#ifndef QLENS_UI_VM_MAP_H
#define QLENS_UI_VM_MAP_H

#include <stdint.h>

struct vm_map {
    const float *x;       /* (rows, cols) row-major; not owned            */
    int64_t rows, cols;
    int zoom;             /* 0 = whole matrix                             */
    int64_t bh, bw;       /* values per cell (rows, cols)                 */
    int64_t r0, c0;       /* top-left value of the view                   */
    int64_t cur_r, cur_c; /* cursor value (top-left of its block)         */
    int gw, gh;           /* grid size in cells                           */
    float *cell;          /* (gh, gw) max |x| per block; -1 outside      */
    float lo, hi;         /* smallest positive / largest cell in view     */
    float fix_lo, fix_hi; /* fix_hi > 0: colour on this fixed log scale
                             instead (the same for every run of a tensor) */
    double mark;          /* threshold k*std for the outlier mark         */
    int64_t budget;       /* values per compute step (0 = all at once)    */
    int next_row;         /* first grid row not computed yet              */
};

void vm_map_init(struct vm_map *mp);
void vm_map_free(struct vm_map *mp);
/* Point at a new matrix; resets zoom and cursor. */
void vm_map_set(struct vm_map *mp, const float *x, int64_t rows, int64_t cols);
/* Set the grid size and recompute the cells.  Returns 0 or QERR_NOMEM. */
int vm_map_layout(struct vm_map *mp, int gw, int gh);
/* Zoom by +1/-1 level around the cursor; then recompute. */
int vm_map_zoom(struct vm_map *mp, int delta);
/* Move the cursor by (dr, dc) cells; pans as needed; recomputes. */
int vm_map_move(struct vm_map *mp, int dr, int dc);
/* Recompute cells for the current viewport.  With a budget, only the
 * first rows are computed (about `budget` values); vm_map_step continues
 * while vm_map_pending, so a huge matrix never blocks a frame. */
int vm_map_compute(struct vm_map *mp);
int vm_map_step(struct vm_map *mp);
int vm_map_pending(const struct vm_map *mp);
/* Colour level in [0, nlev) of a cell value on the log scale; -1 for
 * cells outside the matrix. */
int vm_map_level(const struct vm_map *mp, float v, int nlev);
/* The scale vm_map_level uses: [fix_lo, fix_hi] when fixed, else the
 * view's [lo, hi]. */
void vm_map_scale(const struct vm_map *mp, float *lo, float *hi);
/* Give dst (a matrix of the same shape as src's, e.g. a 0/1 mask) src's
 * grid and viewport, and recompute it (at once) when they changed; a
 * caller that points dst at new data sets dst->gw = 0 to force it.
 * Returns 0 or QERR_NOMEM. */
int vm_map_follow(struct vm_map *dst, const struct vm_map *src);
/* Is the cursor on grid cell (i, j)? */
int vm_map_is_cursor(const struct vm_map *mp, int i, int j);
/* Describe the cursor block: "[r, c] = v" at 1x1, else ranges and max. */
void vm_map_cursor_text(const struct vm_map *mp, char *buf, int cap);

/* Max |x| over each row (out[rows]) or each column (out[cols]). */
void vm_absmax_rows(const float *x, int64_t rows, int64_t cols, float *out);
void vm_absmax_cols(const float *x, int64_t rows, int64_t cols, float *out);
/* Max-pool n values into m buckets (m <= n keeps every peak). */
void vm_maxpool(const float *in, int64_t n, float *out, int m);

/* Plain reference for the block max of one cell (tests). */
float vm_map_cell_ref(const float *x, int64_t rows, int64_t cols, int64_t r0, int64_t c0,
                      int64_t bh, int64_t bw);

#endif
