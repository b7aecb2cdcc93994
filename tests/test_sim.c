/* The simulated filesystem itself, on every sim profile: open and caps,
 * the crash model, images, determinism, the deliberate bugs check() finds,
 * ENOSPC.  The file and namespace rules every backend keeps are in
 * tests/test_file_rules.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"

#define BLK BS_SIM_BLOCK_SIZE

/* ---- open, caps, profiles ------------------------------------------------- */

static void caps_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_caps want;
  bs_fs_type type = bs_fs_type_from_name(t->profile);
  assert_bs_ok(bs_caps_for_type(&want, type));
  assert_memory_equal(&t->caps, &want, sizeof(want));
  bs_fs_type got;
  assert_bs_ok(bs_probe_fs_type(st, "/anything/at/all", &got));
  assert_int_equal(got, type);
  assert_true(bs_sim_is_sim(st));
  bs_usage u = bs_test_usage(st);
  assert_int_equal(u.block_size, BLK);
  assert_int_equal(u.total_bytes, BS_SIM_DEFAULT_CAPACITY);
  assert_int_equal(u.free_bytes, u.total_bytes);
  assert_int_equal(u.used_bytes, 0);
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/", &s));
  assert_int_equal(s.kind, BS_KIND_DIR);
}

static void sim_open_and_caps(void **state) {
  (void)state;
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++)
    assert_int_equal(bs_fs_type_from_name(bs_sim_profile_names[i]), i + 1);
  bs_test_each_sim_profile(NULL, caps_body, NULL, bs_test_seed());
  bs_store *st = NULL;
  bs_open_opts o = {.profile = "zfs"};
  assert_bs_err(bs_open(&st, "sim", &o), BS_EINVALID);
  o = (bs_open_opts){.profile = "ext4", .capacity = 100};
  assert_bs_err(bs_open(&st, "sim", &o), BS_EINVALID);
  o = (bs_open_opts){.profile = "btrfs"};
  assert_bs_err(bs_open(&st, "sim:xfs", &o), BS_EINVALID);
  o = (bs_open_opts){.capacity = 10 * BLK + 5};
  assert_bs_ok(bs_open(&st, "sim:xfs", &o));
  bs_caps c;
  assert_bs_ok(bs_get_caps(st, &c));
  assert_string_equal(c.fs_type_name, "xfs");
  assert_int_equal(bs_test_usage(st).total_bytes, 10 * BLK);
  bs_close(st);
  bs_sim_bug bug;
  assert_bs_ok(bs_sim_bug_from_name("cow-in-place", &bug));
  assert_int_equal(bug, BS_SIM_BUG_COW_IN_PLACE);
  assert_bs_ok(bs_sim_bug_from_name("leak-block", &bug));
  assert_int_equal(bug, BS_SIM_BUG_LEAK_BLOCK);
  assert_bs_ok(bs_sim_bug_from_name("stray-write", &bug));
  assert_int_equal(bug, BS_SIM_BUG_STRAY_WRITE);
  assert_bs_err(bs_sim_bug_from_name("nope", &bug), BS_EINVALID);
}

/* ---- crash model ------------------------------------------------------------ */

static void drop_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  const size_t la = 4 * BLK + 33;
  bs_test_put(st, "/synced", la, 1);
  assert_bs_ok(bs_sync(st, "/synced"));
  bs_usage u0 = bs_test_usage(st);
  /* Unsynced: an overwrite, an extension, a truncate and a new file. */
  assert_bs_ok(bs_write(st, "/synced", BLK, "XXXX", 4));
  assert_bs_ok(bs_write(st, "/synced", 9 * BLK, "tail", 4));
  bs_test_put(st, "/unsynced", 2 * BLK, 2);
  bs_test_put(st, "/cut", 2 * BLK, 3);
  assert_bs_ok(bs_sync(st, "/cut"));
  assert_bs_ok(bs_truncate(st, "/cut", 10));
  assert_bs_ok(bs_mkdir(st, "/dir", 0755));
  assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_DROP));
  bs_test_assert_put(st, "/synced", la, 1);
  bs_test_assert_put(st, "/cut", 2 * BLK, 3);
  /* Metadata is durable at once: the new file and dir exist, the data is gone. */
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/unsynced", &s));
  assert_int_equal(s.size, 0);
  assert_bs_ok(bs_stat(st, "/dir", &s));
  bs_usage u1 = bs_test_usage(st);
  assert_int_equal(u1.used_bytes, u0.used_bytes + 2 * BLK);
  assert_int_equal(u1.shared_bytes, 0);
  assert_bs_ok(bs_check(st));
  /* Everything is clean afterwards: a second power loss changes nothing. */
  assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_TEAR));
  bs_test_assert_put(st, "/synced", la, 1);
}

