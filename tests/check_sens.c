/* Tests of src/sens (the sensitivity runner's progress and cancel) and
 * src/sens_cache (results kept between runs): the cache folder's lookup
 * order, then on a private copy of stories260K (so it can be touched):
 * miss then hit (same numbers, bit for bit, nothing recomputed), a
 * changed model (mtime, contents) and a changed text reported as stale and
 * recomputed, a cancelled run's cells reused, a corrupt cache file
 * reported and replaced, candidates matched by spec across runs, and
 * --no-cache writing nothing. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "src/paths.h"
#include "src/sens.h"
#include "src/sens_cache.h"
#include "tests/testutil.h"

/* ---- fixtures ---- */

static char model[PATH_MAX], evalt[PATH_MAX], calibt[PATH_MAX], cdir[PATH_MAX];

static void copy_file(const char *from, const char *to, size_t max)
{
    FILE *f = fopen(from, "rb");
    ck_assert_msg(f != NULL, "missing %s", from);
    char *buf = malloc(2u << 20);
    size_t n = fread(buf, 1, max < (2u << 20) ? max : (2u << 20), f);
    fclose(f);
    ck_assert_int_eq(tu_write_file(to, buf, n), 0);
    free(buf);
}

static void setup(void)
{
    static int k;
    char d[PATH_MAX - 64];
    snprintf(d, sizeof d, "%s/s%d-%d", tu_tmpdir(), (int)getpid(), k++);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    snprintf(model, sizeof model, "%s/m.gguf", d);
    snprintf(evalt, sizeof evalt, "%s/eval.txt", d);
    snprintf(calibt, sizeof calibt, "%s/calib.txt", d);
    snprintf(cdir, sizeof cdir, "%s/cache", d);
    const char *m = tu_shared("models/stories260K.gguf");
    const char *ev = tu_shared("data/tinystories-eval.txt");
    ck_assert_msg(m && ev, "no shared folder (QLENS_SHARED)");
    copy_file(m, model, (size_t)-1);
    copy_file(ev, evalt, 6000);
    copy_file(tu_shared("data/tinystories-calib.txt"), calibt, 6000);
}

struct run {
    struct pipe_env e;
    struct sens s;
    int rc;
    struct qerr err;
};

struct stop {
    int after;                   /* cancel before cell number `after`     */
    int seen, calls;
};

static int stop_cb(void *ud, const struct sens_progress *p)
{
    struct stop *st = ud;
    st->calls++;
    if (p->phase != SENS_PH_CELLS)
        return 0;
    ck_assert_int_ge(p->done, 0);
    ck_assert_int_lt(p->done, p->total);
    ck_assert_ptr_nonnull(p->tensor);
    return st->after >= 0 && st->seen++ >= st->after;
}

/* Cells at once for the next run() (0: the default split). */
static int g_cell_threads, g_threads;

static void run(struct run *r, const char *cands, int use_cache, struct stop *st)
{
    struct pipe_opts o;
    pipe_opts_default(&o);
    o.eval = evalt;
    o.calib = calibt;
    o.ctx = 32;
    o.chunks = 1;
    o.calib_ctx = 32;
    o.calib_chunks = 1;
    memset(r, 0, sizeof *r);
    struct sens_cand *c;
    int n_c;
    ck_assert_int_eq(sens_parse_cands(cands, &c, &n_c, &r->err), 0);
    ck_assert_msg(pipe_setup(&r->e, model, &o, NULL, &r->err) == 0, "%s", r->err.msg);
    struct sens_ctl ctl = {st ? stop_cb : NULL, st, use_cache, cdir, g_threads, g_cell_threads};
    r->rc = sens_run(&r->s, &r->e, &o, c, n_c, &ctl, &r->err);
}

static void done(struct run *r)
{
    sens_free(&r->s);
    pipe_teardown(&r->e);
}

static int n_cells(const struct run *r)
{
    return r->s.n_t * r->s.n_c;
}

/* Same measured numbers, bit for bit (cells of the same candidates). */
static void same_cells(const struct run *a, const struct run *b)
{
    ck_assert_int_eq(n_cells(a), n_cells(b));
    for (int i = 0; i < n_cells(a); i++) {
        const struct sens_cell *x = &a->s.cell[i], *y = &b->s.cell[i];
        ck_assert(x->done && y->done);
        ck_assert(x->kl_mean == y->kl_mean && x->bits == y->bits && x->out_err2 == y->out_err2);
        ck_assert(x->imp_mse == y->imp_mse && x->mse == y->mse && x->top1 == y->top1);
        ck_assert(x->kl_p99 == y->kl_p99 || (isnan(x->kl_p99) && isnan(y->kl_p99)));
    }
    ck_assert(a->s.base.ppl == b->s.base.ppl);
    ck_assert_int_eq(a->s.base.n_scored, b->s.base.n_scored);
}

