/* rank_postings.c — the fast plan: the engine's own block postings with MaxScore pruning.
 *
 * At build time (cx__engine_post_build) every term of the FTS index gets a
 * row in cx_postings: its card rowids in order, each with the one-byte impact
 * q that cx__impact computes (the same numbers the cx_rank auxiliary function
 * computes from FTS5 at query time), cut into blocks of CX__BLOCK postings
 * with a directory of (last rowid, offset, block max q). A query then reads
 * the rare terms' lists and only seeks into the common terms' lists at the
 * candidates, skipping whole blocks whose best possible score cannot enter the
 * top k. The result is exactly the exhaustive ranking (bench checks it).
 */
#include "rank_internal.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CX__BLOCK 128
#define DIR_ENTRY 9 /* u32 last rowid, u32 payload offset, u8 max q */

/* ---- encoding ---- */

static const unsigned char *get_varint(const unsigned char *p, const unsigned char *end, uint64_t *v) {
  uint64_t x = 0;
  while (p < end) {
    unsigned char c = *p++;
    x = (x << 7) | (c & 0x7f);
    if (!(c & 0x80)) break;
  }
  *v = x;
  return p;
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct plist_builder {
  int64_t *rowid;
  unsigned char *q;
  size_t n, cap;
} plist_builder;

static void pb_add(plist_builder *pb, int64_t rowid, int q) {
  if (pb->n == pb->cap) {
    pb->cap = pb->cap ? pb->cap * 2 : 256;
    pb->rowid = cx_xrealloc(pb->rowid, pb->cap * sizeof *pb->rowid);
    pb->q = cx_xrealloc(pb->q, pb->cap);
  }
  pb->rowid[pb->n] = rowid;
  pb->q[pb->n++] = (unsigned char)q;
}

/* Appends the list, encoded as [varint nblocks][directory][payload], to out:
 * written in place (the directory's size is known before the payload), not
 * byte by byte through three buffers, since at 100k cards the build encodes
 * 14M postings. */
static void pb_encode_to(const plist_builder *pb, cx__buf *out, int *maxq) {
  size_t nblocks = (pb->n + CX__BLOCK - 1) / CX__BLOCK;
  /* varint nblocks <= 10 bytes, a payload entry <= 10 + 1 */
  cx__buf_reserve(out, 10 + nblocks * DIR_ENTRY + pb->n * 11);
  unsigned char *p = (unsigned char *)out->p + out->n, *start = p;
  unsigned char tmp[10];
  int nt = 0;
  uint64_t v = nblocks;
  do {
    tmp[nt++] = (unsigned char)(v & 0x7f);
    v >>= 7;
  } while (v);
  for (int i = nt - 1; i >= 0; i--) *p++ = (unsigned char)(tmp[i] | (i ? 0x80 : 0));
  unsigned char *dir = p, *pay0 = p + nblocks * DIR_ENTRY, *pay = pay0;
  *maxq = 0;
  int64_t prev = 0;
  for (size_t b = 0; b < nblocks; b++) {
    size_t lo = b * CX__BLOCK, hi = lo + CX__BLOCK < pb->n ? lo + CX__BLOCK : pb->n;
    uint32_t off = (uint32_t)(pay - pay0);
    int bmax = 0;
    for (size_t i = lo; i < hi; i++) {
      v = (uint64_t)(pb->rowid[i] - prev);
      nt = 0;
      do {
        tmp[nt++] = (unsigned char)(v & 0x7f);
        v >>= 7;
      } while (v);
      for (int k = nt - 1; k >= 0; k--) *pay++ = (unsigned char)(tmp[k] | (k ? 0x80 : 0));
      *pay++ = pb->q[i];
      prev = pb->rowid[i];
      if (pb->q[i] > bmax) bmax = pb->q[i];
    }
    uint32_t last = (uint32_t)pb->rowid[hi - 1];
    unsigned char *d = dir + b * DIR_ENTRY;
    for (int k = 0; k < 4; k++) d[k] = (unsigned char)(last >> (8 * k));
    for (int k = 0; k < 4; k++) d[4 + k] = (unsigned char)(off >> (8 * k));
    d[8] = (unsigned char)bmax;
    if (bmax > *maxq) *maxq = bmax;
  }
  out->n += (size_t)(pay - start);
}

/* Encodes the list as [varint nblocks][directory][payload]. */
static void pb_encode(const plist_builder *pb, cx__buf *out, int *maxq) {
  cx__buf_init(out);
  pb_encode_to(pb, out, maxq);
}

/* ---- building the tables ---- */

/* SQLite's varint, as FTS5 stores column sizes in fts_docsize. */
static const unsigned char *sqlite_varint(const unsigned char *p, const unsigned char *end, int64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < 9 && p < end; i++) {
    unsigned char c = *p++;
    if (i == 8) {
      x = (x << 8) | c;
      break;
    }
    x = (x << 7) | (c & 0x7f);
    if (!(c & 0x80)) break;
  }
  *v = (int64_t)x;
  return p;
}

typedef struct strset {
  char **v;
  size_t cap, n;
} strset;

static uint64_t hash_str(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

static void strset_add(strset *s, const char *w, size_t n) {
  if (s->n * 2 >= s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4096;
    char **v = cx_xcalloc(cap, sizeof *v);
    for (size_t i = 0; i < s->cap; i++)
      if (s->v[i]) {
        size_t j = hash_str(s->v[i], strlen(s->v[i])) & (cap - 1);
        while (v[j]) j = (j + 1) & (cap - 1);
        v[j] = s->v[i];
      }
    free(s->v);
    s->v = v;
    s->cap = cap;
  }
  size_t j = hash_str(w, n) & (s->cap - 1);
  while (s->v[j]) {
    if (strlen(s->v[j]) == n && memcmp(s->v[j], w, n) == 0) return;
    j = (j + 1) & (s->cap - 1);
  }
  s->v[j] = cx_xstrndup(w, n);
  s->n++;
}

static void strset_free(strset *s) {
  for (size_t i = 0; i < s->cap; i++) free(s->v[i]);
  free(s->v);
}

static int word_cb(void *ctx, const char *tok, int n, int start, int end) {
  /* Only plausible words: typo correction and suggestions of numbers or
   * 40-letter runs help nobody. */
  if (n >= 2 && n <= 32) strset_add(ctx, tok, (size_t)n);
  return 0;
}

typedef struct builder {
  sqlite3 *db;
  const char *schema;
  cx_index tmp; /* tokenizers of db */
  sqlite3_stmt *ins;
  cx_err *err;
} builder;

static int b_err(builder *b, const char *what) {
  return cx_err_set(b->err, CX_ESQLITE, "", "building the query engine's tables: %s: %s", what,
                    sqlite3_errmsg(b->db));
}

static int insert_list(builder *b, const char *term, const plist_builder *pb) {
  if (pb->n == 0) return 0;
  cx__buf blob;
  int maxq;
  pb_encode(pb, &blob, &maxq);
  sqlite3_reset(b->ins);
  sqlite3_bind_text(b->ins, 1, term, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(b->ins, 2, (sqlite3_int64)pb->n);
  sqlite3_bind_int(b->ins, 3, maxq);
  sqlite3_bind_blob(b->ins, 4, blob.p, (int)blob.n, SQLITE_TRANSIENT);
  int rc = sqlite3_step(b->ins) == SQLITE_DONE ? 0 : b_err(b, "inserting postings");
  cx__buf_destroy(&blob);
  return rc;
}

static int build_postings(builder *b) {
  sqlite3 *db = b->db;
  sqlite3_stmt *st;
  int rc = 0;
  /* Column lengths of every card, and their averages (as FTS5 computes them
   * for xColumnTotalSize / xRowCount). */
  int64_t maxid = 0, nrow = 0, tot[4] = {0};
  if (sqlite3_prepare_v2(db, "SELECT max(id) FROM main.fts_docsize", -1, &st, NULL) != SQLITE_OK)
    return b_err(b, "reading fts_docsize");
  if (sqlite3_step(st) == SQLITE_ROW) maxid = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  int (*len)[4] = cx_xcalloc((size_t)maxid + 1, sizeof *len);
  if (sqlite3_prepare_v2(db, "SELECT id, sz FROM main.fts_docsize", -1, &st, NULL) != SQLITE_OK) {
    free(len);
    return b_err(b, "reading fts_docsize");
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    const unsigned char *p = sqlite3_column_blob(st, 1), *end = p + sqlite3_column_bytes(st, 1);
    if (id < 0 || id > maxid) continue;
    nrow++;
    for (int c = 0; c < 4 && p && p < end; c++) {
      int64_t v;
      p = sqlite_varint(p, end, &v);
      len[id][c] = (int)v;
      tot[c] += v;
    }
  }
  sqlite3_finalize(st);
  double avg[4];
  for (int c = 0; c < 4; c++) avg[c] = nrow ? (double)tot[c] / (double)nrow : 0;

  if (sqlite3_exec(db, "DROP TABLE IF EXISTS temp.cx__vi;"
                       "CREATE VIRTUAL TABLE temp.cx__vi USING fts5vocab(main, fts, instance);",
                   NULL, NULL, NULL) != SQLITE_OK) {
    free(len);
    return b_err(b, "creating the instance vocabulary");
  }
  if (sqlite3_prepare_v2(db, "SELECT term, doc, col FROM temp.cx__vi", -1, &st, NULL) != SQLITE_OK) {
    free(len);
    return b_err(b, "reading the instance vocabulary");
  }
  static const char *const cols[4] = {"question", "tags", "answer", "sources"};
  plist_builder pb = {0};
  char *term = NULL;
  int64_t doc = -1;
  int tf[4] = {0};
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW && rc == 0) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    int64_t d = sqlite3_column_int64(st, 1);
    const char *col = (const char *)sqlite3_column_text(st, 2);
    if (t == NULL) continue;
    if (term == NULL || strcmp(term, t) != 0 || d != doc) {
      if (doc >= 0 && doc <= maxid) pb_add(&pb, doc, cx__impact(tf, len[doc], avg));
      memset(tf, 0, sizeof tf);
      doc = d;
      if (term == NULL || strcmp(term, t) != 0) {
        if (term) rc = insert_list(b, term, &pb);
        pb.n = 0;
        free(term);
        term = cx_xstrdup(t);
      }
    }
    for (int c = 0; c < 4; c++)
      if (col && strcmp(col, cols[c]) == 0) tf[c]++;
  }
  if (s != SQLITE_DONE && s != SQLITE_ROW && rc == 0) rc = b_err(b, "scanning the vocabulary");
  if (rc == 0 && term && doc >= 0 && doc <= maxid) {
    pb_add(&pb, doc, cx__impact(tf, len[doc], avg));
    rc = insert_list(b, term, &pb);
  }
  sqlite3_finalize(st);
  free(term);
  free(pb.rowid);
  free(pb.q);
  free(len);
  sqlite3_exec(db, "DROP TABLE IF EXISTS temp.cx__vi", NULL, NULL, NULL);
  return rc;
}

