/* imatrix: llama.cpp importance-matrix files (see imatrix.h). */
#include "src/imatrix.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "src/calib.h"
#include "src/gguf.h"

/* Larger files are refused before reading: 4 GiB of floats is far beyond
 * any model's sum of in_features. */
#define IM_MAX_FILE (UINT64_C(1) << 32)
#define IM_MAX_ENTRIES 1000000

void qimatrix_free(struct qimatrix *im)
{
    for (int i = 0; i < im->n; i++)
        free(im->e[i].values);
    free(im->e);
    memset(im, 0, sizeof *im);
}

/* "blk.0.attn_q.weight" -> "blk.0.attn_q" (model.h's canonical names). */
static void canonical(const char *src, char *out, size_t cap)
{
    size_t n = strlen(src);
    if (n > 7 && !strcmp(src + n - 7, ".weight"))
        n -= 7;
    snprintf(out, cap, "%.*s", (int)n, src);
}

const struct qimatrix_entry *qimatrix_find(const struct qimatrix *im, const char *name)
{
    for (int i = 0; i < im->n; i++)
        if (!strcmp(im->e[i].name, name) || !strcmp(im->e[i].src_name, name))
            return &im->e[i];
    return NULL;
}

static struct qimatrix_entry *add_entry(struct qimatrix *im, const char *src_name, int64_t n,
                                        int64_t n_mat, struct qerr *err)
{
    if (im->n % 64 == 0) {
        struct qimatrix_entry *e = realloc(im->e, (size_t)(im->n + 64) * sizeof *e);
        if (!e) {
            qerr_set(err, QERR_NOMEM, "out of memory");
            return NULL;
        }
        im->e = e;
    }
    struct qimatrix_entry *e = &im->e[im->n];
    memset(e, 0, sizeof *e);
    snprintf(e->src_name, sizeof e->src_name, "%s", src_name);
    canonical(src_name, e->name, sizeof e->name);
    e->n = n;
    e->n_mat = n_mat;
    e->values = malloc((size_t)(n * n_mat) * sizeof(float));
    if (!e->values) {
        qerr_set(err, QERR_NOMEM, "out of memory for imatrix entry %s (%lld values)", src_name,
                 (long long)(n * n_mat));
        return NULL;
    }
    im->n++;
    return e;
}

int qimatrix_add(struct qimatrix *im, const char *name, int64_t n, int64_t ncall,
                 const float *values, struct qerr *err)
{
    char src[QM_NAME_MAX + 8];
    snprintf(src, sizeof src, "%s.weight", name);
    if (strlen(src) >= QM_NAME_MAX || n <= 0)
        return qerr_set(err, QERR_ARG, "imatrix entry %s: bad name or length %lld", name,
                        (long long)n);
    if (qimatrix_find(im, name))
        return qerr_set(err, QERR_ARG, "imatrix entry %s: already present", name);
    struct qimatrix_entry *e = add_entry(im, src, n, 1, err);
    if (!e)
        return QERR_NOMEM;
    e->ncall = ncall;
    memcpy(e->values, values, (size_t)n * sizeof(float));
    return 0;
}

/* ---- legacy binary ---- */

struct rd {
    const uint8_t *p;
    size_t size, pos;
    const char *path;
    struct qerr *err;
};

static int rd_i32(struct rd *r, int32_t *v, const char *entry, const char *field)
{
    if (r->size - r->pos < 4)
        return qerr_set(r->err, QERR_FORMAT, "%s: offset %zu: %s: %s: file ends (truncated)",
                        r->path, r->pos, entry, field);
    memcpy(v, r->p + r->pos, 4);
    r->pos += 4;
    return 0;
}

