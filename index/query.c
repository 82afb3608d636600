/* query.c — the query API: search, answer, get, suggest, related; hits, snippets, explanations. */
#include "engine_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- request ---- */

static int bad(cx_err *err, const char *field, const char *fmt, const char *got) {
  return cx_err_set(err, CX_EINVAL, field, fmt, got);
}

static char *describe(json_t *v) {
  if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v) || json_is_null(v))
    return json_dumps(v, JSON_ENCODE_ANY);
  if (json_is_string(v)) return cx_xstrdup("a string");
  if (json_is_array(v)) return cx_xstrdup("an array");
  return cx_xstrdup("an object");
}

static int int_param(json_t *v, const char *name, int lo, int hi, int *out, cx_err *err) {
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    char *got = describe(v);
    cx_err_set(err, CX_EINVAL, name, "`%s` must be an integer from %d to %d, got %s", name, lo, hi,
               got ? got : "?");
    free(got);
    return CX_EINVAL;
  }
  *out = (int)json_integer_value(v);
  return 0;
}

static int strings_param(json_t *v, const char *name, const char *const **out, size_t *n,
                         cx_err *err) {
  if (!json_is_array(v)) {
    char *got = describe(v);
    cx_err_set(err, CX_EINVAL, name, "`%s` must be an array of strings, got %s", name, got);
    free(got);
    return CX_EINVAL;
  }
  size_t len = json_array_size(v);
  if (len > 64)
    return cx_err_set(err, CX_EINVAL, name, "`%s` has %zu entries, at most 64 are allowed", name, len);
  const char **arr = cx_xcalloc(len ? len : 1, sizeof *arr);
  for (size_t i = 0; i < len; i++) {
    json_t *s = json_array_get(v, i);
    if (!json_is_string(s)) {
      free(arr);
      return cx_err_set(err, CX_EINVAL, name, "`%s` must be an array of strings; item %zu is not a "
                        "string", name, i);
    }
    arr[i] = json_string_value(s);
  }
  *out = arr;
  *n = len;
  return 0;
}

int cx_search_req_from_json(json_t *params, cx_search_req *req, cx_err *err) {
  memset(req, 0, sizeof *req);
  req->limit = 10;
  if (!json_is_object(params))
    return cx_err_set(err, CX_EINVAL, "params", "params must be an object with at least `query`");
  const char *key;
  json_t *v;
  int rc = 0;
  json_object_foreach(params, key, v) {
    if (strcmp(key, "query") == 0) {
      if (!json_is_string(v)) {
        char *got = describe(v);
        rc = cx_err_set(err, CX_EINVAL, "query", "`query` must be a string, got %s", got);
        free(got);
      } else {
        req->query = json_string_value(v);
      }
    } else if (strcmp(key, "limit") == 0) {
      rc = int_param(v, "limit", 1, CX_MAX_LIMIT, &req->limit, err);
    } else if (strcmp(key, "offset") == 0) {
      rc = int_param(v, "offset", 0, 10000, &req->offset, err);
    } else if (strcmp(key, "packs") == 0) {
      rc = strings_param(v, "packs", &req->packs, &req->npacks, err);
    } else if (strcmp(key, "tags") == 0) {
      rc = strings_param(v, "tags", &req->tags, &req->ntags, err);
    } else if (strcmp(key, "id_prefix") == 0) {
      if (!json_is_string(v)) rc = bad(err, "id_prefix", "`id_prefix` must be a string, got %s", "another type");
      else req->id_prefix = json_string_value(v);
    } else if (strcmp(key, "highlight") == 0) {
      if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) ||
          !json_is_string(json_array_get(v, 1)) ||
          strlen(json_string_value(json_array_get(v, 0))) > 64 ||
          strlen(json_string_value(json_array_get(v, 1))) > 64) {
        rc = cx_err_set(err, CX_EINVAL, "highlight", "`highlight` must be two strings [open, close] "
                        "of at most 64 bytes each, e.g. [\"<b>\", \"</b>\"]");
      } else {
        req->hl_open = json_string_value(json_array_get(v, 0));
        req->hl_close = json_string_value(json_array_get(v, 1));
      }
    } else if (strcmp(key, "explain") == 0 || strcmp(key, "raw") == 0) {
      if (!json_is_boolean(v)) {
        char *got = describe(v);
        rc = cx_err_set(err, CX_EINVAL, key, "`%s` must be true or false, got %s", key, got);
        free(got);
      } else if (key[0] == 'e') {
        req->explain = json_is_true(v);
      } else {
        req->raw = json_is_true(v);
      }
    } else {
      rc = cx_err_set(err, CX_EINVAL, key, "unknown parameter `%s`; known: query, limit, offset, "
                      "packs, tags, id_prefix, highlight, explain, raw", key);
    }
    if (rc) break;
  }
  if (rc == 0 && req->query == NULL)
    rc = cx_err_set(err, CX_EINVAL, "query", "missing required parameter `query` (a string)");
  if (rc) cx_search_req_destroy(req);
  return rc;
}

