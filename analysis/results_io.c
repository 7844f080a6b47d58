/* results_io: parse + validate a store from JSON text, and write it back
 * atomically.  Every error names the file and the JSON path of the value
 * ("mine.json: results[3].benchmarks.mmlu.unit: ..."); a syntax error names
 * the byte offset. */
#include "analysis/afile.h"
#include "analysis/results.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where we are while validating: file name and JSON path. */
struct vctx {
    const char *name;
    char path[256];
    struct qerr *err;
};

static int vfail(struct vctx *c, const char *what)
{
    return qerr_set(c->err, QERR_FORMAT, "%s: %s: %s", c->name,
                    c->path[0] ? c->path : "(top level)", what);
}

/* Append ".key" to the path; returns the old length to restore. */
static size_t vpush(struct vctx *c, const char *key)
{
    size_t n = strlen(c->path);
    snprintf(c->path + n, sizeof c->path - n, n ? ".%s" : "%s", key);
    return n;
}

static const char *type_name(const cJSON *j)
{
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsArray(j)) return "an array";
    return "an object";
}

static int wrong_type(struct vctx *c, const cJSON *j, const char *want)
{
    char m[128];
    snprintf(m, sizeof m, "expected %s, found %s", want, type_name(j));
    return vfail(c, m);
}

/* A string field into dst[n]. required: missing is an error. */
static int get_str(struct vctx *c, const cJSON *obj, const char *key, char *dst,
                   size_t n, int required)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    size_t old = vpush(c, key);
    int rc = QERR_OK;
    if (!j) {
        if (required)
            rc = vfail(c, "missing required field");
    } else if (!cJSON_IsString(j)) {
        rc = wrong_type(c, j, "a string");
    } else if (required && !j->valuestring[0]) {
        rc = vfail(c, "must not be empty");
    } else if (strlen(j->valuestring) >= n) {
        char m[64];
        snprintf(m, sizeof m, "string longer than %zu bytes", n - 1);
        rc = vfail(c, m);
    } else {
        memcpy(dst, j->valuestring, strlen(j->valuestring) + 1);
    }
    c->path[old] = '\0';
    return rc;
}

/* A number (or null when allow_null: *dst = NAN). */
static int num_val(struct vctx *c, const cJSON *j, double *dst, double lo,
                   int allow_null)
{
    if (allow_null && cJSON_IsNull(j)) {
        *dst = NAN;
        return QERR_OK;
    }
    if (!cJSON_IsNumber(j))
        return wrong_type(c, j, allow_null ? "a number or null" : "a number");
    if (!isfinite(j->valuedouble))
        return vfail(c, "not a finite number");
    if (j->valuedouble < lo) {
        char m[64];
        snprintf(m, sizeof m, "must be >= %g (found %g)", lo, j->valuedouble);
        return vfail(c, m);
    }
    *dst = j->valuedouble;
    return QERR_OK;
}

static int get_int(struct vctx *c, const cJSON *obj, const char *key, int *dst,
                   int lo, int hi, int required)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    size_t old = vpush(c, key);
    int rc = QERR_OK;
    if (!j) {
        if (required)
            rc = vfail(c, "missing required field");
    } else if (!required && cJSON_IsNull(j)) {
        *dst = 0;
    } else if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble)) {
        rc = wrong_type(c, j, "an integer");
    } else if (j->valuedouble < lo || j->valuedouble > hi) {
        char m[64];
        snprintf(m, sizeof m, "must be in %d..%d (found %g)", lo, hi, j->valuedouble);
        rc = vfail(c, m);
    } else {
        *dst = (int)j->valuedouble;
    }
    c->path[old] = '\0';
    return rc;
}

static int check_keys(struct vctx *c, const cJSON *obj, const char *const *known)
{
    for (const cJSON *k = obj->child; k; k = k->next) {
        const char *const *p = known;
        while (*p && strcmp(*p, k->string))
            p++;
        if (!*p) {
            char m[160];
            snprintf(m, sizeof m, "unknown field '%.100s'", k->string);
            return vfail(c, m);
        }
    }
    return QERR_OK;
}

