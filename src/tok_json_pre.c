/* tok_json_pre: identify a tokenizer.json's normalizer and pre-tokenizer by
 * their full structure and map them to a family qlens implements exactly.
 *
 * The pre-tokenizer is flattened to its steps (Sequence), each step is
 * recognised on its own (a Split by its exact regex, behavior and invert;
 * ByteLevel by add_prefix_space and use_regex; Metaspace by replacement,
 * prepend scheme and split), and the whole list must equal one family:
 *
 *   gpt2         ByteLevel(use_regex)
 *   bytes        ByteLevel(no regex): the text is one word
 *   llama3       Split(llama3 regex, Isolated) + ByteLevel(no regex)
 *   qwen2        Split(qwen2 regex, Isolated) + ByteLevel(no regex)
 *   o200k        Split(o200k regex, Isolated) + ByteLevel(no regex)   gpt-oss
 *   deepseek-v3  Split(\p{N}{1,3}) + Split(kana/CJK) + Split(deepseek regex)
 *                + ByteLevel(no regex)
 *   llama2       none, with normalizer Prepend(U+2581) + Replace(' ', U+2581)
 *   gemma        none (or Split(' ', MergedWithPrevious), a no-op once the
 *                normalizer has replaced every space), with Replace(' ', U+2581)
 *   metaspace    Metaspace(U+2581)
 *
 * Anything else is refused with the step that is not known (exit 1): qlens
 * never tokenizes with an approximation of a regex it does not implement. */
#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/tok_internal.h"

#define META "\xe2\x96\x81"

static const char RE_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_O200K[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
    "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_DS_DIGITS[] = "\\p{N}{1,3}";
static const char RE_DS_CJK[] =
    "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+";
static const char RE_DS_WORDS[] =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

/* A recognised pre-tokenizer step. */
enum step { ST_SPLIT_LLAMA3, ST_SPLIT_QWEN2, ST_SPLIT_O200K, ST_SPLIT_DS_DIGITS,
            ST_SPLIT_DS_CJK, ST_SPLIT_DS_WORDS, ST_SPLIT_SPACE_PREV, ST_BYTELEVEL,
            ST_METASPACE };
static const char *step_name[] = {"Split(llama3)", "Split(qwen2)", "Split(o200k)",
                                  "Split(\\p{N}{1,3})", "Split(kana/CJK)", "Split(deepseek-v3)",
                                  "Split(' ', MergedWithPrevious)", "ByteLevel", "Metaspace"};

struct pre_steps {
    enum step s[8];
    int n;
    int bl_prefix, bl_regex;           /* the ByteLevel step's flags */
};

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static int flag_of(const cJSON *o, const char *k, int dflt)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(x) ? cJSON_IsTrue(x) : dflt;
}

static int split_step(const cJSON *o, int i, const char *path, struct qerr *err)
{
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    const char *re = str_of(pat, "Regex"), *str = str_of(pat, "String");
    const char *beh = str_of(o, "behavior");
    int invert = flag_of(o, "invert", 0);
    if (str && !strcmp(str, " ") && beh && !strcmp(beh, "MergedWithPrevious") && !invert)
        return ST_SPLIT_SPACE_PREV;
    if (!re || !beh || strcmp(beh, "Isolated") || invert)
        return qerr_set(err, QERR_UNSUPP, "%s: pre_tokenizer step %d: Split with %s \"%.60s\", "
                        "behavior %s, invert %s is not implemented", path, i, re ? "regex" : "string",
                        re ? re : str ? str : "?", beh ? beh : "?", invert ? "true" : "false");
    static const struct { const char *re; enum step s; } known[] = {
        {RE_LLAMA3, ST_SPLIT_LLAMA3}, {RE_QWEN2, ST_SPLIT_QWEN2}, {RE_O200K, ST_SPLIT_O200K},
        {RE_DS_DIGITS, ST_SPLIT_DS_DIGITS}, {RE_DS_CJK, ST_SPLIT_DS_CJK},
        {RE_DS_WORDS, ST_SPLIT_DS_WORDS}};
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
        if (!strcmp(re, known[k].re))
            return known[k].s;
    return qerr_set(err, QERR_UNSUPP, "%s: pre_tokenizer step %d: Split regex \"%.80s\" is not "
                    "one qlens implements (llama3, qwen2, o200k, deepseek-v3)", path, i, re);
}

