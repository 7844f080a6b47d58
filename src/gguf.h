/* gguf: parser for GGUF v2/v3 files (header, metadata, tensor infos).
 *
 * The parser works on a byte range already mapped in memory and never reads
 * outside it: every count, string length, array length and offset is checked
 * against the bytes left before use, and an error names the file, the byte
 * offset and the field.  Strings point into the mapping (not NUL-terminated).
 *
 * Layout (little endian):  magic "GGUF" u32 | version u32 | n_tensors u64 |
 * n_kv u64 | n_kv x (key str, type u32, value) | n_tensors x (name str,
 * n_dims u32, ne[n_dims] u64, ggml_type u32, offset u64) | pad to alignment
 * | tensor data.   str = u64 len + bytes.   (v1 used u32 counts: rejected.) */
#ifndef QLENS_GGUF_H
#define QLENS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/qerr.h"

enum gguf_vtype {
    GGUF_T_U8 = 0, GGUF_T_I8 = 1, GGUF_T_U16 = 2, GGUF_T_I16 = 3,
    GGUF_T_U32 = 4, GGUF_T_I32 = 5, GGUF_T_F32 = 6, GGUF_T_BOOL = 7,
    GGUF_T_STRING = 8, GGUF_T_ARRAY = 9, GGUF_T_U64 = 10, GGUF_T_I64 = 11,
    GGUF_T_F64 = 12, GGUF_T__COUNT
};

/* ggml tensor types that matter here; anything else is "not supported". */
enum { GGML_T_F32 = 0, GGML_T_F16 = 1, GGML_T_BF16 = 30 };

struct gguf_str {
    uint64_t len;
    const char *ptr;      /* into the mapping, not NUL-terminated */
};

struct gguf_kv {
    struct gguf_str key;
    enum gguf_vtype type;
    /* scalars (type != ARRAY): the value widened */
    union {
        uint64_t u;
        int64_t i;
        double f;
        struct gguf_str s;
    } v;
    /* arrays: element type, count, and the first element's bytes.  For
     * string arrays `arr_strs` holds all n entries (owned). */
    enum gguf_vtype arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;
    struct gguf_str *arr_strs;
    uint64_t file_offset; /* where this kv starts, for messages */
};

struct gguf_tinfo {
    struct gguf_str name;
    uint32_t n_dims;
    uint64_t ne[4];       /* innermost first (ggml order) */
    uint32_t ggml_type;
    uint64_t offset;      /* relative to data_offset */
    uint64_t file_offset; /* where this info starts, for messages */
};

struct gguf_file {
    const char *path;     /* for messages (not owned) */
    const uint8_t *base;
    size_t size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    struct gguf_kv *kv;
    struct gguf_tinfo *tinfo;
    uint64_t alignment;   /* general.alignment, default 32 */
    uint64_t data_offset; /* absolute offset of the tensor data section */
};

/* Parse `size` bytes at `base`.  On error returns <0 with a message like
 * "model.gguf: offset 1234: metadata key 7 (tokenizer.ggml.tokens): string
 * length 9999999 runs past end of file (size 1185376)". */
int gguf_parse(struct gguf_file *g, const char *path, const void *base,
               size_t size, struct qerr *err);
void gguf_free(struct gguf_file *g);

const struct gguf_kv *gguf_find(const struct gguf_file *g, const char *key);
/* Typed getters: return 0 and set *out when the key exists with a
 * compatible type (any integer type for ints), else <0 (out untouched). */
int gguf_get_int(const struct gguf_file *g, const char *key, int64_t *out);
int gguf_get_float(const struct gguf_file *g, const char *key, double *out);
int gguf_get_str(const struct gguf_file *g, const char *key, struct gguf_str *out);
/* Copy a gguf_str into a NUL-terminated buffer (truncating). */
void gguf_str_copy(struct gguf_str s, char *buf, size_t cap);
int gguf_str_eq(struct gguf_str s, const char *c);

const char *gguf_vtype_name(enum gguf_vtype t);
/* Bytes of a scalar of type t; 0 for string, array and unknown types. */
size_t gguf_vtype_size(enum gguf_vtype t);
const char *ggml_type_name(uint32_t t);   /* "q4_K", ... or "type 123" */

#endif
