/* check_ggml_types: ggml's tensor types against llama.cpp's own output.
 *
 * ../shared/reference/ggml-types holds model-f32.gguf and what
 * llama-quantize made of it (pure-<T>.gguf without, imat-<T>.gguf with the
 * importance matrix model.imatrix).  For every type: quantize each matrix
 * of the F32 model with qlens and compare the bytes with the same tensor in
 * llama.cpp's file (all of them, not a sample); decode hand-built blocks
 * whose values are known; and the degenerate inputs. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant/ggml_types.h"
#include "quant/quant.h"
#include "src/gguf.h"
#include "src/imatrix.h"
#include "tests/testutil.h"

/* ---- a mapped GGUF ---- */

struct gf {
    void *base;
    size_t size;
    struct gguf_file g;
};

static void gf_open(struct gf *f, const char *rel)
{
    const char *path = tu_shared(rel);
    ck_assert_msg(path != NULL, "missing shared file %s", rel);
    int fd = open(path, O_RDONLY);
    ck_assert_msg(fd >= 0, "cannot open %s", path);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    f->size = (size_t)st.st_size;
    f->base = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    ck_assert(f->base != MAP_FAILED);
    struct qerr err = {0};
    memset(&f->g, 0, sizeof f->g);
    ck_assert_msg(gguf_parse(&f->g, path, f->base, f->size, &err) == 0, "%s", err.msg);
}

static void gf_close(struct gf *f)
{
    gguf_free(&f->g);
    munmap(f->base, f->size);
}

static const struct gguf_tinfo *gf_find(const struct gf *f, const char *name)
{
    for (uint64_t i = 0; i < f->g.n_tensors; i++)
        if (gguf_str_eq(f->g.tinfo[i].name, name))
            return &f->g.tinfo[i];
    return NULL;
}

static const uint8_t *gf_data(const struct gf *f, const struct gguf_tinfo *t)
{
    return (const uint8_t *)f->base + f->g.data_offset + t->offset;
}

static int64_t ti_nelem(const struct gguf_tinfo *t)
{
    int64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        n *= (int64_t)t->ne[d];
    return n;
}

/* ---- byte equality against llama-quantize ---- */

/* Quantize every F32 matrix of model-f32.gguf to the type of the same
 * tensor in `other` and compare bytes; returns the number compared. */
static int compare_file(const char *other, const char *imatrix_rel)
{
    struct gf src, dst;
    gf_open(&src, "reference/ggml-types/model-f32.gguf");
    gf_open(&dst, other);
    struct qimatrix im = {0};
    if (imatrix_rel) {
        struct qerr err = {0};
        ck_assert_msg(qimatrix_read(&im, tu_shared(imatrix_rel), &err) == 0, "%s", err.msg);
    }
    int compared = 0;
    for (uint64_t i = 0; i < dst.g.n_tensors; i++) {
        const struct gguf_tinfo *td = &dst.g.tinfo[i];
        char name[128];
        gguf_str_copy(td->name, name, sizeof name);
        const struct gguf_tinfo *ts = gf_find(&src, name);
        ck_assert_msg(ts != NULL, "%s: %s not in the F32 model", other, name);
        ck_assert_int_eq(ts->ggml_type, GGT_F32);
        if (td->ggml_type == GGT_F32)
            continue; /* norms stay F32 */
        const struct ggt_traits *tt = ggt_traits(td->ggml_type);
        ck_assert_msg(tt != NULL, "%s: %s: type %u", other, name, td->ggml_type);
        int64_t n = (int64_t)ts->ne[0], rows = ti_nelem(ts) / n;
        size_t bytes = (size_t)rows * ggt_row_size(td->ggml_type, n);
        uint8_t *out = malloc(bytes);
        float *x = malloc((size_t)(rows * n) * sizeof *x);
        memcpy(x, gf_data(&src, ts), (size_t)(rows * n) * sizeof *x);
        const float *qw = NULL;
        if (imatrix_rel) {
            const struct qimatrix_entry *e = qimatrix_find(&im, name);
            if (e) {
                ck_assert_int_eq(e->n, n);
                qw = e->values;
            }
        }
        struct qerr err = {0};
        ck_assert_msg(ggt_quantize(td->ggml_type, x, out, rows, n, qw, &err) == 0, "%s", err.msg);
        const uint8_t *ref = gf_data(&dst, td);
        size_t first = bytes;
        for (size_t b = 0; b < bytes && first == bytes; b++)
            if (out[b] != ref[b])
                first = b;
        ck_assert_msg(first == bytes, "%s: %s (%s%s): first differing byte %zu of %zu (block %zu)",
                      other, name, tt->name, qw ? ", imatrix" : "", first, bytes,
                      first / (size_t)tt->type_size);
        /* the reference recipe gives the same bytes as the fast one */
        memset(out, 0, bytes);
        tt->quantize_ref(x, out, rows, n, qw);
        ck_assert_msg(!memcmp(out, ref, bytes), "%s: %s: reference quantizer differs", other, name);
        free(out);
        free(x);
        compared++;
    }
    qimatrix_free(&im);
    gf_close(&src);
    gf_close(&dst);
    return compared;
}

