/* Snapshots of an overlay branch (issue 17, docs/overlay.md, "Snapshots of
 * an overlay branch"), on the sim profiles and real btrfs, xfs, ext4 and
 * tmpfs volumes: bs_branch_snapshot() freezes the upper layer only and
 * records the branch's snapshot as its lower; a branch of it resolves
 * through the whole chain (whiteouts and opaque directories of a middle
 * layer hide what is below), and so does the snapshot itself; the chain
 * survives a reopen; a chain past the depth limit is flattened into the
 * same view; deleting obeys the references; a snapshot that fails (a fault
 * in the freeze) leaves no snapshot and the branch as it was, and so does a
 * power loss (sim) at any step of a freeze or a flatten, unless the whole
 * snapshot is there; the kernel's
 * overlayfs mounts the layers of a stacked branch and shows the same view. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "lab/dying.h"
#include "src/snapreg.h"
#include "tests/support/bs_test.h"
#include "tests/support/overlay_view.h"

#ifdef FIU_ENABLE
#include <dirent.h>
#include <fiu-control.h>
#endif

static bs_branch_opts ov = {.kind = BS_BRANCH_OVERLAY};

static void dump(bs_store *st, const char *top, char out[OV_VIEW_MAX]) {
  out[0] = '\0';
  ov_dump(st, top, "", out);
}

/* Snapshot of branch @branch named @name (must work): its id. */
static uint64_t freeze(bs_store *st, const char *branch, const char *name) {
  bs_snapshot_info si;
  assert_bs_ok(bs_branch_snapshot(st, branch, name, &si));
  assert_string_equal(si.name, name);
  assert_true(si.readonly);
  return si.id;
}

static uint64_t overlay_of(bs_store *st, uint64_t snap, const char *name) {
  assert_bs_ok(bs_branch_create_opts(st, snap, name, &ov));
  return snap;
}

/* Entries of a tree's host directory (real targets). */
static size_t tree_entries(const bs_target *t, const char *bpath) {
  char host[4096];
  bs_test_host_path(t, bpath, host);
  return bs_test_host_entries(host);
}

static void each(bs_target_body body) {
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, body, NULL,
                          bs_test_seed());
}

/* ---- overlay_copy_up_on_write_then_snapshot ---------------------------------------- */

