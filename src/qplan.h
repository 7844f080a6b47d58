/* qplan: a per-tensor quantization plan (the spec file `qlens plan
 * --spec-out` writes), read, checked against a model and applied.  The one
 * code path `qlens quant --plan` and `qlens plan --measure/--eval` share.
 *
 * File format (text, one entry a line):
 *
 *   # comment                      blank lines and '#' lines are ignored
 *   blk.3.attn_q=rtn:3:32          TENSOR=CANDIDATE
 *   blk.3.ffn_down.weight=q4_k     the GGUF name (".weight") is accepted
 *   *=rtn:4:row                    optional: every linear not named above
 *
 * TENSOR is a block linear (attn_q/k/v/output, ffn_gate/up/down) by its
 * canonical name (src/model.h).  CANDIDATE is `method[:bits[:group]]` with
 * group a size, `row` or `tensor` (the method's defaults for what is left
 * out), a llama.cpp type (q4_k, q8_0, ...), or `float` (keep the tensor
 * float).  Whitespace around names is ignored.
 *
 * Checks: syntax errors name FILE:LINE (a line without '=', an empty name,
 * a bad candidate with the candidate's own message, a tensor named twice,
 * a line over QPLAN_LINE_MAX bytes, a NUL byte).  Binding to a model
 * (qplan_bind) names FILE:LINE for a tensor that is not a block linear of
 * the model, and refuses a spec that leaves a linear tensor of the model
 * without an entry and has no '*' line ("a spec for another model?"), so a
 * spec for a model with more or fewer blocks is an error, never a silent
 * partial plan.
 *
 * Pure of printing; files read through analysis/afile. */
#ifndef QLENS_QPLAN_H
#define QLENS_QPLAN_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "quant/quant.h"
#include "src/model.h"

#define QPLAN_LABEL_MAX 64
#define QPLAN_LINE_MAX 1024
#define QPLAN_N_ROLES 7

/* One candidate: its label as written and its spec (is_float: none). */
struct qplan_cand {
    char label[QPLAN_LABEL_MAX];
    struct quant_spec spec;
    int is_float;                /* "float": the tensor stays float      */
};

struct qplan_line {
    char tensor[QM_NAME_MAX];    /* canonical name, or "*"               */
    struct qplan_cand c;
    int line;                    /* 1-based line in the file             */
};

struct qplan {
    char path[512];              /* file name, for messages              */
    struct qplan_line *l;        /* (n) in file order                    */
    int n;
    int def;                     /* index of the '*' line, or -1         */
    /* after qplan_bind: the candidate of each block linear, NULL = float */
    const struct qplan_cand **slot; /* (n_layers, QPLAN_N_ROLES)         */
    int n_layers;
    int n_bound;                 /* linears of the model with a candidate */
};

/* "method[:bits[:group]]", a ggml type, or "float".  Errors name the
 * candidate. */
int qplan_parse_cand(const char *text, struct qplan_cand *c, struct qerr *err);

/* Parse the text of a spec file (name for messages); p is valid for
 * qplan_free on success and failure alike. */
int qplan_parse(struct qplan *p, const char *text, size_t n, const char *name,
                struct qerr *err);
/* A plan from n (tensor, candidate label) pairs, through the same parser
 * (so a plan built in memory applies exactly as its spec file would). */
int qplan_from_pairs(struct qplan *p, const char *const *tensors, const char *const *labels,
                     int n, const char *name, struct qerr *err);
/* Read and parse a file. */
int qplan_read(struct qplan *p, const char *path, struct qerr *err);
void qplan_free(struct qplan *p);

/* Resolve every line against m's block linears (see above). */
int qplan_bind(struct qplan *p, struct qmodel *m, struct qerr *err);

/* The role index of a block linear (0..QPLAN_N_ROLES-1), -1 otherwise. */
int qplan_role_index(enum qrole r);
/* After bind: the candidate of (layer, role), NULL = float. */
const struct qplan_cand *qplan_get(const struct qplan *p, int layer, enum qrole role);
/* The same as a quant_spec, for qrun_opts.spec_of (ud = the plan). */
const struct quant_spec *qplan_spec_of(void *ud, int layer, enum qrole role);
/* The needs_calib bits of the bound candidates (before qplan_bind: of
 * every line). */
int qplan_needs_calib(const struct qplan *p);
/* A bound candidate that is not float, for qrun_opts.spec (NULL: none). */
const struct quant_spec *qplan_any_spec(const struct qplan *p);

/* "blk.0.attn_q=rtn:3:32,blk.0.attn_k=..." of the bound plan in model
 * order (malloc'd; NULL when out of memory). */
char *qplan_tensor_types(const struct qplan *p, const struct qmodel *m);
/* "rtn:3:row x17, rtn:4:row x3, ..." (how many tensors take each
 * candidate, most used first) into buf. */
void qplan_summary(const struct qplan *p, char *buf, size_t n);

#endif
