/* check_safetensors: single, sharded and directory layouts, F32/F16/BF16,
 * HF config.json, name mapping, malformed headers; and a cross-format check
 * against GGUF and llama2.c files of the same generated model. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/gguf_write.h"
#include "src/half.h"
#include "src/model.h"
#include "tests/testutil.h"

/* The small model: dim 8, hidden 16, 1 layer, 2 heads (head_dim 4), 1 kv
 * head, vocab 4. */
static const struct {
    const char *hf, *canon;
    int64_t rows, cols;  /* rows 0: vector */
} T[] = {
    {"model.embed_tokens.weight", "token_embd", 4, 8},
    {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm", 0, 8},
    {"model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q", 8, 8},
    {"model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k", 4, 8},
    {"model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v", 4, 8},
    {"model.layers.0.self_attn.o_proj.weight", "blk.0.attn_output", 8, 8},
    {"model.layers.0.post_attention_layernorm.weight", "blk.0.ffn_norm", 0, 8},
    {"model.layers.0.mlp.gate_proj.weight", "blk.0.ffn_gate", 16, 8},
    {"model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up", 16, 8},
    {"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down", 8, 16},
    {"model.norm.weight", "output_norm", 0, 8},
    {"lm_head.weight", "output", 4, 8},
    {"model.layers.0.self_attn.q_proj.bias", "blk.0.attn_q_bias", 0, 8},
    {"model.layers.0.self_attn.k_proj.bias", "blk.0.attn_k_bias", 0, 4},
    {"model.layers.0.self_attn.v_proj.bias", "blk.0.attn_v_bias", 0, 4},
};
#define NT 12      /* without the biases */
#define NT_BIAS 15

static int64_t nel(int i) { return T[i].rows ? T[i].rows * T[i].cols : T[i].cols; }

/* Value j of tensor i: exact in f16 and bf16. */
static float val(int i, int64_t j) { return (float)((i * 29 + j) % 200 - 100) / 8.0f; }

static const char *DTN[3] = {"F32", "F16", "BF16"};

static void write_config(const char *dir, const char *arch, const char *extra)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    fprintf(f, "{\"architectures\":[\"%s\"],\"hidden_size\":8,\"intermediate_size\":16,"
               "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
               "\"vocab_size\":4,\"max_position_embeddings\":64,\"rope_theta\":1000000.0,"
               "\"rms_norm_eps\":1e-06%s}", arch, extra);
    fclose(f);
}

