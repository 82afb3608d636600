/* method_suggest.c — `suggest`: completions of what a person is typing. */
#include "cardexd.h"

#include <stdlib.h>

static const char *const fields[] = {"prefix", "limit", NULL};

typedef struct suggest_args {
  const char *prefix; /* borrowed from params */
  int limit;
} suggest_args;

static int check(cxd_req *r, cxd_error *e) {
  suggest_args a = {NULL, 10};
  if (cxd_params_only(r->params, fields, e) != 0) return -1;
  if (cxd_params_string(r->params, "prefix", &a.prefix, e) != 0) return -1;
  if (cxd_params_int(r->params, "limit", 1, 50, &a.limit, e) != 0) return -1;
  suggest_args *p = cx_xmalloc(sizeof *p);
  *p = a;
  r->prep = p;
  return 0;
}

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  suggest_args *a = r->prep;
  cx_err err = {0};
  int rc = cx_suggest(r->ix, a->prefix, a->limit, result, &err);
  return rc ? cxd_error_from_cx(e, rc, &err, NULL, r->srv->opt.query_timeout_us) : 0;
}

const cxd_method cxd_method_suggest = {"suggest", 1, check, run, free, NULL};
