/* gguf: GGUF v2/v3 parser and the GGUF model loader.
 *
 * The parser reads through a bounds-checked cursor: every read first asks
 * whether the bytes are there, and every count is compared with what the
 * remaining bytes could possibly hold before anything is allocated, so a
 * hostile file can neither read past the mapping nor make us allocate
 * gigabytes.  Errors read "<file>: offset <N>: <field>: <what is wrong>". */
#include "src/gguf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/model.h"

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGN 32

/* ---- ggml type traits: block size and bytes per block ---- */

static const struct {
    const char *name;
    uint32_t blck;  /* elements per block (0: id unused / removed) */
    uint32_t size;  /* bytes per block */
} ggml_traits[] = {
    [0] = {"f32", 1, 4},        [1] = {"f16", 1, 2},        [2] = {"q4_0", 32, 18},
    [3] = {"q4_1", 32, 20},     [6] = {"q5_0", 32, 22},     [7] = {"q5_1", 32, 24},
    [8] = {"q8_0", 32, 34},     [9] = {"q8_1", 32, 36},     [10] = {"q2_K", 256, 84},
    [11] = {"q3_K", 256, 110},  [12] = {"q4_K", 256, 144},  [13] = {"q5_K", 256, 176},
    [14] = {"q6_K", 256, 210},  [15] = {"q8_K", 256, 292},  [16] = {"iq2_xxs", 256, 66},
    [17] = {"iq2_xs", 256, 74}, [18] = {"iq3_xxs", 256, 98}, [19] = {"iq1_s", 256, 50},
    [20] = {"iq4_nl", 32, 18},  [21] = {"iq3_s", 256, 110}, [22] = {"iq2_s", 256, 82},
    [23] = {"iq4_xs", 256, 136}, [24] = {"i8", 1, 1},       [25] = {"i16", 1, 2},
    [26] = {"i32", 1, 4},       [27] = {"i64", 1, 8},       [28] = {"f64", 1, 8},
    [29] = {"iq1_m", 256, 56},  [30] = {"bf16", 1, 2},      [34] = {"tq1_0", 256, 54},
    [35] = {"tq2_0", 256, 66},  [39] = {"mxfp4", 32, 17},
};
#define N_GGML_TYPES (sizeof ggml_traits / sizeof ggml_traits[0])

static int ggml_type_known(uint32_t t) { return t < N_GGML_TYPES && ggml_traits[t].blck; }

const char *ggml_type_name(uint32_t t)
{
    static __thread char buf[24];
    if (ggml_type_known(t))
        return ggml_traits[t].name;
    snprintf(buf, sizeof buf, "type %" PRIu32, t);
    return buf;
}

