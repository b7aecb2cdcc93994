/* Overlay branches over a host directory (issue 17, docs/overlay.md, "A host
 * directory as the lower"): the lower is a directory of a real ext4 volume
 * outside the store, the store (and so the upper) a tmpfs RAM disk, so
 * every copy-up crosses filesystems and is a byte copy.  The overlay
 * semantics (lookup, merged readdir, whiteouts, opaque directories, rename
 * across layers, symlinks, metadata copy-up, a reopen), the three policy
 * refusals, escapes out of the lower refused at the backend, writes into
 * it refused, NO_SPACE on a small upper, a lower that disappears, the sim's
 * UNSUPPORTED, every fault point failing once during a copy-up, and the
 * CLI's --lower-dir.  After each, the lower's tree is
 * hashed (names, modes, sizes, times, bytes, xattrs, symlink texts) and
 * compared with its hash before: byte for byte unchanged. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifdef FIU_ENABLE
#include <fiu-control.h>
#endif

#include "backstore/backend.h"
#include "src/snapreg.h"
#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/overlay_view.h"
#include "tests/support/volume.h"

#define B "/.bs/branches/b"

static char rt[256]; /* the suite's own RAM-disk runtime directory */

/* ---- the host side -------------------------------------------------------------- */

static void host_put(const char *path, const char *text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  assert_int_equal(fchmod(fd, mode), 0);
  close(fd);
}

static void host_mkdir(const char *path, mode_t mode) {
  assert_int_equal(mkdir(path, mode), 0);
  assert_int_equal(chmod(path, mode), 0);
}

