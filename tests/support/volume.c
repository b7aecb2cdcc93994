/* Real volumes for tests and benchmarks (see volume.h, docs/testing.md).
 *
 * A volume is a registry entry <root>/<pid>-<starttime>-<n>/ holding
 *   owner    "<pid> <starttime>\n" of the owning process (written first)
 *   fs       "<fs> <bytes>\n"
 *   image    the sparse backing file (not for tmpfs)
 *   loopdev  "/dev/loopN\n", written right after the device is attached
 *   mnt/     the mount point
 *   run      $BS_VOL_RUN when set: the test run that made it (scripts/run-tests.sh
 *            counts only its own run's leftovers; other runs share the root)
 * The owner's identity is also in the entry's name, so an entry whose owner
 * file was never written is still attributable.  Loop devices are attached
 * with LO_FLAGS_AUTOCLEAR: they detach when the mount goes away, or at once
 * if the creator dies between attaching and mounting. */
#include "tests/support/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backstore.h"
#include "real/tool.h"
#include "tests/support/volume_sys.h"

#define VOL_DEFAULT_ROOT "/dev/shm/backstore-vols"
#define MIB (1024ull * 1024ull)
/* Longest registry root: room below it for "/<entry name>/<file>". */
#define ROOT_MAX (PATH_MAX - 512)

const char *bs_vol_last_error(void) { return bs__vol_last_err; }

/* Parse a registry entry name "<pid>-<start>-<tag>". */
static bool parse_entry_name(const char *name, pid_t *pid, unsigned long long *start) {
  int p = 0, n = 0;
  unsigned long long s = 0;
  if (name[0] < '1' || name[0] > '9')
    return false;
  if (sscanf(name, "%d-%llu-%n", &p, &s, &n) != 2 || n == 0 || name[n] == '\0' || p <= 0)
    return false;
  *pid = (pid_t)p;
  *start = s;
  return true;
}

/* Owner of the registry entry @dir (named @name): its owner file, else its name. */
static bool entry_owner(const char *dir, const char *name, pid_t *pid, unsigned long long *start) {
  char path[PATH_MAX + 16], buf[128];
  int p = 0;
  unsigned long long s = 0;
  bs__vol_fmt(path, sizeof(path), "%s/owner", dir);
  if (bs__vol_read(path, buf, sizeof(buf)) == 0 && sscanf(buf, "%d %llu", &p, &s) == 2 && p > 0) {
    *pid = (pid_t)p;
    *start = s;
    return true;
  }
  return parse_entry_name(name, pid, start);
}

/* ---- filesystems and tools --------------------------------------------- */

typedef struct fs_kind {
  const char *name;
  const char *mkfs; /* NULL for tmpfs */
  uint64_t dflt;    /* default size */
} fs_kind;

static const fs_kind kinds[] = {
  {"btrfs", "mkfs.btrfs", 320 * MIB},
  {"xfs", "mkfs.xfs", 320 * MIB},
  {"ext4", "mkfs.ext4", 320 * MIB},
  {"tmpfs", NULL, 64 * MIB},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static int kind_index(const char *fs) {
  for (size_t i = 0; fs && i < N_KINDS; i++)
    if (strcmp(fs, kinds[i].name) == 0)
      return (int)i;
  return -1;
}

const char *bs_vol_unavailable(void) {
  static _Thread_local char why[160];
  if (geteuid() != 0)
    return "not root";
  int fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return "no /dev/loop-control";
    bs__vol_fmt(why, sizeof(why), "cannot open /dev/loop-control: %s", strerror(errno));
    return why;
  }
  close(fd);
  char tool[PATH_MAX];
  for (size_t i = 0; i < N_KINDS; i++) {
    if (kinds[i].mkfs && !bs__tool_find(kinds[i].mkfs, tool, sizeof(tool))) {
      bs__vol_fmt(why, sizeof(why), "%s not installed", kinds[i].mkfs);
      return why;
    }
  }
  return NULL;
}

/* mkfs @image as @k through the library's tool runner (real/tool.h): on
 * failure the error names the tool and quotes its stderr. */