static void sim_power_loss_drop(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, drop_body, NULL, bs_test_seed());
}

#define TEAR_BLOCKS 64

struct tear_result {
  int durable, live;
};

/* Durable: TEAR_BLOCKS blocks of 'D'+i; live: the same blocks as 'a'+i plus
 * four more blocks.  After a tear every block is one of the two versions (the
 * durable version of a block past the durable size is a hole: zeros). */
static void tear_one(bs_store *st, struct tear_result *r) {
  uint8_t blk[BLK];
  assert_bs_ok(bs_create(st, "/t", 0644));
  for (int i = 0; i < TEAR_BLOCKS; i++) {
    memset(blk, 'D' + i % 8, sizeof(blk));
    assert_bs_ok(bs_write(st, "/t", (uint64_t)i * BLK, blk, BLK));
  }
  assert_bs_ok(bs_sync(st, NULL));
  bs_test_put(st, "/other", BLK, 9);
  assert_bs_ok(bs_sync(st, "/other"));
  for (int i = 0; i < TEAR_BLOCKS + 4; i++) {
    memset(blk, 'a' + i % 8, sizeof(blk));
    assert_bs_ok(bs_write(st, "/t", (uint64_t)i * BLK, blk, BLK));
  }
  assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_TEAR));
  size_t len;
  uint8_t *got = bs_test_slurp(st, "/t", &len);
  assert_true(len == TEAR_BLOCKS * BLK || len == (TEAR_BLOCKS + 4) * BLK);
  for (size_t i = 0; i < len / BLK; i++) {
    uint8_t first = got[i * BLK];
    for (size_t k = 1; k < BLK; k++)
      if (got[i * BLK + k] != first)
        fail_msg("block %zu is a mix of versions", i);
    if (i < TEAR_BLOCKS ? first == 'D' + i % 8 : first == 0) /* past the durable end: a hole */
      r->durable++;
    else if (first == 'a' + i % 8)
      r->live++;
    else
      fail_msg("block %zu holds neither version (%c)", i, first);
  }
  free(got);
  bs_test_assert_put(st, "/other", BLK, 9); /* synced files are untouched */
  assert_bs_ok(bs_check(st));
  /* Afterwards the file is clean and durable. */
  bs_usage u0 = bs_test_usage(st);
  assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_DROP));
  bs_usage u1 = bs_test_usage(st);
  assert_memory_equal(&u0, &u1, sizeof(u0));
}

static void tear_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  struct tear_result r = {0, 0}, r2 = {0, 0};
  tear_one(st, &r);
  assert_true(r.durable > 0 && r.live > 0); /* 64 seeded coin flips */
  /* Same seed, same ops: the same tear. */
  bs_store *twin = bs_test_open_sim(t->profile, bs_test_seed());
  tear_one(twin, &r2);
  assert_int_equal(r.durable, r2.durable);
  assert_int_equal(r.live, r2.live);
  bs_close(twin);
}

static void sim_power_loss_tear(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, tear_body, NULL, bs_test_seed());
}

/* ---- images ----------------------------------------------------------------- */

