/* Drawing a differential stream.  Unlike the campaign (lab/campaign_gen.c),
 * which only issues operations whose result its model can predict, this
 * generator aims at the corners where filesystems disagree: the wrong kind
 * of inode (unlink of a directory, rename of a directory over a file or into
 * itself), paths through files, names and xattrs at and over their limits,
 * set-id modes, extreme times.  Nothing predicts the result: the real kernel
 * is the oracle.  Paths come from a small name space below a few known
 * paths, so that operations keep meeting each other. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lab/diff_internal.h"

/* Relative weights of the operations (docs/diff.md). */
static const unsigned weights[DF_KIND_COUNT] = {
  [DF_CREATE] = 10,    [DF_MKDIR] = 5,      [DF_WRITE] = 14,     [DF_READ] = 6,
  [DF_TRUNCATE] = 5,   [DF_UNLINK] = 5,     [DF_RMDIR] = 4,      [DF_RENAME] = 8,
  [DF_STAT] = 3,       [DF_CHMOD] = 4,      [DF_CHOWN] = 3,      [DF_UTIMENS] = 3,
  [DF_SETXATTR] = 8,   [DF_GETXATTR] = 4,   [DF_REMOVEXATTR] = 3, [DF_LISTXATTR] = 2,
  [DF_READDIR] = 3,    [DF_REFLINK] = 5,    [DF_SYNC] = 2,       [DF_CAPS] = 1,
  [DF_REPLACE] = 5,
  [DF_SYMLINK] = 5,    [DF_READLINK] = 4,   [DF_LINK] = 5, /* the links mix only */
};

static bool links_op(int k) { return k == DF_SYMLINK || k == DF_READLINK || k == DF_LINK; }

static const char *const kind_names[DF_KIND_COUNT] = {
  "create", "mkdir", "write", "read", "truncate", "unlink", "rmdir", "rename", "stat", "chmod",
  "chown", "utimens", "setxattr", "getxattr", "removexattr", "listxattr", "readdir", "reflink",
  "sync", "caps", "replace", "symlink", "readlink", "link", "overlay",
};

void bs__dfill(uint8_t *p, size_t n, uint64_t seed) {
  bs__rng r;
  bs__rng_seed(&r, seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t x = bs__rng_next(&r);
    size_t k = n - i < 8 ? n - i : 8;
    memcpy(p + i, &x, k);
  }
}

static uint64_t below(bs__dgen *g, uint64_t n) { return bs__rng_below(&g->rng, n); }
static bool chance(bs__dgen *g, unsigned percent) { return below(g, 100) < percent; }

void bs__dgen_init(bs__dgen *g, uint64_t seed, uint16_t max_name) {
  memset(g, 0, sizeof(*g));
  /* Not the sim store's seed stream: a different constant, one PRNG. */
  bs__rng_seed(&g->rng, seed ^ 0xd1ffd1ffd1ffd1ffull);
  g->max_name = max_name;
}

/* ---- known paths ----------------------------------------------------------- */

static int known_find(const bs__dgen *g, const char *path) {
  for (size_t i = 0; i < g->n; i++)
    if (strcmp(g->known[i], path) == 0)
      return (int)i;
  return -1;
}

static void known_add(bs__dgen *g, const char *path, bs_file_kind kind) {
  if (known_find(g, path) >= 0 || g->n == DF_KNOWN || strlen(path) >= DF_PATH)
    return;
  snprintf(g->known[g->n], DF_PATH, "%s", path);
  g->kinds[g->n++] = kind;
}

static void known_del(bs__dgen *g, size_t i) {
  g->n--;
  if (i != g->n) {
    memcpy(g->known[i], g->known[g->n], DF_PATH);
    g->kinds[i] = g->kinds[g->n];
  }
}

/* True if @path is @dir or below it. */
static bool under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void known_del_tree(bs__dgen *g, const char *dir) {
  for (size_t i = g->n; i-- > 0;)
    if (under(g->known[i], dir))
      known_del(g, i);
}

