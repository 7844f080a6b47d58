/* tokenizer: loaders, vocabulary maps, encode dispatch and decoding.
 * The merge algorithms live in tok_spm.c and tok_bpe.c, the pre-tokenizer
 * regexes in tok_pretok.c, the tokenizer.json loader in tok_json.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "src/gguf.h"
#include "src/model.h"
#include "src/tok_internal.h"
#include "src/unicode.h"

/* ---- string map (FNV-1a, linear probing) ---- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int tok_map_init(struct tok_map *m, size_t n_expected)
{
    size_t cap = 16;
    while (cap < 2 * n_expected + 1)
        cap <<= 1;
    m->slots = calloc(cap, sizeof *m->slots);
    m->cap = m->slots ? cap : 0;
    m->n = 0;
    return m->slots ? 0 : QERR_NOMEM;
}

int tok_map_put(struct tok_map *m, const char *key, uint32_t len, int val, int replace)
{
    if (2 * (m->n + 1) > m->cap) { /* grow: keeps the load under 1/2 */
        struct tok_map g;
        if (tok_map_init(&g, m->cap ? m->cap : 8) < 0)
            return QERR_NOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                tok_map_put(&g, m->slots[i].key, m->slots[i].len, m->slots[i].val, 1);
        free(m->slots);
        *m = g;
    }
    size_t mask = m->cap - 1, i = hash_bytes(key, len) & mask;
    for (;; i = (i + 1) & mask) {
        struct tok_slot *s = &m->slots[i];
        if (!s->key) {
            s->key = key; s->len = len; s->val = val;
            m->n++;
            return 0;
        }
        if (s->len == len && !memcmp(s->key, key, len)) {
            if (replace) {
                s->key = key;
                s->val = val;
            }
            return 0;
        }
    }
}

int tok_map_get(const struct tok_map *m, const char *key, size_t len)
{
    if (!m->cap)
        return -1;
    size_t mask = m->cap - 1, i = hash_bytes(key, len) & mask;
    for (;; i = (i + 1) & mask) {
        const struct tok_slot *s = &m->slots[i];
        if (!s->key)
            return -1;
        if (s->len == len && !memcmp(s->key, key, len))
            return s->val;
    }
}

void tok_map_free(struct tok_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

int tok_vec_push(struct tok_vec *v, int id)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        int *p = realloc(v->v, cap * sizeof *p);
        if (!p)
            return QERR_NOMEM;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = id;
    return 0;
}

/* ---- building ---- */

struct tokenizer *tok_alloc(int n_vocab)
{
    struct tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n_vocab = n_vocab;
    t->piece = calloc((size_t)n_vocab + 1, sizeof *t->piece);
    t->piece_len = calloc((size_t)n_vocab + 1, sizeof *t->piece_len);
    t->score = calloc((size_t)n_vocab + 1, sizeof *t->score);
    t->type = calloc((size_t)n_vocab + 1, 1);
    t->bos = t->eos = t->unk = -1;
    if (!t->piece || !t->piece_len || !t->score || !t->type ||
        tok_map_init(&t->vocab, (size_t)n_vocab) < 0) {
        tok_free(t);
        return NULL;
    }
    return t;
}

int tok_set_piece(struct tokenizer *t, int i, const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return QERR_NOMEM;
    memcpy(p, s, len);
    p[len] = '\0';
    free(t->piece[i]);
    t->piece[i] = p;
    t->piece_len[i] = (uint32_t)len;
    return 0;
}

static int is_byte_piece(const char *p, uint32_t len, int *byte)
{
    unsigned v;
    char tail;
    if (len != 6 || strncmp(p, "<0x", 3) || p[5] != '>')
        return 0;
    if (sscanf(p + 3, "%2x%c", &v, &tail) != 2 || tail != '>')
        return 0;
    *byte = (int)v;
    return 1;
}

static int longer_first(const void *a, const void *b, void *ctx)
{
    const struct tokenizer *t = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    uint32_t lx = t->piece_len[x], ly = t->piece_len[y];
    return lx != ly ? (lx < ly) - (lx > ly) : (x > y) - (x < y);
}

/* User-defined tokens are cut out of the text before merging, longest
 * first (llama.cpp's tokenizer_st_partition with parse_special off). */
static int collect_user_tokens(struct tokenizer *t)
{
    free(t->user_ids);
    t->user_ids = NULL;
    t->n_user = 0;
    for (int i = 0; i < t->n_vocab; i++)
        t->n_user += t->type[i] == TT_USER;
    if (!t->n_user)
        return 0;
    t->user_ids = malloc((size_t)t->n_user * sizeof *t->user_ids);
    if (!t->user_ids)
        return QERR_NOMEM;
    int k = 0;
    for (int i = 0; i < t->n_vocab; i++)
        if (t->type[i] == TT_USER)
            t->user_ids[k++] = i;
    qsort_r(t->user_ids, (size_t)k, sizeof *t->user_ids, longer_first, t);
    return 0;
}

