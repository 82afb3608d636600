/* fts_replay.c — the builder's FTS5 tokenizer: replays the tokens the parser threads recorded.
 *
 * The parser threads tokenize every FTS column text with the fts table's own
 * tokenizer to count its terms (cx__term_counter), and record the tokens as
 * they go (cx__fts_toks). Without this file FTS5 tokenizes the same texts a
 * second time in the INSERT, on the builder's FTS thread (store.c), the
 * busiest thread of a large build. Here a tokenizer registered on that
 * thread's connection under the table's tokenizer name ("porter") overrides
 * the built-in one on that connection only: FTS5 keeps each connection's tokenizers in a list, adds
 * new ones at the head and looks a name up from the head (fts5CreateTokenizer
 * and fts5LocateTokenizer in fts5_main.c), and a table makes its tokenizer
 * instance when the connection first opens it. The override wraps an instance
 * of the real tokenizer, made with the table's arguments, and calls it for
 * everything (queries, highlight, any text) except a document text of the
 * armed row, for which it hands FTS5 the recorded tokens: what the real one
 * would emit for those bytes, since both are the same tokenizer with the same
 * arguments. The index file still declares the standard tokenizer; stock
 * sqlite3 reads it as any other.
 */
#include "cx_internal.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void cx__fts_tokenizer_spec(cx__tok_spec *s) {
  memset(s, 0, sizeof *s);
  _Static_assert(sizeof CX__FTS_TOKENIZER <= sizeof s->buf, "CX__FTS_TOKENIZER is too long");
  memcpy(s->buf, CX__FTS_TOKENIZER, sizeof CX__FTS_TOKENIZER);
  for (char *p = s->buf; *p && s->argc < (int)(sizeof s->argv / sizeof *s->argv);) {
    while (*p == ' ') *p++ = '\0';
    if (*p == '\0') break;
    s->argv[s->argc++] = p;
    while (*p && *p != ' ') p++;
  }
}

struct cx__fts_replay {
  fts5_tokenizer real_api; /* the built-in tokenizer of that name */
  void *real_ud;
  /* the armed row */
  int armed;
  const char *col[4];
  size_t len[4];
  const cx__fts_toks *toks;
};

/* An instance, one per fts table that the connection opens. */
typedef struct replay_tok {
  cx__fts_replay *r;
  Fts5Tokenizer *real;
  int same_args; /* made with CX__FTS_TOKENIZER's arguments: the recorded tokens apply */
} replay_tok;

static atomic_uint_fast64_t replayed;

uint64_t cx__fts_replay_count(void) { return atomic_load(&replayed); }

static int replay_create(void *ud, const char **argv, int argc, Fts5Tokenizer **out) {
  cx__fts_replay *r = ud;
  replay_tok *t = cx_xcalloc(1, sizeof *t);
  t->r = r;
  int rc = r->real_api.xCreate(r->real_ud, argv, argc, &t->real);
  if (rc != SQLITE_OK) {
    free(t);
    *out = NULL;
    return rc;
  }
  cx__tok_spec spec;
  cx__fts_tokenizer_spec(&spec);
  t->same_args = argc == spec.argc - 1;
  for (int i = 0; t->same_args && i < argc; i++)
    t->same_args = strcmp(argv[i], spec.argv[i + 1]) == 0;
  *out = (Fts5Tokenizer *)t;
  return SQLITE_OK;
}

static void replay_delete(Fts5Tokenizer *tok) {
  replay_tok *t = (replay_tok *)tok;
  if (t == NULL) return;
  t->r->real_api.xDelete(t->real);
  free(t);
}

static const unsigned char *get_tokvar(const unsigned char *p, uint32_t *v) {
  uint32_t x = 0;
  int shift = 0;
  while (*p & 0x80) {
    x |= (uint32_t)(*p++ & 0x7f) << shift;
    shift += 7;
  }
  *v = x | (uint32_t)*p++ << shift;
  return p;
}

/* The armed column whose text is text (n bytes), or -1. */
static int armed_column(const cx__fts_replay *r, const char *text, int n) {
  for (int c = 0; c < 4; c++)
    if (r->len[c] == (size_t)n && (r->col[c] == text || memcmp(r->col[c], text, r->len[c]) == 0))
      return c;
  return -1;
}

static int replay_tokenize(Fts5Tokenizer *tok, void *ctx, int flags, const char *text, int n,
                           int (*token)(void *, int, const char *, int, int, int)) {
  replay_tok *t = (replay_tok *)tok;
  const cx__fts_replay *r = t->r;
  int c;
  if (!r->armed || !t->same_args || flags != FTS5_TOKENIZE_DOCUMENT || text == NULL ||
      (c = armed_column(r, text, n)) < 0)
    return r->real_api.xTokenize(t->real, ctx, flags, text, n, token);
  const unsigned char *p = r->toks->p + (c ? r->toks->end[c - 1] : 0);
  const unsigned char *end = r->toks->p + r->toks->end[c];
  int rc = SQLITE_OK, prev_end = 0;
  while (p < end && rc == SQLITE_OK) {
    uint32_t head, gap, span;
    p = get_tokvar(p, &head);
    p = get_tokvar(p, &gap);
    p = get_tokvar(p, &span);
    int start = prev_end + (gap & 1 ? -(int)(gap >> 1) : (int)(gap >> 1));
    prev_end = start + (int)span;
    rc = token(ctx, (int)(head & 1), (const char *)p, (int)(head >> 1), start, prev_end);
    p += head >> 1;
  }
  atomic_fetch_add_explicit(&replayed, 1, memory_order_relaxed);
  /* As the built-in tokenizers: SQLITE_DONE from the callback stops early. */
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void replay_destroy(void *ud) { free(ud); }

cx__fts_replay *cx__fts_replay_install(sqlite3 *db) {
  const char *off = getenv("CARDEX_TEST_NO_FTS_REPLAY");
  if (off && *off && strcmp(off, "0") != 0) return NULL;
  fts5_api *api = cx__fts5_api(db);
  if (api == NULL) return NULL;
  cx__tok_spec spec;
  cx__fts_tokenizer_spec(&spec);
  cx__fts_replay *r = cx_xcalloc(1, sizeof *r);
  fts5_tokenizer mine = {replay_create, replay_delete, replay_tokenize};
  if (spec.argc < 1 || api->xFindTokenizer(api, spec.argv[0], &r->real_ud, &r->real_api) !=
                           SQLITE_OK) {
    free(r);
    return NULL;
  }
  /* Registered, FTS5 owns r: replay_destroy frees it when db closes. */
  if (api->xCreateTokenizer(api, spec.argv[0], r, &mine, replay_destroy) != SQLITE_OK) {
    free(r);
    return NULL;
  }
  return r;
}

void cx__fts_replay_arm(cx__fts_replay *r, const char *const col[4], const size_t len[4],
                        const cx__fts_toks *toks) {
  if (r == NULL || toks == NULL || toks->p == NULL) return;
  for (int c = 0; c < 4; c++) {
    r->col[c] = col[c];
    r->len[c] = len[c];
  }
  r->toks = toks;
  r->armed = 1;
}

void cx__fts_replay_disarm(cx__fts_replay *r) {
  if (r == NULL) return;
  r->armed = 0;
  r->toks = NULL;
}
