/* filter: parse and apply `key=a|b,key=lo..hi` selections on result
 * entries (grammar in filter.h). */
#include "analysis/filter.h"

#include <cJSON.h>
#include <fnmatch.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_text_key(const char *k)
{
    return !strcmp(k, "id") || !strcmp(k, "model") || !strcmp(k, "method") ||
           !strcmp(k, "source") || !strncmp(k, "settings.", 9);
}

/* A whole-string number; 1 on success. */
static int parse_num(const char *s, double *v)
{
    char *end;
    if (!*s)
        return 0;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v);
}

static int parse_alt(struct filter_clause *c, const char *s, struct filter_alt *a,
                     struct qerr *err)
{
    if (strlen(s) >= sizeof a->pat)
        return qerr_set(err, QERR_ARG, "filter: value '%.40s...' too long", s);
    strcpy(a->pat, s);
    if (c->text)
        return QERR_OK;
    const char *dots = strstr(s, "..");
    if (!dots) {
        if (!parse_num(s, &a->lo))
            return qerr_set(err, QERR_ARG, "filter: %s=%s: '%s' is not a number or a "
                            "range LO..HI", c->key, s, s);
        a->hi = a->lo;
        return QERR_OK;
    }
    char lo[128], hi[128];
    snprintf(lo, sizeof lo, "%.*s", (int)(dots - s), s);
    snprintf(hi, sizeof hi, "%s", dots + 2);
    a->lo = -INFINITY;
    a->hi = INFINITY;
    if ((*lo && !parse_num(lo, &a->lo)) || (*hi && !parse_num(hi, &a->hi)))
        return qerr_set(err, QERR_ARG, "filter: %s=%s: bad range (want LO..HI with "
                        "numbers, e.g. 3..4)", c->key, s);
    return QERR_OK;
}

static int parse_clause(struct filter_clause *c, char *s, struct qerr *err)
{
    char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return qerr_set(err, QERR_ARG, "filter: clause '%s' is not KEY=VALUE", s);
    c->negate = eq > s && eq[-1] == '!';
    size_t klen = (size_t)(eq - s) - (size_t)c->negate;
    if (klen == 0 || klen >= sizeof c->key)
        return qerr_set(err, QERR_ARG, "filter: clause '%s': bad key", s);
    memcpy(c->key, s, klen);
    c->key[klen] = '\0';
    c->text = is_text_key(c->key);
    char *save = NULL;
    for (char *a = strtok_r(eq + 1, "|", &save); a; a = strtok_r(NULL, "|", &save)) {
        if (c->n_alt == FILTER_MAX_ALTS)
            return qerr_set(err, QERR_ARG, "filter: more than %d alternatives for '%s'",
                            FILTER_MAX_ALTS, c->key);
        int rc = parse_alt(c, a, &c->alt[c->n_alt++], err);
        if (rc)
            return rc;
    }
    if (c->n_alt == 0)
        return qerr_set(err, QERR_ARG, "filter: clause '%s=' has no value", c->key);
    return QERR_OK;
}

int filter_parse(struct filter *f, const char *text, struct qerr *err)
{
    memset(f, 0, sizeof *f);
    if (!text || !*text)
        return QERR_OK;
    char *dup = strdup(text), *save = NULL;
    if (!dup)
        return qerr_set(err, QERR_NOMEM, "out of memory");
    int rc = QERR_OK;
    for (char *cl = strtok_r(dup, ",", &save); cl && !rc; cl = strtok_r(NULL, ",", &save)) {
        while (*cl == ' ')
            cl++;
        if (f->n == FILTER_MAX_CLAUSES)
            rc = qerr_set(err, QERR_ARG, "filter: more than %d clauses", FILTER_MAX_CLAUSES);
        else
            rc = parse_clause(&f->c[f->n++], cl, err);
    }
    free(dup);
    return rc;
}

/* settings.<key> as text ("" when absent, numbers printed with %g). */
static void setting_text(const struct results_entry *e, const char *key, char *buf,
                         size_t n)
{
    buf[0] = '\0';
    cJSON *o = e->settings_json ? cJSON_Parse(e->settings_json) : NULL;
    const cJSON *j = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (cJSON_IsString(j))
        snprintf(buf, n, "%s", j->valuestring);
    else if (cJSON_IsNumber(j))
        snprintf(buf, n, "%g", j->valuedouble);
    else if (cJSON_IsBool(j))
        snprintf(buf, n, "%s", cJSON_IsTrue(j) ? "true" : "false");
    cJSON_Delete(o);
}

const char *filter_text_field(const struct results_entry *e, const char *key, char *buf,
                              size_t n)
{
    if (!is_text_key(key))
        return NULL;
    if (!strcmp(key, "id")) return e->id;
    if (!strcmp(key, "model")) return e->model;
    if (!strcmp(key, "method")) return e->method;
    if (!strcmp(key, "source")) return e->source;
    setting_text(e, key + 9, buf, n);
    return buf;
}

static int clause_match(const struct filter_clause *c, const struct results_entry *e)
{
    int hit = 0;
    if (c->text) {
        char buf[256];
        const char *v = filter_text_field(e, c->key, buf, sizeof buf);
        for (int i = 0; i < c->n_alt && !hit; i++)
            hit = fnmatch(c->alt[i].pat, v, FNM_CASEFOLD) == 0;
    } else {
        double v = results_entry_value(e, c->key);
        if (isnan(v))
            return 0; /* lacking the field fails `=` and `!=` alike */
        for (int i = 0; i < c->n_alt && !hit; i++)
            hit = v >= c->alt[i].lo && v <= c->alt[i].hi;
    }
    return c->negate ? !hit : hit;
}

int filter_match(const struct filter *f, const struct results_entry *e)
{
    for (int i = 0; i < f->n; i++)
        if (!clause_match(&f->c[i], e))
            return 0;
    return 1;
}
