/* qlens quant with llama.cpp's types: a llama-quantize preset (q4_k_m,
 * q3_k_m, ...), --pure, --tensor-type overrides, an importance matrix, and
 * --export of a GGUF holding the real quantized blocks.  `qlens quant`
 * hands its arguments here when they ask for any of these
 * (qmix_cli_wants); the per-linear-layer methods (RTN, GPTQ, ...) stay in
 * src/cli_quant.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_quant.h"
#include "src/imatrix.h"
#include "src/qmix.h"

#define QMIX_MAX_OV 64

const char qmix_cli_help[] =
    "llama.cpp's types (per-tensor mixes, as llama-quantize makes them):\n"
    "  qlens quant [MODEL] --method PRESET [--pure] [--tensor-type REGEX=TYPE ...]\n"
    "              [--imatrix FILE] [--export OUT.gguf] [--no-eval] [--layers] [--json]\n"
    "  PRESET       q2_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m q6_k q8_0\n"
    "               q4_0 q4_1 q5_0 q5_1 iq4_nl iq4_xs: llama-quantize's rules choose\n"
    "               each tensor's type (token_embd and output included); with\n"
    "               --pure every matrix is in the preset's type.  A ggml type\n"
    "               with --pure (q3_k, q4_k, q5_k, ...) works too.  A name that is\n"
    "               also a method above (q4_0, q8_0, q6_k, ...) means the preset\n"
    "               only with --pure, --tensor-type, --export or --no-eval; alone\n"
    "               it is that method on the linear layers, like gptq\n"
    "  --tensor-type REGEX=TYPE  tensors whose GGUF name (blk.N.attn_v.weight)\n"
    "               matches get TYPE instead (first match wins; repeatable)\n"
    "  --imatrix FILE  llama.cpp importance matrix (legacy .dat or GGUF): per-column\n"
    "               weights for every tensor it has an entry for, as llama-quantize\n"
    "  --export OUT.gguf  write a GGUF with the quantized blocks, the source's\n"
    "               metadata and tokenizer and general.file_type, for llama.cpp\n"
    "  --no-eval    only choose the types (and export): no perplexity run, no\n"
    "               dequantized copy held in memory (for big models)\n"
    "Rows that do not fill a type's block fall back as llama.cpp does\n"
    "(q2_k/q3_k/iq4_xs -> iq4_nl, q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0,\n"
    "else f16); the report names each tensor that fell back and why.\n\n";

struct mix_args {
    struct qcli_opts c;
    const char *method, *export_path, *imatrix_path;
    struct qimatrix im;
    const struct gmix_preset *p;
    int pure, no_eval, layers;
    struct gmix_override ov[QMIX_MAX_OV];
    int n_ov;
};

/* Whole-file mode: --pure, --tensor-type, --export or --no-eval, or a
 * preset that is not also a registry method (q4_k_m, q3_k_s, ...).  A name
 * that is both (q4_0, q8_0, q6_k, q2_k, iq4_nl, iq4_xs) alone is the
 * registry method on the linear layers, like gptq or rtn, so the two sit
 * side by side in quant, sweep and the Quant view. */
int qmix_cli_wants(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--pure") || !strcmp(s, "--tensor-type") || !strcmp(s, "--export") ||
            !strcmp(s, "--no-eval"))
            return 1;
        if (!strcmp(s, "--method") && i + 1 < argc && gmix_find(argv[i + 1]) &&
            !quant_find(argv[i + 1]))
            return 1;
    }
    return 0;
}

/* A preset by name, or (with --pure) the preset whose type a ggml type
 * name is: q4_k -> q4_k_s, whose file_type llama-quantize writes for a
 * pure Q4_K file. */
