/* store.c — the index builder's SQLite writer: temp file, bulk inserts, reuse, atomic swap. */
/* sync_file_range (Linux; elsewhere the final fsync does all the work) */
#define _GNU_SOURCE
#include "cx_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
  /* inserting a parsed card (FTS5 indexes its texts on the FTS thread) */
  S_FILE, S_CARD, S_FTS_CONTENT,
  S_WARNING, S_META, S_SYNONYM, S_HIT,
  /* copying an unchanged card from the old index: ?1 new rowid, ?2 old rowid */
  C_ID, C_CARD, C_PACK, C_TAG, C_CLAUSE, C_SOURCE, C_ACTION, C_LINK, C_SECTION, C_HIT, C_FTS,
  C_WARNING, C_WARNINGS_OF,
  S_COUNT
};

/* Statements that may write several rows (INSERT … SELECT, multi-row
 * VALUES) say OR FAIL: under the default ABORT, SQLite wraps each in a
 * statement transaction, which copies every page the statement touches to a
 * sub-journal (16 KiB a page, a few pages per card) and makes FTS5 write its
 * pending terms out (xSavepoint). FAIL needs neither; any failure fails the
 * whole build anyway. Single-row INSERTs never open one. */
static const char *const stmt_sql[S_COUNT] = {
  [S_FILE] = "INSERT INTO files(path, hash, size, mtime_ns, card) VALUES(?,?,?,?,?)",
  [S_CARD] = "INSERT INTO cards(rowid, id, number, path, hash, query, title, output_mode,"
             " graph_required, notes, json) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
  /* The FTS texts, as FTS5 stores them for a content table (fts_content:
   * id, then c0…c3, one per column), written here rather than by the FTS
   * thread: they are then written once, not to the scratch database and
   * copied again; the scratch table is contentless (store.c's FTS thread). */
  [S_FTS_CONTENT] = "INSERT INTO fts_content(id, c0, c1, c2, c3) VALUES(?,?,?,?,?)",
  [S_WARNING] = "INSERT INTO card_warnings(card, ord, line, col, message) VALUES(?,?,?,?,?)",
  [S_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)",
  [S_SYNONYM] = "INSERT INTO synonyms(grp, term) VALUES(?,?)",
  [S_HIT] = "INSERT INTO cx_hits(rowid, hit, plain, others) VALUES(?,?,?,?)",
  [C_ID] = "SELECT id FROM old.cards WHERE rowid = ?1",
  [C_CARD] = "INSERT OR FAIL INTO cards(rowid, id, number, path, hash, query, title, output_mode,"
             " graph_required, notes, json) SELECT ?1, id, number, path, hash, query,"
             " title, output_mode, graph_required, notes, json"
             " FROM old.cards WHERE rowid = ?2",
  [C_PACK] = "INSERT OR FAIL INTO packs(card, ord, pack) SELECT ?1, ord, pack FROM old.packs"
             " WHERE card = ?2 ORDER BY ord",
  [C_TAG] = "INSERT OR FAIL INTO tags(card, ord, tag) SELECT ?1, ord, tag FROM old.tags"
            " WHERE card = ?2 ORDER BY ord",
  [C_CLAUSE] = "INSERT OR FAIL INTO clause_ids(card, ord, kind, clause) SELECT ?1, ord, kind,"
               " clause"
               " FROM old.clause_ids WHERE card = ?2 ORDER BY ord",
  [C_SOURCE] = "INSERT OR FAIL INTO sources(card, ord, title, sid, locator) SELECT ?1, ord, title,"
               " sid, locator FROM old.sources WHERE card = ?2 ORDER BY ord",
  [C_ACTION] = "INSERT OR FAIL INTO actions(card, ord, type, target, label) SELECT ?1, ord, type,"
               " target, label FROM old.actions WHERE card = ?2 ORDER BY ord",
  [C_LINK] = "INSERT OR FAIL INTO links(card, ord, target) SELECT ?1, ord, target FROM old.links"
             " WHERE card = ?2 ORDER BY ord",
  [C_SECTION] = "INSERT OR FAIL INTO sections(card, ord, name, markdown, text) SELECT ?1, ord,"
                " name, markdown, text FROM old.sections WHERE card = ?2 ORDER BY ord",
  /* The builder fingerprint covers the sample card's hit row, so an old row
   * is what a parse would compute (a missing one is filled in by
   * cx__engine_post_build). */
  [C_HIT] = "INSERT OR FAIL INTO cx_hits(rowid, hit, plain, others) SELECT ?1, hit, plain, others"
            " FROM old.cx_hits WHERE rowid = ?2",
  /* Read, then handed to the FTS thread like a parsed card's texts: the
   * index is then the same as a full build's. */
  [C_FTS] = "SELECT question, tags, answer, sources FROM old.fts WHERE rowid = ?1",
  [C_WARNING] = "INSERT OR FAIL INTO card_warnings(card, ord, line, col, message) SELECT ?1, ord,"
                " line, col, message FROM old.card_warnings WHERE card = ?2 ORDER BY ord",
  [C_WARNINGS_OF] = "SELECT line, col, message FROM old.card_warnings WHERE card = ?1"
                    " ORDER BY ord",
};

/* The FTS thread. FTS5's inserts (its tokenizer, its pending-terms hash,
 * writing and merging segments) were ~40% of the writer's CPU: they run on a
 * thread of their own, with a connection of their own to a scratch database
 * "<temp file>-fts" that has only the fts table, contentless, and at commit
 * the writer copies FTS5's shadow tables into the temp file as they are
 * (fts_copy). The texts themselves (fts_content) the writer inserts as it
 * goes, as FTS5 would have (S_FTS_CONTENT).
 *
 * The writer hands the rows over in batches of about FTS_BATCH_BYTES of
 * text, in rowid order, and waits only while FTS_QUEUE_BYTES are still to
 * be inserted. The batches can be small: that connection inserts nothing
 * else and never opens a savepoint, so FTS5 writes a segment only when its
 * pending terms reach CX__FTS_HASHSIZE, whatever the batch size. The queue
 * absorbs the FTS thread's pauses (a segment written, a merge) but is what
 * is left to insert when the writer is done, a tail with one core idle: at
 * 10k cards (16 MiB of text) 8 MiB left up to ~0.3 s at the end, 2 MiB made
 * the writer wait ~2 s for room at 100k (bench/README.md). */
#define FTS_BATCH_BYTES (512u << 10)
#define FTS_QUEUE_BYTES (4u << 20)

/* A card's lists, each inserted by a multi-row INSERT of up to
 * ROWS_PER_STMT rows (insert_list). */
