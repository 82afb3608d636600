/* pool.c — worker threads: libuv's thread pool, each thread with its own read-only cx_index. */
#define _GNU_SOURCE /* SCHED_BATCH */
#include "cardexd.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* One per worker thread that ever ran a query. The thread owns it while it
 * runs; the list lets the main thread close them all at exit, when no work
 * can run any more. */
typedef struct worker_slot {
  cx_index *ix;
  uint64_t gen;
  int busy; /* its thread is running a request (under slots_lock) */
  struct worker_slot *next;
} worker_slot;

static uv_mutex_t slots_lock;
static uv_once_t slots_once = UV_ONCE_INIT;
static worker_slot *slots;
static _Thread_local worker_slot *tl_slot;

/* Reply buffers go back from the loop to the workers instead of to free():
 * one malloc'd on a worker and freed on the loop takes the worker's malloc
 * arena lock, which the worker holds often (futex waits were ~1% of the
 * daemon's samples under load in perf, 0.07% with spares). */
#define SPARE_MAX 16
#define SPARE_CAP_MIN 16384
#define SPARE_CAP_MAX (64 * 1024)
static uv_mutex_t spare_lock;
static cx__buf spares[SPARE_MAX];
static size_t nspares;
static int spares_closed; /* after cxd_pool_shutdown: buffers are freed */

static void slots_init(void) {
  if (uv_mutex_init(&slots_lock) != 0 || uv_mutex_init(&spare_lock) != 0) abort();
}

void cxd_pool_buf_take(cx__buf *b) {
  uv_once(&slots_once, slots_init);
  uv_mutex_lock(&spare_lock);
  int have = nspares > 0;
  if (have) *b = spares[--nspares];
  uv_mutex_unlock(&spare_lock);
  if (!have) {
    /* Replies are a few KB: start there instead of doubling up from 64 bytes. */
    b->p = cx_xmalloc(SPARE_CAP_MIN);
    b->cap = SPARE_CAP_MIN;
  }
  b->n = 0;
  b->p[0] = '\0';
}

void cxd_pool_buf_give(cx__buf *b) {
  if (b->p && b->cap >= SPARE_CAP_MIN && b->cap <= SPARE_CAP_MAX) {
    uv_once(&slots_once, slots_init);
    uv_mutex_lock(&spare_lock);
    int kept = !spares_closed && nspares < SPARE_MAX;
    if (kept) spares[nspares++] = *b;
    uv_mutex_unlock(&spare_lock);
    if (kept) {
      cx__buf_init(b);
      return;
    }
  }
  cx__buf_destroy(b);
}

int cxd_pool_configure(int threads) {
  char n[24];
  if (threads > 0) {
    snprintf(n, sizeof n, "%d", threads);
    setenv("UV_THREADPOOL_SIZE", n, 1);
  } else if (getenv("UV_THREADPOOL_SIZE") == NULL) {
    /* Queries are CPU-bound: one thread per core. libuv's default of 4 would
     * only add context switches on a 2-core machine. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(n, sizeof n, "%ld", cores > 0 ? cores : 2);
    setenv("UV_THREADPOOL_SIZE", n, 1);
  }
  int size = atoi(getenv("UV_THREADPOOL_SIZE"));
  return size < 1 ? 1 : size > 1024 ? 1024 : size;
}

/* This thread's index for generation ref, reopened when a reload published a
 * newer one. A query already running elsewhere keeps its own connection to
 * the old file, which stays readable after the rename that replaced it. */
static cx_index *thread_index(const cxd_index_ref *ref, int64_t limit_us, int *rc,
                              cx_err *err) {
  if (tl_slot == NULL) {
#ifdef SCHED_BATCH
    /* Queries are CPU-bound batch work: a worker woken by a new request
     * should not preempt the loop thread (which would be switched out and
     * back for every request on a busy machine), only run when a core is
     * free or the loop's slice ends. Same priority (nice) as before. */
    struct sched_param sp = {0};
    sched_setscheduler(0, SCHED_BATCH, &sp);
#endif
    uv_once(&slots_once, slots_init);
    tl_slot = cx_xcalloc(1, sizeof *tl_slot);
    tl_slot->busy = 1;
    uv_mutex_lock(&slots_lock);
    tl_slot->next = slots;
    slots = tl_slot;
    uv_mutex_unlock(&slots_lock);
  }
  if (tl_slot->ix && tl_slot->gen == ref->gen) return tl_slot->ix;
  cx_index_close(tl_slot->ix);
  tl_slot->ix = NULL;
  *rc = cx_index_open(ref->open_path, &tl_slot->ix, err);
  if (*rc != 0) {
    tl_slot->ix = NULL;
    return NULL;
  }
  cx_index_set_time_limit(tl_slot->ix, limit_us);
  tl_slot->gen = ref->gen;
  return tl_slot->ix;
}

static void set_busy(int busy) {
  uv_mutex_lock(&slots_lock);
  tl_slot->busy = busy;
  uv_mutex_unlock(&slots_lock);
}

static void work_cb(uv_work_t *w) {
  cxd_req *r = w->data;
  cx_err err = {0};
  int rc = 0;
  if (tl_slot) set_busy(1); /* a new slot is made busy by thread_index */
  r->ix = thread_index(r->ixref, r->srv->opt.query_timeout_us, &rc, &err);
  cxd_rpc_run_on_worker(r, rc, &err);
  r->ix = NULL;
  set_busy(0);
}

/* ---- closing a released generation's connections ------------------------- */

typedef struct retire_job {
  uv_work_t work;
  uint64_t gen;
} retire_job;

static void retire_work(uv_work_t *w) {
  retire_job *j = w->data;
  cx_index *stale[64];
  size_t n = 0;
  /* Take them under the lock, close them outside it: a worker starting a
   * request only waits for the list walk. A busy slot is never touched (its
   * thread owns it; it reopens on its next request anyway). */
  uv_mutex_lock(&slots_lock);
  for (worker_slot *s = slots; s && n < sizeof stale / sizeof *stale; s = s->next)
    if (!s->busy && s->ix && s->gen == j->gen) {
      stale[n++] = s->ix;
      s->ix = NULL;
      s->gen = 0;
    }
  uv_mutex_unlock(&slots_lock);
  while (n) cx_index_close(stale[--n]);
}

static void retire_done(uv_work_t *w, int status) {
  (void)status;
  free(w->data);
}

void cxd_pool_retire(uv_loop_t *loop, uint64_t gen) {
  uv_once(&slots_once, slots_init);
  retire_job *j = cx_xcalloc(1, sizeof *j);
  j->gen = gen;
  j->work.data = j;
  /* If it cannot be queued, each stale connection closes at its thread's next request. */
  if (uv_queue_work(loop, &j->work, retire_work, retire_done) != 0) free(j);
}

static void after_work_cb(uv_work_t *w, int status) { cxd_rpc_worker_done(w->data, status); }

int cxd_pool_submit(cxd_req *r) {
  r->work.data = r;
  return uv_queue_work(r->srv->loop, &r->work, work_cb, after_work_cb);
}

void cxd_pool_shutdown(void) {
  uv_once(&slots_once, slots_init);
  uv_mutex_lock(&slots_lock);
  while (slots) {
    worker_slot *s = slots;
    slots = s->next;
    cx_index_close(s->ix);
    free(s);
  }
  uv_mutex_unlock(&slots_lock);
  uv_mutex_lock(&spare_lock);
  spares_closed = 1;
  while (nspares) cx__buf_destroy(&spares[--nspares]);
  uv_mutex_unlock(&spare_lock);
}