/* Insert every piece into the vocab map (later duplicates win, as in
 * llama.cpp's token_to_id) and find the byte tokens. */
int tok_finish(struct tokenizer *t, struct qerr *err)
{
    for (int b = 0; b < 256; b++)
        t->byte_id[b] = -1;
    for (int i = 0; i < t->n_vocab; i++) {
        if (!t->piece[i] && tok_set_piece(t, i, "", 0) < 0)
            return qerr_set(err, QERR_NOMEM, "tokenizer: out of memory");
        if (!t->piece_len[i]) { /* llama.cpp renames empty tokens */
            char tmp[32];
            int n = snprintf(tmp, sizeof tmp, "[EMPTY_%d]", i);
            if (tok_set_piece(t, i, tmp, (size_t)n) < 0)
                return qerr_set(err, QERR_NOMEM, "tokenizer: out of memory");
        }
        if (tok_map_put(&t->vocab, t->piece[i], t->piece_len[i], i, 1) < 0)
            return qerr_set(err, QERR_NOMEM, "tokenizer: out of memory");
    }
    if (collect_user_tokens(t) < 0)
        return qerr_set(err, QERR_NOMEM, "tokenizer: out of memory");
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        t->byte_id[b] = tok_map_get(&t->vocab, buf, 6);
        if (t->byte_id[b] < 0) { /* llama.cpp: fall back to the byte itself */
            char c = (char)b;
            t->byte_id[b] = tok_map_get(&t->vocab, &c, 1);
        }
    }
    return 0;
}

int tok_add_merge(struct tokenizer *t, int rank, const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return QERR_NOMEM;
    memcpy(p, s, len);
    p[len] = '\0';
    t->merge_str[rank] = p;
    /* llama.cpp splits at the first space after the first byte and emplaces,
     * so the first occurrence of a pair keeps its rank. */
    return tok_map_put(&t->merges, p, (uint32_t)len, rank, 0);
}

int tok_pre_from_name(const char *name)
{
    static const struct { const char *name; enum tok_pre pre; } names[] = {
        {"gpt-2", PRE_GPT2}, {"gpt2", PRE_GPT2}, {"mpt", PRE_GPT2}, {"olmo", PRE_GPT2},
        {"jais", PRE_GPT2}, {"trillion", PRE_GPT2},
        {"llama3", PRE_LLAMA3}, {"llama-v3", PRE_LLAMA3}, {"llama-bpe", PRE_LLAMA3},
        {"falcon3", PRE_LLAMA3}, {"smaug-bpe", PRE_LLAMA3},
        {"qwen2", PRE_QWEN2}, {"deepseek-r1-qwen", PRE_QWEN2},
        {"default", PRE_DEFAULT},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name))
            return (int)names[i].pre;
    return -1;
}

void tok_free(struct tokenizer *t)
{
    if (!t)
        return;
    if (t->piece)
        for (int i = 0; i < t->n_vocab; i++)
            free(t->piece[i]);
    if (t->merge_str)
        for (int i = 0; i < t->n_merges; i++)
            free(t->merge_str[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->score);
    free(t->type);
    free(t->merge_str);
    free(t->user_ids);
    for (int i = 0; t->norm && i < t->n_norm; i++) {
        free(t->norm[i].a);
        free(t->norm[i].b);
    }
    free(t->norm);
    free(t->added_ids);
    free(t->added_strip);
    tok_map_free(&t->vocab);
    tok_map_free(&t->merges);
    free(t);
}

/* ---- llama2.c tokenizer.bin ---- */

/* A tokenizer.bin holds at most as many pieces as a GGUF vocabulary may
 * (gguf's token array cap): a file of zero bytes is not 8 million empty
 * pieces. */
#define TOK_L2C_MAX_VOCAB (1 << 24)

static int read_llama2c_tokens(struct tokenizer *t, FILE *f, const char *path, int n,
                               int max_len, struct qerr *err)
{
    long off = ftell(f);
    for (int i = 0; i < n; i++) {
        float score;
        int32_t len;
        if (fread(&score, 4, 1, f) != 1 || fread(&len, 4, 1, f) != 1)
            return qerr_set(err, QERR_FORMAT, "%s: offset %ld: token %d: file ends before "
                            "its score/length", path, off, i);
        if (len < 0 || len > max_len)
            return qerr_set(err, QERR_FORMAT, "%s: offset %ld: token %d: length %d out of "
                            "range (0..max_token_length %d)", path, off + 4, i, (int)len,
                            max_len);
        char *buf = malloc((size_t)len + 1);
        if (!buf)
            return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            return qerr_set(err, QERR_FORMAT, "%s: offset %ld: token %d: file ends inside "
                            "its %d bytes", path, off + 8, i, (int)len);
        }
        buf[len] = '\0';
        free(t->piece[i]);
        t->piece[i] = buf;
        t->piece_len[i] = (uint32_t)len;
        t->score[i] = score;
        off += 8 + len;
    }
    return 0;
}

