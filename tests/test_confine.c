/* A store is a sandbox (docs/guarantees.md, "Path confinement"): on real
 * volumes no store path reaches outside the store's root, whether through an
 * absolute or a relative symlink, a ".." chain in a symlink's target, a
 * symlink swapped in by another thread while an operation runs, or a
 * reserved directory replaced by a symlink; no main-tree path reaches the
 * reserved directory, and no path of one branch reaches another tree.
 * Symlinks whose targets stay in their tree are still followed. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/host_tree.h"
#include "tests/support/volume.h"
#include "real/linux.h"
#include "real/resolve.h"

/* One test's places on a real volume: <base>/store is the store's root,
 * <base>/outside a directory beside it that must never change. */
typedef struct sandbox {
  char base[PATH_MAX], store[PATH_MAX], outside[PATH_MAX];
  bs_store *st;
} sandbox;

static void host(char *buf, const char *a, const char *b) {
  int n = snprintf(buf, PATH_MAX, "%s/%s", a, b);
  assert_true(n > 0 && n < PATH_MAX);
}

/* Make the sandbox on volume @fs; with @subvol the store root is made by
 * bs_store_create (a subvolume on btrfs, so snapshots are native). */
static void sandbox_make(sandbox *s, const char *fs, bool subvol) {
  const bs_vol *v = bs_test_volume(fs);
  host(s->base, v->mnt, "confine-XXXXXX");
  assert_non_null(mkdtemp(s->base));
  host(s->store, s->base, "store");
  host(s->outside, s->base, "outside");
  bs_open_opts o = {.root = s->store};
  if (subvol)
    assert_bs_ok(bs_store_create("real", &o));
  else
    assert_int_equal(mkdir(s->store, 0755), 0);
  assert_int_equal(mkdir(s->outside, 0755), 0);
  char p[PATH_MAX];
  host(p, s->outside, "secret");
  bs_test_write_host(p, "secret\n");
  assert_bs_ok(bs_open(&s->st, "real", &o));
}

static void sandbox_free(sandbox *s) {
  bs_close(s->st);
  s->st = NULL;
  /* Snapshot trees are read-only subvolumes: removed the library's way. */
  assert_int_equal(bs__linux_remove_tree(s->base, false), 0);
}

/* The outside directory holds exactly "secret" with its first content. */
static void assert_outside_untouched(const sandbox *s) {
  char p[PATH_MAX];
  host(p, s->outside, "secret");
  size_t len = 0;
  uint8_t *b = bs_test_read_host(p, &len);
  assert_int_equal(len, 7);
  assert_memory_equal(b, "secret\n", 7);
  free(b);
  struct stat sb;
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_mode & 07777, 0644);
  int n = 0;
  DIR *d = opendir(s->outside);
  assert_non_null(d);
  for (struct dirent *de; (de = readdir(d));)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
      n++;
  closedir(d);
  assert_int_equal(n, 1);
}

static void link_in_store(const sandbox *s, const char *target, const char *name) {
  char p[PATH_MAX];
  host(p, s->store, name);
  assert_int_equal(symlink(target, p), 0);
}

/* Run @body with openat2 (where the kernel has it), then with the walk
 * alone (kernels before 5.6, macOS): both must hold every rule. */
static void both_ways(void (*body)(void)) {
  BS_TEST_SKIP_WITHOUT_REAL();
  for (int walk = 0; walk < 2; walk++) {
    print_message("    [ resolve  ] %s\n", walk ? "walk" : "openat2");
    bs__resolve_walk_only(walk);
    body();
  }
  bs__resolve_walk_only(false);
}

static int cb_none(void *ctx, const char *name, bs_file_kind kind) {
  (void)ctx;
  (void)name;
  (void)kind;
  return 0;
}

/* Every operation through store directory @dir (a symlink that leaves the
 * store) is PERMISSION, and names the escape. */