/* Images go to $TMPDIR, else /dev/shm (saving fsyncs: free on tmpfs), else /tmp. */
static void image_path(char *buf, size_t cap, const char *tag) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir)
    dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(buf, cap, "%s/bs-test-sim-%ld-%s.img", dir, (long)getpid(), tag);
}

static void build_state(bs_store *st, const bs_caps *caps) {
  bs_test_put(st, "/a", 5 * BLK + 17, 1);
  assert_bs_ok(bs_mkdir(st, "/d", 0750));
  bs_test_put(st, "/d/b", 2 * BLK, 2);
  assert_bs_ok(bs_setxattr(st, "/d/b", "user.x", "xattr", 5));
  assert_bs_ok(bs_chown(st, "/d/b", 1000, 2000));
  assert_bs_ok(bs_chown(st, "/d", 1001, 2001));
  assert_bs_ok(bs_sync(st, NULL));
  if (caps->native_reflink)
    assert_bs_ok(bs_reflink(st, "/a", "/d/clone"));
  if (caps->native_snapshots) {
    bs_snapshot_info si;
    assert_bs_ok(bs_snapshot_create(st, "s1", &si));
    assert_bs_ok(bs_branch_create(st, si.id, "br"));
    assert_bs_ok(bs_write(st, "/.bs/branches/br/a", 3, "branch", 6));
  }
  assert_bs_ok(bs_write(st, "/a", BLK, "dirty", 5)); /* left unsynced */
  assert_bs_ok(bs_truncate(st, "/d/b", BLK + 1));
}

/* The same further ops on two stores must give the same results. */
static void continue_and_compare(bs_store *x, bs_store *y, const bs_caps *caps) {
  bs_store *v[2] = {x, y};
  bs_usage u[2];
  int64_t clk[2];
  bs_snapshot_info si[2];
  uint8_t *data[2];
  size_t len[2];
  for (int i = 0; i < 2; i++) {
    assert_bs_ok(bs_write(v[i], "/d/b", 7, "more", 4));
    if (caps->native_reflink)
      assert_bs_ok(bs_reflink(v[i], "/d/b", "/c2"));
    if (caps->native_snapshots)
      assert_bs_ok(bs_snapshot_create(v[i], "s2", &si[i]));
    assert_bs_ok(bs_write(v[i], "/a", 2 * BLK, "torn?", 5));
    assert_bs_ok(bs_power_loss(v[i], BS_POWER_LOSS_TEAR));
    assert_bs_ok(bs_usage_get(v[i], &u[i]));
    assert_bs_ok(bs_clock_ns(v[i], &clk[i]));
    data[i] = bs_test_slurp(v[i], "/a", &len[i]);
    assert_bs_ok(bs_check(v[i]));
  }
  assert_memory_equal(&u[0], &u[1], sizeof(u[0]));
  assert_true(clk[0] == clk[1]);
  if (caps->native_snapshots)
    assert_memory_equal(&si[0], &si[1], sizeof(si[0]));
  assert_int_equal(len[0], len[1]);
  assert_memory_equal(data[0], data[1], len[0]);
  free(data[0]);
  free(data[1]);
}

