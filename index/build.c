/* build.c — cx_index_build: parser threads feeding one SQLite writer, incremental reuse. */
#include "cx_build.h"
#include "cx_json.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- string map: open addressing, linear probing, FNV-1a ---- */

static size_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return (size_t)(h ^ (h >> 32));
}

void cx__strmap_init(cx__strmap *m) { memset(m, 0, sizeof *m); }

void cx__strmap_destroy(cx__strmap *m, void (*free_value)(void *)) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->v[i].key) {
      free(m->v[i].key);
      if (free_value) free_value(m->v[i].value);
    }
  free(m->v);
  cx__strmap_init(m);
}

void *cx__strmap_get(const cx__strmap *m, const char *key) {
  if (m->cap == 0) return NULL;
  for (size_t i = str_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->v[i].key == NULL) return NULL;
    if (strcmp(m->v[i].key, key) == 0) return m->v[i].value;
  }
}

static cx__strmap_entry *slot_for(cx__strmap_entry *v, size_t cap, const char *key) {
  size_t i = str_hash(key) & (cap - 1);
  while (v[i].key && strcmp(v[i].key, key) != 0) i = (i + 1) & (cap - 1);
  return &v[i];
}

void *cx__strmap_put(cx__strmap *m, const char *key, void *value) {
  if ((m->n + 1) * 2 > m->cap) { /* load factor <= 1/2 */
    size_t cap = m->cap ? m->cap * 2 : 64;
    cx__strmap_entry *v = cx_xcalloc(cap, sizeof *v);
    for (size_t i = 0; i < m->cap; i++)
      if (m->v[i].key) *slot_for(v, cap, m->v[i].key) = m->v[i];
    free(m->v);
    m->v = v;
    m->cap = cap;
  }
  cx__strmap_entry *e = slot_for(m->v, m->cap, key);
  if (e->key) {
    void *prev = e->value;
    e->value = value;
    return prev;
  }
  e->key = cx_xstrdup(key);
  e->value = value;
  m->n++;
  return NULL;
}

/* ---- a parsed card's stored JSON and cx_hits row, written directly ----
 * Byte for byte what json_dumps(JSON_COMPACT) makes of cx_card_to_json (with
 * "sections": null, see CX__SCHEMA_SQL) and of cx__hit_base of it
 * (test_index and test_build_hits compare them), without building jansson
 * objects: a tenth of a parser thread's time went there. The parser has
 * validated the file's UTF-8, so every string is valid. */

static void js_str(cx__buf *b, const char *s) {
  if (s) cx__json_put_string(b, s, strlen(s));
  else cx__buf_add(b, "null", 4);
}

/* ,"key": (or without the comma for the first key), in one copy */
static void js_key_n(cx__buf *b, const char *key, size_t n) {
  cx__buf_reserve(b, n + 4);
  char *p = b->p + b->n;
  if (b->n && b->p[b->n - 1] != '{') *p++ = ',';
  *p++ = '"';
  memcpy(p, key, n);
  p += n;
  *p++ = '"';
  *p++ = ':';
  *p = '\0';
  b->n = (size_t)(p - b->p);
}
#define js_key(b, literal) js_key_n(b, literal, sizeof literal - 1)

static void js_strv(cx__buf *b, const cx_strv *v, int open, int close) {
  if (open) cx__buf_putc(b, '[');
  for (size_t i = 0; i < v->n; i++) {
    if (v->v[i] == NULL) continue; /* json_string(NULL) is not appended */
    if (b->p[b->n - 1] != '[') cx__buf_putc(b, ',');
    js_str(b, v->v[i]);
  }
  if (close) cx__buf_putc(b, ']');
}

/* [{"k0":..,"k1":..,"k2":..},...] of three strings (or nulls) per element */
static void js_triples(cx__buf *b, size_t n, const char *const *keys,
                       const char *(*get)(const cx_card *, size_t, int), const cx_card *card) {
  cx__buf_putc(b, '[');
  for (size_t i = 0; i < n; i++) {
    if (i) cx__buf_putc(b, ',');
    cx__buf_putc(b, '{');
    for (int k = 0; k < 3; k++) {
      js_key_n(b, keys[k], strlen(keys[k]));
      js_str(b, get(card, i, k));
    }
    cx__buf_putc(b, '}');
  }
  cx__buf_putc(b, ']');
}

static const char *source_field(const cx_card *c, size_t i, int k) {
  return k == 0 ? c->sources[i].title : k == 1 ? c->sources[i].id : c->sources[i].locator;
}

static const char *action_field(const cx_card *c, size_t i, int k) {
  return k == 0 ? c->actions[i].type : k == 1 ? c->actions[i].target : c->actions[i].label;
}

