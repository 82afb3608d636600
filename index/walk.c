/* walk.c — finding card files under the paths given, reading them, locating text in them. */
/* readdir's d_type (DT_REG, DT_DIR…) */
#define _DEFAULT_SOURCE
#include "cx_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* (device, inode) pairs already seen: files, so that a file reached twice is
 * indexed once (it would otherwise be its own duplicate id), and directories,
 * so that a symlink loop ends. An open-addressing hash set: a sorted array
 * moved its tail on every insert, quadratic when inodes come in no order. */
typedef struct seen_set {
  struct seen_key { dev_t dev; ino_t ino; int used; } *v;
  size_t n, cap;
} seen_set;

static size_t seen_hash(dev_t dev, ino_t ino, size_t cap) {
  uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)dev * 0xC2B2AE3D27D4EB4FULL);
  return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Returns 1 if (dev, ino) was already there, else inserts it and returns 0. */
static int seen_add(seen_set *s, dev_t dev, ino_t ino) {
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    struct seen_key *v = cx_xcalloc(cap, sizeof *v);
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->v[i].used) continue;
      size_t j = seen_hash(s->v[i].dev, s->v[i].ino, cap);
      while (v[j].used) j = (j + 1) & (cap - 1);
      v[j] = s->v[i];
    }
    free(s->v);
    s->v = v;
    s->cap = cap;
  }
  size_t j = seen_hash(dev, ino, s->cap);
  for (; s->v[j].used; j = (j + 1) & (s->cap - 1))
    if (s->v[j].dev == dev && s->v[j].ino == ino) return 1;
  s->v[j] = (struct seen_key){dev, ino, 1};
  s->n++;
  return 0;
}

/* st NULL: size and mtime not known yet (-1; the reader learns them). */
static void files_push(cx__files *files, char *path, const struct stat *st) {
  if (files->n == files->cap) {
    files->cap = files->cap ? files->cap * 2 : 64;
    files->v = cx_xrealloc(files->v, files->cap * sizeof *files->v);
  }
  cx__file *f = &files->v[files->n++];
  f->path = path;
  f->size = st ? (int64_t)st->st_size : -1;
  f->mtime_ns = st ? cx__mtime_ns(st) : -1;
}

int64_t cx__mtime_ns(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int is_card_name(const char *name) {
  size_t n = strlen(name);
  if (name[0] == '.') return 0; /* hidden: editor and VCS droppings */
  if (n < 4 || strcmp(name + n - 3, ".md") != 0) return 0;
  return strcmp(name, "README.md") != 0;
}

/* The first member of walk_dir's entries is the name. */
static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dev: the directory's device. Without stat_files, a regular file (as
 * readdir's d_type tells) is listed without a stat of its own: its inode is
 * readdir's d_ino on the directory's device, and its size and mtime are left
 * for the parser thread that reads it (a stat per file was most of a walk of
 * 100k cards, serial before any parsing: 0.4 s). Directories, symlinks and
 * file systems without d_type are still stat'ed, relative to the directory. */
static void walk_dir(const char *dir, dev_t dev, int stat_files, seen_set *seen,
                     cx__files *files, cx_diags *diags) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    cx_diags_add(diags, CX_DIAG_ERROR, dir, 0, 0, "cannot open directory: %s", strerror(errno));
    return;
  }
  typedef struct entry { char *name; unsigned char type; ino_t ino; } entry;
  entry *ents = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      ents = cx_xrealloc(ents, cap * sizeof *ents);
    }
    ents[n++] = (entry){cx_xstrdup(e->d_name), e->d_type, e->d_ino};
  }
  /* Byte order, not locale order: the same corpus gives the same rowids everywhere. */
  if (n > 1) qsort(ents, n, sizeof *ents, name_cmp);

  size_t dlen = strlen(dir);
  int slash = dlen > 0 && dir[dlen - 1] == '/';
  for (size_t i = 0; i < n; i++) {
    cx__buf p;
    cx__buf_init(&p);
    cx__buf_puts(&p, dir);
    if (!slash) cx__buf_putc(&p, '/');
    cx__buf_puts(&p, ents[i].name);
    struct stat st;
    if (!stat_files && ents[i].type == DT_REG) {
      if (is_card_name(ents[i].name) && !seen_add(seen, dev, ents[i].ino))
        files_push(files, cx__buf_detach(&p), NULL);
      else
        cx__buf_destroy(&p);
    } else if (!stat_files && ents[i].type != DT_UNKNOWN && ents[i].type != DT_LNK &&
               ents[i].type != DT_DIR) {
      cx__buf_destroy(&p); /* a device, fifo or socket: not a card */
    } else if (fstatat(dirfd(d), ents[i].name, &st, 0) != 0) {
      /* A dangling symlink or a file removed meanwhile: not a card. */
      if (errno != ENOENT)
        cx_diags_add(diags, CX_DIAG_ERROR, p.p, 0, 0, "cannot stat: %s", strerror(errno));
      cx__buf_destroy(&p);
    } else if (S_ISDIR(st.st_mode)) {
      if (!seen_add(seen, st.st_dev, st.st_ino))
        walk_dir(p.p, st.st_dev, stat_files, seen, files, diags);
      cx__buf_destroy(&p);
    } else if (S_ISREG(st.st_mode) && is_card_name(ents[i].name) &&
               !seen_add(seen, st.st_dev, st.st_ino)) {
      files_push(files, cx__buf_detach(&p), &st);
    } else {
      cx__buf_destroy(&p);
    }
    free(ents[i].name);
  }
  closedir(d);
  free(ents);
}

