/* rpc.c — the JSON-RPC 2.0 envelope: parse a line, validate, dispatch, write replies. */
#include "cardexd.h"

#include <stdlib.h>
#include <string.h>


/* Messages may quote what a client sent (jansson's "near '…'"), which need not
 * be UTF-8; the reply must be, so such bytes become '?'. */
static void put_string(cx__buf *out, const char *s) {
  json_t *j = json_string(s);
  if (j == NULL) {
    char *copy = cx_xstrdup(s);
    for (unsigned char *p = (unsigned char *)copy; *p; p++)
      if (*p >= 0x80) *p = '?';
    j = json_string(copy);
    free(copy);
  }
  cx__json_write(out, j);
  json_decref(j);
}

static void put_head(cx__buf *out, json_t *id) {
  cx__buf_puts(out, "{\"jsonrpc\":\"2.0\",\"id\":");
  if (id) cx__json_write(out, id);
  else cx__buf_puts(out, "null");
}

void cxd_rpc_write_result(cx__buf *out, json_t *id, json_t *result) {
  put_head(out, id);
  cx__buf_puts(out, ",\"result\":");
  cx__json_write(out, result);
  cx__buf_puts(out, "}\n");
}

void cxd_rpc_write_error(cx__buf *out, json_t *id, const cxd_error *err) {
  put_head(out, id);
  cx__buf_printf(out, ",\"error\":{\"code\":%d,\"message\":", err->code);
  put_string(out, err->message);
  if (err->data) {
    cx__buf_puts(out, ",\"data\":");
    cx__json_write(out, err->data);
  }
  cx__buf_puts(out, "}}\n");
}

static void req_free(cxd_req *r) {
  if (r->prep && r->method && r->method->release) r->method->release(r->prep);
  json_decref(r->id);
  json_decref(r->params);
  cxd_pool_buf_give(&r->line);
  cxd_index_ref_release(r->ixref);
  cxd_conn_unref(r->conn);
  free(r);
}

static void account(cxd_server *srv, const cxd_req *r, int failed) {
  uint64_t us = (uv_hrtime() - r->start_ns) / 1000;
  srv->requests++;
  if (failed) srv->errors++;
  cxd_hist_add(&srv->latency, us);
  if (cxd_log_on(CXD_LOG_DEBUG)) {
    char *id = r->id ? json_dumps(r->id, JSON_ENCODE_ANY) : NULL;
    cxd_log(CXD_LOG_DEBUG, "connection %llu: %s id %.64s %s in %llu us",
            (unsigned long long)r->conn->id, r->method->name, id ? id : "(notification)",
            failed ? "failed" : "ok", (unsigned long long)us);
    free(id);
  }
}

/* Ends a request on the loop: sends line (if any), counts it, frees it. */
static void req_done(cxd_req *r, int failed) {
  cxd_conn *c = r->conn;
  account(r->srv, r, failed);
  if (r->counted) c->inflight--;
  if (r->counted) cxd_conn_request_done(c);
  req_free(r);
}

void cxd_req_finish(cxd_req *r, json_t *result, cxd_error *err) {
  if (r->id) {
    cx__buf *out = cxd_conn_outbuf(r->conn);
    if (out && result) cxd_rpc_write_result(out, r->id, result);
    else if (out) cxd_rpc_write_error(out, r->id, err);
  }
  json_decref(result);
  req_done(r, result == NULL);
}

/* A reply to a line that never became a request (bad JSON, bad envelope). */
static void reply_now(cxd_conn *c, json_t *id, cxd_error *err, uint64_t start_ns) {
  cx__buf *out = cxd_conn_outbuf(c);
  if (out) cxd_rpc_write_error(out, id, err);
  cxd_server *srv = c->srv;
  srv->requests++;
  srv->errors++;
  cxd_hist_add(&srv->latency, (uv_hrtime() - start_ns) / 1000);
  cxd_error_clear(err);
}

