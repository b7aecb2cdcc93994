/* Snapshot and branch trees on Linux (the snapshot members of bs_host_os;
 * docs/snapshots.md, "Linux").
 *
 * NATIVE (btrfs): the store root is a subvolume and <root>/.bs a nested one,
 * so a snapshot of the root leaves the snapshots out.  A snapshot is a
 * read-only subvolume snapshot, a branch a writable snapshot of it; both by
 * ioctl.  REFLINK (xfs, btrfs) and COPY (any filesystem): a recursive clone
 * or copy of the tree (bs__linux_clone_tree), which a snapshot marks
 * FS_IMMUTABLE_FL throughout, since root ignores mode bits.
 *
 * Removal clears immutable flags and deletes subvolumes by ioctl, so one
 * function takes any of these trees away: tree_delete, the rollback of a
 * failed create, and the test fixture's cleanup. */
#include "real/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "real/posix.h"
#include "real/sys.h"

/* Deep enough for any path the kernel accepts; bounds the recursion. */
#define REMOVE_MAX_DEPTH 2048
/* How long a delete waits for the btrfs cleaner (a big subvolume takes a
 * while; a stuck cleaner must not hang the caller for ever). */
#define CLEANER_WAIT_NS (300ll * 1000000000ll)

/* 1 on btrfs, 0 elsewhere, -errno when statfs fails (a failing volume must
 * not pass for a filesystem without subvolumes). */
static int on_btrfs(int fd) {
  long type = 0;
  if (bs__sys_fstatfs_type(fd, &type) != 0)
    return -errno;
  return (unsigned long)type == BTRFS_SUPER_MAGIC;
}

int bs__linux_is_subvol_root(int fd, const struct stat *sb) {
  if (!S_ISDIR(sb->st_mode) || sb->st_ino != BTRFS_FIRST_FREE_OBJECTID)
    return 0;
  return on_btrfs(fd);
}

/* Exact mode of directory @dir/@name (mkdir and subvolume creation apply the
 * umask). */
