/* qlens plan: one candidate per tensor minimising the predicted damage
 * (Σ per-tensor KL from `qlens sensitivity`, an additive model) under a
 * bits/weight budget, solved exactly by the knapsack of analysis/plan.h;
 * optionally measured (--measure) beside every uniform candidate. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "analysis/plan.h"
#include "src/calib.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/plan_int.h"

static const char plan_help[] =
    "usage: qlens plan --sens FILE --target-bpw B [--by kl|out_err2|imp_mse|mse]\n"
    "                  [--unit BITS] [--spec-out FILE] [--json]\n"
    "                  [--measure [MODEL] [--all-uniform] [--out STORE [--append]] ...]\n"
    "       qlens plan --sens FILE --sweep N [--by ...] [--json]\n"
    "                  [--measure [MODEL] [--out STORE [--append]] ...]\n\n"
    "Choose one candidate per tensor (from a `qlens sensitivity --out FILE` result)\n"
    "minimising the predicted damage, the SUM over tensors of the KL divergence\n"
    "measured with only that tensor quantized (an additive model), under the budget\n"
    "B bits/weight over the quantized tensors.  Exact: a multiple-choice knapsack\n"
    "over the budget in units of --unit bits (default budget/20000), costs rounded\n"
    "up, so the plan never exceeds the budget and is at least as good as the exact\n"
    "optimum with (tensors x unit) fewer bits (the gap, printed).\n\n"
    "  --sens FILE       sensitivity JSON (qlens sensitivity --out)\n"
    "  --target-bpw B    budget in bits per weight (between the cheapest and the\n"
    "                    richest plan of the candidates, else an error)\n"
    "  --sweep N         instead of one target: N budgets from the cheapest to the\n"
    "                    richest plan, the predicted Pareto front (bits/weight,\n"
    "                    predicted KL); with --measure each plan is measured, and\n"
    "                    every uniform candidate, and a plan at each uniform\n"
    "                    candidate's bits/weight: the measured front\n"
    "  --by FIELD        damage to minimise: kl (default) or a proxy\n"
    "  --unit BITS       discretisation unit (default: automatic)\n"
    "  --spec-out FILE   write the plan as TENSOR=CANDIDATE lines (atomically), the\n"
    "                    file `qlens quant --plan FILE` applies\n"
    "  --measure         quantize the model with the plan (as qlens quant --plan)\n"
    "                    and with the uniform candidates within 0.25 bits/weight of\n"
    "                    the target and the best one at or below it (as qlens\n"
    "                    quant), and measure each against float (PPL, KL mean and\n"
    "                    p99, top-1); model and texts (--eval, --calib) from the\n"
    "                    sensitivity file unless given\n"
    "  --all-uniform     --measure every uniform candidate\n"
    "  --out STORE       save the measured runs (float, plans, uniform) as a results\n"
    "                    store (qlens results, qlens report --runs); plans have\n"
    "                    method \"plan\" and settings.plan, .tensor_types\n"
    "  --append          merge into STORE (same ids replaced) instead of replacing it\n"
    "  --json            one JSON object on stdout\n"
    "Prints the llama-quantize --tensor-type arguments when every chosen candidate\n"
    "is a llama.cpp type.\n\n";

struct plan_args {
    struct qcli_opts c;
    const char *sens, *spec_out, *by;
    double bpw, unit;
    int eval, all_uniform, append;
    const char *out;             /* --out STORE.json: results entries     */
    long sweep;                  /* --sweep N: N budgets, 0 = off         */
};

/* ---- arguments ---- */

static int num_arg(const char *opt, const char *v, double lo, double *out)
{
    char *end;
    double x = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || !isfinite(x) || x < lo)
        return cli_usage_error("plan", "%s wants a number >= %g, got '%s'", opt, lo,
                               v ? v : "(nothing)"), -1;
    *out = x;
    return 0;
}