static int make_fs(const fs_kind *k, const char *tool, const char *image) {
  const char *argv[12];
  int n = 0;
  argv[n++] = tool;
  if (strcmp(k->name, "btrfs") == 0) {
    argv[n++] = "-q", argv[n++] = "-f", argv[n++] = "-K";
  } else if (strcmp(k->name, "xfs") == 0) {
    argv[n++] = "-q", argv[n++] = "-f", argv[n++] = "-K", argv[n++] = "-m", argv[n++] = "reflink=1";
  } else {
    /* 4 KiB blocks and 256-byte inodes as on any real ext4 (mke2fs's "small"
     * type would pick 1 KiB and 128 for this size); inode tables and journal
     * zeroed now, so no ext4lazyinit writes run under a benchmark. */
    argv[n++] = "-q", argv[n++] = "-F", argv[n++] = "-b", argv[n++] = "4096";
    argv[n++] = "-I", argv[n++] = "256", argv[n++] = "-E";
    argv[n++] = "nodiscard,lazy_itable_init=0,lazy_journal_init=0";
  }
  argv[n++] = image;
  argv[n] = NULL;
  bs__tool_result r;
  int rc = bs__tool_run(argv, &r, bs__vol_last_err, sizeof(bs__vol_last_err));
  bs__tool_result_free(&r);
  return rc == BS_EUNSUPPORTED ? BS_ETOOL_FAILED : rc;
}

/* ---- the registry ------------------------------------------------------ */

const char *bs_vol_root(void) {
  static _Thread_local char root[PATH_MAX];
  const char *r = getenv("BS_VOL_ROOT");
  bs__vol_fmt(root, sizeof(root), "%s", r && r[0] == '/' ? r : VOL_DEFAULT_ROOT);
  size_t n = strlen(root);
  while (n > 1 && root[n - 1] == '/')
    root[--n] = '\0';
  return root;
}

/* The canonical path of an existing registry root, in @out (PATH_MAX);
 * false if there is none or it is too long to hold entries. */
static bool existing_root(char *out) {
  if (!realpath(bs_vol_root(), out))
    return false;
  if (strlen(out) > ROOT_MAX) {
    bs__vol_err("registry root %s: path too long", out);
    return false;
  }
  return true;
}

/* Make the registry root if needed and put its canonical path in @out.  It
 * must be a real directory of ours that nobody else can write. */
static int open_root(char *out) {
  const char *root = bs_vol_root();
  if (mkdir(root, 0755) != 0 && errno != EEXIST) {
    int eno = errno;
    bs__vol_err("mkdir %s: %s", root, strerror(eno));
    return bs_err_from_errno(eno);
  }
  struct stat st;
  if (lstat(root, &st) != 0) {
    int eno = errno;
    bs__vol_err("%s: %s", root, strerror(eno));
    return bs_err_from_errno(eno);
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
    bs__vol_err("registry root %s is not a directory of uid %d writable only by it", root,
                (int)geteuid());
    return BS_EPERMISSION;
  }
  if (!realpath(root, out)) {
    int eno = errno;
    bs__vol_err("realpath %s: %s", root, strerror(eno));
    return bs_err_from_errno(eno);
  }
  if (strlen(out) > ROOT_MAX) {
    bs__vol_err("registry root %s: path too long", out);
    return BS_ENAME_TOO_LONG;
  }
  return 0;
}

/* True if @dir looks like a registry entry: absolute, no "." or ".."
 * components, last component "<pid>-<start>-<tag>". */
static bool is_entry_path(const char *dir) {
  if (dir[0] != '/' || strstr(dir, "/../") || strstr(dir, "/./"))
    return false;
  const char *base = strrchr(dir, '/') + 1;
  pid_t pid;
  unsigned long long start;
  return parse_entry_name(base, &pid, &start);
}

static atomic_uint vol_seq;

/* Fail with the OS error @e of @what on @path. */
static int os_fail(int e, const char *what, const char *path) {
  bs__vol_err("%s %s: %s", what, path, strerror(e));
  return bs_err_from_errno(e);
}

/* Write the registry file @dir/@name holding @text. */
static int put_file(const char *dir, const char *name, const char *text) {
  char path[PATH_MAX + 16];
  bs__vol_fmt(path, sizeof(path), "%s/%s", dir, name);
  int rc = bs__vol_write_new(path, text);
  return rc == 0 ? 0 : os_fail(-rc, "write", path);
}

