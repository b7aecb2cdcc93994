/* reflink with clonefile(2) semantics, on every sim profile that has it (and
 * the error behaviour on those that do not). */
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"

#define BLK BS_SIM_BLOCK_SIZE

static void shares_blocks_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  const size_t len = 5 * BLK + 100; /* six blocks, the last partial */
  uint8_t *src = bs_test_pattern(len, 3);
  bs_test_put(st, "/src", len, 3);
  bs_usage u0 = bs_test_usage(st);
  assert_int_equal(u0.used_bytes, 6 * BLK);

  assert_bs_ok(bs_reflink(st, "/src", "/dst"));
  bs_usage u1 = bs_test_usage(st);
  assert_int_equal(u1.used_bytes, u0.used_bytes); /* a clone allocates nothing */
  assert_int_equal(u1.shared_bytes, u0.shared_bytes + 6 * BLK);
  assert_int_equal(u1.free_bytes, u0.free_bytes);
  bs_test_assert_content(st, "/dst", src, len);

  /* Overwrite one whole block of the clone: exactly one new block. */
  uint8_t blk[BLK];
  memset(blk, 0xee, sizeof(blk));
  assert_bs_ok(bs_write(st, "/dst", 2 * BLK, blk, sizeof(blk)));
  bs_usage u2 = bs_test_usage(st);
  assert_int_equal(u2.used_bytes, u1.used_bytes + BLK);
  bs_test_assert_content(st, "/src", src, len);
  memcpy(src + 2 * BLK, blk, BLK);
  bs_test_assert_content(st, "/dst", src, len);
  /* Once durable, the overwritten block is no longer shared. */
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u3 = bs_test_usage(st);
  assert_int_equal(u3.used_bytes, u2.used_bytes);
  assert_int_equal(u3.shared_bytes, 5 * BLK);
  assert_bs_ok(bs_check(st));
  free(src);
}

static void reflink_shares_blocks_until_write(void **state) {
  (void)state;
  bs_test_each_target(bs_want_reflink, shares_blocks_body, NULL, bs_test_seed());
}

struct xa {
  const char *name;
  size_t len;
};

static int collect_names(void *ctx, const char *name) {
  char *acc = ctx;
  strcat(acc, name);
  strcat(acc, ";");
  return 0;
}

static void xattrs_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  const struct xa xs[] = {{"user.empty", 0}, {"user.small", 5}, {"user.big", 65536}, {"trusted.z", 17}};
  bs_test_put(st, "/f", 3 * BLK, 1);
  for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
    uint8_t *v = bs_test_pattern(xs[i].len, (uint8_t)i);
    assert_bs_ok(bs_setxattr(st, "/f", xs[i].name, v, xs[i].len));
    free(v);
  }
  bs_usage u0 = bs_test_usage(st);
  assert_bs_ok(bs_reflink(st, "/f", "/g"));
  assert_int_equal(bs_test_usage(st).used_bytes, u0.used_bytes); /* xattrs use no blocks */
  char a[256] = "", b[256] = "";
  assert_bs_ok(bs_listxattr(st, "/f", collect_names, a));
  assert_bs_ok(bs_listxattr(st, "/g", collect_names, b));
  assert_string_equal(a, "trusted.z;user.big;user.empty;user.small;");
  assert_string_equal(a, b);
  for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
    uint8_t *want = bs_test_pattern(xs[i].len, (uint8_t)i);
    uint8_t *got = malloc(65536);
    assert_non_null(got);
    size_t n = 0;
    assert_bs_ok(bs_getxattr(st, "/g", xs[i].name, got, 65536, &n));
    assert_int_equal(n, xs[i].len);
    if (n)
      assert_memory_equal(got, want, n);
    free(got);
    free(want);
  }
  /* Independent afterwards. */
  assert_bs_ok(bs_removexattr(st, "/g", "user.small"));
  size_t n = 0;
  assert_bs_ok(bs_getxattr(st, "/f", "user.small", NULL, 0, &n));
  assert_int_equal(n, 5);
}

static void reflink_preserves_xattrs(void **state) {
  (void)state;
  bs_test_each_target(bs_want_reflink, xattrs_body, NULL, bs_test_seed());
}

