/* qlens quant: quantize every linear layer of a model with one method,
 * layer by layer, and compare it with the float model on evaluation text.
 * Also the pieces `qlens sweep` shares (src/cli_quant.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_quant.h"
#include "cli/kl_print.h"
#include "cli/commands.h"
#include "src/gguf_write.h"
#include "src/membudget.h"
#include "src/tokenizer.h"

const char qcli_common_help[] =
    "Evaluation (as qlens ppl: llama.cpp's method, second half of each chunk):\n"
    "  --eval TEXT        evaluation text (default $QLENS_SHARED/data/tinystories-eval.txt)\n"
    "  --ctx N            tokens per chunk (even; default min(512, model context))\n"
    "  --chunks N         evaluate only the first N chunks (default: all)\n"
    "  --force-ctx        allow --ctx beyond the model's training context\n"
    "  --kl-divergence-base FILE  llama.cpp's logits file (from llama-perplexity\n"
    "                     --kl-divergence-base, or qlens ppl): evaluate on its chunks\n"
    "                     and take the float baseline from it (no float pass);\n"
    "                     --eval, if given, must tokenize to its tokens\n"
    "  --mem-budget SIZE  memory the run may use (4096 = MiB, or 800M, 6G); a run that\n"
    "                     needs more stops before it starts, saying what needs it and\n"
    "                     which option lowers it (default: the memory available)\n"
    "  --stream           evaluate through each block as soon as it is quantized and\n"
    "                     free the block's floats then (memory: one block's floats\n"
    "                     and the evaluation's hidden states)\n"
    "  --resident         hold the whole quantized model as floats and evaluate it\n"
    "                     after the last block.  Default: whichever holds less (the\n"
    "                     same numbers either way)\n"
    "  --progress         per-tensor progress with ETA on stderr, one line each, also\n"
    "                     when stderr is not a terminal (on a terminal: always, one\n"
    "                     line rewritten in place, unless --json)\n"
    "Calibration (GPTQ, AWQ, SpQR, LLM.int8, SmoothQuant):\n"
    "  --calib TEXT       calibration text (default $QLENS_SHARED/data/tinystories-calib.txt);\n"
    "                     it must share no 200-byte window with the evaluation text\n"
    "  --calib-chunks N   calibration chunks (default 32, fewer if the text is short)\n"
    "  --calib-ctx N      tokens per calibration chunk (default: --ctx)\n"
    "  --per-block        capture a block's four linear inputs in one float pass\n"
    "                     (default: sequential, re-capture after each step as GPTQ does)\n"
    "  --quant-output     also quantize the output matrix (token_embd when tied)\n"
    "  --quant-embed      also quantize token_embd as a lookup table (RTN)\n"
    "  --allow-overlap    run even when calibration and evaluation text overlap\n"
    "  --imatrix FILE     llama.cpp importance matrix (legacy or GGUF) for the ggml-type\n"
    "                     methods (q4_k, ...): as llama-quantize --imatrix.  Without it\n"
    "                     they use llama.cpp's no-imatrix recipe\n"
    "Activations and KV cache (fake quantization during evaluation):\n"
    "  --act-group G      channels per activation group (default 0: whole token)\n"
    "  --kv-axis token|channel  token: K and V per token; channel: K per channel,\n"
    "                     V per token (KIVI).  Default token\n"
    "  --kv-group G       K/V group (default: head_dim per token, all tokens per channel)\n";

void qcli_opts_default(struct qcli_opts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->ctx = o->chunks = o->calib_ctx = -1;
    o->calib_chunks = 32;
    o->act_group = 0;
    o->kv_group = -1;
    o->sequential = 1;
    o->need_calib = 1;
    o->kl_cache_mib = 1024;
}

void qcli_config_label(const struct quant_spec *spec, int act_bits, int kv_bits, int kv_channel,
                       char *buf, size_t n)
{
    char w[256] = "float";
    if (spec->bits < 16)
        quant_spec_format(spec, w, sizeof w);
    int k = snprintf(buf, n, "%s", w);
    if (act_bits > 0 && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - k, " a%d", act_bits);
    if (kv_bits > 0 && k >= 0 && (size_t)k < n)
        snprintf(buf + k, n - k, " kv%d%s", kv_bits, kv_channel ? "-channel" : "");
}

static int num_opt(const struct qcli_opts *o, const char *name, const char *val, long lo,
                   long hi, long *out)
{
    return infer_parse_opt(o->cmd, name, val, lo, hi, out) < 0 ? -1 : 1;
}

static int str_opt(const struct qcli_opts *o, const char *name, const char *val, const char **out)
{
    if (!val) {
        cli_usage_error(o->cmd, "%s wants a value", name);
        return -1;
    }
    *out = val;
    return 1;
}

static int flag_opt(const char *s, struct qcli_opts *o)
{
    int *f = !strcmp(s, "--per-block") ? &o->sequential
           : !strcmp(s, "--quant-output") ? &o->quant_output
           : !strcmp(s, "--quant-embed") ? &o->quant_embed
           : !strcmp(s, "--force-ctx") ? &o->force_ctx
           : !strcmp(s, "--allow-overlap") ? &o->allow_overlap
           : !strcmp(s, "--progress") ? &o->progress
           : !strcmp(s, "--resident") ? &o->resident
           : !strcmp(s, "--stream") ? &o->stream
           : !strcmp(s, "--json") ? &o->json : NULL;
    if (!f)
        return 0;
    *f = f != &o->sequential;
    return 1;
}

int qcli_parse_common(struct qcli_opts *o, int argc, char **argv, int *i)
{
    const char *s = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int rc;
    if (flag_opt(s, o))
        return 1;
    if (!strcmp(s, "--calib")) rc = str_opt(o, s, v, &o->calib);
    else if (!strcmp(s, "--imatrix")) rc = str_opt(o, s, v, &o->imatrix);
    else if (!strcmp(s, "--kl-divergence-base")) rc = str_opt(o, s, v, &o->kl_base);
    else if (!strcmp(s, "--mem-budget")) {
        if (mem_parse_size(v, &o->mem_budget) < 0) {
            cli_usage_error(o->cmd, "--mem-budget wants a size such as 4096 (MiB), 800M or 6G, "
                            "got '%s'", v ? v : "(nothing)");
            return -1;
        }
        rc = 1;
    }
    else if (!strcmp(s, "--eval")) rc = str_opt(o, s, v, &o->eval);
    else if (!strcmp(s, "--ctx")) rc = num_opt(o, s, v, 2, 1 << 20, &o->ctx);
    else if (!strcmp(s, "--chunks")) rc = num_opt(o, s, v, 1, INT_MAX, &o->chunks);
    else if (!strcmp(s, "--calib-ctx")) rc = num_opt(o, s, v, 2, 1 << 20, &o->calib_ctx);
    else if (!strcmp(s, "--calib-chunks")) rc = num_opt(o, s, v, 1, 1 << 20, &o->calib_chunks);
    else if (!strcmp(s, "--act-group")) rc = num_opt(o, s, v, 0, 1 << 20, &o->act_group);
    else if (!strcmp(s, "--kv-group")) rc = num_opt(o, s, v, 0, 1 << 20, &o->kv_group);
    else if (!strcmp(s, "--kv-axis")) {
        if (!v || (strcmp(v, "token") && strcmp(v, "channel"))) {
            cli_usage_error(o->cmd, "--kv-axis wants 'token' or 'channel', got '%s'",
                            v ? v : "(nothing)");
            return -1;
        }
        o->kv_axis_channel = !strcmp(v, "channel");
        rc = 1;
    } else
        return 0;
    if (rc > 0)
        (*i)++;
    return rc;
}

/* ---- the pipeline (src/pipeline.c) with the CLI's progress lines ---- */

