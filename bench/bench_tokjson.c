/* bench_tokjson: tokenizer.json encoding speed against the JS tokenizer
 * (@lenml/tokenizers, a fork of transformers.js, run by node through
 * tests/tokjson_ref.js --bench) in the same run, on the same texts: every
 * paragraph of moby-dick-100k.txt and tinystories-eval.txt, each encoded
 * without BOS.  Both sides: median of 3 timed passes after a warm-up, load
 * time excluded.  Uses the npm packages tests/e2e_tokjson.sh fetched into
 * $QLENS_NPM_CACHE (default ~/.cache/qlens/npm); says so and skips when
 * they or node are missing.  Prints tokens/s of each and qlens / JS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "bench/bench.h"
#include "src/tokenizer.h"

#define VER "3.7.2"
#define REPS 3

/* The texts, NUL-separated, written to `path`; returns their count. */
static int write_texts(const char *shared, const char *path)
{
    static const char *files[] = {"moby-dick-100k.txt", "tinystories-eval.txt"};
    FILE *o = fopen(path, "wb");
    int n = 0;
    for (size_t f = 0; o && f < 2; f++) {
        char p[1024];
        size_t len;
        struct qerr err = {0};
        snprintf(p, sizeof p, "%s/data/%s", shared, files[f]);
        char *buf = afile_read(p, 0, &len, &err);
        if (!buf) {
            fclose(o);
            return -1;
        }
        for (size_t i = 0; i < len;) { /* paragraphs: split at "\n\n" */
            const char *e = memmem(buf + i, len - i, "\n\n", 2);
            size_t end = e ? (size_t)(e - buf) : len;
            if (n++)
                fputc('\0', o);
            fwrite(buf + i, 1, end - i, o);
            i = e ? end + 2 : len;
        }
        free(buf);
    }
    return o && fclose(o) == 0 ? n : -1;
}

/* Median seconds of encoding every text; *n_tok the token count. */
static double time_qlens(const struct tokenizer *t, const char *buf, size_t len, size_t *n_tok)
{
    double ts[REPS];
    for (int r = 0; r < REPS; r++) {
        size_t total = 0;
        double t0 = bench_wall();
        for (size_t i = 0; i <= len;) {
            const char *z = memchr(buf + i, '\0', len - i);
            size_t end = z ? (size_t)(z - buf) : len, n;
            int *ids;
            if (tok_encode(t, buf + i, end - i, 0, &ids, &n, NULL) < 0) {
                fprintf(stderr, "bench_tokjson: encode failed\n");
                exit(4);
            }
            total += n;
            free(ids);
            i = end + 1;
        }
        ts[r] = bench_wall() - t0;
        *n_tok = total;
    }
    bench_sort(ts, REPS);
    return ts[REPS / 2];
}

static int time_js(const char *cache, const char *fam, const char *texts, double *secs, size_t *n_tok)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "node tests/tokjson_ref.js '%s/lenml-tokenizers-" VER "/package/dist/main.js' "
             "'%s/lenml-tokenizer-%s-" VER "/package/models' '%s' --bench 2>/dev/null",
             cache, cache, fam, texts);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int ok = fscanf(p, "%zu %lf", n_tok, secs) == 2;
    return pclose(p) == 0 && ok ? 0 : -1;
}

int main(void)
{
    static const char *fams[] = {"llama2", "llama3", "qwen3", "gemma3", "deepseek_v3", "gptoss"};
    const char *shared = getenv("QLENS_SHARED") ? getenv("QLENS_SHARED") : "../shared";
    const char *home = getenv("HOME") ? getenv("HOME") : ".";
    char cache[1024], texts[] = "/tmp/bench_tokjson.XXXXXX", probe[1200];
    if (getenv("QLENS_NPM_CACHE"))
        snprintf(cache, sizeof cache, "%s", getenv("QLENS_NPM_CACHE"));
    else
        snprintf(cache, sizeof cache, "%s/.cache/qlens/npm", home);
    snprintf(probe, sizeof probe, "%s/lenml-tokenizers-" VER "/package/dist/main.js", cache);
    FILE *f = fopen(probe, "r");
    if (!f || system("node --version >/dev/null 2>&1") != 0) {
        printf("skip: no node or no npm packages in %s (tests/e2e_tokjson.sh fetches them)\n", cache);
        if (f)
            fclose(f);
        return 0;
    }
    fclose(f);
    int fd = mkstemp(texts);
    if (fd < 0 || write_texts(shared, texts) < 0) {
        fprintf(stderr, "bench_tokjson: cannot write the texts (%s)\n", shared);
        return 3;
    }
    size_t len;
    struct qerr err = {0};
    char *buf = afile_read(texts, 0, &len, &err);
    printf("%-12s %-12s %12s %12s %10s\n", "package", "family", "qlens tok/s", "JS tok/s", "qlens/JS");
    for (size_t i = 0; buf && i < sizeof fams / sizeof *fams; i++) {
        char path[1200];
        struct tokenizer *t;
        snprintf(path, sizeof path, "%s/lenml-tokenizer-%s-" VER "/package/models/tokenizer.json",
                 cache, fams[i]);
        if (tok_load_file(&t, path, &err) < 0) {
            printf("%-12s skip: %s\n", fams[i], err.msg);
            continue;
        }
        size_t nq, nj;
        double sq = time_qlens(t, buf, len, &nq), sj;
        if (time_js(cache, fams[i], texts, &sj, &nj) < 0)
            printf("%-12s %-12s %12.0f %12s %10s\n", fams[i], tok_family(t), nq / sq, "failed", "-");
        else
            printf("%-12s %-12s %12.0f %12.0f %9.1fx%s\n", fams[i], tok_family(t), nq / sq, nj / sj,
                   (nq / sq) / (nj / sj), nq == nj ? "" : "  (token counts differ!)");
        tok_free(t);
    }
    free(buf);
    close(fd);
    remove(texts);
    return 0;
}
