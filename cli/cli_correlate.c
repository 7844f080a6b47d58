/* qlens correlate: does perplexity (or any X) predict a benchmark score (Y)
 * over a selection of stored results?  One Y: r, rho, p, CI, the fitted
 * line and a text scatter plot.  --all: one row per benchmark and the
 * average |r|, in the spirit of Jin et al. 2024, Table 3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/correlate.h"
#include "analysis/filter.h"
#include "cli/cli.h"
#include "cli/cli_results.h"
#include "cli/commands.h"

#define MAX_STORES 64
#define PLOT_W 60
#define PLOT_H 16

struct copts {
    const char *x, *y, *where, *by;
    char *stores[MAX_STORES];
    int n_stores;
    int all;
    enum cli_fmt fmt;
};

/* The selection: pointers into the store, and X per entry (NAN if none). */
struct sel {
    const struct results_entry **e;
    double *x, *y; /* (n) */
    int n;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: qlens correlate [--x FIELD] [--y METRIC | --all] [--where FILTER]\n"
        "                       [--by FIELD] [--store FILE]... [--json|--csv]\n\n"
        "Pearson r (two-sided p from the t distribution, 95%% CI by Fisher z),\n"
        "Spearman rho (ties get mean ranks) and the least-squares line between X and\n"
        "Y over the entries FILTER selects.  X defaults to ppl_mean, the mean\n"
        "perplexity over the datasets an entry has; any numeric field works\n"
        "(ppl.wikitext2, memory_gb, speed, bits, a benchmark).  Without --y, or with\n"
        "--all, every benchmark in the selection gets a row and the average |r| is\n"
        "printed.  Entries lacking X or Y are left out of that pair (n says how many\n"
        "remain); fewer than 3 pairs or a constant column gives no r, with a reason.\n"
        "--by FIELD (a text field: model, method, settings.KEY) repeats --all for\n"
        "each value of FIELD in the selection and prints one summary line each.\n"
        "The store defaults to the bundled papers' data ('papers').\n\n"
        "example (Jin et al. 2024, Table 3 selection):\n"
        "  qlens correlate --all --where 'model=Qwen*,method=GPTQ|SpQR,bits=3..4'\n");
}

static int parse(struct copts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->x = "ppl_mean";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if ((!strcmp(a, "--x") || !strcmp(a, "--y") || !strcmp(a, "--where") ||
             !strcmp(a, "--store") || !strcmp(a, "--by")) && !has)
            return cli_usage_error("correlate", "%s needs a value", a);
        if (!strcmp(a, "--x")) o->x = argv[++i];
        else if (!strcmp(a, "--y")) o->y = argv[++i];
        else if (!strcmp(a, "--where")) o->where = argv[++i];
        else if (!strcmp(a, "--by")) o->by = argv[++i];
        else if (!strcmp(a, "--store")) {
            if (o->n_stores == MAX_STORES)
                return cli_usage_error("correlate", "too many --store files");
            o->stores[o->n_stores++] = argv[++i];
        } else if (!strcmp(a, "--all")) o->all = 1;
        else if (!strcmp(a, "--json")) o->fmt = CLI_JSON;
        else if (!strcmp(a, "--csv")) o->fmt = CLI_CSV;
        else return cli_usage_error("correlate", "unknown argument '%s'", a);
    }
    if (o->all && o->y)
        return cli_usage_error("correlate", "give --y METRIC or --all, not both");
    if (o->by && o->y)
        return cli_usage_error("correlate", "--by goes with --all, not --y");
    if (o->by && !filter_text_field(&(struct results_entry){0}, o->by, (char[8]){0}, 8))
        return cli_usage_error("correlate", "--by wants a text field (model, method, id, "
                               "source, settings.KEY), not '%s'", o->by);
    if (!o->y)
        o->all = 1;
    return 0;
}

