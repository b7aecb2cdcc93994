/* Differential runs (lab/diff.h, docs/diff.md): the sim and the
 * kernel agree on short streams on btrfs, xfs, ext4 and tmpfs volumes; a run
 * against the wrong filesystem is refused, and one forced against it finds
 * the divergence; and one test per kernel behaviour a differential run found
 * the sim missing, each body run on the sim profiles and on the real volumes
 * (so the expectation is the kernel's, and the sim is held to it). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/diff.h"
#include "tests/support/bs_test.h"
#include "tests/support/volume.h"

static const char *const linux_fs[] = {"btrfs", "xfs", "ext4", "tmpfs"};

/* The shared volume of @fs, or skip the test (fail with BS_REQUIRE_REAL=1). */

/* Each seed's directory, made in a fresh subdirectory so that a leftover shows. */
static void fresh_root(char *root, size_t cap, const bs_vol *v, const char *tag) {
  snprintf(root, cap, "%s/%s-%d", v->mnt, tag, (int)getpid());
  assert_int_equal(mkdir(root, 0755), 0);
}

static void diff_agrees_with_the_kernel_on_every_linux_fs(void **state) {
  (void)state;
  uint32_t ops = (uint32_t)bs_test_env_count("BS_DIFF_OPS", 300);
  int seeds = bs_test_env_count("BS_DIFF_SEEDS", 3);
  for (int i = 0; i < 4; i++) {
    const bs_vol *v = bs_test_volume(linux_fs[i]);
    char root[4300], why[600];
    fresh_root(root, sizeof(root), v, "diff");
    assert_bs_ok(bs_diff_check_root(why, sizeof(why), linux_fs[i], root));
    bs_diff_opts o = {.profile = linux_fs[i], .root = root, .ops = ops};
    for (int k = 0; k < seeds; k++) {
      uint64_t seed = bs_test_seed() + (uint64_t)k;
      bs_diff_result r;
      assert_bs_ok(bs_diff_run_seed(&r, &o, seed));
      if (r.diverged)
        fail_msg("%s seed %" PRIu64 " op %" PRIu32 ": %s\n  %s %s: sim %s, real %s", linux_fs[i],
                 seed, r.div.op_index, r.div.op, r.div.what, r.div.subject, r.div.sim, r.div.real);
      assert_int_equal(r.ops_run, ops);
      assert_true(r.errors_agreed > 0); /* the stream meets errors, not only successes */
      assert_int_equal(bs_test_host_entries(root), 0); /* the seed's directory is gone */
    }
    assert_int_equal(rmdir(root), 0);
  }
}

/* The overlay mix (docs/diff.md, "Overlay branches"): snapshot s and overlay
 * branch b of it on both stores after 40 operations, then paths in the
 * branch too; the sim (trees on every profile) and the kernel agree on
 * btrfs, xfs, ext4 and tmpfs, and the branch is really used. */
