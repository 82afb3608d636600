/* test_index.c — the index builder: full and incremental builds, strictness, atomicity, check. */
#include "cx_internal.h"
#include "cx_test_index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files ---- */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  cx__buf b;
  cx__buf_init(&b);
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) cx__buf_add(&b, tmp, n);
  fclose(f);
  if (len) *len = b.n;
  return cx__buf_detach(&b);
}

/* Copies the card files (and synonyms.yaml) of src into dst. */
static size_t copy_cards(const char *src, const char *dst) {
  mkdir(dst, 0777);
  DIR *d = opendir(src);
  if (d == NULL) return 0;
  struct dirent *e;
  size_t n = 0;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    int md = len > 3 && strcmp(e->d_name + len - 3, ".md") == 0 && strcmp(e->d_name, "README.md");
    if (!md && strcmp(e->d_name, "synonyms.yaml") != 0) continue;
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s/%s", src, e->d_name);
    snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
    size_t size;
    char *data = read_all(from, &size);
    if (data == NULL) continue;
    write_file(to, data);
    free(data);
    if (md) n++;
  }
  closedir(d);
  return n;
}

static int count_temps(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp-")) n++;
  if (d) closedir(d);
  return n;
}

/* ---- building ---- */

static int build(const char *seeds, const char *out, int full, int keep_going,
                 cx_build_stats *st, cx_diags *d) {
  const char *paths[] = {seeds};
  cx_build_opts o;
  memset(&o, 0, sizeof o);
  o.full = full;
  o.keep_going = keep_going;
  o.threads = 3;
  cx_err err = {0};
  int rc = cx_index_build(paths, 1, out, &o, st, d, &err);
  if (rc != 0 && rc != CX_EPARTIAL && rc != CX_EPARSE)
    fprintf(stderr, "build %s: %s: %s\n", seeds, cx_err_name(rc), err.msg);
  return rc;
}

static int has_diag(const cx_diags *d, const char *path_part, int line, int col,
                    const char *msg_part) {
  for (size_t i = 0; i < d->n; i++)
    if (strstr(d->v[i].path, path_part) && (line < 0 || d->v[i].line == line) &&
        (col < 0 || d->v[i].col == col) && strstr(d->v[i].message, msg_part))
      return 1;
  return 0;
}

/* ---- reading the index ---- */

static sqlite3 *open_ro(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "cannot open %s: %s\n", path, sqlite3_errmsg(db));
    exit(2);
  }
  return db;
}

static long long scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *q;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    return -1;
  }
  if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return v;
}

/* Rows of a query, one line each, columns separated by '|'. */
static char *rows(sqlite3 *db, const char *sql) {
  sqlite3_stmt *q;
  cx__buf b;
  cx__buf_init(&b);
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
    cx__buf_printf(&b, "error: %s", sqlite3_errmsg(db));
    return cx__buf_detach(&b);
  }
  while (sqlite3_step(q) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(q); c++) {
      if (c) cx__buf_putc(&b, '|');
      if (sqlite3_column_type(q, c) == SQLITE_BLOB) {
        const unsigned char *p = sqlite3_column_blob(q, c);
        int n = sqlite3_column_bytes(q, c);
        for (int i = 0; i < n; i++) cx__buf_printf(&b, "%02x", p[i]);
      } else if (sqlite3_column_type(q, c) == SQLITE_NULL) {
        cx__buf_puts(&b, "NULL");
      } else {
        cx__buf_puts(&b, (const char *)sqlite3_column_text(q, c));
      }
    }
    cx__buf_putc(&b, '\n');
  }
  sqlite3_finalize(q);
  return cx__buf_detach(&b);
}

/* Every row of every table (FTS5 shadow tables included), built_at excepted. */
static char *dump_all(const char *path) {
  sqlite3 *db = open_ro(path);
  sqlite3_stmt *t;
  cx__buf b;
  cx__buf_init(&b);
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name",
                     -1, &t, NULL);
  while (sqlite3_step(t) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(t, 0);
    if (strncmp(name, "sqlite_", 7) == 0) continue;
    char sql[256];
    cx__buf_printf(&b, "== %s\n", name);
    snprintf(sql, sizeof sql, "SELECT rowid, * FROM \"%s\" ORDER BY rowid", name);
    char *r = rows(db, sql);
    if (strncmp(r, "error:", 6) == 0) { /* WITHOUT ROWID */
      free(r);
      snprintf(sql, sizeof sql, strcmp(name, "meta") == 0
                                    ? "SELECT * FROM meta WHERE key <> 'built_at' ORDER BY 1"
                                    : "SELECT * FROM \"%s\" ORDER BY 1, 2, 3", name);
      r = rows(db, sql);
    }
    cx__buf_puts(&b, r);
    free(r);
  }
  sqlite3_finalize(t);
  sqlite3_close(db);
  return cx__buf_detach(&b);
}

/* Removes the rows of one table from a dump_all text. */
static void drop_table(char *dump, const char *table) {
  char head[128];
  snprintf(head, sizeof head, "== %s\n", table);
  char *p = strstr(dump, head);
  if (p == NULL) return;
  char *next = strstr(p + strlen(head), "\n== ");
  if (next) memmove(p, next + 1, strlen(next + 1) + 1);
  else *p = '\0';
}

