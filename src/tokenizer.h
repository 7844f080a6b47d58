/* tokenizer: text <-> token ids, bit-for-bit as llama.cpp tokenizes.
 *
 * Three vocabulary kinds share one struct:
 *   SPM  SentencePiece-style (llama2.c tokenizer.bin, GGUF "llama"):
 *        a space is prepended, spaces become U+2581, then adjacent pieces
 *        merge greedily by highest score (a priority queue, O(n log n)),
 *        with byte fallback <0xNN> for characters not in the vocabulary.
 *   BPE  byte-level BPE (GGUF "gpt2", HF tokenizer.json model.type BPE):
 *        the text is split by the pre-tokenizer of the model type (gpt-2,
 *        llama3/llama-bpe, qwen2, o200k, deepseek-v3), every byte maps to a
 *        printable code point (GPT-2's bytes_to_unicode), then pairs merge
 *        by lowest merge rank.
 *
 * A tokenizer.json is applied as Hugging Face does by default (every added
 * token split out first, then per section the normalizer, pre-tokenizer
 * and model); in llama.cpp compat mode as llama.cpp does with the GGUF
 * converted from it (see tok_mode).
 *
 * All functions are thread-safe on a const tokenizer. */
#ifndef QLENS_TOKENIZER_H
#define QLENS_TOKENIZER_H

#include <stddef.h>

#include "analysis/qerr.h"

struct tokenizer;
struct qmodel;
struct gguf_file;

enum tok_kind { TOK_SPM = 0, TOK_BPE };

/* The tokenizer that belongs to a loaded model: m->gguf's vocabulary for
 * GGUF, m->tokenizer_path (tokenizer.bin for llama2.c, tokenizer.json for
 * safetensors) otherwise. */
int tok_load_for_model(struct tokenizer **out, const struct qmodel *m, struct qerr *err);
/* llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score,
 * int32 len, len bytes.  vocab_size <= 0 reads tokens until end of file. */
int tok_load_llama2c(struct tokenizer **out, const char *path, int vocab_size, struct qerr *err);
int tok_load_gguf(struct tokenizer **out, const struct gguf_file *g, struct qerr *err);
int tok_load_hf_json(struct tokenizer **out, const char *path, struct qerr *err);
/* A standalone tokenizer file: .json (HF), a GGUF (vocabulary only; no
 * tensors needed, e.g. llama.cpp's ggml-vocab-*.gguf), else llama2.c .bin. */
int tok_load_file(struct tokenizer **out, const char *path, struct qerr *err);
void tok_free(struct tokenizer *t);

/* Encode `len` bytes of UTF-8 text; invalid UTF-8 -> QERR_FORMAT naming the
 * byte offset.  *ids is malloc'd (free it); *n_ids may be 0 for empty text
 * without BOS. */
int tok_encode(const struct tokenizer *t, const char *text, size_t len, int add_bos,
               int **ids, size_t *n_ids, struct qerr *err);

/* Raw vocabulary string of `id` ("" when out of range). */
const char *tok_piece(const struct tokenizer *t, int id);
/* The piece's SentencePiece score and llama.cpp token type (GGUF
 * tokenizer.ggml.scores / token_type: 1 normal, 2 unknown, 3 control,
 * 4 user-defined, 6 byte); 0 for an id out of range. */
float tok_score(const struct tokenizer *t, int id);
int tok_type(const struct tokenizer *t, int id);
/* Decoded bytes of `id` written to buf (up to cap bytes, not NUL-terminated
 * unless room remains); returns the full decoded length (cap 0 with buf
 * NULL just measures).  SPM: U+2581 ->
 * space, and the leading space is stripped right after BOS (prev == BOS);
 * <0xNN> -> the byte.  BPE: code points mapped back to bytes.  Control
 * tokens (BOS/EOS) decode to nothing. */
size_t tok_decode(const struct tokenizer *t, int prev, int id, char *buf, size_t cap);

int tok_bos(const struct tokenizer *t);        /* -1 when none */
int tok_eos(const struct tokenizer *t);        /* -1 when none */
int tok_vocab_size(const struct tokenizer *t);
enum tok_kind tok_kind(const struct tokenizer *t);
/* "spm", "bpe/gpt2", "bpe/llama3", "bpe/qwen2", "bpe/o200k", ... */
const char *tok_name(const struct tokenizer *t);
/* Does the tokenizer want BOS by default (GGUF add_bos_token; SPM: yes). */
int tok_add_bos_default(const struct tokenizer *t);

/* What was identified: the family ("llama3", "qwen2", "o200k",
 * "deepseek-v3", "gpt-2", "llama2", "gemma", "metaspace"; for GGUF and
 * llama2.c files "spm" or the GGUF pre name), the pre-tokenizer steps and
 * the normalizer steps ("none"). */
const char *tok_family(const struct tokenizer *t);
const char *tok_pretok_desc(const struct tokenizer *t);
const char *tok_normalizer_desc(const struct tokenizer *t);
/* "huggingface" (a tokenizer.json applied as the transformers tokenizers
 * do: normalizer, every added token split out) or "llama.cpp" (GGUF and
 * llama2.c files always; a tokenizer.json in compat mode: no Unicode
 * normalizer or Lowercase, special tokens are plain text, user-defined
 * ones cut out longest first).  A tokenizer.json starts in the mode the
 * environment asks for (QLENS_TOKENIZER=llamacpp), else huggingface. */
const char *tok_mode(const struct tokenizer *t);
void tok_set_llamacpp_compat(struct tokenizer *t, int on);

#endif
