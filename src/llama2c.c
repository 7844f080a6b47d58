/* llama2.c legacy checkpoint loader (Karpathy's run.c format).
 *
 * Header: 7 x int32 {dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len}; a negative vocab_size means the classifier is not
 * shared with the embedding.  Then float32 arrays, layers stacked:
 *   token_embedding (vocab, dim)      rms_att (layer, dim)
 *   wq (layer, dim, n_heads*hs)       wk (layer, n_kv*hs, dim)  [out x in]
 *   wv (layer, n_kv*hs, dim)          wo (layer, dim, n_heads*hs)
 *   rms_ffn (layer, dim)              w1 (layer, hidden, dim)
 *   w2 (layer, dim, hidden)           w3 (layer, hidden, dim)
 *   rms_final (dim)   freq_cis_real (seq, hs/2)  freq_cis_imag (seq, hs/2)
 *   wcls (vocab, dim)                 only when not shared
 * Each stacked array is split into per-layer tensors that point into the
 * mapping; nothing is copied. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/model.h"

#define L2C_HEADER 28

struct cursor {
    struct qmodel *m;
    int map;
    uint64_t off;
};

/* Add `count` tensors of shape (rows, cols) laid one after another. */
/* count < 0: one global tensor; count >= 0: one per layer. */
static int add_stack(struct cursor *c, const char *what, const char *role, int count,
                     int64_t rows, int64_t cols, struct qerr *err)
{
    int per_layer = count >= 0;
    if (!per_layer)
        count = 1;
    for (int l = 0; l < count; l++) {
        char name[QM_NAME_MAX], src[QM_NAME_MAX];
        if (per_layer) {
            snprintf(name, sizeof name, "blk.%d.%s", l, role);
            snprintf(src, sizeof src, "%s[%d]", what, l);
        } else {
            snprintf(name, sizeof name, "%s", role);
            snprintf(src, sizeof src, "%s", what);
        }
        int64_t shape[2] = {rows, cols};
        int nd = rows == 1 ? 1 : 2;
        int rc = qmodel_add_tensor(c->m, name, src, QD_F32, nd, nd == 1 ? shape + 1 : shape,
                                   c->map, c->off, err);
        if (rc < 0)
            return rc;
        c->off += (uint64_t)(rows * cols) * sizeof(float);
    }
    return 0;
}

static void find_tokenizer(struct qmodel *m, const char *path)
{
    char dir[PATH_MAX], cand[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s", path);
    char *d = dirname(dir);
    const char *names[2] = {NULL, "tokenizer.bin"};
    char tok[32];
    snprintf(tok, sizeof tok, "tok%d.bin", m->cfg.vocab_size);
    names[0] = tok;
    for (int i = 0; i < 2; i++) {
        snprintf(cand, sizeof cand, "%s/%s", d, names[i]);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            m->tokenizer_path = strdup(cand);
            return;
        }
    }
}

static int read_header(struct qmodel *m, const struct qmap *map, int32_t h[7], struct qerr *err)
{
    if (map->size < L2C_HEADER)
        return qerr_set(err, QERR_FORMAT,
                        "%s: offset 0: file is %zu bytes, too short for a llama2.c header (28) "
                        "and not GGUF or safetensors", map->path, map->size);
    memcpy(h, map->base, L2C_HEADER);
    if ((uint32_t)h[0] == 0x616b3432u)
        return qerr_set(err, QERR_UNSUPP,
                        "%s: llama2.c export version %d ('ak42' magic) is not supported; "
                        "export with --version 0 (legacy)", map->path, h[1]);
    static const char *const field[7] = {"dim", "hidden_dim", "n_layers", "n_heads",
                                         "n_kv_heads", "vocab_size", "seq_len"};
    static const int32_t limit[7] = {1 << 16, 1 << 20, 4096, 4096, 4096, 1 << 22, 1 << 24};
    for (int i = 0; i < 7; i++) {
        int64_t v = i == 5 && h[i] < 0 ? -(int64_t)h[i] : h[i];  /* no overflow at INT32_MIN */
        if (v <= 0 || v > limit[i])
            return qerr_set(err, QERR_FORMAT,
                            "%s: offset %d: header field %s = %d is out of range (1..%d); "
                            "not a llama2.c checkpoint?", map->path, 4 * i, field[i], h[i], limit[i]);
    }
    if (h[0] % h[3] || h[3] % h[4])
        return qerr_set(err, QERR_FORMAT,
                        "%s: header: dim %d, n_heads %d, n_kv_heads %d do not divide",
                        map->path, h[0], h[3], h[4]);
    (void)m;
    return 0;
}

