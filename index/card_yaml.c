/* card_yaml.c — a card's YAML header: libyaml events to a bounded tree, then the typed fields. */
#include "card_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Nesting deeper than this is refused: the tree is walked recursively and a
 * card header never needs more than four levels (ui.actions[0].label). */
#define MAX_DEPTH 64

enum { Y_SCALAR, Y_SEQ, Y_MAP };
/* Scalar types after YAML 1.2 core-schema resolution. */
enum { T_NULL, T_BOOL, T_INT, T_FLOAT, T_STR };

typedef struct ynode ynode;
struct ynode {
  int kind;
  int type;       /* scalars only */
  int plain;      /* a plain scalar without a tag: `<<` is then a merge key */
  int line, col;  /* 1-based, in the file */
  char *value;    /* scalars: NUL-terminated text as written (escapes resolved) */
  size_t len;
  ynode **kids;   /* sequences: items; mappings: key, value, key, value … */
  size_t n, cap;
};
/* The tree, its strings and the anchors live in the parse's scratch arena
 * (c->scratch) and go with it: nothing here is freed one by one. */

static void ynode_push(cx__arena *a, ynode *parent, ynode *kid) {
  if (parent->n == parent->cap) {
    size_t cap = parent->cap ? parent->cap * 2 : 4;
    parent->kids = cx__arena_realloc(a, parent->kids, parent->cap * sizeof *parent->kids,
                                     cap * sizeof *parent->kids);
    parent->cap = cap;
  }
  parent->kids[parent->n++] = kid;
}

static int is_one_of(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return 1;
  return 0;
}

static int all_chars(const char *s, const char *set) {
  if (*s == '\0') return 0;
  return s[strspn(s, set)] == '\0';
}

/* YAML 1.2 core schema for plain scalars. Quoted and block scalars are strings. */
static int resolve_plain(const char *s) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};
  static const char *const specials[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                                         "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL};
  /* Each list only for the first characters its words have: most plain
   * scalars are keys and words. */
  switch (s[0]) {
  case '\0': case '~': case 'n': case 'N':
    if (is_one_of(s, nulls)) return T_NULL;
    if (s[0] == 'n' || s[0] == 'N') return T_STR;
    break;
  case 't': case 'T': case 'f': case 'F':
    return is_one_of(s, bools) ? T_BOOL : T_STR;
  case '.': case '+': case '-':
    if (is_one_of(s, specials)) return T_FLOAT;
    break;
  default:
    if (!(s[0] >= '0' && s[0] <= '9')) return T_STR;
  }
  if (s[0] == '0' && s[1] == 'x' && all_chars(s + 2, "0123456789abcdefABCDEF")) return T_INT;
  if (s[0] == '0' && s[1] == 'o' && all_chars(s + 2, "01234567")) return T_INT;
  const char *p = s;
  if (*p == '-' || *p == '+') p++;
  if (all_chars(p, "0123456789")) return T_INT;
  /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
  size_t ndigits = strspn(p, "0123456789");
  p += ndigits;
  if (*p == '.') {
    size_t frac = strspn(p + 1, "0123456789");
    if (ndigits == 0 && frac == 0) return T_STR;
    p += 1 + frac;
  } else if (ndigits == 0) {
    return T_STR;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '-' || *p == '+') p++;
    size_t exp = strspn(p, "0123456789");
    if (exp == 0) return T_STR;
    p += exp;
  }
  return *p == '\0' ? T_FLOAT : T_STR;
}

static const char *kind_name(const ynode *y) {
  if (y->kind == Y_SEQ) return "a list";
  if (y->kind == Y_MAP) return "a mapping";
  switch (y->type) {
  case T_NULL: return "null";
  case T_BOOL: return "a boolean";
  case T_INT: return "an integer";
  case T_FLOAT: return "a number";
  default: return "a string";
  }
}

/* ---- events to tree ---------------------------------------------------- */

typedef struct anchor {
  char *name;
  ynode *node; /* borrowed from the tree */
} anchor;

typedef struct builder {
  cx__cardctx *c;
  cx__arena *a; /* c->scratch */
  int line0;
  ynode *root;
  ynode *stack[MAX_DEPTH];
  char *stack_anchor[MAX_DEPTH]; /* anchor of each open collection, or NULL */
  int depth;
  anchor *anchors;
  size_t nanchors, capanchors;
  long expanded; /* nodes copied by alias expansion so far */
  int ndocs;
  int failed;    /* stop: an error was reported */
} builder;

