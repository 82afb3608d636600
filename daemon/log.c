/* log.c — cardexd's log: one line per event on stderr, with a UTC time and a level. */
#include "cardexd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int cxd_log_level = CXD_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void cxd_iso_time(char out[32]) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void cxd_log(int level, const char *fmt, ...) {
  if (!cxd_log_on(level)) return;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  /* Built in one buffer and written with one call so that lines from the
   * build thread and the loop never interleave. */
  char line[2048];
  int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
  n += snprintf(line + n, sizeof line - (size_t)n, ".%03dZ cardexd %s: ",
                (int)(tv.tv_usec / 1000), level_names[level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) m = 0;
  n += m;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  fwrite(line, 1, (size_t)n, stderr);
}
