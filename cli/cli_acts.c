/* qlens acts: activation and K/V statistics per layer over a text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/calib.h"
#include "cli/cli.h"
#include "cli/cli_infer.h"
#include "cli/commands.h"
#include "src/forward.h"
#include "src/tokenizer.h"

static const char acts_help[] =
    "usage: qlens acts [MODEL] TEXT [--ctx N] [--chunks N] [--force-ctx] [--json]\n\n"
    "Run MODEL over the text (chunks of N tokens, BOS first, as `qlens ppl`)\n"
    "and report, per layer, statistics of every linear-layer input and of the\n"
    "K and V caches (K after RoPE):\n"
    "  attn_in   input of attn_q/k/v      attn_out  input of attn_output\n"
    "  ffn_in    input of ffn_gate/up     ffn_down  input of ffn_down\n"
    "Columns: std, Pearson kurtosis (3 = normal), absmax, absmax/std, the\n"
    "fraction of values with |x| > 6 (LLM.int8's outlier threshold), the number\n"
    "of outlier channels (some |x| > 6 in that channel) and the ratio of the\n"
    "largest to the median per-channel mean |x| (how uneven the channels are:\n"
    "what SmoothQuant and AWQ rebalance).  Default: 8 chunks of min(512, ctx).\n\n"
    "  --ctx N      tokens per chunk    --chunks N   chunks to run (default 8)\n"
    "  --json       one JSON object on stdout\n";

struct acts_args {
    const char *pos[2];
    int n_pos, json, force_ctx;
    long ctx, chunks;
};

static int parse_args(int argc, char **argv, struct acts_args *a)
{
    memset(a, 0, sizeof *a);
    a->ctx = -1;
    a->chunks = 8;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--ctx") || !strcmp(s, "--chunks")) {
            long *d = s[2] == 'c' && s[3] == 't' ? &a->ctx : &a->chunks;
            if (!v || infer_parse_int(v, 1, 1 << 20, d) < 0)
                return cli_usage_error("acts", "%s wants a positive integer", s), -1;
            i++;
        } else if (!strcmp(s, "--json")) a->json = 1;
        else if (!strcmp(s, "--force-ctx")) a->force_ctx = 1;
        else if (s[0] == '-' && s[1])
            return cli_usage_error("acts", "unknown option '%s'", s), -1;
        else if (a->n_pos < 2) a->pos[a->n_pos++] = s;
        else return cli_usage_error("acts", "too many arguments ('%s')", s), -1;
    }
    if (!a->n_pos)
        return cli_usage_error("acts", "missing TEXT (a UTF-8 text file)"), -1;
    return 0;
}

struct chan_sum {
    int n_outlier_ch;     /* channels with max |x| > 6                    */
    int top_ch;           /* channel with the largest max |x|             */
    double top_max, mean_ratio; /* max / median of per-channel mean |x|   */
};

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void channel_summary(const struct calib_acc *a, struct chan_sum *cs)
{
    memset(cs, 0, sizeof *cs);
    if (!a->n_rows || !a->max_abs)
        return;
    double *m = malloc((size_t)a->dim * sizeof(double));
    if (!m)
        return;
    for (int j = 0; j < a->dim; j++) {
        m[j] = a->sum_abs[j] / (double)a->n_rows;
        cs->n_outlier_ch += a->max_abs[j] > 6.0f;
        if (a->max_abs[j] > cs->top_max) {
            cs->top_max = a->max_abs[j];
            cs->top_ch = j;
        }
    }
    qsort(m, (size_t)a->dim, sizeof *m, cmp_double);
    double med = m[a->dim / 2];
    cs->mean_ratio = med > 0 ? m[a->dim - 1] / med : 0;
    free(m);
}

static void row_json(int layer, int site, const struct calib_acc *a, int first)
{
    struct stats s;
    struct chan_sum cs;
    calib_acc_stats(a, &s);
    channel_summary(a, &cs);
    printf("%s{\"layer\":%d,\"site\":\"%s\",\"channels\":%d,\"n\":%llu,\"mean\":", first ? "" : ",",
           layer, calib_site_name(site), a->dim, (unsigned long long)s.n);
    cli_json_num(stdout, s.mean);
    printf(",\"std\":"); cli_json_num(stdout, s.std);
    printf(",\"kurtosis\":"); cli_json_num(stdout, s.kurt);
    printf(",\"absmax\":"); cli_json_num(stdout, s.absmax);
    printf(",\"absmax_over_std\":"); cli_json_num(stdout, s.absmax_over_std);
    printf(",\"frac_abs6\":"); cli_json_num(stdout, s.frac_abs);
    printf(",\"frac_k3\":"); cli_json_num(stdout, s.frac_k3);
    printf(",\"outlier_channels\":%d,\"top_channel\":%d,\"top_channel_absmax\":", cs.n_outlier_ch,
           cs.top_ch);
    cli_json_num(stdout, cs.top_max);
    printf(",\"channel_mean_ratio\":"); cli_json_num(stdout, cs.mean_ratio);
    printf("}");
}

