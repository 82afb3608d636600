/* cmd_admin.c — `cardex stats`, `ping` and `reload`: the daemon's state. */
#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *or_str(const char *s, const char *dflt) { return s ? s : dflt; }

static int run_ping(cl_opts *o, int argc, char **argv) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int status;
  json_t *r = cl_call(o, "ping", NULL, &status);
  if (r == NULL) return status;
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
  if (o->json) cl_print_json(r);
  else
    printf("pong from %s (protocol %s) at %s in %.2f ms\n",
           or_str(json_string_value(json_object_get(r, "server")), "cardexd"),
           or_str(json_string_value(json_object_get(r, "version")), "?"), o->socket_path, ms);
  json_decref(r);
  return CL_EXIT_OK;
}

static void print_kv(const char *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void print_kv(const char *k, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%-14s ", k);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

static int run_stats(cl_opts *o, int argc, char **argv) {
  int status;
  json_t *r = cl_call(o, "stats", NULL, &status);
  if (r == NULL) return status;
  if (o->json) {
    cl_print_json(r);
    json_decref(r);
    return CL_EXIT_OK;
  }
  json_t *ix = json_object_get(r, "index");
  json_t *lat = json_object_get(r, "latency_us");
  json_t *rl = json_object_get(r, "reload");
  print_kv("server", "%s (protocol %s)", or_str(json_string_value(json_object_get(r, "server")), "?"),
           or_str(json_string_value(json_object_get(r, "version")), "?"));
  print_kv("socket", "%s", o->socket_path);
  print_kv("uptime", "%lld s", (long long)json_integer_value(json_object_get(r, "uptime_s")));
  print_kv("requests", "%lld", (long long)json_integer_value(json_object_get(r, "requests")));
  if (lat)
    print_kv("latency", "p50 %lld us, p99 %lld us",
             (long long)json_integer_value(json_object_get(lat, "p50")),
             (long long)json_integer_value(json_object_get(lat, "p99")));
  print_kv("index", "%s", or_str(json_string_value(json_object_get(ix, "path")), "?"));
  print_kv("built", "%s", or_str(json_string_value(json_object_get(ix, "built_at")), "?"));
  print_kv("cards", "%lld", (long long)json_integer_value(json_object_get(ix, "cards")));
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(ix, "packs"), k, v)
      print_kv("  pack", "%s: %lld", k, (long long)json_integer_value(v));
  if (rl) {
    const char *err = json_string_value(json_object_get(rl, "last_error"));
    print_kv("reloads", "%lld%s%s", (long long)json_integer_value(json_object_get(rl, "count")),
             err ? ", last failed: " : "", err ? err : "");
  }
  json_decref(r);
  return CL_EXIT_OK;
}

static int run_reload(cl_opts *o, int argc, char **argv) {
  int status;
  json_t *r = cl_call(o, "reload", NULL, &status);
  if (r == NULL) return status;
  if (o->json) cl_print_json(r);
  else
    printf("reloaded: %lld cards in %lld ms\n",
           (long long)json_integer_value(json_object_get(r, "cards")),
           (long long)json_integer_value(json_object_get(r, "took_ms")));
  json_decref(r);
  return CL_EXIT_OK;
}

const cl_command cl_cmd_ping = {"ping", "", "check that the daemon answers", "", 0, 0, run_ping};
const cl_command cl_cmd_stats = {"stats", "", "the daemon's index, load and latency", "", 0, 0,
                                 run_stats};
const cl_command cl_cmd_reload = {"reload", "", "rebuild or reopen the index and swap it in", "",
                                  0, 0, run_reload};
