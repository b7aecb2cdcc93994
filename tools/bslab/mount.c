/* bslab mount (docs/mount.md): a store served through FUSE, so that real
 * programs do ordinary file I/O on a sim volume (or a real store).
 *
 * The high-level libfuse3 API hands us paths, and the store API takes
 * paths: every request is one bs_* call, its BS_* error turned into an
 * errno by bs_err_to_errno() (xattr requests say ENODATA and ERANGE, as
 * getxattr(2) does).  One thread serves the requests, in the order the
 * kernel sends them.  The kernel caches no attributes, entries or negative
 * lookups, and writes go through to the store as they are made; the page
 * cache only serves reads of a file between its open and its next change
 * (an open drops it), so that shared mmap works (sqlite's WAL needs it).
 * --direct-io turns the page cache off too.  So what a program sees is the
 * store's state: a case-insensitive profile's "a" and "A" are one file
 * whichever name a program uses.
 *
 * The sim image is loaded and locked (lock.c) for the whole mount and saved
 * (bs_sim_save(): fsynced, renamed over the image) after the unmount, which
 * comes from SIGINT, SIGTERM, SIGHUP, `fusermount3 -u` or umount(8).  A
 * server killed with SIGKILL saves nothing and leaves a dead mount point
 * ("Transport endpoint is not connected"): `bslab mount --reap` removes it. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/bslab/bslab.h"

/* The filesystem type of our mounts in /proc/self/mountinfo ("fuse." +
 * the subtype given at mount). */
#define MOUNT_FSTYPE "fuse.bslab"

/* The ioctl on a mount point that asks its server for a power loss. */
#define BSLAB_IOC_POWER_LOSS _IO('b', 0x50)

/* Decode the octal escapes (\040 for a space) of a mountinfo field in place. */
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

/* Detach the mount at @mp: umount2 as root, else fusermount3 -u -z.  0 or an errno. */
static int detach(const char *mp) {
  if (umount2(mp, MNT_DETACH) == 0)
    return 0;
  int err = errno;
  if (err != EPERM)
    return err;
  pid_t pid = fork();
  if (pid < 0)
    return errno;
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", "-u", "-z", "--", mp, (char *)NULL);
    _exit(127);
  }
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR)
      return errno;
  return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : EPERM;
}

/* --reap [MOUNTPOINT]: remove every bslab mount whose server is gone (its
 * mount point says ENOTCONN), or only the one at MOUNTPOINT. */
static int reap(bslab_args *a) {
  char want[PATH_MAX] = "";
  if (a->npos == 1 && !realpath(a->pos[0], want)) {
    /* A dead mount point cannot be resolved (ENOTCONN): take it as given,
     * made absolute. */
    char cwd[PATH_MAX];
    int n = -1;
    if (a->pos[0][0] == '/')
      n = snprintf(want, sizeof(want), "%s", a->pos[0]);
    else if (getcwd(cwd, sizeof(cwd)))
      n = snprintf(want, sizeof(want), "%s/%s", cwd, a->pos[0]);
    if (n < 0 || (size_t)n >= sizeof(want))
      return bslab_env_error(a, "cannot resolve '%s'", a->pos[0]);
  }
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return bslab_env_error(a, "cannot read /proc/self/mountinfo: %s", strerror(errno));
  char line[8192];
  int reaped = 0, failed = 0, alive = 0;
  while (fgets(line, sizeof(line), f)) {
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
    char *fields[6] = {0}, *save = NULL, *tok = strtok_r(line, " \n", &save);
    int n = 0;
    for (; tok && n < 6; tok = strtok_r(NULL, " \n", &save))
      fields[n++] = tok;
    while (tok && strcmp(tok, "-") != 0)
      tok = strtok_r(NULL, " \n", &save);
    char *fstype = tok ? strtok_r(NULL, " \n", &save) : NULL;
    if (n < 6 || !fstype || strcmp(fstype, MOUNT_FSTYPE) != 0)
      continue;
    char *mp = fields[4];
    unescape(mp);
    if (want[0] && strcmp(mp, want) != 0)
      continue;
    struct stat sb;
    if (stat(mp, &sb) == 0 || errno != ENOTCONN) {
      alive++;
      continue;
    }
    int err = detach(mp);
    if (err) {
      failed++;
      fprintf(stderr, "bslab: %s: cannot unmount the dead mount %s: %s\n", a->verb, mp,
              strerror(err));
    } else {
      reaped++;
      printf("reaped ");
      bslab_text(stdout, mp);
      printf("\n");
    }
  }
  fclose(f);
  if (want[0] && reaped == 0 && failed == 0)
    return alive ? bslab_env_error(a, "%s is a live bslab mount: its server is running "
                                      "(fusermount3 -u %s stops it)", want, want)
                 : bslab_env_error(a, "%s is not a bslab mount", want);
  return failed ? BSLAB_FAILED : BSLAB_OK;
}

