/* query_hit.c — hits as a UI shows them: a per-handle cache of each card's hit fields and tokenised sections, and snippets. */
#include "engine_internal.h"
#include "cx_json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A hit used to cost a parse of the card's whole stored JSON and a porter
 * pass over its sections, ten times per query: most of a query's time. Now
 * a card's hit fields (cx_hits, written by the engine post-build) are parsed
 * once per handle and kept with its sections' tokens, so building a hit
 * again is a shallow copy plus a scan of a few dozen cached tokens. */

/* One token of a section: byte offsets and a hash of its porter stem. */
typedef struct stok {
  uint32_t start, end, hash;
} stok;

typedef struct hsec {
  char *text;
  int plain; /* the "Plain-English answer" */
  stok *toks;
  size_t ntoks;
  int tokenised;
  /* The tokens chained by hash (head[hash & mask], then next[], both
   * index+1, 0 ending a chain; in order): a snippet looks up its few terms
   * instead of probing its term set with every token. */
  uint16_t *head, *next;
  uint32_t mask;
} hsec;

struct cx__hentry {
  int64_t rowid;
  json_t *hit; /* shared by every result built from it: never modified */
  /* hit as compact JSON text without its closing '}' (and with a ',' when
   * it has fields), for cx__hit_write to splice: made on first use.
   * text_state 0: not yet, 1: made, -1: hit cannot be spliced. */
  char *text;
  size_t text_len;
  int text_state;
  hsec *secs;  /* the plain-English answer first, then the others in order */
  size_t nsecs, cap;
  int all_loaded; /* the sections besides the plain-English answer are in secs */
};

/* The cache is small and flat: cleared when full, which a corpus that fits
 * (every card of seeds/) never is, and which costs a large one only
 * re-reading rows it would have read anyway. */
#define HCACHE_SLOTS 8192
#define HCACHE_MAX 512

uint32_t cx__term_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* ---- hit fields ---- */

static json_t *copy_or_empty(json_t *v) { return json_is_array(v) ? json_deep_copy(v) : json_array(); }

json_t *cx__hit_base(json_t *card) {
  json_t *h = json_object();
  json_t *id = json_object_get(card, "id"), *query = json_object_get(card, "query");
  json_object_set_new(h, "id", json_is_string(id) ? json_incref(id) : json_string(""));
  json_object_set_new(h, "question", json_is_string(query) ? json_incref(query) : json_string(""));
  json_t *title = json_object_get(card, "title");
  json_object_set(h, "title", json_is_string(title) ? title : json_object_get(h, "question"));
  json_object_set_new(h, "packs", copy_or_empty(json_object_get(card, "packs")));
  json_object_set_new(h, "tags", copy_or_empty(json_object_get(card, "capability_tags")));
  json_t *clauses = copy_or_empty(json_object_get(card, "primary_ids"));
  json_t *overlap = json_object_get(card, "overlap_ids");
  if (json_is_array(overlap)) json_array_extend(clauses, overlap);
  json_object_set_new(h, "clause_ids", clauses);
  json_object_set_new(h, "sources", copy_or_empty(json_object_get(card, "sources")));
  json_t *ui = json_object_get(card, "ui");
  json_object_set_new(h, "actions", copy_or_empty(ui ? json_object_get(ui, "actions") : NULL));
  return h;
}

/* Puts the card's rows of sections in place of its JSON's "sections": null. */
static int card_sections(cx_index *ix, int64_t rowid, json_t *card, cx_err *err) {
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_CARD_SECTIONS, err);
  if (st == NULL) return CX_ESQLITE;
  sqlite3_bind_int64(st, 1, rowid);
  json_t *a = json_array();
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *x = json_object();
    static const char *const keys[3] = {"name", "markdown", "text"};
    for (int c = 0; c < 3; c++) {
      const char *v = (const char *)sqlite3_column_text(st, c);
      json_object_set_new(x, keys[c], json_string(v ? v : ""));
    }
    json_array_append_new(a, x);
  }
  sqlite3_reset(st);
  json_object_set_new(card, "sections", a);
  return s == SQLITE_DONE ? 0 : cx__sqlite_err(ix, err, "reading sections");
}

