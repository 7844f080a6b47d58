/* safetensors loader: single file, sharded (model.safetensors.index.json),
 * or a directory holding either; the architecture comes from the HF
 * config.json beside the weights.
 *
 * File layout: u64 LE header length N | N bytes of JSON
 *   {"name": {"dtype": "F16", "shape": [r, c], "data_offsets": [b, e]}, ...,
 *    "__metadata__": {...}}
 * | data; offsets are relative to the start of the data (8 + N).
 *
 * HF checkpoints keep Q/K rows in rotate-half order (x[i], x[i+d/2]); the
 * loader leaves them as they are and says so with rope_style QROPE_HALF. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/afile.h"
#include "src/model.h"

#define ST_MAX_HEADER (256u << 20)  /* a header above 256 MiB is not sane */

/* ---- name mapping ---- */

static const struct {
    const char *hf;        /* after "model.layers.N." */
    const char *canon;     /* after "blk.N." */
} layer_names[] = {
    {"self_attn.q_proj.weight", "attn_q"},   {"self_attn.k_proj.weight", "attn_k"},
    {"self_attn.v_proj.weight", "attn_v"},   {"self_attn.o_proj.weight", "attn_output"},
    {"self_attn.q_proj.bias", "attn_q_bias"}, {"self_attn.k_proj.bias", "attn_k_bias"},
    {"self_attn.v_proj.bias", "attn_v_bias"}, {"mlp.gate_proj.weight", "ffn_gate"},
    {"mlp.up_proj.weight", "ffn_up"},        {"mlp.down_proj.weight", "ffn_down"},
    {"input_layernorm.weight", "attn_norm"}, {"post_attention_layernorm.weight", "ffn_norm"},
};

/* Names that differ by family: Gemma 2/3's post_attention_layernorm
 * norms the attention OUTPUT (its pre-FFN norm is pre_feedforward_
 * layernorm); Phi-3's fused projections are split after loading. */
