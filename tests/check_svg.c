/* svg: string building, ticks, axes, labels without overlaps, heatmaps. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/svg.h"
#include "tests/testutil.h"

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

START_TEST(empty_and_escape)
{
    struct sbuf b;
    sb_init(&b);
    ck_assert_ptr_null(b.p); /* nothing appended yet */
    sb_puts(&b, "");
    ck_assert_str_eq(b.p, "");
    sb_esc(&b, "a<b & \"c\" 'd' >\x01");
    ck_assert_str_eq(b.p, "a&lt;b &amp; &quot;c&quot; &#39;d&#39; &gt;?");
    sb_esc(&b, NULL); /* no-op */
    ck_assert_int_eq(b.oom, 0);
    sb_free(&b);
}
END_TEST

START_TEST(printf_long)
{
    struct sbuf b;
    sb_init(&b);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 100; i++)
        sb_printf(&b, "%s%d", big, i);
    ck_assert_uint_eq(b.n, strlen(b.p));
    ck_assert_uint_eq(b.n, 100 * 2999 + 10 + 90 * 2);
    ck_assert(!strncmp(b.p + b.n - 4, "xx99", 4));
    sb_free(&b);
}
END_TEST

START_TEST(fmt_numbers)
{
    char s[32];
    svg_fmt(0, s, sizeof s);
    ck_assert_str_eq(s, "0");
    svg_fmt(1000, s, sizeof s);
    ck_assert_str_eq(s, "1000");
    svg_fmt(0.25, s, sizeof s);
    ck_assert_str_eq(s, "0.25");
    svg_fmt(1e-5, s, sizeof s);
    ck_assert_str_eq(s, "1e-05");
    svg_fmt(NAN, s, sizeof s);
    ck_assert_str_eq(s, "n/a");
}
END_TEST

START_TEST(ticks_degenerate)
{
    double t[16];
    ck_assert_int_eq(svg_ticks(1, 1, 0, t, 8), 0);
    ck_assert_int_eq(svg_ticks(2, 1, 0, t, 8), 0);
    ck_assert_int_eq(svg_ticks(0, 1, 1, t, 8), 0);   /* log needs lo > 0 */
    ck_assert_int_eq(svg_ticks(NAN, 1, 0, t, 8), 0);
    ck_assert_int_eq(svg_ticks(0, 1, 0, t, 0), 0);
}
END_TEST

START_TEST(ticks_linear)
{
    double t[16];
    int n = svg_ticks(0, 1, 0, t, 11);
    ck_assert_int_eq(n, 11);
    ck_assert(t[0] == 0 && fabs(t[10] - 1) < 1e-12);
    n = svg_ticks(-0.37, 4.1, 0, t, 8);
    ck_assert_int_ge(n, 3);
    ck_assert_int_le(n, 8);
    double step = t[1] - t[0];
    for (int i = 0; i < n; i++) {
        ck_assert(t[i] >= -0.37 && t[i] <= 4.1);
        if (i)
            ck_assert(fabs(t[i] - t[i - 1] - step) < 1e-9);
    }
    /* 1, 2 or 5 times a power of ten */
    double m = step / pow(10, floor(log10(step)));
    ck_assert(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9);
}
END_TEST

START_TEST(ticks_log)
{
    double t[16];
    int n = svg_ticks(1, 1000, 1, t, 8);
    ck_assert_int_eq(n, 4);
    ck_assert(t[0] == 1 && t[1] == 10 && t[2] == 100 && fabs(t[3] - 1000) < 1e-9);
    n = svg_ticks(3, 40, 1, t, 16); /* under two decades: 5, 10, 20 ... */
    ck_assert_int_ge(n, 3);
    for (int i = 0; i < n; i++)
        ck_assert(t[i] >= 3 && t[i] <= 40);
    n = svg_ticks(1e-9, 1e9, 1, t, 6); /* too many decades: thinned */
    ck_assert_int_le(n, 6);
}
END_TEST

START_TEST(axis_fit)
{
    struct svg_axis a = {0};
    svg_axis_fit(&a, NULL, 0, 1, 0.1);
    ck_assert(a.lo == 0 && a.hi == 1);
    double v[] = {NAN, 5, 5, INFINITY};
    svg_axis_fit(&a, v, 4, 1, 0);
    ck_assert(a.lo < 5 && a.hi > 5);
    double w[] = {-1, 0, 10, 1000};
    a = (struct svg_axis){.log = 1};
    svg_axis_fit(&a, w, 4, 1, 0);
    ck_assert(fabs(a.lo - 10) < 1e-9 && fabs(a.hi - 1000) < 1e-6);
    svg_axis_include(&a, 0.5);
    ck_assert(a.lo == 0.5);
    svg_axis_include(&a, -3); /* not on a log axis */
    ck_assert(a.lo == 0.5);
}
END_TEST

