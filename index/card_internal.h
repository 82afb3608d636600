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

/* Appends s (taking ownership) to a vector the parser is filling. cx_strv
 * has no capacity field, so the capacity is n rounded up to a power of two:
 * growth stays amortised O(1) for hostile cards with 100k items. Only for
 * vectors filled by the parser alone (cx__strv_push elsewhere is fine too:
 * it reallocates every time). */
void cx__strv_take(cx_strv *v, char *s);

/* Copies s[0..n) without its leading and trailing ASCII whitespace. Caller frees. */
char *cx__strtrim(const char *s, size_t n);

#endif