static int mark_line(const builder *b, yaml_mark_t m) { return (int)m.line + 1 + b->line0; }
static int mark_col(yaml_mark_t m) { return (int)m.column + 1; }

static void add_anchor(builder *b, const char *name, ynode *node) {
  if (b->nanchors == b->capanchors) {
    size_t cap = b->capanchors ? b->capanchors * 2 : 8;
    b->anchors = cx__arena_realloc(b->a, b->anchors, b->capanchors * sizeof *b->anchors,
                                   cap * sizeof *b->anchors);
    b->capanchors = cap;
  }
  b->anchors[b->nanchors].name = cx__arena_strndup(b->a, name, strlen(name));
  b->anchors[b->nanchors].node = node;
  b->nanchors++;
}

/* A node is attached to its parent as soon as it starts, so that whatever
 * happens the whole partial tree is freed from the root. */
static int attach(builder *b, ynode *y) {
  if (b->depth == 0) {
    if (b->root != NULL) /* cannot happen within one document; be safe */
      return -1;
    b->root = y;
    return 0;
  }
  ynode_push(b->a, b->stack[b->depth - 1], y);
  return 0;
}

static ynode *new_node(builder *b, int kind, yaml_mark_t m) {
  ynode *y = cx__arena_calloc(b->a, sizeof *y);
  y->kind = kind;
  y->type = T_STR;
  y->line = mark_line(b, m);
  y->col = mark_col(m);
  return y;
}

/* Deep copy for an alias. Every copied node counts against the bound, which
 * is what defeats "billion laughs" headers: the copy stops at the bound. */
static ynode *copy_node(builder *b, const ynode *src, int depth, yaml_mark_t at,
                        const char *name) {
  char clip[CX__CLIP_SIZE];
  if (b->failed) return NULL;
  if (++b->expanded > b->c->max_alias_expansions) {
    cx__card_error(b->c, mark_line(b, at), mark_col(at),
                   "alias `*%s` expands the header past %d nodes (max_alias_expansions); "
                   "aliases of aliases multiply: write the values out instead",
                   cx__clip(name, clip), b->c->max_alias_expansions);
    b->failed = 1;
    return NULL;
  }
  if (depth > MAX_DEPTH) {
    cx__card_error(b->c, mark_line(b, at), mark_col(at),
                   "alias `*%s` nests the header deeper than %d levels", cx__clip(name, clip),
                   MAX_DEPTH);
    b->failed = 1;
    return NULL;
  }
  ynode *y = cx__arena_calloc(b->a, sizeof *y);
  y->kind = src->kind;
  y->type = src->type;
  y->plain = src->plain;
  y->line = src->line;
  y->col = src->col;
  y->value = src->value; /* never changed: the copies can share it */
  y->len = src->len;
  for (size_t i = 0; i < src->n; i++) {
    ynode *k = copy_node(b, src->kids[i], depth + 1, at, name);
    if (k == NULL) break;
    ynode_push(b->a, y, k);
  }
  return y;
}

static void on_alias(builder *b, const yaml_event_t *e) {
  const char *name = (const char *)e->data.alias.anchor;
  char clip[CX__CLIP_SIZE];
  for (size_t i = b->nanchors; i-- > 0;) {
    if (strcmp(b->anchors[i].name, name) != 0) continue;
    ynode *y = copy_node(b, b->anchors[i].node, b->depth + 1, e->start_mark, name);
    if (y == NULL) return;
    /* The alias's position says more than the anchor's about where it is used. */
    y->line = mark_line(b, e->start_mark);
    y->col = mark_col(e->start_mark);
    attach(b, y);
    return;
  }
  for (int i = 0; i < b->depth; i++) {
    if (b->stack_anchor[i] && strcmp(b->stack_anchor[i], name) == 0) {
      cx__card_error(b->c, mark_line(b, e->start_mark), mark_col(e->start_mark),
                     "alias `*%s` is used inside its own anchor `&%s` (a recursive "
                     "structure); a card header cannot refer to itself",
                     cx__clip(name, clip), cx__clip(name, clip));
      b->failed = 1;
      return;
    }
  }
  cx__card_error(b->c, mark_line(b, e->start_mark), mark_col(e->start_mark),
                 "alias `*%s` refers to no anchor; define `&%s` on a value before using it",
                 cx__clip(name, clip), cx__clip(name, clip));
  b->failed = 1;
}