/* Count tokens in the file when the caller does not know the vocab size. */
static int count_llama2c_tokens(FILE *f, int max_len)
{
    int n = 0;
    for (;;) {
        float score;
        int32_t len;
        if (fread(&score, 4, 1, f) != 1 || fread(&len, 4, 1, f) != 1 || len < 0 ||
            len > max_len || fseek(f, len, SEEK_CUR) != 0)
            break;
        if (++n > TOK_L2C_MAX_VOCAB)
            break;
    }
    fseek(f, 4, SEEK_SET);
    return n;
}

/* llama2.c's export wrote U+2581 as ' ' and BOS/EOS as "\n<s>\n" /
 * "\n</s>\n"; undo both so pieces (and merges) equal the GGUF vocabulary. */
static int unexport_llama2c(struct tokenizer *t)
{
    for (int i = 0; i < t->n_vocab; i++) {
        const char *p = t->piece[i];
        size_t n = t->piece_len[i], sp = 0;
        for (size_t j = 0; j < n; j++)
            sp += p[j] == ' ';
        if (!sp)
            continue;
        char *q = malloc(n + 2 * sp + 1);
        if (!q)
            return QERR_NOMEM;
        size_t k = 0;
        for (size_t j = 0; j < n; j++) {
            if (p[j] == ' ') {
                memcpy(q + k, "\xe2\x96\x81", 3);
                k += 3;
            } else {
                q[k++] = p[j];
            }
        }
        q[k] = '\0';
        free(t->piece[i]);
        t->piece[i] = q;
        t->piece_len[i] = (uint32_t)k;
    }
    static const char *fix[3] = {NULL, "<s>", "</s>"};
    for (int i = 1; i < 3 && i < t->n_vocab; i++) {
        char want[16];
        snprintf(want, sizeof want, "\n%s\n", fix[i]);
        if (!strcmp(t->piece[i], want) && tok_set_piece(t, i, fix[i], strlen(fix[i])) < 0)
            return QERR_NOMEM;
    }
    return 0;
}

/* Types that llama2.c files do not store, inferred as llama.cpp's
 * convert script would: <unk>, <s>, </s>, byte pieces, the rest normal. */
static void infer_llama2c_types(struct tokenizer *t)
{
    for (int i = 0; i < t->n_vocab; i++) {
        int b;
        t->type[i] = TT_NORMAL;
        if (is_byte_piece(t->piece[i], t->piece_len[i], &b))
            t->type[i] = TT_BYTE;
    }
    if (t->n_vocab > 2) {
        t->unk = 0; t->bos = 1; t->eos = 2;
        t->type[0] = TT_UNKNOWN;
        t->type[1] = t->type[2] = TT_CONTROL;
    }
}

