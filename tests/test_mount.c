/* bslab mount (docs/mount.md): a sim image, a fresh profile and a real store
 * served through FUSE, driven by ordinary programs (sh, echo, cat, mkdir,
 * mv, cp, rm, stat, python3) and checked through the library after the
 * unmount; the unmount by SIGTERM, SIGINT and fusermount3 -u saving the
 * image; a SIGKILLed server's dead mount found and removed by --reap; the
 * errno a program sees for each store error; the usage and environment
 * errors of the verb.
 *
 * Needs /dev/fuse, root (or fusermount3) and a bslab built with libfuse3:
 * elsewhere each test is skipped and says why.  Every mount is made below
 * this suite's temp dir and removed on every path (the per-test teardown
 * kills and detaches what a failed test left); at the start the dead mounts
 * of earlier runs of this suite whose process is gone are detached. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backstore/backend.h"
#include "backstore/sim.h"
#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

#define SUITE "test_mount"
#define TMP_PREFIX "/tmp/bslab-" SUITE "-"
#define MAX_MOUNTS 4

/* A server this suite started. */
typedef struct tmount {
  int pid; /* 0: none */
  char mp[512];
} tmount;

static tmount live[MAX_MOUNTS];
static char bslab_abs[PATH_MAX];
static const char *no_fuse; /* why FUSE cannot work here, or NULL */

static bool mounted(const char *mp) { return bs_cli_fuse_mounted(mp); }

/* Detach the dead mounts of earlier runs of this suite: below a temp dir
 * of this suite whose owner (the pid in TMP/owner) is gone. */
static void reap_dead_runs(void) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return;
  char line[8192];
  while (fgets(line, sizeof(line), f)) {
    char point[4096], type[256];
    if (sscanf(line, "%*s %*s %*s %*s %4095s %*[^-]- %255s", point, type) != 2 ||
        strcmp(type, "fuse.bslab") != 0 || strncmp(point, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
      continue;
    char owner[4200];
    const char *slash = strchr(point + strlen(TMP_PREFIX), '/');
    if (!slash)
      continue;
    snprintf(owner, sizeof(owner), "%.*s/owner", (int)(slash - point), point);
    FILE *o = fopen(owner, "re");
    long pid = 0;
    if (o) {
      if (fscanf(o, "%ld", &pid) != 1)
        pid = 0;
      fclose(o);
    }
    if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
      continue; /* its run is alive: not ours to touch */
    if (umount2(point, MNT_DETACH) == 0)
      print_message("    reaped the dead mount %s of an earlier run\n", point);
  }
  fclose(f);
}


static int setup(void **state) {
  (void)state;
  if (bs_cli_setup(SUITE) != 0)
    return -1;
  char owner[256];
  snprintf(owner, sizeof(owner), "%s/owner", bs_cli_tmp());
  char pid[32];
  snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
  bs_cli_write_text(owner, pid);
  reap_dead_runs();
  if (!realpath(bs_test_bslab(), bslab_abs))
    snprintf(bslab_abs, sizeof(bslab_abs), "%s", bs_test_bslab());
  no_fuse = bs_cli_fuse_unavailable();
  return 0;
}

/* Kill and detach whatever a test left mounted; remove its mount points. */
static int cleanup(void **state) {
  (void)state;
  for (int i = 0; i < MAX_MOUNTS; i++) {
    if (live[i].pid > 0) {
      kill(live[i].pid, SIGKILL);
      waitpid(live[i].pid, NULL, 0);
    }
    if (live[i].mp[0] && mounted(live[i].mp))
      umount2(live[i].mp, MNT_DETACH);
    if (live[i].mp[0])
      rmdir(live[i].mp);
    memset(&live[i], 0, sizeof(live[i]));
  }
  return 0;
}

static int teardown(void **state) {
  cleanup(state);
  return bs_cli_teardown();
}

#define SKIP_WITHOUT_FUSE()                                                     \
  do {                                                                          \
    if (no_fuse) {                                                              \
      print_message("    [ skipped  ] FUSE: %s\n", no_fuse);                    \
      skip();                                                                   \
    }                                                                           \
  } while (0)

static void tmp_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", bs_cli_tmp(), name);
}

