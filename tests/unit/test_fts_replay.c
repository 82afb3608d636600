/* test_fts_replay.c — the writer's FTS5 token replay (fts_replay.c) builds the index FTS5 would. */
#include "cx_internal.h"
#include "cx_test_index.h"
#include "../cx_xorshift.h"

#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *path, const char *text, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(text, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
}

static size_t copy_seeds(const char *dst) {
  DIR *d = opendir(CX_SOURCE_DIR "/seeds");
  struct dirent *e;
  size_t n = 0;
  while (d && (e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".md") != 0 || strcmp(e->d_name, "README.md") == 0)
      continue;
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s/seeds/%s", CX_SOURCE_DIR, e->d_name);
    snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
    FILE *f = fopen(from, "rb");
    cx__buf b;
    cx__buf_init(&b);
    char tmp[65536];
    size_t got;
    while (f && (got = fread(tmp, 1, sizeof tmp, f)) > 0) cx__buf_add(&b, tmp, got);
    if (f) fclose(f);
    write_file(to, b.p ? b.p : "", b.n);
    cx__buf_destroy(&b);
    n++;
  }
  if (d) closedir(d);
  return n;
}

/* ---- a corpus with what a tokenizer can trip on ---- */

/* Words the generated cards are made of: plain English (porter stems most),
 * case, digits and identifiers, diacritics (which remove_diacritics 2 folds),
 * combining marks, ligatures, scripts without spaces (CJK: one token a run),
 * right-to-left scripts, emoji (separators for unicode61) and ZWJ sequences,
 * tokens longer than porter's 64-byte limit and than a varint's first byte,
 * and punctuation that splits tokens. */
static const char *const words[] = {
    "security", "policies", "controls", "running", "auditors", "information", "ISMS", "GDPR",
    "Art.35", "ISO27001:2022/A.5.15", "v2.0", "3rd-party", "e-mail", "don't", "x86_64",
    "café", "Café", "naïve", "façade", "Übermäßig", "Ærøskøbing", "İstanbul", "ﬁnance",
    "Straße", "ÉCOLE", "cafe\xcc\x81", "ǅemal", "Ωmega", "σοφία", "Москва", "ПОЛИТИКА",
    "情報セキュリティ", "信息安全管理体系", "한국어", "ภาษาไทย", "العربية", "עברית",
    "🔐", "👩\u200d💻", "🇪🇺", "emoji🙂inside", "a\u200bb", "x\xc2\xa0y", "tab\there",
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosispneumonoultramicroscopicsilicovolcano",
    "(parenthesised)", "\"quoted\"", "semi;colon", "slash/separated", "under_score",
    "12345678901234567890", "ⅫⅣ", "①②", "Ⓐ", "ǈ", "ß", "ÅÄÖ", "Ⅱ", "ℌ", "ﬀ", "ﬃ"};
#define NWORDS (sizeof words / sizeof *words)

static uint64_t rng = CX_XORSHIFT_SEED;
static uint32_t next_rand(void) { return (uint32_t)(cx_xorshift(&rng) >> 16); }

static void add_words(cx__buf *b, int n) {
  for (int i = 0; i < n; i++) {
    if (i) cx__buf_putc(b, next_rand() % 9 == 0 ? ',' : ' ');
    if (i) cx__buf_putc(b, ' ');
    cx__buf_puts(b, words[next_rand() % NWORDS]);
  }
}

/* Words safe inside a double-quoted YAML scalar (no '"', '\\', tab). */
static void add_yaml_words(cx__buf *b, int n) {
  for (int i = 0; i < n;) {
    const char *w = words[next_rand() % NWORDS];
    if (strpbrk(w, "\"\\\t")) continue;
    if (i++) cx__buf_putc(b, ' ');
    cx__buf_puts(b, w);
  }
}

