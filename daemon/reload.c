/* reload.c — index generations: build/reopen on a thread, atomic swap, SIGHUP, --watch. */
#include "cardexd.h"

#include <dirent.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEBOUNCE_MS 200
#define MAX_WATCHED_DIRS 4096
#define MAX_REPORTED_DIAGS 100

/* Work handed to the build thread; it owns the job until done_async fires. */
struct cxd_build_job {
  /* in: copied, so the thread never looks at the server */
  char *seeds, *index_path;
  int watch, first;
  int no_thread; /* the thread could not be started: nothing to join */
  uv_async_t *done;
  /* out */
  int rc;
  char msg[1024];
  json_t *diagnostics; /* array of "path:line:col: error: message" */
  json_t *info;        /* cx_index_info of the new index */
  char *open_path;     /* how workers open it (see cxd_index_ref) */
  int linked;          /* open_path is our hard link: unlink it when done */
  size_t cards;
  double ms;
  char **dirs; /* --watch: every directory under seeds */
  uint64_t *dir_ids; /* and each one's identity (dev, inode), to see one replaced */
  size_t ndirs;
  int root_missing; /* the seeds directory is not there: nothing to walk */
};

/* ---- generations -------------------------------------------------------- */

cxd_index_ref *cxd_index_ref_acquire(cxd_index_ref *r) {
  if (r) r->refs++;
  return r;
}

void cxd_index_ref_release(cxd_index_ref *r) {
  if (r == NULL || --r->refs > 0) return;
  if (r->loop) cxd_pool_retire(r->loop, r->gen);
  if (r->linked) unlink(r->open_path);
  free(r->open_path);
  free(r->path);
  json_decref(r->info);
  free(r);
}

static void replace_all(char *s, size_t cap, const char *from, const char *to);

void cxd_index_ref_unalias(const cxd_index_ref *r, cxd_error *e) {
  if (r == NULL || !r->linked) return;
  replace_all(e->message, sizeof e->message, r->open_path, r->path);
  json_t *reason = json_object_get(e->data, "reason");
  if (json_is_string(reason)) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", json_string_value(reason));
    replace_all(buf, sizeof buf, r->open_path, r->path);
    json_t *fixed = json_string(buf); /* NULL if the copy cut a UTF-8 sequence: keep it */
    if (fixed) json_object_set_new(e->data, "reason", fixed);
  }
}

/* ---- the build thread --------------------------------------------------- */

/* A directory's identity: the same path can be a new directory (rm -rf and
 * copy back, a branch switch) whose old watch is dead. */
static uint64_t dir_id(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0) return 0;
  return ((uint64_t)st.st_dev << 40) ^ (uint64_t)st.st_ino;
}

static void add_dir(cxd_build_job *job, const char *dir) {
  if (job->ndirs >= MAX_WATCHED_DIRS) return;
  job->dirs = cx_xrealloc(job->dirs, (job->ndirs + 1) * sizeof *job->dirs);
  job->dir_ids = cx_xrealloc(job->dir_ids, (job->ndirs + 1) * sizeof *job->dir_ids);
  job->dir_ids[job->ndirs] = dir_id(dir);
  job->dirs[job->ndirs++] = cx_xstrdup(dir);
}

static void walk_dirs(cxd_build_job *job, const char *dir, int depth) {
  add_dir(job, dir);
  if (depth > 32) return;
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue; /* ., .., .git and hidden editor state */
    cx__buf path;
    cx__buf_init(&path);
    cx__buf_printf(&path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path.p, &st) == 0 && S_ISDIR(st.st_mode)) walk_dirs(job, path.p, depth + 1);
    cx__buf_destroy(&path);
  }
  closedir(d);
}

static void diags_to_json(cxd_build_job *job, const cx_diags *d) {
  for (size_t i = 0; i < d->n; i++) {
    const cx_diag *g = &d->v[i];
    const char *sev = g->severity == CX_DIAG_ERROR ? "error" : "warning";
    char line[1536];
    if (g->line > 0)
      snprintf(line, sizeof line, "%s:%d:%d: %s: %s", g->path ? g->path : "?", g->line,
               g->col, sev, g->message);
    else
      snprintf(line, sizeof line, "%s: %s: %s", g->path ? g->path : "?", sev, g->message);
    cxd_log(g->severity == CX_DIAG_ERROR ? CXD_LOG_ERROR : CXD_LOG_WARN, "%s", line);
    if (g->severity == CX_DIAG_ERROR && json_array_size(job->diagnostics) < MAX_REPORTED_DIAGS)
      json_array_append_new(job->diagnostics, json_string(line));
  }
}

