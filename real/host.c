/* The host-filesystem backend core (see host.h): store-path checks, joining
 * with the root, errno to BS_E* codes with messages, and the reflink
 * preconditions every platform shares. */
#include "real/host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bs__host_store *H(bs_store *st) { return (bs__host_store *)st; }

/* Fail with the code for -@neg_errno and "OP: PATH: strerror". */
static int fail_errno(bs_store *st, const char *op, const char *path, int neg_errno) {
  int e = -neg_errno;
  return bs_store_fail(st, bs_err_from_errno(e), e, "%s: %s: %s", op, path, strerror(e));
}

/* Store path -> host path for an operation of kind @intent (host_ns.c).
 * A virtual directory is an error here: callers that can answer for one
 * (stat, readdir, the xattr reads) use bs__host_locate themselves. */
static int host_path(bs_store *st, const char *op, const char *path, bs__host_intent intent, char **out) {
  bs__host_loc l;
  int rc = bs__host_locate(st, op, path, intent, &l);
  if (rc != 0)
    return rc;
  if (!l.host)
    return bs_store_fail(st, BS_EINVALID, EISDIR, "%s: %s: a directory", op, path);
  *out = l.host;
  return 0;
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
  int rc = os->stat(os->ctx, len ? abs : "/", &si);
  if (rc == 0 && si.kind != BS_KIND_DIR)
    rc = -ENOTDIR;
  if (rc != 0) {
    free(abs);
    return bs_err_from_errno(-rc);
  }
  bs__host_store *h = calloc(1, sizeof(*h));
  if (!h) {
    free(abs);
    return BS_ENO_MEMORY;
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
  if (os->reserve && os->stat(os->ctx, meta, &msi) == 0 && msi.kind == BS_KIND_DIR)
    e = os->reserve(os->ctx, h->root_len ? h->root : "/", meta);
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
  if (h->os->release)
    h->os->release(h->os->ctx);
  free(h->root);
  free(h);
}

/* One store path: join, call, map. */
#define ON_PATH(st, op, intent, path, call)                                                 \
  do {                                                                                      \
    char *hp_ = NULL;                                                                       \
    int rc_ = host_path((st), (op), (path), (intent), &hp_);                                \
    if (rc_ != 0)                                                                           \
      return rc_;                                                                           \
    const bs_host_os *os = H(st)->os;                                                       \
    const char *hp = hp_;                                                                   \
    rc_ = (call);                                                                           \
    free(hp_);                                                                              \
    return rc_ == 0 ? 0 : fail_errno((st), (op), (path), rc_);                              \
  } while (0)

int bs__host_caps(bs_store *st, bs_caps *out) {
  bs__host_store *h = H(st);
  const char *root = h->root_len ? h->root : "/";
  int rc = h->os->caps(h->os->ctx, root, out);
  return rc == 0 ? 0 : fail_errno(st, "caps", root, rc);
}

int bs__host_probe(bs_store *st, const char *path, bs_fs_type *out) {
  bs__host_store *h = H(st);
  int rc = h->os->fs_type(h->os->ctx, path, out);
  return rc == 0 ? 0 : fail_errno(st, "probe", path, rc);
}

int bs__host_usage(bs_store *st, bs_usage *out) {
  bs__host_store *h = H(st);
  const char *root = h->root_len ? h->root : "/";
  int rc = h->os->usage(h->os->ctx, root, out);
  return rc == 0 ? 0 : fail_errno(st, "usage", root, rc);
}

/* The checks of bs_reflink's contract in the sim's order (src exists and is
 * a regular file, dst does not exist), then the platform's clone; a clone the
 * filesystem cannot do is UNSUPPORTED with the filesystem's name. */
int bs__host_reflink(bs_store *st, const char *src, const char *dst) {
  char *hs = NULL, *hd = NULL;
  int rc = host_path(st, "reflink", src, BS__HOST_READ, &hs);
  if (rc == 0)
    rc = host_path(st, "reflink", dst, BS__HOST_NEW, &hd);
  if (rc != 0) {
    free(hs);
    return rc;
  }
  const bs_host_os *os = H(st)->os;
  bs_stat_info si;
  int e = os->stat(os->ctx, hs, &si);
  if (e != 0) {
    rc = fail_errno(st, "reflink", src, e);
  } else if (si.kind != BS_KIND_FILE) {
    rc = bs_store_fail(st, BS_EINVALID, 0, "reflink: %s: not a regular file", src);
  } else if ((e = os->stat(os->ctx, hd, &si)) == 0) {
    rc = bs_store_fail(st, BS_EEXISTS, EEXIST, "reflink: %s: destination exists", dst);
  } else if (e != -ENOENT) {
    rc = fail_errno(st, "reflink", dst, e);
  } else if ((e = os->clone(os->ctx, hs, hd)) != 0) {
    rc = fail_errno(st, "reflink", src, e);
    if (rc == BS_EUNSUPPORTED) {
      bs_fs_type t = BS_FS_OTHER;
      os->fs_type(os->ctx, hs, &t);
      bs_store_fail(st, rc, -e, "reflink: %s: %s has no native reflink (%s)", src,
                    bs_fs_type_name(t), strerror(-e));
    }
  }
  free(hs);
  free(hd);
  return rc;
}

int bs__host_create(bs_store *st, const char *path, uint32_t mode) {
  ON_PATH(st, "create", BS__HOST_NEW, path, os->create(os->ctx, hp, mode));
}

int bs__host_mkdir(bs_store *st, const char *path, uint32_t mode) {
  ON_PATH(st, "mkdir", BS__HOST_NEW, path, os->mkdir(os->ctx, hp, mode));
}

int bs__host_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len) {
  ON_PATH(st, "write", BS__HOST_MODIFY, path, os->pwrite(os->ctx, hp, off, buf, len));
}

