/* Tokenizers: llama.cpp's own test vectors (every case, exactly), the
 * llama2.c tokenizer.bin against the GGUF copy of the same vocabulary on
 * whole texts, pre-tokenizer splits, decoding, tokenizer.json, errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/gguf_write.h"
#include "src/model.h"
#include "src/tok_internal.h"
#include "src/tokenizer.h"
#include "src/unicode.h"
#include "tests/testutil.h"

static char *slurp(const char *path, size_t *n)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    ck_assert_msg(f, "cannot open %s", path ? path : "(missing shared file)");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    ck_assert(b && fread(b, 1, (size_t)sz, f) == (size_t)sz);
    b[sz] = '\0';
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static struct tokenizer *load(const char *rel)
{
    const char *p = tu_shared(rel);
    ck_assert_msg(p, "shared file %s missing", rel);
    struct tokenizer *t;
    struct qerr e = {0};
    int rc = tok_load_file(&t, p, &e);
    ck_assert_msg(rc == 0, "loading %s: %s", rel, e.msg);
    return t;
}

static int *enc(const struct tokenizer *t, const char *s, size_t len, int bos, size_t *n)
{
    int *ids;
    struct qerr e = {0};
    ck_assert_msg(tok_encode(t, s, len, bos, &ids, n, &e) == 0, "encode: %s", e.msg);
    return ids;
}

/* Compare against "id id id" (the .out format); returns 1 when equal and
 * prints both sequences otherwise. */
