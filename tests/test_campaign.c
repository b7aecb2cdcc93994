/* The campaign engine (lab/lab.h): it passes on a correct sim,
 * it catches each deliberate sim defect and the reported seed reproduces it,
 * and a seed's trace digest is the same in every process and for any --jobs. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"
#include "backstore/sim.h"
#include "backstore/faults.h"
#include "tests/support/bs_test.h"

static void fail_with(const bs_campaign_opts *o, const bs_campaign_failure *f) {
  fail_msg("profile %s seed %" PRIu64 " op %" PRIu32 " (%s): %s: expected %s, got %s: %s\n"
           "  reproduce: bslab campaign --profile %s --seed %" PRIu64 " --ops %" PRIu32,
           o->profile, f->seed, f->op_index, f->op, f->check, f->expected, f->actual, f->message,
           o->profile, f->seed, o->ops ? o->ops : BS_CAMPAIGN_DEFAULT_OPS);
}

static void campaign_passes_on_every_profile(void **state) {
  (void)state;
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++) {
    bs_campaign_opts o = {
      .profile = bs_sim_profile_names[i],
      .first_seed = bs_test_seed(),
      .seeds = 4,
      .ops = (uint32_t)bs_test_iterations(500),
    };
    bs_campaign_summary s;
    assert_bs_ok(bs_campaign_run(&s, &o));
    print_message("    [ profile  ] %-6s %" PRIu64 " ops, %" PRIu64 " power losses, %" PRIu64
                  " expected errors\n",
                  o.profile, s.ops, s.power_losses, s.expected_errors);
    if (s.violations) {
      bs_campaign_failure f = s.failures[0];
      bs_campaign_summary_free(&s);
      fail_with(&o, &f);
    }
    assert_int_equal(s.seeds_run, 4);
    assert_int_equal(s.ops, 4ull * o.ops);
    bs_campaign_summary_free(&s);
  }
}

/* An injected failure of a call the store would have refused anyway (a
 * create of an over-long name, op 118 of this seed) is not a violation: the
 * absence check only runs where the call would have made something. */
static void campaign_injected_fault_on_a_refused_call_is_no_violation(void **state) {
  (void)state;
  if (!bs_faults_lower_available())
    skip();
  bs_campaign_opts o = {
    .profile = "apfs",
    .first_seed = 3,
    .seeds = 1,
    .ops = 2000,
    .faults = "bs/sim/write=eio%0.02,bs/sim/alloc=enospc%0.02,bs/sim/reflink=enospc%0.05,"
              "bs/sim/sync=io%0.1,bs/sim/snapshot=tool_failed%0.1,bs/sim/snapshot_delete=io%0.2,"
              "bs/op/write=io%0.005,"
              "bs/op/create=no_space%0.005,bs/op/reflink=busy%0.01",
  };
  bs_campaign_summary s;
  assert_bs_ok(bs_campaign_run(&s, &o));
  if (s.violations) {
    bs_campaign_failure f = s.failures[0];
    bs_campaign_summary_free(&s);
    fail_with(&o, &f);
  }
  assert_true(s.faults_fired > 0);
  bs_campaign_summary_free(&s);
}

static void campaign_checks_unsupported_ops_on_hfs_and_ext4(void **state) {
  (void)state;
  const char *profiles[] = {"hfs", "ext4"};
  for (int i = 0; i < 2; i++) {
    bs_campaign_opts o = {.profile = profiles[i], .ops = 400};
    bs_campaign_result r;
    assert_bs_ok(bs_campaign_run_seed(&r, &o, bs_test_seed()));
    if (r.failed)
      fail_with(&o, &r.failure);
    assert_true(r.unsupported > 0);
    assert_true(r.expected_errors >= r.unsupported);
  }
}

/* A defect is caught within a few seeds, and the failing seed alone fails the
 * same way again.  With @model_only the sim's own check is off: the
 * campaign's content and space invariants must catch it by themselves. */
