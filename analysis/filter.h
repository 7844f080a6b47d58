/* filter: select result entries with a small expression language.
 *
 *   method=GPTQ|SpQR,bits=3..4,model=Qwen*
 *
 * Clauses are separated by ',' and must all hold; `key=alt|alt|...` holds
 * when any alternative matches, `key!=...` when none does.  An alternative
 * is a glob (fnmatch, case-insensitive) for the text fields id, model,
 * method, source and settings.<key>; for every other key (bits, w, a, kv,
 * group_size, memory_gb, speed, ppl_mean, ppl.<dataset>, a benchmark name)
 * it is a number or a range LO..HI (inclusive, either end may be omitted:
 * "3..", "..4", ".." = has the field).  An entry without a numeric field
 * does not match a clause on it. */
#ifndef QLENS_FILTER_H
#define QLENS_FILTER_H

#include "analysis/qerr.h"
#include "analysis/results.h"

#define FILTER_MAX_CLAUSES 16
#define FILTER_MAX_ALTS 16

struct filter_alt {
    double lo, hi;    /* numeric keys: inclusive range */
    char pat[128];    /* text keys: glob */
};

struct filter_clause {
    char key[96];
    int negate;       /* key!=... */
    int text;         /* 1: glob on a text field, 0: numeric range */
    int n_alt;
    struct filter_alt alt[FILTER_MAX_ALTS];
};

struct filter {
    int n;            /* 0 clauses: everything matches */
    struct filter_clause c[FILTER_MAX_CLAUSES];
};

/* Parse text (NULL or "" = match all).  QERR_ARG with a message naming the
 * clause on a syntax error. */
int filter_parse(struct filter *f, const char *text, struct qerr *err);
/* The text field `key` (id, model, method, source, settings.KEY) of e, or
 * NULL when key is not a text field.  buf (n bytes) holds settings values. */
const char *filter_text_field(const struct results_entry *e, const char *key, char *buf,
                              size_t n);
/* Does entry e satisfy every clause? */
int filter_match(const struct filter *f, const struct results_entry *e);

#endif
