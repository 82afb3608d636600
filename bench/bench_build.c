/* bench_build.c — full `cardex-index build` time against a bare-FTS5 baseline, in one run.
 *
 *   bench_build [--runs R] [--threads N] [--work DIR] [N...]      (default N: 10000 100000)
 *
 * For each corpus size N: generates N cards with gen_cards (once, kept in
 * DIR/cards-N), then times
 *   build     the real tool, `cardex-index build --full -q DIR/cards-N -o DIR/index-N.db`
 *             (walk, read, hash, parse on all cores, every table, FTS5, optimize,
 *             fsync, rename), as a child process, wall clock;
 *   baseline  inserting the same four FTS column texts, extracted beforehand
 *             and held in memory, into a bare FTS5 table with the same
 *             tokenizer and prefix indexes, in one transaction, with the same
 *             pragmas, then fsync: the least any index of these texts costs;
 *   baseline, builder's hashsize
 *             the baseline with the FTS5 pending-data size the builder sets
 *             (CX__FTS_HASHSIZE): how much of the builder's speed is FTS5's own;
 *   unchanged the tool again on the unchanged corpus (nothing to do: the index is kept);
 *   1 changed the tool again after one card changed (every other card reused, the index
 *             rewritten).
 * R runs of each, alternated; the medians are reported with their ratio. */
#include "cx_build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CX_GEN_CARDS
#define CX_GEN_CARDS "gen_cards"
#endif
#ifndef CX_INDEX_TOOL
#define CX_INDEX_TOOL "cardex-index"
#endif

static double now_s(void) { return (double)cx__now_us() / 1e6; }

/* CPU seconds (user + system) of the last run() child, and of this process. */
static double child_cpu;

static double self_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, STDOUT_FILENO);
    execv(argv[0], argv);
    fprintf(stderr, "bench_build: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  /* RUSAGE_CHILDREN adds up every child waited for: the difference is this one. */
  static double children_before;
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  double all = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  child_cpu = all - children_before;
  children_before = all;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

typedef struct texts {
  char **v; /* 4 per card */
  size_t n, cap;
} texts;

static int collect(void *ctx, cx__item *it) {
  texts *t = ctx;
  if (it->rc || !it->has_doc) return 0;
  if (t->n + 4 > t->cap) {
    t->cap = t->cap ? t->cap * 2 : 4096;
    t->v = cx_xrealloc(t->v, t->cap * sizeof *t->v);
  }
  t->v[t->n++] = cx__buf_detach(&it->doc.question);
  t->v[t->n++] = cx__buf_detach(&it->doc.tags);
  t->v[t->n++] = cx__buf_detach(&it->doc.answer);
  t->v[t->n++] = cx__buf_detach(&it->doc.sources);
  return 0;
}

/* The same texts the builder gives FTS5, by the builder's own code. */
static void extract(const char *dir, int threads, texts *t) {
  cx__files files = {0};
  cx_diags d;
  cx_diags_init(&d);
  const char *paths[] = {dir};
  cx__walk(paths, 1, 0, &files, &d);
  cx_build_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.threads = threads;
  cx__pipeline p = {&files, &opts, NULL, 1, collect, t, "extracting", 0, NULL};
  cx__pipeline_run(&p);
  cx__files_destroy(&files);
  cx_diags_destroy(&d);
}

static int exec_ok(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
  fprintf(stderr, "bench_build: %s: %s\n", sql, msg);
  sqlite3_free(msg);
  return -1;
}

static double baseline_cpu;

/* mode 0: the bare table; 1: then 'optimize'; 2: with the builder's FTS5
 * pending-data size (CX__FTS_HASHSIZE), to show what of the builder's gain
 * is FTS5's own. */
static double baseline(const char *path, const texts *t, int mode) {
  unlink(path);
  double t0 = now_s(), c0 = self_cpu();
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
  sqlite3_stmt *ins = NULL;
  int ok =
      exec_ok(db, "PRAGMA page_size=" CX__PAGE_SIZE ";" CX__BUILD_PRAGMAS) == 0 &&
      exec_ok(db, CX__FTS_SQL) == 0 && /* the builder's own table definition */
      (mode != 2 || exec_ok(db, CX__FTS_HASHSIZE_SQL) == 0) &&
      exec_ok(db, "BEGIN") == 0 &&
      sqlite3_prepare_v2(db, "INSERT INTO fts(rowid, question, tags, answer, sources)"
                             " VALUES(?,?,?,?,?)", -1, &ins, NULL) == SQLITE_OK;
  for (size_t i = 0; ok && i < t->n; i += 4) {
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)(i / 4 + 1));
    for (int c = 0; c < 4; c++) sqlite3_bind_text(ins, 2 + c, t->v[i + c], -1, SQLITE_STATIC);
    ok = sqlite3_step(ins) == SQLITE_DONE;
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  if (ok && mode == 1) ok = exec_ok(db, "INSERT INTO fts(fts) VALUES('optimize')") == 0;
  if (ok) ok = exec_ok(db, "COMMIT") == 0;
  sqlite3_close(db);
  int fd = open(path, O_RDWR);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  baseline_cpu = self_cpu() - c0;
  return ok ? now_s() - t0 : -1;
}

