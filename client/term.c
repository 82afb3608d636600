/* term.c — display width of UTF-8 text, wrapping and truncation for the terminal. */
#include "client.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence at s (n bytes available); returns its length
 * (1 for an invalid byte, decoded as U+FFFD). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || len > n) {
    *cp = 0xFFFD;
    return 1;
  }
  if (len == 1) {
    *cp = c;
    return 1;
  }
  uint32_t v = c & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      *cp = 0xFFFD;
      return 1;
    }
    v = (v << 6) | (s[i] & 0x3F);
  }
  *cp = v;
  return len;
}

/* Column width of one code point: a small version of Markus Kuhn's wcwidth,
 * kept here so that output does not depend on the locale being UTF-8. */
static int cp_width(uint32_t c) {
  static const uint32_t zero[][2] = {
      {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A}, {0x064B, 0x065F},
      {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},
      {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
      {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF}};
  static const uint32_t wide[][2] = {
      {0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x23E9, 0x23EC}, {0x23F0, 0x23F0},
      {0x23F3, 0x23F3}, {0x25FD, 0x25FE}, {0x2614, 0x2615}, {0x2648, 0x2653}, {0x267F, 0x267F},
      {0x2693, 0x2693}, {0x26A1, 0x26A1}, {0x26AA, 0x26AB}, {0x26BD, 0x26BE}, {0x26C4, 0x26C5},
      {0x26CE, 0x26CE}, {0x26D4, 0x26D4}, {0x26EA, 0x26EA}, {0x26F2, 0x26F5}, {0x26FA, 0x26FA},
      {0x26FD, 0x26FD}, {0x2705, 0x2705}, {0x270A, 0x270B}, {0x2728, 0x2728}, {0x274C, 0x274C},
      {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2795, 0x2797}, {0x27B0, 0x27B0}, {0x27BF, 0x27BF},
      {0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x2E80, 0x303E}, {0x3041, 0x33FF},
      {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xA000, 0xA4CF}, {0xA960, 0xA97F}, {0xAC00, 0xD7A3},
      {0xF900, 0xFAFF}, {0xFE10, 0xFE19}, {0xFE30, 0xFE6F}, {0xFF00, 0xFF60}, {0xFFE0, 0xFFE6},
      {0x16FE0, 0x18AFF}, {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF},
      {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F64F},
      {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F9FF}, {0x1FA70, 0x1FAFF},
      {0x20000, 0x3FFFD}};
  if (c < 0x20 || (c >= 0x7F && c < 0xA0)) return 0;
  if (c < 0x300) return 1;
  for (size_t i = 0; i < sizeof zero / sizeof *zero; i++)
    if (c >= zero[i][0] && c <= zero[i][1]) return 0;
  for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
    if (c >= wide[i][0] && c <= wide[i][1]) return 2;
  return 1;
}

/* Length of an ANSI CSI escape at s, or 0. */
static size_t ansi_len(const char *s, size_t n) {
  if (n < 2 || s[0] != '\033' || s[1] != '[') return 0;
  for (size_t i = 2; i < n; i++)
    if ((unsigned char)s[i] >= 0x40 && (unsigned char)s[i] <= 0x7E) return i + 1;
  return n;
}

size_t cl_display_width(const char *s, size_t len) {
  size_t w = 0;
  for (size_t i = 0; i < len;) {
    size_t a = ansi_len(s + i, len - i);
    if (a) {
      i += a;
      continue;
    }
    uint32_t cp;
    i += utf8_decode((const unsigned char *)s + i, len - i, &cp);
    w += (size_t)cp_width(cp);
  }
  return w;
}

char *cl_truncate(const char *s, int width) {
  size_t len = strlen(s);
  if (width < 1) width = 1;
  if (cl_display_width(s, len) <= (size_t)width) return strdup(s);
  size_t w = 0, i = 0;
  while (i < len) {
    size_t a = ansi_len(s + i, len - i);
    if (a) {
      i += a;
      continue;
    }
    uint32_t cp;
    size_t k = utf8_decode((const unsigned char *)s + i, len - i, &cp);
    int cw = cp_width(cp);
    if (w + (size_t)cw > (size_t)width - 1) break;
    w += (size_t)cw;
    i += k;
  }
  char *out = malloc(i + 8);
  if (out == NULL) abort();
  memcpy(out, s, i);
  memcpy(out + i, "\xE2\x80\xA6", 4); /* … */
  return out;
}

static void spaces(FILE *f, int n) {
  for (int i = 0; i < n; i++) fputc(' ', f);
}

void cl_wrap(FILE *f, const char *s, int first_indent, int indent, int width) {
  int col = first_indent;
  int avail = width > indent + 10 ? width : indent + 40;
  int at_line_start = 1;
  spaces(f, first_indent);
  const char *p = s;
  while (*p) {
    if (*p == '\n') {
      fputc('\n', f);
      p++;
      spaces(f, indent);
      col = indent;
      at_line_start = 1;
      continue;
    }
    if (*p == ' ' || *p == '\t') {
      p++;
      continue;
    }
    const char *w = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n') p++;
    int ww = (int)cl_display_width(w, (size_t)(p - w));
    if (!at_line_start && col + 1 + ww > avail) {
      fputc('\n', f);
      spaces(f, indent);
      col = indent;
      at_line_start = 1;
    }
    if (!at_line_start) {
      fputc(' ', f);
      col++;
    }
    fwrite(w, 1, (size_t)(p - w), f);
    col += ww;
    at_line_start = 0;
  }
  fputc('\n', f);
}

const char *cl_sgr(const cl_opts *o, const char *code) {
  static char buf[8][16];
  static int next;
  if (!o->color) return "";
  char *b = buf[next++ % 8];
  snprintf(b, sizeof buf[0], "\033[%sm", code);
  return b;
}