typedef struct joiner {
  cx__buf *b;
  int n;
} joiner;

static int join_tok(void *ctx, const char *tok, int n, int start, int end) {
  joiner *j = ctx;
  if (j->b->n) cx__buf_putc(j->b, ' ');
  cx__buf_add(j->b, tok, (size_t)n);
  j->n++;
  return 0;
}

/* Multi-word synonyms ("information security management system") get a
 * postings list of their own, keyed by their stems, from FTS5 phrase queries. */
static int build_phrases(builder *b) {
  sqlite3_stmt *st, *q;
  int rc = 0;
  if (sqlite3_prepare_v2(b->db, "SELECT DISTINCT term FROM main.synonyms", -1, &st, NULL) != SQLITE_OK)
    return b_err(b, "reading synonyms");
  if (sqlite3_prepare_v2(b->db, "SELECT rowid, cx_impact(fts) FROM main.fts WHERE fts MATCH ?1",
                         -1, &q, NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return b_err(b, "preparing phrase postings");
  }
  plist_builder pb = {0};
  while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    if (t == NULL) continue;
    cx__buf stems, folded;
    cx__buf_init(&stems);
    cx__buf_init(&folded);
    joiner js = {&stems, 0}, jf = {&folded, 0};
    cx__tokenize(&b->tmp, 1, t, -1, join_tok, &js);
    cx__tokenize(&b->tmp, 0, t, -1, join_tok, &jf);
    if (js.n > 1) {
      cx__buf m;
      cx__buf_init(&m);
      cx__buf_printf(&m, "\"%s\"", folded.p);
      sqlite3_reset(q);
      sqlite3_bind_text(q, 1, m.p, -1, SQLITE_STATIC);
      pb.n = 0;
      while (sqlite3_step(q) == SQLITE_ROW)
        pb_add(&pb, sqlite3_column_int64(q, 0), sqlite3_column_int(q, 1));
      sqlite3_reset(q);
      /* A phrase key never collides with a one-word term: it has a space. */
      sqlite3_stmt *chk;
      int exists = 0;
      cx__buf sql;
      cx__buf_init(&sql);
      cx__buf_printf(&sql, "SELECT 1 FROM %s.cx_postings WHERE term = ?1", b->schema);
      if (sqlite3_prepare_v2(b->db, sql.p, -1, &chk, NULL) == SQLITE_OK) {
        sqlite3_bind_text(chk, 1, stems.p, -1, SQLITE_STATIC);
        exists = sqlite3_step(chk) == SQLITE_ROW;
        sqlite3_finalize(chk);
      }
      cx__buf_destroy(&sql);
      if (!exists) rc = insert_list(b, stems.p, &pb);
      cx__buf_destroy(&m);
    }
    cx__buf_destroy(&stems);
    cx__buf_destroy(&folded);
  }
  free(pb.rowid);
  free(pb.q);
  sqlite3_finalize(q);
  sqlite3_finalize(st);
  return rc;
}

/* The corpus's unstemmed words with their stems, for typos and suggest. */
static int build_words(builder *b) {
  sqlite3_stmt *st;
  strset words = {0};
  if (sqlite3_prepare_v2(b->db, "SELECT question, tags, answer, sources FROM main.fts", -1, &st,
                         NULL) != SQLITE_OK)
    return b_err(b, "reading card texts");
  while (sqlite3_step(st) == SQLITE_ROW)
    for (int c = 0; c < 4; c++) {
      const char *t = (const char *)sqlite3_column_text(st, c);
      if (t) cx__tokenize(&b->tmp, 0, t, sqlite3_column_bytes(st, c), word_cb, &words);
    }
  sqlite3_finalize(st);
  cx__buf sql;
  cx__buf_init(&sql);
  cx__buf_printf(&sql, "INSERT OR IGNORE INTO %s.cx_words(word, stem, df) "
                 "SELECT ?1, ?2, coalesce((SELECT df FROM %s.cx_postings WHERE term = ?2), 0)",
                 b->schema, b->schema);
  int rc = 0;
  if (sqlite3_prepare_v2(b->db, sql.p, -1, &st, NULL) != SQLITE_OK) rc = b_err(b, "preparing words");
  cx__buf_destroy(&sql);
  for (size_t i = 0; i < words.cap && rc == 0; i++) {
    if (words.v[i] == NULL) continue;
    cx__buf stem;
    cx__buf_init(&stem);
    cx__stem(&b->tmp, words.v[i], strlen(words.v[i]), &stem);
    if (stem.n && strchr(stem.p, ' ') == NULL) {
      sqlite3_reset(st);
      sqlite3_bind_text(st, 1, words.v[i], -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, stem.p, -1, SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE) rc = b_err(b, "inserting words");
    }
    cx__buf_destroy(&stem);
  }
  sqlite3_finalize(st);
  strset_free(&words);
  return rc;
}

/* ---- cx_postings and cx_words from counts made while parsing ----
 * The builder's parser threads tokenize each card's FTS columns with FTS5's
 * own tokenizer (cx__term_counter) and the writer merges the counts
 * (cx__postings_acc): the same rows as build_postings and build_words, but
 * without scanning an fts5vocab instance table and tokenizing every text a
 * second time on the writer, which was a third of a build's writer time. */

static uint32_t hash32(const char *s, size_t n) {
  uint64_t h = hash_str(s, n);
  return (uint32_t)(h ^ (h >> 32));
}

struct cx__term_counter {
  sqlite3 *db; /* in memory: only for its fts5_api */
  fts5_tokenizer porter_api, plain_api;
  Fts5Tokenizer *porter, *plain;
  uint32_t *tslot, *wslot; /* per card: index + 1 into dt->terms / dt->words */
  size_t tcap, wcap;
  /* during one column */
  cx__doc_terms *dt;
  const char *text;
  int col;
  int prev_end; /* of the column's last token, for the token stream */
  cx__buf word;
  int once;  /* cx__term_counter_words_once */
  size_t wn; /* in once mode: this card's entries in wslot */
  /* With once: every word this counter has put
   * in a card's words, across cards (hash << 32 | offset + 1 into seen_text).
   * cx_words needs each word once, not once per card: after the first
   * thousand cards nearly every word is known, and the writer's merge
   * (cx__postings_acc_add) no longer looks each one up again. */
  uint64_t *seen;
  size_t seen_cap, seen_n;
  cx__buf seen_text;
};

/* Doubles a slot table of (hash << 32 | index + 1). */
static void regrow64(uint64_t **slots, size_t *cap) {
  size_t ncap = *cap * 2;
  uint64_t *v = cx_xcalloc(ncap, sizeof *v);
  for (size_t i = 0; i < *cap; i++) {
    uint64_t e = (*slots)[i];
    if (e == 0) continue;
    size_t j = (e >> 32) & (ncap - 1);
    while (v[j]) j = (j + 1) & (ncap - 1);
    v[j] = e;
  }
  free(*slots);
  *slots = v;
  *cap = ncap;
}

/* Whether the word w (n bytes, hash h) was seen before; adds it if not.
 * *off: its entry in seen_text. */
