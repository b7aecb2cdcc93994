/* Thin wrappers over the OS calls of real/, each with a libfiu fault point
 * `bs/real/<op>` (DESIGN §6).  A test or a fault schedule enables a point
 * with its failinfo set to the errno to fail with (NULL: EIO); the wrapper
 * then fails the way the OS would (-1 and errno) without calling it.
 * Without libfiu (FIU_ENABLE undefined) the points compile to nothing. */
#ifndef BS_REAL_SYS_H
#define BS_REAL_SYS_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The fault-point catalogue of real/: XX(point, what failing it simulates). */
#define BS_REAL_FAULT_POINTS(XX)                                                          \
  XX("bs/real/open", "open(2) of a file or directory fails")                                \
  XX("bs/real/read", "pread(2) fails")                                                      \
  XX("bs/real/write", "pwrite(2) fails (e.g. ENOSPC, EIO)")                                 \
  XX("bs/real/truncate", "ftruncate(2) fails")                                              \
  XX("bs/real/fsync", "fsync(2) / syncfs(2) fails")                                         \
  XX("bs/real/stat", "stat(2) / fstatat(2) / statx(2) / realpath(3) of a file or directory fails") \
  XX("bs/real/access", "faccessat(2) fails (the write-access check before a tree is deleted)") \
  XX("bs/real/readdir", "fdopendir(3) / readdir(3) of a directory listing fails")           \
  XX("bs/real/mkdir", "mkdir(2) fails")                                                     \
  XX("bs/real/unlink", "unlink(2) / rmdir(2) fails")                                        \
  XX("bs/real/rename", "rename(2) fails")                                                   \
  XX("bs/real/statfs", "statfs(2) / statvfs(3) / XFS_IOC_FSGEOMETRY fail (probe, caps, usage, mount options)") \
  XX("bs/real/ficlone", "ioctl(FICLONE) fails (e.g. ENOSPC, EOPNOTSUPP, EXDEV)")            \
  XX("bs/real/clonefile", "clonefile(2) fails (macOS; e.g. ENOTSUP, EXDEV, ENOSPC)")        \
  XX("bs/real/lock", "flock(2) of the registry lock fails")                                  \
  XX("bs/real/setxattr", "setting an extended attribute fails")                             \
  XX("bs/real/getxattr", "reading or listing extended attributes fails")                    \
  XX("bs/real/chown", "fchown(2) / lchown(2) / fchownat(2) fails")                           \
  XX("bs/real/chmod", "fchmod(2) / fchmodat(2) fails")                                      \
  XX("bs/real/utimens", "futimens(2) / utimensat(2) fails")                                 \
  XX("bs/real/symlink", "symlink(2), readlink(2) or linkat(2) fails")                        \
  XX("bs/real/mknod", "mknod(2) of a special file fails")                                   \
  XX("bs/real/setflags", "FS_IOC_/BTRFS_IOC_SUBVOL_ GETFLAGS/SETFLAGS fail (immutable, read-only)") \
  XX("bs/real/subvol_create", "BTRFS_IOC_SUBVOL_CREATE_V2 fails (store root, .bs)")          \
  XX("bs/real/snap_create", "BTRFS_IOC_SNAP_CREATE_V2 fails (btrfs snapshot or branch)")     \
  XX("bs/real/subvol_info", "BTRFS_IOC_GET_SUBVOL_INFO fails (id, UUID of a subvolume)")   \
  XX("bs/real/snap_destroy", "BTRFS_IOC_SNAP_DESTROY_V2 fails (deleting a subvolume)")       \
  XX("bs/real/tree_search", "BTRFS_IOC_TREE_SEARCH fails (cleaner wait, nested subvolumes)") \
  XX("bs/real/exec", "an external tool (mkfs, hdiutil, diskutil) cannot be started: posix_spawn(2) fails") \
  XX("bs/real/memfd", "memfd_create(2) of a RAM disk's memory fails") \
  XX("bs/real/loop", "a loop device call fails: LOOP_CTL_GET_FREE, LOOP_CONFIGURE, LOOP_SET_FD/STATUS64, LOOP_CLR_FD") \
  XX("bs/real/mount", "mount(2) of a RAM disk fails") \
  XX("bs/real/umount", "umount2(2) of a RAM disk fails") \
  XX("bs/real/exec/diskutil", "diskutil exits with status 1 and prints nothing (macOS tool path)") \
  XX("bs/real/cleanup", "any OS call that takes back what a failed call made (a half-made file, directory or tree; a size, flag or times) fails: it is left behind")

/* True when fault point @point fires (bs/real/cleanup instead inside a
 * cleanup scope); errno is then set to its failinfo. */
int bs__sys_fault(const char *point);

