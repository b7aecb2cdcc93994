/* reflink with clonefile(2) semantics: one body per behaviour, run on every
 * sim profile, on real btrfs/xfs/ext4/tmpfs volumes, and through darwin.c's
 * seam.  The sim's space accounting is exact and checked exactly; on real
 * volumes sharing is proved with FIEMAP and statvfs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef FIU_ENABLE
#include <fiu-control.h>
#include <fiu.h>
#endif

#include "backstore/sim.h"
#include "tests/support/bs_test.h"
#include "tests/support/volume.h"
#include "tests/support/darwin_fake.h"

#define BLK BS_SIM_BLOCK_SIZE
#define MIB (1024u * 1024u)

/* Real timestamps come from the kernel's coarse clock, which may lag the
 * fine clock bs_clock_ns reads by a tick. */
#define CLOCK_SLACK_NS (50LL * 1000 * 1000)

/* Every extent of @a's host file is shared and at the same physical place in @b. */
static void assert_same_shared_extents(const bs_target *t, const char *a, const char *b) {
  char ha[4096], hb[4096];
  bs_test_host_path(t, a, ha);
  bs_test_host_path(t, b, hb);
  bs_test_extent *ea = calloc(BS_TEST_EXTENTS_MAX, sizeof(*ea));
  bs_test_extent *eb = calloc(BS_TEST_EXTENTS_MAX, sizeof(*eb));
  assert_true(ea && eb);
  size_t na = bs_test_fiemap(ha, ea), nb = bs_test_fiemap(hb, eb);
  assert_true(na > 0);
  assert_int_equal(na, nb);
  for (size_t i = 0; i < na; i++) {
    assert_int_equal(ea[i].logical, eb[i].logical);
    assert_int_equal(ea[i].physical, eb[i].physical);
    assert_int_equal(ea[i].length, eb[i].length);
    if (!(eb[i].flags & BS_TEST_EXTENT_SHARED))
      fail_msg("%s: extent %zu (logical %llu) is not marked shared", t->label, i,
               (unsigned long long)eb[i].logical);
  }
  free(ea);
  free(eb);
}

/* Physical address of the block holding logical offset @off of @path. */
static uint64_t physical_at(const bs_target *t, const char *path, uint64_t off) {
  char h[4096];
  bs_test_host_path(t, path, h);
  bs_test_extent *e = calloc(BS_TEST_EXTENTS_MAX, sizeof(*e));
  assert_non_null(e);
  size_t n = bs_test_fiemap(h, e);
  uint64_t phys = UINT64_MAX;
  for (size_t i = 0; i < n; i++)
    if (off >= e[i].logical && off < e[i].logical + e[i].length)
      phys = e[i].physical + (off - e[i].logical);
  free(e);
  assert_true(phys != UINT64_MAX);
  return phys;
}

static void shares_blocks_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  /* 64 blocks plus a partial one: past any inline-data limit. */
  const size_t len = 64 * BLK + 100;
  uint8_t *src = bs_test_pattern(len, 3);
  bs_test_put(st, "/src", len, 3);
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u0 = bs_test_usage(st);

  assert_bs_ok(bs_reflink(st, "/src", "/dst"));
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u1 = bs_test_usage(st);
  bs_test_assert_content(st, "/dst", src, len);
  if (bs_test_exact_space(t)) {
    assert_int_equal(u0.used_bytes, 65 * BLK);
    assert_int_equal(u1.used_bytes, u0.used_bytes); /* a clone allocates nothing */
    assert_int_equal(u1.shared_bytes, u0.shared_bytes + 65 * BLK);
    assert_int_equal(u1.free_bytes, u0.free_bytes);
  } else {
    /* Metadata only: far less than the file's size. */
    assert_true(u0.free_bytes - u1.free_bytes < len / 4 || u1.free_bytes >= u0.free_bytes);
  }
  if (t->kind == BS_TARGET_REAL)
    assert_same_shared_extents(t, "/src", "/dst");

  /* Overwrite one whole block of the clone: it gets a block of its own. */
  uint8_t blk[BLK];
  memset(blk, 0xee, sizeof(blk));
  assert_bs_ok(bs_write(st, "/dst", 2 * BLK, blk, sizeof(blk)));
  assert_bs_ok(bs_sync(st, NULL));
  bs_test_assert_content(st, "/src", src, len);
  memcpy(src + 2 * BLK, blk, BLK);
  bs_test_assert_content(st, "/dst", src, len);
  if (bs_test_exact_space(t)) {
    bs_usage u2 = bs_test_usage(st);
    assert_int_equal(u2.used_bytes, u1.used_bytes + BLK);
    assert_int_equal(u2.shared_bytes, 64 * BLK);
  }
  if (t->kind == BS_TARGET_REAL) {
    assert_true(physical_at(t, "/dst", 2 * BLK) != physical_at(t, "/src", 2 * BLK));
    assert_true(physical_at(t, "/dst", 10 * BLK) == physical_at(t, "/src", 10 * BLK));
  }
  bs_test_check(st, t);
  free(src);
}

