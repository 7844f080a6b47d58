/* cli_infer: helpers shared by the inference commands (ppl, acts,
 * generate): open a model with its tokenizer, read and tokenize a text
 * file with clear errors, parse numeric options, SIGINT as a cancel flag. */
#ifndef QLENS_CLI_INFER_H
#define QLENS_CLI_INFER_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "src/model.h"

struct tokenizer;

struct infer_model {
    struct qmodel m;
    struct tokenizer *tok;
    int open;
};

/* Model (cli_model_path rules) and its tokenizer. */
int infer_open(struct infer_model *im, const char *model_arg, struct qerr *err);
void infer_close(struct infer_model *im);

/* Whole file; errors name the file: cannot read, empty, invalid UTF-8 (with
 * the byte offset).  *buf is NUL-terminated and malloc'd. */
int infer_read_text(const char *path, char **buf, size_t *len, struct qerr *err);
/* Read + tokenize, with BOS when the tokenizer adds one by default (GGUF
 * add_bos_token; SentencePiece: yes) -- llama.cpp's perplexity input. */
int infer_tokenize_file(const struct infer_model *im, const char *path, int **ids,
                        size_t *n_ids, struct qerr *err);

/* The id llama.cpp puts at the start of each chunk: BOS when the tokenizer
 * adds BOS by default, else -1 (chunks keep their first token). */
int infer_bos(const struct infer_model *im);

/* Byte offset of the first invalid UTF-8 sequence, or -1 when valid. */
long infer_utf8_invalid_at(const char *s, size_t n);

/* The model's context (GGUF context_length; 512 when it does not say). */
int infer_model_ctx(const struct infer_model *im);
/* *n_ctx = given when >= 0, else min(512, the model's context); beyond the
 * model's context only with force (as llama.cpp allows), else QERR_ARG
 * naming option opt. */
int infer_pick_ctx(const struct infer_model *im, const char *opt, long given, int force,
                   int *n_ctx, struct qerr *err);

/* Parse an integer option value in [lo, hi]; returns 0 or -1. */
int infer_parse_int(const char *s, long lo, long hi, long *out);
/* The same for option opt of command cmd: on a bad or missing value prints
 * "qlens CMD: OPT wants an integer in LO..HI, got 'VAL'" and returns -1. */
int infer_parse_opt(const char *cmd, const char *opt, const char *val, long lo, long hi,
                    long *out);

/* Run `chunks` chunks of n_ctx tokens from ids (first token of each set to
 * BOS when the tokenizer has one) through the model with c's hooks, for the
 * captures the caller selected; logits only for the last position.  `what`
 * names the command in messages; progress: a chunk counter on a terminal.
 * Ctrl-C gives QERR_CANCEL. */
struct calib;
int infer_capture(struct infer_model *im, int *ids, int n_ctx, int chunks, struct calib *c,
                  const char *what, int progress, struct qerr *err);

/* SIGINT sets *infer_cancel_flag() (first Ctrl-C cancels cleanly). */
void infer_catch_sigint(void);
volatile int *infer_cancel_flag(void);

#endif
