/* card_body.c — a card's Markdown body: title, sections (Markdown and plain text), links. */
#include "card_internal.h"

#include <cmark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A body split into lines the way cmark counts them (\n, \r\n or \r end a
 * line), so that cmark's line numbers index straight into the bytes. */
typedef struct lines {
  const char *s;
  size_t len;
  size_t *start; /* start[i] = offset of line i+1; start[n] = len */
  int n;
} lines;

static void lines_init(lines *l, const char *s, size_t len, cx__arena *a) {
  size_t cap = 64;
  l->s = s;
  l->len = len;
  l->start = cx__arena_alloc(a, cap * sizeof *l->start);
  l->n = 0;
  size_t i = 0;
  int cr = memchr(s, '\r', len) != NULL; /* else memchr finds each line's end */
  while (i < len) {
    if ((size_t)l->n + 2 > cap) {
      l->start = cx__arena_realloc(a, l->start, cap * sizeof *l->start,
                                   2 * cap * sizeof *l->start);
      cap *= 2;
    }
    l->start[l->n++] = i;
    if (!cr) {
      const char *nl = memchr(s + i, '\n', len - i);
      i = nl ? (size_t)(nl - s) : len;
    }
    while (i < len && s[i] != '\n' && s[i] != '\r') i++;
    if (i < len) i += (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
  }
  l->start[l->n] = len;
}

/* Lines from..to (1-based, inclusive) without leading blank lines and
 * trailing whitespace, copied into a. */
static char *lines_slice(cx__arena *a_out, const lines *l, int from, int to) {
  if (from < 1) from = 1;
  if (to > l->n) to = l->n;
  if (from > to) return cx__arena_strndup(a_out, "", 0);
  size_t a = l->start[from - 1], b = l->start[to];
  for (;;) { /* drop blank lines at the start */
    size_t i = a;
    while (i < b && (l->s[i] == ' ' || l->s[i] == '\t')) i++;
    if (i < b && (l->s[i] == '\n' || l->s[i] == '\r')) {
      if (l->s[i] == '\r' && i + 1 < b && l->s[i + 1] == '\n') i++;
      a = i + 1;
    } else {
      break;
    }
  }
  while (b > a && (l->s[b - 1] == ' ' || l->s[b - 1] == '\t' || l->s[b - 1] == '\n' ||
                   l->s[b - 1] == '\r'))
    b--;
  return cx__arena_strndup(a_out, l->s + a, b - a);
}

static void ensure_newline(cx__buf *out) {
  if (out->n > 0 && out->p[out->n - 1] != '\n') cx__buf_putc(out, '\n');
}

/* Plain text of one node: no markup, one line per paragraph, list item,
 * heading or code line. Iterative (cmark_iter), so deep nesting is safe. */
static void plain_text(cmark_node *root, cx__buf *out) {
  cmark_iter *it = cmark_iter_new(root);
  cmark_event_type ev;
  while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
    cmark_node *n = cmark_iter_get_node(it);
    const char *lit;
    switch (cmark_node_get_type(n)) {
    case CMARK_NODE_TEXT:
    case CMARK_NODE_CODE:
      lit = cmark_node_get_literal(n);
      if (lit) cx__buf_puts(out, lit);
      break;
    case CMARK_NODE_SOFTBREAK: cx__buf_putc(out, ' '); break;
    case CMARK_NODE_LINEBREAK: cx__buf_putc(out, '\n'); break;
    case CMARK_NODE_CODE_BLOCK:
      ensure_newline(out);
      lit = cmark_node_get_literal(n);
      if (lit) cx__buf_puts(out, lit);
      ensure_newline(out);
      break;
    case CMARK_NODE_PARAGRAPH:
    case CMARK_NODE_HEADING:
    case CMARK_NODE_ITEM:
      ensure_newline(out);
      break;
    default: /* html, thematic breaks: markup only */
      break;
    }
  }
  cmark_iter_free(it);
}

/* b's text trimmed, copied into a; b is emptied for reuse. */
static char *trimmed_take(cx__arena *a, cx__buf *b) {
  char *s = cx__strtrim(a, b->p ? b->p : "", b->n);
  if (b->p) b->p[b->n = 0] = '\0';
  return s;
}

