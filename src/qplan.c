/* qplan: per-tensor quantization plans (see qplan.h). */
#include "src/qplan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "src/sens.h"

/* The block linears, in the order qrun quantizes them. */
static const enum qrole roles[QPLAN_N_ROLES] = {QR_ATTN_Q, QR_ATTN_K, QR_ATTN_V, QR_ATTN_OUT,
                                                QR_FFN_GATE, QR_FFN_UP, QR_FFN_DOWN};

int qplan_role_index(enum qrole r)
{
    for (int i = 0; i < QPLAN_N_ROLES; i++)
        if (roles[i] == r)
            return i;
    return -1;
}

/* ---- candidates ---- */

/* The grammar is the sensitivity candidates' (src/sens.h), plus "float". */
int qplan_parse_cand(const char *text, struct qplan_cand *c, struct qerr *err)
{
    memset(c, 0, sizeof *c);
    if (text && !strcmp(text, "float")) {
        snprintf(c->label, sizeof c->label, "float");
        c->is_float = 1;
        return 0;
    }
    struct sens_cand sc;
    int rc = sens_parse_cand(text, &sc, err);
    if (rc)
        return rc;
    /* bits given must be the bits used (0 or -1 would mean "the method's
     * default" to the spec parser: a silent change in a plan) */
    const char *b = strchr(text, ':');
    long bits = b ? strtol(b + 1, NULL, 10) : 0;
    if (b && bits != sc.spec.bits)
        return qerr_set(err, QERR_ARG, "candidate '%s': %ld bits is not a width %s takes",
                        text, bits, sc.spec.method->name);
    snprintf(c->label, sizeof c->label, "%s", sc.label);
    c->spec = sc.spec;
    return 0;
}

/* ---- the file ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int add_line(struct qplan *p, const char *name, const char *cand, int line,
                    struct qerr *err)
{
    size_t nl = strlen(name);
    if (nl > 7 && !strcmp(name + nl - 7, ".weight"))
        nl -= 7; /* the GGUF name */
    if (!nl)
        return qerr_set(err, QERR_FORMAT, "%s:%d: no tensor name before '='", p->path, line);
    if (nl >= QM_NAME_MAX)
        return qerr_set(err, QERR_FORMAT, "%s:%d: tensor name longer than %d bytes", p->path,
                        line, QM_NAME_MAX - 1);
    struct qplan_line *l = &p->l[p->n];
    memset(l, 0, sizeof *l);
    memcpy(l->tensor, name, nl);
    l->line = line;
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->l[i].tensor, l->tensor))
            return qerr_set(err, QERR_FORMAT, "%s:%d: %s is named again (first on line %d)",
                            p->path, line, l->tensor, p->l[i].line);
    if (qplan_parse_cand(cand, &l->c, err)) {
        qerr_prefix(err, "%s:%d: %s: ", p->path, line, l->tensor);
        return err->code = QERR_FORMAT; /* bad file content, not a bad option */
    }
    if (!strcmp(l->tensor, "*"))
        p->def = p->n;
    p->n++;
    return 0;
}

static int parse_line(struct qplan *p, char *s, int line, struct qerr *err)
{
    s = trim(s);
    if (!*s || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq)
        return qerr_set(err, QERR_FORMAT, "%s:%d: want TENSOR=CANDIDATE, got '%.60s'", p->path,
                        line, s);
    *eq = '\0';
    return add_line(p, trim(s), trim(eq + 1), line, err);
}

