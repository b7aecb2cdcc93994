/* The store namespace of a primitive backend (see ns.h). */
#include "src/ns.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/overlay.h"
#include "src/snapreg.h"
#include "src/snapshot.h"

/* Store paths of this many bytes or more are too long (PATH_MAX). */
#define STORE_PATH_MAX 4096

static int oom(bs_store *st, const char *op) {
  return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
}

static int not_found(bs_store *st, const char *op, const char *path) {
  return bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: %s: no such file or directory", op, path);
}

static int read_only(bs_store *st, const char *op, const char *path) {
  return bs_store_fail(st, BS_EPERMISSION, EROFS, "%s: %s: read-only", op, path);
}

static int root_busy(bs_store *st, const char *op, const char *path) {
  return bs_store_fail(st, BS_EBUSY, EBUSY, "%s: %s: the root of a tree cannot be removed or renamed", op,
                       path);
}

/* One path component: [p, p + n). */
typedef struct comp {
  const char *p;
  size_t n;
} comp;

static bool is(comp c, const char *lit) { return strlen(lit) == c.n && memcmp(c.p, lit, c.n) == 0; }

/* The reserved name, as the store's filesystem compares names: on a
 * case-insensitive one "/.BS" is the same directory. */
static bool is_reserved(bs_store *st, comp c) {
  if (c.n != 3)
    return false;
  if (bs__store_case_sensitive(st))
    return is(c, ".bs");
  return c.p[0] == '.' && (c.p[1] | 0x20) == 'b' && (c.p[2] | 0x20) == 's';
}

/* Split @path into up to 3 leading components and the rest (from the
 * fourth component on, with its leading '/').  Refuses "." and "..". */
static int split(bs_store *st, const char *op, const char *path, comp c[3], size_t *nc, const char **rest) {
  *nc = 0;
  *rest = "";
  size_t len = strlen(path);
  if (len >= STORE_PATH_MAX)
    return bs_store_fail(st, BS_ENAME_TOO_LONG, ENAMETOOLONG, "%s: path of %zu bytes is too long", op, len);
  for (const char *p = path; *p;) {
    while (*p == '/')
      p++;
    if (!*p)
      break;
    size_t n = strcspn(p, "/");
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return bs_store_fail(st, BS_EINVALID, 0, "%s: %s: \".\" and \"..\" are not allowed in store paths",
                           op, path);
    if (*nc == 3) {
      if (!*rest[0])
        *rest = p - 1;
    } else {
      c[(*nc)++] = (comp){p, n};
    }
    p += n;
  }
  return 0;
}

/* @dir ("/.bs/snap/"), then @id in decimal, then @rest: built by hand, as
 * every path into a tree comes through here. */
static char *id_path(const char *dir, uint64_t id, const char *rest) {
  size_t dn = strlen(dir), rn = strlen(rest);
  char digits[20];
  size_t nd = 0;
  do
    digits[nd++] = (char)('0' + id % 10);
  while ((id /= 10) != 0);
  char *s = malloc(dn + nd + rn + 1);
  if (!s)
    return NULL;
  memcpy(s, dir, dn);
  for (size_t i = 0; i < nd; i++)
    s[dn + i] = digits[nd - 1 - i];
  memcpy(s + dn + nd, rest, rn + 1);
  return s;
}

char *bs__ns_tree_path(bs_tree_kind kind, uint64_t id, const char *rest) {
  return id_path(kind == BS_TREE_SNAPSHOT ? "/.bs/snap/" : "/.bs/branch/", id, rest);
}

char *bs__ns_host_lower_path(uint64_t branch_id, const char *rest) {
  return id_path(BS__HOST_LOWER_DIR "/", branch_id, rest);
}

/* A virtual directory. */
static int at_virtual(bs_store *st, const char *op, const char *path, bs__intent intent, bs__virt v,
                      bs__place *out) {
  if (v == BS__V_BS && (intent == BS__REMOVE || intent == BS__NEW))
    return bs_store_fail(st, BS_EINVALID, 0, "%s: %s: \"/.bs\" is reserved", op, path);
  if (intent != BS__READ)
    return read_only(st, op, path);
  out->virt = v;
  return 0;
}

/* A name below a virtual directory that does not exist. */
static int missing_below_virtual(bs_store *st, const char *op, const char *path, bs__intent intent,
                                 bool direct) {
  if (intent == BS__NEW && direct)
    return read_only(st, op, path);
  return not_found(st, op, path);
}

/* Is there anything at backend path @bpath? */
static bool exists(bs_store *st, const char *bpath) {
  bs_stat_info si;
  return st->ops->stat(st, bpath, &si) == 0;
}