static const char *const vtype_names[GGUF_T__COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};
static const uint8_t vtype_sizes[GGUF_T__COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *gguf_vtype_name(enum gguf_vtype t)
{
    return (unsigned)t < GGUF_T__COUNT ? vtype_names[t] : "?";
}

size_t gguf_vtype_size(enum gguf_vtype t)
{
    return (unsigned)t < GGUF_T__COUNT ? vtype_sizes[t] : 0;
}

/* ---- bounds-checked cursor ---- */

struct cur {
    const uint8_t *base;
    size_t size, pos;
    const char *path;
    struct qerr *err;
    char field[160];  /* what is being read, for messages */
};

static size_t left(const struct cur *c) { return c->size - c->pos; }

static int fail_at(struct cur *c, size_t off, int code, const char *what)
{
    return qerr_set(c->err, code, "%s: offset %zu: %s: %s", c->path, off, c->field, what);
}

static int need(struct cur *c, uint64_t n, const char *what)
{
    if (n <= left(c))
        return 0;
    char msg[200];
    snprintf(msg, sizeof msg, "%s (%" PRIu64 " bytes) runs past end of file (size %zu)", what, n,
             c->size);
    return fail_at(c, c->pos, QERR_FORMAT, msg);
}

static int rd_u32(struct cur *c, uint32_t *v, const char *what)
{
    if (need(c, 4, what))
        return QERR_FORMAT;
    memcpy(v, c->base + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(struct cur *c, uint64_t *v, const char *what)
{
    if (need(c, 8, what))
        return QERR_FORMAT;
    memcpy(v, c->base + c->pos, 8);
    c->pos += 8;
    return 0;
}

static int rd_str(struct cur *c, struct gguf_str *s)
{
    size_t at = c->pos;
    if (rd_u64(c, &s->len, "string length"))
        return QERR_FORMAT;
    if (s->len > left(c)) {
        char msg[200];
        snprintf(msg, sizeof msg, "string length %" PRIu64 " runs past end of file (size %zu)",
                 s->len, c->size);
        return fail_at(c, at, QERR_FORMAT, msg);
    }
    s->ptr = (const char *)c->base + c->pos;
    c->pos += (size_t)s->len;
    return 0;
}

/* ---- metadata values ---- */

static void widen_scalar(struct gguf_kv *kv, enum gguf_vtype t, const uint8_t *p)
{
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
    float f32; double f64;
    switch (t) {
    case GGUF_T_U8: case GGUF_T_BOOL: memcpy(&u8, p, 1); kv->v.u = u8; break;
    case GGUF_T_I8: memcpy(&i8, p, 1); kv->v.i = i8; break;
    case GGUF_T_U16: memcpy(&u16, p, 2); kv->v.u = u16; break;
    case GGUF_T_I16: memcpy(&i16, p, 2); kv->v.i = i16; break;
    case GGUF_T_U32: memcpy(&u32, p, 4); kv->v.u = u32; break;
    case GGUF_T_I32: memcpy(&i32, p, 4); kv->v.i = i32; break;
    case GGUF_T_F32: memcpy(&f32, p, 4); kv->v.f = f32; break;
    case GGUF_T_U64: memcpy(&kv->v.u, p, 8); break;
    case GGUF_T_I64: memcpy(&kv->v.i, p, 8); break;
    case GGUF_T_F64: memcpy(&f64, p, 8); kv->v.f = f64; break;
    default: break;
    }
}

static int rd_type(struct cur *c, uint32_t *t, const char *what)
{
    size_t at = c->pos;
    if (rd_u32(c, t, what))
        return QERR_FORMAT;
    if (*t >= GGUF_T__COUNT) {
        char msg[120];
        snprintf(msg, sizeof msg, "%s %" PRIu32 " is not a GGUF value type (0..12)", what, *t);
        return fail_at(c, at, QERR_FORMAT, msg);
    }
    return 0;
}

static int rd_array(struct cur *c, struct gguf_kv *kv)
{
    uint32_t et;
    if (rd_type(c, &et, "array element type"))
        return QERR_FORMAT;
    if (et == GGUF_T_ARRAY)
        return fail_at(c, c->pos - 4, QERR_UNSUPP, "arrays of arrays are not supported");
    kv->arr_type = (enum gguf_vtype)et;
    size_t at = c->pos;
    if (rd_u64(c, &kv->arr_n, "array length"))
        return QERR_FORMAT;
    /* A string element takes at least its 8-byte length. */
    uint64_t min_el = et == GGUF_T_STRING ? 8 : vtype_sizes[et];
    if (kv->arr_n > left(c) / min_el) {
        char msg[200];
        snprintf(msg, sizeof msg, "array length %" PRIu64 " of %s runs past end of file (size %zu)",
                 kv->arr_n, vtype_names[et], c->size);
        return fail_at(c, at, QERR_FORMAT, msg);
    }
    kv->arr_data = c->base + c->pos;
    if (et != GGUF_T_STRING) {
        c->pos += (size_t)(kv->arr_n * min_el);
        return 0;
    }
    kv->arr_strs = malloc((size_t)(kv->arr_n ? kv->arr_n : 1) * sizeof *kv->arr_strs);
    if (!kv->arr_strs)
        return qerr_set(c->err, QERR_NOMEM, "%s: out of memory (%s)", c->path, c->field);
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        size_t at = c->pos;
        if (rd_str(c, &kv->arr_strs[i])) {  /* again, naming the element */
            size_t fl = strlen(c->field);
            snprintf(c->field + fl, sizeof c->field - fl, ": element %" PRIu64, i);
            c->pos = at;
            return rd_str(c, &kv->arr_strs[i]);
        }
    }
    return 0;
}

static int rd_value(struct cur *c, struct gguf_kv *kv)
{
    if (kv->type == GGUF_T_STRING)
        return rd_str(c, &kv->v.s);
    if (kv->type == GGUF_T_ARRAY)
        return rd_array(c, kv);
    if (need(c, vtype_sizes[kv->type], "value"))
        return QERR_FORMAT;
    widen_scalar(kv, kv->type, c->base + c->pos);
    c->pos += vtype_sizes[kv->type];
    return 0;
}

static int rd_kv(struct cur *c, struct gguf_kv *kv, uint64_t i)
{
    kv->file_offset = c->pos;
    snprintf(c->field, sizeof c->field, "metadata key %" PRIu64, i);
    if (rd_str(c, &kv->key))
        return QERR_FORMAT;
    snprintf(c->field, sizeof c->field, "metadata key %" PRIu64 " (%.*s)", i,
             (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr);
    uint32_t t;
    if (rd_type(c, &t, "value type"))
        return QERR_FORMAT;
    kv->type = (enum gguf_vtype)t;
    return rd_value(c, kv);
}

/* ---- tensor infos ---- */

/* Bytes of a tensor, or 0 with a message when the shape is invalid. */
static uint64_t tensor_bytes(struct cur *c, const struct gguf_tinfo *ti)
{
    char msg[200];
    uint64_t n = 1;
    for (uint32_t d = 0; d < ti->n_dims; d++) {
        if (ti->ne[d] == 0 || ti->ne[d] > (uint64_t)INT64_MAX) {
            snprintf(msg, sizeof msg, "dimension %u is %" PRIu64, d, ti->ne[d]);
            fail_at(c, ti->file_offset, QERR_FORMAT, msg);
            return 0;
        }
        if (ti->ne[d] > (UINT64_C(1) << 60) / n) {  /* n * 8 bytes must not wrap */
            fail_at(c, ti->file_offset, QERR_FORMAT, "element count overflows");
            return 0;
        }
        n *= ti->ne[d];
    }
    uint32_t blck = ggml_traits[ti->ggml_type].blck, bsz = ggml_traits[ti->ggml_type].size;
    if (ti->ne[0] % blck) {
        snprintf(msg, sizeof msg, "row length %" PRIu64 " is not a multiple of the %s block (%u)",
                 ti->ne[0], ggml_traits[ti->ggml_type].name, blck);
        fail_at(c, ti->file_offset, QERR_FORMAT, msg);
        return 0;
    }
    return n / blck * bsz;
}

static int rd_tinfo(struct cur *c, struct gguf_tinfo *ti, uint64_t i)
{
    char msg[120];
    ti->file_offset = c->pos;
    snprintf(c->field, sizeof c->field, "tensor info %" PRIu64, i);
    if (rd_str(c, &ti->name))
        return QERR_FORMAT;
    snprintf(c->field, sizeof c->field, "tensor info %" PRIu64 " (%.*s)", i,
             (int)(ti->name.len > 80 ? 80 : ti->name.len), ti->name.ptr);
    size_t at = c->pos;
    if (rd_u32(c, &ti->n_dims, "n_dims"))
        return QERR_FORMAT;
    if (ti->n_dims < 1 || ti->n_dims > GGUF_MAX_DIMS) {
        snprintf(msg, sizeof msg, "n_dims is %" PRIu32 " (1..%d allowed)", ti->n_dims, GGUF_MAX_DIMS);
        return fail_at(c, at, QERR_FORMAT, msg);
    }
    for (uint32_t d = 0; d < ti->n_dims; d++)
        if (rd_u64(c, &ti->ne[d], "dimension"))
            return QERR_FORMAT;
    for (uint32_t d = ti->n_dims; d < GGUF_MAX_DIMS; d++)
        ti->ne[d] = 1;
    at = c->pos;
    if (rd_u32(c, &ti->ggml_type, "ggml_type"))
        return QERR_FORMAT;
    if (!ggml_type_known(ti->ggml_type)) {
        snprintf(msg, sizeof msg, "ggml type %" PRIu32 " is unknown (newer ggml?)", ti->ggml_type);
        return fail_at(c, at, QERR_UNSUPP, msg);
    }
    return rd_u64(c, &ti->offset, "offset");
}

/* Offsets aligned, data inside the file.  (Overlaps: check_overlaps.) */
static int check_tinfo_data(struct cur *c, struct gguf_file *g, struct gguf_tinfo *ti, uint64_t i)
{
    char msg[240];
    snprintf(c->field, sizeof c->field, "tensor info %" PRIu64 " (%.*s)", i,
             (int)(ti->name.len > 80 ? 80 : ti->name.len), ti->name.ptr);
    uint64_t nb = tensor_bytes(c, ti);
    if (!nb)
        return QERR_FORMAT;
    if (ti->offset % g->alignment) {
        snprintf(msg, sizeof msg, "data offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                 ti->offset, g->alignment);
        return fail_at(c, ti->file_offset, QERR_FORMAT, msg);
    }
    uint64_t room = g->size > g->data_offset ? g->size - g->data_offset : 0;
    if (ti->offset > room || nb > room - ti->offset) {
        snprintf(msg, sizeof msg,
                 "data [%" PRIu64 ", %" PRIu64 ") runs past end of file (size %zu, data section at %" PRIu64 ")",
                 g->data_offset + ti->offset, g->data_offset + ti->offset + nb, g->size,
                 g->data_offset);
        return fail_at(c, ti->file_offset, QERR_FORMAT, msg);
    }
    return 0;
}

/* ---- duplicates and overlaps: sort indices, compare neighbours ---- */

static __thread const struct gguf_file *sort_g; /* qsort has no context argument */

static int str_cmp(struct gguf_str a, struct gguf_str b)
{
    size_t n = a.len < b.len ? (size_t)a.len : (size_t)b.len;
    int r = memcmp(a.ptr, b.ptr, n);
    return r ? r : (a.len > b.len) - (a.len < b.len);
}

static int cmp_key(const void *a, const void *b)
{
    return str_cmp(sort_g->kv[*(const uint64_t *)a].key, sort_g->kv[*(const uint64_t *)b].key);
}

static int cmp_tname(const void *a, const void *b)
{
    return str_cmp(sort_g->tinfo[*(const uint64_t *)a].name, sort_g->tinfo[*(const uint64_t *)b].name);
}

static int cmp_toff(const void *a, const void *b)
{
    uint64_t x = sort_g->tinfo[*(const uint64_t *)a].offset, y = sort_g->tinfo[*(const uint64_t *)b].offset;
    return (x > y) - (x < y);
}

static int check_unique(struct cur *c, const struct gguf_file *g, struct qerr *err)
{
    uint64_t n = g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors;
    uint64_t *ix = malloc((size_t)(n ? n : 1) * sizeof *ix);
    if (!ix)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", g->path);
    int rc = 0;
    sort_g = g;
    for (uint64_t i = 0; i < g->n_kv; i++)
        ix[i] = i;
    qsort(ix, (size_t)g->n_kv, sizeof *ix, cmp_key);
    for (uint64_t i = 1; i < g->n_kv && !rc; i++)
        if (!str_cmp(g->kv[ix[i - 1]].key, g->kv[ix[i]].key)) {
            const struct gguf_kv *kv = &g->kv[ix[i] > ix[i - 1] ? ix[i] : ix[i - 1]];
            snprintf(c->field, sizeof c->field, "metadata key (%.*s)", (int)kv->key.len, kv->key.ptr);
            rc = fail_at(c, kv->file_offset, QERR_FORMAT, "duplicate key");
        }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        ix[i] = i;
    qsort(ix, (size_t)g->n_tensors, sizeof *ix, cmp_tname);
    for (uint64_t i = 1; i < g->n_tensors && !rc; i++)
        if (!str_cmp(g->tinfo[ix[i - 1]].name, g->tinfo[ix[i]].name)) {
            const struct gguf_tinfo *t = &g->tinfo[ix[i] > ix[i - 1] ? ix[i] : ix[i - 1]];
            snprintf(c->field, sizeof c->field, "tensor info (%.*s)", (int)t->name.len, t->name.ptr);
            rc = fail_at(c, t->file_offset, QERR_FORMAT, "duplicate tensor name");
        }
    qsort(ix, (size_t)g->n_tensors, sizeof *ix, cmp_toff);
    for (uint64_t i = 1; i < g->n_tensors && !rc; i++) {
        const struct gguf_tinfo *a = &g->tinfo[ix[i - 1]], *b = &g->tinfo[ix[i]];
        if (a->offset + tensor_bytes(c, a) > b->offset) {
            snprintf(c->field, sizeof c->field, "tensor info (%.*s)", (int)b->name.len, b->name.ptr);
            char msg[200];
            snprintf(msg, sizeof msg, "data at offset %" PRIu64 " overlaps tensor %.*s",
                     g->data_offset + b->offset, (int)a->name.len, a->name.ptr);
            rc = fail_at(c, b->file_offset, QERR_FORMAT, msg);
        }
    }
    free(ix);
    return rc;
}

/* ---- header ---- */

static int rd_header(struct cur *c, struct gguf_file *g)
{
    snprintf(c->field, sizeof c->field, "header");
    if (need(c, 4, "magic"))
        return QERR_FORMAT;
    if (memcmp(c->base, "GGUF", 4))
        return fail_at(c, 0, QERR_FORMAT, "magic is not \"GGUF\"");
    c->pos = 4;
    if (rd_u32(c, &g->version, "version"))
        return QERR_FORMAT;
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return fail_at(c, 4, QERR_UNSUPP, "big-endian GGUF is not supported");
    if (g->version != 2 && g->version != 3) {
        char msg[120];
        snprintf(msg, sizeof msg, "version %" PRIu32 " is not supported (2 and 3 are)", g->version);
        return fail_at(c, 4, g->version == 1 ? QERR_UNSUPP : QERR_FORMAT, msg);
    }
    snprintf(c->field, sizeof c->field, "n_tensors");
    if (rd_u64(c, &g->n_tensors, "tensor count"))
        return QERR_FORMAT;
    snprintf(c->field, sizeof c->field, "n_kv");
    if (rd_u64(c, &g->n_kv, "metadata count"))
        return QERR_FORMAT;
    /* Smallest kv: 8 (key len) + 4 (type) + 1 (u8); smallest tensor info:
     * 8 (name len) + 4 (n_dims) + 8 (one ne) + 4 (type) + 8 (offset). */
    char msg[200];
    if (g->n_kv > left(c) / 13) {
        snprintf(msg, sizeof msg, "%" PRIu64 " metadata entries cannot fit in the %zu bytes left",
                 g->n_kv, left(c));
        return fail_at(c, 16, QERR_FORMAT, msg);
    }
    snprintf(c->field, sizeof c->field, "n_tensors");
    if (g->n_tensors > (left(c) - g->n_kv * 13) / 32) {
        snprintf(msg, sizeof msg, "%" PRIu64 " tensor infos cannot fit in the %zu bytes left",
                 g->n_tensors, left(c));
        return fail_at(c, 8, QERR_FORMAT, msg);
    }
    return 0;
}

/* general.alignment: any integer type, non-zero power of two. */
static int rd_alignment(struct cur *c, struct gguf_file *g)
{
    g->alignment = GGUF_DEFAULT_ALIGN;
    const struct gguf_kv *kv = gguf_find(g, "general.alignment");
    if (!kv)
        return 0;
    int64_t a;
    snprintf(c->field, sizeof c->field, "metadata key general.alignment");
    if (gguf_get_int(g, "general.alignment", &a) < 0)
        return fail_at(c, kv->file_offset, QERR_FORMAT, "is not an integer");
    if (a <= 0 || (a & (a - 1)) || a > (1 << 30)) {
        char msg[120];
        snprintf(msg, sizeof msg, "%" PRId64 " is not a power of two (1..2^30)", a);
        return fail_at(c, kv->file_offset, QERR_FORMAT, msg);
    }
    g->alignment = (uint64_t)a;
    return 0;
}

static int parse_body(struct cur *c, struct gguf_file *g)
{
    int rc = rd_header(c, g);
    if (rc)
        return rc;
    g->kv = calloc((size_t)(g->n_kv ? g->n_kv : 1), sizeof *g->kv);
    g->tinfo = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof *g->tinfo);
    if (!g->kv || !g->tinfo)
        return qerr_set(c->err, QERR_NOMEM, "%s: out of memory", c->path);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if ((rc = rd_kv(c, &g->kv[i], i)))
            return rc;
    if ((rc = rd_alignment(c, g)))
        return rc;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if ((rc = rd_tinfo(c, &g->tinfo[i], i)))
            return rc;
    /* A vocab-only file may end before the padding: data_offset can then
     * lie past the end, which is fine as long as no tensor needs it. */
    g->data_offset = (c->pos + g->alignment - 1) / g->alignment * g->alignment;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if ((rc = check_tinfo_data(c, g, &g->tinfo[i], i)))
            return rc;
    return check_unique(c, g, c->err);
}

int gguf_parse(struct gguf_file *g, const char *path, const void *base, size_t size,
               struct qerr *err)
{
    memset(g, 0, sizeof *g);
    g->path = path;
    g->base = base;
    g->size = size;
    struct cur c = {base, size, 0, path, err, ""};
    int rc = parse_body(&c, g);
    if (rc)
        gguf_free(g);
    return rc;
}

void gguf_free(struct gguf_file *g)
{
    if (!g)
        return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++)
            free(g->kv[i].arr_strs);
    free(g->kv);
    free(g->tinfo);
    g->kv = NULL;
    g->tinfo = NULL;
    g->n_kv = g->n_tensors = 0;
}

/* ---- lookup ---- */

int gguf_str_eq(struct gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && !memcmp(s.ptr, c, n);
}

void gguf_str_copy(struct gguf_str s, char *buf, size_t cap)
{
    if (!cap)
        return;
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    if (n)
        memcpy(buf, s.ptr, n);
    buf[n] = '\0';
}

const struct gguf_kv *gguf_find(const struct gguf_file *g, const char *key)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (gguf_str_eq(g->kv[i].key, key))
            return &g->kv[i];
    return NULL;
}

static int is_signed(enum gguf_vtype t)
{
    return t == GGUF_T_I8 || t == GGUF_T_I16 || t == GGUF_T_I32 || t == GGUF_T_I64;
}

static int is_unsigned(enum gguf_vtype t)
{
    return t == GGUF_T_U8 || t == GGUF_T_U16 || t == GGUF_T_U32 || t == GGUF_T_U64 ||
           t == GGUF_T_BOOL;
}

int gguf_get_int(const struct gguf_file *g, const char *key, int64_t *out)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    if (!kv)
        return -1;
    if (is_signed(kv->type)) {
        *out = kv->v.i;
        return 0;
    }
    if (is_unsigned(kv->type) && kv->v.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)kv->v.u;
        return 0;
    }
    return -1;
}

