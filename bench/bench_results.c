/* bench_results: cost of the results store and of correlation, each beside
 * a baseline measured in the same run.
 *
 *   - load: results_parse of the bundled Li et al. file (668 entries,
 *     ~700 KB; validation, entry building) vs cJSON_Parse of the same text
 *     alone (the floor: any loader must at least parse the JSON);
 *   - save: results_to_json of that store vs cJSON_PrintUnformatted of the
 *     parsed tree;
 *   - correlate: corr_compute (Pearson via GSL + Spearman ranks + fit +
 *     p-values + CI) on N pairs vs corr_pearson_ref, the scalar two-pass
 *     Pearson alone.
 * Median of REPS runs. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/correlate.h"
#include "analysis/results.h"
#include "bench/bench.h"

#define REPS 7
#define NPAIRS 100000

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = '\0';
    fclose(f);
    return b;
}

static void report(const char *what, double t, const char *base, double tb)
{
    printf("%-34s %9.3f ms   %-30s %9.3f ms   ratio %6.2f\n", what, t * 1e3, base, tb * 1e3,
           t / tb);
}

static int bench_store(const char *path)
{
    char *text = slurp(path);
    if (!text) {
        fprintf(stderr, "bench_results: cannot read %s (run from the repository root or "
                "set QLENS_ASSETS)\n", path);
        return 1;
    }
    double tp[REPS], tr[REPS], tw[REPS], tc[REPS];
    int n = 0;
    for (int k = 0; k < REPS; k++) {
        double t0 = bench_wall();
        cJSON *j = cJSON_Parse(text);
        tp[k] = bench_wall() - t0;
        t0 = bench_wall();
        char *c = cJSON_PrintUnformatted(j);
        tc[k] = bench_wall() - t0;
        free(c);
        cJSON_Delete(j);
        struct results_store s;
        struct qerr err;
        results_store_init(&s);
        t0 = bench_wall();
        if (results_parse(&s, text, path, &err)) {
            fprintf(stderr, "bench_results: %s\n", err.msg);
            free(text);
            return 1;
        }
        tr[k] = bench_wall() - t0;
        n = s.n;
        t0 = bench_wall();
        char *w = results_to_json(&s);
        tw[k] = bench_wall() - t0;
        free(w);
        results_store_free(&s);
    }
    printf("store: %s, %d entries, %zu bytes\n", path, n, strlen(text));
    report("results_parse (validate + build)", bench_median(tr, REPS), "cJSON_Parse alone", bench_median(tp, REPS));
    report("results_to_json", bench_median(tw, REPS), "cJSON_PrintUnformatted", bench_median(tc, REPS));
    free(text);
    return 0;
}

static int bench_corr(void)
{
    double *x = malloc(sizeof *x * NPAIRS), *y = malloc(sizeof *y * NPAIRS);
    if (!x || !y)
        return 1;
    unsigned long long r = 88172645463325252ULL;
    for (int i = 0; i < NPAIRS; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (double)(r >> 11) / 9007199254740992.0;
        y[i] = 0.5 * x[i] + (double)((r >> 3) & 1023) / 1024.0;
    }
    double tf[REPS], tb[REPS], sink = 0;
    for (int k = 0; k < REPS; k++) {
        struct corr_result c;
        double t0 = bench_wall();
        corr_compute(x, y, NPAIRS, &c, NULL);
        tf[k] = bench_wall() - t0;
        t0 = bench_wall();
        sink += corr_pearson_ref(x, y, NPAIRS);
        tb[k] = bench_wall() - t0;
        sink += c.r;
    }
    printf("correlate: %d pairs (checksum %.6f)\n", NPAIRS, sink / REPS);
    report("corr_compute (r, rho, p, CI, fit)", bench_median(tf, REPS), "corr_pearson_ref (r only)",
           bench_median(tb, REPS));
    free(x);
    free(y);
    return 0;
}

int main(void)
{
    const char *dir = getenv("QLENS_ASSETS");
    char path[1024];
    snprintf(path, sizeof path, "%s/results/li2024.json", dir && *dir ? dir : "assets");
    int rc = bench_store(path);
    return rc | bench_corr();
}
