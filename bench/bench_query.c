/* bench_query.c — query latency of the engine against the naive FTS5 OR plan, with agreement.
 *
 *   bench_query --post-build INDEX       add the engine's tables to an index built without them
 *   bench_query INDEX [-n N] [--seed S] [--tsv FILE]... [--no-naive] [--no-check] [--repeat R]
 *               [--slow US]        print every query slower than US microseconds
 *               [--text-only]      time only cx__search_text (for perf record)
 *
 * Queries: N natural-language queries of 2-8 words drawn (seeded PRNG) from
 * the index's own questions and answers, with common words kept, each led by
 * a question opener ("how do we", "what is" ...); or the queries of
 * tests/eval TSV files. For each query it times (in one run, same process,
 * same index): the naive plan ("t1" OR "t2" ... ORDER BY bm25 LIMIT 10), the
 * whole cx_search (hits, snippets, JSON; timed first, so the postings it reads
 * are cold unless earlier queries read them), then the engine's ranking alone
 * (parse + top 10, with the postings now cached), as wall and CPU time, and
 * the query parse alone and cx__search_text (the result as JSON text, what
 * cardexd sends) as CPU time. It
 * checks that the engine's top 10 equals its own scoring evaluated
 * exhaustively (every matching card scored by the cx_rank FTS5 function).
 */
#include "../index/rank_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 42;
static uint64_t rnd(void) {
  uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* CPU time of this thread: on a shared machine, wall time measures the
 * neighbours as much as the query. */
static int64_t cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(int64_t *v, size_t n, double p) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, cmp_i64);
  size_t i = (size_t)ceil(p * (double)n) - 1;
  if (i >= n) i = n - 1;
  return (double)v[i];
}

static double mean(const int64_t *v, size_t n) {
  double t = 0;
  for (size_t i = 0; i < n; i++) t += (double)v[i];
  return n ? t / (double)n : 0;
}

static int post_build(const char *path) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    fprintf(stderr, "bench_query: %s: %s\n", path, sqlite3_errmsg(db));
    return 1;
  }
  cx_err err = {0};
  int64_t t0 = cx__now_us();
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  int rc = cx__engine_post_build(db, &err);
  sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
  sqlite3_close(db);
  if (rc) {
    fprintf(stderr, "bench_query: %s\n", err.msg);
    return 1;
  }
  printf("post-build of %s: %.2f s\n", path, (double)(cx__now_us() - t0) / 1e6);
  return 0;
}

typedef struct words_ctx {
  cx_strv *v;
} words_ctx;

static int word_cb(void *ctx, const char *tok, int n, int start, int end) {
  cx_strv *v = ctx;
  char *w = cx_xstrndup(tok, (size_t)n);
  cx__strv_push(v, w);
  free(w);
  return v->n >= 400;
}

/* A natural-language query about a random card: an opener, then a run of
 * 1-6 consecutive words of its question or answer (common words included). */
static char *make_query(cx_index *ix) {
  static const char *const openers[] = {"how do we", "what is", "what are the", "why does",
                                        "who needs", "explain", "", "when should we"};
  for (;;) {
    int64_t rowid = 1 + (int64_t)(rnd() % (uint64_t)(ix->max_rowid ? ix->max_rowid : 1));
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ix->db, "SELECT question, answer FROM fts WHERE rowid = ?1", -1, &st,
                           NULL) != SQLITE_OK)
      return NULL;
    sqlite3_bind_int64(st, 1, rowid);
    cx_strv w = {0};
    if (sqlite3_step(st) == SQLITE_ROW) {
      int col = rnd() % 2;
      const char *t = (const char *)sqlite3_column_text(st, col);
      if (t) cx__tokenize(ix, 0, t, -1, word_cb, &w);
    }
    sqlite3_finalize(st);
    if (w.n < 3) {
      cx__strv_free(&w);
      continue;
    }
    const char *op = openers[rnd() % (sizeof openers / sizeof *openers)];
    size_t opw = *op ? (size_t)(1 + (strchr(op, ' ') != NULL) + (strrchr(op, ' ') != strchr(op, ' '))) : 0;
    size_t want = 2 + rnd() % 7; /* 2..8 words in all */
    size_t run = want > opw ? want - opw : 1;
    if (run > w.n) run = w.n;
    size_t start = rnd() % (w.n - run + 1);
    cx__buf q;
    cx__buf_init(&q);
    cx__buf_puts(&q, op);
    for (size_t i = 0; i < run; i++) {
      if (q.n) cx__buf_putc(&q, ' ');
      cx__buf_puts(&q, w.v[start + i]);
    }
    cx__strv_free(&w);
    return cx__buf_detach(&q);
  }
}

