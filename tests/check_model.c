/* check_model: the architecture-neutral model (classification, tensor table
 * checks, validation, float access, overrides, format detection) and the
 * stories260K .bin / .gguf relation. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/gguf_write.h"
#include "src/half.h"
#include "src/model.h"
#include "tests/testutil.h"

/* ---- names and tables ---- */

START_TEST(test_classify)
{
    static const struct {
        const char *name;
        int layer;
        enum qrole role;
    } c[] = {
        {"token_embd", -1, QR_TOK_EMBD},       {"output", -1, QR_OUTPUT},
        {"output_norm", -1, QR_OUT_NORM},      {"blk.0.attn_q", 0, QR_ATTN_Q},
        {"blk.12.ffn_down", 12, QR_FFN_DOWN},  {"blk.3.attn_k_bias", 3, QR_ATTN_K_BIAS},
        {"blk.3.attn_output", 3, QR_ATTN_OUT}, {"blk.1.token_embd", 1, QR_OTHER},
        {"attn_q", -1, QR_OTHER},              {"blk.x.attn_q", -1, QR_OTHER},
        {"blk.-1.attn_q", -1, QR_OTHER},       {"blk.2", -1, QR_OTHER},
        {"blk.2.rope_freqs", 2, QR_OTHER},     {"", -1, QR_OTHER},
        {"blk.99999999.attn_q", -1, QR_OTHER}, {"blk.0.attn_q_norm", 0, QR_ATTN_Q_NORM},
        {"blk.4.attn_k_norm", 4, QR_ATTN_K_NORM}, {"blk.1.post_attention_norm", 1, QR_ATTN_POST_NORM},
        {"blk.1.post_ffw_norm", 1, QR_FFN_POST_NORM}, {"post_ffw_norm", -1, QR_OTHER},
        {"blk.0.attn_qkv", 0, QR_OTHER},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        int l;
        enum qrole r;
        qmodel_classify(c[i].name, &l, &r);
        ck_assert_msg(l == c[i].layer && r == c[i].role, "%s: layer %d role %d", c[i].name, l, r);
    }
    ck_assert_str_eq(qrole_name(QR_FFN_GATE), "ffn_gate");
    ck_assert_str_eq(qrole_name(QR_OTHER), "other");
    ck_assert(qrole_is_linear(QR_ATTN_Q) && qrole_is_linear(QR_OUTPUT) && !qrole_is_linear(QR_ATTN_NORM));
    ck_assert(!qrole_is_linear(QR_TOK_EMBD) && !qrole_is_linear(QR_ATTN_Q_BIAS));
    ck_assert(!qrole_is_linear(QR_ATTN_Q_NORM) && !qrole_is_linear(QR_FFN_POST_NORM));
    ck_assert_str_eq(qrole_name(QR_ATTN_POST_NORM), "post_attention_norm");
    /* sliding-window layers: Gemma 2 every other, Gemma 3 five of six */
    struct qconfig g = {.n_layers = 12, .swa_window = 512, .swa_pattern = 6};
    ck_assert(qconfig_layer_is_local(&g, 0) && !qconfig_layer_is_local(&g, 5) &&
              !qconfig_layer_is_local(&g, 11) && qconfig_local_layers(&g) == 10);
    g.swa_pattern = 2;
    ck_assert(qconfig_layer_is_local(&g, 0) && !qconfig_layer_is_local(&g, 1));
    g.swa_pattern = 0;
    ck_assert_int_eq(qconfig_local_layers(&g), 12);
    g.swa_window = 0;
    ck_assert_int_eq(qconfig_local_layers(&g), 0);
    char buf[256];
    qconfig_describe(&g, buf, sizeof buf);
    ck_assert_str_eq(buf, "");
    ck_assert(qdtype_size(QD_F32) == 4 && qdtype_size(QD_BF16) == 2 && qdtype_size(QD__COUNT) == 0);
    ck_assert_str_eq(qdtype_name(QD_F16), "F16");
    ck_assert_str_eq(qformat_name(QF_SAFETENSORS), "safetensors");
}
END_TEST

/* ---- tensor table checks on a hand-made mapping ---- */