/* TMP/@name for a new image: nothing there. */
static void fresh_image(char *buf, size_t cap, const char *name) {
  tmp_path(buf, cap, name);
  unlink(buf);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Start `bslab mount --foreground ARGS... TMP/@name` (its stderr in
 * TMP/@name.err) and wait until it is mounted; fails (showing that stderr)
 * if it exits first. */
static tmount *mount_start(const char *name, const char *const *args) {
  tmount *m = NULL;
  for (int i = 0; i < MAX_MOUNTS && !m; i++)
    if (!live[i].pid && !live[i].mp[0])
      m = &live[i];
  assert_non_null(m);
  tmp_path(m->mp, sizeof(m->mp), name);
  assert_int_equal(mkdir(m->mp, 0755), 0);
  const char *argv[24] = {"mount", "--foreground"};
  int n = 2;
  while (*args && n < 22)
    argv[n++] = *args++;
  argv[n++] = m->mp;
  argv[n] = NULL;
  char err[600];
  snprintf(err, sizeof(err), "%s.err", m->mp);
  unlink(err);
  m->pid = bs_cli_spawn(NULL, NULL, err, argv);
  for (double end = now_s() + 30; !mounted(m->mp); ) {
    int ws = 0;
    if (waitpid(m->pid, &ws, WNOHANG) == m->pid) {
      m->pid = 0;
      fail_msg("bslab mount exited (status %d) before mounting: %s", ws,
               bs_cli_slurp(err, NULL));
    }
    if (now_s() > end)
      fail_msg("bslab mount did not mount %s within 30 s", m->mp);
    usleep(10000);
  }
  return m;
}

/* Stop @m by @sig (0: `fusermount3 -u`); the server's exit status.  The
 * mount is gone afterwards. */
static int mount_stop(tmount *m, int sig) {
  if (sig) {
    assert_int_equal(kill(m->pid, sig), 0);
  } else {
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "fusermount3 -u '%s'", m->mp);
    assert_int_equal(system(cmd), 0);
  }
  int ws = 0, got = 0;
  for (double end = now_s() + 60; (got = waitpid(m->pid, &ws, WNOHANG)) == 0 && now_s() < end; )
    usleep(10000);
  assert_int_equal(got, m->pid);
  m->pid = 0;
  assert_false(mounted(m->mp));
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Run shell @script (printf-style) in the suite's temp dir with a time
 * limit, LC_ALL=C; its exit status, stdout+stderr in *@out (free it). */
__attribute__((format(printf, 2, 3))) static int sh(char **out, const char *fmt, ...) {
  char script[8192], outp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(script, sizeof(script), fmt, ap);
  va_end(ap);
  assert_true(n > 0 && (size_t)n < sizeof(script));
  tmp_path(outp, sizeof(outp), "sh.out");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || chdir(bs_cli_tmp()) != 0)
      _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("LC_ALL", "C", 1);
    setenv("BSLAB", bslab_abs, 1);
    execl("/usr/bin/timeout", "timeout", "60", "/bin/sh", "-c", script, (char *)NULL);
    _exit(127);
  }
  int ws = 0;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  *out = bs_cli_slurp(outp, NULL);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Run @script; fail (showing its output) unless it exits 0. */
#define SH_OK(out, ...)                                                           \
  do {                                                                            \
    int st_ = sh((out), __VA_ARGS__);                                             \
    if (st_ != 0)                                                                 \
      fail_msg("shell exited %d: %s", st_, *(out));                               \
  } while (0)

/* Run @script; fail unless it exits 0 printing exactly @expect. */
#define SH_EXPECT(expect, ...)                                                    \
  do {                                                                            \
    char *o_ = NULL;                                                              \
    SH_OK(&o_, __VA_ARGS__);                                                      \
    assert_string_equal(o_, (expect));                                            \
    free(o_);                                                                     \
  } while (0)

/* The content of @path in @st, NUL-terminated (free it). */
static char *content(bs_store *st, const char *path) {
  bs_stat_info in;
  assert_int_equal(bs_stat(st, path, &in), 0);
  char *buf = calloc(1, in.size + 1);
  assert_non_null(buf);
  size_t got = 0;
  assert_int_equal(bs_read(st, path, 0, buf, in.size, &got), 0);
  assert_int_equal(got, in.size);
  return buf;
}

/* Fail unless file @path of @st holds exactly @want. */
static void expect_content(bs_store *st, const char *path, const char *want) {
  char *c = content(st, path);
  assert_string_equal(c, want);
  free(c);
}

static bs_store *load(const char *img) {
  bs_store *st = NULL;
  assert_int_equal(bs_sim_load(&st, img), 0);
  assert_int_equal(bs_check(st), 0);
  return st;
}

/* Ordinary programs on a mounted apfs image: what they did is in the image
 * the unmount (SIGTERM) saved. */
static void mount_sim_programs_results_saved(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  char img[256];
  fresh_image(img, sizeof(img), "programs.img");
  tmount *m = mount_start("programs", (const char *const[]){"--image", img, NULL});
  char *out = NULL;
  SH_OK(&out,
        "cd programs && echo hello > f && cat f && mkdir -p d/e && mv f d/e/g && "
        "cp d/e/g copy && printf 'abc' >> copy && rm -f nothing && "
        "echo gone > tmp && rm tmp && mkdir empty && rmdir empty && "
        "dd if=/dev/zero of=big bs=65536 count=16 2>/dev/null && truncate -s 100000 big && "
        "chmod 600 copy && ls -1 . d/e && stat -c '%%a %%s' copy big");
  bs_cli_expect_contains(out, "hello\n", "cat");
  bs_cli_expect_contains(out, ".:\nbig\ncopy\nd\n", "ls");
  bs_cli_expect_contains(out, "d/e:\ng\n", "ls");
  bs_cli_expect_contains(out, "600 9\n644 100000\n", "stat");
  free(out);
  assert_int_equal(mount_stop(m, SIGTERM), 0);

  bs_store *st = load(img);
  expect_content(st, "/d/e/g", "hello\n");
  expect_content(st, "/copy", "hello\nabc");
  bs_stat_info in;
  assert_int_equal(bs_stat(st, "/f", &in), BS_ENOT_FOUND);
  assert_int_equal(bs_stat(st, "/tmp", &in), BS_ENOT_FOUND);
  assert_int_equal(bs_stat(st, "/empty", &in), BS_ENOT_FOUND);
  assert_int_equal(bs_stat(st, "/copy", &in), 0);
  assert_int_equal(in.mode, 0600);
  assert_int_equal(bs_stat(st, "/big", &in), 0);
  assert_int_equal(in.size, 100000);
  bs_close(st);
  char lock[300];
  snprintf(lock, sizeof(lock), "%s.lock", img);
  assert_int_equal(access(lock, F_OK), -1); /* the image lock was let go */
}