static int legacy_entry(struct qimatrix *im, struct rd *r, int i)
{
    char ename[48], name[QM_NAME_MAX];
    snprintf(ename, sizeof ename, "entry %d", i);
    int32_t len = 0, ncall = 0, nval = 0;
    if (rd_i32(r, &len, ename, "name length"))
        return QERR_FORMAT;
    if (len <= 0 || len >= QM_NAME_MAX || (size_t)len > r->size - r->pos)
        return qerr_set(r->err, QERR_FORMAT, "%s: offset %zu: %s: name length %d (1..%d, inside the file)",
                        r->path, r->pos - 4, ename, len, QM_NAME_MAX - 1);
    memcpy(name, r->p + r->pos, (size_t)len);
    name[len] = '\0';
    if (strlen(name) != (size_t)len)
        return qerr_set(r->err, QERR_FORMAT, "%s: offset %zu: %s: name holds a NUL byte", r->path,
                        r->pos, ename);
    r->pos += (size_t)len;
    snprintf(ename, sizeof ename, "entry %d (%.30s)", i, name);
    if (rd_i32(r, &ncall, ename, "ncall") || rd_i32(r, &nval, ename, "nval"))
        return QERR_FORMAT;
    if (ncall < 0)
        return qerr_set(r->err, QERR_FORMAT, "%s: offset %zu: %s: ncall is %d", r->path,
                        r->pos - 8, ename, ncall);
    if (nval < 1 || (size_t)nval > (r->size - r->pos) / 4)
        return qerr_set(r->err, QERR_FORMAT,
                        "%s: offset %zu: %s: nval %d (at least 1, %zu floats left in the file)",
                        r->path, r->pos - 4, ename, nval, (r->size - r->pos) / 4);
    if (qimatrix_find(im, name))
        return qerr_set(r->err, QERR_FORMAT, "%s: %s: name appears twice", r->path, ename);
    struct qimatrix_entry *e = add_entry(im, name, nval, 1, r->err);
    if (!e)
        return QERR_NOMEM;
    e->ncall = ncall;
    memcpy(e->values, r->p + r->pos, (size_t)nval * 4);
    r->pos += (size_t)nval * 4;
    for (int32_t j = 0; j < nval; j++) {
        if (!isfinite(e->values[j]) || e->values[j] < 0)
            return qerr_set(r->err, QERR_FORMAT, "%s: %s: value %d is %g (a mean square)", r->path,
                            ename, j, (double)e->values[j]);
        if (ncall > 0) /* stored as Σ over calls; llama-quantize divides */
            e->values[j] /= (float)ncall;
    }
    return 0;
}

static int read_legacy(struct qimatrix *im, struct rd *r)
{
    int32_t n = 0;
    if (rd_i32(r, &n, "header", "entry count"))
        return QERR_FORMAT;
    if (n < 1 || n > IM_MAX_ENTRIES)
        return qerr_set(r->err, QERR_FORMAT, "%s: offset 0: entry count %d (1..%d)", r->path, n,
                        IM_MAX_ENTRIES);
    for (int i = 0; i < n; i++) {
        int rc = legacy_entry(im, r, i);
        if (rc)
            return rc;
    }
    /* optional trailer: last_call, dataset name */
    int32_t last = 0, len = 0;
    if (r->size - r->pos < 4)
        return r->pos == r->size ? 0
                                 : qerr_set(r->err, QERR_FORMAT, "%s: offset %zu: trailer: %zu stray bytes",
                                            r->path, r->pos, r->size - r->pos);
    rd_i32(r, &last, "trailer", "last_call");
    im->chunks = last > 0 ? last : 0;
    if (r->pos == r->size)
        return 0;
    if (rd_i32(r, &len, "trailer", "dataset name length"))
        return QERR_FORMAT;
    if (len < 0 || (size_t)len != r->size - r->pos)
        return qerr_set(r->err, QERR_FORMAT, "%s: offset %zu: trailer: dataset name length %d, %zu bytes left",
                        r->path, r->pos - 4, len, r->size - r->pos);
    snprintf(im->dataset, sizeof im->dataset, "%.*s", len, (const char *)r->p + r->pos);
    return 0;
}

/* ---- GGUF ---- */

static const struct gguf_tinfo *find_tensor(const struct gguf_file *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (gguf_str_eq(g->tinfo[i].name, name))
            return &g->tinfo[i];
    return NULL;
}

