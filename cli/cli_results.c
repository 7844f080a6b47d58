/* qlens results list|show|import|merge|validate: the results store from the
 * command line (schema in analysis/results.h, docs/readme-results.md). */
#include "cli/cli_results.h"

#include <dirent.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/filter.h"
#include "cli/cli.h"
#include "cli/cli_infer.h"
#include "cli/commands.h"
#include "src/paths.h"

#define MAX_FILES 64

const char *cli_assets_dir(void)
{
    static char buf[PATH_MAX]; /* the CLI is single-threaded */
    return paths_assets_dir(buf, sizeof buf) == 0 ? buf : NULL;
}

int cli_results_load_papers(struct results_store *s, struct qerr *err)
{
    return paths_load_papers(s, err);
}

/* One store argument: a file, or "papers" for the bundled data. */
static int load_one(struct results_store *t, const char *path, struct qerr *err)
{
    return !strcmp(path, "papers") ? cli_results_load_papers(t, err) : results_load(t, path, err);
}

int cli_results_load(struct results_store *s, char **paths, int n, struct qerr *err)
{
    if (n == 0)
        return cli_results_load_papers(s, err);
    for (int i = 0; i < n; i++) {
        struct results_store t;
        results_store_init(&t);
        int rc = load_one(&t, paths[i], err);
        if (!rc)
            rc = results_merge(s, &t, RESULTS_MERGE_STRICT, NULL, NULL, err);
        results_append_meta(s->source, sizeof s->source, t.source);
        results_append_meta(s->citation, sizeof s->citation, t.citation);
        if (rc && i > 0)
            qerr_prefix(err, "merging %s: ", paths[i]);
        results_store_free(&t);
        if (rc)
            return rc;
    }
    return QERR_OK;
}

/* ------------------------------------------------------------------ */
/* options                                                             */

struct ropts {
    char *stores[MAX_FILES];
    int n_stores;
    char *files[MAX_FILES]; /* positional */
    int n_files;
    const char *where, *into, *out;
    enum cli_fmt fmt;
    int replace, join;
    struct results_import_opts imp;
};

/* "4" or "4,8,16" -> w[,a,kv]. */
static int parse_bits(const char *s, struct results_import_opts *o)
{
    int v[3] = {0, 0, 0}, k = 0;
    char *end;
    for (const char *p = s; k < 3; k++) {
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 64)
            return -1;
        v[k] = (int)x;
        if (*end != ',')
            break;
        p = end + 1;
    }
    if (*end)
        return -1;
    o->w_bits = v[0];
    o->a_bits = v[1];
    o->kv_bits = v[2];
    return 0;
}

static int need(int i, int argc, const char *cmd, const char *opt)
{
    if (i + 1 < argc)
        return 0;
    cli_usage_error(cmd, "%s needs a value", opt);
    return 1;
}

static int parse_opt(struct ropts *o, int argc, char **argv, int *i, const char *cmd)
{
    const char *a = argv[*i];
    const char *valued[] = {"--store", "--where", "--into", "-o", "--model", "--method",
                            "--bits", "--group", "--id", NULL};
    for (const char **v = valued; *v; v++) {
        if (strcmp(a, *v))
            continue;
        if (need(*i, argc, cmd, a))
            return EXIT_USAGE;
        char *val = argv[++*i];
        long g;
        if (!strcmp(a, "--store") && o->n_stores == MAX_FILES)
            return cli_usage_error(cmd, "at most %d --store files", MAX_FILES);
        if (!strcmp(a, "--store")) o->stores[o->n_stores++] = val;
        else if (!strcmp(a, "--where")) o->where = val;
        else if (!strcmp(a, "--into")) o->into = val;
        else if (!strcmp(a, "-o")) o->out = val;
        else if (!strcmp(a, "--model")) o->imp.model = val;
        else if (!strcmp(a, "--method")) o->imp.method = val;
        else if (!strcmp(a, "--id")) o->imp.id = val;
        else if (!strcmp(a, "--bits") && parse_bits(val, &o->imp))
            return cli_usage_error(cmd, "--bits wants W or W,A,KV (1..64), not '%s'", val);
        else if (!strcmp(a, "--group") && infer_parse_int(val, 1, 1 << 30, &g) < 0)
            return cli_usage_error(cmd, "--group wants a positive group size, not '%s'", val);
        else if (!strcmp(a, "--group")) o->imp.group_size = (int)g;
        return 0;
    }
    if (!strcmp(a, "--json")) o->fmt = CLI_JSON;
    else if (!strcmp(a, "--csv")) o->fmt = CLI_CSV;
    else if (!strcmp(a, "--replace")) o->replace = 1;
    else if (!strcmp(a, "--join")) o->join = 1;
    else if (a[0] == '-' && a[1])
        return cli_usage_error(cmd, "unknown option '%s'", a);
    else if (o->n_files == MAX_FILES)
        return cli_usage_error(cmd, "at most %d files", MAX_FILES);
    else o->files[o->n_files++] = argv[*i];
    return 0;
}