static int parse_one(struct plan_args *a, int argc, char **argv, int *i)
{
    const char *s = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    const char **sp = !strcmp(s, "--sens") ? &a->sens : !strcmp(s, "--spec-out") ? &a->spec_out
                    : !strcmp(s, "--by") ? &a->by : !strcmp(s, "--out") ? &a->out : NULL;
    if (sp) {
        if (!v)
            return cli_usage_error("plan", "%s wants a value", s), -1;
        *sp = v;
    } else if (!strcmp(s, "--target-bpw")) {
        if (num_arg(s, v, 0, &a->bpw) < 0)
            return -1;
    } else if (!strcmp(s, "--unit")) {
        if (num_arg(s, v, 1e-3, &a->unit) < 0)
            return -1;
    } else if (!strcmp(s, "--sweep")) {
        if (infer_parse_opt("plan", s, v, 2, 1000, &a->sweep) < 0)
            return -1;
    } else if (!strcmp(s, "--measure") || !strcmp(s, "--all-uniform") ||
               !strcmp(s, "--append")) {
        *(!strcmp(s, "--measure") ? &a->eval : !strcmp(s, "--append") ? &a->append
                                  : &a->all_uniform) = 1;
        return 1;
    } else
        return 0;
    (*i)++;
    return 1;
}

static int parse(int argc, char **argv, struct plan_args *a)
{
    memset(a, 0, sizeof *a);
    qcli_opts_default(&a->c, "plan");
    a->bpw = -1;
    a->by = "kl";
    for (int i = 1; i < argc; i++) {
        int rc = qcli_parse_common(&a->c, argc, argv, &i);
        if (!rc)
            rc = parse_one(a, argc, argv, &i);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("plan", "unknown option '%s'", argv[i]), -1;
        if (a->c.model)
            return cli_usage_error("plan", "too many arguments ('%s')", argv[i]), -1;
        a->c.model = argv[i];
    }
    if (!a->sens || (a->bpw < 0 && !a->sweep))
        return cli_usage_error("plan", "--sens FILE and --target-bpw B (or --sweep N) are "
                               "required"), -1;
    if (a->sweep && (a->bpw >= 0 || a->spec_out || a->all_uniform))
        return cli_usage_error("plan", "--sweep takes no --target-bpw, --spec-out or "
                               "--all-uniform"), -1;
    if ((a->out || a->all_uniform) && !a->eval)
        return cli_usage_error("plan", "--out and --all-uniform go with --measure"), -1;
    if (a->append && !a->out)
        return cli_usage_error("plan", "--append goes with --out"), -1;
    if (strcmp(a->by, "kl") && strcmp(a->by, "out_err2") && strcmp(a->by, "imp_mse") &&
        strcmp(a->by, "mse"))
        return cli_usage_error("plan", "--by wants kl, out_err2, imp_mse or mse, got '%s'",
                               a->by), -1;
    return 0;
}

/* ---- the sensitivity file ---- */

static void sfile_free(struct sfile *f)
{
    free(f->c), free(f->t), free(f->ch), free(f->kl);
    memset(f, 0, sizeof *f);
}

