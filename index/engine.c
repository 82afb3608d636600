/* engine.c — opening an index for queries: connection, statement cache, tokenizers, limits. */
#include "engine_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const stmt_sql[CX__ST_N] = {
    [CX__ST_CARD_BY_ROWID] = "SELECT id, query, title, json FROM cards WHERE rowid = ?1",
    [CX__ST_ROWID_BY_ID] = "SELECT rowid FROM cards WHERE id = ?1 COLLATE NOCASE",
    [CX__ST_ANSWER_TEXT] = "SELECT question, answer FROM fts WHERE rowid = ?1",
    [CX__ST_POSTINGS] = "SELECT df, maxq, data FROM cx_postings WHERE term = ?1",
    [CX__ST_SYN_GROUPS] = "SELECT DISTINCT grp FROM synonyms WHERE term = ?1 COLLATE NOCASE",
    [CX__ST_SYN_TERMS] = "SELECT term FROM synonyms WHERE grp = ?1 ORDER BY rowid",
    [CX__ST_LINKS] = "SELECT target FROM links WHERE card = ?1 ORDER BY ord",
    [CX__ST_CLAUSES] = "SELECT DISTINCT clause FROM clause_ids WHERE card = ?1",
    [CX__ST_CARDS_BY_CLAUSE] = "SELECT DISTINCT card FROM clause_ids WHERE clause = ?1",
    [CX__ST_SECTION] = ("SELECT markdown, text FROM sections WHERE card = ?1 AND name = ?2 "
                        "COLLATE NOCASE ORDER BY ord LIMIT 1"),
    [CX__ST_HIT] = "SELECT hit, plain FROM cx_hits WHERE rowid = ?1",
    [CX__ST_SECTIONS] = "SELECT name, text FROM sections WHERE card = ?1 ORDER BY ord",
    [CX__ST_OTHERS] = "SELECT others FROM cx_hits WHERE rowid = ?1",
    [CX__ST_CARD_SECTIONS] = "SELECT name, markdown, text FROM sections WHERE card = ?1 ORDER BY ord",
};

int cx__sqlite_err(cx_index *ix, cx_err *err, const char *what) {
  if (ix->timed_out)
    return cx_err_set(err, CX_ETIMEOUT, "", "query exceeded the time limit of %lld us; "
                      "simplify the query or raise the limit", (long long)ix->time_limit_us);
  return cx_err_set(err, CX_ESQLITE, "", "%s: %s: %s", ix->path, what, sqlite3_errmsg(ix->db));
}

sqlite3_stmt *cx__stmt(cx_index *ix, int slot, cx_err *err) {
  if (ix->st[slot] == NULL &&
      sqlite3_prepare_v3(ix->db, stmt_sql[slot], -1, SQLITE_PREPARE_PERSISTENT, &ix->st[slot],
                         NULL) != SQLITE_OK) {
    cx__sqlite_err(ix, err, "preparing a statement");
    return NULL;
  }
  sqlite3_reset(ix->st[slot]);
  sqlite3_clear_bindings(ix->st[slot]);
  return ix->st[slot];
}

/* The progress handler interrupts SQLite once the deadline has passed, so a
 * pathological query fails with CX_ETIMEOUT instead of holding a worker. */
static int progress_cb(void *arg) {
  cx_index *ix = arg;
  if (ix->deadline_us && cx__now_us() > ix->deadline_us) {
    ix->timed_out = 1;
    return 1;
  }
  return 0;
}

void cx__deadline_start(cx_index *ix) {
  ix->timed_out = 0;
  ix->deadline_us = ix->time_limit_us > 0 ? cx__now_us() + ix->time_limit_us : 0;
}

int cx__deadline_passed(cx_index *ix) {
  if (ix->deadline_us && cx__now_us() > ix->deadline_us) ix->timed_out = 1;
  return ix->timed_out;
}

