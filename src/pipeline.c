/* pipeline: the shared quantize-and-evaluate path (see pipeline.h). */
#include "src/pipeline.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "src/estream.h"
#include "src/membudget.h"
#include "src/paths.h"
#include "src/tokenizer.h"

/* ---- the rules ---- */

int pipe_open(struct qmodel *m, struct tokenizer **tok, const char *model_arg, struct qerr *err)
{
    char path[PATH_MAX];
    *tok = NULL;
    int rc = paths_model(model_arg, path, sizeof path, err);
    if (rc)
        return rc;
    if ((rc = qmodel_open(m, path, err)))
        return rc;
    if ((rc = tok_load_for_model(tok, m, err))) {
        qerr_prefix(err, "%s: tokenizer: ", m->path);
        qmodel_close(m);
        *tok = NULL;
    }
    return rc;
}

int pipe_bos(const struct tokenizer *tok)
{
    return tok_add_bos_default(tok) ? tok_bos(tok) : -1;
}

/* Length of the UTF-8 sequence starting at s[i] (RFC 3629: no overlongs,
 * no surrogates, <= U+10FFFF), or 0 when invalid. */
static int utf8_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned c = s[i];
    int len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (i + len > n)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (int k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return len;
}

long pipe_utf8_invalid_at(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int l = utf8_len(u, i, n);
        if (!l)
            return (long)i;
        i += (size_t)l;
    }
    return -1;
}

int pipe_read_text(const char *path, char **buf, size_t *len, struct qerr *err)
{
    *buf = NULL;
    *len = 0;
    /* regular files only, at most AFILE_READ_MAX bytes (a device or FIFO
     * would be read forever or block) */
    size_t n;
    char *b = afile_read(path, 0, &n, err);
    if (!b)
        return err ? err->code : QERR_IO;
    if (n == 0) {
        free(b);
        return qerr_set(err, QERR_FORMAT, "%s: the text file is empty", path);
    }
    long at = pipe_utf8_invalid_at(b, n);
    if (at >= 0) {
        unsigned char byte = (unsigned char)b[at];
        free(b);
        return qerr_set(err, QERR_FORMAT, "%s: offset %ld: invalid UTF-8 (byte 0x%02x)", path,
                        at, byte);
    }
    *buf = b;
    *len = n;
    return 0;
}

int pipe_tokenize(const struct tokenizer *tok, const char *path, const char *text, size_t len,
                  int **ids, size_t *n, struct qerr *err)
{
    int rc = tok_encode(tok, text, len, pipe_bos(tok) >= 0, ids, n, err);
    return rc < 0 ? qerr_prefix(err, "%s: ", path) : 0;
}

int pipe_model_ctx(const struct qmodel *m)
{
    return m->cfg.ctx_len > 0 ? m->cfg.ctx_len : 512;
}

int pipe_pick_ctx(const struct qmodel *m, const char *opt, long given, int force, int *n_ctx,
                  struct qerr *err)
{
    int ctx_len = pipe_model_ctx(m);
    *n_ctx = given >= 0 ? (int)given : (ctx_len < 512 ? ctx_len : 512);
    if (*n_ctx > ctx_len && !force)
        return qerr_set(err, QERR_ARG, "%s %d exceeds the model's context (%d tokens); "
                        "--force-ctx evaluates it anyway, as llama.cpp does", opt, *n_ctx,
                        ctx_len);
    return 0;
}

int pipe_default_act_bits(const struct quant_spec *spec)
{
    const char *n = spec->method->name;
    return !strcmp(n, "SmoothQuant") || !strcmp(n, "LLM.int8") ? 8 : 0;
}

/* ---- setup ---- */

void pipe_opts_default(struct pipe_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ctx = o->chunks = o->calib_ctx = -1;
    o->calib_chunks = 32;
    o->kv_group = -1;
    o->sequential = 1;
    o->out_err = 1;
    o->need_calib = 1;
    o->kl_cache_mib = 1024;
}

/* given, else the shared folder's rel (into buf); NULL with a message. */
static const char *default_text(const char *given, const char *rel, const char *what, char *buf,
                                size_t cap, struct qerr *err)
{
    if (given) {
        snprintf(buf, cap, "%s", given);
        return buf;
    }
    if (paths_shared_file(rel, buf, cap) == 0)
        return buf;
    qerr_set(err, QERR_ARG, "no %s text: pass --%s FILE, or set QLENS_SHARED to a folder "
             "with %s", what, what, rel);
    return NULL;
}

