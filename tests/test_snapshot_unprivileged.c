/* Snapshots of a btrfs store by a user without privilege (issue 12, item 6).
 * Deleting a btrfs subvolume needs CAP_SYS_ADMIN, or the mount option
 * user_subvol_rm_allowed: without either, a delete fails with PERMISSION
 * while the registry still names the tree (registry and tree intact), and
 * every later change by that user still works.  A tree left behind that the
 * user cannot remove does not block later changes either; a delete whose
 * removal fails after the registry let go names the tree it left.  With the
 * mount option the same user deletes branches and (read-only) snapshots.
 *
 * The suites run as root: each scenario runs in a child process that drops
 * to uid/gid 65534 on a store directory it owns, and reports its findings
 * through its exit status (cmocka's assertions stay in the parent). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"

#ifdef __linux__
#include <grp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "real/linux.h"
#include "tests/support/volume.h"

#ifdef FIU_ENABLE
#include <fiu-control.h>
#endif

#define NOBODY 65534

/* ---- in the child ---------------------------------------------------------------- */

static int child_failures;

static void check(bool ok, const char *fmt, ...) {
  if (ok)
    return;
  child_failures++;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "    [ child    ] ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void check_rc(bs_store *st, int rc, int want, const char *what) {
  check(rc == want, "%s: %s (%s), expected %s", what, bs_err_name(rc), bs_last_message(st), bs_err_name(want));
}

static bool host_exists(const char *root, const char *rel) {
  char p[4300];
  snprintf(p, sizeof(p), "%s%s", root, rel);
  struct stat sb;
  return lstat(p, &sb) == 0;
}

/* The id of snapshot @name (0: none), and its branch count. */
static uint64_t snap_id(bs_store *st, const char *name, uint32_t *branches) {
  bs_snapshot_info s;
  if (bs_snapshot_lookup(st, name, &s) != 0)
    return 0;
  if (branches)
    *branches = s.branch_count;
  return s.id;
}

static bs_store *child_open(const char *root) {
  bs_open_opts o = {.root = root};
  bs_store *st = NULL;
  int rc = bs_open(&st, "real", &o);
  if (rc != 0) {
    fprintf(stderr, "    [ child    ] bs_open(%s): %s\n", root, bs_err_name(rc));
    _exit(2);
  }
  return st;
}

/* Without the privilege to delete: s1 with branch b1, s2 without. */
static void delete_without_privilege(const char *root) {
  bs_store *st = child_open(root);
  check_rc(st, bs_create(st, "/f", 0644), 0, "create /f");
  check_rc(st, bs_write(st, "/f", 0, "main", 4), 0, "write /f");
  bs_snapshot_info s1, s2;
  check_rc(st, bs_snapshot_create(st, "s1", &s1), 0, "snapshot create s1");
  check_rc(st, bs_branch_create(st, s1.id, "b1"), 0, "branch create b1");

  int rc = bs_branch_delete(st, "b1");
  check_rc(st, rc, BS_EPERMISSION, "branch delete b1");
  const char *msg = bs_last_message(st);
  check(strstr(msg, "branch delete: branch \"b1\" is kept: ") && strstr(msg, "/.bs/branch/1)") &&
            strstr(msg, "CAP_SYS_ADMIN or the mount option user_subvol_rm_allowed"),
        "branch delete b1 says \"%s\"", msg);
  uint64_t parent = 0;
  uint32_t branches = 0;
  check_rc(st, bs_branch_parent(st, "b1", &parent), 0, "b1 is still registered");
  check(snap_id(st, "s1", &branches) == s1.id && branches == 1, "s1 still has its branch (%u)", branches);
  check(host_exists(root, "/.bs/branch/1/f"), "the tree of b1 is still there");
  check_rc(st, bs_write(st, "/.bs/branches/b1/f", 0, "BRANCH", 6), 0, "b1 is still usable");

  check_rc(st, bs_snapshot_create(st, "s2", &s2), 0, "snapshot create s2 after the failed delete");
  check_rc(st, bs_snapshot_delete(st, s2.id), BS_EPERMISSION, "snapshot delete s2");
  check(strstr(bs_last_message(st), "snapshot delete: snapshot \"s2\" is kept: ") != NULL, "snapshot delete s2 says \"%s\"",
        bs_last_message(st));
  check(snap_id(st, "s2", NULL) == s2.id, "s2 is still registered");
  check(host_exists(root, "/.bs/snap/2/f"), "the tree of s2 is still there");
  check_rc(st, bs_branch_create(st, s2.id, "b2"), 0, "branch create b2 after the failed deletes");
  bs_close(st);
}

