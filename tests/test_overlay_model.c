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
#include "lab/campaign_internal.h"
#include "lab/lab.h"
#include "tests/support/bs_test.h"

/* Snapshot "s" of @st's main tree and overlay branch "b" of it; the
 * snapshot's id. */
static uint64_t branch_b(bs_store *st) {
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts bo = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &bo));
  return si.id;
}

/* Delete what branch_b made. */
static void drop_b(bs_store *st, uint64_t snap) {
  assert_bs_ok(bs_branch_delete(st, "b"));
  assert_bs_ok(bs_snapshot_delete(st, snap));
}

/* A store of sim @profile with /d/F7 and /d/g in snapshot "s" and an overlay
 * branch "b" of it. */
static bs_store *with_branch(const char *profile) {
  bs_store *st = bs_test_open_sim(profile, bs_test_seed());
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_create(st, "/d/F7", 0644));
  assert_bs_ok(bs_create(st, "/d/g", 0644));
  branch_b(st);
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

/* A dirty file with two names (a hard link, as a copy-up leaves one when
 * it is cut between its link into the upper layer and the removal of its
 * work name) loses its unsynced changes once in a power loss, not twice:
 * the campaign's crash-in found the sim reverting it twice, which freed
 * its durable blocks and showed zeros (btrfs, seed 5, op 1483). */
static void power_loss_reverts_a_linked_file_once(void **state) {
  (void)state;
  for (int m = 0; m < 2; m++) {
    bs_store *st = bs_test_open_sim("btrfs", bs_test_seed());
    uint8_t a[8192], b[100], got[8192];
    memset(a, 0x28, sizeof(a));
    memset(b, 0x77, sizeof(b));
    assert_bs_ok(bs_create(st, "/f", 0644));
    assert_bs_ok(bs_write(st, "/f", 0, a, sizeof(a)));
    assert_bs_ok(bs_link(st, "/f", "/g"));
    assert_bs_ok(bs_sync(st, NULL));
    assert_bs_ok(bs_write(st, "/g", 4096, b, sizeof(b)));
    assert_bs_ok(bs_power_loss(st, m ? BS_POWER_LOSS_TEAR : BS_POWER_LOSS_DROP));
    size_t n = 0;
    assert_bs_ok(bs_read(st, "/f", 0, got, sizeof(got), &n));
    assert_int_equal(n, sizeof(a));
    assert_memory_equal(got, a, 4096); /* block 0 was never changed */
    assert_bs_ok(bs_check(st));
    bs_close(st);
  }
}

/* Run @line (parsed, judged by the oracle) through the campaign engine.
 * 0 or -1 (a check failed). */
static int run_line(bs__camp *c, const char *line) {
  char why[160] = "";
  int rc = bs__camp_run_text(c, line, why, sizeof(why));
  if (rc == -2)
    fail_msg("\"%s\" does not parse or is outside the model: %s", line, why);
  if (rc == 0 && strncmp(line, "crash-in ", 9) != 0) { /* the text round-trips (in the trace line) */
    const char *sp = strchr(c->line, ' '), *arrow = strstr(c->line, " -> ");
    assert_true(sp && arrow && (size_t)(arrow - sp - 1) == strlen(line));
    assert_memory_equal(sp + 1, line, strlen(line));
  }
  return rc;
}

/* A campaign store of btrfs with /d0/f0 (8 bytes, synced) in snapshot s0
 * and overlay branch b0 of it, and @bug set. */
