/* conn.c — one client connection: line framing, write queue with backpressure, refcount. */
#include "cardexd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define READ_CHUNK 65536

/* Reads go into this one buffer when a connection has no partial line
 * pending, so an idle connection holds no read buffer at all. Only the loop
 * thread reads, one connection at a time. */
static char shared_rbuf[READ_CHUNK];

typedef struct write_req {
  uv_write_t req;
  char *data;
  size_t len;
} write_req;

static void conn_progress(cxd_conn *c);
static void conn_write(cxd_conn *c);

static size_t queued(const cxd_conn *c) { return c->out.n + c->writing; }

/* Keeps srv->buffered the sum over connections of their unhandled input and
 * unsent replies (--max-buffered): called wherever either changes; replies
 * appended to out are counted when the connection is flushed, in the same
 * loop iteration. */
static void account(cxd_conn *c) {
  size_t now = c->closing ? 0 : queued(c) + (c->in_len - c->in_pos);
  c->srv->buffered += now - c->accounted; /* modular: a decrease works too */
  c->accounted = now;
}

void cxd_conn_ref(cxd_conn *c) { c->refs++; }

void cxd_conn_unref(cxd_conn *c) {
  if (--c->refs > 0) return;
  free(c->in);
  cx__buf_destroy(&c->out);
  free(c);
}

static void on_close(uv_handle_t *h) {
  cxd_conn *c = h->data;
  cxd_server *srv = c->srv;
  if (c->prev) c->prev->next = c->next;
  else srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  srv->nconns--;
  cxd_conn_unref(c);
  cxd_server_maybe_finish(srv);
}

void cxd_conn_close(cxd_conn *c, int level, const char *reason) {
  if (c->closing) return;
  c->closing = 1;
  c->reading = 0;
  account(c);
  cxd_log(level, "connection %llu (uid %ld pid %ld) closed: %s", (unsigned long long)c->id,
          c->uid, c->pid, reason);
  uv_close((uv_handle_t *)&c->pipe, on_close);
}

static void update_reading(cxd_conn *c);

void cxd_conn_close_after_flush(cxd_conn *c) {
  if (c->closing) return;
  c->close_after_flush = 1;
  update_reading(c);
  if (queued(c) == 0) cxd_conn_close(c, CXD_LOG_DEBUG, "done");
}

static void mark_dirty(cxd_conn *c) {
  if (c->dirty) return;
  cxd_server *srv = c->srv;
  if (srv->ndirty == srv->dirty_cap) {
    srv->dirty_cap = srv->dirty_cap ? srv->dirty_cap * 2 : 64;
    srv->dirty = cx_xrealloc(srv->dirty, srv->dirty_cap * sizeof *srv->dirty);
  }
  c->dirty = 1;
  cxd_conn_ref(c);
  srv->dirty[srv->ndirty++] = c;
}

cx__buf *cxd_conn_outbuf(cxd_conn *c) {
  if (c->closing) return NULL;
  mark_dirty(c);
  return &c->out;
}

void cxd_conn_send(cxd_conn *c, const char *data, size_t len) {
  cx__buf *out = cxd_conn_outbuf(c);
  if (out) cx__buf_add(out, data, len);
}

void cxd_conn_send_buf(cxd_conn *c, cx__buf *b) {
  cx__buf *out = cxd_conn_outbuf(c);
  if (out == NULL) return;
  if (out->n > 0 || b->p == NULL) {
    cx__buf_add(out, b->p, b->n);
    return;
  }
  /* A 10 KB search reply is not copied again on the loop thread. */
  cx__buf tmp = *out;
  *out = *b;
  *b = tmp;
  b->n = 0;
}

/* ---- reading ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  cxd_conn *c = h->data;
  if (c->in_pos == c->in_len) {
    c->in_pos = c->in_len = c->scan = 0;
    *buf = uv_buf_init(shared_rbuf, sizeof shared_rbuf);
    return;
  }
  /* A partial line is pending: read behind it. */
  if (c->in_pos > 0) {
    memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
    c->in_len -= c->in_pos;
    c->in_pos = 0;
  }
  if (c->in_cap - c->in_len < READ_CHUNK / 2) {
    size_t cap = c->in_cap * 2;
    if (cap < c->in_len + READ_CHUNK) cap = c->in_len + READ_CHUNK;
    c->in = cx_xrealloc(c->in, cap);
    c->in_cap = cap;
  }
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void line_too_long(cxd_conn *c, size_t len) {
  cxd_server *srv = c->srv;
  cxd_error err = {0};
  cxd_error_set(&err, CXD_INVALID_REQUEST,
                json_pack("{s:s,s:I}", "reason", "line too long", "limit",
                          (json_int_t)srv->opt.max_request),
                "invalid request: request line longer than %zu bytes (the daemon's "
                "--max-request); the connection is closed",
                srv->opt.max_request);
  cx__buf *out = cxd_conn_outbuf(c);
  if (out) cxd_rpc_write_error(out, NULL, &err);
  cxd_error_clear(&err);
  srv->requests++;
  srv->errors++;
  cxd_log(CXD_LOG_WARN, "connection %llu: request line of %s%zu bytes exceeds --max-request %zu;"
          " closing it", (unsigned long long)c->id, len > srv->opt.max_request ? "over " : "",
          len, srv->opt.max_request);
  free(c->in);
  c->in = NULL;
  c->in_pos = c->in_len = c->in_cap = c->scan = 0;
  account(c);
  cxd_conn_close_after_flush(c);
}