static void host_rm_rf(const char *path) {
  char cmd[4200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
  assert_int_equal(system(cmd), 0);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

/* Hash everything of the tree at @path (lstat, bytes, xattrs, link text),
 * names in byte order. */
static uint64_t hash_tree(uint64_t h, const char *path) {
  struct stat sb;
  assert_int_equal(lstat(path, &sb), 0);
  uint64_t meta[5] = {sb.st_mode, (uint64_t)sb.st_size, (uint64_t)sb.st_mtim.tv_sec, (uint64_t)sb.st_mtim.tv_nsec,
                      sb.st_uid};
  h = fnv(h, meta, sizeof(meta));
  char buf[65536];
  ssize_t n = llistxattr(path, buf, sizeof(buf));
  assert_true(n >= 0);
  for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
    char v[4096];
    ssize_t vn = lgetxattr(path, buf + i, v, sizeof(v));
    assert_true(vn >= 0);
    h = fnv(fnv(h, buf + i, strlen(buf + i)), v, (size_t)vn);
  }
  if (S_ISLNK(sb.st_mode)) {
    n = readlink(path, buf, sizeof(buf));
    assert_true(n >= 0);
    h = fnv(h, buf, (size_t)n);
  } else if (S_ISREG(sb.st_mode)) {
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
      h = fnv(h, buf, (size_t)n);
    close(fd);
  } else if (S_ISDIR(sb.st_mode)) {
    struct dirent **v;
    int k = scandir(path, &v, NULL, alphasort);
    assert_true(k >= 0);
    for (int i = 0; i < k; i++) {
      if (strcmp(v[i]->d_name, ".") != 0 && strcmp(v[i]->d_name, "..") != 0) {
        char sub[4200];
        snprintf(sub, sizeof(sub), "%s/%s", path, v[i]->d_name);
        h = fnv(fnv(h, v[i]->d_name, strlen(v[i]->d_name)), "/", 1);
        h = hash_tree(h, sub);
      }
      free(v[i]);
    }
    free(v);
  }
  return h;
}

/* ---- the fixture: a host lower on ext4, a store on a tmpfs RAM disk -------------- */

typedef struct fx {
  char base[4200];    /* <ext4 volume>/ovhost-<pid>-<n> */
  char lower[4300];   /* base/lower: the workspace */
  char outside[4300]; /* base/outside: beside it, holding "secret" */
  bs_ramdisk *rd;
  char mnt[4096];
  bs_store *st;
  uint64_t bid; /* branch b's id */
  uint64_t hash;
} fx;

static void fx_store_open(fx *f) {
  bs_open_opts o = {.root = f->mnt, .flags = BS_OPEN_SNAPSHOT_COPY};
  assert_bs_ok(bs_open(&f->st, "real", &o));
}

/* Lower tree: a, d/{x,y(user.k=v)}, e/z, empty/, ln -> a, out -> the
 * outside directory, up -> "..", and @big bytes in "big" when @big; with
 * @view, the tree of tests/support/overlay_view.h instead. */
static void fx_open_tree(fx *f, uint64_t upper_mb, size_t big, bool view) {
  static int n;
  memset(f, 0, sizeof(*f));
  const bs_vol *v = bs_test_volume("ext4");
  snprintf(f->base, sizeof(f->base), "%s/ovhost-%d-%d", v->mnt, (int)getpid(), n++);
  snprintf(f->lower, sizeof(f->lower), "%s/lower", f->base);
  snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
  host_mkdir(f->base, 0755);
  host_mkdir(f->lower, 0755);
  host_mkdir(f->outside, 0755);
  char p[4400];
#define AT(leaf) (snprintf(p, sizeof(p), "%s/%s", f->lower, (leaf)), p)
  if (view) {
    host_put(AT("a"), "a", 0644);
    host_mkdir(AT("d"), 0755);
    host_put(AT("d/x"), "lower-x", 0644);
    host_put(AT("d/y"), "lower-y", 0644);
    host_mkdir(AT("e"), 0755);
    host_put(AT("e/z"), "z", 0644);
    goto made;
  }
  host_put(AT("a"), "lower-a", 0640);
  struct timespec ts[2] = {{1000000000, 5}, {1000000000, 7}};
  assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
  host_mkdir(AT("d"), 0755);
  host_put(AT("d/x"), "x", 0644);
  host_put(AT("d/y"), "y", 0604);
  assert_int_equal(setxattr(p, "user.k", "v", 1, 0), 0);
  host_mkdir(AT("e"), 0750);
  host_put(AT("e/z"), "z", 0644);
  host_mkdir(AT("empty"), 0755);
  assert_int_equal(symlink("a", AT("ln")), 0);
  assert_int_equal(symlink(f->outside, AT("out")), 0);
  assert_int_equal(symlink("..", AT("up")), 0);
  if (big) {
    char *b = malloc(big);
    assert_non_null(b);
    memset(b, 'B', big);
    int fd = open(AT("big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, big), (ssize_t)big);
    close(fd);
    free(b);
  }
made:
#undef AT
  snprintf(p, sizeof(p), "%s/secret", f->outside);
  host_put(p, "secret", 0644);
  f->hash = hash_tree(14695981039346656037ull, f->lower);
  bs_ramdisk_opts ro = {.fs = "tmpfs", .size_mb = upper_mb};
  if (bs_ramdisk_create(&f->rd, &ro) != 0)
    fail_msg("RAM disk: %s", bs_ramdisk_last_message());
  snprintf(f->mnt, sizeof(f->mnt), "%s", bs_ramdisk_info_of(f->rd)->mount);
  fx_store_open(f);
  assert_bs_ok(bs_branch_create_host(f->st, f->lower, "b"));
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(f->st, "b", &bi));
  f->bid = bi.id;
}

static void fx_open(fx *f, uint64_t upper_mb, size_t big) { fx_open_tree(f, upper_mb, big, false); }

/* The lower is as it was; then everything goes. */
static void fx_close(fx *f) {
  if (f->st)
    bs_close(f->st);
  bs_ramdisk_free(f->rd);
  assert_true(hash_tree(14695981039346656037ull, f->lower) == f->hash);
  host_rm_rf(f->base);
}

static void assert_link_text(bs_store *st, const char *path, const char *want) {
  char buf[4096];
  size_t n = 0;
  assert_bs_ok(bs_readlink(st, path, buf, sizeof(buf), &n));
  assert_string_equal(buf, want);
}

static void assert_msg_has(bs_store *st, const char *needle) {
  if (!strstr(bs_last_message(st), needle))
    fail_msg("message \"%s\" lacks \"%s\"", bs_last_message(st), needle);
}

/* The upper's host path of @rest ("/a"). */
static void upper_host(const fx *f, const char *rest, char *out, size_t cap) {
  snprintf(out, cap, "%s/.bs/branch/%llu/upper%s", f->mnt, (unsigned long long)f->bid, rest);
}

/* Entries of the branch's work directory on the host. */
static int work_entries(const fx *f) {
  char p[4200];
  snprintf(p, sizeof(p), "%s/.bs/branch/%llu/work", f->mnt, (unsigned long long)f->bid);
  DIR *d = opendir(p);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

/* ---- the overlay semantics ---------------------------------------------------------- */

static void host_lower_overlay_semantics(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  fx f;
  fx_open(&f, 16, 0);
  bs_store *st = f.st;
  /* What it is. */
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "b", &bi));
  assert_int_equal(bi.kind, BS_BRANCH_OVERLAY);
  assert_int_equal(bi.snapshot_id, 0);
  assert_int_equal(bi.depth, 1);
  char dir[BS_LOWER_DIR_MAX];
  assert_bs_ok(bs_branch_lower_dir_get(st, "b", dir, sizeof(dir)));
  assert_string_equal(dir, f.lower);
  assert_bs_err(bs_branch_lower_dir_get(st, "b", dir, 4), BS_ENAME_TOO_LONG);
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, "b", &ly));
  assert_string_equal(ly.lower, "");
  /* Lookup and the merged listing (the lower's own names, upper ones added). */
  bs_test_assert_text(st, B "/a", "lower-a");
  bs_test_assert_text(st, B "/d/y", "y");
  bs_test_assert_listing(st, B, "a;d/;e/;empty/;ln;out;up;");
  bs_test_put_text(st, B "/d/new", "new");
  bs_test_assert_listing(st, B "/d", "new;x;y;");
  /* A write copies up (a byte copy: another filesystem), keeping mode and
   * times; the lower keeps its bytes. */
  assert_bs_ok(bs_write(st, B "/a", 0, "UPPER", 5));
  bs_test_assert_text(st, B "/a", "UPPER-a");
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, B "/a", &si));
  assert_int_equal(si.mode & 07777, 0640);
  char hp[4300];
  upper_host(&f, "/a", hp, sizeof(hp));
  struct stat sb;
  assert_int_equal(stat(hp, &sb), 0);
  /* Metadata copy-up: chmod of d/y keeps its times and its xattr. */
  assert_bs_ok(bs_chmod(st, B "/d/y", 0600));
  upper_host(&f, "/d/y", hp, sizeof(hp));
  char v[8];
  assert_int_equal(getxattr(hp, "user.k", v, sizeof(v)), 1);
  size_t vn = 0;
  assert_bs_ok(bs_getxattr(st, B "/d/y", "user.k", v, sizeof(v), &vn));
  assert_int_equal(vn, 1);
  assert_bs_ok(bs_stat(st, B "/d/y", &si));
  assert_int_equal(si.mode & 07777, 0600);
  char lp[4400];
  snprintf(lp, sizeof(lp), "%s/d/y", f.lower);
  struct stat lsb;
  assert_int_equal(stat(lp, &lsb), 0);
  assert_int_equal(si.mtime_ns, (int64_t)lsb.st_mtim.tv_sec * 1000000000 + lsb.st_mtim.tv_nsec);
  /* Whiteouts: an unlinked lower name is gone from the branch only. */
  assert_bs_ok(bs_unlink(st, B "/d/x"));
  assert_bs_err(bs_stat(st, B "/d/x", &si), BS_ENOT_FOUND);
  bs_test_assert_listing(st, B "/d", "new;y;");
  upper_host(&f, "/d/x", hp, sizeof(hp));
  assert_int_equal(lstat(hp, &sb), 0);
  assert_true(S_ISCHR(sb.st_mode) && sb.st_rdev == 0);
  /* Opaque directories: e emptied, removed and made again hides the lower's z. */
  assert_bs_ok(bs_unlink(st, B "/e/z"));
  assert_bs_ok(bs_rmdir(st, B "/e"));
  assert_bs_err(bs_stat(st, B "/e", &si), BS_ENOT_FOUND);
  assert_bs_ok(bs_mkdir(st, B "/e", 0700));
  bs_test_assert_listing(st, B "/e", "");
  upper_host(&f, "/e", hp, sizeof(hp));
  assert_int_equal(getxattr(hp, "user.overlay.opaque", v, sizeof(v)), 1);
  assert_int_equal(v[0], 'y');
  /* Rename across layers: the lower file moves by a copy-up, a whiteout
   * stays at its old name. */
  assert_bs_ok(bs_rename(st, B "/d/y", B "/empty/y2"));
  bs_test_assert_text(st, B "/empty/y2", "y");
  assert_bs_err(bs_stat(st, B "/d/y", &si), BS_ENOT_FOUND);
  assert_bs_err(bs_rename(st, B "/d", B "/d2"), BS_ECROSS_DEVICE);
  /* Symlinks: read through the lower, moved by a copy-up of their text;
   * the text of one that points outside is only text. */
  assert_link_text(st, B "/ln", "a");
  assert_link_text(st, B "/out", f.outside);
  assert_bs_ok(bs_rename(st, B "/ln", B "/d/ln2"));
  assert_link_text(st, B "/d/ln2", "a");
  assert_bs_err(bs_stat(st, B "/ln", &si), BS_ENOT_FOUND);
  bs_test_assert_listing(st, B, "a;d/;e/;empty/;out;up;");
  /* A reopened store finds the branch and its lower. */
  bs_close(st);
  fx_store_open(&f);
  st = f.st;
  assert_bs_ok(bs_branch_lower_dir_get(st, "b", dir, sizeof(dir)));
  assert_string_equal(dir, f.lower);
  bs_test_assert_text(st, B "/a", "UPPER-a");
  bs_test_assert_text(st, B "/empty/y2", "y");
  bs_test_assert_text(st, B "/d/new", "new");
  bs_test_assert_listing(st, B "/d", "ln2;new;");
  bs_test_assert_listing(st, B "/e", "");
  assert_int_equal(work_entries(&f), 0);
  /* A native branch and a snapshot lower have no host directory. */
  assert_bs_err(bs_branch_lower_dir_get(st, "nope", dir, sizeof(dir)), BS_ENOT_FOUND);
  /* Deleting the branch leaves the lower alone (fx_close hashes it). */
  assert_bs_ok(bs_branch_delete(st, "b"));
  assert_bs_err(bs_stat(st, B "/a", &si), BS_ENOT_FOUND);
  fx_close(&f);
}

