/* membudget: memory plans checked before long work (see membudget.h). */
#include "src/membudget.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

void mem_plan_init(struct mem_plan *p)
{
    memset(p, 0, sizeof *p);
}

void mem_plan_add(struct mem_plan *p, const char *what, double bytes, const char *lower)
{
    if (bytes <= 0 || p->n >= MEM_MAX_PARTS)
        return;
    p->part[p->n++] = (struct mem_part){what, bytes, lower};
    p->total += bytes;
}

/* A "Key: N kB" line of a /proc file, in bytes; -1 when absent. */
static double proc_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    double v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtod(line + kl + 1, NULL) * 1024.0;
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* One number from a cgroup v2 file ("max" or absent: -1). */
static double cgroup_value(const char *name)
{
    char path[128], buf[64] = "";
    snprintf(path, sizeof path, "/sys/fs/cgroup/%s", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    return ok && isdigit((unsigned char)buf[0]) ? strtod(buf, NULL) : -1;
}

static void take_min(double *best, double v)
{
    if (v >= 0 && (*best < 0 || v < *best))
        *best = v;
}

double mem_available_bytes(void)
{
    double best = -1;
    take_min(&best, proc_kb("/proc/meminfo", "MemAvailable"));
    double max = cgroup_value("memory.max"), cur = cgroup_value("memory.current");
    if (max >= 0 && cur >= 0)
        take_min(&best, max > cur ? max - cur : 0);
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        double used = proc_kb("/proc/self/status", "VmSize");
        double lim = (double)rl.rlim_cur;
        take_min(&best, used >= 0 && used < lim ? lim - used : 0);
    }
    return best;
}

int mem_parse_size(const char *s, double *bytes)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    char *end;
    double v = strtod(s, &end);
    double unit = 1024.0 * 1024.0; /* MiB when no suffix */
    switch (toupper((unsigned char)*end)) {
    case 'K': unit = 1024.0; end++; break;
    case 'M': unit = 1024.0 * 1024.0; end++; break;
    case 'G': unit = GIB; end++; break;
    case 'T': unit = GIB * 1024.0; end++; break;
    case '\0': break;
    default: return -1;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end || !(v > 0) || v * unit > 1e18)
        return -1;
    *bytes = v * unit;
    return 0;
}

static void fmt_bytes(char *buf, size_t n, double b)
{
    if (b >= GIB)
        snprintf(buf, n, "%.1f GiB", b / GIB);
    else if (b >= 10 * 1048576.0)
        snprintf(buf, n, "%.0f MiB", b / 1048576.0);
    else
        snprintf(buf, n, "%.1f MiB", b / 1048576.0);
}

