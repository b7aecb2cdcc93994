/* The Linux half of the real backend (linux.c), for store.c's registry and
 * for the tests of the pieces snapshots build on. */
#ifndef BS_REAL_LINUX_H
#define BS_REAL_LINUX_H

#include <sys/stat.h>

#include "real/host.h"

/* The "real" backend on Linux. */
extern const bs_backend_ops bs__real_ops;

/* statfs of @path: its type, the name of that type ("btrfs", "overlay",
 * "other"), and the longest name it allows (may be NULL).  0 or -errno. */
int bs__linux_statfs(const char *path, bs_fs_type *type, char name[17], uint16_t *name_max);
/* Capabilities of the volume holding @root (bs_host_os.caps). */
int bs__linux_caps(void *ctx, const char *root, bs_caps *out);
/* Clone regular file @src to @dst (which must not exist) with FICLONE,
 * keeping xattrs (ACLs too), owner when root, mode and times.  All or
 * nothing.  0 or -errno (-EOPNOTSUPP where the filesystem cannot share). */
int bs__linux_clone(void *ctx, const bs__hpath *src, const bs__hpath *dst);

/* Options of bs__linux_clone_tree. */
#define BS__TREE_SKIP_BS 1u    /* leave out @src's top-level entry ".bs" */
#define BS__TREE_COPY 2u       /* copy the bytes instead of FICLONE (never shares) */
#define BS__TREE_IMMUTABLE 4u  /* mark every file and directory FS_IMMUTABLE_FL | FS_NOATIME_FL */
/* Clone directory tree @src to @dst (which must not exist), recursively:
 * files by FICLONE (or a byte copy), symlinks and special files recreated,
 * metadata kept (but not inode flags), hard links become separate clones.
 * All or nothing: on failure @dst is removed. */
int bs__linux_clone_tree_at(const bs__hpath *src, const bs__hpath *dst, unsigned flags);
/* The same for absolute host paths (the tests). */
int bs__linux_clone_tree(const char *src, const char *dst, unsigned flags);

/* ---- snapshots and branches (linux_snap.c; the contracts are in host.h) ---- */
int bs__linux_make_root(void *ctx, const char *path);
int bs__linux_reserve(void *ctx, const bs__hpath *root, const bs__hpath *dir);
int bs__linux_snap_create(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst,
                          uint8_t uuid[16]);
int bs__linux_branch_create(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst);
int bs__linux_tree_delete(void *ctx, bs_tree_method m, const bs__hpath *p);

/* The root directory of a btrfs subvolume has inode 256; no other directory
 * of a subvolume has.  1 for the root of one (@fd open on it, @sb its
 * fstat), 0 for any other directory or file, -errno when statfs fails. */
int bs__linux_is_subvol_root(int fd, const struct stat *sb);
/* bs_host_os.tree_may_delete (linux_perm.c). */
int bs__linux_tree_may_delete(void *ctx, bs_tree_method m, const bs__hpath *p, char *why, size_t cap);

/* Subvolume ids a removal deleted, to wait for the cleaner on. */
typedef struct bs__subvols {
  uint64_t *v;
  size_t n, cap;
} bs__subvols;
/* Remove whatever is at @dirfd/@name, whatever it holds: immutable and
 * append-only flags are cleared first, btrfs subvolumes (read-only ones too,
 * nested ones first) are deleted by ioctl and their ids added to @gone (may
 * be NULL).  0 when it is gone (or was not there), else -errno. */
int bs__linux_remove_at(int dirfd, const char *name, bs__subvols *gone);
/* Take back @dirfd/@name that a failed call made: bs__linux_remove_at in a
 * cleanup scope (sys.h), so that only the point bs/real/cleanup fails it.
 * 0 when it is gone, else -errno. */
int bs__linux_undo_at(int dirfd, const char *name);
/* bs__linux_remove_at for @path (-ENOENT if there is nothing).  With
 * @wait, also syncfs and, if it deleted subvolumes, wait until the btrfs
 * cleaner has released their blocks: statvfs then shows the space free. */
int bs__linux_remove_tree_at(const bs__hpath *p, bool wait);
/* The same for an absolute host path (the tests and their fixtures). */
int bs__linux_remove_tree(const char *path, bool wait);

#endif
