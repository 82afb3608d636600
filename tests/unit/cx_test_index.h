/* cx_test_index.h — the harness of the index builder's tests (test_index, test_fts_replay):
 * CHECK(cond) and CHECK_INT(got, want) count a failure and say where; path_of names a file
 * under the test's tmpdir. A test's main returns failures ? 1 : 0. */
#ifndef CX_TEST_INDEX_H
#define CX_TEST_INDEX_H

#include "cx_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
      failures++;                                                                \
    }                                                                            \
  } while (0)

#define CHECK_INT(got, want)                                                              \
  do {                                                                                    \
    long long g_ = (long long)(got), w_ = (long long)(want);                              \
    if (g_ != w_) {                                                                       \
      fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_); \
      failures++;                                                                         \
    }                                                                                     \
  } while (0)

static char tmpdir[256];

static char *path_of(const char *rel) {
  cx__buf b;
  cx__buf_init(&b);
  cx__buf_printf(&b, "%s/%s", tmpdir, rel);
  return cx__buf_detach(&b);
}

/* Removes path and, for a directory, everything below it. */
static void remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char sub[1024];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      remove_tree(sub);
    }
    if (d) closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

#endif
