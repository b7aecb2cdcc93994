#include "tests/support/bs_test.h"

#ifdef FIU_ENABLE
#include <fiu-control.h>
#include <fiu.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#ifdef __linux__
#include <linux/fiemap.h>
#include <linux/fs.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backstore/sim.h"
#include "tests/support/volume.h"
#include "tests/support/darwin_fake.h"
#ifdef __linux__
#include "real/linux.h"
#endif

uint64_t bs_test_seed(void) {
  const char *s = getenv("BS_TEST_SEED");
  return s && *s ? strtoull(s, NULL, 0) : 0x5eed2026ull;
}

uint64_t bs_test_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int bs_test_env_count(const char *name, int dflt) {
  const char *s = getenv(name);
  int n = s && *s ? atoi(s) : 0;
  return n > 0 ? n : dflt;
}

int bs_test_iterations(int dflt) { return bs_test_env_count("BS_TEST_ITER", dflt); }

const char *bs_test_bslab(void) {
  const char *s = getenv("BSLAB");
  return s && *s ? s : "build/bslab";
}

bs_store *bs_test_open_sim(const char *profile, uint64_t seed) {
  return bs_test_open_sim_sized(profile, seed, 0);
}

bs_store *bs_test_open_sim_sized(const char *profile, uint64_t seed, uint64_t capacity) {
  bs_store *st = NULL;
  bs_open_opts o = {.profile = profile, .seed = seed, .capacity = capacity};
  int rc = bs_open(&st, "sim", &o);
  if (rc != 0)
    fail_msg("bs_open(sim, %s) returned %s", profile, bs_err_name(rc));
  return st;
}

bool bs_want_reflink(const bs_caps *c) { return c->native_reflink; }
bool bs_want_no_reflink(const bs_caps *c) { return !c->native_reflink; }
bool bs_want_snapshots(const bs_caps *c) { return c->native_snapshots; }
bool bs_want_no_snapshots(const bs_caps *c) { return !c->native_snapshots; }

uint8_t *bs_test_pattern(size_t len, uint8_t fill) {
  uint8_t *p = malloc(len ? len : 1);
  assert_non_null(p);
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(fill + i * 7);
  return p;
}

void bs_test_put(bs_store *st, const char *path, size_t len, uint8_t fill) {
  uint8_t *buf = bs_test_pattern(len, fill);
  assert_bs_ok(bs_create(st, path, 0644));
  if (len)
    assert_bs_ok(bs_write(st, path, 0, buf, len));
  free(buf);
}

uint8_t *bs_test_slurp(bs_store *st, const char *path, size_t *len) {
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, path, &si));
  uint8_t *buf = malloc(si.size ? si.size : 1);
  assert_non_null(buf);
  size_t got = 0;
  assert_bs_ok(bs_read(st, path, 0, buf, si.size, &got));
  assert_int_equal(got, si.size);
  *len = got;
  return buf;
}

void bs_test_assert_content(bs_store *st, const char *path, const uint8_t *want, size_t len) {
  size_t got = 0;
  uint8_t *buf = bs_test_slurp(st, path, &got);
  assert_int_equal(got, len);
  if (len)
    assert_memory_equal(buf, want, len);
  free(buf);
}

void bs_test_assert_put(bs_store *st, const char *path, size_t len, uint8_t fill) {
  uint8_t *want = bs_test_pattern(len, fill);
  bs_test_assert_content(st, path, want, len);
  free(want);
}

void bs_test_put_text(bs_store *st, const char *path, const char *text) {
  assert_bs_ok(bs_create(st, path, 0644));
  assert_bs_ok(bs_write(st, path, 0, text, strlen(text)));
}

void bs_test_assert_text(bs_store *st, const char *path, const char *text) {
  bs_test_assert_content(st, path, (const uint8_t *)text, strlen(text));
}

bs_usage bs_test_usage(bs_store *st) {
  bs_usage u;
  assert_bs_ok(bs_usage_get(st, &u));
  return u;
}

static int append_name(void *ctx, const char *name, bs_file_kind kind) {
  char *acc = ctx;
  size_t n = strlen(acc);
  snprintf(acc + n, BS_TEST_LISTING_MAX - n, "%s%s;", name, kind == BS_KIND_DIR ? "/" : "");
  return 0;
}