json_t *cx__card_json(cx_index *ix, int64_t rowid, cx_err *err) {
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_CARD_BY_ROWID, err);
  if (st == NULL) return NULL;
  sqlite3_bind_int64(st, 1, rowid);
  json_t *card = NULL;
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    json_error_t jerr;
    card = json_loadb((const char *)sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3),
                      0, &jerr);
    if (card == NULL || !json_is_object(card)) {
      cx_err_set(err, CX_ECORRUPT, "", "%s: card row %lld has invalid JSON (%s); rebuild the index",
                 ix->path, (long long)rowid, card ? "not an object" : jerr.text);
      json_decref(card);
      card = NULL;
    } else {
      /* The columns are authoritative for what is searched. */
      json_object_set_new(card, "id", json_string((const char *)sqlite3_column_text(st, 0)));
      json_object_set_new(card, "query", json_string((const char *)sqlite3_column_text(st, 1)));
      /* The builder stores the sections once, in their table. */
      if (json_is_null(json_object_get(card, "sections")) &&
          card_sections(ix, rowid, card, err) != 0) {
        json_decref(card);
        card = NULL;
      }
    }
  } else if (s == SQLITE_DONE) {
    cx_err_set(err, CX_ECORRUPT, "", "%s: fts row %lld has no card; rebuild the index", ix->path,
               (long long)rowid);
  } else {
    cx__sqlite_err(ix, err, "reading a card");
  }
  sqlite3_reset(st);
  return card;
}

/* ---- the cache ---- */

static void entry_free(cx__hentry *e) {
  if (e == NULL) return;
  json_decref(e->hit);
  free(e->text);
  for (size_t i = 0; i < e->nsecs; i++) {
    free(e->secs[i].text);
    free(e->secs[i].toks);
    free(e->secs[i].head);
    free(e->secs[i].next);
  }
  free(e->secs);
  free(e);
}

void cx__hit_cache_clear(cx_index *ix) {
  if (ix->hents == NULL) return;
  for (size_t i = 0; i < HCACHE_SLOTS; i++) entry_free(ix->hents[i]);
  free(ix->hents);
  ix->hents = NULL;
  ix->nhents = 0;
}

static size_t slot_of(int64_t rowid) {
  return (size_t)(((uint64_t)rowid * 0x9E3779B97F4A7C15ull) >> 51) & (HCACHE_SLOTS - 1);
}

static void add_sec(cx__hentry *e, const char *text, int plain) {
  if (e->nsecs == e->cap) {
    e->cap = e->cap ? e->cap * 2 : 4;
    e->secs = cx_xrealloc(e->secs, e->cap * sizeof *e->secs);
  }
  e->secs[e->nsecs++] = (hsec){cx_xstrdup(text), plain, NULL, 0, 0, NULL, NULL, 0};
}

/* The hit fields and, when cx_hits has it, the plain-English answer. */
static json_t *load_hit(cx_index *ix, cx__hentry *e, cx_err *err) {
  if (!ix->has_hits) {
    json_t *card = cx__card_json(ix, e->rowid, err);
    if (card == NULL) return NULL;
    json_t *h = cx__hit_base(card);
    json_decref(card);
    return h;
  }
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_HIT, err);
  if (st == NULL) return NULL;
  sqlite3_bind_int64(st, 1, e->rowid);
  json_t *h = NULL;
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    json_error_t jerr;
    h = json_loadb((const char *)sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), 0,
                   &jerr);
    if (h == NULL || !json_is_object(h)) {
      cx_err_set(err, CX_ECORRUPT, "", "%s: cx_hits row %lld is not a JSON object (%s); rebuild "
                 "the index", ix->path, (long long)e->rowid, h ? "another type" : jerr.text);
      json_decref(h);
      h = NULL;
    } else if (sqlite3_column_type(st, 1) == SQLITE_TEXT && sqlite3_column_bytes(st, 1) > 0) {
      add_sec(e, (const char *)sqlite3_column_text(st, 1), 1);
    }
  } else if (s == SQLITE_DONE) {
    cx_err_set(err, CX_ECORRUPT, "", "%s: card row %lld has no cx_hits row; rebuild the index",
               ix->path, (long long)e->rowid);
  } else {
    cx__sqlite_err(ix, err, "reading a hit");
  }
  sqlite3_reset(st);
  return h;
}