static void gen_cards(const char *dir, int n) {
  for (int k = 0; k < n; k++) {
    cx__buf b;
    cx__buf_init(&b);
    cx__buf_printf(&b, "id: Q9%04d\nquery: \"", k);
    add_yaml_words(&b, 4 + (int)(next_rand() % 8));
    cx__buf_puts(&b, "?\"\npacks: [\"ISO27001:2022\"]\nprimary_ids: [\"ISO27001:2022/A.5.");
    cx__buf_printf(&b, "%d\"]\nsources:\n  - title: \"", 1 + k % 30);
    add_yaml_words(&b, 3);
    cx__buf_printf(&b, "\"\n    id: \"ISO27001:2022/A.5.%d\"\n    locator: \"Clause %d\"\n"
                   "---\n**Plain-English answer**  \n", 1 + k % 30, k % 10);
    add_words(&b, 20 + (int)(next_rand() % 200));
    cx__buf_puts(&b, "\n\n**Why it matters**  \n");
    add_words(&b, (int)(next_rand() % 60));
    if (k % 7 == 0) {
      /* one very long token: its varint length takes two bytes */
      cx__buf_puts(&b, " ");
      for (int i = 0; i < 300; i++) cx__buf_putc(&b, (char)('a' + i % 26));
    }
    cx__buf_puts(&b, "\n\n**Sources**  \n- ");
    add_words(&b, 5);
    cx__buf_puts(&b, "\n");
    char name[64];
    snprintf(name, sizeof name, "%s/Q9%04d.md", dir, k);
    write_file(name, b.p, b.n);
    cx__buf_destroy(&b);
  }
}

/* ---- helpers ---- */

static int build(const char *corpus, const char *out, int full, cx_build_stats *st) {
  const char *paths[] = {corpus};
  cx_build_opts o;
  memset(&o, 0, sizeof o);
  o.full = full;
  o.threads = 3;
  cx_diags d;
  cx_diags_init(&d);
  cx_err err = {0};
  int rc = cx_index_build(paths, 1, out, &o, st, &d, &err);
  if (rc != 0) {
    fprintf(stderr, "build %s: %s: %s\n", corpus, cx_err_name(rc), err.msg);
    for (size_t i = 0; i < d.n && i < 5; i++)
      fprintf(stderr, "  %s:%d: %s\n", d.v[i].path, d.v[i].line, d.v[i].message);
  }
  cx_diags_destroy(&d);
  return rc;
}

/* Every row of a query, columns as quoted SQL values (blobs in hex). */
static char *rows(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  cx__buf b;
  cx__buf_init(&b);
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
    cx__buf_printf(&b, "error: %s", sqlite3_errmsg(db));
  } else {
    while (sqlite3_step(q) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(q); c++) {
        const unsigned char *p = sqlite3_column_blob(q, c);
        int n = sqlite3_column_bytes(q, c);
        cx__buf_printf(&b, "%s%d:", c ? "|" : "", sqlite3_column_type(q, c));
        for (int i = 0; i < n; i++) cx__buf_printf(&b, "%02x", p[i]);
      }
      cx__buf_putc(&b, '\n');
    }
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return cx__buf_detach(&b);
}

/* The FTS5 shadow tables, byte for byte, and every token instance. */
static const char *const fts_sql[] = {
    "SELECT id, block FROM fts_data ORDER BY id",
    "SELECT segid, term, pgno FROM fts_idx ORDER BY segid, term",
    "SELECT id, sz FROM fts_docsize ORDER BY id",
    "SELECT * FROM fts_content ORDER BY id",
    "SELECT k, v FROM fts_config ORDER BY k",
    "SELECT term, doc, col, offset FROM fts_vocab_i ORDER BY term, doc, col, offset",
};

