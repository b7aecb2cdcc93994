/* The snapshot registry survives a restart and a power loss: after the store
 * is opened again (a real store on the same root; the sim through an image),
 * after a simulated power loss in either mode (sim), and after a process is
 * killed with SIGKILL in the middle of snapshot creates (real), the list is
 * what it was (ids, uuids, names, branch counts, times), ids are not reused,
 * and every listed snapshot and branch reads back what it held. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backstore/sim.h"
#include "tests/support/bs_test.h"
#include "tests/support/darwin_fake.h"
#include "tests/support/snap_test.h"

/* Snapshots a, b (deleted again, so it had the highest id) and c, a branch
 * of a with a write of its own; returns the list. */
static bs_snapshot_info *make_registry(bs_store *st, const bs_target *t, size_t *n) {
  bs_snap_test_make_tree(st, t, "", 1);
  bs_snapshot_info a, b, c;
  assert_bs_ok(bs_snapshot_create(st, "a", &a));
  assert_bs_ok(bs_write(st, "/a", 0, "MAIN", 4));
  assert_bs_ok(bs_snapshot_create(st, "c", &c));
  assert_bs_ok(bs_branch_create(st, a.id, "br"));
  assert_bs_ok(bs_write(st, "/.bs/branches/br/a", 0, "BRANCH", 6));
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_snapshot_create(st, "b", &b));
  assert_bs_ok(bs_snapshot_delete(st, b.id));
  bs_snapshot_info *all = NULL;
  assert_bs_ok(bs_snapshot_list(st, &all, n));
  assert_int_equal(*n, 2);
  return all;
}

/* The registry of make_registry, and the trees, are all there on @st. */
static void assert_registry(bs_store *st, const bs_snapshot_info *want, size_t n) {
  bs_snapshot_info *all = NULL;
  size_t got = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &got));
  assert_int_equal(got, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(all[i].id, want[i].id);
    assert_memory_equal(all[i].uuid, want[i].uuid, 16);
    assert_string_equal(all[i].name, want[i].name);
    assert_true(all[i].readonly);
    assert_int_equal(all[i].branch_count, want[i].branch_count);
    assert_int_equal(all[i].created_ns, want[i].created_ns);
  }
  free(all);
  uint64_t parent = 0;
  assert_bs_ok(bs_branch_parent(st, "br", &parent));
  assert_int_equal(parent, want[0].id);
  uint8_t *a = bs_test_pattern(3 * 4096 + 17, 1);
  bs_test_assert_content(st, "/.bs/snapshots/a/a", a, 3 * 4096 + 17);
  memcpy(a, "MAIN", 4);
  bs_test_assert_content(st, "/.bs/snapshots/c/a", a, 3 * 4096 + 17);
  memcpy(a, "BRANCH", 6);
  bs_test_assert_content(st, "/.bs/branches/br/a", a, 3 * 4096 + 17);
  free(a);
  assert_bs_err(bs_snapshot_delete(st, want[0].id), BS_EBUSY);
  bs_snapshot_info d;
  assert_bs_ok(bs_snapshot_create(st, "d", &d));
  assert_true(d.id > want[1].id + 1); /* the deleted b's id is not reused */
}

static void restart_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  size_t n;
  bs_snapshot_info *before = make_registry(st, t, &n);
  st = bs_test_reopen(t, st);
  assert_registry(st, before, n);
  bs_test_check(st, t);
  free(before);
}

static void registry_survives_restart(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work,
                          restart_body, NULL, bs_test_seed());
}

static void power_loss_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  for (int mode = BS_POWER_LOSS_DROP; mode <= BS_POWER_LOSS_TEAR; mode++) {
    bs_store *s = bs_test_open_sim(t->profile, bs_test_seed() + (uint64_t)mode);
    size_t n;
    bs_snapshot_info *before = make_registry(s, t, &n);
    /* Unsynced writes to the main tree and the branch are what a power loss takes. */
    assert_bs_ok(bs_write(s, "/a", 0, "LOST", 4));
    assert_bs_ok(bs_write(s, "/.bs/branches/br/d/b", 0, "LOST", 4));
    assert_bs_ok(bs_power_loss(s, (bs_power_loss_mode)mode));
    assert_registry(s, before, n);
    assert_bs_ok(bs_check(s));
    free(before);
    bs_close(s);
  }
  (void)st;
}