static int get_num(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static void get_str(const cJSON *o, const char *key, char *buf, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(buf, n, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static int load_cands(struct sfile *f, const cJSON *root, const char *path, struct qerr *err)
{
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(root, "candidates");
    f->n_c = cJSON_IsArray(ca) ? cJSON_GetArraySize(ca) : 0;
    if (f->n_c < 1)
        return qerr_set(err, QERR_FORMAT, "%s: no \"candidates\" array", path);
    if (!(f->c = calloc((size_t)f->n_c, sizeof *f->c)))
        return qerr_set(err, QERR_NOMEM, "out of memory");
    for (int i = 0; i < f->n_c; i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ca, i), "name");
        if (!cJSON_IsString(n))
            return qerr_set(err, QERR_FORMAT, "%s: candidates[%d].name missing", path, i);
        if (sens_parse_cand(n->valuestring, &f->c[i], err))
            return qerr_prefix(err, "%s: candidates[%d]: ", path, i);
    }
    return 0;
}

static int load_cell(struct sfile *f, const cJSON *r, int ti, int ci, const char *field,
                     const char *path, struct qerr *err)
{
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(r, "candidate");
    struct plan_choice *c = &f->ch[(size_t)ti * f->n_c + ci];
    if (!cJSON_IsString(nm) || strcmp(nm->valuestring, f->c[ci].label))
        return qerr_set(err, QERR_FORMAT, "%s: tensors[%d].results[%d]: candidate is not "
                        "\"%s\"", path, ti, ci, f->c[ci].label);
    if (get_num(r, "bits", &c->cost) || c->cost < 0 || get_num(r, field, &c->damage) ||
        get_num(r, "kl_mean", &f->kl[(size_t)ti * f->n_c + ci]))
        return qerr_set(err, QERR_FORMAT, "%s: tensors[%d].results[%d]: bits, %s or kl_mean "
                        "missing or not a finite number", path, ti, ci, field);
    return 0;
}

static int load_tensor(struct sfile *f, const cJSON *o, int ti, const char *field,
                       const char *path, struct qerr *err)
{
    struct sens_tensor *t = &f->t[ti];
    double rows, cols, layer;
    get_str(o, "name", t->name, sizeof t->name);
    if (!t->name[0] || get_num(o, "rows", &rows) || get_num(o, "cols", &cols) ||
        get_num(o, "layer", &layer) || rows < 1 || cols < 1 || rows > 1e8 || cols > 1e8)
        return qerr_set(err, QERR_FORMAT, "%s: tensors[%d]: name, layer, rows or cols missing "
                        "or out of range", path, ti);
    t->rows = (int)rows, t->cols = (int)cols, t->layer = (int)layer;
    qmodel_classify(t->name, &t->layer, &t->role);
    f->weights += rows * cols;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "results");
    if (!cJSON_IsArray(res) || cJSON_GetArraySize(res) != f->n_c)
        return qerr_set(err, QERR_FORMAT, "%s: tensors[%d] (%s): want %d results, one per "
                        "candidate", path, ti, t->name, f->n_c);
    for (int ci = 0; ci < f->n_c; ci++) {
        int rc = load_cell(f, cJSON_GetArrayItem(res, ci), ti, ci, field, path, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_body(struct sfile *f, const cJSON *root, const char *field, const char *path,
                     struct qerr *err)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "qlens");
    if (!cJSON_IsString(q) || strcmp(q->valuestring, "sensitivity"))
        return qerr_set(err, QERR_FORMAT, "%s: not a qlens sensitivity result", path);
    get_str(root, "model", f->model, sizeof f->model);
    get_str(cJSON_GetObjectItemCaseSensitive(root, "eval"), "text", f->eval, sizeof f->eval);
    get_str(cJSON_GetObjectItemCaseSensitive(root, "calib"), "text", f->calib, sizeof f->calib);
    int rc = load_cands(f, root, path, err);
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(root, "tensors");
    f->n_t = cJSON_IsArray(ta) ? cJSON_GetArraySize(ta) : 0;
    if (!rc && f->n_t < 1)
        rc = qerr_set(err, QERR_FORMAT, "%s: no \"tensors\" array", path);
    if (rc)
        return rc;
    size_t n = (size_t)f->n_t * f->n_c;
    f->t = calloc((size_t)f->n_t, sizeof *f->t);
    f->ch = calloc(n, sizeof *f->ch);
    f->kl = calloc(n, sizeof *f->kl);
    if (!f->t || !f->ch || !f->kl)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    for (int ti = 0; ti < f->n_t && !rc; ti++)
        rc = load_tensor(f, cJSON_GetArrayItem(ta, ti), ti, field, path, err);
    return rc;
}

static int sfile_load(struct sfile *f, const char *path, const char *by, struct qerr *err)
{
    memset(f, 0, sizeof *f);
    size_t n;
    char *text = afile_read(path, 0, &n, err);
    if (!text)
        return err->code ? err->code : QERR_IO;
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    if (!root)
        return qerr_set(err, QERR_FORMAT, "%s: not valid JSON", path);
    int rc = load_body(f, root, !strcmp(by, "kl") ? "kl_mean" : by, path, err);
    cJSON_Delete(root);
    if (rc)
        sfile_free(f);
    return rc;
}

/* ---- solving ---- */

struct plan_out {
    int *pick;                   /* (n_t)                                 */
    struct plan_result res;
    double pred_kl;              /* Σ measured single-tensor KL of picks  */
};

/* budget in bits (the target's bits/weight x weights) */
static int solve(const struct sfile *f, const struct plan_args *a, double budget,
                 struct plan_out *p, struct qerr *err)
{
    struct plan_group *g = calloc((size_t)f->n_t, sizeof *g);
    p->pick = calloc((size_t)f->n_t, sizeof *p->pick);
    if (!g || !p->pick) {
        free(g);
        return qerr_set(err, QERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < f->n_t; i++)
        g[i] = (struct plan_group){f->ch + (size_t)i * f->n_c, f->n_c};
    int rc = plan_solve(g, f->n_t, budget, a->unit, p->pick, &p->res, err);
    free(g);
    if (rc == QERR_ARG && budget < p->res.min_cost)
        return qerr_set(err, QERR_ARG, "--target-bpw %g is below the cheapest plan of these "
                        "candidates (%.4f bits/weight)", a->bpw, p->res.min_cost / f->weights);
    if (rc)
        return rc;
    if (budget > p->res.max_cost * (1 + 1e-9))
        return qerr_set(err, QERR_ARG, "--target-bpw %g is above the richest plan of these "
                        "candidates (%.4f bits/weight): every tensor would take its richest "
                        "candidate; add richer candidates or lower the target", a->bpw,
                        p->res.max_cost / f->weights);
    for (int i = 0; i < f->n_t; i++)
        p->pred_kl += f->kl[(size_t)i * f->n_c + p->pick[i]];
    return 0;
}

/* ---- outputs ---- */

static int is_ggml(const struct sens_cand *c)
{
    return c->spec.method->apply == ggml_method_apply;
}

static void lower(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; s[k] && k + 1 < n; k++)
        out[k] = (char)tolower((unsigned char)s[k]);
    out[k] = '\0';
}

/* llama-quantize matches each pattern with regex_search against the GGUF
 * name (blk.N.ROLE.weight), first match wins: anchor and escape the dots. */
static void print_tensor_types(FILE *o, const struct sfile *f, const struct plan_out *p)
{
    for (int i = 0; i < f->n_t; i++)
        if (!is_ggml(&f->c[p->pick[i]])) {
            fprintf(o, "llama-quantize: not expressible (%s uses %s, not a llama.cpp type)\n",
                    f->t[i].name, f->c[p->pick[i]].label);
            return;
        }
    fprintf(o, "llama-quantize arguments:\n ");
    for (int i = 0; i < f->n_t; i++) {
        char ty[32];
        lower(f->c[p->pick[i]].spec.method->name, ty, sizeof ty);
        fprintf(o, " --tensor-type '^");
        for (const char *s = f->t[i].name; *s; s++)
            fprintf(o, *s == '.' ? "\\." : "%c", *s);
        fprintf(o, "\\.weight$=%s'", ty);
    }
    fputc('\n', o);
}

static int write_spec(const char *path, const struct sfile *f, const struct plan_args *a,
                      const struct plan_out *p, struct qerr *err)
{
    struct afile af;
    int rc = afile_open(&af, path, err);
    if (rc)
        return rc;
    fprintf(af.f, "# qlens plan: %s, target %g bits/weight, plan %.4f bits/weight\n",
            a->sens, a->bpw, p->res.cost / f->weights);
    fprintf(af.f, "# model %s\n", f->model);
    char *text = plan_spec_text(f, p->pick); /* what --measure measures */
    if (!text) {
        afile_abort(&af);
        return qerr_set(err, QERR_NOMEM, "out of memory");
    }
    fputs(text, af.f);
    free(text);
    return afile_commit(&af, err);
}

static void print_plan_text(const struct sfile *f, const struct plan_args *a,
                            const struct plan_out *p)
{
    printf("plan for %g bits/weight from %s (damage: %s, additive)\n", a->bpw, a->sens, a->by);
    printf("%-22s %-14s %8s %12s\n", "tensor", "candidate", "bits/w", "KL alone");
    for (int i = 0; i < f->n_t; i++) {
        const struct plan_choice *c = &f->ch[(size_t)i * f->n_c + p->pick[i]];
        printf("%-22s %-14s %8.3f %12.6f\n", f->t[i].name, f->c[p->pick[i]].label,
               c->cost / ((double)f->t[i].rows * f->t[i].cols),
               f->kl[(size_t)i * f->n_c + p->pick[i]]);
    }
    printf("plan         %.4f bits/weight, predicted KL (sum) %.6f\n", p->res.cost / f->weights,
           p->pred_kl);
    printf("solver       unit %.3g bits; no worse than the exact optimum at %.0f bits "
           "(%.5f bits/weight) less\n",
           p->res.unit, p->res.gap_bits, p->res.gap_bits / f->weights);
    printf("uniform      (predicted KL = sum of the single-tensor KLs)\n");
    for (int c = 0; c < f->n_c; c++) {
        double bits = 0, kl = 0;
        for (int i = 0; i < f->n_t; i++) {
            bits += f->ch[(size_t)i * f->n_c + c].cost;
            kl += f->kl[(size_t)i * f->n_c + c];
        }
        printf("  %-14s %.4f bits/weight, predicted KL %.6f\n", f->c[c].label,
               bits / f->weights, kl);
    }
    print_tensor_types(stdout, f, p);
}

/* ---- measured rows ---- */

/* bits/weight of candidate u on every tensor (from the file's costs) */
static double uniform_bpw(const struct sfile *f, int u)
{
    double bits = 0;
    for (int i = 0; i < f->n_t; i++)
        bits += f->ch[(size_t)i * f->n_c + u].cost;
    return bits / f->weights;
}

static double uniform_pred(const struct sfile *f, int u)
{
    double kl = 0;
    for (int i = 0; i < f->n_t; i++)
        kl += f->kl[(size_t)i * f->n_c + u];
    return kl;
}

/* The uniform candidates to measure beside a plan at target t: every one
 * (all), else those within ±0.25 bits/weight of t and the one with the
 * least predicted KL at or below t (the uniform configuration the plan
 * must beat), in order of bits/weight.  Returns how many (into idx). */
static int pick_uniform(const struct sfile *f, double t, int all, int *idx)
{
    int best = -1, n = 0;
    for (int u = 0; u < f->n_c; u++)
        if (uniform_bpw(f, u) <= t + 1e-9 &&
            (best < 0 || uniform_pred(f, u) < uniform_pred(f, best)))
            best = u;
    for (int u = 0; u < f->n_c; u++)
        if (all || u == best || fabs(uniform_bpw(f, u) - t) <= 0.25)
            idx[n++] = u;
    for (int i = 1; i < n; i++) /* insertion sort by bits/weight */
        for (int j = i; j > 0 && uniform_bpw(f, idx[j]) < uniform_bpw(f, idx[j - 1]); j--) {
            int x = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = x;
        }
    return n;
}

static void print_row_text(const struct eval_row *r, double target)
{
    char mark = !r->is_plan && fabs(r->bpw - target) <= 0.25 ? '*' : ' ';
    printf("%-21s%c %8.4f %10.4f %10.6f %10.6f %8.2f\n", r->label, mark, r->bpw, r->r.ppl,
           r->r.kld.mean, r->r.kld.p99, 100 * r->r.top1);
}

static void print_eval_text(const struct plan_args *a, const struct eval_row *rows, int n,
                            const struct plan_meas *m)
{
    printf("\nmeasured against float (float PPL %.4f on %d chunks x %d; * = uniform within "
           "0.25 bits/weight of the target)\n%-22s %8s %10s %10s %10s %8s\n", m->base.ppl,
           m->base.n_chunks, m->base.n_ctx, "config", "bits/w", "PPL", "KL mean", "KL p99",
           "top-1 %");
    for (int i = 0; i < n; i++)
        print_row_text(&rows[i], a->bpw);
}

static void jnum(const char *key, double v)
{
    printf(",\"%s\":", key);
    cli_json_num(stdout, v);
}

static void print_row_json(const struct eval_row *r)
{
    printf("{\"config\":");
    cli_json_str(stdout, r->is_plan ? "plan" : r->label);
    printf(",\"plan\":%s", r->is_plan ? "true" : "false");
    jnum("bits_per_weight", r->bpw);
    jnum("ppl", r->r.ppl);
    jnum("ppl_float", r->r.base_ppl);
    jnum("kl_mean", r->r.kld.mean);
    jnum("kl_p99", r->r.kld.p99);
    jnum("top1", r->r.top1);
    if (r->is_plan) {
        jnum("target_bpw", r->target);
        jnum("predicted_kl", r->pred_kl);
    }
    printf("}");
}

static void print_json(const struct sfile *f, const struct plan_args *a,
                       const struct plan_out *p, const struct eval_row *rows, int n)
{
    printf("{\"sens\":");
    cli_json_str(stdout, a->sens);
    printf(",\"by\":\"%s\"", a->by);
    jnum("target_bpw", a->bpw);
    jnum("bits_per_weight", p->res.cost / f->weights);
    jnum("predicted_kl", p->pred_kl);
    jnum("unit_bits", p->res.unit);
    jnum("gap_bits", p->res.gap_bits);
    printf(",\"tensors\":[");
    for (int i = 0; i < f->n_t; i++) {
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, f->t[i].name);
        printf(",\"candidate\":");
        cli_json_str(stdout, f->c[p->pick[i]].label);
        printf("}");
    }
    printf("]");
    if (rows) {
        printf(",\"eval\":[");
        for (int i = 0; i < n; i++) {
            printf("%s", i ? "," : "");
            print_row_json(&rows[i]);
        }
        printf("]");
    }
    printf("}\n");
}