static int seen_word(cx__term_counter *tc, const char *w, size_t n, uint32_t h, uint32_t *off) {
  if (tc->seen_cap == 0) {
    tc->seen_cap = 4096;
    tc->seen = cx_xcalloc(tc->seen_cap, sizeof *tc->seen);
  } else if ((tc->seen_n + 1) * 2 > tc->seen_cap) {
    regrow64(&tc->seen, &tc->seen_cap);
  }
  size_t j = h & (tc->seen_cap - 1);
  for (;; j = (j + 1) & (tc->seen_cap - 1)) {
    uint64_t e = tc->seen[j];
    if (e == 0) break;
    if ((uint32_t)(e >> 32) != h) continue;
    const char *x = tc->seen_text.p + (uint32_t)e - 1; /* length byte, then the word */
    if ((unsigned char)x[0] == n && memcmp(x + 1, w, n) == 0) {
      *off = (uint32_t)e - 1;
      return 1;
    }
  }
  *off = (uint32_t)tc->seen_text.n;
  cx__buf_putc(&tc->seen_text, (char)n); /* words are 2 to 32 bytes */
  cx__buf_add(&tc->seen_text, w, n);
  tc->seen[j] = (uint64_t)h << 32 | (*off + 1);
  tc->seen_n++;
  return 0;
}

/* Doubles the per-card word table of a counter in once mode, whose entries
 * are seen_text offsets + 1 (hashes recomputed). */
static void regrow_once(cx__term_counter *tc) {
  size_t ncap = tc->wcap * 2;
  uint32_t *v = cx_xcalloc(ncap, sizeof *v);
  for (size_t i = 0; i < tc->wcap; i++) {
    uint32_t e = tc->wslot[i];
    if (e == 0) continue;
    const char *x = tc->seen_text.p + e - 1;
    size_t j = hash32(x + 1, (unsigned char)x[0]) & (ncap - 1);
    while (v[j]) j = (j + 1) & (ncap - 1);
    v[j] = e;
  }
  free(tc->wslot);
  tc->wslot = v;
  tc->wcap = ncap;
}

