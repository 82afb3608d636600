/* test_seeds.c — the shipped corpus: every card parses without warnings, packs have their
 * sizes, ids are unique, every follow-up link resolves, and tests/eval/ is well formed. */
#include "cardex.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cx_test.h"

#define MAX_CARDS 4096

static cx_card *cards[MAX_CARDS];
static size_t ncards;

static const cx_card *find(const char *id) {
  for (size_t i = 0; i < ncards; i++)
    if (strcmp(cards[i]->id, id) == 0) return cards[i];
  return NULL;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static void load_seeds(const char *dir) {
  struct dirent **names;
  int n = scandir(dir, &names, NULL, by_name);
  CHECK(n > 0, "cannot read %s", dir);
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    size_t len = strlen(name);
    if (len > 3 && strcmp(name + len - 3, ".md") == 0 && strcmp(name, "README.md") != 0 &&
        ncards < MAX_CARDS) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", dir, name);
      cx_diags d;
      cx_diags_init(&d);
      cx_card *c = NULL;
      int rc = cx_card_load(path, NULL, &c, &d);
      if (d.n) cx_diags_print(&d, stderr);
      CHECK(rc == 0 && c != NULL, "%s does not parse", path);
      CHECK(d.nwarnings == 0, "%s has %zu warnings", path, d.nwarnings);
      if (c) {
        /* The file is named after its id. */
        CHECK(strncmp(name, c->id, strlen(c->id)) == 0 && name[strlen(c->id)] == '.',
              "%s holds card %s", path, c->id);
        CHECK(find(c->id) == NULL, "duplicate id %s (%s)", c->id, path);
        CHECK(c->nsections == 8, "%s has %zu sections, want the original's 8", path, c->nsections);
        CHECK(c->title != NULL && c->number > 0, "%s has no \"### N) question\" heading", path);
        cards[ncards++] = c;
      }
      cx_diags_destroy(&d);
    }
    free(names[i]);
  }
  free(names);
}

static int has(const cx_strv *v, const char *s) {
  for (size_t i = 0; i < v->n; i++)
    if (strcmp(v->v[i], s) == 0) return 1;
  return 0;
}

static size_t count_pack(const char *pack) {
  size_t k = 0;
  for (size_t i = 0; i < ncards; i++)
    for (size_t j = 0; j < cards[i]->packs.n; j++)
      if (strcmp(cards[i]->packs.v[j], pack) == 0) k++;
  return k;
}

/* Every line of tests/eval/ *.tsv files: category, an existing id (or - with none), a query. */
static void check_eval(const char *dir) {
  static const char *const categories[] = {"paraphrase", "keyword", "acronym",
                                           "typo",       "clause",  "none"};
  size_t per_cat[6] = {0}, total = 0;
  struct dirent **names;
  int n = scandir(dir, &names, NULL, by_name);
  CHECK(n > 0, "cannot read %s", dir);
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, ".tsv") == 0) {
      char path[4096], line[8192];
      snprintf(path, sizeof path, "%s/%s", dir, name);
      FILE *f = fopen(path, "r");
      CHECK(f != NULL, "cannot open %s", path);
      int lineno = 0;
      while (f && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#') continue;
        char *cat = line, *id = strchr(cat, '\t'), *q = id ? strchr(id + 1, '\t') : NULL;
        CHECK(id && q && !strchr(q + 1, '\t'), "%s:%d: want category<TAB>id<TAB>query", path,
              lineno);
        if (!(id && q)) continue;
        *id++ = '\0';
        *q++ = '\0';
        int c = -1;
        for (int k = 0; k < 6; k++)
          if (strcmp(cat, categories[k]) == 0) c = k;
        CHECK(c >= 0, "%s:%d: unknown category %s", path, lineno, cat);
        if (c < 0) continue;
        per_cat[c]++;
        total++;
        CHECK(*q != '\0', "%s:%d: empty query", path, lineno);
        if (c == 5) CHECK(strcmp(id, "-") == 0, "%s:%d: a none question expects -", path, lineno);
        else CHECK(find(id) != NULL, "%s:%d: no card %s", path, lineno, id);
      }
      if (f) fclose(f);
    }
    free(names[i]);
  }
  free(names);
  printf("eval: %zu questions (", total);
  for (int k = 0; k < 6; k++) printf("%s%s %zu", k ? ", " : "", categories[k], per_cat[k]);
  printf(")\n");
  CHECK(total >= 200, "tests/eval has %zu questions, want at least 200", total);
  for (int k = 0; k < 6; k++) CHECK(per_cat[k] >= 10, "few %s questions: %zu", categories[k], per_cat[k]);
}

int main(void) {
  load_seeds(CX_SOURCE_DIR "/seeds");
  printf("seeds: %zu cards\n", ncards);
  CHECK(ncards >= 120, "seeds/ has %zu cards, want at least 120", ncards);

  /* The original card, verbatim, as Q077; and Q081 answers what it promises. */
  const cx_card *q077 = find("Q077");
  CHECK(q077 && q077->number == 77, "Q077 is missing");
  CHECK(q077 && has(&q077->links, "Q081"), "Q077 does not link Q081");
  const cx_card *q081 = find("Q081");
  CHECK(q081 && strstr(q081->query, "documents") && strstr(q081->query, "ISMS"),
        "Q081 must answer \"What documents are part of an ISMS?\"");

  /* Pack sizes: ISO 27001 at least 60, three more packs of at least 15. */
  size_t iso = count_pack("ISO27001:2022");
  printf("packs: ISO27001:2022 %zu, SOC2 %zu, GDPR %zu, NISTCSF:2.0 %zu\n", iso,
         count_pack("SOC2"), count_pack("GDPR"), count_pack("NISTCSF:2.0"));
  CHECK(iso >= 60, "ISO27001:2022 has %zu cards", iso);
  CHECK(count_pack("SOC2") >= 15, "SOC2 pack too small");
  CHECK(count_pack("GDPR") >= 15, "GDPR pack too small");
  CHECK(count_pack("NISTCSF:2.0") >= 15, "NISTCSF:2.0 pack too small");

  /* Every link resolves; ids follow the numbering Q001 onwards. */
  size_t links = 0;
  for (size_t i = 0; i < ncards; i++) {
    const cx_card *c = cards[i];
    CHECK(c->id[0] == 'Q' && strlen(c->id) == 4, "%s: ids are Q001 onwards", c->id);
    CHECK(c->links.n >= 1, "%s has no follow-up link", c->id);
    for (size_t j = 0; j < c->links.n; j++, links++)
      CHECK(find(c->links.v[j]) != NULL, "%s links to missing %s", c->id, c->links.v[j]);
  }
  printf("links: %zu, all resolve\n", links);

  check_eval(CX_SOURCE_DIR "/tests/eval");

  for (size_t i = 0; i < ncards; i++) cx_card_free(cards[i]);
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  return failures ? 1 : 0;
}