START_TEST(pixels)
{
    struct sbuf b;
    struct svg_plot p;
    sb_init(&b);
    svg_plot_init(&p, &b, 400, 300, 0);
    p.x = (struct svg_axis){.lo = 0, .hi = 10};
    p.y = (struct svg_axis){.lo = 1, .hi = 100, .log = 1};
    ck_assert(fabs(svg_px(&p, 0) - p.ml) < 1e-9);
    ck_assert(fabs(svg_px(&p, 10) - (p.w - p.mr)) < 1e-9);
    ck_assert(fabs(svg_px(&p, 99) - (p.w - p.mr)) < 1e-9); /* clamped */
    ck_assert(fabs(svg_py(&p, 1) - (p.h - p.mb)) < 1e-9);
    ck_assert(fabs(svg_py(&p, 10) - (p.mt + p.h - p.mb) / 2.0) < 1e-9);
    ck_assert(!svg_ok(&p, 1, 0) && !svg_ok(&p, NAN, 5) && svg_ok(&p, 1, 5));
    p.y = (struct svg_axis){.lo = 0, .hi = 10, .flip = 1};
    ck_assert(fabs(svg_py(&p, 0) - p.mt) < 1e-9);
    sb_free(&b);
}
END_TEST

/* A whole plot with missing data: balanced elements, no NaN in the text. */
START_TEST(plot_nan)
{
    struct sbuf b;
    struct svg_plot p;
    sb_init(&b);
    svg_plot_init(&p, &b, 400, 300, 1);
    p.title = "A <title> & more";
    p.id = "f1";
    double x[] = {0, 1, 2, 3}, y[] = {1, NAN, 3, -1};
    p.x.label = "x (units)";
    p.y.label = "y";
    p.y.log = 1;
    svg_axis_fit(&p.x, x, 4, 1, 0.05);
    svg_axis_fit(&p.y, y, 4, 1, 0.05);
    svg_plot_begin(&p);
    svg_line(&p, x, y, 4, "#000", 0);
    svg_points(&p, x, y, 4, "#000", 2, 3);
    const char *names[] = {"one"}, *cols[] = {"#123456"};
    svg_legend(&p, names, cols, NULL, 1);
    svg_plot_end(&p);
    ck_assert_int_eq(b.oom, 0);
    ck_assert(!strstr(b.p, "nan") && !strstr(b.p, "inf"));
    ck_assert(strstr(b.p, "(log scale)"));
    ck_assert(strstr(b.p, "A &lt;title&gt; &amp; more"));
    ck_assert_int_eq(count(b.p, "<svg"), 1);
    ck_assert_int_eq(count(b.p, "</svg>"), 1);
    ck_assert_int_eq(count(b.p, "<text"), count(b.p, "</text>"));
    ck_assert_int_eq(count(b.p, "<polyline"), 2); /* the gap at NAN splits it */
    ck_assert_int_eq(count(b.p, "<polygon"), 2);  /* two drawable points  */
    sb_free(&b);
}
END_TEST

static void check_no_overlap(const struct svg_label *l, int n, double x0, double y0, double x1,
                             double y1)
{
    for (int i = 0; i < n; i++) {
        if (!l[i].placed)
            continue;
        ck_assert(l[i].bx >= x0 && l[i].by >= y0 && l[i].bx + l[i].bw <= x1 &&
                  l[i].by + l[i].bh <= y1);
        for (int j = 0; j < i; j++)
            if (l[j].placed)
                ck_assert(!svg_box_overlap(l[i].bx, l[i].by, l[i].bw, l[i].bh, l[j].bx, l[j].by,
                                           l[j].bw, l[j].bh));
    }
}

START_TEST(labels_crowd)
{
    enum { N = 60 };
    struct svg_label l[N];
    memset(l, 0, sizeof l);
    for (int i = 0; i < N; i++)
        l[i] = (struct svg_label){.x = 200 + (i % 3), .y = 150, .text = "GPTQ w4 g128"};
    int k = svg_labels_place(l, N, 0, 0, 400, 300, 3, 10);
    ck_assert_int_ge(k, 1);
    ck_assert_int_le(k, 8);
    ck_assert(l[0].placed); /* the first is the most important */
    check_no_overlap(l, N, 0, 0, 400, 300);
}
END_TEST

