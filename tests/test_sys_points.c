/* Every OS call of real/ goes through real/sys.c with its fault point
 * (docs/real.md, "Fault points"; scripts/check-sys-calls.sh keeps it so):
 * the calls that used to reach the OS directly (directory listings, the
 * store root's realpath, the write-access check before a delete, the lstat
 * of a tree removal or copy, the xfs geometry) now fail at their points.
 * And a cleanup, which takes back what a failed call made, answers to the
 * point bs/real/cleanup alone: a fault meant for the operation's own calls
 * (bs/real/unlink failing every time) does not stop it, so the operation
 * stays all or nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/bs_test.h"

#if defined(FIU_ENABLE) && defined(__linux__)
#include <fiu-control.h>
#include <fiu.h>

#include "backstore/faults.h"
#include "real/linux.h"
#include "real/posix.h"
#include "tests/support/host_tree.h"
#include "tests/support/volume.h"

/* A fresh empty directory on @fs's shared volume. */
static void dir_on(const char *fs, char dir[4096]) {
  const bs_vol *v = bs_test_volume(fs);
  static unsigned n;
  if (snprintf(dir, 4096, "%.4000s/sys-%u-%u", v->mnt, (unsigned)getpid(), n++) >= 4096)
    fail_msg("mount point too long");
  if (mkdir(dir, 0755) != 0)
    fail_msg("mkdir %s: %s", dir, strerror(errno));
}

static bool exists(const char *dir, const char *name) {
  char p[4200];
  struct stat sb;
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  return lstat(p, &sb) == 0;
}

static void touch(const char *dir, const char *name) {
  char p[4200];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  bs_test_write_host(p, "x");
}

/* @rc, the answer of a call made with a fault armed at @point by
 * bs_test_fail_nth; fails the test unless the fault fired. */
static int fired(const char *point, int rc) {
  bool hit = bs_test_fault_fired();
  fiu_disable(point);
  if (!hit)
    fail_msg("%s was never reached (the call went around real/sys.c?)", point);
  return rc;
}

static int count_entry(void *ctx, const char *name, bs_file_kind kind) {
  (void)name;
  (void)kind;
  ++*(int *)ctx;
  return 0;
}

static void listing_a_directory_fails_at_bs_real_readdir(void **state) {
  (void)state;
  char dir[4096];
  dir_on("tmpfs", dir);
  touch(dir, "a");
  bs__hpath hp = bs__hpath_host(dir);
  int n = 0;
  /* The 1st call is fdopendir, the 2nd the first readdir. */
  for (int nth = 1; nth <= 2; nth++) {
    bs_test_fail_nth("bs/real/readdir", nth, EIO);
    assert_int_equal(fired("bs/real/readdir", bs__px_readdir(NULL, &hp, count_entry, &n)), -EIO);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    bs__names names;
    bs_test_fail_nth("bs/real/readdir", nth, EIO);
    assert_int_equal(fired("bs/real/readdir", bs__names_read_fd(fd, &names)), -EIO);
    close(fd);
  }
  assert_int_equal(n, 0);
  assert_int_equal(bs__px_readdir(NULL, &hp, count_entry, &n), 0);
  assert_int_equal(n, 1);
}

static void resolving_the_store_root_fails_at_bs_real_stat(void **state) {
  (void)state;
  char dir[4096];
  dir_on("tmpfs", dir);
  bs__hroot root;
  /* open(2) is bs/real/open; the only stat is realpath(3)'s walk. */
  bs_test_fail_nth("bs/real/stat", 1, EIO);
  assert_int_equal(fired("bs/real/stat", bs__px_root_open(NULL, dir, &root)), -EIO);
  assert_int_equal(bs__px_root_open(NULL, dir, &root), 0);
  assert_non_null(root.real);
  bs__px_root_close(NULL, &root);
}

static void the_access_check_before_a_delete_fails_at_bs_real_access(void **state) {
  (void)state;
  char dir[4096], tree[4200], why[256];
  dir_on("tmpfs", dir);
  snprintf(tree, sizeof(tree), "%s/tree", dir);
  assert_int_equal(mkdir(tree, 0755), 0);
  bs__hpath hp = bs__hpath_host(tree);
  bs_test_fail_nth("bs/real/access", 1, EIO);
  assert_int_equal(fired("bs/real/access", bs__linux_tree_may_delete(NULL, BS_TREE_COPY, &hp, why, sizeof(why))),
                   -EIO);
  assert_int_equal(bs__linux_tree_may_delete(NULL, BS_TREE_COPY, &hp, why, sizeof(why)), 0);
}

static void removing_and_copying_trees_fail_at_bs_real_stat(void **state) {
  (void)state;
  char dir[4096], src[4200], dst[4200];
  dir_on("ext4", dir);
  touch(dir, "f");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(fd >= 0);
  /* The removal looks at what it removes first. */
  bs_test_fail_nth("bs/real/stat", 1, EIO);
  assert_int_equal(fired("bs/real/stat", bs__linux_remove_at(fd, "f", NULL)), -EIO);
  assert_true(exists(dir, "f"));
  assert_int_equal(bs__linux_remove_at(fd, "f", NULL), 0);
  assert_false(exists(dir, "f"));
  close(fd);
  /* A copy: the source, the destination, then the lstat of the tree's root
   * entry; a failure there leaves no destination. */
  snprintf(src, sizeof(src), "%s/src", dir);
  snprintf(dst, sizeof(dst), "%s/dst", dir);
  bs_test_make_tree(src);
  bs_test_fail_nth("bs/real/stat", 3, EIO);
  assert_int_equal(fired("bs/real/stat", bs__linux_clone_tree(src, dst, BS__TREE_COPY)), -EIO);
  assert_false(exists(dir, "dst"));
  assert_int_equal(bs__linux_clone_tree(src, dst, BS__TREE_COPY), 0);
  bs_test_same_entry(src, dst, "a/deep/file");
}