static void copy_up_then_snapshot_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  ov_view_setup(st);
  bs_snapshot_info s0;
  assert_bs_ok(bs_snapshot_create(st, "s0", &s0));
  overlay_of(st, s0.id, "b");
  assert_bs_ok(bs_write(st, "/.bs/branches/b/d/x", 0, "UPPER", 5)); /* copy-up */
  uint64_t s1 = freeze(st, "b", "s1");
  /* The snapshot reads as the branch did; later writes do not reach it. */
  bs_test_assert_text(st, "/.bs/snapshots/s1/d/x", "UPPER-x");
  bs_test_assert_text(st, "/.bs/snapshots/s1/a", "a");
  bs_test_assert_listing(st, "/.bs/snapshots/s1", "a;d/;e/;");
  assert_bs_ok(bs_write(st, "/.bs/branches/b/d/x", 0, "LATER", 5));
  bs_test_assert_text(st, "/.bs/snapshots/s1/d/x", "UPPER-x");
  bs_test_assert_text(st, "/.bs/snapshots/s0/d/x", "lower-x");
  /* It is read-only, with the errors of any snapshot. */
  bs_stat_info si;
  assert_bs_err(bs_write(st, "/.bs/snapshots/s1/d/x", 0, "n", 1), BS_EPERMISSION);
  assert_bs_err(bs_unlink(st, "/.bs/snapshots/s1/a"), BS_EPERMISSION);
  assert_bs_err(bs_unlink(st, "/.bs/snapshots/s1/nope"), BS_ENOT_FOUND);
  assert_bs_err(bs_create(st, "/.bs/snapshots/s1/new", 0644), BS_EPERMISSION);
  assert_bs_err(bs_link(st, "/.bs/snapshots/s1/a", "/.bs/branches/b/x2"), BS_ECROSS_DEVICE);
  assert_bs_err(bs_rename(st, "/.bs/snapshots/s1/a", "/.bs/snapshots/s1/a2"), BS_EPERMISSION);
  assert_bs_err(bs_chmod(st, "/.bs/snapshots/s1/a", 0600), BS_EPERMISSION);
  bs_test_assert_listing(st, "/.bs/snapshots/s1", "a;d/;e/;");
  bs_test_assert_text(st, "/.bs/snapshots/s1/a", "a");
  assert_bs_err(bs_setxattr(st, "/.bs/snapshots/s1/a", "user.k", "v", 1), BS_EPERMISSION);
  /* A branch of it stacks on it: two layers below its upper. */
  overlay_of(st, s1, "c");
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "c", &bi));
  assert_int_equal(bi.depth, 2);
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, "c", &ly));
  assert_int_equal(ly.nlowers, 2);
  char want[64];
  snprintf(want, sizeof(want), "/.bs/snap/%llu", (unsigned long long)s1);
  assert_string_equal(ly.lowers[0], want);
  assert_string_equal(ly.lower, want);
  snprintf(want, sizeof(want), "/.bs/snap/%llu", (unsigned long long)s0.id);
  assert_string_equal(ly.lowers[1], want);
  bs_test_assert_text(st, "/.bs/branches/c/d/x", "UPPER-x");
  assert_bs_ok(bs_write(st, "/.bs/branches/c/d/y", 0, "C", 1)); /* copy-up from the bottom layer */
  bs_test_assert_text(st, "/.bs/branches/c/d/y", "Cower-y");
  assert_bs_ok(bs_write(st, "/.bs/branches/c/d/x", 0, "c", 1)); /* copy-up from the middle layer */
  bs_test_assert_text(st, "/.bs/branches/c/d/x", "cPPER-x");
  bs_test_assert_text(st, "/.bs/snapshots/s1/d/x", "UPPER-x");
  assert_bs_ok(bs_stat(st, "/.bs/branches/c/e/z", &si));
  /* The frozen upper holds only what the branch changed: O(changed files). */
  if (t->kind == BS_TARGET_REAL) {
    snprintf(want, sizeof(want), "/.bs/snap/%llu", (unsigned long long)s1);
    assert_int_equal(tree_entries(t, want), 1); /* "d" */
    snprintf(want, sizeof(want), "/.bs/snap/%llu/d", (unsigned long long)s1);
    assert_int_equal(tree_entries(t, want), 1); /* "x" */
  }
  bs_test_check(st, t);
}

static void overlay_copy_up_on_write_then_snapshot(void **state) {
  (void)state;
  each(copy_up_then_snapshot_body);
}

/* ---- three_levels_with_whiteouts_and_opaque_directories ------------------------------ */

/* The main tree, and three levels of stacked snapshots over it, each
 * changing the view: "s1" (whiteouts, an opaque directory), "s2" (a file
 * over a middle layer's whiteout, a whiteout of the bottom), and branch
 * "b3" of "s2". */
static void three_levels(bs_store *st) {
  ov_view_setup(st); /* /a, /d/{x,y}, /e/z */
  assert_bs_ok(bs_mkdir(st, "/k", 0750));
  bs_test_put_text(st, "/k/k1", "k1");
  bs_snapshot_info s0;
  assert_bs_ok(bs_snapshot_create(st, "s0", &s0));
  overlay_of(st, s0.id, "b1");
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b1/d/x"));  /* whiteout in the middle layer */
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b1/e/z"));
  assert_bs_ok(bs_rmdir(st, "/.bs/branches/b1/e"));
  assert_bs_ok(bs_mkdir(st, "/.bs/branches/b1/e", 0700)); /* opaque in the middle layer */
  bs_test_put_text(st, "/.bs/branches/b1/e/new", "new");
  bs_test_put_text(st, "/.bs/branches/b1/m1", "m1");
  uint64_t s1 = freeze(st, "b1", "s1");
  overlay_of(st, s1, "b2");
  assert_bs_ok(bs_write(st, "/.bs/branches/b2/d/y", 0, "Y2", 2)); /* copy-up from the bottom */
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b2/a"));                 /* whiteout of the bottom */
  bs_test_put_text(st, "/.bs/branches/b2/d/x", "x2");                          /* over the middle's whiteout */
  assert_bs_ok(bs_mkdir(st, "/.bs/branches/b2/n2", 0755));
  uint64_t s2 = freeze(st, "b2", "s2");
  overlay_of(st, s2, "b3");
  /* Changes after a snapshot reach neither it nor what stacks on it. */
  bs_test_put_text(st, "/.bs/branches/b1/late", "late");
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b2/m1"));
}