int bs__host_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  ON_PATH(st, "read", BS__HOST_READ, path, os->pread(os->ctx, hp, off, buf, len, nread));
}

int bs__host_truncate(bs_store *st, const char *path, uint64_t size) {
  ON_PATH(st, "truncate", BS__HOST_MODIFY, path, os->truncate(os->ctx, hp, size));
}

int bs__host_unlink(bs_store *st, const char *path) {
  ON_PATH(st, "unlink", BS__HOST_REMOVE, path, os->unlink(os->ctx, hp));
}

int bs__host_rmdir(bs_store *st, const char *path) {
  ON_PATH(st, "rmdir", BS__HOST_REMOVE, path, os->rmdir(os->ctx, hp));
}

/* A rename stays inside its tree: between trees it is CROSS_DEVICE, as
 * between subvolumes (and as in the sim). */
int bs__host_rename(bs_store *st, const char *from, const char *to) {
  bs__host_loc f, t = {0};
  int rc = bs__host_locate(st, "rename", from, BS__HOST_REMOVE, &f);
  if (rc == 0)
    rc = bs__host_locate(st, "rename", to, BS__HOST_NEW, &t);
  if (rc == 0 && (f.tree != t.tree || f.tree_id != t.tree_id))
    rc = bs_store_fail(st, BS_ECROSS_DEVICE, EXDEV, "rename: %s -> %s: between trees", from, to);
  if (rc == 0) {
    const bs_host_os *os = H(st)->os;
    int e = os->rename(os->ctx, f.host, t.host);
    rc = e == 0 ? 0 : fail_errno(st, "rename", from, e);
  }
  free(f.host);
  free(t.host);
  return rc;
}

/* Locate @path for a read that can answer for a virtual directory itself:
 * *@virt is set for one (and @l has no host path). */
#define ON_READ(st, op, path, l)                                                           \
  bs__host_loc l;                                                                           \
  do {                                                                                      \
    int lrc_ = bs__host_locate((st), (op), (path), BS__HOST_READ, &l);                      \
    if (lrc_ != 0)                                                                          \
      return lrc_;                                                                          \
  } while (0)

