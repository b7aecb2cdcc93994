/* The snapshot API, one body per behaviour (issue 4's list, and issue 13:
 * the two suites that had drifted apart are this one).  Each body runs on
 * every target where the API works (bs_test_snapshots_work: sim apfs and
 * btrfs, real btrfs, xfs, ext4 and tmpfs with copies, darwin apfs), the
 * UNSUPPORTED answer on every target without snapshots.  Where a real volume
 * cannot be exact (space through statvfs, the kernel's coarse clock), the
 * assertion is guarded by bs_test_exact_space and checked with a tolerance;
 * only the seeded uuids are the sim's alone. */
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"
#include "tests/support/snap_test.h"

#define BLK BS_SIM_BLOCK_SIZE
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
  assert_int_equal(si.id, 1); /* the first id of a store */
  assert_string_equal(si.name, "nightly");
  assert_true(si.readonly);
  assert_int_equal(si.branch_count, 0);
  if (bs_test_exact_space(t)) /* the sim's clock stands still between calls */
    assert_true((int64_t)si.created_ns == before);
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
  assert_int_equal(parent, 0);
  /* The reserved namespace is there all the same, and empty. */
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs", l);
  assert_string_equal(l, "branches/;snapshots/;");
  bs_test_listing(st, "/.bs/snapshots", l);
  assert_string_equal(l, "");
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

/* A snapshot is the tree as it was when it was taken, whatever the main tree
 * does afterwards: contents (an unsynced write included: the create syncs
 * first, which a power loss of the sim proves), modes, owners, xattrs and
 * times, atime too (reading a snapshot does not touch it). */
static void mount_ro_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  const size_t alen = 3 * 4096 + 17; /* /a of bs_snap_test_make_tree */
  bs_snap_test_make_tree(st, t, "", 1);
  assert_bs_ok(bs_mkdir(st, "/frozen", 0755)); /* the same tree as / is at snapshot time */
  bs_snap_test_make_tree(st, t, "/frozen", 1);
  assert_bs_ok(bs_chown(st, "/d", 1001, BS_ID_KEEP));
  assert_bs_ok(bs_write(st, "/a", 0, "HEAD", 4)); /* left unsynced */
  uint8_t *a = bs_test_pattern(alen, 1);
  memcpy(a, "HEAD", 4);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_stat_info sa0, sd0, sa1, sd1;
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/a", &sa0)); /* before anything reads it */
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/d", &sd0));
  assert_true(sd0.uid == 1001 && sd0.gid == 0); /* a snapshot keeps owners */
  char root[300];
  assert_bs_ok(bs_snapshot_mount_ro(st, si.id, root, sizeof(root)));
  assert_string_equal(root, "/.bs/snapshots/s");
  bs_snap_test_assert_same_tree(st, "/", root);
  /* Change everything in the main tree. */
  assert_bs_ok(bs_write(st, "/a", 1, "CHANGED", 7));
  assert_bs_ok(bs_truncate(st, "/d/b", 1));
  assert_bs_ok(bs_chmod(st, "/d", 0777));
  assert_bs_ok(bs_chmod(st, "/a", 0600));
  assert_bs_ok(bs_chown(st, "/a", 7, 8));
  assert_bs_ok(bs_unlink(st, "/d/e/c with space"));
  assert_bs_ok(bs_rename(st, "/d/e", "/e2"));
  assert_bs_ok(bs_rename(st, "/empty", "/moved"));
  bs_test_put(st, "/new", 5, 9);
  if (t->caps.xattrs)
    assert_bs_ok(bs_setxattr(st, "/a", "user.tag", "beta", 4));
  if (t->kind == BS_TARGET_SIM) /* the main tree's changes are torn; the snapshot is durable */
    assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_TEAR));
  else
    assert_bs_ok(bs_sync(st, NULL));
  /* The snapshot is as it was. */
  bs_snap_test_assert_same_tree(st, "/frozen", "/.bs/snapshots/s/frozen");
  bs_test_assert_content(st, "/.bs/snapshots/s/a", a, alen);
  bs_test_assert_put(st, "/.bs/snapshots/s/d/b", 4096, 2);
  bs_test_assert_put(st, "/.bs/snapshots/s/d/e/c with space", 100, 3);
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/a", &sa1));
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/d", &sd1));
  assert_memory_equal(&sa0, &sa1, sizeof(sa0));
  assert_memory_equal(&sd0, &sd1, sizeof(sd0));
  assert_int_equal(sd1.mode, 0750);
  if (t->caps.xattrs) {
    char v[8];
    size_t n = 0;
    assert_bs_ok(bs_getxattr(st, "/.bs/snapshots/s/a", "user.tag", v, sizeof(v), &n));
    assert_int_equal(n, 5);
    assert_memory_equal(v, "alpha", 5);
  }
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, root, l);
  assert_string_equal(l, "a;d/;empty;frozen/;");
  bs_test_listing(st, "/.bs/snapshots/s/d", l);
  assert_string_equal(l, "b;e/;");
  bs_test_check(st, t);
  free(a);
}

