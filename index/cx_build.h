/* cx_build.h — internals of the index builder (walk.c, store.c, check.c, build.c). */
#ifndef CX_BUILD_H
#define CX_BUILD_H

#include "cx_internal.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- finding card files (walk.c) ---- */

typedef struct cx__file {
  char *path; /* as given or joined from a given directory: "seeds/Q077.md" */
  int64_t size, mtime_ns; /* -1 when the walk did not stat the file */
} cx__file;

typedef struct cx__files {
  cx__file *v;
  size_t n, cap;
} cx__files;

/* Expands paths (files taken as they are, directories walked recursively for
 * *.md except README.md and hidden entries, in byte order) into files. A file
 * reached twice (same device and inode, e.g. through a symlink) is listed
 * once; directory symlink loops are not followed. A path that does not exist
 * is an error diagnostic; the others are still walked. Without stat_files,
 * the regular files found in directories are listed with size and mtime -1
 * (for a reader to learn), which saves a stat per file. */
void cx__walk(const char *const *paths, size_t npaths, int stat_files, cx__files *files,
              cx_diags *diags);
void cx__files_destroy(cx__files *files);

/* Reads a whole file. Returns 0, CX_EIO (diagnostic added) or CX_ETOOBIG
 * (diagnostic added, nothing read) when it is larger than max_bytes.
 * *data is NUL-terminated; caller frees. mtime_ns (may be NULL): the file's
 * modification time, from the open file. */
int cx__read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                  int64_t *mtime_ns, cx_diags *diags);
int64_t cx__mtime_ns(const struct stat *st);

/* Where needle first occurs in data, as 1-based line and column (characters);
 * when key is non-NULL, only an occurrence of needle that is the value of a
 * top-level header line "key: needle" counts. 0, 0 when not found. */
void cx__locate(const char *data, size_t len, const char *key, const char *needle,
                int *line, int *col);
/* The same, reading the file at path (0, 0 when it cannot be read). */
void cx__locate_in_file(const char *path, const char *key, const char *needle,
                        int *line, int *col);

/* ---- a string-keyed hash map (build.c) ---- */

typedef struct cx__strmap_entry {
  char *key; /* owned; NULL: empty slot */
  void *value;
} cx__strmap_entry;

typedef struct cx__strmap {
  cx__strmap_entry *v;
  size_t n, cap;
} cx__strmap;

void cx__strmap_init(cx__strmap *m);
/* Calls free_value (if non-NULL) on each value. */
void cx__strmap_destroy(cx__strmap *m, void (*free_value)(void *));
/* The value for key or NULL. */
void *cx__strmap_get(const cx__strmap *m, const char *key);
/* Sets key (copied) to value; returns the previous value or NULL. */
void *cx__strmap_put(cx__strmap *m, const char *key, void *value);

/* ---- synonyms (check.c) ---- */

/* Groups of equivalent terms. */
typedef struct cx__synonyms {
  cx_strv *groups;
  size_t n;
} cx__synonyms;

/* Parses a synonyms file: a YAML sequence of groups, each a sequence of at
 * least two terms (strings). Returns 0 or CX_EPARSE/CX_EIO with path:line:col
 * diagnostics. */
int cx__synonyms_load(const char *path, cx__synonyms *syn, cx_diags *diags);
void cx__synonyms_destroy(cx__synonyms *syn);
/* The synonyms file a build uses: opts->synonyms_path, else
 * <first directory among paths>/synonyms.yaml when that file exists, else
 * NULL. *explicit is set when the user named it (so it must exist). Caller frees. */
char *cx__synonyms_path(const char *const *paths, size_t npaths, const cx_build_opts *opts,
                        int *explicit_);

/* ---- the parse pipeline (build.c) ---- */

/* What a parser thread produced for one file. */
typedef struct cx__item {
  const cx__file *file;
  int rc;             /* 0 or the error of reading/parsing (diagnostics in diags) */
  char hash[17];      /* of the file's bytes */
  int64_t size;       /* bytes read */
  int64_t mtime_ns;   /* of the file read (else the walk's, maybe -1) */
  int64_t old_rowid;  /* > 0: unchanged since the old index; not parsed */
  cx_card *card;      /* parsed card (rc == 0, old_rowid == 0) */
  char *json;         /* compact cx_card_to_json, when the pipeline makes documents */
  char *hit, *plain, *others; /* its cx_hits row, likewise */
  cx__fts_doc doc;    /* the FTS columns, when the pipeline makes documents, or
                         of an unchanged card when the pipeline counts terms */
  int has_doc;
  cx__doc_terms terms; /* of doc, when the pipeline counts terms */
  int has_terms;
  cx_diags diags;     /* this file's diagnostics */
} cx__item;

/* An unchanged card of the old index: files.hash/size/card by path. */
typedef struct cx__old_file {
  char hash[17];
  int64_t size;
  int64_t card;
  int64_t mtime_ns;
  int seen; /* set by the consumer: the path is still in the corpus */
} cx__old_file;

