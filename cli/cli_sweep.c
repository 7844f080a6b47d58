/* qlens sweep: a grid of whole-model quantization runs (methods x bits x
 * groups x options x activation bits x KV bits) against one float
 * baseline, written as one results file (analysis/results.h) and
 * optionally CSV. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analysis/afile.h"
#include "analysis/results.h"
#include "cli/cli.h"
#include "cli/cli_results.h"
#include "cli/cli_quant.h"
#include "cli/commands.h"

#define SW_MAX_LIST 32

static const char sweep_help[] =
    "usage: qlens sweep [MODEL] --methods M,... --bits B,... [--groups G,...]\n"
    "                   [--opts 'k=v,..;k=v,..'] [--act-bits A,...] [--kv-bits K,...]\n"
    "                   [--asym|--sym] [...evaluation options] --out FILE.json\n"
    "                   [--csv FILE.csv] [--append] [--json]\n\n"
    "Run `qlens quant` for every combination and write all of them, plus the\n"
    "float baseline (measured once), into one results file (schema\n"
    "qlens-results/1: `qlens results show FILE`, the dashboard and `qlens\n"
    "correlate` read it).  Each entry has the perplexity on the evaluation text;\n"
    "its settings hold the spec, bits per weight, size, KL divergence (mean, p99,\n"
    "max), top-1 agreement and the change in perplexity.\n\n"
    "  --methods LIST   registry names, lower case (rtn,gptq,awq,spqr,llm.int8,\n"
    "                   smoothquant)\n"
    "  --bits LIST      weight bits 2..8; 16 keeps weights float (KV/act-only rows)\n"
    "  --groups LIST    group sizes; 0/row = per output channel, -1/tensor\n"
    "                   (default: each method's own default)\n"
    "  --opts ALTS      method options; alternatives separated by ';', each\n"
    "                   'k=v,k=v' (e.g. 'outliers=1;outliers=0' for SpQR)\n"
    "  --act-bits LIST  activation bits (0 = off; default: 8 for llm.int8 and\n"
    "                   smoothquant, else 0)\n"
    "  --kv-bits LIST   K/V cache bits (0 = off, default 0)\n"
    "  --out FILE       results file (JSON) to write (atomically)\n"
    "  --csv FILE       the same rows as CSV for spreadsheets\n"
    "  --append         add to (or replace entries of the same id in) an existing --out\n"
    "  --kl-cache-mib N keep the float model's logits of the evaluation chunks in\n"
    "                   memory (up to N MiB, default 1024; 0 = off) so KL runs skip\n"
    "                   the float forward pass; larger sets are recomputed per run\n"
    "  --json           print the results file on stdout instead of a table\n\n"
    "Combinations that make no sense are skipped with a note: LLM.int8 at other\n"
    "than 8 bits, group sizes for the per-channel methods LLM.int8 and SmoothQuant,\n"
    "repeated float-weight (--bits 16) runs.\n\n";

struct sweep_args {
    struct qcli_opts c;
    const char *methods[SW_MAX_LIST];
    int n_methods;
    int bits[SW_MAX_LIST], n_bits;
    int groups[SW_MAX_LIST], n_groups;
    int act[SW_MAX_LIST], n_act;
    int kv[SW_MAX_LIST], n_kv;
    char *opts[SW_MAX_LIST];
    int n_opts;
    char *buf;                     /* owned copies of the lists          */
    const char *out, *csv;
    int sym, append;
};

/* One finished row (for the table and the CSV). */
struct sweep_row {
    char id[160], method[32], spec[256];
    int w, a, kv, group, sym;
    double ppl, se, dppl, kl_mean, kl_p99, kl_max, top1, bpw, size_mib, t_quant, t_eval;
    double outlier_frac;           /* weights kept float / quantized weights */
};

/* ---- argument lists ---- */

