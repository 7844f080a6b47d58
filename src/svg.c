/* svg: plotting primitives as string building (see svg.h). */
#include "src/svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
#define CHAR_W 0.60 /* estimated advance of a character, in em */

/* ------------------------------------------------------------------ */
/* buffer                                                              */

void sb_init(struct sbuf *b)
{
    memset(b, 0, sizeof *b);
}

void sb_free(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int sb_grow(struct sbuf *b, size_t add)
{
    if (b->oom)
        return -1;
    if (b->n + add + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + add + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (sb_grow(b, n))
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if ((size_t)k < sizeof small) {
        sb_putn(b, small, (size_t)k);
        return;
    }
    if (sb_grow(b, (size_t)k))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void sb_esc(struct sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default:
            /* XML 1.0 forbids most control characters, even escaped */
            if (c < 0x20 && c != '\n' && c != '\t')
                c = '?';
            sb_putn(b, (const char *)&c, 1);
        }
    }
}

/* ------------------------------------------------------------------ */
/* numbers and ticks                                                   */

void svg_fmt(double v, char *buf, size_t cap)
{
    double a = fabs(v);
    if (!isfinite(v))
        snprintf(buf, cap, "%s", isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
    else if (a == 0)
        snprintf(buf, cap, "0");
    else if (a >= 1e5 || a < 1e-3)
        snprintf(buf, cap, "%.2g", v);
    else if (a >= 1000)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.3g", v);
}

static int ticks(double lo, double hi, int log, double *out, int max, int ints);

int svg_ticks(double lo, double hi, int log, double *out, int max)
{
    return ticks(lo, hi, log, out, max, 0);
}

static int ticks(double lo, double hi, int log, double *out, int max, int ints)
{
    int n = 0;
    if (!(hi > lo) || max <= 0 || !isfinite(lo) || !isfinite(hi))
        return 0;
    if (log) {
        if (!(lo > 0))
            return 0;
        int e0 = (int)floor(log10(lo)), e1 = (int)ceil(log10(hi));
        int step = 1;
        while ((e1 - e0) / step + 1 > max)
            step++;
        static const double sub[] = {1, 2, 5};
        int nsub = log10(hi / lo) < 2 ? 3 : 1;
        for (int e = e0; e <= e1; e += step)
            for (int s = 0; s < nsub; s++) {
                double t = sub[s] * pow(10, e);
                if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9) && n < max)
                    out[n++] = t;
            }
        return n;
    }
    double span = hi - lo, raw = span / (max > 1 ? max - 1 : 1);
    double mag = pow(10, floor(log10(raw))), step = mag;
    static const double mult[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++) {
        step = mult[i] * mag;
        if (span / step <= max - 1)
            break;
    }
    if (ints)
        step = fmax(1, round(step));

    for (double t = ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9 && n < max; t += step)
        out[n++] = fabs(t) < step * 1e-9 ? 0 : t;
    return n;
}

/* ------------------------------------------------------------------ */
/* axes                                                                */

void svg_axis_include(struct svg_axis *a, double v)
{
    if (!isfinite(v) || (a->log && !(v > 0)))
        return;
    if (v < a->lo)
        a->lo = v;
    if (v > a->hi)
        a->hi = v;
}

void svg_axis_fit(struct svg_axis *a, const double *v, size_t n, size_t stride, double pad)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double x = v[i * stride];
        if (!isfinite(x) || (a->log && !(x > 0)))
            continue;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    if (!(hi >= lo)) {
        a->lo = a->log ? 1 : 0;
        a->hi = a->log ? 10 : 1;
        return;
    }
    if (a->log) {
        double l0 = log10(lo), l1 = log10(hi);
        if (l1 - l0 < 1e-9) {
            l0 -= 0.5;
            l1 += 0.5;
        }
        double d = (l1 - l0) * pad;
        a->lo = pow(10, l0 - d);
        a->hi = pow(10, l1 + d);
        return;
    }
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        double d = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1;
        lo -= d;
        hi += d;
    }
    double d = (hi - lo) * pad;
    a->lo = lo - d;
    a->hi = hi + d;
}

static double axis_t(const struct svg_axis *a, double v)
{
    if (a->log) {
        if (!(v > 0))
            return 0;
        return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    }
    return (v - a->lo) / (a->hi - a->lo);
}

static double clamp01(double t)
{
    return t < 0 ? 0 : t > 1 ? 1 : isfinite(t) ? t : 0;
}

double svg_px(const struct svg_plot *p, double x)
{
    return p->ml + clamp01(axis_t(&p->x, x)) * (p->w - p->ml - p->mr);
}