static int count_breaks(cmark_node *root) {
  int n = 0;
  cmark_iter *it = cmark_iter_new(root);
  cmark_event_type ev;
  while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
    cmark_node_type t = cmark_node_get_type(cmark_iter_get_node(it));
    if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK) n++;
  }
  cmark_iter_free(it);
  return n;
}

static int blank_text(cmark_node *n, int allow_colon) {
  if (cmark_node_get_type(n) != CMARK_NODE_TEXT) return 0;
  const char *s = cmark_node_get_literal(n);
  for (; s && *s; s++)
    if (!(*s == ' ' || *s == '\t' || (allow_colon && *s == ':'))) return 0;
  return 1;
}

/* A section lead is a top-level paragraph that starts with bold text alone
 * on its line ("**Plain-English answer**" then a line break, or a paragraph
 * of just that). Bold followed by more text on the same line ("**Note:** …")
 * is ordinary content. Returns 1 and sets *name (caller frees), *rest (the
 * first inline after the lead's line break, or NULL) and *nlines (source
 * lines the lead occupies). */
static int section_lead(cmark_node *para, char **name, cmark_node **rest, int *nlines,
                        cx__arena *a, cx__buf *tmp) {
  cmark_node *strong = cmark_node_first_child(para);
  if (strong == NULL || cmark_node_get_type(strong) != CMARK_NODE_STRONG) return 0;
  cmark_node *n = cmark_node_next(strong);
  if (n && blank_text(n, 1)) n = cmark_node_next(n);
  if (n != NULL && cmark_node_get_type(n) != CMARK_NODE_SOFTBREAK &&
      cmark_node_get_type(n) != CMARK_NODE_LINEBREAK)
    return 0;
  cx__buf *b = tmp;
  plain_text(strong, b);
  while (b->n > 0 && (b->p[b->n - 1] == ':' || b->p[b->n - 1] == ' ')) b->p[--b->n] = '\0';
  char *s = trimmed_take(a, b);
  if (s[0] == '\0') return 0;
  *name = s;
  *nlines = count_breaks(strong) + 1;
  *rest = n ? cmark_node_next(n) : NULL;
  return 1;
}

/* "77) What is …" (or "77. What is …"): the card's number and title. */
static int numbered_title(const char *s, int *number, const char **title) {
  const char *p = s;
  while (*p == ' ') p++;
  const char *digits = p;
  while (*p >= '0' && *p <= '9') p++;
  size_t nd = (size_t)(p - digits);
  if (nd == 0 || nd > 9) return 0;
  while (*p == ' ') p++;
  if (*p != ')' && *p != '.') return 0;
  p++;
  while (*p == ' ' || *p == '\t') p++;
  if (*p == '\0') return 0;
  *number = atoi(digits);
  *title = p;
  return 1;
}

/* The first block is the card's title if it is a numbered heading or a
 * level-1 heading; any other heading starts a section. */
static int take_title(cmark_node *h, cx_card *card, cx__arena *a, cx__buf *tmp) {
  plain_text(h, tmp);
  char *text = trimmed_take(a, tmp); /* in the card's arena: usually the title */
  int number;
  const char *title;
  int ok = 1;
  if (numbered_title(text, &number, &title)) {
    card->number = number;
    card->title = (char *)title; /* the rest of text, which stays in the arena */
  } else if (cmark_node_get_heading_level(h) == 1 && text[0] != '\0') {
    card->title = text;
  } else {
    ok = 0;
  }
  return ok;
}

typedef struct sec {
  char *name;
  int line;     /* where the lead or heading is, 1-based within the body */
  int from, to; /* Markdown lines, 1-based within the body */
  char *text;   /* set when the next section opens */
} sec;

/* The sections found so far. Only the last one's plain text is still being
 * written, so one buffer serves them all. */
typedef struct secs {
  sec *v;
  size_t n, cap;
  cx__buf text; /* the last section's plain text so far */
  cx__arena *scratch, *out;
} secs;

static void close_section(secs *ss) {
  if (ss->n > 0) ss->v[ss->n - 1].text = trimmed_take(ss->out, &ss->text);
}

