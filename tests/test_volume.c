/* The real-volume fixture (tests/support/volume.h, docs/testing.md): each
 * filesystem is made, is what it claims (statfs), and leaves no mount, loop
 * device or registry entry behind; the reaper removes the volumes of dead
 * owners (exited, SIGKILLed, pid reused, half-made) and nothing else; volctl
 * keeps its contract.  The suite works in a private registry inside the
 * normal one, so a SIGKILLed run is reaped by the next `volctl reap`.
 * Skipped, with the reason, where real volumes cannot be made (not root...). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/volume.h"

static char outer[2048]; /* $BS_VOL_ROOT before the suite ("" = unset) */
static char sub[2048];     /* the suite's private registry */

static const struct {
  const char *fs;
  uint32_t magic;
} fs_table[] = {
  {"btrfs", BTRFS_SUPER_MAGIC},
  {"xfs", XFS_SUPER_MAGIC},
  {"ext4", EXT4_SUPER_MAGIC},
  {"tmpfs", TMPFS_MAGIC},
};
#define N_FS (sizeof(fs_table) / sizeof(fs_table[0]))

/* Skip the test, saying why, where real volumes cannot be made. */
static void need_volumes(void) {
  const char *why = bs_vol_unavailable();
  if (why || !sub[0]) {
    print_message("    [ skipped  ] real volumes unavailable: %s\n", why ? why : "no registry");
    skip();
  }
}

static void use_root(const char *root) {
  if (root && root[0])
    setenv("BS_VOL_ROOT", root, 1);
  else
    unsetenv("BS_VOL_ROOT");
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* True if @path is a mount point in /proc/self/mountinfo. */
static bool is_mounted(const char *path) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  assert_non_null(f);
  char line[8192];
  bool found = false;
  while (!found && fgets(line, sizeof(line), f)) {
    char mp[4096];
    if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, path) == 0)
      found = true;
  }
  fclose(f);
  return found;
}

/* True if some mount point lies at or below @dir. */
static bool mounted_under(const char *dir) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  assert_non_null(f);
  char line[8192];
  size_t dl = strlen(dir);
  bool found = false;
  while (!found && fgets(line, sizeof(line), f)) {
    char mp[4096];
    if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, dir, dl) == 0 &&
        (mp[dl] == '\0' || mp[dl] == '/'))
      found = true;
  }
  fclose(f);
  return found;
}

/* True if a loop device's backing file (sysfs, and `losetup -a` where it is
 * installed) is @path or lies below it. */
static bool loop_backed_by(const char *path) {
  bool found = false;
  DIR *d = opendir("/sys/block");
  assert_non_null(d);
  struct dirent *e;
  size_t pl = strlen(path);
  while (!found && (e = readdir(d))) {
    if (strncmp(e->d_name, "loop", 4) != 0)
      continue;
    char p[512], bf[4200];
    snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", e->d_name);
    FILE *f = fopen(p, "re");
    if (!f)
      continue;
    if (fgets(bf, sizeof(bf), f) && strncmp(bf, path, pl) == 0 &&
        (bf[pl] == '\n' || bf[pl] == '/' || bf[pl] == ' ' || bf[pl] == '\0'))
      found = true;
    fclose(f);
  }
  closedir(d);
  if (!found && access("/usr/sbin/losetup", X_OK) == 0) {
    FILE *p = popen("/usr/sbin/losetup -a 2>/dev/null", "r");
    assert_non_null(p);
    char line[8192];
    while (fgets(line, sizeof(line), p)) {
      char *open = strchr(line, '(');
      if (open && strncmp(open + 1, path, pl) == 0 &&
          (open[1 + pl] == ')' || open[1 + pl] == '/' || open[1 + pl] == ' '))
        found = true;
    }
    pclose(p);
  }
  return found;
}

/* Registry entries (names "<pid>-...") in directory @dir. */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
      n++;
  closedir(d);
  return n;
}

/* What a fresh volume promises: the right fs, an empty 0755 writable mount
 * point, a registered owner, a loop device on its image. */