static int select_entries(const struct results_store *s, const struct filter *f,
                          const char *xf, struct sel *out)
{
    out->e = malloc(sizeof *out->e * (size_t)(s->n + 1));
    out->x = malloc(sizeof *out->x * (size_t)(s->n + 1));
    out->y = malloc(sizeof *out->y * (size_t)(s->n + 1));
    out->n = 0;
    if (!out->e || !out->x || !out->y)
        return -1;
    for (int i = 0; i < s->n; i++)
        if (filter_match(f, &s->e[i])) {
            out->e[out->n] = &s->e[i];
            out->x[out->n++] = results_entry_value(&s->e[i], xf);
        }
    return 0;
}

static void fill_y(struct sel *s, const char *yf)
{
    for (int i = 0; i < s->n; i++)
        s->y[i] = results_entry_value(s->e[i], yf);
}

static const char *unit_of(const struct sel *s, const char *yf)
{
    for (int i = 0; i < s->n; i++) {
        const struct results_bench *b = results_entry_bench(s->e[i], yf);
        if (b)
            return b->unit;
    }
    return "";
}

/* Benchmark names present in the selection, first appearance order. */
static int bench_names(const struct sel *s, const char ***names)
{
    int n = 0, cap = 64;
    const char **v = malloc(sizeof *v * (size_t)cap);
    for (int i = 0; v && i < s->n; i++)
        for (int k = 0; k < s->e[i]->n_bench; k++) {
            const char *nm = s->e[i]->bench[k].name;
            int seen = 0;
            for (int j = 0; j < n && !seen; j++)
                seen = !strcmp(v[j], nm);
            if (seen)
                continue;
            if (n == cap) {
                const char **nv = realloc(v, sizeof *v * (size_t)(cap *= 2));
                if (!nv) {
                    free(v);
                    return -1;
                }
                v = nv;
            }
            v[n++] = nm;
        }
    *names = v;
    return v ? n : -1;
}

/* ------------------------------------------------------------------ */
/* table mode                                                          */

struct row {
    const char *y, *unit;
    int rc;            /* QERR_OK or the corr_compute status */
    struct corr_result c;
    char why[sizeof ((struct qerr *)0)->msg]; /* reason when rc != 0 */
};

static void row_text(const struct row *r)
{
    if (r->rc) {
        printf("%-30s %-8s %3zu   -- %s\n", r->y, r->unit, r->c.n, r->why);
        return;
    }
    printf("%-30s %-8s %3zu %8.4f  [%7.4f, %7.4f] %9.2g %8.4f %9.2g\n", r->y, r->unit,
           r->c.n, r->c.r, r->c.r_lo, r->c.r_hi, r->c.r_p, r->c.rho, r->c.rho_p);
}

static void row_csv(const struct row *r)
{
    cli_results_csv_str(r->y);
    printf(",%s,%zu,", r->unit, r->c.n);
    if (r->rc) {
        printf(",,,,,,,,");
        cli_results_csv_str(r->why);
        putchar('\n');
    } else
        printf("%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,\n", r->c.r, r->c.r_lo, r->c.r_hi,
               r->c.r_p, r->c.rho, r->c.rho_p, r->c.slope, r->c.intercept);
}

static void row_json(const struct row *r, int first)
{
    printf("%s\n  {\"y\": ", first ? "" : ",");
    cli_json_str(stdout, r->y);
    printf(", \"unit\": ");
    cli_json_str(stdout, r->unit);
    printf(", \"n\": %zu, \"n_missing\": %zu", r->c.n, r->c.n_missing);
    if (r->rc) {
        printf(", \"error\": ");
        cli_json_str(stdout, r->why);
        printf("}");
        return;
    }
    const double v[] = {r->c.r, r->c.r_p, r->c.r_lo, r->c.r_hi, r->c.rho, r->c.rho_p,
                        r->c.slope, r->c.intercept};
    const char *k[] = {"r", "r_p", "r_lo", "r_hi", "rho", "rho_p", "slope", "intercept"};
    for (int i = 0; i < 8; i++) {
        printf(", \"%s\": ", k[i]);
        cli_json_num(stdout, v[i]);
    }
    printf("}");
}

