/* query_parse.c — turning what a person typed into slots of weighted terms (never FTS5 syntax). */
#include "rank_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Weights of alternatives relative to a literal match (docs/ranking.md). */
#define W_IDENT 2.0
#define W_IDENT_OVERLAP 1.2 /* a clause id the card only overlaps with */
#define W_SYNONYM 0.7
#define W_TYPO1 0.6
#define W_TYPO2 0.45
#define W_PREFIX 0.5
#define W_STOP 0.3
#define W_PHRASE 0.3 /* bonus of a multi-word synonym term found as a phrase */

static const char *const stop_words[] = {
    "a", "about", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been",
    "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "had",
    "has", "have", "having", "he", "her", "here", "how", "i", "if", "in", "into", "is", "it",
    "its", "just", "me", "my", "of", "on", "or", "our", "ours", "please", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "us", "versus", "vs", "was", "we", "were", "what", "when", "where",
    "which", "who", "whom", "why", "will", "with", "would", "you", "your"};

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cx__is_stop_word(const char *w, size_t n) {
  char tmp[16];
  if (n == 0 || n >= sizeof tmp) return 0;
  memcpy(tmp, w, n);
  tmp[n] = '\0';
  const char *key = tmp;
  return bsearch(&key, stop_words, sizeof stop_words / sizeof *stop_words, sizeof *stop_words,
                 cmp_cstr) != NULL;
}

/* Damerau-Levenshtein (optimal string alignment) distance of a and b, or
 * k + 1 when it exceeds k (early exit when a whole row exceeds k). */
static int damerau(const char *a, size_t na, const char *b, size_t nb, int k) {
  if ((na > nb ? na - nb : nb - na) > (size_t)k) return k + 1;
  if (na > 40 || nb > 40) return k + 1;
  int d[42][42];
  for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= na; i++) {
    int rowmin = 1 << 20;
    for (size_t j = 1; j <= nb; j++) {
      int cost = a[i - 1] != b[j - 1];
      int v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
      if (v < rowmin) rowmin = v;
    }
    if (rowmin > k) return k + 1;
  }
  return d[na][nb] <= k ? d[na][nb] : k + 1;
}

int cx__damerau_within(const char *a, size_t na, const char *b, size_t nb, int k) {
  return damerau(a, na, b, nb, k) <= k;
}

/* Bits set in x, without depending on the CPU's popcnt instruction. */
static int bits32(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  return (int)((((x + (x >> 4)) & 0x0F0F0F0Fu) * 0x01010101u) >> 24);
}

/* ---- identifiers ---- */

typedef struct span {
  size_t start, end;
} span;

/* isalnum(c) || c >= 0x80 as a table, without isalnum's call per character:
 * the builder runs find_idents over every card's text (isalnum differs
 * between locales only above 0x7F, where this is true anyway). */