static const char *bytes_file(size_t n)
{
    const char *p = tu_tmpfile("bytes.bin");
    uint8_t *b = calloc(1, n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)i;
    tu_write_file(p, b, n);
    free(b);
    return p;
}

/* Block types: nbytes is whole blocks per row; a row length that does not
 * fit the block is refused naming file, tensor and the block size; reading
 * decodes through the ggml traits. */
START_TEST(test_block_dtype)
{
    struct qmodel m = {0};
    struct qerr e = {0};
    const char *p = bytes_file(1024);
    int map = qmodel_map_file(&m, p, &e);
    ck_assert_int_eq(map, 0);
    int64_t ok[2] = {2, 256}, bad[2] = {2, 100};
    ck_assert_int_eq(qmodel_add_tensor(&m, "q", NULL, QD_Q4_K, 2, ok, map, 0, &e), 0);
    ck_assert_uint_eq(m.tensors[0].nbytes, 2 * 144);
    ck_assert_int_eq(qmodel_add_tensor(&m, "r", "R", QD_Q8_0, 2, bad, map, 0, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "tensor R: row length (innermost dimension) 100 is not a multiple "
                                "of the Q8_0 block size 32"), "%s", e.msg);
    ck_assert_str_eq(qdtype_name(QD_IQ4_XS), "IQ4_XS");
    ck_assert_uint_eq(qdtype_size(QD_Q4_K), 0);
    ck_assert_int_eq(qdtype_block(QD_Q6_K), 256);
    ck_assert_double_eq(qdtype_bpw(QD_Q8_0), 8.5);
    enum qdtype dt;
    ck_assert_int_eq(qdtype_from_ggml(12, &dt), 0);
    ck_assert_int_eq(dt, QD_Q4_K);
    ck_assert_int_lt(qdtype_from_ggml(16, &dt), 0); /* iq2_xxs */
    for (int i = 0; i < QD__COUNT; i++) {
        ck_assert_int_eq(qdtype_from_ggml(qdtype_ggml((enum qdtype)i), &dt), 0);
        ck_assert_int_eq(dt, i);
    }
    const float *f = qtensor_f32(&m.tensors[0]); /* decodes the file bytes */
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 512; i++)
        ck_assert(isfinite(f[i]));
    qmodel_close(&m);
}
END_TEST