/* Items of a sep-separated list, or -1 when it has more than max. */
static int split(char *s, char sep, char **items, int max)
{
    int n = 0;
    for (char *p = s; p;) {
        if (n == max)
            return -1;
        char *next = strchr(p, sep);
        if (next)
            *next++ = '\0';
        items[n++] = p;
        p = next;
    }
    return n;
}

static int int_list(const char *opt, char *val, int lo, int hi, int *out, int *n)
{
    char *items[SW_MAX_LIST];
    int k = split(val, ',', items, SW_MAX_LIST);
    if (k < 0)
        return cli_usage_error("sweep", "%s: more than %d values", opt, SW_MAX_LIST), -1;
    for (int i = 0; i < k; i++) {
        long v;
        if (!strcmp(opt, "--groups") && (!strcmp(items[i], "row") || !strcmp(items[i], "channel")))
            v = 0;
        else if (!strcmp(opt, "--groups") && !strcmp(items[i], "tensor"))
            v = -1;
        else if (infer_parse_int(items[i], lo, hi, &v) < 0)
            return cli_usage_error("sweep", "%s: '%s' is not an integer in %d..%d", opt, items[i],
                                   lo, hi), -1;
        out[i] = (int)v;
    }
    *n = k;
    return 0;
}

static int check_bits(const struct sweep_args *a)
{
    for (int i = 0; i < a->n_bits; i++)
        if (a->bits[i] > 8 && a->bits[i] != 16)
            return cli_usage_error("sweep", "--bits: %d is neither 2..8 nor 16", a->bits[i]), -1;
    for (int i = 0; i < a->n_act; i++)
        if (a->act[i] == 1)
            return cli_usage_error("sweep", "--act-bits: 1 bit is not supported"), -1;
    for (int i = 0; i < a->n_kv; i++)
        if (a->kv[i] == 1)
            return cli_usage_error("sweep", "--kv-bits: 1 bit is not supported"), -1;
    return 0;
}

/* A list option: copy its value into a->buf space and split it. */
static int list_opt(struct sweep_args *a, const char *s, const char *v, char **space)
{
    size_t n = strlen(v) + 1;
    char *copy = *space;
    memcpy(copy, v, n);
    *space += n;
    int k = 0;
    if (!strcmp(s, "--methods"))
        k = a->n_methods = split(copy, ',', (char **)a->methods, SW_MAX_LIST);
    else if (!strcmp(s, "--bits"))
        return int_list(s, copy, 2, 16, a->bits, &a->n_bits);
    else if (!strcmp(s, "--groups"))
        return int_list(s, copy, -1, 1 << 24, a->groups, &a->n_groups);
    else if (!strcmp(s, "--act-bits"))
        return int_list(s, copy, 0, 16, a->act, &a->n_act);
    else if (!strcmp(s, "--kv-bits"))
        return int_list(s, copy, 0, 16, a->kv, &a->n_kv);
    else if (!strcmp(s, "--opts"))
        k = a->n_opts = split(copy, ';', a->opts, SW_MAX_LIST);
    if (k < 0)
        return cli_usage_error("sweep", "%s: more than %d values", s, SW_MAX_LIST), -1;
    return 0;
}

static int is_list_opt(const char *s)
{
    static const char *const names[] = {"--methods", "--bits", "--groups", "--act-bits",
                                        "--kv-bits", "--opts", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i]))
            return 1;
    return 0;
}

static int sweep_opt(struct sweep_args *a, int argc, char **argv, int *i, char **space)
{
    const char *s = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!strcmp(s, "--asym") || !strcmp(s, "--sym")) {
        a->sym = !strcmp(s, "--sym");
        return 1;
    }
    if (!strcmp(s, "--append")) {
        a->append = 1;
        return 1;
    }
    if (!strcmp(s, "--kl-cache-mib")) {
        if (!v || infer_parse_int(v, 0, 1 << 24, &a->c.kl_cache_mib) < 0)
            return cli_usage_error("sweep", "--kl-cache-mib wants a size in MiB (0 = off), "
                                   "got '%s'", v ? v : "(nothing)"), -1;
        (*i)++;
        return 1;
    }
    int lst = is_list_opt(s);
    if (!lst && strcmp(s, "--out") && strcmp(s, "--csv"))
        return 0;
    if (!v)
        return cli_usage_error("sweep", "%s wants a value", s), -1;
    (*i)++;
    if (!strcmp(s, "--out"))
        a->out = v;
    else if (!strcmp(s, "--csv"))
        a->csv = v;
    else if (list_opt(a, s, v, space) < 0)
        return -1;
    return 1;
}

