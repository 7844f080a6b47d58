/* ggml_mix: llama-quantize's per-tensor type rules.  Degenerate inputs, the
 * use_more_bits pattern on a 32-block model, fallbacks, overrides, and the
 * types llama.cpp itself chose in ../shared/reference/ggml-types (the mix-*
 * and pure-* files), tensor by tensor. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "quant/ggml_mix.h"
#include "src/gguf.h"
#include "tests/testutil.h"

static const struct gmix_model dense32 = {.n_layers = 32, .n_gqa = 1};

static enum ggt_id type_of(const char *preset, const struct gmix_model *mm, const char *name,
                           int layer, int64_t ncols, struct gmix_choice *c)
{
    struct qerr err = {0};
    ck_assert_int_eq(gmix_tensor_type(gmix_find(preset), mm, NULL, name, layer, 2, ncols, c, &err), 0);
    return c->type;
}

START_TEST(degenerate)
{
    struct gmix_choice c;
    struct qerr err = {0};
    ck_assert_ptr_null(gmix_find(NULL));
    ck_assert_ptr_null(gmix_find("q4_k"));      /* a type, not a preset */
    ck_assert_ptr_nonnull(gmix_find("Q4_K_M"));
    ck_assert_int_eq(gmix_find("q4_k_m")->ftype, 15);
    ck_assert_int_lt(gmix_tensor_type(NULL, &dense32, NULL, "output", -1, 2, 256, &c, &err), 0);
    /* norms, biases and vectors stay as they are */
    const struct gmix_preset *p = gmix_find("q4_k_m");
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, NULL, "blk.0.attn_norm", 0, 1, 256, &c, &err), 0);
    ck_assert_int_eq(c.quantized, 0);
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, NULL, "blk.0.attn_q_bias", 0, 1, 256, &c, &err), 0);
    ck_assert_int_eq(c.quantized, 0);
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, NULL, "output_norm", -1, 2, 256, &c, &err), 0);
    ck_assert_int_eq(c.quantized, 0);
    /* a block outside the model, a zero row */
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, NULL, "blk.32.attn_v", 32, 2, 256, &c, &err), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "blk.32.attn_v"));
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, NULL, "blk.1.attn_v", 1, 2, 0, &c, &err), QERR_ARG);
    /* overrides */
    struct gmix_override ov;
    ck_assert_int_eq(gmix_override_parse(&ov, NULL, &err), QERR_ARG);
    ck_assert_int_eq(gmix_override_parse(&ov, "attn_v", &err), QERR_ARG);
    ck_assert_int_eq(gmix_override_parse(&ov, "=q4_k", &err), QERR_ARG);
    ck_assert_int_eq(gmix_override_parse(&ov, "attn_v=", &err), QERR_ARG);
    ck_assert_int_eq(gmix_override_parse(&ov, "attn_v=q9_z", &err), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "q9_z"));
    ck_assert_int_eq(gmix_override_parse(&ov, "(=q4_k", &err), QERR_ARG);
}
END_TEST