int gguf_get_float(const struct gguf_file *g, const char *key, double *out)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    if (!kv)
        return -1;
    if (kv->type == GGUF_T_F32 || kv->type == GGUF_T_F64)
        *out = kv->v.f;
    else if (is_signed(kv->type))
        *out = (double)kv->v.i;
    else if (is_unsigned(kv->type))
        *out = (double)kv->v.u;
    else
        return -1;
    return 0;
}

int gguf_get_str(const struct gguf_file *g, const char *key, struct gguf_str *out)
{
    const struct gguf_kv *kv = gguf_find(g, key);
    if (!kv || kv->type != GGUF_T_STRING)
        return -1;
    *out = kv->v.s;
    return 0;
}

/* ---- model loader ---- */

struct ld {
    struct qmodel *m;
    const struct gguf_file *g;
    const char *path;
    char arch[32];
    struct qerr *err;
};

/* <arch>.<suffix> as a positive int; `def` <= 0 means required. */
static int cfg_int(struct ld *l, const char *suffix, int def, int *out)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", l->arch, suffix);
    const struct gguf_kv *kv = gguf_find(l->g, key);
    if (!kv) {
        if (def > 0) {
            *out = def;
            return 0;
        }
        return qerr_set(l->err, QERR_FORMAT, "%s: metadata key %s is missing", l->path, key);
    }
    int64_t v;
    if (gguf_get_int(l->g, key, &v) < 0 || v <= 0 || v > (1 << 30))
        return qerr_set(l->err, QERR_FORMAT,
                        "%s: offset %" PRIu64 ": metadata key %s: must be a positive integer "
                        "below 2^30 (type %s)", l->path, kv->file_offset, key,
                        gguf_vtype_name(kv->type));
    *out = (int)v;
    return 0;
}