static int sweep_parse(int argc, char **argv, struct sweep_args *a)
{
    memset(a, 0, sizeof *a);
    qcli_opts_default(&a->c, "sweep");
    a->sym = -1;
    size_t total = 1;
    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    char *space = a->buf = malloc(total);
    if (!space)
        return cli_usage_error("sweep", "out of memory"), -1;
    for (int i = 1; i < argc; i++) {
        int rc = qcli_parse_common(&a->c, argc, argv, &i);
        if (!rc)
            rc = sweep_opt(a, argc, argv, &i, &space);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("sweep", "unknown option '%s'", argv[i]), -1;
        if (a->c.model)
            return cli_usage_error("sweep", "too many arguments ('%s')", argv[i]), -1;
        a->c.model = argv[i];
    }
    if (!a->n_methods || !a->n_bits)
        return cli_usage_error("sweep", "--methods and --bits are required"), -1;
    for (int m = 0; m < a->n_methods; m++) /* a typo should not cost a sweep */
        if (!quant_find(a->methods[m]))
            return cli_usage_error("sweep", "--methods: unknown method '%s' (rtn, gptq, awq, "
                                   "spqr, llm.int8, smoothquant)", a->methods[m]), -1;
    if (!a->out)
        return cli_usage_error("sweep", "--out FILE.json is required"), -1;
    return check_bits(a);
}

/* ---- one configuration ---- */

struct sweep_state {
    struct sweep_args *a;
    struct pipe_env e;
    struct results_store store;
    struct sweep_row *rows;
    int n_rows, n_failed, first_fail;
    char model[128];
    cJSON *notes;                  /* strings for the store's "notes"     */
};

/* Add a note (the store keeps each distinct text once); 1 when new. */
static int add_note(struct sweep_state *st, const char *text)
{
    if (!st->notes && !(st->notes = cJSON_CreateArray()))
        return 1;
    const cJSON *n;
    cJSON_ArrayForEach(n, st->notes)
        if (cJSON_IsString(n) && !strcmp(n->valuestring, text))
            return 0;
    cJSON_AddItemToArray(st->notes, cJSON_CreateString(text));
    return 1;
}

/* Merge the notes into store s (after those it already has). */
static int store_notes(struct sweep_state *st, struct results_store *s)
{
    if (!st->notes)
        return 0;
    cJSON *all = s->notes_json ? cJSON_Parse(s->notes_json) : cJSON_CreateArray();
    if (!all)
        return QERR_NOMEM;
    const cJSON *n;
    cJSON_ArrayForEach(n, st->notes) {
        int dup = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, all)
            dup |= cJSON_IsString(o) && !strcmp(o->valuestring, n->valuestring);
        if (!dup)
            cJSON_AddItemToArray(all, cJSON_CreateString(n->valuestring));
    }
    char *txt = cJSON_PrintUnformatted(all);
    cJSON_Delete(all);
    if (!txt)
        return QERR_NOMEM;
    free(s->notes_json);
    s->notes_json = txt;
    return 0;
}

struct sweep_cfg {
    struct quant_spec spec;
    int act, kv;
    const char *opts;
};

/* Why a combination is skipped, or NULL to run it.  Float-weight runs
 * (--bits 16) do not depend on the method or group: they run once. */