void cxd_rpc_handle_line(cxd_conn *c, const char *line, size_t len) {
  cxd_server *srv = c->srv;
  uint64_t start = uv_hrtime();
  cxd_error err = {0};
  cxd_envelope env;
  switch (cxd_envelope_decode(line, len, &env, &err)) {
  case CXD_LINE_BLANK:
    return;
  case CXD_LINE_NOTIFICATION_ERROR:
    cxd_log(CXD_LOG_DEBUG, "connection %llu: notification failed: %s",
            (unsigned long long)c->id, err.message);
    srv->requests++;
    srv->errors++;
    cxd_error_clear(&err);
    return;
  case CXD_LINE_ERROR:
    reply_now(c, env.id, &err, start);
    cxd_envelope_destroy(&env);
    return;
  case CXD_LINE_REQUEST:
    break;
  }
  const cxd_method *m = env.method;
  cxd_req *r = cx_xcalloc(1, sizeof *r);
  r->srv = srv;
  r->conn = c;
  cxd_conn_ref(c);
  r->method = m;
  r->id = env.id; /* the request takes the envelope's references */
  r->params = env.params;
  r->start_ns = start;
  cx__buf_init(&r->line);

  if (m->on_worker) {
    if (srv->inflight >= srv->opt.max_inflight) {
      srv->overloads++;
      cxd_error_set(&err, CXD_OVERLOADED, json_pack("{s:i}", "limit", srv->opt.max_inflight),
                    "overloaded: %d queries are in flight (the daemon's --max-inflight); "
                    "retry later", srv->opt.max_inflight);
      cxd_req_finish(r, NULL, &err);
      cxd_error_clear(&err);
      return;
    }
    r->ixref = cxd_index_ref_acquire(srv->ix);
    r->counted = 1;
    srv->inflight++;
    c->inflight++;
    int rc = cxd_pool_submit(r);
    if (rc != 0) {
      srv->inflight--;
      cxd_error_set(&err, CXD_INTERNAL_ERROR, json_pack("{s:s}", "reason", uv_strerror(rc)),
                    "internal error: cannot queue the query: %s", uv_strerror(rc));
      cxd_req_finish(r, NULL, &err);
      cxd_error_clear(&err);
    }
    return;
  }

  json_t *result = NULL;
  int rc = m->check ? m->check(r, &err) : 0;
  if (rc == 0) rc = m->run(r, &result, &err);
  if (rc == CXD_PENDING) {
    r->counted = 1;
    c->inflight++;
    return;
  }
  cxd_req_finish(r, rc == 0 ? result : NULL, &err);
  cxd_error_clear(&err);
}

void cxd_rpc_run_on_worker(cxd_req *r, int open_rc, const cx_err *open_err) {
  cxd_error err = {0};
  cxd_pool_buf_take(&r->line);
  json_t *result = NULL;
  int rc, written = 0;
  if (r->ix == NULL) {
    rc = cxd_error_set(&err, CXD_INTERNAL_ERROR,
                       json_pack("{s:s}", "reason", open_err->msg[0] ? open_err->msg
                                                                     : cx_strerror(open_rc)),
                       "internal error: cannot open the index: %s",
                       open_err->msg[0] ? open_err->msg : cx_strerror(open_rc));
  } else {
    rc = r->method->check ? r->method->check(r, &err) : 0;
    if (rc == 0 && r->method->write && r->id) {
      /* The result goes into the reply as text, between head and tail. */
      put_head(&r->line, r->id);
      cx__buf_puts(&r->line, ",\"result\":");
      rc = r->method->write(r, &r->line, &err);
      if (rc == 0) cx__buf_puts(&r->line, "}\n");
      else r->line.n = 0;
      written = rc == 0;
    } else if (rc == 0) {
      rc = r->method->run(r, &result, &err);
    }
  }
  r->failed = rc != 0;
  if (rc != 0) cxd_index_ref_unalias(r->ixref, &err);
  if (r->id && !written) {
    if (rc == 0) cxd_rpc_write_result(&r->line, r->id, result);
    else cxd_rpc_write_error(&r->line, r->id, &err);
  }
  json_decref(result);
  cxd_error_clear(&err);
  /* prep may borrow from params and hold engine state: free it here, on the
   * thread that made it, so the loop does as little as possible. */
  if (r->prep && r->method->release) r->method->release(r->prep);
  r->prep = NULL;
}

void cxd_rpc_worker_done(cxd_req *r, int status) {
  cxd_server *srv = r->srv;
  srv->inflight--;
  if (status != 0 && r->id) { /* never cancelled today; answer rather than drop */
    cxd_error err = {0};
    cxd_error_set(&err, CXD_INTERNAL_ERROR, json_pack("{s:s}", "reason", uv_strerror(status)),
                  "internal error: the query did not run: %s", uv_strerror(status));
    r->line.n = 0;
    cxd_rpc_write_error(&r->line, r->id, &err);
    cxd_error_clear(&err);
    r->failed = 1;
  }
  if (r->line.n) cxd_conn_send_buf(r->conn, &r->line);
  req_done(r, r->failed);
}
