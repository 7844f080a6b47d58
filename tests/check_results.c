/* Tests of the results store (analysis/results*.c) and filters: schema
 * validation failures first, then round trips, atomic save, merge/join,
 * imports and the bundled assets against the papers' source files. */
#include <check.h>
#include <cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "analysis/filter.h"
#include "analysis/results.h"
#include "tests/testutil.h"

#define HEAD "{\"schema\": \"qlens-results/1\", \"source\": \"t\", \"results\": ["
#define E_OK(id) "{\"id\": \"" id "\", \"model\": \"m\", \"method\": \"GPTQ\", " \
                 "\"bits\": {\"w\": 4, \"a\": 16, \"kv\": 16}}"

/* Parse text into a fresh store; returns the status, message in err. */
static int parse(const char *text, struct qerr *err)
{
    struct results_store s;
    results_store_init(&s);
    qerr_clear(err);
    int rc = results_parse(&s, text, "t.json", err);
    results_store_free(&s);
    return rc;
}

/* The parse fails with a message containing want. */
static void bad(const char *text, const char *want)
{
    struct qerr err;
    int rc = parse(text, &err);
    ck_assert_msg(rc == QERR_FORMAT, "accepted: %s", text);
    ck_assert_msg(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
    ck_assert_msg(strncmp(err.msg, "t.json: ", 8) == 0, "no file name: %s", err.msg);
}

/* One label for model and text paths, shared by sweep, quant and imports:
 * a dot inside a model name ("Qwen2-0.5B") is not an extension. */
START_TEST(labels)
{
    char b[64];
    results_label("/m/Qwen2-0.5B/", b, sizeof b);
    ck_assert_str_eq(b, "Qwen2-0.5B");
    results_label("/m/Qwen2-0.5B", b, sizeof b);
    ck_assert_str_eq(b, "Qwen2-0.5B");
    results_label("models/stories260K.bin", b, sizeof b);
    ck_assert_str_eq(b, "stories260K");
    results_label("x.gguf", b, sizeof b);
    ck_assert_str_eq(b, "x");
    results_label("/d/wiki.test.txt", b, sizeof b);
    ck_assert_str_eq(b, "wiki.test");
    results_label("model.safetensors", b, sizeof b);
    ck_assert_str_eq(b, "model");
}
END_TEST

START_TEST(empty_and_syntax)
{
    bad("", "offset 0");
    bad("{\"schema\": ", "offset 11");
    bad("[]", "expected an object");
    bad("{\"results\": []}", "schema: missing required field");
    bad("{\"results\": {\"arc\": {\"acc\": 0.5}}}", "qlens results import");
    bad("{\"schema\": \"qlens-results/2\", \"results\": []}", "is not 'qlens-results/1'");
    bad("{\"schema\": \"qlens-results/1\"}", "results: missing required field");
    bad("{\"schema\": \"qlens-results/1\", \"results\": {}}", "results: expected an array");
    struct qerr err;
    ck_assert_int_eq(parse(HEAD "]}", &err), QERR_OK);
}
END_TEST

START_TEST(validation_paths)
{
    bad(HEAD "{\"id\": \"a\", \"method\": \"x\", \"bits\": {\"w\":4,\"a\":16,\"kv\":16}}]}",
        "results[0].model: missing required field");
    bad(HEAD E_OK("a") ", {\"id\": \"b\", \"model\": \"m\", \"method\": \"x\", "
        "\"bits\": {\"w\": \"4\", \"a\": 16, \"kv\": 16}}]}",
        "results[1].bits.w: expected an integer, found a string");
    bad(HEAD E_OK("a") "," E_OK("a") "]}", "results[1].id: duplicate id 'a'");
    bad(HEAD E_OK("a") "," E_OK("b") "," E_OK("c") ", {\"id\": \"d\", \"model\": \"m\", "
        "\"method\": \"x\", \"bits\": {\"w\":4,\"a\":16,\"kv\":16}, \"benchmarks\": "
        "{\"mmlu\": {\"value\": 50, \"metric\": \"acc\", \"unit\": \"pct\"}}}]}",
        "results[3].benchmarks.mmlu.unit: unknown unit 'pct'");
    bad(HEAD "{\"id\": \"a\", \"model\": \"m\", \"method\": \"x\", \"bits\": {\"w\":4,\"a\":16,"
        "\"kv\":16}, \"benchmark\": {}}]}", "results[0]: unknown field 'benchmark'");
    bad(HEAD "{\"id\": \"a\", \"model\": \"m\", \"method\": \"x\", \"bits\": {\"w\":4,\"a\":16,"
        "\"kv\":16}, \"ppl\": {\"c4\": -3}}]}", "results[0].ppl.c4: must be >= 0");
    bad(HEAD "{\"id\": \"a\", \"model\": \"m\", \"method\": \"x\", \"bits\": {\"w\":4,\"a\":16,"
        "\"kv\":16}, \"benchmarks\": {\"mmlu\": {\"metric\": \"acc\", \"unit\": \"percent\"}}}]}",
        "results[0].benchmarks.mmlu.value: missing required field");
    bad(HEAD "{\"id\": \"a\", \"model\": \"m\", \"method\": \"x\", \"bits\": {\"w\":4,\"a\":16}}]}",
        "results[0].bits.kv: missing required field");
    bad(HEAD "{\"id\": \"a\", \"model\": \"m\", \"method\": \"x\", \"bits\": {\"w\":99,\"a\":16,"
        "\"kv\":16}}]}", "results[0].bits.w: must be in 1..64");
    bad(HEAD "{\"id\": \"a\", \"model\": \"m\", \"method\": \"x\", \"bits\": {\"w\":4,\"a\":16,"
        "\"kv\":16}, \"memory_gb\": \"big\"}]}", "results[0].memory_gb: expected a number or null");
}
END_TEST

START_TEST(failed_parse_adds_nothing)
{
    struct results_store s;
    struct qerr err;
    results_store_init(&s);
    ck_assert_int_eq(results_parse(&s, HEAD E_OK("a") "]}", "one", &err), QERR_OK);
    ck_assert_int_eq(s.n, 1);
    /* second file: one good entry then a bad one -> all or nothing */
    ck_assert_int_eq(results_parse(&s, HEAD E_OK("b") ", {\"id\": 3}]}", "two", &err), QERR_FORMAT);
    ck_assert_int_eq(s.n, 1);
    /* an id already loaded from another file is a duplicate */
    ck_assert_int_eq(results_parse(&s, HEAD E_OK("a") "]}", "three", &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "three: results[0].id: duplicate id 'a'"));
    results_store_free(&s);
}
END_TEST

static void make_entry(struct results_entry *e, const char *id, double ppl)
{
    results_entry_init(e);
    strcpy(e->id, id);
    strcpy(e->model, "tiny");
    strcpy(e->method, "rtn");
    e->w_bits = 3;
    e->group_size = 64;
    ck_assert_int_eq(results_entry_set_ppl(e, "wikitext2", ppl, 0.25, NULL), QERR_OK);
    ck_assert_int_eq(results_entry_set_ppl(e, "c4", ppl + 2, NAN, NULL), QERR_OK);
    ck_assert_int_eq(results_entry_set_bench(e, "mmlu", 41.5, "acc", "percent", 0.5, NULL), QERR_OK);
}

START_TEST(entry_api)
{
    struct results_entry e;
    struct qerr err;
    make_entry(&e, "x", 10);
    ck_assert_int_eq(results_entry_set_bench(&e, "arc", 0.5, "acc", "pct", NAN, &err), QERR_ARG);
    ck_assert_int_eq(results_entry_set_ppl(&e, "c4", 0, NAN, &err), QERR_ARG);
    ck_assert_int_eq(results_entry_set_settings(&e, "[1]", &err), QERR_ARG);
    ck_assert_int_eq(results_entry_set_settings(&e, "{\"damp\": 0.01}", &err), QERR_OK);
    ck_assert_double_eq_tol(results_ppl_mean(&e), 11, 1e-12);
    ck_assert_double_eq_tol(results_entry_value(&e, "ppl.c4"), 12, 1e-12);
    ck_assert_double_eq_tol(results_entry_value(&e, "mmlu"), 41.5, 1e-12);
    ck_assert_double_eq_tol(results_entry_value(&e, "bench.mmlu"), 41.5, 1e-12);
    ck_assert(isnan(results_entry_value(&e, "arc")));
    ck_assert(isnan(results_entry_value(&e, "memory_gb")));
    ck_assert_double_eq(results_entry_value(&e, "bits"), 3);
    char id[160];
    results_default_id(&e, id, sizeof id);
    ck_assert_str_eq(id, "tiny/rtn/w3a16kv16/g64");
    /* setting an existing ppl replaces it */
    ck_assert_int_eq(results_entry_set_ppl(&e, "c4", 13, NAN, NULL), QERR_OK);
    ck_assert_int_eq(e.n_ppl, 2);
    results_entry_free(&e);
}
END_TEST

START_TEST(round_trip)
{
    struct results_store s, t;
    struct results_entry e;
    struct qerr err;
    results_store_init(&s);
    strcpy(s.source, "unit test");
    make_entry(&e, "", 10); /* empty id -> default id */
    e.memory_gb = 1.25;
    ck_assert_int_eq(results_entry_set_settings(&e, "{\"damp\": 0.01, \"act_order\": true}", &err), 0);
    ck_assert_int_eq(results_add_entry(&s, &e, &err), QERR_OK);
    ck_assert_int_eq(results_add_entry(&s, &e, &err), QERR_ARG); /* same default id */
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate result id"));
    const char *path = tu_tmpfile("rt.json");
    ck_assert_int_eq(results_save(&s, path, &err), QERR_OK);
    results_store_init(&t);
    ck_assert_msg(results_load(&t, path, &err) == QERR_OK, "%s", err.msg);
    ck_assert_int_eq(t.n, 1);
    const struct results_entry *f = &t.e[0];
    ck_assert_str_eq(f->id, "tiny/rtn/w3a16kv16/g64");
    ck_assert_str_eq(t.source, "unit test");
    ck_assert_int_eq(f->group_size, 64);
    ck_assert_double_eq(results_entry_ppl(f, "wikitext2")->se, 0.25);
    ck_assert(isnan(results_entry_ppl(f, "c4")->se));
    ck_assert_double_eq(results_entry_bench(f, "mmlu")->value, 41.5);
    ck_assert_str_eq(results_entry_bench(f, "mmlu")->unit, "percent");
    ck_assert_double_eq(f->memory_gb, 1.25);
    ck_assert(isnan(f->speed));
    ck_assert_ptr_nonnull(strstr(f->settings_json, "\"act_order\":true"));
    results_entry_free(&e);
    results_store_free(&s);
    results_store_free(&t);
}
END_TEST

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

START_TEST(atomic_save_failure_keeps_old)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/atomic", tu_tmpdir());
    mkdir(dir, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/store.json", dir);
    const char *old = HEAD E_OK("old") "]}";
    ck_assert_int_eq(tu_write_file(path, old, strlen(old)), 0);
    struct results_store s;
    struct results_entry e;
    struct qerr err;
    results_store_init(&s);
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "e%d", i);
        make_entry(&e, id, 10 + i);
        ck_assert_int_eq(results_add_entry(&s, &e, NULL), QERR_OK);
        results_entry_free(&e);
    }
    /* Files may not grow past 300 bytes now (works as root too): the write
     * of the temporary file fails with EFBIG. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit keep, rl;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &keep), 0);
    rl = keep;
    rl.rlim_cur = 300;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    int rc = results_save(&s, path, &err);
    setrlimit(RLIMIT_FSIZE, &keep); /* CK_FORK=no runs later tests here */
    ck_assert_int_eq(rc, QERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "old file is unchanged"));
    /* the old file is intact and no temporary file is left behind */
    struct results_store t;
    results_store_init(&t);
    ck_assert_int_eq(results_load(&t, path, &err), QERR_OK);
    ck_assert_int_eq(t.n, 1);
    ck_assert_str_eq(t.e[0].id, "old");
    ck_assert_int_eq(count_files(dir), 1);
    /* a directory that does not exist: an I/O error naming the path */
    ck_assert_int_eq(results_save(&t, "/nonexistent-dir/x.json", &err), QERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/x.json"));
    results_store_free(&s);
    results_store_free(&t);
}
END_TEST

