/* check_gguf: GGUF parser, model loader and writer.
 *
 * Small files are written by the tests themselves (through gguf_write, whose
 * output is checked byte-level by the parser tests), then damaged field by
 * field; every damaged file must give QERR_FORMAT / QERR_UNSUPP with a
 * message naming the file and the offset or field, never a crash. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "src/gguf.h"
#include "src/gguf_write.h"
#include "src/model.h"
#include "tests/testutil.h"

#define PATH "t.gguf"

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    ck_assert_int_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void save(struct gguf_writer *w, const char *path)
{
    struct qerr err = {0};
    ck_assert_msg(gguf_writer_save(w, path, &err) == 0, "%s", err.msg);
    gguf_writer_free(w);
}

/* ---- a small, loadable llama model with known values ----
 * dim 8, hidden 16, 1 layer, 2 heads, vocab 4: every tensor's byte size is
 * a multiple of 32, so the file ends exactly at the last tensor's data and
 * every proper prefix is truncated somewhere that matters. */

#define SD 8
#define SH 16
#define SV 4

static const struct {
    const char *name;
    int64_t rows, cols;  /* rows 0: vector */
} small_tensors[] = {
    {"token_embd.weight", SV, SD},      {"blk.0.attn_norm.weight", 0, SD},
    {"blk.0.attn_q.weight", SD, SD},    {"blk.0.attn_k.weight", SD, SD},
    {"blk.0.attn_v.weight", SD, SD},    {"blk.0.attn_output.weight", SD, SD},
    {"blk.0.ffn_norm.weight", 0, SD},   {"blk.0.ffn_gate.weight", SH, SD},
    {"blk.0.ffn_up.weight", SH, SD},    {"blk.0.ffn_down.weight", SD, SH},
    {"output_norm.weight", 0, SD},
};
#define N_SMALL (int)(sizeof small_tensors / sizeof *small_tensors)

static float small_data[N_SMALL][SH * SD];

static void small_config(struct gguf_writer *w, const char *arch)
{
    char k[64];
    gguf_writer_add_str(w, "general.architecture", arch);
#define K(s, v) (snprintf(k, sizeof k, "%s." s, arch), gguf_writer_add_u32(w, k, v))
    K("embedding_length", SD);
    K("feed_forward_length", SH);
    K("block_count", 1);
    K("attention.head_count", 2);
    K("context_length", 16);
#undef K
    const char *toks[SV] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81hi"};
    gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", toks, SV);
}

static void small_tensors_add(struct gguf_writer *w, uint32_t type)
{
    for (int i = 0; i < N_SMALL; i++) {
        for (int j = 0; j < SH * SD; j++)
            small_data[i][j] = (float)((i * 37 + j) % 256 - 128) / 16.0f;  /* exact in bf16 */
        int64_t shape[2] = {small_tensors[i].rows, small_tensors[i].cols};
        int nd = shape[0] ? 2 : 1;
        gguf_writer_add_tensor(w, small_tensors[i].name, type, nd, nd == 2 ? shape : shape + 1,
                               small_data[i]);
    }
}

static const char *write_small(const char *name, uint32_t version, uint32_t type)
{
    const char *p = tu_tmpfile(name);
    struct gguf_writer *w = gguf_writer_new(version);
    small_config(w, "llama");
    small_tensors_add(w, type);
    save(w, p);
    return p;
}

static int parse_buf(const uint8_t *b, size_t n, struct gguf_file *g, struct qerr *e)
{
    qerr_clear(e);
    return gguf_parse(g, PATH, b, n, e);
}

/* The parse fails with `code`, and the message names the file and holds `what`. */
static void expect_fail(const uint8_t *b, size_t n, int code, const char *what)
{
    struct gguf_file g;
    struct qerr e = {0};
    int rc = parse_buf(b, n, &g, &e);
    ck_assert_msg(rc == code, "rc %d (want %d): %s", rc, code, e.msg);
    ck_assert_msg(!strncmp(e.msg, PATH ": offset ", strlen(PATH ": offset ")), "no file/offset: %s", e.msg);
    ck_assert_msg(strstr(e.msg, what) != NULL, "no '%s' in: %s", what, e.msg);
}

static void put_u64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }
static void put_u32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }

/* Offset of tensor i's fields in a parsed file. */
static size_t ti_ndims_at(const struct gguf_tinfo *t) { return t->file_offset + 8 + t->name.len; }
static size_t ti_ne_at(const struct gguf_tinfo *t) { return ti_ndims_at(t) + 4; }
static size_t ti_type_at(const struct gguf_tinfo *t) { return ti_ne_at(t) + 8 * t->n_dims; }
static size_t ti_off_at(const struct gguf_tinfo *t) { return ti_type_at(t) + 4; }

/* Parse the small model, hand back bytes + parsed infos. */
static uint8_t *small_parsed(struct gguf_file *g, size_t *n)
{
    const char *p = write_small("small.gguf", 3, GGML_T_F32);
    uint8_t *b = slurp(p, n);
    struct qerr e = {0};
    ck_assert_msg(parse_buf(b, *n, g, &e) == 0, "%s", e.msg);
    return b;
}

/* ---- degenerate inputs ---- */

START_TEST(test_empty_and_tiny)
{
    static const uint8_t b[8] = "GGUF";
    expect_fail(b, 0, QERR_FORMAT, "magic");
    expect_fail(b, 3, QERR_FORMAT, "magic");
    expect_fail(b, 4, QERR_FORMAT, "version");
    expect_fail((const uint8_t *)"GGML\3\0\0\0", 8, QERR_FORMAT, "magic is not");
}
END_TEST