void cx_index_set_time_limit(cx_index *ix, int64_t microseconds) {
  ix->time_limit_us = microseconds > 0 ? microseconds : 0;
  sqlite3_progress_handler(ix->db, ix->time_limit_us ? 1000 : 0, ix->time_limit_us ? progress_cb : NULL,
                           ix);
}

fts5_api *cx__fts5_api(sqlite3 *db) {
  fts5_api *api = NULL;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return api;
}

typedef struct tok_ctx {
  cx__token_cb cb;
  void *ctx;
} tok_ctx;

static int tok_trampoline(void *p, int flags, const char *tok, int n, int start, int end) {
  tok_ctx *t = p;
  if (flags & FTS5_TOKEN_COLOCATED) return SQLITE_OK;
  return t->cb(t->ctx, tok, n, start, end) ? SQLITE_DONE : SQLITE_OK;
}

int cx__tokenize(cx_index *ix, int stem, const char *text, int n, cx__token_cb cb, void *ctx) {
  tok_ctx t = {cb, ctx};
  if (n < 0) n = (int)strlen(text);
  int rc = stem ? ix->porter_api.xTokenize(ix->porter, &t, FTS5_TOKENIZE_DOCUMENT, text, n,
                                           tok_trampoline)
                : ix->plain_api.xTokenize(ix->plain, &t, FTS5_TOKENIZE_DOCUMENT, text, n,
                                          tok_trampoline);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int stem_cb(void *ctx, const char *tok, int n, int start, int end) {
  cx__buf *out = ctx;
  if (out->n) cx__buf_putc(out, ' ');
  cx__buf_add(out, tok, (size_t)n);
  return 0;
}

void cx__stem(cx_index *ix, const char *word, size_t n, cx__buf *out) {
  cx__tokenize(ix, 1, word, (int)n, stem_cb, out);
}

int cx__engine_tokenizers(cx_index *ix, cx_err *err) {
  static const char *porter_args[] = {"unicode61", "remove_diacritics", "2"};
  static const char *plain_args[] = {"remove_diacritics", "2"};
  ix->fts5 = cx__fts5_api(ix->db);
  if (ix->fts5 == NULL)
    return cx_err_set(err, CX_ESQLITE, "", "%s: this SQLite has no FTS5; install a build with FTS5",
                      ix->path);
  if (ix->fts5->xFindTokenizer(ix->fts5, "porter", &ix->porter_ud, &ix->porter_api) != SQLITE_OK ||
      ix->fts5->xFindTokenizer(ix->fts5, "unicode61", &ix->plain_ud, &ix->plain_api) != SQLITE_OK ||
      ix->porter_api.xCreate(ix->porter_ud, porter_args, 3, &ix->porter) != SQLITE_OK ||
      ix->plain_api.xCreate(ix->plain_ud, plain_args, 2, &ix->plain) != SQLITE_OK)
    return cx_err_set(err, CX_ESQLITE, "", "%s: cannot create the FTS5 tokenizers", ix->path);
  return 0;
}

void cx__engine_tokenizers_free(cx_index *ix) {
  if (ix->porter) ix->porter_api.xDelete(ix->porter);
  if (ix->plain) ix->plain_api.xDelete(ix->plain);
  ix->porter = ix->plain = NULL;
}

static int table_exists(sqlite3 *db, const char *name) {
  sqlite3_stmt *st;
  int found = 0;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return found;
}

static int check_schema(cx_index *ix, cx_err *err) {
  static const char *const tables[] = {"meta", "cards", "packs", "tags", "clause_ids", "sources",
                                       "actions", "links", "sections", "synonyms", "fts",
                                       "fts_vocab"};
  /* Random bytes or a truncated index make every schema query fail, which
   * table_exists would report as a missing table: say what it is instead. */
  sqlite3_stmt *probe;
  int prc = sqlite3_prepare_v2(ix->db, "SELECT count(*) FROM sqlite_schema", -1, &probe, NULL);
  if (prc == SQLITE_OK) prc = sqlite3_step(probe) == SQLITE_ROW ? SQLITE_OK : sqlite3_errcode(ix->db);
  if (prc != SQLITE_OK) {
    int erc = cx_err_set(err, CX_ECORRUPT, "", "%s: unreadable index (%s): the file is corrupt, "
                         "truncated or not a cardex index; rebuild it with "
                         "`cardex-index build SEEDS -o %s`", ix->path, sqlite3_errmsg(ix->db),
                         ix->path);
    sqlite3_finalize(probe);
    return erc;
  }
  sqlite3_finalize(probe);
  for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
    if (!table_exists(ix->db, tables[i]))
      return cx_err_set(err, CX_ECORRUPT, "", "%s: not a cardex index (no table `%s`); "
                        "build one with `cardex-index build SEEDS -o %s`", ix->path, tables[i], ix->path);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ix->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                         NULL) != SQLITE_OK)
    return cx_err_set(err, CX_ECORRUPT, "", "%s: unreadable meta table: %s", ix->path,
                      sqlite3_errmsg(ix->db));
  int rc = 0;
  if (sqlite3_step(st) != SQLITE_ROW) {
    rc = cx_err_set(err, CX_ECORRUPT, "", "%s: meta table has no schema_version; rebuild the index",
                    ix->path);
  } else if (sqlite3_column_int(st, 0) != CX_SCHEMA_VERSION) {
    rc = cx_err_set(err, CX_ESCHEMA, "", "%s: index schema version %s, this cardex reads version %d; "
                    "rebuild the index with this version's cardex-index", ix->path,
                    (const char *)sqlite3_column_text(st, 0), CX_SCHEMA_VERSION);
  }
  sqlite3_finalize(st);
  return rc;
}