void cx_search_req_destroy(cx_search_req *req) {
  if (req == NULL) return;
  free((void *)req->packs);
  free((void *)req->tags);
  req->packs = req->tags = NULL;
  req->npacks = req->ntags = 0;
}

/* ---- filters ---- */

typedef struct filter_state {
  cx__filter f;
  uint64_t *packs, *tags, *ids; /* owned unions */
} filter_state;

static uint64_t *union_bits(cx_index *ix, char kind, const char *const *names, size_t n, cx_err *err,
                            int *rc) {
  size_t words = (size_t)(ix->max_rowid / 64 + 1);
  uint64_t *u = cx_xcalloc(words, sizeof *u);
  for (size_t i = 0; i < n; i++) {
    const uint64_t *b = cx__filter_bits(ix, kind, names[i], err);
    if (b == NULL) {
      *rc = err ? err->code : CX_ESQLITE;
      free(u);
      return NULL;
    }
    for (size_t w = 0; w < words; w++) u[w] |= b[w];
  }
  return u;
}

static int filter_init(cx_index *ix, const cx_search_req *req, filter_state *fs, cx_err *err) {
  memset(fs, 0, sizeof *fs);
  int rc = 0;
  if (req->npacks && (fs->packs = union_bits(ix, 'p', req->packs, req->npacks, err, &rc)) == NULL)
    return rc;
  if (req->ntags && (fs->tags = union_bits(ix, 't', req->tags, req->ntags, err, &rc)) == NULL)
    return rc;
  if (req->id_prefix && *req->id_prefix) {
    size_t words = (size_t)(ix->max_rowid / 64 + 1);
    fs->ids = cx_xcalloc(words, sizeof *fs->ids);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ix->db, "SELECT rowid FROM cards WHERE id LIKE ?1 || '%' ESCAPE '\\'", -1,
                           &st, NULL) != SQLITE_OK)
      return cx__sqlite_err(ix, err, "filtering by id prefix");
    cx__buf esc;
    cx__buf_init(&esc);
    for (const char *p = req->id_prefix; *p; p++) {
      if (*p == '%' || *p == '_' || *p == '\\') cx__buf_putc(&esc, '\\');
      cx__buf_putc(&esc, *p);
    }
    sqlite3_bind_text(st, 1, esc.p, -1, SQLITE_TRANSIENT);
    cx__buf_destroy(&esc);
    while (sqlite3_step(st) == SQLITE_ROW) {
      int64_t r = sqlite3_column_int64(st, 0);
      if (r >= 0 && r <= ix->max_rowid) fs->ids[r / 64] |= 1ull << (r % 64);
    }
    sqlite3_finalize(st);
  }
  fs->f.packs = fs->packs;
  fs->f.tags = fs->tags;
  fs->f.ids = fs->ids;
  return 0;
}

static void filter_destroy(filter_state *fs) {
  free(fs->packs);
  free(fs->tags);
  free(fs->ids);
}

/* ---- snippets ---- */

typedef struct snip_tok {
  int start, end, match; /* match: index+1 of the matched term, 0 none */
} snip_tok;

typedef struct snip_ctx {
  snip_tok *v;
  size_t n, cap;
  const cx_strv *terms;
} snip_ctx;

static int snip_cb(void *ctx, const char *tok, int n, int start, int end) {
  snip_ctx *s = ctx;
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->v = cx_xrealloc(s->v, s->cap * sizeof *s->v);
  }
  int match = 0;
  for (size_t i = 0; i < s->terms->n; i++)
    if ((int)strlen(s->terms->v[i]) == n && memcmp(s->terms->v[i], tok, (size_t)n) == 0) {
      match = (int)i + 1;
      break;
    }
  s->v[s->n++] = (snip_tok){start, end, match};
  return s->n >= 20000;
}

#define SNIP_TOKENS 28

/* The best window of SNIP_TOKENS tokens of text (most distinct matched terms,
 * then most matches, then earliest). Returns its quality, fills *from. */