static int cfg_float(struct ld *l, const char *suffix, double def, float *out)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", l->arch, suffix);
    const struct gguf_kv *kv = gguf_find(l->g, key);
    double v = def;
    if (kv && (gguf_get_float(l->g, key, &v) < 0 || !(v > 0) || v > 1e30))
        return qerr_set(l->err, QERR_FORMAT,
                        "%s: offset %" PRIu64 ": metadata key %s: must be a positive number",
                        l->path, kv->file_offset, key);
    *out = (float)v;
    return 0;
}

static int read_arch(struct ld *l)
{
    struct gguf_str s;
    if (gguf_get_str(l->g, "general.architecture", &s) < 0)
        return qerr_set(l->err, QERR_FORMAT,
                        "%s: metadata key general.architecture is missing or not a string", l->path);
    gguf_str_copy(s, l->arch, sizeof l->arch);
    if (strcmp(l->arch, "llama") && strcmp(l->arch, "mistral") && strcmp(l->arch, "qwen2"))
        return qerr_set(l->err, QERR_UNSUPP,
                        "%s: architecture '%.*s' is not supported (qlens reads llama, mistral "
                        "and qwen2)", l->path, (int)(s.len > 64 ? 64 : s.len), s.ptr);
    snprintf(l->m->cfg.arch, sizeof l->m->cfg.arch, "%s", l->arch);
    return 0;
}

