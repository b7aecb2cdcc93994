/* The campaign's overlay mix (docs/campaign.md, "The overlay mix"): symlink,
 * readlink and overlay branches join the drawn operations and the reference
 * model, on every sim profile; the model's prediction of copy-ups (and of
 * the syncs they imply) is checked by the crash check, so a model that
 * mispredicts one is caught; a sim defect under overlay branches is caught;
 * the default mix is unchanged (same digests with the option off). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/campaign_internal.h"
#include "lab/lab.h"
#include "backstore/sim.h"
#include "tests/support/bs_test.h"

static void fail_with(const bs_campaign_opts *o, const bs_campaign_failure *f) {
  fail_msg("profile %s seed %" PRIu64 " op %" PRIu32 " (%s): %s: expected %s, got %s: %s\n"
           "  reproduce: bslab campaign --profile %s --seed %" PRIu64 " --ops %" PRIu32 " --mix overlay",
           o->profile, f->seed, f->op_index, f->op, f->check, f->expected, f->actual, f->message,
           o->profile, f->seed, o->ops);
}

/* Lines of @text that start with @op and end in " -> OK...". */
static unsigned count_ok(const char *text, const char *op) {
  unsigned n = 0;
  size_t len = strlen(op);
  for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    const char *sp = strchr(l, ' ');
    const char *nl = strchr(l, '\n');
    const char *ok = strstr(l, " -> OK");
    if (sp && strncmp(sp + 1, op, len) == 0 && sp[1 + len] == ' ' && ok && (!nl || ok < nl))
      n++;
  }
  return n;
}

static void overlay_mix_passes_on_every_profile(void **state) {
  (void)state;
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++) {
    char *text = NULL;
    size_t size = 0;
    FILE *tr = open_memstream(&text, &size);
    assert_non_null(tr);
    bs_campaign_opts o = {
      .profile = bs_sim_profile_names[i],
      .first_seed = bs_test_seed(),
      .seeds = 4,
      /* Enough ops to make snapshots, branches and links even under valgrind. */
      .ops = (uint32_t)(bs_test_iterations(1500) > 400 ? bs_test_iterations(1500) : 400),
      .overlay_mix = true,
      .trace = tr,
    };
    bs_campaign_summary s;
    int rc = bs_campaign_run(&s, &o);
    fclose(tr);
    assert_bs_ok(rc);
    if (s.violations) {
      bs_campaign_failure f = s.failures[0];
      bs_campaign_summary_free(&s);
      free(text);
      fail_with(&o, &f);
    }
    unsigned ov = count_ok(text, "overlay-create"), sl = count_ok(text, "symlink"),
             rl = count_ok(text, "readlink");
    print_message("    [ profile  ] %-6s %" PRIu64 " ops: %u overlay branches, %u symlinks, %u readlinks, %"
                  PRIu64 " power losses\n", o.profile, s.ops, ov, sl, rl, s.power_losses);
    bs_campaign_summary_free(&s);
    free(text);
    assert_true(sl > 0 && rl > 0);
    bs_caps caps;
    bs_store *st;
    bs_open_opts oo = {.profile = o.profile};
    assert_bs_ok(bs_open(&st, "sim", &oo));
    assert_bs_ok(bs_get_caps(st, &caps));
    bs_close(st);
    if (caps.native_snapshots)
      assert_true(ov > 0);
  }
}

/* The default mix draws exactly what it drew before the overlay mix existed:
 * the digest of a seed (golden/ and corpora/trace depend on it) does not
 * change, and the overlay mix does draw another stream. */
static void default_mix_stream_is_unchanged(void **state) {
  (void)state;
  bs_campaign_opts o = {.profile = "apfs", .ops = 2000};
  bs_campaign_result a, b;
  assert_bs_ok(bs_campaign_run_seed(&a, &o, 1));
  /* bslab campaign --profile apfs --seed 1 --ops 2000 --digest, before the
   * overlay mix (main ed58d36) */
  assert_false(a.failed);
  o.overlay_mix = true;
  assert_bs_ok(bs_campaign_run_seed(&b, &o, 1));
  assert_false(b.failed);
  assert_true(a.digest != b.digest);
  char want[32];
  snprintf(want, sizeof(want), "%016" PRIx64, a.digest);
  assert_string_equal(want, "084ef2d0632fbb13");
}

/* A sim defect (a clone written in place: a copy-up by reflink then changes
 * the snapshot under the branch) is caught by the model alone. */
static void overlay_mix_catches_cow_in_place(void **state) {
  (void)state;
  bs_campaign_opts o = {.profile = "btrfs", .first_seed = bs_test_seed(), .seeds = 4, .ops = 1500,
                        .sim_bug = "cow-in-place", .no_backend_check = true, .overlay_mix = true};
  bs_campaign_summary s;
  assert_bs_ok(bs_campaign_run(&s, &o));
  assert_true(s.violations > 0);
  print_message("    [ caught   ] cow-in-place: %s (%s): %s\n", s.failures[0].op, s.failures[0].check,
                s.failures[0].message);
  bs_campaign_summary_free(&s);
}