static void reflink_shares_blocks_until_write(void **state) {
  (void)state;
  bs_test_each_backend(bs_want_reflink, shares_blocks_body, NULL, bs_test_seed());
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
  (void)ctx;
  /* btrfs keeps a value in one metadata item (< 16 KiB, the sim too): 3000
   * bytes there for the big one, the 64 KiB limit elsewhere. */
  const size_t big = strcmp(t->profile, "btrfs") == 0 ? 3000 : 65536;
  const struct xa xs[] = {{"user.empty", 0}, {"user.small", 5}, {"user.big", big}, {"trusted.z", 17}};
  bs_test_put(st, "/f", 3 * BLK, 1);
  for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
    uint8_t *v = bs_test_pattern(xs[i].len, (uint8_t)i);
    assert_bs_ok(bs_setxattr(st, "/f", xs[i].name, v, xs[i].len));
    free(v);
  }
  bs_usage u0 = bs_test_usage(st);
  assert_bs_ok(bs_reflink(st, "/f", "/g"));
  if (bs_test_exact_space(t))
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
  bs_test_each_backend(bs_want_reflink, xattrs_body, NULL, bs_test_seed());
}

static void mode_times_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  const bool exact = bs_test_exact_space(t);
  bs_test_put(st, "/f", BLK + 1, 9);
  /* Owner first: a real chown clears set-id bits; the sim's does not (a
   * documented gap, docs/sim.md), so the order makes both agree. */
  assert_bs_ok(bs_chown(st, "/f", 1000, 2000)); /* the caller is root: any owner */
  assert_bs_ok(bs_chmod(st, "/f", 04751));
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
  assert_int_equal(s0.mode, 04751);
  assert_int_equal(s1.mode, 04751);
  assert_int_equal(s0.uid, 1000);
  assert_int_equal(s0.gid, 2000);
  assert_int_equal(s1.uid, 1000); /* clonefile(2) by a privileged caller keeps the owner */
  assert_int_equal(s1.gid, 2000);
  assert_int_equal(s1.nlink, 1);
  assert_int_equal(s1.size, s0.size);
  assert_int_equal(s1.blocks, s0.blocks);
  assert_true(s1.atime_ns == at);
  assert_true(s1.mtime_ns == mt);
  const int64_t slack = exact ? 0 : CLOCK_SLACK_NS;
  assert_true(s1.ctime_ns >= before - slack && s1.ctime_ns <= after + slack); /* the clone's own */
  if (strcmp(t->profile, "apfs") == 0)
    assert_true(s1.btime_ns == s0.btime_ns); /* clonefile keeps the birth time */
  else if (exact)
    assert_true(s1.btime_ns == s1.ctime_ns && s1.btime_ns != s0.btime_ns);
  else if (s1.btime_ns != 0) /* a new inode is born now (where statx reports birth); the
                                source may share its coarse clock tick, so no inequality */
    assert_true(s1.btime_ns >= before - slack && s1.btime_ns <= after + slack);
  /* The source is not touched by being cloned. */
  bs_stat_info s2;
  assert_bs_ok(bs_stat(st, "/f", &s2));
  assert_true(s2.ctime_ns == s0.ctime_ns && s2.mtime_ns == s0.mtime_ns && s2.mode == s0.mode);
  assert_true(s2.uid == s0.uid && s2.gid == s0.gid);
}

static void reflink_preserves_mode_and_times(void **state) {
  (void)state;
  bs_test_each_backend(bs_want_reflink, mode_times_body, NULL, bs_test_seed());
}