static int metaspace_step(struct tokenizer *t, const cJSON *o, int i, const char *path,
                          struct qerr *err)
{
    const char *rep = str_of(o, "replacement"), *scheme = str_of(o, "prepend_scheme");
    if (!rep || strcmp(rep, META))
        return qerr_set(err, QERR_UNSUPP, "%s: pre_tokenizer step %d: Metaspace replacement "
                        "\"%s\" is not U+2581", path, i, rep ? rep : "?");
    if (scheme)
        t->meta_prefix = !strcmp(scheme, "always") ? 2 : !strcmp(scheme, "first") ? 1
                         : !strcmp(scheme, "never") ? 0 : -1;
    else
        t->meta_prefix = flag_of(o, "add_prefix_space", 1) ? 2 : 0;
    if (t->meta_prefix < 0)
        return qerr_set(err, QERR_UNSUPP, "%s: pre_tokenizer step %d: Metaspace prepend_scheme "
                        "\"%s\" is not implemented", path, i, scheme);
    t->split_words = flag_of(o, "split", 1);
    t->metaspace = 1;
    return ST_METASPACE;
}

static int add_steps(struct tokenizer *t, const cJSON *node, struct pre_steps *ps,
                     const char *path, struct qerr *err)
{
    const char *type = str_of(node, "type");
    if (type && !strcmp(type, "Sequence")) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(node, "pretokenizers")) {
            int rc = add_steps(t, c, ps, path, err);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    int i = ps->n, s;
    if (i == (int)(sizeof ps->s / sizeof *ps->s))
        return qerr_set(err, QERR_UNSUPP, "%s: pre_tokenizer: more than %d steps", path, i);
    if (!type)
        return qerr_set(err, QERR_FORMAT, "%s: pre_tokenizer step %d: no \"type\"", path, i);
    if (!strcmp(type, "Split")) {
        s = split_step(node, i, path, err);
    } else if (!strcmp(type, "ByteLevel")) {
        ps->bl_prefix = flag_of(node, "add_prefix_space", 1);
        ps->bl_regex = flag_of(node, "use_regex", 1);
        s = ST_BYTELEVEL;
    } else if (!strcmp(type, "Metaspace")) {
        s = metaspace_step(t, node, i, path, err);
    } else {
        s = qerr_set(err, QERR_UNSUPP, "%s: pre_tokenizer step %d: type \"%s\" is not implemented "
                     "(Split, ByteLevel, Metaspace, Sequence)", path, i, type);
    }
    if (s < 0)
        return s;
    ps->s[ps->n++] = (enum step)s;
    return 0;
}

/* ---- normalizer ---- */

static int push_norm(struct tokenizer *t, enum tok_norm_op op, const char *a, const char *b)
{
    struct tok_norm *p = realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *p);
    if (!p)
        return QERR_NOMEM;
    t->norm = p;
    struct tok_norm *n = &t->norm[t->n_norm++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->a = a ? strdup(a) : NULL;
    n->b = b ? strdup(b) : NULL;
    n->na = a ? strlen(a) : 0;
    n->nb = b ? strlen(b) : 0;
    return (a && !n->a) || (b && !n->b) ? QERR_NOMEM : 0;
}

