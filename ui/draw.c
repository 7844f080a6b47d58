/* draw: themes, clipped text, heat cells, bars and braille canvases. */
#define _XOPEN_SOURCE_EXTENDED 1
#include "ui/draw.h"

#include <curses.h>
#include <langinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct draw_ctx draw;

/* Heat ramps: dark (small |x|) to bright (large |x|).  The 256 ramp is a
 * perceptually rising path through the xterm cube (navy, teal, green,
 * yellow); the mark colour (red) is kept out of both ramps. */
static const short ramp256[] = {17, 18, 24, 30, 36, 35, 71, 113, 185, 226};
/* Four steps so the pairs fit the 64 of an 8-colour terminal (TERM=screen). */
static const short ramp8[] = {COLOR_BLUE, COLOR_CYAN, COLOR_GREEN, COLOR_YELLOW};
static const char ramp_ascii[] = " .:-=+*#%@";
#define N256 ((int)(sizeof ramp256 / sizeof ramp256[0]))
#define N8 ((int)(sizeof ramp8 / sizeof ramp8[0]))

static const char *const theme_names[DT__COUNT] = {"256-colour", "8-colour", "mono"};

const char *draw_theme_name(int t) { return t >= 0 && t < DT__COUNT ? theme_names[t] : "?"; }

void draw_init(void)
{
    const char *cs = nl_langinfo(CODESET);
    const char *ascii = getenv("QLENS_ASCII");
    draw.utf8 = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8")) && !(ascii && *ascii == '1');
    int t = DT_256;
    const char *nc = getenv("NO_COLOR");
    if ((nc && *nc) || !has_colors())
        t = DT_MONO;
    if (t != DT_MONO)
        start_color();
    draw_theme_apply(t);
}

static int heat_pairs_needed(int nlev) { return DP_HEAT + (nlev + 2) * (nlev + 2) + nlev + 2; }

static void heat_pairs(const short *ramp, int nlev, short outside, short mark, short cursor)
{
    int n = nlev + 2;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            short fi = i == 0 ? outside : i == n - 1 ? mark : ramp[i - 1];
            short bj = j == 0 ? outside : j == n - 1 ? mark : ramp[j - 1];
            init_pair((short)(DP_HEAT + i * n + j), fi, bj);
        }
    for (int j = 0; j < n; j++) {
        short bj = j == 0 ? outside : j == n - 1 ? mark : ramp[j - 1];
        init_pair((short)(DP_HEAT + n * n + j), cursor, bj);
    }
}

void draw_theme_apply(int t)
{
    if (t == DT_256 && (!has_colors() || COLORS < 256 || COLOR_PAIRS < heat_pairs_needed(N256)))
        t = DT_8;
    if (t == DT_8 && (!has_colors() || COLORS < 8 || COLOR_PAIRS < heat_pairs_needed(N8)))
        t = DT_MONO;
    draw.theme = t;
    if (t == DT_MONO) {
        draw.nlev = (int)strlen(ramp_ascii);
        return;
    }
    use_default_colors();
    int c256 = t == DT_256;
    init_pair(DP_TITLE, COLOR_BLACK, COLOR_CYAN);
    init_pair(DP_TAB, COLOR_WHITE, COLOR_BLUE);
    init_pair(DP_SEL, COLOR_BLACK, COLOR_WHITE);
    init_pair(DP_EASY, c256 ? 114 : COLOR_GREEN, -1);
    init_pair(DP_MOD, c256 ? 186 : COLOR_YELLOW, -1);
    init_pair(DP_HARD, c256 ? 208 : COLOR_MAGENTA, -1);
    init_pair(DP_EXTREME, c256 ? 196 : COLOR_RED, -1);
    init_pair(DP_DIM, c256 ? 244 : COLOR_BLUE, -1);
    init_pair(DP_STATUS, COLOR_BLACK, COLOR_GREEN);
    init_pair(DP_KEY, COLOR_BLACK, COLOR_CYAN);
    init_pair(DP_ERR, COLOR_WHITE, COLOR_RED);
    init_pair(DP_MARK, COLOR_RED, -1);
    init_pair(DP_GRID, COLOR_MAGENTA, -1);
    init_pair(DP_PLOT, COLOR_CYAN, -1);
    init_pair(DP_PLOT2, COLOR_YELLOW, -1);
    if (c256) {
        draw.nlev = N256;
        heat_pairs(ramp256, N256, COLOR_BLACK, 196, 15);
    } else {
        draw.nlev = N8;
        heat_pairs(ramp8, N8, COLOR_BLACK, COLOR_RED, COLOR_WHITE);
    }
}