static const char *const queries[] = {"isms", "risk", "\"information security\"", "audit*",
                                      "gdpr OR soc", "q77", "controls AND policy", "clause"};

static char *fts_results(const char *path) {
  sqlite3 *db = open_ro(path);
  cx__buf b;
  cx__buf_init(&b);
  for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
    char sql[512];
    char *esc = sqlite3_mprintf("%q", queries[i]);
    snprintf(sql, sizeof sql, "SELECT c.id, round(bm25(fts), 6) FROM fts JOIN cards c"
             " ON c.rowid = fts.rowid WHERE fts MATCH '%s' ORDER BY bm25(fts), c.id", esc);
    sqlite3_free(esc);
    char *r = rows(db, sql);
    cx__buf_printf(&b, "-- %s\n%s", queries[i], r);
    free(r);
  }
  sqlite3_close(db);
  return cx__buf_detach(&b);
}

static void first_difference(const char *a, const char *b) {
  size_t i = 0, line = 1;
  while (a[i] && a[i] == b[i]) {
    if (a[i] == '\n') line++;
    i++;
  }
  size_t start = i;
  while (start > 0 && a[start - 1] != '\n') start--;
  fprintf(stderr, "  first difference at line %zu:\n  < %.200s\n  > %.200s\n", line, a + start,
          b + start);
}

/* ---- tests ---- */

/* Every stored cards.json is json_dumps(cx_card_to_json(card), JSON_COMPACT)
 * with "sections": null (the sections table has them), and cx_get gives
 * back the whole of it. */
static void check_json(const char *index) {
  sqlite3 *db = open_ro(index);
  cx_index *ix = NULL;
  cx_err err = {0};
  CHECK_INT(cx_index_open(index, &ix, &err), 0);
  sqlite3_stmt *q;
  sqlite3_prepare_v2(db, "SELECT path, json, id FROM cards", -1, &q, NULL);
  int n = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    const char *path = (const char *)sqlite3_column_text(q, 0);
    cx_card *card = NULL;
    cx_diags d;
    cx_diags_init(&d);
    CHECK_INT(cx_card_load(path, NULL, &card, &d), 0);
    if (card) {
      json_t *j = cx_card_to_json(card);
      char *whole = json_dumps(j, JSON_COMPACT);
      json_object_set_new(j, "sections", json_null());
      char *want = json_dumps(j, JSON_COMPACT);
      if (strcmp(want, (const char *)sqlite3_column_text(q, 1)) != 0) {
        fprintf(stderr, "%s: stored json differs from json_dumps:\n", path);
        first_difference(want, (const char *)sqlite3_column_text(q, 1));
        failures++;
      }
      json_t *got = NULL;
      CHECK_INT(ix ? cx_get(ix, (const char *)sqlite3_column_text(q, 2), &got, &err) : -1, 0);
      char *gots = got ? json_dumps(got, JSON_COMPACT) : NULL;
      if (gots == NULL || strcmp(whole, gots) != 0) {
        fprintf(stderr, "%s: cx_get differs from json_dumps:\n", path);
        if (gots) first_difference(whole, gots);
        failures++;
      }
      free(gots);
      json_decref(got);
      free(whole);
      free(want);
      json_decref(j);
      n++;
    }
    cx_card_free(card);
    cx_diags_destroy(&d);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  cx_index_close(ix);
  CHECK(n > 0);
}

