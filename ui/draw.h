/* draw: curses drawing primitives shared by the views.
 *
 * Themes: DT_256 (a 10-step heat ramp on the 256-colour cube), DT_8 (four
 * steps from the 8 ANSI colours), DT_MONO (no colour: attributes and
 * character ramps).  NO_COLOR in the environment starts in DT_MONO.
 * Glyphs: UTF-8 half blocks (two heat cells per character), eighth blocks
 * for bars and braille for plots when the locale is UTF-8; otherwise ASCII
 * (one heat cell per character, " .:-=+*#%@" ramp, '*' plots). */
#ifndef QLENS_UI_DRAW_H
#define QLENS_UI_DRAW_H

#include <stdint.h>

enum draw_theme { DT_256 = 0, DT_8, DT_MONO, DT__COUNT };

/* Colour pairs (roles), set up by draw_theme_apply. */
enum {
    DP_TITLE = 1, DP_TAB, DP_SEL, DP_EASY, DP_MOD, DP_HARD, DP_EXTREME, DP_DIM,
    DP_STATUS, DP_KEY, DP_ERR, DP_MARK, DP_GRID, DP_PLOT, DP_PLOT2,
    DP_HEAT = 16 /* (nlev+2)^2 pairs from here: fg level, bg level */
};

struct draw_ctx {
    int theme;            /* enum draw_theme in use                       */
    int utf8;             /* locale is UTF-8 and QLENS_ASCII is not set   */
    int nlev;             /* heat levels of the theme (ramp length)       */
};

extern struct draw_ctx draw;

/* Pick glyphs from the locale and the initial theme from the terminal and
 * NO_COLOR; call after initscr(). */
void draw_init(void);
/* Switch theme (falls back to a smaller one if the terminal lacks colours
 * or colour pairs). */
void draw_theme_apply(int theme);
const char *draw_theme_name(int theme);

/* Attribute for a named role (colour pair or a mono substitute). */
int draw_attr(int role);
/* s shortened to w columns by cutting its middle ("saved to /tmp/...
 * /session.json"), so a path keeps its file name; into out (cap bytes).
 * Counts bytes (UTF-8 text may end a little shorter). */
void draw_fit(const char *s, int w, char *out, int cap);
/* Text clipped to `w` columns at (y, x); never wraps.  Returns columns
 * written. */
int draw_text(int y, int x, int w, const char *s, int attr);
/* printf into draw_text. */
int draw_textf(int y, int x, int w, int attr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Fill w columns with spaces in attr. */
void draw_fill(int y, int x, int w, int attr);
/* Word-wrapped text in at most maxlines rows of width w; returns the rows
 * used.  Words longer than w are cut. */
int draw_wrap(int y, int x, int w, int maxlines, const char *s, int attr);
/* Attribute for a difficulty class (-1..3) of vm_layers. */
int draw_difficulty_attr(int d);

/* Heat cells: level -1 = outside the matrix, 0..nlev-1, marked = outlier.
 * draw_heat2 draws two vertically stacked cells in one character (UTF-8
 * colour themes); draw_heat1 one cell per character. */
void draw_heat2(int y, int x, int top, int top_mark, int bot, int bot_mark, int cursor);
void draw_heat1(int y, int x, int lev, int mark, int cursor);
/* Heat cells per character row (2 with half blocks, else 1). */
int draw_heat_rows_per_char(void);

/* Vertical bar of height h8 in eighths of a character at column x,
 * bottom at row ybot (UTF-8 eighth blocks, else '#'/'.'). */
void draw_vbar(int ybot, int x, int h8, int attr);

/* Braille / ASCII plot canvas of w x h characters: w*2 x h*4 dots
 * (UTF-8) or w x h points (ASCII). */
struct draw_canvas {
    int w, h;             /* characters */
    int pw, ph;           /* dots       */
    uint8_t *dots;        /* (h, w) braille bits                          */
    uint8_t *col;         /* (h, w) colour role of the last dot set       */
};
int draw_canvas_init(struct draw_canvas *c, int w, int h);
void draw_canvas_free(struct draw_canvas *c);
/* Set dot (px, py), origin top-left; out-of-range ignored. */
void draw_canvas_set(struct draw_canvas *c, int px, int py, int role);
void draw_canvas_line(struct draw_canvas *c, int x0, int y0, int x1, int y1, int role);
void draw_canvas_blit(const struct draw_canvas *c, int y, int x);

#endif
