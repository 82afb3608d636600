/* rank.c — the engine's scoring: an FTS5 auxiliary function, and the exhaustive and raw plans. */
#include "rank_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double cx__idf(int64_t n, int64_t df) {
  if (df <= 0) df = 1;
  if (n < df) n = df;
  return log(1.0 + ((double)(n - df) + 0.5) / ((double)df + 0.5));
}

/* BM25F: per-field term frequencies, normalised by field length, weighted,
 * summed, then saturated once; quantised to 1..255 so that the postings can
 * store it in one byte and every plan scores with the same numbers. */
int cx__impact(const int tf[4], const int len[4], const double avglen[4]) {
  static const double w[4] = {CX__W_QUESTION, CX__W_TAGS, CX__W_ANSWER, CX__W_SOURCES};
  double t = 0;
  for (int c = 0; c < 4; c++) {
    if (tf[c] == 0) continue;
    double norm = avglen[c] > 0 ? 1.0 - CX__B + CX__B * (double)len[c] / avglen[c] : 1.0;
    t += w[c] * (double)tf[c] / norm;
  }
  double sat = t / (t + CX__K1);
  int q = (int)lround(sat * 255.0);
  return q < 1 ? 1 : q > 255 ? 255 : q;
}


/* ---- the auxiliary function ----
 * cx_rank(fts, plan) for a MATCH of every alternative of the plan as one
 * phrase each, in plan order: the card's score under the engine's model,
 * and per slot which alternative won (written to plan->scratch). */