static void test_seeds(void) {
  char *corpus = path_of("seeds"), *out = path_of("seeds.db");
  size_t n = copy_cards(CX_SOURCE_DIR "/seeds", corpus);
  CHECK(n > 0);
  /* Strings with every kind of JSON escape. */
  char *esc = path_of("seeds/QESC.md");
  write_file(esc, "id: QESC\nquery: \"Tabs\\tand \\\"quotes\\\" and back\\\\slash?\"\n"
                  "notes: \"ctl \\x01\\x1f del \\x7f caf\\u00e9 \\u2028 / end\"\n"
                  "---\n**Plain-English answer**  \nSee \"this\" \\ that.\n");
  free(esc);
  n++;
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), 0);
  CHECK_INT(st.cards, n);
  CHECK_INT(st.parsed, n);
  CHECK_INT(st.errors, 0);
  sqlite3 *db = open_ro(out);
  CHECK_INT(scalar(db, "SELECT count(*) FROM cards"), n);
  CHECK_INT(scalar(db, "SELECT value FROM meta WHERE key='card_count'"), n);
  CHECK_INT(scalar(db, "SELECT value FROM meta WHERE key='schema_version'"), CX_SCHEMA_VERSION);
  CHECK_INT(scalar(db, "SELECT count(*) FROM meta WHERE key IN ('built_at', 'tool_version',"
                       " 'seeds') AND length(value) > 0"), 3);
  CHECK_INT(scalar(db, "SELECT count(*) FROM meta WHERE key='built_at' AND value GLOB"
                       " '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'"), 1);
  /* The original card is found by what people type. */
  CHECK_INT(scalar(db, "SELECT count(*) FROM fts JOIN cards c ON c.rowid = fts.rowid"
                       " WHERE fts MATCH 'isms' AND c.id = 'Q077'"), 1);
  CHECK_INT(scalar(db, "SELECT count(*) FROM fts JOIN cards c ON c.rowid = fts.rowid"
                       " WHERE fts MATCH 'q77' AND c.id = 'Q077'"), 1);
  CHECK_INT(scalar(db, "SELECT count(*) FROM clause_ids WHERE kind NOT IN ('primary',"
                       " 'overlap')"), 0);
  CHECK_INT(scalar(db, "SELECT count(*) FROM clause_ids c JOIN cards k ON k.rowid = c.card"
                       " WHERE k.id = 'Q077' AND c.kind = 'primary'"
                       " AND c.clause = 'ISO27001:2022/4'"), 1);
  CHECK_INT(scalar(db, "SELECT count(*) FROM cards WHERE json_valid(json) AND"
                       " json_extract(json, '$.id') = id"), n);
  CHECK_INT(scalar(db, "SELECT count(*) FROM files WHERE card IS NOT NULL"), n);
  CHECK_INT(scalar(db, "SELECT count(*) FROM links l JOIN cards c ON c.rowid = l.card"
                       " WHERE c.id = 'Q077' AND l.target = 'Q081'"), 1);
  if (access(CX_SOURCE_DIR "/seeds/synonyms.yaml", R_OK) == 0)
    CHECK(scalar(db, "SELECT count(DISTINCT grp) FROM synonyms") > 0);
  sqlite3_close(db);
  CHECK_INT(count_temps(tmpdir), 0);
  check_json(out);

  /* Nothing changed: the index is left as it is (same file, same inode). */
  struct stat s0, s1;
  stat(out, &s0);
  char *before = dump_all(out);
  size_t warnings = d.nwarnings;
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), 0);
  CHECK_INT(st.reused, n);
  CHECK_INT(st.parsed, 0);
  CHECK_INT(st.cards, n);
  CHECK_INT(d.nwarnings, warnings); /* the same warnings, from the stored ones */
  stat(out, &s1);
  CHECK(s0.st_ino == s1.st_ino);
  CHECK_INT(count_temps(tmpdir), 0);

  /* Touched, not changed: rewritten, every card reused, same rows. */
  char *q077 = path_of("seeds/Q077.md");
  struct timespec later[2] = {{0, UTIME_OMIT}, {s0.st_mtim.tv_sec + 10, 0}};
  utimensat(AT_FDCWD, q077, later, 0);
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), 0);
  CHECK_INT(st.reused, n);
  CHECK_INT(st.parsed, 0);
  CHECK_INT(d.nwarnings, warnings);
  stat(out, &s1);
  CHECK(s0.st_ino != s1.st_ino);
  char *after = dump_all(out);
  /* Only files.mtime_ns of Q077 may differ: compare everything but the files table. */
  drop_table(before, "files");
  drop_table(after, "files");
  CHECK(strstr(before, "== cards\n") && strcmp(before, after) == 0);
  free(q077);
  free(before);
  free(after);
  cx_diags_destroy(&d);
  free(corpus);
  free(out);
}

static const char card_a[] =
    "id: QA1\nquery: What is an access control policy?\npacks: [\"ISO27001:2022\"]\n"
    "primary_ids: [\"ISO27001:2022/A.5.15\"]\n"
    "---\n**Plain-English answer**  \nA policy for access control and audit. (See Q077)\n";
static const char card_b[] =
    "id: QB1\nquery: How do we run an internal audit?\npacks: [\"SOC2:2017\"]\n"
    "---\n**Plain-English answer**  \nPlan the audit, collect evidence, report.\n";

