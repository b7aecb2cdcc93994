/* bslab put, replay, shrink and the files bslab writes, at the edges: a full
 * volume, inputs that never end or never stop being one line, a directory
 * or a device where a file is needed (docs/bslab.1, docs/guarantees.md).
 * Every run has a time limit, so an input that is read forever fails the
 * test instead of hanging it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

/* The most memory (KiB) a run reading a 48 MiB input may hold: the input
 * read whole is 48 MiB and more; a bounded reader holds about 3 MiB (10
 * with ASan). */
#define BOUNDED_RSS_KB (24 * 1024)

/* Fail if run @r held more than BOUNDED_RSS_KB of its own.  Its peak counts
 * the fork's copy of this process: under valgrind (about 50 MiB) that hides
 * what the run held, and the check only catches a far bigger one. */
static void expect_bounded(const bs_cli_run *r, const char *what) {
  if (r->maxrss_kb > r->fork_rss_kb + BOUNDED_RSS_KB)
    fail_msg("%s held %ld KiB (the test process had %ld KiB when it forked)", what, r->maxrss_kb,
             r->fork_rss_kb);
}

/* A store directory on a real volume, removed by the teardown whatever
 * the test did (a filled shared volume would fail the tests after it). */
static char store_dir[4300];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int remove_store(void **state) {
  (void)state;
  if (store_dir[0])
    nftw(store_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  store_dir[0] = '\0';
  return 0;
}

static const char *make_store(const char *fs, const char *tag) {
  const bs_vol *v = bs_test_volume(fs);
  snprintf(store_dir, sizeof(store_dir), "%s/%s-%d", v->mnt, tag, (int)getpid());
  assert_int_equal(mkdir(store_dir, 0755), 0);
  return store_dir;
}

/* Fill the volume holding @dir with @dir/filler, a MiB at a time. */
static void fill_host(const char *dir) {
  char path[4400];
  snprintf(path, sizeof(path), "%s/filler", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  char *buf = malloc(1u << 20);
  assert_non_null(buf);
  memset(buf, 0x5a, 1u << 20);
  ssize_t n;
  while ((n = write(fd, buf, 1u << 20)) > 0)
    ;
  assert_int_equal(errno, ENOSPC);
  free(buf);
  close(fd);
}

/* A host file of @len bytes of @c in the suite's temp dir. */
static const char *host_file(const char *name, size_t len, char c) {
  static char path[4][256];
  static int next;
  char *p = path[next++ % 4];
  snprintf(p, 256, "%s/%s", bs_cli_tmp(), name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  for (size_t i = 0; i < len; i++)
    fputc(c, f);
  assert_int_equal(fclose(f), 0);
  return p;
}

/* Names in host directory @dir, "a;b;" in readdir order (no . and ..). */
static void host_names(const char *dir, char *out, size_t cap) {
  out[0] = '\0';
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      snprintf(out + strlen(out), cap - strlen(out), "%s;", e->d_name);
  closedir(d);
}

/* Fail unless host directory @dir holds exactly @a and @b (a failed
 * command left nothing else: no temporary or partial file). */
static void expect_only(const char *dir, const char *a, const char *b) {
  char names[512], ab[128], ba[128];
  host_names(dir, names, sizeof(names));
  snprintf(ab, sizeof(ab), "%s;%s;", a, b);
  snprintf(ba, sizeof(ba), "%s;%s;", b, a);
  if (strcmp(names, ab) != 0 && strcmp(names, ba) != 0)
    fail_msg("%s holds %s, expected only %s and %s", dir, names, a, b);
}

/* ---- put on a full volume ------------------------------------------------------ */

/* The report: on a full btrfs store, a put over an existing file
 * failed with NO_SPACE and left it empty, and a put to a new name left a
 * partial file.  Now both fail with nothing changed. */
static void put_on_a_full_btrfs_store_changes_nothing(void **state) {
  (void)state;
  const char *dir = make_store("btrfs", "put-full");
  const char *old = host_file("old", 1234, 'o');
  const char *big = host_file("big", 4u << 20, 'b');
  EXPECT(0, NULL, NULL, "--backend", "real", "--root", dir, "put", old, "/README");
  fill_host(dir);

  EXPECT(1, NULL, "NO_SPACE", "--backend", "real", "--root", dir, "put", big, "/README");
  char path[4400];
  snprintf(path, sizeof(path), "%s/README", dir);
  size_t len = 0;
  char *now = bs_cli_slurp(path, &len);
  char *want = bs_cli_slurp(old, NULL);
  assert_int_equal(len, 1234);
  assert_string_equal(now, want);
  free(now);
  free(want);

  EXPECT(1, NULL, "NO_SPACE", "--backend", "real", "--root", dir, "put", big, "/f4");
  expect_only(dir, "README", "filler");
}

/* ---- what put reads ------------------------------------------------------------- */

static void put_refuses_a_directory_and_a_device(void **state) {
  (void)state;
  char img[256];
  snprintf(img, sizeof(img), "%s/refuse.img", bs_cli_tmp());
  EXPECT(0, NULL, NULL, "--image", img, "init");
  EXPECT(2, NULL, "a directory, not a regular file or a pipe", "--image", img, "put", bs_cli_tmp(), "/x");
  EXPECT(2, NULL, "a character device, not a regular file or a pipe", "--image", img, "put",
         "/dev/zero", "/x");
  bs_cli_run r;
  bs_cli_in(&r, "/dev/zero", (const char *const[]){"--image", img, "put", "-", "/x", NULL});
  bs_cli_expect_status(&r, 2, "put - < /dev/zero");
  bs_cli_expect_contains(r.err, "standard input: a character device", "put - < /dev/zero");
  bs_cli_free(&r);
  EXPECT(1, NULL, "NOT_FOUND", "--image", img, "stat", "/x");
  /* Standard input that is a regular file is fine. */
  const char *in = host_file("in", 3000, 'i');
  bs_cli_in(&r, in, (const char *const[]){"--image", img, "put", "-", "/x", NULL});
  bs_cli_expect_status(&r, 0, "put - < file");
  bs_cli_free(&r);
  EXPECT(0, "size:     3000", NULL, "--image", img, "stat", "/x");
}

/* A 48 MiB file is copied in chunks: the copy holds a few MiB, not 48. */
static void put_copies_in_chunks_with_bounded_memory(void **state) {
  (void)state;
  const char *dir = make_store("tmpfs", "put-mem");
  char big[256];
  snprintf(big, sizeof(big), "%s/sparse", bs_cli_tmp());
  int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 48u << 20), 0);
  close(fd);
  bs_cli_run r;
  BSLAB(&r, "--backend", "real", "--root", dir, "put", big, "/big");
  bs_cli_expect_status(&r, 0, "put of a 48 MiB file");
  expect_bounded(&r, "put of a 48 MiB file");
  bs_cli_free(&r);
  char path[4400];
  snprintf(path, sizeof(path), "%s/big", dir);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_size, 48u << 20);
  unlink(big);
}

