/* results: load, validate, merge and save the results store (see results.h
 * for the schema).  cJSON does the parsing; this file checks every field and
 * names its JSON path in messages. */
#include "analysis/results.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const results_units[] = {
    "percent",  /* 0-100 accuracy and the like          */
    "fraction", /* 0-1 accuracy, ROUGE F, ...            */
    "bleu",     /* BLEU, 0-100                           */
    "score",    /* a bounded rating (MT-Bench 1-10, ...) */
    "bias",     /* signed bias score, closer to 0 better */
    NULL,
};

static int unit_known(const char *u)
{
    for (const char *const *p = results_units; *p; p++)
        if (!strcmp(*p, u))
            return 1;
    return 0;
}

/* Copy with truncation check: a too-long string is an error, not silently
 * cut (ids must stay unique). */
static int copy_str(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        return -1;
    memcpy(dst, src, len + 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* entries                                                             */

void results_entry_init(struct results_entry *e)
{
    memset(e, 0, sizeof *e);
    e->w_bits = e->a_bits = e->kv_bits = 16;
    e->memory_gb = NAN;
    e->speed = NAN;
}

void results_entry_free(struct results_entry *e)
{
    if (!e)
        return;
    free(e->settings_json);
    free(e->ppl);
    free(e->bench);
    results_entry_init(e);
}

int results_entry_copy(struct results_entry *dst, const struct results_entry *src,
                       struct qerr *err)
{
    *dst = *src;
    dst->settings_json = NULL;
    dst->ppl = NULL;
    dst->bench = NULL;
    if (src->settings_json && !(dst->settings_json = strdup(src->settings_json)))
        goto nomem;
    if (src->n_ppl) {
        dst->ppl = malloc(sizeof *dst->ppl * (size_t)src->n_ppl);
        if (!dst->ppl)
            goto nomem;
        memcpy(dst->ppl, src->ppl, sizeof *dst->ppl * (size_t)src->n_ppl);
    }
    if (src->n_bench) {
        dst->bench = malloc(sizeof *dst->bench * (size_t)src->n_bench);
        if (!dst->bench)
            goto nomem;
        memcpy(dst->bench, src->bench, sizeof *dst->bench * (size_t)src->n_bench);
    }
    return QERR_OK;
nomem:
    results_entry_free(dst);
    return qerr_set(err, QERR_NOMEM, "out of memory copying a result entry");
}

const struct results_ppl *results_entry_ppl(const struct results_entry *e,
                                            const char *dataset)
{
    for (int i = 0; i < e->n_ppl; i++)
        if (!strcmp(e->ppl[i].dataset, dataset))
            return &e->ppl[i];
    return NULL;
}

const struct results_bench *results_entry_bench(const struct results_entry *e,
                                                const char *name)
{
    for (int i = 0; i < e->n_bench; i++)
        if (!strcmp(e->bench[i].name, name))
            return &e->bench[i];
    return NULL;
}

int results_entry_set_ppl(struct results_entry *e, const char *dataset,
                          double value, double se, struct qerr *err)
{
    if (!dataset || !*dataset || strlen(dataset) >= sizeof e->ppl[0].dataset)
        return qerr_set(err, QERR_ARG, "perplexity dataset name empty or too long");
    if (!isfinite(value) || value <= 0)
        return qerr_set(err, QERR_ARG, "perplexity on '%s' must be a positive number", dataset);
    struct results_ppl *p = (struct results_ppl *)results_entry_ppl(e, dataset);
    if (!p) {
        void *n = realloc(e->ppl, sizeof *e->ppl * (size_t)(e->n_ppl + 1));
        if (!n)
            return qerr_set(err, QERR_NOMEM, "out of memory");
        e->ppl = n;
        p = &e->ppl[e->n_ppl++];
        memset(p, 0, sizeof *p);
        copy_str(p->dataset, sizeof p->dataset, dataset);
    }
    p->value = value;
    p->se = se;
    return QERR_OK;
}

int results_entry_set_bench(struct results_entry *e, const char *name,
                            double value, const char *metric, const char *unit,
                            double se, struct qerr *err)
{
    if (!name || !*name || strlen(name) >= sizeof e->bench[0].name)
        return qerr_set(err, QERR_ARG, "benchmark name empty or too long");
    if (!isfinite(value))
        return qerr_set(err, QERR_ARG, "benchmark '%s': value is not a finite number", name);
    if (!unit || !unit_known(unit))
        return qerr_set(err, QERR_ARG, "benchmark '%s': unknown unit '%s'", name,
                        unit ? unit : "(none)");
    if (metric && strlen(metric) >= sizeof e->bench[0].metric)
        return qerr_set(err, QERR_ARG, "benchmark '%s': metric name too long", name);
    struct results_bench *b = (struct results_bench *)results_entry_bench(e, name);
    if (!b) {
        void *n = realloc(e->bench, sizeof *e->bench * (size_t)(e->n_bench + 1));
        if (!n)
            return qerr_set(err, QERR_NOMEM, "out of memory");
        e->bench = n;
        b = &e->bench[e->n_bench++];
        memset(b, 0, sizeof *b);
        copy_str(b->name, sizeof b->name, name);
    }
    b->value = value;
    b->se = se;
    copy_str(b->metric, sizeof b->metric, metric ? metric : "");
    copy_str(b->unit, sizeof b->unit, unit);
    return QERR_OK;
}

int results_entry_set_settings(struct results_entry *e, const char *json,
                               struct qerr *err)
{
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return qerr_set(err, QERR_ARG, "settings must be a JSON object");
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    free(e->settings_json);
    e->settings_json = txt;
    return QERR_OK;
}

double results_ppl_mean(const struct results_entry *e)
{
    if (e->n_ppl == 0)
        return NAN;
    double s = 0;
    for (int i = 0; i < e->n_ppl; i++)
        s += e->ppl[i].value;
    return s / e->n_ppl;
}

double results_entry_value(const struct results_entry *e, const char *f)
{
    if (!strcmp(f, "ppl_mean"))
        return results_ppl_mean(e);
    if (!strncmp(f, "ppl.", 4)) {
        const struct results_ppl *p = results_entry_ppl(e, f + 4);
        return p ? p->value : NAN;
    }
    if (!strcmp(f, "memory_gb"))
        return e->memory_gb;
    if (!strcmp(f, "speed"))
        return e->speed;
    if (!strcmp(f, "bits") || !strcmp(f, "w") || !strcmp(f, "bits.w"))
        return e->w_bits;
    if (!strcmp(f, "a") || !strcmp(f, "bits.a"))
        return e->a_bits;
    if (!strcmp(f, "kv") || !strcmp(f, "bits.kv"))
        return e->kv_bits;
    if (!strcmp(f, "group_size") || !strcmp(f, "group"))
        return e->group_size ? e->group_size : NAN;
    if (!strncmp(f, "bench.", 6))
        f += 6;
    const struct results_bench *b = results_entry_bench(e, f);
    return b ? b->value : NAN;
}

/* Case-insensitive on model and method: `--method rtn` on the command line
 * and "RTN" in a sweep file name the same quantizer. */
void results_join_key(const struct results_entry *e, char *buf, size_t n)
{
    snprintf(buf, n, "%s|%s|w%da%dkv%d|g%d", e->model, e->method, e->w_bits,
             e->a_bits, e->kv_bits, e->group_size);
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

void results_default_id(const struct results_entry *e, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s/%s/w%da%dkv%d", e->model, e->method,
                     e->w_bits, e->a_bits, e->kv_bits);
    if (e->group_size && k >= 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, "/g%d", e->group_size);
}

/* ------------------------------------------------------------------ */
/* stores                                                              */

void results_store_init(struct results_store *s)
{
    memset(s, 0, sizeof *s);
}

void results_store_free(struct results_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        results_entry_free(&s->e[i]);
    free(s->e);
    free(s->notes_json);
    results_store_init(s);
}

int results_find(const struct results_store *s, const char *id)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->e[i].id, id))
            return i;
    return -1;
}