static int best_window(const snip_ctx *s, size_t *from) {
  int best = -1;
  *from = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (i > 0 && !s->v[i].match) continue; /* windows start at a match (or at 0) */
    size_t start = i > 3 ? i - 3 : 0;
    uint64_t seen = 0;
    int hits = 0;
    for (size_t j = start; j < s->n && j < start + SNIP_TOKENS; j++)
      if (s->v[j].match) {
        seen |= 1ull << ((s->v[j].match - 1) % 64);
        hits++;
      }
    int q = __builtin_popcountll(seen) * 64 + (hits < 63 ? hits : 63);
    if (q > best) {
      best = q;
      *from = start;
    }
  }
  return best;
}

static void render_window(const char *text, const snip_ctx *s, size_t from, const char *open,
                          const char *close, cx__buf *out) {
  if (s->n == 0) return;
  size_t to = from + SNIP_TOKENS < s->n ? from + SNIP_TOKENS : s->n;
  int pos = s->v[from].start;
  if (from > 0) cx__buf_puts(out, "…");
  for (size_t j = from; j < to; j++) {
    const snip_tok *t = &s->v[j];
    cx__buf_add(out, text + pos, (size_t)(t->start - pos));
    if (t->match) cx__buf_puts(out, open);
    cx__buf_add(out, text + t->start, (size_t)(t->end - t->start));
    if (t->match) cx__buf_puts(out, close);
    pos = t->end;
  }
  if (to < s->n) cx__buf_puts(out, "…");
  else cx__buf_puts(out, text + pos);
}

/* The stems a snippet highlights: every alternative's term(s). */
static void query_stems(const cx__query *q, cx_strv *out) {
  for (size_t i = 0; i < q->nslots; i++)
    for (size_t j = 0; j < q->slots[i].nalts; j++) {
      const char *t = q->slots[i].alts[j].term;
      while (*t) {
        const char *sp = strchr(t, ' ');
        size_t len = sp ? (size_t)(sp - t) : strlen(t);
        char *w = cx_xstrndup(t, len);
        if (!cx__strv_contains(out, w)) cx__strv_push(out, w);
        free(w);
        t += len;
        while (*t == ' ') t++;
      }
    }
}

/* A snippet from the card's sections: the window with the most query terms,
 * preferring the plain-English answer; its start when nothing matches. */
static char *make_snippet(cx_index *ix, json_t *card, const cx_strv *stems, const char *open,
                          const char *close) {
  json_t *sections = json_object_get(card, "sections");
  const char *best_text = NULL;
  snip_ctx best = {0};
  size_t best_from = 0;
  int best_q = -1;
  size_t idx;
  json_t *sec;
  /* Tokenising is the cost of a hit: the plain-English answer is tried
   * first and, when it matches any term, the other sections are not. */
  for (int pass = 0; pass < 2; pass++)
  json_array_foreach(sections, idx, sec) {
    const char *name = json_string_value(json_object_get(sec, "name"));
    const char *text = json_string_value(json_object_get(sec, "text"));
    if (text == NULL || *text == '\0' || (name && strcasecmp(name, "Sources") == 0)) continue;
    int is_plain = name && strcasecmp(name, "Plain-English answer") == 0;
    if ((pass == 0) != is_plain) continue;
    if (pass == 1 && best_q >= 64) break;
    snip_ctx s = {NULL, 0, 0, stems};
    cx__tokenize(ix, 1, text, -1, snip_cb, &s);
    size_t from;
    int q = best_window(&s, &from);
    int plain = name && strcasecmp(name, "Plain-English answer") == 0;
    /* The plain-English answer wins ties and empty matches. */
    if (q > best_q || (plain && q >= best_q)) {
      free(best.v);
      best = s;
      best_q = q;
      best_from = from;
      best_text = text;
    } else {
      free(s.v);
    }
  }
  cx__buf out;
  cx__buf_init(&out);
  if (best_text) render_window(best_text, &best, best_from, open, close, &out);
  free(best.v);
  return cx__buf_detach(&out);
}

/* ---- hits ---- */

static json_t *copy_or_empty(json_t *v) { return v ? json_deep_copy(v) : json_array(); }

