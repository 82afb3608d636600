/* cmd_search.c — `cardex search`, `related` and `suggest`: ranked hits, one card per two lines. */
#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Highlight markers asked of the daemon: control characters that cannot occur in
 * card text, replaced here by colour or by nothing. */
#define HL_OPEN "\x02"
#define HL_CLOSE "\x03"

static char *render_snippet(const cl_opts *o, const char *s) {
  size_t n = strlen(s), cap = n * 2 + 64, k = 0;
  char *out = malloc(cap);
  if (out == NULL) abort();
  const char *on = cl_sgr(o, CL_HL), *off = cl_sgr(o, CL_RESET);
  for (size_t i = 0; i < n; i++) {
    const char *rep = NULL;
    char ch[2] = {s[i], 0};
    if (s[i] == HL_OPEN[0]) rep = on;
    else if (s[i] == HL_CLOSE[0]) rep = off;
    else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') rep = " ";
    else rep = ch;
    size_t rl = strlen(rep);
    if (k + rl + 1 > cap) {
      cap = (k + rl + 1) * 2;
      out = realloc(out, cap);
      if (out == NULL) abort();
    }
    memcpy(out + k, rep, rl);
    k += rl;
  }
  out[k] = '\0';
  return out;
}

static void join_strings(char *buf, size_t size, json_t *arr) {
  buf[0] = '\0';
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (!json_is_string(v)) continue;
    if (buf[0]) strncat(buf, ", ", size - strlen(buf) - 1);
    strncat(buf, json_string_value(v), size - strlen(buf) - 1);
  }
}

void cl_print_hit(const cl_opts *o, json_t *hit, int rank) {
  const char *id = json_string_value(json_object_get(hit, "id"));
  const char *q = json_string_value(json_object_get(hit, "question"));
  const char *snip = json_string_value(json_object_get(hit, "snippet"));
  const char *reason = json_string_value(json_object_get(hit, "reason"));
  char packs[256];
  join_strings(packs, sizeof packs, json_object_get(hit, "packs"));
  (void)rank;

  char line[4096];
  snprintf(line, sizeof line, "%s%-5s%s %s%s%s", cl_sgr(o, CL_ID), id ? id : "?",
           cl_sgr(o, CL_RESET), cl_sgr(o, CL_BOLD), q ? q : "", cl_sgr(o, CL_RESET));
  char *t = cl_truncate(line, o->width);
  fputs(t, stdout);
  free(t);
  if (o->score && json_object_get(hit, "score"))
    printf("  %s(score %.3f)%s", cl_sgr(o, CL_DIM), json_number_value(json_object_get(hit, "score")),
           cl_sgr(o, CL_RESET));
  fputc('\n', stdout);

  char second[8192];
  char *s = render_snippet(o, snip ? snip : "");
  snprintf(second, sizeof second, "      %s%s%s%s%s%s", cl_sgr(o, CL_DIM), packs,
           reason ? (packs[0] ? " \xC2\xB7 " : "") : "", reason ? reason : "",
           cl_sgr(o, CL_RESET), (packs[0] || reason) && s[0] ? " \xC2\xB7 " : "");
  size_t l = strlen(second);
  snprintf(second + l, sizeof second - l, "%s", s);
  free(s);
  t = cl_truncate(second, o->width);
  fputs(t, stdout);
  fputs(cl_sgr(o, CL_RESET), stdout);
  fputc('\n', stdout);
  free(t);

  json_t *ex = json_object_get(hit, "explain");
  if (o->explain && ex) {
    char *js = json_dumps(ex, JSON_COMPACT);
    printf("      %swhy:%s ", cl_sgr(o, CL_DIM), cl_sgr(o, CL_RESET));
    cl_wrap(stdout, js ? js : "", 0, 11, o->width);
    free(js);
  }
}

static json_t *filters(const cl_opts *o, json_t *params) {
  if (json_array_size(o->packs)) json_object_set(params, "packs", o->packs);
  if (json_array_size(o->tags)) json_object_set(params, "tags", o->tags);
  return params;
}

static int run_search(cl_opts *o, int argc, char **argv) {
  char *query = cl_join(argc, argv);
  json_t *params = json_pack("{s:s}", "query", query);
  if (o->limit > 0) json_object_set_new(params, "limit", json_integer(o->limit));
  if (o->offset > 0) json_object_set_new(params, "offset", json_integer(o->offset));
  if (o->explain) json_object_set_new(params, "explain", json_true());
  if (!o->json) json_object_set_new(params, "highlight", json_pack("[ss]", HL_OPEN, HL_CLOSE));
  filters(o, params);
  int status;
  json_t *r = cl_call(o, "search", params, &status);
  if (r == NULL) {
    free(query);
    return status;
  }
  json_t *hits = json_object_get(r, "hits");
  size_t n = json_array_size(hits);
  if (o->json) {
    cl_print_json(r);
  } else if (n == 0) {
    fprintf(stderr, "cardex: no cards match \xE2\x80\x9C%s\xE2\x80\x9D\n", query);
  } else {
    size_t i;
    json_t *h;
    json_array_foreach(hits, i, h) cl_print_hit(o, h, (int)i + 1);
    if (isatty(STDOUT_FILENO)) {
      json_int_t total = json_integer_value(json_object_get(r, "total"));
      json_int_t took = json_integer_value(json_object_get(r, "took_us"));
      printf("%s%d\xE2\x80\x93%d of %lld cards \xC2\xB7 %.2f ms%s\n", cl_sgr(o, CL_DIM),
             o->offset + 1, o->offset + (int)n, (long long)total, took / 1000.0,
             cl_sgr(o, CL_RESET));
    }
  }
  json_decref(r);
  free(query);
  return n ? CL_EXIT_OK : CL_EXIT_NONE;
}