static const char *const pure_files[] = {
    "pure-Q4_0", "pure-Q4_1", "pure-Q5_0",   "pure-Q5_1",   "pure-Q8_0",   "pure-Q2_K",
    "pure-Q3_K_S", "pure-Q4_K_S", "pure-Q5_K_S", "pure-Q6_K", "pure-IQ4_NL", "pure-IQ4_XS",
};
#define N_PURE (int)(sizeof pure_files / sizeof *pure_files)

START_TEST(pure_bytes)
{
    char rel[128];
    snprintf(rel, sizeof rel, "reference/ggml-types/%s.gguf", pure_files[_i]);
    /* 7 matrices: token_embd, q, k, v, output, gate, up, down (output tied?) */
    ck_assert_int_ge(compare_file(rel, NULL), 7);
}
END_TEST

static const char *const imat_files[] = {"imat-Q4_0", "imat-Q2_K", "imat-Q4_K_S", "imat-Q6_K",
                                         "imat-IQ4_XS"};
#define N_IMAT (int)(sizeof imat_files / sizeof *imat_files)

START_TEST(imat_bytes)
{
    char rel[128];
    snprintf(rel, sizeof rel, "reference/ggml-types/%s.gguf", imat_files[_i]);
    ck_assert_int_ge(compare_file(rel, "reference/ggml-types/model.imatrix"), 7);
}
END_TEST

static const char *const mix_files[] = {"mix-Q2_K", "mix-Q3_K_M", "mix-Q4_K_M", "mix-Q5_K_M"};

/* The mixes hold several types per file; each tensor must still match. */
START_TEST(mix_bytes)
{
    char rel[128];
    snprintf(rel, sizeof rel, "reference/ggml-types/%s.gguf", mix_files[_i]);
    ck_assert_int_ge(compare_file(rel, NULL), 7);
}
END_TEST

/* ---- decoding hand-built blocks ---- */