/* Mono substitutes keep roles distinguishable without colour. */
int draw_attr(int role)
{
    if (draw.theme != DT_MONO)
        return (int)COLOR_PAIR(role) | (role == DP_TITLE || role == DP_KEY ? A_BOLD : 0);
    switch (role) {
    case DP_TITLE: case DP_SEL: case DP_STATUS: case DP_KEY: return A_REVERSE;
    case DP_TAB: case DP_EXTREME: case DP_ERR: case DP_MARK: return A_BOLD;
    case DP_DIM: return A_DIM;
    case DP_HARD: return A_UNDERLINE;
    default: return A_NORMAL;
    }
}

int draw_difficulty_attr(int d)
{
    static const int roles[] = {DP_EASY, DP_MOD, DP_HARD, DP_EXTREME};
    return d < 0 ? draw_attr(DP_DIM) : draw_attr(roles[d > 3 ? 3 : d]);
}

int draw_text(int y, int x, int w, const char *s, int attr)
{
    int maxy = getmaxy(stdscr), maxx = getmaxx(stdscr);
    if (y < 0 || y >= maxy || x < 0 || x >= maxx || w <= 0 || !s)
        return 0;
    if (x + w > maxx)
        w = maxx - x;
    /* Count columns of UTF-8 text: our strings are ASCII except glyphs,
     * each of which is one column wide. */
    int cols = 0;
    const char *p = s, *end = s;
    while (*p && cols < w) {
        const unsigned char c = (unsigned char)*p;
        int len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        for (int i = 1; i < len; i++)
            if (!p[i]) { len = i; break; }
        p += len;
        end = p;
        cols++;
    }
    attron(attr);
    mvaddnstr(y, x, s, (int)(end - s));
    attroff(attr);
    return cols;
}

int draw_textf(int y, int x, int w, int attr, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return draw_text(y, x, w, buf, attr);
}