static const char *skip_reason(const struct sweep_cfg *c, int group_given,
                               const struct sweep_state *st, const char *id)
{
    const char *n = c->spec.method->name;
    int per_channel = !strcmp(n, "LLM.int8") || !strcmp(n, "SmoothQuant");
    if (c->spec.bits >= 16 && c->act <= 0 && c->kv <= 0)
        return "float weights without activation or KV quantization are the float baseline "
               "(its row is already there)";
    for (int i = 0; i < st->n_rows; i++)
        if (!strcmp(st->rows[i].id, id))
            return "the same configuration already ran in this sweep";
    if (c->spec.bits >= 16)
        return NULL;
    if (!strcmp(n, "LLM.int8") && c->spec.bits != 8)
        return "LLM.int8 is an 8-bit method";
    if (per_channel && group_given && c->spec.group != 0)
        return "vector-wise (per output channel) method: groups do not apply";
    return NULL;
}

static void make_id(const char *model, const struct sweep_cfg *c, int kv_channel, char *buf,
                    size_t n)
{
    char label[300];
    qcli_config_label(&c->spec, c->act, c->kv, kv_channel, label, sizeof label);
    if (snprintf(buf, n, "%s/%s", model, label) >= (int)n) /* results ids: 159 bytes */
        buf[n - 1] = '\0';
}

static void fill_row(struct sweep_row *row, const struct sweep_cfg *c, const struct pipe_result *r,
                     const char *id)
{
    const struct ppl_result *p = &r->ppl;
    memset(row, 0, sizeof *row);
    snprintf(row->id, sizeof row->id, "%s", id);
    snprintf(row->method, sizeof row->method, "%s", c->spec.bits >= 16 ? "float" : c->spec.method->name);
    if (c->spec.bits < 16)
        quant_spec_format(&c->spec, row->spec, sizeof row->spec);
    else
        snprintf(row->spec, sizeof row->spec, "float");
    row->w = c->spec.bits >= 16 ? 16 : c->spec.bits;
    row->a = r->run.o.act_bits ? r->run.o.act_bits : 16;
    row->kv = c->kv ? c->kv : 16;
    row->group = c->spec.group;
    row->sym = c->spec.sym;
    row->ppl = p->ppl;
    row->se = p->ppl_stderr;
    row->dppl = 100.0 * (p->ppl / p->base_ppl - 1.0);
    row->kl_mean = p->kld.mean;
    row->kl_p99 = p->kld.p99;
    row->kl_max = p->kld.max;
    row->top1 = p->top1;
    row->bpw = c->spec.bits >= 16 ? 16.0 : qrun_bits_per_weight(&r->run);
    row->size_mib = qrun_size_mib(&r->run);
    double n_out = 0;
    for (int i = 0; i < r->run.n_t; i++)
        n_out += (double)r->run.t[i].rep.n_outliers;
    row->outlier_frac = r->run.n_quant > 0 ? n_out / (double)r->run.n_quant : 0.0;
    row->t_quant = r->run.seconds;
    row->t_eval = r->eval_seconds;
}

static void float_row(struct sweep_row *row, const struct ppl_result *p, double size_mib,
                      const char *model)
{
    memset(row, 0, sizeof *row);
    snprintf(row->id, sizeof row->id, "%s/float", model);
    snprintf(row->method, sizeof row->method, "float");
    snprintf(row->spec, sizeof row->spec, "float");
    row->w = row->a = row->kv = 16;
    row->ppl = p->ppl;
    row->se = p->ppl_stderr;
    row->top1 = 1.0;
    row->bpw = 16.0;
    row->size_mib = size_mib;
    row->t_eval = p->seconds;
}

