/* tok_pretok: the pre-tokenizer regexes of byte-level BPE models, written
 * by hand over code point categories (no regex library knows \p{L}).  Each
 * splitter follows llama.cpp's unicode.cpp (unicode_regex_split_custom_gpt2
 * and _llama3) step by step, so words come out identical:
 *
 *   gpt-2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   llama3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2   llama3 with \p{N} (one digit per word)
 *   o200k   (gpt-oss / GPT-4o) [^\r\n\p{L}\p{N}]?U*L+C?|[^\r\n\p{L}\p{N}]?U+L*C?|
 *           \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *           with U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], L = [\p{Ll}\p{Lm}\p{Lo}\p{M}],
 *           C = (?i:'s|'t|'re|'ve|'m|'ll|'d)
 *   deepseek-v3  three Split steps, each on the pieces the last one left:
 *           \p{N}{1,3}, then [\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+, then
 *           [ASCII punct][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
 *           ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   default [\p{P}\$\+<=>\^`\|]+, then gpt-2, then \p{N}+, then [0-9]{3},
 *           each applied to the pieces the previous one left
 *
 * A splitter turns a list of segment lengths (in code points) into a finer
 * list, like llama.cpp's offsets vectors.  Each is a Hugging Face Split
 * with behavior "Isolated": a match is a word and so is the text between
 * two matches (a "gap"; the gpt-2/llama3/qwen2/o200k regexes match every
 * character, deepseek-v3's does not: lone digits, control characters). */
#include <stdlib.h>
#include <string.h>

#include "src/tok_internal.h"
#include "src/unicode.h"

struct cps {
    uint32_t *cp;         /* (n) code points */
    unsigned short *fl;   /* (n) UCP_* flags */
    size_t *byte;         /* (n+1) byte offset of each code point */
    size_t n;
};

struct offs { size_t *len; size_t n, cap; };

static int offs_push(struct offs *o, size_t len)
{
    if (len == 0)
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 256;
        size_t *p = realloc(o->len, cap * sizeof *p);
        if (!p)
            return QERR_NOMEM;
        o->len = p;
        o->cap = cap;
    }
    o->len[o->n++] = len;
    return 0;
}

#define OOR 0xFFFFFFFFu   /* "out of range" code point, as in llama.cpp */

/* One segment [ini, end) being split; accessors return OOR / 0 outside. */
struct seg {
    const struct cps *c;
    size_t ini, end, prev_end;
    struct offs *out;
    int err;
};

static uint32_t cpt(const struct seg *s, size_t p) { return p >= s->ini && p < s->end ? s->c->cp[p] : OOR; }
static unsigned flg(const struct seg *s, size_t p) { return p >= s->ini && p < s->end ? s->c->fl[p] : 0; }

static size_t add_tok(struct seg *s, size_t end)
{
    size_t len = end - s->prev_end;
    if (offs_push(s->out, len) < 0)
        s->err = QERR_NOMEM;
    s->prev_end = end;
    return len;
}

