/* The rules of files and directories every backend keeps (docs/sim.md, the
 * namespace and data sections; the sim imitates them per profile): names
 * and paths too long, case folding, rename, rmdir and unlink, metadata and
 * times, xattrs, sparse files, truncate.  Each body runs on every backend:
 * the sim profiles, real btrfs, xfs, ext4 and tmpfs volumes, and darwin.c
 * through its fake.  What a real volume cannot show exactly (block
 * accounting, the virtual clock) is guarded by bs_test_exact_space. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"

#define BLK BS_SIM_BLOCK_SIZE

/* Fail unless @st uses @bytes, where space is exact (the sim); a real
 * volume's statvfs also counts its metadata. */
static void used_is(bs_store *st, const bs_target *t, uint64_t bytes) {
  if (bs_test_exact_space(t))
    assert_int_equal(bs_test_usage(st).used_bytes, bytes);
}

/* ---- names ------------------------------------------------------------------ */

static void names_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  char p[5000];
  p[0] = '/';
  memset(p + 1, 'a', 255);
  p[256] = '\0';
  assert_bs_ok(bs_create(st, p, 0644)); /* 255 bytes: fits */
  p[256] = 'a';
  p[257] = '\0';
  assert_bs_err(bs_create(st, p, 0644), BS_ENAME_TOO_LONG);
  assert_bs_err(bs_mkdir(st, p, 0755), BS_ENAME_TOO_LONG);
  bs_stat_info s;
  assert_bs_err(bs_stat(st, p, &s), BS_ENAME_TOO_LONG);
  assert_bs_ok(bs_create(st, "/x", 0644));
  assert_bs_err(bs_rename(st, "/x", p), BS_ENAME_TOO_LONG);
  /* Whole paths: 4095 bytes resolve, 4096 are too long. */
  size_t n = 0;
  p[n++] = '/';
  for (; n < 4095; n++)
    p[n] = n % 2 ? 'd' : '/';
  p[n] = '\0';
  assert_int_equal(strlen(p), 4095);
  /* darwin.c puts the host mount point in front of a store path (over the
   * fake, the sim's own limit counts that too), so its longest paths are
   * shorter. */
  assert_bs_err(bs_stat(st, p, &s), t->kind == BS_TARGET_DARWIN ? BS_ENAME_TOO_LONG : BS_ENOT_FOUND);
  p[n++] = 'e';
  p[n] = '\0';
  /* KNOWN DIVERGENCE of the real backend: it has no limit of its own on a
   * store path.  The kernel's (openat2, given the path without its leading
   * '/') starts at 4098 bytes, and the walk without openat2 (older kernels,
   * valgrind) has none.  Until one layer owns the rule (issue 13), real is
   * not held to it. */
  if (t->kind != BS_TARGET_REAL) {
    assert_bs_err(bs_stat(st, p, &s), BS_ENAME_TOO_LONG);
    assert_bs_err(bs_create(st, p, 0644), BS_ENAME_TOO_LONG);
  }
  /* Dot components are not store paths. */
  assert_bs_err(bs_stat(st, "/./x", &s), BS_EINVALID);
  assert_bs_err(bs_stat(st, "/.bs/snapshots/..", &s), BS_EINVALID);
  /* Extra slashes are harmless; a trailing one says "a directory" (ENOTDIR). */
  assert_bs_ok(bs_stat(st, "//x", &s));
  assert_bs_err(bs_stat(st, "//x/", &s), BS_EINVALID); /* /x is a file */
}

static void names_too_long(void **state) {
  (void)state;
  bs_test_each_backend(NULL, names_body, NULL, bs_test_seed());
}

