/* check_imatrix: llama.cpp importance-matrix files.
 *
 * Reads the shared model.imatrix (llama-imatrix's legacy output for the
 * shared model), writes and re-reads it (legacy), reads a GGUF imatrix
 * built here with gguf_write, and damages files field by field: every bad
 * file gives an error naming the file, the entry and the field. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "src/calib.h"
#include "src/gguf_write.h"
#include "src/imatrix.h"
#include "src/model.h"
#include "tests/testutil.h"

#define SHARED_IM "reference/ggml-types/model.imatrix"

START_TEST(read_shared)
{
    struct qimatrix im;
    struct qerr err = {0};
    ck_assert_msg(qimatrix_read(&im, tu_shared(SHARED_IM), &err) == 0, "%s", err.msg);
    /* 1 layer: q, k, v, output, gate, up, down (no token_embd, no output) */
    ck_assert_int_eq(im.n, 7);
    ck_assert_int_eq(im.chunks, 16);
    const struct qimatrix_entry *e = qimatrix_find(&im, "blk.0.ffn_down");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->src_name, "blk.0.ffn_down.weight");
    ck_assert_int_eq(e->n, 512);
    ck_assert_int_eq(e->ncall, 16);
    ck_assert_ptr_eq(qimatrix_find(&im, "blk.0.ffn_down.weight"), e);
    e = qimatrix_find(&im, "blk.0.attn_q");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->n, 256);
    for (int j = 0; j < e->n; j++)
        ck_assert(e->values[j] > 0 && isfinite(e->values[j]));
    /* q, k and v read the same input: the same importance */
    const struct qimatrix_entry *k = qimatrix_find(&im, "blk.0.attn_k");
    ck_assert(!memcmp(e->values, k->values, 256 * sizeof(float)));
    ck_assert_ptr_null(qimatrix_find(&im, "output"));
    qimatrix_free(&im);
}
END_TEST

