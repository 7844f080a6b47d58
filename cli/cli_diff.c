/* qlens diff: how far each tensor of one model (OTHER) is from the same
 * tensor of another (BASE): MSE, SQNR, max error, relative Frobenius error
 * and the bits/weight OTHER spends, per tensor and in total.  Typical use:
 * a quantized GGUF against the F16/F32 file it was made from.
 *
 * Tensors are matched by canonical name (src/model.h), so the two files may
 * be in different formats.  Only one pair of tensors is held in floats at a
 * time: a 7B model diffs in the memory of its largest tensor, twice. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/tdiff.h"
#include "cli/cli.h"
#include "cli/cli_results.h"
#include "cli/commands.h"
#include "src/mdiff.h"
#include "src/model.h"

static const char diff_help[] =
    "usage: qlens diff BASE OTHER [--tensor REGEX] [--json|--csv]\n\n"
    "Compare every tensor of OTHER with the tensor of the same canonical name\n"
    "in BASE (e.g. a quantized GGUF with the F16 file it was made from).  Per\n"
    "tensor, with D = OTHER - BASE over its n values:\n"
    "  mse       sum(D^2) / n\n"
    "  sqnr_db   10 log10(sum(BASE^2) / sum(D^2))   (300 when D = 0)\n"
    "  max_abs   max |D|\n"
    "  rel_fro   ||D||_F / ||BASE||_F\n"
    "  bpw       bits per weight OTHER stores (file bytes * 8 / n)\n"
    "The total row pools the sums of all matched tensors.  Tensors present in\n"
    "only one file are listed; a matched pair whose shapes differ is an error.\n\n"
    "  --tensor REGEX   only tensors whose name matches (POSIX extended regex)\n"
    "  --json           one JSON object {\"tensors\":[...],\"total\":{...},...}\n"
    "  --csv            one header row, one row per tensor (status 'both',\n"
    "                   'base_only', 'other_only'), then a 'total' row\n";

struct diff_args {
    const char *base, *other, *regex;
    enum cli_fmt fmt;
};

/* One matched pair (bi in BASE, oi in OTHER) and its error. */
struct diff_row {
    int bi, oi;
    struct tdiff acc;
    struct tdiff_metrics m;
};

struct diff_result {
    struct diff_row *rows;
    int n_rows;
    int *only_base, *only_other; /* tensor indices */
    int n_only_base, n_only_other;
    struct tdiff total;
    double bits_other, bits_base;   /* storage of the matched tensors */
    int64_t n_params;               /* values of the matched tensors   */
};

static int parse_args(int argc, char **argv, struct diff_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (cli_is_help(s)) {
            fputs(diff_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(s, "--json")) {
            a->fmt = CLI_JSON;
        } else if (!strcmp(s, "--csv")) {
            a->fmt = CLI_CSV;
        } else if (!strcmp(s, "--tensor")) {
            if (i + 1 >= argc)
                return cli_usage_error("diff", "--tensor needs a regular expression");
            a->regex = argv[++i];
        } else if (s[0] == '-' && s[1]) {
            return cli_usage_error("diff", "unknown option '%s'", s);
        } else if (!a->base) {
            a->base = s;
        } else if (!a->other) {
            a->other = s;
        } else {
            return cli_usage_error("diff", "unexpected argument '%s'", s);
        }
    }
    if (!a->other)
        return cli_usage_error("diff", "needs two models: BASE OTHER");
    return -1;
}

static const char *tensor_type(const struct qtensor *t)
{
    return qdtype_name(t->dtype);
}

