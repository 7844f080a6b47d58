/* results_import: turn other tools' JSON into result entries.
 *
 *  - a qlens-results store (schema field)          -> its entries
 *  - lm-evaluation-harness results (a "results" object of tasks, each with
 *    "metric,filter" keys such as "acc,none" and "acc_stderr,none"; older
 *    versions use plain "acc"/"acc_stderr")       -> one entry
 *  - `qlens ppl --json` ({"model","text","n_ctx","ppl","stderr"}) -> one entry
 *  - `qlens quant --json` ({"model","method","spec","bits","group","ppl",
 *    "ppl_float",...}) -> the quantized entry and the float baseline
 *  - a JSON array of any of these.
 * The entry's model is the --model override, else the file's model name
 * reduced to its basename without .bin/.gguf/.safetensors, so that an
 * lm-eval run on ".../stories260K" and a qlens run on ".../stories260K.bin"
 * share a join key. */
#include "analysis/afile.h"
#include "analysis/qnum.h"
#include "analysis/results.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void results_label(const char *path, char *out, size_t n)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t len = strlen(tmp);
    while (len > 1 && tmp[len - 1] == '/')
        tmp[--len] = '\0';
    const char *b = strrchr(tmp, '/');
    b = b ? b + 1 : tmp;
    snprintf(out, n, "%s", b);
    static const char *const ext[] = {".bin", ".gguf", ".safetensors", ".txt", NULL};
    for (const char *const *e = ext; *e; e++) {
        size_t l = strlen(out), el = strlen(*e);
        if (l > el && !strcmp(out + l - el, *e))
            out[l - el] = '\0';
    }
}

/* Model name, method, bits, id from the options over the file's values. */
static void apply_opts(struct results_entry *e, const struct results_import_opts *o,
                       const char *file_model)
{
    char lab[256];
    results_label(file_model && *file_model ? file_model : "unknown", lab, sizeof lab);
    snprintf(e->model, sizeof e->model, "%s", o && o->model && *o->model ? o->model : lab);
    if (o && o->method && *o->method)
        snprintf(e->method, sizeof e->method, "%s", o->method);
    if (!e->method[0])
        strcpy(e->method, "none");
    if (o && o->w_bits) e->w_bits = o->w_bits;
    if (o && o->a_bits) e->a_bits = o->a_bits;
    if (o && o->kv_bits) e->kv_bits = o->kv_bits;
    if (o && o->group_size) e->group_size = o->group_size;
    if (o && o->id && *o->id)
        snprintf(e->id, sizeof e->id, "%s", o->id);
    else
        results_default_id(e, e->id, sizeof e->id);
}

/* "pretrained=EleutherAI/pythia-160m,dtype=float32" -> the pretrained=. */
static void model_from_args(const char *args, char *out, size_t n)
{
    const char *p = strstr(args, "pretrained=");
    if (!p)
        p = strstr(args, "model=");
    if (!p)
        return;
    p = strchr(p, '=') + 1;
    size_t len = strcspn(p, ",");
    snprintf(out, n, "%.*s", (int)len, p);
}

static const char *metric_unit(const char *m)
{
    if (strstr(m, "bleu") || strstr(m, "chrf"))
        return "bleu";
    if (strstr(m, "acc") || strstr(m, "exact_match") || !strcmp(m, "f1") ||
        !strcmp(m, "em") || !strncmp(m, "mc", 2) || strstr(m, "rouge"))
        return "fraction";
    return "score";
}

/* "acc,none" -> "acc"; "exact_match,strict-match" -> "exact_match_strict-match". */
static void metric_name(const char *key, char *out, size_t n)
{
    snprintf(out, n, "%s", key);
    char *c = strchr(out, ',');
    if (c && !strcmp(c, ",none"))
        *c = '\0';
    else if (c)
        *c = '_';
}

