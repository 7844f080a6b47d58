/* gguf_write: build and save GGUF v2/v3 files.
 *
 * A small builder: add metadata and tensors in the order they should appear,
 * then save.  The add functions never fail loudly: the first problem (bad
 * argument, out of memory) is remembered and gguf_writer_save reports it, so
 * a caller can chain adds and check once.  Tensor data is BORROWED (or
 * produced by a callback at save time) and is converted to the requested
 * ggml type while writing, one tensor at a time, so a large model is never
 * held twice in memory.
 *
 * Saving is atomic: the file is written to a temporary name in the target's
 * directory, fsync'ed, then renamed over the target.
 *
 *   struct gguf_writer *w = gguf_writer_new(3);
 *   gguf_writer_add_str(w, "general.architecture", "llama");
 *   gguf_writer_add_u32(w, "llama.block_count", 2);
 *   gguf_writer_add_tensor(w, "token_embd.weight", GGML_T_F16, 2, shape, data);
 *   int rc = gguf_writer_save(w, "out.gguf", &err);
 *   gguf_writer_free(w); */
#ifndef QLENS_GGUF_WRITE_H
#define QLENS_GGUF_WRITE_H

#include <stdint.h>

#include "analysis/qerr.h"
#include "src/gguf.h"

struct gguf_writer;
struct qmodel;

/* version: 2 or 3 (the layouts are identical for little-endian files). */
struct gguf_writer *gguf_writer_new(uint32_t version);
void gguf_writer_free(struct gguf_writer *w);

/* Tensor data alignment (power of two); writes general.alignment when it
 * differs from the default 32.  Call before adding tensors. */
int gguf_writer_set_alignment(struct gguf_writer *w, uint32_t alignment);

int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *val);
int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v);
int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v);
int gguf_writer_add_bool(struct gguf_writer *w, const char *key, int v);
/* Any scalar type except STRING/ARRAY; `value` points at that type's
 * little-endian bytes (e.g. a uint16_t for GGUF_T_U16). */
int gguf_writer_add_scalar(struct gguf_writer *w, const char *key, enum gguf_vtype t,
                           const void *value);
/* Array of numbers or bools: n elements of type et, packed. */
int gguf_writer_add_array(struct gguf_writer *w, const char *key, enum gguf_vtype et,
                          const void *elems, uint64_t n);
/* Array of NUL-terminated strings. */
int gguf_writer_add_str_array(struct gguf_writer *w, const char *key, const char *const *strs,
                              uint64_t n);
/* Copy one parsed key/value (any type, arrays included) from another file. */
int gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_kv *kv);

/* Tensors.  shape is OUTERMOST first (as in struct qtensor); the file gets
 * ggml's innermost-first ne[].  ggml_type: GGML_T_F32, GGML_T_F16 or
 * GGML_T_BF16.  `data` (nelem floats) must stay valid until save. */
int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t ggml_type,
                           int ndim, const int64_t *shape, const float *data);
/* Same, with the floats produced at save time by fill(ctx, dst, nelem)
 * (returns 0, or <0 to abort the save). */
typedef int (*gguf_fill_fn)(void *ctx, float *dst, int64_t nelem);
int gguf_writer_add_tensor_fill(struct gguf_writer *w, const char *name, uint32_t ggml_type,
                                int ndim, const int64_t *shape, gguf_fill_fn fill, void *ctx);
/* Raw bytes of any ggml type (for tests of quantized / unknown types):
 * written as they are; nbytes is not checked against the type. */
int gguf_writer_add_tensor_raw(struct gguf_writer *w, const char *name, uint32_t ggml_type,
                               int ndim, const int64_t *shape, const void *bytes, uint64_t nbytes);

/* Blocks of any ggml type produced at save time: fill(ctx, dst, nbytes)
 * writes exactly nbytes (returns 0, or <0 to abort the save, with a message
 * in the qerr it is given).  nbytes must equal the type's row size times
 * the rows (ggt_row_size) for every type qlens knows; a mismatch is
 * remembered as an error naming the tensor. */
typedef int (*gguf_fill_bytes_fn)(void *ctx, void *dst, uint64_t nbytes, struct qerr *err);
int gguf_writer_add_tensor_bytes(struct gguf_writer *w, const char *name, uint32_t ggml_type,
                                 int ndim, const int64_t *shape, uint64_t nbytes,
                                 gguf_fill_bytes_fn fill, void *ctx);

/* Write everything to `path` atomically.  Returns 0 or <0 with err set
 * (including any error remembered from the add calls). */
int gguf_writer_save(struct gguf_writer *w, const char *path, struct qerr *err);

/* Write model `m` as a llama-architecture GGUF with F32 tensors that
 * llama.cpp can read.  use_overrides: write the override (e.g. quantized
 * then dequantized) weights where set.  Q/K rows of a rotate-half
 * (safetensors) model are permuted to the interleaved layout GGUF uses.
 * All tokenizer.* keys of a GGUF source are copied. */
int gguf_write_model(struct qmodel *m, const char *path, int use_overrides, struct qerr *err);

/* The metadata of an export of model `m` with general.file_type =
 * file_type (a llama_ftype) and general.quantization_version: a GGUF
 * source's key/values copied in order (the tokenizer included), as
 * llama-quantize does; else the llama config and tokenizer that
 * gguf_write_model writes. */
#define GGUF_QNT_VERSION 2   /* ggml's GGML_QNT_VERSION */
int gguf_writer_add_model_meta(struct gguf_writer *w, const struct qmodel *m, uint32_t file_type,
                               struct qerr *err);
/* The name tensor t gets in an export ("blk.0.attn_q.weight", biases
 * ".bias", a GGUF source's own name for other tensors); 0 when the tensor
 * is not exported (e.g. HF rotary buffers). */
struct qtensor;
int gguf_export_name(const struct qmodel *m, const struct qtensor *t, char *out, size_t cap);

/* Rotate-half (HF) row order -> interleaved (GGUF/llama2.c) row order for a
 * Q or K weight (rows = n_head*head_dim, `cols` floats per row; a bias has
 * cols = 1), as llama.cpp's convert_hf_to_gguf.py permute() does:
 * out row h*hd + 2i + j = in row h*hd + j*hd/2 + i.  src != dst. */
void gguf_permute_qk(const float *src, float *dst, int n_head, int head_dim, int64_t cols);
/* The inverse: interleaved -> rotate-half. */
void gguf_unpermute_qk(const float *src, float *dst, int n_head, int head_dim, int64_t cols);

#endif
