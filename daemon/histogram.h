/* histogram.h — a log-linear latency histogram (values in microseconds), ~6% resolution. */
#ifndef CXD_HISTOGRAM_H
#define CXD_HISTOGRAM_H

#include <stdint.h>

/* Values below 32 get a bucket each; above, every power of two is split into
 * 16 buckets, so a percentile is within 1/16 of the true value. 41 powers
 * cover up to 2^45 µs (about a year), far past anything a request takes. */
#define CXD_HIST_SUB 16
#define CXD_HIST_BUCKETS (32 + 41 * CXD_HIST_SUB)

/* Caller-owned; not thread-safe (the daemon keeps one on the loop thread). */
typedef struct cxd_hist {
  uint64_t count, sum, max;
  uint64_t b[CXD_HIST_BUCKETS];
} cxd_hist;

void cxd_hist_init(cxd_hist *h);
void cxd_hist_add(cxd_hist *h, uint64_t v);
/* The value at quantile q in [0,1] (the middle of its bucket, capped by the
 * largest value seen); 0 when empty. */
uint64_t cxd_hist_quantile(const cxd_hist *h, double q);
/* Adds every value of src to dst. */
void cxd_hist_merge(cxd_hist *dst, const cxd_hist *src);

#endif
