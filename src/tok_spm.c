/* tok_spm: SentencePiece-style encoding exactly as llama.cpp's
 * llm_tokenizer_spm_session: split the escaped text into UTF-8 characters,
 * then repeatedly merge the adjacent pair whose concatenation is the
 * highest-scoring vocabulary piece (leftmost on ties), O(n log n) with a
 * priority queue; leftover characters not in the vocabulary fall back to
 * their <0xNN> byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "src/tok_heap.h"
#include "src/tok_internal.h"
#include "src/unicode.h"

struct spm_session {
    const struct tokenizer *t;
    char *key;            /* "left right" scratch for rank lookups */
    struct tok_sym *sym;  /* (n_sym) */
    size_t n_sym;
    struct tok_heap heap;
};

/* Priority of merging symbols [l, l+ln) and [l+ln, l+ln+rn) (adjacent,
 * so contiguous); 0 when they cannot merge. */
static int pair_prio(const struct tokenizer *t, const char *l, size_t ln, size_t rn, char *key,
                     double *prio)
{
    if (t->spm_by_rank) { /* HF BPE: the pair must be a listed merge */
        memcpy(key, l, ln);
        key[ln] = ' ';
        memcpy(key + ln + 1, l + ln, rn);
        int rank = tok_map_get(&t->merges, key, ln + rn + 1);
        *prio = -(double)rank;
        return rank >= 0;
    }
    int id = tok_map_get(&t->vocab, l, ln + rn);
    if (id >= 0)
        *prio = t->score[id];
    return id >= 0;
}

static int ref_prio(void *ctx, const struct tok_sym *l, const struct tok_sym *r, double *prio)
{
    struct spm_session *s = ctx;
    return pair_prio(s->t, l->text, l->n, r->n, s->key, prio);
}

static int spm_merge(struct spm_session *s)
{
    return tok_merge_heap(s->sym, s->n_sym, &s->heap, ref_prio, s);
}

/* Reference for spm_merge: llama2.c's plain loop (rescan, merge the best). */
static int spm_merge_ref(struct spm_session *s)
{
    return tok_merge_ref(s->sym, s->n_sym, ref_prio, s);
}

static int push_pair(struct tok_sym *sym, struct tok_heap *heap, int left, int right,
                     tok_prio_fn prio, void *ctx)
{
    if (left < 0 || right < 0)
        return 0;
    struct tok_bigram b = {.left = left, .right = right, .size = sym[left].n + sym[right].n};
    if (!prio(ctx, &sym[left], &sym[right], &b.prio))
        return 0;
    return tok_heap_push(heap, b) < 0 ? QERR_NOMEM : 0;
}

int tok_merge_heap(struct tok_sym *sym, size_t n, struct tok_heap *heap, tok_prio_fn prio,
                   void *ctx)
{
    heap->n = 0;
    for (size_t i = 1; i < n; i++)
        if (push_pair(sym, heap, (int)i - 1, (int)i, prio, ctx) < 0)
            return QERR_NOMEM;
    while (heap->n) {
        struct tok_bigram b = tok_heap_pop(heap);
        struct tok_sym *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue; /* stale: one side merged since */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = b.left;
        if (push_pair(sym, heap, l->prev, b.left, prio, ctx) < 0 ||
            push_pair(sym, heap, b.left, l->next, prio, ctx) < 0)
            return QERR_NOMEM;
    }
    return 0;
}

int tok_merge_ref(struct tok_sym *sym, size_t n, tok_prio_fn prio, void *ctx)
{
    if (n == 0)
        return 0;
    double *pr = malloc((n + 1) * sizeof *pr); /* pr[i]: pair (i, next(i)) */
    char *ok = malloc(n + 1);
    if (!pr || !ok) {
        free(pr);
        free(ok);
        return QERR_NOMEM;
    }
    for (size_t i = 0; i + 1 < n; i++)
        ok[i] = (char)prio(ctx, &sym[i], &sym[i + 1], &pr[i]);
    ok[n - 1] = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i != -1; i = sym[i].next) /* leftmost wins ties */
            if (ok[i] && (best < 0 || pr[i] > pr[best]))
                best = i;
        if (best < 0)
            break;
        struct tok_sym *l = &sym[best], *r = &sym[l->next];
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = best;
        ok[best] = l->next >= 0 && prio(ctx, l, &sym[l->next], &pr[best]);
        if (l->prev >= 0)
            ok[l->prev] = (char)prio(ctx, &sym[l->prev], l, &pr[l->prev]);
    }
    free(pr);
    free(ok);
    return 0;
}

