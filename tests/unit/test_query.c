/* test_query.c — the query engine against an index of seeds/: hostile inputs, identifiers,
 * synonyms, typos, filters, pagination, snippets, explain, raw syntax, and every method. */
#include "../../index/rank_internal.h"
#include "../../index/cx_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cx_test.h"
#include "../cx_xorshift.h"

static cx_index *ix;

static json_t *search_json(const char *params_json, int *rc, cx_err *err) {
  json_error_t jerr;
  json_t *params = json_loads(params_json, 0, &jerr);
  if (params == NULL) {
    fprintf(stderr, "bad test params %s: %s\n", params_json, jerr.text);
    exit(2);
  }
  cx_search_req req;
  json_t *res = NULL;
  memset(err, 0, sizeof *err);
  *rc = cx_search_req_from_json(params, &req, err);
  if (*rc == 0) {
    *rc = cx_search(ix, &req, &res, err);
    cx_search_req_destroy(&req);
  }
  json_decref(params);
  return res;
}

static const char *top_id(json_t *res) {
  json_t *hits = json_object_get(res, "hits");
  return json_array_size(hits) ? json_string_value(json_object_get(json_array_get(hits, 0), "id")) : "";
}

static int has_id(json_t *res, const char *id, size_t within) {
  json_t *hits = json_object_get(res, "hits");
  for (size_t i = 0; i < json_array_size(hits) && i < within; i++)
    if (strcmp(json_string_value(json_object_get(json_array_get(hits, i), "id")), id) == 0) return 1;
  return 0;
}

static void test_hostile(void) {
  char big[10241];
  for (size_t i = 0; i < sizeof big - 1; i++) big[i] = "isms risk (\"*:^-"[i % 16];
  big[sizeof big - 1] = '\0';
  const char *inputs[] = {"", " ", "\"", "\"\"\"", "what is an \"isms", "AND OR NOT NEAR(",
                          "NEAR(isms risk, 2)", "question:isms", "-isms", "isms*", "^isms",
                          "a OR b AND", "(((", ")))", "*", ":", "col:term other:thing",
                          "😀🔥 isms 🚀", "информационная безопасность", "情報セキュリティ ISMS",
                          "مدیریت امنیت اطلاعات", "\xff\xfe invalid utf8 \xc3", "isms\ttab\nnewline",
                          "the of and", "what is", "a.b.c.d.e.f", "Q", "Q0000000000000000000077",
                          "ISO27001:2022/", "annex a", "clause", "art.", "1.2.3.4.5.6.7.8.9.10",
                          "%_\\'; DROP TABLE cards; --", big};
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    for (int prefix = 0; prefix < 2; prefix++) {
      cx_search_req req = {.query = inputs[i], .limit = 10, .explain = prefix};
      json_t *res = NULL;
      cx_err err = {0};
      int rc = cx_search(ix, &req, &res, &err);
      CHECK(rc == 0, "input %zu (%.40s) failed: %s", i, inputs[i], err.msg);
      CHECK(res == NULL || json_is_array(json_object_get(res, "hits")), "input %zu has no hits array", i);
      json_decref(res);
      rc = cx_answer(ix, &req, &res, &err);
      CHECK(rc == 0, "answer input %zu (%.40s) failed: %s", i, inputs[i], err.msg);
      json_decref(res);
    }
    json_t *res = NULL;
    cx_err err = {0};
    CHECK(cx_suggest(ix, inputs[i], 10, &res, &err) == 0, "suggest input %zu: %s", i, err.msg);
    json_decref(res);
  }
  /* The stop-words-only query still finds something. */
  int rc;
  cx_err err;
  json_t *res = search_json("{\"query\":\"what is\"}", &rc, &err);
  CHECK(rc == 0 && json_integer_value(json_object_get(res, "total")) > 0, "stop words only: no hits");
  json_decref(res);
}