static void put_h(uint8_t *p, uint16_t h)
{
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

START_TEST(decode_q4_0_block)
{
    uint8_t b[18];
    put_h(b, 0x3800); /* d = 0.5 */
    for (int j = 0; j < 16; j++)
        b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    float y[32];
    struct qerr err = {0};
    ck_assert_int_eq(ggt_to_float(GGT_Q4_0, b, y, 1, 32, &err), 0);
    for (int j = 0; j < 16; j++) {
        ck_assert_float_eq(y[j], 0.5f * (float)(j - 8));
        ck_assert_float_eq(y[16 + j], 0.5f * (float)(7 - j));
    }
}
END_TEST

/* q4_K: d = 1, dmin = 0.25; group 0 scale 3 min 2, group 5 scale 33 min
 * 17 (split over the high bits); element 0 nibble 7, element 32*5+1 is the
 * high nibble of qs[64+1]. */
START_TEST(decode_q4_K_block)
{
    uint8_t b[144] = {0};
    put_h(b, 0x3c00);     /* 1.0  */
    put_h(b + 2, 0x3400); /* 0.25 */
    uint8_t *s = b + 4;
    s[0] = 3;
    s[4] = 2;
    /* group 5: scale 33 = 0b100001 -> low nibble 1 in s[9] low, top 2 bits
     * (0b10) in s[1] bits 6-7; min 17 = 0b010001 -> nibble 1 in s[9] high,
     * top bits 0b01 in s[5] bits 6-7 */
    s[9] = 0x11;
    s[1] |= 2 << 6;
    s[5] |= 1 << 6;
    b[16] = 7;               /* element 0, group 0 */
    b[16 + 64 + 1] = 9 << 4; /* chunk 2 high nibbles = group 5, element 1 */
    float y[256];
    struct qerr err = {0};
    ck_assert_int_eq(ggt_to_float(GGT_Q4_K, b, y, 1, 256, &err), 0);
    ck_assert_float_eq(y[0], 1.0f * 3 * 7 - 0.25f * 2);
    ck_assert_float_eq(y[1], -0.25f * 2);
    ck_assert_float_eq(y[160 + 1], 33.0f * 9 - 0.25f * 17);
    ck_assert_float_eq(y[160], -0.25f * 17);
}
END_TEST

/* q6_K: d = 2, scale of group 3 = -5; element 48 (half 0, k = 1, l = 16)
 * takes the low nibble of ql[48] and bits 2-3 of qh[16]. */
START_TEST(decode_q6_K_block)
{
    uint8_t b[210] = {0};
    put_h(b + 208, 0x4000);
    ((int8_t *)(b + 192))[3] = -5;
    b[48] = 0x0a;
    b[128 + 16] = 3 << 2; /* q = 0xa | 0x30 = 58 -> 58 - 32 = 26 */
    float y[256];
    struct qerr err = {0};
    ck_assert_int_eq(ggt_to_float(GGT_Q6_K, b, y, 1, 256, &err), 0);
    ck_assert_float_eq(y[48], 2.0f * -5 * 26);
    ck_assert_float_eq(y[49], 2.0f * -5 * -32);
}
END_TEST

START_TEST(decode_iq4_xs_block)
{
    uint8_t b[136] = {0};
    put_h(b, 0x3c00);
    b[2] = 0x02 << 2;    /* scales_h: group 1 top bits 0b10 */
    b[4] = 0x5 << 4;     /* group 1 low nibble 5 -> ls = 0b100101 = 37 */
    b[8 + 16 + 3] = 0xF1; /* group 1: element 3 -> idx 1, element 19 -> idx 15 */
    float y[256];
    struct qerr err = {0};
    ck_assert_int_eq(ggt_to_float(GGT_IQ4_XS, b, y, 1, 256, &err), 0);
    ck_assert_float_eq(y[32 + 3], 5.0f * -104);
    ck_assert_float_eq(y[32 + 19], 5.0f * 113);
    ck_assert_float_eq(y[0], -32.0f * -127);
}
END_TEST

/* Every decoder against the dequantized F32 copy: decoding the quantized
 * pure-Q4_K_S bytes and re-quantizing... is circular; instead check that
 * each type's decode of llama.cpp's bytes is close to the source weights
 * (catches layout slips the byte tests cannot: wrong element order). */
START_TEST(decode_close_to_source)
{
    struct gf src, q;
    char rel[128];
    snprintf(rel, sizeof rel, "reference/ggml-types/%s.gguf", pure_files[_i]);
    gf_open(&src, "reference/ggml-types/model-f32.gguf");
    gf_open(&q, rel);
    const struct gguf_tinfo *tq = gf_find(&q, "blk.0.ffn_up.weight");
    const struct gguf_tinfo *ts = gf_find(&src, "blk.0.ffn_up.weight");
    ck_assert(tq && ts);
    int64_t n = (int64_t)ts->ne[0], rows = ti_nelem(ts) / n;
    float *y = malloc((size_t)(n * rows) * sizeof *y);
    struct qerr err = {0};
    ck_assert_int_eq(ggt_to_float(tq->ggml_type, gf_data(&q, tq), y, rows, n, &err), 0);
    const float *x = (const float *)gf_data(&src, ts);
    double se = 0, sx = 0;
    for (int64_t i = 0; i < n * rows; i++) {
        se += (double)(y[i] - x[i]) * (y[i] - x[i]);
        sx += (double)x[i] * x[i];
    }
    /* relative error well under 1 for every type (q2_K is the worst) */
    ck_assert_msg(se / sx < 0.25, "%s: relative squared error %g", pure_files[_i], se / sx);
    free(y);
    gf_close(&src);
    gf_close(&q);
}
END_TEST

/* The fast decoders (SIMD where the CPU has it) against the plain scalar
 * references on random blocks: bit-identical (NaN counts as equal to NaN:
 * random scales include NaN/Inf halves and the payload is not defined). */
static int same_bits(const float *a, const float *b, int64_t n, int64_t *where)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) && !(isnan(a[i]) && isnan(b[i]))) {
            *where = i;
            return 0;
        }
    return 1;
}

