/* vm_map: max-pooled outlier map with zoom, pan and a cursor. */
#include "ui/vm_map.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/qerr.h"

void vm_map_init(struct vm_map *mp)
{
    memset(mp, 0, sizeof *mp);
    mp->bh = mp->bw = 1;
}

void vm_map_free(struct vm_map *mp)
{
    free(mp->cell);
    vm_map_init(mp);
}

void vm_map_set(struct vm_map *mp, const float *x, int64_t rows, int64_t cols)
{
    mp->x = x;
    mp->rows = rows > 0 ? rows : 0;
    mp->cols = cols > 0 ? cols : 0;
    mp->zoom = 0;
    mp->r0 = mp->c0 = mp->cur_r = mp->cur_c = 0;
}

static int64_t ceil_div(int64_t a, int64_t b) { return b > 0 ? (a + b - 1) / b : a; }

/* Block sizes for the zoom level: level 0 fits the axis into n cells. */
static int64_t block_for(int64_t len, int n, int zoom)
{
    int64_t b = ceil_div(len, n > 0 ? n : 1);
    for (int z = 0; z < zoom && b > 1; z++)
        b = ceil_div(b, 2);
    return b < 1 ? 1 : b;
}

/* Keep the cursor inside the matrix and on a block boundary, and the view
 * around it. */
static void clamp_view(struct vm_map *mp)
{
    mp->bh = block_for(mp->rows, mp->gh, mp->zoom);
    mp->bw = block_for(mp->cols, mp->gw, mp->zoom);
    if (mp->cur_r >= mp->rows) mp->cur_r = mp->rows - 1;
    if (mp->cur_c >= mp->cols) mp->cur_c = mp->cols - 1;
    if (mp->cur_r < 0) mp->cur_r = 0;
    if (mp->cur_c < 0) mp->cur_c = 0;
    mp->cur_r -= mp->cur_r % mp->bh;
    mp->cur_c -= mp->cur_c % mp->bw;
    int64_t vh = mp->bh * mp->gh, vw = mp->bw * mp->gw;
    if (mp->cur_r < mp->r0) mp->r0 = mp->cur_r;
    if (mp->cur_c < mp->c0) mp->c0 = mp->cur_c;
    if (mp->cur_r >= mp->r0 + vh) mp->r0 = mp->cur_r - vh + mp->bh;
    if (mp->cur_c >= mp->c0 + vw) mp->c0 = mp->cur_c - vw + mp->bw;
    if (mp->r0 > 0 && mp->r0 + vh > mp->rows) mp->r0 = mp->rows - vh;
    if (mp->c0 > 0 && mp->c0 + vw > mp->cols) mp->c0 = mp->cols - vw;
    if (mp->r0 < 0) mp->r0 = 0;
    if (mp->c0 < 0) mp->c0 = 0;
    mp->r0 -= mp->r0 % mp->bh;
    mp->c0 -= mp->c0 % mp->bw;
}

float vm_map_cell_ref(const float *x, int64_t rows, int64_t cols, int64_t r0, int64_t c0,
                      int64_t bh, int64_t bw)
{
    if (r0 >= rows || c0 >= cols)
        return -1;
    float m = 0;
    for (int64_t r = r0; r < r0 + bh && r < rows; r++)
        for (int64_t c = c0; c < c0 + bw && c < cols; c++) {
            float a = fabsf(x[r * cols + c]);
            if (a > m || isnan(a))
                m = isnan(a) ? INFINITY : a;
        }
    return m;
}

/* max |x| over n values; NaN makes it +Inf so a broken value is the
 * loudest cell.  16 independent lanes let the compiler vectorize without
 * reassociating a float reduction. */
static float span_absmax(const float *x, int64_t n, float m)
{
    float acc[16] = {0};
    unsigned nan = 0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) {
            float a = fabsf(x[i + k]);
            acc[k] = a > acc[k] ? a : acc[k];
            nan |= a != a;
        }
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        acc[0] = a > acc[0] ? a : acc[0];
        nan |= a != a;
    }
    for (int k = 0; k < 16; k++)
        m = acc[k] > m ? acc[k] : m;
    return nan ? INFINITY : m;
}

/* Grid row by grid row: first the column-wise max over the block's rows
 * into tmp (lanes are columns, so it vectorizes and reads each row once,
 * contiguously), then each cell takes the max over its bw columns. */
