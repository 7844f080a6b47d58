/* sens_cache: sensitivity results kept between runs (src/sens_cache.h). */
#include "src/sens_cache.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "src/fileid.h"
#include "src/paths.h"

#define CACHE_VERSION 1
#define CACHE_MAX ((size_t)1 << 28) /* a cache file larger than this is not ours */

/* ---- identity ---- */

/* The hash of a regular file's two ends (fileid.h; 0 when not one). */
static int file_head(const char *path, const struct stat *st, unsigned long long *h,
                     struct qerr *err)
{
    *h = 0;
    if (!S_ISREG(st->st_mode))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    uint64_t x = 0;
    int rc = fd < 0 || fileid_hash_ends(fd, (uint64_t)st->st_size, &x) ? -1 : 0;
    if (rc)
        rc = qerr_set(err, QERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    *h = x;
    return rc;
}

static void file_stamp(const char *path, long long *size, long long *mtime)
{
    struct stat st;
    *size = *mtime = -1;
    if (path && stat(path, &st) == 0) {
        *size = (long long)st.st_size;
        *mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    }
}

int sens_cache_ident(const struct pipe_env *e, const struct pipe_opts *o,
                     struct sens_ident *id, struct qerr *err)
{
    memset(id, 0, sizeof *id);
    struct stat st;
    const char *mp = e->mp->path;
    if (!realpath(mp, id->model) || stat(id->model, &st))
        return qerr_set(err, QERR_IO, "%s: cannot stat: %s", mp, strerror(errno));
    id->size = (long long)st.st_size;
    id->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    int rc = file_head(id->model, &st, &id->head, err);
    if (rc)
        return rc;
    long long isz, imt;
    file_stamp(o->imatrix, &isz, &imt);
    snprintf(id->config, sizeof id->config,
             "v%d ctx=%d chunks=%ld calib_ctx=%d calib_chunks=%ld bos=%d imatrix=%s:%lld:%lld",
             CACHE_VERSION, e->n_ctx, o->chunks > 0 ? o->chunks : 0, e->calib_ctx,
             o->calib_chunks, e->bos, o->imatrix ? o->imatrix : "", isz, imt);
    snprintf(id->eval, sizeof id->eval, "%s", e->eval_path ? e->eval_path : "");
    snprintf(id->calib, sizeof id->calib, "%s", e->calib_path ? e->calib_path : "");
    id->n_eval = e->n_eval;
    id->n_calib = e->n_calib;
    id->eval_hash = fileid_fnv(FILEID_FNV_INIT, e->eval_ids, e->n_eval * sizeof *e->eval_ids);
    id->calib_hash = fileid_fnv(FILEID_FNV_INIT, e->calib_ids, e->n_calib * sizeof *e->calib_ids);
    return 0;
}

int sens_cache_path(const char *dir, const struct sens_ident *id, char *buf, size_t cap,
                    struct qerr *err)
{
    char d[PATH_MAX];
    if (dir)
        snprintf(d, sizeof d, "%s", dir);
    else if (paths_cache_dir(d, sizeof d))
        return qerr_set(err, QERR_ARG, "no cache folder (set QLENS_CACHE_DIR or HOME)");
    unsigned long long h = fileid_fnv(FILEID_FNV_INIT, id->model, strlen(id->model) + 1);
    h = fileid_fnv(h, id->config, strlen(id->config));
    int n = snprintf(buf, cap, "%s/sens/sens-%016llx.json", d, h);
    if (n < 0 || (size_t)n >= cap)
        return qerr_set(err, QERR_ARG, "%s: cache folder path too long", d);
    return 0;
}

/* ---- the file ---- */

/* The cell's fields, in file order. */
#define CELL_FIELDS(X) \
    X(bits) X(bpw) X(kl_mean) X(kl_p99) X(top1) X(ppl) X(out_err2) X(imp_mse) X(mse)

static void jdbl(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.17g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void write_cell(FILE *f, int *first, const char *tensor, const char *spec,
                       const struct sens_cell *c)
{
    fprintf(f, "%s\n{\"tensor\":", *first ? "" : ",");
    *first = 0;
    jstr(f, tensor);
    fprintf(f, ",\"spec\":");
    jstr(f, spec);
#define W(name) jdbl(f, #name, c->name);
    CELL_FIELDS(W)
#undef W
    fputc('}', f);
}

static void write_text(FILE *f, const char *key, const char *path, size_t n,
                       unsigned long long h)
{
    fprintf(f, ",\"%s\":{\"path\":", key);
    jstr(f, path);
    fprintf(f, ",\"tokens\":%zu,\"hash\":\"%016llx\"}", n, h);
}

static void write_all(FILE *f, const struct sens *s, const struct sens_ident *id)
{
    fprintf(f, "{\"qlens\":\"sensitivity-cache\",\"version\":%d,\"model\":{\"path\":",
            CACHE_VERSION);
    jstr(f, id->model);
    fprintf(f, ",\"size\":%lld,\"mtime_ns\":%lld,\"head\":\"%016llx\"},\"config\":", id->size,
            id->mtime_ns, id->head);
    jstr(f, id->config);
    write_text(f, "eval", id->eval, id->n_eval, id->eval_hash);
    write_text(f, "calib", id->calib, id->n_calib, id->calib_hash);
    fprintf(f, ",\"base\":{\"valid\":%d", s->have_base);
    jdbl(f, "ppl", s->base.ppl);
    fprintf(f, ",\"chunks\":%d,\"ctx\":%d,\"scored\":%zu,\"calib_chunks\":%d,\"calib_ctx\":%d}",
            s->base.n_chunks, s->base.n_ctx, s->base.n_scored, s->calib_chunks, s->calib_ctx);
    fprintf(f, ",\"cells\":[");
    int first = 1;
    for (int ci = 0; ci < s->n_c; ci++) {
        char spec[SENS_SPEC_MAX];
        sens_cand_spec(&s->c[ci], spec, sizeof spec);
        for (int ti = 0; ti < s->n_t; ti++)
            if (s->cell[(size_t)ti * s->n_c + ci].done)
                write_cell(f, &first, s->t[ti].name, spec, &s->cell[(size_t)ti * s->n_c + ci]);
    }
    for (int i = 0; i < s->n_x; i++)
        write_cell(f, &first, s->x[i].tensor, s->x[i].spec, &s->x[i].v);
    fprintf(f, "\n]}\n");
}

/* mkdir -p of path's folder. */
static int make_dirs(const char *path, struct qerr *err)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d)
        return 0;
    *slash = '\0';
    for (char *p = d + 1; ; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(d, 0755) && errno != EEXIST)
            return qerr_set(err, QERR_IO, "%s: cannot create the cache folder: %s", d,
                            strerror(errno));
        if (!(*p = c))
            break;
    }
    return 0;
}