/* Handles the complete lines of [p, p+n); bytes before p+from are known to
 * hold no '\n'. Returns how many bytes were consumed. Stops early (setting
 * blocked) when the connection has as many requests in flight as allowed or
 * too many unsent replies: the rest waits in the buffer and reading pauses. */
static size_t handle_lines(cxd_conn *c, char *p, size_t n, size_t from) {
  cxd_server *srv = c->srv;
  size_t pos = 0;
  while (pos < n) {
    if (c->closing || c->close_after_flush || srv->draining) return n;
    if (c->inflight >= srv->opt.max_pipeline || queued(c) > srv->opt.max_write_queue ||
        srv->buffered_paused) {
      c->blocked = 1;
      return pos;
    }
    size_t len;
    cxd_frame f = cxd_frame_next(p + pos, n - pos, from > pos ? from - pos : 0,
                                 srv->opt.max_request, &len);
    if (f == CXD_FRAME_PARTIAL) return pos;
    if (f == CXD_FRAME_TOO_LONG) {
      line_too_long(c, len);
      return n;
    }
    cxd_rpc_handle_line(c, p + pos, len);
    pos += len + 1;
  }
  return pos;
}

/* Handles what waits in c->in; at end of input a last line without '\n' counts. */
static void process_input(cxd_conn *c) {
  size_t n = c->in_len - c->in_pos;
  c->blocked = 0;
  if (n == 0) return;
  size_t used = handle_lines(c, c->in + c->in_pos, n, c->scan);
  if (c->in == NULL) return; /* line_too_long dropped the buffer */
  c->in_pos += used;
  size_t rest = c->in_len - c->in_pos;
  if (rest && c->eof && !c->blocked && !c->closing && !c->close_after_flush &&
      !c->srv->draining) {
    cxd_rpc_handle_line(c, c->in + c->in_pos, rest);
    c->in_pos = c->in_len;
    rest = 0;
  }
  if (rest == 0) {
    c->in_pos = c->in_len = c->scan = 0;
    if (c->in_cap > READ_CHUNK) { /* a long line passed: give the memory back */
      free(c->in);
      c->in = NULL;
      c->in_cap = 0;
    }
  } else {
    c->scan = c->blocked ? 0 : rest;
  }
  account(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  cxd_conn *c = s->data;
  if (c->closing) return;
  if (nread == 0) return;
  if (nread < 0) {
    c->reading = 0;
    if (nread != UV_EOF) {
      cxd_conn_close(c, CXD_LOG_DEBUG, uv_strerror((int)nread));
      return;
    }
    uv_read_stop(s);
    c->eof = 1;
    process_input(c);
    conn_progress(c);
    return;
  }
  c->last_active_ms = cxd_now_ms(c->srv);
  if (buf->base == shared_rbuf) {
    size_t used = handle_lines(c, shared_rbuf, (size_t)nread, 0);
    size_t rest = (size_t)nread - used;
    if (rest && !c->closing && !c->close_after_flush && !c->srv->draining) {
      if (c->in_cap < rest) {
        free(c->in);
        c->in_cap = rest > READ_CHUNK ? rest : READ_CHUNK;
        c->in = cx_xmalloc(c->in_cap);
      }
      memcpy(c->in, shared_rbuf + used, rest);
      c->in_pos = 0;
      c->in_len = rest;
      c->scan = c->blocked ? 0 : rest;
    }
  } else {
    c->in_len += (size_t)nread;
    process_input(c);
  }
  account(c);
  update_reading(c);
}

/* Hysteresis on unsent replies: pause above --max-write-queue, resume at half. */
static void update_wq_pause(cxd_conn *c) {
  size_t q = queued(c), max = c->srv->opt.max_write_queue;
  if (!c->paused_wq && q > max) {
    c->paused_wq = 1;
    cxd_log(CXD_LOG_DEBUG, "connection %llu: %zu bytes of replies unread; pausing reads",
            (unsigned long long)c->id, q);
  } else if (c->paused_wq && q <= max / 2) {
    c->paused_wq = 0;
  }
}

static void update_reading(cxd_conn *c) {
  if (c->closing) return;
  cxd_server *srv = c->srv;
  update_wq_pause(c);
  int want = !c->eof && !c->close_after_flush && !srv->draining && !c->paused_wq &&
             !c->blocked && c->inflight < srv->opt.max_pipeline && !srv->buffered_paused;
  if (want && !c->reading) {
    int rc = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    if (rc != 0) {
      cxd_conn_close(c, CXD_LOG_WARN, uv_strerror(rc));
      return;
    }
    c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->pipe);
    c->reading = 0;
  }
}