static int parse_args(struct ropts *o, int argc, char **argv, const char *cmd)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        int rc = parse_opt(o, argc, argv, &i, cmd);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* list / show                                                         */

static void fmt_num(char *buf, size_t n, double v, const char *f)
{
    if (isfinite(v))
        snprintf(buf, n, f, v);
    else
        snprintf(buf, n, "-");
}

static void list_text(const struct results_store *s, const struct filter *f)
{
    printf("%-44s %-16s %-10s %-11s %5s %9s %5s %8s %7s\n", "id", "model", "method",
           "bits w/a/kv", "group", "ppl_mean", "bench", "mem_GB", "tok/s");
    int shown = 0;
    for (int i = 0; i < s->n; i++) {
        const struct results_entry *e = &s->e[i];
        if (!filter_match(f, e))
            continue;
        char bits[24], grp[12], ppl[16], mem[16], spd[16];
        snprintf(bits, sizeof bits, "%d/%d/%d", e->w_bits, e->a_bits, e->kv_bits);
        snprintf(grp, sizeof grp, e->group_size ? "%d" : "-", e->group_size);
        fmt_num(ppl, sizeof ppl, results_ppl_mean(e), "%.4g");
        fmt_num(mem, sizeof mem, e->memory_gb, "%.4g");
        fmt_num(spd, sizeof spd, e->speed, "%.2f");
        printf("%-44s %-16s %-10s %-11s %5s %9s %5d %8s %7s\n", e->id, e->model, e->method,
               bits, grp, ppl, e->n_bench, mem, spd);
        shown++;
    }
    printf("%d of %d entries\n", shown, s->n);
}

void cli_results_csv_fstr(FILE *f, const char *s)
{
    results_csv_field(f, s);
}

void cli_results_csv_str(const char *s)
{
    cli_results_csv_fstr(stdout, s);
}

static void list_csv(const struct results_store *s, const struct filter *f)
{
    printf("id,model,method,w,a,kv,group_size,ppl_mean,n_benchmarks,memory_gb,speed\n");
    for (int i = 0; i < s->n; i++) {
        const struct results_entry *e = &s->e[i];
        if (!filter_match(f, e))
            continue;
        char ppl[32], mem[32], spd[32];
        fmt_num(ppl, sizeof ppl, results_ppl_mean(e), "%.9g");
        fmt_num(mem, sizeof mem, e->memory_gb, "%.9g");
        fmt_num(spd, sizeof spd, e->speed, "%.9g");
        cli_results_csv_str(e->id);
        putchar(',');
        cli_results_csv_str(e->model);
        putchar(',');
        cli_results_csv_str(e->method);
        char grp[16] = "";
        if (e->group_size)
            snprintf(grp, sizeof grp, "%d", e->group_size);
        printf(",%d,%d,%d,%s,%s,%d,%s,%s\n", e->w_bits, e->a_bits, e->kv_bits, grp,
               ppl[0] == '-' ? "" : ppl, e->n_bench, mem[0] == '-' ? "" : mem,
               spd[0] == '-' ? "" : spd);
    }
}

static int fnmatch_id(const char *pat, const char *id)
{
    return fnmatch(pat, id, 0);
}

/* The selected entries as a store document (JSON). */
static int print_selection(const struct results_store *s, const struct filter *f,
                           const char *pattern)
{
    struct results_store sel;
    struct qerr err = {0};
    results_store_init(&sel);
    memcpy(sel.source, s->source, sizeof sel.source);
    memcpy(sel.citation, s->citation, sizeof sel.citation);
    int rc = 0, n = 0;
    for (int i = 0; i < s->n && !rc; i++) {
        const struct results_entry *e = &s->e[i];
        if (filter_match(f, e) && (!pattern || !strcmp(pattern, e->id) ||
                                   !fnmatch_id(pattern, e->id))) {
            rc = results_add_entry(&sel, e, &err);
            n++;
        }
    }
    char *txt = rc ? NULL : results_to_json(&sel);
    results_store_free(&sel);
    if (rc)
        return cli_fail(&err);
    if (!txt) {
        fprintf(stderr, "qlens: out of memory\n");
        return EXIT_INTERNAL;
    }
    printf("%s\n", txt);
    free(txt);
    return n || !pattern ? EXIT_OK : EXIT_DATA;
}