static int load_stats(cx_index *ix, cx_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ix->db, "SELECT count(*), coalesce(max(rowid), 0) FROM cards", -1, &st,
                         NULL) != SQLITE_OK)
    return cx__sqlite_err(ix, err, "counting cards");
  if (sqlite3_step(st) == SQLITE_ROW) {
    ix->ncards = sqlite3_column_int64(st, 0);
    ix->max_rowid = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  ix->has_postings = table_exists(ix->db, "cx_postings") && table_exists(ix->db, "cx_words");
  ix->has_hits = 0;
  sqlite3_stmt *probe;
  /* cx_hits as this version writes it (older ones lack columns). */
  if (ix->has_postings &&
      sqlite3_prepare_v2(ix->db, "SELECT hit, plain, others FROM cx_hits LIMIT 0", -1, &probe, NULL) ==
          SQLITE_OK) {
    ix->has_hits = 1;
    sqlite3_finalize(probe);
  }
  return 0;
}

static char *file_uri(const char *path) {
  cx__buf b;
  cx__buf_init(&b);
  cx__buf_puts(&b, path[0] == '/' ? "file://" : "file:");
  for (const char *p = path; *p; p++) {
    if (*p == '%' || *p == '?' || *p == '#') cx__buf_printf(&b, "%%%02X", (unsigned char)*p);
    else cx__buf_putc(&b, *p);
  }
  cx__buf_puts(&b, "?immutable=1");
  return cx__buf_detach(&b);
}