static void card_rows(const cx_card *card, char **json, char **hit) {
  static const char *const skeys[3] = {"title", "id", "locator"};
  static const char *const akeys[3] = {"type", "target", "label"};
  cx__buf src, act, b, h;
  cx__buf_init(&src);
  cx__buf_init(&act);
  js_triples(&src, card->nsources, skeys, source_field, card);
  js_triples(&act, card->nactions, akeys, action_field, card);

  cx__buf_init(&b);
  cx__buf_reserve(&b, 4096);
  cx__buf_putc(&b, '{');
  js_key(&b, "id");
  js_str(&b, card->id);
  js_key(&b, "number");
  if (card->number >= 0) { /* as "%d", without printf */
    char digits[16];
    size_t nd = 0;
    for (int v = card->number; nd == 0 || v > 0; v /= 10) digits[nd++] = (char)('0' + v % 10);
    while (nd > 0) cx__buf_putc(&b, digits[--nd]);
  } else {
    cx__buf_add(&b, "null", 4);
  }
  js_key(&b, "query");
  js_str(&b, card->query);
  js_key(&b, "title");
  js_str(&b, card->title);
  js_key(&b, "path");
  js_str(&b, card->path);
  js_key(&b, "packs");
  js_strv(&b, &card->packs, 1, 1);
  js_key(&b, "primary_ids");
  js_strv(&b, &card->primary_ids, 1, 1);
  js_key(&b, "overlap_ids");
  js_strv(&b, &card->overlap_ids, 1, 1);
  js_key(&b, "capability_tags");
  js_strv(&b, &card->capability_tags, 1, 1);
  js_key(&b, "flags");
  js_strv(&b, &card->flags, 1, 1);
  js_key(&b, "sources");
  cx__buf_add(&b, src.p, src.n);
  js_key(&b, "ui");
  cx__buf_putc(&b, '{');
  js_key(&b, "cards_hint");
  js_strv(&b, &card->cards_hint, 1, 1);
  js_key(&b, "actions");
  cx__buf_add(&b, act.p, act.n);
  cx__buf_putc(&b, '}');
  js_key(&b, "output_mode");
  js_str(&b, card->output_mode);
  js_key(&b, "graph_required");
  cx__buf_puts(&b, card->graph_required < 0 ? "null" : card->graph_required ? "true" : "false");
  js_key(&b, "notes");
  js_str(&b, card->notes);
  js_key(&b, "body");
  js_str(&b, card->body);
  js_key(&b, "sections");
  cx__buf_add(&b, "null", 4);
  js_key(&b, "links");
  js_strv(&b, &card->links, 1, 1);
  js_key(&b, "extra");
  if (card->nextras == 0) {
    cx__buf_add(&b, "{}", 2);
  } else {
    /* Rare, and jansson decides duplicate keys and the values' formatting. */
    json_t *extra = json_object();
    for (size_t i = 0; i < card->nextras; i++) {
      json_t *v = json_loads(card->extras[i].json, JSON_DECODE_ANY, NULL);
      json_object_set_new(extra, card->extras[i].key, v ? v : json_string(card->extras[i].json));
    }
    char *d = json_dumps(extra, JSON_COMPACT); /* reals at jansson's own precision */
    cx__buf_puts(&b, d ? d : "{}");
    free(d);
    json_decref(extra);
  }
  js_key(&b, "hash");
  js_str(&b, card->hash);
  cx__buf_putc(&b, '}');
  *json = cx__buf_detach(&b);

  cx__buf_init(&h);
  cx__buf_putc(&h, '{');
  js_key(&h, "id");
  js_str(&h, card->id ? card->id : "");
  js_key(&h, "question");
  js_str(&h, card->query ? card->query : "");
  js_key(&h, "title");
  js_str(&h, card->title ? card->title : card->query ? card->query : "");
  js_key(&h, "packs");
  js_strv(&h, &card->packs, 1, 1);
  js_key(&h, "tags");
  js_strv(&h, &card->capability_tags, 1, 1);
  js_key(&h, "clause_ids");
  js_strv(&h, &card->primary_ids, 1, 0);
  js_strv(&h, &card->overlap_ids, 0, 1);
  js_key(&h, "sources");
  cx__buf_add(&h, src.p, src.n);
  js_key(&h, "actions");
  cx__buf_add(&h, act.p, act.n);
  cx__buf_putc(&h, '}');
  *hit = cx__buf_detach(&h);
  cx__buf_destroy(&src);
  cx__buf_destroy(&act);
}

/* ---- the pipeline ---- */

typedef struct slot {
  cx__item item;
  int done;  /* parsed, waiting for the writer */
  int dirty; /* handed to the sink: to be cleared by whoever reuses the slot */
} slot;

/* A parser thread's own tools: FTS5 tokenizers, and a connection to the old
 * index for the texts of unchanged cards (opened on first use). */
typedef struct parser_tls {
  cx__term_counter *tc;
  sqlite3 *old;
  sqlite3_stmt *old_fts;
  int old_failed;
} parser_tls;

