/* client.h — shared declarations of the cardex thin client. */
#ifndef CARDEX_CLIENT_H
#define CARDEX_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Exit statuses (documented in --help and cardex(1)). */
enum {
  CL_EXIT_OK = 0,        /* hits, or the command succeeded */
  CL_EXIT_NONE = 1,      /* no hits, no answer, no such card */
  CL_EXIT_USAGE = 2,     /* bad command line or parameters */
  CL_EXIT_DAEMON = 3,    /* daemon unreachable, timed out or hung up mid-reply */
  CL_EXIT_ERROR = 4,     /* the daemon answered with an error */
};

/* Options common to every command. */
typedef struct cl_opts {
  const char *socket_path; /* resolved path */
  int socket_explicit;     /* from --socket or CARDEX_SOCKET */
  int timeout_ms;
  int json;
  int color;   /* 1: ANSI colour and highlighting */
  int width;   /* terminal columns for wrapping */
  int limit, offset;
  int explain, score;
  int markdown, html;
  json_t *packs, *tags; /* arrays of strings */
} cl_opts;

/* ---- rpc.c ---- */
/* Sends one request and waits for its reply (within opts->timeout_ms).
 * Returns the reply's "result" (new reference) or NULL after printing a
 * message and setting *status (CL_EXIT_DAEMON, CL_EXIT_ERROR, CL_EXIT_NONE for
 * not-found, CL_EXIT_USAGE for invalid params). params is stolen. */
json_t *cl_call(const cl_opts *o, const char *method, json_t *params, int *status);
/* The default socket path, as the daemon computes it. Static buffer. */
const char *cl_default_socket(void);

/* ---- term.c ---- */
/* Display width of a UTF-8 string (wide CJK/emoji count 2, combining 0). */
size_t cl_display_width(const char *s, size_t len);
/* Writes s wrapped to width columns, each line prefixed by indent spaces
 * (first line by first_indent); ANSI escapes count as zero width. */
void cl_wrap(FILE *f, const char *s, int first_indent, int indent, int width);
/* Truncates s to at most width display columns, adding "…"; caller frees. */
char *cl_truncate(const char *s, int width);
/* ANSI sequences, empty strings when colour is off. */
const char *cl_sgr(const cl_opts *o, const char *code);
#define CL_BOLD "1"
#define CL_DIM "2"
#define CL_RESET "0"
#define CL_HL "1;33"
#define CL_ID "1;36"

/* ---- render.c ---- */
/* Renders Markdown for the terminal: headings, emphasis, lists, links,
 * code, wrapped to o->width. */
void cl_render_markdown(FILE *f, const cl_opts *o, const char *markdown, int indent);

/* ---- commands ---- */
typedef struct cl_command {
  const char *name;
  const char *usage;   /* "QUESTION..." */
  const char *summary; /* one line */
  const char *help;    /* option lines */
  int min_args, max_args; /* -1: unbounded */
  int (*run)(cl_opts *o, int argc, char **argv);
} cl_command;

extern const cl_command cl_cmd_search, cl_cmd_answer, cl_cmd_show, cl_cmd_suggest,
    cl_cmd_related, cl_cmd_stats, cl_cmd_ping, cl_cmd_reload, cl_cmd_complete;

/* Joins argv with spaces; caller frees. */
char *cl_join(int argc, char **argv);
/* Prints one hit (search, related, answer alternatives). */
void cl_print_hit(const cl_opts *o, json_t *hit, int rank);
/* Prints a compact JSON line of v to stdout. */
void cl_print_json(json_t *v);

#endif
