/* The text of an operation in a trace line (docs/traces.md, "Operation
 * lines"): written in full so that a replay needs nothing but the line, and
 * parsed back strictly.  Names and paths are escaped (\xHH for a space, a
 * control byte, a byte >= 0x7f and the backslash) so that a line splits on
 * single spaces. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/campaign_internal.h"

const char *const bs__op_names[BS__OP_COUNT] = {
  [BS__OP_CREATE] = "create",           [BS__OP_MKDIR] = "mkdir",
  [BS__OP_WRITE] = "write",             [BS__OP_READ] = "read",
  [BS__OP_TRUNCATE] = "truncate",       [BS__OP_REFLINK] = "reflink",
  [BS__OP_SETXATTR] = "setxattr",       [BS__OP_REMOVEXATTR] = "removexattr",
  [BS__OP_SNAP_CREATE] = "snapshot-create", [BS__OP_SNAP_DELETE] = "snapshot-delete",
  [BS__OP_BRANCH_CREATE] = "branch-create", [BS__OP_BRANCH_DELETE] = "branch-delete",
  [BS__OP_UNLINK] = "unlink",           [BS__OP_RMDIR] = "rmdir",
  [BS__OP_SYNC] = "sync",               [BS__OP_POWER_LOSS] = "power-loss",
  [BS__OP_SYMLINK] = "symlink",         [BS__OP_READLINK] = "readlink",
  [BS__OP_OVERLAY_CREATE] = "overlay-create", [BS__OP_CRASH_IN] = "crash-in",
  [BS__OP_LINK] = "link",                [BS__OP_BRANCH_SNAP] = "branch-snapshot",
};

/* @s escaped into @out; at most @max bytes of @s, then "...(N bytes)". */
static void escape(char *out, size_t cap, const char *s, size_t max) {
  size_t len = strlen(s), o = 0;
  for (size_t i = 0; i < len && i < max && o + 5 < cap; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch > 0x20 && ch < 0x7f && ch != '\\')
      out[o++] = (char)ch;
    else
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
  }
  out[o] = '\0';
  if (len > max)
    snprintf(out + o, cap - o, "...(%zu bytes)", len);
}

static void format(char *buf, size_t cap, const bs__op *op, size_t max) {
  if (op->kind == BS__OP_CRASH_IN) { /* "crash-in drop steps=K <the cut operation>" */
    bs__op in = *op;
    in.kind = op->inner;
    int n = snprintf(buf, cap, "%s %s steps=%" PRIu32 " ", bs__op_names[op->kind],
                     op->mode == BS_POWER_LOSS_DROP ? "drop" : "tear", op->steps);
    if (n > 0 && (size_t)n < cap)
      format(buf + n, cap - (size_t)n, &in, max);
    return;
  }
  char a[4 * CM_LONG + 32], b[4 * CM_LONG + 32];
  escape(a, sizeof(a), bs__op_pool(op->kind) ? op->name : op->path, max);
  escape(b, sizeof(b), op->path2, max);
  const char *n = bs__op_names[op->kind];
  switch (op->kind) {
  case BS__OP_WRITE:
    snprintf(buf, cap, "%s %s off=%" PRIu64 " len=%" PRIu64 " data=%016" PRIx64, n, a, op->off,
             op->len, op->dseed);
    break;
  case BS__OP_READ:
    snprintf(buf, cap, "%s %s off=%" PRIu64 " len=%" PRIu64, n, a, op->off, op->len);
    break;
  case BS__OP_TRUNCATE: snprintf(buf, cap, "%s %s size=%" PRIu64, n, a, op->off); break;
  case BS__OP_REFLINK:
  case BS__OP_LINK: snprintf(buf, cap, "%s %s %s", n, a, b); break;
  case BS__OP_SETXATTR:
    snprintf(buf, cap, "%s %s user.bs%d len=%" PRIu64 " data=%016" PRIx64, n, a, op->xattr,
             op->len, op->dseed);
    break;
  case BS__OP_REMOVEXATTR: snprintf(buf, cap, "%s %s user.bs%d", n, a, op->xattr); break;
  case BS__OP_SNAP_DELETE: snprintf(buf, cap, "%s id=%" PRIu64, n, op->id); break;
  case BS__OP_BRANCH_SNAP: snprintf(buf, cap, "%s %s of=%s", n, a, op->path2); break;
  case BS__OP_BRANCH_CREATE:
  case BS__OP_OVERLAY_CREATE: snprintf(buf, cap, "%s id=%" PRIu64 " %s", n, op->id, a); break;
  case BS__OP_SYMLINK: snprintf(buf, cap, "%s %s %s", n, a, b); break;
  case BS__OP_SYNC: snprintf(buf, cap, "%s %s", n, op->path[0] ? a : "all"); break;
  case BS__OP_POWER_LOSS:
    snprintf(buf, cap, "%s %s", n, op->mode == BS_POWER_LOSS_DROP ? "drop" : "tear");
    break;
  default: snprintf(buf, cap, "%s %s", n, a); break;
  }
}

