/* The macOS platform operations of the real backend (see darwin.h), in
 * portable C: every macOS call goes through a bs_darwin_sys table, so the
 * same code runs on macOS (darwin_libc.c) and in the Linux tests (a fake
 * backed by the sim's apfs and hfs profiles).
 *
 * Capabilities.  The type comes from statfs's f_fstypename; the booleans from
 * getattrlist(ATTR_VOL_CAPABILITIES): native_reflink is VOL_CAP_INT_CLONE,
 * native_snapshots VOL_CAP_INT_SNAPSHOT, xattrs VOL_CAP_INT_EXTENDED_ATTR,
 * case_sensitive VOL_CAP_FMT_CASE_SENSITIVE.  A capability is reported true
 * only when its bit is set in both `capabilities` and `valid`: a clear valid
 * bit means the filesystem does not know the feature (HFS+ leaves CLONE and
 * SNAPSHOT out of valid), and promising what a volume may not do is worse
 * than under-promising (case_sensitive false is the careful answer too: do
 * not rely on names that differ only in case).  max_name_len is pathconf's
 * _PC_NAME_MAX (255 when it reports no limit, at most 65535).  fs_type_name
 * is the table name of the type, or the volume's own f_fstypename for a type
 * outside the table ("msdos"), or "other" if that name cannot go on the wire.
 * On real APFS and HFS+ this gives exactly the DESIGN §4 rows.
 *
 * Clone.  bs_reflink's contract on top of clonefile(2): the source must be a
 * regular file (clonefile would clone a directory tree or, with
 * CLONE_NOFOLLOW, a symlink: both are EINVAL here), the destination must not
 * exist (EEXIST).  clonefile is called with CLONE_NOFOLLOW only, so a caller
 * running as root keeps the source's owner (as bs_reflink promises) and any
 * other caller gets a clone it owns, with set-user/group-ID bits cleared
 * (clonefile(2)).  ENOTSUP becomes EOPNOTSUPP (UNSUPPORTED; host.c names the
 * filesystem in the message); EXDEV, ENOSPC and the rest pass through
 * (CROSS_DEVICE, NO_SPACE, ...).  All or nothing: if clonefile fails with
 * anything but EEXIST, whatever it left at the destination (which was absent
 * just before the call) is removed.  EEXIST means someone else created the
 * destination in the meantime, and that is never touched. */
#include "real/darwin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "real/darwin_os.h"

typedef bs__darwin_os darwin_os;

static const darwin_os *D(void *ctx) { return (const darwin_os *)ctx; }

/* ---- file operations: forwarded to the files table with its own ctx ----- */

#define FWD(name, params, ...)                                                              \
  static int fwd_##name params {                                                            \
    const bs_host_os *f = &D(ctx)->files;                                                   \
    return f->name(f->ctx, __VA_ARGS__);                                                    \
  }

FWD(create, (void *ctx, const bs__hpath *path, uint32_t mode), path, mode)
FWD(mkdir, (void *ctx, const bs__hpath *path, uint32_t mode), path, mode)
FWD(pwrite, (void *ctx, const bs__hpath *path, uint64_t off, const void *buf, size_t len), path, off,
    buf, len)
FWD(pread, (void *ctx, const bs__hpath *path, uint64_t off, void *buf, size_t len, size_t *nread),
    path, off, buf, len, nread)
FWD(truncate, (void *ctx, const bs__hpath *path, uint64_t size), path, size)
FWD(unlink, (void *ctx, const bs__hpath *path), path)
FWD(rmdir, (void *ctx, const bs__hpath *path), path)
FWD(rename, (void *ctx, const bs__hpath *from, const bs__hpath *to), from, to)
FWD(stat, (void *ctx, const bs__hpath *path, bs_stat_info *out), path, out)
FWD(chmod, (void *ctx, const bs__hpath *path, uint32_t mode), path, mode)
FWD(chown, (void *ctx, const bs__hpath *path, uint32_t uid, uint32_t gid), path, uid, gid)
FWD(utimens, (void *ctx, const bs__hpath *path, int64_t atime_ns, int64_t mtime_ns), path, atime_ns,
    mtime_ns)
FWD(readdir, (void *ctx, const bs__hpath *path, bs_readdir_cb cb, void *cb_ctx), path, cb, cb_ctx)
FWD(setxattr, (void *ctx, const bs__hpath *path, const char *name, const void *val, size_t len), path,
    name, val, len)
FWD(getxattr,
    (void *ctx, const bs__hpath *path, const char *name, void *buf, size_t cap, size_t *len), path,
    name, buf, cap, len)