cx__term_counter *cx__term_counter_new(cx_err *err) {
  /* The fts table's tokenizer (porter), and the one it stems the tokens of
   * (its first argument: unicode61 with the rest) for the unstemmed words. */
  cx__tok_spec spec;
  cx__fts_tokenizer_spec(&spec);
  cx__term_counter *tc = cx_xcalloc(1, sizeof *tc);
  void *pud, *uud;
  fts5_api *api = NULL;
  if (sqlite3_open_v2(":memory:", &tc->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
      SQLITE_OK)
    api = cx__fts5_api(tc->db);
  if (api == NULL || spec.argc < 2 ||
      api->xFindTokenizer(api, spec.argv[0], &pud, &tc->porter_api) != SQLITE_OK ||
      api->xFindTokenizer(api, spec.argv[1], &uud, &tc->plain_api) != SQLITE_OK ||
      tc->porter_api.xCreate(pud, spec.argv + 1, spec.argc - 1, &tc->porter) != SQLITE_OK ||
      tc->plain_api.xCreate(uud, spec.argv + 2, spec.argc - 2, &tc->plain) != SQLITE_OK) {
    cx_err_set(err, CX_ESQLITE, "", "cannot create the FTS5 tokenizers (is this SQLite built "
               "with FTS5?)");
    cx__term_counter_free(tc);
    return NULL;
  }
  tc->tcap = tc->wcap = 1024;
  tc->tslot = cx_xcalloc(tc->tcap, sizeof *tc->tslot);
  tc->wslot = cx_xcalloc(tc->wcap, sizeof *tc->wslot);
  cx__buf_init(&tc->word);
  return tc;
}

void cx__term_counter_free(cx__term_counter *tc) {
  if (tc == NULL) return;
  if (tc->porter) tc->porter_api.xDelete(tc->porter);
  if (tc->plain) tc->plain_api.xDelete(tc->plain);
  sqlite3_close(tc->db);
  free(tc->tslot);
  free(tc->wslot);
  cx__buf_destroy(&tc->word);
  free(tc->seen);
  cx__buf_destroy(&tc->seen_text);
  free(tc);
}

void cx__term_counter_words_once(cx__term_counter *tc) {
  tc->once = 1;
  cx__buf_init(&tc->seen_text);
}

void cx__doc_terms_destroy(cx__doc_terms *dt) {
  cx__buf_destroy(&dt->text);
  cx__buf_destroy(&dt->toks);
  free(dt->terms);
  free(dt->words);
  memset(dt, 0, sizeof *dt);
}

void cx__doc_terms_take_tokens(cx__doc_terms *dt, cx__fts_toks *out) {
  memcpy(out->end, dt->tokend, sizeof out->end);
  if (dt->toks_bad) {
    cx__buf_destroy(&dt->toks);
    out->p = NULL;
    return;
  }
  /* An empty stream still replays: four texts without a token. */
  if (dt->toks.p == NULL) cx__buf_reserve(&dt->toks, 0);
  out->p = (unsigned char *)cx__buf_detach(&dt->toks);
}

static unsigned char *put_tokvar(unsigned char *p, uint32_t v) {
  while (v >= 0x80) {
    *p++ = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  *p++ = (unsigned char)v;
  return p;
}

/* Appends one token to the column's stream (the encoding of cx__fts_toks). */
static void record_token(cx__term_counter *tc, int flags, const char *tok, int n, int start,
                         int end) {
  cx__doc_terms *dt = tc->dt;
  if ((flags & ~FTS5_TOKEN_COLOCATED) || n < 0 || start < 0 || end < start) {
    dt->toks_bad = 1;
    return;
  }
  cx__buf *b = &dt->toks;
  if (b->n + (size_t)n + 16 > b->cap) cx__buf_reserve(b, (size_t)n + 16);
  unsigned char *p = (unsigned char *)b->p + b->n;
  int64_t gap = (int64_t)start - tc->prev_end;
  p = put_tokvar(p, (uint32_t)n << 1 | (uint32_t)(flags & FTS5_TOKEN_COLOCATED));
  p = put_tokvar(p, gap >= 0 ? (uint32_t)gap << 1 : (uint32_t)(-gap) << 1 | 1);
  p = put_tokvar(p, (uint32_t)(end - start));
  memcpy(p, tok, (size_t)n);
  b->n = (size_t)(p + n - (unsigned char *)b->p);
  tc->prev_end = end;
}

/* Appends s and a NUL to dt->text; its offset. */
static uint32_t dt_str(cx__doc_terms *dt, const char *s, size_t n) {
  uint32_t off = (uint32_t)dt->text.n;
  cx__buf_reserve(&dt->text, n + 1);
  memcpy(dt->text.p + off, s, n);
  dt->text.p[off + n] = '\0';
  dt->text.n += n + 1;
  return off;
}

/* Doubles a per-card slot table, rehashing the entries' hashes. */
static void regrow(uint32_t **slots, size_t *cap, const void *items, size_t stride, size_t hoff) {
  size_t ncap = *cap * 2;
  uint32_t *v = cx_xcalloc(ncap, sizeof *v);
  for (size_t i = 0; i < *cap; i++) {
    if ((*slots)[i] == 0) continue;
    uint32_t h;
    memcpy(&h, (const char *)items + ((*slots)[i] - 1) * stride + hoff, sizeof h);
    size_t j = h & (ncap - 1);
    while (v[j]) j = (j + 1) & (ncap - 1);
    v[j] = (*slots)[i];
  }
  free(*slots);
  *slots = v;
  *cap = ncap;
}

static int plain_cb(void *ctx, int flags, const char *tok, int n, int start, int end) {
  (void)start, (void)end;
  cx__buf *w = ctx;
  if (flags & FTS5_TOKEN_COLOCATED) return SQLITE_OK;
  w->n = 0;
  cx__buf_add(w, tok, (size_t)n);
  return SQLITE_DONE;
}

static int count_cb(void *ctx, int flags, const char *tok, int n, int start, int end) {
  cx__term_counter *tc = ctx;
  cx__doc_terms *dt = tc->dt;
  record_token(tc, flags, tok, n, start, end);
  if (flags & FTS5_TOKEN_COLOCATED) return SQLITE_OK;
  dt->len[tc->col]++;
  /* The term (porter stem) and its frequency in this column. */
  uint32_t h = hash32(tok, (size_t)n);
  size_t j = h & (tc->tcap - 1);
  uint32_t ti;
  for (;; j = (j + 1) & (tc->tcap - 1)) {
    uint32_t s = tc->tslot[j];
    if (s == 0) {
      if (dt->nterms == dt->capterms) {
        dt->capterms = dt->capterms ? dt->capterms * 2 : 128;
        dt->terms = cx_xrealloc(dt->terms, dt->capterms * sizeof *dt->terms);
      }
      ti = (uint32_t)dt->nterms++;
      cx__term_tf *t = &dt->terms[ti];
      memset(t, 0, sizeof *t);
      t->hash = h;
      t->len = (uint32_t)n;
      t->off = dt_str(dt, tok, (size_t)n);
      tc->tslot[j] = ti + 1;
      if (dt->nterms * 2 > tc->tcap)
        regrow(&tc->tslot, &tc->tcap, dt->terms, sizeof *dt->terms, offsetof(cx__term_tf, hash));
      break;
    }
    const cx__term_tf *t = &dt->terms[s - 1];
    if (t->hash == h && t->len == (uint32_t)n &&
        memcmp(dt->text.p + t->off, tok, (size_t)n) == 0) {
      ti = s - 1;
      break;
    }
  }
  dt->terms[ti].tf[tc->col]++;
  /* The unstemmed word: unicode61's folding of the token's bytes, which for
   * ASCII is lowercasing (build_words tokenizes the texts again instead). */
  const char *span = tc->text + start;
  size_t sn = (size_t)(end - start), i;
  for (i = 0; i < sn && !((unsigned char)span[i] & 0x80); i++) {}
  cx__buf *w = &tc->word;
  w->n = 0;
  if (i == sn) {
    if (sn < 2 || sn > 32) return SQLITE_OK;
    cx__buf_add(w, span, sn);
    for (i = 0; i < sn; i++)
      if (w->p[i] >= 'A' && w->p[i] <= 'Z') w->p[i] += 32;
  } else {
    tc->plain_api.xTokenize(tc->plain, w, FTS5_TOKENIZE_DOCUMENT, span, (int)sn, plain_cb);
  }
  if (w->n < 2 || w->n > 32) return SQLITE_OK;
  /* Most words are their own stem: the term's hash is the word's. */
  if (w->n != (size_t)n || memcmp(w->p, tok, (size_t)n) != 0) h = hash32(w->p, w->n);
  if (tc->once) {
    /* This card's table first (small, in cache; most of a card's tokens
     * repeat its words), then every card's: a word seen before is not one
     * to add. The card's table points at the words' entries in seen_text. */
    for (j = h & (tc->wcap - 1);; j = (j + 1) & (tc->wcap - 1)) {
      uint32_t e = tc->wslot[j];
      if (e == 0) break;
      const char *x = tc->seen_text.p + e - 1;
      if ((unsigned char)x[0] == w->n && memcmp(x + 1, w->p, w->n) == 0) return SQLITE_OK;
    }
    uint32_t off;
    int known = seen_word(tc, w->p, w->n, h, &off);
    tc->wslot[j] = off + 1;
    if (++tc->wn * 2 > tc->wcap) regrow_once(tc);
    if (known) return SQLITE_OK;
    goto add;
  }
  for (j = h & (tc->wcap - 1);; j = (j + 1) & (tc->wcap - 1)) {
    uint32_t s = tc->wslot[j];
    if (s == 0) break;
    const cx__word_stem *x = &dt->words[s - 1];
    if (x->hash == h && x->len == w->n && memcmp(dt->text.p + x->off, w->p, w->n) == 0)
      return SQLITE_OK;
  }
add:
  if (dt->nwords == dt->capwords) {
    dt->capwords = dt->capwords ? dt->capwords * 2 : 128;
    dt->words = cx_xrealloc(dt->words, dt->capwords * sizeof *dt->words);
  }
  cx__word_stem *x = &dt->words[dt->nwords++];
  x->hash = h;
  x->len = (uint32_t)w->n;
  x->off = dt_str(dt, w->p, w->n);
  x->stem = ti;
  if (tc->once) return SQLITE_OK;
  tc->wslot[j] = (uint32_t)dt->nwords;
  if (dt->nwords * 2 > tc->wcap)
    regrow(&tc->wslot, &tc->wcap, dt->words, sizeof *dt->words, offsetof(cx__word_stem, hash));
  return SQLITE_OK;
}

void cx__term_counter_count(cx__term_counter *tc, const char *const col[4], const size_t len[4],
                            cx__doc_terms *dt) {
  memset(dt, 0, sizeof *dt);
  cx__buf_init(&dt->text);
  tc->dt = dt;
  cx__buf_init(&dt->toks);
  /* A token's record is about as long as its text (the stem, 3 bytes of
   * varints, the separator it replaces): one allocation for most cards. */
  size_t n[4], total = 64;
  for (int c = 0; c < 4; c++) {
    n[c] = col[c] == NULL ? 0 : len ? len[c] : strlen(col[c]);
    total += n[c];
  }
  cx__buf_reserve(&dt->toks, total + total / 4);
  for (int c = 0; c < 4; c++) {
    if (col[c] != NULL && col[c][0] != '\0') {
      tc->col = c;
      tc->text = col[c];
      tc->prev_end = 0;
      if (tc->porter_api.xTokenize(tc->porter, tc, FTS5_TOKENIZE_DOCUMENT, col[c],
                                   (int)n[c], count_cb) != SQLITE_OK)
        dt->toks_bad = 1;
    } else if (n[c] > 0) {
      dt->toks_bad = 1; /* bytes after a NUL, which FTS5 would tokenize */
    }
    dt->tokend[c] = (uint32_t)dt->toks.n;
  }
  memset(tc->tslot, 0, tc->tcap * sizeof *tc->tslot);
  memset(tc->wslot, 0, tc->wcap * sizeof *tc->wslot);
  tc->wn = 0;
  tc->dt = NULL;
}

/* The writer's merge: per term, its postings as varints (rowid delta, then
 * tf of each column), in rowid order; the impacts need every card's column
 * lengths first, so they are computed when the lists are written. */
/* head (the text's first 8 bytes, zero-padded) and len let a lookup
 * compare in the entry it must touch anyway: for most terms, which are
 * short, without reading the text at all (a cache miss per term). */
typedef struct acc_term {
  char *term;
  uint32_t hash, df;
  int64_t last;
  uint64_t head;
  uint32_t len;
  cx__buf post;
} acc_term;

typedef struct acc_word {
  char *word;
  uint32_t hash, stem; /* stem: index in terms */
  uint64_t head;
  uint32_t len;
} acc_word;

static uint64_t head8(const char *s, size_t n) {
  uint64_t v = 0;
  memcpy(&v, s, n < 8 ? n : 8);
  return v;
}

/* Whether an entry's (head, len, text) is s of n bytes with head h8. */
static int same_text(uint64_t head, uint32_t len, const char *text, const char *s, size_t n,
                     uint64_t h8) {
  return len == n && head == h8 && (n <= 8 || memcmp(text + 8, s + 8, n - 8) == 0);
}

struct cx__postings_acc {
  acc_term *terms;
  size_t nterms, capterms;
  uint64_t *tslot; /* hash << 32 | index + 1: a probe reads one array */
  size_t tcap;
  acc_word *words;
  size_t nwords, capwords;
  uint64_t *wslot; /* likewise */
  size_t wcap;
  uint32_t *ids; /* scratch of cx__postings_acc_add */
  size_t capids;
  int (*len)[4]; /* by rowid */
  size_t caplen;
  int64_t maxrow, ndocs, tot[4];
  /* term and word texts, in chunks (hundreds of thousands of small strings) */
  char *chunk;
  size_t chunk_left;
  char **chunks;
  size_t nchunks;
};

cx__postings_acc *cx__postings_acc_new(void) {
  cx__postings_acc *a = cx_xcalloc(1, sizeof *a);
  a->tcap = a->wcap = 1 << 14;
  a->tslot = cx_xcalloc(a->tcap, sizeof *a->tslot);
  a->wslot = cx_xcalloc(a->wcap, sizeof *a->wslot);
  return a;
}

void cx__postings_acc_free(cx__postings_acc *a) {
  if (a == NULL) return;
  for (size_t i = 0; i < a->nterms; i++) cx__buf_destroy(&a->terms[i].post);
  free(a->terms);
  free(a->tslot);
  free(a->words);
  free(a->wslot);
  free(a->len);
  free(a->ids);
  for (size_t i = 0; i < a->nchunks; i++) free(a->chunks[i]);
  free(a->chunks);
  free(a);
}

static char *acc_str(cx__postings_acc *a, const char *s, size_t len) {
  size_t n = len + 1;
  if (n > a->chunk_left) {
    size_t sz = n > 65536 ? n : 65536;
    a->chunks = cx_xrealloc(a->chunks, (a->nchunks + 1) * sizeof *a->chunks);
    a->chunk = a->chunks[a->nchunks++] = cx_xmalloc(sz);
    a->chunk_left = sz;
  }
  char *p = a->chunk;
  memcpy(p, s, n);
  a->chunk += n;
  a->chunk_left -= n;
  return p;
}


static uint32_t acc_term_of(cx__postings_acc *a, const char *t, size_t n, uint32_t h) {
  uint64_t h8 = head8(t, n);
  size_t j = h & (a->tcap - 1);
  for (;; j = (j + 1) & (a->tcap - 1)) {
    uint64_t e = a->tslot[j];
    if (e == 0) break;
    uint32_t k = (uint32_t)e - 1;
    const acc_term *x = &a->terms[k];
    if ((uint32_t)(e >> 32) == h && same_text(x->head, x->len, x->term, t, n, h8)) return k;
  }
  if (a->nterms == a->capterms) {
    a->capterms = a->capterms ? a->capterms * 2 : 4096;
    a->terms = cx_xrealloc(a->terms, a->capterms * sizeof *a->terms);
  }
  acc_term *x = &a->terms[a->nterms++];
  memset(x, 0, sizeof *x);
  x->term = acc_str(a, t, n);
  x->hash = h;
  x->head = h8;
  x->len = (uint32_t)n;
  a->tslot[j] = (uint64_t)h << 32 | a->nterms;
  if (a->nterms * 2 > a->tcap) regrow64(&a->tslot, &a->tcap);
  return (uint32_t)a->nterms - 1;
}

static unsigned char *put_uvarint(unsigned char *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  *p++ = (unsigned char)v;
  return p;
}

static const unsigned char *get_uvarint(const unsigned char *p, uint64_t *v) {
  uint64_t x = 0;
  int s = 0;
  while (*p & 0x80) {
    x |= (uint64_t)(*p++ & 0x7f) << s;
    s += 7;
  }
  *v = x | (uint64_t)*p++ << s;
  return p;
}

void cx__postings_acc_add(cx__postings_acc *a, int64_t rowid, const cx__doc_terms *dt) {
  if ((size_t)rowid >= a->caplen) {
    size_t cap = a->caplen ? a->caplen : 1024;
    while (cap <= (size_t)rowid) cap *= 2;
    a->len = cx_xrealloc(a->len, cap * sizeof *a->len);
    memset(a->len + a->caplen, 0, (cap - a->caplen) * sizeof *a->len);
    a->caplen = cap;
  }
  memcpy(a->len[rowid], dt->len, sizeof dt->len);
  for (int c = 0; c < 4; c++) a->tot[c] += dt->len[c];
  a->ndocs++;
  if (rowid > a->maxrow) a->maxrow = rowid;
  if (dt->nterms > a->capids) {
    a->capids = dt->nterms * 2;
    a->ids = cx_xrealloc(a->ids, a->capids * sizeof *a->ids);
  }
  uint32_t *ids = a->ids;
  for (size_t i = 0; i < dt->nterms; i++) {
    const cx__term_tf *t = &dt->terms[i];
    uint32_t ti = ids[i] = acc_term_of(a, dt->text.p + t->off, t->len, t->hash);
    acc_term *x = &a->terms[ti];
    cx__buf_reserve(&x->post, 50); /* 5 varints */
    unsigned char *p = (unsigned char *)x->post.p + x->post.n, *p0 = p;
    p = put_uvarint(p, (uint64_t)(rowid - x->last));
    for (int c = 0; c < 4; c++) p = put_uvarint(p, t->tf[c]);
    x->post.n += (size_t)(p - p0);
    x->last = rowid;
    x->df++;
  }
  for (size_t i = 0; i < dt->nwords; i++) {
    const cx__word_stem *w = &dt->words[i];
    const char *s = dt->text.p + w->off;
    uint64_t h8 = head8(s, w->len);
    size_t j = w->hash & (a->wcap - 1);
    int found = 0;
    for (;; j = (j + 1) & (a->wcap - 1)) {
      uint64_t e = a->wslot[j];
      if (e == 0) break;
      const acc_word *y = &a->words[(uint32_t)e - 1];
      if ((uint32_t)(e >> 32) == w->hash && same_text(y->head, y->len, y->word, s, w->len, h8)) {
        found = 1;
        break;
      }
    }
    if (found) continue;
    if (a->nwords == a->capwords) {
      a->capwords = a->capwords ? a->capwords * 2 : 4096;
      a->words = cx_xrealloc(a->words, a->capwords * sizeof *a->words);
    }
    acc_word *x = &a->words[a->nwords++];
    x->word = acc_str(a, s, w->len);
    x->hash = w->hash;
    x->head = h8;
    x->len = w->len;
    x->stem = ids[w->stem];
    a->wslot[j] = (uint64_t)w->hash << 32 | a->nwords;
    if (a->nwords * 2 > a->wcap) regrow64(&a->wslot, &a->wcap);
  }
}

static int cmp_term(const void *x, const void *y) {
  return strcmp((*(acc_term *const *)x)->term, (*(acc_term *const *)y)->term);
}
static int cmp_word(const void *x, const void *y) {
  return strcmp(((const acc_word *)x)->word, ((const acc_word *)y)->word);
}

/* ---- cx_postings from the accumulator, encoded in parallel ----
 * At the end of a build only the writer is left, and one connection inserts
 * the rows; but decoding the accumulated postings, computing every posting's
 * impact and encoding the lists (half of this step's time, 1 s at 100k
 * cards) need no connection. The terms, in byte order, are cut into chunks;
 * helper threads and the writer encode chunks, and the writer inserts them
 * in order, at most ENC_WINDOW chunks behind the encoders (bounded memory). */

#define ENC_CHUNK 1024  /* terms */
#define ENC_WINDOW 64   /* chunks encoded ahead of the inserts */
#define ENC_HELPERS 3   /* at most, besides the writer */
#define POSTINGS_PER_STMT 16

typedef struct enc_chunk {
  cx__buf data; /* the chunk's encoded lists, back to back */
  size_t *end;  /* per term: the end of its list in data */
  int *maxq;
  int ready;
} enc_chunk;

typedef struct enc_state {
  cx__postings_acc *a;
  acc_term **order;
  double avg[4];
  size_t nchunks;
  enc_chunk *chunks;
  size_t next;     /* the next chunk to claim */
  size_t inserted; /* chunks inserted so far */
  int stop, sort_words;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} enc_state;

static void encode_chunk(enc_state *es, size_t k, plist_builder *pb) {
  cx__postings_acc *a = es->a;
  enc_chunk *ch = &es->chunks[k];
  size_t lo = k * ENC_CHUNK, hi = lo + ENC_CHUNK < a->nterms ? lo + ENC_CHUNK : a->nterms;
  ch->end = cx_xmalloc((hi - lo) * sizeof *ch->end);
  ch->maxq = cx_xmalloc((hi - lo) * sizeof *ch->maxq);
  cx__buf_init(&ch->data);
  for (size_t i = lo; i < hi; i++) {
    const acc_term *x = es->order[i];
    const unsigned char *p = (const unsigned char *)x->post.p;
    int64_t row = 0;
    pb->n = 0;
    for (uint32_t j = 0; j < x->df; j++) {
      uint64_t v;
      int tf[4];
      p = get_uvarint(p, &v);
      row += (int64_t)v;
      for (int c = 0; c < 4; c++) {
        p = get_uvarint(p, &v);
        tf[c] = (int)v;
      }
      pb_add(pb, row, cx__impact(tf, a->len[row], es->avg));
    }
    ch->maxq[i - lo] = 0;
    if (pb->n) pb_encode_to(pb, &ch->data, &ch->maxq[i - lo]);
    ch->end[i - lo] = ch->data.n;
  }
}

static void chunk_free(enc_chunk *ch) {
  cx__buf_destroy(&ch->data);
  free(ch->end);
  free(ch->maxq);
  ch->end = NULL;
  ch->maxq = NULL;
}

/* Claims and encodes chunks while there are some within the window; with
 * wait, sleeps for room instead of returning. Called with es->mu held. */
static void encode_some(enc_state *es, plist_builder *pb, int wait) {
  for (;;) {
    while (wait && !es->stop && es->next < es->nchunks && es->next >= es->inserted + ENC_WINDOW)
      pthread_cond_wait(&es->cv, &es->mu);
    if (es->stop || es->next >= es->nchunks || es->next >= es->inserted + ENC_WINDOW) return;
    size_t k = es->next++;
    pthread_mutex_unlock(&es->mu);
    encode_chunk(es, k, pb);
    pthread_mutex_lock(&es->mu);
    es->chunks[k].ready = 1;
    pthread_cond_broadcast(&es->cv);
  }
}

static void sort_words(cx__postings_acc *a) {
  if (a->nwords) qsort(a->words, a->nwords, sizeof *a->words, cmp_word); /* NULL when none */
  /* The word table's hash slots point at the unsorted order: unusable now. */
  memset(a->wslot, 0, a->wcap * sizeof *a->wslot);
}

static void *encoder(void *arg) {
  enc_state *es = arg;
  plist_builder pb = {0};
  pthread_mutex_lock(&es->mu);
  encode_some(es, &pb, 1);
  /* The first helper done also sorts the words for words_from_acc, while
   * the writer is still inserting postings. */
  int sort = es->sort_words && !es->stop;
  es->sort_words = 0;
  pthread_mutex_unlock(&es->mu);
  if (sort) sort_words(es->a);
  free(pb.rowid);
  free(pb.q);
  return NULL;
}

/* build_postings' rows, in its order (FTS5 keeps terms in byte order).
 * *words_sorted: whether a helper sorted a->words (sort_words). */
static int postings_from_acc(builder *b, cx__postings_acc *a, int *words_sorted) {
  enc_state es;
  memset(&es, 0, sizeof es);
  es.a = a;
  for (int c = 0; c < 4; c++) es.avg[c] = a->ndocs ? (double)a->tot[c] / (double)a->ndocs : 0;
  es.order = cx_xmalloc((a->nterms ? a->nterms : 1) * sizeof *es.order);
  for (size_t i = 0; i < a->nterms; i++) es.order[i] = &a->terms[i];
  if (a->nterms) qsort(es.order, a->nterms, sizeof *es.order, cmp_term);
  es.nchunks = (a->nterms + ENC_CHUNK - 1) / ENC_CHUNK;
  es.chunks = cx_xcalloc(es.nchunks ? es.nchunks : 1, sizeof *es.chunks);
  es.sort_words = 1;
  pthread_mutex_init(&es.mu, NULL);
  pthread_cond_init(&es.cv, NULL);
  int nhelp = cx__ncores() - 1;
  if (nhelp > ENC_HELPERS) nhelp = ENC_HELPERS;
  if ((size_t)nhelp > es.nchunks / 2) nhelp = (int)(es.nchunks / 2); /* small: not worth it */
  pthread_t tid[ENC_HELPERS];
  int started = 0;
  for (int t = 0; t < nhelp; t++)
    if (pthread_create(&tid[started], NULL, encoder, &es) == 0) started++;

  plist_builder pb = {0};
  int rc = 0;
  sqlite3_stmt *ins_many = NULL; /* POSTINGS_PER_STMT rows; NULL: one by one */
  cx__buf sql;
  cx__buf_init(&sql);
  cx__buf_printf(&sql, "INSERT INTO %s.cx_postings(term, df, maxq, data) VALUES ", b->schema);
  for (int r = 0; r < POSTINGS_PER_STMT; r++) cx__buf_puts(&sql, r ? ",(?,?,?,?)" : "(?,?,?,?)");
  if (sqlite3_prepare_v2(b->db, sql.p, -1, &ins_many, NULL) != SQLITE_OK) ins_many = NULL;
  cx__buf_destroy(&sql);
  for (size_t k = 0; k < es.nchunks && rc == 0; k++) {
    pthread_mutex_lock(&es.mu);
    while (!es.chunks[k].ready) {
      size_t before = es.next;
      encode_some(&es, &pb, 0);
      if (es.next == before && !es.chunks[k].ready) pthread_cond_wait(&es.cv, &es.mu);
    }
    pthread_mutex_unlock(&es.mu);
    enc_chunk *ch = &es.chunks[k];
    size_t lo = k * ENC_CHUNK, hi = lo + ENC_CHUNK < a->nterms ? lo + ENC_CHUNK : a->nterms;
    /* POSTINGS_PER_STMT rows per statement while there are that many left
     * (a statement per row cost about as much as the rows), then one by one. */
    size_t from = 0, i = lo;
    while (i < hi && rc == 0) {
      int many = ins_many && hi - i >= POSTINGS_PER_STMT;
      sqlite3_stmt *s = many ? ins_many : b->ins;
      int rows = many ? POSTINGS_PER_STMT : 1;
      for (int r = 0; r < rows; r++, i++) {
        const acc_term *x = es.order[i];
        size_t to = ch->end[i - lo];
        sqlite3_bind_text(s, 4 * r + 1, x->term, (int)x->len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4 * r + 2, (sqlite3_int64)x->df);
        sqlite3_bind_int(s, 4 * r + 3, ch->maxq[i - lo]);
        sqlite3_bind_blob(s, 4 * r + 4, ch->data.p + from, (int)(to - from), SQLITE_STATIC);
        from = to;
      }
      if (sqlite3_step(s) != SQLITE_DONE) rc = b_err(b, "inserting postings");
      sqlite3_reset(s);
    }
    chunk_free(ch);
    pthread_mutex_lock(&es.mu);
    es.inserted = k + 1;
    if (rc) es.stop = 1;
    pthread_cond_broadcast(&es.cv);
    pthread_mutex_unlock(&es.mu);
  }
  sqlite3_finalize(ins_many);
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
  *words_sorted = started > 0 && es.sort_words == 0 && rc == 0;
  for (size_t k = 0; k < es.nchunks; k++) chunk_free(&es.chunks[k]);
  free(es.chunks);
  free(pb.rowid);
  free(pb.q);
  free(es.order);
  pthread_mutex_destroy(&es.mu);
  pthread_cond_destroy(&es.cv);
  return rc;
}

/* build_words' rows. */
static int words_from_acc(builder *b, cx__postings_acc *a, int sorted) {
  if (!sorted) sort_words(a);
  /* WORDS_PER_STMT rows per statement (38k rows at 10k cards): a statement
   * per row cost as much as the rows. */
  enum { WORDS_PER_STMT = 32 };
  sqlite3_stmt *st[2] = {NULL, NULL}; /* WORDS_PER_STMT rows, 1 row */
  int rc = 0;
  for (int k = 0; k < 2 && rc == 0; k++) {
    cx__buf sql;
    cx__buf_init(&sql);
    cx__buf_puts(&sql, "INSERT OR IGNORE INTO main.cx_words(word, stem, df) VALUES ");
    for (int r = 0; r < (k ? 1 : WORDS_PER_STMT); r++) cx__buf_puts(&sql, r ? ",(?,?,?)" : "(?,?,?)");
    if (sqlite3_prepare_v2(b->db, sql.p, -1, &st[k], NULL) != SQLITE_OK)
      rc = b_err(b, "preparing words");
    cx__buf_destroy(&sql);
  }
  for (size_t i = 0; i < a->nwords && rc == 0;) {
    sqlite3_stmt *s = a->nwords - i >= WORDS_PER_STMT ? st[0] : st[1];
    int rows = s == st[0] ? WORDS_PER_STMT : 1;
    for (int r = 0; r < rows; r++, i++) {
      const acc_term *t = &a->terms[a->words[i].stem];
      sqlite3_bind_text(s, 3 * r + 1, a->words[i].word, (int)a->words[i].len, SQLITE_STATIC);
      sqlite3_bind_text(s, 3 * r + 2, t->term, (int)t->len, SQLITE_STATIC);
      sqlite3_bind_int64(s, 3 * r + 3, t->df);
    }
    if (sqlite3_step(s) != SQLITE_DONE) rc = b_err(b, "inserting words");
    sqlite3_reset(s);
  }
  sqlite3_finalize(st[0]);
  sqlite3_finalize(st[1]);
  return rc;
}

/* Each card's hit fields as compact JSON, its plain-English answer, and its
 * other sections but Sources (joined by U+001F, for snippets when the answer
 * lacks every query term), so that a query reads one short row per hit
 * instead of parsing the whole card and reading every section (query_hit.c).
 * The builder computes the rows of the cards it parses in its parser threads
 * (card_rows in build.c, cx__hit_texts); this fills in the others from the stored rows, with the
 * same result. */
#define DROP_DDL                                                                           \
  "DROP TABLE IF EXISTS %1$s.cx_hits; DROP TABLE IF EXISTS %1$s.cx_postings;"              \
  "DROP TABLE IF EXISTS %1$s.cx_words;"
/* %2$s: "" or "IF NOT EXISTS " */
#define CREATE_DDL                                                                         \
  "CREATE TABLE %2$s%1$s.cx_hits(rowid INTEGER PRIMARY KEY, hit TEXT NOT NULL, plain TEXT,"    \
  "  others TEXT);"                                                                        \
  "CREATE TABLE %2$s%1$s.cx_postings(term TEXT PRIMARY KEY, df INTEGER NOT NULL,"              \
  "  maxq INTEGER NOT NULL, data BLOB NOT NULL);"                                          \
  "CREATE TABLE %2$s%1$s.cx_words(word TEXT PRIMARY KEY, stem TEXT NOT NULL,"                  \
  "  df INTEGER NOT NULL) WITHOUT ROWID;"

/* Created with the rest of the schema, the tables' roots sit in the first
 * pages of the file, next to the builder's. */
int cx__engine_tables_create(sqlite3 *db, cx_err *err) {
  cx__buf sql;
  cx__buf_init(&sql);
  cx__buf_printf(&sql, DROP_DDL CREATE_DDL, "main", "");
  int rc = 0;
  if (sqlite3_exec(db, sql.p, NULL, NULL, NULL) != SQLITE_OK)
    rc = cx_err_set(err, CX_ESQLITE, "", "creating the query engine's tables: %s",
                    sqlite3_errmsg(db));
  cx__buf_destroy(&sql);
  return rc;
}

/* SQLite's NOCASE: ASCII letters only. */
static int nocase_eq(const char *a, const char *b) {
  for (;; a++, b++) {
    int x = (unsigned char)*a, y = (unsigned char)*b;
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return 0;
    if (x == 0) return 1;
  }
}

void cx__hit_texts(const cx_card *card, char **plain, char **others) {
  *plain = NULL;
  cx__buf o;
  cx__buf_init(&o);
  int any = 0;
  for (size_t i = 0; i < card->nsections; i++) {
    const cx_section *x = &card->sections[i];
    const char *name = x->name ? x->name : "", *text = x->text ? x->text : "";
    if (nocase_eq(name, "Plain-English answer")) {
      if (*plain == NULL) *plain = cx_xstrdup(text);
      continue;
    }
    if (*text == '\0' || nocase_eq(name, "Sources")) continue;
    if (any) cx__buf_putc(&o, '\x1f');
    cx__buf_puts(&o, text);
    any = 1;
  }
  *others = any ? cx__buf_detach(&o) : NULL;
  if (!any) cx__buf_destroy(&o);
}

static int build_hits(builder *b, int only_missing) {
  sqlite3_stmt *st, *ins;
  cx__buf sql;
  cx__buf_init(&sql);
  cx__buf_printf(&sql, "SELECT rowid, id, query, json, (SELECT text FROM main.sections "
                 "WHERE card = cards.rowid AND name = 'Plain-English answer' COLLATE NOCASE "
                 "ORDER BY ord LIMIT 1), (SELECT group_concat(text, char(31)) FROM "
                 "(SELECT text FROM main.sections WHERE card = cards.rowid AND text <> '' "
                 "AND name <> 'Sources' COLLATE NOCASE AND name <> 'Plain-English answer' "
                 "COLLATE NOCASE ORDER BY ord)) FROM main.cards%s",
                 only_missing ? " WHERE NOT EXISTS (SELECT 1 FROM main.cx_hits h "
                                "WHERE h.rowid = cards.rowid)" : "");
  int prc = sqlite3_prepare_v2(b->db, sql.p, -1, &st, NULL);
  cx__buf_destroy(&sql);
  if (prc != SQLITE_OK) return b_err(b, "reading cards");
  cx__buf_init(&sql);
  cx__buf_printf(&sql, "INSERT INTO %s.cx_hits(rowid, hit, plain, others) VALUES (?1, ?2, ?3, ?4)",
                 b->schema);
  int rc = 0;
  if (sqlite3_prepare_v2(b->db, sql.p, -1, &ins, NULL) != SQLITE_OK) {
    cx__buf_destroy(&sql);
    sqlite3_finalize(st);
    return b_err(b, "preparing hits");
  }
  cx__buf_destroy(&sql);
  int s;
  while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
    json_error_t jerr;
    json_t *card = json_loadb((const char *)sqlite3_column_blob(st, 3),
                              (size_t)sqlite3_column_bytes(st, 3), 0, &jerr);
    if (!json_is_object(card)) {
      rc = cx_err_set(b->err, CX_ECORRUPT, "", "building the query engine's tables: card %s has "
                      "invalid stored JSON (%s)", (const char *)sqlite3_column_text(st, 1),
                      card ? "not an object" : jerr.text);
      json_decref(card);
      break;
    }
    json_object_set_new(card, "id", json_string((const char *)sqlite3_column_text(st, 1)));
    json_object_set_new(card, "query", json_string((const char *)sqlite3_column_text(st, 2)));
    json_t *hit = cx__hit_base(card);
    char *text = json_dumps(hit, JSON_COMPACT);
    sqlite3_reset(ins);
    sqlite3_bind_int64(ins, 1, sqlite3_column_int64(st, 0));
    sqlite3_bind_text(ins, 2, text ? text : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_value(ins, 3, sqlite3_column_value(st, 4));
    sqlite3_bind_value(ins, 4, sqlite3_column_value(st, 5));
    if (sqlite3_step(ins) != SQLITE_DONE) rc = b_err(b, "inserting hits");
    free(text);
    json_decref(hit);
    json_decref(card);
  }
  if (rc == 0 && s != SQLITE_DONE) rc = b_err(b, "reading cards");
  sqlite3_finalize(ins);
  sqlite3_finalize(st);
  return rc;
}

/* What build_tables builds: everything but the phrase postings, and those
 * (which read the FTS index; the builder makes the rest before its FTS
 * thread is done). */
enum { PB_LISTS = 1, PB_PHRASES = 2, PB_ALL = 3 };

/* keep_hits: cx_hits is kept (the builder inserted the rows of the cards it
 * parsed); only the other cards' rows are added; 2: there are none (the
 * builder counted a row for every card). */
static int build_tables(sqlite3 *db, const char *schema, int keep_hits, cx__postings_acc *acc,
                        int parts, cx_err *err) {
  builder b = {db, schema, {0}, NULL, err};
  b.tmp.db = db;
  b.tmp.path = (char *)"index";
  int rc = cx__engine_tokenizers(&b.tmp, err);
  if (rc) return rc;
  if (cx__register_aux(b.tmp.fts5) != SQLITE_OK) {
    cx__engine_tokenizers_free(&b.tmp);
    return b_err(&b, "registering cx_impact");
  }
  cx__buf sql;
  cx__buf_init(&sql);
  /* Kept: made by cx__engine_tables_create, or missing in an index built
   * without them (bench_query --post-build), or filled by an earlier run. */
  if (keep_hits)
    cx__buf_printf(&sql, CREATE_DDL "DELETE FROM %1$s.cx_postings; DELETE FROM %1$s.cx_words;",
                   schema, "IF NOT EXISTS ");
  else
    cx__buf_printf(&sql, DROP_DDL CREATE_DDL, schema, "");
  /* The phrases alone: into the tables the first part made and filled. */
  if ((parts & PB_LISTS) && sqlite3_exec(db, sql.p, NULL, NULL, NULL) != SQLITE_OK)
    rc = b_err(&b, "creating tables");
  cx__buf_destroy(&sql);
  cx__buf_init(&sql);
  cx__buf_printf(&sql, "INSERT INTO %s.cx_postings(term, df, maxq, data) VALUES (?1, ?2, ?3, ?4)", schema);
  if (rc == 0 && sqlite3_prepare_v2(db, sql.p, -1, &b.ins, NULL) != SQLITE_OK)
    rc = b_err(&b, "preparing inserts");
  cx__buf_destroy(&sql);
  int words_sorted = 0;
  if (parts & PB_LISTS) {
    if (rc == 0) rc = acc ? postings_from_acc(&b, acc, &words_sorted) : build_postings(&b);
    if (rc == 0 && (parts & PB_PHRASES)) rc = build_phrases(&b);
    if (rc == 0) rc = acc ? words_from_acc(&b, acc, words_sorted) : build_words(&b);
    /* keep_hits > 1: the builder knows every card has its row. */
    if (rc == 0 && keep_hits < 2) rc = build_hits(&b, keep_hits);
  } else if (rc == 0) {
    rc = build_phrases(&b);
  }
  sqlite3_finalize(b.ins);
  cx__engine_tokenizers_free(&b.tmp);
  return rc;
}

int cx__engine_build_tables(sqlite3 *db, const char *schema, cx_err *err) {
  return build_tables(db, schema, 0, NULL, PB_ALL, err);
}

int cx__engine_post_build(sqlite3 *db, cx_err *err) {
  return build_tables(db, "main", 1, NULL, PB_ALL, err);
}

int cx__engine_post_build_from(sqlite3 *db, cx__postings_acc *acc, int all_hits, cx_err *err) {
  return build_tables(db, "main", all_hits ? 2 : 1, acc, PB_LISTS, err);
}

int cx__engine_post_build_phrases(sqlite3 *db, cx_err *err) {
  return build_tables(db, "main", 1, NULL, PB_PHRASES, err);
}

/* ---- the postings cache ---- */

struct cx__plist {
  char *term;
  int64_t df;
  int maxq;
  unsigned char *data;
  size_t len;
  size_t nblocks;
  const unsigned char *dir, *payload;
};

#define CACHE_SLOTS 8192
/* Per handle: at 100k cards 300 eval queries read ~5 MB of lists; a bigger
 * budget only grows a daemon (one handle per worker) for few extra hits. */
#define CACHE_BYTES (8u << 20)

void cx__plist_cache_clear(cx_index *ix) {
  if (ix->plists == NULL) return;
  for (size_t i = 0; i < CACHE_SLOTS; i++)
    if (ix->plists[i]) {
      free(ix->plists[i]->term);
      free(ix->plists[i]->data);
      free(ix->plists[i]);
    }
  free(ix->plists);
  ix->plists = NULL;
  ix->nplists = ix->plist_bytes = 0;
}

/* The decoded-header postings of term (NULL when the index lacks it).
 * Cached per handle: common terms are read from SQLite once. */
static const cx__plist *plist_get(cx_index *ix, const char *term, cx_err *err, int *rc) {
  if (ix->plists == NULL) ix->plists = cx_xcalloc(CACHE_SLOTS, sizeof *ix->plists);
  size_t h = hash_str(term, strlen(term)) & (CACHE_SLOTS - 1);
  while (ix->plists[h]) {
    if (strcmp(ix->plists[h]->term, term) == 0) return ix->plists[h];
    h = (h + 1) & (CACHE_SLOTS - 1);
  }
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_POSTINGS, err);
  if (st == NULL) {
    *rc = CX_ESQLITE;
    return NULL;
  }
  sqlite3_bind_text(st, 1, term, -1, SQLITE_STATIC);
  cx__plist *pl = cx_xcalloc(1, sizeof *pl);
  pl->term = cx_xstrdup(term);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    pl->df = sqlite3_column_int64(st, 0);
    pl->maxq = sqlite3_column_int(st, 1);
    pl->len = (size_t)sqlite3_column_bytes(st, 2);
    pl->data = cx_xmalloc(pl->len);
    if (pl->len) memcpy(pl->data, sqlite3_column_blob(st, 2), pl->len);
    uint64_t nb;
    const unsigned char *p = get_varint(pl->data, pl->data + pl->len, &nb);
    if ((size_t)(pl->data + pl->len - p) / DIR_ENTRY < nb) nb = 0; /* corrupt: treat as empty */
    pl->nblocks = (size_t)nb;
    pl->dir = p;
    pl->payload = p + nb * DIR_ENTRY;
  } else if (s != SQLITE_DONE) {
    free(pl->term);
    free(pl);
    sqlite3_reset(st);
    *rc = cx__sqlite_err(ix, err, "reading postings");
    return NULL;
  }
  sqlite3_reset(st);
  if (ix->nplists >= CACHE_SLOTS / 2 || ix->plist_bytes + pl->len > CACHE_BYTES) {
    cx__plist_cache_clear(ix);
    ix->plists = cx_xcalloc(CACHE_SLOTS, sizeof *ix->plists);
    h = hash_str(term, strlen(term)) & (CACHE_SLOTS - 1);
  }
  ix->plists[h] = pl;
  ix->nplists++;
  ix->plist_bytes += pl->len;
  return pl;
}

