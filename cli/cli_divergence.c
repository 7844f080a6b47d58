/* qlens divergence: quantize as `qlens quant` does, then run the float and
 * the quantized model side by side on the evaluation chunks and report,
 * per block and per linear output, how far the quantized activations are
 * from the float ones (src/mdiv.h): accumulated through the depth, and
 * local (each piece on the float input). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_quant.h"
#include "cli/commands.h"
#include "src/mdiv.h"

static const char div_help[] =
    "usage: qlens divergence [MODEL] --method M [--bits B] [--group G] [--asym|--sym]\n"
    "                        [--opt k=v,...] [--act-bits A] [--kv-bits K]\n"
    "       qlens divergence [MODEL] --method PRESET [--pure] [--tensor-type REGEX=TYPE]\n"
    "                        [--imatrix FILE]\n"
    "                        [--kl-attrib] [--blocks] [--top N] [--json|--csv]\n"
    "                        [evaluation options]\n\n"
    "Quantize MODEL exactly as `qlens quant` does (same options, same calibration),\n"
    "then run the float and the quantized model side by side on the same\n"
    "evaluation chunks (the second half of each chunk, as perplexity scores it)\n"
    "and report, for the residual stream after every block and for the output\n"
    "x W^T of every linear (q, k, v, o, gate, up, down):\n"
    "  rel   per token |y_q - y_f| / |y_f|: mean, 99th percentile, max\n"
    "  cos   per token cosine similarity of y_q and y_f: mean\n"
    "two ways:\n"
    "  acc   accumulated: the quantized model on its own activations (how the\n"
    "        error grows through the depth)\n"
    "  local each quantized layer / block on the FLOAT model's input (where the\n"
    "        error enters)\n"
    "and the KL divergence of the final next-token distributions (the KL mean\n"
    "qlens quant reports on the same chunks).  PRESET: a llama-quantize preset\n"
    "(q4_k_m, q3_k_s, ...; see qlens quant --help), applied as qlens quant does.\n\n"
    "  --kl-attrib    also measure each quantized linear's KL contribution:\n"
    "                 KL of the model minus KL with that tensor's float weights\n"
    "                 put back (one evaluation per tensor)\n"
    "  --blocks       text: only the block rows and the logits\n"
    "  --top N        text: the N linears where most error enters (default 5)\n"
    "  --json         one JSON object on stdout\n"
    "  --csv          one CSV row per block / linear / logits\n\n";

struct div_args {
    struct quant_args q;
    int csv, blocks, kl_attrib;
    long top;
};

static int div_parse(int argc, char **argv, struct div_args *a)
{
    memset(a, 0, sizeof *a);
    qcli_opts_default(&a->q.c, "divergence");
    a->q.bits = a->q.act_bits = a->q.kv_bits = -1;
    a->q.sym = -1;
    a->top = 5;
    for (int i = 1; i < argc; i++) {
        int rc = qcli_parse_common(&a->q.c, argc, argv, &i);
        if (!rc && (!strcmp(argv[i], "--save-gguf") || !strcmp(argv[i], "--layers")))
            return cli_usage_error("divergence", "%s is an option of qlens quant", argv[i]), -1;
        if (!rc)
            rc = qcli_quant_opt(&a->q, argc, argv, &i);
        if (!rc && (!strcmp(argv[i], "--csv") || !strcmp(argv[i], "--blocks") ||
                    !strcmp(argv[i], "--kl-attrib"))) {
            *(!strcmp(argv[i], "--csv") ? &a->csv
              : !strcmp(argv[i], "--blocks") ? &a->blocks : &a->kl_attrib) = 1;
            rc = 1;
        } else if (!rc && !strcmp(argv[i], "--top")) {
            if (infer_parse_opt("divergence", "--top", i + 1 < argc ? argv[i + 1] : NULL, 0,
                                1 << 20, &a->top) < 0)
                return -1;
            i++;
            rc = 1;
        }
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("divergence", "unknown option '%s'", argv[i]), -1;
        if (a->q.c.model)
            return cli_usage_error("divergence", "too many arguments ('%s')", argv[i]), -1;
        a->q.c.model = argv[i];
    }
    if (!a->q.method)
        return cli_usage_error("divergence", "--method is required (as in qlens quant)"), -1;
    if (a->csv && a->q.c.json)
        return cli_usage_error("divergence", "--json and --csv exclude each other"), -1;
    return 0;
}

/* ---- output ---- */

