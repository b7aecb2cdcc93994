/* Snapshots and branches on every target where the snapshot API works (sim
 * apfs and btrfs, real btrfs, xfs and ext4/tmpfs with copies, darwin apfs),
 * and the UNSUPPORTED answer everywhere else; the bodies about exact space,
 * power loss and the seeded uuids run on the sim only. */
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"
#include "tests/support/snap_test.h"

#define BLK BS_SIM_BLOCK_SIZE

static void unsupported_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  bs_snapshot_info si;
  int rc = bs_snapshot_create(st, "nightly", &si);
  assert_bs_err(rc, BS_EUNSUPPORTED);
  assert_int_equal(bs_err_wire(rc), 1);
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_err(bs_snapshot_list(st, &all, &n), BS_EUNSUPPORTED);
  assert_null(all);
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
}

static void snapshot_unsupported_error_code(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_unsupported, unsupported_body, NULL,
                          bs_test_seed());
}

static void readonly_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", 2 * BLK, 1);
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_setxattr(st, "/f", "user.k", "v", 1));
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  char root[300];
  assert_bs_ok(bs_snapshot_mount_ro(st, si.id, root, sizeof(root)));
  assert_string_equal(root, "/.bs/snapshots/s");
  bs_usage u0 = bs_test_usage(st);
  const char *f = "/.bs/snapshots/s/f", *d = "/.bs/snapshots/s/d";
  assert_bs_err(bs_write(st, f, 0, "x", 1), BS_EPERMISSION);
  assert_bs_err(bs_create(st, "/.bs/snapshots/s/new", 0644), BS_EPERMISSION);
  assert_bs_err(bs_create(st, f, 0644), BS_EPERMISSION);
  assert_bs_err(bs_mkdir(st, "/.bs/snapshots/s/nd", 0755), BS_EPERMISSION);
  assert_bs_err(bs_unlink(st, f), BS_EPERMISSION);
  assert_bs_err(bs_rmdir(st, d), BS_EPERMISSION);
  assert_bs_err(bs_setxattr(st, f, "user.k", "w", 1), BS_EPERMISSION);
  assert_bs_err(bs_removexattr(st, f, "user.k"), BS_EPERMISSION);
  assert_bs_err(bs_truncate(st, f, 0), BS_EPERMISSION);
  assert_bs_err(bs_chmod(st, f, 0777), BS_EPERMISSION);
  assert_bs_err(bs_chown(st, f, 1000, 2000), BS_EPERMISSION);
  assert_bs_err(bs_chown(st, d, BS_ID_KEEP, BS_ID_KEEP), BS_EPERMISSION);
  assert_bs_err(bs_utimens(st, f, 1, 2), BS_EPERMISSION);
  assert_bs_err(bs_rename(st, f, "/.bs/snapshots/s/g"), BS_EPERMISSION);
  assert_bs_err(bs_rename(st, "/f", "/.bs/snapshots/s/g"), BS_EPERMISSION);
  if (t->caps.native_reflink)
    assert_bs_err(bs_reflink(st, "/f", "/.bs/snapshots/s/g"), BS_EPERMISSION);
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
  assert_bs_err(bs_rename(st, "/f", "/.bs"), BS_EINVALID);
  assert_bs_err(bs_rename(st, "/.bs", "/x"), BS_EINVALID);
  assert_bs_err(bs_rmdir(st, "/.bs"), BS_EINVALID);
  /* Reading works, and nothing changed. */
  bs_test_assert_put(st, f, 2 * BLK, 1);
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/.bs", &s));
  assert_int_equal(s.kind, BS_KIND_DIR);
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s", &s));
  assert_int_equal(s.kind, BS_KIND_DIR);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/", l);
  assert_string_equal(l, "d/;f;");
  bs_test_listing(st, "/.bs/snapshots", l);
  assert_string_equal(l, "s/;");
  bs_test_listing(st, root, l);
  assert_string_equal(l, "d/;f;");
  bs_usage u1 = bs_test_usage(st);
  if (bs_test_exact_space(t))
    assert_memory_equal(&u0, &u1, sizeof(u0));
  bs_test_check(st, t);
}

static void snapshot_readonly(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, readonly_body, NULL, bs_test_seed());
}