static void show_settings(const char *json)
{
    if (json)
        printf("  settings:   %s\n", json);
}

static void show_text(const struct results_entry *e)
{
    printf("%s\n  model:      %s\n  method:     %s\n", e->id, e->model, e->method);
    printf("  bits:       w%d a%d kv%d\n", e->w_bits, e->a_bits, e->kv_bits);
    if (e->group_size)
        printf("  group size: %d\n", e->group_size);
    show_settings(e->settings_json);
    for (int i = 0; i < e->n_ppl; i++) {
        printf("  ppl %-18s %10.4g", e->ppl[i].dataset, e->ppl[i].value);
        if (isfinite(e->ppl[i].se))
            printf(" ± %.4g", e->ppl[i].se);
        printf("\n");
    }
    if (e->n_ppl > 1)
        printf("  ppl mean               %10.4g\n", results_ppl_mean(e));
    for (int i = 0; i < e->n_bench; i++) {
        const struct results_bench *b = &e->bench[i];
        printf("  %-24s %10.4g", b->name, b->value);
        if (isfinite(b->se))
            printf(" ± %.3g", b->se);
        printf("  %s, %s\n", b->metric[0] ? b->metric : "-", b->unit);
    }
    if (isfinite(e->memory_gb))
        printf("  memory:     %.2f GB\n", e->memory_gb);
    if (isfinite(e->speed))
        printf("  speed:      %.2f tokens/s\n", e->speed);
    if (e->source[0])
        printf("  source:     %s\n", e->source);
}

static int load_selected(struct ropts *o, struct results_store *s, struct filter *f)
{
    struct qerr err = {0};
    results_store_init(s);
    if (filter_parse(f, o->where, &err))
        return cli_fail(&err);
    if (cli_results_load(s, o->stores, o->n_stores, &err)) {
        results_store_free(s);
        return cli_fail(&err);
    }
    return 0;
}

static int do_list(struct ropts *o)
{
    struct results_store s;
    struct filter f;
    int rc = load_selected(o, &s, &f);
    if (rc)
        return rc;
    if (o->fmt == CLI_JSON)
        rc = print_selection(&s, &f, NULL);
    else if (o->fmt == CLI_CSV)
        list_csv(&s, &f);
    else
        list_text(&s, &f);
    results_store_free(&s);
    return rc;
}

static int do_show(struct ropts *o)
{
    if (o->n_files != 1)
        return cli_usage_error("results", "show wants one ID (a glob such as "
                               "'jin2024/Qwen-7B-Chat/*' selects several)");
    struct results_store s;
    struct filter f;
    int rc = load_selected(o, &s, &f);
    if (rc)
        return rc;
    const char *pat = o->files[0];
    if (o->fmt == CLI_JSON) {
        rc = print_selection(&s, &f, pat);
    } else {
        int n = 0;
        for (int i = 0; i < s.n; i++)
            if (filter_match(&f, &s.e[i]) && fnmatch(pat, s.e[i].id, 0) == 0) {
                if (n++)
                    printf("\n");
                show_text(&s.e[i]);
            }
        rc = n ? EXIT_OK : EXIT_DATA;
    }
    if (rc == EXIT_DATA)
        fprintf(stderr, "qlens: no result with id '%s' (see 'qlens results list')\n", pat);
    results_store_free(&s);
    return rc;
}

/* Load the target of --into when it exists (an absent file starts empty). */
static int load_target(const char *path, struct results_store *s, struct qerr *err)
{
    if (access(path, F_OK) != 0) {
        snprintf(s->source, sizeof s->source, "qlens results import");
        return QERR_OK;
    }
    return results_load(s, path, err);
}

