/* qlens quant --plan SPEC: quantize each linear tensor with the candidate a
 * plan gives it (the spec file `qlens plan --spec-out` writes, read and
 * checked by src/qplan.h), evaluate against the float model as `qlens
 * quant` does (src/pipeline.h, pipe_run_plan: the path `qlens plan
 * --measure` takes too), and optionally write the result: --export OUT.gguf
 * with llama.cpp's blocks when every planned candidate is a llama.cpp type
 * (src/qmix.h), --save-gguf OUT dequantized to F32 for any plan. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_quant.h"
#include "src/gguf_write.h"
#include "src/qmix.h"
#include "src/qplan.h"

const char qplan_cli_help[] =
    "A per-tensor plan (from qlens plan --spec-out):\n"
    "  qlens quant [MODEL] --plan SPEC [--export OUT.gguf | --save-gguf OUT] [--layers] [--json]\n"
    "  SPEC         TENSOR=CANDIDATE lines (blk.3.attn_q=rtn:3:32, blk.3.ffn_down=q4_k,\n"
    "               blk.0.attn_v=float; '*=CANDIDATE' for every linear not named); each\n"
    "               block linear is quantized with its candidate, token_embd and output\n"
    "               stay float.  Every linear of MODEL needs a line (or '*')\n"
    "  --export OUT.gguf  a GGUF of llama.cpp's blocks: every planned candidate must be a\n"
    "               llama.cpp type (or float), else refused before any work\n"
    "  --save-gguf OUT  any plan, dequantized to F32\n\n";

struct qp_args {
    struct qcli_opts c;
    const char *plan, *export_path, *save;
    int layers;
};

int qplan_cli_wants(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--plan"))
            return 1;
    return 0;
}

/* Options a plan replaces (the plan names each tensor's method). */
static int refused(const char *s)
{
    static const char *const no[] = {"--method", "--bits", "--group", "--asym", "--sym", "--opt",
                                     "--act-bits", "--kv-bits", "--pure", "--tensor-type",
                                     "--no-eval", "--quant-output", "--quant-embed", NULL};
    for (const char *const *n = no; *n; n++)
        if (!strcmp(s, *n))
            return 1;
    return 0;
}

static int qp_opt(struct qp_args *a, int argc, char **argv, int *i)
{
    const char *s = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    const char **sp = !strcmp(s, "--plan") ? &a->plan : !strcmp(s, "--export") ? &a->export_path
                    : !strcmp(s, "--save-gguf") ? &a->save : NULL;
    if (!strcmp(s, "--layers")) {
        a->layers = 1;
        return 1;
    }
    if (refused(s))
        return cli_usage_error("quant", "%s does not go with --plan (the plan gives each "
                               "tensor its configuration)", s), -1;
    if (!sp)
        return 0;
    if (!v)
        return cli_usage_error("quant", "%s wants a value", s), -1;
    *sp = v;
    (*i)++;
    return 1;
}

static int qp_parse(int argc, char **argv, struct qp_args *a)
{
    memset(a, 0, sizeof *a);
    qcli_opts_default(&a->c, "quant");
    for (int i = 1; i < argc; i++) {
        int rc = qp_opt(a, argc, argv, &i);
        if (!rc)
            rc = qcli_parse_common(&a->c, argc, argv, &i);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("quant", "unknown option '%s' (with --plan)", argv[i]), -1;
        if (a->c.model)
            return cli_usage_error("quant", "too many arguments ('%s')", argv[i]), -1;
        a->c.model = argv[i];
    }
    if (a->export_path && a->save)
        return cli_usage_error("quant", "--export and --save-gguf: give one"), -1;
    if (a->c.quant_output || a->c.quant_embed)
        return cli_usage_error("quant", "--quant-output / --quant-embed do not go with --plan "
                               "(a plan covers the block linears)"), -1;
    return 0;
}

/* ---- output ---- */

static void jnum(const char *key, double v)
{
    printf(",\"%s\":", key);
    cli_json_num(stdout, v);
}