/* Make the registry entry of a volume owned by @owner (started at @start)
 * under @root: its directory, owner and fs files, and mnt/.  Nothing is
 * attached or mounted before this returns 0. */
static int make_entry(bs_vol *v, const char *root, const fs_kind *k, uint64_t size, pid_t owner,
                      unsigned long long start) {
  /* Another volctl of the same --owner may have taken <n>: try the next. */
  for (int tries = 0;; tries++) {
    unsigned n = atomic_fetch_add(&vol_seq, 1);
    bs__vol_fmt(v->dir, sizeof(v->dir), "%s/%d-%llu-%u", root, (int)owner, start, n);
    if (mkdir(v->dir, 0755) == 0)
      break;
    if (errno != EEXIST || tries > 10000) {
      int rc = os_fail(errno, "mkdir", v->dir);
      v->dir[0] = '\0';
      return rc;
    }
  }
  char text[128];
  bs__vol_fmt(text, sizeof(text), "%d %llu\n", (int)owner, start);
  int rc = put_file(v->dir, "owner", text);
  if (rc != 0)
    return rc;
  bs__vol_fmt(text, sizeof(text), "%s %" PRIu64 "\n", k->name, size);
  if ((rc = put_file(v->dir, "fs", text)) != 0)
    return rc;
  const char *run = getenv("BS_VOL_RUN");
  if (run && *run) {
    bs__vol_fmt(text, sizeof(text), "%s\n", run);
    if ((rc = put_file(v->dir, "run", text)) != 0)
      return rc;
  }
  bs__vol_fmt(v->mnt, sizeof(v->mnt), "%s/mnt", v->dir);
  if (mkdir(v->mnt, 0755) != 0)
    return os_fail(errno, "mkdir", v->mnt);
  bs__vol_fmt(v->fs, sizeof(v->fs), "%s", k->name);
  v->size = size;
  return 0;
}

