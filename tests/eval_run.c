/* eval_run.c — retrieval quality on tests/eval: the engine against the naive FTS5 OR plan.
 *
 *   eval_run SEEDS_DIR EVAL_DIR [--min-top1 F] [--min-mrr F] [--verbose]
 *
 * Builds an index of SEEDS_DIR in a temp file, runs every query of
 * each .tsv of EVAL_DIR (category TAB expected-id-or-"-" TAB query), and prints top-1
 * accuracy and MRR@10 per category for the engine and for the naive plan,
 * plus how answer() treats the "none" queries (no card answers them) against
 * the answerable ones at the configured threshold. Fails (exit 1) when the
 * engine's top-1 or MRR is below the thresholds, or not above the naive plan.
 */
#include "../index/rank_internal.h"

#include <dirent.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct stat_row {
  char cat[32];
  int n;
  double top1, mrr, ntop1, nmrr;
} stat_row;

static stat_row rows[16];
static size_t nrows;

static stat_row *row_of(const char *cat) {
  for (size_t i = 0; i < nrows; i++)
    if (strcmp(rows[i].cat, cat) == 0) return &rows[i];
  if (nrows == 16) return &rows[15];
  snprintf(rows[nrows].cat, sizeof rows[nrows].cat, "%.31s", cat);
  return &rows[nrows++];
}