/* ---- --sweep: the Pareto front, predicted and (--measure) measured ---- */

struct sweep_st {
    const struct sfile *f;
    struct plan_args *a;
    struct plan_meas *m;         /* NULL: predicted only                 */
    struct eval_row *rows;       /* (sweep + n_c) measured               */
    int n_rows;
};

static void sweep_head(const struct sweep_st *s)
{
    const struct plan_args *a = s->a;
    if (a->c.json) {
        printf("{\"sens\":");
        cli_json_str(stdout, a->sens);
        printf(",\"by\":\"%s\",\"front\":[", a->by);
    } else if (s->m)
        printf("measured Pareto front from %s (damage: %s; float PPL %.4f)\n%10s %10s %14s "
               "%10s %10s %8s\n", a->sens, a->by, s->m->base.ppl, "target", "bits/w",
               "predicted KL", "KL mean", "PPL", "top-1 %");
    else
        printf("predicted Pareto front from %s (damage: %s)\n%10s %10s %14s\n", a->sens, a->by,
               "target", "bits/w", "predicted KL");
}

static void sweep_point(const struct sweep_st *s, long k, const struct plan_out *p,
                        const struct eval_row *r)
{
    const struct plan_args *a = s->a;
    double bpw = p->res.cost / s->f->weights;
    if (a->c.json) {
        printf("%s{\"target_bpw\":", k ? "," : "");
        cli_json_num(stdout, a->bpw);
        jnum("bits_per_weight", bpw);
        jnum("predicted_kl", p->pred_kl);
        if (r) {
            printf(",\"measured\":");
            print_row_json(r);
        }
        printf("}");
    } else if (r)
        printf("%10.4f %10.4f %14.6f %10.6f %10.4f %8.2f\n", a->bpw, bpw, p->pred_kl,
               r->r.kld.mean, r->r.ppl, 100 * r->r.top1);
    else
        printf("%10.4f %10.4f %14.6f\n", a->bpw, bpw, p->pred_kl);
    fflush(stdout);
}

