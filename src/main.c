/* qlens entry point: dispatch on the first word through cli_commands[]. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/cli.h"
#include "src/commands.h"
#include "ui/tui.h"

/* The one table of subcommands: `qlens --help` and dispatch loop over it. */
const struct cli_command cli_commands[] = {
    {"info", "[MODEL] [--json]", "model summary: format, architecture, shapes, dtypes, parameters", cmd_info},
    {"stats", "[MODEL] [--tensor REGEX] [--per-channel rows|cols] [--abs-thresh T] [--json|--csv]", "per-tensor / per-channel statistics", cmd_stats},
    {"ppl", "[MODEL] TEXT [--ctx N] [--chunks N] [--full] [--kl] [--json]", "perplexity as llama.cpp measures it; KL divergence vs float", cmd_ppl},
    {"acts", "[MODEL] TEXT [--ctx N] [--chunks N] [--json]", "activation and K/V statistics per layer over a text", cmd_acts},
    {"generate", "[MODEL] --prompt P [-n N] [--temp T] [--seed S]", "continue a prompt (greedy at temp 0)", cmd_generate},
    {"results", "list|show|import|merge|validate [--store FILE] [--where FILTER] [--json|--csv]", "stored benchmark/perplexity results: list, show, import lm-eval/qlens output, merge", cmd_results},
    {"correlate", "[--x FIELD] [--y METRIC|--all] [--where FILTER] [--store FILE] [--json|--csv]", "correlate perplexity with benchmark scores (Pearson, Spearman, p, CI)", cmd_correlate},
    {"tokenize", "[MODEL] TEXT [--file F] [--no-bos] [--decode] [--json]", "token ids and pieces of a text, exactly as llama.cpp tokenizes", cmd_tokenize},
    {"quant", "[MODEL] --method M --bits B [--group G] [--calib T] [--eval T] [--json]", "quantize every linear layer (layer by layer) and compare with float", cmd_quant},
    {"diff", "BASE OTHER [--tensor REGEX] [--json|--csv]", "per-tensor error (MSE, SQNR, max, rel. Frobenius) and bits/weight of OTHER vs BASE", cmd_diff},
    {"sweep", "[MODEL] --methods M,.. --bits B,.. --groups G,.. --out FILE.json [--csv F]", "grid of quantization runs into one results file", cmd_sweep},
    {"imatrix", "[MODEL] TEXT -o OUT [--ctx N] [--chunks N] | --show FILE", "llama.cpp importance matrix from a calibration pass (llama-imatrix's format)", cmd_imatrix},
    {NULL, NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "qlens %s: see what quantization does to a language model\n\n"
               "usage: qlens [MODEL]            open MODEL (default: stories260K)\n"
               "       qlens COMMAND [ARGS]     run one headless command\n\n"
               "commands:\n", QLENS_VERSION);
    for (const struct cli_command *c = cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n'qlens COMMAND --help' describes one command.\n"
               "Exit codes: 0 ok, 1 bad or unsupported input, 2 bad usage, "
               "3 I/O error,\n4 internal or numerical failure, 130 interrupted.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        usage(stdout);
        return EXIT_OK;
    }
    if (argc >= 2 && !strcmp(argv[1], "--print-keys")) /* hidden: README key list */
        return tui_print_keys(stdout);
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("qlens %s\n", QLENS_VERSION);
        return EXIT_OK;
    }
    if (argc >= 2) {
        for (const struct cli_command *c = cli_commands; c->name; c++)
            if (!strcmp(argv[1], c->name))
                return c->run(argc - 1, argv + 1);
        /* Not a command: a model path, or a mistyped command. */
        if (argv[1][0] == '-' ) {
            fprintf(stderr, "qlens: unknown option '%s'\n", argv[1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && argc <= 2)
        return tui_main(argc >= 2 ? argv[1] : NULL); /* the dashboard */
    return cmd_default(argc, argv);
}
