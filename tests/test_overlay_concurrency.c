/* Overlay branches shared by threads and killed processes (issue 17):
 * - many threads write their own bytes of the same lower files of one
 *   overlay branch at once: each file is copied up once, and no write is
 *   lost to a second copy-up renamed over the first;
 * - a process copying files up is killed (SIGKILL) at a random moment, 50
 *   times: every file then shows its lower content or the whole new one,
 *   never a partial copy, and nothing but unreachable names is left in
 *   the work directory. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/bs_test.h"

#define B "/.bs/branches/b"
#define NFILES 4
#define NTHREADS 16
#define FILE_LEN 4096

static void make_lower(bs_store *st, uint8_t fill) {
  uint8_t buf[FILE_LEN];
  memset(buf, fill, sizeof(buf));
  for (int i = 0; i < NFILES; i++) {
    char p[64];
    snprintf(p, sizeof(p), "/f%d", i);
    assert_bs_ok(bs_create(st, p, 0644));
    assert_bs_ok(bs_write(st, p, 0, buf, sizeof(buf)));
  }
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
}

/* ---- threads ---- */

typedef struct worker {
  bs_store *st;
  int id;
  int rc;
} worker;

/* Thread @id writes byte @id + 1 at offsets id, id + NTHREADS, ... of every file. */
static void *work(void *arg) {
  worker *w = arg;
  for (int i = 0; i < NFILES && w->rc == 0; i++) {
    char p[64];
    snprintf(p, sizeof(p), B "/f%d", i);
    uint8_t b = (uint8_t)(w->id + 1);
    for (int off = w->id; off < FILE_LEN && w->rc == 0; off += NTHREADS * 16)
      w->rc = bs_write(w->st, p, (uint64_t)off, &b, 1);
  }
  return NULL;
}

static void threads_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  make_lower(st, 0xee);
  pthread_t th[NTHREADS];
  worker w[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    w[i] = (worker){st, i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(th[i], NULL);
    if (w[i].rc != 0)
      fail_msg("%s: thread %d: %s", t->label, i, bs_err_name(w[i].rc));
  }
  for (int i = 0; i < NFILES; i++) {
    char p[64];
    uint8_t buf[FILE_LEN];
    size_t n = 0;
    snprintf(p, sizeof(p), B "/f%d", i);
    assert_bs_ok(bs_read(st, p, 0, buf, sizeof(buf), &n));
    assert_int_equal(n, FILE_LEN);
    for (int off = 0; off < FILE_LEN; off++) {
      int who = off % (NTHREADS * 16);
      uint8_t want = who < NTHREADS ? (uint8_t)(who + 1) : 0xee;
      if (buf[off] != want)
        fail_msg("%s: %s byte %d is %#x, expected %#x: a write was lost", t->label, p, off, buf[off], want);
    }
    snprintf(p, sizeof(p), "/.bs/snapshots/s/f%d", i);
    assert_bs_ok(bs_read(st, p, 0, buf, sizeof(buf), &n));
    assert_int_equal(buf[0], 0xee);
  }
  bs_test_check(st, t);
}

static void threads_share_copy_ups(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, threads_body,
                          NULL, bs_test_seed());
}

/* ---- kill -9 ---- */

static bool xfs_only(const bs_target *t) { return t->kind == BS_TARGET_REAL && strcmp(t->profile, "xfs") == 0; }

/* The child: rewrite every file whole (a copy-up, then a write), forever. */
static void child_loop(const char *root, uint32_t flags) {
  bs_open_opts o = {.root = root, .flags = flags};
  bs_store *st = NULL;
  if (bs_open(&st, "real", &o) != 0)
    _exit(3);
  uint8_t buf[FILE_LEN];
  memset(buf, 0x77, sizeof(buf));
  for (int i = 0; i < NFILES; i++) {
    char p[64];
    snprintf(p, sizeof(p), B "/f%d", i);
    if (bs_write(st, p, 0, buf, sizeof(buf)) != 0)
      _exit(4);
  }
  _exit(0);
}

static void kill_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  make_lower(st, 0xee);
  srand((unsigned)bs_test_seed());
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "b", &bi));
  for (int round = 0; round < 50; round++) {
    assert_bs_ok(bs_branch_delete(st, "b"));
    bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
    assert_bs_ok(bs_branch_create_opts(st, bi.snapshot_id, "b", &o));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
      child_loop(t->root, t->open_flags);
    struct timespec ts = {0, (long)(rand() % 4000) * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    for (int i = 0; i < NFILES; i++) {
      char p[64];
      uint8_t buf[FILE_LEN];
      size_t n = 0;
      snprintf(p, sizeof(p), B "/f%d", i);
      assert_bs_ok(bs_read(st, p, 0, buf, sizeof(buf), &n));
      if (n != FILE_LEN)
        fail_msg("%s: round %d: %s has %zu bytes: a partial copy-up is in sight", t->label, round, p, n);
      /* The lower bytes, the copy of them, or the child's whole write. */
      uint8_t first = buf[0];
      if (first != 0xee && first != 0x77)
        fail_msg("%s: round %d: %s starts with %#x", t->label, round, p, first);
      for (int off = 0; off < FILE_LEN; off++)
        if (buf[off] != first)
          fail_msg("%s: round %d: %s is mixed at byte %d", t->label, round, p, off);
    }
  }
  bs_test_check(st, t);
}

static void kill_9_during_copy_ups(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), xfs_only, kill_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(threads_share_copy_ups),
    cmocka_unit_test(kill_9_during_copy_ups),
  };
  return cmocka_run_group_tests_name("overlay_concurrency", tests, NULL, NULL);
}