static void rank_aux(const Fts5ExtensionApi *api, Fts5Context *fctx, sqlite3_context *ctx, int nval,
                     sqlite3_value **val) {
  cx__plan *plan = nval > 0 ? sqlite3_value_pointer(val[0], "cx_plan") : NULL;
  if (plan == NULL) {
    sqlite3_result_error(ctx, "cx_rank: missing plan", -1);
    return;
  }
  int len[4] = {0}, rc;
  if (!plan->have_avg) {
    sqlite3_int64 nrow = 0, tot;
    api->xRowCount(fctx, &nrow);
    for (int c = 0; c < 4; c++) {
      api->xColumnTotalSize(fctx, c, &tot);
      plan->avglen[c] = nrow > 0 ? (double)tot / (double)nrow : 0;
    }
    plan->have_avg = 1;
  }
  for (int c = 0; c < 4; c++) api->xColumnSize(fctx, c, &len[c]);
  int ninst = 0;
  if ((rc = api->xInstCount(fctx, &ninst)) != SQLITE_OK) {
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  int (*tf)[4] = plan->tf;
  memset(tf, 0, sizeof(int[4]) * plan->nalts);
  for (int i = 0; i < ninst; i++) {
    int ph, col, off;
    if (api->xInst(fctx, i, &ph, &col, &off) == SQLITE_OK && ph >= 0 && (size_t)ph < plan->nalts &&
        col >= 0 && col < 4)
      tf[ph][col]++;
  }
  double score = 0;
  for (size_t s = 0; s < plan->nslots; s++) {
    plan->slot_score[s] = 0;
    plan->slot_alt[s] = -1;
  }
  for (size_t a = 0; a < plan->nalts; a++) {
    if ((tf[a][0] | tf[a][1] | tf[a][2] | tf[a][3]) == 0) continue;
    int q = cx__impact(tf[a], len, plan->avglen);
    double c = cx__contribution(plan->alts[a].weight, plan->alts[a].idf, q);
    int s = plan->alts[a].slot;
    if (c > plan->slot_score[s]) {
      plan->slot_score[s] = c;
      plan->slot_alt[s] = (signed char)plan->alts[a].alt;
    }
  }
  score = cx__combine(plan, plan->slot_score);
  sqlite3_result_double(ctx, score);
}

/* q of the single phrase of the current row (engine post-build). */
static void impact_aux(const Fts5ExtensionApi *api, Fts5Context *fctx, sqlite3_context *ctx,
                       int nval, sqlite3_value **val) {
  int len[4] = {0}, tf[4] = {0}, ninst = 0;
  double avg[4];
  sqlite3_int64 nrow = 0, tot;
  api->xRowCount(fctx, &nrow);
  for (int c = 0; c < 4; c++) {
    api->xColumnTotalSize(fctx, c, &tot);
    avg[c] = nrow > 0 ? (double)tot / (double)nrow : 0;
    api->xColumnSize(fctx, c, &len[c]);
  }
  api->xInstCount(fctx, &ninst);
  for (int i = 0; i < ninst; i++) {
    int ph, col, off;
    if (api->xInst(fctx, i, &ph, &col, &off) == SQLITE_OK && col >= 0 && col < 4) tf[col]++;
  }
  sqlite3_result_int(ctx, cx__impact(tf, len, avg));
}

int cx__register_aux(fts5_api *api) {
  int rc = api->xCreateFunction(api, "cx_rank", NULL, rank_aux, NULL);
  if (rc == SQLITE_OK) rc = api->xCreateFunction(api, "cx_impact", NULL, impact_aux, NULL);
  return rc;
}

/* ---- plans ---- */

static void quote_phrase(cx__buf *b, const char *text) {
  cx__buf_putc(b, '"');
  for (const char *p = text; *p; p++) {
    if (*p == '"') cx__buf_putc(b, '"');
    cx__buf_putc(b, *p);
  }
  cx__buf_putc(b, '"');
}

static int64_t phrase_df_fts(cx_index *ix, const char *text) {
  cx__buf m;
  cx__buf_init(&m);
  quote_phrase(&m, text);
  sqlite3_stmt *st;
  int64_t df = 0;
  if (sqlite3_prepare_v2(ix->db, "SELECT count(*) FROM fts WHERE fts MATCH ?1", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, m.p, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) df = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  cx__buf_destroy(&m);
  return df;
}

double cx__combine(const cx__plan *plan, const double *slot_score) {
  double score = 0;
  if (plan->ngroups == 0) {
    for (size_t s = 0; s < plan->nslots; s++) score += slot_score[s];
    return score;
  }
  /* Called for every card scored: only the groups' entries are cleared. */
  double words[CX__MAX_SLOTS], syn[CX__MAX_SLOTS], bonus[CX__MAX_SLOTS];
  for (int g = 0; g < plan->ngroups; g++) words[g] = syn[g] = bonus[g] = 0;
  for (size_t s = 0; s < plan->nslots; s++) {
    int g = plan->group[s];
    if (g < 0) score += slot_score[s];
    else if (plan->syn[s] == 1) syn[g] = slot_score[s];
    else if (plan->syn[s] == 2) bonus[g] = slot_score[s];
    else words[g] += slot_score[s];
  }
  for (int g = 0; g < plan->ngroups; g++)
    score += (words[g] > syn[g] ? words[g] : syn[g]) + bonus[g];
  return score;
}

void cx__plan_init(cx_index *ix, const cx__query *q, cx__plan *plan) {
  memset(plan, 0, sizeof *plan);
  plan->nslots = q->nslots < CX__MAX_SLOTS ? q->nslots : CX__MAX_SLOTS;
  for (size_t s = 0; s < plan->nslots; s++) plan->nalts += q->slots[s].nalts;
  plan->alts = cx_xcalloc(plan->nalts ? plan->nalts : 1, sizeof *plan->alts);
  plan->tf = cx_xcalloc(plan->nalts ? plan->nalts : 1, sizeof *plan->tf);
  plan->ngroups = q->ngroups;
  for (size_t s = 0; s < plan->nslots; s++) {
    plan->group[s] = (signed char)(q->slots[s].group < q->ngroups ? q->slots[s].group : -1);
    plan->syn[s] = (unsigned char)q->slots[s].syn;
  }
  size_t a = 0;
  for (size_t s = 0; s < plan->nslots; s++)
    for (size_t j = 0; j < q->slots[s].nalts; j++, a++) {
      const cx__qalt *alt = &q->slots[s].alts[j];
      cx__palt *p = &plan->alts[a];
      p->slot = (int)s;
      p->alt = (int)j;
      p->weight = alt->weight;
      p->term = alt->term;
      p->text = alt->text;
      p->phrase = alt->phrase;
      p->df = cx__term_df(ix, alt->term, alt->phrase ? alt->text : NULL);
      p->idf = cx__idf(ix->ncards, p->df);
    }
  /* A synonym stands in for the words it came from and never counts for
   * more than they would: its idf is capped by the rarest of them (a phrase
   * such as "information security management system" is rarer than "isms"
   * only because it is long). */
  for (size_t s = 0; s < plan->nslots; s++) {
    if (!plan->syn[s] || plan->group[s] < 0) continue;
    double cap = 0;
    for (size_t b = 0; b < plan->nalts; b++) {
      int m = plan->alts[b].slot;
      if (plan->group[m] == plan->group[s] && !plan->syn[m] && plan->alts[b].idf > cap)
        cap = plan->alts[b].idf;
    }
    for (size_t b = 0; b < plan->nalts; b++)
      if ((size_t)plan->alts[b].slot == s && plan->alts[b].idf > cap) plan->alts[b].idf = cap;
  }
}

void cx__plan_destroy(cx__plan *plan) {
  free(plan->alts);
  free(plan->tf);
  memset(plan, 0, sizeof *plan);
}

int64_t cx__term_df(cx_index *ix, const char *term, const char *phrase_text) {
  sqlite3_stmt *st;
  int64_t df = 0;
  if (ix->has_postings) return cx__postings_df(ix, term);
  if (phrase_text) return phrase_df_fts(ix, phrase_text);
  if (sqlite3_prepare_v2(ix->db, "SELECT doc FROM fts_vocab WHERE term = ?1", -1, &st, NULL) !=
      SQLITE_OK)
    return 0;
  sqlite3_bind_text(st, 1, term, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) df = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return df;
}

int cx__filter_pass(const cx__filter *f, int64_t rowid) {
  if (rowid < 0) return 0;
  if (f == NULL) return 1;
  uint64_t bit = 1ull << (rowid % 64);
  size_t w = (size_t)(rowid / 64);
  if (f->packs && !(f->packs[w] & bit)) return 0;
  if (f->tags && !(f->tags[w] & bit)) return 0;
  if (f->ids && !(f->ids[w] & bit)) return 0;
  return 1;
}

/* Keeps the best k hits: higher score first, lower rowid on ties (so every
 * plan orders equal scores the same way). */
int cx__hit_better(const cx__hit *a, const cx__hit *b) {
  if (a->score != b->score) return a->score > b->score;
  return a->rowid < b->rowid;
}

void cx__topk_init(cx__topk *t, size_t k) {
  t->k = k ? k : 1;
  t->n = 0;
  t->v = cx_xcalloc(t->k, sizeof *t->v);
}

/* Min-heap on "better": v[0] is the worst kept hit. Sifting moves a hole
 * and writes h once at the end: a hit is ~230 bytes, and a swap copied
 * three of them per level (the heap ends up the same). */
static void heap_down(cx__hit *v, size_t n, const cx__hit *h) {
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1;
    const cx__hit *m = h;
    size_t mi = i;
    if (l < n && cx__hit_better(m, &v[l])) m = &v[mi = l];
    if (r < n && cx__hit_better(m, &v[r])) m = &v[mi = r];
    if (mi == i) break;
    v[i] = *m;
    i = mi;
  }
  v[i] = *h;
}

void cx__topk_push(cx__topk *t, const cx__hit *h) {
  if (t->n < t->k) {
    size_t i = t->n++;
    while (i > 0) {
      size_t p = (i - 1) / 2;
      if (!cx__hit_better(&t->v[p], h)) break;
      t->v[i] = t->v[p];
      i = p;
    }
    t->v[i] = *h;
    return;
  }
  if (!cx__hit_better(h, &t->v[0])) return;
  heap_down(t->v, t->n, h);
}

static int cmp_hits(const void *a, const void *b) {
  const cx__hit *x = a, *y = b;
  return cx__hit_better(x, y) ? -1 : cx__hit_better(y, x) ? 1 : 0;
}

void cx__topk_finish(cx__topk *t, cx__result *res) {
  if (t->n > 16) {
    qsort(t->v, t->n, sizeof *t->v, cmp_hits);
  } else {
    /* A page of hits: insertion (the order is total, as qsort's). */
    for (size_t i = 1; i < t->n; i++) {
      cx__hit h = t->v[i];
      size_t j = i;
      for (; j > 0 && cx__hit_better(&h, &t->v[j - 1]); j--) t->v[j] = t->v[j - 1];
      if (j != i) t->v[j] = h;
    }
  }
  res->hits = t->v;
  res->nhits = t->n;
  t->v = NULL;
}

void cx__result_destroy(cx__result *res) {
  if (res == NULL) return;
  free(res->hits);
  memset(res, 0, sizeof *res);
}

static int ensure_aux(cx_index *ix, cx_err *err) {
  if (ix->aux_registered) return 0;
  if (cx__register_aux(ix->fts5) != SQLITE_OK)
    return cx_err_set(err, CX_ESQLITE, "", "%s: cannot register the ranking function", ix->path);
  ix->aux_registered = 1;
  return 0;
}

/* Every card matching any alternative, scored by cx_rank: the reference
 * the fast plan must agree with, and the plan when the engine's tables are
 * missing. */
int cx__rank_fts(cx_index *ix, const cx__query *q, const cx__filter *f, size_t k, cx__result *res,
                 cx_err *err) {
  memset(res, 0, sizeof *res);
  res->total_exact = 1;
  int rc = ensure_aux(ix, err);
  if (rc) return rc;
  cx__plan plan;
  cx__plan_init(ix, q, &plan);
  cx__buf m;
  cx__buf_init(&m);
  for (size_t a = 0; a < plan.nalts; a++) {
    if (m.n) cx__buf_puts(&m, " OR ");
    quote_phrase(&m, plan.alts[a].text);
  }
  cx__topk top;
  cx__topk_init(&top, k);
  if (plan.nalts > 0) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ix->db, "SELECT rowid, cx_rank(fts, ?2) FROM fts WHERE fts MATCH ?1", -1,
                           &st, NULL) != SQLITE_OK) {
      rc = cx__sqlite_err(ix, err, "preparing the ranking query");
    } else {
      sqlite3_bind_text(st, 1, m.p, -1, SQLITE_STATIC);
      sqlite3_bind_pointer(st, 2, &plan, "cx_plan", NULL);
      int s;
      while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rowid = sqlite3_column_int64(st, 0);
        if (!cx__filter_pass(f, rowid)) continue;
        res->total++;
        res->scored++;
        cx__hit h;
        memset(&h, 0, sizeof h);
        h.rowid = rowid;
        h.score = sqlite3_column_double(st, 1);
        for (size_t i = 0; i < plan.nslots; i++) {
          h.slot_score[i] = plan.slot_score[i];
          h.slot_alt[i] = plan.slot_alt[i];
        }
        for (size_t i = plan.nslots; i < CX__MAX_SLOTS; i++) h.slot_alt[i] = -1;
        cx__topk_push(&top, &h);
      }
      if (s != SQLITE_DONE) rc = cx__sqlite_err(ix, err, "ranking");
      sqlite3_finalize(st);
    }
  }
  cx__topk_finish(&top, res);
  cx__buf_destroy(&m);
  cx__plan_destroy(&plan);
  return rc;
}

