/* json_out.c — cardexd's reply encoder: the library's compact JSON writer (index/json_text.c). */
#include "cardexd.h"

#include "cx_json.h"

void cxd_json_write(cx__buf *out, const json_t *j) { cx__json_write(out, j); }