static int read_config(struct ld *l)
{
    struct qconfig *c = &l->m->cfg;
    int rc;
    if ((rc = read_arch(l)) || (rc = cfg_int(l, "embedding_length", 0, &c->dim)) ||
        (rc = cfg_int(l, "feed_forward_length", 0, &c->hidden_dim)) ||
        (rc = cfg_int(l, "block_count", 0, &c->n_layers)) ||
        (rc = cfg_int(l, "attention.head_count", 0, &c->n_heads)) ||
        (rc = cfg_int(l, "attention.head_count_kv", c->n_heads, &c->n_kv_heads)) ||
        (rc = cfg_int(l, "context_length", 0, &c->ctx_len)) ||
        (rc = cfg_float(l, "rope.freq_base", 10000.0, &c->rope_theta)) ||
        (rc = cfg_float(l, "attention.layer_norm_rms_epsilon", 1e-5, &c->norm_eps)))
        return rc;
    int hd = c->dim / c->n_heads;
    if ((rc = cfg_int(l, "rope.dimension_count", hd, &hd)) ||
        (rc = cfg_int(l, "attention.key_length", hd, &c->head_dim)))
        return rc;
    /* llama.cpp's llama_model_rope_type(): LLAMA (and Mistral, stored as
     * llama) is NORM = interleaved pairs, its HF converter permutes Q/K to
     * match; QWEN2 is NEOX = rotate-half, stored in HF order unpermuted. */
    c->rope_style = strcmp(l->arch, "qwen2") ? QROPE_INTERLEAVED : QROPE_HALF;
    c->has_qkv_bias = !strcmp(l->arch, "qwen2");
    return 0;
}