static void detects_bug(const char *bug, const char *profile, bool model_only) {
  bs_campaign_opts o = {.profile = profile, .first_seed = bs_test_seed(), .seeds = 4,
                        .ops = 1500, .sim_bug = bug, .no_backend_check = model_only};
  bs_campaign_summary s;
  assert_bs_ok(bs_campaign_run(&s, &o));
  if (s.violations == 0) {
    bs_campaign_summary_free(&s);
    fail_msg("sim bug %s on %s went unnoticed in 4 seeds x 1500 ops", bug, profile);
  }
  bs_campaign_failure f = s.failures[0];
  bs_campaign_summary_free(&s);
  if (model_only && strcmp(f.check, "check") == 0)
    fail_msg("with the backend check off, %s was reported by '%s'", bug, f.check);
  print_message("    [ caught   ] %s: seed %" PRIu64 " op %" PRIu32 " %s (%s): %s\n", bug, f.seed,
                f.op_index, f.op, f.check, f.message);
  bs_campaign_result r;
  assert_bs_ok(bs_campaign_run_seed(&r, &o, f.seed));
  assert_true(r.failed);
  assert_int_equal(r.failure.seed, f.seed);
  assert_int_equal(r.failure.op_index, f.op_index);
  assert_string_equal(r.failure.op, f.op);
  assert_string_equal(r.failure.check, f.check);
  assert_string_equal(r.failure.message, f.message);
  /* Without the defect the same seed passes its first f.op_index + 1 ops. */
  o.sim_bug = NULL;
  o.ops = f.op_index + 1;
  assert_bs_ok(bs_campaign_run_seed(&r, &o, f.seed));
  if (r.failed)
    fail_with(&o, &r.failure);
}

static void campaign_detects_cow_in_place_bug(void **state) {
  (void)state;
  detects_bug("cow-in-place", "apfs", false);
  detects_bug("cow-in-place", "btrfs", false);
  detects_bug("cow-in-place", "apfs", true); /* a clone's source changes: content */
  detects_bug("cow-in-place", "xfs", true);
}

static void campaign_detects_leak_block_bug(void **state) {
  (void)state;
  detects_bug("leak-block", "apfs", false);
  detects_bug("leak-block", "ext4", false);
  detects_bug("leak-block", "apfs", true); /* used space outgrows the files: space */
  detects_bug("leak-block", "tmpfs", true);
}

/* A defect in a file the operation did not touch (stray-write flips a byte
 * of another file of the written file's directory, behind the sim's own
 * bookkeeping): the per-operation checks compare only what an operation can
 * reach, so it is the periodic full comparison (a sweep every
 * BS_CAMPAIGN_SWEEP_EVERY operations, at every power loss, at the end) that
 * must catch it: every seed fails on content, and on some seeds the first
 * to notice is a sweep. */
static void campaign_catches_a_defect_in_an_untouched_file_at_a_sweep(void **state) {
  (void)state;
  detects_bug("stray-write", "apfs", true);
  const char *profiles[] = {"apfs", "btrfs", "xfs", "ext4"};
  int at_sweep = 0;
  for (size_t p = 0; p < sizeof(profiles) / sizeof(profiles[0]); p++) {
    bs_campaign_opts o = {.profile = profiles[p], .first_seed = 1, .seeds = 6, .ops = 1500,
                          .sim_bug = "stray-write", .no_backend_check = true};
    bs_campaign_summary s;
    assert_bs_ok(bs_campaign_run(&s, &o));
    assert_int_equal(s.violations, 6);
    for (size_t i = 0; i < s.n_failures; i++) {
      const bs_campaign_failure *f = &s.failures[i];
      if (strcmp(f->check, "content") != 0 && strcmp(f->check, "crash") != 0)
        fail_msg("%s seed %" PRIu64 ": stray-write reported by '%s': %s", profiles[p], f->seed, f->check,
                 f->message);
      if (strncmp(f->op, "sweep after op", 14) == 0) {
        at_sweep++;
        /* A sweep runs after every BS_CAMPAIGN_SWEEP_EVERY-th operation. */
        assert_int_equal((f->op_index + 1) % BS_CAMPAIGN_SWEEP_EVERY, 0);
      }
    }
    bs_campaign_summary_free(&s);
  }
  print_message("    [ sweeps   ] %d of 24 seeds' stray writes were first seen by a sweep\n", at_sweep);
  assert_true(at_sweep > 0);
}

static void campaign_rejects_bad_options(void **state) {
  (void)state;
  bs_campaign_result r;
  bs_campaign_opts o = {.profile = "zfs", .ops = 10};
  assert_int_not_equal(bs_campaign_run_seed(&r, &o, 1), 0);
  assert_non_null(strstr(r.failure.message, "zfs"));
  o.profile = "apfs";
  o.sim_bug = "no-such-bug";
  assert_bs_err(bs_campaign_run_seed(&r, &o, 1), BS_EINVALID);
  assert_non_null(strstr(r.failure.message, "no-such-bug"));
  o.sim_bug = NULL;
  o.backend = "nonexistent";
  bs_campaign_summary s;
  assert_bs_err(bs_campaign_run(&s, &o), BS_ENOT_FOUND);
  assert_true(s.error[0] != '\0');
  bs_campaign_summary_free(&s);
}

