/* OS call wrappers with libfiu fault points (see sys.h). */
#include "real/sys.h"

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>

#include "real/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <xfs/xfs.h>
#endif

#ifdef FIU_ENABLE
#include <fiu.h>
#else
#define fiu_fail(name) 0
#define fiu_failinfo() NULL
#endif

/* Open cleanup scopes of this thread (bs__sys_cleanup_begin). */
static _Thread_local unsigned cleanup_depth;

void bs__sys_cleanup_begin(void) { cleanup_depth++; }

void bs__sys_cleanup_end(void) { cleanup_depth--; }

int bs__sys_fault(const char *point) {
  if (cleanup_depth > 0)
    point = "bs/real/cleanup";
  (void)point;
  if (!fiu_fail(point))
    return 0;
  intptr_t e = (intptr_t)fiu_failinfo();
  errno = e > 0 ? (int)e : EIO;
  return 1;
}

int bs__sys_open(const char *path, int flags, mode_t mode) {
  if (bs__sys_fault("bs/real/open"))
    return -1;
  return open(path, flags | O_CLOEXEC, mode);
}

int bs__sys_openat(int dirfd, const char *name, int flags, mode_t mode) {
  if (bs__sys_fault("bs/real/open"))
    return -1;
  return openat(dirfd, name, flags | O_CLOEXEC, mode);
}

int bs__sys_fstat(int fd, struct stat *sb) {
  if (bs__sys_fault("bs/real/stat"))
    return -1;
  return fstat(fd, sb);
}

int bs__sys_fstatat(int dirfd, const char *name, struct stat *sb, int flags) {
  if (bs__sys_fault("bs/real/stat"))
    return -1;
  return fstatat(dirfd, name, sb, flags);
}

int bs__sys_faccessat(int dirfd, const char *name, int mode, int flags) {
  if (bs__sys_fault("bs/real/access"))
    return -1;
  return faccessat(dirfd, name, mode, flags);
}

char *bs__sys_realpath(const char *path) {
  if (bs__sys_fault("bs/real/stat"))
    return NULL;
  return realpath(path, NULL);
}

DIR *bs__sys_fdopendir(int fd) {
  if (bs__sys_fault("bs/real/readdir"))
    return NULL;
  return fdopendir(fd);
}

struct dirent *bs__sys_readdir(DIR *d) {
  if (bs__sys_fault("bs/real/readdir"))
    return NULL;
  return readdir(d);
}

ssize_t bs__sys_pread(int fd, void *buf, size_t len, off_t off) {
  if (bs__sys_fault("bs/real/read"))
    return -1;
  return pread(fd, buf, len, off);
}

ssize_t bs__sys_pwrite(int fd, const void *buf, size_t len, off_t off) {
  if (bs__sys_fault("bs/real/write"))
    return -1;
  return pwrite(fd, buf, len, off);
}

int bs__sys_ftruncate(int fd, off_t size) {
  if (bs__sys_fault("bs/real/truncate"))
    return -1;
  return ftruncate(fd, size);
}

int bs__sys_fsync(int fd) {
  if (bs__sys_fault("bs/real/fsync"))
    return -1;
  return fsync(fd);
}

int bs__sys_syncfs(int fd) {
  if (bs__sys_fault("bs/real/fsync"))
    return -1;
#ifdef __linux__
  return syncfs(fd);
#else
  /* No syncfs(2): the directory itself, then everything (sync(2) may
   * return before the writes are done, but starts them all). */
  if (fsync(fd) != 0)
    return -1;
  sync();
  return 0;
#endif
}

int bs__sys_flock(int fd, int op) {
  if (bs__sys_fault("bs/real/lock"))
    return -1;
  return flock(fd, op);
}

int bs__sys_statvfs(const char *path, struct statvfs *out) {
  if (bs__sys_fault("bs/real/statfs"))
    return -1;
  return statvfs(path, out);
}

int bs__sys_mkdir(const char *path, mode_t mode) {
  if (bs__sys_fault("bs/real/mkdir"))
    return -1;
  return mkdir(path, mode);
}

int bs__sys_mkdirat(int dirfd, const char *name, mode_t mode) {
  if (bs__sys_fault("bs/real/mkdir"))
    return -1;
  return mkdirat(dirfd, name, mode);
}

