/* The Linux half of the real backend: statfs probe, capabilities, clone
 * with clonefile(2) semantics on FICLONE (btrfs, xfs with reflink=1), and the
 * recursive tree clone the snapshot fallbacks use (linux_snap.c). */
#include "real/linux.h"

#include <dirent.h>
#include <stdio.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "real/posix.h"
#include "real/sys.h"

#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif
#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

/* statfs f_type -> type.  ext2/ext3 share ext4's magic and are served by the
 * ext4 driver: they are reported as ext4. */
static const struct {
  unsigned long magic;
  bs_fs_type type;
  const char *name;
} magics[] = {
  {BTRFS_SUPER_MAGIC, BS_FS_BTRFS, "btrfs"}, {XFS_SUPER_MAGIC, BS_FS_XFS, "xfs"},
  {EXT4_SUPER_MAGIC, BS_FS_EXT4, "ext4"},    {TMPFS_MAGIC, BS_FS_TMPFS, "tmpfs"},
  {OVERLAYFS_SUPER_MAGIC, BS_FS_OTHER, "overlay"}, {FUSE_SUPER_MAGIC, BS_FS_OTHER, "fuse"},
  {NFS_SUPER_MAGIC, BS_FS_OTHER, "nfs"},     {PROC_SUPER_MAGIC, BS_FS_OTHER, "proc"},
  {SYSFS_MAGIC, BS_FS_OTHER, "sysfs"},       {SQUASHFS_MAGIC, BS_FS_OTHER, "squashfs"},
};

int bs__linux_statfs(const char *path, bs_fs_type *type, char name[17], uint16_t *name_max) {
  struct statfs sf;
  if (bs__sys_statfs(path, &sf) != 0)
    return -errno;
  *type = BS_FS_OTHER;
  strcpy(name, "other");
  for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
    if ((unsigned long)sf.f_type == magics[i].magic) {
      *type = magics[i].type;
      strcpy(name, magics[i].name);
      break;
    }
  if (name_max)
    *name_max = sf.f_namelen > 0 && sf.f_namelen < 65535 ? (uint16_t)sf.f_namelen : 255;
  return 0;
}

static int linux_fs_type(void *ctx, const char *path, bs_fs_type *out) {
  (void)ctx;
  char name[17];
  return bs__linux_statfs(path, out, name, NULL);
}

/* xfs shares blocks only when made with reflink=1; the geometry says. */
static int xfs_has_reflink(const char *root, bool *out) {
  int fd = bs__sys_open(root, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0)
    return -errno;
  int reflink = 0;
  int rc = bs__sys_xfs_reflink(fd, &reflink) == 0 ? 0 : -errno;
  close(fd);
  if (rc == 0)
    *out = reflink != 0;
  return rc;
}

/* The DESIGN §4 row of the volume's type; for an unknown type the row of
 * "other" with the name statfs gave ("overlay", "fuse", ...) and its name
 * limit.  An xfs made without reflink says so. */
int bs__linux_caps(void *ctx, const char *root, bs_caps *out) {
  (void)ctx;
  bs_fs_type t;
  char name[17];
  uint16_t name_max = 255;
  int rc = bs__linux_statfs(root, &t, name, &name_max);
  if (rc != 0)
    return rc;
  bs_caps_for_type(out, t);
  if (t == BS_FS_OTHER) {
    snprintf(out->fs_type_name, sizeof(out->fs_type_name), "%s", name);
    out->max_name_len = name_max;
  }
  if (t == BS_FS_XFS) {
    bool reflink = false;
    if ((rc = xfs_has_reflink(root, &reflink)) != 0)
      return rc;
    out->native_reflink = reflink;
  }
  return 0;
}

/* ---- clone with clonefile(2) semantics --------------------------------------- */

/* Namespaces a caller may lack the right to write (trusted.* and security.*
 * need CAP_SYS_ADMIN or a policy): skipped when EPERM, like cp -a.  user.*
 * and system.posix_acl_* are always copied or the clone fails. */
static bool may_skip_xattr(const char *name, int err) {
  return (err == EPERM || err == EACCES || err == EOPNOTSUPP) &&
         (strncmp(name, "trusted.", 8) == 0 || strncmp(name, "security.", 9) == 0);
}