/* True if program @name is on $PATH. */
static bool have(const char *name) {
  char *out = NULL;
  int st = sh(&out, "command -v %s", name);
  free(out);
  return st == 0;
}

/* Real programs on a mounted apfs image: git (init, add, commit, log),
 * sqlite3 (a WAL database: shared mmap of its -shm file), python3 (write,
 * fsync, rename over) and tar (extract).  Their results are read back from
 * the saved image, which passes bs_check. */
static void mount_real_programs_on_apfs(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  const char *tools[] = {"git", "sqlite3", "python3", "tar"};
  for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
    if (!have(tools[i])) {
      print_message("    [ skipped  ] %s is not installed (scripts/deps.sh installs it)\n", tools[i]);
      skip();
    }
  char img[256];
  fresh_image(img, sizeof(img), "apps.img");
  tmount *m = mount_start("apps", (const char *const[]){"--image", img, "--profile", "apfs", NULL});
  SH_EXPECT("two\none\nwal\n6\nnew\nb\n",
            "set -e; cd apps; export HOME=$PWD GIT_CONFIG_NOSYSTEM=1; "
              "git init -q repo; cd repo; git config user.email t@example.com; "
              "git config user.name t; echo v1 > file; git add file; git commit -qm one; "
              "echo v2 > file; git commit -qam two; git log --format=%%s; git fsck --no-progress 2>&1; cd ..; "
              "sqlite3 db 'PRAGMA journal_mode=WAL; CREATE TABLE t(x); "
              "INSERT INTO t VALUES (1),(2),(3); SELECT sum(x) FROM t;'; "
              "python3 -c \"import os\n"
              "open('cfg', 'w').write('old')\n"
              "with open('cfg.tmp', 'w') as f:\n f.write('new'); f.flush(); os.fsync(f.fileno())\n"
              "os.rename('cfg.tmp', 'cfg')\n"
              "print(open('cfg').read())\"; "
              "mkdir src; echo a > src/a; mkdir src/sub; echo b > src/sub/b; "
              "tar cf ../t.tar src; mkdir x; tar xf ../t.tar -C x; cat x/src/sub/b");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  bs_store *st = load(img);
  expect_content(st, "/cfg", "new");
  expect_content(st, "/x/src/sub/b", "b\n");
  expect_content(st, "/repo/file", "v2\n");
  bs_stat_info in;
  assert_int_equal(bs_stat(st, "/cfg.tmp", &in), BS_ENOT_FOUND);
  assert_int_equal(bs_stat(st, "/db", &in), 0);
  assert_true(in.size > 0);
  bs_close(st);
  /* The saved state is what the programs see on the next mount. */
  m = mount_start("apps2", (const char *const[]){"--image", img, NULL});
  SH_EXPECT("two\none\n3\n",
            "cd apps2/repo && HOME=$PWD git log --format=%%s && git status --porcelain && "
              "sqlite3 ../db 'SELECT count(*) FROM t'");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
}

/* --direct-io: ordinary I/O works without the page cache, and shared
 * writable mmap is refused (ENODEV), as FUSE does for direct I/O. */
static void mount_direct_io(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  tmount *m = mount_start("dio", (const char *const[]){"--profile", "xfs", "--direct-io", NULL});
  SH_EXPECT("direct\nENODEV\n",
            "echo direct > dio/f && cat dio/f && python3 -c \"import mmap, os, errno\n"
              "fd = os.open('dio/f', os.O_RDWR)\n"
              "try:\n mmap.mmap(fd, 4, mmap.MAP_SHARED)\nexcept OSError as e:\n"
              " print(errno.errorcode[e.errno])\"");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
}

/* The crash-consistency demonstration: a program writes a file with fsync,
 * then a new version without fsync and renames it over the old one; a power
 * loss on demand (SIGUSR1) leaves what the crash model gives for the same
 * operations through the library (drop: the renamed file, empty), and the
 * saved image holds that post-crash state. */