/* Tell the phase callback what begins (pipe_cb.phase); 0 or QERR_CANCEL. */
static int say_phase(struct pipe_env *e, const char *phase, const char *what, struct qerr *err)
{
    if (e->cb.phase && e->cb.phase(e->cb.ud, phase, what ? what : ""))
        return qerr_set(err, QERR_CANCEL, "cancelled");
    return 0;
}

/* Read both texts, refuse overlapping ones, tokenize. */
static int load_texts(struct pipe_env *e, const struct pipe_opts *o, struct qerr *err)
{
    char *ct = NULL, *et = NULL;
    size_t cn = 0, en = 0;
    int rc = say_phase(e, "reading texts", e->eval_path ? e->eval_path : e->calib_path, err);
    if (!rc && e->calib_path)
        rc = pipe_read_text(e->calib_path, &ct, &cn, err);
    if (!rc && e->eval_path)
        rc = pipe_read_text(e->eval_path, &et, &en, err);
    if (!rc && ct && et && !o->allow_overlap) {
        long at = qrun_text_overlap(ct, cn, et, en, PIPE_OVERLAP_WINDOW);
        if (at == -2)
            rc = qerr_set(err, QERR_NOMEM, "out of memory comparing the calibration and "
                          "evaluation texts");
        else if (at >= 0)
            rc = qerr_set(err, QERR_ARG, "%s: the %d bytes at offset %ld also appear in the "
                          "calibration text %s; evaluation must not see calibration data "
                          "(--allow-overlap runs anyway)", e->eval_path, PIPE_OVERLAP_WINDOW,
                          at, e->calib_path);
    }
    if (!rc)
        rc = say_phase(e, "tokenizing", ct && et ? "calibration and evaluation texts"
                                        : ct ? "calibration text" : "evaluation text", err);
    if (!rc && ct)
        rc = pipe_tokenize(e->im.tok, e->calib_path, ct, cn, &e->calib_ids, &e->n_calib, err);
    if (!rc && et)
        rc = pipe_tokenize(e->im.tok, e->eval_path, et, en, &e->eval_ids, &e->n_eval, err);
    free(ct);
    free(et);
    return rc;
}

static int pick_ctx(struct pipe_env *e, const struct pipe_opts *o, struct qerr *err)
{
    int rc = e->has_kl ? pipe_pick_ctx(e->mp, "the n_ctx of the KL base file", e->kl.n_ctx,
                                       o->force_ctx, &e->n_ctx, err)
                       : pipe_pick_ctx(e->mp, "--ctx", o->ctx, o->force_ctx, &e->n_ctx, err);
    if (!rc)
        rc = pipe_pick_ctx(e->mp, "--calib-ctx", o->calib_ctx > 0 ? o->calib_ctx : e->n_ctx,
                           o->force_ctx, &e->calib_ctx, err);
    if (rc)
        return rc;
    if (e->n_ctx % 2)
        return qerr_set(err, QERR_ARG, "--ctx %d: must be even", e->n_ctx);
    return 0;
}

static int find_texts(struct pipe_env *e, const struct pipe_opts *o, struct qerr *err)
{
    /* RTN and float-weight runs read no calibration text */
    if (o->need_calib &&
        !(e->calib_path = default_text(o->calib, "data/tinystories-calib.txt", "calib",
                                       e->calib_buf, sizeof e->calib_buf, err)))
        return err->code;
    if (o->kl_base && !o->eval)
        return 0; /* the evaluation tokens are the KL base file's */
    e->eval_path = default_text(o->eval, "data/tinystories-eval.txt", "eval", e->eval_buf,
                                sizeof e->eval_buf, err);
    return e->eval_path ? 0 : err->code;
}

/* --kl-divergence-base: the file must fit the model (vocabulary) and the
 * options (--ctx); its header is read before the contexts are picked. */