static uint32_t lower_ascii(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 's|'t|'re|'ve|'m|'ll|'d (case-insensitive for llama3): length or 0. */
static size_t contraction(const struct seg *s, size_t pos, int icase)
{
    if (cpt(s, pos) != '\'' || pos + 1 >= s->end)
        return 0;
    uint32_t a = cpt(s, pos + 1), b = pos + 2 < s->end ? cpt(s, pos + 2) : OOR;
    if (icase) {
        a = lower_ascii(a);
        b = lower_ascii(b);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

#define NOT_LNS(f) (!((f) & (UCP_SPACE | UCP_LETTER | UCP_NUMBER)) && (f))

/* Trailing whitespace: \s+(?!\S) then \s+ ; returns 1 when it matched. */
static int whitespace_tail(struct seg *s, size_t *pos, size_t nws)
{
    if (nws > 1 && cpt(s, *pos + nws) != OOR) {
        *pos += nws - 1;
        add_tok(s, *pos);
        return 1;
    }
    if (nws > 0) {
        *pos += nws;
        add_tok(s, *pos);
        return 1;
    }
    return 0;
}

static void split_gpt2_seg(struct seg *s)
{
    for (size_t pos = s->ini; pos < s->end && !s->err;) {
        uint32_t c = cpt(s, pos);
        size_t k = contraction(s, pos, 0);
        if (k) {
            pos += add_tok(s, pos + k);
            continue;
        }
        unsigned f2 = c == ' ' ? flg(s, pos + 1) : flg(s, pos);
        unsigned cls = f2 & UCP_LETTER ? UCP_LETTER : f2 & UCP_NUMBER ? UCP_NUMBER : 0;
        if (cls) { /* ?\p{L}+ | ?\p{N}+ */
            pos += c == ' ';
            while (flg(s, pos) & cls)
                pos++;
            add_tok(s, pos);
            continue;
        }
        if (NOT_LNS(f2)) { /* ?[^\s\p{L}\p{N}]+ */
            pos += c == ' ';
            while (NOT_LNS(flg(s, pos)))
                pos++;
            add_tok(s, pos);
            continue;
        }
        size_t nws = 0;
        while (flg(s, pos + nws) & UCP_SPACE)
            nws++;
        if (!whitespace_tail(s, &pos, nws))
            add_tok(s, ++pos); /* no match */
    }
}

static int is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

/* \p{N}{1,max}: runs of digits cut every `max`; returns the new position. */
static size_t llama3_digits(struct seg *s, size_t pos, size_t max)
{
    size_t ini = pos;
    while (flg(s, pos) & UCP_NUMBER) {
        if (++pos - ini >= max) {
            add_tok(s, pos);
            ini = pos;
        }
    }
    add_tok(s, pos);
    return pos;
}

/* \s*[\r\n]+ | \s+(?!\S) | \s+ | any single code point. */
static size_t llama3_space(struct seg *s, size_t pos)
{
    size_t nws = 0, last_crlf = 0;
    while (flg(s, pos + nws) & UCP_SPACE) {
        if (is_crlf(cpt(s, pos + nws)))
            last_crlf = pos + nws + 1;
        nws++;
    }
    if (last_crlf > 0) {
        add_tok(s, last_crlf);
        return last_crlf;
    }
    if (!whitespace_tail(s, &pos, nws))
        add_tok(s, ++pos);
    return pos;
}

/* llama3 (max_digits 3) and qwen2 (max_digits 1). */
static void split_llama3_seg(struct seg *s, size_t max_digits)
{
    for (size_t pos = s->ini; pos < s->end && !s->err;) {
        uint32_t c = cpt(s, pos);
        unsigned f = flg(s, pos);
        size_t k = contraction(s, pos, 1);
        if (k) {
            pos += add_tok(s, pos + k);
            continue;
        }
        /* [^\r\n\p{L}\p{N}]?\p{L}+ */
        if (!(is_crlf(c) || (f & UCP_NUMBER)) &&
            ((f & UCP_LETTER) || (flg(s, pos + 1) & UCP_LETTER))) {
            pos++;
            while (flg(s, pos) & UCP_LETTER)
                pos++;
            add_tok(s, pos);
            continue;
        }
        if (f & UCP_NUMBER) {
            pos = llama3_digits(s, pos, max_digits);
            continue;
        }
        /* ?[^\s\p{L}\p{N}]+[\r\n]* */
        unsigned f2 = c == ' ' ? flg(s, pos + 1) : f;
        if (!(f2 & (UCP_SPACE | UCP_LETTER | UCP_NUMBER)) && f) { /* f, not f2: as llama.cpp */
            pos += c == ' ';
            while (NOT_LNS(flg(s, pos)))
                pos++;
            while (is_crlf(cpt(s, pos)))
                pos++;
            add_tok(s, pos);
            continue;
        }
        pos = llama3_space(s, pos);
    }
}

/* Regex-search style split: maximal runs where pred holds are words, and so
 * is the text between them (llama.cpp's unicode_regex_split_stl). */
static int is_punct_run(const struct seg *s, size_t p)
{
    uint32_t c = s->c->cp[p];
    return (s->c->fl[p] & UCP_PUNCT) || (c < 128 && c && strchr("$+<=>^`|", (int)c));
}
static int is_num_run(const struct seg *s, size_t p) { return s->c->fl[p] & UCP_NUMBER; }

static void split_runs_seg(struct seg *s, int (*pred)(const struct seg *, size_t))
{
    size_t pos = s->ini;
    while (pos < s->end) {
        size_t q = pos;
        int in = pred(s, pos);
        while (q < s->end && pred(s, q) == in)
            q++;
        add_tok(s, q);
        pos = q;
    }
}

static int is_digit_at(const struct seg *s, size_t p) { return p < s->end && s->c->cp[p] >= '0' && s->c->cp[p] <= '9'; }

/* [0-9][0-9][0-9]: leftmost non-overlapping matches. */
static void split_digits3_seg(struct seg *s)
{
    for (size_t pos = s->ini; pos < s->end;) {
        if (is_digit_at(s, pos) && is_digit_at(s, pos + 1) && is_digit_at(s, pos + 2)) {
            add_tok(s, pos);
            add_tok(s, pos + 3);
            pos += 3;
        } else {
            pos++;
        }
    }
    add_tok(s, s->end);
}

/* ---- o200k ---- */

#define UPPERISH(s, p) (flg(s, p) & UCP_UPPERISH)
#define LOWERISH(s, p) (flg(s, p) & UCP_LOWERISH)

/* [^\r\n\p{L}\p{N}]: one code point that is none of these. */
static int o200k_prefix(const struct seg *s, size_t p)
{
    unsigned f = flg(s, p);
    return f && !(f & (UCP_LETTER | UCP_NUMBER)) && !is_crlf(cpt(s, p));
}

/* U*L+ from p with the regex's backtracking: the U* run is greedy, then L+
 * needs one L; if the run ends on a non-L, give back to the last code point
 * of the run that is also an L (Lm, Lo, M).  Returns the end or 0. */
static size_t o200k_upper_lower(const struct seg *s, size_t p)
{
    size_t e = p, last_l = 0;
    while (UPPERISH(s, e)) {
        if (LOWERISH(s, e))
            last_l = e + 1;
        e++;
    }
    if (LOWERISH(s, e)) { /* L+ continues after the U run */
        while (LOWERISH(s, e))
            e++;
        return e;
    }
    return last_l; /* L+ = that one code point; 0: no L at all */
}

/* U+L* from p: returns the end or 0. */
static size_t o200k_upper_plus(const struct seg *s, size_t p)
{
    size_t e = p;
    while (UPPERISH(s, e))
        e++;
    if (e == p)
        return 0;
    while (LOWERISH(s, e))
        e++;
    return e;
}

/* One of the two word alternatives, prefix first (greedy ?) then without. */
static size_t o200k_word(const struct seg *s, size_t p, size_t (*core)(const struct seg *, size_t))
{
    size_t e = o200k_prefix(s, p) ? core(s, p + 1) : 0;
    if (!e)
        e = core(s, p);
    if (e)
        e += contraction(s, e, 1);
    return e;
}

static void split_o200k_seg(struct seg *s)
{
    for (size_t pos = s->ini; pos < s->end && !s->err;) {
        size_t e = o200k_word(s, pos, o200k_upper_lower);
        if (!e)
            e = o200k_word(s, pos, o200k_upper_plus);
        if (e) {
            pos = e;
            add_tok(s, pos);
            continue;
        }
        uint32_t c = cpt(s, pos);
        unsigned f = flg(s, pos);
        if (f & UCP_NUMBER) {
            pos = llama3_digits(s, pos, 3);
            continue;
        }
        unsigned f2 = c == ' ' ? flg(s, pos + 1) : f; /* ?[^\s\p{L}\p{N}]+[\r\n/]* */
        if (NOT_LNS(f2)) {
            pos += c == ' ';
            while (NOT_LNS(flg(s, pos)))
                pos++;
            while (is_crlf(cpt(s, pos)) || cpt(s, pos) == '/')
                pos++;
            add_tok(s, pos);
            continue;
        }
        pos = llama3_space(s, pos);
    }
}

/* ---- deepseek-v3 ---- */

static int is_ascii_alpha(uint32_t c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int is_ascii_punct(uint32_t c)
{
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}
static int is_cjk_run(const struct seg *s, size_t p)
{
    uint32_t c = s->c->cp[p];
    return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x309F) || (c >= 0x30A0 && c <= 0x30FF);
}

/* Isolated \p{N}{1,3}: digit runs cut every 3, the rest left as gaps. */
static void split_digits13_seg(struct seg *s)
{
    for (size_t pos = s->ini; pos < s->end && !s->err;) {
        if (flg(s, pos) & UCP_NUMBER) {
            add_tok(s, pos); /* the gap before */
            pos = llama3_digits(s, pos, 3);
        } else {
            pos++;
        }
    }
    add_tok(s, s->end);
}

#define LM(f) ((f) & (UCP_LETTER | UCP_ACCENT))
#define PS(f) ((f) & (UCP_PUNCT | UCP_SYMBOL))

/* The third deepseek-v3 regex at pos: the end of its match, 0 if none. */
static size_t dsv3_match(struct seg *s, size_t pos)
{
    uint32_t c = cpt(s, pos);
    unsigned f = flg(s, pos);
    if (c < 128 && is_ascii_punct(c) && is_ascii_alpha(cpt(s, pos + 1))) {
        pos++; /* [!"#...~][A-Za-z]+ */
        while (is_ascii_alpha(cpt(s, pos)))
            pos++;
        return pos;
    }
    /* [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ */
    if (LM(f) || (!is_crlf(c) && !(f & (UCP_LETTER | UCP_PUNCT | UCP_SYMBOL)) && LM(flg(s, pos + 1)))) {
        pos++;
        while (LM(flg(s, pos)))
            pos++;
        return pos;
    }
    if (PS(f) || (c == ' ' && PS(flg(s, pos + 1)))) { /* ?[\p{P}\p{S}]+[\r\n]* */
        pos += c == ' ';
        while (PS(flg(s, pos)))
            pos++;
        while (is_crlf(cpt(s, pos)))
            pos++;
        return pos;
    }
    return 0;
}

static void split_dsv3_seg(struct seg *s)
{
    for (size_t pos = s->ini; pos < s->end && !s->err;) {
        size_t e = dsv3_match(s, pos);
        if (e) {
            add_tok(s, pos); /* the gap before */
            add_tok(s, e);
            pos = e;
        } else if (flg(s, pos) & UCP_SPACE) {
            add_tok(s, pos);
            pos = llama3_space(s, pos);
        } else {
            pos++; /* no match here: part of a gap */
        }
    }
    add_tok(s, s->end);
}

enum splitter { SP_GPT2, SP_LLAMA3, SP_QWEN2, SP_PUNCT, SP_NUM, SP_DIGITS3, SP_O200K,
                SP_DIGITS13, SP_CJK, SP_DSV3 };

static int split(const struct cps *c, struct offs *in, struct offs *out, enum splitter how)
{
    size_t start = 0;
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        struct seg s = {.c = c, .ini = start, .end = start + in->len[i], .prev_end = start, .out = out};
        switch (how) {
        case SP_GPT2: split_gpt2_seg(&s); break;
        case SP_LLAMA3: split_llama3_seg(&s, 3); break;
        case SP_QWEN2: split_llama3_seg(&s, 1); break;
        case SP_PUNCT: split_runs_seg(&s, is_punct_run); break;
        case SP_NUM: split_runs_seg(&s, is_num_run); break;
        case SP_DIGITS3: split_digits3_seg(&s); break;
        case SP_O200K: split_o200k_seg(&s); break;
        case SP_DIGITS13: split_digits13_seg(&s); break;
        case SP_CJK: split_runs_seg(&s, is_cjk_run); break;
        case SP_DSV3: split_dsv3_seg(&s); break;
        }
        if (s.err)
            return s.err;
        start = s.end;
    }
    return 0;
}

static int decode_all(struct cps *c, const char *text, size_t len)
{
    c->cp = malloc((len + 1) * sizeof *c->cp);
    c->fl = malloc((len + 1) * sizeof *c->fl);
    c->byte = malloc((len + 1) * sizeof *c->byte);
    if (!c->cp || !c->fl || !c->byte)
        return QERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len;) { /* text was validated by tok_encode */
        uint32_t cp;
        size_t l = ucp_decode((const unsigned char *)text + i, len - i, &cp);
        if (!l) {
            cp = (unsigned char)text[i];
            l = 1;
        }
        c->byte[n] = i;
        c->cp[n] = cp;
        c->fl[n] = (unsigned short)ucp_flags(cp);
        n++;
        i += l;
    }
    c->byte[n] = len;
    c->n = n;
    return 0;
}

static int run_chain(const struct cps *c, enum tok_pre pre, struct offs *a, struct offs *b,
                     struct offs **res)
{
    static const enum splitter chain_default[] = {SP_PUNCT, SP_GPT2, SP_NUM, SP_DIGITS3};
    static const enum splitter chain_dsv3[] = {SP_DIGITS13, SP_CJK, SP_DSV3};
    enum splitter one;
    const enum splitter *chain = &one;
    size_t n = 1;
    switch (pre) {
    case PRE_LLAMA3: one = SP_LLAMA3; break;
    case PRE_QWEN2: one = SP_QWEN2; break;
    case PRE_DEFAULT: chain = chain_default; n = 4; break;
    case PRE_O200K: one = SP_O200K; break;
    case PRE_DEEPSEEK3: chain = chain_dsv3; n = 3; break;
    case PRE_NONE: n = 0; break;   /* the whole text is one word */
    default: one = SP_GPT2; break;
    }
    int rc = offs_push(a, c->n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = split(c, a, b, chain[i]);
        struct offs tmp = *a; *a = *b; *b = tmp;
    }
    *res = a;
    return rc;
}

int tok_pretokenize(enum tok_pre pre, const char *text, size_t len, tok_emit_fn emit, void *ctx)
{
    struct cps c = {0};
    struct offs a = {0}, b = {0}, *res = NULL;
    int rc = decode_all(&c, text, len);
    if (rc == 0 && c.n)
        rc = run_chain(&c, pre, &a, &b, &res);
    size_t start = 0;
    for (size_t i = 0; rc == 0 && res && i < res->n; i++) {
        size_t from = c.byte[start], to = c.byte[start + res->len[i]];
        rc = emit(ctx, from, to - from);
        start += res->len[i];
    }
    free(c.cp);
    free(c.fl);
    free(c.byte);
    free(a.len);
    free(b.len);
    return rc;
}
