/* The tool runner over real/sys.c (see tool.h). */
#include "real/tool.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "backstore.h"
#include "real/sys.h"

void bs__tool_result_free(bs__tool_result *r) {
  if (!r)
    return;
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof(*r));
}

/* The first non-blank line of @s, at most @max bytes, non-printable bytes as '?'. */
static void first_line(const char *s, size_t len, char *out, size_t max) {
  size_t i = 0, n = 0;
  while (i < len && (s[i] == '\n' || s[i] == '\r' || s[i] == ' ' || s[i] == '\t'))
    i++;
  for (; i < len && s[i] != '\n' && s[i] != '\r' && n + 1 < max; i++)
    out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) || (unsigned char)s[i] >= 0x80 ? s[i] : '?';
  while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
    n--;
  out[n] = '\0';
}

int bs__tool_check(const char *tool, const bs__tool_result *r, char *msg, size_t cap) {
  if (r->status == 0)
    return 0;
  char line[160];
  first_line(r->err, r->err ? r->err_len : 0, line, sizeof(line));
  if (!line[0])
    first_line(r->out, r->out ? r->out_len : 0, line, sizeof(line));
  if (r->status < 0)
    snprintf(msg, cap, "%s was killed by signal %d%s%s", tool, -r->status, line[0] ? ": " : "",
             line);
  else
    snprintf(msg, cap, "%s exited with status %d%s%s", tool, r->status, line[0] ? ": " : "", line);
  return BS_ETOOL_FAILED;
}


bool bs__tool_find(const char *name, char *out, size_t cap) {
  out[0] = '\0';
  if (!name || !name[0])
    return false;
  if (name[0] == '/') {
    int n = snprintf(out, cap, "%s", name);
    return n > 0 && (size_t)n < cap && bs__sys_faccessat(AT_FDCWD, out, X_OK, 0) == 0;
  }
  const char *path = getenv("PATH");
  char dirs[4096];
  snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin:/usr/local/sbin:/usr/bin:/bin",
           path ? path : "");
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    if (d[0] != '/')
      continue;
    int n = snprintf(out, cap, "%s/%s", d, name);
    if (n > 0 && (size_t)n < cap && bs__sys_faccessat(AT_FDCWD, out, X_OK, 0) == 0)
      return true;
  }
  out[0] = '\0';
  return false;
}

/* The tool's name without its directory, for messages. */
static const char *base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

int bs__tool_run(const char *const argv[], bs__tool_result *r, char *msg, size_t cap) {
  memset(r, 0, sizeof(*r));
  char path[PATH_MAX];
  if (!bs__tool_find(argv[0], path, sizeof(path))) {
    snprintf(msg, cap, "%s is not installed (not in PATH or the sbin directories)", base(argv[0]));
    return BS_EUNSUPPORTED;
  }
  size_t n = 0;
  while (argv[n])
    n++;
  const char **args = calloc(n + 1, sizeof(*args));
  if (!args) {
    snprintf(msg, cap, "out of memory running %s", base(argv[0]));
    return BS_ENO_MEMORY;
  }
  args[0] = path;
  for (size_t i = 1; i < n; i++)
    args[i] = argv[i];
  int e = bs__sys_run_tool(args, r);
  free(args);
  if (e != 0) {
    snprintf(msg, cap, "cannot run %s: %s", path, strerror(-e));
    return e == -ENOMEM ? BS_ENO_MEMORY : BS_ETOOL_FAILED;
  }
  return bs__tool_check(base(path), r, msg, cap);
}