static int same_fts(const char *a, const char *b) {
  int same = 1;
  for (size_t i = 0; i < sizeof fts_sql / sizeof *fts_sql; i++) {
    char *x, *y;
    if (strstr(fts_sql[i], "fts_vocab_i")) {
      /* An instance vocabulary table over each file: temp, nothing written. */
      char sql[512];
      snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE temp.fts_vocab_i USING "
               "fts5vocab(main, fts, instance)");
      sqlite3 *db;
      for (int k = 0; k < 2; k++) {
        sqlite3_open_v2(k ? b : a, &db, SQLITE_OPEN_READONLY, NULL);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_stmt *q;
        cx__buf buf;
        cx__buf_init(&buf);
        if (sqlite3_prepare_v2(db, fts_sql[i], -1, &q, NULL) == SQLITE_OK) {
          while (sqlite3_step(q) == SQLITE_ROW)
            cx__buf_printf(&buf, "%s|%lld|%s|%lld\n", sqlite3_column_text(q, 0),
                           sqlite3_column_int64(q, 1), sqlite3_column_text(q, 2),
                           sqlite3_column_int64(q, 3));
          sqlite3_finalize(q);
        }
        sqlite3_close(db);
        if (k) y = cx__buf_detach(&buf);
        else x = cx__buf_detach(&buf);
      }
    } else {
      x = rows(a, fts_sql[i]);
      y = rows(b, fts_sql[i]);
    }
    CHECK(strlen(x) > 20 && strncmp(x, "error", 5) != 0);
    if (strcmp(x, y) != 0) {
      fprintf(stderr, "  %s differs between %s and %s\n", fts_sql[i], a, b);
      same = 0;
    }
    free(x);
    free(y);
  }
  return same;
}

/* A tokenizer's output, one record per token: flags, start, end, bytes. */
static int collect(void *ctx, int flags, const char *tok, int n, int start, int end) {
  cx__buf *b = ctx;
  cx__buf_printf(b, "%d %d %d %d:", flags, start, end, n);
  cx__buf_add(b, tok, (size_t)n);
  cx__buf_putc(b, '\n');
  return SQLITE_OK;
}

/* ---- tests ---- */

/* The replaying tokenizer, asked directly, emits exactly the real tokenizer's
 * tokens (flags, bytes and offsets) for every column text of the corpus; it
 * replays only armed document texts. The build comparison below cannot see
 * offsets (FTS5's insert ignores them), so this is their check. */
