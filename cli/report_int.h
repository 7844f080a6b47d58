/* report internals: the document being written (src/report_doc.c) and the
 * sections that fill it (src/report.c).  One writer, two outputs: XHTML
 * with inline SVG, or Markdown with SVG files beside it. */
#ifndef QLENS_REPORT_INT_H
#define QLENS_REPORT_INT_H

#include <stdarg.h>

#include "analysis/qerr.h"
#include "cli/report.h"
#include "src/svg.h"

#define RDOC_MAX_FIGS 64

struct rdoc {
    int md;
    struct sbuf body;              /* the document after its head          */
    struct sbuf toc;               /* HTML: links to the sections          */
    const char *out;               /* main file                            */
    char *fig_svg[RDOC_MAX_FIGS];  /* md: figure texts, written at the end */
    int n_figs;
    char align[32];                /* of the open table's columns          */
    struct report_notes *notes;
};

void doc_init(struct rdoc *d, int md, const char *out, struct report_notes *notes);
void doc_free(struct rdoc *d);
/* Section heading (level 2 or 3) with an anchor id. */
void doc_h(struct rdoc *d, int level, const char *id, const char *text);
/* A paragraph; the formatted text is escaped for the output format. */
void doc_p(struct rdoc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A paragraph saying what was left out (also recorded in the notes). */
void doc_note(struct rdoc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Tables: align is one char per column, 'l' or 'r'. */
void doc_table(struct rdoc *d, int ncol, const char *const *head, const char *align);
void doc_row(struct rdoc *d, int ncol, const char *const *cells);
void doc_table_end(struct rdoc *d);
/* A figure: svg (a complete <svg> element, consumed) with its caption. */
void doc_fig(struct rdoc *d, struct sbuf *svg, const char *caption);
/* Preformatted text (command lines). */
void doc_pre(struct rdoc *d, const char *text);
/* Write everything atomically: the main file last.  title for <title>. */
int doc_write(struct rdoc *d, const char *title, struct qerr *err);
/* Name of figure k's file for Markdown: OUT without .md + "-figK.svg". */
void doc_fig_path(const char *out, int k, char *buf, size_t cap);
/* Is there a memory failure anywhere in the document? */
int doc_oom(const struct rdoc *d);

#endif