/* The settings object of an entry (JSON text). */
static void settings_json(const struct sweep_row *r, const struct pipe_env *e,
                          const struct qcli_opts *o, int n_chunks_calib, char *buf, size_t n)
{
    snprintf(buf, n,
             "{\"spec\":\"%s\",\"group\":%d,\"sym\":%s,\"bits_per_weight\":%.6g,"
             "\"size_mib\":%.6g,\"kl_mean\":%.6g,\"kl_p99\":%.6g,\"kl_max\":%.6g,"
             "\"top1\":%.6g,\"delta_ppl_pct\":%.6g,\"ctx\":%d,\"chunks\":%ld,"
             "\"calib_ctx\":%d,\"calib_chunks\":%d,\"sequential\":%s,\"kv_axis\":\"%s\","
             "\"seconds_quant\":%.4g,\"seconds_eval\":%.4g,\"outlier_frac\":%.6g}",
             r->spec, r->group, r->sym ? "true" : "false", r->bpw, r->size_mib, r->kl_mean,
             r->kl_p99, r->kl_max, r->top1, r->dppl, e->n_ctx, o->chunks > 0 ? o->chunks : 0,
             e->calib_ctx, n_chunks_calib, o->sequential ? "true" : "false",
             o->kv_axis_channel ? "channel" : "token", r->t_quant, r->t_eval, r->outlier_frac);
}

static int add_entry(struct results_store *s, const struct sweep_row *r, const struct pipe_env *e,
                     const struct qcli_opts *o, int n_chunks_calib, struct qerr *err)
{
    struct results_entry en;
    char model[128], dataset[64], settings[1024];
    results_entry_init(&en);
    results_label(e->im.m.path, model, sizeof model);
    results_label(e->eval_path, dataset, sizeof dataset);
    snprintf(en.id, sizeof en.id, "%s", r->id);
    snprintf(en.model, sizeof en.model, "%s", model);
    snprintf(en.method, sizeof en.method, "%s", r->method);
    en.w_bits = r->w;
    en.a_bits = r->a;
    en.kv_bits = r->kv;
    en.group_size = r->group > 0 ? r->group : 0;
    en.memory_gb = r->size_mib / 1024.0;
    snprintf(en.source, sizeof en.source, "qlens %s sweep", QLENS_VERSION);
    settings_json(r, e, o, n_chunks_calib, settings, sizeof settings);
    int rc = results_entry_set_settings(&en, settings, err);
    if (!rc)
        rc = results_entry_set_ppl(&en, dataset, r->ppl, r->se, err);
    if (!rc)
        rc = results_put_entry(s, &en, err);
    results_entry_free(&en);
    return rc;
}

/* ---- output ---- */

static void print_row(const struct sweep_row *r)
{
    printf("%10.4f %+9.2f%% %9.6f %9.6f %7.2f%% %7.3f %7.2f  %s\n", r->ppl, r->dppl, r->kl_mean,
           r->kl_p99, 100 * r->top1, r->bpw, r->t_quant + r->t_eval, r->id);
    fflush(stdout);
}

/* Atomic, as every saved file: a full disk keeps the previous CSV.  Text
 * fields are quoted with inner quotes doubled (a model name may hold one). */
static int write_csv(const char *path, const struct sweep_row *rows, int n, struct qerr *err)
{
    struct afile a;
    int rc = afile_open(&a, path, err);
    if (rc)
        return rc;
    FILE *f = a.f;
    fprintf(f, "id,method,spec,w_bits,a_bits,kv_bits,group,sym,ppl,ppl_stderr,delta_ppl_pct,"
               "kl_mean,kl_p99,kl_max,top1,bits_per_weight,size_mib,seconds_quant,seconds_eval,"
               "outlier_frac\n");
    for (int i = 0; i < n; i++) {
        const struct sweep_row *r = &rows[i];
        cli_results_csv_fstr(f, r->id);
        putc(',', f);
        cli_results_csv_fstr(f, r->method);
        putc(',', f);
        cli_results_csv_fstr(f, r->spec);
        fprintf(f, ",%d,%d,%d,%d,%d,%.6f,%.6f,%.4f,%.8f,%.8f,%.8f,%.6f,%.4f,"
                   "%.6f,%.4f,%.4f,%.6f\n", r->w, r->a, r->kv, r->group,
                r->sym, r->ppl, r->se, r->dppl, r->kl_mean, r->kl_p99, r->kl_max, r->top1, r->bpw,
                r->size_mib, r->t_quant, r->t_eval, r->outlier_frac);
    }
    return afile_commit(&a, err);
}