static const struct {
    const char *hf, *canon;
} gemma_names[] = {
    {"post_attention_layernorm.weight", "post_attention_norm"},
    {"pre_feedforward_layernorm.weight", "ffn_norm"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm"},
}, common_extra[] = {
    {"self_attn.q_norm.weight", "attn_q_norm"}, {"self_attn.k_norm.weight", "attn_k_norm"},
    {"self_attn.qkv_proj.weight", "attn_qkv"},  {"mlp.gate_up_proj.weight", "ffn_gate_up"},
};

static int is_gemma(const char *arch) { return !strncmp(arch, "gemma", 5); }

/* Gemma 3 multimodal checkpoints nest the text model: language_model.model.X
 * (older) or model.language_model.X (newer) -> model.X. */
static const char *st_strip_lm(const char *hf, char *buf, size_t cap)
{
    if (!strncmp(hf, "language_model.", 15))
        return hf + 15;
    if (!strncmp(hf, "model.language_model.", 21)) {
        snprintf(buf, cap, "model.%s", hf + 21);
        return buf;
    }
    return hf;
}

/* A vision tower or projector tensor of a multimodal checkpoint. */
static int st_is_vision(const char *hf)
{
    static const char *const pre[] = {"vision_tower.", "multi_modal_projector.",
                                      "model.vision_tower.", "model.multi_modal_projector."};
    for (size_t i = 0; i < sizeof pre / sizeof *pre; i++)
        if (!strncmp(hf, pre[i], strlen(pre[i])))
            return 1;
    return 0;
}

static int st_layer_name(const char *suffix, const char *arch, long l, char *out, size_t cap)
{
    for (size_t i = 0; is_gemma(arch) && i < sizeof gemma_names / sizeof *gemma_names; i++)
        if (!strcmp(suffix, gemma_names[i].hf)) {
            snprintf(out, cap, "blk.%ld.%s", l, gemma_names[i].canon);
            return 1;
        }
    for (size_t i = 0; i < sizeof common_extra / sizeof *common_extra; i++)
        if (!strcmp(suffix, common_extra[i].hf)) {
            snprintf(out, cap, "blk.%ld.%s", l, common_extra[i].canon);
            return 1;
        }
    for (size_t i = 0; i < sizeof layer_names / sizeof *layer_names; i++)
        if (!strcmp(suffix, layer_names[i].hf)) {
            snprintf(out, cap, "blk.%ld.%s", l, layer_names[i].canon);
            return 1;
        }
    return 0;
}

/* HF name -> canonical name; unknown names are kept unchanged. */
static void st_canonical(const char *hf_in, const char *arch, char *out, size_t cap)
{
    char buf[512];
    const char *hf = st_strip_lm(hf_in, buf, sizeof buf);
    if (!strcmp(hf, "model.embed_tokens.weight")) {
        snprintf(out, cap, "token_embd");
        return;
    }
    if (!strcmp(hf, "model.norm.weight")) {
        snprintf(out, cap, "output_norm");
        return;
    }
    if (!strcmp(hf, "lm_head.weight")) {
        snprintf(out, cap, "output");
        return;
    }
    if (!strncmp(hf, "model.layers.", 13)) {
        char *end;
        long l = strtol(hf + 13, &end, 10);
        if (end != hf + 13 && *end == '.' && l >= 0 && l < 1000000 &&
            st_layer_name(end + 1, arch, l, out, cap))
            return;
    }
    snprintf(out, cap, "%s", hf_in);
}

/* ---- one file ---- */

static int st_dtype(const char *s, enum qdtype *dt)
{
    if (!strcmp(s, "F32"))
        *dt = QD_F32;
    else if (!strcmp(s, "F16"))
        *dt = QD_F16;
    else if (!strcmp(s, "BF16"))
        *dt = QD_BF16;
    else
        return -1;
    return 0;
}

/* A JSON number that is a non-negative integer below 2^53. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble > 9007199254740992.0 ||
        j->valuedouble != floor(j->valuedouble))
        return -1;
    *out = (uint64_t)j->valuedouble;
    return 0;
}

struct stfile {
    const char *path;
    int map;
    uint64_t hlen, data_start, data_size;
};

static int st_shape(const struct stfile *f, const char *name, const cJSON *e, int *ndim,
                    int64_t shape[QM_MAX_DIMS], uint64_t *nelem, struct qerr *err)
{
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    int n = cJSON_IsArray(sh) ? cJSON_GetArraySize(sh) : -1;
    if (n < 0 || n > QM_MAX_DIMS)
        return qerr_set(err, QERR_FORMAT, "%s: offset 8: header: tensor %s: shape must be an "
                        "array of at most %d integers", f->path, name, QM_MAX_DIMS);
    uint64_t prod = 1;
    int zero = 0;
    *ndim = n ? n : 1;
    shape[0] = 1;  /* a scalar is stored as one element */
    for (int d = 0; d < n; d++) {
        uint64_t v;
        if (json_uint(cJSON_GetArrayItem(sh, d), &v) || v > (UINT64_C(1) << 40))
            return qerr_set(err, QERR_FORMAT, "%s: offset 8: header: tensor %s: shape[%d] is "
                            "not a valid dimension", f->path, name, d);
        shape[d] = (int64_t)v;
        zero |= v == 0;
        if (v && prod > (UINT64_C(1) << 60) / v)  /* bytes (x4) must not wrap */
            return qerr_set(err, QERR_FORMAT, "%s: offset 8: header: tensor %s: element count "
                            "overflows", f->path, name);
        prod *= v ? v : 1;
    }
    *nelem = zero ? 0 : prod;
    return 0;
}

