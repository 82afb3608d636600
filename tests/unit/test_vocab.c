/* test_vocab.c — handles on one index file share its vocabulary; a file replaced at the same path gets its own. */
#include "../../index/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cx_test.h"

/* A one-card corpus in dir whose answer holds word, indexed into db. */
static int build(const char *dir, const char *word, const char *db) {
  char path[512];
  snprintf(path, sizeof path, "%s/card.md", dir);
  FILE *f = fopen(path, "w");
  if (f == NULL) return -1;
  fprintf(f, "id: Q1\nquery: \"What is the rule for %s?\"\n---\n**Plain-English answer**\n\n"
             "Every %s is reviewed yearly by the owner.\n", word, word);
  fclose(f);
  const char *paths[] = {dir};
  cx_build_opts opts = {0};
  cx_build_stats st = {0};
  cx_diags diags;
  cx_diags_init(&diags);
  cx_err err = {0};
  int rc = cx_index_build(paths, 1, db, &opts, &st, &diags, &err);
  cx_diags_destroy(&diags);
  if (rc != 0) fprintf(stderr, "build %s: %s\n", db, err.msg);
  return rc;
}

/* Whether ix's vocabulary has word; loads it (as a typo lookup would). */
static int knows(cx_index *ix, const char *word) {
  if (cx__load_words(ix) != 0) return 0;
  for (size_t i = 0; i < ix->nwords; i++)
    if (strcmp(ix->words[i].word, word) == 0) return 1;
  return 0;
}

/* A misspelt query still finds the card: the vocabulary is usable. */
static int finds(cx_index *ix, const char *query) {
  cx_search_req req = {.query = query, .limit = 5};
  json_t *res = NULL;
  cx_err err = {0};
  if (cx_search(ix, &req, &res, &err) != 0) return 0;
  json_t *hits = json_object_get(res, "hits");
  int ok = json_array_size(hits) == 1 &&
           strcmp(json_string_value(json_object_get(json_array_get(hits, 0), "id")), "Q1") == 0;
  json_decref(res);
  return ok;
}

int main(void) {
  char dir[] = "/tmp/cardex-test-vocab-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  char db[600], next[600];
  snprintf(db, sizeof db, "%s/index.db", dir);
  snprintf(next, sizeof next, "%s/next.db", dir);
  char cards[600];
  snprintf(cards, sizeof cards, "%s/cards", dir);
  if (mkdir(cards, 0700) != 0) return 1;
  if (build(cards, "zanzibarite", db) != 0) return 1;

  cx_index *a = NULL, *b = NULL, *c = NULL;
  cx_err err = {0};
  CHECK(cx_index_open(db, &a, &err) == 0 && cx_index_open(db, &b, &err) == 0, "open: %s", err.msg);
  if (a == NULL || b == NULL) return 1;
  CHECK(knows(a, "zanzibarite") && knows(b, "zanzibarite"), "both handles know the word");
  CHECK(a->words == b->words, "two handles on one file share one vocabulary");
  CHECK(finds(b, "zanzibarrite"), "typo found through the shared vocabulary");
  cx_index_close(a); /* b keeps the shared copy alive (ASan: no use after free) */
  CHECK(finds(b, "zanzibarrite") && knows(b, "zanzibarite"), "after the other handle closed");

  /* A new index renamed over the path, as the builder and cardexd do. */
  if (build(cards, "quokkaberry", next) != 0 || rename(next, db) != 0) return 1;
  CHECK(cx_index_open(db, &c, &err) == 0, "open the new file: %s", err.msg);
  if (c == NULL) return 1;
  CHECK(knows(c, "quokkaberry") && !knows(c, "zanzibarite"), "the new file has its own words");
  CHECK(c->words != b->words, "a replaced file does not reuse the old vocabulary");
  CHECK(finds(c, "quokkabery") && finds(b, "zanzibarrite"), "each handle searches its own file");
  cx_index_close(b);
  cx_index_close(c);

  char path[700];
  snprintf(path, sizeof path, "%s/card.md", cards);
  unlink(path);
  rmdir(cards);
  unlink(db);
  rmdir(dir);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
