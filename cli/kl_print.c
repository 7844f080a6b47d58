/* kl_print: llama.cpp's KL report (see kl_print.h). */
#include "cli/kl_print.h"

#include "cli/cli.h"

static void pct_line(FILE *f, const char *label, const char *what, double v, double scale,
                     int pct)
{
    if (pct)
        fprintf(f, "%-8s%s: %6.3f%%\n", label, what, scale * v);
    else
        fprintf(f, "%-8s%s: %10.6f\n", label, what, v);
}

/* Percentile lines, largest first; the Δp block also has 75% and 25%. */
static void dist_lines(FILE *f, const struct ppl_dist *d, const char *what, int pct)
{
    double s = pct ? 100.0 : 1.0;
    pct_line(f, "Maximum", what, d->max, s, pct);
    pct_line(f, "99.9%", what, d->p999, s, pct);
    pct_line(f, "99.0%", what, d->p99, s, pct);
    pct_line(f, "95.0%", what, d->p95, s, pct);
    pct_line(f, "90.0%", what, d->p90, s, pct);
    if (pct)
        pct_line(f, "75.0%", what, d->p75, s, pct);
    pct_line(f, "Median", what, d->median, s, pct);
    if (pct)
        pct_line(f, "25.0%", what, d->p25, s, pct);
    pct_line(f, "10.0%", what, d->p10, s, pct);
    pct_line(f, " 5.0%", what, d->p05, s, pct);
    pct_line(f, " 1.0%", what, d->p01, s, pct);
    pct_line(f, " 0.1%", what, d->p001, s, pct);
    pct_line(f, "Minimum", what, d->min, s, pct);
}

void kl_print_text(FILE *f, const struct ppl_result *r)
{
    fprintf(f, "====== Perplexity statistics ======\n");
    fprintf(f, "Mean PPL(Q)                   : %10.6f ± %10.6f\n", r->ppl, r->ppl_stderr);
    fprintf(f, "Mean PPL(base)                : %10.6f ± %10.6f\n", r->base_ppl,
            r->base_ppl_stderr);
    fprintf(f, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100 * r->nll_cor);
    fprintf(f, "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", r->ln_ppl_ratio,
            r->ln_ppl_ratio_stderr);
    fprintf(f, "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", r->ppl_ratio,
            r->ppl_ratio_stderr);
    fprintf(f, "Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n\n", r->ppl_diff,
            r->ppl_diff_stderr);
    fprintf(f, "====== KL divergence statistics ======\n");
    fprintf(f, "Mean    KLD: %10.6f ± %10.6f\n", r->kld.mean, r->kld.stderr_mean);
    dist_lines(f, &r->kld, "KLD", 0);
    fprintf(f, "\n====== Token probability statistics ======\n");
    fprintf(f, "Mean    Δp: %6.3f ± %5.3f %%\n", 100 * r->dp.mean, 100 * r->dp.stderr_mean);
    dist_lines(f, &r->dp, "Δp", 1);
    fprintf(f, "RMS Δp    : %6.3f ± %5.3f %%\n", 100 * r->dp.rms, 100 * r->dp.rms_stderr);
    fprintf(f, "Same top p: %6.3f ± %5.3f %%\n", 100 * r->top1, 100 * r->top1_stderr);
}

static void num(FILE *f, const char *key, double v)
{
    fprintf(f, ",\"%s\":", key);
    cli_json_num(f, v);
}

static void dist_json(FILE *f, const char *name, const struct ppl_dist *d)
{
    fprintf(f, ",\"%s\":{\"mean\":", name);
    cli_json_num(f, d->mean);
    num(f, "stderr", d->stderr_mean);
    num(f, "rms", d->rms);
    num(f, "rms_stderr", d->rms_stderr);
    num(f, "max", d->max);
    num(f, "p99_9", d->p999);
    num(f, "p99", d->p99);
    num(f, "p95", d->p95);
    num(f, "p90", d->p90);
    num(f, "p75", d->p75);
    num(f, "median", d->median);
    num(f, "p25", d->p25);
    num(f, "p10", d->p10);
    num(f, "p5", d->p05);
    num(f, "p1", d->p01);
    num(f, "p0_1", d->p001);
    num(f, "min", d->min);
    fputc('}', f);
}

void kl_print_json(FILE *f, const char *key, const struct ppl_result *r, const char *base_file)
{
    fprintf(f, ",\"%s\":{\"base\":\"%s\"", key, r->kl_file ? "llama.cpp file" : "in-process");
    if (base_file) {
        fprintf(f, ",\"base_file\":");
        cli_json_str(f, base_file);
    }
    num(f, "base_ppl", r->base_ppl);
    num(f, "base_stderr", r->base_ppl_stderr);
    num(f, "ln_ppl_ratio", r->ln_ppl_ratio);
    num(f, "ln_ppl_ratio_stderr", r->ln_ppl_ratio_stderr);
    num(f, "ppl_ratio", r->ppl_ratio);
    num(f, "ppl_ratio_stderr", r->ppl_ratio_stderr);
    num(f, "ppl_diff", r->ppl_diff);
    num(f, "ppl_diff_stderr", r->ppl_diff_stderr);
    num(f, "cor_ln_ppl", r->nll_cor);
    num(f, "top1", r->top1);
    num(f, "top1_stderr", r->top1_stderr);
    dist_json(f, "kld", &r->kld);
    dist_json(f, "delta_p", &r->dp);
    fputc('}', f);
}
