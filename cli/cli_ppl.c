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
#include "cli/kl_print.h"
#include "src/klfile.h"
#include "src/ppl.h"
#include "src/tokenizer.h"

static const char ppl_help[] =
    "usage: qlens ppl [MODEL] TEXT [--ctx N] [--force-ctx] [--chunks N] [--full] [--kl]\n"
    "                 [--kl-base M] [--act-bits B] [--kv-bits B] [--kv-group G]\n"
    "                 [--k-per-channel] [--asym] [--json]\n"
    "       qlens ppl [MODEL] TEXT --kl-divergence-base OUT      (write the base)\n"
    "       qlens ppl [MODEL] [TEXT] --kl-divergence-base FILE --kl-divergence\n\n"
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
    "  --kl-divergence-base FILE  llama.cpp's logits file (llama-perplexity's\n"
    "                 option of the same name): without --kl-divergence, write\n"
    "                 MODEL's log-probabilities of every scored position of TEXT\n"
    "                 to FILE; with it, read FILE as the baseline (no float pass)\n"
    "                 and report llama.cpp's KL statistics.  The chunks, context\n"
    "                 and tokens come from FILE; a TEXT given is checked against\n"
    "                 them (with one positional argument it is MODEL)\n"
    "  --kl-divergence  read --kl-divergence-base FILE (as llama.cpp)\n"
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
    const char *kl_file;  /* --kl-divergence-base                        */
    int kl_read;          /* --kl-divergence                             */
    double mem_budget;    /* --mem-budget in bytes, 0: available memory */
};

/* Combinations: llama.cpp's file mode is its own llama.cpp-method run. */
static int check_args(const struct ppl_args *a)
{
    if (a->kl_read && !a->kl_file)
        return cli_usage_error("ppl", "--kl-divergence wants --kl-divergence-base FILE"), -1;
    if (a->kl_file && (a->kl || a->full))
        return cli_usage_error("ppl", "--kl-divergence-base does not go with %s",
                               a->full ? "--full" : "--kl / --kl-base"), -1;
    if (a->kl_file && !a->kl_read && (a->act_bits || a->kv_bits))
        return cli_usage_error("ppl", "the base file is written from the float model: no "
                               "--act-bits / --kv-bits"), -1;
    if (a->n_pos == 0 && !a->kl_read)
        return cli_usage_error("ppl", "missing TEXT (a UTF-8 text file)"), -1;
    return 0;
}

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
        else if (!strcmp(s, "--kl-divergence-base")) {
            if (!v)
                return cli_usage_error("ppl", "--kl-divergence-base wants a file"), -1;
            a->kl_file = v;
            i++;
        }
        else if (!strcmp(s, "--kl-divergence")) a->kl_read = 1;
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
    return check_args(a);
}

static int progress_cb(void *ud, int done, int total, double ppl)
{
    (void)ud;
    fprintf(stderr, "\rchunk %d/%d  PPL %.4f", done, total, ppl);
    if (done == total)
        fputc('\n', stderr);
    return 0;
}

/* Where the tokens and the baseline came from, for the report. */
struct ppl_io {
    const char *text;     /* TEXT, or NULL when the tokens are the file's  */
    struct klfile in;     /* --kl-divergence: the base file read           */
    int have_in;
    struct klfile_out out; /* --kl-divergence-base without it: written     */
    int have_out;
    double out_mib;
};

static void print_json(const char *model, const struct ppl_io *io, size_t n_tok,
                       const struct ppl_args *a, const struct ppl_result *r)
{
    double evald = (double)r->n_chunks * r->n_ctx;
    printf("{\"model\":");
    cli_json_str(stdout, model);
    printf(",\"text\":");
    if (io->text)
        cli_json_str(stdout, io->text);
    else
        printf("null");
    printf(",\"mode\":\"%s\",\"n_ctx\":%d,\"tokens\":%zu,\"chunks\":%d,\"scored\":%zu,"
           "\"ppl\":", a->full ? "full" : "llama.cpp", r->n_ctx, n_tok, r->n_chunks, r->n_scored);
    cli_json_num(stdout, r->ppl);
    printf(",\"stderr\":"); cli_json_num(stdout, r->ppl_stderr);
    printf(",\"nll\":"); cli_json_num(stdout, r->nll_mean);
    printf(",\"act_bits\":%ld,\"kv_bits\":%ld,\"k_axis\":\"%s\",\"seconds\":", a->act_bits,
           a->kv_bits, a->k_per_channel ? "channel" : "token");
    cli_json_num(stdout, r->seconds);
    printf(",\"tokens_per_s\":"); cli_json_num(stdout, r->seconds > 0 ? evald / r->seconds : 0);
    if (io->have_out) {
        printf(",\"kl_base_written\":");
        cli_json_str(stdout, a->kl_file);
        printf(",\"kl_base_mib\":");
        cli_json_num(stdout, io->out_mib);
    }
    if (r->kl)
        kl_print_json(stdout, "kl", r, io->have_in ? a->kl_file : NULL);
    printf("}\n");
}