static int st_offsets(const struct stfile *f, const char *name, const cJSON *e, uint64_t want,
                      uint64_t *begin, struct qerr *err)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    uint64_t b, en;
    if (!cJSON_IsArray(o) || cJSON_GetArraySize(o) != 2 || json_uint(cJSON_GetArrayItem(o, 0), &b) ||
        json_uint(cJSON_GetArrayItem(o, 1), &en))
        return qerr_set(err, QERR_FORMAT, "%s: offset 8: header: tensor %s: data_offsets must be "
                        "[begin, end]", f->path, name);
    if (b > en || en > f->data_size)
        return qerr_set(err, QERR_FORMAT, "%s: offset %llu: tensor %s: data_offsets [%llu, %llu] "
                        "run past end of file (data section is %llu bytes)", f->path,
                        (unsigned long long)(f->data_start + b), name, (unsigned long long)b,
                        (unsigned long long)en, (unsigned long long)f->data_size);
    if (en - b != want)
        return qerr_set(err, QERR_FORMAT, "%s: offset %llu: tensor %s: data_offsets span %llu "
                        "bytes, shape and dtype need %llu", f->path,
                        (unsigned long long)(f->data_start + b), name,
                        (unsigned long long)(en - b), (unsigned long long)want);
    *begin = b;
    return 0;
}

static int st_entry(struct qmodel *m, const struct stfile *f, const cJSON *e, struct qerr *err)
{
    const char *name = e->string;
    const cJSON *dts = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsObject(e) || !cJSON_IsString(dts))
        return qerr_set(err, QERR_FORMAT, "%s: offset 8: header: tensor %s: no dtype", f->path, name);
    enum qdtype dt;
    if (st_dtype(dts->valuestring, &dt))
        return qerr_set(err, QERR_UNSUPP, "%s: tensor %s: dtype %.16s is not supported (qlens "
                        "reads F32, F16 and BF16)", f->path, name, dts->valuestring);
    int ndim = 1;
    int64_t shape[QM_MAX_DIMS];
    uint64_t nelem = 0, begin = 0;
    int rc = st_shape(f, name, e, &ndim, shape, &nelem, err);
    if (!rc)
        rc = st_offsets(f, name, e, nelem * qdtype_size(dt), &begin, err);
    if (rc)
        return rc;
    if (st_is_vision(name))
        return 0;  /* the text model only */
    char canon[QM_NAME_MAX];
    st_canonical(name, m->cfg.arch, canon, sizeof canon);
    int layer;
    enum qrole role;
    qmodel_classify(canon, &layer, &role);
    if (!nelem && role == QR_OTHER)
        return 0;  /* an empty auxiliary buffer: nothing to look at */
    rc = qmodel_add_tensor(m, canon, name, dt, ndim, shape, f->map, f->data_start + begin, err);
    return rc < 0 ? rc : 0;
}

/* Map the file, check the header length, parse the JSON; *root owned. */
static int st_header(struct qmodel *m, struct stfile *f, cJSON **root, struct qerr *err)
{
    f->map = qmodel_map_file(m, f->path, err);
    if (f->map < 0)
        return f->map;
    const struct qmap *mp = &m->maps[f->map];
    if (mp->size < 8)
        return qerr_set(err, QERR_FORMAT, "%s: offset 0: header length: file is only %zu bytes",
                        f->path, mp->size);
    memcpy(&f->hlen, mp->base, 8);
    if (f->hlen > mp->size - 8 || f->hlen > ST_MAX_HEADER || f->hlen < 2)
        return qerr_set(err, QERR_FORMAT, "%s: offset 0: header length %llu is impossible "
                        "(file size %zu)", f->path, (unsigned long long)f->hlen, mp->size);
    f->data_start = 8 + f->hlen;
    f->data_size = mp->size - f->data_start;
    const char *js = (const char *)mp->base + 8, *end = NULL;
    *root = cJSON_ParseWithLengthOpts(js, (size_t)f->hlen, &end, 0);
    if (!*root) {
        size_t at = end && end >= js ? (size_t)(end - js) : 0;
        return qerr_set(err, QERR_FORMAT, "%s: offset %zu: header: invalid JSON", f->path, 8 + at);
    }
    if (!cJSON_IsObject(*root))
        return qerr_set(err, QERR_FORMAT, "%s: offset 8: header: not a JSON object", f->path);
    return 0;
}

