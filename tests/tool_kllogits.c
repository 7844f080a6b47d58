/* tool_kllogits: qlens's raw logits of the positions a llama.cpp
 * --kl-divergence-base file holds (n_ctx/2 .. n_ctx-2 of each of its
 * chunks, the first token of a chunk set to BOS = 1), so an outside
 * reimplementation of llama.cpp's KL statistics (tests/kl_ref.py) can be
 * fed exactly the candidate logits qlens scores.
 *
 *   tool_kllogits MODEL BASE.kl OUT.f32
 * OUT: float32, (n_chunk * (n_ctx - 1 - n_ctx/2), n_vocab). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/forward.h"
#include "src/klfile.h"
#include "src/model.h"

static int dump(struct qmodel *m, const struct klfile *k, FILE *out, struct qerr *err)
{
    struct fwd f;
    int rc = fwd_init(&f, m, k->n_ctx, err), first = k->n_ctx / 2;
    if (rc)
        return rc;
    size_t row = (size_t)k->n_vocab;
    float *lg = malloc((size_t)(k->n_ctx - first) * row * sizeof *lg);
    int *toks = malloc((size_t)k->n_ctx * sizeof *toks);
    for (int c = 0; !rc && c < k->n_chunk; c++) {
        memcpy(toks, k->tokens + (size_t)c * k->n_ctx, (size_t)k->n_ctx * sizeof *toks);
        toks[0] = 1;
        rc = fwd_chunk_from(&f, toks, k->n_ctx, first, lg, NULL);
        if (rc)
            qerr_set(err, rc, "%s", f.err.msg);
        else if (fwrite(lg, sizeof *lg * row, (size_t)k->rows, out) != (size_t)k->rows)
            rc = qerr_set(err, QERR_IO, "cannot write");
    }
    free(lg);
    free(toks);
    fwd_free(&f);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tool_kllogits MODEL BASE.kl OUT.f32\n");
        return 2;
    }
    struct qmodel m;
    struct klfile k;
    struct qerr err = {0};
    if (klfile_open(&k, argv[2], &err) || qmodel_open(&m, argv[1], &err)) {
        fprintf(stderr, "tool_kllogits: %s\n", err.msg);
        return 1;
    }
    FILE *out = fopen(argv[3], "wb");
    int rc = out ? dump(&m, &k, out, &err) : qerr_set(&err, QERR_IO, "%s: cannot create", argv[3]);
    if (out && fclose(out) != 0 && !rc)
        rc = qerr_set(&err, QERR_IO, "%s: cannot write", argv[3]);
    if (rc)
        fprintf(stderr, "tool_kllogits: %s\n", err.msg);
    qmodel_close(&m);
    klfile_close(&k);
    return rc ? 1 : 0;
}