/* Every section but Sources, the plain-English answer first (unless it is
 * already there). */
static int load_sections(cx_index *ix, cx__hentry *e, cx_err *err) {
  e->all_loaded = 1;
  if (ix->has_hits) {
    /* One row of cx_hits instead of every row of sections. */
    sqlite3_stmt *st = cx__stmt(ix, CX__ST_OTHERS, err);
    if (st == NULL) return CX_ESQLITE;
    sqlite3_bind_int64(st, 1, e->rowid);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
      const char *p = (const char *)sqlite3_column_text(st, 0);
      while (*p) {
        size_t len = strcspn(p, "\x1f");
        if (len) {
          char *t = cx_xstrndup(p, len);
          add_sec(e, t, 0);
          free(t);
        }
        p += len;
        if (*p) p++;
      }
    }
    sqlite3_reset(st);
    return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : cx__sqlite_err(ix, err, "reading sections");
  }
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_SECTIONS, err);
  if (st == NULL) return CX_ESQLITE;
  sqlite3_bind_int64(st, 1, e->rowid);
  int have_plain = e->nsecs > 0 && e->secs[0].plain;
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    const char *text = (const char *)sqlite3_column_text(st, 1);
    if (name == NULL || text == NULL || *text == '\0' || strcasecmp(name, "Sources") == 0) continue;
    int plain = strcasecmp(name, "Plain-English answer") == 0;
    if (plain && have_plain == 1) {
      have_plain = 2; /* the first one is secs[0] already */
      continue;
    }
    add_sec(e, text, plain && !have_plain);
    if (plain && !have_plain) {
      hsec tmp = e->secs[e->nsecs - 1];
      memmove(&e->secs[1], &e->secs[0], (e->nsecs - 1) * sizeof *e->secs);
      e->secs[0] = tmp;
      have_plain = 2;
    }
  }
  sqlite3_reset(st);
  return s == SQLITE_DONE ? 0 : cx__sqlite_err(ix, err, "reading sections");
}

cx__hentry *cx__hentry_get(cx_index *ix, int64_t rowid, cx_err *err) {
  if (ix->hents == NULL) ix->hents = cx_xcalloc(HCACHE_SLOTS, sizeof *ix->hents);
  size_t h = slot_of(rowid);
  while (ix->hents[h]) {
    if (ix->hents[h]->rowid == rowid) return ix->hents[h];
    h = (h + 1) & (HCACHE_SLOTS - 1);
  }
  cx__hentry *e = cx_xcalloc(1, sizeof *e);
  e->rowid = rowid;
  /* Without cx_hits the plain-English answer comes with the other sections. */
  if ((e->hit = load_hit(ix, e, err)) == NULL || (!ix->has_hits && load_sections(ix, e, err) != 0)) {
    entry_free(e);
    return NULL;
  }
  if (ix->nhents >= (ix->hcache_max ? ix->hcache_max : HCACHE_MAX)) {
    cx__hit_cache_clear(ix);
    ix->hents = cx_xcalloc(HCACHE_SLOTS, sizeof *ix->hents);
    h = slot_of(rowid);
  }
  ix->hents[h] = e;
  ix->nhents++;
  return e;
}

const char *cx__hentry_plain(const cx__hentry *e) {
  return e->nsecs && e->secs[0].plain ? e->secs[0].text : NULL;
}

json_t *cx__hentry_base(const cx__hentry *e) { return e->hit; }

/* ---- snippets ---- */

typedef struct tok_vec {
  stok *v;
  size_t n, cap;
} tok_vec;

static int tok_cb(void *ctx, const char *tok, int n, int start, int end) {
  tok_vec *t = ctx;
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 64;
    t->v = cx_xrealloc(t->v, t->cap * sizeof *t->v);
  }
  t->v[t->n++] = (stok){(uint32_t)start, (uint32_t)end, cx__term_hash(tok, (size_t)n)};
  return t->n >= 20000;
}

/* After head (nb entries, nb >= 16: 8-byte aligned) a 1024-bit filter of
 * the section's token hashes, by their top bits (the chains use the low
 * ones): most query terms are in none of a card's sections, and testing a
 * bit of one hot cache line is cheaper than a cold chain head. */