/* Links left by a daemon that was killed: "<index>.serving-<pid>.<n>" whose
 * pid is gone. Each may hold a whole old index. */
static void remove_stale_links(const char *index_path) {
  char *dir = cx_xstrdup(index_path), *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : index_path;
  if (slash) *slash = '\0';
  DIR *d = opendir(slash ? (dir[0] ? dir : "/") : ".");
  if (d == NULL) {
    free(dir);
    return;
  }
  size_t blen = strlen(base);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, base, blen) != 0 || strncmp(e->d_name + blen, ".serving-", 9) != 0)
      continue;
    long pid = strtol(e->d_name + blen + 9, NULL, 10);
    if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue;
    cx__buf path;
    cx__buf_init(&path);
    cx__buf_printf(&path, "%s/%s", slash ? (dir[0] ? dir : "") : ".", e->d_name);
    if (unlink(path.p) == 0) cxd_log(CXD_LOG_INFO, "removed %s, left by a daemon that was killed", path.p);
    cx__buf_destroy(&path);
  }
  closedir(d);
  free(dir);
}

/* Pins the file now at index_path with a hard link: what is validated is what
 * workers will serve, whatever replaces the path before the next reload. */
static void hold_file(cxd_build_job *job) {
  static unsigned long seq; /* one build at a time */
  if (job->first) remove_stale_links(job->index_path);
  cx__buf name;
  cx__buf_init(&name);
  cx__buf_printf(&name, "%s.serving-%ld.%lu", job->index_path, (long)getpid(), ++seq);
  unlink(name.p);
  if (link(job->index_path, name.p) == 0) {
    job->open_path = cx__buf_detach(&name);
    job->linked = 1;
    return;
  }
  if (errno != ENOENT)
    cxd_log(CXD_LOG_DEBUG, "cannot link %s (%s): serving it by its path", name.p, strerror(errno));
  cx__buf_destroy(&name);
  job->open_path = cx_xstrdup(job->index_path);
}

/* Messages about the file should name it, not our link to it. */
static void replace_all(char *s, size_t cap, const char *from, const char *to) {
  size_t flen = strlen(from), tlen = strlen(to);
  if (flen == 0 || strcmp(from, to) == 0) return;
  cx__buf b;
  cx__buf_init(&b);
  for (const char *p = s, *hit; *p; p = hit + flen) {
    hit = strstr(p, from);
    if (hit == NULL) {
      cx__buf_puts(&b, p);
      break;
    }
    cx__buf_add(&b, p, (size_t)(hit - p));
    cx__buf_add(&b, to, tlen);
  }
  snprintf(s, cap, "%s", b.n ? b.p : "");
  cx__buf_destroy(&b);
}