/* darwin.c's store over the fake: the registry file, its fsyncs and the
 * APFS snapshots live on the sim beneath, so the sim's power loss is the
 * machine's.  A reboot also takes the snapshot mounts away; asking for each
 * view brings it back.  Without the fsyncs of the registry save the
 * registry is damaged here (the sim's metadata is journaled and a directory
 * sync covers the files below it, so either fsync alone keeps it: the
 * sweep of test_snapshot_faults pins that both are made). */
static void darwin_power_loss_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  for (int mode = BS_POWER_LOSS_DROP; mode <= BS_POWER_LOSS_TEAR; mode++) {
    bs_store *s = NULL;
    assert_bs_ok(bs_darwin_fake_open(&s, t->profile, bs_test_seed() + (uint64_t)mode));
    size_t n;
    bs_snapshot_info *before = make_registry(s, t, &n);
    /* The last change before the power loss: nothing but the registry save
     * makes it durable (a snapshot create or delete on the volume would
     * commit everything). */
    assert_string_equal(before[1].name, "c");
    assert_bs_ok(bs_branch_create(s, before[1].id, "late"));
    before[1].branch_count++;
    assert_bs_ok(bs_write(s, "/a", 0, "LOST", 4));
    assert_bs_ok(bs_power_loss(bs_darwin_fake_sim(s), (bs_power_loss_mode)mode));
    bs_darwin_fake_restart(s);
    for (size_t i = 0; i < n; i++) {
      char root[512];
      assert_bs_ok(bs_snapshot_mount_ro(s, before[i].id, root, sizeof(root)));
    }
    assert_registry(s, before, n);
    assert_bs_ok(bs_check(bs_darwin_fake_sim(s)));
    free(before);
    bs_close(s);
  }
  (void)st;
}

static void registry_survives_power_loss(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM), bs_test_snapshots_work, power_loss_body, NULL,
                          bs_test_seed());
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_DARWIN), bs_test_snapshots_work, darwin_power_loss_body, NULL,
                          bs_test_seed());
}

/* ---- a process killed with SIGKILL in the middle of snapshot creates --------- */

/* The child: its own store on @t's root; before snapshot "k<round>-<i>" it
 * writes /f with fill i; after each create, one byte down @fd.  Never returns. */
static void create_until_killed(const bs_target *t, int round, int fd) {
  bs_open_opts o = {.root = t->root, .flags = t->open_flags};
  bs_store *st = NULL;
  if (bs_open(&st, "real", &o) != 0)
    _exit(3);
  uint8_t *buf = malloc(8192);
  for (int i = 0; buf && i < 10000; i++) {
    for (size_t k = 0; k < 8192; k++)
      buf[k] = (uint8_t)(i + k * 7);
    char name[32];
    snprintf(name, sizeof(name), "k%d-%d", round, i);
    if (bs_write(st, "/f", 0, buf, 8192) != 0 || bs_snapshot_create(st, name, NULL) != 0 ||
        write(fd, "x", 1) != 1)
      _exit(4);
  }
  _exit(5);
}

/* After round @round, whose child acknowledged @acked creates: every listed
 * snapshot reads back what /f held when it was taken, every acknowledged one
 * is listed, ids are unique and rising. */
static void assert_consistent(bs_store *st, int round, int acked) {
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  int seen = 0;
  for (size_t i = 0; i < n; i++) {
    int r, k;
    assert_true(i == 0 || all[i].id > all[i - 1].id);
    assert_int_equal(sscanf(all[i].name, "k%d-%d", &r, &k), 2);
    char path[300];
    assert_bs_ok(bs_snapshot_mount_ro(st, all[i].id, path, sizeof(path)));
    bs_test_assert_put(st, strcat(path, "/f"), 8192, (uint8_t)k);
    seen += r == round;
  }
  if (seen < acked)
    fail_msg("round %d: %d snapshots acknowledged, %d listed after reopening", round, acked, seen);
  free(all);
}