static void open_branch(bs__camp *c, bs_campaign_opts *o, bs_campaign_result *res, bs_sim_bug bug) {
  *o = (bs_campaign_opts){.profile = "btrfs", .overlay_mix = true};
  assert_bs_ok(bs__camp_open(c, o, res, 1));
  assert_bs_ok(bs_sim_set_bug(c->st, bug));
  const char *setup[] = {"mkdir /d0", "create /d0/f0", "write /d0/f0 off=0 len=3000 data=0000000000000001",
                         "create /d0/f1", "snapshot-create s0"};
  for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
    if (run_line(c, setup[i]) != 0)
      fail_msg("setup \"%s\": %s", setup[i], res->failure.message);
  char line[64];
  snprintf(line, sizeof(line), "overlay-create id=%" PRIu64 " b0", c->m.snaps[0].id);
  if (run_line(c, line) != 0)
    fail_msg("setup \"%s\": %s", line, res->failure.message);
}

/* The crash-in operation cut after every number of backend calls of a
 * copy-up (write, truncate, setxattr of a lower file) and of a whiteout
 * (unlink of one), with both kinds of power loss: the branch then shows the
 * old view or the new one, and the campaign's checks pass.  With the
 * deliberate defect copy-up-order (the copy is filled in sight) some cut
 * shows a partial file, and the crash check says so. */
static void crash_in_at_every_step_of_a_copy_up_or_whiteout(void **state) {
  (void)state;
  const char *cut[] = {
    "write /.bs/branches/b0/d0/f0 off=1000 len=5000 data=0000000000000002",
    "truncate /.bs/branches/b0/d0/f0 size=100",
    "setxattr /.bs/branches/b0/d0/f0 user.bs1 len=9 data=0000000000000003",
    "unlink /.bs/branches/b0/d0/f0",
  };
  for (int bug = 0; bug < 2; bug++) {
    unsigned caught = 0, runs = 0, cuts = 0;
    for (size_t k = 0; k < sizeof(cut) / sizeof(cut[0]); k++)
      for (uint32_t steps = 0; steps < 24; steps++) {
        bs_campaign_opts o;
        bs_campaign_result res;
        bs__camp c;
        open_branch(&c, &o, &res, bug ? BS_SIM_BUG_COPY_UP_ORDER : BS_SIM_BUG_NONE);
        char line[CM_LINE];
        snprintf(line, sizeof(line), "crash-in %s steps=%" PRIu32 " %s", steps % 2 ? "tear" : "drop", steps,
                 cut[k]);
        int rc = run_line(&c, line);
        runs++;
        cuts += strstr(c.line, "cut=IO") != NULL;
        if (rc == 0) /* and the branch goes on working */
          rc = run_line(&c, "write /.bs/branches/b0/d0/f1 off=0 len=10 data=0000000000000004");
        if (rc != 0 && !bug)
          fail_msg("%s: %s: expected %s, got %s: %s", line, res.failure.check, res.failure.expected,
                   res.failure.actual, res.failure.message);
        if (rc != 0) {
          assert_string_equal(res.failure.check, "crash");
          if (caught++ == 0)
            print_message("    [ caught   ] copy-up-order: %s: %s\n", line, res.failure.message);
        }
        bs__camp_close(&c);
      }
    assert_true(cuts > runs / 2); /* most cuts land inside the operation */
    if (bug)
      assert_true(caught > 0);
  }
}

/* A campaign with the overlay mix draws crash-ins (among its other
 * operations) and catches the copy-up-order defect with one. */
static void overlay_mix_catches_copy_up_order(void **state) {
  (void)state;
  bs_campaign_opts o = {.profile = "btrfs", .first_seed = 3, .seeds = 1, .ops = 1100,
                        .sim_bug = "copy-up-order", .overlay_mix = true};
  bs_campaign_summary s;
  assert_bs_ok(bs_campaign_run(&s, &o));
  assert_true(s.violations > 0);
  assert_string_equal(s.failures[0].check, "crash");
  assert_memory_equal(s.failures[0].op, "crash-in ", 9);
  print_message("    [ caught   ] %s: %s\n", s.failures[0].op, s.failures[0].message);
  bs_campaign_summary_free(&s);
}

/* Hard links in the model: a change through one name shows through the
 * other in the main tree and in the upper layer of an overlay branch; a
 * copy-up gives a name its own inode ("Hard links are not kept across a
 * copy-up", docs/overlay.md).  A model that kept the link across the
 * copy-up is caught by the content checks. */
