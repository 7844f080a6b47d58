/* tok_bpe: byte-level BPE exactly as llama.cpp's llm_tokenizer_bpe_session:
 * pre-tokenize into words, map every byte of a word to its GPT-2
 * bytes_to_unicode code point, then repeatedly merge the adjacent pair with
 * the lowest merge rank (leftmost on ties).  Symbols left that are not in
 * the vocabulary emit their single-byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "src/tok_heap.h"
#include "src/tok_internal.h"
#include "src/unicode.h"

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes for U+0100.. in order. */
uint32_t tok_byte_to_cp(unsigned char b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
        return b;
    uint32_t n = 0;
    for (unsigned c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174))
            n++;
    return 256 + n;
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 256)
        return (cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || cp >= 174 ? (int)cp : -1;
    /* the 68 other bytes in increasing order: 0..32, 127..160, 173 */
    uint32_t k = cp - 256;
    return k < 33 ? (int)k : k < 67 ? (int)(127 + k - 33) : k == 67 ? 173 : -1;
}

struct bpe_ctx {
    const struct tokenizer *t;
    const char *text;
    struct tok_vec *out;
    char *word;           /* byte-encoded word, scratch */
    char *key;            /* "left right", scratch */
    size_t cap;
    struct tok_sym *sym;
    size_t n_sym;
    struct tok_heap heap;
    int ref;              /* use the plain reference merge loop */
    char enc[256][4];     /* UTF-8 of each byte's code point */
    unsigned char enc_len[256];
};

/* -rank of the merge "l r"; 0 when the pair is not a merge. */
static int merge_prio(void *ctx, const struct tok_sym *l, const struct tok_sym *r, double *prio)
{
    struct bpe_ctx *c = ctx;
    memcpy(c->key, l->text, l->n);
    c->key[l->n] = ' ';
    memcpy(c->key + l->n + 1, r->text, r->n);
    int rank = tok_map_get(&c->t->merges, c->key, l->n + r->n + 1);
    *prio = -(double)rank;
    return rank >= 0;
}

static int bpe_emit(struct bpe_ctx *c)
{
    const struct tokenizer *t = c->t;
    for (int i = 0; i != -1; i = c->sym[i].next) {
        const struct tok_sym *y = &c->sym[i];
        if (y->n == 0)
            continue;
        int id = tok_map_get(&t->vocab, y->text, y->n);
        if (id >= 0) {
            if (tok_vec_push(c->out, id) < 0)
                return QERR_NOMEM;
            continue;
        }
        for (size_t j = 0; j < y->n; j++) { /* single bytes that are tokens */
            int b = tok_map_get(&t->vocab, y->text + j, 1);
            if (b >= 0 && tok_vec_push(c->out, b) < 0)
                return QERR_NOMEM;
        }
    }
    return 0;
}

static int reserve(struct bpe_ctx *c, size_t n)
{
    if (n <= c->cap)
        return 0;
    size_t cap = n * 2;
    char *w = realloc(c->word, cap), *k = w ? realloc(c->key, cap + 1) : NULL;
    if (w)
        c->word = w;
    if (k)
        c->key = k;
    struct tok_sym *s = k ? realloc(c->sym, cap * sizeof *s) : NULL;
    if (!s)
        return QERR_NOMEM;
    c->sym = s;
    c->cap = cap;
    return 0;
}

static int bpe_word(void *ctx, size_t start, size_t len)
{
    struct bpe_ctx *c = ctx;
    if (reserve(c, 4 * len + 4) < 0)
        return QERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)c->text[start + i];
        memcpy(c->word + n, c->enc[b], c->enc_len[b]);
        n += c->enc_len[b];
    }
    if (c->t->ignore_merges) { /* llama3: a whole word in the vocab wins */
        int id = tok_map_get(&c->t->vocab, c->word, n);
        if (id >= 0)
            return tok_vec_push(c->out, id);
    }
    c->n_sym = 0;
    for (size_t off = 0; off < n;) {
        struct tok_sym *y = &c->sym[c->n_sym];
        size_t cl = ucp_len_utf8((unsigned char)c->word[off]);
        y->text = c->word + off;
        y->n = cl < n - off ? cl : n - off;
        off += y->n;
        y->prev = (int)c->n_sym - 1;
        y->next = off == n ? -1 : (int)c->n_sym + 1;
        c->n_sym++;
    }
    int rc = c->ref ? tok_merge_ref(c->sym, c->n_sym, merge_prio, c)
                    : tok_merge_heap(c->sym, c->n_sym, &c->heap, merge_prio, c);
    return rc < 0 ? rc : bpe_emit(c);
}

static int bpe_encode(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out,
                      int ref)
{
    struct bpe_ctx c = {.t = t, .text = text, .out = out, .ref = ref};
    for (int b = 0; b < 256; b++)
        c.enc_len[b] = (unsigned char)ucp_encode(tok_byte_to_cp((unsigned char)b), c.enc[b]);
    int rc = tok_pretokenize(t->pre, text, len, bpe_word, &c);
    free(c.word);
    free(c.key);
    free(c.sym);
    free(c.heap.a);
    return rc;
}

int tok_bpe_encode(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out)
{
    if (!t->bpe_prefix_space || (len && text[0] == ' '))
        return bpe_encode(t, text, len, out, 0);
    char *sp = malloc(len + 1); /* HF ByteLevel(add_prefix_space) */
    if (!sp)
        return QERR_NOMEM;
    sp[0] = ' ';
    memcpy(sp + 1, text, len);
    int rc = bpe_encode(t, sp, len + 1, out, 0);
    free(sp);
    return rc;
}

int tok_bpe_encode_ref(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out)
{
    return bpe_encode(t, text, len, out, 1);
}