/* Incremental builds give exactly what a full build gives. */
static void test_incremental(void) {
  char *corpus = path_of("inc"), *inc = path_of("inc.db"), *full = path_of("full.db");
  size_t n = copy_cards(CX_SOURCE_DIR "/seeds", corpus);
  char *pa = path_of("inc/QA1.md"), *pb = path_of("inc/sub/QB1.md"), *sub = path_of("inc/sub");
  write_file(pa, card_a);
  mkdir(sub, 0777);
  write_file(pb, card_b);
  n += 2;
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  CHECK_INT(build(corpus, inc, 0, 0, &st, &d), 0);
  CHECK_INT(st.cards, n);

  /* Change one card, add one, remove one. */
  char *q077 = path_of("inc/Q077.md"), *added = path_of("inc/sub/QC1.md");
  size_t len;
  char *text = read_all(q077, &len);
  char *p = strstr(text, "how do we build one?");
  CHECK(p != NULL);
  if (p) memcpy(p, "how do we audit one?", 20);
  write_file(q077, text);
  free(text);
  write_file(added, "id: QC1\nquery: What is a risk register?\n---\nA register of risks.\n");
  unlink(pb);
  CHECK_INT(build(corpus, inc, 0, 0, &st, &d), 0);
  CHECK_INT(st.cards, n);
  CHECK_INT(st.reused, n - 2);
  CHECK_INT(st.parsed, 2);
  CHECK_INT(st.removed, 1);

  /* Same size, same mtime, other bytes: the hash decides, not the mtime. */
  struct stat sa;
  stat(pa, &sa);
  text = read_all(pa, &len);
  p = strstr(text, "access control");
  if (p) memcpy(p, "access cantrol", 14);
  write_file(pa, text);
  free(text);
  struct timespec times[2] = {sa.st_atim, sa.st_mtim};
  utimensat(AT_FDCWD, pa, times, 0);
  CHECK_INT(build(corpus, inc, 0, 0, &st, &d), 0);
  CHECK_INT(st.parsed, 1);
  CHECK_INT(st.reused, n - 1);
  sqlite3 *db = open_ro(inc);
  CHECK_INT(scalar(db, "SELECT count(*) FROM fts WHERE fts MATCH 'cantrol'"), 1);
  CHECK_INT(scalar(db, "SELECT count(*) FROM fts JOIN cards c ON c.rowid = fts.rowid"
                       " WHERE fts MATCH 'audit' AND c.id = 'Q077'"), 1);
  CHECK_INT(scalar(db, "SELECT count(*) FROM cards WHERE id = 'QB1'"), 0);
  sqlite3_close(db);

  CHECK_INT(build(corpus, full, 1, 0, &st, &d), 0);
  CHECK_INT(st.reused, 0);
  CHECK_INT(st.parsed, n);
  char *a = dump_all(inc), *b = dump_all(full);
  CHECK(strcmp(a, b) == 0);
  if (strcmp(a, b) != 0) first_difference(a, b);
  free(a);
  free(b);
  a = fts_results(inc);
  b = fts_results(full);
  CHECK(strcmp(a, b) == 0);
  CHECK(strstr(a, "Q077") != NULL);
  free(a);
  free(b);
  cx_diags_destroy(&d);
  free(corpus), free(inc), free(full), free(pa), free(pb), free(sub), free(q077), free(added);
}

/* Strict: an error writes nothing and leaves the old index byte for byte. */
static void test_strict_and_keep_going(void) {
  char *corpus = path_of("strict"), *out = path_of("strict.db");
  mkdir(corpus, 0777);
  char *pa = path_of("strict/QA1.md"), *pb = path_of("strict/QB1.md"),
       *bad = path_of("strict/bad.md");
  write_file(pa, card_a);
  write_file(pb, card_b);
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), 0);
  size_t len0, len1;
  char *before = read_all(out, &len0);

  write_file(bad, "query: no id here\n---\nbody\n");
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), CX_EPARSE);
  CHECK(d.nerrors >= 1);
  CHECK(has_diag(&d, "strict/bad.md", -1, -1, ""));
  char *after = read_all(out, &len1);
  CHECK(len0 == len1 && memcmp(before, after, len0) == 0);
  free(after);
  CHECK_INT(count_temps(tmpdir), 0);

  /* keep_going: the good cards are written, the bad one is listed. */
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 1, &st, &d), CX_EPARTIAL);
  CHECK_INT(st.cards, 2);
  CHECK_INT(st.errors, d.nerrors);
  sqlite3 *db = open_ro(out);
  CHECK_INT(scalar(db, "SELECT count(*) FROM cards"), 2);
  CHECK_INT(scalar(db, "SELECT count(*) FROM files WHERE card IS NULL AND path LIKE '%bad.md'"), 1);
  sqlite3_close(db);
  CHECK_INT(count_temps(tmpdir), 0);

  /* A file that is not an index is never replaced. */
  char *notes = path_of("notes.txt");
  write_file(notes, "my notes, not an index\n");
  unlink(bad);
  const char *paths[] = {corpus};
  cx_err err = {0};
  CHECK_INT(cx_index_build(paths, 1, notes, NULL, NULL, NULL, &err), CX_EINVAL);
  CHECK(strstr(err.msg, "not a cardex index") != NULL);
  char *kept = read_all(notes, NULL);
  CHECK(kept && strcmp(kept, "my notes, not an index\n") == 0);
  free(kept);

  free(before);
  cx_diags_destroy(&d);
  free(corpus), free(out), free(pa), free(pb), free(bad), free(notes);
}

