/* cardexd.h — internals shared between cardexd's files: server, connections, requests, methods. */
#ifndef CARDEXD_H
#define CARDEXD_H

#include "cardex.h"
#include "cx_internal.h"
#include "cx_json.h"
#include "histogram.h"

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#define CXD_SERVER_NAME "cardexd " CARDEX_VERSION

/* JSON-RPC error codes (docs/protocol.md, "Errors"). */
enum {
  CXD_PARSE_ERROR = -32700,
  CXD_INVALID_REQUEST = -32600,
  CXD_METHOD_NOT_FOUND = -32601,
  CXD_INVALID_PARAMS = -32602,
  CXD_INTERNAL_ERROR = -32603,
  CXD_NOT_FOUND = -32001,
  CXD_OVERLOADED = -32002,
  CXD_TIMEOUT = -32003,
  CXD_QUERY_SYNTAX = -32004,
  CXD_RELOAD_FAILED = -32005,
};

/* ---- logging (log.c): one line per event on stderr ---------------------- */

enum { CXD_LOG_ERROR = 0, CXD_LOG_WARN, CXD_LOG_INFO, CXD_LOG_DEBUG };
extern int cxd_log_level;
void cxd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define cxd_log_on(level) ((level) <= cxd_log_level)
/* "2026-11-28T01:30:02Z" (UTC, now) into out. */
void cxd_iso_time(char out[32]);

/* ---- options (options.c) ------------------------------------------------ */

typedef struct cxd_options {
  char *index_path;  /* --index, or the cache default with --seeds; owned */
  char *seeds_dir;   /* --seeds; owned */
  int watch;         /* --watch */
  char *socket_path; /* resolved: --socket, $CARDEX_SOCKET or the default; owned */
  int socket_from_default; /* the path is the default one: create its directory */
  unsigned socket_mode;    /* --socket-mode, 0600 */
  uid_t *allow_uids;       /* --allow-uid; NULL: anyone who can open the socket */
  size_t nallow_uids;
  size_t max_request;      /* --max-request bytes per line */
  size_t max_write_queue;  /* --max-write-queue bytes of unsent replies per connection */
  size_t max_buffered;     /* --max-buffered bytes of input and replies, all connections; 0: none */
  int max_connections;     /* --max-connections */
  int max_inflight;        /* --max-inflight worker requests, all connections */
  int max_pipeline;        /* --max-pipeline worker requests per connection */
  int idle_timeout_ms;     /* --idle-timeout (given in seconds); 0: none */
  int64_t query_timeout_us; /* --query-timeout (given in ms, fractions allowed); 0: none */
  int threads;             /* --threads, worker threads */
  int drain_timeout_ms;    /* --drain-timeout (seconds) */
  int cache_limit_mb;      /* --cache-limit: SQLite's memory, process-wide; 0: unbounded */
  int mmap;                /* --mmap: let the engine map the index (see main.c) */
} cxd_options;

/* Parses argv. Returns 0 to run, 1 when --help/--version printed (exit 0),
 * -1 after printing an error (exit 2). */
int cxd_options_parse(cxd_options *o, int argc, char **argv);
void cxd_options_destroy(cxd_options *o);

/* ---- errors sent to clients --------------------------------------------- */

typedef struct cxd_error {
  int code;          /* a JSON-RPC code above */
  char message[1024];
  json_t *data;      /* owned; NULL: none */
} cxd_error;

