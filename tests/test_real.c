/* The real backend on real volumes: what only a kernel can show (golden
 * capabilities per filesystem, ACLs, faults in the middle of a clone,
 * cross-device clones, the recursive tree clone).  The behaviours every
 * backend shares are in test_reflink.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fiu-control.h>
#include <fiu.h>

#include "backstore/wire.h"
#include "real/linux.h"
#include "tests/support/bs_test.h"
#include "tests/support/host_tree.h"
#include "tests/support/volume.h"

static const char *const all_fs[] = {"btrfs", "xfs", "ext4", "tmpfs"};
#define N_FS (sizeof(all_fs) / sizeof(all_fs[0]))

/* The shared volume of @fs, or skip the test (with the reason) where real
 * volumes cannot be made and $BS_REQUIRE_REAL is not 1. */

/* A fresh empty directory on @fs's volume and a real store on it. */
static bs_store *open_on(const char *fs, char dir[4096]) {
  const bs_vol *v = bs_test_volume(fs);
  static unsigned n;
  if (snprintf(dir, 4096, "%.4000s/real-%u-%u", v->mnt, (unsigned)getpid(), n++) >= 4096)
    fail_msg("mount point too long");
  if (mkdir(dir, 0755) != 0)
    fail_msg("mkdir %s: %s", dir, strerror(errno));
  bs_open_opts o = {.root = dir};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  return st;
}

static void real_caps_match_golden_on_every_volume(void **state) {
  (void)state;
  for (size_t i = 0; i < N_FS; i++) {
    char dir[4096];
    bs_store *st = open_on(all_fs[i], dir);
    bs_caps c;
    assert_bs_ok(bs_get_caps(st, &c));
    uint8_t buf[BS_CAPS_SSZ_MAX];
    size_t len = 0;
    assert_bs_ok(bs_caps_encode(buf, sizeof(buf), &len, &c));
    char golden[64];
    snprintf(golden, sizeof(golden), "caps-%s.ssz", all_fs[i]);
    uint8_t want[BS_CAPS_SSZ_MAX];
    size_t glen = bs_test_golden_load(golden, want, sizeof(want));
    if (len != glen || memcmp(buf, want, len) != 0)
      fail_msg("real %s: caps differ from golden/%s", all_fs[i], golden);
    /* The same bytes as the sim profile of that name. */
    bs_store *sim = bs_test_open_sim(all_fs[i], 1);
    bs_caps sc;
    assert_bs_ok(bs_get_caps(sim, &sc));
    assert_memory_equal(&sc, &c, sizeof(c));
    bs_close(sim);
    bs_fs_type t;
    assert_bs_ok(bs_probe_fs_type(st, dir, &t));
    assert_int_equal(t, bs_fs_type_from_name(all_fs[i]));
    bs_close(st);
  }
}

static void real_probe_and_open_errors(void **state) {
  (void)state;
  char dir[4096];
  bs_store *st = open_on("tmpfs", dir);
  bs_fs_type t;
  assert_bs_err(bs_probe_fs_type(st, "/nonexistent-bs/x", &t), BS_ENOT_FOUND);
  assert_non_null(strstr(bs_last_message(st), "/nonexistent-bs/x"));
  /* Store paths stay below the root. */
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/../etc", &si), BS_EINVALID);
  assert_bs_err(bs_create(st, "/a/./b", 0644), BS_EINVALID);
  assert_bs_err(bs_reflink(st, "/..", "/x"), BS_EINVALID);
  assert_bs_ok(bs_stat(st, "/", &si));
  assert_int_equal(si.kind, BS_KIND_DIR);
  bs_close(st);
  bs_open_opts o = {.root = "/nonexistent-bs"};
  assert_bs_err(bs_open(&st, "real", &o), BS_ENOT_FOUND);
  o.root = "/etc/hostname";
  assert_bs_err(bs_open(&st, "real", &o), BS_EINVALID);
  o.root = NULL;
  assert_bs_err(bs_open(&st, "real", &o), BS_EINVALID);
}

