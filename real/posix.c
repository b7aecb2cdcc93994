/* Portable POSIX file operations on host paths (see posix.h). */
#include "real/posix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "real/sys.h"

/* ---- sorted name lists ---------------------------------------------------- */

int bs__names_add(bs__names *l, const char *name, size_t len) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **v = realloc(l->v, cap * sizeof(*v));
    if (!v)
      return -ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  char *s = malloc(len + 1);
  if (!s)
    return -ENOMEM;
  memcpy(s, name, len);
  s[len] = '\0';
  l->v[l->n++] = s;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void bs__names_sort(bs__names *l) {
  if (l->n > 1)
    qsort(l->v, l->n, sizeof(*l->v), cmp_names);
}

int bs__names_read(DIR *d, bs__names *out) {
  *out = (bs__names){0};
  int rc = 0;
  struct dirent *de;
  errno = 0;
  while (rc == 0 && (de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      rc = bs__names_add(out, de->d_name, strlen(de->d_name));
    errno = 0;
  }
  if (rc == 0 && errno != 0)
    rc = -errno;
  if (rc == 0)
    bs__names_sort(out);
  else
    bs__names_free(out);
  return rc;
}

int bs__names_read_fd(int fd, bs__names *out) {
  *out = (bs__names){0};
  int lfd = dup(fd); /* closedir closes it; @fd stays the caller's */
  if (lfd < 0)
    return -errno;
  DIR *d = fdopendir(lfd);
  if (!d) {
    int e = errno;
    close(lfd);
    return -e;
  }
  int rc = bs__names_read(d, out);
  closedir(d);
  return rc;
}

void bs__names_free(bs__names *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  *l = (bs__names){0};
}

/* ---- helpers --------------------------------------------------------------- */

/* close(2), keeping the first error: a failed close after writes is an error. */
static int close_keep(int fd, int rc) {
  if (close(fd) != 0 && rc == 0)
    return -errno;
  return rc;
}

/* Open @path without following a final symlink (a symlink is not a file). */
static int open_file(const char *path, int flags) {
  int fd = bs__sys_open(path, flags | O_NOFOLLOW, 0);
  if (fd < 0)
    return errno == ELOOP ? -EINVAL : -errno;
  return fd;
}

/* ---- file operations ------------------------------------------------------- */

int bs__px_create(void *ctx, const char *path, uint32_t mode) {
  (void)ctx;
  int fd = bs__sys_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (fd < 0)
    return -errno;
  /* fchmod, not the open mode: the umask must not change what was asked. */
  int rc = bs__sys_fchmod(fd, (mode_t)(mode & 07777)) == 0 ? 0 : -errno;
  rc = close_keep(fd, rc);
  if (rc != 0)
    unlink(path);
  return rc;
}

int bs__px_mkdir(void *ctx, const char *path, uint32_t mode) {
  (void)ctx;
  if (bs__sys_mkdir(path, 0700) != 0)
    return -errno;
  int fd = bs__sys_open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  int rc = fd < 0 ? -errno : 0;
  if (rc == 0) {
    rc = bs__sys_fchmod(fd, (mode_t)(mode & 07777)) == 0 ? 0 : -errno;
    rc = close_keep(fd, rc);
  }
  if (rc != 0)
    rmdir(path);
  return rc;
}

/* pwrite(2) until done.  A write that fails part-way cannot take back the
 * bytes it wrote below the old end of the file, but it must not leave the
 * file longer than it was (the sim's writes are all or nothing): the old
 * size is restored, which also frees what the failed write allocated past
 * it.  docs/guarantees.md, "Failed writes". */
int bs__px_pwrite(void *ctx, const char *path, uint64_t off, const void *buf, size_t len) {
  (void)ctx;
  if (off > (uint64_t)INT64_MAX - len)
    return -EFBIG;
  int fd = open_file(path, O_WRONLY);
  if (fd < 0)
    return fd;
  struct stat sb;
  int rc = fstat(fd, &sb) == 0 ? 0 : -errno;
  uint64_t old_size = rc == 0 ? (uint64_t)sb.st_size : 0;
  const char *p = buf;
  while (rc == 0 && len > 0) {
    ssize_t n = bs__sys_pwrite(fd, p, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      break;
    }
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  if (rc != 0 && off > old_size)
    (void)bs__sys_ftruncate(fd, (off_t)old_size); /* best effort: the write's error is the one to report */
  return close_keep(fd, rc);
}

int bs__px_pread(void *ctx, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  (void)ctx;
  *nread = 0;
  if (off > (uint64_t)INT64_MAX)
    return 0;
  int fd = open_file(path, O_RDONLY);
  if (fd < 0)
    return fd;
  struct stat sb;
  int rc = fstat(fd, &sb) == 0 ? 0 : -errno;
  if (rc == 0 && S_ISDIR(sb.st_mode))
    rc = -EISDIR;
  char *p = buf;
  while (rc == 0 && len > 0) {
    ssize_t n = bs__sys_pread(fd, p, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      break;
    }
    if (n == 0)
      break;
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
    *nread += (size_t)n;
  }
  if (rc != 0)
    *nread = 0;
  close(fd);
  return rc;
}

int bs__px_truncate(void *ctx, const char *path, uint64_t size) {
  (void)ctx;
  if (size > (uint64_t)INT64_MAX)
    return -EFBIG;
  int fd = open_file(path, O_WRONLY);
  if (fd < 0)
    return fd;
  int rc = bs__sys_ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
  return close_keep(fd, rc);
}

int bs__px_unlink(void *ctx, const char *path) {
  (void)ctx;
  struct stat sb;
  if (lstat(path, &sb) != 0)
    return -errno;
  if (S_ISDIR(sb.st_mode))
    return -EISDIR; /* Linux says EISDIR, macOS EPERM: one answer */
  return bs__sys_unlink(path) == 0 ? 0 : -errno;
}

int bs__px_rmdir(void *ctx, const char *path) {
  (void)ctx;
  if (bs__sys_rmdir(path) == 0)
    return 0;
  return errno == EEXIST ? -ENOTEMPTY : -errno;
}

int bs__px_rename(void *ctx, const char *from, const char *to) {
  (void)ctx;
  return bs__sys_rename(from, to) == 0 ? 0 : -errno;
}

/* Seconds + nanoseconds as int64 nanoseconds, saturating.  A negative
 * second is taken one up first, so that INT64_MIN itself (second
 * -9223372037, nanosecond 145224192, which utimens can store) does not
 * overflow on the way. */
static int64_t sec_ns(int64_t sec, int64_t nsec) {
  if (sec < 0) {
    sec += 1;
    nsec -= 1000000000LL;
  }
  if (sec > INT64_MAX / 1000000000LL || (sec == INT64_MAX / 1000000000LL && nsec > INT64_MAX % 1000000000LL))
    return INT64_MAX;
  if (sec < INT64_MIN / 1000000000LL || (sec == INT64_MIN / 1000000000LL && nsec < INT64_MIN % 1000000000LL))
    return INT64_MIN;
  return sec * 1000000000LL + nsec;
}

#ifndef __linux__
static int64_t ts_ns(struct timespec ts) { return sec_ns(ts.tv_sec, ts.tv_nsec); }
#endif

static bs_file_kind kind_of(mode_t m) {
  return S_ISDIR(m) ? BS_KIND_DIR : S_ISLNK(m) ? BS_KIND_SYMLINK : BS_KIND_FILE;
}

int bs__px_stat(void *ctx, const char *path, bs_stat_info *out) {
  (void)ctx;
  memset(out, 0, sizeof(*out));
#ifdef __linux__
  struct statx sx;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) != 0)
    return -errno;
  out->ino = sx.stx_ino;
  out->kind = kind_of(sx.stx_mode);
  out->mode = sx.stx_mode & 07777;
  out->uid = sx.stx_uid;
  out->gid = sx.stx_gid;
  out->nlink = sx.stx_nlink;
  out->size = sx.stx_size;
  out->blocks = sx.stx_blocks;
#define SX_NS(t) sec_ns((t).tv_sec, (t).tv_nsec)
  out->atime_ns = SX_NS(sx.stx_atime);
  out->mtime_ns = SX_NS(sx.stx_mtime);
  out->ctime_ns = SX_NS(sx.stx_ctime);
  out->btime_ns = (sx.stx_mask & STATX_BTIME) ? SX_NS(sx.stx_btime) : 0;
#undef SX_NS
#else
  struct stat sb;
  if (lstat(path, &sb) != 0)
    return -errno;
  out->ino = (uint64_t)sb.st_ino;
  out->kind = kind_of(sb.st_mode);
  out->mode = sb.st_mode & 07777;
  out->uid = sb.st_uid;
  out->gid = sb.st_gid;
  out->nlink = (uint32_t)sb.st_nlink;
  out->size = (uint64_t)sb.st_size;
  out->blocks = (uint64_t)sb.st_blocks;
  out->atime_ns = ts_ns(sb.st_atimespec);
  out->mtime_ns = ts_ns(sb.st_mtimespec);
  out->ctime_ns = ts_ns(sb.st_ctimespec);
  out->btime_ns = ts_ns(sb.st_birthtimespec);
#endif
  return 0;
}