void bs__dgen_learn(bs__dgen *g, const bs__dop *op) {
  switch (op->kind) {
  case DF_CREATE:
  case DF_REPLACE: known_add(g, op->path, BS_KIND_FILE); break;
  case DF_MKDIR: known_add(g, op->path, BS_KIND_DIR); break;
  case DF_REFLINK:
  case DF_LINK: known_add(g, op->path2, BS_KIND_FILE); break;
  case DF_SYMLINK: known_add(g, op->path, BS_KIND_SYMLINK); break;
  case DF_OVERLAY: /* the branch shows the main tree as it was: its paths, under the branch */
    g->branched = true;
    for (size_t i = 0, n = g->n; i < n; i++) {
      char p[DF_PATH];
      int w = snprintf(p, sizeof(p), "%s%s", DF_OV_ROOT, g->known[i]);
      if (w > 0 && (size_t)w < sizeof(p))
        known_add(g, p, g->kinds[i]);
    }
    known_add(g, DF_OV_ROOT, BS_KIND_DIR);
    break;
  case DF_UNLINK:
  case DF_RMDIR: known_del_tree(g, op->path); break;
  case DF_RENAME: {
    if (strcmp(op->path, op->path2) == 0)
      break;
    known_del_tree(g, op->path2);
    size_t fl = strlen(op->path);
    for (size_t i = 0; i < g->n; i++) {
      if (!under(g->known[i], op->path))
        continue;
      char moved[DF_PATH];
      int w = snprintf(moved, sizeof(moved), "%s%s", op->path2, g->known[i] + fl);
      if (w < 0 || (size_t)w >= sizeof(moved))
        known_del(g, i--); /* too long to keep: forget it */
      else
        memcpy(g->known[i], moved, sizeof(moved));
    }
    break;
  }
  default: break;
  }
}

/* ---- paths ----------------------------------------------------------------- */

/* A known path of @kind (0: any), or NULL. */
static const char *pick_known(bs__dgen *g, bs_file_kind kind) {
  size_t count = 0;
  for (size_t i = 0; i < g->n; i++)
    count += !kind || g->kinds[i] == kind;
  if (count == 0)
    return NULL;
  uint64_t k = below(g, count);
  for (size_t i = 0; i < g->n; i++)
    if ((!kind || g->kinds[i] == kind) && k-- == 0)
      return g->known[i];
  return NULL;
}

/* A name for a new entry: mostly from a small pool, sometimes at or over
 * the name limit, sometimes differing only in case. */
static void new_name(bs__dgen *g, char *out, size_t cap) {
  uint64_t r = below(g, 100);
  if (r <= 3) { /* exactly the limit (r < 3), or one over */
    size_t n = (size_t)g->max_name + (r == 3);
    if (n + 1 > cap)
      n = cap - 1;
    memset(out, r == 3 ? 'L' : 'l', n);
    out[n] = '\0';
  } else if (r < 50) {
    snprintf(out, cap, "%c%u", chance(g, 5) ? 'F' : 'f', (unsigned)below(g, 6));
  } else if (r < 85) {
    snprintf(out, cap, "d%u", (unsigned)below(g, 3));
  } else {
    snprintf(out, cap, "x%u", (unsigned)below(g, 3));
  }
}

/* A path that may or may not exist: a new name below a known directory
 * (or the root), below a known file (a path through a file), or below a
 * directory that does not exist. */
static void new_path(bs__dgen *g, char *out, size_t cap) {
  char name[300];
  new_name(g, name, sizeof(name));
  const char *parent = "";
  uint64_t r = below(g, 100);
  const char *p = NULL;
  if (g->branched && chance(g, 15)) /* a name at the branch's root */
    p = DF_OV_ROOT;
  else if (r < 55)
    p = pick_known(g, BS_KIND_DIR);
  else if (r < 60)
    p = pick_known(g, BS_KIND_FILE);
  else if (r < 63)
    p = "/nodir";
  if (p && strlen(p) + strlen(name) + 2 < cap && strlen(p) < 200)
    parent = p;
  snprintf(out, cap, "%s/%s", parent, name);
}

