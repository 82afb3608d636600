/* options.c — cardexd's command line: parsing, defaults, --help and --version. */
#include "cardexd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static const char usage[] =
    "usage: cardexd (--index FILE | --seeds DIR [--watch] [--index FILE]) [options]\n"
    "\n"
    "Serves a cardex index over a Unix socket: newline-delimited JSON-RPC 2.0\n"
    "(see docs/protocol.md). Runs in the foreground and logs to stderr.\n"
    "\n"
    "index:\n"
    "  --index FILE            serve FILE (built by `cardex-index build`); with --seeds,\n"
    "                          where the built index is kept\n"
    "  --seeds DIR             build (incrementally) the index from the cards under DIR\n"
    "                          first; without --index it is kept in\n"
    "                          $XDG_CACHE_HOME/cardex/index.db (~/.cache/cardex/index.db)\n"
    "  --watch                 with --seeds: rebuild when cards change (200 ms debounce)\n"
    "                          SIGHUP and the `reload` method also rebuild/reopen\n"
    "socket:\n"
    "  --socket PATH           default $CARDEX_SOCKET, else $XDG_RUNTIME_DIR/cardex/cardex.sock,\n"
    "                          else /tmp/cardex-$UID/cardex.sock; systemd socket\n"
    "                          activation (LISTEN_FDS) takes precedence\n"
    "  --socket-mode MODE      octal permissions of the socket (default 0600; 0660 lets\n"
    "                          the socket's group connect)\n"
    "  --allow-uid UID[,UID]   accept only peers with these uids (SO_PEERCRED); the\n"
    "                          daemon's own uid is always accepted; repeatable\n"
    "limits:\n"
    "  --max-request BYTES     longest request line (default 1M; k/M suffixes)\n"
    "  --max-connections N     simultaneous connections (default 1024)\n"
    "  --max-inflight N        queries queued or running, all connections (default 1024);\n"
    "                          beyond it requests get error -32002 (overloaded)\n"
    "  --max-pipeline N        queries in flight per connection before the daemon stops\n"
    "                          reading from it (default 128)\n"
    "  --max-write-queue BYTES unsent replies per connection before the daemon stops\n"
    "                          reading from it (default 4M)\n"
    "  --max-buffered BYTES    unhandled request bytes and unsent replies of all\n"
    "                          connections together before the daemon stops reading\n"
    "                          from every connection, until half of it is written\n"
    "                          (default 128M; 0: no global bound)\n"
    "  --idle-timeout SECONDS  close connections idle this long (default 300; 0: never)\n"
    "  --query-timeout MS      per-query time bound, error -32003 (default 2000; 0: none;\n"
    "                          fractions allowed: 0.5 is 500 µs)\n"
    "  --drain-timeout SECONDS on SIGINT/SIGTERM, how long to wait for queries in flight\n"
    "                          before closing connections anyway (default 10)\n"
    "  --cache-limit MB        bound SQLite's memory (every worker's page cache and the\n"
    "                          builder's), process-wide; 0 (default): each connection\n"
    "                          keeps the cache the engine asks for\n"
    "  --mmap                  read the index through mmap (see docs/reliability.md for\n"
    "                          the measured difference); the index must then only ever be\n"
    "                          replaced by rename (as cardex-index build does): a copy over\n"
    "                          it in place kills the daemon with SIGBUS\n"
    "  --threads N             worker threads (default: number of cores, or\n"
    "                          $UV_THREADPOOL_SIZE)\n"
    "  (a search returns at most " STRINGIFY(CX_MAX_LIMIT) " hits per request: CX_MAX_LIMIT)\n"
    "other:\n"
    "  --log-level LEVEL       error, warn, info (default) or debug\n"
    "  -h, --help              this text\n"
    "  -V, --version           the daemon and protocol versions\n";

static int bad(const char *opt, const char *val, const char *why) {
  fprintf(stderr, "cardexd: %s %s: %s\n", opt, val ? val : "", why);
  fprintf(stderr, "cardexd: try `cardexd --help`\n");
  return -1;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_size(const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *s == '-') return -1;
  unsigned long long mul = 1;
  if (*end == 'k' || *end == 'K') mul = 1024, end++;
  else if (*end == 'm' || *end == 'M') mul = 1024 * 1024, end++;
  else if (*end == 'g' || *end == 'G') mul = 1024ULL * 1024 * 1024, end++;
  if (*end == 'i' && mul > 1) end++;
  if ((*end == 'b' || *end == 'B') && mul > 1) end++;
  if (*end || v == 0 || v > (unsigned long long)SIZE_MAX / mul) return -1;
  *out = (size_t)(v * mul);
  return 0;
}

