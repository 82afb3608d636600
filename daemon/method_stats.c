/* method_stats.c — `stats`: index, traffic, latency percentiles and reload status, from the loop. */
#include "cardexd.h"

#include <sqlite3.h>

static const char *const fields[] = {NULL};

static int check(cxd_req *r, cxd_error *e) { return cxd_params_only(r->params, fields, e); }

static json_int_t q(const cxd_hist *h, double quantile) {
  return (json_int_t)cxd_hist_quantile(h, quantile);
}

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  cxd_server *srv = r->srv;
  const cxd_options *o = &srv->opt;
  const cxd_hist *h = &srv->latency;
  json_t *index = srv->ix && srv->ix->info ? json_deep_copy(srv->ix->info) : json_null();
  *result = json_pack(
      "{s:s,s:s,s:I,s:I,s:I,s:I,s:i,s:{s:I,s:I,s:i},"
      "s:{s:I,s:I,s:I,s:I,s:I,s:I},s:o,s:o,"
      "s:{s:I,s:i,s:i,s:i,s:I,s:I,s:i,s:f,s:i,s:i}}",
      "version", CX_PROTOCOL_VERSION, "server", CXD_SERVER_NAME,
      "uptime_s", (json_int_t)((uv_hrtime() - srv->start_ns) / 1000000000ULL),
      "requests", (json_int_t)srv->requests, "errors", (json_int_t)srv->errors,
      "overloaded", (json_int_t)srv->overloads, "inflight", srv->inflight,
      "connections", "open", (json_int_t)srv->nconns, "total", (json_int_t)srv->conns_total,
      "max", o->max_connections,
      "latency_us", "p50", q(h, 0.50), "p90", q(h, 0.90), "p99", q(h, 0.99), "p999",
      q(h, 0.999), "max", (json_int_t)h->max, "count", (json_int_t)h->count,
      "index", index, "reload", cxd_reload_stats(srv),
      "limits", "max_request", (json_int_t)o->max_request, "max_connections",
      o->max_connections, "max_inflight", o->max_inflight, "max_pipeline", o->max_pipeline,
      "max_write_queue", (json_int_t)o->max_write_queue, "max_buffered",
      (json_int_t)o->max_buffered, "idle_timeout_s",
      o->idle_timeout_ms / 1000, "query_timeout_ms", (double)o->query_timeout_us / 1000.0, "max_limit",
      CX_MAX_LIMIT, "threads", o->threads);
  if (*result)
    json_object_set_new(*result, "memory",
                        json_pack("{s:I,s:I,s:I,s:I}", "buffered_bytes",
                                  (json_int_t)srv->buffered, "sqlite_bytes",
                                  (json_int_t)sqlite3_memory_used(), "sqlite_highwater_bytes",
                                  (json_int_t)sqlite3_memory_highwater(0), "sqlite_limit_bytes",
                                  (json_int_t)sqlite3_soft_heap_limit64(-1)));
  if (*result == NULL)
    return cxd_error_set(e, CXD_INTERNAL_ERROR, NULL, "internal error: cannot build stats");
  return 0;
}

const cxd_method cxd_method_stats = {"stats", 0, check, run, NULL, NULL};