int cx_index_open(const char *path, cx_index **out, cx_err *err) {
  *out = NULL;
  cx_index *ix = cx_xcalloc(1, sizeof *ix);
  ix->path = cx_xstrdup(path);
  int rc = 0;
  /* An index is never modified in place (the builder writes a new file and
   * renames it over the old one), so SQLite may skip file locking and change
   * detection: two fcntl calls fewer per statement. */
  struct stat before, after;
  int known = stat(path, &before) == 0;
  char *uri = file_uri(path);
  int orc = sqlite3_open_v2(uri, &ix->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                            NULL);
  free(uri);
  /* The file's identity keys the shared vocabulary: trusted only when
   * nothing replaced the path while SQLite opened it. */
  if (known && stat(path, &after) == 0 && before.st_dev == after.st_dev &&
      before.st_ino == after.st_ino && before.st_size == after.st_size &&
      before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
      before.st_mtim.tv_nsec == after.st_mtim.tv_nsec) {
    ix->file_known = 1;
    ix->file_stat = after;
  }
  if (orc != SQLITE_OK) {
    rc = cx_err_set(err, CX_EIO, "", "%s: cannot open index: %s; build it with "
                    "`cardex-index build SEEDS -o %s`", path,
                    ix->db ? sqlite3_errmsg(ix->db) : "out of memory", path);
    goto fail;
  }
  /* Pages straight from the OS page cache (no read() per page), up to
   * SQLite's compile-time bound; safe because the file is never modified.
   * Without mmap (cardexd's default) reads are pread()s from the OS cache,
   * which a private page cache saves little over: 4 MB per handle holds the
   * b-tree interior pages, where 32 MB made a daemon's two workers 64 MB. */
  sqlite3_exec(ix->db, "PRAGMA cache_size=-4096; PRAGMA mmap_size=17179869184;", NULL, NULL, NULL);
  if ((rc = check_schema(ix, err)) != 0) goto fail;
  if ((rc = cx__engine_tokenizers(ix, err)) != 0) goto fail;
  if ((rc = load_stats(ix, err)) != 0) goto fail;
  /* An index built without the engine's tables (an older builder) gets them
   * in this connection's temp schema when that is cheap enough; a large one
   * is served by the slower FTS5 plan. */
  if (!ix->has_postings && ix->ncards <= CX__TEMP_TABLES_MAX_CARDS) {
    if ((rc = cx__engine_build_tables(ix->db, "temp", err)) != 0) goto fail;
    ix->has_postings = ix->has_hits = 1;
  }
  *out = ix;
  return 0;
fail:
  cx_index_close(ix);
  return rc;
}

void cx_index_close(cx_index *ix) {
  if (ix == NULL) return;
  cx__plist_cache_clear(ix);
  cx__hit_cache_clear(ix);
  free(ix->ids);
  free(ix->id_pool);
  for (int i = 0; i < CX__ST_N; i++) sqlite3_finalize(ix->st[i]);
  cx__engine_tokenizers_free(ix);
  /* words and by_len belong to the vocabulary, maybe shared */
  cx__vocab_release(ix->vocab);
  cx__typo_cache_clear(ix);
  cx__free_synonyms(ix->syns, ix->nsyns);
  free(ix->syn_sorted);
  for (size_t i = 0; i < ix->nfilters; i++) {
    free(ix->filters[i].key);
    free(ix->filters[i].bits);
  }
  sqlite3_close(ix->db);
  free(ix->path);
  free(ix);
}

static uint32_t letters_of(const char *s) {
  uint32_t m = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 'a' && c <= 'z') m |= 1u << (c - 'a');
    else if (c >= '0' && c <= '9') m |= 1u << 26;
    else m |= 1u << 27;
  }
  return m;
}

static int cmp_word(const void *a, const void *b) {
  return strcmp(((const cx__vword *)a)->word, ((const cx__vword *)b)->word);
}

/* The vocabulary is read-only once loaded and, at 100k cards, about 11 MB:
 * handles on the same file (a daemon's workers) share one copy, found by the
 * file's identity and freed with the last handle. A handle keeps its file
 * open, so the identity cannot be reused while the copy lives. */
struct cx__vocab {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  int refs;
  cx__vword *words; /* strings in pool */
  char *pool;
  size_t nwords;
  uint32_t *by_len;
  size_t len_start[CX__MAX_WORD_LEN + 2];
  struct cx__vocab *next;
};

static pthread_mutex_t vocab_lock = PTHREAD_MUTEX_INITIALIZER;
static cx__vocab *vocabs; /* shared ones, under vocab_lock */

static void vocab_free(cx__vocab *v) {
  if (v == NULL) return;
  free(v->words);
  free(v->pool);
  free(v->by_len);
  free(v);
}