START_TEST(fast_equals_reference)
{
    int n;
    const struct ggt_traits *all = ggt_all(&n);
    const int64_t N = 256 * 64;
    uint8_t *q = malloc((size_t)N * 4);
    float *a = malloc((size_t)N * sizeof *a), *b = malloc((size_t)N * sizeof *b);
    tu_seed(21);
    for (int64_t i = 0; i < N * 4; i++)
        q[i] = (uint8_t)(tu_uniform() * 256);
    for (int k = 0; k < n; k++) {
        ggt_to_float_fn ref = ggt_to_float_ref(all[k].id);
        ck_assert_ptr_nonnull(ref);
        all[k].to_float(q, a, N);
        ref(q, b, N);
        int64_t at = -1;
        ck_assert_msg(same_bits(a, b, N, &at), "%s: element %lld: %a vs %a", all[k].name,
                      (long long)at, (double)a[at], (double)b[at]);
    }
    /* every half value, through F16C and the scalar path */
    uint16_t h[65536];
    for (int i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    float *fa = malloc(65536 * sizeof *fa), *fb = malloc(65536 * sizeof *fb);
    ggt_traits(GGT_F16)->to_float(h, fa, 65536);
    ggt_to_float_ref(GGT_F16)(h, fb, 65536);
    int64_t at = -1;
    ck_assert_msg(same_bits(fa, fb, 65536, &at), "f16 %04llx", (long long)at);
    /* every bfloat16 value (NaN payloads included), vector vs scalar, at an
     * odd length so the tail loop runs too */
    ggt_traits(GGT_BF16)->to_float(h + 1, fa, 65535);
    ggt_to_float_ref(GGT_BF16)(h + 1, fb, 65535);
    ck_assert_msg(same_bits(fa, fb, 65535, &at), "bf16 %04llx", (long long)at + 1);
    free(fa), free(fb), free(q), free(a), free(b);
}
END_TEST

/* ---- traits and degenerate inputs ---- */

START_TEST(traits_table)
{
    int n;
    const struct ggt_traits *all = ggt_all(&n);
    ck_assert_int_eq(n, 15);
    for (int i = 0; i < n; i++) {
        ck_assert_ptr_eq(ggt_traits(all[i].id)->name, all[i].name);
        ck_assert_ptr_eq(ggt_by_name(all[i].name)->name, all[i].name);
        ck_assert(fabs(all[i].bpw - 8.0 * all[i].type_size / all[i].blck_size) < 1e-12);
    }
    ck_assert_str_eq(ggt_by_name("Q4_K")->name, "q4_K");
    ck_assert_double_eq(ggt_by_name("q4_k")->bpw, 4.5);
    ck_assert_double_eq(ggt_traits(GGT_Q6_K)->bpw, 6.5625);
    ck_assert_double_eq(ggt_traits(GGT_IQ4_XS)->bpw, 4.25);
    ck_assert_ptr_null(ggt_traits(16)); /* iq2_xxs: not decoded */
    ck_assert_ptr_null(ggt_traits(1000));
    ck_assert_ptr_null(ggt_by_name("q4_k_m"));
    ck_assert_uint_eq(ggt_row_size(GGT_Q4_K, 512), 288);
    ck_assert_uint_eq(ggt_row_size(GGT_Q4_K, 100), 0);
    ck_assert_uint_eq(ggt_row_size(GGT_Q8_0, 0), 0);
}
END_TEST

START_TEST(all_zero_blocks)
{
    int n;
    const struct ggt_traits *all = ggt_all(&n);
    float x[512] = {0}, y[512], qw[256];
    uint8_t buf[2048];
    for (int j = 0; j < 256; j++)
        qw[j] = 1.0f + (float)j;
    for (int i = 0; i < n; i++) {
        for (int w = 0; w < 2; w++) {
            struct qerr err = {0};
            int rc = ggt_quantize(all[i].id, x, buf, 2, 256, w ? qw : NULL, &err);
            ck_assert_msg(rc == 0, "%s: %s", all[i].name, err.msg);
            ck_assert_int_eq(ggt_to_float(all[i].id, buf, y, 2, 256, &err), 0);
            for (int j = 0; j < 512; j++)
                ck_assert_msg(y[j] == 0.0f, "%s: zero block decodes to %g at %d", all[i].name,
                              (double)y[j], j);
        }
    }
}
END_TEST

START_TEST(refuses_bad_rows)
{
    float x[300] = {0};
    uint8_t buf[4096];
    struct qerr err = {0};
    ck_assert_int_eq(ggt_quantize(GGT_Q4_K, x, buf, 1, 300, NULL, &err), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "q4_K"));
    ck_assert_ptr_nonnull(strstr(err.msg, "300"));
    ck_assert_int_eq(ggt_quantize(GGT_Q4_0, x, buf, 1, 40, NULL, &err), QERR_ARG);
    ck_assert_int_eq(ggt_to_float(GGT_Q8_0, buf, x, 1, 33, &err), QERR_ARG);
    ck_assert_int_eq(ggt_quantize(16, x, buf, 1, 256, NULL, &err), QERR_UNSUPP);
    ck_assert_int_eq(ggt_quantize(GGT_Q4_0, x, buf, 1, 0, NULL, &err), QERR_ARG);
    /* F32 has block 1: any length */
    ck_assert_int_eq(ggt_quantize(GGT_F32, x, buf, 1, 37, NULL, &err), 0);
}
END_TEST

