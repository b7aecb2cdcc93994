/* OS call wrappers with libfiu fault points (see sys.h). */
#include "real/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#ifdef __linux__
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <xfs/xfs.h>
#endif

#ifdef FIU_ENABLE
#include <fiu.h>
#else
#define fiu_fail(name) 0
#define fiu_failinfo() NULL
#endif

int bs__sys_fault(const char *point) {
  (void)point;
  if (!fiu_fail(point))
    return 0;
  intptr_t e = (intptr_t)fiu_failinfo();
  errno = e > 0 ? (int)e : EIO;
  return 1;
}

/* Fail with the fault's errno before calling the OS. */
#define FAULT(point, failed)                                                                \
  do {                                                                                      \
    if (bs__sys_fault(point))                                                               \
      return failed;                                                                        \
  } while (0)

int bs__sys_open(const char *path, int flags, mode_t mode) {
  FAULT("bs/real/open", -1);
  return open(path, flags | O_CLOEXEC, mode);
}

int bs__sys_openat(int dirfd, const char *name, int flags, mode_t mode) {
  FAULT("bs/real/open", -1);
  return openat(dirfd, name, flags | O_CLOEXEC, mode);
}

int bs__sys_fstat(int fd, struct stat *sb) {
  FAULT("bs/real/stat", -1);
  return fstat(fd, sb);
}

int bs__sys_fstatat(int dirfd, const char *name, struct stat *sb, int flags) {
  FAULT("bs/real/stat", -1);
  return fstatat(dirfd, name, sb, flags);
}

ssize_t bs__sys_pread(int fd, void *buf, size_t len, off_t off) {
  FAULT("bs/real/read", -1);
  return pread(fd, buf, len, off);
}

ssize_t bs__sys_pwrite(int fd, const void *buf, size_t len, off_t off) {
  FAULT("bs/real/write", -1);
  return pwrite(fd, buf, len, off);
}

int bs__sys_ftruncate(int fd, off_t size) {
  FAULT("bs/real/truncate", -1);
  return ftruncate(fd, size);
}

int bs__sys_fsync(int fd) {
  FAULT("bs/real/fsync", -1);
  return fsync(fd);
}

int bs__sys_flock(int fd, int op) {
  FAULT("bs/real/lock", -1);
  return flock(fd, op);
}

int bs__sys_statvfs(const char *path, struct statvfs *out) {
  FAULT("bs/real/statfs", -1);
  return statvfs(path, out);
}

int bs__sys_mkdir(const char *path, mode_t mode) {
  FAULT("bs/real/mkdir", -1);
  return mkdir(path, mode);
}

int bs__sys_mkdirat(int dirfd, const char *name, mode_t mode) {
  FAULT("bs/real/mkdir", -1);
  return mkdirat(dirfd, name, mode);
}

int bs__sys_unlink(const char *path) {
  FAULT("bs/real/unlink", -1);
  return unlink(path);
}

int bs__sys_unlinkat(int dirfd, const char *name, int flags) {
  FAULT("bs/real/unlink", -1);
  return unlinkat(dirfd, name, flags);
}

int bs__sys_rmdir(const char *path) {
  FAULT("bs/real/unlink", -1);
  return rmdir(path);
}

int bs__sys_rename(const char *from, const char *to) {
  FAULT("bs/real/rename", -1);
  return rename(from, to);
}

int bs__sys_renameat(int fromdir, const char *from, int todir, const char *to) {
  FAULT("bs/real/rename", -1);
  return renameat(fromdir, from, todir, to);
}

int bs__sys_fchmod(int fd, mode_t mode) {
  FAULT("bs/real/chmod", -1);
  return fchmod(fd, mode);
}

int bs__sys_fchown(int fd, uid_t uid, gid_t gid) {
  FAULT("bs/real/chown", -1);
  return fchown(fd, uid, gid);
}

int bs__sys_lchown(const char *path, uid_t uid, gid_t gid) {
  FAULT("bs/real/chown", -1);
  return lchown(path, uid, gid);
}

int bs__sys_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid, int flags) {
  FAULT("bs/real/chown", -1);
  return fchownat(dirfd, name, uid, gid, flags);
}

int bs__sys_fchmodat(int dirfd, const char *name, mode_t mode, int flags) {
  FAULT("bs/real/chmod", -1);
  return fchmodat(dirfd, name, mode, flags);
}

int bs__sys_futimens(int fd, const struct timespec ts[2]) {
  FAULT("bs/real/utimens", -1);
  return futimens(fd, ts);
}

int bs__sys_utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags) {
  FAULT("bs/real/utimens", -1);
  return utimensat(dirfd, path, ts, flags);
}