/* Copy every extended attribute (POSIX ACLs are system.posix_acl_* ones). */
static int copy_xattrs(int from, int to) {
  char *names = NULL;
  size_t len = 0;
  int rc = bs__sys_flist_all(from, &names, &len);
  if (rc == -EOPNOTSUPP || rc == -ENOTSUP)
    return 0; /* no xattrs on this filesystem: nothing to keep */
  for (size_t i = 0; rc == 0 && i < len;) {
    const char *name = names + i;
    size_t nl = strnlen(name, len - i);
    i += nl + 1;
    if (nl == 0)
      continue;
    char *val = NULL;
    size_t vlen = 0;
    rc = bs__sys_fget_all(from, name, &val, &vlen);
    if (rc == -ENODATA) {
      rc = 0; /* removed since the listing */
      continue;
    }
    if (rc == 0 && bs__sys_fsetxattr(to, name, val, vlen) != 0 && !may_skip_xattr(name, errno))
      rc = -errno;
    free(val);
  }
  free(names);
  return rc;
}

/* Owner (only a privileged caller can give a file away, as with clonefile),
 * then mode (chown clears set-id bits), then times: the order matters. */
static int copy_meta(int to, const struct stat *sb) {
  if (geteuid() == 0 && bs__sys_fchown(to, sb->st_uid, sb->st_gid) != 0)
    return -errno;
  if (bs__sys_fchmod(to, sb->st_mode & 07777) != 0)
    return -errno;
  struct timespec ts[2] = {sb->st_atim, sb->st_mtim};
  if (bs__sys_futimens(to, ts) != 0)
    return -errno;
  return 0;
}

/* How a tree copy runs: its BS__TREE_* flags, and whether entries are still
 * being marked immutable (see mark_immutable). */
typedef struct tree_ctx {
  unsigned flags;
  bool marking, marked;
} tree_ctx;

/* Make @fd immutable: a snapshot tree that not even root can change; and
 * FS_NOATIME_FL, since reading a snapshot must not change it either (its
 * atime stays, as in a read-only btrfs or APFS snapshot).  If the
 * very first entry cannot take the flag (the filesystem has none: ENOTTY,
 * EOPNOTSUPP; or no CAP_LINUX_IMMUTABLE: EPERM), marking stops for the whole
 * tree and read-only is host.c's alone; once an entry has the flag, every
 * failure is an error, so a tree is marked all through or not at all. */
static int mark_immutable(tree_ctx *t, int fd) {
  if (!t || !(t->flags & BS__TREE_IMMUTABLE) || !t->marking)
    return 0;
  int fl = 0;
  if (bs__sys_getflags(fd, &fl) != 0 || bs__sys_setflags(fd, fl | FS_IMMUTABLE_FL | FS_NOATIME_FL) != 0) {
    int e = errno;
    if (!t->marked && (e == ENOTTY || e == EOPNOTSUPP || e == EPERM || e == EINVAL)) {
      t->marking = false;
      return 0;
    }
    return -e;
  }
  t->marked = true;
  return 0;
}