static void diff_overlay_mix_agrees_on_every_linux_fs(void **state) {
  (void)state;
  uint32_t ops = (uint32_t)bs_test_env_count("BS_DIFF_OPS", 300);
  int seeds = bs_test_env_count("BS_DIFF_SEEDS", 2);
  for (int i = 0; i < 4; i++) {
    const bs_vol *v = bs_test_volume(linux_fs[i]);
    char root[4300];
    fresh_root(root, sizeof(root), v, "diffov");
    for (int k = 0; k < seeds; k++) {
      char *text = NULL;
      size_t size = 0;
      FILE *tr = open_memstream(&text, &size);
      assert_non_null(tr);
      bs_diff_opts o = {.profile = linux_fs[i], .root = root, .ops = ops, .overlay = true, .trace = tr};
      uint64_t seed = bs_test_seed() + (uint64_t)k;
      bs_diff_result r;
      int rc = bs_diff_run_seed(&r, &o, seed);
      fclose(tr);
      assert_bs_ok(rc);
      if (r.diverged)
        fail_msg("%s seed %" PRIu64 " op %" PRIu32 ": %s\n  %s %s: sim %s, real %s\n  reproduce: bslab diff "
                 "--profile %s --root DIR --seed %" PRIu64 " --ops %" PRIu32 " --mix overlay",
                 linux_fs[i], seed, r.div.op_index, r.div.op, r.div.what, r.div.subject, r.div.sim, r.div.real,
                 linux_fs[i], seed, ops);
      assert_int_equal(r.ops_run, ops);
      assert_non_null(strstr(text, " overlay s /.bs/branches/b => sim OK real OK\n"));
      unsigned in_branch = 0;
      for (const char *l = text; (l = strstr(l, " /.bs/branches/b/")) != NULL; l++)
        in_branch++;
      print_message("    [ %-6s ] seed %" PRIu64 ": %u operations in the branch, %u masked\n", linux_fs[i], seed,
                    in_branch, r.masked);
      assert_true(in_branch >= ops / 10);
      free(text);
      assert_int_equal(bs_test_host_entries(root), 0); /* the seed's store is gone, snapshots too */
    }
    assert_int_equal(rmdir(root), 0);
  }
}

/* The stream, the comparison and the trace are the same for the same seed. */
static void diff_trace_is_deterministic(void **state) {
  (void)state;
  const bs_vol *v = bs_test_volume("tmpfs");
  char root[4300];
  fresh_root(root, sizeof(root), v, "det");
  char *text[2] = {NULL, NULL};
  size_t len[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    FILE *f = open_memstream(&text[k], &len[k]);
    assert_non_null(f);
    bs_diff_opts o = {.profile = "tmpfs", .root = root, .ops = 120, .trace = f};
    bs_diff_result r;
    assert_bs_ok(bs_diff_run_seed(&r, &o, 7));
    assert_false(r.diverged);
    assert_int_equal(fclose(f), 0);
  }
  assert_int_equal(len[0], len[1]);
  assert_memory_equal(text[0], text[1], len[0]);
  /* Operation lines only: the header is bslab's (test_lab_commands.c). */
  assert_memory_equal(text[0], "0 caps => sim OK type=6/tmpfs", 29); /* caps come first */
  assert_non_null(strstr(text[0], "\n119 "));
  assert_non_null(strstr(text[0], " replace /")); /* bs_replace is in the stream */
  free(text[0]);
  free(text[1]);
  assert_int_equal(rmdir(root), 0);
}

/* A profile that does not match the volume is refused; forced through
 * bs_diff_run_seed, the run finds the difference at once and says what. */
static void diff_finds_a_divergence_and_refuses_the_wrong_fs(void **state) {
  (void)state;
  const bs_vol *v = bs_test_volume("tmpfs");
  char root[4300], why[600];
  fresh_root(root, sizeof(root), v, "wrong");
  assert_bs_err(bs_diff_check_root(why, sizeof(why), "btrfs", root), BS_EINVALID);
  assert_non_null(strstr(why, "is on tmpfs, not btrfs"));
  assert_bs_err(bs_diff_check_root(why, sizeof(why), "zfs", root), BS_EINVALID);
  assert_bs_err(bs_diff_check_root(why, sizeof(why), "tmpfs", "/nonexistent-bs-diff"),
                BS_ENOT_FOUND);
  bs_diff_opts o = {.profile = "btrfs", .root = root, .ops = 200};
  bs_diff_result r;
  assert_bs_ok(bs_diff_run_seed(&r, &o, 1));
  assert_true(r.diverged);
  assert_int_equal(r.div.seed, 1);
  assert_string_equal(r.div.what, "result"); /* the first op: caps name btrfs, not tmpfs */
  assert_int_equal(r.div.op_index, 0);
  assert_non_null(strstr(r.div.sim, "type=3/btrfs"));
  assert_non_null(strstr(r.div.real, "type=6/tmpfs"));
  assert_int_equal(bs_test_host_entries(root), 0);
  assert_int_equal(rmdir(root), 0);
}