/* ---- the policy ------------------------------------------------------------------------- */

static void assert_refused(bs_store *st, int rc, const char *reason) {
  assert_bs_err(rc, BS_EPERMISSION);
  assert_msg_has(st, reason);
}

static void host_lower_policy_refusals(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  fx f;
  fx_open(&f, 16, 0);
  bs_store *st = f.st;
  /* Across filesystems nothing can be cloned. */
  assert_bs_ok(bs_interpose_set(st, "require_reflink", "true"));
  assert_refused(st, bs_write(st, B "/a", 0, "A", 1), "(no_reflink)");
  assert_bs_ok(bs_interpose_set(st, "require_reflink", "false"));
  assert_bs_ok(bs_interpose_set(st, "max_copy_bytes", "3"));
  assert_refused(st, bs_truncate(st, B "/a", 1), "(size_threshold)");
  assert_bs_ok(bs_chmod(st, B "/d/x", 0600)); /* 1 byte: within the bound */
  assert_bs_ok(bs_interpose_set(st, "max_copy_bytes", "0"));
  assert_bs_ok(bs_interpose_set(st, "forwarding", "disabled"));
  assert_refused(st, bs_chmod(st, B "/d/y", 0600), "(policy)");
  assert_refused(st, bs_write(st, B "/e/z", 0, "Z", 1), "(policy)");
  /* Nothing of the refused ones reached the upper. */
  bs_test_assert_text(st, B "/a", "lower-a");
  char hp[4300];
  struct stat sb;
  upper_host(&f, "/a", hp, sizeof(hp));
  assert_int_equal(lstat(hp, &sb), -1);
  upper_host(&f, "/e", hp, sizeof(hp));
  assert_int_equal(lstat(hp, &sb), -1);
  assert_int_equal(work_entries(&f), 0);
  assert_bs_ok(bs_interpose_set(st, "forwarding", "eager_upperize"));
  assert_bs_ok(bs_write(st, B "/a", 0, "A", 1));
  bs_test_assert_text(st, B "/a", "Aower-a");
  fx_close(&f);
}