static void image_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  char f1[512], f2[512];
  image_path(f1, sizeof(f1), "1");
  image_path(f2, sizeof(f2), "2");
  build_state(st, &t->caps);
  assert_bs_ok(bs_sim_save(st, f1));
  bs_store *ld = NULL;
  assert_bs_ok(bs_sim_load(&ld, f1));
  assert_true(bs_sim_is_sim(ld));
  assert_bs_ok(bs_check(ld));
  /* Saving the loaded store gives the same bytes. */
  assert_bs_ok(bs_sim_save(ld, f2));
  size_t n1, n2;
  FILE *a = fopen(f1, "rb"), *b = fopen(f2, "rb");
  assert_non_null(a);
  assert_non_null(b);
  uint8_t *i1 = malloc(1 << 20), *i2 = malloc(1 << 20);
  assert_non_null(i1);
  assert_non_null(i2);
  n1 = fread(i1, 1, 1 << 20, a);
  n2 = fread(i2, 1, 1 << 20, b);
  fclose(a);
  fclose(b);
  assert_int_equal(n1, n2);
  assert_memory_equal(i1, i2, n1);
  /* Same state, same future. */
  bs_caps c;
  assert_bs_ok(bs_get_caps(ld, &c));
  assert_memory_equal(&c, &t->caps, sizeof(c));
  bs_stat_info s0, s1;
  assert_bs_ok(bs_stat(st, "/d/b", &s0));
  assert_bs_ok(bs_stat(ld, "/d/b", &s1));
  assert_memory_equal(&s0, &s1, sizeof(s0));
  continue_and_compare(st, ld, &t->caps);
  /* Owners are in the image (stat advances the clock: after the comparison). */
  assert_bs_ok(bs_stat(ld, "/d/b", &s1));
  assert_true(s1.uid == 1000 && s1.gid == 2000);
  assert_bs_ok(bs_stat(ld, "/d", &s1));
  assert_true(s1.uid == 1001 && s1.gid == 2001);
  if (t->caps.native_snapshots) {
    assert_bs_ok(bs_stat(ld, "/.bs/snapshots/s1/d/b", &s1));
    assert_true(s1.uid == 1000 && s1.gid == 2000);
    assert_bs_ok(bs_stat(ld, "/.bs/branches/br/d", &s1));
    assert_true(s1.uid == 1001 && s1.gid == 2001);
  }
  bs_close(ld);
  /* Damage: every kind is CORRUPT, absence is NOT_FOUND. */
  for (size_t off = 0; off < n1; off += n1 / 97 + 1) {
    i2[off] ^= 0x40;
    FILE *w = fopen(f2, "wb");
    assert_non_null(w);
    assert_int_equal(fwrite(i2, 1, n1, w), n1);
    fclose(w);
    i2[off] ^= 0x40;
    assert_bs_err(bs_sim_load(&ld, f2), BS_ECORRUPT);
    assert_null(ld);
  }
  size_t cuts[] = {0, 7, 24, 31, n1 / 2, n1 - 1};
  for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
    FILE *w = fopen(f2, "wb");
    assert_non_null(w);
    assert_int_equal(fwrite(i1, 1, cuts[k], w), cuts[k]);
    fclose(w);
    assert_bs_err(bs_sim_load(&ld, f2), BS_ECORRUPT);
  }
  unlink(f1);
  unlink(f2);
  assert_bs_err(bs_sim_load(&ld, f1), BS_ENOT_FOUND);
  free(i1);
  free(i2);
}

static void sim_image_round_trip(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, image_body, NULL, bs_test_seed());
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* Write @img (@n bytes) to @f with byte @off XORed with @x and the checksum
 * recomputed; @img is left as it was. */
static void write_mutated(const char *f, uint8_t *img, size_t n, size_t off, uint8_t x) {
  uint8_t trailer[8];
  memcpy(trailer, img + n - 8, 8);
  img[off] ^= x;
  uint64_t h = fnv1a(img, n - 8);
  for (int b = 0; b < 8; b++)
    img[n - 8 + b] = (uint8_t)(h >> (8 * b));
  FILE *w = fopen(f, "wb");
  assert_non_null(w);
  assert_int_equal(fwrite(img, 1, n, w), n);
  fclose(w);
  img[off] ^= x;
  memcpy(img + n - 8, trailer, 8);
}

/* Mutated images with a valid checksum: each loads as CORRUPT or as a store
 * that can be checked and closed (ASan/valgrind watch for the rest). */