static int do_import(struct ropts *o)
{
    if (o->n_files == 0)
        return cli_usage_error("results", "import wants at least one FILE");
    struct results_store dst;
    struct qerr err = {0};
    results_store_init(&dst);
    /* two imports into one store at once must not lose either's entries */
    int lock = o->into ? results_lock(o->into, &err) : -1;
    if (o->into && lock < 0)
        return cli_fail(&err);
    int rc = o->into ? load_target(o->into, &dst, &err) : QERR_OK;
    for (int i = 0; i < o->n_files && !rc; i++) {
        struct results_store t;
        const char *kind = "?";
        int added = 0, joined = 0;
        results_store_init(&t);
        rc = results_import(&t, o->files[i], &o->imp, &kind, &err);
        if (!rc)
            rc = results_merge(&dst, &t, o->replace ? RESULTS_MERGE_REPLACE : RESULTS_MERGE_JOIN,
                               &added, &joined, &err);
        if (!rc)
            fprintf(stderr, "%s: %s, %d entr%s added, %d joined\n", o->files[i], kind, added,
                    added == 1 ? "y" : "ies", joined);
        results_store_free(&t);
    }
    if (!rc && o->into)
        rc = results_save(&dst, o->into, &err);
    else if (!rc) {
        char *txt = results_to_json(&dst);
        rc = txt ? QERR_OK : qerr_set(&err, QERR_NOMEM, "out of memory");
        if (txt)
            printf("%s\n", txt);
        free(txt);
    }
    results_unlock(lock);
    results_store_free(&dst);
    return rc ? cli_fail(&err) : EXIT_OK;
}

static int do_merge(struct ropts *o)
{
    if (o->n_files < 1 || !o->out)
        return cli_usage_error("results", "merge wants FILE... -o OUT");
    struct results_store dst, t;
    struct qerr err = {0};
    results_store_init(&dst);
    enum results_merge_mode mode = o->join ? RESULTS_MERGE_JOIN
                                 : o->replace ? RESULTS_MERGE_REPLACE : RESULTS_MERGE_STRICT;
    int rc = QERR_OK;
    for (int i = 0; i < o->n_files && !rc; i++) {
        results_store_init(&t);
        rc = load_one(&t, o->files[i], &err);
        if (!rc)
            rc = results_merge(&dst, &t, mode, NULL, NULL, &err);
        results_store_free(&t);
    }
    if (!rc)
        rc = results_save(&dst, o->out, &err);
    if (!rc)
        fprintf(stderr, "%s: %d entries\n", o->out, dst.n);
    results_store_free(&dst);
    return rc ? cli_fail(&err) : EXIT_OK;
}

static int do_validate(struct ropts *o)
{
    if (o->n_files == 0)
        return cli_usage_error("results", "validate wants at least one FILE");
    int worst = EXIT_OK;
    for (int i = 0; i < o->n_files; i++) {
        struct results_store s;
        struct qerr err = {0};
        results_store_init(&s);
        if (results_load(&s, o->files[i], &err)) {
            int rc = cli_fail(&err);
            worst = worst ? worst : rc;
        } else {
            printf("%s: ok, %d entries\n", o->files[i], s.n);
        }
        results_store_free(&s);
    }
    return worst;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: qlens results list     [--store FILE]... [--where FILTER] [--json|--csv]\n"
        "       qlens results show ID  [--store FILE]... [--json]   (ID may be a glob)\n"
        "       qlens results import FILE... [--into STORE] [--model NAME] [--method M]\n"
        "                            [--bits W[,A,KV]] [--group N] [--id ID] [--replace]\n"
        "       qlens results merge FILE... -o OUT [--join|--replace]\n"
        "       qlens results validate FILE...\n\n"
        "The store defaults to the bundled papers' data (Jin et al. 2024, Li et al.\n"
        "2024; 'papers' names it in --store and merge).  import reads a qlens-results\n"
        "store, lm-evaluation-harness results JSON or `qlens ppl --json` output and\n"
        "joins entries with the same model+method+bits+group into one (conflicting\n"
        "values are an error unless --replace).  --into saves atomically; without it\n"
        "the result is printed.  FILTER: 'method=GPTQ|SpQR,bits=3..4,model=Qwen*'\n"
        "(fields: id model method source settings.KEY bits w a kv group_size\n"
        "memory_gb speed ppl_mean ppl.DATASET BENCHMARK; key!=v negates).\n");
}

int cmd_results(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    struct ropts o;
    for (int i = 2; i < argc; i++)
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return EXIT_OK;
        }
    int rc = parse_args(&o, argc - 2, argv + 2, "results");
    if (rc)
        return rc;
    const char *sub = argv[1];
    if (!strcmp(sub, "list")) return do_list(&o);
    if (!strcmp(sub, "show")) return do_show(&o);
    if (!strcmp(sub, "import")) return do_import(&o);
    if (!strcmp(sub, "merge")) return do_merge(&o);
    if (!strcmp(sub, "validate")) return do_validate(&o);
    return cli_usage_error("results", "unknown subcommand '%s' (list, show, import, "
                           "merge, validate)", sub);
}
