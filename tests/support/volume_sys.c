/* The OS half of the volume fixture (volume.c): process identity, running
 * mkfs, loop devices through the kernel API, mounts, and the one release
 * path (unmount, detach, remove) that destroy and the reaper share.  Every
 * path it is given is a registry entry; it touches nothing outside it. */
#include "tests/support/volume_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backstore.h"
#include "real/ramdisk.h"
#include "real/sys.h"

/* ---- errors ------------------------------------------------------------- */

_Thread_local char bs__vol_last_err[1024];

void bs__vol_err(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(bs__vol_last_err, sizeof(bs__vol_last_err), fmt, ap);
  va_end(ap);
}

/* snprintf that says whether the text fit (and so keeps GCC's truncation
 * warnings for paths whose lengths the registry root bounds). */
bool bs__vol_fmt(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  return n >= 0 && (size_t)n < cap;
}

/* ---- small file and process helpers -------------------------------------- */

/* The small-file, process and mount helpers are the library's (real/ramdisk.h). */
int bs__vol_read(const char *path, char *buf, size_t cap) { return bs__read_small(path, buf, cap); }

/* Create @path (which must not exist) holding @text.  0 or -errno. */
int bs__vol_write_new(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return -errno;
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    off += (size_t)w;
  }
  return close(fd) == 0 ? 0 : -errno;
}

int bs__vol_proc_stat(pid_t pid, char *state, unsigned long long *start) {
  return bs__proc_stat(pid, state, start);
}

bool bs__vol_owner_alive(pid_t pid, unsigned long long start) {
  return bs__proc_alive(pid, start);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool bs__vol_under(const char *path, const char *dir) { return bs__path_under(path, dir); }

/* ---- loop devices ------------------------------------------------------ */

/* Backing file of /dev/loop@n, " (deleted)" removed; false if unbound. */
bool bs__vol_loop_backing(int n, char *out, size_t cap) {
  char path[96];
  bs__vol_fmt(path, sizeof(path), "/sys/block/loop%d/loop/backing_file", n);
  if (bs__vol_read(path, out, cap) != 0)
    return false;
  size_t len = strlen(out);
  static const char deleted[] = " (deleted)";
  if (len >= sizeof(deleted) - 1 && strcmp(out + len - (sizeof(deleted) - 1), deleted) == 0)
    out[len - (sizeof(deleted) - 1)] = '\0';
  return out[0] != '\0';
}

/* Numbers of the loop devices whose backing file lies below @dir. */
size_t bs__vol_loops_under(const char *dir, int *ids, size_t cap) {
  DIR *d = opendir("/sys/block");
  size_t k = 0;
  if (!d)
    return 0;
  struct dirent *e;
  while ((e = readdir(d)) && k < cap) {
    int n = -1, len = 0;
    if (sscanf(e->d_name, "loop%d%n", &n, &len) != 1 || e->d_name[len] != '\0' || n < 0)
      continue;
    char bf[PATH_MAX + 16];
    if (bs__vol_loop_backing(n, bf, sizeof(bf)) && bs__vol_under(bf, dir) && strcmp(bf, dir) != 0)
      ids[k++] = n;
  }
  closedir(d);
  return k;
}

/* Detach /dev/loop@n if, with the device held open, its backing file still
 * lies below @dir.  The kernel defers the detach to the last close while the
 * device is in use (it sets autoclear).  0 or -errno. */
int bs__vol_detach_loop(int n, const char *dir) {
  char dev[64], bf[PATH_MAX + 16];
  bs__vol_fmt(dev, sizeof(dev), "/dev/loop%d", n);
  int fd = open(dev, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT || errno == ENXIO ? 0 : -errno;
  int rc = 0;
  if (bs__vol_loop_backing(n, bf, sizeof(bf)) && bs__vol_under(bf, dir) &&
      ioctl(fd, LOOP_CLR_FD) != 0 && errno != ENXIO)
    rc = -errno;
  close(fd);
  return rc;
}

/* Open the device node @dev, waiting up to a second for it to appear. */
static int open_dev(const char *dev) {
  for (int i = 0;; i++) {
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT || i >= 100)
      return fd;
    sleep_ms(10);
  }
}

/* Bind @imgfd (the file @image) to a free loop device with autoclear; the
 * device's name goes to @dev and an open descriptor of it to *lfd (closing
 * it while nothing else holds the device detaches it). */
int bs__vol_loop_attach(int imgfd, const char *image, char *dev, size_t cap, int *lfd) {
  int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) {
    int eno = errno;
    bs__vol_err("open /dev/loop-control: %s", strerror(eno));
    return bs_err_from_errno(eno);
  }
  int rc = BS_EBUSY;
  for (int attempt = 0; attempt < 64; attempt++) {
    int n = ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0) {
      int eno = errno;
      bs__vol_err("LOOP_CTL_GET_FREE: %s", strerror(eno));
      rc = bs_err_from_errno(eno);
      break;
    }
    bs__vol_fmt(dev, cap, "/dev/loop%d", n);
    int fd = open_dev(dev);
    if (fd < 0) {
      int eno = errno;
      bs__vol_err("open %s: %s", dev, strerror(eno));
      rc = bs_err_from_errno(eno);
      break;
    }
    /* LOOP_CONFIGURE, or LOOP_SET_FD + LOOP_SET_STATUS64 on old kernels:
     * the library's (real/sys.c). */
    if (bs__sys_loop_attach(fd, imgfd, image) == 0) {
      *lfd = fd;
      close(ctl);
      return 0;
    }
    int e = errno;
    close(fd);
    if (e != EBUSY) { /* EBUSY: another process took this device first */
      bs__vol_err("attach %s to %s: %s", image, dev, strerror(e));
      rc = bs_err_from_errno(e);
      break;
    }
    bs__vol_err("no free loop device after %d attempts", attempt + 1);
  }
  dev[0] = '\0';
  close(ctl);
  return rc;
}