static const struct gmix_preset *resolve_method(const char *name, int pure)
{
    const struct gmix_preset *p = gmix_find(name);
    if (p || !pure)
        return p;
    const struct ggt_traits *t = ggt_by_name(name);
    int n;
    const struct gmix_preset *all = gmix_all(&n);
    for (int i = 0; t && i < n; i++)
        if (all[i].base == t->id)
            return &all[i];
    return NULL;
}

static int mix_opt(struct mix_args *a, int argc, char **argv, int *i)
{
    const char *s = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(s, "--pure") || !strcmp(s, "--no-eval") || !strcmp(s, "--layers")) {
        int *f = !strcmp(s, "--pure") ? &a->pure : !strcmp(s, "--no-eval") ? &a->no_eval : &a->layers;
        *f = 1;
        return 1;
    }
    if (strcmp(s, "--method") && strcmp(s, "--export") && strcmp(s, "--tensor-type") &&
        strcmp(s, "--imatrix"))
        return 0;
    if (!v)
        return cli_usage_error(a->c.cmd, "%s wants a value", s), -1;
    (*i)++;
    if (!strcmp(s, "--method")) {
        a->method = v;
    } else if (!strcmp(s, "--export")) {
        a->export_path = v;
    } else if (!strcmp(s, "--imatrix")) {
        a->imatrix_path = v;
    } else {
        struct qerr err = {0};
        if (a->n_ov == QMIX_MAX_OV)
            return cli_usage_error(a->c.cmd, "more than %d --tensor-type options", QMIX_MAX_OV), -1;
        if (gmix_override_parse(&a->ov[a->n_ov], v, &err))
            return cli_usage_error(a->c.cmd, "%s", err.msg), -1;
        a->n_ov++;
    }
    return 1;
}

static int mix_parse(int argc, char **argv, struct mix_args *a)
{
    for (int i = 1; i < argc; i++) {
        int rc = mix_opt(a, argc, argv, &i);
        if (!rc)
            rc = qcli_parse_common(&a->c, argc, argv, &i);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error(a->c.cmd, "unknown option '%s' (with a ggml preset or --pure)",
                                   argv[i]), -1;
        if (a->c.model)
            return cli_usage_error(a->c.cmd, "too many arguments ('%s')", argv[i]), -1;
        a->c.model = argv[i];
    }
    if (!a->method)
        return cli_usage_error(a->c.cmd, "--method is required (a preset such as q4_k_m)"), -1;
    a->p = resolve_method(a->method, a->pure);
    if (!a->p)
        return cli_usage_error(a->c.cmd, "'%s' is not a llama-quantize preset (q2_k, q3_k_s, "
                               "q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k, q8_0, "
                               "q4_0, q4_1, q5_0, q5_1, iq4_nl, iq4_xs)%s", a->method,
                               ggt_by_name(a->method) ? "; a ggml type needs --pure" : ""), -1;
    return 0;
}

/* ---- report ---- */

static const char *tname(enum ggt_id t)
{
    const struct ggt_traits *tr = ggt_traits(t);
    return tr ? tr->name : "?";
}

static double tensor_bpw(const struct qmix *q, const struct qmix_tensor *x)
{
    return 8.0 * (double)x->nbytes / (double)q->m->tensors[x->index].nelem;
}

static void print_table(const struct qmix *q)
{
    printf("\n%-22s %-11s %-7s %7s %9s %10s  %s\n", "tensor", "shape", "type", "bits/w",
           "SQNR dB", "rel err", "note");
    for (int k = 0; k < q->n; k++) {
        const struct qmix_tensor *x = &q->t[k];
        const struct qtensor *t = &q->m->tensors[x->index];
        char shape[48];
        qtensor_shape_str(t, "x", shape, sizeof shape);
        printf("%-22s %-11s %-7s %7.4f", t->name, shape, tname(x->type), tensor_bpw(q, x));
        if (x->applied)
            printf(" %9.2f %10.5f", x->err.sqnr_db, x->err.rel_fro);
        else
            printf(" %9s %10s", "-", "-");
        printf("  %s%s%s\n", x->c.quantized ? "" : "not quantized",
               x->c.overridden ? "--tensor-type" : "", x->c.fallback ? "fallback" : "");
    }
}