static void on_scalar(builder *b, yaml_event_t *e) {
  ynode *y = new_node(b, Y_SCALAR, e->start_mark);
  const char *v = (const char *)e->data.scalar.value;
  size_t len = e->data.scalar.length;
  if (memchr(v, '\0', len) != NULL) {
    /* The file has no NUL bytes (checked earlier), so an escape made this one. */
    cx__card_error(b->c, y->line, y->col,
                   "this string contains a NUL character (from an escape such as `\\0`); "
                   "remove it");
    b->failed = 1;
    return;
  }
  y->value = cx__arena_strndup(b->a, v, len);
  y->len = len;
  const char *tag = (const char *)e->data.scalar.tag;
  y->plain = tag == NULL && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (tag != NULL && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0))
    y->type = T_STR;
  else if (e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || tag != NULL)
    y->type = resolve_plain(y->value);
  else
    y->type = T_STR;
  attach(b, y);
  if (e->data.scalar.anchor) add_anchor(b, (const char *)e->data.scalar.anchor, y);
}

static void on_start(builder *b, const yaml_event_t *e, int kind, const yaml_char_t *anchor_name) {
  if (b->depth == MAX_DEPTH) {
    cx__card_error(b->c, mark_line(b, e->start_mark), mark_col(e->start_mark),
                   "the header nests deeper than %d levels; a card needs at most 3", MAX_DEPTH);
    b->failed = 1;
    return;
  }
  ynode *y = new_node(b, kind, e->start_mark);
  attach(b, y);
  b->stack_anchor[b->depth] =
      anchor_name ? cx__arena_strndup(b->a, (const char *)anchor_name,
                                      strlen((const char *)anchor_name))
                  : NULL;
  b->stack[b->depth++] = y;
}

static void on_end(builder *b) {
  b->depth--;
  char *name = b->stack_anchor[b->depth];
  /* Registered only now, when complete: an alias inside it is recursive. */
  if (name) add_anchor(b, name, b->stack[b->depth]);
  b->stack_anchor[b->depth] = NULL;
}

/* The character at a libyaml mark (line, column in characters) of the
 * header text, or '\0' past its end: what a scanner error tripped on. */
static char char_at(const char *yaml, size_t len, yaml_mark_t m) {
  size_t i = 0, line = 0, col = 0;
  while (i < len && line < m.line) {
    if (yaml[i] == '\n' || (yaml[i] == '\r' && !(i + 1 < len && yaml[i + 1] == '\n'))) line++;
    i++;
  }
  while (i < len && col < m.column) {
    i++;
    while (i < len && ((unsigned char)yaml[i] & 0xC0) == 0x80) i++;
    col++;
  }
  return i < len ? yaml[i] : '\0';
}

static void report_yaml_error(builder *b, const yaml_parser_t *p, const char *yaml, size_t len) {
  if (p->error == YAML_MEMORY_ERROR) {
    fprintf(stderr, "cardex: out of memory in libyaml\n");
    abort();
  }
  const char *problem = p->problem ? p->problem : "unknown problem";
  const char *context = p->context;
  yaml_mark_t at = p->problem_mark;
  if (p->error == YAML_READER_ERROR) { /* not reached: the bytes were validated before */
    cx__card_error(b->c, 0, 0, "the header is not readable text: %s", problem);
    return;
  }
  if (context && strstr(context, "quoted scalar") && strstr(problem, "end of stream")) {
    /* The end of the header says nothing; the opening quote does. */
    cx__card_error(b->c, mark_line(b, p->context_mark), mark_col(p->context_mark),
                   "malformed YAML in the header: this quoted string is never closed; add "
                   "the closing quote");
    return;
  }
  const char *hint = "check the indentation and quoting there";
  char ch = char_at(yaml, len, at);
  if (strstr(problem, "document start"))
    hint = "a line `...` ends the header's YAML early: remove it";
  else if (ch == '\t')
    hint = "YAML indentation must use spaces, not tabs";
  else if (strstr(problem, "cannot start any token") && (ch == '@' || ch == '`'))
    hint = "a value cannot start with `@` or a backquote: put it in quotes";
  if (context)
    cx__card_error(b->c, mark_line(b, at), mark_col(at),
                   "malformed YAML in the header: %s (%s on line %d); %s", problem, context,
                   mark_line(b, p->context_mark), hint);
  else
    cx__card_error(b->c, mark_line(b, at), mark_col(at), "malformed YAML in the header: %s; %s",
                   problem, hint);
}