/* Trees left below .bs that this user cannot remove (made by root as
 * snap/3 and branch/3, the next ids) do not stop later changes. */
static void leftovers_do_not_block(const char *root) {
  bs_store *st = child_open(root);
  bs_snapshot_info s3;
  check_rc(st, bs_snapshot_create(st, "s3", &s3), 0, "snapshot create s3 beside a leftover tree");
  check(s3.id == 4, "s3 has id %llu: the id of the leftover snap/3 is skipped", (unsigned long long)s3.id);
  check_rc(st, bs_branch_create(st, s3.id, "b3"), 0, "branch create b3 beside a leftover tree");
  check(host_exists(root, "/.bs/branch/4/f"), "b3 is branch/4, past the leftover branch/3");
  check(host_exists(root, "/.bs/snap/3") && host_exists(root, "/.bs/branch/3"),
        "the leftovers stay: this user may not delete them");
  char buf[8] = {0};
  size_t got = 0;
  check_rc(st, bs_read(st, "/.bs/snapshots/s3/f", 0, buf, sizeof(buf), &got), 0, "read through s3");
  check(got == 4 && memcmp(buf, "main", 4) == 0, "s3 holds /f");
  bs_close(st);
}

/* With user_subvol_rm_allowed: branches and read-only snapshots go. */
static void delete_with_mount_option(const char *root) {
  bs_store *st = child_open(root);
  check_rc(st, bs_create(st, "/f", 0644), 0, "create /f");
  bs_snapshot_info s1;
  check_rc(st, bs_snapshot_create(st, "s1", &s1), 0, "snapshot create s1");
  check_rc(st, bs_branch_create(st, s1.id, "b1"), 0, "branch create b1");
  check_rc(st, bs_branch_delete(st, "b1"), 0, "branch delete b1");
  check(!host_exists(root, "/.bs/branch/1"), "the tree of b1 is gone");
  check_rc(st, bs_snapshot_delete(st, s1.id), 0, "snapshot delete s1 (read-only)");
  check(!host_exists(root, "/.bs/snap/1"), "the tree of s1 is gone");
  bs_snapshot_info *all = NULL;
  size_t n = 9;
  check_rc(st, bs_snapshot_list(st, &all, &n), 0, "snapshot list");
  check(n == 0, "%zu snapshots left", n);
  free(all);
  bs_close(st);
}

/* ---- in the parent --------------------------------------------------------------- */

/* Run @scenario on @root in a child as uid/gid 65534; fail unless it found
 * nothing wrong. */
static void as_nobody(void (*scenario)(const char *root), const char *root, const char *what) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
        setresuid(NOBODY, NOBODY, NOBODY) != 0) {
      perror("dropping privileges");
      _exit(3);
    }
    scenario(root);
    fflush(stderr);
    _exit(child_failures ? 1 : 0);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("%s, as uid %d: the child found something wrong (status 0x%x, see above)", what, NOBODY,
             status);
}

/* A new store (a subvolume) below @mnt, owned by 65534; its path into @root. */
static void nobody_store(const char *mnt, const char *tag, char *root) {
  static unsigned n;
  snprintf(root, 4096, "%.4000s/%s-%u-%u", mnt, tag, (unsigned)getpid(), n++);
  bs_open_opts o = {.root = root};
  assert_bs_ok(bs_store_create("real", &o));
  assert_int_equal(chown(root, NOBODY, NOBODY), 0);
}

static void path_in(char *out, const char *root, const char *rel) {
  assert_true(snprintf(out, 4300, "%s%s", root, rel) < 4300);
}