static void mode_times_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", BLK + 1, 9);
  assert_bs_ok(bs_chmod(st, "/f", 04751));
  assert_bs_ok(bs_chown(st, "/f", 1000, 2000)); /* the sim's caller is root: any owner */
  const int64_t at = 1600000000123456789LL, mt = 1650000000987654321LL;
  assert_bs_ok(bs_utimens(st, "/f", at, mt));
  bs_stat_info s0, s1;
  assert_bs_ok(bs_stat(st, "/f", &s0));
  int64_t before, after;
  assert_bs_ok(bs_clock_ns(st, &before));
  assert_bs_ok(bs_reflink(st, "/f", "/g"));
  assert_bs_ok(bs_clock_ns(st, &after));
  assert_bs_ok(bs_stat(st, "/g", &s1));
  assert_int_not_equal(s1.ino, s0.ino);
  assert_int_equal(s1.kind, BS_KIND_FILE);
  assert_int_equal(s1.mode, 04751);
  assert_int_equal(s0.uid, 1000);
  assert_int_equal(s0.gid, 2000);
  assert_int_equal(s1.uid, 1000); /* clonefile(2) by a privileged caller keeps the owner */
  assert_int_equal(s1.gid, 2000);
  assert_int_equal(s0.mode, 04751); /* chown as root leaves the set-user-ID bit (docs/sim.md) */
  assert_int_equal(s1.nlink, 1);
  assert_int_equal(s1.size, s0.size);
  assert_int_equal(s1.blocks, s0.blocks);
  assert_true(s1.atime_ns == at);
  assert_true(s1.mtime_ns == mt);
  assert_true(s1.ctime_ns >= before && s1.ctime_ns < after); /* ctime is the clone's */
  if (strcmp(t->profile, "apfs") == 0)
    assert_true(s1.btime_ns == s0.btime_ns); /* clonefile keeps the birth time */
  else
    assert_true(s1.btime_ns == s1.ctime_ns && s1.btime_ns != s0.btime_ns);
  /* The source is not touched by being cloned. */
  bs_stat_info s2;
  assert_bs_ok(bs_stat(st, "/f", &s2));
  assert_true(s2.ctime_ns == s0.ctime_ns && s2.mtime_ns == s0.mtime_ns && s2.mode == s0.mode);
  assert_true(s2.uid == s0.uid && s2.gid == s0.gid);
}

static void reflink_preserves_mode_and_times(void **state) {
  (void)state;
  bs_test_each_target(bs_want_reflink, mode_times_body, NULL, bs_test_seed());
}

static void dst_exists_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  bs_test_put(st, "/a", 2 * BLK, 1);
  bs_test_put(st, "/b", BLK + 7, 2);
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  bs_stat_info sb0, sb1;
  assert_bs_ok(bs_stat(st, "/b", &sb0));
  bs_usage u0 = bs_test_usage(st);
  assert_bs_err(bs_reflink(st, "/a", "/b"), BS_EEXISTS);
  assert_bs_err(bs_reflink(st, "/a", "/d"), BS_EEXISTS);
  assert_bs_err(bs_reflink(st, "/a", "/a"), BS_EEXISTS);
  bs_test_assert_put(st, "/b", BLK + 7, 2);
  assert_bs_ok(bs_stat(st, "/b", &sb1));
  assert_true(sb1.ino == sb0.ino && sb1.mtime_ns == sb0.mtime_ns && sb1.ctime_ns == sb0.ctime_ns);
  bs_usage u1 = bs_test_usage(st);
  assert_int_equal(u1.used_bytes, u0.used_bytes);
  assert_int_equal(u1.shared_bytes, u0.shared_bytes);
  /* The other checks that come before the capability. */
  assert_bs_err(bs_reflink(st, "/missing", "/x"), BS_ENOT_FOUND);
  assert_bs_err(bs_reflink(st, "/d", "/x"), BS_EINVALID);
  assert_bs_err(bs_reflink(st, "/a", "/nodir/x"), BS_ENOT_FOUND);
  char longname[300];
  memset(longname, 'n', sizeof(longname));
  longname[0] = '/';
  longname[257] = '\0';
  assert_bs_err(bs_reflink(st, "/a", longname), BS_ENAME_TOO_LONG);
  memcpy(longname, "/nodir/", 7); /* a missing parent is found first */
  assert_bs_err(bs_reflink(st, "/a", longname), BS_ENOT_FOUND);
  assert_bs_ok(bs_check(st));
}

static void reflink_dst_exists_is_EXISTS(void **state) {
  (void)state;
  bs_test_each_target(NULL, dst_exists_body, NULL, bs_test_seed());
}

static int count_entries(void *ctx, const char *name, bs_file_kind kind) {
  (void)name;
  (void)kind;
  (*(int *)ctx)++;
  return 0;
}

