/* check.c — cx_check (every card and the set of cards, nothing written) and the synonyms file. */
#include "cx_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* ---- synonyms ---- */

void cx__synonyms_destroy(cx__synonyms *syn) {
  for (size_t i = 0; i < syn->n; i++) cx__strv_free(&syn->groups[i]);
  free(syn->groups);
  syn->groups = NULL;
  syn->n = 0;
}

char *cx__synonyms_path(const char *const *paths, size_t npaths, const cx_build_opts *opts,
                        int *explicit_) {
  *explicit_ = 0;
  if (opts->synonyms_path && *opts->synonyms_path) {
    *explicit_ = 1;
    return cx_xstrdup(opts->synonyms_path);
  }
  for (size_t i = 0; i < npaths; i++) {
    struct stat st;
    if (stat(paths[i], &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    cx__buf b;
    cx__buf_init(&b);
    size_t n = strlen(paths[i]);
    cx__buf_printf(&b, "%s%ssynonyms.yaml", paths[i], n && paths[i][n - 1] == '/' ? "" : "/");
    if (stat(b.p, &st) == 0 && S_ISREG(st.st_mode)) return cx__buf_detach(&b);
    cx__buf_destroy(&b);
    return NULL; /* only the first directory is looked at */
  }
  return NULL;
}

static const char *event_what(yaml_event_type_t t) {
  switch (t) {
  case YAML_MAPPING_START_EVENT: return "a mapping";
  case YAML_SEQUENCE_START_EVENT: return "a sequence";
  case YAML_SCALAR_EVENT: return "a string";
  case YAML_ALIAS_EVENT: return "an alias";
  default: return "something else";
  }
}

static void trim(const char *s, size_t n, const char **out, size_t *outn) {
  while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
  *out = s;
  *outn = n;
}

#define MARK(m) (int)(m).line + 1, (int)(m).column + 1

int cx__synonyms_load(const char *path, cx__synonyms *syn, cx_diags *diags) {
  memset(syn, 0, sizeof *syn);
  char *data;
  size_t len;
  int rc = cx__read_file(path, 16 * 1024 * 1024, &data, &len, NULL, diags);
  if (rc) return rc;

  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
  /* Where we are: 0 before the top sequence, 1 in it (between groups), 2 in a
   * group, 3 after it. */
  int depth = 0, docs = 0, done = 0;
  size_t errors_before = diags ? diags->nerrors : 0;
  int failed = 0;
  yaml_mark_t group_mark = {0, 0, 0};
  cx__strmap seen; /* lowercased term -> group number, for the overlap warning */
  cx__strmap_init(&seen);

  while (!done && !failed) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      cx_diags_add(diags, CX_DIAG_ERROR, path, MARK(parser.problem_mark),
                   "invalid YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                   parser.context ? " " : "", parser.context ? parser.context : "");
      failed = 1;
      break;
    }
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    case YAML_DOCUMENT_START_EVENT:
      if (++docs > 1) {
        cx_diags_add(diags, CX_DIAG_ERROR, path, MARK(ev.start_mark),
                     "more than one YAML document; put every group in one sequence");
        failed = 1;
      }
      break;
    case YAML_SEQUENCE_START_EVENT:
      if (depth == 0) {
        depth = 1;
      } else if (depth == 1) {
        depth = 2;
        group_mark = ev.start_mark;
        syn->groups = cx_xrealloc(syn->groups, (syn->n + 1) * sizeof *syn->groups);
        memset(&syn->groups[syn->n++], 0, sizeof *syn->groups);
      } else {
        cx_diags_add(diags, CX_DIAG_ERROR, path, MARK(ev.start_mark),
                     "a term must be a string, not a sequence");
        failed = 1;
      }
      break;
    case YAML_SEQUENCE_END_EVENT:
      if (depth == 2) {
        cx_strv *g = &syn->groups[syn->n - 1];
        if (g->n < 2)
          cx_diags_add(diags, CX_DIAG_ERROR, path, MARK(group_mark),
                       "a synonym group needs at least two terms, this one has %zu", g->n);
        depth = 1;
      } else {
        depth = 3;
      }
      break;
    case YAML_SCALAR_EVENT:
      if (depth == 2) {
        const char *s;
        size_t n;
        trim((const char *)ev.data.scalar.value, ev.data.scalar.length, &s, &n);
        if (n == 0) {
          cx_diags_add(diags, CX_DIAG_ERROR, path, MARK(ev.start_mark),
                       "empty synonym term; remove it");
          break;
        }
        char *term = cx_xstrndup(s, n);
        char *key = cx_xstrdup(term);
        for (char *k = key; *k; k++)
          if (*k >= 'A' && *k <= 'Z') *k = (char)(*k - 'A' + 'a');
        size_t grp = syn->n;
        void *prev = cx__strmap_get(&seen, key);
        if (prev && (size_t)(uintptr_t)prev != grp)
          cx_diags_add(diags, CX_DIAG_WARNING, path, MARK(ev.start_mark),
                       "\"%s\" is also in group %zu; the two groups are not merged", term,
                       (size_t)(uintptr_t)prev);
        else if (!prev)
          cx__strmap_put(&seen, key, (void *)(uintptr_t)grp);
        free(key);
        cx__strv_push(&syn->groups[grp - 1], term);
        free(term);
        break;
      }
      if (depth == 0 && ev.data.scalar.length == 0) break; /* an empty file: no groups */
      /* fall through */
    case YAML_MAPPING_START_EVENT:
    case YAML_ALIAS_EVENT:
      if (depth == 0)
        cx_diags_add(diags, CX_DIAG_ERROR, path, MARK(ev.start_mark),
                     "expected a sequence of synonym groups such as "
                     "\"- [ISMS, information security management system]\", found %s",
                     event_what(ev.type));
      else
        cx_diags_add(diags, CX_DIAG_ERROR, path, MARK(ev.start_mark),
                     "expected a group (a sequence of terms such as "
                     "[ISMS, information security management system]), found %s",
                     event_what(ev.type));
      failed = 1;
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  cx__strmap_destroy(&seen, NULL);
  free(data);
  if (failed || (diags && diags->nerrors > errors_before)) {
    cx__synonyms_destroy(syn);
    return CX_EPARSE;
  }
  return 0;
}

/* ---- cx_check ---- */

typedef struct checked {
  const char *path;
  char *id;
  cx_strv links;
} checked;

typedef struct check_ctx {
  checked *v;
  size_t n, cap;
  cx__strmap ids; /* id -> path */
  cx_diags *diags;
  size_t cards;
} check_ctx;

static int check_sink(void *ctx, cx__item *it) {
  check_ctx *c = ctx;
  cx_diags_append(c->diags, &it->diags);
  if (it->rc) return 0;
  const cx_card *card = it->card;
  const char *first = cx__strmap_get(&c->ids, card->id);
  if (first) {
    int line, col;
    cx__locate_in_file(it->file->path, "id", card->id, &line, &col);
    cx_diags_add(c->diags, CX_DIAG_ERROR, it->file->path, line, col,
                 "duplicate id %s (also in %s); give one of them another id", card->id, first);
    return 0;
  }
  cx__strmap_put(&c->ids, card->id, (void *)it->file->path);
  c->cards++;
  if (card->links.n == 0) return 0;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 64;
    c->v = cx_xrealloc(c->v, c->cap * sizeof *c->v);
  }
  checked *k = &c->v[c->n++];
  k->path = it->file->path;
  k->id = cx_xstrdup(card->id);
  /* Take the links: the item is cleared after the sink returns. */
  k->links = it->card->links;
  it->card->links.v = NULL;
  it->card->links.n = 0;
  return 0;
}

int cx_check(const char *const *paths, size_t npaths, const cx_build_opts *opts_in,
             cx_build_stats *stats_out, cx_diags *diags_out, cx_err *err) {
  int64_t t0 = cx__now_us();
  cx_build_opts opts;
  memset(&opts, 0, sizeof opts);
  if (opts_in) opts = *opts_in;
  if (err) err->code = 0;
  if (npaths == 0)
    return cx_err_set(err, CX_EINVAL, "paths", "no seeds given; name card files or directories");

  cx_diags diags;
  cx_diags_init(&diags);
  cx__files files = {0};
  json_object_seed(0);
  cx__walk(paths, npaths, 0, &files, &diags);
  if (files.n == 0 && diags.nerrors == 0)
    cx_diags_add(&diags, CX_DIAG_WARNING, paths[0], 0, 0,
                 "no card files found (cards are *.md files, README.md excepted)");

  int explicit_syn = 0;
  char *syn_path = cx__synonyms_path(paths, npaths, &opts, &explicit_syn);
  if (syn_path) {
    cx__synonyms syn;
    if (cx__synonyms_load(syn_path, &syn, &diags) == 0) cx__synonyms_destroy(&syn);
  }

  check_ctx c;
  memset(&c, 0, sizeof c);
  cx__strmap_init(&c.ids);
  c.diags = &diags;
  cx__pipeline p = {&files, &opts, NULL, 0, check_sink, &c, "checking", 0, NULL};
  int rc = cx__pipeline_run(&p);

  /* Links last: a link may point to a card later in the order. */
  for (size_t i = 0; i < c.n; i++) {
    for (size_t j = 0; j < c.v[i].links.n; j++) {
      const char *target = c.v[i].links.v[j];
      if (cx__strmap_get(&c.ids, target)) continue;
      int line, col;
      cx__locate_in_file(c.v[i].path, NULL, target, &line, &col);
      cx_diags_add(&diags, CX_DIAG_ERROR, c.v[i].path, line, col,
                   "dangling link: %s links to %s, but no card has that id", c.v[i].id, target);
    }
    free(c.v[i].id);
    cx__strv_free(&c.v[i].links);
  }
  free(c.v);
  cx__strmap_destroy(&c.ids, NULL);

  if (rc == 0 && diags.nerrors > 0)
    rc = cx_err_set(err, CX_EPARSE, NULL, "%zu error%s in the cards", diags.nerrors,
                    diags.nerrors == 1 ? "" : "s");
  if (stats_out) {
    memset(stats_out, 0, sizeof *stats_out);
    stats_out->files = files.n;
    stats_out->cards = c.cards;
    stats_out->parsed = c.cards;
    stats_out->errors = diags.nerrors;
    stats_out->warnings = diags.nwarnings;
    stats_out->seconds = (double)(cx__now_us() - t0) / 1e6;
  }
  if (diags_out) cx_diags_append(diags_out, &diags);
  cx_diags_destroy(&diags);
  cx__files_destroy(&files);
  free(syn_path);
  return rc;
}