static void sigkill_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", 8192, 0);
  assert_bs_ok(bs_sync(st, NULL));
  size_t orphans = 0;
  for (int round = 0; round < 3; round++) {
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fd[0]);
      create_until_killed(t, round, fd[1]);
    }
    close(fd[1]);
    int acked = 0, want = 2 + 2 * round;
    char c;
    while (acked < want && read(fd[0], &c, 1) == 1)
      acked++;
    usleep((useconds_t)(bs_test_seed() % 997 * (unsigned)(round + 1))); /* land inside a create */
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fd[0]);
    if (!WIFSIGNALED(status))
      fail_msg("round %d: the child stopped by itself (status %d) after %d creates", round, status, acked);
    assert_int_equal(acked, want);
    /* trees of creates cut short */
    orphans += bs_snap_test_host_entries(t, "/.bs/snap") - bs_snap_test_count(st);
    st = bs_test_reopen(t, st);
    assert_consistent(st, round, acked);
  }
  /* The store goes on: a new snapshot gets an id above every listed one, and
   * that change of the registry removed the trees of the killed creates. */
  bs_snapshot_info *all = NULL, last;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  assert_true(n > 0);
  assert_bs_ok(bs_snapshot_create(st, "after", &last));
  assert_true(last.id > all[n - 1].id);
  free(all);
  assert_int_equal(bs_snap_test_host_entries(t, "/.bs/snap"), n + 1);
  print_message("    [ kills    ] %s: %zu create(s) cut short left a tree, removed since\n", t->label,
                orphans);
}

static void registry_survives_sigkill_during_creates(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, sigkill_body, NULL,
                          bs_test_seed());
}

/* ---- a process killed with SIGKILL in the middle of lifecycles ---------------- */

/* The child: iteration i snapshots /f (fill i) as "L<i>", branches it as
 * "B<i>", rewrites the branch's /f (fill 100 + i), then deletes B<i-1> and
 * L<i-1>; one byte down @fd after each iteration.  Never returns. */
static void cycle_until_killed(const bs_target *t, int fd) {
  bs_open_opts o = {.root = t->root, .flags = t->open_flags};
  bs_store *st = NULL;
  if (bs_open(&st, "real", &o) != 0)
    _exit(3);
  uint8_t *buf = malloc(8192);
  for (int i = 0; buf && i < 10000; i++) {
    char s[32], b[32], bf[64], ps[32], pb[32];
    snprintf(s, sizeof(s), "L%d", i);
    snprintf(b, sizeof(b), "B%d", i);
    snprintf(bf, sizeof(bf), "/.bs/branches/B%d/f", i);
    snprintf(ps, sizeof(ps), "L%d", i - 1);
    snprintf(pb, sizeof(pb), "B%d", i - 1);
    bs_snapshot_info si, prev;
    for (size_t k = 0; k < 8192; k++)
      buf[k] = (uint8_t)(i + k * 7);
    if (bs_write(st, "/f", 0, buf, 8192) != 0 || bs_snapshot_create(st, s, &si) != 0 ||
        bs_branch_create(st, si.id, b) != 0)
      _exit(4);
    for (size_t k = 0; k < 8192; k++)
      buf[k] = (uint8_t)(100 + i + k * 7);
    if (bs_write(st, bf, 0, buf, 8192) != 0)
      _exit(5);
    if (i > 0 && (bs_branch_delete(st, pb) != 0 || bs_snapshot_lookup(st, ps, &prev) != 0 ||
                  bs_snapshot_delete(st, prev.id) != 0))
      _exit(6);
    if (write(fd, "x", 1) != 1)
      _exit(7);
  }
  _exit(8);
}

/* After @acked whole iterations: every snapshot and branch listed reads
 * back, branch counts agree with the branches there are, and the last
 * acknowledged snapshot is there unless the next iteration (which made its
 * own first) had got to deleting it. */
