/* tok_internal: the tokenizer struct and helpers shared by tokenizer.c,
 * tok_spm.c, tok_bpe.c, tok_pretok.c and tok_json.c.  Not a public API. */
#ifndef QLENS_TOK_INTERNAL_H
#define QLENS_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "src/tokenizer.h"

/* llama.cpp's token types (GGUF tokenizer.ggml.token_type). */
enum { TT_UNDEF = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4,
       TT_UNUSED = 5, TT_BYTE = 6 };

/* Pre-tokenizer (the regex of the model type, hand-written). */
enum tok_pre { PRE_NONE = 0, PRE_GPT2, PRE_LLAMA3, PRE_QWEN2, PRE_DEFAULT, PRE_O200K, PRE_DEEPSEEK3 };

/* Open-addressing map from byte strings (not owned) to ints. */
struct tok_map {
    struct tok_slot { const char *key; uint32_t len; int val; } *slots;
    size_t cap;           /* power of two, 0 when empty */
    size_t n;
};

struct tokenizer {
    enum tok_kind kind;
    enum tok_pre pre;
    int n_vocab;
    char **piece;         /* (n_vocab) NUL-terminated, owned */
    uint32_t *piece_len;  /* (n_vocab) */
    float *score;         /* (n_vocab) SPM merge priority */
    unsigned char *type;  /* (n_vocab) TT_* */
    struct tok_map vocab; /* piece -> id; a later duplicate wins (llama.cpp) */
    struct tok_map merges;/* "left right" -> rank; the first wins        */
    char **merge_str;     /* (n_merges) owned keys of `merges` */
    int n_merges;
    int byte_id[256];     /* SPM <0xNN> token of each byte, -1 if none */
    int bos, eos, unk;
    int add_bos, add_space_prefix, ignore_merges;
    /* SPM-style tokenizer.json (Llama-2 family on HF): merge by the rank of
     * the pair in `merges` instead of by score; split_words: Metaspace
     * pre-tokenizer with split, each word starts at a U+2581. */
    int spm_by_rank, split_words;
    int bpe_prefix_space; /* HF ByteLevel add_prefix_space: " " + text */
    int *user_ids;        /* (n_user) user-defined tokens, longest first */
    int n_user;
    char name[32];
    /* tokenizer.json, applied as Hugging Face does unless compat is set
     * (then as llama.cpp does with the converted GGUF: no Unicode
     * normalizer or Lowercase, special tokens are plain text). */
    int hf, compat;
    struct tok_norm *norm;/* (n_norm) the normalizer steps, in order */
    int n_norm;
    int *added_ids;       /* (n_added) every added token (special or not) */
    unsigned char *added_strip; /* (n_added) 1 lstrip, 2 rstrip */
    int n_added;
    int added_start[257]; /* added_ids[added_start[b]..added_start[b+1]) begin with byte b */
    int meta_prefix;      /* Metaspace prepend_scheme: 0 never, 1 first, 2 always */
    int metaspace;        /* SPM-style words made by a Metaspace pre-tokenizer */
    char family[24];      /* "llama3", "qwen2", "o200k", "deepseek-v3", ... */
    char pre_desc[96];    /* the pre-tokenizer steps, e.g. "Split(llama3) + ByteLevel" */
    char norm_desc[96];   /* the normalizer steps, "none" when there are none */
};

/* One tokenizer.json normalizer step. */
enum tok_norm_op { TN_NFC, TN_NFD, TN_NFKC, TN_NFKD, TN_LOWER, TN_REPLACE, TN_PREPEND };
struct tok_norm {
    enum tok_norm_op op;
    char *a, *b;          /* Replace: a -> b; Prepend: a; owned */
    size_t na, nb;
};
/* tokenizer.json: read the normalizer and pre-tokenizer of `root` into t
 * (norm, family, kind, pre, ...) or refuse them by name (tok_json_pre.c). */
struct cJSON;
int tok_json_identify(struct tokenizer *t, const struct cJSON *root, const char *path,
                      struct qerr *err);
/* Sort added_ids (and added_strip) by first byte and fill added_start,
 * after tok_finish.  0 or QERR_NOMEM. */
int tok_index_added(struct tokenizer *t);
/* Apply the steps to text[0..len): *out malloc'd.  compat skips the
 * Unicode forms and Lowercase.  0 or QERR_NOMEM. */
int tok_normalize(const struct tokenizer *t, const char *text, size_t len, char **out,
                  size_t *out_n);

/* Growable id vector. */
struct tok_vec { int *v; size_t n, cap; };
int tok_vec_push(struct tok_vec *v, int id);

/* ---- map ---- */
int tok_map_init(struct tok_map *m, size_t n_expected);
/* replace: 1 overwrites an existing key, 0 keeps the first value. */
int tok_map_put(struct tok_map *m, const char *key, uint32_t len, int val, int replace);
int tok_map_get(const struct tok_map *m, const char *key, size_t len); /* -1 if absent */
void tok_map_free(struct tok_map *m);

/* ---- building ---- */
struct tokenizer *tok_alloc(int n_vocab);
/* Copy piece i (len bytes) and insert it into the vocab map. */
int tok_set_piece(struct tokenizer *t, int i, const char *s, size_t len);
/* After pieces/types are set: byte table, map, defaults. */
int tok_finish(struct tokenizer *t, struct qerr *err);
int tok_add_merge(struct tokenizer *t, int rank, const char *s, size_t len);
/* "gpt-2", "llama-bpe", ... -> PRE_*; -1 when unknown. */
int tok_pre_from_name(const char *name);

/* ---- encoders (text already valid UTF-8) ---- */
int tok_spm_encode(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out);
int tok_bpe_encode(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out);
/* SPM on one fragment between user-defined tokens; prefix: add the space. */
int tok_spm_encode_frag(const struct tokenizer *t, const char *text, size_t len, int prefix,
                        struct tok_vec *out);
/* SPM-style merge of text that a tokenizer.json normalizer already
 * escaped: no space handling at all (Metaspace words when t->metaspace). */
int tok_spm_encode_raw(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out);

/* Plain O(n^2) references of the two encoders (llama2.c's loop: rescan
 * every adjacent pair, merge the best, repeat); tests compare them with the
 * priority-queue versions above. */
int tok_spm_encode_ref(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out);
int tok_bpe_encode_ref(const struct tokenizer *t, const char *text, size_t len, struct tok_vec *out);
struct tok_sym;
/* Priority of merging l with its right neighbour r; 0 if they cannot merge. */
typedef int (*tok_prio_fn)(void *ctx, const struct tok_sym *l, const struct tok_sym *r, double *prio);
int tok_merge_ref(struct tok_sym *sym, size_t n, tok_prio_fn prio, void *ctx);
/* The O(n log n) merge both encoders use: the best pair (highest prio,
 * leftmost on ties) from a priority queue, stale entries skipped. */
struct tok_heap;
int tok_merge_heap(struct tok_sym *sym, size_t n, struct tok_heap *heap, tok_prio_fn prio,
                   void *ctx);

/* Pre-tokenizer: split text into words; calls emit(ctx, start, len) with
 * byte ranges in order.  Returns 0 or QERR_NOMEM (or emit's error). */
typedef int (*tok_emit_fn)(void *ctx, size_t start, size_t len);
int tok_pretokenize(enum tok_pre pre, const char *text, size_t len, tok_emit_fn emit, void *ctx);

/* GPT-2 bytes_to_unicode: the code point that stands for byte b. */
uint32_t tok_byte_to_cp(unsigned char b);
/* Inverse; -1 when cp stands for no byte. */
int tok_cp_to_byte(uint32_t cp);

#endif