static sec *open_section(secs *ss, char *name, int line, int from) {
  close_section(ss);
  if (ss->n == ss->cap) {
    size_t cap = ss->cap ? ss->cap * 2 : 16;
    ss->v = cx__arena_realloc(ss->scratch, ss->v, ss->cap * sizeof *ss->v, cap * sizeof *ss->v);
    ss->cap = cap;
  }
  sec *s = &ss->v[ss->n++];
  s->name = name;
  s->line = line;
  s->from = from;
  s->to = from - 1;
  s->text = NULL;
  return s;
}

static int is_id_char(unsigned char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '_' || ch == '-' || ch == '.';
}

/* A card id in a reference: one or two letters then digits ("Q081"), or up
 * to eight letters, '-' or '_', digits ("KC-12"). Standards and clauses
 * ("ISO27001", "SOC2", "A.5.15", "ISO27001:2022") are not card ids. */
static int card_id_shape(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z'))) i++;
  if (i == 0 || i > 8) return 0;
  if (i < n && (s[i] == '-' || s[i] == '_')) i++;
  else if (i > 2) return 0;
  size_t d = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  return i > d && i == n;
}

/* References "(See Q081)", "(see Q081, Q082)", "(See also Q081 and Q090)". */
/* The links alone are malloc'd, not in the card's arena: cx_check takes them
 * from the card it checked (check.c) and frees them itself. */
static void find_links(const char *s, size_t n, cx_card *card) {
  json_t *seen = NULL; /* a set once there are many: a hostile card may hold 100k ids */
  for (size_t i = 0; i + 4 < n; i++) {
    const char *open = memchr(s + i, '(', n - 4 - i);
    if (open == NULL) break;
    i = (size_t)(open - s);
    if (strncasecmp(s + i + 1, "see", 3) != 0) continue;
    size_t j = i + 4;
    if (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) continue;
    size_t end = j;
    while (end < n && end - i < 256 && s[end] != ')' && s[end] != '(' && s[end] != '\n') end++;
    if (end >= n || s[end] != ')') continue;
    for (size_t k = j; k < end;) {
      if (!is_id_char((unsigned char)s[k])) {
        k++;
        continue;
      }
      size_t t = k;
      while (t < end && is_id_char((unsigned char)s[t])) t++;
      size_t te = t;
      while (te > k && (s[te - 1] == '.' || s[te - 1] == '-' || s[te - 1] == '_')) te--;
      int qualified = t < end && (s[t] == ':' || s[t] == '/'); /* "ISO27001:2022" */
      if (!qualified && card_id_shape(s + k, te - k)) {
        char *id = cx_xstrndup(s + k, te - k);
        int dup = card->id && strcmp(card->id, id) == 0;
        if (!dup && seen == NULL && card->links.n < 16) { /* a card has a few: scan them */
          dup = cx__strv_contains(&card->links, id);
        } else if (!dup) {
          if (seen == NULL) {
            seen = json_object();
            for (size_t x = 0; x < card->links.n; x++)
              json_object_set_new(seen, card->links.v[x], json_true());
          }
          dup = json_object_get(seen, id) != NULL;
          if (!dup) json_object_set_new(seen, id, json_true());
        }
        if (dup) free(id);
        else cx__strv_take(NULL, &card->links, id);
      }
      k = t;
    }
    i = end;
  }
  json_decref(seen);
}

/* libcmark allocates a node, a strbuf or an iterator ~200 times per card
 * body and frees them one by one; here they come from the parse's scratch
 * arena and go with it. cmark_mem has no context pointer, hence the
 * thread-local arena. Each block carries its size for realloc. */
static _Thread_local cx__arena *cm_arena;

typedef struct cm_block {
  size_t size;
  size_t pad; /* keeps the block 16-byte aligned */
} cm_block;

static void *cm_calloc(size_t n, size_t size) {
  if (size && n > ((size_t)-1 - sizeof(cm_block)) / size) {
    fprintf(stderr, "cardex: out of memory in libcmark\n");
    abort();
  }
  cm_block *b = cx__arena_alloc(cm_arena, sizeof *b + n * size);
  b->size = n * size;
  memset(b + 1, 0, n * size);
  return b + 1;
}