static void build_thread(void *arg) {
  cxd_build_job *job = arg;
  uint64_t t0 = uv_hrtime();
  cx_err err = {0};
  job->diagnostics = json_array();
  job->rc = 0;
  struct stat root;
  if (job->seeds && stat(job->seeds, &root) != 0) {
    /* Not "1 card does not parse": say what is wrong with the directory. */
    job->rc = CX_EIO;
    job->root_missing = 1;
    snprintf(job->msg, sizeof job->msg, "the cards directory %.700s is not there (%s)%s",
             job->seeds, strerror(errno),
             job->watch ? "; it is indexed again as soon as it comes back" : "");
  } else if (job->seeds) {
    cx_build_opts bo;
    memset(&bo, 0, sizeof bo);
    cx_build_stats st;
    memset(&st, 0, sizeof st);
    cx_diags d;
    cx_diags_init(&d);
    const char *paths[1] = {job->seeds};
    cxd_log(CXD_LOG_INFO, "building %s from %s", job->index_path, job->seeds);
    int rc = cx_index_build(paths, 1, job->index_path, &bo, &st, &d, &err);
    diags_to_json(job, &d);
    cx_diags_destroy(&d);
    if (rc != 0 && rc != CX_EPARTIAL) {
      job->rc = rc;
      if (rc == CX_EPARSE)
        snprintf(job->msg, sizeof job->msg, "%zu card%s under %s do not parse (%s)",
                 st.errors ? st.errors : json_array_size(job->diagnostics),
                 (st.errors ? st.errors : json_array_size(job->diagnostics)) == 1 ? "" : "s",
                 job->seeds, "see the diagnostics; fix them and reload");
      else
        snprintf(job->msg, sizeof job->msg, "cannot build %.256s: %.700s", job->index_path,
                 err.msg[0] ? err.msg : cx_strerror(rc));
    } else {
      cxd_log(CXD_LOG_INFO, "built %s: %zu cards (%zu reused, %zu parsed, %zu removed) in %.0f ms",
              job->index_path, st.cards, st.reused, st.parsed, st.removed, st.seconds * 1000);
    }
  }
  if (job->rc == 0) {
    /* Validate the new file the way workers will open it; its info is what
     * `stats` shows without touching SQLite on the loop. */
    hold_file(job);
    cx_index *ix = NULL;
    int rc = cx_index_open(job->open_path, &ix, &err);
    if (rc == 0) rc = cx_index_info(ix, &job->info, &err);
    cx_index_close(ix);
    if (rc != 0) {
      job->rc = rc;
      snprintf(job->msg, sizeof job->msg, "cannot open %.256s: %.700s", job->index_path,
               err.msg[0] ? err.msg : cx_strerror(rc));
      replace_all(job->msg, sizeof job->msg, job->open_path, job->index_path);
      json_decref(job->info);
      job->info = NULL;
    } else {
      json_object_set_new(job->info, "path", json_string(job->index_path));
      json_t *cards = json_object_get(job->info, "cards");
      job->cards = json_is_integer(cards) ? (size_t)json_integer_value(cards) : 0;
    }
  }
  if (job->watch && !job->root_missing) walk_dirs(job, job->seeds, 0);
#ifdef __GLIBC__
  /* A build frees hundreds of MB at 100k cards; give them back to the system
   * now instead of keeping them in this thread's arena for the next build. */
  malloc_trim(0);
#endif
  job->ms = (double)(uv_hrtime() - t0) / 1e6;
  uv_async_send(job->done);
}

static void job_free(cxd_build_job *job) {
  if (job == NULL) return;
  if (job->linked) unlink(job->open_path);
  free(job->open_path);
  free(job->seeds);
  free(job->index_path);
  json_decref(job->diagnostics);
  json_decref(job->info);
  for (size_t i = 0; i < job->ndirs; i++) free(job->dirs[i]);
  free(job->dirs);
  free(job->dir_ids);
  free(job);
}

/* ---- watching ----------------------------------------------------------- */

/* Only what can change the index: cards, synonyms, and names without an
 * extension (new directories). Not the index itself, editors' swap files… */
static int relevant(const char *name) {
  if (name == NULL) return 1;
  if (name[0] == '.') return 0;
  const char *dot = strrchr(name, '.');
  if (dot == NULL) return name[strlen(name) - 1] != '~';
  return strcmp(dot, ".md") == 0 || strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0;
}

static void on_debounce(uv_timer_t *t) {
  cxd_server *srv = t->data;
  cxd_reload_request(srv, NULL, "cards changed under --seeds");
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  cxd_server *srv = h->data;
  if (status < 0) {
    cxd_log(CXD_LOG_WARN, "watching cards: %s", uv_strerror(status));
    return;
  }
  /* An event named after the watched directory itself is that directory
   * being deleted or moved (inotify's IN_DELETE_SELF, IN_MOVE_SELF,
   * IN_IGNORED): its watch is dead even if a new directory soon has the same
   * path, and on most file systems the same inode number. */
  char path[4096];
  size_t len = sizeof path;
  if (filename && uv_fs_event_getpath(h, path, &len) == 0) {
    const char *base = strrchr(path, '/');
    if (strcmp(base ? base + 1 : path, filename) == 0) srv->reload.watch_stale = 1;
  }
  if (!relevant(filename)) return;
  cxd_log(CXD_LOG_DEBUG, "change: %s", filename ? filename : "(unknown file)");
  uv_timer_start(&srv->reload.debounce, on_debounce, DEBOUNCE_MS, 0);
}

static void free_handle(uv_handle_t *h) { free(h); }

static void unwatch_all(cxd_reload *rl);

/* The seeds directory itself appeared, disappeared or was replaced (its
 * inode changed): the inotify watches follow the old directory, so drop them
 * (the next build watches what is there now) and rebuild. */