/* `bslab power-loss MOUNTPOINT`: ask the server of the bslab mount at
 * MOUNTPOINT for a power loss now (an ioctl on the mount point, served in
 * order with the other requests). */
int bslab_power_loss(bslab_args *a) {
  if (a->npos != 1)
    return bslab_usage_error(a, a->npos ? "too many arguments" : "missing argument MOUNTPOINT");
  int fd = open(a->pos[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return bslab_env_error(a, "%s: %s", a->pos[0], strerror(errno));
  int rc = ioctl(fd, BSLAB_IOC_POWER_LOSS);
  int err = errno;
  close(fd);
  if (rc == 0)
    return BSLAB_OK;
  if (err == ENOTTY || err == EINVAL || err == ENOSYS)
    return bslab_env_error(a, "%s is not a bslab mount", a->pos[0]);
  if (err == EOPNOTSUPP)
    return bslab_env_error(a, "%s: power loss is simulated by the sim only (UNSUPPORTED)",
                           a->pos[0]);
  return bslab_env_error(a, "%s: power loss failed: %s", a->pos[0], strerror(err));
}

#ifndef BS_HAVE_FUSE

int bslab_mount(bslab_args *a) {
  if (a->reap)
    return a->npos <= 1 ? reap(a) : bslab_usage_error(a, "too many arguments");
  return bslab_env_error(a, "FUSE is unavailable: this bslab was built without libfuse3 "
                            "(install libfuse3-dev, e.g. with scripts/deps.sh, and rebuild)");
}

#else

#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <signal.h>
#include <sys/xattr.h>
#include <time.h>

#include "backstore/backend.h"
#include "backstore/faults.h"
#include "backstore/sim.h"

/* SIGUSR1 asks for a power loss before the next request. */
static volatile sig_atomic_t power_loss_signalled;
static void on_usr1(int sig) {
  (void)sig;
  power_loss_signalled = 1;
}

/* The server's state (fuse_get_context()->private_data). */
typedef struct mount_ctx {
  bs_store *st;
  bool direct_io; /* --direct-io: no page cache at all */
  bool changed; /* a request may have changed the volume: save the image */
  bool quiet;   /* no power-loss lines on stderr */
  bs_power_loss_mode mode; /* --power-loss drop|tear */
  uint64_t power_after;    /* --power-loss-after N (0: none) */
  uint64_t changes;        /* requests that changed (or tried to change) the store */
  bool power_due;          /* the Nth change was served: lose power before the next request */
} mount_ctx;

static mount_ctx *ctx(void) { return fuse_get_context()->private_data; }

/* A BS_* result as FUSE wants it: 0 or a negative errno. */
static int fe(int rc) { return rc == 0 ? 0 : -bs_err_to_errno(rc); }

/* Between two requests: the power loss that is due (--power-loss-after, or
 * SIGUSR1), so that the next request sees the post-crash state. */
static mount_ctx *between(void) {
  mount_ctx *c = ctx();
  bool sig = power_loss_signalled != 0;
  if (!sig && !c->power_due)
    return c;
  power_loss_signalled = 0;
  c->power_due = false;
  int rc = bs_power_loss(c->st, c->mode);
  c->changed = true;
  if (!c->quiet)
    fprintf(stderr, "bslab: mount: power loss (%s) after %llu changes%s: %s\n",
            c->mode == BS_POWER_LOSS_DROP ? "drop" : "tear", (unsigned long long)c->changes,
            sig ? ", on SIGUSR1" : "", rc == 0 ? "unsynced writes lost" : bs_strerror(rc));
  return c;
}

/* The store, for a request that only reads it. */
static bs_store *rd(void) { return between()->st; }

/* The store, for a request that changes it. */
static bs_store *mut(void) {
  mount_ctx *c = between();
  c->changed = true;
  if (++c->changes == c->power_after)
    c->power_due = true;
  return c->st;
}

static void *m_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  mount_ctx *c = ctx();
  /* Sizes and times changed under a cached file drop its pages. */
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
    conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE; /* every write() reaches the store */
  cfg->use_ino = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->kernel_cache = 0; /* an open drops the file's cached pages */
  cfg->auto_cache = 0;
  cfg->direct_io = c->direct_io;
  cfg->hard_remove = 1; /* unlink removes the file; no .fuse_hidden files in the store */
  return c;
}

/* The caching of a file just opened: its cached pages dropped (another
 * name of it, on a case-insensitive profile, may have changed it), or no
 * page cache at all with --direct-io. */
static void open_cache(struct fuse_file_info *fi) {
  fi->keep_cache = 0;
  fi->direct_io = ctx()->direct_io;
}

static void to_timespec(int64_t ns, struct timespec *ts) {
  ts->tv_sec = (time_t)(ns / 1000000000);
  ts->tv_nsec = (long)(ns % 1000000000);
  if (ts->tv_nsec < 0) {
    ts->tv_nsec += 1000000000;
    ts->tv_sec--;
  }
}

static int m_getattr(const char *path, struct stat *sb, struct fuse_file_info *fi) {
  (void)fi;
  bs_stat_info in;
  int rc = bs_stat(rd(), path, &in);
  if (rc != 0)
    return fe(rc);
  memset(sb, 0, sizeof(*sb));
  sb->st_ino = (ino_t)in.ino;
  sb->st_mode = (mode_t)(in.mode & 07777) |
                (in.kind == BS_KIND_DIR ? S_IFDIR : in.kind == BS_KIND_SYMLINK ? S_IFLNK : S_IFREG);
  sb->st_nlink = in.nlink;
  sb->st_uid = in.uid;
  sb->st_gid = in.gid;
  sb->st_size = (off_t)in.size;
  sb->st_blocks = (blkcnt_t)in.blocks;
  sb->st_blksize = 4096;
  to_timespec(in.atime_ns, &sb->st_atim);
  to_timespec(in.mtime_ns, &sb->st_mtim);
  to_timespec(in.ctime_ns, &sb->st_ctim);
  return 0;
}

typedef struct dir_fill {
  void *buf;
  fuse_fill_dir_t fill;
  const char *dir;
} dir_fill;

/* One entry, with its inode number (an entry of inode 0 is a hole to
 * readdir(3)) and type. */
static int fill_one(void *p, const char *name, bs_file_kind kind) {
  dir_fill *d = p;
  struct stat sb;
  memset(&sb, 0, sizeof(sb));
  sb.st_mode = kind == BS_KIND_DIR ? S_IFDIR : kind == BS_KIND_SYMLINK ? S_IFLNK : S_IFREG;
  char child[PATH_MAX];
  bs_stat_info in;
  int n = snprintf(child, sizeof(child), "%s/%s", strcmp(d->dir, "/") == 0 ? "" : d->dir, name);
  if (n < 0 || (size_t)n >= sizeof(child) || bs_stat(ctx()->st, child, &in) != 0)
    in.ino = UINT32_MAX; /* libfuse's "unknown": the kernel asks on lookup */
  sb.st_ino = (ino_t)in.ino;
  return d->fill(d->buf, name, &sb, 0, 0);
}

static int m_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                     struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off, (void)fi, (void)flags;
  dir_fill d = {buf, fill, path};
  if (fill(buf, ".", NULL, 0, 0) != 0 || fill(buf, "..", NULL, 0, 0) != 0)
    return -ENOMEM;
  return fe(bs_readdir(rd(), path, fill_one, &d));
}