static int add_norm(struct tokenizer *t, const cJSON *node, const char *path, struct qerr *err)
{
    if (!node || cJSON_IsNull(node))
        return 0;
    const char *type = str_of(node, "type");
    static const struct { const char *name; enum tok_norm_op op; } forms[] = {
        {"NFC", TN_NFC}, {"NFD", TN_NFD}, {"NFKC", TN_NFKC}, {"NFKD", TN_NFKD}, {"Lowercase", TN_LOWER}};
    if (type && !strcmp(type, "Sequence")) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(node, "normalizers")) {
            int rc = add_norm(t, c, path, err);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    for (size_t i = 0; type && i < sizeof forms / sizeof *forms; i++)
        if (!strcmp(type, forms[i].name))
            return push_norm(t, forms[i].op, NULL, NULL) < 0
                   ? qerr_set(err, QERR_NOMEM, "%s: out of memory", path) : 0;
    const char *from = str_of(cJSON_GetObjectItemCaseSensitive(node, "pattern"), "String");
    const char *to = str_of(node, "content"), *pre = str_of(node, "prepend");
    int rc = 1;
    if (type && !strcmp(type, "Replace") && from && *from && to)
        rc = push_norm(t, TN_REPLACE, from, to);
    else if (type && !strcmp(type, "Prepend") && pre)
        rc = push_norm(t, TN_PREPEND, pre, NULL);
    if (rc == 1)
        return qerr_set(err, QERR_UNSUPP, "%s: normalizer \"%s\"%s is not implemented (NFC, NFD, "
                        "NFKC, NFKD, Lowercase, Replace of a string, Prepend, Sequence)", path,
                        type ? type : "?", type && !strcmp(type, "Replace") ? " of a regex" : "");
    return rc < 0 ? qerr_set(err, QERR_NOMEM, "%s: out of memory", path) : 0;
}

static void describe_norm(struct tokenizer *t)
{
    static const char *names[] = {"NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Replace", "Prepend"};
    size_t k = 0;
    t->norm_desc[0] = '\0';
    for (int i = 0; i < t->n_norm && k < sizeof t->norm_desc; i++) {
        const struct tok_norm *n = &t->norm[i];
        const char *sep = i ? " + " : "";
        if (n->op == TN_REPLACE)
            k += (size_t)snprintf(t->norm_desc + k, sizeof t->norm_desc - k, "%sReplace('%s'->'%s')",
                                  sep, n->a, n->b);
        else if (n->op == TN_PREPEND)
            k += (size_t)snprintf(t->norm_desc + k, sizeof t->norm_desc - k, "%sPrepend('%s')", sep, n->a);
        else
            k += (size_t)snprintf(t->norm_desc + k, sizeof t->norm_desc - k, "%s%s", sep, names[n->op]);
    }
    if (!t->n_norm)
        snprintf(t->norm_desc, sizeof t->norm_desc, "none");
}

/* Does the normalizer end up with no ' ' at all (a Replace of ' ' by
 * something without one, after any Prepend)? */
static int norm_replaces_spaces(const struct tokenizer *t)
{
    int ok = 0;
    for (int i = 0; i < t->n_norm; i++) {
        const struct tok_norm *n = &t->norm[i];
        if (n->op == TN_REPLACE && !strcmp(n->a, " ") && !memchr(n->b, ' ', n->nb))
            ok = 1;
        else if (n->op == TN_PREPEND && memchr(n->a, ' ', n->na))
            ok = 0;
    }
    return ok;
}

static int norm_is(const struct tokenizer *t, int n_ops, const enum tok_norm_op *ops)
{
    if (t->n_norm != n_ops)
        return 0;
    for (int i = 0; i < n_ops; i++)
        if (t->norm[i].op != ops[i])
            return 0;
    return 1;
}

/* ---- families ---- */

static int steps_are(const struct pre_steps *ps, int n, ...)
{
    if (ps->n != n)
        return 0;
    va_list ap;
    va_start(ap, n);
    int ok = 1;
    for (int i = 0; i < n; i++)
        ok &= ps->s[i] == (enum step)va_arg(ap, int);
    va_end(ap);
    return ok;
}

static void describe_pre(struct tokenizer *t, const struct pre_steps *ps)
{
    size_t k = 0;
    t->pre_desc[0] = '\0';
    for (int i = 0; i < ps->n && k < sizeof t->pre_desc; i++) {
        const char *extra = "";
        if (ps->s[i] == ST_BYTELEVEL)
            extra = ps->bl_regex ? (ps->bl_prefix ? "(gpt2 regex, prefix space)" : "(gpt2 regex)")
                                 : "(no regex)";
        k += (size_t)snprintf(t->pre_desc + k, sizeof t->pre_desc - k, "%s%s%s", i ? " + " : "",
                              step_name[ps->s[i]], extra);
    }
    if (!ps->n)
        snprintf(t->pre_desc, sizeof t->pre_desc, "none");
}

static void set_family(struct tokenizer *t, enum tok_kind kind, enum tok_pre pre, const char *fam)
{
    t->kind = kind;
    t->pre = pre;
    snprintf(t->family, sizeof t->family, "%s", fam);
    if (kind == TOK_BPE)
        snprintf(t->name, sizeof t->name, "bpe/%s", fam);
    else
        snprintf(t->name, sizeof t->name, "spm/bpe-ranks");
}