int tok_load_llama2c(struct tokenizer **out, const char *path, int vocab_size, struct qerr *err)
{
    *out = NULL;
    FILE *f = afile_fopen_regular(path, err);
    if (!f)
        return qerr_prefix(err, "tokenizer: ");
    int32_t max_len;
    if (fread(&max_len, 4, 1, f) != 1) {
        fclose(f);
        return qerr_set(err, QERR_FORMAT, "%s: offset 0: max_token_length: file too short", path);
    }
    if (max_len < 1 || max_len > (1 << 20)) {
        fclose(f);
        return qerr_set(err, QERR_FORMAT, "%s: offset 0: max_token_length %d out of range "
                        "(1..%d): not a llama2.c tokenizer", path, (int)max_len, 1 << 20);
    }
    int n = vocab_size > 0 ? vocab_size : count_llama2c_tokens(f, max_len);
    if (n <= 0 || n > TOK_L2C_MAX_VOCAB) {
        fclose(f);
        return n <= 0 ? qerr_set(err, QERR_FORMAT, "%s: offset 4: no tokens", path)
                      : qerr_set(err, QERR_FORMAT, "%s: more than %d pieces: not a llama2.c "
                                 "tokenizer", path, TOK_L2C_MAX_VOCAB);
    }
    struct tokenizer *t = tok_alloc(n);
    if (!t) {
        fclose(f);
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    }
    int rc = read_llama2c_tokens(t, f, path, n, max_len, err);
    fclose(f);
    if (rc == 0) {
        t->kind = TOK_SPM;
        t->add_bos = 1;
        t->add_space_prefix = 1;
        snprintf(t->name, sizeof t->name, "spm");
        infer_llama2c_types(t);
        rc = unexport_llama2c(t) < 0 ? qerr_set(err, QERR_NOMEM, "%s: out of memory", path)
                                     : tok_finish(t, err);
    }
    if (rc < 0) {
        tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- GGUF ---- */

static const struct gguf_kv *gguf_array(const struct gguf_file *g, const char *key,
                                        enum gguf_vtype et, uint64_t n, struct qerr *err)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    if (!kv)
        return NULL;
    if (kv->type != GGUF_T_ARRAY || kv->arr_type != et || (n && kv->arr_n != n)) {
        qerr_set(err, QERR_FORMAT, "%s: offset %llu: %s: expected an array of %llu %s, "
                 "found %s of %llu %s", g->path, (unsigned long long)kv->file_offset, key,
                 (unsigned long long)n, gguf_vtype_name(et), gguf_vtype_name(kv->type),
                 (unsigned long long)kv->arr_n, gguf_vtype_name(kv->arr_type));
        return NULL;
    }
    return kv;
}

static int gguf_flag(const struct gguf_file *g, const char *key, int dflt)
{
    int64_t v;
    return gguf_get_int(g, key, &v) == 0 ? v != 0 : dflt;
}

static int gguf_id(const struct gguf_file *g, const char *key, int n_vocab, int dflt)
{
    int64_t v;
    if (gguf_get_int(g, key, &v) < 0)
        return dflt;
    return v >= 0 && v < n_vocab ? (int)v : -1;
}

static int gguf_vocab(struct tokenizer *t, const struct gguf_file *g, const struct gguf_kv *tok,
                      struct qerr *err)
{
    const struct gguf_kv *sc, *ty;
    uint64_t n = tok->arr_n;
    for (uint64_t i = 0; i < n; i++)
        if (tok_set_piece(t, (int)i, tok->arr_strs[i].ptr, tok->arr_strs[i].len) < 0)
            return qerr_set(err, QERR_NOMEM, "%s: out of memory", g->path);
    qerr_clear(err);
    sc = gguf_array(g, "tokenizer.ggml.scores", GGUF_T_F32, n, err);
    if (!sc && err && err->code)
        return err->code;
    ty = gguf_array(g, "tokenizer.ggml.token_type", GGUF_T_I32, n, err);
    if (!ty && err && err->code)
        return err->code;
    for (uint64_t i = 0; i < n; i++) {
        int32_t tt = TT_NORMAL;
        if (sc)
            memcpy(&t->score[i], sc->arr_data + 4 * i, 4);
        if (ty)
            memcpy(&tt, ty->arr_data + 4 * i, 4);
        t->type[i] = (unsigned char)(tt >= 0 && tt <= TT_BYTE ? tt : TT_UNDEF);
    }
    return 0;
}

static int gguf_merges(struct tokenizer *t, const struct gguf_file *g, struct qerr *err)
{
    qerr_clear(err);
    const struct gguf_kv *mg = gguf_array(g, "tokenizer.ggml.merges", GGUF_T_STRING, 0, err);
    if (!mg)
        return err && err->code ? err->code
               : qerr_set(err, QERR_FORMAT, "%s: tokenizer.ggml.merges: missing (needed "
                          "by a gpt2 vocabulary)", g->path);
    t->merge_str = calloc(mg->arr_n + 1, sizeof *t->merge_str);
    if (!t->merge_str || tok_map_init(&t->merges, mg->arr_n) < 0)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", g->path);
    t->n_merges = (int)mg->arr_n;
    for (uint64_t i = 0; i < mg->arr_n; i++)
        if (tok_add_merge(t, (int)i, mg->arr_strs[i].ptr, mg->arr_strs[i].len) < 0)
            return qerr_set(err, QERR_NOMEM, "%s: out of memory", g->path);
    return 0;
}

static int gguf_kind(struct tokenizer *t, const struct gguf_file *g, struct qerr *err)
{
    struct gguf_str s;
    char model[32] = "", pre[64] = "default";
    if (gguf_get_str(g, "tokenizer.ggml.model", &s) < 0)
        return qerr_set(err, QERR_FORMAT, "%s: tokenizer.ggml.model: missing", g->path);
    gguf_str_copy(s, model, sizeof model);
    if (gguf_get_str(g, "tokenizer.ggml.pre", &s) == 0)
        gguf_str_copy(s, pre, sizeof pre);
    if (!strcmp(model, "llama")) {
        t->kind = TOK_SPM;
        snprintf(t->name, sizeof t->name, "spm");
        return 0;
    }
    if (strcmp(model, "gpt2"))
        return qerr_set(err, QERR_UNSUPP, "%s: tokenizer.ggml.model \"%s\" is not supported "
                        "(only llama and gpt2)", g->path, model);
    int p = tok_pre_from_name(pre);
    if (p < 0)
        return qerr_set(err, QERR_UNSUPP, "%s: tokenizer.ggml.pre \"%s\" is not supported "
                        "(gpt-2, default, llama3/llama-bpe, qwen2)", g->path, pre);
    t->kind = TOK_BPE;
    t->pre = (enum tok_pre)p;
    t->ignore_merges = t->pre == PRE_LLAMA3;
    snprintf(t->name, sizeof t->name, "bpe/%.27s", pre);
    return 0;
}

int tok_load_gguf(struct tokenizer **out, const struct gguf_file *g, struct qerr *err)
{
    *out = NULL;
    qerr_clear(err);
    const struct gguf_kv *tok = gguf_array(g, "tokenizer.ggml.tokens", GGUF_T_STRING, 0, err);
    if (!tok)
        return err && err->code ? err->code
               : qerr_set(err, QERR_FORMAT, "%s: tokenizer.ggml.tokens: missing (no vocabulary "
                          "in this GGUF)", g->path);
    if (tok->arr_n == 0 || tok->arr_n > (1u << 24))
        return qerr_set(err, QERR_FORMAT, "%s: offset %llu: tokenizer.ggml.tokens: %llu tokens",
                        g->path, (unsigned long long)tok->file_offset,
                        (unsigned long long)tok->arr_n);
    struct tokenizer *t = tok_alloc((int)tok->arr_n);
    if (!t)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", g->path);
    int rc = gguf_kind(t, g, err);
    if (rc == 0)
        rc = gguf_vocab(t, g, tok, err);
    if (rc == 0 && t->kind == TOK_BPE)
        rc = gguf_merges(t, g, err);
    if (rc == 0) {
        int spm = t->kind == TOK_SPM;
        t->bos = gguf_id(g, "tokenizer.ggml.bos_token_id", t->n_vocab, spm ? 1 : -1);
        t->eos = gguf_id(g, "tokenizer.ggml.eos_token_id", t->n_vocab, spm ? 2 : -1);
        t->unk = gguf_id(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, spm ? 0 : -1);
        t->add_bos = gguf_flag(g, "tokenizer.ggml.add_bos_token", spm);
        t->add_space_prefix = gguf_flag(g, "tokenizer.ggml.add_space_prefix", spm);
        rc = tok_finish(t, err);
    }
    if (rc < 0) {
        tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int tok_load_for_model(struct tokenizer **out, const struct qmodel *m, struct qerr *err)
{
    *out = NULL;
    if (m->gguf)
        return tok_load_gguf(out, m->gguf, err);
    if (!m->tokenizer_path)
        return qerr_set(err, QERR_IO, "%s: no tokenizer found beside the model (put "
                        "tokenizer.bin or tokenizer.json next to it)", m->path);
    if (ends_with(m->tokenizer_path, ".json"))
        return tok_load_hf_json(out, m->tokenizer_path, err);
    int rc = tok_load_llama2c(out, m->tokenizer_path, m->cfg.vocab_size, err);
    return rc;
}

/* A vocabulary-only read of a GGUF: map (as the model loader does, through
 * a model that holds nothing else), parse the header, copy the vocab. */
static int load_gguf_file(struct tokenizer **out, const char *path, struct qerr *err)
{
    struct qmodel m = {0};
    int map = qmodel_map_file(&m, path, err);
    int rc = map < 0 ? map : 0;
    struct gguf_file g;
    if (rc == 0)
        rc = gguf_parse(&g, path, m.maps[map].base, m.maps[map].size, err);
    if (rc == 0) {
        rc = tok_load_gguf(out, &g, err);
        gguf_free(&g);
    }
    qmodel_close(&m);
    return rc;
}

int tok_load_file(struct tokenizer **out, const char *path, struct qerr *err)
{
    *out = NULL;
    if (ends_with(path, ".json"))
        return tok_load_hf_json(out, path, err);
    FILE *f = afile_fopen_regular(path, err);
    if (!f)
        return err ? err->code : QERR_IO;
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && !memcmp(magic, "GGUF", 4))
        return load_gguf_file(out, path, err);
    return tok_load_llama2c(out, path, 0, err);
}

/* ---- encode / decode ---- */

/* A span of the text: raw (id < 0) or one user-defined token. */
struct frag { size_t off, len; int id; };
struct frags { struct frag *f; size_t n, cap; };

static int frag_push(struct frags *v, size_t off, size_t len, int id)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 16;
        struct frag *p = realloc(v->f, cap * sizeof *p);
        if (!p)
            return QERR_NOMEM;
        v->f = p;
        v->cap = cap;
    }
    v->f[v->n++] = (struct frag){off, len, id};
    return 0;
}

