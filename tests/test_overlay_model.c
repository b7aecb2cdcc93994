/* The overlay in the sim and its reference model (issue 17, "The sim models
 * all of this"): the merged listing folds names the way the profile's
 * lookup does; the campaign's overlay mix with hard links and with power
 * losses in the middle of a copy-up or a whiteout (docs/campaign.md, "The
 * overlay mix"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "backstore/sim.h"
#include "lab/lab.h"
#include "tests/support/bs_test.h"

/* A store of sim @profile with /d/F7 and /d/g in snapshot "s" and an overlay
 * branch "b" of it. */
static bs_store *with_branch(const char *profile) {
  bs_store *st = bs_test_open_sim(profile, bs_test_seed());
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_create(st, "/d/F7", 0644));
  assert_bs_ok(bs_create(st, "/d/g", 0644));
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts bo = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &bo));
  return st;
}

/* On a case-insensitive profile an upper name that differs only in case
 * from a lower one is the same name: the merged listing shows it once (the
 * upper's spelling), as a lookup finds one file.  The campaign found
 * "F7 f7" on apfs (seed 7, 2000 ops, before its mix stopped drawing case
 * variants). */
static void merged_listing_folds_case_like_lookup(void **state) {
  (void)state;
  const char *profiles[] = {"apfs", "btrfs"}; /* hfs: no snapshots in the sim */
  for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
    bs_store *st = with_branch(profiles[i]);
    bs_caps caps;
    assert_bs_ok(bs_get_caps(st, &caps));
    char got[BS_TEST_LISTING_MAX];
    assert_bs_ok(bs_unlink(st, "/.bs/branches/b/d/F7"));
    assert_bs_ok(bs_create(st, "/.bs/branches/b/d/f7", 0644));
    bs_test_listing(st, "/.bs/branches/b/d", got);
    assert_string_equal(got, "f7;g;");
    if (!caps.case_sensitive) {
      /* A copy-up through a variant spelling: still one name (which
       * spelling the upper keeps is docs/overlay.md's, not checked here). */
      assert_bs_ok(bs_write(st, "/.bs/branches/b/d/G", 0, "x", 1));
      bs_test_listing(st, "/.bs/branches/b/d", got);
      assert_int_equal(strlen(got), strlen("f7;g;"));
      assert_true(strcasestr(got, "g;") && strstr(got, "f7;"));
      assert_bs_err(bs_create(st, "/.bs/branches/b/D/F7", 0644), BS_EEXISTS);
      bs_test_listing(st, "/.bs/branches/b", got);
      assert_string_equal(got, "d/;");
    } else {
      assert_bs_ok(bs_create(st, "/.bs/branches/b/d/F7", 0644));
      bs_test_listing(st, "/.bs/branches/b/d", got);
      assert_string_equal(got, "F7;f7;g;");
    }
    assert_bs_ok(bs_check(st));
    bs_close(st);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(merged_listing_folds_case_like_lookup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
