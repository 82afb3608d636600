/* cardex.h — the public API of libcardex: cards, the index, the query engine.
 *
 * This header is the manual. Conventions (see ../shared/design/STYLE.md):
 *  - every public name starts with cx_ (types cx_card, cx_index …); cx__ is
 *    reserved for internals shared between the library's files (cx_internal.h);
 *  - functions return 0 or a negative CX_E… code from the table below; an
 *    optional caller-owned cx_err receives a message for people;
 *  - out of memory aborts (cx_xmalloc), so callers never check allocations;
 *  - getters return borrowed pointers; "Caller frees" is said where it applies;
 *  - every destructor accepts NULL.
 */
#ifndef CARDEX_H
#define CARDEX_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the JSON-RPC protocol spoken by cardexd (docs/protocol.md). */
#define CX_PROTOCOL_VERSION "1.0"
/* Version of the on-disk index schema; an index with another is refused. */
#define CX_SCHEMA_VERSION 2

/* ---- errors ----------------------------------------------------------- */

/* One table yields the code, its name and its message. */
#define CX_ERRNO_MAP(XX)                                                    \
  XX(IO, -1, "input/output error")                                          \
  XX(PARSE, -2, "card does not parse")                                      \
  XX(INVAL, -3, "invalid argument")                                         \
  XX(NOTFOUND, -4, "not found")                                             \
  XX(SQLITE, -5, "database error")                                          \
  XX(TOOBIG, -6, "too large")                                               \
  XX(SYNTAX, -7, "query syntax error")                                      \
  XX(TIMEOUT, -8, "time limit exceeded")                                    \
  XX(CORRUPT, -9, "index is corrupt or not a cardex index")                 \
  XX(SCHEMA, -10, "index was built by an incompatible version")             \
  XX(PARTIAL, -11, "some cards were skipped because of errors")             \
  XX(DUP, -12, "duplicate card id")                                         \
  XX(INTERRUPTED, -13, "interrupted")

enum {
#define XX(name, code, msg) CX_E##name = (code),
  CX_ERRNO_MAP(XX)
#undef XX
};

/* "CX_EPARSE" for CX_EPARSE; "unknown error" for anything else. Static. */
const char *cx_err_name(int code);
/* "card does not parse" for CX_EPARSE. Static. */
const char *cx_strerror(int code);

/* Receives details of a failure. Caller-owned, usually on the stack.
 * `field` names the offending request parameter (for JSON-RPC -32602),
 * empty when not applicable. */
typedef struct cx_err {
  int code;
  char field[64];
  char msg[1024];
} cx_err;

