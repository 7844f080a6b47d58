/* qlens ppl: perplexity of a model on a text, as llama.cpp measures it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/membudget.h"
#include "src/calib.h"
#include "cli/cli.h"
#include "cli/cli_infer.h"
#include "cli/commands.h"
#include "src/ppl.h"
#include "src/tokenizer.h"

static const char ppl_help[] =
    "usage: qlens ppl [MODEL] TEXT [--ctx N] [--force-ctx] [--chunks N] [--full] [--kl]\n"
    "                 [--kl-base M] [--act-bits B] [--kv-bits B] [--kv-group G]\n"
    "                 [--k-per-channel] [--asym] [--json]\n\n"
    "Perplexity of MODEL on the UTF-8 text file TEXT, computed as llama.cpp's\n"
    "llama-perplexity does: the whole file is tokenized with BOS, cut into\n"
    "chunks of N tokens, the first token of each chunk is set to BOS, each chunk\n"
    "is evaluated from position 0, and only the second half of each chunk is\n"
    "scored.  Prints PPL +/- its standard error.  MODEL defaults to\n"
    "$QLENS_MODEL, else the bundled stories260K.  Shared texts:\n"
    "$QLENS_SHARED/data/tinystories-eval.txt, moby-dick-100k.txt.\n\n"
    "  --ctx N        tokens per chunk (even, 2..model context; default\n"
    "                 min(512, model context))\n"
    "  --chunks N     evaluate only the first N chunks\n"
    "  --force-ctx    allow --ctx beyond the model's training context (llama.cpp\n"
    "                 allows it; the stories260K GGUF declares 128 but was\n"
    "                 measured at 512)\n"
    "  --full         score every position of each chunk, not the second half\n"
    "  --act-bits B   fake-quantize every linear-layer input per token to B bits\n"
    "  --kv-bits B    fake-quantize K and V per token to B bits\n"
    "  --kv-group G   K/V values per scale along the quantized axis (default:\n"
    "                 a whole row per token / column per channel)\n"
    "  --asym         asymmetric (min/max, zero point) instead of symmetric\n"
    "                 (absmax) fake-quant grids\n"
    "  --k-per-channel  quantize K per channel over tokens (KIVI; V stays per\n"
    "                 token): K's outlier channels then get their own scales\n"
    "  --kl           also run the float baseline in the same process and report\n"
    "                 KL divergence, top-1 agreement and delta-p (like llama.cpp\n"
    "                 --kl-divergence); useful with --act-bits / --kv-bits\n"
    "  --kl-base M    KL against another model file M (same tokenizer), e.g. the\n"
    "                 float original of a saved quantized MODEL; implies --kl\n"
    "  --json         one JSON object on stdout\n"
    "  --mem-budget SIZE  memory the run may use (4096 = MiB, or 800M, 6G); a run\n"
    "                 that needs more stops before it starts (default: the memory\n"
    "                 available)\n"
    "  --llamacpp-compat  tokenize a tokenizer.json as llama.cpp does the GGUF\n"
    "                 converted from it (no NFC/NFKC/Lowercase normalizer,\n"
    "                 special-token text stays text; also QLENS_TOKENIZER=llamacpp)\n"
    "Progress goes to stderr when it is a terminal.  Ctrl-C cancels (exit 130).\n";

struct ppl_args {
    const char *pos[2];
    int n_pos;
    long ctx, chunks, act_bits, kv_bits, kv_group;
    int full, kl, json, force_ctx, k_per_channel, asym, compat;
    const char *kl_base;
    double mem_budget;    /* --mem-budget in bytes, 0: available memory */
};

static int parse_args(int argc, char **argv, struct ppl_args *a)
{
    memset(a, 0, sizeof *a);
    a->ctx = -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *dst = !strcmp(s, "--ctx") ? &a->ctx : !strcmp(s, "--chunks") ? &a->chunks
                  : !strcmp(s, "--act-bits") ? &a->act_bits : !strcmp(s, "--kv-bits") ? &a->kv_bits
                  : !strcmp(s, "--kv-group") ? &a->kv_group : NULL;
        if (dst) {
            int bits = dst == &a->act_bits || dst == &a->kv_bits;
            long lo = bits ? 2 : dst == &a->chunks ? 1 : 0; /* --ctx 0: run() says why */
            if (infer_parse_opt("ppl", s, v, lo, bits ? 16 : 1000000000L, dst) < 0)
                return -1;
            i++;
        } else if (!strcmp(s, "--full")) a->full = 1;
        else if (!strcmp(s, "--kl")) a->kl = 1;
        else if (!strcmp(s, "--force-ctx")) a->force_ctx = 1;
        else if (!strcmp(s, "--k-per-channel")) a->k_per_channel = 1;
        else if (!strcmp(s, "--asym")) a->asym = 1;
        else if (!strcmp(s, "--llamacpp-compat")) a->compat = 1;
        else if (!strcmp(s, "--kl-base")) {
            if (!v)
                return cli_usage_error("ppl", "--kl-base wants a model file"), -1;
            a->kl_base = v;
            a->kl = 1;
            i++;
        }
        else if (!strcmp(s, "--json")) a->json = 1;
        else if (!strcmp(s, "--mem-budget")) {
            if (mem_parse_size(v, &a->mem_budget) < 0)
                return cli_usage_error("ppl", "--mem-budget wants a size such as 4096 (MiB), "
                                       "800M or 6G, got '%s'", v ? v : "(nothing)"), -1;
            i++;
        }
        else if (s[0] == '-' && s[1])
            return cli_usage_error("ppl", "unknown option '%s'", s), -1;
        else if (a->n_pos < 2) a->pos[a->n_pos++] = s;
        else return cli_usage_error("ppl", "too many arguments ('%s')", s), -1;
    }
    if (a->n_pos == 0)
        return cli_usage_error("ppl", "missing TEXT (a UTF-8 text file)"), -1;
    return 0;
}

