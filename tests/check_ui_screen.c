/* ui/screen: a hand-made screen grid as text, ANSI, SVG and XHTML. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "ui/screen.h"

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void put(struct sgrid *g, int y, int x, const char *u8, int fg, int bg)
{
    struct sgrid_cell *c = sgrid_at(g, y, x);
    snprintf(c->u8, sizeof c->u8, "%s", u8);
    c->fg = (short)fg;
    c->bg = (short)bg;
}

START_TEST(empty_grid)
{
    struct sgrid g;
    ck_assert_int_eq(sgrid_init(&g, 0, 0), 0);
    struct sbuf b;
    sb_init(&b);
    sgrid_to_text(&g, &b);
    sgrid_to_ansi(&g, &b);
    ck_assert(b.p == NULL || !strcmp(b.p, ""));
    sgrid_to_svg(&g, &b);
    ck_assert(strstr(b.p, "<svg") && strstr(b.p, "</svg>"));
    sb_free(&b);
    sgrid_free(&g);
}
END_TEST

START_TEST(rgb)
{
    ck_assert_uint_eq(sgrid_rgb(-1, 0x123456), 0x123456);
    ck_assert_uint_eq(sgrid_rgb(0, 0), 0x000000);
    ck_assert_uint_eq(sgrid_rgb(16, 0), 0x000000);
    ck_assert_uint_eq(sgrid_rgb(196, 0), 0xff0000);
    ck_assert_uint_eq(sgrid_rgb(231, 0), 0xffffff);
    ck_assert_uint_eq(sgrid_rgb(232, 0), 0x080808);
    ck_assert_uint_eq(sgrid_rgb(255, 0), 0xeeeeee);
    ck_assert_uint_eq(sgrid_rgb(256, 7), 7);
}
END_TEST

START_TEST(formats)
{
    struct sgrid g;
    ck_assert_int_eq(sgrid_init(&g, 6, 2), 0);
    put(&g, 0, 0, "a", -1, -1);
    put(&g, 0, 1, "<", 196, -1);
    put(&g, 0, 2, "&", 196, -1);
    put(&g, 1, 0, "\u2580", 21, 196); /* a half-block heat cell: top blue, bottom red */
    put(&g, 1, 1, "\u2584", 46, -1);
    struct sbuf b;
    sb_init(&b);
    sgrid_to_text(&g, &b);
    ck_assert_str_eq(b.p, "a<&\n\u2580\u2584\n"); /* trailing blanks trimmed */
    sb_free(&b);
    sgrid_to_ansi(&g, &b);
    ck_assert(strstr(b.p, "\033[0;38;5;196m<&"));
    ck_assert(strstr(b.p, "\033[0;38;5;21;48;5;196m\u2580"));
    ck_assert_int_eq(count(b.p, "\033[0m\n"), 2);
    sb_free(&b);
    sgrid_to_svg(&g, &b);
    ck_assert(strstr(b.p, "&lt;&amp;"));               /* escaped, one run */
    ck_assert(strstr(b.p, "fill=\"#ff0000\""));        /* the red background */
    ck_assert(strstr(b.p, "height=\"8.5\" fill=\"#0000ff\"")); /* ▀ top half, blue */
    ck_assert(strstr(b.p, "y=\"25.5\" width=\"8.4\" height=\"8.5\" fill=\"#00ff00\"")); /* ▄ */
    ck_assert(!strstr(b.p, "\u2580"));                 /* blocks are rects, not glyphs */
    sb_free(&b);
    sgrid_to_html(&g, "a <title>", &b);
    ck_assert(strstr(b.p, "<title>a &lt;title&gt;</title>"));
    ck_assert_int_eq(count(b.p, "<svg"), 1);
    sb_free(&b);
    sgrid_free(&g);
}
END_TEST

START_TEST(export_files)
{
    struct sgrid g;
    struct qerr err = {0};
    char prefix[4096];
    ck_assert_int_eq(sgrid_init(&g, 3, 1), 0);
    put(&g, 0, 0, "x", 1, 2);
    screen_next_prefix(tu_tmpdir(), prefix, sizeof prefix);
    ck_assert(strstr(prefix, "qlens-screen-1"));
    ck_assert_int_eq(screen_export(&g, prefix, "t", &err), 0);
    screen_next_prefix(tu_tmpdir(), prefix, sizeof prefix);
    ck_assert(strstr(prefix, "qlens-screen-2")); /* never overwrites */
    snprintf(prefix, sizeof prefix, "%s/no/dir/s", tu_tmpdir());
    ck_assert_int_lt(screen_export(&g, prefix, "t", &err), 0);
    ck_assert(strstr(err.msg, "no/dir/s.txt"));
    sgrid_free(&g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ui_screen");
    TCase *t = tcase_create("ui_screen");
    tcase_add_test(t, empty_grid);
    tcase_add_test(t, rgb);
    tcase_add_test(t, formats);
    tcase_add_test(t, export_files);
    suite_add_tcase(s, t);
    return tu_run(s);
}