/* Every uniform candidate, after the front. */
static int sweep_uniform(struct sweep_st *s, struct qerr *err)
{
    int idx[256], n = pick_uniform(s->f, INFINITY, 1, idx), rc = 0;
    if (s->a->c.json)
        printf("],\"uniform\":[");
    else
        printf("uniform candidates, measured\n");
    for (int i = 0; i < n && !rc; i++) {
        struct eval_row *r = &s->rows[s->n_rows];
        if ((rc = pmeas_uniform(s->m, s->f, idx[i], r, err)))
            break;
        s->n_rows++;
        if (s->a->c.json) {
            printf("%s", i ? "," : "");
            print_row_json(r);
        } else
            print_row_text(r, -1e9);
    }
    return rc;
}

static void sweep_range(const struct sfile *f, double *lo, double *hi)
{
    *lo = *hi = 0;
    for (int i = 0; i < f->n_t; i++) {
        double l = INFINITY, h = 0;
        for (int c = 0; c < f->n_c; c++) {
            l = fmin(l, f->ch[(size_t)i * f->n_c + c].cost);
            h = fmax(h, f->ch[(size_t)i * f->n_c + c].cost);
        }
        *lo += l, *hi += h;
    }
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* N budgets (bits) evenly spaced from lo to hi; when measuring, also the
 * bits of every uniform candidate, so each uniform point has the plan of
 * the same bits beside it.  Sorted, duplicates dropped; returns how many. */
static int sweep_budgets(const struct sfile *f, const struct plan_args *a, int with_uniform,
                         double lo, double hi, double *b)
{
    int n = 0;
    for (long k = 0; k < a->sweep; k++)
        b[n++] = k == a->sweep - 1 ? hi : lo + (hi - lo) * (double)k / (a->sweep - 1);
    for (int u = 0; with_uniform && u < f->n_c; u++) /* within [lo, hi] up to rounding */
        b[n++] = fmin(hi, fmax(lo, uniform_bpw(f, u) * f->weights));
    qsort(b, (size_t)n, sizeof *b, cmp_double);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!m || b[i] - b[m - 1] > 1e-9 * hi)
            b[m++] = b[i];
    return m;
}

