/* Namespace operations: create, mkdir, unlink, rmdir, rename.  All are
 * metadata and durable at once.  Errors follow POSIX through the error
 * table: EISDIR/ENOTDIR are INVALID, ENOTEMPTY is EXISTS, a tree root (a
 * mount point) is BUSY, a read-only tree is PERMISSION.  The rules of the
 * store's namespace ("/.bs", trees) are the core's (src/ns.c). */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

static int make(bs__sim_store *s, const char *op, const char *path, bs_file_kind kind, uint32_t mode) {
  bs__sim_loc l;
  /* A file named with a trailing slash: EISDIR once the parent is found,
   * whether the name exists or is too long (open(O_CREAT) checks the slash
   * before it looks the name up). */
  size_t plen = strlen(path);
  if (kind == BS_KIND_FILE && plen > 1 && path[plen - 1] == '/') {
    int prc = bs__sim_walk_parent(s, op, path);
    return prc ? prc : bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: a file name cannot end in '/'", op, path);
  }
  int rc = bs__sim_resolve_new(s, op, path, &l);
  if (rc != 0)
    return rc;
  int64_t now = s->clock_ns;
  char *name = bs__sim_strndup(l.name, l.nlen);
  bs__sim_inode *n = name ? bs__sim_inode_new(s, kind, mode, now) : NULL;
  if (!n || bs__sim_dir_reserve(l.dir) != 0) {
    if (n)
      s->next_ino--;
    free(name);
    free(n);
    return BS_ENO_MEMORY;
  }
  /* In a set-group-ID directory a new inode takes the directory's group
   * (Linux inode_init_owner(); the mode is the one asked for, as the real
   * backend sets it with fchmod afterwards). */
  if (s->prof->linux_xattrs && (l.dir->mode & 02000))
    n->gid = l.dir->gid;
  bs__sim_dir_insert(l.dir, l.pos, name, l.nlen, n);
  bs__sim_touch(l.dir, now);
  return BS_OK;
}

int bs__sim_create(bs__sim_store *s, const char *path, uint32_t mode) {
  return make(s, "create", path, BS_KIND_FILE, mode);
}

int bs__sim_mkdir(bs__sim_store *s, const char *path, uint32_t mode) {
  return make(s, "mkdir", path, BS_KIND_DIR, mode);
}

int bs__sim_unlink(bs__sim_store *s, const char *path) {
  bs__sim_loc l;
  int rc = bs__sim_lookup_mut(s, "unlink", path, true, &l);
  if (rc != 0)
    return rc;
  if (l.node->kind == BS_KIND_DIR)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "unlink: %s: is a directory", path);
  bs__sim_inode_free(s, bs__sim_dir_remove(l.dir, l.pos), true);
  bs__sim_touch(l.dir, s->clock_ns);
  return BS_OK;
}

int bs__sim_rmdir(bs__sim_store *s, const char *path) {
  bs__sim_loc l;
  /* rmdir never follows its last component, trailing slash or not (Linux
   * looks up the parent only: "link/" of a symlink to a directory is
   * ENOTDIR), so the name is looked up without its trailing slashes. */
  size_t plen = strlen(path);
  while (plen > 1 && path[plen - 1] == '/')
    plen--;
  char *bare = bs__sim_strndup(path, plen);
  if (!bare)
    return BS_ENO_MEMORY;
  int rc = bs__sim_lookup_mut(s, "rmdir", bare, true, &l);
  free(bare); /* l.name points into it: not used below */
  if (rc != 0)
    return rc;
  if (l.node->kind != BS_KIND_DIR)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "rmdir: %s: not a directory", path);
  if (l.node->nents > 0)
    return bs_store_fail(&s->base, BS_EEXISTS, 0, "rmdir: %s: directory not empty", path);
  bs__sim_inode_free(s, bs__sim_dir_remove(l.dir, l.pos), true);
  bs__sim_touch(l.dir, s->clock_ns);
  return BS_OK;
}