static void table_head(const struct copts *o, const struct sel *s, int nrow)
{
    if (o->fmt == CLI_JSON) {
        printf("{\"x\": ");
        cli_json_str(stdout, o->x);
        printf(", \"where\": ");
        cli_json_str(stdout, o->where ? o->where : "");
        printf(", \"n_entries\": %d, \"rows\": [", s->n);
    } else if (o->fmt == CLI_CSV) {
        printf("y,unit,n,r,r_lo,r_hi,r_p,rho,rho_p,slope,intercept,error\n");
    } else {
        printf("x = %s over %d selected entr%s%s%s; %d benchmark%s\n", o->x, s->n,
               s->n == 1 ? "y" : "ies", o->where ? " where " : "", o->where ? o->where : "",
               nrow, nrow == 1 ? "" : "s");
        printf("%-30s %-8s %3s %8s  %-18s %9s %8s %9s\n", "benchmark (y)", "unit", "n",
               "r", "95% CI of r", "p", "rho", "p(rho)");
    }
}

static void table_tail(const struct copts *o, int k, double sum_r, double sum_rho)
{
    double mr = k ? sum_r / k : 0, mrho = k ? sum_rho / k : 0;
    if (o->fmt == CLI_JSON) {
        printf("\n], \"n_metrics\": %d, \"mean_abs_r\": ", k);
        cli_json_num(stdout, k ? mr : NAN);
        printf(", \"mean_abs_rho\": ");
        cli_json_num(stdout, k ? mrho : NAN);
        printf("}\n");
    } else if (o->fmt == CLI_TEXT) {
        if (k)
            printf("average |r| over %d benchmark%s: %.4f   (average |rho|: %.4f)\n", k,
                   k == 1 ? "" : "s", mr, mrho);
        else
            printf("no benchmark had enough data for a correlation\n");
    }
}

static int run_table(const struct copts *o, struct sel *s)
{
    const char **names;
    int nn = bench_names(s, &names);
    if (nn < 0) {
        fprintf(stderr, "qlens: out of memory\n");
        return EXIT_INTERNAL;
    }
    table_head(o, s, nn);
    int k = 0;
    double sum_r = 0, sum_rho = 0;
    for (int i = 0; i < nn; i++) {
        struct row r = {.y = names[i], .unit = unit_of(s, names[i])};
        struct qerr err = {0};
        fill_y(s, names[i]);
        r.rc = corr_compute(s->x, s->y, (size_t)s->n, &r.c, &err);
        snprintf(r.why, sizeof r.why, "%s", err.msg);
        if (!r.rc) {
            k++;
            sum_r += fabs(r.c.r);
            sum_rho += fabs(r.c.rho);
        }
        if (o->fmt == CLI_JSON) row_json(&r, i == 0);
        else if (o->fmt == CLI_CSV) row_csv(&r);
        else row_text(&r);
    }
    table_tail(o, k, sum_r, sum_rho);
    free(names);
    return k || nn == 0 ? EXIT_OK : EXIT_DATA;
}

/* ------------------------------------------------------------------ */
/* --by FIELD: the table's average |r| per group                       */

/* Average |r| and |rho| over the benchmarks of a selection; k = how many
 * benchmarks had a correlation.  -1 on no memory. */
static int table_means(struct sel *s, int *k, double *mr, double *mrho)
{
    const char **names;
    int nn = bench_names(s, &names);
    if (nn < 0)
        return -1;
    *k = 0;
    *mr = *mrho = 0;
    for (int i = 0; i < nn; i++) {
        struct corr_result c;
        fill_y(s, names[i]);
        if (corr_compute(s->x, s->y, (size_t)s->n, &c, NULL) == QERR_OK) {
            (*k)++;
            *mr += fabs(c.r);
            *mrho += fabs(c.rho);
        }
    }
    if (*k) {
        *mr /= *k;
        *mrho /= *k;
    }
    free(names);
    return 0;
}

