/* real/darwin.c on Linux: the macOS backend's logic through its seam, with a
 * fake macOS backed by the sim's apfs and hfs profiles
 * (tests/support/darwin_fake.c).  The same checks run against real APFS and
 * HFS+ volumes in the macOS CI job (.github/workflows/macos.yml). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"
#include "backstore/wire.h"
#include "real/darwin.h"
#include "real/host.h"
#include "tests/support/bs_test.h"
#include "tests/support/darwin_fake.h"

#define BLK BS_SIM_BLOCK_SIZE

static const char *const profiles[] = {"apfs", "hfs"};
#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

static bs_store *open_fake(const char *profile) {
  bs_store *st = NULL;
  int rc = bs_darwin_fake_open(&st, profile, bs_test_seed());
  if (rc != 0)
    fail_msg("bs_darwin_fake_open(%s) returned %s", profile, bs_err_name(rc));
  assert_string_equal(st->ops->name, "darwin-fake");
  return st;
}

/* The darwin host table of @st, to call a platform operation directly. */
static const bs_host_os *os_of(bs_store *st) { return ((bs__host_store *)st)->os; }

static bool exists(bs_store *st, const char *path) {
  bs_stat_info si;
  int rc = bs_stat(st, path, &si);
  if (rc != 0 && rc != BS_ENOT_FOUND)
    fail_msg("stat %s returned %s", path, bs_err_name(rc));
  return rc == 0;
}

/* ---- capabilities and probe ---------------------------------------------- */

static void darwin_caps_match_golden(void **state) {
  (void)state;
  for (size_t i = 0; i < NPROFILES; i++) {
    bs_store *st = open_fake(profiles[i]);
    bs_caps c;
    assert_bs_ok(bs_get_caps(st, &c));
    uint8_t got[BS_CAPS_SSZ_MAX], want[BS_CAPS_SSZ_MAX + 1];
    size_t n = 0;
    assert_bs_ok(bs_caps_encode(got, sizeof(got), &n, &c));
    char name[64];
    snprintf(name, sizeof(name), "caps-%s.ssz", profiles[i]);
    size_t wn = bs_test_golden_load(name, want, sizeof(want));
    if (n != wn || memcmp(got, want, n) != 0)
      fail_msg("%s: caps encode to %zu bytes that differ from %s (%zu bytes): %s rl=%d snap=%d",
               profiles[i], n, name, wn, c.fs_type_name, c.native_reflink, c.native_snapshots);
    bs_close(st);
  }
}

static void darwin_probe_gives_the_volume_type(void **state) {
  (void)state;
  const bs_fs_type want[NPROFILES] = {BS_FS_APFS, BS_FS_HFS};
  for (size_t i = 0; i < NPROFILES; i++) {
    bs_store *st = open_fake(profiles[i]);
    bs_test_put(st, "/f", 10, 1);
    bs_fs_type t = BS_FS_OTHER;
    assert_bs_ok(bs_probe_fs_type(st, "/", &t));
    assert_int_equal(t, want[i]);
    t = BS_FS_OTHER;
    assert_bs_ok(bs_probe_fs_type(st, "/f", &t));
    assert_int_equal(t, want[i]);
    assert_bs_err(bs_probe_fs_type(st, "/missing", &t), BS_ENOT_FOUND); /* statfs: ENOENT */
    bs_close(st);
  }
}