static void busy_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", BLK, 1);
  bs_snapshot_info a, b;
  int64_t now;
  assert_bs_ok(bs_clock_ns(st, &now));
  assert_bs_ok(bs_snapshot_create(st, "a", &a));
  assert_int_equal(a.id, 1);
  assert_true(a.readonly);
  assert_int_equal(a.branch_count, 0);
  if (bs_test_exact_space(t)) /* the sim's clock stands still between calls */
    assert_true((int64_t)a.created_ns == now);
  assert_string_equal(a.name, "a");
  bs_snap_test_assert_uuid(t, a.uuid);
  assert_bs_err(bs_snapshot_create(st, "a", NULL), BS_EEXISTS);
  assert_bs_ok(bs_branch_create(st, a.id, "br"));
  assert_bs_err(bs_branch_create(st, a.id, "br"), BS_EEXISTS);
  assert_bs_err(bs_branch_create(st, 99, "other"), BS_ENOT_FOUND);
  assert_bs_ok(bs_snapshot_lookup(st, "a", &b));
  assert_int_equal(b.branch_count, 1);
  assert_memory_equal(b.uuid, a.uuid, 16);
  assert_bs_err(bs_snapshot_delete(st, a.id), BS_EBUSY);
  assert_non_null(strstr(bs_last_message(st), "branch"));
  assert_bs_ok(bs_branch_delete(st, "br"));
  assert_bs_err(bs_branch_delete(st, "br"), BS_ENOT_FOUND);
  assert_bs_ok(bs_snapshot_lookup(st, "a", &b));
  assert_int_equal(b.branch_count, 0);
  assert_bs_ok(bs_snapshot_delete(st, a.id));
  assert_bs_err(bs_snapshot_delete(st, a.id), BS_ENOT_FOUND);
  char path[300];
  assert_bs_err(bs_snapshot_mount_ro(st, a.id, path, sizeof(path)), BS_ENOT_FOUND);
  /* Ids are never reused; uuids differ. */
  assert_bs_ok(bs_snapshot_create(st, "a", &b));
  assert_int_equal(b.id, 2);
  assert_memory_not_equal(b.uuid, a.uuid, 16);
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_create(st, "c", NULL));
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  assert_int_equal(n, 2);
  assert_int_equal(all[0].id, 2);
  assert_int_equal(all[1].id, 3);
  assert_string_equal(all[1].name, "c");
  free(all);
  bs_test_check(st, t);
}

static void snapshot_delete_busy_with_branch(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, busy_body, NULL, bs_test_seed());
}

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
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, parent_body, NULL, bs_test_seed());
}

static void releases_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  bs_test_put(st, "/f", 10 * BLK, 1);
  bs_test_put(st, "/g", 3 * BLK, 2);
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u0 = bs_test_usage(st);
  assert_int_equal(u0.used_bytes, 13 * BLK);
  assert_int_equal(u0.shared_bytes, 0);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_usage u1 = bs_test_usage(st);
  assert_int_equal(u1.used_bytes, 13 * BLK); /* a snapshot allocates nothing */
  assert_int_equal(u1.shared_bytes, 13 * BLK);
  assert_bs_ok(bs_unlink(st, "/f"));
  bs_usage u2 = bs_test_usage(st);
  assert_int_equal(u2.used_bytes, 13 * BLK); /* the snapshot still holds /f */
  assert_int_equal(u2.shared_bytes, 3 * BLK);
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  bs_usage u3 = bs_test_usage(st);
  assert_int_equal(u3.used_bytes, 3 * BLK);
  assert_int_equal(u3.shared_bytes, 0);
  assert_int_equal(u3.free_bytes, u3.total_bytes - 3 * BLK);
  /* With a branch: the branch's own writes are released by branch_delete. */
  assert_bs_ok(bs_snapshot_create(st, "s2", &si));
  assert_bs_ok(bs_branch_create(st, si.id, "b"));
  assert_int_equal(bs_test_usage(st).used_bytes, 3 * BLK);
  uint8_t blk[BLK];
  memset(blk, 1, sizeof(blk));
  assert_bs_ok(bs_write(st, "/.bs/branches/b/g", 0, blk, sizeof(blk)));
  assert_bs_ok(bs_sync(st, NULL));
  assert_int_equal(bs_test_usage(st).used_bytes, 4 * BLK);
  assert_bs_ok(bs_branch_delete(st, "b"));
  assert_int_equal(bs_test_usage(st).used_bytes, 3 * BLK);
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  bs_usage u4 = bs_test_usage(st);
  assert_int_equal(u4.used_bytes, 3 * BLK);
  assert_int_equal(u4.shared_bytes, 0);
  assert_bs_ok(bs_check(st));
}