/* A cleanup scope: what a failed operation runs to take back what it made
 * (unlinking a half-made file, removing a half-made tree, restoring a size
 * or a flag) goes between these two, and every wrapper called there checks
 * the point bs/real/cleanup instead of its own.  So a fault meant for an
 * operation's own calls (bs/real/unlink=eio@1+) never fails its cleanup, and
 * the operation stays all or nothing; failing bs/real/cleanup shows what a
 * cleanup that fails leaves.  Per thread; scopes nest. */
void bs__sys_cleanup_begin(void);
void bs__sys_cleanup_end(void);

int bs__sys_open(const char *path, int flags, mode_t mode);
int bs__sys_openat(int dirfd, const char *name, int flags, mode_t mode);
int bs__sys_fstat(int fd, struct stat *sb);
int bs__sys_fstatat(int dirfd, const char *name, struct stat *sb, int flags);
/* faccessat(2), under the point bs/real/access. */
int bs__sys_faccessat(int dirfd, const char *name, int mode, int flags);
/* realpath(3) of @path, malloc'd (NULL and errno on failure), under the
 * point bs/real/stat: it is a walk of lstat and readlink calls. */
char *bs__sys_realpath(const char *path);
/* fdopendir(3) (taking @fd) and readdir(3), under the point bs/real/readdir;
 * closedir(3) is a close. */
DIR *bs__sys_fdopendir(int fd);
struct dirent *bs__sys_readdir(DIR *d);
ssize_t bs__sys_pread(int fd, void *buf, size_t len, off_t off);
ssize_t bs__sys_pwrite(int fd, const void *buf, size_t len, off_t off);
int bs__sys_ftruncate(int fd, off_t size);
int bs__sys_fsync(int fd);
/* syncfs(2) of the volume holding @fd; without it (macOS), fsync(2) of @fd
 * then sync(2).  Under the point bs/real/fsync. */
int bs__sys_syncfs(int fd);
/* flock(2), under the point bs/real/lock. */
int bs__sys_flock(int fd, int op);
/* statvfs(3), under the point bs/real/statfs. */
struct statvfs;
int bs__sys_statvfs(const char *path, struct statvfs *out);
int bs__sys_mkdir(const char *path, mode_t mode);
int bs__sys_mkdirat(int dirfd, const char *name, mode_t mode);
int bs__sys_unlink(const char *path);
int bs__sys_unlinkat(int dirfd, const char *name, int flags);
int bs__sys_rmdir(const char *path);
int bs__sys_rename(const char *from, const char *to);
int bs__sys_renameat(int fromdir, const char *from, int todir, const char *to);
int bs__sys_fchmod(int fd, mode_t mode);
int bs__sys_fchown(int fd, uid_t uid, gid_t gid);
int bs__sys_lchown(const char *path, uid_t uid, gid_t gid);
int bs__sys_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid, int flags);
int bs__sys_fchmodat(int dirfd, const char *name, mode_t mode, int flags);
int bs__sys_futimens(int fd, const struct timespec ts[2]);
int bs__sys_utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags);
int bs__sys_symlinkat(const char *target, int dirfd, const char *name);
ssize_t bs__sys_readlinkat(int dirfd, const char *name, char *buf, size_t cap);
int bs__sys_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname, int flags);
int bs__sys_mknodat(int dirfd, const char *name, mode_t mode, dev_t dev);
/* Extended attributes on a path (not following a final symlink) or an fd. */
int bs__sys_lsetxattr(const char *path, const char *name, const void *val, size_t len);
ssize_t bs__sys_lgetxattr(const char *path, const char *name, void *buf, size_t cap);
int bs__sys_lremovexattr(const char *path, const char *name);
ssize_t bs__sys_llistxattr(const char *path, char *buf, size_t cap);
int bs__sys_fremovexattr(int fd, const char *name);
int bs__sys_fsetxattr(int fd, const char *name, const void *val, size_t len);
ssize_t bs__sys_fgetxattr(int fd, const char *name, void *buf, size_t cap);
ssize_t bs__sys_flistxattr(int fd, char *buf, size_t cap);
/* Whole fd-based attribute lists, malloc'd; *len gets the size. 0 or -errno. */
int bs__sys_flist_all(int fd, char **names, size_t *len);
int bs__sys_fget_all(int fd, const char *name, char **val, size_t *len);

/* Run the tool @argv (argv[0] an absolute path) with stdin from /dev/null,
 * a fixed environment (PATH of the system directories, LC_ALL=C: its output
 * is parsed), stdout and stderr captured into @out (bs__tool_result,
 * real/tool.h).  0 with out->status set, or -errno when it cannot be started
 * or read (point bs/real/exec); then @out is empty.  The one place a child
 * process is made (real/tool.c builds on it). */