/* Returns the root node (in c->scratch), or NULL after reporting an error or
 * when the header is empty (*empty set). */
static ynode *build_tree(cx__cardctx *c, const char *yaml, size_t len, int line0, int *empty) {
  builder b;
  memset(&b, 0, sizeof b);
  b.c = c;
  b.a = c->scratch;
  b.line0 = line0;
  *empty = 0;

  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    fprintf(stderr, "cardex: out of memory in libyaml\n");
    abort();
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
  yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
  int done = 0;
  while (!done && !b.failed) {
    yaml_event_t e;
    if (!yaml_parser_parse(&p, &e)) {
      report_yaml_error(&b, &p, yaml, len);
      b.failed = 1;
      break;
    }
    switch (e.type) {
    case YAML_DOCUMENT_START_EVENT:
      if (++b.ndocs > 1) {
        cx__card_error(c, mark_line(&b, e.start_mark), mark_col(e.start_mark),
                       "the header holds more than one YAML document; remove the `---` "
                       "or `...` line inside it");
        b.failed = 1;
      }
      break;
    case YAML_SCALAR_EVENT: on_scalar(&b, &e); break;
    case YAML_SEQUENCE_START_EVENT: on_start(&b, &e, Y_SEQ, e.data.sequence_start.anchor); break;
    case YAML_MAPPING_START_EVENT: on_start(&b, &e, Y_MAP, e.data.mapping_start.anchor); break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: on_end(&b); break;
    case YAML_ALIAS_EVENT: on_alias(&b, &e); break;
    case YAML_STREAM_END_EVENT: done = 1; break;
    default: break;
    }
    yaml_event_delete(&e);
  }
  yaml_parser_delete(&p);
  if (b.failed) return NULL;
  if (b.root == NULL || (b.root->kind == Y_SCALAR && b.root->type == T_NULL)) {
    *empty = 1;
    return NULL;
  }
  return b.root;
}

/* ---- values as JSON (for extras) ---------------------------------------- */

static json_t *scalar_to_json(const ynode *y) {
  switch (y->type) {
  case T_NULL: return json_null();
  case T_BOOL: return json_boolean(y->value[0] == 't' || y->value[0] == 'T');
  case T_INT: {
    const char *s = y->value;
    int base = 10;
    char *end;
    if (s[0] == '0' && s[1] == 'x') s += 2, base = 16;
    else if (s[0] == '0' && s[1] == 'o') s += 2, base = 8;
    errno = 0;
    long long v = strtoll(s, &end, base);
    if (errno == 0 && *end == '\0') return json_integer(v);
    double d = strtod(y->value, &end);
    if (base == 10 && *end == '\0' && isfinite(d)) return json_real(d);
    return json_stringn(y->value, y->len); /* too big for JSON numbers: keep the text */
  }
  case T_FLOAT: {
    char *end;
    double d = strtod(y->value, &end);
    if (*end == '\0' && isfinite(d)) return json_real(d);
    return json_stringn(y->value, y->len); /* .inf, .nan: JSON has no such numbers */
  }
  default: return json_stringn(y->value, y->len);
  }
}

static char *compact_json(const ynode *y);

static json_t *node_to_json(cx__cardctx *c, const ynode *y) {
  if (y->kind == Y_SCALAR) return scalar_to_json(y);
  if (y->kind == Y_SEQ) {
    json_t *a = json_array();
    for (size_t i = 0; i < y->n; i++) json_array_append_new(a, node_to_json(c, y->kids[i]));
    return a;
  }
  json_t *o = json_object();
  for (size_t i = 0; i + 1 < y->n; i += 2) {
    const ynode *k = y->kids[i];
    char *key = k->kind == Y_SCALAR ? cx_xstrdup(k->value) : compact_json(k);
    if (json_object_get(o, key) == NULL) {
      json_object_set_new(o, key, node_to_json(c, y->kids[i + 1]));
    } else if (c != NULL) { /* NULL: a complex key being spelled out; nothing to report */
      char clip[CX__CLIP_SIZE];
      cx__card_error(c, k->line, k->col, "duplicate key `%s` in this mapping; remove one",
                     cx__clip(key, clip));
    }
    free(key);
  }
  return o;
}

