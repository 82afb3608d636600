/* cx_test.h — the assert harness shared by the unit tests: CHECK(cond, fmt, ...) counts
 * a failure and says where and why; a test's main returns failures ? 1 : 0. */
#ifndef CX_TEST_H
#define CX_TEST_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
    }                                                                          \
  } while (0)

#endif