static void campaign_run_rejects_trace_with_jobs_and_seed_overflow(void **state) {
  (void)state;
  bs_campaign_summary s;
  FILE *trace = tmpfile();
  assert_non_null(trace);
  bs_campaign_opts o = {.profile = "apfs", .seeds = 2, .ops = 10, .jobs = 2, .trace = trace};
  assert_bs_err(bs_campaign_run(&s, &o), BS_EINVALID);
  assert_non_null(strstr(s.error, "trace"));
  bs_campaign_summary_free(&s);
  assert_int_equal(ftell(trace), 0); /* nothing ran */
  fclose(trace);
  o.trace = NULL;
  o.first_seed = UINT64_MAX;
  assert_bs_err(bs_campaign_run(&s, &o), BS_EINVALID);
  assert_non_null(strstr(s.error, "past the last seed"));
  assert_int_equal(s.seeds_run, 0);
  bs_campaign_summary_free(&s);
  o.first_seed = UINT64_MAX - 1; /* the last two seeds are fine */
  assert_bs_ok(bs_campaign_run(&s, &o));
  assert_int_equal(s.seeds_run, 2);
  bs_campaign_summary_free(&s);
}

static void last_progress(void *ctx, const bs_campaign_progress *p) {
  *(bs_campaign_progress *)ctx = *p;
}

static void campaign_progress_ends_complete_when_seeds_fail(void **state) {
  (void)state;
  bs_campaign_progress last = {0};
  bs_campaign_opts o = {.profile = "apfs", .seeds = 3, .ops = 1000, .jobs = 2,
                        .sim_bug = "cow-in-place", .progress = last_progress, .ctx = &last};
  bs_campaign_summary s;
  assert_bs_ok(bs_campaign_run(&s, &o));
  assert_true(s.violations > 0);
  assert_true(s.ops < 3000u); /* the failing seeds stopped early */
  assert_int_equal(last.seeds_done, 3);
  assert_int_equal(last.ops_done, s.ops);
  assert_int_equal(last.ops_total, s.ops);
  bs_campaign_summary_free(&s);
}

/* Per-seed digests of a campaign, collected by seed_done (called in order). */
typedef struct digests {
  uint64_t seed[8], digest[8];
  int n;
} digests;

static void collect(void *ctx, const bs_campaign_result *r) {
  digests *d = ctx;
  if (d->n < 8) {
    d->seed[d->n] = r->seed;
    d->digest[d->n++] = r->digest;
  }
}

static void campaign_digest_does_not_depend_on_jobs(void **state) {
  (void)state;
  digests one = {0}, three = {0};
  bs_campaign_opts o = {.profile = "btrfs", .first_seed = 40, .seeds = 6, .ops = 150,
                        .seed_done = collect, .ctx = &one};
  bs_campaign_summary s;
  assert_bs_ok(bs_campaign_run(&s, &o));
  bs_campaign_summary_free(&s);
  o.jobs = 3;
  o.ctx = &three;
  assert_bs_ok(bs_campaign_run(&s, &o));
  bs_campaign_summary_free(&s);
  assert_int_equal(one.n, 6);
  assert_int_equal(three.n, 6);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(one.seed[i], 40 + i);
    assert_int_equal(three.seed[i], 40 + i);
    assert_int_equal(one.digest[i], three.digest[i]);
    if (i)
      assert_int_not_equal(one.digest[i], one.digest[i - 1]);
  }
}

/* Per-seed virtual time, collected by seed_done. */
static void collect_sim_ns(void *ctx, const bs_campaign_result *r) {
  uint64_t *sum = ctx;
  assert_true(r->sim_ns > 0);
  *sum += r->sim_ns;
}

/* The summary reports the virtual clock's total over the seeds, the same
 * whatever the number of jobs (it is as deterministic as the digests), and
 * the time compression: simulated seconds per wall second. */
