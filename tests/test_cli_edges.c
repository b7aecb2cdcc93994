/* Smaller promises of the bslab CLI (docs/bslab.1), each once broken:
 * relative host paths of clone, messages that name the real problem with
 * --root, --image and --backend, campaign --json - on standard output, the
 * campaign's pointer to diff, an empty fault spec, ENOSPC on /dev/full, the
 * progress line's count of finished seeds, and a campaign stopped by SIGINT
 * that still says what ran. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

static void tmp_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", bs_cli_tmp(), name);
}

/* Without --root, clone's operands are host paths; "./b", "../a" and
 * "d/../a" are resolved from the current directory as a shell would. */
static void edges_clone_takes_relative_host_paths(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  const bs_vol *v = bs_test_volume("btrfs");
  char dir[4200], sub[4300], a[4300], err[256];
  snprintf(dir, sizeof(dir), "%s/relpaths", v->mnt);
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  snprintf(a, sizeof(a), "%s/a", dir);
  snprintf(err, sizeof(err), "%s/clone.err", bs_cli_tmp());
  assert_int_equal(mkdir(dir, 0755), 0);
  assert_int_equal(mkdir(sub, 0755), 0);
  bs_cli_write_text(a, "cloned through relative paths\n");
  const char *const pairs[][2] = {{"../a", "./b"}, {"./b", "../c"}, {"../sub/../a", "d"}};
  const char *const made[] = {"sub/b", "c", "sub/d"};
  for (int i = 0; i < 3; i++) {
    unlink(err);
    int st = bs_cli_wait(bs_cli_spawn(sub, NULL, err, (const char *const[]){
      "clone", "--backend", "real", pairs[i][0], pairs[i][1], NULL}));
    if (st != 0) {
      char *e = bs_cli_slurp(err, NULL);
      fail_msg("clone --backend real %s %s (in %s): exit %d: %s", pairs[i][0], pairs[i][1], sub,
               st, e);
    }
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, made[i]);
    char *got = bs_cli_slurp(path, NULL);
    assert_string_equal(got, "cloned through relative paths\n");
    free(got);
  }
  char rm[4300];
  snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
  assert_int_equal(system(rm), 0);
}

/* A symbolic link as --root is followed; a --root that is a file and an
 * --image that is a directory (or a FIFO) are called what they are. */
static void edges_root_and_image_name_the_real_problem(void **state) {
  (void)state;
  char dir[256], link[256], file[256], fifo[256], made[300];
  tmp_path(dir, sizeof(dir), "store");
  tmp_path(link, sizeof(link), "store-link");
  tmp_path(file, sizeof(file), "plain-file");
  tmp_path(fifo, sizeof(fifo), "fifo.img");
  assert_int_equal(mkdir(dir, 0755), 0);
  assert_int_equal(symlink(dir, link), 0);
  bs_cli_write_text(file, "not a directory\n");
  assert_int_equal(mkfifo(fifo, 0644), 0);
  EXPECT(0, "fs_type_name:", NULL, "caps", "--backend", "real", "--root", link);
  EXPECT(0, NULL, NULL, "mkdir", "--backend", "real", "--root", link, "/through-the-link");
  snprintf(made, sizeof(made), "%s/through-the-link", dir);
  struct stat sb;
  assert_int_equal(stat(made, &sb), 0);
  assert_true(S_ISDIR(sb.st_mode));
  EXPECT(2, NULL, "--root '", "caps", "--backend", "real", "--root", file);
  EXPECT(2, NULL, "' is not a directory", "ls", "--backend", "real", "--root", file, "/");
  EXPECT(2, NULL, "is a directory, not an image file", "--image", dir, "ls");
  EXPECT(2, NULL, "is a directory, not an image file", "--image", dir, "mkdir", "/x");
  EXPECT(2, NULL, "is a directory, not an image file", "--image", dir, "init");
  EXPECT(2, NULL, "is not a regular file", "--image", fifo, "ls");
}

/* campaign --json - writes the JSON to standard output (the text summary
 * then goes to standard error), and no file named "-". */