static void check_fresh(const bs_vol *v, const char *fs, uint32_t magic) {
  struct statfs sfs;
  assert_string_equal(v->fs, fs);
  assert_int_equal(statfs(v->mnt, &sfs), 0);
  if ((uint32_t)sfs.f_type != magic)
    fail_msg("%s volume at %s has f_type 0x%lx, want 0x%lx", fs, v->mnt, (unsigned long)sfs.f_type,
             (unsigned long)magic);
  assert_true(is_mounted(v->mnt));
  DIR *d = opendir(v->mnt);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      fail_msg("fresh %s volume holds %s", fs, e->d_name);
  closedir(d);
  struct stat st;
  assert_int_equal(stat(v->mnt, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0755);
  char p[4200];
  snprintf(p, sizeof(p), "%s/probe", v->mnt);
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "hello", 5), 5);
  close(fd);
  assert_int_equal(unlink(p), 0);
  snprintf(p, sizeof(p), "%s/owner", v->dir);
  FILE *f = fopen(p, "re");
  assert_non_null(f);
  int pid = 0;
  assert_int_equal(fscanf(f, "%d", &pid), 1);
  fclose(f);
  assert_int_equal(pid, getpid());
  assert_true(strncmp(v->dir, sub, strlen(sub)) == 0);
  if (strcmp(fs, "tmpfs") == 0) {
    assert_string_equal(v->image, "");
    assert_string_equal(v->loopdev, "");
  } else {
    assert_true(strncmp(v->loopdev, "/dev/loop", 9) == 0);
    assert_true(loop_backed_by(v->image));
    assert_true(v->size >= 300ull << 20);
  }
}

static void check_gone(const char *dir, const char *mnt, const char *image) {
  assert_false(is_mounted(mnt));
  assert_false(mounted_under(dir));
  if (image[0])
    assert_false(loop_backed_by(image));
  assert_false(loop_backed_by(dir));
  assert_false(exists(dir));
}

static void volume_each_fs_is_made_and_removed_whole(void **state) {
  (void)state;
  need_volumes();
  for (size_t i = 0; i < N_FS; i++) {
    bs_vol v;
    double t0 = now_ms();
    int rc = bs_vol_create(&v, fs_table[i].fs, 0);
    double t1 = now_ms();
    if (rc != 0)
      fail_msg("bs_vol_create(%s): %s: %s", fs_table[i].fs, bs_err_name(rc), bs_vol_last_error());
    check_fresh(&v, fs_table[i].fs, fs_table[i].magic);
    char dir[4096], mnt[4096], image[4096];
    snprintf(dir, sizeof(dir), "%s", v.dir);
    snprintf(mnt, sizeof(mnt), "%s", v.mnt);
    snprintf(image, sizeof(image), "%s", v.image);
    double t2 = now_ms();
    bs_vol_destroy(&v);
    double t3 = now_ms();
    print_message("    [ volume   ] %-5s create %6.1f ms, destroy %6.1f ms\n", fs_table[i].fs,
                  t1 - t0, t3 - t2);
    check_gone(dir, mnt, image);
    assert_string_equal(v.dir, ""); /* zeroed: a second destroy is a no-op */
    bs_vol_destroy(&v);
  }
  assert_int_equal(count_entries(sub), 0);
}

static void volume_failed_create_leaves_nothing(void **state) {
  (void)state;
  need_volumes();
  bs_vol v;
  assert_bs_err(bs_vol_create(&v, "ntfs", 0), BS_EINVALID);
  assert_non_null(strstr(bs_vol_last_error(), "ntfs"));
  assert_bs_err(bs_vol_create(&v, NULL, 0), BS_EINVALID);
  /* 16 MiB is below mkfs.xfs's minimum: mkfs fails, its output is kept. */
  assert_bs_err(bs_vol_create(&v, "xfs", 16ull << 20), BS_ETOOL_FAILED);
  assert_non_null(strstr(bs_vol_last_error(), "mkfs.xfs"));
  print_message("    [ message  ] %s\n", bs_vol_last_error());
  assert_string_equal(v.dir, "");
  assert_int_equal(count_entries(sub), 0);
  assert_false(loop_backed_by(sub));
  assert_false(mounted_under(sub));
  /* A dead owner is refused. */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(0);
  assert_int_equal(waitpid(pid, NULL, 0), pid);
  assert_bs_err(bs_vol_create_owned(&v, "tmpfs", 0, pid), BS_ENOT_FOUND);
  /* Destroying nothing, or a half-filled struct, is harmless. */
  memset(&v, 0, sizeof(v));
  bs_vol_destroy(&v);
  bs_vol_destroy(NULL);
  snprintf(v.mnt, sizeof(v.mnt), "%s/1-1-gone/mnt", sub);
  bs_vol_destroy(&v);
  snprintf(v.dir, sizeof(v.dir), "/tmp");
  bs_vol_destroy(&v); /* not a registry entry: refused, /tmp stays */
  assert_true(exists("/tmp"));
  assert_int_equal(count_entries(sub), 0);
}