void bs__op_format(char *buf, size_t cap, const bs__op *op) { format(buf, cap, op, CM_LONG); }

#define SHORT_MAX 48 /* bytes of a name or path in the short text */

void bs__op_format_short(char *buf, size_t cap, const bs__op *op) { format(buf, cap, op, SHORT_MAX); }

bool bs__op_short_is_full(const bs__op *op) {
  return strnlen(op->path, SHORT_MAX + 1) <= SHORT_MAX && strnlen(op->path2, SHORT_MAX + 1) <= SHORT_MAX &&
         strnlen(op->name, SHORT_MAX + 1) <= SHORT_MAX;
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct cursor {
  const char *s;
  char *why;
  size_t why_cap;
} cursor;

static int bad(cursor *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(cursor *k, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->why, k->why_cap, fmt, ap);
  va_end(ap);
  return -1;
}

/* The next space-separated token into @tok (NUL-terminated); -1 at the end. */
static int token(cursor *k, char *tok, size_t cap) {
  if (*k->s == '\0')
    return -1;
  const char *e = strchr(k->s, ' ');
  size_t n = e ? (size_t)(e - k->s) : strlen(k->s);
  if (n == 0 || n >= cap)
    return -1;
  memcpy(tok, k->s, n);
  tok[n] = '\0';
  k->s += n + (e ? 1 : 0);
  if (e && (*k->s == '\0' || *k->s == ' '))
    return -1; /* a trailing or a double space */
  return 0;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  return -1;
}

/* An escaped name or path into @out (cap CM_LONG). */
static int name_arg(cursor *k, char *out, const char *what) {
  char tok[4 * CM_LONG + 8];
  if (token(k, tok, sizeof(tok)) != 0)
    return bad(k, "missing or malformed %s", what);
  size_t o = 0;
  for (const char *p = tok; *p; o++) {
    if (o + 1 >= CM_LONG)
      return bad(k, "%s is too long", what);
    if (*p != '\\') {
      out[o] = *p++;
      continue;
    }
    int hi = p[1] == 'x' ? hexval(p[2]) : -1, lo = hi >= 0 ? hexval(p[3]) : -1;
    if (lo < 0 || (hi == 0 && lo == 0))
      return bad(k, "bad escape in %s (\\xHH, lower-case, not \\x00)", what);
    out[o] = (char)(hi * 16 + lo);
    p += 4;
  }
  out[o] = '\0';
  return 0;
}

/* A path: absolute, and short enough for the model unless one component is
 * over any name limit (an operation that must fail NAME_TOO_LONG). */
static int path_arg(cursor *k, char *out) {
  if (name_arg(k, out, "path") != 0)
    return -1;
  if (out[0] != '/')
    return bad(k, "path \"%s\" is not absolute", out);
  if (strlen(out) < CM_PATH)
    return 0;
  for (const char *p = out + 1; *p;) {
    size_t n = strcspn(p, "/");
    if (n > BS_NAME_MAX)
      return 0;
    p += n + (p[n] == '/');
  }
  return bad(k, "path \"%.40s...\" is longer than the model's paths", out);
}

/* "key=<decimal>" or, with @hex, "key=<16 hex digits>". */
static int num_arg(cursor *k, const char *key, bool hex, uint64_t *out) {
  char tok[64];
  size_t kl = strlen(key);
  if (token(k, tok, sizeof(tok)) != 0 || strncmp(tok, key, kl) != 0 || tok[kl] != '=')
    return bad(k, "expected %s=", key);
  const char *v = tok + kl + 1;
  if (hex ? strlen(v) != 16 : (*v == '\0' || (v[0] == '0' && v[1] != '\0')))
    return bad(k, "malformed %s= value", key);
  uint64_t x = 0;
  for (const char *p = v; *p; p++) {
    int d = hex ? hexval(*p) : (*p >= '0' && *p <= '9' ? *p - '0' : -1);
    if (d < 0 || (!hex && x > (UINT64_MAX - (uint64_t)d) / 10))
      return bad(k, "malformed %s= value", key);
    x = hex ? (x << 4) | (uint64_t)d : x * 10 + (uint64_t)d;
  }
  *out = x;
  return 0;
}

static int xattr_arg(cursor *k, bs__op *op) {
  char tok[32];
  if (token(k, tok, sizeof(tok)) != 0 || strncmp(tok, "user.bs", 7) != 0 || tok[7] < '0' ||
      tok[7] >= '0' + CM_XATTRS || tok[8] != '\0')
    return bad(k, "expected an xattr name user.bs0..user.bs%s", CM_XATTRS == 4 ? "3" : "?");
  op->xattr = tok[7] - '0';
  return 0;
}

/* A snapshot or branch name: a pool name (s0..s3, b0..b2), or one that
 * bs_name_validate() refuses (an operation that must fail). */
static int pool_arg(cursor *k, bs__op *op, char prefix, int pool) {
  if (name_arg(k, op->name, "name") != 0)
    return -1;
  if (bs_name_validate(op->name) != 0)
    return 0;
  if (op->name[0] != prefix || op->name[1] < '0' || op->name[1] >= '0' + pool || op->name[2])
    return bad(k, prefix == 's' ? "snapshot name \"%s\" is not one of s0..s3"
                                : "branch name \"%s\" is not one of b0..b2", op->name);
  if (prefix == 's')
    op->snap = op->name[1] - '0';
  else
    op->branch = op->name[1] - '0';
  return 0;
}

/* branch-snapshot: "sN of=bM" (pool names only). */
static int branch_snap_args(cursor *k, bs__op *op) {
  char tok[CM_LONG];
  if (pool_arg(k, op, 's', CM_SNAPS) != 0)
    return -1;
  if (op->snap < 0)
    return bad(k, "snapshot name \"%s\" is not one of s0..s3", op->name);
  if (token(k, tok, sizeof(tok)) != 0 || strncmp(tok, "of=b", 4) != 0 || tok[4] < '0' ||
      tok[4] >= '0' + CM_BRANCHES || tok[5])
    return bad(k, "expected %s", "of=b0..b2");
  snprintf(op->path2, sizeof(op->path2), "%s", tok + 3);
  op->branch = tok[4] - '0';
  return 0;
}

/* "drop" or "tear" (power-loss, crash-in). */
static int mode_arg(cursor *k, bs__op *op) {
  char tok[8];
  if (token(k, tok, sizeof(tok)) != 0 || (strcmp(tok, "drop") && strcmp(tok, "tear")))
    return bad(k, "expected %s", "drop or tear");
  op->mode = tok[0] == 'd' ? BS_POWER_LOSS_DROP : BS_POWER_LOSS_TEAR;
  return 0;
}

static int parse_args(cursor *k, bs__op *op) {
  switch (op->kind) {
  case BS__OP_WRITE:
    if (path_arg(k, op->path) || num_arg(k, "off", false, &op->off) ||
        num_arg(k, "len", false, &op->len) || num_arg(k, "data", true, &op->dseed))
      return -1;
    if (op->len == 0 || op->off >= CM_FILE_MAX || op->len > CM_FILE_MAX - op->off)
      return bad(k, "write range is empty or ends past %s", "64 KiB");
    return 0;
  case BS__OP_READ:
    if (path_arg(k, op->path) || num_arg(k, "off", false, &op->off) ||
        num_arg(k, "len", false, &op->len))
      return -1;
    if (op->len == 0 || op->len > CM_FILE_MAX)
      return bad(k, "read length is 0 or over %s", "64 KiB");
    return 0;
  case BS__OP_TRUNCATE:
    if (path_arg(k, op->path) || num_arg(k, "size", false, &op->off))
      return -1;
    return op->off > CM_FILE_MAX ? bad(k, "truncate size over %s", "64 KiB") : 0;
  case BS__OP_REFLINK:
  case BS__OP_LINK: return path_arg(k, op->path) || path_arg(k, op->path2) ? -1 : 0;
  case BS__OP_SETXATTR:
    if (path_arg(k, op->path) || xattr_arg(k, op) || num_arg(k, "len", false, &op->len) ||
        num_arg(k, "data", true, &op->dseed))
      return -1;
    return op->len > CM_XATTR_LEN ? bad(k, "xattr value over %s bytes", "24") : 0;
  case BS__OP_REMOVEXATTR: return path_arg(k, op->path) || xattr_arg(k, op) ? -1 : 0;
  case BS__OP_SNAP_CREATE: return pool_arg(k, op, 's', CM_SNAPS);
  case BS__OP_BRANCH_SNAP: return branch_snap_args(k, op);
  case BS__OP_SNAP_DELETE: return num_arg(k, "id", false, &op->id);
  case BS__OP_SYMLINK:
    if (path_arg(k, op->path) || name_arg(k, op->path2, "target"))
      return -1;
    return 0;
  case BS__OP_BRANCH_CREATE:
  case BS__OP_OVERLAY_CREATE:
    return num_arg(k, "id", false, &op->id) || pool_arg(k, op, 'b', CM_BRANCHES) ? -1 : 0;
  case BS__OP_BRANCH_DELETE:
    if (pool_arg(k, op, 'b', CM_BRANCHES) != 0)
      return -1;
    return op->branch < 0 ? bad(k, "branch name \"%s\" is not one of b0..b2", op->name) : 0;
  case BS__OP_SYNC:
    if (strcmp(k->s, "all") == 0) {
      k->s += 3;
      return 0;
    }
    return path_arg(k, op->path);
  case BS__OP_POWER_LOSS: return mode_arg(k, op);
  case BS__OP_CRASH_IN: {
    uint64_t steps;
    char kind[24];
    if (mode_arg(k, op) || num_arg(k, "steps", false, &steps))
      return -1;
    if (steps > UINT32_MAX)
      return bad(k, "steps=%" PRIu64 " is too large", steps);
    op->steps = (uint32_t)steps;
    int i = 0;
    if (token(k, kind, sizeof(kind)) == 0)
      while (i < BS__OP_COUNT && strcmp(bs__op_names[i], kind) != 0)
        i++;
    if (i == BS__OP_COUNT || !bs__crash_in_inner_ok((bs__op_kind)i))
      return bad(k, "crash-in cuts %s", "write, truncate, setxattr, removexattr or unlink");
    bs__op in = *op;
    in.kind = (bs__op_kind)i;
    if (parse_args(k, &in) != 0)
      return -1;
    in.kind = BS__OP_CRASH_IN;
    in.inner = (bs__op_kind)i;
    *op = in;
    return 0;
  }
  default: return path_arg(k, op->path);
  }
}

int bs__camp_run_text(bs__camp *c, const char *s, char *why, size_t why_cap) {
  bs__op op;
  if (bs__op_parse(s, &op, why, why_cap) != 0 ||
      bs__camp_expect(&c->m, c->has_power_loss, &op, why, why_cap) != 0)
    return -2;
  return bs__camp_exec(c, &op) != 0 ? -1 : 0;
}

int bs__op_parse(const char *s, bs__op *op, char *why, size_t why_cap) {
  memset(op, 0, sizeof(*op));
  op->snap = op->branch = -1;
  cursor k = {.s = s, .why = why, .why_cap = why_cap};
  char kind[24];
  if (token(&k, kind, sizeof(kind)) != 0)
    return bad(&k, "missing operation%s", "");
  int i = 0;
  while (i < BS__OP_COUNT && strcmp(bs__op_names[i], kind) != 0)
    i++;
  if (i == BS__OP_COUNT)
    return bad(&k, "unknown operation \"%s\"", kind);
  op->kind = (bs__op_kind)i;
  if (parse_args(&k, op) != 0)
    return -1;
  if (*k.s != '\0')
    return bad(&k, "unexpected \"%s\" after the arguments", k.s);
  return 0;
}
