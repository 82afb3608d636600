/* engine_internal.h — internals of the query engine shared by engine.c, query*.c and rank.c. */
#ifndef CX_ENGINE_INTERNAL_H
#define CX_ENGINE_INTERNAL_H

#include "cx_internal.h"

#include <sqlite3.h>
#include <sys/stat.h>

/* Prepared statements of one cx_index, by slot; prepared on first use. */
enum {
  CX__ST_CARD_BY_ROWID,   /* id, query, title, json */
  CX__ST_ROWID_BY_ID,     /* rowid of an id (case-insensitive) */
  CX__ST_ANSWER_TEXT,     /* fts answer column of a rowid */
  CX__ST_POSTINGS,        /* cx_postings row of a term */
  CX__ST_SYN_GROUPS,      /* groups of a term */
  CX__ST_SYN_TERMS,       /* terms of a group */
  CX__ST_LINKS,           /* link targets of a card */
  CX__ST_CLAUSES,         /* clause ids of a card */
  CX__ST_CARDS_BY_CLAUSE, /* cards having a clause id */
  CX__ST_SECTION,         /* markdown, text of a named section */
  CX__ST_HIT,             /* cx_hits row of a rowid (engine post-build) */
  CX__ST_SECTIONS,        /* name, text of every section of a card */
  CX__ST_OTHERS,          /* cx_hits.others of a rowid */
  CX__ST_CARD_SECTIONS,   /* name, markdown, text of every section of a card (cx_get) */
  CX__ST_N
};

/* One term of the vocabulary: a porter stem as stored in the FTS index. */
typedef struct cx__vterm {
  char *term;
  uint32_t df;
  uint32_t letters; /* bit i set when letter 'a'+i occurs (typo prefilter) */
} cx__vterm;

/* Longest word kept for typos and suggestions (cx_words keeps 2..32 bytes). */
#define CX__MAX_WORD_LEN 40

/* One unstemmed word of the corpus and its stem (cx_words), for typos and suggest. */
typedef struct cx__vword {
  char *word;
  char *stem;
  uint32_t df;      /* df of the stem */
  uint32_t letters;
} cx__vword;

#define CX__MAX_TYPO_CANDIDATES 4

/* The typo candidates of one word, remembered (query_parse.c). */
typedef struct cx__typo_entry {
  char *word;
  int n;
  uint32_t cand[CX__MAX_TYPO_CANDIDATES]; /* indexes into cx_index.words */
  unsigned char dist[CX__MAX_TYPO_CANDIDATES];
} cx__typo_entry;
#define CX__TYPO_CACHE 2048

/* A synonym term as folded words and as stems, joined by one space. */
typedef struct cx__syn {
  int64_t grp;
  char *folded;
  char *stems;
  size_t nwords;
} cx__syn;
void cx__free_synonyms(cx__syn *v, size_t n);

/* A cached filter: the set of rowids having a pack or a tag. */
typedef struct cx__filter_cache {
  char *key; /* "p:ISO27001:2022" or "t:Workflow" */
  uint64_t *bits;
} cx__filter_cache;

/* A cached decoded postings list (see rank.c). */
typedef struct cx__plist cx__plist;

/* A card as hits show it, cached per handle (query_hit.c). */
typedef struct cx__hentry cx__hentry;

/* Every card id with its rowid, sorted case-insensitively (id prefixes,
 * listings in id order). */
typedef struct cx__idref {
  const char *id; /* into cx_index.id_pool */
  int64_t rowid;
} cx__idref;

/* A file's vocabulary, shared by the handles open on it (engine.c). */
typedef struct cx__vocab cx__vocab;
void cx__vocab_release(cx__vocab *v);

struct cx_index {
  sqlite3 *db;
  char *path;
  struct stat file_stat; /* the file as opened, when file_known */
  int file_known;
  sqlite3_stmt *st[CX__ST_N];
  fts5_api *fts5;
  void *porter_ud, *plain_ud;        /* tokenizer user data */
  fts5_tokenizer porter_api, plain_api;
  Fts5Tokenizer *porter, *plain;     /* porter+unicode61, unicode61 alone */
  int64_t time_limit_us;
  int64_t deadline_us;               /* 0: none */
  int timed_out;
  /* corpus statistics */
  int64_t ncards, max_rowid;
  double avglen[4];
  int has_postings; /* cx_postings present (engine post-build ran) */
  int aux_registered;
  /* vocabulary (sorted by term / word) */
  cx__vword *words;   /* borrowed from vocab (engine.c), maybe shared with other handles */
  cx__vocab *vocab;
  size_t nwords;
  int words_loaded;
  uint32_t *by_len;   /* in vocab; indexes of words by length (typo candidates) */
  cx__typo_entry *typos; /* CX__TYPO_CACHE slots, or NULL */
  size_t ntypos;
  size_t len_start[CX__MAX_WORD_LEN + 2]; /* by_len[len_start[l]..len_start[l+1]) have length l */
  cx__syn *syns;
  size_t *syn_sorted; /* indexes of syns by folded text */
  size_t nsyns;
  int syn_loaded;
  uint64_t syn_first[16]; /* 1024-bit filter of the terms' first words (query_parse.c) */
  /* By the hash of a first word (& 1023, linear probing): 1 + the index in
   * syn_sorted of the first term starting with that word, 0 empty; unused
   * (syn_first_ok 0) when the terms have more than 512 first words. */
  uint32_t syn_first_at[1024];
  int syn_first_ok;
  /* Words of the vocabulary query words were found as, by hash: index+1
   * into words, 0 none (query_parse.c). words never change for a handle. */
  uint32_t word_memo[1024];
  /* filter bitsets */
  cx__filter_cache filters[32];
  size_t nfilters, next_filter;
  /* postings cache (rank.c) */
  cx__plist **plists;
  size_t nplists, plist_bytes;
  int has_hits; /* cx_hits present */
  /* hit cache (query_hit.c) */
  cx__hentry **hents;
  size_t nhents;
  size_t hcache_max; /* entries kept before the cache is cleared; 0: default (tests lower it) */
  /* card ids (engine.c), loaded on first use */
  cx__idref *ids;
  size_t nids;
  char *id_pool;
  int ids_loaded;
};