/* A process that makes a volume of @fs in registry @root (NULL: the
 * current one), reports its directory, then exits at once without any
 * cleanup (@stay false) or waits until killed (@stay true). */
typedef struct owner_proc {
  pid_t pid;
  bs_vol vol;
} owner_proc;

static void start_owner(owner_proc *o, const char *fs, const char *root, bool stay) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  o->pid = fork();
  assert_true(o->pid >= 0);
  if (o->pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a killed suite */
    close(p[0]);
    if (root)
      setenv("BS_VOL_ROOT", root, 1);
    bs_vol v;
    int rc = bs_vol_create(&v, fs, 0);
    char msg[sizeof(v) + 16];
    if (rc == 0)
      memcpy(msg, &v, sizeof(v));
    else
      memset(msg, 0, sizeof(msg));
    ssize_t w = write(p[1], msg, sizeof(v));
    (void)w;
    close(p[1]);
    if (stay)
      for (;;)
        pause();
    _exit(0); /* no atexit, no destroy: an orphan */
  }
  close(p[1]);
  size_t got = 0;
  while (got < sizeof(o->vol)) {
    ssize_t r = read(p[0], (char *)&o->vol + got, sizeof(o->vol) - got);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(p[0]);
  assert_int_equal(got, sizeof(o->vol));
  if (!o->vol.dir[0])
    fail_msg("child could not make a %s volume", fs);
  assert_true(is_mounted(o->vol.mnt));
}

static void stop_owner(owner_proc *o) {
  kill(o->pid, SIGKILL);
  waitpid(o->pid, NULL, 0);
}

/* A registry entry of a dead owner made by hand: a pid that is alive (ours)
 * with another start time, i.e. a reused pid. */
static void make_dead_entry(char *dir, size_t cap, const char *tag) {
  snprintf(dir, cap, "%s/%d-1-%s", sub, (int)getpid(), tag);
  assert_int_equal(mkdir(dir, 0755), 0);
  char p[4200];
  snprintf(p, sizeof(p), "%s/owner", dir);
  FILE *f = fopen(p, "we");
  assert_non_null(f);
  fprintf(f, "%d 1\n", (int)getpid());
  fclose(f);
}

/* Attach @image to a loop device with losetup (no autoclear, and no loopdev
 * file in the registry); false where losetup is missing. */
static bool losetup_attach(const char *image) {
  if (access("/usr/sbin/losetup", X_OK) != 0)
    return false;
  int fd = open(image, O_RDWR | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 1 << 20), 0);
  close(fd);
  char cmd[4400];
  snprintf(cmd, sizeof(cmd), "/usr/sbin/losetup -f '%s'", image);
  assert_int_equal(system(cmd), 0);
  assert_true(loop_backed_by(image));
  return true;
}