static void tls_destroy(parser_tls *t) {
  cx__term_counter_free(t->tc);
  sqlite3_finalize(t->old_fts);
  sqlite3_close(t->old);
  memset(t, 0, sizeof *t);
}

/* The FTS texts of an unchanged card, from the old index; 0 when they cannot
 * be read (the writer then reads them itself). */
static int old_texts(const cx__pipeline *p, parser_tls *t, cx__item *it) {
  if (t->old == NULL && !t->old_failed) {
    if (sqlite3_open_v2(p->old_path, &t->old, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(t->old, "SELECT question, tags, answer, sources FROM fts"
                           " WHERE rowid = ?1", -1, &t->old_fts, NULL) != SQLITE_OK) {
      sqlite3_close(t->old);
      t->old = NULL;
      t->old_failed = 1;
    }
  }
  if (t->old_fts == NULL) return 0;
  sqlite3_bind_int64(t->old_fts, 1, it->old_rowid);
  int ok = sqlite3_step(t->old_fts) == SQLITE_ROW;
  if (ok) {
    cx__buf *col[4] = {&it->doc.question, &it->doc.tags, &it->doc.answer, &it->doc.sources};
    for (int c = 0; c < 4; c++) {
      cx__buf_init(col[c]);
      const char *v = (const char *)sqlite3_column_text(t->old_fts, c);
      cx__buf_add(col[c], v ? v : "", v ? (size_t)sqlite3_column_bytes(t->old_fts, c) : 0);
    }
    it->has_doc = 1;
  }
  sqlite3_reset(t->old_fts);
  return ok;
}

static void count_terms(parser_tls *t, cx__item *it) {
  const char *col[4] = {it->doc.question.p, it->doc.tags.p, it->doc.answer.p,
                        it->doc.sources.p};
  const size_t len[4] = {it->doc.question.n, it->doc.tags.n, it->doc.answer.n,
                         it->doc.sources.n};
  cx__term_counter_count(t->tc, col, len, &it->terms);
  it->has_terms = 1;
}

typedef struct pipe_state {
  const cx__pipeline *p;
  parser_tls *tls; /* one per thread, and one for the calling thread */
  slot *slots;
  size_t window;
  size_t next;     /* next file a parser thread claims */
  size_t consumed; /* files handed to the sink so far */
  int stop;
  pthread_mutex_t mu;
  pthread_cond_t ready, space;
} pipe_state;

static void process(const cx__pipeline *p, parser_tls *tls, cx__item *it) {
  const char *path = it->file->path;
  size_t max = p->opts->parse.max_bytes ? p->opts->parse.max_bytes : CX_DEFAULT_MAX_CARD_BYTES;
  char *data;
  size_t len;
  it->mtime_ns = it->file->mtime_ns;
  it->rc = cx__read_file(path, max, &data, &len, &it->mtime_ns, &it->diags);
  if (it->rc) return;
  it->size = (int64_t)len;
  cx_hash_hex(data, len, it->hash);
  if (p->old) {
    /* Size and hash of the bytes decide; the mtime is not trusted (copies,
     * checkouts and coarse clocks keep it equal across edits). */
    const cx__old_file *of = cx__strmap_get(p->old, path);
    if (of && of->card > 0 && of->size == it->size && strcmp(of->hash, it->hash) == 0) {
      it->old_rowid = of->card;
      free(data);
      if (p->count_terms && p->old_path && old_texts(p, tls, it)) count_terms(tls, it);
      return;
    }
  }
  it->rc = cx__card_parse_hashed(path, data, len, it->hash, &p->opts->parse, &it->card,
                                 &it->diags);
  free(data);
  if (it->rc) {
    if (it->diags.nerrors == 0)
      cx_diags_add(&it->diags, CX_DIAG_ERROR, path, 0, 0, "%s", cx_strerror(it->rc));
    cx_card_free(it->card);
    it->card = NULL;
    return;
  }
  if (p->make_docs) {
    card_rows(it->card, &it->json, &it->hit);
    cx__hit_texts(it->card, &it->plain, &it->others);
    cx__fts_doc_build(it->card, &it->doc);
    it->has_doc = 1;
    if (p->count_terms) count_terms(tls, it);
  }
}

static void item_clear(cx__item *it) {
  cx_card_free(it->card);
  free(it->json);
  free(it->hit);
  free(it->plain);
  free(it->others);
  if (it->has_doc) cx__fts_doc_destroy(&it->doc);
  if (it->has_terms) cx__doc_terms_destroy(&it->terms);
  cx_diags_destroy(&it->diags);
  memset(it, 0, sizeof *it);
}

typedef struct worker_arg {
  pipe_state *ps;
  parser_tls *tls;
} worker_arg;

static void *worker(void *arg) {
  pipe_state *ps = ((worker_arg *)arg)->ps;
  parser_tls *tls = ((worker_arg *)arg)->tls;
  for (;;) {
    pthread_mutex_lock(&ps->mu);
    /* Stay at most `window` files ahead of the writer: memory stays bounded
     * however large the corpus. */
    while (!ps->stop && ps->next < ps->p->files->n && ps->next >= ps->consumed + ps->window)
      pthread_cond_wait(&ps->space, &ps->mu);
    if (ps->stop || ps->next >= ps->p->files->n) {
      pthread_mutex_unlock(&ps->mu);
      return NULL;
    }
    size_t i = ps->next++;
    pthread_mutex_unlock(&ps->mu);

    slot *s = &ps->slots[i % ps->window];
    /* The previous file's memory is freed here rather than on the writer,
     * which is the build's critical path (and frees into this thread's
     * malloc arena cost it more). */
    if (s->dirty) item_clear(&s->item);
    s->dirty = 0;
    memset(&s->item, 0, sizeof s->item);
    s->item.file = &ps->p->files->v[i];
    process(ps->p, tls, &s->item);

    pthread_mutex_lock(&ps->mu);
    s->done = 1;
    pthread_cond_signal(&ps->ready);
    pthread_mutex_unlock(&ps->mu);
  }
}

static void progress(const cx__pipeline *p, size_t done, int64_t t0, int64_t *last, int final) {
  int64_t now = cx__now_us();
  if (final) {
    if (*last) fputs("\r\033[K", stderr);
    return;
  }
  /* Nothing for small corpora; then at most ten redraws a second. */
  if (now - t0 < 500000 || now - *last < 100000) return;
  *last = now;
  double secs = (double)(now - t0) / 1e6;
  double rate = (double)done / secs;
  double eta = rate > 0 ? (double)(p->files->n - done) / rate : 0;
  fprintf(stderr, "\r\033[Kcardex-index: %s %zu/%zu files, %.0f files/s, ETA %.0f s", p->what,
          done, p->files->n, rate, eta);
  fflush(stderr);
}

int cx__pipeline_run(const cx__pipeline *p) {
  size_t n = p->files->n;
  int threads = p->opts->threads > 0 ? p->opts->threads : cx__ncores();
  if (threads > 64) threads = 64;
  if ((size_t)threads > n) threads = n > 0 ? (int)n : 1;

  pipe_state ps;
  memset(&ps, 0, sizeof ps);
  ps.p = p;
  ps.window = 64 * (size_t)threads;
  ps.slots = cx_xcalloc(ps.window, sizeof *ps.slots);
  pthread_mutex_init(&ps.mu, NULL);
  pthread_cond_init(&ps.ready, NULL);
  pthread_cond_init(&ps.space, NULL);

  pthread_t *tids = cx_xcalloc((size_t)threads, sizeof *tids);
  worker_arg *args = cx_xcalloc((size_t)threads, sizeof *args);
  ps.tls = cx_xcalloc((size_t)threads + 1, sizeof *ps.tls);
  int rc = 0;
  if (p->count_terms)
    for (int t = 0; t <= threads && rc == 0; t++) {
      if ((ps.tls[t].tc = cx__term_counter_new(NULL)) == NULL) rc = CX_ESQLITE;
      else if (!p->opts->keep_going) cx__term_counter_words_once(ps.tls[t].tc);
    }
  int started = 0;
  for (int t = 0; t < threads && n > 0 && rc == 0; t++) {
    args[t] = (worker_arg){&ps, &ps.tls[t]};
    if (pthread_create(&tids[t], NULL, worker, &args[t]) != 0) break;
    started++;
  }

  int64_t t0 = cx__now_us(), last = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    slot *s = &ps.slots[i % ps.window];
    if (started == 0) {
      /* No thread could be started: parse here, one file at a time. */
      memset(&s->item, 0, sizeof s->item);
      s->item.file = &p->files->v[i];
      process(p, &ps.tls[threads], &s->item);
    } else {
      pthread_mutex_lock(&ps.mu);
      while (!s->done) pthread_cond_wait(&ps.ready, &ps.mu);
      pthread_mutex_unlock(&ps.mu);
    }
    rc = p->sink(p->ctx, &s->item);
    if (started == 0) item_clear(&s->item);
    pthread_mutex_lock(&ps.mu);
    s->done = 0;
    s->dirty = started > 0;
    ps.consumed = i + 1;
    if (rc) ps.stop = 1;
    pthread_cond_broadcast(&ps.space);
    pthread_mutex_unlock(&ps.mu);
    if (rc) break;
    if (p->opts->progress) progress(p, i + 1, t0, &last, 0);
  }
  for (int t = 0; t < started; t++) pthread_join(tids[t], NULL);
  if (p->opts->progress) progress(p, n, t0, &last, 1);
  /* After a stop, files parsed ahead of the writer are dropped. */
  for (size_t i = 0; i < ps.window; i++)
    if (ps.slots[i].done || ps.slots[i].dirty) item_clear(&ps.slots[i].item);
  for (int t = 0; t <= threads; t++) tls_destroy(&ps.tls[t]);
  free(ps.tls);
  free(args);
  free(tids);
  free(ps.slots);
  pthread_mutex_destroy(&ps.mu);
  pthread_cond_destroy(&ps.ready);
  pthread_cond_destroy(&ps.space);
  return rc;
}