/* The card's JSON as stored by the builder (cards.json); new reference. */
static json_t *card_json(cx_index *ix, int64_t rowid, cx_err *err) {
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_CARD_BY_ROWID, err);
  if (st == NULL) return NULL;
  sqlite3_bind_int64(st, 1, rowid);
  json_t *card = NULL;
  if (sqlite3_step(st) == SQLITE_ROW) {
    json_error_t jerr;
    card = json_loadb((const char *)sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3),
                      0, &jerr);
    if (card == NULL) {
      cx_err_set(err, CX_ECORRUPT, "", "%s: card row %lld has invalid JSON (%s); rebuild the index",
                 ix->path, (long long)rowid, jerr.text);
    } else {
      /* The columns are authoritative for what is searched. */
      json_object_set_new(card, "id", json_string((const char *)sqlite3_column_text(st, 0)));
      json_object_set_new(card, "query", json_string((const char *)sqlite3_column_text(st, 1)));
    }
  } else {
    cx_err_set(err, CX_ECORRUPT, "", "%s: fts row %lld has no card; rebuild the index", ix->path,
               (long long)rowid);
  }
  sqlite3_reset(st);
  return card;
}

static json_t *hit_from_card(json_t *card, double score) {
  json_t *h = json_object();
  json_object_set(h, "id", json_object_get(card, "id"));
  json_object_set(h, "question", json_object_get(card, "query"));
  json_t *title = json_object_get(card, "title");
  json_object_set_new(h, "title", title && json_is_string(title) ? json_incref(title)
                                                                   : json_incref(json_object_get(card, "query")));
  json_object_set_new(h, "score", json_real(round(score * 1000.0) / 1000.0));
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

static const char *const kind_names[] = {"exact", "identifier", "synonym", "typo", "prefix"};
static const char *const field_names[] = {"question", "tags", "answer", "sources"};

typedef struct has_ctx {
  const char *term;
  int found;
} has_ctx;

static int has_cb(void *ctx, const char *tok, int n, int start, int end) {
  has_ctx *h = ctx;
  if ((int)strlen(h->term) == n && memcmp(h->term, tok, (size_t)n) == 0) h->found = 1;
  return h->found;
}

/* Why a card ranked where it did: the terms that matched, where, and how. */
static json_t *explain_hit(cx_index *ix, const cx__query *q, const cx__hit *hit) {
  json_t *e = json_object();
  json_t *terms = json_array();
  json_t *parts = json_object();
  int matched = 0;
  char *cols[4] = {0};
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ix->db, "SELECT question, tags, answer, sources FROM fts WHERE rowid = ?1",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, hit->rowid);
    if (sqlite3_step(st) == SQLITE_ROW)
      for (int c = 0; c < 4; c++) cols[c] = cx_xstrdup((const char *)sqlite3_column_text(st, c));
    sqlite3_finalize(st);
  }
  for (size_t i = 0; i < q->nslots && i < CX__MAX_SLOTS; i++) {
    int a = hit->slot_alt[i];
    if (a < 0 || hit->slot_score[i] <= 0) continue;
    matched++;
    const cx__qalt *alt = &q->slots[i].alts[a];
    json_t *fields = json_array();
    /* The first stem of a phrase tells where the phrase is. */
    char *first = cx_xstrdup(alt->term);
    char *sp = strchr(first, ' ');
    if (sp) *sp = '\0';
    for (int c = 0; c < 4; c++) {
      has_ctx h = {first, 0};
      if (cols[c]) cx__tokenize(ix, 1, cols[c], -1, has_cb, &h);
      if (h.found) json_array_append_new(fields, json_string(field_names[c]));
    }
    free(first);
    json_t *t = json_object();
    json_object_set_new(t, "term", json_string(alt->text));
    json_object_set_new(t, "stem", json_string(alt->term));
    json_object_set_new(t, "field", json_incref(json_array_size(fields) ? json_array_get(fields, 0)
                                                                        : json_null()));
    json_object_set_new(t, "fields", fields);
    json_object_set_new(t, "kind", json_string(kind_names[alt->kind]));
    json_object_set_new(t, "from", json_string(alt->from));
    json_object_set_new(t, "score", json_real(round(hit->slot_score[i] * 1000.0) / 1000.0));
    json_array_append_new(terms, t);
    json_object_set_new(parts, q->slots[i].word, json_real(round(hit->slot_score[i] * 1000.0) / 1000.0));
  }
  for (int c = 0; c < 4; c++) free(cols[c]);
  json_object_set_new(e, "terms", terms);
  json_object_set_new(e, "matched", json_integer(matched));
  json_object_set_new(e, "of", json_integer((json_int_t)q->nslots));
  json_object_set_new(e, "score_parts", parts);
  return e;
}

/* ---- search ---- */