int bs__sys_unlink(const char *path) {
  if (bs__sys_fault("bs/real/unlink"))
    return -1;
  return unlink(path);
}

int bs__sys_unlinkat(int dirfd, const char *name, int flags) {
  if (bs__sys_fault("bs/real/unlink"))
    return -1;
  return unlinkat(dirfd, name, flags);
}

int bs__sys_rmdir(const char *path) {
  if (bs__sys_fault("bs/real/unlink"))
    return -1;
  return rmdir(path);
}

int bs__sys_rename(const char *from, const char *to) {
  if (bs__sys_fault("bs/real/rename"))
    return -1;
  return rename(from, to);
}

int bs__sys_renameat(int fromdir, const char *from, int todir, const char *to) {
  if (bs__sys_fault("bs/real/rename"))
    return -1;
  return renameat(fromdir, from, todir, to);
}

int bs__sys_fchmod(int fd, mode_t mode) {
  if (bs__sys_fault("bs/real/chmod"))
    return -1;
  return fchmod(fd, mode);
}

int bs__sys_fchown(int fd, uid_t uid, gid_t gid) {
  if (bs__sys_fault("bs/real/chown"))
    return -1;
  return fchown(fd, uid, gid);
}

int bs__sys_lchown(const char *path, uid_t uid, gid_t gid) {
  if (bs__sys_fault("bs/real/chown"))
    return -1;
  return lchown(path, uid, gid);
}

int bs__sys_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid, int flags) {
  if (bs__sys_fault("bs/real/chown"))
    return -1;
  return fchownat(dirfd, name, uid, gid, flags);
}

int bs__sys_fchmodat(int dirfd, const char *name, mode_t mode, int flags) {
  if (bs__sys_fault("bs/real/chmod"))
    return -1;
  return fchmodat(dirfd, name, mode, flags);
}

int bs__sys_futimens(int fd, const struct timespec ts[2]) {
  if (bs__sys_fault("bs/real/utimens"))
    return -1;
  return futimens(fd, ts);
}

int bs__sys_utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags) {
  if (bs__sys_fault("bs/real/utimens"))
    return -1;
  return utimensat(dirfd, path, ts, flags);
}

int bs__sys_symlinkat(const char *target, int dirfd, const char *name) {
  if (bs__sys_fault("bs/real/symlink"))
    return -1;
  return symlinkat(target, dirfd, name);
}

ssize_t bs__sys_readlinkat(int dirfd, const char *name, char *buf, size_t cap) {
  if (bs__sys_fault("bs/real/symlink"))
    return -1;
  return readlinkat(dirfd, name, buf, cap);
}

int bs__sys_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname, int flags) {
  if (bs__sys_fault("bs/real/symlink"))
    return -1;
  return linkat(olddirfd, oldname, newdirfd, newname, flags);
}

int bs__sys_mknodat(int dirfd, const char *name, mode_t mode, dev_t dev) {
  if (bs__sys_fault("bs/real/mknod"))
    return -1;
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
  if (bs__sys_fault("bs/real/setxattr"))
    return -1;
  return LX_SET(path, name, val, len);
}

ssize_t bs__sys_lgetxattr(const char *path, const char *name, void *buf, size_t cap) {
  if (bs__sys_fault("bs/real/getxattr"))
    return -1;
  return LX_GET(path, name, buf, cap);
}

int bs__sys_lremovexattr(const char *path, const char *name) {
  if (bs__sys_fault("bs/real/setxattr"))
    return -1;
  return LX_REMOVE(path, name);
}

ssize_t bs__sys_llistxattr(const char *path, char *buf, size_t cap) {
  if (bs__sys_fault("bs/real/getxattr"))
    return -1;
  return LX_LIST(path, buf, cap);
}

int bs__sys_fremovexattr(int fd, const char *name) {
  if (bs__sys_fault("bs/real/setxattr"))
    return -1;
  return F_REMOVE(fd, name);
}

int bs__sys_fsetxattr(int fd, const char *name, const void *val, size_t len) {
  if (bs__sys_fault("bs/real/setxattr"))
    return -1;
  return F_SET(fd, name, val, len);
}