static double tool_build(const char *dir, const char *out, const char *threads, int full) {
  char *argv[12];
  int a = 0;
  argv[a++] = (char *)CX_INDEX_TOOL;
  argv[a++] = "build";
  if (full) argv[a++] = "--full";
  argv[a++] = "-q";
  if (threads) {
    argv[a++] = "--threads";
    argv[a++] = (char *)threads;
  }
  argv[a++] = (char *)dir;
  argv[a++] = "-o";
  argv[a++] = (char *)out;
  argv[a] = NULL;
  double t0 = now_s();
  int rc = run(argv);
  if (rc != 0) {
    fprintf(stderr, "bench_build: %s build %s exited with %d\n", CX_INDEX_TOOL, dir, rc);
    return -1;
  }
  return now_s() - t0;
}

/* The 1-minute load average: the machine is shared, so every row says how busy it was. */
static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

static int dbl_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, dbl_cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double file_mb(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : -1;
}

int main(int argc, char **argv) {
  int runs = 0, threads = 0;
  const char *work = "bench-work";
  unsigned long sizes[16];
  int nsizes = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc) work = argv[++i];
    else if (argv[i][0] != '-' && nsizes < 16) sizes[nsizes++] = strtoul(argv[i], NULL, 10);
    else {
      fprintf(stderr, "usage: bench_build [--runs R] [--threads N] [--work DIR] [N...]\n");
      return 2;
    }
  }
  if (nsizes == 0) {
    sizes[nsizes++] = 10000;
    sizes[nsizes++] = 100000;
  }
  mkdir(work, 0777);
  char threads_s[16];
  snprintf(threads_s, sizeof threads_s, "%d", threads);
  printf("| cards | build (s) | baseline (s) | ratio | baseline+optimize (s) | unchanged (s) |"
         " 1 changed (s) | index (MiB) | baseline db (MiB) | load avg | build cpu (s) | baseline cpu (s) |"
         " cpu ratio | baseline, builder's hashsize (s) | ratio to it |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  fflush(stdout);
  for (int s = 0; s < nsizes; s++) {
    unsigned long n = sizes[s];
    char dir[1024], out[1100], base[1100], mark[1100], nbuf[32];
    snprintf(dir, sizeof dir, "%s/cards-%lu", work, n);
    snprintf(out, sizeof out, "%s/index-%lu.db", work, n);
    snprintf(base, sizeof base, "%s/baseline-%lu.db", work, n);
    snprintf(mark, sizeof mark, "%s/.complete", dir);
    snprintf(nbuf, sizeof nbuf, "%lu", n);
    struct stat st;
    if (stat(mark, &st) != 0) {
      fprintf(stderr, "bench_build: generating %lu cards in %s\n", n, dir);
      char *gen[] = {(char *)CX_GEN_CARDS, nbuf, dir, NULL};
      if (run(gen) != 0) return 1;
      close(open(mark, O_WRONLY | O_CREAT, 0666));
    }
    texts t = {0};
    extract(dir, threads, &t);
    int r = runs > 0 ? runs : n <= 20000 ? 3 : 1;
    double tb[32], tl[32], to[32], th[32], tr[32], tc[32], cb[32], cl[32], load0 = loadavg();
    char first[1200];
    snprintf(first, sizeof first, "%s/000/Q000001.md", dir);
    struct stat fst;
    if (stat(first, &fst) != 0) {
      fprintf(stderr, "bench_build: %s: %s\n", first, strerror(errno));
      return 1;
    }
    if (r > 32) r = 32;
    for (int i = 0; i < r; i++) {
      unlink(out);
      tb[i] = tool_build(dir, out, threads ? threads_s : NULL, 1);
      cb[i] = child_cpu;
      tl[i] = baseline(base, &t, 0);
      cl[i] = baseline_cpu;
      th[i] = baseline(base, &t, 2);
      to[i] = baseline(base, &t, 1); /* last: the baseline db column is this file, as before */
      tr[i] = tool_build(dir, out, threads ? threads_s : NULL, 0);
      /* One card changes (a blank line more), then is put back as it was. */
      FILE *f = fopen(first, "a");
      if (f == NULL || fputs("\n", f) < 0 || fclose(f) != 0) return 1;
      tc[i] = tool_build(dir, out, threads ? threads_s : NULL, 0);
      if (truncate(first, fst.st_size) != 0) return 1;
      if (tb[i] < 0 || tl[i] < 0 || to[i] < 0 || th[i] < 0 || tr[i] < 0 || tc[i] < 0) return 1;
    }
    double mb = median(tb, r), ml = median(tl, r), mo = median(to, r), mr = median(tr, r);
    double mcb = median(cb, r), mcl = median(cl, r), mc = median(tc, r), mh = median(th, r);
    printf("| %lu | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f | %.1f-%.1f | %.2f | %.2f |"
           " %.2f | %.2f | %.2f |\n", n, mb, ml, mb / ml, mo, mr, mc, file_mb(out), file_mb(base), load0,
           loadavg(), mcb, mcl, mcb / mcl, mh, mb / mh);
    fflush(stdout);
    for (size_t i = 0; i < t.n; i++) free(t.v[i]);
    free(t.v);
  }
  char runs_s[64];
  if (runs > 0) snprintf(runs_s, sizeof runs_s, "%d run(s) per size", runs);
  else snprintf(runs_s, sizeof runs_s, "3 runs up to 20000 cards, 1 above");
  printf("\n%s (median), %ld cores, sqlite %s, threads %s\n", runs_s,
         sysconf(_SC_NPROCESSORS_ONLN), sqlite3_libversion(), threads ? threads_s : "all cores");
  return 0;
}
