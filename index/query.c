/* query.c — the query API: search, answer, get, suggest, related; hits, snippets, explanations. */
#include "rank_internal.h"
#include "cx_json.h"

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
    size_t lo, hi;
    int rc2 = cx__id_range(ix, req->id_prefix, &lo, &hi, err);
    if (rc2) return rc2;
    fs->ids = cx_xcalloc((size_t)(ix->max_rowid / 64 + 1), sizeof *fs->ids);
    for (size_t i = lo; i < hi; i++) {
      int64_t r = ix->ids[i].rowid;
      if (r >= 0 && r <= ix->max_rowid) fs->ids[r / 64] |= 1ull << (r % 64);
    }
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

/* ---- hits ---- */

/* The stems a snippet highlights: every alternative's term(s), as hashes. */
static void snip_terms_init(const cx__query *q, cx__snip_terms *t) {
  t->n = 0;
  size_t cap = 16;
  t->hash = cx_xmalloc(cap * sizeof *t->hash);
  for (size_t i = 0; i < q->nslots; i++)
    for (size_t j = 0; j < q->slots[i].nalts; j++) {
      const char *p = q->slots[i].alts[j].term;
      while (*p) {
        size_t len = strcspn(p, " ");
        uint32_t h = cx__term_hash(p, len);
        size_t k = 0;
        while (k < t->n && t->hash[k] != h) k++;
        if (k == t->n) {
          if (t->n == cap) t->hash = cx_xrealloc(t->hash, (cap *= 2) * sizeof *t->hash);
          t->hash[t->n++] = h;
        }
        p += len;
        while (*p == ' ') p++;
      }
    }
  /* The first 200 terms (a long question with typo and prefix alternatives
   * can have more; those are not highlighted): far below the set's slots,
   * so a probe always ends at an empty one, most often the first. */
  memset(t->set, 0, sizeof t->set);
  for (size_t i = 0; i < t->n && i < 200; i++) {
    size_t h = t->hash[i] & (CX__SNIP_SET - 1);
    while (t->set[h]) h = (h + 1) & (CX__SNIP_SET - 1);
    t->set[h] = (uint16_t)(i + 1);
  }
}

static void snip_terms_destroy(cx__snip_terms *t) {
  free(t->hash);
  t->hash = NULL;
  t->n = 0;
}

static const char *const kind_names[] = {"exact", "identifier", "synonym", "typo", "prefix", "phrase"};
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

/* A query with nothing in it but whitespace. */
static int blank(const char *s) {
  if (s == NULL) return 1;
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return 0;
  return 1;
}

/* An empty query with a filter lists the matching cards in id order (what
 * completing "Q07" needs); with no filter it matches nothing. */
static int list_cards(cx_index *ix, const cx_search_req *req, const cx__filter *f, size_t k,
                      cx__result *res, cx_err *err) {
  res->total_exact = 1;
  if (!f->packs && !f->tags && !f->ids) return 0;
  size_t lo, hi;
  int rc = cx__id_range(ix, req->id_prefix, &lo, &hi, err);
  if (rc) return rc;
  res->hits = cx_xcalloc(k ? k : 1, sizeof *res->hits);
  for (size_t i = lo; i < hi; i++) {
    if (!cx__filter_pass(f, ix->ids[i].rowid)) continue;
    if (res->nhits < k) {
      cx__hit *h = &res->hits[res->nhits++];
      h->rowid = ix->ids[i].rowid;
      memset(h->slot_alt, -1, sizeof h->slot_alt);
    }
    res->total++;
  }
  return 0;
}

static int run_query(cx_index *ix, const cx_search_req *req, size_t k, cx__query *q,
                     cx__result *res, cx_err *err) {
  memset(res, 0, sizeof *res);
  int rc = cx__query_parse(ix, req->query, req->raw, 1, q, err);
  if (rc) return rc;
  filter_state fs;
  if ((rc = filter_init(ix, req, &fs, err)) == 0) {
    if (blank(req->query)) rc = list_cards(ix, req, &fs.f, k, res, err);
    else if (req->raw) rc = cx__rank_raw(ix, q->raw_match, &fs.f, k, res, err);
    else rc = cx__rank(ix, q, &fs.f, k, 0, res, err);
  }
  filter_destroy(&fs);
  if (rc == 0 && cx__deadline_passed(ix)) rc = cx__sqlite_err(ix, err, "searching");
  return rc;
}

