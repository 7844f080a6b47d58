/* results: the results store of qlens (schema "qlens-results/1").
 *
 * One store file is a JSON object
 *   {"schema": "qlens-results/1", "source": "...", "citation": "...",
 *    "notes": ["..."],                               (optional)
 *    "results": [entry, ...]}
 * and one entry is
 *   {"id": "unique string", "model": "Qwen-7B-Chat", "method": "GPTQ",
 *    "bits": {"w": 4, "a": 16, "kv": 16},
 *    "group_size": 128 | null,                       (optional, null = unknown)
 *    "settings": {...any JSON...},                   (optional)
 *    "ppl": {"wikitext2": 9.04, "c4": {"value": 12.7, "stderr": 0.05}},
 *    "benchmarks": {"mmlu": {"value": 55.8, "metric": "acc",
 *                            "unit": "percent", "stderr": 0.4}},
 *    "memory_gb": 7.83 | null, "speed": 37.4 | null,  (tokens per second)
 *    "source": "where the numbers come from"}         (optional)
 * Required: id, model, method, bits.{w,a,kv}.  Units are one of
 * results_units[] ("percent", "fraction", "bleu", "score", "bias").
 * Validation errors name the file and the JSON path of the bad value, e.g.
 *   "mine.json: results[3].benchmarks.mmlu.unit: unknown unit 'pct' ...".
 *
 * The join key of an entry is model + method + bits (w/a/kv) + group_size
 * (model and method compared without regard to case):
 * entries with the same key describe the same quantized model and may be
 * combined (results_join_into), e.g. a perplexity run and an lm-eval run.
 *
 * Numbers never print or exit here (analysis/ layer): functions return
 * QERR_OK or a negative QERR_* and fill struct qerr. */
#ifndef QLENS_RESULTS_H
#define QLENS_RESULTS_H

#include <stddef.h>
#include <stdio.h>

#include "analysis/qerr.h"

#define RESULTS_SCHEMA "qlens-results/1"

/* The accepted units, NULL-terminated. */
extern const char *const results_units[];

struct results_ppl {
    char dataset[64]; /* "wikitext2", "c4", "tinystories-eval" */
    double value;     /* perplexity (> 0) */
    double se;        /* standard error, NAN when unknown */
};

struct results_bench {
    char name[96];   /* "mmlu", "arc_easy", "xsum_rouge1" */
    char metric[32]; /* "acc", "acc_norm", "rouge1", "bleu", "" if unknown */
    char unit[16];   /* one of results_units[] */
    double value;
    double se;       /* standard error, NAN when unknown */
};

struct results_entry {
    char id[160];
    char model[256];
    char method[64];            /* "BF16", "GPTQ", "SpQR", "rtn", ... */
    int w_bits, a_bits, kv_bits; /* 16 = not quantized */
    int group_size;             /* 0 = unknown / not grouped */
    char *settings_json;        /* owned JSON object text, or NULL */
    struct results_ppl *ppl;    /* (n_ppl) owned */
    int n_ppl;
    struct results_bench *bench; /* (n_bench) owned */
    int n_bench;
    double memory_gb;           /* NAN when unknown */
    double speed;               /* tokens/s, NAN when unknown */
    char source[2048];          /* provenance (files, tables) */
};

struct results_store {
    char source[1024];
    char citation[1024];
    char *notes_json;        /* owned JSON array of strings, or NULL */
    struct results_entry *e; /* (n) owned */
    int n, cap;
};

/* --- entries -------------------------------------------------------- */
/* Zero, bits 16/16/16, group 0, memory/speed NAN. */
void results_entry_init(struct results_entry *e);
void results_entry_free(struct results_entry *e);
/* Deep copy (dst is initialised by the call). */
int results_entry_copy(struct results_entry *dst, const struct results_entry *src,
                       struct qerr *err);
/* Add or replace one perplexity / benchmark value (se may be NAN). */
int results_entry_set_ppl(struct results_entry *e, const char *dataset,
                          double value, double se, struct qerr *err);
int results_entry_set_bench(struct results_entry *e, const char *name,
                            double value, const char *metric, const char *unit,
                            double se, struct qerr *err);
/* Replace the settings object with JSON text (must be an object). */
int results_entry_set_settings(struct results_entry *e, const char *json,
                               struct qerr *err);
/* Look ups: NULL when absent. */
const struct results_ppl *results_entry_ppl(const struct results_entry *e,
                                            const char *dataset);
const struct results_bench *results_entry_bench(const struct results_entry *e,
                                                const char *name);
/* Mean perplexity over the datasets the entry has; NAN when none. */
double results_ppl_mean(const struct results_entry *e);
/* A numeric field by name: "ppl_mean", "ppl.<dataset>", "<benchmark>" or
 * "bench.<benchmark>", "memory_gb", "speed", "bits" (= w), "w", "a", "kv",
 * "group_size".  NAN when the entry lacks it. */
double results_entry_value(const struct results_entry *e, const char *field);
/* Does the entry pass the rules results_load checks (bits 1..64, a model
 * name, finite numbers, stderr >= 0, known units, ...)?  QERR_FORMAT with
 * "NAME: entry 'ID'.bits.w: must be in 1..64 (found 100)" when not. */