START_TEST(merge_modes)
{
    struct results_store a, b;
    struct results_entry e;
    struct qerr err;
    int added, joined;
    results_store_init(&a);
    results_store_init(&b);
    make_entry(&e, "p", 10);
    results_add_entry(&a, &e, NULL);
    results_add_entry(&b, &e, NULL); /* identical: strict merge accepts */
    ck_assert_int_eq(results_merge(&a, &b, RESULTS_MERGE_STRICT, &added, &joined, &err), 0);
    ck_assert_int_eq(a.n, 1);
    results_store_free(&b);
    results_entry_free(&e);
    make_entry(&e, "p", 11); /* same id, other numbers */
    results_add_entry(&b, &e, NULL);
    ck_assert_int_eq(results_merge(&a, &b, RESULTS_MERGE_STRICT, NULL, NULL, &err), QERR_FORMAT);
    ck_assert_int_eq(results_merge(&a, &b, RESULTS_MERGE_REPLACE, NULL, NULL, &err), QERR_OK);
    ck_assert_double_eq(results_entry_value(&a.e[0], "ppl.wikitext2"), 11);
    results_store_free(&b);
    results_entry_free(&e);
    /* join: another id, same model+method+bits+group, new benchmark */
    results_entry_init(&e);
    strcpy(e.id, "lm-eval run");
    strcpy(e.model, "tiny");
    strcpy(e.method, "rtn");
    e.w_bits = 3;
    e.group_size = 64;
    results_entry_set_bench(&e, "arc_easy", 0.61, "acc", "fraction", 0.01, NULL);
    results_add_entry(&b, &e, NULL);
    ck_assert_int_eq(results_merge(&a, &b, RESULTS_MERGE_JOIN, &added, &joined, &err), QERR_OK);
    ck_assert_int_eq(added, 0);
    ck_assert_int_eq(joined, 1);
    ck_assert_int_eq(a.n, 1);
    ck_assert_double_eq(results_entry_value(&a.e[0], "arc_easy"), 0.61);
    ck_assert_double_eq(results_entry_value(&a.e[0], "ppl.wikitext2"), 11);
    /* a conflicting value under the same key is an error */
    results_entry_set_bench(&b.e[0], "arc_easy", 0.7, "acc", "fraction", NAN, NULL);
    ck_assert_int_eq(results_merge(&a, &b, RESULTS_MERGE_JOIN, NULL, NULL, &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "benchmarks.arc_easy differs"));
    results_entry_free(&e);
    results_store_free(&a);
    results_store_free(&b);
}
END_TEST