static int m_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  open_cache(fi);
  return fe(bs_create(mut(), path, mode & 07777));
}

static int m_mknod(const char *path, mode_t mode, dev_t dev) {
  (void)dev;
  if (!S_ISREG(mode))
    return -EPERM; /* the store keeps files, directories and symlinks only */
  return fe(bs_create(mut(), path, mode & 07777));
}

static int m_open(const char *path, struct fuse_file_info *fi) {
  /* libfuse asks for atomic O_TRUNC: the kernel passes O_TRUNC here and
   * sends no truncate of its own, so the open empties the file. */
  bool trunc = (fi->flags & O_TRUNC) != 0;
  bs_store *st = trunc ? mut() : rd();
  bs_stat_info in;
  int rc = bs_stat(st, path, &in);
  if (rc != 0)
    return fe(rc);
  if (in.kind == BS_KIND_DIR)
    return -EISDIR;
  if (trunc && in.size != 0 && (rc = bs_truncate(st, path, 0)) != 0)
    return fe(rc);
  open_cache(fi);
  return 0;
}

static int m_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  size_t got = 0;
  int rc = bs_read(rd(), path, (uint64_t)off, buf, size, &got);
  return rc != 0 ? fe(rc) : (int)got;
}

static int m_write(const char *path, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi) {
  (void)fi;
  int rc = bs_write(mut(), path, (uint64_t)off, buf, size);
  return rc != 0 ? fe(rc) : (int)size;
}