void cx__walk(const char *const *paths, size_t npaths, int stat_files, cx__files *files,
              cx_diags *diags) {
  seen_set seen = {0};
  for (size_t i = 0; i < npaths; i++) {
    struct stat st;
    if (stat(paths[i], &st) != 0) {
      cx_diags_add(diags, CX_DIAG_ERROR, paths[i], 0, 0, "cannot read: %s", strerror(errno));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (!seen_add(&seen, st.st_dev, st.st_ino))
        walk_dir(paths[i], st.st_dev, stat_files, &seen, files, diags);
    } else if (!seen_add(&seen, st.st_dev, st.st_ino)) {
      /* Named explicitly: a card whatever its extension. */
      files_push(files, cx_xstrdup(paths[i]), &st);
    }
  }
  free(seen.v);
}

void cx__files_destroy(cx__files *files) {
  for (size_t i = 0; i < files->n; i++) free(files->v[i].path);
  free(files->v);
  memset(files, 0, sizeof *files);
}

int cx__read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                  int64_t *mtime_ns, cx_diags *diags) {
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cx_diags_add(diags, CX_DIAG_ERROR, path, 0, 0, "cannot open: %s", strerror(errno));
    return CX_EIO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    cx_diags_add(diags, CX_DIAG_ERROR, path, 0, 0, "not a regular file");
    close(fd);
    return CX_EIO;
  }
  if (mtime_ns) *mtime_ns = cx__mtime_ns(&st);
  if (max_bytes == 0) max_bytes = CX_DEFAULT_MAX_CARD_BYTES;
  if ((uint64_t)st.st_size > max_bytes) {
    cx_diags_add(diags, CX_DIAG_ERROR, path, 0, 0,
                 "card is %lld bytes, over the limit of %zu (split it, or raise the limit "
                 "with --max-card-bytes)", (long long)st.st_size, max_bytes);
    close(fd);
    return CX_ETOOBIG;
  }
  /* The size may change under us; read until EOF but never past the limit. */
  size_t cap = (size_t)st.st_size + 1, n = 0;
  char *p = cx_xmalloc(cap + 1);
  for (;;) {
    if (n == cap) {
      if (n > max_bytes) break;
      cap *= 2;
      p = cx_xrealloc(p, cap + 1);
    }
    ssize_t r = read(fd, p + n, cap - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      cx_diags_add(diags, CX_DIAG_ERROR, path, 0, 0, "read error: %s", strerror(errno));
      free(p);
      close(fd);
      return CX_EIO;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (n > max_bytes) {
    cx_diags_add(diags, CX_DIAG_ERROR, path, 0, 0,
                 "card grew over the limit of %zu bytes while being read", max_bytes);
    free(p);
    return CX_ETOOBIG;
  }
  p[n] = '\0';
  *data = p;
  *len = n;
  return 0;
}

/* Columns count characters, as the parser's (and libyaml's) do: the UTF-8
 * bytes before i that do not continue a sequence. */
static int char_col(const char *s, size_t i) {
  int col = 1;
  for (size_t k = 0; k < i; k++)
    if (((unsigned char)s[k] & 0xC0) != 0x80) col++;
  return col;
}

void cx__locate(const char *data, size_t len, const char *key, const char *needle,
                int *line, int *col) {
  *line = *col = 0;
  size_t nlen = strlen(needle), klen = key ? strlen(key) : 0;
  if (nlen == 0) return;
  int ln = 1;
  for (size_t bol = 0; bol < len;) {
    const char *eol = memchr(data + bol, '\n', len - bol);
    size_t end = eol ? (size_t)(eol - data) : len;
    const char *s = data + bol;
    size_t n = end - bol;
    if (key) {
      /* "key:" at column 1, then blanks, then the value, maybe quoted. */
      if (n > klen && memcmp(s, key, klen) == 0 && s[klen] == ':') {
        size_t i = klen + 1;
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        size_t v = i;
        if (i < n && (s[i] == '"' || s[i] == '\'')) i++;
        if (n - i >= nlen && memcmp(s + i, needle, nlen) == 0) {
          *line = ln;
          *col = char_col(s, v);
          return;
        }
      }
    } else {
      for (size_t i = 0; i + nlen <= n; i++)
        if (memcmp(s + i, needle, nlen) == 0) {
          *line = ln;
          *col = char_col(s, i);
          return;
        }
    }
    if (eol == NULL) break;
    bol = end + 1;
    ln++;
  }
}

void cx__locate_in_file(const char *path, const char *key, const char *needle,
                        int *line, int *col) {
  char *data;
  size_t len;
  *line = *col = 0;
  if (cx__read_file(path, SIZE_MAX / 4, &data, &len, NULL, NULL) != 0) return;
  cx__locate(data, len, key, needle, line, col);
  free(data);
}
