/* Drawing a campaign's operations: a weighted mix over a small name space so
 * that operations keep meeting each other (EXISTS, NOT_FOUND, BUSY), and for
 * each the result code the reference model expects.  Arguments are only drawn
 * where exactly one result code is right; ambiguous combinations (which of two
 * errors a filesystem reports first) are never issued. */
#include <stdio.h>
#include <string.h>

#include "lab/campaign_internal.h"

/* Relative weights of the operations (docs/campaign.md, "The op mix"). */
static const unsigned weights[BS__OP_COUNT] = {
  [BS__OP_CREATE] = 9,        [BS__OP_MKDIR] = 2,          [BS__OP_WRITE] = 22,
  [BS__OP_READ] = 8,          [BS__OP_TRUNCATE] = 6,       [BS__OP_REFLINK] = 10,
  [BS__OP_SETXATTR] = 5,      [BS__OP_REMOVEXATTR] = 3,    [BS__OP_SNAP_CREATE] = 4,
  [BS__OP_SNAP_DELETE] = 3,   [BS__OP_BRANCH_CREATE] = 3,  [BS__OP_BRANCH_DELETE] = 2,
  [BS__OP_UNLINK] = 6,        [BS__OP_RMDIR] = 2,          [BS__OP_SYNC] = 6,
  [BS__OP_POWER_LOSS] = 2,
  /* The overlay mix only (zero weight in the default mix). */
  [BS__OP_SYMLINK] = 4,       [BS__OP_READLINK] = 4,       [BS__OP_OVERLAY_CREATE] = 4,
  [BS__OP_CRASH_IN] = 3,      [BS__OP_LINK] = 4,           [BS__OP_BRANCH_SNAP] = 3,
};

static bool overlay_op(int k) {
  return k == BS__OP_SYMLINK || k == BS__OP_READLINK || k == BS__OP_OVERLAY_CREATE || k == BS__OP_CRASH_IN ||
         k == BS__OP_LINK || k == BS__OP_BRANCH_SNAP;
}

void bs__camp_fill(uint8_t *p, size_t n, uint64_t seed) {
  bs__rng r;
  bs__rng_seed(&r, seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t x = bs__rng_next(&r);
    size_t k = n - i < 8 ? n - i : 8;
    memcpy(p + i, &x, k);
  }
}

static uint64_t below(bs__camp *c, uint64_t n) { return bs__rng_below(&c->rng, n); }
static bool chance(bs__camp *c, unsigned percent) { return below(c, 100) < percent; }

/* A random node of @kind; writable only (not in a snapshot) if @writable, only
 * in a snapshot if @in_snap.  -1 if none. */
static int pick_node(bs__camp *c, bs_file_kind kind, int writable, int in_snap) {
  const bs__cm *m = &c->m;
  size_t count = 0;
  for (size_t i = 0; i < m->n; i++) {
    bool snap = bs__cm_in_snapshot(m->nodes[i].path);
    if (m->nodes[i].kind == kind && (!writable || !snap) && (!in_snap || snap))
      count++;
  }
  if (count == 0)
    return -1;
  uint64_t k = below(c, count);
  for (size_t i = 0; i < m->n; i++) {
    bool snap = bs__cm_in_snapshot(m->nodes[i].path);
    if (m->nodes[i].kind == kind && (!writable || !snap) && (!in_snap || snap) && k-- == 0)
      return (int)i;
  }
  return -1;
}

/* Root of a random writable tree: "" (main) mostly, else a live branch. */
static void pick_tree(bs__camp *c, char *root, size_t cap) {
  int live[CM_BRANCHES], n = 0;
  for (int b = 0; b < CM_BRANCHES; b++)
    if (c->m.branches[b].live)
      live[n++] = b;
  if (n > 0 && chance(c, 25))
    bs__cm_branch_root(root, cap, live[below(c, (uint64_t)n)]);
  else
    root[0] = '\0';
}

/* A file path in a writable tree that may or may not exist, in a directory
 * that may or may not exist. */
static void pick_file_path(bs__camp *c, char *out, size_t cap) {
  char root[CM_PATH];
  pick_tree(c, root, sizeof(root));
  unsigned f = (unsigned)below(c, CM_FILES);
  /* Case-insensitive profiles must treat F3 as f3.  Not in the overlay mix:
   * an overlay branch's merged listing shows a case variant of a lower name
   * made in the upper next to it (docs/campaign.md, "The overlay mix"). */
  char fc = chance(c, 4) ? 'F' : 'f';
  if (c->o->overlay_mix)
    fc = 'f';
  if (chance(c, 40))
    snprintf(out, cap, "%s/%c%u", root, fc, f);
  else
    snprintf(out, cap, "%s/d%u/%c%u", root, (unsigned)below(c, CM_DIRS), fc, f);
}