static void malformed_body(bs_store *unused, const bs_target *t, void *ctx) {
  (void)unused;
  (void)ctx;
  bs_store *st = bs_test_open_sim_sized(t->profile, 3, 16 * BLK);
  bs_test_put(st, "/a", 100, 1);
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_create(st, "/d/e", 0644));
  assert_bs_ok(bs_setxattr(st, "/d/e", "user.x", "v", 1));
  assert_bs_ok(bs_chown(st, "/d/e", 1000, 2000));
  assert_bs_ok(bs_link(st, "/d/e", "/d/e2")); /* version 4 records: a further name, a symlink */
  assert_bs_ok(bs_symlink(st, "d/e", "/l"));
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_write(st, "/a", 5, "dirty", 5));
  if (t->caps.native_snapshots) {
    bs_snapshot_info si;
    assert_bs_ok(bs_snapshot_create(st, "s", &si));
    assert_bs_ok(bs_branch_create(st, si.id, "b"));
  }
  char f[512];
  image_path(f, sizeof(f), "m");
  assert_bs_ok(bs_sim_save(st, f));
  bs_close(st);
  FILE *in = fopen(f, "rb");
  assert_non_null(in);
  static uint8_t img[1 << 16];
  size_t n = fread(img, 1, sizeof(img), in);
  fclose(in);
  assert_true(n > 32 && n < sizeof(img));
  /* A version 1 image (no owners) is CORRUPT, even with a valid checksum. */
  assert_int_equal(img[8], 4);
  write_mutated(f, img, n, 8, 4 ^ 1);
  bs_store *v1 = NULL;
  assert_bs_err(bs_sim_load(&v1, f), BS_ECORRUPT);
  assert_null(v1);
  int loaded = 0, corrupt = 0;
  const uint8_t flips[] = {0x01, 0x80, 0xff};
  for (size_t off = 8; off < n - 8; off++) {
    if (off >= 200 && off < n - 400 && off % 61 != 0)
      continue; /* the middle is mostly block data: sample it */
    for (size_t k = 0; k < sizeof(flips); k++) {
      write_mutated(f, img, n, off, flips[k]);
      bs_store *ld = NULL;
      int rc = bs_sim_load(&ld, f);
      if (rc == BS_OK) {
        loaded++;
        /* The loader promises a consistent store (the sim_image fuzz target
         * holds it to that too). */
        if (bs_check(ld) != BS_OK)
          fail_msg("offset %zu ^ 0x%02x loaded, but check says: %s", off, flips[k], bs_last_message(ld));
        /* Whatever was accepted must also be safe to use. */
        (void)bs_write(ld, "/a", 4090, "across", 6);
        (void)bs_power_loss(ld, BS_POWER_LOSS_TEAR);
        (void)bs_reflink(ld, "/a", "/d/r");
        (void)bs_chown(ld, "/d/e", 1, BS_ID_KEEP);
        (void)bs_unlink(ld, "/a");
        (void)bs_rename(ld, "/d", "/D2");
        (void)bs_snapshot_create(ld, "s9", NULL);
        bs_close(ld);
      } else {
        if (rc != BS_ECORRUPT)
          fail_msg("offset %zu ^ 0x%02x: %s", off, flips[k], bs_err_name(rc));
        corrupt++;
      }
    }
  }
  if (corrupt == 0 || loaded == 0)
    fail_msg("%d mutations loaded, %d were CORRUPT", loaded, corrupt);
  unlink(f);
}

static void sim_image_rejects_malformed(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, malformed_body, NULL, bs_test_seed());
}

static void determinism_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_store *twin = bs_test_open_sim(t->profile, bs_test_seed());
  bs_store *other = bs_test_open_sim(t->profile, bs_test_seed() + 1);
  build_state(st, &t->caps);
  build_state(twin, &t->caps);
  build_state(other, &t->caps);
  continue_and_compare(st, twin, &t->caps);
  int64_t a, b;
  assert_bs_ok(bs_clock_ns(st, &a));
  assert_bs_ok(bs_clock_ns(other, &b));
  assert_true(a != b); /* jitter is seeded */
  bs_close(twin);
  bs_close(other);
}

static void sim_same_seed_same_results(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, determinism_body, NULL, bs_test_seed());
}

/* ---- deliberate bugs -------------------------------------------------------- */