double svg_py(const struct svg_plot *p, double y)
{
    double t = clamp01(axis_t(&p->y, y));
    return p->h - p->mb - (p->y.flip ? 1 - t : t) * (p->h - p->mt - p->mb);
}

int svg_ok(const struct svg_plot *p, double x, double y)
{
    return isfinite(x) && isfinite(y) && (!p->x.log || x > 0) && (!p->y.log || y > 0);
}

void svg_plot_init(struct svg_plot *p, struct sbuf *b, int w, int h, int legend)
{
    memset(p, 0, sizeof *p);
    p->b = b;
    p->w = w;
    p->h = h;
    p->ml = 64;
    p->mr = legend ? 150 : 20;
    p->mt = 34;
    p->mb = 50;
}

void svg_text(struct sbuf *b, double x, double y, const char *anchor, int size, const char *s)
{
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\">", x, y, anchor,
              size);
    sb_esc(b, s);
    sb_puts(b, "</text>");
}

static double text_w(const char *s, int font)
{
    /* UTF-8 continuation bytes take no width of their own */
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n * font * CHAR_W;
}

/* Tick labels along x, thinned so neighbours keep a gap: a label is
 * dropped when it would touch the previous one drawn. */
static void x_ticks(struct svg_plot *p, const double *t, int n)
{
    struct sbuf *b = p->b;
    double last_r = -1e9, yb = p->h - p->mb;
    for (int i = 0; i < n; i++) {
        double x = svg_px(p, t[i]);
        char s[32];
        svg_fmt(t[i], s, sizeof s);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>", x,
                  p->mt, x, yb);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>", x,
                  yb, x, yb + 4);
        double w = text_w(s, 11);
        if (x - w / 2 < last_r + 4)
            continue;
        svg_text(b, x, yb + 16, "middle", 11, s);
        last_r = x + w / 2;
    }
}

static void y_ticks(struct svg_plot *p, const double *t, int n)
{
    struct sbuf *b = p->b;
    double last = 1e9, xr = p->w - p->mr;
    for (int i = 0; i < n; i++) {
        double y = svg_py(p, t[i]);
        char s[32];
        svg_fmt(t[i], s, sizeof s);
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>",
                  p->ml, y, xr, y);
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#555\"/>",
                  p->ml - 4, y, p->ml, y);
        if (fabs(y - last) < 13) /* 11px text: keep 2px between labels */
            continue;
        svg_text(b, p->ml - 7, y + 4, "end", 11, s);
        last = y;
    }
}

static void axis_label(struct sbuf *b, const struct svg_axis *a, double x, double y, int vertical)
{
    char s[256];
    snprintf(s, sizeof s, "%s%s", a->label ? a->label : "", a->log ? " (log scale)" : "");
    if (vertical)
        sb_printf(b, "<g transform=\"translate(%.1f,%.1f) rotate(-90)\">", x, y);
    else
        sb_printf(b, "<g transform=\"translate(%.1f,%.1f)\">", x, y);
    svg_text(b, 0, 0, "middle", 12, s);
    sb_puts(b, "</g>");
}

void svg_plot_begin(struct svg_plot *p)
{
    struct sbuf *b = p->b;
    sb_puts(b, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
    if (p->id) {
        sb_puts(b, " id=\"");
        sb_esc(b, p->id);
        sb_puts(b, "\"");
    }
    sb_printf(b, " class=\"fig\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" " FONT
                 " role=\"img\">",
              p->w, p->h, p->w, p->h);
    if (p->title) {
        sb_puts(b, "<title>");
        sb_esc(b, p->title);
        sb_puts(b, "</title>");
    }
    sb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>", p->w, p->h);
    double t[24];
    int n = ticks(p->x.lo, p->x.hi, p->x.log, t, 11, p->x.ints);
    x_ticks(p, t, n);
    n = ticks(p->y.lo, p->y.hi, p->y.log, t, p->h > 260 ? 9 : 6, p->y.ints);
    y_ticks(p, t, n);
    sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                 "stroke=\"#555\"/>",
              p->ml, p->mt, p->w - p->ml - p->mr, p->h - p->mt - p->mb);
    axis_label(b, &p->x, (p->ml + p->w - p->mr) / 2.0, p->h - 12, 0);
    axis_label(b, &p->y, 15, (p->mt + p->h - p->mb) / 2.0, 1);
    if (p->title) {
        sb_printf(b, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">", p->ml);
        sb_esc(b, p->title);
        sb_puts(b, "</text>");
    }
}

void svg_plot_end(struct svg_plot *p)
{
    sb_puts(p->b, "</svg>\n");
}

/* ------------------------------------------------------------------ */
/* series                                                              */

