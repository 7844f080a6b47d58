/* ggml_mix: llama-quantize's per-tensor type rules (see ggml_mix.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "quant/ggml_mix.h"

/* llama_ftype values (llama.h), in llama-quantize's listing order. */
enum {
    FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9, FT_Q2_K = 10,
    FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14, FT_Q4_K_M = 15,
    FT_Q5_K_S = 16, FT_Q5_K_M = 17, FT_Q6_K = 18, FT_IQ4_NL = 25, FT_IQ4_XS = 30,
};

static const struct gmix_preset presets[] = {
    {"q4_0", "Q4_0", FT_Q4_0, GGT_Q4_0},
    {"q4_1", "Q4_1", FT_Q4_1, GGT_Q4_1},
    {"q5_0", "Q5_0", FT_Q5_0, GGT_Q5_0},
    {"q5_1", "Q5_1", FT_Q5_1, GGT_Q5_1},
    {"iq4_nl", "IQ4_NL", FT_IQ4_NL, GGT_IQ4_NL},
    {"iq4_xs", "IQ4_XS", FT_IQ4_XS, GGT_IQ4_XS},
    {"q2_k", "Q2_K", FT_Q2_K, GGT_Q2_K},
    {"q3_k_s", "Q3_K_S", FT_Q3_K_S, GGT_Q3_K},
    {"q3_k_m", "Q3_K_M", FT_Q3_K_M, GGT_Q3_K},
    {"q3_k_l", "Q3_K_L", FT_Q3_K_L, GGT_Q3_K},
    {"q4_k_s", "Q4_K_S", FT_Q4_K_S, GGT_Q4_K},
    {"q4_k_m", "Q4_K_M", FT_Q4_K_M, GGT_Q4_K},
    {"q5_k_s", "Q5_K_S", FT_Q5_K_S, GGT_Q5_K},
    {"q5_k_m", "Q5_K_M", FT_Q5_K_M, GGT_Q5_K},
    {"q6_k", "Q6_K", FT_Q6_K, GGT_Q6_K},
    {"q8_0", "Q8_0", FT_Q8_0, GGT_Q8_0},
};
enum { N_PRESETS = (int)(sizeof presets / sizeof *presets) };

const struct gmix_preset *gmix_find(const char *name)
{
    for (int i = 0; name && i < N_PRESETS; i++)
        if (!strcasecmp(name, presets[i].name))
            return &presets[i];
    return NULL;
}

const struct gmix_preset *gmix_all(int *n)
{
    *n = N_PRESETS;
    return presets;
}

/* ---- tensor categories (llama.cpp matches substrings of the name) ---- */

enum cat { C_OTHER, C_TOKEN_EMBD, C_OUTPUT, C_ATTN_Q, C_ATTN_K, C_ATTN_V, C_ATTN_OUT,
           C_FFN_GATE, C_FFN_UP, C_FFN_DOWN };

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

static enum cat category(const char *name)
{
    static const struct { const char *suffix; enum cat c; } tab[] = {
        {".attn_q", C_ATTN_Q}, {".attn_k", C_ATTN_K}, {".attn_v", C_ATTN_V},
        {".attn_output", C_ATTN_OUT}, {".ffn_gate", C_FFN_GATE}, {".ffn_up", C_FFN_UP},
        {".ffn_down", C_FFN_DOWN},
    };
    if (!strcmp(name, "output"))
        return C_OUTPUT;
    if (!strcmp(name, "token_embd"))
        return C_TOKEN_EMBD;
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (ends_with(name, tab[i].suffix))
            return tab[i].c;
    return C_OTHER;
}

int gmix_is_quantizable(const char *name, int ndim)
{
    return ndim >= 2 && !strstr(name, "_norm") && !ends_with(name, "_bias");
}

/* ---- the rules ---- */

static int use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int blck(enum ggt_id t)
{
    const struct ggt_traits *tr = ggt_traits(t);
    return tr ? tr->blck_size : 0;
}

static enum ggt_id rule_output(int ft, enum ggt_id t, const struct gmix_model *mm, int64_t ncols)
{
    int b = blck(t);
    if (mm->falcon || b <= 0 || ncols % b)
        return GGT_Q8_0;
    return t != GGT_Q8_0 ? GGT_Q6_K : t;
}

