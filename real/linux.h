/* The Linux half of the real backend (linux.c), for store.c's registry and
 * for the tests of the pieces snapshots build on. */
#ifndef BS_REAL_LINUX_H
#define BS_REAL_LINUX_H

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
int bs__linux_clone(void *ctx, const char *src, const char *dst);
/* Clone directory tree @src to @dst (which must not exist), recursively:
 * files by FICLONE, symlinks and special files recreated, metadata kept, hard
 * links become separate clones.  All or nothing: on failure @dst is removed. */
int bs__linux_clone_tree(const char *src, const char *dst);

#endif
