/* Every change of a real store's snapshot registry is all or nothing under
 * faults: for each OS call a snapshot or branch create or delete makes
 * (open, write, fsync, rename, the ioctls...), failing its Nth call for
 * every N makes the operation fail with the injected error and leaves the
 * registry, the trees below .bs and the contents exactly as they were: no
 * half-made snapshot, no registry.tmp, no orphan tree.  The one exception is
 * documented: a delete whose tree removal fails after the registry let go of
 * the tree says so, and the next change removes the tree.  The sweep also
 * pins the crash-safety calls: saving the registry fsyncs the file and the
 * directory, so both show up among the calls of every change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/support/bs_test.h"
#include "tests/support/snap_test.h"

#ifdef FIU_ENABLE
#include <fiu-control.h>

typedef enum change { SNAP_CREATE, SNAP_DELETE, BRANCH_CREATE, BRANCH_DELETE, NCHANGES } change;
static const char *const change_names[] = {"snapshot create", "snapshot delete", "branch create",
                                           "branch delete"};

/* The points the registry sessions pass through on Linux (faults/catalogue.c). */
static const char *const points[] = {
  "bs/real/open",      "bs/real/read",         "bs/real/write",       "bs/real/fsync",
  "bs/real/mkdir",     "bs/real/unlink",       "bs/real/rename",      "bs/real/statfs",
  "bs/real/ficlone",   "bs/real/setflags",     "bs/real/chmod",       "bs/real/utimens",
  "bs/real/getxattr",  "bs/real/setxattr",     "bs/real/snap_create", "bs/real/subvol_info",
  "bs/real/snap_destroy", "bs/real/tree_search",
};

typedef struct world {
  uint64_t base;      /* snapshot "base", with branch "br" */
  uint64_t victim;    /* snapshot "victim": what SNAP_DELETE deletes */
  bool has_victim_br; /* branch "vb" of base: what BRANCH_DELETE deletes */
} world;

static uint64_t id_of(bs_store *st, const char *name) {
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  uint64_t id = 0;
  for (size_t i = 0; i < n; i++)
    if (strcmp(all[i].name, name) == 0)
      id = all[i].id;
  free(all);
  return id;
}

/* The registry as one line: "id:name:branches;..." */
static void registry_line(bs_store *st, char *out, size_t cap) {
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  size_t at = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    at += (size_t)snprintf(out + at, cap - at, "%llu:%s:%u;", (unsigned long long)all[i].id, all[i].name,
                           (unsigned)all[i].branch_count);
  assert_true(at < cap);
  free(all);
}

/* Make what @c works on, without faults. */
static void prepare(bs_store *st, world *w, change c) {
  if (c == SNAP_DELETE && !w->victim) {
    bs_snapshot_info si;
    assert_bs_ok(bs_snapshot_create(st, "victim", &si));
    w->victim = si.id;
  }
  if (c == BRANCH_DELETE && !w->has_victim_br) {
    assert_bs_ok(bs_branch_create(st, w->base, "vb"));
    w->has_victim_br = true;
  }
}

static int run(bs_store *st, const world *w, change c) {
  switch (c) {
  case SNAP_CREATE: return bs_snapshot_create(st, "new one", NULL);
  case SNAP_DELETE: return bs_snapshot_delete(st, w->victim);
  case BRANCH_CREATE: return bs_branch_create(st, w->base, "nb");
  default: return bs_branch_delete(st, "vb");
  }
}

/* @c succeeded: take the world back to where it was (for the next N). */
static void undo(bs_store *st, world *w, change c) {
  if (c == SNAP_CREATE)
    assert_bs_ok(bs_snapshot_delete(st, id_of(st, "new one")));
  if (c == SNAP_DELETE)
    w->victim = 0;
  if (c == BRANCH_CREATE)
    assert_bs_ok(bs_branch_delete(st, "nb"));
  if (c == BRANCH_DELETE)
    w->has_victim_br = false;
}