/* "blk.3.attn_q.weight" -> "blk.3.attn_q"; "blk.3.attn_q.bias" ->
 * "blk.3.attn_q_bias"; anything else is kept as it is. */
static void canonical_name(struct gguf_str s, char *out, size_t cap)
{
    char src[QM_NAME_MAX]; /* add_tensor refused longer names already */
    gguf_str_copy(s, src, sizeof src);
    size_t n = strlen(src);
    if (n > 7 && !strcmp(src + n - 7, ".weight"))
        src[n - 7] = '\0';
    else if (n > 5 && !strcmp(src + n - 5, ".bias"))
        memcpy(src + n - 5, "_bias", 6);
    snprintf(out, cap, "%s", src);
}

static int add_tensor(struct ld *l, int map, const struct gguf_tinfo *ti)
{
    char name[QM_NAME_MAX], src[QM_NAME_MAX];
    gguf_str_copy(ti->name, src, sizeof src);
    if (ti->name.len >= QM_NAME_MAX)
        return qerr_set(l->err, QERR_FORMAT, "%s: offset %" PRIu64 ": tensor %s...: name too long",
                        l->path, ti->file_offset, src);
    enum qdtype dt;
    if (qdtype_from_ggml(ti->ggml_type, &dt))
        return qerr_set(l->err, QERR_UNSUPP,
                        "%s: tensor %s: ggml type %s is not supported (qlens reads F32, F16, BF16, "
                        "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL and IQ4_XS)",
                        l->path, src, ggml_type_name(ti->ggml_type));
    canonical_name(ti->name, name, sizeof name);
    int64_t shape[GGUF_MAX_DIMS];
    for (uint32_t d = 0; d < ti->n_dims; d++)  /* ggml ne is innermost first */
        shape[d] = (int64_t)ti->ne[ti->n_dims - 1 - d];
    int rc = qmodel_add_tensor(l->m, name, src, dt, (int)ti->n_dims, shape, map,
                               l->g->data_offset + ti->offset, l->err);
    return rc < 0 ? rc : 0;
}

