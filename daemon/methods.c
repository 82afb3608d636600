/* methods.c — the table of protocol methods and the helpers they share (errors, params). */
#include "cardexd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cxd_method *const methods[] = {
    &cxd_method_search, &cxd_method_answer, &cxd_method_get,    &cxd_method_suggest,
    &cxd_method_related, &cxd_method_stats, &cxd_method_ping,   &cxd_method_reload,
};

const cxd_method *cxd_method_find(const char *name) {
  for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
    if (strcmp(methods[i]->name, name) == 0) return methods[i];
  return NULL;
}

static int error_vset(cxd_error *e, int code, json_t *data, const char *fmt, va_list ap) {
  json_decref(e->data);
  e->code = code;
  e->data = data;
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  return -1;
}

int cxd_error_set(cxd_error *e, int code, json_t *data, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  error_vset(e, code, data, fmt, ap);
  va_end(ap);
  return -1;
}

int cxd_error_param(cxd_error *e, const char *field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  error_vset(e, CXD_INVALID_PARAMS, json_pack("{s:s}", "field", field), fmt, ap);
  va_end(ap);
  return -1;
}

void cxd_error_clear(cxd_error *e) {
  json_decref(e->data);
  e->data = NULL;
}

int cxd_error_from_cx(cxd_error *e, int rc, const cx_err *err, const char *card_id,
                      int64_t query_timeout_us) {
  const char *msg = err && err->msg[0] ? err->msg : cx_strerror(rc);
  switch (rc) {
  case CX_EINVAL: {
    const char *field = err && err->field[0] ? err->field : "params";
    if (strncmp(msg, "invalid params", 14) == 0) return cxd_error_param(e, field, "%s", msg);
    return cxd_error_param(e, field, "invalid params: %s", msg);
  }
  case CX_ENOTFOUND:
    if (card_id)
      return cxd_error_set(e, CXD_NOT_FOUND, json_pack("{s:s}", "id", card_id),
                           "no card has id %s", card_id);
    return cxd_error_set(e, CXD_NOT_FOUND, NULL, "not found: %s", msg);
  case CX_ETIMEOUT:
    return cxd_error_set(e, CXD_TIMEOUT,
                         json_pack("{s:f}", "limit_ms", (double)query_timeout_us / 1000.0),
                         "timeout: the query took longer than %g ms (the daemon's "
                         "--query-timeout); make it more specific or retry",
                         (double)query_timeout_us / 1000.0);
  case CX_ESYNTAX:
    return cxd_error_set(e, CXD_QUERY_SYNTAX,
                         json_pack("{s:s,s:s}", "field", "query", "reason", msg),
                         "query syntax error: %s", msg);
  default:
    return cxd_error_set(e, CXD_INTERNAL_ERROR,
                         json_pack("{s:s,s:s}", "reason", msg, "code", cx_err_name(rc)),
                         "internal error: %s", msg);
  }
}

int cxd_params_only(json_t *params, const char *const *allowed, cxd_error *err) {
  if (params == NULL) return 0;
  const char *key;
  json_t *value;
  json_object_foreach(params, key, value) {
    int ok = 0;
    for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, key) == 0;
    if (ok) continue;
    cx__buf names;
    cx__buf_init(&names);
    for (const char *const *a = allowed; *a; a++)
      cx__buf_printf(&names, "%s`%s`", a == allowed ? "" : ", ", *a);
    cxd_error_param(err, key, "invalid params: unknown field `%s` (%s%s)", key,
                    names.n ? "expected " : "this method takes no params",
                    names.n ? names.p : "");
    cx__buf_destroy(&names);
    return -1;
  }
  return 0;
}

int cxd_params_int(json_t *params, const char *field, int lo, int hi, int *out,
                   cxd_error *err) {
  json_t *v = params ? json_object_get(params, field) : NULL;
  if (v == NULL) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    cxd_error_param(err, field, "invalid params: `%s` must be an integer from %d to %d, got %.64s",
                    field, lo, hi, got ? got : "?");
    free(got);
    return -1;
  }
  *out = (int)json_integer_value(v);
  return 0;
}

int cxd_params_string(json_t *params, const char *field, const char **out, cxd_error *err) {
  json_t *v = params ? json_object_get(params, field) : NULL;
  if (v == NULL) return cxd_error_param(err, field, "invalid params: `%s` is required", field);
  if (!json_is_string(v))
    return cxd_error_param(err, field, "invalid params: `%s` must be a string", field);
  *out = json_string_value(v);
  return 0;
}

/* The search-shaped params of `search` and `answer`, checked on the loop thread
 * and kept as the request's prep until release. */
int cxd_prep_search_req(cxd_req *r, cxd_error *e) {
  if (r->params == NULL)
    return cxd_error_param(e, "query", "invalid params: `query` is required");
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

void cxd_release_search_req(void *prep) {
  cx_search_req_destroy(prep);
  free(prep);
}
