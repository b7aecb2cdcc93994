/* The snapshot API, one body per behaviour (issue 4, "Tests"), run on every
 * target where the API works (bs_test_snapshots_work: sim apfs and btrfs,
 * real volumes as their snapshots land) and, for the UNSUPPORTED answer, on
 * every target without snapshots.  Space is checked exactly in the sim and
 * through statvfs, with a tolerance, on real volumes. */
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"
#include "tests/support/snap_test.h"

#define MIB (1024u * 1024u)

/* Real timestamps come from the kernel's coarse clock, which may lag the
 * fine clock bs_clock_ns reads by a tick. */
#define CLOCK_SLACK_NS (50LL * 1000 * 1000)

static void each_with_snapshots(bs_target_body body) {
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, body, NULL, bs_test_seed());
}

/* ---- create_snapshot_succeeds ------------------------------------------------ */

static void succeeds_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_snap_test_make_tree(st, t, "", 1);
  int64_t before, after;
  assert_bs_ok(bs_clock_ns(st, &before));
  bs_snapshot_info si, found;
  assert_bs_ok(bs_snapshot_create(st, "nightly", &si));
  assert_bs_ok(bs_clock_ns(st, &after));
  assert_true(si.id > 0);
  assert_string_equal(si.name, "nightly");
  assert_true(si.readonly);
  assert_int_equal(si.branch_count, 0);
  if ((int64_t)si.created_ns < before - CLOCK_SLACK_NS || (int64_t)si.created_ns > after)
    fail_msg("created_ns %llu outside [%lld, %lld]", (unsigned long long)si.created_ns,
             (long long)before, (long long)after);
  bs_snap_test_assert_uuid(t, si.uuid);
  assert_bs_ok(bs_snapshot_lookup(st, "nightly", &found));
  assert_memory_equal(&found, &si, sizeof(si));
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  assert_int_equal(n, 1);
  assert_memory_equal(&all[0], &si, sizeof(si));
  free(all);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots", l);
  assert_string_equal(l, "nightly/;");
  bs_snap_test_assert_same_tree(st, "/", "/.bs/snapshots/nightly");
  bs_test_check(st, t);
}

static void create_snapshot_succeeds(void **state) {
  (void)state;
  each_with_snapshots(succeeds_body);
}

/* ---- create_snapshot_unsupported ---------------------------------------------- */

static void unsupported_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  bs_test_put(st, "/f", 100, 1);
  bs_snapshot_info si;
  int rc = bs_snapshot_create(st, "nightly", &si);
  assert_bs_err(rc, BS_EUNSUPPORTED);
  assert_int_equal(bs_err_wire(rc), 1);
  assert_true(bs_last_message(st)[0] != '\0');
  bs_snapshot_info *all = NULL;
  size_t n = 7;
  assert_bs_err(bs_snapshot_list(st, &all, &n), BS_EUNSUPPORTED);
  assert_null(all);
  assert_int_equal(n, 0);
  assert_bs_err(bs_snapshot_lookup(st, "nightly", &si), BS_EUNSUPPORTED);
  assert_bs_err(bs_snapshot_delete(st, 1), BS_EUNSUPPORTED);
  char path[300];
  assert_bs_err(bs_snapshot_mount_ro(st, 1, path, sizeof(path)), BS_EUNSUPPORTED);
  assert_bs_err(bs_branch_create(st, 1, "b"), BS_EUNSUPPORTED);
  assert_bs_err(bs_branch_delete(st, "b"), BS_EUNSUPPORTED);
  uint64_t parent = 7;
  assert_bs_err(bs_branch_parent(st, "b", &parent), BS_EUNSUPPORTED);
  bs_stat_info s;
  assert_bs_err(bs_stat(st, "/.bs/snapshots/nightly", &s), BS_ENOT_FOUND);
  bs_test_assert_put(st, "/f", 100, 1);
}

static void create_snapshot_unsupported(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_unsupported, unsupported_body, NULL,
                          bs_test_seed());
}

/* ---- snapshot_name_sanitization ------------------------------------------------ */

/* @n bytes: @unit repeated, then 'x' to fill up (so multibyte names hit @n exactly). */
static char *name_of_len(size_t n, const char *unit) {
  char *s = malloc(n + 1);
  assert_non_null(s);
  size_t u = strlen(unit), i = 0;
  for (; i + u <= n; i += u)
    memcpy(s + i, unit, u);
  memset(s + i, 'x', n - i);
  s[n] = '\0';
  return s;
}