/* ---- the grid ---- */


static int push_row(struct sweep_state *st, const struct sweep_row *r)
{
    struct sweep_row *nr = realloc(st->rows, (size_t)(st->n_rows + 1) * sizeof *nr);
    if (!nr)
        return QERR_NOMEM;
    st->rows = nr;
    st->rows[st->n_rows++] = *r;
    if (!st->a->c.json)
        print_row(r);
    return 0;
}

static void note(struct sweep_state *st, const char *id, const char *why)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "skipped %s: %s", id, why);
    if (add_note(st, buf)) /* say it once */
        fprintf(stderr, "qlens sweep: skipping %s: %s\n", id, why);
}

/* Run one configuration and record it; QERR_CANCEL stops the grid, other
 * failures are reported and the grid goes on. */
static int run_cfg(struct sweep_state *st, struct sweep_cfg *c, struct qerr *err)
{
    char id[160];
    make_id(st->model, c, st->a->c.kv_axis_channel, id, sizeof id);
    struct pipe_result res;
    st->e.label = id;
    int rc = qcli_run(&st->e, &st->a->c, &c->spec, c->act, c->kv, &res, err);
    st->e.label = NULL;
    if (rc == QERR_CANCEL) {
        qcli_result_free(&res);
        return rc;
    }
    if (rc < 0) {
        fprintf(stderr, "qlens sweep: %s failed: %s\n", id, err->msg);
        if (!st->n_failed++)
            st->first_fail = rc;
        qcli_result_free(&res);
        qerr_clear(err);
        return 0;
    }
    struct sweep_row row;
    fill_row(&row, c, &res, id);
    rc = add_entry(&st->store, &row, &st->e, &st->a->c, res.run.n_chunks, err);
    if (!rc)
        rc = push_row(st, &row);
    qcli_result_free(&res);
    return rc;
}

static int default_act(const struct quant_spec *s)
{
    const char *n = s->method->name;
    return !strcmp(n, "SmoothQuant") || !strcmp(n, "LLM.int8") ? 8 : 0;
}

/* Every combination of one method. */
static int run_method(struct sweep_state *st, const char *method, struct qerr *err)
{
    struct sweep_args *a = st->a;
    int ng = a->n_groups ? a->n_groups : 1, no = a->n_opts ? a->n_opts : 1;
    int na = a->n_act ? a->n_act : 1, nk = a->n_kv ? a->n_kv : 1;
    int rc = 0;
    for (int b = 0; b < a->n_bits && !rc; b++)
    for (int g = 0; g < ng && !rc; g++)
    for (int o = 0; o < no && !rc; o++)
    for (int ai = 0; ai < na && !rc; ai++)
    for (int k = 0; k < nk && !rc; k++) {
        struct sweep_cfg c = {.opts = a->n_opts ? a->opts[o] : NULL};
        int bits = a->bits[b] == 16 ? -1 : a->bits[b];
        int group = a->n_groups ? a->groups[g] : QUANT_GROUP_DEFAULT;
        char label[200];
        snprintf(label, sizeof label, "%s w%d g%s %s", method, a->bits[b],
                 a->n_groups ? "" : "default", c.opts ? c.opts : "");
        if (quant_spec_parse(&c.spec, method, bits, group, a->sym, c.opts, err) < 0) {
            note(st, label, err->msg);
            qerr_clear(err);
            continue;
        }
        if (a->bits[b] == 16)
            c.spec.bits = 16;
        c.act = a->n_act ? a->act[ai] : default_act(&c.spec);
        c.kv = a->n_kv ? a->kv[k] : 0;
        make_id(st->model, &c, a->c.kv_axis_channel, label, sizeof label);
        const char *why = skip_reason(&c, a->n_groups > 0, st, label);
        if (why) {
            note(st, label, why);
            continue;
        }
        rc = run_cfg(st, &c, err);
    }
    return rc;
}