static void print_text(const char *model, const struct ppl_io *io, size_t n_tok,
                       const struct ppl_args *a, const struct ppl_result *r)
{
    printf("model %s\n", model);
    if (io->have_in)
        printf("base  %s (llama.cpp logits: %d chunks of %d tokens, vocabulary %d)\n",
               a->kl_file, io->in.n_chunk, io->in.n_ctx, io->in.n_vocab);
    printf("text  %s (%zu tokens)\n", io->text ? io->text : "(the base file's tokens)", n_tok);
    printf("mode  %s, n_ctx %d, %d chunks, %zu scored tokens\n",
           a->full ? "full window" : "llama.cpp (second half of each chunk)", r->n_ctx,
           r->n_chunks, r->n_scored);
    if (a->act_bits || a->kv_bits)
        printf("fake-quant  activations %ld bits, K/V %ld bits (K per %s)\n", a->act_bits,
               a->kv_bits, a->k_per_channel ? "channel" : "token");
    printf("PPL = %.4f +/- %.5f\n", r->ppl, r->ppl_stderr);
    if (io->have_out)
        printf("wrote %s: %d chunks x %d positions x %d log-probs, %.1f MiB (llama.cpp "
               "--kl-divergence-base format)\n", a->kl_file, r->n_chunks,
               klfile_rows(r->n_ctx), io->out.n_vocab, io->out_mib);
    if (r->kl) {
        putchar('\n');
        kl_print_text(stdout, r);
        putchar('\n');
    }
    printf("%.2f s, %.0f tokens/s\n", r->seconds,
           r->seconds > 0 ? (double)r->n_chunks * r->n_ctx / r->seconds : 0.0);
}

/* --kl-divergence: a TEXT given must tokenize to the file's chunks. */
static int check_text(const struct infer_model *im, const char *text, const struct klfile *k,
                      long chunks, struct qerr *err)
{
    int *ids = NULL;
    size_t n = 0;
    int rc = infer_tokenize_file(im, text, &ids, &n, err);
    int nc = chunks > 0 && chunks < k->n_chunk ? (int)chunks : k->n_chunk;
    if (!rc && n < (size_t)nc * k->n_ctx)
        rc = qerr_set(err, QERR_FORMAT, "%s: %zu tokens, but %s holds %d chunks of %d tokens "
                      "(another text?)", text, n, k->path, nc, k->n_ctx);
    if (!rc)
        rc = klfile_check_run(k, k->n_ctx, k->n_vocab, nc, ids, err);
    free(ids);
    return rc;
}

/* --kl-divergence: open the base file; its context and vocabulary must be
 * the model's, its chunks the text's. */
static int open_kl_in(struct infer_model *im, const struct ppl_args *a, struct ppl_io *io,
                      int *n_ctx, struct qerr *err)
{
    struct klfile *k = &io->in;
    int rc = klfile_open(k, a->kl_file, err);
    if (rc)
        return rc;
    if (k->n_vocab != im->m.cfg.vocab_size)
        rc = qerr_set(err, QERR_FORMAT, "%s: n_vocab %d, but %s has %d tokens (another "
                      "vocabulary)", k->path, k->n_vocab, im->m.path, im->m.cfg.vocab_size);
    else if (a->ctx >= 0 && a->ctx != k->n_ctx)
        rc = qerr_set(err, QERR_FORMAT, "--ctx %ld: %s holds chunks of n_ctx %d", a->ctx, k->path,
                      k->n_ctx);
    else if (k->n_ctx % 2)
        rc = qerr_set(err, QERR_UNSUPP, "%s: n_ctx %d is odd; qlens evaluates even contexts",
                      k->path, k->n_ctx);
    if (!rc && (rc = infer_pick_ctx(im, "the base file's n_ctx", k->n_ctx, a->force_ctx, n_ctx,
                                    err))) {
        qerr_prefix(err, "%s: n_ctx: ", k->path);
        rc = err->code = QERR_FORMAT; /* the file does not fit the model */
    }
    if (!rc && io->text)
        rc = check_text(im, io->text, k, a->chunks, err);
    if (rc)
        klfile_close(k);
    else
        io->have_in = 1;
    return rc;
}

