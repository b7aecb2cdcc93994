/* Snapshots of an overlay branch (issue 17, docs/overlay.md, "Snapshots of
 * an overlay branch"): the registry's part so far.  A stacked snapshot
 * records its lower (format BSREG003, written only when one exists, so
 * format 1 and 2 stores stay readable by older builds); the lower is held
 * (BUSY on its delete) as a branch holds its snapshot; a chain is no deeper
 * than BS__OV_DEPTH_MAX; a damaged chain is CORRUPT, never misread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/snapreg.h"
#include "tests/support/bs_test.h"

static const uint8_t uuid[16] = {7};

/* Encode @r, check its magic, decode it into @back. */
static void round_trip(const bs__snapreg *r, const char *magic, bs__snapreg *back) {
  uint8_t *buf;
  size_t len;
  assert_bs_ok(bs__snapreg_encode(r, &buf, &len));
  assert_memory_equal(buf, magic, 8);
  assert_bs_ok(bs__snapreg_decode(back, buf, len));
  free(buf);
}

static void stacked_snapshot_records_its_lower(void **state) {
  (void)state;
  bs__snapreg r, back;
  bs__snapreg_init(&r);
  bs_snapshot_info s1, s2, s3;
  assert_bs_ok(bs__snapreg_add(&r, "base", uuid, 1, &s1));
  assert_bs_ok(bs__snapreg_add_branch_kind(&r, s1.id, "b1", BS_BRANCH_OVERLAY, NULL));
  /* Without a stacked snapshot the bytes stay format 2. */
  round_trip(&r, "BSREG002", &back);
  assert_int_equal(back.nstacks, 0);
  bs__snapreg_free(&back);
  assert_bs_err(bs__snapreg_add_stacked(&r, "x", uuid, 2, 99, NULL), BS_ENOT_FOUND);
  assert_bs_ok(bs__snapreg_add_stacked(&r, "b1-frozen", uuid, 2, s1.id, &s2));
  assert_bs_ok(bs__snapreg_add_branch_kind(&r, s2.id, "b2", BS_BRANCH_OVERLAY, NULL));
  assert_bs_ok(bs__snapreg_add_stacked(&r, "b2-frozen", uuid, 3, s2.id, &s3));
  assert_bs_err(bs__snapreg_add_stacked(&r, "b2-frozen", uuid, 3, s2.id, NULL), BS_EEXISTS);
  assert_int_equal(bs__snapreg_lower(&r, s3.id), s2.id);
  assert_int_equal(bs__snapreg_lower(&r, s2.id), s1.id);
  assert_int_equal(bs__snapreg_lower(&r, s1.id), 0);
  assert_int_equal(bs__snapreg_depth(&r, s1.id), 1);
  assert_int_equal(bs__snapreg_depth(&r, s3.id), 3);
  assert_int_equal(bs__snapreg_depth(&r, 99), 0);
  /* Format 3 keeps the chain, and the branches' kinds. */
  round_trip(&r, "BSREG003", &back);
  assert_int_equal(back.nstacks, 2);
  assert_int_equal(bs__snapreg_depth(&back, s3.id), 3);
  assert_int_equal(back.branches[1].kind, BS_BRANCH_OVERLAY);
  bs__snapreg_free(&back);
  bs__snapreg_free(&r);
}