enum { L_PACK, L_TAG, L_CLAUSE, L_SOURCE, L_ACTION, L_LINK, L_SECTION, L_COUNT };
#define ROWS_PER_STMT 16

typedef struct fts_row {
  int64_t rowid;
  char *col[4];
  size_t len[4]; /* known: sqlite3_bind_text need not strlen multi-KB texts again */
  cx__fts_toks toks; /* the parser's tokens of col, replayed to FTS5 (fts_replay.c) */
} fts_row;

typedef struct fts_batch {
  struct fts_batch *next;
  fts_row *rows;
  size_t n, cap, bytes;
} fts_batch;

typedef struct fts_thread {
  char *path;               /* the scratch database */
  sqlite3 *db;              /* the FTS thread's own (fts_open) */
  cx__fts_replay *replay;   /* owned by db; NULL: FTS5 tokenizes the texts itself */
  sqlite3_stmt *ins;
  pthread_t thread;
  int running;              /* started, not joined */
  int inline_;              /* no thread could be started: the writer inserts */
  pthread_mutex_t mu;
  pthread_cond_t work, room; /* to the thread: a batch, the end; to the writer: room, failure */
  fts_batch *head, *tail;   /* handed over, not yet inserted */
  size_t queued;            /* their text bytes, and the batch being inserted */
  int done, cancel;         /* every batch handed over: commit; the build failed: stop */
  int failed;               /* err says why */
  cx_err err;
  int64_t cpu_us, idle_us, wait_us; /* the thread's CPU and idle time; the writer's wait */
  size_t left;              /* text bytes still to insert when the last batch came */
} fts_thread;

struct cx__store {
  sqlite3 *db;
  int wb_fd;                /* the temp file, for writeback(); -1 */
  int64_t nhits;            /* cx_hits rows written (a copied card may lack one) */
  char *out_path, *tmp_path;
  int attached;
  int64_t ncards;
  sqlite3_stmt *stmt[S_COUNT];
  fts_batch *fill;          /* the batch the writer is filling */
  fts_thread fts;
  sqlite3_stmt *lists[L_COUNT][ROWS_PER_STMT + 1]; /* by row count, prepared on first use */
  cx__postings_acc *acc;  /* every card's term counts, for cx_postings and cx_words */
  cx__term_counter *tc;   /* for a copied card the parser thread could not count */
};

void cx__utc_now(char out[32]) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The error of connection db, to the file at path. */
static int conn_error(sqlite3 *db, const char *path, cx_err *err, const char *doing) {
  /* A full disk or a file size limit is the user's to fix, not a database
   * problem: CX_EIO, which also keeps cx_index_build from retrying in full
   * (more space, same end). SQLite says only "disk I/O error" for the limit
   * (EFBIG) and for a quota (EDQUOT): the system's reason is added. */
  int code = sqlite3_errcode(db), sys = sqlite3_system_errno(db);
  /* After a failed COMMIT's rollback errno is gone; the file keeps its own. */
  if (code == SQLITE_IOERR && sys == 0)
    sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &sys);
  int ioerr = code == SQLITE_IOERR && sys != 0;
  const char *hint = code == SQLITE_FULL || (ioerr && (sys == ENOSPC || sys == EDQUOT))
                         ? "; free some disk space and build again"
                     : ioerr && sys == EFBIG
                         ? "; the file size limit was reached (ulimit -f, or the file system's)"
                         : NULL;
  return cx_err_set(err, hint ? CX_EIO : CX_ESQLITE, NULL, "%s: %s: %s%s%s%s%s", path, doing,
                    sqlite3_errmsg(db), ioerr ? " (" : "", ioerr ? strerror(sys) : "",
                    ioerr ? ")" : "", hint ? hint : "");
}

static int db_error(cx__store *st, cx_err *err, const char *doing) {
  return conn_error(st->db, st->tmp_path, err, doing);
}

/* "file:" URI of a path, so that ATTACH can open it read-only. */
static char *path_uri(const char *path, const char *query) {
  cx__buf b;
  cx__buf_init(&b);
  cx__buf_puts(&b, path[0] == '/' ? "file://" : "file:");
  for (const char *p = path; *p; p++) {
    if (*p == '%' || *p == '?' || *p == '#') cx__buf_printf(&b, "%%%02X", (unsigned char)*p);
    else cx__buf_putc(&b, *p);
  }
  if (query) {
    cx__buf_putc(&b, '?');
    cx__buf_puts(&b, query);
  }
  return cx__buf_detach(&b);
}

/* Splits out_path into its directory ("." when none) and base name. */
static void split_path(const char *path, char **dir, const char **base) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) {
    *dir = cx_xstrdup(".");
    *base = path;
  } else {
    *dir = slash == path ? cx_xstrdup("/") : cx_xstrndup(path, (size_t)(slash - path));
    *base = slash + 1;
  }
}

/* Removes "<base>.tmp-<pid>[.<seq>][-fts][-journal]" files (temp files, FTS scratch
 * databases, their journals) whose build process no longer exists: a build
 * killed with -9 leaves its temp files behind, and only a later build can notice. A live pid's file is left alone, even if that pid was
 * reused by an unrelated process: cleaning it later is harmless. */
