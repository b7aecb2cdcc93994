/* The replay oracle: the result codes the reference model allows for any
 * operation, in any state.  The generator only draws operations with exactly
 * one right answer; a replayed trace, and above all a shrunk one, may hold an
 * operation whose context changed (its file's create was removed), and
 * combinations where two checks fail at once (a missing parent inside a
 * snapshot) whose answer depends on the order in which a filesystem checks:
 * for those every such code is allowed (bs__op.also).  The campaign asks the
 * oracle too and requires it to agree with the generator, so a replay judges
 * every operation exactly as the campaign did. */
#include <stdio.h>
#include <string.h>

#include "lab/campaign_internal.h"

#define ALSO BS__ALSO

static int outside(char *why, size_t cap, const bs__op *op, const char *what) {
  snprintf(why, cap, "%s %s: %s is outside the lab's model",
           op->kind < BS__OP_COUNT ? bs__op_names[op->kind] : "?", op->path, what);
  return -1;
}

/* A component of @path longer than the profile's name limit. */
static bool too_long(const bs__cm *m, const char *path) {
  for (const char *p = path; *p;) {
    size_t n = strcspn(p, "/");
    if (n > m->caps.max_name_len)
      return true;
    p += n + (p[n] == '/');
  }
  return false;
}

/* A tree root: "/", "/.bs", the pools and each snapshot or branch root. */
static bool tree_root(const char *path) {
  if (strcmp(path, "/") == 0 || strcmp(path, "/.bs") == 0)
    return true;
  if (strncmp(path, "/.bs/snapshots", 14) == 0 || strncmp(path, "/.bs/branches", 13) == 0) {
    const char *rest = path + (path[5] == 's' ? 14 : 13);
    return *rest == '\0' || (rest[0] == '/' && !strchr(rest + 1, '/'));
  }
  return false;
}

/* An operation on an existing file: write, truncate, unlink, xattrs. */
static int expect_target(const bs__cm *m, bs__op *op, char *why, size_t cap) {
  int i = bs__cm_find(m, op->path);
  bool snap = bs__cm_in_snapshot(op->path);
  bool link_ok = op->kind == BS__OP_UNLINK && i >= 0 && m->nodes[i].kind == BS_KIND_SYMLINK;
  if (i >= 0 && m->nodes[i].kind != BS_KIND_FILE && !link_ok)
    return outside(why, cap, op, m->nodes[i].kind == BS_KIND_DIR ? "a directory" : "a symlink");
  if (i >= 0)
    op->expect = snap ? BS_EPERMISSION : BS_OK;
  else
    op->expect = BS_ENOT_FOUND, op->also = snap ? ALSO(BS_EPERMISSION) : 0;
  if (op->kind == BS__OP_SETXATTR || op->kind == BS__OP_REMOVEXATTR) {
    if (!m->caps.xattrs) {
      if (op->expect == BS_OK)
        op->expect = BS_EUNSUPPORTED;
      else
        op->also |= ALSO(BS_EUNSUPPORTED);
    } else if (op->kind == BS__OP_REMOVEXATTR && i >= 0 &&
               m->nodes[i].xlen[op->xattr] == CM_XATTR_UNSET) {
      if (op->expect == BS_OK)
        op->expect = BS_ENOT_FOUND;
      else
        op->also |= ALSO(BS_ENOT_FOUND);
    }
  }
  return 0;
}

static int expect_make(const bs__cm *m, bs__op *op) {
  if (too_long(m, op->path)) {
    op->expect = BS_ENAME_TOO_LONG;
    return 0;
  }
  bool exists = bs__cm_find(m, op->path) >= 0, parent = bs__cm_parent_exists(m, op->path);
  if (bs__cm_in_snapshot(op->path)) {
    op->expect = BS_EPERMISSION;
    op->also = (exists ? ALSO(BS_EEXISTS) : 0) | (parent ? 0 : ALSO(BS_ENOT_FOUND));
  } else {
    op->expect = !parent ? BS_ENOT_FOUND : exists ? BS_EEXISTS : BS_OK;
  }
  return 0;
}