static void assert_cycles_consistent(bs_store *st, int acked) {
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  uint32_t *branches = calloc(n + 1, sizeof(*branches));
  assert_non_null(branches);
  for (int i = 0; i <= acked; i++) {
    char b[32], bf[64];
    snprintf(b, sizeof(b), "B%d", i);
    uint64_t parent = 0;
    int rc = bs_branch_parent(st, b, &parent);
    if (rc == BS_ENOT_FOUND)
      continue;
    assert_bs_ok(rc);
    size_t k = 0;
    while (k < n && all[k].id != parent)
      k++;
    if (k == n)
      fail_msg("branch %s names snapshot %llu, which is not listed", b, (unsigned long long)parent);
    branches[k]++;
    snprintf(bf, sizeof(bf), "/.bs/branches/B%d/f", i);
    if (i < acked) /* its write was acknowledged */
      bs_test_assert_put(st, bf, 8192, (uint8_t)(100 + i));
  }
  bool last = false;
  for (size_t k = 0; k < n; k++) {
    int i;
    assert_int_equal(sscanf(all[k].name, "L%d", &i), 1);
    if (all[k].branch_count != branches[k])
      fail_msg("%s: branch_count %u, but %u branches name it", all[k].name, all[k].branch_count,
               branches[k]);
    char path[300];
    assert_bs_ok(bs_snapshot_mount_ro(st, all[k].id, path, sizeof(path)));
    bs_test_assert_put(st, strcat(path, "/f"), 8192, (uint8_t)i);
    last |= i == acked - 1 || i == acked;
  }
  if (!last)
    fail_msg("after %d iterations neither L%d nor L%d is listed", acked, acked - 1, acked);
  free(branches);
  free(all);
}

static void sigkill_cycles_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", 8192, 0);
  int fd[2];
  assert_int_equal(pipe(fd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fd[0]);
    cycle_until_killed(t, fd[1]);
  }
  close(fd[1]);
  int acked = 0, want = 3;
  char c;
  while (acked < want && read(fd[0], &c, 1) == 1)
    acked++;
  usleep((useconds_t)(bs_test_seed() % 1999)); /* land inside an iteration */
  kill(pid, SIGKILL);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  while (read(fd[0], &c, 1) == 1) /* iterations that ended before the kill */
    acked++;
  close(fd[0]);
  if (!WIFSIGNALED(status))
    fail_msg("the child stopped by itself (status %d) after %d iterations", status, acked);
  st = bs_test_reopen(t, st);
  assert_cycles_consistent(st, acked);
  /* A change reconciles: the host holds exactly the listed trees. */
  assert_bs_ok(bs_snapshot_create(st, "after", NULL));
  bs_snap_test_assert_host_trees(st, t, "after the kill");
}

static void registry_survives_sigkill_during_lifecycles(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, sigkill_cycles_body, NULL,
                          bs_test_seed());
}

/* ---- a damaged registry ------------------------------------------------------- */

/* A registry cut short is CORRUPT for every snapshot call, before and after a
 * reopen, and nothing is "reconciled" away: the trees stay for a repair. */
static void corrupt_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/f", 100, 1);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  assert_bs_ok(bs_snapshot_create(st, "t", &si));
  char reg[4096];
  bs_test_host_path(t, "/.bs/registry", reg);
  struct stat sb;
  assert_int_equal(stat(reg, &sb), 0);
  assert_int_equal(truncate(reg, sb.st_size / 2), 0);
  for (int round = 0; round < 2; round++) {
    bs_snapshot_info *all = NULL;
    size_t n = 0;
    assert_bs_err(bs_snapshot_list(st, &all, &n), BS_ECORRUPT);
    assert_null(all);
    assert_bs_err(bs_snapshot_create(st, "u", &si), BS_ECORRUPT);
    assert_bs_err(bs_snapshot_delete(st, 1), BS_ECORRUPT);
    assert_bs_err(bs_branch_create(st, 1, "b"), BS_ECORRUPT);
    assert_int_equal(bs_snap_test_host_entries(t, "/.bs/snap"), 2);
    st = bs_test_reopen(t, st);
  }
  bs_test_assert_put(st, "/f", 100, 1); /* the main tree is not the registry's */
}

static void damaged_registry_is_corrupt_and_kept(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, corrupt_body, NULL,
                          bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(registry_survives_restart),
    cmocka_unit_test(registry_survives_power_loss),
    cmocka_unit_test(registry_survives_sigkill_during_creates),
    cmocka_unit_test(registry_survives_sigkill_during_lifecycles),
    cmocka_unit_test(damaged_registry_is_corrupt_and_kept),
  };
  return cmocka_run_group_tests_name("snapshot_restart", tests, NULL, NULL);
}
