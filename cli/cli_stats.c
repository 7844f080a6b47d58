/* qlens stats: statistics of every tensor (and channel) of a model, as an
 * aligned table, JSON or CSV.  Also the default summary that `qlens MODEL`
 * prints when it is not on a terminal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "src/model.h"
#include "src/tscache.h"
#include "src/tstats.h"

static const char stats_help[] =
    "usage: qlens stats [MODEL] [--tensor REGEX] [--per-channel rows|cols]\n"
    "                   [--abs-thresh T] [--json|--csv] [--no-cache]\n\n"
    "Statistics of every tensor of MODEL (default: $QLENS_MODEL, else the\n"
    "bundled stories260K): count, mean, population std, min, max, AbsMax,\n"
    "skewness, Pearson kurtosis (3 for a normal distribution) and excess\n"
    "kurtosis (kurtosis - 3), the fraction of values beyond 3 and 6 std from\n"
    "the mean and beyond |T|, AbsMax/std and the number of NaN/Inf values\n"
    "(excluded from everything else).\n\n"
    "  --tensor REGEX        only tensors whose name matches (POSIX extended\n"
    "                        regex, unanchored: 'attn_q$', '^blk\\.0\\.')\n"
    "  --per-channel rows    also each row (output channel of a linear weight)\n"
    "  --per-channel cols    also each column (input channel)\n"
    "  --abs-thresh T        count |x| > T (default 6, LLM.int8's threshold)\n"
    "  --json                one JSON object: {\"tensors\": [...]}, with a\n"
    "                        \"channels\" array per tensor under --per-channel\n"
    "  --csv                 one header row, then one row per tensor (and\n"
    "                        channel; the channel column is empty for tensors)\n"
    "  --no-cache            neither read nor write the results cache (whole-\n"
    "                        tensor statistics kept per model file under\n"
    "                        $QLENS_CACHE_DIR, else $XDG_CACHE_HOME/qlens, else\n"
    "                        ~/.cache/qlens; a changed model is measured again)\n\n"
    "Rows are printed as each tensor finishes, in model order.\n";

struct stats_args {
    const char *model;
    const char *regex;
    enum tstats_channels channels;
    double abs_thresh;
    enum cli_fmt fmt;
    int no_cache;
};

/* Returns -1 to continue, else an exit code. */
static int parse_args(int argc, char **argv, struct stats_args *a)
{
    memset(a, 0, sizeof *a);
    a->abs_thresh = 6.0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int has_val = i + 1 < argc;
        if (cli_is_help(s)) {
            fputs(stats_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(s, "--json")) {
            a->fmt = CLI_JSON;
        } else if (!strcmp(s, "--csv")) {
            a->fmt = CLI_CSV;
        } else if (!strcmp(s, "--no-cache")) {
            a->no_cache = 1;
        } else if (!strcmp(s, "--tensor")) {
            if (!has_val)
                return cli_usage_error("stats", "--tensor needs a regular expression");
            a->regex = argv[++i];
        } else if (!strcmp(s, "--per-channel")) {
            const char *v = has_val ? argv[++i] : "";
            if (!strcmp(v, "rows"))
                a->channels = TSTATS_ROWS;
            else if (!strcmp(v, "cols"))
                a->channels = TSTATS_COLS;
            else
                return cli_usage_error("stats", "--per-channel takes 'rows' or 'cols', not '%s'", v);
        } else if (!strcmp(s, "--abs-thresh")) {
            char *end = NULL;
            const char *v = has_val ? argv[++i] : "";
            a->abs_thresh = strtod(v, &end);
            if (!*v || *end || !isfinite(a->abs_thresh) || a->abs_thresh < 0)
                return cli_usage_error("stats", "--abs-thresh needs a number >= 0, not '%s'", v);
        } else if (s[0] == '-' && s[1]) {
            return cli_usage_error("stats", "unknown option '%s'", s);
        } else if (!a->model) {
            a->model = s;
        } else {
            return cli_usage_error("stats", "unexpected argument '%s'", s);
        }
    }
    return -1;
}

/* ---- text ---- */

static void text_header(FILE *f, int w, double thresh)
{
    char tcol[32];
    snprintf(tcol, sizeof tcol, ">|%g|%%", thresh);
    fprintf(f, "%-*s %-11s %10s %10s %10s %10s %10s %8s %8s %8s %8s %8s %8s %9s %6s\n", w,
            "tensor", "shape", "mean", "std", "min", "max", "absmax", "skew", "kurt", "exkurt",
            ">3sd%", ">6sd%", tcol, "amax/std", "nonfin");
}

