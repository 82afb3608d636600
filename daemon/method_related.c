/* method_related.c — `related`: cards linked to, sharing clauses or rare terms with, a card. */
#include "cardexd.h"

#include <stdlib.h>

static const char *const fields[] = {"id", "limit", NULL};

typedef struct related_args {
  const char *id; /* borrowed from params */
  int limit;
} related_args;

static int check(cxd_req *r, cxd_error *e) {
  related_args a = {NULL, 10};
  if (cxd_params_only(r->params, fields, e) != 0) return -1;
  if (cxd_params_string(r->params, "id", &a.id, e) != 0) return -1;
  if (*a.id == '\0') return cxd_error_param(e, "id", "invalid params: `id` must not be empty");
  if (cxd_params_int(r->params, "limit", 1, 50, &a.limit, e) != 0) return -1;
  related_args *p = cx_xmalloc(sizeof *p);
  *p = a;
  r->prep = p;
  return 0;
}

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  related_args *a = r->prep;
  cx_err err = {0};
  int rc = cx_related(r->ix, a->id, a->limit, result, &err);
  return rc ? cxd_error_from_cx(e, rc, &err, a->id, r->srv->opt.query_timeout_us) : 0;
}

const cxd_method cxd_method_related = {"related", 1, check, run, free, NULL};