static void case_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bool ci = !t->caps.case_sensitive;
  assert_int_equal(ci, strcmp(t->profile, "apfs") == 0 || strcmp(t->profile, "hfs") == 0);
  bs_test_put(st, "/Foo.txt", 10, 1);
  assert_bs_ok(bs_mkdir(st, "/Dir", 0755));
  bs_stat_info s;
  char l[BS_TEST_LISTING_MAX];
  if (ci) {
    assert_bs_ok(bs_stat(st, "/foo.TXT", &s));
    assert_int_equal(s.size, 10);
    assert_bs_err(bs_create(st, "/FOO.txt", 0644), BS_EEXISTS);
    assert_bs_ok(bs_create(st, "/dIR/inner", 0644));
    bs_test_listing(st, "/", l);
    assert_string_equal(l, "Dir/;Foo.txt;"); /* case preserved */
    /* A case-only rename keeps the file and changes its stored name. */
    assert_bs_ok(bs_rename(st, "/foo.txt", "/FOO.TXT"));
    bs_test_listing(st, "/", l);
    assert_string_equal(l, "Dir/;FOO.TXT;");
    assert_bs_ok(bs_stat(st, "/Foo.txt", &s));
    assert_int_equal(s.size, 10);
    /* The reserved root entry is matched case-insensitively too, on every
     * backend (src/ns.c): on a case-insensitive volume "/.BS" is
     * <root>/.bs, whose registry and trees a store path must not reach. */
    assert_bs_err(bs_mkdir(st, "/.BS", 0755), BS_EINVALID);
    assert_bs_err(bs_create(st, "/.Bs", 0644), BS_EINVALID);
    bs_stat_info v;
    assert_bs_ok(bs_stat(st, "/.bS", &v));
    assert_int_equal(v.mode, 0555); /* the virtual /.bs, not a directory of the volume */
  } else {
    assert_bs_err(bs_stat(st, "/foo.TXT", &s), BS_ENOT_FOUND);
    assert_bs_ok(bs_create(st, "/foo.txt", 0644));
    assert_bs_ok(bs_create(st, "/FOO.txt", 0644));
    assert_bs_err(bs_create(st, "/dIR/inner", 0644), BS_ENOT_FOUND);
    bs_test_listing(st, "/", l);
    assert_string_equal(l, "Dir/;FOO.txt;Foo.txt;foo.txt;"); /* byte order */
    assert_bs_ok(bs_mkdir(st, "/.BS", 0755));
  }
  bs_test_check(st, t);
}

static void case_folding_by_profile(void **state) {
  (void)state;
  bs_test_each_backend(NULL, case_body, NULL, bs_test_seed());
}

/* ---- namespace rules -------------------------------------------------------- */

static void rename_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/a", 3 * BLK, 1);
  bs_test_put(st, "/b", 2 * BLK, 2);
  assert_bs_ok(bs_sync(st, NULL));
  used_is(st, t, 5 * BLK);
  /* Replacing a file drops the old one and its blocks. */
  assert_bs_ok(bs_rename(st, "/a", "/b"));
  used_is(st, t, 3 * BLK);
  bs_test_assert_put(st, "/b", 3 * BLK, 1);
  bs_stat_info s;
  assert_bs_err(bs_stat(st, "/a", &s), BS_ENOT_FOUND);
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_mkdir(st, "/d/sub", 0755));
  assert_bs_ok(bs_mkdir(st, "/e", 0755));
  assert_bs_ok(bs_mkdir(st, "/full", 0755));
  assert_bs_ok(bs_create(st, "/full/x", 0644));
  assert_bs_err(bs_rename(st, "/d", "/full"), BS_EEXISTS);      /* onto a non-empty dir */
  assert_bs_err(bs_rename(st, "/d", "/d/sub/deeper"), BS_EINVALID); /* into itself */
  assert_bs_err(bs_rename(st, "/d", "/d/sub"), BS_EINVALID);
  assert_bs_err(bs_rename(st, "/b", "/e"), BS_EINVALID);        /* file onto dir */
  assert_bs_err(bs_rename(st, "/e", "/b"), BS_EINVALID);        /* dir onto file */
  assert_bs_err(bs_rename(st, "/nope", "/z"), BS_ENOT_FOUND);
  assert_bs_err(bs_rename(st, "/b", "/nodir/z"), BS_ENOT_FOUND);
  assert_bs_err(bs_rename(st, "/b", "/b/z"), BS_EINVALID);      /* parent is a file */
  assert_bs_err(bs_rename(st, "/", "/z"), BS_EBUSY);
  assert_bs_ok(bs_rename(st, "/d", "/e"));                      /* onto an empty dir */
  assert_bs_ok(bs_stat(st, "/e/sub", &s));
  assert_bs_ok(bs_stat(st, "/", &s));
  /* ".", "..", /e, /full; btrfs always says 1 for a directory. */
  assert_int_equal(s.nlink, strcmp(t->profile, "btrfs") == 0 ? 1 : 4);
  assert_bs_ok(bs_rename(st, "/e/sub", "/sub2"));
  assert_bs_ok(bs_rename(st, "/b", "/e/b"));
  assert_bs_ok(bs_rename(st, "/e/b", "/e/b")); /* same name: nothing happens */
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/", l);
  assert_string_equal(l, "e/;full/;sub2/;");
  bs_test_listing(st, "/e", l);
  assert_string_equal(l, "b;");
  bs_test_check(st, t);
}

