/* bslab diff and its environment (docs/diff.md): a real volume that runs
 * out of inodes or space is reported as "real volume full" (exit 2), not as
 * a divergence of the sim; and the trace of a diverging seed goes where the
 * user said (--trace-dir, $BSLAB_TRACE_DIR), never to /tmp unasked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/diff.h"
#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"


/* A small volume of this test alone (cmocka state), destroyed by the
 * teardown whatever the test did. */
static int small_volume(void **state, const char *fs, uint64_t size) {
  if (bs_test_real_unavailable()) {
    *state = NULL;
    return 0;
  }
  bs_vol *v = calloc(1, sizeof(*v));
  if (!v || bs_vol_create(v, fs, size) != 0) {
    fprintf(stderr, "cannot make a %s volume: %s\n", fs, bs_vol_last_error());
    free(v);
    return -1;
  }
  *state = v;
  return 0;
}

static int tiny_ext4(void **state) { return small_volume(state, "ext4", 8u << 20); }
static int tiny_tmpfs(void **state) { return small_volume(state, "tmpfs", 1u << 20); }

static int destroy_volume(void **state) {
  bs_vol *v = *state;
  if (v)
    bs_vol_destroy(v);
  free(v);
  return 0;
}

/* Make host files in @dir until the volume says ENOSPC: empty ones (inodes)
 * or one growing file (@bytes).  Returns how many were made. */
static int fill(const char *dir, bool bytes) {
  char path[4400];
  int n = 0;
  if (bytes) {
    snprintf(path, sizeof(path), "%s/big", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    static char block[65536];
    while (write(fd, block, sizeof(block)) > 0)
      n++;
    assert_int_equal(errno, ENOSPC);
    close(fd);
    return n;
  }
  for (;; n++) {
    snprintf(path, sizeof(path), "%s/f%d", dir, n);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
      assert_int_equal(errno, ENOSPC);
      return n;
    }
    close(fd);
  }
}

/* Run bslab diff on @root (TMPDIR pointed at an empty directory) and check
 * it says "real volume full" with @ran_out, exits 2, and writes no trace. */
static void expect_volume_full(const char *root, const char *ran_out) {
  char tmpdir[256], traces[256];
  snprintf(tmpdir, sizeof(tmpdir), "%s/tmpdir-XXXXXX", bs_cli_tmp());
  snprintf(traces, sizeof(traces), "%s/traces", bs_cli_tmp());
  assert_non_null(mkdtemp(tmpdir));
  setenv("TMPDIR", tmpdir, 1);
  bs_cli_run r;
  BSLAB(&r, "diff", "--root", root, "--seeds", "3", "--ops", "300", "--quiet");
  unsetenv("TMPDIR");
  bs_cli_expect_status(&r, 2, "diff on a full volume");
  bs_cli_expect_contains(r.err, "real volume full (", "diff on a full volume");
  bs_cli_expect_contains(r.err, ran_out, "diff on a full volume");
  bs_cli_expect_contains(r.err, "not a divergence: seed ", "diff on a full volume");
  if (strstr(r.out, "DIVERGENCE") || strstr(r.err, "DIVERGED"))
    fail_msg("a full volume reported as a divergence:\n%s%s", r.out, r.err);
  assert_int_equal(bs_test_host_entries(tmpdir), 0);             /* nothing in $TMPDIR */
  assert_int_equal(access(traces, F_OK), -1);      /* no trace at all: it did not diverge */
  assert_int_equal(bs_test_host_entries(root), 0);              /* the seed's directory is gone */
  bs_cli_free(&r);
  assert_int_equal(rmdir(tmpdir), 0);
}

static void diff_on_a_volume_out_of_inodes_says_real_volume_full(void **state) {
  BS_TEST_SKIP_WITHOUT_REAL();
  const bs_vol *v = *state;
  char fills[4200], root[4200];
  snprintf(fills, sizeof(fills), "%s/fill", v->mnt);
  snprintf(root, sizeof(root), "%s/root", v->mnt);
  assert_int_equal(mkdir(fills, 0755), 0);
  assert_int_equal(mkdir(root, 0755), 0);
  assert_true(fill(fills, false) > 100);
  /* One inode back: the seed's directory can be made, its first file not. */
  char one[4300];
  snprintf(one, sizeof(one), "%s/f0", fills);
  assert_int_equal(unlink(one), 0);

  /* The library: the seed ends with NO_SPACE, and says where. */
  bs_diff_opts o = {.profile = "ext4", .root = root, .ops = 300};
  bs_diff_result res;
  assert_bs_err(bs_diff_run_seed(&res, &o, 1), BS_ENO_SPACE);
  assert_false(res.diverged);
  assert_string_equal(res.div.what, "volume full");
  assert_non_null(strstr(res.div.real, "out of inodes"));
  assert_non_null(strstr(res.div.op, "create"));
  assert_string_equal(res.div.sim, "OK");

  expect_volume_full(root, "out of inodes");
}

