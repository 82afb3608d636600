/* rpc.c — one JSON-RPC request over the daemon's Unix socket, with a deadline. */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Replies bigger than this are refused: a daemon bug must not eat memory. */
#define CL_MAX_REPLY (64u * 1024 * 1024)

const char *cl_default_socket(void) {
  static char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  /* A relative XDG_RUNTIME_DIR is invalid (XDG spec) and ignored, as cardexd does. */
  if (xdg && *xdg == '/')
    snprintf(path, sizeof path, "%s/cardex/cardex.sock", xdg);
  else
    snprintf(path, sizeof path, "/tmp/cardex-%u/cardex.sock", (unsigned)getuid());
  return path;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void how_to_start(const cl_opts *o) {
  if (o->socket_explicit)
    fprintf(stderr, "start it with:  cardexd --socket %s --seeds DIR   (DIR: your cards, e.g. seeds/)\n",
            o->socket_path);
  else
    fprintf(stderr, "start it with:  cardexd --seeds DIR   (DIR: your cards, e.g. seeds/)\n");
}

static int connect_socket(const cl_opts *o) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t len = strlen(o->socket_path);
  if (len >= sizeof sa.sun_path) {
    fprintf(stderr, "cardex: socket path too long (%zu bytes), must be under %zu: %s\n", len,
            sizeof sa.sun_path, o->socket_path);
    return -1;
  }
  memcpy(sa.sun_path, o->socket_path, len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "cardex: socket: %s\n", strerror(errno));
    return -1;
  }
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int e = errno;
    fprintf(stderr, "cardex: cannot reach the cardex daemon at %s: %s\n", o->socket_path, strerror(e));
    how_to_start(o);
    close(fd);
    return -1;
  }
  return fd;
}

/* Waits for fd to be ready for events until deadline. 1 ready, 0 timeout. */
static int wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return 1; /* let the read/write report it */
  }
}

static int map_error(json_t *error, const char *method) {
  json_int_t code = json_integer_value(json_object_get(error, "code"));
  const char *msg = json_string_value(json_object_get(error, "message"));
  fprintf(stderr, "cardex: %s: %s\n", method, msg ? msg : "error without a message");
  switch (code) {
  case -32001: return CL_EXIT_NONE;
  case -32602:
  case -32004: return CL_EXIT_USAGE;
  default: return CL_EXIT_ERROR;
  }
}

json_t *cl_call(const cl_opts *o, const char *method, json_t *params, int *status) {
  signal(SIGPIPE, SIG_IGN);
  json_t *req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1, "method", method);
  if (params) json_object_set_new(req, "params", params);
  char *line = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  size_t n = strlen(line);
  line = realloc(line, n + 2);
  if (line == NULL) abort();
  line[n++] = '\n';
  line[n] = '\0';

  *status = CL_EXIT_DAEMON;
  json_t *result = NULL;
  char *buf = NULL;
  int fd = connect_socket(o);
  if (fd < 0) goto out;

  long long deadline = now_ms() + o->timeout_ms;
  for (size_t off = 0; off < n;) {
    if (!wait_fd(fd, POLLOUT, deadline)) goto timeout;
    ssize_t w = write(fd, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      fprintf(stderr, "cardex: writing to the daemon at %s: %s\n", o->socket_path, strerror(errno));
      goto out;
    }
    off += (size_t)w;
  }

  size_t len = 0, cap = 65536;
  buf = malloc(cap);
  if (buf == NULL) abort();
  for (;;) {
    if (!wait_fd(fd, POLLIN, deadline)) goto timeout;
    if (len + 1 >= cap) {
      if (cap >= CL_MAX_REPLY) {
        fprintf(stderr, "cardex: the daemon's reply is over %u bytes; refusing it\n", CL_MAX_REPLY);
        goto out;
      }
      cap *= 2;
      buf = realloc(buf, cap);
      if (buf == NULL) abort();
    }
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      fprintf(stderr, "cardex: reading from the daemon at %s: %s\n", o->socket_path, strerror(errno));
      goto out;
    }
    if (r == 0) {
      fprintf(stderr, "cardex: the daemon at %s closed the connection %s\n", o->socket_path,
              len ? "in the middle of its reply" : "without replying");
      goto out;
    }
    char *nl = memchr(buf + len, '\n', (size_t)r);
    len += (size_t)r;
    if (nl) {
      len = (size_t)(nl - buf);
      break;
    }
  }
  buf[len] = '\0';

  json_error_t jerr;
  json_t *reply = json_loadb(buf, len, 0, &jerr);
  if (reply == NULL || !json_is_object(reply)) {
    fprintf(stderr, "cardex: the daemon sent a reply that is not JSON (%s)\n",
            reply ? "not an object" : jerr.text);
    json_decref(reply);
    *status = CL_EXIT_ERROR;
    goto out;
  }
  json_t *error = json_object_get(reply, "error");
  if (error) {
    *status = map_error(error, method);
  } else if ((result = json_object_get(reply, "result")) != NULL) {
    json_incref(result);
    *status = CL_EXIT_OK;
  } else {
    fprintf(stderr, "cardex: the daemon's reply has neither result nor error\n");
    *status = CL_EXIT_ERROR;
  }
  json_decref(reply);
  goto out;

timeout:
  fprintf(stderr, "cardex: no reply from the daemon at %s within %d ms (--timeout); is it hung?\n",
          o->socket_path, o->timeout_ms);
out:
  if (fd >= 0) close(fd);
  free(buf);
  free(line);
  return result;
}