static int st_load_file(struct qmodel *m, const char *path, struct qerr *err)
{
    struct stfile f = {path, -1, 0, 0, 0};
    cJSON *root = NULL;
    int rc = st_header(m, &f, &root, err);
    for (const cJSON *e = root ? root->child : NULL; e && !rc; e = e->next)
        if (strcmp(e->string, "__metadata__"))
            rc = st_entry(m, &f, e, err);
    cJSON_Delete(root);
    return rc;
}

/* ---- JSON files beside the weights ---- */

static cJSON *read_json(const char *path, struct qerr *err)
{
    size_t n = 0;
    char *buf = afile_read(path, 64u << 20, &n, err);  /* config / index: small */
    if (!buf)
        return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
    if (!j)
        qerr_set(err, QERR_FORMAT, "%s: offset %zu: invalid JSON", path,
                 end && end >= buf ? (size_t)(end - buf) : 0);
    free(buf);
    return j;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- config.json ---- */

struct cfgctx {
    const cJSON *j;
    const char *path;
    struct qerr *err;
};

static int cfg_int(struct cfgctx *c, const char *key, int def, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->j, key);
    uint64_t u;
    if (!v || cJSON_IsNull(v)) {
        if (def > 0) {
            *out = def;
            return 0;
        }
        return qerr_set(c->err, QERR_FORMAT, "%s: key %s is missing", c->path, key);
    }
    if (json_uint(v, &u) || u == 0 || u > (1u << 30))
        return qerr_set(c->err, QERR_FORMAT, "%s: key %s must be a positive integer", c->path, key);
    *out = (int)u;
    return 0;
}

static int cfg_float(struct cfgctx *c, const char *key, double def, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->j, key);
    if (!v || cJSON_IsNull(v)) {
        *out = (float)def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 1e30)
        return qerr_set(c->err, QERR_FORMAT, "%s: key %s must be a positive number", c->path, key);
    *out = (float)v->valuedouble;
    return 0;
}

static const char *const st_archs[][2] = {
    {"LlamaForCausalLM", "llama"},   {"MistralForCausalLM", "mistral"},
    {"Qwen2ForCausalLM", "qwen2"},   {"Qwen3ForCausalLM", "qwen3"},
    {"Gemma2ForCausalLM", "gemma2"}, {"Gemma3ForCausalLM", "gemma3"},
    {"Gemma3ForConditionalGeneration", "gemma3"}, {"Phi3ForCausalLM", "phi3"},
};
#define N_ST_ARCHS (sizeof st_archs / sizeof *st_archs)

static int cfg_arch(struct cfgctx *c, struct qconfig *q)
{
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c->j, "architectures"), 0);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c->j, "model_type");
    for (size_t i = 0; i < N_ST_ARCHS; i++)
        if ((cJSON_IsString(a) && !strcmp(a->valuestring, st_archs[i][0])) ||
            (!cJSON_IsString(a) && cJSON_IsString(mt) &&
             (!strcmp(mt->valuestring, st_archs[i][1]) ||
              (!strcmp(mt->valuestring, "gemma3_text") && !strcmp(st_archs[i][1], "gemma3"))))) {
            snprintf(q->arch, sizeof q->arch, "%s", st_archs[i][1]);
            return 0;
        }
    return qerr_set(c->err, QERR_UNSUPP, "%s: architecture %.64s is not supported (qlens reads "
                    "Llama, Mistral, Qwen2, Qwen3, Gemma2, Gemma3 (text) and Phi3 "
                    "ForCausalLM)", c->path,
                    cJSON_IsString(a) ? a->valuestring
                    : cJSON_IsString(mt) ? mt->valuestring : "(none given)");
}

/* A non-negative number (0 when absent or null). */
static int cfg_float0(struct cfgctx *c, const char *key, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->j, key);
    *out = 0.0f;
    if (!v || cJSON_IsNull(v))
        return 0;
    return cfg_float(c, key, 0.0, out);
}

