/* method_answer.c — `answer`: the best card for a question, with a confidence, or none. */
#include "cardexd.h"

static const char *const fields[] = {"query", "packs", "tags", NULL};

/* `answer` takes only the query and the filters of `search`. */
static int check(cxd_req *r, cxd_error *e) {
  if (r->params && cxd_params_only(r->params, fields, e) != 0) return -1;
  return cxd_prep_search_req(r, e);
}

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  cx_err err = {0};
  int rc = cx_answer(r->ix, r->prep, result, &err);
  return rc ? cxd_error_from_cx(e, rc, &err, NULL, r->srv->opt.query_timeout_us) : 0;
}

const cxd_method cxd_method_answer = {"answer", 1, check, run, cxd_release_search_req, NULL};