/* Like pick_file_path, but a path that exists is drawn again (up to three
 * times) with probability @percent: names fill up, EXISTS should not win. */
static void pick_new_file_path(bs__camp *c, char *out, size_t cap, unsigned percent) {
  pick_file_path(c, out, cap);
  for (int k = 0; k < 3 && bs__cm_find(&c->m, out) >= 0 && chance(c, percent); k++)
    pick_file_path(c, out, cap);
}

/* Expected result of creating @path (a file or directory) in a writable tree. */
static int expect_create(const bs__cm *m, const char *path) {
  if (!bs__cm_parent_exists(m, path))
    return BS_ENOT_FOUND;
  return bs__cm_find(m, path) >= 0 ? BS_EEXISTS : BS_OK;
}

/* An existing file to work on: mostly writable, sometimes in a snapshot (the
 * op must then fail with PERMISSION), sometimes a path that does not exist. */
static int target_file(bs__camp *c, bs__op *op, bool snap_ok) {
  int i = -1;
  if (snap_ok && chance(c, 6))
    i = pick_node(c, BS_KIND_FILE, 0, 1);
  if (i < 0 && !chance(c, 8))
    i = pick_node(c, BS_KIND_FILE, 1, 0);
  if (i >= 0) {
    snprintf(op->path, sizeof(op->path), "%s", c->m.nodes[i].path);
    op->expect = bs__cm_in_snapshot(op->path) ? BS_EPERMISSION : BS_OK;
    return i;
  }
  do
    pick_file_path(c, op->path, sizeof(op->path));
  while (bs__cm_find(&c->m, op->path) >= 0 && !chance(c, 1));
  i = bs__cm_find(&c->m, op->path);
  op->expect = i < 0 ? BS_ENOT_FOUND : BS_OK;
  /* A symlink: only unlink is in the model (the rest are BS_EINVALID). */
  if (i >= 0 && c->m.nodes[i].kind != BS_KIND_FILE && op->kind != BS__OP_UNLINK)
    op->expect = CM_REDRAW;
  return i;
}

/* Sometimes a fresh name "<leaf>K" inside a snapshot: PERMISSION.  True
 * when drawn (op->path and op->expect set). */
static bool draw_in_snapshot(bs__camp *c, bs__op *op, const char *leaf) {
  int d = chance(c, 5) ? pick_node(c, BS_KIND_DIR, 0, 1) : -1;
  if (d < 0)
    return false;
  snprintf(op->path, sizeof(op->path), "%s/%s%u", c->m.nodes[d].path, leaf, (unsigned)below(c, 4));
  if (bs__cm_find(&c->m, op->path) >= 0)
    return false;
  op->expect = BS_EPERMISSION;
  return true;
}

static void draw_create(bs__camp *c, bs__op *op) {
  if (chance(c, 3)) { /* one component over the name limit */
    char *p = op->path;
    *p++ = '/';
    memset(p, 'n', (size_t)c->m.caps.max_name_len + 1);
    p[c->m.caps.max_name_len + 1] = '\0';
    op->expect = BS_ENAME_TOO_LONG;
    return;
  }
  if (draw_in_snapshot(c, op, "new"))
    return;
  pick_new_file_path(c, op->path, sizeof(op->path), 70);
  op->expect = expect_create(&c->m, op->path);
}

static void draw_mkdir(bs__camp *c, bs__op *op) {
  char root[CM_PATH];
  pick_tree(c, root, sizeof(root));
  int d = chance(c, 5) ? pick_node(c, BS_KIND_DIR, 0, 1) : -1;
  if (d >= 0) {
    snprintf(op->path, sizeof(op->path), "%s/newdir", c->m.nodes[d].path);
    if (bs__cm_find(&c->m, op->path) < 0) {
      op->expect = BS_EPERMISSION;
      return;
    }
  }
  for (int k = 0; k < 3; k++) { /* prefer a directory that does not exist yet */
    snprintf(op->path, sizeof(op->path), "%s/d%u", root, (unsigned)below(c, CM_DIRS));
    if (bs__cm_find(&c->m, op->path) < 0 || !chance(c, 70))
      break;
  }
  op->expect = expect_create(&c->m, op->path);
}