static int parse_bits(struct vctx *c, const cJSON *obj, struct results_entry *e)
{
    static const char *const keys[] = {"w", "a", "kv", NULL};
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, "bits");
    size_t old = vpush(c, "bits");
    int rc;
    if (!b)
        rc = vfail(c, "missing required field");
    else if (!cJSON_IsObject(b))
        rc = wrong_type(c, b, "an object {\"w\":..,\"a\":..,\"kv\":..}");
    else if (!(rc = check_keys(c, b, keys)) &&
             !(rc = get_int(c, b, "w", &e->w_bits, 1, 64, 1)) &&
             !(rc = get_int(c, b, "a", &e->a_bits, 1, 64, 1)))
        rc = get_int(c, b, "kv", &e->kv_bits, 1, 64, 1);
    c->path[old] = '\0';
    return rc;
}

/* One perplexity: a number, or {"value":.., "stderr":..}. */
static int parse_ppl_one(struct vctx *c, const cJSON *j, struct results_entry *e)
{
    static const char *const keys[] = {"value", "stderr", NULL};
    double v, se = NAN;
    int rc;
    if (cJSON_IsObject(j)) {
        const cJSON *jv = cJSON_GetObjectItemCaseSensitive(j, "value");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(j, "stderr");
        if ((rc = check_keys(c, j, keys)))
            return rc;
        if (!jv) {
            vpush(c, "value");
            return vfail(c, "missing required field");
        }
        size_t old = vpush(c, "value");
        if ((rc = num_val(c, jv, &v, 0, 0)))
            return rc;
        c->path[old] = '\0';
        old = vpush(c, "stderr");
        if (js && (rc = num_val(c, js, &se, 0, 1)))
            return rc;
        c->path[old] = '\0';
    } else if ((rc = num_val(c, j, &v, 0, 0))) {
        return rc;
    }
    if (v <= 0)
        return vfail(c, "perplexity must be > 0");
    if (strlen(j->string) >= sizeof e->ppl[0].dataset)
        return vfail(c, "dataset name too long");
    return results_entry_set_ppl(e, j->string, v, se, c->err);
}

/* An optional object member `key` mapping names to values ({dataset: ppl},
 * {benchmark: {...}}): each name once, each value through parse_one. */
static int parse_map(struct vctx *c, const cJSON *obj, const char *key, const char *shape,
                     const char *what, const void *(*find)(const struct results_entry *, const char *),
                     int (*parse_one)(struct vctx *, const cJSON *, struct results_entry *),
                     struct results_entry *e)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!p || cJSON_IsNull(p))
        return QERR_OK;
    size_t old = vpush(c, key);
    int rc = QERR_OK;
    if (!cJSON_IsObject(p))
        rc = wrong_type(c, p, shape);
    for (const cJSON *d = cJSON_IsObject(p) ? p->child : NULL; d && !rc; d = d->next) {
        size_t o2 = vpush(c, d->string);
        if (find(e, d->string)) {
            char m[64];
            snprintf(m, sizeof m, "duplicate %s", what);
            rc = vfail(c, m);
        } else {
            rc = parse_one(c, d, e);
        }
        c->path[o2] = '\0';
    }
    c->path[old] = '\0';
    return rc;
}

static const void *find_ppl(const struct results_entry *e, const char *name)
{
    return results_entry_ppl(e, name);
}

static const void *find_bench(const struct results_entry *e, const char *name)
{
    return results_entry_bench(e, name);
}

static int parse_ppl(struct vctx *c, const cJSON *obj, struct results_entry *e)
{
    return parse_map(c, obj, "ppl", "an object {dataset: perplexity}", "dataset", find_ppl,
                     parse_ppl_one, e);
}

static int parse_bench_one(struct vctx *c, const cJSON *j, struct results_entry *e)
{
    static const char *const keys[] = {"value", "metric", "unit", "stderr", NULL};
    struct results_bench b = {.se = NAN};
    int rc;
    if (!cJSON_IsObject(j))
        return wrong_type(c, j, "an object {\"value\":..,\"metric\":..,\"unit\":..}");
    if ((rc = check_keys(c, j, keys)))
        return rc;
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive(j, "value");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(j, "stderr");
    size_t old = vpush(c, "value");
    if (!jv)
        return vfail(c, "missing required field");
    if ((rc = num_val(c, jv, &b.value, -INFINITY, 0)))
        return rc;
    c->path[old] = '\0';
    old = vpush(c, "stderr");
    if (js && (rc = num_val(c, js, &b.se, 0, 1)))
        return rc;
    c->path[old] = '\0';
    if ((rc = get_str(c, j, "metric", b.metric, sizeof b.metric, 0)) ||
        (rc = get_str(c, j, "unit", b.unit, sizeof b.unit, 1)))
        return rc;
    int known = 0;
    for (const char *const *u = results_units; *u; u++)
        known |= !strcmp(*u, b.unit);
    if (!known) {
        char m[200];
        vpush(c, "unit");
        snprintf(m, sizeof m, "unknown unit '%.40s' (known: percent, fraction, "
                 "bleu, score, bias)", b.unit);
        return vfail(c, m);
    }
    if (strlen(j->string) >= sizeof b.name)
        return vfail(c, "benchmark name too long");
    return results_entry_set_bench(e, j->string, b.value, b.metric, b.unit, b.se, c->err);
}