static int run_query(cx_index *ix, const cx_search_req *req, size_t k, cx__query *q,
                     cx__result *res, cx_err *err) {
  memset(res, 0, sizeof *res);
  int rc = cx__query_parse(ix, req->query, req->raw, 1, q, err);
  if (rc) return rc;
  filter_state fs;
  if ((rc = filter_init(ix, req, &fs, err)) == 0) {
    if (req->raw) rc = cx__rank_raw(ix, q->raw_match, &fs.f, k, res, err);
    else rc = cx__rank(ix, q, &fs.f, k, 0, res, err);
  }
  filter_destroy(&fs);
  if (rc == 0 && cx__deadline_passed(ix)) rc = cx__sqlite_err(ix, err, "searching");
  return rc;
}

static json_t *make_hit(cx_index *ix, const cx__query *q, const cx__hit *hit, const cx_strv *stems,
                        const cx_search_req *req, cx_err *err) {
  json_t *card = card_json(ix, hit->rowid, err);
  if (card == NULL) return NULL;
  json_t *h = hit_from_card(card, hit->score);
  char *snip = make_snippet(ix, card, stems, req->hl_open ? req->hl_open : "**",
                            req->hl_close ? req->hl_close : "**");
  json_object_set_new(h, "snippet", json_string(snip));
  free(snip);
  if (req->explain && !req->raw) json_object_set_new(h, "explain", explain_hit(ix, q, hit));
  json_decref(card);
  return h;
}

int cx_search(cx_index *ix, const cx_search_req *req, json_t **result, cx_err *err) {
  *result = NULL;
  int64_t t0 = cx__now_us();
  cx__deadline_start(ix);
  if (req->limit < 1 || req->limit > CX_MAX_LIMIT)
    return cx_err_set(err, CX_EINVAL, "limit", "`limit` must be an integer from 1 to %d, got %d",
                      CX_MAX_LIMIT, req->limit);
  if (req->offset < 0)
    return cx_err_set(err, CX_EINVAL, "offset", "`offset` must be an integer >= 0, got %d", req->offset);
  cx__query q;
  cx__result res;
  int rc = run_query(ix, req, (size_t)req->offset + (size_t)req->limit, &q, &res, err);
  if (rc) {
    cx__query_destroy(&q);
    cx__result_destroy(&res);
    return rc;
  }
  cx_strv stems = {0};
  query_stems(&q, &stems);
  json_t *hits = json_array();
  for (size_t i = (size_t)req->offset; i < res.nhits && rc == 0; i++) {
    json_t *h = make_hit(ix, &q, &res.hits[i], &stems, req, err);
    if (h == NULL) rc = err ? err->code : CX_ECORRUPT;
    else json_array_append_new(hits, h);
  }
  if (rc == 0) {
    json_t *o = json_object();
    json_object_set_new(o, "total", json_integer(res.total));
    if (!res.total_exact) json_object_set_new(o, "total_is_estimate", json_true());
    json_object_set_new(o, "took_us", json_integer(cx__now_us() - t0));
    if (q.truncated) json_object_set_new(o, "query_truncated", json_true());
    json_object_set_new(o, "hits", hits);
    *result = o;
  } else {
    json_decref(hits);
  }
  cx__strv_free(&stems);
  cx__query_destroy(&q);
  cx__result_destroy(&res);
  return rc;
}

/* ---- answer ---- */

/* Confidence of the best card: how much of the query it covers (by weight of
 * the slots) and by how far it beats the runner-up. docs/ranking.md. */
double cx__confidence(const cx__query *q, const cx__result *res);
double cx__confidence(const cx__query *q, const cx__result *res) {
  if (res->nhits == 0 || q->nslots == 0) return 0.0;
  const cx__hit *h = &res->hits[0];
  double best_possible = 0, got = 0;
  size_t matched = 0, counted = 0;
  for (size_t i = 0; i < q->nslots && i < CX__MAX_SLOTS; i++) {
    if (q->slots[i].nalts && q->slots[i].alts[0].kind == CX__K_SYNONYM) {
      if (h->slot_score[i] > 0) got += 0.5;
      continue; /* a synonym slot restates words already counted */
    }
    counted++;
    best_possible += 1;
    if (h->slot_score[i] > 0) {
      matched++;
      got += h->slot_alt[i] >= 0 && q->slots[i].alts[h->slot_alt[i]].kind <= CX__K_IDENT ? 1.0 : 0.6;
    }
  }
  double coverage = best_possible > 0 ? got / best_possible : 0;
  if (coverage > 1) coverage = 1;
  double margin = 1.0;
  if (res->nhits > 1 && h->score > 0) margin = (h->score - res->hits[1].score) / h->score;
  double c = 0.75 * coverage + 0.25 * (0.5 + 0.5 * margin);
  if (counted == 1 && matched == 1 && h->slot_alt[0] >= 0 && q->slots[0].stop) c *= 0.5;
  return c < 0 ? 0 : c > 1 ? 1 : c;
}