static int expect_reflink(const bs__cm *m, bs__op *op, char *why, size_t cap) {
  if (too_long(m, op->path) || too_long(m, op->path2))
    return outside(why, cap, op, "an over-long name");
  int s = bs__cm_find(m, op->path);
  if (s >= 0 && m->nodes[s].kind != BS_KIND_FILE)
    return outside(why, cap, op, "a directory source");
  bool exists = bs__cm_find(m, op->path2) >= 0, parent = bs__cm_parent_exists(m, op->path2);
  bool snap = bs__cm_in_snapshot(op->path2), fresh = parent && !exists && !snap;
  uint32_t dst_errors = ALSO(BS_EEXISTS) | ALSO(BS_ENOT_FOUND) | ALSO(BS_EPERMISSION);
  if (s < 0) {
    op->expect = BS_ENOT_FOUND;
    op->also = (fresh ? 0 : dst_errors) | (m->caps.native_reflink ? 0 : ALSO(BS_EUNSUPPORTED));
  } else if (!m->caps.native_reflink) {
    op->expect = BS_EUNSUPPORTED;
    op->also = fresh ? 0 : dst_errors;
  } else if (snap) {
    op->expect = BS_EPERMISSION;
    op->also = (exists ? ALSO(BS_EEXISTS) : 0) | (parent ? 0 : ALSO(BS_ENOT_FOUND));
  } else {
    op->expect = !parent ? BS_ENOT_FOUND : exists ? BS_EEXISTS : BS_OK;
  }
  op->also &= ~ALSO(op->expect);
  return 0;
}

/* The pool index of the live snapshot with @id, or -1. */
static int live_snap(const bs__cm *m, uint64_t id) {
  for (int s = 0; s < CM_SNAPS; s++)
    if (m->snaps[s].live && m->snaps[s].id == id)
      return s;
  return -1;
}

static int expect_snapshots(const bs__cm *m, bs__op *op) {
  bool native = m->caps.native_snapshots;
  int v;
  switch (op->kind) {
  case BS__OP_SNAP_CREATE:
    if ((v = bs_name_validate(op->name)) != 0)
      op->expect = v;
    else
      op->expect = !native ? BS_EUNSUPPORTED : m->snaps[op->snap].live ? BS_EEXISTS : BS_OK;
    return 0;
  case BS__OP_SNAP_DELETE:
    op->snap = live_snap(m, op->id);
    op->expect = !native ? BS_EUNSUPPORTED : op->snap < 0 ? BS_ENOT_FOUND
                 : bs__cm_snap_busy(m, op->snap) ? BS_EBUSY : BS_OK;
    return 0;
  case BS__OP_BRANCH_CREATE:
  case BS__OP_OVERLAY_CREATE: {
    if ((v = bs_name_validate(op->name)) != 0) {
      op->expect = v;
      return 0;
    }
    op->snap = live_snap(m, op->id);
    bool exists = m->branches[op->branch].live;
    if (!native)
      op->expect = BS_EUNSUPPORTED;
    else if (op->snap < 0)
      op->expect = BS_ENOT_FOUND, op->also = exists ? ALSO(BS_EEXISTS) : 0;
    else
      op->expect = exists ? BS_EEXISTS : BS_OK;
    return 0;
  }
  default: /* branch delete */
    op->expect = !native ? BS_EUNSUPPORTED : m->branches[op->branch].live ? BS_OK : BS_ENOT_FOUND;
    return 0;
  }
}