/* The entries of s whose field equals value, into g (arrays sized s->n). */
static void subset(const struct sel *s, const char *field, const char *value, struct sel *g)
{
    g->n = 0;
    for (int i = 0; i < s->n; i++) {
        char buf[256];
        if (!strcmp(filter_text_field(s->e[i], field, buf, sizeof buf), value)) {
            g->e[g->n] = s->e[i];
            g->x[g->n++] = s->x[i];
        }
    }
}

static void by_line(const struct copts *o, const char *v, int n, int k, double mr,
                    double mrho, int first)
{
    if (o->fmt == CLI_JSON) {
        printf("%s\n  {\"value\": ", first ? "" : ",");
        cli_json_str(stdout, v);
        printf(", \"n_entries\": %d, \"n_metrics\": %d, \"mean_abs_r\": ", n, k);
        cli_json_num(stdout, k ? mr : NAN);
        printf(", \"mean_abs_rho\": ");
        cli_json_num(stdout, k ? mrho : NAN);
        printf("}");
    } else if (o->fmt == CLI_CSV) {
        cli_results_csv_str(v);
        printf(",%d,%d,", n, k);
        if (k)
            printf("%.9g,%.9g\n", mr, mrho);
        else
            printf(",\n");
    } else if (k) {
        printf("%-32s %7d %8d %9.4f %10.4f\n", v, n, k, mr, mrho);
    } else {
        printf("%-32s %7d %8d   -- no benchmark with 3+ pairs and varying values\n", v, n, k);
    }
}

static void by_head(const struct copts *o, int n)
{
    if (o->fmt == CLI_JSON) {
        printf("{\"x\": ");
        cli_json_str(stdout, o->x);
        printf(", \"by\": ");
        cli_json_str(stdout, o->by);
        printf(", \"where\": ");
        cli_json_str(stdout, o->where ? o->where : "");
        printf(", \"groups\": [");
    } else if (o->fmt == CLI_CSV) {
        printf("value,n_entries,n_metrics,mean_abs_r,mean_abs_rho\n");
    } else {
        printf("x = %s, by %s, over %d selected entries%s%s\n", o->x, o->by, n,
               o->where ? " where " : "", o->where ? o->where : "");
        printf("%-32s %7s %8s %9s %10s\n", o->by, "entries", "metrics", "avg |r|", "avg |rho|");
    }
}

static int run_by(const struct copts *o, struct sel *s)
{
    struct sel g = {malloc(sizeof *g.e * (size_t)s->n), malloc(sizeof *g.x * (size_t)s->n),
                    malloc(sizeof *g.y * (size_t)s->n), 0};
    const char **seen = malloc(sizeof *seen * (size_t)s->n);
    char (*vals)[256] = malloc(sizeof *vals * (size_t)s->n);
    int nv = 0, rc = (g.e && g.x && g.y && seen && vals) ? EXIT_OK : EXIT_INTERNAL, any = 0;
    by_head(o, s->n);
    for (int i = 0; i < s->n && !rc; i++) {
        const char *v = filter_text_field(s->e[i], o->by, vals[nv], sizeof vals[nv]);
        int dup = 0;
        for (int j = 0; j < nv && !dup; j++)
            dup = !strcmp(seen[j], v);
        if (dup)
            continue;
        seen[nv++] = v;
        subset(s, o->by, v, &g);
        int k = 0;
        double mr, mrho;
        if (table_means(&g, &k, &mr, &mrho))
            rc = EXIT_INTERNAL;
        else
            by_line(o, v, g.n, k, mr, mrho, nv == 1);
        any |= k > 0;
    }
    if (o->fmt == CLI_JSON)
        printf("\n]}\n");
    free(g.e);
    free(g.x);
    free(g.y);
    free(seen);
    free(vals);
    if (rc)
        fprintf(stderr, "qlens: out of memory\n");
    return rc ? rc : any ? EXIT_OK : EXIT_DATA;
}