/* N budgets evenly spaced from the cheapest to the richest plan; each
 * solved plan is on the predicted front (least Σ damage for its bits);
 * with --measure each is measured, and every uniform candidate too. */
static int run_sweep(struct sweep_st *s, struct qerr *err)
{
    const struct sfile *f = s->f;
    struct plan_args *a = s->a;
    struct plan_out p;
    memset(&p, 0, sizeof p);
    double lo, hi, *b = malloc(sizeof *b * (size_t)(a->sweep + f->n_c));
    if (!b)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    sweep_range(f, &lo, &hi);
    int nb = sweep_budgets(f, a, s->m != NULL, lo, hi, b);
    sweep_head(s);
    int rc = 0;
    for (int k = 0; k < nb && !rc; k++) {
        double budget = b[k];
        a->bpw = budget / f->weights;
        free(p.pick);
        memset(&p, 0, sizeof p);
        if ((rc = solve(f, a, budget, &p, err)))
            break;
        struct eval_row *r = s->m ? &s->rows[s->n_rows] : NULL;
        if (r && (rc = pmeas_plan(s->m, f, p.pick, a->bpw, p.pred_kl, r, err)))
            break;
        s->n_rows += r != NULL;
        sweep_point(s, k, &p, r);
    }
    if (!rc && s->m)
        rc = sweep_uniform(s, err);
    if (a->c.json && !rc)
        printf("]}\n");
    free(p.pick);
    free(b);
    return rc;
}

