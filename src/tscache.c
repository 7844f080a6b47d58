/* tscache: the statistics results cache (see tscache.h). */
#include "src/tscache.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "src/fileid.h"
#include "src/paths.h"

#define MAGIC "QLSTATS"          /* 8 bytes with the NUL */
#define NFIELDS 19               /* struct stats, field by field */
#define MAX_FILE ((size_t)64 << 20)

struct fid {                     /* one model file's identity */
    uint64_t dev, ino, size, mtime_ns, head;
};

struct entry {
    char name[QM_NAME_MAX];
    uint32_t dtype;
    uint64_t nelem;
    double thresh;
    struct stats st;
};

struct tscache {
    char path[PATH_MAX];
    struct fid *ids;             /* (n_ids) the model's files, in map order */
    int n_ids;
    struct entry *e;
    size_t n, cap;
    int dirty, hits;
    enum tscache_state state;
    char why[256];
    pthread_mutex_t mu;
};

static int model_ids(const struct qmodel *m, struct tscache *c, struct qerr *err)
{
    c->ids = calloc(m->n_maps ? (size_t)m->n_maps : 1, sizeof *c->ids);
    if (!c->ids)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    c->n_ids = m->n_maps;
    for (int i = 0; i < m->n_maps; i++) {
        struct stat st;
        if (m->maps[i].fd < 0 || fstat(m->maps[i].fd, &st))
            return qerr_set(err, QERR_IO, "%s: cannot identify the file for the statistics "
                            "cache", m->maps[i].path);
        struct fid *f = &c->ids[i];
        f->dev = (uint64_t)st.st_dev;
        f->ino = (uint64_t)st.st_ino;
        f->size = (uint64_t)st.st_size;
        f->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
        if (fileid_hash_ends(m->maps[i].fd, f->size, &f->head))
            return qerr_set(err, QERR_IO, "%s: cannot read the file for the statistics cache",
                            m->maps[i].path);
    }
    return 0;
}

/* ---- serialising ---- */

static void stats_fields(const struct stats *s, uint64_t v[NFIELDS])
{
    const double d[] = {s->mean, s->std, s->min, s->max, s->absmax, s->skew, s->kurt,
                        s->exkurt, s->absmax_over_std, s->frac_k3, s->frac_k6, s->frac_abs,
                        s->abs_thresh};
    v[0] = s->n, v[1] = s->n_nonfinite, v[2] = s->n_k3, v[3] = s->n_k6, v[4] = s->n_abs;
    v[5] = (uint64_t)s->degenerate;
    for (int i = 0; i < 13; i++)
        memcpy(&v[6 + i], &d[i], 8);
}

static void fields_stats(const uint64_t v[NFIELDS], struct stats *s)
{
    double d[13];
    for (int i = 0; i < 13; i++)
        memcpy(&d[i], &v[6 + i], 8);
    memset(s, 0, sizeof *s);
    s->n = v[0], s->n_nonfinite = v[1], s->n_k3 = v[2], s->n_k6 = v[3], s->n_abs = v[4];
    s->degenerate = (int)v[5];
    s->mean = d[0], s->std = d[1], s->min = d[2], s->max = d[3], s->absmax = d[4];
    s->skew = d[5], s->kurt = d[6], s->exkurt = d[7], s->absmax_over_std = d[8];
    s->frac_k3 = d[9], s->frac_k6 = d[10], s->frac_abs = d[11], s->abs_thresh = d[12];
}

#define ENTRY_BYTES (QM_NAME_MAX + 4 + 8 + 8 + 8 * NFIELDS)

/* A growing byte buffer. */
struct buf {
    unsigned char *p;
    size_t n, cap;
    int bad;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->bad)
        return;
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->bad = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void encode(const struct tscache *c, struct buf *b)
{
    uint32_t ver = TSCACHE_VERSION, n = (uint32_t)c->n, nid = (uint32_t)c->n_ids;
    put(b, MAGIC, 8);
    put(b, &ver, 4);
    put(b, &n, 4);
    put(b, &nid, 4);
    for (int i = 0; i < c->n_ids; i++)
        put(b, &c->ids[i], sizeof c->ids[i]);
    for (size_t i = 0; i < c->n; i++) {
        const struct entry *e = &c->e[i];
        uint64_t v[NFIELDS];
        stats_fields(&e->st, v);
        put(b, e->name, QM_NAME_MAX);
        put(b, &e->dtype, 4);
        put(b, &e->nelem, 8);
        put(b, &e->thresh, 8);
        put(b, v, sizeof v);
    }
    uint64_t h = b->bad ? 0 : fileid_fnv(FILEID_FNV_INIT, b->p, b->n);
    put(b, &h, 8);
}

