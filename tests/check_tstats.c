/* Tests of src/tstats: every tensor of a real model, per channel,
 * selection by regex, progress and cancel, overrides. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant/ggml_types.h"
#include "src/tstats.h"
#include "tests/testutil.h"

static void open_model(struct qmodel *m, const char *rel)
{
    const char *p = tu_shared(rel);
    ck_assert_msg(p != NULL, "missing %s under $QLENS_SHARED", rel);
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(m, p, &err) == 0, "%s", err.msg);
}

static void same(const struct stats *a, const struct stats *b)
{
    ck_assert(a->n == b->n && a->min == b->min && a->max == b->max);
    ck_assert(fabs(a->mean - b->mean) <= 1e-12 * (fabs(b->mean) + b->std));
    ck_assert(fabs(a->std - b->std) <= 1e-10 * b->std);
    ck_assert(fabs(a->kurt - b->kurt) <= 1e-9 * b->kurt);
    ck_assert(a->n_k3 == b->n_k3 && a->n_k6 == b->n_k6 && a->n_abs == b->n_abs);
}

START_TEST(test_empty_selection)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    unsigned char *sel = calloc((size_t)m.n_tensors, 1);
    struct tstats_opts o;
    tstats_opts_default(&o);
    o.select = sel;
    struct tstats ts;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), 0);
    ck_assert_int_eq(ts.n, 0);
    tstats_free(&ts);
    tstats_free(&ts); /* idempotent */
    free(sel);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_all_tensors_vs_ref)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    struct tstats ts;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&m, NULL, &ts, &err), 0);
    ck_assert_int_eq(ts.n, m.n_tensors);
    for (int i = 0; i < ts.n; i++) {
        struct qtensor *t = &m.tensors[ts.rows[i].tensor];
        ck_assert_int_eq(ts.rows[i].tensor, i);
        ck_assert(ts.rows[i].n_channels == 0 && ts.rows[i].ch == NULL);
        struct stats ref;
        stats_compute_ref(qtensor_f32(t), (size_t)t->nelem, NULL, &ref);
        same(&ts.rows[i].st, &ref);
        ck_assert(ts.rows[i].rows * ts.rows[i].cols == t->nelem);
    }
    tstats_free(&ts);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_per_channel)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    unsigned char *sel;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_select(&m, "^blk\\.0\\.ffn_down$", &sel, &err), 1);
    for (int axis = 0; axis < 2; axis++) {
        struct tstats_opts o;
        tstats_opts_default(&o);
        o.select = sel;
        o.channels = axis ? TSTATS_COLS : TSTATS_ROWS;
        o.st.abs_thresh = 0.3;
        struct tstats ts;
        ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), 0);
        ck_assert_int_eq(ts.n, 1);
        struct tstats_row *r = &ts.rows[0];
        struct qtensor *t = &m.tensors[r->tensor];
        ck_assert_str_eq(t->name, "blk.0.ffn_down");
        ck_assert(r->rows == 64 && r->cols == 172); /* (dim, hidden) */
        ck_assert(r->n_channels == (axis ? 172 : 64));
        const float *x = qtensor_f32(t);
        float col[64];
        for (int64_t c = 0; c < r->n_channels; c++) {
            struct stats ref;
            if (axis) {
                for (int k = 0; k < 64; k++)
                    col[k] = x[k * 172 + c];
                stats_compute_ref(col, 64, &o.st, &ref);
            } else {
                stats_compute_ref(x + c * 172, 172, &o.st, &ref);
            }
            same(&r->ch[c], &ref);
        }
        tstats_free(&ts);
    }
    free(sel);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_select)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    unsigned char *sel;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_select(&m, "attn_q$", &sel, &err), m.cfg.n_layers);
    free(sel);
    ck_assert_int_eq(tstats_select(&m, "nothing-like-this", &sel, &err), 0);
    free(sel);
    ck_assert_int_eq(tstats_select(&m, "blk.(0|1", &sel, &err), QERR_ARG);
    ck_assert(sel == NULL && strstr(err.msg, "blk.(0|1") != NULL);
    qmodel_close(&m);
}
END_TEST

