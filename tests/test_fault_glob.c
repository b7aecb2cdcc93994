/* The POINT glob of a fault spec (docs/faults.md) through the public
 * bs_fault_point_matches(), and its user in the lab: a campaign refuses a
 * spec whose glob would fail the calls its own checks observe the store by. */
#include <string.h>

#include "backstore/faults.h"
#include "lab/lab.h"
#include "tests/support/bs_test.h"

static void fault_point_matches_a_name_or_a_star_glob(void **state) {
  (void)state;
  assert_true(bs_fault_point_matches("bs/op/write", "bs/op/write"));
  assert_false(bs_fault_point_matches("bs/op/write", "bs/op/writes"));
  assert_false(bs_fault_point_matches("bs/op/writes", "bs/op/write"));
  assert_true(bs_fault_point_matches("bs/op/*", "bs/op/write"));
  assert_false(bs_fault_point_matches("bs/op/*", "bs/sim/write"));
  assert_true(bs_fault_point_matches("bs/*/write", "bs/sim/write"));
  assert_true(bs_fault_point_matches("bs/op/snapshot_*", "bs/op/snapshot_list"));
  assert_false(bs_fault_point_matches("bs/op/snapshot_*", "bs/op/sync"));
  assert_true(bs_fault_point_matches("*", "bs/real/open"));
  assert_true(bs_fault_point_matches("bs/**e", "bs/real/write")); /* '*' runs backtrack */
  assert_false(bs_fault_point_matches(NULL, "bs/op/write"));
  assert_false(bs_fault_point_matches("bs/op/*", NULL));
}

static void campaign_refuses_faults_on_what_its_checks_observe(void **state) {
  (void)state;
  bs_campaign_result r;
  bs_campaign_opts o = {.profile = "apfs", .ops = 50, .faults = "bs/op/*=io@1"};
  assert_bs_err(bs_campaign_run_seed(&r, &o, 1), BS_EINVALID);
  if (!strstr(r.failure.message, "fault term 1 (bs/op/*) would fail bs/op/caps"))
    fail_msg("message: %s", r.failure.message);
  o.faults = "bs/op/write=io@1,bs/op/snapshot_*=busy@1";
  assert_bs_err(bs_campaign_run_seed(&r, &o, 1), BS_EINVALID);
  if (!strstr(r.failure.message, "fault term 2 (bs/op/snapshot_*) would fail bs/op/snapshot_list"))
    fail_msg("message: %s", r.failure.message);
  o.faults = "bs/op/write=io@1";
  assert_bs_ok(bs_campaign_run_seed(&r, &o, 1));
  assert_false(r.failed);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fault_point_matches_a_name_or_a_star_glob),
      cmocka_unit_test(campaign_refuses_faults_on_what_its_checks_observe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