int bs__sim_rename(bs__sim_store *s, const char *from, const char *to) {
  bs__sim_loc f, t;
  /* Both parent walks come before either last component is looked up
   * (do_renameat2): a bad destination directory wins over a missing source. */
  int rc = bs__sim_walk_parent(s, "rename", from);
  if (rc == 0)
    rc = bs__sim_walk_parent(s, "rename", to);
  if (rc != 0)
    return rc;
  /* The source's trailing slash is judged after both names are looked up
   * (a too-long destination name comes first): look it up without. */
  size_t flen = strlen(from);
  bool from_slash = flen > 1 && from[flen - 1] == '/';
  while (flen > 1 && from[flen - 1] == '/')
    flen--;
  char *bare = bs__sim_strndup(from, flen);
  if (!bare)
    return BS_ENO_MEMORY;
  rc = bs__sim_lookup_mut(s, "rename", bare, true, &f);
  free(bare); /* f.name points into it: not used below */
  if (rc != 0)
    return rc;
  rc = bs__sim_resolve(s, "rename", to, &t);
  if (rc != 0)
    return rc;
  /* Only a directory may be renamed from or to a name with a trailing slash. */
  if ((t.slash || from_slash) && f.node->kind != BS_KIND_DIR)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "rename: %s: not a directory",
                         from_slash ? from : to);
  if (t.virt != BS__SIM_V_NONE || t.pvirt != BS__SIM_V_NONE || t.tree->readonly)
    return bs_store_fail(&s->base, BS_EPERMISSION, 0, "rename: %s: read-only", to);
  if (!t.dir)
    return bs_store_fail(&s->base, BS_EBUSY, 0, "rename: %s: the root of a tree cannot be replaced", to);
  bs__sim_inode *src = f.node, *dst = t.node;
  if (src->kind == BS_KIND_DIR)
    for (const bs__sim_inode *d = t.dir; d; d = d->parent)
      if (d == src)
        return bs_store_fail(&s->base, BS_EINVALID, 0, "rename: %s: cannot move a directory into itself", to);
  /* Onto a directory that holds the source: ENOTEMPTY, whatever the kinds,
   * before any other check of the destination (lock_rename's trap in
   * do_renameat2). */
  if (dst && dst->kind == BS_KIND_DIR)
    for (const bs__sim_inode *d = f.dir; d; d = d->parent)
      if (d == dst)
        return bs_store_fail(&s->base, BS_EEXISTS, 0, "rename: %s: an ancestor of %s (not empty)", to, from);
  int64_t now = s->clock_ns;
  if (dst == src && (f.dir != t.dir || f.pos != t.pos))
    return BS_OK; /* two names of one inode (hard links): rename(2) does nothing */
  if (dst == src) { /* same entry: a case-only rename changes the stored name */
    bs__sim_dent *e = &f.dir->ents[f.pos];
    if (e->nlen == t.nlen && memcmp(e->name, t.name, t.nlen) == 0)
      return BS_OK;
    char *nm = bs__sim_strndup(t.name, t.nlen);
    if (!nm)
      return BS_ENO_MEMORY;
    free(e->name);
    e->name = nm;
    src->ctime = now;
    bs__sim_touch(f.dir, now);
    return BS_OK;
  }
  if (dst) {
    if (src->kind != BS_KIND_DIR && dst->kind == BS_KIND_DIR)
      return bs_store_fail(&s->base, BS_EINVALID, 0, "rename: %s: is a directory", to);
    if (src->kind == BS_KIND_DIR && dst->kind != BS_KIND_DIR)
      return bs_store_fail(&s->base, BS_EINVALID, 0, "rename: %s: not a directory", to);
    if (dst->kind == BS_KIND_DIR && dst->nents > 0)
      return bs_store_fail(&s->base, BS_EEXISTS, 0, "rename: %s: directory not empty", to);
  }
  char *nm = bs__sim_strndup(t.name, t.nlen);
  if (!nm || (!dst && bs__sim_dir_reserve(t.dir) != 0)) {
    free(nm);
    return BS_ENO_MEMORY;
  }
  if (dst) {
    /* Replace the entry in place (same position in the order), then drop src's. */
    bs__sim_dent *e = &t.dir->ents[t.pos];
    free(e->name);
    e->name = nm;
    e->nlen = t.nlen;
    e->node = src;
    if (dst->kind == BS_KIND_DIR)
      t.dir->ndirs--;
    if (src->kind == BS_KIND_DIR)
      t.dir->ndirs++;
    /* Drop src's old entry (a different index of a possibly same dir: nothing shifted). */
    bs__sim_dir_remove(f.dir, f.pos);
    src->parent = t.dir;
    bs__sim_inode_free(s, dst, true);
  } else {
    bs__sim_dir_remove(f.dir, f.pos);
    size_t pos = t.pos;
    if (f.dir == t.dir && f.pos < t.pos)
      pos--;
    bs__sim_dir_insert(t.dir, pos, nm, t.nlen, src);
  }
  src->ctime = now;
  bs__sim_touch(f.dir, now);
  bs__sim_touch(t.dir, now);
  return BS_OK;
}