/* Match tensors by name; fails on a shape mismatch (naming both files). */
static int diff_match(const struct qmodel *b, const struct qmodel *o, const regex_t *re,
                      struct diff_result *r, struct qerr *err)
{
    r->rows = calloc((size_t)b->n_tensors + 1, sizeof *r->rows);
    r->only_base = calloc((size_t)b->n_tensors + 1, sizeof(int));
    r->only_other = calloc((size_t)o->n_tensors + 1, sizeof(int));
    if (!r->rows || !r->only_base || !r->only_other)
        return qerr_set(err, QERR_NOMEM, "diff: out of memory");
    for (int i = 0; i < b->n_tensors; i++) {
        const struct qtensor *t = &b->tensors[i];
        if (re && regexec(re, t->name, 0, NULL, 0))
            continue;
        int j = qmodel_find(o, t->name);
        if (j < 0) {
            r->only_base[r->n_only_base++] = i;
            continue;
        }
        if (mdiff_match(b, o, j) < 0) {
            char sb[64], so[64];
            qtensor_shape_str(t, "x", sb, sizeof sb);
            qtensor_shape_str(&o->tensors[j], "x", so, sizeof so);
            return qerr_set(err, QERR_FORMAT, "diff: tensor %s has shape %s in %s but %s in %s",
                            t->name, sb, b->path, so, o->path);
        }
        r->rows[r->n_rows].bi = i;
        r->rows[r->n_rows++].oi = j;
    }
    for (int j = 0; j < o->n_tensors; j++) {
        const char *name = o->tensors[j].name;
        if ((!re || !regexec(re, name, 0, NULL, 0)) && qmodel_find(b, name) < 0)
            r->only_other[r->n_only_other++] = j;
    }
    return 0;
}

/* Error of every matched pair, one pair of float buffers reused. */
static int diff_compute(const struct qmodel *b, const struct qmodel *o, struct diff_result *r,
                        struct qerr *err)
{
    int64_t maxn = 0;
    for (int k = 0; k < r->n_rows; k++)
        if (b->tensors[r->rows[k].bi].nelem > maxn)
            maxn = b->tensors[r->rows[k].bi].nelem;
    float *wb = malloc((size_t)(maxn ? maxn : 1) * sizeof *wb);
    float *wo = malloc((size_t)(maxn ? maxn : 1) * sizeof *wo);
    float *tmp = malloc((size_t)(maxn ? maxn : 1) * sizeof *tmp);
    if (!wb || !wo || !tmp) {
        free(wb), free(wo), free(tmp);
        return qerr_set(err, QERR_NOMEM, "diff: out of memory for a tensor of %lld values",
                        (long long)maxn);
    }
    tdiff_init(&r->total);
    for (int k = 0; k < r->n_rows; k++) {
        struct diff_row *d = &r->rows[k];
        const struct qtensor *tb = &b->tensors[d->bi], *to = &o->tensors[d->oi];
        qtensor_read_f32(tb, wb);
        mdiff_read(b, o, to, wo, tmp);
        tdiff_init(&d->acc);
        tdiff_add(&d->acc, wb, wo, tb->nelem);
        tdiff_finish(&d->acc, &d->m);
        tdiff_merge(&r->total, &d->acc);
        r->bits_other += 8.0 * (double)to->nbytes;
        r->bits_base += 8.0 * (double)tb->nbytes;
        r->n_params += tb->nelem;
    }
    free(wb), free(wo), free(tmp);
    return 0;
}

static void diff_free(struct diff_result *r)
{
    free(r->rows);
    free(r->only_base);
    free(r->only_other);
}

/* ---- output ---- */

