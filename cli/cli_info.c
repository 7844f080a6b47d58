/* qlens info: what a model file holds. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "src/model.h"
#include "src/tokenizer.h"

static const char info_help[] =
    "usage: qlens info [MODEL] [--json]\n\n"
    "Print the model's format, architecture, configuration, every tensor\n"
    "(canonical name, shape outermost first, storage type, bits per weight =\n"
    "stored bytes * 8 / values) and the parameter count, then the file's\n"
    "average bits per weight over all tensors (their stored bytes * 8 / values).\n"
    "MODEL defaults to $QLENS_MODEL, else the bundled stories260K.\n\n"
    "  --json     one JSON object on stdout\n";

void info_print_summary(FILE *f, const struct qmodel *m)
{
    const struct qconfig *c = &m->cfg;
    fprintf(f, "model      %s\n", m->path);
    fprintf(f, "format     %s   architecture %s\n", qformat_name(m->format), c->arch);
    fprintf(f, "dim %d  hidden %d  layers %d  heads %d  kv heads %d  head dim %d\n",
            c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim);
    fprintf(f, "vocab %d  context %d  rope theta %g (%s)  norm eps %g  output %s%s\n",
            c->vocab_size, c->ctx_len, c->rope_theta,
            c->rope_style == QROPE_HALF ? "rotate-half" : "interleaved", c->norm_eps,
            c->tied_output ? "tied to token_embd" : "separate",
            c->has_qkv_bias ? "  qkv bias" : "");
    char feat[512];
    qconfig_describe(c, feat, sizeof feat);
    if (feat[0])
        fprintf(f, "features   %s\n", feat);
    fprintf(f, "parameters %lld in %d tensors\n", (long long)qmodel_param_count(m), m->n_tensors);
    if (m->tokenizer_path)
        fprintf(f, "tokenizer  %s\n", m->tokenizer_path);
}

/* Stored bits per value: what a tensor costs in its file. */
static double tensor_bpw(const struct qtensor *t)
{
    return t->nelem ? 8.0 * (double)t->nbytes / (double)t->nelem : 0;
}

/* Average over the whole file: Σ bytes * 8 / Σ values. */
static double model_bpw(const struct qmodel *m, double *bytes)
{
    double b = 0, n = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        b += (double)m->tensors[i].nbytes;
        n += (double)m->tensors[i].nelem;
    }
    *bytes = b;
    return n > 0 ? 8.0 * b / n : 0;
}

/* The tokenizer that will be used: family, pre-tokenizer, normalizer and
 * mode; a tokenizer that cannot be loaded is reported, not fatal. */
static void print_tokenizer(const struct qmodel *m, int json)
{
    struct tokenizer *t = NULL;
    struct qerr err = {0};
    int rc = tok_load_for_model(&t, m, &err);
    if (!json) {
        if (rc == 0)
            printf("           %s, %d tokens; family %s; pre-tokenizer %s; normalizer %s; "
                   "mode %s\n", tok_name(t), tok_vocab_size(t), tok_family(t), tok_pretok_desc(t),
                   tok_normalizer_desc(t), tok_mode(t));
        else
            printf("tokenizer  not usable: %s\n", err.msg);
    } else if (rc == 0) {
        printf(",\"tokenizer_info\":{\"name\":");
        cli_json_str(stdout, tok_name(t));
        printf(",\"vocab_size\":%d,\"family\":", tok_vocab_size(t));
        cli_json_str(stdout, tok_family(t));
        printf(",\"pre_tokenizer\":");
        cli_json_str(stdout, tok_pretok_desc(t));
        printf(",\"normalizer\":");
        cli_json_str(stdout, tok_normalizer_desc(t));
        printf(",\"mode\":");
        cli_json_str(stdout, tok_mode(t));
        printf("}");
    } else {
        printf(",\"tokenizer_info\":{\"error\":");
        cli_json_str(stdout, err.msg);
        printf("}");
    }
    tok_free(t);
}

static void print_text(const struct qmodel *m)
{
    info_print_summary(stdout, m);
    print_tokenizer(m, 0);
    printf("\n%-28s %-16s %-6s %8s %12s\n", "tensor", "shape", "type", "bits/w", "params");
    for (int i = 0; i < m->n_tensors; i++) {
        const struct qtensor *t = &m->tensors[i];
        char shape[64];
        qtensor_shape_str(t, " x ", shape, sizeof shape);
        printf("%-28s %-16s %-6s %8.4f %12lld\n", t->name, shape, qdtype_name(t->dtype),
               tensor_bpw(t), (long long)t->nelem);
    }
    double bytes;
    double bpw = model_bpw(m, &bytes);
    printf("\nbits/weight %.4f on average (%.3f MiB of tensor data)\n", bpw, bytes / 1048576.0);
}