void bs_test_listing(bs_store *st, const char *path, char out[BS_TEST_LISTING_MAX]) {
  out[0] = '\0';
  assert_bs_ok(bs_readdir(st, path, append_name, out));
}

void bs_test_assert_listing(bs_store *st, const char *path, const char *want) {
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, path, l);
  assert_string_equal(l, want);
}

/* ---- every backend ------------------------------------------------------------ */

bool bs_want_all(const bs_caps *c) {
  (void)c;
  return true;
}

const char *bs_test_real_unavailable(void) {
  const char *why = bs_vol_unavailable();
  const char *req = getenv("BS_REQUIRE_REAL");
  if (why && req && strcmp(req, "1") == 0)
    fail_msg("real volumes are required ($BS_REQUIRE_REAL=1) but cannot be made: %s", why);
  return why;
}

#ifdef FIU_ENABLE
static int fail_countdown;
static int fail_nth_cb(const char *name, int *failnum, void **failinfo, unsigned *flags) {
  (void)name;
  (void)failnum;
  (void)failinfo;
  (void)flags;
  return --fail_countdown == 0;
}

void bs_test_fail_nth(const char *point, int nth, int err) {
  fiu_init(0);
  fail_countdown = nth;
  assert_int_equal(fiu_enable_external(point, 1, (void *)(intptr_t)err, 0, fail_nth_cb), 0);
}

bool bs_test_fault_fired(void) { return fail_countdown <= 0; }
#endif

const bs_vol *bs_test_volume(const char *fs) {
  BS_TEST_SKIP_WITHOUT_REAL();
  const bs_vol *v = bs_vol_shared(fs);
  if (!v)
    fail_msg("%s volume: %s", fs, bs_vol_last_error());
  return v;
}

bool bs_test_exact_space(const bs_target *t) { return t->kind == BS_TARGET_SIM; }

void bs_test_check(bs_store *st, const bs_target *t) {
  if (t->kind != BS_TARGET_REAL) /* the sim, and the darwin fake over it */
    assert_bs_ok(bs_check(st));
}

void bs_test_host_path(const bs_target *t, const char *path, char *buf) {
  assert_non_null(t->root);
  int n = snprintf(buf, 4096, "%s%s", t->root, path);
  assert_true(n > 0 && n < 4096);
}

size_t bs_test_host_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    fail_msg("opendir %s: %s", dir, strerror(errno));
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

/* The real volumes every body runs on, in this order, and the open flags of
 * each store.  The copying-snapshot twins of ext4 and tmpfs run only under
 * bs_test_each_backend_if, whose filter sees the flags.  The RAM-disk
 * targets (docs/ramdisk.md) run every body on a RAM disk made for it. */
static const struct {
  const char *fs;
  uint32_t flags;
  bool ramdisk;
} real_fs[] = {
  {"btrfs", 0, false}, {"xfs", 0, false}, {"ext4", 0, false}, {"tmpfs", 0, false},
  {"ext4", BS_OPEN_SNAPSHOT_COPY, false}, {"tmpfs", BS_OPEN_SNAPSHOT_COPY, false},
  {"btrfs", 0, true}, {"xfs", 0, true},
};

/* Directories handed out by bs_test_open_fresh, by store. */
#define MAX_FRESH 16
static struct {
  bs_store *st;
  char dir[4096];
  bs_ramdisk *rd; /* the RAM disk of a RAM-disk target's store, destroyed with it */
} fresh[MAX_FRESH];

#ifndef __linux__
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

#endif

/* A real store's directory may hold snapshot trees: immutable ones, and on
 * btrfs read-only subvolumes, which only the backend's own removal takes. */