#define SEC_BLOOM_BITS 1024
#define BLOOM_BIT(h) ((h) >> 22)

static uint64_t *sec_bloom(const hsec *s) { return (uint64_t *)(void *)(s->head + s->mask + 1); }

static void tokenise(cx_index *ix, hsec *s) {
  if (s->tokenised) return;
  tok_vec t = {0};
  cx__tokenize(ix, 1, s->text, -1, tok_cb, &t);
  s->toks = t.v;
  s->ntoks = t.n;
  s->tokenised = 1;
  if (t.n == 0) return;
  /* At most 20,000 tokens (tok_cb): positions + 1 fit in 16 bits. */
  size_t nb = 16;
  while (nb < 2 * t.n) nb <<= 1;
  s->mask = (uint32_t)(nb - 1);
  s->head = cx_xcalloc(nb + SEC_BLOOM_BITS / 16, sizeof *s->head);
  s->next = cx_xmalloc(t.n * sizeof *s->next);
  uint64_t *bloom = sec_bloom(s);
  for (size_t i = t.n; i-- > 0;) {
    uint32_t b = t.v[i].hash & s->mask;
    s->next[i] = s->head[b];
    s->head[b] = (uint16_t)(i + 1);
    uint32_t x = BLOOM_BIT(t.v[i].hash);
    bloom[x / 64] |= 1ull << (x % 64);
  }
}

#define SNIP_TOKENS 28

/* The best window of SNIP_TOKENS tokens (most distinct matched terms, then
 * most matches, then earliest); windows start 3 tokens before a match.
 * Returns its quality (distinct * 64 + matches), fills *from. */
static int best_window(size_t ntoks, const unsigned char *match, const uint32_t *pos, size_t npos,
                       size_t *from) {
  /* The candidates are token 0 and every match (pos, in order); the window
   * slides from one to the next over the matches alone, counting them per
   * term bit (as a 64-bit "seen" set would hold them). */
  int best = -1, distinct = 0, hits = 0;
  unsigned char count[64] = {0};
  size_t a = 0, b = 0; /* the window's matches: pos[a, b) */
  *from = 0;
  if (ntoks == 0) return best;
  for (size_t c = 0; c <= npos; c++) {
    size_t i = c == 0 ? 0 : pos[c - 1];
    size_t start = i > 3 ? i - 3 : 0;
    size_t end = start + SNIP_TOKENS < ntoks ? start + SNIP_TOKENS : ntoks;
    for (; b < npos && pos[b] < end; b++) {
      if (count[(match[pos[b]] - 1) % 64]++ == 0) distinct++;
      hits++;
    }
    for (; a < b && pos[a] < start; a++) {
      if (--count[(match[pos[a]] - 1) % 64] == 0) distinct--;
      hits--;
    }
    int q = distinct * 64 + (hits < 63 ? hits : 63);
    if (q > best) {
      best = q;
      *from = start;
    }
  }
  return best;
}

static void render_window(const hsec *s, const unsigned char *match, size_t from, const char *open,
                          const char *close, cx__buf *out) {
  if (s->ntoks == 0) {
    cx__buf_puts(out, s->text);
    return;
  }
  size_t to = from + SNIP_TOKENS < s->ntoks ? from + SNIP_TOKENS : s->ntoks;
  uint32_t pos = s->toks[from].start;
  if (from > 0) cx__buf_puts(out, "…");
  /* Text between highlights is copied in one piece. */
  for (size_t j = from; j < to; j++) {
    if (!match[j]) continue;
    const stok *t = &s->toks[j];
    cx__buf_add(out, s->text + pos, t->start - pos);
    cx__buf_puts(out, open);
    cx__buf_add(out, s->text + t->start, t->end - t->start);
    cx__buf_puts(out, close);
    pos = t->end;
  }
  if (to < s->ntoks) {
    cx__buf_add(out, s->text + pos, s->toks[to - 1].end - pos);
    cx__buf_puts(out, "…");
  } else {
    cx__buf_puts(out, s->text + pos);
  }
}

