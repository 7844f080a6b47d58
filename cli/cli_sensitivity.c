/* qlens sensitivity: per-tensor damage of every candidate configuration
 * (src/sens.h), with the Spearman rank correlation of each cheap proxy
 * against the measured KL; JSON for `qlens plan`. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "analysis/correlate.h"
#include "cli/cli.h"
#include "cli/cli_quant.h"
#include "cli/commands.h"
#include "src/sens.h"

static const char sens_help[] =
    "usage: qlens sensitivity [MODEL] --candidates LIST [--out FILE] [--json]\n"
    "                         [--eval TEXT] [--calib TEXT] [--ctx N] [--chunks N] ...\n\n"
    "For every linear tensor of every block (attn_q/k/v/output, ffn_gate/up/down)\n"
    "and every candidate, quantize ONLY that tensor and measure against the float\n"
    "model on the evaluation text: KL divergence mean and p99, top-1 agreement\n"
    "(the float logits are computed once), and three cheap proxies from one float\n"
    "calibration pass: out_err2 = ||(W-Wq)X||^2 over the calibration tokens (from\n"
    "X^T X), imp_mse = sum (W-Wq)^2 mean(x^2) per column, mse = sum (W-Wq)^2.\n"
    "Prints the Spearman rank correlation of each proxy with the measured KL.\n\n"
    "  --candidates LIST  comma-separated method[:bits[:group]], e.g.\n"
    "                     q4_k,q3_k,q2_k,q6_k or rtn:4:32,rtn:3:32,gptq:4:128\n"
    "                     (group: a size, row or tensor; ggml types take neither)\n"
    "  --out FILE         write the JSON result (atomically) for `qlens plan --sens`\n"
    "  --json             the JSON result on stdout instead of the table\n"
    "  --no-cache         measure every cell, neither read nor write the cache\n"
    "  --cache-dir DIR    the cache folder (default $QLENS_CACHE_DIR, else\n"
    "                     $XDG_CACHE_HOME/qlens, else ~/.cache/qlens)\n"
    "  --threads N        threads for the cells (default: one per CPU, at most 8);\n"
    "                     cells run in parallel, each on its own forward pass\n"
    "  --cell-threads N   cells at once (default: every thread one cell; 1 = one\n"
    "                     cell at a time, its evaluation on two chunk workers);\n"
    "                     the numbers are the same either way\n\n"
    "Cells are cached under the cache folder's sens/, keyed by the model file\n"
    "(path, size, mtime, a hash of its first and last 64 KiB), the texts (hash\n"
    "of their tokens) and the settings (--ctx, --chunks, --calib-ctx,\n"
    "--calib-chunks, --imatrix); a candidate's cells are reused when its spec\n"
    "matches.  A changed model or text is reported and recomputed, never used.\n\n";

struct sens_args {
    struct qcli_opts c;
    const char *cands, *out, *cache_dir;
    int no_cache;
    int threads, cell_threads;
};

/* A thread count, 1..SENS_MAX_THREADS. */
static int count_opt(const char *opt, const char *v, int *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || end == v || *end || n < 1 || n > SENS_MAX_THREADS)
        return cli_usage_error("sensitivity", "%s wants a count 1..%d (got '%s')", opt,
                               SENS_MAX_THREADS, v ? v : ""), -1;
    *out = (int)n;
    return 0;
}

