/* unicode_norm: Unicode normalization forms (UAX #15) and lowercasing for
 * the tokenizer.json normalizers, over the tables scripts/gen_unicode.py
 * writes into src/unicode_data.c from Python's unicodedata.
 *
 *   decompose  every code point to its full canonical (NFC/NFD) or
 *              compatibility (NFKC/NFKD) decomposition, recursively;
 *              Hangul syllables algorithmically
 *   reorder    runs of non-starters stably sorted by combining class
 *   compose    (NFC/NFKC) each starter with the following unblocked
 *              characters that form a primary composite with it */
#include <stdlib.h>
#include <string.h>

#include "analysis/qerr.h"
#include "src/unicode.h"

/* Hangul (Unicode chapter 3.12). */
enum { S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7,
       L_COUNT = 19, V_COUNT = 21, T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT,
       S_COUNT = L_COUNT * N_COUNT };

struct cpbuf { uint32_t *v; size_t n, cap; };

static int cp_push(struct cpbuf *b, uint32_t cp)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        uint32_t *p = realloc(b->v, cap * sizeof *p);
        if (!p)
            return QERR_NOMEM;
        b->v = p;
        b->cap = cap;
    }
    b->v[b->n++] = cp;
    return 0;
}

unsigned ucp_ccc(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    int lo = 0, hi = ucp_n_ccc - 1;
    while (lo < hi) { /* last range with first <= cp */
        int mid = (lo + hi + 1) / 2;
        if (ucp_ccc_ranges[mid].first <= cp)
            lo = mid;
        else
            hi = mid - 1;
    }
    return ucp_ccc_ranges[lo].ccc;
}

static const struct ucp_decomp *find_decomp(uint32_t cp)
{
    int lo = 0, hi = ucp_n_decomp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ucp_decomp[mid].cp == cp)
            return &ucp_decomp[mid];
        if (ucp_decomp[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* Primary composite of (a, b), or 0 when none. */
static uint32_t compose_pair(uint32_t a, uint32_t b)
{
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 &&
        b > T_BASE && b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    int lo = 0, hi = ucp_n_comp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const struct ucp_comp *c = &ucp_comp[mid];
        if (c->first == a && c->second == b)
            return c->composite;
        if (c->first < a || (c->first == a && c->second < b))
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

static int decompose(uint32_t cp, int compat, struct cpbuf *out, int depth)
{
    if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
        uint32_t s = cp - S_BASE, t = s % T_COUNT;
        if (cp_push(out, L_BASE + s / N_COUNT) < 0 ||
            cp_push(out, V_BASE + (s % N_COUNT) / T_COUNT) < 0)
            return QERR_NOMEM;
        return t ? cp_push(out, T_BASE + t) : 0;
    }
    const struct ucp_decomp *d = cp < 0xA0 ? NULL : find_decomp(cp);
    if (!d || (d->compat && !compat) || depth > 32) /* the tables nest 4 deep at most */
        return cp_push(out, cp);
    for (unsigned i = 0; i < d->len; i++)
        if (decompose(ucp_decomp_pool[d->off + i], compat, out, depth + 1) < 0)
            return QERR_NOMEM;
    return 0;
}

/* Canonical ordering: insertion sort of each run of non-starters by class
 * (stable, so equal classes keep their order). */
static void reorder(struct cpbuf *b)
{
    for (size_t i = 1; i < b->n; i++) {
        uint32_t c = b->v[i];
        unsigned cc = ucp_ccc(c);
        if (cc == 0)
            continue;
        size_t j = i;
        while (j > 0 && ucp_ccc(b->v[j - 1]) > cc) {
            b->v[j] = b->v[j - 1];
            j--;
        }
        b->v[j] = c;
    }
}

/* Canonical composition (UAX #15, the sample algorithm's structure). */
static void compose(struct cpbuf *b)
{
    if (b->n == 0)
        return;
    size_t starter = 0, w = 1;
    unsigned last = ucp_ccc(b->v[0]) ? 256 : 0; /* a leading non-starter blocks */
    for (size_t r = 1; r < b->n; r++) {
        uint32_t c = b->v[r];
        unsigned cc = ucp_ccc(c);
        uint32_t comp = compose_pair(b->v[starter], c);
        if (comp && (last < cc || last == 0)) {
            b->v[starter] = comp;
            continue;
        }
        if (cc == 0)
            starter = w;
        last = cc;
        b->v[w++] = c;
    }
    b->n = w;
}

static int encode_all(const struct cpbuf *b, char **out, size_t *out_n)
{
    char *o = malloc(4 * b->n + 1);
    if (!o)
        return QERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        k += ucp_encode(b->v[i], o + k);
    o[k] = '\0';
    *out = o;
    *out_n = k;
    return 0;
}

static int copy_out(const char *s, size_t n, char **out, size_t *out_n)
{
    char *o = malloc(n + 1);
    if (!o)
        return QERR_NOMEM;
    memcpy(o, s, n);
    o[n] = '\0';
    *out = o;
    *out_n = n;
    return 0;
}

int ucp_normalize(enum ucp_nform form, const char *s, size_t n, char **out, size_t *out_n)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80)
        i++;
    if (i == n) /* ASCII is in every normal form */
        return copy_out(s, n, out, out_n);
    int compat = form == UCP_NFKC || form == UCP_NFKD;
    struct cpbuf b = {0};
    int rc = 0;
    for (i = 0; rc == 0 && i < n;) {
        uint32_t cp;
        size_t l = ucp_decode((const unsigned char *)s + i, n - i, &cp);
        if (!l) { /* callers validate; keep going on a stray byte */
            cp = 0xFFFD;
            l = 1;
        }
        rc = decompose(cp, compat, &b, 0);
        i += l;
    }
    if (rc == 0) {
        reorder(&b);
        if (form == UCP_NFC || form == UCP_NFKC)
            compose(&b);
        rc = encode_all(&b, out, out_n);
    }
    free(b.v);
    return rc;
}