/* use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2. */
START_TEST(more_bits_pattern)
{
    struct gmix_choice c;
    int six = 0;
    for (int i = 0; i < 32; i++) {
        char name[32];
        snprintf(name, sizeof name, "blk.%d.attn_v", i);
        int want = i < 4 || i >= 28 || (i - 4) % 3 == 2;
        ck_assert_int_eq(type_of("q4_k_m", &dense32, name, i, 4096, &c), want ? GGT_Q6_K : GGT_Q4_K);
        snprintf(name, sizeof name, "blk.%d.ffn_down", i);
        ck_assert_int_eq(type_of("q4_k_m", &dense32, name, i, 11008, &c), want ? GGT_Q6_K : GGT_Q4_K);
        ck_assert_int_eq(type_of("q5_k_m", &dense32, name, i, 14336, &c), want ? GGT_Q6_K : GGT_Q5_K);
        snprintf(name, sizeof name, "blk.%d.ffn_down", i);
        ck_assert_int_eq(type_of("q3_k_m", &dense32, name, i, 14336, &c), i < 2 ? GGT_Q5_K : GGT_Q4_K);
        six += want;
    }
    ck_assert_int_eq(six, 16); /* 4 + 4 + 8 in between: half the blocks */
    /* Q3_K_M attn_v: blocks 0, 1 Q5_K; Q4_K_S: blocks 0..3 Q5_K */
    ck_assert_int_eq(type_of("q3_k_m", &dense32, "blk.1.attn_v", 1, 4096, &c), GGT_Q5_K);
    ck_assert_int_eq(type_of("q3_k_m", &dense32, "blk.2.attn_v", 2, 4096, &c), GGT_Q4_K);
    ck_assert_int_eq(type_of("q4_k_s", &dense32, "blk.3.attn_v", 3, 4096, &c), GGT_Q5_K);
    ck_assert_int_eq(type_of("q4_k_s", &dense32, "blk.4.attn_v", 4, 4096, &c), GGT_Q4_K);
    /* GQA 8 (a Llama-3 8B): Q2_K's attn_v gets Q4_K, IQ4_XS's Q5_K */
    struct gmix_model gqa = dense32;
    gqa.n_gqa = 4;
    ck_assert_int_eq(type_of("q2_k", &gqa, "blk.9.attn_v", 9, 4096, &c), GGT_Q4_K);
    ck_assert_int_eq(type_of("iq4_xs", &gqa, "blk.9.attn_v", 9, 4096, &c), GGT_Q5_K);
    /* 8 experts: attn_v, attn_k Q8_0 */
    struct gmix_model moe = dense32;
    moe.n_expert = 8;
    ck_assert_int_eq(type_of("q4_k_m", &moe, "blk.5.attn_k", 5, 4096, &c), GGT_Q8_0);
    ck_assert_int_eq(type_of("q4_k_m", &moe, "blk.5.attn_output", 5, 4096, &c), GGT_Q5_K);
    /* output: Q6_K, except Q8_0 presets; a tied embedding is the output */
    ck_assert_int_eq(type_of("q4_0", &dense32, "output", -1, 4096, &c), GGT_Q6_K);
    ck_assert_int_eq(type_of("q8_0", &dense32, "output", -1, 4096, &c), GGT_Q8_0);
    ck_assert_int_eq(type_of("q4_0", &dense32, "token_embd", -1, 4096, &c), GGT_Q4_0);
    struct gmix_model tied = dense32;
    tied.tied_output = 1;
    ck_assert_int_eq(type_of("q4_0", &tied, "token_embd", -1, 4096, &c), GGT_Q6_K);
    /* imatrix: Q4_0's first ffn_down get Q4_1 */
    struct gmix_model im = dense32;
    im.has_imatrix = 1;
    ck_assert_int_eq(type_of("q4_0", &im, "blk.3.ffn_down", 3, 4096, &c), GGT_Q4_1);
    ck_assert_int_eq(type_of("q4_0", &im, "blk.4.ffn_down", 4, 4096, &c), GGT_Q4_0);
    ck_assert_int_eq(type_of("iq4_nl", &dense32, "blk.3.ffn_down", 3, 4096, &c), GGT_Q5_K);
    ck_assert_int_eq(type_of("iq4_nl", &im, "blk.3.ffn_down", 3, 4096, &c), GGT_IQ4_NL);
}
END_TEST

START_TEST(fallbacks)
{
    struct gmix_choice c;
    /* 288 = 9 x 32: K types do not fit, their 32-block fallbacks do */
    ck_assert_int_eq(type_of("q4_k_s", &dense32, "blk.0.attn_q", 0, 288, &c), GGT_Q5_0);
    ck_assert_int_eq(c.fallback, 1);
    ck_assert_int_eq(c.wanted, GGT_Q4_K);
    ck_assert_ptr_nonnull(strstr(c.why, "row length 288"));
    ck_assert_int_eq(type_of("q5_k_s", &dense32, "blk.0.attn_q", 0, 288, &c), GGT_Q5_1);
    ck_assert_int_eq(type_of("q6_k", &dense32, "blk.0.attn_q", 0, 288, &c), GGT_Q8_0);
    ck_assert_int_eq(type_of("q2_k", &dense32, "blk.0.attn_q", 0, 288, &c), GGT_IQ4_NL);
    ck_assert_int_eq(type_of("q3_k_s", &dense32, "blk.0.attn_q", 0, 288, &c), GGT_IQ4_NL);
    ck_assert_int_eq(type_of("iq4_xs", &dense32, "blk.0.attn_q", 0, 288, &c), GGT_IQ4_NL);
    /* Q4_0's output is Q6_K by rule, then Q8_0 by fallback */
    ck_assert_int_eq(type_of("q4_0", &dense32, "output", -1, 288, &c), GGT_Q8_0);
    /* 100: not even a 32-block -> F16 */
    ck_assert_int_eq(type_of("q4_k_m", &dense32, "blk.0.attn_q", 0, 100, &c), GGT_F16);
    ck_assert_int_eq(type_of("q4_0", &dense32, "blk.0.attn_q", 0, 100, &c), GGT_F16);
    ck_assert_int_eq(c.fallback, 1);
    ck_assert_int_eq(type_of("q4_k_m", &dense32, "blk.0.attn_q", 0, 4096, &c), GGT_Q4_K);
    ck_assert_int_eq(c.fallback, 0);
    ck_assert_str_eq(c.why, "");
}
END_TEST