/* ---- timings ---- */

static int timings;
static int64_t phase_wall0, phase_wall, phase_cpu;

int cx__timings(void) { return timings; }

void cx__phase(const char *name) {
  if (name == NULL) {
    const char *v = getenv("CARDEX_BUILD_TIMINGS");
    timings = v && *v && strcmp(v, "0") != 0;
    phase_wall0 = phase_wall = cx__now_us();
    phase_cpu = cx__thread_cpu_us();
    return;
  }
  if (!timings) return;
  int64_t w = cx__now_us(), c = cx__thread_cpu_us();
  fprintf(stderr, "cardex-index: timing: %-12s %7.3f s wall, %7.3f s writer cpu (at %.3f s)\n",
          name, (double)(w - phase_wall) / 1e6, (double)(c - phase_cpu) / 1e6,
          (double)(w - phase_wall0) / 1e6);
  phase_wall = w;
  phase_cpu = c;
}

/* ---- fingerprint ---- */

/* Every kind of field, so that a change in how any of them is parsed or
 * indexed changes the fingerprint. */
static const char sample_card[] =
    "id: Q900\n"
    "query: >-\n  What is an ISMS and how do we build one?\n"
    "packs:\n  - \"ISO27001:2022\"\n"
    "primary_ids:\n  - \"ISO27001:2022/A.5.15\"\n"
    "overlap_ids:\n  - \"GDPR:2016/Art.35\"\n"
    "capability_tags: [\"Workflow\", \"Draft Doc\"]\n"
    "flags: [beta]\n"
    "sources:\n  - title: \"ISO/IEC 27001:2022 \xe2\x80\x94 Context\"\n"
    "    id: \"ISO27001:2022/4\"\n    locator: \"Clause 4\"\n"
    "ui:\n  cards_hint: [\"ISMS wizard\"]\n"
    "  actions:\n    - type: \"start_workflow\"\n      target: \"build_isms\"\n"
    "      label: \"Launch\"\n"
    "output_mode: \"both\"\ngraph_required: true\nnotes: \"n\"\nextra_key: 1\n"
    "---\n"
    "### 900) What is an ISMS?\n\n"
    "**Standard terms**  \n- **Scope (Cl. 4):** defines the *ISMS* scope.\n\n"
    "**Plain-English answer**  \nAn ISMS is a `framework` of [policies](http://x).\n\n"
    "**Likely follow-ups**  \n- \xe2\x80\x9cWhat documents?\xe2\x80\x9d (See Q081)\n\n"
    "## Heading section\n\nText under a heading.\n\n"
    "**Sources**  \n- ISO/IEC 27001:2022 Clause 4\n";

