/* rank_internal.h — the scoring model shared by the auxiliary function, the postings builder and the plans. */
#ifndef CX_RANK_INTERNAL_H
#define CX_RANK_INTERNAL_H

#include "engine_internal.h"

/* BM25F parameters and field weights (docs/ranking.md). */
#define CX__W_QUESTION 3.0
#define CX__W_TAGS 3.0
#define CX__W_ANSWER 1.0
#define CX__W_SOURCES 0.5
#define CX__B 0.75
#define CX__K1 1.2
/* Share of a term's idf earned by merely containing it: rewards covering
 * more of the question's distinct terms over repeating one of them. */
#define CX__COVERAGE 0.3
/* The same field weights for FTS5's bm25() in raw mode. */
#define CX__BM25_WEIGHTS "3.0, 3.0, 1.0, 0.5"

typedef struct cx__palt {
  int slot, alt;
  double weight, idf;
  int64_t df;
  const char *term, *text; /* borrowed from the query */
  int phrase;
} cx__palt;

/* A query flattened for scoring: every alternative with its slot. */
typedef struct cx__plan {
  cx__palt *alts;
  size_t nalts, nslots;
  int (*tf)[4];          /* scratch of the auxiliary function */
  double avglen[4];
  int have_avg;
  double slot_score[CX__MAX_SLOTS]; /* of the row last scored by cx_rank */
  signed char slot_alt[CX__MAX_SLOTS];
  signed char group[CX__MAX_SLOTS]; /* synonym group of each slot, -1 none */
  unsigned char syn[CX__MAX_SLOTS]; /* 1: the group's synonym slot, 2: its phrase bonus */
  int ngroups;
} cx__plan;

/* A card's score from its slot scores: the sum over slots, except that a
 * synonym group counts the better of its words' sum and its synonym, plus
 * its phrase bonus. Every plan calls this, so that they agree to the bit. */
double cx__combine(const cx__plan *plan, const double *slot_score);

double cx__idf(int64_t n, int64_t df);
int cx__impact(const int tf[4], const int len[4], const double avglen[4]);
/* What one alternative earns in a card where its impact is q; inline, as it
 * runs once per posting visited (and every plan computes it the same way). */
static inline double cx__contribution(double weight, double idf, int q) {
  return weight * idf * (CX__COVERAGE + (double)q / 255.0);
}
int cx__register_aux(fts5_api *api);
void cx__plan_init(cx_index *ix, const cx__query *q, cx__plan *plan);
void cx__plan_destroy(cx__plan *plan);
int64_t cx__term_df(cx_index *ix, const char *term, const char *phrase_text);
int cx__filter_pass(const cx__filter *f, int64_t rowid);

typedef struct cx__topk {
  cx__hit *v;
  size_t n, k;
} cx__topk;
int cx__hit_better(const cx__hit *a, const cx__hit *b);
void cx__topk_init(cx__topk *t, size_t k);
void cx__topk_push(cx__topk *t, const cx__hit *h);
void cx__topk_finish(cx__topk *t, cx__result *res); /* hands t->v to res */

int cx__rank_fts(cx_index *ix, const cx__query *q, const cx__filter *f, size_t k, cx__result *res,
                 cx_err *err);
int cx__rank_postings(cx_index *ix, const cx__query *q, const cx__filter *f, size_t k,
                      cx__result *res, cx_err *err);

#endif