struct prog {
    int calls, last_done, last_total, stop_at;
};

static int on_progress(void *ud, int done, int total)
{
    struct prog *p = ud;
    ck_assert(done == p->last_done + (p->calls > 0));
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    return p->stop_at >= 0 && done >= p->stop_at;
}

START_TEST(test_progress_cancel)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    struct tstats_opts o;
    tstats_opts_default(&o);
    struct prog p = {0, 0, 0, -1};
    o.progress = on_progress;
    o.ud = &p;
    struct tstats ts;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), 0);
    ck_assert_int_eq(p.calls, m.n_tensors + 1); /* 0, 1, ..., total */
    ck_assert_int_eq(p.last_done, m.n_tensors);
    ck_assert_int_eq(p.last_total, m.n_tensors);
    tstats_free(&ts);

    p = (struct prog){0, 0, 0, 3};
    ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), QERR_CANCEL);
    ck_assert_int_eq(ts.n, 3);
    tstats_free(&ts);

    volatile int cancel = 1;
    o.progress = NULL;
    o.cancel = &cancel;
    ck_assert_int_eq(tstats_compute(&m, &o, &ts, &err), QERR_CANCEL);
    ck_assert_int_eq(ts.n, 0);
    tstats_free(&ts);
    qmodel_close(&m);
}
END_TEST

START_TEST(test_override)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    int i = qmodel_find(&m, "blk.1.attn_v");
    ck_assert_int_ge(i, 0);
    struct qtensor *t = &m.tensors[i];
    float *w = malloc((size_t)t->nelem * sizeof *w);
    for (int64_t k = 0; k < t->nelem; k++)
        w[k] = (k & 1) ? 2.0f : -2.0f; /* two-point: std 2, kurt 1 */
    qtensor_set_override(t, w);
    struct tstats_opts o;
    tstats_opts_default(&o);
    struct tstats_row r;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_tensor(&m, i, &o, &r, &err), 0);
    ck_assert(r.st.std == 2 && r.st.kurt == 1 && r.st.mean == 0);
    qmodel_close(&m);
}
END_TEST

/* Whole-tensor statistics do not depend on row order, so the llama2.c
 * checkpoint and its GGUF conversion (Q/K rows permuted) must agree
 * tensor by tensor, by canonical name. */
START_TEST(test_bin_vs_gguf)
{
    struct qmodel a, b;
    open_model(&a, "models/stories260K.bin");
    open_model(&b, "models/stories260K.gguf");
    struct tstats ta, tb;
    struct qerr err = {0};
    ck_assert_int_eq(tstats_compute(&a, NULL, &ta, &err), 0);
    ck_assert_int_eq(tstats_compute(&b, NULL, &tb, &err), 0);
    int matched = 0;
    for (int i = 0; i < ta.n; i++) {
        int j = qmodel_find(&b, a.tensors[i].name);
        ck_assert_msg(j >= 0, "%s missing from the GGUF", a.tensors[i].name);
        const struct stats *x = &ta.rows[i].st, *y = &tb.rows[j].st;
        ck_assert_msg(x->n == y->n && x->min == y->min && x->max == y->max, "%s",
                      a.tensors[i].name);
        ck_assert_msg(fabs(x->std - y->std) <= 1e-6 * y->std, "%s std", a.tensors[i].name);
        ck_assert_msg(fabs(x->kurt - y->kurt) <= 1e-6 * y->kurt, "%s kurt", a.tensors[i].name);
        ck_assert(x->n_k3 == y->n_k3);
        matched++;
    }
    ck_assert_int_eq(matched, a.n_tensors);
    tstats_free(&ta);
    tstats_free(&tb);
    qmodel_close(&a);
    qmodel_close(&b);
}
END_TEST

/* A one-tensor model whose (rows, cols) bytes of type dt are `data`. */
static void fake_model(struct qmodel *m, struct qtensor *t, enum qdtype dt, int64_t rows,
                       int64_t cols, const void *data)
{
    memset(m, 0, sizeof *m);
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "w");
    t->dtype = dt;
    t->ndim = 2;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->nelem = rows * cols;
    t->data = data;
    t->layer = -1;
    m->tensors = t;
    m->n_tensors = 1;
}