/* ---- traces ------------------------------------------------------------------------ */

static void replay_refuses_a_device_and_a_directory(void **state) {
  (void)state;
  EXPECT(2, NULL, "/dev/zero: a character device, not a trace", "replay", "/dev/zero");
  EXPECT(2, NULL, "a directory, not a trace", "replay", bs_cli_tmp());
  char out[256];
  snprintf(out, sizeof(out), "%s/min.trace", bs_cli_tmp());
  EXPECT(2, NULL, "a character device, not a trace", "shrink", "/dev/zero", "-o", out);
  assert_int_equal(access(out, F_OK), -1);
}

/* One 48 MiB line fails at the limit, with little memory; a file over the
 * size limit fails before it is read. */
static void replay_of_a_huge_one_line_file_fails_fast(void **state) {
  (void)state;
  char huge[256];
  snprintf(huge, sizeof(huge), "%s/huge.trace", bs_cli_tmp());
  int fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 48u << 20), 0);
  bs_cli_run r;
  BSLAB(&r, "replay", huge);
  bs_cli_expect_status(&r, 2, "replay of one 48 MiB line");
  bs_cli_expect_contains(r.err, "huge.trace:1: line longer than 1000 bytes", "replay of one 48 MiB line");
  expect_bounded(&r, "replay of one 48 MiB line");
  bs_cli_free(&r);
  assert_int_equal(ftruncate(fd, 100u << 20), 0);
  close(fd);
  EXPECT(2, NULL, "a trace has at most 67108864", "replay", huge);
  char out[256];
  snprintf(out, sizeof(out), "%s/min.trace", bs_cli_tmp());
  EXPECT(2, NULL, "a trace has at most 67108864", "shrink", huge, "-o", out);
  unlink(huge);
}

/* ---- files bslab writes ------------------------------------------------------------ */

/* A --trace FILE that cannot be written whole leaves the old FILE as it was
 * (it used to be emptied first, then cut short) and no temporary file. */
static void campaign_trace_on_a_full_volume_keeps_the_old_file(void **state) {
  (void)state;
  const char *dir = make_store("tmpfs", "trace-full");
  char trace[4400];
  snprintf(trace, sizeof(trace), "%s/ops.trace", dir);
  bs_cli_write_text(trace, "old trace\n");
  fill_host(dir);
  EXPECT(2, NULL, "No space left on device", "campaign", "--seeds", "1", "--ops", "3000", "--quiet",
         "--trace", trace);
  char *now = bs_cli_slurp(trace, NULL);
  assert_string_equal(now, "old trace\n");
  free(now);
  expect_only(dir, "ops.trace", "filler");
}

static int setup(void **state) {
  (void)state;
  bs_cli_set_time_limit(60);
  return bs_cli_setup("put");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(put_on_a_full_btrfs_store_changes_nothing, remove_store),
    cmocka_unit_test(put_refuses_a_directory_and_a_device),
    cmocka_unit_test_teardown(put_copies_in_chunks_with_bounded_memory, remove_store),
    cmocka_unit_test(replay_refuses_a_device_and_a_directory),
    cmocka_unit_test(replay_of_a_huge_one_line_file_fails_fast),
    cmocka_unit_test_teardown(campaign_trace_on_a_full_volume_keeps_the_old_file, remove_store),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