static json_t *make_hit(cx_index *ix, const cx__query *q, const cx__hit *hit,
                        const cx__snip_terms *terms, const cx_search_req *req, cx_err *err) {
  cx__hentry *e = cx__hentry_get(ix, hit->rowid, err);
  if (e == NULL) return NULL;
  json_t *h = cx__hit_json(ix, e, hit->score, terms, req->hl_open ? req->hl_open : "**",
                           req->hl_close ? req->hl_close : "**");
  if (req->explain && !req->raw) json_object_set_new(h, "explain", explain_hit(ix, q, hit));
  return h;
}

/* Snippets are built without re-checking their bytes (query_hit.c): the
 * markers a C caller passes are checked here, once. */
static int valid_markers(const cx_search_req *req) {
  const char *m[2] = {req->hl_open, req->hl_close};
  for (int i = 0; i < 2; i++) {
    if (m[i] == NULL) continue;
    json_t *s = json_string(m[i]);
    if (s == NULL) return 0;
    json_decref(s);
  }
  return 1;
}

/* What cx_search and cx__search_text share: the request checked and run,
 * snippet terms made. On error q and res are already released. */
static int search_start(cx_index *ix, const cx_search_req *req, cx__query *q, cx__result *res,
                        cx__snip_terms *terms, cx_err *err) {
  cx__deadline_start(ix);
  if (req->limit < 1 || req->limit > CX_MAX_LIMIT)
    return cx_err_set(err, CX_EINVAL, "limit", "`limit` must be an integer from 1 to %d, got %d",
                      CX_MAX_LIMIT, req->limit);
  if (req->offset < 0)
    return cx_err_set(err, CX_EINVAL, "offset", "`offset` must be an integer >= 0, got %d", req->offset);
  if (!valid_markers(req))
    return cx_err_set(err, CX_EINVAL, "highlight", "`highlight` markers must be valid UTF-8");
  int rc = run_query(ix, req, (size_t)req->offset + (size_t)req->limit, q, res, err);
  if (rc) {
    cx__query_destroy(q);
    cx__result_destroy(res);
    return rc;
  }
  snip_terms_init(q, terms);
  return 0;
}