static int m_flush(const char *path, struct fuse_file_info *fi) {
  (void)path, (void)fi;
  return 0; /* writes reach the store as they are made: nothing is buffered here */
}

static int m_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)datasync, (void)fi;
  return fe(bs_sync(mut(), path));
}

static int m_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  (void)fi;
  return size < 0 ? -EINVAL : fe(bs_truncate(mut(), path, (uint64_t)size));
}

static int m_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  (void)fi;
  return fe(bs_chmod(mut(), path, mode & 07777));
}

static int m_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
  (void)fi;
  return fe(bs_chown(mut(), path, uid == (uid_t)-1 ? BS_ID_KEEP : (uint32_t)uid,
                     gid == (gid_t)-1 ? BS_ID_KEEP : (uint32_t)gid));
}

/* One time of utimensat(2): UTIME_OMIT keeps @old, UTIME_NOW is the clock. */
static int64_t pick_time(const struct timespec *ts, int64_t old) {
  if (ts->tv_nsec == UTIME_OMIT)
    return old;
  struct timespec now;
  if (ts->tv_nsec == UTIME_NOW && clock_gettime(CLOCK_REALTIME, &now) == 0)
    ts = &now;
  return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int m_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  (void)fi;
  bs_stat_info in;
  int rc = bs_stat(rd(), path, &in);
  if (rc != 0)
    return fe(rc);
  return fe(bs_utimens(mut(), path, pick_time(&tv[0], in.atime_ns), pick_time(&tv[1], in.mtime_ns)));
}

static int m_rename(const char *from, const char *to, unsigned int flags) {
  if (flags & RENAME_EXCHANGE)
    return -EINVAL; /* the store has no atomic exchange */
  if (flags & ~(unsigned)RENAME_NOREPLACE)
    return -EINVAL;
  bs_stat_info in;
  /* One thread serves every request: nothing comes between this check and the rename. */
  if ((flags & RENAME_NOREPLACE) && bs_stat(rd(), to, &in) == 0)
    return -EEXIST;
  return fe(bs_rename(mut(), from, to));
}

static int m_unlink(const char *path) { return fe(bs_unlink(mut(), path)); }
static int m_rmdir(const char *path) { return fe(bs_rmdir(mut(), path)); }
static int m_mkdir(const char *path, mode_t mode) { return fe(bs_mkdir(mut(), path, mode & 07777)); }

static int m_symlink(const char *target, const char *path) { return fe(bs_symlink(mut(), target, path)); }
static int m_link(const char *from, const char *to) { return fe(bs_link(mut(), from, to)); }

/* readlink(2) through FUSE: the text NUL-terminated, cut to @size. */
static int m_readlink(const char *path, char *buf, size_t size) {
  char text[BS_SYMLINK_TARGET_MAX + 1];
  size_t n = 0;
  int rc = bs_readlink(rd(), path, text, sizeof(text), &n);
  if (rc != 0)
    return fe(rc);
  if (size == 0)
    return -ERANGE;
  n = n < size - 1 ? n : size - 1;
  memcpy(buf, text, n);
  buf[n] = '\0';
  return 0;
}

/* An xattr result as getxattr(2) says it: a missing attribute is ENODATA,
 * a buffer too small ERANGE. */
static int xe(int rc) {
  return rc == BS_ENOT_FOUND ? -ENODATA : rc == BS_EINVALID ? -ERANGE : fe(rc);
}

static int m_setxattr(const char *path, const char *name, const char *value, size_t size, int flags) {
  size_t len = 0;
  int have = bs_getxattr(rd(), path, name, NULL, 0, &len);
  if ((flags & XATTR_CREATE) && have == 0)
    return -EEXIST;
  if ((flags & XATTR_REPLACE) && have != 0)
    return xe(have);
  return fe(bs_setxattr(mut(), path, name, value, size));
}

