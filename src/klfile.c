/* klfile: llama.cpp's --kl-divergence-base files (layout in klfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/fastmath.h"
#include "src/klfile.h"

int klfile_row_words(int n_vocab)
{
    return 2 * ((n_vocab + 1) / 2) + 4;
}

int klfile_rows(int n_ctx)
{
    return n_ctx - 1 - n_ctx / 2;
}

/* ---- kernels ---- */

void klfile_pack(const float *x, int n_vocab, uint16_t *rec)
{
    float mx = x[0], mn = x[0];
    for (int i = 1; i < n_vocab; i++) {
        mx = x[i] > mx ? x[i] : mx;
        mn = x[i] < mn ? x[i] : mn;
    }
    float lo = mn > mx - 16 ? mn : mx - 16; /* keep 16 nats below the top */
    float lse = (float)log(fm_sum_exp(x, n_vocab, mx));
    float head[2] = {(mx - lo) / 65535.f, lo - mx - lse}; /* scale, min_log_prob */
    memcpy(rec, head, sizeof head);
    uint16_t *q = rec + 4;
    int nv = klfile_row_words(n_vocab);
    memset(q, 0, (size_t)(nv - 4) * sizeof *q);
    if (head[0] == 0)
        return;
    float inv = 1 / head[0];
    for (int i = 0; i < n_vocab; i++) {
        if (!(x[i] > lo))
            continue;
        long v = lrintf(inv * (x[i] - lo)); /* nearest, ties to even */
        q[i] = (uint16_t)(v > 65535 ? 65535 : v);
    }
}

static void rec_head(const uint16_t *rec, float *scale, float *min_lp)
{
    float h[2];
    memcpy(h, rec, sizeof h);
    *scale = h[0];
    *min_lp = h[1];
}

float klfile_logprob(const uint16_t *rec, int v)
{
    float scale, min_lp;
    rec_head(rec, &scale, &min_lp);
    return scale * rec[4 + v] + min_lp;
}

void klfile_score(const float *x, const uint16_t *rec, int n_vocab, int t, struct klfile_tok *o)
{
    float mx = x[0];
    int am = 0;
    for (int i = 1; i < n_vocab; i++)
        if (x[i] > mx) {
            mx = x[i];
            am = i;
        }
    double lse = log(fm_sum_exp(x, n_vocab, mx));
    float scale, min_lp;
    rec_head(rec, &scale, &min_lp);
    const uint16_t *q = rec + 4;
    o->nll = (double)mx + lse - x[t];
    o->nll_base = -(double)(scale * q[t] + min_lp);
    double top = mx + lse, kl = 0;
    float best = 0;
    int am_base = 0;
    for (int i = 0; i < n_vocab; i++) {
        float lb = scale * q[i] + min_lp;
        if (i == 0 || lb > best) {
            best = lb;
            am_base = i;
        }
        if (lb > -16.f)
            kl += exp((double)lb) * ((double)lb - (x[i] - top));
    }
    o->kld = kl;
    o->dp = exp(-o->nll) - exp(-o->nll_base);
    o->same_top = am == am_base;
}

/* ---- reading ---- */