START_TEST(filters)
{
    struct filter f;
    struct qerr err;
    struct results_entry e;
    make_entry(&e, "x", 10); /* tiny rtn w3 g64, ppl mean 11, mmlu 41.5 */
    ck_assert_int_eq(filter_parse(&f, "", &err), QERR_OK);
    ck_assert(filter_match(&f, &e));
    ck_assert_int_eq(filter_parse(&f, "bits", &err), QERR_ARG);
    ck_assert_int_eq(filter_parse(&f, "bits=abc", &err), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a number"));
    ck_assert_int_eq(filter_parse(&f, "bits=3..x", &err), QERR_ARG);
    ck_assert_int_eq(filter_parse(&f, "=3", &err), QERR_ARG);
    struct { const char *f; int want; } cases[] = {
        {"method=GPTQ|RTN", 1}, {"method=GPTQ|SpQR", 0}, {"bits=3..4", 1}, {"bits=4..", 0},
        {"bits=..3", 1}, {"model=ti*", 1}, {"model=ti*,bits=4", 0}, {"method!=rtn", 0},
        {"mmlu=40..45", 1}, {"arc=..", 0}, {"arc!=1", 0}, {"ppl_mean=..11", 1},
        {"group_size=64", 1}, {"ppl.c4=12", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(filter_parse(&f, cases[i].f, &err), QERR_OK);
        ck_assert_msg(filter_match(&f, &e) == cases[i].want, "filter %s", cases[i].f);
    }
    results_entry_set_settings(&e, "{\"quant_target\": \"weight-only\", \"n\": 3}", NULL);
    filter_parse(&f, "settings.quant_target=weight*,settings.n=3", &err);
    ck_assert(filter_match(&f, &e));
    results_entry_free(&e);
}
END_TEST

static const char *LMEVAL =
    "{\"results\": {\n"
    "  \"arc_easy\": {\"alias\": \"arc_easy\", \"acc,none\": 0.7563, \"acc_stderr,none\": 0.0088,\n"
    "               \"acc_norm,none\": 0.7104, \"acc_norm_stderr,none\": 0.0093},\n"
    "  \"hellaswag\": {\"alias\": \"hellaswag\", \"acc,none\": 0.5713, \"acc_stderr,none\": 0.0049,\n"
    "                \"acc_norm,none\": 0.7602, \"acc_norm_stderr,none\": 0.0043},\n"
    "  \"gsm8k\": {\"alias\": \"gsm8k\", \"exact_match,strict-match\": 0.1342,\n"
    "            \"exact_match_stderr,strict-match\": 0.0094,\n"
    "            \"exact_match,flexible-extract\": 0.1448},\n"
    "  \"wikitext\": {\"alias\": \"wikitext\", \"word_perplexity,none\": 9.71,\n"
    "               \"byte_perplexity,none\": 1.53, \"bits_per_byte,none\": 0.61,\n"
    "               \"word_perplexity_stderr,none\": \"N/A\"}},\n"
    " \"groups\": {\"mmlu\": {\"acc,none\": 0.45, \"acc_stderr,none\": 0.004, \"alias\": \"mmlu\"},\n"
    "            \"arc_easy\": {\"acc,none\": 0.1}}, \"versions\": {\"arc_easy\": 1.0},\n"
    " \"config\": {\"model\": \"hf\", \"model_args\": \"pretrained=/models/tiny-q4,dtype=float32\",\n"
    "            \"batch_size\": \"auto\"},\n"
    " \"model_name\": \"/models/tiny-q4\", \"git_hash\": \"abc\"}\n";

START_TEST(import_lmeval)
{
    struct results_store s;
    struct qerr err;
    const char *kind = NULL;
    results_store_init(&s);
    const char *p = tu_tmpfile("lmeval.json");
    tu_write_file(p, LMEVAL, strlen(LMEVAL));
    struct results_import_opts o = {.method = "GPTQ", .w_bits = 4, .group_size = 128};
    ck_assert_msg(results_import(&s, p, &o, &kind, &err) == QERR_OK, "%s", err.msg);
    ck_assert_str_eq(kind, "lm-eval");
    ck_assert_int_eq(s.n, 1);
    const struct results_entry *e = &s.e[0];
    ck_assert_str_eq(e->model, "tiny-q4");
    ck_assert_str_eq(e->method, "GPTQ");
    ck_assert_int_eq(e->w_bits, 4);
    ck_assert_str_eq(e->id, "tiny-q4/GPTQ/w4a16kv16/g128");
    const struct results_bench *b = results_entry_bench(e, "arc_easy");
    ck_assert_ptr_nonnull(b);
    ck_assert_double_eq(b->value, 0.7563);
    ck_assert_double_eq(b->se, 0.0088);
    ck_assert_str_eq(b->metric, "acc");
    ck_assert_str_eq(b->unit, "fraction");
    b = results_entry_bench(e, "hellaswag:acc_norm");
    ck_assert_ptr_nonnull(b);
    ck_assert_double_eq(b->value, 0.7602);
    b = results_entry_bench(e, "gsm8k"); /* headline: the first exact_match */
    ck_assert_ptr_nonnull(b);
    ck_assert_double_eq(b->value, 0.1342);
    ck_assert_double_eq(b->se, 0.0094);
    ck_assert_ptr_nonnull(results_entry_bench(e, "gsm8k:exact_match_flexible-extract"));
    ck_assert_double_eq(results_entry_ppl(e, "wikitext:word_perplexity")->value, 9.71);
    ck_assert(isnan(results_entry_ppl(e, "wikitext:word_perplexity")->se));
    ck_assert_ptr_null(results_entry_bench(e, "wikitext:bits_per_byte"));
    ck_assert_ptr_nonnull(strstr(e->settings_json, "pretrained=/models/tiny-q4"));
    /* a group aggregate is imported; one also in "results" keeps that value */
    ck_assert_double_eq(results_entry_bench(e, "mmlu")->value, 0.45);
    ck_assert_double_eq(results_entry_bench(e, "arc_easy")->value, 0.7563);
    results_store_free(&s);
}
END_TEST

START_TEST(import_old_lmeval_and_qlens_ppl)
{
    struct results_store s;
    struct qerr err;
    const char *kind;
    results_store_init(&s);
    const char *old = "{\"results\": {\"piqa\": {\"acc\": 0.62, \"acc_stderr\": 0.011}},"
                      " \"config\": {\"model_args\": \"pretrained=EleutherAI/pythia-160m\"}}";
    ck_assert_int_eq(results_import_text(&s, old, "old.json", NULL, &kind, &err), QERR_OK);
    ck_assert_str_eq(s.e[0].model, "pythia-160m");
    ck_assert_str_eq(s.e[0].method, "none");
    ck_assert_double_eq(results_entry_bench(&s.e[0], "piqa")->se, 0.011);
    const char *ppl = "{\"model\": \"/x/models/pythia-160m.gguf\", \"text\": \"/d/wiki.test.txt\","
                      " \"n_ctx\": 512, \"ppl\": 21.5, \"stderr\": 0.3}";
    struct results_store t;
    results_store_init(&t);
    ck_assert_int_eq(results_import_text(&t, ppl, "ppl.json", NULL, &kind, &err), QERR_OK);
    ck_assert_str_eq(kind, "qlens-ppl");
    ck_assert_str_eq(t.e[0].model, "pythia-160m");
    ck_assert_double_eq(results_entry_ppl(&t.e[0], "wiki.test")->value, 21.5);
    /* the two join: same model, method, bits, group */
    int added, joined;
    ck_assert_int_eq(results_merge(&s, &t, RESULTS_MERGE_JOIN, &added, &joined, &err), QERR_OK);
    ck_assert_int_eq(joined, 1);
    ck_assert_int_eq(s.n, 1);
    ck_assert_double_eq(results_entry_value(&s.e[0], "ppl_mean"), 21.5);
    /* not importable */
    ck_assert_int_eq(results_import_text(&t, "{\"foo\": 1}", "f.json", NULL, &kind, &err),
                     QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "f.json: not a format"));
    ck_assert_int_eq(results_import_text(&t, "{\"results\": {\"x\": {\"alias\": \"x\"}}}", "g.json",
                                         NULL, &kind, &err), QERR_FORMAT);
    ck_assert_int_eq(results_import_text(&t, "{\"ppl\": 1", "h.json", NULL, &kind, &err),
                     QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "h.json: offset"));
    results_store_free(&s);
    results_store_free(&t);
}
END_TEST

