/* The host-filesystem backend core, shared by linux.c and darwin.c.
 *
 * A host store is a directory ("root") of a real volume.  Every OS call goes
 * through a bs_host_os table (the portability seam of DESIGN §7): on Linux it
 * points at real/posix.c and real/linux.c, on macOS at real/posix.c and
 * darwin.c's libc seam, and in the Linux tests of darwin.c at a fake backed by
 * the sim's apfs/hfs profiles.  Table functions take host paths (root joined
 * with the store path) and return 0 or -errno; host.c turns that into a
 * BS_E* code and a message that names the operation and the store path.
 *
 * Names: `bs__host_*` cross files in real/; everything else is static. */
#ifndef BS_REAL_HOST_H
#define BS_REAL_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "backstore/backend.h"
#include "real/resolve.h"

typedef struct bs_host_os bs_host_os;

/* The OS seam.  @ctx is the table's own context (NULL for libc). */
struct bs_host_os {
  const char *name; /* for messages: "linux", "darwin", "darwin-fake" */
  void *ctx;

  /* ---- file operations: 0 or -errno ------------------------------------
   * Each place is a bs__hpath (real/resolve.h): on Linux and macOS it is
   * resolved beneath the store's root fd, so that no symlink leads out of
   * the store (-BS__ESCAPE); the darwin fake uses its absolute path. */
  int (*create)(void *ctx, const bs__hpath *p, uint32_t mode);  /* O_EXCL, exact mode */
  int (*mkdir)(void *ctx, const bs__hpath *p, uint32_t mode);   /* exact mode */
  /* An overlay whiteout at @p (absent): a character device 0/0, as Linux
   * overlayfs writes it.  NULL: the platform has none. */
  int (*whiteout)(void *ctx, const bs__hpath *p);
  int (*pwrite)(void *ctx, const bs__hpath *p, uint64_t off, const void *buf, size_t len);
  int (*pread)(void *ctx, const bs__hpath *p, uint64_t off, void *buf, size_t len, size_t *nread);
  int (*truncate)(void *ctx, const bs__hpath *p, uint64_t size);
  int (*unlink)(void *ctx, const bs__hpath *p);
  int (*rmdir)(void *ctx, const bs__hpath *p);
  int (*rename)(void *ctx, const bs__hpath *from, const bs__hpath *to);
  int (*stat)(void *ctx, const bs__hpath *p, bs_stat_info *out); /* does not follow a final symlink */
  int (*chmod)(void *ctx, const bs__hpath *p, uint32_t mode);
  int (*chown)(void *ctx, const bs__hpath *p, uint32_t uid, uint32_t gid); /* BS_ID_KEEP keeps */
  int (*utimens)(void *ctx, const bs__hpath *p, int64_t atime_ns, int64_t mtime_ns);
  int (*readdir)(void *ctx, const bs__hpath *p, bs_readdir_cb cb, void *cb_ctx); /* byte order */
  int (*setxattr)(void *ctx, const bs__hpath *p, const char *name, const void *val, size_t len);
  /* cap 0: size only; too small a cap: -ERANGE */
  int (*getxattr)(void *ctx, const bs__hpath *p, const char *name, void *buf, size_t cap, size_t *len);
  int (*removexattr)(void *ctx, const bs__hpath *p, const char *name);
  int (*listxattr)(void *ctx, const bs__hpath *p, bs_xattr_cb cb, void *cb_ctx); /* byte order */
  int (*sync)(void *ctx, const bs__hpath *p);                 /* fsync one file or dir */
  int (*syncfs)(void *ctx, const char *root);                 /* everything on the volume */
  int (*usage)(void *ctx, const char *root, bs_usage *out);   /* statvfs */
  /* Advisory lock on file @p, shared or exclusive, held until
   * unlock(*@handle).  An exclusive lock makes the file (0600) if missing;
   * -ENOENT when its directory is gone.  A shared lock never writes (it
   * works on a read-only mount): without the file, *@handle is -1 and 0 is
   * returned.  Either lock is on the file at @p when it returns, even if
   * the one waited on was removed meanwhile.  NULL: the platform has none,
   * and stores are only serialised within the process. */
  int (*lock)(void *ctx, const bs__hpath *p, int exclusive, int *handle);
  void (*unlock)(void *ctx, int handle);
  /* Open the root directory @abs of a store for its lifetime (following
   * symlinks on the way: the caller named it).  NULL: the table resolves
   * absolute paths itself (the darwin fake), and hpaths carry no root. */
  int (*root_open)(void *ctx, const char *abs, bs__hroot *out);
  void (*root_close)(void *ctx, bs__hroot *root);