static bool all_zero(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

/* Copy the bytes of @sfd into the empty @dfd (the COPY method: never shares
 * blocks, unlike FICLONE or copy_file_range).  Blocks of zeros are left as
 * holes, so a sparse file stays sparse. */
static int copy_bytes(int sfd, int dfd, uint64_t size) {
  enum { CHUNK = 1 << 20, BLOCK = 4096 };
  size_t cap = size < CHUNK ? (size_t)size + 1 : CHUNK;
  char *buf = malloc(cap);
  if (!buf)
    return -ENOMEM;
  int rc = 0;
  uint64_t off = 0;
  for (;;) {
    ssize_t n = bs__sys_pread(sfd, buf, cap, (off_t)off);
    if (n <= 0) {
      rc = n < 0 ? -errno : 0;
      break;
    }
    for (size_t at = 0; rc == 0 && at < (size_t)n;) {
      size_t end = at; /* [at, end): a run of blocks that are not all zeros */
      while (end < (size_t)n) {
        size_t len = (size_t)n - end < BLOCK ? (size_t)n - end : BLOCK;
        if (all_zero(buf + end, len))
          break;
        end += len;
      }
      if (end == at) {
        at += (size_t)n - at < BLOCK ? (size_t)n - at : BLOCK;
        continue;
      }
      ssize_t w = bs__sys_pwrite(dfd, buf + at, end - at, (off_t)(off + at));
      if (w <= 0)
        rc = w < 0 ? -errno : -EIO;
      else
        at += (size_t)w;
    }
    if (rc != 0)
      break;
    off += (uint64_t)n;
  }
  free(buf);
  if (rc == 0 && bs__sys_ftruncate(dfd, (off_t)off) != 0)
    rc = -errno;
  return rc;
}

/* Clone (or with BS__TREE_COPY, copy) regular file @sfd into @dirfd/@name,
 * which must not exist.  @t is NULL for a single clone. */
static int clone_file_at(int sfd, const struct stat *sb, int dirfd, const char *name, tree_ctx *t) {
  int dfd = bs__sys_openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (dfd < 0)
    return -errno;
  int rc = 0;
  if (t && (t->flags & BS__TREE_COPY))
    rc = copy_bytes(sfd, dfd, (uint64_t)sb->st_size);
  else if (bs__sys_ficlone(dfd, sfd) != 0)
    rc = -errno;
  if (rc == 0)
    rc = copy_xattrs(sfd, dfd);
  if (rc == 0)
    rc = copy_meta(dfd, sb);
  if (rc == 0)
    rc = mark_immutable(t, dfd);
  if (close(dfd) != 0 && rc == 0)
    rc = -errno;
  if (rc != 0)
    bs__linux_undo_at(dirfd, name);
  return rc;
}

int bs__linux_clone(void *ctx, const bs__hpath *src, const bs__hpath *dst) {
  (void)ctx;
  int sfd = bs__resolve_open(src, O_RDONLY, EINVAL);
  if (sfd < 0)
    return sfd;
  struct stat sb;
  int rc = bs__sys_fstat(sfd, &sb) == 0 ? 0 : -errno;
  if (rc == 0 && !S_ISREG(sb.st_mode))
    rc = -EINVAL;
  /* A clone is a file: a destination named as a directory ("c/") is
   * refused before its directory is looked up (clonefile(2) says EINVAL). */
  size_t dl = strlen(dst->abs);
  if (rc == 0 && dl > 0 && dst->abs[dl - 1] == '/')
    rc = -EINVAL;
  bs__at at = {.dir = -1};
  if (rc == 0)
    rc = bs__resolve(dst, &at);
  if (rc == 0)
    rc = clone_file_at(sfd, &sb, at.dir, at.leaf, NULL);
  if (at.dir >= 0)
    close(at.dir);
  close(sfd);
  return rc;
}

/* ---- recursive tree clone ------------------------------------------------------ */

static int clone_entry(int sdir, const char *sname, int ddir, const char *dname, int depth,
                       tree_ctx *t);

static int clone_dir_contents(int sfd, int dfd, int depth, tree_ctx *t) {
  bs__names names;
  int rc = bs__names_read_fd(sfd, &names); /* byte order: a failure point is reproducible */
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    if (depth == 0 && (t->flags & BS__TREE_SKIP_BS) && strcmp(names.v[i], ".bs") == 0)
      continue;
    rc = clone_entry(sfd, names.v[i], dfd, names.v[i], depth + 1, t);
  }
  bs__names_free(&names);
  return rc;
}