static int m_getxattr(const char *path, const char *name, char *value, size_t size) {
  size_t len = 0;
  int rc = bs_getxattr(rd(), path, name, size ? value : NULL, size, &len);
  if (rc != 0)
    return xe(rc);
  return len > INT_MAX ? -E2BIG : (int)len;
}

typedef struct xattr_list {
  char *buf;
  size_t cap, len;
} xattr_list;

static int list_one(void *p, const char *name) {
  xattr_list *l = p;
  size_t n = strlen(name) + 1;
  if (l->cap && l->len + n <= l->cap)
    memcpy(l->buf + l->len, name, n);
  l->len += n;
  return 0;
}

static int m_listxattr(const char *path, char *list, size_t size) {
  xattr_list l = {list, size, 0};
  int rc = bs_listxattr(rd(), path, list_one, &l);
  if (rc != 0)
    return fe(rc);
  if (size && l.len > size)
    return -ERANGE;
  return l.len > INT_MAX ? -E2BIG : (int)l.len;
}

static int m_removexattr(const char *path, const char *name) {
  return xe(bs_removexattr(mut(), path, name));
}

static int m_statfs(const char *path, struct statvfs *sv) {
  (void)path;
  bs_usage u;
  bs_caps caps;
  bs_store *st = rd();
  int rc = bs_usage_get(st, &u);
  if (rc == 0)
    rc = bs_get_caps(st, &caps);
  if (rc != 0)
    return fe(rc);
  memset(sv, 0, sizeof(*sv));
  uint64_t bsz = u.block_size ? u.block_size : 4096;
  sv->f_bsize = sv->f_frsize = (unsigned long)bsz;
  sv->f_blocks = (fsblkcnt_t)(u.total_bytes / bsz);
  sv->f_bfree = sv->f_bavail = (fsblkcnt_t)(u.free_bytes / bsz);
  sv->f_namemax = caps.max_name_len;
  return 0;
}

/* copy_file_range(2) of the whole of a file into an empty file at offset 0
 * (what cp does) is a reflink: the copy shares every block with the source
 * (clonefile semantics: the source's mode, times and xattrs come along), made
 * at a temporary name and renamed over the destination, so that nothing
 * changes on failure.  Anything else, or a profile without reflink, is
 * EOPNOTSUPP: the kernel then copies the bytes itself. */
static ssize_t m_copy_file_range(const char *from, struct fuse_file_info *fi_in, off_t off_in,
                                 const char *to, struct fuse_file_info *fi_out, off_t off_out,
                                 size_t len, int flags) {
  (void)fi_in, (void)fi_out;
  bs_store *st = rd();
  bs_stat_info src, dst;
  char tmp[PATH_MAX];
  if (flags != 0 || off_in != 0 || off_out != 0 || bs_stat(st, from, &src) != 0 ||
      bs_stat(st, to, &dst) != 0 || dst.size != 0 || src.kind != BS_KIND_FILE || len < src.size ||
      src.size > SSIZE_MAX || (size_t)snprintf(tmp, sizeof(tmp), "%s.bslab-clone", to) >= sizeof(tmp))
    return -EOPNOTSUPP;
  st = mut();
  int rc = bs_reflink(st, from, tmp);
  if (rc == 0 && (rc = bs_rename(st, tmp, to)) != 0)
    bs_unlink(st, tmp);
  return rc == 0 ? (ssize_t)src.size : rc == BS_EUNSUPPORTED ? -EOPNOTSUPP : fe(rc);
}

/* BSLAB_IOC_POWER_LOSS on the mount point (`bslab power-loss MOUNTPOINT`):
 * the power fails now, in its place among the requests. */
static int m_ioctl(const char *path, int cmd, void *arg, struct fuse_file_info *fi,
                   unsigned int flags, void *data) {
  (void)path, (void)arg, (void)fi, (void)flags, (void)data;
  if ((unsigned int)cmd != BSLAB_IOC_POWER_LOSS)
    return -ENOTTY;
  mount_ctx *c = between();
  int rc = bs_power_loss(c->st, c->mode);
  if (rc == 0)
    c->changed = true;
  if (!c->quiet && rc == 0)
    fprintf(stderr, "bslab: mount: power loss (%s) after %llu changes, on request: unsynced "
                    "writes lost\n", c->mode == BS_POWER_LOSS_DROP ? "drop" : "tear",
            (unsigned long long)c->changes);
  return rc == BS_EUNSUPPORTED ? -EOPNOTSUPP : fe(rc);
}