static void every_op_refused(bs_store *st, const char *dir) {
  char f[PATH_MAX], g[PATH_MAX];
  snprintf(f, sizeof(f), "/%s/secret", dir);
  snprintf(g, sizeof(g), "/%s/new", dir);
  char buf[16];
  size_t n = 0;
  bs_stat_info si;
  assert_bs_err(bs_create(st, g, 0644), BS_EPERMISSION);
  assert_non_null(strstr(bs_last_message(st), "outside"));
  assert_bs_err(bs_mkdir(st, g, 0755), BS_EPERMISSION);
  assert_bs_err(bs_read(st, f, 0, buf, sizeof(buf), &n), BS_EPERMISSION);
  assert_bs_err(bs_write(st, f, 0, "x", 1), BS_EPERMISSION);
  assert_bs_err(bs_truncate(st, f, 0), BS_EPERMISSION);
  assert_bs_err(bs_unlink(st, f), BS_EPERMISSION);
  assert_bs_err(bs_stat(st, f, &si), BS_EPERMISSION);
  assert_bs_err(bs_chmod(st, f, 0777), BS_EPERMISSION);
  assert_bs_err(bs_chown(st, f, 1, 1), BS_EPERMISSION);
  assert_bs_err(bs_utimens(st, f, 0, 0), BS_EPERMISSION);
  assert_bs_err(bs_setxattr(st, f, "user.x", "1", 1), BS_EPERMISSION);
  size_t len = 0;
  assert_bs_err(bs_getxattr(st, f, "user.x", NULL, 0, &len), BS_EPERMISSION);
  assert_bs_err(bs_removexattr(st, f, "user.x"), BS_EPERMISSION);
  assert_bs_err(bs_rename(st, f, "/stolen"), BS_EPERMISSION);
  assert_bs_err(bs_rename(st, "/inside", g), BS_EPERMISSION);
  assert_bs_err(bs_reflink(st, f, "/copy"), BS_EPERMISSION);
  assert_bs_err(bs_sync(st, f), BS_EPERMISSION);
  snprintf(g, sizeof(g), "/%s/", dir);
  assert_bs_err(bs_readdir(st, g, cb_none, NULL), BS_EPERMISSION);
}

/* Absolute, relative and ".."-chain symlinks that leave the store: every
 * operation through them is refused, on every Linux filesystem. */
static void symlinks_out_of_the_store_are_refused_body(void) {
  static const char *const fs[] = {"tmpfs", "btrfs", "xfs", "ext4"};
  for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
    sandbox s = {0};
    sandbox_make(&s, fs[i], false);
    link_in_store(&s, s.outside, "abs");
    link_in_store(&s, "../outside", "rel");
    char p[PATH_MAX];
    host(p, s.store, "sub");
    assert_int_equal(mkdir(p, 0755), 0);
    link_in_store(&s, "sub/../../outside", "dotdot");
    link_in_store(&s, "sub/../rel", "chain"); /* a symlink through a symlink */
    bs_test_put(s.st, "/inside", 3, 1);
    const char *const links[] = {"abs", "rel", "dotdot", "chain"};
    for (size_t l = 0; l < 4; l++)
      every_op_refused(s.st, links[l]);
    assert_outside_untouched(&s);
    bs_test_assert_put(s.st, "/inside", 3, 1);
    sandbox_free(&s);
  }
}

static void symlinks_out_of_the_store_are_refused(void **state) {
  (void)state;
  both_ways(symlinks_out_of_the_store_are_refused_body);
}

/* A symlink whose target stays in the store is followed, relative or
 * absolute, and the last component of a path is never followed. */