/* --kl-divergence-base without --kl-divergence: the file for this run. */
static int create_kl_out(const struct infer_model *im, const struct ppl_args *a, struct ppl_io *io,
                         const int *ids, size_t n_tok, int n_ctx, struct qerr *err)
{
    int n = ppl_n_chunks(n_tok, n_ctx);
    if (a->chunks > 0 && a->chunks < n)
        n = (int)a->chunks;
    if (n < 1)
        return 0; /* ppl_run says "text too short" */
    int rc = klfile_create(&io->out, a->kl_file, n_ctx, im->m.cfg.vocab_size, n, ids, err);
    if (!rc) {
        io->have_out = 1;
        io->out_mib = ((double)io->out.data_off +
                       2.0 * n * io->out.rows * io->out.nv) / 1048576.0;
    }
    return rc;
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

/* The stream: the base file's tokens (--kl-divergence), else TEXT's. */
static int get_tokens(struct infer_model *im, const struct ppl_args *a, struct ppl_io *io,
                      int **ids, size_t *n_tok, int *n_ctx, struct qerr *err)
{
    int rc;
    if (a->kl_read) {
        if ((rc = open_kl_in(im, a, io, n_ctx, err)))
            return rc;
        *n_tok = (size_t)io->in.n_chunk * io->in.n_ctx;
        if (!(*ids = malloc(*n_tok * sizeof **ids)))
            return qerr_set(err, QERR_NOMEM, "out of memory for %zu tokens", *n_tok);
        memcpy(*ids, io->in.tokens, *n_tok * sizeof **ids);
        return 0;
    }
    if (infer_pick_ctx(im, "--ctx", a->ctx, a->force_ctx, n_ctx, err))
        return err->code;
    if (*n_ctx < 2 || *n_ctx % 2)
        return qerr_set(err, QERR_ARG, "--ctx %d: must be even and at least 2", *n_ctx);
    return infer_tokenize_file(im, io->text, ids, n_tok, err);
}

static int run(struct infer_model *im, const struct ppl_args *a, struct ppl_io *io,
               struct ppl_result *r, size_t *n_tok, struct qerr *err)
{
    int *ids = NULL, n_ctx;
    int rc = get_tokens(im, a, io, &ids, n_tok, &n_ctx, err);
    if (!rc)
        rc = mem_check_eval(&im->m, n_ctx, 2, a->mem_budget, err);
    if (rc) {
        free(ids);
        return rc;
    }
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
                         .kl = a->kl || a->kl_read, .bos = infer_bos(im),
                         .cancel = infer_cancel_flag()};
    o.hooks = a->act_bits || a->kv_bits ? &hooks : NULL;
    o.base = have_base ? &fb : NULL;
    o.kl_in = io->have_in ? &io->in : NULL;
    if (!rc && a->kl_file && !a->kl_read)
        rc = create_kl_out(im, a, io, ids, *n_tok, n_ctx, err);
    o.kl_out = io->have_out ? &io->out : NULL;
    if (isatty(2) && !a->json)
        o.progress = progress_cb;
    if (!rc)
        rc = ppl_run(&f, ids, *n_tok, &o, r, err);
    if (o.progress && rc)
        fputc('\n', stderr); /* the error goes below the progress line */
    if (rc == QERR_FORMAT && !strncmp(err->msg, "text too short", 14))
        qerr_prefix(err, "%s: ", io->text ? io->text : a->kl_file);
    if (!rc)
        rc = qmodel_intact(&im->m, err); /* no numbers computed on zero pages */
    if (io->have_out && rc)
        klfile_abort(&io->out); /* nothing half-written appears */
    else if (io->have_out)
        rc = klfile_commit(&io->out, err);
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
    /* reading a base file, one positional argument is MODEL (the tokens
     * are the file's) */
    int text_given = a.kl_read ? a.n_pos == 2 : 1;
    const char *model_arg = a.n_pos == 2 || (a.kl_read && a.n_pos == 1) ? a.pos[0] : NULL;
    struct ppl_io io = {.text = text_given ? a.pos[a.n_pos - 1] : NULL};
    struct qerr err = {0};
    struct infer_model im;
    if (infer_open(&im, model_arg, &err))
        return cli_fail(&err);
    if (a.compat)
        tok_set_llamacpp_compat(im.tok, 1);
    infer_catch_sigint();
    struct ppl_result r;
    size_t n_tok = 0;
    int rc = run(&im, &a, &io, &r, &n_tok, &err);
    if (!rc) {
        if (a.json)
            print_json(im.m.path, &io, n_tok, &a, &r);
        else
            print_text(im.m.path, &io, n_tok, &a, &r);
    }
    if (io.have_in)
        klfile_close(&io.in);
    infer_close(&im);
    return rc ? cli_fail(&err) : EXIT_OK;
}