/* ---- confinement ---------------------------------------------------------------------- */

/* Backend path of @rest in branch b's host lower. */
static void lower_bpath(const fx *f, const char *rest, char *out, size_t cap) {
  snprintf(out, cap, "/.bs/lower/%llu%s", (unsigned long long)f->bid, rest);
}

static void host_lower_escapes_and_writes_are_refused(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  fx f;
  fx_open(&f, 16, 0);
  bs_store *st = f.st;
  const bs_backend_ops *ops = st->ops;
  char bp[256];
  bs_stat_info si;
  uint8_t buf[16];
  size_t n;
  /* The way in works ... */
  lower_bpath(&f, "/d/x", bp, sizeof(bp));
  assert_bs_ok(ops->stat(st, bp, &si));
  /* ... but no symlink or ".." leads out: "out" names the outside
   * directory by its absolute path, "up" is "..". */
  lower_bpath(&f, "/out/secret", bp, sizeof(bp));
  assert_bs_err(ops->read(st, bp, 0, buf, sizeof(buf), &n), BS_EPERMISSION);
  assert_msg_has(st, "outside");
  lower_bpath(&f, "/up/outside/secret", bp, sizeof(bp));
  assert_bs_err(ops->stat(st, bp, &si), BS_EPERMISSION);
  lower_bpath(&f, "/up/", bp, sizeof(bp));
  assert_bs_err(ops->stat(st, bp, &si), BS_EPERMISSION);
  lower_bpath(&f, "/d/../../outside/secret", bp, sizeof(bp));
  int rc = ops->read(st, bp, 0, buf, sizeof(buf), &n);
  assert_true(rc != 0);
  /* Through the branch a symlink is never followed either. */
  assert_true(bs_read(st, B "/out/secret", 0, buf, sizeof(buf), &n) != 0);
  assert_true(bs_stat(st, B "/up/outside/secret", &si) != 0);
  assert_bs_err(bs_stat(st, B "/../x", &si), BS_EINVALID);
  /* The lower is read-only to the store: every changing method is refused
   * by the backend itself. */
  lower_bpath(&f, "/a", bp, sizeof(bp));
  assert_bs_err(ops->write(st, bp, 0, "X", 1), BS_EPERMISSION);
  assert_msg_has(st, "read-only");
  assert_bs_err(ops->truncate(st, bp, 0), BS_EPERMISSION);
  assert_bs_err(ops->chmod(st, bp, 0777), BS_EPERMISSION);
  assert_bs_err(ops->utimens(st, bp, 0, 0), BS_EPERMISSION);
  assert_bs_err(ops->setxattr(st, bp, "user.k", "w", 1), BS_EPERMISSION);
  assert_bs_err(ops->unlink(st, bp), BS_EPERMISSION);
  char bp2[256];
  lower_bpath(&f, "/moved", bp2, sizeof(bp2));
  assert_bs_err(ops->rename(st, bp, bp2), BS_EPERMISSION);
  assert_bs_err(ops->create(st, bp2, 0644), BS_EPERMISSION);
  assert_bs_err(ops->mkdir(st, bp2, 0755), BS_EPERMISSION);
  assert_bs_err(ops->symlink(st, "a", bp2), BS_EPERMISSION);
  assert_bs_err(ops->link(st, bp, bp2), BS_EPERMISSION);
  char up[256];
  snprintf(up, sizeof(up), "/.bs/branch/%llu/upper/a2", (unsigned long long)f.bid);
  assert_bs_err(ops->reflink(st, up, bp2), BS_EPERMISSION);
  lower_bpath(&f, "/d/x", bp, sizeof(bp));
  assert_bs_err(ops->unlink(st, bp), BS_EPERMISSION);
  /* Bad lowers: relative, missing, a file, inside the store, holding it. */
  assert_bs_err(bs_branch_create_host(st, "lower", "c"), BS_EINVALID);
  char p[4400];
  snprintf(p, sizeof(p), "%s/missing", f.base);
  assert_bs_err(bs_branch_create_host(st, p, "c"), BS_ENOT_FOUND);
  snprintf(p, sizeof(p), "%s/a", f.lower);
  assert_bs_err(bs_branch_create_host(st, p, "c"), BS_EINVALID);
  snprintf(p, sizeof(p), "%s/sub", f.mnt);
  assert_int_equal(mkdir(p, 0755), 0);
  assert_bs_err(bs_branch_create_host(st, p, "c"), BS_EINVALID);
  assert_msg_has(st, "inside");
  assert_bs_err(bs_branch_create_host(st, "/", "c"), BS_EINVALID);
  assert_msg_has(st, "holds");
  assert_bs_err(bs_branch_create_host(st, f.lower, "b"), BS_EEXISTS);
  assert_bs_err(bs_branch_create_host(st, NULL, "c"), BS_EINVALID);
  char *longp = malloc(BS_LOWER_DIR_MAX + 1);
  assert_non_null(longp);
  memset(longp, 'x', BS_LOWER_DIR_MAX);
  longp[0] = '/';
  longp[BS_LOWER_DIR_MAX] = '\0';
  assert_bs_err(bs_branch_create_host(st, longp, "c"), BS_ENAME_TOO_LONG);
  free(longp);
  bs_branch_info bi;
  assert_bs_err(bs_branch_info_get(st, "c", &bi), BS_ENOT_FOUND);
  /* Nothing of the refused branches is left in the store. */
  snprintf(p, sizeof(p), "%s/.bs/branch", f.mnt);
  DIR *d = opendir(p);
  assert_non_null(d);
  int trees = 0;
  for (struct dirent *e; (e = readdir(d));)
    trees += e->d_name[0] != '.';
  closedir(d);
  assert_int_equal(trees, 1);
  fx_close(&f);
}