/* rope_scaling: {"rope_type" (or "type"): "llama3" | "linear" | "default",
 * "factor", llama3's "low_freq_factor", "high_freq_factor",
 * "original_max_position_embeddings"}; anything else is refused by name. */
static int cfg_rope_scaling(struct cfgctx *c, struct qconfig *q)
{
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c->j, "rope_scaling");
    if (!rs || cJSON_IsNull(rs))
        return 0;
    if (!cJSON_IsObject(rs))
        return qerr_set(c->err, QERR_FORMAT, "%s: key rope_scaling must be an object or null",
                        c->path);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!cJSON_IsString(t))
        t = cJSON_GetObjectItemCaseSensitive(rs, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : "(none given)";
    if (!strcmp(type, "default"))
        return 0;
    struct cfgctx sub = {rs, c->path, c->err};
    int rc;
    if (!strcmp(type, "linear")) {
        if ((rc = cfg_float(&sub, "factor", 0.0, &q->rope_factor)) || !(q->rope_factor > 0))
            return rc ? rc : qerr_set(c->err, QERR_FORMAT, "%s: rope_scaling.factor is missing",
                                      c->path);
        q->rope_scaling = QRS_LINEAR;
        for (int i = 0; i < QM_ROPE_MAX_PAIRS; i++)
            q->rope_div[i] = q->rope_factor;
        q->has_rope_div = 1;
        return 0;
    }
    if (strcmp(type, "llama3"))
        return qerr_set(c->err, QERR_UNSUPP, "%s: rope_scaling type '%.32s' is not supported "
                        "(qlens applies llama3 and linear)", c->path, type);
    if ((rc = cfg_float(&sub, "factor", 8.0, &q->rope_factor)) ||
        (rc = cfg_float(&sub, "low_freq_factor", 1.0, &q->rope_low_freq)) ||
        (rc = cfg_float(&sub, "high_freq_factor", 4.0, &q->rope_high_freq)) ||
        (rc = cfg_int(&sub, "original_max_position_embeddings", 8192, &q->rope_orig_ctx)))
        return rc;
    if (!(q->rope_high_freq > q->rope_low_freq))
        return qerr_set(c->err, QERR_FORMAT, "%s: rope_scaling: high_freq_factor %g must be "
                        "above low_freq_factor %g", c->path, q->rope_high_freq, q->rope_low_freq);
    qconfig_llama3_rope(q);
    return 0;
}

/* hidden_activation (Gemma) or hidden_act: what the FFN gate goes through. */
static int cfg_act(struct cfgctx *c, struct qconfig *q)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->j, "hidden_activation");
    if (!cJSON_IsString(v))
        v = cJSON_GetObjectItemCaseSensitive(c->j, "hidden_act");
    const char *act = cJSON_IsString(v) ? v->valuestring : NULL;
    int gemma = is_gemma(q->arch);
    if (gemma && (!act || !strcmp(act, "gelu_pytorch_tanh")))
        q->act = QACT_GELU_TANH;
    else if (!gemma && (!act || !strcmp(act, "silu")))
        q->act = QACT_SILU;
    else
        return qerr_set(c->err, QERR_UNSUPP, "%s: activation '%.32s' is not supported for %s",
                        c->path, act ? act : "(none given)", q->arch);
    return 0;
}

/* Gemma 3's layer_types ["sliding_attention", ..., "full_attention"] must
 * match the every-k-th-global pattern qlens implements. */