static int parse_benchmarks(struct vctx *c, const cJSON *obj, struct results_entry *e)
{
    return parse_map(c, obj, "benchmarks", "an object {benchmark: {...}}", "benchmark",
                     find_bench, parse_bench_one, e);
}

static int parse_optnum(struct vctx *c, const cJSON *obj, const char *key, double *dst)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j)
        return QERR_OK;
    size_t old = vpush(c, key);
    int rc = num_val(c, j, dst, 0, 1);
    c->path[old] = '\0';
    return rc;
}

static int parse_settings(struct vctx *c, const cJSON *obj, struct results_entry *e)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "settings");
    if (!j || cJSON_IsNull(j))
        return QERR_OK;
    size_t old = vpush(c, "settings");
    int rc = QERR_OK;
    if (!cJSON_IsObject(j))
        rc = wrong_type(c, j, "an object");
    else if (!(e->settings_json = cJSON_PrintUnformatted(j)))
        rc = qerr_set(c->err, QERR_NOMEM, "out of memory");
    c->path[old] = '\0';
    return rc;
}

static int parse_entry(struct vctx *c, const cJSON *j, struct results_entry *e)
{
    static const char *const keys[] = {"id", "model", "method", "bits", "group_size",
                                       "settings", "ppl", "benchmarks", "memory_gb",
                                       "speed", "source", NULL};
    int rc;
    if (!cJSON_IsObject(j))
        return wrong_type(c, j, "an object");
    if ((rc = check_keys(c, j, keys)) ||
        (rc = get_str(c, j, "id", e->id, sizeof e->id, 1)) ||
        (rc = get_str(c, j, "model", e->model, sizeof e->model, 1)) ||
        (rc = get_str(c, j, "method", e->method, sizeof e->method, 1)) ||
        (rc = parse_bits(c, j, e)) ||
        (rc = get_int(c, j, "group_size", &e->group_size, 0, 1 << 30, 0)) ||
        (rc = parse_settings(c, j, e)) ||
        (rc = parse_ppl(c, j, e)) ||
        (rc = parse_benchmarks(c, j, e)) ||
        (rc = parse_optnum(c, j, "memory_gb", &e->memory_gb)) ||
        (rc = parse_optnum(c, j, "speed", &e->speed)))
        return rc;
    return get_str(c, j, "source", e->source, sizeof e->source, 0);
}

static int parse_header(struct vctx *c, const cJSON *root, struct results_store *s)
{
    static const char *const keys[] = {"schema", "source", "citation", "notes",
                                       "results", NULL};
    char schema[64] = "";
    int rc;
    if (!cJSON_IsObject(root))
        return wrong_type(c, root, "an object {\"schema\": \"" RESULTS_SCHEMA "\", ...}");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "results");
    if (!cJSON_GetObjectItemCaseSensitive(root, "schema") &&
        (cJSON_IsObject(res) || cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "ppl")))) {
        strcpy(c->path, "schema");
        return vfail(c, "missing: this looks like lm-evaluation-harness or qlens ppl/quant "
                     "output, not a results store; convert it with 'qlens results import "
                     "FILE --into STORE'");
    }
    if ((rc = check_keys(c, root, keys)) ||
        (rc = get_str(c, root, "schema", schema, sizeof schema, 1)))
        return rc;
    if (strcmp(schema, RESULTS_SCHEMA)) {
        char m[160];
        snprintf(m, sizeof m, "schema '%.60s' is not '" RESULTS_SCHEMA "'", schema);
        strcpy(c->path, "schema");
        return vfail(c, m);
    }
    char src[sizeof s->source] = "", cit[sizeof s->citation] = "";
    if ((rc = get_str(c, root, "source", src, sizeof src, 0)) ||
        (rc = get_str(c, root, "citation", cit, sizeof cit, 0)))
        return rc;
    if (!s->source[0])
        memcpy(s->source, src, sizeof src);
    if (!s->citation[0])
        memcpy(s->citation, cit, sizeof cit);
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(root, "notes");
    if (notes && !cJSON_IsArray(notes)) {
        strcpy(c->path, "notes");
        return wrong_type(c, notes, "an array of strings");
    }
    if (notes && !s->notes_json && !(s->notes_json = cJSON_PrintUnformatted(notes)))
        return qerr_set(c->err, QERR_NOMEM, "out of memory");
    return QERR_OK;
}

