#include "tests/support/host_tree.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif
#include <cmocka.h>

const char *const bs_test_tree_entries[BS_TEST_TREE_ENTRIES] = {
  ".", "a", "a/deep", "a/deep/file", "top", "link", "fifo", "null"};

void bs_test_write_host(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f)
    fail_msg("create %s", path);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

uint8_t *bs_test_read_host(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("open %s", path);
  uint8_t *buf = malloc(1 << 16);
  assert_non_null(buf);
  *len = fread(buf, 1, 1 << 16, f);
  fclose(f);
  return buf;
}

void bs_test_make_tree(const char *root) {
  assert_int_equal(mkdir(root, 0750), 0);
  bs_test_fill_tree(root);
}

void bs_test_fill_tree(const char *root) {
  char p[4300];
  snprintf(p, sizeof(p), "%s/a", root);
  assert_int_equal(mkdir(p, 0700), 0);
  snprintf(p, sizeof(p), "%s/a/deep", root);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(p, sizeof(p), "%s/a/deep/file", root);
  bs_test_write_host(p, "deep file\n");
  assert_int_equal(lsetxattr(p, "user.tag", "t", 1, 0), 0);
  assert_int_equal(chmod(p, 0640), 0);
  assert_int_equal(chown(p, 1000, 1001), 0);
  snprintf(p, sizeof(p), "%s/top", root);
  bs_test_write_host(p, "top\n");
  snprintf(p, sizeof(p), "%s/link", root);
  assert_int_equal(symlink("a/deep/file", p), 0);
  snprintf(p, sizeof(p), "%s/fifo", root);
  assert_int_equal(mkfifo(p, 0600), 0);
  snprintf(p, sizeof(p), "%s/null", root);
  assert_int_equal(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
  struct timespec ts[2] = {{1500000000, 1}, {1500000001, 2}};
  snprintf(p, sizeof(p), "%s/a/deep", root);
  assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

void bs_test_same_entry(const char *a, const char *b, const char *rel) {
  char pa[4300], pb[4300];
  snprintf(pa, sizeof(pa), "%s/%s", a, rel);
  snprintf(pb, sizeof(pb), "%s/%s", b, rel);
  struct stat sa, sb;
  assert_int_equal(lstat(pa, &sa), 0);
  if (lstat(pb, &sb) != 0)
    fail_msg("copy lacks %s", rel);
  assert_int_equal(sa.st_mode, sb.st_mode);
  assert_int_equal(sa.st_uid, sb.st_uid);
  assert_int_equal(sa.st_gid, sb.st_gid);
  assert_int_equal(sa.st_rdev, sb.st_rdev);
  if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
    fail_msg("%s: mtime %lld.%09ld, copy has %lld.%09ld", rel, (long long)sa.st_mtim.tv_sec,
             sa.st_mtim.tv_nsec, (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
  if (S_ISREG(sa.st_mode)) {
    size_t la = 0, lb = 0;
    uint8_t *ca = bs_test_read_host(pa, &la), *cb = bs_test_read_host(pb, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ca, cb, la);
    free(ca);
    free(cb);
  }
  char ta[8] = "", tb[8] = "";
  ssize_t na = lgetxattr(pa, "user.tag", ta, sizeof(ta)), nb = lgetxattr(pb, "user.tag", tb, sizeof(tb));
  assert_int_equal(na, nb);
  if (na > 0)
    assert_memory_equal(ta, tb, (size_t)na);
  /* A btrfs snapshot keeps inode numbers on a new device. */
  assert_true(sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev);
}