/* engine.c */
sqlite3_stmt *cx__stmt(cx_index *ix, int slot, cx_err *err);
int cx__sqlite_err(cx_index *ix, cx_err *err, const char *what);
void cx__deadline_start(cx_index *ix);
int cx__deadline_passed(cx_index *ix);
/* Calls cb for each token of text (porter stems when stem, else folded
 * words) with its byte offsets. */
typedef int (*cx__token_cb)(void *ctx, const char *tok, int ntok, int start, int end);
int cx__tokenize(cx_index *ix, int stem, const char *text, int n, cx__token_cb cb, void *ctx);
/* The stem of one word (as the index would store it) into out. */
void cx__stem(cx_index *ix, const char *word, size_t n, cx__buf *out);
int cx__load_words(cx_index *ix);
int cx__engine_tokenizers(cx_index *ix, cx_err *err);
void cx__engine_tokenizers_free(cx_index *ix);
/* Up to this many cards, an index lacking cx_postings gets them at open. */
#define CX__TEMP_TABLES_MAX_CARDS 20000
/* Bitset of rowids for a pack ('p') or capability tag ('t'); borrowed. */
const uint64_t *cx__filter_bits(cx_index *ix, char kind, const char *name, cx_err *err);
/* Loads ix->ids once; then [*lo, *hi) is the range of ids starting with
 * prefix (case-insensitive; "" for all). */
int cx__id_range(cx_index *ix, const char *prefix, size_t *lo, size_t *hi, cx_err *err);
/* Document frequency of a term (or phrase key) of cx_postings, through the
 * postings cache (rank_postings.c); 0 when absent. */
int64_t cx__postings_df(cx_index *ix, const char *term);

/* ---- hits (query_hit.c) ---- */

/* The hit fields of a card's stored JSON (id, question, title, packs, tags,
 * clause_ids, sources, actions); new reference. The builder stores it in
 * cx_hits, and an index without that table computes it at query time. */
json_t *cx__hit_base(json_t *card);
/* The card's stored JSON (cards.json, id and query from their columns);
 * new reference, NULL with err set when the row is missing or corrupt. */
json_t *cx__card_json(cx_index *ix, int64_t rowid, cx_err *err);
/* The card's cached entry (loaded on a miss); borrowed until the next call. */
cx__hentry *cx__hentry_get(cx_index *ix, int64_t rowid, cx_err *err);
void cx__hit_cache_clear(cx_index *ix);
/* Stems a snippet highlights, as hashes (cx__snip_terms_init/destroy). */
#define CX__SNIP_SET 1024
typedef struct cx__snip_terms {
  uint32_t *hash;
  size_t n;
  /* Open-addressing set over hash: index+1 into hash, 0 empty. At most 200
   * entries in 1024 slots: a probe for a word no term has (most of a
   * snippet's) ends at the first slot. */
  uint16_t set[CX__SNIP_SET];
} cx__snip_terms;
/* A new hit object: the entry's fields (shared, immutable), score and a
 * snippet highlighting terms. */
json_t *cx__hit_json(cx_index *ix, cx__hentry *e, double score, const cx__snip_terms *terms,
                     const char *open, const char *close);
/* Appends what cx__json_write would write for cx__hit_json's object, from the
 * entry's pre-encoded fields (scratch: a buffer for the snippet). -1 with
 * nothing appended when the entry cannot be spliced: use cx__hit_json. */
int cx__hit_write(cx_index *ix, cx__hentry *e, double score, const cx__snip_terms *terms,
                  const char *open, const char *close, cx__buf *out, cx__buf *scratch);
/* cx_search's result appended to out as compact JSON text, byte for byte
 * what cx__json_write writes for cx_search's result, without building it
 * (cardexd's search replies). On error out is left as it was. */