/* ---- kernel behaviour the sim models, on sim and real alike ---------------- */

static bool want_linux(const bs_caps *c) {
  return c->fs_type >= BS_FS_BTRFS && c->fs_type <= BS_FS_TMPFS;
}

static bool is(const bs_target *t, const char *fs) { return strcmp(t->profile, fs) == 0; }

static void each_linux(bs_target_body body) {
  bs_test_each_backend_of(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), want_linux, body, NULL,
                          bs_test_seed());
}

static uint32_t mode_of(bs_store *st, const char *p) {
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, p, &s));
  return s.mode;
}

/* btrfs reports 1 link for every directory; the others 2 + subdirectories. */
static void dir_nlink_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  assert_bs_ok(bs_mkdir(st, "/a", 0755));
  assert_bs_ok(bs_mkdir(st, "/a/b", 0755));
  assert_bs_ok(bs_mkdir(st, "/a/c", 0755));
  assert_bs_ok(bs_create(st, "/a/f", 0644));
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/a", &s));
  assert_int_equal(s.nlink, is(t, "btrfs") ? 1 : 4);
  assert_bs_ok(bs_stat(st, "/a/b", &s));
  assert_int_equal(s.nlink, is(t, "btrfs") ? 1 : 2);
}

static void dir_nlink_is_the_kernels(void **state) {
  (void)state;
  each_linux(dir_nlink_body);
}

/* A directory's size: btrfs counts 2 x the bytes of its names, tmpfs 40 +
 * 20 per entry; renames and removals keep to that.  (xfs and ext4 count
 * blocks; the sim does not model them, docs/diff.md.) */
static uint64_t dsize(bs_store *st, const char *p) {
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, p, &s));
  return s.size;
}

static void dir_size_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  if (!is(t, "btrfs") && !is(t, "tmpfs"))
    return;
  bool btrfs = is(t, "btrfs");
  char lname[300] = "/d/";
  memset(lname + 3, 'l', 255);
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_int_equal(dsize(st, "/d"), btrfs ? 0 : 40);
  assert_bs_ok(bs_create(st, "/d/a", 0644));
  assert_bs_ok(bs_mkdir(st, "/d/bb", 0755));
  assert_bs_ok(bs_create(st, lname, 0644));
  assert_int_equal(dsize(st, "/d"), btrfs ? 2 * (1 + 2 + 255) : 100);
  assert_bs_ok(bs_rename(st, "/d/a", "/d/ccc"));
  assert_int_equal(dsize(st, "/d"), btrfs ? 2 * (3 + 2 + 255) : 100);
  assert_bs_ok(bs_create(st, "/d/x", 0644));
  assert_bs_ok(bs_rename(st, "/d/x", "/d/ccc")); /* over an existing name */
  assert_int_equal(dsize(st, "/d"), btrfs ? 2 * (3 + 2 + 255) : 100);
  assert_bs_ok(bs_rename(st, "/d/ccc", "/d/bb/ccc"));
  assert_int_equal(dsize(st, "/d"), btrfs ? 2 * (2 + 255) : 80);
  assert_int_equal(dsize(st, "/d/bb"), btrfs ? 6 : 60);
  assert_bs_ok(bs_unlink(st, lname));
  assert_int_equal(dsize(st, "/d"), btrfs ? 4 : 60);
}

static void dir_size_is_the_kernels_on_btrfs_and_tmpfs(void **state) {
  (void)state;
  each_linux(dir_size_body);
}

/* Even root's chown clears S_ISUID, and S_ISGID when group-execute is set,
 * on a non-directory, whatever the ids (-1, -1 included). */
