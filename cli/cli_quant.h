/* cli_quant: what `qlens quant` and `qlens sweep` share: the evaluation
 * options, opening the model and the two texts, and running one
 * quantization configuration against the float baseline. */
#ifndef QLENS_CLI_QUANT_H
#define QLENS_CLI_QUANT_H

#include <stddef.h>

#include "cli/cli_infer.h"
#include "src/pipeline.h"
#include "src/forward.h"
#include "src/ppl.h"
#include "src/imatrix.h"
#include "src/qrun.h"

/* Options common to quant and sweep (-1 = default). */
struct qcli_opts {
    const char *cmd;               /* "quant" / "sweep" for messages     */
    const char *model, *calib, *eval;
    long ctx, chunks, calib_ctx, calib_chunks;
    long act_group, kv_group;
    int kv_axis_channel;
    int sequential;                /* 1 default; --per-block sets 0      */
    int out_err;                   /* per-tensor layer-output error
                                      (--layers / --json of quant)       */
    int quant_output, quant_embed, force_ctx, json, allow_overlap;
    double mem_budget;             /* --mem-budget SIZE in bytes; 0: the
                                      machine's available memory          */
    int progress;                  /* --progress: progress lines on stderr
                                      even when it is not a terminal      */
    const char *imatrix;           /* --imatrix FILE (ggml-type methods)  */
    const char *kl_base;           /* --kl-divergence-base FILE (llama.cpp
                                      logits: chunks + float baseline)   */
    int need_calib;                /* read the calibration text (default 1;
                                      0 for RTN / float-weight runs)      */
    int resident;                  /* --resident: the whole quantized model
                                      held as floats, whole passes after
                                      the last block (pipe_opts.resident) */
    int stream;                    /* --stream: the evaluation streamed
                                      through the block loop even where
                                      holding the model would take less  */
    long kl_cache_mib;             /* keep the float baseline's logits for
                                      KL runs when they fit (MiB; 0 = off,
                                      recompute them for every run)       */
};

void qcli_opts_default(struct qcli_opts *o, const char *cmd);
/* A configuration's name: the weight spec (quant_spec_format) or "float"
 * for bits >= 16, then " aA" and " kvK" ("-channel" for K per channel)
 * when activations / KV are quantized.  Sweep ids are MODEL/<this>, and
 * `qlens quant --json` prints it as "spec", so imports of both join. */
void qcli_config_label(const struct quant_spec *spec, int act_bits, int kv_bits, int kv_channel,
                       char *buf, size_t n);
/* If argv[*i] is a common option, consume it (and its value) and return 1;
 * 0 when it is not one; -1 (usage message printed) on a bad value. */
int qcli_parse_common(struct qcli_opts *o, int argc, char **argv, int *i);
/* The help text of the common options. */
extern const char qcli_common_help[];

/* The pipeline's settings (src/pipeline.h) for these options. */
void qcli_pipe_opts(const struct qcli_opts *o, struct pipe_opts *p);

/* The pipeline (src/pipeline.h) with these options, the CLI's progress
 * lines on a terminal, and Ctrl-C as cancel.
 * Open the model, read and tokenize both texts, check they do not overlap,
 * prepare the forward pass. */
int qcli_setup(struct pipe_env *e, const struct qcli_opts *o, struct qerr *err);
void qcli_teardown(struct pipe_env *e);

/* Quantize with spec (+ act/kv bits), evaluate against the float model
 * (KL mode), leave the model without overrides. */
int qcli_run(struct pipe_env *e, const struct qcli_opts *o, const struct quant_spec *spec,
             int act_bits, int kv_bits, struct pipe_result *res, struct qerr *err);
void qcli_result_free(struct pipe_result *res);
/* pipe_check_memory with these options (a sweep's first check). */
int qcli_check_memory(const struct pipe_env *e, const struct qcli_opts *o, int quantized,
                      int calibrated, int kl_cache, struct qerr *err);
/* The same with a per-tensor plan bound to the env's model (pipe_run_plan). */
int qcli_run_plan(struct pipe_env *e, const struct qcli_opts *o, const struct qplan *plan,
                  struct pipe_result *res, struct qerr *err);
/* Float perplexity only (the baseline row of a sweep).  Also keeps the
 * float logits for the qcli_run calls that follow when they fit in
 * o->kl_cache_mib, so those skip the float forward pass. */
int qcli_run_float(struct pipe_env *e, const struct qcli_opts *o, struct ppl_result *pr,
                   struct qerr *err);

/* Evaluate the model as it is (overrides installed by the caller) against
 * the float model: KL mode, as qcli_run's evaluation. */
int qcli_eval_current(struct pipe_env *e, const struct qcli_opts *o, struct ppl_result *pr,
                      struct qerr *err);
/* Is an evaluation of overrides made block by block streamed (the
 * tensors outside the blocks counted as quantized)?  pipe_streams. */
int qcli_streams(const struct pipe_env *e, const struct qcli_opts *o);
/* The same with the overrides made block by block by make (the
 * evaluation streamed through them: pipe_eval_blocks). */
int qcli_eval_blocks(struct pipe_env *e, const struct qcli_opts *o,
                     int (*make)(void *ud, int layer, struct qerr *err), void *ud,
                     struct ppl_result *pr, struct qerr *err);


/* The configuration options of `qlens quant` (also `qlens divergence`). */
struct quant_args {
    struct qcli_opts c;
    const char *method, *opts, *save;
    long bits, act_bits, kv_bits;
    int group, group_set, sym, layers;
};
/* --method, --bits, --group, --asym/--sym, --opt, --act-bits, --kv-bits,
 * --save-gguf, --layers: consume argv[*i] (and its value) and return 1; 0
 * when it is none of them; -1 (usage message printed) on a bad value.
 * Start from a zeroed struct with bits, act_bits, kv_bits and sym -1. */
int qcli_quant_opt(struct quant_args *a, int argc, char **argv, int *i);
/* The spec those options give (bits 16 = weights float). */
int qcli_make_spec(const struct quant_args *a, struct quant_spec *spec, struct qerr *err);

/* src/cli_qmix.c: `qlens quant` with a llama-quantize preset, --pure,
 * --tensor-type, --imatrix or --export (per-tensor ggml types). */
int qmix_cli_wants(int argc, char **argv);
extern const char qmix_cli_help[];
int cmd_quant_mix(int argc, char **argv);
/* Another command on a preset (qlens divergence): parse argv as quant's
 * preset form under the name cmd (--no-eval, --export, --layers refused),
 * open the session, plan and apply the mix (overrides installed), call
 * fn (label = the preset's llama-quantize name, bpw = mean bits per
 * quantized value) and tear down.  Returns the exit code. */
typedef int (*qmix_cli_fn)(struct pipe_env *e, const struct qcli_opts *c, const char *label,
                           double bpw, void *ud, struct qerr *err);
int qmix_cli_with(int argc, char **argv, const char *cmd, qmix_cli_fn fn, void *ud);

/* cli/cli_quant_plan.c: `qlens quant --plan SPEC` (a per-tensor plan,
 * src/qplan.h), with --export / --save-gguf. */
int qplan_cli_wants(int argc, char **argv);
extern const char qplan_cli_help[];
int cmd_quant_plan(int argc, char **argv);

#endif
