/* qlens generate: let a person read what a (quantized) model writes. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/calib.h"
#include "cli/cli.h"
#include "cli/cli_infer.h"
#include "cli/commands.h"
#include "src/forward.h"
#include "src/tokenizer.h"

static const char gen_help[] =
    "usage: qlens generate [MODEL] [--prompt P] [-n N] [--temp T] [--top-p P]\n"
    "                      [--seed S] [--act-bits B] [--kv-bits B] [--json]\n\n"
    "Continue the prompt P with up to N new tokens (default 256, bounded by the\n"
    "model's context) and print the text as it is produced.  Temperature 0\n"
    "(the default) is greedy decoding: always the most likely token, so the\n"
    "output is deterministic.  Stops early at end-of-sequence or BOS.\n\n"
    "  --prompt P     text to continue (default: empty, start after BOS)\n"
    "  -n N           new tokens to generate (1..context)\n"
    "  --temp T       sampling temperature (0 = greedy)\n"
    "  --top-p P      nucleus sampling: keep the smallest set of tokens whose\n"
    "                 probability reaches P (default 1 = off); only with --temp\n"
    "  --seed S       random seed for sampling (default: time)\n"
    "  --act-bits B   fake-quantize linear-layer inputs per token to B bits\n"
    "  --kv-bits B    fake-quantize K and V per token to B bits\n"
    "  --json         print {\"prompt\",\"tokens\",\"text\",...} at the end instead\n";

struct gen_args {
    const char *model, *prompt;
    long n, act_bits, kv_bits;
    double temp, top_p;
    unsigned long long seed;
    int json, have_seed;
};

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    double v = strtod(s, &end);
    if (*end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_opt(int argc, char **argv, int *i, struct gen_args *a)
{
    const char *s = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long l;
    if (!strcmp(s, "--prompt") && v) a->prompt = v;
    else if (!strcmp(s, "-n") && v && !infer_parse_int(v, 1, 1 << 20, &a->n)) {}
    else if (!strcmp(s, "--temp") && !parse_double(v, 0, 100, &a->temp)) {}
    else if (!strcmp(s, "--top-p") && !parse_double(v, 1e-6, 1, &a->top_p)) {}
    else if (!strcmp(s, "--seed") && v && !infer_parse_int(v, 0, 0x7fffffffffffffffL, &l)) {
        a->seed = (unsigned long long)l;
        a->have_seed = 1;
    } else if (!strcmp(s, "--act-bits") && v && !infer_parse_int(v, 2, 16, &a->act_bits)) {}
    else if (!strcmp(s, "--kv-bits") && v && !infer_parse_int(v, 2, 16, &a->kv_bits)) {}
    else if (!v)
        return cli_usage_error("generate", "%s needs a value", s), -1;
    else
        return cli_usage_error("generate", "bad value '%s' for %s", v, s), -1;
    (*i)++;
    return 0;
}

static int parse_args(int argc, char **argv, struct gen_args *a)
{
    memset(a, 0, sizeof *a);
    a->prompt = "";
    a->n = 256;
    a->top_p = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--json"))
            a->json = 1;
        else if (s[0] == '-' && s[1]) {
            if (strcmp(s, "--prompt") && strcmp(s, "-n") && strcmp(s, "--temp") &&
                strcmp(s, "--top-p") && strcmp(s, "--seed") && strcmp(s, "--act-bits") &&
                strcmp(s, "--kv-bits"))
                return cli_usage_error("generate", "unknown option '%s'", s), -1;
            if (parse_opt(argc, argv, &i, a) < 0)
                return -1;
        } else if (!a->model)
            a->model = s;
        else
            return cli_usage_error("generate", "unexpected argument '%s' (quote the prompt: "
                                   "--prompt \"...\")", s), -1;
    }
    return 0;
}

/* xorshift64*, as llama2.c samples; uniform in [0, 1). */
static float rng_f32(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (float)((*s * 0x2545F4914F6CDD1DULL) >> 40) / 16777216.0f;
}