START_TEST(test_add_tensor_checks)
{
    struct qmodel m = {0};
    struct qerr e = {0};
    const char *p = bytes_file(256);
    int map = qmodel_map_file(&m, p, &e);
    ck_assert_int_eq(map, 0);
    int64_t s2[2] = {4, 8}, s0[2] = {0, 8}, big[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    ck_assert_int_eq(qmodel_add_tensor(&m, "a", "A", QD_F32, 2, s2, map, 0, &e), 0);
    ck_assert_int_eq(m.tensors[0].nbytes, 128);
    char sh[16];
    qtensor_shape_str(&m.tensors[0], " x ", sh, sizeof sh);
    ck_assert_str_eq(sh, "4 x 8");
    qtensor_shape_str(&m.tensors[0], "x", sh, 3);  /* cut to fit, terminated */
    ck_assert_str_eq(sh, "4x");
    ck_assert_int_eq(qmodel_add_tensor(&m, "b", NULL, QD_F32, 2, s2, map, 129, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "tensor b: data [129, 257) runs past end of file (size 256)"), "%s", e.msg);
    ck_assert_int_eq(qmodel_add_tensor(&m, "c", "C", QD_F32, 2, s0, map, 0, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "tensor C: dimension 0 is 0"), "%s", e.msg);
    ck_assert_int_eq(qmodel_add_tensor(&m, "d", NULL, QD_F16, 2, big, map, 0, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "element count overflows"), "%s", e.msg);
    /* 2^62 floats: the element count fits but the byte count (2^64) wraps to 0 */
    int64_t wrap[2] = {INT64_C(1) << 40, INT64_C(1) << 22};
    ck_assert_int_eq(qmodel_add_tensor(&m, "d", NULL, QD_F32, 2, wrap, map, 0, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "element count overflows"), "%s", e.msg);
    ck_assert_int_eq(qmodel_add_tensor(&m, "e", NULL, QD_F32, 5, s2, map, 0, &e), QERR_FORMAT);
    ck_assert_int_eq(qmodel_add_tensor(&m, "e", NULL, QD_F32, 0, s2, map, 0, &e), QERR_FORMAT);
    ck_assert_int_eq(qmodel_add_tensor(&m, "f", NULL, QD__COUNT, 2, s2, map, 0, &e), QERR_UNSUPP);
    ck_assert_int_eq(qmodel_add_tensor(&m, "g", NULL, QD_F32, 2, s2, map, UINT64_MAX - 8, &e), QERR_FORMAT);
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(qmodel_add_tensor(&m, longname, NULL, QD_F32, 2, s2, map, 0, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "too long"), "%s", e.msg);
    ck_assert_int_eq(m.n_tensors, 1);
    ck_assert_int_eq(qmodel_add_tensor(&m, "a", "A2", QD_F32, 2, s2, map, 128, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "tensor A2: its name a is already taken by A"), "%s", e.msg);
    /* many tensors: the table grows */
    for (int i = 0; i < 200; i++) {
        char n[16];
        snprintf(n, sizeof n, "t%d", i);
        ck_assert_int_eq(qmodel_add_tensor(&m, n, NULL, QD_F32, 1, s2 + 1, map, 4 * (uint64_t)i % 224, &e), i + 1);
    }
    ck_assert_int_eq(qmodel_find(&m, "t199"), 200);
    ck_assert_int_eq(qmodel_find(&m, "nope"), -1);
    qmodel_close(&m);
    ck_assert_int_eq(qmodel_map_file(&m, tu_tmpfile("does-not-exist"), &e), QERR_IO);
    ck_assert_int_eq(qmodel_map_file(&m, tu_tmpdir(), &e), QERR_IO);
    free(m.maps);
}
END_TEST

START_TEST(test_float_access)
{
    /* F32 at an unaligned offset, F16 and BF16 with special values */
    uint8_t buf[2 + 16 + 12 + 12];
    float f[4] = {1.5f, -2.0f, 3.25e-3f, 1e30f};
    memcpy(buf + 2, f, 16);
    float hv[6] = {0.5f, -65504.0f, 5.9604645e-08f /* smallest subnormal */, 0.0f, 1.0f / 0.0f, -0.0f};
    for (int i = 0; i < 6; i++) {
        uint16_t h = f32_to_f16(hv[i]), b = f32_to_bf16(hv[i]);
        memcpy(buf + 18 + 2 * i, &h, 2);
        memcpy(buf + 30 + 2 * i, &b, 2);
    }
    const char *p = tu_tmpfile("floats.bin");
    tu_write_file(p, buf, sizeof buf);
    struct qmodel m = {0};
    struct qerr e = {0};
    int map = qmodel_map_file(&m, p, &e);
    int64_t s4[1] = {4}, s6[1] = {6};
    qmodel_add_tensor(&m, "f32", NULL, QD_F32, 1, s4, map, 2, &e);
    qmodel_add_tensor(&m, "f16", NULL, QD_F16, 1, s6, map, 18, &e);
    qmodel_add_tensor(&m, "bf16", NULL, QD_BF16, 1, s6, map, 30, &e);
    const float *x = qtensor_f32(&m.tensors[0]);
    ck_assert_ptr_ne(x, m.tensors[0].data);  /* unaligned: a copy */
    ck_assert(!memcmp(x, f, 16));
    x = qtensor_f32(&m.tensors[1]);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(x[i] == hv[i] && signbit(x[i]) == signbit(hv[i]), "f16 %d: %g", i, x[i]);
    x = qtensor_f32(&m.tensors[2]);
    ck_assert(x[0] == 0.5f && x[1] == -65536.0f && x[3] == 0.0f && x[4] == hv[4] && signbit(x[5]));
    ck_assert(fabsf(x[2] - hv[2]) <= hv[2] / 128);
    /* overrides: f32 returns them, orig does not; clearing restores */
    float *ov = malloc(6 * sizeof *ov);
    for (int i = 0; i < 6; i++)
        ov[i] = 7.0f;
    qtensor_set_override(&m.tensors[1], ov);
    ck_assert(qtensor_f32(&m.tensors[1])[3] == 7.0f);
    ck_assert(qtensor_f32_orig(&m.tensors[1])[0] == 0.5f);
    qmodel_clear_overrides(&m);
    ck_assert_ptr_null(m.tensors[1].override);
    ck_assert(qtensor_f32(&m.tensors[1])[0] == 0.5f);
    ck_assert(qtensor_rows(&m.tensors[1]) == 1 && qtensor_cols(&m.tensors[1]) == 6);
    qmodel_close(&m);
}
END_TEST

/* ---- validation ---- */

/* A valid GGUF model (dim 8, 1 layer) with one thing changed by `mode`. */
static const char *gguf_variant(int mode)
{
    static float z[64 * 8];
    const char *p = tu_tmpfile("v.gguf");
    struct gguf_writer *w = gguf_writer_new(3);
    gguf_writer_add_str(w, "general.architecture", "llama");
    gguf_writer_add_u32(w, "llama.embedding_length", 8);
    gguf_writer_add_u32(w, "llama.feed_forward_length", 16);
    gguf_writer_add_u32(w, "llama.block_count", 1);
    gguf_writer_add_u32(w, "llama.attention.head_count", mode == 3 ? 3 : 2);
    gguf_writer_add_u32(w, "llama.context_length", 8);
    if (mode == 3)
        gguf_writer_add_u32(w, "llama.attention.head_count_kv", 2);
    if (mode == 4)
        gguf_writer_add_u32(w, "llama.attention.key_length", 3);
    static const char *const names[] = {"token_embd", "blk.0.attn_norm", "blk.0.attn_q", "blk.0.attn_k",
                                        "blk.0.attn_v", "blk.0.attn_output", "blk.0.ffn_norm",
                                        "blk.0.ffn_gate", "blk.0.ffn_up", "blk.0.ffn_down", "output_norm"};
    static const int64_t shapes[][2] = {{32, 8}, {1, 8}, {8, 8}, {8, 8}, {8, 8}, {8, 8},
                                        {1, 8}, {16, 8}, {16, 8}, {8, 16}, {1, 8}};
    for (int i = 0; i < 11; i++) {
        if (mode == 1 && i == 7)
            continue;  /* ffn_gate missing */
        int64_t s[2] = {shapes[i][0], shapes[i][1]};
        if (mode == 2 && i == 9)
            s[1] = 15;  /* ffn_down has the wrong shape */
        char n[64];
        snprintf(n, sizeof n, "%s.weight", names[i]);
        gguf_writer_add_tensor(w, n, GGML_T_F32, s[0] == 1 ? 1 : 2, s[0] == 1 ? s + 1 : s, z);
    }
    if (mode == 5) {
        int64_t s[1] = {8};
        gguf_writer_add_tensor(w, "blk.1.attn_norm.weight", GGML_T_F32, 1, s, z);
    }
    struct qerr e = {0};
    ck_assert_msg(gguf_writer_save(w, p, &e) == 0, "%s", e.msg);
    gguf_writer_free(w);
    return p;
}

START_TEST(test_validate)
{
    static const struct {
        int mode;
        const char *what;
    } c[] = {
        {1, "required tensor blk.0.ffn_gate is missing"},
        {2, "tensor blk.0.ffn_down is 8 x 15, config says 8 x 16"},
        {3, "3 heads not a multiple of 2 kv heads"},
        {4, "head_dim 3 is odd"},
        {5, "tensor blk.1.attn_norm: layer 1 but the model has 1 layers"},
    };
    struct qmodel m;
    struct qerr e = {0};
    ck_assert_msg(qmodel_open(&m, gguf_variant(0), &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.cfg.vocab_size, 32);
    /* display order: token_embd, block 0 in role order, then output side */
    ck_assert_str_eq(m.tensors[0].name, "token_embd");
    ck_assert_str_eq(m.tensors[1].name, "blk.0.attn_norm");
    ck_assert_str_eq(m.tensors[m.n_tensors - 1].name, "output_norm");
    qmodel_close(&m);
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        const char *p = gguf_variant(c[i].mode);
        ck_assert_int_eq(qmodel_open(&m, p, &e), QERR_FORMAT);
        ck_assert_msg(strstr(e.msg, c[i].what) && strstr(e.msg, p), "mode %d: %s", c[i].mode, e.msg);
    }
}
END_TEST

START_TEST(test_detect_format)
{
    struct qmodel m;
    struct qerr e = {0};
    ck_assert_int_eq(qmodel_open(&m, tu_tmpfile("no-such-model"), &e), QERR_IO);
    ck_assert_msg(strstr(e.msg, "no-such-model: cannot open"), "%s", e.msg);
    /* GGUF content under a misleading name is still GGUF */
    const char *g = gguf_variant(0), *odd = tu_tmpfile("model.bin");
    ck_assert_int_eq(rename(g, odd), 0);
    ck_assert_msg(qmodel_open(&m, odd, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.format, QF_GGUF);
    qmodel_close(&m);
    /* an empty directory is taken as safetensors and says what is missing */
    const char *d = tu_tmpfile("emptydir");
    mkdir(d, 0755);
    ck_assert_int_eq(qmodel_open(&m, d, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "config.json is missing"), "%s", e.msg);
}
END_TEST

/* ---- stories260K: llama2.c vs the GGUF conversion ---- */

static void open_shared(struct qmodel *m, const char *rel)
{
    struct qerr e = {0};
    const char *p = tu_shared(rel);
    ck_assert_msg(p != NULL, "%s missing", rel);
    ck_assert_msg(qmodel_open(m, p, &e) == 0, "%s", e.msg);
}

/* Finding: stories260K.gguf holds every tensor of stories260K.bin byte for
 * byte.  Q/K rows are NOT permuted (llama.cpp's convert-llama2c-to-ggml
 * copies llama2.c's interleaved layout, which is already what GGUF's llama
 * arch uses; only the HF converter permutes).  The .bin shares its
 * classifier; the GGUF carries output.weight as an explicit copy of
 * token_embd.  context_length differs: 512 in the .bin, 128 in the GGUF. */
START_TEST(test_stories260k_bin_vs_gguf)
{
    struct qmodel b, g;
    open_shared(&b, "models/stories260K.bin");
    open_shared(&g, "models/stories260K.gguf");
    ck_assert(b.cfg.tied_output && !g.cfg.tied_output);
    ck_assert_int_eq(g.n_tensors, b.n_tensors + 1);
    ck_assert(b.cfg.ctx_len == 512 && g.cfg.ctx_len == 128);
    struct qconfig cb = b.cfg, cg = g.cfg;
    cb.tied_output = cg.tied_output = 0;
    cb.ctx_len = cg.ctx_len = 0;
    ck_assert(!memcmp(&cb, &cg, sizeof cb));
    for (int i = 0; i < b.n_tensors; i++) {
        struct qtensor *tb = &b.tensors[i];
        int k = qmodel_find(&g, tb->name);
        ck_assert_msg(k >= 0, "%s not in the GGUF", tb->name);
        struct qtensor *tg = &g.tensors[k];
        ck_assert_int_eq(tb->ndim, tg->ndim);
        for (int d = 0; d < tb->ndim; d++)
            ck_assert_int_eq(tb->shape[d], tg->shape[d]);
        ck_assert_msg(!memcmp(qtensor_f32(tb), qtensor_f32(tg), tb->nbytes), "%s differs", tb->name);
    }
    /* and the permuted relation does NOT hold: the file is not HF-ordered */
    struct qtensor *q = qmodel_get(&b, 0, QR_ATTN_Q);
    float *tmp = malloc(q->nbytes);
    gguf_permute_qk(qtensor_f32(q), tmp, b.cfg.n_heads, b.cfg.head_dim, b.cfg.dim);
    ck_assert(memcmp(tmp, qtensor_f32(qmodel_get(&g, 0, QR_ATTN_Q)), q->nbytes));
    free(tmp);
    struct qtensor *out = qmodel_get(&g, -1, QR_OUTPUT), *emb = qmodel_get(&b, -1, QR_TOK_EMBD);
    ck_assert(out && !memcmp(qtensor_f32(out), qtensor_f32(emb), emb->nbytes));
    qmodel_close(&b);
    qmodel_close(&g);
}
END_TEST

/* Another process truncates the model file while it is mapped: a read past
 * the new end would be SIGBUS (the process killed, exit 135).  It reads
 * zeros instead and qmodel_intact says the numbers are void. */
START_TEST(test_truncated_while_mapped)
{
    const char *src = tu_shared("models/stories260K.bin");
    ck_assert_msg(src != NULL, "stories260K.bin missing");
    FILE *f = fopen(src, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 21];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const char *path = tu_tmpfile("trunc.bin");
    ck_assert_int_eq(tu_write_file(path, buf, n), 0);
    struct qmodel m;
    struct qerr e = {0};
    ck_assert_int_eq(qmodel_open(&m, path, &e), 0);
    ck_assert_int_eq(qmodel_intact(&m, &e), 0);
    struct qtensor *last = &m.tensors[0];
    for (int i = 1; i < m.n_tensors; i++)
        if (m.tensors[i].file_offset > last->file_offset)
            last = &m.tensors[i];
    ck_assert(last->file_offset > 8192);
    ck_assert_int_eq(truncate(path, 4096), 0);
    float *w = malloc(last->nbytes);
    qtensor_read_f32(last, w); /* reads pages past the end: no signal */
    for (int64_t k = 0; k < last->nelem; k++)
        ck_assert_msg(w[k] == 0.0f, "%s[%lld] = %g after the truncation", last->name,
                      (long long)k, w[k]);
    free(w);
    ck_assert_int_eq(qmodel_intact(&m, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "trunc.bin: the file was truncated while open (now 4096 bytes, "
                                "was 1056540)"), "%s", e.msg);
    qmodel_close(&m);
    /* the next model opened reuses the slot and starts intact */
    ck_assert_int_eq(tu_write_file(path, buf, n), 0);
    ck_assert_int_eq(qmodel_open(&m, path, &e), 0);
    ck_assert_int_eq(qmodel_intact(&m, &e), 0);
    qmodel_close(&m);
}
END_TEST

/* ---- float copies under a budget ---- */

#define NT 6
#define TN 4096 /* elements per tensor: 16 KiB of floats */

static void f16_model(struct qmodel *m, const char *path)
{
    tu_f16_model(m, path, NT, TN);
}

static void check_values(const float *x, int k)
{
    for (int i = 0; i < TN; i += 97)
        ck_assert(x[i] == f16_to_f32(f32_to_f16((float)k + (float)i / TN)));
}

START_TEST(test_f32_budget)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmpfile("budget.bin"));
    struct qmodel m;
    f16_model(&m, path);
    const size_t one = TN * sizeof(float);
    qmodel_set_f32_budget(3 * one);
    ck_assert_uint_eq(qmodel_f32_bytes(), 0);
    /* pinned, then released in order: the budget keeps the last three */
    for (int k = 0; k < NT; k++) {
        const float *x = qtensor_f32_pin(&m.tensors[k]);
        ck_assert_ptr_nonnull(x);
        check_values(x, k);
        qtensor_f32_unpin(&m.tensors[k]);
        ck_assert_uint_le(qmodel_f32_bytes(), 3 * one);
    }
    for (int k = 0; k < NT; k++)
        ck_assert_msg((m.tensors[k].f32 != NULL) == (k >= NT - 3), "tensor %d", k);
    /* a use refreshes: t3 becomes the newest, t4 goes next */
    qtensor_f32_unpin((qtensor_f32_pin(&m.tensors[3]), &m.tensors[3]));
    qtensor_f32_unpin((qtensor_f32_pin(&m.tensors[0]), &m.tensors[0]));
    ck_assert_ptr_null(m.tensors[4].f32);
    ck_assert_ptr_nonnull(m.tensors[3].f32);
    /* pinned copies are never freed, even past the budget */
    const float *p[NT];
    for (int k = 0; k < NT; k++)
        p[k] = qtensor_f32_pin(&m.tensors[k]);
    ck_assert_uint_eq(qmodel_f32_bytes(), NT * one);
    for (int k = 0; k < NT; k++) {
        check_values(p[k], k);
        qtensor_f32_unpin(&m.tensors[k]);
    }
    /* no pointer of a cached copy leaks out through qtensor_f32_direct */
    ck_assert_ptr_null(qtensor_f32_direct(&m.tensors[0], 0));
    /* qtensor_f32_orig's copy is permanent: it survives any pressure */
    const float *keep = qtensor_f32_orig(&m.tensors[1]);
    ck_assert_ptr_eq(qtensor_f32_direct(&m.tensors[1], 0), keep);
    qmodel_set_f32_budget(0);
    qtensor_f32_unpin((qtensor_f32_pin(&m.tensors[2]), &m.tensors[2]));
    qtensor_f32_unpin((qtensor_f32_pin(&m.tensors[5]), &m.tensors[5]));
    ck_assert_ptr_eq(m.tensors[1].f32, keep);
    check_values(keep, 1);
    ck_assert_ptr_null(m.tensors[2].f32);
    qmodel_close(&m);
    ck_assert_uint_eq(qmodel_f32_bytes(), 0);
    qmodel_set_f32_budget(QM_F32_BUDGET_DEFAULT);
}
END_TEST