int cx__search_text(cx_index *ix, const cx_search_req *req, cx__buf *out, cx_err *err);
/* The text of the entry's "Plain-English answer" (NULL if none); borrowed. */
const char *cx__hentry_plain(const cx__hentry *e);
/* The entry's hit fields; borrowed. */
json_t *cx__hentry_base(const cx__hentry *e);
uint32_t cx__term_hash(const char *s, size_t n);

/* ---- query analysis (query_parse.c) ---- */

typedef enum {
  CX__K_EXACT = 0,
  CX__K_IDENT = 1,
  CX__K_SYNONYM = 2,
  CX__K_TYPO = 3,
  CX__K_PREFIX = 4,
  CX__K_PHRASE = 5
} cx__kind;

/* One alternative of a query slot: a stem to look up. */
typedef struct cx__qalt {
  char *term;      /* stem, or a phrase key "w1 w2 ..." of stems for synonyms */
  char *text;      /* the folded word(s), safe to quote in an FTS5 MATCH */
  char *from;      /* what the user typed that produced it */
  cx__kind kind;
  double weight;   /* multiplier of the term's impact */
  int phrase;      /* term is several stems: matched as a phrase */
} cx__qalt;

/* A slot is one thing the user asked for (a word, an identifier); a card's
 * score for a slot is its best alternative. */
typedef struct cx__qslot {
  cx__qalt *alts;
  size_t nalts;
  size_t alts_cap; /* alts has room for this many (in the query's arena) */
  char *word; /* folded word as typed */
  int stop;   /* a stop word kept because the query has nothing else */
  int group;  /* synonym group (-1 none): its members and its synonym slot */
  int syn;    /* 1: the synonym slot of a run of words; 2: its phrase bonus */
} cx__qslot;

typedef struct cx__query {
  cx__qslot *slots;
  size_t nslots;
  int ngroups;     /* a group scores max(sum of its words, its synonym) */
  char *raw_match; /* raw mode: the FTS5 expression */
  int truncated;   /* the query was cut to CX__MAX_QUERY_BYTES / CX__MAX_SLOTS */
  /* Slots, alternatives and their strings live in blocks freed together by
   * cx__query_destroy (query_parse.c): one malloc per query, not ~70. */
  struct cx__qblock *blocks;
  char *arena;
  size_t arena_n, arena_cap;
} cx__query;

#define CX__MAX_QUERY_BYTES 4096
#define CX__MAX_SLOTS 24
#define CX__MAX_PREFIX_EXPANSIONS 8

int cx__query_parse(cx_index *ix, const char *text, int raw, int prefix_last,
                    cx__query *q, cx_err *err);
void cx__query_destroy(cx__query *q);
int cx__is_stop_word(const char *w, size_t n);
/* Identifiers found in text, one per line in out (query_parse.c): a kind
 * letter ('q' card id, 'c' clause, 's' standard), then the identifier's
 * compact tokens, most specific first: "c iso27001c4 c4". */
void cx__query_idents(const char *text, cx__buf *out);
int cx__damerau_within(const char *a, size_t na, const char *b, size_t nb, int k);
void cx__typo_cache_clear(cx_index *ix);

/* ---- ranking (rank.c) ---- */

typedef struct cx__hit {
  int64_t rowid;
  double score;
  double slot_score[CX__MAX_SLOTS]; /* per slot, for explain and confidence */
  signed char slot_alt[CX__MAX_SLOTS]; /* the winning alternative, -1 none */
} cx__hit;
/* A hint: starts loading the cached entries of hits (query_hit.c). */
void cx__hits_prefetch(cx_index *ix, const cx__hit *hits, size_t n);

typedef struct cx__filter {
  const uint64_t *packs, *tags; /* NULL: no filter */
  const uint64_t *ids;
} cx__filter;

typedef struct cx__result {
  cx__hit *hits; /* best first, at most k */
  size_t nhits;
  int64_t total; /* matching cards after filters */
  int total_exact;
  size_t scored; /* cards fully scored (for bench/explain) */
} cx__result;

/* Top k by the engine's own scoring. exhaustive: score every matching card
 * (the reference the fast plan must agree with). */
int cx__rank(cx_index *ix, const cx__query *q, const cx__filter *f, size_t k,
             int exhaustive, cx__result *res, cx_err *err);
void cx__result_destroy(cx__result *res);
/* Raw mode: FTS5 MATCH with bm25 and column weights. */
int cx__rank_raw(cx_index *ix, const char *match, const cx__filter *f, size_t k,
                 cx__result *res, cx_err *err);
/* The naive plan for the bench and the eval: "t1" OR "t2" ... by bm25. */
int cx__rank_naive(cx_index *ix, const char *text, size_t k, int64_t *rowids,
                   size_t *n, cx_err *err);
void cx__plist_cache_clear(cx_index *ix);

/* Builds the engine's tables (cx_postings, cx_words) in schema ("main" after
 * a build, "temp" at open) from the FTS index of db's main schema. */
int cx__engine_build_tables(sqlite3 *db, const char *schema, cx_err *err);

#endif