static void to_pipe(const struct qcli_opts *o, struct pipe_opts *p)
{
    pipe_opts_default(p);
    p->calib = o->calib;
    p->eval = o->eval;
    p->ctx = o->ctx;
    p->chunks = o->chunks;
    p->calib_ctx = o->calib_ctx;
    p->calib_chunks = o->calib_chunks;
    p->act_group = o->act_group;
    p->kv_group = o->kv_group;
    p->kv_axis_channel = o->kv_axis_channel;
    p->sequential = o->sequential;
    p->out_err = o->out_err;
    p->quant_output = o->quant_output;
    p->quant_embed = o->quant_embed;
    p->force_ctx = o->force_ctx;
    p->allow_overlap = o->allow_overlap;
    p->need_calib = o->need_calib;
    p->kl_cache_mib = o->kl_cache_mib;
    p->imatrix = o->imatrix;
    p->kl_base = o->kl_base;
    p->mem_budget = o->mem_budget;
    p->resident = o->resident ? 1 : o->stream ? -1 : 0;
}

void qcli_pipe_opts(const struct qcli_opts *o, struct pipe_opts *p)
{
    to_pipe(o, p);
}

/* A progress line: rewritten in place on a terminal, one line each
 * otherwise (--progress into a file or pipe). */
static void progress_start(const struct pipe_env *e)
{
    fputs(isatty(2) ? "\r\033[K" : "", stderr);
    if (e->label)
        fprintf(stderr, "%s: ", e->label);
}