static int baseline(struct sweep_state *st, struct qerr *err)
{
    struct ppl_result p;
    st->e.label = "float baseline";
    int rc = qcli_run_float(&st->e, &st->a->c, &p, err);
    st->e.label = NULL;
    if (rc < 0)
        return rc;
    struct sweep_row row;
    double mib = (double)qmodel_param_count(&st->e.im.m) * 2.0 / (1024.0 * 1024.0);
    float_row(&row, &p, mib, st->model);
    rc = add_entry(&st->store, &row, &st->e, &st->a->c, 0, err);
    return rc ? rc : push_row(st, &row);
}

/* st->store holds this run's entries only.  The output files must be
 * writable (not a FIFO, a device, a dangling link) and, with --append, the
 * existing store must load: both are checked before minutes of work. */
static int open_store(struct sweep_state *st, struct qerr *err)
{
    results_store_init(&st->store);
    snprintf(st->store.source, sizeof st->store.source, "qlens %s sweep", QLENS_VERSION);
    char t[PATH_MAX];
    int rc = afile_target(st->a->out, t, sizeof t, err);
    if (!rc && st->a->csv)
        rc = afile_target(st->a->csv, t, sizeof t, err);
    if (!rc && st->a->append && access(st->a->out, F_OK) == 0) {
        struct results_store old;
        results_store_init(&old);
        rc = results_load(&old, st->a->out, err);
        results_store_free(&old);
    }
    return rc;
}

/* Save the store: with `merge` (--append, or an interrupted run) into what
 * the file holds at this moment, re-read under the store lock so that an
 * import made while the sweep ran is kept (this run's entries replace those
 * with the same id); otherwise this run's entries replace the file. */
static int save_out(struct sweep_state *st, int merge, struct results_store *dst,
                    struct qerr *err)
{
    results_store_init(dst);
    int lock = results_lock(st->a->out, err);
    if (lock < 0)
        return lock;
    int rc = 0;
    snprintf(dst->source, sizeof dst->source, "%s", st->store.source);
    if (merge && access(st->a->out, F_OK) == 0)
        rc = results_load(dst, st->a->out, err);
    for (int i = 0; !rc && i < st->store.n; i++)
        rc = results_put_entry(dst, &st->store.e[i], err);
    if (!rc && store_notes(st, dst) < 0)
        rc = qerr_set(err, QERR_NOMEM, "out of memory");
    if (!rc)
        rc = results_save(dst, st->a->out, err);
    results_unlock(lock);
    return rc;
}

static int finish(struct sweep_state *st, int merge, struct qerr *err)
{
    struct results_store dst;
    int rc = save_out(st, merge, &dst, err);
    if (!rc && st->a->csv)
        rc = write_csv(st->a->csv, st->rows, st->n_rows, err);
    if (!rc && st->a->c.json) {
        char *j = results_to_json(&dst);
        if (!j)
            rc = qerr_set(err, QERR_NOMEM, "out of memory");
        else {
            fputs(j, stdout);
            fputc('\n', stdout);
            free(j);
        }
    }
    results_store_free(&dst);
    return rc;
}