int results_find_key(const struct results_store *s, const struct results_entry *e)
{
    char k1[700], k2[700];
    results_join_key(e, k1, sizeof k1);
    for (int i = 0; i < s->n; i++) {
        results_join_key(&s->e[i], k2, sizeof k2);
        if (!strcmp(k1, k2))
            return i;
    }
    return -1;
}

/* Take ownership of *e (moved: *e is re-initialised). */
static int store_push(struct results_store *s, struct results_entry *e,
                      struct qerr *err)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        void *n = realloc(s->e, sizeof *s->e * (size_t)cap);
        if (!n)
            return qerr_set(err, QERR_NOMEM, "out of memory");
        s->e = n;
        s->cap = cap;
    }
    s->e[s->n++] = *e;
    results_entry_init(e);
    return QERR_OK;
}

int results_add_entry(struct results_store *s, const struct results_entry *e,
                      struct qerr *err)
{
    struct results_entry c;
    int rc = results_entry_copy(&c, e, err);
    if (rc)
        return rc;
    if (!c.id[0])
        results_default_id(&c, c.id, sizeof c.id);
    if (results_find(s, c.id) >= 0) {
        qerr_set(err, QERR_ARG, "duplicate result id '%s'", c.id);
        results_entry_free(&c);
        return QERR_ARG;
    }
    rc = store_push(s, &c, err);
    results_entry_free(&c);
    return rc;
}

int results_put_entry(struct results_store *s, const struct results_entry *e,
                      struct qerr *err)
{
    char id[sizeof e->id];
    if (e->id[0])
        memcpy(id, e->id, sizeof id);
    else
        results_default_id(e, id, sizeof id);
    int i = results_find(s, id);
    if (i < 0)
        return results_add_entry(s, e, err);
    struct results_entry c;
    int rc = results_entry_copy(&c, e, err);
    if (rc)
        return rc;
    memcpy(c.id, id, sizeof id);
    results_entry_free(&s->e[i]);
    s->e[i] = c;
    return QERR_OK;
}

/* Same measurement: equal to a relative 1e-6.  Tools print 9 significant
 * digits (qlens --json) or round-trip precision (this writer), and a rerun
 * of a multi-threaded evaluation may differ in the 7th digit; a real
 * conflict (another run, another setting) differs far more. */