/* The stderr for metric key "acc,none" is "acc_stderr,none" (or "acc_stderr"). */
static double metric_stderr(const cJSON *task, const char *key)
{
    char se[160];
    const char *c = strchr(key, ',');
    if (c)
        snprintf(se, sizeof se, "%.*s_stderr%s", (int)(c - key), key, c);
    else
        snprintf(se, sizeof se, "%s_stderr", key);
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(task, se);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

/* The task's headline metric: acc, then exact_match*, then the first. */
static const cJSON *primary_metric(const cJSON *task)
{
    const cJSON *first = NULL, *em = NULL;
    for (const cJSON *m = task->child; m; m = m->next) {
        if (!cJSON_IsNumber(m) || strstr(m->string, "_stderr") || strstr(m->string, "perplexity") ||
            strstr(m->string, "bits_per_byte"))
            continue;
        if (!strcmp(m->string, "acc,none") || !strcmp(m->string, "acc"))
            return m;
        if (!em && !strncmp(m->string, "exact_match", 11))
            em = m;
        if (!first)
            first = m;
    }
    return em ? em : first;
}

static int lmeval_task(struct results_entry *e, const cJSON *task, struct qerr *err)
{
    const cJSON *prim = primary_metric(task);
    for (const cJSON *m = task->child; m; m = m->next) {
        if (!cJSON_IsNumber(m) || strstr(m->string, "_stderr") || !isfinite(m->valuedouble))
            continue;
        char met[64], name[192];
        metric_name(m->string, met, sizeof met);
        int rc;
        if (strstr(met, "perplexity")) { /* word/byte perplexity: a ppl dataset */
            snprintf(name, sizeof name, "%s:%s", task->string, met);
            if (m->valuedouble <= 0 || strlen(name) >= sizeof e->ppl[0].dataset)
                continue;
            rc = results_entry_set_ppl(e, name, m->valuedouble, metric_stderr(task, m->string), err);
        } else {
            if (strstr(met, "bits_per_byte"))
                continue;
            if (m == prim)
                snprintf(name, sizeof name, "%s", task->string);
            else
                snprintf(name, sizeof name, "%s:%s", task->string, met);
            if (strlen(name) >= sizeof e->bench[0].name)
                continue;
            rc = results_entry_set_bench(e, name, m->valuedouble, met, metric_unit(met),
                                         metric_stderr(task, m->string), err);
        }
        if (rc)
            return rc;
    }
    return QERR_OK;
}

static int import_lmeval(struct results_store *s, const cJSON *root, const char *name,
                         const struct results_import_opts *o, struct qerr *err)
{
    struct results_entry e;
    results_entry_init(&e);
    char model[256] = "";
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(root, "model_name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *ma = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "model_args") : NULL;
    if (cJSON_IsString(ma))
        model_from_args(ma->valuestring, model, sizeof model);
    if (!model[0] && cJSON_IsString(mn))
        snprintf(model, sizeof model, "%s", mn->valuestring);
    int rc = QERR_OK;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "results");
    for (const cJSON *t = res->child; t && !rc; t = t->next)
        if (cJSON_IsObject(t))
            rc = lmeval_task(&e, t, err);
    /* lm-eval >= 0.4 puts group aggregates (mmlu over its subtasks) here;
     * some versions repeat them in "results": those are kept from there */
    const cJSON *grp = cJSON_GetObjectItemCaseSensitive(root, "groups");
    for (const cJSON *t = cJSON_IsObject(grp) ? grp->child : NULL; t && !rc; t = t->next)
        if (cJSON_IsObject(t) && !cJSON_GetObjectItemCaseSensitive(res, t->string))
            rc = lmeval_task(&e, t, err);
    if (!rc && e.n_bench == 0 && e.n_ppl == 0)
        rc = qerr_set(err, QERR_FORMAT, "%s: results: no numeric task metrics found "
                      "(expected lm-evaluation-harness output like "
                      "{\"results\": {\"arc_easy\": {\"acc,none\": 0.7}}})", name);
    if (!rc) {
        apply_opts(&e, o, model);
        snprintf(e.source, sizeof e.source, "lm-evaluation-harness: %s", name);
        if (cJSON_IsString(ma)) {
            cJSON *st = cJSON_CreateObject();
            cJSON_AddStringToObject(st, "model_args", ma->valuestring);
            char *txt = cJSON_PrintUnformatted(st);
            cJSON_Delete(st);
            if (txt)
                rc = results_entry_set_settings(&e, txt, err);
            free(txt);
        }
    }
    if (!rc)
        rc = results_add_entry(s, &e, err);
    results_entry_free(&e);
    return rc;
}

/* An optional whole number of a run file into *dst: absent leaves *dst;
 * a value that is not a whole number in [lo, hi] is an error naming the
 * field (no double -> int cast of file data outside qnum_int). */
static int run_int(const cJSON *j, const char *name, const char *field, int lo, int hi,
                   int *dst, struct qerr *err)
{
    if (!cJSON_IsNumber(j))
        return QERR_OK;
    double x = j->valuedouble;
    if (qnum_int(x, lo, hi, dst) == 0)
        return QERR_OK;
    if (isfinite(x) && x != floor(x))
        return qerr_set(err, QERR_FORMAT, "%s: %s: must be a whole number (found %g)", name,
                        field, x);
    return qerr_set(err, QERR_FORMAT, "%s: %s: must be in %d..%d (found %g)", name, field, lo,
                    hi, x);
}

/* Optional method/bits/group in a qlens output (runs on quantized models). */
static int qlens_quant_fields(const cJSON *root, const char *name, struct results_entry *e,
                              struct qerr *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "method");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "bits");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "group_size");
    const char *gname = "group_size";
    if (!g) { /* qlens quant: "group" (0 = per row, -1 = per tensor: no group) */
        g = cJSON_GetObjectItemCaseSensitive(root, "group");
        gname = "group";
    }
    if (cJSON_IsString(m))
        snprintf(e->method, sizeof e->method, "%s", m->valuestring);
    int rc = run_int(b, name, "bits", 1, 64, &e->w_bits, err);
    if (!rc && cJSON_IsObject(b)) {
        rc = run_int(cJSON_GetObjectItemCaseSensitive(b, "w"), name, "bits.w", 1, 64, &e->w_bits, err);
        if (!rc)
            rc = run_int(cJSON_GetObjectItemCaseSensitive(b, "a"), name, "bits.a", 1, 64, &e->a_bits, err);
        if (!rc)
            rc = run_int(cJSON_GetObjectItemCaseSensitive(b, "kv"), name, "bits.kv", 1, 64, &e->kv_bits, err);
    }
    if (!rc && cJSON_IsNumber(g) && g->valuedouble > 0)
        rc = run_int(g, name, gname, 1, INT_MAX, &e->group_size, err);
    /* `qlens ppl --act-bits/--kv-bits` runs: 0 means not quantized */
    const cJSON *ab = cJSON_GetObjectItemCaseSensitive(root, "act_bits");
    const cJSON *kb = cJSON_GetObjectItemCaseSensitive(root, "kv_bits");
    int bits = 0;
    if (!rc && !(rc = run_int(ab, name, "act_bits", 0, 64, &bits, err)) && bits > 0)
        e->a_bits = bits;
    bits = 0;
    if (!rc && !(rc = run_int(kb, name, "kv_bits", 0, 64, &bits, err)) && bits > 0)
        e->kv_bits = bits;
    return rc;
}