static void fill_config(struct qconfig *c, const int32_t h[7])
{
    snprintf(c->arch, sizeof c->arch, "llama");
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->vocab_size = h[5] < 0 ? -h[5] : h[5];
    c->tied_output = h[5] > 0;
    c->ctx_len = h[6];
    c->head_dim = h[0] / h[3];
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
    c->rope_style = QROPE_INTERLEAVED;
}

/* Keep "<file>: ..." first and say which header the sizes came from. */
static int explain(struct qerr *err, const struct qconfig *c)
{
    if (!err)
        return QERR_FORMAT;
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n,
             " (llama2.c header: dim %d, hidden %d, %d layers, vocab %d%s)", c->dim, c->hidden_dim,
             c->n_layers, c->vocab_size, c->tied_output ? "" : ", unshared classifier");
    return err->code;
}

int llama2c_load(struct qmodel *m, const char *path, struct qerr *err)
{
    int map = qmodel_map_file(m, path, err);
    if (map < 0)
        return map;
    m->format = QF_LLAMA2C;
    int32_t h[7];
    int rc = read_header(m, &m->maps[map], h, err);
    if (rc)
        return rc;
    fill_config(&m->cfg, h);
    const struct qconfig *c = &m->cfg;
    int64_t D = c->dim, H = c->hidden_dim, V = c->vocab_size, L = c->n_layers;
    int64_t Q = (int64_t)c->n_heads * c->head_dim, KV = (int64_t)c->n_kv_heads * c->head_dim;
    struct cursor cur = {m, map, L2C_HEADER};
    if ((rc = add_stack(&cur, "token_embedding_table", "token_embd", -1, V, D, err)) ||
        (rc = add_stack(&cur, "rms_att_weight", "attn_norm", (int)L, 1, D, err)) ||
        (rc = add_stack(&cur, "wq", "attn_q", (int)L, Q, D, err)) ||
        (rc = add_stack(&cur, "wk", "attn_k", (int)L, KV, D, err)) ||
        (rc = add_stack(&cur, "wv", "attn_v", (int)L, KV, D, err)) ||
        (rc = add_stack(&cur, "wo", "attn_output", (int)L, D, Q, err)) ||
        (rc = add_stack(&cur, "rms_ffn_weight", "ffn_norm", (int)L, 1, D, err)) ||
        (rc = add_stack(&cur, "w1", "ffn_gate", (int)L, H, D, err)) ||
        (rc = add_stack(&cur, "w2", "ffn_down", (int)L, D, H, err)) ||
        (rc = add_stack(&cur, "w3", "ffn_up", (int)L, H, D, err)) ||
        (rc = add_stack(&cur, "rms_final_weight", "output_norm", -1, 1, D, err)))
        return explain(err, c);
    /* freq_cis_real / freq_cis_imag: RoPE tables the forward pass recomputes. */
    uint64_t freq_at = cur.off;
    cur.off += 2 * (uint64_t)c->ctx_len * (uint64_t)(c->head_dim / 2) * sizeof(float);
    /* Checked even when nothing follows: a file cut short there is damaged. */
    if (cur.off > m->maps[map].size)
        return qerr_set(err, QERR_FORMAT, "%s: offset %llu: freq_cis tables (seq_len %d) run "
                        "past end of file (size %zu)", path, (unsigned long long)freq_at,
                        c->ctx_len, m->maps[map].size);
    if (!c->tied_output && (rc = add_stack(&cur, "wcls", "output", -1, V, D, err)))
        return explain(err, c);
    find_tokenizer(m, path);
    return 0;
}
