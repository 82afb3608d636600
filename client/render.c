/* render.c — Markdown (cmark's AST) rendered for the terminal: wrapped, styled when colour is on. */
#include "client.h"

#include <cmark.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL) abort();
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}
static void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Inline style state, re-emitted whole at each change so nesting works. */
typedef struct style {
  int bold, italic, code, link;
} style;

static void emit_style(sbuf *b, const cl_opts *o, const style *st) {
  if (!o->color) return;
  sb_puts(b, "\033[0");
  if (st->bold) sb_puts(b, ";1");
  if (st->italic) sb_puts(b, ";3");
  if (st->code) sb_puts(b, ";36");
  if (st->link) sb_puts(b, ";4");
  sb_puts(b, "m");
}

/* Renders the inline children of node into b. */
static void inlines(sbuf *b, const cl_opts *o, cmark_node *node, style *st) {
  for (cmark_node *c = cmark_node_first_child(node); c; c = cmark_node_next(c)) {
    switch (cmark_node_get_type(c)) {
    case CMARK_NODE_TEXT:
    case CMARK_NODE_HTML_INLINE:
      sb_puts(b, cmark_node_get_literal(c));
      break;
    case CMARK_NODE_SOFTBREAK:
      sb_puts(b, " ");
      break;
    case CMARK_NODE_LINEBREAK:
      sb_puts(b, "\n");
      break;
    case CMARK_NODE_CODE:
      st->code++;
      emit_style(b, o, st);
      sb_puts(b, cmark_node_get_literal(c));
      st->code--;
      emit_style(b, o, st);
      break;
    case CMARK_NODE_STRONG:
      st->bold++;
      emit_style(b, o, st);
      inlines(b, o, c, st);
      st->bold--;
      emit_style(b, o, st);
      break;
    case CMARK_NODE_EMPH:
      st->italic++;
      emit_style(b, o, st);
      inlines(b, o, c, st);
      st->italic--;
      emit_style(b, o, st);
      break;
    case CMARK_NODE_LINK: {
      size_t start = b->n;
      st->link++;
      emit_style(b, o, st);
      inlines(b, o, c, st);
      st->link--;
      emit_style(b, o, st);
      const char *url = cmark_node_get_url(c);
      /* Show the target unless the text already is the URL. */
      if (url && *url && strstr(b->p + start, url) == NULL) {
        sb_puts(b, " <");
        sb_puts(b, url);
        sb_puts(b, ">");
      }
      break;
    }
    case CMARK_NODE_IMAGE:
      sb_puts(b, "[image: ");
      inlines(b, o, c, st);
      sb_puts(b, "]");
      break;
    default:
      inlines(b, o, c, st);
      break;
    }
  }
}

static void blocks(FILE *f, const cl_opts *o, cmark_node *node, int indent, const char *lead,
                   int tight);

/* Prints one block; lead (e.g. "• ") goes before its first line. */
static void block(FILE *f, const cl_opts *o, cmark_node *c, int indent, const char *lead,
                  int tight, int last) {
  int lead_w = lead ? (int)cl_display_width(lead, strlen(lead)) : 0;
  switch (cmark_node_get_type(c)) {
  case CMARK_NODE_PARAGRAPH:
  case CMARK_NODE_HEADING: {
    int heading = cmark_node_get_type(c) == CMARK_NODE_HEADING;
    sbuf b = {0};
    style st = {0};
    if (heading) {
      st.bold = 1;
      emit_style(&b, o, &st);
    }
    inlines(&b, o, c, &st);
    if (o->color) sb_puts(&b, "\033[0m");
    if (b.p == NULL) sb_puts(&b, "");
    if (lead) {
      for (int i = 0; i < indent - lead_w; i++) fputc(' ', f);
      fputs(lead, f);
      cl_wrap(f, b.p, 0, indent, o->width);
    } else {
      cl_wrap(f, b.p, indent, indent, o->width);
    }
    free(b.p);
    if (!tight && !last) fputc('\n', f);
    break;
  }
  case CMARK_NODE_LIST: {
    int ordered = cmark_node_get_list_type(c) == CMARK_ORDERED_LIST;
    int n = ordered ? cmark_node_get_list_start(c) : 1;
    int list_tight = cmark_node_get_list_tight(c);
    int first = 1;
    for (cmark_node *item = cmark_node_first_child(c); item; item = cmark_node_next(item), n++) {
      char bullet[32];
      if (ordered) snprintf(bullet, sizeof bullet, "%d. ", n);
      else snprintf(bullet, sizeof bullet, "%s", "\xE2\x80\xA2 ");
      int bw = (int)cl_display_width(bullet, strlen(bullet));
      if (first && lead) {
        /* A list that starts a list item: the outer lead goes first. */
        for (int i = 0; i < indent - lead_w; i++) fputc(' ', f);
        fputs(lead, f);
        fputc('\n', f);
      }
      first = 0;
      blocks(f, o, item, indent + bw, bullet, list_tight);
    }
    if (!last) fputc('\n', f);
    break;
  }
  case CMARK_NODE_CODE_BLOCK: {
    const char *lit = cmark_node_get_literal(c);
    fputs(cl_sgr(o, "36"), f);
    for (const char *p = lit; *p;) {
      const char *e = strchr(p, '\n');
      size_t len = e ? (size_t)(e - p) : strlen(p);
      for (int i = 0; i < indent + 4; i++) fputc(' ', f);
      fwrite(p, 1, len, f);
      fputc('\n', f);
      p += len + (e ? 1 : 0);
    }
    fputs(cl_sgr(o, CL_RESET), f);
    if (!last) fputc('\n', f);
    break;
  }
  case CMARK_NODE_BLOCK_QUOTE:
    blocks(f, o, c, indent + 2, "\xE2\x94\x82 ", 0);
    break;
  case CMARK_NODE_THEMATIC_BREAK: {
    int w = o->width - indent > 0 ? o->width - indent : 10;
    for (int i = 0; i < indent; i++) fputc(' ', f);
    for (int i = 0; i < w; i++) fputs("\xE2\x94\x80", f);
    fputs("\n", f);
    if (!last) fputc('\n', f);
    break;
  }
  case CMARK_NODE_HTML_BLOCK:
    fputs(cmark_node_get_literal(c), f);
    break;
  default:
    blocks(f, o, c, indent, lead, tight);
    break;
  }
}

static void blocks(FILE *f, const cl_opts *o, cmark_node *node, int indent, const char *lead,
                   int tight) {
  for (cmark_node *c = cmark_node_first_child(node); c; c = cmark_node_next(c)) {
    block(f, o, c, indent, lead, tight, cmark_node_next(c) == NULL);
    lead = NULL; /* only the first block of a list item carries the bullet */
  }
}

void cl_render_markdown(FILE *f, const cl_opts *o, const char *markdown, int indent) {
  cmark_node *doc = cmark_parse_document(markdown, strlen(markdown), CMARK_OPT_DEFAULT);
  blocks(f, o, doc, indent, NULL, 0);
  cmark_node_free(doc);
}