static void print_json(const struct qp_args *a, const struct pipe_env *e, const struct qplan *p,
                       const struct pipe_result *res)
{
    const struct ppl_result *r = &res->ppl;
    const struct qrun *q = &res->run;
    char sum[512];
    qplan_summary(p, sum, sizeof sum);
    char *types = qplan_tensor_types(p, e->mp);
    double bpw = qrun_bits_per_weight(q);
    printf("{\"model\":");
    cli_json_str(stdout, e->mp->path);
    printf(",\"method\":\"plan\",\"plan\":true,\"plan_file\":");
    cli_json_str(stdout, a->plan);
    printf(",\"spec\":");
    char spec[600];
    snprintf(spec, sizeof spec, "plan %.3f bpw (%s)", bpw, sum);
    cli_json_str(stdout, spec);
    printf(",\"tensor_types\":");
    cli_json_str(stdout, types ? types : "");
    free(types);
    printf(",\"bits\":%d", (int)fmax(1, fmin(16, lround(bpw))));
    printf(",\"eval\":{\"text\":");
    cli_json_str(stdout, e->eval_path);
    printf(",\"chunks\":%d,\"ctx\":%d,\"scored\":%zu}", r->n_chunks, r->n_ctx, r->n_scored);
    jnum("ppl_float", r->base_ppl);
    jnum("ppl_float_stderr", r->base_ppl_stderr);
    jnum("ppl", r->ppl);
    jnum("ppl_stderr", r->ppl_stderr);
    jnum("delta_ppl_pct", r->base_ppl > 0 ? 100.0 * (r->ppl / r->base_ppl - 1.0) : NAN);
    printf(",\"kl\":{\"mean\":");
    cli_json_num(stdout, r->kld.mean);
    jnum("p99", r->kld.p99);
    jnum("max", r->kld.max);
    printf("}");
    jnum("top1", r->top1);
    jnum("bits_per_weight", bpw);
    jnum("size_mib_float", qrun_size_mib_float(q));
    jnum("size_mib", qrun_size_mib(q));
    printf(",\"quantized_weights\":%lld", (long long)q->n_quant);
    printf(",\"export\":");
    if (a->export_path || a->save)
        cli_json_str(stdout, a->export_path ? a->export_path : a->save);
    else
        printf("null");
    printf(",\"tensors\":[");
    for (int i = 0; i < q->n_t; i++) {
        const struct qrun_tensor *t = &q->t[i];
        const struct qplan_cand *c = qplan_get(p, t->layer, t->role);
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, t->name);
        printf(",\"candidate\":");
        cli_json_str(stdout, c ? c->label : "float");
        jnum("bits_per_weight", t->rep.bits_per_weight);
        jnum("sqnr_db", t->rep.sqnr_db);
        jnum("rel_fro", t->rep.rel_fro);
        printf(",\"note\":");
        cli_json_str(stdout, t->rep.note);
        printf("}");
    }
    printf("]}\n");
}

