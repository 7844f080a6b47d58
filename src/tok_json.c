/* tok_json: Hugging Face tokenizer.json with a BPE model: model.vocab,
 * model.merges (either "a b" strings or ["a","b"] pairs), added_tokens;
 * the normalizer and pre-tokenizer are identified by tok_json_pre.c. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "src/tok_internal.h"

/* Ids at or above this are refused: the vocabulary arrays are sized by the
 * largest id, so one stray id must not make us allocate gigabytes (the
 * same bound as a GGUF vocabulary). */
#define TOK_JSON_MAX_ID (1 << 24)

/* Largest id in model.vocab and added_tokens, plus one; -1 when an id is
 * beyond TOK_JSON_MAX_ID. */
static int count_vocab(const cJSON *vocab, const cJSON *added)
{
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab)
        if (cJSON_IsNumber(e) && e->valuedouble >= n) {
            if (e->valuedouble >= TOK_JSON_MAX_ID)
                return -1;
            n = e->valueint + 1;
        }
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (cJSON_IsNumber(id) && id->valuedouble >= n) {
            if (id->valuedouble >= TOK_JSON_MAX_ID)
                return -1;
            n = id->valueint + 1;
        }
    }
    return n;
}

static int fill_vocab(struct tokenizer *t, const cJSON *vocab, const cJSON *added,
                      const char *path, struct qerr *err)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        if (!cJSON_IsNumber(e) || e->valueint < 0)
            return qerr_set(err, QERR_FORMAT, "%s: model.vocab[\"%s\"]: id is not a "
                            "non-negative number", path, e->string);
        if (tok_set_piece(t, e->valueint, e->string, strlen(e->string)) < 0)
            return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
        t->type[e->valueint] = TT_NORMAL;
    }
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        const cJSON *special = cJSON_GetObjectItemCaseSensitive(e, "special");
        if (!cJSON_IsNumber(id) || id->valueint < 0 || !cJSON_IsString(content))
            return qerr_set(err, QERR_FORMAT, "%s: added_tokens: entry without id/content",
                            path);
        if (tok_set_piece(t, id->valueint, content->valuestring, strlen(content->valuestring)) < 0)
            return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
        t->type[id->valueint] = cJSON_IsTrue(special) ? TT_CONTROL : TT_USER;
    }
    return 0;
}

static int fill_merges(struct tokenizer *t, const cJSON *merges, const char *path,
                       struct qerr *err)
{
    int n = cJSON_GetArraySize(merges);
    t->merge_str = calloc((size_t)n + 1, sizeof *t->merge_str);
    if (!t->merge_str || tok_map_init(&t->merges, (size_t)n) < 0)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, merges) {
        char *buf = NULL;
        if (cJSON_IsString(e)) {
            buf = strdup(e->valuestring);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
            const char *a = cJSON_GetArrayItem(e, 0)->valuestring;
            const char *b = cJSON_GetArrayItem(e, 1)->valuestring;
            if ((buf = malloc(strlen(a) + strlen(b) + 2)))
                sprintf(buf, "%s %s", a, b);
        } else {
            return qerr_set(err, QERR_FORMAT, "%s: model.merges[%d]: neither \"a b\" nor "
                            "[\"a\",\"b\"]", path, i);
        }
        if (!buf)
            return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
        t->n_merges = i + 1;
        int rc = tok_add_merge(t, i, buf, strlen(buf));
        free(buf);
        if (rc < 0)
            return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
        i++;
    }
    return 0;
}

