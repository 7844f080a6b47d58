/* report_doc: the report's document, as XHTML or as Markdown + SVG files
 * (see report_int.h).  Nothing touches the disk before doc_write, which
 * writes every file through afile (temp file + rename). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "cli/report_int.h"

static const char css[] =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1000px;margin:0 auto;"
    "padding:18px 24px;color:#222;background:#fafafa;line-height:1.45}"
    "h1{font-size:26px;margin:6px 0 4px}h2{font-size:20px;border-bottom:2px solid #ddd;"
    "padding-bottom:3px;margin-top:34px}h3{font-size:16px;margin-top:22px}"
    "table{border-collapse:collapse;margin:10px 0;font-size:13px;background:#fff}"
    "th,td{border:1px solid #ddd;padding:3px 8px}th{background:#f0f0f0}"
    "td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}"
    "figure{margin:14px 0;background:#fff;border:1px solid #e2e2e2;padding:8px;"
    "display:inline-block;vertical-align:top;margin-right:8px}"
    "figcaption{font-size:12.5px;color:#444;margin-top:4px}"
    "p.note{background:#fff6e0;border-left:4px solid #e0a020;padding:6px 10px;font-size:13px}"
    "pre{background:#f0f0f0;padding:8px;overflow-x:auto;font-size:12.5px}"
    "nav{font-size:13px}nav a{margin-right:12px}"
    "svg.fig{display:block}";

void doc_init(struct rdoc *d, int md, const char *out, struct report_notes *notes)
{
    memset(d, 0, sizeof *d);
    d->md = md;
    d->out = out;
    d->notes = notes;
    sb_init(&d->body);
    sb_init(&d->toc);
}

void doc_free(struct rdoc *d)
{
    sb_free(&d->body);
    sb_free(&d->toc);
    for (int i = 0; i < d->n_figs; i++)
        free(d->fig_svg[i]);
    d->n_figs = 0;
}

int doc_oom(const struct rdoc *d)
{
    return d->body.oom || d->toc.oom;
}

/* Markdown: characters that would start markup inside a table cell or
 * paragraph are backslash-escaped. */
static void md_esc(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("|*_`[]<>\\", *s) && *s)
            sb_puts(b, "\\");
        char c[2] = {*s == '\n' ? ' ' : *s, 0};
        sb_puts(b, c);
    }
}

void doc_h(struct rdoc *d, int level, const char *id, const char *text)
{
    if (d->md) {
        sb_printf(&d->body, "\n%s ", level == 2 ? "##" : "###");
        md_esc(&d->body, text);
        sb_puts(&d->body, "\n\n");
        return;
    }
    sb_printf(&d->body, "<h%d id=\"%s\">", level, id);
    sb_esc(&d->body, text);
    sb_printf(&d->body, "</h%d>\n", level);
    if (level == 2) {
        sb_printf(&d->toc, "<a href=\"#%s\">", id);
        sb_esc(&d->toc, text);
        sb_puts(&d->toc, "</a>");
    }
}

/* Text with `code` spans: <code> in XHTML, kept as is in Markdown. */
static void code_text(struct rdoc *d, char *s)
{
    int code = 0;
    for (char *p = s; p;) {
        char *q = strchr(p, '`');
        if (q)
            *q = 0;
        if (d->md && code)
            sb_puts(&d->body, p);
        else if (d->md)
            md_esc(&d->body, p);
        else
            sb_esc(&d->body, p);
        if (!q)
            break;
        sb_puts(&d->body, d->md ? "`" : code ? "</code>" : "<code>");
        code = !code;
        p = q + 1;
    }
    if (code && !d->md)
        sb_puts(&d->body, "</code>");
}

static void para(struct rdoc *d, const char *cls, const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (d->md) {
        if (cls)
            sb_puts(&d->body, "> **Left out:** ");
        code_text(d, buf);
        sb_puts(&d->body, "\n\n");
        return;
    }
    sb_printf(&d->body, cls ? "<p class=\"%s\"><b>Left out:</b> " : "<p>", cls);
    code_text(d, buf);
    sb_puts(&d->body, "</p>\n");
}

void doc_p(struct rdoc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    para(d, NULL, fmt, ap);
    va_end(ap);
}

void doc_note(struct rdoc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (d->notes && d->notes->n < REPORT_MAX_NOTES) {
        va_list aq;
        va_copy(aq, ap);
        vsnprintf(d->notes->msg[d->notes->n++], sizeof d->notes->msg[0], fmt, aq);
        va_end(aq);
    }
    para(d, "note", fmt, ap);
    va_end(ap);
}

void doc_table(struct rdoc *d, int ncol, const char *const *head, const char *align)
{
    struct sbuf *b = &d->body;
    if (d->md) {
        sb_puts(b, "|");
        for (int i = 0; i < ncol; i++) {
            sb_puts(b, " ");
            md_esc(b, head[i]);
            sb_puts(b, " |");
        }
        sb_puts(b, "\n|");
        for (int i = 0; i < ncol; i++)
            sb_puts(b, align[i] == 'r' ? "---:|" : "---|");
        sb_puts(b, "\n");
        return;
    }
    int named = 0; /* a key/value table has no header row */
    for (int i = 0; i < ncol; i++)
        named |= head[i][0] != 0;
    sb_puts(b, named ? "<table><thead><tr>" : "<table>");
    for (int i = 0; named && i < ncol; i++) {
        sb_printf(b, "<th class=\"%c\">", align[i]);
        sb_esc(b, head[i]);
        sb_puts(b, "</th>");
    }
    sb_puts(b, named ? "</tr></thead><tbody>\n" : "<tbody>\n");
    snprintf(d->align, sizeof d->align, "%s", align);
}