/* ---- bad conditions -------------------------------------------------------------------- */

static void host_lower_copy_up_no_space(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  fx f;
  fx_open(&f, 4, 6u << 20); /* a 6 MiB lower file, a 4 MiB upper */
  bs_store *st = f.st;
  assert_bs_err(bs_write(st, B "/big", 0, "b", 1), BS_ENO_SPACE);
  assert_msg_has(st, "copy-up");
  /* The upper is consistent: the lower file still shows, whole; no copy
   * half-made in sight or in the work directory. */
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, B "/big", &si));
  assert_int_equal(si.size, 6u << 20);
  uint8_t b[4];
  size_t n;
  assert_bs_ok(bs_read(st, B "/big", (6u << 20) - 4, b, 4, &n));
  assert_int_equal(n, 4);
  assert_memory_equal(b, "BBBB", 4);
  char hp[4300];
  struct stat sb;
  upper_host(&f, "/big", hp, sizeof(hp));
  assert_int_equal(lstat(hp, &sb), -1);
  assert_int_equal(work_entries(&f), 0);
  /* The space came back: a small copy-up works. */
  assert_bs_ok(bs_write(st, B "/a", 0, "A", 1));
  bs_test_assert_text(st, B "/a", "Aower-a");
  fx_close(&f);
}