static void snapshot_create_then_mount_ro_then_read(void **state) {
  (void)state;
  each_with_snapshots(mount_ro_body);
}

/* ---- snapshot_refuses_every_change --------------------------------------------- */

/* Every change through a snapshot, and of the reserved /.bs, is refused and
 * changes nothing: not the snapshot, not the main tree, not the space. */
static void readonly_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_snap_test_make_tree(st, t, "", 1);
  assert_bs_ok(bs_mkdir(st, "/hollow", 0755));
  assert_bs_ok(bs_setxattr(st, "/a", "user.k", "v", 1));
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_usage u0 = bs_test_usage(st);
  const char *f = "/.bs/snapshots/s/a", *d = "/.bs/snapshots/s/d";
  assert_bs_err(bs_write(st, f, 0, "x", 1), BS_EPERMISSION);
  assert_bs_err(bs_create(st, "/.bs/snapshots/s/new", 0644), BS_EPERMISSION);
  assert_bs_err(bs_create(st, f, 0644), BS_EPERMISSION);
  assert_bs_err(bs_mkdir(st, "/.bs/snapshots/s/nd", 0755), BS_EPERMISSION);
  assert_bs_err(bs_unlink(st, f), BS_EPERMISSION);
  assert_bs_err(bs_rmdir(st, "/.bs/snapshots/s/hollow"), BS_EPERMISSION);
  assert_bs_err(bs_rmdir(st, "/.bs/snapshots/s/d/e"), BS_EPERMISSION); /* not empty either */
  assert_bs_err(bs_setxattr(st, f, "user.k", "w", 1), BS_EPERMISSION);
  assert_bs_err(bs_removexattr(st, f, "user.k"), BS_EPERMISSION);
  assert_bs_err(bs_truncate(st, f, 0), BS_EPERMISSION);
  assert_bs_err(bs_chmod(st, f, 0777), BS_EPERMISSION);
  assert_bs_err(bs_chmod(st, d, 0777), BS_EPERMISSION);
  assert_bs_err(bs_chown(st, f, 1000, 2000), BS_EPERMISSION);
  assert_bs_err(bs_chown(st, d, BS_ID_KEEP, BS_ID_KEEP), BS_EPERMISSION);
  assert_bs_err(bs_utimens(st, f, 1, 2), BS_EPERMISSION);
  assert_bs_err(bs_rename(st, f, "/.bs/snapshots/s/g"), BS_EPERMISSION);
  assert_bs_err(bs_rename(st, "/a", "/.bs/snapshots/s/g"), BS_EPERMISSION);
  if (t->caps.native_reflink)
    assert_bs_err(bs_reflink(st, "/a", "/.bs/snapshots/s/g"), BS_EPERMISSION);
  assert_bs_err(bs_rmdir(st, "/.bs/snapshots/s"), BS_EPERMISSION);
  assert_bs_err(bs_chmod(st, "/.bs/snapshots/s", 0700), BS_EPERMISSION);
  assert_bs_err(bs_chown(st, "/.bs/snapshots/s", 1, 1), BS_EPERMISSION);
  /* The virtual directories are read-only; ".bs" at the root is reserved. */
  assert_bs_err(bs_create(st, "/.bs/x", 0644), BS_EPERMISSION);
  assert_bs_err(bs_mkdir(st, "/.bs/snapshots/t", 0755), BS_EPERMISSION);
  assert_bs_err(bs_chmod(st, "/.bs", 0777), BS_EPERMISSION);
  assert_bs_err(bs_chown(st, "/.bs/snapshots", 1, 1), BS_EPERMISSION);
  assert_bs_err(bs_chown(st, "/.bs/snapshots/s/nope", 1, 1), BS_ENOT_FOUND);
  assert_bs_err(bs_create(st, "/.bs", 0644), BS_EINVALID);
  assert_bs_err(bs_mkdir(st, "/.bs", 0755), BS_EINVALID);
  assert_bs_err(bs_rename(st, "/a", "/.bs"), BS_EINVALID);
  assert_bs_err(bs_rename(st, "/.bs", "/x"), BS_EINVALID);
  assert_bs_err(bs_rmdir(st, "/.bs"), BS_EINVALID);
  /* Reading works, and nothing changed. */
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/.bs", &s));
  assert_int_equal(s.kind, BS_KIND_DIR);
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s", &s));
  assert_int_equal(s.kind, BS_KIND_DIR);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/", l);
  assert_string_equal(l, "a;d/;empty;hollow/;");
  bs_test_listing(st, "/.bs/snapshots", l);
  assert_string_equal(l, "s/;");
  bs_snap_test_assert_same_tree(st, "/", "/.bs/snapshots/s");
  bs_usage u1 = bs_test_usage(st);
  if (bs_test_exact_space(t))
    assert_memory_equal(&u0, &u1, sizeof(u0));
  bs_test_check(st, t);
}

