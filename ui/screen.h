/* screen: the dashboard's screen as a grid of styled cells, and that grid
 * as plain text, ANSI text (256-colour SGR), SVG and XHTML (for slides).
 *
 * The converters are pure string building (no curses), testable with a
 * hand-made grid; screen_grab (ui/screen.c, the one curses part) fills the
 * grid from what the terminal shows.  Half-block heatmap cells (U+2580 ▀,
 * U+2584 ▄, U+2588 █) become two rectangles in SVG, so the heatmaps keep
 * their resolution and have no font gaps. */
#ifndef QLENS_UI_SCREEN_H
#define QLENS_UI_SCREEN_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "src/svg.h"

struct sgrid_cell {
    char u8[16];      /* the character as UTF-8 ("" = space)          */
    short fg, bg;     /* colour index 0..255, -1 = terminal default    */
    unsigned char bold, under;
};

struct sgrid {
    int w, h;
    struct sgrid_cell *c; /* (h, w) row-major, owned                   */
};

int sgrid_init(struct sgrid *g, int w, int h);
void sgrid_free(struct sgrid *g);
struct sgrid_cell *sgrid_at(struct sgrid *g, int y, int x);

/* xterm's RGB of colour index i (0..255); -1 gives def. */
unsigned sgrid_rgb(int i, unsigned def);

void sgrid_to_text(const struct sgrid *g, struct sbuf *b);
void sgrid_to_ansi(const struct sgrid *g, struct sbuf *b);
void sgrid_to_svg(const struct sgrid *g, struct sbuf *b);
void sgrid_to_html(const struct sgrid *g, const char *title, struct sbuf *b);

/* Write prefix.txt, .ans, .svg and .html (each atomically).  Returns 0 or
 * <0 with err naming the file. */
int screen_export(const struct sgrid *g, const char *prefix, const char *title,
               struct qerr *err);
/* The first "dir/qlens-screen-N" (N = 1, 2, ...) whose .txt does not
 * exist yet, into buf. */
void screen_next_prefix(const char *dir, char *buf, size_t cap);

/* The curses screen as shown (curscr) into g (initialised here). */
int screen_grab(struct sgrid *g);
/* Grab and export to the next qlens-screen-N in the current directory;
 * msg gets "screen saved: ..." or the error.  Returns 0 or <0. */
int screen_save(char *msg, size_t cap);

#endif