static char *compact_json(const ynode *y) {
  json_t *j = node_to_json(NULL, y);
  char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(j);
  if (s == NULL) {
    fprintf(stderr, "cardex: out of memory encoding JSON\n");
    abort();
  }
  return s;
}

/* ---- the schema --------------------------------------------------------- */

static const char *const header_keys[] = {"id", "query", "packs", "primary_ids", "overlap_ids",
                                          "capability_tags", "flags", "sources", "ui",
                                          "output_mode", "graph_required", "notes", NULL};
static const char *const source_keys[] = {"title", "id", "locator", NULL};
static const char *const ui_keys[] = {"cards_hint", "actions", NULL};
static const char *const action_keys[] = {"type", "target", "label", NULL};

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 32 || lb > 32) return 99;
  size_t d[33][33];
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return d[la][lb];
}

/* Keeps an unknown key's value as JSON in card->extras and warns about it. */
static void keep_extra(cx__cardctx *c, cx_card *card, const char *where, const char *key,
                       const ynode *k, const ynode *v, const char *const *known) {
  cx__buf list, full;
  cx__buf_init(&list);
  cx__buf_init(&full);
  const char *guess = NULL;
  for (const char *const *p = known; *p; p++) {
    cx__buf_printf(&list, "%s%s", p == known ? "" : ", ", *p);
    if (guess == NULL && edit_distance(key, *p) <= 2) guess = *p;
  }
  if (where[0]) cx__buf_printf(&full, "%s.%s", where, key);
  else cx__buf_puts(&full, key);
  char suggestion[128] = "";
  if (guess) snprintf(suggestion, sizeof suggestion, "did you mean `%s`? ", guess);
  char clip1[CX__CLIP_SIZE], clip2[CX__CLIP_SIZE];
  if (where[0])
    cx__card_warn(c, k->line, k->col,
                  "unknown key `%s` in `%s` (kept as extra `%s`; %sknown keys are %s)",
                  cx__clip(key, clip1), where, cx__clip(full.p, clip2), suggestion, list.p);
  else
    cx__card_warn(c, k->line, k->col, "unknown header key `%s` (kept; %sknown keys are %s)",
                  cx__clip(key, clip1), suggestion, list.p);
  json_t *j = node_to_json(c, v);
  char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(j);
  if (text == NULL) {
    fprintf(stderr, "cardex: out of memory encoding JSON\n");
    abort();
  }
  if ((card->nextras & (card->nextras - 1)) == 0) /* full: capacity is a power of two */
    card->extras = cx__arena_realloc(c->out, card->extras, card->nextras * sizeof *card->extras,
                                     (card->nextras ? card->nextras * 2 : 1) *
                                         sizeof *card->extras);
  cx_extra *x = &card->extras[card->nextras++];
  x->key = cx__arena_strndup(c->out, full.p ? full.p : "", full.n);
  x->json = cx__arena_strndup(c->out, text, strlen(text));
  x->line = k->line;
  x->col = k->col;
  free(text);
  cx__buf_destroy(&full);
  cx__buf_destroy(&list);
}

/* A string field. Numbers and booleans keep their text as written (so that a
 * locator `4.10` stays "4.10"); null means absent. */
static char *want_string(cx__cardctx *c, const ynode *v, const char *name) {
  if (v->kind != Y_SCALAR) {
    cx__card_error(c, v->line, v->col, "`%s` must be a string, got %s", name, kind_name(v));
    return NULL;
  }
  if (v->type == T_NULL) return NULL;
  return cx__strtrim(c->out, v->value, v->len);
}

static void want_strv(cx__cardctx *c, const ynode *v, const char *name, cx_strv *out) {
  if (v->kind == Y_SCALAR && v->type == T_NULL) return; /* `flags:` — an empty list */
  if (v->kind != Y_SEQ) {
    char clip[CX__CLIP_SIZE];
    if (v->kind == Y_SCALAR && v->type == T_STR)
      cx__card_error(c, v->line, v->col,
                     "`%s` must be a list of strings, got a string; write `%s: [\"%s\"]` "
                     "or one `- item` per line",
                     name, name, cx__clip(v->value, clip));
    else
      cx__card_error(c, v->line, v->col, "`%s` must be a list of strings, got %s", name,
                     kind_name(v));
    return;
  }
  for (size_t i = 0; i < v->n; i++) {
    const ynode *it = v->kids[i];
    if (it->kind != Y_SCALAR) {
      cx__card_error(c, it->line, it->col, "`%s[%zu]` must be a string, got %s", name, i,
                     kind_name(it));
      continue;
    }
    char *s = cx__strtrim(c->out, it->value, it->len);
    if (it->type == T_NULL || s[0] == '\0')
      cx__card_error(c, it->line, it->col, "`%s[%zu]` is empty; remove the item or fill it in",
                     name, i);
    else
      cx__strv_take(c->out, out, s);
  }
}