/* Sets *err (if err is non-NULL) and returns code. printf-style. */
int cx_err_set(cx_err *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- diagnostics (for card files) ------------------------------------- */

typedef enum { CX_DIAG_ERROR = 0, CX_DIAG_WARNING = 1 } cx_severity;

typedef struct cx_diag {
  cx_severity severity;
  char *path;   /* the file */
  int line;     /* 1-based; 0 when the message is about the whole file */
  int col;      /* 1-based; 0 when unknown */
  char *message; /* lowercase, specific: "missing required field `id`" */
} cx_diag;

/* A growable list of diagnostics. Caller-owned: cx_diags_init/destroy. */
typedef struct cx_diags {
  cx_diag *v;
  size_t n, cap;
  size_t nerrors, nwarnings;
} cx_diags;

void cx_diags_init(cx_diags *d);
void cx_diags_destroy(cx_diags *d);
void cx_diags_add(cx_diags *d, cx_severity sev, const char *path, int line,
                  int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Moves every diagnostic of src to the end of dst; src is left empty. */
void cx_diags_append(cx_diags *dst, cx_diags *src);
/* Writes "path:line:col: error: message\n" for each, in order. */
void cx_diags_print(const cx_diags *d, void *FILE_stream);

/* ---- cards ------------------------------------------------------------ */

typedef struct cx_strv {
  char **v;
  size_t n;
} cx_strv;

typedef struct cx_source {
  char *title, *id, *locator; /* any may be NULL */
} cx_source;

typedef struct cx_action {
  char *type, *target, *label; /* any may be NULL */
} cx_action;

/* A body section: "Plain-English answer", "Sources", … */
typedef struct cx_section {
  char *name;     /* the bold lead or heading text, e.g. "Plain-English answer" */
  char *markdown; /* the section's Markdown, lead excluded */
  char *text;     /* plain text for indexing and snippets */
} cx_section;

/* A header key the schema does not know; kept, shown by dump, warned by check. */
typedef struct cx_extra {
  char *key;
  char *json; /* the value as compact JSON text */
  int line, col;
} cx_extra;

typedef struct cx_card {
  char *path;
  char *id;    /* "Q077" (required) */
  char *query; /* the question (required) */
  char *title; /* "What is an …" from the heading "### 77) …"; NULL if none */
  int number;  /* 77 from that heading; -1 if none */
  cx_strv packs, primary_ids, overlap_ids, capability_tags, flags;
  cx_source *sources;
  size_t nsources;
  cx_strv cards_hint; /* ui.cards_hint */
  cx_action *actions; /* ui.actions */
  size_t nactions;
  char *output_mode; /* NULL if absent */
  int graph_required; /* -1 absent, 0 false, 1 true */
  char *notes;        /* NULL if absent */
  char *body;         /* the whole Markdown body */
  cx_section *sections;
  size_t nsections;
  cx_strv links; /* card ids referenced as "(See Q081)", in order, unique */
  cx_extra *extras;
  size_t nextras;
  char hash[17]; /* 64-bit content hash of the file, hex */
} cx_card;

typedef struct cx_parse_opts {
  size_t max_bytes; /* 0: CX_DEFAULT_MAX_CARD_BYTES */
  int max_alias_expansions; /* 0: default (1000 nodes) */
} cx_parse_opts;

#define CX_DEFAULT_MAX_CARD_BYTES (1024 * 1024)

/* Parses one card from memory. On success *out is a new card (caller frees
 * with cx_card_free) and warnings (unknown keys …) may be added to diags.
 * On failure returns CX_EPARSE (or CX_ETOOBIG) with every error found added to
 * diags as path:line:col, and *out is NULL. path is used for messages only. */
int cx_card_parse(const char *path, const char *data, size_t len,
                  const cx_parse_opts *opts, cx_card **out, cx_diags *diags);
/* Reads the file and parses it (CX_EIO with a diagnostic if unreadable). */
int cx_card_load(const char *path, const cx_parse_opts *opts, cx_card **out,
                 cx_diags *diags);
void cx_card_free(cx_card *card);
/* The card as a JSON object (every field, sections with markdown and text,
 * extras under "extra"). New reference. */
json_t *cx_card_to_json(const cx_card *card);
/* Returns the section named name (case-insensitive) or NULL. Borrowed. */
const cx_section *cx_card_section(const cx_card *card, const char *name);

/* 64-bit FNV-1a of data as 16 hex digits plus NUL into out. */
void cx_hash_hex(const void *data, size_t len, char out[17]);

/* ---- building an index ------------------------------------------------ */

typedef struct cx_build_opts {
  int keep_going;      /* skip bad cards instead of failing */
  int full;            /* ignore the existing index (no incremental reuse) */
  int threads;         /* parser threads; 0: number of cores */
  int progress;        /* print a progress line on stderr (caller checks isatty) */
  cx_parse_opts parse;
  const char *synonyms_path; /* NULL: <first seeds dir>/synonyms.yaml if present */
} cx_build_opts;

typedef struct cx_build_stats {
  size_t files, cards, reused, parsed, removed, errors, warnings;
  double seconds;
} cx_build_stats;

/* Builds out_path from card files and directories (directories are walked
 * recursively for *.md, skipping README.md; files are read whatever their
 * extension). Writes a temp file beside out_path and renames it over
 * out_path only on success, so a failure or a kill leaves the old index.
 * Reuses unchanged cards of an existing out_path unless opts->full.
 * Returns 0, CX_EPARSE (strict mode, nothing written), CX_EPARTIAL
 * (keep_going and some cards skipped; index written), or another error. */
int cx_index_build(const char *const *paths, size_t npaths, const char *out_path,
                   const cx_build_opts *opts, cx_build_stats *stats,
                   cx_diags *diags, cx_err *err);

/* Parses every card and checks the set (duplicate ids, dangling links,
 * unknown keys as warnings) without writing anything. */
int cx_check(const char *const *paths, size_t npaths, const cx_build_opts *opts,
             cx_build_stats *stats, cx_diags *diags, cx_err *err);

/* ---- querying an index ------------------------------------------------ */

/* A read-only handle on one index file: one SQLite connection plus caches.
 * Not thread-safe: use one cx_index per thread (they can share nothing). */
typedef struct cx_index cx_index;

/* Opens and validates (schema version, integrity of the meta table).
 * CX_ECORRUPT / CX_ESCHEMA / CX_EIO with a message naming the file. */
int cx_index_open(const char *path, cx_index **out, cx_err *err);
void cx_index_close(cx_index *ix);

/* Bounds the wall-clock time of each following query (0: none). A query that
 * exceeds it fails with CX_ETIMEOUT. */
void cx_index_set_time_limit(cx_index *ix, int64_t microseconds);

/* A search request. Strings are borrowed for the duration of the call. */
typedef struct cx_search_req {
  const char *query;
  int limit;  /* 1..CX_MAX_LIMIT; default 10 */
  int offset; /* >= 0 */
  const char *const *packs; size_t npacks; /* any of (OR); none: no filter */
  const char *const *tags; size_t ntags;   /* any of capability_tags */
  const char *id_prefix;                   /* e.g. "Q0"; NULL: none */
  const char *hl_open, *hl_close;          /* default "**" and "**" */
  int explain;                             /* add "explain" to each hit */
  int raw;                                 /* query is FTS5-like syntax */
} cx_search_req;

#define CX_MAX_LIMIT 100

/* Fills req from JSON-RPC params (an object). Validates every field and
 * rejects unknown ones; on error returns CX_EINVAL with err->field set.
 * Strings in req borrow from params; the pointer arrays are allocated and
 * released with cx_search_req_destroy. */
int cx_search_req_from_json(json_t *params, cx_search_req *req, cx_err *err);
void cx_search_req_destroy(cx_search_req *req);

/* Each of these returns 0 and *result (a new reference) shaped as the
 * method's result in docs/protocol.md, or a negative code with err filled. */
int cx_search(cx_index *ix, const cx_search_req *req, json_t **result, cx_err *err);
int cx_answer(cx_index *ix, const cx_search_req *req, json_t **result, cx_err *err);
int cx_get(cx_index *ix, const char *id, json_t **result, cx_err *err);
int cx_suggest(cx_index *ix, const char *prefix, int limit, json_t **result, cx_err *err);
int cx_related(cx_index *ix, const char *id, int limit, json_t **result, cx_err *err);
/* {"path","cards","packs":{name:count},"built_at","schema_version"} */
int cx_index_info(cx_index *ix, json_t **result, cx_err *err);

/* ---- memory ----------------------------------------------------------- */

/* Allocation that aborts with a message on failure. */
void *cx_xmalloc(size_t n);
void *cx_xcalloc(size_t n, size_t size);
void *cx_xrealloc(void *p, size_t n);
char *cx_xstrdup(const char *s);
char *cx_xstrndup(const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* CARDEX_H */
