/* server.c — the server's lifecycle shared by its parts: graceful shutdown and the final close. */
#include "cardexd.h"

/* Apart from main.c so that everything but main() links into cardexd_core,
 * which tests/fuzz/fuzz_rpc.c links too. */

static void close_handle(uv_handle_t *h) {
  if (h->loop && !uv_is_closing(h)) uv_close(h, NULL);
}

void cxd_server_maybe_finish(cxd_server *srv) {
  if (!srv->draining || srv->finished || srv->nconns > 0 || srv->reload.running) return;
  srv->finished = 1;
  close_handle((uv_handle_t *)&srv->sigint);
  close_handle((uv_handle_t *)&srv->sigterm);
  close_handle((uv_handle_t *)&srv->sighup);
  close_handle((uv_handle_t *)&srv->flush_check);
  close_handle((uv_handle_t *)&srv->flush_prepare);
  close_handle((uv_handle_t *)&srv->idle_timer);
  close_handle((uv_handle_t *)&srv->drain_timer);
}

static void on_drain_timeout(uv_timer_t *t) {
  cxd_server *srv = t->data;
  cxd_log(CXD_LOG_WARN, "drain timeout (--drain-timeout %d s): closing %zu connection%s with "
          "%d quer%s in flight", srv->opt.drain_timeout_ms / 1000, srv->nconns,
          srv->nconns == 1 ? "" : "s", srv->inflight, srv->inflight == 1 ? "y" : "ies");
  cxd_conns_drain(srv, 1);
}

void cxd_server_shutdown(cxd_server *srv, int exit_code, const char *why) {
  if (srv->draining) return;
  srv->draining = 1;
  srv->exit_code = exit_code;
  cxd_log(exit_code ? CXD_LOG_ERROR : CXD_LOG_INFO,
          "shutting down (%s): %d quer%s in flight on %zu connection%s", why, srv->inflight,
          srv->inflight == 1 ? "y" : "ies", srv->nconns, srv->nconns == 1 ? "" : "s");
  cxd_listener_close(srv);
  cxd_reload_stop(srv);
  uv_timer_stop(&srv->idle_timer);
  if (srv->nconns > 0 && srv->opt.drain_timeout_ms > 0)
    uv_timer_start(&srv->drain_timer, on_drain_timeout, (uint64_t)srv->opt.drain_timeout_ms, 0);
  cxd_conns_drain(srv, 0);
  cxd_server_maybe_finish(srv);
}