static int open_kl_base(struct pipe_env *e, const struct pipe_opts *o, struct qerr *err)
{
    int rc = klfile_open(&e->kl, o->kl_base, err);
    if (rc)
        return rc;
    e->has_kl = 1;
    if (e->kl.n_vocab != e->mp->cfg.vocab_size)
        return qerr_set(err, QERR_FORMAT, "%s: n_vocab %d, but the model has %d tokens (another "
                        "vocabulary)", o->kl_base, e->kl.n_vocab, e->mp->cfg.vocab_size);
    if (o->ctx >= 0 && o->ctx != e->kl.n_ctx)
        return qerr_set(err, QERR_FORMAT, "--ctx %ld: %s holds chunks of n_ctx %d", o->ctx,
                        o->kl_base, e->kl.n_ctx);
    if (e->kl.n_ctx % 2)
        return qerr_set(err, QERR_UNSUPP, "%s: n_ctx %d is odd; qlens evaluates even contexts",
                        o->kl_base, e->kl.n_ctx);
    return 0;
}

/* The evaluation stream becomes the file's tokens; an --eval text given
 * must tokenize to them (the chunks evaluated). */
static int use_kl_tokens(struct pipe_env *e, const struct pipe_opts *o, struct qerr *err)
{
    const struct klfile *k = &e->kl;
    int nc = o->chunks > 0 && o->chunks < k->n_chunk ? (int)o->chunks : k->n_chunk;
    if (e->eval_ids && e->n_eval < (size_t)nc * k->n_ctx)
        return qerr_set(err, QERR_FORMAT, "%s: %zu tokens, but %s holds %d chunks of %d tokens "
                        "(another text?)", e->eval_path, e->n_eval, k->path, nc, k->n_ctx);
    int rc = e->eval_ids ? klfile_check_run(k, k->n_ctx, k->n_vocab, nc, e->eval_ids, err) : 0;
    if (rc)
        return rc;
    free(e->eval_ids);
    e->n_eval = (size_t)k->n_chunk * k->n_ctx;
    if (!(e->eval_ids = malloc(e->n_eval * sizeof *e->eval_ids)))
        return qerr_set(err, QERR_NOMEM, "out of memory for %zu tokens", e->n_eval);
    memcpy(e->eval_ids, k->tokens, e->n_eval * sizeof *e->eval_ids);
    e->eval_path = k->path;
    return 0;
}

/* Contexts, texts and the forward pass on e->mp. */
static int setup_rest(struct pipe_env *e, const struct pipe_opts *o, struct qerr *err)
{
    e->bos = pipe_bos(e->im.tok);
    int rc = o->kl_base ? open_kl_base(e, o, err) : 0;
    if (!rc)
        rc = pick_ctx(e, o, err);
    if (!rc)
        rc = load_texts(e, o, err);
    if (!rc && e->has_kl)
        rc = use_kl_tokens(e, o, err);
    if (!rc && o->imatrix && !(rc = qimatrix_read(&e->imx, o->imatrix, err))) {
        e->has_imx = 1;
        rc = qimatrix_check(&e->imx, o->imatrix, e->mp, err);
    }
    int big = e->n_ctx > e->calib_ctx ? e->n_ctx : e->calib_ctx;
    if (!rc && !(rc = fwd_init(&e->f, e->mp, big, err)))
        e->f_ok = 1;
    if (rc)
        pipe_teardown(e);
    return rc;
}

int pipe_setup(struct pipe_env *e, const char *model_arg, const struct pipe_opts *o,
               const struct pipe_cb *cb, struct qerr *err)
{
    memset(e, 0, sizeof *e);
    if (cb)
        e->cb = *cb;
    int rc = find_texts(e, o, err);
    if (!rc && !(rc = pipe_open(&e->im.m, &e->im.tok, model_arg, err))) {
        e->im.open = 1;
        e->mp = &e->im.m;
    }
    return rc ? rc : setup_rest(e, o, err);
}

int pipe_setup_model(struct pipe_env *e, struct qmodel *m, struct tokenizer *tok,
                     const struct pipe_opts *o, const struct pipe_cb *cb, struct qerr *err)
{
    memset(e, 0, sizeof *e);
    if (cb)
        e->cb = *cb;
    e->borrowed = 1;
    e->mp = m;
    e->im.tok = tok;
    int rc = find_texts(e, o, err);
    return rc ? rc : setup_rest(e, o, err);
}