int qplan_parse(struct qplan *p, const char *text, size_t n, const char *name,
                struct qerr *err)
{
    memset(p, 0, sizeof *p);
    p->def = -1;
    snprintf(p->path, sizeof p->path, "%s", name ? name : "(plan)");
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    if (!(p->l = calloc(lines, sizeof *p->l)))
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", p->path);
    char buf[QPLAN_LINE_MAX + 2];
    int line = 0, rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t j = i;
        while (j < n && text[j] != '\n')
            j++;
        line++;
        if (memchr(text + i, '\0', j - i))
            rc = qerr_set(err, QERR_FORMAT, "%s:%d: a NUL byte (not a text file)", p->path, line);
        else if (j - i > QPLAN_LINE_MAX)
            rc = qerr_set(err, QERR_FORMAT, "%s:%d: line longer than %d bytes", p->path, line,
                          QPLAN_LINE_MAX);
        else {
            memcpy(buf, text + i, j - i);
            buf[j - i] = '\0';
            rc = parse_line(p, buf, line, err);
        }
        i = j + 1;
    }
    if (!rc && p->n == 0)
        rc = qerr_set(err, QERR_FORMAT, "%s: no TENSOR=CANDIDATE line", p->path);
    return rc;
}

int qplan_from_pairs(struct qplan *p, const char *const *tensors, const char *const *labels,
                     int n, const char *name, struct qerr *err)
{
    size_t cap = 1, len = 0;
    for (int i = 0; i < n; i++)
        cap += strlen(tensors[i]) + strlen(labels[i]) + 2;
    char *text = malloc(cap);
    if (!text) {
        memset(p, 0, sizeof *p);
        p->def = -1;
        return qerr_set(err, QERR_NOMEM, "out of memory");
    }
    text[0] = '\0';
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%s=%s\n", tensors[i], labels[i]);
    int rc = qplan_parse(p, text, len, name, err);
    free(text);
    return rc;
}

int qplan_read(struct qplan *p, const char *path, struct qerr *err)
{
    memset(p, 0, sizeof *p);
    p->def = -1;
    size_t n;
    char *text = afile_read(path, 64u << 20, &n, err);
    if (!text)
        return err->code ? err->code : QERR_IO;
    int rc = qplan_parse(p, text, n, path, err);
    free(text);
    return rc;
}

void qplan_free(struct qplan *p)
{
    free(p->l);
    free((void *)p->slot);
    memset(p, 0, sizeof *p);
    p->def = -1;
}

/* ---- binding to a model ---- */

static int bind_line(struct qplan *p, struct qmodel *m, const struct qplan_line *l,
                     struct qerr *err)
{
    int layer = -1;
    enum qrole role = QR_OTHER;
    qmodel_classify(l->tensor, &layer, &role);
    int ri = qplan_role_index(role);
    struct qtensor *t = ri >= 0 && layer >= 0 && layer < m->cfg.n_layers
                            ? qmodel_get(m, layer, role) : NULL;
    if (!t || strcmp(t->name, l->tensor))
        return qerr_set(err, QERR_FORMAT, "%s:%d: %s is not a linear tensor of %s (blocks "
                        "0..%d; a spec for another model?)", p->path, l->line, l->tensor,
                        m->path, m->cfg.n_layers - 1);
    p->slot[(size_t)layer * QPLAN_N_ROLES + ri] = &l->c;
    return 0;
}

/* Every linear of m must have an entry (or the '*' line gives it one). */
static int fill_rest(struct qplan *p, struct qmodel *m, struct qerr *err)
{
    int total = 0, named = 0;
    const char *first = NULL;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int r = 0; r < QPLAN_N_ROLES; r++) {
            struct qtensor *t = qmodel_get(m, l, roles[r]);
            const struct qplan_cand **s = &p->slot[(size_t)l * QPLAN_N_ROLES + r];
            if (!t)
                continue;
            total++;
            named += *s != NULL;
            if (!*s && p->def >= 0)
                *s = &p->l[p->def].c;
            else if (!*s && !first)
                first = t->name;
        }
    if (first)
        return qerr_set(err, QERR_FORMAT, "%s: names %d of the %d linear tensors of %s; %s has no "
                        "line (a spec for another model?  Add the missing tensors or a "
                        "'*=CANDIDATE' line)", p->path, named, total, m->path, first);
    for (int i = 0; i < m->cfg.n_layers * QPLAN_N_ROLES; i++)
        p->n_bound += p->slot[i] && !p->slot[i]->is_float;
    return 0;
}

