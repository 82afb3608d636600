/* test_card.c — the card parser: the original card, good layouts, and one bad card per reason. */
#include "cardex.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
      failures++;                                                                \
    }                                                                            \
  } while (0)

#define CHECK_STR(got, want) check_str(__FILE__, __LINE__, #got, (got), (want))
#define CHECK_INT(got, want) check_int(__FILE__, __LINE__, #got, (long long)(got), (want))

static void check_str(const char *file, int line, const char *expr, const char *got,
                      const char *want) {
  if (got == NULL && want == NULL) return;
  if (got == NULL || want == NULL || strcmp(got, want) != 0) {
    fprintf(stderr, "%s:%d: %s is %s%s%s, want %s%s%s\n", file, line, expr, got ? "\"" : "",
            got ? got : "NULL", got ? "\"" : "", want ? "\"" : "", want ? want : "NULL",
            want ? "\"" : "");
    failures++;
  }
}

static void check_int(const char *file, int line, const char *expr, long long got,
                      long long want) {
  if (got != want) {
    fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", file, line, expr, got, want);
    failures++;
  }
}

static void check_strv(const char *file, int line, const char *expr, const cx_strv *v,
                       const char *const *want) {
  size_t n = 0;
  while (want[n]) n++;
  if (v->n != n) {
    fprintf(stderr, "%s:%d: %s has %zu items, want %zu\n", file, line, expr, v->n, n);
    failures++;
    return;
  }
  for (size_t i = 0; i < n; i++) check_str(file, line, expr, v->v[i], want[i]);
}
#define CHECK_STRV(v, ...) \
  check_strv(__FILE__, __LINE__, #v, &(v), (const char *const[]){__VA_ARGS__, NULL})

static cx_card *load_good(const char *path, cx_diags *d) {
  cx_card *card = NULL;
  int rc = cx_card_load(path, NULL, &card, d);
  if (rc != 0 || card == NULL) {
    fprintf(stderr, "%s: expected to parse, got %s:\n", path, cx_err_name(rc));
    cx_diags_print(d, stderr);
    failures++;
  }
  return card;
}

static cx_card *good(const char *name, cx_diags *d) {
  char path[4096];
  snprintf(path, sizeof path, "%s/good/%s", CX_TEST_DATA, name);
  return load_good(path, d);
}

static const char *section_text(const cx_card *c, const char *name) {
  const cx_section *s = cx_card_section(c, name);
  return s ? s->text : NULL;
}

static const char *section_md(const cx_card *c, const char *name) {
  const cx_section *s = cx_card_section(c, name);
  return s ? s->markdown : NULL;
}

/* ---- the original card ---- */

static void test_original(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = load_good(CX_SOURCE_DIR "/seeds/Q077.md", &d);
  if (c == NULL) return;
  CHECK_INT(d.n, 0);
  CHECK_STR(c->id, "Q077");
  CHECK_STR(c->query,
            "What is an Information Security Management System and how do we build one?");
  CHECK_STR(c->title,
            "What is an Information Security Management System and how do we build one?");
  CHECK_INT(c->number, 77);
  CHECK_STRV(c->packs, "ISO27001:2022");
  CHECK_STRV(c->primary_ids, "ISO27001:2022/4");
  CHECK_STRV(c->overlap_ids, "ISO27000:2018/3");
  CHECK_STRV(c->capability_tags, "Workflow", "Draft Doc", "Register");
  CHECK_INT(c->flags.n, 0);
  CHECK_INT(c->nsources, 2);
  if (c->nsources == 2) {
    CHECK_STR(c->sources[0].title, "ISO/IEC 27001:2022 \xE2\x80\x94 Context of the Organization");
    CHECK_STR(c->sources[0].id, "ISO27001:2022/4");
    CHECK_STR(c->sources[0].locator, "Clause 4");
    CHECK_STR(c->sources[1].title, "ISO/IEC 27000:2018 \xE2\x80\x94 ISMS Fundamentals");
    CHECK_STR(c->sources[1].id, "ISO27000:2018/3");
    CHECK_STR(c->sources[1].locator, "Clause 3");
  }
  CHECK_STRV(c->cards_hint, "ISMS build wizard");
  CHECK_INT(c->nactions, 1);
  if (c->nactions == 1) {
    CHECK_STR(c->actions[0].type, "start_workflow");
    CHECK_STR(c->actions[0].target, "build_isms");
    CHECK_STR(c->actions[0].label, "Launch ISMS Builder");
  }
  CHECK_STR(c->output_mode, "both");
  CHECK_INT(c->graph_required, 0);
  CHECK_STR(c->notes, "Framework of policies, processes, controls, and roles. @product-taxonomy: "
                      "build_isms is a proposed new workflow slug for guided ISMS creation.");
  CHECK(c->body && strncmp(c->body, "### 77) What is an Information", 30) == 0);
  CHECK(c->body && strstr(c->body, "- ISO/IEC 27000:2018 Clause 3\n") != NULL);
  static const char *const names[] = {"Standard terms", "Plain-English answer", "Applies to",
                                      "Why it matters", "Do next in our platform",
                                      "How our platform will help", "Likely follow-ups",
                                      "Sources"};
  CHECK_INT(c->nsections, 8);
  for (size_t i = 0; i < 8 && i < c->nsections; i++) CHECK_STR(c->sections[i].name, names[i]);
  CHECK_STR(section_text(c, "plain-english ANSWER"),
            "An ISMS is a structured framework of policies, processes, and controls designed to "
            "manage and mitigate information-security risks. You build it by defining scope, "
            "conducting risk assessments, selecting controls, documenting procedures, and "
            "continuously reviewing.");
  CHECK_STR(section_md(c, "Plain-English answer"),
            "An ISMS is a **structured framework** of policies, processes, and controls designed "
            "to manage and mitigate information-security risks. You build it by defining scope, "
            "conducting risk assessments, selecting controls, documenting procedures, and "
            "continuously reviewing.");
  CHECK_STR(section_text(c, "Standard terms"),
            "Context & requirements (ISO 27001 Cl. 4): defines ISMS scope.\n"
            "ISMS definition (ISO 27000 Cl. 3): systematic approach to security.");
  CHECK_STR(section_md(c, "Standard terms"),
            "- **Context & requirements (ISO 27001 Cl. 4):** defines ISMS scope.  \n"
            "- **ISMS definition (ISO 27000 Cl. 3):** systematic approach to security.");
  CHECK_STR(section_text(c, "How our platform will help"),
            "[Workflow] Guided ISMS setup.\n[Draft Doc] Auto-generated policy templates.\n"
            "[Register] Control and asset registers.");
  CHECK_STR(section_md(c, "Likely follow-ups"),
            "- \xE2\x80\x9CWhat documents are part of an ISMS?\xE2\x80\x9D (See Q081)");
  CHECK_STR(section_text(c, "Sources"),
            "ISO/IEC 27001:2022 Clause 4\nISO/IEC 27000:2018 Clause 3");
  CHECK(cx_card_section(c, "No such section") == NULL);
  CHECK_STRV(c->links, "Q081");
  CHECK_INT(c->nextras, 0);

  /* The hash is of the whole file. */
  FILE *f = fopen(CX_SOURCE_DIR "/seeds/Q077.md", "rb");
  CHECK(f != NULL);
  if (f) {
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char hex[17];
    cx_hash_hex(buf, n, hex);
    CHECK_STR(c->hash, hex);
  }

  /* JSON: every field of the `get` result. */
  json_t *j = cx_card_to_json(c);
  CHECK_STR(json_string_value(json_object_get(j, "id")), "Q077");
  CHECK_INT(json_integer_value(json_object_get(j, "number")), 77);
  CHECK(json_is_false(json_object_get(j, "graph_required")));
  CHECK_STR(json_string_value(json_object_get(j, "output_mode")), "both");
  CHECK_STR(json_string_value(json_object_get(j, "path")), CX_SOURCE_DIR "/seeds/Q077.md");
  CHECK_STR(json_string_value(json_object_get(j, "hash")), c->hash);
  CHECK(json_is_string(json_object_get(j, "query")) && json_is_string(json_object_get(j, "title")));
  CHECK(json_is_string(json_object_get(j, "notes")) && json_is_string(json_object_get(j, "body")));
  static const char *const lists[] = {"packs", "primary_ids", "overlap_ids", "capability_tags",
                                      "flags", "sources", "sections", "links"};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    CHECK(json_is_array(json_object_get(j, lists[i])));
  CHECK_INT(json_array_size(json_object_get(j, "flags")), 0);
  json_t *src1 = json_array_get(json_object_get(j, "sources"), 1);
  CHECK_STR(json_string_value(json_object_get(src1, "locator")), "Clause 3");
  json_t *ui = json_object_get(j, "ui");
  CHECK_STR(json_string_value(json_array_get(json_object_get(ui, "cards_hint"), 0)),
            "ISMS build wizard");
  CHECK_STR(json_string_value(
                json_object_get(json_array_get(json_object_get(ui, "actions"), 0), "label")),
            "Launch ISMS Builder");
  json_t *sec7 = json_array_get(json_object_get(j, "sections"), 7);
  CHECK_STR(json_string_value(json_object_get(sec7, "name")), "Sources");
  CHECK(json_is_string(json_object_get(sec7, "markdown")) &&
        json_is_string(json_object_get(sec7, "text")));
  CHECK_STR(json_string_value(json_array_get(json_object_get(j, "links"), 0)), "Q081");
  CHECK(json_is_object(json_object_get(j, "extra")) &&
        json_object_size(json_object_get(j, "extra")) == 0);
  json_decref(j);
  cx_card_free(c);
  cx_diags_destroy(&d);
}

/* ---- good cards ---- */

static void test_front_matter(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = good("front_matter.md", &d);
  if (c == NULL) return;
  CHECK_INT(d.n, 0);
  CHECK_STR(c->id, "FM-1");
  CHECK_STR(c->query, "What is \"front matter\"?");
  CHECK_STRV(c->packs, "ISO27001:2022", "SOC2");
  CHECK_STRV(c->primary_ids, "ISO27001:2022/4");
  CHECK_INT(c->overlap_ids.n, 0);
  CHECK_STRV(c->capability_tags, "Workflow", "Draft Doc");
  CHECK_STRV(c->flags, "draft");
  CHECK_INT(c->nsources, 1);
  if (c->nsources == 1) {
    CHECK_STR(c->sources[0].title, "Front matter guide");
    CHECK_STR(c->sources[0].id, "DOC/1");
    CHECK_STR(c->sources[0].locator, "Section 2");
  }
  CHECK_STRV(c->cards_hint, "Guide");
  CHECK_INT(c->nactions, 1);
  if (c->nactions == 1) {
    CHECK_STR(c->actions[0].type, "open_doc");
    CHECK_STR(c->actions[0].target, "doc-1");
    CHECK_STR(c->actions[0].label, "Open");
  }
  CHECK_STR(c->output_mode, "text");
  CHECK_INT(c->graph_required, 1);
  CHECK_STR(c->notes, "Line one.\nLine two.");
  CHECK_STR(c->title, "What is front matter?"); /* a level-1 heading without a number */
  CHECK_INT(c->number, -1);
  CHECK(c->body && strncmp(c->body, "# What is front matter?", 23) == 0);
  CHECK_INT(c->nsections, 2);
  CHECK_STR(section_text(c, "Plain-English answer"),
            "Front matter is a YAML block at the top of a file.");
  CHECK_STR(section_md(c, "Plain-English answer"),
            "Front matter is a **YAML** block\nat the top of a file.");
  CHECK_STRV(c->links, "FM-2");
  cx_card_free(c);
  cx_diags_destroy(&d);
}

static void test_folded_literal(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = good("folded_literal.md", &d);
  if (c == NULL) return;
  CHECK_INT(d.n, 0);
  CHECK_STR(c->query, "How do folded scalars work?");
  CHECK_STR(c->notes, "First line\n  indented line\nLast line");
  CHECK_STR(c->output_mode, "it's both");
  CHECK_STRV(c->packs, "Caf\xC3\xA9 pack", "plain pack");
  CHECK_INT(c->graph_required, 0);
  CHECK_INT(c->number, 200);
  CHECK_STR(section_text(c, "Plain-English answer"), "They join lines.");
  cx_card_free(c);
  cx_diags_destroy(&d);
}

static void test_alias(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = good("alias.md", &d);
  if (c == NULL) return;
  CHECK_INT(d.n, 0);
  CHECK_STRV(c->packs, "ISO27001:2022", "ISO27002:2022");
  CHECK_STRV(c->capability_tags, "ISO27001:2022", "ISO27002:2022");
  CHECK_INT(c->nsources, 2);
  if (c->nsources == 2) {
    CHECK_STR(c->sources[1].title, "Base");
    CHECK_STR(c->sources[1].id, "ISO27001:2022/4");
    CHECK_STR(c->sources[1].locator, "Clause 4");
  }
  cx_card_free(c);
  cx_diags_destroy(&d);

  /* The same card fails when the bound is below what its aliases expand to
   * (the `packs` alias copies 3 nodes, the source alias 7). */
  char path[4096];
  snprintf(path, sizeof path, "%s/good/alias.md", CX_TEST_DATA);
  cx_parse_opts opts = {0, 5};
  cx_diags_init(&d);
  c = NULL;
  CHECK_INT(cx_card_load(path, &opts, &c, &d), CX_EPARSE);
  CHECK(c == NULL);
  CHECK(d.n == 1 && d.v[0].line == 7 && d.v[0].col == 5 &&
        strstr(d.v[0].message, "past 5 nodes") != NULL);
  cx_diags_destroy(&d);
  opts.max_alias_expansions = 10; /* exactly enough */
  cx_diags_init(&d);
  CHECK_INT(cx_card_load(path, &opts, &c, &d), 0);
  cx_card_free(c);
  cx_diags_destroy(&d);
}

static void test_merge_keys(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = good("merge.md", &d);
  if (c == NULL) return;
  CHECK_INT(d.n, 0);
  CHECK_INT(c->nsources, 2);
  if (c->nsources == 2) { /* keys written beside `<<` win over merged ones */
    CHECK_STR(c->sources[1].title, "ISO/IEC 27001:2022");
    CHECK_STR(c->sources[1].id, "ISO27001:2022/6");
    CHECK_STR(c->sources[1].locator, "Clause 6");
  }
  CHECK_INT(c->nactions, 2);
  if (c->nactions == 2) {
    CHECK_STR(c->actions[1].type, "start_workflow");
    CHECK_STR(c->actions[1].target, "build_isms");
    CHECK_STR(c->actions[1].label, "Relaunch");
  }
  cx_card_free(c);
  cx_diags_destroy(&d);
}

static void test_unknown_keys(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = good("unknown_keys.md", &d);
  if (c == NULL) return;
  CHECK_INT(d.nerrors, 0);
  CHECK_INT(d.nwarnings, 4);
  struct {
    const char *key, *json;
    int line, col;
  } want[] = {{"owner", "\"compliance-team\"", 3, 1},
              {"review", "{\"due\":\"2025-01-01\",\"count\":3}", 4, 1},
              {"sources[0].url", "\"https://example.com\"", 9, 5},
              {"ui.theme", "\"dark\"", 11, 3}};
  CHECK_INT(c->nextras, 4);
  for (size_t i = 0; i < 4 && i < c->nextras; i++) {
    CHECK_STR(c->extras[i].key, want[i].key);
    CHECK_STR(c->extras[i].json, want[i].json);
    CHECK_INT(c->extras[i].line, want[i].line);
    CHECK_INT(c->extras[i].col, want[i].col);
  }
  for (size_t i = 0; i < 4 && i < d.n; i++) {
    CHECK(d.v[i].severity == CX_DIAG_WARNING);
    CHECK_INT(d.v[i].line, want[i].line);
    CHECK_INT(d.v[i].col, want[i].col);
  }
  if (d.n >= 1) {
    CHECK(strstr(d.v[0].message, "unknown header key `owner` (kept; known keys are id, query,") !=
          NULL);
  }
  json_t *j = cx_card_to_json(c);
  json_t *extra = json_object_get(j, "extra");
  CHECK_STR(json_string_value(json_object_get(extra, "owner")), "compliance-team");
  CHECK_INT(json_integer_value(json_object_get(json_object_get(extra, "review"), "count")), 3);
  CHECK_STR(json_string_value(json_object_get(extra, "ui.theme")), "dark");
  CHECK(json_is_null(json_object_get(j, "title")) && json_is_null(json_object_get(j, "number")));
  CHECK(json_is_null(json_object_get(j, "graph_required")) &&
        json_is_null(json_object_get(j, "notes")));
  json_decref(j);
  cx_card_free(c);
  cx_diags_destroy(&d);

  /* A near miss gets a suggestion. */
  const char *text = "id: Q1\nquery: \"q?\"\npack: [a]\n---\n**Sources**\n- s\n";
  cx_diags_init(&d);
  CHECK_INT(cx_card_parse("typo.md", text, strlen(text), NULL, &c, &d), 0);
  CHECK(d.n == 1 && strstr(d.v[0].message, "did you mean `packs`?") != NULL);
  cx_card_free(c);
  cx_diags_destroy(&d);
}

static void test_headings(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = good("headings.md", &d);
  if (c == NULL) return;
  CHECK_INT(d.n, 0);
  CHECK_INT(c->number, 203);
  CHECK_STR(c->title, "Headings?");
  CHECK_INT(c->nsections, 4);
  if (c->nsections == 4) {
    CHECK_STR(c->sections[0].name, ""); /* text before the first section */
    CHECK_STR(c->sections[0].text, "Intro paragraph before any section.");
    CHECK_STR(c->sections[1].name, "Plain-English answer");
    CHECK_STR(c->sections[2].name, "Likely follow-ups");
    CHECK_STR(c->sections[3].name, "Setext section");
    CHECK_STR(c->sections[3].markdown, "Text under setext.");
  }
  CHECK_STR(section_text(c, "Plain-English answer"), "Answer with a link and code.\nfirst\nsecond");
  CHECK_STR(section_md(c, "Plain-English answer"),
            "Answer with a [link](https://example.com) and `code`.\n\n1. first\n2. second");
  /* Unique, in order, not the card itself, not standards or clause ids. */
  CHECK_STRV(c->links, "Q204", "Q205", "KC-7", "q9");
  cx_card_free(c);
  cx_diags_destroy(&d);
}

static void test_crlf_bom(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = good("crlf_bom.md", &d);
  if (c == NULL) return;
  CHECK_INT(d.n, 0);
  CHECK_STR(c->id, "Q204");
  CHECK_STR(c->query, "CRLF and a BOM?");
  CHECK_INT(c->number, 204);
  CHECK_STR(section_text(c, "Plain-English answer"), "Windows line endings.");
  CHECK_STR(section_text(c, "Sources"), "S");
  cx_card_free(c);
  cx_diags_destroy(&d);
}

/* Every seed card parses: they are what the daemon serves. */
static void test_seeds(void) {
  DIR *dir = opendir(CX_SOURCE_DIR "/seeds");
  CHECK(dir != NULL);
  if (dir == NULL) return;
  struct dirent *e;
  int n = 0;
  while ((e = readdir(dir)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".md") != 0 || strcmp(e->d_name, "README.md") == 0)
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/seeds/%s", CX_SOURCE_DIR, e->d_name);
    cx_diags d;
    cx_diags_init(&d);
    cx_card *c = load_good(path, &d);
    if (c) CHECK(c->id != NULL && c->query != NULL && c->nsections > 0);
    cx_card_free(c);
    cx_diags_destroy(&d);
    n++;
  }
  closedir(dir);
  CHECK(n >= 1);
}