/* Confidence below which answer() says nothing is good enough; measured on
 * tests/eval (docs/ranking.md). */
#ifndef CX_ANSWER_THRESHOLD
#define CX_ANSWER_THRESHOLD 0.65
#endif

static json_t *section_json(json_t *card, const char *name, const char *key) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(card, "sections"), i, s) {
    const char *n = json_string_value(json_object_get(s, "name"));
    if (n && strcasecmp(n, name) == 0) return json_incref(json_object_get(s, key));
  }
  return NULL;
}

int cx_answer(cx_index *ix, const cx_search_req *req, json_t **result, cx_err *err) {
  *result = NULL;
  int64_t t0 = cx__now_us();
  cx__deadline_start(ix);
  cx__query q;
  cx__result res;
  int rc = run_query(ix, req, 4, &q, &res, err);
  if (rc) {
    cx__query_destroy(&q);
    cx__result_destroy(&res);
    return rc;
  }
  double conf = req->raw ? (res.nhits ? 0.5 : 0.0) : cx__confidence(&q, &res);
  int answered = res.nhits > 0 && conf >= CX_ANSWER_THRESHOLD;
  cx_strv stems = {0};
  query_stems(&q, &stems);
  json_t *o = json_object();
  json_object_set_new(o, "answered", json_boolean(answered));
  json_object_set_new(o, "confidence", json_real(round(conf * 1000.0) / 1000.0));
  json_object_set_new(o, "threshold", json_real(CX_ANSWER_THRESHOLD));
  json_t *alts = json_array();
  for (size_t i = 0; i < res.nhits && rc == 0; i++) {
    json_t *h = make_hit(ix, &q, &res.hits[i], &stems, req, err);
    if (h == NULL) {
      rc = err ? err->code : CX_ECORRUPT;
      break;
    }
    if (i == 0 && answered) {
      json_t *card = card_json(ix, res.hits[0].rowid, err);
      json_t *text = card ? section_json(card, "Plain-English answer", "text") : NULL;
      json_t *md = card ? section_json(card, "Plain-English answer", "markdown") : NULL;
      json_object_set_new(o, "card", h);
      json_object_set_new(o, "answer", text ? text : json_string(json_string_value(json_object_get(h, "snippet"))));
      json_object_set_new(o, "answer_markdown", md ? md : json_null());
      json_decref(card);
    } else {
      json_array_append_new(alts, h);
    }
  }
  if (!answered) {
    json_object_set_new(o, "card", json_null());
    json_object_set_new(o, "answer", json_null());
    json_object_set_new(o, "answer_markdown", json_null());
  }
  json_object_set_new(o, "alternatives", alts);
  json_object_set_new(o, "took_us", json_integer(cx__now_us() - t0));
  cx__strv_free(&stems);
  cx__query_destroy(&q);
  cx__result_destroy(&res);
  if (rc) {
    json_decref(o);
    return rc;
  }
  *result = o;
  return 0;
}

/* ---- get ---- */

static int rowid_of(cx_index *ix, const char *id, int64_t *rowid, cx_err *err) {
  if (id == NULL || *id == '\0')
    return cx_err_set(err, CX_EINVAL, "id", "`id` must be a non-empty card id such as \"Q077\"");
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_ROWID_BY_ID, err);
  if (st == NULL) return CX_ESQLITE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int found = sqlite3_step(st) == SQLITE_ROW;
  if (found) *rowid = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (!found) {
    /* "q77" for "Q077": try the zero-padded forms of the number. */
    size_t i = 0;
    while (id[i] && !(id[i] >= '0' && id[i] <= '9')) i++;
    if (i > 0 && i < 8 && id[i] && strspn(id + i, "0123456789") == strlen(id + i) && strlen(id + i) < 8) {
      for (size_t width = strlen(id + i) + 1; width <= 7 && !found; width++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%.*s%0*ld", (int)i, id, (int)width, strtol(id + i, NULL, 10));
        sqlite3_bind_text(st, 1, buf, -1, SQLITE_TRANSIENT);
        found = sqlite3_step(st) == SQLITE_ROW;
        if (found) *rowid = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
      }
    }
  }
  if (!found) return cx_err_set(err, CX_ENOTFOUND, "id", "no card has id %s", id);
  return 0;
}

