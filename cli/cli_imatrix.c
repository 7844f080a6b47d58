/* qlens imatrix: an importance matrix from qlens's own calibration pass,
 * written in llama.cpp's legacy format (llama-quantize --imatrix reads it),
 * or a summary of an existing imatrix file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/calib.h"
#include "cli/cli.h"
#include "cli/cli_infer.h"
#include "cli/commands.h"
#include "src/forward.h"
#include "src/imatrix.h"

static const char imatrix_help[] =
    "usage: qlens imatrix [MODEL] TEXT -o OUT.imatrix [--ctx N] [--chunks N] [--force-ctx]\n"
    "       qlens imatrix --show FILE [--json]\n\n"
    "Compute llama.cpp's importance matrix of MODEL over TEXT and write it in\n"
    "llama-imatrix's legacy binary format, which llama-quantize --imatrix and\n"
    "qlens quant --imatrix read.  Definition (llama-imatrix's): for every linear\n"
    "layer, the mean of x² per input column over all calibration tokens, x the\n"
    "layer's input.  The text is cut into chunks of N tokens with BOS first (as\n"
    "llama-imatrix and qlens ppl); every token of a chunk counts.  The classifier\n"
    "(output) is left out, as llama-imatrix does without --process-output.\n"
    "Default: min(512, model context) tokens per chunk, all chunks.\n\n"
    "  -o, --out FILE  where to write (atomically)\n"
    "  --ctx N         tokens per chunk     --chunks N   at most N chunks\n"
    "  --show FILE     print an imatrix file (legacy or GGUF): per entry the\n"
    "                  columns, calls, mean and max importance\n";

struct imx_args {
    const char *pos[2], *out, *show;
    int n_pos, json, force_ctx;
    long ctx, chunks;
};

static int parse_args(int argc, char **argv, struct imx_args *a)
{
    memset(a, 0, sizeof *a);
    a->ctx = -1;
    a->chunks = 1 << 20;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--ctx") || !strcmp(s, "--chunks")) {
            long *d = !strcmp(s, "--ctx") ? &a->ctx : &a->chunks;
            if (!v || infer_parse_int(v, 1, 1 << 20, d) < 0)
                return cli_usage_error("imatrix", "%s wants a positive integer", s), -1;
            i++;
        } else if (!strcmp(s, "-o") || !strcmp(s, "--out") || !strcmp(s, "--show")) {
            if (!v)
                return cli_usage_error("imatrix", "%s wants a file", s), -1;
            *(!strcmp(s, "--show") ? &a->show : &a->out) = v;
            i++;
        } else if (!strcmp(s, "--json")) a->json = 1;
        else if (!strcmp(s, "--force-ctx")) a->force_ctx = 1;
        else if (s[0] == '-' && s[1])
            return cli_usage_error("imatrix", "unknown option '%s'", s), -1;
        else if (a->n_pos < 2) a->pos[a->n_pos++] = s;
        else return cli_usage_error("imatrix", "too many arguments ('%s')", s), -1;
    }
    if (a->show)
        return a->n_pos ? cli_usage_error("imatrix", "--show takes no MODEL/TEXT"), -1 : 0;
    if (!a->n_pos)
        return cli_usage_error("imatrix", "missing TEXT (a UTF-8 text file)"), -1;
    if (!a->out)
        return cli_usage_error("imatrix", "missing -o OUT.imatrix"), -1;
    return 0;
}

/* Every chunk through the model, capturing Σ x² of every linear input. */
static int capture(struct infer_model *im, int *ids, int n_ctx, int chunks, struct calib *c,
                   struct qerr *err)
{
    for (int s = 0; s < CALIB_K; s++) /* the four linear inputs */
        if (calib_select(c, -1, s, CALIB_CHANNEL) < 0)
            return qerr_set(err, c->err.code, "%s", c->err.msg);
    return infer_capture(im, ids, n_ctx, chunks, c, "imatrix", 1, err);
}

static int compute(const struct imx_args *a, struct qerr *err)
{
    struct infer_model im;
    const char *model = a->n_pos == 2 ? a->pos[0] : NULL, *text = a->pos[a->n_pos - 1];
    int rc = infer_open(&im, model, err), n_ctx = 0, *ids = NULL;
    size_t n = 0;
    if (rc)
        return rc;
    rc = infer_pick_ctx(&im, "--ctx", a->ctx, a->force_ctx, &n_ctx, err);
    if (!rc)
        rc = infer_tokenize_file(&im, text, &ids, &n, err);
    if (!rc && n < (size_t)n_ctx)
        rc = qerr_set(err, QERR_FORMAT, "%s: %zu tokens, fewer than one chunk of %d", text, n, n_ctx);
    int chunks = rc ? 0 : (int)(n / (size_t)n_ctx < (size_t)a->chunks ? n / (size_t)n_ctx : (size_t)a->chunks);
    struct calib c;
    struct qimatrix out = {0};
    int cal = !rc && !(rc = calib_init(&c, &im.m.cfg, err));
    if (!rc)
        rc = capture(&im, ids, n_ctx, chunks, &c, err);
    if (!rc)
        rc = qimatrix_from_calib(&out, &c, &im.m, chunks, err);
    if (!rc) {
        snprintf(out.dataset, sizeof out.dataset, "%s", text);
        rc = qimatrix_write(&out, a->out, err);
    }
    if (!rc)
        printf("%s: %d entries, %d chunks of %d tokens from %s\n", a->out, out.n, chunks, n_ctx, text);
    qimatrix_free(&out);
    if (cal)
        calib_free(&c);
    free(ids);
    infer_close(&im);
    return rc;
}

static int show(const struct imx_args *a, struct qerr *err)
{
    struct qimatrix im;
    int rc = qimatrix_read(&im, a->show, err);
    if (rc)
        return rc;
    if (a->json) {
        printf("{\"file\":");
        cli_json_str(stdout, a->show);
        printf(",\"chunks\":%lld,\"entries\":[", (long long)im.chunks);
    } else {
        printf("%s: %d entries, %lld chunks%s%s\n\n%-28s %8s %8s %12s %12s\n", a->show, im.n,
               (long long)im.chunks, im.dataset[0] ? ", dataset " : "", im.dataset, "entry",
               "columns", "calls", "mean", "max");
    }
    for (int i = 0; i < im.n; i++) {
        const struct qimatrix_entry *e = &im.e[i];
        double sum = 0, mx = 0;
        for (int64_t j = 0; j < e->n * e->n_mat; j++) {
            sum += e->values[j];
            mx = e->values[j] > mx ? e->values[j] : mx;
        }
        double mean = sum / (double)(e->n * e->n_mat);
        if (a->json) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_str(stdout, e->src_name);
            printf(",\"columns\":%lld,\"calls\":%lld,\"mean\":", (long long)e->n, (long long)e->ncall);
            cli_json_num(stdout, mean);
            printf(",\"max\":");
            cli_json_num(stdout, mx);
            printf("}");
        } else {
            printf("%-28s %8lld %8lld %12.6g %12.6g\n", e->src_name, (long long)e->n,
                   (long long)e->ncall, mean, mx);
        }
    }
    if (a->json)
        printf("]}\n");
    qimatrix_free(&im);
    return 0;
}

int cmd_imatrix(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(imatrix_help, stdout);
        return EXIT_OK;
    }
    struct imx_args a;
    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    struct qerr err = {0};
    infer_catch_sigint();
    int rc = a.show ? show(&a, &err) : compute(&a, &err);
    return rc ? cli_fail(&err) : EXIT_OK;
}