/* ---- bad cards: one file per reason, the exact place and the reason ---- */

static const struct bad_case {
  const char *file;
  int line, col;
  const char *reason;
} bad_cases[] = {
    {"missing_id.md", 1, 1, "missing required field `id`"},
    {"missing_query.md", 1, 1, "missing required field `query`"},
    {"packs_integer.md", 3, 8, "`packs` must be a list of strings, got an integer"},
    {"packs_string.md", 3, 8, "`packs` must be a list of strings, got a string"},
    {"list_item_mapping.md", 4, 5, "`capability_tags[0]` must be a string, got a mapping"},
    {"empty_list_item.md", 5, 4, "`packs[1]` is empty"},
    {"sources_not_list.md", 3, 10, "`sources` must be a list of {title, id, locator} mappings"},
    {"source_item_scalar.md", 4, 5, "`sources[0]` must be a mapping"},
    {"source_field_list.md", 4, 12, "`sources[0].title` must be a string, got a list"},
    {"source_empty.md", 4, 5, "`sources[0]` has none of title, id, locator"},
    {"source_duplicate_key.md", 5, 5, "duplicate `sources[0]` key `title` (first on line 4)"},
    {"ui_not_mapping.md", 3, 5, "`ui` must be a mapping"},
    {"cards_hint_string.md", 4, 15, "`ui.cards_hint` must be a list of strings, got a string"},
    {"action_without_type.md", 5, 7, "`ui.actions[0]` has no `type`"},
    {"graph_required_string.md", 3, 17, "`graph_required` must be true or false, got a string"},
    {"notes_mapping.md", 3, 8, "`notes` must be a string, got a mapping"},
    {"id_list.md", 1, 5, "`id` must be a string, got a list"},
    {"id_invalid.md", 1, 5, "`id` `7up` is not a valid card id"},
    {"id_empty.md", 1, 5, "`id` is empty"},
    {"query_empty.md", 2, 8, "`query` is empty"},
    {"duplicate_key.md", 5, 1, "duplicate header key `packs` (first on line 3)"},
    {"complex_key.md", 3, 3, "a header key must be a plain name, got a list"},
    {"header_not_mapping.md", 1, 1, "the header must be a YAML mapping"},
    {"header_empty.md", 2, 1, "the header is empty"},
    {"two_documents.md", 3, 1, "a line `...` ends the header's YAML early"},
    {"missing_separator.md", 5, 1, "missing separator: add a line `---`"},
    {"missing_separator_eof.md", 3, 10, "the file ends without a line `---`"},
    {"front_matter_unclosed.md", 1, 1, "front matter opened by `---` here is never closed"},
    {"unclosed_quote.md", 2, 8, "this quoted string is never closed"},
    {"tab_indent.md", 4, 1, "must use spaces, not tabs"},
    {"bad_indentation.md", 5, 4, "malformed YAML in the header: did not find expected '-'"},
    {"merge_scalar.md", 4, 9, "`<<` merges mappings into this one"},
    {"undefined_alias.md", 3, 8, "alias `*nope` refers to no anchor"},
    {"recursive_alias.md", 3, 18, "alias `*loop` is used inside its own anchor"},
    {"alias_bomb.md", 5, 50, "expands the header past 1000 nodes"},
    {"deep_nesting.md", 3, 70, "nests deeper than 64 levels"},
    {"nul_escape.md", 2, 8, "contains a NUL character"},
    {"nul_byte.md", 3, 10, "NUL byte in the file"},
    {"utf16.md", 1, 2, "NUL byte in the file"},
    {"utf16_bom.md", 1, 1, "the file is UTF-16"},
    {"invalid_utf8.md", 2, 14, "invalid UTF-8 (byte 0xff)"},
    {"empty_file.md", 1, 1, "the file is empty"},
    /* Several errors in one card are all reported; this is the first. */
    {"multiple_errors.md", 2, 8, "`packs` must be a list of strings, got an integer"},
};

