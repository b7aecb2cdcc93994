/* Portable POSIX file operations on host paths (see posix.h). */
#include "real/posix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif
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
  while (rc == 0 && (de = bs__sys_readdir(d)) != NULL) {
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
  DIR *d = bs__sys_fdopendir(lfd);
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

/* Resolve @p for unlink or rmdir: its directory and leaf, never followed,
 * a trailing '/' checked (ENOTDIR but for a directory, as the kernel). */
static int locate_entry(const bs__hpath *p, bs__at *at) {
  int rc = bs__resolve(p, at);
  if (rc == 0 && (rc = bs__at_check_dir(at)) != 0)
    close(at->dir);
  return rc;
}

/* Take back entry @leaf of @dir that a failed call made (@flags:
 * AT_REMOVEDIR for a directory), in a cleanup scope (sys.h). */
static void undo_entry(int dir, const char *leaf, int flags) {
  bs__sys_cleanup_begin();
  (void)bs__sys_unlinkat(dir, leaf, flags); /* best effort: the call's own error is the one to report */
  bs__sys_cleanup_end();
}

/* ---- file operations ------------------------------------------------------- */

int bs__px_create(void *ctx, const bs__hpath *p, uint32_t mode) {
  (void)ctx;
  bs__at at;
  int rc = bs__resolve(p, &at);
  if (rc != 0)
    return rc;
  char nb[BS__AT_NAME_MAX];
  int fd = bs__sys_openat(at.dir, bs__at_name(&at, nb), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (fd < 0) {
    rc = -errno;
  } else {
    /* fchmod, not the open mode: the umask must not change what was asked. */
    rc = bs__sys_fchmod(fd, (mode_t)(mode & 07777)) == 0 ? 0 : -errno;
    rc = close_keep(fd, rc);
    if (rc != 0)
      undo_entry(at.dir, at.leaf, 0);
  }
  close(at.dir);
  return rc;
}

int bs__px_whiteout(void *ctx, const bs__hpath *p) {
  (void)ctx;
  bs__at at;
  int rc = bs__resolve(p, &at);
  if (rc != 0)
    return rc;
  char nb[BS__AT_NAME_MAX];
  /* A character device 0/0: allowed without privilege since Linux 5.8. */
  rc = bs__sys_mknodat(at.dir, bs__at_name(&at, nb), S_IFCHR | 0, makedev(0, 0)) == 0 ? 0 : -errno;
  close(at.dir);
  return rc;
}

int bs__px_mkdir(void *ctx, const bs__hpath *p, uint32_t mode) {
  (void)ctx;
  bs__at at;
  int rc = bs__resolve(p, &at);
  if (rc != 0)
    return rc;
  char nb[BS__AT_NAME_MAX];
  if (bs__sys_mkdirat(at.dir, bs__at_name(&at, nb), 0700) != 0) {
    rc = -errno;
  } else {
    int fd = bs__sys_openat(at.dir, at.leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    rc = fd < 0 ? -errno : 0;
    if (rc == 0) {
      rc = bs__sys_fchmod(fd, (mode_t)(mode & 07777)) == 0 ? 0 : -errno;
      rc = close_keep(fd, rc);
    }
    if (rc != 0)
      undo_entry(at.dir, at.leaf, AT_REMOVEDIR);
  }
  close(at.dir);
  return rc;
}

/* pwrite(2) until done.  A write that fails part-way cannot take back the
 * bytes it wrote below the old end of the file, but it must not leave the
 * file longer than it was (the sim's writes are all or nothing): the old
 * size is restored, which also frees what the failed write allocated past
 * it.  docs/guarantees.md, "Failed writes". */
int bs__px_pwrite(void *ctx, const bs__hpath *p, uint64_t off, const void *buf, size_t len) {
  (void)ctx;
  if (off > (uint64_t)INT64_MAX - len)
    return -EFBIG;
  int fd = bs__resolve_open(p, O_WRONLY, EINVAL);
  if (fd < 0)
    return fd;
  struct stat sb;
  int rc = bs__sys_fstat(fd, &sb) == 0 ? 0 : -errno;
  bool sized = rc == 0; /* without the old size there is nothing to restore, and nothing was written */
  uint64_t old_size = sized ? (uint64_t)sb.st_size : 0;
  const char *b = buf;
  while (rc == 0 && len > 0) {
    ssize_t n = bs__sys_pwrite(fd, b, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      break;
    }
    b += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  if (rc != 0 && sized && off > old_size) {
    bs__sys_cleanup_begin();
    (void)bs__sys_ftruncate(fd, (off_t)old_size); /* best effort: the write's error is the one to report */
    bs__sys_cleanup_end();
  }
  return close_keep(fd, rc);
}

int bs__px_pread(void *ctx, const bs__hpath *p, uint64_t off, void *buf, size_t len, size_t *nread) {
  (void)ctx;
  *nread = 0;
  if (off > (uint64_t)INT64_MAX)
    return 0;
  int fd = bs__resolve_open(p, O_RDONLY, EINVAL);
  if (fd < 0)
    return fd;
  struct stat sb;
  int rc = bs__sys_fstat(fd, &sb) == 0 ? 0 : -errno;
  if (rc == 0 && S_ISDIR(sb.st_mode))
    rc = -EISDIR;
  char *b = buf;
  while (rc == 0 && len > 0) {
    ssize_t n = bs__sys_pread(fd, b, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = -errno;
      break;
    }
    if (n == 0)
      break;
    b += n;
    off += (uint64_t)n;
    len -= (size_t)n;
    *nread += (size_t)n;
  }
  if (rc != 0)
    *nread = 0;
  close(fd);
  return rc;
}

int bs__px_truncate(void *ctx, const bs__hpath *p, uint64_t size) {
  (void)ctx;
  if (size > (uint64_t)INT64_MAX)
    return -EFBIG;
  int fd = bs__resolve_open(p, O_WRONLY, EINVAL);
  if (fd < 0)
    return fd;
  int rc = bs__sys_ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
  return close_keep(fd, rc);
}

int bs__px_unlink(void *ctx, const bs__hpath *p) {
  (void)ctx;
  bs__at at;
  int rc = locate_entry(p, &at);
  if (rc != 0)
    return rc;
  struct stat sb;
  if (bs__sys_fstatat(at.dir, at.leaf, &sb, AT_SYMLINK_NOFOLLOW) != 0)
    rc = -errno;
  else if (S_ISDIR(sb.st_mode))
    rc = -EISDIR; /* Linux says EISDIR, macOS EPERM: one answer */
  else if (bs__sys_unlinkat(at.dir, at.leaf, 0) != 0)
    rc = -errno;
  close(at.dir);
  return rc;
}

/* Resolve the two places of a rename or link (neither followed): 0 with
 * both dirs open (close them), or the first failure with none open. */
static int resolve_both(const bs__hpath *from, bs__at *f, const bs__hpath *to, bs__at *t) {
  int rc = bs__resolve(from, f);
  if (rc == 0 && (rc = bs__resolve(to, t)) != 0)
    close(f->dir);
  return rc;
}

/* A symlink at @p holding @target (never followed: the last component is
 * made, a '/' after it is ENOENT as symlinkat says). */
int bs__px_symlink(void *ctx, const char *target, const bs__hpath *p) {
  (void)ctx;
  bs__at at;
  int rc = bs__resolve(p, &at);
  if (rc != 0)
    return rc;
  char nb[BS__AT_NAME_MAX];
  if (bs__sys_symlinkat(target, at.dir, bs__at_name(&at, nb)) != 0)
    rc = -errno;
  close(at.dir);
  return rc;
}

/* The target of symlink @p (never followed): *@len its length; -ERANGE
 * when it does not fit in @cap - 1 bytes (nothing is promised in @buf). */
int bs__px_readlink(void *ctx, const bs__hpath *p, char *buf, size_t cap, size_t *len) {
  (void)ctx;
  bs__at at;
  int rc = bs__resolve_lookup(p, &at);
  if (rc != 0)
    return rc;
  ssize_t n = bs__sys_readlinkat(at.dir, at.leaf, buf, cap);
  if (n < 0)
    rc = errno == ENOENT ? -ENOENT : -errno; /* EINVAL: not a symlink */
  else if ((size_t)n >= cap)
    rc = -ERANGE;
  else
    *len = (size_t)n;
  close(at.dir);
  return rc;
}

/* A hard link @to of @from, neither followed (linkat without
 * AT_SYMLINK_FOLLOW); both are resolved confined, each in its tree. */
int bs__px_link(void *ctx, const bs__hpath *from, const bs__hpath *to) {
  (void)ctx;
  bs__at f, t;
  int rc = resolve_both(from, &f, to, &t);
  if (rc != 0)
    return rc;
  rc = bs__at_check_dir(&f);
  char nb[BS__AT_NAME_MAX];
  if (rc == 0 && bs__sys_linkat(f.dir, f.leaf, t.dir, bs__at_name(&t, nb), 0) != 0)
    rc = -errno;
  close(t.dir);
  close(f.dir);
  return rc;
}

int bs__px_rmdir(void *ctx, const bs__hpath *p) {
  (void)ctx;
  bs__at at;
  int rc = locate_entry(p, &at);
  if (rc != 0)
    return rc;
  if (bs__sys_unlinkat(at.dir, at.leaf, AT_REMOVEDIR) != 0)
    rc = errno == EEXIST ? -ENOTEMPTY : -errno;
  close(at.dir);
  return rc;
}

int bs__px_rename(void *ctx, const bs__hpath *from, const bs__hpath *to) {
  (void)ctx;
  bs__at f, t;
  int rc = resolve_both(from, &f, to, &t);
  if (rc != 0)
    return rc;
  /* The kernel's order: both names are looked up (a name too long is met
   * there) before the source's '/' is judged. */
  if (strlen(f.leaf) > NAME_MAX || strlen(t.leaf) > NAME_MAX)
    rc = -ENAMETOOLONG;
  if (rc == 0)
    rc = bs__at_check_dir(&f);
  char nb[BS__AT_NAME_MAX];
  if (rc == 0 && bs__sys_renameat(f.dir, f.leaf, t.dir, bs__at_name(&t, nb)) != 0)
    rc = -errno;
  close(t.dir);
  close(f.dir);
  return rc;
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

int bs__px_stat(void *ctx, const bs__hpath *p, bs_stat_info *out) {
  (void)ctx;
  memset(out, 0, sizeof(*out));
  bs__at at;
  int rc = bs__resolve_lookup(p, &at);
  if (rc != 0)
    return rc;
#ifdef __linux__
  struct statx sx;
  rc = bs__sys_statx(at.dir, at.leaf, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) == 0 ? 0 : -errno;
  close(at.dir);
  if (rc != 0)
    return rc;
  out->ino = sx.stx_ino;
  out->kind = kind_of(sx.stx_mode);
  out->mode = sx.stx_mode & 07777;
  out->uid = sx.stx_uid;
  out->gid = sx.stx_gid;
  out->nlink = sx.stx_nlink;
  out->size = sx.stx_size;
  out->blocks = sx.stx_blocks;
  out->atime_ns = sec_ns(sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec);
  out->mtime_ns = sec_ns(sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec);
  out->ctime_ns = sec_ns(sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec);
  out->btime_ns = (sx.stx_mask & STATX_BTIME) ? sec_ns(sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec) : 0;
#else
  struct stat sb;
  rc = bs__sys_fstatat(at.dir, at.leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
  close(at.dir);
  if (rc != 0)
    return rc;
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

int bs__px_chmod(void *ctx, const bs__hpath *p, uint32_t mode) {
  (void)ctx;
  int fd = bs__resolve_open(p, O_RDONLY | O_NONBLOCK, EINVAL); /* symlinks have no mode of their own */
  if (fd < 0)
    return fd;
  int rc = bs__sys_fchmod(fd, (mode_t)(mode & 07777)) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__px_chown(void *ctx, const bs__hpath *p, uint32_t uid, uint32_t gid) {
  (void)ctx;
  uid_t u = uid == BS_ID_KEEP ? (uid_t)-1 : (uid_t)uid;
  gid_t g = gid == BS_ID_KEEP ? (gid_t)-1 : (gid_t)gid;
  bs__at at;
  int rc = bs__resolve_lookup(p, &at);
  if (rc != 0)
    return rc;
  rc = bs__sys_fchownat(at.dir, at.leaf, u, g, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
  close(at.dir);
  return rc;
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

int bs__px_utimens(void *ctx, const bs__hpath *p, int64_t atime_ns, int64_t mtime_ns) {
  (void)ctx;
  struct timespec ts[2] = {ns_ts(atime_ns), ns_ts(mtime_ns)};
  bs__at at;
  int rc = bs__resolve_lookup(p, &at);
  if (rc != 0)
    return rc;
  rc = bs__sys_utimensat(at.dir, at.leaf, ts, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
  close(at.dir);
  return rc;
}

int bs__px_readdir(void *ctx, const bs__hpath *p, bs_readdir_cb cb, void *cb_ctx) {
  (void)ctx;
  int fd = bs__resolve_open(p, O_RDONLY | O_DIRECTORY, ENOTDIR);
  if (fd < 0)
    return fd;
  DIR *d = bs__sys_fdopendir(fd);
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
    if (bs__sys_fstatat(dirfd(d), names.v[i], &sb, AT_SYMLINK_NOFOLLOW) != 0) {
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

/* ---- extended attributes ------------------------------------------------------
 * On Linux the l*xattr calls take "/proc/self/fd/<dir>/<leaf>": the leaf is
 * looked up in the directory already resolved, and never followed, so a
 * symlink is its own (as lsetxattr) and a file needs no open (no read
 * permission needed, as lgetxattr).  Elsewhere an fd of the leaf. */

#ifdef __linux__
typedef struct xat {
  bs__at at;
  char path[64 + BS__AT_NAME_MAX];
} xat;

static int xat_open(const bs__hpath *p, xat *x) {
  int rc = bs__resolve_lookup(p, &x->at);
  if (rc == 0)
    snprintf(x->path, sizeof(x->path), "/proc/self/fd/%d/%s", x->at.dir, x->at.leaf);
  return rc;
}

static void xat_close(xat *x) { close(x->at.dir); }

int bs__px_setxattr(void *ctx, const bs__hpath *p, const char *name, const void *val, size_t len) {
  (void)ctx;
  xat x;
  int rc = xat_open(p, &x);
  if (rc != 0)
    return rc;
  rc = bs__sys_lsetxattr(x.path, name, val, len) == 0 ? 0 : -errno;
  xat_close(&x);
  return rc;
}

int bs__px_getxattr(void *ctx, const bs__hpath *p, const char *name, void *buf, size_t cap, size_t *len) {
  (void)ctx;
  xat x;
  int rc = xat_open(p, &x);
  if (rc != 0)
    return rc;
  ssize_t n = bs__sys_lgetxattr(x.path, name, cap ? buf : NULL, cap);
  rc = n < 0 ? -errno : 0;
  if (n >= 0)
    *len = (size_t)n;
  xat_close(&x);
  return rc;
}

int bs__px_removexattr(void *ctx, const bs__hpath *p, const char *name) {
  (void)ctx;
  xat x;
  int rc = xat_open(p, &x);
  if (rc != 0)
    return rc;
  rc = bs__sys_lremovexattr(x.path, name) == 0 ? 0 : -errno;
  xat_close(&x);
  return rc;
}

/* The names, as one buffer of NUL-terminated strings; *@n its length. */
static int list_names(const bs__hpath *p, char **buf, ssize_t *n) {
  xat x;
  int rc = xat_open(p, &x);
  if (rc != 0)
    return rc;
  *buf = NULL;
  for (int tries = 0;; tries++) {
    *n = bs__sys_llistxattr(x.path, NULL, 0);
    if (*n < 0) {
      rc = -errno;
      break;
    }
    free(*buf);
    if (!(*buf = malloc((size_t)*n + 1))) {
      rc = -ENOMEM;
      break;
    }
    *n = bs__sys_llistxattr(x.path, *buf, (size_t)*n + 1);
    if (*n >= 0)
      break;
    if (errno != ERANGE || tries == 8) {
      rc = -errno;
      break;
    }
  }
  if (rc != 0) {
    free(*buf);
    *buf = NULL;
  }
  xat_close(&x);
  return rc;
}
#else
/* No /proc: the calls on an fd of the leaf (a symlink has none here). */
static int xfd(const bs__hpath *p) { return bs__resolve_open(p, O_RDONLY | O_NONBLOCK, EPERM); }

int bs__px_setxattr(void *ctx, const bs__hpath *p, const char *name, const void *val, size_t len) {
  (void)ctx;
  int fd = xfd(p);
  if (fd < 0)
    return fd;
  int rc = bs__sys_fsetxattr(fd, name, val, len) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__px_getxattr(void *ctx, const bs__hpath *p, const char *name, void *buf, size_t cap, size_t *len) {
  (void)ctx;
  int fd = xfd(p);
  if (fd < 0)
    return fd;
  ssize_t n = bs__sys_fgetxattr(fd, name, cap ? buf : NULL, cap);
  int rc = n < 0 ? -errno : 0;
  if (n >= 0)
    *len = (size_t)n;
  close(fd);
  return rc;
}

int bs__px_removexattr(void *ctx, const bs__hpath *p, const char *name) {
  (void)ctx;
  int fd = xfd(p);
  if (fd < 0)
    return fd;
  int rc = bs__sys_fremovexattr(fd, name) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

static int list_names(const bs__hpath *p, char **buf, ssize_t *n) {
  int fd = xfd(p);
  if (fd < 0)
    return fd;
  size_t len = 0;
  int rc = bs__sys_flist_all(fd, buf, &len);
  close(fd);
  *n = (ssize_t)len;
  return rc;
}
#endif

int bs__px_listxattr(void *ctx, const bs__hpath *p, bs_xattr_cb cb, void *cb_ctx) {
  (void)ctx;
  char *buf = NULL;
  ssize_t n = 0;
  int rc = list_names(p, &buf, &n);
  if (rc != 0)
    return rc;
  bs__names names = {0};
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

/* ---- durability, space, locks, roots ------------------------------------------ */

int bs__px_sync(void *ctx, const bs__hpath *p) {
  (void)ctx;
  int fd = bs__resolve_open(p, O_RDONLY | O_NONBLOCK, ELOOP);
  if (fd == -ELOOP)
    return 0; /* a symlink is durable with its directory */
  if (fd < 0)
    return fd;
  int rc = bs__sys_fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__px_syncfs(void *ctx, const char *root) {
  (void)ctx;
  int fd = bs__sys_open(root, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0)
    return -errno;
  int rc = bs__sys_syncfs(fd) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__px_usage(void *ctx, const char *root, bs_usage *out) {
  (void)ctx;
  memset(out, 0, sizeof(*out));
  struct statvfs sv;
  if (bs__sys_statvfs(root, &sv) != 0)
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

/* flock(2): released by close, so a crashed holder never blocks the next.
 * A shared lock opens the file read-only and never makes it, so readers work
 * on a read-only mount; where there is no file there is nothing to wait for
 * (saves are atomic renames).  The failing first change of a store removes
 * the reserved directory, lock file included, while it holds the lock: a
 * waiter then holds a lock on a file that is gone, so the lock is taken
 * again on the file now at @p (-ENOENT for an exclusive lock when the
 * directory is gone: the caller makes it again). */
int bs__px_lock(void *ctx, const bs__hpath *p, int exclusive, int *handle) {
  (void)ctx;
  for (;;) {
    bs__at at;
    int rc = bs__resolve(p, &at);
    int fd = -1;
    if (rc == 0) {
      fd = bs__sys_openat(at.dir, at.leaf, (exclusive ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW, 0600);
      rc = fd >= 0 ? 0 : -errno;
    }
    if (rc == -ENOENT && !exclusive) {
      if (at.dir >= 0)
        close(at.dir);
      *handle = -1;
      return 0;
    }
    if (rc != 0) {
      if (at.dir >= 0)
        close(at.dir);
      return rc;
    }
    while ((rc = bs__sys_flock(fd, exclusive ? LOCK_EX : LOCK_SH)) != 0 && errno == EINTR)
      ;
    struct stat held, now;
    int e = rc != 0 || bs__sys_fstat(fd, &held) != 0                        ? errno
            : bs__sys_fstatat(at.dir, at.leaf, &now, AT_SYMLINK_NOFOLLOW) != 0 ? errno
                                                                             : 0;
    close(at.dir);
    if (e == 0 && now.st_ino == held.st_ino && now.st_dev == held.st_dev) {
      *handle = fd;
      return 0;
    }
    close(fd);
    if (e != 0 && (rc != 0 || e != ENOENT))
      return -e;
    /* unlinked (or replaced) while we waited: lock the file now at @p */
  }
}

void bs__px_unlock(void *ctx, int handle) {
  (void)ctx;
  if (handle >= 0)
    close(handle);
}

int bs__px_root_open(void *ctx, const char *abs, bs__hroot *out) {
  (void)ctx;
#ifdef O_PATH
  out->fd = bs__sys_open(abs, O_PATH | O_DIRECTORY, 0);
#else
  out->fd = bs__sys_open(abs, O_RDONLY | O_DIRECTORY, 0);
#endif
  if (out->fd < 0)
    return -errno;
  out->real = bs__sys_realpath(abs);
  if (!out->real) {
    int e = errno;
    close(out->fd);
    return -e;
  }
  return 0;
}

void bs__px_root_close(void *ctx, bs__hroot *root) {
  (void)ctx;
  close(root->fd);
  free(root->real);
  root->fd = -1;
  root->real = NULL;
}