/* Tensors [first, last) of T into one file; `skip` (index) left out. */
static void write_st(const char *path, int first, int last, int dt, int skip)
{
    char js[8192];
    size_t n = (size_t)snprintf(js, sizeof js, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0, esz = dt ? 2 : 4;
    for (int i = first; i < last; i++) {
        if (i == skip)
            continue;
        n += (size_t)snprintf(js + n, sizeof js - n, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", T[i].hf, DTN[dt]);
        if (T[i].rows)
            n += (size_t)snprintf(js + n, sizeof js - n, "%lld,", (long long)T[i].rows);
        n += (size_t)snprintf(js + n, sizeof js - n, "%lld],\"data_offsets\":[%llu,%llu]}",
                              (long long)T[i].cols, (unsigned long long)off,
                              (unsigned long long)(off + esz * (uint64_t)nel(i)));
        off += esz * (uint64_t)nel(i);
    }
    n += (size_t)snprintf(js + n, sizeof js - n, "}");
    FILE *f = fopen(path, "wb");
    uint64_t hl = n;
    fwrite(&hl, 8, 1, f);
    fwrite(js, 1, n, f);
    for (int i = first; i < last; i++)
        for (int64_t j = 0; i != skip && j < nel(i); j++) {
            float v = val(i, j);
            uint16_t h = dt == 1 ? f32_to_f16(v) : f32_to_bf16(v);
            if (dt == 0)
                fwrite(&v, 4, 1, f);
            else
                fwrite(&h, 2, 1, f);
        }
    fclose(f);
}

static void wstr(const char *path, const char *s) { ck_assert_int_eq(tu_write_file(path, s, strlen(s)), 0); }

static const char *fresh_dir(const char *name)
{
    const char *d = tu_tmpfile(name);
    mkdir(d, 0755);
    return d;
}

static void check_values(struct qmodel *m, int ntensors)
{
    for (int i = 0; i < ntensors; i++) {
        int k = qmodel_find(m, T[i].canon);
        ck_assert_msg(k >= 0, "%s missing", T[i].canon);
        struct qtensor *t = &m->tensors[k];
        ck_assert_str_eq(t->src_name, T[i].hf);
        ck_assert_int_eq(t->nelem, nel(i));
        ck_assert_int_eq(t->ndim, T[i].rows ? 2 : 1);
        ck_assert_int_eq(t->shape[0], T[i].rows ? T[i].rows : T[i].cols);
        const float *x = qtensor_f32(t);
        for (int64_t j = 0; j < nel(i); j++)
            ck_assert_msg(x[j] == val(i, j), "%s[%lld]: %g vs %g", T[i].canon, (long long)j, x[j], val(i, j));
    }
}

static void open_ok(struct qmodel *m, const char *p)
{
    struct qerr e = {0};
    ck_assert_msg(qmodel_open(m, p, &e) == 0, "%s: %s", p, e.msg);
}

static void open_fails(const char *p, int code, const char *what)
{
    struct qmodel m;
    struct qerr e = {0};
    int rc = qmodel_open(&m, p, &e);
    ck_assert_msg(rc == code, "rc %d (want %d): %s", rc, code, e.msg);
    ck_assert_msg(strstr(e.msg, what), "no '%s' in: %s", what, e.msg);
}

/* ---- layouts ---- */

START_TEST(test_single_dtypes)
{
    for (int dt = 0; dt < 3; dt++) {
        const char *d = fresh_dir(dt == 0 ? "s32" : dt == 1 ? "s16" : "sb16");
        write_config(d, "LlamaForCausalLM", "");
        char p[4096];
        snprintf(p, sizeof p, "%s/model.safetensors", d);
        write_st(p, 0, NT, dt, -1);
        struct qmodel m;
        for (int how = 0; how < 2; how++) {  /* the file, and the directory */
            open_ok(&m, how ? d : p);
            const struct qconfig *c = &m.cfg;
            ck_assert_int_eq(m.format, QF_SAFETENSORS);
            ck_assert_str_eq(c->arch, "llama");
            ck_assert(c->dim == 8 && c->hidden_dim == 16 && c->n_layers == 1 && c->n_heads == 2);
            ck_assert(c->n_kv_heads == 1 && c->head_dim == 4 && c->vocab_size == 4 && c->ctx_len == 64);
            ck_assert(c->rope_theta == 1e6f && c->norm_eps == 1e-6f && !c->tied_output);
            ck_assert(c->rope_style == QROPE_HALF && !c->has_qkv_bias);
            ck_assert_ptr_null(m.tokenizer_path);
            ck_assert_int_eq(m.tensors[0].dtype, (enum qdtype)dt);
            check_values(&m, NT);
            qmodel_close(&m);
        }
    }
}
END_TEST

START_TEST(test_tied_and_tokenizer)
{
    const char *d = fresh_dir("tied");
    write_config(d, "MistralForCausalLM", ",\"tie_word_embeddings\":true");
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    write_st(p, 0, NT, 0, -1);  /* lm_head present but tied: dropped */
    snprintf(p, sizeof p, "%s/tokenizer.json", d);
    wstr(p, "{}");
    struct qmodel m;
    open_ok(&m, d);
    ck_assert_str_eq(m.cfg.arch, "mistral");
    ck_assert(m.cfg.tied_output && qmodel_find(&m, "output") < 0);
    ck_assert_str_eq(m.tokenizer_path, p);
    qmodel_close(&m);

    d = fresh_dir("nohead");
    write_config(d, "LlamaForCausalLM", "");
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    write_st(p, 0, NT - 1, 0, -1);  /* no lm_head, no tie flag: tied anyway */
    open_ok(&m, p);
    ck_assert(m.cfg.tied_output);
    check_values(&m, NT - 1);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_qwen2_bias_and_model_type)
{
    const char *d = fresh_dir("qwen");
    write_config(d, "Qwen2ForCausalLM", "");
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    write_st(p, 0, NT_BIAS, 2, -1);
    struct qmodel m;
    open_ok(&m, p);
    ck_assert_str_eq(m.cfg.arch, "qwen2");
    ck_assert(m.cfg.has_qkv_bias);
    check_values(&m, NT_BIAS);
    ck_assert_int_eq(qmodel_get(&m, 0, QR_ATTN_K_BIAS)->role, QR_ATTN_K_BIAS);
    qmodel_close(&m);
    /* no "architectures": model_type decides */
    snprintf(p, sizeof p, "%s/config.json", d);
    wstr(p, "{\"model_type\":\"qwen2\",\"hidden_size\":8,\"intermediate_size\":16,"
                     "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
                     "\"vocab_size\":4}");
    open_ok(&m, d);
    ck_assert_str_eq(m.cfg.arch, "qwen2");
    ck_assert(m.cfg.ctx_len == 2048 && m.cfg.rope_theta == 10000.0f);  /* defaults */
    qmodel_close(&m);
}
END_TEST

START_TEST(test_sharded)
{
    const char *d = fresh_dir("sharded");
    write_config(d, "LlamaForCausalLM", "");
    char p[4096];
    static const int cut[4] = {0, 3, 7, NT};
    for (int s = 0; s < 3; s++) {
        snprintf(p, sizeof p, "%s/model-%05d-of-00003.safetensors", d, s + 1);
        write_st(p, cut[s], cut[s + 1], s == 1 ? 1 : 0, -1);  /* mixed dtypes across shards */
    }
    char idx[8192];
    size_t n = (size_t)snprintf(idx, sizeof idx, "{\"metadata\":{\"total_size\":1},\"weight_map\":{");
    for (int i = 0; i < NT; i++) {
        int s = i < 3 ? 1 : i < 7 ? 2 : 3;
        n += (size_t)snprintf(idx + n, sizeof idx - n, "%s\"%s\":\"model-%05d-of-00003.safetensors\"",
                              i ? "," : "", T[i].hf, s);
    }
    snprintf(idx + n, sizeof idx - n, "}}");
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
    tu_write_file(p, idx, strlen(idx));
    struct qmodel m;
    for (int how = 0; how < 2; how++) {
        open_ok(&m, how ? d : p);
        ck_assert_int_eq(m.n_maps, 3);
        ck_assert_int_eq(m.n_tensors, NT);
        check_values(&m, NT);
        qmodel_close(&m);
    }
    /* index names a tensor its shard does not hold */
    char *at = strstr(idx, "model.norm.weight");
    memcpy(at, "model.norm.weighX", 17);
    tu_write_file(p, idx, strlen(idx));
    open_fails(p, QERR_FORMAT, "tensor model.norm.weighX is listed in weight_map but not in shard");
    /* shard names must stay beside the index */
    wstr(p, "{\"weight_map\":{\"a\":\"../x.safetensors\"}}");
    open_fails(p, QERR_FORMAT, "weight_map[a]: not a file name beside the index");
    wstr(p, "{\"weight_map\":{}}");
    open_fails(d, QERR_FORMAT, "weight_map is missing or empty");
    wstr(p, "{\"weight_map\":{\"a\":\"gone.safetensors\"}}");
    open_fails(d, QERR_IO, "gone.safetensors: cannot open");
}
END_TEST

START_TEST(test_dir_of_files)
{
    const char *d = fresh_dir("files");
    write_config(d, "LlamaForCausalLM", "");
    char p[4096];
    snprintf(p, sizeof p, "%s/b.safetensors", d);
    write_st(p, 6, NT, 0, -1);
    snprintf(p, sizeof p, "%s/a.safetensors", d);
    write_st(p, 0, 6, 0, -1);
    struct qmodel m;
    open_ok(&m, d);
    check_values(&m, NT);
    ck_assert_int_eq(m.n_maps, 2);
    qmodel_close(&m);
    d = fresh_dir("empty");
    write_config(d, "LlamaForCausalLM", "");
    open_fails(d, QERR_FORMAT, "no .safetensors files");
}
END_TEST

/* ---- malformed ---- */

/* A file whose header is `js` (length field `hlen`, or strlen when 0)
 * followed by `data` bytes of zeros; config beside it. */
static const char *raw_file(const char *js, uint64_t hlen, size_t data)
{
    const char *d = fresh_dir("bad");
    write_config(d, "LlamaForCausalLM", "");
    static char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    size_t n = strlen(js);
    uint8_t *b = calloc(1, 8 + n + data);
    uint64_t hl = hlen ? hlen : n;
    memcpy(b, &hl, 8);
    memcpy(b + 8, js, n);
    tu_write_file(p, b, 8 + n + data);
    free(b);
    return p;
}

START_TEST(test_bad_headers)
{
    const char *p = raw_file("", 0, 0);
    wstr(p, "abc");
    open_fails(p, QERR_FORMAT, "offset 0: header length: file is only 3 bytes");
    p = raw_file("{}", 1000, 0);
    open_fails(p, QERR_FORMAT, "offset 0: header length 1000 is impossible (file size 10)");
    p = raw_file("{}", UINT64_MAX, 0);
    open_fails(p, QERR_FORMAT, "header length 18446744073709551615 is impossible");
    p = raw_file("{\"a\":", 0, 0);
    open_fails(p, QERR_FORMAT, "model.safetensors: offset 12: header: invalid JSON");
    p = raw_file("[1,2]", 0, 0);
    open_fails(p, QERR_FORMAT, "header: not a JSON object");
    p = raw_file("{\"x\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 0, 16);
    open_fails(p, QERR_UNSUPP, "tensor x: dtype I64 is not supported");
    p = raw_file("{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "tensor x: no dtype");
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,80]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "tensor x: data_offsets [0, 80] run past end of file (data section is 8 bytes)");
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "data_offsets [8, 0] run past end");
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "tensor x: data_offsets span 8 bytes, shape and dtype need 12");
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "tensor x: shape[0] is not a valid dimension");
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "shape[0] is not a valid dimension");
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,8]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "tensor x: element count overflows");
    /* 2^62 floats need 2^64 bytes: must not wrap to an empty span */
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1099511627776,4194304],\"data_offsets\":[0,0]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "tensor x: element count overflows");
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "tensor x: shape must be an array");
    p = raw_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "data_offsets must be [begin, end]");
    p = raw_file("{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[0,8],\"data_offsets\":[0,0]}}", 0, 8);
    open_fails(p, QERR_FORMAT, "dimension 0 is 0");
    /* two tensors on the same bytes */
    p = raw_file("{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12);
    open_fails(p, QERR_FORMAT, "overlap");
    /* two HF names for one canonical tensor */
    p = raw_file("{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"output_norm\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 0, 16);
    open_fails(p, QERR_FORMAT, "tensor output_norm: its name output_norm is already taken by model.norm.weight");
    /* a valid header but missing required tensors */
    p = raw_file("{\"__metadata__\":{\"a\":\"b\"},\"rotary.inv_freq\":{\"dtype\":\"F32\",\"shape\":[0],"
                 "\"data_offsets\":[0,0]}}", 0, 0);
    open_fails(p, QERR_FORMAT, "required tensor token_embd is missing");
}
END_TEST