static int cfg_layer_types(struct cfgctx *c, struct qconfig *q)
{
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(c->j, "layer_types");
    if (!lt || cJSON_IsNull(lt))
        return 0;
    int n = cJSON_IsArray(lt) ? cJSON_GetArraySize(lt) : -1, first_full = -1;
    for (int i = 0; i < n && first_full < 0; i++) {
        const cJSON *e = cJSON_GetArrayItem(lt, i);
        if (cJSON_IsString(e) && !strcmp(e->valuestring, "full_attention"))
            first_full = i;
    }
    q->swa_pattern = first_full + 1; /* 0 when none is full: all local */
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(lt, i);
        int local = cJSON_IsString(e) && !strcmp(e->valuestring, "sliding_attention");
        int full = cJSON_IsString(e) && !strcmp(e->valuestring, "full_attention");
        if ((!local && !full) || local != qconfig_layer_is_local(q, i))
            return qerr_set(c->err, QERR_UNSUPP, "%s: layer_types[%d]: this pattern of sliding "
                            "and full attention layers is not supported", c->path, i);
    }
    if (n != q->n_layers)
        return qerr_set(c->err, QERR_FORMAT, "%s: layer_types has %d entries for %d layers",
                        c->path, n, q->n_layers);
    return 0;
}

/* Gemma 2/3: the family constants, and config keys with the defaults of
 * transformers' Gemma2Config / Gemma3TextConfig (Gemma 3's multimodal
 * configs leave most of them out). */
static int cfg_gemma(struct cfgctx *c, struct qconfig *q)
{
    int g3 = !strcmp(q->arch, "gemma3"), rc;
    float qpas;
    q->post_norms = 1;
    q->qk_norm = g3;
    q->embd_scale = sqrtf((float)q->dim);
    q->swa_pattern = g3 ? 6 : 2;
    if ((rc = cfg_int(c, "sliding_window", 4096, &q->swa_window)) ||
        (rc = cfg_int(c, "sliding_window_pattern", q->swa_pattern, &q->swa_pattern)) ||
        (rc = cfg_float(c, "query_pre_attn_scalar", 256.0, &qpas)) ||
        (rc = cfg_float0(c, "attn_logit_softcapping", &q->attn_softcap)) ||
        (rc = cfg_float0(c, "final_logit_softcapping", &q->final_softcap)))
        return rc;
    if (!g3 && !cJSON_GetObjectItemCaseSensitive(c->j, "attn_logit_softcapping"))
        q->attn_softcap = 50.0f;   /* Gemma2Config's defaults */
    if (!g3 && !cJSON_GetObjectItemCaseSensitive(c->j, "final_logit_softcapping"))
        q->final_softcap = 30.0f;
    if (g3 && (rc = cfg_float(c, "rope_local_base_freq", 10000.0, &q->rope_theta_local)))
        return rc;
    q->attn_scale = 1.0f / sqrtf(qpas);
    return g3 ? cfg_layer_types(c, q) : 0;
}

/* Phi-3 variants qlens does not run, refused by name. */
static int cfg_phi3(struct cfgctx *c, struct qconfig *q)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c->j, "partial_rotary_factor");
    if (cJSON_IsNumber(p) && p->valuedouble != 1.0)
        return qerr_set(c->err, QERR_UNSUPP, "%s: partial_rotary_factor %g: partial rotary "
                        "embeddings are not supported", c->path, p->valuedouble);
    (void)q;
    return 0;
}

/* Gemma 3 multimodal: the text model's config is text_config. */
static const cJSON *text_config(const cJSON *j)
{
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "architectures"), 0);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text_config");
    if (cJSON_IsString(a) && !strcmp(a->valuestring, "Gemma3ForConditionalGeneration") &&
        cJSON_IsObject(t))
        return t;
    return j;
}

