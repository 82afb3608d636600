/* method_reload.c — `reload`: rebuild from --seeds (or reopen --index) and swap it in. */
#include "cardexd.h"

static const char *const fields[] = {NULL};

static int check(cxd_req *r, cxd_error *e) { return cxd_params_only(r->params, fields, e); }

/* Answered by reload.c once the new index serves (or the build failed). */
static int run(cxd_req *r, json_t **result, cxd_error *e) {
  cxd_reload_request(r->srv, r, "reload request");
  return CXD_PENDING;
}

const cxd_method cxd_method_reload = {"reload", 0, check, run, NULL, NULL};