static const char three_view[] = "/d/ 755\n/d/x 644 2 x2\n/d/y 644 7 Y2wer-y\n/e/ 700\n/e/new 644 3 new\n"
                                 "/k/ 750\n/k/k1 644 2 k1\n/m1 644 2 m1\n/n2/ 755\n";

static void assert_three_levels(bs_store *st) {
  char v[OV_VIEW_MAX];
  dump(st, "/.bs/branches/b3", v);
  assert_string_equal(v, three_view);
  dump(st, "/.bs/snapshots/s2", v);
  assert_string_equal(v, three_view);
  bs_test_assert_listing(st, "/.bs/snapshots/s1", "a;d/;e/;k/;m1;");
  bs_test_assert_listing(st, "/.bs/snapshots/s1/d", "y;");
  bs_test_assert_listing(st, "/.bs/snapshots/s1/e", "new;");
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "b3", &bi));
  assert_int_equal(bi.depth, 3);
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, "b3", &ly));
  assert_int_equal(ly.nlowers, 3);
}

static void three_levels_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  three_levels(st);
  assert_three_levels(st);
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/.bs/branches/b3/a", &si), BS_ENOT_FOUND);
  assert_bs_err(bs_stat(st, "/.bs/branches/b3/e/z", &si), BS_ENOT_FOUND);
  /* Changes in the top branch: copy-ups from each layer, a whiteout over
   * the middle's file, a new directory over the middle's opaque one. */
  assert_bs_ok(bs_write(st, "/.bs/branches/b3/k/k1", 0, "K", 1));
  bs_test_assert_text(st, "/.bs/branches/b3/k/k1", "K1");
  assert_bs_ok(bs_stat(st, "/.bs/branches/b3/k", &si));
  assert_int_equal(si.mode, 0750);
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b3/m1"));
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b3/e/new"));
  assert_bs_ok(bs_rmdir(st, "/.bs/branches/b3/e"));
  assert_bs_ok(bs_mkdir(st, "/.bs/branches/b3/e", 0755));
  bs_test_assert_listing(st, "/.bs/branches/b3", "d/;e/;k/;n2/;");
  bs_test_assert_listing(st, "/.bs/branches/b3/e", "");
  bs_test_assert_text(st, "/.bs/snapshots/s2/k/k1", "k1");
  bs_test_assert_listing(st, "/.bs/snapshots/s2/e", "new;");
  /* A native branch of a stacked snapshot is a copy of its merged view. */
  bs_snapshot_info s2;
  assert_bs_ok(bs_snapshot_lookup(st, "s2", &s2));
  assert_bs_ok(bs_branch_create(st, s2.id, "nat"));
  char v[OV_VIEW_MAX];
  dump(st, "/.bs/branches/nat", v);
  assert_string_equal(v, three_view);
  assert_bs_ok(bs_write(st, "/.bs/branches/nat/d/x", 0, "N", 1));
  bs_test_assert_text(st, "/.bs/branches/nat/d/x", "N2");
  bs_test_assert_text(st, "/.bs/snapshots/s2/d/x", "x2");
  /* AUTO makes an overlay branch of a stacked snapshot, wherever. */
  assert_bs_ok(bs_branch_create_opts(st, s2.id, "auto", NULL));
  bs_branch_info ai;
  assert_bs_ok(bs_branch_info_get(st, "auto", &ai));
  assert_int_equal(ai.kind, BS_BRANCH_OVERLAY);
  /* A reopen keeps the chain and every view. */
  assert_bs_ok(bs_sync(st, NULL));
  st = bs_test_reopen(t, st);
  dump(st, "/.bs/snapshots/s2", v);
  assert_string_equal(v, three_view);
  bs_test_assert_listing(st, "/.bs/branches/b3", "d/;e/;k/;n2/;");
  bs_test_assert_text(st, "/.bs/branches/b3/k/k1", "K1");
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "b3", &bi));
  assert_int_equal(bi.depth, 3);
  bs_test_check(st, t);
}

static void three_levels_with_whiteouts_and_opaque_directories(void **state) {
  (void)state;
  each(three_levels_body);
}