ssize_t bs__sys_fgetxattr(int fd, const char *name, void *buf, size_t cap) {
  if (bs__sys_fault("bs/real/getxattr"))
    return -1;
  return F_GET(fd, name, buf, cap);
}

ssize_t bs__sys_flistxattr(int fd, char *buf, size_t cap) {
  if (bs__sys_fault("bs/real/getxattr"))
    return -1;
  return F_LIST(fd, buf, cap);
}

/* The attribute list of @fd (@name NULL) or the value of its attribute
 * @name, malloc'd.  Size, allocate, fetch; again while it grows under us
 * (ERANGE). */
static int fetch_all(int fd, const char *name, char **out, size_t *len) {
  for (int tries = 0; tries < 8; tries++) {
    ssize_t n = name ? bs__sys_fgetxattr(fd, name, NULL, 0) : bs__sys_flistxattr(fd, NULL, 0);
    if (n < 0)
      return -errno;
    char *buf = malloc((size_t)n + 1);
    if (!buf)
      return -ENOMEM;
    ssize_t m = name ? bs__sys_fgetxattr(fd, name, buf, (size_t)n + 1) : bs__sys_flistxattr(fd, buf, (size_t)n + 1);
    if (m >= 0) {
      *out = buf;
      *len = (size_t)m;
      return 0;
    }
    int e = errno;
    free(buf);
    if (e != ERANGE)
      return -e;
  }
  return -ERANGE;
}

int bs__sys_flist_all(int fd, char **names, size_t *len) { return fetch_all(fd, NULL, names, len); }

int bs__sys_fget_all(int fd, const char *name, char **val, size_t *len) { return fetch_all(fd, name, val, len); }

#ifdef __linux__
int bs__sys_openat2(int dirfd, const char *path, struct open_how *how, size_t size) {
  if (bs__sys_fault("bs/real/open"))
    return -1;
  return (int)syscall(SYS_openat2, dirfd, path, how, size);
}

int bs__sys_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out) {
  if (bs__sys_fault("bs/real/stat"))
    return -1;
  return statx(dirfd, path, flags, mask, out);
}

int bs__sys_statfs(const char *path, struct statfs *out) {
  if (bs__sys_fault("bs/real/statfs"))
    return -1;
  return statfs(path, out);
}

int bs__sys_ficlone(int dfd, int sfd) {
  if (bs__sys_fault("bs/real/ficlone"))
    return -1;
  return ioctl(dfd, FICLONE, sfd);
}

int bs__sys_xfs_reflink(int fd, int *reflink) {
  if (bs__sys_fault("bs/real/statfs"))
    return -1;
  struct xfs_fsop_geom_v1 g;
  memset(&g, 0, sizeof(g));
  if (ioctl(fd, XFS_IOC_FSGEOMETRY_V1, &g) != 0)
    return -1;
  *reflink = (g.flags & XFS_FSOP_GEOM_FLAGS_REFLINK) != 0;
  return 0;
}

int bs__sys_fstatfs_type(int fd, long *type) {
  if (bs__sys_fault("bs/real/statfs"))
    return -1;
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0)
    return -1;
  *type = (long)sf.f_type;
  return 0;
}

int bs__sys_getflags(int fd, int *flags) {
  if (bs__sys_fault("bs/real/setflags"))
    return -1;
  return ioctl(fd, FS_IOC_GETFLAGS, flags);
}

int bs__sys_setflags(int fd, int flags) {
  if (bs__sys_fault("bs/real/setflags"))
    return -1;
  return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

int bs__sys_btrfs_sync(int fd) {
  if (bs__sys_fault("bs/real/fsync"))
    return -1;
  return ioctl(fd, BTRFS_IOC_SYNC, NULL);
}

int bs__sys_xfs_gc_flush(int fd) {
  if (bs__sys_fault("bs/real/fsync"))
    return -1;
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
  if (bs__sys_fault("bs/real/subvol_create"))
    return -1;
  struct btrfs_ioctl_vol_args_v2 a;
  if (vol_args_name(&a, name) != 0)
    return -1;
  return ioctl(dirfd, BTRFS_IOC_SUBVOL_CREATE_V2, &a);
}

int bs__sys_snap_create(int dirfd, const char *name, int srcfd, int readonly) {
  if (bs__sys_fault("bs/real/snap_create"))
    return -1;
  struct btrfs_ioctl_vol_args_v2 a;
  if (vol_args_name(&a, name) != 0)
    return -1;
  a.fd = srcfd;
  a.flags = readonly ? BTRFS_SUBVOL_RDONLY : 0;
  return ioctl(dirfd, BTRFS_IOC_SNAP_CREATE_V2, &a);
}

int bs__sys_snap_destroy(int dirfd, const char *name) {
  if (bs__sys_fault("bs/real/snap_destroy"))
    return -1;
  struct btrfs_ioctl_vol_args_v2 a;
  if (vol_args_name(&a, name) != 0)
    return -1;
  return ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY_V2, &a);
}