static void print_text(const struct qmodel *b, const struct qmodel *o, const struct diff_result *r)
{
    int w = 6;
    for (int k = 0; k < r->n_rows; k++) {
        int l = (int)strlen(b->tensors[r->rows[k].bi].name);
        w = l > w ? l : w;
    }
    printf("base   %s (%s)\nother  %s (%s)\n\n", b->path, qformat_name(b->format), o->path,
           qformat_name(o->format));
    printf("%-*s %-11s %-6s %-6s %7s %11s %8s %10s %10s\n", w, "tensor", "shape", "base",
           "other", "bpw", "mse", "sqnr_db", "max_abs", "rel_fro");
    for (int k = 0; k < r->n_rows; k++) {
        const struct diff_row *d = &r->rows[k];
        const struct qtensor *tb = &b->tensors[d->bi], *to = &o->tensors[d->oi];
        char shape[64];
        qtensor_shape_str(tb, "x", shape, sizeof shape);
        printf("%-*s %-11s %-6s %-6s %7.3f %11.4e %8.2f %10.4g %10.4g", w, tb->name, shape,
               tensor_type(tb), tensor_type(to), mdiff_bpw(to), d->m.mse, d->m.sqnr_db,
               d->m.max_abs, d->m.rel_fro);
        if (d->m.n_nonfinite)
            printf("  (%lld NaN/Inf pairs left out)", (long long)d->m.n_nonfinite);
        putchar('\n');
    }
    struct tdiff_metrics t;
    tdiff_finish(&r->total, &t);
    printf("%-*s %-11lld %-6s %-6s %7.3f %11.4e %8.2f %10.4g %10.4g\n", w, "total",
           (long long)r->n_params, "", "", r->n_params ? r->bits_other / (double)r->n_params : 0,
           t.mse, t.sqnr_db, t.max_abs, t.rel_fro);
    printf("\n%d tensors compared; bits/weight %.3f in base, %.3f in other\n", r->n_rows,
           r->n_params ? r->bits_base / (double)r->n_params : 0,
           r->n_params ? r->bits_other / (double)r->n_params : 0);
    if (r->n_only_base) {
        printf("only in base:");
        for (int k = 0; k < r->n_only_base; k++)
            printf(" %s", b->tensors[r->only_base[k]].name);
        putchar('\n');
    }
    if (r->n_only_other) {
        printf("only in other:");
        for (int k = 0; k < r->n_only_other; k++)
            printf(" %s", o->tensors[r->only_other[k]].name);
        putchar('\n');
    }
}

static void json_metrics(const struct tdiff_metrics *m, double bpw)
{
    printf("\"bpw\":");
    cli_json_num(stdout, bpw);
    printf(",\"mse\":");
    cli_json_num(stdout, m->mse);
    printf(",\"sqnr_db\":");
    cli_json_num(stdout, m->sqnr_db);
    printf(",\"max_abs_err\":");
    cli_json_num(stdout, m->max_abs);
    printf(",\"rel_fro\":");
    cli_json_num(stdout, m->rel_fro);
    printf(",\"nonfinite\":%lld", (long long)m->n_nonfinite);
}

static void json_names(const char *key, const struct qmodel *m, const int *idx, int n)
{
    printf(",\"%s\":[", key);
    for (int k = 0; k < n; k++) {
        if (k)
            putchar(',');
        cli_json_str(stdout, m->tensors[idx[k]].name);
    }
    putchar(']');
}

static void print_json(const struct qmodel *b, const struct qmodel *o, const struct diff_result *r)
{
    printf("{\"base\":");
    cli_json_str(stdout, b->path);
    printf(",\"other\":");
    cli_json_str(stdout, o->path);
    printf(",\"tensors\":[");
    for (int k = 0; k < r->n_rows; k++) {
        const struct diff_row *d = &r->rows[k];
        const struct qtensor *tb = &b->tensors[d->bi], *to = &o->tensors[d->oi];
        printf("%s{\"name\":", k ? "," : "");
        cli_json_str(stdout, tb->name);
        printf(",\"shape\":[");
        for (int i = 0; i < tb->ndim; i++)
            printf("%s%lld", i ? "," : "", (long long)tb->shape[i]);
        printf("],\"params\":%lld,\"base_type\":\"%s\",\"type\":\"%s\",\"base_bpw\":",
               (long long)tb->nelem, tensor_type(tb), tensor_type(to));
        cli_json_num(stdout, mdiff_bpw(tb));
        putchar(',');
        json_metrics(&d->m, mdiff_bpw(to));
        putchar('}');
    }
    putchar(']');
    json_names("only_in_base", b, r->only_base, r->n_only_base);
    json_names("only_in_other", o, r->only_other, r->n_only_other);
    struct tdiff_metrics t;
    tdiff_finish(&r->total, &t);
    double np = r->n_params ? (double)r->n_params : 1;
    printf(",\"total\":{\"tensors\":%d,\"params\":%lld,\"base_bpw\":", r->n_rows,
           (long long)r->n_params);
    cli_json_num(stdout, r->bits_base / np);
    putchar(',');
    json_metrics(&t, r->bits_other / np);
    printf("}}\n");
}