static void volume_reaper_removes_dead_owners_only(void **state) {
  (void)state;
  need_volumes();
  char subx[4200];
  snprintf(subx, sizeof(subx), "%s-x", sub); /* a sibling registry: same string prefix */
  use_root(outer);
  assert_bs_ok(bs_vol_make_subroot("voltest-x", subx, sizeof(subx)));
  use_root(sub);

  bs_vol mine;
  assert_bs_ok(bs_vol_create(&mine, "xfs", 0));
  owner_proc gone, alive, elsewhere;
  start_owner(&gone, "btrfs", NULL, false);      /* exits: orphan */
  start_owner(&alive, "ext4", NULL, true);       /* stays alive */
  start_owner(&elsewhere, "ext4", subx, false);  /* orphan of the sibling registry */
  waitpid(gone.pid, NULL, 0);
  waitpid(elsewhere.pid, NULL, 0);

  /* A reused pid; a half-made volume (a mount, and a loop device with no
   * autoclear and no loopdev file); a loop device whose entry is gone. */
  char fake[4200], half[4200], stray[4200], p[4400];
  make_dead_entry(fake, sizeof(fake), "reused");
  make_dead_entry(half, sizeof(half), "half");
  snprintf(p, sizeof(p), "%s/mnt", half);
  assert_int_equal(mkdir(p, 0755), 0);
  assert_int_equal(mount("tmpfs", p, "tmpfs", 0, "size=1m"), 0);
  snprintf(p, sizeof(p), "%s/image", half);
  bool have_losetup = losetup_attach(p);
  make_dead_entry(stray, sizeof(stray), "stray");
  snprintf(p, sizeof(p), "%s/image", stray);
  int expect = 4;
  if (have_losetup && losetup_attach(p)) {
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/owner", stray);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(rmdir(stray), 0);
    assert_true(loop_backed_by(stray));
  } else {
    snprintf(p, sizeof(p), "%s/owner", stray);
    unlink(p);
    rmdir(stray);
    expect = 3;
  }
  snprintf(p, sizeof(p), "%s/mnt", half);

  char log[8192] = "";
  FILE *lf = fmemopen(log, sizeof(log) - 1, "w");
  assert_non_null(lf);
  int n = bs_vol_reap_orphans(lf);
  fclose(lf);
  print_message("%s", log);
  assert_int_equal(n, expect);
  check_gone(gone.vol.dir, gone.vol.mnt, gone.vol.image);
  assert_false(exists(fake));
  check_gone(half, p, "");
  assert_false(loop_backed_by(stray));
  assert_non_null(strstr(log, gone.vol.dir));
  /* Untouched: our own volume, a live child's, the sibling registry's. */
  check_fresh(&mine, "xfs", XFS_SUPER_MAGIC);
  assert_true(is_mounted(alive.vol.mnt) && loop_backed_by(alive.vol.image));
  assert_true(is_mounted(elsewhere.vol.mnt) && loop_backed_by(elsewhere.vol.image));

  /* The live child is SIGKILLed: now it is an orphan. */
  stop_owner(&alive);
  assert_int_equal(bs_vol_reap_orphans(NULL), 1);
  check_gone(alive.vol.dir, alive.vol.mnt, alive.vol.image);
  assert_int_equal(bs_vol_reap_orphans(NULL), 0);
  check_fresh(&mine, "xfs", XFS_SUPER_MAGIC);
  bs_vol_destroy(&mine);

  /* The sibling registry, reaped on its own, then removed from the outer one. */
  assert_true(is_mounted(elsewhere.vol.mnt));
  use_root(subx);
  assert_int_equal(bs_vol_reap_orphans(NULL), 1);
  check_gone(elsewhere.vol.dir, elsewhere.vol.mnt, elsewhere.vol.image);
  use_root(outer);
  assert_bs_ok(bs_vol_destroy_dir(subx));
  assert_false(exists(subx));
  use_root(sub);
  assert_int_equal(count_entries(sub), 0);
}

static void volume_shared_is_one_per_fs_and_gone_at_exit(void **state) {
  (void)state;
  need_volumes();
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    const bs_vol *a = bs_vol_shared("tmpfs"), *b = bs_vol_shared("tmpfs");
    const bs_vol *c = bs_vol_shared("ext4");
    bs_vol out;
    memset(&out, 0, sizeof(out));
    if (a && a == b && c && c != a && strcmp(c->fs, "ext4") == 0 && !bs_vol_shared("nope")) {
      memcpy(out.dir, a->dir, sizeof(out.dir));
      memcpy(out.mnt, c->mnt, sizeof(out.mnt));
      memcpy(out.image, c->image, sizeof(out.image));
    }
    ssize_t w = write(p[1], &out, sizeof(out));
    (void)w;
    close(p[1]);
    exit(0); /* atexit destroys both */
  }
  close(p[1]);
  bs_vol got;
  size_t n = 0;
  while (n < sizeof(got)) {
    ssize_t r = read(p[0], (char *)&got + n, sizeof(got) - n);
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  close(p[0]);
  assert_int_equal(waitpid(pid, NULL, 0), pid);
  assert_int_equal(n, sizeof(got));
  if (!got.dir[0])
    fail_msg("bs_vol_shared did not cache one volume per fs");
  assert_false(exists(got.dir));
  assert_false(is_mounted(got.mnt));
  assert_false(loop_backed_by(got.image));
  assert_int_equal(count_entries(sub), 0);
}

static void volume_unavailable_says_not_root(void **state) {
  (void)state;
  if (geteuid() != 0) {
    assert_string_equal(bs_vol_unavailable(), "not root");
    bs_vol v;
    assert_bs_err(bs_vol_create(&v, "tmpfs", 0), BS_EPERMISSION);
    assert_null(bs_vol_shared("tmpfs"));
    assert_non_null(strstr(bs_vol_last_error(), "not root"));
    return;
  }
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    bs_vol v;
    int ok = setgid(65534) == 0 && setuid(65534) == 0;
    const char *why = bs_vol_unavailable();
    ok = ok && why && strcmp(why, "not root") == 0;
    ok = ok && bs_vol_create(&v, "tmpfs", 0) == BS_EPERMISSION;
    ok = ok && strstr(bs_vol_last_error(), "not root") && !bs_vol_shared("xfs");
    _exit(ok ? 0 : 1);
  }
  int ws;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  assert_true(WIFEXITED(ws));
  assert_int_equal(WEXITSTATUS(ws), 0);
}