static void test_duplicates_and_check(void) {
  char *corpus = path_of("dup"), *out = path_of("dup.db");
  mkdir(corpus, 0777);
  char *orig = path_of("dup/Q077.md"), *copy = path_of("dup/a.md"),
       *unknown = path_of("dup/QU1.md"), *bad1 = path_of("dup/bad1.md"),
       *bad2 = path_of("dup/bad2.md");
  size_t len;
  char *text = read_all(CX_SOURCE_DIR "/seeds/Q077.md", &len);
  CHECK(text != NULL);
  write_file(orig, text);
  write_file(copy, text);
  free(text);
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  /* "Q077.md" sorts before "a.md" (byte order): a.md is the duplicate. */
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), CX_EPARSE);
  CHECK(has_diag(&d, "dup/a.md", 1, 5, "duplicate id Q077"));
  CHECK(has_diag(&d, "dup/a.md", 1, 5, "dup/Q077.md"));
  CHECK(access(out, F_OK) != 0);
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 1, &st, &d), CX_EPARTIAL);
  CHECK_INT(st.cards, 1);

  /* check: every error of every file in one run, warnings for unknown keys,
   * dangling links as errors. */
  write_file(unknown, "id: QU1\nquery: Why?\ncolour: blue\n---\nBecause.\n");
  write_file(bad1, "id: [QX]\nquery: list id\n---\nbody\n");
  write_file(bad2, "id: QY\n---\nno query\n");
  cx_diags_destroy(&d);
  const char *paths[] = {corpus};
  cx_err err = {0};
  CHECK_INT(cx_check(paths, 1, NULL, &st, &d, &err), CX_EPARSE);
  CHECK(has_diag(&d, "dup/a.md", 1, 5, "duplicate id Q077"));
  CHECK(has_diag(&d, "dup/bad1.md", -1, -1, ""));
  CHECK(has_diag(&d, "dup/bad2.md", -1, -1, ""));
  CHECK(has_diag(&d, "dup/Q077.md", -1, -1, "dangling link"));
  /* Column in characters: the two curly quotes before it are 3 bytes each. */
  CHECK(has_diag(&d, "dup/Q077.md", 60, 46, "Q081"));
  CHECK(has_diag(&d, "dup/QU1.md", -1, -1, "colour"));
  CHECK(d.nerrors >= 4);
  CHECK(d.nwarnings >= 1);
  CHECK_INT(st.errors, d.nerrors);
  CHECK(access(out, F_OK) == 0); /* from the keep-going build; check writes nothing */

  cx_diags_destroy(&d);
  free(corpus), free(out), free(orig), free(copy), free(unknown), free(bad1), free(bad2);
}

static void test_synonyms(void) {
  char *corpus = path_of("syn"), *out = path_of("syn.db"), *syn = path_of("syn/synonyms.yaml");
  char *card = path_of("syn/QB1.md");
  mkdir(corpus, 0777);
  write_file(card, card_b);
  write_file(syn, "# groups\n- [ISMS, information security management system]\n"
                  "- - DPIA\n  - data protection impact assessment\n  - privacy impact assessment\n");
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), 0);
  sqlite3 *db = open_ro(out);
  char *r = rows(db, "SELECT grp, term FROM synonyms ORDER BY rowid");
  CHECK(strcmp(r, "1|ISMS\n1|information security management system\n2|DPIA\n"
                  "2|data protection impact assessment\n2|privacy impact assessment\n") == 0);
  free(r);
  sqlite3_close(db);

  size_t len0, len1;
  char *before = read_all(out, &len0);
  write_file(syn, "- [ISMS, information security management system]\n- just a string\n");
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), CX_EPARSE);
  CHECK(has_diag(&d, "syn/synonyms.yaml", 2, 3, "expected a group"));
  write_file(syn, "- [ISMS, information security\n");
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), CX_EPARSE);
  CHECK(d.nerrors == 1 && d.v[0].line >= 1 && d.v[0].col >= 1);
  write_file(syn, "- [ISMS]\n");
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), CX_EPARSE);
  CHECK(has_diag(&d, "syn/synonyms.yaml", 1, 3, "at least two terms"));
  char *after = read_all(out, &len1);
  CHECK(len0 == len1 && memcmp(before, after, len0) == 0);
  free(before);
  free(after);
  cx_diags_destroy(&d);
  free(corpus), free(out), free(syn), free(card);
}

/* Walking: README.md and hidden entries skipped, symlink loops ended, a hard
 * link to a card listed once (a full build's walk knows it by readdir's inode
 * number, without a stat), a file named explicitly read whatever its
 * extension, stale temp files removed. */
static void test_walk_and_temps(void) {
  char *corpus = path_of("walk"), *out = path_of("walk.db");
  char *sub = path_of("walk/sub"), *loop = path_of("walk/sub/loop"),
       *readme = path_of("walk/README.md"), *hidden = path_of("walk/.hidden.md"),
       *txt = path_of("card.txt"), *pa = path_of("walk/sub/QA1.md");
  mkdir(corpus, 0777);
  mkdir(sub, 0777);
  write_file(pa, card_a);
  write_file(readme, "# not a card\n");
  write_file(hidden, "not a card either\n");
  CHECK(symlink("..", loop) == 0);
  char *hard = path_of("walk/sub/QA2.md");
  CHECK(link(pa, hard) == 0);
  write_file(txt, card_b);

  /* A temp file of a build whose process is gone, and one of a live process.
   * The dead pid is one above Linux's largest possible pid (PID_MAX_LIMIT,
   * 2^22): an exited child's pid could be reused by the time the build looks
   * (pid_max is often 32768 and a busy machine forks a lot). */
  const long gone = 4194305L;
  char dead[512], live[512], dead_fts[512], dead_fts_journal[512], live_fts[512];
  snprintf(dead, sizeof dead, "%s.tmp-%ld.0", out, gone);
  snprintf(live, sizeof live, "%s.tmp-%ld", out, (long)getppid());
  /* and the FTS thread's scratch databases (store.c) */
  snprintf(dead_fts, sizeof dead_fts, "%s.tmp-%ld.1-fts", out, gone);
  snprintf(dead_fts_journal, sizeof dead_fts_journal, "%s.tmp-%ld.1-fts-journal", out, gone);
  snprintf(live_fts, sizeof live_fts, "%s.tmp-%ld.2-fts", out, (long)getppid());
  write_file(dead, "garbage of a killed build");
  write_file(live, "a build in progress");
  write_file(dead_fts, "full-text rows of a killed build");
  write_file(dead_fts_journal, "its journal");
  write_file(live_fts, "full-text rows of a build in progress");

  const char *paths[] = {corpus, txt};
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  cx_err err = {0};
  CHECK_INT(cx_index_build(paths, 2, out, NULL, &st, &d, &err), 0);
  CHECK_INT(st.files, 2);
  CHECK_INT(st.cards, 2);
  CHECK(access(dead, F_OK) != 0);
  CHECK(access(live, F_OK) == 0);
  CHECK(access(dead_fts, F_OK) != 0);
  CHECK(access(dead_fts_journal, F_OK) != 0);
  CHECK(access(live_fts, F_OK) == 0);
  unlink(live);
  unlink(live_fts);
  sqlite3 *db = open_ro(out);
  char *r = rows(db, "SELECT path FROM files ORDER BY rowid");
  cx__buf want;
  cx__buf_init(&want);
  cx__buf_printf(&want, "%s/walk/sub/QA1.md\n%s/card.txt\n", tmpdir, tmpdir);
  CHECK(strcmp(r, want.p) == 0);
  cx__buf_destroy(&want);
  free(r);
  sqlite3_close(db);
  cx_diags_destroy(&d);
  free(corpus), free(out), free(sub), free(loop), free(readme), free(hidden), free(txt), free(pa);
  free(hard);
}