int sens_cache_save(const struct sens *s, const char *path, const struct sens_ident *id,
                    struct qerr *err)
{
    struct afile af;
    int rc = make_dirs(path, err);
    if (!rc)
        rc = afile_open(&af, path, err);
    if (rc)
        return rc;
    write_all(af.f, s, id);
    return afile_commit(&af, err);
}

/* ---- reading ---- */

static int get_d(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNull(v)) {
        *out = NAN;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static const char *get_s(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_hex(const cJSON *o, const char *key, unsigned long long *out)
{
    const char *s = get_s(o, key);
    char *end;
    if (!s)
        return -1;
    *out = strtoull(s, &end, 16);
    return *end || end == s ? -1 : 0;
}

/* "" when the text matches, else what changed. */
static const char *text_diff(const cJSON *t, const char *path, size_t n, unsigned long long h)
{
    const char *p = get_s(t, "path");
    double tok;
    unsigned long long fh;
    if (!p || get_d(t, "tokens", &tok) || get_hex(t, "hash", &fh))
        return NULL;
    return strcmp(p, path) ? "another file" : tok != (double)n || fh != h ? "its text changed" : "";
}

/* Why the file does not describe this run ("" = it does), NULL = corrupt. */
static const char *stale_reason(const cJSON *root, const struct sens_ident *id, char *buf,
                                size_t cap)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    double size, mt;
    unsigned long long head;
    const char *cfg = get_s(root, "config"), *mp = get_s(m, "path");
    if (!cfg || !mp || get_d(m, "size", &size) || get_d(m, "mtime_ns", &mt) ||
        get_hex(m, "head", &head))
        return NULL;
    if (strcmp(cfg, id->config) || strcmp(mp, id->model))
        return "settings changed"; /* a hash collision of the file name */
    if (size != (double)id->size || head != id->head)
        return "model changed (size or contents)";
    if (mt != (double)id->mtime_ns)
        return "model changed (modification time)";
    const char *ev = text_diff(cJSON_GetObjectItemCaseSensitive(root, "eval"), id->eval,
                               id->n_eval, id->eval_hash);
    const char *ca = text_diff(cJSON_GetObjectItemCaseSensitive(root, "calib"), id->calib,
                               id->n_calib, id->calib_hash);
    if (!ev || !ca)
        return NULL;
    if (*ev)
        return snprintf(buf, cap, "evaluation text changed (%s)", ev), buf;
    if (*ca)
        return snprintf(buf, cap, "calibration text changed (%s)", ca), buf;
    return "";
}

static int read_cell(const cJSON *o, struct sens_xcell *x)
{
    const char *t = get_s(o, "tensor"), *sp = get_s(o, "spec");
    if (!t || !sp || strlen(t) >= sizeof x->tensor || strlen(sp) >= sizeof x->spec)
        return -1;
    snprintf(x->tensor, sizeof x->tensor, "%s", t);
    snprintf(x->spec, sizeof x->spec, "%s", sp);
#define R(name) if (get_d(o, #name, &x->v.name)) return -1;
    CELL_FIELDS(R)
#undef R
    if (!isfinite(x->v.bits) || x->v.bits < 0 || !isfinite(x->v.kl_mean))
        return -1;
    x->v.done = 1;
    return 0;
}

/* The run's cell for x, or NULL (spec strings of the run's candidates in
 * specs). */
static struct sens_cell *find_cell(struct sens *s, char (*specs)[SENS_SPEC_MAX],
                                   const struct sens_xcell *x)
{
    for (int ci = 0; ci < s->n_c; ci++)
        if (!strcmp(specs[ci], x->spec))
            for (int ti = 0; ti < s->n_t; ti++)
                if (!strcmp(s->t[ti].name, x->tensor))
                    return &s->cell[(size_t)ti * s->n_c + ci];
    return NULL;
}

static int read_base(struct sens *s, const cJSON *b)
{
    double v, ch, ctx, sc, cc, cx;
    if (get_d(b, "valid", &v) || get_d(b, "ppl", &s->base.ppl) || get_d(b, "chunks", &ch) ||
        get_d(b, "ctx", &ctx) || get_d(b, "scored", &sc) || get_d(b, "calib_chunks", &cc) ||
        get_d(b, "calib_ctx", &cx))
        return -1;
    if (v == 1) {
        s->have_base = 1;
        s->base.n_chunks = (int)ch, s->base.n_ctx = (int)ctx, s->base.n_scored = (size_t)sc;
        s->calib_chunks = (int)cc, s->calib_ctx = (int)cx;
    }
    return 0;
}

static int read_cells(struct sens *s, const cJSON *cells)
{
    int n = cJSON_GetArraySize(cells), rc = 0;
    char (*specs)[SENS_SPEC_MAX] = calloc((size_t)s->n_c + 1, sizeof *specs);
    s->x = calloc((size_t)n + 1, sizeof *s->x);
    if (!specs || !s->x) {
        free(specs);
        return -1;
    }
    for (int ci = 0; ci < s->n_c; ci++)
        sens_cand_spec(&s->c[ci], specs[ci], sizeof specs[ci]);
    const cJSON *o;
    cJSON_ArrayForEach(o, cells) {
        struct sens_xcell *x = &s->x[s->n_x];
        if ((rc = read_cell(o, x)))
            break;
        struct sens_cell *c = find_cell(s, specs, x);
        if (c && !c->done) {
            *c = x->v;
            s->n_reused++;
        } else if (!c)
            s->n_x++;
    }
    free(specs);
    return rc;
}

static void forget(struct sens *s)
{
    for (size_t i = 0; i < (size_t)s->n_t * s->n_c; i++)
        memset(&s->cell[i], 0, sizeof s->cell[i]);
    free(s->x);
    s->x = NULL;
    s->n_x = s->n_reused = s->have_base = 0;
}

static enum sens_cache_state parse(struct sens *s, const char *text, size_t n,
                                   const struct sens_ident *id, const char **why, char *buf,
                                   size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(text, n);
    const char *q = get_s(root, "qlens");
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(root, "cells");
    double ver;
    enum sens_cache_state st = SENS_CACHE_CORRUPT;
    *why = "not a qlens sensitivity cache";
    if (root && q && !strcmp(q, "sensitivity-cache") && cJSON_IsArray(cells) &&
        !get_d(root, "version", &ver)) {
        *why = ver != CACHE_VERSION ? "another version of qlens wrote it"
                                    : stale_reason(root, id, buf, cap);
        if (!*why)
            *why = "a field is missing or of the wrong type";
        else if (**why)
            st = SENS_CACHE_STALE;
        else if (read_base(s, cJSON_GetObjectItemCaseSensitive(root, "base")) ||
                 read_cells(s, cells))
            *why = "a cell is missing a field or is not a finite number";
        else
            st = SENS_CACHE_LOADED;
    }
    cJSON_Delete(root);
    return st;
}

enum sens_cache_state sens_cache_load(struct sens *s, const char *path,
                                      const struct sens_ident *id, char *note, size_t cap)
{
    struct stat st;
    note[0] = '\0';
    if (stat(path, &st) && errno == ENOENT)
        return SENS_CACHE_NONE;
    struct qerr err = {0};
    size_t n;
    char *text = afile_read(path, CACHE_MAX, &n, &err);
    if (!text) {
        snprintf(note, cap, "cache file %s is unreadable (%s); recomputing", path, err.msg);
        return SENS_CACHE_CORRUPT;
    }
    const char *why;
    char buf[128];
    enum sens_cache_state r = parse(s, text, n, id, &why, buf, sizeof buf);
    free(text);
    if (r == SENS_CACHE_STALE)
        snprintf(note, cap, "cache for %s is stale: %s; recomputing", id->model, why);
    else if (r == SENS_CACHE_CORRUPT)
        snprintf(note, cap, "cache file %s is corrupt (%s); recomputing", path, why);
    if (r != SENS_CACHE_LOADED)
        forget(s);
    return r;
}