static void names_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", 10, 1);
  char *l255 = name_of_len(255, "a"), *u255 = name_of_len(255, "\xe6\x97\xa5"); /* 日 x 85 */
  const char *ok[] = {
    "with spaces", " leading and trailing ", "caf\xc3\xa9", "cafe\xcc\x81", /* é two ways */
    "\xf0\x9f\x93\xb8 snap", "-dash", "$(reboot)", "...", l255, u255,
    "Nightly", "nightly", /* byte for byte, also on case-insensitive apfs */
  };
  size_t nok = sizeof(ok) / sizeof(ok[0]);
  for (size_t i = 0; i < nok; i++) {
    bs_snapshot_info si, found;
    int rc = bs_snapshot_create(st, ok[i], &si);
    if (rc != 0)
      fail_msg("good name #%zu: %s (%s)", i, bs_err_name(rc), bs_last_message(st));
    assert_string_equal(si.name, ok[i]);
    assert_bs_ok(bs_snapshot_lookup(st, ok[i], &found));
    assert_int_equal(found.id, si.id);
    char want[300], got[300];
    assert_bs_ok(bs_snapshot_path(want, sizeof(want), ok[i]));
    assert_bs_ok(bs_snapshot_mount_ro(st, si.id, got, sizeof(got)));
    assert_string_equal(got, want);
    bs_test_assert_put(st, strcat(want, "/f"), 10, 1);
    assert_bs_ok(bs_branch_create(st, si.id, ok[i])); /* branch names follow the same rules */
  }
  assert_int_equal(bs_snap_test_count(st), nok);
  char snaps[BS_TEST_LISTING_MAX], branches[BS_TEST_LISTING_MAX], l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots", snaps);
  bs_test_listing(st, "/.bs/branches", branches);

  char *l256 = name_of_len(256, "a"), *u256 = name_of_len(256, "\xe6\x97\xa5");
  char *bad256 = name_of_len(256, "\xff"); /* the length check comes first */
  const char *too_long[] = {l256, u256, bad256};
  const char *invalid[] = {
    "", ".", "..", "/", "a/b", "/lead", "trail/", "\xc3", "\x80", "ok\xfe", "\xff",
    "\xc0\xaf",         /* overlong '/' */
    "\xe0\x80\xaf",     /* overlong 3-byte '/' */
    "\xf0\x80\x80\xaf", /* overlong 4-byte '/' */
    "\xed\xa0\x80",     /* surrogate U+D800 */
    "\xed\xbf\xbf",     /* surrogate U+DFFF */
    "\xf4\x90\x80\x80", /* above U+10FFFF */
    "tab\there", "new\nline", "esc\x1b[2J", "del\x7f", "nel\xc2\x85", /* control characters */
  };
  bs_snapshot_info si;
  for (size_t i = 0; i < sizeof(too_long) / sizeof(too_long[0]); i++) {
    assert_bs_err(bs_snapshot_create(st, too_long[i], &si), BS_ENAME_TOO_LONG);
    assert_bs_err(bs_branch_create(st, 1, too_long[i]), BS_ENAME_TOO_LONG);
  }
  for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
    int rc = bs_snapshot_create(st, invalid[i], &si);
    if (rc != BS_EINVALID)
      fail_msg("bad name #%zu: %s, expected INVALID", i, bs_err_name(rc));
    assert_bs_err(bs_branch_create(st, 1, invalid[i]), BS_EINVALID);
  }
  for (size_t i = 0; i < nok; i++) {
    assert_bs_err(bs_snapshot_create(st, ok[i], &si), BS_EEXISTS);
    assert_bs_err(bs_branch_create(st, 1, ok[i]), BS_EEXISTS);
  }
  /* Nothing was made by any failure. */
  assert_int_equal(bs_snap_test_count(st), nok);
  bs_test_listing(st, "/.bs/snapshots", l);
  assert_string_equal(l, snaps);
  bs_test_listing(st, "/.bs/branches", l);
  assert_string_equal(l, branches);
  bs_test_check(st, t);
  free(l255);
  free(u255);
  free(l256);
  free(u256);
  free(bad256);
}