void pipe_teardown(struct pipe_env *e)
{
    ppl_cache_free(&e->cache);
    if (e->f_ok)
        fwd_free(&e->f);
    free(e->calib_ids);
    free(e->eval_ids);
    if (e->has_imx)
        qimatrix_free(&e->imx);
    if (e->has_kl)
        klfile_close(&e->kl);
    if (!e->borrowed && e->im.tok)
        tok_free(e->im.tok);
    if (e->im.open)
        qmodel_close(&e->im.m);
    memset(e, 0, sizeof *e);
}

/* ---- memory ---- */

static void ppl_setup(struct pipe_env *e, const struct pipe_opts *o, struct ppl_opts *po);

/* Weights of the tensors a run quantizes; the largest step's (the
 * linears quantized together, converted to float with their output); the
 * largest block's; and those outside the blocks (token_embd, output). */
struct qsizes {
    double all, step_max, block_max, outside;
};

static void quant_sizes(const struct qmodel *m, const struct pipe_opts *o, struct qsizes *z)
{
    static const enum qrole steps[3][3] = {{QR_ATTN_Q, QR_ATTN_K, QR_ATTN_V},
                                           {QR_FFN_GATE, QR_FFN_UP, QR_ATTN_OUT},
                                           {QR_FFN_DOWN, QR_OTHER, QR_OTHER}};
    memset(z, 0, sizeof *z);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        double block = 0;
        for (int s = 0; s < 3; s++) {
            double step = 0;
            for (int i = 0; i < 3; i++) {
                const struct qtensor *t =
                    steps[s][i] == QR_OTHER ? NULL : qmodel_get((struct qmodel *)m, l, steps[s][i]);
                step += t ? (double)t->nelem : 0;
            }
            block += step;
            z->step_max = step > z->step_max ? step : z->step_max;
        }
        z->all += block;
        z->block_max = block > z->block_max ? block : z->block_max;
    }
    const struct qtensor *e = qmodel_get((struct qmodel *)m, -1, QR_TOK_EMBD);
    const struct qtensor *out = qmodel_get((struct qmodel *)m, -1, QR_OUTPUT);
    if (!out || m->cfg.tied_output)
        out = e;
    z->outside = (o->quant_output && out ? (double)out->nelem : 0) +
                 (o->quant_embed && e && e != out ? (double)e->nelem : 0);
    z->all += z->outside;
    if (o->quant_output && out && (double)out->nelem > z->step_max)
        z->step_max = (double)out->nelem;
}

/* pipe_streams; tied_last: a tied classifier may be quantized last. */
static int streams(const struct pipe_env *e, const struct pipe_opts *o, int tied_last)
{
    if (o->resident > 0 || (tied_last && o->quant_output && e->mp->cfg.tied_output))
        return 0;
    if (o->resident < 0)
        return 1;
    struct qsizes z;
    struct ppl_opts po;
    quant_sizes(e->mp, o, &z);
    ppl_setup((struct pipe_env *)e, o, &po); /* reads e only */
    double h = estream_bytes(&e->mp->cfg, e->n_eval, &po);
    return h + (z.block_max + z.outside) * sizeof(float) <= z.all * sizeof(float);
}

int pipe_streams(const struct pipe_env *e, const struct pipe_opts *o,
                 const struct quant_spec *spec)
{
    if (spec && spec->bits >= 16)
        return 0;
    return streams(e, o, spec != NULL);
}

/* The check of pipe_check_memory; streamed: the evaluation goes through
 * the block loop (one block's quantized floats at a time, plus the
 * evaluation's hidden states). */
