/* RAM disks (include/backstore.h, docs/ramdisk.md).
 *
 * Each RAM disk is a record in the runtime directory, made before anything
 * else and removed only after teardown:
 *   <rt>/<pid>-<start>-<n>/        the record (pid and start time of the owner)
 *     owner    "<pid> <start>\n"   written first
 *     disk     "<fs> <size_mb> <label>\n"
 *     device   "/dev/loopN\n"      right after the loop device is bound
 *     mnt/     the mount point
 * On Linux the memory is a memfd named "bsram:<id>" (so a loop device a
 * crash left without a record still names its owner in its backing file)
 * bound to a loop device with LO_FLAGS_AUTOCLEAR: closing the last opener
 * before the mount (a crash) or unmounting after it detaches the device and
 * frees the memory.  Every OS call goes through real/sys.c. */
#include "real/ramdisk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/mount.h>
#endif

#include "real/sys.h"

#define MIB ((uint64_t)1024 * 1024)
/* Largest size we consider at all (before comparing with the memory). */
#define SIZE_MB_MAX (1ull << 30)

struct bs_ramdisk {
  bs_ramdisk_info info;
  char dir[PATH_MAX]; /* the record */
  bool destroyed;
};

static _Thread_local char last_msg[1024];

const char *bs_ramdisk_last_message(void) { return last_msg; }

__attribute__((format(printf, 2, 3))) static int fail(int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
  va_end(ap);
  return rc;
}

static int os_fail(int e, const char *what, const char *path) {
  return fail(bs_err_from_errno(e), "%s %s: %s", what, path, strerror(e));
}

/* snprintf that says whether it fit. */
__attribute__((format(printf, 3, 4))) static bool fmt(char *out, size_t cap, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(out, cap, f, ap);
  va_end(ap);
  return n >= 0 && (size_t)n < cap;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- small files, processes, mounts ------------------------------------------ */

int bs__read_small(const char *path, char *buf, size_t cap) {
  int fd = bs__sys_open(path, O_RDONLY | O_NOFOLLOW, 0);
  if (fd < 0)
    return -errno;
  size_t len = 0;
  while (len + 1 < cap) {
    ssize_t r = bs__sys_pread(fd, buf + len, cap - 1 - len, (off_t)len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  if (len > 0 && buf[len - 1] == '\n')
    buf[len - 1] = '\0';
  return 0;
}

/* Create @dir/@name (it must not exist) holding @text.  0 or BS_E*. */
static int write_new(const char *dir, const char *name, const char *text) {
  char path[PATH_MAX + 16];
  fmt(path, sizeof(path), "%s/%s", dir, name);
  int fd = bs__sys_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (fd < 0)
    return os_fail(errno, "create", path);
  size_t len = strlen(text);
  ssize_t w = bs__sys_pwrite(fd, text, len, 0);
  int e = errno;
  close(fd);
  if (w != (ssize_t)len)
    return os_fail(w < 0 ? e : EIO, "write", path);
  return 0;
}

#ifndef __linux__
/* Without /proc (macOS): whether @pid exists, start time 0.  Not run here. */
int bs__proc_stat(pid_t pid, char *state, unsigned long long *start) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
    return -1;
  *state = 'R';
  *start = 0;
  return 0;
}
#else
int bs__proc_stat(pid_t pid, char *state, unsigned long long *start) {
  char path[64], buf[2048];
  fmt(path, sizeof(path), "/proc/%d/stat", (int)pid);
  if (pid <= 0 || bs__read_small(path, buf, sizeof(buf)) != 0)
    return -1;
  char *p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
  if (!p || p[1] != ' ' || !p[2])
    return -1;
  p += 2; /* field 3, the state */
  *state = *p;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p)
      return -1;
    p++;
  }
  char *end;
  *start = strtoull(p, &end, 10);
  return end == p ? -1 : 0;
}
#endif

bool bs__proc_alive(pid_t pid, unsigned long long start) {
  char state;
  unsigned long long s;
  if (bs__proc_stat(pid, &state, &s) != 0)
    return false;
  return s == start && state != 'Z' && state != 'X';
}

bool bs__path_under(const char *path, const char *dir) {
  size_t dl = strlen(dir);
  return strncmp(path, dir, dl) == 0 && (path[dl] == '\0' || path[dl] == '/');
}

/* Undo the octal escapes (\040 ...) of a /proc/self/mountinfo field. */
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
}

/* All of /proc/self/mountinfo, malloc'd; NULL and errno on failure. */
static char *read_mountinfo(void) {
  int fd = bs__sys_open("/proc/self/mountinfo", O_RDONLY, 0);
  if (fd < 0)
    return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (len + 4097 > cap) {
      char *g = realloc(buf, cap * 2);
      if (!g) {
        free(buf);
        buf = NULL;
        errno = ENOMEM;
        break;
      }
      buf = g;
      cap *= 2;
    }
    ssize_t r = bs__sys_pread(fd, buf + len, cap - len - 1, (off_t)len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      free(buf);
      buf = NULL;
      errno = e;
      break;
    }
    if (r == 0) {
      buf[len] = '\0';
      break;
    }
    len += (size_t)r;
  }
  close(fd);
  return buf;
}