int64_t cx__postings_df(cx_index *ix, const char *term) {
  int rc = 0;
  const cx__plist *pl = plist_get(ix, term, NULL, &rc);
  return pl ? pl->df : 0;
}

/* ---- cursors ---- */

typedef struct cursor {
  const cx__plist *pl;
  int slot;
  int alt;       /* index in the query slot */
  double weight, idf;
  double ub;     /* contribution at the list's max q */
  double bub;    /* contribution at the current block's max q */
  size_t block;  /* current block */
  int64_t rowid[CX__BLOCK];
  unsigned char q[CX__BLOCK];
  size_t n, i;   /* decoded postings of the block, position */
  int64_t doc;   /* current rowid; INT64_MAX when exhausted */
} cursor;

#define END_DOC INT64_MAX

static void decode_block(cursor *c, size_t b) {
  const cx__plist *pl = c->pl;
  c->block = b;
  c->n = c->i = 0;
  if (b >= pl->nblocks) {
    c->doc = END_DOC;
    return;
  }
  const unsigned char *e = pl->dir + b * DIR_ENTRY;
  /* Once per block, not per card visited (a division). */
  c->bub = cx__contribution(c->weight, c->idf, e[8]);
  const unsigned char *p = pl->payload + get_u32(e + 4);
  const unsigned char *end = b + 1 < pl->nblocks ? pl->payload + get_u32(e + DIR_ENTRY + 4)
                                                 : pl->data + pl->len;
  if (p > end || end > pl->data + pl->len) end = p; /* corrupt: empty block */
  int64_t prev = b > 0 ? (int64_t)get_u32(e - DIR_ENTRY) : 0;
  while (p < end && c->n < CX__BLOCK) {
    uint64_t d;
    p = get_varint(p, end, &d);
    if (p >= end) break;
    prev += (int64_t)d;
    c->rowid[c->n] = prev;
    c->q[c->n++] = *p++;
  }
  c->doc = c->n ? c->rowid[0] : END_DOC;
  if (c->n == 0) decode_block(c, b + 1);
}

