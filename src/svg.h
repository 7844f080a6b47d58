/* svg: plotting primitives for the HTML / Markdown report, as pure string
 * building (no I/O, no globals): a growable buffer, XML escaping, "nice"
 * axis ticks on linear and log scales, a plot frame with labelled axes,
 * lines, points, bars, a max-pooled heatmap with its colour legend, and
 * point labels placed without overlaps (labels that fit nowhere are
 * dropped and counted, never drawn on top of each other).
 *
 * Output is well-formed XML (inline SVG inside XHTML, or a standalone .svg
 * file): every attribute value and text is escaped, numbers are finite.
 *
 * Geometry: pixel coordinates of the SVG user space, y downwards; a plot's
 * data area is [ml, w-mr] x [mt, h-mb]. */
#ifndef QLENS_SVG_H
#define QLENS_SVG_H

#include <stdarg.h>
#include <stddef.h>

/* ---- string buffer ---- */
struct sbuf {
    char *p;      /* NUL-terminated (never NULL after the first append)   */
    size_t n, cap;
    int oom;      /* an allocation failed: p holds what fitted before     */
};
void sb_init(struct sbuf *b);
void sb_free(struct sbuf *b);
void sb_puts(struct sbuf *b, const char *s);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* XML-escaped text (& < > " '); invalid control bytes become '?'. */
void sb_esc(struct sbuf *b, const char *s);

/* ---- numbers and ticks ---- */
/* Compact label of a tick or value: up to 3 significant digits, 1e-05
 * style beyond 1e5 or below 1e-3 (0 stays "0"). */
void svg_fmt(double v, char *buf, size_t cap);
/* Ticks inside [lo, hi]: 1/2/5 x 10^k steps on a linear scale (at most
 * max ticks), powers of 10 on a log scale (with 2 and 5 between when
 * the range is under two decades).  Returns the count written (<= max). */
int svg_ticks(double lo, double hi, int log, double *out, int max);

/* ---- axes and plots ---- */
struct svg_axis {
    double lo, hi;        /* data range shown                          */
    int log;              /* log10 scale (lo > 0)                      */
    const char *label;    /* with unit; "(log scale)" is appended      */
    int flip;             /* y only: lo at the top (matrix rows)       */
    int ints;             /* integer ticks only (layer indices)        */
};
/* Range of the finite values (and > 0 on a log scale) plus a margin of
 * pad (fraction of the span, or of a decade on log scales); a constant
 * or empty column gets a range around it / [0, 1].  Values given as n
 * doubles with a stride (in doubles). */
void svg_axis_fit(struct svg_axis *a, const double *v, size_t n, size_t stride, double pad);
/* Extend an axis to include v (finite; > 0 on log scales). */
void svg_axis_include(struct svg_axis *a, double v);

struct svg_plot {
    struct sbuf *b;
    int w, h;             /* whole figure in px                        */
    int ml, mr, mt, mb;   /* margins around the data area              */
    struct svg_axis x, y;
    const char *title;    /* drawn above the data area (may be NULL)   */
    const char *id;       /* figure id (XML id, may be NULL)           */
};
/* Default margins for a w x h figure with a right-hand legend or not. */
void svg_plot_init(struct svg_plot *p, struct sbuf *b, int w, int h, int legend);
/* <svg> element, background, grid lines, ticks, tick labels, axis labels,
 * title.  Tick labels are thinned so they never touch. */
void svg_plot_begin(struct svg_plot *p);
void svg_plot_end(struct svg_plot *p);
/* Data -> pixel (clamped to the data area; log of <= 0 goes to the edge). */
double svg_px(const struct svg_plot *p, double x);
double svg_py(const struct svg_plot *p, double y);
/* Is (x, y) a drawable data point (finite, > 0 on log axes)? */
int svg_ok(const struct svg_plot *p, double x, double y);

/* A polyline through the drawable points (gaps break the line). */
void svg_line(struct svg_plot *p, const double *x, const double *y, int n, const char *color,
              int dashed);
/* Markers: shape 0 circle, 1 square, 2 triangle, 3 diamond. */
void svg_points(struct svg_plot *p, const double *x, const double *y, int n, const char *color,
                int shape, double r);
void svg_marker(struct sbuf *b, double cx, double cy, const char *color, int shape, double r);
/* A horizontal (data y) or vertical (data x) reference line with a label. */
void svg_hline(struct svg_plot *p, double y, const char *color, const char *label);
void svg_vline(struct svg_plot *p, double x, const char *color);
/* Legend in the right margin: n entries of colour + marker shape + name. */
void svg_legend(struct svg_plot *p, const char *const *names, const char *const *colors,
                const int *shapes, int n);
/* Text at (x, y) px; anchor "start", "middle" or "end". */
void svg_text(struct sbuf *b, double x, double y, const char *anchor, int size, const char *s);

/* ---- labels without overlaps ---- */
struct svg_label {
    double x, y;          /* anchor point in px                        */
    const char *text;
    int fixed;            /* in: already drawn at bx.. (an obstacle)   */
    /* out */
    int placed;           /* 1 when drawn                              */
    double bx, by, bw, bh;/* the label's box (px) when placed          */
};
/* Place labels in order (earlier = more important; `fixed` ones are
 * taken as placed where they are): each tries 8
 * positions around its point and takes the first that stays inside
 * [x0, x1] x [y0, y1] and overlaps neither a placed label nor any
 * label's point (radius r).  Font size sets the estimated text box.
 * Returns the number placed. */
int svg_labels_place(struct svg_label *l, int n, double x0, double y0, double x1, double y1,
                     double r, int font);
void svg_labels_draw(struct sbuf *b, const struct svg_label *l, int n, int font);
/* Do two boxes overlap (touching edges do not)? */
int svg_box_overlap(double ax, double ay, double aw, double ah, double bx, double by, double bw,
                    double bh);

/* ---- colour ---- */
/* Sequential palette (dark blue -> green -> yellow) at t in [0, 1]:
 * "#rrggbb" into buf (8 bytes). */
void svg_palette(double t, char *buf);

/* ---- heatmap ---- */
/* Cells (gh, gw) row-major, values >= 0 (or < 0 = no data, drawn grey),
 * shown at (x, y) with cell size cw x ch px clipped to a W x H box (the
 * last row / column of blocks may be partial), coloured on a log scale
 * between lo and hi (lo > 0) in nlev levels; runs of equal colour along
 * a row are merged into one rect, which keeps big maps small. */
void svg_heatmap(struct sbuf *b, const float *cells, int gw, int gh, double x, double y,
                 double cw, double ch, double W, double H, double lo, double hi, int nlev);
/* Vertical colour bar with log-scale ticks for svg_heatmap's scale. */
void svg_colorbar(struct sbuf *b, double x, double y, double w, double h, double lo, double hi,
                  int nlev, const char *label);
/* Level in [0, nlev) of value v on the log scale [lo, hi]; -1 if v < 0. */
int svg_level(double v, double lo, double hi, int nlev);

#endif
