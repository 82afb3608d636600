/* test_build_hits.c — the builder's cx_hits rows equal the query engine's rows derived from the stored cards. */
#include "../../index/engine_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cx_test.h"

static char tmpdir[] = "/tmp/cx-test-build-hits-XXXXXX";

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  fputs(text, f);
  fclose(f);
}

/* Every row of a cx_hits table, one per line, NULLs told apart from ''. */
static char *dump_hits(sqlite3 *db, const char *schema, size_t *rows) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT rowid, hit, quote(plain), quote(others) FROM %s.cx_hits "
           "ORDER BY rowid", schema);
  sqlite3_stmt *st;
  cx__buf b;
  cx__buf_init(&b);
  *rows = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    failures++;
    return cx__buf_detach(&b);
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    cx__buf_printf(&b, "%lld|%s|%s|%s\n", (long long)sqlite3_column_int64(st, 0),
                   (const char *)sqlite3_column_text(st, 1),
                   (const char *)sqlite3_column_text(st, 2),
                   (const char *)sqlite3_column_text(st, 3));
    (*rows)++;
  }
  sqlite3_finalize(st);
  return cx__buf_detach(&b);
}

int main(void) {
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  char corpus[256], out[256];
  snprintf(corpus, sizeof corpus, "%s/cards", tmpdir);
  snprintf(out, sizeof out, "%s/index.db", tmpdir);
  mkdir(corpus, 0777);
  /* The edge cases of the plain and others columns: no sections at all, a
   * differently cased answer lead, only Sources, two answer sections, an
   * empty section, no title. */
  write_file(corpus, "QH1.md", "id: QH1\nquery: What is a bare card?\n---\n");
  write_file(corpus, "QH2.md",
             "id: QH2\nquery: Which lead case?\ntitle: Lead case\n---\n"
             "**PLAIN-english Answer**  \nCase does not matter.\n\n"
             "**Standard terms**  \n- term one\n\n**Sources**  \n- a source\n");
  write_file(corpus, "QH3.md",
             "id: QH3\nquery: Only sources?\n---\n**Sources**  \n- ISO/IEC 27001 Clause 4\n");
  write_file(corpus, "QH4.md",
             "id: QH4\nquery: Two answers?\npacks: [\"ISO27001:2022\"]\n"
             "primary_ids: [\"ISO27001:2022/A.5.15\"]\n"
             "ui:\n  actions:\n    - type: \"start_workflow\"\n      target: \"t\"\n"
             "      label: \"Go\"\n"
             "---\n**Plain-English answer**  \nFirst.\n\n**Empty**  \n\n"
             "**Plain-English answer**  \nSecond.\n\n## A heading\n\nUnder it.\n");
  write_file(corpus, "QH5.md", "id: QH5\nquery: Text without any lead?\n---\nJust text.\n");

  const char *paths[] = {CX_SOURCE_DIR "/seeds", corpus};
  cx_build_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.full = 1;
  cx_build_stats stats;
  cx_diags diags;
  cx_diags_init(&diags);
  cx_err err = {0};
  int rc = cx_index_build(paths, 2, out, &opts, &stats, &diags, &err);
  CHECK(rc == 0, "build: %d %s", rc, err.msg);
  cx_diags_destroy(&diags);

  sqlite3 *db = NULL;
  CHECK(sqlite3_open(out, &db) == SQLITE_OK, "open %s", out);
  /* The rows the query engine derives from the stored cards, in temp. */
  rc = cx__engine_build_tables(db, "temp", &err);
  CHECK(rc == 0, "engine tables: %d %s", rc, err.msg);
  size_t nmain, ntemp;
  char *built = dump_hits(db, "main", &nmain), *derived = dump_hits(db, "temp", &ntemp);
  CHECK(nmain == stats.cards && nmain > 5, "%zu hit rows for %zu cards", nmain, stats.cards);
  CHECK(ntemp == nmain, "%zu derived rows, %zu built", ntemp, nmain);
  CHECK(strcmp(built, derived) == 0, "built and derived cx_hits differ");
  if (strcmp(built, derived) != 0) {
    const char *a = built, *b = derived;
    while (*a && *a == *b) a++, b++;
    while (a > built && a[-1] != '\n') a--, b--;
    fprintf(stderr, "built:   %.300s\nderived: %.300s\n", a, b);
  }
  /* The edge cases came out as the stored rows say. */
  CHECK(strstr(built, "|'Case does not matter.'|") != NULL, "nocase answer lead");
  CHECK(strstr(built, "|'First.'|") != NULL, "first of two answers");
  free(built);
  free(derived);
  sqlite3_close(db);

  if (failures == 0) {
    unlink(out);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("test_build_hits: ok\n");
    return 0;
  }
  fprintf(stderr, "test_build_hits: %d failures (files kept in %s)\n", failures, tmpdir);
  return 1;
}