/* ---- the command ---- */

/* One target: the plan, then the uniform candidates chosen to compare. */
static int measure_target(const struct sfile *f, const struct plan_args *a,
                          const struct plan_out *p, struct plan_meas *m, struct eval_row *rows,
                          int *n, struct qerr *err)
{
    int idx[256], nu = pick_uniform(f, a->bpw, a->all_uniform, idx);
    int rc = pmeas_plan(m, f, p->pick, a->bpw, p->pred_kl, &rows[0], err);
    *n = !rc;
    for (int i = 0; i < nu && !rc; i++)
        if (!(rc = pmeas_uniform(m, f, idx[i], &rows[*n], err)))
            (*n)++;
    return rc;
}

static int run_one(const struct sfile *f, struct plan_args *a, struct plan_meas *m,
                   struct eval_row *rows, int *n, struct qerr *err)
{
    struct plan_out p;
    memset(&p, 0, sizeof p);
    int rc = solve(f, a, a->bpw * f->weights, &p, err);
    if (!rc && a->spec_out)
        rc = write_spec(a->spec_out, f, a, &p, err);
    if (!rc && m)
        rc = measure_target(f, a, &p, m, rows, n, err);
    if (!rc && a->out)
        rc = pmeas_save(m, f, rows, *n, a->out, a->append, err);
    if (!rc && a->c.json)
        print_json(f, a, &p, m ? rows : NULL, *n);
    else if (!rc) {
        print_plan_text(f, a, &p);
        if (m)
            print_eval_text(a, rows, *n, m);
    }
    free(p.pick);
    return rc;
}