struct pin_arg {
    struct qmodel *m;
    unsigned seed;
};

static void *pin_worker(void *p)
{
    struct pin_arg *a = p;
    for (int it = 0; it < 3000; it++) {
        a->seed = a->seed * 1103515245u + 12345u;
        int k = (int)((a->seed >> 16) % NT);
        const float *x = qtensor_f32_pin(&a->m->tensors[k]);
        if (!x || x[TN - 1] != f16_to_f32(f32_to_f16((float)k + (float)(TN - 1) / TN)))
            return (void *)1;
        qtensor_f32_unpin(&a->m->tensors[k]);
    }
    return NULL;
}

/* Two threads pinning under a budget of two copies: every pointer stays
 * valid while pinned (the sanitizer build would see a use after free). */
START_TEST(test_f32_budget_threads)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmpfile("budget-th.bin"));
    struct qmodel m;
    f16_model(&m, path);
    qmodel_set_f32_budget(2 * TN * sizeof(float));
    pthread_t th[2];
    struct pin_arg a[2] = {{&m, 1}, {&m, 2}};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, pin_worker, &a[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_ptr_null(r);
    }
    ck_assert_uint_le(qmodel_f32_bytes(), 2 * TN * sizeof(float));
    qmodel_close(&m);
    qmodel_set_f32_budget(QM_F32_BUDGET_DEFAULT);
}
END_TEST