static void test_bad_cards(void) {
  size_t n = sizeof bad_cases / sizeof *bad_cases;
  CHECK(n >= 25);
  for (size_t i = 0; i < n; i++) {
    const struct bad_case *b = &bad_cases[i];
    char path[4096];
    snprintf(path, sizeof path, "%s/bad/%s", CX_TEST_DATA, b->file);
    cx_diags d;
    cx_diags_init(&d);
    cx_card *c = NULL;
    int rc = cx_card_load(path, NULL, &c, &d);
    int found = 0;
    for (size_t k = 0; k < d.n; k++)
      if (d.v[k].severity == CX_DIAG_ERROR && d.v[k].line == b->line && d.v[k].col == b->col &&
          strstr(d.v[k].message, b->reason) != NULL && strcmp(d.v[k].path, path) == 0)
        found = 1;
    if (rc != CX_EPARSE || c != NULL || !found || d.nerrors == 0) {
      fprintf(stderr, "bad/%s: want CX_EPARSE and %d:%d: ...%s..., got %s and:\n", b->file,
              b->line, b->col, b->reason, cx_err_name(rc));
      cx_diags_print(&d, stderr);
      failures++;
    }
    cx_card_free(c);
    cx_diags_destroy(&d);
  }
}

static void test_all_errors_reported(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/bad/multiple_errors.md", CX_TEST_DATA);
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = NULL;
  CHECK_INT(cx_card_load(path, NULL, &c, &d), CX_EPARSE);
  CHECK_INT(d.nerrors, 4);
  /* In file order. */
  static const struct {
    int line, col;
    const char *reason;
  } want[] = {{1, 1, "missing required field `query`"},
              {1, 5, "`id` `9lives` is not a valid card id"},
              {2, 8, "`packs` must be a list"},
              {3, 17, "`graph_required` must be true or false, got a string `maybe`"}};
  for (size_t i = 0; i < 4 && i < d.n; i++) {
    CHECK_INT(d.v[i].line, want[i].line);
    CHECK_INT(d.v[i].col, want[i].col);
    CHECK(strstr(d.v[i].message, want[i].reason) != NULL);
  }
  cx_diags_destroy(&d);

  /* A missing separator does not hide the header's own errors. */
  const char *text = "id: Q1\npacks: 5\n\n## Answer\nText.\n";
  cx_diags_init(&d);
  CHECK_INT(cx_card_parse("nosep.md", text, strlen(text), NULL, &c, &d), CX_EPARSE);
  CHECK_INT(d.nerrors, 3); /* missing query, packs, separator */
  cx_diags_destroy(&d);
}

