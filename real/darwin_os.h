/* Inside the darwin host table, shared by darwin.c (file forwarding,
 * probe, caps, clone) and darwin_snap.c (snapshots, branches, diskutil). */
#ifndef BS_REAL_DARWIN_OS_H
#define BS_REAL_DARWIN_OS_H

#include "real/darwin.h"
#include "real/posix.h"

/* The context of a darwin host table: the table itself (its ctx points back
 * here), copies of the two tables it is built on, and the words of the last
 * failure (bs_host_os.last_detail). */
typedef struct bs__darwin_os {
  bs_host_os os;
  bs_darwin_sys sys;
  bs_host_os files;
  char detail[256];
} bs__darwin_os;

/* Record why a platform operation fails; returns @neg_errno. */
int bs__darwin_fail(bs__darwin_os *d, int neg_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when @sys has every snapshot member (mount_info ... random). */
bool bs__darwin_sys_has_snapshots(const bs_darwin_sys *sys);

/* ---- trees (darwin_tree.c) ---- */
/* "@a/@b", malloc'd or NULL; a trailing '/' of @a is dropped ("/" gives "/@b"). */
char *bs__darwin_join(const char *a, const char *b);
/* The names in directory @path, sorted; 0 or -errno (then @out is empty). */
int bs__darwin_list_dir(const bs__darwin_os *d, const char *path, bs__names *out);
/* Remove @path and everything below it (0 if it does not exist). */
int bs__darwin_remove_tree(bs__darwin_os *d, const char *path);
/* Make @dst (must not exist) a tree like @src without @src's top-level
 * ".bs": each entry cloned (a byte copy when @copy, or where clonefile
 * answers EXDEV), the root's owner, xattrs, mode and times copied last.
 * All or nothing. */
int bs__darwin_copy_tree(bs__darwin_os *d, const char *src, const char *dst, bool copy);

/* The snapshot half of the table (darwin_snap.c); each clears the detail first. */
int bs__darwin_make_root(void *ctx, const char *path);
int bs__darwin_reserve(void *ctx, const bs__hpath *root, const bs__hpath *dir);
int bs__darwin_snap_create(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst,
                           uint8_t uuid[16]);
int bs__darwin_branch_create(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst);
int bs__darwin_tree_delete(void *ctx, bs_tree_method m, const bs__hpath *p);

#endif