static int count_entry(void *ctx, const char *name, bs_file_kind kind) {
  (void)ctx;
  (void)name;
  (void)kind;
  return 0;
}

static void host_lower_gone_is_a_clear_error(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  fx f;
  fx_open(&f, 16, 0);
  bs_store *st = f.st;
  bs_test_put_text(st, B "/mine", "mine");
  char aside[4300];
  snprintf(aside, sizeof(aside), "%s/aside", f.base);
  assert_int_equal(rename(f.lower, aside), 0);
  bs_stat_info si;
  /* Every call in the branch says the lower is gone, upper names too. */
  assert_bs_err(bs_stat(st, B "/a", &si), BS_ENOT_FOUND);
  assert_msg_has(st, "lower layer is gone");
  assert_msg_has(st, f.lower);
  assert_bs_err(bs_stat(st, B "/mine", &si), BS_ENOT_FOUND);
  assert_msg_has(st, "lower layer is gone");
  assert_bs_err(bs_readdir(st, B, count_entry, NULL), BS_ENOT_FOUND);
  /* Back in place, the branch is whole again. */
  assert_int_equal(rename(aside, f.lower), 0);
  bs_test_assert_text(st, B "/a", "lower-a");
  bs_test_assert_text(st, B "/mine", "mine");
  /* Gone for good: the branch can still be deleted. */
  assert_int_equal(rename(f.lower, aside), 0);
  assert_bs_ok(bs_branch_delete(st, "b"));
  assert_int_equal(rename(aside, f.lower), 0);
  fx_close(&f);
}

/* A snapshot of a host-lower branch would freeze only its upper: the host
 * directory is not the store's to freeze, so it is refused, nothing made. */
static void host_lower_branch_snapshot_is_unsupported(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  fx f;
  fx_open(&f, 16, 0);
  bs_store *st = f.st;
  bs_test_put_text(st, B "/mine", "mine");
  bs_snapshot_info si;
  assert_bs_err(bs_branch_snapshot(st, "b", "frozen", &si), BS_EUNSUPPORTED);
  assert_msg_has(st, "host directory");
  assert_bs_err(bs_snapshot_lookup(st, "frozen", &si), BS_ENOT_FOUND);
  bs_test_assert_text(st, B "/mine", "mine");
  fx_close(&f);
}

/* ---- faults during a copy-up from a host lower -------------------------------------------- */

#ifdef FIU_ENABLE
/* The points a change of a host-lower branch passes through (the lower's
 * record is read and its directory opened at each call that reaches it). */
static const char *const points[] = {
  "bs/real/open",  "bs/real/read",   "bs/real/write",    "bs/real/fsync",    "bs/real/stat",
  "bs/real/mkdir", "bs/real/unlink", "bs/real/rename",   "bs/real/ficlone",  "bs/real/chmod",
  "bs/real/utimens", "bs/real/getxattr", "bs/real/setxattr", "bs/real/mknod", "bs/real/readdir",
};

/* Every point fails once, call by call, during each change of
 * overlay_view.h: the branch shows the view before or after, never a
 * half-copied file, the work directory is empty, the lower unchanged. */