static void cursor_next(cursor *c) {
  if (c->doc == END_DOC) return;
  if (++c->i < c->n) c->doc = c->rowid[c->i];
  else decode_block(c, c->block + 1);
}

static uint32_t block_last(const cursor *c, size_t b) { return get_u32(c->pl->dir + b * DIR_ENTRY); }

static double block_ub(const cursor *c) {
  return c->doc == END_DOC ? 0 : c->bub;
}

/* Moves to the first posting >= target, skipping whole blocks by the directory. */
static void cursor_seek(cursor *c, int64_t target) {
  if (c->doc >= target) return;
  if ((int64_t)block_last(c, c->block) < target) {
    size_t lo = c->block + 1, hi = c->pl->nblocks;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if ((int64_t)block_last(c, mid) < target) lo = mid + 1;
      else hi = mid;
    }
    decode_block(c, lo);
    if (c->doc == END_DOC) return;
  }
  while (c->i < c->n && c->rowid[c->i] < target) c->i++;
  if (c->i < c->n) c->doc = c->rowid[c->i];
  else decode_block(c, c->block + 1);
}

static int cmp_ub(const void *a, const void *b) {
  const cursor *x = *(cursor *const *)a, *y = *(cursor *const *)b;
  return x->ub < y->ub ? -1 : x->ub > y->ub ? 1 : 0;
}