/* The image, mkfs, the loop device and the mount of a btrfs/xfs/ext4 @v. */
static int make_loop_volume(bs_vol *v, const fs_kind *k, const char *tool) {
  int imgfd = -1, lfd = -1, rc;
  bs__vol_fmt(v->image, sizeof(v->image), "%s/image", v->dir);
  imgfd = open(v->image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (imgfd < 0)
    return os_fail(errno, "create", v->image);
  if (ftruncate(imgfd, (off_t)v->size) != 0) {
    rc = os_fail(errno, "ftruncate", v->image);
    goto out;
  }
  if ((rc = make_fs(k, tool, v->image)) != 0)
    goto out;
  if ((rc = bs__vol_loop_attach(imgfd, v->image, v->loopdev, sizeof(v->loopdev), &lfd)) != 0)
    goto out;
  char text[80];
  bs__vol_fmt(text, sizeof(text), "%s\n", v->loopdev);
  if ((rc = put_file(v->dir, "loopdev", text)) != 0)
    goto out;
  if (mount(v->loopdev, v->mnt, k->name, 0, NULL) != 0) {
    int e = errno;
    bs__vol_err("mount %s (%s) on %s: %s", v->loopdev, k->name, v->mnt, strerror(e));
    rc = bs_err_from_errno(e);
  }
out:
  /* Once mounted, the mount holds the device and its unmount detaches it
   * (autoclear); otherwise this close detaches it. */
  if (lfd >= 0)
    close(lfd);
  close(imgfd);
  return rc;
}

int bs_vol_create(bs_vol *out, const char *fs, uint64_t size) {
  return bs_vol_create_owned(out, fs, size, getpid());
}

int bs_vol_create_owned(bs_vol *out, const char *fs, uint64_t size, pid_t owner) {
  if (!out) {
    bs__vol_err("no bs_vol to fill");
    return BS_EINVALID;
  }
  memset(out, 0, sizeof(*out));
  bs__vol_last_err[0] = '\0';
  int ki = kind_index(fs);
  if (ki < 0) {
    bs__vol_err("unknown filesystem \"%s\" (btrfs, xfs, ext4 or tmpfs)", fs ? fs : "(null)");
    return BS_EINVALID;
  }
  const fs_kind *k = &kinds[ki];
  if (geteuid() != 0) {
    bs__vol_err("cannot make a %s volume: not root", k->name);
    return BS_EPERMISSION;
  }
  char tool[PATH_MAX] = "";
  if (k->mkfs) {
    if (access("/dev/loop-control", R_OK | W_OK) != 0) {
      bs__vol_err("cannot make a %s volume: no /dev/loop-control (%s)", k->name, strerror(errno));
      return BS_EUNSUPPORTED;
    }
    if (!bs__tool_find(k->mkfs, tool, sizeof(tool))) {
      bs__vol_err("cannot make a %s volume: %s not installed", k->name, k->mkfs);
      return BS_EUNSUPPORTED;
    }
  }
  if (size == 0)
    size = k->dflt;
  if (size > (1ull << 50)) {
    bs__vol_err("volume size %" PRIu64 " is too large", size);
    return BS_EINVALID;
  }
  size = (size + 4095) & ~4095ull;
  char state;
  unsigned long long start;
  if (owner <= 0 || bs__vol_proc_stat(owner, &state, &start) != 0 || state == 'Z' || state == 'X') {
    bs__vol_err("owner pid %d is not running", (int)owner);
    return BS_ENOT_FOUND;
  }
  char root[PATH_MAX];
  int rc = open_root(root);
  if (rc != 0)
    return rc;

  /* The entry and its owner file come first: from here on a crash leaves
   * something the reaper finds. */
  if ((rc = make_entry(out, root, k, size, owner, start)) != 0)
    goto fail;
  if (!k->mkfs) {
    char data[64];
    bs__vol_fmt(data, sizeof(data), "size=%" PRIu64 ",mode=0755", size);
    if (mount("tmpfs", out->mnt, "tmpfs", 0, data) != 0) {
      rc = os_fail(errno, "mount tmpfs on", out->mnt);
      goto fail;
    }
  } else if ((rc = make_loop_volume(out, k, tool)) != 0) {
    goto fail;
  }
  if (chmod(out->mnt, 0755) != 0) {
    rc = os_fail(errno, "chmod", out->mnt);
    goto fail;
  }
  if (strcmp(k->name, "ext4") == 0) { /* the mount point starts empty */
    char path[PATH_MAX + 16];
    bs__vol_fmt(path, sizeof(path), "%s/lost+found", out->mnt);
    if (rmdir(path) != 0 && errno != ENOENT) {
      rc = os_fail(errno, "rmdir", path);
      goto fail;
    }
  }
  return 0;

fail:;
  char why[sizeof(bs__vol_last_err)];
  memcpy(why, bs__vol_last_err, sizeof(why));
  if (out->dir[0]) {
    int unmounted = 0;
    bs__vol_release(out->dir, &unmounted, NULL, 0);
  }
  memcpy(bs__vol_last_err, why, sizeof(why));
  memset(out, 0, sizeof(*out));
  return rc;
}

void bs_vol_destroy(bs_vol *v) {
  if (!v)
    return;
  char dir[sizeof(v->dir)] = "";
  if (v->dir[0]) {
    bs__vol_fmt(dir, sizeof(dir), "%s", v->dir);
  } else if (v->mnt[0]) { /* half-made by hand: the entry is the parent of mnt */
    bs__vol_fmt(dir, sizeof(dir), "%s", v->mnt);
    char *slash = strrchr(dir, '/');
    if (slash && strcmp(slash, "/mnt") == 0)
      *slash = '\0';
    else
      dir[0] = '\0';
  }
  if (dir[0]) {
    if (is_entry_path(dir)) {
      int unmounted = 0;
      bs__vol_release(dir, &unmounted, NULL, 0);
    } else {
      bs__vol_err("not removing %s: not a volume registry entry", dir);
    }
  }
  memset(v, 0, sizeof(*v));
}

int bs_vol_destroy_dir(const char *dir) {
  char root[PATH_MAX], real[PATH_MAX];
  if (!dir || !dir[0]) {
    bs__vol_err("no directory given");
    return BS_EINVALID;
  }
  if (!existing_root(root)) {
    bs__vol_err("no volume registry at %s", bs_vol_root());
    return BS_ENOT_FOUND;
  }
  if (!realpath(dir, real)) {
    int eno = errno;
    bs__vol_err("%s: %s", dir, strerror(eno));
    return bs_err_from_errno(eno);
  }
  char *slash = strrchr(real, '/');
  size_t rl = strlen(root);
  if (!slash || (size_t)(slash - real) != rl || strncmp(real, root, rl) != 0 ||
      !is_entry_path(real)) {
    bs__vol_err("%s is not an entry of the volume registry %s", dir, root);
    return BS_EINVALID;
  }
  int unmounted = 0;
  return bs__vol_release(real, &unmounted, NULL, 0);
}

/* Registry entries of @root, sorted; -1 if it cannot be read. */
static int list_entries(const char *root, struct dirent ***ents) {
  return scandir(root, ents, NULL, alphasort);
}

static void free_entries(struct dirent **ents, int n) {
  for (int i = 0; i < n; i++)
    free(ents[i]);
  free(ents);
}

int bs_vol_reap_orphans(FILE *log) {
  char root[PATH_MAX];
  if (!existing_root(root))
    return 0; /* no registry, nothing registered */
  /* One reaper at a time per registry. */
  char path[PATH_MAX + 16];
  bs__vol_fmt(path, sizeof(path), "%s/.lock", root);
  int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock >= 0)
    flock(lock, LOCK_EX);

  int reaped = 0;
  struct dirent **ents = NULL;
  int n = list_entries(root, &ents);
  for (int i = 0; i < n; i++) {
    const char *name = ents[i]->d_name;
    char dir[PATH_MAX + 16];
    struct stat st;
    pid_t pid;
    unsigned long long start;
    if (name[0] == '.')
      continue;
    bs__vol_fmt(dir, sizeof(dir), "%s/%s", root, name);
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || !entry_owner(dir, name, &pid, &start) ||
        bs__vol_owner_alive(pid, start))
      continue;
    char fs[64] = "?", loop[64] = "";
    bs__vol_fmt(path, sizeof(path), "%s/fs", dir);
    if (bs__vol_read(path, fs, sizeof(fs)) == 0)
      fs[strcspn(fs, " ")] = '\0';
    bs__vol_fmt(path, sizeof(path), "%s/loopdev", dir);
    bs__vol_read(path, loop, sizeof(loop));
    int unmounted = 0;
    char cleared[256];
    if (bs__vol_release(dir, &unmounted, cleared, sizeof(cleared)) == 0) {
      reaped++;
      if (!loop[0]) /* the loopdev file was never written */
        bs__vol_fmt(loop, sizeof(loop), "%s", cleared);
      if (log)
        fprintf(log, "reaped %s (%s, owner pid %d gone): %d unmounted%s%s\n", dir, fs, (int)pid,
                unmounted, loop[0] ? ", detached " : "", loop);
    } else if (log) {
      fprintf(log, "could not reap %s: %s\n", dir, bs__vol_last_err);
    }
  }
  if (n > 0)
    free_entries(ents, n);

  /* Loop devices backed by a file of the registry whose entry is gone. */
  int ids[BS__VOL_MAX_LOOPS];
  size_t nl = bs__vol_loops_under(root, ids, BS__VOL_MAX_LOOPS);
  for (size_t i = 0; i < nl; i++) {
    char bf[PATH_MAX + 16], entry[PATH_MAX + 16];
    struct stat st;
    if (!bs__vol_loop_backing(ids[i], bf, sizeof(bf)))
      continue;
    bs__vol_fmt(entry, sizeof(entry), "%s", bf);
    char *end = strchr(entry + strlen(root) + 1, '/');
    if (end)
      *end = '\0';
    if (lstat(entry, &st) == 0)
      continue; /* its entry is still there: alive, or reported above */
    int drc = bs__vol_detach_loop(ids[i], entry);
    if (drc == 0) {
      reaped++;
      if (log)
        fprintf(log, "detached /dev/loop%d (backing file %s; its registry entry is gone)\n", ids[i],
                bf);
    } else if (log) {
      fprintf(log, "could not detach /dev/loop%d (backing file %s): %s\n", ids[i], bf,
              strerror(-drc));
    }
  }
  if (lock >= 0)
    close(lock);
  return reaped;
}