static void test_too_big(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = NULL;
  cx_parse_opts opts = {100, 0};
  CHECK_INT(cx_card_load(CX_SOURCE_DIR "/seeds/Q077.md", &opts, &c, &d), CX_ETOOBIG);
  CHECK(c == NULL);
  CHECK(d.n == 1 && strstr(d.v[0].message, "file is too large") != NULL &&
        strstr(d.v[0].message, "the limit is 100") != NULL);
  cx_diags_destroy(&d);

  /* The default limit is 1 MiB, whatever the content. */
  size_t n = CX_DEFAULT_MAX_CARD_BYTES + 1;
  char *big = malloc(n);
  memset(big, 'a', n);
  cx_diags_init(&d);
  CHECK_INT(cx_card_parse("big.md", big, n, NULL, &c, &d), CX_ETOOBIG);
  CHECK(d.n == 1 && strstr(d.v[0].message, "1048577 bytes") != NULL);
  cx_diags_destroy(&d);
  free(big);
}

static void test_load_errors(void) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = (cx_card *)&d; /* must be reset to NULL */
  CHECK_INT(cx_card_load(CX_TEST_DATA "/no/such/card.md", NULL, &c, &d), CX_EIO);
  CHECK(c == NULL);
  CHECK(d.n == 1 && strstr(d.v[0].message, "cannot open the card") != NULL);
  cx_diags_destroy(&d);
  cx_diags_init(&d);
  CHECK_INT(cx_card_load(CX_TEST_DATA, NULL, &c, &d), CX_EIO); /* a directory */
  cx_diags_destroy(&d);
  cx_card_free(NULL);
  CHECK(cx_card_section(NULL, "x") == NULL);
}