static void progress_end(void)
{
    fputs(isatty(2) ? "" : "\n", stderr);
    fflush(stderr);
}

/* Seconds as "42 s", "3 min 05 s" or "1 h 02 min". */
static void fmt_secs(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, n, "%ld s", t);
    else if (t < 3600)
        snprintf(buf, n, "%ld min %02ld s", t / 60, t % 60);
    else
        snprintf(buf, n, "%ld h %02ld min", t / 3600, t / 60 % 60);
}

static int tensor_progress(void *ud, const struct qrun_progress *p)
{
    char el[32], eta[32] = "?";
    fmt_secs(el, sizeof el, p->elapsed);
    if (p->eta >= 0)
        fmt_secs(eta, sizeof eta, p->eta);
    progress_start(ud);
    fprintf(stderr, "quantized %s  %d/%d tensors  %.0f%% of weights  %s  ETA %s", p->name,
            p->done, p->total, 100.0 * p->frac, el, eta);
    progress_end();
    return 0;
}

static int eval_progress(void *ud, int done, int total, double ppl)
{
    progress_start(ud);
    fprintf(stderr, "evaluating chunk %d/%d  PPL %.4f", done, total, ppl);
    progress_end();
    return 0;
}

int qcli_setup(struct pipe_env *e, const struct qcli_opts *o, struct qerr *err)
{
    struct pipe_opts po;
    to_pipe(o, &po);
    struct pipe_cb cb = {.cancel = infer_cancel_flag()};
    if ((isatty(2) && !o->json) || o->progress) {
        cb.tensor = tensor_progress;
        cb.eval = eval_progress;
        cb.ud = e; /* pipe_setup keeps e where it is */
    }
    return pipe_setup(e, o->model, &po, &cb, err);
}

void qcli_teardown(struct pipe_env *e)
{
    pipe_teardown(e);
}

/* The progress line is cleared afterwards (also on errors and cancel). */
static void clear_progress(const struct pipe_env *e)
{
    if ((e->cb.tensor || e->cb.eval) && isatty(2))
        fputs("\r\033[K", stderr);
}

int qcli_run_float(struct pipe_env *e, const struct qcli_opts *o, struct ppl_result *pr,
                   struct qerr *err)
{
    struct pipe_opts po;
    to_pipe(o, &po);
    int rc = pipe_run_float(e, &po, pr, err);
    clear_progress(e);
    if (e->cache_missed_mib > 0)
        fprintf(stderr, "qlens %s: the float logits of the evaluation chunks (%.0f MiB) do not "
                "fit in --kl-cache-mib %ld: the float model runs again for each "
                "configuration\n", o->cmd, e->cache_missed_mib, o->kl_cache_mib);
    return rc;
}