static const char *id_of(cx_index *ix, int64_t rowid, char *buf, size_t n) {
  sqlite3_stmt *st;
  buf[0] = '\0';
  if (sqlite3_prepare_v2(ix->db, "SELECT id FROM cards WHERE rowid = ?1", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, rowid);
    if (sqlite3_step(st) == SQLITE_ROW) snprintf(buf, n, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  return buf;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: eval_run SEEDS_DIR EVAL_DIR [--min-top1 F] [--min-mrr F] [--verbose]\n");
    return 2;
  }
  double min_top1 = 0, min_mrr = 0;
  int verbose = 0;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--min-top1") == 0 && i + 1 < argc) min_top1 = atof(argv[++i]);
    else if (strcmp(argv[i], "--min-mrr") == 0 && i + 1 < argc) min_mrr = atof(argv[++i]);
    else if (strcmp(argv[i], "--verbose") == 0) verbose = 1;
  }
  char dbpath[] = "/tmp/cardex-eval-XXXXXX";
  int fd = mkstemp(dbpath);
  if (fd < 0) {
    perror("mkstemp");
    return 2;
  }
  close(fd);
  const char *paths[] = {argv[1]};
  cx_build_opts opts = {0};
  opts.keep_going = 1;
  cx_build_stats bst = {0};
  cx_diags diags;
  cx_diags_init(&diags);
  cx_err err = {0};
  int rc = cx_index_build(paths, 1, dbpath, &opts, &bst, &diags, &err);
  cx_diags_destroy(&diags);
  if (rc != 0 && rc != CX_EPARTIAL) {
    fprintf(stderr, "eval_run: cannot build %s: %s\n", argv[1], err.msg);
    unlink(dbpath);
    return 2;
  }
  cx_index *ix;
  if (cx_index_open(dbpath, &ix, &err) != 0) {
    fprintf(stderr, "eval_run: %s\n", err.msg);
    unlink(dbpath);
    return 2;
  }
  DIR *d = opendir(argv[2]);
  if (d == NULL) {
    perror(argv[2]);
    return 2;
  }
  char *files[64];
  size_t nfiles = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && nfiles < 64) {
    size_t len = strlen(de->d_name);
    if (len > 4 && strcmp(de->d_name + len - 4, ".tsv") == 0) files[nfiles++] = cx_xstrdup(de->d_name);
  }
  closedir(d);
  qsort(files, nfiles, sizeof *files, cmp_str);
  int total = 0;
  double top1 = 0, mrr = 0, ntop1 = 0, nmrr = 0;
  /* answer(): confidences of answerable queries whose top card is right,
   * and of "none" queries, for the threshold sweep in docs/ranking.md. */
  double conf_right[1024], conf_none[256];
  size_t nright = 0, nnone = 0, none_answered = 0, right_answered = 0;
  for (size_t fi = 0; fi < nfiles; fi++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[2], files[fi]);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
      if (line[0] == '#' || line[0] == '\n') continue;
      char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
      if (t2 == NULL) continue;
      *t1 = *t2 = '\0';
      char *cat = line, *want = t1 + 1, *text = t2 + 1;
      text[strcspn(text, "\r\n")] = '\0';
      cx_search_req req = {.query = text, .limit = 10};
      json_t *res;
      if (strcmp(want, "-") == 0) {
        if (cx_answer(ix, &req, &res, &err) == 0) {
          if (nnone < 256) conf_none[nnone++] = json_real_value(json_object_get(res, "confidence"));
          if (json_is_true(json_object_get(res, "answered"))) {
            none_answered++;
            if (verbose) printf("  answered a none query: %s\n", text);
          }
          json_decref(res);
        }
        continue;
      }
      stat_row *r = row_of(cat);
      r->n++;
      total++;
      /* The engine. */
      double rr = 0;
      if (cx_search(ix, &req, &res, &err) == 0) {
        json_t *hits = json_object_get(res, "hits");
        for (size_t h = 0; h < json_array_size(hits); h++)
          if (strcasecmp(json_string_value(json_object_get(json_array_get(hits, h), "id")), want) == 0) {
            rr = 1.0 / (double)(h + 1);
            break;
          }
        if (verbose && rr < 1)
          printf("  miss [%s] want %s got %s (rr %.2f): %s\n", cat, want,
                 json_array_size(hits) ? json_string_value(json_object_get(json_array_get(hits, 0), "id")) : "-",
                 rr, text);
        json_decref(res);
      } else {
        fprintf(stderr, "eval_run: %s: %s\n", text, err.msg);
      }
      r->top1 += rr == 1.0;
      r->mrr += rr;
      top1 += rr == 1.0;
      mrr += rr;
      if (cx_answer(ix, &req, &res, &err) == 0) {
        if (rr == 1.0 && nright < 1024) conf_right[nright++] = json_real_value(json_object_get(res, "confidence"));
        if (rr == 1.0 && json_is_true(json_object_get(res, "answered"))) right_answered++;
        json_decref(res);
      }
      /* The naive plan. */
      int64_t ids[10];
      size_t nids = 0;
      double nrr = 0;
      cx__rank_naive(ix, text, 10, ids, &nids, &err);
      for (size_t h = 0; h < nids; h++) {
        char buf[64];
        if (strcasecmp(id_of(ix, ids[h], buf, sizeof buf), want) == 0) {
          nrr = 1.0 / (double)(h + 1);
          break;
        }
      }
      r->ntop1 += nrr == 1.0;
      r->nmrr += nrr;
      ntop1 += nrr == 1.0;
      nmrr += nrr;
    }
    fclose(f);
  }
  printf("%-12s %5s  %-17s  %-17s\n", "category", "n", "engine top1/MRR", "naive top1/MRR");
  for (size_t i = 0; i < nrows; i++)
    printf("%-12s %5d  %6.3f / %6.3f    %6.3f / %6.3f\n", rows[i].cat, rows[i].n,
           rows[i].top1 / rows[i].n, rows[i].mrr / rows[i].n, rows[i].ntop1 / rows[i].n,
           rows[i].nmrr / rows[i].n);
  if (total == 0) {
    printf("no evaluation queries found in %s\n", argv[2]);
    return 1;
  }
  printf("%-12s %5d  %6.3f / %6.3f    %6.3f / %6.3f\n", "all", total, top1 / total, mrr / total,
         ntop1 / total, nmrr / total);
  printf("answer(): %zu/%zu correct top cards answered; %zu/%zu unanswerable queries answered\n",
         right_answered, nright, none_answered, nnone);
  printf("threshold sweep (answered right / answered none):");
  for (double t = 0.40; t < 0.86; t += 0.05) {
    size_t a = 0, b = 0;
    for (size_t i = 0; i < nright; i++) a += conf_right[i] >= t;
    for (size_t i = 0; i < nnone; i++) b += conf_none[i] >= t;
    printf(" %.2f:%zu/%zu", t, a, b);
  }
  printf("\n");
  cx_index_close(ix);
  unlink(dbpath);
  for (size_t i = 0; i < nfiles; i++) free(files[i]);
  int fail = 0;
  if (top1 / total < min_top1) {
    printf("FAIL: engine top-1 %.3f below %.3f\n", top1 / total, min_top1);
    fail = 1;
  }
  if (mrr / total < min_mrr) {
    printf("FAIL: engine MRR %.3f below %.3f\n", mrr / total, min_mrr);
    fail = 1;
  }
  if (top1 <= ntop1 || mrr <= nmrr) {
    printf("FAIL: the engine does not beat the naive plan\n");
    fail = 1;
  }
  return fail;
}