struct bs__tool_result;
int bs__sys_run_tool(const char *const argv[], struct bs__tool_result *out);

#ifdef __linux__
/* memfd_create(2) with MFD_CLOEXEC (bs/real/memfd). */
int bs__sys_memfd(const char *name);
/* LOOP_CTL_GET_FREE on /dev/loop-control's @ctl: a free device's number. */
int bs__sys_loop_get_free(int ctl);
/* Bind the loop device @dev to @backing with LO_FLAGS_AUTOCLEAR and the
 * name @name: LOOP_CONFIGURE, or LOOP_SET_FD + LOOP_SET_STATUS64 where the
 * kernel has no LOOP_CONFIGURE (EINVAL, ENOTTY).  Point bs/real/loop. */
int bs__sys_loop_attach(int dev, int backing, const char *name);
/* LOOP_CLR_FD (bs/real/loop). */
int bs__sys_loop_clear(int dev);
/* mount(2) (bs/real/mount) and umount2(2) (bs/real/umount). */
int bs__sys_mount(const char *src, const char *target, const char *type, unsigned long flags,
                  const char *data);
int bs__sys_umount(const char *target, int flags);

struct open_how;
/* openat2(2) (Linux 5.6+; ENOSYS before), under the point bs/real/open. */
int bs__sys_openat2(int dirfd, const char *path, struct open_how *how, size_t size);
/* statx(2), under the point bs/real/stat. */
struct statx;
int bs__sys_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out);
/* statfs(2), under the point bs/real/statfs. */
struct statfs;
int bs__sys_statfs(const char *path, struct statfs *out);
/* ioctl(FICLONE): @dfd shares the blocks of @sfd (bs/real/ficlone). */
int bs__sys_ficlone(int dfd, int sfd);
/* xfs: whether the volume holding @fd was made with reflink=1 (the
 * geometry ioctl), under the point bs/real/statfs. */
int bs__sys_xfs_reflink(int fd, int *reflink);
/* fstatfs(2): the type (f_type) of the volume holding @fd. */
int bs__sys_fstatfs_type(int fd, long *type);
/* Inode flags (FS_*_FL) of an open file or directory. */
int bs__sys_getflags(int fd, int *flags);
int bs__sys_setflags(int fd, int flags);
/* btrfs: BTRFS_IOC_SYNC, a commit that also wakes the cleaner. */
int bs__sys_btrfs_sync(int fd);
/* xfs: finish the inode inactivation xfs defers after an unlink, so the
 * blocks show as free (XFS_IOC_FREE_EOFBLOCKS ends with an inodegc flush;
 * statfs flushes too, but rate-limited).  Needs CAP_SYS_ADMIN. */
int bs__sys_xfs_gc_flush(int fd);
/* btrfs: a new empty subvolume @dirfd/@name. */
int bs__sys_subvol_create(int dirfd, const char *name);
/* btrfs: snapshot the subvolume whose root is @srcfd as @dirfd/@name. */
int bs__sys_snap_create(int dirfd, const char *name, int srcfd, int readonly);
/* btrfs: delete subvolume @dirfd/@name (read-only or not). */
int bs__sys_snap_destroy(int dirfd, const char *name);
/* btrfs: id and UUID of the subvolume holding @fd. */
int bs__sys_subvol_info(int fd, uint64_t *id, uint8_t uuid[16]);
/* btrfs: whether the root tree holds an item of @type (BTRFS_*_KEY) for
 * object @id: a ROOT_ITEM while subvolume @id exists (the cleaner removes it
 * once the blocks are released), a ROOT_REF per subvolume nested in it.
 * @fd is on the volume; needs CAP_SYS_ADMIN. */
int bs__sys_root_tree_has(int fd, uint64_t id, unsigned type, int *found);
/* btrfs: the flags (BTRFS_SUBVOL_RDONLY) of the subvolume whose root is @fd;
 * setting them needs its owner (or CAP_SYS_ADMIN). */
int bs__sys_subvol_getflags(int fd, uint64_t *flags);
int bs__sys_subvol_setflags(int fd, uint64_t flags);
/* The superblock options ("rw,ssd,user_subvol_rm_allowed,...") of the mount
 * holding @fd: its line of /proc/self/mountinfo, found by statx's mount id. */
int bs__sys_mount_options(int fd, char *buf, size_t cap);
/* 1 when capability @cap (CAP_*) is in this process's effective set, else 0
 * (as capget(2) reports it: relative to the process's user namespace).  No
 * fault point: it changes nothing, and a failing capget reads as 0. */
int bs__sys_has_cap(int cap);
#endif

#endif
