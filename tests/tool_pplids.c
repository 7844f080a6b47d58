/* tool_pplids: qlens's perplexity (src/ppl.c, llama-perplexity's method)
 * of a model on given token ids, so that an outside implementation fed the
 * same ids (tests/llamacpp_ppl.mjs: llama.cpp) is compared on the forward
 * pass alone, without a tokenizer.
 *
 *   tool_pplids MODEL IDS N_CTX N_CHUNKS
 * IDS: a file of integers separated by spaces, commas or brackets.
 * Prints {"ppl": P, "scored": N}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/forward.h"
#include "src/model.h"
#include "src/ppl.h"

static int *read_ids(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    size_t cap = 1024;
    int *v = malloc(cap * sizeof *v);
    *n = 0;
    if (!f || !v) {
        if (f)
            fclose(f);
        free(v);
        return NULL;
    }
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (c < '0' || c > '9')
            continue;
        long x = c - '0';
        while ((c = fgetc(f)) >= '0' && c <= '9' && x < 100000000)
            x = x * 10 + (c - '0');
        if (*n == cap) {
            int *t = realloc(v, (cap *= 2) * sizeof *v);
            if (!t)
                break;
            v = t;
        }
        v[(*n)++] = (int)x;
    }
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: tool_pplids MODEL IDS N_CTX N_CHUNKS\n");
        return 2;
    }
    struct qmodel m;
    struct qerr err = {0};
    size_t n = 0;
    int *ids = read_ids(argv[2], &n), n_ctx = atoi(argv[3]);
    if (!ids || n < 2 || n_ctx < 2) {
        fprintf(stderr, "tool_pplids: %s: no token ids\n", argv[2]);
        return 1;
    }
    if (qmodel_open(&m, argv[1], &err)) {
        fprintf(stderr, "tool_pplids: %s\n", err.msg);
        return 1;
    }
    struct fwd f;
    struct ppl_result r;
    struct ppl_opts o = {.n_ctx = n_ctx, .max_chunks = atoi(argv[4]), .bos = 1};
    int rc = fwd_init(&f, &m, n_ctx, &err);
    if (!rc)
        rc = ppl_run(&f, ids, n, &o, &r, &err);
    if (rc)
        fprintf(stderr, "tool_pplids: %s\n", err.msg);
    else
        printf("{\"ppl\": %.10g, \"scored\": %lld}\n", r.ppl, (long long)r.n_scored);
    if (!rc)
        fwd_free(&f);
    qmodel_close(&m);
    free(ids);
    return rc ? 1 : 0;
}