START_TEST(test_versions)
{
    uint8_t b[24] = "GGUF";
    expect_fail(b, 24, QERR_FORMAT, "version 0");
    put_u32(b, 4, 1);
    expect_fail(b, 24, QERR_UNSUPP, "version 1");
    put_u32(b, 4, 4);
    expect_fail(b, 24, QERR_FORMAT, "version 4");
    put_u32(b, 4, 0x03000000u);
    expect_fail(b, 24, QERR_UNSUPP, "big-endian GGUF is not supported");
    for (uint32_t v = 2; v <= 3; v++) {  /* empty but valid */
        put_u32(b, 4, v);
        struct gguf_file g;
        struct qerr e = {0};
        ck_assert_msg(parse_buf(b, 24, &g, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(g.version, v);
        ck_assert_uint_eq(g.n_kv + g.n_tensors, 0);
        ck_assert_uint_eq(g.data_offset, 32);
        gguf_free(&g);
    }
}
END_TEST

/* ---- every metadata type, v2 and v3 ---- */

static void write_all_types(const char *p, uint32_t version)
{
    struct gguf_writer *w = gguf_writer_new(version);
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000;
    uint64_t u64 = UINT64_C(18000000000000000000); int64_t i64 = -INT64_C(9000000000000000000);
    double f64 = 1.0 / 3.0;
    gguf_writer_add_scalar(w, "t.u8", GGUF_T_U8, &u8);
    gguf_writer_add_scalar(w, "t.i8", GGUF_T_I8, &i8);
    gguf_writer_add_scalar(w, "t.u16", GGUF_T_U16, &u16);
    gguf_writer_add_scalar(w, "t.i16", GGUF_T_I16, &i16);
    gguf_writer_add_u32(w, "t.u32", 4000000000u);
    gguf_writer_add_i32(w, "t.i32", -2000000000);
    gguf_writer_add_f32(w, "t.f32", 0.25f);
    gguf_writer_add_bool(w, "t.bool", 1);
    gguf_writer_add_str(w, "t.str", "h\xc3\xa9llo");
    gguf_writer_add_scalar(w, "t.u64", GGUF_T_U64, &u64);
    gguf_writer_add_scalar(w, "t.i64", GGUF_T_I64, &i64);
    gguf_writer_add_scalar(w, "t.f64", GGUF_T_F64, &f64);
    int32_t ai[3] = {-1, 0, 7};
    float af[2] = {1.5f, -2.5f};
    uint8_t ab[4] = {1, 0, 1, 1};
    const char *as[3] = {"", "a", "long string"};
    gguf_writer_add_array(w, "a.i32", GGUF_T_I32, ai, 3);
    gguf_writer_add_array(w, "a.f32", GGUF_T_F32, af, 2);
    gguf_writer_add_array(w, "a.bool", GGUF_T_BOOL, ab, 4);
    gguf_writer_add_array(w, "a.empty", GGUF_T_U64, NULL, 0);
    gguf_writer_add_str_array(w, "a.str", as, 3);
    gguf_writer_add_str_array(w, "a.str_empty", as, 0);
    save(w, p);
}

static void check_all_types(const struct gguf_file *g)
{
    int64_t i;
    double f;
    struct gguf_str s;
    ck_assert_uint_eq(g->n_kv, 18);
    ck_assert(gguf_get_int(g, "t.u8", &i) == 0 && i == 200);
    ck_assert(gguf_get_int(g, "t.i8", &i) == 0 && i == -100);
    ck_assert(gguf_get_int(g, "t.u16", &i) == 0 && i == 60000);
    ck_assert(gguf_get_int(g, "t.i16", &i) == 0 && i == -30000);
    ck_assert(gguf_get_int(g, "t.u32", &i) == 0 && i == 4000000000LL);
    ck_assert(gguf_get_int(g, "t.i32", &i) == 0 && i == -2000000000);
    ck_assert(gguf_get_float(g, "t.f32", &f) == 0 && f == 0.25);
    ck_assert(gguf_get_int(g, "t.bool", &i) == 0 && i == 1);
    ck_assert_int_eq(gguf_find(g, "t.bool")->type, GGUF_T_BOOL);
    ck_assert(gguf_get_str(g, "t.str", &s) == 0 && gguf_str_eq(s, "h\xc3\xa9llo"));
    /* u64 above INT64_MAX is not an int64, but its raw value is kept */
    ck_assert_int_lt(gguf_get_int(g, "t.u64", &i), 0);
    ck_assert(gguf_find(g, "t.u64")->v.u == UINT64_C(18000000000000000000));
    ck_assert(gguf_get_int(g, "t.i64", &i) == 0 && i == -INT64_C(9000000000000000000));
    ck_assert(gguf_get_float(g, "t.f64", &f) == 0 && f == 1.0 / 3.0);
    ck_assert(gguf_get_float(g, "t.i32", &f) == 0 && f == -2000000000.0);  /* ints widen */
    /* wrong types and missing keys */
    ck_assert_int_lt(gguf_get_int(g, "t.f32", &i), 0);
    ck_assert_int_lt(gguf_get_str(g, "t.u8", &s), 0);
    ck_assert_int_lt(gguf_get_int(g, "a.i32", &i), 0);
    ck_assert_int_lt(gguf_get_int(g, "nope", &i), 0);
    ck_assert_ptr_null(gguf_find(g, "t.u"));  /* prefix is not a match */

    const struct gguf_kv *a = gguf_find(g, "a.i32");
    int32_t ai[3];
    ck_assert(a->type == GGUF_T_ARRAY && a->arr_type == GGUF_T_I32 && a->arr_n == 3);
    memcpy(ai, a->arr_data, sizeof ai);
    ck_assert(ai[0] == -1 && ai[1] == 0 && ai[2] == 7);
    a = gguf_find(g, "a.f32");
    float af[2];
    memcpy(af, a->arr_data, sizeof af);
    ck_assert(a->arr_n == 2 && af[0] == 1.5f && af[1] == -2.5f);
    a = gguf_find(g, "a.bool");
    ck_assert(a->arr_type == GGUF_T_BOOL && a->arr_n == 4 && a->arr_data[3] == 1);
    ck_assert_uint_eq(gguf_find(g, "a.empty")->arr_n, 0);
    a = gguf_find(g, "a.str");
    ck_assert(a->arr_type == GGUF_T_STRING && a->arr_n == 3 && a->arr_strs);
    ck_assert(gguf_str_eq(a->arr_strs[0], "") && gguf_str_eq(a->arr_strs[1], "a") &&
              gguf_str_eq(a->arr_strs[2], "long string"));
    ck_assert_uint_eq(gguf_find(g, "a.str_empty")->arr_n, 0);
}

START_TEST(test_all_value_types)
{
    for (uint32_t v = 2; v <= 3; v++) {
        const char *p = tu_tmpfile(v == 2 ? "types2.gguf" : "types3.gguf");
        write_all_types(p, v);
        size_t n;
        uint8_t *b = slurp(p, &n);
        ck_assert_uint_eq(b[4], v);
        struct gguf_file g;
        struct qerr e = {0};
        ck_assert_msg(parse_buf(b, n, &g, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(g.version, v);
        check_all_types(&g);
        /* copy every kv into a new file: the copy parses to the same values */
        struct gguf_writer *w = gguf_writer_new(3);
        for (uint64_t i = 0; i < g.n_kv; i++)
            gguf_writer_copy_kv(w, &g.kv[i]);
        const char *p2 = tu_tmpfile("types_copy.gguf");
        save(w, p2);
        size_t n2;
        uint8_t *b2 = slurp(p2, &n2);
        ck_assert_uint_eq(n2, n);
        ck_assert(!memcmp(b2 + 8, b + 8, n - 8));  /* identical after the version */
        free(b2);
        gguf_free(&g);
        free(b);
    }
}
END_TEST

START_TEST(test_str_helpers)
{
    struct gguf_str s = {5, "hello world"};
    char buf[4];
    gguf_str_copy(s, buf, sizeof buf);
    ck_assert_str_eq(buf, "hel");
    char big[16];
    gguf_str_copy(s, big, sizeof big);
    ck_assert_str_eq(big, "hello");
    ck_assert(gguf_str_eq(s, "hello") && !gguf_str_eq(s, "hell") && !gguf_str_eq(s, "hello "));
    ck_assert_str_eq(ggml_type_name(12), "q4_K");
    ck_assert_str_eq(ggml_type_name(30), "bf16");
    ck_assert_str_eq(ggml_type_name(999), "type 999");
    ck_assert_str_eq(ggml_type_name(4), "type 4");  /* removed Q4_2 */
    ck_assert_str_eq(gguf_vtype_name(GGUF_T_STRING), "string");
}
END_TEST

/* ---- tensor infos ---- */

START_TEST(test_tensor_infos)
{
    struct gguf_file g;
    size_t n;
    uint8_t *b = small_parsed(&g, &n);
    ck_assert_uint_eq(g.n_tensors, N_SMALL);
    ck_assert_uint_eq(g.alignment, 32);
    ck_assert_uint_eq(g.data_offset % 32, 0);
    const struct gguf_tinfo *q = &g.tinfo[2];
    ck_assert(gguf_str_eq(q->name, "blk.0.attn_q.weight"));
    ck_assert(q->n_dims == 2 && q->ne[0] == SD && q->ne[1] == SD && q->ne[2] == 1);
    const struct gguf_tinfo *dn = &g.tinfo[9];
    ck_assert(dn->ne[0] == SH && dn->ne[1] == SD);  /* (dim, hidden) stored ne = {hidden, dim} */
    float v;
    memcpy(&v, b + g.data_offset + dn->offset + 4 * 5, 4);
    ck_assert(v == small_data[9][5]);
    ck_assert_uint_eq(g.data_offset + g.tinfo[N_SMALL - 1].offset + 4 * SD, n);
    gguf_free(&g);
    free(b);
}
END_TEST

START_TEST(test_custom_alignment)
{
    const char *p = tu_tmpfile("align.gguf");
    struct gguf_writer *w = gguf_writer_new(3);
    ck_assert_int_eq(gguf_writer_set_alignment(w, 256), 0);
    small_config(w, "llama");
    small_tensors_add(w, GGML_T_F32);
    save(w, p);
    size_t n;
    uint8_t *b = slurp(p, &n);
    struct gguf_file g;
    struct qerr e = {0};
    ck_assert_msg(parse_buf(b, n, &g, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(g.alignment, 256);
    ck_assert_uint_eq(g.data_offset % 256, 0);
    for (uint64_t i = 0; i < g.n_tensors; i++)
        ck_assert_uint_eq(g.tinfo[i].offset % 256, 0);
    gguf_free(&g);
    /* the model loads and reads the same numbers */
    struct qmodel m;
    ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
    ck_assert(qtensor_f32(qmodel_get(&m, 0, QR_FFN_UP))[7] == small_data[8][7]);
    qmodel_close(&m);
    free(b);
}
END_TEST

/* ---- malformed files ---- */

START_TEST(test_every_truncation)
{
    struct gguf_file g;
    size_t n;
    uint8_t *b = small_parsed(&g, &n);
    gguf_free(&g);
    for (size_t len = 0; len < n; len++) {
        struct qerr e = {0};
        int rc = parse_buf(b, len, &g, &e);
        ck_assert_msg(rc == QERR_FORMAT, "prefix %zu of %zu: rc %d (%s)", len, n, rc, e.msg);
        ck_assert_msg(!strncmp(e.msg, PATH ": offset ", 15), "prefix %zu: %s", len, e.msg);
        ck_assert_msg(strstr(e.msg, "past end") || strstr(e.msg, "cannot fit"), "prefix %zu: %s",
                      len, e.msg);
    }
    free(b);
}
END_TEST

START_TEST(test_absurd_counts)
{
    struct gguf_file g;
    size_t n;
    uint8_t *b = small_parsed(&g, &n);
    gguf_free(&g);
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    put_u64(c, 16, UINT64_C(1) << 60);  /* n_kv */
    expect_fail(c, n, QERR_FORMAT, "n_kv: 1152921504606846976 metadata entries cannot fit");
    memcpy(c, b, n);
    put_u64(c, 8, UINT64_MAX);  /* n_tensors */
    expect_fail(c, n, QERR_FORMAT, "n_tensors: 18446744073709551615 tensor infos cannot fit");
    memcpy(c, b, n);
    put_u64(c, 8, n / 32);  /* plausible at a glance, but the infos run out */
    expect_fail(c, n, QERR_FORMAT, "tensor info");
    free(c);
    free(b);
}
END_TEST

START_TEST(test_string_and_array_lengths)
{
    struct gguf_file g;
    size_t n;
    uint8_t *b = small_parsed(&g, &n);
    const struct gguf_kv *tok = gguf_find(&g, "tokenizer.ggml.tokens");
    size_t key0 = g.kv[0].file_offset, key0_len = g.kv[0].key.len;
    size_t arr_len_at = tok->file_offset + 8 + tok->key.len + 4 + 4;
    size_t str2_at = (size_t)((const uint8_t *)tok->arr_strs[2].ptr - b) - 8;
    size_t name3_at = g.tinfo[3].file_offset;
    gguf_free(&g);
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    put_u64(c, key0, 1u << 30);
    expect_fail(c, n, QERR_FORMAT, "metadata key 0: string length 1073741824 runs past end");
    memcpy(c, b, n);
    put_u64(c, arr_len_at, UINT64_C(1) << 62);
    expect_fail(c, n, QERR_FORMAT, "(tokenizer.ggml.tokens): array length 4611686018427387904");
    memcpy(c, b, n);
    put_u64(c, str2_at, n);
    expect_fail(c, n, QERR_FORMAT, "(tokenizer.ggml.tokens): element 2: string length");
    memcpy(c, b, n);
    put_u64(c, name3_at, UINT64_MAX);
    expect_fail(c, n, QERR_FORMAT, "tensor info 3: string length 18446744073709551615");
    memcpy(c, b, n);
    put_u32(c, key0 + 8 + key0_len, 13);  /* value type */
    expect_fail(c, n, QERR_FORMAT, "value type 13 is not a GGUF value type");
    memcpy(c, b, n);
    put_u32(c, arr_len_at - 4, GGUF_T_ARRAY);  /* array of arrays */
    expect_fail(c, n, QERR_UNSUPP, "arrays of arrays");
    free(c);
    free(b);
}
END_TEST

START_TEST(test_tensor_offsets)
{
    struct gguf_file g;
    size_t n;
    uint8_t *b = small_parsed(&g, &n);
    struct gguf_tinfo t0 = g.tinfo[0], t4 = g.tinfo[4], last = g.tinfo[N_SMALL - 1];
    gguf_free(&g);
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    put_u64(c, ti_off_at(&t4), UINT64_C(1) << 40);
    expect_fail(c, n, QERR_FORMAT, "tensor info 4 (blk.0.attn_v.weight): data [");
    memcpy(c, b, n);
    put_u64(c, ti_off_at(&last), last.offset + 32);  /* aligned, one block too far */
    expect_fail(c, n, QERR_FORMAT, "runs past end of file");
    memcpy(c, b, n);
    put_u64(c, ti_off_at(&t4), t4.offset + 4);
    expect_fail(c, n, QERR_FORMAT, "is not a multiple of the alignment 32");
    memcpy(c, b, n);
    put_u64(c, ti_off_at(&t4), t0.offset);  /* on top of token_embd */
    expect_fail(c, n, QERR_FORMAT, "overlaps tensor");
    memcpy(c, b, n);
    put_u64(c, ti_off_at(&t4), UINT64_MAX - 31);  /* offset + size wraps around */
    expect_fail(c, n, QERR_FORMAT, "runs past end");
    free(c);
    free(b);
}
END_TEST

START_TEST(test_bad_dims_and_types)
{
    struct gguf_file g;
    size_t n;
    uint8_t *b = small_parsed(&g, &n);
    struct gguf_tinfo q = g.tinfo[2];
    gguf_free(&g);
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    put_u64(c, ti_ne_at(&q), 0);
    expect_fail(c, n, QERR_FORMAT, "(blk.0.attn_q.weight): dimension 0 is 0");
    memcpy(c, b, n);
    put_u64(c, ti_ne_at(&q), UINT64_C(1) << 40);
    put_u64(c, ti_ne_at(&q) + 8, UINT64_C(1) << 40);
    expect_fail(c, n, QERR_FORMAT, "element count overflows");
    memcpy(c, b, n);  /* 2^62 elements: the byte count (x4) must not wrap */
    put_u64(c, ti_ne_at(&q), UINT64_C(1) << 40);
    put_u64(c, ti_ne_at(&q) + 8, UINT64_C(1) << 22);
    expect_fail(c, n, QERR_FORMAT, "element count overflows");
    memcpy(c, b, n);
    put_u64(c, ti_ne_at(&q), UINT64_MAX);
    expect_fail(c, n, QERR_FORMAT, "dimension 0 is 18446744073709551615");
    memcpy(c, b, n);
    put_u32(c, ti_ndims_at(&q), 5);
    expect_fail(c, n, QERR_FORMAT, "n_dims is 5 (1..4 allowed)");
    memcpy(c, b, n);
    put_u32(c, ti_ndims_at(&q), 0);
    expect_fail(c, n, QERR_FORMAT, "n_dims is 0");
    memcpy(c, b, n);
    put_u32(c, ti_type_at(&q), 999);
    expect_fail(c, n, QERR_UNSUPP, "ggml type 999 is unknown");
    memcpy(c, b, n);
    put_u32(c, ti_type_at(&q), 4);  /* removed Q4_2 */
    expect_fail(c, n, QERR_UNSUPP, "ggml type 4 is unknown");
    memcpy(c, b, n);
    put_u32(c, ti_type_at(&q), 12);  /* q4_K: rows of 8 are not whole blocks */
    expect_fail(c, n, QERR_FORMAT, "row length 8 is not a multiple of the q4_K block (256)");
    free(c);
    free(b);
}
END_TEST

START_TEST(test_bad_alignment)
{
    static const uint32_t bad[] = {0, 3, 48, 1u << 31};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *p = tu_tmpfile("badalign.gguf");
        struct gguf_writer *w = gguf_writer_new(3);
        gguf_writer_add_u32(w, "general.alignment", bad[i]);
        save(w, p);
        size_t n;
        uint8_t *b = slurp(p, &n);
        expect_fail(b, n, QERR_FORMAT, "general.alignment");
        expect_fail(b, n, QERR_FORMAT, "is not a power of two");
        free(b);
    }
    const char *p = tu_tmpfile("stralign.gguf");
    struct gguf_writer *w = gguf_writer_new(3);
    gguf_writer_add_str(w, "general.alignment", "32");
    save(w, p);
    size_t n;
    uint8_t *b = slurp(p, &n);
    expect_fail(b, n, QERR_FORMAT, "is not an integer");
    free(b);
    w = gguf_writer_new(3);
    ck_assert_int_lt(gguf_writer_set_alignment(w, 24), 0);
    struct qerr e = {0};
    ck_assert_int_eq(gguf_writer_save(w, tu_tmpfile("never.gguf"), &e), QERR_ARG);
    gguf_writer_free(w);
}
END_TEST

START_TEST(test_duplicates)
{
    const char *p = tu_tmpfile("dup.gguf");
    struct gguf_writer *w = gguf_writer_new(3);
    gguf_writer_add_u32(w, "a", 1);
    gguf_writer_add_u32(w, "b", 1);
    gguf_writer_add_u32(w, "a", 2);
    save(w, p);
    size_t n;
    uint8_t *b = slurp(p, &n);
    expect_fail(b, n, QERR_FORMAT, "metadata key (a): duplicate key");
    free(b);
    float x[8] = {0};
    int64_t shape[1] = {8};
    w = gguf_writer_new(3);
    gguf_writer_add_tensor(w, "t", GGML_T_F32, 1, shape, x);
    gguf_writer_add_tensor(w, "t", GGML_T_F32, 1, shape, x);
    save(w, p);
    b = slurp(p, &n);
    expect_fail(b, n, QERR_FORMAT, "duplicate tensor name");
    free(b);
}
END_TEST

/* Random single-byte damage anywhere: any outcome but a crash is fine. */
START_TEST(test_random_damage)
{
    struct gguf_file g;
    size_t n;
    uint8_t *b = small_parsed(&g, &n);
    gguf_free(&g);
    uint8_t *c = malloc(n);
    tu_seed(42);
    for (int it = 0; it < 3000; it++) {
        memcpy(c, b, n);
        size_t at = (size_t)(tu_uniform() * (double)g.data_offset);
        c[at] = (uint8_t)(tu_uniform() * 256);
        struct qerr e = {0};
        int rc = parse_buf(c, n, &g, &e);
        if (rc == 0)
            gguf_free(&g);
        else
            ck_assert_msg(!strncmp(e.msg, PATH ": ", 8) && (rc == QERR_FORMAT || rc == QERR_UNSUPP),
                          "byte %zu: rc %d: %s", at, rc, e.msg);
    }
    free(c);
    free(b);
}
END_TEST

/* ---- real vocab files ---- */

START_TEST(test_vocab_files)
{
    const char *p = tu_shared("reference/tokenizer/ggml-vocab-llama-spm.gguf");
    ck_assert_msg(p != NULL, "llama-spm vocab missing");
    size_t n;
    uint8_t *b = slurp(p, &n);
    struct gguf_file g;
    struct qerr e = {0};
    ck_assert_msg(gguf_parse(&g, p, b, n, &e) == 0, "%s", e.msg);
    const struct gguf_kv *t = gguf_find(&g, "tokenizer.ggml.tokens");
    ck_assert(t && t->arr_type == GGUF_T_STRING && t->arr_n == 32000);
    ck_assert(gguf_str_eq(t->arr_strs[0], "<unk>") && gguf_str_eq(t->arr_strs[1], "<s>"));
    ck_assert(gguf_str_eq(t->arr_strs[259], "\xe2\x96\x81\xe2\x96\x81"));  /* "▁▁" */
    const struct gguf_kv *sc = gguf_find(&g, "tokenizer.ggml.scores");
    ck_assert(sc->arr_type == GGUF_T_F32 && sc->arr_n == 32000);
    int64_t v;
    ck_assert(gguf_get_int(&g, "tokenizer.ggml.add_bos_token", &v) == 0 && v == 1);
    gguf_free(&g);
    free(b);

    p = tu_shared("reference/tokenizer/ggml-vocab-gpt-2.gguf");
    b = slurp(p, &n);
    ck_assert_msg(gguf_parse(&g, p, b, n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(gguf_find(&g, "tokenizer.ggml.merges")->arr_n, 50000);
    ck_assert_uint_eq(g.n_tensors, 0);
    gguf_free(&g);
    free(b);
    /* a vocab file is not a model: the loader names the architecture */
    struct qmodel m;
    ck_assert_int_eq(qmodel_open(&m, p, &e), QERR_UNSUPP);
    ck_assert_msg(strstr(e.msg, "architecture 'gpt2' is not supported"), "%s", e.msg);
}
END_TEST

/* ---- model loader ---- */

START_TEST(test_load_small)
{
    for (int v = 2; v <= 3; v++)
        for (int ty = 0; ty < 3; ty++) {
            static const uint32_t types[3] = {GGML_T_F32, GGML_T_F16, GGML_T_BF16};
            static const enum qdtype dts[3] = {QD_F32, QD_F16, QD_BF16};
            const char *p = write_small("small_t.gguf", (uint32_t)v, types[ty]);
            struct qmodel m;
            struct qerr e = {0};
            ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
            const struct qconfig *c = &m.cfg;
            ck_assert_str_eq(c->arch, "llama");
            ck_assert(c->dim == SD && c->hidden_dim == SH && c->n_layers == 1 && c->n_heads == 2);
            ck_assert(c->n_kv_heads == 2 && c->head_dim == 4 && c->vocab_size == SV && c->ctx_len == 16);
            ck_assert(c->rope_theta == 10000.0f && c->norm_eps == 1e-5f && c->tied_output);
            ck_assert(c->rope_style == QROPE_INTERLEAVED && !c->has_qkv_bias);
            ck_assert_ptr_nonnull(m.gguf);
            ck_assert_uint_eq(gguf_find(m.gguf, "tokenizer.ggml.tokens")->arr_n, SV);
            ck_assert_int_eq(m.n_tensors, N_SMALL);
            struct qtensor *dn = qmodel_get(&m, 0, QR_FFN_DOWN);
            ck_assert_str_eq(dn->name, "blk.0.ffn_down");
            ck_assert_str_eq(dn->src_name, "blk.0.ffn_down.weight");
            ck_assert(dn->ndim == 2 && dn->shape[0] == SD && dn->shape[1] == SH);
            ck_assert_int_eq(dn->dtype, dts[ty]);
            const float *x = qtensor_f32(dn);
            for (int i = 0; i < SD * SH; i++)
                ck_assert_msg(x[i] == small_data[9][i], "%d: %g vs %g", i, x[i], small_data[9][i]);
            qmodel_close(&m);
        }
}
END_TEST

/* A model-shaped file with extra/optional keys and tensors. */
static const char *write_variant(const char *name, const char *arch, int bias, int extra,
                                 uint32_t qtype)
{
    const char *p = tu_tmpfile(name);
    struct gguf_writer *w = gguf_writer_new(3);
    small_config(w, arch);
    char k[64];
    snprintf(k, sizeof k, "%s.attention.head_count_kv", arch);
    gguf_writer_add_u32(w, k, 1);
    snprintf(k, sizeof k, "%s.rope.freq_base", arch);
    gguf_writer_add_f32(w, k, 500000.0f);
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
    gguf_writer_add_f32(w, k, 1e-6f);
    static float data[SH * SD], qb[SD], kb[SD / 2];
    for (int i = 0; i < N_SMALL; i++) {
        int64_t shape[2] = {small_tensors[i].rows, small_tensors[i].cols};
        if (strstr(small_tensors[i].name, "attn_k") || strstr(small_tensors[i].name, "attn_v"))
            shape[0] = SD / 2;  /* one kv head of 4 */
        int nd = shape[0] ? 2 : 1;
        if (i == 2 && qtype != GGML_T_F32)
            gguf_writer_add_tensor_raw(w, small_tensors[i].name, qtype, nd, shape, data, 32);
        else
            gguf_writer_add_tensor(w, small_tensors[i].name, GGML_T_F32, nd, nd == 2 ? shape : shape + 1, data);
    }
    int64_t s1[1] = {SD}, s2[1] = {SD / 2}, s3[2] = {SV, SD};
    if (bias) {
        gguf_writer_add_tensor(w, "blk.0.attn_q.bias", GGML_T_F32, 1, s1, qb);
        gguf_writer_add_tensor(w, "blk.0.attn_k.bias", GGML_T_F32, 1, s2, kb);
        gguf_writer_add_tensor(w, "blk.0.attn_v.bias", GGML_T_F32, 1, s2, kb);
    }
    if (extra) {
        gguf_writer_add_tensor(w, "rope_freqs.weight", GGML_T_F32, 1, s2, kb);
        gguf_writer_add_tensor(w, "output.weight", GGML_T_F32, 2, s3, data);
    }
    save(w, p);
    return p;
}

START_TEST(test_load_variants)
{
    struct qmodel m;
    struct qerr e = {0};
    const char *p = write_variant("qwen.gguf", "qwen2", 1, 1, GGML_T_F32);
    ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(m.cfg.arch, "qwen2");
    ck_assert(m.cfg.has_qkv_bias && m.cfg.n_kv_heads == 1 && !m.cfg.tied_output);
    ck_assert_int_eq(m.cfg.rope_style, QROPE_HALF);  /* llama.cpp: QWEN2 -> NEOX */
    ck_assert(m.cfg.rope_theta == 500000.0f && m.cfg.norm_eps == 1e-6f);
    struct qtensor *qb = qmodel_get(&m, 0, QR_ATTN_Q_BIAS);
    ck_assert(qb && !strcmp(qb->name, "blk.0.attn_q_bias") && !strcmp(qb->src_name, "blk.0.attn_q.bias"));
    int rf = qmodel_find(&m, "rope_freqs");
    ck_assert_int_ge(rf, 0);
    ck_assert_int_eq(m.tensors[rf].role, QR_OTHER);
    qmodel_close(&m);

    p = write_variant("mistral.gguf", "mistral", 0, 0, GGML_T_F32);
    ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(m.cfg.arch, "mistral");
    ck_assert(!m.cfg.has_qkv_bias && m.cfg.tied_output && m.cfg.rope_style == QROPE_INTERLEAVED);
    qmodel_close(&m);

    p = write_variant("llama_bias.gguf", "llama", 1, 0, GGML_T_F32);  /* optional biases */
    ck_assert_msg(qmodel_open(&m, p, &e) == 0, "%s", e.msg);
    ck_assert(m.cfg.has_qkv_bias);
    qmodel_close(&m);

    p = write_variant("phi.gguf", "phi3", 0, 0, GGML_T_F32);
    ck_assert_int_eq(qmodel_open(&m, p, &e), QERR_UNSUPP);
    ck_assert_msg(strstr(e.msg, "architecture 'phi3' is not supported"), "%s", e.msg);
}
END_TEST

START_TEST(test_quantized_type_message)
{
    struct qmodel m;
    struct qerr e = {0};
    /* iq2_xxs (not decoded) needs rows of 256: a (8, 256) tensor of 8
     * blocks x 66 bytes */
    const char *p = tu_tmpfile("iq2.gguf");
    struct gguf_writer *w = gguf_writer_new(3);
    small_config(w, "llama");
    static uint8_t raw[8 * 66];
    int64_t shape[2] = {8, 256};
    gguf_writer_add_tensor_raw(w, "blk.0.attn_q.weight", 16, 2, shape, raw, sizeof raw);
    save(w, p);
    ck_assert_int_eq(qmodel_open(&m, p, &e), QERR_UNSUPP);
    char want[512];
    snprintf(want, sizeof want, "%s: tensor blk.0.attn_q.weight: ggml type iq2_xxs is not supported "
             "(qlens reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL and IQ4_XS)", p);
    ck_assert_str_eq(e.msg, want);
    /* the parser alone accepts it: sizes of quantized types are known */
    size_t n;
    uint8_t *b = slurp(p, &n);
    struct gguf_file g;
    ck_assert_int_eq(parse_buf(b, n, &g, &e), 0);
    ck_assert_uint_eq(g.tinfo[0].ggml_type, 16);
    gguf_free(&g);
    free(b);
}
END_TEST

START_TEST(test_missing_keys)
{
    struct qmodel m;
    struct qerr e = {0};
    const char *p = tu_tmpfile("nokeys.gguf");
    struct gguf_writer *w = gguf_writer_new(3);
    gguf_writer_add_str(w, "general.architecture", "llama");
    gguf_writer_add_u32(w, "llama.embedding_length", 8);
    save(w, p);
    ck_assert_int_eq(qmodel_open(&m, p, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "metadata key llama.feed_forward_length is missing"), "%s", e.msg);

    w = gguf_writer_new(3);
    gguf_writer_add_u32(w, "x", 1);
    save(w, p);
    ck_assert_int_eq(qmodel_open(&m, p, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "general.architecture is missing"), "%s", e.msg);

    w = gguf_writer_new(3);
    small_config(w, "llama");
    gguf_writer_add_i32(w, "llama.attention.head_count_kv", -2);
    save(w, p);
    ck_assert_int_eq(qmodel_open(&m, p, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "llama.attention.head_count_kv: must be a positive integer"), "%s", e.msg);

    w = gguf_writer_new(3);  /* config but no tensors */
    small_config(w, "llama");
    save(w, p);
    ck_assert_int_eq(qmodel_open(&m, p, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "token_embd.weight is missing"), "%s", e.msg);
}
END_TEST

/* ---- writer ---- */

static int failing_fill(void *ctx, float *dst, int64_t n)
{
    (void)ctx, (void)dst, (void)n;
    return -1;
}

START_TEST(test_writer_atomic)
{
    struct qerr e = {0};
    struct gguf_writer *w = gguf_writer_new(3);
    gguf_writer_add_u32(w, "a", 1);
    ck_assert_int_eq(gguf_writer_save(w, "/nonexistent-dir/x.gguf", &e), QERR_IO);
    ck_assert_msg(strstr(e.msg, "/nonexistent-dir/x.gguf"), "%s", e.msg);
    /* a failing data source aborts the save and leaves the old file alone */
    const char *p = tu_tmpfile("atomic.gguf");
    ck_assert_int_eq(gguf_writer_save(w, p, &e), 0);
    gguf_writer_free(w);
    size_t n0;
    uint8_t *b0 = slurp(p, &n0);
    w = gguf_writer_new(3);
    int64_t shape[1] = {4};
    gguf_writer_add_tensor_fill(w, "t", GGML_T_F32, 1, shape, failing_fill, NULL);
    ck_assert_int_ne(gguf_writer_save(w, p, &e), 0);
    ck_assert_msg(strstr(e.msg, "tensor t: data source failed"), "%s", e.msg);
    gguf_writer_free(w);
    size_t n1;
    uint8_t *b1 = slurp(p, &n1);
    ck_assert(n1 == n0 && !memcmp(b0, b1, n0));
    /* no temporary file left behind */
    DIR *d = opendir(tu_tmpdir());
    for (struct dirent *de; (de = readdir(d));)
        ck_assert_msg(!strstr(de->d_name, ".tmp."), "left over: %s", de->d_name);
    closedir(d);
    free(b0);
    free(b1);
}
END_TEST

START_TEST(test_permute_roundtrip)
{
    enum { NH = 3, HD = 6, C = 5 };
    float a[NH * HD * C], b[NH * HD * C], c[NH * HD * C];
    for (int i = 0; i < NH * HD * C; i++)
        a[i] = (float)i;
    gguf_permute_qk(a, b, NH, HD, C);
    /* row h*hd + 2i + j of the result is row h*hd + j*hd/2 + i of the input */
    ck_assert(b[(1 * HD + 2 * 2 + 1) * C + 3] == a[(1 * HD + 1 * 3 + 2) * C + 3]);
    ck_assert(b[(2 * HD + 1) * C] == a[(2 * HD + 3) * C]);
    gguf_unpermute_qk(b, c, NH, HD, C);
    ck_assert(!memcmp(a, c, sizeof a));
}
END_TEST

static int tensors_equal(struct qtensor *a, struct qtensor *b)
{
    if (a->nelem != b->nelem || a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return !memcmp(qtensor_f32(a), qtensor_f32(b), (size_t)a->nelem * sizeof(float));
}

/* stories260K.gguf -> gguf_write_model -> identical tensors and metadata */
START_TEST(test_write_model_roundtrip)
{
    struct qmodel a, b;
    struct qerr e = {0};
    const char *src = tu_shared("models/stories260K.gguf");
    ck_assert_ptr_nonnull(src);
    ck_assert_msg(qmodel_open(&a, src, &e) == 0, "%s", e.msg);
    const char *p = tu_tmpfile("rt.gguf");
    ck_assert_msg(gguf_write_model(&a, p, 0, &e) == 0, "%s", e.msg);
    ck_assert_msg(qmodel_open(&b, p, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.n_tensors, b.n_tensors);
    ck_assert(!memcmp(&a.cfg, &b.cfg, sizeof a.cfg));
    for (int i = 0; i < a.n_tensors; i++) {
        ck_assert_str_eq(a.tensors[i].name, b.tensors[i].name);
        ck_assert_msg(tensors_equal(&a.tensors[i], &b.tensors[i]), "%s", a.tensors[i].name);
    }
    for (uint64_t i = 0; i < a.gguf->n_kv; i++) {  /* every tokenizer key copied as is */
        const struct gguf_kv *x = &a.gguf->kv[i];
        if (x->key.len < 10 || memcmp(x->key.ptr, "tokenizer.", 10))
            continue;
        char key[128];
        gguf_str_copy(x->key, key, sizeof key);
        const struct gguf_kv *y = gguf_find(b.gguf, key);
        ck_assert_msg(y && y->type == x->type && y->arr_n == x->arr_n, "%s", key);
        if (x->type == GGUF_T_ARRAY && x->arr_type == GGUF_T_STRING)
            for (uint64_t k = 0; k < x->arr_n; k++)
                ck_assert(x->arr_strs[k].len == y->arr_strs[k].len &&
                          !memcmp(x->arr_strs[k].ptr, y->arr_strs[k].ptr, x->arr_strs[k].len));
        else if (x->type == GGUF_T_ARRAY)
            ck_assert(!memcmp(x->arr_data, y->arr_data, x->arr_n * 4));
        else
            ck_assert(x->v.u == y->v.u);
    }
    /* with an override: that tensor's new values are written */
    struct qtensor *q = qmodel_get(&a, 2, QR_ATTN_Q);
    float *ov = malloc((size_t)q->nelem * sizeof *ov);
    for (int64_t i = 0; i < q->nelem; i++)
        ov[i] = (float)i;
    qtensor_set_override(q, ov);
    qmodel_close(&b);
    ck_assert_msg(gguf_write_model(&a, p, 1, &e) == 0, "%s", e.msg);
    ck_assert_msg(qmodel_open(&b, p, &e) == 0, "%s", e.msg);
    ck_assert(qtensor_f32(qmodel_get(&b, 2, QR_ATTN_Q))[77] == 77.0f);
    ck_assert(tensors_equal(qmodel_get(&a, 2, QR_ATTN_K), qmodel_get(&b, 2, QR_ATTN_K)));
    qmodel_close(&b);
    ck_assert_msg(gguf_write_model(&a, p, 0, &e) == 0, "%s", e.msg);  /* overrides ignored */
    ck_assert_msg(qmodel_open(&b, p, &e) == 0, "%s", e.msg);
    ck_assert(!memcmp(qtensor_f32(qmodel_get(&b, 2, QR_ATTN_Q)), qtensor_f32_orig(q), 4 * (size_t)q->nelem));
    qmodel_close(&b);
    qmodel_close(&a);
}
END_TEST

/* stories260K.bin + tok512.bin -> GGUF: the vocabulary converted as
 * llama.cpp's convert-llama2c-to-ggml did for stories260K.gguf. */
START_TEST(test_write_model_from_llama2c)
{
    struct qmodel a, b, ref;
    struct qerr e = {0};
    ck_assert_msg(qmodel_open(&a, tu_shared("models/stories260K.bin"), &e) == 0, "%s", e.msg);
    ck_assert_ptr_nonnull(a.tokenizer_path);
    const char *p = tu_tmpfile("from_bin.gguf");
    ck_assert_msg(gguf_write_model(&a, p, 0, &e) == 0, "%s", e.msg);
    ck_assert_msg(qmodel_open(&b, p, &e) == 0, "%s", e.msg);
    ck_assert_msg(qmodel_open(&ref, tu_shared("models/stories260K.gguf"), &e) == 0, "%s", e.msg);
    ck_assert(b.cfg.tied_output && b.n_tensors == a.n_tensors);
    for (int i = 0; i < a.n_tensors; i++)
        ck_assert_msg(tensors_equal(&a.tensors[i], &b.tensors[i]), "%s", a.tensors[i].name);
    static const char *const keys[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                                       "tokenizer.ggml.token_type"};
    for (int k = 0; k < 3; k++) {
        const struct gguf_kv *x = gguf_find(ref.gguf, keys[k]), *y = gguf_find(b.gguf, keys[k]);
        ck_assert_msg(x && y && x->arr_type == y->arr_type && x->arr_n == y->arr_n, "%s", keys[k]);
        for (uint64_t i = 0; i < x->arr_n; i++)
            if (x->arr_type == GGUF_T_STRING)
                ck_assert_msg(x->arr_strs[i].len == y->arr_strs[i].len &&
                              !memcmp(x->arr_strs[i].ptr, y->arr_strs[i].ptr, x->arr_strs[i].len),
                              "%s[%llu]", keys[k], (unsigned long long)i);
            else
                ck_assert_msg(!memcmp(x->arr_data + 4 * i, y->arr_data + 4 * i, 4), "%s[%llu]",
                              keys[k], (unsigned long long)i);
    }
    qmodel_close(&ref);
    qmodel_close(&b);
    qmodel_close(&a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("gguf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty_and_tiny);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_all_value_types);
    tcase_add_test(tc, test_str_helpers);
    tcase_add_test(tc, test_tensor_infos);
    tcase_add_test(tc, test_custom_alignment);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_absurd_counts);
    tcase_add_test(tc, test_string_and_array_lengths);
    tcase_add_test(tc, test_tensor_offsets);
    tcase_add_test(tc, test_bad_dims_and_types);
    tcase_add_test(tc, test_bad_alignment);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_random_damage);
    tcase_add_test(tc, test_vocab_files);
    tcase_add_test(tc, test_load_small);
    tcase_add_test(tc, test_load_variants);
    tcase_add_test(tc, test_quantized_type_message);
    tcase_add_test(tc, test_missing_keys);
    tcase_add_test(tc, test_writer_atomic);
    tcase_add_test(tc, test_permute_roundtrip);
    tcase_add_test(tc, test_write_model_roundtrip);
    tcase_add_test(tc, test_write_model_from_llama2c);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