/* A path to act on: mostly a known one of @kind (0: any), sometimes one of
 * another kind, sometimes a new one. */
static void target(bs__dgen *g, char *out, size_t cap, bs_file_kind kind, unsigned miss) {
  const char *p = NULL;
  if (!chance(g, miss))
    p = pick_known(g, chance(g, 12) ? 0 : kind);
  if (p)
    snprintf(out, cap, "%s", p);
  else
    new_path(g, out, cap);
  /* Sometimes a trailing slash ("this must be a directory") or a doubled one. */
  size_t n = strlen(out);
  uint64_t r = below(g, 100);
  if (r < 3 && n + 1 < cap) {
    out[n] = '/';
    out[n + 1] = '\0';
  } else if (r < 5 && n + 1 < cap && n > 1) {
    char *last = strrchr(out, '/');
    memmove(last + 1, last, strlen(last) + 1);
  }
}

/* ---- arguments ------------------------------------------------------------- */

static uint32_t draw_mode(bs__dgen *g, bs_file_kind kind) {
  static const uint32_t modes[] = {0644, 0600, 0755, 0700, 0444, 0777, 0,
                                   04755, 02755, 06755, 02745, 06644, 01777, 07777};
  if (chance(g, 50))
    return kind == BS_KIND_DIR ? 0755 : 0644;
  return modes[below(g, sizeof(modes) / sizeof(modes[0]))];
}

static uint32_t draw_id(bs__dgen *g) {
  static const uint32_t ids[] = {0, 0, 1000, 65534, 12345, BS_ID_KEEP, BS_ID_KEEP};
  return ids[below(g, sizeof(ids) / sizeof(ids[0]))];
}

static int64_t draw_time(bs__dgen *g) {
  uint64_t r = below(g, 100);
  if (r < 60) /* 2001 .. 2033 with nanoseconds */
    return (int64_t)(1000000000ull + below(g, 1000000000ull)) * 1000000000LL +
           (int64_t)below(g, 1000000000ull);
  if (r < 70)
    return 0;
  if (r < 80) /* whole seconds */
    return (int64_t)below(g, 4000000000ull) * 1000000000LL;
  if (r < 90) /* before the epoch, down to 1902 */
    return -(int64_t)(1 + below(g, 2100000000ull)) * 1000000000LL + (int64_t)below(g, 1000000000ull);
  if (r < 95) /* past 2038, up to 2262 (the end of int64 nanoseconds) */
    return (int64_t)(2147483648ull + below(g, 7000000000ull)) * 1000000000LL;
  /* before 1901, and the extremes */
  return chance(g, 50) ? INT64_MIN + (int64_t)below(g, 3) : -(int64_t)(2147483648ull + below(g, 1000)) * 1000000000LL;
}

static void draw_xname(bs__dgen *g, char *out, size_t cap) {
  uint64_t r = below(g, 100);
  if (r < 70)
    snprintf(out, cap, "user.%c", 'a' + (int)below(g, 4));
  else if (r < 76)
    snprintf(out, cap, "trusted.t%u", (unsigned)below(g, 2));
  else if (r < 80)
    snprintf(out, cap, "security.s%u", (unsigned)below(g, 2));
  else if (r < 84)
    snprintf(out, cap, "other.ns");
  else if (r < 87)
    snprintf(out, cap, "user.");
  else if (r < 90)
    snprintf(out, cap, "%s", "");
  else { /* at the limit or one over */
    size_t n = (size_t)g->max_name - 5 + (r >= 95);
    if (n + 6 > cap)
      n = cap - 6;
    memcpy(out, "user.", 5);
    memset(out + 5, 'n', n);
    out[5 + n] = '\0';
  }
}