static const char *kind_name(enum mdiv_kind k)
{
    return k == MDIV_BLOCK ? "block" : k == MDIV_LOGITS ? "logits" : "linear";
}

static void json_stat(const char *key, const struct mdiv_stat *s)
{
    printf("\"%s\":{\"rel_mean\":", key);
    cli_json_num(stdout, s->rel_mean);
    printf(",\"rel_p99\":");
    cli_json_num(stdout, s->rel_p99);
    printf(",\"rel_max\":");
    cli_json_num(stdout, s->rel_max);
    printf(",\"rel_all\":");
    cli_json_num(stdout, s->rel_all);
    printf(",\"cos_mean\":");
    cli_json_num(stdout, s->cos_mean);
    printf(",\"cos_min\":");
    cli_json_num(stdout, s->cos_min);
    printf("}");
}

static void print_json(const struct pipe_env *e, const char *label, double bpw,
                       const struct mdiv_result *r)
{
    printf("{\"model\":");
    cli_json_str(stdout, e->mp->path);
    printf(",\"spec\":");
    cli_json_str(stdout, label);
    printf(",\"bits_per_weight\":");
    cli_json_num(stdout, bpw);
    printf(",\"eval\":{\"text\":");
    cli_json_str(stdout, e->eval_path);
    printf(",\"chunks\":%d,\"ctx\":%d,\"scored\":%zu}", r->n_chunks, r->n_ctx, r->n_scored);
    printf(",\"kl\":{\"mean\":");
    cli_json_num(stdout, r->kld.mean);
    printf(",\"p99\":");
    cli_json_num(stdout, r->kld.p99);
    printf(",\"max\":");
    cli_json_num(stdout, r->kld.max);
    printf("},\"top1\":");
    cli_json_num(stdout, r->top1);
    printf(",\"seconds\":");
    cli_json_num(stdout, r->seconds);
    printf(",\"rows\":[");
    for (int i = 0; i < r->n_rows; i++) {
        const struct mdiv_row *w = &r->rows[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, w->name);
        printf(",\"layer\":%d,\"kind\":\"%s\",\"quantized\":%s,", w->layer, kind_name(w->kind),
               w->quantized ? "true" : "false");
        json_stat("acc", &w->s[MDIV_ACC]);
        printf(",");
        json_stat("local", &w->s[MDIV_LOCAL]);
        printf(",\"kl_without\":");
        cli_json_num(stdout, w->kl_without);
        printf(",\"kl_delta\":");
        cli_json_num(stdout, w->kl_delta);
        printf("}");
    }
    int idx[4096], n = mdiv_rank_linears(r, idx, 4096);
    printf("],\"entry_rank\":[");
    for (int k = 0; k < n; k++) {
        printf("%s", k ? "," : "");
        cli_json_str(stdout, r->rows[idx[k]].name);
    }
    n = mdiv_rank_kl(r, idx, 4096);
    printf("],\"kl_rank\":[");
    for (int k = 0; k < n; k++) {
        printf("%s", k ? "," : "");
        cli_json_str(stdout, r->rows[idx[k]].name);
    }
    printf("]}\n");
}

static void csv_stat(const struct mdiv_stat *s)
{
    printf(",%.9g,%.9g,%.9g,%.9g,%.9g,%.9g", s->rel_mean, s->rel_p99, s->rel_max, s->rel_all,
           s->cos_mean, s->cos_min);
}

static void print_csv(const struct mdiv_result *r)
{
    printf("name,layer,kind,quantized");
    for (int m = 0; m < MDIV__NMODES; m++) {
        const char *p = m == MDIV_ACC ? "acc" : "local";
        printf(",%s_rel_mean,%s_rel_p99,%s_rel_max,%s_rel_all,%s_cos_mean,%s_cos_min", p, p, p,
               p, p, p);
    }
    printf(",kl_without,kl_delta\n");
    for (int i = 0; i < r->n_rows; i++) {
        const struct mdiv_row *w = &r->rows[i];
        printf("%s,%d,%s,%d", w->name, w->layer, kind_name(w->kind), w->quantized);
        csv_stat(&w->s[MDIV_ACC]);
        csv_stat(&w->s[MDIV_LOCAL]);
        if (isnan(w->kl_delta))
            printf(",,\n");
        else
            printf(",%.9g,%.9g\n", w->kl_without, w->kl_delta);
    }
}