static int same_file(const cx__vocab *v, const struct stat *st) {
  return v->dev == st->st_dev && v->ino == st->st_ino && v->size == st->st_size &&
         v->mtime.tv_sec == st->st_mtim.tv_sec && v->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

void cx__vocab_release(cx__vocab *v) {
  if (v == NULL) return;
  pthread_mutex_lock(&vocab_lock);
  int last = --v->refs == 0;
  if (last)
    for (cx__vocab **p = &vocabs; *p; p = &(*p)->next)
      if (*p == v) {
        *p = v->next;
        break;
      }
  pthread_mutex_unlock(&vocab_lock);
  if (last) vocab_free(v);
}

/* The words of ix's file (NULL when SQLite fails): cx_words when the engine
 * tables exist, else the FTS vocabulary itself (stems only). */
static cx__vocab *vocab_load(cx_index *ix) {
  sqlite3_stmt *st;
  const char *sql = ix->has_postings ? "SELECT word, stem, df FROM cx_words"
                                     : "SELECT term, term, doc FROM fts_vocab";
  if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
  cx__vocab *v = cx_xcalloc(1, sizeof *v);
  /* Every string in one pool, a stem equal to its word stored once: two
   * strdups per word cost 20 MB of heap at 100k cards, mostly malloc
   * headers. Offsets until the pool stops moving. */
  cx__buf pool;
  cx__buf_init(&pool);
  size_t cap = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (v->nwords == cap) {
      cap = cap ? cap * 2 : 1024;
      v->words = cx_xrealloc(v->words, cap * sizeof *v->words);
    }
    cx__vword *w = &v->words[v->nwords++];
    const char *word = (const char *)sqlite3_column_text(st, 0);
    const char *stem = (const char *)sqlite3_column_text(st, 1);
    if (word == NULL) word = "";
    if (stem == NULL) stem = "";
    w->word = (char *)(uintptr_t)pool.n;
    cx__buf_add(&pool, word, strlen(word) + 1);
    if (strcmp(word, stem) == 0) {
      w->stem = w->word;
    } else {
      w->stem = (char *)(uintptr_t)pool.n;
      cx__buf_add(&pool, stem, strlen(stem) + 1);
    }
    w->df = (uint32_t)sqlite3_column_int64(st, 2);
    w->letters = letters_of(word);
  }
  sqlite3_finalize(st);
  size_t plen = pool.n;
  v->pool = cx__buf_detach(&pool);
  if (plen) v->pool = cx_xrealloc(v->pool, plen);
  if (v->nwords) v->words = cx_xrealloc(v->words, v->nwords * sizeof *v->words);
  for (size_t i = 0; i < v->nwords; i++) {
    v->words[i].word = v->pool + (uintptr_t)v->words[i].word;
    v->words[i].stem = v->pool + (uintptr_t)v->words[i].stem;
  }
  /* An index of no cards has no words: qsort(NULL, 0) is undefined (UBSan). */
  if (v->nwords > 1) qsort(v->words, v->nwords, sizeof *v->words, cmp_word);
  /* Counting sort by length (longer words share the last bucket, which typo
   * search never reaches). */
  for (size_t i = 0; i < v->nwords; i++) {
    size_t l = strlen(v->words[i].word);
    v->len_start[(l < CX__MAX_WORD_LEN ? l : CX__MAX_WORD_LEN) + 1]++;
  }
  for (size_t l = 1; l <= CX__MAX_WORD_LEN + 1; l++) v->len_start[l] += v->len_start[l - 1];
  size_t fill[CX__MAX_WORD_LEN + 1];
  memcpy(fill, v->len_start, sizeof fill);
  v->by_len = cx_xcalloc(v->nwords ? v->nwords : 1, sizeof *v->by_len);
  for (size_t i = 0; i < v->nwords; i++) {
    size_t l = strlen(v->words[i].word);
    v->by_len[fill[l < CX__MAX_WORD_LEN ? l : CX__MAX_WORD_LEN]++] = (uint32_t)i;
  }
  v->refs = 1;
  return v;
}