/* Numbers beyond int in run files: an error naming the field, never a
 * double -> int cast (undefined behaviour; UBSan aborted here). */
START_TEST(import_numbers_beyond_int)
{
    static const char *const bad[][2] = {
        {"{\"model\":\"m\",\"text\":\"t\",\"ppl\":4,\"group_size\":1e999}", "group_size"},
        {"{\"model\":\"m\",\"text\":\"t\",\"ppl\":4,\"group\":3e10}", "group"},
        {"{\"model\":\"m\",\"text\":\"t\",\"ppl\":4,\"bits\":{\"w\":1e300}}", "bits.w"},
        {"{\"model\":\"m\",\"text\":\"t\",\"ppl\":4,\"bits\":{\"w\":4,\"a\":-1e300}}", "bits.a"},
        {"{\"model\":\"m\",\"text\":\"t\",\"ppl\":4,\"bits\":4.5}", "bits"},
        {"{\"model\":\"m\",\"text\":\"t\",\"ppl\":4,\"kv_bits\":1e20}", "kv_bits"},
        {"{\"model\":\"m\",\"method\":\"RTN\",\"bits\":4,\"group\":1e300,"
         "\"eval\":{\"text\":\"t\"},\"ppl_float\":3,\"ppl\":4}", "group"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct results_store s;
        struct qerr err;
        const char *kind;
        results_store_init(&s);
        ck_assert_int_eq(results_import_text(&s, bad[i][0], "run.json", NULL, &kind, &err),
                         QERR_FORMAT);
        char want[64];
        snprintf(want, sizeof want, "run.json: %s: must be %s", bad[i][1],
                 strchr(bad[i][0], '.') && strstr(bad[i][0], "4.5") ? "a whole number" : "in ");
        ck_assert_msg(strstr(err.msg, want), "%s: %s", bad[i][0], err.msg);
        results_store_free(&s);
    }
}
END_TEST

START_TEST(import_qlens_quant)
{
    /* the shape `qlens quant --json` prints (abridged) */
    const char *q =
        "{\"model\":\"/m/stories260K.bin\",\"method\":\"RTN\",\"spec\":\"RTN w4 g32 asym\","
        "\"bits\":4,\"group\":32,\"sym\":false,\"act_bits\":0,\"kv_bits\":8,"
        "\"eval\":{\"text\":\"/d/tinystories-eval.txt\",\"chunks\":4,\"ctx\":128},"
        "\"ppl_float\":3.8742445,\"ppl_float_stderr\":0.395,\"ppl\":4.6095,\"ppl_stderr\":0.52,"
        "\"delta_ppl_pct\":18.98,\"kl\":{\"mean\":0.0917,\"p99\":0.645},\"top1\":0.853,"
        "\"size_mib_float\":0.496,\"size_mib\":0.1892,\"bits_per_weight\":4.64,\"layers\":[]}";
    struct results_store s;
    struct qerr err;
    const char *kind;
    results_store_init(&s);
    ck_assert_msg(results_import_text(&s, q, "q.json", NULL, &kind, &err) == QERR_OK, "%s", err.msg);
    ck_assert_str_eq(kind, "qlens-quant");
    ck_assert_int_eq(s.n, 2);
    const struct results_entry *e = &s.e[results_find(&s, "stories260K/RTN w4 g32 asym")];
    ck_assert_str_eq(e->method, "RTN");
    ck_assert_int_eq(e->w_bits, 4);
    ck_assert_int_eq(e->a_bits, 16);
    ck_assert_int_eq(e->kv_bits, 8);
    ck_assert_int_eq(e->group_size, 32);
    ck_assert_double_eq(results_entry_ppl(e, "tinystories-eval")->value, 4.6095);
    ck_assert_double_eq(results_entry_ppl(e, "tinystories-eval")->se, 0.52);
    ck_assert_double_eq_tol(e->memory_gb, 0.1892 / 1024, 1e-15);
    ck_assert_ptr_nonnull(strstr(e->settings_json, "\"kl_mean\":0.0917"));
    int f = results_find(&s, "stories260K/float");
    ck_assert_int_ge(f, 0);
    ck_assert_str_eq(s.e[f].method, "float");
    ck_assert_int_eq(s.e[f].w_bits, 16);
    ck_assert_int_eq(s.e[f].kv_bits, 16);
    ck_assert_double_eq(results_entry_ppl(&s.e[f], "tinystories-eval")->value, 3.8742445);
    /* a rerun printing one digit differently joins, a real change does not */
    struct results_entry a, b;
    results_entry_copy(&a, e, NULL);
    results_entry_copy(&b, e, NULL);
    results_entry_set_ppl(&b, "tinystories-eval", 4.6095 * (1 + 3e-9), NAN, NULL);
    ck_assert_int_eq(results_join_into(&a, &b, 0, &err), QERR_OK);
    results_entry_set_ppl(&b, "tinystories-eval", 4.7, NAN, NULL);
    ck_assert_int_eq(results_join_into(&a, &b, 0, &err), QERR_FORMAT);
    results_entry_free(&a);
    results_entry_free(&b);
    results_store_free(&s);
}
END_TEST

/* --- the bundled assets against the papers' source files ------------ */

/* $QLENS_ASSETS, else ./assets (tests/run.sh runs from the repository
 * root), else ../../assets from the binary (BUILD/tests/check_results). */
static const char *asset(const char *name)
{
    static char buf[2048];
    const char *dir = getenv("QLENS_ASSETS");
    snprintf(buf, sizeof buf, "%s/results/%s", dir && *dir ? dir : "assets", name);
    struct stat st;
    if ((dir && *dir) || stat(buf, &st) == 0)
        return buf;
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(buf, sizeof buf, "%s/../../assets/results/%s", exe, name);
    }
    return buf;
}

