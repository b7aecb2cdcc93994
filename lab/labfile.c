/* Host files the lab writes for the user (traces, JSON summaries): through
 * a temporary file beside the target, fsync'ed and renamed over it, so a
 * failure never leaves a partial or truncated file (lab/lab.h,
 * docs/guarantees.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/lab.h"
#include "src/dirsync.h"

static int failed(char *why, size_t cap, const char *what, const char *path, int e) {
  if (why && cap)
    snprintf(why, cap, "cannot %s %s: %s", what, path, strerror(e));
  return bs_err_from_errno(e);
}

/* The file a write of @path reaches: a symlink's target (where it exists),
 * else @path itself. */
static int resolve(char *out, size_t cap, const char *path) {
  char real[PATH_MAX];
  struct stat sb;
  const char *p = lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode) && realpath(path, real) ? real : path;
  return (size_t)snprintf(out, cap, "%s", p) < cap ? 0 : ENAMETOOLONG;
}

/* A new temporary file beside @lf->path, with the mode @path has, or a new
 * file's mode (0666 less the umask). */
static int make_tmp(bs_lab_file *lf, const struct stat *old) {
  const char *slash = strrchr(lf->path, '/');
  int dlen = slash ? (int)(slash - lf->path + 1) : 0;
  for (unsigned i = 0; i < 100; i++) {
    if ((size_t)snprintf(lf->tmp, sizeof(lf->tmp), "%.*s.%s.tmp-%ld-%u", dlen, lf->path,
                         lf->path + dlen, (long)getpid(), i) >= sizeof(lf->tmp))
      return ENAMETOOLONG;
    int fd = open(lf->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST)
      continue;
    if (fd < 0)
      return errno;
    if (old && fchmod(fd, old->st_mode & 07777) != 0) {
      int e = errno;
      close(fd);
      unlink(lf->tmp);
      return e;
    }
    if (!(lf->f = fdopen(fd, "w"))) {
      int e = errno;
      close(fd);
      unlink(lf->tmp);
      return e;
    }
    return 0;
  }
  return EEXIST;
}

int bs_lab_file_open(bs_lab_file *lf, const char *path, char *why, size_t cap) {
  memset(lf, 0, sizeof(*lf));
  if (!path || !*path)
    return failed(why, cap, "write", "\"\"", ENOENT);
  int e = resolve(lf->path, sizeof(lf->path), path);
  struct stat sb;
  bool exists = e == 0 && stat(lf->path, &sb) == 0;
  if (e == 0 && exists && S_ISDIR(sb.st_mode))
    e = EISDIR;
  if (e == 0 && exists && !S_ISREG(sb.st_mode)) {
    /* A device or a pipe (/dev/null, /dev/stdout) is written as it is:
     * renaming over it would replace the device with a regular file. */
    lf->tmp[0] = '\0';
    if (!(lf->f = fopen(lf->path, "w")))
      e = errno;
  } else if (e == 0) {
    e = make_tmp(lf, exists ? &sb : NULL);
  }
  return e ? failed(why, cap, "write", path, e) : 0;
}

int bs_lab_file_commit(bs_lab_file *lf, char *why, size_t cap) {
  if (!lf->f)
    return failed(why, cap, "write", lf->path, EBADF);
  errno = 0;
  bool bad = fflush(lf->f) != 0 || ferror(lf->f);
  int e = bad ? (errno ? errno : EIO) : 0;
  if (!bad && lf->tmp[0] && fsync(fileno(lf->f)) != 0)
    e = errno;
  if (fclose(lf->f) != 0 && e == 0)
    e = errno ? errno : EIO;
  lf->f = NULL;
  if (e == 0 && lf->tmp[0] && rename(lf->tmp, lf->path) != 0)
    e = errno;
  if (e != 0) {
    if (lf->tmp[0])
      unlink(lf->tmp);
    return failed(why, cap, "write", lf->path, e);
  }
  /* Renamed: the file is complete; only its durability is in question. */
  if (lf->tmp[0] && (e = bs__fsync_dir_of(lf->path)) != 0)
    return failed(why, cap, "sync the directory of", lf->path, e);
  return 0;
}

void bs_lab_file_abort(bs_lab_file *lf) {
  if (lf->f)
    fclose(lf->f);
  lf->f = NULL;
  if (lf->tmp[0])
    unlink(lf->tmp);
  lf->tmp[0] = '\0';
}
