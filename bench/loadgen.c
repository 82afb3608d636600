/* loadgen.c — load generator for cardexd: N connections, K requests in flight each; req/s and latency percentiles.
 *
 *   loadgen --socket PATH [-c CONNS] [-k INFLIGHT] [-d SECONDS] [-w WARMUP_SECONDS]
 *           [-m METHOD] [-q QUERIES_FILE] [-r REQUESTS_FILE] [--label TEXT]
 *
 * Requests are JSON-RPC lines. Without a file every request is a ping (or
 * -m METHOD without params); -q FILE sends `search` (or -m answer/suggest) for each line of FILE
 * in turn; -r FILE takes whole request templates, one JSON object per line
 * with "method" and "params" (loadgen adds "jsonrpc" and "id"). The id of a
 * request is its slot on the connection, so replies may come back in any
 * order (cardexd) or verbatim (bench/echo_server). A reply whose envelope has
 * "error" counts as an error. Prints one summary line, parseable as key=value. */
#include "histogram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct lg_conn {
  uv_pipe_t pipe;
  uv_connect_t connect;
  int index;
  uint64_t *sent_at; /* per slot, uv_hrtime of the request in flight; 0: free */
  int *free_slots;
  int nfree;
  char *in;
  size_t in_len, in_cap;
  size_t next_req;
  int writing;
} lg_conn;

typedef struct write_req {
  uv_write_t req;
  char *data;
} write_req;

static struct {
  const char *socket;
  int conns, inflight;
  double seconds, warmup;
  const char *method, *queries, *requests, *label;
} opt = {NULL, 16, 1, 5.0, 1.0, NULL, NULL, NULL, ""};

static char **bodies; /* the part of each request after "id":N, */
static size_t nbodies;
static lg_conn *conns;
static uv_loop_t *loop;
static uv_timer_t warmup_timer, end_timer;
static int measuring, stopping;
static uint64_t t_start, t_end, completed, errors, dropped;
static cxd_hist hist;

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "loadgen: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(2);
}

static void json_escape(const char *s, size_t n, char **out, size_t *outn) {
  char *p = malloc(n * 6 + 3);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') p[k++] = '\\', p[k++] = (char)ch;
    else if (ch < 0x20) k += (size_t)sprintf(p + k, "\\u%04x", ch);
    else p[k++] = (char)ch;
  }
  p[k] = '\0';
  *out = p;
  *outn = k;
}

static void add_body(const char *b) {
  bodies = realloc(bodies, (nbodies + 1) * sizeof *bodies);
  bodies[nbodies++] = strdup(b);
}

static void load_bodies(void) {
  const char *file = opt.requests ? opt.requests : opt.queries;
  if (file == NULL) {
    char b[256];
    snprintf(b, sizeof b, "\"method\":\"%s\"}", opt.method);
    add_body(b);
    return;
  }
  FILE *f = fopen(file, "r");
  if (!f) die("cannot open %s", file);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0 || line[0] == '#') continue;
    if (opt.requests) {
      /* {"method":...} -> "method":...} */
      if (line[0] != '{') die("request templates must be JSON objects: %s", line);
      add_body(line + 1);
    } else {
      char *q;
      size_t qn;
      json_escape(line, (size_t)n, &q, &qn);
      const char *key = strcmp(opt.method, "suggest") == 0 ? "prefix" : "query";
      size_t len = qn + strlen(opt.method) + 64;
      char *b = malloc(len);
      snprintf(b, len, "\"method\":\"%s\",\"params\":{\"%s\":\"%s\"}}", opt.method, key, q);
      add_body(b);
      free(b);
      free(q);
    }
  }
  free(line);
  fclose(f);
  if (nbodies == 0) die("no requests in %s", file);
}

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  lg_conn *c = req->handle->data;
  c->writing--;
  free(w->data);
  free(w);
  if (status < 0 && !stopping) die("write failed: %s", uv_strerror(status));
}

