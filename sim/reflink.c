/* reflink with clonefile(2) semantics.
 *
 * Checks, in order: the source exists (NOT_FOUND) and is a regular file
 * (INVALID: macOS clonefile can clone a directory tree, the sim clones files
 * only); the destination's parent exists (NOT_FOUND); the destination name
 * fits (NAME_TOO_LONG); the destination is writable (PERMISSION; "/.bs" is
 * INVALID) and does not exist (EXISTS); the profile has native reflink
 * (UNSUPPORTED).  Then the source's pending writes are made durable (like
 * FICLONE writing back dirty pages) and a new inode is made that shares every
 * block (refcount++, no allocation), with the source's mode, owner, atime,
 * mtime and xattrs; the birth time is kept on apfs (clonefile) and is "now"
 * elsewhere (none on tmpfs); ctime is now.  The clone is durable at once.
 * Every allocation happens before anything changes: all or nothing.
 * Clones may cross trees (a snapshot file into the main tree, say). */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/fault.h"
#include "sim/sim_internal.h"

int bs__sim_reflink(bs__sim_store *s, const char *src, const char *dst) {
  bs__sim_loc a, b;
  int rc = bs__sim_lookup(s, "reflink", src, &a);
  if (rc != 0)
    return rc;
  if (!a.node || a.node->kind != BS_KIND_FILE)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "reflink: %s: not a regular file", src);
  /* A destination ending in '/': an existing directory is EXISTS and a path
   * through a file or a too-long name fails as a lookup does; anything else
   * is INVALID, even below a missing directory, as the real backends refuse
   * to create a clone whose name is empty (real/linux.c open_parent). */
  size_t dl = strlen(dst);
  if (dl > 1 && dst[dl - 1] == '/') {
    rc = bs__sim_resolve(s, "reflink", dst, &b);
    if (rc != 0 && rc != BS_ENOT_FOUND)
      return rc;
    if (rc == 0 && b.node && b.node->kind == BS_KIND_DIR)
      return bs_store_fail(&s->base, BS_EEXISTS, 0, "reflink: %s: destination exists", dst);
    return bs_store_fail(&s->base, BS_EINVALID, 0, "reflink: %s: a clone's name cannot end in '/'", dst);
  }
  rc = bs__sim_resolve_new(s, "reflink", dst, &b);
  if (rc != 0)
    return rc;
  if (!s->caps.native_reflink)
    return bs_store_fail(&s->base, BS_EUNSUPPORTED, 0, "reflink: %s: %s has no native reflink", src,
                         s->prof->name);
  rc = bs__sim_fault(s, "bs/sim/reflink");
  if (rc != 0)
    return rc;
  bs__sim_inode *from = a.node;
  int64_t now = s->clock_ns;
  char *name = bs__sim_strndup(b.name, b.nlen);
  bs__sim_inode *n = name ? bs__sim_inode_new(s, BS_KIND_FILE, from->mode, now) : NULL;
  if (!n) {
    free(name);
    return BS_ENO_MEMORY;
  }
  /* The clone shares the source's durable state, which after the sync below is its live state. */
  rc = bs__sim_xattrs_copy(n, from);
  if (rc == 0)
    rc = bs__sim_emap_copy(&n->live, &from->live);
  if (rc == 0)
    rc = bs__sim_dir_reserve(b.dir);
  if (rc != 0) {
    s->next_ino--;
    free(name);
    bs__sim_inode_free(s, n, false);
    return rc;
  }
  bs__sim_sync_file(s, from);
  bs__sim_emap_ref(s, &n->live);
  n->size = n->dsize = from->size;
  n->uid = from->uid;
  n->gid = from->gid;
  n->atime = from->atime;
  n->mtime = from->mtime;
  n->ctime = now;
  if (s->prof->clone_keeps_btime)
    n->btime = from->btime;
  bs__sim_dir_insert(b.dir, b.pos, name, b.nlen, n);
  bs__sim_touch(b.dir, now);
  s->op_bytes = from->size;
  return BS_OK;
}