static int gguf_entry(struct qimatrix *im, const struct gguf_file *g, const struct gguf_tinfo *ts,
                      const char *path, struct qerr *err)
{
    char tname[QM_NAME_MAX + 16], base[QM_NAME_MAX], cname[QM_NAME_MAX + 16];
    gguf_str_copy(ts->name, tname, sizeof tname);
    size_t bl = strlen(tname) - strlen(".in_sum2");
    if (bl >= QM_NAME_MAX)
        return qerr_set(err, QERR_FORMAT, "%s: tensor %s: name too long", path, tname);
    snprintf(base, sizeof base, "%.*s", (int)bl, tname);
    snprintf(cname, sizeof cname, "%s.counts", base);
    const struct gguf_tinfo *tc = find_tensor(g, cname);
    if (!tc)
        return qerr_set(err, QERR_FORMAT, "%s: tensor %s: no matching %s", path, tname, cname);
    if (ts->ggml_type != 0 || tc->ggml_type != 0)
        return qerr_set(err, QERR_FORMAT, "%s: tensor %s: type %s (F32 expected)", path,
                        ts->ggml_type ? tname : cname,
                        ggml_type_name(ts->ggml_type ? ts->ggml_type : tc->ggml_type));
    int64_t n = (int64_t)ts->ne[0], n_mat = (int64_t)(ts->ne[1] * ts->ne[2] * ts->ne[3]);
    int64_t nc = (int64_t)(tc->ne[0] * tc->ne[1] * tc->ne[2] * tc->ne[3]);
    if (nc != n_mat)
        return qerr_set(err, QERR_FORMAT, "%s: tensor %s: %lld counts for %lld matrices in %s", path,
                        cname, (long long)nc, (long long)n_mat, tname);
    if (qimatrix_find(im, base))
        return qerr_set(err, QERR_FORMAT, "%s: tensor %s: name appears twice", path, tname);
    struct qimatrix_entry *e = add_entry(im, base, n, n_mat, err);
    if (!e)
        return QERR_NOMEM;
    const uint8_t *sums = g->base + g->data_offset + ts->offset;
    const uint8_t *cnt = g->base + g->data_offset + tc->offset;
    for (int64_t k = 0; k < n_mat; k++) {
        float c;
        memcpy(&c, cnt + 4 * k, 4);
        if (!isfinite(c) || c < 0)
            return qerr_set(err, QERR_FORMAT, "%s: tensor %s: count %lld is %g", path, cname,
                            (long long)k, (double)c);
        e->ncall = (int64_t)c;
        for (int64_t j = 0; j < n; j++) {
            float s;
            memcpy(&s, sums + 4 * (k * n + j), 4);
            if (!isfinite(s) || s < 0)
                return qerr_set(err, QERR_FORMAT, "%s: tensor %s: value %lld is %g", path, tname,
                                (long long)(k * n + j), (double)s);
            e->values[k * n + j] = c > 0 ? s / c : 1.0f; /* never seen: neutral */
        }
    }
    return 0;
}

static int read_gguf(struct qimatrix *im, const char *path, const void *buf, size_t size,
                     struct qerr *err)
{
    struct gguf_file g;
    memset(&g, 0, sizeof g);
    int rc = gguf_parse(&g, path, buf, size, err);
    if (rc)
        return rc;
    int64_t chunks;
    if (!gguf_get_int(&g, "imatrix.chunk_count", &chunks) && chunks > 0)
        im->chunks = chunks;
    for (uint64_t i = 0; i < g.n_tensors && !rc; i++) {
        struct gguf_str s = g.tinfo[i].name;
        if (s.len > 8 && !memcmp(s.ptr + s.len - 8, ".in_sum2", 8))
            rc = gguf_entry(im, &g, &g.tinfo[i], path, err);
    }
    if (!rc && im->n == 0)
        rc = qerr_set(err, QERR_FORMAT, "%s: no <tensor>.in_sum2 entries (not an imatrix GGUF)", path);
    gguf_free(&g);
    return rc;
}

int qimatrix_read(struct qimatrix *im, const char *path, struct qerr *err)
{
    memset(im, 0, sizeof *im);
    size_t size;
    char *buf = afile_read(path, (size_t)IM_MAX_FILE, &size, err);
    if (!buf)
        return QERR_IO;
    int rc;
    if (size >= 4 && !memcmp(buf, "GGUF", 4)) {
        rc = read_gguf(im, path, buf, size, err);
    } else {
        struct rd r = {(const uint8_t *)buf, size, 0, path, err};
        rc = read_legacy(im, &r);
    }
    free(buf);
    if (rc)
        qimatrix_free(im);
    return rc;
}

