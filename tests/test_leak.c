/* A long reflink/write/unlink loop.  Space must come back exactly; the ASan
 * build runs it under LeakSanitizer (and valgrind runs a shorter loop), which
 * is the check that no heap memory leaks either.  $BS_LEAK_ITER overrides the
 * 100 000 iterations. */
#include <string.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"

#define BLK BS_SIM_BLOCK_SIZE

static void loop_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  bs_test_put(st, "/src", 4 * BLK + 100, 1);
  assert_bs_ok(bs_setxattr(st, "/src", "user.tag", "leak-test", 9));
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage u0, u1;
  assert_bs_ok(bs_usage_get(st, &u0));
  uint8_t blk[BLK];
  memset(blk, 0xab, sizeof(blk));
  int n = bs_test_env_count("BS_LEAK_ITER", 100000);
  for (int i = 0; i < n; i++) {
    int rc = bs_reflink(st, "/src", "/clone");
    if (rc == 0)
      rc = bs_write(st, "/clone", (uint64_t)(i % 5) * BLK, blk, (size_t)(1 + i % BLK));
    if (rc == 0)
      rc = bs_unlink(st, "/clone");
    if (rc != 0)
      fail_msg("iteration %d: %s (%s)", i, bs_err_name(rc), bs_last_message(st));
  }
  assert_bs_ok(bs_usage_get(st, &u1));
  assert_memory_equal(&u0, &u1, sizeof(u0));
  assert_bs_ok(bs_check(st));
}

static void leak_reflink_delete_loop(void **state) {
  (void)state;
  bs_test_each_sim_profile(bs_want_reflink, loop_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(leak_reflink_delete_loop),
  };
  return cmocka_run_group_tests_name("leak", tests, NULL, NULL);
}