/* ---- flatten_past_the_depth_limit ------------------------------------------------------ */

/* A chain of BS__OV_DEPTH_MAX layers: each level's branch "bN" changes the
 * view (a new file, a whiteout, a copy-up, an opaque directory) and is
 * frozen as "sN".  Returns the top snapshot's id. */
static uint64_t deep_chain(bs_store *st) {
  ov_view_setup(st);
  bs_snapshot_info s;
  assert_bs_ok(bs_snapshot_create(st, "s1", &s));
  uint64_t id = s.id;
  for (unsigned d = 2; d <= BS__OV_DEPTH_MAX; d++) {
    char b[16], sn[16], p[64], text[16];
    snprintf(b, sizeof(b), "b%u", d);
    snprintf(sn, sizeof(sn), "s%u", d);
    overlay_of(st, id, b);
    snprintf(p, sizeof(p), "/.bs/branches/%s/f%u", b, d);
    snprintf(text, sizeof(text), "level %u", d);
    bs_test_put_text(st, p, text);
    snprintf(p, sizeof(p), "/.bs/branches/%s/a", b);
    assert_bs_ok(bs_write(st, p, 0, text, strlen(text)));
    if (d == 3) {
      snprintf(p, sizeof(p), "/.bs/branches/%s/d/x", b);
      assert_bs_ok(bs_unlink(st, p));
    }
    if (d == 5) {
      snprintf(p, sizeof(p), "/.bs/branches/%s/e/z", b);
      assert_bs_ok(bs_unlink(st, p));
      snprintf(p, sizeof(p), "/.bs/branches/%s/e", b);
      assert_bs_ok(bs_rmdir(st, p));
      assert_bs_ok(bs_mkdir(st, p, 0711));
      snprintf(p, sizeof(p), "/.bs/branches/%s/e/only", b);
      bs_test_put_text(st, p, "opaque");
    }
    id = freeze(st, b, sn);
  }
  overlay_of(st, id, "top");
  bs_test_put_text(st, "/.bs/branches/top/t", "top");
  assert_bs_ok(bs_unlink(st, "/.bs/branches/top/f4"));
  return id;
}

static void flatten_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  uint64_t deepest = deep_chain(st);
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "top", &bi));
  assert_int_equal(bi.depth, BS__OV_DEPTH_MAX);
  char before[OV_VIEW_MAX], after[OV_VIEW_MAX], snap[OV_VIEW_MAX];
  dump(st, "/.bs/branches/top", before);
  assert_non_null(strstr(before, "/a 644 7 level 8\n"));
  assert_null(strstr(before, "/d/x"));
  assert_null(strstr(before, "/e/z"));
  assert_null(strstr(before, "/f4"));
  /* One more layer would pass the limit: the merged view is frozen flat. */
  uint64_t flat = freeze(st, "top", "flat");
  dump(st, "/.bs/snapshots/flat", snap);
  assert_string_equal(snap, before);
  dump(st, "/.bs/branches/top", after);
  assert_string_equal(after, before);
  overlay_of(st, flat, "again");
  assert_bs_ok(bs_branch_info_get(st, "again", &bi));
  assert_int_equal(bi.depth, 1);
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, "again", &ly));
  assert_int_equal(ly.nlowers, 1);
  dump(st, "/.bs/branches/again", after);
  assert_string_equal(after, before);
  /* The work directory keeps nothing of the build. */
  assert_bs_ok(bs_branch_layers_get(st, "top", &ly));
  if (t->kind == BS_TARGET_REAL)
    assert_int_equal(tree_entries(t, ly.work), 0);
  /* It holds no lower: the chain's snapshots go once nothing else holds them. */
  assert_bs_ok(bs_branch_delete(st, "top"));
  assert_bs_ok(bs_snapshot_delete(st, deepest));
  dump(st, "/.bs/snapshots/flat", after);
  assert_string_equal(after, before);
  bs_test_check(st, t);
}

static void flatten_past_the_depth_limit(void **state) {
  (void)state;
  each(flatten_body);
}

/* ---- deleting_obeys_the_references ------------------------------------------------------ */