/* First object under node (node included) whose "type" is `type`. */
static const cJSON *find_type(const cJSON *node, const char *type)
{
    if (!node || !(cJSON_IsObject(node) || cJSON_IsArray(node)))
        return NULL;
    const cJSON *ty = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, "type") : NULL;
    if (cJSON_IsString(ty) && !strcmp(ty->valuestring, type))
        return node;
    const cJSON *c;
    cJSON_ArrayForEach(c, node) {
        const cJSON *r = find_type(c, type);
        if (r)
            return r;
    }
    return NULL;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, a) : NULL;
    if (x && b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Model options that change ids and that qlens does not implement. */
static int check_model(const cJSON *model, const char *path, struct qerr *err)
{
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    const char *cont = str_at(model, "continuing_subword_prefix", NULL);
    const char *eow = str_at(model, "end_of_word_suffix", NULL);
    if (cJSON_IsNumber(drop) && drop->valuedouble > 0)
        return qerr_set(err, QERR_UNSUPP, "%s: model.dropout %g is not implemented", path,
                        drop->valuedouble);
    if ((cont && *cont) || (eow && *eow))
        return qerr_set(err, QERR_UNSUPP, "%s: model.%s \"%s\" is not implemented", path,
                        cont && *cont ? "continuing_subword_prefix" : "end_of_word_suffix",
                        cont && *cont ? cont : eow);
    return 0;
}

static int detect_pre(struct tokenizer *t, const cJSON *root, const char *path, struct qerr *err)
{
    int rc = tok_json_identify(t, root, path, err);
    if (rc < 0 || t->kind != TOK_BPE)
        return rc;
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    const cJSON *dt = dec ? cJSON_GetObjectItemCaseSensitive(dec, "type") : NULL;
    if (cJSON_IsString(dt) && strcmp(dt->valuestring, "ByteLevel"))
        return qerr_set(err, QERR_UNSUPP, "%s: decoder.type \"%s\": a ByteLevel pre-tokenizer "
                        "needs the ByteLevel decoder", path, dt->valuestring);
    return 0;
}

/* Every added token, for the Hugging Face split of the text (special or
 * not, longest match first); single_word is refused. */
static int collect_added(struct tokenizer *t, const cJSON *added, const char *path,
                         struct qerr *err)
{
    int n = cJSON_GetArraySize(added), k = 0;
    t->added_ids = malloc((size_t)(n + 1) * sizeof *t->added_ids);
    t->added_strip = malloc((size_t)n + 1);
    if (!t->added_ids || !t->added_strip)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "single_word")))
            return qerr_set(err, QERR_UNSUPP, "%s: added_tokens[%d]: single_word is not "
                            "implemented", path, k);
        t->added_strip[k] = (unsigned char)(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "lstrip")) |
                                            2 * cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "rstrip")));
        t->added_ids[k++] = id->valueint; /* fill_vocab checked it */
    }
    t->n_added = k;
    return 0;
}

/* BOS: the special token that TemplateProcessing puts first, else a
 * well-known name; EOS by well-known names. */
static void detect_special(struct tokenizer *t, const cJSON *root)
{
    static const char *bos_names[] = {"<|begin_of_text|>", "<s>", "<|endoftext|>"};
    static const char *eos_names[] = {"<|end_of_text|>", "</s>", "<|endoftext|>", "<|im_end|>"};
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    const cJSON *tp = find_type(pp, "TemplateProcessing"); /* may sit in a Sequence */
    const cJSON *single = tp ? cJSON_GetObjectItemCaseSensitive(tp, "single") : NULL;
    const cJSON *first = cJSON_IsArray(single) ? cJSON_GetArrayItem(single, 0) : NULL;
    const cJSON *st = first ? cJSON_GetObjectItemCaseSensitive(first, "SpecialToken") : NULL;
    const cJSON *sid = st ? cJSON_GetObjectItemCaseSensitive(st, "id") : NULL;
    if (cJSON_IsString(sid)) {
        t->bos = tok_map_get(&t->vocab, sid->valuestring, strlen(sid->valuestring));
        t->add_bos = t->bos >= 0;
    }
    for (size_t i = 0; t->bos < 0 && i < sizeof bos_names / sizeof *bos_names; i++)
        t->bos = tok_map_get(&t->vocab, bos_names[i], strlen(bos_names[i]));
    if (!pp && t->kind == TOK_SPM) /* SentencePiece models want BOS */
        t->add_bos = t->bos >= 0;
    for (size_t i = 0; t->eos < 0 && i < sizeof eos_names / sizeof *eos_names; i++)
        t->eos = tok_map_get(&t->vocab, eos_names[i], strlen(eos_names[i]));
}