  /* ---- platform operations ---------------------------------------------- */
  /* Filesystem type of the volume holding @path. */
  int (*fs_type)(void *ctx, const char *path, bs_fs_type *out);
  /* Capabilities of the volume holding @root (DESIGN §4 row of its type). */
  int (*caps)(void *ctx, const char *root, bs_caps *out);
  /* Clone @src to @dst with clonefile(2) semantics: @dst must not exist,
   * all-or-nothing (on failure nothing is left at @dst). */
  int (*clone)(void *ctx, const bs__hpath *src, const bs__hpath *dst);

  /* Called once when a store using this table closes (NULL: nothing). */
  void (*release)(void *ctx);

  /* ---- snapshots and branches (docs/snapshots.md) ------------------------
   * host.c keeps the registry (src/snapreg.h) and the layout below the
   * reserved directory <root>/.bs; these make and remove the trees.  All are
   * all-or-nothing: on failure nothing is left at the destination.  NULL
   * members mean the platform has no snapshots at all (UNSUPPORTED). */

  /* Make @path the root directory of a new store (btrfs: a subvolume, so it
   * can be snapshotted natively; elsewhere mkdir 0755).  -EEXIST if it exists. */
  int (*make_root)(void *ctx, const char *path);
  /* Make @dir (<root>/.bs) the reserved directory, mode 0700, if it is not
   * there yet (0 when it is).  On btrfs it is a subvolume, so a snapshot of
   * the root does not contain the snapshots below it. */
  int (*reserve)(void *ctx, const bs__hpath *root, const bs__hpath *dir);
  /* Make @dst (must not exist; its parent does) a read-only copy of the tree
   * at @src by method @m, leaving out @src's top-level entry ".bs".  Fills
   * @uuid with the filesystem's UUID of the new tree, or all zeroes when the
   * filesystem has none (host.c then makes a random version-4 UUID).
   * -EOPNOTSUPP when @m is not possible here (with btrfs: @src is not the
   * root of a subvolume). */
  int (*snap_create)(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst,
                     uint8_t uuid[16]);
  /* Make @dst (must not exist) a writable copy of snapshot tree @src. */
  int (*branch_create)(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst);
  /* Remove a tree made by snap_create or branch_create with method @m (read-only
   * or not); returns once the space it held shows as free in usage(). */
  int (*tree_delete)(void *ctx, bs_tree_method m, const bs__hpath *p);
  /* Whether tree_delete of @p (made with method @m) would be allowed to
   * this process: 0, or -errno (-EPERM, -EACCES, -EROFS) with the reason in
   * words in @why (@cap bytes; "" when strerror says it all).  host.c asks
   * before the registry lets go of a tree, so a delete the OS refuses
   * changes nothing.  NULL: always allowed. */
  int (*tree_may_delete)(void *ctx, bs_tree_method m, const bs__hpath *p, char *why, size_t cap);

  /* Why the last platform operation of this table failed, in words that
   * -errno cannot carry ("fs_snapshot_create needs root and the
   * com.apple.developer.vfs.snapshot entitlement", "diskutil exited with
   * status 1: ..."), or "" (NULL member: never anything).  Valid until the
   * next platform operation on the table; host.c puts it in the store's
   * message.  darwin.c fills it. */
  const char *(*last_detail)(void *ctx);

  /* ---- links: 0 or -errno; NULL members: UNSUPPORTED ---------------------- */
  int (*symlink)(void *ctx, const char *target, const bs__hpath *p); /* the text as it is */
  /* Never follows @p; -ERANGE when the target does not fit in @cap - 1 bytes. */
  int (*readlink)(void *ctx, const bs__hpath *p, char *buf, size_t cap, size_t *len);
  int (*link)(void *ctx, const bs__hpath *from, const bs__hpath *to); /* neither followed */
};