FWD(removexattr, (void *ctx, const bs__hpath *path, const char *name), path, name)
FWD(listxattr, (void *ctx, const bs__hpath *path, bs_xattr_cb cb, void *cb_ctx), path, cb, cb_ctx)
FWD(sync, (void *ctx, const bs__hpath *path), path)
FWD(syncfs, (void *ctx, const char *root), root)
FWD(usage, (void *ctx, const char *root, bs_usage *out), root, out)
FWD(lock, (void *ctx, const bs__hpath *path, int exclusive, int *handle), path, exclusive, handle)
FWD(root_open, (void *ctx, const char *abs, bs__hroot *out), abs, out)

#undef FWD

static void fwd_unlock(void *ctx, int handle) {
  const bs_host_os *f = &D(ctx)->files;
  f->unlock(f->ctx, handle);
}

static void fwd_root_close(void *ctx, bs__hroot *root) {
  const bs_host_os *f = &D(ctx)->files;
  f->root_close(f->ctx, root);
}

/* ---- platform operations ------------------------------------------------ */

bs_fs_type bs__darwin_type_from_name(const char *fstypename) {
  if (!fstypename)
    return BS_FS_OTHER;
  if (strcmp(fstypename, "apfs") == 0)
    return BS_FS_APFS;
  if (strcmp(fstypename, "hfs") == 0)
    return BS_FS_HFS;
  return bs_fs_type_from_name(fstypename);
}

/* statfs's type name of @path, always NUL-terminated. */
static int type_name(const darwin_os *d, const char *path, char name[BS_DARWIN_FSTYPENAME_LEN]) {
  memset(name, 0, BS_DARWIN_FSTYPENAME_LEN);
  int rc = d->sys.statfs_typename(d->sys.ctx, path, name);
  name[BS_DARWIN_FSTYPENAME_LEN - 1] = '\0';
  return rc;
}

static int darwin_fs_type(void *ctx, const char *path, bs_fs_type *out) {
  char name[BS_DARWIN_FSTYPENAME_LEN];
  int rc = type_name(D(ctx), path, name);
  if (rc != 0)
    return rc;
  *out = bs__darwin_type_from_name(name);
  return 0;
}

/* A capability the volume both knows (valid) and has. */
static bool has(const bs_darwin_volcaps *vc, int word, uint32_t bit) {
  return (vc->capabilities[word] & vc->valid[word] & bit) != 0;
}

/* A name that can go in CapabilityResponse.fs_type_name (printable ASCII). */
static bool wire_name(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (*s < 0x20 || *s > 0x7e)
      return false;
  return true;
}

void bs__darwin_caps_from(bs_caps *out, const char *fstypename, const bs_darwin_volcaps *vc) {
  bs_fs_type t = bs__darwin_type_from_name(fstypename);
  memset(out, 0, sizeof(*out));
  out->schema_version = 1;
  out->fs_type = (uint8_t)t;
  out->native_snapshots = has(vc, BS_VOL_CAPABILITIES_INTERFACES, BS_VOL_CAP_INT_SNAPSHOT);
  out->native_reflink = has(vc, BS_VOL_CAPABILITIES_INTERFACES, BS_VOL_CAP_INT_CLONE);
  out->xattrs = has(vc, BS_VOL_CAPABILITIES_INTERFACES, BS_VOL_CAP_INT_EXTENDED_ATTR);
  out->case_sensitive = has(vc, BS_VOL_CAPABILITIES_FORMAT, BS_VOL_CAP_FMT_CASE_SENSITIVE);
  if (vc->name_max == 0)
    out->max_name_len = 255;
  else
    out->max_name_len = vc->name_max > UINT16_MAX ? UINT16_MAX : (uint16_t)vc->name_max;
  const char *name = bs_fs_type_name(t);
  if (t == BS_FS_OTHER && fstypename && wire_name(fstypename))
    name = fstypename;
  /* Both kinds of name fit: table names are short, f_fstypename has 15 bytes. */
  strncpy(out->fs_type_name, name, sizeof(out->fs_type_name) - 1);
}

static int darwin_caps(void *ctx, const char *root, bs_caps *out) {
  const darwin_os *d = D(ctx);
  char name[BS_DARWIN_FSTYPENAME_LEN];
  int rc = type_name(d, root, name);
  if (rc != 0)
    return rc;
  bs_darwin_volcaps vc;
  memset(&vc, 0, sizeof(vc));
  rc = d->sys.volume_caps(d->sys.ctx, root, &vc);
  if (rc != 0)
    return rc;
  bs__darwin_caps_from(out, name, &vc);
  return 0;
}