struct cand {
    float p;
    int id;
};

static int cmp_cand(const void *x, const void *y)
{
    float a = ((const struct cand *)x)->p, b = ((const struct cand *)y)->p;
    return (a < b) - (a > b);
}

/* Greedy at temp 0, else temperature (+ top-p) sampling. */
static int sample(float *logits, int V, const struct gen_args *a, uint64_t *rng, struct cand *buf)
{
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best])
            best = i;
    if (a->temp <= 0)
        return best;
    double sum = 0;
    for (int i = 0; i < V; i++) {
        buf[i].p = expf((float)((logits[i] - logits[best]) / a->temp));
        buf[i].id = i;
        sum += buf[i].p;
    }
    int n = V;
    if (a->top_p < 1.0) {
        qsort(buf, (size_t)V, sizeof *buf, cmp_cand);
        double cum = 0;
        for (n = 0; n < V && cum < a->top_p * sum; n++)
            cum += buf[n].p;
        sum = cum;
    }
    double r = rng_f32(rng) * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += buf[i].p;
        if (r < acc)
            return buf[i].id;
    }
    return buf[n - 1].id;
}

static void emit(FILE *out, char **text, size_t *len, const char *piece, size_t n)
{
    if (out) {
        fwrite(piece, 1, n, out);
        fflush(out);
    }
    char *t = realloc(*text, *len + n + 1);
    if (!t)
        return;
    memcpy(t + *len, piece, n);
    *len += n;
    t[*len] = 0;
    *text = t;
}

struct gen_out {
    int *ids;             /* prompt (with BOS) then generated             */
    size_t n_prompt, n;
    char *text;           /* decoded generated text                       */
    size_t text_len;
    double seconds;
};

/* Everything one generation run owns. */
struct gen_state {
    struct fwd f;
    struct fwd_cache c;
    struct calib cal;
    struct fwd_hooks hooks;
    const struct fwd_hooks *hp; /* NULL without fake-quant               */
    float *logits;        /* (vocab)                                      */
    struct cand *buf;     /* (vocab) sampling scratch                     */
    uint64_t rng;
};

static int gen_setup(struct gen_state *st, struct infer_model *im, const struct gen_args *a,
                     int total, struct qerr *err)
{
    memset(st, 0, sizeof *st);
    int V = im->m.cfg.vocab_size, rc;
    st->logits = malloc((size_t)V * sizeof(float));
    st->buf = malloc((size_t)V * sizeof *st->buf);
    if (!st->logits || !st->buf)
        return qerr_set(err, QERR_NOMEM, "generate: out of memory");
    if ((rc = fwd_init(&st->f, &im->m, total, err)) || (rc = fwd_cache_init(&st->c, &st->f, err)) ||
        (rc = calib_init(&st->cal, &im->m.cfg, err)))
        return rc;
    st->f.cancel = infer_cancel_flag();
    st->cal.act_bits = (int)a->act_bits;
    st->cal.kv_bits = (int)a->kv_bits;
    calib_hooks(&st->cal, &st->hooks);
    st->hp = a->act_bits || a->kv_bits ? &st->hooks : NULL;
    st->rng = a->have_seed ? a->seed : (uint64_t)time(NULL);
    st->rng = st->rng * 2654435761ULL + 0x9E3779B97F4A7C15ULL; /* never 0 */
    return 0;
}

static void gen_free(struct gen_state *st)
{
    calib_free(&st->cal);
    fwd_cache_free(&st->c);
    fwd_free(&st->f);
    free(st->logits);
    free(st->buf);
}

