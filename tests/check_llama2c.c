/* check_llama2c: the legacy llama2.c checkpoint loader on files written
 * here with known values (shared and unshared classifier), damaged headers,
 * every truncation, and the real stories260K.bin. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/model.h"
#include "tests/testutil.h"

/* dim 8, hidden 12, 2 layers, 2 heads (head_dim 4), 1 kv head, vocab 5,
 * seq_len 3. */
enum { D = 8, H = 12, L = 2, NH = 2, NKV = 1, V = 5, S = 3, HD = D / NH };

/* Stacked arrays in file order: (name, per-layer, rows, cols). */
static const struct {
    const char *canon;
    int per_layer;
    int rows, cols;
} A[] = {
    {"token_embd", 0, V, D},           {"attn_norm", 1, 1, D},
    {"attn_q", 1, NH * HD, D},         {"attn_k", 1, NKV * HD, D},
    {"attn_v", 1, NKV * HD, D},        {"attn_output", 1, D, NH * HD},
    {"ffn_norm", 1, 1, D},             {"ffn_gate", 1, H, D},
    {"ffn_down", 1, D, H},             {"ffn_up", 1, H, D},
    {"output_norm", 0, 1, D},
};
#define NA (int)(sizeof A / sizeof *A)

/* The value of element j of array a, layer l: unique per position. */
static float val(int a, int l, int j) { return (float)(a * 10000 + l * 1000 + j); }

static size_t write_l2c(const char *path, int shared, const int32_t *hdr_override)
{
    FILE *f = fopen(path, "wb");
    int32_t h[7] = {D, H, L, NH, NKV, shared ? V : -V, S};
    if (hdr_override)
        memcpy(h, hdr_override, sizeof h);
    fwrite(h, 4, 7, f);
    for (int a = 0; a < NA; a++)
        for (int l = 0; l < (A[a].per_layer ? L : 1); l++)
            for (int j = 0; j < A[a].rows * A[a].cols; j++) {
                float v = val(a, l, j);
                fwrite(&v, 4, 1, f);
            }
    for (int j = 0; j < 2 * S * HD / 2; j++) {  /* freq_cis real, imag */
        float v = -1.0f;
        fwrite(&v, 4, 1, f);
    }
    for (int j = 0; !shared && j < V * D; j++) {
        float v = val(99, 0, j);
        fwrite(&v, 4, 1, f);
    }
    long n = ftell(f);
    fclose(f);
    return (size_t)n;
}

static void check_small(struct qmodel *m, int shared)
{
    const struct qconfig *c = &m->cfg;
    ck_assert_int_eq(m->format, QF_LLAMA2C);
    ck_assert_str_eq(c->arch, "llama");
    ck_assert(c->dim == D && c->hidden_dim == H && c->n_layers == L && c->n_heads == NH);
    ck_assert(c->n_kv_heads == NKV && c->head_dim == HD && c->vocab_size == V && c->ctx_len == S);
    ck_assert(c->tied_output == shared && c->rope_style == QROPE_INTERLEAVED);
    ck_assert_int_eq(m->n_tensors, 2 + 9 * L + !shared);
    for (int a = 0; a < NA; a++)
        for (int l = 0; l < (A[a].per_layer ? L : 1); l++) {
            char name[64];
            if (A[a].per_layer)
                snprintf(name, sizeof name, "blk.%d.%s", l, A[a].canon);
            else
                snprintf(name, sizeof name, "%s", A[a].canon);
            int k = qmodel_find(m, name);
            ck_assert_msg(k >= 0, "%s missing", name);
            struct qtensor *t = &m->tensors[k];
            ck_assert_int_eq(t->nelem, A[a].rows * A[a].cols);
            ck_assert_int_eq(qtensor_rows(t), A[a].rows);
            ck_assert_int_eq(qtensor_cols(t), A[a].cols);
            const float *x = qtensor_f32(t);
            for (int j = 0; j < A[a].rows * A[a].cols; j++)
                ck_assert_msg(x[j] == val(a, l, j), "%s[%d] = %g", name, j, x[j]);
        }
    struct qtensor *out = qmodel_get(m, -1, QR_OUTPUT);
    if (shared) {
        ck_assert_ptr_null(out);
    } else {
        ck_assert_str_eq(out->src_name, "wcls");
        ck_assert(qtensor_f32(out)[V * D - 1] == val(99, 0, V * D - 1));
    }
    ck_assert_str_eq(qmodel_get(m, 1, QR_ATTN_K)->src_name, "wk[1]");
}

START_TEST(test_shared_and_unshared)
{
    for (int shared = 0; shared < 2; shared++) {
        const char *p = tu_tmpfile(shared ? "shared.bin" : "unshared.bin");
        write_l2c(p, shared, NULL);
        struct qmodel m;
        struct qerr e = {0};
        ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
        check_small(&m, shared);
        ck_assert_ptr_null(m.tokenizer_path);
        qmodel_close(&m);
    }
}
END_TEST

START_TEST(test_tokenizer_beside)
{
    const char *p = tu_tmpfile("withtok.bin");
    write_l2c(p, 1, NULL);
    struct qmodel m;
    struct qerr e = {0};
    const char *tb = tu_tmpfile("tokenizer.bin");
    tu_write_file(tb, "x", 1);
    ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(m.tokenizer_path, tb);
    qmodel_close(&m);
    const char *t5 = tu_tmpfile("tok5.bin");  /* tok<vocab>.bin is preferred */
    tu_write_file(t5, "x", 1);
    ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(m.tokenizer_path, t5);
    qmodel_close(&m);
    remove(t5);
    remove(tb);
}
END_TEST

