/* card.c — cards: bytes checks, header/body layout, loading, freeing and JSON. */
#include "card_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The card format, as this parser reads it:
 *  - a UTF-8 file (a BOM is skipped) without NUL bytes, at most max_bytes;
 *    UTF-16 is recognised by its byte order mark and refused with a hint;
 *  - layout "original": YAML header, a line `---`, Markdown body; or
 *    layout "front matter": a first line `---`, YAML header, `---`, body.
 *    A separator line is `---` with optional trailing blanks;
 *  - header fields are typed (see card_yaml.c). String fields take any
 *    scalar as written (`locator: 4.10` stays "4.10"); null means absent.
 *    Unknown keys, at the top and inside `ui`, `sources[i]` and
 *    `ui.actions[i]`, are warnings; their values are kept in extras under
 *    their path ("foo", "ui.foo", "sources[0].url"). Aliases are copied,
 *    at most max_alias_expansions nodes in all; YAML 1.1 merge keys
 *    (`<<: *base`) work in every mapping of the schema; nesting is bounded
 *    (64 levels);
 *  - body sections start at a top-level paragraph whose bold lead stands alone
 *    on its line, or at a heading. The first block, if it is a numbered
 *    heading ("### 77) …") or a level-1 heading, is the title instead. Text
 *    before the first section forms a section named "". Links are card ids
 *    written inside "(See …)", unique, in order, the card's own id excluded.
 *    `body` is the Markdown after the separator without its leading blank
 *    lines; a section's Markdown is its source slice, lead excluded;
 * Line and column numbers are 1-based; columns count characters (as libyaml
 * does), not bytes. */

void cx__card_error(cx__cardctx *c, int line, int col, const char *fmt, ...) {
  cx__buf b;
  cx__buf_init(&b);
  va_list ap;
  va_start(ap, fmt);
  cx__buf_vprintf(&b, fmt, ap);
  va_end(ap);
  cx_diags_add(c->diags, CX_DIAG_ERROR, c->path, line, col, "%s", b.p ? b.p : "");
  cx__buf_destroy(&b);
  c->nerrors++;
}

void cx__card_warn(cx__cardctx *c, int line, int col, const char *fmt, ...) {
  cx__buf b;
  cx__buf_init(&b);
  va_list ap;
  va_start(ap, fmt);
  cx__buf_vprintf(&b, fmt, ap);
  va_end(ap);
  cx_diags_add(c->diags, CX_DIAG_WARNING, c->path, line, col, "%s", b.p ? b.p : "");
  cx__buf_destroy(&b);
}

char *cx__strtrim(cx__arena *a, const char *s, size_t n) {
  while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
    n--;
  return cx__arena_strndup(a, s, n);
}

const char *cx__clip(const char *s, char buf[CX__CLIP_SIZE]) {
  size_t n = strlen(s);
  if (n <= 60) return s;
  n = 60;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] starts a character */
  memcpy(buf, s, n);
  memcpy(buf + n, "\xE2\x80\xA6", 4); /* "…" and NUL */
  return buf;
}

void cx__strv_take(cx__arena *a, cx_strv *v, char *s) {
  size_t cap = v->n ? v->n * 2 : 1;
  if ((v->n & (v->n - 1)) == 0) /* 0, 1, 2, 4 …: full */
    v->v = a ? cx__arena_realloc(a, v->v, v->n * sizeof *v->v, cap * sizeof *v->v)
             : cx_xrealloc(v->v, cap * sizeof *v->v);
  v->v[v->n++] = s;
}

/* ---- bytes --------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (no overlongs, surrogates or
 * code points past U+10FFFF), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
  unsigned char b = p[0];
  if (b < 0x80) return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) len = 2;
  else if (b == 0xE0) len = 3, lo = 0xA0;
  else if (b == 0xED) len = 3, hi = 0x9F;
  else if (b >= 0xE1 && b <= 0xEF) len = 3;
  else if (b == 0xF0) len = 4, lo = 0x90;
  else if (b >= 0xF1 && b <= 0xF3) len = 4;
  else if (b == 0xF4) len = 4, hi = 0x8F;
  else return 0;
  if (n < len) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return len;
}

/* Line and column (characters) of byte offset off; counting starts at base
 * (after a BOM). Line ends are \n, \r\n and \r, as libyaml and cmark see them. */