static void draw_write(bs__camp *c, bs__op *op) {
  int i = target_file(c, op, true);
  uint64_t size = i >= 0 ? c->m.nodes[i].live.n : 0;
  uint64_t r = below(c, 10);
  if (r < 3)
    op->off = size; /* append */
  else if (r < 5)
    op->off = 0;
  else if (r < 6)
    op->off = below(c, CM_FILE_MAX / CM_BLOCK) * CM_BLOCK;
  else
    op->off = below(c, (size + 8192 < CM_FILE_MAX ? size + 8192 : CM_FILE_MAX - 1));
  if (op->off >= CM_FILE_MAX)
    op->off = CM_FILE_MAX - 1;
  uint64_t room = CM_FILE_MAX - op->off;
  uint64_t max = chance(c, 20) ? 16384 : 1024;
  if (max > room)
    max = room;
  op->len = 1 + below(c, max);
  op->dseed = bs__rng_next(&c->rng);
}

static void draw_read(bs__camp *c, bs__op *op) {
  int i = chance(c, 20) ? pick_node(c, BS_KIND_FILE, 0, 1) : -1;
  if (i >= 0) {
    snprintf(op->path, sizeof(op->path), "%s", c->m.nodes[i].path);
    op->expect = BS_OK;
  } else {
    i = target_file(c, op, false);
  }
  uint64_t size = i >= 0 ? c->m.nodes[i].live.n : 0;
  op->off = below(c, size + 2048);
  op->len = 1 + below(c, chance(c, 30) ? CM_FILE_MAX : 4096);
}

static void draw_truncate(bs__camp *c, bs__op *op) {
  int i = target_file(c, op, true);
  uint64_t size = i >= 0 ? c->m.nodes[i].live.n : 0;
  uint64_t r = below(c, 4);
  op->off = r == 0 ? 0 : r == 1 ? below(c, size + 1) : below(c, CM_FILE_MAX + 1);
}

static void draw_reflink(bs__camp *c, bs__op *op) {
  int s = chance(c, 10) ? pick_node(c, BS_KIND_FILE, 0, 1) : -1;
  if (s < 0)
    s = pick_node(c, BS_KIND_FILE, 1, 0);
  pick_new_file_path(c, op->path2, sizeof(op->path2), 70);
  bool dst_exists = bs__cm_find(&c->m, op->path2) >= 0;
  bool dst_parent = bs__cm_parent_exists(&c->m, op->path2);
  bool fresh = dst_parent && !dst_exists;
  uint64_t r = below(c, 100);
  if (s < 0 || r < 10) { /* a missing source onto a fresh destination */
    snprintf(op->path, sizeof(op->path), "/missing%u", (unsigned)below(c, 4));
    op->expect = !fresh ? CM_REDRAW : c->m.caps.native_reflink ? BS_ENOT_FOUND : CM_REDRAW;
    return;
  }
  snprintf(op->path, sizeof(op->path), "%s", c->m.nodes[s].path);
  if (!c->m.caps.native_reflink) {
    op->expect = fresh ? BS_EUNSUPPORTED : CM_REDRAW;
    return;
  }
  int d = r < 15 ? pick_node(c, BS_KIND_DIR, 0, 1) : -1;
  if (d >= 0) { /* into a snapshot */
    snprintf(op->path2, sizeof(op->path2), "%s/clone", c->m.nodes[d].path);
    op->expect = bs__cm_find(&c->m, op->path2) >= 0 ? CM_REDRAW : BS_EPERMISSION;
    return;
  }
  op->expect = !dst_parent ? BS_ENOT_FOUND : dst_exists ? BS_EEXISTS : BS_OK;
}

static void draw_xattr(bs__camp *c, bs__op *op, bool set) {
  int i = target_file(c, op, true);
  op->xattr = (int)below(c, CM_XATTRS);
  for (int k = 0; !set && i >= 0 && k < 3; k++) /* removexattr: mostly one that is set */
    if (c->m.nodes[i].xlen[op->xattr] == CM_XATTR_UNSET && chance(c, 70))
      op->xattr = (int)below(c, CM_XATTRS);
  op->len = below(c, CM_XATTR_LEN + 1);
  op->dseed = bs__rng_next(&c->rng);
  if (!c->m.caps.xattrs) /* only an existing writable file is unambiguous */
    op->expect = op->expect == BS_OK ? BS_EUNSUPPORTED : CM_REDRAW;
  else if (i >= 0 && !set && c->m.nodes[i].xlen[op->xattr] == CM_XATTR_UNSET)
    op->expect = op->expect == BS_OK ? BS_ENOT_FOUND : CM_REDRAW;
}