/* A capability counts only where its `valid` bit says the filesystem knows it. */
static void darwin_caps_follow_valid_bits(void **state) {
  (void)state;
  const int F = BS_VOL_CAPABILITIES_FORMAT, I = BS_VOL_CAPABILITIES_INTERFACES;
  bs_store *st = open_fake("apfs");
  bs_caps c;
  /* APFS says clone, snapshot and xattrs (valid and set): all cleared from valid. */
  bs_darwin_fake_tweak t = {0};
  t.clear_valid[I] = BS_VOL_CAP_INT_CLONE | BS_VOL_CAP_INT_SNAPSHOT | BS_VOL_CAP_INT_EXTENDED_ATTR;
  bs_darwin_fake_tweak_seam(st, &t);
  assert_bs_ok(bs_get_caps(st, &c));
  assert_int_equal(c.fs_type, BS_FS_APFS);
  assert_false(c.native_reflink);
  assert_false(c.native_snapshots);
  assert_false(c.xattrs);
  /* Each bit on its own. */
  const uint32_t bits[3] = {BS_VOL_CAP_INT_CLONE, BS_VOL_CAP_INT_SNAPSHOT, BS_VOL_CAP_INT_EXTENDED_ATTR};
  for (int b = 0; b < 3; b++) {
    memset(&t, 0, sizeof(t));
    t.clear_valid[I] = bits[b];
    bs_darwin_fake_tweak_seam(st, &t);
    assert_bs_ok(bs_get_caps(st, &c));
    assert_true(c.native_reflink == (b != 0));
    assert_true(c.native_snapshots == (b != 1));
    assert_true(c.xattrs == (b != 2));
  }
  /* A case-sensitive APFS volume says so; with the valid bit clear it does not count. */
  memset(&t, 0, sizeof(t));
  t.set_caps[F] = BS_VOL_CAP_FMT_CASE_SENSITIVE;
  bs_darwin_fake_tweak_seam(st, &t);
  assert_bs_ok(bs_get_caps(st, &c));
  assert_true(c.case_sensitive);
  t.clear_valid[F] = BS_VOL_CAP_FMT_CASE_SENSITIVE;
  bs_darwin_fake_tweak_seam(st, &t);
  assert_bs_ok(bs_get_caps(st, &c));
  assert_false(c.case_sensitive);
  bs_close(st);

  /* HFS+ has no valid bit for clones or snapshots: a set capability bit alone is not enough. */
  st = open_fake("hfs");
  memset(&t, 0, sizeof(t));
  t.set_caps[I] = BS_VOL_CAP_INT_CLONE | BS_VOL_CAP_INT_SNAPSHOT;
  bs_darwin_fake_tweak_seam(st, &t);
  assert_bs_ok(bs_get_caps(st, &c));
  assert_false(c.native_reflink);
  assert_false(c.native_snapshots);
  assert_true(c.xattrs);
  bs_close(st);
}

static void darwin_caps_of_other_volumes(void **state) {
  (void)state;
  bs_store *st = open_fake("hfs");
  bs_caps c;
  bs_fs_type t = BS_FS_HFS;
  /* A type outside the table keeps its own name; pathconf gives the name limit. */
  bs_darwin_fake_tweak tw = {.fstypename = "msdos", .name_max = 1024};
  bs_darwin_fake_tweak_seam(st, &tw);
  assert_bs_ok(bs_get_caps(st, &c));
  assert_int_equal(c.fs_type, BS_FS_OTHER);
  assert_string_equal(c.fs_type_name, "msdos");
  assert_int_equal(c.max_name_len, 1024);
  assert_true(c.xattrs); /* what getattrlist said */
  assert_bs_ok(bs_probe_fs_type(st, "/", &t));
  assert_int_equal(t, BS_FS_OTHER);
  uint8_t buf[BS_CAPS_SSZ_MAX];
  size_t n = 0;
  assert_bs_ok(bs_caps_encode(buf, sizeof(buf), &n, &c)); /* still a valid CapabilityResponse */
  /* A name that cannot go on the wire is "other"; a limit past uint16 is clamped. */
  tw = (bs_darwin_fake_tweak){.fstypename = "bad\tname", .name_max = 100000};
  bs_darwin_fake_tweak_seam(st, &tw);
  assert_bs_ok(bs_get_caps(st, &c));
  assert_string_equal(c.fs_type_name, "other");
  assert_int_equal(c.max_name_len, 65535);
  /* A table type by its macOS name. */
  tw = (bs_darwin_fake_tweak){.fstypename = "apfs"};
  bs_darwin_fake_tweak_seam(st, &tw);
  assert_bs_ok(bs_get_caps(st, &c));
  assert_int_equal(c.fs_type, BS_FS_APFS);
  assert_string_equal(c.fs_type_name, "apfs");
  bs_close(st);

  assert_int_equal(bs__darwin_type_from_name("apfs"), BS_FS_APFS);
  assert_int_equal(bs__darwin_type_from_name("hfs"), BS_FS_HFS);
  assert_int_equal(bs__darwin_type_from_name("btrfs"), BS_FS_BTRFS);
  assert_int_equal(bs__darwin_type_from_name("exfat"), BS_FS_OTHER);
  assert_int_equal(bs__darwin_type_from_name(""), BS_FS_OTHER);
  assert_int_equal(bs__darwin_type_from_name(NULL), BS_FS_OTHER);
  /* pathconf's "no limit" is reported as the usual 255. */
  bs_darwin_volcaps vc = {.name_max = 0};
  bs__darwin_caps_from(&c, "apfs", &vc);
  assert_int_equal(c.max_name_len, 255);
  assert_false(c.native_reflink || c.native_snapshots || c.xattrs || c.case_sensitive);
}