static void print_fallbacks(const struct qmix *q)
{
    for (int k = 0; k < q->n; k++)
        if (q->t[k].c.fallback)
            printf("fallback    %s: %s\n", q->m->tensors[q->t[k].index].name, q->t[k].c.why);
}

static void print_text(const struct mix_args *a, const struct qmix *q, const struct pipe_env *e,
                       const struct ppl_result *p)
{
    const struct qconfig *c = &q->m->cfg;
    printf("model       %s (%s, %d layers, dim %d, %.3f M params)\n", q->m->path, c->arch,
           c->n_layers, c->dim, (double)q->n_params / 1e6);
    printf("preset      %s%s (llama_ftype %d): %d tensors quantized, %d fell back%s\n",
           q->p->label, a->pure ? " --pure" : "", q->p->ftype, q->n_quantized, q->n_fallback,
           a->n_ov ? ", --tensor-type overrides" : "");
    print_fallbacks(q);
    printf("size        %.3f MiB, %.4f bits/weight over the file, %.4f over the quantized "
           "tensors\n", (double)q->bytes / 1048576.0, qmix_bpw_file(q), qmix_bpw_quantized(q));
    if (p) {
        printf("eval        %s: %d chunks x %d tokens, %zu scored\n", e->eval_path, p->n_chunks,
               p->n_ctx, p->n_scored);
        printf("perplexity  %.4f -> %.4f +/- %.4f  (%+.2f %%)\n", p->base_ppl, p->ppl,
               p->ppl_stderr, p->base_ppl > 0 ? 100.0 * (p->ppl / p->base_ppl - 1.0) : 0.0);
        printf("KL          mean %.6f  p99 %.6f  max %.6f   top-1 agreement %.2f %%\n",
               p->kld.mean, p->kld.p99, p->kld.max, 100 * p->top1);
    }
    if (a->export_path)
        printf("exported    %s\n", a->export_path);
    if (a->layers || !p)
        print_table(q);
}

static void json_num(const char *key, double v)
{
    printf(",\"%s\":", key);
    cli_json_num(stdout, v);
}

static void print_json_tensor(const struct qmix *q, const struct qmix_tensor *x)
{
    const struct qtensor *t = &q->m->tensors[x->index];
    printf("{\"name\":");
    cli_json_str(stdout, t->name);
    printf(",\"gguf_name\":");
    cli_json_str(stdout, x->gguf_name);
    printf(",\"shape\":[");
    for (int d = 0; d < t->ndim; d++)
        printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
    printf("],\"type\":\"%s\",\"wanted\":\"%s\",\"quantized\":%s,\"overridden\":%s,"
           "\"fallback\":%s,\"why\":", tname(x->type), tname(x->c.quantized ? x->c.wanted : x->type),
           x->c.quantized ? "true" : "false", x->c.overridden ? "true" : "false",
           x->c.fallback ? "true" : "false");
    cli_json_str(stdout, x->c.why);
    json_num("bits_per_weight", tensor_bpw(q, x));
    if (x->applied) {
        json_num("mse", x->err.mse);
        json_num("sqnr_db", x->err.sqnr_db);
        json_num("max_abs_err", x->err.max_abs);
        json_num("rel_fro", x->err.rel_fro);
    }
    putchar('}');
}

