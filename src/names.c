/* Snapshot and branch names: validation (docs/names.md) and the store paths
 * built from them.  A name reaches a path only through these functions. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "backstore.h"
#include "src/names.h"

/* Length of the valid UTF-8 sequence at @s (1..4), or 0 if it is not one.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t left) {
  unsigned char c = s[0];
  if (c < 0x80)
    return 1;
  size_t n;
  unsigned cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (left < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

/* A control character at @s, whose valid UTF-8 sequence is @n bytes long:
 * C0 (U+0000..U+001F), DEL (U+007F) or C1 (U+0080..U+009F, C2 80..C2 9F). */
static bool is_control(const unsigned char *s, size_t n) {
  return (n == 1 && (s[0] < 0x20 || s[0] == 0x7f)) || (n == 2 && s[0] == 0xc2 && s[1] <= 0x9f);
}

/* The rules of docs/names.md; @controls: whether control characters pass. */
static int check_name(const char *name, bool controls) {
  if (!name || !*name)
    return BS_EINVALID;
  size_t len = strlen(name);
  if (len > BS_NAME_MAX)
    return BS_ENAME_TOO_LONG;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return BS_EINVALID;
  const unsigned char *s = (const unsigned char *)name;
  for (size_t i = 0; i < len;) {
    if (s[i] == '/')
      return BS_EINVALID;
    size_t n = utf8_seq(s + i, len - i);
    if (n == 0 || (!controls && is_control(s + i, n)))
      return BS_EINVALID;
    i += n;
  }
  return BS_OK;
}

int bs_name_validate(const char *name) { return check_name(name, false); }

int bs__name_validate_held(const char *name) { return check_name(name, true); }

size_t bs_text_escape(char *buf, size_t cap, const char *text) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)(text ? text : "");
  size_t len = strlen((const char *)s), need = 0, at = 0;
  /* The common case, printable ASCII only, is one copy. */
  size_t plain = 0;
  while (plain < len && s[plain] >= 0x20 && s[plain] < 0x7f)
    plain++;
  if (plain == len) {
    if (buf && cap > 0) {
      at = len < cap ? len : cap - 1;
      memcpy(buf, s, at);
      buf[at] = '\0';
    }
    return len;
  }
  for (size_t i = 0; i < len;) {
    size_t n = utf8_seq(s + i, len - i);
    bool escape = n == 0 || is_control(s + i, n);
    if (n == 0)
      n = 1; /* a byte that is not valid UTF-8: escaped alone */
    size_t w = escape ? 4 * n : n;
    if (buf && need == at && at + w < cap) { /* whole pieces only, while they fit */
      for (size_t k = 0; k < n; k++) {
        if (escape) {
          char *o = buf + at + 4 * k;
          o[0] = '\\';
          o[1] = 'x';
          o[2] = hex[s[i + k] >> 4];
          o[3] = hex[s[i + k] & 15];
        } else
          buf[at + k] = (char)s[i + k];
      }
      at += w;
    }
    need += w;
    i += n;
  }
  if (buf && cap > 0)
    buf[at] = '\0';
  return need;
}

/* Paths reach the trees of existing snapshots and branches too, whose names
 * may predate the rule against control characters. */
static int tree_path(char *buf, size_t cap, const char *dir, const char *name) {
  int rc = bs__name_validate_held(name);
  if (rc != 0)
    return rc;
  if (!buf)
    return BS_EINVALID;
  /* Measured before writing: a buffer too small gets nothing, not a
   * truncated path that names another snapshot. */
  if (strlen("/.bs/") + strlen(dir) + 1 + strlen(name) >= cap)
    return BS_ENAME_TOO_LONG;
  snprintf(buf, cap, "/.bs/%s/%s", dir, name);
  return BS_OK;
}

int bs_snapshot_path(char *buf, size_t cap, const char *name) {
  return tree_path(buf, cap, "snapshots", name);
}

int bs_branch_path(char *buf, size_t cap, const char *name) {
  return tree_path(buf, cap, "branches", name);
}