int qcli_eval_current(struct pipe_env *e, const struct qcli_opts *o, struct ppl_result *pr,
                      struct qerr *err)
{
    struct pipe_opts po;
    to_pipe(o, &po);
    int rc = pipe_eval_current(e, &po, pr, err);
    clear_progress(e);
    return rc;
}

int qcli_streams(const struct pipe_env *e, const struct qcli_opts *o)
{
    struct pipe_opts po;
    to_pipe(o, &po);
    po.quant_output = po.quant_embed = 1;
    return pipe_streams(e, &po, NULL);
}

int qcli_eval_blocks(struct pipe_env *e, const struct qcli_opts *o,
                     int (*make)(void *ud, int layer, struct qerr *err), void *ud,
                     struct ppl_result *pr, struct qerr *err)
{
    struct pipe_opts po;
    to_pipe(o, &po);
    int rc = pipe_eval_blocks(e, &po, make, ud, pr, err);
    clear_progress(e);
    return rc;
}

int qcli_run(struct pipe_env *e, const struct qcli_opts *o, const struct quant_spec *spec,
             int act_bits, int kv_bits, struct pipe_result *res, struct qerr *err)
{
    struct pipe_opts po;
    to_pipe(o, &po);
    int rc = pipe_run(e, &po, spec, act_bits, kv_bits, res, err);
    clear_progress(e);
    return rc;
}

int qcli_check_memory(const struct pipe_env *e, const struct qcli_opts *o, int quantized,
                      int calibrated, int kl_cache, struct qerr *err)
{
    struct pipe_opts po;
    to_pipe(o, &po);
    return pipe_check_memory(e, &po, quantized, calibrated, kl_cache, err);
}

int qcli_run_plan(struct pipe_env *e, const struct qcli_opts *o, const struct qplan *plan,
                  struct pipe_result *res, struct qerr *err)
{
    struct pipe_opts po;
    to_pipe(o, &po);
    int rc = pipe_run_plan(e, &po, plan, res, err);
    clear_progress(e);
    return rc;
}

void qcli_result_free(struct pipe_result *res)
{
    pipe_result_free(res);
}

/* ---- qlens quant ---- */

static const char quant_help_head[] =
    "usage: qlens quant [MODEL] --method M [--bits B] [--group G] [--asym|--sym]\n"
    "                   [--opt k=v,...] [--calib TEXT] [--eval TEXT] [--ctx N]\n"
    "                   [--chunks N] [--calib-chunks N] [--act-bits A]\n"
    "                   [--kv-bits K [--kv-axis token|channel] [--kv-group G]]\n"
    "                   [--save-gguf OUT] [--layers] [--json]\n\n"
    "Quantize every linear layer of MODEL (q, k, v, o, gate, up, down of each\n"
    "block) layer by layer as the GPTQ reference does: each block calibrates on\n"
    "the outputs of the already-quantized blocks before it.  Then evaluate the\n"
    "float and the quantized model on the same chunks and report perplexity of\n"
    "both, the change in %, the KL divergence of the quantized model's next-token\n"
    "distribution from the float one (mean, 99th percentile, max), how often\n"
    "both pick the same top token, the model size and bits per weight.\n"
    "MODEL defaults to $QLENS_MODEL, else the bundled stories260K.\n\n"
    "  --method M     quantizer (below)\n"
    "  --bits B       weight bits 2..8 (default: the method's); 16 keeps the\n"
    "                 weights float (for activation / KV-only runs)\n"
    "  --group G      group size along a row; 0 or 'row' = one scale per output\n"
    "                 channel; -1 or 'tensor' = one per tensor (default: method's)\n"
    "  --asym / --sym asymmetric (zero point) or symmetric grid\n"
    "  --opt k=v,...  method options (below)\n"
    "  --act-bits A   fake-quantize the input of every quantized linear per token\n"
    "                 (W8A8: 8).  Default 8 for llm.int8 and smoothquant, else 0\n"
    "  --kv-bits K    fake-quantize K and V (asymmetric) to K bits (0 = off)\n"
    "  --save-gguf OUT  write the quantized (dequantized to F32) model as GGUF\n"
    "  --layers       per-tensor error table (text output)\n"
    "  --json         one JSON object on stdout\n\n";

