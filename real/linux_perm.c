/* Whether this process may delete a snapshot or branch tree on Linux
 * (bs_host_os.tree_may_delete; docs/snapshots.md, "Deleting without
 * privilege").
 *
 * host_snap.c asks before the registry lets go of a tree: a delete that the
 * kernel would refuse must fail while the registry still names the tree, not
 * after, when the tree is left behind unnamed.  The answer follows the
 * kernel's own checks for the remover of linux_snap.c:
 *   - any tree: write and search access to the directory holding it;
 *   - a btrfs subvolume: CAP_SYS_ADMIN (the one BTRFS_IOC_TREE_SEARCH checks,
 *     so a search answers it exactly), or else the mount option
 *     user_subvol_rm_allowed and write access to the subvolume's root; a
 *     read-only subvolume is made writable first, which only its owner may;
 *   - a tree marked immutable (a fallback snapshot made by root):
 *     CAP_LINUX_IMMUTABLE to clear the flag.
 * Subvolumes nested inside a branch (made there by its user) and entries
 * deeper in a plain tree are not looked at: walking the tree would cost as
 * much as deleting it.  If one of them refuses, the delete reports the tree
 * it left behind (host_snap.c). */
#include "real/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real/sys.h"

static int refuse(int neg_errno, char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(int neg_errno, char *why, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (cap)
    vsnprintf(why, cap, fmt, ap);
  va_end(ap);
  return neg_errno;
}

/* Is @opt one of the comma-separated options in @opts? */
static bool has_option(const char *opts, const char *opt) {
  size_t n = strlen(opt);
  for (const char *p = opts; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && strncmp(p, opt, n) == 0)
      return true;
    p += len + (p[len] == ',');
  }
  return false;
}

/* A btrfs subvolume at @fd (its root directory, @sb its fstat). */
static int subvol_may_delete(int fd, const struct stat *sb, char *why, size_t cap) {
  uint64_t id = 0;
  int found = 0;
  if (bs__sys_subvol_info(fd, &id, NULL) != 0)
    return -errno;
  if (bs__sys_root_tree_has(fd, id, BTRFS_ROOT_ITEM_KEY, &found) == 0)
    return 0; /* CAP_SYS_ADMIN: the kernel deletes any subvolume for us */
  if (errno != EPERM)
    return -errno;
  char opts[4096];
  if (bs__sys_mount_options(fd, opts, sizeof(opts)) != 0)
    return -errno;
  if (!has_option(opts, "user_subvol_rm_allowed"))
    return refuse(-EPERM, why, cap,
                  "deleting a btrfs subvolume needs CAP_SYS_ADMIN or the mount option "
                  "user_subvol_rm_allowed");
  uint64_t fl = 0;
  if (bs__sys_subvol_getflags(fd, &fl) != 0)
    return -errno;
  if (fl & BTRFS_SUBVOL_RDONLY)
    return sb->st_uid == geteuid()
               ? 0
               : refuse(-EPERM, why, cap,
                        "a read-only btrfs subvolume can be deleted without CAP_SYS_ADMIN only by "
                        "its owner (uid %u)",
                        (unsigned)sb->st_uid);
  if (bs__sys_faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0)
    return refuse(-errno, why, cap, "deleting a btrfs subvolume without CAP_SYS_ADMIN needs write "
                                    "access to its root directory");
  return 0;
}

int bs__linux_tree_may_delete(void *ctx, bs_tree_method m, const bs__hpath *p, char *why, size_t cap) {
  (void)ctx;
  (void)m; /* the tree says what it is: a subvolume, or a plain (maybe immutable) tree */
  if (cap)
    why[0] = '\0';
  bs__at at;
  int rc = bs__resolve(p, &at);
  if (rc != 0)
    return rc;
  int dir = at.dir;
  const char *last = at.leaf;
  int fd = bs__sys_openat(dir, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  if (fd < 0) {
    rc = errno == ENOENT ? 0 : -errno; /* nothing to delete: the delete has nothing to refuse */
    close(dir);
    return rc;
  }
  if (bs__sys_faccessat(dir, ".", W_OK | X_OK, AT_EACCESS) != 0)
    rc = refuse(-errno, why, cap, "no write access to the directory that holds the tree");
  close(dir);
  struct stat sb;
  if (rc == 0 && bs__sys_fstat(fd, &sb) != 0)
    rc = -errno;
  int subvol = rc == 0 ? bs__linux_is_subvol_root(fd, &sb) : 0;
  int fl = 0;
  if (subvol < 0)
    rc = subvol;
  else if (subvol)
    rc = subvol_may_delete(fd, &sb, why, cap);
  else if (rc == 0 && bs__sys_getflags(fd, &fl) == 0 && (fl & (FS_IMMUTABLE_FL | FS_APPEND_FL)) &&
           !bs__sys_has_cap(CAP_LINUX_IMMUTABLE))
    rc = refuse(-EPERM, why, cap, "the tree is immutable, and clearing that flag needs CAP_LINUX_IMMUTABLE");
  close(fd);
  return rc;
}