/* ---- writing (legacy) ---- */

static int put_i32(FILE *f, int64_t v)
{
    int32_t x = (int32_t)v;
    return fwrite(&x, 4, 1, f) == 1 ? 0 : -1;
}

int qimatrix_write(const struct qimatrix *im, const char *path, struct qerr *err)
{
    if (im->n < 1)
        return qerr_set(err, QERR_ARG, "%s: no imatrix entries to write", path);
    struct afile a;
    int rc = afile_open(&a, path, err);
    if (rc)
        return rc;
    const int64_t ncall = im->chunks > 0 ? im->chunks : 1;
    int bad = put_i32(a.f, im->n);
    for (int i = 0; i < im->n && !bad; i++) {
        const struct qimatrix_entry *e = &im->e[i];
        size_t len = strlen(e->src_name);
        bad |= put_i32(a.f, (int64_t)len) || fwrite(e->src_name, 1, len, a.f) != len;
        bad |= put_i32(a.f, ncall) || put_i32(a.f, e->n * e->n_mat);
        for (int64_t j = 0; j < e->n * e->n_mat && !bad; j++) {
            float v = e->values[j] * (float)ncall; /* llama-quantize divides by ncall */
            bad |= fwrite(&v, 4, 1, a.f) != 1;
        }
    }
    size_t dl = strlen(im->dataset);
    bad = bad || put_i32(a.f, ncall) || put_i32(a.f, (int64_t)dl) || fwrite(im->dataset, 1, dl, a.f) != dl;
    if (bad) {
        afile_abort(&a);
        return qerr_set(err, QERR_IO, "%s: cannot write the imatrix", path);
    }
    return afile_commit(&a, err);
}

/* ---- against a model ---- */

int qimatrix_check(const struct qimatrix *im, const char *path, struct qmodel *m, struct qerr *err)
{
    for (int i = 0; i < im->n; i++) {
        const struct qimatrix_entry *e = &im->e[i];
        int t = qmodel_find(m, e->name);
        if (t < 0)
            return qerr_set(err, QERR_FORMAT, "%s: entry %s: no tensor %s in %s", path,
                            e->src_name, e->name, m->path);
        if (qtensor_cols(&m->tensors[t]) != e->n)
            return qerr_set(err, QERR_FORMAT, "%s: entry %s: nval %lld but %s has %lld columns",
                            path, e->src_name, (long long)e->n, e->name,
                            (long long)qtensor_cols(&m->tensors[t]));
    }
    return 0;
}

/* ---- from qlens's own calibration ---- */

int qimatrix_from_calib(struct qimatrix *im, const struct calib *c, struct qmodel *m,
                        int64_t chunks, struct qerr *err)
{
    static const enum qrole roles[] = {QR_ATTN_Q, QR_ATTN_K,  QR_ATTN_V,  QR_ATTN_OUT,
                                       QR_FFN_GATE, QR_FFN_UP, QR_FFN_DOWN};
    memset(im, 0, sizeof *im);
    im->chunks = chunks;
    int rc = 0;
    float *v = NULL;
    for (int l = 0; l < m->cfg.n_layers && !rc; l++) {
        for (size_t k = 0; k < sizeof roles / sizeof *roles && !rc; k++) {
            struct qtensor *t = qmodel_get(m, l, roles[k]);
            const struct calib_acc *a = t ? calib_get((struct calib *)c, l, calib_site_of_role(roles[k])) : NULL;
            if (!t)
                continue;
            if (!a || !a->sum_sq || !a->n_rows || a->dim != qtensor_cols(t)) {
                rc = qerr_set(err, QERR_ARG, "imatrix: no calibration of the input of %s", t->name);
                break;
            }
            float *nv = realloc(v, (size_t)a->dim * sizeof *v);
            if (!nv) {
                rc = qerr_set(err, QERR_NOMEM, "out of memory");
                break;
            }
            v = nv;
            for (int j = 0; j < a->dim; j++)
                v[j] = (float)(a->sum_sq[j] / (double)a->n_rows);
            rc = qimatrix_add(im, t->name, a->dim, chunks, v, err);
        }
    }
    free(v);
    if (rc)
        qimatrix_free(im);
    return rc;
}