static void snapshot_name_sanitization(void **state) {
  (void)state;
  each_with_snapshots(names_body);
}

/* ---- snapshot_create_then_mount_ro_then_read ----------------------------------- */

static void mount_ro_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_snap_test_make_tree(st, t, "", 1);
  assert_bs_ok(bs_mkdir(st, "/frozen", 0755)); /* the same tree as / is at snapshot time */
  bs_snap_test_make_tree(st, t, "/frozen", 1);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  char root[300];
  assert_bs_ok(bs_snapshot_mount_ro(st, si.id, root, sizeof(root)));
  assert_string_equal(root, "/.bs/snapshots/s");
  bs_snap_test_assert_same_tree(st, "/", root);
  /* Later writes to the main tree are not seen through the snapshot. */
  assert_bs_ok(bs_write(st, "/a", 1, "CHANGED", 7));
  assert_bs_ok(bs_truncate(st, "/d/b", 1));
  assert_bs_ok(bs_chmod(st, "/d", 0777));
  assert_bs_ok(bs_unlink(st, "/d/e/c with space"));
  assert_bs_ok(bs_rename(st, "/empty", "/moved"));
  bs_test_put(st, "/new", 5, 9);
  if (t->caps.xattrs)
    assert_bs_ok(bs_setxattr(st, "/a", "user.tag", "beta", 4));
  assert_bs_ok(bs_sync(st, NULL));
  bs_snap_test_assert_same_tree(st, "/frozen", "/.bs/snapshots/s/frozen");
  bs_test_assert_put(st, "/.bs/snapshots/s/a", 3 * 4096 + 17, 1);
  bs_test_assert_put(st, "/.bs/snapshots/s/d/b", 4096, 2);
  bs_test_assert_put(st, "/.bs/snapshots/s/d/e/c with space", 100, 3);
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/d", &s));
  assert_int_equal(s.mode, 0750);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, root, l);
  assert_string_equal(l, "a;d/;empty;frozen/;");
  /* Writes through the snapshot are refused and change nothing. */
  const char *f = "/.bs/snapshots/s/a", *d = "/.bs/snapshots/s/d";
  assert_bs_err(bs_write(st, f, 0, "x", 1), BS_EPERMISSION);
  assert_bs_err(bs_truncate(st, f, 0), BS_EPERMISSION);
  assert_bs_err(bs_create(st, "/.bs/snapshots/s/new", 0644), BS_EPERMISSION);
  assert_bs_err(bs_mkdir(st, "/.bs/snapshots/s/nd", 0755), BS_EPERMISSION);
  assert_bs_err(bs_unlink(st, f), BS_EPERMISSION);
  assert_bs_err(bs_rmdir(st, "/.bs/snapshots/s/d/e"), BS_EPERMISSION);
  assert_bs_err(bs_chmod(st, d, 0777), BS_EPERMISSION);
  assert_bs_err(bs_utimens(st, f, 1, 2), BS_EPERMISSION);
  assert_bs_err(bs_rename(st, f, "/.bs/snapshots/s/g"), BS_EPERMISSION);
  if (t->caps.xattrs) {
    assert_bs_err(bs_setxattr(st, f, "user.tag", "w", 1), BS_EPERMISSION);
    assert_bs_err(bs_removexattr(st, f, "user.tag"), BS_EPERMISSION);
  }
  if (t->caps.native_reflink)
    assert_bs_err(bs_reflink(st, "/new", "/.bs/snapshots/s/g"), BS_EPERMISSION);
  bs_snap_test_assert_same_tree(st, "/frozen", "/.bs/snapshots/s/frozen");
  bs_test_check(st, t);
}

static void snapshot_create_then_mount_ro_then_read(void **state) {
  (void)state;
  each_with_snapshots(mount_ro_body);
}

/* ---- delete_ok_when_unused ------------------------------------------------------ */