static void delete_snapshot_releases_blocks(void **state) {
  (void)state;
  bs_test_each_target(bs_want_snapshots, releases_body, NULL, bs_test_seed());
}

static void never_changes_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  bs_test_put(st, "/a", 4 * BLK + 10, 1);
  assert_bs_ok(bs_mkdir(st, "/d", 0700));
  bs_test_put(st, "/d/b", BLK, 2);
  assert_bs_ok(bs_setxattr(st, "/a", "user.x", "1", 1));
  assert_bs_ok(bs_chown(st, "/a", 1000, 2000));
  assert_bs_ok(bs_chown(st, "/d", 1001, BS_ID_KEEP));
  /* An unsynced write is part of the snapshot: snapshot_create syncs first. */
  assert_bs_ok(bs_write(st, "/a", 0, "HEAD", 4));
  uint8_t *a = bs_test_pattern(4 * BLK + 10, 1);
  memcpy(a, "HEAD", 4);
  assert_bs_ok(bs_snapshot_create(st, "s", NULL));
  bs_stat_info sa0, sd0;
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/a", &sa0));
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/d", &sd0));
  assert_true(sa0.uid == 1000 && sa0.gid == 2000); /* a snapshot keeps owners */
  assert_true(sd0.uid == 1001 && sd0.gid == 0);
  /* Change everything in the main tree. */
  assert_bs_ok(bs_write(st, "/a", BLK, "zzzz", 4));
  assert_bs_ok(bs_truncate(st, "/a", 3));
  assert_bs_ok(bs_setxattr(st, "/a", "user.x", "2", 1));
  assert_bs_ok(bs_chmod(st, "/a", 0600));
  assert_bs_ok(bs_chown(st, "/a", 7, 8));
  assert_bs_ok(bs_unlink(st, "/d/b"));
  assert_bs_ok(bs_rename(st, "/d", "/e"));
  bs_test_put(st, "/new", BLK, 3);
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_TEAR));
  /* The snapshot is as it was. */
  bs_test_assert_content(st, "/.bs/snapshots/s/a", a, 4 * BLK + 10);
  bs_test_assert_put(st, "/.bs/snapshots/s/d/b", BLK, 2);
  bs_stat_info sa1, sd1;
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/a", &sa1));
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/d", &sd1));
  assert_memory_equal(&sa0, &sa1, sizeof(sa0)); /* atime too: snapshots are not touched by reads */
  assert_memory_equal(&sd0, &sd1, sizeof(sd0));
  char v[4];
  size_t n = 0;
  assert_bs_ok(bs_getxattr(st, "/.bs/snapshots/s/a", "user.x", v, sizeof(v), &n));
  assert_int_equal(n, 1);
  assert_int_equal(v[0], '1');
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots/s", l);
  assert_string_equal(l, "a;d/;");
  assert_bs_ok(bs_check(st));
  free(a);
}

static void snapshot_never_changes(void **state) {
  (void)state;
  bs_test_each_target(bs_want_snapshots, never_changes_body, NULL, bs_test_seed());
}

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
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, branch_body, NULL, bs_test_seed());
}

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
  bs_test_each_target(bs_want_snapshots, uuid_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(snapshot_unsupported_error_code),
    cmocka_unit_test(snapshot_readonly),
    cmocka_unit_test(snapshot_delete_busy_with_branch),
    cmocka_unit_test(branch_parent_names_its_snapshot),
    cmocka_unit_test(delete_snapshot_releases_blocks),
    cmocka_unit_test(snapshot_never_changes),
    cmocka_unit_test(branch_is_writable_and_isolated),
    cmocka_unit_test(snapshot_uuids_are_deterministic),
  };
  return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