static uint32_t lower_cp(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    int lo = 0, hi = ucp_n_lower - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ucp_lower[mid].cp == cp)
            return ucp_lower[mid].to;
        if (ucp_lower[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return cp;
}

/* Cased letter: Lu/Ll/Lt (one of the two o200k case classes, not both:
 * Lm and Lo are in both).  Case-ignorable: marks and the usual in-word
 * punctuation.  Approximations of the Unicode properties, enough for the
 * final-sigma rule. */
static int is_cased(uint32_t cp)
{
    unsigned f = ucp_flags(cp);
    return (f & UCP_LETTER) && !((f & UCP_UPPERISH) && (f & UCP_LOWERISH));
}
static int is_case_ignorable(uint32_t cp)
{
    return (ucp_flags(cp) & UCP_ACCENT) || cp == '\'' || cp == '.' || cp == ':' ||
           cp == 0xB7 || cp == 0x2019;
}

/* Final_Sigma: a cased letter before (skipping case-ignorables), none after. */
static int final_sigma(const uint32_t *v, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && is_case_ignorable(v[j - 1]))
        j--;
    if (j == 0 || !is_cased(v[j - 1]))
        return 0;
    for (j = i + 1; j < n && is_case_ignorable(v[j]); j++)
        ;
    return !(j < n && is_cased(v[j]));
}

int ucp_lowercase(const char *s, size_t n, char **out, size_t *out_n)
{
    struct cpbuf in = {0}, b = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n;) {
        uint32_t cp;
        size_t l = ucp_decode((const unsigned char *)s + i, n - i, &cp);
        if (!l) {
            cp = 0xFFFD;
            l = 1;
        }
        rc = cp_push(&in, cp);
        i += l;
    }
    for (size_t i = 0; rc == 0 && i < in.n; i++) {
        uint32_t c = in.v[i];
        if (c == 0x130) /* capital I with dot above: i + combining dot */
            rc = cp_push(&b, 'i') < 0 ? QERR_NOMEM : cp_push(&b, 0x307);
        else if (c == 0x3A3)
            rc = cp_push(&b, final_sigma(in.v, in.n, i) ? 0x3C2 : 0x3C3);
        else
            rc = cp_push(&b, lower_cp(c));
    }
    if (rc == 0)
        rc = encode_all(&b, out, out_n);
    free(in.v);
    free(b.v);
    return rc;
}