/* Byte tokens for decoding, unk, and no byte fallback unless asked. */
static void spm_tokens(struct tokenizer *t, const cJSON *model)
{
    int fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    for (int b = 0; b < 256; b++) {
        int id = t->byte_id[b];
        if (id >= 0 && t->piece_len[id] == 6 && !strncmp(t->piece[id], "<0x", 3))
            t->type[id] = TT_BYTE;
        if (!fallback)
            t->byte_id[b] = -1;
    }
    const char *unk = str_at(model, "unk_token", NULL);
    if (unk) {
        t->unk = tok_map_get(&t->vocab, unk, strlen(unk));
        if (t->unk >= 0)
            t->type[t->unk] = TT_UNKNOWN;
    }
}

static int load_json(struct tokenizer **out, const cJSON *root, const char *path, struct qerr *err)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = model ? cJSON_GetObjectItemCaseSensitive(model, "type") : NULL;
    const cJSON *vocab = model ? cJSON_GetObjectItemCaseSensitive(model, "vocab") : NULL;
    const cJSON *merges = model ? cJSON_GetObjectItemCaseSensitive(model, "merges") : NULL;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE"))
        return qerr_set(err, QERR_UNSUPP, "%s: model.type: only \"BPE\" is supported", path);
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges))
        return qerr_set(err, QERR_FORMAT, "%s: model.vocab (object) and model.merges (array) "
                        "are required", path);
    int n = count_vocab(vocab, added);
    if (n < 0)
        return qerr_set(err, QERR_FORMAT, "%s: model.vocab / added_tokens: an id is %d or "
                        "more", path, TOK_JSON_MAX_ID);
    if (n == 0)
        return qerr_set(err, QERR_FORMAT, "%s: model.vocab: empty", path);
    struct tokenizer *t = tok_alloc(n);
    if (!t)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    t->kind = TOK_BPE;
    t->hf = 1;
    const char *mode = getenv("QLENS_TOKENIZER");
    t->compat = mode && !strcmp(mode, "llamacpp");
    t->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    int rc = check_model(model, path, err);
    if (rc == 0)
        rc = detect_pre(t, root, path, err);
    if (rc == 0)
        rc = fill_vocab(t, vocab, added, path, err);
    if (rc == 0)
        rc = collect_added(t, added, path, err);
    if (rc == 0)
        rc = fill_merges(t, merges, path, err);
    if (rc == 0)
        rc = tok_finish(t, err);
    if (rc == 0 && tok_index_added(t) < 0)
        rc = qerr_set(err, QERR_NOMEM, "%s: out of memory", path);
    if (rc < 0) {
        tok_free(t);
        return rc;
    }
    if (t->kind == TOK_SPM)
        spm_tokens(t, model);
    detect_special(t, root);
    *out = t;
    return 0;
}

int tok_load_hf_json(struct tokenizer **out, const char *path, struct qerr *err)
{
    *out = NULL;
    size_t n;
    char *buf = afile_read(path, 0, &n, err);
    if (!buf)
        return err ? err->code : QERR_IO;
    cJSON *root = cJSON_ParseWithLength(buf, n);
    int rc;
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= buf && at <= buf + n ? (size_t)(at - buf) : 0;
        rc = qerr_set(err, QERR_FORMAT, "%s: offset %zu: invalid JSON", path, off);
    } else {
        rc = load_json(out, root, path, err);
    }
    cJSON_Delete(root);
    free(buf);
    return rc;
}