#define W16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const unsigned char word_chars[256] = {
    W16(0), W16(0), W16(0),                            /* controls, punctuation */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,    /* 0-9 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* @ A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,    /* P-Z */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* ` a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,    /* p-z */
    W16(1), W16(1), W16(1), W16(1), W16(1), W16(1), W16(1), W16(1)}; /* UTF-8 */
#undef W16
static int is_word_char(unsigned char c) { return word_chars[c]; }

/* Lowercased ASCII copy, so patterns can be matched with plain comparisons. */
static char *lower_copy(const char *s, size_t n) {
  char *p = cx_xstrndup(s, n);
  for (size_t i = 0; i < n; i++) p[i] = (char)tolower((unsigned char)p[i]);
  return p;
}

static size_t skip_space(const char *s, size_t i, size_t n) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

/* Reads a dotted clause path "6.1.2" / "5.15" / "4" at s+i; returns its end or i. */
static size_t read_clause(const char *s, size_t i, size_t n) {
  size_t j = i;
  if (j >= n || !isdigit((unsigned char)s[j])) return i;
  while (j < n) {
    while (j < n && isdigit((unsigned char)s[j])) j++;
    if (j + 1 < n && s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
      j++;
      continue;
    }
    break;
  }
  return j;
}

static int word_at(const char *s, size_t i, size_t n, const char *w) {
  if (w[0] && (i >= n || s[i] != w[0])) return 0; /* most words: no strlen */
  size_t len = strlen(w);
  if (i + len > n || memcmp(s + i, w, len) != 0) return 0;
  if (i > 0 && is_word_char((unsigned char)s[i - 1])) return 0;
  return 1;
}

/* An identifier is written to out as one line: a kind letter ('q' card id,
 * 'c' clause, 's' standard), then its alternative tokens, most specific
 * first ("c iso27001c4 c4"). */
static void ident_begin(cx__buf *out, char kind) {
  cx__buf_putc(out, kind);
}

static void ident_tok(cx__buf *out, const char *prefix, const char *s, size_t len, int clause) {
  cx__buf_putc(out, ' ');
  cx__buf_puts(out, prefix);
  if (clause) cx__clause_token(s, len, out);
  else cx__buf_add(out, s, len);
}

static void ident_end(cx__buf *out) { cx__buf_putc(out, '\n'); }

/* Finds identifiers in the query and appends their compact tokens (one per
 * line) to out; spans of the text they cover are returned so that their
 * pieces ("5", "15") are not also searched as words. */
static size_t find_idents(const char *text, size_t n, cx__buf *out, span *spans, size_t maxspans) {
  if (n > CX__MAX_QUERY_BYTES * 64) n = CX__MAX_QUERY_BYTES * 64; /* a card's text: plenty */
  char *s = lower_copy(text, n);
  size_t nspans = 0;
  for (size_t i = 0; i < n;) {
    if (i > 0 && is_word_char((unsigned char)s[i - 1])) { /* inside a word: to its end */
      do i++; while (i < n && is_word_char((unsigned char)s[i - 1]));
      continue;
    }
    /* Every pattern below starts with one of these ("§" with 0xc2): other
     * words are passed over (the builder runs this over every card's text). */
    unsigned char c0 = (unsigned char)s[i];
    if (!(c0 == 'q' || c0 == 'i' || c0 == 'a' || c0 == 'c' || c0 == 's' || c0 == 0xc2 ||
          (c0 >= '0' && c0 <= '9'))) {
      i++;
      continue;
    }
    size_t start = i, end = i;
    /* Card ids: q77, q077, Q000123. */
    if (s[i] == 'q' && i + 1 < n && isdigit((unsigned char)s[i + 1])) {
      size_t j = i + 1;
      while (j < n && isdigit((unsigned char)s[j])) j++;
      if (j >= n || !is_word_char((unsigned char)s[j])) {
        size_t k = i + 1;
        while (k + 1 < j && s[k] == '0') k++;
        ident_begin(out, 'q');
        ident_tok(out, "q", s + k, j - k, 0);
        ident_end(out);
        end = j;
      }
    }
    /* "iso27001:2022/a.5.15", "iso 27001 clause 4", "27001 clause 4", "iso27001 a.8.28". */
    if (end == start) {
      size_t j = i;
      int iso = 0;
      if (word_at(s, j, n, "iso")) {
        j += 3;
        if (j < n && (s[j] == '/' || s[j] == '-' || s[j] == ' ')) j++;
        if (j < n && s[j] == 'i' && word_at(s, j, n, "iec")) j = skip_space(s, j + 3, n);
        iso = 1;
      }
      size_t num = j;
      while (j < n && isdigit((unsigned char)s[j])) j++;
      if (j - num == 5 && (iso || j >= n || !is_word_char((unsigned char)s[j]))) {
        char std[8];
        memcpy(std, s + num, 5);
        std[5] = '\0';
        size_t k = j;
        if (k < n && s[k] == ':' && k + 1 < n && isdigit((unsigned char)s[k + 1])) {
          k++;
          while (k < n && isdigit((unsigned char)s[k])) k++;
        }
        size_t after = k;
        if (k < n && s[k] == '/') k++;
        else k = skip_space(s, k, n);
        if (word_at(s, k, n, "clause")) k = skip_space(s, k + 6, n);
        else if (word_at(s, k, n, "cl.")) k = skip_space(s, k + 3, n);
        else if (word_at(s, k, n, "annex")) k = skip_space(s, k + 5, n);
        int annex = 0;
        if (k + 1 < n && s[k] == 'a' && (s[k + 1] == '.' || s[k + 1] == ' ') &&
            k + 2 < n && isdigit((unsigned char)s[k + 2])) {
          annex = 1;
          k += 2;
        }
        size_t ce = read_clause(s, k, n);
        char pack[16];
        snprintf(pack, sizeof pack, "iso%s", std);
        if (ce > k) {
          cx__buf cl;
          cx__buf_init(&cl);
          if (annex) cx__buf_puts(&cl, "a.");
          cx__buf_add(&cl, s + k, ce - k);
          ident_begin(out, 'c');
          ident_tok(out, pack, cl.p, cl.n, 1);
          ident_tok(out, "", cl.p, cl.n, 1);
          ident_end(out);
          cx__buf_destroy(&cl);
          end = ce;
        } else {
          ident_begin(out, 's');
          ident_tok(out, pack, "", 0, 0);
          ident_end(out);
          end = after;
        }
      }
    }
    /* "annex a 8.28", "annex a.8.28", "a.5.15", "a 5.15" is too loose. */
    if (end == start) {
      size_t j = i;
      int annex = 0;
      if (word_at(s, j, n, "annex")) {
        j = skip_space(s, j + 5, n);
        annex = 1;
      }
      if (j + 1 < n && s[j] == 'a' && (s[j + 1] == '.' || (annex && s[j + 1] == ' ')) &&
          j + 2 < n && isdigit((unsigned char)s[j + 2])) {
        size_t ce = read_clause(s, j + 2, n);
        if (ce > j + 2 && (annex || memchr(s + j + 2, '.', ce - j - 2))) {
          cx__buf cl;
          cx__buf_init(&cl);
          cx__buf_puts(&cl, "a.");
          cx__buf_add(&cl, s + j + 2, ce - j - 2);
          ident_begin(out, 'c');
          ident_tok(out, "", cl.p, cl.n, 1);
          ident_end(out);
          cx__buf_destroy(&cl);
          end = ce;
        }
      }
    }
    /* "clause 4", "cl. 6.1.2", "article 35", "art. 35", "art 35". */
    if (end == start) {
      static const struct {
        const char *word, *prefix;
      } kw[] = {{"clause", ""}, {"cl.", ""}, {"cl", ""}, {"article", "art."}, {"art.", "art."},
                {"art", "art."}, {"section", ""}, {"§", ""}};
      for (size_t w = 0; w < sizeof kw / sizeof *kw; w++) {
        if (kw[w].word[0] != s[i] || !word_at(s, i, n, kw[w].word)) continue;
        size_t k = i + strlen(kw[w].word);
        if (k < n && is_word_char((unsigned char)s[k]) && kw[w].word[strlen(kw[w].word) - 1] != '.')
          continue;
        k = skip_space(s, k, n);
        size_t ce = read_clause(s, k, n);
        if (ce == k) continue;
        cx__buf cl;
        cx__buf_init(&cl);
        cx__buf_puts(&cl, kw[w].prefix);
        cx__buf_add(&cl, s + k, ce - k);
        ident_begin(out, 'c');
        ident_tok(out, "", cl.p, cl.n, 1);
        if (*kw[w].prefix) { /* GDPR writes both "Art.35" and "Article 35" */
          cl.n = 0;
          cx__buf_puts(&cl, "article ");
          cx__buf_add(&cl, s + k, ce - k);
          ident_tok(out, "", cl.p, cl.n, 1);
        }
        ident_end(out);
        cx__buf_destroy(&cl);
        end = ce;
        break;
      }
    }
    /* A bare dotted clause path "6.1.2" or "5.15". */
    if (end == start && isdigit((unsigned char)s[i])) {
      size_t ce = read_clause(s, i, n);
      if (ce > i && memchr(s + i, '.', ce - i) && (ce >= n || !is_word_char((unsigned char)s[ce]))) {
        ident_begin(out, 'c');
        ident_tok(out, "", s + i, ce - i, 1);
        ident_end(out);
        end = ce;
      }
    }
    if (end > start) {
      if (nspans < maxspans) spans[nspans++] = (span){start, end};
      i = end;
    } else {
      i++;
    }
  }
  free(s);
  return nspans;
}

void cx__query_idents(const char *text, cx__buf *out) {
  span spans[64];
  find_idents(text, strlen(text), out, spans, 64);
}

void cx__text_idents(const char *text, cx__buf *out) {
  if (text == NULL || *text == '\0') return;
  cx__buf lines;
  cx__buf_init(&lines);
  find_idents(text, strlen(text), &lines, NULL, 0);
  for (const char *line = lines.p; line && *line;) {
    const char *nl = strchr(line, '\n');
    /* "Q3" in prose is a quarter far more often than a card. */
    if (line[0] != 'q' && nl > line + 2) {
      if (out->n) cx__buf_putc(out, ' ');
      cx__buf_add(out, line + 2, (size_t)(nl - line - 2));
    }
    line = nl + 1;
  }
  cx__buf_destroy(&lines);
}

/* ---- the query's arena ---- */

/* A block of the arena; its bytes follow, aligned for any type. */
typedef struct cx__qblock {
  struct cx__qblock *next;
  max_align_t align[];
} qblock;

#define QBLOCK_BYTES 4096

static void *q_alloc(cx__query *q, size_t n) {
  n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
  if (q->arena_cap - q->arena_n < n) {
    size_t cap = n > QBLOCK_BYTES ? n : QBLOCK_BYTES;
    qblock *b = cx_xmalloc(sizeof *b + cap);
    b->next = q->blocks;
    q->blocks = b;
    q->arena = (char *)b->align;
    q->arena_n = 0;
    q->arena_cap = cap;
  }
  void *p = q->arena + q->arena_n;
  q->arena_n += n;
  return p;
}

static char *q_strndup(cx__query *q, const char *s, size_t n) {
  char *p = q_alloc(q, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static char *q_strdup(cx__query *q, const char *s) { return q_strndup(q, s, strlen(s)); }

/* ---- words ---- */

typedef struct qword {
  char *word; /* folded */
  char *stem;
  int start, end;
  int stop;
  int in_span; /* part of an identifier */
  int slot;    /* the slot that stands for it, -1 none */
  const char *fix; /* its closest correction when misspelt (borrowed), else NULL */
} qword;

typedef struct collect {
  cx__query *q; /* whose arena holds the words */
  qword *v;
  size_t n, cap;
  int stem_pass;
  size_t cursor;
} collect;

static int collect_plain(void *ctx, const char *tok, int n, int start, int end) {
  collect *c = ctx;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->v = cx_xrealloc(c->v, c->cap * sizeof *c->v);
  }
  c->v[c->n++] = (qword){q_strndup(c->q, tok, (size_t)n), NULL, start, end, 0, 0, -1, NULL};
  return c->n >= 256;
}

static int collect_stem(void *ctx, const char *tok, int n, int start, int end) {
  collect *c = ctx;
  while (c->cursor < c->n && c->v[c->cursor].start < start) c->cursor++;
  if (c->cursor < c->n && c->v[c->cursor].start == start && c->v[c->cursor].stem == NULL)
    c->v[c->cursor].stem = q_strndup(c->q, tok, (size_t)n);
  return c->cursor >= c->n;
}

static void slot_add_alt(cx__query *q, cx__qslot *s, const char *term, const char *text,
                         const char *from, cx__kind kind, double weight, int phrase) {
  for (size_t i = 0; i < s->nalts; i++)
    if (strcmp(s->alts[i].term, term) == 0) {
      if (weight > s->alts[i].weight) s->alts[i].weight = weight;
      return;
    }
  if (s->nalts == s->alts_cap) {
    size_t cap = s->alts_cap ? 2 * s->alts_cap : 4;
    cx__qalt *v = q_alloc(q, cap * sizeof *v);
    if (s->nalts) memcpy(v, s->alts, s->nalts * sizeof *v);
    s->alts = v;
    s->alts_cap = cap;
  }
  s->alts[s->nalts++] =
      (cx__qalt){q_strdup(q, term), q_strdup(q, text), q_strdup(q, from), kind, weight, phrase};
}

static cx__qslot *add_slot(cx__query *q, const char *word) {
  if (q->nslots >= CX__MAX_SLOTS) {
    q->truncated = 1;
    return NULL;
  }
  if (q->slots == NULL) q->slots = q_alloc(q, CX__MAX_SLOTS * sizeof *q->slots);
  cx__qslot *s = &q->slots[q->nslots++];
  memset(s, 0, sizeof *s);
  s->word = q_strdup(q, word);
  s->group = -1;
  return s;
}

/* An identifier token as an alternative: stemmed as the index stemmed it. */
static void add_ident_alt(cx_index *ix, cx__query *q, cx__qslot *s, const char *tok, const char *from,
                          double weight) {
  cx__buf stem;
  cx__buf_init(&stem);
  cx__stem(ix, tok, strlen(tok), &stem);
  if (stem.n && strchr(stem.p, ' ') == NULL) slot_add_alt(q, s, stem.p, tok, from, CX__K_IDENT, weight, 0);
  cx__buf_destroy(&stem);
}

static int64_t term_df(cx_index *ix, const char *term) {
  return cx__term_df(ix, term, NULL);
}

/* Synonym groups, loaded once per query from the small synonyms table and
 * compared as folded word sequences ("information security management system"). */
typedef cx__syn syn;

typedef struct join_ctx {
  cx__buf *b;
  size_t n;
} join_ctx;

static int join_cb(void *ctx, const char *tok, int n, int start, int end) {
  join_ctx *j = ctx;
  if (j->b->n) cx__buf_putc(j->b, ' ');
  cx__buf_add(j->b, tok, (size_t)n);
  j->n++;
  return 0;
}

/* qsort has no context argument; loading synonyms happens once per handle
 * and handles are used by one thread, but two handles may load at once:
 * thread-local. */
static _Thread_local const syn *sorting_syns;

static int cmp_syn(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  int c = strcmp(sorting_syns[x].folded, sorting_syns[y].folded);
  return c ? c : (x > y) - (x < y);
}

static syn *load_synonyms(cx_index *ix, size_t *nsyn) {
  sqlite3_stmt *st;
  syn *v = NULL;
  size_t n = 0;
  if (ix->syn_loaded) {
    *nsyn = ix->nsyns;
    return ix->syns;
  }
  ix->syn_loaded = 1;
  *nsyn = 0;
  if (sqlite3_prepare_v2(ix->db, "SELECT grp, term FROM synonyms ORDER BY grp, rowid", -1, &st,
                         NULL) != SQLITE_OK)
    return NULL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 1);
    if (t == NULL) continue;
    cx__buf f, s;
    cx__buf_init(&f);
    cx__buf_init(&s);
    join_ctx jf = {&f, 0}, js = {&s, 0};
    cx__tokenize(ix, 0, t, -1, join_cb, &jf);
    cx__tokenize(ix, 1, t, -1, join_cb, &js);
    if (jf.n == 0) {
      cx__buf_destroy(&f);
      cx__buf_destroy(&s);
      continue;
    }
    v = cx_xrealloc(v, (n + 1) * sizeof *v);
    v[n++] = (syn){sqlite3_column_int64(st, 0), cx__buf_detach(&f), cx__buf_detach(&s), jf.n};
  }
  sqlite3_finalize(st);
  *nsyn = n;
  ix->syns = v;
  ix->nsyns = n;
  /* By folded text, so that the terms a query word can start are found by
   * binary search instead of comparing every term with every word. */
  ix->syn_sorted = cx_xcalloc(n ? n : 1, sizeof *ix->syn_sorted);
  for (size_t i = 0; i < n; i++) ix->syn_sorted[i] = i;
  memset(ix->syn_first, 0, sizeof ix->syn_first);
  for (size_t i = 0; i < n; i++) {
    uint32_t b = cx__term_hash(v[i].folded, strcspn(v[i].folded, " ")) >> 22;
    ix->syn_first[b / 64] |= 1ull << (b % 64);
  }
  sorting_syns = v;
  qsort(ix->syn_sorted, n, sizeof *ix->syn_sorted, cmp_syn);
  /* The terms sharing a first word are adjacent in that order (a space
   * sorts before any letter): each first word's run, by hash. */
  memset(ix->syn_first_at, 0, sizeof ix->syn_first_at);
  ix->syn_first_ok = 1;
  size_t nfirst = 0;
  for (size_t k = 0; k < n && ix->syn_first_ok; k++) {
    const char *f = v[ix->syn_sorted[k]].folded;
    size_t fl = strcspn(f, " ");
    if (k > 0) {
      const char *prev = v[ix->syn_sorted[k - 1]].folded;
      if (strcspn(prev, " ") == fl && memcmp(prev, f, fl) == 0) continue;
    }
    if (++nfirst > 512) {
      ix->syn_first_ok = 0;
      break;
    }
    size_t h = cx__term_hash(f, fl) & 1023;
    while (ix->syn_first_at[h]) h = (h + 1) & 1023;
    ix->syn_first_at[h] = (uint32_t)(k + 1);
  }
  sorting_syns = NULL;
  return v;
}

void cx__free_synonyms(cx__syn *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].folded);
    free(v[i].stems);
  }
  free(v);
}

void cx__typo_cache_clear(cx_index *ix) {
  if (ix->typos == NULL) return;
  for (size_t i = 0; i < CX__TYPO_CACHE; i++) free(ix->typos[i].word);
  free(ix->typos);
  ix->typos = NULL;
  ix->ntypos = 0;
}

/* Typo candidates for a word the corpus does not have: words of the corpus
 * within Damerau-Levenshtein 1 (from 4 letters) or 2 (from 9), closest and
 * most frequent first. Returns the best one at distance 1 (borrowed from
 * ix->words), which synonym matching may read in place of the word. */
static const char *add_typos(cx_index *ix, cx__query *q, cx__qslot *s, const char *word) {
  size_t len = strlen(word);
  if (len < 4) return NULL;
  for (const char *p = word; *p; p++)
    if (*p < 'a' || *p > 'z') return NULL;
  int k = len >= 9 ? 2 : 1;
  if (cx__load_words(ix) != 0) return NULL;
  /* A large vocabulary makes the scan cost a millisecond, and the words that
   * need it (misspellings, words the corpus lacks) recur: remember them. */
  if (ix->typos == NULL) ix->typos = cx_xcalloc(CX__TYPO_CACHE, sizeof *ix->typos);
  size_t h = cx__term_hash(word, len) & (CX__TYPO_CACHE - 1);
  for (size_t probe = 0; probe < 8; probe++, h = (h + 1) & (CX__TYPO_CACHE - 1)) {
    cx__typo_entry *e = &ix->typos[h];
    if (e->word == NULL) break;
    if (strcmp(e->word, word) != 0) continue;
    for (int i = 0; i < e->n; i++) {
      const cx__vword *w = &ix->words[e->cand[i]];
      slot_add_alt(q, s, w->stem, w->word, word, CX__K_TYPO, e->dist[i] == 1 ? W_TYPO1 : W_TYPO2, 0);
    }
    return e->n && e->dist[0] == 1 ? ix->words[e->cand[0]].word : NULL;
  }
  uint32_t letters = 0;
  for (const char *p = word; *p; p++) letters |= 1u << (*p - 'a');
  struct cand {
    const cx__vword *w;
    int d;
  } best[CX__MAX_TYPO_CANDIDATES];
  size_t nbest = 0;
  /* Only words within k letters of the length can be within k edits. */
  size_t lmin = len > (size_t)k ? len - (size_t)k : 0, lmax = len + (size_t)k;
  if (lmax >= CX__MAX_WORD_LEN) lmax = CX__MAX_WORD_LEN - 1;
  for (size_t l = lmin; l <= lmax; l++)
    for (size_t x = ix->len_start[l]; x < ix->len_start[l + 1]; x++) {
      const cx__vword *w = &ix->words[ix->by_len[x]];
      /* Each edit changes the letter set by at most two letters. */
      if (bits32(w->letters ^ letters) > 2 * k) continue;
      int d = damerau(word, len, w->word, l, k);
      if (d == 0 || d > k) continue;
      /* Keep the best few: smaller distance, then higher df. */
      size_t pos = nbest;
      while (pos > 0 && (best[pos - 1].d > d || (best[pos - 1].d == d && best[pos - 1].w->df < w->df)))
        pos--;
      if (pos >= CX__MAX_TYPO_CANDIDATES) continue;
      if (nbest < CX__MAX_TYPO_CANDIDATES) nbest++;
      memmove(&best[pos + 1], &best[pos], (nbest - 1 - pos) * sizeof *best);
      best[pos] = (struct cand){w, d};
    }
  for (size_t i = 0; i < nbest; i++)
    slot_add_alt(q, s, best[i].w->stem, best[i].w->word, word, CX__K_TYPO, best[i].d == 1 ? W_TYPO1 : W_TYPO2, 0);
  /* Into the first free slot of the probe sequence; a full table is cleared. */
  h = cx__term_hash(word, len) & (CX__TYPO_CACHE - 1);
  size_t probe = 0;
  while (probe < 8 && ix->typos[h].word) {
    probe++;
    h = (h + 1) & (CX__TYPO_CACHE - 1);
  }
  if (probe == 8 || ix->ntypos >= CX__TYPO_CACHE / 2) {
    cx__typo_cache_clear(ix);
    ix->typos = cx_xcalloc(CX__TYPO_CACHE, sizeof *ix->typos);
    h = cx__term_hash(word, len) & (CX__TYPO_CACHE - 1);
  }
  cx__typo_entry *e = &ix->typos[h];
  e->word = cx_xstrdup(word);
  e->n = (int)nbest;
  for (size_t i = 0; i < nbest; i++) {
    e->cand[i] = (uint32_t)(best[i].w - ix->words);
    e->dist[i] = (unsigned char)best[i].d;
  }
  ix->ntypos++;
  return nbest && best[0].d == 1 ? best[0].w->word : NULL;
}

/* Prefix completions of the last word: the most frequent corpus words that
 * start with it. */
static void add_prefixes(cx_index *ix, cx__query *q, cx__qslot *s, const char *word) {
  size_t len = strlen(word);
  if (len < 2 || cx__load_words(ix) != 0) return;
  size_t lo = 0, hi = ix->nwords;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (strcmp(ix->words[mid].word, word) < 0) lo = mid + 1;
    else hi = mid;
  }
  const cx__vword *best[CX__MAX_PREFIX_EXPANSIONS];
  size_t nbest = 0;
  for (size_t i = lo; i < ix->nwords && strncmp(ix->words[i].word, word, len) == 0; i++) {
    const cx__vword *w = &ix->words[i];
    if (strlen(w->word) == len) continue;
    size_t pos = nbest;
    while (pos > 0 && best[pos - 1]->df < w->df) pos--;
    if (pos >= CX__MAX_PREFIX_EXPANSIONS) continue;
    if (nbest < CX__MAX_PREFIX_EXPANSIONS) nbest++;
    memmove(&best[pos + 1], &best[pos], (nbest - 1 - pos) * sizeof *best);
    best[pos] = w;
  }
  for (size_t i = 0; i < nbest; i++) slot_add_alt(q, s, best[i]->stem, best[i]->word, word, CX__K_PREFIX, W_PREFIX, 0);
}

static int utf8_cut(const char *s, int n) {
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return n;
}

/* Raw syntax for power users: "phrases", -exclusion, field:term, term*,
 * AND/OR/NOT/NEAR and parentheses, translated to an FTS5 expression; what
 * FTS5 still rejects is reported as CX_ESYNTAX by the raw plan. */
static int raw_translate(const char *s, size_t n, cx__query *q, cx_err *err) {
  static const char *const fields[] = {"question", "tags", "answer", "sources"};
  cx__buf pos, neg;
  cx__buf_init(&pos);
  cx__buf_init(&neg);
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0;) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i++;
      continue;
    }
    if (c == '(' || c == ')') {
      cx__buf_printf(&pos, " %c ", c);
      i++;
      continue;
    }
    int exclude = 0;
    if (c == '-' && i + 1 < n && s[i + 1] != ' ') {
      exclude = 1;
      i++;
    }
    cx__buf tok;
    cx__buf_init(&tok);
    /* field: prefix */
    size_t j = i;
    while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
    if (j < n && s[j] == ':' && j > i) {
      int known = 0;
      for (size_t f = 0; f < 4; f++)
        if (j - i == strlen(fields[f]) && strncasecmp(s + i, fields[f], j - i) == 0) known = 1;
      if (!known) {
        rc = cx_err_set(err, CX_ESYNTAX, "query", "raw query: unknown field `%.*s` at byte %zu; "
                        "fields are question, tags, answer, sources", (int)(j - i), s + i, i + 1);
        cx__buf_destroy(&tok);
        break;
      }
      cx__buf_add(&tok, s + i, j - i);
      cx__buf_puts(&tok, " : ");
      i = j + 1;
    }
    if (i < n && s[i] == '"') {
      size_t e = i + 1;
      while (e < n && s[e] != '"') e++;
      if (e >= n) {
        rc = cx_err_set(err, CX_ESYNTAX, "query", "raw query: unbalanced quote at byte %zu; close "
                        "the phrase with \"", i + 1);
        cx__buf_destroy(&tok);
        break;
      }
      cx__buf_add(&tok, s + i, e - i + 1);
      i = e + 1;
    } else {
      size_t e = i;
      while (e < n && s[e] != ' ' && s[e] != '\t' && s[e] != '\n' && s[e] != '(' && s[e] != ')' &&
             s[e] != '"' && s[e] != '*')
        e++;
      if (e == i && !(i < n && s[i] == '*')) {
        rc = cx_err_set(err, CX_ESYNTAX, "query", "raw query: expected a term at byte %zu", i + 1);
        cx__buf_destroy(&tok);
        break;
      }
      size_t len = e - i;
      int op = !exclude && tok.n == 0 &&
               ((len == 3 && (!strncmp(s + i, "AND", 3) || !strncmp(s + i, "NOT", 3))) ||
                (len == 2 && !strncmp(s + i, "OR", 2)) || (len == 4 && !strncmp(s + i, "NEAR", 4)));
      if (op) {
        cx__buf_add(&tok, s + i, len);
      } else {
        cx__buf_putc(&tok, '"');
        for (size_t k = i; k < e; k++) {
          if (s[k] == '"') cx__buf_putc(&tok, '"');
          cx__buf_putc(&tok, s[k]);
        }
        cx__buf_putc(&tok, '"');
      }
      i = e;
      if (i < n && s[i] == '*') {
        cx__buf_putc(&tok, '*');
        i++;
      }
    }
    cx__buf *dst = exclude ? &neg : &pos;
    if (dst->n) cx__buf_putc(dst, ' ');
    if (exclude && neg.n) cx__buf_puts(&neg, "OR ");
    cx__buf_add(dst, tok.p, tok.n);
    cx__buf_destroy(&tok);
  }
  if (rc == 0 && neg.n && pos.n == 0)
    rc = cx_err_set(err, CX_ESYNTAX, "query", "raw query: only exclusions; add a term to search for");
  if (rc == 0 && pos.n) {
    cx__buf m;
    cx__buf_init(&m);
    if (neg.n) cx__buf_printf(&m, "(%s) NOT (%s)", pos.p, neg.p);
    else cx__buf_puts(&m, pos.p);
    q->raw_match = cx__buf_detach(&m);
  }
  if (rc == 0 && q->raw_match == NULL) q->raw_match = cx_xstrdup("");
  cx__buf_destroy(&pos);
  cx__buf_destroy(&neg);
  return rc;
}

/* Whether the corpus has this very word, so that a misspelling whose stem
 * happens to exist ("continous" -> "contin") still gets typo candidates.
 * Without the engine's word list, whether its stem is indexed. */
static int is_corpus_word(cx_index *ix, const char *word, const char *stem) {
  if (!ix->has_postings || cx__load_words(ix) != 0) return term_df(ix, stem) > 0;
  /* The same words recur from query to query: one comparison, not ~13. */
  uint32_t *memo = &ix->word_memo[cx__term_hash(word, strlen(word)) & 1023];
  if (*memo && strcmp(ix->words[*memo - 1].word, word) == 0) return 1;
  size_t lo = 0, hi = ix->nwords;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(ix->words[mid].word, word);
    if (c == 0) {
      *memo = (uint32_t)(mid + 1);
      return 1;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  /* cx_words keeps 2-32 letter words only. */
  return strlen(word) > 32 && term_df(ix, stem) > 0;
}

/* Whether the words from i on spell term t, each word as typed or, when
 * fixes, as corrected. */
static int spells(const collect *c, size_t i, const syn *t, int fixes) {
  if (t->nwords > c->n - i) return 0;
  const char *p = t->folded;
  for (size_t j = 0; j < t->nwords; j++) {
    const qword *w = &c->v[i + j];
    int ok = 0;
    for (int f = 0; f < 1 + fixes && !ok; f++) {
      const char *form = f ? w->fix : w->word;
      if (form == NULL) continue;
      size_t l = strlen(form);
      if (strncmp(p, form, l) == 0 && (p[l] == ' ' || p[l] == '\0')) {
        ok = 1;
        p += l;
      }
    }
    if (!ok) return 0;
    if (*p == ' ') p++;
  }
  return *p == '\0';
}

/* The longest synonym term that the words from i on spell (as typed, or
 * else with misspellings corrected: *fixed is set), or -1. */
static long longest_synonym(cx_index *ix, const collect *c, size_t i, int *fixed) {
  const syn *syns = ix->syns;
  long best = -1;
  *fixed = 0;
  for (int fixes = 0; fixes < 2 && best < 0; fixes++) {
    int any = 0;
    for (size_t j = i; j < c->n; j++) any |= c->v[j].fix != NULL;
    if (fixes && !any) break;
    /* Terms whose first word is the first word, as typed or corrected. */
    for (int f = 0; f < 1 + fixes; f++) {
      const char *w = f ? c->v[i].fix : c->v[i].word;
      if (w == NULL) continue;
      size_t wl = strlen(w), lo = 0, hi = ix->nsyns;
      /* Most words start no term: no binary search for them. */
      uint32_t wh = cx__term_hash(w, wl), b = wh >> 22;
      if (!(ix->syn_first[b / 64] >> (b % 64) & 1)) continue;
      if (ix->syn_first_ok) {
        /* Straight to the run of terms starting with w (the terms after it
         * that merely start with its letters are skipped below anyway). */
        lo = ix->nsyns;
        for (size_t h = wh & 1023; ix->syn_first_at[h]; h = (h + 1) & 1023) {
          const char *fw = syns[ix->syn_sorted[ix->syn_first_at[h] - 1]].folded;
          if (strncmp(fw, w, wl) == 0 && (fw[wl] == ' ' || fw[wl] == '\0')) {
            lo = ix->syn_first_at[h] - 1;
            break;
          }
        }
        hi = lo; /* no binary search */
      }
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strncmp(syns[ix->syn_sorted[mid]].folded, w, wl) < 0) lo = mid + 1;
        else hi = mid;
      }
      for (size_t k = lo; k < ix->nsyns; k++) {
        const syn *t = &syns[ix->syn_sorted[k]];
        if (strncmp(t->folded, w, wl) != 0) break;
        if (t->folded[wl] != ' ' && t->folded[wl] != '\0') {
          if (ix->syn_first_ok) break; /* past the run */
          continue;
        }
        if (best >= 0 && syns[best].nwords >= t->nwords) continue;
        if (spells(c, i, t, fixes)) best = (long)ix->syn_sorted[k];
      }
    }
    *fixed = fixes && best >= 0;
  }
  return best;
}

/* Synonyms stand in for the words they came from: the longest run of query
 * words equal to a synonym term (leftmost first, runs do not overlap) gets a
 * slot whose alternatives are the other terms of its group, grouped with the
 * slots of the run's words, and the group scores the better of the words
 * together and the synonym (docs/ranking.md). */
static void add_synonyms(cx_index *ix, cx__query *q, const collect *c) {
  size_t nsyn = 0;
  const syn *syns = load_synonyms(ix, &nsyn);
  if (nsyn == 0) return;
  int ngroups = 0;
  for (size_t i = 0; i < c->n;) {
    int fixed;
    long si = longest_synonym(ix, c, i, &fixed);
    if (si < 0) {
      i++;
      continue;
    }
    size_t nw = syns[si].nwords;
    int members[CX__MAX_SLOTS], nm = 0, clash = 0;
    cx__buf run;
    cx__buf_init(&run);
    for (size_t k = 0; k < nw; k++) {
      if (k) cx__buf_putc(&run, ' ');
      cx__buf_puts(&run, c->v[i + k].word);
      int sl = c->v[i + k].slot;
      if (sl < 0) continue;
      if (q->slots[sl].group >= 0) clash = 1;
      int dup = 0;
      for (int m = 0; m < nm; m++) dup |= members[m] == sl;
      if (!dup && nm < CX__MAX_SLOTS) members[nm++] = sl;
    }
    i += nw;
    cx__qslot *s = clash ? NULL : add_slot(q, run.p);
    for (size_t sj = 0; s && sj < nsyn; sj++)
      if (syns[sj].grp == syns[si].grp && (long)sj != si && strcmp(syns[sj].stems, syns[si].stems) != 0)
        slot_add_alt(q, s, syns[sj].stems, syns[sj].folded, run.p, CX__K_SYNONYM,
                     fixed ? W_SYNONYM * W_TYPO1 : W_SYNONYM, syns[sj].nwords > 1);
    if (s && s->nalts == 0) {
      /* Every term of the group stems alike: nothing to add. */
      q->nslots--;
      s = NULL;
    }
    if (s == NULL) {
      cx__buf_destroy(&run);
      continue;
    }
    s->syn = 1;
    if (nm > 0) {
      s->group = ngroups;
      for (int m = 0; m < nm; m++) q->slots[members[m]].group = ngroups;
      /* A term of several words, found as typed (or corrected) in a card,
       * earns a bonus on top of its words: they are together, not scattered. */
      if (syns[si].nwords > 1) {
        cx__buf key;
        cx__buf_init(&key);
        cx__buf_printf(&key, "%s (phrase)", run.p);
        cx__qslot *p = add_slot(q, key.p);
        cx__buf_destroy(&key);
        if (p) {
          slot_add_alt(q, p, syns[si].stems, syns[si].folded, run.p, CX__K_PHRASE,
                       fixed ? W_PHRASE * W_TYPO1 : W_PHRASE, 1);
          p->syn = 2;
          p->group = ngroups;
        }
      }
      ngroups++;
    }
    cx__buf_destroy(&run);
  }
  q->ngroups = ngroups;
}

int cx__query_parse(cx_index *ix, const char *text, int raw, int prefix_last, cx__query *q,
                    cx_err *err) {
  memset(q, 0, sizeof *q);
  if (text == NULL) text = "";
  int n = (int)strlen(text);
  if (n > CX__MAX_QUERY_BYTES) {
    n = utf8_cut(text, CX__MAX_QUERY_BYTES);
    q->truncated = 1;
  }
  if (raw) return raw_translate(text, (size_t)n, q, err);
  /* Identifiers first: they are what the person means most precisely. */
  cx__buf ids;
  cx__buf_init(&ids);
  span spans[64];
  size_t nspans = find_idents(text, (size_t)n, &ids, spans, 64);
  int span_slot[64];
  size_t nline = 0;
  for (size_t k = 0; k < 64; k++) span_slot[k] = -1;
  for (char *line = ids.p; line && *line; nline++) {
    char *nl = strchr(line, '\n');
    *nl = '\0';
    char kind = line[0];
    const char *toks = line + 2;
    cx__qslot *s = NULL;
    for (size_t i = 0; i < q->nslots; i++)
      if (strcmp(q->slots[i].word, toks) == 0) s = &q->slots[i];
    if (s == NULL && (s = add_slot(q, toks)) == NULL) break;
    /* One slot per identifier, its forms as alternatives; a clause that is
     * a card's primary id ("pri" tokens, fts_doc.c) weighs more than one it
     * only overlaps with. */
    for (const char *t = toks; *t;) {
      size_t len = strcspn(t, " ");
      char *tok = cx_xstrndup(t, len);
      if (kind == 'c') {
        char *pri = cx_xmalloc(len + 4);
        memcpy(pri, "pri", 3);
        memcpy(pri + 3, tok, len + 1);
        add_ident_alt(ix, q, s, pri, tok, W_IDENT);
        free(pri);
        add_ident_alt(ix, q, s, tok, tok, W_IDENT_OVERLAP);
      } else {
        add_ident_alt(ix, q, s, tok, tok, W_IDENT);
      }
      free(tok);
      t += len;
      while (*t == ' ') t++;
    }
    if (s->nalts == 0) {
      q->nslots--;
    } else if (nline < 64) {
      span_slot[nline] = (int)(s - q->slots);
    }
    line = nl + 1;
  }
  cx__buf_destroy(&ids);

  collect c = {.q = q};
  cx__tokenize(ix, 0, text, n, collect_plain, &c);
  cx__tokenize(ix, 1, text, n, collect_stem, &c);
  /* Pieces of identifiers belong to the identifier's slot; tokens the
   * stemmer did not see are dropped. */
  size_t kept = 0, nonstop = 0;
  for (size_t i = 0; i < c.n; i++) {
    c.v[i].slot = -1;
    c.v[i].in_span = 0;
    for (size_t k = 0; k < nspans; k++)
      if ((size_t)c.v[i].start >= spans[k].start && (size_t)c.v[i].end <= spans[k].end) {
        c.v[i].in_span = 1;
        c.v[i].slot = span_slot[k];
      }
    if (c.v[i].stem == NULL) continue;
    c.v[i].stop = cx__is_stop_word(c.v[i].word, strlen(c.v[i].word));
    if (!c.v[i].stop && !c.v[i].in_span) nonstop++;
    c.v[kept++] = c.v[i];
  }
  c.n = kept;
  int keep_stops = nonstop == 0 && q->nslots == 0;
  int last_open = n > 0 && is_word_char((unsigned char)text[n - 1]);
  size_t last_word = c.n;
  for (size_t i = c.n; i-- > 0;)
    if (!c.v[i].in_span) {
      last_word = i;
      break;
    }

  for (size_t i = 0; i < c.n; i++) {
    qword *w = &c.v[i];
    if (w->in_span) continue;
    int is_last = i == last_word && i + 1 == c.n && last_open && prefix_last;
    if (w->stop && !keep_stops && !is_last) continue;
    cx__qslot *s = NULL;
    for (size_t k = 0; k < q->nslots; k++)
      if (q->slots[k].alts && q->slots[k].alts[0].kind == CX__K_EXACT &&
          strcmp(q->slots[k].alts[0].term, w->stem) == 0) {
        s = &q->slots[k];
        w->slot = (int)k;
      }
    if (s && !is_last) continue;
    if (s == NULL) {
      s = add_slot(q, w->word);
      if (s == NULL) break;
      w->slot = (int)(q->nslots - 1);
      s->stop = w->stop;
      slot_add_alt(q, s, w->stem, w->word, w->word, CX__K_EXACT, w->stop ? W_STOP : 1.0, 0);
    }
    if (!w->stop && !is_corpus_word(ix, w->word, w->stem)) w->fix = add_typos(ix, q, s, w->word);
    if (is_last) add_prefixes(ix, q, s, w->word);
  }
  add_synonyms(ix, q, &c);
  free(c.v);
  (void)err;
  return 0;
}

void cx__query_destroy(cx__query *q) {
  for (qblock *b = q->blocks, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  free(q->raw_match);
  memset(q, 0, sizeof *q);
}
