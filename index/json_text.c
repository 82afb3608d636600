/* json_text.c — compact JSON text of replies, byte-identical to jansson's, several times faster.
 *
 * jansson's encoder walks every string one code point at a time and calls its
 * output callback per token; on a 9 KB search reply that took longer than the
 * search itself (71 µs against 53 µs, bench/README.md). Strings held by
 * jansson are valid UTF-8 already, so only '"', '\\' and control bytes need
 * looking at: runs between them are copied whole. The output equals
 * json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10)),
 * which tests/integration/daemon_json_test.c checks. The library has it (not
 * only cardexd) because search results are written as text directly
 * (cx__search_text), splicing each card's pre-encoded hit fields. */
#include "cx_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define REAL_PRECISION 10

static inline void reserve(cx__buf *b, size_t extra) {
  if (b->n + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + extra + 1) cap *= 2;
  b->p = cx_xrealloc(b->p, cap);
  b->cap = cap;
}

static inline void put(cx__buf *b, const char *s, size_t n) {
  reserve(b, n);
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static inline void put_c(cx__buf *b, char c) {
  reserve(b, 1);
  b->p[b->n++] = c;
}

/* 1 for the bytes a JSON string cannot hold as they are. */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1};

/* Whether any of the 8 bytes of w is a control byte, '"' or '\\' (the
 * "haszero"/"hasless" word tricks: exact as to whether one exists). */
static inline int word_needs_escape(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
  return (((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
          ((backslash - ones) & ~backslash)) & highs ? 1 : 0;
}

void cx__json_put_string(cx__buf *b, const char *s, size_t n) {
  reserve(b, n + 2);
  b->p[b->n++] = '"';
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    /* Most text has nothing to escape: skip it a word at a time. */
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (word_needs_escape(w)) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char ch = (unsigned char)s[i];
    if (!needs_escape[ch]) continue;
    put(b, s + run, i - run);
    run = i + 1;
    char esc[8];
    switch (ch) {
    case '"': put(b, "\\\"", 2); break;
    case '\\': put(b, "\\\\", 2); break;
    case '\b': put(b, "\\b", 2); break;
    case '\f': put(b, "\\f", 2); break;
    case '\n': put(b, "\\n", 2); break;
    case '\r': put(b, "\\r", 2); break;
    case '\t': put(b, "\\t", 2); break;
    default:
      snprintf(esc, sizeof esc, "\\u%04X", ch);
      put(b, esc, 6);
    }
  }
  put(b, s + run, n - run);
  put_c(b, '"');
  b->p[b->n] = '\0';
}

/* As jansson's jsonp_dtostr: "%.10g", then a ".0" if it reads as an integer,
 * and no '+' or leading zeros in the exponent. */
void cx__json_put_real(cx__buf *b, double v) {
  /* Scores are rounded to thousandths: for those "%.10g" prints exactly the
   * decimal n/1000 (under 1e7: at most 10 significant digits, far from a rounding
   * boundary), which is cheaper to write ourselves than through printf. */
  if (v != 0 && v > -1e7 && v < 1e7) {
    long long n = llround(v * 1000.0);
    if ((double)n / 1000.0 == v) {
      char tmp[32], *end = tmp + sizeof tmp, *p = end;
      unsigned long long u = n < 0 ? (unsigned long long)-n : (unsigned long long)n;
      unsigned frac = (unsigned)(u % 1000);
      if (frac == 0) {
        *--p = '0';
      } else {
        int digits = 3;
        while (frac % 10 == 0) {
          frac /= 10;
          digits--;
        }
        while (digits-- > 0) {
          *--p = (char)('0' + frac % 10);
          frac /= 10;
        }
      }
      *--p = '.';
      u /= 1000;
      do *--p = (char)('0' + u % 10);
      while ((u /= 10) != 0);
      if (n < 0) *--p = '-';
      put(b, p, (size_t)(end - p));
      b->p[b->n] = '\0';
      return;
    }
  }
  char tmp[64];
  int n = snprintf(tmp, sizeof tmp, "%.*g", REAL_PRECISION, v);
  if (n < 0 || n >= (int)sizeof tmp - 3) return;
  if (strspn(tmp, "0123456789-") == (size_t)n) {
    memcpy(tmp + n, ".0", 3);
    n += 2;
  }
  char *e = strchr(tmp, 'e');
  if (e) {
    char *start = e + 1, *p = start;
    if (*p == '-') start = ++p;
    while (*p == '+' || *p == '0') p++;
    if (p != start) {
      memmove(start, p, strlen(p) + 1);
      n = (int)strlen(tmp);
    }
  }
  put(b, tmp, (size_t)n);
  b->p[b->n] = '\0';
}

void cx__json_write(cx__buf *b, const json_t *j) {
  char num[32];
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    put_c(b, '{');
    int first = 1;
    for (void *it = json_object_iter((json_t *)j); it;
         it = json_object_iter_next((json_t *)j, it)) {
      if (!first) put_c(b, ',');
      first = 0;
      cx__json_put_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
      put_c(b, ':');
      cx__json_write(b, json_object_iter_value(it));
    }
    put_c(b, '}');
    break;
  }
  case JSON_ARRAY: {
    put_c(b, '[');
    size_t n = json_array_size(j);
    for (size_t i = 0; i < n; i++) {
      if (i) put_c(b, ',');
      cx__json_write(b, json_array_get(j, i));
    }
    put_c(b, ']');
    break;
  }
  case JSON_STRING:
    cx__json_put_string(b, json_string_value(j), json_string_length(j));
    break;
  case JSON_INTEGER: { /* ids and counts: every reply has some, printf is slow for them */
    json_int_t v = json_integer_value(j);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char *end = num + sizeof num, *p = end;
    do *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0) *--p = '-';
    put(b, p, (size_t)(end - p));
    break;
  }
  case JSON_REAL: {
    double v = json_real_value(j);
    if (isfinite(v)) cx__json_put_real(b, v);
    else put(b, "null", 4); /* jansson refuses to encode these; a reply must not */
    break;
  }
  case JSON_TRUE: put(b, "true", 4); break;
  case JSON_FALSE: put(b, "false", 5); break;
  case JSON_NULL: put(b, "null", 4); break;
  }
  b->p[b->n] = '\0';
}