static int read_at(int fd, void *buf, size_t n, long long off)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static int header(struct klfile *k, long long size, struct qerr *err)
{
    unsigned char h[KLFILE_HEADER];
    if (size < KLFILE_HEADER || read_at(k->fd, h, sizeof h, 0) < 0)
        return qerr_set(err, QERR_FORMAT, "%s: truncated header (%lld bytes, need %d)", k->path,
                        size, KLFILE_HEADER);
    if (memcmp(h, KLFILE_MAGIC, 8))
        return qerr_set(err, QERR_FORMAT, "%s: not a llama.cpp logits file (magic is not "
                        "'_logits_' at offset 0)", k->path);
    int32_t v[3];
    memcpy(v, h + 8, sizeof v);
    const char *name[3] = {"n_ctx", "n_vocab", "n_chunk"};
    for (int i = 0; i < 3; i++)
        if (v[i] <= 0)
            return qerr_set(err, QERR_FORMAT, "%s: offset %d: %s %d is not positive", k->path,
                            8 + 4 * i, name[i], (int)v[i]);
    if (v[0] < 4)
        return qerr_set(err, QERR_FORMAT, "%s: offset 8: n_ctx %d leaves no scored position",
                        k->path, (int)v[0]);
    k->n_ctx = v[0];
    k->n_vocab = v[1];
    k->n_chunk = v[2];
    k->nv = klfile_row_words(k->n_vocab);
    k->rows = klfile_rows(k->n_ctx);
    /* all products in 64 bits: each factor < 2^31 */
    unsigned long long ntok = (unsigned long long)k->n_ctx * (unsigned long long)k->n_chunk;
    unsigned long long rec = (unsigned long long)k->rows * (unsigned long long)k->nv * 2;
    if (ntok > ((unsigned long long)1 << 40) || rec > ((unsigned long long)1 << 40) / k->n_chunk)
        return qerr_set(err, QERR_FORMAT, "%s: n_ctx %d x n_chunk %d x n_vocab %d is "
                        "implausibly large", k->path, k->n_ctx, k->n_chunk, k->n_vocab);
    k->data_off = KLFILE_HEADER + (long long)ntok * 4;
    long long want = k->data_off + (long long)(rec * (unsigned long long)k->n_chunk);
    if (size != want)
        return qerr_set(err, QERR_FORMAT, "%s: %s: the file has %lld bytes, its header (n_ctx %d, "
                        "n_vocab %d, n_chunk %d) needs %lld", k->path,
                        size < want ? "truncated" : "trailing bytes", size, k->n_ctx, k->n_vocab,
                        k->n_chunk, want);
    return 0;
}

static int read_tokens(struct klfile *k, struct qerr *err)
{
    size_t n = (size_t)k->n_ctx * k->n_chunk;
    if (!(k->tokens = malloc(n * sizeof *k->tokens)))
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for %zu tokens", k->path, n);
    if (read_at(k->fd, k->tokens, n * sizeof *k->tokens, KLFILE_HEADER) < 0)
        return qerr_set(err, QERR_IO, "%s: cannot read the tokens: %s", k->path, strerror(errno));
    for (size_t i = 0; i < n; i++)
        if (k->tokens[i] < 0 || k->tokens[i] >= k->n_vocab)
            return qerr_set(err, QERR_FORMAT, "%s: offset %zu: token %zu is %d, outside the "
                            "vocabulary (n_vocab %d)", k->path, KLFILE_HEADER + 4 * i, i,
                            k->tokens[i], k->n_vocab);
    return 0;
}

int klfile_open(struct klfile *k, const char *path, struct qerr *err)
{
    memset(k, 0, sizeof *k);
    k->fd = -1;
    snprintf(k->path, sizeof k->path, "%s", path);
    struct stat st;
    k->fd = afile_open_regular(path, &st, err);
    if (k->fd < 0)
        return err ? (err->code ? err->code : QERR_IO) : QERR_IO;
    int rc = header(k, (long long)st.st_size, err);
    if (!rc)
        rc = read_tokens(k, err);
    if (rc)
        klfile_close(k);
    return rc;
}

void klfile_close(struct klfile *k)
{
    if (k->fd >= 0)
        close(k->fd);
    free(k->tokens);
    k->tokens = NULL;
    k->fd = -1;
}

int klfile_read_chunk(const struct klfile *k, int c, uint16_t *buf, struct qerr *err)
{
    size_t words = (size_t)k->rows * k->nv;
    long long off = k->data_off + (long long)c * (long long)(words * 2);
    if (c < 0 || c >= k->n_chunk)
        return qerr_set(err, QERR_ARG, "%s: chunk %d of %d", k->path, c, k->n_chunk);
    if (read_at(k->fd, buf, words * 2, off) < 0)
        return qerr_set(err, QERR_IO, "%s: cannot read chunk %d at offset %lld", k->path, c, off);
    for (int r = 0; r < k->rows; r++) {
        float scale, min_lp;
        rec_head(buf + (size_t)r * k->nv, &scale, &min_lp);
        if (!isfinite(scale) || scale < 0 || !isfinite(min_lp) || min_lp > 0)
            return qerr_set(err, QERR_FORMAT, "%s: offset %lld: chunk %d record %d: scale %g / "
                            "min_log_prob %g are not a log-probability range", k->path,
                            off + 2LL * r * k->nv, c, r, scale, min_lp);
    }
    return 0;
}

