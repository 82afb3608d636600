/* main.c — cardexd: start-up, signals, graceful drain and exit. */
#include "cardexd.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void on_signal(uv_signal_t *h, int signum) {
  cxd_server *srv = h->data;
  if (signum == SIGHUP) {
    cxd_reload_request(srv, NULL, "SIGHUP");
    return;
  }
  const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
  if (!srv->draining) {
    cxd_server_shutdown(srv, 0, name);
    return;
  }
  cxd_log(CXD_LOG_WARN, "%s again: closing every connection now", name);
  cxd_conns_drain(srv, 1);
}

static void on_check(uv_check_t *h) { cxd_conns_flush(h->data); }
static void on_prepare(uv_prepare_t *h) { cxd_conns_flush(h->data); }

static void on_idle_sweep(uv_timer_t *t) { cxd_conns_sweep_idle(t->data); }

/* Each connection is a descriptor; the default soft limit (often 1024) would
 * make --max-connections a lie. */
static void raise_fd_limit(const cxd_options *o) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = (rlim_t)o->max_connections + 64;
  if (rl.rlim_cur >= want) return;
  rlim_t old = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want)
    cxd_log(CXD_LOG_WARN, "open file limit is %llu (hard); --max-connections %d needs about "
            "%llu: raise `ulimit -n` or LimitNOFILE=", (unsigned long long)rl.rlim_max,
            o->max_connections, (unsigned long long)want);
  else
    cxd_log(CXD_LOG_DEBUG, "raised the open file limit from %llu to %llu",
            (unsigned long long)old, (unsigned long long)rl.rlim_cur);
}

static int start_handles(cxd_server *srv) {
  int rc = 0;
  uv_signal_t *sigs[] = {&srv->sigint, &srv->sigterm, &srv->sighup};
  int nums[] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3 && rc == 0; i++) {
    rc = uv_signal_init(srv->loop, sigs[i]);
    if (rc == 0) {
      sigs[i]->data = srv;
      rc = uv_signal_start(sigs[i], on_signal, nums[i]);
      /* signals must not keep the loop alive once everything else is gone */
      uv_unref((uv_handle_t *)sigs[i]);
    }
  }
  if (rc == 0) rc = uv_check_init(srv->loop, &srv->flush_check);
  if (rc == 0) {
    srv->flush_check.data = srv;
    rc = uv_check_start(&srv->flush_check, on_check);
    uv_unref((uv_handle_t *)&srv->flush_check);
  }
  if (rc == 0) rc = uv_prepare_init(srv->loop, &srv->flush_prepare);
  if (rc == 0) {
    srv->flush_prepare.data = srv;
    rc = uv_prepare_start(&srv->flush_prepare, on_prepare);
    uv_unref((uv_handle_t *)&srv->flush_prepare);
  }
  if (rc == 0) rc = uv_timer_init(srv->loop, &srv->idle_timer);
  if (rc == 0) rc = uv_timer_init(srv->loop, &srv->drain_timer);
  if (rc != 0) return rc;
  srv->idle_timer.data = srv;
  srv->drain_timer.data = srv;
  if (srv->opt.idle_timeout_ms > 0) {
    uint64_t every = (uint64_t)srv->opt.idle_timeout_ms / 4;
    if (every < 100) every = 100;
    if (every > 5000) every = 5000;
    uv_timer_start(&srv->idle_timer, on_idle_sweep, every, every);
    uv_unref((uv_handle_t *)&srv->idle_timer);
  }
  return 0;
}

static void report_leftover(uv_handle_t *h, void *arg) {
  cxd_log(CXD_LOG_ERROR, "bug: a %s handle is still open at exit", uv_handle_type_name(h->type));
}

int main(int argc, char **argv) {
  static cxd_server srv; /* large (histogram); static so it is not on the stack */
  signal(SIGPIPE, SIG_IGN); /* a client hanging up shows as EPIPE, not a signal */
  int rc = cxd_options_parse(&srv.opt, argc, argv);
  if (rc != 0) {
    cxd_options_destroy(&srv.opt);
    return rc > 0 ? 0 : 2;
  }
  raise_fd_limit(&srv.opt);
  srv.opt.threads = cxd_pool_configure(srv.opt.threads);
  /* Each worker's connection keeps its own page cache (32 MB at the engine's
   * setting); a soft heap limit makes SQLite recycle pages across all of them. */
  /* The engine maps the index (PRAGMA mmap_size). A process that runs for
   * months meets the admin who copies a new index over the old one in place:
   * mapped pages past the new end of file then raise SIGBUS and the daemon
   * dies. Without mmap SQLite reads with pread and such a file gives query
   * errors until the next reload instead. This caps the pragma process-wide;
   * it must come before SQLite is initialised. */
  if (!srv.opt.mmap) sqlite3_config(SQLITE_CONFIG_MMAP_SIZE, (sqlite3_int64)0, (sqlite3_int64)0);
  if (srv.opt.cache_limit_mb > 0)
    sqlite3_soft_heap_limit64((sqlite3_int64)srv.opt.cache_limit_mb * 1024 * 1024);
  /* jansson seeds its hash function on first use; do it before any thread. */
  json_object_seed(0);
  cxd_hist_init(&srv.latency);
  srv.start_ns = uv_hrtime();

  uv_loop_t loop;
  if ((rc = uv_loop_init(&loop)) != 0) {
    fprintf(stderr, "cardexd: cannot create the event loop: %s\n", uv_strerror(rc));
    cxd_options_destroy(&srv.opt);
    return 1;
  }
  srv.loop = &loop;
  if (cxd_listener_open(&srv) != 0) {
    uv_run(&loop, UV_RUN_NOWAIT); /* let the listener handle close */
    uv_loop_close(&loop);
    cxd_options_destroy(&srv.opt);
    return 1;
  }
  if ((rc = start_handles(&srv)) != 0 || cxd_reload_init(&srv) != 0) {
    fprintf(stderr, "cardexd: cannot start: %s\n", rc ? uv_strerror(rc) : "reload setup failed");
    return 1;
  }
  cxd_log(CXD_LOG_INFO, "%s starting: pid %ld, %s %s, %d worker thread%s", CXD_SERVER_NAME,
          (long)getpid(), srv.opt.seeds_dir ? "seeds" : "index",
          srv.opt.seeds_dir ? srv.opt.seeds_dir : srv.opt.index_path, srv.opt.threads,
          srv.opt.threads == 1 ? "" : "s");

  uv_run(&loop, UV_RUN_DEFAULT);

  cxd_listener_close(&srv);
  if (srv.ix) srv.ix->loop = NULL; /* cxd_pool_shutdown closes every connection */
  cxd_index_ref_release(srv.ix);
  srv.ix = NULL;
  cxd_pool_shutdown();
  cxd_method_ping_cleanup();
  if (uv_loop_close(&loop) != 0) {
    uv_walk(&loop, report_leftover, NULL);
  }
  uv_library_shutdown();
  cxd_log(CXD_LOG_INFO, "exit: %llu requests served (%llu errors)",
          (unsigned long long)srv.requests, (unsigned long long)srv.errors);
  free(srv.dirty);
  free(srv.reload.last_error);
  cxd_options_destroy(&srv.opt);
  return srv.exit_code;
}
