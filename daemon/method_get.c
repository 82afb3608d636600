/* method_get.c — `get`: one whole card by id (every field, sections as Markdown and text). */
#include "cardexd.h"

#include <string.h>

static const char *const fields[] = {"id", NULL};

static int check(cxd_req *r, cxd_error *e) {
  const char *id;
  if (cxd_params_only(r->params, fields, e) != 0) return -1;
  if (cxd_params_string(r->params, "id", &id, e) != 0) return -1;
  if (*id == '\0') return cxd_error_param(e, "id", "invalid params: `id` must not be empty");
  r->prep = (void *)id; /* borrowed from params, which outlive the call */
  return 0;
}

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  cx_err err = {0};
  /* cx_get does not restart the per-query deadline (index/query.c), so on a
   * thread whose last search began more than --query-timeout ago SQLite's
   * progress handler interrupts the lookup and the card reads as missing.
   * A get is one primary-key lookup: run it without the bound. */
  cx_index_set_time_limit(r->ix, 0);
  int rc = cx_get(r->ix, r->prep, result, &err);
  cx_index_set_time_limit(r->ix, r->srv->opt.query_timeout_us);
  return rc ? cxd_error_from_cx(e, rc, &err, r->prep, r->srv->opt.query_timeout_us) : 0;
}

const cxd_method cxd_method_get = {"get", 1, check, run, NULL, NULL};