int draw_wrap(int y, int x, int w, int maxlines, const char *s, int attr)
{
    int lines = 0;
    while (s && *s && lines < maxlines && w > 0) {
        while (*s == ' ')
            s++;
        int n = (int)strlen(s), cut = n;
        if (n > w) { /* break at the last space that fits */
            cut = w;
            while (cut > 0 && s[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = w;
        }
        char line[512];
        snprintf(line, sizeof line, "%.*s", cut < 511 ? cut : 511, s);
        draw_text(y + lines, x, w, line, attr);
        lines++;
        s += cut;
    }
    return lines;
}

void draw_fill(int y, int x, int w, int attr)
{
    int maxx = getmaxx(stdscr);
    if (y < 0 || y >= getmaxy(stdscr) || x < 0 || x >= maxx)
        return;
    if (x + w > maxx)
        w = maxx - x;
    attron(attr);
    mvhline(y, x, ' ', w);
    attroff(attr);
}

int draw_heat_rows_per_char(void)
{
    return draw.utf8 && draw.theme != DT_MONO ? 2 : 1;
}

static int heat_index(int lev, int mark)
{
    if (mark && lev >= 0)
        return draw.nlev + 1;
    return lev < 0 ? 0 : lev + 1;
}

static int in_screen(int y, int x)
{
    return y >= 0 && x >= 0 && y < getmaxy(stdscr) && x < getmaxx(stdscr);
}

void draw_fit(const char *s, int w, char *out, int cap)
{
    int n = (int)strlen(s);
    if (n <= w || w < 12) {
        snprintf(out, (size_t)cap, "%s", s);
        return;
    }
    int tail = w / 2, head = w - 3 - tail;
    while (head > 0 && (s[head] & 0xC0) == 0x80) /* whole UTF-8 sequences */
        head--;
    const char *t = s + n - tail;
    while (*t && (*t & 0xC0) == 0x80)
        t++;
    snprintf(out, (size_t)cap, "%.*s...%s", head, s, t);
}

void draw_heat2(int y, int x, int top, int top_mark, int bot, int bot_mark, int cursor)
{
    if (!in_screen(y, x))
        return;
    int n = draw.nlev + 2, ti = heat_index(top, top_mark), bi = heat_index(bot, bot_mark);
    if (cursor) {
        attron(COLOR_PAIR(DP_HEAT + n * n + bi) | A_BOLD);
        mvaddstr(y, x, "\u254b"); /* ╋ */
        attroff(COLOR_PAIR(DP_HEAT + n * n + bi) | A_BOLD);
        return;
    }
    attron(COLOR_PAIR(DP_HEAT + ti * n + bi));
    mvaddstr(y, x, "\u2580"); /* ▀: fg = top cell, bg = bottom cell */
    attroff(COLOR_PAIR(DP_HEAT + ti * n + bi));
}

void draw_heat1(int y, int x, int lev, int mark, int cursor)
{
    if (!in_screen(y, x))
        return;
    if (draw.theme == DT_MONO) {
        char ch = lev < 0 ? ' ' : mark ? 'X' : ramp_ascii[lev < draw.nlev ? lev : draw.nlev - 1];
        int a = (mark ? A_BOLD : 0) | (cursor ? A_REVERSE : 0);
        attron(a);
        mvaddch(y, x, cursor && ch == ' ' ? '+' : ch);
        attroff(a);
        return;
    }
    int n = draw.nlev + 2, i = heat_index(lev, mark);
    int pair = cursor ? DP_HEAT + n * n + i : DP_HEAT + i * n + i;
    attron(COLOR_PAIR(pair) | (cursor ? A_BOLD : 0));
    mvaddch(y, x, cursor ? '+' : ' ');
    attroff(COLOR_PAIR(pair) | (cursor ? A_BOLD : 0));
}

void draw_vbar(int ybot, int x, int h8, int attr)
{
    static const char *const eighths[] = {"", "\u2581", "\u2582", "\u2583", "\u2584",
                                          "\u2585", "\u2586", "\u2587", "\u2588"};
    attron(attr);
    for (int y = ybot; h8 > 0; y--, h8 -= 8) {
        if (!in_screen(y, x))
            break;
        if (draw.utf8)
            mvaddstr(y, x, eighths[h8 >= 8 ? 8 : h8]);
        else
            mvaddch(y, x, h8 >= 8 ? '#' : h8 >= 4 ? '+' : '.');
    }
    attroff(attr);
}

int draw_canvas_init(struct draw_canvas *c, int w, int h)
{
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1)
        return -1;
    c->w = w;
    c->h = h;
    c->pw = draw.utf8 ? 2 * w : w;
    c->ph = draw.utf8 ? 4 * h : h;
    c->dots = calloc((size_t)w * h, 1);
    c->col = calloc((size_t)w * h, 1);
    if (!c->dots || !c->col) {
        draw_canvas_free(c);
        return -1;
    }
    return 0;
}

void draw_canvas_free(struct draw_canvas *c)
{
    free(c->dots);
    free(c->col);
    memset(c, 0, sizeof *c);
}

void draw_canvas_set(struct draw_canvas *c, int px, int py, int role)
{
    if (px < 0 || py < 0 || px >= c->pw || py >= c->ph)
        return;
    /* Braille bit of dot (dx, dy) in a 2x4 cell (Unicode order). */
    static const uint8_t bit[4][2] = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}};
    int cx = draw.utf8 ? px / 2 : px, cy = draw.utf8 ? py / 4 : py;
    size_t i = (size_t)cy * c->w + cx;
    c->dots[i] |= draw.utf8 ? bit[py % 4][px % 2] : 1;
    if (role == DP_MARK || (c->col[i] != DP_MARK && role > c->col[i]))
        c->col[i] = (uint8_t)role; /* points win over lines */
}

void draw_canvas_line(struct draw_canvas *c, int x0, int y0, int x1, int y1, int role)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (int guard = 0; guard < 100000; guard++) {
        draw_canvas_set(c, x0, y0, role);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

void draw_canvas_blit(const struct draw_canvas *c, int y, int x)
{
    for (int r = 0; r < c->h; r++)
        for (int k = 0; k < c->w; k++) {
            uint8_t d = c->dots[(size_t)r * c->w + k];
            if (!d || !in_screen(y + r, x + k))
                continue;
            int a = draw_attr(c->col[(size_t)r * c->w + k] ? c->col[(size_t)r * c->w + k] : DP_PLOT);
            attron(a);
            if (draw.utf8) {
                char u[4];
                unsigned cp = 0x2800u + d;
                u[0] = (char)(0xe0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                u[2] = (char)(0x80 | (cp & 0x3f));
                u[3] = '\0';
                mvaddstr(y + r, x + k, u);
            } else { /* points ('o') stand out from lines ('.') */
                mvaddch(y + r, x + k, c->col[(size_t)r * c->w + k] == DP_MARK ? 'o' : '.');
            }
            attroff(a);
        }
}