static int mkdir_p(const char *dir, mode_t mode) {
  char *p = cx_xstrdup(dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, mode) != 0 && errno != EEXIST) {
      free(p);
      return -1;
    }
    *s = '/';
  }
  int rc = (mkdir(p, mode) != 0 && errno != EEXIST) ? -1 : 0;
  free(p);
  return rc;
}

/* $XDG_CACHE_HOME/cardex/index.db or ~/.cache/cardex/index.db; creates the directory. */
static char *default_index_path(void) {
  const char *cache = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  cx__buf b;
  cx__buf_init(&b);
  if (cache && *cache == '/') cx__buf_printf(&b, "%s/cardex", cache);
  else if (home && *home) cx__buf_printf(&b, "%s/.cache/cardex", home);
  else {
    fprintf(stderr, "cardexd: neither XDG_CACHE_HOME nor HOME is set: give --index FILE "
                    "to say where the index built from --seeds goes\n");
    cx__buf_destroy(&b);
    return NULL;
  }
  if (mkdir_p(b.p, 0700) != 0) {
    fprintf(stderr, "cardexd: cannot create %s: %s (give --index FILE)\n", b.p,
            strerror(errno));
    cx__buf_destroy(&b);
    return NULL;
  }
  cx__buf_puts(&b, "/index.db");
  return cx__buf_detach(&b);
}

static int add_uids(cxd_options *o, const char *list) {
  const char *s = list;
  while (*s) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || (*end && *end != ',') || v > (uid_t)-2) return -1;
    o->allow_uids = cx_xrealloc(o->allow_uids, (o->nallow_uids + 1) * sizeof *o->allow_uids);
    o->allow_uids[o->nallow_uids++] = (uid_t)v;
    s = *end ? end + 1 : end;
  }
  return o->nallow_uids ? 0 : -1;
}

void cxd_options_destroy(cxd_options *o) {
  free(o->index_path);
  free(o->seeds_dir);
  free(o->socket_path);
  free(o->allow_uids);
  memset(o, 0, sizeof *o);
}

