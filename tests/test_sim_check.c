/* The sim's incremental check (bs_sim_check_incremental, docs/sim.md
 * "Incremental checks"): it agrees with the full check on consistent
 * stores, and catches each deliberate defect at the operation that makes
 * it, with the full check's message. */
#include <string.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"

#define BLK BS_SIM_BLOCK_SIZE

/* Both checks pass, and the incremental one says what the full one says. */
static void both_ok(bs_store *st) {
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_check(st));
}

static void agree_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  both_ok(st); /* the first one is full, and starts tracking */
  bs_test_put(st, "/a", 3 * BLK, 1);
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_write(st, "/a", BLK, "xyz", 3)); /* copy-on-write of a synced block */
  assert_bs_ok(bs_sim_check_incremental(st));
  if (t->caps.native_reflink) {
    assert_bs_ok(bs_reflink(st, "/a", "/b"));
    assert_bs_ok(bs_sim_check_incremental(st));
    assert_bs_ok(bs_write(st, "/b", 0, "q", 1));
    assert_bs_ok(bs_sim_check_incremental(st));
  }
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  bs_test_put(st, "/d/c", 2 * BLK, 9);
  assert_bs_ok(bs_truncate(st, "/a", BLK / 2));
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_TEAR));
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_unlink(st, "/d/c"));
  assert_bs_ok(bs_rmdir(st, "/d"));
  both_ok(st);
  bs_test_put(st, "/e", BLK, 4); /* reuses the lowest free blocks: the hint moves down */
  both_ok(st);
}

static void sim_incremental_agrees_with_full(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, agree_body, NULL, bs_test_seed());
}

/* The incremental check fails, with the full check's message. */
static void both_corrupt(bs_store *st) {
  assert_bs_err(bs_sim_check_incremental(st), BS_ECORRUPT);
  char inc[256];
  strncpy(inc, bs_last_message(st), sizeof(inc) - 1);
  inc[sizeof(inc) - 1] = '\0';
  assert_bs_err(bs_check(st), BS_ECORRUPT);
  assert_string_equal(inc, bs_last_message(st));
}

static void cow_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/a", 2 * BLK, 1);
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_sim_check_incremental(st)); /* tracking from here on */
  assert_bs_ok(bs_sim_set_bug(st, BS_SIM_BUG_COW_IN_PLACE));
  if (t->caps.native_reflink) {
    assert_bs_ok(bs_reflink(st, "/a", "/b"));
    assert_bs_ok(bs_sim_check_incremental(st)); /* nothing written yet */
    assert_bs_ok(bs_write(st, "/b", 0, "BUG", 3));
  } else {
    assert_bs_ok(bs_write(st, "/a", 0, "BUG", 3));
  }
  both_corrupt(st);
  assert_non_null(strstr(bs_last_message(st), "shared"));
}

static void sim_incremental_catches_cow_in_place(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, cow_body, NULL, bs_test_seed());
}

static void leak_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_sim_set_bug(st, BS_SIM_BUG_LEAK_BLOCK));
  bs_test_put(st, "/a", 2 * BLK, 1);
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_unlink(st, "/a"));
  both_corrupt(st);
  assert_string_equal(bs_last_message(st), "block 0: refcount 1, referenced by 0 map(s)");
  /* Turned off, the leak stays: every later check still fails. */
  assert_bs_ok(bs_sim_set_bug(st, BS_SIM_BUG_NONE));
  bs_test_put(st, "/b", BLK, 2);
  both_corrupt(st);
}

static void sim_incremental_catches_leak_block(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, leak_body, NULL, bs_test_seed());
}

/* Read-only trees are walked once by the incremental check, then their sum
 * is kept (docs/sim.md): it stays right as snapshots come and go, and a
 * defect in blocks a kept snapshot shares is caught at once all the same. */
static void snap_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  if (!t->caps.native_snapshots)
    return;
  bs_test_put(st, "/a", 3 * BLK, 1);
  assert_bs_ok(bs_sync(st, NULL));
  both_ok(st);
  bs_snapshot_info s1, s2;
  assert_bs_ok(bs_snapshot_create(st, "s1", &s1));
  both_ok(st); /* walks s1 and keeps its sum */
  assert_bs_ok(bs_write(st, "/a", 0, "new", 3));
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_snapshot_create(st, "s2", &s2));
  assert_bs_ok(bs_sim_check_incremental(st));
  assert_bs_ok(bs_snapshot_delete(st, s1.id)); /* its blocks' references go with its kept sum */
  both_ok(st);
  assert_bs_ok(bs_unlink(st, "/a")); /* s2 alone holds the blocks now */
  both_ok(st);
  assert_bs_ok(bs_sim_set_bug(st, BS_SIM_BUG_LEAK_BLOCK));
  assert_bs_ok(bs_snapshot_delete(st, s2.id));
  both_corrupt(st);
}

static void sim_incremental_keeps_snapshot_sums(void **state) {
  (void)state;
  bs_test_each_sim_profile(NULL, snap_body, NULL, bs_test_seed());
}

static void sim_incremental_needs_a_sim_store(void **state) {
  (void)state;
  assert_int_equal(bs_sim_check_incremental(NULL), BS_EINVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(sim_incremental_agrees_with_full),
    cmocka_unit_test(sim_incremental_catches_cow_in_place),
    cmocka_unit_test(sim_incremental_catches_leak_block),
    cmocka_unit_test(sim_incremental_keeps_snapshot_sums),
    cmocka_unit_test(sim_incremental_needs_a_sim_store),
  };
  return cmocka_run_group_tests_name("sim_check", tests, NULL, NULL);
}