/* Cut every occurrence of user token `id` out of the raw fragments. */
static int cut_token(const struct tokenizer *t, const char *text, int id, struct frags *in,
                     struct frags *out)
{
    const char *p = t->piece[id];
    size_t pl = t->piece_len[id];
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        struct frag f = in->f[i];
        size_t pos = f.off, end = f.off + f.len;
        const char *m;
        while (f.id < 0 && (m = memmem(text + pos, end - pos, p, pl))) {
            size_t at = (size_t)(m - text);
            if ((at > pos && frag_push(out, pos, at - pos, -1) < 0) || frag_push(out, at, pl, id) < 0)
                return QERR_NOMEM;
            pos = at + pl;
        }
        if (f.id >= 0 ? frag_push(out, f.off, f.len, f.id) < 0
                      : pos < end && frag_push(out, pos, end - pos, -1) < 0)
            return QERR_NOMEM;
    }
    return 0;
}

/* Encode around user-defined tokens; SPM adds its space after each one. */
static int encode_parts(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *v)
{
    struct frags a = {0}, b = {0};
    int rc = frag_push(&a, 0, len, -1);
    for (int u = 0; rc == 0 && u < t->n_user; u++) {
        rc = cut_token(t, text, t->user_ids[u], &a, &b);
        struct frags tmp = a; a = b; b = tmp;
    }
    int prev_special = 1;
    for (size_t i = 0; rc == 0 && i < a.n; i++) {
        const struct frag *f = &a.f[i];
        if (f->id >= 0)
            rc = tok_vec_push(v, f->id);
        else if (t->kind == TOK_SPM)
            rc = tok_spm_encode_frag(t, text + f->off, f->len, t->add_space_prefix && prev_special, v);
        else
            rc = tok_bpe_encode(t, text + f->off, f->len, v);
        prev_special = f->id >= 0;
    }
    free(a.f);
    free(b.f);
    return rc;
}