int bs__sys_symlinkat(const char *target, int dirfd, const char *name) {
  FAULT("bs/real/symlink", -1);
  return symlinkat(target, dirfd, name);
}

ssize_t bs__sys_readlinkat(int dirfd, const char *name, char *buf, size_t cap) {
  FAULT("bs/real/symlink", -1);
  return readlinkat(dirfd, name, buf, cap);
}

int bs__sys_mknodat(int dirfd, const char *name, mode_t mode, dev_t dev) {
  FAULT("bs/real/mknod", -1);
  return mknodat(dirfd, name, mode, dev);
}

/* macOS spells the xattr calls with a position and an options word. */
#ifdef __APPLE__
#define LX_SET(p, n, v, l) setxattr(p, n, v, l, 0, XATTR_NOFOLLOW)
#define LX_GET(p, n, b, c) getxattr(p, n, b, c, 0, XATTR_NOFOLLOW)
#define LX_REMOVE(p, n) removexattr(p, n, XATTR_NOFOLLOW)
#define LX_LIST(p, b, c) listxattr(p, b, c, XATTR_NOFOLLOW)
#define F_SET(fd, n, v, l) fsetxattr(fd, n, v, l, 0, 0)
#define F_GET(fd, n, b, c) fgetxattr(fd, n, b, c, 0, 0)
#define F_LIST(fd, b, c) flistxattr(fd, b, c, 0)
#define F_REMOVE(fd, n) fremovexattr(fd, n, 0)
#else
#define LX_SET(p, n, v, l) lsetxattr(p, n, v, l, 0)
#define LX_GET(p, n, b, c) lgetxattr(p, n, b, c)
#define LX_REMOVE(p, n) lremovexattr(p, n)
#define LX_LIST(p, b, c) llistxattr(p, b, c)
#define F_SET(fd, n, v, l) fsetxattr(fd, n, v, l, 0)
#define F_GET(fd, n, b, c) fgetxattr(fd, n, b, c)
#define F_LIST(fd, b, c) flistxattr(fd, b, c)
#define F_REMOVE(fd, n) fremovexattr(fd, n)
#endif

int bs__sys_lsetxattr(const char *path, const char *name, const void *val, size_t len) {
  FAULT("bs/real/setxattr", -1);
  return LX_SET(path, name, val, len);
}

ssize_t bs__sys_lgetxattr(const char *path, const char *name, void *buf, size_t cap) {
  FAULT("bs/real/getxattr", -1);
  return LX_GET(path, name, buf, cap);
}

int bs__sys_lremovexattr(const char *path, const char *name) {
  FAULT("bs/real/setxattr", -1);
  return LX_REMOVE(path, name);
}

ssize_t bs__sys_llistxattr(const char *path, char *buf, size_t cap) {
  FAULT("bs/real/getxattr", -1);
  return LX_LIST(path, buf, cap);
}

int bs__sys_fremovexattr(int fd, const char *name) {
  FAULT("bs/real/setxattr", -1);
  return F_REMOVE(fd, name);
}

int bs__sys_fsetxattr(int fd, const char *name, const void *val, size_t len) {
  FAULT("bs/real/setxattr", -1);
  return F_SET(fd, name, val, len);
}

ssize_t bs__sys_fgetxattr(int fd, const char *name, void *buf, size_t cap) {
  FAULT("bs/real/getxattr", -1);
  return F_GET(fd, name, buf, cap);
}

ssize_t bs__sys_flistxattr(int fd, char *buf, size_t cap) {
  FAULT("bs/real/getxattr", -1);
  return F_LIST(fd, buf, cap);
}

/* Size, allocate, fetch; retry while the attribute grows under us (ERANGE). */
#define FETCH_ALL(call_size, call_fill, outp, lenp)                                         \
  do {                                                                                      \
    for (int tries_ = 0; tries_ < 8; tries_++) {                                            \
      ssize_t n_ = (call_size);                                                             \
      if (n_ < 0)                                                                           \
        return -errno;                                                                      \
      char *buf = malloc((size_t)n_ + 1);                                                   \
      if (!buf)                                                                             \
        return -ENOMEM;                                                                     \
      ssize_t m_ = (call_fill);                                                             \
      if (m_ >= 0) {                                                                        \
        *(outp) = buf;                                                                      \
        *(lenp) = (size_t)m_;                                                               \
        return 0;                                                                           \
      }                                                                                     \
      int e_ = errno;                                                                       \
      free(buf);                                                                            \
      if (e_ != ERANGE)                                                                     \
        return -e_;                                                                         \
    }                                                                                       \
    return -ERANGE;                                                                         \
  } while (0)

