/* method_answer.c — `answer`: the best card for a question, with a confidence, or none. */
#include "cardexd.h"

#include <stdlib.h>

static const char *const fields[] = {"query", "packs", "tags", NULL};

static int check(cxd_req *r, cxd_error *e) {
  if (r->params == NULL)
    return cxd_error_param(e, "query", "invalid params: `query` is required");
  if (cxd_params_only(r->params, fields, e) != 0) return -1;
  cx_search_req *q = cx_xcalloc(1, sizeof *q);
  cx_err err = {0};
  int rc = cx_search_req_from_json(r->params, q, &err);
  if (rc != 0) {
    cx_search_req_destroy(q);
    free(q);
    return cxd_error_from_cx(e, rc, &err, NULL, r->srv->opt.query_timeout_us);
  }
  r->prep = q;
  return 0;
}

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  cx_err err = {0};
  int rc = cx_answer(r->ix, r->prep, result, &err);
  return rc ? cxd_error_from_cx(e, rc, &err, NULL, r->srv->opt.query_timeout_us) : 0;
}

static void release(void *prep) {
  cx_search_req_destroy(prep);
  free(prep);
}

const cxd_method cxd_method_answer = {"answer", 1, check, run, release};