static void draw_bad_name(bs__camp *c, bs__op *op) {
  static const char *const bad[] = {"bad/name", ".", "..", "\xc3("};
  if (chance(c, 70)) {
    snprintf(op->name, sizeof(op->name), "%s", bad[below(c, 4)]);
    op->expect = BS_EINVALID;
  } else {
    memset(op->name, 'x', BS_NAME_MAX + 1);
    op->name[BS_NAME_MAX + 1] = '\0';
    op->expect = BS_ENAME_TOO_LONG;
  }
}

static void draw_snap_create(bs__camp *c, bs__op *op) {
  if (chance(c, 5)) {
    draw_bad_name(c, op);
    return;
  }
  op->snap = (int)below(c, CM_SNAPS);
  snprintf(op->name, sizeof(op->name), "s%d", op->snap);
  if (!c->m.caps.native_snapshots)
    op->expect = BS_EUNSUPPORTED;
  else
    op->expect = c->m.snaps[op->snap].live ? BS_EEXISTS : BS_OK;
}

/* A snapshot id: a live one mostly, else one that was deleted or never was. */
static void pick_snap_id(bs__camp *c, bs__op *op) {
  int s = (int)below(c, CM_SNAPS);
  if (c->m.snaps[s].live && !chance(c, 10)) {
    op->snap = s;
    op->id = c->m.snaps[s].id;
    return;
  }
  op->snap = -1;
  op->id = c->m.dead_id && chance(c, 50) ? c->m.dead_id : 1000000 + below(c, 1000);
}

static void draw_snap_delete(bs__camp *c, bs__op *op) {
  pick_snap_id(c, op);
  if (!c->m.caps.native_snapshots)
    op->expect = BS_EUNSUPPORTED;
  else if (op->snap < 0)
    op->expect = BS_ENOT_FOUND;
  else
    op->expect = bs__cm_snap_busy(&c->m, op->snap) ? BS_EBUSY : BS_OK;
}

static void draw_branch_create(bs__camp *c, bs__op *op) {
  if (chance(c, 4)) {
    draw_bad_name(c, op);
    op->id = 1;
    return;
  }
  pick_snap_id(c, op);
  op->branch = (int)below(c, CM_BRANCHES);
  snprintf(op->name, sizeof(op->name), "b%d", op->branch);
  bool exists = c->m.branches[op->branch].live;
  if (!c->m.caps.native_snapshots)
    op->expect = BS_EUNSUPPORTED;
  else if (op->snap < 0)
    op->expect = exists ? CM_REDRAW : BS_ENOT_FOUND;
  else if (op->kind == BS__OP_BRANCH_CREATE && c->m.snaps[op->snap].stacked)
    op->expect = CM_REDRAW; /* not modelled (lab/campaign_stack.c) */
  else
    op->expect = exists ? BS_EEXISTS : BS_OK;
}

static void draw_branch_delete(bs__camp *c, bs__op *op) {
  op->branch = (int)below(c, CM_BRANCHES);
  snprintf(op->name, sizeof(op->name), "b%d", op->branch);
  if (!c->m.caps.native_snapshots)
    op->expect = BS_EUNSUPPORTED;
  else
    op->expect = c->m.branches[op->branch].live ? BS_OK : BS_ENOT_FOUND;
}

static void draw_rmdir(bs__camp *c, bs__op *op) {
  int d = pick_node(c, BS_KIND_DIR, 1, 0);
  /* Tree roots (/.bs/branches/bN) are removed by branch delete only. */
  if (d >= 0 && strncmp(c->m.nodes[d].path, "/.bs/", 5) == 0 &&
      strchr(c->m.nodes[d].path + 14, '/') == NULL)
    d = -1;
  if (d >= 0 && bs__cm_dir_empty(&c->m, c->m.nodes[d].path)) {
    snprintf(op->path, sizeof(op->path), "%s", c->m.nodes[d].path);
    op->expect = BS_OK;
    return;
  }
  snprintf(op->path, sizeof(op->path), "/d%u", (unsigned)below(c, CM_DIRS));
  int i = bs__cm_find(&c->m, op->path);
  op->expect = i < 0 ? BS_ENOT_FOUND : bs__cm_dir_empty(&c->m, op->path) ? BS_OK : CM_REDRAW;
}

