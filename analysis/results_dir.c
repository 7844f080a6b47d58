/* results_dir: a store from every *.json file of a folder (the bundled
 * papers' data), merged strictly in file-name order. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/results.h"

#define RESULTS_DIR_MAX 64

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep every file's source and citation when several are loaded together. */
void results_append_meta(char *dst, size_t n, const char *add)
{
    if (!add[0] || strstr(dst, add))
        return;
    size_t l = strlen(dst);
    if (l && l + 3 < n)
        snprintf(dst + l, n - l, " | %s", add);
    else if (!l)
        snprintf(dst, n, "%s", add);
}

void results_csv_field(FILE *f, const char *s)
{
    putc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            putc('"', f);
        putc(*s, f);
    }
    putc('"', f);
}

int results_load_dir(struct results_store *s, const char *dir, struct qerr *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return qerr_set(err, QERR_IO, "%s: cannot open directory", dir);
    char *names[RESULTS_DIR_MAX];
    int n = 0, rc = QERR_OK;
    for (struct dirent *de; (de = readdir(d)) && n < RESULTS_DIR_MAX;) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json") && !(names[n++] = strdup(de->d_name)))
            rc = qerr_set(err, QERR_NOMEM, "%s: out of memory listing the folder", dir);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", dir, names[i] ? names[i] : "");
        struct results_store t;
        results_store_init(&t);
        if (!rc)
            rc = results_load(&t, p, err);
        if (!rc)
            rc = results_merge(s, &t, RESULTS_MERGE_STRICT, NULL, NULL, err);
        results_append_meta(s->source, sizeof s->source, t.source);
        results_append_meta(s->citation, sizeof s->citation, t.citation);
        results_store_free(&t);
        free(names[i]);
    }
    return rc;
}