/* Heavy-tailed values with a few outliers, so both passes of the engine
 * (candidates and re-read blocks) run. */
static void fill_values(float *x, int64_t n)
{
    unsigned s = 12345;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        double u = ((s >> 8) & 0xFFFF) / 65536.0 + 1e-6;
        x[i] = (float)((s & 1 ? 1 : -1) * -log(u) * 0.02);
        if (i % 9973 == 0)
            x[i] *= 40.0f;
    }
}

static int same_bits(const struct stats *a, const struct stats *b)
{
    return !memcmp(a, b, sizeof *a);
}

/* Tiled statistics of F16/BF16/quantized bytes equal, bit for bit, the
 * statistics of the fully converted float array, whole and per row; per
 * column as well (through a temporary copy).  Both with a tensor size
 * that is not a multiple of the engine's chunk. */
START_TEST(test_tiled_types)
{
    static const enum qdtype types[] = {QD_F16, QD_BF16, QD_Q8_0, QD_Q4_K, QD_Q6_K, QD_F32};
    const int64_t shapes[][2] = {{520, 512}, {3, 256}};
    for (size_t si = 0; si < 2; si++) {
        int64_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
        float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
        fill_values(x, n);
        for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
            uint32_t id = qdtype_ggml(types[k]);
            size_t rs = ggt_row_size(id, cols);
            char *q = malloc(rs * (size_t)rows + 1);
            char *qd = q + (types[k] == QD_F32); /* misaligned F32: converted, not in place */
            struct qerr err = {0};
            ck_assert_int_eq(ggt_quantize(id, x, qd, rows, cols, NULL, &err), 0);
            ck_assert_int_eq(ggt_to_float(id, qd, y, rows, cols, &err), 0);
            struct qmodel m;
            struct qtensor t;
            fake_model(&m, &t, types[k], rows, cols, qd);
            for (int ax = 0; ax < 3; ax++) {
                struct tstats_opts o;
                tstats_opts_default(&o);
                o.channels = ax == 0 ? TSTATS_NONE : ax == 1 ? TSTATS_ROWS : TSTATS_COLS;
                struct tstats_row r;
                ck_assert_int_eq(tstats_tensor(&m, 0, &o, &r, &err), 0);
                ck_assert(t.f32 == NULL); /* no float copy kept */
                struct stats ref;
                stats_compute(y, (size_t)n, &o.st, &ref);
                ck_assert_msg(same_bits(&r.st, &ref), "%s whole %lldx%lld", qdtype_name(types[k]),
                              (long long)rows, (long long)cols);
                int64_t nch = ax == 1 ? rows : ax == 2 ? cols : 0;
                struct stats *ch = malloc((size_t)(nch ? nch : 1) * sizeof *ch);
                if (nch)
                    stats_per_channel(y, (size_t)rows, (size_t)cols,
                                      ax == 1 ? STATS_ROWS : STATS_COLS, &o.st, ch);
                ck_assert(r.n_channels == nch);
                for (int64_t c = 0; c < nch; c++)
                    ck_assert_msg(same_bits(&r.ch[c], &ch[c]), "%s channel %lld",
                                  qdtype_name(types[k]), (long long)c);
                free(ch);
                free(r.ch);
            }
            free(q);
        }
        free(x);
        free(y);
    }
}
END_TEST

/* A type with no decoder is an error naming the tensor, never zeros. */
START_TEST(test_tiled_unsupported)
{
    float v[256] = {1};
    struct qmodel m;
    struct qtensor t;
    fake_model(&m, &t, QD__COUNT, 1, 256, v);
    struct tstats_opts o;
    tstats_opts_default(&o);
    struct tstats_row r;
    struct qerr err = {0};
    ck_assert_int_ne(tstats_tensor(&m, 0, &o, &r, &err), 0);
    ck_assert_msg(strstr(err.msg, "w:") != NULL, "%s", err.msg);
}
END_TEST

/* ---- tensors streamed from a file (qtreader: pread into a window) ---- */