static void cow_bug_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/a", 2 * BLK, 1);
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_check(st));
  assert_bs_ok(bs_sim_set_bug(st, BS_SIM_BUG_COW_IN_PLACE));
  if (t->caps.native_reflink) {
    /* A write to the clone reaches the source: the defect is real ... */
    assert_bs_ok(bs_reflink(st, "/a", "/b"));
    assert_bs_ok(bs_write(st, "/b", 0, "BUG", 3));
    char c[3];
    size_t n;
    assert_bs_ok(bs_read(st, "/a", 0, c, 3, &n));
    assert_memory_equal(c, "BUG", 3);
  } else {
    /* ... and without reflink it still breaks the durable copy. */
    assert_bs_ok(bs_write(st, "/a", 0, "BUG", 3));
  }
  /* ... and check() sees it. */
  assert_bs_err(bs_check(st), BS_ECORRUPT);
  assert_non_null(strstr(bs_last_message(st), "shared"));
}

static void sim_check_detects_cow_in_place(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, cow_bug_body, NULL, bs_test_seed());
}

static void leak_bug_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  assert_bs_ok(bs_sim_set_bug(st, BS_SIM_BUG_LEAK_BLOCK));
  bs_test_put(st, "/a", 2 * BLK, 1);
  assert_bs_ok(bs_check(st));
  assert_bs_ok(bs_unlink(st, "/a"));
  assert_bs_err(bs_check(st), BS_ECORRUPT);
  assert_string_equal(bs_last_message(st), "block 0: refcount 1, referenced by 0 map(s)");
  assert_int_equal(bs_test_usage(st).used_bytes, 2 * BLK); /* the space is gone */
  /* Turned off, new work is consistent again but the leak stays. */
  assert_bs_ok(bs_sim_set_bug(st, BS_SIM_BUG_NONE));
  assert_bs_err(bs_check(st), BS_ECORRUPT);
}

static void sim_check_detects_leak_block(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, leak_bug_body, NULL, bs_test_seed());
}

static void enospc_body(bs_store *big, const bs_target *t, void *ctx) {
  (void)big;
  (void)ctx;
  bs_store *st = bs_test_open_sim_sized(t->profile, 1, 8 * BLK);
  uint8_t buf[9 * BLK];
  memset(buf, 7, sizeof(buf));
  assert_bs_ok(bs_create(st, "/f", 0644));
  assert_bs_err(bs_write(st, "/f", 0, buf, sizeof(buf)), BS_ENO_SPACE);
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/f", &s));
  assert_int_equal(s.size, 0);
  assert_int_equal(bs_test_usage(st).used_bytes, 0);
  assert_bs_ok(bs_write(st, "/f", 0, buf, 8 * BLK));
  assert_int_equal(bs_test_usage(st).free_bytes, 0);
  /* Synced blocks are kept by the durable map: overwriting needs new space. */
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_err(bs_write(st, "/f", 0, "x", 1), BS_ENO_SPACE);
  assert_bs_ok(bs_truncate(st, "/f", 4 * BLK));
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_write(st, "/f", 0, "x", 1));
  assert_bs_err(bs_write(st, "/f", 1ull << 50, "x", 1), BS_ENO_SPACE); /* file too large */
  assert_bs_ok(bs_check(st));
  bs_close(st);
}

static void sim_enospc_is_all_or_nothing(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, enospc_body, NULL, bs_test_seed());
}

/* Copy committed image tests/data/sim-image-v@version.img, which must be
 * of that version, to a scratch file of the suite: its path in @f. */
static void committed_image(char *f, size_t cap, int version) {
  char name[64], tag[8];
  snprintf(name, sizeof(name), "sim-image-v%d.img", version);
  snprintf(tag, sizeof(tag), "v%d", version);
  size_t len = 0;
  char *img = bs_test_data_load(name, &len);
  assert_int_equal(img[8], version);
  image_path(f, cap, tag);
  FILE *w = fopen(f, "wb");
  assert_non_null(w);
  assert_int_equal(fwrite(img, 1, len, w), len);
  fclose(w);
  free(img);
}