/* The prompt in one step, then one token per step until EOS/BOS or total. */
static int gen_loop(struct gen_state *st, struct infer_model *im, const struct gen_args *a,
                    struct gen_out *g, size_t total, FILE *out, struct qerr *err)
{
    int V = im->m.cfg.vocab_size;
    g->n = g->n_prompt;
    for (size_t step = g->n_prompt; step < total; step++) {
        size_t from = step == g->n_prompt ? 0 : step - 1;
        int rc = fwd_step(&st->f, &st->c, g->ids + from, (int)(step - from), st->logits, st->hp);
        if (rc)
            return qerr_set(err, rc, "%s", st->f.err.msg);
        if (*infer_cancel_flag())
            return qerr_set(err, QERR_CANCEL, "generate: interrupted");
        int next = sample(st->logits, V, a, &st->rng, st->buf);
        if (next == tok_eos(im->tok) || next == tok_bos(im->tok))
            break;
        char piece[256];
        size_t pl = tok_decode(im->tok, g->ids[step - 1], next, piece, sizeof piece);
        emit(out, &g->text, &g->text_len, piece, pl < sizeof piece ? pl : sizeof piece);
        g->ids[g->n++] = next;
    }
    return 0;
}

static int generate(struct infer_model *im, const struct gen_args *a, struct gen_out *g,
                    struct qerr *err)
{
    int rc = tok_encode(im->tok, a->prompt, strlen(a->prompt),
                        tok_add_bos_default(im->tok), &g->ids, &g->n_prompt, err);
    if (rc)
        return rc;
    int ctx = infer_model_ctx(im);
    if (g->n_prompt == 0)
        return qerr_set(err, QERR_ARG, "empty prompt and the tokenizer has no BOS: give --prompt");
    if ((long)g->n_prompt >= ctx)
        return qerr_set(err, QERR_ARG, "prompt has %zu tokens, the context holds %d",
                        g->n_prompt, ctx);
    size_t total = g->n_prompt + (size_t)a->n < (size_t)ctx ? g->n_prompt + a->n : (size_t)ctx;
    int *ids = realloc(g->ids, total * sizeof(int));
    if (!ids)
        return qerr_set(err, QERR_NOMEM, "generate: out of memory");
    g->ids = ids;
    struct gen_state st;
    FILE *out = a->json ? NULL : stdout;
    struct timespec t0, t1;
    rc = gen_setup(&st, im, a, (int)total, err);
    if (!rc && out && *a->prompt)
        fputs(a->prompt, out);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!rc)
        rc = gen_loop(&st, im, a, g, total, out, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    g->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (out)
        fputc('\n', out);
    gen_free(&st);
    return rc;
}

static void print_json(const struct infer_model *im, const struct gen_args *a,
                       const struct gen_out *g)
{
    printf("{\"model\":");
    cli_json_str(stdout, im->m.path);
    printf(",\"prompt\":");
    cli_json_str(stdout, a->prompt);
    printf(",\"temp\":");
    cli_json_num(stdout, a->temp);
    printf(",\"prompt_tokens\":%zu,\"tokens\":[", g->n_prompt);
    for (size_t i = g->n_prompt; i < g->n; i++)
        printf("%s%d", i > g->n_prompt ? "," : "", g->ids[i]);
    printf("],\"text\":");
    cli_json_str(stdout, g->text ? g->text : "");
    printf(",\"seconds\":");
    cli_json_num(stdout, g->seconds);
    printf("}\n");
}

int cmd_generate(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(gen_help, stdout);
        return EXIT_OK;
    }
    struct gen_args a;
    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    if (infer_utf8_invalid_at(a.prompt, strlen(a.prompt)) >= 0)
        return cli_usage_error("generate", "the prompt is not valid UTF-8");
    struct qerr err = {0};
    struct infer_model im;
    if (infer_open(&im, a.model, &err))
        return cli_fail(&err);
    infer_catch_sigint();
    struct gen_out g = {0};
    int rc = generate(&im, &a, &g, &err);
    if (!rc && a.json)
        print_json(&im, &a, &g);
    free(g.ids);
    free(g.text);
    infer_close(&im);
    return rc ? cli_fail(&err) : EXIT_OK;
}