/* Calls @cb with the mount point (field 5) and source (field 10) of each
 * mountinfo line until it returns non-zero.  0 or -errno. */
static int each_mount(int (*cb)(void *ctx, char *mp, char *src), void *ctx) {
  char *all = read_mountinfo();
  if (!all)
    return -errno;
  int rc = 0;
  char *save = NULL;
  for (char *line = strtok_r(all, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
    char *f[11] = {0}, *s2 = NULL;
    int n = 0;
    for (char *t = strtok_r(line, " ", &s2); t && n < 11; t = strtok_r(NULL, " ", &s2)) {
      f[n++] = t;
      if (strcmp(t, "-") == 0 && n >= 6) { /* the separator: type and source follow */
        f[6] = t;
        n = 7;
      }
    }
    if (n < 9 || !f[4])
      continue;
    unescape(f[4]);
    unescape(f[8]);
    rc = cb(ctx, f[4], f[8]);
  }
  free(all);
  return rc > 0 ? 0 : rc;
}

typedef struct mount_list {
  const char *dir;
  char **v;
  size_t n, room;
} mount_list;

static int add_under(void *ctx, char *mp, char *src) {
  (void)src;
  mount_list *l = ctx;
  if (!bs__path_under(mp, l->dir))
    return 0;
  if (l->n == l->room) {
    size_t room = l->room ? l->room * 2 : 8;
    char **g = realloc(l->v, room * sizeof(*g));
    if (!g)
      return -ENOMEM;
    l->v = g;
    l->room = room;
  }
  if (!(l->v[l->n] = strdup(mp)))
    return -ENOMEM;
  l->n++;
  return 0;
}

int bs__mounts_under(const char *dir, char ***out, size_t *count) {
  mount_list l = {dir, NULL, 0, 0};
  int rc = each_mount(add_under, &l);
  if (rc != 0) {
    bs__mounts_free(l.v, l.n);
    l.v = NULL;
    l.n = 0;
  }
  *out = l.v;
  *count = l.n;
  return rc;
}

void bs__mounts_free(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

typedef struct src_find {
  const char *src;
  bool found;
} src_find;

static int find_src(void *ctx, char *mp, char *src) {
  (void)mp;
  src_find *f = ctx;
  if (strcmp(src, f->src) == 0)
    f->found = true;
  return f->found;
}

/* True when @dev is the source of some mount. */
static bool mounted_from(const char *dev) {
  src_find f = {dev, false};
  return each_mount(find_src, &f) != 0 || f.found; /* unreadable: assume in use */
}

/* ---- the runtime directory ------------------------------------------------------ */

/* Where records live: $BS_RAMDISK_DIR, $XDG_RUNTIME_DIR/backstore or /run/backstore. */
static bool runtime_path(char *out, size_t cap) {
  const char *d = getenv("BS_RAMDISK_DIR");
  if (d && d[0] == '/')
    return fmt(out, cap, "%s", d);
  const char *x = getenv("XDG_RUNTIME_DIR");
  if (x && x[0] == '/')
    return fmt(out, cap, "%s/backstore", x);
  return fmt(out, cap, "/run/backstore");
}

/* The runtime directory in @out (PATH_MAX), made (mode 0700) when @make;
 * it must be a directory of ours nobody else can write.  0, BS_ENOT_FOUND
 * (absent, !@make), or an error. */
static int runtime_dir(char *out, bool make) {
  char path[PATH_MAX];
  if (!runtime_path(path, sizeof(path)))
    return fail(BS_ENAME_TOO_LONG, "runtime directory path too long");
  if (make && bs__sys_mkdir(path, 0700) != 0 && errno != EEXIST)
    return os_fail(errno, "mkdir", path);
  struct stat sb;
  if (bs__sys_fstatat(AT_FDCWD, path, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT && !make)
      return fail(BS_ENOT_FOUND, "no RAM disk runtime directory %s", path);
    return os_fail(errno, "stat", path);
  }
  if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() || (sb.st_mode & 077))
    return fail(BS_EPERMISSION,
                "runtime directory %s is not a directory of uid %d with mode 0700", path,
                (int)geteuid());
  if (strlen(path) > PATH_MAX - 256)
    return fail(BS_ENAME_TOO_LONG, "runtime directory %s: path too long", path);
  fmt(out, PATH_MAX, "%s", path);
  return 0;
}

/* Parse a record name "<pid>-<start>-<n>". */
static bool parse_id(const char *name, pid_t *pid, unsigned long long *start) {
  int p = 0, n = 0;
  unsigned long long s = 0;
  unsigned seq = 0;
  if (name[0] < '1' || name[0] > '9')
    return false;
  if (sscanf(name, "%d-%llu-%u%n", &p, &s, &seq, &n) != 3 || name[n] != '\0' || p <= 0)
    return false;
  *pid = (pid_t)p;
  *start = s;
  return true;
}

static const char *const FS_NAMES[] = {"btrfs", "xfs", "ext4", "tmpfs", "apfs"};

static bool native_snapshots(const char *fs) {
  return strcmp(fs, "btrfs") == 0 || strcmp(fs, "apfs") == 0;
}

/* Read the record @dir (named @name) into @info.  False if it is not one. */
static bool read_record(const char *dir, const char *name, bs_ramdisk_info *info) {
  memset(info, 0, sizeof(*info));
  pid_t pid;
  unsigned long long start;
  if (!parse_id(name, &pid, &start) || strlen(name) >= sizeof(info->id))
    return false;
  fmt(info->id, sizeof(info->id), "%s", name);
  char path[PATH_MAX + 16], buf[512];
  fmt(path, sizeof(path), "%s/disk", dir);
  if (bs__read_small(path, buf, sizeof(buf)) == 0) {
    char fs[16] = "";
    unsigned long long mb = 0;
    int off = 0;
    if (sscanf(buf, "%15s %llu %n", fs, &mb, &off) >= 2) {
      fmt(info->fs, sizeof(info->fs), "%s", fs);
      info->size_mb = mb;
      if (off > 0)
        fmt(info->label, sizeof(info->label), "%s", buf + off);
    }
  }
  fmt(path, sizeof(path), "%s/device", dir);
  if (bs__read_small(path, buf, sizeof(buf)) == 0)
    fmt(info->device, sizeof(info->device), "%s", buf);
  fmt(info->mount, sizeof(info->mount), "%s/mnt", dir);
  info->owner_pid = (int)pid;
  info->owner_alive = bs__proc_alive(pid, start);
  char **mps;
  size_t n = 0;
  if (bs__mounts_under(dir, &mps, &n) == 0)
    bs__mounts_free(mps, n);
  info->mounted = n > 0;
  info->supports_native_snapshots = native_snapshots(info->fs);
  return true;
}

/* ---- Linux: memory, loop device, mkfs, mount ------------------------------------ */

#ifdef __linux__
/* The memfd name of record @id, and what /sys shows as the loop device's backing file. */
#define MEMFD_PREFIX "bsram:"
#define BACKING_PREFIX "/memfd:" MEMFD_PREFIX

/* Bytes of memory available (MemAvailable of /proc/meminfo). */
static int mem_available(uint64_t *out) {
  char buf[4096];
  int rc = bs__read_small("/proc/meminfo", buf, sizeof(buf));
  if (rc != 0)
    return os_fail(-rc, "read", "/proc/meminfo");
  const char *p = strstr(buf, "MemAvailable:");
  unsigned long long kb;
  if (!p || sscanf(p, "MemAvailable: %llu kB", &kb) != 1)
    return fail(BS_EPARSE, "/proc/meminfo has no MemAvailable line");
  *out = (uint64_t)kb * 1024;
  return 0;
}

/* The number of /dev/loopN whose backing file is @backing (NUL: any of
 * ours), calling @cb for each; how many. */
static size_t each_loop(const char *backing, void (*cb)(void *ctx, int n, const char *bf), void *ctx) {
  int dfd = bs__sys_open("/sys/block", O_RDONLY | O_DIRECTORY, 0);
  if (dfd < 0)
    return 0;
  DIR *d = bs__sys_fdopendir(dfd);
  if (!d) {
    close(dfd);
    return 0;
  }
  size_t k = 0;
  struct dirent *e;
  while ((e = bs__sys_readdir(d))) {
    int n = -1, len = 0;
    if (sscanf(e->d_name, "loop%d%n", &n, &len) != 1 || e->d_name[len] != '\0' || n < 0)
      continue;
    char path[96], bf[PATH_MAX];
    fmt(path, sizeof(path), "/sys/block/loop%d/loop/backing_file", n);
    if (bs__read_small(path, bf, sizeof(bf)) != 0)
      continue;
    char *del = strstr(bf, " (deleted)");
    if (del)
      *del = '\0';
    if (strncmp(bf, BACKING_PREFIX, sizeof(BACKING_PREFIX) - 1) != 0)
      continue;
    if (backing && strcmp(bf, backing) != 0)
      continue;
    k++;
    if (cb)
      cb(ctx, n, bf);
  }
  closedir(d);
  return k;
}

/* Clear /dev/loop@n (if bound to our memfd): the kernel defers it to the
 * last close while the device is in use. */
static void clear_loop(void *ctx, int n, const char *bf) {
  (void)bf;
  int *err = ctx;
  char dev[64];
  fmt(dev, sizeof(dev), "/dev/loop%d", n);
  int fd = bs__sys_open(dev, O_RDWR, 0);
  if (fd < 0) {
    if (errno != ENOENT && errno != ENXIO && !*err)
      *err = errno;
    return;
  }
  if (bs__sys_loop_clear(fd) != 0 && errno != ENXIO && errno != EBUSY && !*err)
    *err = errno;
  close(fd);
}

/* Unmount everything under the record @dir (lazily where busy), detach the
 * loop device of record @id, wait for it to go.  0 or BS_E*. */
static int linux_teardown(const char *dir, const char *id) {
  for (int pass = 0;; pass++) {
    char **mps;
    size_t n;
    int rc = bs__mounts_under(dir, &mps, &n);
    if (rc != 0)
      return os_fail(-rc, "read", "/proc/self/mountinfo");
    if (n == 0) {
      free(mps);
      break;
    }
    int err = 0;
    for (size_t i = n; i-- > 0;) {
      if (bs__sys_umount(mps[i], UMOUNT_NOFOLLOW) == 0 || errno == EINVAL)
        continue;
      if (errno == EBUSY && bs__sys_umount(mps[i], MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        continue;
      if (!err) {
        err = errno;
        fail(bs_err_from_errno(err), "umount %s: %s", mps[i], strerror(err));
      }
    }
    bs__mounts_free(mps, n);
    if (err)
      return bs_err_from_errno(err);
    if (pass > 16)
      return fail(BS_EBUSY, "mounts keep appearing under %s", dir);
  }
  char backing[128];
  fmt(backing, sizeof(backing), "%s%s", BACKING_PREFIX, id);
  /* Autoclear detaches the device once the unmount released it, which on
   * btrfs lags the umount a little: poll every millisecond, clear again every
   * 50 ms, give up after 5 s. */
  for (int iter = 0;; iter++) {
    if (iter % 50 == 0) {
      int err = 0;
      if (each_loop(backing, clear_loop, &err) == 0)
        return 0;
      if (err)
        return fail(bs_err_from_errno(err), "detach the loop device of RAM disk %s: %s", id,
                    strerror(err));
    } else if (each_loop(backing, NULL, NULL) == 0) {
      return 0;
    }
    if (iter >= 5000)
      return fail(BS_EBUSY,
                  "the loop device of RAM disk %s is still held (open files on a lazily unmounted "
                  "volume?); it detaches itself when they close",
                  id);
    sleep_ms(1);
  }
}

/* Open the device node @dev, waiting up to a second for udev to make it. */
static int open_dev(const char *dev) {
  for (int i = 0;; i++) {
    int fd = bs__sys_open(dev, O_RDWR, 0);
    if (fd >= 0 || errno != ENOENT || i >= 100)
      return fd;
    sleep_ms(10);
  }
}

/* Bind @mfd to a free loop device with autoclear: its name in @dev, an open
 * descriptor in *lfd. */
static int loop_attach(int mfd, const char *name, char *dev, size_t cap, int *lfd) {
  int ctl = bs__sys_open("/dev/loop-control", O_RDWR, 0);
  if (ctl < 0) {
    int e = errno;
    if (e == ENOENT)
      return fail(BS_EUNSUPPORTED, "no /dev/loop-control: the loop driver is not loaded");
    return os_fail(e, "open", "/dev/loop-control");
  }
  int rc = fail(BS_EBUSY, "no free loop device");
  for (int attempt = 0; attempt < 64; attempt++) {
    int n = bs__sys_loop_get_free(ctl);
    if (n < 0) {
      rc = os_fail(errno, "LOOP_CTL_GET_FREE on", "/dev/loop-control");
      break;
    }
    fmt(dev, cap, "/dev/loop%d", n);
    int fd = open_dev(dev);
    if (fd < 0) {
      rc = os_fail(errno, "open", dev);
      break;
    }
    if (bs__sys_loop_attach(fd, mfd, name) == 0) {
      *lfd = fd;
      close(ctl);
      return 0;
    }
    int e = errno;
    close(fd);
    if (e != EBUSY) { /* EBUSY: another process took it first */
      rc = os_fail(e, "LOOP_CONFIGURE", dev);
      break;
    }
  }
  dev[0] = '\0';
  close(ctl);
  return rc;
}

/* mkfs of @fs on @dev through the tool runner. */
static int make_fs(const char *fs, const char *label, const char *dev) {
  const char *argv[16];
  int n = 0;
  if (strcmp(fs, "btrfs") == 0) {
    argv[n++] = "mkfs.btrfs", argv[n++] = "-q", argv[n++] = "-f", argv[n++] = "-K";
    if (label[0])
      argv[n++] = "-L", argv[n++] = label;
  } else if (strcmp(fs, "xfs") == 0) {
    argv[n++] = "mkfs.xfs", argv[n++] = "-q", argv[n++] = "-f", argv[n++] = "-K";
    argv[n++] = "-m", argv[n++] = "reflink=1";
    if (label[0])
      argv[n++] = "-L", argv[n++] = label;
  } else {
    argv[n++] = "mkfs.ext4", argv[n++] = "-q", argv[n++] = "-F", argv[n++] = "-E";
    argv[n++] = "nodiscard,lazy_itable_init=0,lazy_journal_init=0";
    if (label[0])
      argv[n++] = "-L", argv[n++] = label;
  }
  argv[n++] = dev;
  argv[n] = NULL;
  bs__tool_result r;
  int rc = bs__tool_run(argv, &r, last_msg, sizeof(last_msg));
  bs__tool_result_free(&r);
  return rc;
}

/* The memory, loop device, filesystem and mount of @rd, whose record exists. */
static int linux_make(bs_ramdisk *rd) {
  bs_ramdisk_info *in = &rd->info;
  uint64_t bytes = in->size_mb * MIB;
  if (strcmp(in->fs, "tmpfs") == 0) {
    char data[64];
    fmt(data, sizeof(data), "size=%" PRIu64 ",mode=0755", bytes);
    if (bs__sys_mount("tmpfs", in->mount, "tmpfs", 0, data) != 0)
      return os_fail(errno, "mount tmpfs on", in->mount);
    return 0;
  }
  char name[96];
  fmt(name, sizeof(name), "%s%s", MEMFD_PREFIX, in->id);
  int mfd = bs__sys_memfd(name), lfd = -1, rc;
  if (mfd < 0)
    return os_fail(errno, "memfd_create", name);
  if (bs__sys_ftruncate(mfd, (off_t)bytes) != 0) {
    rc = os_fail(errno, "ftruncate", name);
    goto out;
  }
  if ((rc = loop_attach(mfd, name, in->device, sizeof(in->device), &lfd)) != 0)
    goto out;
  char text[80];
  fmt(text, sizeof(text), "%s\n", in->device);
  if ((rc = write_new(rd->dir, "device", text)) != 0)
    goto out;
  if ((rc = make_fs(in->fs, in->label, in->device)) != 0)
    goto out;
  if (bs__sys_mount(in->device, in->mount, in->fs, 0, NULL) != 0) {
    int e = errno;
    rc = fail(bs_err_from_errno(e), "mount %s (%s) on %s: %s", in->device, in->fs, in->mount,
              strerror(e));
    goto out;
  }
  if (strcmp(in->fs, "ext4") == 0) { /* the mount point starts empty */
    char path[PATH_MAX + 16];
    fmt(path, sizeof(path), "%s/lost+found", in->mount);
    if (bs__sys_rmdir(path) != 0 && errno != ENOENT)
      rc = os_fail(errno, "rmdir", path);
  }
out:
  /* Once mounted, the mount holds the device (its unmount detaches it: autoclear);
   * before, closing lfd detaches it and closing mfd frees the memory. */
  if (lfd >= 0)
    close(lfd);
  close(mfd);
  return rc;
}

static int check_platform(const char *fs) {
  if (strcmp(fs, "apfs") == 0)
    return fail(BS_EUNSUPPORTED, "apfs RAM disks are made on macOS only");
  if (geteuid() != 0)
    return fail(BS_EPERMISSION,
                "making a RAM disk needs root (CAP_SYS_ADMIN for loop devices and mount(2))");
  return 0;
}

static int check_memory(uint64_t size_mb) {
  uint64_t avail = 0;
  int rc = mem_available(&avail);
  if (rc != 0)
    return rc;
  if (size_mb * MIB > avail)
    return fail(BS_ENO_SPACE, "a %" PRIu64 " MiB RAM disk does not fit: %" PRIu64
                " MiB of memory available",
                size_mb, (uint64_t)(avail / MIB));
  return 0;
}

static int platform_make(bs_ramdisk *rd) { return linux_make(rd); }

static int platform_teardown(const char *dir, const char *id) { return linux_teardown(dir, id); }

typedef struct orphan_ctx {
  size_t reaped;
  int err;
} orphan_ctx;

/* A loop device of ours whose owner is dead and which nothing mounts: a
 * record's teardown that a crash cut short after the record went, or a
 * record in another runtime directory that is gone. */
static void reap_orphan_loop(void *ctx, int n, const char *bf) {
  orphan_ctx *o = ctx;
  pid_t pid;
  unsigned long long start;
  char dev[64];
  fmt(dev, sizeof(dev), "/dev/loop%d", n);
  if (!parse_id(bf + sizeof(BACKING_PREFIX) - 1, &pid, &start) || bs__proc_alive(pid, start) ||
      mounted_from(dev))
    return;
  int err = 0;
  clear_loop(&err, n, bf);
  if (err && !o->err)
    o->err = fail(bs_err_from_errno(err), "detach %s: %s", dev, strerror(err));
  else if (!err)
    o->reaped++;
}

static int platform_reap_orphans(size_t *reaped) {
  orphan_ctx o = {0, 0};
  each_loop(NULL, reap_orphan_loop, &o);
  *reaped += o.reaped;
  return o.err;
}
#else
/* macOS: the steps are real/ramdisk_darwin.c's, over the libc tool runner. */
static int libc_run(void *ctx, const char *const argv[], bs__tool_result *r) {
  (void)ctx;
  return bs__sys_run_tool(argv, r);
}

static int check_platform(const char *fs) {
  if (strcmp(fs, "apfs") != 0)
    return fail(BS_EUNSUPPORTED, "%s RAM disks are made on Linux only; on macOS: apfs", fs);
  return 0;
}

static int check_memory(uint64_t size_mb) {
  (void)size_mb;
  return 0;
}

static int platform_make(bs_ramdisk *rd) {
  bs__darwin_rd d;
  const char *label = rd->info.label[0] ? rd->info.label : "backstore";
  int rc = bs__ramdisk_darwin_make(libc_run, NULL, rd->info.size_mb, label, &d, last_msg,
                                   sizeof(last_msg));
  if (rc != 0)
    return rc;
  fmt(rd->info.device, sizeof(rd->info.device), "%s", d.ram_dev);
  fmt(rd->info.mount, sizeof(rd->info.mount), "%s", d.mount);
  char text[80];
  fmt(text, sizeof(text), "%s\n", d.ram_dev);
  rc = write_new(rd->dir, "device", text);
  if (rc != 0)
    bs__ramdisk_darwin_eject(libc_run, NULL, d.ram_dev, NULL, 0);
  return rc;
}

static int platform_teardown(const char *dir, const char *id) {
  (void)id;
  char path[PATH_MAX + 16], dev[64];
  fmt(path, sizeof(path), "%s/device", dir);
  if (bs__read_small(path, dev, sizeof(dev)) != 0)
    return 0; /* never attached */
  return bs__ramdisk_darwin_eject(libc_run, NULL, dev, last_msg, sizeof(last_msg));
}

static int platform_reap_orphans(size_t *reaped) {
  (void)reaped;
  return 0;
}
#endif

/* ---- records -------------------------------------------------------------------- */

/* Remove the record @dir after tearing down what it records.  0 or BS_E*;
 * on failure the record stays (for a later destroy or reap). */
static int release(const char *dir, const char *id) {
  int rc = platform_teardown(dir, id);
  if (rc != 0)
    return rc;
  static const char *const files[] = {"device", "disk", "owner"};
  char path[PATH_MAX + 16];
  fmt(path, sizeof(path), "%s/mnt", dir);
  if (bs__sys_rmdir(path) != 0 && errno != ENOENT)
    return os_fail(errno, "rmdir", path);
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    fmt(path, sizeof(path), "%s/%s", dir, files[i]);
    if (bs__sys_unlink(path) != 0 && errno != ENOENT)
      return os_fail(errno, "unlink", path);
  }
  if (bs__sys_rmdir(dir) != 0 && errno != ENOENT)
    return os_fail(errno, "rmdir", dir);
  return 0;
}

static atomic_uint rd_seq;

/* Make the record of @rd under @rt: its directory, owner, disk, mnt/. */
static int make_record(bs_ramdisk *rd, const char *rt, pid_t owner) {
  char state;
  unsigned long long start;
  if (bs__proc_stat(owner, &state, &start) != 0 || state == 'Z' || state == 'X')
    return fail(BS_EINVALID, "owner pid %d of the RAM disk is not running", (int)owner);
  for (int tries = 0;; tries++) {
    unsigned n = atomic_fetch_add(&rd_seq, 1);
    fmt(rd->info.id, sizeof(rd->info.id), "%d-%llu-%u", (int)owner, start, n);
    fmt(rd->dir, sizeof(rd->dir), "%s/%s", rt, rd->info.id);
    if (bs__sys_mkdir(rd->dir, 0700) == 0)
      break;
    if (errno != EEXIST || tries > 1000) {
      int rc = os_fail(errno, "mkdir", rd->dir);
      rd->dir[0] = '\0';
      return rc;
    }
  }
  char text[512];
  fmt(text, sizeof(text), "%d %llu\n", (int)owner, start);
  int rc = write_new(rd->dir, "owner", text);
  if (rc != 0)
    return rc;
  fmt(text, sizeof(text), "%s %" PRIu64 " %s\n", rd->info.fs, rd->info.size_mb, rd->info.label);
  if ((rc = write_new(rd->dir, "disk", text)) != 0)
    return rc;
  fmt(rd->info.mount, sizeof(rd->info.mount), "%s/mnt", rd->dir);
  if (bs__sys_mkdir(rd->info.mount, 0755) != 0)
    return os_fail(errno, "mkdir", rd->info.mount);
  rd->info.owner_pid = (int)owner;
  rd->info.owner_alive = true;
  return 0;
}

static int check_opts(const bs_ramdisk_opts *o) {
  if (!o)
    return fail(BS_EINVALID, "no RAM disk options");
  bool known = false;
  for (size_t i = 0; o->fs && i < sizeof(FS_NAMES) / sizeof(FS_NAMES[0]); i++)
    known |= strcmp(o->fs, FS_NAMES[i]) == 0;
  if (!known)
    return fail(BS_EINVALID, "unknown filesystem \"%s\" for a RAM disk (btrfs, xfs, ext4, tmpfs; apfs on macOS)",
                o->fs ? o->fs : "(null)");
  if (o->owner_pid < 0)
    return fail(BS_EINVALID, "owner pid %d", o->owner_pid);
  if (o->size_mb == 0)
    return fail(BS_EINVALID, "a RAM disk of 0 MiB: give its size in MiB (at least 1)");
  if (o->size_mb > SIZE_MB_MAX)
    return fail(BS_ENO_SPACE, "a %" PRIu64 " MiB RAM disk does not fit in any memory", o->size_mb);
  if (o->label) {
    size_t len = strlen(o->label);
    if (len > 255)
      return fail(BS_ENAME_TOO_LONG, "RAM disk label of %zu bytes: at most 255", len);
    if (strchr(o->label, '/'))
      return fail(BS_EINVALID, "RAM disk label \"%s\" holds a '/'", o->label);
    for (size_t i = 0; i < len; i++)
      if ((unsigned char)o->label[i] < 0x20 || o->label[i] == 0x7f)
        return fail(BS_EINVALID, "RAM disk label holds a control character (byte %zu)", i);
  }
  return 0;
}

int bs_ramdisk_create(bs_ramdisk **out, const bs_ramdisk_opts *opts) {
  last_msg[0] = '\0';
  if (!out)
    return fail(BS_EINVALID, "no place for the RAM disk handle");
  *out = NULL;
  int rc = check_opts(opts);
  if (rc == 0)
    rc = check_platform(opts->fs);
  if (rc == 0)
    rc = check_memory(opts->size_mb);
  if (rc != 0)
    return rc;
  char rt[PATH_MAX];
  if ((rc = runtime_dir(rt, true)) != 0)
    return rc;
  size_t reaped = 0;
  bs_ramdisk_reap(&reaped); /* what crashed owners left; its failures are not ours */
  last_msg[0] = '\0';
  bs_ramdisk *rd = calloc(1, sizeof(*rd));
  if (!rd)
    return fail(BS_ENO_MEMORY, "out of memory");
  fmt(rd->info.fs, sizeof(rd->info.fs), "%s", opts->fs);
  rd->info.size_mb = opts->size_mb;
  fmt(rd->info.label, sizeof(rd->info.label), "%s", opts->label ? opts->label : "");
  rd->info.supports_native_snapshots = native_snapshots(opts->fs);
  /* The record comes first: from here on a crash leaves what reap finds. */
  rc = make_record(rd, rt, opts->owner_pid > 0 ? (pid_t)opts->owner_pid : getpid());
  if (rc == 0)
    rc = platform_make(rd);
  if (rc != 0) {
    if (rd->dir[0]) {
      char why[sizeof(last_msg)];
      memcpy(why, last_msg, sizeof(why));
      bs__sys_cleanup_begin();
      release(rd->dir, rd->info.id);
      bs__sys_cleanup_end();
      memcpy(last_msg, why, sizeof(why));
    }
    free(rd);
    return rc;
  }
  rd->info.mounted = true;
  *out = rd;
  return 0;
}

int bs_ramdisk_destroy(bs_ramdisk *rd) {
  last_msg[0] = '\0';
  if (!rd)
    return fail(BS_EINVALID, "no RAM disk handle");
  if (rd->destroyed)
    return fail(BS_ENOT_FOUND, "RAM disk %s was already destroyed", rd->info.id);
  int rc = release(rd->dir, rd->info.id);
  if (rc == 0) {
    rd->destroyed = true;
    rd->info.mounted = false;
    rd->info.device[0] = '\0';
  }
  return rc;
}

void bs_ramdisk_free(bs_ramdisk *rd) {
  if (!rd)
    return;
  if (!rd->destroyed)
    bs_ramdisk_destroy(rd);
  free(rd);
}

void bs_ramdisk_release(bs_ramdisk *rd) { free(rd); }

const bs_ramdisk_info *bs_ramdisk_info_of(const bs_ramdisk *rd) { return rd ? &rd->info : NULL; }

int bs_ramdisk_destroy_id(const char *which) {
  last_msg[0] = '\0';
  if (!which || !which[0])
    return fail(BS_EINVALID, "no RAM disk id or mount point given");
  char rt[PATH_MAX], id[PATH_MAX];
  int rc = runtime_dir(rt, false);
  if (rc == BS_ENOT_FOUND)
    return fail(BS_ENOT_FOUND, "%s is not a RAM disk this library made (there are none)", which);
  if (rc != 0)
    return rc;
  if (which[0] == '/') { /* <rt>/<id>/mnt or <rt>/<id>, as given or both resolved */
    char *real = bs__sys_realpath(which), *rreal = bs__sys_realpath(rt);
    const char *cands[][2] = {{real, rreal}, {which, rt}};
    id[0] = '\0';
    for (size_t c = 0; c < 2 && !id[0]; c++) {
      const char *p = cands[c][0], *r = cands[c][1];
      size_t rl = r ? strlen(r) : 0;
      if (!p || !r || strncmp(p, r, rl) != 0 || p[rl] != '/')
        continue;
      fmt(id, sizeof(id), "%s", p + rl + 1);
      size_t il = strlen(id);
      if (il > 4 && strcmp(id + il - 4, "/mnt") == 0)
        id[il - 4] = '\0';
    }
    free(real);
    free(rreal);
  } else {
    fmt(id, sizeof(id), "%s", which);
  }
  pid_t pid;
  unsigned long long start;
  char dir[PATH_MAX + 64];
  struct stat sb;
  fmt(dir, sizeof(dir), "%s/%s", rt, id);
  if (!parse_id(id, &pid, &start) || bs__sys_fstatat(AT_FDCWD, dir, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISDIR(sb.st_mode))
    return fail(BS_ENOT_FOUND, "%s is not a RAM disk this library made (none such in %s)", which, rt);
  return release(dir, id);
}

/* The records of @rt, sorted by name, as infos; *count of them. */
static int list_records(const char *rt, bs_ramdisk_info **out, size_t *count) {
  *out = NULL;
  *count = 0;
  int dfd = bs__sys_open(rt, O_RDONLY | O_DIRECTORY, 0);
  if (dfd < 0)
    return os_fail(errno, "open", rt);
  DIR *d = bs__sys_fdopendir(dfd);
  if (!d) {
    int e = errno;
    close(dfd);
    return os_fail(e, "list", rt);
  }
  bs_ramdisk_info *v = NULL;
  size_t n = 0, room = 0;
  int rc = 0;
  struct dirent *e;
  while ((e = bs__sys_readdir(d))) {
    char dir[PATH_MAX + 300];
    pid_t pid;
    unsigned long long start;
    if (!parse_id(e->d_name, &pid, &start))
      continue;
    if (n == room) {
      room = room ? room * 2 : 8;
      bs_ramdisk_info *g = realloc(v, room * sizeof(*v));
      if (!g) {
        rc = fail(BS_ENO_MEMORY, "out of memory");
        break;
      }
      v = g;
    }
    fmt(dir, sizeof(dir), "%s/%s", rt, e->d_name);
    if (read_record(dir, e->d_name, &v[n]))
      n++;
  }
  closedir(d);
  if (rc != 0) {
    free(v);
    return rc;
  }
  for (size_t i = 1; i < n; i++) /* insertion sort by id: lists are short */
    for (size_t j = i; j > 0 && strcmp(v[j - 1].id, v[j].id) > 0; j--) {
      bs_ramdisk_info t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  *out = v;
  *count = n;
  return 0;
}

int bs_ramdisk_list(bs_ramdisk_info **out, size_t *count) {
  last_msg[0] = '\0';
  if (!out || !count)
    return fail(BS_EINVALID, "no place for the list");
  *out = NULL;
  *count = 0;
  char rt[PATH_MAX];
  int rc = runtime_dir(rt, false);
  if (rc == BS_ENOT_FOUND)
    return 0;
  return rc != 0 ? rc : list_records(rt, out, count);
}

int bs_ramdisk_reap(size_t *reaped) {
  last_msg[0] = '\0';
  size_t done = 0;
  if (reaped)
    *reaped = 0;
  char rt[PATH_MAX];
  int rc = runtime_dir(rt, false);
  if (rc == BS_ENOT_FOUND)
    rc = 0;
  else if (rc == 0) {
    /* One reaper at a time per runtime directory. */
    char path[PATH_MAX + 16];
    fmt(path, sizeof(path), "%s/.lock", rt);
    int lock = bs__sys_open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (lock >= 0)
      bs__sys_flock(lock, LOCK_EX);
    bs_ramdisk_info *v;
    size_t n;
    rc = list_records(rt, &v, &n);
    for (size_t i = 0; i < n; i++) {
      if (v[i].owner_alive)
        continue;
      char dir[PATH_MAX + 64];
      fmt(dir, sizeof(dir), "%s/%s", rt, v[i].id);
      int r = release(dir, v[i].id);
      if (r == 0)
        done++;
      else if (rc == 0)
        rc = r;
    }
    if (n > 0)
      free(v);
    if (lock >= 0)
      close(lock);
  }
  int r = platform_reap_orphans(&done);
  if (rc == 0)
    rc = r;
  if (reaped)
    *reaped = done;
  return rc;
}

int bs__ramdisk_for_store(bs_ramdisk **out, const bs_ramdisk_opts *opts, char *msg, size_t cap) {
  int rc = bs_ramdisk_create(out, opts);
  if (rc != 0 && msg && cap)
    fmt(msg, cap, "%s", last_msg);
  return rc;
}