int qplan_bind(struct qplan *p, struct qmodel *m, struct qerr *err)
{
    free((void *)p->slot);
    p->n_bound = 0;
    p->n_layers = m->cfg.n_layers;
    p->slot = calloc((size_t)m->cfg.n_layers * QPLAN_N_ROLES + 1, sizeof *p->slot);
    if (!p->slot)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", p->path);
    for (int i = 0; i < p->n; i++)
        if (i != p->def) {
            int rc = bind_line(p, m, &p->l[i], err);
            if (rc)
                return rc;
        }
    return fill_rest(p, m, err);
}

const struct qplan_cand *qplan_get(const struct qplan *p, int layer, enum qrole role)
{
    int ri = qplan_role_index(role);
    if (!p->slot || ri < 0 || layer < 0 || layer >= p->n_layers)
        return NULL;
    const struct qplan_cand *c = p->slot[(size_t)layer * QPLAN_N_ROLES + ri];
    return c && !c->is_float ? c : NULL;
}

const struct quant_spec *qplan_spec_of(void *ud, int layer, enum qrole role)
{
    const struct qplan_cand *c = qplan_get(ud, layer, role);
    return c ? &c->spec : NULL;
}

int qplan_needs_calib(const struct qplan *p)
{
    int f = 0;
    for (int i = 0; !p->slot && i < p->n; i++) /* before bind: every line */
        if (!p->l[i].c.is_float)
            f |= p->l[i].c.spec.method->needs_calib;
    for (int i = 0; p->slot && i < p->n_layers * QPLAN_N_ROLES; i++)
        if (p->slot[i] && !p->slot[i]->is_float)
            f |= p->slot[i]->spec.method->needs_calib;
    return f;
}

const struct quant_spec *qplan_any_spec(const struct qplan *p)
{
    for (int i = 0; p->slot && i < p->n_layers * QPLAN_N_ROLES; i++)
        if (p->slot[i] && !p->slot[i]->is_float)
            return &p->slot[i]->spec;
    return NULL;
}

/* ---- descriptions ---- */

char *qplan_tensor_types(const struct qplan *p, const struct qmodel *m)
{
    size_t cap = 256, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int l = 0; l < p->n_layers; l++)
        for (int r = 0; r < QPLAN_N_ROLES; r++) {
            const struct qplan_cand *c = p->slot[(size_t)l * QPLAN_N_ROLES + r];
            const struct qtensor *t = qmodel_get((struct qmodel *)m, l, roles[r]);
            if (!c || !t)
                continue;
            size_t need = len + strlen(t->name) + strlen(c->label) + 3;
            if (need > cap) {
                char *ns = realloc(s, cap = need * 2);
                if (!ns) {
                    free(s);
                    return NULL;
                }
                s = ns;
            }
            len += (size_t)sprintf(s + len, "%s%s=%s", len ? "," : "", t->name, c->label);
        }
    return s;
}

void qplan_summary(const struct qplan *p, char *buf, size_t n)
{
    int nslot = p->n_layers * QPLAN_N_ROLES;
    const struct qplan_cand **seen = calloc((size_t)nslot + 1, sizeof *seen);
    int *count = calloc((size_t)nslot + 1, sizeof *count), ns = 0;
    buf[0] = '\0';
    if (!seen || !count) {
        free((void *)seen), free(count);
        return;
    }
    for (int i = 0; i < nslot; i++) {
        const struct qplan_cand *c = p->slot[i];
        int k = 0;
        if (!c)
            continue;
        while (k < ns && strcmp(seen[k]->label, c->label))
            k++;
        if (k == ns)
            seen[ns++] = c;
        count[k]++;
    }
    size_t len = 0;
    for (int done = 0; done < ns; done++) { /* most used first */
        int best = -1;
        for (int k = 0; k < ns; k++)
            if (count[k] > 0 && (best < 0 || count[k] > count[best]))
                best = k;
        int w = snprintf(buf + len, len < n ? n - len : 0, "%s%s x%d", len ? ", " : "",
                         seen[best]->label, count[best]);
        len += w > 0 ? (size_t)w : 0;
        count[best] = 0;
        if (len >= n)
            break;
    }
    free((void *)seen), free(count);
}