int bs__sys_subvol_info(int fd, uint64_t *id, uint8_t uuid[16]) {
  if (bs__sys_fault("bs/real/subvol_info"))
    return -1;
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
  if (bs__sys_fault("bs/real/tree_search"))
    return -1;
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

int bs__sys_subvol_getflags(int fd, uint64_t *flags) {
  if (bs__sys_fault("bs/real/setflags"))
    return -1;
  return ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, flags);
}

int bs__sys_subvol_setflags(int fd, uint64_t flags) {
  if (bs__sys_fault("bs/real/setflags"))
    return -1;
  return ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags);
}

/* The superblock options of mountinfo line @line if its mount id is @id:
 * "ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - TYPE SOURCE SUPEROPTS". */
static bool super_options(const char *line, uint64_t id, char *buf, size_t cap) {
  char *end;
  if (strtoull(line, &end, 10) != id || *end != ' ')
    return false;
  const char *sep = strstr(line, " - ");
  const char *p = sep ? sep + 3 : NULL;
  for (int field = 0; p && field < 2; field++) { /* TYPE, SOURCE (spaces in it are \040) */
    p = strchr(p, ' ');
    p = p ? p + 1 : NULL;
  }
  if (!p)
    return false;
  size_t n = strcspn(p, " \n");
  if (n >= cap)
    n = cap - 1;
  memcpy(buf, p, n);
  buf[n] = '\0';
  return true;
}

int bs__sys_mount_options(int fd, char *buf, size_t cap) {
  if (bs__sys_fault("bs/real/statfs"))
    return -1;
  struct statx sx;
  if (cap == 0) {
    errno = EINVAL;
    return -1;
  }
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) != 0)
    return -1;
  if (!(sx.stx_mask & STATX_MNT_ID)) { /* before Linux 5.8 */
    errno = EOPNOTSUPP;
    return -1;
  }
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return -1;
  char *line = NULL;
  size_t len = 0;
  bool found = false;
  while (!found && getline(&line, &len, f) >= 0)
    found = super_options(line, sx.stx_mnt_id, buf, cap);
  free(line);
  fclose(f);
  if (!found)
    errno = ENOENT;
  return found ? 0 : -1;
}

int bs__sys_has_cap(int cap) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
  memset(d, 0, sizeof(d));
  if (syscall(SYS_capget, &h, d) != 0)
    return 0;
  return (d[cap / 32].effective >> (cap % 32)) & 1u;
}
#endif

#ifdef __linux__
/* ---- RAM disks: memory, loop devices, mounts ---------------------------------------- */

int bs__sys_memfd(const char *name) {
  if (bs__sys_fault("bs/real/memfd"))
    return -1;
  return memfd_create(name, MFD_CLOEXEC);
}

int bs__sys_loop_get_free(int ctl) {
  if (bs__sys_fault("bs/real/loop"))
    return -1;
  return ioctl(ctl, LOOP_CTL_GET_FREE);
}

int bs__sys_loop_attach(int dev, int backing, const char *name) {
  if (bs__sys_fault("bs/real/loop"))
    return -1;
#ifdef LOOP_CONFIGURE
  struct loop_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.fd = (uint32_t)backing;
  cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
  snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", name);
  if (ioctl(dev, LOOP_CONFIGURE, &cfg) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOTTY)
    return -1;
#endif
  /* Kernels before 5.8: bind, then set autoclear. */
  if (ioctl(dev, LOOP_SET_FD, backing) != 0)
    return -1;
  struct loop_info64 info;
  memset(&info, 0, sizeof(info));
  info.lo_flags = LO_FLAGS_AUTOCLEAR;
  snprintf((char *)info.lo_file_name, sizeof(info.lo_file_name), "%s", name);
  if (ioctl(dev, LOOP_SET_STATUS64, &info) == 0)
    return 0;
  int e = errno;
  ioctl(dev, LOOP_CLR_FD);
  errno = e;
  return -1;
}

