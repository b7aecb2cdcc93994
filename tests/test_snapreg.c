/* The snapshot registry (src/snapreg.c): the API's rules and the file format. */
#include <stdlib.h>
#include <string.h>

#include "src/snapreg.h"
#include "tests/support/bs_test.h"

static const uint8_t U1[16] = {1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 16};

static void snapreg_ids_count_up_and_are_never_reused(void **state) {
  (void)state;
  bs__snapreg r;
  bs__snapreg_init(&r);
  bs_snapshot_info a, b, c;
  assert_bs_ok(bs__snapreg_add(&r, "a", U1, 10, &a));
  assert_bs_ok(bs__snapreg_add(&r, "b", U1, 20, &b));
  assert_int_equal(a.id, 1);
  assert_int_equal(b.id, 2);
  assert_true(a.readonly);
  assert_bs_ok(bs__snapreg_remove(&r, b.id));
  assert_bs_ok(bs__snapreg_add(&r, "b", U1, 30, &c));
  assert_int_equal(c.id, 3);
  assert_null(bs__snapreg_find_id(&r, 2));
  assert_string_equal(bs__snapreg_find_id(&r, 3)->name, "b");
  assert_int_equal(bs__snapreg_find_name(&r, "a")->id, 1);
  assert_bs_ok(bs__snapreg_check(&r));
  bs__snapreg_free(&r);
}

static void snapreg_refuses_duplicate_names(void **state) {
  (void)state;
  bs__snapreg r;
  bs__snapreg_init(&r);
  assert_bs_ok(bs__snapreg_add(&r, "x", U1, 0, NULL));
  assert_bs_err(bs__snapreg_add(&r, "x", U1, 0, NULL), BS_EEXISTS);
  assert_int_equal(r.nsnaps, 1);
  assert_int_equal(r.next_id, 2); /* failures take no id */
  assert_bs_ok(bs__snapreg_add_branch(&r, 1, "br", NULL));
  assert_bs_err(bs__snapreg_add_branch(&r, 1, "br", NULL), BS_EEXISTS);
  assert_bs_err(bs__snapreg_add_branch(&r, 9, "other", NULL), BS_ENOT_FOUND);
  assert_int_equal(r.nbranches, 1);
  bs__snapreg_free(&r);
}

static void snapreg_branches_hold_their_snapshot(void **state) {
  (void)state;
  bs__snapreg r;
  bs__snapreg_init(&r);
  assert_bs_ok(bs__snapreg_add(&r, "s", U1, 0, NULL));
  bs__branch_rec b1, b2, gone;
  assert_bs_err(bs__snapreg_add_branch(&r, 9, "b", NULL), BS_ENOT_FOUND);
  assert_bs_ok(bs__snapreg_add_branch(&r, 1, "zeta", &b1));
  assert_bs_ok(bs__snapreg_add_branch(&r, 1, "alpha", &b2));
  assert_int_equal(b1.id, 1);
  assert_int_equal(b2.id, 2);
  assert_int_equal(bs__snapreg_find_id(&r, 1)->branch_count, 2);
  assert_string_equal(r.branches[0].name, "alpha"); /* name order */
  assert_bs_err(bs__snapreg_remove(&r, 1), BS_EBUSY);
  assert_bs_ok(bs__snapreg_remove_branch(&r, "zeta", &gone));
  assert_int_equal(gone.id, 1);
  assert_bs_err(bs__snapreg_remove_branch(&r, "zeta", NULL), BS_ENOT_FOUND);
  assert_bs_err(bs__snapreg_remove(&r, 1), BS_EBUSY);
  assert_bs_ok(bs__snapreg_remove_branch(&r, "alpha", NULL));
  assert_int_equal(bs__snapreg_find_id(&r, 1)->branch_count, 0);
  assert_bs_ok(bs__snapreg_remove(&r, 1));
  assert_bs_err(bs__snapreg_remove(&r, 1), BS_ENOT_FOUND);
  assert_bs_ok(bs__snapreg_check(&r));
  bs__snapreg_free(&r);
}

/* A registry with a few of everything, for the format tests. */
static void sample(bs__snapreg *r) {
  bs__snapreg_init(r);
  assert_bs_ok(bs__snapreg_add(r, "nightly 1", U1, 123456789, NULL));
  assert_bs_ok(bs__snapreg_add(r, "caf\xc3\xa9", U1, 2, NULL));
  assert_bs_ok(bs__snapreg_add(r, "gone", U1, 3, NULL));
  assert_bs_ok(bs__snapreg_remove(r, 3));
  assert_bs_ok(bs__snapreg_add_branch(r, 2, "work", NULL));
  assert_bs_ok(bs__snapreg_add_branch(r, 2, "agent 7", NULL));
  assert_bs_ok(bs__snapreg_add_branch(r, 1, "x", NULL));
}