int bs_vol_list(FILE *out) {
  char root[PATH_MAX];
  if (!existing_root(root))
    return 0;
  struct dirent **ents = NULL;
  int n = list_entries(root, &ents), count = 0;
  if (n < 0) {
    int eno = errno;
    bs__vol_err("%s: %s", root, strerror(eno));
    return bs_err_from_errno(eno);
  }
  for (int i = 0; i < n; i++) {
    const char *name = ents[i]->d_name;
    char dir[PATH_MAX + 16], path[PATH_MAX + 32], fs[64] = "-", loop[64] = "-";
    struct stat st;
    pid_t pid;
    unsigned long long start;
    bs__vol_fmt(dir, sizeof(dir), "%s/%s", root, name);
    if (name[0] == '.' || lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        !entry_owner(dir, name, &pid, &start))
      continue;
    bs__vol_fmt(path, sizeof(path), "%s/fs", dir);
    bs__vol_read(path, fs, sizeof(fs));
    bs__vol_fmt(path, sizeof(path), "%s/loopdev", dir);
    bs__vol_read(path, loop, sizeof(loop));
    char **mps;
    size_t nm = 0;
    bs__vol_mounts_under(dir, &mps, &nm);
    bs__vol_free_list(mps, nm);
    fprintf(out, "%s  %s  owner %d %s  %s  %s\n", dir, fs, (int)pid,
            bs__vol_owner_alive(pid, start) ? "alive" : "dead", loop, nm ? "mounted" : "unmounted");
    count++;
  }
  if (n > 0)
    free_entries(ents, n);
  return count;
}