static void csv_num(double v)
{
    if (isfinite(v))
        printf(",%.17g", v);
    else if (isinf(v))
        printf(",%s", v > 0 ? "inf" : "-inf");
    else
        printf(",");
}

static void csv_row(const char *name, const char *shape, const char *status, const char *bt,
                    const char *ot, long long n, const struct tdiff_metrics *m, double bpw)
{
    cli_results_csv_str(name);
    printf(",%s,%s,%s,%s,%lld", shape, status, bt, ot, n);
    if (!m) {
        printf(",,,,,,\n");
        return;
    }
    csv_num(bpw);
    csv_num(m->mse);
    csv_num(m->sqnr_db);
    csv_num(m->max_abs);
    csv_num(m->rel_fro);
    printf(",%lld\n", (long long)m->n_nonfinite);
}

static void print_csv(const struct qmodel *b, const struct qmodel *o, const struct diff_result *r)
{
    char shape[64];
    printf("tensor,shape,status,base_type,type,params,bpw,mse,sqnr_db,max_abs_err,rel_fro,nonfinite\n");
    for (int k = 0; k < r->n_rows; k++) {
        const struct qtensor *tb = &b->tensors[r->rows[k].bi], *to = &o->tensors[r->rows[k].oi];
        qtensor_shape_str(tb, "x", shape, sizeof shape);
        csv_row(tb->name, shape, "both", tensor_type(tb), tensor_type(to), (long long)tb->nelem,
                &r->rows[k].m, mdiff_bpw(to));
    }
    for (int k = 0; k < r->n_only_base; k++) {
        const struct qtensor *t = &b->tensors[r->only_base[k]];
        qtensor_shape_str(t, "x", shape, sizeof shape);
        csv_row(t->name, shape, "base_only", tensor_type(t), "", (long long)t->nelem, NULL, 0);
    }
    for (int k = 0; k < r->n_only_other; k++) {
        const struct qtensor *t = &o->tensors[r->only_other[k]];
        qtensor_shape_str(t, "x", shape, sizeof shape);
        csv_row(t->name, shape, "other_only", "", tensor_type(t), (long long)t->nelem, NULL, 0);
    }
    struct tdiff_metrics t;
    tdiff_finish(&r->total, &t);
    csv_row("total", "", "both", "", "", (long long)r->n_params, &t,
            r->n_params ? r->bits_other / (double)r->n_params : 0);
}

static int run_diff(const struct diff_args *a, struct qmodel *b, struct qmodel *o, struct qerr *err)
{
    regex_t re;
    if (a->regex && regcomp(&re, a->regex, REG_EXTENDED | REG_NOSUB))
        return qerr_set(err, QERR_ARG, "diff: --tensor: bad regular expression '%s'", a->regex);
    struct diff_result r;
    memset(&r, 0, sizeof r);
    int rc = diff_match(b, o, a->regex ? &re : NULL, &r, err);
    if (!rc)
        rc = diff_compute(b, o, &r, err);
    if (!rc) {
        if (a->fmt == CLI_JSON)
            print_json(b, o, &r);
        else if (a->fmt == CLI_CSV)
            print_csv(b, o, &r);
        else
            print_text(b, o, &r);
    }
    diff_free(&r);
    if (a->regex)
        regfree(&re);
    return rc;
}

int cmd_diff(int argc, char **argv)
{
    struct diff_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    struct qerr err = {0};
    struct qmodel b, o;
    if (qmodel_open(&b, a.base, &err))
        return cli_fail(&err);
    if (qmodel_open(&o, a.other, &err)) {
        qmodel_close(&b);
        return cli_fail(&err);
    }
    rc = run_diff(&a, &b, &o, &err);
    qmodel_close(&o);
    qmodel_close(&b);
    return rc ? cli_fail(&err) : EXIT_OK;
}
