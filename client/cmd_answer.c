/* cmd_answer.c — `cardex answer`: the best card's plain-English answer, sources and actions. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

/* One "  Q077  question" line, cut to the terminal's width. */
static void card_line(const cl_opts *o, json_t *h) {
  char line[4096];
  snprintf(line, sizeof line, "  %s%-5s%s %s", cl_sgr(o, CL_ID),
           json_string_value(json_object_get(h, "id")), cl_sgr(o, CL_RESET),
           json_string_value(json_object_get(h, "question")));
  char *t = cl_truncate(line, o->width);
  puts(t);
  free(t);
}

static int run_answer(cl_opts *o, int argc, char **argv) {
  char *query = cl_join(argc, argv);
  json_t *params = json_pack("{s:s}", "query", query);
  if (json_array_size(o->packs)) json_object_set(params, "packs", o->packs);
  if (json_array_size(o->tags)) json_object_set(params, "tags", o->tags);
  int status;
  json_t *r = cl_call(o, "answer", params, &status);
  if (r == NULL) {
    free(query);
    return status;
  }
  int answered = json_is_true(json_object_get(r, "answered"));
  if (o->json) {
    cl_print_json(r);
    json_decref(r);
    free(query);
    return answered ? CL_EXIT_OK : CL_EXIT_NONE;
  }
  json_t *alts = json_object_get(r, "alternatives");
  if (!answered) {
    printf("No answer for \xE2\x80\x9C%s\xE2\x80\x9D.\n", query);
    if (json_array_size(alts)) {
      printf("\nNearest cards:\n");
      size_t i;
      json_t *h;
      json_array_foreach(alts, i, h) {
        card_line(o, h);
      }
    }
    json_decref(r);
    free(query);
    return CL_EXIT_NONE;
  }
  json_t *card = json_object_get(r, "card");
  const char *id = json_string_value(json_object_get(card, "id"));
  const char *question = json_string_value(json_object_get(card, "question"));
  double conf = json_number_value(json_object_get(r, "confidence"));
  printf("%s%s%s  %s%s%s\n", cl_sgr(o, CL_ID), id ? id : "?", cl_sgr(o, CL_RESET),
         cl_sgr(o, CL_BOLD), question ? question : "", cl_sgr(o, CL_RESET));
  printf("%sconfidence %.2f%s\n\n", cl_sgr(o, CL_DIM), conf, cl_sgr(o, CL_RESET));

  const char *md = json_string_value(json_object_get(r, "answer_markdown"));
  const char *text = json_string_value(json_object_get(r, "answer"));
  if (md) cl_render_markdown(stdout, o, md, 0);
  else if (text) cl_wrap(stdout, text, 0, 0, o->width);

  json_t *sources = json_object_get(card, "sources");
  if (json_array_size(sources)) {
    printf("\n%sSources%s\n", cl_sgr(o, CL_BOLD), cl_sgr(o, CL_RESET));
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
      const char *title = json_string_value(json_object_get(s, "title"));
      const char *loc = json_string_value(json_object_get(s, "locator"));
      const char *sid = json_string_value(json_object_get(s, "id"));
      char line[2048];
      snprintf(line, sizeof line, "%s%s%s%s", title ? title : (sid ? sid : ""),
               loc ? " (" : "", loc ? loc : "", loc ? ")" : "");
      printf("  \xE2\x80\xA2 ");
      cl_wrap(stdout, line, 0, 4, o->width);
    }
  }
  json_t *actions = json_object_get(card, "actions");
  if (json_array_size(actions)) {
    printf("\n%sSuggested actions%s\n", cl_sgr(o, CL_BOLD), cl_sgr(o, CL_RESET));
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a) {
      const char *label = json_string_value(json_object_get(a, "label"));
      const char *type = json_string_value(json_object_get(a, "type"));
      const char *target = json_string_value(json_object_get(a, "target"));
      printf("  \xE2\x96\xB8 %s  %s[%s: %s]%s\n", label ? label : "", cl_sgr(o, CL_DIM),
             type ? type : "", target ? target : "", cl_sgr(o, CL_RESET));
    }
  }
  if (json_array_size(alts)) {
    printf("\n%sSee also%s\n", cl_sgr(o, CL_BOLD), cl_sgr(o, CL_RESET));
    size_t i;
    json_t *h;
    json_array_foreach(alts, i, h) {
      if (i >= 3) break;
      card_line(o, h);
    }
  }
  json_decref(r);
  free(query);
  return CL_EXIT_OK;
}

const cl_command cl_cmd_answer = {
    "answer", "QUESTION...", "the best card's answer, with its sources and suggested actions",
    "  --pack PACK       only cards of PACK (repeatable)\n"
    "  --tag TAG         only cards with capability tag TAG (repeatable)\n",
    1, -1, run_answer};