/* Parse file bytes p[0..n): sets state (and why) and loads the entries
 * of a file that matches the model. */
static void decode(struct tscache *c, const unsigned char *p, size_t n)
{
    uint32_t ver, cnt, nid;
    uint64_t h;
    size_t head = 8 + 12;
    c->state = TSCACHE_CORRUPT;
    if (n < head + 8 || memcmp(p, MAGIC, 8)) {
        snprintf(c->why, sizeof c->why, "not a qlens statistics cache file");
        return;
    }
    memcpy(&ver, p + 8, 4);
    memcpy(&cnt, p + 12, 4);
    memcpy(&nid, p + 16, 4);
    if (ver != TSCACHE_VERSION) {
        c->state = TSCACHE_STALE;
        snprintf(c->why, sizeof c->why, "written by another version (%u, this one reads %u)",
                 ver, TSCACHE_VERSION);
        return;
    }
    /* counts are checked against the size before anything is allocated */
    if (nid > 4096 || cnt > MAX_FILE / ENTRY_BYTES ||
        n != head + (size_t)nid * sizeof(struct fid) + (size_t)cnt * ENTRY_BYTES + 8) {
        snprintf(c->why, sizeof c->why, "its size (%zu bytes) does not match its counts", n);
        return;
    }
    memcpy(&h, p + n - 8, 8);
    if (h != fileid_fnv(FILEID_FNV_INIT, p, n - 8)) {
        snprintf(c->why, sizeof c->why, "checksum mismatch (a torn or edited file)");
        return;
    }
    const unsigned char *q = p + head;
    if ((int)nid != c->n_ids || memcmp(q, c->ids, nid * sizeof(struct fid))) {
        c->state = TSCACHE_STALE;
        snprintf(c->why, sizeof c->why, "the model file changed since (size, time or header)");
        return;
    }
    q += nid * sizeof(struct fid);
    c->e = calloc(cnt ? cnt : 1, sizeof *c->e);
    if (!c->e) {
        snprintf(c->why, sizeof c->why, "out of memory reading it");
        return;
    }
    c->cap = cnt ? cnt : 1;
    for (uint32_t i = 0; i < cnt; i++, q += ENTRY_BYTES) {
        struct entry *e = &c->e[c->n];
        uint64_t v[NFIELDS];
        memcpy(e->name, q, QM_NAME_MAX);
        memcpy(&e->dtype, q + QM_NAME_MAX, 4);
        memcpy(&e->nelem, q + QM_NAME_MAX + 4, 8);
        memcpy(&e->thresh, q + QM_NAME_MAX + 12, 8);
        memcpy(v, q + QM_NAME_MAX + 20, sizeof v);
        if (memchr(e->name, 0, QM_NAME_MAX) == NULL)
            continue; /* unterminated name: skip the entry */
        fields_stats(v, &e->st);
        c->n++;
    }
    c->state = TSCACHE_LOADED;
    snprintf(c->why, sizeof c->why, "%zu tensors cached", c->n);
}

/* ---- the API ---- */