static void test_idents(void) {
  static const struct {
    const char *query, *want;
  } cases[] = {
      {"Q077", "Q077"}, {"q77", "Q077"}, {"what does q077 say", "Q077"},
      {"ISO27001:2022/4", "Q077"}, {"annex a 8.28", "Q098"}, {"A.8.28 secure coding", "Q098"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char params[256];
    snprintf(params, sizeof params, "{\"query\":\"%s\",\"limit\":3}", cases[i].query);
    int rc;
    cx_err err;
    json_t *res = search_json(params, &rc, &err);
    CHECK(rc == 0 && has_id(res, cases[i].want, 3), "%s: %s not in top 3 (top %s)", cases[i].query,
          cases[i].want, rc == 0 ? top_id(res) : err.msg);
    json_decref(res);
  }
  /* Normalisation agrees with the builder's tokens. */
  static const struct {
    const char *text, *token;
  } norm[] = {{"6.1.2", "c6x1x2"}, {"A.5.15", "cax5x15"}, {"annex a 8.28", "cax8x28"},
              {"27001 clause 4", "iso27001c4"}, {"clause 4", "c4"}, {"article 35", "cartx35"},
              {"art 35", "cartx35"}, {"Q077", "q77"}, {"ISO27001:2022/4", "iso27001c4"},
              {"iso 27001 a.5.15", "iso27001cax5x15"}};
  for (size_t i = 0; i < sizeof norm / sizeof *norm; i++) {
    cx__buf out;
    cx__buf_init(&out);
    cx__query_idents(norm[i].text, &out);
    /* Lines are "kind tok tok ...": look for the token as a whole word. */
    char hay[256], needle[64];
    snprintf(hay, sizeof hay, " %s ", out.p ? out.p : "");
    for (char *p = hay; *p; p++)
      if (*p == '\n') *p = ' ';
    snprintf(needle, sizeof needle, " %s ", norm[i].token);
    CHECK(strstr(hay, needle) != NULL, "%s -> %s, want %s", norm[i].text,
          out.p ? out.p : "(nothing)", norm[i].token);
    cx__buf_destroy(&out);
  }
  cx__buf b;
  cx__buf_init(&b);
  cx__ident_tokens("ISO27001:2022/A.5.15", &b);
  CHECK(strstr(b.p, "cax5x15") && strstr(b.p, "iso27001cax5x15"), "builder tokens %s", b.p);
  cx__buf_destroy(&b);
}

static int explain_has(json_t *res, const char *kind) {
  json_t *hits = json_object_get(res, "hits");
  for (size_t h = 0; h < json_array_size(hits); h++) {
    json_t *terms = json_object_get(json_object_get(json_array_get(hits, h), "explain"), "terms");
    for (size_t i = 0; i < json_array_size(terms); i++)
      if (strcmp(json_string_value(json_object_get(json_array_get(terms, i), "kind")), kind) == 0) return 1;
  }
  return 0;
}

static void test_synonyms_typos_prefix(void) {
  int rc;
  cx_err err;
  json_t *res = search_json("{\"query\":\"isms\",\"explain\":true,\"limit\":5}", &rc, &err);
  CHECK(rc == 0 && explain_has(res, "synonym"), "isms: no synonym match explained");
  json_decref(res);
  res = search_json("{\"query\":\"what is an information security management system\",\"limit\":3}", &rc, &err);
  CHECK(rc == 0 && has_id(res, "Q077", 3), "long form: Q077 not in top 3 (top %s)", top_id(res));
  json_decref(res);
  res = search_json("{\"query\":\"secure codng principls\",\"explain\":true,\"limit\":3}", &rc, &err);
  CHECK(rc == 0 && has_id(res, "Q098", 3) && explain_has(res, "typo"), "typos: top %s", top_id(res));
  json_decref(res);
  /* A typo ranks below the exact word. */
  res = search_json("{\"query\":\"coding\",\"limit\":1}", &rc, &err);
  double exact = json_real_value(json_object_get(json_array_get(json_object_get(res, "hits"), 0), "score"));
  json_decref(res);
  res = search_json("{\"query\":\"codng\",\"limit\":1}", &rc, &err);
  double typo = json_real_value(json_object_get(json_array_get(json_object_get(res, "hits"), 0), "score"));
  json_decref(res);
  CHECK(typo > 0 && typo < exact, "typo score %f not below exact %f", typo, exact);
  res = search_json("{\"query\":\"secure cod\",\"explain\":true,\"limit\":3}", &rc, &err);
  CHECK(rc == 0 && explain_has(res, "prefix"), "prefix of last word not used");
  json_decref(res);
}

static void test_filters_pagination_snippets(void) {
  int rc;
  cx_err err;
  json_t *all = search_json("{\"query\":\"risk\",\"limit\":100}", &rc, &err);
  json_int_t total = json_integer_value(json_object_get(all, "total"));
  CHECK(rc == 0 && total > 12, "risk: total %lld", (long long)total);
  json_t *p1 = search_json("{\"query\":\"risk\",\"limit\":5,\"offset\":5}", &rc, &err);
  CHECK(json_integer_value(json_object_get(p1, "total")) == total, "total changes with offset");
  for (size_t i = 0; i < 5; i++)
    CHECK(json_equal(json_object_get(json_array_get(json_object_get(p1, "hits"), i), "id"),
                     json_object_get(json_array_get(json_object_get(all, "hits"), i + 5), "id")),
          "page 2 item %zu differs", i);
  json_decref(p1);
  json_decref(all);
  json_t *f = search_json("{\"query\":\"risk\",\"limit\":100,\"packs\":[\"GDPR\"]}", &rc, &err);
  CHECK(rc == 0, "pack filter: %s", err.msg);
  json_t *hits = json_object_get(f, "hits");
  for (size_t i = 0; i < json_array_size(hits); i++) {
    json_t *packs = json_object_get(json_array_get(hits, i), "packs");
    int ok = 0;
    for (size_t j = 0; j < json_array_size(packs); j++) ok |= strcmp(json_string_value(json_array_get(packs, j)), "GDPR") == 0;
    CHECK(ok, "hit %zu not in pack GDPR", i);
  }
  CHECK(json_integer_value(json_object_get(f, "total")) < total, "pack filter did not narrow");
  json_decref(f);
  f = search_json("{\"query\":\"risk\",\"limit\":100,\"id_prefix\":\"Q09\"}", &rc, &err);
  hits = json_object_get(f, "hits");
  CHECK(json_array_size(hits) > 0, "id_prefix: nothing");
  for (size_t i = 0; i < json_array_size(hits); i++)
    CHECK(strncmp(json_string_value(json_object_get(json_array_get(hits, i), "id")), "Q09", 3) == 0,
          "id_prefix not applied");
  json_decref(f);
  f = search_json("{\"query\":\"risk\",\"tags\":[\"No Such Tag\"]}", &rc, &err);
  CHECK(rc == 0 && json_array_size(json_object_get(f, "hits")) == 0, "unknown tag matched");
  json_decref(f);
  json_t *s = search_json("{\"query\":\"isms\",\"highlight\":[\"<b>\",\"</b>\"],\"limit\":1}", &rc, &err);
  const char *snip = json_string_value(json_object_get(json_array_get(json_object_get(s, "hits"), 0), "snippet"));
  CHECK(snip && strstr(snip, "<b>ISMS</b>"), "snippet markers: %s", snip ? snip : "(null)");
  json_decref(s);
}

static void test_errors_and_raw(void) {
  static const struct {
    const char *params, *field;
  } bad[] = {{"{\"query\":\"x\",\"limit\":-1}", "limit"}, {"{\"query\":\"x\",\"limit\":101}", "limit"},
             {"{\"query\":\"x\",\"offset\":-3}", "offset"}, {"{\"query\":5}", "query"},
             {"{}", "query"}, {"{\"query\":\"x\",\"colour\":1}", "colour"},
             {"{\"query\":\"x\",\"packs\":\"GDPR\"}", "packs"}, {"{\"query\":\"x\",\"packs\":[1]}", "packs"},
             {"{\"query\":\"x\",\"highlight\":[\"<b>\"]}", "highlight"},
             {"{\"query\":\"x\",\"explain\":\"yes\"}", "explain"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc;
    cx_err err;
    json_t *res = search_json(bad[i].params, &rc, &err);
    CHECK(rc == CX_EINVAL && strcmp(err.field, bad[i].field) == 0, "%s: rc %d field '%s' msg %s",
          bad[i].params, rc, err.field, err.msg);
    CHECK(strstr(err.msg, bad[i].field) != NULL, "message does not name the parameter: %s", err.msg);
    json_decref(res);
  }
  int rc;
  cx_err err;
  json_t *res = search_json("{\"query\":\"isms AND (\",\"raw\":true}", &rc, &err);
  CHECK(rc == CX_ESYNTAX && strcmp(err.field, "query") == 0, "raw syntax error: rc %d", rc);
  json_decref(res);
  res = search_json("{\"query\":\"\\\"unbalanced\",\"raw\":true}", &rc, &err);
  CHECK(rc == CX_ESYNTAX, "raw unbalanced quote: rc %d", rc);
  json_decref(res);
  res = search_json("{\"query\":\"question:isms -gdpr\",\"raw\":true}", &rc, &err);
  CHECK(rc == 0 && json_integer_value(json_object_get(res, "total")) > 0, "raw field query: %s", err.msg);
  json_decref(res);
  res = search_json("{\"query\":\"\\\"secure coding\\\"\",\"raw\":true,\"limit\":1}", &rc, &err);
  CHECK(rc == 0 && strcmp(top_id(res), "Q098") == 0, "raw phrase: top %s", top_id(res));
  json_decref(res);
}

static void test_methods(void) {
  cx_err err = {0};
  json_t *res;
  CHECK(cx_get(ix, "q077", &res, &err) == 0, "get q077: %s", err.msg);
  CHECK(strcmp(json_string_value(json_object_get(res, "id")), "Q077") == 0, "get returned another card");
  CHECK(json_array_size(json_object_get(res, "sections")) >= 8, "get: sections missing");
  json_decref(res);
  CHECK(cx_get(ix, "Q77", &res, &err) == 0, "get Q77 (unpadded): %s", err.msg);
  json_decref(res);
  CHECK(cx_get(ix, "Q999", &res, &err) == CX_ENOTFOUND && strstr(err.msg, "Q999"), "get Q999: %s", err.msg);
  CHECK(cx_suggest(ix, "isms bu", 10, &res, &err) == 0, "suggest: %s", err.msg);
  json_t *sugg = json_object_get(res, "suggestions");
  int term = 0, question = 0;
  for (size_t i = 0; i < json_array_size(sugg); i++) {
    const char *k = json_string_value(json_object_get(json_array_get(sugg, i), "kind"));
    term |= strcmp(k, "term") == 0;
    question |= strcmp(k, "question") == 0;
  }
  CHECK(term && question, "suggest: kinds term %d question %d", term, question);
  json_decref(res);
  CHECK(cx_suggest(ix, "x", 0, &res, &err) == CX_EINVAL && strcmp(err.field, "limit") == 0, "suggest limit 0");
  CHECK(cx_related(ix, "Q077", 5, &res, &err) == 0, "related: %s", err.msg);
  json_t *hits = json_object_get(res, "hits");
  CHECK(json_array_size(hits) == 5, "related: %zu hits", json_array_size(hits));
  CHECK(strcmp(json_string_value(json_object_get(json_array_get(hits, 0), "id")), "Q081") == 0 &&
            strcmp(json_string_value(json_object_get(json_array_get(hits, 0), "reason")), "link") == 0,
        "related: first is not the Q081 link");
  json_decref(res);
  CHECK(cx_related(ix, "Q999", 5, &res, &err) == CX_ENOTFOUND, "related Q999");
  CHECK(cx_index_info(ix, &res, &err) == 0 && json_integer_value(json_object_get(res, "cards")) > 100,
        "info: %s", err.msg);
  json_decref(res);
  cx_search_req req = {.query = "how do we build an information security management system", .limit = 10};
  CHECK(cx_answer(ix, &req, &res, &err) == 0, "answer: %s", err.msg);
  CHECK(json_is_true(json_object_get(res, "answered")), "answer: not answered");
  CHECK(strcmp(json_string_value(json_object_get(json_object_get(res, "card"), "id")), "Q077") == 0, "answer: wrong card");
  double c = json_real_value(json_object_get(res, "confidence"));
  CHECK(c > 0 && c <= 1, "confidence %f", c);
  json_decref(res);
  req.query = "what is the best pizza topping in naples";
  CHECK(cx_answer(ix, &req, &res, &err) == 0, "answer none: %s", err.msg);
  CHECK(json_is_false(json_object_get(res, "answered")) && json_is_null(json_object_get(res, "card")),
        "answered an unanswerable question");
  json_decref(res);
}

static const char *hit_id(json_t *res, size_t i) {
  const char *id = json_string_value(json_object_get(json_array_get(json_object_get(res, "hits"), i), "id"));
  return id ? id : "";
}

/* An empty query with a filter lists the matching cards in id order. */
static void test_listing(void) {
  int rc;
  cx_err err;
  json_t *res = search_json("{\"query\":\"\",\"id_prefix\":\"Q07\"}", &rc, &err);
  CHECK(rc == 0 && json_integer_value(json_object_get(res, "total")) == 10, "Q07 listing: %s",
        rc ? err.msg : "wrong total");
  for (size_t i = 0; i < 10; i++) {
    char want[8];
    snprintf(want, sizeof want, "Q07%zu", i);
    CHECK(strcmp(hit_id(res, i), want) == 0, "Q07 listing item %zu is %s", i, hit_id(res, i));
    json_t *h = json_array_get(json_object_get(res, "hits"), i);
    CHECK(json_number_value(json_object_get(h, "score")) == 0.0, "listing score not 0");
    CHECK(json_is_array(json_object_get(h, "sources")) && json_is_string(json_object_get(h, "snippet")),
          "listing hit lacks fields");
  }
  json_decref(res);
  res = search_json("{\"query\":\" \",\"id_prefix\":\"q07\",\"limit\":3,\"offset\":8}", &rc, &err);
  CHECK(rc == 0 && json_integer_value(json_object_get(res, "total")) == 10 &&
            json_array_size(json_object_get(res, "hits")) == 2 && strcmp(hit_id(res, 0), "Q078") == 0,
        "lower-case prefix with offset: total %lld, first %s",
        (long long)json_integer_value(json_object_get(res, "total")), hit_id(res, 0));
  json_decref(res);
  res = search_json("{\"query\":\"\"}", &rc, &err);
  CHECK(rc == 0 && json_integer_value(json_object_get(res, "total")) == 0 &&
            json_array_size(json_object_get(res, "hits")) == 0, "empty query without filter matched");
  json_decref(res);
  /* A pack listing counts what cx_index_info counts. */
  json_t *info;
  CHECK(cx_index_info(ix, &info, &err) == 0, "info: %s", err.msg);
  json_int_t gdpr = json_integer_value(json_object_get(json_object_get(info, "packs"), "GDPR"));
  json_t *tags = json_object_get(info, "tags");
  CHECK(json_is_object(tags) && json_object_size(tags) > 3, "info has no tags");
  json_int_t workflow = json_integer_value(json_object_get(tags, "Workflow"));
  json_decref(info);
  res = search_json("{\"query\":\"\",\"packs\":[\"GDPR\"],\"limit\":100}", &rc, &err);
  CHECK(rc == 0 && gdpr > 0 && json_integer_value(json_object_get(res, "total")) == gdpr &&
            json_array_size(json_object_get(res, "hits")) == (size_t)gdpr, "GDPR listing: total %lld, info %lld",
        (long long)json_integer_value(json_object_get(res, "total")), (long long)gdpr);
  for (size_t i = 1; i < json_array_size(json_object_get(res, "hits")); i++)
    CHECK(strcmp(hit_id(res, i - 1), hit_id(res, i)) < 0, "GDPR listing not in id order at %zu", i);
  json_decref(res);
  res = search_json("{\"query\":\"\",\"tags\":[\"Workflow\"],\"limit\":1}", &rc, &err);
  CHECK(rc == 0 && workflow > 0 && json_integer_value(json_object_get(res, "total")) == workflow,
        "tag listing total %lld, info %lld", (long long)json_integer_value(json_object_get(res, "total")),
        (long long)workflow);
  json_decref(res);
  res = search_json("{\"query\":\"\",\"id_prefix\":\"Z\"}", &rc, &err);
  CHECK(rc == 0 && json_integer_value(json_object_get(res, "total")) == 0, "prefix Z matched");
  json_decref(res);
}

/* A card whose primary id is the clause ranks above cards that only overlap
 * with it; identifiers in prose match their compact tokens. */
static void test_primary_ids(void) {
  static const struct {
    const char *query, *want;
  } cases[] = {{"a.5.26", "Q102"}, {"art 32 gdpr", "Q033"}, {"annex a 5.26 incident response", "Q102"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char params[256];
    snprintf(params, sizeof params, "{\"query\":\"%s\",\"limit\":3}", cases[i].query);
    int rc;
    cx_err err;
    json_t *res = search_json(params, &rc, &err);
    CHECK(rc == 0 && strcmp(top_id(res), cases[i].want) == 0, "%s: top %s, want %s", cases[i].query,
          top_id(res), cases[i].want);
    json_decref(res);
  }
  cx__buf b;
  cx__buf_init(&b);
  cx__text_idents("Clause 6.1.2 of ISO/IEC 27001 and GDPR Article 32; see Q3 results", &b);
  CHECK(b.p && strstr(b.p, "c6x1x2") && strstr(b.p, "iso27001") && strstr(b.p, "carticlex32") &&
            !strstr(b.p, "q3"), "text idents: %s", b.p ? b.p : "(none)");
  cx__buf_destroy(&b);
}

/* A synonym stands in for the words it came from: a card with both "ISMS"
 * and its long form does not earn the term twice. */
static void test_synonym_groups(void) {
  cx_err err;
  cx__query q;
  CHECK(cx__query_parse(ix, "isms documents", 0, 0, &q, &err) == 0, "parse");
  int groups = 0, syn = 0;
  for (size_t i = 0; i < q.nslots; i++) {
    groups += q.slots[i].group >= 0;
    syn += q.slots[i].syn;
  }
  CHECK(q.ngroups == 1 && groups == 2 && syn == 1, "isms documents: %d groups, %d grouped slots, %d synonym slots",
        q.ngroups, groups, syn);
  cx__plan plan;
  cx__plan_init(ix, &q, &plan);
  double s[CX__MAX_SLOTS] = {0};
  for (size_t i = 0; i < q.nslots; i++) s[i] = 1.0;
  /* isms and its synonym both match: the group counts once. */
  CHECK(cx__combine(&plan, s) == 2.0, "combine %f, want 2", cx__combine(&plan, s));
  cx__plan_destroy(&plan);
  cx__query_destroy(&q);
  /* A multi-word term adds a phrase bonus on top of its words. */
  CHECK(cx__query_parse(ix, "statement of applicability", 0, 0, &q, &err) == 0, "parse");
  int phrase = -1, words = 0;
  for (size_t i = 0; i < q.nslots; i++) {
    if (q.slots[i].syn == 2) phrase = (int)i;
    words += q.slots[i].group >= 0 && !q.slots[i].syn;
  }
  CHECK(phrase >= 0 && words == 2 && q.slots[phrase].alts[0].phrase, "statement of applicability: phrase slot %d, %d words",
        phrase, words);
  cx__plan_init(ix, &q, &plan);
  for (size_t i = 0; i < CX__MAX_SLOTS; i++) s[i] = i < q.nslots && !q.slots[i].syn ? 1.0 : 0.0;
  double without = cx__combine(&plan, s);
  if (phrase >= 0) s[phrase] = 0.5;
  CHECK(cx__combine(&plan, s) == without + 0.5 && without == 2.0, "phrase bonus: %f then %f", without,
        cx__combine(&plan, s));
  cx__plan_destroy(&plan);
  cx__query_destroy(&q);
}

/* Misspellings: transpositions, and words whose stem happens to exist. */
static void test_typos(void) {
  static const struct {
    const char *query, *word;
  } cases[] = {{"incidnet response", "incident"}, {"intenral audit", "internal"},
               {"continous improvement", "continuous"}, {"statment of applicability", "statement"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cx_err err;
    cx__query q;
    CHECK(cx__query_parse(ix, cases[i].query, 0, 0, &q, &err) == 0, "parse");
    int found = 0;
    for (size_t s = 0; s < q.nslots; s++)
      for (size_t a = 0; a < q.slots[s].nalts; a++)
        found |= q.slots[s].alts[a].kind == CX__K_TYPO && strcmp(q.slots[s].alts[a].text, cases[i].word) == 0;
    CHECK(found, "%s: no typo alternative %s", cases[i].query, cases[i].word);
    cx__query_destroy(&q);
  }
}

/* The hit cache: results are the same whether a card is cached or not, when
 * the cache is cleared under a query, and with other highlight markers. */
static void test_hit_cache(void) {
  int rc;
  cx_err err;
  json_t *a = search_json("{\"query\":\"risk assessment\",\"limit\":20}", &rc, &err);
  ix->hcache_max = 3;
  json_t *b = search_json("{\"query\":\"risk assessment\",\"limit\":20}", &rc, &err);
  ix->hcache_max = 0;
  CHECK(rc == 0 && json_equal(json_object_get(a, "hits"), json_object_get(b, "hits")),
        "hits differ once the cache is cleared under the query");
  json_decref(b);
  b = search_json("{\"query\":\"risk assessment\",\"limit\":20,\"highlight\":[\"[\",\"]\"]}", &rc, &err);
  const char *s1 = json_string_value(json_object_get(json_array_get(json_object_get(a, "hits"), 0), "snippet"));
  const char *s2 = json_string_value(json_object_get(json_array_get(json_object_get(b, "hits"), 0), "snippet"));
  CHECK(s1 && s2 && strstr(s1, "**") && strchr(s2, '[') && !strstr(s2, "**"), "markers: %s / %s", s1, s2);
  json_decref(a);
  json_decref(b);
  cx_search_req bad = {.query = "isms", .limit = 1, .hl_open = "\xff", .hl_close = "]"};
  CHECK(cx_search(ix, &bad, &b, &err) == CX_EINVAL && strcmp(err.field, "highlight") == 0,
        "invalid UTF-8 marker accepted");
  CHECK(cx_answer(ix, &bad, &b, &err) == CX_EINVAL, "invalid UTF-8 marker accepted by answer");
  /* The snippet of a card whose plain-English answer lacks every term comes
   * from another section that has one. */
  a = search_json("{\"query\":\"Q077 foundation\",\"limit\":1}", &rc, &err);
  const char *snip = json_string_value(json_object_get(json_array_get(json_object_get(a, "hits"), 0), "snippet"));
  CHECK(rc == 0 && strcmp(top_id(a), "Q077") == 0 && snip && strstr(snip, "**foundation**"),
        "Q077 foundation: top %s, snippet %s", top_id(a), snip ? snip : "(none)");
  json_decref(a);
}

static void test_agreement(void) {
  const char *queries[] = {"risk assessment methodology", "data protection officer tasks",
                           "how do we handle security incidents and report breaches",
                           "supplier access control policy", "what is an isms", "codng standards"};
  for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
    cx_err err;
    cx__query q;
    cx__result fast, ex;
    CHECK(cx__query_parse(ix, queries[i], 0, 1, &q, &err) == 0, "parse");
    CHECK(cx__rank(ix, &q, NULL, 10, 0, &fast, &err) == 0, "fast");
    CHECK(cx__rank(ix, &q, NULL, 10, 1, &ex, &err) == 0, "exhaustive");
    int same = fast.nhits == ex.nhits;
    for (size_t h = 0; same && h < fast.nhits; h++)
      same = fast.hits[h].rowid == ex.hits[h].rowid && fast.hits[h].score == ex.hits[h].score;
    CHECK(same, "fast plan disagrees with exhaustive scoring on '%s'", queries[i]);
    cx__result_destroy(&fast);
    cx__result_destroy(&ex);
    cx__query_destroy(&q);
  }
}

/* "took_us":N with N dropped: the one member that differs between two runs. */
static void drop_took(char *s) {
  char *t = strstr(s, "\"took_us\":");
  if (t == NULL) return;
  t += 10;
  size_t d = strspn(t, "0123456789");
  memmove(t, t + d, strlen(t + d) + 1);
}

/* cx__search_text (what cardexd replies with) writes exactly the text of
 * cx_search's result: every eval question and every kind of request, with
 * cards cached and not, with the cache cleared under a query. */
static void same_text(const char *params_json) {
  json_error_t jerr;
  json_t *params = json_loads(params_json, 0, &jerr);
  CHECK(params != NULL, "bad test params %s", params_json);
  if (params == NULL) return;
  cx_search_req req;
  cx_err err = {0};
  if (cx_search_req_from_json(params, &req, &err) != 0) {
    CHECK(0, "params %s: %s", params_json, err.msg);
    json_decref(params);
    return;
  }
  json_t *res = NULL;
  cx_err e1 = {0}, e2 = {0};
  int rc1 = cx_search(ix, &req, &res, &e1);
  cx__buf want, got;
  cx__buf_init(&want);
  cx__buf_init(&got);
  cx__buf_puts(&got, "[");
  if (rc1 == 0) cx__json_write(&want, res);
  int rc2 = cx__search_text(ix, &req, &got, &e2);
  CHECK(rc1 == rc2, "%s: cx_search %d, cx__search_text %d", params_json, rc1, rc2);
  if (rc1 == 0 && rc2 == 0) {
    drop_took(want.p);
    drop_took(got.p);
    CHECK(strcmp(want.p, got.p + 1) == 0, "%s:\n  json: %s\n  text: %s", params_json, want.p,
          got.p + 1);
  } else {
    CHECK(strcmp(got.p, "[") == 0 && strcmp(e1.msg, e2.msg) == 0,
          "%s: the failed text call left %s (%s / %s)", params_json, got.p, e1.msg, e2.msg);
  }
  json_decref(res);
  cx__buf_destroy(&want);
  cx__buf_destroy(&got);
  cx_search_req_destroy(&req);
  json_decref(params);
}

static void test_search_text(void) {
  static const char *const dir = CX_SOURCE_DIR "/tests/eval/";
  static const char *const files[] = {"gdpr.tsv", "iso27001_a.tsv", "iso27001_b.tsv", "nistcsf.tsv",
                                      "soc2.tsv"};
  size_t n = 0;
  for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
    char path[512], line[2048];
    snprintf(path, sizeof path, "%s%s", dir, files[f]);
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL, "cannot read %s", path);
    if (fp == NULL) continue;
    while (fgets(line, sizeof line, fp)) {
      if (line[0] == '#') continue;
      char *q = strchr(line, '\t');
      q = q ? strchr(q + 1, '\t') : NULL;
      if (q == NULL) continue;
      q++;
      q[strcspn(q, "\r\n")] = '\0';
      json_t *p = json_pack("{s:s,s:i}", "query", q, "limit", (int)(n % 3 == 0 ? 20 : 10));
      char *ps = json_dumps(p, JSON_COMPACT);
      same_text(ps);
      free(ps);
      json_decref(p);
      n++;
    }
    fclose(fp);
  }
  CHECK(n >= 200, "only %zu eval questions read", n);
  const char *const cases[] = {
      "{\"query\":\"risk assessment\",\"highlight\":[\"<b>\\\"\",\"</b>\\n\"]}",
      "{\"query\":\"risk assessment\",\"offset\":3,\"limit\":4}",
      "{\"query\":\"risk assessment\",\"offset\":500}",
      "{\"query\":\"access control policy\",\"explain\":true,\"limit\":3}",
      "{\"query\":\"access AND control\",\"raw\":true}",
      "{\"query\":\"access AND control\",\"raw\":true,\"explain\":true}",
      "{\"query\":\"\",\"packs\":[\"GDPR\"],\"limit\":100}",
      "{\"query\":\"\",\"id_prefix\":\"Q07\"}",
      "{\"query\":\"   \"}",
      "{\"query\":\"breach\",\"packs\":[\"GDPR\",\"SOC2\"],\"tags\":[\"Workflow\"]}",
      "{\"query\":\"zzzzqqq nothing matches this\"}",
      "{\"query\":\"(unbalanced\",\"raw\":true}",
      "{\"query\":\"isms\",\"highlight\":[\"\",\"\"]}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) same_text(cases[i]);
  ix->hcache_max = 3; /* the cache cleared between and under queries */
  same_text("{\"query\":\"risk assessment methodology\",\"limit\":30}");
  same_text("{\"query\":\"data protection officer\",\"limit\":30}");
  ix->hcache_max = 0;
}

/* The writer's fast path for reals rounded to thousandths (scores) against
 * jansson, at every magnitude it takes and around its limits. */
static void test_json_reals(void) {
  uint64_t x = CX_XORSHIFT_SEED;
  int bad = 0;
  for (int i = 0; i < 200000 && bad < 5; i++) {
    cx_xorshift(&x);
    double mag = pow(10.0, (double)(x % 14) - 3.0);
    double v = (double)(int64_t)(x >> 11) / (double)(1ull << 53) * mag;
    if (i % 2) v = round(v * 1000.0) / 1000.0;
    if (i % 7 == 0) v = (double)(int64_t)(x % 2000001) / 1000.0 - 1000.0;
    if (i % 11 == 0) v = (i % 22 ? 9999999.999 : 10000000.999) - (double)(x % 1000) / 1000.0;
    json_t *j = json_real(v);
    char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    cx__buf got;
    cx__buf_init(&got);
    cx__json_write(&got, j);
    if (want == NULL || strcmp(want, got.p) != 0) {
      CHECK(0, "real %.17g: jansson %s, ours %s", v, want ? want : "?", got.p);
      bad++;
    }
    free(want);
    cx__buf_destroy(&got);
    json_decref(j);
  }
}

static void test_open_errors(void) {
  cx_index *bad;
  cx_err err = {0};
  CHECK(cx_index_open("/nonexistent/dir/x.db", &bad, &err) == CX_EIO && strstr(err.msg, "/nonexistent"),
        "open missing: %s", err.msg);
  char path[] = "/tmp/cardex-notindex-XXXXXX";
  int fd = mkstemp(path);
  CHECK(write(fd, "hello", 5) == 5, "write");
  close(fd);
  int rc = cx_index_open(path, &bad, &err);
  CHECK(rc == CX_ECORRUPT || rc == CX_EIO, "open garbage: %d %s", rc, err.msg);
  unlink(path);
}

int main(void) {
  char dbpath[] = "/tmp/cardex-test-query-XXXXXX";
  int fd = mkstemp(dbpath);
  close(fd);
  const char *paths[] = {CX_SOURCE_DIR "/seeds"};
  cx_build_opts opts = {0};
  opts.keep_going = 1;
  cx_build_stats st = {0};
  cx_diags diags;
  cx_diags_init(&diags);
  cx_err err = {0};
  int rc = cx_index_build(paths, 1, dbpath, &opts, &st, &diags, &err);
  cx_diags_destroy(&diags);
  if (rc != 0 && rc != CX_EPARTIAL) {
    fprintf(stderr, "cannot build the seeds index: %s\n", err.msg);
    return 1;
  }
  if (cx_index_open(dbpath, &ix, &err) != 0) {
    fprintf(stderr, "open: %s\n", err.msg);
    return 1;
  }
  test_hostile();
  test_idents();
  test_synonyms_typos_prefix();
  test_filters_pagination_snippets();
  test_errors_and_raw();
  test_methods();
  test_agreement();
  test_listing();
  test_primary_ids();
  test_synonym_groups();
  test_typos();
  test_hit_cache();
  test_search_text();
  test_json_reals();
  test_open_errors();
  cx_index_close(ix);
  unlink(dbpath);
  if (failures) fprintf(stderr, "test_query: %d failures\n", failures);
  else printf("test_query: ok\n");
  return failures ? 1 : 0;
}