static void snapshot_refuses_every_change(void **state) {
  (void)state;
  each_with_snapshots(readonly_body);
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
   * again, under a new id (the deleted one was the highest, and still ids
   * are never reused) and a new uuid. */
  bs_snap_test_assert_same_tree(st, "/", "/.bs/snapshots/keep");
  assert_bs_ok(bs_snapshot_create(st, "s", &again));
  assert_int_equal(again.id, si.id + 1);
  assert_memory_not_equal(again.uuid, si.uuid, 16);
  assert_bs_ok(bs_snapshot_create(st, "c", NULL));
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n)); /* in id order */
  assert_int_equal(n, 3);
  assert_int_equal(all[0].id, keep.id);
  assert_int_equal(all[1].id, again.id);
  assert_int_equal(all[2].id, again.id + 1);
  assert_string_equal(all[2].name, "c");
  free(all);
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
  bs_snapshot_info si, again;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  assert_bs_ok(bs_branch_create(st, si.id, "b1"));
  assert_bs_err(bs_branch_create(st, si.id, "b1"), BS_EEXISTS);
  assert_bs_ok(bs_branch_create(st, si.id, "b2"));
  branch_count_is(st, "s", 2);
  int rc = bs_snapshot_delete(st, si.id);
  assert_bs_err(rc, BS_EBUSY);
  assert_int_equal(bs_err_wire(rc), 4);
  assert_non_null(strstr(bs_last_message(st), "branch"));
  /* BUSY changed nothing: snapshot and branches are all there. */
  assert_bs_ok(bs_snapshot_lookup(st, "s", &again));
  assert_int_equal(again.id, si.id);
  assert_memory_equal(again.uuid, si.uuid, 16);
  assert_true(again.created_ns == si.created_ns);
  branch_count_is(st, "s", 2);
  bs_snap_test_assert_same_tree(st, "/", "/.bs/snapshots/s");
  bs_snap_test_assert_same_tree(st, "/", "/.bs/branches/b1");
  assert_bs_ok(bs_branch_delete(st, "b1"));
  assert_bs_err(bs_branch_delete(st, "b1"), BS_ENOT_FOUND);
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

/* ---- branch_parent_names_its_snapshot ---------------------------------------- */

/* A branch knows its snapshot, whatever other snapshots exist. */
static void parent_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  bs_snapshot_info a, b;
  uint64_t parent = 0;
  assert_bs_ok(bs_snapshot_create(st, "a", &a));
  assert_bs_ok(bs_snapshot_create(st, "b", &b));
  assert_bs_ok(bs_branch_create(st, a.id, "br"));
  assert_bs_ok(bs_branch_create(st, b.id, "br2"));
  assert_bs_ok(bs_branch_parent(st, "br", &parent));
  assert_int_equal(parent, a.id);
  assert_bs_ok(bs_branch_parent(st, "br2", &parent));
  assert_int_equal(parent, b.id);
  assert_bs_err(bs_branch_parent(st, "nosuch", &parent), BS_ENOT_FOUND);
  assert_int_equal(parent, 0);
  assert_bs_err(bs_branch_parent(st, "bad/name", &parent), BS_EINVALID);
  assert_bs_ok(bs_branch_delete(st, "br"));
  assert_bs_err(bs_branch_parent(st, "br", &parent), BS_ENOT_FOUND);
}

static void branch_parent_names_its_snapshot(void **state) {
  (void)state;
  each_with_snapshots(parent_body);
}