int bs_vol_make_subroot(const char *tag, char *out, size_t cap) {
  static const char tag_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
  if (!tag || !tag[0] || strspn(tag, tag_chars) != strlen(tag)) {
    bs__vol_err("bad registry tag \"%s\"", tag ? tag : "(null)");
    return BS_EINVALID;
  }
  char root[PATH_MAX], state, path[PATH_MAX + 16], text[64];
  unsigned long long start;
  int rc = open_root(root);
  if (rc != 0)
    return rc;
  if (bs__vol_proc_stat(getpid(), &state, &start) != 0) {
    bs__vol_err("cannot read /proc/self/stat");
    return BS_EIO;
  }
  if (!bs__vol_fmt(out, cap, "%s/%d-%llu-%s", root, (int)getpid(), start, tag) ||
      strlen(out) > ROOT_MAX) {
    bs__vol_err("registry path too long");
    return BS_ENAME_TOO_LONG;
  }
  if (mkdir(out, 0755) != 0) {
    int eno = errno;
    bs__vol_err("mkdir %s: %s", out, strerror(eno));
    return bs_err_from_errno(eno);
  }
  bs__vol_fmt(path, sizeof(path), "%s/owner", out);
  bs__vol_fmt(text, sizeof(text), "%d %llu\n", (int)getpid(), start);
  if ((rc = bs__vol_write_new(path, text)) != 0) {
    bs__vol_err("%s: %s", path, strerror(-rc));
    rmdir(out);
    return bs_err_from_errno(-rc);
  }
  return 0;
}

/* ---- the per-process cache --------------------------------------------- */

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static bs_vol shared_vols[N_KINDS];
static pid_t shared_pid[N_KINDS];
static bool shared_hooked;

/* At exit: destroy the volumes this process made (a forked child that
 * inherited the cache and the handler leaves them to its parent). */
static void shared_cleanup(void) {
  pthread_mutex_lock(&shared_mu);
  for (size_t i = 0; i < N_KINDS; i++) {
    if (shared_pid[i] == getpid())
      bs_vol_destroy(&shared_vols[i]);
    shared_pid[i] = 0;
  }
  pthread_mutex_unlock(&shared_mu);
}

const bs_vol *bs_vol_shared(const char *fs) {
  int ki = kind_index(fs);
  if (ki < 0) {
    bs__vol_err("unknown filesystem \"%s\" (btrfs, xfs, ext4 or tmpfs)", fs ? fs : "(null)");
    return NULL;
  }
  const bs_vol *v = NULL;
  pthread_mutex_lock(&shared_mu);
  if (shared_pid[ki] != 0) {
    v = &shared_vols[ki];
  } else {
    const char *why = bs_vol_unavailable();
    if (why) {
      bs__vol_err("%s", why);
    } else if (bs_vol_create(&shared_vols[ki], fs, 0) == 0) {
      shared_pid[ki] = getpid();
      v = &shared_vols[ki];
      if (!shared_hooked && atexit(shared_cleanup) == 0)
        shared_hooked = true;
    }
  }
  pthread_mutex_unlock(&shared_mu);
  return v;
}