static int same_ids(const int *ids, size_t n, const char *want, const char *what)
{
    size_t k = 0;
    const char *p = want;
    int ok = 1;
    char *end;
    for (long v = strtol(p, &end, 10); end != p; p = end, v = strtol(p, &end, 10))
        ok &= k < n && ids[k++] == v;
    ok &= k == n;
    if (!ok) {
        fprintf(stderr, "%s\n  want:%s\n  got: ", what, want);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    return ok;
}

/* ---- degenerate inputs ---- */

START_TEST(test_missing_and_truncated)
{
    struct tokenizer *t = (void *)1;
    struct qerr e = {0};
    ck_assert_int_eq(tok_load_llama2c(&t, "/nonexistent/tokenizer.bin", 512, &e), QERR_IO);
    ck_assert_ptr_null(t);
    ck_assert(strstr(e.msg, "/nonexistent/tokenizer.bin"));
    /* header + one token whose length runs past the end */
    unsigned char bad[16] = {100, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 'a', 'b'};
    const char *p = tu_tmpfile("trunc.bin");
    ck_assert_int_eq(tu_write_file(p, bad, 14), 0);
    ck_assert_int_eq(tok_load_llama2c(&t, p, 1, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "offset 12") && strstr(e.msg, "token 0"), "%s", e.msg);
    ck_assert_int_eq(tu_write_file(p, bad, 2), 0);
    ck_assert_int_eq(tok_load_llama2c(&t, p, 0, &e), QERR_FORMAT);
    ck_assert_int_eq(tok_load_file(&t, "/nonexistent/x.gguf", &e), QERR_IO);
}
END_TEST

/* Zero bytes are no tokenizer (they read as max_token_length 0 and
 * millions of empty pieces); a piece longer than max_token_length is
 * malformed; a device is refused, not read until memory runs out. */
START_TEST(test_llama2c_bounds)
{
    struct tokenizer *t = (void *)1;
    struct qerr e = {0};
    const char *p = tu_tmpfile("zeros.bin");
    size_t n = 1 << 20;
    char *z = calloc(n, 1);
    ck_assert_int_eq(tu_write_file(p, z, n), 0);
    free(z);
    ck_assert_int_eq(tok_load_llama2c(&t, p, 0, &e), QERR_FORMAT);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(e.msg, "max_token_length 0"), "%s", e.msg);
    ck_assert_int_eq(tok_load_file(&t, p, &e), QERR_FORMAT);
    unsigned char big[16] = {2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'};
    ck_assert_int_eq(tu_write_file(p, big, 15), 0);
    ck_assert_int_eq(tok_load_llama2c(&t, p, 0, &e), QERR_FORMAT); /* counted: none fits */
    ck_assert_int_eq(tok_load_llama2c(&t, p, 1, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "max_token_length 2"), "%s", e.msg);
    ck_assert_int_eq(tok_load_llama2c(&t, "/dev/zero", 0, &e), QERR_IO);
    ck_assert_msg(strstr(e.msg, "not a regular file"), "%s", e.msg);
    ck_assert_int_eq(tok_load_file(&t, "/dev/zero", &e), QERR_IO);
}
END_TEST

START_TEST(test_empty_and_invalid_utf8)
{
    struct tokenizer *t = load("models/tok512.bin");
    size_t n = 99;
    int *ids = enc(t, "", 0, 0, &n);
    ck_assert_uint_eq(n, 0);
    free(ids);
    ids = enc(t, "", 0, 1, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ids[0], tok_bos(t));
    free(ids);
    static const char *bad[] = {"abc\xff", "abc\xc3", "abc\xc0\xaf", "abc\xed\xa0\x80", "abc\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct qerr e = {0};
        ids = (int *)1;
        ck_assert_int_eq(tok_encode(t, bad[i], strlen(bad[i]), 1, &ids, &n, &e), QERR_FORMAT);
        ck_assert_msg(strstr(e.msg, "byte offset 3"), "case %zu: %s", i, e.msg);
        ck_assert_ptr_null(ids);
    }
    ck_assert_str_eq(tok_piece(t, -1), "");
    ck_assert_str_eq(tok_piece(t, 1 << 20), "");
    char buf[8];
    ck_assert_uint_eq(tok_decode(t, -1, -5, buf, sizeof buf), 0);
    tok_free(t);
    tok_free(NULL);
}
END_TEST

/* ---- llama.cpp's vectors ---- */

/* Run every case of ggml-vocab-NAME.gguf.inp/.out; all must match. */
static void run_vectors(const char *name, int min_cases)
{
    char rel[128];
    snprintf(rel, sizeof rel, "reference/tokenizer/ggml-vocab-%s.gguf", name);
    struct tokenizer *t = load(rel);
    size_t ni, no;
    snprintf(rel, sizeof rel, "reference/tokenizer/ggml-vocab-%s.gguf.inp", name);
    char *inp = slurp(tu_shared(rel), &ni);
    snprintf(rel, sizeof rel, "reference/tokenizer/ggml-vocab-%s.gguf.out", name);
    char *out = slurp(tu_shared(rel), &no);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *p = inp, *o = out;
    int cases = 0, failed = 0;
    for (char *q; (q = strstr(p, sep)); p = q + strlen(sep)) {
        char *eol = strchr(o, '\n');
        ck_assert_msg(eol, "%s: .out has fewer lines than .inp has cases", name);
        *eol = '\0';
        size_t n;
        int *ids = enc(t, p, (size_t)(q - p), 0, &n);
        char what[160];
        snprintf(what, sizeof what, "%s case %d \"%.*s\"", name, cases, (int)(q - p < 60 ? q - p : 60), p);
        failed += !same_ids(ids, n, o, what);
        free(ids);
        o = eol + 1;
        cases++;
    }
    ck_assert_msg(cases >= min_cases, "%s: only %d cases read", name, cases);
    ck_assert_msg(failed == 0, "%s: %d of %d cases differ from llama.cpp (listed above)", name,
                  failed, cases);
    free(inp);
    free(out);
    tok_free(t);
}

START_TEST(test_vectors_llama_spm) { run_vectors("llama-spm", 30); }
END_TEST
START_TEST(test_vectors_gpt2) { run_vectors("gpt-2", 30); }
END_TEST

/* ---- tok512.bin ---- */

START_TEST(test_tok512_known)
{
    struct tokenizer *t = load("models/tok512.bin");
    ck_assert_int_eq(tok_vocab_size(t), 512);
    ck_assert_int_eq(tok_bos(t), 1);
    ck_assert_int_eq(tok_eos(t), 2);
    ck_assert_str_eq(tok_piece(t, 1), "<s>");
    ck_assert_str_eq(tok_piece(t, 403), "\xe2\x96\x81Once");
    size_t n;
    const char *s = "Once upon a time, there was a little girl.\nHi";
    int *ids = enc(t, s, strlen(s), 1, &n);
    ck_assert(same_ids(ids, n, "1 403 407 261 378 432 383 286 261 376 298 315 421 426 13 440 417",
                       "tok512 sentence"));
    free(ids);
    /* byte fallback: U+4E2D has no piece, so its three bytes */
    ids = enc(t, "\xe4\xb8\xad", 3, 0, &n);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(tok_piece(t, ids[0]), "\xe2\x96\x81");
    ck_assert_str_eq(tok_piece(t, ids[1]), "<0xE4>");
    ck_assert_str_eq(tok_piece(t, ids[2]), "<0xB8>");
    ck_assert_str_eq(tok_piece(t, ids[3]), "<0xAD>");
    free(ids);
    tok_free(t);
}
END_TEST

/* Decode a sequence the way a generator prints it. */
static char *decode_all(const struct tokenizer *t, const int *ids, size_t n, size_t *len)
{
    size_t cap = 16 * n + 16, k = 0;
    char *s = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        size_t m = tok_decode(t, i ? ids[i - 1] : -1, ids[i], s + k, cap - k);
        ck_assert(m < cap - k);
        k += m;
    }
    *len = k;
    return s;
}

static void roundtrip(const struct tokenizer *t, const char *text, size_t len, int bos)
{
    size_t n, k;
    int *ids = enc(t, text, len, bos, &n);
    char *back = decode_all(t, ids, n, &k);
    /* SPM without BOS keeps the space it prefixed */
    size_t skip = tok_kind(t) == TOK_SPM && !bos;
    ck_assert_msg(k == len + skip && !memcmp(back + skip, text, len),
                  "round trip differs for \"%.40s\" (%zu vs %zu bytes)", text, k, len);
    free(back);
    free(ids);
}