static void text_line(FILE *f, int w, const char *name, const char *shape,
                      const struct stats *s)
{
    fprintf(f, "%-*s %-11s %10.4g %10.4g %10.4g %10.4g %10.4g %8.3f %8.3f %8.3f %8.4f %8.4f "
               "%8.4f %9.3f %6llu\n",
            w, name, shape, s->mean, s->std, s->min, s->max, s->absmax, s->skew, s->kurt,
            s->exkurt, 100 * s->frac_k3, 100 * s->frac_k6, 100 * s->frac_abs,
            s->absmax_over_std, (unsigned long long)s->n_nonfinite);
}

/* Width of the name column: the longest selected name (known before any
 * statistics, so rows can be printed as they finish). */
static int name_width(const struct qmodel *m, const unsigned char *sel)
{
    int w = 6;
    for (int i = 0; i < m->n_tensors; i++) {
        int l = (int)strlen(m->tensors[i].name);
        w = (!sel || sel[i]) && l > w ? l : w;
    }
    return w;
}

static void text_row(FILE *f, int w, const struct qmodel *m, const struct tstats_row *r,
                     enum tstats_channels channels)
{
    const struct qtensor *t = &m->tensors[r->tensor];
    char shape[64];
    qtensor_shape_str(t, "x", shape, sizeof shape);
    text_line(f, w, t->name, shape, &r->st);
    for (int64_t c = 0; c < r->n_channels; c++) {
        char lab[48], sh[32];
        snprintf(lab, sizeof lab, "  %s %lld", channels == TSTATS_ROWS ? "row" : "col",
                 (long long)c);
        snprintf(sh, sizeof sh, "%lld", (long long)(channels == TSTATS_ROWS ? r->cols : r->rows));
        text_line(f, w, lab, sh, &r->ch[c]);
    }
}

/* ---- JSON ---- */

static void jnum(const char *key, double v)
{
    printf(",\"%s\":", key);
    if (isfinite(v))
        printf("%.17g", v);
    else
        printf("null");
}

static void json_stats(const struct stats *s)
{
    printf("\"n\":%llu,\"n_nonfinite\":%llu", (unsigned long long)s->n,
           (unsigned long long)s->n_nonfinite);
    jnum("mean", s->mean);
    jnum("std", s->std);
    jnum("min", s->min);
    jnum("max", s->max);
    jnum("absmax", s->absmax);
    jnum("skew", s->skew);
    jnum("kurtosis", s->kurt);
    jnum("excess_kurtosis", s->exkurt);
    jnum("absmax_over_std", s->absmax_over_std);
    printf(",\"n_beyond_3std\":%llu,\"n_beyond_6std\":%llu,\"n_beyond_abs\":%llu",
           (unsigned long long)s->n_k3, (unsigned long long)s->n_k6,
           (unsigned long long)s->n_abs);
    jnum("frac_beyond_3std", s->frac_k3);
    jnum("frac_beyond_6std", s->frac_k6);
    jnum("frac_beyond_abs", s->frac_abs);
    printf(",\"degenerate\":%s", s->degenerate ? "true" : "false");
}

static void json_head(const struct qmodel *m, const struct stats_args *a)
{
    printf("{\"model\":");
    cli_json_str(stdout, m->path);
    printf(",\"format\":\"%s\"", qformat_name(m->format));
    jnum("abs_thresh", a->abs_thresh);
    printf(",\"per_channel\":");
    if (a->channels == TSTATS_NONE)
        printf("null");
    else
        printf("\"%s\"", tstats_channels_name(a->channels));
    printf(",\"tensors\":[");
}