static int spm_emit(const struct spm_session *s, struct tok_vec *out)
{
    const struct tokenizer *t = s->t;
    for (int i = 0; i != -1; i = s->sym[i].next) {
        const struct tok_sym *y = &s->sym[i];
        int id = tok_map_get(&t->vocab, y->text, y->n);
        if (id >= 0) {
            if (tok_vec_push(out, id) < 0)
                return QERR_NOMEM;
            continue;
        }
        for (size_t j = 0; j < y->n; j++) { /* byte fallback */
            int b = t->byte_id[(unsigned char)y->text[j]];
            if (tok_vec_push(out, b >= 0 ? b : (t->unk >= 0 ? t->unk : 0)) < 0)
                return QERR_NOMEM;
        }
    }
    return 0;
}

/* " " + text with every space as U+2581 (llama_escape_whitespace). */
static char *spm_escape(const char *text, size_t len, int prefix, size_t *out_n)
{
    size_t spaces = (size_t)prefix;
    for (size_t i = 0; i < len; i++)
        spaces += text[i] == ' ';
    char *e = malloc(len + 3 * spaces + 1);
    if (!e)
        return NULL;
    size_t k = 0;
    if (prefix) {
        memcpy(e, "\xe2\x96\x81", 3);
        k = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(e + k, "\xe2\x96\x81", 3);
            k += 3;
        } else {
            e[k++] = text[i];
        }
    }
    *out_n = k;
    return e;
}

static char *spm_copy(const char *text, size_t len, size_t *out_n)
{
    char *e = malloc(len + 1);
    if (e)
        memcpy(e, text, len);
    *out_n = len;
    return e;
}

/* Merge and emit one span of escaped text. */
static int spm_span(struct spm_session *s, char *e, size_t n, struct tok_vec *out, int ref)
{
    int rc = 0;
    s->n_sym = 0;
    for (size_t off = 0; off < n;) { /* one symbol per UTF-8 character */
        size_t cl = ucp_len_utf8((unsigned char)e[off]);
        struct tok_sym *y = &s->sym[s->n_sym];
        y->text = e + off;
        y->n = cl < n - off ? cl : n - off;
        off += y->n;
        y->prev = (int)s->n_sym - 1;
        y->next = off == n ? -1 : (int)s->n_sym + 1;
        s->n_sym++;
    }
    if (s->n_sym) {
        rc = ref ? spm_merge_ref(s) : spm_merge(s);
        if (rc == 0)
            rc = spm_emit(s, out);
    }
    return rc;
}

static int spm_encode(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out,
                      int ref, int prefix)
{
    size_t n;
    char *e = prefix >= 0 ? spm_escape(text, len, prefix, &n) : spm_copy(text, len, &n);
    if (!e)
        return QERR_NOMEM;
    struct spm_session s = {.t = t};
    s.sym = malloc((n + 1) * sizeof *s.sym);
    s.key = malloc(n + 2);
    int rc = s.sym && s.key ? 0 : QERR_NOMEM;
    size_t start = 0;
    for (size_t i = 0; rc == 0 && i <= n; i++) {
        /* words end before each U+2581 (Metaspace split) or at the end */
        int cut = i == n || (t->split_words && i > start && i + 3 <= n &&
                             !memcmp(e + i, "\xe2\x96\x81", 3));
        if (cut) {
            rc = spm_span(&s, e + start, i - start, out, ref);
            start = i;
        }
    }
    free(s.heap.a);
    free(s.sym);
    free(s.key);
    free(e);
    return rc;
}

int tok_spm_encode(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out)
{
    return spm_encode(t, text, len, out, 0, t->add_space_prefix);
}

int tok_spm_encode_frag(const struct tokenizer *t, const char *text, size_t len, int prefix,
                        struct tok_vec *out)
{
    return spm_encode(t, text, len, out, 0, prefix);
}

int tok_spm_encode_raw(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out)
{
    return spm_encode(t, text, len, out, 0, -1); /* prefix -1: no escaping */
}

int tok_spm_encode_ref(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out)
{
    return spm_encode(t, text, len, out, 1, t->add_space_prefix);
}
