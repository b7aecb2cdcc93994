/* Symbolic and hard links (ops version 3).  A symlink is an inode of kind
 * SYMLINK holding its target text; path walks follow it, confined to its
 * tree (sim/path.c).  A hard link is a second directory entry of the same
 * inode: nlink counts the entries, and the inode (its blocks) goes with the
 * last one (bs__sim_inode_free).  The core has checked the rules common to
 * every backend (targets' length, one tree, not a directory: src/fileops.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

int bs__sim_not_symlink(bs__sim_store *s, const char *op, const char *path, const bs__sim_inode *n) {
  if (n && n->kind == BS_KIND_SYMLINK)
    return bs_store_fail(&s->base, BS_EINVALID, ELOOP, "%s: %s: a symlink (never followed here)", op, path);
  return BS_OK;
}

int bs__sim_symlink(bs__sim_store *s, const char *target, const char *path) {
  size_t plen = strlen(path);
  if (plen > 1 && path[plen - 1] == '/') { /* symlinkat: a name ending in '/' is ENOENT or EEXIST */
    bs__sim_loc l;
    int rc = bs__sim_resolve(s, "symlink", path, &l);
    if (rc == 0 && l.node)
      return bs_store_fail(&s->base, BS_EEXISTS, EEXIST, "symlink: %s: already exists", path);
    return rc ? rc : bs_store_fail(&s->base, BS_ENOT_FOUND, ENOENT, "symlink: %s: a name ending in '/'", path);
  }
  bs__sim_loc l;
  int rc = bs__sim_resolve_new(s, "symlink", path, &l);
  if (rc != 0)
    return rc;
  /* xfs keeps targets shorter than XFS_SYMLINK_MAXLEN (xfs_symlink()). */
  if (s->prof->type == BS_FS_XFS && strlen(target) >= BS__SIM_XFS_SYMLINK_MAX)
    return bs_store_fail(&s->base, BS_ENAME_TOO_LONG, ENAMETOOLONG,
                         "symlink: %s: xfs targets are shorter than %d bytes", path, BS__SIM_XFS_SYMLINK_MAX);
  int64_t now = s->clock_ns;
  char *name = bs__sim_strndup(l.name, l.nlen);
  char *text = bs__sim_strndup(target, strlen(target));
  bs__sim_inode *n = name && text ? bs__sim_inode_new(s, BS_KIND_SYMLINK, 0777, now) : NULL;
  if (!n || bs__sim_dir_reserve(l.dir) != 0) {
    if (n)
      s->next_ino--;
    free(name);
    free(text);
    free(n);
    return bs_store_fail(&s->base, BS_ENO_MEMORY, ENOMEM, "symlink: %s: out of memory", path);
  }
  n->target = text;
  if (s->prof->linux_xattrs && (l.dir->mode & 02000))
    n->gid = l.dir->gid;
  bs__sim_dir_insert(l.dir, l.pos, name, l.nlen, n);
  bs__sim_touch(l.dir, now);
  return BS_OK;
}

int bs__sim_readlink(bs__sim_store *s, const char *path, char *buf, size_t cap, size_t *len) {
  bs__sim_loc l;
  int rc = bs__sim_lookup(s, "readlink", path, &l);
  if (rc != 0)
    return rc;
  if (!l.node || l.node->kind != BS_KIND_SYMLINK)
    return bs_store_fail(&s->base, BS_EINVALID, EINVAL, "readlink: %s: not a symlink", path);
  size_t n = strlen(l.node->target);
  if (n >= cap)
    return bs_store_fail(&s->base, BS_EINVALID, ERANGE, "readlink: %s: the target is %zu bytes, the buffer %zu",
                         path, n, cap);
  memcpy(buf, l.node->target, n + 1);
  *len = n;
  return BS_OK;
}

int bs__sim_link(bs__sim_store *s, const char *from, const char *to) {
  bs__sim_loc f, t;
  int rc = bs__sim_lookup(s, "link", from, &f);
  if (rc != 0)
    return rc;
  if (!f.node || f.node->kind == BS_KIND_DIR)
    return bs_store_fail(&s->base, BS_EPERMISSION, EPERM, "link: %s: a directory cannot be hard-linked", from);
  if ((rc = bs__sim_resolve_new(s, "link", to, &t)) != 0)
    return rc;
  if (t.slash)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, ENOENT, "link: %s: a name ending in '/'", to);
  if (f.tree != t.tree)
    return bs_store_fail(&s->base, BS_ECROSS_DEVICE, EXDEV, "link: %s -> %s: between trees", from, to);
  if (f.node->nlink == UINT32_MAX)
    return bs_store_fail(&s->base, BS_EINVALID, EMLINK, "link: %s: too many links", from);
  char *name = bs__sim_strndup(t.name, t.nlen);
  if (!name || bs__sim_dir_reserve(t.dir) != 0) {
    free(name);
    return bs_store_fail(&s->base, BS_ENO_MEMORY, ENOMEM, "link: %s: out of memory", to);
  }
  bs__sim_inode *n = f.node;
  bs__sim_inode *keep = n->parent; /* a file's parent is only where it was put last */
  bs__sim_dir_insert(t.dir, t.pos, name, t.nlen, n);
  n->parent = keep ? keep : t.dir;
  n->nlink++;
  n->ctime = s->clock_ns;
  bs__sim_touch(t.dir, s->clock_ns);
  return BS_OK;
}
