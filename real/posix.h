/* Portable POSIX file operations, the file half of the bs_host_os table on
 * Linux and macOS: each resolves its place beneath the store's root
 * (real/resolve.h) and acts on the last component with *at calls.  Each
 * returns 0 or -errno and leaves nothing half-done that it can undo (a
 * failed create leaves no file).
 * Every OS call goes through real/sys.h, where the libfiu points are. */
#ifndef BS_REAL_POSIX_H
#define BS_REAL_POSIX_H

#include <dirent.h>

#include "real/host.h"

int bs__px_create(void *ctx, const bs__hpath *p, uint32_t mode);
int bs__px_mkdir(void *ctx, const bs__hpath *p, uint32_t mode);
int bs__px_whiteout(void *ctx, const bs__hpath *p);
int bs__px_pwrite(void *ctx, const bs__hpath *p, uint64_t off, const void *buf, size_t len);
int bs__px_pread(void *ctx, const bs__hpath *p, uint64_t off, void *buf, size_t len, size_t *nread);
int bs__px_truncate(void *ctx, const bs__hpath *p, uint64_t size);
int bs__px_unlink(void *ctx, const bs__hpath *p);
int bs__px_rmdir(void *ctx, const bs__hpath *p);
int bs__px_rename(void *ctx, const bs__hpath *from, const bs__hpath *to);
int bs__px_stat(void *ctx, const bs__hpath *p, bs_stat_info *out);
int bs__px_chmod(void *ctx, const bs__hpath *p, uint32_t mode);
int bs__px_chown(void *ctx, const bs__hpath *p, uint32_t uid, uint32_t gid);
int bs__px_utimens(void *ctx, const bs__hpath *p, int64_t atime_ns, int64_t mtime_ns);
int bs__px_readdir(void *ctx, const bs__hpath *p, bs_readdir_cb cb, void *cb_ctx);
int bs__px_setxattr(void *ctx, const bs__hpath *p, const char *name, const void *val, size_t len);
int bs__px_getxattr(void *ctx, const bs__hpath *p, const char *name, void *buf, size_t cap, size_t *len);
int bs__px_removexattr(void *ctx, const bs__hpath *p, const char *name);
int bs__px_listxattr(void *ctx, const bs__hpath *p, bs_xattr_cb cb, void *cb_ctx);
int bs__px_sync(void *ctx, const bs__hpath *p);
int bs__px_syncfs(void *ctx, const char *root);
int bs__px_usage(void *ctx, const char *root, bs_usage *out);
int bs__px_lock(void *ctx, const bs__hpath *p, int exclusive, int *handle);
void bs__px_unlock(void *ctx, int handle);
int bs__px_root_open(void *ctx, const char *abs, bs__hroot *out);
void bs__px_root_close(void *ctx, bs__hroot *root);
int bs__px_symlink(void *ctx, const char *target, const bs__hpath *p);
int bs__px_readlink(void *ctx, const bs__hpath *p, char *buf, size_t cap, size_t *len);
int bs__px_link(void *ctx, const bs__hpath *from, const bs__hpath *to);

/* The file half of a bs_host_os initializer. */
#define BS__POSIX_FILE_OPS                                                                  \
  .create = bs__px_create, .mkdir = bs__px_mkdir, .pwrite = bs__px_pwrite,                  \
  .whiteout = bs__px_whiteout,                                                              \
  .pread = bs__px_pread, .truncate = bs__px_truncate, .unlink = bs__px_unlink,              \
  .rmdir = bs__px_rmdir, .rename = bs__px_rename, .stat = bs__px_stat,                      \
  .chmod = bs__px_chmod, .chown = bs__px_chown, .utimens = bs__px_utimens,                  \
  .readdir = bs__px_readdir, .setxattr = bs__px_setxattr, .getxattr = bs__px_getxattr,      \
  .removexattr = bs__px_removexattr, .listxattr = bs__px_listxattr, .sync = bs__px_sync,    \
  .syncfs = bs__px_syncfs, .usage = bs__px_usage, .lock = bs__px_lock, .unlock = bs__px_unlock,   \
  .root_open = bs__px_root_open, .root_close = bs__px_root_close, .symlink = bs__px_symlink,           \
  .readlink = bs__px_readlink, .link = bs__px_link

/* Sorted list of names (readdir and listxattr hand them out in byte order). */
typedef struct bs__names {
  char **v;
  size_t n, cap;
} bs__names;
int bs__names_add(bs__names *l, const char *name, size_t len);
void bs__names_sort(bs__names *l);
/* Every name of directory stream @d but "." and "..", sorted.  0 or -errno
 * (then @out is empty). */
int bs__names_read(DIR *d, bs__names *out);
/* The same for the directory open at @fd, which stays open and unmoved. */
int bs__names_read_fd(int fd, bs__names *out);
void bs__names_free(bs__names *l);

#endif