static void print_json(const struct mix_args *a, const struct qmix *q, const struct ppl_result *p)
{
    printf("{\"model\":");
    cli_json_str(stdout, q->m->path);
    printf(",\"preset\":\"%s\",\"ftype\":%d,\"pure\":%s,\"overrides\":[", q->p->label, q->p->ftype,
           a->pure ? "true" : "false");
    for (int k = 0; k < a->n_ov; k++) {
        printf("%s{\"pattern\":", k ? "," : "");
        cli_json_str(stdout, a->ov[k].pattern);
        printf(",\"type\":\"%s\"}", tname(a->ov[k].type));
    }
    printf("],\"quantized_tensors\":%d,\"fallbacks\":%d", q->n_quantized, q->n_fallback);
    json_num("bits_per_weight", qmix_bpw_quantized(q));
    json_num("file_bits_per_weight", qmix_bpw_file(q));
    json_num("size_mib", (double)q->bytes / 1048576.0);
    printf(",\"params\":%lld", (long long)q->n_params);
    if (p) {
        json_num("ppl_float", p->base_ppl);
        json_num("ppl", p->ppl);
        json_num("ppl_stderr", p->ppl_stderr);
        json_num("delta_ppl_pct", p->base_ppl > 0 ? 100.0 * (p->ppl / p->base_ppl - 1.0) : 0.0);
        printf(",\"kl\":{\"mean\":");
        cli_json_num(stdout, p->kld.mean);
        json_num("p99", p->kld.p99);
        json_num("max", p->kld.max);
        printf("}");
        json_num("top1", p->top1);
        printf(",\"eval\":{\"chunks\":%d,\"ctx\":%d,\"scored\":%zu}", p->n_chunks, p->n_ctx,
               p->n_scored);
    }
    printf(",\"export\":");
    if (a->export_path)
        cli_json_str(stdout, a->export_path);
    else
        printf("null");
    printf(",\"tensors\":[");
    for (int k = 0; k < q->n; k++) {
        if (k)
            putchar(',');
        print_json_tensor(q, &q->t[k]);
    }
    printf("]}\n");
}

/* ---- runs ---- */

/* Read --imatrix, check it against the model, and plan with it: each
 * quantized tensor with an entry gets that entry's per-column weights. */
static int plan(struct mix_args *a, struct qmix *q, struct qmodel *m, const struct gmix_opts *go,
                struct qerr *err)
{
    int rc = 0;
    if (a->imatrix_path) {
        rc = qimatrix_read(&a->im, a->imatrix_path, err);
        if (!rc)
            rc = qimatrix_check(&a->im, a->imatrix_path, m, err);
        if (rc)
            return rc;
    }
    rc = qmix_plan(q, m, a->p, go, a->imatrix_path != NULL, err);
    if (!rc && a->imatrix_path) {
        q->imatrix_file = a->imatrix_path;
        q->imatrix_dataset = a->im.dataset;
        q->imatrix_entries = a->im.n;
        q->imatrix_chunks = (int)a->im.chunks;
    }
    for (int k = 0; !rc && a->imatrix_path && k < q->n; k++) {
        struct qmix_tensor *x = &q->t[k];
        const struct qimatrix_entry *e = qimatrix_find(&a->im, m->tensors[x->index].name);
        if (x->c.quantized && e && e->n_mat == 1 && e->n == qtensor_cols(&m->tensors[x->index]))
            x->imatrix = e->values;
    }
    return rc;
}

static int run_plan_only(struct mix_args *a, const struct gmix_opts *go, struct qerr *err)
{
    struct qmodel m;
    struct qmix q;
    memset(&q, 0, sizeof q);
    int rc = cli_open_model(&m, a->c.model, err);
    if (rc)
        return rc;
    rc = plan(a, &q, &m, go, err);
    if (!rc && a->export_path)
        rc = qmix_export(&q, a->export_path, err);
    if (!rc && a->c.json)
        print_json(a, &q, NULL);
    else if (!rc)
        print_text(a, &q, NULL, NULL);
    qmix_free(&q);
    qmodel_close(&m);
    return rc;
}

/* qcli_eval_blocks's make: the mix's tensors of one block. */
static int apply_layer(void *ud, int layer, struct qerr *err)
{
    return qmix_apply_layer(ud, layer, infer_cancel_flag(), err);
}