static const char quant_help_tail[] =
    "\nProgress goes to stderr when it is a terminal; Ctrl-C cancels (exit 130).\n"
    "Sizes count every non-quantized tensor at 16 bits, and the float model at 16.\n";

/* The registry as help text: names, defaults and options. */
static void print_methods(FILE *f)
{
    fprintf(f, "Methods (--method, lower case):\n");
    for (int i = 0; quant_registry[i]; i++) {
        const struct quantizer *q = quant_registry[i];
        char lower[32];
        size_t k = 0;
        for (; q->name[k] && k < sizeof lower - 1; k++)
            lower[k] = (char)(q->name[k] >= 'A' && q->name[k] <= 'Z' ? q->name[k] + 32 : q->name[k]);
        lower[k] = '\0';
        fprintf(f, "  %-12s %s\n", lower, q->summary);
        char grp[32];
        if (q->def_group > 0)
            snprintf(grp, sizeof grp, "groups of %d", q->def_group);
        else
            snprintf(grp, sizeof grp, "%s", q->def_group ? "per tensor" : "per output channel");
        fprintf(f, "               default %d bits, %s, %s%s\n", q->def_bits, grp,
                q->def_sym ? "symmetric" : "asymmetric",
                q->needs_calib ? ", needs calibration" : "");
        for (int p = 0; p < q->n_params; p++)
            fprintf(f, "               %s=%g  %s (%g..%g)\n", q->params[p].name, q->params[p].def,
                    q->params[p].help, q->params[p].min, q->params[p].max);
    }
}

/* "128", "0", "row", "channel", "-1", "tensor". */
static int parse_group(const char *cmd, const char *v, int *out)
{
    long g;
    if (v && (!strcmp(v, "row") || !strcmp(v, "channel")))
        g = 0;
    else if (v && !strcmp(v, "tensor"))
        g = -1;
    else if (!v || infer_parse_int(v, -1, 1 << 24, &g) < 0)
        return cli_usage_error(cmd, "--group wants a size, 0/row or -1/tensor, got '%s'",
                               v ? v : "(nothing)"), -1;
    *out = (int)g;
    return 0;
}

static int quant_opt(struct quant_args *a, int argc, char **argv, int *i)
{
    const char *s = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    const char **sp = !strcmp(s, "--method") ? &a->method : !strcmp(s, "--opt") ? &a->opts
                    : !strcmp(s, "--save-gguf") ? &a->save : NULL;
    long *np = !strcmp(s, "--bits") ? &a->bits : !strcmp(s, "--act-bits") ? &a->act_bits
             : !strcmp(s, "--kv-bits") ? &a->kv_bits : NULL;
    if (sp) {
        if (!v)
            return cli_usage_error(a->c.cmd, "%s wants a value", s), -1;
        *sp = v;
    } else if (np) {
        long lo = np == &a->bits ? 2 : 0;
        if (!v || infer_parse_int(v, lo, 16, np) < 0 || (np == &a->bits && *np > 8 && *np != 16) ||
            (np != &a->bits && *np == 1))
            return cli_usage_error(a->c.cmd, "%s wants %s, got '%s'", s,
                                   np == &a->bits ? "2..8 or 16" : "0 or 2..16",
                                   v ? v : "(nothing)"), -1;
    } else if (!strcmp(s, "--group")) {
        if (parse_group(a->c.cmd, v, &a->group) < 0)
            return -1;
        a->group_set = 1;
    } else if (!strcmp(s, "--asym") || !strcmp(s, "--sym")) {
        a->sym = !strcmp(s, "--sym");
        return 1;
    } else if (!strcmp(s, "--layers")) {
        a->layers = 1;
        return 1;
    } else
        return 0;
    (*i)++;
    return 1;
}