int bs__sys_flist_all(int fd, char **names, size_t *len) {
  FETCH_ALL(bs__sys_flistxattr(fd, NULL, 0), bs__sys_flistxattr(fd, buf, (size_t)n_ + 1), names,
            len);
}

int bs__sys_fget_all(int fd, const char *name, char **val, size_t *len) {
  FETCH_ALL(bs__sys_fgetxattr(fd, name, NULL, 0), bs__sys_fgetxattr(fd, name, buf, (size_t)n_ + 1),
            val, len);
}

#ifdef __linux__
int bs__sys_openat2(int dirfd, const char *path, struct open_how *how, size_t size) {
  FAULT("bs/real/open", -1);
  return (int)syscall(SYS_openat2, dirfd, path, how, size);
}

int bs__sys_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out) {
  FAULT("bs/real/stat", -1);
  return statx(dirfd, path, flags, mask, out);
}

int bs__sys_fstatfs_type(int fd, long *type) {
  FAULT("bs/real/statfs", -1);
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0)
    return -1;
  *type = (long)sf.f_type;
  return 0;
}

int bs__sys_getflags(int fd, int *flags) {
  FAULT("bs/real/setflags", -1);
  return ioctl(fd, FS_IOC_GETFLAGS, flags);
}

int bs__sys_setflags(int fd, int flags) {
  FAULT("bs/real/setflags", -1);
  return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

int bs__sys_syncfs(int fd) {
  FAULT("bs/real/fsync", -1);
  return syncfs(fd);
}

int bs__sys_btrfs_sync(int fd) {
  FAULT("bs/real/fsync", -1);
  return ioctl(fd, BTRFS_IOC_SYNC, NULL);
}

int bs__sys_xfs_gc_flush(int fd) {
  FAULT("bs/real/fsync", -1);
  struct xfs_fs_eofblocks eofb;
  memset(&eofb, 0, sizeof(eofb));
  eofb.eof_version = XFS_EOFBLOCKS_VERSION;
  return ioctl(fd, XFS_IOC_FREE_EOFBLOCKS, &eofb);
}

/* The name of a subvolume argument; ENAMETOOLONG rather than truncated. */
static int vol_args_name(struct btrfs_ioctl_vol_args_v2 *a, const char *name) {
  memset(a, 0, sizeof(*a));
  size_t n = strlen(name);
  if (n > BTRFS_SUBVOL_NAME_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(a->name, name, n + 1);
  return 0;
}

int bs__sys_subvol_create(int dirfd, const char *name) {
  FAULT("bs/real/subvol_create", -1);
  struct btrfs_ioctl_vol_args_v2 a;
  if (vol_args_name(&a, name) != 0)
    return -1;
  return ioctl(dirfd, BTRFS_IOC_SUBVOL_CREATE_V2, &a);
}

int bs__sys_snap_create(int dirfd, const char *name, int srcfd, int readonly) {
  FAULT("bs/real/snap_create", -1);
  struct btrfs_ioctl_vol_args_v2 a;
  if (vol_args_name(&a, name) != 0)
    return -1;
  a.fd = srcfd;
  a.flags = readonly ? BTRFS_SUBVOL_RDONLY : 0;
  return ioctl(dirfd, BTRFS_IOC_SNAP_CREATE_V2, &a);
}

int bs__sys_snap_destroy(int dirfd, const char *name) {
  FAULT("bs/real/snap_destroy", -1);
  struct btrfs_ioctl_vol_args_v2 a;
  if (vol_args_name(&a, name) != 0)
    return -1;
  return ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY_V2, &a);
}

int bs__sys_subvol_info(int fd, uint64_t *id, uint8_t uuid[16]) {
  FAULT("bs/real/subvol_info", -1);
  struct btrfs_ioctl_get_subvol_info_args a;
  memset(&a, 0, sizeof(a));
  /* Some kernels (6.18 here) return 1, left over from an inexact tree
   * search, after filling @a: only a negative result is a failure. */
  if (ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, &a) < 0)
    return -1;
  *id = a.treeid;
  if (uuid)
    memcpy(uuid, a.uuid, 16);
  return 0;
}

int bs__sys_root_tree_has(int fd, uint64_t id, unsigned type, int *found) {
  FAULT("bs/real/tree_search", -1);
  struct btrfs_ioctl_search_args a;
  memset(&a, 0, sizeof(a));
  a.key.tree_id = BTRFS_ROOT_TREE_OBJECTID;
  a.key.min_objectid = a.key.max_objectid = id;
  a.key.min_type = a.key.max_type = type;
  a.key.max_offset = UINT64_MAX;
  a.key.max_transid = UINT64_MAX;
  a.key.nr_items = 1;
  if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &a) != 0)
    return -1;
  *found = a.key.nr_items > 0;
  return 0;
}
#endif
