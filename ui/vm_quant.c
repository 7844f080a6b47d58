/* vm_quant: settings, apply and error map of the live quantization. */
#include "ui/vm_quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ui/vm_hist.h"

const int vm_quant_groups[] = {-1, 0, 32, 64, 128, 256};
const int vm_quant_n_groups = (int)(sizeof vm_quant_groups / sizeof vm_quant_groups[0]);

void vm_quant_init(struct vm_quant *q)
{
    memset(q, 0, sizeof *q);
    q->method = 0;
    const struct quantizer *m = quant_registry[0];
    q->bits = m ? m->def_bits : 4;
    q->group = m ? m->def_group : 128;
    q->sym = m ? m->def_sym : 1;
    q->ti = -1;
}

void vm_quant_free(struct vm_quant *q)
{
    free(q->wq); /* err and mask live in its block */
    free(q->kept);
    q->wq = q->err = q->kept = NULL;
    q->mask = NULL;
    q->cap = q->touched = 0;
    q->ti = -1;
}

/* A result buffer.  Fresh memory costs a page fault per 4 KB on first
 * touch: a 2048x768 result is about 3400 of them, which took 40-130 ms
 * in a virtual machine (each fault exits to the host), most of the frame
 * that entered the Quant view or pinned B.  So the buffers are kept
 * (cap, grow only) and written once ahead of use in time slices
 * (vm_quant_prepare).  Transparent huge pages were tried: 512x fewer
 * faults when the kernel has them at hand, but a stall of 40-50 ms in
 * one fault when it compacts memory for them (defrag=madvise) under
 * the load of other processes. */
static void *vq_alloc(size_t bytes)
{
    return malloc(bytes ? bytes : 1);
}

/* Room for n values in wq, err and mask (kept if already there), in one
 * block that wq owns.  New buffers are untouched (touched = 0). */