static void refcounts_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  ov_view_setup(st);
  bs_snapshot_info s0;
  assert_bs_ok(bs_snapshot_create(st, "s0", &s0));
  overlay_of(st, s0.id, "b");
  bs_test_put_text(st, "/.bs/branches/b/n", "n");
  uint64_t s1 = freeze(st, "b", "s1");
  overlay_of(st, s1, "c");
  /* The branch that was frozen goes; its snapshot keeps what it froze. */
  assert_bs_ok(bs_branch_delete(st, "b"));
  bs_test_assert_text(st, "/.bs/snapshots/s1/n", "n");
  assert_bs_err(bs_snapshot_delete(st, s0.id), BS_EBUSY);
  assert_non_null(strstr(bs_last_message(st), "lower of a stacked snapshot"));
  assert_bs_err(bs_snapshot_delete(st, s1), BS_EBUSY);
  assert_non_null(strstr(bs_last_message(st), "branch"));
  assert_bs_ok(bs_branch_delete(st, "c"));
  assert_bs_err(bs_snapshot_delete(st, s0.id), BS_EBUSY);
  assert_bs_ok(bs_snapshot_delete(st, s1));
  assert_bs_ok(bs_snapshot_delete(st, s0.id));
  size_t n = 9;
  bs_snapshot_info *all = NULL;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  free(all);
  assert_int_equal(n, 0);
  if (t->kind == BS_TARGET_REAL)
    assert_int_equal(tree_entries(t, "/.bs/snap"), 0);
  /* Bad input: no such branch, a taken name, a bad name; nothing made. */
  assert_bs_ok(bs_snapshot_create(st, "s", &s0));
  overlay_of(st, s0.id, "b");
  bs_snapshot_info si;
  assert_bs_err(bs_branch_snapshot(st, "nope", "x", &si), BS_ENOT_FOUND);
  assert_bs_err(bs_branch_snapshot(st, "b", "s", &si), BS_EEXISTS);
  assert_bs_err(bs_branch_snapshot(st, "b", "a/b", &si), BS_EINVALID);
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  free(all);
  assert_int_equal(n, 1);
  /* A native branch's snapshot is a plain one of its tree. */
  assert_bs_ok(bs_branch_create(st, s0.id, "nat"));
  assert_bs_ok(bs_write(st, "/.bs/branches/nat/a", 0, "N", 1));
  freeze(st, "nat", "of-native");
  bs_test_assert_text(st, "/.bs/snapshots/of-native/a", "N");
  bs_test_check(st, t);
}

static void deleting_obeys_the_references(void **state) {
  (void)state;
  each(refcounts_body);
}

/* Overlay branch "b" of snapshot "s0" of the view of overlay_view.h, with
 * a copy-up, a whiteout and a new directory. */
static void changed_branch(bs_store *st) {
  ov_view_setup(st);
  bs_snapshot_info s0;
  assert_bs_ok(bs_snapshot_create(st, "s0", &s0));
  overlay_of(st, s0.id, "b");
  assert_bs_ok(bs_write(st, "/.bs/branches/b/d/x", 0, "U", 1));
  assert_bs_ok(bs_unlink(st, "/.bs/branches/b/d/y"));
  assert_bs_ok(bs_mkdir(st, "/.bs/branches/b/n", 0755));
  bs_test_put_text(st, "/.bs/branches/b/n/f", "f");
}

/* ---- power loss at every step of a freeze and of a flatten (sim) ---------------------- */

/* bs_branch_snapshot of @branch dies after its k-th backend call (file,
 * tree and registry methods; every later call fails, cleanup included),
 * then the power goes (drop, tear), for every k: the store has no snapshot
 * "frozen" (and no tree of it: bs_check) or the whole of it, and the
 * branch shows what it showed. */