/* ---- tokenizer.json as Hugging Face applies it ---- */

static char *replace_all(const char *s, size_t n, const struct tok_norm *r, size_t *out_n)
{
    size_t hits = 0;
    for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), r->a, r->na)); p += r->na)
        hits++;
    char *o = malloc(n + hits * r->nb + 1);
    if (!o)
        return NULL;
    size_t k = 0, i = 0;
    for (const char *p; (p = memmem(s + i, n - i, r->a, r->na)); i = (size_t)(p - s) + r->na) {
        memcpy(o + k, s + i, (size_t)(p - s) - i);
        k += (size_t)(p - s) - i;
        memcpy(o + k, r->b, r->nb);
        k += r->nb;
    }
    memcpy(o + k, s + i, n - i);
    k += n - i;
    o[k] = '\0';
    *out_n = k;
    return o;
}

static int norm_step(const struct tok_norm *st, const char *s, size_t n, char **out, size_t *out_n)
{
    static const enum ucp_nform forms[] = {UCP_NFC, UCP_NFD, UCP_NFKC, UCP_NFKD};
    switch (st->op) {
    case TN_NFC: case TN_NFD: case TN_NFKC: case TN_NFKD:
        return ucp_normalize(forms[st->op], s, n, out, out_n);
    case TN_LOWER:
        return ucp_lowercase(s, n, out, out_n);
    case TN_REPLACE:
        *out = replace_all(s, n, st, out_n);
        return *out ? 0 : QERR_NOMEM;
    case TN_PREPEND:
        if (!(*out = malloc(st->na + n + 1)))
            return QERR_NOMEM;
        memcpy(*out, st->a, st->na);
        memcpy(*out + st->na, s, n);
        (*out)[*out_n = st->na + n] = '\0';
        return 0;
    }
    return QERR_ARG;
}

int tok_normalize(const struct tokenizer *t, const char *text, size_t len, char **out,
                  size_t *out_n)
{
    char *cur = malloc(len + 1);
    if (!cur)
        return QERR_NOMEM;
    memcpy(cur, text, len);
    size_t n = len;
    for (int i = 0; i < t->n_norm; i++) {
        if (t->compat && t->norm[i].op <= TN_LOWER) /* llama.cpp has none of these */
            continue;
        char *next;
        size_t nn;
        int rc = norm_step(&t->norm[i], cur, n, &next, &nn);
        free(cur);
        if (rc < 0)
            return rc;
        cur = next;
        n = nn;
    }
    *out = cur;
    *out_n = n;
    return 0;
}