static void on_root_poll(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                         const uv_stat_t *curr) {
  cxd_server *srv = h->data;
  cxd_reload *rl = &srv->reload;
  if (status < 0) {
    if (!rl->root_missing)
      cxd_log(CXD_LOG_WARN, "the cards directory %s is gone (%s): serving the index as it was; "
              "watching for the directory to come back", srv->opt.seeds_dir, uv_strerror(status));
    rl->root_missing = 1;
    unwatch_all(rl);
    return;
  }
  if (!rl->root_missing && prev->st_ino == curr->st_ino && prev->st_dev == curr->st_dev) return;
  cxd_log(CXD_LOG_INFO, "the cards directory %s is %s: rebuilding", srv->opt.seeds_dir,
          rl->root_missing ? "back" : "a new directory");
  rl->root_missing = 0;
  unwatch_all(rl);
  uv_timer_start(&rl->debounce, on_debounce, DEBOUNCE_MS, 0);
}

static void unwatch_all(cxd_reload *rl) {
  for (size_t i = 0; i < rl->nwatchers; i++) uv_close((uv_handle_t *)rl->watchers[i], free_handle);
  free(rl->watchers);
  rl->watchers = NULL;
  free(rl->watched_ids);
  rl->watched_ids = NULL;
  rl->nwatchers = 0;
}

/* Linux has no recursive inotify: one watcher per directory, re-synced after
 * each build so that new directories are picked up. Where libuv watches a
 * tree (FSEvents, ReadDirectoryChangesW), the root (dirs[0]) is enough. */
#if defined(__APPLE__) || defined(_WIN32)
#define WATCH_FLAGS UV_FS_EVENT_RECURSIVE
#define WATCH_ROOT_ONLY 1
#else
#define WATCH_FLAGS 0
#define WATCH_ROOT_ONLY 0
#endif