/* A raw file holding each type's bytes of x (rows x cols) one after the
 * other at odd offsets, opened as a model of those tensors through the
 * loaders' builder API (so the reader has a file descriptor). */
static const enum qdtype file_types[] = {QD_F16, QD_BF16, QD_Q8_0, QD_Q4_K, QD_F32, QD_F32};

static void file_model(struct qmodel *m, const char *path, const float *x, int64_t rows,
                       int64_t cols)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t off[6];
    size_t ntypes = sizeof file_types / sizeof *file_types;
    fputc(0, f); /* the first tensor at an odd offset */
    for (size_t k = 0; k < ntypes; k++) {
        uint32_t id = qdtype_ggml(file_types[k]);
        size_t rs = ggt_row_size(id, cols);
        char *q = malloc(rs * (size_t)rows);
        struct qerr err = {0};
        float *xf = malloc((size_t)(rows * cols) * sizeof *xf); /* the quantizers: finite */
        for (int64_t i = 0; i < rows * cols; i++)
            xf[i] = isfinite(x[i]) ? x[i] : 0.0f;
        ck_assert_int_eq(ggt_quantize(id, xf, q, rows, cols, NULL, &err), 0);
        free(xf);
        for (int64_t i = 0; i < rows * cols; i++) { /* the float types keep NaN/Inf */
            uint16_t h = isnan(x[i]) ? 0x7E00 : 0x7C00, b = isnan(x[i]) ? 0x7FC0 : 0x7F80;
            if (isfinite(x[i]))
                continue;
            if (file_types[k] == QD_F32)
                memcpy(q + 4 * i, &x[i], 4);
            else if (file_types[k] == QD_F16 || file_types[k] == QD_BF16)
                memcpy(q + 2 * i, file_types[k] == QD_F16 ? &h : &b, 2);
        }
        if (k == ntypes - 1 && ftell(f) % 4) /* the last F32 aligned, the other not */
            for (long pad = 4 - ftell(f) % 4; pad > 0; pad--)
                fputc(0, f);
        off[k] = (uint64_t)ftell(f);
        ck_assert(fwrite(q, rs, (size_t)rows, f) == (size_t)rows);
        free(q);
    }
    fclose(f);
    memset(m, 0, sizeof *m);
    m->path = strdup(path);
    struct qerr err = {0};
    int map = qmodel_map_file(m, path, &err);
    ck_assert_msg(map >= 0, "%s", err.msg);
    for (size_t k = 0; k < ntypes; k++) {
        char name[32];
        snprintf(name, sizeof name, "t%zu", k);
        int64_t shape[2] = {rows, cols};
        ck_assert_int_ge(qmodel_add_tensor(m, name, name, file_types[k], 2, shape, map, off[k],
                                           &err), 0);
    }
}

/* Whole, per row and per column statistics of every tensor of the file
 * equal, bit for bit, those of the converted floats; NaN and Inf among
 * the F16/F32 values; shapes around the reader's window and the column
 * engine's row blocks; no float copy is ever kept. */