static enum ggt_id rule_attn_v(int ft, enum ggt_id t, const struct gmix_model *mm, int i)
{
    int n = mm->n_layers;
    if (ft == FT_Q2_K)
        t = mm->n_gqa >= 4 ? GGT_Q4_K : GGT_Q3_K;
    else if (ft == FT_Q3_K_M)
        t = i < 2 ? GGT_Q5_K : GGT_Q4_K;
    else if (ft == FT_Q3_K_L)
        t = GGT_Q5_K;
    else if ((ft == FT_IQ4_NL || ft == FT_IQ4_XS) && mm->n_gqa >= 4)
        t = GGT_Q5_K;
    else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && use_more_bits(i, n))
        t = GGT_Q6_K;
    else if (ft == FT_Q4_K_S && i < 4)
        t = GGT_Q5_K;
    /* 70B: 8 heads share attn_v, which is 8x smaller than attn_q: more bits
     * are nearly free */
    if (mm->is_70b && (t == GGT_Q3_K || t == GGT_Q4_K))
        t = GGT_Q5_K;
    if (mm->n_expert == 8)
        t = GGT_Q8_0;
    return t;
}

static enum ggt_id rule_ffn_down(int ft, enum ggt_id t, const struct gmix_model *mm, int i)
{
    int n = mm->n_layers, more = use_more_bits(i, n);
    if (ft == FT_Q2_K)
        t = GGT_Q3_K;
    else if (ft == FT_Q3_K_M)
        t = i < n / 16 ? GGT_Q5_K : !mm->falcon || more ? GGT_Q4_K : GGT_Q3_K;
    else if (ft == FT_Q3_K_L)
        t = mm->falcon ? GGT_Q4_K : GGT_Q5_K;
    else if (ft == FT_Q4_K_M) {
        if (mm->falcon)
            t = i < n / 16 ? GGT_Q6_K : more ? GGT_Q5_K : GGT_Q4_K;
        else if (more)
            t = GGT_Q6_K;
    } else if (i < n / 8 && (ft == FT_IQ4_NL || ft == FT_IQ4_XS) && !mm->has_imatrix)
        t = GGT_Q5_K;
    else if (ft == FT_Q5_K_M && more)
        t = GGT_Q6_K;
    else if (ft == FT_Q4_K_S && !mm->falcon && i < n / 8)
        t = GGT_Q5_K;
    else if ((ft == FT_Q4_0 || ft == FT_Q5_0) && mm->has_imatrix && i < n / 8)
        t = ft == FT_Q4_0 ? GGT_Q4_1 : GGT_Q5_1; /* first ffn_down go wild even with imatrix */
    return t;
}

static enum ggt_id rule_attn_out(int ft, enum ggt_id t, const struct gmix_model *mm)
{
    if (mm->falcon)
        return ft == FT_Q3_K_L ? GGT_Q4_K : t;
    if (mm->n_expert == 8) {
        static const int bump[] = {FT_Q2_K, FT_Q3_K_S, FT_Q3_K_M, FT_IQ4_NL, FT_Q4_K_S,
                                   FT_Q4_K_M, FT_IQ4_XS};
        for (size_t k = 0; k < sizeof bump / sizeof *bump; k++)
            if (ft == bump[k])
                return GGT_Q5_K;
        return t;
    }
    if (ft == FT_Q2_K)
        return GGT_Q3_K;
    if (ft == FT_Q3_K_M)
        return GGT_Q4_K;
    if (ft == FT_Q3_K_L)
        return GGT_Q5_K;
    return t;
}

static enum ggt_id apply_rules(const struct gmix_preset *p, const struct gmix_model *mm,
                               enum cat c, int layer, int64_t ncols)
{
    enum ggt_id t = p->base;
    int ft = p->ftype;
    if (c == C_OUTPUT || (c == C_TOKEN_EMBD && mm->tied_output))
        return rule_output(ft, t, mm, ncols);
    switch (c) {
    case C_ATTN_V:
        return rule_attn_v(ft, t, mm, layer);
    case C_ATTN_K:
        return mm->n_expert == 8 ? GGT_Q8_0 : t;
    case C_FFN_DOWN:
        return rule_ffn_down(ft, t, mm, layer);
    case C_ATTN_OUT:
        return rule_attn_out(ft, t, mm);
    default:
        return t; /* token_embd, attn_q, ffn_gate/up: no rule for these presets */
    }
}

