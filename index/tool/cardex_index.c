/* cardex_index.c — the cardex-index tool: build, check and dump card indexes. */
#include "cardex.h"

#include <errno.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exit statuses, documented in --help and cardex-index(1). */
enum {
  EXIT_OK = 0,
  EXIT_ERRORS = 1,  /* cards have errors (build: nothing written) */
  EXIT_USAGE = 2,   /* bad command line */
  EXIT_PARTIAL = 3, /* build --keep-going: index written without the bad cards */
  EXIT_FAILURE_ = 4 /* the index could not be written or read (I/O, database) */
};

static const char usage_main[] =
    "usage: cardex-index <command> [options] [arguments]\n"
    "\n"
    "Builds, checks and shows the index of cardex knowledge cards.\n"
    "\n"
    "commands:\n"
    "  build [options] SEEDS... -o INDEX   index card files and directories into INDEX\n"
    "  check [options] SEEDS...            report every error of every card; write nothing\n"
    "  dump ID|FILE [--index INDEX]        print a parsed card as JSON\n"
    "  help [COMMAND]                      show help for a command\n"
    "\n"
    "options:\n"
    "  -h, --help      show help (also after a command: cardex-index build --help)\n"
    "  -V, --version   print the version\n"
    "\n"
    "exit status:\n"
    "  0  success\n"
    "  1  cards have errors (build: nothing was written, the old index is unchanged)\n"
    "  2  usage error, or -o names a file that is not a cardex index\n"
    "  3  build --keep-going: the index was written without the cards in error\n"
    "  4  the index could not be written or read (disk, permissions, database)\n"
    "\n"
    "See cardex-index(1).\n";

static const char usage_build[] =
    "usage: cardex-index build [options] SEEDS... -o INDEX\n"
    "\n"
    "Indexes SEEDS (card files, read whatever their extension, and directories,\n"
    "walked recursively for *.md except README.md and hidden entries) into INDEX.\n"
    "INDEX is replaced atomically, only when the build succeeds; cards unchanged\n"
    "since the existing INDEX are reused instead of parsed again.\n"
    "\n"
    "options:\n"
    "  -o, --output INDEX       the index file to write (required)\n"
    "  -k, --keep-going         skip cards with errors, write the rest, exit 3\n"
    "      --full               do not reuse anything from the existing INDEX\n"
    "      --max-card-bytes N   refuse cards larger than N bytes (default 1048576)\n"
    "  -j, --threads N          parser threads (default: the number of cores)\n"
    "      --synonyms FILE      synonym groups (default: <first directory>/synonyms.yaml)\n"
    "  -q, --quiet              no progress line and no summary line\n"
    "\n"
    "exit status: 0 written (or already up to date), 1 errors (nothing written),\n"
    "2 usage (or INDEX is not a cardex index), 3 written without the cards in error\n"
    "(--keep-going), 4 I/O or database failure.\n";

static const char usage_check[] =
    "usage: cardex-index check [options] SEEDS...\n"
    "\n"
    "Parses every card and checks the set: duplicate ids, links to ids no card has,\n"
    "the synonyms file; unknown header keys are warnings. Reports every error of\n"
    "every file in one run and writes nothing.\n"
    "\n"
    "options:\n"
    "      --max-card-bytes N   refuse cards larger than N bytes (default 1048576)\n"
    "  -j, --threads N          parser threads (default: the number of cores)\n"
    "      --synonyms FILE      synonym groups (default: <first directory>/synonyms.yaml)\n"
    "  -q, --quiet              no progress line and no summary line\n"
    "\n"
    "exit status: 0 no errors (warnings allowed), 1 errors, 2 usage.\n";

static const char usage_dump[] =
    "usage: cardex-index dump ID|FILE [--index INDEX]\n"
    "\n"
    "Prints a card as pretty JSON on stdout. An existing FILE is parsed directly\n"
    "(its warnings and errors go to stderr); anything else is a card id looked up\n"
    "in INDEX (default: cardex.db).\n"
    "\n"
    "options:\n"
    "      --index INDEX   the index to look ids up in (default: cardex.db)\n"
    "      --max-card-bytes N   refuse a FILE larger than N bytes (default 1048576)\n"
    "\n"
    "exit status: 0 printed, 1 the card does not parse or the id is not in INDEX,\n"
    "2 usage, 4 INDEX cannot be read.\n";

