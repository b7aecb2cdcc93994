/* The lab returns data, bslab writes the command lines (issue 13, the lab
 * apart): the reproduce line of a failing campaign seed names its profile,
 * seed, ops and sim bug, and a diff trace starts with bslab's header (the
 * lab's bs_diff_run_seed() writes operation lines only, test_diff.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

static void campaign_reproduce_line_names_profile_seed_ops_and_bug(void **state) {
  (void)state;
  bs_cli_run r;
  BSLAB(&r, "campaign", "--profile", "btrfs", "--sim-bug", "leak-block", "--seeds", "2", "--ops",
        "400", "--quiet");
  bs_cli_expect_status(&r, 1, "campaign with a sim bug");
  const char *fail = strstr(r.out, "\nFAIL seed ");
  assert_non_null(fail);
  uint64_t seed = strtoull(fail + strlen("\nFAIL seed "), NULL, 10);
  char want[200];
  snprintf(want, sizeof(want), "\n  reproduce  bslab campaign --profile btrfs --seed %" PRIu64
           " --ops 400 --sim-bug leak-block\n", seed);
  bs_cli_expect_contains(fail, want, "the failure's reproduce line");
  bs_cli_free(&r);
}

static void diff_trace_starts_with_the_bslab_header(void **state) {
  (void)state;
  const bs_vol *v = bs_test_volume("tmpfs");
  char root[4300], trace[300];
  snprintf(root, sizeof(root), "%s/labcmd-%d", v->mnt, (int)getpid());
  assert_int_equal(mkdir(root, 0755), 0);
  snprintf(trace, sizeof(trace), "%s/diff.trace", bs_cli_tmp());
  bs_cli_run r;
  BSLAB(&r, "diff", "--root", root, "--seed", "7", "--ops", "20", "--trace", trace, "--quiet");
  bs_cli_expect_status(&r, 0, "diff on tmpfs");
  bs_cli_free(&r);
  char *text = bs_cli_slurp(trace, NULL);
  const char *head = "# bslab diff trace 1 (a plain op list)\n# profile tmpfs seed 7 ops 20\n0 caps => ";
  if (strncmp(text, head, strlen(head)) != 0)
    fail_msg("the trace starts:\n%.200s\nnot:\n%s", text, head);
  bs_cli_expect_contains(text, "\n19 ", "the trace's last operation");
  free(text);
  assert_int_equal(rmdir(root), 0);
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("labcmd");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(campaign_reproduce_line_names_profile_seed_ops_and_bug),
      cmocka_unit_test(diff_trace_starts_with_the_bslab_header),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