static cJSON *load_json(const char *path)
{
    ck_assert_msg(path != NULL, "shared reference file missing (set QLENS_SHARED)");
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* Source row (model, method, bits) of the Jin file. */
static const cJSON *jin_row(const cJSON *src, const char *model, const char *method, int bits)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(src, "models")) {
        if (!strcmp(cJSON_GetObjectItem(m, "model")->valuestring, model) &&
            !strcmp(cJSON_GetObjectItem(m, "method")->valuestring, method) &&
            cJSON_GetObjectItem(m, "bits")->valueint == bits)
            return m;
    }
    return NULL;
}

START_TEST(assets_jin_match_source)
{
    struct results_store s;
    struct qerr err;
    results_store_init(&s);
    ck_assert_msg(results_load(&s, asset("jin2024.json"), &err) == QERR_OK, "%s", err.msg);
    cJSON *src = load_json(tu_shared("reference/jin2024_results.json"));
    ck_assert_int_eq(s.n, cJSON_GetArraySize(cJSON_GetObjectItem(src, "models")) +
                     cJSON_GetArraySize(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(src, "spqr_ablation_table4"), "rows")));
    ck_assert_ptr_nonnull(strstr(s.citation, "2402.16775"));
    struct { const char *id, *model, *method; int bits; } pick[] = {
        {"jin2024/Qwen-7B-Chat/BF16-16", "Qwen-7B-Chat", "BF16", 16},
        {"jin2024/Qwen-14B-Chat/GPTQ-3", "Qwen-14B-Chat", "GPTQ", 3},
        {"jin2024/Qwen-72B-Chat/SpQR-2", "Qwen-72B-Chat", "SpQR", 2},
        {"jin2024/Qwen-7B-Chat/GPTQ-2", "Qwen-7B-Chat", "GPTQ", 2},
        {"jin2024/Qwen-14B-Chat/int8-8", "Qwen-14B-Chat", "LLM.int8()", 8},
    };
    for (size_t k = 0; k < sizeof pick / sizeof pick[0]; k++) {
        int i = results_find(&s, pick[k].id);
        ck_assert_msg(i >= 0, "%s missing", pick[k].id);
        const struct results_entry *e = &s.e[i];
        const cJSON *row = jin_row(src, pick[k].model, pick[k].method, pick[k].bits);
        ck_assert_ptr_nonnull(row);
        ck_assert_int_eq(e->w_bits, pick[k].bits);
        const cJSON *v;
        double sum = 0;
        int np = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(row, "perplexity")) {
            ck_assert_double_eq(results_entry_ppl(e, v->string)->value, v->valuedouble);
            sum += v->valuedouble;
            np++;
        }
        ck_assert_int_eq(e->n_ppl, np);
        ck_assert_double_eq_tol(results_entry_value(e, "ppl_mean"), sum / np, 1e-9);
        int nb = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(row, "benchmarks")) {
            const struct results_bench *b = results_entry_bench(e, v->string);
            ck_assert_msg(b && b->value == v->valuedouble, "%s %s", pick[k].id, v->string);
            nb++;
        }
        ck_assert_int_eq(e->n_bench, nb);
        ck_assert_double_eq(e->memory_gb, cJSON_GetObjectItem(row, "memory_gb")->valuedouble);
        ck_assert_double_eq(e->speed, cJSON_GetObjectItem(row, "tokens_per_s")->valuedouble);
    }
    /* units follow the source's unit notes */
    const struct results_entry *e = &s.e[results_find(&s, "jin2024/Qwen-7B-Chat/BF16-16")];
    ck_assert_str_eq(results_entry_bench(e, "mmlu")->unit, "percent");
    ck_assert_str_eq(results_entry_bench(e, "gsm8k")->unit, "fraction");
    ck_assert_str_eq(results_entry_bench(e, "flores200_bleu_en_zh")->unit, "bleu");
    ck_assert_str_eq(results_entry_bench(e, "bbq_bias_ambiguous")->unit, "bias");
    cJSON_Delete(src);
    results_store_free(&s);
}
END_TEST