static int check_memory(const struct pipe_env *e, const struct pipe_opts *o, int quantized,
                        int calibrated, int kl_cache, int streamed, struct qerr *err)
{
    const struct qmodel *m = e->mp;
    const struct qconfig *c = &m->cfg;
    struct mem_plan p;
    mem_plan_init(&p);
    mem_plan_self(&p);
    mem_plan_add(&p, "weights (mapped)", mem_weights_bytes(m), NULL);
    /* two evaluation workers, each with its context and logits */
    mem_plan_add(&p, "forward passes", 2.0 * mem_fwd_bytes(c, e->n_ctx), "--ctx");
    struct ppl_opts po;
    ppl_setup((struct pipe_env *)e, o, &po); /* reads e only */
    double cache = (double)ppl_cache_bytes(&e->f, e->n_eval, &po);
    if (!kl_cache || cache > (double)o->kl_cache_mib * 1048576.0)
        cache = 0; /* not kept (a cache that does not fit is not made) */
    mem_plan_add(&p, "float logits kept for KL", cache, "--kl-cache-mib");
    if (quantized) {
        struct qsizes z;
        quant_sizes(m, o, &z);
        struct mem_quant q = {.all = z.all, .block_max = z.block_max, .step_max = z.step_max,
                              .outside = z.outside, .streamed = streamed,
                              .resident_opt = o->resident > 0, .calibrated = calibrated,
                              .sequential = o->sequential};
        q.eval_tokens = estream_bytes(c, e->n_eval, &po) / ((double)c->dim * sizeof(float));
        double chunks = e->calib_ctx > 0 ? (double)(e->n_calib / (size_t)e->calib_ctx) : 0;
        if (o->calib_chunks > 0 && chunks > (double)o->calib_chunks)
            chunks = (double)o->calib_chunks;
        q.calib_tokens = (chunks + 1) * e->calib_ctx;
        mem_plan_quant(&p, c, &q);
    }
    char op[600];
    snprintf(op, sizeof op, "%s: %s", m->path,
             quantized ? "quantizing and evaluating" : "evaluating");
    return mem_check(&p, o->mem_budget, op, err);
}

int pipe_check_memory(const struct pipe_env *e, const struct pipe_opts *o, int quantized,
                      int calibrated, int kl_cache, struct qerr *err)
{
    /* a spec-less check (a sweep's first): as a run of a spec decides */
    int streamed = streams(e, o, 1);
    return check_memory(e, o, quantized, calibrated, kl_cache, streamed, err);
}

/* ---- running one configuration ---- */

static void ppl_setup(struct pipe_env *e, const struct pipe_opts *o, struct ppl_opts *po)
{
    memset(po, 0, sizeof *po);
    po->n_ctx = e->n_ctx;
    po->max_chunks = o->chunks > 0 ? (int)o->chunks : 0;
    po->bos = e->bos; /* as qlens ppl */
    po->cancel = e->cb.cancel;
    po->cache = e->cache.logits ? &e->cache : NULL;
    po->kl_in = e->has_kl ? &e->kl : NULL; /* KL runs: the baseline from the file */
    po->progress = e->cb.eval;
    po->progress_ud = e->cb.ud;
}

int pipe_run_float(struct pipe_env *e, const struct pipe_opts *o, struct ppl_result *pr,
                   struct qerr *err)
{
    struct ppl_opts po;
    ppl_setup(e, o, &po);
    po.kl_in = NULL; /* a plain float run */
    int rc = pipe_check_memory(e, o, 0, 0, o->kl_cache_mib > 0, err);
    if (rc)
        return rc;
    qmodel_clear_overrides(e->mp);
    ppl_cache_free(&e->cache);
    e->cache_missed_mib = 0;
    if ((rc = say_phase(e, "evaluating", "float model", err)) < 0)
        return rc;
    if (e->has_kl) /* KL runs read the baseline from the file: no cache */
        return ppl_run(&e->f, e->eval_ids, e->n_eval, &po, pr, err);
    size_t need = ppl_cache_bytes(&e->f, e->n_eval, &po);
    if (o->kl_cache_mib > 0 &&
        ppl_cache_init(&e->cache, &e->f, e->eval_ids, e->n_eval, &po,
                       (size_t)o->kl_cache_mib << 20))
        po.cache = &e->cache;
    else if (o->kl_cache_mib > 0)
        e->cache_missed_mib = need / 1048576.0;
    return ppl_run(&e->f, e->eval_ids, e->n_eval, &po, pr, err);
}

/* A streamed evaluation riding on qrun's block loop (qrun_opts.on_block,
 * src/estream.h): the hidden states start after the token embedding is
 * final, go through each block as soon as it is quantized, and that
 * block's float overrides are freed right after. */
struct pipe_stream {
    struct pipe_env *e;
    struct qrun *run;
    struct ppl_opts po;
    struct fwd_hooks hooks;
    struct estream es;
};