START_TEST(test_roundtrip)
{
    static const char *texts[] = {"Hello world", "  two  spaces\n\ttab", "caf\xc3\xa9 \xf0\x9f\x98\x80 !",
                                  "\n", "Once upon a time"};
    const char *toks[] = {"models/tok512.bin", "reference/tokenizer/ggml-vocab-llama-spm.gguf",
                          "reference/tokenizer/ggml-vocab-gpt-2.gguf"};
    for (int j = 0; j < 3; j++) {
        struct tokenizer *t = load(toks[j]);
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            roundtrip(t, texts[i], strlen(texts[i]), 1);
            roundtrip(t, texts[i], strlen(texts[i]), 0);
        }
        tok_free(t);
    }
}
END_TEST

/* The llama2.c file and the GGUF carry one vocabulary: identical ids on the
 * whole evaluation texts (what perplexity tokenizes in one call). */
START_TEST(test_bin_vs_gguf_texts)
{
    struct tokenizer *a = load("models/tok512.bin"), *b = load("models/stories260K.gguf");
    const char *texts[] = {"data/tinystories-eval.txt", "data/moby-dick-100k.txt"};
    /* llama-perplexity's chunk counts at n_ctx 128 and 512
     * (reference/llamacpp_ppl.json) bound the token count llama.cpp saw */
    const size_t chunks128[] = {1212, 448}, chunks512[] = {303, 112};
    for (int i = 0; i < 2; i++) {
        size_t len, na, nb;
        char *s = slurp(tu_shared(texts[i]), &len);
        int *ia = enc(a, s, len, 1, &na), *ib = enc(b, s, len, 1, &nb);
        ck_assert_msg(na == nb, "%s: %zu vs %zu tokens", texts[i], na, nb);
        ck_assert_msg(na / 128 == chunks128[i] && na / 512 == chunks512[i],
                      "%s: %zu tokens disagree with llama.cpp's chunk counts", texts[i], na);
        for (size_t k = 0; k < na; k++)
            ck_assert_msg(ia[k] == ib[k], "%s: token %zu: %d vs %d", texts[i], k, ia[k], ib[k]);
        size_t back;
        char *d = decode_all(a, ia, na, &back);
        ck_assert_msg(back == len && !memcmp(d, s, len), "%s: decode differs", texts[i]);
        free(d);
        free(ia);
        free(ib);
        free(s);
    }
    tok_free(a);
    tok_free(b);
}
END_TEST

/* ---- fast (priority queue) vs plain reference loop ---- */