static uint64_t draw_xlen(bs__dgen *g) {
  uint64_t r = below(g, 100);
  if (r < 60)
    return below(g, 64);
  if (r < 75)
    return 64 + below(g, 1000);
  if (r < 85)
    return 3900 + below(g, 300); /* around one ext4 block */
  if (r < 93)
    return 15500 + below(g, 900); /* around a btrfs leaf */
  if (r < 97)
    return 65536;
  return 65537;
}

/* ---- operations ------------------------------------------------------------ */

static void draw_write(bs__dgen *g, bs__dop *op) {
  target(g, op->path, sizeof(op->path), BS_KIND_FILE, 8);
  uint64_t r = below(g, 100);
  if (r < 40)
    op->off = below(g, 65536);
  else if (r < 55)
    op->off = 0;
  else if (r < 90)
    op->off = below(g, 16) * 4096;
  else
    op->off = below(g, DF_FILE_MAX - 70000);
  op->len = 1 + below(g, chance(g, 20) ? 65536 : 3000);
  op->dseed = bs__rng_next(&g->rng);
}

static void draw_rename(bs__dgen *g, bs__dop *op) {
  target(g, op->path, sizeof(op->path), 0, 10);
  uint64_t r = below(g, 100);
  if (r < 50) {
    new_path(g, op->path2, sizeof(op->path2));
  } else if (r < 85) {
    target(g, op->path2, sizeof(op->path2), 0, 0);
  } else if (r < 92 && strlen(op->path) + 4 < sizeof(op->path2)) { /* into itself */
    snprintf(op->path2, sizeof(op->path2), "%.590s/in", op->path);
  } else {
    snprintf(op->path2, sizeof(op->path2), "%s", op->path); /* onto itself */
  }
}

/* bs_replace: mostly over a known file (keeping its mode), sometimes a new
 * name (getting the drawn mode) or the wrong kind; sometimes empty, and now
 * and then more than one BS_REPLACE_CHUNK, so the copy takes two chunks. */
static void draw_replace(bs__dgen *g, bs__dop *op) {
  target(g, op->path, sizeof(op->path), BS_KIND_FILE, 25);
  op->mode = draw_mode(g, BS_KIND_FILE);
  uint64_t r = below(g, 100);
  op->len = r < 10 ? 0 : r < 97 ? 1 + below(g, 70000) : BS_REPLACE_CHUNK + below(g, 5000);
  op->dseed = bs__rng_next(&g->rng);
}

static void draw_getxattr_cap(bs__dgen *g, bs__dop *op) {
  uint64_t r = below(g, 100);
  op->len = r < 25 ? 0 : r < 40 ? below(g, 8) : 65536 + 16;
}

static bs__dop_kind draw_kind(bs__dgen *g) {
  if (g->n < 4 && chance(g, 60)) /* an empty store meets only NOT_FOUND */
    return chance(g, 60) ? DF_CREATE : DF_MKDIR;
  unsigned total = 0;
  for (int k = 0; k < DF_KIND_COUNT; k++)
    total += g->links || !links_op(k) ? weights[k] : 0;
  uint64_t r = below(g, total);
  for (int k = 0; k < DF_KIND_COUNT; k++) {
    unsigned w = g->links || !links_op(k) ? weights[k] : 0;
    if (r < w)
      return (bs__dop_kind)k;
    r -= w;
  }
  return DF_STAT;
}