/* ------------------------------------------------------------------ */
/* one Y: numbers, points and a scatter plot                           */

static void range_of(const double *v, const double *w, int n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]) && isfinite(w[i])) {
            *lo = fmin(*lo, v[i]);
            *hi = fmax(*hi, v[i]);
        }
    if (*hi <= *lo) { /* keep the cell arithmetic finite */
        *lo -= 0.5;
        *hi += 0.5;
    }
}

static int cell(double v, double lo, double hi, int cells)
{
    int c = (int)floor((v - lo) / (hi - lo) * (cells - 1) + 0.5);
    return c < 0 ? 0 : c >= cells ? cells - 1 : c;
}

/* Points as digits (how many share a cell; '#' for 10+), the fitted line
 * as '.', y up, x right. */
static void scatter(const struct sel *s, const struct corr_result *c, const char *xf,
                    const char *yf)
{
    double x0, x1, y0, y1;
    range_of(s->x, s->y, s->n, &x0, &x1);
    range_of(s->y, s->x, s->n, &y0, &y1);
    char g[PLOT_H][PLOT_W + 1];
    int cnt[PLOT_H][PLOT_W] = {{0}};
    memset(g, ' ', sizeof g);
    for (int col = 0; col < PLOT_W; col++) {
        double x = x0 + (x1 - x0) * col / (PLOT_W - 1);
        double y = c->intercept + c->slope * x;
        if (y >= y0 && y <= y1)
            g[PLOT_H - 1 - cell(y, y0, y1, PLOT_H)][col] = '.';
    }
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i])) {
            int r = PLOT_H - 1 - cell(s->y[i], y0, y1, PLOT_H), col = cell(s->x[i], x0, x1, PLOT_W);
            int k = ++cnt[r][col];
            g[r][col] = k >= 10 ? '#' : (char)('0' + k);
        }
    printf("\n%s\n", yf);
    for (int r = 0; r < PLOT_H; r++) {
        g[r][PLOT_W] = '\0';
        double yl = r == 0 ? y1 : r == PLOT_H - 1 ? y0 : NAN;
        if (isfinite(yl))
            printf("%10.4g |%s\n", yl, g[r]);
        else
            printf("%10s |%s\n", "", g[r]);
    }
    printf("%10s +", "");
    for (int col = 0; col < PLOT_W; col++)
        putchar('-');
    printf("\n%11s%-10.4g%*s%10.4g\n", "", x0, PLOT_W - 20, xf, x1);
    printf("%11s(digits: points per cell, '.': least-squares line)\n", "");
}

static void single_text(const struct copts *o, const struct sel *s, const struct corr_result *c)
{
    printf("x = %s, y = %s over %d selected entr%s%s%s\n", o->x, o->y, s->n,
           s->n == 1 ? "y" : "ies", o->where ? " where " : "", o->where ? o->where : "");
    printf("n          = %zu complete pairs (%zu left out for a missing value)\n", c->n,
           c->n_missing);
    printf("Pearson r  = %.4f   95%% CI [%.4f, %.4f]   p = %.3g (two-sided)\n", c->r,
           c->r_lo, c->r_hi, c->r_p);
    printf("Spearman ρ = %.4f   p = %.3g\n", c->rho, c->rho_p);
    printf("fit        : %s = %.6g %+.6g * %s\n", o->y, c->intercept, c->slope, o->x);
    scatter(s, c, o->x, o->y);
}