int cx_get(cx_index *ix, const char *id, json_t **result, cx_err *err) {
  *result = NULL;
  int64_t rowid;
  int rc = rowid_of(ix, id, &rowid, err);
  if (rc) return rc;
  json_t *card = card_json(ix, rowid, err);
  if (card == NULL) return err ? err->code : CX_ECORRUPT;
  *result = card;
  return 0;
}

/* ---- suggest ---- */

int cx_suggest(cx_index *ix, const char *prefix, int limit, json_t **result, cx_err *err) {
  *result = NULL;
  if (limit < 1 || limit > 50)
    return cx_err_set(err, CX_EINVAL, "limit", "`limit` must be an integer from 1 to 50, got %d", limit);
  if (prefix == NULL) prefix = "";
  cx__deadline_start(ix);
  json_t *sugg = json_array();
  cx_search_req req = {.query = prefix, .limit = limit};
  cx__query q;
  cx__result res;
  int rc = run_query(ix, &req, (size_t)limit, &q, &res, err);
  if (rc == 0) {
    /* Questions first: the cards a person is most likely typing towards. */
    size_t nq = res.nhits < (size_t)(limit + 1) / 2 ? res.nhits : (size_t)(limit + 1) / 2;
    for (size_t i = 0; i < nq; i++) {
      sqlite3_stmt *st = cx__stmt(ix, CX__ST_CARD_BY_ROWID, err);
      if (st == NULL) break;
      sqlite3_bind_int64(st, 1, res.hits[i].rowid);
      if (sqlite3_step(st) == SQLITE_ROW) {
        json_t *s = json_object();
        json_object_set_new(s, "kind", json_string("question"));
        json_object_set_new(s, "text", json_string((const char *)sqlite3_column_text(st, 1)));
        json_object_set_new(s, "id", json_string((const char *)sqlite3_column_text(st, 0)));
        json_array_append_new(sugg, s);
      }
      sqlite3_reset(st);
    }
    /* Then completions of the last word from the corpus's own words. */
    size_t len = strlen(prefix), start = len;
    while (start > 0 && ((unsigned char)prefix[start - 1] >= 0x80 ||
                         (prefix[start - 1] >= 'a' && prefix[start - 1] <= 'z') ||
                         (prefix[start - 1] >= 'A' && prefix[start - 1] <= 'Z') ||
                         (prefix[start - 1] >= '0' && prefix[start - 1] <= '9')))
      start--;
    if (start < len && cx__load_words(ix) == 0) {
      char *last = cx_xstrndup(prefix + start, len - start);
      for (char *p = last; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
      size_t ll = strlen(last), lo = 0, hi = ix->nwords;
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(ix->words[mid].word, last) < 0) lo = mid + 1;
        else hi = mid;
      }
      /* The most frequent completions, by df. */
      size_t want = (size_t)limit - json_array_size(sugg);
      const cx__vword **best = cx_xcalloc(want + 1, sizeof *best);
      size_t nbest = 0;
      for (size_t i = lo; i < ix->nwords && strncmp(ix->words[i].word, last, ll) == 0; i++) {
        const cx__vword *w = &ix->words[i];
        size_t pos = nbest;
        while (pos > 0 && best[pos - 1]->df < w->df) pos--;
        if (pos >= want) continue;
        if (nbest < want) nbest++;
        memmove(&best[pos + 1], &best[pos], (nbest - 1 - pos) * sizeof *best);
        best[pos] = w;
      }
      for (size_t i = 0; i < nbest; i++) {
        cx__buf t;
        cx__buf_init(&t);
        cx__buf_add(&t, prefix, start);
        cx__buf_puts(&t, best[i]->word);
        json_t *s = json_object();
        json_object_set_new(s, "kind", json_string("term"));
        json_object_set_new(s, "text", json_string(t.p));
        json_object_set_new(s, "df", json_integer(best[i]->df));
        json_array_append_new(sugg, s);
        cx__buf_destroy(&t);
      }
      free(best);
      free(last);
    }
  }
  cx__query_destroy(&q);
  cx__result_destroy(&res);
  if (rc) {
    json_decref(sugg);
    return rc;
  }
  json_t *o = json_object();
  json_object_set_new(o, "prefix", json_string(prefix));
  json_object_set_new(o, "suggestions", sugg);
  *result = o;
  return 0;
}

/* ---- related ---- */

typedef struct rel {
  int64_t rowid;
  const char *reason;
  double score;
} rel;

static int rel_has(const rel *v, size_t n, int64_t rowid) {
  for (size_t i = 0; i < n; i++)
    if (v[i].rowid == rowid) return 1;
  return 0;
}