static void mount_power_loss_on_signal(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  char img[256];
  fresh_image(img, sizeof(img), "crash.img");
  bs_store *ref = bs_test_open_sim("apfs", 0);
  assert_int_equal(bs_create(ref, "/f", 0644), 0);
  assert_int_equal(bs_write(ref, "/f", 0, "old", 3), 0);
  assert_int_equal(bs_sync(ref, "/f"), 0);
  assert_int_equal(bs_create(ref, "/f.tmp", 0644), 0);
  assert_int_equal(bs_write(ref, "/f.tmp", 0, "new", 3), 0);
  assert_int_equal(bs_rename(ref, "/f.tmp", "/f"), 0);
  assert_int_equal(bs_power_loss(ref, BS_POWER_LOSS_DROP), 0);
  char *want = content(ref, "/f");
  bs_close(ref);

  tmount *m = mount_start("crash", (const char *const[]){"--image", img, "--profile", "apfs",
                                                         "--power-loss", "drop", NULL});
  char *out = NULL;
  SH_OK(&out, "cd crash && python3 -c \"import os\n"
              "with open('f', 'w') as f:\n f.write('old'); f.flush(); os.fsync(f.fileno())\n"
              "with open('f.tmp', 'w') as f:\n f.write('new')\n"
              "os.rename('f.tmp', 'f')\n"
              "print(open('f').read())\"");
  assert_string_equal(out, "new\n"); /* before the power loss */
  free(out);
  assert_int_equal(kill(m->pid, SIGUSR1), 0);
  SH_OK(&out, "cat crash/f; echo '|'; ls crash");
  char expect[64];
  snprintf(expect, sizeof(expect), "%s|\nf\n", want);
  assert_string_equal(out, expect);
  free(out);
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  bs_store *st = load(img);
  expect_content(st, "/f", want);
  free(want);
  bs_close(st);
}

/* --power-loss-after N: the power fails once N requests changed the volume
 * (here create and write), before the next request; the server says so. */
static void mount_power_loss_after_n(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  tmount *m = mount_start("after", (const char *const[]){"--profile", "btrfs", "--power-loss",
                                                         "drop", "--power-loss-after", "2", NULL});
  SH_EXPECT("0\nsynced\n",
            "python3 -c \"import os\n"
              "fd = os.open('after/f', os.O_CREAT | os.O_WRONLY, 0o644)\n"
              "os.write(fd, b'unsynced')\nos.close(fd)\" && stat -c %%s after/f && "
              "echo synced > after/g && sync after/g && cat after/g");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  char err[600];
  snprintf(err, sizeof(err), "%s.err", m->mp);
  char *e = bs_cli_slurp(err, NULL);
  bs_cli_expect_contains(e, "power loss (drop) after 2 changes: unsynced writes lost", "stderr");
  free(e);
}

/* `bslab power-loss MOUNTPOINT`: the power fails at once, in order with the
 * program's requests (an unsynced file is lost, a synced one kept); a
 * directory that is not a bslab mount is an environment error. */
static void mount_power_loss_command(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  tmount *m = mount_start("plc", (const char *const[]){"--profile", "apfs", "--power-loss",
                                                       "drop", NULL});
  SH_EXPECT("unsynced\nkept\n|\nkept\n",
            "echo kept > plc/a && sync plc plc/a && echo unsynced > plc/b && cat plc/b plc/a && "
              "\"$BSLAB\" power-loss plc && echo '|' && cat plc/*");
  EXPECT(2, NULL, "is not a bslab mount", "power-loss", bs_cli_tmp());
  EXPECT(2, NULL, "missing argument", "power-loss");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  char err[600];
  snprintf(err, sizeof(err), "%s.err", m->mp);
  char *e = bs_cli_slurp(err, NULL);
  bs_cli_expect_contains(e, "power loss (drop) after 6 changes, on request: unsynced writes lost",
                         "stderr");
  free(e);
}

/* Opening an existing file with O_TRUNC empties it (the kernel passes
 * O_TRUNC to open: libfuse's atomic O_TRUNC), as `echo s > f` expects. */
static void mount_open_o_trunc_truncates(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  tmount *m = mount_start("otr", (const char *const[]){"--profile", "apfs", NULL});
  SH_EXPECT("s\n2\n", "echo a-longer-line > otr/f && echo s > otr/f && cat otr/f && "
                       "stat -c %%s otr/f");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
}

/* The fsx-style driver (tools/fsx.c): the same seeded write, read,
 * truncate, mmap write/read and punch stream on a file of the mount and on
 * one of a real tmpfs volume, every result and the whole content equal after
 * every op.  FUSE has no fallocate here: punches become zero writes on both
 * sides, which the driver says.  A real difference is found (--direct-io). */