static void deleting_obeys_the_stack_refcounts(void **state) {
  (void)state;
  bs__snapreg r;
  bs__snapreg_init(&r);
  bs_snapshot_info s1, s2, s3;
  assert_bs_ok(bs__snapreg_add(&r, "base", uuid, 1, &s1));
  assert_bs_ok(bs__snapreg_add_stacked(&r, "mid", uuid, 2, s1.id, &s2));
  assert_bs_ok(bs__snapreg_add_stacked(&r, "top", uuid, 3, s2.id, &s3));
  assert_bs_ok(bs__snapreg_add_branch_kind(&r, s3.id, "b", BS_BRANCH_OVERLAY, NULL));
  /* Each lower is held by the snapshot stacked on it, the top by its branch. */
  assert_bs_err(bs__snapreg_remove(&r, s1.id), BS_EBUSY);
  assert_bs_err(bs__snapreg_remove(&r, s2.id), BS_EBUSY);
  assert_bs_err(bs__snapreg_remove(&r, s3.id), BS_EBUSY);
  assert_bs_ok(bs__snapreg_remove_branch(&r, "b", NULL));
  assert_bs_err(bs__snapreg_remove(&r, s1.id), BS_EBUSY);
  assert_bs_ok(bs__snapreg_remove(&r, s3.id));
  assert_int_equal(r.nstacks, 1);
  assert_bs_ok(bs__snapreg_remove(&r, s2.id));
  assert_int_equal(r.nstacks, 0);
  assert_bs_ok(bs__snapreg_remove(&r, s1.id));
  assert_bs_ok(bs__snapreg_check(&r));
  bs__snapreg_free(&r);
}

static void chains_stop_at_the_depth_limit(void **state) {
  (void)state;
  bs__snapreg r, back;
  bs__snapreg_init(&r);
  bs_snapshot_info s;
  assert_bs_ok(bs__snapreg_add(&r, "l1", uuid, 1, &s));
  char name[16];
  for (unsigned d = 2; d <= BS__OV_DEPTH_MAX; d++) {
    snprintf(name, sizeof(name), "l%u", d);
    assert_bs_ok(bs__snapreg_add_stacked(&r, name, uuid, d, s.id, &s));
    assert_int_equal(bs__snapreg_depth(&r, s.id), d);
  }
  size_t n = r.nsnaps;
  assert_bs_err(bs__snapreg_add_stacked(&r, "too-deep", uuid, 99, s.id, NULL), BS_ENO_SPACE);
  assert_int_equal(r.nsnaps, n); /* nothing half-added */
  assert_null(bs__snapreg_find_name(&r, "too-deep"));
  round_trip(&r, "BSREG003", &back);
  assert_int_equal(bs__snapreg_depth(&back, s.id), BS__OV_DEPTH_MAX);
  bs__snapreg_free(&back);
  bs__snapreg_free(&r);
}

/* @r, damaged by the caller, fails the invariants. */
static void assert_damaged(bs__snapreg *r) {
  assert_bs_err(bs__snapreg_check(r), BS_ECORRUPT);
}

static void a_damaged_chain_is_corrupt(void **state) {
  (void)state;
  bs__snapreg r;
  bs__snapreg_init(&r);
  bs_snapshot_info s1, s2;
  assert_bs_ok(bs__snapreg_add(&r, "a", uuid, 1, &s1));
  assert_bs_ok(bs__snapreg_add_stacked(&r, "b", uuid, 2, s1.id, &s2));
  assert_bs_ok(bs__snapreg_check(&r));
  r.stacks[0].lower_id = s2.id; /* a cycle: its own lower */
  assert_damaged(&r);
  r.stacks[0].lower_id = 42; /* no such snapshot */
  assert_damaged(&r);
  r.stacks[0].lower_id = s1.id;
  r.stacks[0].snapshot_id = 42;
  assert_damaged(&r);
  r.stacks[0].snapshot_id = s2.id;
  assert_bs_ok(bs__snapreg_check(&r));
  /* Bytes: a format-3 file cut before its stack, or relabelled format 2, is damaged. */
  uint8_t *buf;
  size_t len;
  bs__snapreg back;
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &len));
  memcpy(buf, "BSREG002", 8);
  assert_bs_err(bs__snapreg_decode(&back, buf, len), BS_ECORRUPT);
  free(buf);
  bs__snapreg_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(stacked_snapshot_records_its_lower),
    cmocka_unit_test(deleting_obeys_the_stack_refcounts),
    cmocka_unit_test(chains_stop_at_the_depth_limit),
    cmocka_unit_test(a_damaged_chain_is_corrupt),
  };
  return cmocka_run_group_tests_name("overlay_stack", tests, NULL, NULL);
}