static void host_lower_every_fault_leaves_old_or_new(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  fx f;
  fx_open_tree(&f, 16, 0, true);
  bs_store *st = f.st;
  assert_bs_ok(bs_branch_delete(st, "b"));
  /* As test_overlay_faults: with few iterations (the valgrind leak leg)
   * every 4th point runs, from a seed-chosen one; else all of them. */
  size_t stride = bs_test_iterations(100) < 100 ? 4 : 1;
  size_t first = (size_t)(bs_test_seed() % stride);
  int fired_total = 0;
  for (ov_change c = 0; c < OV_NCHANGES; c++) {
    char before[OV_VIEW_MAX] = "", after[OV_VIEW_MAX] = "";
    assert_bs_ok(bs_branch_create_host(st, f.lower, "ref"));
    ov_prepare(st, "ref", c);
    ov_dump(st, "/.bs/branches/ref", "", before);
    assert_bs_ok(ov_run(st, "/.bs/branches/ref", c));
    ov_dump(st, "/.bs/branches/ref", "", after);
    assert_bs_ok(bs_branch_delete(st, "ref"));
    assert_true(strcmp(before, after) != 0);
    for (size_t p = first; p < sizeof(points) / sizeof(*points); p += stride) {
      for (int nth = 1;; nth++) {
        char what[256], now[OV_VIEW_MAX] = "";
        snprintf(what, sizeof(what), "%s, call %d of %s failing", ov_change_names[c], nth, points[p]);
        assert_bs_ok(bs_branch_create_host(st, f.lower, "b"));
        bs_branch_info bi;
        assert_bs_ok(bs_branch_info_get(st, "b", &bi));
        f.bid = bi.id;
        ov_prepare(st, "b", c);
        bs_test_fail_nth(points[p], nth, EIO);
        int rc = ov_run(st, B, c);
        bool fired = bs_test_fault_fired();
        fiu_disable(points[p]);
        if (!fired && rc != 0)
          fail_msg("%s: no fault, yet %s (%s)", what, bs_err_name(rc), bs_last_message(st));
        ov_dump(st, B, "", now);
        if (strcmp(now, before) != 0 && strcmp(now, after) != 0)
          fail_msg("%s: returned %s (%s), and the branch shows\n%s\nneither the view before\n%s\nnor after\n%s",
                   what, bs_err_name(rc), bs_last_message(st), now, before, after);
        if (rc != 0 && strcmp(now, after) != 0 && rc != BS_EIO)
          fail_msg("%s: %s (%s), expected IO", what, bs_err_name(rc), bs_last_message(st));
        if (!fired && work_entries(&f) != 0)
          fail_msg("%s: the work directory is not empty", what);
        assert_bs_ok(bs_branch_delete(st, "b"));
        if (!fired)
          break;
        fired_total++;
      }
    }
  }
  assert_true(fired_total > 0);
  print_message("    %d faults fired\n", fired_total);
  fx_close(&f);
}
#endif

/* ---- the registry record ------------------------------------------------------------------- */

/* A host-lower branch is a format-2 overlay record with snapshot_id 0: it
 * holds no snapshot, round-trips, and only an overlay may have it. */
static void host_lower_registry_record(void **state) {
  (void)state;
  bs__snapreg r, back;
  bs__snapreg_init(&r);
  uint8_t uuid[16] = {1};
  assert_bs_ok(bs__snapreg_add(&r, "s", uuid, 5, NULL));
  assert_bs_err(bs__snapreg_add_branch_kind(&r, BS__SNAPREG_HOST_LOWER, "n", BS_BRANCH_NATIVE, NULL), BS_ENOT_FOUND);
  bs__branch_rec b;
  assert_bs_ok(bs__snapreg_add_branch_kind(&r, BS__SNAPREG_HOST_LOWER, "h", BS_BRANCH_OVERLAY, &b));
  assert_int_equal(b.snapshot_id, 0);
  assert_int_equal(r.snaps[0].branch_count, 0);
  assert_bs_ok(bs__snapreg_check(&r));
  uint8_t *buf;
  size_t len;
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &len));
  assert_memory_equal(buf, "BSREG002", 8);
  assert_bs_ok(bs__snapreg_decode(&back, buf, len));
  assert_int_equal(back.nbranches, 1);
  assert_int_equal(back.branches[0].snapshot_id, 0);
  assert_int_equal(back.branches[0].kind, BS_BRANCH_OVERLAY);
  bs__snapreg_free(&back);
  free(buf);
  /* The snapshot is not held: it may go. */
  assert_bs_ok(bs__snapreg_remove(&r, 1));
  assert_bs_ok(bs__snapreg_check(&r));
  /* A native record on snapshot 0 is damaged. */
  r.branches[0].kind = BS_BRANCH_NATIVE;
  assert_bs_err(bs__snapreg_check(&r), BS_ECORRUPT);
  r.branches[0].kind = BS_BRANCH_OVERLAY;
  assert_bs_ok(bs__snapreg_remove_branch(&r, "h", NULL));
  bs__snapreg_free(&r);
}

/* ---- where a host lower cannot be --------------------------------------------------------- */