static int darwin_clone(void *ctx, const bs__hpath *src, const bs__hpath *dst) {
  ((darwin_os *)ctx)->detail[0] = '\0';
  const darwin_os *d = D(ctx);
  const bs_host_os *f = &d->files;
  bs_stat_info si;
  int rc = f->stat(f->ctx, src, &si);
  if (rc != 0)
    return rc;
  if (si.kind != BS_KIND_FILE)
    return -EINVAL;
  rc = f->stat(f->ctx, dst, &si);
  if (rc == 0)
    return -EEXIST;
  if (rc != -ENOENT)
    return rc;
  rc = d->sys.clonefile(d->sys.ctx, src->abs, dst->abs, BS_CLONE_NOFOLLOW);
  if (rc == 0)
    return 0;
  /* dst was absent a moment ago and clonefile did not find it there: what
   * is there now is its partial clone. */
  if (rc != -EEXIST && f->stat(f->ctx, dst, &si) == 0)
    (void)f->unlink(f->ctx, dst);
  if (rc == -ENOTSUP)
    rc = -EOPNOTSUPP;
  return rc;
}

/* ---- the table ---------------------------------------------------------- */

static const char *darwin_last_detail(void *ctx) { return D(ctx)->detail; }

static void darwin_release(void *ctx) {
  darwin_os *d = ctx;
  if (d->files.release)
    d->files.release(d->files.ctx);
  free(d);
}

int bs__darwin_make_os(const bs_host_os **out, const bs_darwin_sys *sys, const bs_host_os *files) {
  if (!out)
    return BS_EINVALID;
  *out = NULL;
  if (!sys || !files || !sys->statfs_typename || !sys->volume_caps || !sys->clonefile ||
      !files->create || !files->mkdir || !files->pwrite || !files->pread || !files->truncate ||
      !files->unlink || !files->rmdir || !files->rename || !files->stat || !files->chmod ||
      !files->chown || !files->utimens || !files->readdir || !files->setxattr ||
      !files->getxattr || !files->removexattr || !files->listxattr || !files->sync ||
      !files->syncfs || !files->usage || !files->lock != !files->unlock ||
      !files->root_open != !files->root_close)
    return BS_EINVALID;
  /* The snapshot members come all together or not at all. */
  bool snaps = bs__darwin_sys_has_snapshots(sys);
  if (!snaps && (sys->mount_info || sys->fs_snapshot_create || sys->fs_snapshot_delete ||
                 sys->fs_snapshot_list || sys->fs_snapshot_mount || sys->unmount || sys->run_tool ||
                 sys->random))
    return BS_EINVALID;
  darwin_os *d = calloc(1, sizeof(*d));
  if (!d)
    return BS_ENO_MEMORY;
  d->sys = *sys;
  d->files = *files;
  d->os = (bs_host_os){
    .name = files->name ? files->name : "darwin",
    .ctx = d,
    .create = fwd_create,
    .mkdir = fwd_mkdir,
    .pwrite = fwd_pwrite,
    .pread = fwd_pread,
    .truncate = fwd_truncate,
    .unlink = fwd_unlink,
    .rmdir = fwd_rmdir,
    .rename = fwd_rename,
    .stat = fwd_stat,
    .chmod = fwd_chmod,
    .chown = fwd_chown,
    .utimens = fwd_utimens,
    .readdir = fwd_readdir,
    .setxattr = fwd_setxattr,
    .getxattr = fwd_getxattr,
    .removexattr = fwd_removexattr,
    .listxattr = fwd_listxattr,
    .sync = fwd_sync,
    .syncfs = fwd_syncfs,
    .usage = fwd_usage,
    .fs_type = darwin_fs_type,
    .caps = darwin_caps,
    .clone = darwin_clone,
    .release = darwin_release,
    .last_detail = darwin_last_detail,
  };
  if (files->lock) {
    d->os.lock = fwd_lock;
    d->os.unlock = fwd_unlock;
  }
  if (files->root_open) {
    d->os.root_open = fwd_root_open;
    d->os.root_close = fwd_root_close;
  }
  /* Branches and copied snapshots need only clonefile and the files; native
   * snapshots check for the fs_snapshot calls themselves. */
  d->os.make_root = bs__darwin_make_root;
  d->os.reserve = bs__darwin_reserve;
  d->os.snap_create = bs__darwin_snap_create;
  d->os.branch_create = bs__darwin_branch_create;
  d->os.tree_delete = bs__darwin_tree_delete;
  *out = &d->os;
  return BS_OK;
}

const bs_darwin_sys *bs__darwin_sys(const bs_host_os *os) {
  return os && os->release == darwin_release ? &D(os->ctx)->sys : NULL;
}