static int vq_reserve(struct vm_quant *q, int64_t n)
{
    if (q->wq && q->cap >= n)
        return 0;
    free(q->wq);
    size_t m = (size_t)(n > 0 ? n : 1);
    q->wq = vq_alloc(m * (2 * sizeof(float) + 1));
    q->err = q->wq ? q->wq + m : NULL;
    q->mask = q->wq ? (unsigned char *)(q->wq + 2 * m) : NULL;
    q->cap = q->wq ? (int64_t)m : 0;
    q->touched = 0;
    return q->wq ? 0 : QERR_NOMEM;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int vm_quant_prepare(struct vm_quant *q, int64_t n, double ms)
{
    if (vq_reserve(q, n) < 0)
        return QERR_NOMEM;
    double t0 = now_ms();
    const int64_t page = 4096, slice = 16 * 1024; /* values per clock check */
    while (q->touched < q->cap) {
        int64_t end = q->touched + slice < q->cap ? q->touched + slice : q->cap;
        for (int64_t i = q->touched; i < end; i += page / (int64_t)sizeof(float)) {
            q->wq[i] = 0;
            q->err[i] = 0;
        }
        for (int64_t i = q->touched; i < end; i += page)
            q->mask[i] = 0;
        q->touched = end;
        if (ms >= 0 && now_ms() - t0 >= ms)
            break;
    }
    return q->touched < q->cap;
}

int vm_quant_ready(const struct vm_quant *q, int64_t n)
{
    return q->wq && q->cap >= n && q->touched >= q->cap;
}

void vm_quant_clear(struct vm_quant *q)
{
    free(q->kept);
    q->kept = NULL;
    q->ti = -1;
}

const struct quantizer *vm_quant_method(const struct vm_quant *q)
{
    return quant_registry[q->method];
}

/* Bits, group and symmetry stay when the method changes, so two methods
 * are compared on the same settings (only the method's own option
 * starts from its default). */
void vm_quant_next_method(struct vm_quant *q)
{
    q->method = (q->method + 1) % quant_count();
    q->opt_step = 0;
}

void vm_quant_prev_method(struct vm_quant *q)
{
    int n = quant_count();
    q->method = (q->method + n - 1) % n;
    q->opt_step = 0;
}

/* One "key value" word pair of a command; 0 or QERR_ARG. */
static int command_one(struct vm_quant *q, const char *key, const char *val, struct qerr *err)
{
    char *end;
    if (!strcmp(key, "method") || !strcmp(key, "m")) {
        for (int i = 0; val && quant_registry[i]; i++)
            if (!strcasecmp(quant_registry[i]->name, val)) {
                if (i != q->method)
                    q->opt_step = 0;
                q->method = i;
                return 0;
            }
        return qerr_set(err, QERR_ARG, "no method '%s' (rtn, gptq, awq, spqr, llm.int8, "
                        "smoothquant)", val ? val : "");
    }
    if (!strcmp(key, "bits") || !strcmp(key, "b")) {
        long b = val ? strtol(val, &end, 10) : 0;
        if (!val || *end || b < 2 || b > 8)
            return qerr_set(err, QERR_ARG, "bits wants 2..8, got '%s'", val ? val : "");
        q->bits = (int)b;
        return 0;
    }
    if (!strcmp(key, "group") || !strcmp(key, "g")) {
        const char *v = val && (val[0] == 'g' || val[0] == 'G') ? val + 1 : val;
        long g = !v ? -2 : !strcmp(v, "row") ? 0 : !strcmp(v, "tensor") ? -1 : strtol(v, &end, 10);
        int ok = v && (!strcmp(v, "row") || !strcmp(v, "tensor") || (!*end && g >= -1 && g <= 4096));
        if (!ok)
            return qerr_set(err, QERR_ARG, "group wants a size, row or tensor, got '%s'",
                            val ? val : "");
        q->group = (int)g;
        return 0;
    }
    if (!strcmp(key, "sym") || !strcmp(key, "asym")) {
        q->sym = !strcmp(key, "sym");
        return 0;
    }
    return qerr_set(err, QERR_ARG, "unknown setting '%s' (method, bits, group, sym, asym)", key);
}

int vm_quant_command(struct vm_quant *q, const char *text, struct qerr *err)
{
    struct vm_quant t = *q; /* all or nothing */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text ? text : "");
    int any = 0;
    for (char *save = NULL, *part = strtok_r(buf, ",;", &save); part;
         part = strtok_r(NULL, ",;", &save)) {
        char *s2 = NULL, *key = strtok_r(part, " \t=", &s2);
        if (!key)
            continue;
        char *val = strtok_r(NULL, " \t=", &s2);
        int rc = command_one(&t, key, val, err);
        if (rc < 0)
            return rc;
        any = 1;
    }
    if (!any)
        return qerr_set(err, QERR_ARG, "empty command: e.g. method spqr, bits 2, group 16");
    q->method = t.method;
    q->bits = t.bits;
    q->group = t.group;
    q->sym = t.sym;
    q->opt_step = t.opt_step;
    return 0;
}

void vm_quant_add_bits(struct vm_quant *q, int delta)
{
    int b = q->bits + delta;
    q->bits = b < 2 ? 2 : b > 8 ? 8 : b;
}

void vm_quant_next_group(struct vm_quant *q)
{
    int i = 0;
    while (i < vm_quant_n_groups && vm_quant_groups[i] != q->group)
        i++;
    q->group = vm_quant_groups[(i + 1) % vm_quant_n_groups];
}

void vm_quant_toggle_sym(struct vm_quant *q) { q->sym = !q->sym; }

void vm_quant_next_option(struct vm_quant *q)
{
    const struct quantizer *m = vm_quant_method(q);
    if (m->n_params == 0)
        return;
    const struct quant_param *p = &m->params[0];
    int is_switch = p->is_int && p->min == 0 && p->max == 1;
    q->opt_step = (q->opt_step + 1) % (is_switch ? 2 : 5);
}

static double option_value(const struct quant_param *p, int step)
{
    if (p->is_int && p->min == 0 && p->max == 1)
        return step ? 1 - p->def : p->def;
    static const double mult[] = {1, 2, 4, 0.5, 0.25};
    double v = p->def * mult[step % 5];
    if (p->is_int)
        v = round(v);
    return v < p->min ? p->min : v > p->max ? p->max : v;
}