int cx_related(cx_index *ix, const char *id, int limit, json_t **result, cx_err *err) {
  *result = NULL;
  if (limit < 1 || limit > 50)
    return cx_err_set(err, CX_EINVAL, "limit", "`limit` must be an integer from 1 to 50, got %d", limit);
  cx__deadline_start(ix);
  int64_t self;
  int rc = rowid_of(ix, id, &self, err);
  if (rc) return rc;
  rel *v = cx_xcalloc((size_t)limit, sizeof *v);
  size_t n = 0;
  /* 1. Explicit follow-up links, in the card's order. */
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_LINKS, err);
  if (st == NULL) rc = CX_ESQLITE;
  cx_strv targets = {0};
  if (st) {
    sqlite3_bind_int64(st, 1, self);
    while (sqlite3_step(st) == SQLITE_ROW) cx__strv_push(&targets, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
  }
  for (size_t i = 0; i < targets.n && n < (size_t)limit; i++) {
    int64_t r;
    if (rowid_of(ix, targets.v[i], &r, NULL) == 0 && r != self && !rel_has(v, n, r))
      v[n++] = (rel){r, "link", 0};
  }
  cx__strv_free(&targets);
  /* 2. Cards sharing clause ids. */
  cx_strv clauses = {0};
  if (rc == 0 && (st = cx__stmt(ix, CX__ST_CLAUSES, err)) != NULL) {
    sqlite3_bind_int64(st, 1, self);
    while (sqlite3_step(st) == SQLITE_ROW) cx__strv_push(&clauses, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
  }
  for (size_t i = 0; i < clauses.n && n < (size_t)limit && rc == 0; i++) {
    if ((st = cx__stmt(ix, CX__ST_CARDS_BY_CLAUSE, err)) == NULL) break;
    sqlite3_bind_text(st, 1, clauses.v[i], -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW && n < (size_t)limit) {
      int64_t r = sqlite3_column_int64(st, 0);
      if (r != self && !rel_has(v, n, r)) v[n++] = (rel){r, "clause", 0};
    }
    sqlite3_reset(st);
  }
  cx__strv_free(&clauses);
  /* 3. More like this: the card's question as a query. */
  if (rc == 0 && n < (size_t)limit) {
    json_t *card = card_json(ix, self, err);
    if (card) {
      cx__buf text;
      cx__buf_init(&text);
      cx__buf_puts(&text, json_string_value(json_object_get(card, "query")));
      json_t *title = json_object_get(card, "title");
      if (json_is_string(title)) {
        cx__buf_putc(&text, ' ');
        cx__buf_puts(&text, json_string_value(title));
      }
      cx__buf_putc(&text, ' ');
      json_decref(card);
      cx__query q;
      cx__result res;
      cx_search_req req = {.query = text.p, .limit = limit};
      filter_state fs;
      memset(&fs, 0, sizeof fs);
      if (cx__query_parse(ix, req.query, 0, 0, &q, err) == 0 &&
          cx__rank(ix, &q, &fs.f, (size_t)limit + n + 1, 0, &res, err) == 0) {
        for (size_t i = 0; i < res.nhits && n < (size_t)limit; i++)
          if (res.hits[i].rowid != self && !rel_has(v, n, res.hits[i].rowid))
            v[n++] = (rel){res.hits[i].rowid, "terms", res.hits[i].score};
        cx__result_destroy(&res);
      }
      cx__query_destroy(&q);
      cx__buf_destroy(&text);
    }
  }
  json_t *hits = json_array();
  for (size_t i = 0; i < n && rc == 0; i++) {
    json_t *card = card_json(ix, v[i].rowid, err);
    if (card == NULL) {
      rc = err ? err->code : CX_ECORRUPT;
      break;
    }
    json_t *h = hit_from_card(card, v[i].score);
    json_t *sections = json_object_get(card, "sections");
    json_t *snip = NULL;
    size_t k;
    json_t *s;
    json_array_foreach(sections, k, s) if (strcasecmp(json_string_value(json_object_get(s, "name")) ?
                                                      json_string_value(json_object_get(s, "name")) : "",
                                                      "Plain-English answer") == 0)
        snip = json_object_get(s, "text");
    json_object_set_new(h, "snippet", snip ? json_incref(snip) : json_string(""));
    json_object_set_new(h, "reason", json_string(v[i].reason));
    json_array_append_new(hits, h);
    json_decref(card);
  }
  free(v);
  if (rc) {
    json_decref(hits);
    return rc;
  }
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(id));
  json_object_set_new(o, "hits", hits);
  *result = o;
  return 0;
}