static int cfg_dims(struct cfgctx *c, struct qconfig *q)
{
    int g3 = !strcmp(q->arch, "gemma3"); /* Gemma3TextConfig defaults */
    int rc;
    if (!(rc = cfg_int(c, "hidden_size", g3 ? 2304 : 0, &q->dim)) &&
        !(rc = cfg_int(c, "intermediate_size", g3 ? 9216 : 0, &q->hidden_dim)) &&
        !(rc = cfg_int(c, "num_hidden_layers", g3 ? 26 : 0, &q->n_layers)) &&
        !(rc = cfg_int(c, "num_attention_heads", g3 ? 8 : 0, &q->n_heads)) &&
        !(rc = cfg_int(c, "num_key_value_heads", g3 ? 4 : q->n_heads, &q->n_kv_heads)) &&
        !(rc = cfg_int(c, "vocab_size", g3 ? 262208 : 0, &q->vocab_size)) &&
        !(rc = cfg_int(c, "max_position_embeddings", g3 ? 131072 : 2048, &q->ctx_len)) &&
        !(rc = cfg_float(c, "rope_theta", g3 ? 1000000.0 : 10000.0, &q->rope_theta)) &&
        !(rc = cfg_float(c, "rms_norm_eps", 1e-6, &q->norm_eps)))
        rc = cfg_int(c, "head_dim", g3 ? 256 : q->dim / q->n_heads > 0 ? q->dim / q->n_heads : 1,
                     &q->head_dim);
    return rc;
}

static int read_config(struct qmodel *m, const char *dir, int *tie, struct qerr *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!file_exists(path))
        return qerr_set(err, QERR_FORMAT, "%s: config.json is missing (safetensors weights need "
                        "the Hugging Face config.json beside them)", path);
    cJSON *j = read_json(path, err);
    if (!j)
        return err ? err->code : QERR_FORMAT;
    struct cfgctx top = {j, path, err}, c = {text_config(j), path, err};
    struct qconfig *q = &m->cfg;
    int rc = cfg_arch(&top, q);
    if (!rc)
        rc = cfg_dims(&c, q);
    if (!rc && q->head_dim > 2 * QM_ROPE_MAX_PAIRS)
        rc = qerr_set(err, QERR_UNSUPP, "%s: head_dim %d is above %d", path, q->head_dim,
                      2 * QM_ROPE_MAX_PAIRS);
    if (!rc)
        rc = cfg_act(&c, q);
    if (!rc)
        rc = cfg_rope_scaling(&c, q);
    if (!rc && is_gemma(q->arch))
        rc = cfg_gemma(&c, q);
    if (!rc && !strcmp(q->arch, "phi3"))
        rc = cfg_phi3(&c, q);
    const cJSON *tw = cJSON_GetObjectItemCaseSensitive(c.j, "tie_word_embeddings");
    if (!tw)
        tw = cJSON_GetObjectItemCaseSensitive(j, "tie_word_embeddings");
    /* Gemma ties by default (transformers' default is true) */
    *tie = cJSON_IsTrue(tw) || (!tw && is_gemma(q->arch));
    q->rope_style = QROPE_HALF;
    q->has_qkv_bias = !strcmp(q->arch, "qwen2");
    q->qk_norm = q->qk_norm || !strcmp(q->arch, "qwen3");
    cJSON_Delete(j);
    return rc;
}

/* Gemma's RMSNorm multiplies by (1 + w): every norm weight reads as w + 1
 * (what llama.cpp's converter stores in GGUF). */
static void gemma_norms_plus_one(struct qmodel *m)
{
    for (int i = 0; is_gemma(m->cfg.arch) && i < m->n_tensors; i++) {
        enum qrole r = m->tensors[i].role;
        if (r == QR_ATTN_NORM || r == QR_FFN_NORM || r == QR_OUT_NORM || r == QR_ATTN_Q_NORM ||
            r == QR_ATTN_K_NORM || r == QR_ATTN_POST_NORM || r == QR_FFN_POST_NORM)
            m->tensors[i].add = 1.0f;
    }
}

/* ---- sharded ---- */