/* Run @op (already parsed) through the campaign engine; its result must be
 * the oracle's.  0 or -1 (the campaign failed). */
static int run_line(bs__camp *c, const char *line) {
  bs__op op;
  char why[160] = "";
  if (bs__op_parse(line, &op, why, sizeof(why)) != 0)
    fail_msg("cannot parse \"%s\": %s", line, why);
  if (bs__camp_expect(&c->m, c->has_power_loss, &op, why, sizeof(why)) != 0)
    fail_msg("outside the model: \"%s\": %s", line, why);
  return bs__camp_exec(c, &op);
}

/* Copy-up makes the file durable and syncs its parent in the upper: after
 * that a power loss keeps what the parent's subtree held.  A model that
 * believes a copied-up file is still in the lower predicts one more copy-up
 * (and sync) on the next write, and the crash check catches it. */
static void model_with_a_wrong_copy_up_is_caught(void **state) {
  (void)state;
  for (int wrong = 0; wrong < 2; wrong++) {
    bs_campaign_opts o = {.profile = "btrfs", .overlay_mix = true};
    bs_campaign_result res;
    bs__camp c;
    assert_bs_ok(bs__camp_open(&c, &o, &res, 1));
    const char *setup[] = {
      "mkdir /d0", "create /d0/f0", "write /d0/f0 off=0 len=8 data=0000000000000001",
      "snapshot-create s0", "overlay-create id=1 b0",
      "write /.bs/branches/b0/d0/f0 off=0 len=100 data=0000000000000002", /* copy-up */
    };
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
      char line[160];
      snprintf(line, sizeof(line), "%s", setup[i]);
      if (strncmp(line, "overlay-create", 14) == 0)
        snprintf(line, sizeof(line), "overlay-create id=%" PRIu64 " b0", c.m.snaps[0].id);
      if (run_line(&c, line) != 0)
        fail_msg("setup \"%s\": %s", line, res.failure.message);
    }
    int f0 = bs__cm_find(&c.m, "/.bs/branches/b0/d0/f0");
    assert_true(f0 >= 0);
    assert_true(c.m.nodes[f0].upper);
    assert_true(c.m.nodes[f0].dirty);
    assert_int_equal(c.m.nodes[f0].dur.n, 8); /* the copy-up's durable content */
    if (wrong)
      c.m.nodes[f0].upper = false; /* the deliberate error */
    int rc = run_line(&c, "write /.bs/branches/b0/d0/f0 off=100 len=50 data=0000000000000003");
    if (rc == 0)
      rc = run_line(&c, "power-loss drop");
    if (wrong) {
      assert_int_equal(rc, -1);
      assert_true(res.failed);
      assert_string_equal(res.failure.check, "crash");
    } else if (rc != 0) {
      fail_msg("the right model failed: %s: %s", res.failure.check, res.failure.message);
    }
    bs__camp_close(&c);
  }
}

/* A whiteout syncs its parent directory in the upper: an unlink of a lower
 * file makes a sibling's unsynced write durable, and the model knows it. */
static void whiteout_sync_is_modelled(void **state) {
  (void)state;
  bs_campaign_opts o = {.profile = "btrfs", .overlay_mix = true};
  bs_campaign_result res;
  bs__camp c;
  assert_bs_ok(bs__camp_open(&c, &o, &res, 1));
  const char *lines[] = {
    "create /f0", "create /f1", "snapshot-create s0", NULL,
    "create /.bs/branches/b0/f2", "write /.bs/branches/b0/f2 off=0 len=10 data=0000000000000004",
    "unlink /.bs/branches/b0/f1", /* whiteout: syncs the upper root */
    "power-loss drop", "readlink /.bs/branches/b0/f1", "symlink /.bs/branches/b0/f1 f0",
    "readlink /.bs/branches/b0/f1", "unlink /.bs/branches/b0/f1", "power-loss tear",
  };
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
    char line[160];
    if (lines[i])
      snprintf(line, sizeof(line), "%s", lines[i]);
    else
      snprintf(line, sizeof(line), "overlay-create id=%" PRIu64 " b0", c.m.snaps[0].id);
    if (run_line(&c, line) != 0)
      fail_msg("\"%s\": %s: %s", line, res.failure.check, res.failure.message);
    if (i == 6) { /* after the unlink: the model knows f2 is durable, the drop must keep it */
      int f2 = bs__cm_find(&c.m, "/.bs/branches/b0/f2");
      assert_true(f2 >= 0);
      assert_false(c.m.nodes[f2].dirty);
      assert_int_equal(c.m.nodes[f2].dur.n, 10);
    }
  }
  assert_true(bs__cm_find(&c.m, "/.bs/snapshots/s0/f1") >= 0); /* the snapshot never changes */
  bs__camp_close(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(overlay_mix_passes_on_every_profile),
    cmocka_unit_test(default_mix_stream_is_unchanged),
    cmocka_unit_test(overlay_mix_catches_cow_in_place),
    cmocka_unit_test(model_with_a_wrong_copy_up_is_caught),
    cmocka_unit_test(whiteout_sync_is_modelled),
  };
  return cmocka_run_group_tests_name("lab_overlay", tests, NULL, NULL);
}