/* Parts largest first, then the options that lower them. */
static void describe(const struct mem_plan *p, char *buf, size_t n, char *opts, size_t on)
{
    int order[MEM_MAX_PARTS];
    for (int i = 0; i < p->n; i++)
        order[i] = i;
    for (int i = 1; i < p->n; i++) /* insertion sort: a dozen parts */
        for (int j = i; j > 0 && p->part[order[j]].bytes > p->part[order[j - 1]].bytes; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    size_t k = 0, ok = 0;
    buf[0] = opts[0] = '\0';
    for (int i = 0; i < p->n && k < n; i++) {
        const struct mem_part *q = &p->part[order[i]];
        char b[32];
        fmt_bytes(b, sizeof b, q->bytes);
        k += (size_t)snprintf(buf + k, n - k, "%s%s %s", i ? ", " : "", q->what, b);
        if (q->lower && !strstr(opts, q->lower) && ok < on)
            ok += (size_t)snprintf(opts + ok, on - ok, "%s%s", ok ? ", " : "", q->lower);
    }
}

int mem_check(const struct mem_plan *p, double budget, const char *op, struct qerr *err)
{
    int user = budget > 0;
    double have = user ? budget : mem_available_bytes();
    if (have < 0 || p->total <= have)
        return 0;
    char parts[512], opts[160], need[32], lim[32];
    describe(p, parts, sizeof parts, opts, sizeof opts);
    fmt_bytes(need, sizeof need, p->total);
    fmt_bytes(lim, sizeof lim, have);
    return qerr_set(err, QERR_UNSUPP, "%s needs about %s of memory (%s) but %s %s%s; %s%s", op,
                    need, parts, user ? "--mem-budget is" : "only", lim,
                    user ? "" : " is available", opts[0] ? "options that lower it: "
                    : "no option lowers it: a machine with more memory is needed", opts);
}

void mem_plan_self(struct mem_plan *p)
{
    mem_plan_add(p, "in use already", proc_kb("/proc/self/status", "RssAnon"), NULL);
}

double mem_weights_bytes(const struct qmodel *m)
{
    double b = 0;
    for (int i = 0; i < m->n_tensors; i++)
        b += (double)m->tensors[i].nbytes;
    return b;
}

double mem_fwd_bytes(const struct qconfig *c, int T)
{
    double q_dim = (double)c->n_heads * c->head_dim, kv = (double)c->n_kv_heads * c->head_dim;
    double wide = q_dim > c->dim ? q_dim : c->dim;
    double in_max = wide > c->hidden_dim ? wide : c->hidden_dim;
    double att = T < 64 ? T : 64;
    /* a weight tile holds max(1M floats, 16 rows) of the widest input, but
     * never more than the largest matrix (small models touch only that) */
    double rows_max = c->vocab_size > c->hidden_dim ? c->vocab_size : c->hidden_dim;
    rows_max = rows_max > q_dim ? rows_max : q_dim;
    double tile = (1 << 20) > in_max * 16 ? (1 << 20) : in_max * 16;
    tile = tile < rows_max * in_max ? tile : rows_max * in_max;
    double floats = (double)T * (2.0 * c->dim + wide + q_dim + 2 * kv + 2.0 * c->hidden_dim +
                                 2.0 * c->head_dim) +
                    2.0 * att * T +
                    2.0 * tile +                     /* two weight tiles */
                    (double)T * c->vocab_size;       /* the chunk's logits */
    return floats * sizeof(float);
}

int mem_check_eval(const struct qmodel *m, int n_ctx, int workers, double budget,
                   struct qerr *err)
{
    struct mem_plan p;
    mem_plan_init(&p);
    mem_plan_self(&p);
    mem_plan_add(&p, "weights (mapped)", mem_weights_bytes(m), NULL);
    mem_plan_add(&p, "forward passes", workers * mem_fwd_bytes(&m->cfg, n_ctx), "--ctx");
    char op[600];
    snprintf(op, sizeof op, "%s: evaluating", m->path);
    return mem_check(&p, budget, op, err);
}

void mem_plan_quant(struct mem_plan *p, const struct qconfig *c, const struct mem_quant *q)
{
    if (q->streamed) {
        mem_plan_add(p, "quantized weights as floats (one block and those outside)",
                     (q->block_max + q->outside) * sizeof(float), NULL);
        mem_plan_add(p, "evaluation hidden states", q->eval_tokens * c->dim * sizeof(float),
                     "--chunks");
    } else {
        mem_plan_add(p, q->resident_opt ? "quantized weights as floats (--resident)"
                                        : "quantized weights as floats (whole model)",
                     q->all * sizeof(float), q->resident_opt ? "leaving out --resident" : NULL);
    }
    mem_plan_add(p, "quantizer working copies", 3.0 * q->step_max * sizeof(float), NULL);
    if (!q->calibrated)
        return;
    mem_plan_add(p, "calibration hidden states", q->calib_tokens * c->dim * sizeof(float),
                 "--calib-chunks, --calib-ctx");
    double d2 = (double)c->dim * c->dim, h2 = (double)c->hidden_dim * c->hidden_dim;
    double qd = (double)c->n_heads * c->head_dim, qd2 = qd * qd;
    double one = d2 > h2 ? d2 : h2;
    one = one > qd2 ? one : qd2;
    /* XᵀX in doubles, and the method's factorization of it */
    double xtx = q->sequential ? 2.0 * one : 2.0 * d2 + qd2 + h2 + one;
    mem_plan_add(p, "calibration XᵀX", xtx * sizeof(double), NULL);
}