static void fast_vs_ref(const struct tokenizer *t, const char *s, size_t len, const char *what)
{
    struct tok_vec a = {0}, b = {0};
    int (*fast)(const struct tokenizer *, const char *, size_t, struct tok_vec *) =
        tok_kind(t) == TOK_SPM ? tok_spm_encode : tok_bpe_encode;
    int (*ref)(const struct tokenizer *, const char *, size_t, struct tok_vec *) =
        tok_kind(t) == TOK_SPM ? tok_spm_encode_ref : tok_bpe_encode_ref;
    ck_assert_int_eq(fast(t, s, len, &a), 0);
    ck_assert_int_eq(ref(t, s, len, &b), 0);
    ck_assert_msg(a.n == b.n, "%s: fast %zu tokens, ref %zu", what, a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        ck_assert_msg(a.v[i] == b.v[i], "%s: token %zu: fast %d, ref %d", what, i, a.v[i], b.v[i]);
    free(a.v);
    free(b.v);
}

START_TEST(test_fast_vs_ref)
{
    const char *toks[] = {"models/tok512.bin", "reference/tokenizer/ggml-vocab-llama-spm.gguf",
                          "reference/tokenizer/ggml-vocab-gpt-2.gguf"};
    size_t len, ilen;
    char *moby = slurp(tu_shared("data/moby-dick-100k.txt"), &len);
    char *inp = slurp(tu_shared("reference/tokenizer/ggml-vocab-llama-spm.gguf.inp"), &ilen);
    for (int j = 0; j < 3; j++) {
        struct tokenizer *t = load(toks[j]);
        fast_vs_ref(t, moby, 6000, toks[j]);   /* O(n^2) ref: keep it short */
        fast_vs_ref(t, inp, ilen, toks[j]);
        fast_vs_ref(t, "a", 1, toks[j]);
        tok_free(t);
    }
    free(moby);
    free(inp);
}
END_TEST

/* ---- Unicode tables and the GPT-2 byte map ---- */

START_TEST(test_unicode_and_byte_map)
{
    for (int b = 0; b < 256; b++) { /* bytes_to_unicode is a bijection */
        uint32_t cp = tok_byte_to_cp((unsigned char)b);
        ck_assert_msg(cp < 324 && tok_cp_to_byte(cp) == b, "byte %d -> U+%04X", b, cp);
    }
    ck_assert_uint_eq(tok_byte_to_cp(' '), 0x120);   /* the famous G-dot */
    ck_assert_uint_eq(tok_byte_to_cp('\n'), 0x10A);
    ck_assert_int_eq(tok_cp_to_byte(0x144), -1);     /* past the 68 mapped */
    ck_assert_uint_eq(ucp_flags('A'), UCP_LETTER | UCP_UPPERISH);
    ck_assert_uint_eq(ucp_flags('a'), UCP_LETTER | UCP_LOWERISH);
    ck_assert_uint_eq(ucp_flags(0x1C5), UCP_LETTER | UCP_UPPERISH); /* Dz digraph: Lt */
    ck_assert_uint_eq(ucp_flags('7'), UCP_NUMBER);
    ck_assert_uint_eq(ucp_flags('\n'), UCP_CONTROL | UCP_SPACE);
    ck_assert_uint_eq(ucp_flags(0xA0), UCP_SEPARATOR | UCP_SPACE);  /* NBSP */
    ck_assert_uint_eq(ucp_flags(0x4E2D), UCP_LETTER | UCP_UPPERISH | UCP_LOWERISH); /* CJK: Lo */
    ck_assert_uint_eq(ucp_flags(0x0663), UCP_NUMBER);              /* Arabic-Indic 3 */
    ck_assert_uint_eq(ucp_flags(0x0301), UCP_ACCENT | UCP_UPPERISH | UCP_LOWERISH); /* acute: Mn */
    ck_assert_uint_eq(ucp_flags(0x3000), UCP_SEPARATOR | UCP_SPACE);
    ck_assert_uint_eq(ucp_flags(0x1F600), UCP_SYMBOL);             /* emoji */
    ck_assert_uint_eq(ucp_flags(0x10FFFF), UCP_UNDEF);
    ck_assert_uint_eq(ucp_flags(0x110000), UCP_UNDEF);
    uint32_t cp;
    ck_assert_uint_eq(ucp_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
    ck_assert_uint_eq(cp, 0x1F600);
    ck_assert_uint_eq(ucp_decode((const unsigned char *)"\xf0\x9f\x98", 3, &cp), 0);
    ck_assert_uint_eq(ucp_validate("ok\xe2\x96", 4), 2);
    char buf[4];
    ck_assert_uint_eq(ucp_encode(0x2581, buf), 3);
    ck_assert_int_eq(memcmp(buf, "\xe2\x96\x81", 3), 0);
}
END_TEST

/* ---- pre-tokenizers ---- */

struct words { char buf[512]; size_t k; const char *text; };

static int collect(void *ctx, size_t start, size_t len)
{
    struct words *w = ctx;
    w->k += (size_t)snprintf(w->buf + w->k, sizeof w->buf - w->k, "[%.*s]", (int)len, w->text + start);
    return 0;
}

static void check_split(enum tok_pre pre, const char *text, const char *want)
{
    struct words w = {.text = text};
    ck_assert_int_eq(tok_pretokenize(pre, text, strlen(text), collect, &w), 0);
    ck_assert_msg(!strcmp(w.buf, want), "pre %d on \"%s\":\n  want %s\n  got  %s", pre, text, want, w.buf);
}

START_TEST(test_pretokenizers)
{
    const char *s = "I'm 12345 OK!!\n\n  x";
    check_split(PRE_GPT2, s, "[I]['m][ 12345][ OK][!!][\n\n ][ x]");
    check_split(PRE_LLAMA3, s, "[I]['m][ ][123][45][ OK][!!\n\n][ ][ x]");
    check_split(PRE_QWEN2, s, "[I]['m][ ][1][2][3][4][5][ OK][!!\n\n][ ][ x]");
    check_split(PRE_DEFAULT, s, "[I]['][m][ ][123][45][ OK][!!][\n\n ][ x]");
    check_split(PRE_LLAMA3, "DON'T  \r\n", "[DON]['T][  \r\n]");
    check_split(PRE_GPT2, "DON'T", "[DON]['][T]");
    check_split(PRE_GPT2, "\xd0\xbf\xd1\x80\xd0\xb8 \xd0\xb2\xd0\xb5\xd1\x82", /* Cyrillic letters */
                "[\xd0\xbf\xd1\x80\xd0\xb8][ \xd0\xb2\xd0\xb5\xd1\x82]");
    check_split(PRE_GPT2, "", "");
}
END_TEST

/* ---- GGUF vocabularies written by the test ---- */

/* A vocab-only GGUF: tokens a b c abc, optional scores/merges/pre. */
static const char *write_vocab(const char *name, const char *model, const char *pre,
                               int n_scores, int merges)
{
    static const char *const toks[] = {"a", "b", "c", "abc"};
    static const char *const mg[] = {"a b"};
    const float scores[4] = {-1, -2, -3, -4};
    struct gguf_writer *w = gguf_writer_new(3);
    gguf_writer_add_str(w, "tokenizer.ggml.model", model);
    if (pre)
        gguf_writer_add_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", toks, 4);
    if (n_scores)
        gguf_writer_add_array(w, "tokenizer.ggml.scores", GGUF_T_F32, scores, (uint64_t)n_scores);
    if (merges)
        gguf_writer_add_str_array(w, "tokenizer.ggml.merges", mg, 1);
    const char *p = tu_tmpfile(name);
    struct qerr e = {0};
    ck_assert_msg(gguf_writer_save(w, p, &e) == 0, "%s", e.msg);
    gguf_writer_free(w);
    return p;
}

static void expect_load_error(const char *path, int code, const char *needle)
{
    struct tokenizer *t = (void *)1;
    struct qerr e = {0};
    ck_assert_int_eq(tok_load_file(&t, path, &e), code);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(e.msg, needle) && strstr(e.msg, path), "message \"%s\" lacks %s", e.msg, needle);
}

START_TEST(test_gguf_vocab_errors)
{
    expect_load_error(write_vocab("s.gguf", "llama", NULL, 3, 0), QERR_FORMAT, "tokenizer.ggml.scores");
    expect_load_error(write_vocab("b.gguf", "bert", NULL, 4, 0), QERR_UNSUPP, "bert");
    expect_load_error(write_vocab("p.gguf", "gpt2", "no-such-pre", 0, 1), QERR_UNSUPP, "no-such-pre");
    expect_load_error(write_vocab("m.gguf", "gpt2", "gpt-2", 0, 0), QERR_FORMAT, "tokenizer.ggml.merges");
    struct gguf_writer *w = gguf_writer_new(3);
    gguf_writer_add_str(w, "general.architecture", "llama");
    const char *p = tu_tmpfile("empty.gguf");
    struct qerr e = {0};
    ck_assert_int_eq(gguf_writer_save(w, p, &e), 0);
    gguf_writer_free(w);
    expect_load_error(p, QERR_FORMAT, "tokenizer.ggml.tokens");
}
END_TEST

/* llama3 looks a whole word up before merging (ignore_merges); gpt-2 does
 * not, so the same vocab gives [abc] for llama3 and [a][b][c] for gpt-2 (the
 * only merge makes "ab", no token, which falls back to its single bytes). */
START_TEST(test_gguf_ignore_merges)
{
    struct tokenizer *t;
    struct qerr e = {0};
    size_t n;
    ck_assert_msg(tok_load_file(&t, write_vocab("l3.gguf", "gpt2", "llama-bpe", 0, 1), &e) == 0, "%s", e.msg);
    ck_assert_str_eq(tok_name(t), "bpe/llama-bpe");
    ck_assert_int_eq(tok_add_bos_default(t), 0);
    int *ids = enc(t, "abc", 3, 0, &n);
    ck_assert(same_ids(ids, n, "3", "llama3 ignore_merges"));
    free(ids);
    tok_free(t);
    ck_assert_msg(tok_load_file(&t, write_vocab("g2.gguf", "gpt2", "gpt-2", 0, 1), &e) == 0, "%s", e.msg);
    ids = enc(t, "abc", 3, 0, &n); /* "ab" is no token: its bytes, then c */
    ck_assert(same_ids(ids, n, "0 1 2", "gpt-2 merges"));
    free(ids);
    tok_free(t);
}
END_TEST

/* The tokenizer that comes with an opened model, both formats. */
START_TEST(test_load_for_model)
{
    const char *models[] = {"models/stories260K.bin", "models/stories260K.gguf"};
    int *ids[2];
    size_t n[2];
    for (int i = 0; i < 2; i++) {
        struct qmodel m;
        struct tokenizer *t;
        struct qerr e = {0};
        ck_assert_msg(qmodel_open(&m, tu_shared(models[i]), &e) == 0, "%s", e.msg);
        ck_assert_msg(tok_load_for_model(&t, &m, &e) == 0, "%s: %s", models[i], e.msg);
        ck_assert_int_eq(tok_vocab_size(t), m.cfg.vocab_size);
        ids[i] = enc(t, "Tom had a red ball.", 19, 1, &n[i]);
        tok_free(t);
        qmodel_close(&m);
    }
    ck_assert_uint_eq(n[0], n[1]);
    ck_assert_int_eq(memcmp(ids[0], ids[1], n[0] * sizeof(int)), 0);
    free(ids[0]);
    free(ids[1]);
}
END_TEST

/* ---- tokenizer.json ---- */

static const char hf_json[] =
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":9,\"content\":\"<|endoftext|>\",\"special\":true},"
    "{\"id\":10,\"content\":\"<x>\",\"special\":false}],"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
    "\"decoder\":{\"type\":\"ByteLevel\"},"
    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"\\u0120\":3,\"ab\":4,"
    "\"\\u0120a\":5,\"\\u0120ab\":6,\"abc\":7,\"bc\":8},"
    "\"merges\":[\"a b\",[\"\\u0120\",\"ab\"],\"\\u0120 a\",\"ab c\",\"b c\"]}}";

START_TEST(test_hf_json)
{
    const char *p = tu_tmpfile("tokenizer.json");
    ck_assert_int_eq(tu_write_file(p, hf_json, strlen(hf_json)), 0);
    struct tokenizer *t;
    struct qerr e = {0};
    ck_assert_msg(tok_load_hf_json(&t, p, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tok_vocab_size(t), 11);
    ck_assert_int_eq(tok_kind(t), TOK_BPE);
    ck_assert_int_eq(tok_eos(t), 9);
    size_t n;
    /* "abc ab": words "abc" and " ab"; ranks: a b(0) then ab c(3) -> abc;
     * " ab": Ġ a(2) vs a b(0): a b first, then Ġ ab(1) -> Ġab */
    int *ids = enc(t, "abc ab", 6, 0, &n);
    ck_assert(same_ids(ids, n, "7 6", "hf json"));
    free(ids);
    ids = enc(t, "cb", 2, 0, &n); /* no merge applies */
    ck_assert(same_ids(ids, n, "2 1", "hf json no merge"));
    free(ids);
    /* every added token is cut out first (Hugging Face); in compat mode
     * only the user-defined (non-special) ones, a special one is plain
     * text, as llama.cpp does with parse_special off */
    ids = enc(t, "abc<x>ab<x><x>", 14, 0, &n);
    ck_assert(same_ids(ids, n, "7 10 4 10 10", "hf json user token"));
    free(ids);
    ck_assert_str_eq(tok_mode(t), "huggingface");
    ck_assert_str_eq(tok_family(t), "gpt-2");
    ck_assert_str_eq(tok_normalizer_desc(t), "none");
    ids = enc(t, "ab<|endoftext|>", 15, 0, &n);
    ck_assert(same_ids(ids, n, "4 9", "hf json special token"));
    free(ids);
    tok_set_llamacpp_compat(t, 1);
    ck_assert_str_eq(tok_mode(t), "llama.cpp");
    ids = enc(t, "ab<|endoftext|>", 15, 0, &n);
    /* "<|endoftext|>" is text: none of its bytes is in this vocabulary */
    ck_assert(same_ids(ids, n, "4", "hf json special text, compat"));
    free(ids);
    tok_set_llamacpp_compat(t, 0);
    char buf[8];
    ck_assert_uint_eq(tok_decode(t, -1, 6, buf, sizeof buf), 3);
    ck_assert_str_eq(buf, " ab");
    tok_free(t);
    /* errors: not JSON, not BPE */
    ck_assert_int_eq(tu_write_file(p, "{\"model\":", 9), 0);
    ck_assert_int_eq(tok_load_hf_json(&t, p, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "offset"), "%s", e.msg);
    const char *uni = "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}";
    ck_assert_int_eq(tu_write_file(p, uni, strlen(uni)), 0);
    ck_assert_int_eq(tok_load_hf_json(&t, p, &e), QERR_UNSUPP);
    /* one huge id must not size the vocabulary (nor overflow n at INT_MAX) */
    const char *huge[] = {
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":2147483647},\"merges\":[]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},"
        "\"added_tokens\":[{\"id\":100000000,\"content\":\"x\"}]}"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tu_write_file(p, huge[i], strlen(huge[i])), 0);
        ck_assert_int_eq(tok_load_hf_json(&t, p, &e), QERR_FORMAT);
        ck_assert_msg(strstr(e.msg, "an id is 16777216 or more"), "%s", e.msg);
    }
}
END_TEST

/* Byte-level tokenizer.json variants: pre_tokenizer and post_processor. */
static struct tokenizer *bl_json(const char *pre, const char *post)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"added_tokens\":[{\"id\":10,\"content\":\"<|begin_of_text|>\",\"special\":true}],"
             "\"pre_tokenizer\":%s,\"post_processor\":%s,\"decoder\":{\"type\":\"ByteLevel\"},"
             "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"\\u0120\":3,"
             "\"ab\":4,\"\\u0120a\":5,\"\\u0120ab\":6,\"abc\":7,\"bc\":8,\"c\\u0120\":9},"
             "\"merges\":[\"c \\u0120\",\"a b\",\"\\u0120 ab\",\"\\u0120 a\"]}}", pre, post);
    const char *p = tu_tmpfile("bl.json");
    ck_assert_int_eq(tu_write_file(p, buf, strlen(buf)), 0);
    struct tokenizer *t;
    struct qerr e = {0};
    ck_assert_msg(tok_load_hf_json(&t, p, &e) == 0, "%s", e.msg);
    return t;
}