static int load_index(struct qmodel *m, const char *index, const char *dir, struct qerr *err)
{
    cJSON *j = read_json(index, err);
    if (!j)
        return err ? err->code : QERR_FORMAT;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    int rc = cJSON_IsObject(wm) && wm->child ? 0
             : qerr_set(err, QERR_FORMAT, "%s: weight_map is missing or empty", index);
    /* Load each distinct shard once, in order of first mention. */
    for (const cJSON *e = wm ? wm->child : NULL; e && !rc; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !*e->valuestring) {
            rc = qerr_set(err, QERR_FORMAT, "%s: weight_map[%s]: not a file name beside the index",
                          index, e->string);
            break;
        }
        int seen = 0;
        for (const cJSON *p = wm->child; p != e && !seen; p = p->next)
            seen = !strcmp(p->valuestring, e->valuestring);
        if (seen)
            continue;
        char shard[PATH_MAX + 256];
        snprintf(shard, sizeof shard, "%s/%s", dir, e->valuestring);
        rc = st_load_file(m, shard, err);
    }
    for (const cJSON *e = wm ? wm->child : NULL; e && !rc; e = e->next) {
        int found = st_is_vision(e->string);
        for (int i = 0; i < m->n_tensors && !found; i++)
            found = !strcmp(m->tensors[i].src_name, e->string);
        if (!found)
            rc = qerr_set(err, QERR_FORMAT, "%s: tensor %s is listed in weight_map but not in "
                          "shard %s", index, e->string, e->valuestring);
    }
    cJSON_Delete(j);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory without index or model.safetensors: every *.safetensors. */
static int load_dir_files(struct qmodel *m, const char *dir, struct qerr *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return qerr_set(err, QERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char *names[4096];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 4096;) {
        size_t l = strlen(e->d_name);
        if (l > 12 && !strcmp(e->d_name + l - 12, ".safetensors"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int rc = n ? 0 : qerr_set(err, QERR_FORMAT, "%s: no .safetensors files, no "
                              "model.safetensors.index.json", dir);
    for (int i = 0; i < n; i++) {
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", dir, names[i] ? names[i] : "");
        if (!rc)
            rc = names[i] ? st_load_file(m, p, err) : qerr_set(err, QERR_NOMEM, "out of memory");
        free(names[i]);
    }
    return rc;
}

/* ---- entry ---- */

static int load_weights(struct qmodel *m, const char *path, const char *dir, int is_dir,
                        struct qerr *err)
{
    char p[PATH_MAX + 64];
    size_t l = strlen(path);
    if (!is_dir)
        return l > 5 && !strcmp(path + l - 5, ".json") ? load_index(m, path, dir, err)
                                                        : st_load_file(m, path, err);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    if (file_exists(p))
        return load_index(m, p, dir, err);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (file_exists(p))
        return st_load_file(m, p, err);
    return load_dir_files(m, dir, err);
}

/* Tied output: drop a redundant lm_head so `output` is absent as model.h says. */
static void drop_output(struct qmodel *m)
{
    int i = qmodel_find(m, "output");
    if (i < 0)
        return;
    memmove(&m->tensors[i], &m->tensors[i + 1], (size_t)(m->n_tensors - i - 1) * sizeof *m->tensors);
    m->n_tensors--;
}

int safetensors_load(struct qmodel *m, const char *path, struct qerr *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return qerr_set(err, QERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int is_dir = S_ISDIR(st.st_mode);
    char dir[PATH_MAX], tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(dir, sizeof dir, "%s", is_dir ? path : dirname(tmp));
    m->format = QF_SAFETENSORS;
    int tie = 0;
    int rc = read_config(m, dir, &tie, err);
    if (!rc)
        rc = load_weights(m, path, dir, is_dir, err);
    if (rc)
        return rc;
    if (tie)
        drop_output(m);
    m->cfg.tied_output = qmodel_find(m, "output") < 0;
    if (qmodel_find(m, "blk.0.attn_q_bias") >= 0)
        m->cfg.has_qkv_bias = 1;
    gemma_norms_plus_one(m);
    if ((rc = qmodel_split_fused(m, err)))
        return rc;
    char tok[PATH_MAX + 32];
    snprintf(tok, sizeof tok, "%s/tokenizer.json", dir);
    if (file_exists(tok))
        m->tokenizer_path = strdup(tok);
    return 0;
}