void svg_line(struct svg_plot *p, const double *x, const double *y, int n, const char *color,
              int dashed)
{
    int open = 0;
    for (int i = 0; i < n; i++) {
        if (!svg_ok(p, x[i], y[i])) {
            if (open)
                sb_puts(p->b, "\"/>");
            open = 0;
            continue;
        }
        if (!open)
            sb_printf(p->b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s points=\"",
                      color, dashed ? " stroke-dasharray=\"5,3\"" : "");
        sb_printf(p->b, "%s%.1f,%.1f", open ? " " : "", svg_px(p, x[i]), svg_py(p, y[i]));
        open = 1;
    }
    if (open)
        sb_puts(p->b, "\"/>");
}

void svg_marker(struct sbuf *b, double cx, double cy, const char *color, int shape, double r)
{
    switch (shape & 3) {
    case 0:
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>", cx, cy, r, color);
        break;
    case 1:
        sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                  cx - r, cy - r, 2 * r, 2 * r, color);
        break;
    case 2:
        sb_printf(b, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>", cx,
                  cy - 1.2 * r, cx - 1.1 * r, cy + 0.8 * r, cx + 1.1 * r, cy + 0.8 * r, color);
        break;
    default:
        sb_printf(b, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>",
                  cx, cy - 1.3 * r, cx + 1.3 * r, cy, cx, cy + 1.3 * r, cx - 1.3 * r, cy, color);
    }
}

void svg_points(struct svg_plot *p, const double *x, const double *y, int n, const char *color,
                int shape, double r)
{
    for (int i = 0; i < n; i++)
        if (svg_ok(p, x[i], y[i]))
            svg_marker(p->b, svg_px(p, x[i]), svg_py(p, y[i]), color, shape, r);
}

void svg_hline(struct svg_plot *p, double y, const char *color, const char *label)
{
    if (!svg_ok(p, p->x.log ? 1 : 0, y))
        return;
    double py = svg_py(p, y);
    sb_printf(p->b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-dasharray=\"6,4\"/>",
              p->ml, py, p->w - p->mr, py, color);
    if (label)
        svg_text(p->b, p->w - p->mr - 4, py - 4, "end", 11, label);
}

void svg_vline(struct svg_plot *p, double x, const char *color)
{
    if (!svg_ok(p, x, p->y.log ? 1 : 0))
        return;
    double px = svg_px(p, x);
    sb_printf(p->b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" "
                    "stroke-width=\"1\"/>",
              px, p->mt, px, p->h - p->mb, color);
}

void svg_legend(struct svg_plot *p, const char *const *names, const char *const *colors,
                const int *shapes, int n)
{
    double x = p->w - p->mr + 12, y = p->mt + 8;
    for (int i = 0; i < n; i++, y += 17) {
        sb_printf(p->b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                        "stroke-width=\"1.6\"/>",
                  x, y, x + 18, y, colors[i]);
        svg_marker(p->b, x + 9, y, colors[i], shapes ? shapes[i] : 0, 3.2);
        svg_text(p->b, x + 24, y + 4, "start", 11, names[i]);
    }
}

/* ------------------------------------------------------------------ */
/* labels                                                              */

int svg_box_overlap(double ax, double ay, double aw, double ah, double bx, double by, double bw,
                    double bh)
{
    return ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah;
}

static int label_fits(const struct svg_label *l, int n, int self, double bx, double by, double bw,
                      double bh, double r)
{
    for (int j = 0; j < n; j++) {
        if (j != self && l[j].placed &&
            svg_box_overlap(bx, by, bw, bh, l[j].bx, l[j].by, l[j].bw, l[j].bh))
            return 0;
        /* every point stays visible, its own too */
        if (svg_box_overlap(bx, by, bw, bh, l[j].x - r, l[j].y - r, 2 * r, 2 * r))
            return 0;
    }
    return 1;
}

int svg_labels_place(struct svg_label *l, int n, double x0, double y0, double x1, double y1,
                     double r, int font)
{
    /* candidate offsets: right, left, above, below, then the diagonals */
    static const double dx[] = {1, -1, -0.5, -0.5, 1, -1, 1, -1};
    static const double dy[] = {-0.5, -0.5, -1, 1, -1, -1, 1, 1};
    int placed = 0;
    for (int i = 0; i < n; i++)
        l[i].placed = l[i].fixed;
    for (int i = 0; i < n; i++) {
        if (l[i].fixed) {
            placed++;
            continue;
        }
        double w = text_w(l[i].text, font) + 2, h = font + 2, g = r + 2;
        for (int k = 0; k < 8 && !l[i].placed; k++) {
            /* dx = 1: box starts right of the point; -1: ends left of it;
             * -0.5: centred.  Same for dy with heights. */
            double bx = dx[k] > 0 ? l[i].x + g : dx[k] < -0.75 ? l[i].x - g - w : l[i].x - w / 2;
            double by = dy[k] > 0.75 ? l[i].y + g : dy[k] < -0.75 ? l[i].y - g - h : l[i].y - h / 2;
            if (bx < x0 || by < y0 || bx + w > x1 || by + h > y1)
                continue;
            if (!label_fits(l, n, i, bx, by, w, h, r))
                continue;
            l[i].placed = 1;
            l[i].bx = bx;
            l[i].by = by;
            l[i].bw = w;
            l[i].bh = h;
            placed++;
        }
    }
    return placed;
}

