/* screen: grid -> text / ANSI / SVG / XHTML, and the grab from curses
 * (see screen.h). */
#include "ui/screen.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wchar.h>

#include "analysis/afile.h"

#define CW 8.4   /* cell width, px (monospace at 14 px)  */
#define CH 17.0  /* cell height, px                        */
#define DEF_FG 0xd0d0d0u
#define DEF_BG 0x1c1c1cu

int sgrid_init(struct sgrid *g, int w, int h)
{
    g->w = w > 0 ? w : 0;
    g->h = h > 0 ? h : 0;
    g->c = calloc((size_t)g->w * g->h + 1, sizeof *g->c);
    for (int i = 0; g->c && i < g->w * g->h; i++)
        g->c[i].fg = g->c[i].bg = -1;
    return g->c ? 0 : QERR_NOMEM;
}

void sgrid_free(struct sgrid *g)
{
    free(g->c);
    memset(g, 0, sizeof *g);
}

struct sgrid_cell *sgrid_at(struct sgrid *g, int y, int x)
{
    return &g->c[(size_t)y * g->w + x];
}

static const struct sgrid_cell *cell(const struct sgrid *g, int y, int x)
{
    return &g->c[(size_t)y * g->w + x];
}

unsigned sgrid_rgb(int i, unsigned def)
{
    static const unsigned base[16] = {0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd,
                                      0x00cdcd, 0xe5e5e5, 0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00,
                                      0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff};
    if (i < 0 || i > 255)
        return def;
    if (i < 16)
        return base[i];
    if (i >= 232) {
        unsigned v = 8 + 10 * (unsigned)(i - 232);
        return v << 16 | v << 8 | v;
    }
    static const unsigned lev[6] = {0, 95, 135, 175, 215, 255};
    i -= 16;
    return lev[i / 36] << 16 | lev[i / 6 % 6] << 8 | lev[i % 6];
}

static const char *ch_of(const struct sgrid_cell *c)
{
    return c->u8[0] ? c->u8 : " ";
}

void sgrid_to_text(const struct sgrid *g, struct sbuf *b)
{
    for (int y = 0; y < g->h; y++) {
        int end = g->w;
        while (end > 0 && !strcmp(ch_of(cell(g, y, end - 1)), " "))
            end--;
        for (int x = 0; x < end; x++)
            sb_puts(b, ch_of(cell(g, y, x)));
        sb_puts(b, "\n");
    }
}

static int same_style(const struct sgrid_cell *a, const struct sgrid_cell *c)
{
    return a->fg == c->fg && a->bg == c->bg && a->bold == c->bold && a->under == c->under;
}

static void sgr(struct sbuf *b, const struct sgrid_cell *c)
{
    sb_puts(b, "\033[0");
    if (c->bold)
        sb_puts(b, ";1");
    if (c->under)
        sb_puts(b, ";4");
    if (c->fg >= 0)
        sb_printf(b, ";38;5;%d", c->fg);
    if (c->bg >= 0)
        sb_printf(b, ";48;5;%d", c->bg);
    sb_puts(b, "m");
}

void sgrid_to_ansi(const struct sgrid *g, struct sbuf *b)
{
    for (int y = 0; y < g->h; y++) {
        const struct sgrid_cell *prev = NULL;
        for (int x = 0; x < g->w; x++) {
            const struct sgrid_cell *c = cell(g, y, x);
            if (!prev || !same_style(prev, c))
                sgr(b, c);
            sb_puts(b, ch_of(c));
            prev = c;
        }
        sb_puts(b, "\033[0m\n");
    }
}

static void hex(char *buf, unsigned rgb)
{
    snprintf(buf, 8, "#%06x", rgb & 0xffffffu);
}

/* Backgrounds: one rect per run of equal colour along a row. */
static void svg_backgrounds(const struct sgrid *g, struct sbuf *b)
{
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w;) {
            int k = x + 1;
            short bg = cell(g, y, x)->bg;
            while (k < g->w && cell(g, y, k)->bg == bg)
                k++;
            if (bg >= 0) {
                char c[8];
                hex(c, sgrid_rgb(bg, DEF_BG));
                sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                          x * CW, y * CH, (k - x) * CW, CH, c);
            }
            x = k;
        }
}

/* ▀ ▄ █ as rectangles in the foreground colour. */
static int svg_block(struct sbuf *b, const struct sgrid_cell *c, int y, int x)
{
    double top, h;
    if (!strcmp(c->u8, "\u2580"))
        top = 0, h = CH / 2;
    else if (!strcmp(c->u8, "\u2584"))
        top = CH / 2, h = CH / 2;
    else if (!strcmp(c->u8, "\u2588"))
        top = 0, h = CH;
    else
        return 0;
    char col[8];
    hex(col, sgrid_rgb(c->fg, DEF_FG));
    sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x * CW,
              y * CH + top, CW, h, col);
    return 1;
}

/* Text: one <text> per run of equal style, stretched to its cells so the
 * columns line up whatever monospace font the viewer has. */