static int expect_rmdir(const bs__cm *m, bs__op *op, char *why, size_t cap) {
  if (tree_root(op->path))
    return outside(why, cap, op, "a tree root");
  int i = bs__cm_find(m, op->path);
  bool snap = bs__cm_in_snapshot(op->path);
  if (i < 0) {
    op->expect = BS_ENOT_FOUND, op->also = snap ? ALSO(BS_EPERMISSION) : 0;
    return 0;
  }
  if (m->nodes[i].kind != BS_KIND_DIR)
    return outside(why, cap, op, "a file");
  bool empty = bs__cm_dir_empty(m, op->path);
  if (snap)
    op->expect = BS_EPERMISSION, op->also = empty ? 0 : ALSO(BS_EEXISTS);
  else /* the sim, like Linux rmdir(2), says EEXISTS (ENOTEMPTY) for a full one */
    op->expect = empty ? BS_OK : BS_EEXISTS;
  return 0;
}

static int expect_sync(const bs__cm *m, bs__op *op, char *why, size_t cap) {
  if (op->path[0] == '\0') {
    op->expect = BS_OK;
    return 0;
  }
  int i = bs__cm_find(m, op->path);
  if (i >= 0 && m->nodes[i].kind != BS_KIND_FILE)
    return outside(why, cap, op, "a directory");
  op->expect = i >= 0 ? BS_OK : BS_ENOT_FOUND;
  if (bs__cm_in_snapshot(op->path))
    op->also = i >= 0 ? 0 : ALSO(BS_EPERMISSION);
  return 0;
}

/* readlink: a symlink's text; EINVALID for a file or a directory. */
static int expect_readlink(const bs__cm *m, bs__op *op, char *why, size_t cap) {
  if (too_long(m, op->path))
    return outside(why, cap, op, "an over-long name");
  int i = bs__cm_find(m, op->path);
  op->expect = i < 0 ? BS_ENOT_FOUND : m->nodes[i].kind == BS_KIND_SYMLINK ? BS_OK : BS_EINVALID;
  return 0;
}

/* symlink: like create, and the target text must be one the model keeps. */
static int expect_symlink(const bs__cm *m, bs__op *op, char *why, size_t cap) {
  if (op->path2[0] == '\0' || strlen(op->path2) >= CM_PATH)
    return outside(why, cap, op, "an empty or long target");
  return expect_make(m, op);
}

int bs__camp_expect(const bs__cm *m, bool has_power_loss, bs__op *op, char *why, size_t cap) {
  op->expect = BS_OK;
  op->also = 0;
  switch (op->kind) {
  case BS__OP_CREATE:
  case BS__OP_MKDIR: return expect_make(m, op);
  case BS__OP_READ: {
    int i = bs__cm_find(m, op->path);
    if (i >= 0 && m->nodes[i].kind != BS_KIND_FILE)
      return outside(why, cap, op, "a directory");
    op->expect = i >= 0 ? BS_OK : BS_ENOT_FOUND;
    return 0;
  }
  case BS__OP_WRITE:
  case BS__OP_TRUNCATE:
  case BS__OP_UNLINK:
  case BS__OP_SETXATTR:
  case BS__OP_REMOVEXATTR: return expect_target(m, op, why, cap);
  case BS__OP_REFLINK: return expect_reflink(m, op, why, cap);
  case BS__OP_RMDIR: return expect_rmdir(m, op, why, cap);
  case BS__OP_SYMLINK: return expect_symlink(m, op, why, cap);
  case BS__OP_READLINK: return expect_readlink(m, op, why, cap);
  case BS__OP_SYNC: return expect_sync(m, op, why, cap);
  case BS__OP_POWER_LOSS: op->expect = has_power_loss ? BS_OK : BS_EUNSUPPORTED; return 0;
  case BS__OP_CRASH_IN: return bs__camp_expect_crash_in(m, has_power_loss, op, why, cap);
  case BS__OP_LINK: return bs__camp_expect_link(m, op, why, cap);
  case BS__OP_BRANCH_SNAP: return bs__camp_expect_branch_snap(m, op, why, cap);
  case BS__OP_COUNT: return outside(why, cap, op, "an unknown operation");
  default: return expect_snapshots(m, op);
  }
}