/* Snapshot or branch tree @kind @id, @rest below its root. */
static int in_tree(bs_store *st, const char *op, const char *path, bs__intent intent, bs_tree_kind kind,
                   uint64_t id, const char *rest, bs__place *out) {
  char *bp = bs__ns_tree_path(kind, id, rest);
  if (!bp)
    return oom(st, op);
  bool root = rest[0] == '\0';
  size_t skip = strspn(rest, "/");
  /* The empty stand-in of <root>/.bs that btrfs shows in a snapshot: the
   * main tree's reserved directory was never part of it. */
  bool placeholder = kind == BS_TREE_SNAPSHOT && strncmp(rest + skip, ".bs", 3) == 0 &&
                     (rest[skip + 3] == '/' || !rest[skip + 3]);
  int rc = 0;
  if (placeholder)
    rc = intent == BS__NEW ? read_only(st, op, path) : not_found(st, op, path);
  else if (kind == BS_TREE_SNAPSHOT && intent == BS__NEW)
    rc = read_only(st, op, path);
  else if (kind == BS_TREE_SNAPSHOT && intent != BS__READ)
    rc = exists(st, bp) ? read_only(st, op, path) : not_found(st, op, path);
  else if (kind == BS_TREE_BRANCH && root && intent == BS__REMOVE)
    rc = root_busy(st, op, path);
  if (rc != 0) {
    free(bp);
    return rc;
  }
  out->tree = kind;
  out->tree_id = id;
  out->tree_root = root;
  out->bpath = bp;
  return 0;
}

/* A path of overlay branch @b (over the chain of snapshots @chain[0..@depth)):
 * its backend path is the one in the upper layer; src/overlay.c resolves it
 * through the layers. */
static int in_overlay(bs_store *st, const char *op, const char *path, bs__intent intent, const bs__branch_rec *b,
                      const uint64_t *chain, unsigned depth, const char *rest, bs__place *out) {
  size_t skip = strspn(rest, "/");
  bool root = rest[skip] == '\0';
  if (root && intent == BS__REMOVE)
    return root_busy(st, op, path);
  size_t n = strlen(BS__OV_UPPER) + strlen(rest) + 1;
  char *r = malloc(n);
  if (!r)
    return oom(st, op);
  snprintf(r, n, "%s%s", BS__OV_UPPER, root ? "" : rest);
  out->bpath = bs__ns_tree_path(BS_TREE_BRANCH, b->id, r);
  out->rest = strdup(root ? "" : rest);
  free(r);
  if (!out->bpath || !out->rest) {
    bs__place_free(out);
    return oom(st, op);
  }
  out->tree = BS_TREE_BRANCH;
  out->tree_id = b->id;
  out->tree_root = root;
  bs__ns_layers(out, BS_TREE_BRANCH, b->id, chain, depth);
  if (b->snapshot_id == BS__SNAPREG_HOST_LOWER && out->nlayers < BS__OV_LAYERS_MAX)
    out->layers[out->nlayers++] = (bs__layer){.kind = BS_TREE_BRANCH, .id = b->id, .host = true};
  return 0;
}

void bs__ns_layers(bs__place *p, bs_tree_kind top, uint64_t top_id, const uint64_t *chain, unsigned n) {
  p->overlay = true;
  p->layers[0] = (bs__layer){top, top_id};
  p->nlayers = 1;
  for (unsigned i = 0; i < n && p->nlayers < BS__OV_LAYERS_MAX; i++)
    p->layers[p->nlayers++] = (bs__layer){BS_TREE_SNAPSHOT, chain[i]};
}

/* A path of stacked snapshot @id (chain[0] is @id, n > 1): read-only, its
 * tree (the frozen upper) resolved over its lowers as a branch's upper is. */
static int in_stacked(bs_store *st, const char *op, const char *path, bs__intent intent, const uint64_t *chain,
                      unsigned n, const char *rest, bs__place *out) {
  size_t skip = strspn(rest, "/");
  bool root = rest[skip] == '\0';
  if (intent == BS__NEW)
    return read_only(st, op, path);
  out->bpath = bs__ns_tree_path(BS_TREE_SNAPSHOT, chain[0], root ? "" : rest);
  out->rest = strdup(root ? "" : rest);
  if (!out->bpath || !out->rest) {
    bs__place_free(out);
    return oom(st, op);
  }
  out->tree = BS_TREE_SNAPSHOT;
  out->tree_id = chain[0];
  out->tree_root = root;
  bs__ns_layers(out, BS_TREE_SNAPSHOT, chain[0], chain + 1, n - 1);
  if (intent == BS__READ)
    return 0;
  /* A change: NOT_FOUND for what does not show, else read-only. */
  char *v = NULL;
  int rc = bs__ov_visible(st, op, path, out, &v);
  free(v);
  bs__place_free(out);
  return rc != 0 ? rc : read_only(st, op, path);
}