void cx__builder_fingerprint(const cx_parse_opts *opts, char out[17]) {
  cx__buf b;
  cx__buf_init(&b);
  cx__buf_printf(&b, "schema %d; tool %s; sqlite %s; max_bytes %zu; aliases %d\n",
                 CX_SCHEMA_VERSION, CARDEX_VERSION, sqlite3_libversion(),
                 opts->max_bytes ? opts->max_bytes : (size_t)CX_DEFAULT_MAX_CARD_BYTES,
                 opts->max_alias_expansions);
  cx_card *card = NULL;
  cx_diags d;
  cx_diags_init(&d);
  if (cx_card_parse("<sample>", sample_card, sizeof sample_card - 1, opts, &card, &d) == 0) {
    /* The stored JSON and the query engine's hit row too: incremental
     * builds copy old ones. */
    char *json, *hit, *plain, *others;
    card_rows(card, &json, &hit);
    cx__hit_texts(card, &plain, &others);
    cx__buf_printf(&b, "%s\n%s\n%s\n%s", json, hit, plain ? plain : "(null)",
                   others ? others : "(null)");
    free(json);
    free(hit);
    free(plain);
    free(others);
    cx__fts_doc doc;
    cx__fts_doc_build(card, &doc);
    cx__buf_printf(&b, "\n%s\n%s\n%s\n%s\n", doc.question.p ? doc.question.p : "",
                   doc.tags.p ? doc.tags.p : "", doc.answer.p ? doc.answer.p : "",
                   doc.sources.p ? doc.sources.p : "");
    cx__fts_doc_destroy(&doc);
  } else {
    /* A parser that cannot read the sample cannot vouch for old rows. */
    cx__buf_printf(&b, "unparsable sample %lld %ld", (long long)cx__now_us(), (long)getpid());
  }
  for (size_t i = 0; i < d.n; i++)
    cx__buf_printf(&b, "%d:%d:%d:%s\n", d.v[i].severity, d.v[i].line, d.v[i].col,
                   d.v[i].message);
  cx_diags_destroy(&d);
  cx_card_free(card);
  cx_hash_hex(b.p, b.n, out);
  cx__buf_destroy(&b);
}