static void remove_stale_temps(const char *out_path) {
  char *dir;
  const char *base;
  split_path(out_path, &dir, &base);
  size_t blen = strlen(base);
  DIR *d = opendir(dir);
  if (d == NULL) {
    free(dir);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp-", 5) != 0) continue;
    const char *p = n + blen + 5;
    char *end;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (end == p || errno != 0 || pid <= 0) continue;
    if (*end == '.') {
      const char *q = end + 1;
      while (*q >= '0' && *q <= '9') q++;
      if (q == end + 1) continue;
      end = (char *)q;
    }
    if (strncmp(end, "-fts", 4) == 0) end += 4;
    if (*end != '\0' && strcmp(end, "-journal") != 0) continue;
    if ((pid_t)pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    cx__buf full;
    cx__buf_init(&full);
    cx__buf_printf(&full, "%s/%s", dir, n);
    unlink(full.p);
    cx__buf_destroy(&full);
  }
  closedir(d);
  free(dir);
}

int cx__store_open(const char *out_path, const char *old_path, cx__store **out, cx_err *err) {
  *out = NULL;
  remove_stale_temps(out_path);
  cx__store *st = cx_xcalloc(1, sizeof *st);
  st->out_path = cx_xstrdup(out_path);
  cx__buf tmp;
  cx__buf_init(&tmp);
  /* The sequence number keeps two builds of one process (a daemon
   * reloading twice) apart. */
  static atomic_uint seq;
  cx__buf_printf(&tmp, "%s.tmp-%ld.%u", out_path, (long)getpid(), atomic_fetch_add(&seq, 1));
  st->tmp_path = cx__buf_detach(&tmp);
  cx__buf_init(&tmp);
  cx__buf_printf(&tmp, "%s-fts", st->tmp_path);
  st->fts.path = cx__buf_detach(&tmp);
  pthread_mutex_init(&st->fts.mu, NULL);
  pthread_cond_init(&st->fts.work, NULL);
  pthread_cond_init(&st->fts.room, NULL);
  st->acc = cx__postings_acc_new();
  st->wb_fd = -1;

  char *uri = path_uri(st->tmp_path, NULL);
  int rc = sqlite3_open_v2(uri, &st->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
                               SQLITE_OPEN_NOMUTEX, NULL);
  free(uri);
  if (rc != SQLITE_OK) {
    int code = cx_err_set(err, CX_EIO, NULL, "%s: cannot create the index: %s (is the "
                          "directory writable?)", st->tmp_path,
                          st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
    cx__store_abort(st);
    return code;
  }
  /* The builder writes FTS5's shadow tables itself (fts_content, fts_copy),
   * which a connection in defensive mode refuses: off, whatever the default. */
  sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 0, (int *)NULL);
  /* A crash leaves garbage only in the temp file (CX__BUILD_PRAGMAS). */
  char *msg = NULL;
  /* The writer's page cache is smaller than the pragmas' 16 MiB: what is
   * dirty at the end is written by its commit, after every other thread is
   * done, and its tables are appended in order (the FTS connection, which
   * merges segments, keeps 16 MiB). 10k cards: 0.04 s less; 100k: no slower. */
  if (sqlite3_exec(st->db, CX__BUILD_PRAGMAS "PRAGMA cache_size=-4096;", NULL, NULL, &msg) !=
          SQLITE_OK ||
      sqlite3_exec(st->db, CX__SCHEMA_SQL, NULL, NULL, &msg) != SQLITE_OK) {
    int code = cx_err_set(err, CX_ESQLITE, NULL, "%s: cannot create the schema: %s",
                          st->tmp_path, msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    cx__store_abort(st);
    return code;
  }
  if (old_path) {
    char *ouri = path_uri(old_path, "mode=ro");
    sqlite3_stmt *a = NULL;
    rc = sqlite3_prepare_v2(st->db, "ATTACH DATABASE ? AS old", -1, &a, NULL);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(a, 1, ouri, -1, SQLITE_STATIC);
      rc = sqlite3_step(a);
    }
    sqlite3_finalize(a);
    free(ouri);
    /* An unreadable old index is not an error: the build is simply full. */
    st->attached = rc == SQLITE_DONE;
  }
  if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    int code = db_error(st, err, "begin");
    cx__store_abort(st);
    return code;
  }
  if ((rc = cx__engine_tables_create(st->db, err)) != 0) {
    cx__store_abort(st);
    return rc;
  }
  for (int i = 0; i < S_COUNT; i++) {
    if (i >= C_ID && !st->attached) continue;
    if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                           NULL) != SQLITE_OK) {
      if (i >= C_ID) {
        /* The old file is SQLite but not of our shape: do not reuse it. */
        for (int j = C_ID; j < i; j++) {
          sqlite3_finalize(st->stmt[j]);
          st->stmt[j] = NULL;
        }
        st->attached = 0;
        break;
      }
      int code = db_error(st, err, "prepare");
      cx__store_abort(st);
      return code;
    }
  }
  *out = st;
  return 0;
}

int cx__store_load_old(cx__store *st, const char *fingerprint, cx__strmap *old, cx_err *err) {
  if (!st->attached) return 0;
  sqlite3_stmt *q = NULL;
  int ok = 0;
  if (sqlite3_prepare_v2(st->db,
                         "SELECT (SELECT value FROM old.meta WHERE key='schema_version'),"
                         " (SELECT value FROM old.meta WHERE key='builder_fingerprint')",
                         -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW) {
    char want[16];
    snprintf(want, sizeof want, "%d", CX_SCHEMA_VERSION);
    const char *v = (const char *)sqlite3_column_text(q, 0);
    const char *f = (const char *)sqlite3_column_text(q, 1);
    ok = v && f && strcmp(v, want) == 0 && strcmp(f, fingerprint) == 0;
  }
  sqlite3_finalize(q);
  if (!ok) return 0;
  if (sqlite3_prepare_v2(st->db, "SELECT path, hash, size, card, mtime_ns FROM old.files"
                         " WHERE card IS NOT NULL", -1, &q, NULL) != SQLITE_OK)
    return 0;
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    const char *path = (const char *)sqlite3_column_text(q, 0);
    const char *hash = (const char *)sqlite3_column_text(q, 1);
    if (path == NULL || hash == NULL || strlen(hash) != 16) continue;
    cx__old_file *of = cx_xcalloc(1, sizeof *of);
    memcpy(of->hash, hash, 17);
    of->size = sqlite3_column_int64(q, 2);
    of->card = sqlite3_column_int64(q, 3);
    of->mtime_ns = sqlite3_column_int64(q, 4);
    free(cx__strmap_put(old, path, of));
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) {
    /* Half-read: reusing part of a damaged index is not worth the doubt. */
    cx__strmap_destroy(old, free);
    cx__strmap_init(old);
  }
  (void)err;
  return 0;
}

static int old_text_equals(cx__store *st, const char *sql, const char *want) {
  sqlite3_stmt *q = NULL;
  int same = 0;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(q, 0);
    same = v && strcmp(v, want) == 0;
  }
  sqlite3_finalize(q);
  return same;
}

int cx__store_old_same_inputs(cx__store *st, const char *seeds_json, const char *syn_path,
                              const cx__synonyms *syn) {
  if (!st->attached) return 0;
  if (!old_text_equals(st, "SELECT value FROM old.meta WHERE key = 'seeds'", seeds_json) ||
      !old_text_equals(st, "SELECT value FROM old.meta WHERE key = 'synonyms'",
                       syn_path ? syn_path : "") ||
      !old_text_equals(st, "SELECT count(*) FROM old.files WHERE card IS NULL", "0"))
    return 0;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, "SELECT grp, term FROM old.synonyms ORDER BY rowid", -1, &q,
                         NULL) != SQLITE_OK)
    return 0;
  int same = 1;
  for (size_t g = 0; g < syn->n && same; g++)
    for (size_t i = 0; i < syn->groups[g].n && same; i++) {
      const char *t;
      same = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) == (int64_t)g + 1 &&
             (t = (const char *)sqlite3_column_text(q, 1)) && strcmp(t, syn->groups[g].v[i]) == 0;
    }
  if (same) same = sqlite3_step(q) == SQLITE_DONE;
  sqlite3_finalize(q);
  return same;
}

