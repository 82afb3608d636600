/* cx_internal.h — internals shared between libcardex's files (cx__ prefix). */
#ifndef CX_INTERNAL_H
#define CX_INTERNAL_H

#include "cardex.h"
#include <stdarg.h>
#include <stdio.h>

/* A growable NUL-terminated byte buffer. init/destroy; detach hands the bytes over. */
typedef struct cx__buf {
  char *p;
  size_t n, cap;
} cx__buf;

void cx__buf_init(cx__buf *b);
void cx__buf_destroy(cx__buf *b);
void cx__buf_add(cx__buf *b, const char *s, size_t n);
void cx__buf_puts(cx__buf *b, const char *s);
/* Room for extra more bytes and the NUL. */
void cx__buf_reserve(cx__buf *b, size_t extra);
/* Inline: the parser and the builder put most of their output a byte at a time. */
static inline void cx__buf_putc(cx__buf *b, char c) {
  if (b->n + 2 > b->cap) cx__buf_reserve(b, 1);
  b->p[b->n++] = c;
  b->p[b->n] = '\0';
}
void cx__buf_printf(cx__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cx__buf_vprintf(cx__buf *b, const char *fmt, va_list ap);
char *cx__buf_detach(cx__buf *b); /* caller frees; b is left empty */

void cx__strv_push(cx_strv *v, const char *s);  /* copies s */
void cx__strv_free(cx_strv *v);
int cx__strv_contains(const cx_strv *v, const char *s);

/* Monotonic clock in microseconds. */
int64_t cx__now_us(void);
/* Online processors (at least 1). */
int cx__ncores(void);
/* The calling thread's CPU time in microseconds. */
int64_t cx__thread_cpu_us(void);

/* The index schema. One SQLite file; written once by the builder, then
 * read-only. The FTS5 table `fts` has one row per card (rowid = cards.rowid)
 * and four columns weighted separately by the query engine:
 *   question — the card's query and display title
 *   tags     — id, packs, capability tags, primary/overlap clause ids and
 *              their normalised identifier forms (see ident.c)
 *   answer   — plain text of every body section except Sources
 *   sources  — source titles, ids and locators, and the Sources section. */
/* 16 KiB pages: a build writes a quarter of the pages (and of their
 * overflow chains for multi-KB rows) and costs ~0.2 s less writer CPU at
 * 10k cards than with 4 KiB; query latency did not change (bench/README.md).
 * bench_build's bare-FTS5 baseline uses the same. */
#define CX__PAGE_SIZE "16384"
/* FTS5 keeps this many bytes of pending terms in memory before it writes a
 * segment (default 1 MiB): 8 MiB makes an eighth of the level-0 segments,
 * and of the merging they cause, during a build (the builder's FTS
 * connection inserts nothing else, so only this size decides where a segment
 * ends). Only a build writes. */
#define CX__FTS_HASHSIZE "8388608"
/* The fts table's tokenizer: its name, then its arguments, space-separated
 * (no quoting). The parser threads' term counter creates the same one from
 * this string, so its tokens are the index's. */
#define CX__FTS_TOKENIZER "porter unicode61 remove_diacritics 2"
#define CX__SCHEMA_SQL                                                        \
  "PRAGMA page_size=" CX__PAGE_SIZE ";"                                       \
  "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"        \
  "CREATE TABLE files(path TEXT PRIMARY KEY, hash TEXT NOT NULL,"             \
  "  size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, card INTEGER);"        \
  /* json: cx_card_to_json with "sections": null (they are in sections,      \
   * from which cx_get puts them back in place: stored once, not twice). */   \
  "CREATE TABLE cards(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"    \
  "  number INTEGER, path TEXT NOT NULL, hash TEXT NOT NULL,"                 \
  "  query TEXT NOT NULL, title TEXT, output_mode TEXT,"                      \
  "  graph_required INTEGER, notes TEXT, json TEXT NOT NULL);"                \
  /* A card's rows, clustered by card in the order of the card's lists: a    \
   * build appends them, and a card's rows are one range (cx_get, related    \
   * cards, the builder's incremental copy) without an index beside. */      \
  "CREATE TABLE packs(card INTEGER NOT NULL, ord INTEGER NOT NULL,"           \
  "  pack TEXT NOT NULL, PRIMARY KEY(card, ord)) WITHOUT ROWID;"              \
  "CREATE TABLE tags(card INTEGER NOT NULL, ord INTEGER NOT NULL,"            \
  "  tag TEXT NOT NULL, PRIMARY KEY(card, ord)) WITHOUT ROWID;"               \
  "CREATE TABLE clause_ids(card INTEGER NOT NULL, ord INTEGER NOT NULL,"      \
  "  kind TEXT NOT NULL, clause TEXT NOT NULL, PRIMARY KEY(card, ord))"       \
  "  WITHOUT ROWID;"                                                          \
  "CREATE INDEX clause_ids_clause ON clause_ids(clause);"                     \
  "CREATE TABLE sources(card INTEGER NOT NULL, ord INTEGER NOT NULL,"         \
  "  title TEXT, sid TEXT, locator TEXT, PRIMARY KEY(card, ord))"             \
  "  WITHOUT ROWID;"                                                          \
  "CREATE TABLE actions(card INTEGER NOT NULL, ord INTEGER NOT NULL,"         \
  "  type TEXT, target TEXT, label TEXT, PRIMARY KEY(card, ord))"             \
  "  WITHOUT ROWID;"                                                          \
  "CREATE TABLE links(card INTEGER NOT NULL, ord INTEGER NOT NULL,"           \
  "  target TEXT NOT NULL, PRIMARY KEY(card, ord)) WITHOUT ROWID;"            \
  "CREATE TABLE sections(card INTEGER NOT NULL, ord INTEGER NOT NULL,"        \
  "  name TEXT NOT NULL, markdown TEXT NOT NULL, text TEXT NOT NULL,"         \
  "  PRIMARY KEY(card, ord)) WITHOUT ROWID;"                                  \
  "CREATE TABLE synonyms(grp INTEGER NOT NULL, term TEXT NOT NULL);"          \
  "CREATE INDEX synonyms_term ON synonyms(term);"                             \
  /* The parser's warnings of each card, re-reported when it is reused. */   \
  "CREATE TABLE card_warnings(card INTEGER NOT NULL, ord INTEGER NOT NULL,"   \
  "  line INTEGER NOT NULL, col INTEGER NOT NULL, message TEXT NOT NULL,"     \
  "  PRIMARY KEY(card, ord)) WITHOUT ROWID;"                                  \
  CX__FTS_SQL                                                                 \
  "CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');"
/* The FTS5 table, apart: the builder fills its index on a connection of its
 * own, in a scratch database with a contentless copy of the table
 * (CX__FTS_ARGS plus content='', then CX__FTS_HASHSIZE_SQL), while the writer
 * inserts the texts into fts_content itself; at the end it copies the
 * scratch database's other shadow tables into the index (store.c). The
 * hashsize setting is stored in fts_config, so it arrives with the copy. */
#define CX__FTS_ARGS                                                          \
  "question, tags, answer, sources,"                                          \
  "  tokenize='" CX__FTS_TOKENIZER "', prefix='2 3'"
#define CX__FTS_SQL "CREATE VIRTUAL TABLE fts USING fts5(" CX__FTS_ARGS ");"
#define CX__FTS_HASHSIZE_SQL                                                  \
  "INSERT INTO fts(fts, rank) VALUES('hashsize', " CX__FTS_HASHSIZE ");"

/* cx_card_parse for a caller that has already hashed data (cx_hash_hex):
 * card->hash is copied from hash (17 bytes) instead of hashing the bytes
 * again; hash NULL hashes them. */
int cx__card_parse_hashed(const char *path, const char *data, size_t len, const char *hash,
                          const cx_parse_opts *opts, cx_card **out, cx_diags *diags);

/* The four column texts of a card's FTS5 row (fts_doc.c). The builder
 * inserts them; the query engine's identifier handling must agree with
 * cx__ident_tokens. init/destroy. */
typedef struct cx__fts_doc {
  cx__buf question, tags, answer, sources;
} cx__fts_doc;
void cx__fts_doc_build(const cx_card *card, cx__fts_doc *doc);
void cx__fts_doc_destroy(cx__fts_doc *doc);

/* Appends, space-separated, the compact tokens that make an identifier such
 * as "ISO27001:2022/A.5.15", "Q077" or "GDPR/Art.35" findable by what a
 * person types: the clause part "A.5.15" becomes "cax5x15" (a 'c', then
 * alphanumeric runs lowercased and joined by 'x'), and the pack-qualified
 * form "iso27001cax5x15". Card ids also get their unpadded number ("q77").
 * The query engine produces the same tokens from "annex a 5.15". */
void cx__ident_tokens(const char *ident, cx__buf *out);
/* The compact clause token of one clause path ("6.1.2" -> "c6x1x2"). */
void cx__clause_token(const char *clause, size_t len, cx__buf *out);
/* Appends, space-separated, the compact tokens of every identifier that
 * prose mentions ("ISO/IEC 27001", "Annex A 5.15", "Article 32"), as the
 * query engine reads them from a question; card ids are left out. */
void cx__text_idents(const char *text, cx__buf *out);

/* The query engine's precomputed tables (cx_postings: per-term block postings
 * with impacts; cx_words: words and their stems), built from the finished FTS
 * index (rank_postings.c). The builder calls it once, after the last FTS
 * insert and before commit; without it each cx_index_open of a small index
 * builds them in memory, and a large index is served by the slow plan. */
struct sqlite3;
int cx__engine_post_build(struct sqlite3 *db, cx_err *err);
/* db's FTS5 API (its tokenizers, auxiliary functions), or NULL without FTS5. */
struct fts5_api *cx__fts5_api(struct sqlite3 *db);

/* What one card adds to cx_postings and cx_words, counted by a parser thread
 * with FTS5's own tokenizer (so the tokens are exactly the FTS index's):
 * each distinct term with its frequency per column, each column's length in
 * tokens (as fts_docsize), and each distinct unstemmed word of 2 to 32 bytes
 * with the index of its stem among the terms. init/destroy. */
typedef struct cx__term_tf {
  uint32_t off, hash, len; /* term text at text.p + off, len bytes (and a NUL) */
  uint32_t tf[4];
} cx__term_tf;
typedef struct cx__word_stem {
  uint32_t off, hash, len; /* word text at text.p + off, len bytes (and a NUL) */
  uint32_t stem;           /* index in terms */
} cx__word_stem;
/* The tokens FTS5's tokenizer emitted for the four columns, in order, so that
 * the FTS thread's INSERT can replay them instead of tokenizing the texts a
 * second time (fts_replay.c). Per token: varint n << 1 | colocated, varint
 * zigzag(start - previous token's end), varint end - start, n token bytes.
 * Column c's tokens are p[c ? end[c - 1] : 0, end[c]). p NULL: not recorded. */
typedef struct cx__fts_toks {
  unsigned char *p; /* malloc'd */
  uint32_t end[4];
} cx__fts_toks;

typedef struct cx__doc_terms {
  cx__buf text; /* the terms and words, each NUL-terminated */
  cx__term_tf *terms;
  size_t nterms, capterms;
  cx__word_stem *words;
  size_t nwords, capwords;
  int len[4];
  cx__buf toks;        /* the token streams (cx__fts_toks), back to back */
  uint32_t tokend[4];
  int toks_bad;        /* a token the encoding cannot hold: nothing to replay */
} cx__doc_terms;
void cx__doc_terms_destroy(cx__doc_terms *dt);
/* Hands dt's token streams over to *out (out->p NULL when there are none);
 * the caller frees out->p. */
void cx__doc_terms_take_tokens(cx__doc_terms *dt, cx__fts_toks *out);

/* CX__FTS_TOKENIZER split into words: argv[0] the tokenizer's name, then its
 * arguments. */
typedef struct cx__tok_spec {
  char buf[64];
  const char *argv[8];
  int argc;
} cx__tok_spec;
void cx__fts_tokenizer_spec(cx__tok_spec *s);

/* A parser thread's tokenizers (one per thread: FTS5 tokenizer instances
 * are not shared) and its scratch tables. new/free. */
typedef struct cx__term_counter cx__term_counter;
cx__term_counter *cx__term_counter_new(cx_err *err);
void cx__term_counter_free(cx__term_counter *tc);
/* From now on a word goes into a card's words (cx__doc_terms) only the first
 * time this counter meets it, in any card: for a caller whose every counted
 * card reaches the same accumulator (cx__postings_acc_add), where cx_words
 * needs each word once. Not when a counted card may be dropped after (a
 * keep-going build's duplicate ids): its words would be missing. */
void cx__term_counter_words_once(cx__term_counter *tc);
/* Counts the four FTS column texts of one card into dt (initialised here).
 * len: their lengths, or NULL to measure them. */
void cx__term_counter_count(cx__term_counter *tc, const char *const col[4], const size_t len[4],
                            cx__doc_terms *dt);

/* The FTS-inserting connection's replay of the parser threads' tokens
 * (fts_replay.c). install registers, on db only, a tokenizer under the fts
 * table's tokenizer name that FTS5 finds before the built-in one (it looks
 * tokenizers up newest first); it must run before the connection first
 * touches the fts table, whose tokenizer instance is made then. It tokenizes
 * exactly as the built-in does, by calling it, except while armed: then a
 * document text equal to one of the armed row's column texts gets that
 * column's recorded tokens. The index file still names the standard
 * tokenizer. Returns NULL (nothing installed; inserts tokenize as before)
 * when FTS5 is missing or the environment sets CARDEX_TEST_NO_FTS_REPLAY (for
 * tests that compare builds with and without it). The replay belongs to db
 * and is freed when db closes. */
typedef struct cx__fts_replay cx__fts_replay;
cx__fts_replay *cx__fts_replay_install(struct sqlite3 *db);
/* Arms r (NULL: no-op) for one FTS row: its four column texts (len bytes
 * each) and their recorded tokens (toks->p NULL: nothing to replay), all
 * borrowed until disarm. Arm before stepping the INSERT, disarm after. */
void cx__fts_replay_arm(cx__fts_replay *r, const char *const col[4], const size_t len[4],
                        const cx__fts_toks *toks);
void cx__fts_replay_disarm(cx__fts_replay *r);
/* Column texts replayed so far by every replay of this process (for tests). */
uint64_t cx__fts_replay_count(void);

/* The writer's side: every card's counts, merged in memory in rowid order,
 * then written as cx_postings and cx_words by cx__engine_post_build_from
 * without reading the FTS index back. new/free. */
typedef struct cx__postings_acc cx__postings_acc;
cx__postings_acc *cx__postings_acc_new(void);
void cx__postings_acc_free(cx__postings_acc *acc);
/* Adds the card with this rowid; rowids must ascend. */
void cx__postings_acc_add(cx__postings_acc *acc, int64_t rowid, const cx__doc_terms *dt);
/* cx__engine_post_build, with cx_postings and cx_words from acc (which must
 * hold every card of the FTS index) instead of from the FTS index, and
 * without the phrase postings, which read the FTS index: the builder runs
 * this while its FTS thread finishes, then cx__engine_post_build_phrases.
 * all_hits: every card has its cx_hits row (else the missing are made). */
int cx__engine_post_build_from(struct sqlite3 *db, cx__postings_acc *acc, int all_hits,
                               cx_err *err);
int cx__engine_post_build_phrases(struct sqlite3 *db, cx_err *err);
/* For the builder, which fills cx_hits while it inserts the cards it parses
 * (cx__engine_post_build then adds the rows of the cards it copied): creates
 * the query engine's tables in main, empty, at the start of a build; and
 * computes the plain and others columns of a parsed card's cx_hits row
 * (thread-safe; the builder writes the hit JSON itself, as cx__hit_base
 * would). Caller frees both; either may be NULL (as stored). */
int cx__engine_tables_create(struct sqlite3 *db, cx_err *err);
void cx__hit_texts(const cx_card *card, char **plain, char **others);

#endif