/* ---- cx_index_build ---- */

typedef struct build_ctx {
  cx__store *st;
  const cx_build_opts *opts;
  cx__strmap *old;
  cx__strmap ids; /* card id -> path (borrowed from the file list) */
  cx_diags *diags;
  cx_build_stats *stats;
  cx_err *err;
} build_ctx;

static void add_dup(cx_diags *diags, const char *path, const char *id, const char *first) {
  int line, col;
  cx__locate_in_file(path, "id", id, &line, &col);
  cx_diags_add(diags, CX_DIAG_ERROR, path, line, col,
               "duplicate id %s (also in %s); give one of them another id", id, first);
}

static int build_sink(void *ctx, cx__item *it) {
  build_ctx *b = ctx;
  int rc = 0;
  if (b->old) {
    cx__old_file *of = cx__strmap_get(b->old, it->file->path);
    if (of) of->seen = 1;
  }
  /* Once a strict build has failed, only diagnostics matter. */
  int writing = b->opts->keep_going || b->diags->nerrors == 0;
  if (it->rc) {
    cx_diags_append(b->diags, &it->diags);
    if (writing && b->opts->keep_going) rc = cx__store_file(b->st, it, b->err);
    return rc;
  }
  char *old_id = NULL;
  const char *id;
  if (it->old_rowid) {
    old_id = cx__store_old_id(b->st, it->old_rowid, b->err);
    if (old_id == NULL) return b->err && b->err->code ? b->err->code : CX_ECORRUPT;
    id = old_id;
  } else {
    id = it->card->id;
  }
  const char *first = cx__strmap_get(&b->ids, id);
  if (first) {
    cx_diags_append(b->diags, &it->diags);
    add_dup(b->diags, it->file->path, id, first);
    if (b->opts->keep_going) rc = cx__store_file(b->st, it, b->err);
    free(old_id);
    return rc;
  }
  cx__strmap_put(&b->ids, id, (void *)it->file->path);
  free(old_id);
  writing = b->opts->keep_going || b->diags->nerrors == 0;
  if (it->old_rowid) {
    if (writing) rc = cx__store_copy(b->st, it, b->diags, b->err);
    b->stats->reused++;
  } else {
    if (writing) rc = cx__store_card(b->st, it, b->err);
    b->stats->parsed++;
  }
  cx_diags_append(b->diags, &it->diags);
  return rc;
}

/* 1 when every file is the one the old index was built from: same paths,
 * sizes, mtimes and bytes. Sizes and mtimes are compared first, so that a
 * changed corpus is usually told apart without reading anything. */
static int files_unchanged(const cx__files *files, const cx__strmap *old,
                           const cx_build_opts *opts) {
  if (files->n != old->n) return 0;
  for (size_t i = 0; i < files->n; i++) {
    const cx__old_file *of = cx__strmap_get(old, files->v[i].path);
    if (of == NULL || of->size != files->v[i].size || of->mtime_ns != files->v[i].mtime_ns)
      return 0;
  }
  size_t max = opts->parse.max_bytes ? opts->parse.max_bytes : CX_DEFAULT_MAX_CARD_BYTES;
  for (size_t i = 0; i < files->n; i++) {
    const cx__old_file *of = cx__strmap_get(old, files->v[i].path);
    char *data, hash[17];
    size_t len;
    if (cx__read_file(files->v[i].path, max, &data, &len, NULL, NULL) != 0) return 0;
    cx_hash_hex(data, len, hash);
    free(data);
    if ((int64_t)len != of->size || strcmp(hash, of->hash) != 0) return 0;
  }
  return 1;
}

/* What is at out_path now: 0 nothing (or something replaceable), 1 a cardex
 * index, or an error when replacing it would destroy something else. */
