/* The host-filesystem backend core (see host.h): the file calls on backend
 * paths (host_ns.c makes them places beneath the root), errno to BS_E*
 * codes with messages. */
#include "real/host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bs__host_store *H(bs_store *st) { return (bs__host_store *)st; }

int bs__host_fail_errno(bs_store *st, const char *op, const char *path, int neg_errno) {
  int e = -neg_errno;
  if (e == BS__ESCAPE)
    return bs_store_fail(st, BS_EPERMISSION, EXDEV,
                         "%s: %s: a symlink on the way leads outside its tree (out of the store, or "
                         "into its reserved directory .bs): refused",
                         op, path);
  return bs_store_fail(st, bs_err_from_errno(e), e, "%s: %s: %s", op, path, strerror(e));
}


/* The result of host call @e on located path @l: free it, map the error. */
static int done(bs_store *st, const char *op, const char *path, bs__host_loc *l, int e) {
  bs__host_loc_free(st, l);
  return e == 0 ? 0 : bs__host_fail_errno(st, op, path, e);
}

int bs__host_open(bs_store **out, const bs_backend_ops *ops, const bs_host_os *os, const char *root,
                  uint32_t flags) {
  *out = NULL;
  if (!root || !*root)
    return BS_EINVALID;
  char *abs = NULL;
  if (root[0] == '/') {
    abs = strdup(root);
  } else {
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
      return bs_err_from_errno(errno);
    size_t n = strlen(cwd) + strlen(root) + 2;
    abs = malloc(n);
    if (abs)
      snprintf(abs, n, "%s/%s", cwd, root);
  }
  if (!abs)
    return BS_ENO_MEMORY;
  size_t len = strlen(abs);
  while (len > 0 && abs[len - 1] == '/')
    abs[--len] = '\0';
  bs_stat_info si;
  bs__hpath rp = bs__hpath_host(len ? abs : "/");
  int rc = os->stat(os->ctx, &rp, &si);
  if (rc == 0 && si.kind != BS_KIND_DIR)
    rc = -ENOTDIR;
  bs__host_store *h = rc == 0 ? calloc(1, sizeof(*h)) : NULL;
  if (rc == 0 && !h)
    rc = -ENOMEM;
  if (rc == 0 && os->root_open && (rc = os->root_open(os->ctx, rp.abs, &h->hroot)) == 0)
    h->hr = &h->hroot;
  if (rc != 0) {
    free(h);
    free(abs);
    return bs_err_from_errno(-rc);
  }
  h->base.ops = ops;
  h->os = os;
  h->root = abs;
  h->root_len = len;
  h->flags = flags;
  /* A failure here shows again, with its message, at the first snapshot call. */
  (void)bs__host_revive(h);
  *out = &h->base;
  return BS_OK;
}

int bs__host_revive(bs__host_store *h) {
  const bs_host_os *os = h->os;
  char *meta = bs__host_meta_path(h, "");
  if (!meta)
    return -ENOMEM;
  bs_stat_info msi;
  int e = 0;
  bs__hpath mp = bs__host_meta_hpath(h, meta), rp = bs__host_root_hpath(h);
  if (os->reserve && os->stat(os->ctx, &mp, &msi) == 0 && msi.kind == BS_KIND_DIR)
    e = os->reserve(os->ctx, &rp, &mp);
  free(meta);
  return e;
}

int bs__host_create_store(const bs_host_os *os, const char *root) {
  if (!os->make_root)
    return BS_EUNSUPPORTED;
  int e = os->make_root(os->ctx, root);
  return e == 0 ? 0 : bs_err_from_errno(-e);
}

void bs__host_close(bs_store *st) {
  bs__host_store *h = H(st);
  if (h->hr)
    h->os->root_close(h->os->ctx, &h->hroot);
  if (h->os->release)
    h->os->release(h->os->ctx);
  free(h->root);
  free(h);
}

int bs__host_caps(bs_store *st, bs_caps *out) {
  bs__host_store *h = H(st);
  const char *root = h->root_len ? h->root : "/";
  int rc = h->os->caps(h->os->ctx, root, out);
  return rc == 0 ? 0 : bs__host_fail_errno(st, "caps", root, rc);
}

int bs__host_probe(bs_store *st, const char *path, bs_fs_type *out) {
  bs__host_store *h = H(st);
  int rc = h->os->fs_type(h->os->ctx, path, out);
  return rc == 0 ? 0 : bs__host_fail_errno(st, "probe", path, rc);
}