static void symlinks_inside_the_store_are_followed_body(void) {
  sandbox s = {0};
  sandbox_make(&s, "tmpfs", false);
  assert_bs_ok(bs_mkdir(s.st, "/sub", 0755));
  assert_bs_ok(bs_mkdir(s.st, "/sub/deep", 0755));
  link_in_store(&s, "sub", "rel");
  char abs[PATH_MAX];
  host(abs, s.store, "sub/deep");
  link_in_store(&s, abs, "abs");
  link_in_store(&s, "sub/deep/..", "up");
  bs_test_put(s.st, "/rel/a", 5, 1);
  bs_test_assert_put(s.st, "/sub/a", 5, 1);
  bs_test_put(s.st, "/abs/b", 5, 2);
  bs_test_assert_put(s.st, "/sub/deep/b", 5, 2);
  bs_test_assert_put(s.st, "/up/a", 5, 1);
  /* The last component: stat sees the link itself; a write to it is refused. */
  bs_stat_info si;
  assert_bs_ok(bs_stat(s.st, "/rel", &si));
  assert_int_equal(si.kind, BS_KIND_SYMLINK);
  assert_bs_err(bs_write(s.st, "/rel", 0, "x", 1), BS_EINVALID);
  assert_outside_untouched(&s);
  sandbox_free(&s);
}

static void symlinks_inside_the_store_are_followed(void **state) {
  (void)state;
  both_ways(symlinks_inside_the_store_are_followed_body);
}

/* The reserved directory is not the main tree's: no symlink of the main
 * tree reaches <root>/.bs, and a .bs that is a symlink is never followed. */
static void the_reserved_directory_is_out_of_reach_body(void) {
  sandbox s = {0};
  sandbox_make(&s, "btrfs", true);
  bs_test_put(s.st, "/f", 4, 3);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(s.st, "s1", &si));
  link_in_store(&s, ".bs", "res");
  link_in_store(&s, ".", "self");
  char buf[64];
  size_t n = 0;
  assert_bs_err(bs_read(s.st, "/res/registry", 0, buf, sizeof(buf), &n), BS_EPERMISSION);
  assert_bs_err(bs_write(s.st, "/res/registry", 0, "x", 1), BS_EPERMISSION);
  assert_bs_err(bs_create(s.st, "/res/lock2", 0644), BS_EPERMISSION);
  bs_stat_info st;
  assert_bs_err(bs_stat(s.st, "/self/.bs", &st), BS_EPERMISSION);
  assert_bs_err(bs_unlink(s.st, "/self/.bs"), BS_EPERMISSION);
  assert_bs_ok(bs_stat(s.st, "/self/f", &st)); /* the rest of the root is fine */
  bs_snapshot_info *all = NULL;
  assert_bs_ok(bs_snapshot_list(s.st, &all, &n));
  assert_int_equal(n, 1);
  free(all);
  bs_close(s.st);
  s.st = NULL;

  /* Now .bs itself is a symlink to the outside: nothing lands there. */
  sandbox t = {0};
  sandbox_make(&t, "tmpfs", false);
  char bs[PATH_MAX];
  host(bs, t.store, ".bs");
  assert_int_equal(symlink(t.outside, bs), 0);
  bs_close(t.st);
  bs_open_opts o = {.root = t.store, .flags = BS_OPEN_SNAPSHOT_COPY};
  assert_bs_ok(bs_open(&t.st, "real", &o));
  assert_bs_err(bs_snapshot_list(t.st, &all, &n), BS_EPERMISSION);
  assert_bs_err(bs_snapshot_create(t.st, "s", NULL), BS_EPERMISSION);
  assert_outside_untouched(&t);
  sandbox_free(&t);
  sandbox_free(&s);
}

static void the_reserved_directory_is_out_of_reach(void **state) {
  (void)state;
  both_ways(the_reserved_directory_is_out_of_reach_body);
}

/* A branch is a tree of its own: its symlinks may not climb into the
 * snapshot it came from, another branch, or the main tree. */