int tok_index_added(struct tokenizer *t)
{
    int n = t->n_added;
    int *ids = malloc((size_t)(n + 1) * sizeof *ids);
    unsigned char *strip = malloc((size_t)n + 1);
    if (!ids || !strip) {
        free(ids);
        free(strip);
        return QERR_NOMEM;
    }
    int k = 0;
    for (int b = 0; b < 256; b++) { /* a counting sort, stable */
        t->added_start[b] = k;
        for (int i = 0; i < n; i++)
            if ((unsigned char)t->piece[t->added_ids[i]][0] == b) {
                strip[k] = t->added_strip[i];
                ids[k++] = t->added_ids[i];
            }
    }
    t->added_start[256] = k;
    free(t->added_ids);
    free(t->added_strip);
    t->added_ids = ids;
    t->added_strip = strip;
    return 0;
}

/* Leftmost-longest added token at text[i..len): its index in added_ids,
 * or -1 (Hugging Face's and transformers.js's added-token split). */
static int added_at(const struct tokenizer *t, const char *text, size_t i, size_t len)
{
    int best = -1;
    uint32_t best_len = 0;
    unsigned char b = (unsigned char)text[i];
    for (int k = t->added_start[b]; k < t->added_start[b + 1]; k++) {
        int id = t->added_ids[k];
        uint32_t pl = t->piece_len[id];
        if (pl > best_len && pl <= len - i && text[i] == t->piece[id][0] &&
            !memcmp(text + i, t->piece[id], pl)) {
            best = k;
            best_len = pl;
        }
    }
    return best;
}

static int ws_at(const char *s, size_t n, size_t i, size_t *l)
{
    uint32_t cp;
    *l = ucp_decode((const unsigned char *)s + i, n - i, &cp);
    return *l && (ucp_flags(cp) & UCP_SPACE);
}

/* lstrip/rstrip: whitespace around the token joins it. */
static void strip_around(const char *text, size_t len, size_t *from, size_t *to, int strip_right)
{
    size_t l;
    if (strip_right) {
        while (*from < *to && ws_at(text, len, *from, &l))
            *from += l;
        return;
    }
    while (*to > *from) { /* back up over whole code points */
        size_t p = *to - 1;
        while (p > *from && ((unsigned char)text[p] & 0xC0) == 0x80)
            p--;
        if (!ws_at(text, len, p, &l))
            break;
        *to = p;
    }
}

/* One section of plain text: normalizer, pre-tokenizer, model. */
static int encode_section(const struct tokenizer *t, const char *text, size_t len, int first,
                          struct tok_vec *v)
{
    char *norm;
    size_t n;
    int rc = tok_normalize(t, text, len, &norm, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        rc = 0;
    } else if (t->kind == TOK_BPE) {
        rc = tok_bpe_encode(t, norm, n, v);
    } else if (t->metaspace) { /* spaces -> U+2581, prefix by the scheme */
        int prefix = (t->meta_prefix == 2 || (t->meta_prefix == 1 && first)) &&
                     norm[0] != ' ' && !(n >= 3 && !memcmp(norm, "\xe2\x96\x81", 3));
        rc = tok_spm_encode_frag(t, norm, n, prefix, v);
    } else {
        rc = tok_spm_encode_raw(t, norm, n, v);
    }
    free(norm);
    return rc;
}

static int encode_hf(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *v)
{
    size_t start = 0, i = 0;
    int rc = 0, strip_next = 0, first = 1;
    while (rc == 0 && i <= len) {
        int k = i < len ? added_at(t, text, i, len) : -1;
        if (k < 0 && i < len) {
            i++;
            continue;
        }
        size_t from = start, to = i;
        if (strip_next)
            strip_around(text, len, &from, &to, 1);
        if (k >= 0 && (t->added_strip[k] & 1))
            strip_around(text, len, &from, &to, 0);
        if (to > from)
            rc = encode_section(t, text + from, to - from, first, v);
        first = 0;
        if (k < 0)
            break;
        if (rc == 0)
            rc = tok_vec_push(v, t->added_ids[k]);
        strip_next = t->added_strip[k] & 2;
        i += t->piece_len[t->added_ids[k]];
        start = i;
    }
    return rc;
}