START_TEST(test_hf_json_bytelevel_variants)
{
    size_t n;
    /* Llama-3 layout: Split(regex) + ByteLevel(use_regex false), BOS from a
     * TemplateProcessing inside a Sequence */
    struct tokenizer *t = bl_json(
        "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
        "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
        "\"behavior\":\"Isolated\"},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]}",
        "{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\"},{\"type\":\"TemplateProcessing\","
        "\"single\":[{\"SpecialToken\":{\"id\":\"<|begin_of_text|>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\"}}]}]}");
    ck_assert_str_eq(tok_name(t), "bpe/llama3");
    ck_assert_int_eq(tok_bos(t), 10);
    ck_assert_int_eq(tok_add_bos_default(t), 1);
    int *ids = enc(t, "c ab", 4, 1, &n); /* words "c", " ab" */
    ck_assert(same_ids(ids, n, "10 2 6", "llama3 json"));
    free(ids);
    tok_free(t);
    /* ByteLevel without regex: one word, so "c\u0120" merges across it */
    t = bl_json("{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}", "null");
    ck_assert_str_eq(tok_name(t), "bpe/none");
    ids = enc(t, "c ab", 4, 0, &n);
    ck_assert(same_ids(ids, n, "9 4", "no-regex json"));
    free(ids);
    tok_free(t);
    /* add_prefix_space: "ab" is encoded as " ab" */
    t = bl_json("{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}", "null");
    ck_assert_str_eq(tok_name(t), "bpe/gpt-2");
    ids = enc(t, "ab", 2, 0, &n);
    ck_assert(same_ids(ids, n, "6", "add_prefix_space json"));
    free(ids);
    ids = enc(t, " ab", 3, 0, &n); /* no second space */
    ck_assert(same_ids(ids, n, "6", "add_prefix_space json, leading space"));
    free(ids);
    tok_free(t);
}
END_TEST