static void unprivileged_delete_fails_cleanly_and_later_changes_work(void **state) {
  (void)state;
  const bs_vol *v = bs_test_volume("btrfs");
  char root[4096], snap[4300], br[4300], from[4300];
  nobody_store(v->mnt, "unpriv", root);
  as_nobody(delete_without_privilege, root, "delete without privilege");

  /* Leftovers the user cannot remove, where its next trees would go. */
  uint8_t uuid[16];
  path_in(snap, root, "/.bs/snap/3");
  path_in(br, root, "/.bs/branch/3");
  path_in(from, root, "/.bs/snap/1");
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(root), BS__HOST_PATH(snap), uuid), 0);
  assert_int_equal(bs__linux_branch_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(from), BS__HOST_PATH(br)), 0);
  as_nobody(leftovers_do_not_block, root, "leftover trees");

  /* Root may remove them: its next change does. */
  bs_open_opts o = {.root = root};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  assert_bs_ok(bs_snapshot_create(st, "by root", NULL));
  struct stat sb;
  assert_int_equal(lstat(snap, &sb), -1);
  assert_int_equal(lstat(br, &sb), -1);
  bs_close(st);
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}

/* A volume of its own: the mount option cannot be taken back by a remount. */
static bs_vol option_vol;

static int make_option_vol(void **state) {
  (void)state;
  if (bs_test_real_unavailable())
    return 0;
  if (bs_vol_create(&option_vol, "btrfs", 0) != 0) {
    fprintf(stderr, "btrfs volume: %s\n", bs_vol_last_error());
    return -1;
  }
  return mount("none", option_vol.mnt, "none", MS_REMOUNT, "user_subvol_rm_allowed");
}

static int drop_option_vol(void **state) {
  (void)state;
  bs_vol_destroy(&option_vol);
  return 0;
}

static void unprivileged_delete_works_with_user_subvol_rm_allowed(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  char root[4096];
  nobody_store(option_vol.mnt, "option", root);
  as_nobody(delete_with_mount_option, root, "delete with user_subvol_rm_allowed");
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}

#ifdef FIU_ENABLE
/* A removal that fails after the registry let go of the tree: the message
 * names the tree it left behind, and the next change removes it. */
static void a_tree_left_behind_is_named_and_later_changes_proceed(void **state) {
  (void)state;
  const bs_vol *v = bs_test_volume("btrfs");
  char root[4096], tree[4300];
  snprintf(root, sizeof(root), "%.4000s/left-%u", v->mnt, (unsigned)getpid());
  bs_open_opts o = {.root = root};
  assert_bs_ok(bs_store_create("real", &o));
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  bs_test_put(st, "/f", 100, 1); /* not empty: rmdir cannot take the branch either */
  bs_snapshot_info s;
  assert_bs_ok(bs_snapshot_create(st, "s", &s));
  assert_bs_ok(bs_branch_create(st, s.id, "b"));
  bs_test_fail_nth("bs/real/snap_destroy", 1, EPERM);
  int rc = bs_branch_delete(st, "b");
  bool fired = bs_test_fault_fired();
  fiu_disable("bs/real/snap_destroy");
  assert_true(fired);
  assert_bs_err(rc, BS_EPERMISSION);
  path_in(tree, root, "/.bs/branch/1");
  const char *msg = bs_last_message(st);
  if (!strstr(msg, tree) || !strstr(msg, "left behind"))
    fail_msg("the message does not name the tree %s it left behind: %s", tree, msg);
  struct stat sb;
  assert_int_equal(lstat(tree, &sb), 0);
  uint64_t parent = 0;
  assert_bs_err(bs_branch_parent(st, "b", &parent), BS_ENOT_FOUND);
  assert_bs_ok(bs_snapshot_delete(st, s.id));
  assert_int_equal(lstat(tree, &sb), -1);
  bs_close(st);
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(unprivileged_delete_fails_cleanly_and_later_changes_work),
    cmocka_unit_test_setup_teardown(unprivileged_delete_works_with_user_subvol_rm_allowed, make_option_vol,
                                    drop_option_vol),
#ifdef FIU_ENABLE
    cmocka_unit_test(a_tree_left_behind_is_named_and_later_changes_proceed),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void) {
  fprintf(stderr, "test_snapshot_unprivileged: btrfs and uids are Linux's: not run\n");
  return 77;
}
#endif