START_TEST(refuses_nonfinite)
{
    float x[256], qw[256];
    uint8_t buf[1024];
    for (int j = 0; j < 256; j++) {
        x[j] = 0.01f * (float)(j - 128);
        qw[j] = 1;
    }
    x[77] = NAN;
    struct qerr err = {0};
    ck_assert_int_eq(ggt_quantize(GGT_Q4_K, x, buf, 1, 256, NULL, &err), QERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(err.msg, "column 77"));
    x[77] = INFINITY;
    ck_assert_int_eq(ggt_quantize(GGT_Q8_0, x, buf, 1, 256, NULL, &err), QERR_NUMERIC);
    x[77] = 0;
    qw[5] = NAN;
    ck_assert_int_eq(ggt_quantize(GGT_Q4_K, x, buf, 1, 256, qw, &err), QERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(err.msg, "column 5"));
}
END_TEST

/* F16 and BF16 round trips through llama.cpp's rounding (nearest even). */
START_TEST(half_round_trip)
{
    float x[4] = {1.0f, 1.0f + 1.0f / 2048, 65504.0f, -4.5e-8f}, y[4];
    uint8_t buf[8];
    struct qerr err = {0};
    ck_assert_int_eq(ggt_quantize(GGT_F16, x, buf, 1, 4, NULL, &err), 0);
    ck_assert_int_eq(ggt_to_float(GGT_F16, buf, y, 1, 4, &err), 0);
    ck_assert_float_eq(y[0], 1.0f);
    ck_assert_float_eq(y[1], 1.0f); /* tie rounds to even */
    ck_assert_float_eq(y[2], 65504.0f);
    ck_assert_float_eq(y[3], -5.96046448e-08f); /* nearest subnormal: -2^-24 */
    ck_assert_int_eq(ggt_quantize(GGT_BF16, x, buf, 1, 4, NULL, &err), 0);
    ck_assert_int_eq(ggt_to_float(GGT_BF16, buf, y, 1, 4, &err), 0);
    ck_assert_float_eq(y[0], 1.0f);
    ck_assert_float_eq(y[2], 65536.0f);
}
END_TEST

/* ---- the registry methods ---- */

static float *rand_matrix(int rows, int cols)
{
    float *w = malloc((size_t)rows * cols * sizeof *w);
    for (int i = 0; i < rows * cols; i++)
        w[i] = (float)(0.02 * tu_normal());
    return w;
}

/* quant_apply with a ggml method = decode(quantize(W)), with and without
 * importance; bits/weight from the type. */