static void xfs_caps_fail_at_bs_real_statfs_on_the_geometry(void **state) {
  (void)state;
  const bs_vol *v = bs_test_volume("xfs");
  bs_caps c;
  /* statfs(2) is the 1st call, the geometry ioctl (reflink=1?) the 2nd. */
  bs_test_fail_nth("bs/real/statfs", 2, EIO);
  assert_int_equal(fired("bs/real/statfs", bs__linux_caps(NULL, v->mnt, &c)), -EIO);
  assert_int_equal(bs__linux_caps(NULL, v->mnt, &c), 0);
  assert_true(c.native_reflink);
}

static void the_catalogue_lists_the_new_points(void **state) {
  (void)state;
  static const char *const points[] = {"bs/real/access", "bs/real/readdir", "bs/real/cleanup"};
  for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
    if (bs_fault_point_find(NULL, points[i]) != BS_OK)
      fail_msg("the fault catalogue lacks %s", points[i]);
}

/* Fail every call of @point from now on (EIO), until fiu_disable. */
static void fail_always(const char *point) {
  assert_int_equal(fiu_enable(point, 1, (void *)(intptr_t)EIO, 0), 0);
}

static void a_failed_create_is_taken_back_unless_bs_real_cleanup_fails(void **state) {
  (void)state;
  char dir[4096], p[4200];
  dir_on("tmpfs", dir);
  for (int mk = 0; mk < 2; mk++) { /* a file, then a directory: chmod is after the create */
    const char *name = mk ? "d" : "f";
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    bs__hpath hp = bs__hpath_host(p);
    fail_always("bs/real/unlink");
    bs_test_fail_nth("bs/real/chmod", 1, EIO);
    int rc = fired("bs/real/chmod", mk ? bs__px_mkdir(NULL, &hp, 0700) : bs__px_create(NULL, &hp, 0600));
    fiu_disable("bs/real/unlink");
    assert_int_equal(rc, -EIO);
    if (exists(dir, name))
      fail_msg("a failing bs/real/unlink stopped the cleanup of a failed create: %s is left", p);
    /* The cleanup itself failing: the half-made entry stays, as documented. */
    fail_always("bs/real/cleanup");
    bs_test_fail_nth("bs/real/chmod", 1, EIO);
    rc = fired("bs/real/chmod", mk ? bs__px_mkdir(NULL, &hp, 0700) : bs__px_create(NULL, &hp, 0600));
    fiu_disable("bs/real/cleanup");
    assert_int_equal(rc, -EIO);
    assert_true(exists(dir, name));
  }
}

static void a_failed_clone_is_taken_back_unless_bs_real_cleanup_fails(void **state) {
  (void)state;
  char dir[4096];
  dir_on("btrfs", dir);
  bs_open_opts o = {.root = dir};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  bs_test_put(st, "/src", 20000, 1);
  bs_stat_info si;
  fail_always("bs/real/unlink");
  bs_test_fail_nth("bs/real/ficlone", 1, EIO);
  int rc = fired("bs/real/ficlone", bs_reflink(st, "/src", "/dst"));
  fiu_disable("bs/real/unlink");
  assert_bs_err(rc, BS_EIO);
  assert_bs_err(bs_stat(st, "/dst", &si), BS_ENOT_FOUND);
  fail_always("bs/real/cleanup");
  bs_test_fail_nth("bs/real/ficlone", 1, EIO);
  rc = fired("bs/real/ficlone", bs_reflink(st, "/src", "/dst"));
  fiu_disable("bs/real/cleanup");
  assert_bs_err(rc, BS_EIO);
  assert_bs_ok(bs_stat(st, "/dst", &si)); /* left behind: its cleanup failed */
  bs_close(st);
}

int main(void) {
  fiu_init(0);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(listing_a_directory_fails_at_bs_real_readdir),
    cmocka_unit_test(resolving_the_store_root_fails_at_bs_real_stat),
    cmocka_unit_test(the_access_check_before_a_delete_fails_at_bs_real_access),
    cmocka_unit_test(removing_and_copying_trees_fail_at_bs_real_stat),
    cmocka_unit_test(xfs_caps_fail_at_bs_real_statfs_on_the_geometry),
    cmocka_unit_test(the_catalogue_lists_the_new_points),
    cmocka_unit_test(a_failed_create_is_taken_back_unless_bs_real_cleanup_fails),
    cmocka_unit_test(a_failed_clone_is_taken_back_unless_bs_real_cleanup_fails),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void) {
  fprintf(stderr, "test_sys_points: needs libfiu (FIU_ENABLE) and Linux: not run\n");
  return 77;
}
#endif