/* SentencePiece-style tokenizer.json (Llama-2 on HF): U+2581 normalizer,
 * merges by rank, byte fallback; Metaspace(split) keeps merges in words. */
static struct tokenizer *spm_json(const char *norm_pre, const char *fallback)
{
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true},"
             "{\"id\":11,\"content\":\"<x>\",\"special\":false}],%s,"
             "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":%s,"
             "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"\u2581\":3,\"a\":4,\"b\":5,"
             "\"\u2581a\":6,\"ab\":7,\"\u2581ab\":8,\"<0x0A>\":9,\"b\u2581\":10},"
             "\"merges\":[\"b \u2581\",\"\u2581 a\",\"a b\",\"\u2581a b\"]}}", norm_pre, fallback);
    const char *p = tu_tmpfile("spm.json");
    ck_assert_int_eq(tu_write_file(p, buf, strlen(buf)), 0);
    struct tokenizer *t;
    struct qerr e = {0};
    ck_assert_msg(tok_load_hf_json(&t, p, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tok_kind(t), TOK_SPM);
    return t;
}

START_TEST(test_hf_json_spm)
{
    static const char *norm =
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\","
        "\"prepend\":\"\u2581\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},"
        "\"content\":\"\u2581\"}]}";
    static const char *meta =
        "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\u2581\","
        "\"prepend_scheme\":\"first\",\"split\":true}";
    size_t n;
    struct tokenizer *t = spm_json(norm, "true");
    int *ids = enc(t, "ab ab\n", 6, 1, &n);
    /* one word: "b U+2581" (rank 0) merges first, so the first "ab" never
     * forms: [U+2581 a][b U+2581][ab][<0x0A>] */
    ck_assert(same_ids(ids, n, "1 6 10 7 9", "spm json, normalizer"));
    char buf[8];
    ck_assert_uint_eq(tok_decode(t, 1, 6, buf, sizeof buf), 1); /* space after BOS dropped */
    ck_assert_str_eq(buf, "a");
    ck_assert_uint_eq(tok_decode(t, 9, 9, buf, sizeof buf), 1);
    ck_assert_int_eq(buf[0], '\n');
    free(ids);
    tok_free(t);
    t = spm_json(meta, "true");
    ids = enc(t, "ab ab\n", 6, 1, &n);
    ck_assert(same_ids(ids, n, "1 8 8 9", "spm json, Metaspace split"));
    free(ids);
    /* prepend_scheme "first": Hugging Face adds the U+2581 to the first
     * section only; llama.cpp (compat) adds its space after a token again */
    ids = enc(t, "ab<x>ab", 7, 0, &n);
    ck_assert(same_ids(ids, n, "8 11 7", "spm json, user token"));
    free(ids);
    tok_set_llamacpp_compat(t, 1);
    ids = enc(t, "ab<x>ab", 7, 0, &n);
    ck_assert(same_ids(ids, n, "8 11 8", "spm json, user token, compat"));
    free(ids);
    tok_free(t);
    t = spm_json(meta, "false");
    ids = enc(t, "ab ab\n", 6, 0, &n);
    ck_assert(same_ids(ids, n, "8 8 0", "spm json, no byte fallback -> unk"));
    free(ids);
    tok_free(t);
}
END_TEST