/* ---- reflink ----------------------------------------------------------------- */

static void darwin_reflink_shares_blocks_on_apfs(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs");
  const size_t len = 5 * BLK + 100;
  uint8_t *want = bs_test_pattern(len, 3);
  bs_test_put(st, "/src", len, 3);
  bs_usage u0 = bs_test_usage(st);
  assert_bs_ok(bs_reflink(st, "/src", "/dst"));
  assert_int_equal(bs_darwin_fake_last_clone_flags(st), BS_CLONE_NOFOLLOW);
  bs_usage u1 = bs_test_usage(st);
  assert_int_equal(u1.used_bytes, u0.used_bytes); /* a clone allocates nothing */
  assert_int_equal(u1.shared_bytes, u0.shared_bytes + 6 * BLK);
  bs_test_assert_content(st, "/dst", want, len);
  /* Independent after a write to either. */
  uint8_t blk[BLK];
  memset(blk, 0xee, sizeof(blk));
  assert_bs_ok(bs_write(st, "/dst", 2 * BLK, blk, sizeof(blk)));
  bs_test_assert_content(st, "/src", want, len);
  memcpy(want + 2 * BLK, blk, BLK);
  bs_test_assert_content(st, "/dst", want, len);
  assert_bs_ok(bs_truncate(st, "/src", 7));
  bs_test_assert_content(st, "/dst", want, len);
  assert_bs_ok(bs_check(st));
  free(want);
  bs_close(st);
}

static int collect_names(void *ctx, const char *name) {
  char *acc = ctx;
  strcat(acc, name);
  strcat(acc, ";");
  return 0;
}

static void darwin_reflink_keeps_metadata(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs");
  bs_store *sim = bs_darwin_fake_sim(st);
  assert_non_null(sim);
  bs_test_put(st, "/f", BLK + 1, 9);
  assert_bs_ok(bs_chmod(st, "/f", 04751));
  assert_bs_ok(bs_chown(st, "/f", 1000, 2000)); /* the fake's caller is root: the owner is kept */
  assert_bs_ok(bs_setxattr(st, "/f", "com.apple.quarantine", "q", 1));
  assert_bs_ok(bs_setxattr(st, "/f", "user.big", NULL, 0));
  const int64_t at = 1600000000123456789LL, mt = 1650000000987654321LL;
  assert_bs_ok(bs_utimens(st, "/f", at, mt));
  bs_stat_info s0, s1;
  assert_bs_ok(bs_stat(st, "/f", &s0));
  int64_t before, after, sim_now;
  assert_bs_ok(bs_clock_ns(st, &before)); /* the fake store's clock is the sim's */
  assert_bs_ok(bs_clock_ns(sim, &sim_now));
  assert_true(before == sim_now);
  assert_bs_ok(bs_reflink(st, "/f", "/g"));
  assert_bs_ok(bs_clock_ns(st, &after));
  assert_bs_ok(bs_stat(st, "/g", &s1));
  assert_int_not_equal(s1.ino, s0.ino);
  assert_int_equal(s1.kind, BS_KIND_FILE);
  assert_int_equal(s1.mode, 04751);
  assert_int_equal(s1.uid, 1000);
  assert_int_equal(s1.gid, 2000);
  assert_int_equal(s1.size, s0.size);
  assert_true(s1.atime_ns == at && s1.mtime_ns == mt);
  assert_true(s1.ctime_ns >= before && s1.ctime_ns < after);
  assert_true(s1.btime_ns == s0.btime_ns); /* clonefile keeps the birth time on APFS */
  assert_true(s0.btime_ns != 0);
  char a[128] = "", b[128] = "";
  assert_bs_ok(bs_listxattr(st, "/f", collect_names, a));
  assert_bs_ok(bs_listxattr(st, "/g", collect_names, b));
  assert_string_equal(a, "com.apple.quarantine;user.big;");
  assert_string_equal(b, a);
  /* The seam's getxattr contract: size only with no buffer, ERANGE (INVALID)
   * for a buffer too small, NOT_FOUND for a missing attribute. */
  assert_bs_ok(bs_setxattr(st, "/g", "user.five", "12345", 5));
  char small[2];
  size_t n = 0;
  assert_bs_ok(bs_getxattr(st, "/g", "user.five", NULL, 0, &n));
  assert_int_equal(n, 5);
  assert_bs_err(bs_getxattr(st, "/g", "user.five", small, sizeof(small), &n), BS_EINVALID);
  assert_int_equal(bs_last_os_errno(st), ERANGE);
  assert_bs_err(bs_getxattr(st, "/g", "nope", small, sizeof(small), &n), BS_ENOT_FOUND);
  n = 0;
  assert_bs_err(bs_getxattr(st, "/f", "user.five", NULL, 0, &n), BS_ENOT_FOUND); /* /g's own */
  bs_close(st);
}