static void delete_unused_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_snap_test_make_tree(st, t, "", 1);
  bs_snapshot_info keep, si, again;
  assert_bs_ok(bs_snapshot_create(st, "keep", &keep));
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  assert_bs_err(bs_snapshot_lookup(st, "s", &again), BS_ENOT_FOUND);
  assert_bs_err(bs_snapshot_delete(st, si.id), BS_ENOT_FOUND);
  char path[300];
  assert_bs_err(bs_snapshot_mount_ro(st, si.id, path, sizeof(path)), BS_ENOT_FOUND);
  assert_bs_err(bs_branch_create(st, si.id, "b"), BS_ENOT_FOUND);
  const uint64_t never[] = {0, si.id + 100, UINT64_MAX}; /* ids never handed out */
  for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
    assert_bs_err(bs_snapshot_delete(st, never[i]), BS_ENOT_FOUND);
    assert_bs_err(bs_snapshot_mount_ro(st, never[i], path, sizeof(path)), BS_ENOT_FOUND);
    assert_bs_err(bs_branch_create(st, never[i], "b"), BS_ENOT_FOUND);
  }
  bs_stat_info s;
  assert_bs_err(bs_stat(st, "/.bs/snapshots/s", &s), BS_ENOT_FOUND);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots", l);
  assert_string_equal(l, "keep/;");
  bs_test_listing(st, "/.bs/branches", l);
  assert_string_equal(l, "");
  /* The other snapshot and the main tree are untouched; the name is free
   * again, under a new id (ids are never reused). */
  bs_snap_test_assert_same_tree(st, "/", "/.bs/snapshots/keep");
  assert_bs_ok(bs_snapshot_create(st, "s", &again));
  assert_true(again.id > si.id);
  assert_int_equal(bs_snap_test_count(st), 2);
  bs_test_check(st, t);
}

static void delete_ok_when_unused(void **state) {
  (void)state;
  each_with_snapshots(delete_unused_body);
}

/* ---- delete_busy_when_branch_exists --------------------------------------------- */

static void branch_count_is(bs_store *st, const char *snap, uint32_t want) {
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_lookup(st, snap, &si));
  assert_int_equal(si.branch_count, want);
}

static void delete_busy_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_snap_test_make_tree(st, t, "", 1);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  assert_bs_ok(bs_branch_create(st, si.id, "b1"));
  assert_bs_ok(bs_branch_create(st, si.id, "b2"));
  branch_count_is(st, "s", 2);
  int rc = bs_snapshot_delete(st, si.id);
  assert_bs_err(rc, BS_EBUSY);
  assert_int_equal(bs_err_wire(rc), 4);
  /* BUSY changed nothing: snapshot and branches are all there. */
  branch_count_is(st, "s", 2);
  bs_snap_test_assert_same_tree(st, "/", "/.bs/snapshots/s");
  bs_snap_test_assert_same_tree(st, "/", "/.bs/branches/b1");
  assert_bs_ok(bs_branch_delete(st, "b1"));
  branch_count_is(st, "s", 1);
  assert_bs_err(bs_snapshot_delete(st, si.id), BS_EBUSY);
  uint64_t parent = 0;
  assert_bs_ok(bs_branch_parent(st, "b2", &parent));
  assert_int_equal(parent, si.id);
  assert_bs_ok(bs_branch_delete(st, "b2"));
  branch_count_is(st, "s", 0);
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  assert_int_equal(bs_snap_test_count(st), 0);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/branches", l);
  assert_string_equal(l, "");
  bs_test_check(st, t);
}

static void delete_busy_when_branch_exists(void **state) {
  (void)state;
  each_with_snapshots(delete_busy_body);
}

/* ---- delete_releases_space -------------------------------------------------------- */

static uint64_t free_bytes(bs_store *st) {
  assert_bs_ok(bs_sync(st, NULL));
  return bs_test_usage(st).free_bytes;
}

/* Fail unless @got is within a tenth of @want (statvfs on a real volume
 * also counts metadata; a tenth of 16 MiB is far above that noise). */
static void about(const char *what, int64_t got, int64_t want) {
  int64_t slack = want >= 0 ? want / 10 : -want / 10;
  if (slack < (int64_t)MIB)
    slack = MIB;
  if (got < want - slack || got > want + slack)
    fail_msg("%s: free space changed by %lld bytes, expected %lld +- %lld", what, (long long)got,
             (long long)want, (long long)slack);
}