/* A byte-level tokenizer.json with the given normalizer and pre-tokenizer
 * and the vocabulary of bl_json; returns the load status. */
static int bl_load(const char *norm, const char *pre, struct tokenizer **t, struct qerr *e)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"normalizer\":%s,\"pre_tokenizer\":%s,\"decoder\":{\"type\":\"ByteLevel\"},"
             "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"\\u00c3\":2,\"\\u00a9\":3,"
             "\"\\u00c3\\u00a9\":4,\"e\":5,\"\\u00cc\":6,\"\\u0123\":7},"
             "\"merges\":[\"\\u00c3 \\u00a9\"]}}", norm, pre);
    const char *p = tu_tmpfile("fam.json");
    ck_assert_int_eq(tu_write_file(p, buf, strlen(buf)), 0);
    return tok_load_hf_json(t, p, e);
}

static const char o200k_pre[] =
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
    "\"[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?[\\\\p{Lu}\\\\p{Lt}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]*"
    "[\\\\p{Ll}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\\\r\\\\n\\\\p{L}"
    "\\\\p{N}]?[\\\\p{Lu}\\\\p{Lt}\\\\p{Lm}\\\\p{Lo}\\\\p{M}]+[\\\\p{Ll}\\\\p{Lm}\\\\p{Lo}"
    "\\\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n/]*|"
    "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]}";

