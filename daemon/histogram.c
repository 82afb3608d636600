/* histogram.c — log-linear latency histogram shared by cardexd and bench/loadgen. */
#include "histogram.h"

#include <string.h>

static unsigned bucket_of(uint64_t v) {
  if (v < 32) return (unsigned)v;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  if (msb > 45) return CXD_HIST_BUCKETS - 1;
  unsigned shift = msb - 4; /* v >> shift is in [16, 31] */
  return 32 + (msb - 5) * CXD_HIST_SUB + (unsigned)((v >> shift) - 16);
}

/* The smallest value of bucket i and the width of the bucket. */
static void bucket_range(unsigned i, uint64_t *lo, uint64_t *width) {
  if (i < 32) {
    *lo = i;
    *width = 1;
    return;
  }
  unsigned msb = (i - 32) / CXD_HIST_SUB + 5, sub = (i - 32) % CXD_HIST_SUB;
  unsigned shift = msb - 4;
  *lo = (uint64_t)(16 + sub) << shift;
  *width = (uint64_t)1 << shift;
}

void cxd_hist_init(cxd_hist *h) { memset(h, 0, sizeof *h); }

void cxd_hist_add(cxd_hist *h, uint64_t v) {
  h->b[bucket_of(v)]++;
  h->count++;
  h->sum += v;
  if (v > h->max) h->max = v;
}

uint64_t cxd_hist_quantile(const cxd_hist *h, double q) {
  if (h->count == 0) return 0;
  if (q < 0) q = 0;
  if (q > 1) q = 1;
  /* rank is 1-based: the smallest value with at least q*count values at or below it */
  uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < CXD_HIST_BUCKETS; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      uint64_t lo, width;
      bucket_range(i, &lo, &width);
      uint64_t mid = lo + width / 2;
      return mid > h->max ? h->max : mid;
    }
  }
  return h->max;
}

void cxd_hist_merge(cxd_hist *dst, const cxd_hist *src) {
  for (unsigned i = 0; i < CXD_HIST_BUCKETS; i++) dst->b[i] += src->b[i];
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->max > dst->max) dst->max = src->max;
}