/* A store on a host directory. */
typedef struct bs__host_store {
  bs_store base;
  const bs_host_os *os;
  char *root;       /* absolute, no trailing '/' (except "/" itself, kept as "") */
  size_t root_len;
  uint32_t flags;   /* bs_open_opts.flags */
  bs__hroot hroot;  /* the root, open for the store's lifetime (os->root_open) */
  const bs__hroot *hr; /* &hroot, or NULL where the table has no root_open */
} bs__host_store;

/* Open a host store on directory @root with OS table @os.  @root must be an
 * existing directory; it is made absolute.  @ops is the table of the backend
 * being opened (so st->ops names it). */
int bs__host_open(bs_store **out, const bs_backend_ops *ops, const bs_host_os *os, const char *root,
                  uint32_t flags);

/* A store with snapshots (<root>/.bs exists): let the platform bring its
 * snapshot views back (reserve; darwin mounts again what a reboot or a hand
 * unmount took away).  0, or -errno (os->last_detail says why).  A store
 * without snapshots is left alone: nothing is made. */
int bs__host_revive(bs__host_store *h);

/* Record -@neg_errno of a host call on @st: the mapped code and "OP: PATH:
 * strerror", or PERMISSION for a -BS__ESCAPE.  Returns the code. */
int bs__host_fail_errno(bs_store *st, const char *op, const char *path, int neg_errno);

/* bs_store_create() for a host backend: @os->make_root, errors mapped. */
int bs__host_create_store(const bs_host_os *os, const char *root);

/* ---- backend paths (host_ns.c) --------------------------------------------
 * The core hands a host store backend paths (backstore/backend.h): the main
 * tree at "/", tree ID at "/.bs/snap/ID" and "/.bs/branch/ID", their
 * containers "/.bs/snap" and "/.bs/branch".  Here they become host paths
 * below <root>, and places beneath the root fd (real/resolve.h). */

/* A backend path as a host place. */
typedef struct bs__host_loc {
  char *host;     /* the absolute host path, malloc'ed */
  bs__hpath hp;   /* where @host lies in the store (hp.abs is @host) */
  bool has_lower; /* a host lower ("/.bs/lower/ID"): hp is beneath @lower */
  bs__hroot lower; /* that directory, open while the place is */
} bs__host_loc;

/* Backend path @bpath of call @op: 0 with @out filled (bs__host_loc_free),
 * or the error recorded on @st (INVALID for a path no core makes).  A host
 * lower (docs/overlay.md) is reached only by the calls that read (stat,
 * read, readdir, getxattr, listxattr, readlink, reflink's source):
 * PERMISSION for the others. */
int bs__host_locate(bs_store *st, const char *op, const char *bpath, bs__host_loc *out);
/* Release what bs__host_locate() filled (a zeroed @l too). */
void bs__host_loc_free(bs_store *st, bs__host_loc *l);
/* "<root>/.bs" + @leaf ("" for the directory itself), malloc'ed, or NULL. */
char *bs__host_meta_path(const bs__host_store *h, const char *leaf);
/* The place @abs (a path made by bs__host_meta_path) in the reserved
 * directory: resolved with no symlinks at all. */
bs__hpath bs__host_meta_hpath(const bs__host_store *h, const char *abs);
/* The store's root directory itself, as a place of the main tree. */
bs__hpath bs__host_root_hpath(const bs__host_store *h);
/* "<root>/.bs/snap/@id" or "<root>/.bs/branch/@id", malloc'ed, or NULL. */
char *bs__host_tree_path(const bs__host_store *h, bs_tree_kind kind, uint64_t id);

/* ---- the tree and registry primitives (host_snap.c; backstore/backend.h) ---- */
int bs__host_tree_method(bs_store *st, bs_tree_method *out);
int bs__host_tree_create(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id, uint64_t src_snapshot,
                         uint8_t uuid[16]);