/* Free the float overrides of block `layer` (the streamed evaluation has
 * gone through it and qrun never reads it again). */
static void release_block(struct qmodel *m, int layer)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].layer == layer && m->tensors[i].override)
            qtensor_set_override(&m->tensors[i], NULL);
}

static int stream_block(void *ud, int layer, struct qerr *err)
{
    struct pipe_stream *ps = ud;
    if (layer < 0) { /* the run's options are set: its hooks are final */
        qrun_eval_hooks(ps->run, &ps->hooks);
        ps->po.hooks = ps->hooks.linear_in || ps->hooks.kv ? &ps->hooks : NULL;
        return estream_begin(&ps->es, &ps->e->f, ps->e->eval_ids, ps->e->n_eval, &ps->po, err);
    }
    int rc = estream_block(&ps->es, layer, err);
    if (!rc)
        release_block(ps->e->mp, layer);
    return rc;
}

/* Quantize (qrun) with a spec or a per-tensor plan; the model then holds
 * the run's overrides (those of the blocks freed already when ps, the
 * streamed evaluation, is given). */
static int quantize_ro(struct pipe_env *e, const struct pipe_opts *o,
                       const struct quant_spec *spec, const struct qplan *plan, int act_bits,
                       int kv_bits, struct qrun *run, struct pipe_stream *ps, struct qerr *err)
{
    int quantized = spec->bits < 16;
    int rc = check_memory(e, o, quantized, quantized && spec->method->needs_calib,
                          e->cache.logits != NULL, ps != NULL, err);
    if (rc)
        return rc;
    struct qrun_opts ro;
    qrun_opts_default(&ro);
    ro.spec = *spec;
    if (plan) {
        ro.spec_of = qplan_spec_of;
        ro.spec_ud = (void *)plan;
    }
    int plain = plan == NULL; /* a plan covers the block linears only */
    ro.sequential = o->sequential;
    ro.out_err = o->out_err;
    ro.quant_output = plain && o->quant_output;
    ro.quant_embed = plain && o->quant_embed;
    ro.calib_ctx = e->calib_ctx;
    ro.calib_chunks = (int)o->calib_chunks;
    ro.bos = e->bos; /* calibration chunks as evaluation chunks */
    ro.imatrix = e->has_imx ? &e->imx : NULL;
    ro.act_bits = act_bits;
    ro.act_group = (int)o->act_group;
    ro.kv_bits = kv_bits;
    ro.kv_group = (int)o->kv_group;
    ro.kv_axis = o->kv_axis_channel ? CALIB_PER_CHANNEL : CALIB_PER_TOKEN;
    ro.cancel = e->cb.cancel;
    ro.progress = e->cb.quant;
    ro.on_phase = e->cb.phase;
    ro.on_tensor = e->cb.tensor;
    ro.progress_ud = e->cb.ud;
    if (ps) {
        ro.on_block = stream_block;
        ro.on_block_ud = ps;
    }
    qmodel_clear_overrides(e->mp);
    return qrun_quantize(run, &e->f, e->calib_ids, e->n_calib, &ro, err);
}

int pipe_quantize(struct pipe_env *e, const struct pipe_opts *o, const struct quant_spec *spec,
                  int act_bits, int kv_bits, struct qrun *run, struct qerr *err)
{
    return quantize_ro(e, o, spec, NULL, act_bits, kv_bits, run, NULL, err);
}

/* Quantize with the evaluation streamed through the block loop, then the
 * classifier and the scoring (estream_finish). */
static int run_streamed(struct pipe_env *e, const struct pipe_opts *o,
                        const struct quant_spec *spec, const struct qplan *plan, int act_bits,
                        int kv_bits, struct pipe_result *res, struct qerr *err)
{
    struct pipe_stream ps;
    memset(&ps, 0, sizeof ps);
    ps.e = e;
    ps.run = &res->run;
    ppl_setup(e, o, &ps.po);
    ps.po.kl = 1;
    ps.po.hooks_mt = 1; /* qrun's hooks only read the run: two chunks at a time */
    int rc = quantize_ro(e, o, spec, plan, act_bits, kv_bits, &res->run, &ps, err);
    if (rc >= 0 && !(rc = say_phase(e, "evaluating", "quantized model against the float one",
                                    err)))
        rc = estream_finish(&ps.es, &res->ppl, err);
    /* the blocks' evaluation ran inside qrun: count it once, as evaluation */
    res->run.seconds -= ps.es.seconds;
    res->eval_seconds = res->ppl.seconds;
    estream_free(&ps.es);
    return rc;
}