static const struct fuse_operations ops = {
  .ioctl = m_ioctl,
  .copy_file_range = m_copy_file_range,
  .init = m_init,
  .getattr = m_getattr,
  .readdir = m_readdir,
  .create = m_create,
  .mknod = m_mknod,
  .open = m_open,
  .read = m_read,
  .write = m_write,
  .flush = m_flush,
  .fsync = m_fsync,
  .fsyncdir = m_fsync,
  .truncate = m_truncate,
  .chmod = m_chmod,
  .chown = m_chown,
  .utimens = m_utimens,
  .rename = m_rename,
  .unlink = m_unlink,
  .rmdir = m_rmdir,
  .mkdir = m_mkdir,
  .symlink = m_symlink,
  .link = m_link,
  .readlink = m_readlink,
  .setxattr = m_setxattr,
  .getxattr = m_getxattr,
  .listxattr = m_listxattr,
  .removexattr = m_removexattr,
  .statfs = m_statfs,
};

/* @path made absolute into @buf (the server leaves the current directory
 * when it goes to the background); false after a message. */
static bool absolute(const bslab_args *a, const char *path, char *buf, size_t cap) {
  char cwd[PATH_MAX];
  if (path[0] == '/') {
    if ((size_t)snprintf(buf, cap, "%s", path) < cap)
      return true;
  } else if (!getcwd(cwd, sizeof(cwd))) {
    bslab_env_error(a, "cannot get the current directory: %s", strerror(errno));
    return false;
  } else if ((size_t)snprintf(buf, cap, "%s/%s", cwd, path) < cap) {
    return true;
  }
  bslab_env_error(a, "path '%s' is too long", path);
  return false;
}

/* The mount point: an existing directory, resolved; 0 or BSLAB_USAGE. */
static int mount_point(const bslab_args *a, const char *arg, char *buf) {
  struct stat sb;
  if (!realpath(arg, buf) || stat(buf, &sb) != 0)
    return bslab_env_error(a, "mount point '%s': %s%s", arg, strerror(errno),
                           errno == ENOTCONN ? " (a killed server's mount: bslab mount --reap "
                                               "removes it)" : "");
  if (!S_ISDIR(sb.st_mode))
    return bslab_env_error(a, "mount point '%s' is not a directory", arg);
  return 0;
}

/* Serve @v at @mp until unmounted; 0, or BSLAB_USAGE after a message. */
static int serve(bslab_args *a, bslab_vol *v, mount_ctx *c, const char *mp) {
  char fsname[PATH_MAX + 16];
  snprintf(fsname, sizeof(fsname), "fsname=bslab:%s",
           v->image ? v->image : a->root ? a->root : a->profile ? a->profile : "apfs");
  /* A comma in fsname would split the option: say "bslab" only then. */
  if (strchr(fsname + 7, ',') || strchr(fsname + 7, '\\'))
    snprintf(fsname, sizeof(fsname), "fsname=bslab");
  char *argv[] = {"bslab", "-o", fsname, "-o", "subtype=bslab,default_permissions", NULL};
  struct fuse_args args = FUSE_ARGS_INIT(5, argv);
  struct fuse *f = fuse_new(&args, &ops, sizeof(ops), c);
  fuse_opt_free_args(&args); /* fuse_new() may have copied them */
  if (!f)
    return bslab_env_error(a, "cannot start the FUSE server (libfuse said why above)");
  int status = 0;
  if (fuse_mount(f, mp) != 0) {
    fuse_destroy(f);
    return bslab_env_error(a, "cannot mount on '%s' (libfuse said why above; FUSE needs "
                              "/dev/fuse and root or fusermount3)", mp);
  }
  struct fuse_session *se = fuse_get_session(f);
  if (fuse_set_signal_handlers(se) != 0) {
    status = bslab_env_error(a, "cannot install the signal handlers");
  } else {
    if (!a->foreground) {
      fflush(stdout);
      if (fuse_daemonize(0) != 0)
        status = bslab_env_error(a, "cannot go to the background");
      else if (v->locked)
        bslab_lock_record(&v->lock, a); /* the server is another process now */
    } else if (!a->quiet) {
      fprintf(stderr, "bslab: mount: serving on %s (Ctrl-C, SIGTERM or fusermount3 -u %s "
                      "unmounts)\n", mp, mp);
    }
    /* fuse_loop(): 0 after an unmount, the signal's number after one of
     * the signals, a negative errno if reading /dev/fuse failed. */
    int rc = status == 0 ? fuse_loop(f) : 0;
    if (rc < 0)
      status = bslab_env_error(a, "the FUSE session failed: %s", strerror(-rc));
    fuse_remove_signal_handlers(se);
  }
  fuse_unmount(f);
  fuse_destroy(f);
  return status;
}