/* Walks a mapping's pairs: each key must be a scalar and appear once. Calls
 * fn for each valid pair, then for the pairs of mappings merged in with
 * `<<: *base` (YAML 1.1 merge keys: keys written here win, then earlier
 * merged mappings over later ones). */
typedef void (*pair_fn)(cx__cardctx *c, cx_card *card, void *arg, const char *key,
                        const ynode *k, const ynode *v);

/* The keys of a mapping seen so far. A card's mappings have a dozen keys, so
 * a linear scan; a hash table only past that, for hostile headers. */
typedef struct seen_keys {
  const ynode *small[16];
  size_t n;
  json_t *big; /* key -> line, once n reaches 16 */
} seen_keys;

static int seen_line(const seen_keys *s, const char *key) {
  if (s->big) {
    json_t *v = json_object_get(s->big, key);
    return v ? (int)json_integer_value(v) : 0;
  }
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->small[i]->value, key) == 0) return s->small[i]->line;
  return 0;
}

static void seen_add(seen_keys *s, const ynode *k) {
  if (s->big == NULL && s->n < 16) {
    s->small[s->n++] = k;
    return;
  }
  if (s->big == NULL) {
    s->big = json_object();
    for (size_t i = 0; i < s->n; i++)
      json_object_set_new(s->big, s->small[i]->value, json_integer(s->small[i]->line));
  }
  json_object_set_new(s->big, k->value, json_integer(k->line));
}

static int is_merge_key(const ynode *k) {
  return k->kind == Y_SCALAR && k->plain && strcmp(k->value, "<<") == 0;
}

static void walk_pairs(cx__cardctx *c, cx_card *card, const ynode *m, const char *what,
                       pair_fn fn, void *arg, seen_keys *seen, int merged) {
  for (size_t i = 0; i + 1 < m->n; i += 2) {
    const ynode *k = m->kids[i], *v = m->kids[i + 1];
    if (is_merge_key(k)) continue;
    if (k->kind != Y_SCALAR) {
      if (!merged)
        cx__card_error(c, k->line, k->col, "a %s key must be a plain name, got %s", what,
                       kind_name(k));
      continue;
    }
    int first = seen_line(seen, k->value);
    if (first > 0) {
      if (!merged) { /* in a merged mapping, a key already set here is overridden */
        char clip[CX__CLIP_SIZE];
        cx__card_error(c, k->line, k->col, "duplicate %s key `%s` (first on line %d); remove one",
                       what, cx__clip(k->value, clip), first);
      }
      continue;
    }
    seen_add(seen, k);
    fn(c, card, arg, k->value, k, v);
  }
  for (size_t i = 0; i + 1 < m->n; i += 2) {
    const ynode *k = m->kids[i], *v = m->kids[i + 1];
    if (!is_merge_key(k)) continue;
    if (v->kind == Y_MAP) {
      walk_pairs(c, card, v, what, fn, arg, seen, 1);
      continue;
    }
    if (v->kind == Y_SEQ) {
      size_t j;
      for (j = 0; j < v->n && v->kids[j]->kind == Y_MAP; j++) continue;
      if (j == v->n) {
        for (j = 0; j < v->n; j++) walk_pairs(c, card, v->kids[j], what, fn, arg, seen, 1);
        continue;
      }
    }
    cx__card_error(c, v->line, v->col,
                   "`<<` merges mappings into this one (`<<: *base` or `<<: [*a, *b]`), got %s",
                   kind_name(v));
  }
}

static void each_pair(cx__cardctx *c, cx_card *card, const ynode *m, const char *what,
                      pair_fn fn, void *arg) {
  seen_keys seen = {{NULL}, 0, NULL};
  walk_pairs(c, card, m, what, fn, arg, &seen, 0);
  json_decref(seen.big);
}

typedef struct item_arg {
  const char *where; /* "sources[0]" */
  char **fields[3];
} item_arg;