/* Image file @f is of version @version (byte 8 of its header). */
static void assert_image_version(const char *f, int version) {
  FILE *in = fopen(f, "rb");
  assert_non_null(in);
  uint8_t head[12];
  assert_int_equal(fread(head, 1, sizeof(head), in), sizeof(head));
  fclose(in);
  assert_int_equal(head[8], version);
}

/* An image saved before the registry moved to the core (version 2: the
 * sim named its own trees) loads with every snapshot and branch as it was,
 * and is saved as version 4.  tests/data/sim-image-v2.img: apfs, snapshots
 * s1 (id 1, one branch "br") and s2 (id 2), made by bslab of commit eb692c0
 * (the last with version 2): init --profile apfs; snapshot create s1;
 * branch create s1 br; snapshot create s2. */
static void sim_image_of_version_2_keeps_its_snapshots(void **state) {
  (void)state;
  char f[512];
  committed_image(f, sizeof(f), 2);
  for (int round = 0; round < 2; round++) { /* as loaded, then saved as version 3 and loaded again */
    bs_store *st = NULL;
    assert_bs_ok(bs_sim_load(&st, f));
    bs_snapshot_info *all = NULL;
    size_t n = 0;
    assert_bs_ok(bs_snapshot_list(st, &all, &n));
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "s1");
    assert_int_equal(all[0].id, 1);
    assert_int_equal(all[0].branch_count, 1);
    assert_int_equal(all[0].created_ns, 1700000000000000000ull);
    assert_string_equal(all[1].name, "s2");
    assert_int_equal(all[1].id, 2);
    free(all);
    uint64_t parent = 0;
    assert_bs_ok(bs_branch_parent(st, "br", &parent));
    assert_int_equal(parent, 1);
    assert_bs_err(bs_snapshot_delete(st, 1), BS_EBUSY);
    bs_stat_info si;
    assert_bs_ok(bs_stat(st, "/.bs/branches/br", &si));
    assert_int_equal(si.kind, BS_KIND_DIR);
    assert_bs_ok(bs_check(st));
    /* New ids go on from where version 2 left them. */
    bs_snapshot_info s3;
    assert_bs_ok(bs_snapshot_create(st, "s3", &s3));
    assert_true(s3.id > 2);
    assert_bs_ok(bs_snapshot_delete(st, s3.id));
    assert_bs_ok(bs_sim_save(st, f));
    bs_close(st);
    assert_image_version(f, 4);
  }
  unlink(f);
}

/* A version-3 image (before links) loads, and is saved as version 4.
 * tests/data/sim-image-v3.img: btrfs, /d/f holding "hello\n", snapshot s1
 * (id 1) with branch br, made by bslab of branch links before the bump
 * (version 3 as df6e69b wrote it): init --profile btrfs; mkdir /d;
 * put hello.txt /d/f; snapshot create s1; branch create s1 br. */
static void sim_image_of_version_3_keeps_its_files_and_trees(void **state) {
  (void)state;
  char f[512];
  committed_image(f, sizeof(f), 3);
  for (int round = 0; round < 2; round++) { /* as loaded, then saved as version 4 and loaded again */
    bs_store *st = NULL;
    assert_bs_ok(bs_sim_load(&st, f));
    char buf[16] = {0};
    size_t got = 0;
    assert_bs_ok(bs_read(st, "/d/f", 0, buf, sizeof(buf), &got));
    assert_int_equal(got, 6);
    assert_memory_equal(buf, "hello\n", 6);
    bs_stat_info si;
    assert_bs_ok(bs_stat(st, "/d/f", &si));
    assert_int_equal(si.nlink, round == 0 ? 1 : 2);
    assert_bs_ok(bs_read(st, "/.bs/snapshots/s1/d/f", 0, buf, sizeof(buf), &got));
    assert_int_equal(got, 6);
    uint64_t parent = 0;
    assert_bs_ok(bs_branch_parent(st, "br", &parent));
    assert_int_equal(parent, 1);
    assert_bs_ok(bs_check(st));
    /* Links are new in version 4: made here, kept by the save below. */
    if (round == 0) {
      assert_bs_ok(bs_link(st, "/d/f", "/g"));
      assert_bs_ok(bs_symlink(st, "d", "/l"));
    } else {
      assert_bs_ok(bs_stat(st, "/g", &si));
      assert_int_equal(si.nlink, 2);
      assert_bs_ok(bs_read(st, "/l/f", 0, buf, sizeof(buf), &got));
      assert_int_equal(got, 6);
    }
    assert_bs_ok(bs_sim_save(st, f));
    bs_close(st);
    assert_image_version(f, 4);
  }
  unlink(f);
}

