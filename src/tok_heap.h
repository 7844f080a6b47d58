/* tok_heap: binary max-heap of candidate merges of adjacent symbols, shared
 * by the SPM (highest score first) and BPE (lowest rank first) encoders.
 * Ties go to the leftmost pair, as llama.cpp's comparators order them. */
#ifndef QLENS_TOK_HEAP_H
#define QLENS_TOK_HEAP_H

#include <stdlib.h>

struct tok_bigram {
    double prio;          /* SPM: score; BPE: -rank */
    int left, right;      /* symbol indices */
    size_t size;          /* bytes of the merged text when queued */
};

struct tok_heap { struct tok_bigram *a; size_t n, cap; };

static inline int tok_bigram_before(const struct tok_bigram *x, const struct tok_bigram *y)
{
    return x->prio > y->prio || (x->prio == y->prio && x->left < y->left);
}

static inline int tok_heap_push(struct tok_heap *h, struct tok_bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct tok_bigram *p = realloc(h->a, cap * sizeof *p);
        if (!p)
            return -1;
        h->a = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) { /* sift up */
        size_t parent = (i - 1) / 2;
        if (!tok_bigram_before(&b, &h->a[parent]))
            break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = b;
    return 0;
}

static inline struct tok_bigram tok_heap_pop(struct tok_heap *h)
{
    struct tok_bigram top = h->a[0], last = h->a[--h->n];
    size_t i = 0, n = h->n;
    for (;;) { /* sift down */
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && tok_bigram_before(&h->a[c + 1], &h->a[c]))
            c++;
        if (!tok_bigram_before(&h->a[c], &last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n)
        h->a[i] = last;
    return top;
}

/* A symbol in a doubly linked chain over the text being merged. */
struct tok_sym {
    int prev, next;       /* neighbours, -1 at the ends */
    const char *text;     /* start of the symbol's bytes */
    size_t n;             /* bytes; 0 once merged into its left neighbour */
};

#endif