static void item_pair(cx__cardctx *c, cx_card *card, void *varg, const char *key,
                      const ynode *k, const ynode *v) {
  item_arg *a = varg;
  const char *const *names = strncmp(a->where, "sources", 7) == 0 ? source_keys : action_keys;
  for (int f = 0; f < 3; f++) {
    if (strcmp(key, names[f]) != 0) continue;
    char name[96] = ""; /* for want_string's one message: not formatted otherwise */
    if (v->kind != Y_SCALAR) snprintf(name, sizeof name, "%s.%s", a->where, key);
    *a->fields[f] = want_string(c, v, name);
    return;
  }
  keep_extra(c, card, a->where, key, k, v, names);
}

/* where = "list[i]", what = "`list[i]`" (snprintf cost a parser ~1% of a card). */
static void item_names(const char *list, size_t i, char where[48], char what[64]) {
  char digits[24];
  size_t nd = 0;
  do digits[nd++] = (char)('0' + i % 10); while ((i /= 10) > 0);
  size_t n = strlen(list);
  memcpy(where, list, n);
  where[n++] = '[';
  while (nd > 0) where[n++] = digits[--nd];
  where[n++] = ']';
  where[n] = '\0';
  what[0] = '`';
  memcpy(what + 1, where, n);
  what[n + 1] = '`';
  what[n + 2] = '\0';
}

static void want_sources(cx__cardctx *c, cx_card *card, const ynode *v) {
  if (v->kind == Y_SCALAR && v->type == T_NULL) return;
  if (v->kind != Y_SEQ) {
    cx__card_error(c, v->line, v->col,
                   "`sources` must be a list of {title, id, locator} mappings, got %s",
                   kind_name(v));
    return;
  }
  card->sources = cx__arena_calloc(c->out, (v->n ? v->n : 1) * sizeof *card->sources);
  for (size_t i = 0; i < v->n; i++) {
    const ynode *it = v->kids[i];
    char where[48], what[64];
    item_names("sources", i, where, what);
    if (it->kind != Y_MAP) {
      cx__card_error(c, it->line, it->col,
                     "`%s` must be a mapping with title, id and locator, got %s", where,
                     kind_name(it));
      continue;
    }
    cx_source *s = &card->sources[card->nsources++];
    item_arg a = {where, {&s->title, &s->id, &s->locator}};
    each_pair(c, card, it, what, item_pair, &a);
    if (!s->title && !s->id && !s->locator)
      cx__card_error(c, it->line, it->col, "`%s` has none of title, id, locator; fill them in",
                     where);
  }
}

static void want_actions(cx__cardctx *c, cx_card *card, const ynode *v) {
  if (v->kind == Y_SCALAR && v->type == T_NULL) return;
  if (v->kind != Y_SEQ) {
    cx__card_error(c, v->line, v->col,
                   "`ui.actions` must be a list of {type, target, label} mappings, got %s",
                   kind_name(v));
    return;
  }
  card->actions = cx__arena_calloc(c->out, (v->n ? v->n : 1) * sizeof *card->actions);
  for (size_t i = 0; i < v->n; i++) {
    const ynode *it = v->kids[i];
    char where[48], what[64];
    item_names("ui.actions", i, where, what);
    if (it->kind != Y_MAP) {
      cx__card_error(c, it->line, it->col,
                     "`%s` must be a mapping with type, target and label, got %s", where,
                     kind_name(it));
      continue;
    }
    cx_action *x = &card->actions[card->nactions++];
    item_arg a = {where, {&x->type, &x->target, &x->label}};
    each_pair(c, card, it, what, item_pair, &a);
    if (x->type == NULL)
      cx__card_error(c, it->line, it->col, "`%s` has no `type`; say what the action does "
                     "(e.g. `type: \"start_workflow\"`)", where);
  }
}

static void ui_pair(cx__cardctx *c, cx_card *card, void *arg, const char *key,
                    const ynode *k, const ynode *v) {
  if (strcmp(key, "cards_hint") == 0) want_strv(c, v, "ui.cards_hint", &card->cards_hint);
  else if (strcmp(key, "actions") == 0) want_actions(c, card, v);
  else keep_extra(c, card, "ui", key, k, v, ui_keys);
}

typedef struct header_seen {
  const ynode *id, *query;
} header_seen;