static void hard_links_in_the_overlay_model(void **state) {
  (void)state;
  for (int wrong = 0; wrong < 2; wrong++) {
    bs_campaign_opts o;
    bs_campaign_result res;
    bs__camp c;
    open_branch(&c, &o, &res, BS_SIM_BUG_NONE);
    const char *steps[] = {
      "link /d0/f0 /d0/f2", "write /d0/f2 off=10 len=10 data=0000000000000005",
      "link /.bs/branches/b0/d0/f0 /.bs/branches/b0/f3",
      "write /.bs/branches/b0/f3 off=0 len=20 data=0000000000000006",
      "link /.bs/branches/b0/d0/f1 /.bs/branches/b0/f3", /* EXISTS */
      "link /.bs/branches/b0/d0/missing0 /.bs/branches/b0/f4", /* NOT_FOUND */
      "power-loss tear",
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
      if (run_line(&c, steps[i]) != 0)
        fail_msg("\"%s\": %s: %s", steps[i], res.failure.check, res.failure.message);
    assert_true(c.m.nodes[bs__cm_find(&c.m, "/d0/f0")].ino != 0);
    int b0 = bs__cm_find(&c.m, "/.bs/branches/b0/d0/f0"), f3 = bs__cm_find(&c.m, "/.bs/branches/b0/f3");
    assert_int_equal(c.m.nodes[b0].ino, c.m.nodes[f3].ino);
    /* A snapshot of the main tree after the link: its names share an inode
     * in the model too, so an overlay branch of it starts with both... */
    assert_int_equal(run_line(&c, "snapshot-create s1"), 0);
    char line[96];
    snprintf(line, sizeof(line), "overlay-create id=%" PRIu64 " b1", c.m.snaps[1].id);
    assert_int_equal(run_line(&c, line), 0);
    int g = bs__cm_find(&c.m, "/.bs/branches/b1/d0/f2");
    assert_int_equal(c.m.nodes[g].ino, c.m.nodes[bs__cm_find(&c.m, "/.bs/branches/b1/d0/f0")].ino);
    /* ...and a write to one copies it up alone. */
    assert_int_equal(run_line(&c, "write /.bs/branches/b1/d0/f0 off=0 len=5 data=0000000000000007"), 0);
    if (wrong) { /* the deliberate error: the model keeps the link across the copy-up */
      int f0 = bs__cm_find(&c.m, "/.bs/branches/b1/d0/f0");
      c.m.nodes[f0].ino = c.m.nodes[g].ino;
    }
    int rc = run_line(&c, "write /.bs/branches/b1/d0/f0 off=100 len=5 data=0000000000000008");
    if (rc == 0)
      rc = bs__camp_sweep(&c);
    if (wrong) {
      assert_int_equal(rc, -1);
      print_message("    [ caught   ] a link kept across a copy-up: %s: %s\n", res.failure.check,
                    res.failure.message);
    } else if (rc != 0) {
      fail_msg("the right model failed: %s: %s", res.failure.check, res.failure.message);
    }
    bs__camp_close(&c);
  }
}

/* Stacked snapshots in the model (lab/campaign_stack.c): a snapshot of
 * overlay branch b0 shows the branch's view and holds b0's snapshot (BUSY,
 * also once b0 is gone); an overlay branch of it copies up from the chain;
 * the sweep compares every tree.  A model that forgets the hold predicts OK
 * for the lower's delete and is caught. */
static void stacked_snapshots_in_the_model(void **state) {
  (void)state;
  for (int wrong = 0; wrong < 2; wrong++) {
    bs__camp c;
    bs_campaign_opts o;
    bs_campaign_result res;
    open_branch(&c, &o, &res, BS_SIM_BUG_NONE);
    char line[96];
    const char *steps[] = {"write /.bs/branches/b0/d0/f0 off=10 len=5 data=0000000000000002",
                           "unlink /.bs/branches/b0/d0/f1", "create /.bs/branches/b0/d0/f2",
                           "branch-snapshot s1 of=b0"};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
      if (run_line(&c, steps[i]) != 0)
        fail_msg("\"%s\": %s: %s", steps[i], res.failure.check, res.failure.message);
    assert_true(c.m.snaps[1].stacked && c.m.snaps[1].lower == 0 && c.m.snaps[0].holders == 1);
    snprintf(line, sizeof(line), "overlay-create id=%" PRIu64 " b1", c.m.snaps[1].id);
    if (run_line(&c, line) != 0 ||
        run_line(&c, "write /.bs/branches/b1/d0/f2 off=0 len=4 data=0000000000000003") != 0 ||
        run_line(&c, "unlink /.bs/branches/b1/d0/f0") != 0 || run_line(&c, "branch-delete b0") != 0 ||
        bs__camp_sweep(&c) != 0)
      fail_msg("stacked branch: %s: %s", res.failure.check, res.failure.message);
    if (wrong)
      c.m.snaps[0].holders = 0;
    snprintf(line, sizeof(line), "snapshot-delete id=%" PRIu64, c.m.snaps[0].id);
    int rc = run_line(&c, line);
    if (wrong) {
      assert_int_equal(rc, -1);
      print_message("    [ caught   ] a stacked snapshot's hold forgotten: %s: %s\n", res.failure.check,
                    res.failure.message);
    } else {
      if (rc != 0)
        fail_msg("the lower's delete: %s: %s", res.failure.check, res.failure.message);
      assert_int_equal(c.m.snaps[0].live, true);
      char l2[96];
      snprintf(l2, sizeof(l2), "snapshot-delete id=%" PRIu64, c.m.snaps[1].id);
      if (run_line(&c, "branch-delete b1") != 0 || run_line(&c, l2) != 0 || run_line(&c, line) != 0 ||
          bs__camp_sweep(&c) != 0)
        fail_msg("deleting the chain: %s: %s", res.failure.check, res.failure.message);
      assert_false(c.m.snaps[0].live);
    }
    bs__camp_close(&c);
  }
}

/* Lines of @text whose operation is @op and whose result is OK. */
static unsigned count_ok(const char *text, const char *op) {
  unsigned n = 0;
  char pat[48];
  snprintf(pat, sizeof(pat), " %s ", op);
  for (const char *l = text; (l = strstr(l, pat)) != NULL; l++) {
    const char *nl = strchr(l, '\n'), *ok = strstr(l, " -> OK");
    n += ok && (!nl || ok < nl) && (l == text || l[-1] != '>');
  }
  return n;
}

/* The overlay mix draws links, crash-ins and snapshots of branches
 * (stacked on an overlay branch's snapshot, lab/campaign_stack.c) and
 * passes, on the profiles with overlay branches. */
static void overlay_mix_draws_links_crash_ins_and_branch_snapshots(void **state) {
  (void)state;
  const char *profiles[] = {"apfs", "btrfs"};
  for (size_t i = 0; i < 2; i++) {
    char *text = NULL;
    size_t size = 0;
    FILE *tr = open_memstream(&text, &size);
    assert_non_null(tr);
    /* Enough ops for branches, links and crash-ins even under valgrind. */
    uint32_t ops = (uint32_t)(bs_test_iterations(1500) > 600 ? bs_test_iterations(1500) : 600);
    bs_campaign_opts o = {.profile = profiles[i], .first_seed = bs_test_seed(), .seeds = 3,
                          .ops = ops, .overlay_mix = true, .trace = tr};
    bs_campaign_summary s;
    int rc = bs_campaign_run(&s, &o);
    fclose(tr);
    assert_bs_ok(rc);
    if (s.violations)
      fail_msg("%s seed %" PRIu64 " op %" PRIu32 " (%s): %s: %s\n  reproduce: bslab campaign --profile %s "
               "--seed %" PRIu64 " --ops %" PRIu32 " --mix overlay",
               profiles[i], s.failures[0].seed, s.failures[0].op_index, s.failures[0].op, s.failures[0].check,
               s.failures[0].message, profiles[i], s.failures[0].seed, ops);
    unsigned links = count_ok(text, "link"), crashes = count_ok(text, "crash-in"),
             frozen = count_ok(text, "branch-snapshot");
    print_message("    [ profile  ] %s: %u links, %u crash-ins, %u branch snapshots\n", profiles[i], links, crashes,
                  frozen);
    assert_true(links > 0 && crashes > 0 && frozen > 0);
    bs_campaign_summary_free(&s);
    free(text);
  }
}

/* A lookup through an overlay branch leaves an empty upper file's atime
 * alone.  The whiteout probe (is it the kernel's character device?) read a
 * byte of every empty upper file, so a stat after utimens(atime 0) showed
 * the time of the stat on every backend (relatime): bslab diff --mix
 * overlay found it on ext4 and tmpfs (seed 3, op 290: the sim's virtual
 * clock against the kernel's).  Only a file of mode 0000 can be one. */
static void atime_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  uint64_t snap = branch_b(st);
  assert_bs_ok(bs_create(st, "/.bs/branches/b/d/g", 0644));
  const int64_t m = 1859457017007437851LL;
  assert_bs_ok(bs_utimens(st, "/.bs/branches/b/d/g", 0, m));
  for (int k = 0; k < 2; k++) {
    bs_stat_info a;
    assert_bs_ok(bs_stat(st, "/.bs/branches/b/d/g", &a));
    assert_int_equal(a.atime_ns, 0);
    assert_int_equal(a.mtime_ns, m);
  }
  drop_b(st, snap);
}

