/* Overlay changes under faults (issue 17, "crash and fault tests"): every
 * fault point that a copy-up, a whiteout or a directory made over a
 * whiteout passes through fails once, call by call, on the sim and on real
 * xfs, ext4 and tmpfs volumes.  After each, the branch shows either the
 * view from before the change or the one after it, never a mixture or a
 * half-copied file, and (real stores) the work directory holds nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"
#include "tests/support/overlay_view.h"

#ifdef FIU_ENABLE
#include <dirent.h>
#include <fiu-control.h>


/* The points the overlay's calls pass through. */
static const char *const real_points[] = {
  "bs/real/open",  "bs/real/read",    "bs/real/write",    "bs/real/fsync",   "bs/real/stat",
  "bs/real/mkdir", "bs/real/unlink",  "bs/real/rename",   "bs/real/ficlone", "bs/real/chmod",
  "bs/real/utimens", "bs/real/getxattr", "bs/real/setxattr", "bs/real/mknod", "bs/real/readdir",
  "bs/real/symlink", /* linkat: a file copy-up is linked into place */
};
static const char *const sim_points[] = {"bs/sim/alloc", "bs/sim/write", "bs/sim/sync", "bs/sim/reflink"};

/* The work directory of branch @name (real stores) holds nothing, or only
 * what a failed cleanup could leave: unreachable "#bs.*" names.  Returns
 * how many of those. */
static int assert_work_clean(bs_store *st, const bs_target *t, const char *name, const char *what) {
  if (t->kind != BS_TARGET_REAL)
    return 0;
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, name, &ly));
  char host[4096];
  bs_test_host_path(t, ly.work, host);
  DIR *d = opendir(host);
  if (!d)
    fail_msg("%s: opendir %s: %s", what, host, strerror(errno));
  int left = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      if (strncmp(e->d_name, "#bs.", 4) != 0) {
        closedir(d);
        fail_msg("%s: %s/%s in the work directory", what, host, e->d_name);
      }
      left++;
    }
  closedir(d);
  return left;
}

static void sweep_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  ov_view_setup(st);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  const char *const *points = t->kind == BS_TARGET_SIM ? sim_points : real_points;
  size_t npoints = t->kind == BS_TARGET_SIM ? sizeof(sim_points) / sizeof(*sim_points)
                                            : sizeof(real_points) / sizeof(*real_points);
  /* The sweep is quadratic in calls; with few iterations (the valgrind leak
   * leg) every stride-th point runs, starting at a seed-chosen one, while the
   * plain and ASan legs run them all. */
  size_t stride = bs_test_iterations(100) < 100 ? 4 : 1;
  size_t first = (size_t)(bs_test_seed() % stride);
  int fired_total = 0, leftovers = 0;
  for (ov_change c = 0; c < OV_NCHANGES; c++) {
    /* The views before and after, without faults. */
    char before[OV_VIEW_MAX] = "", after[OV_VIEW_MAX] = "";
    ov_fresh(st, si.id, "ref", c);
    ov_dump(st, "/.bs/branches/ref", "", before);
    assert_bs_ok(ov_run(st, "/.bs/branches/ref", c));
    ov_dump(st, "/.bs/branches/ref", "", after);
    assert_bs_ok(bs_branch_delete(st, "ref"));
    assert_true(strcmp(before, after) != 0);
    for (size_t p = first; p < npoints; p += stride) {
      for (int nth = 1;; nth++) {
        char what[256], now[OV_VIEW_MAX] = "";
        snprintf(what, sizeof(what), "%s: %s, call %d of %s failing", t->label, ov_change_names[c], nth, points[p]);
        ov_fresh(st, si.id, "b", c);
        bs_test_fail_nth(points[p], nth, EIO);
        int rc = ov_run(st, "/.bs/branches/b", c);
        bool fired = bs_test_fault_fired();
        fiu_disable(points[p]);
        if (!fired && rc != 0)
          fail_msg("%s: no fault, yet %s (%s)", what, bs_err_name(rc), bs_last_message(st));
        ov_dump(st, "/.bs/branches/b", "", now);
        if (strcmp(now, before) != 0 && strcmp(now, after) != 0)
          fail_msg("%s: returned %s (%s), and the branch shows\n%s\nneither the view before\n%s\nnor after\n%s",
                   what, bs_err_name(rc), bs_last_message(st), now, before, after);
        if (rc != 0 && strcmp(now, after) != 0 && rc != BS_EIO)
          fail_msg("%s: %s (%s), expected IO", what, bs_err_name(rc), bs_last_message(st));
        leftovers += assert_work_clean(st, t, "b", what);
        if (!fired)
          assert_int_equal(assert_work_clean(st, t, "b", what), 0);
        bs_test_check(st, t);
        assert_bs_ok(bs_branch_delete(st, "b"));
        if (!fired)
          break;
        fired_total++;
      }
    }
  }
  assert_true(fired_total > 0);
  /* Only a failing cleanup leaves a name behind: a few of the whole sweep's
   * runs (a sampled sweep may have picked mostly cleanup points). */
  assert_true(leftovers <= fired_total);
  if (stride == 1)
    assert_true(leftovers < fired_total / 4 + 1);
}

static void every_fault_during_a_copy_up_leaves_old_or_new(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, sweep_body,
                          NULL, bs_test_seed());
}

/* ---- power loss in the sim ---- */

/* A copy-up and a whiteout survive a power loss once they returned: both
 * are synced before they return (docs/overlay.md). */
static void power_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  bs_test_put_text(st, "/d/x", "lower-x");
  bs_test_put_text(st, "/d/y", "lower-y");
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
  assert_bs_ok(bs_chmod(st, "/.bs/branches/b/d/x", 0600)); /* a copy-up, synced */
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b/d/y"));      /* a whiteout, synced */
  assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_DROP));
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/branches/b/d", l);
  assert_string_equal(l, "x;");
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/.bs/branches/b/d/x", &s));
  assert_int_equal(s.mode, 0600);
  assert_int_equal(s.size, 7);
  bs_test_check(st, t);
}

static void copy_up_and_whiteout_survive_power_loss(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM), bs_test_snapshots_work, power_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_fault_during_a_copy_up_leaves_old_or_new),
    cmocka_unit_test(copy_up_and_whiteout_survive_power_loss),
  };
  return cmocka_run_group_tests_name("overlay_faults", tests, NULL, NULL);
}
#else
int main(void) {
  printf("overlay_faults: built without libfiu\n");
  return 0;
}
#endif