int bs__host_tree_may_delete(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id);
int bs__host_tree_freeze(bs_store *st, bs_tree_method m, uint64_t id, const char *src, uint8_t uuid[16]);
int bs__host_tree_delete(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id);
int bs__host_tree_list(bs_store *st, bs_tree_kind kind, int (*cb)(void *ctx, uint64_t id), void *ctx);
int bs__host_registry_open(bs_store *st, bool change, bs_registry **out, uint8_t **buf, size_t *len);
int bs__host_registry_save(bs_store *st, bs_registry *r, const uint8_t *buf, size_t len, bool *landed);
void bs__host_registry_close(bs_store *st, bs_registry *r, bool failed);
int bs__host_tree_revive(bs_store *st);

/* The bs_backend_ops methods a host backend uses, for tables in linux.c and
 * darwin.c.  BS__HOST_METHODS fills every slot but version, name and open. */
void bs__host_close(bs_store *st);
int bs__host_caps(bs_store *st, bs_caps *out);
int bs__host_probe(bs_store *st, const char *path, bs_fs_type *out);
int bs__host_reflink(bs_store *st, const char *src, const char *dst);
int bs__host_usage(bs_store *st, bs_usage *out);
int bs__host_create(bs_store *st, const char *path, uint32_t mode);
int bs__host_mkdir(bs_store *st, const char *path, uint32_t mode);
int bs__host_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len);
int bs__host_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread);
int bs__host_truncate(bs_store *st, const char *path, uint64_t size);
int bs__host_unlink(bs_store *st, const char *path);
int bs__host_rmdir(bs_store *st, const char *path);
int bs__host_rename(bs_store *st, const char *from, const char *to);
int bs__host_stat(bs_store *st, const char *path, bs_stat_info *out);
int bs__host_chmod(bs_store *st, const char *path, uint32_t mode);
int bs__host_whiteout(bs_store *st, const char *path);
int bs__host_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid);
int bs__host_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns);
int bs__host_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx);
int bs__host_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len);
int bs__host_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len);
int bs__host_removexattr(bs_store *st, const char *path, const char *name);
int bs__host_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx);
int bs__host_sync(bs_store *st, const char *path);
int bs__host_clock_ns(bs_store *st, int64_t *out);
int bs__host_symlink(bs_store *st, const char *target, const char *path);
int bs__host_readlink(bs_store *st, const char *path, char *buf, size_t cap, size_t *len);
int bs__host_link(bs_store *st, const char *from, const char *to);

#define BS__HOST_METHODS                                                                    \
  .close = bs__host_close, .caps = bs__host_caps, .probe_fs_type = bs__host_probe,          \
  .reflink = bs__host_reflink, .usage = bs__host_usage, .create = bs__host_create,          \
  .mkdir = bs__host_mkdir, .write = bs__host_write, .read = bs__host_read,                  \
  .truncate = bs__host_truncate, .unlink = bs__host_unlink, .rmdir = bs__host_rmdir,        \
  .rename = bs__host_rename, .stat = bs__host_stat, .chmod = bs__host_chmod,                \
  .utimens = bs__host_utimens, .readdir = bs__host_readdir, .setxattr = bs__host_setxattr,  \
  .getxattr = bs__host_getxattr, .removexattr = bs__host_removexattr,                       \
  .listxattr = bs__host_listxattr, .sync = bs__host_sync, .clock_ns = bs__host_clock_ns,    \
  .chown = bs__host_chown, .tree_method = bs__host_tree_method,                             \
  .tree_create = bs__host_tree_create, .tree_may_delete = bs__host_tree_may_delete,         \
  .tree_delete = bs__host_tree_delete, .tree_list = bs__host_tree_list,                     \
  .registry_open = bs__host_registry_open, .registry_save = bs__host_registry_save,         \
  .registry_close = bs__host_registry_close, .tree_revive = bs__host_tree_revive,        \
  .symlink = bs__host_symlink, .readlink = bs__host_readlink, .link = bs__host_link,      \
  .whiteout = bs__host_whiteout, .tree_freeze = bs__host_tree_freeze

#endif