static void position(const char *s, size_t base, size_t off, int *line, int *col) {
  int ln = 1, cl = 1;
  for (size_t i = base; i < off; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '\n' || (ch == '\r' && !(i + 1 < off && s[i + 1] == '\n'))) {
      ln++;
      cl = 1;
    } else if ((ch & 0xC0) != 0x80 && ch != '\r') {
      cl++;
    }
  }
  *line = ln;
  *col = cl;
}

/* Reports the first NUL byte and the first invalid UTF-8 byte. Returns the
 * number of errors. Both would only produce confusing YAML errors later. */
static int check_bytes(cx__cardctx *c, const char *data, size_t len, size_t base) {
  int errors = 0, seen_nul = 0;
  size_t i = base;
  while (i < len) {
    if (i + 8 <= len) { /* 8 bytes at once while they are all 0x01..0x7F */
      uint64_t w;
      memcpy(&w, data + i, 8);
      if ((((w - 0x0101010101010101ULL) | w) & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (data[i] == '\0' && !seen_nul) {
      int line, col;
      position(data, base, i, &line, &col);
      cx__card_error(c, line, col,
                     "NUL byte in the file (a binary file, or UTF-16?); cards are UTF-8 text");
      seen_nul = 1;
      errors++;
    }
    if ((unsigned char)data[i] >= 0x01 && (unsigned char)data[i] < 0x80) { /* most bytes */
      i++;
      continue;
    }
    size_t n = utf8_seq((const unsigned char *)data + i, len - i);
    if (n == 0) {
      int line, col;
      position(data, base, i, &line, &col);
      cx__card_error(c, line, col,
                     "invalid UTF-8 (byte 0x%02x); save the file as UTF-8",
                     (unsigned char)data[i]);
      return errors + 1;
    }
    i += n;
  }
  return errors;
}

/* ---- layout --------------------------------------------------------------- */

typedef struct line_it {
  const char *s;
  size_t len;
  size_t start, end, next; /* the current line is s[start..end), the next starts at next */
  int lineno;
  int cr; /* the text holds a \r: lines are not simply \n-terminated */
} line_it;

static int line_next(line_it *it) {
  if (it->next >= it->len) return 0;
  it->start = it->next;
  size_t i = it->start;
  if (!it->cr) {
    const char *nl = memchr(it->s + i, '\n', it->len - i);
    i = nl ? (size_t)(nl - it->s) : it->len;
  }
  while (i < it->len && it->s[i] != '\n' && it->s[i] != '\r') i++;
  it->end = i;
  if (i < it->len) i += (it->s[i] == '\r' && i + 1 < it->len && it->s[i + 1] == '\n') ? 2 : 1;
  it->next = i;
  it->lineno++;
  return 1;
}

static int is_separator(const line_it *it) {
  if (it->end - it->start < 3 || memcmp(it->s + it->start, "---", 3) != 0) return 0;
  for (size_t i = it->start + 3; i < it->end; i++)
    if (it->s[i] != ' ' && it->s[i] != '\t') return 0;
  return 1;
}

/* A line that can only be Markdown: bold, a level 2+ heading, or "# 77) …".
 * Used to say where a missing separator belongs. */
static int looks_like_body(const line_it *it) {
  const char *p = it->s + it->start;
  size_t n = it->end - it->start;
  if (n >= 2 && p[0] == '*' && p[1] == '*') return 1;
  if (n >= 3 && p[0] == '#' && p[1] == '#') return 1;
  if (n >= 3 && p[0] == '#' && p[1] == ' ' && p[2] >= '0' && p[2] <= '9') return 1;
  return 0;
}

typedef struct layout {
  size_t head, head_end; /* header bytes */
  int head_line0;        /* lines before the header */
  size_t body;           /* body bytes run to the end of the file */
  int body_line0;
} layout;

static void split(cx__cardctx *c, const char *data, size_t len, size_t base, layout *lay) {
  int cr = memchr(data, '\r', len) != NULL;
  line_it it = {data, len, base, base, base, 0, cr};
  int front = line_next(&it) && is_separator(&it);
  if (front) {
    lay->head = it.next;
    lay->head_line0 = 1;
  } else {
    it.next = base; /* the first line is part of the header */
    it.lineno = 0;
    lay->head = base;
    lay->head_line0 = 0;
  }
  int last_line = it.lineno;
  size_t last_end = it.end;
  while (line_next(&it)) {
    if (is_separator(&it)) {
      lay->head_end = it.start;
      lay->body = it.next;
      lay->body_line0 = it.lineno;
      return;
    }
    if (it.end > it.start) last_line = it.lineno, last_end = it.end;
  }
  /* No separator. Recover at the first line that must be Markdown, so that
   * the header's own errors are still reported. */
  line_it again = {data, len, lay->head, lay->head, lay->head, lay->head_line0, cr};
  while (line_next(&again)) {
    if (!looks_like_body(&again)) continue;
    if (front)
      cx__card_error(c, again.lineno, 1,
                     "the front matter opened by `---` on line 1 is never closed; add a line "
                     "`---` before this line, where the Markdown body starts");
    else
      cx__card_error(c, again.lineno, 1,
                     "missing separator: add a line `---` between the YAML header and the "
                     "Markdown body, which starts here");
    lay->head_end = again.start;
    lay->body = again.start;
    lay->body_line0 = again.lineno - 1;
    return;
  }
  if (front) {
    cx__card_error(c, 1, 1,
                   "the front matter opened by `---` here is never closed; add a line `---` "
                   "after the header, then the Markdown body");
  } else {
    int line, col;
    position(data, base, last_end, &line, &col);
    (void)last_line;
    cx__card_error(c, line, col,
                   "missing separator: the file ends without a line `---` after the YAML "
                   "header; add one, then the Markdown body");
  }
  lay->head_end = len;
  lay->body = len;
  lay->body_line0 = it.lineno;
}

/* Diagnostics of one card in file order (line, then column, then as found):
 * the header is checked key by key but read top to bottom. */
typedef struct ranked {
  cx_diag d;
  size_t order;
} ranked;

static int cmp_ranked(const void *pa, const void *pb) {
  const ranked *a = pa, *b = pb;
  if (a->d.line != b->d.line) return a->d.line < b->d.line ? -1 : 1;
  if (a->d.col != b->d.col) return a->d.col < b->d.col ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

static void sort_diags(cx_diags *d, size_t from) {
  if (d == NULL || d->n - from < 2) return;
  size_t n = d->n - from;
  ranked *r = cx_xmalloc(n * sizeof *r);
  for (size_t i = 0; i < n; i++) r[i].d = d->v[from + i], r[i].order = i;
  qsort(r, n, sizeof *r, cmp_ranked);
  for (size_t i = 0; i < n; i++) d->v[from + i] = r[i].d;
  free(r);
}

/* ---- parse / load / free ------------------------------------------------- */

/* A parsed card and the arena that holds it and everything it points to
 * but its links (malloc'd: cx_check takes them): cx_card_free is a few frees
 * instead of ~60, and the card's strings sit together in memory. Every
 * cx_card is made here. */
typedef struct card_box {
  cx_card card; /* first: a cx_card * is a card_box * */
  cx__arena arena;
} card_box;

int cx_card_parse(const char *path, const char *data, size_t len, const cx_parse_opts *opts,
                  cx_card **out, cx_diags *diags) {
  return cx__card_parse_hashed(path, data, len, NULL, opts, out, diags);
}

int cx__card_parse_hashed(const char *path, const char *data, size_t len, const char *hash,
                          const cx_parse_opts *opts, cx_card **out, cx_diags *diags) {
  *out = NULL;
  const char *card_path = path;
  if (path == NULL) path = "<input>";
  if (data == NULL) data = "";
  size_t max = opts && opts->max_bytes ? opts->max_bytes : CX_DEFAULT_MAX_CARD_BYTES;
  cx__arena scratch;
  _Alignas(16) char scratch0[32768]; /* most cards' temporaries fit: no malloc */
  cx__arena_init(&scratch, scratch0, sizeof scratch0);
  cx__cardctx c = {path, diags, 0, 1000, &scratch, NULL};
  size_t first_diag = diags ? diags->n : 0;
  if (opts && opts->max_alias_expansions > 0) c.max_alias_expansions = opts->max_alias_expansions;
  else if (opts && opts->max_alias_expansions < 0) c.max_alias_expansions = 0;

  if (len > max) {
    cx__card_error(&c, 0, 0,
                   "file is too large (%zu bytes, the limit is %zu); split the card or raise "
                   "the limit (max_bytes)",
                   len, max);
    return CX_ETOOBIG;
  }
  if (len >= 2 && ((data[0] == '\xFF' && data[1] == '\xFE') || (data[0] == '\xFE' && data[1] == '\xFF'))) {
    cx__card_error(&c, 1, 1,
                   "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as "
                   "UTF-8");
    return CX_EPARSE;
  }
  size_t base = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  if (check_bytes(&c, data, len, base) > 0) return CX_EPARSE;
  size_t k = base;
  while (k < len && (data[k] == ' ' || data[k] == '\t' || data[k] == '\n' || data[k] == '\r')) k++;
  if (k == len) {
    cx__card_error(&c, 1, 1,
                   "the file is empty; a card is a YAML header with `id` and `query`, a line "
                   "`---`, and a Markdown body");
    return CX_EPARSE;
  }

  /* The body, its sections' Markdown and their text are each about the
   * file's size: one chunk holds most cards. */
  cx__arena own;
  cx__arena_init(&own, NULL, 0);
  own.next = 3 * len + 4096;
  card_box *box = cx__arena_calloc(&own, sizeof *box);
  box->arena = own;
  c.out = &box->arena;
  cx_card *card = &box->card;
  card->number = -1;
  card->graph_required = -1;
  /* NULL when parsed from memory without a name */
  card->path = card_path ? cx__arena_strndup(c.out, card_path, strlen(card_path)) : NULL;
  if (hash) memcpy(card->hash, hash, sizeof card->hash);
  else cx_hash_hex(data, len, card->hash);

  layout lay;
  split(&c, data, len, base, &lay);
  cx__card_header(&c, data + lay.head, lay.head_end - lay.head, lay.head_line0, card);
  /* The body's leading blank lines are not part of it. */
  size_t b = lay.body;
  int line0 = lay.body_line0;
  for (;;) {
    size_t i = b;
    while (i < len && (data[i] == ' ' || data[i] == '\t')) i++;
    if (i < len && (data[i] == '\n' || data[i] == '\r')) {
      i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
      b = i;
      line0++;
    } else {
      break;
    }
  }
  if (b >= len) b = len; /* trailing blanks only: an empty body */
  cx__card_body(&c, data + b, len - b, line0, card);
  cx__arena_destroy(&scratch);
  sort_diags(diags, first_diag);

  if (c.nerrors > 0) {
    cx_card_free(card);
    return CX_EPARSE;
  }
  *out = card;
  return 0;
}

int cx_card_load(const char *path, const cx_parse_opts *opts, cx_card **out, cx_diags *diags) {
  *out = NULL;
  size_t max = opts && opts->max_bytes ? opts->max_bytes : CX_DEFAULT_MAX_CARD_BYTES;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cx_diags_add(diags, CX_DIAG_ERROR, path, 0, 0, "cannot open the card: %s", strerror(errno));
    return CX_EIO;
  }
  /* Read at most max+1 bytes: enough to know the file is too big without
   * reading a huge one (its size from fstat may be unknown, e.g. a pipe). */
  size_t cap = 8192, n = 0;
  char *buf = cx_xmalloc(cap);
  for (;;) {
    if (n == cap) {
      if (cap > max) break;
      cap *= 2;
      buf = cx_xrealloc(buf, cap);
    }
    size_t want = cap - n;
    if (n + want > max + 1) want = max + 1 - n;
    if (want == 0) break;
    ssize_t r = read(fd, buf + n, want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      free(buf);
      cx_diags_add(diags, CX_DIAG_ERROR, path, 0, 0, "cannot read the card: %s", strerror(e));
      return CX_EIO;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  int rc;
  if (n > max) {
    struct stat st;
    size_t size = n;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) size = (size_t)st.st_size;
    cx_diags_add(diags, CX_DIAG_ERROR, path, 0, 0,
                 "file is too large (%zu bytes, the limit is %zu); split the card or raise "
                 "the limit (max_bytes)",
                 size, max);
    rc = CX_ETOOBIG;
  } else {
    rc = cx_card_parse(path, buf, n, opts, out, diags);
  }
  free(buf);
  return rc;
}

void cx_card_free(cx_card *card) {
  if (card == NULL) return;
  cx__strv_free(&card->links); /* malloc'd: see find_links */
  cx__arena a = ((card_box *)card)->arena; /* the box is in the arena it names */
  cx__arena_destroy(&a);
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *strv_json(const cx_strv *v) {
  json_t *a = json_array();
  for (size_t i = 0; i < v->n; i++) json_array_append_new(a, json_string(v->v[i]));
  return a;
}

json_t *cx_card_to_json(const cx_card *card) {
  if (card == NULL) return json_null();
  json_t *o = json_object();
  json_object_set_new(o, "id", str_or_null(card->id));
  json_object_set_new(o, "number", card->number >= 0 ? json_integer(card->number) : json_null());
  json_object_set_new(o, "query", str_or_null(card->query));
  json_object_set_new(o, "title", str_or_null(card->title));
  json_object_set_new(o, "path", str_or_null(card->path));
  json_object_set_new(o, "packs", strv_json(&card->packs));
  json_object_set_new(o, "primary_ids", strv_json(&card->primary_ids));
  json_object_set_new(o, "overlap_ids", strv_json(&card->overlap_ids));
  json_object_set_new(o, "capability_tags", strv_json(&card->capability_tags));
  json_object_set_new(o, "flags", strv_json(&card->flags));
  json_t *sources = json_array();
  for (size_t i = 0; i < card->nsources; i++) {
    const cx_source *s = &card->sources[i];
    json_array_append_new(sources, json_pack("{s:o,s:o,s:o}", "title", str_or_null(s->title),
                                             "id", str_or_null(s->id), "locator",
                                             str_or_null(s->locator)));
  }
  json_object_set_new(o, "sources", sources);
  json_t *actions = json_array();
  for (size_t i = 0; i < card->nactions; i++) {
    const cx_action *x = &card->actions[i];
    json_array_append_new(actions, json_pack("{s:o,s:o,s:o}", "type", str_or_null(x->type),
                                             "target", str_or_null(x->target), "label",
                                             str_or_null(x->label)));
  }
  json_object_set_new(o, "ui", json_pack("{s:o,s:o}", "cards_hint", strv_json(&card->cards_hint),
                                         "actions", actions));
  json_object_set_new(o, "output_mode", str_or_null(card->output_mode));
  json_object_set_new(o, "graph_required", card->graph_required < 0 ? json_null()
                                                : json_boolean(card->graph_required));
  json_object_set_new(o, "notes", str_or_null(card->notes));
  json_object_set_new(o, "body", str_or_null(card->body));
  json_t *sections = json_array();
  for (size_t i = 0; i < card->nsections; i++) {
    const cx_section *s = &card->sections[i];
    json_array_append_new(sections, json_pack("{s:s,s:s,s:s}", "name", s->name, "markdown",
                                              s->markdown, "text", s->text));
  }
  json_object_set_new(o, "sections", sections);
  json_object_set_new(o, "links", strv_json(&card->links));
  json_t *extra = json_object();
  for (size_t i = 0; i < card->nextras; i++) {
    json_t *v = json_loads(card->extras[i].json, JSON_DECODE_ANY, NULL);
    json_object_set_new(extra, card->extras[i].key, v ? v : json_string(card->extras[i].json));
  }
  json_object_set_new(o, "extra", extra);
  json_object_set_new(o, "hash", json_string(card->hash));
  return o;
}

const cx_section *cx_card_section(const cx_card *card, const char *name) {
  if (card == NULL || name == NULL) return NULL;
  for (size_t i = 0; i < card->nsections; i++)
    if (strcasecmp(card->sections[i].name, name) == 0) return &card->sections[i];
  return NULL;
}