static void mount_fsx_matches_tmpfs(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  const bs_vol *vol = bs_test_volume("tmpfs");
  char dir[4200], cmd[9000];
  snprintf(dir, sizeof(dir), "%s/fsx-%ld", vol->mnt, (long)getpid());
  assert_int_equal(mkdir(dir, 0755), 0);
  tmount *m = mount_start("fsx", (const char *const[]){"--profile", "apfs", NULL});
  char fsx[PATH_MAX + 8];
  snprintf(fsx, sizeof(fsx), "%.*s/fsx", (int)(strrchr(bslab_abs, '/') - bslab_abs), bslab_abs);
  char *out = NULL;
  for (int seed = 1; seed <= 3; seed++) {
    snprintf(cmd, sizeof(cmd), "'%s' --seed %d --ops 600 --max-len 131072 fsx '%s'", fsx, seed, dir);
    if (sh(&out, "%s", cmd) != 0)
      fail_msg("%s failed:\n%s", cmd, out);
    bs_cli_expect_contains(out, "punch hole unsupported on fsx (Operation not supported)", "fsx");
    char agreed[64];
    snprintf(agreed, sizeof(agreed), "seed %d, 600 ops agreed", seed);
    bs_cli_expect_contains(out, agreed, "fsx");
    free(out);
  }
  /* It finds a difference: with --direct-io a shared mmap fails (ENODEV,
   * docs/mount.md) where tmpfs maps the file. */
  tmount *d = mount_start("fsxd", (const char *const[]){"--profile", "apfs", "--direct-io", NULL});
  snprintf(cmd, sizeof(cmd), "'%s' --seed 4 --ops 600 --max-len 131072 fsxd '%s'", fsx, dir);
  if (sh(&out, "%s", cmd) != 1)
    fail_msg("%s did not report the difference:\n%s", cmd, out);
  char enodev[64];
  snprintf(enodev, sizeof(enodev), "map"); /* mapread or mapwrite, whichever comes first */
  bs_cli_expect_contains(out, enodev, "fsx");
  snprintf(enodev, sizeof(enodev), ": fsxd gave -%d (size", ENODEV);
  bs_cli_expect_contains(out, enodev, "fsx");
  free(out);
  assert_int_equal(mount_stop(d, SIGTERM), 0);
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(sh(&out, "%s", cmd), 0);
  free(out);
}

/* --faults SPEC: the campaigns' fault specs on the served volume.  A
 * program sees an injected error as the errno of bs_err_to_errno(), the
 * failed request changes nothing, and the saved image passes bs_check; a
 * bad spec is a usage error naming the term. */
static void mount_faults_reach_programs(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  char img[256];
  fresh_image(img, sizeof(img), "faults.img");
  tmount *m = mount_start("flt", (const char *const[]){"--image", img, "--faults",
                                                       "bs/op/write=no_space@2,bs/op/mkdir=permission@1",
                                                       NULL});
  char want[256];
  snprintf(want, sizeof(want), "f 0\ng %d\nh 0\nd %d\ne 0\n", bs_err_to_errno(BS_ENO_SPACE),
           bs_err_to_errno(BS_EPERMISSION));
  SH_EXPECT(want, "cd flt && python3 -c \"import os\n"
                  "def w(n, d):\n"
                  " try:\n"
                  "  fd = os.open(n, os.O_CREAT | os.O_WRONLY, 0o644)\n"
                  "  try: os.write(fd, d); print(n, 0)\n"
                  "  finally: os.close(fd)\n"
                  " except OSError as e: print(n, e.errno)\n"
                  "def m(n):\n"
                  " try: os.mkdir(n); print(n, 0)\n"
                  " except OSError as e: print(n, e.errno)\n"
                  "w('f', b'one'); w('g', b'two'); w('h', b'three'); m('d'); m('e')\"");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  char err[600];
  snprintf(err, sizeof(err), "%s.err", m->mp);
  char *e = bs_cli_slurp(err, NULL);
  bs_cli_expect_contains(e, "2 injected faults fired", "stderr");
  free(e);
  bs_store *st = load(img);
  assert_int_equal(bs_check(st), 0);
  expect_content(st, "/f", "one");
  expect_content(st, "/g", ""); /* created; its write failed and wrote nothing */
  expect_content(st, "/h", "three");
  assert_int_equal(bs_stat(st, "/d", &(bs_stat_info){0}), BS_ENOT_FOUND);
  assert_int_equal(bs_stat(st, "/e", &(bs_stat_info){0}), 0);
  bs_close(st);
  EXPECT(2, NULL, "unknown fault point 'bs/op/wirte'", "mount", "--profile", "apfs", "--faults",
         "bs/op/wirte=eio", bs_cli_tmp());
}

/* cp (copy_file_range of a whole file into an empty one) is a reflink where
 * the profile has one: the copy shares every block (apfs), and is a plain
 * copy where it has none (ext4); a partial copy_file_range copies bytes. */
static void mount_cp_is_reflink(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  const char *profiles[] = {"apfs", "ext4"};
  for (int i = 0; i < 2; i++) {
    char img[256], name[32];
    snprintf(name, sizeof(name), "cp-%s.img", profiles[i]);
    fresh_image(img, sizeof(img), name);
    tmount *m = mount_start("cp", (const char *const[]){"--image", img, "--profile", profiles[i],
                                                        NULL});
    SH_EXPECT("same\n1000\n",
              "head -c 1000000 /dev/urandom > cp/src && cp cp/src cp/dst && cmp cp/src cp/dst && "
              "echo same && python3 -c \"import os\n"
              "a = os.open('cp/src', os.O_RDONLY)\n"
              "b = os.open('cp/part', os.O_CREAT | os.O_WRONLY, 0o644)\n"
              "print(os.copy_file_range(a, b, 1000, 0, 0))\"");
    assert_int_equal(mount_stop(m, SIGTERM), 0);
    assert_int_equal(rmdir(m->mp), 0);
    m->mp[0] = '\0';
    bs_store *st = load(img);
    bs_usage u;
    assert_int_equal(bs_usage_get(st, &u), 0);
    bs_stat_info in;
    assert_int_equal(bs_stat(st, "/dst", &in), 0);
    assert_int_equal(in.size, 1000000);
    assert_int_equal(bs_stat(st, "/part", &in), 0);
    assert_int_equal(in.size, 1000);
    if (i == 0)
      assert_true(u.shared_bytes >= 1000000);
    else
      assert_int_equal(u.shared_bytes, 0);
    bs_close(st);
  }
}

