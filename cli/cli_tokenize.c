/* qlens tokenize: the token ids and pieces of a text, as the model's own
 * tokenizer (and llama.cpp) produces them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "src/model.h"
#include "src/tokenizer.h"

static const char tokenize_help[] =
    "usage: qlens tokenize [MODEL] TEXT [--no-bos|--bos] [--json] [--llamacpp-compat]\n"
    "       qlens tokenize [MODEL] --file F [--no-bos|--bos] [--json]\n"
    "       qlens tokenize [MODEL] --decode IDS [--json]\n\n"
    "Tokenize TEXT (or the file F; '-' reads stdin) exactly as llama.cpp does\n"
    "and print one \"id<TAB>piece\" line per token.  Pieces are the raw\n"
    "vocabulary strings with control bytes escaped (\\n, \\t, \\xNN, \\\\);\n"
    "SentencePiece marks a space as U+2581, GPT-2 byte-level BPE as U+0120.\n\n"
    "MODEL is a model (its tokenizer is used: GGUF vocabulary, tokenizer.bin\n"
    "or tokenizer.json beside it) or a tokenizer file itself (llama2.c\n"
    "tokenizer.bin, vocabulary-only .gguf, tokenizer.json).  It defaults to\n"
    "$QLENS_MODEL, else the bundled stories260K.\n\n"
    "  --file F   read the text from F instead of the command line\n"
    "  --no-bos   do not prepend BOS    --bos   prepend BOS\n"
    "             (default: what the vocabulary asks for; SentencePiece: yes)\n"
    "  --json     {\"tokenizer\":..,\"family\":..,\"pre_tokenizer\":..,\"normalizer\":..,\n"
    "             \"mode\":..,\"n_tokens\":N,\"ids\":[..],\"pieces\":[..]}\n"
    "  --llamacpp-compat  a tokenizer.json the way llama.cpp tokenizes the GGUF\n"
    "             converted from it: no Unicode normalizer (NFC, NFKC, ...) or\n"
    "             Lowercase, special-token text stays text (also\n"
    "             QLENS_TOKENIZER=llamacpp).  Default: as Hugging Face does\n"
    "  --decode   the other way: TEXT (or F) holds token ids (\"1 403 407\",\n"
    "             \"[1,403,407]\"); print the text they decode to (--json:\n"
    "             {\"text\":..}); the space SentencePiece puts after BOS is dropped\n";

struct tok_args {
    const char *model, *text, *file;
    int bos;              /* -1: vocabulary default */
    int json;
    int decode;           /* the text is a list of ids to turn into text */
    int compat;           /* --llamacpp-compat */
};