int cx__load_words(cx_index *ix) {
  if (ix->words_loaded) return 0;
  ix->words_loaded = 1;
  const struct stat *id = ix->file_known ? &ix->file_stat : NULL;
  cx__vocab *v = NULL;
  if (id) {
    pthread_mutex_lock(&vocab_lock);
    for (v = vocabs; v && !same_file(v, id); v = v->next) {}
    if (v) v->refs++;
    pthread_mutex_unlock(&vocab_lock);
  }
  if (v == NULL) {
    /* Loaded outside the lock (tens of milliseconds at 100k cards): another
     * handle loading the same file at once makes a copy that is dropped. */
    if ((v = vocab_load(ix)) == NULL) return CX_ESQLITE;
    if (id) {
      v->dev = id->st_dev;
      v->ino = id->st_ino;
      v->size = id->st_size;
      v->mtime = id->st_mtim;
      pthread_mutex_lock(&vocab_lock);
      cx__vocab *other = vocabs;
      while (other && !same_file(other, id)) other = other->next;
      if (other) {
        other->refs++;
      } else {
        v->next = vocabs;
        vocabs = v;
      }
      pthread_mutex_unlock(&vocab_lock);
      if (other) {
        vocab_free(v);
        v = other;
      }
    }
  }
  ix->vocab = v;
  ix->words = v->words;
  ix->nwords = v->nwords;
  ix->by_len = v->by_len;
  memcpy(ix->len_start, v->len_start, sizeof ix->len_start);
  return 0;
}

const uint64_t *cx__filter_bits(cx_index *ix, char kind, const char *name, cx_err *err) {
  cx__buf key;
  cx__buf_init(&key);
  cx__buf_printf(&key, "%c:%s", kind, name);
  for (size_t i = 0; i < ix->nfilters; i++)
    if (strcmp(ix->filters[i].key, key.p) == 0) {
      cx__buf_destroy(&key);
      return ix->filters[i].bits;
    }
  size_t words = (size_t)(ix->max_rowid / 64 + 1);
  uint64_t *bits = cx_xcalloc(words, sizeof *bits);
  sqlite3_stmt *st;
  const char *sql = kind == 'p' ? "SELECT card FROM packs WHERE pack = ?1 COLLATE NOCASE"
                                : "SELECT card FROM tags WHERE tag = ?1 COLLATE NOCASE";
  if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK) {
    cx__sqlite_err(ix, err, "reading a filter");
    free(bits);
    cx__buf_destroy(&key);
    return NULL;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
    int64_t r = sqlite3_column_int64(st, 0);
    if (r >= 0 && r <= ix->max_rowid) bits[r / 64] |= 1ull << (r % 64);
  }
  sqlite3_finalize(st);
  /* A small round-robin cache: filters repeat (a UI's pack selector). */
  size_t slot;
  if (ix->nfilters < sizeof ix->filters / sizeof *ix->filters) {
    slot = ix->nfilters++;
  } else {
    slot = ix->next_filter++ % (sizeof ix->filters / sizeof *ix->filters);
    free(ix->filters[slot].key);
    free(ix->filters[slot].bits);
  }
  ix->filters[slot].key = cx__buf_detach(&key);
  ix->filters[slot].bits = bits;
  return bits;
}

/* {name: cards} of packs or tags, by name. */
static json_t *count_by(cx_index *ix, const char *sql, const char *what, cx_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK) {
    cx__sqlite_err(ix, err, what);
    return NULL;
  }
  json_t *o = json_object();
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    if (name) json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, 1)));
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE) {
    json_decref(o);
    cx__sqlite_err(ix, err, what);
    return NULL;
  }
  return o;
}