static void row_text(int layer, int site, const struct calib_acc *a)
{
    struct stats s;
    struct chan_sum cs;
    calib_acc_stats(a, &s);
    channel_summary(a, &cs);
    printf("%5d %-9s %6d %10.4f %9.2f %10.3f %9.2f %9.5f %6d %5d %8.2f\n", layer,
           calib_site_name(site), a->dim, s.std, s.kurt, s.absmax, s.absmax_over_std, s.frac_abs,
           cs.n_outlier_ch, cs.top_ch, cs.mean_ratio);
}

static void print_all(struct calib *c, const struct acts_args *a, const char *model,
                      const char *text, int n_ctx, int chunks)
{
    if (a->json) {
        printf("{\"model\":");
        cli_json_str(stdout, model);
        printf(",\"text\":");
        cli_json_str(stdout, text);
        printf(",\"n_ctx\":%d,\"chunks\":%d,\"rows\":[", n_ctx, chunks);
    } else {
        printf("model %s\ntext  %s: %d chunks of %d tokens\n\n", model, text, chunks, n_ctx);
        printf("%5s %-9s %6s %10s %9s %10s %9s %9s %6s %5s %8s\n", "layer", "site", "ch", "std",
               "kurt", "absmax", "max/std", "|x|>6", "outch", "top", "ch.ratio");
    }
    int first = 1;
    for (int l = 0; l < c->n_layers; l++)
        for (int s = 0; s < CALIB__NSITES; s++) {
            if (a->json)
                row_json(l, s, calib_get(c, l, s), first);
            else
                row_text(l, s, calib_get(c, l, s));
            first = 0;
        }
    if (a->json)
        printf("]}\n");
}

/* Every chunk through the model with capture hooks on all layers. */
static int capture(struct infer_model *im, int *ids, int n_ctx, int chunks, struct calib *c,
                   struct qerr *err)
{
    if (calib_select(c, -1, -1, CALIB_STATS | CALIB_CHANNEL) < 0)
        return qerr_set(err, c->err.code, "%s", c->err.msg);
    return infer_capture(im, ids, n_ctx, chunks, c, "acts", 0, err);
}

int acts_collect(struct infer_model *im, const char *text, long ctx, int force_ctx, long chunks,
                 struct calib *c, int *n_ctx_out, int *chunks_out, struct qerr *err)
{
    int n_ctx, *ids;
    size_t n;
    memset(c, 0, sizeof *c);
    int rc = infer_pick_ctx(im, "--ctx", ctx, force_ctx, &n_ctx, err);
    if (!rc)
        rc = infer_tokenize_file(im, text, &ids, &n, err);
    if (rc)
        return rc;
    if (n < 2) {
        free(ids);
        return qerr_set(err, QERR_FORMAT, "%s: text too short (%zu tokens)", text, n);
    }
    if (n < (size_t)n_ctx)
        n_ctx = (int)n; /* a short text is one shorter chunk */
    size_t avail = n / (size_t)n_ctx;
    int k = avail < (size_t)chunks ? (int)avail : (int)chunks;
    if (!(rc = calib_init(c, &im->m.cfg, err)))
        rc = capture(im, ids, n_ctx, k, c, err);
    free(ids);
    *n_ctx_out = n_ctx;
    *chunks_out = k;
    return rc;
}

static int run(struct infer_model *im, const struct acts_args *a, const char *text,
               struct qerr *err)
{
    int n_ctx, chunks;
    struct calib c;
    int rc = acts_collect(im, text, a->ctx, a->force_ctx, a->chunks, &c, &n_ctx, &chunks, err);
    if (!rc)
        print_all(&c, a, im->m.path, text, n_ctx, chunks);
    calib_free(&c);
    return rc;
}

int cmd_acts(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(acts_help, stdout);
        return EXIT_OK;
    }
    struct acts_args a;
    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    struct qerr err = {0};
    struct infer_model im;
    if (infer_open(&im, a.n_pos == 2 ? a.pos[0] : NULL, &err))
        return cli_fail(&err);
    infer_catch_sigint();
    int rc = run(&im, &a, a.pos[a.n_pos - 1], &err);
    infer_close(&im);
    return rc ? cli_fail(&err) : EXIT_OK;
}
