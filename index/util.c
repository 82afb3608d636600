/* util.c — errors, diagnostics, buffers, allocation and hashing for libcardex. */
#include "card_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cx_err_name(int code) {
  switch (code) {
#define XX(name, c, msg) case c: return "CX_E" #name;
    CX_ERRNO_MAP(XX)
#undef XX
  }
  return "unknown error";
}

const char *cx_strerror(int code) {
  switch (code) {
#define XX(name, c, msg) case c: return msg;
    CX_ERRNO_MAP(XX)
#undef XX
  }
  return "unknown error";
}

int cx_err_set(cx_err *err, int code, const char *field, const char *fmt, ...) {
  if (err == NULL) return code;
  err->code = code;
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return code;
}

static void oom(size_t n) {
  fprintf(stderr, "cardex: out of memory allocating %zu bytes\n", n);
  abort();
}

void *cx_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) oom(n);
  return p;
}

void *cx_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL) oom(n * size);
  return p;
}

void *cx_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) oom(n);
  return q;
}

char *cx_xstrdup(const char *s) { return s ? cx_xstrndup(s, strlen(s)) : NULL; }

char *cx_xstrndup(const char *s, size_t n) {
  char *p = cx_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void cx_hash_hex(const void *data, size_t len, char out[17]) {
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  for (int i = 15; i >= 0; i--, h >>= 4) out[i] = "0123456789abcdef"[h & 15]; /* "%016llx" */
  out[16] = '\0';
}

int64_t cx__now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int cx__ncores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int64_t cx__thread_cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- buffers ---- */

void cx__buf_init(cx__buf *b) { b->p = NULL; b->n = b->cap = 0; }
void cx__buf_destroy(cx__buf *b) { free(b->p); cx__buf_init(b); }

void cx__buf_reserve(cx__buf *b, size_t extra) {
  if (b->n + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->n + extra + 1) cap *= 2;
  b->p = cx_xrealloc(b->p, cap);
  b->cap = cap;
}

void cx__buf_add(cx__buf *b, const char *s, size_t n) {
  cx__buf_reserve(b, n);
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void cx__buf_puts(cx__buf *b, const char *s) { cx__buf_add(b, s, strlen(s)); }

void cx__buf_vprintf(cx__buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return;
  cx__buf_reserve(b, (size_t)n);
  vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
  b->n += (size_t)n;
}

void cx__buf_printf(cx__buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cx__buf_vprintf(b, fmt, ap);
  va_end(ap);
}

char *cx__buf_detach(cx__buf *b) {
  char *p = b->p ? b->p : cx_xstrdup("");
  cx__buf_init(b);
  return p;
}

/* ---- arena (declared in card_internal.h) ---- */

struct cx__arena_chunk {
  cx__arena_chunk *next;
  size_t size;
  _Alignas(16) char data[];
};

#define ARENA_ALIGN(n) (((n) + 15) & ~(size_t)15)

void cx__arena_init(cx__arena *a, void *first, size_t size) {
  char *p = first;
#ifdef CX__ARENA_EACH_MALLOC
  p = NULL, size = 0;
#endif
  size_t skip = p ? (size_t)(-(uintptr_t)p & 15) : 0;
  a->p = p ? p + skip : NULL;
  a->end = p && size > skip ? p + size : a->p;
  a->chunks = NULL;
  a->next = 16384;
  a->last = NULL;
}

void *cx__arena_grow(cx__arena *a, size_t n) {
  size_t size = a->next;
  while (size < n && size <= SIZE_MAX / 4) size *= 2;
  if (size < n) size = n;
#ifdef CX__ARENA_EACH_MALLOC
  size = n; /* exactly: the sanitizer's redzone starts right after */
#endif
  if (a->next < (size_t)1 << 20) a->next *= 2; /* a 1 MiB card makes ~10 chunks */
  if (size > SIZE_MAX - sizeof(cx__arena_chunk)) {
    fprintf(stderr, "cardex: out of memory allocating %zu bytes\n", n);
    abort();
  }
  cx__arena_chunk *c = cx_xmalloc(sizeof *c + size);
  c->next = a->chunks;
  c->size = size;
  a->chunks = c;
  a->p = c->data + n;
  a->end = c->data + size;
  a->last = c->data;
  return c->data;
}

void *cx__arena_calloc(cx__arena *a, size_t n) {
  void *p = cx__arena_alloc(a, n);
  memset(p, 0, n);
  return p;
}

void *cx__arena_realloc(cx__arena *a, void *p, size_t old, size_t n) {
  if (p == NULL) return cx__arena_alloc(a, n);
#ifndef CX__ARENA_EACH_MALLOC
  if (p == a->last && (size_t)(a->end - (char *)p) >= ARENA_ALIGN(n ? n : 1)) {
    a->p = (char *)p + ARENA_ALIGN(n ? n : 1);
    return p;
  }
#endif
  if (n <= old) return p;
  void *q = cx__arena_alloc(a, n);
  memcpy(q, p, old);
  return q;
}

char *cx__arena_strndup(cx__arena *a, const char *s, size_t n) {
  char *p = cx__arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void cx__arena_destroy(cx__arena *a) {
  for (cx__arena_chunk *c = a->chunks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  a->chunks = NULL;
  a->p = a->end = a->last = NULL;
}

/* ---- string vectors ---- */

void cx__strv_push(cx_strv *v, const char *s) {
  v->v = cx_xrealloc(v->v, (v->n + 1) * sizeof *v->v);
  v->v[v->n++] = cx_xstrdup(s);
}

void cx__strv_free(cx_strv *v) {
  for (size_t i = 0; i < v->n; i++) free(v->v[i]);
  free(v->v);
  v->v = NULL;
  v->n = 0;
}

int cx__strv_contains(const cx_strv *v, const char *s) {
  for (size_t i = 0; i < v->n; i++)
    if (strcmp(v->v[i], s) == 0) return 1;
  return 0;
}

/* ---- diagnostics ---- */

void cx_diags_init(cx_diags *d) { memset(d, 0, sizeof *d); }

void cx_diags_destroy(cx_diags *d) {
  if (d == NULL) return;
  for (size_t i = 0; i < d->n; i++) {
    free(d->v[i].path);
    free(d->v[i].message);
  }
  free(d->v);
  cx_diags_init(d);
}

void cx_diags_add(cx_diags *d, cx_severity sev, const char *path, int line,
                  int col, const char *fmt, ...) {
  if (d == NULL) return;
  if (d->n == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 8;
    d->v = cx_xrealloc(d->v, d->cap * sizeof *d->v);
  }
  cx__buf b;
  cx__buf_init(&b);
  va_list ap;
  va_start(ap, fmt);
  cx__buf_vprintf(&b, fmt, ap);
  va_end(ap);
  cx_diag *x = &d->v[d->n++];
  x->severity = sev;
  x->path = cx_xstrdup(path ? path : "<input>");
  x->line = line;
  x->col = col;
  x->message = cx__buf_detach(&b);
  if (sev == CX_DIAG_ERROR) d->nerrors++;
  else d->nwarnings++;
}

void cx_diags_append(cx_diags *dst, cx_diags *src) {
  for (size_t i = 0; i < src->n; i++) {
    if (dst->n == dst->cap) {
      dst->cap = dst->cap ? dst->cap * 2 : 8;
      dst->v = cx_xrealloc(dst->v, dst->cap * sizeof *dst->v);
    }
    dst->v[dst->n++] = src->v[i];
  }
  dst->nerrors += src->nerrors;
  dst->nwarnings += src->nwarnings;
  free(src->v);
  cx_diags_init(src);
}

void cx_diags_print(const cx_diags *d, void *stream) {
  FILE *f = stream;
  for (size_t i = 0; i < d->n; i++) {
    const cx_diag *x = &d->v[i];
    const char *sev = x->severity == CX_DIAG_ERROR ? "error" : "warning";
    if (x->line > 0 && x->col > 0)
      fprintf(f, "%s:%d:%d: %s: %s\n", x->path, x->line, x->col, sev, x->message);
    else if (x->line > 0)
      fprintf(f, "%s:%d: %s: %s\n", x->path, x->line, sev, x->message);
    else
      fprintf(f, "%s: %s: %s\n", x->path, sev, x->message);
  }
}