int cx_index_info(cx_index *ix, json_t **result, cx_err *err) {
  *result = NULL;
  json_t *packs = count_by(ix, "SELECT pack, count(DISTINCT card) FROM packs GROUP BY pack ORDER BY pack",
                           "reading packs", err);
  if (packs == NULL) return err ? err->code : CX_ESQLITE;
  json_t *tags = count_by(ix, "SELECT tag, count(DISTINCT card) FROM tags GROUP BY tag ORDER BY tag",
                          "reading tags", err);
  if (tags == NULL) {
    json_decref(packs);
    return err ? err->code : CX_ESQLITE;
  }
  sqlite3_stmt *st;
  json_t *o = json_object();
  json_object_set_new(o, "path", json_string(ix->path));
  json_object_set_new(o, "cards", json_integer(ix->ncards));
  json_object_set_new(o, "packs", packs);
  json_object_set_new(o, "tags", tags);
  json_object_set_new(o, "built_at", json_null());
  json_object_set_new(o, "schema_version", json_integer(CX_SCHEMA_VERSION));
  if (sqlite3_prepare_v2(ix->db, "SELECT key, value FROM meta", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *k = (const char *)sqlite3_column_text(st, 0);
      const char *v = (const char *)sqlite3_column_text(st, 1);
      if (k && v && strcmp(k, "built_at") == 0) json_object_set_new(o, "built_at", json_string(v));
    }
    sqlite3_finalize(st);
  }
  json_object_set_new(o, "engine", json_string(ix->has_postings ? "postings" : "fts5"));
  *result = o;
  return 0;
}

static int cmp_idref(const void *a, const void *b) {
  const cx__idref *x = a, *y = b;
  int c = strcasecmp(x->id, y->id);
  return c ? c : strcmp(x->id, y->id);
}

int cx__id_range(cx_index *ix, const char *prefix, size_t *lo, size_t *hi, cx_err *err) {
  *lo = *hi = 0;
  if (!ix->ids_loaded) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ix->db, "SELECT rowid, id FROM cards", -1, &st, NULL) != SQLITE_OK)
      return cx__sqlite_err(ix, err, "reading card ids");
    cx__buf pool;
    cx__buf_init(&pool);
    size_t cap = 0, n = 0;
    size_t *offs = NULL;
    int64_t *rowids = NULL;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(st, 1);
      if (id == NULL) continue;
      if (n == cap) {
        cap = cap ? cap * 2 : 1024;
        offs = cx_xrealloc(offs, cap * sizeof *offs);
        rowids = cx_xrealloc(rowids, cap * sizeof *rowids);
      }
      offs[n] = pool.n;
      rowids[n++] = sqlite3_column_int64(st, 0);
      cx__buf_add(&pool, id, strlen(id) + 1);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) {
      free(offs);
      free(rowids);
      cx__buf_destroy(&pool);
      return cx__sqlite_err(ix, err, "reading card ids");
    }
    /* Pointers into the pool only once it has stopped moving. */
    ix->id_pool = cx__buf_detach(&pool);
    ix->ids = cx_xcalloc(n ? n : 1, sizeof *ix->ids);
    for (size_t i = 0; i < n; i++) ix->ids[i] = (cx__idref){ix->id_pool + offs[i], rowids[i]};
    ix->nids = n;
    qsort(ix->ids, n, sizeof *ix->ids, cmp_idref);
    free(offs);
    free(rowids);
    ix->ids_loaded = 1;
  }
  size_t plen = prefix ? strlen(prefix) : 0;
  size_t a = 0, b = ix->nids;
  /* First id whose prefix is not below prefix, then first that is above. */
  while (a < b) {
    size_t m = (a + b) / 2;
    if (strncasecmp(ix->ids[m].id, prefix ? prefix : "", plen) < 0) a = m + 1;
    else b = m;
  }
  *lo = a;
  b = ix->nids;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (strncasecmp(ix->ids[m].id, prefix ? prefix : "", plen) <= 0) a = m + 1;
    else b = m;
  }
  *hi = a;
  return 0;
}