int cx__rank(cx_index *ix, const cx__query *q, const cx__filter *f, size_t k, int exhaustive,
             cx__result *res, cx_err *err) {
  if (ix->has_postings && !exhaustive) return cx__rank_postings(ix, q, f, k, res, err);
  return cx__rank_fts(ix, q, f, k, res, err);
}

int cx__rank_raw(cx_index *ix, const char *match, const cx__filter *f, size_t k, cx__result *res,
                 cx_err *err) {
  memset(res, 0, sizeof *res);
  res->total_exact = 1;
  if (match == NULL || *match == '\0') return 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ix->db,
                         "SELECT rowid, -bm25(fts, " CX__BM25_WEIGHTS ") FROM fts WHERE fts MATCH ?1 "
                         "ORDER BY bm25(fts, " CX__BM25_WEIGHTS ")",
                         -1, &st, NULL) != SQLITE_OK)
    return cx__sqlite_err(ix, err, "preparing the raw query");
  sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
  cx__topk top;
  cx__topk_init(&top, k);
  int s, rc = 0;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t rowid = sqlite3_column_int64(st, 0);
    if (!cx__filter_pass(f, rowid)) continue;
    res->total++;
    cx__hit h;
    memset(&h, 0, sizeof h);
    h.rowid = rowid;
    h.score = sqlite3_column_double(st, 1);
    memset(h.slot_alt, -1, sizeof h.slot_alt);
    cx__topk_push(&top, &h);
  }
  if (s != SQLITE_DONE) {
    if (ix->timed_out) {
      rc = cx__sqlite_err(ix, err, "raw query");
    } else {
      const char *msg = sqlite3_errmsg(ix->db);
      rc = cx_err_set(err, CX_ESYNTAX, "query", "raw query does not parse: %s; quote phrases with "
                      "\"...\" and use field:term with question, tags, answer or sources", msg);
    }
  }
  sqlite3_finalize(st);
  cx__topk_finish(&top, res);
  return rc;
}