static void dst_exists_body(bs_store *st, const bs_target *t, void *ctx) {
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
  if (bs_test_exact_space(t)) {
    bs_usage u1 = bs_test_usage(st);
    assert_int_equal(u1.used_bytes, u0.used_bytes);
    assert_int_equal(u1.shared_bytes, u0.shared_bytes);
  }
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
  bs_test_check(st, t);
}

static void reflink_dst_exists_is_EXISTS(void **state) {
  (void)state;
  bs_test_each_backend(NULL, dst_exists_body, NULL, bs_test_seed());
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
  if (!strstr(bs_last_message(st), t->profile))
    fail_msg("%s: message does not name the filesystem: %s", t->label, bs_last_message(st));
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/b.txt", &si), BS_ENOT_FOUND);
  int n = 0;
  assert_bs_ok(bs_readdir(st, "/", count_entries, &n));
  assert_int_equal(n, 1);
  bs_test_assert_put(st, "/a.txt", 3 * BLK, 1);
  if (bs_test_exact_space(t)) {
    bs_usage u1 = bs_test_usage(st);
    assert_int_equal(u1.used_bytes, u0.used_bytes);
    assert_int_equal(u1.shared_bytes, 0);
  }
  bs_test_check(st, t);
}

static void reflink_unsupported_fs(void **state) {
  (void)state;
  bs_test_each_backend(bs_want_no_reflink, unsupported_body, NULL, bs_test_seed());
}

/* ---- no space ------------------------------------------------------------------ */