static int probe_out(const char *out_path, cx_err *err) {
  struct stat st;
  if (stat(out_path, &st) != 0) {
    if (errno == ENOENT) return 0;
    return cx_err_set(err, CX_EIO, NULL, "%s: %s", out_path, strerror(errno));
  }
  if (S_ISDIR(st.st_mode))
    return cx_err_set(err, CX_EINVAL, "out", "%s is a directory; the output must be a file "
                      "path such as %s/cardex.db", out_path, out_path);
  if (!S_ISREG(st.st_mode))
    return cx_err_set(err, CX_EINVAL, "out", "%s is not a regular file; choose another "
                      "output path", out_path);
  if (st.st_size == 0) return 0;
  char head[16] = {0};
  int fd = open(out_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cx_err_set(err, CX_EIO, NULL, "%s: %s", out_path, strerror(errno));
  ssize_t r = read(fd, head, sizeof head);
  close(fd);
  if (r != (ssize_t)sizeof head || memcmp(head, "SQLite format 3", 16) != 0)
    return cx_err_set(err, CX_EINVAL, "out", "refusing to replace %s: it is not a cardex "
                      "index (move it away or choose another output path)", out_path);
  sqlite3 *db = NULL;
  int kind = 0;
  if (sqlite3_open_v2(out_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1,
                                &q, NULL);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(q);
      kind = rc == SQLITE_ROW ? 1 : 0;
      if (rc == SQLITE_DONE) rc = SQLITE_ERROR; /* a meta table without our keys */
      else if (rc == SQLITE_ROW) rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    int ext = sqlite3_extended_errcode(db);
    /* A readable SQLite file without our meta table is someone else's data.
     * A damaged one (or one that is not really SQLite) is ours to replace. */
    if (rc != SQLITE_OK && ext != SQLITE_CORRUPT && ext != SQLITE_NOTADB &&
        (ext & 0xff) != SQLITE_IOERR) {
      sqlite3_close(db);
      return cx_err_set(err, CX_EINVAL, "out", "refusing to replace %s: it is an SQLite "
                        "database but not a cardex index (move it away or choose another "
                        "output path)", out_path);
    }
  }
  sqlite3_close(db);
  return kind;
}

static char *json_paths(const char *const *paths, size_t npaths) {
  json_t *a = json_array();
  for (size_t i = 0; i < npaths; i++) json_array_append_new(a, json_string(paths[i]));
  char *s = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  return s;
}

/* One build; *used_old is set when the existing index was opened for reuse. */
static int build_once(const char *const *paths, size_t npaths, const char *out_path,
                      const cx_build_opts *opts_in, cx_build_stats *stats_out,
                      cx_diags *diags_out, cx_err *err, int *used_old) {
  int64_t t0 = cx__now_us();
  cx_build_opts opts;
  memset(&opts, 0, sizeof opts);
  if (opts_in) opts = *opts_in;
  cx_build_stats stats;
  memset(&stats, 0, sizeof stats);
  if (err) err->code = 0;
  if (out_path == NULL || *out_path == '\0')
    return cx_err_set(err, CX_EINVAL, "out", "no output path given; name the index file to write");
  if (npaths == 0)
    return cx_err_set(err, CX_EINVAL, "paths", "no seeds given; name card files or directories");

  int rc = probe_out(out_path, err);
  if (rc < 0) return rc;
  int have_old = rc == 1 && !opts.full;
  *used_old = have_old;

  cx_diags diags;
  cx_diags_init(&diags);
  cx__files files = {0};
  cx__synonyms syn = {0};
  cx__strmap old;
  cx__strmap_init(&old);
  build_ctx b;
  memset(&b, 0, sizeof b);
  cx__strmap_init(&b.ids);
  cx__store *st = NULL;
  char *syn_path = NULL, *seeds = NULL;
  char fp[17];

  json_object_seed(0); /* before any thread makes JSON objects */
  cx__phase(NULL);
  /* Sizes and mtimes are only compared with an old index's (files_unchanged);
   * otherwise the parser threads learn them as they read. */
  cx__walk(paths, npaths, have_old, &files, &diags);
  if (files.n == 0 && diags.nerrors == 0)
    cx_diags_add(&diags, CX_DIAG_WARNING, paths[0], 0, 0,
                 "no card files found (cards are *.md files, README.md excepted)");
  int explicit_syn = 0;
  syn_path = cx__synonyms_path(paths, npaths, &opts, &explicit_syn);
  if (syn_path && cx__synonyms_load(syn_path, &syn, &diags) != 0) cx__synonyms_destroy(&syn);

  cx__builder_fingerprint(&opts.parse, fp);
  if ((rc = cx__store_open(out_path, have_old ? out_path : NULL, &st, err)) != 0) goto done;
  if (have_old && (rc = cx__store_load_old(st, fp, &old, err)) != 0) goto done;
  seeds = json_paths(paths, npaths);
  /* Nothing changed at all: the old index is exactly what this build would
   * write (built_at aside), so it is left as it is. A daemon reloading on a
   * touched file, or a build run twice, costs a read of the corpus. */
  if (old.n > 0 && diags.nerrors == 0 &&
      cx__store_old_same_inputs(st, seeds, syn_path, &syn) &&
      files_unchanged(&files, &old, &opts)) {
    rc = cx__store_old_warnings(st, &diags, err);
    if (rc == 0) stats.cards = stats.reused = files.n;
    cx__phase("unchanged");
    goto done;
  }
  cx__phase("prepare");

  b.st = st;
  b.opts = &opts;
  b.old = old.n ? &old : NULL;
  b.diags = &diags;
  b.stats = &stats;
  b.err = err;
  cx__pipeline p = {&files, &opts, b.old, 1, build_sink, &b, "indexing", 1,
                    b.old ? out_path : NULL};
  if ((rc = cx__pipeline_run(&p)) != 0) {
    if (rc == CX_ESQLITE && (err == NULL || err->code == 0))
      cx_err_set(err, rc, NULL, "cannot create the FTS5 tokenizers");
    goto done;
  }
  cx__phase("parse+insert");
  stats.files = files.n;

  if (diags.nerrors > 0 && !opts.keep_going) {
    rc = cx_err_set(err, CX_EPARSE, NULL, "%zu error%s: nothing written, %s left as it was "
                    "(fix the cards, or build with --keep-going to skip them)",
                    diags.nerrors, diags.nerrors == 1 ? "" : "s", out_path);
    goto done;
  }
  for (size_t i = 0; i < old.cap; i++) {
    const cx__old_file *of = old.v[i].value;
    if (old.v[i].key && !of->seen) stats.removed++;
  }
  if ((rc = cx__store_synonyms(st, &syn, err)) != 0 ||
      (rc = cx__store_dangling(st, &diags, err)) != 0)
    goto done;

  char buf[64], now[32];
  cx__utc_now(now);
  const struct { const char *k; const char *v; } meta[] = {
      {"tool_version", CARDEX_VERSION},
      {"built_at", now},
      {"seeds", seeds},
      {"synonyms", syn_path ? syn_path : ""},
      {"builder_fingerprint", fp},
      {"sqlite_version", sqlite3_libversion()},
  };
  for (size_t i = 0; i < sizeof meta / sizeof *meta && rc == 0; i++)
    rc = cx__store_meta(st, meta[i].k, meta[i].v, err);
  snprintf(buf, sizeof buf, "%d", CX_SCHEMA_VERSION);
  if (rc == 0) rc = cx__store_meta(st, "schema_version", buf, err);
  snprintf(buf, sizeof buf, "%lld", (long long)cx__store_cards(st));
  if (rc == 0) rc = cx__store_meta(st, "card_count", buf, err);
  snprintf(buf, sizeof buf, "%zu", files.n);
  if (rc == 0) rc = cx__store_meta(st, "file_count", buf, err);
  snprintf(buf, sizeof buf, "%zu", diags.nerrors);
  if (rc == 0) rc = cx__store_meta(st, "skipped_errors", buf, err);
  if (rc != 0) goto done;
  stats.cards = (size_t)cx__store_cards(st);
  /* The last steps take seconds on big corpora (a third of the time at
   * 100k cards): say so rather than look stuck. */
  int note = opts.progress && cx__now_us() - t0 > 500000;
  if (note) {
    fputs("\r\033[Kcardex-index: finishing: merging the full-text index, computing postings,"
          " syncing", stderr);
    fflush(stderr);
  }
  rc = cx__store_commit(st, err);
  if (note) fputs("\r\033[K", stderr);
  st = NULL;
  if (rc == 0 && diags.nerrors > 0)
    rc = cx_err_set(err, CX_EPARTIAL, NULL, "%zu error%s: the index was written without the "
                    "cards in error", diags.nerrors, diags.nerrors == 1 ? "" : "s");

done:
  cx__store_abort(st);
  stats.errors = diags.nerrors;
  stats.warnings = diags.nwarnings;
  stats.files = files.n;
  stats.seconds = (double)(cx__now_us() - t0) / 1e6;
  if (stats_out) *stats_out = stats;
  if (diags_out) cx_diags_append(diags_out, &diags);
  cx_diags_destroy(&diags);
  cx__strmap_destroy(&b.ids, NULL);
  cx__strmap_destroy(&old, free);
  cx__synonyms_destroy(&syn);
  cx__files_destroy(&files);
  free(syn_path);
  free(seeds);
  return rc;
}

int cx_index_build(const char *const *paths, size_t npaths, const char *out_path,
                   const cx_build_opts *opts, cx_build_stats *stats, cx_diags *diags,
                   cx_err *err) {
  cx_diags d;
  cx_diags_init(&d);
  int used_old = 0;
  int rc = build_once(paths, npaths, out_path, opts, stats, &d, err, &used_old);
  if (rc < 0 && rc != CX_EPARSE && rc != CX_EPARTIAL && rc != CX_EIO && used_old) {
    /* The existing index looked valid but could not be read back (a damaged
     * file): it is not needed, only a shortcut. Build without it. */
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err ? err->msg : cx_strerror(rc));
    cx_build_opts full;
    memset(&full, 0, sizeof full);
    if (opts) full = *opts;
    full.full = 1;
    cx_diags_destroy(&d);
    cx_diags_add(&d, CX_DIAG_WARNING, out_path, 0, 0,
                 "the existing index could not be reused (%s); built in full instead", why);
    rc = build_once(paths, npaths, out_path, &full, stats, &d, err, &used_old);
    if (stats) stats->warnings++;
  }
  if (diags) cx_diags_append(diags, &d);
  cx_diags_destroy(&d);
  return rc;
}