/* fusermount3 -u and SIGINT end the server too, each saving the image; a
 * second mount sees the first one's files. */
static void mount_unmount_paths_save(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  char img[256];
  fresh_image(img, sizeof(img), "paths.img");
  EXPECT(0, NULL, NULL, "--image", img, "init", "--profile", "btrfs");
  tmount *m = mount_start("paths", (const char *const[]){"--image", img, NULL});
  char *out = NULL;
  SH_OK(&out, "echo one > paths/one");
  free(out);
  assert_int_equal(mount_stop(m, 0), 0);
  m = mount_start("paths2", (const char *const[]){"--image", img, NULL});
  SH_EXPECT("one\n",
            "cat paths2/one && echo two > paths2/two");
  assert_int_equal(mount_stop(m, SIGINT), 0);
  bs_store *st = load(img);
  expect_content(st, "/two", "two\n");
  bs_caps caps;
  assert_int_equal(bs_get_caps(st, &caps), 0);
  assert_string_equal(caps.fs_type_name, "btrfs");
  bs_close(st);
}

/* Without --foreground bslab returns once the mount is ready; the server
 * in the background saves the image when unmounted. */
static void mount_background_returns_when_ready(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  char img[256], mp[256], lock[300];
  tmp_path(img, sizeof(img), "bg.img");
  tmp_path(mp, sizeof(mp), "bg");
  snprintf(lock, sizeof(lock), "%s.lock", img);
  unlink(img);
  assert_int_equal(mkdir(mp, 0755), 0);
  live[MAX_MOUNTS - 1].pid = 0;
  snprintf(live[MAX_MOUNTS - 1].mp, sizeof(live[0].mp), "%s", mp); /* for cleanup() */
  EXPECT(0, NULL, NULL, "mount", "--image", img, mp);
  assert_true(mounted(mp));
  SH_EXPECT("bg\n",
            "echo bg > bg/file && cat bg/file && fusermount3 -u bg");
  for (double end = now_s() + 60; access(lock, F_OK) == 0 && now_s() < end; )
    usleep(10000);
  assert_int_equal(access(lock, F_OK), -1);
  bs_store *st = load(img);
  expect_content(st, "/file", "bg\n");
  bs_close(st);
}

/* Creating A then opening a finds the same file on apfs, not on btrfs. */
static void mount_case_insensitivity_as_programs_see_it(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  tmount *m = mount_start("ci", (const char *const[]){"--profile", "apfs", NULL});
  char *out = NULL;
  SH_EXPECT("upper\nlower\nA\n",
            "echo upper > ci/A && cat ci/a && echo lower > ci/a && cat ci/A && ls ci");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  m = mount_start("cs", (const char *const[]){"--profile", "btrfs", NULL});
  int st = sh(&out, "echo upper > cs/A && cat cs/a");
  assert_int_not_equal(st, 0);
  bs_cli_expect_contains(out, "No such file or directory", "btrfs is case-sensitive");
  free(out);
  assert_int_equal(mount_stop(m, SIGTERM), 0);
}

/* What a program sees for a store error is strerror(bs_err_to_errno()) of
 * what the library says for the same operation on the same volume. */