static int quant_parse(int argc, char **argv, struct quant_args *a)
{
    memset(a, 0, sizeof *a);
    qcli_opts_default(&a->c, "quant");
    a->bits = a->act_bits = a->kv_bits = -1;
    a->sym = -1;
    for (int i = 1; i < argc; i++) {
        int rc = qcli_parse_common(&a->c, argc, argv, &i);
        if (!rc)
            rc = quant_opt(a, argc, argv, &i);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("quant", "unknown option '%s'", argv[i]), -1;
        if (a->c.model)
            return cli_usage_error("quant", "too many arguments ('%s')", argv[i]), -1;
        a->c.model = argv[i];
    }
    if (!a->method)
        return cli_usage_error("quant", "--method is required (one of the registry names, "
                               "e.g. rtn, gptq, awq, spqr, llm.int8, smoothquant)"), -1;
    return 0;
}

/* The spec from the arguments; bits 16 = weights float. */
static int make_spec(const struct quant_args *a, struct quant_spec *spec, struct qerr *err)
{
    int bits = a->bits == 16 ? -1 : (int)a->bits;
    int rc = quant_spec_parse(spec, a->method, bits, a->group_set ? a->group : QUANT_GROUP_DEFAULT,
                              a->sym, a->opts, err);
    if (rc < 0)
        return rc;
    if (a->bits == 16)
        spec->bits = 16;
    return 0;
}

int qcli_quant_opt(struct quant_args *a, int argc, char **argv, int *i)
{
    return quant_opt(a, argc, argv, i);
}

int qcli_make_spec(const struct quant_args *a, struct quant_spec *spec, struct qerr *err)
{
    return make_spec(a, spec, err);
}

/* W8A8 methods quantize activations to 8 bits unless told otherwise. */
static int default_act_bits(const struct quant_spec *spec, long given)
{
    return given >= 0 ? (int)given : pipe_default_act_bits(spec);
}

/* ---- output ---- */

static double delta_pct(const struct ppl_result *p)
{
    return p->base_ppl > 0 ? 100.0 * (p->ppl / p->base_ppl - 1.0) : NAN;
}

static void json_kv(const char *key, double v)
{
    printf(",\"%s\":", key);
    cli_json_num(stdout, v);
}

static void print_layers_json(const struct qrun *r)
{
    printf(",\"layers\":[");
    for (int i = 0; i < r->n_t; i++) {
        const struct qrun_tensor *t = &r->t[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, t->name);
        printf(",\"rows\":%d,\"cols\":%d", t->rows, t->cols);
        json_kv("bits_per_weight", t->rep.bits_per_weight);
        json_kv("mse", t->rep.mse);
        json_kv("sqnr_db", t->rep.sqnr_db);
        json_kv("max_abs_err", t->rep.max_abs_err);
        json_kv("rel_fro", t->rep.rel_fro);
        json_kv("out_err", t->rep.out_err);
        printf(",\"outliers\":%ld,\"outlier_features\":%d", t->rep.n_outliers,
               t->rep.n_outlier_features);
        json_kv("chosen", t->rep.chosen);
        if (t->rep.note[0]) {
            printf(",\"note\":");
            cli_json_str(stdout, t->rep.note);
        }
        json_kv("seconds", t->seconds);
        printf("}");
    }
    printf("]");
}