START_TEST(test_bad_config)
{
    const char *d = fresh_dir("cfg");
    char p[4096], c[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    write_st(p, 0, NT, 0, -1);
    open_fails(p, QERR_FORMAT, "config.json is missing");
    snprintf(c, sizeof c, "%s/config.json", d);
    wstr(c, "{\"hidden_size\":");
    open_fails(p, QERR_FORMAT, "config.json: offset 14: invalid JSON");
    write_config(d, "GPT2LMHeadModel", "");
    open_fails(d, QERR_UNSUPP, "architecture GPT2LMHeadModel is not supported");
    wstr(c, "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8}");
    open_fails(d, QERR_FORMAT, "config.json: key intermediate_size is missing");
    write_config(d, "LlamaForCausalLM", ",\"head_dim\":-4");
    open_fails(d, QERR_FORMAT, "key head_dim must be a positive integer");
    wstr(c, "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":16,"
            "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"vocab_size\":4,\"rms_norm_eps\":\"x\"}");
    open_fails(d, QERR_FORMAT, "key rms_norm_eps must be a positive number");
    wstr(c, "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":16,"
            "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":3,"
            "\"vocab_size\":4}");
    open_fails(d, QERR_FORMAT, "not a multiple of 3 kv heads");
    /* shapes that disagree with the config */
    wstr(c, "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"intermediate_size\":32,"
                     "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
                     "\"vocab_size\":4}");
    open_fails(d, QERR_FORMAT, "tensor blk.0.ffn_gate is 16 x 8, config says 32 x 8");
}
END_TEST

/* Random damage to the header: errors or success, never a crash. */
START_TEST(test_random_damage)
{
    const char *d = fresh_dir("dmg");
    write_config(d, "LlamaForCausalLM", "");
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    write_st(p, 0, NT, 0, -1);
    FILE *f = fopen(p, "rb");
    static uint8_t b[1 << 16], c[1 << 16];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    uint64_t hl;
    memcpy(&hl, b, 8);
    tu_seed(7);
    for (int it = 0; it < 300; it++) {
        memcpy(c, b, n);
        size_t at = (size_t)(tu_uniform() * (double)(hl + 8));
        c[at] = "0123456789{}[],:\"-.e \x01"[(int)(tu_uniform() * 22)];
        tu_write_file(p, c, n);
        struct qmodel m;
        struct qerr e = {0};
        if (qmodel_open(&m, p, &e) == 0)
            qmodel_close(&m);
        else
            ck_assert_msg(strstr(e.msg, "model.safetensors") || strstr(e.msg, "config"), "%s", e.msg);
    }
}
END_TEST

/* ---- the same generated model in three formats ---- */

static void gen(const char *fmt, const char *extra, const char *out)
{
    const char *b = getenv("QLENS_BUILD");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s/tests/tool_genmodel --format %s --dim 64 --hidden 96 --layers 2 "
             "--heads 4 --kv-heads 2 --vocab 300 --ctx 32 --seed 11 %s '%s'",
             b && *b ? b : "build", fmt, extra, out);
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

START_TEST(test_cross_format)
{
    struct qmodel g, s, l, s16;
    const char *pg = tu_tmpfile("x.gguf"), *ps = tu_tmpfile("x.st"), *pl = tu_tmpfile("x.bin");
    const char *ps16 = tu_tmpfile("x16.st");
    gen("gguf", "", pg);
    gen("safetensors", "--shards 2", ps);
    gen("llama2c", "", pl);
    gen("safetensors", "--dtype bf16", ps16);
    open_ok(&g, pg);
    open_ok(&s, ps);
    open_ok(&l, pl);
    open_ok(&s16, ps16);
    ck_assert(g.n_tensors == s.n_tensors && g.n_tensors == l.n_tensors);
    ck_assert(s.cfg.rope_style == QROPE_HALF && g.cfg.rope_style == QROPE_INTERLEAVED);
    float *tmp = malloc(300 * 64 * sizeof *tmp);
    for (int i = 0; i < g.n_tensors; i++) {
        struct qtensor *a = &g.tensors[i];
        struct qtensor *b = &s.tensors[qmodel_find(&s, a->name)];
        struct qtensor *c = &l.tensors[qmodel_find(&l, a->name)];
        const float *xa = qtensor_f32(a), *xb = qtensor_f32(b);
        size_t nb = (size_t)a->nelem * sizeof(float);
        ck_assert_msg(!memcmp(xa, qtensor_f32(c), nb), "llama2c %s", a->name);
        if (a->role == QR_ATTN_Q || a->role == QR_ATTN_K) {
            /* HF rotate-half rows, permuted as llama.cpp does, give GGUF's rows */
            int nh = a->role == QR_ATTN_Q ? g.cfg.n_heads : g.cfg.n_kv_heads;
            gguf_permute_qk(xb, tmp, nh, g.cfg.head_dim, g.cfg.dim);
            ck_assert_msg(!memcmp(xa, tmp, nb), "permuted %s", a->name);
            ck_assert_msg(memcmp(xa, xb, nb), "%s should differ before permuting", a->name);
        } else {
            ck_assert_msg(!memcmp(xa, xb, nb), "safetensors %s", a->name);
        }
        /* bf16 copy: within bf16 rounding (relative 2^-8) */
        const float *xc = qtensor_f32(&s16.tensors[qmodel_find(&s16, a->name)]);
        for (int64_t j = 0; j < a->nelem; j++)
            ck_assert(fabsf(xc[j] - xb[j]) <= fabsf(xb[j]) * (1.0f / 256));
    }
    /* safetensors -> GGUF export permutes Q/K into GGUF's order */
    const char *pe = tu_tmpfile("export.gguf");
    struct qerr e = {0};
    ck_assert_msg(gguf_write_model(&s, pe, 0, &e) == 0, "%s", e.msg);
    struct qmodel x;
    open_ok(&x, pe);
    ck_assert(x.cfg.rope_style == QROPE_INTERLEAVED);
    struct gguf_str tm;  /* llama.cpp needs a tokenizer model, even "none" */
    ck_assert(gguf_get_str(x.gguf, "tokenizer.ggml.model", &tm) == 0 && gguf_str_eq(tm, "no_vocab"));
    for (int i = 0; i < g.n_tensors; i++)
        ck_assert_msg(!memcmp(qtensor_f32(&g.tensors[i]), qtensor_f32(&x.tensors[i]),
                              (size_t)g.tensors[i].nelem * 4), "export %s", g.tensors[i].name);
    free(tmp);
    qmodel_close(&x);
    qmodel_close(&g);
    qmodel_close(&s);
    qmodel_close(&l);
    qmodel_close(&s16);
}
END_TEST

/* Qwen2: GGUF keeps HF's rotate-half rows (no permutation), so the GGUF
 * and safetensors files of one generated model hold identical tensors. */
START_TEST(test_cross_format_qwen2)
{
    struct qmodel g, s;
    const char *pg = tu_tmpfile("q.gguf"), *ps = tu_tmpfile("q.st");
    gen("gguf", "--arch qwen2", pg);
    gen("safetensors", "--arch qwen2", ps);
    open_ok(&g, pg);
    open_ok(&s, ps);
    ck_assert(g.cfg.rope_style == QROPE_HALF && s.cfg.rope_style == QROPE_HALF);
    ck_assert(g.cfg.has_qkv_bias && s.cfg.has_qkv_bias && g.n_tensors == s.n_tensors);
    for (int i = 0; i < g.n_tensors; i++) {
        struct qtensor *a = &g.tensors[i], *b = &s.tensors[qmodel_find(&s, a->name)];
        ck_assert_msg(!memcmp(qtensor_f32(a), qtensor_f32(b), a->nbytes), "%s", a->name);
    }
    /* exported as llama arch, Q/K (and their biases) become interleaved */
    const char *pe = tu_tmpfile("q_export.gguf");
    struct qerr e = {0};
    ck_assert_msg(gguf_write_model(&g, pe, 0, &e) == 0, "%s", e.msg);
    struct qmodel x;
    open_ok(&x, pe);
    ck_assert(x.cfg.rope_style == QROPE_INTERLEAVED && x.cfg.has_qkv_bias);
    struct qtensor *qb = qmodel_get(&g, 1, QR_ATTN_Q_BIAS);
    float tmp[64];
    gguf_permute_qk(qtensor_f32(qb), tmp, g.cfg.n_heads, g.cfg.head_dim, 1);
    ck_assert(!memcmp(tmp, qtensor_f32(qmodel_get(&x, 1, QR_ATTN_Q_BIAS)), qb->nbytes));
    ck_assert(!memcmp(qtensor_f32(qmodel_get(&g, 1, QR_ATTN_V_BIAS)),
                      qtensor_f32(qmodel_get(&x, 1, QR_ATTN_V_BIAS)), qb->nbytes / 2));
    qmodel_close(&x);
    qmodel_close(&g);
    qmodel_close(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_single_dtypes);
    tcase_add_test(tc, test_tied_and_tokenizer);
    tcase_add_test(tc, test_qwen2_bias_and_model_type);
    tcase_add_test(tc, test_sharded);
    tcase_add_test(tc, test_dir_of_files);
    tcase_add_test(tc, test_bad_headers);
    tcase_add_test(tc, test_bad_config);
    tcase_add_test(tc, test_random_damage);
    tcase_add_test(tc, test_cross_format);
    tcase_add_test(tc, test_cross_format_qwen2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