static int run_eval(struct mix_args *a, const struct gmix_opts *go, struct qerr *err)
{
    struct pipe_env e;
    struct qmix q;
    struct ppl_result pr;
    memset(&q, 0, sizeof q);
    memset(&pr, 0, sizeof pr);
    a->c.need_calib = 0;
    infer_catch_sigint();
    int rc = qcli_setup(&e, &a->c, err);
    int resident = !rc && !qcli_streams(&e, &a->c);
    if (resident) { /* every dequantized tensor held as floats */
        struct qcli_opts oc = a->c;
        oc.quant_output = oc.quant_embed = 1; /* a mix quantizes them too */
        rc = qcli_check_memory(&e, &oc, 1, 0, 0, err);
    }
    if (!rc)
        rc = plan(a, &q, &e.im.m, go, err);
    if (!rc && resident && !(rc = qmix_apply(&q, infer_cancel_flag(), err)))
        rc = qcli_eval_current(&e, &a->c, &pr, err);
    else if (!rc) /* streamed: one block's floats at a time (checks memory) */
        rc = qcli_eval_blocks(&e, &a->c, apply_layer, &q, &pr, err);
    if (!rc && a->export_path)
        rc = qmix_export(&q, a->export_path, err);
    if (!rc && a->c.json)
        print_json(a, &q, &pr);
    else if (!rc)
        print_text(a, &q, &e, &pr);
    qmix_free(&q);
    qcli_teardown(&e);
    return rc;
}

int qmix_cli_with(int argc, char **argv, const char *cmd, qmix_cli_fn fn, void *ud)
{
    struct mix_args a;
    memset(&a, 0, sizeof a);
    qcli_opts_default(&a.c, cmd);
    int rc = mix_parse(argc, argv, &a) ? EXIT_USAGE : 0;
    struct qerr err = {0};
    if (!rc && (a.no_eval || a.export_path || a.layers))
        rc = cli_usage_error(cmd, "--no-eval, --export and --layers are options of qlens quant");
    struct gmix_opts go = {.pure = a.pure, .ov = a.ov, .n_ov = a.n_ov};
    struct pipe_env e;
    struct qmix q;
    memset(&q, 0, sizeof q);
    a.c.need_calib = 0;
    if (!rc) {
        infer_catch_sigint();
        if (!(rc = qcli_setup(&e, &a.c, &err))) {
            if (!(rc = plan(&a, &q, e.mp, &go, &err)) &&
                !(rc = qmix_apply(&q, infer_cancel_flag(), &err)))
                rc = fn(&e, &a.c, a.p->label, qmix_bpw_quantized(&q), ud, &err);
            qmodel_clear_overrides(e.mp);
            qmix_free(&q);
            qcli_teardown(&e);
        }
        rc = rc ? cli_fail(&err) : EXIT_OK;
    }
    for (int k = 0; k < a.n_ov; k++)
        gmix_override_free(&a.ov[k]);
    if (a.imatrix_path)
        qimatrix_free(&a.im);
    return rc;
}

int cmd_quant_mix(int argc, char **argv)
{
    struct mix_args a;
    memset(&a, 0, sizeof a);
    qcli_opts_default(&a.c, "quant");
    int rc = mix_parse(argc, argv, &a);
    if (!rc) {
        struct gmix_opts go = {.pure = a.pure, .ov = a.ov, .n_ov = a.n_ov};
        struct qerr err = {0};
        rc = a.no_eval ? run_plan_only(&a, &go, &err) : run_eval(&a, &go, &err);
        rc = rc ? cli_fail(&err) : EXIT_OK;
    } else {
        rc = EXIT_USAGE;
    }
    for (int k = 0; k < a.n_ov; k++)
        gmix_override_free(&a.ov[k]);
    if (a.imatrix_path)
        qimatrix_free(&a.im);
    return rc;
}