static int parse_args(int argc, char **argv, struct tok_args *a)
{
    const char *pos[3];
    int npos = 0;
    memset(a, 0, sizeof *a);
    a->bos = -1;
    int opts = 1;
    for (int i = 1; i < argc; i++) {
        if (opts && !strcmp(argv[i], "--")) {
            opts = 0;
        } else if (!opts || argv[i][0] != '-' || !argv[i][1]) {
            if (npos == 2)
                return cli_usage_error("tokenize", "too many arguments ('%s')", argv[i]);
            pos[npos++] = argv[i];
        } else if (!strcmp(argv[i], "--file")) {
            if (++i >= argc)
                return cli_usage_error("tokenize", "--file needs a path");
            a->file = argv[i];
        } else if (!strcmp(argv[i], "--no-bos")) {
            a->bos = 0;
        } else if (!strcmp(argv[i], "--bos")) {
            a->bos = 1;
        } else if (!strcmp(argv[i], "--json")) {
            a->json = 1;
        } else if (!strcmp(argv[i], "--decode")) {
            a->decode = 1;
        } else if (!strcmp(argv[i], "--llamacpp-compat")) {
            a->compat = 1;
        } else {
            return cli_usage_error("tokenize", "unknown option '%s'", argv[i]);
        }
    }
    int want_text = !a->file;
    if (npos < want_text)
        return cli_usage_error("tokenize", "no text given (TEXT or --file F)");
    if (npos > want_text + 1)
        return cli_usage_error("tokenize", "with --file, only MODEL may be given");
    a->model = npos > want_text ? pos[0] : NULL;
    a->text = want_text ? pos[npos - 1] : NULL;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int is_gguf(const char *path)
{
    char m[4] = {0};
    FILE *f = afile_fopen_regular(path, NULL); /* not a FIFO: the open would block */
    int yes = f && fread(m, 1, 4, f) == 4 && !memcmp(m, "GGUF", 4);
    if (f)
        fclose(f);
    return yes;
}

/* A GGUF or tokenizer.json needs no tensors: read the vocabulary only.
 * Otherwise open the model; a file that is no model may be a tokenizer.bin. */
static int load_tokenizer(struct tokenizer **t, const char *path, struct qerr *err)
{
    if (ends_with(path, ".json") || is_gguf(path))
        return tok_load_file(t, path, err);
    struct qmodel m;
    int rc = qmodel_open(&m, path, err);
    if (rc == 0) {
        rc = tok_load_for_model(t, &m, err);
        qmodel_close(&m);
        return rc;
    }
    struct qerr e2 = {0};
    if (tok_load_llama2c(t, path, 0, &e2) == 0)
        return 0;
    return rc;
}

/* Piece with control bytes made visible; UTF-8 passes through. */
static void print_piece(const char *p)
{
    for (const unsigned char *s = (const unsigned char *)p; *s; s++) {
        if (*s == '\n')
            fputs("\\n", stdout);
        else if (*s == '\t')
            fputs("\\t", stdout);
        else if (*s == '\r')
            fputs("\\r", stdout);
        else if (*s == '\\')
            fputs("\\\\", stdout);
        else if (*s < 0x20 || *s == 0x7f)
            printf("\\x%02X", *s);
        else
            putchar(*s);
    }
}

/* --decode: ids separated by spaces, commas or brackets -> text bytes. */
static int decode_ids(const struct tokenizer *t, const char *s, size_t len, int json,
                      struct qerr *err)
{
    size_t cap = 4 * len + 64, k = 0;
    char *out = malloc(cap), *end;
    if (!out)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    int prev = -1;
    for (size_t i = 0; i < len;) {
        if (strchr(" \t\r\n,[]", s[i]) && s[i]) {
            i++;
            continue;
        }
        long id = strtol(s + i, &end, 10);
        if (end == s + i || id < 0 || id >= tok_vocab_size(t)) {
            free(out);
            return qerr_set(err, QERR_FORMAT, "byte offset %zu: \"%.12s\" is not a token id "
                            "(0..%d)", i, s + i, tok_vocab_size(t) - 1);
        }
        i = (size_t)(end - s);
        size_t need = tok_decode(t, prev, (int)id, NULL, 0);
        if (k + need + 1 > cap) {
            char *o = realloc(out, cap = 2 * (k + need + 1));
            if (!o) {
                free(out);
                return qerr_set(err, QERR_NOMEM, "out of memory");
            }
            out = o;
        }
        k += tok_decode(t, prev, (int)id, out + k, cap - k);
        prev = (int)id;
    }
    out[k] = '\0';
    if (json) {
        printf("{\"text\":");
        cli_json_str(stdout, out); /* stops at a NUL byte, which JSON text cannot hold anyway */
        printf("}\n");
    } else {
        fwrite(out, 1, k, stdout);
    }
    free(out);
    return 0;
}

static void print_result(const struct tokenizer *t, const int *ids, size_t n, int json)
{
    if (!json) {
        for (size_t i = 0; i < n; i++) {
            printf("%d\t", ids[i]);
            print_piece(tok_piece(t, ids[i]));
            putchar('\n');
        }
        return;
    }
    printf("{\"tokenizer\":");
    cli_json_str(stdout, tok_name(t));
    printf(",\"family\":");
    cli_json_str(stdout, tok_family(t));
    printf(",\"pre_tokenizer\":");
    cli_json_str(stdout, tok_pretok_desc(t));
    printf(",\"normalizer\":");
    cli_json_str(stdout, tok_normalizer_desc(t));
    printf(",\"mode\":");
    cli_json_str(stdout, tok_mode(t));
    printf(",\"vocab_size\":%d,\"n_tokens\":%zu,\"ids\":[", tok_vocab_size(t), n);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", ids[i]);
    printf("],\"pieces\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar(',');
        cli_json_str(stdout, tok_piece(t, ids[i]));
    }
    printf("]}\n");
}

int cmd_tokenize(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            fputs(tokenize_help, stdout);
            return EXIT_OK;
        }
    struct tok_args a;
    if (parse_args(argc, argv, &a))
        return EXIT_USAGE;
    struct qerr err = {0};
    const char *path = cli_model_path(a.model, &err);
    if (!path)
        return cli_fail(&err);
    size_t len = a.text ? strlen(a.text) : 0;
    /* afile_read NUL-terminates: --decode parses the ids with strtol */
    char *buf = !a.file ? NULL
              : strcmp(a.file, "-") ? afile_read(a.file, 0, &len, &err)
                                    : afile_read_stream(stdin, "standard input", 0, &len, &err);
    if (a.file && !buf)
        return cli_fail(&err);
    struct tokenizer *t = NULL;
    int *ids = NULL;
    size_t n = 0;
    int rc = load_tokenizer(&t, path, &err);
    if (rc == 0) {
        if (a.compat)
            tok_set_llamacpp_compat(t, 1);
        int bos = a.bos >= 0 ? a.bos : tok_add_bos_default(t);
        rc = a.decode ? decode_ids(t, buf ? buf : a.text, len, a.json, &err)
                      : tok_encode(t, buf ? buf : a.text, len, bos, &ids, &n, &err);
        if (rc < 0)
            qerr_prefix(&err, "%s: ", a.file ? a.file : "TEXT argument");
    }
    if (rc == 0 && !a.decode)
        print_result(t, ids, n, a.json);
    free(ids);
    free(buf);
    tok_free(t);
    return rc == 0 ? EXIT_OK : cli_fail(&err);
}