int bs__ns_locate(bs_store *st, const char *op, const char *path, bs__intent intent, bs__place *out) {
  memset(out, 0, sizeof(*out));
  comp c[3];
  size_t nc;
  const char *rest;
  int rc = split(st, op, path, c, &nc, &rest);
  if (rc != 0)
    return rc;
  if (nc == 0 || !is_reserved(st, c[0])) {
    if (nc == 0 && intent == BS__REMOVE)
      return root_busy(st, op, path);
    out->tree_root = nc == 0;
    out->bpath = strdup(path);
    return out->bpath ? 0 : oom(st, op);
  }
  if (nc == 1)
    return at_virtual(st, op, path, intent, BS__V_BS, out);
  bs__virt v = is(c[1], "snapshots") ? BS__V_SNAPS : is(c[1], "branches") ? BS__V_BRANCHES : BS__V_NONE;
  if (v == BS__V_NONE)
    return missing_below_virtual(st, op, path, intent, nc == 2);
  if (nc == 2)
    return at_virtual(st, op, path, intent, v, out);
  /* A tree: look its name up in the registry. */
  if (c[2].n > BS_NAME_MAX)
    return not_found(st, op, path);
  char name[BS_NAME_MAX + 1];
  memcpy(name, c[2].p, c[2].n);
  name[c[2].n] = '\0';
  uint64_t id = 0;
  bs__branch_rec br = {0};
  bool found = false;
  uint64_t chain[BS__OV_DEPTH_MAX]; /* the snapshot's chain, or the branch's snapshot's */
  unsigned n = 0;
  if (v == BS__V_BRANCHES) {
    if ((rc = bs__snap_lookup_branch(st, op, name, &br, &found, chain, &n)) != 0)
      return rc;
    id = found ? br.id : 0;
  } else if ((rc = bs__snap_lookup_tree(st, op, BS_TREE_SNAPSHOT, name, &id, chain, &n)) != 0) {
    return rc;
  }
  if (id == 0)
    return missing_below_virtual(st, op, path, intent, rest[0] == '\0');
  if (v == BS__V_BRANCHES && br.kind == BS_BRANCH_OVERLAY)
    return in_overlay(st, op, path, intent, &br, chain, n, rest, out);
  if (v == BS__V_SNAPS && n > 1)
    return in_stacked(st, op, path, intent, chain, n, rest, out);
  return in_tree(st, op, path, intent, v == BS__V_SNAPS ? BS_TREE_SNAPSHOT : BS_TREE_BRANCH, id, rest, out);
}

void bs__place_free(bs__place *p) {
  free(p->bpath);
  p->bpath = NULL;
  free(p->rest);
  p->rest = NULL;
}

bool bs__ns_hides_reserved(const bs__place *p) { return p->tree_root && p->tree != BS_TREE_BRANCH; }

int bs__ns_virt_stat(bs_store *st, bs__virt v, bs_stat_info *out) {
  size_t n = 2;
  if (v != BS__V_BS) {
    int rc = bs__snap_count(st, "stat", v == BS__V_SNAPS ? BS_TREE_SNAPSHOT : BS_TREE_BRANCH, &n);
    if (rc != 0)
      return rc;
  }
  /* Times and inode number of the store's root, which the virtual
   * directories are part of. */
  int rc = st->ops->stat(st, "/", out);
  if (rc != 0)
    return rc;
  out->ino += (uint64_t)v << 48; /* three distinct numbers, outside any real inode range */
  out->kind = BS_KIND_DIR;
  out->mode = 0555;
  out->nlink = (uint32_t)(2 + n);
  out->size = n;
  out->blocks = 0;
  return 0;
}

int bs__ns_virt_readdir(bs_store *st, bs__virt v, bs_readdir_cb cb, void *ctx) {
  if (v == BS__V_BS) {
    if (cb(ctx, "branches", BS_KIND_DIR) == 0)
      cb(ctx, "snapshots", BS_KIND_DIR);
    return 0;
  }
  return bs__snap_names(st, "readdir", v == BS__V_SNAPS ? BS_TREE_SNAPSHOT : BS_TREE_BRANCH, cb, ctx);
}