START_TEST(method_equals_kernel)
{
    static const char *const names[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k",
                                        "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"};
    const int R = 8, C = 512;
    tu_seed(11);
    float *w = rand_matrix(R, C), *out = malloc(R * C * sizeof *out), *ref = malloc(R * C * sizeof *ref);
    float imp[512];
    for (int j = 0; j < C; j++)
        imp[j] = (float)(0.1 + tu_uniform()) * (j % 17 == 0 ? 50.0f : 1.0f);
    uint8_t *buf = malloc((size_t)R * C * 2);
    struct quant_spec spec;
    struct qerr err = {0};
    ck_assert_int_eq(quant_spec_parse(&spec, names[_i], 3, 64, 0, NULL, &err), 0);
    const struct ggt_traits *t = ggt_by_name(names[_i]);
    ck_assert_ptr_nonnull(t);
    char label[64];
    quant_spec_format(&spec, label, sizeof label);
    ck_assert_str_eq(label, names[_i]); /* bits/group do not apply */
    for (int k = 0; k < 2; k++) {
        struct quant_calib cal = {0};
        cal.importance = k ? imp : NULL;
        struct quant_report rep;
        ck_assert_msg(quant_apply(&spec, w, R, C, &cal, out, NULL, &rep, NULL, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(ggt_quantize(t->id, w, buf, R, C, k ? imp : NULL, &err), 0);
        ck_assert_int_eq(ggt_to_float(t->id, buf, ref, R, C, &err), 0);
        ck_assert(!memcmp(out, ref, R * C * sizeof *out));
        ck_assert_double_eq(rep.bits_per_weight, t->bpw);
        ck_assert_str_eq(rep.note, "");
        ck_assert(rep.rel_fro > 0 && rep.rel_fro < 0.7);
    }
    free(w), free(out), free(ref), free(buf);
}
END_TEST

/* Row lengths the block does not divide: llama.cpp's fallback types. */
START_TEST(method_fallback)
{
    struct {
        const char *method;
        int cols;
        const char *stored;
        double bpw;
    } cases[] = {
        {"q4_k", 64, "q5_0", 5.5},    {"q5_k", 96, "q5_1", 6.0},   {"q6_k", 32, "q8_0", 8.5},
        {"q2_k", 128, "iq4_nl", 4.5}, {"iq4_xs", 64, "iq4_nl", 4.5}, {"q4_k", 100, "f16", 16},
        {"q4_0", 48, "f16", 16},
    };
    tu_seed(12);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int C = cases[i].cols;
        float *w = rand_matrix(4, C), *out = malloc(4 * C * sizeof *out);
        struct quant_spec spec;
        struct quant_report rep;
        struct qerr err = {0};
        ck_assert_int_eq(quant_spec_parse(&spec, cases[i].method, -1, QUANT_GROUP_DEFAULT, -1, NULL, &err), 0);
        ck_assert_msg(quant_apply(&spec, w, 4, C, NULL, out, NULL, &rep, NULL, &err) == 0, "%s", err.msg);
        ck_assert_double_eq(rep.bits_per_weight, cases[i].bpw);
        char want[64];
        snprintf(want, sizeof want, "stored as %s", cases[i].stored);
        ck_assert_msg(strstr(rep.note, want), "%s cols %d: note '%s'", cases[i].method, C, rep.note);
        free(w), free(out);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ggml_types");
    TCase *tc = tcase_create("degenerate");
    tcase_add_test(tc, traits_table);
    tcase_add_test(tc, all_zero_blocks);
    tcase_add_test(tc, refuses_bad_rows);
    tcase_add_test(tc, refuses_nonfinite);
    tcase_add_test(tc, half_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("decode");
    tcase_add_test(tc, decode_q4_0_block);
    tcase_add_test(tc, decode_q4_K_block);
    tcase_add_test(tc, decode_q6_K_block);
    tcase_add_test(tc, decode_iq4_xs_block);
    tcase_add_test(tc, fast_equals_reference);
    tcase_add_loop_test(tc, decode_close_to_source, 0, N_PURE);
    suite_add_tcase(s, tc);
    tc = tcase_create("methods");
    tcase_add_loop_test(tc, method_equals_kernel, 0, 12);
    tcase_add_test(tc, method_fallback);
    suite_add_tcase(s, tc);
    tc = tcase_create("llama.cpp bytes");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, pure_bytes, 0, N_PURE);
    tcase_add_loop_test(tc, imat_bytes, 0, N_IMAT);
    tcase_add_loop_test(tc, mix_bytes, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
