/* Tests of src/tscache: the statistics results cache.  Miss, hit (the
 * same bits as measuring), a changed model (stale), a damaged cache file
 * (corrupt) and keys that must not match. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "analysis/afile.h"
#include "quant/ggml_types.h"
#include "src/tscache.h"
#include "src/tstats.h"
#include "tests/testutil.h"

#define ROWS 96
#define COLS 512

/* A raw file of three tensors (F16, BF16, F32) opened as a model through
 * the loaders' builder API.  `salt` changes the values. */
static void write_model(const char *path, int salt)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    float *x = malloc(ROWS * COLS * sizeof *x);
    tu_seed(100 + (unsigned)salt);
    for (int i = 0; i < ROWS * COLS; i++)
        x[i] = (float)(tu_normal() * 0.02);
    static const uint32_t ids[3] = {GGT_F16, GGT_BF16, GGT_F32};
    for (int k = 0; k < 3; k++) {
        size_t rs = ggt_row_size(ids[k], COLS);
        char *q = malloc(rs * ROWS);
        struct qerr err = {0};
        ck_assert_int_eq(ggt_quantize(ids[k], x, q, ROWS, COLS, NULL, &err), 0);
        ck_assert(fwrite(q, rs, ROWS, f) == ROWS);
        free(q);
    }
    fclose(f);
    free(x);
}

static void open_model(struct qmodel *m, const char *path)
{
    static const enum qdtype dt[3] = {QD_F16, QD_BF16, QD_F32};
    memset(m, 0, sizeof *m);
    m->path = strdup(path);
    struct qerr err = {0};
    int map = qmodel_map_file(m, path, &err);
    ck_assert_msg(map >= 0, "%s", err.msg);
    uint64_t off = 0;
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", k);
        int64_t shape[2] = {ROWS, COLS};
        ck_assert_int_ge(qmodel_add_tensor(m, name, name, dt[k], 2, shape, map, off, &err), 0);
        off += m->tensors[k].nbytes;
    }
}

static const char *cache_dir(void)
{
    static char d[4096];
    if (!d[0])
        snprintf(d, sizeof d, "%s", tu_tmpfile("cache"));
    return d;
}

/* Measure every tensor with the cache of the model at path; returns the
 * state found at open, the hits in *hits and the rows in ts. */
static enum tscache_state run(const char *path, double thresh, struct tstats *ts, int *hits)
{
    struct qmodel m;
    open_model(&m, path);
    struct qerr err = {0};
    struct tscache *c = tscache_open(&m, cache_dir(), &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    enum tscache_state st = tscache_state(c, NULL, 0);
    struct tstats_opts o;
    tstats_opts_default(&o);
    o.st.abs_thresh = thresh;
    o.cache = c;
    ck_assert_int_eq(tstats_compute(&m, &o, ts, &err), 0);
    ck_assert_msg(tscache_save(c, &err) == 0, "%s", err.msg);
    *hits = tscache_hits(c);
    tscache_close(c);
    qmodel_close(&m);
    return st;
}

static void same_rows(const struct tstats *a, const struct tstats *b)
{
    ck_assert_int_eq(a->n, b->n);
    for (int i = 0; i < a->n; i++)
        ck_assert_msg(!memcmp(&a->rows[i].st, &b->rows[i].st, sizeof a->rows[i].st), "row %d", i);
}

START_TEST(test_miss_then_hit)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmpfile("m-hit.bin"));
    write_model(path, 0);
    struct tstats a, b, c;
    int hits;
    ck_assert_int_eq(run(path, 6.0, &a, &hits), TSCACHE_NONE);
    ck_assert_int_eq(hits, 0);
    ck_assert_int_eq(run(path, 6.0, &b, &hits), TSCACHE_LOADED);
    ck_assert_int_eq(hits, 3);
    same_rows(&a, &b);
    /* another threshold is another key: measured, then both are kept */
    ck_assert_int_eq(run(path, 0.01, &c, &hits), TSCACHE_LOADED);
    ck_assert_int_eq(hits, 0);
    tstats_free(&c);
    ck_assert_int_eq(run(path, 0.01, &c, &hits), TSCACHE_LOADED);
    ck_assert_int_eq(hits, 3);
    tstats_free(&c);
    ck_assert_int_eq(run(path, 6.0, &c, &hits), TSCACHE_LOADED);
    ck_assert_int_eq(hits, 3);
    same_rows(&a, &c);
    tstats_free(&a), tstats_free(&b), tstats_free(&c);
}
END_TEST

/* The model rewritten (same size, other values; then only its time
 * changed): the old results are stale, never used. */