static int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cardex-index: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'cardex-index %s%s--help' for more information.\n", cmd ? cmd : "",
          cmd ? " " : "");
  return EXIT_USAGE;
}

/* Command-line options common to the commands. */
typedef struct args {
  const char **pos; /* positional arguments */
  size_t npos;
  const char *output, *index, *synonyms;
  cx_build_opts opts;
  int quiet, help;
} args;

static int parse_size(const char *cmd, const char *opt, const char *s, long long min,
                      long long max, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return usage_error(cmd, "%s needs a number from %lld to %lld, not '%s'", opt, min, max, s);
  *out = v;
  return 0;
}

/* Which options each command accepts. */
enum { O_OUT = 1, O_KEEP = 2, O_FULL = 4, O_MAX = 8, O_THREADS = 16, O_SYN = 32,
       O_QUIET = 64, O_INDEX = 128 };

static int parse_args(const char *cmd, unsigned allowed, int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
  if (a->pos == NULL) abort();
  int only_pos = 0;
  for (int i = 0; i < argc; i++) {
    const char *s = argv[i];
    if (only_pos || s[0] != '-' || s[1] == '\0') {
      a->pos[a->npos++] = s;
      continue;
    }
    if (strcmp(s, "--") == 0) {
      only_pos = 1;
      continue;
    }
    /* --name=value or --name value */
    char name[64];
    const char *val = NULL;
    const char *eq = strncmp(s, "--", 2) == 0 ? strchr(s, '=') : NULL;
    if (eq) {
      snprintf(name, sizeof name, "%.*s", (int)(eq - s), s);
      val = eq + 1;
    } else {
      snprintf(name, sizeof name, "%s", s);
    }
#define IS(l, sh) (strcmp(name, l) == 0 || ((sh) != NULL && strcmp(name, sh ? sh : "") == 0))
#define VALUE()                                                                   \
  do {                                                                            \
    if (val == NULL) {                                                            \
      if (i + 1 >= argc) return usage_error(cmd, "option %s needs a value", name); \
      val = argv[++i];                                                            \
    }                                                                             \
  } while (0)
    unsigned opt = 0;
    if (IS("--help", "-h")) {
      a->help = 1;
      continue;
    } else if (IS("--output", "-o")) opt = O_OUT;
    else if (IS("--keep-going", "-k")) opt = O_KEEP;
    else if (IS("--full", NULL)) opt = O_FULL;
    else if (IS("--max-card-bytes", NULL)) opt = O_MAX;
    else if (IS("--threads", "-j")) opt = O_THREADS;
    else if (IS("--synonyms", NULL)) opt = O_SYN;
    else if (IS("--quiet", "-q")) opt = O_QUIET;
    else if (IS("--index", NULL)) opt = O_INDEX;
    if (opt == 0 || !(allowed & opt)) return usage_error(cmd, "unknown option '%s'", name);
    if ((opt & (O_KEEP | O_FULL | O_QUIET)) && val)
      return usage_error(cmd, "option %s takes no value", name);
    long long n;
    switch (opt) {
    case O_OUT: VALUE(); a->output = val; break;
    case O_KEEP: a->opts.keep_going = 1; break;
    case O_FULL: a->opts.full = 1; break;
    case O_QUIET: a->quiet = 1; break;
    case O_INDEX: VALUE(); a->index = val; break;
    case O_SYN: VALUE(); a->synonyms = val; break;
    case O_MAX:
      VALUE();
      if (parse_size(cmd, name, val, 1, 1LL << 30, &n)) return EXIT_USAGE;
      a->opts.parse.max_bytes = (size_t)n;
      break;
    case O_THREADS:
      VALUE();
      if (parse_size(cmd, name, val, 1, 64, &n)) return EXIT_USAGE;
      a->opts.threads = (int)n;
      break;
    }
#undef IS
#undef VALUE
  }
  a->opts.synonyms_path = a->synonyms;
  return 0;
}

static void print_diags(const cx_diags *d) { cx_diags_print(d, stderr); }