static void expect_fail(const char *p, int code, const char *what)
{
    struct qmodel m;
    struct qerr e = {0};
    int rc = qmodel_open(&m, p, &e);
    ck_assert_msg(rc == code, "rc %d (want %d): %s", rc, code, e.msg);
    ck_assert_msg(!strncmp(e.msg, p, strlen(p)), "message does not start with the file: %s", e.msg);
    ck_assert_msg(strstr(e.msg, what), "no '%s' in: %s", what, e.msg);
}

START_TEST(test_absurd_headers)
{
    static const struct {
        int32_t h[7];
        int code;
        const char *what;
    } cases[] = {
        {{0, H, L, NH, NKV, V, S}, QERR_FORMAT, "offset 0: header field dim = 0 is out of range"},
        {{-8, H, L, NH, NKV, V, S}, QERR_FORMAT, "dim = -8"},
        {{D, 1 << 30, L, NH, NKV, V, S}, QERR_FORMAT, "offset 4: header field hidden_dim"},
        {{D, H, 100000, NH, NKV, V, S}, QERR_FORMAT, "offset 8: header field n_layers = 100000"},
        {{D, H, L, 0, NKV, V, S}, QERR_FORMAT, "offset 12: header field n_heads = 0"},
        {{D, H, L, NH, 0, V, S}, QERR_FORMAT, "offset 16: header field n_kv_heads = 0"},
        {{D, H, L, NH, NKV, 0, S}, QERR_FORMAT, "offset 20: header field vocab_size = 0"},
        {{D, H, L, NH, NKV, INT32_MIN, S}, QERR_FORMAT, "vocab_size = -2147483648"},
        {{D, H, L, NH, NKV, V, -1}, QERR_FORMAT, "offset 24: header field seq_len = -1"},
        {{D, H, L, 3, 1, V, S}, QERR_FORMAT, "do not divide"},
        {{D, H, L, NH, 3, V, S}, QERR_FORMAT, "do not divide"},
        {{0x616b3432, 1, 0, 0, 0, 0, 0}, QERR_UNSUPP, "'ak42' magic"},
        /* plausible, but the weights it implies are far larger than the file */
        {{4096, 11008, 32, 32, 32, 32000, 4096}, QERR_FORMAT, "runs past end of file"},
    };
    const char *p = tu_tmpfile("absurd.bin");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_l2c(p, 1, cases[i].h);
        expect_fail(p, cases[i].code, cases[i].what);
    }
    tu_write_file(p, "\1\0\0\0", 4);
    expect_fail(p, QERR_FORMAT, "offset 0: file is 4 bytes, too short");
    tu_write_file(p, "", 0);
    expect_fail(p, QERR_FORMAT, "file is empty");
}
END_TEST

/* Every proper prefix of a valid file is rejected with a message. */
START_TEST(test_every_truncation)
{
    for (int shared = 0; shared < 2; shared++) {
        const char *p = tu_tmpfile("full.bin"), *q = tu_tmpfile("cut.bin");
        size_t n = write_l2c(p, shared, NULL);
        FILE *f = fopen(p, "rb");
        uint8_t *b = malloc(n);
        ck_assert_int_eq(fread(b, 1, n, f), n);
        fclose(f);
        for (size_t len = 1; len < n; len += len < 64 ? 1 : 3) {
            tu_write_file(q, b, len);
            struct qmodel m;
            struct qerr e = {0};
            int rc = qmodel_open(&m, q, &e);
            ck_assert_msg(rc == QERR_FORMAT, "shared %d, prefix %zu of %zu: rc %d %s", shared, len,
                          n, rc, e.msg);
            ck_assert_msg(strstr(e.msg, q) && (strstr(e.msg, "past end") || strstr(e.msg, "too short")),
                          "prefix %zu: %s", len, e.msg);
        }
        free(b);
    }
}
END_TEST

START_TEST(test_stories260k)
{
    const char *p = tu_shared("models/stories260K.bin");
    ck_assert_msg(p != NULL, "stories260K.bin missing");
    struct qmodel m;
    struct qerr e = {0};
    ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
    const struct qconfig *c = &m.cfg;
    ck_assert(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5 && c->n_heads == 8);
    ck_assert(c->n_kv_heads == 4 && c->head_dim == 8 && c->vocab_size == 512 && c->ctx_len == 512);
    ck_assert(c->tied_output);
    ck_assert_int_eq(m.n_tensors, 47);
    ck_assert_int_eq(qmodel_param_count(&m), 260032);
    ck_assert_ptr_nonnull(m.tokenizer_path);
    ck_assert_ptr_nonnull(strstr(m.tokenizer_path, "tok512.bin"));
    /* the last tensor (output_norm) ends where the freq_cis tables start */
    struct qtensor *on = qmodel_get(&m, -1, QR_OUT_NORM);
    ck_assert_uint_eq(on->file_offset + on->nbytes + 2 * 512 * 4 * 4, m.maps[0].size);
    qmodel_close(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("llama2c");
    TCase *tc = tcase_create("llama2c");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_shared_and_unshared);
    tcase_add_test(tc, test_tokenizer_beside);
    tcase_add_test(tc, test_absurd_headers);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_stories260k);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