/* Families by full structure: the exact regex is the o200k family, one
 * character less is refused by name; NFC is applied, or not in compat. */
START_TEST(test_hf_json_families)
{
    struct tokenizer *t;
    struct qerr e = {0};
    ck_assert_msg(bl_load("{\"type\":\"NFC\"}", o200k_pre, &t, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(tok_name(t), "bpe/o200k");
    ck_assert_str_eq(tok_family(t), "o200k");
    ck_assert_str_eq(tok_normalizer_desc(t), "NFC");
    ck_assert_str_eq(tok_pretok_desc(t), "Split(o200k) + ByteLevel(no regex)");
    size_t n;
    int *ids = enc(t, "e\xcc\x81", 3, 0, &n); /* NFC: U+00E9 = bytes C3 A9 -> one merge */
    ck_assert(same_ids(ids, n, "4", "NFC then BPE"));
    free(ids);
    tok_set_llamacpp_compat(t, 1); /* no NFC: e, CC, 81 (0x81 -> U+0123) */
    ids = enc(t, "e\xcc\x81", 3, 0, &n);
    ck_assert(same_ids(ids, n, "5 6 7", "compat: no NFC"));
    free(ids);
    tok_free(t);
    /* the same regex without its last "+": not a family, named in the error */
    char pre[sizeof o200k_pre];
    snprintf(pre, sizeof pre, "%s", o200k_pre);
    char *plus = strstr(pre, "\\\\s+\"}");
    ck_assert_ptr_nonnull(plus);
    memmove(plus + 3, plus + 4, strlen(plus + 4) + 1); /* drop the "+" */
    ck_assert_int_eq(bl_load("null", pre, &t, &e), QERR_UNSUPP);
    ck_assert_msg(strstr(e.msg, "pre_tokenizer step 0: Split regex \"[^\\r\\n"), "%s", e.msg);
    /* a ByteLevel with its gpt-2 regex after a Split is no family either */
    const char *two = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                      "{\"Regex\":\"\\\\p{N}{1,3}\"},\"behavior\":\"Isolated\"},{\"type\":\"ByteLevel\"}]}";
    ck_assert_int_eq(bl_load("null", two, &t, &e), QERR_UNSUPP);
    ck_assert_msg(strstr(e.msg, "is no family"), "%s", e.msg);
    ck_assert_int_eq(bl_load("{\"type\":\"Strip\"}", "null", &t, &e), QERR_UNSUPP);
    ck_assert_msg(strstr(e.msg, "normalizer \"Strip\" is not implemented"), "%s", e.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_missing_and_truncated);
    tcase_add_test(tc, test_llama2c_bounds);
    tcase_add_test(tc, test_empty_and_invalid_utf8);
    tcase_add_test(tc, test_vectors_llama_spm);
    tcase_add_test(tc, test_vectors_gpt2);
    tcase_add_test(tc, test_tok512_known);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_fast_vs_ref);
    tcase_add_test(tc, test_bin_vs_gguf_texts);
    tcase_add_test(tc, test_unicode_and_byte_map);
    tcase_add_test(tc, test_pretokenizers);
    tcase_add_test(tc, test_gguf_vocab_errors);
    tcase_add_test(tc, test_gguf_ignore_merges);
    tcase_add_test(tc, test_load_for_model);
    tcase_add_test(tc, test_hf_json);
    tcase_add_test(tc, test_hf_json_spm);
    tcase_add_test(tc, test_hf_json_bytelevel_variants);
    tcase_add_test(tc, test_hf_json_families);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