static int progress_cb(void *ud, int done, int total, double ppl)
{
    (void)ud;
    fprintf(stderr, "\rchunk %d/%d  PPL %.4f", done, total, ppl);
    if (done == total)
        fputc('\n', stderr);
    return 0;
}

static void print_dist_json(const char *name, const struct ppl_dist *d)
{
    printf(",\"%s\":{\"mean\":", name);
    cli_json_num(stdout, d->mean);
    printf(",\"stderr\":"); cli_json_num(stdout, d->stderr_mean);
    printf(",\"rms\":"); cli_json_num(stdout, d->rms);
    printf(",\"max\":"); cli_json_num(stdout, d->max);
    printf(",\"p99_9\":"); cli_json_num(stdout, d->p999);
    printf(",\"p99\":"); cli_json_num(stdout, d->p99);
    printf(",\"p95\":"); cli_json_num(stdout, d->p95);
    printf(",\"p90\":"); cli_json_num(stdout, d->p90);
    printf(",\"median\":"); cli_json_num(stdout, d->median);
    printf(",\"p10\":"); cli_json_num(stdout, d->p10);
    printf(",\"p5\":"); cli_json_num(stdout, d->p05);
    printf(",\"p1\":"); cli_json_num(stdout, d->p01);
    printf(",\"min\":"); cli_json_num(stdout, d->min);
    printf("}");
}

static void print_json(const char *model, const char *text, size_t n_tok, const struct ppl_args *a,
                       const struct ppl_result *r)
{
    double evald = (double)r->n_chunks * r->n_ctx;
    printf("{\"model\":");
    cli_json_str(stdout, model);
    printf(",\"text\":");
    cli_json_str(stdout, text);
    printf(",\"mode\":\"%s\",\"n_ctx\":%d,\"tokens\":%zu,\"chunks\":%d,\"scored\":%zu,"
           "\"ppl\":", a->full ? "full" : "llama.cpp", r->n_ctx, n_tok, r->n_chunks, r->n_scored);
    cli_json_num(stdout, r->ppl);
    printf(",\"stderr\":"); cli_json_num(stdout, r->ppl_stderr);
    printf(",\"nll\":"); cli_json_num(stdout, r->nll_mean);
    printf(",\"act_bits\":%ld,\"kv_bits\":%ld,\"k_axis\":\"%s\",\"seconds\":", a->act_bits,
           a->kv_bits, a->k_per_channel ? "channel" : "token");
    cli_json_num(stdout, r->seconds);
    printf(",\"tokens_per_s\":"); cli_json_num(stdout, r->seconds > 0 ? evald / r->seconds : 0);
    if (r->kl) {
        printf(",\"kl\":{\"base_ppl\":"); cli_json_num(stdout, r->base_ppl);
        printf(",\"base_stderr\":"); cli_json_num(stdout, r->base_ppl_stderr);
        printf(",\"ln_ppl_ratio\":"); cli_json_num(stdout, r->ln_ppl_ratio);
        printf(",\"top1\":"); cli_json_num(stdout, r->top1);
        printf(",\"top1_stderr\":"); cli_json_num(stdout, r->top1_stderr);
        print_dist_json("kld", &r->kld);
        print_dist_json("delta_p", &r->dp);
        printf("}");
    }
    printf("}\n");
}

static void print_dist_text(const char *name, const struct ppl_dist *d, double scale,
                            const char *unit)
{
    printf("%-6s mean %.6f%s +/- %.6f%s  rms %.6f%s\n", name, d->mean * scale, unit,
           d->stderr_mean * scale, unit, d->rms * scale, unit);
    printf("       max %.6f  99.9%% %.6f  99%% %.6f  95%% %.6f  90%% %.6f  median %.6f\n",
           d->max * scale, d->p999 * scale, d->p99 * scale, d->p95 * scale, d->p90 * scale,
           d->median * scale);
    printf("       10%% %.6f  5%% %.6f  1%% %.6f  min %.6f\n", d->p10 * scale, d->p05 * scale,
           d->p01 * scale, d->min * scale);
}