int klfile_check_run(const struct klfile *k, int n_ctx, int n_vocab, int n_chunks,
                     const int *tokens, struct qerr *err)
{
    if (n_vocab != k->n_vocab)
        return qerr_set(err, QERR_FORMAT, "%s: n_vocab %d, the model has %d tokens (another "
                        "vocabulary)", k->path, k->n_vocab, n_vocab);
    if (n_ctx != k->n_ctx)
        return qerr_set(err, QERR_FORMAT, "%s: n_ctx %d, this run uses %d", k->path, k->n_ctx,
                        n_ctx);
    if (n_chunks > k->n_chunk)
        return qerr_set(err, QERR_FORMAT, "%s: n_chunk %d, this run evaluates %d chunks", k->path,
                        k->n_chunk, n_chunks);
    size_t n = (size_t)n_chunks * n_ctx;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] != k->tokens[i])
            return qerr_set(err, QERR_FORMAT, "%s: tokens: token %zu (chunk %zu, position %zu) is "
                            "%d in the file and %d in this text (another text or tokenizer)",
                            k->path, i, i / n_ctx, i % n_ctx, k->tokens[i], tokens[i]);
    return 0;
}

/* ---- writing ---- */

int klfile_create(struct klfile_out *w, const char *path, int n_ctx, int n_vocab, int n_chunk,
                  const int *tokens, struct qerr *err)
{
    memset(w, 0, sizeof *w);
    if (n_ctx < 4 || n_vocab < 1 || n_chunk < 1)
        return qerr_set(err, QERR_ARG, "%s: n_ctx %d, n_vocab %d, n_chunk %d: nothing to store",
                        path, n_ctx, n_vocab, n_chunk);
    int rc = afile_open(&w->a, path, err);
    if (rc)
        return rc;
    w->n_ctx = n_ctx;
    w->n_vocab = n_vocab;
    w->n_chunk = n_chunk;
    w->nv = klfile_row_words(n_vocab);
    w->rows = klfile_rows(n_ctx);
    int32_t h[3] = {n_ctx, n_vocab, n_chunk};
    size_t nt = (size_t)n_ctx * n_chunk;
    w->data_off = KLFILE_HEADER + (long long)nt * 4;
    if (fwrite(KLFILE_MAGIC, 1, 8, w->a.f) != 8 || fwrite(h, sizeof h, 1, w->a.f) != 1 ||
        fwrite(tokens, sizeof *tokens, nt, w->a.f) != nt || fflush(w->a.f) != 0) {
        afile_abort(&w->a);
        return qerr_set(err, QERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

int klfile_write_chunk(struct klfile_out *w, int c, const float *logits, uint16_t *scratch,
                       struct qerr *err)
{
    size_t words = (size_t)w->rows * w->nv;
    for (int r = 0; r < w->rows; r++)
        klfile_pack(logits + (size_t)r * w->n_vocab, w->n_vocab, scratch + (size_t)r * w->nv);
    long long off = w->data_off + (long long)c * (long long)(words * 2);
    const char *p = (const char *)scratch;
    size_t n = words * 2;
    int fd = fileno(w->a.f);
    while (n > 0) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return qerr_set(err, QERR_IO, "%s: cannot write chunk %d: %s", w->a.path, c,
                            strerror(errno));
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int klfile_commit(struct klfile_out *w, struct qerr *err)
{
    return afile_commit(&w->a, err);
}

void klfile_abort(struct klfile_out *w)
{
    if (w->a.f)
        afile_abort(&w->a);
}