static void print_quant_json(const struct pipe_env *e, const struct quant_args *a,
                             const struct quant_spec *spec, const struct pipe_result *res)
{
    const struct ppl_result *p = &res->ppl;
    const struct qrun *r = &res->run;
    char sbuf[300];
    qcli_config_label(spec, r->o.act_bits, r->o.kv_bits, a->c.kv_axis_channel, sbuf, sizeof sbuf);
    printf("{\"model\":");
    cli_json_str(stdout, e->im.m.path);
    printf(",\"method\":");
    cli_json_str(stdout, spec->method->name);
    printf(",\"spec\":");
    cli_json_str(stdout, sbuf);
    printf(",\"bits\":%d,\"group\":%d,\"sym\":%s,\"act_bits\":%d,\"kv_bits\":%d,\"kv_axis\":\"%s\"",
           spec->bits, spec->group, spec->sym ? "true" : "false", r->o.act_bits, r->o.kv_bits,
           a->c.kv_axis_channel ? "channel" : "token");
    printf(",\"sequential\":%s,\"calib\":{\"text\":", a->c.sequential ? "true" : "false");
    if (e->calib_path)
        cli_json_str(stdout, e->calib_path);
    else
        fputs("null", stdout);
    printf(",\"tokens\":%zu,\"chunks\":%d,\"ctx\":%d},\"eval\":{\"text\":", e->n_calib,
           r->n_chunks, r->ctx);
    cli_json_str(stdout, e->eval_path);
    printf(",\"tokens\":%zu,\"chunks\":%d,\"ctx\":%d,\"scored\":%zu}", e->n_eval, p->n_chunks,
           p->n_ctx, p->n_scored);
    json_kv("ppl_float", p->base_ppl);
    json_kv("ppl_float_stderr", p->base_ppl_stderr);
    json_kv("ppl", p->ppl);
    json_kv("ppl_stderr", p->ppl_stderr);
    json_kv("delta_ppl_pct", delta_pct(p));
    printf(",\"kl\":{\"mean\":");
    cli_json_num(stdout, p->kld.mean);
    json_kv("stderr", p->kld.stderr_mean);
    json_kv("median", p->kld.median);
    json_kv("p99", p->kld.p99);
    json_kv("max", p->kld.max);
    printf("}");
    json_kv("top1", p->top1);
    json_kv("top1_stderr", p->top1_stderr);
    kl_print_json(stdout, "kl_stats", p, e->has_kl ? e->kl.path : NULL);
    json_kv("size_mib_float", qrun_size_mib_float(r));
    json_kv("size_mib", qrun_size_mib(r));
    json_kv("bits_per_weight", spec->bits >= 16 ? 16.0 : qrun_bits_per_weight(r));
    printf(",\"quantized_weights\":%lld,\"params\":%lld", (long long)r->n_quant,
           (long long)r->n_params);
    printf(",\"seconds\":{\"calib\":");
    cli_json_num(stdout, r->calib_seconds);
    json_kv("quantize", r->quant_seconds);
    json_kv("quant_total", r->seconds);
    json_kv("eval", res->eval_seconds);
    printf("}");
    print_layers_json(r);
    printf("}\n");
}

/* Per-tensor notes of the method (e.g. a ggml type's block fallback). */
static void print_notes(const struct qrun *r)
{
    for (int i = 0; i < r->n_t; i++)
        if (r->t[i].rep.note[0])
            printf("note: %s: %s\n", r->t[i].name, r->t[i].rep.note);
}

static void print_layers_text(const struct qrun *r)
{
    printf("\n%-22s %11s %7s %9s %9s %9s %8s\n", "tensor", "shape", "bits/w", "SQNR dB",
           "rel err", "out err", "outliers");
    for (int i = 0; i < r->n_t; i++) {
        const struct qrun_tensor *t = &r->t[i];
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%d", t->rows, t->cols);
        printf("%-22s %11s %7.3f %9.2f %9.5f %9.5f %8ld\n", t->name, shape,
               t->rep.bits_per_weight, t->rep.sqnr_db, t->rep.rel_fro, t->rep.out_err,
               t->rep.n_outliers + t->rep.n_outlier_features);
    }
    print_notes(r);
}