static void campaign_reports_simulated_time(void **state) {
  (void)state;
  uint64_t sum = 0;
  bs_campaign_opts o = {.profile = "xfs", .first_seed = 7, .seeds = 4, .ops = 300,
                        .seed_done = collect_sim_ns, .ctx = &sum};
  bs_campaign_summary one, three;
  assert_bs_ok(bs_campaign_run(&one, &o));
  assert_true(one.sim_ns > 0);
  assert_int_equal(one.sim_ns, sum);
  assert_true(one.seconds > 0);
  assert_true(one.time_compression > 0);
  assert_true(fabs(one.time_compression - (double)one.sim_ns * 1e-9 / one.seconds) <= 1e-9 * one.time_compression);
  o.jobs = 3;
  sum = 0;
  assert_bs_ok(bs_campaign_run(&three, &o));
  assert_int_equal(three.sim_ns, one.sim_ns);
  assert_int_equal(sum, one.sim_ns);
  bs_campaign_summary_free(&one);
  bs_campaign_summary_free(&three);
  /* More operations, more virtual time; each seed's is its store's clock. */
  bs_campaign_result r1, r2;
  o = (bs_campaign_opts){.profile = "xfs", .ops = 100};
  assert_bs_ok(bs_campaign_run_seed(&r1, &o, 7));
  o.ops = 200;
  assert_bs_ok(bs_campaign_run_seed(&r2, &o, 7));
  assert_true(r1.sim_ns > 0 && r2.sim_ns > r1.sim_ns);
  assert_int_equal(bs_campaign_time_compression(3000000000u, 2.0) * 2, 3);
  assert_true(bs_campaign_time_compression(5, 0) == 0);
}

/* Run `bslab campaign --seed S --ops N --digest --quiet`; the lines of its
 * stdout that start with "seed " in @out (the summary has the wall-clock
 * ops/s, which differs from run to run). */
static void run_digest(uint64_t seed, uint32_t ops, char *out, size_t cap) {
  char cmd[512], line[512];
  snprintf(cmd, sizeof(cmd), "%s campaign --seed %" PRIu64 " --ops %" PRIu32 " --digest --quiet",
           bs_test_bslab(), seed, ops);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = 0;
  out[0] = '\0';
  while (fgets(line, sizeof(line), p))
    if (strncmp(line, "seed ", 5) == 0 && n + strlen(line) < cap)
      n += (size_t)snprintf(out + n, cap - n, "%s", line);
  int st = pclose(p);
  if (st != 0)
    fail_msg("'%s' exited with status %d", cmd, st);
  if (n == 0)
    fail_msg("'%s' printed no digest line", cmd);
}

static void campaign_same_seed_same_digest_in_two_processes(void **state) {
  (void)state;
  uint64_t seed = bs_test_seed();
  char a[4096], b[4096], c[4096], want[64];
  run_digest(seed, 300, a, sizeof(a));
  run_digest(seed, 300, b, sizeof(b));
  assert_string_equal(a, b);
  /* The digest line is the one the library computes in this process. */
  bs_campaign_opts o = {.profile = "apfs", .ops = 300};
  bs_campaign_result r;
  assert_bs_ok(bs_campaign_run_seed(&r, &o, seed));
  assert_false(r.failed);
  snprintf(want, sizeof(want), "seed %" PRIu64 " digest %016" PRIx64 "\n", seed, r.digest);
  if (strcmp(a, want) != 0)
    fail_msg("bslab printed: %sthe library computes: %s", a, want);
  run_digest(seed + 1, 300, c, sizeof(c));
  assert_string_not_equal(strstr(a, "digest"), strstr(c, "digest"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(campaign_passes_on_every_profile),
    cmocka_unit_test(campaign_checks_unsupported_ops_on_hfs_and_ext4),
    cmocka_unit_test(campaign_injected_fault_on_a_refused_call_is_no_violation),
    cmocka_unit_test(campaign_detects_cow_in_place_bug),
    cmocka_unit_test(campaign_detects_leak_block_bug),
    cmocka_unit_test(campaign_catches_a_defect_in_an_untouched_file_at_a_sweep),
    cmocka_unit_test(campaign_rejects_bad_options),
    cmocka_unit_test(campaign_run_rejects_trace_with_jobs_and_seed_overflow),
    cmocka_unit_test(campaign_progress_ends_complete_when_seeds_fail),
    cmocka_unit_test(campaign_digest_does_not_depend_on_jobs),
    cmocka_unit_test(campaign_same_seed_same_digest_in_two_processes),
    cmocka_unit_test(campaign_reports_simulated_time),
  };
  return cmocka_run_group_tests_name("campaign", tests, NULL, NULL);
}