/* A held clock does not move on calls; a charge moves it exactly as the
 * call it stands for would have (latency and jitter), held or not. */
static void sim_clock_hold_and_charge(void **state) {
  (void)state;
  uint64_t seed = bs_test_seed();
  bs_store *a = bs_test_open_sim("btrfs", seed), *b = bs_test_open_sim("btrfs", seed);
  bs_stat_info si;
  char buf[64];
  size_t n;
  int64_t ta, tb, t0;
  for (int i = 0; i < 2; i++) {
    bs_store *st = i ? b : a;
    assert_bs_ok(bs_create(st, "/f", 0644));
    assert_bs_ok(bs_write(st, "/f", 0, "twelve bytes", 12));
  }
  /* a: a stat and a read; b: the same with the clock held, then charged. */
  assert_bs_ok(bs_stat(a, "/f", &si));
  assert_bs_ok(bs_read(a, "/f", 0, buf, sizeof(buf), &n));
  assert_bs_ok(bs_clock_ns(b, &t0));
  assert_bs_ok(bs_sim_clock_hold(b, true));
  assert_bs_ok(bs_stat(b, "/f", &si));
  assert_bs_ok(bs_read(b, "/f", 0, buf, sizeof(buf), &n));
  assert_bs_err(bs_stat(b, "/absent", &si), BS_ENOT_FOUND);
  assert_bs_ok(bs_clock_ns(b, &tb));
  assert_int_equal(tb, t0);
  assert_bs_ok(bs_sim_clock_charge(b, BS_OPC_META, 0));
  assert_bs_ok(bs_sim_clock_charge(b, BS_OPC_READ, 12));
  assert_bs_ok(bs_sim_clock_hold(b, false));
  assert_bs_ok(bs_clock_ns(a, &ta));
  assert_bs_ok(bs_clock_ns(b, &tb));
  assert_int_equal(ta, tb);
  assert_true(tb > t0);
  /* Released: calls move both clocks alike again. */
  assert_bs_ok(bs_stat(a, "/f", &si));
  assert_bs_ok(bs_stat(b, "/f", &si));
  assert_bs_ok(bs_clock_ns(a, &ta));
  assert_bs_ok(bs_clock_ns(b, &tb));
  assert_int_equal(ta, tb);
  assert_bs_err(bs_sim_clock_charge(b, (bs_op_class)99, 0), BS_EINVALID);
  assert_bs_err(bs_sim_clock_hold(NULL, true), BS_EINVALID);
  assert_bs_err(bs_sim_clock_charge(NULL, BS_OPC_META, 0), BS_EINVALID);
  bs_close(a);
  bs_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(sim_clock_hold_and_charge),
    cmocka_unit_test(sim_open_and_caps),
    cmocka_unit_test(sim_power_loss_drop),
    cmocka_unit_test(sim_power_loss_tear),
    cmocka_unit_test(sim_image_round_trip),
    cmocka_unit_test(sim_image_rejects_malformed),
    cmocka_unit_test(sim_image_of_version_2_keeps_its_snapshots),
    cmocka_unit_test(sim_image_of_version_3_keeps_its_files_and_trees),
    cmocka_unit_test(sim_same_seed_same_results),
    cmocka_unit_test(sim_check_detects_cow_in_place),
    cmocka_unit_test(sim_check_detects_leak_block),
    cmocka_unit_test(sim_enospc_is_all_or_nothing),
  };
  return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