static void print_quant_text(const struct pipe_env *e, const struct quant_args *a,
                             const struct quant_spec *spec, const struct pipe_result *res)
{
    const struct ppl_result *p = &res->ppl;
    const struct qrun *r = &res->run;
    const struct qconfig *c = &e->im.m.cfg;
    char sbuf[256];
    quant_spec_format(spec, sbuf, sizeof sbuf);
    printf("model       %s (%s, %d layers, dim %d, %.3f M params)\n", e->im.m.path, c->arch,
           c->n_layers, c->dim, (double)r->n_params / 1e6);
    printf("method      %s", spec->bits >= 16 ? "weights float" : sbuf);
    if (r->o.act_bits)
        printf("\n            activations %d-bit per token", r->o.act_bits);
    if (r->o.kv_bits)
        printf("\n            K/V cache %d-bit (%s)", r->o.kv_bits,
               a->c.kv_axis_channel ? "K per channel, V per token" : "per token");
    printf("\n");
    if (r->n_chunks)
        printf("calib       %s: %d chunks x %d tokens (%s)\n", e->calib_path, r->n_chunks, r->ctx,
               a->c.sequential ? "sequential, layer by layer" : "per block");
    if (e->has_imx)
        printf("imatrix     %s: %d entries, %lld chunks\n", a->c.imatrix, e->imx.n,
               (long long)e->imx.chunks);
    printf("eval        %s: %d chunks x %d tokens, %zu scored\n", e->eval_path, p->n_chunks,
           p->n_ctx, p->n_scored);
    printf("                      float        quantized\n");
    printf("perplexity       %10.4f       %10.4f +/- %.4f  (%+.2f %%)\n", p->base_ppl, p->ppl,
           p->ppl_stderr, delta_pct(p));
    printf("KL divergence    mean %.6f  p99 %.6f  max %.6f\n", p->kld.mean, p->kld.p99,
           p->kld.max);
    printf("top-1 agreement  %.2f %% +/- %.2f %%\n", 100 * p->top1, 100 * p->top1_stderr);
    if (e->has_kl) {
        printf("float baseline   %s (llama.cpp logits file)\n\n", e->kl.path);
        kl_print_text(stdout, p);
        putchar('\n');
    }
    printf("size             %.3f MiB -> %.3f MiB  (%.3f bits/weight over %lld quantized "
           "weights)\n", qrun_size_mib_float(r), qrun_size_mib(r),
           spec->bits >= 16 ? 16.0 : qrun_bits_per_weight(r), (long long)r->n_quant);
    printf("time             calibration %.2f s, quantization %.2f s, evaluation %.2f s\n",
           r->calib_seconds, r->quant_seconds, res->eval_seconds);
    if (a->layers)
        print_layers_text(r);
    else
        print_notes(r);
}

int cmd_quant(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(quant_help_head, stdout);
        print_methods(stdout);
        fputc('\n', stdout);
        fputs(qmix_cli_help, stdout);
        fputs(qplan_cli_help, stdout);
        fputs(qcli_common_help, stdout);
        fputs(quant_help_tail, stdout);
        return EXIT_OK;
    }
    if (qplan_cli_wants(argc, argv)) /* --plan SPEC: a per-tensor plan */
        return cmd_quant_plan(argc, argv);
    if (qmix_cli_wants(argc, argv)) /* llama-quantize presets, --pure, --export */
        return cmd_quant_mix(argc, argv);
    struct quant_args a;
    if (quant_parse(argc, argv, &a) < 0)
        return EXIT_USAGE;
    a.c.out_err = a.layers || a.c.json; /* only those outputs show it */
    struct qerr err = {0};
    struct quant_spec spec;
    if (make_spec(&a, &spec, &err) < 0)
        return cli_usage_error("quant", "%s", err.msg);
    struct pipe_env e;
    struct pipe_result res;
    memset(&res, 0, sizeof res);
    a.c.need_calib = spec.bits < 16 && spec.method->needs_calib;
    a.c.resident |= a.save != NULL; /* --save-gguf writes every quantized tensor */
    infer_catch_sigint();
    int rc = qcli_setup(&e, &a.c, &err);
    if (!rc)
        rc = qcli_run(&e, &a.c, &spec, default_act_bits(&spec, a.act_bits),
                      a.kv_bits > 0 ? (int)a.kv_bits : 0, &res, &err);
    if (!rc)
        rc = qmodel_intact(&e.im.m, &err); /* no numbers computed on zero pages */
    if (!rc && a.save)
        rc = gguf_write_model(&e.im.m, a.save, 1, &err);
    if (!rc && a.c.json)
        print_quant_json(&e, &a, &spec, &res);
    else if (!rc)
        print_quant_text(&e, &a, &spec, &res);
    qcli_result_free(&res);
    qcli_teardown(&e);
    return rc ? cli_fail(&err) : EXIT_OK;
}