static void *cm_realloc(void *p, size_t size) {
  if (size > (size_t)-1 - sizeof(cm_block)) {
    fprintf(stderr, "cardex: out of memory in libcmark\n");
    abort();
  }
  cm_block *b = p ? (cm_block *)p - 1 : NULL;
  b = cx__arena_realloc(cm_arena, b, b ? sizeof *b + b->size : 0, sizeof *b + size);
  b->size = size;
  return b + 1;
}

static void cm_free(void *p) { (void)p; }

static cmark_mem cm_mem = {cm_calloc, cm_realloc, cm_free};

void cx__card_body(cx__cardctx *c, const char *md, size_t len, int line0, cx_card *card) {
  card->body = cx__arena_strndup(c->out, md, len);
  find_links(md, len, card);
  size_t k = 0;
  while (k < len && (md[k] == ' ' || md[k] == '\t' || md[k] == '\n' || md[k] == '\r')) k++;
  if (k == len) {
    if (c->nerrors == 0) /* after a missing separator, the empty body is no news */
      cx__card_warn(c, line0 + 1, 1,
                  "the body is empty; write the answer in Markdown after the `---` line");
    return;
  }

  lines l;
  lines_init(&l, md, len, c->scratch);
  cx__arena *prev_arena = cm_arena;
  cm_arena = c->scratch;
  cmark_parser *parser = cmark_parser_new_with_mem(CMARK_OPT_DEFAULT, &cm_mem);
  cmark_parser_feed(parser, md, len);
  cmark_node *doc = cmark_parser_finish(parser);
  /* No cmark_parser_free or cmark_node_free: the arena holds them. */
  secs ss = {NULL, 0, 0, {NULL, 0, 0}, c->scratch, c->out};
  cx__buf tmp; /* a heading's or lead's text */
  cx__buf_init(&tmp);
  sec *cur = NULL;
  cmark_node *b = cmark_node_first_child(doc);
  if (b && cmark_node_get_type(b) == CMARK_NODE_HEADING && take_title(b, card, c->out, &tmp))
    b = cmark_node_next(b);
  for (; b != NULL; b = cmark_node_next(b)) {
    int start = cmark_node_get_start_line(b);
    cmark_node_type t = cmark_node_get_type(b);
    char *name;
    cmark_node *rest;
    int nlines;
    if (t == CMARK_NODE_HEADING) {
      plain_text(b, &tmp);
      if (cur) cur->to = start - 1;
      cur = open_section(&ss, trimmed_take(c->out, &tmp), start, cmark_node_get_end_line(b) + 1);
    } else if (t == CMARK_NODE_PARAGRAPH &&
               section_lead(b, &name, &rest, &nlines, c->out, &tmp)) {
      if (cur) cur->to = start - 1;
      cur = open_section(&ss, name, start, start + nlines);
      for (; rest != NULL; rest = cmark_node_next(rest)) plain_text(rest, &ss.text);
      ensure_newline(&ss.text);
    } else {
      if (cur == NULL) {
        /* Content before any lead: a section without a name, so that no
         * answer text escapes indexing. Markup-only blocks do not count. */
        if (t == CMARK_NODE_HTML_BLOCK || t == CMARK_NODE_THEMATIC_BREAK) continue;
        cur = open_section(&ss, cx__arena_strndup(c->out, "", 0), start, start);
      }
      plain_text(b, &ss.text);
    }
  }
  if (cur) cur->to = l.n;
  close_section(&ss);
  cx__buf_destroy(&ss.text);
  cx__buf_destroy(&tmp);

  card->sections = cx__arena_calloc(c->out, (ss.n ? ss.n : 1) * sizeof *card->sections);
  for (size_t i = 0; i < ss.n; i++) {
    cx_section *s = &card->sections[i];
    s->name = ss.v[i].name;
    s->markdown = lines_slice(c->out, &l, ss.v[i].from, ss.v[i].to);
    s->text = ss.v[i].text;
    for (size_t j = 0; j < i; j++)
      if (s->name[0] && strcasecmp(card->sections[j].name, s->name) == 0) {
        cx__card_warn(c, line0 + ss.v[i].line, 1,
                      "section `%s` appears twice; lookups by name find only the first",
                      s->name);
        break;
      }
  }
  card->nsections = ss.n;
  cm_arena = prev_arena;
}