START_TEST(labels_spread_and_random)
{
    struct svg_label l[200];
    memset(l, 0, sizeof l);
    for (int i = 0; i < 10; i++)
        l[i] = (struct svg_label){.x = 40 + 35 * i, .y = 20 + 28 * i, .text = "abc"};
    ck_assert_int_eq(svg_labels_place(l, 10, 0, 0, 400, 300, 3, 10), 10);
    check_no_overlap(l, 10, 0, 0, 400, 300);
    /* random clouds: whatever is placed never overlaps */
    tu_seed(7);
    for (int rep = 0; rep < 6; rep++) {
        for (int i = 0; i < 200; i++)
            l[i] = (struct svg_label){.x = 400 * tu_uniform(), .y = 300 * tu_uniform(),
                                      .text = i % 2 ? "SpQR w3 g16" : "RTN w8"};
        svg_labels_place(l, 200, 0, 0, 400, 300, 4, 10);
        check_no_overlap(l, 200, 0, 0, 400, 300);
        /* no placed label covers any point */
        for (int i = 0; i < 200; i++)
            for (int j = 0; l[i].placed && j < 200; j++)
                ck_assert(!svg_box_overlap(l[i].bx, l[i].by, l[i].bw, l[i].bh, l[j].x - 4,
                                           l[j].y - 4, 8, 8));
    }
}
END_TEST

START_TEST(labels_fixed_obstacle)
{
    struct svg_label l[2] = {
        {.fixed = 1, .bx = 100, .by = 100, .bw = 200, .bh = 50, .x = -100, .y = -100, .text = ""},
        {.x = 200, .y = 125, .text = "inside"},
    };
    svg_labels_place(l, 2, 0, 0, 400, 300, 3, 10);
    ck_assert(l[0].placed);
    ck_assert(!l[1].placed || !svg_box_overlap(l[1].bx, l[1].by, l[1].bw, l[1].bh, 100, 100,
                                               200, 50));
}
END_TEST

START_TEST(levels_and_heatmap)
{
    ck_assert_int_eq(svg_level(-1, 1, 100, 10), -1);
    ck_assert_int_eq(svg_level(0.5, 1, 100, 10), 0);
    ck_assert_int_eq(svg_level(100, 1, 100, 10), 9);
    ck_assert_int_eq(svg_level(1e9, 1, 100, 10), 9);
    int last = 0;
    for (double v = 1; v <= 100; v *= 1.1) {
        int k = svg_level(v, 1, 100, 10);
        ck_assert_int_ge(k, last);
        last = k;
    }
    /* a row of equal cells is one rect; the grey no-data cell its own */
    float cells[2 * 4] = {5, 5, 5, 5, 1, 100, -1, 100};
    struct sbuf b;
    sb_init(&b);
    svg_heatmap(&b, cells, 4, 2, 0, 0, 10, 10, 35, 20, 1, 100, 16);
    ck_assert_int_eq(count(b.p, "<rect"), 1 + 4);
    ck_assert(strstr(b.p, "#cccccc"));
    ck_assert(strstr(b.p, "width=\"35.00\"")); /* clipped to W */
    sb_free(&b);
    char c[8];
    svg_palette(0, c);
    ck_assert_str_eq(c, "#440154");
    svg_palette(1, c);
    ck_assert_str_eq(c, "#fde725");
    svg_palette(NAN, c);
    ck_assert_str_eq(c, "#440154");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("svg");
    TCase *t = tcase_create("svg");
    tcase_set_timeout(t, 60); /* the random clouds under the sanitizers */
    tcase_add_test(t, empty_and_escape);
    tcase_add_test(t, printf_long);
    tcase_add_test(t, fmt_numbers);
    tcase_add_test(t, ticks_degenerate);
    tcase_add_test(t, ticks_linear);
    tcase_add_test(t, ticks_log);
    tcase_add_test(t, axis_fit);
    tcase_add_test(t, pixels);
    tcase_add_test(t, plot_nan);
    tcase_add_test(t, labels_crowd);
    tcase_add_test(t, labels_spread_and_random);
    tcase_add_test(t, labels_fixed_obstacle);
    tcase_add_test(t, levels_and_heatmap);
    suite_add_tcase(s, t);
    return tu_run(s);
}