static void a_branch_cannot_reach_other_trees_body(void) {
  sandbox s = {0};
  sandbox_make(&s, "btrfs", true);
  bs_test_put(s.st, "/f", 4, 3);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(s.st, "s1", &si));
  assert_bs_ok(bs_branch_create(s.st, si.id, "b1"));
  assert_bs_ok(bs_branch_create(s.st, si.id, "b2"));
  char tree[PATH_MAX], p[PATH_MAX];
  host(tree, s.store, ".bs/branch/1");
  host(p, tree, "to-b2");
  assert_int_equal(symlink("../2", p), 0);
  host(p, tree, "to-main");
  assert_int_equal(symlink("../../..", p), 0);
  char abs[PATH_MAX];
  host(abs, s.store, ".bs/branch/2");
  host(p, tree, "abs-b2");
  assert_int_equal(symlink(abs, p), 0);
  host(p, tree, "inside");
  assert_int_equal(symlink(".", p), 0);
  const char *const bad[] = {"/.bs/branches/b1/to-b2/f", "/.bs/branches/b1/to-main/f",
                             "/.bs/branches/b1/abs-b2/f"};
  for (size_t i = 0; i < 3; i++) {
    assert_bs_err(bs_write(s.st, bad[i], 0, "x", 1), BS_EPERMISSION);
    assert_bs_err(bs_unlink(s.st, bad[i]), BS_EPERMISSION);
  }
  bs_test_assert_put(s.st, "/.bs/branches/b1/inside/f", 4, 3);
  bs_test_assert_put(s.st, "/.bs/branches/b2/f", 4, 3);
  bs_test_assert_put(s.st, "/f", 4, 3);
  assert_bs_ok(bs_branch_delete(s.st, "b1"));
  assert_bs_ok(bs_branch_delete(s.st, "b2"));
  assert_bs_ok(bs_snapshot_delete(s.st, si.id));
  sandbox_free(&s);
}

static void a_branch_cannot_reach_other_trees(void **state) {
  (void)state;
  both_ways(a_branch_cannot_reach_other_trees_body);
}

/* TOCTOU: while operations run on /d/..., another thread keeps swapping
 * the directory /d with a symlink to the outside (renameat2 EXCHANGE, so
 * /d is always one or the other).  Nothing outside ever changes, and every
 * operation either worked inside the store or was refused. */
typedef struct swapper {
  const sandbox *s;
  atomic_bool stop;
  atomic_long swaps;
} swapper;

static void *swap_loop(void *arg) {
  swapper *w = arg;
  char d[PATH_MAX], l[PATH_MAX];
  host(d, w->s->store, "d");
  host(l, w->s->store, "d-link");
  /* A short sleep between swaps: a thread that never blocks would keep
   * valgrind's one running thread to itself. */
  while (!atomic_load(&w->stop)) {
    long n = 0;
    if (renameat2(AT_FDCWD, d, AT_FDCWD, l, RENAME_EXCHANGE) == 0)
      n = atomic_fetch_add(&w->swaps, 1) + 1;
    /* Naps of 1, 2 or 3 units: with equal naps on both sides, valgrind's
     * coarse turns fell into lockstep and every round met the symlink. */
    struct timespec nap = {0, 20000 * (1 + n % 3)};
    nanosleep(&nap, NULL);
  }
  return NULL;
}

static void a_symlink_swapped_in_during_operations_never_leads_out_body(void) {
  sandbox s = {0};
  sandbox_make(&s, "tmpfs", false);
  assert_bs_ok(bs_mkdir(s.st, "/d", 0755));
  link_in_store(&s, s.outside, "d-link");
  swapper w = {.s = &s};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, swap_loop, &w), 0);
  /* Threads may take turns coarsely (valgrind runs one at a time): the
   * swapper has run before the first round, and each round sleeps a
   * moment so that it runs between and during them. */
  struct timespec nap = {0, 100000};
  for (int t = 0; t < 100000 && atomic_load(&w.swaps) == 0; t++)
    nanosleep(&nap, NULL);
  int iters = bs_test_iterations(3000), ok = 0, refused = 0, i = 0;
  for (; i < iters; i++) {
    nap.tv_nsec = 50000 * (1 + i % 4);
    nanosleep(&nap, NULL);
    char f[64];
    snprintf(f, sizeof(f), "/d/f%d", i % 7);
    int rcs[] = {bs_create(s.st, f, 0644), bs_write(s.st, f, 0, "x", 1), bs_chmod(s.st, f, 0600),
                 bs_setxattr(s.st, f, "user.t", "1", 1), bs_unlink(s.st, f),
                 bs_unlink(s.st, "/d/secret"), bs_mkdir(s.st, "/d/sub", 0755), bs_rmdir(s.st, "/d/sub")};
    for (size_t k = 0; k < sizeof(rcs) / sizeof(rcs[0]); k++) {
      if (rcs[k] == 0)
        ok++;
      else if (rcs[k] == BS_EPERMISSION || rcs[k] == BS_ENOT_FOUND || rcs[k] == BS_EEXISTS ||
               rcs[k] == BS_EINVALID)
        refused++;
      else
        fail_msg("op %zu of round %d: %s (%s)", k, i, bs_err_name(rcs[k]), bs_last_message(s.st));
    }
  }
  atomic_store(&w.stop, true);
  pthread_join(th, NULL);
  long swaps = atomic_load(&w.swaps);
  print_message("    [ info     ] %d rounds, %ld swaps, %d ops inside, %d refused\n", i, swaps, ok, refused);
  assert_true(swaps > 0);
  assert_true(ok > 0);
  assert_outside_untouched(&s);
  sandbox_free(&s);
}