/* rmdir "d/" of a directory the lower has leaves a whiteout at d, as rmdir
 * "d" does.  The whiteout was put at "d/" (not a directory: the sim said
 * NOT_FOUND, the kernel INVALID) and the directory stayed: bslab diff
 * --mix overlay, ext4 and tmpfs, seed 6, op 310. */
static void rmdir_slash_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)t;
  (void)ctx;
  assert_bs_ok(bs_mkdir(st, "/d0", 0755));
  assert_bs_ok(bs_create(st, "/d0/x", 0644));
  assert_bs_ok(bs_mkdir(st, "/d1", 0755));
  uint64_t snap = branch_b(st);
  assert_bs_ok(bs_chmod(st, "/.bs/branches/b/d0", 0700)); /* copied up */
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b/d0/x"));
  assert_bs_ok(bs_rmdir(st, "/.bs/branches/b/d0/"));  /* in both layers */
  assert_bs_ok(bs_rmdir(st, "/.bs/branches/b/d1//")); /* in the lower only */
  char got[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/branches/b", got);
  assert_string_equal(got, "");
  drop_b(st, snap);
}

static void rmdir_with_a_trailing_slash_leaves_a_whiteout(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work,
                          rmdir_slash_body, NULL, bs_test_seed());
}

static void lookup_keeps_an_empty_upper_files_atime(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, atime_body,
                          NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(merged_listing_folds_case_like_lookup),
    cmocka_unit_test(lookup_keeps_an_empty_upper_files_atime),
    cmocka_unit_test(rmdir_with_a_trailing_slash_leaves_a_whiteout),
    cmocka_unit_test(power_loss_reverts_a_linked_file_once),
    cmocka_unit_test(crash_in_at_every_step_of_a_copy_up_or_whiteout),
    cmocka_unit_test(overlay_mix_catches_copy_up_order),
    cmocka_unit_test(hard_links_in_the_overlay_model),
    cmocka_unit_test(overlay_mix_draws_links_crash_ins_and_branch_snapshots),
    cmocka_unit_test(stacked_snapshots_in_the_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