static int dangling(cx__store *st, const char *schema, cx_diags *diags, cx_err *err);

int cx__store_old_warnings(cx__store *st, cx_diags *diags, cx_err *err) {
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, "SELECT c.path, w.line, w.col, w.message FROM"
                         " old.card_warnings w JOIN old.cards c ON c.rowid = w.card"
                         " ORDER BY w.card, w.ord", -1, &q, NULL) != SQLITE_OK)
    return db_error(st, err, "reading the old index");
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW)
    cx_diags_add(diags, CX_DIAG_WARNING, (const char *)sqlite3_column_text(q, 0),
                 sqlite3_column_int(q, 1), sqlite3_column_int(q, 2), "%s",
                 (const char *)sqlite3_column_text(q, 3));
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) return db_error(st, err, "reading the old index");
  return dangling(st, "old", diags, err);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(s, i);
}

/* Steps an INSERT to completion and resets it. */
static int run(cx__store *st, int which, cx_err *err) {
  sqlite3_stmt *s = st->stmt[which];
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    /* sqlite3_reset keeps the error message of the failed step. */
    return cx_err_set(err, rc == SQLITE_FULL ? CX_EIO : CX_ESQLITE, NULL,
                      "%s: %s (in \"%.48s…\")%s", st->tmp_path, sqlite3_errmsg(st->db),
                      stmt_sql[which],
                      rc == SQLITE_FULL ? "; free some disk space and build again" : "");
  }
  return 0;
}

static void batch_free(fts_batch *b) {
  if (b == NULL) return;
  for (size_t i = 0; i < b->n; i++) {
    for (int c = 0; c < 4; c++) free(b->rows[i].col[c]);
    free(b->rows[i].toks.p);
  }
  free(b->rows);
  free(b);
}

/* Opens the FTS connection and creates the scratch database in it: the temp
 * file's pragmas and page size, the fts table with its hashsize, and one
 * transaction for every row. The one place that connection is made: what
 * it needs of its own (a tokenizer) is set up here. */