/* The sim: a volume filled to the last block. */
static void sim_enospc_body(bs_store *big, const bs_target *t, void *ctx) {
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

/* Fill @st with 1 MiB writes to /fill until the volume says NO_SPACE. */
static void fill_volume(bs_store *st) {
  uint8_t *chunk = bs_test_pattern(MIB, 0x5a);
  assert_bs_ok(bs_create(st, "/fill", 0644));
  uint64_t off = 0;
  int rc = 0;
  while ((rc = bs_write(st, "/fill", off, chunk, MIB)) == 0)
    off += MIB;
  assert_bs_err(rc, BS_ENO_SPACE);
  /* Then the last crumbs, a block at a time. */
  for (int i = 0; i < 4096 && rc == BS_ENO_SPACE; i++) {
    rc = bs_write(st, "/fill", off, chunk, BLK);
    if (rc == 0) {
      off += BLK;
      rc = BS_ENO_SPACE;
    } else {
      break;
    }
  }
  bs_sync(st, NULL);
  free(chunk);
}

/* A real volume of its own, small, filled up: clones and writes to clones
 * fail cleanly with NO_SPACE and never harm the source. */
static void real_enospc_body(bs_store *unused, const bs_target *t, void *ctx) {
  (void)unused;
  (void)ctx;
  bs_vol v;
  /* xfs will not make a volume under 300 MiB. */
  uint64_t size = strcmp(t->profile, "xfs") == 0 ? 300ull * MIB : 128ull * MIB;
  int vrc = bs_vol_create(&v, t->profile, size);
  if (vrc != 0)
    fail_msg("%s volume: %s", t->profile, bs_vol_last_error());
  bs_open_opts o = {.root = v.mnt};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  const size_t len = 64 * BLK;
  bs_test_put(st, "/src", len, 5);
  assert_bs_ok(bs_reflink(st, "/src", "/clone"));
  fill_volume(st);
  /* A clone on a full volume either works (it needs only metadata) or is
   * NO_SPACE and leaves nothing. */
  int rc = bs_reflink(st, "/src", "/clone2");
  bs_stat_info si;
  if (rc == BS_ENO_SPACE)
    assert_bs_err(bs_stat(st, "/clone2", &si), BS_ENOT_FOUND);
  else
    assert_bs_ok(rc);
  /* Unsharing the clone's blocks needs space the volume no longer has: the
   * write (space is reserved at write time) or its sync says NO_SPACE. */
  uint8_t *junk = bs_test_pattern(len, 0x77);
  int wrc = bs_write(st, "/clone", 0, junk, len);
  if (wrc == 0)
    wrc = bs_sync(st, "/clone");
  assert_bs_err(wrc, BS_ENO_SPACE);
  bs_test_assert_put(st, "/src", len, 5);
  free(junk);
  bs_close(st);
  bs_vol_destroy(&v);
}

static void reflink_enospc_leaves_nothing(void **state) {
  (void)state;
  bs_test_each_backend_of(BS_KINDS(BS_TARGET_SIM), bs_want_reflink, sim_enospc_body, NULL,
                          bs_test_seed());
  bs_test_each_backend_of(BS_KINDS(BS_TARGET_REAL), bs_want_reflink, real_enospc_body, NULL,
                          bs_test_seed());
}

/* Make the next clone fail with ENOSPC where the backend can be told to. */
static void inject_clone_enospc(bs_store *st, const bs_target *t) {
  (void)st;
  if (t->kind == BS_TARGET_DARWIN) {
    bs_darwin_fake_fail_next_clone(st, ENOSPC);
    return;
  }
#ifdef FIU_ENABLE
  if (t->kind == BS_TARGET_REAL) {
    fiu_init(0);
    assert_int_equal(fiu_enable("bs/real/ficlone", 1, (void *)(intptr_t)ENOSPC, FIU_ONETIME), 0);
    return;
  }
#endif
  fail_msg("%s: no way to inject a fault here", t->label);
}

static void enospc_injected_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  const size_t len = 16 * BLK + 3;
  bs_test_put(st, "/src", len, 7);
  assert_bs_ok(bs_setxattr(st, "/src", "user.keep", "v", 1));
  bs_stat_info s0, s1;
  assert_bs_ok(bs_stat(st, "/src", &s0));
  inject_clone_enospc(st, t);
  int rc = bs_reflink(st, "/src", "/dst");
#ifdef FIU_ENABLE
  if (t->kind == BS_TARGET_REAL)
    fiu_disable("bs/real/ficlone"); /* fired once; disabling also frees its record */
#endif
  assert_bs_err(rc, BS_ENO_SPACE);
  assert_int_equal(bs_last_os_errno(st), ENOSPC);
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/dst", &si), BS_ENOT_FOUND);
  char names[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/", names);
  assert_string_equal(names, "src;");
  bs_test_assert_put(st, "/src", len, 7);
  assert_bs_ok(bs_stat(st, "/src", &s1));
  assert_true(s1.mtime_ns == s0.mtime_ns && s1.ctime_ns == s0.ctime_ns && s1.mode == s0.mode);
  /* The fault was transient: the next clone works. */
  assert_bs_ok(bs_reflink(st, "/src", "/dst"));
  bs_test_assert_put(st, "/dst", len, 7);
}

static void reflink_enospc_injected_leaves_nothing(void **state) {
  (void)state;
  bs_test_each_backend_of(BS_KINDS(BS_TARGET_REAL) | BS_KINDS(BS_TARGET_DARWIN), bs_want_reflink,
                          enospc_injected_body, NULL, bs_test_seed());
}

/* ---- properties ------------------------------------------------------------------ */

/* Random writes, truncates and re-clones of the clone, and of clones of the
 * clone: the source reads back byte for byte every time.  Seeded: the seed
 * printed on failure replays the case. */
static void never_affects_source_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  int cases = bs_test_iterations(t->kind == BS_TARGET_SIM ? 50 : 10);
  for (int c = 0; c < cases; c++) {
    uint64_t seed = bs_test_seed() + (uint64_t)c, r = seed;
    size_t len = (size_t)(bs_test_rand(&r) % (40 * BLK)) + 1;
    char src[32], names[3][32];
    snprintf(src, sizeof(src), "/s%d", c);
    bs_test_put(st, src, len, (uint8_t)c);
    const char *from = src;
    for (int k = 0; k < 3; k++) {
      char *cl = names[k];
      snprintf(cl, sizeof(names[k]), "/c%d.%d", c, k);
      int rc = bs_reflink(st, from, cl);
      if (rc != 0)
        fail_msg("%s seed %llu: reflink %s %s: %s", t->label, (unsigned long long)seed, from, cl,
                 bs_err_name(rc));
      for (int op = 0; op < 8; op++) {
        uint64_t off = bs_test_rand(&r) % (len + BLK);
        size_t n = (size_t)(bs_test_rand(&r) % (3 * BLK)) + 1;
        uint8_t *junk = bs_test_pattern(n, (uint8_t)(op + 100));
        rc = bs_test_rand(&r) % 4 == 0 ? bs_truncate(st, cl, off) : bs_write(st, cl, off, junk, n);
        free(junk);
        if (rc != 0)
          fail_msg("%s seed %llu op %d: %s", t->label, (unsigned long long)seed, op, bs_err_name(rc));
        if (bs_test_rand(&r) % 3 == 0)
          assert_bs_ok(bs_sync(st, NULL));
      }
      bs_test_assert_put(st, src, len, (uint8_t)c);
      from = cl;
    }
  }
  bs_test_check(st, t);
}