static void mount_errors_map_to_errno(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  /* The same state through the library, for the expected codes. */
  bs_store *ref = bs_test_open_sim("apfs", 0);
  assert_int_equal(bs_mkdir(ref, "/d", 0755), 0);
  assert_int_equal(bs_create(ref, "/d/f", 0644), 0);
  struct {
    const char *cmd;
    int rc;
  } cases[] = {
    {"cat err/missing", bs_stat(ref, "/missing", &(bs_stat_info){0})},
    {"mkdir err/d", bs_mkdir(ref, "/d", 0755)},
    {"rmdir err/d", bs_rmdir(ref, "/d")},
    {"rm err/nothere", bs_unlink(ref, "/nothere")},
    {"touch err/.bs/x", bs_create(ref, "/.bs/x", 0644)},
  };
  tmount *m = mount_start("err", (const char *const[]){"--profile", "apfs", NULL});
  char *out = NULL;
  SH_OK(&out, "mkdir err/d && touch err/d/f");
  free(out);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_not_equal(cases[i].rc, 0);
    int st = sh(&out, "%s", cases[i].cmd);
    assert_int_not_equal(st, 0);
    const char *want = strerror(bs_err_to_errno(cases[i].rc));
    if (!strstr(out, want))
      fail_msg("'%s' (library: %s) should say '%s', said: %s", cases[i].cmd,
               bs_err_name(cases[i].rc), want, out);
    free(out);
  }
  /* Links: ln -s and ln make them in the store, readlink reads the text
   * back, and a hard link of a directory is EPERM as link(2) says. */
  SH_EXPECT("f\nhello\n2\n", "echo hello > err/d/f && ln -s f err/d/l && ln err/d/f err/d/h && "
                               "readlink err/d/l && cat err/d/l && stat -c %%h err/d/h");
  assert_int_not_equal(sh(&out, "ln err/d err/d2"), 0);
  free(out);
  /* Extended attributes: set, read back, list, a missing one is ENODATA. */
  SH_EXPECT("b'value' ['user.k']\nENODATA\n[]\n",
            "python3 -c \"import os, errno\n"
              "p = 'err/d/f'\n"
              "os.setxattr(p, 'user.k', b'value')\n"
              "print(os.getxattr(p, 'user.k'), os.listxattr(p))\n"
              "try:\n  os.getxattr(p, 'user.none')\nexcept OSError as e:\n  print(errno.errorcode[e.errno])\n"
              "os.removexattr(p, 'user.k')\n"
              "print(os.listxattr(p))\"");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  bs_close(ref);
}

/* statfs through the mount is the sim's exact space accounting: the same
 * numbers the library reports for the saved image. */
static void mount_statfs_is_exact(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  char img[256];
  fresh_image(img, sizeof(img), "space.img");
  tmount *m = mount_start("space", (const char *const[]){"--image", img, NULL});
  char *out = NULL;
  SH_OK(&out, "dd if=/dev/urandom of=space/f bs=4096 count=50 2>/dev/null && "
              "stat -f -c '%%S %%b %%f %%a' space");
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  unsigned long long bsize = 0, blocks = 0, bfree = 0, bavail = 0;
  assert_int_equal(sscanf(out, "%llu %llu %llu %llu", &bsize, &blocks, &bfree, &bavail), 4);
  free(out);
  bs_store *st = load(img);
  bs_usage u;
  assert_int_equal(bs_usage_get(st, &u), 0);
  assert_int_equal(bsize, u.block_size);
  assert_int_equal(blocks, u.total_bytes / u.block_size);
  assert_int_equal(bfree, u.free_bytes / u.block_size);
  assert_int_equal(bavail, bfree);
  assert_true(u.used_bytes >= 50 * 4096);
  bs_close(st);
}

/* A SIGKILLed server saves nothing and leaves a dead mount; --reap removes
 * it, and the next mount takes over the image (its lock is free). */
static void mount_kill9_dead_mount_reaped(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  char img[256];
  fresh_image(img, sizeof(img), "kill.img");
  EXPECT(0, NULL, NULL, "--image", img, "init");
  tmount *m = mount_start("kill", (const char *const[]){"--image", img, NULL});
  char *out = NULL;
  SH_OK(&out, "echo lost > kill/f");
  free(out);
  assert_int_equal(kill(m->pid, SIGKILL), 0);
  waitpid(m->pid, NULL, 0);
  m->pid = 0;
  struct stat sb;
  assert_int_equal(stat(m->mp, &sb), -1);
  assert_int_equal(errno, ENOTCONN);
  /* Mounting over it says what it is. */
  EXPECT(2, NULL, "--reap", "mount", "--image", img, m->mp);
  EXPECT(0, "reaped ", NULL, "mount", "--reap", m->mp);
  assert_false(mounted(m->mp));
  assert_int_equal(stat(m->mp, &sb), 0);
  /* Nothing dead is left to reap there. */
  EXPECT(2, NULL, "is not a bslab mount", "mount", "--reap", m->mp);
  bs_store *st = load(img);
  assert_int_equal(bs_stat(st, "/f", &(bs_stat_info){0}), BS_ENOT_FOUND);
  bs_close(st);
  assert_int_equal(rmdir(m->mp), 0);
  m->mp[0] = '\0';
  m = mount_start("kill2", (const char *const[]){"--image", img, NULL});
  SH_OK(&out, "echo kept > kill2/f");
  free(out);
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  st = load(img);
  expect_content(st, "/f", "kept\n");
  bs_close(st);
}

/* A real store (a directory on a real tmpfs volume) served the same way. */
static void mount_real_store(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  const bs_vol *vol = bs_test_volume("tmpfs");
  char root[4200];
  snprintf(root, sizeof(root), "%s/mount-%ld", vol->mnt, (long)getpid());
  EXPECT(0, NULL, NULL, "init", "--backend", "real", "--root", root);
  tmount *m = mount_start("real", (const char *const[]){"--backend", "real", "--root", root, NULL});
  SH_EXPECT("g\ndata\n",
            "cd real && mkdir d && echo data > d/f && mv d/f d/g && cp d/g h && rm h && "
              "ls -1 d && cat d/g");
  EXPECT(2, NULL, "UNSUPPORTED", "power-loss", m->mp); /* no simulated power on a real store */
  assert_int_equal(mount_stop(m, SIGTERM), 0);
  bs_store *st = NULL;
  bs_open_opts o = {.root = root};
  assert_int_equal(bs_open(&st, "real", &o), 0);
  expect_content(st, "/d/g", "data\n");
  assert_int_equal(bs_stat(st, "/h", &(bs_stat_info){0}), BS_ENOT_FOUND);
  assert_int_equal(bs_unlink(st, "/d/g"), 0);
  assert_int_equal(bs_rmdir(st, "/d"), 0);
  bs_close(st);
  assert_int_equal(rmdir(root), 0);
}