int vm_quant_spec(const struct vm_quant *q, struct quant_spec *spec, struct qerr *err)
{
    const struct quantizer *m = vm_quant_method(q);
    int rc = quant_spec_parse(spec, m->name, q->bits, q->group, q->sym, NULL, err);
    if (rc == 0 && m->n_params > 0)
        spec->opt[0] = option_value(&m->params[0], q->opt_step);
    return rc;
}

const char *vm_quant_group_name(int group, char *buf, int cap)
{
    if (group < 0)
        snprintf(buf, (size_t)cap, "tensor");
    else if (group == 0)
        snprintf(buf, (size_t)cap, "row");
    else
        snprintf(buf, (size_t)cap, "g%d", group);
    return buf;
}

void vm_quant_describe(const struct vm_quant *q, char *buf, int cap)
{
    const struct quantizer *m = vm_quant_method(q);
    char g[16];
    int o = snprintf(buf, (size_t)cap, "%s %d bit %s %s", m->name, q->bits,
                     vm_quant_group_name(q->group, g, sizeof g), q->sym ? "sym" : "asym");
    if (m->n_params > 0 && o > 0 && o < cap)
        snprintf(buf + o, (size_t)(cap - o), " %s=%g", m->params[0].name,
                 option_value(&m->params[0], q->opt_step));
}

int vm_quant_needs_calib(const struct vm_quant *q)
{
    return vm_quant_method(q)->needs_calib != QUANT_CALIB_NONE;
}

int vm_quant_apply(struct vm_quant *q, int ti, const float *w, int64_t rows, int64_t cols,
                   const struct quant_calib *calib, const struct quant_ctl *ctl)
{
    struct qerr err;
    qerr_clear(&err);
    struct quant_spec spec;
    q->rc = vm_quant_spec(q, &spec, &err);
    if (q->rc == 0 && !w)
        q->rc = qerr_set(&err, QERR_NOMEM, "cannot convert the tensor to float (out of memory "
                         "or no decoder for its type)");
    if (q->rc == 0 && (rows > (1 << 30) || cols > (1 << 30)))
        q->rc = qerr_set(&err, QERR_ARG, "tensor too large or empty");
    size_t n = (size_t)(rows * cols);
    if (q->rc == 0 && vm_quant_prepare(q, (int64_t)n, -1) < 0)
        q->rc = qerr_set(&err, QERR_NOMEM, "out of memory for a %lldx%lld copy",
                         (long long)rows, (long long)cols);
    q->ti = ti;
    q->rows = rows;
    q->cols = cols;
    double t0 = now_ms();
    struct quant_side side;
    memset(&side, 0, sizeof side);
    free(q->kept);
    q->kept = NULL;
    side.fp_weights = q->mask;
    if (q->rc == 0)
        q->rc = quant_apply(&spec, w, (int)rows, (int)cols, calib, q->wq, &side, &q->rep, ctl, &err);
    q->ms = now_ms() - t0;
    if (q->rc == 0 && side.has_fp_weights && q->rep.n_outliers > 0 &&
        (q->kept = malloc(n * sizeof *q->kept)))
        for (size_t i = 0; i < n; i++)
            q->kept[i] = side.fp_weights[i] ? 1.0f : 0.0f;
    if (q->rc == 0) {
        for (size_t i = 0; i < n; i++)
            q->err[i] = fabsf(w[i] - q->wq[i]);
        quant_spec_format(&spec, q->desc, sizeof q->desc);
        q->msg[0] = '\0';
    } else {
        snprintf(q->msg, sizeof q->msg, "%s", err.msg);
        memset(&q->rep, 0, sizeof q->rep);
    }
    return q->rc;
}

/* B's buffers are reused when they hold the result (the second pin on
 * a tensor, or one made ready by vm_quant_prepare, touches no fresh
 * memory). */