/* Float sums of the same terms in another order may differ in the last
 * bits: bounds are compared with this slack so pruning never drops a hit
 * the exhaustive plan would keep. */
#define SLACK 1e-9

int cx__rank_postings(cx_index *ix, const cx__query *q, const cx__filter *f, size_t k,
                      cx__result *res, cx_err *err) {
  memset(res, 0, sizeof *res);
  cx__plan plan;
  cx__plan_init(ix, q, &plan);
  /* Not cleared (~1.2 KB a cursor): cs[0, nc) are filled below, and a
   * block's postings are written by decode_block before they are read. */
  cursor *cs = cx_xmalloc((plan.nalts ? plan.nalts : 1) * sizeof *cs);
  cursor **byub = cx_xmalloc((plan.nalts ? plan.nalts : 1) * sizeof *byub);
  size_t nc = 0;
  int rc = 0;
  double miss = 1.0; /* for the estimate of total: P(card matches nothing) */
  for (size_t a = 0; a < plan.nalts && rc == 0; a++) {
    const cx__plist *pl = plist_get(ix, plan.alts[a].term, err, &rc);
    if (pl == NULL || pl->nblocks == 0) continue;
    cursor *c = &cs[nc];
    c->pl = pl;
    c->slot = plan.alts[a].slot;
    c->alt = plan.alts[a].alt;
    c->weight = plan.alts[a].weight;
    c->idf = plan.alts[a].idf;
    c->ub = cx__contribution(c->weight, c->idf, pl->maxq);
    decode_block(c, 0);
    byub[nc] = c;
    nc++;
    if (ix->ncards > 0) miss *= 1.0 - (double)pl->df / (double)ix->ncards;
  }
  if (nc > 64) {
    qsort(byub, nc, sizeof *byub, cmp_ub); /* glibc's is a merge sort: stable */
  } else {
    /* Stable, as glibc's qsort, so that lists of equal bounds keep their order. */
    for (size_t i = 1; i < nc; i++) {
      cursor *c = byub[i];
      size_t j = i;
      for (; j > 0 && cmp_ub(&c, &byub[j - 1]) < 0; j--) byub[j] = byub[j - 1];
      byub[j] = c;
    }
  }
  double *prefix = cx_xcalloc(nc + 1, sizeof *prefix); /* prefix[i]: sum of ub of byub[0..i) */
  for (size_t i = 0; i < nc; i++) prefix[i + 1] = prefix[i] + byub[i]->ub;

  cx__topk top;
  cx__topk_init(&top, k);
  size_t ess = 0; /* byub[0..ess) are non-essential */
  int pruned = 0;
  int64_t visited = 0;
  unsigned steps = 0;
  while (rc == 0) {
    double theta = top.n < top.k ? -1.0 : top.v[0].score;
    while (ess < nc && prefix[ess + 1] + SLACK < theta) {
      ess++;
      pruned = 1;
    }
    int64_t d = END_DOC;
    for (size_t i = ess; i < nc; i++)
      if (byub[i]->doc < d) d = byub[i]->doc;
    if (d == END_DOC) break;
    if ((++steps & 1023) == 0 && cx__deadline_passed(ix)) {
      rc = cx__sqlite_err(ix, err, "ranking");
      break;
    }
    /* One essential list left: skip its blocks that cannot reach theta. */
    if (ess + 1 == nc && theta > 0 && block_ub(byub[ess]) + prefix[ess] + SLACK < theta) {
      cursor *c = byub[ess];
      decode_block(c, c->block + 1);
      pruned = 1;
      continue;
    }
    double bound = prefix[ess];
    for (size_t i = ess; i < nc; i++)
      if (byub[i]->doc == d) bound += block_ub(byub[i]);
    int pass = cx__filter_pass(f, d);
    if (pass) visited++;
    if (pass && bound + SLACK >= theta) {
      /* Slot scores past the query's slots are never read (as in rank.c):
       * not cleared for every card visited. */
      cx__hit h;
      h.score = 0;
      memset(h.slot_score, 0, plan.nslots * sizeof *h.slot_score);
      memset(h.slot_alt, -1, sizeof h.slot_alt);
      h.rowid = d;
      double rest = prefix[ess], partial = 0;
      int dead = 0, stale = 1; /* stale: a slot score changed since partial was summed */
      for (size_t i = nc; i-- > 0;) {
        cursor *c = byub[i];
        if (i < ess) {
          /* Partial score plus what the unseen lists could add (summed
           * again, in slot order, only after a slot score changed). */
          if (stale) {
            partial = 0;
            for (size_t s = 0; s < plan.nslots; s++) partial += h.slot_score[s];
            stale = 0;
          }
          if (partial + rest + SLACK < theta) {
            dead = 1;
            break;
          }
          rest -= c->ub;
          cursor_seek(c, d);
        }
        if (c->doc != d) continue;
        double v = cx__contribution(c->weight, c->idf, c->q[c->i]);
        if (v > h.slot_score[c->slot] ||
            (v == h.slot_score[c->slot] && c->alt < h.slot_alt[c->slot])) {
          h.slot_score[c->slot] = v;
          h.slot_alt[c->slot] = (signed char)c->alt;
          stale = 1;
        }
      }
      if (!dead) {
        h.score = cx__combine(&plan, h.slot_score);
        res->scored++;
        cx__topk_push(&top, &h);
      }
    }
    for (size_t i = ess; i < nc; i++)
      if (byub[i]->doc == d) cursor_next(byub[i]);
  }
  cx__topk_finish(&top, res);
  if (!pruned) {
    res->total = visited;
    res->total_exact = 1;
  } else {
    /* Cards matching only common terms were never visited: estimate them
     * as if terms were independent, scaled by the filters' selectivity. */
    double est = (double)ix->ncards * (1.0 - miss);
    if (f && (f->packs || f->tags || f->ids)) {
      size_t words = (size_t)(ix->max_rowid / 64 + 1), pass = 0;
      for (size_t w = 0; w < words; w++) {
        uint64_t m = ~0ull;
        if (f->packs) m &= f->packs[w];
        if (f->tags) m &= f->tags[w];
        if (f->ids) m &= f->ids[w];
        pass += (size_t)__builtin_popcountll(m);
      }
      est *= ix->ncards ? (double)pass / (double)ix->ncards : 0;
    }
    res->total = (int64_t)llround(est) > visited ? (int64_t)llround(est) : visited;
    res->total_exact = 0;
  }
  free(prefix);
  free(byub);
  free(cs);
  cx__plan_destroy(&plan);
  return rc;
}