/* ---- branch_is_writable_and_isolated ----------------------------------------- */

static void branch_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", 3 * BLK, 1);
  assert_bs_ok(bs_chown(st, "/f", 1000, 2000));
  uint8_t *f = bs_test_pattern(3 * BLK, 1);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_usage u0 = bs_test_usage(st);
  assert_bs_ok(bs_branch_create(st, si.id, "b"));
  bs_usage u1 = bs_test_usage(st);
  if (bs_test_exact_space(t))
    assert_int_equal(u1.used_bytes, u0.used_bytes); /* a branch allocates nothing */
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/branches", l);
  assert_string_equal(l, "b/;");
  const char *bf = "/.bs/branches/b/f";
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, bf, &s));
  assert_true(s.uid == 1000 && s.gid == 2000); /* a branch keeps owners */
  assert_bs_ok(bs_chown(st, bf, 3000, BS_ID_KEEP)); /* and is writable, alone */
  assert_bs_ok(bs_write(st, bf, 0, "BRANCH", 6));
  assert_bs_ok(bs_create(st, "/.bs/branches/b/only", 0644));
  assert_bs_ok(bs_mkdir(st, "/.bs/branches/b/dir", 0755));
  assert_bs_ok(bs_rename(st, "/.bs/branches/b/only", "/.bs/branches/b/dir/only"));
  assert_bs_ok(bs_setxattr(st, bf, "user.b", "1", 1));
  assert_bs_err(bs_rename(st, bf, "/g"), BS_ECROSS_DEVICE);
  assert_bs_err(bs_rename(st, "/f", "/.bs/branches/b/g"), BS_ECROSS_DEVICE);
  assert_bs_err(bs_rmdir(st, "/.bs/branches/b"), BS_EBUSY);
  assert_bs_ok(bs_write(st, "/f", BLK, "MAIN", 4));
  /* Isolated: main, snapshot and branch each see their own content. */
  uint8_t *want = bs_test_pattern(3 * BLK, 1);
  memcpy(want, "BRANCH", 6);
  bs_test_assert_content(st, bf, want, 3 * BLK);
  bs_test_assert_content(st, "/.bs/snapshots/s/f", f, 3 * BLK);
  memcpy(want, f, 3 * BLK);
  memcpy(want + BLK, "MAIN", 4);
  bs_test_assert_content(st, "/f", want, 3 * BLK);
  assert_bs_ok(bs_stat(st, bf, &s));
  assert_true(s.uid == 3000 && s.gid == 2000);
  assert_bs_ok(bs_stat(st, "/f", &s));
  assert_true(s.uid == 1000 && s.gid == 2000);
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/f", &s));
  assert_true(s.uid == 1000 && s.gid == 2000);
  assert_bs_err(bs_stat(st, "/only", &s), BS_ENOT_FOUND);
  assert_bs_err(bs_stat(st, "/.bs/snapshots/s/dir", &s), BS_ENOT_FOUND);
  size_t n;
  assert_bs_err(bs_getxattr(st, "/f", "user.b", NULL, 0, &n), BS_ENOT_FOUND);
  /* A clone from the branch into the main tree is allowed and shares blocks. */
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u2 = bs_test_usage(st);
  if (t->caps.native_reflink) {
    assert_bs_ok(bs_reflink(st, bf, "/from-branch"));
    size_t blen = 0;
    uint8_t *b = bs_test_slurp(st, bf, &blen);
    bs_test_assert_content(st, "/from-branch", b, blen);
    free(b);
  }
  if (bs_test_exact_space(t))
    assert_int_equal(bs_test_usage(st).used_bytes, u2.used_bytes);
  bs_test_check(st, t);
  free(f);
  free(want);
}