static void grid_row(struct vm_map *mp, int i, float *tmp, unsigned char *bad, int64_t vw)
{
    int64_t rs = mp->r0 + (int64_t)i * mp->bh;
    memset(tmp, 0, (size_t)vw * sizeof *tmp);
    memset(bad, 0, (size_t)vw);
    for (int64_t r = rs; r < rs + mp->bh && r < mp->rows; r++) {
        const float *xr = mp->x + r * mp->cols + mp->c0;
        for (int64_t c = 0; c < vw; c++) {
            float a = fabsf(xr[c]);
            tmp[c] = a > tmp[c] ? a : tmp[c];
            bad[c] |= a != a;
        }
    }
    float *crow = mp->cell + (size_t)i * mp->gw;
    for (int j = 0; j < mp->gw; j++) {
        int64_t cs = (int64_t)j * mp->bw, ce = cs + mp->bw < vw ? cs + mp->bw : vw;
        if (cs >= vw)
            break;
        float m = 0;
        int nan = 0;
        for (int64_t c = cs; c < ce; c++) {
            m = tmp[c] > m ? tmp[c] : m;
            nan |= bad[c];
        }
        crow[j] = nan ? INFINITY : m;
    }
}

/* Cells of rows not computed yet stay -1 (drawn as empty). */
int vm_map_compute(struct vm_map *mp)
{
    int n = mp->gw * mp->gh;
    for (int i = 0; i < n; i++)
        mp->cell[i] = -1;
    mp->lo = INFINITY;
    mp->hi = 0;
    mp->next_row = 0;
    if (!mp->x || mp->rows == 0 || mp->cols == 0) {
        mp->next_row = mp->gh;
        return 0;
    }
    return vm_map_step(mp);
}

int vm_map_pending(const struct vm_map *mp)
{
    return mp->next_row < mp->gh && mp->x && mp->r0 + (int64_t)mp->next_row * mp->bh < mp->rows;
}

int vm_map_step(struct vm_map *mp)
{
    if (!vm_map_pending(mp))
        return 0;
    int64_t vw = mp->bw * mp->gw;
    if (vw > mp->cols - mp->c0)
        vw = mp->cols - mp->c0;
    float *tmp = malloc((size_t)(vw > 0 ? vw : 1) * sizeof *tmp);
    unsigned char *bad = malloc((size_t)(vw > 0 ? vw : 1));
    if (!tmp || !bad) {
        free(tmp);
        free(bad);
        return QERR_NOMEM;
    }
    int64_t done = 0;
    int first = mp->next_row;
    while (vm_map_pending(mp) && (mp->budget <= 0 || done < mp->budget)) {
        grid_row(mp, mp->next_row++, tmp, bad, vw);
        done += mp->bh * vw;
    }
    free(tmp);
    free(bad);
    for (int i = first * mp->gw; i < mp->next_row * mp->gw; i++) {
        float v = mp->cell[i];
        if (v > 0 && isfinite(v) && v < mp->lo) mp->lo = v;
        if (isfinite(v) && v > mp->hi) mp->hi = v;
    }
    if (!vm_map_pending(mp) && !isfinite(mp->lo))
        mp->lo = mp->hi;
    return 0;
}

int vm_map_layout(struct vm_map *mp, int gw, int gh)
{
    if (gw < 1) gw = 1;
    if (gh < 1) gh = 1;
    if (gw != mp->gw || gh != mp->gh || !mp->cell) {
        float *c = realloc(mp->cell, (size_t)gw * (size_t)gh * sizeof *c);
        if (!c)
            return QERR_NOMEM;
        mp->cell = c;
        mp->gw = gw;
        mp->gh = gh;
    }
    clamp_view(mp);
    return vm_map_compute(mp);
}

int vm_map_follow(struct vm_map *dst, const struct vm_map *src)
{
    if (dst->cell && dst->gw == src->gw && dst->gh == src->gh && dst->r0 == src->r0 &&
        dst->c0 == src->c0 && dst->bh == src->bh && dst->bw == src->bw &&
        dst->rows == src->rows && dst->cols == src->cols)
        return 0;
    if (src->gw < 1 || src->gh < 1)
        return 0;
    float *c = realloc(dst->cell, (size_t)src->gw * (size_t)src->gh * sizeof *c);
    if (!c)
        return QERR_NOMEM;
    dst->cell = c;
    dst->gw = src->gw;
    dst->gh = src->gh;
    dst->zoom = src->zoom;
    dst->bh = src->bh;
    dst->bw = src->bw;
    dst->r0 = src->r0;
    dst->c0 = src->c0;
    dst->cur_r = src->cur_r;
    dst->cur_c = src->cur_c;
    dst->budget = 0;
    return vm_map_compute(dst);
}