static void host_lower_in_the_sim_is_unsupported(void **state) {
  (void)state;
  bs_open_opts o = {.profile = "btrfs", .seed = 1};
  bs_store *st;
  assert_bs_ok(bs_open(&st, "sim", &o));
  assert_bs_err(bs_branch_create_host(st, "/tmp", "b"), BS_EUNSUPPORTED);
  assert_msg_has(st, "sim");
  bs_branch_info bi;
  assert_bs_err(bs_branch_info_get(st, "b", &bi), BS_ENOT_FOUND);
  /* The sim keeps nothing of it: a snapshot branch still gets its id 1. */
  assert_bs_ok(bs_create(st, "/f", 0644));
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts bo = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &bo));
  char dir[64];
  assert_bs_err(bs_branch_lower_dir_get(st, "b", dir, sizeof(dir)), BS_EINVALID);
  bs_close(st);
  /* A complete backend has no overlay branches at all. */
  bs_open_opts fo = {.profile = "xfs", .seed = 1, .faults = ""};
  assert_bs_ok(bs_open(&st, "faults:sim", &fo));
  assert_bs_err(bs_branch_create_host(st, "/tmp", "b"), BS_EUNSUPPORTED);
  bs_close(st);
}

/* ---- bslab branch create --lower-dir ----------------------------------------------------- */

static void bslab_branch_create_lower_dir(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  fx f;
  fx_open(&f, 16, 0);
  bs_close(f.st);
  f.st = NULL;
  const char *const mk[] = {"branch", "create", "--backend", "real", "--root", f.mnt, "--copy-snapshots",
                            "--lower-dir", f.lower, "w", NULL};
  bs_cli_check(0, "created overlay branch w of host directory", NULL, mk);
  const char *const cat[] = {"cat", "--backend", "real", "--root", f.mnt, "/.bs/branches/w/d/x", NULL};
  bs_cli_check(0, "x", NULL, cat);
  const char *const both[] = {"branch", "create", "--backend", "real", "--root", f.mnt, "--copy-snapshots",
                              "--lower-dir", f.lower, "s", "w2", NULL};
  bs_cli_check(2, NULL, "no SNAPSHOT", both);
  const char *const nat[] = {"branch", "create", "--backend", "real", "--root", f.mnt, "--kind", "native",
                             "--lower-dir", f.lower, "w3", NULL};
  bs_cli_check(2, NULL, "overlay", nat);
  const char *const miss[] = {"branch", "create", "--backend", "real", "--root", f.mnt, "--copy-snapshots",
                              "--lower-dir", "/nonexistent-ovhost", "w4", NULL};
  bs_cli_check(1, NULL, "NOT_FOUND", miss);
  const char *const help[] = {"branch", "--help", NULL};
  bs_cli_check(0, "--lower-dir DIR", NULL, help);
  fx_store_open(&f);
  char dir[BS_LOWER_DIR_MAX];
  assert_bs_ok(bs_branch_lower_dir_get(f.st, "w", dir, sizeof(dir)));
  assert_string_equal(dir, f.lower);
  fx_close(&f);
}

/* ---- the suite's RAM-disk runtime directory ------------------------------------------------ */

static int setup(void **state) {
  (void)state;
  snprintf(rt, sizeof(rt), "/dev/shm/backstore-ovhost-%d", (int)getpid());
  setenv("BS_RAMDISK_DIR", rt, 1);
  return bs_cli_setup("overlay-host");
}

static int teardown(void **state) {
  (void)state;
  bs_ramdisk_info *v = NULL;
  size_t n = 0;
  if (bs_ramdisk_list(&v, &n) == 0)
    for (size_t i = 0; i < n; i++)
      bs_ramdisk_destroy_id(v[i].id);
  free(v);
  char p[300];
  snprintf(p, sizeof(p), "%s/.lock", rt);
  unlink(p);
  rmdir(rt);
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(host_lower_overlay_semantics),
    cmocka_unit_test(host_lower_policy_refusals),
    cmocka_unit_test(host_lower_escapes_and_writes_are_refused),
    cmocka_unit_test(host_lower_copy_up_no_space),
    cmocka_unit_test(host_lower_gone_is_a_clear_error),
    cmocka_unit_test(host_lower_branch_snapshot_is_unsupported),
#ifdef FIU_ENABLE
    cmocka_unit_test(host_lower_every_fault_leaves_old_or_new),
#endif
    cmocka_unit_test(host_lower_registry_record),
    cmocka_unit_test(host_lower_in_the_sim_is_unsupported),
    cmocka_unit_test(bslab_branch_create_lower_dir),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
