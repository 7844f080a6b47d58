/* qlens report: one HTML (or Markdown + SVG) document about a model, its
 * statistics, quantization runs and the perplexity/benchmark correlation
 * (src/report.h builds it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_infer.h"
#include "cli/commands.h"
#include "cli/report.h"

static const char report_help[] =
    "usage: qlens report [MODEL] --out FILE [--runs FILE] [--results FILE]...\n"
    "                    [--where FILTER] [--calib TEXT] [--ctx N] [--chunks N]\n"
    "                    [--top N] [--grid-bits B] [--format html|md]\n\n"
    "Write one self-contained XHTML file (inline CSS and SVG, no script, no\n"
    "network) or, with --format md, Markdown plus one SVG file per figure\n"
    "beside it (OUT-figN.svg): the model; per-layer weight statistics\n"
    "(kurtosis, AbsMax/std, share beyond 6 sigma) by role; with --calib TEXT the\n"
    "same for activations and K/V (as `qlens acts`, --ctx/--chunks, default 8\n"
    "chunks); outlier maps (max-pooled) and histograms with a --grid-bits grid\n"
    "(default 4) of the --top N (default 3) most outlier-heavy tensors; the\n"
    "runs of --runs FILE (a `qlens sweep` file, a results store or the\n"
    "dashboard's session file) as a table and size-vs-PPL/KL Pareto plots; the\n"
    "correlation of perplexity with benchmark scores over --results stores\n"
    "(default: the bundled papers' data with Jin et al.'s Table 3 selection,\n"
    "--where overrides); and how the report was made.  Files are written\n"
    "atomically.  Unusable runs or results files are left out with a note in the\n"
    "report and on stderr.\n";

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    return infer_parse_opt("report", opt, v, lo, hi, out);
}

static int parse(struct report_opts *o, int argc, char **argv)
{
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        int takes = !strcmp(a, "--out") || !strcmp(a, "--runs") || !strcmp(a, "--results") ||
                    !strcmp(a, "--where") || !strcmp(a, "--calib") || !strcmp(a, "--ctx") ||
                    !strcmp(a, "--chunks") || !strcmp(a, "--top") || !strcmp(a, "--grid-bits") ||
                    !strcmp(a, "--format");
        if (takes && !v)
            return cli_usage_error("report", "%s needs a value", a);
        if (takes)
            i++;
        if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--runs")) o->runs = v;
        else if (!strcmp(a, "--where")) o->where = v;
        else if (!strcmp(a, "--calib")) o->calib = v;
        else if (!strcmp(a, "--results")) {
            if (o->n_results == REPORT_MAX_STORES)
                return cli_usage_error("report", "at most %d --results files", REPORT_MAX_STORES);
            o->results[o->n_results++] = argv[i];
        } else if (!strcmp(a, "--ctx") || !strcmp(a, "--chunks")) {
            if (parse_long(a, v, 1, 1 << 20, a[3] == 't' ? &o->ctx : &o->chunks))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--top")) {
            if (parse_long(a, v, 0, 64, &n))
                return EXIT_USAGE;
            o->top = (int)n;
        } else if (!strcmp(a, "--grid-bits")) {
            if (parse_long(a, v, 2, 8, &n))
                return EXIT_USAGE;
            o->grid_bits = (int)n;
        } else if (!strcmp(a, "--format")) {
            if (strcmp(v, "html") && strcmp(v, "md"))
                return cli_usage_error("report", "--format is html or md, not '%s'", v);
            o->md = !strcmp(v, "md");
        } else if (a[0] == '-' && a[1])
            return cli_usage_error("report", "unknown option '%s'", a);
        else if (!model)
            model = a;
        else
            return cli_usage_error("report", "too many arguments ('%s')", a);
    }
    if (!o->out)
        return cli_usage_error("report", "--out FILE is required");
    o->model = model;
    return 0;
}

/* The command line as typed, for the report's last section. */
static char *join_args(int argc, char **argv)
{
    size_t n = 16;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) * 4 + 3;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    p += sprintf(p, "qlens");
    for (int i = 0; i < argc; i++) {
        int plain = argv[i][0] && strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                                                  "QRSTUVWXYZ0123456789-_./=,:+@%") ==
                                      strlen(argv[i]);
        if (plain) {
            p += sprintf(p, " %s", argv[i]);
            continue;
        }
        *p++ = ' ', *p++ = '\'';
        for (const char *c = argv[i]; *c; c++)
            p += *c == '\'' ? sprintf(p, "'\\''") : sprintf(p, "%c", *c);
        *p++ = '\'', *p = 0;
    }
    return s;
}

int cmd_report(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(report_help, stdout);
        return EXIT_OK;
    }
    struct report_opts o;
    report_opts_default(&o);
    int rc = parse(&o, argc, argv);
    if (rc)
        return rc;
    char *cmd = join_args(argc, argv);
    o.cmdline = cmd;
    struct report_notes notes;
    struct qerr err = {0};
    infer_catch_sigint();
    rc = report_write(&o, &notes, &err);
    free(cmd);
    for (int i = 0; i < notes.n; i++)
        fprintf(stderr, "qlens report: left out: %s\n", notes.msg[i]);
    if (rc)
        return cli_fail(&err);
    fprintf(stderr, "qlens report: wrote %s%s\n", o.out, o.md ? " and its SVG figures" : "");
    return EXIT_OK;
}