/* The trees below .bs are exactly the registry's, and no registry.tmp. */
static void assert_trees_match(bs_store *st, const bs_target *t, const char *what) {
  bs_snap_test_assert_host_trees(st, t, what);
  char tmp[4096];
  struct stat sb;
  bs_test_host_path(t, "/.bs/registry.tmp", tmp);
  if (lstat(tmp, &sb) == 0)
    fail_msg("%s: %s is left behind", what, tmp);
}

/* The contents a failed change must not have touched. */
static void assert_contents(bs_store *st) {
  bs_snap_test_assert_same_tree(st, "/.bs/snapshots/base", "/.bs/branches/br");
  bs_snap_test_assert_same_tree(st, "/.bs/snapshots/base", "/");
}

/* Fail the @nth call of @point in change @c; false once @c makes fewer calls. */
static bool sweep_one(bs_store *st, const bs_target *t, world *w, change c, const char *point, int nth) {
  char what[256], before[2048], after[2048], msg[1024];
  snprintf(what, sizeof(what), "%s: %s %s, call %d failing", t->label, change_names[c], point, nth);
  prepare(st, w, c);
  registry_line(st, before, sizeof(before));
  bs_test_fail_nth(point, nth, EIO);
  int rc = run(st, w, c);
  bool fired = bs_test_fault_fired();
  fiu_disable(point);
  snprintf(msg, sizeof(msg), "%s", bs_last_message(st));
  if (!fired) {
    if (rc != 0)
      fail_msg("%s: no fault, yet %s (%s)", what, bs_strerror(rc), msg);
    undo(st, w, c);
    return false;
  }
  if (rc == 0) { /* a best-effort call failed (cleanup of a tree nobody names) */
    undo(st, w, c);
    assert_trees_match(st, t, what);
    return true;
  }
  if (rc != BS_EIO)
    fail_msg("%s: %s (%s), expected IO", what, bs_strerror(rc), msg);
  registry_line(st, after, sizeof(after));
  if (strcmp(before, after) != 0) {
    /* Only a delete whose tree removal failed after the registry let go. */
    bool late = (c == SNAP_DELETE || c == BRANCH_DELETE) && strstr(msg, "gone from the registry");
    if (!late)
      fail_msg("%s: the registry changed from %s to %s (%s)", what, before, after, msg);
    undo(st, w, c);
    /* The next change removes the tree the registry no longer names. */
    assert_bs_ok(bs_snapshot_create(st, "sweeper", NULL));
    assert_bs_ok(bs_snapshot_delete(st, id_of(st, "sweeper")));
  }
  assert_trees_match(st, t, what);
  assert_contents(st);
  return true;
}

static void sweep_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_snap_test_make_tree(st, t, "", 3);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "base", &si));
  world w = {.base = si.id};
  assert_bs_ok(bs_branch_create(st, w.base, "br"));
  for (change c = 0; c < NCHANGES; c++) {
    int fsyncs = 0;
    for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
      int nth = 1;
      while (sweep_one(st, t, &w, c, points[p], nth))
        nth++;
      if (strcmp(points[p], "bs/real/fsync") == 0)
        fsyncs = nth - 1;
    }
    /* registry.tmp, then .bs after the rename: the power-loss guarantees. */
    if (fsyncs < 2)
      fail_msg("%s: %s makes %d fsync calls; saving the registry alone needs 2", t->label, change_names[c],
               fsyncs);
  }
  assert_trees_match(st, t, t->label);
}

static bool real_with_snapshots(const bs_target *t) {
  return t->kind == BS_TARGET_REAL && bs_test_snapshots_work(t);
}

static void registry_changes_are_all_or_nothing_under_faults(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), real_with_snapshots, sweep_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(registry_changes_are_all_or_nothing_under_faults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void) {
  fprintf(stderr, "test_snapshot_faults: built without libfiu (FIU_ENABLE): not run\n");
  return 77;
}
#endif