static void single_json(const struct copts *o, const struct sel *s, const struct corr_result *c)
{
    printf("{\"x\": ");
    cli_json_str(stdout, o->x);
    printf(", \"y\": ");
    cli_json_str(stdout, o->y);
    printf(", \"where\": ");
    cli_json_str(stdout, o->where ? o->where : "");
    printf(", \"n\": %zu, \"n_missing\": %zu", c->n, c->n_missing);
    const double v[] = {c->r, c->r_p, c->r_lo, c->r_hi, c->rho, c->rho_p, c->slope,
                        c->intercept};
    const char *k[] = {"r", "r_p", "r_lo", "r_hi", "rho", "rho_p", "slope", "intercept"};
    for (int i = 0; i < 8; i++) {
        printf(", \"%s\": ", k[i]);
        cli_json_num(stdout, v[i]);
    }
    printf(", \"points\": [");
    int first = 1;
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i]))
            continue;
        printf("%s\n  {\"id\": ", first ? "" : ",");
        cli_json_str(stdout, s->e[i]->id);
        printf(", \"x\": ");
        cli_json_num(stdout, s->x[i]);
        printf(", \"y\": ");
        cli_json_num(stdout, s->y[i]);
        printf("}");
        first = 0;
    }
    printf("\n]}\n");
}

static void single_csv(const struct sel *s)
{
    printf("id,x,y\n");
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i])) {
            cli_results_csv_str(s->e[i]->id);
            printf(",%.9g,%.9g\n", s->x[i], s->y[i]);
        }
}

static int run_single(const struct copts *o, struct sel *s)
{
    struct corr_result c;
    struct qerr err = {0};
    fill_y(s, o->y);
    if (corr_compute(s->x, s->y, (size_t)s->n, &c, &err)) {
        qerr_prefix(&err, "correlate %s with %s over %d selected entries: ", o->x, o->y, s->n);
        int code = cli_fail(&err);
        return err.code == QERR_NUMERIC ? EXIT_DATA : code; /* degenerate data */
    }
    if (o->fmt == CLI_JSON) single_json(o, s, &c);
    else if (o->fmt == CLI_CSV) single_csv(s);
    else single_text(o, s, &c);
    return EXIT_OK;
}

/* Does any selected entry have a finite value for field f? */
static int has_field(const struct sel *s, const char *f)
{
    for (int i = 0; i < s->n; i++)
        if (isfinite(results_entry_value(s->e[i], f)))
            return 1;
    return 0;
}

int cmd_correlate(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return EXIT_OK;
        }
    struct copts o;
    int rc = parse(&o, argc, argv);
    if (rc)
        return rc;
    struct results_store st;
    struct filter f;
    struct qerr err = {0};
    results_store_init(&st);
    if (filter_parse(&f, o.where, &err) || cli_results_load(&st, o.stores, o.n_stores, &err)) {
        results_store_free(&st);
        return cli_fail(&err);
    }
    struct sel s = {0};
    if (select_entries(&st, &f, o.x, &s)) {
        rc = EXIT_INTERNAL;
        fprintf(stderr, "qlens: out of memory\n");
    } else if (s.n == 0) {
        rc = EXIT_DATA;
        fprintf(stderr, "qlens: no stored result matches the selection%s%s\n",
                o.where ? " " : "", o.where ? o.where : "");
    } else if (!has_field(&s, o.x) || (!o.all && !has_field(&s, o.y))) {
        rc = EXIT_DATA;
        fprintf(stderr, "qlens: none of the %d selected entries has a value for '%s' "
                "(fields: ppl_mean, ppl.DATASET, a benchmark name, memory_gb, speed, bits, "
                "a, kv, group_size; see 'qlens results show ID')\n", s.n,
                has_field(&s, o.x) ? o.y : o.x);
    } else {
        rc = o.by ? run_by(&o, &s) : o.all ? run_table(&o, &s) : run_single(&o, &s);
    }
    free(s.e);
    free(s.x);
    free(s.y);
    results_store_free(&st);
    return rc;
}