void bs__dgen_draw(bs__dgen *g, bs__dop *op) {
  memset(op, 0, sizeof(*op));
  if (g->overlay && !g->branched && g->drawn >= DF_OV_AT) {
    g->drawn++;
    op->kind = DF_OVERLAY;
    return;
  }
  op->kind = g->drawn++ == 0 ? DF_CAPS : draw_kind(g);
  switch (op->kind) {
  case DF_CREATE:
  case DF_MKDIR:
    target(g, op->path, sizeof(op->path), op->kind == DF_MKDIR ? BS_KIND_DIR : BS_KIND_FILE, 80);
    op->mode = draw_mode(g, op->kind == DF_MKDIR ? BS_KIND_DIR : BS_KIND_FILE);
    break;
  case DF_WRITE: draw_write(g, op); break;
  case DF_READ:
    target(g, op->path, sizeof(op->path), BS_KIND_FILE, 8);
    op->off = chance(g, 70) ? below(g, 8192) : below(g, DF_FILE_MAX);
    op->len = 1 + below(g, chance(g, 30) ? DF_READ_MAX : 4096);
    break;
  case DF_TRUNCATE: {
    target(g, op->path, sizeof(op->path), BS_KIND_FILE, 8);
    uint64_t r = below(g, 100);
    op->off = r < 25 ? 0 : r < 80 ? below(g, 70000) : below(g, DF_FILE_MAX);
    break;
  }
  case DF_UNLINK: target(g, op->path, sizeof(op->path), BS_KIND_FILE, 10); break;
  case DF_RMDIR: target(g, op->path, sizeof(op->path), BS_KIND_DIR, 10); break;
  case DF_RENAME: draw_rename(g, op); break;
  case DF_STAT:
    if (chance(g, 10))
      snprintf(op->path, sizeof(op->path), "/");
    else
      target(g, op->path, sizeof(op->path), 0, 15);
    break;
  case DF_CHMOD:
    target(g, op->path, sizeof(op->path), 0, 8);
    op->mode = draw_mode(g, BS_KIND_FILE);
    break;
  case DF_CHOWN:
    target(g, op->path, sizeof(op->path), 0, 8);
    op->uid = draw_id(g);
    op->gid = draw_id(g);
    break;
  case DF_UTIMENS:
    target(g, op->path, sizeof(op->path), 0, 8);
    op->atime = draw_time(g);
    op->mtime = draw_time(g);
    break;
  case DF_SETXATTR:
    target(g, op->path, sizeof(op->path), 0, 8);
    draw_xname(g, op->xname, sizeof(op->xname));
    op->len = draw_xlen(g);
    op->dseed = bs__rng_next(&g->rng);
    break;
  case DF_GETXATTR:
  case DF_REMOVEXATTR:
    target(g, op->path, sizeof(op->path), 0, 8);
    draw_xname(g, op->xname, sizeof(op->xname));
    if (op->kind == DF_GETXATTR)
      draw_getxattr_cap(g, op);
    break;
  case DF_LISTXATTR: target(g, op->path, sizeof(op->path), 0, 8); break;
  case DF_READDIR:
    if (chance(g, 20))
      snprintf(op->path, sizeof(op->path), "/");
    else
      target(g, op->path, sizeof(op->path), BS_KIND_DIR, 10);
    break;
  case DF_REFLINK:
    target(g, op->path, sizeof(op->path), BS_KIND_FILE, 8);
    if (chance(g, 80))
      new_path(g, op->path2, sizeof(op->path2));
    else
      target(g, op->path2, sizeof(op->path2), 0, 0);
    break;
  case DF_SYNC:
    if (chance(g, 60))
      target(g, op->path, sizeof(op->path), BS_KIND_FILE, 5);
    break;
  case DF_REPLACE: draw_replace(g, op); break;
  case DF_SYMLINK: {
    /* Targets: a sibling name, one up, absolute (confinement), dangling, empty. */
    static const char *const texts[] = {"f0", "../d0", "/etc/passwd", "nowhere/x", "", "d1/f2", "."};
    new_path(g, op->path, sizeof(op->path));
    if (chance(g, 15))
      target(g, op->path, sizeof(op->path), 0, 0); /* over an existing name: EXISTS */
    snprintf(op->path2, sizeof(op->path2), "%s", texts[below(g, 7)]);
    break;
  }
  case DF_READLINK: target(g, op->path, sizeof(op->path), BS_KIND_SYMLINK, 10); break;
  case DF_LINK:
    target(g, op->path, sizeof(op->path), chance(g, 20) ? 0 : BS_KIND_FILE, 8);
    if (chance(g, 80))
      new_path(g, op->path2, sizeof(op->path2));
    else
      target(g, op->path2, sizeof(op->path2), 0, 0);
    break;
  case DF_CAPS:
  case DF_OVERLAY:
  case DF_KIND_COUNT: break;
  }
}