static void svg_texts(const struct sgrid *g, struct sbuf *b)
{
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w;) {
            const struct sgrid_cell *c = cell(g, y, x);
            if (svg_block(b, c, y, x) || !strcmp(ch_of(c), " ")) {
                x++;
                continue;
            }
            int k = x + 1;
            while (k < g->w && same_style(c, cell(g, y, k)) &&
                   strcmp(cell(g, y, k)->u8, "\u2580") && strcmp(cell(g, y, k)->u8, "\u2584") &&
                   strcmp(cell(g, y, k)->u8, "\u2588"))
                k++;
            int e = k;
            while (e > x && !strcmp(ch_of(cell(g, y, e - 1)), " "))
                e--;
            char col[8];
            hex(col, sgrid_rgb(c->fg, DEF_FG));
            sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" textLength=\"%.1f\" "
                         "lengthAdjust=\"spacingAndGlyphs\"%s%s>",
                      x * CW, y * CH + CH * 0.78, col, (e - x) * CW,
                      c->bold ? " font-weight=\"bold\"" : "",
                      c->under ? " text-decoration=\"underline\"" : "");
            for (int i = x; i < e; i++)
                sb_esc(b, ch_of(cell(g, y, i)));
            sb_puts(b, "</text>");
            x = k;
        }
}

void sgrid_to_svg(const struct sgrid *g, struct sbuf *b)
{
    double w = g->w * CW, h = g->h * CH;
    char bg[8];
    hex(bg, DEF_BG);
    sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"screen\" width=\"%.0f\" "
                 "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans Mono, "
                 "Menlo, Consolas, monospace\" font-size=\"14\" xml:space=\"preserve\" style=\"white-space:pre\">",
              w, h, w, h);
    sb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"%s\"/>", w, h, bg);
    sb_puts(b, "<g shape-rendering=\"crispEdges\">");
    svg_backgrounds(g, b);
    sb_puts(b, "</g>");
    svg_texts(g, b);
    sb_puts(b, "</svg>\n");
}

void sgrid_to_html(const struct sgrid *g, const char *title, struct sbuf *b)
{
    sb_puts(b, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
               "<head><meta charset=\"utf-8\"/><title>");
    sb_esc(b, title);
    sb_puts(b, "</title><style>body{background:#fff;margin:16px}</style></head>\n<body>\n");
    sgrid_to_svg(g, b);
    sb_puts(b, "</body>\n</html>\n");
}

static int write_buf(const char *path, const struct sbuf *b, struct qerr *err)
{
    if (b->oom)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    struct afile af;
    int rc = afile_open(&af, path, err);
    if (rc)
        return rc;
    fputs(b->p ? b->p : "", af.f);
    return afile_commit(&af, err);
}

int screen_export(const struct sgrid *g, const char *prefix, const char *title,
               struct qerr *err)
{
    static const char *const ext[4] = {"txt", "ans", "svg", "html"};
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        struct sbuf b;
        char path[4200];
        sb_init(&b);
        if (k == 0)
            sgrid_to_text(g, &b);
        else if (k == 1)
            sgrid_to_ansi(g, &b);
        else if (k == 2) {
            sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
            sgrid_to_svg(g, &b);
        } else
            sgrid_to_html(g, title, &b);
        snprintf(path, sizeof path, "%s.%s", prefix, ext[k]);
        rc = write_buf(path, &b, err);
        sb_free(&b);
    }
    return rc;
}

void screen_next_prefix(const char *dir, char *buf, size_t cap)
{
    for (int n = 1;; n++) {
        char txt[4200];
        struct stat st;
        snprintf(buf, cap, "%s/qlens-screen-%d", dir, n);
        snprintf(txt, sizeof txt, "%s.txt", buf);
        if (stat(txt, &st) != 0 || n > 100000)
            return;
    }
}

/* ---- the one curses part ---- */

int screen_grab(struct sgrid *g)
{
    int h, w;
    getmaxyx(curscr, h, w);
    if (sgrid_init(g, w, h))
        return QERR_NOMEM;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            cchar_t cc;
            wchar_t wch[CCHARW_MAX + 1] = {0};
            attr_t at;
            short pair = 0, f = -1, b = -1;
            struct sgrid_cell *c = sgrid_at(g, y, x);
            if (mvwin_wch(curscr, y, x, &cc) == ERR ||
                getcchar(&cc, wch, &at, &pair, NULL) == ERR)
                continue;
            mbstate_t ms;
            memset(&ms, 0, sizeof ms);
            size_t n = wch[0] && wch[0] != L' ' ? wcrtomb(c->u8, wch[0], &ms) : 0;
            c->u8[n == (size_t)-1 ? 0 : n] = 0;
            if (pair > 0)
                pair_content(pair, &f, &b);
            if (at & A_REVERSE) {
                short s = f;
                f = b, b = s;
                if (f < 0) /* reversed default colours: dark on light */
                    f = 0;
                if (b < 0)
                    b = 7;
            }
            c->fg = f;
            c->bg = b;
            c->bold = (at & A_BOLD) != 0;
            c->under = (at & A_UNDERLINE) != 0;
        }
    return 0;
}

int screen_save(char *msg, size_t cap)
{
    struct sgrid g;
    struct qerr err = {0};
    char prefix[4096];
    int rc = screen_grab(&g);
    if (rc) {
        snprintf(msg, cap, "screen export: out of memory");
        return rc;
    }
    screen_next_prefix(".", prefix, sizeof prefix);
    rc = screen_export(&g, prefix, "qlens dashboard", &err);
    sgrid_free(&g);
    if (rc)
        snprintf(msg, cap, "screen export: %s", err.msg);
    else
        snprintf(msg, cap, "screen saved: %s.{txt,ans,svg,html}", prefix + 2);
    return rc;
}