/* {"n_ctx":..,"mode":..,"chunks":..} from a ppl output, as settings. */
static char *ppl_settings(const cJSON *root)
{
    static const char *const keep[] = {"n_ctx", "mode", "chunks", "scored", NULL};
    cJSON *st = cJSON_CreateObject();
    for (const char *const *k = keep; *k; k++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, *k);
        if (cJSON_IsNumber(j) || cJSON_IsString(j))
            cJSON_AddItemToObject(st, *k, cJSON_Duplicate(j, 0));
    }
    char *txt = cJSON_PrintUnformatted(st);
    cJSON_Delete(st);
    return txt;
}

static int import_qlens_ppl(struct results_store *s, const cJSON *root, const char *name,
                            const struct results_import_opts *o, struct qerr *err)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "ppl");
    const cJSON *se = cJSON_GetObjectItemCaseSensitive(root, "stderr");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "mode");
    if (!isfinite(p->valuedouble) || p->valuedouble <= 0)
        return qerr_set(err, QERR_FORMAT, "%s: ppl: must be a positive number", name);
    struct results_entry e;
    results_entry_init(&e);
    char ds[64];
    results_label(cJSON_IsString(text) ? text->valuestring : "text", ds, sizeof ds);
    /* full-window perplexity is a different number from llama.cpp's mode */
    if (cJSON_IsString(mode) && !strcmp(mode->valuestring, "full") && strlen(ds) < 58)
        strcat(ds, ":full");
    int rc = qlens_quant_fields(root, name, &e, err);
    apply_opts(&e, o, cJSON_IsString(model) ? model->valuestring : NULL);
    snprintf(e.source, sizeof e.source, "qlens ppl: %s", name);
    if (!rc)
        rc = results_entry_set_ppl(&e, ds, p->valuedouble,
                                   cJSON_IsNumber(se) ? se->valuedouble : NAN, err);
    char *st = rc ? NULL : ppl_settings(root);
    if (st && strcmp(st, "{}"))
        rc = results_entry_set_settings(&e, st, err);
    free(st);
    if (!rc)
        rc = results_add_entry(s, &e, err);
    results_entry_free(&e);
    return rc;
}