static void rename_rules(void **state) {
  (void)state;
  bs_test_each_backend(NULL, rename_body, NULL, bs_test_seed());
}

static void rmdir_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_create(st, "/d/f", 0644));
  assert_bs_err(bs_rmdir(st, "/d"), BS_EEXISTS);
  assert_bs_err(bs_rmdir(st, "/d/f"), BS_EINVALID);
  assert_bs_err(bs_unlink(st, "/d"), BS_EINVALID);
  assert_bs_err(bs_rmdir(st, "/"), BS_EBUSY);
  assert_bs_err(bs_rmdir(st, "/nope"), BS_ENOT_FOUND);
  assert_bs_err(bs_mkdir(st, "/d", 0755), BS_EEXISTS);
  assert_bs_err(bs_create(st, "/d/f", 0644), BS_EEXISTS);
  assert_bs_err(bs_create(st, "/d/f/g", 0644), BS_EINVALID);
  assert_bs_err(bs_write(st, "/d", 0, "x", 1), BS_EINVALID);
  size_t n;
  char c;
  assert_bs_err(bs_read(st, "/d", 0, &c, 1, &n), BS_EINVALID);
  assert_bs_ok(bs_unlink(st, "/d/f"));
  assert_bs_err(bs_unlink(st, "/d/f"), BS_ENOT_FOUND);
  assert_bs_ok(bs_rmdir(st, "/d"));
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/", l);
  assert_string_equal(l, "");
}

static void rmdir_unlink_rules(void **state) {
  (void)state;
  bs_test_each_backend(NULL, rmdir_body, NULL, bs_test_seed());
}

/* Whether @t's clock is the sim's virtual one: it moves by a fixed step
 * per change, so times of two changes always differ and the create's times
 * are all one instant. */
static bool exact_clock(const bs_target *t) { return t->kind != BS_TARGET_REAL; }

/* On a real volume, wait out one tick of the kernel's coarse clock, so that
 * the next change gets a later timestamp than the last one (the sim's clock
 * moves by itself). */
static void next_tick(const bs_target *t) {
  struct timespec res = {0, 4000000};
  if (exact_clock(t))
    return;
  clock_getres(CLOCK_REALTIME_COARSE, &res);
  res.tv_nsec += 1000000;
  nanosleep(&res, NULL);
}