static void load_tsv(const char *path, cx_strv *out) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char *t1 = strchr(line, '\t');
    char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (t2 == NULL) continue;
    char *q = t2 + 1;
    q[strcspn(q, "\r\n")] = '\0';
    cx__strv_push(out, q);
  }
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--post-build") == 0) return post_build(argv[2]);
  const char *path = NULL;
  size_t n = 1000;
  int naive = 1, check = 1, repeat = 1, text_only = 0;
  long long slow_us = 0;
  cx_strv queries = {0};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) n = (size_t)atol(argv[++i]);
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) rng = (uint64_t)atoll(argv[++i]);
    else if (strcmp(argv[i], "--tsv") == 0 && i + 1 < argc) load_tsv(argv[++i], &queries);
    else if (strcmp(argv[i], "--no-naive") == 0) naive = 0;
    else if (strcmp(argv[i], "--no-check") == 0) check = 0;
    else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (strcmp(argv[i], "--slow") == 0 && i + 1 < argc) slow_us = atoll(argv[++i]);
    else if (strcmp(argv[i], "--text-only") == 0) text_only = 1;
    else if (argv[i][0] != '-' && path == NULL) path = argv[i];
    else {
      fprintf(stderr, "usage: bench_query INDEX [-n N] [--seed S] [--tsv FILE]... [--no-naive] "
                      "[--no-check] [--repeat R] [--slow US] [--text-only]\n       bench_query --post-build INDEX\n");
      return 2;
    }
  }
  if (path == NULL) {
    fprintf(stderr, "bench_query: no index given; see --help\n");
    return 2;
  }
  cx_index *ix;
  cx_err err = {0};
  int64_t t0 = cx__now_us();
  if (cx_index_open(path, &ix, &err) != 0) {
    fprintf(stderr, "bench_query: %s\n", err.msg);
    return 1;
  }
  int64_t open_us = cx__now_us() - t0;
  if (queries.n == 0)
    for (size_t i = 0; i < n; i++) {
      char *q = make_query(ix);
      cx__strv_push(&queries, q);
      free(q);
    }
  size_t nq = queries.n * (size_t)repeat;
  int64_t *t_naive = cx_xcalloc(nq, sizeof(int64_t)), *t_rank = cx_xcalloc(nq, sizeof(int64_t)),
          *t_search = cx_xcalloc(nq, sizeof(int64_t)), *c_rank = cx_xcalloc(nq, sizeof(int64_t)),
          *c_search = cx_xcalloc(nq, sizeof(int64_t)), *c_text = cx_xcalloc(nq, sizeof(int64_t)),
          *c_parse = cx_xcalloc(nq, sizeof(int64_t));
  cx__buf tbuf;
  cx__buf_init(&tbuf);
  size_t agree = 0, checked = 0, scored = 0;
  /* Warm-up: page cache and the engine's postings cache, as in a daemon. */
  for (size_t i = 0; i < queries.n && i < 50; i++) {
    cx__query q;
    cx__result r;
    cx__query_parse(ix, queries.v[i], 0, 1, &q, &err);
    cx__rank(ix, &q, NULL, 10, 0, &r, &err);
    cx__result_destroy(&r);
    cx__query_destroy(&q);
  }
  if (text_only) {
    for (size_t rep = 0, k = 0; rep < (size_t)repeat; rep++)
      for (size_t i = 0; i < queries.n; i++, k++) {
        cx_search_req req = {.query = queries.v[i], .limit = 10};
        int64_t ca = cpu_us();
        tbuf.n = 0;
        if (cx__search_text(ix, &req, &tbuf, &err) != 0) {
          fprintf(stderr, "bench_query: %s: %s\n", queries.v[i], err.msg);
          return 1;
        }
        c_text[k] = cpu_us() - ca;
      }
    printf("CPU time, search text: p50 %9.1f us  p99 %9.1f us  mean %.1f us (%zu queries)\n",
           pct(c_text, nq, 0.5), pct(c_text, nq, 0.99), mean(c_text, nq), nq);
    return 0;
  }
  for (size_t rep = 0, k = 0; rep < (size_t)repeat; rep++)
    for (size_t i = 0; i < queries.n; i++, k++) {
      const char *text = queries.v[i];
      if (naive) {
        int64_t rows[10];
        size_t nr;
        int64_t a = cx__now_us();
        cx__rank_naive(ix, text, 10, rows, &nr, &err);
        t_naive[k] = cx__now_us() - a;
      }
      /* The whole call first, so that it does not profit from the ranking's
       * postings having just been read for the same query. */
      cx_search_req req = {.query = text, .limit = 10};
      json_t *res;
      int64_t a = cx__now_us(), ca = cpu_us();
      if (cx_search(ix, &req, &res, &err) == 0) json_decref(res);
      t_search[k] = cx__now_us() - a;
      c_search[k] = cpu_us() - ca;
      cx__query q;
      cx__result r;
      a = cx__now_us();
      ca = cpu_us();
      int rc = cx__query_parse(ix, text, 0, 1, &q, &err);
      if (rc == 0) rc = cx__rank(ix, &q, NULL, 10, 0, &r, &err);
      t_rank[k] = cx__now_us() - a;
      c_rank[k] = cpu_us() - ca;
      if (rc == 0) {
        cx__query q2;
        ca = cpu_us();
        cx__query_parse(ix, text, 0, 1, &q2, &err);
        c_parse[k] = cpu_us() - ca;
        cx__query_destroy(&q2);
        ca = cpu_us();
        tbuf.n = 0;
        rc = cx__search_text(ix, &req, &tbuf, &err);
        c_text[k] = cpu_us() - ca;
      }
      if (rc) {
        fprintf(stderr, "bench_query: %s: %s\n", text, err.msg);
        return 1;
      }
      scored += r.scored;
      if (check && rep == 0) {
        cx__result ex;
        if (cx__rank(ix, &q, NULL, 10, 1, &ex, &err) == 0) {
          int same = ex.nhits == r.nhits;
          for (size_t h = 0; same && h < r.nhits; h++) same = ex.hits[h].rowid == r.hits[h].rowid;
          agree += same;
          checked++;
          if (!same && getenv("BENCH_VERBOSE")) {
            fprintf(stderr, "disagree: %s\n", text);
            for (size_t h = 0; h < 10; h++)
              fprintf(stderr, "  %lld %.12f | %lld %.12f\n", h < r.nhits ? (long long)r.hits[h].rowid : -1,
                      h < r.nhits ? r.hits[h].score : 0, h < ex.nhits ? (long long)ex.hits[h].rowid : -1,
                      h < ex.nhits ? ex.hits[h].score : 0);
          }
          cx__result_destroy(&ex);
        }
      }
      cx__result_destroy(&r);
      cx__query_destroy(&q);
      if (slow_us > 0 && (t_search[k] > slow_us || t_rank[k] > slow_us))
        fprintf(stderr, "slow: ranking %lld us, cx_search %lld us: %s\n", (long long)t_rank[k],
                (long long)t_search[k], text);
    }
  double n50 = pct(t_naive, nq, 0.5), n99 = pct(t_naive, nq, 0.99);
  double r50 = pct(t_rank, nq, 0.5), r99 = pct(t_rank, nq, 0.99);
  double s50 = pct(t_search, nq, 0.5), s99 = pct(t_search, nq, 0.99);
  printf("index: %s (%lld cards, engine tables: %s, open %.1f ms)\n", path, (long long)ix->ncards,
         ix->has_postings ? "yes" : "no", (double)open_us / 1000.0);
  printf("queries: %zu x %d\n", queries.n, repeat);
  if (naive)
    printf("naive FTS5 OR plan : p50 %9.1f us  p99 %9.1f us\n", n50, n99);
  printf("engine ranking     : p50 %9.1f us  p99 %9.1f us  (cards scored per query: %.1f)\n", r50,
         r99, (double)scored / (double)nq);
  printf("engine cx_search   : p50 %9.1f us  p99 %9.1f us  (with hits, snippets, JSON)\n", s50, s99);
  printf("CPU time, ranking  : p50 %9.1f us  p99 %9.1f us\n", pct(c_rank, nq, 0.5),
         pct(c_rank, nq, 0.99));
  printf("CPU time, cx_search: p50 %9.1f us  p99 %9.1f us  mean %.1f us\n", pct(c_search, nq, 0.5),
         pct(c_search, nq, 0.99), mean(c_search, nq));
  printf("CPU time, parse    : p50 %9.1f us  p99 %9.1f us  mean %.1f us\n", pct(c_parse, nq, 0.5),
         pct(c_parse, nq, 0.99), mean(c_parse, nq));
  printf("CPU time, ranking  : mean %.1f us (parse included)\n", mean(c_rank, nq));
  printf("CPU time, search as text (cardexd's path): p50 %9.1f us  p99 %9.1f us  mean %.1f us\n",
         pct(c_text, nq, 0.5), pct(c_text, nq, 0.99), mean(c_text, nq));
  if (naive)
    printf("speed-up (ranking) : p50 %.1fx  p99 %.1fx\n", r50 > 0 ? n50 / r50 : 0, r99 > 0 ? n99 / r99 : 0);
  if (checked)
    printf("agreement with exhaustive scoring: %zu/%zu = %.1f%%\n", agree, checked,
           100.0 * (double)agree / (double)checked);
  free(t_naive);
  free(t_rank);
  free(t_search);
  free(c_rank);
  free(c_search);
  free(c_text);
  free(c_parse);
  cx__buf_destroy(&tbuf);
  cx__strv_free(&queries);
  cx_index_close(ix);
  return 0;
}