int cx_search(cx_index *ix, const cx_search_req *req, json_t **result, cx_err *err) {
  *result = NULL;
  int64_t t0 = cx__now_us();
  cx__query q;
  cx__result res;
  cx__snip_terms terms;
  int rc = search_start(ix, req, &q, &res, &terms, err);
  if (rc) return rc;
  json_t *hits = json_array();
  for (size_t i = (size_t)req->offset; i < res.nhits && rc == 0; i++) {
    json_t *h = make_hit(ix, &q, &res.hits[i], &terms, req, err);
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
  snip_terms_destroy(&terms);
  cx__query_destroy(&q);
  cx__result_destroy(&res);
  return rc;
}

/* The same result as text. Hits are written first, where the result will
 * be, and the head ("total", "took_us" measured after the hits as in
 * cx_search, ...) is put in front of them at the end: one memmove of a few
 * KB instead of a second buffer. */
int cx__search_text(cx_index *ix, const cx_search_req *req, cx__buf *out, cx_err *err) {
  int64_t t0 = cx__now_us();
  cx__query q;
  cx__result res;
  cx__snip_terms terms;
  int rc = search_start(ix, req, &q, &res, &terms, err);
  if (rc) return rc;
  size_t start = out->n;
  cx__buf scratch;
  cx__buf_init(&scratch);
  cx__buf_puts(out, ",\"hits\":[");
  if ((size_t)req->offset < res.nhits)
    cx__hits_prefetch(ix, res.hits + req->offset, res.nhits - (size_t)req->offset);
  for (size_t i = (size_t)req->offset; i < res.nhits && rc == 0; i++) {
    if (i > (size_t)req->offset) cx__buf_putc(out, ',');
    const cx__hit *hit = &res.hits[i];
    cx__hentry *e = NULL;
    if (!(req->explain && !req->raw)) {
      e = cx__hentry_get(ix, hit->rowid, err);
      if (e == NULL) {
        rc = err ? err->code : CX_ECORRUPT;
        break;
      }
    }
    if (e == NULL || cx__hit_write(ix, e, hit->score, &terms, req->hl_open ? req->hl_open : "**",
                                   req->hl_close ? req->hl_close : "**", out, &scratch) != 0) {
      json_t *h = make_hit(ix, &q, hit, &terms, req, err);
      if (h == NULL) rc = err ? err->code : CX_ECORRUPT;
      else cx__json_write(out, h);
      json_decref(h);
    }
  }
  cx__buf_destroy(&scratch);
  if (rc == 0) {
    cx__buf_puts(out, "]}");
    char head[160];
    int hn = snprintf(head, sizeof head, "{\"total\":%lld%s,\"took_us\":%lld%s",
                      (long long)res.total, res.total_exact ? "" : ",\"total_is_estimate\":true",
                      (long long)(cx__now_us() - t0), q.truncated ? ",\"query_truncated\":true" : "");
    size_t body = out->n - start;
    cx__buf_add(out, head, (size_t)hn); /* room for the head */
    memmove(out->p + start + hn, out->p + start, body);
    memcpy(out->p + start, head, (size_t)hn);
  } else {
    out->n = start;
    if (out->p) out->p[start] = '\0';
  }
  snip_terms_destroy(&terms);
  cx__query_destroy(&q);
  cx__result_destroy(&res);
  return rc;
}

/* ---- answer ---- */

/* How much a slot matters: the idf of its literal form (its first
 * alternative), so that a rare word no card has ("hipaa") weighs more than
 * a common one every card has. */
static double slot_importance(cx_index *ix, const cx__qslot *s) {
  if (s->nalts == 0) return 0;
  const cx__qalt *a = &s->alts[0];
  double idf = cx__idf(ix->ncards, cx__term_df(ix, a->term, a->phrase ? a->text : NULL));
  return s->stop ? 0.3 * idf : idf;
}

/* Confidence of the best card: how much of what the person asked it covers,
 * each slot weighted by its importance (a literal or identifier match counts
 * fully, a typo or prefix 0.6, a synonym standing for its words 0.85), and
 * by how far it beats the runner-up. docs/ranking.md. */
double cx__confidence(cx_index *ix, const cx__query *q, const cx__result *res);
double cx__confidence(cx_index *ix, const cx__query *q, const cx__result *res) {
  if (res->nhits == 0 || q->nslots == 0) return 0.0;
  const cx__hit *h = &res->hits[0];
  size_t ns = q->nslots < CX__MAX_SLOTS ? q->nslots : CX__MAX_SLOTS;
  double total = 0, got = 0;
  double gw[CX__MAX_SLOTS] = {0}, gtot[CX__MAX_SLOTS] = {0};
  int gsyn[CX__MAX_SLOTS] = {0};
  size_t matched = 0, counted = 0;
  for (size_t i = 0; i < ns; i++) {
    const cx__qslot *s = &q->slots[i];
    int g = s->group;
    int hit = h->slot_score[i] > 0 && h->slot_alt[i] >= 0;
    if (s->syn == 2) continue; /* a bonus, not something asked for */
    if (s->syn && g >= 0) {
      gsyn[g] = hit;
      continue;
    }
    double imp = slot_importance(ix, s);
    double credit = !hit ? 0 : s->syn ? 0.85 : s->alts[h->slot_alt[i]].kind <= CX__K_IDENT ? 1.0 : 0.6;
    counted++;
    matched += hit;
    if (g >= 0) {
      gw[g] += imp * credit;
      gtot[g] += imp;
    } else {
      total += imp;
      got += imp * credit;
    }
  }
  for (int g = 0; g < q->ngroups && g < CX__MAX_SLOTS; g++) {
    total += gtot[g];
    got += gsyn[g] && 0.85 * gtot[g] > gw[g] ? 0.85 * gtot[g] : gw[g];
  }
  double coverage = total > 0 ? got / total : 0;
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
#define CX_ANSWER_THRESHOLD 0.60
#endif

/* The markdown of a card's plain-English answer, or null. */
static json_t *plain_markdown(cx_index *ix, int64_t rowid, cx_err *err) {
  sqlite3_stmt *st = cx__stmt(ix, CX__ST_SECTION, err);
  if (st == NULL) return NULL;
  sqlite3_bind_int64(st, 1, rowid);
  sqlite3_bind_text(st, 2, "Plain-English answer", -1, SQLITE_STATIC);
  json_t *md = NULL;
  if (sqlite3_step(st) == SQLITE_ROW) md = json_string((const char *)sqlite3_column_text(st, 0));
  sqlite3_reset(st);
  return md ? md : json_null();
}

int cx_answer(cx_index *ix, const cx_search_req *req, json_t **result, cx_err *err) {
  *result = NULL;
  int64_t t0 = cx__now_us();
  cx__deadline_start(ix);
  if (!valid_markers(req))
    return cx_err_set(err, CX_EINVAL, "highlight", "`highlight` markers must be valid UTF-8");
  cx__query q;
  cx__result res;
  int rc = run_query(ix, req, 4, &q, &res, err);
  if (rc) {
    cx__query_destroy(&q);
    cx__result_destroy(&res);
    return rc;
  }
  double conf = req->raw ? (res.nhits ? 0.5 : 0.0) : cx__confidence(ix, &q, &res);
  int answered = res.nhits > 0 && conf >= CX_ANSWER_THRESHOLD;
  cx__snip_terms terms;
  snip_terms_init(&q, &terms);
  json_t *o = json_object();
  json_object_set_new(o, "answered", json_boolean(answered));
  json_object_set_new(o, "confidence", json_real(round(conf * 1000.0) / 1000.0));
  json_object_set_new(o, "threshold", json_real(CX_ANSWER_THRESHOLD));
  json_t *alts = json_array();
  for (size_t i = 0; i < res.nhits && rc == 0; i++) {
    json_t *h = make_hit(ix, &q, &res.hits[i], &terms, req, err);
    if (h == NULL) {
      rc = err ? err->code : CX_ECORRUPT;
      break;
    }
    if (i == 0 && answered) {
      /* The entry is the one make_hit just used: still cached. */
      const char *text = cx__hentry_plain(cx__hentry_get(ix, res.hits[0].rowid, err));
      json_object_set_new(o, "card", h);
      json_object_set_new(o, "answer", text ? json_string(text)
                                            : json_copy(json_object_get(h, "snippet")));
      json_object_set_new(o, "answer_markdown", plain_markdown(ix, res.hits[0].rowid, err));
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
  snip_terms_destroy(&terms);
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
  json_t *card = cx__card_json(ix, rowid, err);
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
    for (size_t i = 0; i < nq && rc == 0; i++) {
      cx__hentry *e = cx__hentry_get(ix, res.hits[i].rowid, err);
      if (e == NULL) {
        rc = err ? err->code : CX_ECORRUPT;
        break;
      }
      json_t *base = cx__hentry_base(e);
      json_t *s = json_object();
      json_object_set_new(s, "kind", json_string("question"));
      json_object_set(s, "text", json_object_get(base, "question"));
      json_object_set(s, "id", json_object_get(base, "id"));
      json_array_append_new(sugg, s);
    }
    /* Then completions of the last word from the corpus's own words. */
    size_t len = strlen(prefix), start = len;
    while (start > 0 && ((unsigned char)prefix[start - 1] >= 0x80 ||
                         (prefix[start - 1] >= 'a' && prefix[start - 1] <= 'z') ||
                         (prefix[start - 1] >= 'A' && prefix[start - 1] <= 'Z') ||
                         (prefix[start - 1] >= '0' && prefix[start - 1] <= '9')))
      start--;
    if (rc == 0 && start < len && cx__load_words(ix) == 0) {
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
    cx__hentry *e = cx__hentry_get(ix, self, err);
    if (e) {
      json_t *base = cx__hentry_base(e);
      cx__buf text;
      cx__buf_init(&text);
      /* A damaged cx_hits row may lack the question: no terms, not UB. */
      const char *question = json_string_value(json_object_get(base, "question"));
      cx__buf_puts(&text, question ? question : "");
      const char *title = json_string_value(json_object_get(base, "title"));
      if (title && strcmp(title, text.p) != 0) {
        cx__buf_putc(&text, ' ');
        cx__buf_puts(&text, title);
      }
      cx__buf_putc(&text, ' '); /* no prefix expansion of the last word */
      cx__query q;
      cx__result res;
      memset(&res, 0, sizeof res);
      cx__filter none = {0};
      if (cx__query_parse(ix, text.p, 0, 0, &q, err) == 0 &&
          cx__rank(ix, &q, &none, (size_t)limit + n + 1, 0, &res, err) == 0) {
        for (size_t i = 0; i < res.nhits && n < (size_t)limit; i++)
          if (res.hits[i].rowid != self && !rel_has(v, n, res.hits[i].rowid))
            v[n++] = (rel){res.hits[i].rowid, "terms", res.hits[i].score};
      }
      cx__result_destroy(&res);
      cx__query_destroy(&q);
      cx__buf_destroy(&text);
    } else {
      rc = err ? err->code : CX_ECORRUPT;
    }
  }
  json_t *hits = json_array();
  for (size_t i = 0; i < n && rc == 0; i++) {
    cx__hentry *e = cx__hentry_get(ix, v[i].rowid, err);
    if (e == NULL) {
      rc = err ? err->code : CX_ECORRUPT;
      break;
    }
    /* The whole plain-English answer: there is no query to window around. */
    json_t *h = json_object();
    json_object_update(h, cx__hentry_base(e));
    json_object_set_new(h, "score", json_real(round(v[i].score * 1000.0) / 1000.0));
    const char *plain = cx__hentry_plain(e);
    json_object_set_new(h, "snippet", json_string(plain ? plain : ""));
    json_object_set_new(h, "reason", json_string(v[i].reason));
    json_array_append_new(hits, h);
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
