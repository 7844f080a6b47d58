/* bench_tokenize: encoding speed of the tokenizers against their plain
 * reference loops (llama2.c's rescan-and-merge, O(n^2) per word) in the
 * same run.  Perplexity tokenizes a whole text file in one call, which is
 * one SentencePiece "word", so the priority queue is what makes it usable.
 *
 *   SPM (tok512.bin): fast vs ref on prefixes of tinystories-eval.txt,
 *                     then fast alone on the whole 317 KB file
 *   BPE (gpt-2 vocab): fast vs ref on moby-dick-100k.txt (short words, so
 *                     the two are close; a check that the queue costs little)
 * Median of REPS runs; MB/s, tokens/s and the ratio ref time / fast time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/tok_internal.h"
#include "src/tokenizer.h"
#include "bench/bench.h"

#define REPS 5

typedef int (*enc_fn)(const struct tokenizer *, const char *, size_t, struct tok_vec *);

/* Median seconds of `reps` encodings; *n_tok gets the token count. */
static double time_enc(enc_fn f, const struct tokenizer *t, const char *s, size_t len, int reps,
                       size_t *n_tok)
{
    double ts[REPS];
    for (int r = 0; r < reps; r++) {
        struct tok_vec v = {0};
        double t0 = bench_wall();
        if (f(t, s, len, &v) < 0) {
            fprintf(stderr, "bench_tokenize: encode failed\n");
            exit(4);
        }
        ts[r] = bench_wall() - t0;
        *n_tok = v.n;
        free(v.v);
    }
    bench_sort(ts, reps);
    return ts[reps / 2];
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static struct tokenizer *load(const char *dir, const char *rel)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    struct tokenizer *t;
    struct qerr e = {0};
    if (tok_load_file(&t, p, &e) < 0) {
        fprintf(stderr, "bench_tokenize: %s\n", e.msg);
        exit(3);
    }
    return t;
}

static void row(const char *what, const struct tokenizer *t, enc_fn fast, enc_fn ref,
                const char *s, size_t len)
{
    size_t nf, nr = 0;
    double tf = time_enc(fast, t, s, len, REPS, &nf);
    double tr = ref ? time_enc(ref, t, s, len, len > 20000 ? 1 : 3, &nr) : 0;
    printf("%-26s %8zu B %7zu tok  fast %7.2f MB/s %9.0f tok/s", what, len, nf,
           len / tf / 1e6, nf / tf);
    if (ref)
        printf("  ref %8.3f s  ref/fast %7.1fx%s", tr, tr / tf, nr == nf ? "" : "  (COUNTS DIFFER)");
    printf("\n");
}

int main(void)
{
    const char *dir = getenv("QLENS_SHARED");
    if (!dir || !*dir)
        dir = "../shared";
    char p[4096];
    size_t len, mlen;
    snprintf(p, sizeof p, "%s/data/tinystories-eval.txt", dir);
    char *text = slurp(p, &len);
    snprintf(p, sizeof p, "%s/data/moby-dick-100k.txt", dir);
    char *moby = slurp(p, &mlen);
    if (!text || !moby) {
        fprintf(stderr, "bench_tokenize: shared data not found under %s\n", dir);
        return 3;
    }
    struct tokenizer *spm = load(dir, "models/tok512.bin");
    struct tokenizer *bpe = load(dir, "reference/tokenizer/ggml-vocab-gpt-2.gguf");
    printf("bench_tokenize (median of %d; ref = plain O(n^2) merge loop)\n", REPS);
    static const size_t sizes[] = {4000, 16000, 32000};
    for (int i = 0; i < 3; i++) {
        char what[64];
        snprintf(what, sizeof what, "spm tok512, eval[:%zu]", sizes[i]);
        row(what, spm, tok_spm_encode, tok_spm_encode_ref, text, sizes[i]);
    }
    row("spm tok512, whole eval", spm, tok_spm_encode, NULL, text, len);
    row("bpe gpt-2, moby-dick", bpe, tok_bpe_encode, tok_bpe_encode_ref, moby, mlen);
    tok_free(spm);
    tok_free(bpe);
    free(text);
    free(moby);
    return 0;
}