/* A damaged old index is not needed: the build falls back to a full one. */
static void test_corrupt_old(void) {
  char *corpus = path_of("corrupt"), *out = path_of("corrupt.db"), *full = path_of("corrupt-full.db");
  size_t n = copy_cards(CX_SOURCE_DIR "/seeds", corpus);
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), 0);
  /* Garbage over the second half of the file, the first pages (meta, files) intact. */
  struct stat sb;
  stat(out, &sb);
  int fd = open(out, O_WRONLY);
  char junk[4096];
  memset(junk, 0xA5, sizeof junk);
  for (off_t off = sb.st_size / 2; off + (off_t)sizeof junk <= sb.st_size; off += 3 * 4096)
    CHECK(pwrite(fd, junk, sizeof junk, off) == (ssize_t)sizeof junk);
  close(fd);
  char *card = path_of("corrupt/Q077.md");
  FILE *f = fopen(card, "a");
  fputs("\n", f);
  fclose(f);
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, out, 0, 0, &st, &d), 0);
  CHECK_INT(st.cards, n);
  if (st.reused == 0) CHECK(has_diag(&d, "corrupt.db", -1, -1, "could not be reused"));
  sqlite3 *db = open_ro(out);
  char *r = rows(db, "PRAGMA integrity_check");
  CHECK(strcmp(r, "ok\n") == 0);
  free(r);
  sqlite3_close(db);
  cx_diags_destroy(&d);
  CHECK_INT(build(corpus, full, 1, 0, &st, &d), 0);
  char *a = dump_all(out), *b = dump_all(full);
  CHECK(strcmp(a, b) == 0);
  free(a), free(b);
  CHECK_INT(count_temps(tmpdir), 0);
  cx_diags_destroy(&d);
  free(corpus), free(out), free(full), free(card);
}

/* The engine's tables are made from term counts taken in the parser threads;
 * cx__engine_post_build without those counts makes them again from FTS5's own
 * vocabulary (an fts5vocab scan, the way they were first made). Both must give
 * the same rows. */
static void test_postings_oracle(void) {
  char *corpus = path_of("oracle"), *out = path_of("oracle.db");
  CHECK(copy_cards(CX_SOURCE_DIR "/seeds", corpus) > 0);
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  CHECK_INT(build(corpus, out, 1, 0, &st, &d), 0);
  static const char *const sql[] = {"SELECT term, df, maxq, data FROM cx_postings ORDER BY term",
                                    "SELECT word, stem, df FROM cx_words ORDER BY word"};
  sqlite3 *db = NULL;
  CHECK(sqlite3_open(out, &db) == SQLITE_OK);
  char *built[2], *again[2];
  for (int i = 0; i < 2; i++) built[i] = rows(db, sql[i]);
  cx_err err = {0};
  CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
  CHECK_INT(cx__engine_post_build(db, &err), 0);
  CHECK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
  for (int i = 0; i < 2; i++) {
    again[i] = rows(db, sql[i]);
    CHECK(strlen(built[i]) > 1000 && strcmp(built[i], again[i]) == 0);
    if (strcmp(built[i], again[i]) != 0) first_difference(built[i], again[i]);
    free(built[i]);
    free(again[i]);
  }
  sqlite3_close(db);
  cx_diags_destroy(&d);
  free(corpus);
  free(out);
}

/* ---- the FTS thread (store.c) ---- */

/* Cards of generated prose beside the seeds: more text than one batch the
 * writer hands to the FTS thread (FTS_BATCH_BYTES, 1 MiB), so that rows go
 * over in several batches. */