/* Called on the calling thread for every file, in order. Returns 0 or an
 * error that stops the pipeline. The item's resources are freed after. */
typedef int (*cx__sink_fn)(void *ctx, cx__item *item);

typedef struct cx__pipeline {
  const cx__files *files;
  const cx_build_opts *opts;
  const cx__strmap *old; /* path -> cx__old_file, or NULL: parse everything */
  int make_docs;         /* also produce json and doc */
  cx__sink_fn sink;
  void *ctx;
  const char *what; /* progress line verb: "indexing", "checking" */
  /* Also count each document's terms (cx__term_counter). Unchanged cards
   * (old) get their texts from the FTS index at old_path, and their counts. */
  int count_terms;
  const char *old_path;
} cx__pipeline;

int cx__pipeline_run(const cx__pipeline *p);

/* A fingerprint of how this build of the library turns a card into rows:
 * the parser's JSON and the FTS columns of a built-in sample card, the schema
 * and tool versions and the parse options. An old index is reused only when
 * its fingerprint is equal, so a reused row is always what a fresh parse
 * would have written. */
void cx__builder_fingerprint(const cx_parse_opts *opts, char out[17]);

/* ---- the SQLite writer (store.c) ---- */

/* The temp file is private until the rename: no journal, no syncs (the file
 * is fsynced once before the rename), one transaction. A 16 MiB page cache:
 * with 16 KiB pages a 128 MiB one made the process's RSS 730 MB at 100k
 * cards (197 MB with 4 KiB pages) and the build no faster. bench_build's
 * baseline uses the same pragmas. */
#define CX__BUILD_PRAGMAS                                                       \
  "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"                          \
  "PRAGMA locking_mode=EXCLUSIVE; PRAGMA temp_store=MEMORY;"                  \
  "PRAGMA cache_size=-16384;"

typedef struct cx__store cx__store;

/* Creates "<out>.tmp-<pid>.<seq>" beside out_path with the schema, after removing
 * temp files of builds whose process is gone, and attaches old_path
 * read-only as "old" when non-NULL. */
int cx__store_open(const char *out_path, const char *old_path, cx__store **out, cx_err *err);
/* The attached old index's reusable files (path -> cx__old_file) when it is a
 * valid index with the given fingerprint; 0 and an empty map otherwise. */
int cx__store_load_old(cx__store *st, const char *fingerprint, cx__strmap *old, cx_err *err);
/* 1 when the attached old index was built from exactly these inputs as they
 * are: no file in error, the same seeds and synonyms (path and groups).
 * The caller compares the card files. */
int cx__store_old_same_inputs(cx__store *st, const char *seeds_json, const char *syn_path,
                              const cx__synonyms *syn);
/* Re-reports what a build of the old index's inputs reports: each card's
 * stored warnings, then dangling links. */
int cx__store_old_warnings(cx__store *st, cx_diags *diags, cx_err *err);
/* Adds a files row for an item whose card is not in the index (card NULL). */
int cx__store_file(cx__store *st, const cx__item *it, cx_err *err);
/* Inserts a parsed card with every row derived from it, as the next rowid.
 * Takes the item's FTS column texts (it->doc is left empty). */
int cx__store_card(cx__store *st, cx__item *it, cx_err *err);
/* The id of a card of the old index (caller frees), or NULL. */
char *cx__store_old_id(cx__store *st, int64_t old_rowid, cx_err *err);
/* Copies an unchanged card's rows from the old index; re-emits its stored
 * warnings into diags. */
int cx__store_copy(cx__store *st, cx__item *it, cx_diags *diags, cx_err *err);
int cx__store_synonyms(cx__store *st, const cx__synonyms *syn, cx_err *err);
/* Adds a warning for every link to an id no card has. */
int cx__store_dangling(cx__store *st, cx_diags *diags, cx_err *err);
int cx__store_meta(cx__store *st, const char *key, const char *value, cx_err *err);
/* Number of cards written so far. */
int64_t cx__store_cards(const cx__store *st);
/* Commits, fsyncs and renames the temp file over out_path. The store is freed. */
int cx__store_commit(cx__store *st, cx_err *err);
/* Deletes the temp file; the old index is left as it was. Accepts NULL. */
void cx__store_abort(cx__store *st);

/* With CARDEX_BUILD_TIMINGS=1 in the environment, prints on stderr the wall
 * time and the writer thread's CPU time of each phase of a build (start with
 * name NULL). For measuring where a build's time goes (bench/README.md). */
void cx__phase(const char *name);
/* Whether this build prints its timings (CARDEX_BUILD_TIMINGS, read by cx__phase(NULL)). */
int cx__timings(void);

/* ISO 8601 UTC "2024-05-01T12:00:00Z" of now. */
void cx__utc_now(char out[32]);

#endif