/* Fills every free slot of c with a request, in one write. */
static void send_requests(lg_conn *c) {
  if (stopping || c->nfree == 0) return;
  size_t cap = 0, len = 0;
  char *buf = NULL;
  uint64_t now = uv_hrtime();
  while (c->nfree > 0) {
    int slot = c->free_slots[--c->nfree];
    const char *body = bodies[c->next_req++ % nbodies];
    size_t need = strlen(body) + 64;
    if (len + need > cap) {
      cap = (len + need) * 2;
      buf = realloc(buf, cap);
    }
    len += (size_t)snprintf(buf + len, cap - len, "{\"jsonrpc\":\"2.0\",\"id\":%d,%s\n", slot, body);
    c->sent_at[slot] = now;
  }
  uv_buf_t b = uv_buf_init(buf, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
  if (n == UV_EAGAIN) n = 0;
  if (n < 0) die("write failed: %s", uv_strerror(n));
  if ((size_t)n == len) {
    free(buf);
    return;
  }
  write_req *w = malloc(sizeof *w);
  w->data = buf;
  b = uv_buf_init(buf + n, (unsigned)(len - (size_t)n));
  c->writing++;
  uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_write);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  lg_conn *c = h->data;
  if (c->in_cap - c->in_len < 65536) {
    c->in_cap = c->in_cap * 2 + 65536;
    c->in = realloc(c->in, c->in_cap);
  }
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void reply(lg_conn *c, const char *line, size_t len) {
  /* The envelope starts {"jsonrpc":"2.0","id":N — cardexd writes it so; the
   * echo server returns our own line. */
  const char *p = strstr(line, "\"id\":");
  if (p == NULL || p > line + 32) {
    dropped++;
    return;
  }
  int slot = atoi(p + 5);
  if (slot < 0 || slot >= opt.inflight || c->sent_at[slot] == 0) {
    dropped++;
    return;
  }
  uint64_t now = uv_hrtime();
  if (measuring) {
    cxd_hist_add(&hist, (now - c->sent_at[slot]) / 1000);
    completed++;
    const char *rest = strchr(p + 5, ',');
    if (rest && strncmp(rest, ",\"error\":", 9) == 0 && errors++ == 0)
      fprintf(stderr, "loadgen: first error reply: %.300s\n", line);
  }
  c->sent_at[slot] = 0;
  c->free_slots[c->nfree++] = slot;
  (void)len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  lg_conn *c = s->data;
  if (nread < 0) {
    if (!stopping) die("connection closed by the server: %s", uv_strerror((int)nread));
    return;
  }
  c->in_len += (size_t)nread;
  size_t pos = 0;
  char *nl;
  while ((nl = memchr(c->in + pos, '\n', c->in_len - pos)) != NULL) {
    *nl = '\0';
    reply(c, c->in + pos, (size_t)(nl - (c->in + pos)));
    pos = (size_t)(nl - c->in) + 1;
  }
  memmove(c->in, c->in + pos, c->in_len - pos);
  c->in_len -= pos;
  send_requests(c);
}

static void on_connect(uv_connect_t *req, int status) {
  lg_conn *c = req->handle->data;
  if (status < 0) die("cannot connect: %s", uv_strerror(status));
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
  send_requests(c);
}

static void on_warmup(uv_timer_t *t) {
  measuring = 1;
  t_start = uv_hrtime();
}

static void on_end(uv_timer_t *t) {
  t_end = uv_hrtime();
  measuring = 0;
  stopping = 1;
  for (int i = 0; i < opt.conns; i++) uv_close((uv_handle_t *)&conns[i].pipe, NULL);
  uv_close((uv_handle_t *)&warmup_timer, NULL);
  uv_close((uv_handle_t *)&end_timer, NULL);
}

static void usage(void) {
  fputs("usage: loadgen --socket PATH [-c CONNS] [-k INFLIGHT] [-d SECONDS] [-w WARMUP]\n"
        "               [-m METHOD] [-q QUERIES_FILE | -r REQUESTS_FILE] [--label TEXT]\n",
        stderr);
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--socket") || !strcmp(a, "-s")) opt.socket = v;
    else if (!strcmp(a, "-c")) opt.conns = atoi(v);
    else if (!strcmp(a, "-k")) opt.inflight = atoi(v);
    else if (!strcmp(a, "-d")) opt.seconds = atof(v);
    else if (!strcmp(a, "-w")) opt.warmup = atof(v);
    else if (!strcmp(a, "-m")) opt.method = v;
    else if (!strcmp(a, "-q")) opt.queries = v;
    else if (!strcmp(a, "-r")) opt.requests = v;
    else if (!strcmp(a, "--label")) opt.label = v;
    else usage();
  }
  if (!opt.socket || opt.conns < 1 || opt.inflight < 1 || opt.inflight > 100000 ||
      opt.seconds <= 0)
    usage();
  if (opt.method == NULL) opt.method = opt.queries ? "search" : "ping";
  load_bodies();
  cxd_hist_init(&hist);
  loop = uv_default_loop();
  conns = calloc((size_t)opt.conns, sizeof *conns);
  for (int i = 0; i < opt.conns; i++) {
    lg_conn *c = &conns[i];
    c->index = i;
    c->sent_at = calloc((size_t)opt.inflight, sizeof *c->sent_at);
    c->free_slots = malloc((size_t)opt.inflight * sizeof *c->free_slots);
    for (int s = 0; s < opt.inflight; s++) c->free_slots[c->nfree++] = opt.inflight - 1 - s;
    c->next_req = (size_t)i * 7919; /* connections start at different queries */
    uv_pipe_init(loop, &c->pipe, 0);
    c->pipe.data = c;
    uv_pipe_connect(&c->connect, &c->pipe, opt.socket, on_connect);
  }
  uv_timer_init(loop, &warmup_timer);
  uv_timer_init(loop, &end_timer);
  uv_timer_start(&warmup_timer, on_warmup, (uint64_t)(opt.warmup * 1000), 0);
  uv_timer_start(&end_timer, on_end, (uint64_t)((opt.warmup + opt.seconds) * 1000), 0);
  uv_run(loop, UV_RUN_DEFAULT);

  double secs = (double)(t_end - t_start) / 1e9;
  printf("%s%sconns=%d inflight=%d requests=%llu errors=%llu dropped=%llu seconds=%.2f "
         "rps=%.0f p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu\n",
         opt.label, *opt.label ? " " : "", opt.conns, opt.inflight,
         (unsigned long long)completed, (unsigned long long)errors,
         (unsigned long long)dropped, secs, completed / secs,
         (unsigned long long)cxd_hist_quantile(&hist, 0.50),
         (unsigned long long)cxd_hist_quantile(&hist, 0.99),
         (unsigned long long)cxd_hist_quantile(&hist, 0.999), (unsigned long long)hist.max);
  for (int i = 0; i < opt.conns; i++) {
    free(conns[i].sent_at);
    free(conns[i].free_slots);
    free(conns[i].in);
  }
  free(conns);
  for (size_t i = 0; i < nbodies; i++) free(bodies[i]);
  free(bodies);
  uv_loop_close(loop);
  return errors ? 1 : 0;
}