static void darwin_reflink_hfs_is_unsupported(void **state) {
  (void)state;
  bs_store *st = open_fake("hfs");
  bs_test_put(st, "/a.txt", 3 * BLK, 1);
  bs_usage u0 = bs_test_usage(st);
  int rc = bs_reflink(st, "/a.txt", "/b.txt");
  assert_bs_err(rc, BS_EUNSUPPORTED);
  assert_int_equal(bs_err_wire(rc), 1);
  assert_int_equal(bs_darwin_fake_last_clone_flags(st), BS_CLONE_NOFOLLOW); /* clonefile said no */
  if (!strstr(bs_last_message(st), "hfs"))
    fail_msg("message does not name the filesystem: %s", bs_last_message(st));
  assert_false(exists(st, "/b.txt"));
  bs_usage u1 = bs_test_usage(st);
  assert_memory_equal(&u0, &u1, sizeof(u0));
  bs_test_assert_put(st, "/a.txt", 3 * BLK, 1);
  assert_bs_ok(bs_check(st));
  bs_close(st);
}

/* The platform clone keeps bs_reflink's contract by itself, whoever calls it. */
static void darwin_clone_checks_before_clonefile(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs");
  const bs_host_os *os = os_of(st);
  bs_test_put(st, "/a", BLK, 1);
  bs_test_put(st, "/b", 10, 2);
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_int_equal(os->clone(os->ctx, BS__HOST_PATH("/a"), BS__HOST_PATH("/b")), -EEXIST);
  assert_int_equal(os->clone(os->ctx, BS__HOST_PATH("/d"), BS__HOST_PATH("/x")), -EINVAL);
  assert_int_equal(os->clone(os->ctx, BS__HOST_PATH("/missing"), BS__HOST_PATH("/x")), -ENOENT);
  assert_int_equal(bs_darwin_fake_last_clone_flags(st), UINT32_MAX); /* never called */
  bs_test_assert_put(st, "/b", 10, 2);
  assert_false(exists(st, "/x"));
  /* A destination someone else creates just before clonefile runs is theirs: kept. */
  bs_darwin_fake_fail_next_clone(st, EEXIST);
  assert_int_equal(os->clone(os->ctx, BS__HOST_PATH("/a"), BS__HOST_PATH("/race")), -EEXIST);
  assert_true(exists(st, "/race"));
  assert_bs_err(bs_reflink(st, "/a", "/race"), BS_EEXISTS);
  assert_true(exists(st, "/race"));
  bs_close(st);
}

static void darwin_reflink_enospc_leaves_nothing(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs");
  const size_t len = 4 * BLK + 5;
  bs_test_put(st, "/src", len, 5);
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u0 = bs_test_usage(st);
  bs_darwin_fake_fail_next_clone(st, ENOSPC); /* clonefile leaves a partial clone */
  int rc = bs_reflink(st, "/src", "/dst");
  assert_bs_err(rc, BS_ENO_SPACE);
  assert_int_equal(bs_last_os_errno(st), ENOSPC);
  assert_false(exists(st, "/dst"));
  bs_usage u1 = bs_test_usage(st);
  assert_int_equal(u1.used_bytes, u0.used_bytes); /* the partial clone's block is free again */
  assert_int_equal(u1.shared_bytes, u0.shared_bytes);
  bs_test_assert_put(st, "/src", len, 5);
  assert_bs_ok(bs_check(st));
  /* The next clone works. */
  assert_bs_ok(bs_reflink(st, "/src", "/dst"));
  bs_test_assert_put(st, "/dst", len, 5);
  bs_close(st);
}

static void darwin_reflink_exdev_is_CROSS_DEVICE(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs");
  bs_test_put(st, "/src", BLK, 5);
  bs_darwin_fake_fail_next_clone(st, EXDEV);
  int rc = bs_reflink(st, "/src", "/dst");
  assert_bs_err(rc, BS_ECROSS_DEVICE);
  assert_int_equal(bs_err_wire(rc), 9);
  assert_int_equal(bs_last_os_errno(st), EXDEV);
  assert_false(exists(st, "/dst"));
  bs_test_assert_put(st, "/src", BLK, 5);
  bs_close(st);
}

