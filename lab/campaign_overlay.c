/* The overlay part of the reference model (docs/campaign.md, "The overlay
 * mix").  What a path shows in an overlay branch is already in the model:
 * the branch's nodes start as a copy of its snapshot's, and operations change
 * them by path as in any tree, so copy-up and whiteouts are invisible there.
 * What is not invisible is durability: a copy-up is built, made durable and
 * renamed into place, then its parent directory in the upper is synced; a
 * whiteout is followed by a sync of its parent.  The sim syncs a directory's
 * whole subtree, so these syncs decide which unsynced changes in the branch a
 * power loss may still drop.  This file predicts them from the layers the
 * model keeps per node (upper, opaque), following src/overlay.c's order:
 * changes copy the path up component by component, parents first (even when
 * the last component turns out to be missing); new names and removals copy
 * their parent up first (even when the name then exists, or the directory is
 * not empty). */
#include <string.h>

#include "lab/campaign_internal.h"

static int ov_branch(const bs__cm *m, const char *path, size_t *root_len);

int bs__cm_ov_branch_of(const bs__cm *m, const char *path) {
  size_t root = 0;
  return ov_branch(m, path, &root);
}

/* The overlay branch @path is in and the length of its root, or -1. */
static int ov_branch(const bs__cm *m, const char *path, size_t *root_len) {
  if (strncmp(path, "/.bs/branches/b", 15) != 0 || path[15] < '0' || path[15] >= '0' + CM_BRANCHES ||
      (path[16] != '/' && path[16] != '\0'))
    return -1;
  int b = path[15] - '0';
  if (!m->branches[b].live || !m->branches[b].overlay)
    return -1;
  *root_len = 16;
  return b;
}

/* Length of the parent part of @path ("/a/b" -> 2). */
static size_t parent_len(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? (size_t)(s - path) : 0;
}

/* Node of the first @n bytes of @path, or -1. */
static int find_prefix(const bs__cm *m, const char *path, size_t n) {
  char buf[CM_LONG];
  if (n >= sizeof(buf))
    return -1;
  memcpy(buf, path, n);
  buf[n] = '\0';
  return bs__cm_find(m, buf);
}

/* Copy up the components of @path (in branch root of length @root) up to
 * length @end, parents first, until one is missing. */
static void copy_up(bs__cm *m, const char *path, size_t root, size_t end) {
  for (size_t i = root; i < end;) {
    size_t e = i + 1 + strcspn(path + i + 1, "/");
    if (e > end)
      e = end;
    int k = find_prefix(m, path, e);
    if (k < 0)
      return; /* resolve fails here: NOT_FOUND */
    if (!m->nodes[k].upper) {
      char parent[CM_LONG];
      memcpy(parent, path, i);
      parent[i] = '\0';
      m->nodes[k].upper = true;
      m->nodes[k].ino = 0; /* hard links are not kept across a copy-up */
      bs__cm_sync_below(m, parent); /* the copy and its parent directory */
    }
    if (m->nodes[k].kind != BS_KIND_DIR)
      return;
    i = e;
  }
}

/* Does the lower have an entry at @path (shown or hidden)?  It does when the
 * snapshot has it and no directory above it in the branch is opaque. */
static bool lower_any(const bs__cm *m, int b, const char *path, size_t root) {
  char lp[CM_LONG];
  bs__cm_snap_root(lp, sizeof(lp), m->branches[b].snap);
  size_t n = strlen(lp);
  if (n + strlen(path + root) >= sizeof(lp))
    return false;
  memcpy(lp + n, path + root, strlen(path + root) + 1);
  if (bs__cm_find(m, lp) < 0)
    return false;
  for (size_t i = root; i < parent_len(path);) {
    size_t e = i + 1 + strcspn(path + i + 1, "/");
    int k = find_prefix(m, path, e);
    if (k >= 0 && m->nodes[k].opaque)
      return false;
    i = e;
  }
  return true;
}

/* Parent of @path shows as a directory? */
static bool parent_is_dir(const bs__cm *m, const char *path, size_t root) {
  size_t pl = parent_len(path);
  if (pl == root)
    return true;
  int k = find_prefix(m, path, pl);
  return k >= 0 && m->nodes[k].kind == BS_KIND_DIR;
}

/* New names (create, mkdir, symlink, reflink's destination) and removals:
 * the parent is copied up when it shows as a directory. */
static void parent_ready(bs__cm *m, const char *path, size_t root) {
  if (parent_is_dir(m, path, root))
    copy_up(m, path, root, parent_len(path));
}

void bs__cm_ov_before(bs__cm *m, const bs__op *op, int rc, bs__cm_ov *st) {
  memset(st, 0, sizeof(*st));
  size_t root = 0;
  const char *path = op->kind == BS__OP_REFLINK || op->kind == BS__OP_LINK ? op->path2 : op->path;
  int b = ov_branch(m, path, &root);
  if (b < 0 || strlen(path) == root || rc == BS_ENAME_TOO_LONG)
    return;
  switch (op->kind) {
  case BS__OP_WRITE:
  case BS__OP_TRUNCATE:
  case BS__OP_SETXATTR:
  case BS__OP_REMOVEXATTR:
    if (rc != BS_EUNSUPPORTED)
      copy_up(m, path, root, strlen(path));
    return;
  case BS__OP_CREATE:
  case BS__OP_MKDIR:
  case BS__OP_SYMLINK:
  case BS__OP_REFLINK:
    if (op->kind != BS__OP_REFLINK || rc == BS_OK || rc == BS_EEXISTS)
      parent_ready(m, path, root);
    return;
  case BS__OP_LINK: /* the old name is copied up, then the new one made in the upper */
    if (rc == BS_OK || rc == BS_EEXISTS) {
      copy_up(m, op->path, root, strlen(op->path));
      parent_ready(m, path, root);
    }
    return;
  case BS__OP_UNLINK:
  case BS__OP_RMDIR:
    if (bs__cm_find(m, path) < 0)
      return; /* NOT_FOUND before anything is copied up */
    parent_ready(m, path, root);
    st->lower_any = lower_any(m, b, path, root);
    return;
  default: return;
  }
}

void bs__cm_ov_after(bs__cm *m, const bs__op *op, const bs__cm_ov *st) {
  size_t root = 0;
  const char *path = op->kind == BS__OP_REFLINK || op->kind == BS__OP_LINK ? op->path2 : op->path;
  int b = ov_branch(m, path, &root);
  if (b < 0)
    return;
  char parent[CM_LONG];
  size_t pl = parent_len(path);
  memcpy(parent, path, pl);
  parent[pl] = '\0';
  int k = bs__cm_find(m, path);
  switch (op->kind) {
  case BS__OP_CREATE:
  case BS__OP_MKDIR:
  case BS__OP_SYMLINK:
  case BS__OP_REFLINK:
  case BS__OP_LINK:
    if (k >= 0) {
      m->nodes[k].upper = true;
      /* A directory over a whiteout hides the lower one. */
      m->nodes[k].opaque = op->kind == BS__OP_MKDIR && lower_any(m, b, path, root);
    }
    return;
  case BS__OP_UNLINK:
  case BS__OP_RMDIR:
    if (st->lower_any)
      bs__cm_sync_below(m, parent); /* the whiteout's directory */
    return;
  default: return;
  }
}
