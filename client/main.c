/* main.c — cardex, the thin client: command line, command table, help. */
#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef CARDEX_VERSION
#define CARDEX_VERSION "0.0.0"
#endif

static const cl_command *const commands[] = {
    &cl_cmd_search, &cl_cmd_answer, &cl_cmd_show,   &cl_cmd_suggest,
    &cl_cmd_related, &cl_cmd_stats, &cl_cmd_ping,   &cl_cmd_reload,
    &cl_cmd_complete,
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static const cl_command *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i]->name, name) == 0) return commands[i];
  return NULL;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: cardex [OPTIONS] QUESTION...            search the cards (same as `cardex search`)\n"
          "       cardex [OPTIONS] COMMAND [ARGS...]\n"
          "\n"
          "Ask cardexd, the cardex daemon, about your question-and-answer cards.\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (commands[i]->name[0] != '_')
      fprintf(f, "  %-8s %-14s %s\n", commands[i]->name, commands[i]->usage, commands[i]->summary);
  fprintf(f,
          "\n"
          "options for every command:\n"
          "  --socket PATH     the daemon's socket (default: $CARDEX_SOCKET, else\n"
          "                    $XDG_RUNTIME_DIR/cardex/cardex.sock, else /tmp/cardex-$UID/cardex.sock)\n"
          "  --timeout MS      give up waiting for the daemon after MS milliseconds (default 5000)\n"
          "  --json            print the daemon's result object as one line of JSON\n"
          "  --color WHEN      auto (default: colour on a terminal unless NO_COLOR is set), always, never\n"
          "  -h, --help        help (`cardex COMMAND --help` for a command's options)\n"
          "  -V, --version     print the version\n"
          "\n"
          "exit status: 0 found, 1 nothing found, 2 usage error, 3 daemon unreachable or\n"
          "no reply (timeout, hang-up), 4 the daemon reported an error.\n"
          "\n"
          "examples:\n"
          "  cardex what is an isms\n"
          "  cardex answer how do we run an internal audit\n"
          "  cardex show Q077\n"
          "  cardex --pack GDPR --limit 3 breach notification\n");
}

static void command_help(FILE *f, const cl_command *c) {
  fprintf(f, "usage: cardex %s [OPTIONS] %s\n\n%s\n", c->name, c->usage, c->summary);
  if (c->help && *c->help) fprintf(f, "\noptions:\n%s", c->help);
  fprintf(f, "\ncommon options: --socket PATH, --timeout MS, --json, --color WHEN (see cardex --help)\n");
}

char *cl_join(int argc, char **argv) {
  size_t n = 1;
  for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
  char *s = malloc(n);
  if (s == NULL) abort();
  s[0] = '\0';
  for (int i = 0; i < argc; i++) {
    if (i) strcat(s, " ");
    strcat(s, argv[i]);
  }
  return s;
}

void cl_print_json(json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (s) puts(s);
  free(s);
}

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out) {
  char *end;
  long x = v ? strtol(v, &end, 10) : 0;
  if (v == NULL || *v == '\0' || *end != '\0' || x < lo || x > hi) {
    fprintf(stderr, "cardex: %s needs an integer from %d to %d, got %s\n", opt, lo, hi,
            v ? v : "nothing");
    return -1;
  }
  *out = (int)x;
  return 0;
}

/* Options that take a value. */
static int takes_value(const char *name) {
  static const char *const v[] = {"--socket", "--timeout", "--color", "--limit", "-n",
                                  "--offset", "--pack",    "--tag"};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++)
    if (strcmp(name, v[i]) == 0) return 1;
  return 0;
}

/* Which command-specific options each command accepts. */
static int option_allowed(const cl_command *c, const char *name) {
  const char *h = c->help ? c->help : "";
  if (strcmp(name, "-n") == 0) name = "--limit";
  const char *p = strstr(h, name);
  if (p == NULL) return 0;
  char after = p[strlen(name)];
  return after == ' ' || after == '\n' || after == ',' || after == '=';
}