/* Something finished (a request, a write, the input): continue where the
 * connection stopped, or end it. */
static void conn_progress(cxd_conn *c) {
  if (c->closing) return;
  cxd_server *srv = c->srv;
  if (srv->draining) {
    c->in_pos = c->in_len = c->scan = 0;
    c->blocked = 0;
    account(c);
    if (c->inflight == 0) cxd_conn_close_after_flush(c);
    update_reading(c);
    return;
  }
  update_wq_pause(c);
  if (c->blocked && !c->paused_wq) process_input(c);
  if (c->eof && !c->blocked && c->inflight == 0 && c->in_pos == c->in_len &&
      !c->close_after_flush)
    cxd_conn_close_after_flush(c);
  update_reading(c);
}

void cxd_conn_request_done(cxd_conn *c) {
  c->last_active_ms = cxd_now_ms(c->srv);
  conn_progress(c);
}

/* ---- writing -------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  cxd_conn *c = req->handle->data;
  free(w->data);
  free(w);
  c->writing = 0;
  if (c->closing) return;
  account(c);
  if (status < 0) {
    cxd_conn_close(c, CXD_LOG_DEBUG, uv_strerror(status));
    return;
  }
  c->last_active_ms = cxd_now_ms(c->srv);
  conn_write(c);
}

/* Closing a Unix socket with unread bytes makes the peer's next read fail
 * with ECONNRESET, possibly before it has seen our EOF: a client that
 * pipelined requests we will not run (drain, too-long line) then gets a reset
 * instead of a clean end. Reading what is already there makes that rare. */
static void discard_unread(cxd_conn *c) {
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0) return;
  for (int i = 0; i < 64; i++)
    if (recv(fd, shared_rbuf, sizeof shared_rbuf, MSG_DONTWAIT) <= 0) break;
}

/* Hands queued replies to the kernel: a direct write first (the common case
 * costs one syscall and no allocation), the rest through uv_write. One
 * uv_write at a time, so replies keep their order on the wire. */
static void conn_write(cxd_conn *c) {
  if (c->closing || c->writing) return;
  if (c->out.n) {
    uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.n);
    int n = uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      cxd_conn_close(c, CXD_LOG_DEBUG, uv_strerror(n));
      return;
    }
    if ((size_t)n < c->out.n) {
      write_req *w = cx_xmalloc(sizeof *w);
      w->len = c->out.n - (size_t)n;
      if (n > 0) memmove(c->out.p, c->out.p + n, w->len);
      c->out.n = w->len;
      w->data = cx__buf_detach(&c->out);
      b = uv_buf_init(w->data, (unsigned)w->len);
      int rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_write);
      if (rc != 0) {
        free(w->data);
        free(w);
        cxd_conn_close(c, CXD_LOG_DEBUG, uv_strerror(rc));
        return;
      }
      c->writing = w->len;
      account(c);
      update_reading(c);
      return;
    }
    c->out.n = 0;
    if (c->out.cap > READ_CHUNK) cx__buf_destroy(&c->out);
  }
  account(c);
  /* everything is out */
  if (c->close_after_flush) {
    discard_unread(c);
    cxd_conn_close(c, CXD_LOG_DEBUG, "done");
    return;
  }
  conn_progress(c);
}

static void flush_dirty(cxd_server *srv) {
  /* conn_write may queue more (a resumed connection handles more lines), which
   * appends to dirty: walk by index until it is empty. */
  for (size_t i = 0; i < srv->ndirty; i++) {
    cxd_conn *c = srv->dirty[i];
    c->dirty = 0;
    conn_write(c);
  }
  for (size_t i = 0; i < srv->ndirty; i++) cxd_conn_unref(srv->dirty[i]);
  srv->ndirty = 0;
}

/* --max-buffered: over it, no connection is read (nor its buffered lines
 * handled) until the replies and unfinished requests held come down to half
 * of it. Replies go down as clients read them (a client that never does is
 * closed by --idle-timeout); an unfinished request line cannot finish while
 * nothing is read, so when those alone keep the daemon over half, their
 * connections are closed, largest first. Returns whether reading resumed
 * (lines may have been handled: their replies are queued). */