int gguf_model_load(struct qmodel *m, const char *path, struct qerr *err)
{
    int map = qmodel_map_file(m, path, err);
    if (map < 0)
        return map;
    m->format = QF_GGUF;
    struct gguf_file *g = calloc(1, sizeof *g);
    if (!g)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    int rc = gguf_parse(g, m->maps[map].path, m->maps[map].base, m->maps[map].size, err);
    if (rc) {
        free(g);
        return rc;
    }
    m->gguf = g;
    struct ld l = {m, g, m->maps[map].path, "", err};
    if ((rc = read_config(&l)))
        return rc;
    for (uint64_t i = 0; i < g->n_tensors && !rc; i++)
        rc = add_tensor(&l, map, &g->tinfo[i]);
    if (rc)
        return rc;
    const struct qtensor *emb = qmodel_get(m, -1, QR_TOK_EMBD);
    if (!emb)
        return qerr_set(err, QERR_FORMAT, "%s: tensor token_embd.weight is missing", path);
    if (emb->shape[0] > (1 << 30))
        return qerr_set(err, QERR_FORMAT, "%s: token_embd has %lld rows", path,
                        (long long)emb->shape[0]);
    m->cfg.vocab_size = (int)emb->shape[0];
    m->cfg.tied_output = qmodel_get(m, -1, QR_OUTPUT) == NULL;
    if (qmodel_get(m, 0, QR_ATTN_Q_BIAS))  /* a llama-arch export of a biased model */
        m->cfg.has_qkv_bias = 1;
    return 0;
}