void doc_row(struct rdoc *d, int ncol, const char *const *cells)
{
    struct sbuf *b = &d->body;
    sb_puts(b, d->md ? "|" : "<tr>");
    for (int i = 0; i < ncol; i++) {
        if (d->md) {
            sb_puts(b, " ");
            md_esc(b, cells[i]);
            sb_puts(b, " |");
        } else {
            sb_printf(b, "<td class=\"%c\">", i < (int)strlen(d->align) ? d->align[i] : 'l');
            sb_esc(b, cells[i]);
            sb_puts(b, "</td>");
        }
    }
    sb_puts(b, d->md ? "\n" : "</tr>\n");
}

void doc_table_end(struct rdoc *d)
{
    sb_puts(&d->body, d->md ? "\n" : "</tbody></table>\n");
}

void doc_pre(struct rdoc *d, const char *text)
{
    if (d->md) {
        sb_puts(&d->body, "```\n");
        sb_puts(&d->body, text);
        sb_puts(&d->body, "\n```\n\n");
        return;
    }
    sb_puts(&d->body, "<pre>");
    sb_esc(&d->body, text);
    sb_puts(&d->body, "</pre>\n");
}

void doc_fig_path(const char *out, int k, char *buf, size_t cap)
{
    size_t n = strlen(out);
    if (n > 3 && !strcmp(out + n - 3, ".md"))
        n -= 3;
    snprintf(buf, cap, "%.*s-fig%d.svg", (int)n, out, k);
}

void doc_fig(struct rdoc *d, struct sbuf *svg, const char *caption)
{
    if (svg->oom) {
        d->body.oom = 1;
        sb_free(svg);
        return;
    }
    if (!d->md) {
        /* the caption wraps at the figure's width, so small figures sit
         * side by side */
        const char *w = strstr(svg->p, "width=\"");
        sb_puts(&d->body, "<figure>");
        sb_puts(&d->body, svg->p);
        sb_printf(&d->body, "<figcaption style=\"max-width:%dpx\">", w ? atoi(w + 7) : 760);
        sb_esc(&d->body, caption);
        sb_puts(&d->body, "</figcaption></figure>\n");
        sb_free(svg);
        return;
    }
    if (d->n_figs == RDOC_MAX_FIGS) {
        sb_free(svg);
        return;
    }
    char path[4096];
    doc_fig_path(d->out, d->n_figs + 1, path, sizeof path);
    const char *base = strrchr(path, '/');
    d->fig_svg[d->n_figs++] = svg->p; /* ownership moves to the document */
    svg->p = NULL;
    sb_free(svg);
    sb_puts(&d->body, "![");
    md_esc(&d->body, caption);
    sb_printf(&d->body, "](%s)\n\n*", base ? base + 1 : path);
    md_esc(&d->body, caption);
    sb_puts(&d->body, "*\n\n");
}

static int write_text(const char *path, const char *a, const char *b, const char *c,
                      struct qerr *err)
{
    struct afile af;
    if (afile_open(&af, path, err))
        return err->code ? err->code : QERR_IO;
    fputs(a, af.f);
    if (b)
        fputs(b, af.f);
    if (c)
        fputs(c, af.f);
    return afile_commit(&af, err);
}

int doc_write(struct rdoc *d, const char *title, struct qerr *err)
{
    if (doc_oom(d))
        return qerr_set(err, QERR_NOMEM, "report: out of memory");
    int rc = 0;
    for (int i = 0; i < d->n_figs && !rc; i++) {
        char path[4096];
        doc_fig_path(d->out, i + 1, path, sizeof path);
        rc = write_text(path, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", d->fig_svg[i],
                        NULL, err);
    }
    if (rc)
        return rc;
    struct sbuf head;
    sb_init(&head);
    if (d->md) {
        sb_puts(&head, "# ");
        md_esc(&head, title);
        sb_puts(&head, "\n\n");
        rc = head.oom ? qerr_set(err, QERR_NOMEM, "report: out of memory")
                      : write_text(d->out, head.p, d->body.p, NULL, err);
        sb_free(&head);
        return rc;
    }
    sb_puts(&head, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
                   "<head><meta charset=\"utf-8\"/><title>");
    sb_esc(&head, title);
    sb_printf(&head, "</title><style>%s</style></head>\n<body>\n", css);
    sb_puts(&head, "<h1>");
    sb_esc(&head, title);
    sb_puts(&head, "</h1>\n<nav>");
    sb_puts(&head, d->toc.p ? d->toc.p : "");
    sb_puts(&head, "</nav>\n");
    rc = head.oom ? qerr_set(err, QERR_NOMEM, "report: out of memory")
                  : write_text(d->out, head.p, d->body.p, "</body>\n</html>\n", err);
    sb_free(&head);
    return rc;
}
