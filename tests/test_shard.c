/* Campaigns across machines (docs/campaign.md, "Sharding"): bslab campaign
 * --shard I/N runs disjoint slices of the seeds, and bslab merge joins their
 * JSON summaries into the summary of one unsharded run, byte for byte but
 * for the line of jobs and timing, digests included.  Merge refuses what is
 * not the complete set of shards of one campaign. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"

static char path_buf[8][256];

/* A path in the suite's temp dir (a few live at once). */
static const char *tmp_path(const char *name) {
  static unsigned next;
  char *p = path_buf[next++ % 8];
  snprintf(p, sizeof(path_buf[0]), "%s/%s", bs_cli_tmp(), name);
  return p;
}

/* @text without its run-dependent line ("jobs", "seconds", "ops_per_sec"). */
static char *without_timing(char *text) {
  char *line = strstr(text, "\n  \"jobs\": ");
  assert_non_null(line);
  char *end = strchr(line + 1, '\n');
  assert_non_null(end);
  memmove(line, end, strlen(end) + 1);
  return text;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* Run the campaign of @extra whole and as @n shards, merge, compare. */
static void sharded_equals_whole(const char *profile, const char *bug, unsigned n, int status) {
  char seeds[] = "9", shard[32], name[64];
  const char *whole = tmp_path("whole.json");
  const char *bugv[2] = {bug ? "--sim-bug" : "--quiet", bug ? bug : "--quiet"};
  EXPECT(status, NULL, NULL, "campaign", "--profile", profile, "--seeds", seeds, "--ops", "150", "--quiet",
         bugv[0], bugv[1], "--json", whole);
  const char *args[16 + 8] = {"merge", "-o", tmp_path("merged.json")};
  int na = 3;
  for (unsigned i = n; i-- > 0;) { /* given in reverse: merge orders them */
    snprintf(shard, sizeof(shard), "%u/%u", i, n);
    snprintf(name, sizeof(name), "shard%u.json", i);
    const char *out = tmp_path(name);
    EXPECT(status, NULL, NULL, "campaign", "--profile", profile, "--seeds",
           seeds, "--ops", "150", "--quiet", bugv[0], bugv[1], "--shard", shard, "--json", out);
    args[na++] = strdup(out);
  }
  args[na] = NULL;
  bs_cli_check(status, NULL, NULL, args);
  for (int i = 3; i < na; i++)
    free((char *)args[i]);
  char *w = bs_cli_slurp(whole, NULL), *m = bs_cli_slurp(tmp_path("merged.json"), NULL);
  assert_int_equal(count(w, "\"digest\": \""), 9);
  assert_non_null(strstr(w, "\"shard\": null"));
  /* Virtual time is summed (the merged total is the whole run's, compared
   * below); the time compression is on the timing line. */
  assert_non_null(strstr(w, "\"sim_ns\": "));
  assert_null(strstr(w, "\"sim_ns\": 0,"));
  assert_non_null(strstr(m, "\"time_compression\": "));
  assert_string_equal(without_timing(m), without_timing(w));
  free(w);
  free(m);
}

static void shard_four_merged_equal_one_run(void **state) {
  (void)state;
  sharded_equals_whole("btrfs", NULL, 4, 0);
  sharded_equals_whole("ext4", NULL, 4, 0);
}

static void shard_failures_and_traces_merge_in_seed_order(void **state) {
  (void)state;
  /* Every seed fails: 9 failures with their traces, over 4 and 2 shards. */
  sharded_equals_whole("apfs", "leak-block", 4, 1);
  sharded_equals_whole("apfs", "leak-block", 2, 1);
}

static void shard_slices_are_disjoint_and_cover(void **state) {
  (void)state;
  /* 10 seeds from 5 over 3 shards: 5-8, 9-11, 12-14. */
  EXPECT(0, "seeds 5..8 (shard 0/3)", NULL, "campaign", "--seed", "5", "--seeds", "10", "--ops", "20",
         "--quiet", "--shard", "0/3");
  EXPECT(0, "seeds 9..11 (shard 1/3)", NULL, "campaign", "--seed", "5", "--seeds", "10", "--ops", "20",
         "--quiet", "--shard", "1/3");
  EXPECT(0, "seeds 12..14 (shard 2/3)", NULL, "campaign", "--seed", "5", "--seeds", "10", "--ops", "20",
         "--quiet", "--shard", "2/3");
}

static void shard_option_is_checked(void **state) {
  (void)state;
  const char *bad[] = {"1", "4/4", "a/2", "0/0", "-1/2", "0/65537", "1/", "/2"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    EXPECT(2, NULL, "--shard needs I/N", "campaign", "--seeds", "8", "--shard", bad[i]);
  EXPECT(2, NULL, "more shards than the 3 seeds", "campaign", "--seeds", "3", "--shard", "0/4");
}

static void merge_refuses_what_is_not_one_campaign(void **state) {
  (void)state;
  const char *s0 = tmp_path("r0.json"), *s1 = tmp_path("r1.json"), *o1 = tmp_path("o1.json");
  const char *whole = tmp_path("rw.json"), *junk = tmp_path("junk.json");
  EXPECT(0, NULL, NULL, "campaign", "--seeds", "4", "--ops", "30", "--quiet", "--shard", "0/2", "--json", s0);
  EXPECT(0, NULL, NULL, "campaign", "--seeds", "4", "--ops", "30", "--quiet", "--shard", "1/2", "--json", s1);
  EXPECT(0, NULL, NULL, "campaign", "--seeds", "4", "--ops", "31", "--quiet", "--shard", "1/2", "--json", o1);
  EXPECT(0, NULL, NULL, "campaign", "--seeds", "4", "--ops", "30", "--quiet", "--json", whole);
  bs_cli_write_text(junk, "{\"format\": 1,");
  EXPECT(0, "\"seeds_run\": 4", NULL, "merge", s1, s0);
  EXPECT(2, NULL, "shard 1/2 is missing", "merge", s0);
  EXPECT(2, NULL, "is given twice", "merge", s0, s0, s1);
  EXPECT(2, NULL, "a shard of another campaign", "merge", s0, o1);
  EXPECT(2, NULL, "not the summary of a shard", "merge", whole);
  EXPECT(2, NULL, "not JSON", "merge", junk);
  EXPECT(2, NULL, "cannot open", "merge", tmp_path("absent.json"));
  EXPECT(2, NULL, "missing argument", "merge");
  EXPECT(0, "usage: bslab merge", NULL, "merge", "--help");
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("shard");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(shard_four_merged_equal_one_run),
    cmocka_unit_test(shard_failures_and_traces_merge_in_seed_order),
    cmocka_unit_test(shard_slices_are_disjoint_and_cover),
    cmocka_unit_test(shard_option_is_checked),
    cmocka_unit_test(merge_refuses_what_is_not_one_campaign),
  };
  return cmocka_run_group_tests_name("shard", tests, setup, teardown);
}