/* A mounted image is locked: another writer gets BUSY naming the server. */
static void mount_holds_image_lock(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  char img[256];
  fresh_image(img, sizeof(img), "lock.img");
  EXPECT(0, NULL, NULL, "--image", img, "init");
  tmount *m = mount_start("lock", (const char *const[]){"--image", img, NULL});
  EXPECT(1, NULL, "(bslab mount)", "--image", img, "--wait", "0", "mkdir", "/x");
  EXPECT(0, NULL, NULL, "--image", img, "ls", "/"); /* readers need no lock */
  assert_int_equal(mount_stop(m, SIGTERM), 0);
}

/* Usage and environment errors, each before anything is mounted. */
static void mount_usage_errors(void **state) {
  (void)state;
  char file[256];
  tmp_path(file, sizeof(file), "plain-file");
  bs_cli_write_text(file, "x");
  EXPECT(0, "bslab mount --reap", NULL, "mount", "--help");
  EXPECT(0, "MOUNTPOINT", NULL, "help", "mount");
  EXPECT(2, NULL, "missing argument MOUNTPOINT", "mount", "--profile", "apfs");
  EXPECT(2, NULL, "too many arguments", "mount", "a", "b");
  EXPECT(2, NULL, "No such file or directory", "mount", "--profile", "apfs", "/nonexistent/mp");
  EXPECT(2, NULL, "is not a directory", "mount", "--profile", "apfs", file);
  EXPECT(2, NULL, "unknown profile", "mount", "--profile", "zfs", bs_cli_tmp());
  EXPECT(2, NULL, "is not a bslab mount", "mount", "--reap", bs_cli_tmp());
  EXPECT(2, NULL, "does not apply", "mount", "--ops", "3", bs_cli_tmp());
}

/* Without /dev/fuse (hidden in a private mount namespace) the verb says
 * FUSE is unavailable and why. */
static void mount_without_dev_fuse_says_so(void **state) {
  (void)state;
  SKIP_WITHOUT_FUSE();
  if (geteuid() != 0) {
    print_message("    [ skipped  ] hiding /dev/fuse needs a mount namespace (root)\n");
    skip();
  }
  char errp[256];
  tmp_path(errp, sizeof(errp), "nofuse.err");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("none", "/dev", "tmpfs", 0, NULL) != 0)
      _exit(125);
    dup2(fd, 2);
    execl(bslab_abs, "bslab", "mount", "--profile", "apfs", bs_cli_tmp(), (char *)NULL);
    _exit(127);
  }
  int ws = 0;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  char *err = bs_cli_slurp(errp, NULL);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 2)
    fail_msg("status %d, stderr: %s", ws, err);
  bs_cli_expect_contains(err, "FUSE is unavailable: /dev/fuse: No such file or directory", "err");
  free(err);
  assert_false(mounted(bs_cli_tmp()));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(mount_sim_programs_results_saved, cleanup),
    cmocka_unit_test_teardown(mount_real_programs_on_apfs, cleanup),
    cmocka_unit_test_teardown(mount_direct_io, cleanup),
    cmocka_unit_test_teardown(mount_power_loss_on_signal, cleanup),
    cmocka_unit_test_teardown(mount_cp_is_reflink, cleanup),
    cmocka_unit_test_teardown(mount_power_loss_after_n, cleanup),
    cmocka_unit_test_teardown(mount_unmount_paths_save, cleanup),
    cmocka_unit_test_teardown(mount_background_returns_when_ready, cleanup),
    cmocka_unit_test_teardown(mount_case_insensitivity_as_programs_see_it, cleanup),
    cmocka_unit_test_teardown(mount_errors_map_to_errno, cleanup),
    cmocka_unit_test_teardown(mount_statfs_is_exact, cleanup),
    cmocka_unit_test_teardown(mount_kill9_dead_mount_reaped, cleanup),
    cmocka_unit_test_teardown(mount_real_store, cleanup),
    cmocka_unit_test_teardown(mount_holds_image_lock, cleanup),
    cmocka_unit_test_teardown(mount_power_loss_command, cleanup),
    cmocka_unit_test_teardown(mount_open_o_trunc_truncates, cleanup),
    cmocka_unit_test_teardown(mount_fsx_matches_tmpfs, cleanup),
    cmocka_unit_test_teardown(mount_faults_reach_programs, cleanup),
    cmocka_unit_test_teardown(mount_usage_errors, cleanup),
    cmocka_unit_test_teardown(mount_without_dev_fuse_says_so, cleanup),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
