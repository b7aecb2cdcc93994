/* 100 concurrent writers on an overlay branch (issue 17, "from the
 * milestone plan"): 100 threads on one store, and 100 processes on one real
 * root (fork, each opens the store).  Writer i copies its own lower file
 * up and rewrites it, makes a new file in the branch and one in the main
 * tree; then a snapshot of the main tree and an overlay branch of it, and a
 * snapshot of the branch (bs_branch_snapshot: its upper frozen, stacked).
 * Every file read back (from the branch, the snapshots, and the overlay
 * branch of the snapshot) has the checksum of what its writer wrote.
 * Besides, every writer writes its own byte into one shared lower file: no
 * write is lost to a second copy-up (of another process) put over the
 * first. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/bs_test.h"

#define NWRITERS 100
#define LEN (16 * 1024)
#define CHUNK 4096

static void pattern(int who, uint8_t *buf) {
  for (int j = 0; j < LEN; j++)
    buf[j] = (uint8_t)(who * 131 + j * 7 + (j >> 9));
}

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static int put_chunks(bs_store *st, const char *path, const uint8_t *buf, bool create) {
  int rc = create ? bs_create(st, path, 0644) : 0;
  for (int off = 0; rc == 0 && off < LEN; off += CHUNK)
    rc = bs_write(st, path, (uint64_t)off, buf + off, CHUNK);
  return rc;
}

/* Writer @who's three files. */
static int write_all(bs_store *st, int who) {
  uint8_t buf[LEN];
  pattern(who, buf);
  char p[96];
  snprintf(p, sizeof(p), "/.bs/branches/b/l%d", who);
  int rc = put_chunks(st, p, buf, false); /* a copy-up, then the rest */
  snprintf(p, sizeof(p), "/.bs/branches/b/n%d", who);
  if (rc == 0)
    rc = put_chunks(st, p, buf, true);
  snprintf(p, sizeof(p), "/m%d", who);
  if (rc == 0)
    rc = put_chunks(st, p, buf, true);
  uint8_t b = (uint8_t)(who + 1);
  if (rc == 0)
    rc = bs_write(st, "/.bs/branches/b/shared", (uint64_t)who * 16, &b, 1);
  return rc;
}

static void setup(bs_store *st) {
  uint8_t buf[LEN];
  memset(buf, 0xee, sizeof(buf));
  for (int i = 0; i < NWRITERS; i++) {
    char p[32];
    snprintf(p, sizeof(p), "/l%d", i);
    assert_bs_ok(put_chunks(st, p, buf, true));
  }
  assert_bs_ok(put_chunks(st, "/shared", buf, true));
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s0", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
}

static void assert_sum(bs_store *st, const bs_target *t, const char *path, int who) {
  uint8_t want[LEN], got[LEN + 1];
  pattern(who, want);
  size_t n = 0;
  int rc = bs_read(st, path, 0, got, sizeof(got), &n);
  if (rc != 0)
    fail_msg("%s: read %s: %s (%s)", t->label, path, bs_err_name(rc), bs_last_message(st));
  if (n != LEN || fnv(got, n) != fnv(want, LEN))
    fail_msg("%s: %s: %zu bytes, checksum %016llx, expected %d bytes, %016llx", t->label, path, n,
             (unsigned long long)fnv(got, n), LEN, (unsigned long long)fnv(want, LEN));
}

/* The snapshot after the writers, and every file's checksum. */
static void verify(bs_store *st, const bs_target *t) {
  uint8_t sh[LEN];
  size_t got = 0;
  assert_bs_ok(bs_read(st, "/.bs/branches/b/shared", 0, sh, sizeof(sh), &got));
  assert_int_equal(got, LEN);
  int lost = 0;
  for (int i = 0; i < NWRITERS; i++)
    lost += sh[i * 16] != (uint8_t)(i + 1);
  if (lost)
    fail_msg("%s: %d of %d writes to one shared lower file were lost to a second copy-up", t->label, lost, NWRITERS);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "after", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "r", &o));
  assert_bs_ok(bs_branch_snapshot(st, "b", "b-after", &si));
  for (int i = 0; i < NWRITERS; i++) {
    char p[96];
    snprintf(p, sizeof(p), "/.bs/branches/b/l%d", i);
    assert_sum(st, t, p, i);
    snprintf(p, sizeof(p), "/.bs/branches/b/n%d", i);
    assert_sum(st, t, p, i);
    snprintf(p, sizeof(p), "/.bs/snapshots/b-after/l%d", i);
    assert_sum(st, t, p, i);
    snprintf(p, sizeof(p), "/.bs/snapshots/b-after/n%d", i);
    assert_sum(st, t, p, i);
    snprintf(p, sizeof(p), "/.bs/snapshots/after/m%d", i);
    assert_sum(st, t, p, i);
    snprintf(p, sizeof(p), "/.bs/branches/r/m%d", i);
    assert_sum(st, t, p, i);
    /* The lower of the copy-ups is untouched. */
    uint8_t c = 0;
    size_t n = 0;
    snprintf(p, sizeof(p), "/.bs/snapshots/s0/l%d", i);
    assert_bs_ok(bs_read(st, p, LEN - 1, &c, 1, &n));
    assert_int_equal(c, 0xee);
  }
  bs_test_check(st, t);
}

/* ---- threads ---- */

typedef struct worker {
  bs_store *st;
  int who, rc;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  w->rc = write_all(w->st, w->who);
  return NULL;
}

static void threads_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st);
  static pthread_t th[NWRITERS];
  static worker w[NWRITERS];
  for (int i = 0; i < NWRITERS; i++) {
    w[i] = (worker){st, i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < NWRITERS; i++) {
    pthread_join(th[i], NULL);
    if (w[i].rc != 0)
      fail_msg("%s: thread %d: %s", t->label, i, bs_err_name(w[i].rc));
  }
  verify(st, t);
}

static void hundred_threads_then_a_snapshot_read_back(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, threads_body,
                          NULL, bs_test_seed());
}

/* ---- processes ---- */

static bool xfs_or_btrfs(const bs_target *t) {
  return t->kind == BS_TARGET_REAL && t->root && (strcmp(t->profile, "xfs") == 0 || strcmp(t->profile, "btrfs") == 0);
}

static void procs_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st);
  pid_t pid[NWRITERS];
  for (int i = 0; i < NWRITERS; i++) {
    pid[i] = fork();
    assert_true(pid[i] >= 0);
    if (pid[i] == 0) {
      bs_open_opts o = {.root = t->root, .flags = t->open_flags};
      bs_store *mine = NULL;
      if (bs_open(&mine, "real", &o) != 0)
        _exit(3);
      int rc = write_all(mine, i);
      if (rc != 0)
        fprintf(stderr, "writer %d: %s (%s)\n", i, bs_err_name(rc), bs_last_message(mine));
      bs_close(mine);
      _exit(rc == 0 ? 0 : 4);
    }
  }
  int failed = 0;
  for (int i = 0; i < NWRITERS; i++) {
    int status = 0;
    assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failed++;
  }
  if (failed)
    fail_msg("%s: %d of %d writer processes failed", t->label, failed, NWRITERS);
  verify(st, t);
}

static void hundred_processes_on_one_root_then_a_snapshot_read_back(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), xfs_or_btrfs, procs_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(hundred_threads_then_a_snapshot_read_back),
    cmocka_unit_test(hundred_processes_on_one_root_then_a_snapshot_read_back),
  };
  return cmocka_run_group_tests_name("overlay_writers", tests, NULL, NULL);
}