/* A POSIX ACL in its xattr form: header, then entries sorted by tag. */
static size_t make_acl(uint8_t *out) {
  static const struct {
    uint16_t tag, perm;
    uint32_t id;
  } e[] = {{0x01, 7, UINT32_MAX}, {0x02, 4, 1234}, {0x04, 5, UINT32_MAX},
           {0x10, 5, UINT32_MAX}, {0x20, 0, UINT32_MAX}};
  uint32_t version = 2;
  memcpy(out, &version, 4);
  size_t n = 4;
  for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
    memcpy(out + n, &e[i].tag, 2);
    memcpy(out + n + 2, &e[i].perm, 2);
    memcpy(out + n + 4, &e[i].id, 4);
    n += 8;
  }
  return n;
}

static void real_clone_keeps_posix_acls(void **state) {
  (void)state;
  const char *fs[] = {"btrfs", "xfs"};
  for (int i = 0; i < 2; i++) {
    char dir[4096];
    bs_store *st = open_on(fs[i], dir);
    bs_test_put(st, "/f", 5000, 1);
    uint8_t acl[64];
    size_t alen = make_acl(acl);
    assert_bs_ok(bs_setxattr(st, "/f", "system.posix_acl_access", acl, alen));
    assert_bs_ok(bs_reflink(st, "/f", "/g"));
    uint8_t got[64];
    size_t glen = 0;
    assert_bs_ok(bs_getxattr(st, "/g", "system.posix_acl_access", got, sizeof(got), &glen));
    assert_int_equal(glen, alen);
    assert_memory_equal(got, acl, alen);
    bs_close(st);
  }
}

static void real_fault_mid_clone_leaves_nothing(void **state) {
  (void)state;
  static const struct {
    const char *point;
    int nth, err, want;
  } faults[] = {
    {"bs/real/ficlone", 1, ENOSPC, BS_ENO_SPACE},   {"bs/real/ficlone", 1, EIO, BS_EIO},
    {"bs/real/setxattr", 2, ENOSPC, BS_ENO_SPACE},  {"bs/real/getxattr", 2, EIO, BS_EIO},
    {"bs/real/chown", 1, EPERM, BS_EPERMISSION},     {"bs/real/chmod", 1, EIO, BS_EIO},
    {"bs/real/utimens", 1, EROFS, BS_EPERMISSION},   {"bs/real/open", 2, EMFILE, BS_EIO},
  };
  char dir[4096];
  bs_store *st = open_on("btrfs", dir);
  bs_test_put(st, "/src", 20000, 4);
  assert_bs_ok(bs_setxattr(st, "/src", "user.a", "1", 1));
  assert_bs_ok(bs_setxattr(st, "/src", "user.b", "22", 2));
  bs_stat_info s0;
  assert_bs_ok(bs_stat(st, "/src", &s0));
  for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
    bs_test_fail_nth(faults[i].point, faults[i].nth, faults[i].err);
    int rc = bs_reflink(st, "/src", "/dst");
    fiu_disable(faults[i].point);
    if (rc != faults[i].want)
      fail_msg("%s (call %d) -> %s, expected %s", faults[i].point, faults[i].nth, bs_err_name(rc),
               bs_err_name(faults[i].want));
    assert_int_equal(bs_last_os_errno(st), faults[i].err);
    char names[BS_TEST_LISTING_MAX];
    bs_test_listing(st, "/", names);
    if (strcmp(names, "src;") != 0)
      fail_msg("after %s: the store holds %s", faults[i].point, names);
    bs_test_assert_put(st, "/src", 20000, 4);
    bs_stat_info s1;
    assert_bs_ok(bs_stat(st, "/src", &s1));
    assert_true(s1.mtime_ns == s0.mtime_ns && s1.ctime_ns == s0.ctime_ns && s1.mode == s0.mode);
  }
  assert_bs_ok(bs_reflink(st, "/src", "/dst"));
  bs_close(st);
}