static void chown_setid_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  (void)t;
  assert_bs_ok(bs_create(st, "/x", 06755));
  assert_bs_ok(bs_chown(st, "/x", BS_ID_KEEP, BS_ID_KEEP));
  assert_int_equal(mode_of(st, "/x"), 0755);
  assert_bs_ok(bs_chmod(st, "/x", 06745)); /* no group-execute: S_ISGID stays */
  assert_bs_ok(bs_chown(st, "/x", 5, 5));
  assert_int_equal(mode_of(st, "/x"), 02745);
  assert_bs_ok(bs_mkdir(st, "/d", 06755)); /* directories keep both */
  assert_bs_ok(bs_chown(st, "/d", 7, 7));
  assert_int_equal(mode_of(st, "/d"), 06755);
}

static void chown_clears_setid_bits(void **state) {
  (void)state;
  each_linux(chown_setid_body);
}

/* A set-group-ID directory gives new files and directories its group. */
static void setgid_dir_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  (void)t;
  assert_bs_ok(bs_mkdir(st, "/g", 02775));
  assert_bs_ok(bs_chown(st, "/g", BS_ID_KEEP, 77));
  assert_bs_ok(bs_mkdir(st, "/p", 0775));
  assert_bs_ok(bs_chown(st, "/p", BS_ID_KEEP, 78));
  assert_bs_ok(bs_create(st, "/g/f", 0644));
  assert_bs_ok(bs_mkdir(st, "/g/d", 0755));
  assert_bs_ok(bs_create(st, "/p/f", 0644));
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/g/f", &s));
  assert_int_equal(s.gid, 77);
  assert_bs_ok(bs_stat(st, "/g/d", &s));
  assert_int_equal(s.gid, 77);
  assert_int_equal(s.mode, 0755); /* the mode asked for */
  assert_bs_ok(bs_stat(st, "/p/f", &s));
  assert_int_equal(s.gid, 0); /* the caller's group without S_ISGID */
}

static void setgid_dir_gives_its_group(void **state) {
  (void)state;
  each_linux(setgid_dir_body);
}

/* Birth times exist on all four (tmpfs since Linux 6.6). */
static void btime_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  (void)t;
  assert_bs_ok(bs_create(st, "/f", 0644));
  bs_stat_info s;
  assert_bs_ok(bs_stat(st, "/f", &s));
  assert_true(s.btime_ns != 0);
}

static void birth_time_on_every_linux_fs(void **state) {
  (void)state;
  each_linux(btime_body);
}

/* Room for xattr values: btrfs one leaf item, ext4 the inode body + one
 * block, xfs and tmpfs 64 KiB; too-long names are ERANGE; the namespace is
 * checked after the path, the value size before it. */
static void xattr_room_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bool btrfs = is(t, "btrfs"), ext4 = is(t, "ext4");
  uint8_t *v = calloc(1, 65537);
  assert_non_null(v);
  assert_bs_ok(bs_create(st, "/f", 0644));
  assert_bs_ok(bs_create(st, "/g", 0644));
  assert_bs_err(bs_setxattr(st, "/f", "user.a", v, 65536), btrfs || ext4 ? BS_ENO_SPACE : BS_OK);
  assert_bs_err(bs_setxattr(st, "/f", "user.a", v, 65537), BS_EINVALID);          /* E2BIG */
  assert_bs_err(bs_setxattr(st, "/f", "user.b", v, 16300), btrfs || ext4 ? BS_ENO_SPACE : BS_OK);
  assert_bs_err(bs_setxattr(st, "/f", "user.c", v, 4041), ext4 ? BS_ENO_SPACE : BS_OK);
  /* ext4: 4040 fills the block; then only the inode body (88 bytes) is left. */
  assert_bs_ok(bs_setxattr(st, "/g", "user.a", v, 4040));
  assert_bs_err(bs_setxattr(st, "/g", "user.b", v, 100), ext4 ? BS_ENO_SPACE : BS_OK);
  assert_bs_ok(bs_setxattr(st, "/g", "user.c", v, 60)); /* 20 + 60 fits the body */
  assert_bs_ok(bs_removexattr(st, "/g", "user.a"));
  assert_bs_ok(bs_removexattr(st, "/g", "user.c"));
  /* ext4: 1000 goes to the block, leaving 3040 there for the next. */
  assert_bs_ok(bs_create(st, "/h", 0644));
  assert_bs_ok(bs_setxattr(st, "/h", "user.a", v, 1000));
  assert_bs_err(bs_setxattr(st, "/h", "user.b", v, 3021), ext4 ? BS_ENO_SPACE : BS_OK);
  assert_bs_ok(bs_setxattr(st, "/h", "user.b", v, 3020));
  char name[300] = "user.";
  memset(name + 5, 'n', 251);
  assert_bs_err(bs_setxattr(st, "/f", name, "v", 1), BS_EINVALID); /* 256 bytes: ERANGE */
  assert_bs_err(bs_setxattr(st, "/none", "other.ns", "v", 1), BS_ENOT_FOUND);
  assert_bs_err(bs_setxattr(st, "/f", "other.ns", "v", 1), BS_EUNSUPPORTED);
  assert_bs_err(bs_setxattr(st, "/none", "user.x", v, 65537), BS_EINVALID);
  assert_bs_err(bs_getxattr(st, "/none", "other.ns", NULL, 0, &(size_t){0}), BS_ENOT_FOUND);
  free(v);
}