/* The family features as config fields (0 / "" / false when absent). */
static void print_json_features(const struct qconfig *c)
{
    printf("\"rope_scaling\":{\"type\":\"%s\",\"factor\":", qrope_scaling_name(c->rope_scaling));
    cli_json_num(stdout, c->rope_factor);
    printf(",\"low_freq_factor\":");
    cli_json_num(stdout, c->rope_low_freq);
    printf(",\"high_freq_factor\":");
    cli_json_num(stdout, c->rope_high_freq);
    printf(",\"original_context\":%d,\"divisors\":[", c->rope_orig_ctx);
    for (int i = 0; c->has_rope_div && i < c->head_dim / 2; i++) {
        printf("%s", i ? "," : "");
        cli_json_num(stdout, c->rope_div[i]);
    }
    printf("]},\"qk_norm\":%s,\"post_norms\":%s,\"activation\":\"%s\",\"embd_scale\":",
           c->qk_norm ? "true" : "false", c->post_norms ? "true" : "false",
           c->act == QACT_GELU_TANH ? "gelu_tanh" : "silu");
    cli_json_num(stdout, c->embd_scale);
    printf(",\"attn_scale\":");
    cli_json_num(stdout, c->attn_scale);
    printf(",\"attn_softcap\":");
    cli_json_num(stdout, c->attn_softcap);
    printf(",\"final_softcap\":");
    cli_json_num(stdout, c->final_softcap);
    printf(",\"sliding_window\":%d,\"local_layers\":%d,\"rope_theta_local\":", c->swa_window,
           qconfig_local_layers(c));
    cli_json_num(stdout, c->rope_theta_local);
    printf(",\"fused\":");
    cli_json_str(stdout, c->fused);
}

static void print_json(const struct qmodel *m)
{
    const struct qconfig *c = &m->cfg;
    printf("{\"path\":");
    cli_json_str(stdout, m->path);
    printf(",\"format\":");
    cli_json_str(stdout, qformat_name(m->format));
    printf(",\"config\":{\"arch\":");
    cli_json_str(stdout, c->arch);
    printf(",\"dim\":%d,\"hidden_dim\":%d,\"n_layers\":%d,\"n_heads\":%d,\"n_kv_heads\":%d,"
           "\"head_dim\":%d,\"vocab_size\":%d,\"ctx_len\":%d,\"rope_theta\":",
           c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
           c->vocab_size, c->ctx_len);
    cli_json_num(stdout, c->rope_theta);
    printf(",\"rope_style\":\"%s\",\"norm_eps\":", c->rope_style == QROPE_HALF ? "half" : "interleaved");
    cli_json_num(stdout, c->norm_eps);
    printf(",\"tied_output\":%s,\"qkv_bias\":%s,", c->tied_output ? "true" : "false",
           c->has_qkv_bias ? "true" : "false");
    print_json_features(c);
    printf("},\"parameters\":%lld,\"tokenizer\":", (long long)qmodel_param_count(m));
    if (m->tokenizer_path)
        cli_json_str(stdout, m->tokenizer_path);
    else
        printf("null");
    print_tokenizer(m, 1);
    double bytes;
    printf(",\"bits_per_weight\":");
    cli_json_num(stdout, model_bpw(m, &bytes));
    printf(",\"tensor_bytes\":%.0f", bytes);
    printf(",\"tensors\":[");
    for (int i = 0; i < m->n_tensors; i++) {
        const struct qtensor *t = &m->tensors[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(stdout, t->name);
        printf(",\"source_name\":");
        cli_json_str(stdout, t->src_name);
        printf(",\"layer\":%d,\"role\":\"%s\",\"dtype\":\"%s\",\"shape\":[", t->layer,
               qrole_name(t->role), qdtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
        printf("],\"bits_per_weight\":");
        cli_json_num(stdout, tensor_bpw(t));
        printf(",\"bytes\":%llu", (unsigned long long)t->nbytes);
        printf(",\"params\":%lld,\"offset\":%llu}", (long long)t->nelem,
               (unsigned long long)t->file_offset);
    }
    printf("]}\n");
}

int cmd_info(int argc, char **argv)
{
    const char *model_arg = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(info_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        } else if (!model_arg) {
            model_arg = argv[i];
        } else {
            return cli_usage_error("info", "unexpected argument '%s'", argv[i]);
        }
    }
    struct qerr err = {0};
    struct qmodel m;
    if (cli_open_model(&m, model_arg, &err))
        return cli_fail(&err);
    if (json)
        print_json(&m);
    else
        print_text(&m);
    qmodel_close(&m);
    return EXIT_OK;
}