static void test_token_streams(const char *index) {
  cx__tok_spec spec;
  cx__fts_tokenizer_spec(&spec);
  CHECK_INT(spec.argc, 4);
  CHECK(strcmp(spec.argv[0], "porter") == 0 && strcmp(spec.argv[3], "2") == 0);

  sqlite3 *plain = NULL, *mine = NULL;
  CHECK(sqlite3_open(":memory:", &plain) == SQLITE_OK);
  CHECK(sqlite3_open(":memory:", &mine) == SQLITE_OK);
  cx__fts_replay *r = cx__fts_replay_install(mine);
  CHECK(r != NULL);
  fts5_api *papi = cx__fts5_api(plain), *mapi = cx__fts5_api(mine);
  fts5_tokenizer real, over;
  void *rud, *oud;
  CHECK(papi && mapi);
  if (!papi || !mapi || !r) return;
  CHECK(papi->xFindTokenizer(papi, "porter", &rud, &real) == SQLITE_OK);
  CHECK(mapi->xFindTokenizer(mapi, "porter", &oud, &over) == SQLITE_OK);
  /* FTS5 finds the newest tokenizer of a name: ours, on this connection only. */
  CHECK(over.xTokenize != real.xTokenize);
  fts5_tokenizer other;
  void *xud;
  CHECK(papi->xFindTokenizer(papi, "porter", &xud, &other) == SQLITE_OK &&
        other.xTokenize == real.xTokenize);
  Fts5Tokenizer *rt = NULL, *ot = NULL;
  CHECK(real.xCreate(rud, spec.argv + 1, spec.argc - 1, &rt) == SQLITE_OK);
  CHECK(over.xCreate(oud, spec.argv + 1, spec.argc - 1, &ot) == SQLITE_OK);
  cx_err err = {0};
  cx__term_counter *tc = cx__term_counter_new(&err);
  CHECK(tc != NULL);
  if (!rt || !ot || !tc) return;

  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  CHECK(sqlite3_open_v2(index, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db, "SELECT question, tags, answer, sources FROM fts ORDER BY rowid",
                           -1, &q, NULL) == SQLITE_OK);
  size_t nrows = 0, ntokens = 0, mismatches = 0;
  const char *prev[4] = {NULL};
  size_t prevlen[4] = {0};
  char *keep[4] = {NULL};
  while (sqlite3_step(q) == SQLITE_ROW) {
    const char *col[4];
    size_t len[4];
    for (int c = 0; c < 4; c++) {
      len[c] = (size_t)sqlite3_column_bytes(q, c);
      col[c] = (const char *)sqlite3_column_text(q, c);
    }
    cx__doc_terms dt;
    cx__term_counter_count(tc, col, len, &dt);
    cx__fts_toks toks;
    cx__doc_terms_take_tokens(&dt, &toks);
    cx__doc_terms_destroy(&dt);
    CHECK(toks.p != NULL);
    uint64_t before = cx__fts_replay_count();
    cx__fts_replay_arm(r, col, len, &toks);
    for (int c = 0; c < 4; c++) {
      cx__buf want, got;
      cx__buf_init(&want);
      cx__buf_init(&got);
      CHECK(real.xTokenize(rt, &want, FTS5_TOKENIZE_DOCUMENT, col[c], (int)len[c], collect) ==
            SQLITE_OK);
      CHECK(over.xTokenize(ot, &got, FTS5_TOKENIZE_DOCUMENT, col[c], (int)len[c], collect) ==
            SQLITE_OK);
      for (size_t i = 0; i < want.n; i++) ntokens += want.p[i] == '\n';
      if (want.n != got.n || memcmp(want.p, got.p, want.n) != 0) {
        if (mismatches++ < 3) {
          size_t i = 0;
          while (i < want.n && i < got.n && want.p[i] == got.p[i]) i++;
          while (i > 0 && want.p[i - 1] != '\n') i--;
          fprintf(stderr, "  row %zu column %d: real token \"%.60s\", replayed \"%.60s\"\n",
                  nrows + 1, c, want.p ? want.p + i : "", got.p ? got.p + i : "");
        }
      }
      /* Query mode is never replayed: the same tokens from the real one. */
      cx__buf_destroy(&got);
      cx__buf_init(&got);
      uint64_t n0 = cx__fts_replay_count();
      CHECK(over.xTokenize(ot, &got, FTS5_TOKENIZE_QUERY, col[c], (int)len[c], collect) ==
            SQLITE_OK);
      CHECK(cx__fts_replay_count() == n0);
      cx__buf_destroy(&want);
      cx__buf_destroy(&got);
    }
    CHECK_INT(cx__fts_replay_count() - before, 4);
    /* A text the row does not have (the previous row's, if it differs from
     * all of this row's) goes to the real tokenizer. */
    for (int c = 0; c < 4 && nrows > 0; c++) {
      int other_text = 1;
      for (int k = 0; k < 4; k++)
        if (prevlen[c] == len[k] && memcmp(prev[c], col[k], len[k]) == 0) other_text = 0;
      if (!other_text) continue;
      cx__buf want, got;
      cx__buf_init(&want);
      cx__buf_init(&got);
      uint64_t n0 = cx__fts_replay_count();
      real.xTokenize(rt, &want, FTS5_TOKENIZE_DOCUMENT, prev[c], (int)prevlen[c], collect);
      over.xTokenize(ot, &got, FTS5_TOKENIZE_DOCUMENT, prev[c], (int)prevlen[c], collect);
      CHECK(cx__fts_replay_count() == n0);
      CHECK(want.n == got.n && memcmp(want.p, got.p, want.n) == 0);
      cx__buf_destroy(&want);
      cx__buf_destroy(&got);
    }
    cx__fts_replay_disarm(r);
    /* Disarmed: the real tokenizer again. */
    uint64_t n0 = cx__fts_replay_count();
    cx__buf got;
    cx__buf_init(&got);
    over.xTokenize(ot, &got, FTS5_TOKENIZE_DOCUMENT, col[2], (int)len[2], collect);
    CHECK(cx__fts_replay_count() == n0);
    cx__buf_destroy(&got);
    for (int c = 0; c < 4; c++) {
      free(keep[c]);
      keep[c] = cx_xmalloc(len[c] + 1);
      memcpy(keep[c], col[c], len[c]);
      prev[c] = keep[c];
      prevlen[c] = len[c];
    }
    free(toks.p);
    nrows++;
  }
  CHECK_INT(mismatches, 0);
  CHECK(nrows > 400 && ntokens > 50000);
  for (int c = 0; c < 4; c++) free(keep[c]);
  sqlite3_finalize(q);
  sqlite3_close(db);
  cx__term_counter_free(tc);
  real.xDelete(rt);
  over.xDelete(ot);
  sqlite3_close(plain);
  sqlite3_close(mine);
}

