/* qlens entry point: dispatch on the first word through cli_commands[]. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "ui/demo.h"
#include "ui/tui.h"

static int cmd_demo(int argc, char **argv);

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
    {"report", "[MODEL] --out FILE [--runs FILE] [--results FILE]... [--calib T] [--format html|md]", "HTML report (or Markdown + SVG): statistics, outlier maps, runs, correlation", cmd_report},
    {"demo", "[SCRIPT] [--model M] [--pace X]", "a captioned tour of the dashboard (built-in: stories260K's story)", cmd_demo},
    {"imatrix", "[MODEL] TEXT -o OUT [--ctx N] [--chunks N] | --show FILE", "llama.cpp importance matrix from a calibration pass (llama-imatrix's format)", cmd_imatrix},
    {"sensitivity", "[MODEL] --candidates q4_k,q3_k,... [--out FILE] [--json]", "per-tensor damage of each candidate: KL vs float, proxies, their Spearman rho", cmd_sensitivity},
    {"plan", "--sens FILE --target-bpw B [--measure] [--spec-out FILE] [--json]", "best candidate per tensor for a bits/weight budget (exact knapsack); llama-quantize args", cmd_plan},
    {NULL, NULL, NULL, NULL},
};

static const char demo_help[] =
    "usage: qlens demo [SCRIPT] [--model MODEL] [--pace X] [--print-script]\n\n"
    "Play a tour of the dashboard: each step drives the dashboard as a person\n"
    "would, with a caption at the bottom of the screen.  Without SCRIPT, the\n"
    "built-in tour of stories260K: the outlier-heavy layer, 2-bit GPTQ breaking\n"
    "the model, SpQR keeping its outliers (and their cost in bits/weight), the\n"
    "perplexity table and the correlation with benchmarks.  --pace X multiplies\n"
    "every hold time (0.1 = ten times faster).  While it plays: Space pauses,\n"
    "Right (or .) next step, Left (or ,) previous step, q quits.  Runs land in\n"
    "the session file as in the dashboard.  Script lines: see the README (Demo\n"
    "mode); --print-script prints the built-in one.\n";

/* qlens demo: arguments here (the one file that sees the CLI and ui/),
 * the tour itself in ui/demo.c and the dashboard. */
static int cmd_demo(int argc, char **argv)
{
    const char *script = NULL, *model = NULL;
    double pace = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            fputs(demo_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--print-script")) {
            fputs(demo_builtin, stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--model") && v) {
            model = argv[++i];
        } else if (!strcmp(a, "--pace") && v) {
            char *end;
            pace = strtod(argv[++i], &end);
            if (*end || !(pace >= 0 && pace <= 100))
                return cli_usage_error("demo", "--pace wants a number in 0..100, got '%s'", v);
        } else if (a[0] == '-' && a[1])
            return cli_usage_error("demo", "unknown option or missing value '%s'", a);
        else if (!script)
            script = a;
        else
            return cli_usage_error("demo", "too many arguments ('%s')", a);
    }
    struct qerr err = {0};
    struct demo d;
    if (demo_load(&d, script, &err))
        return cli_fail(&err);
    d.pace = pace;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        demo_free(&d);
        fprintf(stderr, "qlens demo: needs a terminal (it plays in the dashboard)\n");
        return EXIT_USAGE;
    }
    int rc = cli_exit_code(tui_demo(model, &d));
    demo_free(&d);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "qlens %s: see what quantization does to a language model\n\n"
               "usage: qlens [MODEL]            open MODEL (default: stories260K)\n"
               "       qlens --base FILE MODEL  the same, with error columns and map vs FILE\n"
               "       qlens --imatrix FILE [MODEL]  the same, with FILE in the Imatrix view\n"
               "       qlens COMMAND [ARGS]     run one headless command\n\n"
               "commands:\n", QLENS_VERSION);
    for (const struct cli_command *c = cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n'qlens COMMAND --help' describes one command.\n"
               "Exit codes: 0 ok, 1 bad or unsupported input, 2 bad usage, "
               "3 I/O error,\n4 internal or numerical failure, 130 interrupted.\n");
}

/* Whatever a command printed must have reached standard output: a full
 * disk or a closed pipe (write errors stdio only remembers) fails the run
 * with exit 3, here once for every command, instead of exit 0 with a
 * truncated or empty result. */
static int finish_stdout(int rc)
{
    errno = 0;
    int bad = ferror(stdout), e = errno;
    if (fflush(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad)
        return rc;
    fprintf(stderr, "qlens: standard output: write error: %s\n",
            e ? strerror(e) : "the output is incomplete");
    return rc == EXIT_OK ? EXIT_IO : rc;
}

/* qlens --base FILE [MODEL]: the dashboard with error columns against
 * FILE; off a terminal the same comparison as `qlens diff FILE MODEL`. */
static int main_base(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "qlens: usage: qlens --base FILE [MODEL]\n");
        return EXIT_USAGE;
    }
    if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        return cli_exit_code(tui_main_base(argc == 4 ? argv[3] : NULL, argv[2]));
    if (argc < 4) {
        fprintf(stderr, "qlens: --base without a terminal compares two files: "
                        "qlens --base FILE MODEL (or qlens diff FILE MODEL)\n");
        return EXIT_USAGE;
    }
    char *dargv[] = {"diff", argv[2], argv[3], NULL};
    return cmd_diff(3, dargv);
}

/* qlens --imatrix FILE [MODEL]: the dashboard with the importance matrix
 * in the Imatrix view; off a terminal the same as qlens imatrix --show. */
static int main_imatrix(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "qlens: usage: qlens --imatrix FILE [MODEL]\n");
        return EXIT_USAGE;
    }
    if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        return cli_exit_code(tui_main_imatrix(argc == 4 ? argv[3] : NULL, argv[2]));
    char *iargv[] = {"imatrix", "--show", argv[2], NULL};
    return cmd_imatrix(3, iargv);
}

static int run(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        usage(stdout);
        return EXIT_OK;
    }
    if (argc >= 2 && !strcmp(argv[1], "--print-keys")) /* hidden: README key list */
        return cli_exit_code(tui_print_keys(stdout));
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("qlens %s\n", QLENS_VERSION);
        return EXIT_OK;
    }
    if (argc >= 2 && !strcmp(argv[1], "--base"))
        return main_base(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "--imatrix"))
        return main_imatrix(argc, argv);
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
        return cli_exit_code(tui_main(argc >= 2 ? argv[1] : NULL)); /* the dashboard */
    return cmd_default(argc, argv);
}

int main(int argc, char **argv)
{
    return finish_stdout(run(argc, argv));
}