static void edges_campaign_json_dash_is_standard_output(void **state) {
  (void)state;
  char out[256], err[256], dash[256];
  tmp_path(out, sizeof(out), "json.out");
  tmp_path(err, sizeof(err), "json.err");
  tmp_path(dash, sizeof(dash), "-");
  unlink(out);
  unlink(err);
  int st = bs_cli_wait(bs_cli_spawn(bs_cli_tmp(), out, err, (const char *const[]){
    "campaign", "--seeds", "2", "--ops", "50", "--quiet", "--json", "-", NULL}));
  assert_int_equal(st, 0);
  char *o = bs_cli_slurp(out, NULL), *e = bs_cli_slurp(err, NULL);
  if (strncmp(o, "{\n  \"format\": 1,", 16) != 0 || !strstr(o, "\"passed\": true") ||
      o[strlen(o) - 2] != '}')
    fail_msg("stdout is not the JSON summary alone:\n%s", o);
  bs_cli_expect_contains(e, "seeds run             2", "text summary on stderr");
  free(o);
  free(e);
  assert_int_not_equal(access(dash, F_OK), 0);
  EXPECT(2, NULL, "cannot both have standard output", "campaign", "--json", "-", "--trace", "-");
}

static void edges_campaign_on_real_points_at_diff(void **state) {
  (void)state;
  bs_cli_run r;
  BSLAB(&r, "campaign", "--backend", "real");
  bs_cli_expect_status(&r, 2, "campaign --backend real");
  bs_cli_expect_contains(r.err, "use 'bslab diff --root DIR'", "campaign --backend real");
  assert_null(strstr(r.err, "later issue"));
  bs_cli_free(&r);
  EXPECT(2, NULL, "give --faults SPEC", "campaign", "--backend", "faults:sim");
  EXPECT(2, NULL, "unknown backend 'nosuch'", "campaign", "--backend", "nosuch");
}

/* The inner backend of faults:INNER is checked: an unknown one is "unknown
 * backend", not a missing file. */
static void edges_unknown_inner_backend_is_unknown_backend(void **state) {
  (void)state;
  EXPECT(2, NULL, "unknown backend 'bogus' in 'faults:bogus'", "caps", "--backend", "faults:bogus");
  EXPECT(2, NULL, "unknown backend 'bogus' in 'faults:bogus'", "snapshot", "list", "--backend",
         "faults:bogus", "--root", bs_cli_tmp());
  EXPECT(2, NULL, "unknown backend 'bogus' in 'faults:bogus'", "init", "--backend", "faults:bogus",
         "--root", "/nonexistent-bs/x");
  EXPECT(2, NULL, "unknown backend 'faults:'", "caps", "--backend", "faults:");
  EXPECT(0, "fs_type_name:", NULL, "caps", "--backend", "faults:real", "--root", bs_cli_tmp());
}

static void edges_empty_fault_spec_is_a_usage_error(void **state) {
  (void)state;
  const char *const specs[] = {"", " ", "\t"};
  for (int i = 0; i < 3; i++) {
    bs_cli_run r;
    BSLAB(&r, "faults", "check", specs[i]);
    bs_cli_expect_status(&r, 2, "faults check with an empty spec");
    assert_int_equal((int)r.outlen, 0);
    bs_cli_expect_contains(r.err, "bad fault spec: it is empty", "faults check ''");
    bs_cli_free(&r);
  }
}

/* Run bslab @args with stdout to /dev/full; exit status, stderr in @err. */
static int to_dev_full(char *err, size_t cap, const char *const *args) {
  char errp[256];
  tmp_path(errp, sizeof(errp), "full.err");
  unlink(errp);
  int st = bs_cli_wait(bs_cli_spawn(bs_cli_tmp(), "/dev/full", errp, args));
  char *e = bs_cli_slurp(errp, NULL);
  snprintf(err, cap, "%s", e);
  free(e);
  return st;
}

/* /dev/full is ENOSPC, whatever writes to it: raw output, a --trace FILE, a
 * --json FILE (written in place: /dev/full stays a device). */