/* ---- mounts ------------------------------------------------------------ */

int bs__vol_mounts_under(const char *dir, char ***out, size_t *count) {
  return bs__mounts_under(dir, out, count) == 0 ? 0 : -1;
}

void bs__vol_free_list(char **list, size_t n) { bs__mounts_free(list, n); }

/* Unmount everything at or below @dir, upper mounts first; lazily (MNT_DETACH)
 * where a plain unmount is EBUSY.  Adds to *unmounted.  0 or BS_E*. */
static int unmount_all_under(const char *dir, int *unmounted) {
  for (int pass = 0; pass < 16; pass++) {
    char **mps;
    size_t n;
    if (bs__vol_mounts_under(dir, &mps, &n) != 0) {
      bs__vol_free_list(mps, n);
      bs__vol_err("cannot read /proc/self/mountinfo");
      return BS_EIO;
    }
    if (n == 0) {
      free(mps);
      return 0;
    }
    int progress = 0, err = 0;
    char failed[PATH_MAX] = "";
    for (size_t i = n; i-- > 0;) {
      if (umount2(mps[i], UMOUNT_NOFOLLOW) == 0 ||
          (errno == EBUSY && umount2(mps[i], MNT_DETACH | UMOUNT_NOFOLLOW) == 0)) {
        progress++;
        (*unmounted)++;
      } else if (errno == EINVAL) {
        progress++; /* no longer a mount point: gone meanwhile */
      } else if (!err) {
        err = errno;
        bs__vol_fmt(failed, sizeof(failed), "%s", mps[i]);
      }
    }
    bs__vol_free_list(mps, n);
    if (!progress) {
      bs__vol_err("umount %s: %s", failed, strerror(err));
      return bs_err_from_errno(err);
    }
  }
  bs__vol_err("mounts keep appearing under %s", dir);
  return BS_EBUSY;
}

/* ---- release: the one cleanup path of destroy and reap ----------------- */

static _Thread_local int rm_errno;

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  int r = (type == FTW_DP || type == FTW_D || type == FTW_DNR) ? rmdir(path) : unlink(path);
  if (r != 0 && errno != ENOENT && !rm_errno)
    rm_errno = errno;
  return 0;
}

/* Unmount everything below the registry entry @dir, detach every loop device
 * backed by a file below it, remove it.  Never leaves the entry: FTW_MOUNT
 * keeps the removal off any file system still mounted below it.  0 or BS_E*. */
int bs__vol_release(const char *dir, int *unmounted, char *detached, size_t cap) {
  if (detached && cap)
    detached[0] = '\0';
  int rc = unmount_all_under(dir, unmounted);
  if (rc != 0)
    return rc;
  /* Autoclear detaches a device when its mount goes; clear what is left
   * (never attached to a mount, or made without autoclear), then wait. */
  double t0 = now_s();
  for (int iter = 0;; iter++) {
    int ids[BS__VOL_MAX_LOOPS];
    size_t n = bs__vol_loops_under(dir, ids, BS__VOL_MAX_LOOPS);
    if (n == 0)
      break;
    if (iter % 50 == 0)
      for (size_t i = 0; i < n; i++)
        if (bs__vol_detach_loop(ids[i], dir) == 0 && iter == 0 && detached) {
          size_t len = strlen(detached);
          bs__vol_fmt(detached + len, cap - len, "%s/dev/loop%d", len ? " " : "", ids[i]);
        }
    if (now_s() - t0 > 5.0) {
      bs__vol_err("/dev/loop%d still attached to a file in %s", ids[0], dir);
      return BS_EBUSY;
    }
    sleep_ms(10);
  }
  rm_errno = 0;
  if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 && errno != ENOENT) {
    int eno = errno;
    bs__vol_err("remove %s: %s", dir, strerror(eno));
    return bs_err_from_errno(eno);
  }
  struct stat st;
  if (lstat(dir, &st) == 0) {
    bs__vol_err("cannot remove %s: %s", dir, strerror(rm_errno ? rm_errno : ENOTEMPTY));
    return bs_err_from_errno(rm_errno ? rm_errno : ENOTEMPTY);
  }
  return 0;
}