static void metadata_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  assert_bs_ok(bs_create(st, "/f", 01777 | 0170000));
  bs_stat_info s0, s1;
  assert_bs_ok(bs_stat(st, "/f", &s0));
  assert_int_equal(s0.mode, 01777);
  assert_int_equal(s0.nlink, 1);
  assert_int_equal(s0.uid, 0); /* the caller is root (the sim's always, the suites' on real volumes) */
  assert_int_equal(s0.gid, 0);
  /* tmpfs has a birth time too, since Linux 6.6; a real create may set the
   * mode after it (a later tick). */
  assert_true(exact_clock(t) ? s0.btime_ns == s0.ctime_ns : s0.btime_ns > 0 && s0.btime_ns <= s0.ctime_ns);
  /* Writes set mtime and ctime; relatime updates atime on the next read only. */
  next_tick(t);
  assert_bs_ok(bs_write(st, "/f", 0, "hello", 5));
  assert_bs_ok(bs_stat(st, "/f", &s1));
  assert_true(s1.mtime_ns > s0.mtime_ns && s1.ctime_ns == s1.mtime_ns && s1.atime_ns == s0.atime_ns);
  char buf[8];
  size_t n;
  next_tick(t);
  assert_bs_ok(bs_read(st, "/f", 0, buf, sizeof(buf), &n));
  assert_int_equal(n, 5);
  bs_stat_info s2, s3;
  assert_bs_ok(bs_stat(st, "/f", &s2));
  assert_true(s2.atime_ns > s1.mtime_ns);
  assert_bs_ok(bs_read(st, "/f", 0, buf, sizeof(buf), &n));
  assert_bs_ok(bs_stat(st, "/f", &s3));
  assert_true(s3.atime_ns == s2.atime_ns); /* atime is newer than mtime: left alone */
  next_tick(t);
  assert_bs_ok(bs_chmod(st, "/f", 0600));
  assert_bs_ok(bs_stat(st, "/f", &s3));
  assert_true(s3.mode == 0600 && s3.ctime_ns > s2.ctime_ns && s3.mtime_ns == s2.mtime_ns);
  /* chown sets ctime only; BS_ID_KEEP leaves one id as it is. */
  next_tick(t);
  assert_bs_ok(bs_chown(st, "/f", 1000, 2000));
  assert_bs_ok(bs_stat(st, "/f", &s2));
  assert_true(s2.uid == 1000 && s2.gid == 2000 && s2.mode == 0600);
  assert_true(s2.ctime_ns > s3.ctime_ns && s2.mtime_ns == s3.mtime_ns && s2.atime_ns == s3.atime_ns);
  next_tick(t);
  assert_bs_ok(bs_chown(st, "/f", BS_ID_KEEP, 0));
  assert_bs_ok(bs_stat(st, "/f", &s3));
  assert_true(s3.uid == 1000 && s3.gid == 0 && s3.ctime_ns > s2.ctime_ns);
  assert_bs_ok(bs_chown(st, "/", 5, BS_ID_KEEP)); /* a tree root can be chowned */
  assert_bs_ok(bs_stat(st, "/", &s2));
  assert_true(s2.uid == 5 && s2.gid == 0);
  assert_bs_err(bs_chown(st, "/nope", 1, 1), BS_ENOT_FOUND);
  assert_bs_err(bs_chown(st, "rel", 1, 1), BS_EINVALID);
  assert_bs_ok(bs_utimens(st, "/f", INT64_MIN, INT64_MAX)); /* any value is stored */
  assert_bs_ok(bs_read(st, "/f", 0, buf, sizeof(buf), &n));
  assert_bs_ok(bs_utimens(st, "/f", 42, 43));
  assert_bs_ok(bs_stat(st, "/f", &s3));
  assert_true(s3.atime_ns == 42 && s3.mtime_ns == 43);
  /* An atime a day old is refreshed even when newer than mtime. */
  int64_t c;
  assert_bs_ok(bs_clock_ns(st, &c));
  assert_bs_ok(bs_utimens(st, "/f", c - 86400LL * 1000000000LL, 0));
  assert_bs_ok(bs_stat(st, "/f", &s2));
  next_tick(t);
  assert_bs_ok(bs_read(st, "/f", 0, buf, sizeof(buf), &n));
  assert_bs_ok(bs_stat(st, "/f", &s3));
  assert_true(s3.atime_ns > s2.ctime_ns);
  const int64_t later = c + 1000000000000LL; /* newer than mtime and ctime, not a day old */
  assert_bs_ok(bs_utimens(st, "/f", later, 0));
  assert_bs_ok(bs_read(st, "/f", 0, buf, sizeof(buf), &n));
  assert_bs_ok(bs_stat(st, "/f", &s3));
  assert_true(s3.atime_ns == later);
  /* A directory's times follow its entries. */
  bs_stat_info d0, d1;
  assert_bs_ok(bs_stat(st, "/", &d0));
  next_tick(t);
  assert_bs_ok(bs_create(st, "/g", 0644));
  assert_bs_ok(bs_stat(st, "/", &d1));
  assert_true(d1.mtime_ns > d0.mtime_ns);
  /* "/f" and "/g": btrfs counts 2 x the name bytes, tmpfs 40 + 20 per entry;
   * the other profiles' 2 stands for sizes the sim does not model (a real
   * ext4 directory has a block, an xfs one its short-form header). */
  bool modelled = strcmp(t->profile, "btrfs") == 0 || strcmp(t->profile, "tmpfs") == 0;
  if (modelled || t->kind != BS_TARGET_REAL)
    assert_int_equal(d1.size, strcmp(t->profile, "btrfs") == 0 ? 4 : strcmp(t->profile, "tmpfs") == 0 ? 80 : 2);
  /* The clock only moves forward, and (a virtual one) not while observing. */
  int64_t c0, c1;
  assert_bs_ok(bs_clock_ns(st, &c0));
  bs_test_usage(st);
  bs_test_check(st, t);
  assert_bs_ok(bs_clock_ns(st, &c1));
  assert_true(exact_clock(t) ? c0 == c1 : c0 <= c1);
  assert_true(c0 >= 1700000000LL * 1000000000LL);
}

