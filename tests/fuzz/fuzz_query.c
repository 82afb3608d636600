/* fuzz_query.c — fuzz target for the query parser and plans: any bytes are a query. */
#include "cardex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cx_index *ix;
static char dbpath[] = "/tmp/cardex-fuzz-query-XXXXXX";

static void cleanup(void) {
  cx_index_close(ix);
  unlink(dbpath);
}

/* The seeds index, built once per process. */
static void setup(void) {
  int fd = mkstemp(dbpath);
  if (fd < 0) abort();
  close(fd);
  const char *paths[] = {CX_SOURCE_DIR "/seeds"};
  cx_build_opts opts = {0};
  opts.keep_going = 1;
  cx_build_stats st = {0};
  cx_diags d;
  cx_diags_init(&d);
  cx_err err = {0};
  int rc = cx_index_build(paths, 1, dbpath, &opts, &st, &d, &err);
  cx_diags_destroy(&d);
  if ((rc != 0 && rc != CX_EPARTIAL) || cx_index_open(dbpath, &ix, &err) != 0) {
    fprintf(stderr, "fuzz_query: cannot build/open the seeds index: %s\n", err.msg);
    abort();
  }
  cx_index_set_time_limit(ix, 2000000);
  atexit(cleanup);
}

/* First byte: bit 0 raw, bit 1 explain, bit 2 pack filter, bit 3 offset 1,
 * bits 4-6 limit - 1, bit 7 id prefix "q0"; the rest is the query. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (ix == NULL) setup();
  if (size == 0) return 0;
  int flags = data[0];
  char *q = malloc(size);
  memcpy(q, data + 1, size - 1);
  q[size - 1] = '\0';
  const char *packs[] = {"GDPR", "ISO27001:2022"};
  cx_search_req req = {.query = q, .limit = 1 + ((flags >> 4) & 7), .offset = (flags >> 3) & 1,
                       .id_prefix = flags & 0x80 ? "q0" : NULL,
                       .raw = flags & 1, .explain = (flags >> 1) & 1,
                       .hl_open = "[", .hl_close = "]"};
  if (flags & 4) {
    req.packs = packs;
    req.npacks = 2;
  }
  json_t *res = NULL;
  cx_err err = {0};
  int rc = cx_search(ix, &req, &res, &err);
  /* Natural-language queries never fail; raw ones only with a syntax error. */
  if (rc != 0 && !(req.raw && rc == CX_ESYNTAX) && rc != CX_ETIMEOUT) {
    fprintf(stderr, "fuzz_query: search failed (%s): %s\n", cx_err_name(rc), err.msg);
    abort();
  }
  /* A blank query with a filter lists cards in id order, score 0. */
  if (rc == 0 && q[strspn(q, " \t\r\n")] == '\0' && (req.npacks || req.id_prefix)) {
    json_t *hits = json_object_get(res, "hits");
    const char *prev = "";
    for (size_t i = 0; i < json_array_size(hits); i++) {
      const char *id = json_string_value(json_object_get(json_array_get(hits, i), "id"));
      if (id == NULL || strcmp(prev, id) >= 0) abort();
      prev = id;
    }
  }
  json_decref(res);
  req.raw = 0;
  if (cx_answer(ix, &req, &res, &err) != 0 && err.code != CX_ETIMEOUT) abort();
  json_decref(res);
  if (cx_suggest(ix, q, 5, &res, &err) != 0 && err.code != CX_ETIMEOUT) abort();
  json_decref(res);
  free(q);
  return 0;
}