/* The result of host call @e on located path @l: free it, map the error. */
static int done(bs_store *st, const char *op, const char *path, bs__host_loc *l, int e) {
  free(l->host);
  return e == 0 ? 0 : fail_errno(st, op, path, e);
}

int bs__host_stat(bs_store *st, const char *path, bs_stat_info *out) {
  ON_READ(st, "stat", path, l);
  if (!l.host)
    return bs__host_virt_stat(st, l.virt, out);
  const bs_host_os *os = H(st)->os;
  return done(st, "stat", path, &l, os->stat(os->ctx, l.host, out));
}

int bs__host_chmod(bs_store *st, const char *path, uint32_t mode) {
  ON_PATH(st, "chmod", BS__HOST_MODIFY, path, os->chmod(os->ctx, hp, mode));
}

int bs__host_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid) {
  ON_PATH(st, "chown", BS__HOST_MODIFY, path, os->chown(os->ctx, hp, uid, gid));
}

int bs__host_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  ON_PATH(st, "utimens", BS__HOST_MODIFY, path, os->utimens(os->ctx, hp, atime_ns, mtime_ns));
}

/* The main root hides ".bs", the reserved directory, and a snapshot root
 * hides what btrfs shows in its place (an empty directory for the nested
 * subvolume; host_ns.c makes it NOT_FOUND too).  Branches drop it when they
 * are made, so a ".bs" at a branch root is an ordinary directory. */
typedef struct hide_ctx {
  bs_readdir_cb cb;
  void *ctx;
} hide_ctx;

static int hide_reserved(void *ctx, const char *name, bs_file_kind kind) {
  hide_ctx *h = ctx;
  return strcmp(name, ".bs") == 0 ? 0 : h->cb(h->ctx, name, kind);
}

int bs__host_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx) {
  ON_READ(st, "readdir", path, l);
  if (!l.host)
    return bs__host_virt_readdir(st, l.virt, cb, ctx);
  const bs_host_os *os = H(st)->os;
  hide_ctx hc = {cb, ctx};
  bool hide = l.tree_root && l.tree != 2; /* a branch root's ".bs" is the user's own */
  int e = hide ? os->readdir(os->ctx, l.host, hide_reserved, &hc) : os->readdir(os->ctx, l.host, cb, ctx);
  return done(st, "readdir", path, &l, e);
}

int bs__host_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len) {
  ON_PATH(st, "setxattr", BS__HOST_MODIFY, path, os->setxattr(os->ctx, hp, name, value, len));
}

int bs__host_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  ON_READ(st, "getxattr", path, l);
  if (!l.host) /* virtual directories have no xattrs */
    return bs_store_fail(st, BS_ENOT_FOUND, ENODATA, "getxattr: %s: no xattr \"%s\"", path, name);
  const bs_host_os *os = H(st)->os;
  return done(st, "getxattr", path, &l, os->getxattr(os->ctx, l.host, name, buf, cap, len));
}

int bs__host_removexattr(bs_store *st, const char *path, const char *name) {
  ON_PATH(st, "removexattr", BS__HOST_MODIFY, path, os->removexattr(os->ctx, hp, name));
}

int bs__host_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx) {
  ON_READ(st, "listxattr", path, l);
  if (!l.host)
    return 0;
  const bs_host_os *os = H(st)->os;
  return done(st, "listxattr", path, &l, os->listxattr(os->ctx, l.host, cb, ctx));
}

int bs__host_sync(bs_store *st, const char *path) {
  if (!path) {
    bs__host_store *h = H(st);
    const char *root = h->root_len ? h->root : "/";
    int rc = h->os->syncfs(h->os->ctx, root);
    return rc == 0 ? 0 : fail_errno(st, "sync", root, rc);
  }
  ON_PATH(st, "sync", BS__HOST_READ, path, os->sync(os->ctx, hp));
}

int bs__host_clock_ns(bs_store *st, int64_t *out) {
  (void)st;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *out = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  return 0;
}