static void branch_is_writable_and_isolated(void **state) {
  (void)state;
  each_with_snapshots(branch_body);
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

/* Exact on the sim: used and shared bytes after each step. */
static void exact_usage(bs_store *st, uint64_t used, uint64_t shared) {
  bs_usage u = bs_test_usage(st);
  assert_int_equal(u.used_bytes, used);
  assert_int_equal(u.shared_bytes, shared);
  assert_int_equal(u.free_bytes, u.total_bytes - used);
}

static void releases_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  /* Sharing targets hold the file's blocks in the snapshot; the copying
   * fallback makes a second copy at snapshot time. */
  bool shares = t->caps.native_snapshots || t->caps.native_reflink;
  bool exact = bs_test_exact_space(t);
  int64_t size = exact ? 2 * MIB : 16 * MIB;
  bs_test_put(st, "/small", BLK, 2);
  bs_test_put(st, "/big", (size_t)size, 1);
  int64_t f0 = (int64_t)free_bytes(st);
  if (exact)
    exact_usage(st, (uint64_t)size + BLK, 0);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  int64_t f1 = (int64_t)free_bytes(st);
  if (exact) /* a snapshot allocates nothing: every block is shared with it */
    exact_usage(st, (uint64_t)size + BLK, (uint64_t)size + BLK);
  assert_bs_ok(bs_unlink(st, "/big"));
  int64_t f2 = (int64_t)free_bytes(st);
  if (exact) /* the snapshot alone holds /big now */
    exact_usage(st, (uint64_t)size + BLK, BLK);
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  int64_t f3 = (int64_t)free_bytes(st);
  if (exact) {
    assert_int_equal(f1, f0);
    assert_int_equal(f2, f1);
    assert_int_equal(f3, f2 + size);
    exact_usage(st, BLK, 0);
  } else {
    about("snapshot create", f1 - f0, shares ? 0 : -size);
    about("unlink of a file the snapshot holds", f2 - f1, shares ? 0 : size);
    about("snapshot delete", f3 - f2, size);
  }
  /* A branch's own data goes with the branch: a block it rewrote (copied on
   * write where blocks are shared) and a file it made. */
  assert_bs_ok(bs_snapshot_create(st, "s2", &si));
  assert_bs_ok(bs_branch_create(st, si.id, "b"));
  int64_t g0 = (int64_t)free_bytes(st);
  uint8_t blk[BLK];
  memset(blk, 1, sizeof(blk));
  assert_bs_ok(bs_write(st, "/.bs/branches/b/small", 0, blk, sizeof(blk)));
  if (exact && (int64_t)free_bytes(st) != g0 - (int64_t)BLK)
    fail_msg("rewriting a shared block in a branch: free space changed by %lld, expected %lld",
             (long long)((int64_t)free_bytes(st) - g0), -(long long)BLK);
  bs_test_put(st, "/.bs/branches/b/own", (size_t)size, 3);
  int64_t g1 = (int64_t)free_bytes(st);
  assert_bs_ok(bs_branch_delete(st, "b"));
  int64_t g2 = (int64_t)free_bytes(st);
  if (exact) {
    assert_int_equal(g1, g0 - size - (int64_t)BLK);
    assert_int_equal(g2, g0);
  } else {
    about("write into a branch", g1 - g0, -size);
    about("branch delete", g2 - g1, size);
  }
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  if (exact)
    exact_usage(st, BLK, 0);
  bs_test_assert_put(st, "/small", BLK, 2);
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

/* ---- snapshot_uuids_are_deterministic (the sim: seeded) ------------------------ */

static void uuid_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  /* Same seed, same ops: same ids, uuids and times; another seed: other uuids. */
  bs_store *twin = bs_test_open_sim(t->profile, bs_test_seed());
  bs_store *other = bs_test_open_sim(t->profile, bs_test_seed() + 1);
  bs_snapshot_info a, b, c;
  assert_bs_ok(bs_snapshot_create(st, "x", &a));
  assert_bs_ok(bs_snapshot_create(twin, "x", &b));
  assert_bs_ok(bs_snapshot_create(other, "x", &c));
  assert_memory_equal(&a, &b, sizeof(a));
  assert_memory_not_equal(a.uuid, c.uuid, 16);
  bs_close(twin);
  bs_close(other);
}

static void snapshot_uuids_are_deterministic(void **state) {
  (void)state;
  bs_test_each_sim_profile(bs_want_snapshots, uuid_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(create_snapshot_succeeds),
    cmocka_unit_test(create_snapshot_unsupported),
    cmocka_unit_test(snapshot_name_sanitization),
    cmocka_unit_test(snapshot_create_then_mount_ro_then_read),
    cmocka_unit_test(snapshot_refuses_every_change),
    cmocka_unit_test(delete_ok_when_unused),
    cmocka_unit_test(delete_busy_when_branch_exists),
    cmocka_unit_test(branch_parent_names_its_snapshot),
    cmocka_unit_test(branch_is_writable_and_isolated),
    cmocka_unit_test(delete_releases_space),
    cmocka_unit_test(dot_bs_is_reserved_only_at_the_store_root),
    cmocka_unit_test(snapshot_uuids_are_deterministic),
  };
  return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
