/* method_ping.c — `ping`: liveness and protocol version, answered on the loop. */
#include "cardexd.h"

static const char *const fields[] = {NULL};

static int check(cxd_req *r, cxd_error *e) { return cxd_params_only(r->params, fields, e); }

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  *result = json_pack("{s:b,s:s,s:s}", "pong", 1, "version", CX_PROTOCOL_VERSION, "server",
                      CXD_SERVER_NAME);
  return 0;
}

const cxd_method cxd_method_ping = {"ping", 0, check, run, NULL};