static void xattr_room_is_the_kernels(void **state) {
  (void)state;
  each_linux(xattr_room_body);
}

/* xfs and ext4 store times from 1901-12-13 on and clamp earlier ones to that
 * second, dropping the nanoseconds in it; btrfs and tmpfs store any. */
static void times_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bool clamps = is(t, "xfs") || is(t, "ext4");
  const int64_t min = -2147483648LL * 1000000000LL;
  assert_bs_ok(bs_create(st, "/f", 0644));
  bs_stat_info s;
  assert_bs_ok(bs_utimens(st, "/f", min - 5, INT64_MIN));
  assert_bs_ok(bs_stat(st, "/f", &s));
  assert_true(s.atime_ns == (clamps ? min : min - 5));
  assert_true(s.mtime_ns == (clamps ? min : INT64_MIN));
  assert_bs_ok(bs_utimens(st, "/f", min + 5, min + 1000000000LL));
  assert_bs_ok(bs_stat(st, "/f", &s));
  assert_true(s.atime_ns == (clamps ? min : min + 5));
  assert_true(s.mtime_ns == min + 1000000000LL);
  assert_bs_ok(bs_utimens(st, "/f", INT64_MAX, 1));
  assert_bs_ok(bs_stat(st, "/f", &s));
  assert_true(s.atime_ns == INT64_MAX && s.mtime_ns == 1);
}

static void times_before_1901_are_clamped_where_the_kernel_does(void **state) {
  (void)state;
  each_linux(times_body);
}

/* Renaming onto a directory that holds the source is ENOTEMPTY (EXISTS) for
 * any source; the destination's directory is walked before the source's
 * last name is looked up. */
static void rename_order_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  (void)t;
  assert_bs_ok(bs_mkdir(st, "/a", 0755));
  assert_bs_ok(bs_mkdir(st, "/a/b", 0755));
  assert_bs_ok(bs_create(st, "/a/b/f", 0644));
  assert_bs_ok(bs_create(st, "/file", 0644));
  assert_bs_err(bs_rename(st, "/a/b/f", "/a"), BS_EEXISTS);
  assert_bs_err(bs_rename(st, "/a/b", "/a"), BS_EEXISTS);
  assert_bs_err(bs_rename(st, "/a/b/f", "/a/b"), BS_EEXISTS);
  assert_bs_err(bs_rename(st, "/a", "/a/b/in"), BS_EINVALID); /* into itself */
  assert_bs_err(bs_rename(st, "/nope", "/file/x"), BS_EINVALID);
  assert_bs_err(bs_rename(st, "/nope", "/nodir/x"), BS_ENOT_FOUND);
  assert_bs_err(bs_rename(st, "/file/x", "/nope"), BS_EINVALID);
}