/* ---- tests ---- */

START_TEST(cache_dir_order)
{
    char buf[PATH_MAX];
    setenv("HOME", "/h", 1);
    unsetenv("QLENS_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    ck_assert_int_eq(paths_cache_dir(buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "/h/.cache/qlens");
    setenv("XDG_CACHE_HOME", "rel", 1); /* relative: ignored (XDG) */
    ck_assert_int_eq(paths_cache_dir(buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "/h/.cache/qlens");
    setenv("XDG_CACHE_HOME", "/x", 1);
    ck_assert_int_eq(paths_cache_dir(buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "/x/qlens");
    setenv("QLENS_CACHE_DIR", "/q", 1);
    ck_assert_int_eq(paths_cache_dir(buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "/q");
    ck_assert_int_eq(paths_cache_dir(buf, 2), -1);
    unsetenv("QLENS_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    ck_assert_int_eq(paths_cache_dir(buf, sizeof buf), -1);
}
END_TEST

START_TEST(miss_then_hit)
{
    setup();
    struct run a, b;
    struct stop st = {-1, 0, 0};
    run(&a, "rtn:2:32,rtn:8:32", 1, &st);
    ck_assert_msg(a.rc == 0, "%s", a.err.msg);
    ck_assert_int_eq(a.s.cache_state, SENS_CACHE_NONE);
    ck_assert_int_eq(a.s.n_computed, n_cells(&a));
    ck_assert_int_eq(a.s.n_reused, 0);
    ck_assert_int_eq(st.calls, n_cells(&a) + 2); /* calib, float, every cell */
    ck_assert_str_eq(a.s.cache_note, "");
    ck_assert_int_eq(access(a.s.cache_path, F_OK), 0);
    st.calls = 0;
    run(&b, "rtn:2:32,rtn:8:32", 1, &st);
    ck_assert_msg(b.rc == 0, "%s", b.err.msg);
    ck_assert_int_eq(b.s.cache_state, SENS_CACHE_LOADED);
    ck_assert_int_eq(b.s.n_reused, n_cells(&b));
    ck_assert_int_eq(b.s.n_computed, 0);
    ck_assert_int_eq(st.calls, 0); /* no pass at all */
    ck_assert_int_eq(b.s.calib_chunks, a.s.calib_chunks);
    same_cells(&a, &b);
    done(&a);
    done(&b);
}
END_TEST

static void expect_stale(const char *why)
{
    struct run r;
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_int_eq(r.s.cache_state, SENS_CACHE_STALE);
    ck_assert_msg(strstr(r.s.cache_note, "is stale") && strstr(r.s.cache_note, why) &&
                  strstr(r.s.cache_note, "recomputing"), "%s", r.s.cache_note);
    ck_assert_int_eq(r.s.n_reused, 0);
    ck_assert_int_eq(r.s.n_computed, n_cells(&r));
    done(&r);
    run(&r, "rtn:2:32", 1, NULL); /* rewritten: a hit now */
    ck_assert_int_eq(r.s.cache_state, SENS_CACHE_LOADED);
    ck_assert_int_eq(r.s.n_reused, n_cells(&r));
    done(&r);
}

START_TEST(stale_model_mtime)
{
    setup();
    struct run r;
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_int_eq(r.rc, 0);
    done(&r);
    struct timespec ts[2] = {{1000000, 0}, {1000000, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, model, ts, 0), 0);
    expect_stale("model changed (modification time)");
}
END_TEST

START_TEST(stale_model_contents)
{
    setup();
    struct run r;
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_int_eq(r.rc, 0);
    done(&r);
    /* one byte of the last weights, mtime put back: the tail hash sees it */
    struct stat st;
    ck_assert_int_eq(stat(model, &st), 0);
    FILE *f = fopen(model, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, st.st_size - 7, SEEK_SET);
    int c = fgetc(f);
    fseek(f, st.st_size - 7, SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ck_assert_int_eq(utimensat(AT_FDCWD, model, ts, 0), 0);
    expect_stale("model changed (size or contents)");
}
END_TEST

START_TEST(stale_text)
{
    setup();
    struct run r;
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_int_eq(r.rc, 0);
    done(&r);
    FILE *f = fopen(evalt, "r+b");
    ck_assert_ptr_nonnull(f);
    fputs("Once upon a midnight dreary", f); /* same size, other words */
    fclose(f);
    expect_stale("evaluation text changed");
    f = fopen(calibt, "r+b");
    fputs("The quick brown fox jumped", f);
    fclose(f);
    expect_stale("calibration text changed");
}
END_TEST

START_TEST(partial_reuse)
{
    setup();
    struct run full, a, b;
    run(&full, "rtn:3:32,rtn:4:32", 0, NULL); /* the reference, uncached */
    ck_assert_int_eq(full.rc, 0);
    ck_assert_str_eq(full.s.cache_path, "");
    struct stop st = {9, 0, 0};
    run(&a, "rtn:3:32,rtn:4:32", 1, &st);
    ck_assert_int_eq(a.rc, QERR_CANCEL);
    /* 9 cells started before the cancel; cells in flight on other
     * threads may still finish (and are kept), none is started after */
    int kept = a.s.n_computed;
    ck_assert_int_ge(kept, 9 - a.s.cell_threads + 1);
    ck_assert_int_le(kept, 9);
    int d = 0;
    for (int i = 0; i < n_cells(&a); i++)
        d += a.s.cell[i].done;
    ck_assert_int_eq(d, kept);
    done(&a);
    st = (struct stop){-1, 0, 0};
    run(&b, "rtn:3:32,rtn:4:32", 1, &st);
    ck_assert_msg(b.rc == 0, "%s", b.err.msg);
    ck_assert_int_eq(b.s.n_reused, kept);
    ck_assert_int_eq(b.s.n_computed, n_cells(&b) - kept);
    same_cells(&full, &b);
    done(&b);
    done(&full);
}
END_TEST

/* Cells in parallel give the serial run's numbers, bit for bit, whatever
 * the split (one cell at a time with two chunk workers, one with one,
 * two and three cells at once), and every cell is measured once. */
START_TEST(parallel_equals_serial)
{
    setup();
    static const int splits[][2] = {{1, 1}, {2, 1}, {2, 2}, {3, 3}, {0, 0}};
    struct run ref;
    g_threads = 1, g_cell_threads = 1;
    run(&ref, "rtn:2:32,rtn:4:row,q8_0", 0, NULL);
    ck_assert_msg(ref.rc == 0, "%s", ref.err.msg);
    ck_assert_int_eq(ref.s.cell_threads, 1);
    for (size_t k = 1; k < sizeof splits / sizeof splits[0]; k++) {
        struct run r;
        struct stop st = {-1, 0, 0};
        g_threads = splits[k][0], g_cell_threads = splits[k][1];
        run(&r, "rtn:2:32,rtn:4:row,q8_0", 0, &st);
        ck_assert_msg(r.rc == 0, "%s", r.err.msg);
        if (g_cell_threads)
            ck_assert_int_eq(r.s.cell_threads, g_cell_threads);
        ck_assert_int_eq(r.s.n_computed, n_cells(&r));
        ck_assert_int_eq(st.calls, n_cells(&r) + 2); /* one report per cell */
        same_cells(&ref, &r);
        for (int i = 0; i < n_cells(&r); i++)
            ck_assert(r.s.cell[i].ppl == ref.s.cell[i].ppl);
        done(&r);
    }
    g_threads = g_cell_threads = 0;
    done(&ref);
}
END_TEST

/* The split: never more cells than threads or missing cells; one cell
 * keeps two chunk workers when it has two threads. */
START_TEST(split_rule)
{
    int c, w;
    ck_assert_int_eq(sens_split(2, 0, 70, &c, &w), 2);
    ck_assert_int_eq(w, 1);
    ck_assert_int_eq(sens_split(2, 1, 70, &c, &w), 1);
    ck_assert_int_eq(w, 0);
    ck_assert_int_eq(sens_split(1, 0, 70, &c, &w), 1);
    ck_assert_int_eq(w, 1);
    ck_assert_int_eq(sens_split(8, 0, 3, &c, &w), 3);
    ck_assert_int_eq(sens_split(4, 9, 70, &c, &w), 4);
    ck_assert_int_eq(sens_split(4, 0, 0, &c, &w), 1);
    ck_assert_int_le(sens_split(0, 0, 1000, &c, &w), SENS_MAX_THREADS);
    ck_assert_int_ge(c, 1);
}
END_TEST

/* Cancel from the environment's flag (Ctrl-C) while cells run in
 * parallel: the run stops with QERR_CANCEL, finished cells are kept. */
static volatile int *g_flag;

static int flag_cb(void *ud, const struct sens_progress *p)
{
    (void)ud;
    if (p->phase == SENS_PH_CELLS && p->done >= 5)
        *g_flag = 1;
    return 0;
}

START_TEST(parallel_cancel_flag)
{
    setup();
    struct pipe_opts o;
    pipe_opts_default(&o);
    o.eval = evalt, o.calib = calibt;
    o.ctx = 32, o.chunks = 2, o.calib_ctx = 32, o.calib_chunks = 1;
    struct run r;
    memset(&r, 0, sizeof r);
    struct sens_cand *c;
    int n_c;
    ck_assert_int_eq(sens_parse_cands("rtn:2:32,rtn:3:32,rtn:4:32", &c, &n_c, &r.err), 0);
    ck_assert_msg(pipe_setup(&r.e, model, &o, NULL, &r.err) == 0, "%s", r.err.msg);
    static volatile int flag;
    flag = 0;
    g_flag = &flag;
    r.e.cb.cancel = &flag;
    struct sens_ctl ctl = {flag_cb, NULL, 1, cdir, 2, 2};
    r.rc = sens_run(&r.s, &r.e, &o, c, n_c, &ctl, &r.err);
    ck_assert_int_eq(r.rc, QERR_CANCEL);
    ck_assert_int_ge(r.s.n_computed, 5);
    ck_assert_int_lt(r.s.n_computed, n_cells(&r));
    int d = 0;
    for (int i = 0; i < n_cells(&r); i++)
        d += r.s.cell[i].done && isfinite(r.s.cell[i].kl_mean);
    ck_assert_int_eq(d, r.s.n_computed);
    done(&r);
}
END_TEST

START_TEST(corrupt_file)
{
    setup();
    struct run r;
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_int_eq(r.rc, 0);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", r.s.cache_path);
    done(&r);
    static const char *bad[] = {
        "{\"qlens\":\"sensitivity-cache\",\"vers", /* truncated */
        "not json at all",
        "{\"qlens\":\"other\"}",
    };
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tu_write_file(path, bad[i], strlen(bad[i])), 0);
        run(&r, "rtn:2:32", 1, NULL);
        ck_assert_msg(r.rc == 0, "%s", r.err.msg);
        ck_assert_int_eq(r.s.cache_state, SENS_CACHE_CORRUPT);
        ck_assert_msg(strstr(r.s.cache_note, "corrupt") && strstr(r.s.cache_note, path),
                      "%s", r.s.cache_note);
        ck_assert_int_eq(r.s.n_computed, n_cells(&r));
        done(&r);
    }
    /* a cell with a non-number: corrupt, not half used */
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_int_eq(r.s.cache_state, SENS_CACHE_LOADED);
    done(&r);
    size_t n;
    struct qerr err = {0};
    char *text = afile_read(path, 0, &n, &err);
    char *k = strstr(text, "\"kl_mean\":");
    ck_assert_ptr_nonnull(k);
    memcpy(k + 10, "\"x\"", 3);
    ck_assert_int_eq(tu_write_file(path, text, n), 0);
    free(text);
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_int_eq(r.s.cache_state, SENS_CACHE_CORRUPT);
    ck_assert_int_eq(r.s.n_reused, 0);
    done(&r);
}
END_TEST

START_TEST(candidates_by_spec)
{
    setup();
    struct run r;
    run(&r, "rtn:2:32,rtn:8:32", 1, NULL);
    int nt = r.s.n_t;
    done(&r);
    /* the shared candidate's cells are reused (matched by spec, not by
     * position in the list) */
    run(&r, "rtn:8:32,rtn:4:32", 1, NULL);
    ck_assert_int_eq(r.s.n_reused, nt);
    ck_assert_int_eq(r.s.n_computed, nt);
    done(&r);
    /* the first run's other candidate was kept in the file */
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_int_eq(r.s.n_reused, nt);
    ck_assert_int_eq(r.s.n_computed, 0);
    done(&r);
}
END_TEST

START_TEST(no_cache)
{
    setup();
    struct run r;
    run(&r, "rtn:2:32", 0, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.s.cache_state, SENS_CACHE_OFF);
    done(&r);
    ck_assert_int_ne(access(cdir, F_OK), 0);
}
END_TEST

START_TEST(unwritable_cache)
{
    setup();
    ck_assert_int_eq(tu_write_file(cdir, "x", 1), 0); /* a file where the folder goes */
    struct run r;
    run(&r, "rtn:2:32", 1, NULL);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg); /* the run itself succeeds */
    ck_assert_msg(strstr(r.s.cache_note, "cannot write the sensitivity cache"), "%s",
                  r.s.cache_note);
    done(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sens");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cache_dir_order);
    tcase_add_test(tc, miss_then_hit);
    tcase_add_test(tc, stale_model_mtime);
    tcase_add_test(tc, stale_model_contents);
    tcase_add_test(tc, stale_text);
    tcase_add_test(tc, partial_reuse);
    tcase_add_test(tc, parallel_equals_serial);
    tcase_add_test(tc, split_rule);
    tcase_add_test(tc, parallel_cancel_flag);
    tcase_add_test(tc, corrupt_file);
    tcase_add_test(tc, candidates_by_spec);
    tcase_add_test(tc, no_cache);
    tcase_add_test(tc, unwritable_cache);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