/* A bar of v on [0, mx] in `width` cells; '#' whole cells, '+' a half. */
static void bar(char *buf, double v, double mx, int width)
{
    int halves = mx > 0 && v > 0 ? (int)lround(v / mx * 2 * width) : 0;
    halves = halves > 2 * width ? 2 * width : halves;
    int k = 0;
    for (; k < halves / 2; k++)
        buf[k] = '#';
    if (halves % 2)
        buf[k++] = '+';
    buf[k] = '\0';
}

static void text_row(const struct mdiv_row *w, double mx)
{
    const struct mdiv_stat *a = &w->s[MDIV_ACC], *l = &w->s[MDIV_LOCAL];
    char b[32];
    bar(b, a->rel_mean, mx, 20);
    printf("%-22s %9.5f %9.5f %8.5f   %9.5f %8.5f  %s\n", w->name, a->rel_mean, a->rel_p99,
           a->cos_mean, l->rel_mean, l->cos_mean, b);
}

static void print_text(const struct pipe_env *e, const struct div_args *a, const char *label,
                       double bpw, const struct mdiv_result *r)
{
    printf("model       %s (%d layers)\n", e->mp->path, r->n_layers);
    printf("method      %s (%.3f bits/weight)\n", label, bpw);
    printf("eval        %s: %d chunks x %d tokens, %zu scored\n", e->eval_path, r->n_chunks,
           r->n_ctx, r->n_scored);
    printf("KL          mean %.6f  p99 %.6f  max %.6f   top-1 %.2f %%\n", r->kld.mean,
           r->kld.p99, r->kld.max, 100 * r->top1);
    double mx = 0;
    for (int i = 0; i < r->n_rows; i++)
        if (!a->blocks || r->rows[i].kind != MDIV_LINEAR)
            mx = fmax(mx, r->rows[i].s[MDIV_ACC].rel_mean);
    printf("\nrel = |y_q - y_f| / |y_f| per token, cos = cosine; mean over tokens\n");
    printf("%-22s %29s   %18s  %s\n", "", "----- accumulated -----", "----- local -----",
           "acc rel mean (bar)");
    printf("%-22s %9s %9s %8s   %9s %8s\n", "output", "rel mean", "rel p99", "cos", "rel mean",
           "cos");
    for (int i = 0; i < r->n_rows; i++)
        if (!a->blocks || r->rows[i].kind != MDIV_LINEAR)
            text_row(&r->rows[i], mx);
    int idx[4096], n = mdiv_rank_linears(r, idx, 4096);
    if (a->top > 0 && n > 0) {
        printf("\nwhere the error enters (local rel mean, largest first):\n");
        for (int k = 0; k < n && k < a->top; k++)
            printf("  %-22s %9.5f%s\n", r->rows[idx[k]].name, r->rows[idx[k]].s[MDIV_LOCAL].rel_mean,
                   r->rows[idx[k]].quantized ? "" : "  (weights float)");
    }
    n = mdiv_rank_kl(r, idx, 4096);
    if (a->top > 0 && n > 0) {
        printf("\nKL contribution (KL %.6f minus KL with the tensor's float weights put back):\n",
               r->kld.mean);
        for (int k = 0; k < n && k < a->top; k++)
            printf("  %-22s %+10.6f  (%5.1f %% of the KL)\n", r->rows[idx[k]].name,
                   r->rows[idx[k]].kl_delta,
                   r->kld.mean > 0 ? 100 * r->rows[idx[k]].kl_delta / r->kld.mean : 0.0);
    }
}

static int div_progress(void *ud, int done, int total)
{
    (void)ud;
    fprintf(stderr, "\r\033[Kcomparing chunk %d/%d", done, total);
    return 0;
}

static int kl_progress(void *ud, int done, int total)
{
    (void)ud;
    fprintf(stderr, "\r\033[KKL attribution: tensor %d/%d", done, total);
    return 0;
}

static void print_result(const struct pipe_env *e, const struct div_args *a, int json,
                         const char *label, double bpw, const struct mdiv_result *r)
{
    if (a->csv)
        print_csv(r);
    else if (json)
        print_json(e, label, bpw, r);
    else
        print_text(e, a, label, bpw, r);
}

/* A llama-quantize preset (qlens quant's whole-file form): the mix is
 * installed by qmix_cli_with; compare the model as it stands. */