static void real_cross_device_is_CROSS_DEVICE(void **state) {
  (void)state;
  const bs_vol *a = bs_test_volume("btrfs"), *b = bs_test_volume("xfs");
  char src[4200], dst[4200];
  snprintf(src, sizeof(src), "%s/xdev-%d", a->mnt, (int)getpid());
  snprintf(dst, sizeof(dst), "%s/xdev-%d", b->mnt, (int)getpid());
  bs_open_opts o = {.root = "/"};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  bs_test_put(st, src, 8192, 1);
  assert_bs_err(bs_reflink(st, src, dst), BS_ECROSS_DEVICE);
  assert_int_equal(bs_err_wire(BS_ECROSS_DEVICE), 9);
  bs_stat_info si;
  assert_bs_err(bs_stat(st, dst, &si), BS_ENOT_FOUND);
  bs_test_assert_put(st, src, 8192, 1);
  assert_bs_ok(bs_unlink(st, src));
  bs_close(st);
}

/* ---- the recursive tree clone (snapshot fallback) ------------------------------ */

static void real_clone_tree_keeps_everything(void **state) {
  (void)state;
  const char *fs[] = {"btrfs", "xfs"};
  for (int i = 0; i < 2; i++) {
    const bs_vol *v = bs_test_volume(fs[i]);
    char src[4200], dst[4200], p[4300];
    snprintf(src, sizeof(src), "%s/tree-%d", v->mnt, (int)getpid());
    snprintf(dst, sizeof(dst), "%s/tree-%d.clone", v->mnt, (int)getpid());
    bs_test_make_tree(src);
    assert_int_equal(bs__linux_clone_tree(src, dst, 0), 0);
    for (size_t k = 0; k < BS_TEST_TREE_ENTRIES; k++)
      bs_test_same_entry(src, dst, bs_test_tree_entries[k]);
    snprintf(p, sizeof(p), "%s/link", dst);
    char target[64] = "";
    assert_true(readlink(p, target, sizeof(target) - 1) > 0);
    assert_string_equal(target, "a/deep/file");
    snprintf(p, sizeof(p), "%s/a/deep/file", dst);
    char tag[4] = "";
    assert_int_equal(getxattr(p, "user.tag", tag, sizeof(tag)), 1);
    /* Exists already: EEXIST, and the existing tree is left alone. */
    assert_int_equal(bs__linux_clone_tree(src, dst, 0), -EEXIST);
    bs_test_same_entry(src, dst, "top");
    /* A failure on the third file clone removes the whole partial tree. */
    snprintf(p, sizeof(p), "%s.2", dst);
    bs_test_fail_nth("bs/real/ficlone", 2, ENOSPC);
    int rc = bs__linux_clone_tree(src, p, 0);
    fiu_disable("bs/real/ficlone");
    assert_int_equal(rc, -ENOSPC);
    struct stat sb;
    assert_int_equal(lstat(p, &sb), -1);
    assert_int_equal(errno, ENOENT);
    bs_test_same_entry(src, dst, "a/deep/file"); /* the source is intact */
  }
  /* Without reflink: EOPNOTSUPP, and nothing is left. */
  const bs_vol *e = bs_test_volume("ext4");
  char src[4200], dst[4200];
  snprintf(src, sizeof(src), "%s/tree-%d", e->mnt, (int)getpid());
  snprintf(dst, sizeof(dst), "%s/tree-%d.clone", e->mnt, (int)getpid());
  bs_test_make_tree(src);
  assert_int_equal(bs__linux_clone_tree(src, dst, 0), -EOPNOTSUPP);
  struct stat sb;
  assert_int_equal(lstat(dst, &sb), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(real_caps_match_golden_on_every_volume),
    cmocka_unit_test(real_probe_and_open_errors),
    cmocka_unit_test(real_clone_keeps_posix_acls),
    cmocka_unit_test(real_fault_mid_clone_leaves_nothing),
    cmocka_unit_test(real_cross_device_is_CROSS_DEVICE),
    cmocka_unit_test(real_clone_tree_keeps_everything),
  };
  return cmocka_run_group_tests_name("real", tests, NULL, NULL);
}
