/* Trees of a darwin store that are not APFS snapshots: the clone tree (a
 * branch, or a snapshot by BS_TREE_REFLINK), the byte-copy tree
 * (BS_TREE_COPY, and the fallback where clonefile answers EXDEV), and the
 * removal of a tree.  Everything goes through the files table and
 * clonefile of the darwin seam (darwin_os.h), so it runs on the fake too.
 *
 * A clone tree is made entry by entry below a new root: clonefile(2) of a
 * top-level directory clones its whole hierarchy ("as if each item was
 * cloned individually"), and the top-level ".bs" is left out.  The new root
 * gets the source root's owner (as root), extended attributes, mode and
 * times, mode and times last.  The seam has no readlink/symlink, so the byte
 * copy refuses a symlink with EOPNOTSUPP (a clone keeps it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "real/darwin_os.h"
#include "real/posix.h"

char *bs__darwin_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  while (la > 0 && a[la - 1] == '/')
    la--;
  char *s = malloc(la + lb + 2);
  if (s) {
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
  }
  return s;
}

typedef struct coll {
  bs__names names;
  int oom;
} coll;

static int collect(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  coll *c = ctx;
  c->oom = bs__names_add(&c->names, name, strlen(name)) != 0;
  return c->oom;
}

int bs__darwin_list_dir(const bs__darwin_os *d, const char *path, bs__names *out) {
  coll c = {{0}, 0};
  int rc = d->files.readdir(d->files.ctx, BS__HOST_PATH(path), collect, &c);
  if (rc == 0 && c.oom)
    rc = -ENOMEM;
  if (rc != 0)
    bs__names_free(&c.names);
  *out = c.names; /* readdir of the files table hands names out sorted */
  return rc;
}

/* ---- removal ------------------------------------------------------------------ */

int bs__darwin_remove_tree(bs__darwin_os *d, const char *path) {
  const bs_host_os *f = &d->files;
  bs_stat_info si;
  int rc = f->stat(f->ctx, BS__HOST_PATH(path), &si);
  if (rc == -ENOENT)
    return 0;
  if (rc != 0)
    return rc;
  if (si.kind != BS_KIND_DIR)
    return f->unlink(f->ctx, BS__HOST_PATH(path));
  if ((si.mode & 0700) != 0700 && (rc = f->chmod(f->ctx, BS__HOST_PATH(path), si.mode | 0700)) != 0)
    return rc; /* a read-only directory of a snapshot tree */
  bs__names names;
  if ((rc = bs__darwin_list_dir(d, path, &names)) != 0)
    return rc;
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    char *p = bs__darwin_join(path, names.v[i]);
    rc = p ? bs__darwin_remove_tree(d, p) : -ENOMEM;
    free(p);
  }
  bs__names_free(&names);
  return rc != 0 ? rc : f->rmdir(f->ctx, BS__HOST_PATH(path));
}

/* ---- metadata ----------------------------------------------------------------- */

static int add_xattr(void *ctx, const char *name) { return collect(ctx, name, BS_KIND_FILE); }

/* Every xattr of @src on @dst.  The names are collected first: a table may
 * not be re-entered from its own callback (the fake's sim is not). */
static int copy_xattrs(const bs__darwin_os *d, const char *src, const char *dst) {
  const bs_host_os *f = &d->files;
  coll c = {{0}, 0};
  int rc = f->listxattr(f->ctx, BS__HOST_PATH(src), add_xattr, &c);
  if (rc == 0 && c.oom)
    rc = -ENOMEM;
  bs__names names = c.names;
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    size_t len = 0;
    rc = f->getxattr(f->ctx, BS__HOST_PATH(src), names.v[i], NULL, 0, &len);
    char *buf = rc == 0 ? malloc(len ? len : 1) : NULL;
    if (rc == 0 && !buf)
      rc = -ENOMEM;
    if (rc == 0 && len > 0)
      rc = f->getxattr(f->ctx, BS__HOST_PATH(src), names.v[i], buf, len, &len);
    if (rc == 0)
      rc = f->setxattr(f->ctx, BS__HOST_PATH(dst), names.v[i], buf, len);
    free(buf);
  }
  bs__names_free(&names);
  return rc;
}

/* Owner (when allowed), xattrs, then mode and times of @src on @dst. */
static int copy_meta(const bs__darwin_os *d, const char *src, const char *dst, const bs_stat_info *si) {
  const bs_host_os *f = &d->files;
  int rc = f->chown(f->ctx, BS__HOST_PATH(dst), si->uid, si->gid);
  if (rc == -EPERM)
    rc = 0; /* not root: the copy is the caller's, as clonefile(2) makes it */
  if (rc == 0)
    rc = copy_xattrs(d, src, dst);
  if (rc == 0)
    rc = f->chmod(f->ctx, BS__HOST_PATH(dst), si->mode);
  if (rc == 0)
    rc = f->utimens(f->ctx, BS__HOST_PATH(dst), si->atime_ns, si->mtime_ns);
  return rc;
}