static double num_at(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

/* The quantized run's settings from a `qlens quant --json` output. */
static char *quant_settings(const cJSON *root)
{
    static const char *const keep[] = {"spec", "sym", "bits_per_weight", "delta_ppl_pct",
                                       "top1", "size_mib", "ppl_float",
                                       /* qlens quant --plan */
                                       "plan", "plan_file", "tensor_types", NULL};
    cJSON *st = cJSON_CreateObject();
    for (const char *const *k = keep; *k; k++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, *k);
        if (j && !cJSON_IsObject(j) && !cJSON_IsArray(j))
            cJSON_AddItemToObject(st, *k, cJSON_Duplicate(j, 0));
    }
    const cJSON *kl = cJSON_GetObjectItemCaseSensitive(root, "kl");
    if (cJSON_IsObject(kl)) {
        cJSON_AddNumberToObject(st, "kl_mean", num_at(kl, "mean"));
        cJSON_AddNumberToObject(st, "kl_p99", num_at(kl, "p99"));
    }
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "eval");
    if (cJSON_IsObject(ev)) {
        cJSON_AddNumberToObject(st, "ctx", num_at(ev, "ctx"));
        cJSON_AddNumberToObject(st, "chunks", num_at(ev, "chunks"));
    }
    char *txt = cJSON_PrintUnformatted(st); /* NaN prints as null */
    cJSON_Delete(st);
    return txt;
}

/* One entry of a `qlens quant --json` run: the quantized model, and the
 * float model measured on the same chunks (id MODEL/float, as qlens sweep
 * names it). */
static int quant_entry(struct results_store *s, const cJSON *root, const char *name,
                       const struct results_import_opts *o, int is_float, struct qerr *err)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "eval");
    const cJSON *text = cJSON_IsObject(ev) ? cJSON_GetObjectItemCaseSensitive(ev, "text") : NULL;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
    struct results_entry e;
    results_entry_init(&e);
    char ds[64];
    results_label(cJSON_IsString(text) ? text->valuestring : "text", ds, sizeof ds);
    double ppl = num_at(root, is_float ? "ppl_float" : "ppl");
    double se = num_at(root, is_float ? "ppl_float_stderr" : "ppl_stderr");
    double mib = num_at(root, is_float ? "size_mib_float" : "size_mib");
    struct results_import_opts oo = o ? *o : (struct results_import_opts){0};
    int rc = QERR_OK;
    if (is_float) {
        strcpy(e.method, "float");
        oo.method = NULL;
        oo.w_bits = oo.a_bits = oo.kv_bits = oo.group_size = 0;
        oo.id = NULL;
    } else {
        rc = qlens_quant_fields(root, name, &e, err);
    }
    apply_opts(&e, &oo, cJSON_IsString(model) ? model->valuestring : NULL);
    if (is_float || (!(o && o->id && *o->id) && cJSON_IsString(spec)))
        /* ids are at most 159 bytes: keep both halves visible when long */
        snprintf(e.id, sizeof e.id, "%.80s/%.78s", e.model,
                 is_float ? "float" : spec->valuestring);
    e.memory_gb = isfinite(mib) ? mib / 1024.0 : NAN;
    snprintf(e.source, sizeof e.source, "qlens quant: %s", name);
    if (!rc)
        rc = results_entry_set_ppl(&e, ds, ppl, se, err);
    char *st = rc || is_float ? NULL : quant_settings(root);
    if (st)
        rc = results_entry_set_settings(&e, st, err);
    free(st);
    if (!rc)
        rc = results_put_entry(s, &e, err);
    results_entry_free(&e);
    return rc;
}

