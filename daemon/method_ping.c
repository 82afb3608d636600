/* method_ping.c — `ping`: liveness and protocol version, answered on the loop. */
#include "cardexd.h"

static const char *const fields[] = {NULL};

static int check(cxd_req *r, cxd_error *e) { return cxd_params_only(r->params, fields, e); }

/* The same object every time, built once: ping is the cheapest request and
 * measures the transport, so it should not measure json_pack. Loop thread
 * only, like everything a loop method touches; freed by cxd_method_ping_cleanup. */
static json_t *pong;

static int run(cxd_req *r, json_t **result, cxd_error *e) {
  if (pong == NULL)
    pong = json_pack("{s:b,s:s,s:s}", "pong", 1, "version", CX_PROTOCOL_VERSION, "server",
                     CXD_SERVER_NAME);
  *result = json_incref(pong);
  return 0;
}

void cxd_method_ping_cleanup(void) {
  json_decref(pong);
  pong = NULL;
}

const cxd_method cxd_method_ping = {"ping", 0, check, run, NULL, NULL};