START_TEST(test_file_tiled)
{
    const int64_t shapes[][2] = {{3, 256}, {1100, 512}, {70, 4352}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        int64_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
        float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
        fill_values(x, n);
        x[n / 3] = NAN; /* F16 and F32 keep them; the block types cannot */
        x[n / 2] = INFINITY;
        struct qmodel m;
        file_model(&m, tu_tmpfile("tstats-file.bin"), x, rows, cols);
        for (int i = 0; i < m.n_tensors; i++) {
            struct qtensor *t = &m.tensors[i];
            ck_assert_int_eq(qtensor_read_range(t, 0, n, y), 0);
            for (int ax = 0; ax < 3; ax++) {
                struct tstats_opts o;
                tstats_opts_default(&o);
                o.channels = ax == 0 ? TSTATS_NONE : ax == 1 ? TSTATS_ROWS : TSTATS_COLS;
                struct tstats_row r;
                struct qerr err = {0};
                ck_assert_int_eq(tstats_tensor(&m, i, &o, &r, &err), 0);
                ck_assert(t->f32 == NULL);
                struct stats ref;
                stats_compute(y, (size_t)n, &o.st, &ref);
                ck_assert(ref.n_nonfinite == (qdtype_block(t->dtype) == 1 ? 2u : 0u));
                ck_assert_msg(same_bits(&r.st, &ref), "%s %lldx%lld whole",
                              qdtype_name(t->dtype), (long long)rows, (long long)cols);
                int64_t nch = ax == 1 ? rows : ax == 2 ? cols : 0;
                struct stats *ch = malloc((size_t)(nch ? nch : 1) * sizeof *ch);
                if (nch)
                    stats_per_channel(y, (size_t)rows, (size_t)cols,
                                      ax == 1 ? STATS_ROWS : STATS_COLS, &o.st, ch);
                for (int64_t c = 0; c < nch; c++)
                    ck_assert_msg(same_bits(&r.ch[c], &ch[c]), "%s %lldx%lld %s %lld",
                                  qdtype_name(t->dtype), (long long)rows, (long long)cols,
                                  ax == 1 ? "row" : "col", (long long)c);
                free(ch);
                free(r.ch);
            }
        }
        qmodel_close(&m);
        free(x);
        free(y);
    }
}
END_TEST

/* Streamed histograms (linear and log2) equal those of the converted
 * floats, for every type of the file. */
START_TEST(test_file_hist)
{
    int64_t rows = 130, cols = 512, n = rows * cols;
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    fill_values(x, n);
    x[77] = NAN;
    x[78] = 0.0f;
    struct qmodel m;
    file_model(&m, tu_tmpfile("tstats-hist.bin"), x, rows, cols);
    for (int i = 0; i < m.n_tensors; i++) {
        struct qtensor *t = &m.tensors[i];
        ck_assert_int_eq(qtensor_read_range(t, 0, n, y), 0);
        for (int lg = 0; lg < 2; lg++) {
            struct tstats_hist_req h = {lg, -0.1, 0.1, -12, 40};
            uint64_t a[40], b[40], ba = 0, bb = 0;
            struct qerr err = {0};
            ck_assert_int_eq(tstats_hist(&m, t, &h, a, lg ? &ba : NULL, &err), 0);
            if (lg)
                stats_hist_log2(y, (size_t)n, h.emin, h.nbins, b, &bb);
            else
                stats_hist_linear(y, (size_t)n, h.lo, h.hi, h.nbins, b);
            ck_assert_msg(!memcmp(a, b, sizeof a) && ba == bb, "%s %s", qdtype_name(t->dtype),
                          lg ? "log2" : "linear");
            ck_assert(t->f32 == NULL);
        }
    }
    qmodel_close(&m);
    free(x), free(y);
}
END_TEST

/* The reader with a window smaller than some requests: forward, backward
 * (decoded from the mapping), inside the window and larger than it, all
 * equal to qtensor_read_range. */
START_TEST(test_reader)
{
    int64_t rows = 40, cols = 1024, n = rows * cols;
    float *x = malloc((size_t)n * sizeof *x), *a = malloc((size_t)n * sizeof *a);
    float *b = malloc((size_t)n * sizeof *b);
    fill_values(x, n);
    struct qmodel m;
    file_model(&m, tu_tmpfile("tstats-reader.bin"), x, rows, cols);
    const int64_t req[][2] = {{0, 256},     {256, 2048}, {1024, 256}, {8192, 8192},
                              {4096, 512},  {0, n},      {n - 256, 256}, {512, 16384},
                              {30720, 256}, {256, 256}};
    for (int i = 0; i < m.n_tensors; i++) {
        struct qtensor *t = &m.tensors[i];
        struct qtreader rd;
        ck_assert_int_eq(qtreader_init(&rd, &m, t, 4096), 0);
        ck_assert_int_ge(rd.fd, 0);
        for (size_t k = 0; k < sizeof req / sizeof *req; k++) {
            const float *p = qtreader_get(&rd, req[k][0], req[k][1], a);
            ck_assert_ptr_nonnull(p);
            ck_assert_int_eq(qtensor_read_range(t, req[k][0], req[k][1], b), 0);
            ck_assert_msg(!memcmp(p, b, (size_t)req[k][1] * sizeof *b), "%s request %zu",
                          qdtype_name(t->dtype), k);
        }
        ck_assert_ptr_null(qtreader_get(&rd, n - 256, 512, a)); /* past the end */
        ck_assert_ptr_null(qtreader_get(&rd, -256, 256, a));
        ck_assert(!rd.failed);
        qtreader_free(&rd);
    }
    qmodel_close(&m);
    free(x), free(a), free(b);
}
END_TEST

