/* daemon_envelope_test.c — cardexd's request parser for common lines (cxd_json_fast_load) must give jansson's tree or defer to it. */
#include "cardexd.h"
#include "../cx_xorshift.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static size_t taken, deferred;

/* Whatever the fast path builds, json_loadb must build the same, keys in
 * the same order; when it defers, nothing is claimed. */
static void same(const char *line, size_t len) {
  json_t *fast = cxd_json_fast_load(line, len);
  if (fast == NULL) {
    deferred++;
    return;
  }
  taken++;
  json_error_t je;
  json_t *ref = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
  char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
  char *b = ref ? json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  if (ref == NULL || !json_equal(fast, ref) || b == NULL || strcmp(a, b) != 0) {
    if (failures++ < 10)
      fprintf(stderr, "FAIL %.*s\n  fast:    %s\n  jansson: %s\n", (int)len, line, a,
              b ? b : je.text);
  }
  free(a);
  free(b);
  json_decref(fast);
  json_decref(ref);
}

static uint64_t rng = CX_XORSHIFT_SEED;
static uint64_t next(void) { return cx_xorshift(&rng); }

static const char *const lines[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"search\",\"params\":{\"query\":\"we are a us company "
    "selling online to customers in france, does the eu privacy law apply to us\"}}",
    "{\"jsonrpc\": \"2.0\", \"id\": \"a-1\", \"method\": \"search\", \"params\": {\"query\": \"isms\", "
    "\"limit\": 20, \"offset\": 0, \"packs\": [\"GDPR\", \"SOC2\"], \"tags\": [], \"highlight\": "
    "[\"<b>\", \"</b>\"], \"explain\": true, \"raw\": false}}",
    "{\"jsonrpc\":\"2.0\",\"id\":-12,\"method\":\"ping\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"get\",\"params\":{\"id\":\"Q077\"}}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"stats\",\"params\":null}",
    "{\"jsonrpc\":\"2.0\",\"id\":123456789012345678,\"method\":\"suggest\",\"params\":{\"prefix\":\"acc\"}}",
    " {\"a\":{\"b\":{\"c\":[1,[2,[3,{\"d\":null}]]]}}, \"\":\"\"} \t",
    "{}",
};

/* Numbers the fast path must leave to jansson (or take exactly). */
static const char *const numbers[] = {
    "{\"id\":999999999999999999}",   "{\"id\":1000000000000000000}",
    "{\"id\":9223372036854775807}",  "{\"id\":9223372036854775808}",
    "{\"id\":-9223372036854775808}", "{\"id\":123456789012345678901234567890}",
    "{\"id\":-0}",                   "{\"id\":00}",
    "{\"id\":1.5}",                  "{\"id\":1e3}",
    "{\"id\":-}",                    "{\"id\":12a}",                  "{\"id\":9999999999999999999}",
};

static const char pieces[] = "\"\\{}[],:0123456789-+.eEtrufalsn \t\r\x01\x7f";

int main(void) {
  for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) same(lines[i], strlen(lines[i]));
  size_t base_taken = taken;
  if (base_taken != sizeof lines / sizeof *lines) {
    fprintf(stderr, "FAIL the fast path deferred %zu of the %zu common lines\n",
            sizeof lines / sizeof *lines - base_taken, sizeof lines / sizeof *lines);
    failures++;
  }
  for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) same(numbers[i], strlen(numbers[i]));
  /* Mutations of those lines: bytes replaced, dropped, duplicated, and
   * non-ASCII, numbers, escapes, duplicate keys, truncation. */
  char buf[1024];
  for (int it = 0; it < 300000; it++) {
    const char *src = lines[next() % (sizeof lines / sizeof *lines)];
    size_t n = strlen(src);
    memcpy(buf, src, n);
    int edits = 1 + (int)(next() % 4);
    for (int e = 0; e < edits && n > 0; e++) {
      size_t at = next() % n;
      switch (next() % 6) {
      case 0: buf[at] = pieces[next() % (sizeof pieces - 1)]; break;
      case 1: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;
      case 2:
        if (n + 1 < sizeof buf) {
          memmove(buf + at + 1, buf + at, n - at);
          buf[at] = pieces[next() % (sizeof pieces - 1)];
          n++;
        }
        break;
      case 3: n = at; break;
      case 4: buf[at] = (char)(0x80 + next() % 0x80); break;
      default:
        if (n + 8 < sizeof buf) { /* a copy of a short run: duplicate keys, nesting */
          size_t len = 1 + next() % 7;
          if (at + len > n) len = n - at;
          memmove(buf + at + len, buf + at, n - at);
          n += len;
        }
      }
    }
    same(buf, n);
  }
  printf("daemon_envelope_test: %zu lines taken by the fast path, %zu deferred to jansson\n", taken,
         deferred);
  if (taken < 1000) {
    fprintf(stderr, "FAIL only %zu mutated lines were taken: the test tests too little\n", taken);
    failures++;
  }
  if (failures) fprintf(stderr, "daemon_envelope_test: %d failures\n", failures);
  return failures ? 1 : 0;
}