static int parse(int argc, char **argv, struct sens_args *a)
{
    memset(a, 0, sizeof *a);
    qcli_opts_default(&a->c, "sensitivity");
    for (int i = 1; i < argc; i++) {
        int rc = qcli_parse_common(&a->c, argc, argv, &i);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        const char **sp = !strcmp(argv[i], "--candidates") ? &a->cands
                        : !strcmp(argv[i], "--out") ? &a->out
                        : !strcmp(argv[i], "--cache-dir") ? &a->cache_dir : NULL;
        int *np = !strcmp(argv[i], "--threads") ? &a->threads
                : !strcmp(argv[i], "--cell-threads") ? &a->cell_threads : NULL;
        if (!strcmp(argv[i], "--no-cache"))
            a->no_cache = 1;
        else if (np) {
            if (count_opt(argv[i], i + 1 < argc ? argv[i + 1] : NULL, np) < 0)
                return -1;
            i++;
        } else if (sp) {
            if (i + 1 >= argc)
                return cli_usage_error("sensitivity", "%s wants a value", argv[i]), -1;
            *sp = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("sensitivity", "unknown option '%s'", argv[i]), -1;
        else if (a->c.model)
            return cli_usage_error("sensitivity", "too many arguments ('%s')", argv[i]), -1;
        else
            a->c.model = argv[i];
    }
    if (!a->cands)
        return cli_usage_error("sensitivity", "--candidates is required (e.g. q4_k,q3_k,q2_k)"),
               -1;
    return 0;
}

static int progress(void *ud, const struct sens_progress *p)
{
    (void)ud;
    if (p->phase == SENS_PH_CALIB)
        fprintf(stderr, "\r\033[Ksensitivity: calibration pass");
    else if (p->phase == SENS_PH_FLOAT)
        fprintf(stderr, "\r\033[Ksensitivity: float logits");
    else if (p->phase == SENS_PH_CELLS) {
        fprintf(stderr, "\r\033[Ksensitivity %d/%d: %s %s", p->done + 1, p->total, p->tensor,
                p->cand);
        if (p->eta >= 0)
            fprintf(stderr, "  ETA %.0f s", p->eta);
    }
    return 0; /* Ctrl-C sets the environment's cancel flag */
}

/* Spearman rho of proxy field `off` vs kl_mean over finished cells; NAN
 * when undefined (fewer than 3 cells, a constant column). */
static double spearman(const struct sens *s, size_t off)
{
    size_t n = (size_t)s->n_t * s->n_c, k = 0;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double rho = NAN;
    if (x && y) {
        for (size_t i = 0; i < n; i++)
            if (s->cell[i].done) {
                x[k] = *(const double *)((const char *)&s->cell[i] + off);
                y[k++] = s->cell[i].kl_mean;
            }
        struct corr_result r;
        struct qerr err = {0};
        if (corr_compute(x, y, k, &r, &err) == 0)
            rho = r.rho;
    }
    free(x);
    free(y);
    return rho;
}

static const struct { const char *name; size_t off; } proxy_fields[] = {
    {"out_err2", offsetof(struct sens_cell, out_err2)},
    {"imp_mse", offsetof(struct sens_cell, imp_mse)},
    {"mse", offsetof(struct sens_cell, mse)},
};
#define N_PROXY ((int)(sizeof proxy_fields / sizeof proxy_fields[0]))

static void jnum(FILE *f, const char *key, double v)
{
    fprintf(f, ",\"%s\":", key);
    cli_json_num(f, v);
}

static void json_cell(FILE *f, const struct sens *s, int ti, int ci)
{
    const struct sens_cell *c = &s->cell[(size_t)ti * s->n_c + ci];
    fprintf(f, "%s{\"candidate\":", ci ? "," : "");
    cli_json_str(f, s->c[ci].label);
    jnum(f, "bits", c->bits);
    jnum(f, "bits_per_weight", c->bpw);
    jnum(f, "kl_mean", c->kl_mean);
    jnum(f, "kl_p99", c->kl_p99);
    jnum(f, "top1", c->top1);
    jnum(f, "ppl", c->ppl);
    jnum(f, "out_err2", c->out_err2);
    jnum(f, "imp_mse", c->imp_mse);
    jnum(f, "mse", c->mse);
    fputc('}', f);
}

static void write_json(FILE *f, const struct pipe_env *e, const struct sens *s)
{
    fprintf(f, "{\"qlens\":\"sensitivity\",\"model\":");
    cli_json_str(f, e->mp->path);
    fprintf(f, ",\"eval\":{\"text\":");
    cli_json_str(f, e->eval_path);
    fprintf(f, ",\"tokens\":%zu,\"chunks\":%d,\"ctx\":%d,\"scored\":%zu},\"calib\":{\"text\":",
            e->n_eval, s->base.n_chunks, s->base.n_ctx, s->base.n_scored);
    cli_json_str(f, e->calib_path);
    fprintf(f, ",\"chunks\":%d,\"ctx\":%d}", s->calib_chunks, s->calib_ctx);
    jnum(f, "ppl_float", s->base.ppl);
    fprintf(f, ",\"candidates\":[");
    for (int ci = 0; ci < s->n_c; ci++) {
        char sp[256];
        quant_spec_format(&s->c[ci].spec, sp, sizeof sp);
        fprintf(f, "%s{\"name\":", ci ? "," : "");
        cli_json_str(f, s->c[ci].label);
        fprintf(f, ",\"spec\":");
        cli_json_str(f, sp);
        fputc('}', f);
    }
    fprintf(f, "],\"tensors\":[");
    for (int ti = 0; ti < s->n_t; ti++) {
        const struct sens_tensor *t = &s->t[ti];
        fprintf(f, "%s{\"name\":", ti ? "," : "");
        cli_json_str(f, t->name);
        fprintf(f, ",\"layer\":%d,\"role\":\"%s\",\"rows\":%d,\"cols\":%d,\"results\":[",
                t->layer, qrole_name(t->role), t->rows, t->cols);
        for (int ci = 0; ci < s->n_c; ci++)
            json_cell(f, s, ti, ci);
        fprintf(f, "]}");
    }
    fprintf(f, "],\"spearman_vs_kl\":{");
    for (int p = 0; p < N_PROXY; p++) {
        fprintf(f, "%s\"%s\":", p ? "," : "", proxy_fields[p].name);
        cli_json_num(f, spearman(s, proxy_fields[p].off));
    }
    fprintf(f, "},\"cache\":{\"file\":");
    cli_json_str(f, s->cache_path);
    fprintf(f, ",\"reused\":%d,\"computed\":%d}", s->n_reused, s->n_computed);
    fprintf(f, ",\"seconds\":{\"calib\":");
    cli_json_num(f, s->seconds_calib);
    jnum(f, "float", s->seconds_float);
    jnum(f, "cells", s->seconds_cells);
    fprintf(f, "},\"cells_at_once\":%d}\n", s->cell_threads);
}

static void print_text(const struct pipe_env *e, const struct sens *s)
{
    printf("model   %s\neval    %s: %d chunks x %d tokens, %zu scored; float PPL %.4f\n",
           e->mp->path, e->eval_path, s->base.n_chunks, s->base.n_ctx, s->base.n_scored,
           s->base.ppl);
    printf("calib   %s: %d chunks x %d tokens\n\nKL mean when only this tensor is quantized "
           "(bits/weight in the header row of each tensor)\n%-22s", e->calib_path,
           s->calib_chunks, s->calib_ctx, "tensor");
    for (int ci = 0; ci < s->n_c; ci++)
        printf(" %12s", s->c[ci].label);
    printf("\n");
    for (int ti = 0; ti < s->n_t; ti++) {
        printf("%-22s", s->t[ti].name);
        for (int ci = 0; ci < s->n_c; ci++) {
            const struct sens_cell *c = &s->cell[(size_t)ti * s->n_c + ci];
            printf(" %5.2f:%-6.4f", c->bpw, c->kl_mean);
        }
        printf("\n");
    }
    printf("\nSpearman rho of each proxy vs the measured KL mean (%d cells):\n",
           s->n_t * s->n_c);
    for (int p = 0; p < N_PROXY; p++)
        printf("  %-9s %.4f\n", proxy_fields[p].name, spearman(s, proxy_fields[p].off));
    printf("time    calibration %.2f s, float evaluation %.2f s, ", s->seconds_calib,
           s->seconds_float);
    if (s->n_computed)
        printf("%d at once: ", s->cell_threads);
    printf("%d cells %.2f s", s->n_computed, s->seconds_cells);
    if (s->n_reused)
        printf(" (+ %d from the cache)", s->n_reused);
    printf("\n");
}

/* On stderr, so the table and the JSON stay what they were. */
static void report_cache(const struct sens *s)
{
    if (s->cache_note[0])
        fprintf(stderr, "qlens sensitivity: %s\n", s->cache_note);
    if (s->n_reused)
        fprintf(stderr, "qlens sensitivity: %d of %d cells from the cache %s\n", s->n_reused,
                s->n_t * s->n_c, s->cache_path);
}

static int save(const char *path, const struct pipe_env *e, const struct sens *s,
                struct qerr *err)
{
    struct afile af;
    int rc = afile_open(&af, path, err);
    if (rc)
        return rc;
    write_json(af.f, e, s);
    return afile_commit(&af, err);
}

int cmd_sensitivity(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(sens_help, stdout);
        fputs(qcli_common_help, stdout);
        return EXIT_OK;
    }
    struct sens_args a;
    if (parse(argc, argv, &a) < 0)
        return EXIT_USAGE;
    struct qerr err = {0};
    struct sens_cand *cands;
    int n_c;
    if (sens_parse_cands(a.cands, &cands, &n_c, &err))
        return cli_usage_error("sensitivity", "%s", err.msg);
    if (a.out) {
        char tgt[4096];
        if (afile_target(a.out, tgt, sizeof tgt, &err) < 0) {
            free(cands);
            return cli_fail(&err);
        }
    }
    infer_catch_sigint();
    struct pipe_env e;
    struct sens s;
    memset(&s, 0, sizeof s);
    struct pipe_opts po;
    struct sens_ctl ctl = {isatty(2) ? progress : NULL, NULL, !a.no_cache, a.cache_dir,
                           a.threads, a.cell_threads};
    qcli_pipe_opts(&a.c, &po);
    int rc = qcli_setup(&e, &a.c, &err);
    e.cb.eval = NULL, e.cb.quant = NULL; /* the line above is the progress; Ctrl-C is cb.cancel */
    if (!rc)
        rc = sens_run(&s, &e, &po, cands, n_c, &ctl, &err);
    else
        free(cands);
    if (isatty(2))
        fputs("\r\033[K", stderr);
    report_cache(&s);
    if (e.cache_missed_mib > 0)
        fprintf(stderr, "qlens sensitivity: the float logits of the evaluation chunks (%.0f MiB) "
                "do not fit in --kl-cache-mib %ld: the float model runs again for each cell\n",
                e.cache_missed_mib, a.c.kl_cache_mib);
    if (!rc && a.out)
        rc = save(a.out, &e, &s, &err);
    if (!rc && a.c.json)
        write_json(stdout, &e, &s);
    else if (!rc)
        print_text(&e, &s);
    sens_free(&s);
    qcli_teardown(&e);
    return rc ? cli_fail(&err) : EXIT_OK;
}