START_TEST(round_trip_legacy)
{
    struct qimatrix im, back;
    struct qerr err = {0};
    ck_assert_int_eq(qimatrix_read(&im, tu_shared(SHARED_IM), &err), 0);
    const char *path = tu_tmpfile("rt.imatrix");
    snprintf(im.dataset, sizeof im.dataset, "calib.txt");
    ck_assert_msg(qimatrix_write(&im, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(qimatrix_read(&back, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back.n, im.n);
    ck_assert_int_eq(back.chunks, im.chunks);
    ck_assert_str_eq(back.dataset, "calib.txt");
    for (int i = 0; i < im.n; i++) {
        ck_assert_str_eq(back.e[i].src_name, im.e[i].src_name);
        ck_assert_int_eq(back.e[i].n, im.e[i].n);
        for (int64_t j = 0; j < im.e[i].n; j++) /* (v*16)/16: exact for powers of 2 */
            ck_assert_float_eq(back.e[i].values[j], im.e[i].values[j]);
    }
    qimatrix_free(&back);
    qimatrix_free(&im);
}
END_TEST

START_TEST(add_and_write)
{
    struct qimatrix im = {0};
    struct qerr err = {0};
    float v[3] = {1, 2, 0.5f};
    ck_assert_int_eq(qimatrix_add(&im, "blk.0.attn_q", 3, 7, v, &err), 0);
    ck_assert_int_eq(qimatrix_add(&im, "blk.0.attn_q", 3, 7, v, &err), QERR_ARG);
    im.chunks = 3;
    const char *path = tu_tmpfile("add.imatrix");
    ck_assert_int_eq(qimatrix_write(&im, path, &err), 0);
    struct qimatrix back;
    ck_assert_msg(qimatrix_read(&back, path, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(back.e[0].src_name, "blk.0.attn_q.weight");
    ck_assert_int_eq(back.e[0].ncall, 3);
    ck_assert_float_eq(back.e[0].values[1], 2.0f);
    qimatrix_free(&back);
    qimatrix_free(&im);
    struct qimatrix empty = {0};
    ck_assert_int_eq(qimatrix_write(&empty, tu_tmpfile("e.imatrix"), &err), QERR_ARG);
}
END_TEST

/* ---- damaged legacy files ---- */

static uint8_t *slurp_shared(size_t *n)
{
    struct qerr err = {0};
    char *b = afile_read(tu_shared(SHARED_IM), 0, n, &err);
    ck_assert_msg(b != NULL, "%s", err.msg);
    return (uint8_t *)b;
}

static void expect_bad(const void *data, size_t n, const char *needle)
{
    const char *path = tu_tmpfile("bad.imatrix");
    ck_assert_int_eq(tu_write_file(path, data, n), 0);
    struct qimatrix im;
    struct qerr err = {0};
    int rc = qimatrix_read(&im, path, &err);
    ck_assert_msg(rc == QERR_FORMAT, "rc %d for %s (%s)", rc, needle, err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "no file name: %s", err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle, err.msg);
}

START_TEST(truncated_everywhere)
{
    size_t n;
    uint8_t *b = slurp_shared(&n);
    /* walk the entries to find where the last one ends; every shorter
     * prefix cuts an entry (the trailer after it is optional) */
    int32_t ne, len, nval;
    size_t pos = 4;
    memcpy(&ne, b, 4);
    for (int i = 0; i < ne; i++) {
        memcpy(&len, b + pos, 4);
        memcpy(&nval, b + pos + 4 + len + 4, 4);
        pos += 4 + (size_t)len + 8 + 4 * (size_t)nval;
    }
    ck_assert_uint_lt(pos, n);
    for (size_t cut = 0; cut < pos; cut += (cut < 64 ? 1 : 61)) {
        const char *path = tu_tmpfile("cut.imatrix");
        ck_assert_int_eq(tu_write_file(path, b, cut), 0);
        struct qimatrix im;
        struct qerr err = {0};
        ck_assert_msg(qimatrix_read(&im, path, &err) == QERR_FORMAT, "cut at %zu read fine", cut);
        ck_assert_msg(strstr(err.msg, "entry") || strstr(err.msg, "header"), "%s", err.msg);
    }
    /* the entries alone (no trailer) are a valid file */
    const char *path = tu_tmpfile("cut.imatrix");
    ck_assert_int_eq(tu_write_file(path, b, pos), 0);
    struct qimatrix im;
    struct qerr err = {0};
    ck_assert_msg(qimatrix_read(&im, path, &err) == 0, "%s", err.msg);
    qimatrix_free(&im);
    free(b);
}
END_TEST

START_TEST(bad_fields)
{
    size_t n;
    uint8_t *b = slurp_shared(&n);
    uint8_t *c = malloc(n);
    int32_t v;
    memcpy(c, b, n);
    v = 0;
    memcpy(c, &v, 4);
    expect_bad(c, n, "entry count 0");
    memcpy(c, b, n);
    v = 100000;
    memcpy(c + 4, &v, 4); /* name length of entry 0 */
    expect_bad(c, n, "entry 0: name length");
    memcpy(c, b, n);
    int32_t len;
    memcpy(&len, b + 4, 4);
    v = 0;
    memcpy(c + 8 + len + 4, &v, 4); /* nval of entry 0 */
    expect_bad(c, n, "nval 0");
    memcpy(c, b, n);
    v = 1 << 28;
    memcpy(c + 8 + len + 4, &v, 4);
    expect_bad(c, n, "nval");
    memcpy(c, b, n);
    v = -1;
    memcpy(c + 8 + len, &v, 4); /* ncall */
    expect_bad(c, n, "ncall is -1");
    memcpy(c, b, n);
    float nanv = NAN;
    memcpy(c + 8 + len + 8 + 4 * 3, &nanv, 4);
    expect_bad(c, n, "value 3");
    free(c);
    free(b);
}
END_TEST

/* ---- GGUF format ---- */

static float gg_sums[2 * 4] = {4, 8, 12, 16, 1, 1, 1, 1};
static float gg_counts[2];

/* in_sum2 (2 matrices, 4 columns) and counts (ncounts); wrong_type writes
 * in_sum2 as F16. */
static void write_gguf_im(const char *path, float count, int64_t ncounts, int wrong_type)
{
    struct gguf_writer *w = gguf_writer_new(3);
    gguf_writer_add_str(w, "general.type", "imatrix");
    gguf_writer_add_u32(w, "imatrix.chunk_count", 5);
    gg_counts[0] = count;
    gg_counts[1] = 0;
    int64_t shape_s[2] = {2, 4}, shape_c[2] = {ncounts, 1};
    gguf_writer_add_tensor(w, "blk.0.ffn_up.weight.in_sum2", wrong_type ? GGML_T_F16 : GGML_T_F32,
                           2, shape_s, gg_sums);
    gguf_writer_add_tensor(w, "blk.0.ffn_up.weight.counts", GGML_T_F32, 2, shape_c, gg_counts);
    struct qerr err = {0};
    ck_assert_msg(gguf_writer_save(w, path, &err) == 0, "%s", err.msg);
    gguf_writer_free(w);
}

START_TEST(read_gguf_format)
{
    const char *path = tu_tmpfile("im.gguf");
    write_gguf_im(path, 4, 2, 0);
    struct qimatrix im;
    struct qerr err = {0};
    ck_assert_msg(qimatrix_read(&im, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(im.n, 1);
    ck_assert_int_eq(im.chunks, 5);
    const struct qimatrix_entry *e = qimatrix_find(&im, "blk.0.ffn_up");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->n, 4);
    ck_assert_int_eq(e->n_mat, 2);
    ck_assert_float_eq(e->values[0], 1.0f);
    ck_assert_float_eq(e->values[3], 4.0f);
    ck_assert_float_eq(e->values[4], 1.0f); /* count 0: neutral importance */
    qimatrix_free(&im);

    write_gguf_im(path, 4, 1, 0); /* one count for two matrices */
    ck_assert_int_eq(qimatrix_read(&im, path, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "counts"));
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    write_gguf_im(path, -1, 2, 0);
    ck_assert_int_eq(qimatrix_read(&im, path, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "count 0 is -1"));
    write_gguf_im(path, 4, 2, 1);
    ck_assert_int_eq(qimatrix_read(&im, path, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "F32 expected"));
}
END_TEST

START_TEST(check_against_model)
{
    struct qimatrix im;
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_int_eq(qimatrix_read(&im, tu_shared(SHARED_IM), &err), 0);
    ck_assert_msg(qmodel_open(&m, tu_shared("reference/ggml-types/model-f32.gguf"), &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(qimatrix_check(&im, "x.imatrix", &m, &err) == 0, "%s", err.msg);
    im.e[2].n = 100;
    ck_assert_int_eq(qimatrix_check(&im, "x.imatrix", &m, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "x.imatrix"));
    ck_assert_ptr_nonnull(strstr(err.msg, im.e[2].src_name));
    ck_assert_ptr_nonnull(strstr(err.msg, "nval 100"));
    im.e[2].n = 256;
    snprintf(im.e[2].name, sizeof im.e[2].name, "blk.7.attn_q");
    ck_assert_int_eq(qimatrix_check(&im, "x.imatrix", &m, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "no tensor blk.7.attn_q"));
    qmodel_close(&m);
    qimatrix_free(&im);
}
END_TEST

/* From a calibration capture: mean x² per column of the site each linear
 * reads; a site never fed is an error naming the tensor. */
START_TEST(from_calibration)
{
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&m, tu_shared("reference/ggml-types/model-f32.gguf"), &err), 0);
    struct calib c;
    ck_assert_int_eq(calib_init(&c, &m.cfg, &err), 0);
    for (int s = 0; s < CALIB_K; s++)
        ck_assert_int_eq(calib_select(&c, -1, s, CALIB_CHANNEL), 0);
    struct qimatrix im;
    ck_assert_int_eq(qimatrix_from_calib(&im, &c, &m, 3, &err), QERR_ARG); /* nothing seen */
    ck_assert_ptr_nonnull(strstr(err.msg, "blk.0.attn_q"));
    for (int s = 0; s < CALIB_K; s++) {
        struct calib_acc *a = calib_get(&c, 0, s);
        float *x = malloc((size_t)a->dim * 2 * sizeof *x);
        for (int j = 0; j < a->dim; j++) { /* two tokens: j and -(j+1) */
            x[j] = (float)j;
            x[a->dim + j] = -(float)(j + 1);
        }
        ck_assert_int_eq(calib_acc_add(&c, a, x, 2, a->dim), 0);
        free(x);
    }
    ck_assert_msg(qimatrix_from_calib(&im, &c, &m, 3, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(im.n, 7);
    ck_assert_int_eq(im.chunks, 3);
    const struct qimatrix_entry *e = qimatrix_find(&im, "blk.0.ffn_down.weight");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->n, 512);
    for (int j = 0; j < 512; j++)
        ck_assert_float_eq_tol(e->values[j], (float)((double)j * j + (double)(j + 1) * (j + 1)) / 2, 1e-3);
    ck_assert_ptr_null(qimatrix_find(&im, "output"));
    qimatrix_free(&im);
    calib_free(&c);
    qmodel_close(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("imatrix");
    TCase *tc = tcase_create("imatrix");
    tcase_add_test(tc, bad_fields);
    tcase_add_test(tc, truncated_everywhere);
    tcase_add_test(tc, read_shared);
    tcase_add_test(tc, round_trip_legacy);
    tcase_add_test(tc, add_and_write);
    tcase_add_test(tc, read_gguf_format);
    tcase_add_test(tc, check_against_model);
    tcase_add_test(tc, from_calibration);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