static void reflink_clone_then_modify_never_affects_source(void **state) {
  (void)state;
  bs_test_each_backend(bs_want_reflink, never_affects_source_body, NULL, bs_test_seed());
}

/* Bytes of the big-file test: 1 GiB ($BS_BIG_MIB MiB when set, for a quick
 * local run). */
static uint64_t big_bytes(void) { return (uint64_t)bs_test_env_count("BS_BIG_MIB", 1024) * MIB; }

static void big_clone_in(bs_store *st, const bs_target *t) {
  const uint64_t size = big_bytes();
  uint8_t *chunk = bs_test_pattern(MIB, 11);
  assert_bs_ok(bs_create(st, "/big", 0644));
  for (uint64_t off = 0; off < size; off += MIB) {
    chunk[0] = (uint8_t)(off >> 20); /* no two MiB alike: no dedupe can hide anything */
    assert_bs_ok(bs_write(st, "/big", off, chunk, MIB));
  }
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u0 = bs_test_usage(st);
  assert_bs_ok(bs_reflink(st, "/big", "/big.clone"));
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u1 = bs_test_usage(st);
  if (bs_test_exact_space(t)) {
    assert_int_equal(u1.used_bytes, u0.used_bytes);
    assert_int_equal(u1.shared_bytes, u0.shared_bytes + size);
  } else {
    /* Metadata only: under 1 % of the file. */
    uint64_t drop = u0.free_bytes > u1.free_bytes ? u0.free_bytes - u1.free_bytes : 0;
    if (drop >= size / 100)
      fail_msg("%s: a clone of %llu bytes took %llu bytes of free space", t->label,
               (unsigned long long)size, (unsigned long long)drop);
    char h[4096];
    bs_test_host_path(t, "/big.clone", h);
    assert_true(bs_test_shared_bytes(h) >= size);
  }
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, "/big.clone", &si));
  assert_int_equal(si.size, size);
  uint8_t a[64], b[64];
  size_t n = 0;
  assert_bs_ok(bs_read(st, "/big.clone", size - MIB, a, sizeof(a), &n));
  assert_bs_ok(bs_read(st, "/big", size - MIB, b, sizeof(b), &n));
  assert_memory_equal(a, b, sizeof(a));
  free(chunk);
}

static void big_body(bs_store *unused, const bs_target *t, void *ctx) {
  (void)unused;
  (void)ctx;
  if (t->kind == BS_TARGET_SIM) {
    bs_store *st = bs_test_open_sim_sized(t->profile, bs_test_seed(), big_bytes() + 64ull * MIB);
    big_clone_in(st, t);
    assert_bs_ok(bs_check(st));
    bs_close(st);
    return;
  }
  bs_vol v;
  if (bs_vol_create(&v, t->profile, big_bytes() + 512ull * MIB) != 0)
    fail_msg("%s volume: %s", t->profile, bs_vol_last_error());
  bs_open_opts o = {.root = v.mnt};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  bs_target own = *t;
  own.root = v.mnt;
  big_clone_in(st, &own);
  bs_close(st);
  bs_vol_destroy(&v);
}

static void reflink_clone_of_1gib_allocates_no_new_blocks(void **state) {
  (void)state;
  bs_test_each_backend_of(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_want_reflink,
                          big_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(reflink_shares_blocks_until_write),
    cmocka_unit_test(reflink_preserves_xattrs),
    cmocka_unit_test(reflink_preserves_mode_and_times),
    cmocka_unit_test(reflink_dst_exists_is_EXISTS),
    cmocka_unit_test(reflink_unsupported_fs),
    cmocka_unit_test(reflink_enospc_leaves_nothing),
    cmocka_unit_test(reflink_enospc_injected_leaves_nothing),
    cmocka_unit_test(reflink_clone_then_modify_never_affects_source),
    cmocka_unit_test(reflink_clone_of_1gib_allocates_no_new_blocks),
  };
  return cmocka_run_group_tests_name("reflink", tests, NULL, NULL);
}