/* Notes saying how the numbers were measured. */
static void describe_setup(struct sweep_state *st)
{
    const struct pipe_env *e = &st->e;
    const struct qcli_opts *o = &st->a->c;
    char buf[1024];
    const char *ev = strrchr(e->eval_path, '/');
    const char *ca = e->calib_path ? strrchr(e->calib_path, '/') : NULL;
    ev = ev ? ev + 1 : e->eval_path;
    ca = ca ? ca + 1 : e->calib_path;
    int n_ev = ppl_n_chunks(e->n_eval, e->n_ctx);
    if (o->chunks > 0 && o->chunks < n_ev)
        n_ev = (int)o->chunks;
    snprintf(buf, sizeof buf, "%s: evaluation %s, %d chunks x %d tokens (llama.cpp method: "
             "second half of each chunk scored); KL divergence against the float model on "
             "the same chunks", st->model, ev, n_ev, e->n_ctx);
    add_note(st, buf);
    if (!e->calib_path)
        return;
    int n_cal = (int)(e->n_calib / (size_t)e->calib_ctx);
    if (n_cal > o->calib_chunks)
        n_cal = (int)o->calib_chunks;
    snprintf(buf, sizeof buf, "%s: calibration %s, %d chunks x %d tokens, %s", st->model,
             ca, n_cal, e->calib_ctx,
             o->sequential ? "sequential (layer by layer, GPTQ order)" : "per block");
    add_note(st, buf);
}

/* Does any method of the grid (at bits < 16) need calibration? */
static int grid_needs_calib(const struct sweep_args *a)
{
    int quantized = 0;
    for (int b = 0; b < a->n_bits; b++)
        quantized |= a->bits[b] < 16;
    for (int m = 0; m < a->n_methods && quantized; m++) {
        const struct quantizer *q = quant_find(a->methods[m]);
        if (!q || q->needs_calib) /* unknown names are reported later */
            return 1;
    }
    return 0;
}

static int sweep_run(struct sweep_state *st, struct qerr *err)
{
    st->a->c.need_calib = grid_needs_calib(st->a);
    int rc = open_store(st, err);
    if (!rc)
        rc = qcli_setup(&st->e, &st->a->c, err);
    if (!rc) /* the most demanding configuration, before the first row */
        rc = qcli_check_memory(&st->e, &st->a->c, 1, st->a->c.need_calib,
                               st->a->c.kl_cache_mib > 0, err);
    if (rc)
        return rc;
    results_label(st->e.im.m.path, st->model, sizeof st->model);
    describe_setup(st);
    if (!st->a->c.json)
        printf("%10s %10s %9s %9s %8s %7s %7s  %s\n", "PPL", "dPPL", "KL mean", "KL p99",
               "top-1", "bits/w", "time s", "configuration");
    rc = baseline(st, err);
    for (int m = 0; m < st->a->n_methods && !rc; m++)
        rc = run_method(st, st->a->methods[m], err);
    if (rc == QERR_CANCEL) {
        /* keep what finished, beside what the file held (an interrupted
         * run replaces nothing); a failed save is the error to report */
        int frc = st->n_rows > 0 ? finish(st, 1, err) : 0;
        if (frc)
            qerr_prefix(err, "interrupted, and the finished configurations were not saved: ");
        return frc ? frc : rc;
    }
    return rc ? rc : finish(st, st->a->append, err);
}

int cmd_sweep(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(sweep_help, stdout);
        fputs(qcli_common_help, stdout);
        printf("\nProgress goes to stderr when it is a terminal; Ctrl-C cancels (exit 130)\n"
               "after adding the configurations that finished to --out (what it held stays).\n");
        return EXIT_OK;
    }
    struct sweep_args a;
    struct sweep_state st;
    memset(&st, 0, sizeof st);
    if (sweep_parse(argc, argv, &a) < 0) {
        free(a.buf);
        return EXIT_USAGE;
    }
    st.a = &a;
    struct qerr err = {0};
    infer_catch_sigint();
    int rc = sweep_run(&st, &err);
    qcli_teardown(&st.e);
    results_store_free(&st.store);
    cJSON_Delete(st.notes);
    free(st.rows);
    free(a.buf);
    if (rc)
        return cli_fail(&err);
    if (st.n_failed) {
        fprintf(stderr, "qlens sweep: %d configuration(s) failed (see above)\n", st.n_failed);
        return cli_exit_code(st.first_fail);
    }
    return EXIT_OK;
}