typedef struct naive_ctx {
  cx__buf *b;
} naive_ctx;

static int naive_cb(void *ctx, const char *tok, int n, int start, int end) {
  naive_ctx *c = ctx;
  if (c->b->n) cx__buf_puts(c->b, " OR ");
  cx__buf_putc(c->b, '"');
  cx__buf_add(c->b, tok, (size_t)n);
  cx__buf_putc(c->b, '"');
  return 0;
}

int cx__rank_naive(cx_index *ix, const char *text, size_t k, int64_t *rowids, size_t *n,
                   cx_err *err) {
  *n = 0;
  cx__buf m;
  cx__buf_init(&m);
  naive_ctx c = {&m};
  cx__tokenize(ix, 0, text, -1, naive_cb, &c);
  if (m.n == 0) {
    cx__buf_destroy(&m);
    return 0;
  }
  sqlite3_stmt *st;
  int rc = 0;
  if (sqlite3_prepare_v2(ix->db, "SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY bm25(fts) LIMIT ?2",
                         -1, &st, NULL) != SQLITE_OK) {
    cx__buf_destroy(&m);
    return cx__sqlite_err(ix, err, "preparing the naive query");
  }
  sqlite3_bind_text(st, 1, m.p, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)k);
  while (sqlite3_step(st) == SQLITE_ROW && *n < k) rowids[(*n)++] = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  cx__buf_destroy(&m);
  return rc;
}