/* Run "volctl ARGS" (stdout into @out); its exit status. */
static int volctl(const char *args, char *out, size_t cap) {
  const char *bin = getenv("VOLCTL");
  char cmd[8192];
  snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", bin && *bin ? bin : "build/plain/tests/volctl",
           args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int ws = pclose(p);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
}

static void volume_volctl_keeps_its_contract(void **state) {
  (void)state;
  const char *bin = getenv("VOLCTL");
  if (access(bin && *bin ? bin : "build/plain/tests/volctl", X_OK) != 0) {
    print_message("    [ skipped  ] no volctl binary\n");
    skip();
  }
  char out[8192], args[4200];
  assert_int_equal(volctl("--help", out, sizeof(out)), 0);
  assert_non_null(strstr(out, "volctl reap"));
  assert_int_equal(volctl("", out, sizeof(out)), 2);
  assert_int_equal(volctl("frobnicate", out, sizeof(out)), 2);
  assert_int_equal(volctl("create", out, sizeof(out)), 2);
  assert_int_equal(volctl("create ntfs", out, sizeof(out)), 2);
  assert_int_equal(volctl("create tmpfs 0", out, sizeof(out)), 2);
  assert_int_equal(volctl("create tmpfs --owner", out, sizeof(out)), 2);
  assert_int_equal(volctl("destroy", out, sizeof(out)), 2);
  assert_int_equal(volctl("reap extra", out, sizeof(out)), 2);
  need_volumes();
  assert_int_equal(volctl("destroy /tmp", out, sizeof(out)), 1);
  snprintf(args, sizeof(args), "create tmpfs 8 --owner %d", (int)getpid());
  assert_int_equal(volctl(args, out, sizeof(out)), 0);
  char dir[4096], mnt[4096];
  assert_int_equal(sscanf(out, "%4095s %4095s", dir, mnt), 2);
  assert_true(is_mounted(mnt));
  struct statfs sfs;
  assert_int_equal(statfs(mnt, &sfs), 0);
  assert_int_equal((uint32_t)sfs.f_type, TMPFS_MAGIC);
  assert_int_equal(sfs.f_blocks * (uint64_t)sfs.f_bsize, 8u << 20);
  assert_int_equal(volctl("list", out, sizeof(out)), 0);
  assert_non_null(strstr(out, dir));
  assert_non_null(strstr(out, "alive"));
  assert_int_equal(volctl("reap", out, sizeof(out)), 0); /* we are alive: kept */
  assert_true(is_mounted(mnt));
  snprintf(args, sizeof(args), "destroy %s", dir);
  assert_int_equal(volctl(args, out, sizeof(out)), 0);
  assert_false(exists(dir));
  assert_false(is_mounted(mnt));
  assert_int_equal(volctl(args, out, sizeof(out)), 1); /* already gone */
  /* Owned by a shell that is gone at once. */
  assert_int_equal(volctl("create tmpfs 8 --owner $$", out, sizeof(out)), 0);
  assert_int_equal(volctl("reap", out, sizeof(out)), 0);
  assert_non_null(strstr(out, "reaped 1 volume(s)"));
  assert_int_equal(count_entries(sub), 0);
}

static int setup(void **state) {
  (void)state;
  const char *o = getenv("BS_VOL_ROOT");
  snprintf(outer, sizeof(outer), "%s", o ? o : "");
  if (bs_vol_unavailable())
    return 0;
  char tag[32];
  snprintf(tag, sizeof(tag), "voltest");
  int rc = bs_vol_make_subroot(tag, sub, sizeof(sub));
  if (rc != 0) {
    print_error("cannot make the suite's registry: %s\n", bs_vol_last_error());
    return -1;
  }
  use_root(sub);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (!sub[0])
    return 0;
  use_root(outer);
  int rc = bs_vol_destroy_dir(sub);
  if (rc != 0)
    print_error("cannot remove the suite's registry %s: %s\n", sub, bs_vol_last_error());
  return rc == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(volume_each_fs_is_made_and_removed_whole),
    cmocka_unit_test(volume_failed_create_leaves_nothing),
    cmocka_unit_test(volume_reaper_removes_dead_owners_only),
    cmocka_unit_test(volume_shared_is_one_per_fs_and_gone_at_exit),
    cmocka_unit_test(volume_unavailable_says_not_root),
    cmocka_unit_test(volume_volctl_keeps_its_contract),
  };
  return cmocka_run_group_tests_name("volume", tests, setup, teardown);
}