/* Byte-level families: a known Split chain closed by ByteLevel(no regex). */
static int byte_level_family(struct tokenizer *t, const struct pre_steps *ps)
{
    if (ps->n == 1)
        return ps->bl_regex ? (set_family(t, TOK_BPE, PRE_GPT2, "gpt-2"), 1)
                            : (set_family(t, TOK_BPE, PRE_NONE, "none"), 1);
    if (ps->bl_regex || ps->bl_prefix) /* regex or prefix space after a Split: not a family */
        return 0;
    if (steps_are(ps, 2, ST_SPLIT_LLAMA3, ST_BYTELEVEL))
        set_family(t, TOK_BPE, PRE_LLAMA3, "llama3");
    else if (steps_are(ps, 2, ST_SPLIT_QWEN2, ST_BYTELEVEL))
        set_family(t, TOK_BPE, PRE_QWEN2, "qwen2");
    else if (steps_are(ps, 2, ST_SPLIT_O200K, ST_BYTELEVEL))
        set_family(t, TOK_BPE, PRE_O200K, "o200k");
    else if (steps_are(ps, 4, ST_SPLIT_DS_DIGITS, ST_SPLIT_DS_CJK, ST_SPLIT_DS_WORDS, ST_BYTELEVEL))
        set_family(t, TOK_BPE, PRE_DEEPSEEK3, "deepseek-v3");
    else
        return 0;
    return 1;
}

/* SentencePiece-style BPE: U+2581 for spaces from the normalizer or a
 * Metaspace pre-tokenizer, characters merged by rank, byte fallback. */
static int spm_family(struct tokenizer *t, const struct pre_steps *ps)
{
    static const enum tok_norm_op prep_rep[] = {TN_PREPEND, TN_REPLACE}, rep[] = {TN_REPLACE};
    t->spm_by_rank = 1;
    if (steps_are(ps, 1, ST_METASPACE) && t->n_norm == 0) {
        t->add_space_prefix = t->meta_prefix > 0;
        set_family(t, TOK_SPM, PRE_NONE, "metaspace");
        return 1;
    }
    int no_pre = ps->n == 0 || (steps_are(ps, 1, ST_SPLIT_SPACE_PREV) && norm_replaces_spaces(t));
    if (!no_pre || !norm_replaces_spaces(t) || strcmp(t->norm[t->n_norm - 1].b, META))
        return 0;
    if (norm_is(t, 2, prep_rep) && !strcmp(t->norm[0].a, META)) {
        t->add_space_prefix = 1;
        set_family(t, TOK_SPM, PRE_NONE, "llama2");
        return 1;
    }
    if (norm_is(t, 1, rep)) {
        t->add_space_prefix = 0;
        set_family(t, TOK_SPM, PRE_NONE, "gemma");
        return 1;
    }
    return 0;
}

int tok_json_identify(struct tokenizer *t, const cJSON *root, const char *path, struct qerr *err)
{
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    struct pre_steps ps = {.n = 0};
    int rc = add_norm(t, norm, path, err);
    if (rc == 0 && pre && !cJSON_IsNull(pre))
        rc = add_steps(t, pre, &ps, path, err);
    if (rc < 0)
        return rc;
    describe_norm(t);
    describe_pre(t, &ps);
    int bl = 0;
    for (int i = 0; i < ps.n; i++)
        bl |= ps.s[i] == ST_BYTELEVEL;
    int ok;
    if (bl) {
        ok = ps.s[ps.n - 1] == ST_BYTELEVEL && byte_level_family(t, &ps);
        t->bpe_prefix_space = ps.n == 1 && ps.bl_prefix;
    } else {
        ok = spm_family(t, &ps);
    }
    if (!ok)
        return qerr_set(err, QERR_UNSUPP, "%s: pre_tokenizer %s with normalizer %s is no family "
                        "qlens implements (llama3, qwen2, o200k, deepseek-v3, gpt-2, llama2, gemma, "
                        "metaspace)", path, t->pre_desc, t->norm_desc);
    return 0;
}