/* A file truncated before its tensors are read: the streamed statistics
 * fail with a message naming the file and the tensor, never numbers of
 * zeros. */
START_TEST(test_file_truncated)
{
    int64_t rows = 64, cols = 4096, n = rows * cols;
    float *x = malloc((size_t)n * sizeof *x);
    fill_values(x, n);
    struct qmodel m;
    const char *path = tu_tmpfile("tstats-trunc.bin");
    file_model(&m, path, x, rows, cols);
    ck_assert_int_eq(truncate(path, (off_t)m.tensors[0].file_offset + 1000), 0);
    struct tstats_opts o;
    tstats_opts_default(&o);
    struct tstats_row r;
    struct qerr err = {0};
    ck_assert_int_ne(tstats_tensor(&m, 0, &o, &r, &err), 0);
    ck_assert_msg(strstr(err.msg, "truncated") && strstr(err.msg, "t0"), "%s", err.msg);
    free(r.ch);
    qmodel_close(&m);
    free(x);
}
END_TEST

struct order {
    int calls, last, stop_at;
};

static int on_row(void *ud, const struct tstats_row *r)
{
    struct order *p = ud;
    ck_assert_int_gt(r->tensor, p->last); /* model order */
    p->last = r->tensor;
    return ++p->calls == p->stop_at;
}

/* Tensors measured in parallel give the serial results, handed out in
 * model order; a stop from on_row leaves exactly the rows handed out. */
START_TEST(test_threads_order)
{
    struct qmodel m;
    open_model(&m, "models/stories260K.bin");
    struct tstats_opts o;
    tstats_opts_default(&o);
    o.channels = TSTATS_COLS;
    struct tstats a, b;
    struct qerr err = {0};
    o.threads = 1;
    ck_assert_int_eq(tstats_compute(&m, &o, &a, &err), 0);
    struct order ord = {0, -1, -1};
    o.threads = 3;
    o.on_row = on_row;
    o.ud = &ord;
    ck_assert_int_eq(tstats_compute(&m, &o, &b, &err), 0);
    ck_assert_int_eq(ord.calls, m.n_tensors);
    ck_assert_int_eq(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        ck_assert(same_bits(&a.rows[i].st, &b.rows[i].st));
        ck_assert(a.rows[i].n_channels == b.rows[i].n_channels);
        for (int64_t c = 0; c < a.rows[i].n_channels; c++)
            ck_assert(same_bits(&a.rows[i].ch[c], &b.rows[i].ch[c]));
    }
    tstats_free(&b);
    ord = (struct order){0, -1, 5};
    ck_assert_int_eq(tstats_compute(&m, &o, &b, &err), QERR_CANCEL);
    ck_assert_int_eq(b.n, 5);
    tstats_free(&b);
    tstats_free(&a);
    qmodel_close(&m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tstats");
    TCase *t = tcase_create("tstats");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, test_empty_selection);
    tcase_add_test(t, test_all_tensors_vs_ref);
    tcase_add_test(t, test_per_channel);
    tcase_add_test(t, test_select);
    tcase_add_test(t, test_progress_cancel);
    tcase_add_test(t, test_override);
    tcase_add_test(t, test_bin_vs_gguf);
    tcase_add_test(t, test_tiled_types);
    tcase_add_test(t, test_tiled_unsupported);
    tcase_add_test(t, test_file_tiled);
    tcase_add_test(t, test_reader);
    tcase_add_test(t, test_file_hist);
    tcase_add_test(t, test_file_truncated);
    tcase_add_test(t, test_threads_order);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
