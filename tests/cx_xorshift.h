/* cx_xorshift.h — the tests' reproducible pseudo-random numbers: Marsaglia's xorshift64
 * from a fixed seed, so that a failing random case fails again on the next run. */
#ifndef CX_XORSHIFT_H
#define CX_XORSHIFT_H

#include <stdint.h>

#define CX_XORSHIFT_SEED 88172645463325252ULL

/* The next number of the sequence in *state (never 0 from a nonzero seed). */
static inline uint64_t cx_xorshift(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

#endif