static int set_dir_mode(int dir, const char *name, mode_t mode) {
  int fd = bs__sys_openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  if (fd < 0)
    return -errno;
  int rc = bs__sys_fchmod(fd, mode) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

/* A new directory @dir/@name of @mode: a subvolume when @subvol.  On
 * failure nothing is left, and @dir gets its times back: a failed command
 * leaves the user's directory as it found it. */
static int make_dir(int dir, const char *name, bool subvol, mode_t mode) {
  struct stat before;
  bool timed = bs__sys_fstat(dir, &before) == 0;
  int rc = (subvol ? bs__sys_subvol_create(dir, name) : bs__sys_mkdirat(dir, name, mode)) == 0 ? 0 : -errno;
  if (rc == 0 && (rc = set_dir_mode(dir, name, mode)) != 0) {
    bs__sys_cleanup_begin();
    if (bs__linux_remove_at(dir, name, NULL) == 0 && timed) {
      struct timespec ts[2] = {before.st_atim, before.st_mtim};
      (void)bs__sys_futimens(dir, ts);
    }
    bs__sys_cleanup_end();
  }
  return rc;
}

int bs__linux_make_root(void *ctx, const char *path) {
  (void)ctx;
  bs__hpath p = bs__hpath_host(path);
  bs__at at;
  int rc = bs__resolve(&p, &at);
  if (rc != 0)
    return rc;
  int btrfs = on_btrfs(at.dir);
  rc = btrfs < 0 ? btrfs : make_dir(at.dir, at.leaf, btrfs, 0755);
  close(at.dir);
  return rc;
}

/* Is @at a directory?  0 if so, -ENOTDIR if it is something else, and
 * -BS__ESCAPE for a symlink: the reserved directory and the trees in it are
 * never one, and one there would lead wherever it points. */
static int is_dir_at(const bs__at *at) {
  struct stat sb;
  if (bs__sys_fstatat(at->dir, at->leaf, &sb, AT_SYMLINK_NOFOLLOW) != 0)
    return -errno;
  return S_ISDIR(sb.st_mode) ? 0 : S_ISLNK(sb.st_mode) ? -BS__ESCAPE : -ENOTDIR;
}

int bs__linux_reserve(void *ctx, const bs__hpath *root, const bs__hpath *dir) {
  (void)ctx;
  bs__at at;
  int rc = bs__resolve(dir, &at);
  if (rc != 0)
    return rc;
  if ((rc = is_dir_at(&at)) != -ENOENT) {
    close(at.dir);
    return rc;
  }
  int rfd = bs__resolve_open(root, O_RDONLY | O_DIRECTORY, ENOTDIR);
  rc = rfd < 0 ? rfd : 0;
  struct stat rsb;
  if (rc == 0 && bs__sys_fstat(rfd, &rsb) != 0)
    rc = -errno;
  int subvol = rc == 0 ? bs__linux_is_subvol_root(rfd, &rsb) : 0;
  if (subvol < 0)
    rc = subvol;
  if (rfd >= 0)
    close(rfd);
  if (rc == 0)
    rc = make_dir(at.dir, at.leaf, subvol, 0700);
  /* Another opener of the same store made it first: it is there. */
  if (rc == -EEXIST && is_dir_at(&at) == 0)
    rc = 0;
  close(at.dir);
  return rc;
}

/* ---- btrfs ---------------------------------------------------------------------- */

/* btrfs shows a subvolume nested in a snapshot's source (the store's .bs) as
 * an empty directory with this inode number; rmdir takes it away. */
#define EMPTY_SUBVOL_DIR_INO 2

/* A snapshot (@readonly) or a branch of subvolume @src at @dst.  A snapshot
 * of a store root keeps the empty placeholder of its .bs subvolume: removing
 * it needs the snapshot writable first and BTRFS_IOC_SUBVOL_SETFLAGS after,
 * a transaction commit that doubles the cost, so host.c hides ".bs" at tree
 * roots instead.  A branch is writable anyway: its placeholder is removed
 * (the root's times put back). */
static int btrfs_snapshot(const bs__hpath *src, const bs__hpath *dst, bool readonly, uint8_t uuid[16]) {
  int sfd = bs__resolve_open(src, O_RDONLY | O_DIRECTORY, ENOTDIR);
  if (sfd < 0)
    return sfd;
  struct stat sb, bsb;
  int rc = bs__sys_fstat(sfd, &sb) == 0 ? 0 : -errno;
  int root = rc == 0 ? bs__linux_is_subvol_root(sfd, &sb) : 0;
  if (root < 0)
    rc = root;
  else if (rc == 0 && !root)
    rc = -EOPNOTSUPP; /* btrfs would snapshot the whole subvolume holding @src */
  bool has_bs = rc == 0 && bs__sys_fstatat(sfd, ".bs", &bsb, AT_SYMLINK_NOFOLLOW) == 0;
  if (rc == 0 && !has_bs && errno != ENOENT)
    rc = -errno;
  /* A .bs that is not a subvolume (nor a placeholder) would be in the copy. */
  if (has_bs && (!S_ISDIR(bsb.st_mode) ||
                 (bsb.st_ino != BTRFS_FIRST_FREE_OBJECTID && bsb.st_ino != EMPTY_SUBVOL_DIR_INO)))
    rc = -EOPNOTSUPP;
  bs__at at = {.dir = -1};
  if (rc == 0)
    rc = bs__resolve(dst, &at);
  if (rc != 0) {
    close(sfd);
    return rc;
  }
  int dir = at.dir;
  const char *last = at.leaf;
  if (is_dir_at(&at) != -ENOENT)
    rc = -EEXIST;
  else if (bs__sys_snap_create(dir, last, sfd, readonly) != 0)
    rc = -errno;
  bool made = rc == 0;
  int dfd = rc == 0 ? bs__sys_openat(dir, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0) : -1;
  if (rc == 0 && dfd < 0)
    rc = -errno;
  if (rc == 0 && has_bs && !readonly) {
    if (bs__sys_unlinkat(dfd, ".bs", AT_REMOVEDIR) != 0) {
      rc = -errno;
    } else {
      struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
      if (bs__sys_futimens(dfd, ts) != 0)
        rc = -errno;
    }
  }
  uint64_t id = 0;
  if (rc == 0 && uuid && bs__sys_subvol_info(dfd, &id, uuid) != 0)
    rc = -errno;
  if (dfd >= 0)
    close(dfd);
  if (rc != 0 && made)
    bs__linux_undo_at(dir, last);
  close(dir);
  close(sfd);
  return rc;
}

/* ---- the seam ------------------------------------------------------------------- */

/* REFLINK needs a volume that shares blocks; checked before anything is made,
 * so an empty tree does not pass where files would not. */
static int reflink_possible(const bs__hpath *src) {
  bs_caps c;
  int rc = bs__linux_caps(NULL, src->abs, &c);
  if (rc == 0 && !c.native_reflink)
    rc = -EOPNOTSUPP;
  return rc;
}

int bs__linux_snap_create(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst,
                          uint8_t uuid[16]) {
  (void)ctx;
  memset(uuid, 0, 16);
  switch (m) {
  case BS_TREE_NATIVE:
    return btrfs_snapshot(src, dst, true, uuid);
  case BS_TREE_REFLINK: {
    int rc = reflink_possible(src);
    return rc != 0 ? rc : bs__linux_clone_tree_at(src, dst, BS__TREE_SKIP_BS | BS__TREE_IMMUTABLE);
  }
  case BS_TREE_COPY:
    return bs__linux_clone_tree_at(src, dst, BS__TREE_SKIP_BS | BS__TREE_IMMUTABLE | BS__TREE_COPY);
  }
  return -EINVAL;
}

int bs__linux_branch_create(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst) {
  (void)ctx;
  switch (m) {
  case BS_TREE_NATIVE:
    return btrfs_snapshot(src, dst, false, NULL);
  case BS_TREE_REFLINK: {
    int rc = reflink_possible(src);
    return rc != 0 ? rc : bs__linux_clone_tree_at(src, dst, 0);
  }
  case BS_TREE_COPY:
    return bs__linux_clone_tree_at(src, dst, BS__TREE_COPY);
  }
  return -EINVAL;
}

int bs__linux_tree_delete(void *ctx, bs_tree_method m, const bs__hpath *p) {
  (void)ctx;
  if (m != BS_TREE_NATIVE && m != BS_TREE_REFLINK && m != BS_TREE_COPY)
    return -EINVAL;
  return bs__linux_remove_tree_at(p, true);
}

/* ---- removal of any tree ---------------------------------------------------------- */

static int remove_in(int at, const char *name, bs__subvols *gone, int depth);

/* Clear the flags that stop a removal (immutable, append-only). */
static int clear_flags(int fd) {
  int fl = 0;
  if (bs__sys_getflags(fd, &fl) != 0)
    return errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL ? 0 : -errno;
  if (!(fl & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
    return 0;
  return bs__sys_setflags(fd, fl & ~(FS_IMMUTABLE_FL | FS_APPEND_FL)) == 0 ? 0 : -errno;
}

static int add_id(bs__subvols *gone, uint64_t id) {
  if (!gone)
    return 0;
  if (gone->n == gone->cap) {
    size_t cap = gone->cap ? gone->cap * 2 : 8;
    uint64_t *v = realloc(gone->v, cap * sizeof(*v));
    if (!v)
      return -ENOMEM;
    gone->v = v;
    gone->cap = cap;
  }
  gone->v[gone->n++] = id;
  return 0;
}

/* Remove the entries of directory @fd.  Inside a subvolume (@nested_only)
 * only nested subvolumes are taken out, since deleting the subvolume takes
 * the rest (and a read-only one allows nothing else). */
static int remove_children(int fd, bs__subvols *gone, int depth, bool nested_only) {
  bs__names names;
  int rc = bs__names_read_fd(fd, &names);
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    const char *name = names.v[i];
    if (!nested_only) {
      rc = remove_in(fd, name, gone, depth + 1);
      continue;
    }
    struct stat sb;
    if (bs__sys_fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode))
      continue;
    if (sb.st_ino == BTRFS_FIRST_FREE_OBJECTID) {
      rc = remove_in(fd, name, gone, depth + 1);
      continue;
    }
    int cfd = bs__sys_openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    if (cfd < 0) {
      rc = -errno;
      continue;
    }
    rc = depth + 1 > REMOVE_MAX_DEPTH ? -ELOOP : remove_children(cfd, gone, depth + 1, true);
    close(cfd);
  }
  bs__names_free(&names);
  return rc;
}

/* 1 when directory @fd has entries to remove before it can go: a plain
 * directory's, or a subvolume's nested subvolumes (deleting the subvolume
 * takes everything else).  The root tree lists those (ROOT_REF items), so a
 * snapshot of 10 000 files is not walked; without CAP_SYS_ADMIN to search it,
 * the walk looks.  0 when there is nothing, or -errno. */
static int has_nested(int fd, bool subvol, uint64_t id) {
  if (!subvol)
    return 1;
  int found = 0;
  if (bs__sys_root_tree_has(fd, id, BTRFS_ROOT_REF_KEY, &found) != 0)
    return errno == EPERM ? 1 : -errno;
  return found;
}

/* BTRFS_IOC_SNAP_DESTROY_V2 of @at/@name failed with @e.  Without
 * CAP_SYS_ADMIN, rmdir(2) still deletes an empty subvolume (Linux 4.18+).
 * On a mount with user_subvol_rm_allowed the kernel wants write access to
 * the subvolume's root, which a read-only one never gives (EROFS): its owner
 * may clear the flag, so do that and try again; the flag comes back if the
 * second try fails too. */
static int destroy_unprivileged(int at, const char *name, int e) {
  if (e == EPERM && bs__sys_unlinkat(at, name, AT_REMOVEDIR) == 0)
    return 0;
  if (e != EROFS)
    return -e;
  int fd = bs__sys_openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  if (fd < 0)
    return -e;
  uint64_t fl = 0;
  int rc = bs__sys_subvol_getflags(fd, &fl) == 0 && (fl & BTRFS_SUBVOL_RDONLY) ? 0 : -e;
  if (rc == 0 && bs__sys_subvol_setflags(fd, fl & ~BTRFS_SUBVOL_RDONLY) != 0)
    rc = -errno;
  if (rc == 0 && bs__sys_snap_destroy(at, name) != 0) {
    rc = -errno;
    bs__sys_cleanup_begin();
    (void)bs__sys_subvol_setflags(fd, fl);
    bs__sys_cleanup_end();
  }
  close(fd);
  return rc;
}

static int remove_in(int at, const char *name, bs__subvols *gone, int depth) {
  if (depth > REMOVE_MAX_DEPTH)
    return -ELOOP;
  struct stat sb;
  if (bs__sys_fstatat(at, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(sb.st_mode)) {
    if (bs__sys_unlinkat(at, name, 0) == 0 || errno == ENOENT)
      return 0;
    if (errno != EPERM || !S_ISREG(sb.st_mode))
      return -errno;
    int fd = bs__sys_openat(at, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0)
      return -errno;
    int rc = clear_flags(fd);
    close(fd);
    if (rc == 0 && bs__sys_unlinkat(at, name, 0) != 0)
      rc = -errno;
    return rc;
  }
  int fd = bs__sys_openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  if (fd < 0)
    return -errno;
  int subvol = bs__linux_is_subvol_root(fd, &sb);
  int rc = subvol < 0 ? subvol : clear_flags(fd);
  uint64_t id = 0;
  if (rc == 0 && subvol && bs__sys_subvol_info(fd, &id, NULL) != 0)
    rc = -errno;
  if (rc == 0)
    rc = has_nested(fd, subvol, id);
  if (rc > 0) /* a plain directory, or a subvolume with subvolumes in it */
    rc = remove_children(fd, gone, depth, subvol);
  close(fd);
  if (rc != 0)
    return rc;
  if (!subvol)
    return bs__sys_unlinkat(at, name, AT_REMOVEDIR) == 0 ? 0 : -errno;
  if (bs__sys_snap_destroy(at, name) != 0 && (rc = destroy_unprivileged(at, name, errno)) != 0)
    return rc;
  return add_id(gone, id);
}

int bs__linux_remove_at(int dirfd, const char *name, bs__subvols *gone) {
  return remove_in(dirfd, name, gone, 0);
}

int bs__linux_undo_at(int dirfd, const char *name) {
  bs__sys_cleanup_begin();
  int rc = remove_in(dirfd, name, NULL, 0);
  bs__sys_cleanup_end();
  return rc;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Wait until the cleaner has dropped every subvolume in @gone: their root
 * items are gone from the root tree once their blocks are released.
 * BTRFS_IOC_SYNC commits and wakes the cleaner (a plain syncfs does not: it
 * would start at the next periodic commit, up to 30 s later); the syncfs at
 * the end commits the drop, so statvfs counts the blocks as free.  Polls with
 * a growing nap (1 ms to 50 ms), where BTRFS_IOC_SUBVOL_SYNC_WAIT (6.9+)
 * sleeps a whole second between checks. */
static int wait_cleaner(int fd, const bs__subvols *gone) {
  int64_t start = now_ns(), kicked = 0;
  long nap = 1000000;
  for (size_t i = 0; i < gone->n;) {
    if (now_ns() - kicked > 1000000000ll) { /* again each second: a drop can span commits */
      if (bs__sys_btrfs_sync(fd) != 0)
        return -errno;
      kicked = now_ns();
    }
    int alive = 0;
    if (bs__sys_root_tree_has(fd, gone->v[i], BTRFS_ROOT_ITEM_KEY, &alive) != 0) {
      if (errno == EPERM) /* no CAP_SYS_ADMIN to look: the cleaner is awake, stop here */
        break;
      return -errno;
    }
    if (!alive) {
      i++;
      continue;
    }
    if (now_ns() - start > CLEANER_WAIT_NS)
      return -ETIMEDOUT;
    struct timespec ts = {0, nap};
    nanosleep(&ts, NULL);
    nap = nap * 2 > 50000000 ? 50000000 : nap * 2;
  }
  return bs__sys_syncfs(fd) == 0 ? 0 : -errno;
}

/* Make the space of what was just removed show as free: commit, and on xfs
 * finish the deferred inactivation of the unlinked inodes. */
static int settle(int fd) {
  if (bs__sys_syncfs(fd) != 0)
    return -errno;
  long type = 0;
  if (bs__sys_fstatfs_type(fd, &type) != 0)
    return -errno;
  if ((unsigned long)type == XFS_SUPER_MAGIC && bs__sys_xfs_gc_flush(fd) != 0 && errno != EPERM)
    return -errno; /* without CAP_SYS_ADMIN, xfs' own worker frees them soon after */
  return 0;
}

int bs__linux_remove_tree_at(const bs__hpath *p, bool wait) {
  bs__at at;
  int rc = bs__resolve(p, &at);
  if (rc != 0)
    return rc;
  bs__subvols gone = {0};
  struct stat sb;
  rc = bs__sys_fstatat(at.dir, at.leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
  if (rc == 0)
    rc = bs__linux_remove_at(at.dir, at.leaf, &gone);
  if (rc == 0 && wait)
    rc = gone.n ? wait_cleaner(at.dir, &gone) : settle(at.dir);
  free(gone.v);
  close(at.dir);
  return rc;
}

int bs__linux_remove_tree(const char *path, bool wait) {
  bs__hpath p = bs__hpath_host(path);
  return bs__linux_remove_tree_at(&p, wait);
}