int results_entry_check(const struct results_entry *e, const char *name, struct qerr *err);
/* "model|method|w4a16kv16|g128" in lower case: the join key, into buf. */
void results_join_key(const struct results_entry *e, char *buf, size_t n);
/* A default id "model/method/w4a16kv16[/g128]" written into buf. */
void results_default_id(const struct results_entry *e, char *buf, size_t n);

/* --- stores --------------------------------------------------------- */
void results_store_init(struct results_store *s);
void results_store_free(struct results_store *s);
/* Parse a store from text; `name` names it in messages.  Appends to s
 * (s must be initialised); an id already in s is a duplicate error. */
int results_parse(struct results_store *s, const char *text, const char *name,
                  struct qerr *err);
/* Read and parse a store file (appends, as results_parse). */
int results_load(struct results_store *s, const char *path, struct qerr *err);
/* Write atomically: temp file in the same directory, fsync, rename, fsync
 * the directory.  On failure the old file is left as it was. */
int results_save(const struct results_store *s, const char *path,
                 struct qerr *err);
/* Serialise read-modify-write cycles on a store file between processes:
 * an exclusive flock on the directory holding path (no lock file is left
 * behind).  Returns a descriptor for results_unlock, or a negative QERR_*. */
int results_lock(const char *path, struct qerr *err);
void results_unlock(int fd);
/* The store as JSON text (malloc'd, caller frees), NULL on no memory. */
char *results_to_json(const struct results_store *s);
/* Append a deep copy of e; a duplicate id is QERR_ARG.  An empty id gets
 * results_default_id(). */
int results_add_entry(struct results_store *s, const struct results_entry *e,
                      struct qerr *err);
/* As results_add_entry, but an entry with the same id is replaced. */
int results_put_entry(struct results_store *s, const struct results_entry *e,
                      struct qerr *err);
/* Index of the entry with this id, or -1. */
int results_find(const struct results_store *s, const char *id);
/* Index of the first entry with the same join key as e, or -1. */
int results_find_key(const struct results_store *s, const struct results_entry *e);
/* Combine src into dst (same join key): perplexities and benchmarks that
 * dst lacks are added; memory/speed/group/settings fill gaps.  A value both
 * have with a different number is QERR_FORMAT (conflicting data) unless
 * `replace` (src wins). */
int results_join_into(struct results_entry *dst, const struct results_entry *src,
                      int replace, struct qerr *err);

/* How results_merge treats an id present in both stores. */
enum results_merge_mode {
    RESULTS_MERGE_STRICT = 0, /* same id: QERR_FORMAT unless the entries are equal */
    RESULTS_MERGE_REPLACE,    /* same id: the later entry wins                */
    RESULTS_MERGE_JOIN,       /* same join key: results_join_into (no replace)*/
};
/* Merge src into dst. *n_added / *n_joined (may be NULL) count entries. */
int results_merge(struct results_store *dst, const struct results_store *src,
                  enum results_merge_mode mode, int *n_added, int *n_joined,
                  struct qerr *err);

/* --- imports (analysis/results_import.c) ---------------------------- */
/* What the file lacks: model/method/bits/group to give imported entries
 * (empty strings / 0 = take from the file or use defaults). */
struct results_import_opts {
    const char *model;  /* override the model name */
    const char *method; /* default "none" */
    int w_bits, a_bits, kv_bits; /* 0 = 16 */
    int group_size;
    const char *id;     /* override the id (single-entry imports) */
};
/* Detect the kind of JSON file and append its entries to s:
 * a qlens-results store, an lm-evaluation-harness results file, a
 * `qlens ppl --json` output, a `qlens quant --json` output (the quantized
 * entry plus MODEL/float), or an array of such.  *kind (may be NULL) gets
 * "store", "lm-eval", "qlens-ppl" or "qlens-quant". */
int results_import(struct results_store *s, const char *path,
                   const struct results_import_opts *o, const char **kind,
                   struct qerr *err);
int results_import_text(struct results_store *s, const char *text,
                        const char *name, const struct results_import_opts *o,
                        const char **kind, struct qerr *err);

/* The label of a model or text path in entries: its basename without a
 * trailing '/' and without a .bin/.gguf/.safetensors/.txt extension (so
 * "Qwen2-0.5B/" stays "Qwen2-0.5B").  Every writer and importer uses it, so
 * their entries join. */
void results_label(const char *path, char *out, size_t n);

/* Load every *.json file of folder dir (file-name order, at most 64) into
 * s; a duplicate id with different values is an error.  The files'
 * source and citation texts are joined with " | " (results_dir.c). */
int results_load_dir(struct results_store *s, const char *dir, struct qerr *err);
/* A CSV field: quoted, inner quotes doubled (RFC 4180). */
void results_csv_field(FILE *f, const char *s);
/* Append text add to dst (capacity n) with " | " unless already there. */
void results_append_meta(char *dst, size_t n, const char *add);

#endif