int tok_encode(const struct tokenizer *t, const char *text, size_t len, int add_bos,
               int **ids, size_t *n_ids, struct qerr *err)
{
    *ids = NULL;
    *n_ids = 0;
    if (!text && len)
        return qerr_set(err, QERR_ARG, "tok_encode: NULL text");
    size_t bad = ucp_validate(text, len);
    if (bad < len)
        return qerr_set(err, QERR_FORMAT, "byte offset %zu: invalid UTF-8 (byte 0x%02X)",
                        bad, (unsigned char)text[bad]);
    struct tok_vec v = {0};
    int rc = 0;
    if (add_bos && t->bos >= 0)
        rc = tok_vec_push(&v, t->bos);
    if (rc == 0 && len > 0 && t->hf && !t->compat)
        rc = encode_hf(t, text, len, &v);
    else if (rc == 0 && len > 0 && t->n_user)
        rc = encode_parts(t, text, len, &v);
    else if (rc == 0 && len > 0)
        rc = t->kind == TOK_SPM ? tok_spm_encode(t, text, len, &v)
                                : tok_bpe_encode(t, text, len, &v);
    if (rc < 0) {
        free(v.v);
        return qerr_set(err, rc, "tokenizer: out of memory encoding %zu bytes", len);
    }
    if (!v.v) /* callers may free() and index an empty result */
        v.v = malloc(sizeof(int));
    *ids = v.v;
    *n_ids = v.n;
    return 0;
}

const char *tok_piece(const struct tokenizer *t, int id)
{
    return id >= 0 && id < t->n_vocab ? t->piece[id] : "";
}

float tok_score(const struct tokenizer *t, int id)
{
    return id >= 0 && id < t->n_vocab ? t->score[id] : 0.0f;
}

int tok_type(const struct tokenizer *t, int id)
{
    return id >= 0 && id < t->n_vocab ? t->type[id] : 0;
}

/* SPM piece: U+2581 -> ' ' (llama_unescape_whitespace). */
static size_t spm_unescape(const char *p, size_t n, char *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && !memcmp(p + i, "\xe2\x96\x81", 3)) {
            o[k++] = ' ';
            i += 3;
        } else {
            o[k++] = p[i++];
        }
    }
    return k;
}

/* BPE piece: each code point stands for one byte (llama_decode_text). */
static size_t bpe_unmap(const char *p, size_t n, char *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = ucp_decode((const unsigned char *)p + i, n - i, &cp);
        int b = l ? tok_cp_to_byte(cp) : -1;
        if (b < 0) { /* not a byte code point: keep the raw bytes */
            l = l ? l : 1;
            memcpy(o + k, p + i, l);
            k += l;
        } else {
            o[k++] = (char)b;
        }
        i += l;
    }
    return k;
}

size_t tok_decode(const struct tokenizer *t, int prev, int id, char *buf, size_t cap)
{
    if (id < 0 || id >= t->n_vocab || t->type[id] == TT_CONTROL)
        return 0;
    const char *p = t->piece[id];
    size_t n = t->piece_len[id], k;
    char small[256], *tmp = n <= sizeof small ? small : malloc(n);
    if (!tmp)
        return 0;
    int b;
    if (t->type[id] == TT_BYTE && t->kind == TOK_SPM && is_byte_piece(p, (uint32_t)n, &b)) {
        tmp[0] = (char)b;
        k = 1;
    } else if (t->type[id] == TT_UNKNOWN || t->type[id] == TT_USER) {
        memcpy(tmp, p, n);
        k = n;
    } else if (t->kind == TOK_SPM) {
        k = spm_unescape(p, n, tmp);
    } else {
        k = bpe_unmap(p, n, tmp);
    }
    size_t off = 0; /* SentencePiece drops the space that follows BOS */
    if (t->kind == TOK_SPM && prev >= 0 && prev == t->bos && k > 0 && tmp[0] == ' ')
        off = 1;
    size_t out = k - off;
    if (cap) /* cap 0 (buf may be NULL) asks for the length only */
        memcpy(buf, tmp + off, out < cap ? out : cap);
    if (out < cap)
        buf[out] = '\0';
    if (tmp != small)
        free(tmp);
    return out;
}

int tok_bos(const struct tokenizer *t) { return t->bos; }
int tok_eos(const struct tokenizer *t) { return t->eos; }
int tok_vocab_size(const struct tokenizer *t) { return t->n_vocab; }
enum tok_kind tok_kind(const struct tokenizer *t) { return t->kind; }
const char *tok_name(const struct tokenizer *t) { return t->name; }
int tok_add_bos_default(const struct tokenizer *t) { return t->add_bos; }

const char *tok_family(const struct tokenizer *t)
{
    return t->family[0] ? t->family : t->kind == TOK_SPM ? "spm" : t->name + 4;
}
const char *tok_pretok_desc(const struct tokenizer *t)
{
    return t->pre_desc[0] ? t->pre_desc : t->kind == TOK_SPM ? "none (SentencePiece)" : t->name + 4;
}
const char *tok_normalizer_desc(const struct tokenizer *t)
{
    return t->norm_desc[0] ? t->norm_desc : t->kind == TOK_SPM ? "spaces as U+2581" : "none";
}
const char *tok_mode(const struct tokenizer *t)
{
    return t->hf && !t->compat ? "huggingface" : "llama.cpp";
}
void tok_set_llamacpp_compat(struct tokenizer *t, int on) { t->compat = on; }