static void power_sweep(bs_store *st, const bs_target *t, const char *branch, const char *what) {
  char top[64], before[OV_VIEW_MAX], now[OV_VIEW_MAX];
  snprintf(top, sizeof(top), "/.bs/branches/%s", branch);
  dump(st, top, before);
  bs__dying_install_all(st);
  bs_snapshot_info si;
  uint64_t from = bs__dying_calls();
  assert_bs_ok(bs_branch_snapshot(st, branch, "frozen", &si));
  uint64_t n = bs__dying_calls() - from;
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  /* Quadratic in calls: with few iterations (valgrind) every stride-th step
   * of a long call (a flatten). */
  uint64_t stride = bs_test_iterations(100) < 100 && n > 50 ? 7 : 1;
  static const bs_power_loss_mode modes[] = {BS_POWER_LOSS_DROP, BS_POWER_LOSS_TEAR};
  int none = 0, whole = 0;
  for (size_t m = 0; m < sizeof(modes) / sizeof(*modes); m++)
    /* Until it lives (about n calls: a later run may take a few more or fewer). */
    for (uint64_t k = bs_test_seed() % stride, lived = 0; !lived; k += stride) {
      if (k > 2 * n + 16)
        fail_msg("%s %s: still failing after %llu calls (%llu the first time)", t->label, what,
                 (unsigned long long)k, (unsigned long long)n);
      bs__dying_limit(bs__dying_calls() + k);
      int rc = bs_branch_snapshot(st, branch, "frozen", &si);
      bs__dying_limit(UINT64_MAX);
      lived = rc == 0;
      assert_bs_ok(bs_power_loss(st, modes[m]));
      const char *mode = modes[m] == BS_POWER_LOSS_DROP ? "drop" : "tear";
      bs_snapshot_info got;
      int frc = bs_snapshot_lookup(st, "frozen", &got);
      if (frc == 0) {
        dump(st, "/.bs/snapshots/frozen", now);
        if (strcmp(now, before) != 0)
          fail_msg("%s %s: power lost (%s) after call %llu of %llu: the snapshot shows\n%s\nnot\n%s", t->label,
                   what, mode, (unsigned long long)k, (unsigned long long)n, now, before);
        whole++;
      } else if (frc == BS_ENOT_FOUND) {
        if (rc == 0)
          fail_msg("%s %s: returned OK, yet no snapshot after a power loss (%s)", t->label, what, mode);
        none++;
      } else {
        fail_msg("%s %s: snapshot info: %s (%s)", t->label, what, bs_err_name(frc), bs_last_message(st));
      }
      dump(st, top, now);
      if (strcmp(now, before) != 0)
        fail_msg("%s %s: power lost (%s) after call %llu of %llu: the branch shows\n%s\nwas\n%s", t->label, what,
                 mode, (unsigned long long)k, (unsigned long long)n, now, before);
      bs_test_check(st, t);
      if (frc == 0)
        assert_bs_ok(bs_snapshot_delete(st, got.id));
    }
  bs__dying_uninstall(st);
  assert_true(none > 0);
  assert_true(whole >= 2);
  print_message("    %s %s: %llu steps, power lost after each: %d without the snapshot, %d with all of it\n",
                t->label, what, (unsigned long long)n, none, whole);
}

static bool sim_snapshots(const bs_target *t) { return t->kind == BS_TARGET_SIM && bs_test_snapshots_work(t); }

static void freeze_power_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  changed_branch(st);
  power_sweep(st, t, "b", "freeze");
}

static void power_loss_at_every_step_of_a_freeze(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM), sim_snapshots, freeze_power_body, NULL, bs_test_seed());
}

static void flatten_power_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  deep_chain(st);
  power_sweep(st, t, "top", "flatten");
}

static void power_loss_at_every_step_of_a_flatten(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM), sim_snapshots, flatten_power_body, NULL, bs_test_seed());
}

/* ---- a_failed_snapshot_leaves_nothing -------------------------------------------------- */

#ifdef FIU_ENABLE
static const char *const real_points[] = {"bs/real/ficlone", "bs/real/mkdir", "bs/real/open", "bs/real/mknod",
                                          "bs/real/setxattr", "bs/real/setflags", "bs/real/write", "bs/real/fsync",
                                          "bs/real/rename", "bs/real/utimens"};
static const char *const sim_points[] = {"bs/sim/snapshot", "bs/sim/reflink", "bs/sim/alloc"};

static size_t snapshot_count(bs_store *st) {
  size_t n = 0;
  bs_snapshot_info *all = NULL;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  free(all);
  return n;
}

/* bs_branch_snapshot of @branch failing at each call of each point: no
 * snapshot, the branch's view as it was, no tree left (real). */