START_TEST(test_parse_size)
{
    size_t b;
    ck_assert_int_eq(qmodel_parse_size("512M", &b), 0);
    ck_assert_uint_eq(b, (size_t)512 << 20);
    ck_assert_int_eq(qmodel_parse_size("2G", &b), 0);
    ck_assert_uint_eq(b, (size_t)2 << 30);
    ck_assert_int_eq(qmodel_parse_size("1.5GiB", &b), 0);
    ck_assert_uint_eq(b, (size_t)3 << 29);
    ck_assert_int_eq(qmodel_parse_size("4096", &b), 0);
    ck_assert_uint_eq(b, (size_t)4 << 30);
    ck_assert_int_eq(qmodel_parse_size("0", &b), 0);
    ck_assert_uint_eq(b, 0);
    const char *bad[] = {"", "G", "-1G", "12X", "1e30G", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(qmodel_parse_size(bad[i], &b) < 0, "%s", bad[i]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_classify);
    tcase_add_test(tc, test_add_tensor_checks);
    tcase_add_test(tc, test_block_dtype);
    tcase_add_test(tc, test_float_access);
    tcase_add_test(tc, test_validate);
    tcase_add_test(tc, test_detect_format);
    tcase_add_test(tc, test_stories260k_bin_vs_gguf);
    tcase_add_test(tc, test_truncated_while_mapped);
    tcase_add_test(tc, test_f32_budget);
    tcase_add_test(tc, test_f32_budget_threads);
    tcase_add_test(tc, test_parse_size);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