START_TEST(assets_li_match_source)
{
    struct results_store s;
    struct qerr err;
    results_store_init(&s);
    ck_assert_msg(results_load(&s, asset("li2024.json"), &err) == QERR_OK, "%s", err.msg);
    cJSON *src = load_json(tu_shared("reference/li2024_results.json"));
    const cJSON *models = cJSON_GetObjectItem(src, "models");
    int n = cJSON_GetArraySize(models);
    ck_assert_int_eq(s.n, n);
    /* every 37th source row, all its benchmarks and bit-widths */
    for (int r = 0; r < n; r += 37) {
        const cJSON *m = cJSON_GetArrayItem(models, r);
        char id[200];
        snprintf(id, sizeof id, "li2024/%s/%s/%s", cJSON_GetObjectItem(m, "model")->valuestring,
                 cJSON_GetObjectItem(m, "method")->valuestring,
                 cJSON_GetObjectItem(m, "config")->valuestring);
        int i = results_find(&s, id);
        ck_assert_msg(i >= 0, "%s missing", id);
        const struct results_entry *e = &s.e[i];
        ck_assert_int_eq(e->w_bits, cJSON_GetObjectItem(m, "w_bits")->valueint);
        ck_assert_int_eq(e->a_bits, cJSON_GetObjectItem(m, "a_bits")->valueint);
        ck_assert_int_eq(e->kv_bits, cJSON_GetObjectItem(m, "kv_bits")->valueint);
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(m, "benchmarks")) {
            const struct results_bench *b = results_entry_bench(e, v->string);
            ck_assert_msg(b && b->value == v->valuedouble, "%s %s", id, v->string);
        }
    }
    cJSON_Delete(src);
    results_store_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("results");
    TCase *t = tcase_create("validation");
    tcase_add_test(t, labels);
    tcase_add_test(t, empty_and_syntax);
    tcase_add_test(t, validation_paths);
    tcase_add_test(t, failed_parse_adds_nothing);
    suite_add_tcase(s, t);
    t = tcase_create("store");
    tcase_add_test(t, entry_api);
    tcase_add_test(t, round_trip);
    tcase_add_test(t, atomic_save_failure_keeps_old);
    tcase_add_test(t, merge_modes);
    tcase_add_test(t, filters);
    suite_add_tcase(s, t);
    t = tcase_create("import");
    tcase_add_test(t, import_lmeval);
    tcase_add_test(t, import_old_lmeval_and_qlens_ppl);
    tcase_add_test(t, import_qlens_quant);
    tcase_add_test(t, import_numbers_beyond_int);
    suite_add_tcase(s, t);
    t = tcase_create("assets");
    tcase_set_timeout(t, 20);
    tcase_add_test(t, assets_jin_match_source);
    tcase_add_test(t, assets_li_match_source);
    suite_add_tcase(s, t);
    return tu_run(s);
}