int bs__sys_loop_clear(int dev) {
  if (bs__sys_fault("bs/real/loop"))
    return -1;
  return ioctl(dev, LOOP_CLR_FD);
}

int bs__sys_mount(const char *src, const char *target, const char *type, unsigned long flags,
                  const char *data) {
  if (bs__sys_fault("bs/real/mount"))
    return -1;
  return mount(src, target, type, flags, data);
}

int bs__sys_umount(const char *target, int flags) {
  if (bs__sys_fault("bs/real/umount"))
    return -1;
  return umount2(target, flags);
}
#endif

/* ---- external tools -------------------------------------------------------------- */

/* What a tool may print before we stop reading (diskutil prints kilobytes). */
#define TOOL_OUTPUT_MAX (16u << 20)

typedef struct sink {
  int fd;
  char **buf;
  size_t *len, cap;
} sink;

/* Read what @s's pipe has; 1 at its end, 0 for more, -errno. */
static int drain(sink *s) {
  if (*s->len + 4096 + 1 > s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 8192;
    if (cap > TOOL_OUTPUT_MAX + 1)
      return -E2BIG;
    char *b = realloc(*s->buf, cap);
    if (!b)
      return -ENOMEM;
    *s->buf = b;
    s->cap = cap;
  }
  ssize_t n = read(s->fd, *s->buf + *s->len, s->cap - *s->len - 1);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? 0 : -errno;
  *s->len += (size_t)n;
  (*s->buf)[*s->len] = '\0';
  return n == 0;
}

int bs__sys_run_tool(const char *const argv[], bs__tool_result *out) {
  memset(out, 0, sizeof(*out));
  if (bs__sys_fault("bs/real/exec"))
    return -errno;
  int po[2] = {-1, -1}, pe[2] = {-1, -1};
  if (pipe(po) != 0 || pipe(pe) != 0) {
    int e = -errno;
    for (int i = 0; i < 2; i++) {
      if (po[i] >= 0)
        close(po[i]);
    }
    return e;
  }
  for (int i = 0; i < 2; i++) {
    fcntl(po[i], F_SETFD, FD_CLOEXEC);
    fcntl(pe[i], F_SETFD, FD_CLOEXEC);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, po[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
  /* A fixed environment: the output is parsed, so no locale of the caller's. */
  char *const envp[] = {"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", NULL};
  pid_t pid;
  int rc = -posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
  bool spawned = rc == 0;
  posix_spawn_file_actions_destroy(&fa);
  close(po[1]);
  close(pe[1]);
  sink s[2] = {{po[0], &out->out, &out->out_len, 0}, {pe[0], &out->err, &out->err_len, 0}};
  bool open_[2] = {rc == 0, rc == 0};
  while (rc == 0 && (open_[0] || open_[1])) {
    struct pollfd pf[2] = {{po[0], open_[0] ? POLLIN : 0, 0}, {pe[0], open_[1] ? POLLIN : 0, 0}};
    if (poll(pf, 2, -1) < 0) {
      rc = errno == EINTR ? 0 : -errno;
      continue;
    }
    for (int i = 0; rc == 0 && i < 2; i++) {
      if (!open_[i] || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      int r = drain(&s[i]);
      if (r < 0)
        rc = r;
      else if (r == 1)
        open_[i] = false;
    }
  }
  close(po[0]);
  close(pe[0]);
  if (spawned) { /* reap it whatever happened (closed pipes end it) */
    int ws = 0;
    pid_t w;
    while ((w = waitpid(pid, &ws, 0)) < 0 && errno == EINTR) {
    }
    if (rc == 0 && w < 0)
      rc = -errno;
    else if (rc == 0)
      out->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? -WTERMSIG(ws) : 1;
  }
  if (rc != 0)
    bs__tool_result_free(out);
  return rc;
}