static int run_related(cl_opts *o, int argc, char **argv) {
  json_t *params = json_pack("{s:s}", "id", argv[0]);
  if (o->limit > 0) json_object_set_new(params, "limit", json_integer(o->limit));
  int status;
  json_t *r = cl_call(o, "related", params, &status);
  if (r == NULL) return status;
  json_t *hits = json_object_get(r, "hits");
  size_t n = json_array_size(hits);
  if (o->json) cl_print_json(r);
  else if (n == 0) fprintf(stderr, "cardex: no cards are related to %s\n", argv[0]);
  else {
    size_t i;
    json_t *h;
    json_array_foreach(hits, i, h) cl_print_hit(o, h, (int)i + 1);
  }
  json_decref(r);
  return n ? CL_EXIT_OK : CL_EXIT_NONE;
}

static int run_suggest(cl_opts *o, int argc, char **argv) {
  char *prefix = cl_join(argc, argv);
  json_t *params = json_pack("{s:s}", "prefix", prefix);
  if (o->limit > 0) json_object_set_new(params, "limit", json_integer(o->limit > 50 ? 50 : o->limit));
  int status;
  json_t *r = cl_call(o, "suggest", params, &status);
  free(prefix);
  if (r == NULL) return status;
  json_t *sug = json_object_get(r, "suggestions");
  size_t n = json_array_size(sug);
  if (o->json) {
    cl_print_json(r);
  } else {
    size_t i;
    json_t *s;
    json_array_foreach(sug, i, s) {
      const char *text = json_string_value(json_object_get(s, "text"));
      const char *id = json_string_value(json_object_get(s, "id"));
      if (id)
        printf("%s%-5s%s %s\n", cl_sgr(o, CL_ID), id, cl_sgr(o, CL_RESET), text ? text : "");
      else
        printf("      %s\n", text ? text : "");
    }
  }
  json_decref(r);
  return n ? CL_EXIT_OK : CL_EXIT_NONE;
}

/* Completion helper for the shell scripts: `cardex __complete ids|packs|tags [PREFIX]`. */
static int run_complete(cl_opts *o, int argc, char **argv) {
  const char *what = argv[0], *prefix = argc > 1 ? argv[1] : "";
  int status;
  if (!strcmp(what, "ids")) {
    json_t *params = json_pack("{s:s, s:s, s:i}", "query", "", "id_prefix", prefix, "limit", 100);
    json_t *r = cl_call(o, "search", params, &status);
    if (r == NULL) return status;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(r, "hits"), i, h)
        puts(json_string_value(json_object_get(h, "id")));
    json_decref(r);
    return CL_EXIT_OK;
  }
  if (!strcmp(what, "packs") || !strcmp(what, "tags")) {
    json_t *r = cl_call(o, "stats", NULL, &status);
    if (r == NULL) return status;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(r, "index"), what), key, v)
        if (strncmp(key, prefix, strlen(prefix)) == 0) puts(key);
    json_decref(r);
    return CL_EXIT_OK;
  }
  fprintf(stderr, "cardex: __complete takes ids, packs or tags\n");
  return CL_EXIT_USAGE;
}

const cl_command cl_cmd_search = {
    "search", "QUESTION...", "ranked cards for a question (the default command)",
    "  -n, --limit N     at most N hits (1-100, default 10)\n"
    "  --offset N        skip the first N hits\n"
    "  --pack PACK       only cards of PACK (repeatable: any of them)\n"
    "  --tag TAG         only cards with capability tag TAG (repeatable)\n"
    "  --score           show each hit's score\n"
    "  --explain         show why each hit ranked where it did\n",
    1, -1, run_search};

const cl_command cl_cmd_related = {
    "related", "ID", "cards related to card ID: its follow-ups, shared clauses, shared terms",
    "  -n, --limit N     at most N cards (default 10)\n", 1, 1, run_related};

const cl_command cl_cmd_suggest = {
    "suggest", "PREFIX...", "complete what you are typing into questions and terms",
    "  -n, --limit N     at most N suggestions (1-50, default 10)\n", 1, -1, run_suggest};

const cl_command cl_cmd_complete = {"__complete", "ids|packs|tags [PREFIX]",
                                    "completion candidates (used by the shell completions)", "",
                                    1, 2, run_complete};