/* Times of a symlink or special file, not following it. */
static int copy_times_at(int ddir, const char *name, const struct stat *sb) {
  struct timespec ts[2] = {sb->st_atim, sb->st_mtim};
  return bs__sys_utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int clone_symlink_at(int sdir, const char *sname, int ddir, const char *name,
                            const struct stat *sb) {
  size_t cap = (size_t)sb->st_size + 1;
  char *target = malloc(cap);
  if (!target)
    return -ENOMEM;
  ssize_t n = bs__sys_readlinkat(sdir, sname, target, cap);
  int rc = n < 0 ? -errno : (size_t)n >= cap ? -EAGAIN : 0;
  if (rc == 0) {
    target[n] = '\0';
    rc = bs__sys_symlinkat(target, ddir, name) == 0 ? 0 : -errno;
    if (rc == 0 && geteuid() == 0 &&
        bs__sys_fchownat(ddir, name, sb->st_uid, sb->st_gid, AT_SYMLINK_NOFOLLOW) != 0)
      rc = -errno;
    if (rc == 0)
      rc = copy_times_at(ddir, name, sb);
  }
  free(target);
  return rc;
}

static int clone_special_at(int ddir, const char *name, const struct stat *sb) {
  if (bs__sys_mknodat(ddir, name, sb->st_mode, sb->st_rdev) != 0)
    return -errno;
  int rc = 0;
  if (geteuid() == 0 && bs__sys_fchownat(ddir, name, sb->st_uid, sb->st_gid, AT_SYMLINK_NOFOLLOW) != 0)
    rc = -errno;
  if (rc == 0 && bs__sys_fchmodat(ddir, name, sb->st_mode & 07777, 0) != 0)
    rc = -errno;
  if (rc == 0)
    rc = copy_times_at(ddir, name, sb);
  return rc;
}

/* Deep enough for any path the kernel accepts; bounds the recursion. */
#define TREE_MAX_DEPTH 2048

/* Clone @sdir/@sname into @ddir/@name (which must not exist). */
static int clone_entry(int sdir, const char *sname, int ddir, const char *name, int depth,
                       tree_ctx *t) {
  if (depth > TREE_MAX_DEPTH)
    return -ELOOP;
  struct stat sb;
  if (bs__sys_fstatat(sdir, sname, &sb, AT_SYMLINK_NOFOLLOW) != 0)
    return -errno;
  if (S_ISLNK(sb.st_mode))
    return clone_symlink_at(sdir, sname, ddir, name, &sb);
  if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
    return clone_special_at(ddir, name, &sb);
  int sfd = bs__sys_openat(sdir, sname, O_RDONLY | O_NOFOLLOW | (S_ISDIR(sb.st_mode) ? O_DIRECTORY : 0), 0);
  if (sfd < 0)
    return -errno;
  int rc;
  if (S_ISREG(sb.st_mode)) {
    rc = clone_file_at(sfd, &sb, ddir, name, t);
  } else if (bs__sys_mkdirat(ddir, name, 0700) != 0) {
    rc = -errno;
  } else {
    int dfd = bs__sys_openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    rc = dfd < 0 ? -errno : clone_dir_contents(sfd, dfd, depth, t);
    /* Metadata last: a read-only mode must not stop the children, and
     * making them would change the directory's times. */
    if (rc == 0)
      rc = copy_xattrs(sfd, dfd);
    if (rc == 0)
      rc = copy_meta(dfd, &sb);
    if (rc == 0)
      rc = mark_immutable(t, dfd);
    if (dfd >= 0)
      close(dfd);
  }
  close(sfd);
  return rc;
}

int bs__linux_clone_tree_at(const bs__hpath *src, const bs__hpath *dst, unsigned flags) {
  bs__at s, d;
  int rc = bs__resolve(src, &s);
  if (rc != 0)
    return rc;
  if ((rc = bs__resolve(dst, &d)) != 0) {
    close(s.dir);
    return rc;
  }
  struct stat sb;
  rc = bs__sys_fstatat(s.dir, s.leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
  if (rc == 0 && !S_ISDIR(sb.st_mode))
    rc = -ENOTDIR;
  if (rc == 0 && bs__sys_fstatat(d.dir, d.leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0)
    rc = -EEXIST;
  if (rc == 0) {
    tree_ctx t = {.flags = flags, .marking = true};
    rc = clone_entry(s.dir, s.leaf, d.dir, d.leaf, 0, &t);
    if (rc != 0 && rc != -EEXIST)
      bs__linux_undo_at(d.dir, d.leaf);
  }
  close(s.dir);
  close(d.dir);
  return rc;
}

int bs__linux_clone_tree(const char *src, const char *dst, unsigned flags) {
  bs__hpath s = bs__hpath_host(src), d = bs__hpath_host(dst);
  return bs__linux_clone_tree_at(&s, &d, flags);
}

/* ---- the backend ------------------------------------------------------------------ */

static const bs_host_os linux_os = {
  .name = "linux",
  BS__POSIX_FILE_OPS,
  .fs_type = linux_fs_type,
  .caps = bs__linux_caps,
  .clone = bs__linux_clone,
  .make_root = bs__linux_make_root,
  .reserve = bs__linux_reserve,
  .snap_create = bs__linux_snap_create,
  .branch_create = bs__linux_branch_create,
  .tree_delete = bs__linux_tree_delete,
  .tree_may_delete = bs__linux_tree_may_delete,
};

static int real_open(bs_store **out, const bs_open_opts *opts, const char *inner) {
  if (inner || !opts->root)
    return BS_EINVALID;
  return bs__host_open(out, &bs__real_ops, &linux_os, opts->root, opts->flags);
}

static int real_create_store(const bs_open_opts *opts, const char *inner) {
  if (inner)
    return BS_EINVALID;
  return bs__host_create_store(&linux_os, opts->root);
}

const bs_backend_ops bs__real_ops = {
  .version = BS_BACKEND_OPS_VERSION,
  .name = "real",
  .open = real_open,
  .create_store = real_create_store,
  BS__HOST_METHODS,
};