static int import_qlens_quant(struct results_store *s, const cJSON *root, const char *name,
                              const struct results_import_opts *o, struct qerr *err)
{
    double p = num_at(root, "ppl");
    if (!isfinite(p) || p <= 0)
        return qerr_set(err, QERR_FORMAT, "%s: ppl: must be a positive number", name);
    int rc = quant_entry(s, root, name, o, 0, err);
    double pf = num_at(root, "ppl_float");
    if (!rc && isfinite(pf) && pf > 0)
        rc = quant_entry(s, root, name, o, 1, err);
    return rc;
}

static int import_node(struct results_store *s, const cJSON *j, const char *text,
                       const char *name, const struct results_import_opts *o,
                       const char **kind, struct qerr *err)
{
    if (cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "schema")) {
        *kind = "store";
        if (!text) /* a store nested in an array */
            return qerr_set(err, QERR_UNSUPP, "%s: a results store inside an array "
                            "is not supported; import it on its own", name);
        return results_parse(s, text, name, err);
    }
    const cJSON *res = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "results") : NULL;
    if (cJSON_IsObject(res)) {
        *kind = "lm-eval";
        return import_lmeval(s, j, name, o, err);
    }
    const cJSON *p = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "ppl") : NULL;
    const cJSON *spec = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "spec") : NULL;
    if (cJSON_IsNumber(p) && cJSON_IsString(spec)) {
        *kind = "qlens-quant";
        return import_qlens_quant(s, j, name, o, err);
    }
    if (cJSON_IsNumber(p)) {
        *kind = "qlens-ppl";
        return import_qlens_ppl(s, j, name, o, err);
    }
    return qerr_set(err, QERR_FORMAT, "%s: not a format qlens can import (want a "
                    "qlens-results store with \"schema\", lm-evaluation-harness output "
                    "with a \"results\" object, or `qlens ppl --json` output with "
                    "\"ppl\")", name);
}

int results_import_text(struct results_store *s, const char *text, const char *name,
                        const struct results_import_opts *o, const char **kind,
                        struct qerr *err)
{
    const char *dummy, *end = NULL;
    if (!kind)
        kind = &dummy;
    *kind = "?";
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        return qerr_set(err, QERR_FORMAT, "%s: offset %zu: JSON syntax error", name, off);
    }
    int rc = QERR_OK, n0 = s->n;
    if (cJSON_IsArray(root)) {
        int i = 0;
        for (const cJSON *j = root->child; j && !rc; j = j->next, i++) {
            rc = import_node(s, j, NULL, name, o, kind, err);
            if (rc)
                qerr_prefix(err, "[%d]: ", i);
        }
    } else {
        rc = import_node(s, root, text, name, o, kind, err);
    }
    cJSON_Delete(root);
    /* nothing goes in that the store could not load again */
    for (int i = n0; !rc && i < s->n; i++)
        rc = results_entry_check(&s->e[i], name, err);
    if (rc)
        while (s->n > n0)
            results_entry_free(&s->e[--s->n]);
    return rc;
}

int results_import(struct results_store *s, const char *path,
                   const struct results_import_opts *o, const char **kind,
                   struct qerr *err)
{
    size_t len;
    char *text = afile_read(path, 0, &len, err);
    if (!text)
        return err ? err->code : QERR_IO;
    int rc = results_import_text(s, text, path, o, kind, err);
    free(text);
    return rc;
}
