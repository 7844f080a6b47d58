/* report: max pooling (against the dashboard's reference), the Pareto
 * front, and whole reports on stories260K: both formats, notes for
 * unusable input, no half file on failure. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/report.h"
#include "tests/testutil.h"
#include "ui/vm_map.h"

START_TEST(pool_blocks)
{
    long bh, bw;
    report_pool_blocks(1, 1, 100, 50, &bh, &bw);
    ck_assert(bh == 1 && bw == 1);
    report_pool_blocks(32000, 768, 190, 110, &bh, &bw);
    ck_assert_int_le((32000 + bh - 1) / bh, 110);
    ck_assert_int_le((768 + bw - 1) / bw, 190);
    ck_assert_int_gt((32000 + bh - 2) / (bh - 1), 110); /* the smallest block that fits */
}
END_TEST

START_TEST(maxpool_vs_vm_map)
{
    tu_seed(3);
    static const long shapes[][4] = {{1, 1, 1, 1}, {1, 7, 1, 3}, {5, 1, 2, 1},
                                     {17, 23, 4, 5}, {64, 64, 1, 1}, {33, 100, 33, 100},
                                     {40, 9, 7, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        long rows = shapes[s][0], cols = shapes[s][1], bh = shapes[s][2], bw = shapes[s][3];
        float *x = malloc(sizeof *x * (size_t)(rows * cols));
        for (long i = 0; i < rows * cols; i++)
            x[i] = (float)(tu_normal() * (tu_uniform() < 0.01 ? 50 : 1));
        long gh = (rows + bh - 1) / bh, gw = (cols + bw - 1) / bw;
        float *c = malloc(sizeof *c * (size_t)(gh * gw));
        report_maxpool(x, rows, cols, bh, bw, c);
        for (long i = 0; i < gh; i++)
            for (long j = 0; j < gw; j++)
                ck_assert_float_eq(c[i * gw + j],
                                   vm_map_cell_ref(x, rows, cols, i * bh, j * bw, bh, bw));
        free(x);
        free(c);
    }
}
END_TEST

START_TEST(maxpool_nonfinite)
{
    float x[4] = {1, NAN, -2, 0.5f}, c[2];
    report_maxpool(x, 2, 2, 1, 2, c);
    ck_assert(isinf(c[0])); /* a NaN is never hidden */
    ck_assert_float_eq(c[1], 2);
}
END_TEST

START_TEST(pareto)
{
    double x[] = {2, 3, 4, 4, 8, NAN, 1, 5};
    double y[] = {100, 20, 10, 10, 8, 1, INFINITY, 30};
    unsigned char f[8];
    report_pareto(x, y, 8, f);
    const unsigned char want[8] = {1, 1, 1, 1, 1, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(f[i], want[i]);
    report_pareto(x, y, 0, f); /* nothing to do */
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void opts(struct report_opts *o, const char *out)
{
    report_opts_default(o);
    o->model = tu_shared("models/stories260K.bin");
    ck_assert_ptr_nonnull(o->model);
    o->out = out;
    o->cmdline = "qlens report --test";
}

START_TEST(html_whole)
{
    struct report_opts o;
    struct report_notes notes;
    struct qerr err = {0};
    const char *out = tu_tmpfile("r.html");
    opts(&o, out);
    ck_assert_int_eq(report_write(&o, &notes, &err), 0);
    ck_assert_int_eq(notes.n, 0);
    char *s = slurp(out);
    ck_assert_ptr_nonnull(s);
    ck_assert(!strncmp(s, "<!DOCTYPE html>", 15));
    ck_assert(strstr(s, "</html>\n"));
    /* self-contained: no script, no link but the namespaces (xhtml, each svg) */
    ck_assert(!strstr(s, "<script") && !strstr(s, "<link") && !strstr(s, "src="));
    ck_assert_int_eq(count(s, "http"), 1 + count(s, "<svg"));
    /* 3 weight charts + (map + histogram) x 3 tensors + 4 correlation scatters */
    ck_assert_int_eq(count(s, "<svg"), 3 + 6 + 4);
    ck_assert_int_eq(count(s, "<figure>"), count(s, "<svg"));
    ck_assert(strstr(s, "260032 in 47 tensors"));
    ck_assert(strstr(s, "-0.8790")); /* mmlu_stem r, as `qlens correlate` prints it */
    ck_assert(strstr(s, "0.8648"));
    ck_assert(strstr(s, "qlens report --test"));
    ck_assert(!strstr(s, "nan") && !strstr(s, ">inf"));
    free(s);
}
END_TEST

START_TEST(md_and_notes)
{
    struct report_opts o;
    struct report_notes notes;
    struct qerr err = {0};
    const char *bad = tu_tmpfile("bad.json"), *other = tu_tmpfile("other.json");
    ck_assert_int_eq(tu_write_file(bad, "{\"schema\": ", 11), 0);
    const char *js = "{\"schema\": \"qlens-results/1\", \"results\": [{\"id\": \"a\", \"model\": "
                     "\"other\", \"method\": \"RTN\", \"bits\": {\"w\": 4, \"a\": 16, \"kv\": 16},"
                     " \"ppl\": {\"x\": 5}}]}";
    ck_assert_int_eq(tu_write_file(other, js, strlen(js)), 0);
    char out[4096];
    snprintf(out, sizeof out, "%s", tu_tmpfile("r.md"));
    opts(&o, out);
    o.md = 1;
    o.top = 1;
    o.runs = other;
    o.results[0] = (char *)bad;
    o.n_results = 1;
    ck_assert_int_eq(report_write(&o, &notes, &err), 0);
    ck_assert_int_ge(notes.n, 3); /* other model, no run, bad store (no benchmarks) */
    int saw_other = 0, saw_bad = 0;
    for (int i = 0; i < notes.n; i++) {
        saw_other |= strstr(notes.msg[i], "other models") != NULL;
        saw_bad |= strstr(notes.msg[i], "bad.json") != NULL;
    }
    ck_assert(saw_other && saw_bad);
    char *s = slurp(out);
    ck_assert_ptr_nonnull(s);
    ck_assert(!strncmp(s, "# qlens report: stories260K", 27));
    ck_assert(strstr(s, "Left out:"));
    int nfig = count(s, "](r-fig");
    ck_assert_int_eq(nfig, 3 + 2);
    for (int k = 1; k <= nfig; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/r-fig%d.svg", tu_tmpdir(), k);
        char *f = slurp(p);
        ck_assert_ptr_nonnull(f);
        ck_assert(strstr(f, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
        free(f);
    }
    free(s);
}
END_TEST

/* The dashboard's session file names its settings bpw / kl (the sweep:
 * bits_per_weight / kl_mean); ΔPPL comes from the float entry. */
START_TEST(session_runs)
{
    const char *sess = tu_tmpfile("session.json");
    const char *js =
        "{\"schema\": \"qlens-results/1\", \"results\": ["
        "{\"id\": \"stories260K/float\", \"model\": \"stories260K\", \"method\": \"float\","
        " \"bits\": {\"w\": 16, \"a\": 16, \"kv\": 16}, \"settings\": {\"spec\": \"float (F32 "
        "weights)\", \"bpw\": 16, \"kl\": 0, \"top1\": 1}, \"ppl\": {\"tinystories-eval\": 8}},"
        "{\"id\": \"stories260K/g\", \"model\": \"stories260K\", \"method\": \"GPTQ\","
        " \"bits\": {\"w\": 2, \"a\": 16, \"kv\": 16}, \"group_size\": 128, \"settings\": "
        "{\"spec\": \"GPTQ w2 g128 asym\", \"bpw\": 2.26, \"kl\": 4.45, \"top1\": 0.09}, "
        "\"ppl\": {\"tinystories-eval\": 600}}]}";
    ck_assert_int_eq(tu_write_file(sess, js, strlen(js)), 0);
    struct report_opts o;
    struct report_notes notes;
    struct qerr err = {0};
    const char *out = tu_tmpfile("s.html");
    opts(&o, out);
    o.top = 0;
    o.runs = sess;
    ck_assert_int_eq(report_write(&o, &notes, &err), 0);
    ck_assert_int_eq(notes.n, 0);
    char *s = slurp(out);
    ck_assert(strstr(s, "<td class=\"l\">GPTQ w2 g128 asym</td>"));
    ck_assert(strstr(s, ">2.26</td>"));
    ck_assert(strstr(s, ">+7400.0%</td>")); /* 600 / 8 - 1 */
    ck_assert(strstr(s, ">4.4500</td>"));
    ck_assert(strstr(s, ">9.0%</td>"));
    ck_assert(strstr(s, "float baseline 8.000"));
    ck_assert(strstr(s, "id=\"runs-kl\""));
    free(s);
}
END_TEST

START_TEST(cannot_write)
{
    struct report_opts o;
    struct qerr err = {0};
    char out[4096];
    snprintf(out, sizeof out, "%s/no/such/dir/r.html", tu_tmpdir());
    opts(&o, out);
    ck_assert_int_lt(report_write(&o, NULL, &err), 0);
    ck_assert(strstr(err.msg, "r.html"));
    struct stat st;
    ck_assert_int_ne(stat(out, &st), 0);
    o.model = tu_tmpfile("missing.bin");
    ck_assert_int_lt(report_write(&o, NULL, &err), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *t = tcase_create("report");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, pool_blocks);
    tcase_add_test(t, maxpool_vs_vm_map);
    tcase_add_test(t, maxpool_nonfinite);
    tcase_add_test(t, pareto);
    tcase_add_test(t, html_whole);
    tcase_add_test(t, md_and_notes);
    tcase_add_test(t, session_runs);
    tcase_add_test(t, cannot_write);
    suite_add_tcase(s, t);
    return tu_run(s);
}