struct tscache *tscache_open(const struct qmodel *m, const char *dir, struct qerr *err)
{
    char base[PATH_MAX], real[PATH_MAX];
    if (dir)
        snprintf(base, sizeof base, "%s", dir);
    else if (paths_cache_dir(base, sizeof base) < 0) {
        qerr_set(err, QERR_IO, "no cache folder (set QLENS_CACHE_DIR or HOME)");
        return NULL;
    }
    struct tscache *c = calloc(1, sizeof *c);
    if (!c) {
        qerr_set(err, QERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    if (model_ids(m, c, err)) {
        tscache_close(c);
        return NULL;
    }
    const char *id = realpath(m->path, real) ? real : m->path;
    if ((size_t)snprintf(c->path, sizeof c->path, "%s/stats/stats-%016llx.bin", base,
                         (unsigned long long)fileid_fnv(FILEID_FNV_INIT, id, strlen(id))) >= sizeof c->path) {
        qerr_set(err, QERR_IO, "%s: cache folder path too long", base);
        tscache_close(c);
        return NULL;
    }
    size_t n = 0;
    struct qerr rerr = {0};
    struct stat st;
    if (stat(c->path, &st) != 0) {
        c->state = TSCACHE_NONE;
        snprintf(c->why, sizeof c->why, "no cache file yet");
        return c;
    }
    unsigned char *p = (unsigned char *)afile_read(c->path, MAX_FILE, &n, &rerr);
    if (!p) {
        c->state = TSCACHE_CORRUPT;
        snprintf(c->why, sizeof c->why, "%.200s", rerr.msg);
        return c;
    }
    decode(c, p, n);
    free(p);
    return c;
}

enum tscache_state tscache_state(const struct tscache *c, char *why, size_t cap)
{
    if (why && cap)
        snprintf(why, cap, "%s", c->why);
    return c->state;
}

static struct entry *find(struct tscache *c, const char *name, double thresh)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].thresh == thresh && !strcmp(c->e[i].name, name))
            return &c->e[i];
    return NULL;
}

int tscache_get(struct tscache *c, const struct qtensor *t, double abs_thresh,
                struct stats *out)
{
    if (!c || t->override)
        return 0;
    pthread_mutex_lock(&c->mu);
    struct entry *e = find(c, t->name, abs_thresh);
    int hit = e && e->dtype == (uint32_t)t->dtype && e->nelem == (uint64_t)t->nelem;
    if (hit) {
        *out = e->st;
        c->hits++;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void tscache_put(struct tscache *c, const struct qtensor *t, const struct stats *st)
{
    if (!c || t->override)
        return;
    pthread_mutex_lock(&c->mu);
    struct entry *e = find(c, t->name, st->abs_thresh);
    if (!e && c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct entry *p = realloc(c->e, cap * sizeof *p);
        if (p) {
            c->e = p;
            c->cap = cap;
        }
    }
    if (!e && c->n < c->cap) {
        e = &c->e[c->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", t->name);
    }
    if (e) {
        e->dtype = (uint32_t)t->dtype;
        e->nelem = (uint64_t)t->nelem;
        e->thresh = st->abs_thresh;
        e->st = *st;
        c->dirty = 1;
    }
    pthread_mutex_unlock(&c->mu);
}

/* mkdir -p of the cache file's folder. */
static int make_dirs(const char *file, struct qerr *err)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", file);
    char *slash = strrchr(d, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (char *p = d + 1; ; p++) {
        char ch = *p;
        if (ch != '/' && ch != '\0')
            continue;
        *p = '\0';
        if (mkdir(d, 0755) && errno != EEXIST)
            return qerr_set(err, QERR_IO, "%s: cannot create the cache folder: %s", d,
                            strerror(errno));
        *p = ch;
        if (!ch)
            return 0;
    }
}

int tscache_save(struct tscache *c, struct qerr *err)
{
    if (!c || !c->dirty)
        return 0;
    struct buf b = {0};
    pthread_mutex_lock(&c->mu);
    encode(c, &b);
    pthread_mutex_unlock(&c->mu);
    int rc = b.bad ? qerr_set(err, QERR_NOMEM, "out of memory") : make_dirs(c->path, err);
    struct afile a;
    if (!rc)
        rc = afile_open(&a, c->path, err);
    if (!rc) {
        if (fwrite(b.p, 1, b.n, a.f) != b.n) {
            afile_abort(&a);
            rc = qerr_set(err, QERR_IO, "%s: cannot write: %s", c->path, strerror(errno));
        } else {
            rc = afile_commit(&a, err);
        }
    }
    free(b.p);
    if (!rc)
        c->dirty = 0;
    return rc;
}

int tscache_hits(const struct tscache *c) { return c ? c->hits : 0; }
const char *tscache_path(const struct tscache *c) { return c ? c->path : ""; }

void tscache_close(struct tscache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->ids);
    free(c->e);
    free(c);
}