static void write_generated_cards(const char *dir, int n) {
  static const char *const words[] = {
      "access",  "control", "policy",    "supplier", "audit",    "risk",    "register",
      "breach",  "notify",  "encryption", "backup",  "incident", "review",  "evidence",
      "privacy", "consent", "retention", "training", "vendor",   "asset",   "clause",
      "annex",   "logging", "monitoring", "key",     "identity", "session", "network"};
  size_t nw = sizeof words / sizeof *words;
  mkdir(dir, 0777);
  unsigned x = 12345;
  for (int i = 0; i < n; i++) {
    cx__buf b;
    cx__buf_init(&b);
    cx__buf_printf(&b, "id: QG%04d\nquery: How do we %s the %s %s number %d?\n---\n", i,
                   words[i % nw], words[(i / 3) % nw], words[(i / 7) % nw], i);
    for (int para = 0; para < 6; para++) {
      cx__buf_puts(&b, "\n");
      for (int w = 0; w < 90; w++) {
        x = x * 1103515245u + 12345u;
        cx__buf_printf(&b, "%s%s", w ? " " : "", words[(x >> 16) % nw]);
      }
      cx__buf_puts(&b, ".\n");
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/QG%04d.md", dir, i);
    write_file(path, b.p);
    cx__buf_destroy(&b);
  }
}

/* The rows of a query on the database at path, with setup SQL run first. */
static char *rows_of(const char *path, const char *setup, const char *sql) {
  sqlite3 *db = NULL;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  if (setup) CHECK(sqlite3_exec(db, setup, NULL, NULL, NULL) == SQLITE_OK);
  char *r = rows(db, sql);
  sqlite3_close(db);
  return r;
}

/* The builder inserts the FTS rows on a thread of its own into a scratch
 * database and copies FTS5's shadow tables into the index. The index must be
 * the one a single connection makes from the same rows: FTS5's integrity
 * check passes, the vocabulary (every term's every instance), the document
 * sizes, the settings (hashsize) and the query results are the same; the
 * post-build's phrase queries, run on the builder's connection after the
 * copy, see the copied index; no scratch file is left. */
static void test_fts_thread(void) {
  char *corpus = path_of("ftsq"), *gen = path_of("ftsq/generated"), *out = path_of("ftsq.db"),
       *ref = path_of("ftsq-ref.db");
  CHECK(copy_cards(CX_SOURCE_DIR "/seeds", corpus) > 0);
  write_generated_cards(gen, 700);
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  CHECK_INT(build(corpus, out, 1, 0, &st, &d), 0);
  CHECK(st.cards > 700);
  CHECK_INT(count_temps(tmpdir), 0);
  sqlite3 *db = NULL;
  CHECK(sqlite3_open(out, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "INSERT INTO fts(fts) VALUES('integrity-check')", NULL, NULL, NULL) ==
        SQLITE_OK);
  CHECK(scalar(db, "SELECT sum(length(c1) + length(c2) + length(c3) + length(c0))"
                   " FROM fts_content") > (2 << 20));
  CHECK_INT(scalar(db, "SELECT v FROM fts_config WHERE k = 'hashsize'"),
            strtoll(CX__FTS_HASHSIZE, NULL, 10));
  CHECK_INT(scalar(db, "SELECT count(*) FROM fts"), st.cards);
  sqlite3_close(db);

  /* The reference: the same rows, inserted in rowid order on one connection. */
  unlink(ref);
  CHECK(sqlite3_open(ref, &db) == SQLITE_OK);
  char *attach = sqlite3_mprintf("ATTACH %Q AS built", out);
  CHECK(sqlite3_exec(db, "PRAGMA page_size=" CX__PAGE_SIZE ";" CX__FTS_SQL CX__FTS_HASHSIZE_SQL,
                     NULL, NULL, NULL) == SQLITE_OK);
  CHECK(sqlite3_exec(db, attach, NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_free(attach);
  sqlite3_stmt *q, *ins;
  CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db, "SELECT rowid, question, tags, answer, sources FROM built.fts"
                           " ORDER BY rowid", -1, &q, NULL) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db, "INSERT INTO main.fts(rowid, question, tags, answer, sources)"
                           " VALUES(?,?,?,?,?)", -1, &ins, NULL) == SQLITE_OK);
  while (sqlite3_step(q) == SQLITE_ROW) {
    for (int c = 0; c < 5; c++) sqlite3_bind_value(ins, c + 1, sqlite3_column_value(q, c));
    CHECK_INT(sqlite3_step(ins), SQLITE_DONE);
    sqlite3_reset(ins);
  }
  sqlite3_finalize(q);
  sqlite3_finalize(ins);
  CHECK(sqlite3_exec(db, "COMMIT; DETACH built", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);

  static const char vocab[] = "CREATE VIRTUAL TABLE temp.vi USING fts5vocab(main, fts, instance);";
  static const char *const same[] = {
      "SELECT term, doc, col, offset FROM vi ORDER BY term, doc, col, offset",
      "SELECT id, sz FROM fts_docsize ORDER BY id",
      "SELECT k, v FROM fts_config ORDER BY k",
      "SELECT rowid FROM fts WHERE fts MATCH 'access AND control' ORDER BY rowid",
      "SELECT rowid, round(bm25(fts), 6) FROM fts WHERE fts MATCH 'supplier OR isms'"
      " ORDER BY bm25(fts), rowid",
      "SELECT rowid FROM fts WHERE fts MATCH '\"information security\"' ORDER BY rowid",
      "SELECT rowid FROM fts WHERE fts MATCH 'enc*' ORDER BY rowid",
      "SELECT rowid, highlight(fts, 2, '[', ']') FROM fts WHERE fts MATCH 'retention'"
      " ORDER BY rowid LIMIT 20"};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    char *a = rows_of(out, vocab, same[i]), *b = rows_of(ref, vocab, same[i]);
    CHECK(strlen(a) > 0 && strncmp(a, "error", 5) != 0);
    if (strcmp(a, b) != 0) {
      fprintf(stderr, "%s: the built index and the reference differ\n", same[i]);
      first_difference(a, b);
      failures++;
    }
    free(a);
    free(b);
  }

  /* The phrase postings (FTS5 phrase queries in the builder's post-build) are
   * those of the whole index, as a fresh connection computes them. */
  static const char phrases[] =
      "SELECT term, df, maxq, data FROM cx_postings WHERE term LIKE '% %' ORDER BY term";
  char *built = rows_of(out, NULL, phrases);
  CHECK(strlen(built) > 100);
  CHECK(sqlite3_open(out, &db) == SQLITE_OK);
  cx_err err = {0};
  CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
  CHECK_INT(cx__engine_post_build(db, &err), 0);
  CHECK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
  char *again = rows(db, phrases);
  CHECK(strcmp(built, again) == 0);
  free(built);
  free(again);
  sqlite3_close(db);
  cx_diags_destroy(&d);
  free(corpus), free(gen), free(out), free(ref);
}