int bslab_mount(bslab_args *a) {
  if (a->reap)
    return a->npos <= 1 ? reap(a) : bslab_usage_error(a, "too many arguments");
  if (a->npos != 1)
    return bslab_usage_error(a, a->npos ? "too many arguments" : "missing argument MOUNTPOINT");
  bs_power_loss_mode mode = BS_POWER_LOSS_TEAR;
  if (a->power_mode && strcmp(a->power_mode, "drop") == 0)
    mode = BS_POWER_LOSS_DROP;
  else if (a->power_mode && strcmp(a->power_mode, "tear") != 0)
    return bslab_usage_error(a, "--power-loss needs drop or tear, got '%s'", a->power_mode);
  if ((a->power_after_set || a->power_mode) && a->backend && strcmp(a->backend, "sim") != 0)
    return bslab_usage_error(a, "power loss is simulated by the sim only, not backend '%s'",
                             a->backend);
  char mp[PATH_MAX], image[PATH_MAX], root[PATH_MAX];
  int status = mount_point(a, a->pos[0], mp);
  if (status != 0)
    return status;
  if (access("/dev/fuse", R_OK | W_OK) != 0)
    return bslab_env_error(a, "FUSE is unavailable: /dev/fuse: %s (load the fuse module, or "
                              "give the container the device)", strerror(errno));
  const char *img = a->image ? a->image : getenv("BSLAB_IMAGE");
  if (img && *img && (!a->backend || strcmp(a->backend, "sim") == 0)) {
    if (!absolute(a, img, image, sizeof(image)))
      return BSLAB_USAGE;
    a->image = image;
  }
  if (a->root) {
    if (!absolute(a, a->root, root, sizeof(root)))
      return BSLAB_USAGE;
    a->root = root;
  }
  bslab_vol v;
  bool sim = !a->backend || strcmp(a->backend, "sim") == 0;
  if (sim && !a->image) {
    /* --profile alone: a fresh volume that lives as long as the mount. */
    memset(&v, 0, sizeof(v));
    v.lock.fd = -1;
    status = bslab_open_fresh(&v.st, a);
  } else {
    status = bslab_vol_open(&v, a, true);
  }
  if (status != 0)
    return status;
  /* --faults SPEC: the served store is a faults wrapper around the volume
   * (saved and closed as it is); the spec's errors reach programs as errnos. */
  bs_store *served = v.st;
  if (a->faults && strcmp(a->faults, "none") != 0) {
    char why[512] = "";
    bs_fault_spec *spec = NULL;
    int rc = bs_fault_spec_parse(&spec, a->faults, why, sizeof(why));
    bs_fault_spec_free(spec);
    if (rc == 0)
      rc = bs_faults_wrap(&served, v.st, a->faults, a->seed);
    if (rc != 0) {
      status = rc == BS_EINVALID ? bslab_usage_error(a, "bad --faults spec: %s", why)
                                 : bslab_env_error(a, "--faults '%s': %s (%s)", a->faults,
                                                   bs_strerror(rc), bs_err_name(rc));
      return bslab_vol_finish(&v, a, false, status);
    }
  }
  mount_ctx c = {.st = served, .direct_io = a->direct_io, .quiet = a->quiet || !a->foreground,
                 .mode = mode, .power_after = a->power_after};
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  status = serve(a, &v, &c, mp);
  if (served != v.st) {
    uint64_t fired = 0;
    bs_faults_fired(served, &fired);
    if (a->foreground && !a->quiet)
      fprintf(stderr, "bslab: mount: %llu injected faults fired (--faults %s)\n",
              (unsigned long long)fired, a->faults);
    bs_close(served);
  }
  /* A new image is saved once it was served, even unchanged. */
  return bslab_vol_finish(&v, a, c.changed || (v.created && status == 0), status);
}

#endif