static void a_symlink_swapped_in_during_operations_never_leads_out(void **state) {
  (void)state;
  both_ways(a_symlink_swapped_in_during_operations_never_leads_out_body);
}

/* A store on "/" (bslab's host paths): nothing is outside it, so absolute
 * symlinks anywhere are followed as the OS does. */
static void a_store_on_the_host_root_follows_absolute_symlinks_body(void) {
  sandbox s = {0};
  sandbox_make(&s, "tmpfs", false);
  link_in_store(&s, s.outside, "out");
  bs_store *st = NULL;
  bs_open_opts o = {.root = "/"};
  assert_bs_ok(bs_open(&st, "real", &o));
  char p[PATH_MAX];
  host(p, s.store, "out/secret");
  char buf[16];
  size_t n = 0;
  assert_bs_ok(bs_read(st, p, 0, buf, sizeof(buf), &n));
  assert_int_equal(n, 7);
  bs_close(st);
  sandbox_free(&s);
}

static void a_store_on_the_host_root_follows_absolute_symlinks(void **state) {
  (void)state;
  both_ways(a_store_on_the_host_root_follows_absolute_symlinks_body);
}

/* The same refusals through bslab, with the exit status and message a user
 * sees, and nothing changed outside. */
static void bslab_refuses_paths_that_leave_the_store(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  sandbox s = {0};
  sandbox_make(&s, "tmpfs", false);
  link_in_store(&s, s.outside, "out");
  char src[PATH_MAX];
  host(src, bs_cli_tmp(), "src");
  bs_test_write_host(src, "data\n");
  EXPECT(1, NULL, "outside", "put", "--backend", "real", "--root", s.store, src, "/out/x");
  EXPECT(1, NULL, "outside", "mkdir", "--backend", "real", "--root", s.store, "/out/d");
  EXPECT(1, NULL, "outside", "rm", "--backend", "real", "--root", s.store, "/out/secret");
  EXPECT(1, NULL, "outside", "cat", "--backend", "real", "--root", s.store, "/out/secret");
  EXPECT(1, NULL, "outside", "ls", "--backend", "real", "--root", s.store, "/out/");
  assert_outside_untouched(&s);
  sandbox_free(&s);
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("confine");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(symlinks_out_of_the_store_are_refused),
    cmocka_unit_test(symlinks_inside_the_store_are_followed),
    cmocka_unit_test(the_reserved_directory_is_out_of_reach),
    cmocka_unit_test(a_branch_cannot_reach_other_trees),
    cmocka_unit_test(a_symlink_swapped_in_during_operations_never_leads_out),
    cmocka_unit_test(a_store_on_the_host_root_follows_absolute_symlinks),
    cmocka_unit_test(bslab_refuses_paths_that_leave_the_store),
  };
  return cmocka_run_group_tests_name("confine", tests, setup, teardown);
}
