/* cx_json.h — compact JSON text writing shared by the query engine and cardexd (json_text.c). */
#ifndef CX_JSON_H
#define CX_JSON_H

#include "cx_internal.h"

#include <jansson.h>

/* Appends j as compact JSON, byte for byte what json_dumps(j, JSON_COMPACT |
 * JSON_ENCODE_ANY | JSON_REAL_PRECISION(10)) gives (non-finite reals: null). */
void cx__json_write(cx__buf *b, const json_t *j);
/* Appends s[0, n) (valid UTF-8) as a JSON string, quotes included, escaped as jansson does. */
void cx__json_put_string(cx__buf *b, const char *s, size_t n);
/* Appends a finite real as jansson writes it with JSON_REAL_PRECISION(10). */
void cx__json_put_real(cx__buf *b, double v);

#endif