static void sweep(bs_store *st, const bs_target *t, const char *branch, const char *what) {
  const char *const *points = t->kind == BS_TARGET_SIM ? sim_points : real_points;
  size_t np = t->kind == BS_TARGET_SIM ? sizeof(sim_points) / sizeof(*sim_points)
                                       : sizeof(real_points) / sizeof(*real_points);
  char top[64], before[OV_VIEW_MAX], now[OV_VIEW_MAX];
  snprintf(top, sizeof(top), "/.bs/branches/%s", branch);
  dump(st, top, before);
  size_t nsnaps = snapshot_count(st);
  size_t ntrees = t->kind == BS_TARGET_REAL ? tree_entries(t, "/.bs/snap") : 0;
  int failed = 0, calls = bs_test_iterations(1000); /* each point's first calls (fewer under valgrind) */
  for (size_t p = 0; p < np; p++)
    for (int nth = 1; nth <= calls; nth++) {
      bs_snapshot_info si;
      bs_test_fail_nth(points[p], nth, EIO);
      int rc = bs_branch_snapshot(st, branch, "frozen", &si);
      bool fired = bs_test_fault_fired();
      fiu_disable(points[p]);
      if (rc == 0) {
        assert_bs_ok(bs_snapshot_delete(st, si.id));
      } else {
        failed++;
        if (snapshot_count(st) != nsnaps)
          fail_msg("%s %s: %s call %d failing left a snapshot", t->label, what, points[p], nth);
      }
      dump(st, top, now);
      if (strcmp(now, before) != 0)
        fail_msg("%s %s: %s call %d failing changed the branch:\n%s\nwas\n%s", t->label, what, points[p], nth, now,
                 before);
      if (t->kind == BS_TARGET_REAL && tree_entries(t, "/.bs/snap") != ntrees)
        fail_msg("%s %s: %s call %d failing left a tree", t->label, what, points[p], nth);
      if (!fired)
        break;
    }
  assert_true(failed > 0);
  print_message("    %s %s: %d injected failures, each left nothing\n", t->label, what, failed);
}

static void faults_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  changed_branch(st);
  sweep(st, t, "b", "stacked");
  bs_test_check(st, t);
}

/* The sweeps skip the RAM-disk targets: the same filesystems as the shared
 * volumes, and the sweeps are long. */
static bool sweep_target(const bs_target *t) { return bs_test_snapshots_work(t) && !t->ramdisk; }

static void each_sweep(bs_target_body body) {
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), sweep_target, body, NULL,
                          bs_test_seed());
}

static void a_failed_snapshot_leaves_nothing(void **state) {
  (void)state;
  each_sweep(faults_body);
}

static void flatten_faults_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  deep_chain(st);
  sweep(st, t, "top", "flattened");
  /* The work directory keeps at most unreachable "#bs.*" names: what a
   * failure of the removal of a build (a fault in the cleanup) leaves, as a
   * crash would (docs/overlay.md). */
  if (t->kind == BS_TARGET_REAL) {
    bs_branch_layers ly;
    assert_bs_ok(bs_branch_layers_get(st, "top", &ly));
    char host[4096];
    bs_test_host_path(t, ly.work, host);
    DIR *d = opendir(host);
    assert_non_null(d);
    int left = 0;
    for (struct dirent *e; (e = readdir(d));)
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        if (strncmp(e->d_name, "#bs.", 4) != 0)
          fail_msg("%s: %s/%s in the work directory", t->label, host, e->d_name);
        left++;
      }
    closedir(d);
    print_message("    %s: %d unreachable build(s) left by faults in their cleanup\n", t->label, left);
  }
  bs_test_check(st, t);
}

static void a_failed_flatten_leaves_nothing(void **state) {
  (void)state;
  each_sweep(flatten_faults_body);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(overlay_copy_up_on_write_then_snapshot),
    cmocka_unit_test(three_levels_with_whiteouts_and_opaque_directories),
    cmocka_unit_test(flatten_past_the_depth_limit),
    cmocka_unit_test(deleting_obeys_the_references),
    cmocka_unit_test(power_loss_at_every_step_of_a_freeze),
    cmocka_unit_test(power_loss_at_every_step_of_a_flatten),
#ifdef FIU_ENABLE
    cmocka_unit_test(a_failed_snapshot_leaves_nothing),
    cmocka_unit_test(a_failed_flatten_leaves_nothing),
#endif
  };
  return cmocka_run_group_tests_name("overlay_snapshots", tests, NULL, NULL);
}