static void rm_tree(const char *dir) {
#ifdef __linux__
  int rc = bs__linux_remove_tree(dir, false);
  if (rc != 0 && rc != -ENOENT)
    fail_msg("cannot remove test directory %s: %s", dir, strerror(-rc));
#else
  if (nftw(dir, rm_entry, 64, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
    fail_msg("cannot remove test directory %s: %s", dir, strerror(errno));
#endif
}

/* A real store on @dir with @t's open flags; fails the test on error. */
static bs_store *open_real(const bs_target *t, const char *dir) {
  bs_open_opts o = {.root = dir, .flags = t->open_flags};
  bs_store *st = NULL;
  int rc = bs_open(&st, "real", &o);
  if (rc != 0)
    fail_msg("bs_open(real, %s): %s", dir, bs_err_name(rc));
  return st;
}

bs_store *bs_test_open_fresh(const bs_target *t, uint64_t seed) {
  if (t->kind == BS_TARGET_SIM)
    return bs_test_open_sim(t->profile, seed);
  if (t->kind == BS_TARGET_DARWIN) {
    bs_store *st = NULL;
    int rc = bs_darwin_fake_open(&st, t->profile, seed);
    if (rc != 0)
      fail_msg("darwin fake on %s: %s", t->profile, bs_err_name(rc));
    return st;
  }
  static unsigned counter;
  int slot = 0;
  while (slot < MAX_FRESH && fresh[slot].st)
    slot++;
  assert_true(slot < MAX_FRESH);
  const char *mnt;
  if (t->ramdisk) {
    bs_ramdisk_opts ro = {.fs = t->profile, .size_mb = strcmp(t->profile, "xfs") == 0 ? 300 : 256};
    if (bs_ramdisk_create(&fresh[slot].rd, &ro) != 0)
      fail_msg("a %s RAM disk: %s", t->profile, bs_ramdisk_last_message());
    mnt = bs_ramdisk_info_of(fresh[slot].rd)->mount;
  } else {
    const bs_vol *v = bs_vol_shared(t->profile);
    if (!v)
      fail_msg("no %s volume: %s", t->profile, bs_vol_last_error());
    mnt = v->mnt;
  }
  snprintf(fresh[slot].dir, sizeof(fresh[slot].dir), "%.4000s/t%u-%u", mnt, (unsigned)getpid(),
           counter++);
  rm_tree(fresh[slot].dir);
  /* As the backend makes a store (on btrfs a subvolume, so native
   * snapshots work in the shared bodies). */
  bs_open_opts co = {.root = fresh[slot].dir};
  int rc = bs_store_create("real", &co);
  if (rc != 0)
    fail_msg("bs_store_create(real, %s): %s", fresh[slot].dir, bs_err_name(rc));
  fresh[slot].st = open_real(t, fresh[slot].dir);
  return fresh[slot].st;
}

const char *bs_test_fresh_root(const bs_store *st) {
  for (int i = 0; st && i < MAX_FRESH; i++)
    if (fresh[i].st == st)
      return fresh[i].dir;
  return NULL;
}

void bs_test_close_fresh(bs_store *st) {
  for (int i = 0; i < MAX_FRESH; i++)
    if (fresh[i].st == st && st) {
      bs_close(st);
      if (fresh[i].rd) { /* the whole RAM disk goes */
        int rc = bs_ramdisk_destroy(fresh[i].rd);
        bs_ramdisk_free(fresh[i].rd);
        fresh[i].rd = NULL;
        if (rc != 0)
          fail_msg("destroy the RAM disk of %s: %s", fresh[i].dir, bs_ramdisk_last_message());
      } else {
        rm_tree(fresh[i].dir);
      }
      fresh[i].st = NULL;
      return;
    }
  bs_close(st);
}

/* The store the running body was given, or the one bs_test_reopen replaced
 * it with: the one run_on closes. */
static bs_store *live;

bs_store *bs_test_reopen(const bs_target *t, bs_store *st) {
  bs_store *again = NULL;
  if (t->kind == BS_TARGET_REAL) {
    int slot = 0;
    while (slot < MAX_FRESH && fresh[slot].st != st)
      slot++;
    assert_true(slot < MAX_FRESH);
    bs_close(st);
    fresh[slot].st = again = open_real(t, fresh[slot].dir);
  } else {
    assert_int_equal(t->kind, BS_TARGET_SIM);
    /* In memory where there is a tmpfs: the save fsyncs, and property tests
     * restart often. */
    struct stat sb;
    const char *dir = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    char img[64];
    snprintf(img, sizeof(img), "%s/bs-test-reopen-%u.img", dir, (unsigned)getpid());
    assert_bs_ok(bs_sim_save(st, img));
    bs_close(st);
    int rc = bs_sim_load(&again, img);
    unlink(img);
    if (rc != 0)
      fail_msg("bs_sim_load(%s): %s", img, bs_err_name(rc));
  }
  if (st == live)
    live = again;
  return again;
}

/* Run @body on a fresh store of @t if @want (capabilities) and @want_t
 * (the whole target) accept it; either may be NULL. */
static void run_on(bs_target *t, bs_target_pred want, bs_target_filter want_t, bs_target_body body,
                   void *ctx, uint64_t seed, int *ran) {
  char label[64];
  snprintf(label, sizeof(label), "%s:%s%s",
           t->kind == BS_TARGET_SIM ? "sim" : t->kind == BS_TARGET_REAL ? (t->ramdisk ? "ramdisk" : "real") : "darwin",
           t->profile, t->open_flags ? "+copy" : "");
  t->label = label;
  bs_store *st = bs_test_open_fresh(t, seed);
  assert_bs_ok(bs_get_caps(st, &t->caps));
  for (int i = 0; t->kind == BS_TARGET_REAL && i < MAX_FRESH; i++)
    if (fresh[i].st == st)
      t->root = fresh[i].dir;
  if ((want && !want(&t->caps)) || (want_t && !want_t(t))) {
    bs_test_close_fresh(st);
    return;
  }
  print_message("    [ target   ] %s\n", label);
  live = st;
  body(st, t, ctx);
  bs_test_close_fresh(live);
  live = NULL;
  (*ran)++;
}

/* Every target of the kinds in @kinds, each accepted by @want and @want_t. */
static void each(unsigned kinds, bs_target_pred want, bs_target_filter want_t, bs_target_body body,
                 void *ctx, uint64_t seed) {
  int ran = 0;
  for (int i = 0; (kinds & BS_KINDS(BS_TARGET_SIM)) && i < BS_SIM_PROFILE_COUNT; i++) {
    bs_target t = {.backend = "sim", .profile = bs_sim_profile_names[i], .kind = BS_TARGET_SIM};
    run_on(&t, want, want_t, body, ctx, seed, &ran);
  }
  const char *why = (kinds & BS_KINDS(BS_TARGET_REAL)) ? bs_test_real_unavailable() : NULL;
  for (size_t i = 0; (kinds & BS_KINDS(BS_TARGET_REAL)) && i < sizeof(real_fs) / sizeof(real_fs[0]);
       i++) {
    if (why) {
      print_message("    [ skipped  ] real:%s: %s\n", real_fs[i].fs, why);
      continue;
    }
    if (real_fs[i].flags && !want_t)
      continue; /* only a filter can tell these from their plain twins */
    bs_target t = {.backend = "real", .profile = real_fs[i].fs, .kind = BS_TARGET_REAL,
                   .open_flags = real_fs[i].flags, .ramdisk = real_fs[i].ramdisk};
    run_on(&t, want, want_t, body, ctx, seed, &ran);
  }
  static const char *const darwin_profiles[] = {"apfs", "hfs"};
  for (size_t i = 0; (kinds & BS_KINDS(BS_TARGET_DARWIN)) && i < 2; i++) {
    bs_target t = {.backend = "darwin-fake", .profile = darwin_profiles[i], .kind = BS_TARGET_DARWIN};
    run_on(&t, want, want_t, body, ctx, seed, &ran);
  }
  if (ran == 0)
    fail_msg("no target supports this behaviour");
}

void bs_test_each_sim_profile(bs_target_pred want, bs_target_body body, void *ctx, uint64_t seed) {
  each(BS_KINDS(BS_TARGET_SIM), want, NULL, body, ctx, seed);
}

void bs_test_each_backend(bs_target_pred want, bs_target_body body, void *ctx, uint64_t seed) {
  each(BS_KINDS_ALL, want, NULL, body, ctx, seed);
}

void bs_test_each_backend_of(unsigned kinds, bs_target_pred want, bs_target_body body, void *ctx,
                             uint64_t seed) {
  each(kinds, want, NULL, body, ctx, seed);
}

void bs_test_each_backend_if(unsigned kinds, bs_target_filter want, bs_target_body body, void *ctx,
                             uint64_t seed) {
  each(kinds, NULL, want, body, ctx, seed);
}

bool bs_test_snapshots_work(const bs_target *t) {
  switch (t->kind) {
  case BS_TARGET_SIM:
    return t->caps.native_snapshots;
  case BS_TARGET_REAL: /* btrfs native, xfs reflink tree, ext4/tmpfs copies when asked for */
    return t->caps.native_snapshots || t->caps.native_reflink ||
           (t->open_flags & BS_OPEN_SNAPSHOT_COPY);
  case BS_TARGET_DARWIN: /* APFS native snapshots through the fake seam */
    return t->caps.native_snapshots;
  }
  return false;
}

bool bs_test_snapshots_unsupported(const bs_target *t) {
  switch (t->kind) {
  case BS_TARGET_SIM:
    return !t->caps.native_snapshots;
  case BS_TARGET_REAL: /* ext4, tmpfs: no reflink, and the copying fallback not asked for */
    return !t->caps.native_snapshots && !t->caps.native_reflink &&
           !(t->open_flags & BS_OPEN_SNAPSHOT_COPY);
  case BS_TARGET_DARWIN:
    return !t->caps.native_snapshots;
  }
  return false;
}

#ifdef __linux__
size_t bs_test_fiemap(const char *host_path, bs_test_extent out[BS_TEST_EXTENTS_MAX]) {
  int fd = open(host_path, O_RDONLY);
  if (fd < 0)
    fail_msg("open %s: %s", host_path, strerror(errno));
  size_t sz = sizeof(struct fiemap) + BS_TEST_EXTENTS_MAX * sizeof(struct fiemap_extent);
  struct fiemap *fm = calloc(1, sz);
  assert_non_null(fm);
  fm->fm_start = 0;
  fm->fm_length = FIEMAP_MAX_OFFSET;
  fm->fm_flags = FIEMAP_FLAG_SYNC;
  fm->fm_extent_count = BS_TEST_EXTENTS_MAX;
  if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0)
    fail_msg("FIEMAP %s: %s", host_path, strerror(errno));
  size_t n = fm->fm_mapped_extents;
  for (size_t i = 0; i < n; i++)
    out[i] = (bs_test_extent){fm->fm_extents[i].fe_logical, fm->fm_extents[i].fe_physical,
                              fm->fm_extents[i].fe_length, fm->fm_extents[i].fe_flags};
  free(fm);
  close(fd);
  return n;
}

#else
size_t bs_test_fiemap(const char *host_path, bs_test_extent out[BS_TEST_EXTENTS_MAX]) {
  (void)out;
  fail_msg("FIEMAP of %s: Linux only", host_path);
  return 0;
}
#endif

uint64_t bs_test_shared_bytes(const char *host_path) {
  bs_test_extent *e = calloc(BS_TEST_EXTENTS_MAX, sizeof(*e));
  assert_non_null(e);
  size_t n = bs_test_fiemap(host_path, e);
  uint64_t shared = 0;
  for (size_t i = 0; i < n; i++)
    if (e[i].flags & BS_TEST_EXTENT_SHARED)
      shared += e[i].length;
  free(e);
  return shared;
}

size_t bs_test_golden_load(const char *name, uint8_t *buf, size_t cap) {
  const char *dir = getenv("BS_GOLDEN_DIR");
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "golden", name);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open golden file %s (run from the repo root or set BS_GOLDEN_DIR)", path);
  size_t n = fread(buf, 1, cap, f);
  int more = fgetc(f) != EOF;
  fclose(f);
  assert_false(more);
  return n;
}

char *bs_test_data_load(const char *name, size_t *len) {
  const char *dir = getenv("BS_TEST_DATA_DIR");
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "tests/data", name);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open test data %s (run from the repo root or set BS_TEST_DATA_DIR)", path);
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  for (size_t k; (k = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += k;
    if (cap - n - 1 == 0) {
      cap *= 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
  }
  assert_false(ferror(f));
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}
