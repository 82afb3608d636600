/* method_search.c — `search`: ranked hits for a query, with filters, snippets and explain. */
#include "cardexd.h"
#include "engine_internal.h"

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  cx_err err = {0};
  int rc = cx_search(r->ix, r->prep, result, &err);
  return rc ? cxd_error_from_cx(e, rc, &err, NULL, r->srv->opt.query_timeout_us) : 0;
}

/* The reply as text straight from the engine: each card's hit fields are
 * encoded once and spliced, instead of building and encoding ten hit objects
 * per query (bench/README.md "Daemon"). */
static int write(cxd_req *r, cx__buf *out, cxd_error *e) {
  cx_err err = {0};
  int rc = cx__search_text(r->ix, r->prep, out, &err);
  return rc ? cxd_error_from_cx(e, rc, &err, NULL, r->srv->opt.query_timeout_us) : 0;
}

const cxd_method cxd_method_search = {"search", 1, cxd_prep_search_req, run,
                                      cxd_release_search_req, write};