static void print_text(const struct qp_args *a, const struct pipe_env *e, const struct qplan *p,
                       const struct pipe_result *res)
{
    const struct ppl_result *r = &res->ppl;
    const struct qrun *q = &res->run;
    const struct qconfig *c = &e->mp->cfg;
    char sum[512];
    qplan_summary(p, sum, sizeof sum);
    printf("model       %s (%s, %d layers, dim %d, %.3f M params)\n", e->mp->path, c->arch,
           c->n_layers, c->dim, (double)q->n_params / 1e6);
    printf("plan        %s: %s\n", a->plan, sum);
    if (q->n_chunks)
        printf("calib       %s: %d chunks x %d tokens (%s)\n", e->calib_path, q->n_chunks, q->ctx,
               a->c.sequential ? "sequential, layer by layer" : "per block");
    printf("eval        %s: %d chunks x %d tokens, %zu scored\n", e->eval_path, r->n_chunks,
           r->n_ctx, r->n_scored);
    printf("perplexity       %10.4f -> %10.4f +/- %.4f  (%+.2f %%)\n", r->base_ppl, r->ppl,
           r->ppl_stderr, r->base_ppl > 0 ? 100.0 * (r->ppl / r->base_ppl - 1.0) : NAN);
    printf("KL divergence    mean %.6f  p99 %.6f  max %.6f\n", r->kld.mean, r->kld.p99,
           r->kld.max);
    printf("top-1 agreement  %.2f %% +/- %.2f %%\n", 100 * r->top1, 100 * r->top1_stderr);
    printf("size             %.3f MiB -> %.3f MiB  (%.4f bits/weight over %lld quantized "
           "weights)\n", qrun_size_mib_float(q), qrun_size_mib(q), qrun_bits_per_weight(q),
           (long long)q->n_quant);
    if (a->layers)
        printf("\n%-22s %-14s %7s %9s %9s\n", "tensor", "candidate", "bits/w", "SQNR dB",
               "rel err");
    for (int i = 0; a->layers && i < q->n_t; i++) {
        const struct qrun_tensor *t = &q->t[i];
        const struct qplan_cand *pc = qplan_get(p, t->layer, t->role);
        printf("%-22s %-14s %7.3f %9.2f %9.5f\n", t->name, pc ? pc->label : "float",
               t->rep.bits_per_weight, t->rep.sqnr_db, t->rep.rel_fro);
    }
    for (int i = 0; i < q->n_t; i++)
        if (q->t[i].rep.note[0])
            printf("note: %s: %s\n", q->t[i].name, q->t[i].rep.note);
    if (a->export_path)
        printf("exported    %s (llama.cpp types)\n", a->export_path);
    if (a->save)
        printf("saved       %s (dequantized, F32)\n", a->save);
}

/* ---- the run ---- */

/* Each exported tensor gets the importance the evaluation used. */
static void export_imatrix(struct qmix *x, const struct pipe_env *e)
{
    for (int k = 0; e->has_imx && k < x->n; k++) {
        struct qmix_tensor *t = &x->t[k];
        const struct qtensor *mt = &x->m->tensors[t->index];
        const struct qimatrix_entry *ie = qimatrix_find(&e->imx, mt->name);
        if (t->c.quantized && ie && ie->n_mat == 1 && ie->n == qtensor_cols(mt))
            t->imatrix = ie->values;
    }
}

static int run(struct qp_args *a, struct qplan *p, struct qerr *err)
{
    struct pipe_env e;
    struct pipe_result res;
    struct qmix mix;
    memset(&res, 0, sizeof res);
    memset(&mix, 0, sizeof mix);
    a->c.need_calib = qplan_needs_calib(p) != 0;
    a->c.out_err = 0;
    a->c.resident |= a->save != NULL; /* --save-gguf writes every quantized tensor */
    int rc = qcli_setup(&e, &a->c, err);
    if (rc)
        return rc;
    rc = qplan_bind(p, e.mp, err);
    if (!rc && a->export_path) /* refuse before any work */
        rc = qmix_plan_spec(&mix, e.mp, p, err);
    if (!rc)
        rc = qcli_run_plan(&e, &a->c, p, &res, err);
    if (!rc)
        rc = qmodel_intact(e.mp, err);
    if (!rc && a->save)
        rc = gguf_write_model(e.mp, a->save, 1, err);
    if (!rc && a->export_path) {
        export_imatrix(&mix, &e);
        rc = qmix_export(&mix, a->export_path, err);
    }
    if (!rc && a->c.json)
        print_json(a, &e, p, &res);
    else if (!rc)
        print_text(a, &e, p, &res);
    qmix_free(&mix);
    qcli_result_free(&res);
    qcli_teardown(&e);
    return rc;
}

int cmd_quant_plan(int argc, char **argv)
{
    struct qp_args a;
    if (qp_parse(argc, argv, &a) < 0)
        return EXIT_USAGE;
    if (!a.plan)
        return cli_usage_error("quant", "--plan wants a spec file"), EXIT_USAGE;
    struct qerr err = {0};
    struct qplan p;
    int rc = qplan_read(&p, a.plan, &err);
    if (!rc) {
        infer_catch_sigint();
        rc = run(&a, &p, &err);
    }
    qplan_free(&p);
    return rc ? cli_fail(&err) : EXIT_OK;
}