int vm_map_zoom(struct vm_map *mp, int delta)
{
    int z = mp->zoom + delta;
    if (z < 0)
        z = 0;
    /* Stop once both axes are at one value per cell. */
    if (delta > 0 && mp->bh == 1 && mp->bw == 1)
        z = mp->zoom;
    mp->zoom = z;
    /* Centre the view on the cursor. */
    int64_t bh = block_for(mp->rows, mp->gh, z), bw = block_for(mp->cols, mp->gw, z);
    mp->r0 = mp->cur_r - bh * (mp->gh / 2);
    mp->c0 = mp->cur_c - bw * (mp->gw / 2);
    clamp_view(mp);
    return vm_map_compute(mp);
}

int vm_map_move(struct vm_map *mp, int dr, int dc)
{
    mp->cur_r += dr * mp->bh;
    mp->cur_c += dc * mp->bw;
    clamp_view(mp);
    return vm_map_compute(mp);
}

void vm_map_scale(const struct vm_map *mp, float *lo, float *hi)
{
    int fixed = mp->fix_hi > 0 && mp->fix_lo > 0 && mp->fix_hi > mp->fix_lo;
    *lo = fixed ? mp->fix_lo : mp->lo;
    *hi = fixed ? mp->fix_hi : mp->hi;
}

int vm_map_level(const struct vm_map *mp, float v, int nlev)
{
    if (v < 0)
        return -1;
    float lo, hi;
    vm_map_scale(mp, &lo, &hi);
    if (!(v > 0) || !(hi > lo))
        return v > 0 && hi > 0 ? nlev - 1 : 0;
    if (!isfinite(v))
        return nlev - 1;
    double t = (log(v) - log(lo)) / (log(hi) - log(lo));
    int l = (int)(t * (nlev - 1) + 0.5);
    return l < 0 ? 0 : l >= nlev ? nlev - 1 : l;
}

int vm_map_is_cursor(const struct vm_map *mp, int i, int j)
{
    return mp->r0 + (int64_t)i * mp->bh == mp->cur_r && mp->c0 + (int64_t)j * mp->bw == mp->cur_c;
}

void vm_map_cursor_text(const struct vm_map *mp, char *buf, int cap)
{
    if (!mp->x || mp->rows == 0) {
        snprintf(buf, (size_t)cap, "(empty)");
        return;
    }
    int64_t r = mp->cur_r, c = mp->cur_c;
    if (mp->bh == 1 && mp->bw == 1) {
        snprintf(buf, (size_t)cap, "[row %lld, col %lld] = %.6g", (long long)r, (long long)c,
                 mp->x[r * mp->cols + c]);
        return;
    }
    int64_t re = r + mp->bh < mp->rows ? r + mp->bh : mp->rows;
    int64_t ce = c + mp->bw < mp->cols ? c + mp->bw : mp->cols;
    snprintf(buf, (size_t)cap, "rows %lld-%lld, cols %lld-%lld: max|x| %.4g",
             (long long)r, (long long)re - 1, (long long)c, (long long)ce - 1,
             vm_map_cell_ref(mp->x, mp->rows, mp->cols, r, c, mp->bh, mp->bw));
}

void vm_absmax_rows(const float *x, int64_t rows, int64_t cols, float *out)
{
    for (int64_t r = 0; r < rows; r++)
        out[r] = span_absmax(x + r * cols, cols, 0);
}

void vm_absmax_cols(const float *x, int64_t rows, int64_t cols, float *out)
{
    for (int64_t c = 0; c < cols; c++)
        out[c] = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        for (int64_t c = 0; c < cols; c++) { /* vectorizes: lanes are columns */
            float a = fabsf(xr[c]);
            out[c] = a > out[c] ? a : out[c];
        }
    }
}

void vm_maxpool(const float *in, int64_t n, float *out, int m)
{
    for (int j = 0; j < m; j++) {
        int64_t s = n * j / m, e = n * (j + 1) / m;
        if (e <= s)
            e = s + 1;
        float v = 0;
        for (int64_t i = s; i < e && i < n; i++)
            v = in[i] > v ? in[i] : v;
        out[j] = n > 0 ? v : 0;
    }
}
