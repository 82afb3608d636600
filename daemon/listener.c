/* listener.c — the listening Unix socket: path, lock, stale detection, activation, peer uids. */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED */
#include "cardexd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* systemd passes sockets from this descriptor on (sd_listen_fds(3)). */
#define LISTEN_FDS_START 3
#define BACKLOG 4096

static dev_t bound_dev;
static ino_t bound_ino;

char *cxd_socket_path_resolve(const char *flag, int *is_default) {
  *is_default = 0;
  if (flag && *flag) return cx_xstrdup(flag);
  const char *env = getenv("CARDEX_SOCKET");
  if (env && *env) return cx_xstrdup(env);
  *is_default = 1;
  cx__buf b;
  cx__buf_init(&b);
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg == '/') cx__buf_printf(&b, "%s/cardex/cardex.sock", xdg);
  else cx__buf_printf(&b, "/tmp/cardex-%lu/cardex.sock", (unsigned long)getuid());
  return cx__buf_detach(&b);
}

/* The default socket's directory is created private. In /tmp it could have been
 * planted by someone else, so it must be ours, a real directory, and closed. */
static int make_default_dir(const char *sock_path) {
  char *dir = cx_xstrdup(sock_path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  int rc = 0;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "cardexd: cannot create the socket directory %s: %s "
                    "(give --socket PATH in a writable directory)\n", dir, strerror(errno));
    rc = -1;
  } else {
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      fprintf(stderr, "cardexd: %s is not a directory; remove it or give --socket PATH\n", dir);
      rc = -1;
    } else if (st.st_uid != geteuid() || (st.st_mode & 022)) {
      fprintf(stderr, "cardexd: %s belongs to uid %lu or is writable by others; refusing to "
                      "put the socket there (remove it, or give --socket PATH)\n",
              dir, (unsigned long)st.st_uid);
      rc = -1;
    }
  }
  free(dir);
  return rc;
}

/* One lock file per socket path makes "a second daemon" a clean refusal even
 * when two start at the same instant (the connect test alone would race). */
static int take_lock(cxd_server *srv, const char *path) {
  cx__buf b;
  cx__buf_init(&b);
  cx__buf_printf(&b, "%s.lock", path);
  int fd = open(b.p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    fprintf(stderr, "cardexd: cannot open the lock file %s: %s\n", b.p, strerror(errno));
    cx__buf_destroy(&b);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    if (n > 0) pid[n] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    fprintf(stderr, "cardexd: another cardexd%s%s%s is already serving %s; stop it first, or "
                    "give this one another --socket\n",
            *pid ? " (pid " : "", pid, *pid ? ")" : "", path);
    close(fd);
    cx__buf_destroy(&b);
    return -1;
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
    /* The pid is only for the message above; the lock is what matters. */
  }
  srv->lock_fd = fd;
  srv->lock_path = cx__buf_detach(&b);
  return 0;
}

/* 0 if nothing is at path (any stale socket removed), -1 after a message. */
static int clear_path(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) return 0;
    fprintf(stderr, "cardexd: cannot check %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (!S_ISSOCK(st.st_mode)) {
    fprintf(stderr, "cardexd: %s exists and is not a socket; remove it or give another "
                    "--socket\n", path);
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "cardexd: socket: %s\n", strerror(errno));
    return -1;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  int e = errno;
  close(fd);
  /* EAGAIN: a live listener whose backlog is full. */
  if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
    fprintf(stderr, "cardexd: %s is in use: another server accepts connections on it; stop "
                    "it first, or give this one another --socket\n", path);
    return -1;
  }
  if (e != ECONNREFUSED) {
    fprintf(stderr, "cardexd: cannot tell whether %s is in use: %s\n", path, strerror(e));
    return -1;
  }
  if (unlink(path) != 0 && errno != ENOENT) {
    fprintf(stderr, "cardexd: cannot remove the stale socket %s: %s\n", path, strerror(errno));
    return -1;
  }
  cxd_log(CXD_LOG_INFO, "removed stale socket %s (nothing was listening on it)", path);
  return 0;
}

static int bind_path(cxd_server *srv, const char *path) {
  struct sockaddr_un sa;
  size_t len = strlen(path);
  if (len >= sizeof sa.sun_path) {
    fprintf(stderr, "cardexd: unix socket path too long (%zu bytes), must be under %zu: %s "
                    "(give a shorter --socket)\n", len, sizeof sa.sun_path, path);
    return -1;
  }
  if (srv->opt.socket_from_default && make_default_dir(path) != 0) return -1;
  if (take_lock(srv, path) != 0) return -1;
  if (clear_path(path) != 0) return -1;

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "cardexd: socket: %s\n", strerror(errno));
    return -1;
  }
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, len + 1);
  /* Created 0600 through the umask, so there is no moment at which others
   * could connect; widened afterwards only if asked. */
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  int e = errno;
  umask(old);
  if (rc != 0) {
    fprintf(stderr, "cardexd: cannot bind %s: %s%s\n", path, strerror(e),
            e == EADDRINUSE ? " (another server took it; stop it or give another --socket)" : "");
    close(fd);
    return -1;
  }
  srv->socket_created = 1;
  struct stat st;
  if (stat(path, &st) == 0) {
    bound_dev = st.st_dev;
    bound_ino = st.st_ino;
  }
  if (srv->opt.socket_mode != 0600 && chmod(path, srv->opt.socket_mode) != 0) {
    fprintf(stderr, "cardexd: cannot chmod %s to %04o: %s\n", path, srv->opt.socket_mode,
            strerror(errno));
    close(fd);
    return -1;
  }
  /* Listen now so that clients connecting while the first index loads wait in
   * the backlog instead of being refused. */
  if (listen(fd, BACKLOG) != 0) {
    fprintf(stderr, "cardexd: listen on %s: %s\n", path, strerror(errno));
    close(fd);
    return -1;
  }
  srv->listen_fd = fd;
  return 0;
}