int bs__px_chmod(void *ctx, const char *path, uint32_t mode) {
  (void)ctx;
  int fd = bs__sys_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0)
    return errno == ELOOP ? -EINVAL : -errno; /* symlinks have no mode of their own */
  int rc = bs__sys_fchmod(fd, (mode_t)(mode & 07777)) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__px_chown(void *ctx, const char *path, uint32_t uid, uint32_t gid) {
  (void)ctx;
  uid_t u = uid == BS_ID_KEEP ? (uid_t)-1 : (uid_t)uid;
  gid_t g = gid == BS_ID_KEEP ? (gid_t)-1 : (gid_t)gid;
  return bs__sys_lchown(path, u, g) == 0 ? 0 : -errno;
}

static struct timespec ns_ts(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ns / 1000000000LL);
  ts.tv_nsec = (long)(ns % 1000000000LL);
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

int bs__px_utimens(void *ctx, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  (void)ctx;
  struct timespec ts[2] = {ns_ts(atime_ns), ns_ts(mtime_ns)};
  return bs__sys_utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

int bs__px_readdir(void *ctx, const char *path, bs_readdir_cb cb, void *cb_ctx) {
  (void)ctx;
  int fd = bs__sys_open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  if (fd < 0)
    return errno == ELOOP ? -ENOTDIR : -errno;
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return -e;
  }
  bs__names names;
  int rc = bs__names_read(d, &names);
  /* Kinds from lstat relative to the directory: d_type may be DT_UNKNOWN. */
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    struct stat sb;
    if (fstatat(dirfd(d), names.v[i], &sb, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT)
        continue; /* removed since the listing */
      rc = -errno;
      break;
    }
    if (cb(cb_ctx, names.v[i], kind_of(sb.st_mode)) != 0)
      break;
  }
  bs__names_free(&names);
  closedir(d);
  return rc;
}

