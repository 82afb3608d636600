/* fts_doc.c — what a card contributes to each FTS5 column, and identifier tokens. */
#include "cx_internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void cx__clause_token(const char *clause, size_t len, cx__buf *out) {
  cx__buf_putc(out, 'c');
  int sep = 0, any = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)clause[i];
    if (isalnum(ch)) {
      if (sep && any) cx__buf_putc(out, 'x');
      cx__buf_putc(out, (char)tolower(ch));
      sep = 0;
      any = 1;
    } else {
      sep = 1;
    }
  }
}

void cx__ident_tokens(const char *ident, cx__buf *out) {
  if (ident == NULL || *ident == '\0') return;
  const char *slash = strchr(ident, '/');
  if (out->n) cx__buf_putc(out, ' ');
  if (slash == NULL) {
    /* A card id such as Q077: also its unpadded form q77. */
    size_t i = 0;
    while (isalpha((unsigned char)ident[i])) i++;
    if (i > 0 && ident[i] == '0') {
      size_t j = i;
      while (ident[j] == '0' && isdigit((unsigned char)ident[j + 1])) j++;
      for (size_t k = 0; k < i; k++) cx__buf_putc(out, (char)tolower((unsigned char)ident[k]));
      cx__buf_puts(out, ident + j);
      cx__buf_putc(out, ' ');
    }
    cx__clause_token(ident, strlen(ident), out);
    return;
  }
  /* "ISO27001:2022/A.5.15": clause token, then pack-qualified form whose
   * pack part is the pack name up to its ':' edition ("iso27001"). */
  const char *clause = slash + 1;
  cx__clause_token(clause, strlen(clause), out);
  cx__buf_putc(out, ' ');
  for (const char *p = ident; p < slash && *p != ':'; p++)
    if (isalnum((unsigned char)*p)) cx__buf_putc(out, (char)tolower((unsigned char)*p));
  cx__clause_token(clause, strlen(clause), out);
}

/* The tokens of a primary clause id once more, marked "pri": the query
 * engine ranks a card whose subject is a clause above cards that merely
 * overlap with it (docs/ranking.md). */
static void primary_tokens(const char *ident, cx__buf *out) {
  cx__buf t;
  cx__buf_init(&t);
  cx__ident_tokens(ident, &t);
  for (const char *p = t.p; p && *p;) {
    size_t len = strcspn(p, " ");
    if (len) {
      cx__buf_puts(out, " pri");
      cx__buf_add(out, p, len);
    }
    p += len;
    while (*p == ' ') p++;
  }
  cx__buf_destroy(&t);
}

/* Identifiers mentioned in prose ("ISO 27001", "Article 32") as one more
 * line of compact tokens, so that the tokens a query makes of them match.
 * text may be b's own bytes: they are all read before b grows. */
static void add_idents_of(cx__buf *b, const char *text) {
  cx__buf t;
  cx__buf_init(&t);
  cx__text_idents(text, &t);
  if (t.n) {
    if (b->n) cx__buf_puts(b, "\n");
    cx__buf_add(b, t.p, t.n);
  }
  cx__buf_destroy(&t);
}

static void add_text(cx__buf *b, const char *s) {
  if (s == NULL || *s == '\0') return;
  if (b->n) cx__buf_puts(b, "\n");
  cx__buf_puts(b, s);
}

void cx__fts_doc_build(const cx_card *card, cx__fts_doc *doc) {
  cx__buf_init(&doc->question);
  cx__buf_init(&doc->tags);
  cx__buf_init(&doc->answer);
  cx__buf_init(&doc->sources);

  add_text(&doc->question, card->query);
  if (card->title && card->query && strcmp(card->title, card->query) != 0)
    add_text(&doc->question, card->title);
  add_idents_of(&doc->question, doc->question.p ? doc->question.p : "");

  add_text(&doc->tags, card->id);
  cx__ident_tokens(card->id, &doc->tags);
  const cx_strv *lists[] = {&card->packs, &card->capability_tags, &card->primary_ids,
                            &card->overlap_ids};
  for (size_t l = 0; l < sizeof lists / sizeof *lists; l++)
    for (size_t i = 0; i < lists[l]->n; i++) {
      add_text(&doc->tags, lists[l]->v[i]);
      if (l >= 2) cx__ident_tokens(lists[l]->v[i], &doc->tags);
      if (l == 2) primary_tokens(lists[l]->v[i], &doc->tags);
    }
  for (size_t i = 0; i < card->cards_hint.n; i++) add_text(&doc->tags, card->cards_hint.v[i]);

  for (size_t i = 0; i < card->nsections; i++) {
    const cx_section *s = &card->sections[i];
    if (strcasecmp(s->name, "Sources") == 0) add_text(&doc->sources, s->text);
    else add_text(&doc->answer, s->text);
  }
  add_idents_of(&doc->answer, doc->answer.p ? doc->answer.p : "");
  for (size_t i = 0; i < card->nsources; i++) {
    add_text(&doc->sources, card->sources[i].title);
    add_text(&doc->sources, card->sources[i].id);
    cx__ident_tokens(card->sources[i].id, &doc->sources);
    add_text(&doc->sources, card->sources[i].locator);
    if (card->sources[i].locator) cx__clause_token(card->sources[i].locator,
                                                   strlen(card->sources[i].locator), &doc->sources);
  }
}

void cx__fts_doc_destroy(cx__fts_doc *doc) {
  cx__buf_destroy(&doc->question);
  cx__buf_destroy(&doc->tags);
  cx__buf_destroy(&doc->answer);
  cx__buf_destroy(&doc->sources);
}