/* A path for a trace line: long runs of one byte are shortened ("L*256"). */
static void short_path(char *buf, size_t cap, const char *p) {
  size_t o = 0;
  while (*p && o + 16 < cap) {
    size_t run = 1;
    while (p[run] == p[0])
      run++;
    if (run >= 8) {
      o += (size_t)snprintf(buf + o, cap - o, "%c*%zu", p[0], run);
      p += run;
    } else {
      buf[o++] = *p++;
    }
  }
  buf[o] = '\0';
}

void bs__dop_format(char *buf, size_t cap, const bs__dop *op) {
  char p1[256], p2[256], xn[128];
  short_path(p1, sizeof(p1), op->path);
  short_path(p2, sizeof(p2), op->path2);
  short_path(xn, sizeof(xn), op->xname);
  const char *k = kind_names[op->kind];
  switch (op->kind) {
  case DF_CREATE:
  case DF_MKDIR:
  case DF_CHMOD: snprintf(buf, cap, "%s %s mode=%04o", k, p1, (unsigned)op->mode); break;
  case DF_WRITE:
    snprintf(buf, cap, "%s %s off=%" PRIu64 " len=%" PRIu64 " data=%016" PRIx64, k, p1, op->off,
             op->len, op->dseed);
    break;
  case DF_READ:
    snprintf(buf, cap, "%s %s off=%" PRIu64 " len=%" PRIu64, k, p1, op->off, op->len);
    break;
  case DF_TRUNCATE: snprintf(buf, cap, "%s %s size=%" PRIu64, k, p1, op->off); break;
  case DF_REPLACE:
    snprintf(buf, cap, "%s %s len=%" PRIu64 " mode=%04o data=%016" PRIx64, k, p1, op->len,
             (unsigned)op->mode, op->dseed);
    break;
  case DF_RENAME:
  case DF_REFLINK:
  case DF_LINK:
  case DF_SYMLINK: snprintf(buf, cap, "%s %s %s", k, p1, p2); break;
  case DF_CHOWN:
    snprintf(buf, cap, "%s %s uid=%" PRId64 " gid=%" PRId64, k, p1,
             op->uid == BS_ID_KEEP ? -1 : (int64_t)op->uid,
             op->gid == BS_ID_KEEP ? -1 : (int64_t)op->gid);
    break;
  case DF_UTIMENS:
    snprintf(buf, cap, "%s %s atime=%" PRId64 " mtime=%" PRId64, k, p1, op->atime, op->mtime);
    break;
  case DF_SETXATTR:
    snprintf(buf, cap, "%s %s name=\"%s\" len=%" PRIu64 " data=%016" PRIx64, k, p1, xn, op->len,
             op->dseed);
    break;
  case DF_GETXATTR:
    snprintf(buf, cap, "%s %s name=\"%s\" cap=%" PRIu64, k, p1, xn, op->len);
    break;
  case DF_REMOVEXATTR: snprintf(buf, cap, "%s %s name=\"%s\"", k, p1, xn); break;
  case DF_SYNC: snprintf(buf, cap, "%s %s", k, op->path[0] ? p1 : "(all)"); break;
  case DF_CAPS: snprintf(buf, cap, "%s", k); break;
  case DF_OVERLAY: snprintf(buf, cap, "%s s %s", k, DF_OV_ROOT); break;
  default: snprintf(buf, cap, "%s %s", k, p1); break;
  }
}