int cxd_options_parse(cxd_options *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->socket_mode = 0600;
  o->max_request = 1024 * 1024;
  o->max_write_queue = 4 * 1024 * 1024;
  o->max_buffered = 128 * 1024 * 1024;
  o->max_connections = 1024;
  o->max_inflight = 1024;
  o->max_pipeline = 128;
  o->idle_timeout_ms = 300 * 1000;
  o->query_timeout_us = 2000 * 1000;
  o->drain_timeout_ms = 10 * 1000;
  const char *socket_flag = NULL, *level = "info";

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *val = NULL;
    char name[64];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      fputs(usage, stdout);
      return 1;
    }
    if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
      printf("%s (protocol %s, index schema %d)\n", CXD_SERVER_NAME, CX_PROTOCOL_VERSION,
             CX_SCHEMA_VERSION);
      return 1;
    }
    if (strncmp(arg, "--", 2) != 0) return bad(arg, NULL, "unexpected argument");
    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (nlen >= sizeof name) return bad(arg, NULL, "unknown option");
    memcpy(name, arg, nlen);
    name[nlen] = '\0';
    if (strcmp(name, "--watch") == 0) {
      if (eq) return bad(name, eq + 1, "takes no value");
      o->watch = 1;
      continue;
    }
    if (strcmp(name, "--mmap") == 0) {
      if (eq) return bad(name, eq + 1, "takes no value");
      o->mmap = 1;
      continue;
    }
    static const char *const with_value[] = {
        "--index", "--seeds", "--socket", "--socket-mode", "--allow-uid", "--log-level",
        "--max-request", "--max-connections", "--max-inflight", "--max-pipeline",
        "--max-write-queue", "--max-buffered", "--idle-timeout", "--query-timeout", "--threads",
        "--drain-timeout", "--cache-limit", NULL};
    int known = 0;
    for (const char *const *w = with_value; *w; w++) known |= strcmp(*w, name) == 0;
    if (!known) return bad(name, NULL, "unknown option");
    if (eq) val = eq + 1;
    else if (i + 1 < argc) val = argv[++i];
    else return bad(name, NULL, "needs a value");

    long n;
    if (strcmp(name, "--index") == 0) {
      free(o->index_path);
      o->index_path = cx_xstrdup(val);
    } else if (strcmp(name, "--seeds") == 0) {
      free(o->seeds_dir);
      o->seeds_dir = cx_xstrdup(val);
    } else if (strcmp(name, "--socket") == 0) {
      socket_flag = val;
    } else if (strcmp(name, "--socket-mode") == 0) {
      char *end;
      unsigned long m = strtoul(val, &end, 8);
      if (*val == '\0' || *end || m > 0777 || (m & 0600) != 0600)
        return bad(name, val, "must be octal permissions including 0600, e.g. 0660");
      o->socket_mode = (unsigned)m;
    } else if (strcmp(name, "--allow-uid") == 0) {
      if (add_uids(o, val) != 0) return bad(name, val, "must be numeric uids separated by commas");
    } else if (strcmp(name, "--log-level") == 0) {
      level = val;
    } else if (strcmp(name, "--max-request") == 0) {
      if (parse_size(val, &o->max_request) != 0 || o->max_request < 256)
        return bad(name, val, "must be a size of at least 256 bytes, e.g. 1M");
    } else if (strcmp(name, "--max-write-queue") == 0) {
      if (parse_size(val, &o->max_write_queue) != 0 || o->max_write_queue < 4096)
        return bad(name, val, "must be a size of at least 4096 bytes, e.g. 4M");
    } else if (strcmp(name, "--max-buffered") == 0) {
      if (strcmp(val, "0") == 0) o->max_buffered = 0;
      else if (parse_size(val, &o->max_buffered) != 0 || o->max_buffered < 65536)
        return bad(name, val, "must be a size of at least 64K, e.g. 128M, or 0 for no bound");
    } else if (strcmp(name, "--max-connections") == 0) {
      if (parse_long(val, 1, 1000000, &n) != 0) return bad(name, val, "must be 1 to 1000000");
      o->max_connections = (int)n;
    } else if (strcmp(name, "--max-inflight") == 0) {
      if (parse_long(val, 1, 1000000, &n) != 0) return bad(name, val, "must be 1 to 1000000");
      o->max_inflight = (int)n;
    } else if (strcmp(name, "--max-pipeline") == 0) {
      if (parse_long(val, 1, 1000000, &n) != 0) return bad(name, val, "must be 1 to 1000000");
      o->max_pipeline = (int)n;
    } else if (strcmp(name, "--idle-timeout") == 0) {
      if (parse_long(val, 0, 86400 * 365, &n) != 0)
        return bad(name, val, "must be seconds, 0 for none");
      o->idle_timeout_ms = (int)n * 1000;
    } else if (strcmp(name, "--query-timeout") == 0) {
      char *end;
      double ms = strtod(val, &end);
      if (end == val || *end || !(ms >= 0 && ms <= 3600.0 * 1000))
        return bad(name, val, "must be milliseconds (fractions allowed), 0 for none");
      o->query_timeout_us = (int64_t)(ms * 1000 + 0.5);
      if (ms > 0 && o->query_timeout_us == 0) o->query_timeout_us = 1;
    } else if (strcmp(name, "--drain-timeout") == 0) {
      if (parse_long(val, 0, 3600, &n) != 0) return bad(name, val, "must be 0 to 3600 seconds");
      o->drain_timeout_ms = (int)n * 1000;
    } else if (strcmp(name, "--cache-limit") == 0) {
      if (parse_long(val, 0, 1024 * 1024, &n) != 0)
        return bad(name, val, "must be megabytes, 0 for no bound");
      o->cache_limit_mb = (int)n;
    } else if (strcmp(name, "--threads") == 0) {
      if (parse_long(val, 1, 1024, &n) != 0) return bad(name, val, "must be 1 to 1024");
      o->threads = (int)n;
    }
  }

  if (strcmp(level, "error") == 0) cxd_log_level = CXD_LOG_ERROR;
  else if (strcmp(level, "warn") == 0) cxd_log_level = CXD_LOG_WARN;
  else if (strcmp(level, "info") == 0) cxd_log_level = CXD_LOG_INFO;
  else if (strcmp(level, "debug") == 0) cxd_log_level = CXD_LOG_DEBUG;
  else return bad("--log-level", level, "must be error, warn, info or debug");

  if (!o->index_path && !o->seeds_dir)
    return bad("--index", NULL, "missing: give --index FILE (a built index) or --seeds DIR");
  if (o->watch && !o->seeds_dir)
    return bad("--watch", NULL, "needs --seeds DIR (there is nothing to watch with --index alone)");
  if (o->seeds_dir) {
    struct stat st;
    if (stat(o->seeds_dir, &st) != 0) {
      fprintf(stderr, "cardexd: --seeds %s: %s\n", o->seeds_dir, strerror(errno));
      return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
      fprintf(stderr, "cardexd: --seeds %s: not a directory (give the directory of the cards)\n",
              o->seeds_dir);
      return -1;
    }
    if (!o->index_path && !(o->index_path = default_index_path())) return -1;
  }
  /* Absolute, so that logs and `stats` say which file is served. */
  if (o->index_path[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) != NULL) {
      cx__buf b;
      cx__buf_init(&b);
      cx__buf_printf(&b, "%s/%s", cwd, o->index_path);
      free(o->index_path);
      o->index_path = cx__buf_detach(&b);
    }
  }
  o->socket_path = cxd_socket_path_resolve(socket_flag, &o->socket_from_default);
  if (!o->socket_path) return -1;
  return 0;
}