/* ---- byte copy ---------------------------------------------------------------- */

static int copy_entry(bs__darwin_os *d, const char *src, const char *dst);

static int copy_file(const bs__darwin_os *d, const char *src, const char *dst, const bs_stat_info *si) {
  const bs_host_os *f = &d->files;
  int rc = f->create(f->ctx, BS__HOST_PATH(dst), 0600);
  enum { CHUNK = 1 << 16 };
  char *buf = rc == 0 ? malloc(CHUNK) : NULL;
  if (rc == 0 && !buf)
    rc = -ENOMEM;
  for (uint64_t off = 0; rc == 0 && off < si->size;) {
    size_t n = 0;
    rc = f->pread(f->ctx, BS__HOST_PATH(src), off, buf, CHUNK, &n);
    if (rc == 0 && n == 0)
      break; /* shrank meanwhile */
    if (rc == 0)
      rc = f->pwrite(f->ctx, BS__HOST_PATH(dst), off, buf, n);
    off += n;
  }
  free(buf);
  return rc;
}

static int copy_dir(bs__darwin_os *d, const char *src, const char *dst) {
  bs__names names;
  int rc = d->files.mkdir(d->files.ctx, BS__HOST_PATH(dst), 0700);
  if (rc == 0)
    rc = bs__darwin_list_dir(d, src, &names);
  if (rc != 0)
    return rc;
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    char *s = bs__darwin_join(src, names.v[i]), *t = bs__darwin_join(dst, names.v[i]);
    rc = s && t ? copy_entry(d, s, t) : -ENOMEM;
    free(s);
    free(t);
  }
  bs__names_free(&names);
  return rc;
}

static int copy_entry(bs__darwin_os *d, const char *src, const char *dst) {
  bs_stat_info si;
  int rc = d->files.stat(d->files.ctx, BS__HOST_PATH(src), &si);
  if (rc != 0)
    return rc;
  if (si.kind == BS_KIND_SYMLINK)
    return bs__darwin_fail(d, -EOPNOTSUPP, "%s: a symlink cannot be copied (the seam has no readlink)", src);
  rc = si.kind == BS_KIND_DIR ? copy_dir(d, src, dst) : copy_file(d, src, dst, &si);
  return rc != 0 ? rc : copy_meta(d, src, dst, &si);
}

/* ---- the tree ----------------------------------------------------------------- */

/* One top-level entry: clonefile, or a byte copy when @copy or when
 * clonefile cannot reach across (EXDEV: a mounted snapshot is its own mount). */
static int one_entry(bs__darwin_os *d, const char *src, const char *dst, bool copy) {
  if (copy)
    return copy_entry(d, src, dst);
  int rc = d->sys.clonefile(d->sys.ctx, src, dst, BS_CLONE_NOFOLLOW);
  if (rc == 0 || rc == -EEXIST)
    return rc;
  int e = bs__darwin_remove_tree(d, dst); /* what a failed clone left */
  if (e != 0)
    return e;
  if (rc == -EXDEV)
    return copy_entry(d, src, dst);
  return rc == -ENOTSUP ? -EOPNOTSUPP : rc;
}

int bs__darwin_copy_tree(bs__darwin_os *d, const char *src, const char *dst, bool copy) {
  const bs_host_os *f = &d->files;
  bs_stat_info si;
  int rc = f->stat(f->ctx, BS__HOST_PATH(src), &si);
  if (rc == 0 && si.kind != BS_KIND_DIR)
    rc = -ENOTDIR;
  if (rc == 0)
    rc = f->mkdir(f->ctx, BS__HOST_PATH(dst), 0700);
  if (rc != 0)
    return rc; /* EEXIST: someone else's, never touched */
  bs__names names;
  rc = bs__darwin_list_dir(d, src, &names);
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    if (strcmp(names.v[i], ".bs") == 0)
      continue;
    char *s = bs__darwin_join(src, names.v[i]), *t = bs__darwin_join(dst, names.v[i]);
    rc = s && t ? one_entry(d, s, t, copy) : -ENOMEM;
    free(s);
    free(t);
  }
  bs__names_free(&names);
  if (rc == 0)
    rc = copy_meta(d, src, dst, &si);
  if (rc != 0)
    (void)bs__darwin_remove_tree(d, dst);
  return rc;
}