static int fts_open(fts_thread *ft) {
  char *uri = path_uri(ft->path, NULL);
  int rc = sqlite3_open_v2(uri, &ft->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                             SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
  free(uri);
  if (rc != SQLITE_OK)
    return cx_err_set(&ft->err, CX_EIO, NULL, "%s: cannot create the full-text index: %s (is "
                      "the directory writable?)", ft->path,
                      ft->db ? sqlite3_errmsg(ft->db) : sqlite3_errstr(rc));
  ft->replay = cx__fts_replay_install(ft->db); /* before the fts table is made */
  if (sqlite3_exec(ft->db, CX__BUILD_PRAGMAS "PRAGMA page_size=" CX__PAGE_SIZE ";"
                   "CREATE VIRTUAL TABLE fts USING fts5(" CX__FTS_ARGS ", content='');"
                   CX__FTS_HASHSIZE_SQL "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return conn_error(ft->db, ft->path, &ft->err, "creating the full-text index");
  if (sqlite3_prepare_v3(ft->db, "INSERT INTO fts(rowid, question, tags, answer, sources)"
                         " VALUES(?,?,?,?,?)", -1, SQLITE_PREPARE_PERSISTENT, &ft->ins,
                         NULL) != SQLITE_OK)
    return conn_error(ft->db, ft->path, &ft->err, "prepare");
  return 0;
}

static int fts_insert(fts_thread *ft, const fts_batch *b) {
  sqlite3_stmt *s = ft->ins;
  for (size_t i = 0; i < b->n; i++) {
    const fts_row *r = &b->rows[i];
    sqlite3_bind_int64(s, 1, r->rowid);
    for (int c = 0; c < 4; c++)
      sqlite3_bind_text(s, 2 + c, r->col[c], (int)r->len[c], SQLITE_STATIC);
    cx__fts_replay_arm(ft->replay, (const char *const *)r->col, r->len, &r->toks);
    int rc = sqlite3_step(s);
    cx__fts_replay_disarm(ft->replay);
    if (rc != SQLITE_DONE) {
      rc = conn_error(ft->db, ft->path, &ft->err, "inserting the full-text rows");
      sqlite3_reset(s);
      return rc;
    }
    sqlite3_reset(s);
  }
  return 0;
}

/* Commits the scratch database (no sync: it is copied, then removed) when
 * commit is set, and closes it. */
static int fts_close(fts_thread *ft, int commit) {
  int rc = 0;
  sqlite3_finalize(ft->ins);
  ft->ins = NULL;
  if (commit && sqlite3_exec(ft->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    rc = conn_error(ft->db, ft->path, &ft->err, "commit");
  sqlite3_close(ft->db); /* frees the replay tokenizer too */
  ft->db = NULL;
  ft->replay = NULL;
  return rc;
}

static void *fts_main(void *arg) {
  fts_thread *ft = arg;
  int64_t cpu0 = cx__thread_cpu_us();
  int rc = fts_open(ft);
  pthread_mutex_lock(&ft->mu);
  if (rc) ft->failed = 1;
  for (;;) {
    int64_t t0 = cx__now_us();
    while (ft->head == NULL && !ft->done && !ft->cancel) pthread_cond_wait(&ft->work, &ft->mu);
    ft->idle_us += cx__now_us() - t0;
    if (ft->cancel || ft->head == NULL) break;
    fts_batch *b = ft->head;
    ft->head = b->next;
    if (ft->head == NULL) ft->tail = NULL;
    int failed = ft->failed;
    pthread_mutex_unlock(&ft->mu);
    /* After a failure the batches are only freed, until the writer notices. */
    if (!failed) rc = fts_insert(ft, b);
    size_t bytes = b->bytes;
    batch_free(b);
    pthread_mutex_lock(&ft->mu);
    if (rc) ft->failed = 1;
    ft->queued -= bytes;
    pthread_cond_signal(&ft->room);
  }
  int commit = !ft->failed && !ft->cancel;
  pthread_mutex_unlock(&ft->mu);
  if (ft->db) rc = fts_close(ft, commit);
  pthread_mutex_lock(&ft->mu);
  if (rc) ft->failed = 1;
  ft->cpu_us = cx__thread_cpu_us() - cpu0;
  pthread_mutex_unlock(&ft->mu);
  return NULL;
}

/* Copies the FTS thread's error into err and returns its code. */
static int fts_failure(fts_thread *ft, cx_err *err) {
  if (err) *err = ft->err;
  return ft->err.code ? ft->err.code : CX_ESQLITE;
}

/* Hands the batch being filled over to the FTS thread (started on first
 * use), waiting while the thread is FTS_QUEUE_BYTES behind; last: it is the
 * last one, the thread commits after it. Without a thread the writer inserts
 * the batch itself. Returns 0 or the FTS thread's error. */
/* Starts writing the temp file's dirty pages to disk, without waiting: the
 * kernel would otherwise keep them until the final fsync (its background
 * writeback starts at 10% of memory dirty), which then waited for the whole
 * file at the end of the build, with nothing else left to do: 0.8 s of a
 * 100k-card build. Called at every FTS batch and after the rows' commit. */
static void writeback(cx__store *st) {
#ifdef SYNC_FILE_RANGE_WRITE
  if (st->wb_fd < 0) st->wb_fd = open(st->tmp_path, O_RDONLY | O_CLOEXEC);
  if (st->wb_fd >= 0) sync_file_range(st->wb_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
  (void)st;
#endif
}

static int fts_hand_over(cx__store *st, int last, cx_err *err) {
  writeback(st);
  fts_thread *ft = &st->fts;
  fts_batch *b = st->fill;
  st->fill = NULL;
  if (!ft->running && !ft->inline_) {
    if (pthread_create(&ft->thread, NULL, fts_main, ft) == 0) {
      ft->running = 1;
    } else {
      ft->inline_ = 1;
      if (fts_open(ft) != 0) ft->failed = 1;
    }
  }
  if (ft->inline_) {
    int rc = ft->failed ? ft->err.code : b ? fts_insert(ft, b) : 0;
    batch_free(b);
    if (rc == 0 && last) rc = fts_close(ft, 1);
    if (rc) {
      ft->failed = 1;
      return fts_failure(ft, err);
    }
    return 0;
  }
  pthread_mutex_lock(&ft->mu);
  int64_t t0 = cx__now_us();
  while (!ft->failed && ft->queued > 0 && ft->queued + (b ? b->bytes : 0) > FTS_QUEUE_BYTES)
    pthread_cond_wait(&ft->room, &ft->mu);
  ft->wait_us += cx__now_us() - t0;
  int failed = ft->failed;
  if (!failed) {
    if (b) {
      if (ft->tail) ft->tail->next = b;
      else ft->head = b;
      ft->tail = b;
      ft->queued += b->bytes;
      b = NULL;
    }
    if (last) {
      ft->done = 1;
      ft->left = ft->queued;
    }
    pthread_cond_signal(&ft->work);
  }
  pthread_mutex_unlock(&ft->mu);
  batch_free(b);
  return failed ? fts_failure(ft, err) : 0;
}

/* Waits for the FTS thread to end: after its last batch and its commit, or,
 * with cancel, after the batch it is inserting. Frees what it left. */
static void fts_join(fts_thread *ft, int cancel) {
  if (!ft->running) return;
  pthread_mutex_lock(&ft->mu);
  if (cancel) ft->cancel = 1;
  else ft->done = 1;
  pthread_cond_signal(&ft->work);
  pthread_mutex_unlock(&ft->mu);
  pthread_join(ft->thread, NULL);
  ft->running = 0;
  while (ft->head) {
    fts_batch *b = ft->head;
    ft->head = b->next;
    batch_free(b);
  }
  ft->tail = NULL;
}

/* Copies FTS5's shadow tables but fts_content (the writer's) from the
 * scratch database into the temp file, then removes the scratch database.
 * A contentless table's index, sizes and settings are those of a table with
 * content: only the CREATE arguments differ. INSERT INTO t SELECT * FROM u,
 * with t empty and of u's shape, is SQLite's transfer optimization: each
 * record is copied as it is, not decoded and encoded again (EXPLAIN shows
 * RowData and Insert, no Column). The main connection has not opened fts
 * before (FTS5 caches an index's structure per connection), so what it
 * reads after, the post-build's phrase queries, is the copy. */
static int fts_copy(cx__store *st, cx_err *err) {
  fts_thread *ft = &st->fts;
  /* Outside a transaction (cx__store_commit has committed the rows so far):
   * ATTACH and DETACH cannot run inside one. */
  char *uri = path_uri(ft->path, "mode=ro");
  sqlite3_stmt *a = NULL;
  int rc = sqlite3_prepare_v2(st->db, "ATTACH DATABASE ? AS fts_scratch", -1, &a, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(a, 1, uri, -1, SQLITE_STATIC);
    rc = sqlite3_step(a);
  }
  sqlite3_finalize(a);
  free(uri);
  if (rc != SQLITE_DONE)
    return cx_err_set(err, CX_EIO, NULL, "%s: cannot read the full-text index: %s", ft->path,
                      sqlite3_errmsg(st->db));
  static const char *const shadow[] = {"fts_data", "fts_idx", "fts_docsize", "fts_config"};
  cx__buf sql;
  cx__buf_init(&sql);
  cx__buf_puts(&sql, "BEGIN;");
  for (size_t i = 0; i < sizeof shadow / sizeof *shadow; i++)
    cx__buf_printf(&sql, "DELETE FROM main.%s; INSERT INTO main.%s SELECT * FROM fts_scratch.%s;",
                   shadow[i], shadow[i], shadow[i]);
  cx__buf_puts(&sql, "COMMIT;");
  rc = sqlite3_exec(st->db, sql.p, NULL, NULL, NULL) == SQLITE_OK ? 0
           : db_error(st, err, "copying the full-text index");
  cx__buf_destroy(&sql);
  if (rc) return rc;
  sqlite3_exec(st->db, "DETACH DATABASE fts_scratch", NULL, NULL, NULL);
  unlink(ft->path);
  if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return db_error(st, err, "begin");
  return 0;
}

/* Takes the four column texts (malloc'd), of lengths len, and their tokens. */
static int batch_add(cx__store *st, int64_t rowid, char *col[4], const size_t len[4],
                     const cx__fts_toks *toks, cx_err *err) {
  fts_batch *b = st->fill;
  if (b == NULL) b = st->fill = cx_xcalloc(1, sizeof *b);
  if (b->n == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 256;
    b->rows = cx_xrealloc(b->rows, b->cap * sizeof *b->rows);
  }
  fts_row *r = &b->rows[b->n++];
  r->rowid = rowid;
  for (int c = 0; c < 4; c++) {
    r->col[c] = col[c];
    r->len[c] = len[c];
    b->bytes += len[c];
  }
  r->toks = *toks;
  return b->bytes >= FTS_BATCH_BYTES ? fts_hand_over(st, 0, err) : 0;
}

static int insert_file(cx__store *st, const cx__item *it, int64_t card, cx_err *err) {
  sqlite3_stmt *s = st->stmt[S_FILE];
  bind_text(s, 1, it->file->path);
  bind_text(s, 2, it->hash);
  sqlite3_bind_int64(s, 3, it->size);
  sqlite3_bind_int64(s, 4, it->mtime_ns);
  if (card > 0) sqlite3_bind_int64(s, 5, card);
  else sqlite3_bind_null(s, 5);
  return run(st, S_FILE, err);
}

int cx__store_file(cx__store *st, const cx__item *it, cx_err *err) {
  return insert_file(st, it, 0, err);
}

/* The card's FTS row and term counts, as the next rowid. The item is cleared
 * after this: its column texts are taken, not copied. */
static int add_doc(cx__store *st, cx__item *it, int64_t row, cx_err *err) {
  cx__fts_doc *doc = &it->doc;
  size_t len[4] = {doc->question.n, doc->tags.n, doc->answer.n, doc->sources.n};
  char *col[4] = {cx__buf_detach(&doc->question), cx__buf_detach(&doc->tags),
                  cx__buf_detach(&doc->answer), cx__buf_detach(&doc->sources)};
  for (int c = 0; c < 4; c++)
    if (col[c] == NULL) col[c] = cx_xstrdup("");
  if (!it->has_terms) {
    if (st->tc == NULL && (st->tc = cx__term_counter_new(err)) == NULL) {
      for (int c = 0; c < 4; c++) free(col[c]);
      return CX_ESQLITE;
    }
    cx__term_counter_count(st->tc, (const char *const *)col, len, &it->terms);
    it->has_terms = 1;
  }
  cx__postings_acc_add(st->acc, row, &it->terms);
  st->ncards = row;
  sqlite3_stmt *s = st->stmt[S_FTS_CONTENT];
  sqlite3_bind_int64(s, 1, row);
  for (int c = 0; c < 4; c++) sqlite3_bind_text(s, 2 + c, col[c], (int)len[c], SQLITE_STATIC);
  int rc = run(st, S_FTS_CONTENT, err);
  if (rc) {
    for (int c = 0; c < 4; c++) free(col[c]);
    return rc;
  }
  cx__fts_toks toks;
  cx__doc_terms_take_tokens(&it->terms, &toks);
  return batch_add(st, row, col, len, &toks, err);
}

/* ---- a card's list rows, a multi-row INSERT per table ----
 * One statement per table and card instead of one per row (a card has ~20
 * rows): the per-statement cost was most of the writer's time outside FTS5. */

/* The text of column col (0-based after card and ord) of a card's row i. */
typedef const char *(*row_field_fn)(const cx_card *c, size_t i, int col);

static const char *pack_field(const cx_card *c, size_t i, int col) { return c->packs.v[i]; }
static const char *tag_field(const cx_card *c, size_t i, int col) {
  return c->capability_tags.v[i];
}
/* primary then overlap ids, one ord sequence */
static const char *clause_field(const cx_card *c, size_t i, int col) {
  int primary = i < c->primary_ids.n;
  if (col == 0) return primary ? "primary" : "overlap";
  return primary ? c->primary_ids.v[i] : c->overlap_ids.v[i - c->primary_ids.n];
}
static const char *source_field(const cx_card *c, size_t i, int col) {
  return col == 0 ? c->sources[i].title : col == 1 ? c->sources[i].id : c->sources[i].locator;
}
static const char *action_field(const cx_card *c, size_t i, int col) {
  return col == 0 ? c->actions[i].type : col == 1 ? c->actions[i].target : c->actions[i].label;
}
static const char *link_field(const cx_card *c, size_t i, int col) { return c->links.v[i]; }
static const char *section_field(const cx_card *c, size_t i, int col) {
  const char *v = col == 0 ? c->sections[i].name : col == 1 ? c->sections[i].markdown
                                                             : c->sections[i].text;
  return v ? v : "";
}

static const struct {
  const char *head; /* up to VALUES */
  int ntext;        /* text columns after card and ord */
} lists[L_COUNT] = {
    [L_PACK] = {"INSERT OR FAIL INTO packs(card, ord, pack) VALUES", 1},
    [L_TAG] = {"INSERT OR FAIL INTO tags(card, ord, tag) VALUES", 1},
    [L_CLAUSE] = {"INSERT OR FAIL INTO clause_ids(card, ord, kind, clause) VALUES", 2},
    [L_SOURCE] = {"INSERT OR FAIL INTO sources(card, ord, title, sid, locator) VALUES", 3},
    [L_ACTION] = {"INSERT OR FAIL INTO actions(card, ord, type, target, label) VALUES", 3},
    [L_LINK] = {"INSERT OR FAIL INTO links(card, ord, target) VALUES", 1},
    [L_SECTION] = {"INSERT OR FAIL INTO sections(card, ord, name, markdown, text) VALUES", 3},
};

static sqlite3_stmt *list_stmt(cx__store *st, int list, size_t n, cx_err *err) {
  if (st->lists[list][n]) return st->lists[list][n];
  cx__buf sql;
  cx__buf_init(&sql);
  cx__buf_puts(&sql, lists[list].head);
  for (size_t i = 0; i < n; i++) {
    cx__buf_puts(&sql, i ? ",(?,?" : "(?,?");
    for (int c = 0; c < lists[list].ntext; c++) cx__buf_puts(&sql, ",?");
    cx__buf_putc(&sql, ')');
  }
  if (sqlite3_prepare_v3(st->db, sql.p, -1, SQLITE_PREPARE_PERSISTENT, &st->lists[list][n],
                         NULL) != SQLITE_OK) {
    db_error(st, err, "prepare");
    st->lists[list][n] = NULL;
  }
  cx__buf_destroy(&sql);
  return st->lists[list][n];
}

static int insert_list(cx__store *st, int list, int64_t card, const cx_card *c, size_t n,
                       row_field_fn field, cx_err *err) {
  int w = 2 + lists[list].ntext;
  for (size_t i = 0; i < n;) {
    size_t m = n - i < ROWS_PER_STMT ? n - i : ROWS_PER_STMT;
    sqlite3_stmt *s = list_stmt(st, list, m, err);
    if (s == NULL) return err && err->code ? err->code : CX_ESQLITE;
    for (size_t k = 0; k < m; k++, i++) {
      int p = (int)k * w;
      sqlite3_bind_int64(s, p + 1, card);
      sqlite3_bind_int64(s, p + 2, (int64_t)i);
      for (int col = 0; col < lists[list].ntext; col++) bind_text(s, p + 3 + col, field(c, i, col));
    }
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return db_error(st, err, "inserting a card's rows");
  }
  return 0;
}

int cx__store_card(cx__store *st, cx__item *it, cx_err *err) {
  const cx_card *c = it->card;
  int64_t row = st->ncards + 1;
  int rc = insert_file(st, it, row, err);
  if (rc) return rc;

  sqlite3_stmt *s = st->stmt[S_CARD];
  sqlite3_bind_int64(s, 1, row);
  bind_text(s, 2, c->id);
  if (c->number >= 0) sqlite3_bind_int(s, 3, c->number);
  else sqlite3_bind_null(s, 3);
  bind_text(s, 4, it->file->path);
  bind_text(s, 5, it->hash);
  bind_text(s, 6, c->query);
  bind_text(s, 7, c->title);
  bind_text(s, 8, c->output_mode);
  if (c->graph_required >= 0) sqlite3_bind_int(s, 9, c->graph_required);
  else sqlite3_bind_null(s, 9);
  bind_text(s, 10, c->notes);
  bind_text(s, 11, it->json);
  if ((rc = run(st, S_CARD, err))) return rc;

  if ((rc = insert_list(st, L_PACK, row, c, c->packs.n, pack_field, err)) ||
      (rc = insert_list(st, L_TAG, row, c, c->capability_tags.n, tag_field, err)) ||
      (rc = insert_list(st, L_CLAUSE, row, c, c->primary_ids.n + c->overlap_ids.n, clause_field,
                        err)) ||
      (rc = insert_list(st, L_SOURCE, row, c, c->nsources, source_field, err)) ||
      (rc = insert_list(st, L_ACTION, row, c, c->nactions, action_field, err)) ||
      (rc = insert_list(st, L_LINK, row, c, c->links.n, link_field, err)) ||
      (rc = insert_list(st, L_SECTION, row, c, c->nsections, section_field, err)))
    return rc;
  /* The query engine's hit row, computed by the parser thread: cheaper
   * than the post-build step reading every card's JSON back. */
  s = st->stmt[S_HIT];
  sqlite3_bind_int64(s, 1, row);
  bind_text(s, 2, it->hit ? it->hit : "{}");
  bind_text(s, 3, it->plain);
  bind_text(s, 4, it->others);
  if ((rc = run(st, S_HIT, err))) return rc;
  st->nhits++;

  s = st->stmt[S_WARNING];
  int64_t ord = 0;
  for (size_t i = 0; i < it->diags.n; i++) {
    const cx_diag *d = &it->diags.v[i];
    if (d->severity != CX_DIAG_WARNING) continue;
    sqlite3_bind_int64(s, 1, row);
    sqlite3_bind_int64(s, 2, ord++);
    sqlite3_bind_int(s, 3, d->line);
    sqlite3_bind_int(s, 4, d->col);
    bind_text(s, 5, d->message);
    if ((rc = run(st, S_WARNING, err))) return rc;
  }

  return add_doc(st, it, row, err);
}

char *cx__store_old_id(cx__store *st, int64_t old_rowid, cx_err *err) {
  sqlite3_stmt *s = st->stmt[C_ID];
  if (s == NULL) return NULL;
  sqlite3_bind_int64(s, 1, old_rowid);
  char *id = NULL;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_text(s, 0))
    id = cx_xstrdup((const char *)sqlite3_column_text(s, 0));
  else if (rc != SQLITE_DONE)
    db_error(st, err, "reading the old index");
  sqlite3_reset(s);
  return id;
}

int cx__store_copy(cx__store *st, cx__item *it, cx_diags *diags, cx_err *err) {
  int64_t row = st->ncards + 1;
  int rc = insert_file(st, it, row, err);
  if (rc) return rc;
  static const int copies[] = {C_CARD, C_PACK,   C_TAG,     C_CLAUSE, C_SOURCE,
                               C_ACTION, C_LINK, C_SECTION, C_HIT, C_WARNING};
  for (size_t i = 0; i < sizeof copies / sizeof *copies; i++) {
    sqlite3_stmt *s = st->stmt[copies[i]];
    sqlite3_bind_int64(s, 1, row);
    sqlite3_bind_int64(s, 2, it->old_rowid);
    if ((rc = run(st, copies[i], err))) return rc;
    /* A card missing from a valid-looking old index: refuse to write an
     * index that differs from a full build. */
    if (copies[i] == C_HIT && sqlite3_changes(st->db) == 1) st->nhits++;
    if (copies[i] == C_CARD && sqlite3_changes(st->db) != 1)
      return cx_err_set(err, CX_ECORRUPT, NULL, "%s: card %lld of the old index is missing;"
                        " rebuild with --full", st->out_path, (long long)it->old_rowid);
  }
  sqlite3_stmt *s;
  if (!it->has_doc) {
    /* The parser thread could not read the old texts: read them here. */
    if (it->has_terms) cx__doc_terms_destroy(&it->terms);
    it->has_terms = 0;
    s = st->stmt[C_FTS];
    sqlite3_bind_int64(s, 1, it->old_rowid);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
      sqlite3_reset(s);
      if (rc != SQLITE_DONE) return db_error(st, err, "reading the old index");
      return cx_err_set(err, CX_ECORRUPT, NULL, "%s: card %lld of the old index has no text;"
                        " rebuild with --full", st->out_path, (long long)it->old_rowid);
    }
    cx__buf *col[4] = {&it->doc.question, &it->doc.tags, &it->doc.answer, &it->doc.sources};
    for (int c = 0; c < 4; c++) {
      const char *t = (const char *)sqlite3_column_text(s, c);
      cx__buf_init(col[c]);
      cx__buf_puts(col[c], t ? t : "");
    }
    sqlite3_reset(s);
    it->has_doc = 1;
  }
  if ((rc = add_doc(st, it, row, err))) return rc;

  s = st->stmt[C_WARNINGS_OF];
  sqlite3_bind_int64(s, 1, it->old_rowid);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    cx_diags_add(diags, CX_DIAG_WARNING, it->file->path, sqlite3_column_int(s, 0),
                 sqlite3_column_int(s, 1), "%s", (const char *)sqlite3_column_text(s, 2));
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return db_error(st, err, "reading the old index");
  return 0;
}

int cx__store_synonyms(cx__store *st, const cx__synonyms *syn, cx_err *err) {
  sqlite3_stmt *s = st->stmt[S_SYNONYM];
  for (size_t g = 0; g < syn->n; g++)
    for (size_t i = 0; i < syn->groups[g].n; i++) {
      sqlite3_bind_int64(s, 1, (int64_t)g + 1);
      bind_text(s, 2, syn->groups[g].v[i]);
      int rc = run(st, S_SYNONYM, err);
      if (rc) return rc;
    }
  return 0;
}

int cx__store_dangling(cx__store *st, cx_diags *diags, cx_err *err) {
  return dangling(st, "main", diags, err);
}

static int dangling(cx__store *st, const char *schema, cx_diags *diags, cx_err *err) {
  sqlite3_stmt *q = NULL;
  char *sql = sqlite3_mprintf("SELECT c.path, l.target FROM %s.links l JOIN %s.cards c"
                              " ON c.rowid = l.card WHERE NOT EXISTS (SELECT 1 FROM %s.cards t"
                              " WHERE t.id = l.target) ORDER BY l.card, l.ord",
                              schema, schema, schema);
  int prc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
  sqlite3_free(sql);
  if (prc != SQLITE_OK) return db_error(st, err, "checking links");
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    const char *path = (const char *)sqlite3_column_text(q, 0);
    const char *target = (const char *)sqlite3_column_text(q, 1);
    int line, col;
    cx__locate_in_file(path, NULL, target, &line, &col);
    cx_diags_add(diags, CX_DIAG_WARNING, path, line, col,
                 "dangling link to %s: no card has this id", target);
  }
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? 0 : db_error(st, err, "checking links");
}

int cx__store_meta(cx__store *st, const char *key, const char *value, cx_err *err) {
  sqlite3_stmt *s = st->stmt[S_META];
  bind_text(s, 1, key);
  bind_text(s, 2, value);
  return run(st, S_META, err);
}

int64_t cx__store_cards(const cx__store *st) { return st->ncards; }

static int fsync_path(const char *path, int dir) {
  int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

static void finalize_all(cx__store *st) {
  for (int i = 0; i < S_COUNT; i++) {
    sqlite3_finalize(st->stmt[i]);
    st->stmt[i] = NULL;
  }
  for (int l = 0; l < L_COUNT; l++)
    for (int i = 0; i <= ROWS_PER_STMT; i++) {
      sqlite3_finalize(st->lists[l][i]);
      st->lists[l][i] = NULL;
    }
}

/* Frees the store; the files are the caller's business. */
static void store_free(cx__store *st) {
  if (st->wb_fd >= 0) close(st->wb_fd);
  batch_free(st->fill);
  cx__postings_acc_free(st->acc);
  cx__term_counter_free(st->tc);
  pthread_mutex_destroy(&st->fts.mu);
  pthread_cond_destroy(&st->fts.work);
  pthread_cond_destroy(&st->fts.room);
  free(st->fts.path);
  free(st->out_path);
  free(st->tmp_path);
  free(st);
}

int cx__store_commit(cx__store *st, cx_err *err) {
  cx__phase("links+meta");
  int rc = fts_hand_over(st, 1, err);
  /* While the FTS thread inserts what is left: the writer's rows are
   * committed (ATTACH, for the copy, cannot run inside a transaction; no
   * sync: the temp file is private until the rename). */
  finalize_all(st);
  /* The query engine's precomputed tables, from the parser threads' term
   * counts, meanwhile too: all but the phrase postings, which read the FTS
   * index (after the copy, below). */
  if (rc == 0) rc = cx__engine_post_build_from(st->db, st->acc, st->nhits == st->ncards, err);
  cx__phase("post-build");
  if (rc == 0 && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    rc = db_error(st, err, "commit");
  writeback(st);
  cx__phase("commit rows");
  if (rc == 0 && st->fts.running) {
    fts_join(&st->fts, 0);
    if (st->fts.failed) rc = fts_failure(&st->fts, err);
  }
  if (rc) {
    cx__store_abort(st);
    return rc;
  }
  cx__phase("fts wait");
  if (cx__timings())
    fprintf(stderr, "cardex-index: timing: fts thread %7.3f s cpu, %7.3f s idle, %.1f MiB left "
            "at the end; the writer waited %.3f s for room\n", (double)st->fts.cpu_us / 1e6,
            (double)st->fts.idle_us / 1e6, (double)st->fts.left / (1 << 20),
            (double)st->fts.wait_us / 1e6);
  if ((rc = fts_copy(st, err)) != 0) {
    cx__store_abort(st);
    return rc;
  }
  cx__phase("fts copy");
  /* No FTS5 'optimize': the query engine ranks from cx_postings and reads
   * FTS5 only for texts by rowid and for rare phrase and raw queries, whose
   * latency did not change without it (bench/README.md), while merging
   * every segment cost a tenth of the build (2 s at 100k cards). */
  if ((rc = cx__engine_post_build_phrases(st->db, err)) != 0) {
    cx__store_abort(st);
    return rc;
  }
  cx__phase("phrases");
  if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    rc = db_error(st, err, "commit");
    cx__store_abort(st);
    return rc;
  }
  if (st->attached) sqlite3_exec(st->db, "DETACH DATABASE old", NULL, NULL, NULL);
  if (sqlite3_close(st->db) != SQLITE_OK) {
    rc = db_error(st, err, "close");
    cx__store_abort(st);
    return rc;
  }
  st->db = NULL;
  char *dir;
  const char *base;
  split_path(st->out_path, &dir, &base);
  if (fsync_path(st->tmp_path, 0) != 0) {
    rc = cx_err_set(err, CX_EIO, NULL, "%s: fsync: %s", st->tmp_path, strerror(errno));
  } else if (rename(st->tmp_path, st->out_path) != 0) {
    rc = cx_err_set(err, CX_EIO, NULL, "cannot rename %s to %s: %s", st->tmp_path,
                    st->out_path, strerror(errno));
  } else {
    /* The rename itself must survive a power cut. */
    fsync_path(dir, 1);
  }
  free(dir);
  if (rc) {
    cx__store_abort(st);
    return rc;
  }
  cx__phase("commit+sync");
  store_free(st);
  return 0;
}

void cx__store_abort(cx__store *st) {
  if (st == NULL) return;
  fts_join(&st->fts, 1);
  if (st->fts.db) fts_close(&st->fts, 0);
  finalize_all(st);
  if (st->db) sqlite3_close(st->db);
  unlink(st->fts.path);
  unlink(st->tmp_path);
  store_free(st);
}