static int num_eq(double a, double b)
{
    if (isnan(a) && isnan(b))
        return 1;
    return fabs(a - b) <= 1e-6 * fmax(1e-6, fmax(fabs(a), fabs(b)));
}

static int fill_num(double *dst, double src, int replace, const char *what,
                    const char *id, struct qerr *err)
{
    if (isnan(src))
        return QERR_OK;
    if (isnan(*dst) || replace || num_eq(*dst, src)) {
        *dst = src;
        return QERR_OK;
    }
    return qerr_set(err, QERR_FORMAT, "joining into '%s': %s differs (%g vs %g)",
                    id, what, *dst, src);
}

int results_join_into(struct results_entry *dst, const struct results_entry *src,
                      int replace, struct qerr *err)
{
    int rc;
    for (int i = 0; i < src->n_ppl; i++) {
        const struct results_ppl *p = &src->ppl[i];
        const struct results_ppl *q = results_entry_ppl(dst, p->dataset);
        if (q && !replace && !num_eq(q->value, p->value))
            return qerr_set(err, QERR_FORMAT, "joining into '%s': ppl.%s differs (%g vs %g)",
                            dst->id, p->dataset, q->value, p->value);
        if ((rc = results_entry_set_ppl(dst, p->dataset, p->value, p->se, err)))
            return rc;
    }
    for (int i = 0; i < src->n_bench; i++) {
        const struct results_bench *b = &src->bench[i];
        const struct results_bench *q = results_entry_bench(dst, b->name);
        if (q && !replace && !num_eq(q->value, b->value))
            return qerr_set(err, QERR_FORMAT, "joining into '%s': benchmarks.%s differs (%g vs %g)",
                            dst->id, b->name, q->value, b->value);
        if ((rc = results_entry_set_bench(dst, b->name, b->value, b->metric,
                                          b->unit, b->se, err)))
            return rc;
    }
    if ((rc = fill_num(&dst->memory_gb, src->memory_gb, replace, "memory_gb", dst->id, err)) ||
        (rc = fill_num(&dst->speed, src->speed, replace, "speed", dst->id, err)))
        return rc;
    if (src->settings_json && (!dst->settings_json || replace)) {
        char *s = strdup(src->settings_json);
        if (!s)
            return qerr_set(err, QERR_NOMEM, "out of memory");
        free(dst->settings_json);
        dst->settings_json = s;
    }
    if (!dst->source[0] || replace)
        memcpy(dst->source, src->source, sizeof dst->source);
    return QERR_OK;
}

static int entries_equal(const struct results_entry *a, const struct results_entry *b)
{
    char ka[700], kb[700];
    results_join_key(a, ka, sizeof ka);
    results_join_key(b, kb, sizeof kb);
    if (strcmp(ka, kb) || a->n_ppl != b->n_ppl || a->n_bench != b->n_bench)
        return 0;
    for (int i = 0; i < a->n_ppl; i++) {
        const struct results_ppl *q = results_entry_ppl(b, a->ppl[i].dataset);
        if (!q || !num_eq(q->value, a->ppl[i].value))
            return 0;
    }
    for (int i = 0; i < a->n_bench; i++) {
        const struct results_bench *q = results_entry_bench(b, a->bench[i].name);
        if (!q || !num_eq(q->value, a->bench[i].value) || strcmp(q->unit, a->bench[i].unit))
            return 0;
    }
    return num_eq(a->memory_gb, b->memory_gb) && num_eq(a->speed, b->speed);
}

static int merge_one(struct results_store *dst, const struct results_entry *e,
                     enum results_merge_mode mode, int *added, int *joined,
                     struct qerr *err)
{
    if (mode == RESULTS_MERGE_JOIN) {
        int k = results_find_key(dst, e);
        if (k >= 0) {
            (*joined)++;
            return results_join_into(&dst->e[k], e, 0, err);
        }
    }
    int i = results_find(dst, e->id);
    if (i >= 0) {
        if (mode == RESULTS_MERGE_REPLACE) {
            (*joined)++;
            return results_put_entry(dst, e, err);
        }
        if (entries_equal(&dst->e[i], e))
            return QERR_OK;
        return qerr_set(err, QERR_FORMAT,
                        "duplicate result id '%s' with different values "
                        "(use replace or join to combine)", e->id);
    }
    (*added)++;
    return results_add_entry(dst, e, err);
}

int results_merge(struct results_store *dst, const struct results_store *src,
                  enum results_merge_mode mode, int *n_added, int *n_joined,
                  struct qerr *err)
{
    int added = 0, joined = 0, rc = QERR_OK;
    for (int i = 0; i < src->n && !rc; i++)
        rc = merge_one(dst, &src->e[i], mode, &added, &joined, err);
    if (!dst->source[0])
        memcpy(dst->source, src->source, sizeof dst->source);
    if (!dst->citation[0])
        memcpy(dst->citation, src->citation, sizeof dst->citation);
    if (n_added)
        *n_added = added;
    if (n_joined)
        *n_joined = joined;
    return rc;
}