static int parse_results(struct vctx *c, const cJSON *root, struct results_store *s)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "results");
    strcpy(c->path, "results");
    if (!arr)
        return vfail(c, "missing required field");
    if (!cJSON_IsArray(arr))
        return wrong_type(c, arr, "an array of entries");
    int i = 0, rc = QERR_OK;
    for (const cJSON *j = arr->child; j && !rc; j = j->next, i++) {
        struct results_entry e;
        results_entry_init(&e);
        snprintf(c->path, sizeof c->path, "results[%d]", i);
        rc = parse_entry(c, j, &e);
        if (!rc && results_find(s, e.id) >= 0) {
            char m[220];
            snprintf(m, sizeof m, "duplicate id '%.160s'", e.id);
            strcat(c->path, ".id");
            rc = vfail(c, m);
        }
        if (!rc)
            rc = results_add_entry(s, &e, c->err);
        results_entry_free(&e);
    }
    return rc;
}

int results_parse(struct results_store *s, const char *text, const char *name,
                  struct qerr *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        return qerr_set(err, QERR_FORMAT, "%s: offset %zu: JSON syntax error", name, off);
    }
    struct vctx c = {.name = name, .err = err};
    int n0 = s->n;
    int rc = parse_header(&c, root, s);
    if (!rc)
        rc = parse_results(&c, root, s);
    cJSON_Delete(root);
    if (rc) /* all or nothing: drop what this file added */
        while (s->n > n0)
            results_entry_free(&s->e[--s->n]);
    return rc;
}

static cJSON *entry_json(const struct results_entry *e);

/* An entry made in memory (an import) passes the very rules a store file
 * is loaded with: written as JSON and parsed back, so what is saved always
 * loads again. */
int results_entry_check(const struct results_entry *e, const char *name, struct qerr *err)
{
    cJSON *j = entry_json(e);
    if (!j)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    struct vctx c = {.name = name, .err = err};
    snprintf(c.path, sizeof c.path, "entry '%.160s'", e->id);
    struct results_entry back;
    results_entry_init(&back);
    int rc = parse_entry(&c, j, &back);
    results_entry_free(&back);
    cJSON_Delete(j);
    return rc;
}

int results_load(struct results_store *s, const char *path, struct qerr *err)
{
    size_t n;
    char *text = afile_read(path, 0, &n, err);
    if (!text)
        return err ? err->code : QERR_IO;
    int rc = results_parse(s, text, path, err);
    free(text);
    return rc;
}