/* Sets e (stealing data, which may be NULL) and returns -1. */
int cxd_error_set(cxd_error *e, int code, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* -32602 naming the offending field. Returns -1. */
int cxd_error_param(cxd_error *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a library failure to a JSON-RPC error (see methods.c). Returns -1. */
int cxd_error_from_cx(cxd_error *e, int rc, const cx_err *err, const char *card_id,
                      int64_t query_timeout_us);
void cxd_error_clear(cxd_error *e);

/* Replies are encoded by the library's writer, cx__json_write (index/json_text.c). */

/* ---- the index generations (reload.c) ----------------------------------- */

/* One loaded index. Immutable once published except refs, which only the loop
 * thread touches: a worker request holds a reference so that the generation it
 * started on outlives a reload. */
typedef struct cxd_index_ref {
  int refs;
  uint64_t gen;
  char *path;      /* the index file, for people */
  /* What workers pass to cx_index_open: a hard link to the file that was
   * validated ("<path>.serving-<pid>.<n>", removed with the generation), so
   * that a worker opening it late still gets that very file when the path
   * was replaced since (an admin's copy of a broken index, with --index).
   * The path itself where no link can be made (read-only directory). */
  char *open_path;
  int linked;
  json_t *info; /* cx_index_info + loaded_at + generation; loop thread only */
  /* Where the workers' connections to this generation are closed once it is
   * released (cxd_pool_retire); NULL once the loop has stopped. */
  uv_loop_t *loop;
} cxd_index_ref;

cxd_index_ref *cxd_index_ref_acquire(cxd_index_ref *r);
void cxd_index_ref_release(cxd_index_ref *r);
/* Errors from the engine name the file it opened, open_path: name the index
 * (r->path) instead. Any thread; r is only read. */
void cxd_index_ref_unalias(const cxd_index_ref *r, cxd_error *e);

/* ---- methods (methods.c, method_*.c) ------------------------------------ */

struct cxd_req;
struct cxd_server;

/* A protocol method. check and run are called on the thread the method runs
 * on: a worker for on_worker methods (so parameter parsing stays off the loop),
 * else the loop. */
typedef struct cxd_method {
  const char *name;
  int on_worker;
  /* Validates params (NULL when absent) and stores what run needs in req->prep.
   * 0, or -1 with err set (usually -32602 naming the field). */
  int (*check)(struct cxd_req *req, cxd_error *err);
  /* 0 with *result (a new reference), -1 with err set, or CXD_PENDING: the
   * method keeps req and finishes it later with cxd_req_finish (loop only). */
  int (*run)(struct cxd_req *req, json_t **result, cxd_error *err);
  void (*release)(void *prep); /* frees req->prep; NULL if none is made */
  /* Optional, worker methods only: appends the result as JSON text to out
   * instead of run building it (0), or -1 with err set and out as it was.
   * The text must be what cx__json_write writes for run's result. */
  int (*write)(struct cxd_req *req, cx__buf *out, cxd_error *err);
} cxd_method;

#define CXD_PENDING 1

const cxd_method *cxd_method_find(const char *name);
/* Frees what methods keep between requests (at exit). */
void cxd_method_ping_cleanup(void);
extern const cxd_method cxd_method_search, cxd_method_answer, cxd_method_get,
    cxd_method_suggest, cxd_method_related, cxd_method_stats, cxd_method_ping,
    cxd_method_reload;

/* Rejects any member of params not in the NULL-terminated list. -1 with err. */
int cxd_params_only(json_t *params, const char *const *allowed, cxd_error *err);
/* Reads an optional integer member in [lo, hi]; *out keeps its default when absent. */
int cxd_params_int(json_t *params, const char *field, int lo, int hi, int *out,
                   cxd_error *err);
/* Reads a required string member. */
int cxd_params_string(json_t *params, const char *field, const char **out, cxd_error *err);

/* ---- framing and envelope (envelope.c): pure, no libuv ------------------ */

typedef enum { CXD_FRAME_PARTIAL, CXD_FRAME_LINE, CXD_FRAME_TOO_LONG } cxd_frame;

/* Finds the first request line of p[0, n); bytes before `from` are known to
 * hold no '\n'. CXD_FRAME_LINE: *len bytes, then the '\n' (consume *len + 1).
 * CXD_FRAME_PARTIAL: no '\n' yet and at most max bytes. CXD_FRAME_TOO_LONG: the
 * line has more than max bytes (*len of them seen): answer and close. */
cxd_frame cxd_frame_next(const char *p, size_t n, size_t from, size_t max, size_t *len);

typedef enum {
  CXD_LINE_BLANK,              /* nothing to do */
  CXD_LINE_REQUEST,            /* env holds method, id and params */
  CXD_LINE_ERROR,              /* answer err with env->id (NULL: null) */
  CXD_LINE_NOTIFICATION_ERROR, /* err, but a notification: count it, do not answer */
} cxd_line_kind;

typedef struct cxd_envelope {
  const cxd_method *method;
  json_t *id;     /* owned; NULL: a notification (or null in an error reply) */
  json_t *params; /* owned; NULL when absent or null */
} cxd_envelope;

/* Decodes one request line (without its '\n'; a trailing '\r' is ignored) and
 * validates the envelope (docs/protocol.md). Params are checked by the
 * method's check. env is always initialised: cxd_envelope_destroy it. */
cxd_line_kind cxd_envelope_decode(const char *line, size_t len, cxd_envelope *env,
                                  cxd_error *err);
void cxd_envelope_destroy(cxd_envelope *env);
/* The tree json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)
 * gives for the common requests (an object of ASCII strings without escapes,
 * integers, arrays, literals), or NULL for anything else: then json_loadb
 * decides, errors included. New reference. */
json_t *cxd_json_fast_load(const char *line, size_t len);

/* ---- requests (rpc.c) --------------------------------------------------- */

typedef struct cxd_req {
  uv_work_t work;
  struct cxd_server *srv;
  struct cxd_conn *conn; /* holds a reference */
  const cxd_method *method;
  json_t *id;            /* NULL: a notification, which gets no reply */
  json_t *params;        /* NULL when absent */
  void *prep;            /* the method's, freed by method->release */
  cx_index *ix;          /* worker methods: this thread's index (pool.c) */
  cxd_index_ref *ixref;  /* worker methods: the generation to run on */
  uint64_t start_ns;
  cx__buf line;          /* the reply, serialised on the worker */
  int failed;
  int counted;           /* counts in conn->inflight (worker or pending) */
  struct cxd_req *next;  /* reload waiters */
} cxd_req;

/* Handles one request line (without its '\n') read from c. */
void cxd_rpc_handle_line(struct cxd_conn *c, const char *line, size_t len);
/* Completes a request that a loop method left pending: sends the reply
 * (result stolen; or err when result is NULL) and frees req. */
void cxd_req_finish(cxd_req *req, json_t *result, cxd_error *err);
/* Appends one reply line ('\n'-terminated) to out. id NULL means null. */
void cxd_rpc_write_result(cx__buf *out, json_t *id, json_t *result);
void cxd_rpc_write_error(cx__buf *out, json_t *id, const cxd_error *err);
/* Runs req's method on the worker thread and serialises the reply (pool.c calls it). */
void cxd_rpc_run_on_worker(cxd_req *req, int open_rc, const cx_err *open_err);
/* Delivers a worker request's reply on the loop and frees req. */
void cxd_rpc_worker_done(cxd_req *req, int status);

/* ---- worker pool (pool.c) ----------------------------------------------- */

/* Sizes libuv's thread pool (UV_THREADPOOL_SIZE) unless the user set it. Call
 * before the first uv_queue_work. Returns the size in effect. */
int cxd_pool_configure(int threads);
/* Queues req on a worker. 0, or a negative uv error (req untouched). */
int cxd_pool_submit(cxd_req *req);
/* Closes every worker's index and frees the spare reply buffers. Only once no
 * work can run (loop finished). */
void cxd_pool_shutdown(void);
/* Generation gen is released (no request holds it): closes, on a worker, the
 * idle workers' connections to it, so that its file (unlinked by a reload)
 * gives its disk space back now rather than at each worker's next query. */
void cxd_pool_retire(uv_loop_t *loop, uint64_t gen);
/* An empty reply buffer of 16 KB or more for a worker (recycled when one is
 * spare), and giving one back from the loop (b is left empty; a buffer
 * beyond 64 KB or past 16 spares is freed: at most 1 MB is kept). Any thread. */
void cxd_pool_buf_take(cx__buf *b);
void cxd_pool_buf_give(cx__buf *b);

/* ---- connections (conn.c) ----------------------------------------------- */

typedef struct cxd_conn {
  uv_pipe_t pipe; /* first: the handle's data is not needed to find the conn */
  struct cxd_server *srv;
  uint64_t id;
  int refs; /* the open handle holds one, each request in flight one */
  struct cxd_conn *prev, *next;
  char *in; /* bytes read; [in_pos, in_len) not yet handled */
  size_t in_len, in_cap, in_pos, scan;
  cx__buf out;      /* replies not yet handed to the kernel */
  size_t writing;   /* bytes of the uv_write in progress (0: none) */
  int inflight;     /* worker requests of this connection */
  unsigned reading : 1, eof : 1, closing : 1, close_after_flush : 1, dirty : 1,
      paused_wq : 1, blocked : 1; /* blocked: complete lines wait for capacity */
  uint64_t last_active_ms;
  long uid, pid;
  size_t accounted; /* this connection's share of srv->buffered */
} cxd_conn;

/* Accepts one pending connection on the listener. */
void cxd_conn_accept(struct cxd_server *srv);
void cxd_conn_ref(cxd_conn *c);
void cxd_conn_unref(cxd_conn *c);
/* The buffer to append reply lines to (written after this loop iteration's
 * I/O), or NULL when the connection is closing and replies are dropped. */
cx__buf *cxd_conn_outbuf(cxd_conn *c);
/* Queues reply bytes; they are written after the current loop iteration's I/O. */
void cxd_conn_send(cxd_conn *c, const char *data, size_t len);
/* Queues the bytes of b like cxd_conn_send, taking b's memory instead of
 * copying it when nothing else is queued (b then holds the connection's
 * former, empty buffer). */
void cxd_conn_send_buf(cxd_conn *c, cx__buf *b);
/* A worker request of c finished: resumes reading/handling lines. */
void cxd_conn_request_done(cxd_conn *c);
/* Closes now; pending replies are dropped. Logs reason at level. */
void cxd_conn_close(cxd_conn *c, int level, const char *reason);
/* Stops reading, sends what is queued, then closes. */
void cxd_conn_close_after_flush(cxd_conn *c);
/* check-phase callback work: writes every connection with queued replies. */
void cxd_conns_flush(struct cxd_server *srv);
void cxd_conns_sweep_idle(struct cxd_server *srv);
/* Graceful shutdown: stop reading everywhere, finish in-flight, flush, close. */
void cxd_conns_drain(struct cxd_server *srv, int force);

/* ---- listener (listener.c) ---------------------------------------------- */

/* Takes the socket: from systemd (LISTEN_FDS) or by binding the configured
 * path (refusing a live one, replacing a stale one). Prints the reason and
 * returns -1 on failure. Does not accept yet. */
int cxd_listener_open(struct cxd_server *srv);
/* Starts accepting. */
int cxd_listener_start(struct cxd_server *srv);
/* Reads the peer's uid/pid into c; -1 if --allow-uid does not admit it. */
int cxd_peer_check(struct cxd_server *srv, cxd_conn *c);
/* Stops accepting and removes the socket file the daemon created. */
void cxd_listener_close(struct cxd_server *srv);
/* "/tmp/cardex-1000/cardex.sock" etc.; caller frees. *is_default tells
 * whether it is the built-in default (whose directory the daemon creates). */
char *cxd_socket_path_resolve(const char *flag, int *is_default);

/* ---- reload (reload.c) -------------------------------------------------- */

typedef struct cxd_build_job cxd_build_job;

typedef struct cxd_reload {
  uv_async_t done_async;  /* the build thread's "finished" */
  uv_timer_t debounce;    /* --watch: rebuild 200 ms after the last change */
  int running, again;
  uv_thread_t thread;
  cxd_build_job *job;
  cxd_req *waiters;       /* reload requests for the build running now */
  cxd_req *next_waiters;  /* reload requests that came during it */
  uv_fs_event_t **watchers;
  uint64_t *watched_ids; /* each watched directory's (dev, inode) when watched */
  size_t nwatchers;
  int watch_stale;        /* a watched directory itself went away: watch afresh */
  /* --watch: inotify cannot see the seeds directory itself come back once it
   * was removed or moved away, so its path is also polled (stat, 1 s). */
  uv_fs_poll_t root_poll;
  int root_polling, root_missing;
  uint64_t count, failures;
  int last_ok;
  char *last_error;
  char last_at[32];
  double last_ms;
} cxd_reload;

/* Starts the first load (build with --seeds) on its thread; on success the
 * listener starts accepting, on failure the loop stops with exit code 1. */
int cxd_reload_init(struct cxd_server *srv);
/* Queues a rebuild/reopen. waiter (may be NULL) is answered when it is done. */
void cxd_reload_request(struct cxd_server *srv, cxd_req *waiter, const char *why);
/* Stops watching; a build in progress is waited for by the loop. */
void cxd_reload_stop(struct cxd_server *srv);
json_t *cxd_reload_stats(struct cxd_server *srv);

/* ---- the server (main.c) ------------------------------------------------ */

typedef struct cxd_server {
  uv_loop_t *loop;
  cxd_options opt;
  /* listener.c */
  uv_pipe_t listener;
  int listen_fd, listening, listener_closed, activated;
  char *lock_path;
  int lock_fd;
  int socket_created; /* we bound it, so we remove it at exit */
  /* main.c */
  uv_signal_t sigint, sigterm, sighup;
  uv_check_t flush_check;     /* writes replies made during the poll phase */
  uv_prepare_t flush_prepare; /* … and those made by timers and deferred write callbacks,
                                 which run before poll and would otherwise wait in it */
  uv_timer_t idle_timer, drain_timer;
  int draining, finished, exit_code;
  uint64_t start_ns;
  /* conn.c */
  cxd_conn *conns;
  size_t nconns;
  uint64_t conns_total, next_conn_id;
  cxd_conn **dirty;
  size_t ndirty, dirty_cap;
  /* Bytes of unhandled input and unsent replies of all connections, and
   * whether reading is paused because it went over --max-buffered. */
  size_t buffered;
  int buffered_paused;
  /* rpc.c */
  int inflight;
  uint64_t requests, errors, overloads;
  cxd_hist latency;
  /* reload.c */
  cxd_index_ref *ix;
  uint64_t next_gen;
  cxd_reload reload;
} cxd_server;

/* Called whenever something finishes during a drain: closes the remaining
 * handles once no connection and no build is left. */
void cxd_server_maybe_finish(cxd_server *srv);
/* Begins the graceful shutdown (signal, or a failed first load). */
void cxd_server_shutdown(cxd_server *srv, int exit_code, const char *why);

/* Milliseconds of the loop's clock. */
#define cxd_now_ms(srv) (uv_now((srv)->loop))

/* methods.c: the params of `search` and `answer` as a cx_search_req in r->prep. */
int cxd_prep_search_req(cxd_req *r, cxd_error *e);
void cxd_release_search_req(void *prep);

#endif
