/* Entry points of the CLI commands, one src/cli_<name>.c each. */
#ifndef QLENS_COMMANDS_H
#define QLENS_COMMANDS_H

int cmd_info(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_ppl(int argc, char **argv);
int cmd_acts(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_results(int argc, char **argv);
int cmd_correlate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_quant(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_imatrix(int argc, char **argv);
int cmd_sensitivity(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_divergence(int argc, char **argv);
/* Without a subcommand: the dashboard on a terminal, else the summary. */
int cmd_default(int argc, char **argv);

#include <stdio.h>
struct qmodel;
/* src/cli_info.c: the model summary lines (format, config, parameters). */
void info_print_summary(FILE *f, const struct qmodel *m);
/* src/cli_stats.c: `qlens [MODEL]` off a terminal: summary + stats table. */
int default_summary(const char *model_arg);

/* src/cli_acts.c: run the model over chunks of a text (ctx -1 = default,
 * as `qlens acts`) capturing activation / K/V statistics of every layer
 * and site into c (initialised here; calib_free it, also after an error). */
struct infer_model;
struct calib;
struct qerr;
int acts_collect(struct infer_model *im, const char *text, long ctx, int force_ctx, long chunks,
                 struct calib *c, int *n_ctx_out, int *chunks_out, struct qerr *err);

#endif