/* Marks in m (index+1 of the term, 0: none) the tokens of s that match one
 * of the first 200 terms (those of the terms' set), and lists them in pos
 * in order. Returns how many. */
static size_t matches(const hsec *s, const cx__snip_terms *terms, unsigned char *m, uint32_t *pos) {
  if (s->ntoks == 0) return 0;
  memset(m, 0, s->ntoks);
  size_t nterms = terms->n < 200 ? terms->n : 200, npos = 0;
  const uint64_t *bloom = sec_bloom(s);
  for (size_t k = 0; k < nterms; k++) {
    uint32_t h = terms->hash[k], x = BLOOM_BIT(h);
    if (!(bloom[x / 64] >> (x % 64) & 1)) continue;
    for (uint16_t j = s->head[h & s->mask]; j; j = s->next[j - 1])
      if (s->toks[j - 1].hash == h) {
        m[j - 1] = (unsigned char)(k + 1);
        if (npos < 32) pos[npos] = j - 1u;
        npos++;
      }
  }
  /* A few matches (each token matches one term at most): their positions
   * sorted, without reading the rest of m. */
  if (npos <= 32) {
    for (size_t a = 1; a < npos; a++) {
      uint32_t v = pos[a];
      size_t b = a;
      for (; b > 0 && pos[b - 1] > v; b--) pos[b] = pos[b - 1];
      pos[b] = v;
    }
    return npos;
  }
  npos = 0;
  /* Most tokens match nothing: skip them a word at a time. */
  size_t i = 0;
  for (; i + 8 <= s->ntoks; i += 8) {
    uint64_t w;
    memcpy(&w, m + i, 8);
    if (w == 0) continue;
    for (size_t j = i; j < i + 8; j++)
      if (m[j]) pos[npos++] = (uint32_t)j;
  }
  for (; i < s->ntoks; i++)
    if (m[i]) pos[npos++] = (uint32_t)i;
  return npos;
}

/* The window with the most query terms, from the plain-English answer when
 * it has any, else from the first section that has one; the plain-English
 * answer's start when nothing matches. */
static void snippet(cx_index *ix, cx__hentry *e, const cx__snip_terms *terms, const char *open,
                    const char *close, cx__buf *out, cx_err *err) {
  /* Two match arrays (the best section's and the current one's) and one
   * position list, on the stack for sections of up to 512 tokens. */
  unsigned char stackbuf[2][512];
  uint32_t stackpos[512];
  unsigned char *mbuf[2] = {stackbuf[0], stackbuf[1]};
  size_t mcap[2] = {sizeof stackbuf[0], sizeof stackbuf[1]};
  uint32_t *pos = stackpos;
  size_t poscap = sizeof stackpos / sizeof *stackpos;
  size_t best = SIZE_MAX; /* an index: loading sections moves e->secs */
  size_t best_from = 0;
  int best_q = -1, cur = 0;
  for (size_t i = 0; i < e->nsecs || !e->all_loaded; i++) {
    /* Done at the first section with a term in it, the plain-English answer
     * being first: tokenising every section of a card costs more than the
     * rest of its hit. */
    if (best_q >= 64) break;
    /* The other sections are read the first time a snippet needs them. */
    if (i >= e->nsecs && (load_sections(ix, e, err) != 0 || i >= e->nsecs)) break;
    hsec *s = &e->secs[i];
    tokenise(ix, s);
    if (s->ntoks > mcap[cur]) {
      if (mbuf[cur] != stackbuf[0] && mbuf[cur] != stackbuf[1]) free(mbuf[cur]);
      mbuf[cur] = cx_xmalloc(s->ntoks);
      mcap[cur] = s->ntoks;
    }
    if (s->ntoks > poscap) {
      if (pos != stackpos) free(pos);
      pos = cx_xmalloc(s->ntoks * sizeof *pos);
      poscap = s->ntoks;
    }
    size_t npos = matches(s, terms, mbuf[cur], pos);
    size_t from;
    int q = best_window(s->ntoks, mbuf[cur], pos, npos, &from);
    if (q > best_q) {
      best = i;
      best_q = q;
      best_from = from;
      cur ^= 1;
    }
  }
  if (best != SIZE_MAX) render_window(&e->secs[best], mbuf[cur ^ 1], best_from, open, close, out);
  for (int k = 0; k < 2; k++)
    if (mbuf[k] != stackbuf[0] && mbuf[k] != stackbuf[1]) free(mbuf[k]);
  if (pos != stackpos) free(pos);
}