static void json_row(const struct qmodel *m, const struct tstats_row *r, int first,
                     const struct stats_args *a)
{
    const struct qtensor *t = &m->tensors[r->tensor];
    printf("%s\n{\"name\":", first ? "" : ",");
    cli_json_str(stdout, t->name);
    printf(",\"layer\":%d,\"role\":\"%s\",\"dtype\":\"%s\",\"shape\":[", t->layer,
           qrole_name(t->role), qdtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
        printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
    printf("],");
    json_stats(&r->st);
    if (a->channels != TSTATS_NONE) {
        printf(",\"channels\":[");
        for (int64_t c = 0; c < r->n_channels; c++) {
            printf("%s{\"index\":%lld,", c ? "," : "", (long long)c);
            json_stats(&r->ch[c]);
            printf("}");
        }
        printf("]");
    }
    printf("}");
}

/* The document stays valid when a tensor fails halfway: the rows printed
 * so far, then "error" (the exit status is non-zero as well). */
static void json_tail(const struct qerr *err)
{
    printf("]");
    if (err) {
        printf(",\"error\":");
        cli_json_str(stdout, err->msg);
    }
    printf("}\n");
}

/* ---- CSV ---- */

static void csv_num(double v)
{
    if (isfinite(v))
        printf(",%.17g", v);
    else
        printf(",");
}

/* A CSV field, quoted (RFC 4180) only when it needs to be. */
static void csv_str(const char *v)
{
    if (!strpbrk(v, ",\"\n\r")) {
        fputs(v, stdout);
        return;
    }
    putchar('"');
    for (; *v; v++) {
        if (*v == '"')
            putchar('"');
        putchar(*v);
    }
    putchar('"');
}

static void csv_line(const struct qtensor *t, const char *shape, long long ch,
                     const struct stats *s)
{
    csv_str(t->name);
    putchar(',');
    if (ch >= 0)
        printf("%lld", ch);
    printf(",%d,%s,%s,%s,%llu,%llu", t->layer, qrole_name(t->role), qdtype_name(t->dtype),
           shape, (unsigned long long)s->n, (unsigned long long)s->n_nonfinite);
    double v[] = {s->mean, s->std, s->min, s->max, s->absmax, s->skew, s->kurt, s->exkurt,
                  s->absmax_over_std, s->frac_k3, s->frac_k6, s->frac_abs};
    for (size_t k = 0; k < sizeof v / sizeof *v; k++)
        csv_num(v[k]);
    printf(",%llu,%llu,%llu\n", (unsigned long long)s->n_k3, (unsigned long long)s->n_k6,
           (unsigned long long)s->n_abs);
}

static void csv_head(void)
{
    printf("tensor,channel,layer,role,dtype,shape,n,n_nonfinite,mean,std,min,max,absmax,"
           "skew,kurtosis,excess_kurtosis,absmax_over_std,frac_beyond_3std,frac_beyond_6std,"
           "frac_beyond_abs,n_beyond_3std,n_beyond_6std,n_beyond_abs\n");
}

static void csv_row(const struct qmodel *m, const struct tstats_row *r)
{
    const struct qtensor *t = &m->tensors[r->tensor];
    char shape[64];
    qtensor_shape_str(t, "x", shape, sizeof shape);
    csv_line(t, shape, -1, &r->st);
    for (int64_t c = 0; c < r->n_channels; c++)
        csv_line(t, shape, (long long)c, &r->ch[c]);
}

/* ---- commands ---- */

/* Rows are printed as they finish (in model order, tstats' on_row), so
 * a big model shows its first tensors at once; "tensor 12/111" on stderr
 * while a person is watching (stderr a terminal), erased before each row
 * and when done. */
struct printer {
    const struct qmodel *m;
    const struct stats_args *a;
    int w;                 /* text: name column width                     */
    int printed;           /* rows printed                                */
    int progress;          /* a progress line may be on stderr            */
    struct qerr *err;      /* a file truncated under us stops the output  */
};

static void erase_progress(struct printer *p)
{
    if (p->progress)
        fprintf(stderr, "\r%*s\r", 40, "");
}

static int show_progress(void *ud, int done, int total)
{
    struct printer *p = ud;
    if (p->progress && done < total)
        fprintf(stderr, "\rqlens stats: tensor %d/%d", done + 1, total);
    else
        erase_progress(p);
    return 0;
}

static int print_row(void *ud, const struct tstats_row *r)
{
    struct printer *p = ud;
    if (qmodel_intact(p->m, p->err)) /* rows read since a truncation are void */
        return 1;
    erase_progress(p);
    if (p->a->fmt == CLI_JSON)
        json_row(p->m, r, p->printed == 0, p->a);
    else if (p->a->fmt == CLI_CSV)
        csv_row(p->m, r);
    else
        text_row(stdout, p->w, p->m, r, p->a->channels);
    p->printed++;
    fflush(stdout);
    return 0;
}

static int progress_wanted(const struct qmodel *m)
{
    return isatty(STDERR_FILENO) && qmodel_param_count(m) > 20000000;
}

/* The model's results cache, with a note on stderr when a file was
 * there but cannot be used (it is then replaced); NULL without one. */
static struct tscache *open_cache(const struct qmodel *m)
{
    struct qerr err = {0};
    struct tscache *c = tscache_open(m, NULL, &err);
    char why[256];
    if (!c)
        fprintf(stderr, "qlens stats: note: no results cache: %s\n", err.msg);
    else if (tscache_state(c, why, sizeof why) >= TSCACHE_STALE)
        fprintf(stderr, "qlens stats: note: results cache %s ignored (%s); measuring again\n",
                tscache_path(c), why);
    return c;
}

/* Statistics of the selected tensors printed as they come; the head
 * first and, for JSON, a tail that closes the document even after an
 * error.  Returns an exit code. */
static int stream_stats(struct qmodel *m, struct tstats_opts *o,
                        const struct stats_args *a)
{
    struct qerr err = {0}, intact = {0};
    struct printer p = {m, a, name_width(m, o->select), 0, progress_wanted(m), &intact};
    o->on_row = print_row;
    o->progress = show_progress;
    o->ud = &p;
    if (a->fmt == CLI_JSON)
        json_head(m, a);
    else if (a->fmt == CLI_CSV)
        csv_head();
    else
        text_header(stdout, p.w, a->abs_thresh);
    fflush(stdout);
    struct tscache *cache = a->no_cache ? NULL : open_cache(m);
    o->cache = cache;
    struct tstats ts;
    int rc = tstats_compute(m, o, &ts, &err);
    tstats_free(&ts);
    if (cache && !rc && !intact.code && !qmodel_intact(m, &err)) {
        struct qerr serr = {0};
        if (tscache_save(cache, &serr))
            fprintf(stderr, "qlens stats: note: results not cached: %s\n", serr.msg);
    }
    tscache_close(cache);
    if (intact.code) /* print_row stopped it: the file was truncated */
        err = intact;
    else if (!rc)
        qmodel_intact(m, &err);
    rc = err.code;
    erase_progress(&p);
    if (a->fmt == CLI_JSON)
        json_tail(rc ? &err : NULL);
    fflush(stdout);
    return rc ? cli_fail(&err) : EXIT_OK;
}

static int run_stats(const struct stats_args *a)
{
    struct qerr err = {0};
    struct qmodel m;
    if (cli_open_model(&m, a->model, &err))
        return cli_fail(&err);
    struct tstats_opts o;
    tstats_opts_default(&o);
    o.st.abs_thresh = a->abs_thresh;
    o.channels = a->channels;
    unsigned char *sel = NULL;
    int rc = EXIT_OK;
    if (a->regex) {
        int n = tstats_select(&m, a->regex, &sel, &err);
        if (n < 0) {
            rc = n == QERR_ARG ? cli_usage_error("stats", "%s", err.msg) : cli_fail(&err);
            goto out;
        }
        if (n == 0) {
            rc = cli_usage_error("stats", "no tensor name matches '%s' (see 'qlens info' for "
                                 "the names)", a->regex);
            goto out;
        }
        o.select = sel;
    }
    rc = stream_stats(&m, &o, a);
out:
    free(sel);
    qmodel_close(&m);
    return rc;
}

int cmd_stats(int argc, char **argv)
{
    struct stats_args a;
    int rc = parse_args(argc, argv, &a);
    return rc >= 0 ? rc : run_stats(&a);
}

int default_summary(const char *model_arg)
{
    struct qerr err = {0};
    struct qmodel m;
    if (cli_open_model(&m, model_arg, &err))
        return cli_fail(&err);
    struct stats_args a = {.abs_thresh = 6.0};
    struct tstats_opts o;
    tstats_opts_default(&o);
    info_print_summary(stdout, &m);
    printf("\n");
    int rc = stream_stats(&m, &o, &a);
    if (rc == EXIT_OK)
        printf("\nkurt is Pearson kurtosis (3 for a normal distribution); exkurt = kurt - 3.\n"
               "'qlens --help' lists the commands; 'qlens stats --help' the columns.\n");
    qmodel_close(&m);
    return rc;
}

/* `qlens` or `qlens MODEL` off a terminal (main.c sends a terminal to the
 * dashboard). */
int cmd_default(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "qlens: unexpected argument '%s'\nTry 'qlens --help'.\n", argv[2]);
        return EXIT_USAGE;
    }
    return default_summary(argc == 2 ? argv[1] : NULL);
}
