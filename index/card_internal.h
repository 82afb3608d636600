/* card_internal.h — what the card parser's files (card.c, card_yaml.c, card_body.c) share. */
#ifndef CX_CARD_INTERNAL_H
#define CX_CARD_INTERNAL_H

#include "cx_internal.h"

/* The state of one cx_card_parse call: where diagnostics go and how many
 * errors were found so far (warnings do not make a card fail). */
typedef struct cx__cardctx {
  const char *path;
  cx_diags *diags;
  size_t nerrors;
  int max_alias_expansions; /* resolved: never 0 */
  struct cx__arena *scratch; /* this parse's temporaries (libcmark's, the YAML tree) */
  struct cx__arena *out;     /* the card's own: its struct, strings and arrays */
} cx__cardctx;

void cx__card_error(cx__cardctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cx__card_warn(cx__cardctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses the YAML header (len bytes, valid UTF-8 without NUL) into card's
 * header fields. line0 is the number of file lines before the header, so
 * that diagnostics carry file line numbers. Every problem goes to c. */
void cx__card_header(cx__cardctx *c, const char *yaml, size_t len, int line0,
                     cx_card *card);

/* Parses the Markdown body into card->body, title, number, sections and links. */
void cx__card_body(cx__cardctx *c, const char *md, size_t len, int line0,
                   cx_card *card);

/* For messages: s cut to at most 60 bytes on a UTF-8 character boundary,
 * with "…" when cut, so that a huge key or value makes a readable line and
 * the message stays valid UTF-8. Returns buf. */
#define CX__CLIP_SIZE 72
const char *cx__clip(const char *s, char buf[CX__CLIP_SIZE]);

struct cx__arena;
/* Appends s (from arena a) to a vector the parser is filling, its array in a
 * too (a NULL: s and the array are malloc'd). cx_strv has no capacity field, so the capacity is n rounded up to a
 * power of two: growth stays amortised O(1) for hostile cards with 100k
 * items. Only for vectors of a card being parsed. */
void cx__strv_take(struct cx__arena *a, cx_strv *v, char *s);

/* Copies s[0..n) without its leading and trailing ASCII whitespace, into a. */
char *cx__strtrim(struct cx__arena *a, const char *s, size_t n);

/* A bump allocator: many small allocations, all freed at once. The parser
 * makes ~300 allocations per card (cmark's nodes, the YAML tree, the card's
 * strings); with malloc each costs a malloc and a free, which was ~15% of a
 * parser thread. Blocks are 16-byte aligned and never freed one by one.
 * The first chunk may be caller memory (a stack buffer). */
typedef struct cx__arena_chunk cx__arena_chunk;
typedef struct cx__arena {
  char *p, *end;           /* free bytes of the current chunk */
  cx__arena_chunk *chunks; /* malloc'd chunks, newest first */
  size_t next;             /* size of the next chunk */
  char *last;              /* the newest block, which can grow in place */
} cx__arena;

/* Under AddressSanitizer every block is a malloc of its own, so that the
 * sanitizer and the fuzzer see an overflow past any block. */
#if defined(__SANITIZE_ADDRESS__)
#define CX__ARENA_EACH_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CX__ARENA_EACH_MALLOC 1
#endif
#endif

void cx__arena_init(cx__arena *a, void *first, size_t size);
void *cx__arena_grow(cx__arena *a, size_t n); /* a new chunk with n bytes taken */
/* Uninitialised. Inline: cmark alone allocates ~300 times per card. */
static inline void *cx__arena_alloc(cx__arena *a, size_t n) {
#ifdef CX__ARENA_EACH_MALLOC
  return cx__arena_grow(a, n);
#else
  n = (n + 15 + !n) & ~(size_t)15;
  if ((size_t)(a->end - a->p) < n) return cx__arena_grow(a, n);
  char *p = a->p;
  a->p += n;
  a->last = p;
  return p;
#endif
}
void *cx__arena_calloc(cx__arena *a, size_t n); /* zeroed */
/* Grows the block p (old bytes long, from this arena; NULL for none) to n
 * bytes: in place when it is the newest block, else by copying. */
void *cx__arena_realloc(cx__arena *a, void *p, size_t old, size_t n);
char *cx__arena_strndup(cx__arena *a, const char *s, size_t n);
/* Frees every chunk; a is then empty (init it again to reuse it). */
void cx__arena_destroy(cx__arena *a);

#endif