static void releases_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  /* Sharing targets hold the file's blocks in the snapshot; the copying
   * fallback makes a second copy at snapshot time. */
  bool shares = t->caps.native_snapshots || t->caps.native_reflink;
  int64_t size = bs_test_exact_space(t) ? 2 * MIB : 16 * MIB;
  bs_test_put(st, "/small", 4096, 2);
  bs_test_put(st, "/big", (size_t)size, 1);
  int64_t f0 = (int64_t)free_bytes(st);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  int64_t f1 = (int64_t)free_bytes(st);
  assert_bs_ok(bs_unlink(st, "/big"));
  int64_t f2 = (int64_t)free_bytes(st);
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  int64_t f3 = (int64_t)free_bytes(st);
  if (bs_test_exact_space(t)) {
    assert_int_equal(f1, f0); /* a snapshot allocates nothing */
    assert_int_equal(f2, f1); /* the snapshot still holds /big */
    assert_int_equal(f3, f2 + size);
    assert_int_equal(bs_test_usage(st).shared_bytes, 0);
  } else {
    about("snapshot create", f1 - f0, shares ? 0 : -size);
    about("unlink of a file the snapshot holds", f2 - f1, shares ? 0 : size);
    about("snapshot delete", f3 - f2, size);
  }
  /* A branch's own data goes with the branch. */
  assert_bs_ok(bs_snapshot_create(st, "s2", &si));
  assert_bs_ok(bs_branch_create(st, si.id, "b"));
  int64_t g0 = (int64_t)free_bytes(st);
  bs_test_put(st, "/.bs/branches/b/own", (size_t)size, 3);
  int64_t g1 = (int64_t)free_bytes(st);
  assert_bs_ok(bs_branch_delete(st, "b"));
  int64_t g2 = (int64_t)free_bytes(st);
  if (bs_test_exact_space(t)) {
    assert_int_equal(g1, g0 - size);
    assert_int_equal(g2, g0);
  } else {
    about("write into a branch", g1 - g0, -size);
    about("branch delete", g2 - g1, size);
  }
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  bs_test_assert_put(st, "/small", 4096, 2);
  bs_test_check(st, t);
}

static void delete_releases_space(void **state) {
  (void)state;
  each_with_snapshots(releases_body);
}

/* ---- dot_bs_is_reserved_only_at_the_store_root ---------------------------------- */

/* docs/names.md: ".bs" is reserved at the store root only.  Elsewhere, in the
 * main tree, in a snapshot of it and at the root of a branch, it is an
 * ordinary name: it can be made, and readdir lists it. */
static void dot_bs_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_mkdir(st, "/d/.bs", 0755));
  bs_test_put(st, "/d/.bs/f", 10, 1);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots/s/d", l);
  assert_string_equal(l, ".bs/;");
  bs_test_assert_put(st, "/.bs/snapshots/s/d/.bs/f", 10, 1);
  /* A snapshot of the main tree has no ".bs" at its root (the store's own
   * is left out; btrfs's empty stand-in for it is not shown). */
  bs_test_listing(st, "/.bs/snapshots/s", l);
  assert_string_equal(l, "d/;");
  bs_stat_info sb;
  assert_bs_err(bs_stat(st, "/.bs/snapshots/s/.bs", &sb), BS_ENOT_FOUND);
  assert_bs_err(bs_stat(st, "/.bs/snapshots/s/.bs/x", &sb), BS_ENOT_FOUND);
  assert_bs_ok(bs_branch_create(st, si.id, "b"));
  assert_bs_ok(bs_mkdir(st, "/.bs/branches/b/.bs", 0755));
  bs_test_put(st, "/.bs/branches/b/.bs/g", 10, 2);
  bs_test_listing(st, "/.bs/branches/b", l);
  assert_string_equal(l, ".bs/;d/;");
  bs_test_listing(st, "/.bs/branches/b/.bs", l);
  assert_string_equal(l, "g;");
  bs_test_check(st, t);
}

static void dot_bs_is_reserved_only_at_the_store_root(void **state) {
  (void)state;
  each_with_snapshots(dot_bs_body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(create_snapshot_succeeds),
    cmocka_unit_test(create_snapshot_unsupported),
    cmocka_unit_test(snapshot_name_sanitization),
    cmocka_unit_test(snapshot_create_then_mount_ro_then_read),
    cmocka_unit_test(delete_ok_when_unused),
    cmocka_unit_test(delete_busy_when_branch_exists),
    cmocka_unit_test(delete_releases_space),
    cmocka_unit_test(dot_bs_is_reserved_only_at_the_store_root),
  };
  return cmocka_run_group_tests_name("snapshot_api", tests, NULL, NULL);
}