/* A test VFS over the default one: writes to a file whose name ends in
 * "-fts" (the FTS thread's scratch database) past its first 64 KiB fail as
 * on a full disk. The file's own methods are kept after the base file. */
static sqlite3_vfs *base_vfs, full_vfs;
static sqlite3_io_methods full_methods;
static const sqlite3_io_methods *base_methods;

static int full_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off) {
  if (off + n > (64 << 10)) return SQLITE_FULL;
  return base_methods->xWrite(f, p, n, off);
}

static int full_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                     int *out_flags) {
  int rc = base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
  size_t len = name ? strlen(name) : 0;
  if (rc == SQLITE_OK && f->pMethods && len > 4 && strcmp(name + len - 4, "-fts") == 0) {
    base_methods = f->pMethods;
    full_methods = *f->pMethods;
    full_methods.xWrite = full_write;
    f->pMethods = &full_methods;
  }
  return rc;
}

/* The FTS thread fails (its disk is full): the build fails with an error
 * that names the scratch file and says what to do, the old index is left as
 * it was, and neither the temp file nor the scratch database is left. */
static void test_fts_thread_failure(void) {
  char *corpus = path_of("ftsfail"), *out = path_of("ftsfail.db");
  CHECK(copy_cards(CX_SOURCE_DIR "/seeds", corpus) > 0);
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  CHECK_INT(build(corpus, out, 1, 0, &st, &d), 0);
  size_t len0;
  char *before = read_all(out, &len0);
  char *added = path_of("ftsfail/QZ1.md");
  write_file(added, "id: QZ1\nquery: What is new?\n---\nSomething new.\n");

  base_vfs = sqlite3_vfs_find(NULL);
  full_vfs = *base_vfs;
  full_vfs.zName = "cx-test-full";
  full_vfs.xOpen = full_open;
  CHECK(sqlite3_vfs_register(&full_vfs, 1) == SQLITE_OK);
  const char *paths[] = {corpus};
  cx_build_opts o;
  memset(&o, 0, sizeof o);
  o.threads = 2;
  cx_err err = {0};
  int rc = cx_index_build(paths, 1, out, &o, &st, &d, &err);
  sqlite3_vfs_register(base_vfs, 1);
  sqlite3_vfs_unregister(&full_vfs);

  CHECK_INT(rc, CX_EIO);
  CHECK(strstr(err.msg, ".tmp-") && strstr(err.msg, "-fts: "));
  CHECK(strstr(err.msg, "free some disk space") != NULL);
  if (rc != CX_EIO) fprintf(stderr, "  error: %s\n", err.msg);
  size_t len1;
  char *after = read_all(out, &len1);
  CHECK(len0 == len1 && memcmp(before, after, len0) == 0);
  CHECK_INT(count_temps(tmpdir), 0);
  free(before);
  free(after);
  cx_diags_destroy(&d);
  free(corpus), free(out), free(added);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cx-test-index-XXXXXX");
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  test_seeds();
  test_incremental();
  test_strict_and_keep_going();
  test_duplicates_and_check();
  test_synonyms();
  test_walk_and_temps();
  test_corrupt_old();
  test_postings_oracle();
  test_fts_thread();
  test_fts_thread_failure();
  if (failures == 0) remove_tree(tmpdir);
  else fprintf(stderr, "test_index: %d failures (files kept in %s)\n", failures, tmpdir);
  return failures ? 1 : 0;
}
