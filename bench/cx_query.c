/* cx_query.c — a thin driver of the query engine: cx_query INDEX METHOD [ARG|JSON-PARAMS]. */
#include "cardex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
  fprintf(stderr, "usage: cx_query INDEX search|answer JSON-PARAMS\n"
                  "       cx_query INDEX get|related ID\n"
                  "       cx_query INDEX suggest PREFIX\n"
                  "       cx_query INDEX info\n"
                  "e.g.   cx_query cardex.db search '{\"query\":\"what is an isms\",\"explain\":true}'\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 3) return usage();
  cx_index *ix;
  cx_err err = {0};
  if (cx_index_open(argv[1], &ix, &err) != 0) {
    fprintf(stderr, "cx_query: %s\n", err.msg);
    return 1;
  }
  const char *m = argv[2];
  json_t *res = NULL;
  int rc;
  if ((strcmp(m, "search") == 0 || strcmp(m, "answer") == 0) && argc > 3) {
    json_error_t jerr;
    json_t *params = json_loads(argv[3], 0, &jerr);
    if (params == NULL) {
      fprintf(stderr, "cx_query: params: %d:%d: %s\n", jerr.line, jerr.column, jerr.text);
      cx_index_close(ix);
      return 2;
    }
    cx_search_req req;
    rc = cx_search_req_from_json(params, &req, &err);
    if (rc == 0) {
      rc = m[0] == 's' ? cx_search(ix, &req, &res, &err) : cx_answer(ix, &req, &res, &err);
      cx_search_req_destroy(&req);
    }
    json_decref(params);
  } else if (strcmp(m, "get") == 0 && argc > 3) {
    rc = cx_get(ix, argv[3], &res, &err);
  } else if (strcmp(m, "related") == 0 && argc > 3) {
    rc = cx_related(ix, argv[3], 10, &res, &err);
  } else if (strcmp(m, "suggest") == 0 && argc > 3) {
    rc = cx_suggest(ix, argv[3], 10, &res, &err);
  } else if (strcmp(m, "info") == 0) {
    rc = cx_index_info(ix, &res, &err);
  } else {
    cx_index_close(ix);
    return usage();
  }
  if (rc != 0) {
    fprintf(stderr, "cx_query: %s (%s%s%s)\n", err.msg, cx_err_name(rc), err.field[0] ? ", field " : "",
            err.field);
  } else {
    char *s = json_dumps(res, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(res);
  }
  cx_index_close(ix);
  return rc ? 1 : 0;
}
