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
int cmd_imatrix(int argc, char **argv);
/* Without a subcommand: the dashboard on a terminal, else the summary. */
int cmd_default(int argc, char **argv);

#include <stdio.h>
struct qmodel;
/* src/cli_info.c: the model summary lines (format, config, parameters). */
void info_print_summary(FILE *f, const struct qmodel *m);
/* src/cli_stats.c: `qlens [MODEL]` off a terminal: summary + stats table. */
int default_summary(const char *model_arg);

#endif