static void metadata_and_times(void **state) {
  (void)state;
  bs_test_each_backend(NULL, metadata_body, NULL, bs_test_seed());
}

static void xattr_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bool linux_fs = !(strcmp(t->profile, "apfs") == 0 || strcmp(t->profile, "hfs") == 0);
  assert_bs_ok(bs_create(st, "/f", 0644));
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_setxattr(st, "/d", "user.on-a-dir", "1", 1));
  if (linux_fs) {
    assert_bs_err(bs_setxattr(st, "/f", "com.apple.quarantine", "q", 1), BS_EUNSUPPORTED);
    assert_bs_err(bs_setxattr(st, "/f", "user.", "q", 1), BS_EINVALID);
    assert_bs_ok(bs_setxattr(st, "/f", "security.selinux", "q", 1));
  } else {
    assert_bs_ok(bs_setxattr(st, "/f", "com.apple.quarantine", "q", 1));
  }
  char name[300];
  size_t max = linux_fs ? 255 : 127;
  memcpy(name, "user.", 5);
  memset(name + 5, 'n', sizeof(name) - 5);
  name[max] = '\0';
  assert_bs_ok(bs_setxattr(st, "/f", name, "v", 1));
  name[max] = 'n';
  name[max + 1] = '\0';
  /* Linux: ERANGE; macOS: ENAMETOOLONG. */
  assert_bs_err(bs_setxattr(st, "/f", name, "v", 1), linux_fs ? BS_EINVALID : BS_ENAME_TOO_LONG);
  assert_bs_err(bs_setxattr(st, "/f", "", "v", 1), BS_EINVALID);
  uint8_t *big = calloc(1, 65537);
  assert_non_null(big);
  /* btrfs (one leaf item) and ext4 (inode body + one block) have less room. */
  bool small = strcmp(t->profile, "btrfs") == 0 || strcmp(t->profile, "ext4") == 0;
  assert_bs_err(bs_setxattr(st, "/f", "user.big", big, 65536), small ? BS_ENO_SPACE : BS_OK);
  assert_bs_err(bs_setxattr(st, "/f", "user.big2", big, 65537), BS_EINVALID);
  free(big);
  assert_bs_ok(bs_setxattr(st, "/f", "user.k", "value", 5));
  assert_bs_ok(bs_setxattr(st, "/f", "user.k", "val", 3)); /* replace */
  size_t n = 0;
  char buf[8];
  assert_bs_ok(bs_getxattr(st, "/f", "user.k", NULL, 0, &n));
  assert_int_equal(n, 3);
  assert_bs_err(bs_getxattr(st, "/f", "user.k", buf, 2, &n), BS_EINVALID);
  assert_bs_ok(bs_getxattr(st, "/f", "user.k", buf, sizeof(buf), &n));
  assert_memory_equal(buf, "val", 3);
  assert_bs_err(bs_getxattr(st, "/f", "user.none", buf, sizeof(buf), &n), BS_ENOT_FOUND);
  assert_bs_err(bs_removexattr(st, "/f", "user.none"), BS_ENOT_FOUND);
  assert_bs_ok(bs_removexattr(st, "/f", "user.k"));
  assert_bs_err(bs_getxattr(st, "/f", "user.k", NULL, 0, &n), BS_ENOT_FOUND);
  assert_bs_err(bs_setxattr(st, "/none", "user.k", "v", 1), BS_ENOT_FOUND);
  used_is(st, t, 0); /* metadata uses no blocks */
}

