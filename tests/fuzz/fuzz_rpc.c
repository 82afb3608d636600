/* fuzz_rpc.c — fuzz target for cardexd's request path: framing, JSON-RPC envelope, each method's param check. */
#include "cardexd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The input is what a client writes on one connection. The first byte seeds
 * how it is cut into reads (so a line may arrive a byte at a time or many
 * lines in one read, as on a real socket); the rest is the byte stream. Every
 * line goes through the daemon's own code: cxd_frame_next as conn.c uses it,
 * cxd_envelope_decode as rpc.c uses it, then the method's check (for worker
 * methods the same function a worker calls before running the query). No
 * socket, loop or index: nothing here runs a query.
 *
 * What must hold, beyond "no crash, no leak, no UB":
 *  - every error is one of the codes the protocol lists for its stage, and
 *    its reply is one line of valid JSON (UTF-8 even when the input was not);
 *  - a param error is -32602 and names the field in data.field;
 *  - the reply encoder writes params back byte for byte as jansson would. */

#define MAX_REQUEST 4096 /* small, so that "line too long" is reachable */

static cxd_server srv; /* zeroed: only opt is read by the checks */

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_rpc: %s: %s\n", what, detail);
  abort();
}

static void check_reply_line(const cx__buf *out) {
  if (out->n == 0 || out->p[out->n - 1] != '\n') fail("reply is not one line", out->p);
  if (memchr(out->p, '\n', out->n - 1) != NULL) fail("reply has a newline inside", out->p);
  json_error_t je;
  json_t *j = json_loadb(out->p, out->n - 1, JSON_REJECT_DUPLICATES, &je);
  if (j == NULL) fail("reply is not valid JSON", je.text);
  json_t *e = json_object_get(j, "error");
  if (!json_is_object(e) || !json_is_integer(json_object_get(e, "code")) ||
      !json_is_string(json_object_get(e, "message")))
    fail("error reply without code and message", out->p);
  json_decref(j);
}

static void reply_error(json_t *id, const cxd_error *err) {
  cx__buf out;
  cx__buf_init(&out);
  cxd_rpc_write_error(&out, id, err);
  check_reply_line(&out);
  cx__buf_destroy(&out);
}

/* The daemon's encoder against jansson on whatever params the client sent. */
static void check_encoder(const json_t *params) {
  cx__buf out;
  cx__buf_init(&out);
  cx__json_write(&out, params);
  char *ref = json_dumps(params, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
  if (ref == NULL || strlen(ref) != out.n || memcmp(ref, out.p, out.n) != 0) {
    fprintf(stderr, "fuzz_rpc: encoder: %s\n  jansson: %s\n", out.p, ref ? ref : "(null)");
    abort();
  }
  free(ref);
  cx__buf_destroy(&out);
}

static void run_check(cxd_envelope *env) {
  cxd_req r;
  memset(&r, 0, sizeof r);
  r.srv = &srv;
  r.method = env->method;
  r.id = env->id;
  r.params = env->params;
  cxd_error err = {0};
  int rc = env->method->check ? env->method->check(&r, &err) : 0;
  if (rc == 0) {
    if (r.prep && r.method->release) r.method->release(r.prep);
  } else {
    if (err.code != CXD_INVALID_PARAMS)
      fail("a param check failed with a code other than -32602", err.message);
    if (!json_is_string(json_object_get(err.data, "field")))
      fail("an invalid-params error does not name its field", err.message);
    reply_error(env->id, &err);
  }
  cxd_error_clear(&err);
  if (env->params) check_encoder(env->params);
}

static void handle_line(const char *line, size_t len) {
  cxd_envelope env;
  cxd_error err = {0};
  switch (cxd_envelope_decode(line, len, &env, &err)) {
  case CXD_LINE_BLANK:
    break;
  case CXD_LINE_REQUEST:
    if (env.method == NULL) fail("a request without a method", "");
    run_check(&env);
    break;
  case CXD_LINE_ERROR:
  case CXD_LINE_NOTIFICATION_ERROR:
    if (err.code != CXD_PARSE_ERROR && err.code != CXD_INVALID_REQUEST &&
        err.code != CXD_METHOD_NOT_FOUND && err.code != CXD_INVALID_PARAMS)
      fail("an envelope error with an unexpected code", err.message);
    reply_error(env.id, &err);
    break;
  }
  cxd_error_clear(&err);
  cxd_envelope_destroy(&env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  srv.opt.max_request = MAX_REQUEST;
  srv.opt.query_timeout_us = 2000000;
  uint32_t rng = data[0] * 2654435761u + 1;
  const char *stream = (const char *)data + 1;
  size_t n = size - 1, fed = 0;

  /* conn.c's buffer: [pos, len) unhandled, of which the first `scan` bytes
   * are known to hold no '\n'. */
  char *buf = cx_xmalloc(n + 1);
  size_t len = 0, pos = 0, scan = 0;
  int closed = 0;
  while (fed < n && !closed) {
    rng = rng * 1103515245u + 12345u;
    size_t chunk = data[0] & 1 ? 1 + (rng >> 16) % 7 : 1 + (rng >> 16) % 512;
    if (chunk > n - fed) chunk = n - fed;
    memcpy(buf + len, stream + fed, chunk);
    len += chunk;
    fed += chunk;
    for (;;) {
      size_t l;
      cxd_frame f = cxd_frame_next(buf + pos, len - pos, scan, MAX_REQUEST, &l);
      if (f == CXD_FRAME_PARTIAL) {
        scan = len - pos;
        break;
      }
      if (f == CXD_FRAME_TOO_LONG) {
        if (l <= MAX_REQUEST) fail("a line within the limit called too long", "");
        closed = 1; /* the daemon answers -32600 and closes the connection */
        break;
      }
      if (l > MAX_REQUEST || memchr(buf + pos, '\n', l) != NULL || buf[pos + l] != '\n')
        fail("framing returned a wrong line", "");
      handle_line(buf + pos, l);
      pos += l + 1;
      scan = 0;
    }
  }
  /* End of stream: a last line without '\n' still counts. */
  if (!closed && pos < len) handle_line(buf + pos, len - pos);
  free(buf);
  return 0;
}