/* Starts loading what writing the cached hits among hits will read (their
 * entries, pre-encoded fields, first sections' filters and tokens), in two
 * rounds over the page: a page's cache misses then overlap instead of
 * coming one after another, hit by hit. Entries are only looked at, never
 * loaded or kept: a hint, without effect on the result. */
void cx__hits_prefetch(cx_index *ix, const cx__hit *hits, size_t n) {
  if (ix->hents == NULL) return;
  const cx__hentry *v[32];
  size_t m = 0;
  for (size_t i = 0; i < n && m < 32; i++)
    for (size_t h = slot_of(hits[i].rowid); ix->hents[h]; h = (h + 1) & (HCACHE_SLOTS - 1))
      if (ix->hents[h]->rowid == hits[i].rowid) {
        v[m++] = ix->hents[h];
        break;
      }
  for (size_t i = 0; i < m; i++) {
    if (v[i]->secs) __builtin_prefetch(v[i]->secs);
    if (v[i]->text) __builtin_prefetch(v[i]->text);
  }
  for (size_t i = 0; i < m; i++) {
    if (v[i]->nsecs == 0 || v[i]->secs[0].head == NULL) continue;
    const hsec *sec = &v[i]->secs[0];
    const char *bloom = (const char *)sec_bloom(sec);
    __builtin_prefetch(bloom);
    __builtin_prefetch(bloom + 64);
    __builtin_prefetch(sec->toks);
    __builtin_prefetch(sec->text);
  }
}

json_t *cx__hit_json(cx_index *ix, cx__hentry *e, double score, const cx__snip_terms *terms,
                     const char *open, const char *close) {
  json_t *h = json_object();
  json_object_update(h, e->hit);
  json_object_set_new(h, "score", json_real(round(score * 1000.0) / 1000.0));
  cx__buf snip;
  cx__buf_init(&snip);
  snippet(ix, e, terms, open, close, &snip, NULL);
  /* Valid UTF-8 by construction: cards are checked by the parser, windows
   * end at token boundaries, markers come from a parsed JSON request. */
  json_object_set_new(h, "snippet", json_stringn_nocheck(snip.p ? snip.p : "", snip.n));
  cx__buf_destroy(&snip);
  return h;
}

/* The entry's fields as text, once. A hit object with "score" or "snippet"
 * among them (a damaged cx_hits row) gets those keys replaced in place by
 * cx__hit_json, which splicing cannot reproduce: such entries are not
 * spliced. */
static int hit_text(cx__hentry *e) {
  if (e->text_state) return e->text_state;
  if (!json_is_object(e->hit) || json_object_get(e->hit, "score") ||
      json_object_get(e->hit, "snippet")) {
    e->text_state = -1;
    return -1;
  }
  cx__buf t;
  cx__buf_init(&t);
  cx__json_write(&t, e->hit); /* "{...}" */
  t.n--;                      /* the closing '}' */
  if (t.n > 1) cx__buf_putc(&t, ',');
  t.p[t.n] = '\0';
  e->text_len = t.n;
  e->text = cx__buf_detach(&t);
  e->text_state = 1;
  return 1;
}

int cx__hit_write(cx_index *ix, cx__hentry *e, double score, const cx__snip_terms *terms,
                  const char *open, const char *close, cx__buf *out, cx__buf *scratch) {
  if (hit_text(e) < 0) return -1;
  cx__buf_add(out, e->text, e->text_len);
  cx__buf_puts(out, "\"score\":");
  double v = round(score * 1000.0) / 1000.0;
  if (isfinite(v)) cx__json_put_real(out, v);
  else cx__buf_puts(out, "null");
  cx__buf_puts(out, ",\"snippet\":");
  scratch->n = 0;
  snippet(ix, e, terms, open, close, scratch, NULL);
  cx__json_put_string(out, scratch->p ? scratch->p : "", scratch->n);
  cx__buf_putc(out, '}');
  return 0;
}