int bs__px_setxattr(void *ctx, const char *path, const char *name, const void *val, size_t len) {
  (void)ctx;
  return bs__sys_lsetxattr(path, name, val, len) == 0 ? 0 : -errno;
}

int bs__px_getxattr(void *ctx, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  (void)ctx;
  ssize_t n = bs__sys_lgetxattr(path, name, cap ? buf : NULL, cap);
  if (n < 0)
    return -errno;
  *len = (size_t)n;
  return 0;
}

int bs__px_removexattr(void *ctx, const char *path, const char *name) {
  (void)ctx;
  return bs__sys_lremovexattr(path, name) == 0 ? 0 : -errno;
}

int bs__px_listxattr(void *ctx, const char *path, bs_xattr_cb cb, void *cb_ctx) {
  (void)ctx;
  char *buf = NULL;
  ssize_t n = 0;
  for (int tries = 0;; tries++) {
    n = bs__sys_llistxattr(path, NULL, 0);
    if (n < 0)
      return -errno;
    free(buf);
    buf = malloc((size_t)n + 1);
    if (!buf)
      return -ENOMEM;
    n = bs__sys_llistxattr(path, buf, (size_t)n + 1);
    if (n >= 0)
      break;
    if (errno != ERANGE || tries == 8) {
      int e = errno;
      free(buf);
      return -e;
    }
  }
  bs__names names = {0};
  int rc = 0;
  for (ssize_t i = 0; rc == 0 && i < n;) {
    size_t l = strnlen(buf + i, (size_t)(n - i));
    if (l > 0)
      rc = bs__names_add(&names, buf + i, l);
    i += (ssize_t)l + 1;
  }
  free(buf);
  bs__names_sort(&names);
  for (size_t i = 0; rc == 0 && i < names.n; i++)
    if (cb(cb_ctx, names.v[i]) != 0)
      break;
  bs__names_free(&names);
  return rc;
}

int bs__px_sync(void *ctx, const char *path) {
  (void)ctx;
  int fd = bs__sys_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0)
    return errno == ELOOP ? 0 : -errno; /* a symlink is durable with its directory */
  int rc = bs__sys_fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__px_syncfs(void *ctx, const char *root) {
  (void)ctx;
  int fd = bs__sys_open(root, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0)
    return -errno;
  int rc = 0;
  if (bs__sys_fault("bs/real/fsync"))
    rc = -errno;
#ifdef __linux__
  else if (syncfs(fd) != 0)
    rc = -errno;
#else
  else if (fsync(fd) != 0)
    rc = -errno;
  else
    sync();
#endif
  close(fd);
  return rc;
}

int bs__px_usage(void *ctx, const char *root, bs_usage *out) {
  (void)ctx;
  memset(out, 0, sizeof(*out));
  struct statvfs sv;
  if (bs__sys_fault("bs/real/statfs") || statvfs(root, &sv) != 0)
    return -errno;
  uint64_t bs = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
  out->block_size = bs;
  out->total_bytes = (uint64_t)sv.f_blocks * bs;
  /* Free as an unprivileged writer sees it (f_bavail); used is the rest, so
   * used + free == total as in the sim. */
  uint64_t avail = (uint64_t)sv.f_bavail * bs;
  out->free_bytes = avail < out->total_bytes ? avail : out->total_bytes;
  out->used_bytes = out->total_bytes - out->free_bytes;
  out->shared_bytes = 0; /* not reported by statvfs (docs/real.md) */
  return 0;
}

/* flock(2): released by close, so a crashed holder never blocks the next. */
int bs__px_lock(void *ctx, const char *path, int exclusive, int *handle) {
  (void)ctx;
  int fd = bs__sys_open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && errno == ENOENT && !exclusive) {
    *handle = -1; /* no reserved directory yet: nothing to read, nothing to lock */
    return 0;
  }
  if (fd < 0)
    return -errno;
  int rc;
  while ((rc = flock(fd, exclusive ? LOCK_EX : LOCK_SH)) != 0 && errno == EINTR)
    ;
  if (rc != 0) {
    rc = -errno;
    close(fd);
    return rc;
  }
  *handle = fd;
  return 0;
}

void bs__px_unlock(void *ctx, int handle) {
  (void)ctx;
  if (handle >= 0)
    close(handle);
}
