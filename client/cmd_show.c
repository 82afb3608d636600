/* cmd_show.c — `cardex show ID`: a whole card rendered for the terminal from its Markdown. */
#include "client.h"

#include <cmark.h>
#include <stdlib.h>
#include <string.h>

static void meta_line(const cl_opts *o, const char *label, json_t *arr) {
  if (json_array_size(arr) == 0) return;
  printf("%s%-10s%s ", cl_sgr(o, CL_DIM), label, cl_sgr(o, CL_RESET));
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
  printf("\n");
}

static int run_show(cl_opts *o, int argc, char **argv) {
  if (o->markdown && o->html) {
    fprintf(stderr, "cardex show: choose one of --markdown and --html\n");
    return CL_EXIT_USAGE;
  }
  int status;
  json_t *card = cl_call(o, "get", json_pack("{s:s}", "id", argv[0]), &status);
  if (card == NULL) return status;
  const char *body = json_string_value(json_object_get(card, "body"));
  if (body == NULL) body = "";
  if (o->json) {
    cl_print_json(card);
  } else if (o->markdown || o->html) {
    cmark_node *doc = cmark_parse_document(body, strlen(body), CMARK_OPT_DEFAULT);
    char *out = o->html ? cmark_render_html(doc, CMARK_OPT_DEFAULT)
                        : cmark_render_commonmark(doc, CMARK_OPT_DEFAULT, 0);
    fputs(out, stdout);
    free(out);
    cmark_node_free(doc);
  } else {
    cl_render_markdown(stdout, o, body, 0);
    printf("\n");
    json_t *ids = json_pack("[s]", json_string_value(json_object_get(card, "id")));
    meta_line(o, "id", ids);
    json_decref(ids);
    meta_line(o, "packs", json_object_get(card, "packs"));
    meta_line(o, "clauses", json_object_get(card, "primary_ids"));
    meta_line(o, "overlaps", json_object_get(card, "overlap_ids"));
    meta_line(o, "tags", json_object_get(card, "capability_tags"));
    json_t *actions = json_object_get(json_object_get(card, "ui"), "actions");
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a) {
      printf("%s%-10s%s %s [%s: %s]\n", cl_sgr(o, CL_DIM), i ? "" : "actions", cl_sgr(o, CL_RESET),
             json_string_value(json_object_get(a, "label")),
             json_string_value(json_object_get(a, "type")),
             json_string_value(json_object_get(a, "target")));
    }
  }
  json_decref(card);
  return CL_EXIT_OK;
}

const cl_command cl_cmd_show = {
    "show", "ID", "the whole card, rendered for the terminal",
    "  --markdown        print the card's Markdown (cmark's CommonMark rendering)\n"
    "  --html            print cmark's HTML rendering\n",
    1, 1, run_show};