static void xattr_rules(void **state) {
  (void)state;
  bs_test_each_backend(NULL, xattr_body, NULL, bs_test_seed());
}

/* ---- data ------------------------------------------------------------------- */

static void sparse_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  assert_bs_ok(bs_create(st, "/s", 0644));
  const uint64_t off = 10 * BLK + 5;
  assert_bs_ok(bs_write(st, "/s", off, "data", 4));
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/s", &s));
  assert_int_equal(s.size, off + 4);
  assert_int_equal(s.blocks, BLK / 512); /* one block mapped */
  used_is(st, t, BLK);
  size_t len = 0;
  uint8_t *buf = bs_test_slurp(st, "/s", &len);
  for (size_t i = 0; i < off; i++)
    if (buf[i] != 0)
      fail_msg("byte %zu of a hole is %d", i, buf[i]);
  assert_memory_equal(buf + off, "data", 4);
  free(buf);
  /* Reads past the end return nothing; a read straddling it is short. */
  char c[16];
  size_t n = 99;
  assert_bs_ok(bs_read(st, "/s", off + 4, c, sizeof(c), &n));
  assert_int_equal(n, 0);
  assert_bs_ok(bs_read(st, "/s", off + 2, c, sizeof(c), &n));
  assert_int_equal(n, 2);
  assert_memory_equal(c, "ta", 2);
  /* Extending by truncate allocates nothing and reads zeros. */
  assert_bs_ok(bs_truncate(st, "/s", 100 * BLK));
  used_is(st, t, BLK);
  assert_bs_ok(bs_read(st, "/s", 50 * BLK, c, sizeof(c), &n));
  assert_int_equal(n, sizeof(c));
  for (size_t i = 0; i < n; i++)
    assert_int_equal(c[i], 0);
  /* Writing into a hole between data fills just that block. */
  assert_bs_ok(bs_write(st, "/s", 3 * BLK + 10, "mid", 3));
  used_is(st, t, 2 * BLK);
  bs_test_check(st, t);
}

static void sparse_reads(void **state) {
  (void)state;
  bs_test_each_backend(NULL, sparse_body, NULL, bs_test_seed());
}

static void truncate_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", 10 * BLK, 1);
  assert_bs_ok(bs_sync(st, NULL));
  used_is(st, t, 10 * BLK);
  assert_bs_ok(bs_truncate(st, "/f", 3 * BLK));
  /* Buffered: the durable version still holds the blocks until a sync. */
  used_is(st, t, 10 * BLK);
  assert_bs_ok(bs_sync(st, "/f"));
  used_is(st, t, 3 * BLK);
  /* An unaligned truncate zeroes the rest of the last block. */
  assert_bs_ok(bs_truncate(st, "/f", 2 * BLK + 100));
  assert_bs_ok(bs_truncate(st, "/f", 5 * BLK));
  assert_bs_ok(bs_sync(st, NULL));
  uint8_t *want = bs_test_pattern(5 * BLK, 1);
  memset(want + 2 * BLK + 100, 0, 3 * BLK - 100);
  bs_test_assert_content(st, "/f", want, 5 * BLK);
  free(want);
  used_is(st, t, 3 * BLK);
  assert_bs_ok(bs_truncate(st, "/f", 0));
  assert_bs_ok(bs_sync(st, NULL));
  used_is(st, t, 0);
  /* unlink releases at once, synced or not. */
  bs_test_put(st, "/g", 4 * BLK, 2);
  assert_bs_ok(bs_unlink(st, "/g"));
  used_is(st, t, 0);
  bs_test_check(st, t);
}

static void truncate_releases_blocks(void **state) {
  (void)state;
  bs_test_each_backend(NULL, truncate_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(names_too_long),
    cmocka_unit_test(case_folding_by_profile),
    cmocka_unit_test(rename_rules),
    cmocka_unit_test(rmdir_unlink_rules),
    cmocka_unit_test(metadata_and_times),
    cmocka_unit_test(xattr_rules),
    cmocka_unit_test(sparse_reads),
    cmocka_unit_test(truncate_releases_blocks),
  };
  return cmocka_run_group_tests_name("file_rules", tests, NULL, NULL);
}