static int div_mix(struct pipe_env *e, const struct qcli_opts *c, const char *label, double bpw,
                   void *ud, struct qerr *err)
{
    const struct div_args *a = ud;
    int tty = e->cb.eval != NULL;
    struct mdiv_opts mo = {
        .n_ctx = e->n_ctx,
        .max_chunks = c->chunks > 0 ? (int)c->chunks : 0,
        .bos = e->bos,
        .progress = tty && !a->csv ? div_progress : NULL,
        .cancel = e->cb.cancel,
    };
    mo.kl_attrib = a->kl_attrib;
    mo.kl_progress = mo.progress ? kl_progress : NULL;
    mo.kl_cache_mib = 1024;
    struct mdiv_result r;
    int rc = mdiv_run(&e->f, e->eval_ids, e->n_eval, &mo, &r, err);
    if (!rc && mo.kl_attrib)
        rc = mdiv_kl_attrib(&e->f, e->eval_ids, e->n_eval, &mo, &r, err);
    if (mo.progress)
        fputs("\r\033[K", stderr);
    if (!rc)
        print_result(e, a, c->json, label, bpw, &r);
    mdiv_free(&r);
    return rc;
}

/* The preset form: this command's own options are taken out of argv, the
 * rest is quant's preset command line. */
static int cmd_div_mix(int argc, char **argv)
{
    struct div_args a;
    memset(&a, 0, sizeof a);
    a.top = 5;
    char **fa = malloc(((size_t)argc + 1) * sizeof *fa);
    if (!fa)
        return EXIT_INTERNAL;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && (!strcmp(argv[i], "--csv") || !strcmp(argv[i], "--blocks") ||
                      !strcmp(argv[i], "--kl-attrib"))) {
            *(!strcmp(argv[i], "--csv") ? &a.csv
              : !strcmp(argv[i], "--blocks") ? &a.blocks : &a.kl_attrib) = 1;
        } else if (i > 0 && !strcmp(argv[i], "--top")) {
            if (infer_parse_opt("divergence", "--top", i + 1 < argc ? argv[i + 1] : NULL, 0,
                                1 << 20, &a.top) < 0) {
                free(fa);
                return EXIT_USAGE;
            }
            i++;
        } else {
            fa[n++] = argv[i];
        }
    }
    fa[n] = NULL;
    int rc = qmix_cli_with(n, fa, "divergence", div_mix, &a);
    free(fa);
    return rc;
}

int cmd_divergence(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(div_help, stdout);
        fputs(qcli_common_help, stdout);
        return EXIT_OK;
    }
    if (qmix_cli_wants(argc, argv)) /* llama-quantize presets, --pure */
        return cmd_div_mix(argc, argv);
    struct div_args a;
    if (div_parse(argc, argv, &a) < 0)
        return EXIT_USAGE;
    struct qerr err = {0};
    struct quant_spec spec;
    if (qcli_make_spec(&a.q, &spec, &err) < 0)
        return cli_usage_error("divergence", "%s", err.msg);
    int act = a.q.act_bits >= 0 ? (int)a.q.act_bits : pipe_default_act_bits(&spec);
    int kv = a.q.kv_bits > 0 ? (int)a.q.kv_bits : 0;
    a.q.c.need_calib = spec.bits < 16 && spec.method->needs_calib;
    a.q.c.kl_cache_mib = 0;
    a.q.c.out_err = 0;
    int json = a.q.c.json;
    a.q.c.json |= a.csv; /* no progress lines under machine output */
    infer_catch_sigint();
    struct pipe_env e;
    int rc = qcli_setup(&e, &a.q.c, &err);
    if (rc)
        return cli_fail(&err);
    int tty = e.cb.quant != NULL;
    struct pipe_opts po;
    qcli_pipe_opts(&a.q.c, &po);
    struct qrun run;
    struct mdiv_result r;
    memset(&run, 0, sizeof run);
    struct mdiv_opts mo = {
        .progress = tty ? div_progress : NULL,
        .kl_attrib = a.kl_attrib,
        .kl_progress = tty ? kl_progress : NULL,
        .kl_cache_mib = 1024,
    };
    rc = mdiv_pipe_run(&e, &po, &spec, act, kv, &mo, &run, &r, &err);
    if (tty)
        fputs("\r\033[K", stderr);
    char label[300];
    qcli_config_label(&spec, act, kv, a.q.c.kv_axis_channel, label, sizeof label);
    if (!rc)
        print_result(&e, &a, json, label, spec.bits >= 16 ? 16.0 : qrun_bits_per_weight(&run), &r);
    mdiv_free(&r);
    qrun_free(&run);
    qcli_teardown(&e);
    return rc ? cli_fail(&err) : EXIT_OK;
}
