/* daemon_json_test.c — cardexd's reply encoder (cx__json_write, index/json_text.c) must write exactly what jansson writes. */
#include "cardexd.h"
#include "../cx_xorshift.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void same(json_t *j, const char *what) {
  char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
  cx__buf got;
  cx__buf_init(&got);
  cx__json_write(&got, j);
  if (want == NULL || got.p == NULL || strcmp(want, got.p) != 0) {
    fprintf(stderr, "FAIL %s:\n  jansson: %s\n  cardexd: %s\n", what, want ? want : "(null)",
            got.p ? got.p : "(null)");
    failures++;
  }
  free(want);
  cx__buf_destroy(&got);
  json_decref(j);
}

static uint64_t rng = CX_XORSHIFT_SEED;
static uint64_t next(void) { return cx_xorshift(&rng); }

/* A random valid UTF-8 string with every kind of byte that needs escaping. */
static json_t *random_string(void) {
  static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\b",
                                       "\f", "\x01", "\x1f", "\x7f", "é", "—", "€", "𝄞",
                                       "**bold**", "ISO27001:2022/A.5.15", "<b>", "\u2028"};
  char buf[512];
  size_t n = 0, k = next() % 40;
  for (size_t i = 0; i < k; i++) {
    const char *p = pieces[next() % (sizeof pieces / sizeof *pieces)];
    size_t l = strlen(p);
    if (n + l >= sizeof buf) break;
    memcpy(buf + n, p, l);
    n += l;
  }
  if (next() % 8 == 0 && n + 1 < sizeof buf) buf[n++] = '\0'; /* an embedded NUL */
  return json_stringn(buf, n);
}

static json_t *random_value(int depth) {
  switch (next() % (depth > 3 ? 6 : 8)) {
  case 0: return random_string();
  case 1:
    if (next() % 2) return json_integer((json_int_t)next());
    return json_integer(-(json_int_t)(next() % 100000));
  case 2: {
    double d = (double)(int64_t)next() / (double)(1 + next() % 1000000);
    if (next() % 3 == 0) d = ldexp(d, (int)(next() % 200) - 100);
    return json_real(d);
  }
  case 3: return json_true();
  case 4: return json_null();
  case 5: return json_false();
  case 6: {
    json_t *a = json_array();
    for (size_t i = next() % 5; i > 0; i--) json_array_append_new(a, random_value(depth + 1));
    return a;
  }
  default: {
    json_t *o = json_object();
    for (size_t i = next() % 6; i > 0; i--) {
      char key[32];
      snprintf(key, sizeof key, "k%u\"\n%s", (unsigned)(next() % 50), next() % 2 ? "é" : "");
      json_object_set_new(o, key, random_value(depth + 1));
    }
    return o;
  }
  }
}

int main(void) {
  static const double reals[] = {0.0, -0.0, 1.0, -1.0, 0.1, 12.83, 4.3310000000000004, 0.891,
                                 1e20, 1e-5, 1.5e-7, 123456789012.0, 1e300, -2.5e-300, 2000.0,
                                 0.65, 3.0e10, 1234567890.0, 12345678901.0, 5e-324};
  for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
    char what[64];
    snprintf(what, sizeof what, "real %.17g", reals[i]);
    same(json_real(reals[i]), what);
  }
  same(json_integer(INT64_MAX), "int max");
  same(json_integer(INT64_MIN), "int min");
  same(json_string(""), "empty string");
  same(json_pack("{s:{},s:[]}", "o", "a"), "empty containers");
  same(json_pack("{s:s,s:i,s:f,s:b,s:n,s:[s,s]}", "id", "Q077", "n", 77, "score", 12.83, "ok", 1,
                 "none", "packs", "ISO27001:2022", "GDPR"),
       "hit-like object");
  /* every escaped byte at every offset of a string longer than a few words */
  for (int ch = 0; ch < 256; ch++) {
    if (!(ch < 0x20 || ch == '"' || ch == '\\' || ch == 'x')) continue;
    for (int pos = 0; pos < 40; pos++) {
      char buf[41];
      memset(buf, 'a', 40);
      buf[40] = '\0';
      buf[pos] = (char)ch;
      char what[48];
      snprintf(what, sizeof what, "byte %d at %d", ch, pos);
      same(json_stringn(buf, 40), what);
    }
  }
  for (int i = 0; i < 20000; i++) {
    char what[32];
    snprintf(what, sizeof what, "random value %d", i);
    same(random_value(0), what);
  }
  if (failures) {
    fprintf(stderr, "%d mismatches\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
