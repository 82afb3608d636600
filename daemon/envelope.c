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

/* ---- the common request, without jansson's parser ---------------------- */

/* Requests are small objects of ASCII strings and integers. jansson's
 * parser reads them a code point at a time through a stream abstraction:
 * ~2 us of the loop thread per request. fast_value accepts only a strict
 * subset of JSON (objects without duplicate keys, arrays, strings of
 * printable ASCII without escapes, integers of at most 18 digits, true,
 * false, null, at most 8 levels deep) and builds the tree jansson would;
 * anything else, valid or not, makes it give up (NULL), and the line goes
 * to json_loadb as before: errors, and what they say, are jansson's. */
typedef struct fast_in {
  const char *p, *end;
} fast_in;

static void fast_ws(fast_in *in) {
  while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\r' || *in->p == '\n'))
    in->p++;
}

/* The string at in->p ('"' included), or 0 when it is not one we take. */
static int fast_string(fast_in *in, const char **s, size_t *n) {
  if (in->p >= in->end || *in->p != '"') return 0;
  const char *q = ++in->p;
  while (q < in->end && *q != '"') {
    unsigned char c = (unsigned char)*q;
    if (c < 0x20 || c >= 0x7f || c == '\\') return 0;
    q++;
  }
  if (q >= in->end) return 0;
  *s = in->p;
  *n = (size_t)(q - in->p);
  in->p = q + 1;
  return 1;
}

static json_t *fast_value(fast_in *in, int depth);

static json_t *fast_object(fast_in *in, int depth) {
  json_t *o = json_object();
  in->p++; /* '{' */
  fast_ws(in);
  if (in->p < in->end && *in->p == '}') {
    in->p++;
    return o;
  }
  for (;;) {
    const char *k;
    size_t kn;
    char key[256];
    if (!fast_string(in, &k, &kn) || kn >= sizeof key) goto fail;
    memcpy(key, k, kn);
    key[kn] = '\0';
    fast_ws(in);
    if (in->p >= in->end || *in->p != ':') goto fail;
    in->p++;
    fast_ws(in);
    json_t *v = fast_value(in, depth + 1);
    if (v == NULL) goto fail;
    if (json_object_get(o, key) != NULL) { /* jansson rejects it: say so there */
      json_decref(v);
      goto fail;
    }
    json_object_set_new_nocheck(o, key, v);
    fast_ws(in);
    if (in->p >= in->end) goto fail;
    if (*in->p == '}') {
      in->p++;
      return o;
    }
    if (*in->p != ',') goto fail;
    in->p++;
    fast_ws(in);
  }
fail:
  json_decref(o);
  return NULL;
}

static json_t *fast_array(fast_in *in, int depth) {
  json_t *a = json_array();
  in->p++; /* '[' */
  fast_ws(in);
  if (in->p < in->end && *in->p == ']') {
    in->p++;
    return a;
  }
  for (;;) {
    json_t *v = fast_value(in, depth + 1);
    if (v == NULL) break;
    json_array_append_new(a, v);
    fast_ws(in);
    if (in->p >= in->end) break;
    if (*in->p == ']') {
      in->p++;
      return a;
    }
    if (*in->p != ',') break;
    in->p++;
    fast_ws(in);
  }
  json_decref(a);
  return NULL;
}

static int fast_word(fast_in *in, const char *w, size_t n) {
  if ((size_t)(in->end - in->p) < n || memcmp(in->p, w, n) != 0) return 0;
  in->p += n;
  return 1;
}

static json_t *fast_value(fast_in *in, int depth) {
  if (in->p >= in->end || depth > 8) return NULL;
  const char *s;
  size_t n;
  switch (*in->p) {
  case '{': return fast_object(in, depth);
  case '[': return fast_array(in, depth);
  case '"': return fast_string(in, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
  case 't': return fast_word(in, "true", 4) ? json_true() : NULL;
  case 'f': return fast_word(in, "false", 5) ? json_false() : NULL;
  case 'n': return fast_word(in, "null", 4) ? json_null() : NULL;
  default: break;
  }
  const char *q = in->p;
  int neg = *q == '-';
  if (neg) q++;
  const char *digits = q;
  int64_t v = 0; /* at most 18 digits: no overflow */
  while (q < in->end && *q >= '0' && *q <= '9' && q - digits < 18) v = v * 10 + (*q++ - '0');
  size_t nd = (size_t)(q - digits);
  if (nd == 0 || (nd > 1 && *digits == '0')) return NULL;
  /* A fraction, an exponent or more digits: a real or a big number. */
  if (q < in->end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
    return NULL;
  in->p = q;
  return json_integer(neg ? -v : v);
}

json_t *cxd_json_fast_load(const char *line, size_t len) {
  fast_in in = {line, line + len};
  fast_ws(&in);
  if (in.p >= in.end || *in.p != '{') return NULL;
  json_t *v = fast_value(&in, 0);
  if (v == NULL) return NULL;
  fast_ws(&in);
  if (in.p != in.end) { /* something after the object: jansson's error */
    json_decref(v);
    return NULL;
  }
  return v;
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
  json_t *msg = cxd_json_fast_load(line, len);
  if (msg == NULL) msg = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
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