/* The same corpus built with the replay and without it (the real tokenizer
 * on the writer, as before) gives the same FTS5 index, byte for byte, and
 * the replay did tokenize every column of every row. */
static void test_builds(void) {
  char *corpus = path_of("corpus"), *on = path_of("on.db"), *off = path_of("off.db");
  char *inc = path_of("inc.db"), *off2 = path_of("off2.db");
  mkdir(corpus, 0777);
  size_t nseeds = copy_seeds(corpus);
  CHECK(nseeds > 100);
  gen_cards(corpus, 400);

  cx_build_stats st;
  uint64_t n0 = cx__fts_replay_count();
  CHECK_INT(build(corpus, on, 1, &st), 0);
  CHECK_INT(st.cards, nseeds + 400);
  CHECK_INT(cx__fts_replay_count() - n0, 4 * st.cards);

  CHECK(setenv("CARDEX_TEST_NO_FTS_REPLAY", "1", 1) == 0);
  n0 = cx__fts_replay_count();
  CHECK_INT(build(corpus, off, 1, &st), 0);
  CHECK_INT(cx__fts_replay_count() - n0, 0);
  CHECK(same_fts(on, off));

  /* Incremental: the unchanged cards' texts come from the old index and are
   * counted (and recorded) by the parser threads; they replay too. */
  char *changed = path_of("corpus/Q90007.md");
  write_file(changed, "id: Q90007\nquery: \"Changed naïve café 情報?\"\n---\nNew body "
             "Übermäßig 🔐 text.\n", strlen("id: Q90007\nquery: \"Changed naïve café 情報?\"\n"
             "---\nNew body Übermäßig 🔐 text.\n"));
  CHECK_INT(build(corpus, off2, 1, &st), 0); /* still without the replay */
  CHECK(unsetenv("CARDEX_TEST_NO_FTS_REPLAY") == 0);
  /* inc starts as the first build's index, then is updated */
  FILE *f = fopen(on, "rb"), *g = fopen(inc, "wb");
  char tmp[65536];
  size_t got;
  while (f && g && (got = fread(tmp, 1, sizeof tmp, f)) > 0) fwrite(tmp, 1, got, g);
  if (f) fclose(f);
  if (g) fclose(g);
  n0 = cx__fts_replay_count();
  CHECK_INT(build(corpus, inc, 0, &st), 0);
  CHECK(st.reused == st.cards - 1);
  CHECK_INT(cx__fts_replay_count() - n0, 4 * st.cards);
  CHECK(same_fts(inc, off2));

  /* The file names the standard tokenizer: a plain connection reads it. */
  sqlite3 *db = NULL;
  CHECK(sqlite3_open_v2(on, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  sqlite3_stmt *q = NULL;
  CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM fts WHERE fts MATCH 'cafe'", -1, &q,
                           NULL) == SQLITE_OK);
  CHECK(q && sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) > 10);
  sqlite3_finalize(q);
  CHECK(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name = 'fts'", -1, &q,
                           NULL) == SQLITE_OK);
  CHECK(q && sqlite3_step(q) == SQLITE_ROW &&
        strstr((const char *)sqlite3_column_text(q, 0),
               "tokenize='porter unicode61 remove_diacritics 2'") != NULL);
  sqlite3_finalize(q);
  sqlite3_close(db);

  test_token_streams(on);
  free(changed);
  free(corpus);
  free(on);
  free(off);
  free(inc);
  free(off2);
}

int main(void) {
  unsetenv("CARDEX_TEST_NO_FTS_REPLAY");
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cx-test-replay-XXXXXX");
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  test_builds();
  if (failures == 0) remove_tree(tmpdir);
  else fprintf(stderr, "test_fts_replay: %d failures (files kept in %s)\n", failures, tmpdir);
  return failures ? 1 : 0;
}