static void draw_sync(bs__camp *c, bs__op *op) {
  int i = chance(c, 50) ? pick_node(c, BS_KIND_FILE, 1, 0) : -1;
  if (i >= 0)
    snprintf(op->path, sizeof(op->path), "%s", c->m.nodes[i].path);
  op->expect = BS_OK;
}

/* symlink: a link among the file names (meeting files: EXISTS), target text
 * that names a file or nothing (never followed by the lab's operations). */
static void draw_symlink(bs__camp *c, bs__op *op) {
  snprintf(op->path2, sizeof(op->path2), chance(c, 50) ? "f%u" : "../t%u",
           (unsigned)below(c, CM_FILES));
  if (draw_in_snapshot(c, op, "lnk"))
    return;
  pick_new_file_path(c, op->path, sizeof(op->path), 70);
  op->expect = expect_create(&c->m, op->path);
}

static void draw_readlink(bs__camp *c, bs__op *op) {
  int i = chance(c, 75) ? pick_node(c, BS_KIND_SYMLINK, 0, 0) : -1;
  if (i >= 0)
    snprintf(op->path, sizeof(op->path), "%s", c->m.nodes[i].path);
  else
    pick_file_path(c, op->path, sizeof(op->path));
  i = bs__cm_find(&c->m, op->path);
  op->expect = i < 0 ? BS_ENOT_FOUND : c->m.nodes[i].kind == BS_KIND_SYMLINK ? BS_OK : BS_EINVALID;
}

static bs__op_kind draw_kind(bs__camp *c) {
  /* An almost empty store first gets populated: everything else would only
   * meet NOT_FOUND. */
  if (c->m.n < 6 && chance(c, 60))
    return chance(c, 75) ? BS__OP_CREATE : BS__OP_MKDIR;
  bool ov = c->o->overlay_mix;
  unsigned total = 0;
  for (int k = 0; k < BS__OP_COUNT; k++)
    total += ov || !overlay_op(k) ? weights[k] : 0;
  uint64_t r = below(c, total);
  for (int k = 0; k < BS__OP_COUNT; k++) {
    unsigned w = ov || !overlay_op(k) ? weights[k] : 0;
    if (r < w)
      return (bs__op_kind)k;
    r -= w;
  }
  return BS__OP_SYNC;
}

void bs__camp_draw(bs__camp *c, bs__op *op) {
  do {
    memset(op, 0, sizeof(*op));
    op->snap = op->branch = -1;
    op->expect = BS_OK;
    op->kind = draw_kind(c);
    switch (op->kind) {
    case BS__OP_CREATE: draw_create(c, op); break;
    case BS__OP_MKDIR: draw_mkdir(c, op); break;
    case BS__OP_WRITE: draw_write(c, op); break;
    case BS__OP_READ: draw_read(c, op); break;
    case BS__OP_TRUNCATE: draw_truncate(c, op); break;
    case BS__OP_REFLINK: draw_reflink(c, op); break;
    case BS__OP_SETXATTR: draw_xattr(c, op, true); break;
    case BS__OP_REMOVEXATTR: draw_xattr(c, op, false); break;
    case BS__OP_SNAP_CREATE: draw_snap_create(c, op); break;
    case BS__OP_SNAP_DELETE: draw_snap_delete(c, op); break;
    case BS__OP_BRANCH_CREATE:
    case BS__OP_OVERLAY_CREATE: draw_branch_create(c, op); break;
    case BS__OP_SYMLINK: draw_symlink(c, op); break;
    case BS__OP_READLINK: draw_readlink(c, op); break;
    case BS__OP_BRANCH_DELETE: draw_branch_delete(c, op); break;
    case BS__OP_UNLINK: target_file(c, op, true); break;
    case BS__OP_RMDIR: draw_rmdir(c, op); break;
    case BS__OP_SYNC: draw_sync(c, op); break;
    case BS__OP_POWER_LOSS:
      op->mode = chance(c, 50) ? BS_POWER_LOSS_DROP : BS_POWER_LOSS_TEAR;
      op->expect = c->has_power_loss ? BS_OK : BS_EUNSUPPORTED;
      break;
    case BS__OP_CRASH_IN: bs__camp_draw_crash_in(c, op); break;
    case BS__OP_LINK: bs__camp_draw_link(c, op); break;
    case BS__OP_BRANCH_SNAP: bs__camp_draw_branch_snap(c, op); break;
    case BS__OP_COUNT: break;
    }
  } while (op->expect == CM_REDRAW);
}