void svg_labels_draw(struct sbuf *b, const struct svg_label *l, int n, int font)
{
    for (int i = 0; i < n; i++)
        if (l[i].placed && !l[i].fixed)
            svg_text(b, l[i].bx + 1, l[i].by + font - 1, "start", font, l[i].text);
}

/* ------------------------------------------------------------------ */
/* colour and heatmaps                                                 */

void svg_palette(double t, char *buf)
{
    /* a few stops of a perceptually ordered dark-to-light scale */
    static const double st[][3] = {{68, 1, 84},    {59, 82, 139},  {33, 145, 140},
                                   {94, 201, 98},  {253, 231, 37}};
    t = clamp01(t) * 4;
    int i = (int)t;
    if (i > 3)
        i = 3;
    double f = t - i;
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (int)lrint(st[i][k] + f * (st[i + 1][k] - st[i][k]));
    snprintf(buf, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

int svg_level(double v, double lo, double hi, int nlev)
{
    if (v < 0 || !isfinite(v))
        return -1;
    if (!(lo > 0) || !(hi > lo) || v <= lo)
        return v > lo && hi > lo ? nlev - 1 : 0;
    double t = (log(v) - log(lo)) / (log(hi) - log(lo));
    int k = (int)(t * nlev);
    return k < 0 ? 0 : k >= nlev ? nlev - 1 : k;
}

static void level_color(int lev, int nlev, char *buf)
{
    if (lev < 0)
        snprintf(buf, 8, "#cccccc");
    else
        svg_palette(nlev > 1 ? (double)lev / (nlev - 1) : 0, buf);
}

void svg_heatmap(struct sbuf *b, const float *cells, int gw, int gh, double x, double y,
                 double cw, double ch, double W, double H, double lo, double hi, int nlev)
{
    sb_puts(b, "<g shape-rendering=\"crispEdges\">");
    for (int i = 0; i < gh; i++) {
        int j = 0;
        while (j < gw) {
            int lev = svg_level(cells[(size_t)i * gw + j], lo, hi, nlev), k = j + 1;
            while (k < gw && svg_level(cells[(size_t)i * gw + k], lo, hi, nlev) == lev)
                k++;
            char c[8];
            level_color(lev, nlev, c);
            double rw = fmin((k - j) * cw, W - j * cw), rh = fmin(ch, H - i * ch);
            if (rw > 0 && rh > 0)
                sb_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                             "fill=\"%s\"/>",
                          x + j * cw, y + i * ch, rw, rh, c);
            j = k;
        }
    }
    sb_puts(b, "</g>");
}

void svg_colorbar(struct sbuf *b, double x, double y, double w, double h, double lo, double hi,
                  int nlev, const char *label)
{
    double lh = h / nlev;
    for (int k = 0; k < nlev; k++) {
        char c[8];
        level_color(k, nlev, c);
        sb_printf(b, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\"/>", x,
                  y + h - (k + 1) * lh, w, lh + 0.3, c);
    }
    sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                 "stroke=\"#555\"/>",
              x, y, w, h);
    double t[24];
    int n = lo > 0 && hi > lo ? svg_ticks(lo, hi, 1, t, 8) : 0;
    double last = 1e9;
    for (int i = 0; i < n; i++) {
        double ty = y + h - (log(t[i]) - log(lo)) / (log(hi) - log(lo)) * h;
        char s[32];
        svg_fmt(t[i], s, sizeof s);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>",
                  x + w, ty, x + w + 4, ty);
        if (ty + 6 > last - 2)
            continue;
        svg_text(b, x + w + 6, ty + 4, "start", 10, s);
        last = ty - 6;
    }
    if (label) {
        sb_printf(b, "<g transform=\"translate(%.1f,%.1f) rotate(-90)\">", x - 6, y + h / 2);
        svg_text(b, 0, 0, "middle", 11, label);
        sb_puts(b, "</g>");
    }
}