int vm_quant_copy_result(struct vm_quant *dst, const struct vm_quant *src)
{
    size_t n = src->wq ? (size_t)(src->rows * src->cols) : 0;
    float *kept = NULL;
    if (n && (vq_reserve(dst, (int64_t)n) < 0 ||
              (src->kept && !(kept = malloc(n * sizeof *kept))))) {
        vm_quant_free(dst);
        vm_quant_init(dst);
        return QERR_NOMEM;
    }
    struct vm_quant buf = *dst; /* its buffers stay dst's */
    free(dst->kept);
    *dst = *src;
    dst->wq = buf.wq;
    dst->err = buf.err;
    dst->mask = buf.mask;
    dst->cap = buf.cap;
    dst->touched = buf.touched;
    dst->kept = kept;
    if (!n) { /* src has no result: neither has dst */
        dst->ti = -1;
        return 0;
    }
    memcpy(dst->wq, src->wq, n * sizeof *dst->wq);
    memcpy(dst->err, src->err, n * sizeof *dst->err);
    if (kept)
        memcpy(kept, src->kept, n * sizeof *kept);
    if (dst->touched < (int64_t)n)
        dst->touched = (int64_t)n;
    return 0;
}

void vm_quant_take_result(struct vm_quant *dst, struct vm_quant *src)
{
    free(dst->wq);
    free(dst->kept);
    dst->wq = src->wq;
    dst->err = src->err;
    dst->kept = src->kept;
    dst->mask = src->mask;
    dst->cap = src->cap;
    dst->touched = src->touched;
    dst->ti = src->ti;
    dst->rows = src->rows;
    dst->cols = src->cols;
    dst->rep = src->rep;
    dst->rc = src->rc;
    dst->ms = src->ms;
    memcpy(dst->msg, src->msg, sizeof dst->msg);
    memcpy(dst->desc, src->desc, sizeof dst->desc);
    src->wq = src->err = src->kept = NULL;
    src->mask = NULL;
    src->cap = src->touched = 0;
    src->ti = -1;
}

int vm_quant_grid(const struct vm_quant *q, double mn, double mx, float *lev, int cap)
{
    return vm_grid_uniform(q->bits, q->sym, mn, mx, lev, cap);
}

void vm_quant_scope(const struct vm_quant *q, int64_t rows, int64_t cols, int64_t r, int64_t c,
                    struct vq_scope *sc)
{
    const struct quantizer *m = vm_quant_method(q);
    int g = q->group;
    if (g < 0 && m && !strcmp(m->name, "SpQR"))
        g = 0; /* SpQR's statistics are per row by construction */
    r = r < 0 ? 0 : r >= rows ? rows - 1 : r;
    c = c < 0 ? 0 : c >= cols ? cols - 1 : c;
    sc->kind = g < 0 ? VQS_TENSOR : g == 0 ? VQS_ROW : VQS_GROUP;
    sc->r0 = g < 0 ? 0 : r;
    sc->r1 = g < 0 ? rows : r + 1;
    sc->c0 = g > 0 ? c / g * g : 0;
    sc->c1 = g > 0 ? (sc->c0 + g < cols ? sc->c0 + g : cols) : cols;
}

int vm_quant_grid_scope(const struct vm_quant *q, const float *w, int64_t cols,
                        const struct vq_scope *sc, double tmin, double tmax, float *lev, int cap)
{
    double mn = tmin, mx = tmax;
    if (sc->kind != VQS_TENSOR && w) {
        mn = INFINITY;
        mx = -INFINITY;
        for (int64_t i = sc->r0; i < sc->r1; i++)
            for (int64_t j = sc->c0; j < sc->c1; j++) {
                double v = w[i * cols + j];
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
        if (mn > mx)
            mn = mx = 0;
    }
    return vm_grid_uniform(q->bits, q->sym, mn, mx, lev, cap);
}

void vm_quant_scope_text(const struct vq_scope *sc, char *buf, int cap)
{
    if (sc->kind == VQS_TENSOR)
        snprintf(buf, (size_t)cap, "(per-tensor scale)");
    else if (sc->kind == VQS_ROW)
        snprintf(buf, (size_t)cap, "of row %lld (cursor's channel)", (long long)sc->r0);
    else
        snprintf(buf, (size_t)cap, "of row %lld, cols %lld-%lld (cursor's group)",
                 (long long)sc->r0, (long long)sc->c0, (long long)sc->c1 - 1);
}