static void unsupported_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/a.txt", 3 * BLK, 1);
  bs_usage u0 = bs_test_usage(st);
  int rc = bs_reflink(st, "/a.txt", "/b.txt");
  assert_bs_err(rc, BS_EUNSUPPORTED);
  assert_int_equal(bs_err_wire(rc), 1);
  assert_non_null(strstr(bs_last_message(st), t->profile));
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/b.txt", &si), BS_ENOT_FOUND);
  int n = 0;
  assert_bs_ok(bs_readdir(st, "/", count_entries, &n));
  assert_int_equal(n, 1);
  bs_usage u1 = bs_test_usage(st);
  assert_int_equal(u1.used_bytes, u0.used_bytes);
  assert_int_equal(u1.shared_bytes, 0);
  assert_bs_ok(bs_check(st));
}

static void reflink_unsupported_profiles(void **state) {
  (void)state;
  bs_test_each_target(bs_want_no_reflink, unsupported_body, NULL, bs_test_seed());
}

static void enospc_body(bs_store *big, const bs_target *t, void *ctx) {
  (void)big;
  (void)ctx;
  /* A 64-block volume of the same profile. */
  bs_store *st = bs_test_open_sim_sized(t->profile, bs_test_seed(), 64 * BLK);
  const size_t len = 8 * BLK;
  bs_test_put(st, "/src", len, 5);
  assert_bs_ok(bs_reflink(st, "/src", "/clone"));
  /* Fill the rest of the volume. */
  uint8_t blk[BLK];
  memset(blk, 0x5a, sizeof(blk));
  assert_bs_ok(bs_create(st, "/fill", 0644));
  uint64_t off = 0;
  while (bs_test_usage(st).free_bytes >= 3 * BLK) {
    assert_bs_ok(bs_write(st, "/fill", off, blk, BLK));
    off += BLK;
  }
  assert_bs_ok(bs_sync(st, NULL));
  /* Two blocks free: a three-block write to the clone fails and changes nothing. */
  assert_int_equal(bs_test_usage(st).free_bytes, 2 * BLK);
  bs_usage u0 = bs_test_usage(st);
  bs_stat_info c0, c1;
  assert_bs_ok(bs_stat(st, "/clone", &c0));
  uint8_t three[3 * BLK];
  memset(three, 0x77, sizeof(three));
  assert_bs_err(bs_write(st, "/clone", BLK, three, sizeof(three)), BS_ENO_SPACE);
  bs_usage u1 = bs_test_usage(st);
  assert_memory_equal(&u0, &u1, sizeof(u0));
  assert_bs_ok(bs_stat(st, "/clone", &c1));
  assert_true(c1.size == c0.size && c1.mtime_ns == c0.mtime_ns && c1.blocks == c0.blocks);
  bs_test_assert_put(st, "/clone", len, 5);
  bs_test_assert_put(st, "/src", len, 5);
  assert_bs_ok(bs_check(st));
  /* Fill the last blocks: a one-block write to the clone is NO_SPACE too. */
  assert_bs_ok(bs_write(st, "/fill", off, three, 2 * BLK));
  assert_int_equal(bs_test_usage(st).free_bytes, 0);
  u0 = bs_test_usage(st);
  assert_bs_err(bs_write(st, "/clone", 0, "x", 1), BS_ENO_SPACE);
  assert_bs_err(bs_truncate(st, "/clone", BLK / 2), BS_ENO_SPACE); /* zeroing the tail needs a copy */
  u1 = bs_test_usage(st);
  assert_memory_equal(&u0, &u1, sizeof(u0));
  bs_test_assert_put(st, "/clone", len, 5);
  bs_test_assert_put(st, "/src", len, 5);
  /* A clone needs no space at all, even on a full volume. */
  assert_bs_ok(bs_reflink(st, "/clone", "/clone2"));
  bs_test_assert_put(st, "/clone2", len, 5);
  assert_bs_ok(bs_check(st));
  bs_close(st);
}

static void reflink_enospc_leaves_nothing(void **state) {
  (void)state;
  bs_test_each_target(bs_want_reflink, enospc_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(reflink_shares_blocks_until_write),
    cmocka_unit_test(reflink_preserves_xattrs),
    cmocka_unit_test(reflink_preserves_mode_and_times),
    cmocka_unit_test(reflink_dst_exists_is_EXISTS),
    cmocka_unit_test(reflink_unsupported_profiles),
    cmocka_unit_test(reflink_enospc_leaves_nothing),
  };
  return cmocka_run_group_tests_name("reflink", tests, NULL, NULL);
}