int bs__host_usage(bs_store *st, bs_usage *out) {
  bs__host_store *h = H(st);
  const char *root = h->root_len ? h->root : "/";
  int rc = h->os->usage(h->os->ctx, root, out);
  return rc == 0 ? 0 : bs__host_fail_errno(st, "usage", root, rc);
}

/* The checks of bs_reflink's contract in the sim's order (src exists and is
 * a regular file, dst does not exist), then the platform's clone; a clone the
 * filesystem cannot do is UNSUPPORTED with the filesystem's name. */
/* The core checked bs_reflink's contract (src/fileops.c): here the
 * platform clones; a clone the filesystem cannot do is UNSUPPORTED with the
 * filesystem's name. */
int bs__host_reflink(bs_store *st, const char *src, const char *dst) {
  bs__host_loc s = {0}, d = {0};
  int rc = bs__host_locate(st, "reflink", src, &s);
  if (rc == 0)
    rc = bs__host_locate(st, "reflink", dst, &d);
  if (rc == 0 && d.has_lower) /* a host lower is only read */
    rc = bs_store_fail(st, BS_EPERMISSION, EROFS, "reflink: %s: the host lower is read-only to the store", dst);
  const bs_host_os *os = H(st)->os;
  int e = rc == 0 ? os->clone(os->ctx, &s.hp, &d.hp) : 0;
  if (e != 0) {
    rc = bs__host_fail_errno(st, "reflink", src, e);
    if (rc == BS_EUNSUPPORTED) {
      bs_fs_type t = BS_FS_OTHER;
      os->fs_type(os->ctx, s.host, &t);
      bs_store_fail(st, rc, -e, "reflink: %s: %s has no native reflink (%s)", src, bs_fs_type_name(t),
                    strerror(-e));
    }
  }
  bs__host_loc_free(st, &s);
  bs__host_loc_free(st, &d);
  return rc;
}

/* The file calls: locate, call the table, map. */
int bs__host_create(bs_store *st, const char *path, uint32_t mode) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "create", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "create", path, &l, os->create(os->ctx, &l.hp, mode));
}

int bs__host_whiteout(bs_store *st, const char *path) {
  const bs_host_os *os = H(st)->os;
  if (!os->whiteout)
    return bs_store_fail(st, BS_EUNSUPPORTED, EOPNOTSUPP, "whiteout: %s: the %s platform has none", path, os->name);
  bs__host_loc l;
  int rc = bs__host_locate(st, "whiteout", path, &l);
  return rc != 0 ? rc : done(st, "whiteout", path, &l, os->whiteout(os->ctx, &l.hp));
}

int bs__host_mkdir(bs_store *st, const char *path, uint32_t mode) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "mkdir", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "mkdir", path, &l, os->mkdir(os->ctx, &l.hp, mode));
}

int bs__host_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "write", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "write", path, &l, os->pwrite(os->ctx, &l.hp, off, buf, len));
}

int bs__host_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "read", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "read", path, &l, os->pread(os->ctx, &l.hp, off, buf, len, nread));
}

int bs__host_truncate(bs_store *st, const char *path, uint64_t size) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "truncate", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "truncate", path, &l, os->truncate(os->ctx, &l.hp, size));
}

int bs__host_unlink(bs_store *st, const char *path) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "unlink", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "unlink", path, &l, os->unlink(os->ctx, &l.hp));
}

int bs__host_rmdir(bs_store *st, const char *path) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "rmdir", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "rmdir", path, &l, os->rmdir(os->ctx, &l.hp));
}

int bs__host_rename(bs_store *st, const char *from, const char *to) {
  bs__host_loc f = {0}, t = {0};
  int rc = bs__host_locate(st, "rename", from, &f);
  if (rc == 0)
    rc = bs__host_locate(st, "rename", to, &t);
  if (rc == 0) {
    const bs_host_os *os = H(st)->os;
    int e = os->rename(os->ctx, &f.hp, &t.hp);
    rc = e == 0 ? 0 : bs__host_fail_errno(st, "rename", from, e);
  }
  bs__host_loc_free(st, &f);
  bs__host_loc_free(st, &t);
  return rc;
}