/* Socket activation: LISTEN_PID is us and LISTEN_FDS >= 1 (sd_listen_fds(3)). */
static int activated_fd(cxd_server *srv) {
  const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
  if (!pid || !fds || atol(pid) != (long)getpid()) return 0;
  long n = atol(fds);
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (n < 1) return 0;
  if (n > 1)
    cxd_log(CXD_LOG_WARN, "systemd passed %ld sockets; serving the first, fd %d", n,
            LISTEN_FDS_START);
  int fd = LISTEN_FDS_START, type = 0, listening = 0;
  socklen_t len = sizeof type;
  struct sockaddr_un sa;
  socklen_t salen = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
      getsockname(fd, (struct sockaddr *)&sa, &salen) != 0 || sa.sun_family != AF_UNIX) {
    fprintf(stderr, "cardexd: LISTEN_FDS: fd %d is not a Unix stream socket; set "
                    "ListenStream=/path in the .socket unit\n", fd);
    return -1;
  }
  len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
    fprintf(stderr, "cardexd: LISTEN_FDS: fd %d is not listening (Accept=no is needed in "
                    "the .socket unit)\n", fd);
    return -1;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  srv->listen_fd = fd;
  srv->activated = 1;
  if (sa.sun_path[0]) {
    free(srv->opt.socket_path);
    srv->opt.socket_path = cx_xstrndup(sa.sun_path, strnlen(sa.sun_path, sizeof sa.sun_path));
  }
  return 1;
}

int cxd_listener_open(cxd_server *srv) {
  srv->listen_fd = -1;
  srv->lock_fd = -1;
  int act = activated_fd(srv);
  if (act < 0) return -1;
  if (act == 0 && bind_path(srv, srv->opt.socket_path) != 0) {
    cxd_listener_close(srv);
    return -1;
  }
  int rc = uv_pipe_init(srv->loop, &srv->listener, 0);
  if (rc == 0) rc = uv_pipe_open(&srv->listener, srv->listen_fd);
  if (rc != 0) {
    fprintf(stderr, "cardexd: cannot use the socket %s: %s\n", srv->opt.socket_path,
            uv_strerror(rc));
    close(srv->listen_fd);
    srv->listen_fd = -1;
    cxd_listener_close(srv);
    return -1;
  }
  srv->listener.data = srv;
  srv->listening = 1; /* the handle is open (not yet accepting) */
  return 0;
}

static void on_connection(uv_stream_t *server, int status) {
  cxd_server *srv = server->data;
  if (status < 0) {
    cxd_log(CXD_LOG_WARN, "accept failed: %s", uv_strerror(status));
    return;
  }
  cxd_conn_accept(srv);
}

int cxd_listener_start(cxd_server *srv) {
  int rc = uv_listen((uv_stream_t *)&srv->listener, BACKLOG, on_connection);
  if (rc != 0) {
    cxd_log(CXD_LOG_ERROR, "cannot listen on %s: %s", srv->opt.socket_path, uv_strerror(rc));
    return -1;
  }
  cxd_log(CXD_LOG_INFO, "listening on %s%s (mode %04o, protocol %s)", srv->opt.socket_path,
          srv->activated ? " (socket activation)" : "", srv->opt.socket_mode, CX_PROTOCOL_VERSION);
  return 0;
}

void cxd_listener_close(cxd_server *srv) {
  if (srv->listening && !srv->listener_closed) {
    srv->listener_closed = 1;
    uv_close((uv_handle_t *)&srv->listener, NULL);
  } else if (!srv->listening && srv->listen_fd >= 0) {
    close(srv->listen_fd);
  }
  srv->listen_fd = -1;
  if (srv->socket_created) {
    srv->socket_created = 0;
    /* Remove only our own socket: if someone replaced it meanwhile, it is theirs. */
    struct stat st;
    if (lstat(srv->opt.socket_path, &st) == 0 && st.st_dev == bound_dev &&
        st.st_ino == bound_ino)
      unlink(srv->opt.socket_path);
  }
  if (srv->lock_fd >= 0) {
    unlink(srv->lock_path);
    close(srv->lock_fd);
    srv->lock_fd = -1;
  }
  free(srv->lock_path);
  srv->lock_path = NULL;
}

int cxd_peer_check(cxd_server *srv, cxd_conn *c) {
  uv_os_fd_t fd;
  struct ucred cr;
  socklen_t len = sizeof cr;
  c->uid = c->pid = -1;
  if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
    return srv->opt.nallow_uids ? -1 : 0;
  c->uid = (long)cr.uid;
  c->pid = (long)cr.pid;
  if (srv->opt.nallow_uids == 0 || cr.uid == geteuid()) return 0;
  for (size_t i = 0; i < srv->opt.nallow_uids; i++)
    if (srv->opt.allow_uids[i] == cr.uid) return 0;
  return -1;
}