/* Quantize, then evaluate against float. */
static int run_ro(struct pipe_env *e, const struct pipe_opts *o, const struct quant_spec *spec,
                  const struct qplan *plan, int act_bits, int kv_bits, struct pipe_result *res,
                  struct qerr *err)
{
    memset(res, 0, sizeof *res);
    if (pipe_streams(e, o, plan ? NULL : spec))
        return run_streamed(e, o, spec, plan, act_bits, kv_bits, res, err);
    int rc = quantize_ro(e, o, spec, plan, act_bits, kv_bits, &res->run, NULL, err);
    if (rc < 0)
        return rc;
    struct ppl_opts po;
    struct fwd_hooks hooks;
    ppl_setup(e, o, &po);
    qrun_eval_hooks(&res->run, &hooks);
    po.kl = 1;
    po.hooks = hooks.linear_in || hooks.kv ? &hooks : NULL;
    po.hooks_mt = 1; /* qrun's hooks only read the run: two chunks at a time */
    if ((rc = say_phase(e, "evaluating", "quantized model against the float one", err)) < 0)
        return rc;
    rc = ppl_run(&e->f, e->eval_ids, e->n_eval, &po, &res->ppl, err);
    res->eval_seconds = res->ppl.seconds;
    return rc;
}

int pipe_run(struct pipe_env *e, const struct pipe_opts *o, const struct quant_spec *spec,
             int act_bits, int kv_bits, struct pipe_result *res, struct qerr *err)
{
    return run_ro(e, o, spec, NULL, act_bits, kv_bits, res, err);
}

int pipe_run_plan(struct pipe_env *e, const struct pipe_opts *o, const struct qplan *plan,
                  struct pipe_result *res, struct qerr *err)
{
    if (!plan->slot || plan->n_layers != e->mp->cfg.n_layers) {
        memset(res, 0, sizeof *res);
        return qerr_set(err, QERR_ARG, "%s: plan not bound to %s", plan->path, e->mp->path);
    }
    const struct quant_spec *any = qplan_any_spec(plan);
    return run_ro(e, o, any, plan, 0, 0, res, err);
}

int pipe_eval_current(struct pipe_env *e, const struct pipe_opts *o, struct ppl_result *pr,
                      struct qerr *err)
{
    struct ppl_opts po;
    ppl_setup(e, o, &po);
    po.kl = 1;
    int rc = say_phase(e, "evaluating", "model against the float one", err);
    return rc ? rc : ppl_run(&e->f, e->eval_ids, e->n_eval, &po, pr, err);
}

int pipe_eval_blocks(struct pipe_env *e, const struct pipe_opts *o,
                     int (*make)(void *ud, int layer, struct qerr *err), void *ud,
                     struct ppl_result *pr, struct qerr *err)
{
    memset(pr, 0, sizeof *pr);
    struct pipe_opts oc = *o; /* the caller may quantize token_embd and output */
    oc.quant_output = oc.quant_embed = 1;
    int rc = check_memory(e, &oc, 1, 0, e->cache.logits != NULL, 1, err);
    if (rc)
        return rc;
    struct ppl_opts po;
    ppl_setup(e, o, &po);
    po.kl = 1;
    struct estream es;
    memset(&es, 0, sizeof es);
    qmodel_clear_overrides(e->mp);
    if (!(rc = make(ud, -1, err)))
        rc = estream_begin(&es, &e->f, e->eval_ids, e->n_eval, &po, err);
    for (int l = 0; l < e->mp->cfg.n_layers && !rc; l++) {
        if (!(rc = make(ud, l, err)) && !(rc = estream_block(&es, l, err)))
            release_block(e->mp, l);
    }
    if (!rc && !(rc = say_phase(e, "evaluating", "model against the float one", err)))
        rc = estream_finish(&es, pr, err);
    estream_free(&es);
    return rc;
}

void pipe_result_free(struct pipe_result *res)
{
    qrun_free(&res->run);
}