int main(int argc, char **argv) {
  cl_opts o;
  memset(&o, 0, sizeof o);
  o.timeout_ms = 5000;
  o.limit = -1;
  o.packs = json_array();
  o.tags = json_array();
  const char *color = "auto";
  const char *sock = getenv("CARDEX_SOCKET");
  int want_help = 0, status = CL_EXIT_USAGE;

  /* Options may come before or after the command and its words; "--" ends them. */
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0, dashdash = 0;
  const char *late_opts[64];
  int nlate = 0;
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (dashdash || a[0] != '-' || a[1] == '\0') {
      pos[npos++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      dashdash = 1;
      continue;
    }
    char name[64];
    const char *val = NULL;
    const char *eq = strchr(a, '=');
    if (eq && a[1] == '-') {
      snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
      val = eq + 1;
    } else {
      snprintf(name, sizeof name, "%s", a);
    }
    if (takes_value(name) && val == NULL) {
      if (i + 1 >= argc) {
        fprintf(stderr, "cardex: %s needs a value\n", name);
        goto out;
      }
      val = argv[++i];
    }
    if (nlate < 64) late_opts[nlate++] = a;
    if (!strcmp(name, "-h") || !strcmp(name, "--help")) want_help = 1;
    else if (!strcmp(name, "-V") || !strcmp(name, "--version")) {
      printf("cardex %s (protocol 1.0)\n", CARDEX_VERSION);
      status = CL_EXIT_OK;
      goto out;
    } else if (!strcmp(name, "--socket")) sock = val;
    else if (!strcmp(name, "--timeout")) {
      if (parse_int(name, val, 1, 3600000, &o.timeout_ms)) goto out;
    } else if (!strcmp(name, "--color") || !strcmp(name, "--colour")) color = val;
    else if (!strcmp(name, "--no-color")) color = "never";
    else if (!strcmp(name, "--json")) o.json = 1;
    else if (!strcmp(name, "--limit") || !strcmp(name, "-n")) {
      if (parse_int(name, val, 1, 100, &o.limit)) goto out;
    } else if (!strcmp(name, "--offset")) {
      if (parse_int(name, val, 0, 1000000, &o.offset)) goto out;
    } else if (!strcmp(name, "--pack")) json_array_append_new(o.packs, json_string(val));
    else if (!strcmp(name, "--tag")) json_array_append_new(o.tags, json_string(val));
    else if (!strcmp(name, "--explain")) o.explain = 1;
    else if (!strcmp(name, "--score")) o.score = 1;
    else if (!strcmp(name, "--markdown")) o.markdown = 1;
    else if (!strcmp(name, "--html")) o.html = 1;
    else {
      fprintf(stderr, "cardex: unknown option %s (see cardex --help)\n", name);
      goto out;
    }
  }

  const cl_command *cmd = &cl_cmd_search;
  int first = 0;
  if (npos > 0 && find_command(pos[0])) {
    cmd = find_command(pos[0]);
    first = 1;
  } else if (npos > 0 && strcmp(pos[0], "help") == 0) {
    const cl_command *c = npos > 1 ? find_command(pos[1]) : NULL;
    if (c) command_help(stdout, c);
    else usage(stdout);
    status = CL_EXIT_OK;
    goto out;
  }
  if (want_help) {
    if (first) command_help(stdout, cmd);
    else usage(stdout);
    status = CL_EXIT_OK;
    goto out;
  }
  if (npos == 0) {
    usage(stderr);
    goto out;
  }
  /* Command-specific options must belong to the command. */
  for (int i = 0; i < nlate; i++) {
    char name[64];
    const char *eq = strchr(late_opts[i], '=');
    snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - late_opts[i]) : 63, late_opts[i]);
    static const char *const common[] = {"--socket", "--timeout", "--json", "--color",
                                         "--colour", "--no-color"};
    int ok = 0;
    for (size_t k = 0; k < sizeof common / sizeof *common; k++)
      if (!strcmp(name, common[k])) ok = 1;
    if (!ok && !option_allowed(cmd, name)) {
      fprintf(stderr, "cardex %s: option %s does not apply (see cardex %s --help)\n", cmd->name,
              name, cmd->name);
      goto out;
    }
  }
  int nargs = npos - first;
  if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
    command_help(stderr, cmd);
    goto out;
  }

  if (strcmp(color, "always") == 0) o.color = 1;
  else if (strcmp(color, "never") == 0) o.color = 0;
  else if (strcmp(color, "auto") == 0) {
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    o.color = isatty(STDOUT_FILENO) && !(nc && *nc) && !(term && !strcmp(term, "dumb"));
  } else {
    fprintf(stderr, "cardex: --color must be auto, always or never, got %s\n", color);
    goto out;
  }
  o.width = 80;
  struct winsize ws;
  const char *cols = getenv("COLUMNS");
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    o.width = ws.ws_col;
  else if (cols && atoi(cols) > 20)
    o.width = atoi(cols);

  o.socket_explicit = sock != NULL && *sock != '\0';
  o.socket_path = o.socket_explicit ? sock : cl_default_socket();
  status = cmd->run(&o, nargs, pos + first);

out:
  fflush(stdout);
  json_decref(o.packs);
  json_decref(o.tags);
  free(pos);
  return status;
}