START_TEST(overrides_and_pure)
{
    struct gmix_override ov[2];
    struct qerr err = {0};
    struct gmix_choice c;
    ck_assert_int_eq(gmix_override_parse(&ov[0], "blk\\.[0-3]\\.attn_v=Q8_0", &err), 0);
    ck_assert_int_eq(gmix_override_parse(&ov[1], "attn=q2_K", &err), 0);
    struct gmix_opts o = {.ov = ov, .n_ov = 2};
    const struct gmix_preset *p = gmix_find("q4_k_m");
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, &o, "blk.2.attn_v", 2, 2, 4096, &c, &err), 0);
    ck_assert(c.type == GGT_Q8_0 && c.overridden);            /* first match wins */
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, &o, "blk.12.attn_v", 12, 2, 4096, &c, &err), 0);
    ck_assert(c.type == GGT_Q2_K && c.overridden);
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, &o, "blk.13.ffn_down", 13, 2, 4096, &c, &err), 0);
    ck_assert(c.type == GGT_Q4_K && !c.overridden);           /* rules: (13-4)%3 != 2 */
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, &o, "blk.13.attn_q", 13, 2, 288, &c, &err), 0);
    ck_assert(c.type == GGT_IQ4_NL && c.fallback);            /* overrides fall back too */
    struct gmix_opts pure = {.pure = 1};
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, &pure, "output", -1, 2, 4096, &c, &err), 0);
    ck_assert_int_eq(c.type, GGT_Q4_K);
    ck_assert_int_eq(gmix_tensor_type(p, &dense32, &pure, "blk.0.attn_v", 0, 2, 4096, &c, &err), 0);
    ck_assert_int_eq(c.type, GGT_Q4_K);
    gmix_override_free(&ov[0]);
    gmix_override_free(&ov[1]);
}
END_TEST

/* The types llama-quantize chose in a shared file equal ours. */
static void check_file(const char *file, const char *preset, int pure)
{
    char rel[128];
    snprintf(rel, sizeof rel, "reference/ggml-types/%s", file);
    const char *path = tu_shared(rel);
    if (!path) {
        fprintf(stderr, "SKIP %s: shared data not found\n", file);
        return;
    }
    size_t n;
    struct qerr err = {0};
    char *b = afile_read(path, 0, &n, &err);
    ck_assert_msg(b, "%s", err.msg);
    struct gguf_file g;
    ck_assert_msg(gguf_parse(&g, path, b, n, &err) == 0, "%s", err.msg);
    int64_t ft = -1;
    ck_assert_int_eq(gguf_get_int(&g, "general.file_type", &ft), 0);
    ck_assert_int_eq(ft, gmix_find(preset)->ftype);
    struct gmix_model mm = {.n_layers = 1, .n_gqa = 1};
    struct gmix_opts o = {.pure = pure};
    int checked = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const struct gguf_tinfo *ti = &g.tinfo[i];
        char name[128];
        gguf_str_copy(ti->name, name, sizeof name);
        char *dot = strstr(name, ".weight");
        if (dot)
            *dot = '\0';
        int layer = -1;
        sscanf(name, "blk.%d.", &layer);
        struct gmix_choice c;
        ck_assert_int_eq(gmix_tensor_type(gmix_find(preset), &mm, &o, name, layer, (int)ti->n_dims,
                                          (int64_t)ti->ne[0], &c, &err), 0);
        enum ggt_id want = c.quantized ? c.type : GGT_F32; /* the source is F32 */
        ck_assert_msg(want == (enum ggt_id)ti->ggml_type, "%s %s: qlens %s, llama.cpp %s", file, name,
                      ggt_traits(want)->name, ggml_type_name(ti->ggml_type));
        checked += c.quantized;
    }
    ck_assert_int_eq(checked, 9); /* 7 linears + token_embd + output */
    gguf_free(&g);
    free(b);
}

START_TEST(shared_mixes)
{
    check_file("mix-Q4_K_M.gguf", "q4_k_m", 0);
    check_file("mix-Q3_K_M.gguf", "q3_k_m", 0);
    check_file("mix-Q5_K_M.gguf", "q5_k_m", 0);
    check_file("mix-Q2_K.gguf", "q2_k", 0);
    static const char *pure[][2] = {
        {"pure-Q4_0.gguf", "q4_0"}, {"pure-Q4_1.gguf", "q4_1"}, {"pure-Q5_0.gguf", "q5_0"},
        {"pure-Q5_1.gguf", "q5_1"}, {"pure-Q8_0.gguf", "q8_0"}, {"pure-Q2_K.gguf", "q2_k"},
        {"pure-Q3_K_S.gguf", "q3_k_s"}, {"pure-Q4_K_S.gguf", "q4_k_s"},
        {"pure-Q5_K_S.gguf", "q5_k_s"}, {"pure-Q6_K.gguf", "q6_k"},
        {"pure-IQ4_NL.gguf", "iq4_nl"}, {"pure-IQ4_XS.gguf", "iq4_xs"},
    };
    for (size_t k = 0; k < sizeof pure / sizeof *pure; k++)
        check_file(pure[k][0], pure[k][1], 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ggml_mix");
    TCase *t = tcase_create("ggml_mix");
    tcase_add_test(t, degenerate);
    tcase_add_test(t, more_bits_pattern);
    tcase_add_test(t, fallbacks);
    tcase_add_test(t, overrides_and_pure);
    tcase_add_test(t, shared_mixes);
    suite_add_tcase(s, t);
    return tu_run(s);
}
