/* Work-directory leftovers of overlay branches (issue 17; docs/overlay.md,
 * "Leftovers"): a copy-up that dies half-way (every backend call after the
 * k-th fails, its own cleanup included) leaves an unreachable "#bs.PID.N"
 * in the branch's work directory; the first change of the branch in a store
 * opened later removes it, with the names of processes that are gone, and
 * keeps those of a live process and names that are not the library's.  On
 * the sim profiles and real volumes.  A live process's copy-up running
 * meanwhile is not harmed (a second process copies up while this one opens
 * stores and reaps, real volumes). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backstore/backend.h"
#include "lab/dying.h"
#include "tests/support/bs_test.h"
#include "tests/support/overlay_view.h"

#define NFILES 48

typedef struct listing {
  char names[64][64];
  int n;
} listing;

static int add_entry(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  listing *l = ctx;
  if (l->n < 64)
    snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", name);
  return 0;
}

/* The entries of branch @name's work directory, through the backend. */
static listing work_list(bs_store *st, const char *name) {
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, name, &ly));
  listing l = {.n = 0};
  assert_bs_ok(st->ops->readdir(st, ly.work, add_entry, &l));
  return l;
}

static int count_prefix(const listing *l, const char *prefix) {
  int n = 0;
  for (int i = 0; i < l->n; i++)
    n += strncmp(l->names[i], prefix, strlen(prefix)) == 0;
  return n;
}

static bool has(const listing *l, const char *name) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->names[i], name) == 0)
      return true;
  return false;
}

/* Make @leaf in branch @name's work directory: a directory holding a file. */
static void plant(bs_store *st, const char *name, const char *leaf) {
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, name, &ly));
  char p[4200], f[4300];
  snprintf(p, sizeof(p), "%s/%s", ly.work, leaf);
  snprintf(f, sizeof(f), "%s/inside", p);
  assert_bs_ok(st->ops->mkdir(st, p, 0700));
  assert_bs_ok(st->ops->create(st, f, 0600));
}

/* A pid that no process has: a child's, once waited for. */
static pid_t dead_pid(void) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(0);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return pid;
}

static void setup_branch(bs_store *st) {
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  for (int i = 0; i < NFILES; i++) {
    char p[64];
    snprintf(p, sizeof(p), "/d/f%d", i);
    bs_test_put_text(st, p, "lower");
  }
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
}

static void reap_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup_branch(st);
  /* Copy-ups that die after call k, k = 1, 2, ...: each of another file,
   * until one left a name behind (its cleanup died too). */
  bs__dying_install(st);
  int left = 0, k;
  for (k = 1; k < NFILES - 2 && left == 0; k++) {
    char p[64];
    snprintf(p, sizeof(p), "/.bs/branches/b/d/f%d", k);
    bs__dying_limit(bs__dying_calls() + (uint64_t)k);
    int rc = bs_chmod(st, p, 0600);
    bs__dying_limit(UINT64_MAX);
    listing l = work_list(st, "b");
    left = count_prefix(&l, "#bs.");
    if (left)
      assert_int_not_equal(rc, 0);
  }
  bs__dying_uninstall(st);
  if (left == 0)
    fail_msg("%s: no dying copy-up left a name in the work directory", t->label);
  /* Names of a process that is gone, of a live one (the parent), of this
   * process but no call of it, and one that is not the library's. */
  char dead[64], live[64], mine[64];
  snprintf(dead, sizeof(dead), "#bs.%ld.7", (long)dead_pid());
  snprintf(live, sizeof(live), "#bs.%ld.7", (long)getppid());
  snprintf(mine, sizeof(mine), "#bs.%ld.999999999", (long)getpid());
  plant(st, "b", dead);
  plant(st, "b", live);
  plant(st, "b", mine);
  plant(st, "b", "kept");
  bs_test_check(st, t);

  st = bs_test_reopen(t, st);
  /* Reading reaps nothing. */
  bs_test_assert_text(st, "/.bs/branches/b/d/f0", "lower");
  listing l = work_list(st, "b");
  assert_int_equal(count_prefix(&l, "#bs."), left + 3);
  /* The first change does. */
  assert_bs_ok(bs_chmod(st, "/.bs/branches/b/d/f0", 0640));
  l = work_list(st, "b");
  if (l.n != 2 || !has(&l, live) || !has(&l, "kept")) {
    char all[4096] = "";
    for (int i = 0; i < l.n; i++)
      snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s;", l.names[i]);
    fail_msg("%s: after the first change the work directory holds %s (expected %s;kept;)", t->label, all, live);
  }
  /* The view is whole: what the dying copy-ups did is there or not, no half. */
  bs_stat_info s;
  for (int i = 0; i < NFILES; i++) {
    char p[64];
    snprintf(p, sizeof(p), "/.bs/branches/b/d/f%d", i);
    bs_test_assert_text(st, p, "lower");
    assert_bs_ok(bs_stat(st, p, &s));
  }
  bs_test_check(st, t);
  assert_bs_ok(bs_branch_delete(st, "b"));
  bs_test_check(st, t);
}

static void leftovers_of_a_dying_copy_up_are_reaped_at_the_next_change(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), bs_test_snapshots_work, reap_body,
                          NULL, bs_test_seed());
}

/* ---- a live process's copy-ups are not harmed ---- */

static bool real_target(const bs_target *t) { return t->kind == BS_TARGET_REAL && bs_test_snapshots_work(t); }

static void live_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup_branch(st);
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) { /* the writer: copies every file up and writes it */
    close(go[1]);
    char c;
    if (read(go[0], &c, 1) != 1)
      _exit(2);
    bs_open_opts o = {.root = t->root, .flags = t->open_flags};
    bs_store *mine = NULL;
    if (bs_open(&mine, "real", &o) != 0)
      _exit(3);
    int rc = 0;
    for (int i = 1; rc == 0 && i < NFILES; i++) {
      char p[64], text[32];
      snprintf(p, sizeof(p), "/.bs/branches/b/d/f%d", i);
      snprintf(text, sizeof(text), "writer-%d", i);
      rc = bs_write(mine, p, 0, text, strlen(text));
    }
    if (rc != 0)
      fprintf(stderr, "writer: %s (%s)\n", bs_err_name(rc), bs_last_message(mine));
    bs_close(mine);
    _exit(rc == 0 ? 0 : 4);
  }
  close(go[0]);
  assert_int_equal(write(go[1], "g", 1), 1);
  close(go[1]);
  /* Meanwhile: stores opened again and again, each reaping at its first change. */
  int status = 0, rounds = 0;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 || rounds < 2) {
    st = bs_test_reopen(t, st);
    assert_bs_ok(bs_chmod(st, "/.bs/branches/b/d/f0", (uint32_t)(rounds % 2 ? 0640 : 0600)));
    rounds++;
    if (done == pid)
      break;
  }
  if (done == 0)
    assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int i = 1; i < NFILES; i++) {
    char p[64], text[32];
    snprintf(p, sizeof(p), "/.bs/branches/b/d/f%d", i);
    snprintf(text, sizeof(text), "writer-%d", i);
    bs_test_assert_text(st, p, text);
  }
  printf("overlay_reap: %s: %d stores reaped while another process copied up\n", t->label, rounds);
  bs_test_check(st, t);
}

static void a_live_process_copy_up_is_not_reaped(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), real_target, live_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(leftovers_of_a_dying_copy_up_are_reaped_at_the_next_change),
    cmocka_unit_test(a_live_process_copy_up_is_not_reaped),
  };
  return cmocka_run_group_tests_name("overlay_reap", tests, NULL, NULL);
}