static int check_budget(cxd_server *srv) {
  size_t max = srv->opt.max_buffered;
  if (!srv->buffered_paused) {
    if (max == 0 || srv->buffered <= max) return 0;
    srv->buffered_paused = 1;
    cxd_log(CXD_LOG_WARN, "%zu bytes of requests and replies buffered over %zu connections "
            "exceed --max-buffered %zu: reading from no connection until half of it is written",
            srv->buffered, srv->nconns, max);
    for (cxd_conn *c = srv->conns; c; c = c->next) update_reading(c);
    return 0;
  }
  /* Complete lines waiting (blocked) are handled on resuming; the input of
   * a connection that is not blocked is an unfinished line. */
  size_t out = 0, part = 0;
  for (cxd_conn *c = srv->conns; c; c = c->next) {
    if (c->closing) continue;
    out += queued(c);
    if (!c->blocked) part += c->in_len - c->in_pos;
  }
  if (out + part > max / 2) {
    if (out > max / 2) return 0;
    while (out + part > max / 2) {
      cxd_conn *big = NULL;
      size_t most = 0;
      for (cxd_conn *c = srv->conns; c; c = c->next)
        if (!c->closing && !c->blocked && c->in_len - c->in_pos > most) {
          big = c;
          most = c->in_len - c->in_pos;
        }
      if (big == NULL) break;
      part -= most;
      char why[160];
      snprintf(why, sizeof why, "its unfinished request of %zu bytes kept the daemon over "
               "--max-buffered %zu", most, max);
      cxd_conn_close(big, CXD_LOG_WARN, why);
    }
  }
  srv->buffered_paused = 0;
  cxd_log(CXD_LOG_INFO, "%zu bytes buffered, under half of --max-buffered %zu: reading again",
          srv->buffered, max);
  for (cxd_conn *c = srv->conns; c; c = c->next) conn_progress(c);
  return 1;
}

void cxd_conns_flush(cxd_server *srv) {
  flush_dirty(srv);
  if (check_budget(srv)) flush_dirty(srv);
}

/* ---- accepting, idling, draining ------------------------------------------ */

void cxd_conn_accept(cxd_server *srv) {
  cxd_conn *c = cx_xcalloc(1, sizeof *c);
  c->srv = srv;
  c->refs = 1;
  c->id = ++srv->next_conn_id;
  c->uid = c->pid = -1;
  cx__buf_init(&c->out);
  uv_pipe_init(srv->loop, &c->pipe, 0);
  c->pipe.data = c;
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;
  srv->conns_total++;
  c->last_active_ms = cxd_now_ms(srv);
  int rc = uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->pipe);
  if (rc != 0) {
    cxd_conn_close(c, CXD_LOG_WARN, uv_strerror(rc));
    return;
  }
  if (cxd_peer_check(srv, c) != 0) {
    cxd_log(CXD_LOG_WARN, "refused a connection from uid %ld (pid %ld): not in --allow-uid",
            c->uid, c->pid);
    cxd_conn_close(c, CXD_LOG_DEBUG, "uid not allowed");
    return;
  }
  if (srv->nconns > (size_t)srv->opt.max_connections) {
    cxd_error err = {0};
    cxd_error_set(&err, CXD_OVERLOADED,
                  json_pack("{s:i}", "limit", srv->opt.max_connections),
                  "overloaded: %d connections are open (the daemon's --max-connections); "
                  "retry later", srv->opt.max_connections);
    cx__buf *out = cxd_conn_outbuf(c);
    cxd_rpc_write_error(out, NULL, &err);
    cxd_error_clear(&err);
    srv->overloads++;
    cxd_log(CXD_LOG_WARN, "refused connection %llu: --max-connections %d reached",
            (unsigned long long)c->id, srv->opt.max_connections);
    cxd_conn_close_after_flush(c);
    return;
  }
  cxd_log(CXD_LOG_DEBUG, "connection %llu from uid %ld pid %ld", (unsigned long long)c->id,
          c->uid, c->pid);
  update_reading(c);
}

void cxd_conns_sweep_idle(cxd_server *srv) {
  uint64_t now = cxd_now_ms(srv);
  for (cxd_conn *c = srv->conns; c; c = c->next) {
    if (c->closing || c->inflight > 0) continue;
    if (now - c->last_active_ms >= (uint64_t)srv->opt.idle_timeout_ms) {
      char why[96];
      snprintf(why, sizeof why, "idle for %d s (the daemon's --idle-timeout)%s",
               srv->opt.idle_timeout_ms / 1000, c->writing ? " with replies unread" : "");
      cxd_conn_close(c, CXD_LOG_INFO, why);
    }
  }
}

void cxd_conns_drain(cxd_server *srv, int force) {
  for (cxd_conn *c = srv->conns; c; c = c->next) {
    if (force) cxd_conn_close(c, CXD_LOG_INFO, "shutting down");
    else conn_progress(c);
  }
}