static void snapreg_encoding_round_trips(void **state) {
  (void)state;
  bs__snapreg r, back;
  sample(&r);
  uint8_t *buf, *again;
  size_t n, m;
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &n));
  assert_bs_ok(bs__snapreg_decode(&back, buf, n));
  assert_int_equal(back.next_id, 4);
  assert_int_equal(back.next_branch_id, 4);
  assert_int_equal(back.nsnaps, 2);
  assert_int_equal(back.nbranches, 3);
  assert_memory_equal(back.snaps, r.snaps, r.nsnaps * sizeof(*r.snaps));
  assert_memory_equal(back.branches, r.branches, r.nbranches * sizeof(*r.branches));
  assert_bs_ok(bs__snapreg_encode(&back, &again, &m));
  assert_int_equal(m, n);
  assert_memory_equal(again, buf, n);
  free(buf);
  free(again);
  bs__snapreg_free(&r);
  bs__snapreg_free(&back);
}

static void snapreg_decode_refuses_damage(void **state) {
  (void)state;
  bs__snapreg r, back;
  sample(&r);
  uint8_t *buf;
  size_t n;
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &n));
  /* Every truncation and every single-bit flip is caught. */
  for (size_t len = 0; len < n; len++)
    assert_bs_err(bs__snapreg_decode(&back, buf, len), BS_ECORRUPT);
  for (size_t i = 0; i < n; i++)
    for (int bit = 0; bit < 8; bit++) {
      buf[i] ^= (uint8_t)(1u << bit);
      if (bs__snapreg_decode(&back, buf, n) != BS_ECORRUPT)
        fail_msg("flip of bit %d of byte %zu was accepted", bit, i);
      buf[i] ^= (uint8_t)(1u << bit);
    }
  assert_bs_ok(bs__snapreg_decode(&back, buf, n));
  bs__snapreg_free(&back);
  free(buf);
  bs__snapreg_free(&r);
}

/* Re-checksum @buf after an edit, so only the consistency checks can catch it. */
static void reseal(uint8_t *buf, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n - 8; i++)
    h = (h ^ buf[i]) * 0x100000001b3ull;
  for (int i = 0; i < 8; i++)
    buf[n - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
}

static void snapreg_decode_refuses_inconsistent_records(void **state) {
  (void)state;
  bs__snapreg r, back;
  sample(&r);
  uint8_t *buf;
  size_t n;
  /* A branch count that disagrees with the branches. */
  r.snaps[0].branch_count = 5;
  assert_bs_err(bs__snapreg_check(&r), BS_ECORRUPT);
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &n));
  assert_bs_err(bs__snapreg_decode(&back, buf, n), BS_ECORRUPT);
  free(buf);
  r.snaps[0].branch_count = 1;
  /* next_id not above every id: a later snapshot would reuse an id. */
  r.next_id = 2;
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &n));
  reseal(buf, n);
  assert_bs_err(bs__snapreg_decode(&back, buf, n), BS_ECORRUPT);
  free(buf);
  r.next_id = 4;
  /* A counter at 0 would hand out id 0 next (found by fuzz/snapreg_fuzzer.c). */
  bs__snapreg empty;
  bs__snapreg_init(&empty);
  empty.next_branch_id = 0;
  assert_bs_ok(bs__snapreg_encode(&empty, &buf, &n));
  assert_bs_err(bs__snapreg_decode(&back, buf, n), BS_ECORRUPT);
  free(buf);
  empty.next_branch_id = 1;
  empty.next_id = 0;
  assert_bs_err(bs__snapreg_check(&empty), BS_ECORRUPT);
  /* A name that would not pass validation. */
  strcpy(r.snaps[1].name, "a/b");
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &n));
  assert_bs_err(bs__snapreg_decode(&back, buf, n), BS_ECORRUPT);
  free(buf);
  bs__snapreg_free(&r);
}

static uint64_t counter(void *ctx) { return ++*(uint64_t *)ctx * 0x9e3779b97f4a7c15ull; }

static void snapreg_uuids_are_rfc4122_v4(void **state) {
  (void)state;
  uint64_t c = 0;
  uint8_t a[16], b[16];
  bs__uuid_v4(a, counter, &c);
  bs__uuid_v4(b, counter, &c);
  assert_int_equal(a[6] >> 4, 4);
  assert_int_equal(a[8] >> 6, 2);
  assert_memory_not_equal(a, b, 16);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(snapreg_ids_count_up_and_are_never_reused),
    cmocka_unit_test(snapreg_refuses_duplicate_names),
    cmocka_unit_test(snapreg_branches_hold_their_snapshot),
    cmocka_unit_test(snapreg_encoding_round_trips),
    cmocka_unit_test(snapreg_decode_refuses_damage),
    cmocka_unit_test(snapreg_decode_refuses_inconsistent_records),
    cmocka_unit_test(snapreg_uuids_are_rfc4122_v4),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