static void watch_dirs(cxd_server *srv, char **dirs, const uint64_t *ids, size_t n) {
  cxd_reload *rl = &srv->reload;
  if (WATCH_ROOT_ONLY && n > 1) n = 1;
  int same = n == rl->nwatchers && !rl->watch_stale;
  rl->watch_stale = 0;
  for (size_t i = 0; same && i < n; i++) {
    char path[4096];
    size_t len = sizeof path;
    same = uv_fs_event_getpath(rl->watchers[i], path, &len) == 0 &&
           strcmp(path, dirs[i]) == 0 && rl->watched_ids[i] == ids[i];
  }
  if (same) return;
  unwatch_all(rl);
  rl->watchers = cx_xcalloc(n ? n : 1, sizeof *rl->watchers);
  rl->watched_ids = cx_xcalloc(n ? n : 1, sizeof *rl->watched_ids);
  for (size_t i = 0; i < n; i++) {
    uv_fs_event_t *h = cx_xmalloc(sizeof *h);
    uv_fs_event_init(srv->loop, h);
    h->data = srv;
    int rc = uv_fs_event_start(h, on_fs_event, dirs[i], WATCH_FLAGS);
    if (rc != 0) {
      cxd_log(CXD_LOG_WARN, "cannot watch %s: %s%s", dirs[i], uv_strerror(rc),
              rc == UV_ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
      uv_close((uv_handle_t *)h, free_handle);
      continue;
    }
    rl->watched_ids[rl->nwatchers] = ids[i];
    rl->watchers[rl->nwatchers++] = h;
  }
  cxd_log(CXD_LOG_INFO, "watching %zu director%s under %s", rl->nwatchers,
          rl->nwatchers == 1 ? "y" : "ies", srv->opt.seeds_dir);
}

/* ---- the loop side ------------------------------------------------------ */

static void start_build(cxd_server *srv, int first);

static void answer_waiters(cxd_req *list, json_t *result, const cxd_error *proto) {
  while (list) {
    cxd_req *r = list;
    list = r->next;
    r->next = NULL;
    if (result) {
      cxd_req_finish(r, json_incref(result), NULL);
    } else {
      cxd_error err = *proto;
      err.data = json_deep_copy(proto->data);
      cxd_req_finish(r, NULL, &err);
      cxd_error_clear(&err);
    }
  }
}

static void on_build_done(uv_async_t *a) {
  cxd_server *srv = a->data;
  cxd_reload *rl = &srv->reload;
  if (!rl->running) return;
  cxd_build_job *job = rl->job;
  if (!job->no_thread) uv_thread_join(&rl->thread);
  rl->job = NULL;
  rl->running = 0;
  cxd_req *waiters = rl->waiters;
  rl->waiters = NULL;
  int first = job->first;

  char now[32];
  cxd_iso_time(now);
  if (!first) {
    rl->count++;
    snprintf(rl->last_at, sizeof rl->last_at, "%s", now);
    rl->last_ms = job->ms;
  }
  if (job->rc == 0) {
    cxd_index_ref *ref = cx_xcalloc(1, sizeof *ref);
    ref->refs = 1;
    ref->gen = ++srv->next_gen;
    ref->loop = srv->loop;
    ref->path = cx_xstrdup(job->index_path);
    ref->open_path = job->open_path;
    ref->linked = job->linked;
    job->open_path = NULL;
    job->linked = 0;
    ref->info = job->info;
    job->info = NULL;
    json_object_set_new(ref->info, "loaded_at", json_string(now));
    json_object_set_new(ref->info, "generation", json_integer((json_int_t)ref->gen));
    if (json_object_get(ref->info, "path") == NULL)
      json_object_set_new(ref->info, "path", json_string(ref->path));
    cxd_index_ref *old = srv->ix;
    srv->ix = ref;
    cxd_index_ref_release(old); /* requests in flight still hold it */
    if (!first) {
      rl->last_ok = 1;
      free(rl->last_error);
      rl->last_error = NULL;
    }
    cxd_log(CXD_LOG_INFO, "%s %s: %zu cards (generation %llu, loaded in %.0f ms)",
            srv->draining ? "loaded, but shutting down:" : "serving", ref->path, job->cards,
            (unsigned long long)ref->gen, job->ms);
    json_t *result = json_pack("{s:b,s:I,s:I,s:I}", "reloaded", 1, "cards",
                               (json_int_t)job->cards, "took_ms", (json_int_t)(job->ms + 0.5),
                               "generation", (json_int_t)ref->gen);
    answer_waiters(waiters, result, NULL);
    json_decref(result);
    if (first && !srv->draining && cxd_listener_start(srv) != 0)
      cxd_server_shutdown(srv, 1, "cannot accept connections");
  } else {
    cxd_log(CXD_LOG_ERROR, "%s failed: %s%s", first ? "loading the index" : "reload", job->msg,
            first ? "" : "; the previous index keeps serving");
    if (!first) {
      rl->last_ok = 0;
      rl->failures++;
      free(rl->last_error);
      rl->last_error = cx_xstrdup(job->msg);
    }
    cxd_error err = {0};
    cxd_error_set(&err, CXD_RELOAD_FAILED,
                  json_pack("{s:O,s:s}", "diagnostics", job->diagnostics, "reason", job->msg),
                  "reload failed: %s; the previous index keeps serving", job->msg);
    answer_waiters(waiters, NULL, &err);
    cxd_error_clear(&err);
    if (first) cxd_server_shutdown(srv, 1, "the index could not be loaded");
  }
  if (job->watch && !srv->draining) watch_dirs(srv, job->dirs, job->dir_ids, job->ndirs);
  job_free(job);

  if (srv->draining) {
    cxd_error err = {0};
    cxd_error_set(&err, CXD_RELOAD_FAILED, json_pack("{s:s}", "reason", "shutting down"),
                  "reload failed: the daemon is shutting down");
    answer_waiters(rl->next_waiters, NULL, &err);
    rl->next_waiters = NULL;
    cxd_error_clear(&err);
    if (!uv_is_closing((uv_handle_t *)&rl->done_async))
      uv_close((uv_handle_t *)&rl->done_async, NULL);
    cxd_server_maybe_finish(srv);
    return;
  }
  if (rl->again) {
    rl->again = 0;
    rl->waiters = rl->next_waiters;
    rl->next_waiters = NULL;
    start_build(srv, 0);
  }
}

static void start_build(cxd_server *srv, int first) {
  cxd_reload *rl = &srv->reload;
  cxd_build_job *job = cx_xcalloc(1, sizeof *job);
  job->seeds = srv->opt.seeds_dir ? cx_xstrdup(srv->opt.seeds_dir) : NULL;
  job->index_path = cx_xstrdup(srv->opt.index_path);
  job->watch = srv->opt.watch;
  job->first = first;
  job->done = &rl->done_async;
  rl->job = job;
  rl->running = 1;
  int rc = uv_thread_create(&rl->thread, build_thread, job);
  if (rc != 0) {
    /* Report it the way a failed build is reported. */
    job->rc = CX_EIO;
    job->diagnostics = json_array();
    snprintf(job->msg, sizeof job->msg, "cannot start the build thread: %s", uv_strerror(rc));
    job->watch = 0;
    job->no_thread = 1;
    uv_async_send(&rl->done_async);
  }
}

int cxd_reload_init(cxd_server *srv) {
  cxd_reload *rl = &srv->reload;
  rl->last_ok = 1;
  int rc = uv_async_init(srv->loop, &rl->done_async, on_build_done);
  if (rc == 0) rc = uv_timer_init(srv->loop, &rl->debounce);
  if (rc != 0) {
    cxd_log(CXD_LOG_ERROR, "cannot set up reloading: %s", uv_strerror(rc));
    return -1;
  }
  rl->done_async.data = srv;
  rl->debounce.data = srv;
  if (srv->opt.watch && srv->opt.seeds_dir) {
    rc = uv_fs_poll_init(srv->loop, &rl->root_poll);
    if (rc == 0) {
      rl->root_poll.data = srv;
      rc = uv_fs_poll_start(&rl->root_poll, on_root_poll, srv->opt.seeds_dir, 1000);
      if (rc != 0) uv_close((uv_handle_t *)&rl->root_poll, NULL);
    }
    if (rc != 0)
      cxd_log(CXD_LOG_WARN, "cannot poll %s: %s (a removed cards directory is not noticed "
              "when it comes back)", srv->opt.seeds_dir, uv_strerror(rc));
    rl->root_polling = rc == 0;
  }
  start_build(srv, 1);
  return 0;
}

void cxd_reload_request(cxd_server *srv, cxd_req *waiter, const char *why) {
  cxd_reload *rl = &srv->reload;
  if (srv->draining) {
    if (waiter) {
      cxd_error err = {0};
      cxd_error_set(&err, CXD_RELOAD_FAILED, json_pack("{s:s}", "reason", "shutting down"),
                    "reload failed: the daemon is shutting down");
      cxd_req_finish(waiter, NULL, &err);
      cxd_error_clear(&err);
    }
    return;
  }
  cxd_log(CXD_LOG_INFO, "reload (%s)%s", why, rl->running ? ": after the one in progress" : "");
  if (rl->running) {
    /* Changes may have landed after the running build read them: build again. */
    rl->again = 1;
    if (waiter) {
      waiter->next = rl->next_waiters;
      rl->next_waiters = waiter;
    }
    return;
  }
  if (waiter) {
    waiter->next = rl->waiters;
    rl->waiters = waiter;
  }
  start_build(srv, 0);
}

void cxd_reload_stop(cxd_server *srv) {
  cxd_reload *rl = &srv->reload;
  unwatch_all(rl);
  if (rl->root_polling) {
    rl->root_polling = 0;
    uv_close((uv_handle_t *)&rl->root_poll, NULL);
  }
  if (!uv_is_closing((uv_handle_t *)&rl->debounce)) {
    uv_timer_stop(&rl->debounce);
    uv_close((uv_handle_t *)&rl->debounce, NULL);
  }
  /* A build in progress cannot be interrupted; on_build_done closes the async. */
  if (!rl->running && !uv_is_closing((uv_handle_t *)&rl->done_async))
    uv_close((uv_handle_t *)&rl->done_async, NULL);
}

json_t *cxd_reload_stats(cxd_server *srv) {
  cxd_reload *rl = &srv->reload;
  return json_pack("{s:I,s:I,s:b,s:s?,s:s?,s:I,s:b,s:s,s:b,s:I}", "count", (json_int_t)rl->count,
                   "failures", (json_int_t)rl->failures, "last_ok", rl->last_ok, "last_error",
                   rl->last_error, "last_at", rl->last_at[0] ? rl->last_at : NULL, "last_ms",
                   (json_int_t)(rl->last_ms + 0.5), "running", rl->running, "source",
                   srv->opt.seeds_dir ? "seeds" : "index", "watching", srv->opt.watch,
                   "watched_dirs", (json_int_t)rl->nwatchers);
}