/* --out must be writable and, with --append, an existing file must load. */
static int check_out(const struct plan_args *a, struct qerr *err)
{
    char target[4096];
    int rc = afile_target(a->out, target, sizeof target, err);
    if (!rc && a->append && access(a->out, F_OK) == 0) {
        struct results_store old;
        results_store_init(&old);
        rc = results_load(&old, a->out, err);
        results_store_free(&old);
    }
    return rc;
}

int cmd_plan(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(plan_help, stdout);
        fputs(qcli_common_help, stdout);
        return EXIT_OK;
    }
    struct plan_args a;
    if (parse(argc, argv, &a) < 0)
        return EXIT_USAGE;
    struct qerr err = {0};
    struct sfile f;
    struct plan_meas m;
    int n = 0;
    memset(&m, 0, sizeof m);
    if (sfile_load(&f, a.sens, a.by, &err))
        return cli_fail(&err);
    struct eval_row *rows = calloc((size_t)(a.sweep + 2 * f.n_c + 1), sizeof *rows);
    int rc = rows ? 0 : qerr_set(&err, QERR_NOMEM, "out of memory");
    if (!rc && f.n_c > 256)
        rc = qerr_set(&err, QERR_FORMAT, "%s: %d candidates, at most 256", a.sens, f.n_c);
    infer_catch_sigint();
    if (!rc && a.out) /* an unusable --out fails before minutes of work */
        rc = check_out(&a, &err);
    if (!rc && a.eval)
        rc = pmeas_open(&m, &f, &a.c, a.sens, &err);
    if (!rc && a.sweep) {
        struct sweep_st s = {&f, &a, a.eval ? &m : NULL, rows, 0};
        rc = run_sweep(&s, &err);
        n = s.n_rows;
        if (!rc && a.out)
            rc = pmeas_save(&m, &f, rows, n, a.out, a.append, &err);
    } else if (!rc)
        rc = run_one(&f, &a, a.eval ? &m : NULL, rows, &n, &err);
    if (a.eval)
        pmeas_close(&m);
    eval_rows_free(rows, n);
    free(rows);
    sfile_free(&f);
    return rc ? cli_fail(&err) : EXIT_OK;
}