/* The type used instead of t when a row of ncols does not fill its blocks. */
static enum ggt_id fallback_of(enum ggt_id t)
{
    switch (t) {
    case GGT_Q2_K:
    case GGT_Q3_K:
    case GGT_IQ4_XS:
        return GGT_IQ4_NL;
    case GGT_Q4_K:
        return GGT_Q5_0;
    case GGT_Q5_K:
        return GGT_Q5_1;
    case GGT_Q6_K:
        return GGT_Q8_0;
    default:
        return GGT_F16; /* llama.cpp has none (it refuses); qlens keeps F16 */
    }
}

static void apply_fallback(struct gmix_choice *c, int64_t ncols)
{
    int b = blck(c->wanted);
    c->type = c->wanted;
    if (b > 0 && ncols % b == 0)
        return;
    enum ggt_id f = fallback_of(c->wanted), f1 = f;
    if (ncols % blck(f))
        f = GGT_F16;
    const struct ggt_traits *tw = ggt_traits(c->wanted), *tf = ggt_traits(f);
    c->fallback = 1;
    c->type = f;
    int n = snprintf(c->why, sizeof c->why, "row length %lld is not a multiple of %s's block of "
                     "%d", (long long)ncols, tw ? tw->name : "?", b);
    if (f != f1 && n > 0 && (size_t)n < sizeof c->why)
        n += snprintf(c->why + n, sizeof c->why - (size_t)n, " nor of %s's %d",
                      ggt_traits(f1)->name, blck(f1));
    if (n > 0 && (size_t)n < sizeof c->why)
        snprintf(c->why + n, sizeof c->why - (size_t)n, ": %s", tf ? tf->name : "?");
}

static int match_override(const struct gmix_opts *o, const char *name)
{
    char gname[160];
    snprintf(gname, sizeof gname, "%s.weight", name);
    for (int k = 0; o && k < o->n_ov; k++)
        if (!regexec(&o->ov[k].re, gname, 0, NULL, 0))
            return k;
    return -1;
}

int gmix_tensor_type(const struct gmix_preset *p, const struct gmix_model *mm,
                     const struct gmix_opts *o, const char *name, int layer, int ndim,
                     int64_t ncols, struct gmix_choice *c, struct qerr *err)
{
    memset(c, 0, sizeof *c);
    c->type = c->wanted = GGT_F32;
    if (!p || !ggt_traits(p->base))
        return qerr_set(err, QERR_ARG, "ggml mix: no preset");
    if (!gmix_is_quantizable(name, ndim))
        return 0;
    enum cat cat = category(name);
    if (layer >= mm->n_layers || (layer < 0 && cat != C_OTHER && cat != C_OUTPUT &&
                                  cat != C_TOKEN_EMBD))
        return qerr_set(err, QERR_ARG, "ggml mix: tensor %s: block %d outside 0..%d", name, layer,
                        mm->n_layers - 1);
    if (ncols <= 0)
        return qerr_set(err, QERR_ARG, "ggml mix: tensor %s: row length %lld", name,
                        (long long)ncols);
    c->quantized = 1;
    int k = match_override(o, name);
    if (k >= 0) {
        c->wanted = o->ov[k].type;
        c->overridden = 1;
    } else if (o && o->pure) {
        c->wanted = p->base;
    } else {
        c->wanted = apply_rules(p, mm, cat, layer, ncols);
    }
    apply_fallback(c, ncols);
    return 0;
}

int gmix_override_parse(struct gmix_override *ov, const char *spec, struct qerr *err)
{
    memset(ov, 0, sizeof *ov);
    const char *eq = spec ? strrchr(spec, '=') : NULL;
    if (!eq || eq == spec || !eq[1])
        return qerr_set(err, QERR_ARG, "--tensor-type wants REGEX=TYPE, got '%s'",
                        spec ? spec : "");
    size_t n = (size_t)(eq - spec);
    if (n >= sizeof ov->pattern)
        return qerr_set(err, QERR_ARG, "--tensor-type: pattern longer than %zu bytes",
                        sizeof ov->pattern - 1);
    const struct ggt_traits *t = ggt_by_name(eq + 1);
    if (!t)
        return qerr_set(err, QERR_ARG, "--tensor-type %s: unknown ggml type '%s'", spec, eq + 1);
    memcpy(ov->pattern, spec, n);
    ov->pattern[n] = '\0';
    if (regcomp(&ov->re, ov->pattern, REG_EXTENDED | REG_NOSUB))
        return qerr_set(err, QERR_ARG, "--tensor-type: bad regular expression '%s'", ov->pattern);
    ov->type = t->id;
    return 0;
}

void gmix_override_free(struct gmix_override *ov)
{
    regfree(&ov->re);
}