static void edges_dev_full_is_no_space(void **state) {
  (void)state;
  struct stat sb;
  if (stat("/dev/full", &sb) != 0 || !S_ISCHR(sb.st_mode) || access("/dev/full", W_OK) != 0)
    skip();
  char img[256], big[256], err[1024];
  tmp_path(img, sizeof(img), "full.img");
  tmp_path(big, sizeof(big), "big.bin");
  FILE *f = fopen(big, "wb");
  assert_non_null(f);
  for (int i = 0; i < 300000; i++)
    fputc(i * 7, f);
  fclose(f);
  EXPECT(0, NULL, NULL, "--image", img, "put", big, "/big");
  const char *const cmds[][10] = {
    {"--image", img, "cat", "/big"},
    {"caps", "--format", "ssz"},
    {"campaign", "--ops", "300", "--quiet", "--trace", "/dev/full"},
    {"campaign", "--ops", "20", "--quiet", "--json", "/dev/full"},
  };
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
    int st = to_dev_full(err, sizeof(err), cmds[i]);
    if (st != 2 || !strstr(err, strerror(ENOSPC)) || strstr(err, strerror(EIO)))
      fail_msg("bslab %s %s ... > /dev/full: exit %d, stderr: %s", cmds[i][0], cmds[i][1], st, err);
    assert_int_equal(stat("/dev/full", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
  }
}

/* Not a terminal: a progress line about every 10%; each counts the seeds
 * that are done, and says so. */
static void edges_progress_counts_finished_seeds(void **state) {
  (void)state;
  bs_cli_run r;
  BSLAB(&r, "campaign", "--seeds", "2", "--ops", "1500");
  bs_cli_expect_status(&r, 0, "campaign");
  int lines = 0;
  for (const char *p = r.err; (p = strstr(p, "campaign: ")) != NULL; p++) {
    const char *seeds = strstr(p, "  seeds done ");
    const char *nl = strchr(p, '\n');
    if (!seeds || (nl && seeds > nl))
      fail_msg("progress line without \"seeds done\": %.*s", nl ? (int)(nl - p) : 80, p);
    unsigned done = 9, total = 0, pct = 0;
    assert_int_equal(sscanf(p, "campaign: %u%%", &pct), 1);
    assert_int_equal(sscanf(seeds, "  seeds done %u/%u", &done, &total), 2);
    assert_int_equal(total, 2);
    assert_true(done <= 2 && (pct == 100) == (done == 2));
    lines++;
  }
  assert_true(lines >= 2);
  bs_cli_free(&r);
}

/* Wait (up to 20 s) until host file @path is not empty. */
static void wait_for_output(const char *path) {
  struct stat sb;
  for (int i = 0; i < 2000; i++) {
    if (stat(path, &sb) == 0 && sb.st_size > 0)
      return;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  fail_msg("%s stayed empty", path);
}

/* SIGINT during a campaign (one job, and two): the summary of the seeds
 * that finished (as many as printed digests), marked INTERRUPTED; the JSON
 * summary says "interrupted": true and not passed; bslab ends by SIGINT. */
static void edges_sigint_summarises_what_ran(void **state) {
  (void)state;
  const char *const jobs[] = {"1", "2"};
  for (int j = 0; j < 2; j++) {
    char out[256], err[256], json[256];
    tmp_path(out, sizeof(out), "int.out");
    tmp_path(err, sizeof(err), "int.err");
    tmp_path(json, sizeof(json), "int.json");
    unlink(out);
    unlink(err);
    unlink(json);
    int pid = bs_cli_spawn(NULL, out, err, (const char *const[]){
      "campaign", "--seeds", "100000", "--ops", "100", "--digest", "--jobs", jobs[j], "--json",
      json, NULL});
    wait_for_output(out); /* a seed is done: the campaign runs */
    kill(pid, SIGINT);
    int st = bs_cli_wait(pid);
    char *o = bs_cli_slurp(out, NULL), *e = bs_cli_slurp(err, NULL);
    if (st != 128 + SIGINT || !strstr(o, "\nINTERRUPTED\n"))
      fail_msg("--jobs %s: exit %d, stdout:\n%s\nstderr:\n%s", jobs[j], st, o, e);
    unsigned digests = 0, run = 0, of = 0;
    for (const char *p = o; (p = strstr(p, " digest ")) != NULL; p++)
      digests++;
    const char *line = strstr(o, "  seeds run ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "  seeds run %u of %u (interrupted", &run, &of), 2);
    assert_int_equal(of, 100000);
    assert_int_equal(run, digests);
    assert_true(run >= 1 && run < of);
    char *js = bs_cli_slurp(json, NULL), want[64];
    bs_cli_expect_contains(js, "\"interrupted\": true, \"passed\": false", "JSON summary");
    snprintf(want, sizeof(want), "\"seeds_run\": %u, \"ops\": %u,", run, run * 100);
    bs_cli_expect_contains(js, want, "JSON summary");
    free(js);
    free(o);
    free(e);
  }
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("edges");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(edges_clone_takes_relative_host_paths),
    cmocka_unit_test(edges_root_and_image_name_the_real_problem),
    cmocka_unit_test(edges_campaign_json_dash_is_standard_output),
    cmocka_unit_test(edges_campaign_on_real_points_at_diff),
    cmocka_unit_test(edges_unknown_inner_backend_is_unknown_backend),
    cmocka_unit_test(edges_empty_fault_spec_is_a_usage_error),
    cmocka_unit_test(edges_dev_full_is_no_space),
    cmocka_unit_test(edges_progress_counts_finished_seeds),
    cmocka_unit_test(edges_sigint_summarises_what_ran),
  };
  return cmocka_run_group_tests_name("cli_edges", tests, setup, teardown);
}