static int exit_for(int rc) {
  switch (rc) {
  case 0: return EXIT_OK;
  case CX_EPARTIAL: return EXIT_PARTIAL;
  case CX_EPARSE: case CX_EDUP: case CX_ETOOBIG: case CX_ENOTFOUND: return EXIT_ERRORS;
  case CX_EINVAL: return EXIT_USAGE;
  default: return EXIT_FAILURE_;
  }
}

static const char *plural(size_t n, const char *one, const char *many) {
  return n == 1 ? one : many;
}

static int cmd_build(int argc, char **argv) {
  args a;
  int rc = parse_args("build", O_OUT | O_KEEP | O_FULL | O_MAX | O_THREADS | O_SYN | O_QUIET,
                      argc, argv, &a);
  if (rc || a.help) {
    free(a.pos);
    if (a.help && rc == 0) fputs(usage_build, stdout);
    return rc;
  }
  if (a.npos == 0) rc = usage_error("build", "no seeds given: name card files or directories");
  else if (a.output == NULL) rc = usage_error("build", "no output given: add -o INDEX, e.g. -o cardex.db");
  if (rc) {
    free(a.pos);
    return rc;
  }
  a.opts.progress = !a.quiet && isatty(STDERR_FILENO);
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  cx_err err = {0};
  rc = cx_index_build(a.pos, a.npos, a.output, &a.opts, &st, &d, &err);
  print_diags(&d);
  if (rc != 0 && rc != CX_EPARTIAL) fprintf(stderr, "cardex-index: error: %s\n", err.msg);
  if (!a.quiet) {
    fprintf(stderr, "cardex-index: %zu %s (%zu reused, %zu parsed, %zu removed), %zu %s, "
            "%zu %s in %.2f s -> %s%s\n", st.cards, plural(st.cards, "card", "cards"),
            st.reused, st.parsed, st.removed, st.errors, plural(st.errors, "error", "errors"),
            st.warnings, plural(st.warnings, "warning", "warnings"), st.seconds, a.output,
            rc == 0 || rc == CX_EPARTIAL ? "" : " (not written)");
  }
  cx_diags_destroy(&d);
  free(a.pos);
  return exit_for(rc);
}

static int cmd_check(int argc, char **argv) {
  args a;
  int rc = parse_args("check", O_MAX | O_THREADS | O_SYN | O_QUIET, argc, argv, &a);
  if (rc || a.help) {
    free(a.pos);
    if (a.help && rc == 0) fputs(usage_check, stdout);
    return rc;
  }
  if (a.npos == 0) {
    free(a.pos);
    return usage_error("check", "no seeds given: name card files or directories");
  }
  a.opts.progress = !a.quiet && isatty(STDERR_FILENO);
  cx_build_stats st;
  cx_diags d;
  cx_diags_init(&d);
  cx_err err = {0};
  rc = cx_check(a.pos, a.npos, &a.opts, &st, &d, &err);
  print_diags(&d);
  if (rc != 0 && rc != CX_EPARSE) fprintf(stderr, "cardex-index: error: %s\n", err.msg);
  if (!a.quiet)
    fprintf(stderr, "cardex-index: checked %zu %s in %zu %s, %zu %s, %zu %s in %.2f s\n",
            st.cards, plural(st.cards, "card", "cards"), st.files,
            plural(st.files, "file", "files"), st.errors, plural(st.errors, "error", "errors"),
            st.warnings, plural(st.warnings, "warning", "warnings"), st.seconds);
  cx_diags_destroy(&d);
  free(a.pos);
  return exit_for(rc);
}

static int print_json(json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (s == NULL) return EXIT_FAILURE_;
  fputs(s, stdout);
  fputc('\n', stdout);
  free(s);
  return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}

static int dump_file(const char *path, const cx_build_opts *opts) {
  cx_card *card = NULL;
  cx_diags d;
  cx_diags_init(&d);
  int rc = cx_card_load(path, &opts->parse, &card, &d);
  print_diags(&d);
  cx_diags_destroy(&d);
  if (rc != 0) {
    fprintf(stderr, "cardex-index: %s: %s\n", path, cx_strerror(rc));
    return EXIT_ERRORS;
  }
  json_t *j = cx_card_to_json(card);
  int status = print_json(j);
  json_decref(j);
  cx_card_free(card);
  return status;
}