static void rename_checks_in_the_kernels_order(void **state) {
  (void)state;
  each_linux(rename_order_body);
}

/* A trailing slash says "a directory": ENOTDIR for anything else (INVALID),
 * EISDIR for a file to be created (INVALID, even before the name is looked
 * up), EEXIST for mkdir over a file. */
static void slash_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  (void)t;
  bs_stat_info s;
  char lname[300] = "/";
  memset(lname + 1, 'l', 256);
  strcpy(lname + 257, "/");
  assert_bs_ok(bs_create(st, "/f", 0644));
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_err(bs_stat(st, "/f/", &s), BS_EINVALID);
  assert_bs_ok(bs_stat(st, "/d/", &s));
  assert_bs_err(bs_stat(st, "/nope/", &s), BS_ENOT_FOUND);
  assert_bs_err(bs_create(st, "/g/", 0644), BS_EINVALID);
  assert_bs_err(bs_create(st, "/f/", 0644), BS_EINVALID);
  assert_bs_err(bs_create(st, lname, 0644), BS_EINVALID);
  assert_bs_err(bs_create(st, "/nodir/g/", 0644), BS_ENOT_FOUND);
  assert_bs_ok(bs_mkdir(st, "/e/", 0755));
  assert_bs_err(bs_mkdir(st, "/f/", 0755), BS_EEXISTS);
  assert_bs_err(bs_write(st, "/f/", 0, "x", 1), BS_EINVALID);
  assert_bs_err(bs_unlink(st, "/f/"), BS_EINVALID);
  assert_bs_err(bs_rmdir(st, "/f/"), BS_EINVALID);
  assert_bs_ok(bs_rmdir(st, "/e/"));
  assert_bs_err(bs_rename(st, "/f", "/h/"), BS_EINVALID);
  assert_bs_ok(bs_rename(st, "/d", "/d2/"));
  assert_bs_err(bs_reflink(st, "/f", "/c/"), BS_EINVALID); /* before UNSUPPORTED, too */
  assert_bs_err(bs_reflink(st, "/f", "/f/"), BS_EINVALID);
  assert_bs_err(bs_reflink(st, "/f/", "/c"), BS_EINVALID);
  assert_bs_err(bs_reflink(st, "/f", "/nodir/c/"), BS_EINVALID); /* not NOT_FOUND */
  assert_bs_err(bs_reflink(st, "/f", "/d2/"), BS_EEXISTS);
  char long_to[300] = "/d2/";
  memset(long_to + 4, 'L', 256);
  long_to[260] = '\0';
  assert_bs_err(bs_rename(st, "/f/", long_to), BS_ENAME_TOO_LONG); /* before the slash */
}

static void trailing_slash_means_a_directory(void **state) {
  (void)state;
  each_linux(slash_body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(diff_agrees_with_the_kernel_on_every_linux_fs),
    cmocka_unit_test(diff_overlay_mix_agrees_on_every_linux_fs),
    cmocka_unit_test(diff_trace_is_deterministic),
    cmocka_unit_test(diff_finds_a_divergence_and_refuses_the_wrong_fs),
    cmocka_unit_test(dir_nlink_is_the_kernels),
    cmocka_unit_test(dir_size_is_the_kernels_on_btrfs_and_tmpfs),
    cmocka_unit_test(chown_clears_setid_bits),
    cmocka_unit_test(setgid_dir_gives_its_group),
    cmocka_unit_test(birth_time_on_every_linux_fs),
    cmocka_unit_test(xattr_room_is_the_kernels),
    cmocka_unit_test(times_before_1901_are_clamped_where_the_kernel_does),
    cmocka_unit_test(rename_checks_in_the_kernels_order),
    cmocka_unit_test(trailing_slash_means_a_directory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
