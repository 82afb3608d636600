/* envelope.c — request framing and the JSON-RPC envelope as pure functions (no libuv, no connection). */
#include "cardexd.h"

#include <string.h>

/* Kept apart from conn.c and rpc.c so that what a client's bytes can reach
 * before a method runs is one piece of code, the same in the daemon and in
 * tests/fuzz/fuzz_rpc.c. */

cxd_frame cxd_frame_next(const char *p, size_t n, size_t from, size_t max, size_t *len) {
  if (from > n) from = n;
  const char *nl = memchr(p + from, '\n', n - from);
  if (nl == NULL) {
    *len = n;
    return n > max ? CXD_FRAME_TOO_LONG : CXD_FRAME_PARTIAL;
  }
  *len = (size_t)(nl - p);
  return *len > max ? CXD_FRAME_TOO_LONG : CXD_FRAME_LINE;
}

static int invalid(cxd_error *err, const char *reason) {
  return cxd_error_set(err, CXD_INVALID_REQUEST, json_pack("{s:s}", "reason", reason),
                       "invalid request: %s", reason);
}

void cxd_envelope_destroy(cxd_envelope *env) {
  json_decref(env->id);
  json_decref(env->params);
  env->id = env->params = NULL;
  env->method = NULL;
}

cxd_line_kind cxd_envelope_decode(const char *line, size_t len, cxd_envelope *env,
                                  cxd_error *err) {
  memset(env, 0, sizeof *env);
  if (len && line[len - 1] == '\r') len--;
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
  if (i == len) return CXD_LINE_BLANK; /* blank lines are allowed between requests */

  json_error_t je;
  json_t *msg = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  if (msg == NULL) {
    cxd_error_set(err, CXD_PARSE_ERROR,
                  json_pack("{s:i,s:i}", "line", je.line, "column", je.column),
                  "parse error: %s", je.text);
    return CXD_LINE_ERROR;
  }
  json_t *id = NULL;
  if (json_is_array(msg)) {
    invalid(err, "batches (JSON arrays) are not supported; send one request object per line");
    goto bad;
  }
  if (!json_is_object(msg)) {
    invalid(err, "a request must be a JSON object");
    goto bad;
  }
  id = json_object_get(msg, "id");
  if (id && !json_is_string(id) && !json_is_number(id)) {
    id = NULL;
    invalid(err, "`id` must be a number or a string");
    goto bad;
  }
  json_t *version = json_object_get(msg, "jsonrpc");
  if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0) {
    invalid(err, "`jsonrpc` must be \"2.0\"");
    goto bad_id;
  }
  json_t *jmethod = json_object_get(msg, "method");
  if (!json_is_string(jmethod)) {
    invalid(err, jmethod ? "`method` must be a string" : "`method` is missing");
    goto bad_id;
  }
  const char *name = json_string_value(jmethod);
  const cxd_method *m = cxd_method_find(name);
  if (m == NULL) {
    cxd_error_set(err, CXD_METHOD_NOT_FOUND, json_pack("{s:s}", "method", name),
                  "method not found: %s", name);
    goto bad_id;
  }
  json_t *params = json_object_get(msg, "params");
  if (params && json_is_null(params)) params = NULL;
  if (params && !json_is_object(params)) {
    cxd_error_param(err, "params", "invalid params: `params` must be an object");
    goto bad_id;
  }
  env->method = m;
  env->id = json_incref(id);
  env->params = json_incref(params);
  json_decref(msg);
  return CXD_LINE_REQUEST;

bad_id:
  /* A request without id is a notification: its errors are not answered,
   * but only once the envelope says it is a request at all. */
  if (id == NULL && json_is_string(json_object_get(msg, "jsonrpc")) &&
      json_is_string(json_object_get(msg, "method"))) {
    json_decref(msg);
    return CXD_LINE_NOTIFICATION_ERROR;
  }
bad:
  env->id = json_incref(id);
  json_decref(msg);
  return CXD_LINE_ERROR;
}