/* A link method of the OS table, or UNSUPPORTED where it has none. */
static int no_link_op(bs_store *st, const char *op, const char *path) {
  return bs_store_fail(st, BS_EUNSUPPORTED, EOPNOTSUPP, "%s: %s: links are not supported on %s", op, path,
                       H(st)->os->name);
}

int bs__host_symlink(bs_store *st, const char *target, const char *path) {
  const bs_host_os *os = H(st)->os;
  if (!os->symlink)
    return no_link_op(st, "symlink", path);
  bs__host_loc l;
  int rc = bs__host_locate(st, "symlink", path, &l);
  return rc != 0 ? rc : done(st, "symlink", path, &l, os->symlink(os->ctx, target, &l.hp));
}

int bs__host_readlink(bs_store *st, const char *path, char *buf, size_t cap, size_t *len) {
  const bs_host_os *os = H(st)->os;
  if (!os->readlink)
    return no_link_op(st, "readlink", path);
  bs__host_loc l;
  int rc = bs__host_locate(st, "readlink", path, &l);
  return rc != 0 ? rc : done(st, "readlink", path, &l, os->readlink(os->ctx, &l.hp, buf, cap, len));
}

int bs__host_link(bs_store *st, const char *from, const char *to) {
  const bs_host_os *os = H(st)->os;
  if (!os->link)
    return no_link_op(st, "link", to);
  bs__host_loc f = {0}, t = {0};
  int rc = bs__host_locate(st, "link", from, &f);
  if (rc == 0)
    rc = bs__host_locate(st, "link", to, &t);
  if (rc == 0) {
    int e = os->link(os->ctx, &f.hp, &t.hp);
    rc = e == 0 ? 0 : bs__host_fail_errno(st, "link", e == -EEXIST ? to : from, e);
  }
  bs__host_loc_free(st, &f);
  bs__host_loc_free(st, &t);
  return rc;
}

int bs__host_stat(bs_store *st, const char *path, bs_stat_info *out) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "stat", path, &l);
  if (rc != 0)
    return rc;
  const bs_host_os *os = H(st)->os;
  return done(st, "stat", path, &l, os->stat(os->ctx, &l.hp, out));
}

int bs__host_chmod(bs_store *st, const char *path, uint32_t mode) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "chmod", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "chmod", path, &l, os->chmod(os->ctx, &l.hp, mode));
}

int bs__host_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "chown", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "chown", path, &l, os->chown(os->ctx, &l.hp, uid, gid));
}

int bs__host_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "utimens", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "utimens", path, &l, os->utimens(os->ctx, &l.hp, atime_ns, mtime_ns));
}

int bs__host_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "readdir", path, &l);
  if (rc != 0)
    return rc;
  const bs_host_os *os = H(st)->os;
  return done(st, "readdir", path, &l, os->readdir(os->ctx, &l.hp, cb, ctx));
}

int bs__host_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "setxattr", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "setxattr", path, &l, os->setxattr(os->ctx, &l.hp, name, value, len));
}

int bs__host_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "getxattr", path, &l);
  if (rc != 0)
    return rc;
  const bs_host_os *os = H(st)->os;
  return done(st, "getxattr", path, &l, os->getxattr(os->ctx, &l.hp, name, buf, cap, len));
}

int bs__host_removexattr(bs_store *st, const char *path, const char *name) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "removexattr", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "removexattr", path, &l, os->removexattr(os->ctx, &l.hp, name));
}

int bs__host_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx) {
  bs__host_loc l;
  int rc = bs__host_locate(st, "listxattr", path, &l);
  if (rc != 0)
    return rc;
  const bs_host_os *os = H(st)->os;
  return done(st, "listxattr", path, &l, os->listxattr(os->ctx, &l.hp, cb, ctx));
}

int bs__host_sync(bs_store *st, const char *path) {
  if (!path) {
    bs__host_store *h = H(st);
    const char *root = h->root_len ? h->root : "/";
    int e = h->os->syncfs(h->os->ctx, root);
    return e == 0 ? 0 : bs__host_fail_errno(st, "sync", root, e);
  }
  bs__host_loc l;
  int rc = bs__host_locate(st, "sync", path, &l);
  const bs_host_os *os = H(st)->os;
  return rc != 0 ? rc : done(st, "sync", path, &l, os->sync(os->ctx, &l.hp));
}

int bs__host_clock_ns(bs_store *st, int64_t *out) {
  (void)st;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *out = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  return 0;
}