START_TEST(test_stale)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmpfile("m-stale.bin"));
    write_model(path, 0);
    struct tstats a, b;
    int hits;
    run(path, 6.0, &a, &hits);
    tstats_free(&a);
    write_model(path, 1);
    ck_assert_int_eq(run(path, 6.0, &b, &hits), TSCACHE_STALE);
    ck_assert_int_eq(hits, 0);
    struct tstats fresh;
    struct qmodel m;
    open_model(&m, path);
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&m, NULL, &fresh, &err), 0);
    same_rows(&b, &fresh);
    qmodel_close(&m);
    tstats_free(&b), tstats_free(&fresh);
    ck_assert_int_eq(run(path, 6.0, &b, &hits), TSCACHE_LOADED);
    ck_assert_int_eq(hits, 3);
    tstats_free(&b);
    struct timespec ts[2] = {{0, UTIME_NOW}, {12345, 0}}; /* only the time */
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
    ck_assert_int_eq(run(path, 6.0, &b, &hits), TSCACHE_STALE);
    ck_assert_int_eq(hits, 0);
    tstats_free(&b);
}
END_TEST

/* The cache file of the model at path. */
static void cache_file(const char *path, char *out, size_t cap)
{
    struct qmodel m;
    open_model(&m, path);
    struct qerr err = {0};
    struct tscache *c = tscache_open(&m, cache_dir(), &err);
    snprintf(out, cap, "%s", tscache_path(c));
    tscache_close(c);
    qmodel_close(&m);
}

/* A damaged cache file (a flipped byte, cut short, garbage, empty) is
 * corrupt: ignored, the tensors measured, the file replaced. */
START_TEST(test_corrupt)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmpfile("m-corrupt.bin"));
    write_model(path, 0);
    struct tstats a, b;
    int hits;
    run(path, 6.0, &a, &hits);
    char cf[4096];
    cache_file(path, cf, sizeof cf);
    size_t n = 0;
    struct qerr err = {0};
    char *good = afile_read(cf, 0, &n, &err);
    ck_assert_msg(good != NULL, "%s", err.msg);
    for (int k = 0; k < 4; k++) {
        char *bad = malloc(n);
        memcpy(bad, good, n);
        size_t len = n;
        if (k == 0)
            bad[n / 2] ^= 0x10;          /* a flipped bit in an entry */
        else if (k == 1)
            len = n - 11;                /* cut short */
        else if (k == 2)
            memcpy(bad, "GARBAGE!", 8);  /* not ours */
        else
            len = 0;                     /* empty */
        ck_assert_int_eq(tu_write_file(cf, bad, len), 0);
        free(bad);
        ck_assert_msg(run(path, 6.0, &b, &hits) == TSCACHE_CORRUPT, "damage %d", k);
        ck_assert_int_eq(hits, 0);
        same_rows(&a, &b);
        tstats_free(&b);
        ck_assert_int_eq(run(path, 6.0, &b, &hits), TSCACHE_LOADED); /* replaced */
        ck_assert_int_eq(hits, 3);
        tstats_free(&b);
    }
    /* another version of the format: stale, not corrupt */
    char *v2 = malloc(n);
    memcpy(v2, good, n);
    v2[8] = TSCACHE_VERSION + 1;
    ck_assert_int_eq(tu_write_file(cf, v2, n), 0);
    ck_assert_int_eq(run(path, 6.0, &b, &hits), TSCACHE_STALE);
    ck_assert_int_eq(hits, 0);
    tstats_free(&b);
    free(v2);
    free(good);
    tstats_free(&a);
    (void)err;
}
END_TEST

/* Overrides are measured, never looked up or stored; per-channel runs
 * measure the tensor (its channels are not cached) and store the whole. */
START_TEST(test_override_channels)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmpfile("m-ovr.bin"));
    write_model(path, 0);
    struct qmodel m;
    open_model(&m, path);
    struct qerr err = {0};
    struct tscache *c = tscache_open(&m, tu_tmpfile("cache-ovr"), &err);
    ck_assert_ptr_nonnull(c);
    struct tstats_opts o;
    tstats_opts_default(&o);
    o.cache = c;
    o.channels = TSTATS_ROWS;
    struct tstats_row r;
    ck_assert_int_eq(tstats_tensor(&m, 0, &o, &r, &err), 0);
    ck_assert_int_eq(r.n_channels, ROWS);
    free(r.ch);
    o.channels = TSTATS_NONE;
    ck_assert_int_eq(tstats_tensor(&m, 0, &o, &r, &err), 0);
    ck_assert_int_eq(tscache_hits(c), 1);
    float *w = calloc(ROWS * COLS, sizeof *w);
    w[5] = 1.0f;
    qtensor_set_override(&m.tensors[0], w);
    ck_assert_int_eq(tstats_tensor(&m, 0, &o, &r, &err), 0);
    ck_assert_int_eq(tscache_hits(c), 1);
    ck_assert(r.st.max == 1.0f); /* the override's values */
    qtensor_set_override(&m.tensors[0], NULL);
    ck_assert_int_eq(tstats_tensor(&m, 0, &o, &r, &err), 0);
    ck_assert_int_eq(tscache_hits(c), 2);
    ck_assert(r.st.max < 1.0f); /* the file's, not the override's */
    tscache_close(c);
    qmodel_close(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tscache");
    TCase *t = tcase_create("tscache");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, test_miss_then_hit);
    tcase_add_test(t, test_stale);
    tcase_add_test(t, test_corrupt);
    tcase_add_test(t, test_override_channels);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
