/* fuzz_card.c — libFuzzer target: any bytes through cx_card_parse, checking its promises. */
#include "cardex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken promise is a crash, so that libFuzzer and the replay test see it. */
#define PROMISE(cond)                                                         \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz_card: broken promise: %s (%s:%d)\n", #cond,      \
              __FILE__, __LINE__);                                            \
      abort();                                                                \
    }                                                                         \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cx_diags d;
  cx_diags_init(&d);
  cx_card *c = NULL;
  /* A small alias bound keeps each run fast; the logic is the same. */
  cx_parse_opts opts = {0, 200};
  int rc = cx_card_parse("fuzz.md", (const char *)data, size, &opts, &c, &d);
  for (size_t i = 0; i < d.n; i++) {
    PROMISE(d.v[i].message != NULL && d.v[i].message[0] != '\0');
    PROMISE(d.v[i].line >= 0 && d.v[i].col >= 0);
    /* Messages travel in JSON (reload errors): they must be valid UTF-8. */
    json_t *m = json_string(d.v[i].message);
    PROMISE(m != NULL);
    json_decref(m);
  }
  if (rc == 0) {
    PROMISE(c != NULL && d.nerrors == 0);
    PROMISE(c->id != NULL && c->id[0] != '\0' && c->query != NULL && c->query[0] != '\0');
    PROMISE(c->body != NULL && strlen(c->hash) == 16);
    for (size_t i = 0; i < c->nsections; i++) {
      const cx_section *s = &c->sections[i];
      PROMISE(s->name && s->markdown && s->text);
      PROMISE(cx_card_section(c, s->name) != NULL);
    }
    for (size_t i = 0; i < c->links.n; i++) PROMISE(c->links.v[i][0] != '\0');
    json_t *j = cx_card_to_json(c);
    PROMISE(j != NULL && json_is_object(j));
    /* Every field is there: a string that is not valid UTF-8 would have
     * been dropped silently by jansson. */
    PROMISE(json_object_size(j) == 20);
    PROMISE(json_array_size(json_object_get(j, "sections")) == c->nsections);
    PROMISE(json_array_size(json_object_get(j, "links")) == c->links.n);
    PROMISE(json_object_size(json_object_get(j, "extra")) <= c->nextras);
    char *text = json_dumps(j, JSON_COMPACT);
    PROMISE(text != NULL); /* every string is valid UTF-8 */
    free(text);
    json_decref(j);
  } else {
    PROMISE(c == NULL);
    PROMISE(rc == CX_EPARSE || rc == CX_ETOOBIG);
    PROMISE(d.nerrors > 0);
  }
  cx_card_free(c);
  cx_diags_destroy(&d);
  return 0;
}