static int dump_id(const char *id, const char *index) {
  struct stat stt;
  if (stat(index, &stt) != 0) {
    fprintf(stderr, "cardex-index: %s: %s; build it with 'cardex-index build SEEDS -o %s' or "
            "name another with --index\n", index, strerror(errno), index);
    return EXIT_FAILURE_;
  }
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  int status = EXIT_FAILURE_;
  if (sqlite3_open_v2(index, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT json, rowid FROM cards WHERE id = ?", -1, &q, NULL) != SQLITE_OK) {
    fprintf(stderr, "cardex-index: %s: not a readable cardex index: %s\n", index,
            db ? sqlite3_errmsg(db) : "out of memory");
    goto done;
  }
  sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) {
    fprintf(stderr, "cardex-index: no card has id %s in %s (and no file is named so)\n", id,
            index);
    status = EXIT_ERRORS;
    goto done;
  }
  if (rc != SQLITE_ROW) {
    fprintf(stderr, "cardex-index: %s: %s\n", index, sqlite3_errmsg(db));
    goto done;
  }
  json_error_t jerr;
  json_t *j = json_loads((const char *)sqlite3_column_text(q, 0), 0, &jerr);
  if (j == NULL) {
    fprintf(stderr, "cardex-index: %s: card %s has invalid stored JSON (%s); rebuild the "
            "index with --full\n", index, id, jerr.text);
    goto done;
  }
  /* The index stores a card's sections once, in their table (CX__SCHEMA_SQL). */
  if (json_is_null(json_object_get(j, "sections"))) {
    sqlite3_stmt *sq = NULL;
    json_t *a = json_array();
    if (sqlite3_prepare_v2(db, "SELECT name, markdown, text FROM sections WHERE card = ?"
                           " ORDER BY ord", -1, &sq, NULL) == SQLITE_OK) {
      sqlite3_bind_int64(sq, 1, sqlite3_column_int64(q, 1));
      while (sqlite3_step(sq) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}",
                                           "name", (const char *)sqlite3_column_text(sq, 0),
                                           "markdown", (const char *)sqlite3_column_text(sq, 1),
                                           "text", (const char *)sqlite3_column_text(sq, 2)));
    }
    sqlite3_finalize(sq);
    json_object_set_new(j, "sections", a);
  }
  status = print_json(j);
  json_decref(j);
done:
  sqlite3_finalize(q);
  sqlite3_close(db);
  return status;
}

static int cmd_dump(int argc, char **argv) {
  args a;
  int rc = parse_args("dump", O_INDEX | O_MAX, argc, argv, &a);
  if (rc || a.help) {
    free(a.pos);
    if (a.help && rc == 0) fputs(usage_dump, stdout);
    return rc;
  }
  if (a.npos != 1) {
    free(a.pos);
    return usage_error("dump", "dump takes one card id or file");
  }
  const char *what = a.pos[0];
  struct stat st;
  if (stat(what, &st) == 0 && !S_ISDIR(st.st_mode)) rc = dump_file(what, &a.opts);
  else rc = dump_id(what, a.index ? a.index : "cardex.db");
  free(a.pos);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_main, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    fputs(usage_main, stdout);
    return EXIT_OK;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    printf("cardex-index %s (index schema %d, sqlite %s)\n", CARDEX_VERSION, CX_SCHEMA_VERSION,
           sqlite3_libversion());
    return EXIT_OK;
  }
  if (strcmp(cmd, "help") == 0) {
    const char *on = argc > 2 ? argv[2] : "";
    if (strcmp(on, "build") == 0) fputs(usage_build, stdout);
    else if (strcmp(on, "check") == 0) fputs(usage_check, stdout);
    else if (strcmp(on, "dump") == 0) fputs(usage_dump, stdout);
    else if (*on == '\0') fputs(usage_main, stdout);
    else return usage_error(NULL, "unknown command '%s'", on);
    return EXIT_OK;
  }
  if (strcmp(cmd, "build") == 0) return cmd_build(argc - 2, argv + 2);
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 2, argv + 2);
  if (strcmp(cmd, "dump") == 0) return cmd_dump(argc - 2, argv + 2);
  return usage_error(NULL, "unknown command '%s' (commands: build, check, dump)", cmd);
}