/* Parsing from memory: path is for messages only, diags may be NULL. */
static void test_parse_memory(void) {
  const char *text = "---\nid: M1\nquery: \"Memory?\"\n---\n\n\n**Plain-English answer**\nYes.\n";
  cx_card *c = NULL;
  CHECK_INT(cx_card_parse(NULL, text, strlen(text), NULL, &c, NULL), 0);
  if (c) {
    CHECK(c->path == NULL);
    CHECK_STR(c->body, "**Plain-English answer**\nYes.\n");
    CHECK_STR(section_text(c, "plain-english answer"), "Yes.");
    CHECK_INT(c->graph_required, -1);
  }
  cx_card_free(c);
  CHECK_INT(cx_card_parse("x.md", "id: [", 5, NULL, &c, NULL), CX_EPARSE);
  CHECK(c == NULL);
}

/* Near the size limit, hostile shapes parse in (near) linear time without
 * deep recursion; the ctest timeout catches a quadratic regression. */
static void test_hostile(void) {
  size_t cap = CX_DEFAULT_MAX_CARD_BYTES, n;
  char *buf = malloc(cap);
  cx_diags d;
  cx_card *c = NULL;

  /* 120k list items. */
  n = (size_t)snprintf(buf, cap, "id: Q1\nquery: \"q?\"\npacks:\n");
  for (int i = 0; i < 120000; i++) memcpy(buf + n, "  - a\n", 6), n += 6;
  n += (size_t)snprintf(buf + n, cap - n, "---\n**A**\nb\n");
  cx_diags_init(&d);
  CHECK_INT(cx_card_parse("items.md", buf, n, NULL, &c, &d), 0);
  if (c) CHECK_INT(c->packs.n, 120000);
  cx_card_free(c);
  cx_diags_destroy(&d);

  /* 50k unknown keys: all kept, all warned. */
  n = (size_t)snprintf(buf, cap, "id: Q1\nquery: \"q?\"\n");
  for (int i = 0; i < 50000; i++) n += (size_t)snprintf(buf + n, cap - n, "k%d: [v]\n", i);
  n += (size_t)snprintf(buf + n, cap - n, "---\n**A**\nb\n");
  cx_diags_init(&d);
  CHECK_INT(cx_card_parse("keys.md", buf, n, NULL, &c, &d), 0);
  if (c) CHECK_INT(c->nextras, 50000);
  CHECK_INT(d.nwarnings, 50000);
  cx_card_free(c);
  cx_diags_destroy(&d);

  /* A body nested 500k block quotes deep. */
  n = (size_t)snprintf(buf, cap, "id: Q1\nquery: \"q?\"\n---\n");
  memset(buf + n, '>', 500000);
  n += 500000;
  n += (size_t)snprintf(buf + n, cap - n, " deep\n");
  cx_diags_init(&d);
  CHECK_INT(cx_card_parse("quotes.md", buf, n, NULL, &c, &d), 0);
  CHECK(c && c->nsections == 1 && strcmp(c->sections[0].text, "deep") == 0);
  cx_card_free(c);
  cx_diags_destroy(&d);
  free(buf);
}

int main(void) {
  test_original();
  test_front_matter();
  test_folded_literal();
  test_alias();
  test_merge_keys();
  test_unknown_keys();
  test_headings();
  test_crlf_bom();
  test_seeds();
  test_bad_cards();
  test_all_errors_reported();
  test_too_big();
  test_load_errors();
  test_parse_memory();
  test_hostile();
  if (failures) {
    fprintf(stderr, "test_card: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_card: ok\n");
  return 0;
}