static void diff_on_a_volume_out_of_space_says_real_volume_full(void **state) {
  BS_TEST_SKIP_WITHOUT_REAL();
  const bs_vol *v = *state;
  char root[4200];
  snprintf(root, sizeof(root), "%s/root", v->mnt);
  assert_int_equal(mkdir(root, 0755), 0);
  assert_true(fill(v->mnt, true) > 0);
  expect_volume_full(root, "out of space");
}

/* A --root whose directory the sim cannot match (its group is not root's,
 * which the seed's directory inherits from a set-group-ID parent), so the
 * first look at "/" diverges: stat.gid. */
static void diverging_root(char *root, size_t cap, const char *tag) {
  const bs_vol *v = bs_test_volume("tmpfs");
  snprintf(root, cap, "%s/%s-%d", v->mnt, tag, (int)getpid());
  assert_int_equal(mkdir(root, 0755), 0);
  assert_int_equal(chown(root, 0, 4321), 0);
  assert_int_equal(chmod(root, 02755), 0);
}

static void diff_writes_a_diverging_trace_to_the_trace_dir_not_tmp(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  char root[4300], tmpdir[256], asked[256], dflt[256], path[400];
  diverging_root(root, sizeof(root), "trace");
  snprintf(tmpdir, sizeof(tmpdir), "%s/tmpdir-XXXXXX", bs_cli_tmp());
  snprintf(asked, sizeof(asked), "%s/asked", bs_cli_tmp());
  snprintf(dflt, sizeof(dflt), "%s/traces", bs_cli_tmp()); /* $BSLAB_TRACE_DIR (bs_cli_setup) */
  assert_non_null(mkdtemp(tmpdir));
  setenv("TMPDIR", tmpdir, 1);

  /* --trace-dir: made when missing, the trace named for the profile and seed. */
  bs_cli_run r;
  BSLAB(&r, "diff", "--root", root, "--seed", "5", "--ops", "100", "--trace-dir", asked, "--quiet");
  bs_cli_expect_status(&r, 1, "diff that diverges");
  bs_cli_expect_contains(r.out, "DIVERGENCE seed 5", "diff that diverges");
  snprintf(path, sizeof(path), "  trace      %s/diff-tmpfs-seed-5.trace\n", asked);
  bs_cli_expect_contains(r.out, path, "diff --trace-dir");
  snprintf(path, sizeof(path), "%s/diff-tmpfs-seed-5.trace", asked);
  char *text = bs_cli_slurp(path, NULL);
  bs_cli_expect_contains(text, "# profile tmpfs seed 5 ops 100", "the trace");
  free(text);
  bs_cli_free(&r);

  /* Without it: $BSLAB_TRACE_DIR. */
  BSLAB(&r, "diff", "--root", root, "--seed", "6", "--ops", "100", "--quiet");
  bs_cli_expect_status(&r, 1, "diff that diverges");
  snprintf(path, sizeof(path), "%s/diff-tmpfs-seed-6.trace", dflt);
  bs_cli_expect_contains(r.out, path, "diff without --trace-dir");
  assert_int_equal(access(path, F_OK), 0);
  bs_cli_free(&r);

  unsetenv("TMPDIR");
  assert_int_equal(bs_test_host_entries(tmpdir), 0); /* nothing written to $TMPDIR (/tmp before) */
  assert_int_equal(rmdir(tmpdir), 0);
  assert_int_equal(bs_test_host_entries(root), 0);
  assert_int_equal(rmdir(root), 0);
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("diffenv");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(diff_on_a_volume_out_of_inodes_says_real_volume_full, tiny_ext4,
                                      destroy_volume),
      cmocka_unit_test_setup_teardown(diff_on_a_volume_out_of_space_says_real_volume_full, tiny_tmpfs,
                                      destroy_volume),
      cmocka_unit_test(diff_writes_a_diverging_trace_to_the_trace_dir_not_tmp),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