/* ------------------------------------------------------------------ */
/* writing                                                             */

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *entry_json(const struct results_entry *e)
{
    /* (a NaN or infinite number stays a number here, so the check of
     * results_entry_check sees it and says "not a finite number") */
    cJSON *o = cJSON_CreateObject(), *b = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddStringToObject(o, "model", e->model);
    cJSON_AddStringToObject(o, "method", e->method);
    cJSON_AddNumberToObject(b, "w", e->w_bits);
    cJSON_AddNumberToObject(b, "a", e->a_bits);
    cJSON_AddNumberToObject(b, "kv", e->kv_bits);
    cJSON_AddItemToObject(o, "bits", b);
    cJSON_AddItemToObject(o, "group_size",
                          e->group_size ? cJSON_CreateNumber(e->group_size) : cJSON_CreateNull());
    if (e->settings_json)
        cJSON_AddItemToObject(o, "settings", cJSON_Parse(e->settings_json));
    cJSON *p = cJSON_AddObjectToObject(o, "ppl");
    for (int i = 0; i < e->n_ppl; i++) {
        const struct results_ppl *q = &e->ppl[i];
        if (isfinite(q->se)) {
            cJSON *x = cJSON_AddObjectToObject(p, q->dataset);
            cJSON_AddNumberToObject(x, "value", q->value);
            cJSON_AddNumberToObject(x, "stderr", q->se);
        } else {
            cJSON_AddNumberToObject(p, q->dataset, q->value);
        }
    }
    cJSON *bm = cJSON_AddObjectToObject(o, "benchmarks");
    for (int i = 0; i < e->n_bench; i++) {
        const struct results_bench *q = &e->bench[i];
        cJSON *x = cJSON_AddObjectToObject(bm, q->name);
        cJSON_AddNumberToObject(x, "value", q->value);
        cJSON_AddStringToObject(x, "metric", q->metric);
        cJSON_AddStringToObject(x, "unit", q->unit);
        if (isfinite(q->se))
            cJSON_AddNumberToObject(x, "stderr", q->se);
    }
    cJSON_AddItemToObject(o, "memory_gb", num_or_null(e->memory_gb));
    cJSON_AddItemToObject(o, "speed", num_or_null(e->speed));
    if (e->source[0])
        cJSON_AddStringToObject(o, "source", e->source);
    return o;
}

/* A growing text buffer for the writer. */
struct sbuf {
    char *p;
    size_t n, cap;
    int bad;
};

static void sb_put(struct sbuf *b, const char *s)
{
    size_t l = s ? strlen(s) : 0;
    if (!s)
        b->bad = 1;
    if (b->bad)
        return;
    if (b->n + l + 1 > b->cap) {
        size_t cap = (b->n + l + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->bad = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

/* Put `"key": <compact JSON of j>` and free j. */
static void sb_field(struct sbuf *b, const char *key, cJSON *j, const char *after)
{
    char *t = cJSON_PrintUnformatted(j);
    sb_put(b, " \"");
    sb_put(b, key);
    sb_put(b, "\": ");
    sb_put(b, t);
    sb_put(b, after);
    free(t);
    cJSON_Delete(j);
}

/* Header fields one per line, then one entry per line: compact, readable
 * and friendly to diffs (the same layout as the bundled assets). */
char *results_to_json(const struct results_store *s)
{
    struct sbuf b = {0};
    sb_put(&b, "{\n");
    sb_field(&b, "schema", cJSON_CreateString(RESULTS_SCHEMA), ",\n");
    sb_field(&b, "source", cJSON_CreateString(s->source), ",\n");
    sb_field(&b, "citation", cJSON_CreateString(s->citation), ",\n");
    if (s->notes_json)
        sb_field(&b, "notes", cJSON_Parse(s->notes_json), ",\n");
    sb_put(&b, " \"results\": [");
    for (int i = 0; i < s->n; i++) {
        cJSON *e = entry_json(&s->e[i]);
        char *t = cJSON_PrintUnformatted(e);
        cJSON_Delete(e);
        sb_put(&b, i ? ",\n  " : "\n  ");
        sb_put(&b, t);
        free(t);
    }
    sb_put(&b, s->n ? "\n ]\n}" : "]\n}");
    if (b.bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void dir_of(const char *path, char *dir, size_t n)
{
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, n, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
}

int results_lock(const char *path, struct qerr *err)
{
    /* the directory the save will write in: the target's, for a link */
    char target[PATH_MAX], dir[PATH_MAX];
    int rc = afile_target(path, target, sizeof target, err);
    if (rc)
        return rc;
    dir_of(target, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return qerr_set(err, QERR_IO, "%s: cannot open its directory: %s", path,
                        strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return qerr_set(err, QERR_IO, "%s: cannot lock its directory: %s", path,
                            strerror(e));
        }
    }
    return fd;
}

void results_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing drops the flock */
}

int results_save(const struct results_store *s, const char *path, struct qerr *err)
{
    char *txt = results_to_json(s);
    if (!txt)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory writing", path);
    struct afile a;
    int rc = afile_open(&a, path, err);
    if (!rc) {
        /* cJSON leaves no final newline */
        fputs(txt, a.f);
        fputc('\n', a.f);
        rc = afile_commit(&a, err);
    }
    free(txt);
    return rc;
}