static void header_pair(cx__cardctx *c, cx_card *card, void *arg, const char *key,
                        const ynode *k, const ynode *v) {
  header_seen *seen = arg;
  if (strcmp(key, "id") == 0) {
    seen->id = v;
    card->id = want_string(c, v, "id");
  } else if (strcmp(key, "query") == 0) {
    seen->query = v;
    card->query = want_string(c, v, "query");
  } else if (strcmp(key, "packs") == 0) {
    want_strv(c, v, key, &card->packs);
  } else if (strcmp(key, "primary_ids") == 0) {
    want_strv(c, v, key, &card->primary_ids);
  } else if (strcmp(key, "overlap_ids") == 0) {
    want_strv(c, v, key, &card->overlap_ids);
  } else if (strcmp(key, "capability_tags") == 0) {
    want_strv(c, v, key, &card->capability_tags);
  } else if (strcmp(key, "flags") == 0) {
    want_strv(c, v, key, &card->flags);
  } else if (strcmp(key, "sources") == 0) {
    want_sources(c, card, v);
  } else if (strcmp(key, "ui") == 0) {
    if (v->kind == Y_MAP) each_pair(c, card, v, "`ui`", ui_pair, NULL);
    else if (!(v->kind == Y_SCALAR && v->type == T_NULL))
      cx__card_error(c, v->line, v->col,
                     "`ui` must be a mapping with cards_hint and actions, got %s", kind_name(v));
  } else if (strcmp(key, "output_mode") == 0) {
    card->output_mode = want_string(c, v, key);
  } else if (strcmp(key, "graph_required") == 0) {
    if (v->kind == Y_SCALAR && v->type == T_BOOL)
      card->graph_required = v->value[0] == 't' || v->value[0] == 'T';
    else if (v->kind == Y_SCALAR && v->type == T_NULL)
      card->graph_required = -1;
    else if (v->kind == Y_SCALAR)
    {
      char clip[CX__CLIP_SIZE];
      cx__card_error(c, v->line, v->col, "`graph_required` must be true or false, got %s `%s`",
                     kind_name(v), cx__clip(v->value, clip));
    }
    else
      cx__card_error(c, v->line, v->col, "`graph_required` must be true or false, got %s",
                     kind_name(v));
  } else if (strcmp(key, "notes") == 0) {
    card->notes = want_string(c, v, key);
  } else {
    keep_extra(c, card, "", key, k, v, header_keys);
  }
}

static int valid_id(const char *s) {
  if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))) return 0;
  for (s++; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || *s == '.' || *s == '-'))
      return 0;
  return 1;
}

void cx__card_header(cx__cardctx *c, const char *yaml, size_t len, int line0, cx_card *card) {
  int empty;
  ynode *root = build_tree(c, yaml, len, line0, &empty);
  if (root == NULL) {
    if (empty)
      cx__card_error(c, line0 + 1, 1,
                     "the header is empty; a card needs at least `id` and `query`");
    return;
  }
  if (root->kind != Y_MAP) {
    cx__card_error(c, root->line, root->col,
                   "the header must be a YAML mapping of `key: value` lines, got %s",
                   kind_name(root));
    return;
  }
  header_seen seen = {NULL, NULL};
  each_pair(c, card, root, "header", header_pair, &seen);

  if (seen.id == NULL)
    cx__card_error(c, root->line, root->col,
                   "missing required field `id`; add a line such as `id: Q077`");
  else if (card->id == NULL || card->id[0] == '\0') {
    if (seen.id->kind == Y_SCALAR)
      cx__card_error(c, seen.id->line, seen.id->col, "`id` is empty; give the card an id such as Q077");
  } else if (!valid_id(card->id)) {
    char clip[CX__CLIP_SIZE];
    cx__card_error(c, seen.id->line, seen.id->col,
                   "`id` `%s` is not a valid card id: it must start with a letter and hold "
                   "only letters, digits, `_`, `.` and `-` (like Q077)",
                   cx__clip(card->id, clip));
  }
  if (seen.query == NULL)
    cx__card_error(c, root->line, root->col,
                   "missing required field `query`; add the question the card answers, "
                   "e.g. `query: \"What is an ISMS?\"`");
  else if ((card->query == NULL || card->query[0] == '\0') && seen.query->kind == Y_SCALAR)
    cx__card_error(c, seen.query->line, seen.query->col,
                   "`query` is empty; write the question the card answers");
}