/* ---- the table ------------------------------------------------------------ */

static int no_stat(void *ctx, const bs__hpath *path, bs_stat_info *out) {
  (void)ctx;
  (void)path;
  (void)out;
  return -ENOSYS;
}

static int no_lock(void *ctx, const bs__hpath *path, int exclusive, int *handle) {
  (void)ctx;
  (void)path;
  (void)exclusive;
  (void)handle;
  return -ENOSYS;
}

static void darwin_make_os_checks_its_tables(void **state) {
  (void)state;
  bs_store *st = open_fake("hfs");
  const bs_host_os *good = os_of(st);
  const bs_darwin_sys *sys = bs__darwin_sys(good);
  assert_non_null(sys);
  const bs_host_os *os = (const bs_host_os *)1;
  assert_int_equal(bs__darwin_make_os(&os, NULL, good), BS_EINVALID);
  assert_null(os);
  assert_int_equal(bs__darwin_make_os(&os, sys, NULL), BS_EINVALID);
  bs_darwin_sys partial = *sys;
  partial.clonefile = NULL;
  assert_int_equal(bs__darwin_make_os(&os, &partial, good), BS_EINVALID);
  /* The snapshot members come all together or not at all. */
  partial = *sys;
  partial.run_tool = NULL;
  assert_int_equal(bs__darwin_make_os(&os, &partial, good), BS_EINVALID);
  bs_host_os unlockable = *good;
  unlockable.unlock = NULL;
  unlockable.lock = no_lock;
  assert_int_equal(bs__darwin_make_os(&os, sys, &unlockable), BS_EINVALID);
  bs_host_os files = {.stat = no_stat}; /* most file operations missing */
  assert_int_equal(bs__darwin_make_os(&os, sys, &files), BS_EINVALID);
  assert_int_equal(bs__darwin_make_os(NULL, sys, good), BS_EINVALID);
  /* A table that is not darwin's has no darwin seam. */
  assert_null(bs__darwin_sys(&files));
  assert_null(bs__darwin_sys(NULL));
  /* A working table whose release leaves the files' context alone. */
  bs_host_os borrowed = *good;
  borrowed.release = NULL;
  assert_bs_ok(bs__darwin_make_os(&os, sys, &borrowed));
  assert_string_equal(os->name, "darwin-fake");
  bs_fs_type t = BS_FS_OTHER;
  assert_int_equal(os->fs_type(os->ctx, "/", &t), 0);
  assert_int_equal(t, BS_FS_HFS);
  assert_non_null(os->snap_create);
  assert_string_equal(os->last_detail(os->ctx), "");
  os->release(os->ctx);
  /* Without the snapshot members: branches and copies still, native snapshots not. */
  bs_darwin_sys bare = {.ctx = sys->ctx, .statfs_typename = sys->statfs_typename,
                        .volume_caps = sys->volume_caps, .clonefile = sys->clonefile};
  assert_bs_ok(bs__darwin_make_os(&os, &bare, &borrowed));
  uint8_t uuid[16];
  assert_int_equal(os->snap_create(os->ctx, BS_TREE_NATIVE, BS__HOST_PATH("/"), BS__HOST_PATH("/.bs-t"), uuid), -EOPNOTSUPP);
  assert_non_null(strstr(os->last_detail(os->ctx), "no fs_snapshot calls"));
  bs__apfs_snap *list = NULL;
  size_t n = 0;
  char msg[128];
  assert_int_equal(bs__darwin_list_snapshots(os, "/", &list, &n, msg, sizeof(msg)), BS_EINVALID);
  os->release(os->ctx);
  bs_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(darwin_caps_match_golden),
    cmocka_unit_test(darwin_probe_gives_the_volume_type),
    cmocka_unit_test(darwin_caps_follow_valid_bits),
    cmocka_unit_test(darwin_caps_of_other_volumes),
    cmocka_unit_test(darwin_reflink_shares_blocks_on_apfs),
    cmocka_unit_test(darwin_reflink_keeps_metadata),
    cmocka_unit_test(darwin_reflink_hfs_is_unsupported),
    cmocka_unit_test(darwin_clone_checks_before_clonefile),
    cmocka_unit_test(darwin_reflink_enospc_leaves_nothing),
    cmocka_unit_test(darwin_reflink_exdev_is_CROSS_DEVICE),
    cmocka_unit_test(darwin_make_os_checks_its_tables),
  };
  return cmocka_run_group_tests_name("darwin", tests, NULL, NULL);
}