static void print_text(const char *model, const char *text, size_t n_tok, const struct ppl_args *a,
                       const struct ppl_result *r)
{
    printf("model %s\ntext  %s (%zu tokens)\n", model, text, n_tok);
    printf("mode  %s, n_ctx %d, %d chunks, %zu scored tokens\n",
           a->full ? "full window" : "llama.cpp (second half of each chunk)", r->n_ctx,
           r->n_chunks, r->n_scored);
    if (a->act_bits || a->kv_bits)
        printf("fake-quant  activations %ld bits, K/V %ld bits (K per %s)\n", a->act_bits,
               a->kv_bits, a->k_per_channel ? "channel" : "token");
    printf("PPL = %.4f +/- %.5f\n", r->ppl, r->ppl_stderr);
    if (r->kl) {
        printf("baseline PPL = %.4f +/- %.5f   ln(PPL/PPL_base) = %.6f\n", r->base_ppl,
               r->base_ppl_stderr, r->ln_ppl_ratio);
        printf("same top-1: %.3f%% +/- %.3f%%\n", 100 * r->top1, 100 * r->top1_stderr);
        print_dist_text("KLD", &r->kld, 1.0, "");
        print_dist_text("dp", &r->dp, 100.0, "%");
    }
    printf("%.2f s, %.0f tokens/s\n", r->seconds,
           r->seconds > 0 ? (double)r->n_chunks * r->n_ctx / r->seconds : 0.0);
}

/* The --kl-base model and its forward context. */
static int open_base(const char *path, struct qmodel *m, struct fwd *f, int n_ctx,
                     struct qerr *err)
{
    int rc = qmodel_open(m, path, err);
    if (rc)
        return rc;
    if ((rc = fwd_init(f, m, n_ctx, err))) {
        qerr_prefix(err, "--kl-base %s: ", path);
        qmodel_close(m);
    }
    return rc;
}

static int run(struct infer_model *im, const struct ppl_args *a, const char *text,
               struct ppl_result *r, size_t *n_tok, struct qerr *err)
{
    int *ids = NULL, n_ctx;
    if (infer_pick_ctx(im, "--ctx", a->ctx, a->force_ctx, &n_ctx, err))
        return err->code;
    if (n_ctx < 2 || n_ctx % 2)
        return qerr_set(err, QERR_ARG, "--ctx %d: must be even and at least 2", n_ctx);
    int rc = mem_check_eval(&im->m, n_ctx, 2, a->mem_budget, err);
    if (!rc)
        rc = infer_tokenize_file(im, text, &ids, n_tok, err);
    if (rc)
        return rc;
    struct fwd f, fb;
    struct qmodel base;
    struct calib cal = {0};
    struct fwd_hooks hooks;
    int have_base = 0;
    if ((rc = fwd_init(&f, &im->m, n_ctx, err))) {
        free(ids);
        return rc;
    }
    if (a->kl_base && !(rc = open_base(a->kl_base, &base, &fb, n_ctx, err)))
        have_base = 1;
    if (!rc)
        rc = calib_init(&cal, &im->m.cfg, err);
    cal.act_bits = (int)a->act_bits;
    cal.kv_bits = (int)a->kv_bits;
    cal.kv_group = (int)a->kv_group;
    cal.k_axis = a->k_per_channel ? CALIB_PER_CHANNEL : CALIB_PER_TOKEN;
    cal.act_asym = cal.kv_asym = a->asym;
    calib_hooks(&cal, &hooks);
    struct ppl_opts o = {.n_ctx = n_ctx, .max_chunks = (int)a->chunks, .full = a->full,
                         .kl = a->kl, .bos = infer_bos(im), .cancel = infer_cancel_flag()};
    o.hooks = a->act_bits || a->kv_bits ? &hooks : NULL;
    o.base = have_base ? &fb : NULL;
    if (isatty(2) && !a->json)
        o.progress = progress_cb;
    if (!rc)
        rc = ppl_run(&f, ids, *n_tok, &o, r, err);
    if (o.progress && rc)
        fputc('\n', stderr); /* the error goes below the progress line */
    if (rc == QERR_FORMAT && !strncmp(err->msg, "text too short", 14))
        qerr_prefix(err, "%s: ", text);
    calib_free(&cal);
    fwd_free(&f);
    if (have_base) {
        fwd_free(&fb);
        qmodel_close(&base);
    }
    free(ids);
    return rc;
}

int cmd_ppl(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(ppl_help, stdout);
        return EXIT_OK;
    }
    struct ppl_args a;
    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    const char *model_arg = a.n_pos == 2 ? a.pos[0] : NULL, *text = a.pos[a.n_pos - 1];
    struct qerr err = {0};
    struct infer_model im;
    if (infer_open(&im, model_arg, &err))
        return cli_fail(&err);
    if (a.compat)
        tok_set_llamacpp_compat(im.tok, 1);
    infer_catch_sigint();
    struct ppl_result r;
    size_t n_tok = 0;
    int rc = run(&im, &a, text, &r, &n_tok, &err);
    if (!rc)
        rc = qmodel_intact(&im.m, &err); /* no numbers computed on zero pages */
    if (!rc) {
        if (a.json)
            print_json(im.m.path, text, n_tok, &a, &r);
        else
            print_text(im.m.path, text, n_tok, &a, &r);
    }
    infer_close(&im);
    return rc ? cli_fail(&err) : EXIT_OK;
}
