/* echo_server.c — the baseline for loadgen: a minimal libuv Unix-socket server that echoes each line back.
 *
 *   echo_server PATH
 *
 * Built like cardexd's transport (one loop, one write per read of complete
 * lines, uv_try_write first) minus JSON and the query engine, so the gap
 * between the two is what cardexd costs per request. Exits on SIGINT/SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct echo_conn {
  uv_pipe_t pipe;
  char *pending; /* an incomplete line carried over */
  size_t npending;
} echo_conn;

typedef struct write_req {
  uv_write_t req;
  char *data;
} write_req;

static uv_pipe_t server;
static uv_signal_t sigint, sigterm;
static char rbuf[65536];
static const char *path;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_close(uv_handle_t *h) {
  echo_conn *c = h->data;
  free(c->pending);
  free(c);
}

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  free(w->data);
  free(w);
}

static void send_bytes(echo_conn *c, const char *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int k = uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
  if (k == UV_EAGAIN) k = 0;
  if (k < 0) {
    uv_close((uv_handle_t *)&c->pipe, on_close);
    return;
  }
  if ((size_t)k == n) return;
  write_req *w = malloc(sizeof *w);
  w->data = malloc(n - (size_t)k);
  memcpy(w->data, p + k, n - (size_t)k);
  b = uv_buf_init(w->data, (unsigned)(n - (size_t)k));
  uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_write);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  echo_conn *c = s->data;
  if (nread < 0) {
    uv_close((uv_handle_t *)s, on_close);
    return;
  }
  const char *last = NULL;
  for (ssize_t i = nread - 1; i >= 0; i--)
    if (buf->base[i] == '\n') {
      last = buf->base + i;
      break;
    }
  if (last == NULL) { /* no line ends here: keep it */
    c->pending = realloc(c->pending, c->npending + (size_t)nread);
    memcpy(c->pending + c->npending, buf->base, (size_t)nread);
    c->npending += (size_t)nread;
    return;
  }
  size_t upto = (size_t)(last - buf->base) + 1;
  if (c->npending) { /* the carried-over start of a line goes first */
    c->pending = realloc(c->pending, c->npending + upto);
    memcpy(c->pending + c->npending, buf->base, upto);
    send_bytes(c, c->pending, c->npending + upto);
    c->npending = 0;
  } else {
    send_bytes(c, buf->base, upto);
  }
  if (upto < (size_t)nread) {
    c->pending = realloc(c->pending, (size_t)nread - upto);
    memcpy(c->pending, buf->base + upto, (size_t)nread - upto);
    c->npending = (size_t)nread - upto;
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status < 0) return;
  echo_conn *c = calloc(1, sizeof *c);
  uv_pipe_init(srv->loop, &c->pipe, 0);
  c->pipe.data = c;
  if (uv_accept(srv, (uv_stream_t *)&c->pipe) != 0) {
    uv_close((uv_handle_t *)&c->pipe, on_close);
    return;
  }
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static void close_any(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, h->data && h->type == UV_NAMED_PIPE && h != (uv_handle_t *)&server ? on_close : NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
  unlink(path);
  uv_walk(h->loop, close_any, NULL);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: echo_server PATH\n");
    return 2;
  }
  path = argv[1];
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t *loop = uv_default_loop();
  unlink(path);
  uv_pipe_init(loop, &server, 0);
  int rc = uv_pipe_bind(&server, path);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
  if (rc != 0) {
    fprintf(stderr, "echo_server: %s: %s\n", path, uv_strerror(rc));
    return 1;
  }
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
