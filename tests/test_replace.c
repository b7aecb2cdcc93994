/* Atomic replacement (bs_replace, docs/guarantees.md) and failed writes, one
 * body over every backend (sim profiles, real volumes, darwin through its
 * fake): a replacement that fails for lack of space, a fault at any of its
 * steps, or a failing source leaves the old file exactly as it was and no
 * temporary file; a failed write leaves the file's size as it was. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backstore/faults.h"
#include "backstore/sim.h"
#include "tests/support/bs_test.h"

/* ---- a source of known bytes ------------------------------------------------ */

/* bs_test_pattern(len, fill) handed out in pieces of at most @piece bytes;
 * @fail_at: fail with BS_EIO once that many bytes were given (0: never). */
typedef struct pattern_src {
  size_t len, pos, piece, fail_at;
  uint8_t fill;
} pattern_src;

static int pattern_bytes(void *ctx, void *buf, size_t cap, size_t *n) {
  pattern_src *s = ctx;
  if (s->fail_at && s->pos >= s->fail_at)
    return BS_EIO;
  size_t k = s->len - s->pos;
  if (k > cap)
    k = cap;
  if (s->piece && k > s->piece)
    k = s->piece;
  for (size_t i = 0; i < k; i++)
    ((uint8_t *)buf)[i] = (uint8_t)(s->fill + (s->pos + i) * 7);
  s->pos += k;
  *n = k;
  return 0;
}

static int replace_with(bs_store *st, const char *path, uint32_t mode, size_t len, uint8_t fill) {
  pattern_src s = {.len = len, .fill = fill};
  return bs_replace(st, path, mode, pattern_bytes, &s);
}

static uint32_t mode_of(bs_store *st, const char *path) {
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, path, &si));
  return si.mode;
}

/* ---- filling a volume -------------------------------------------------------- */

/* Host path of a real target's filler, removed by the teardown however the
 * body ended (a filled shared volume would fail every later test). */
static char filler_host[4096];

static int remove_filler(void **state) {
  (void)state;
  if (filler_host[0])
    unlink(filler_host);
  filler_host[0] = '\0';
  return 0;
}

/* Write @path a MiB at a time until the volume is full (NO_SPACE). */
static void fill(bs_store *st, const bs_target *t, const char *path) {
  if (t->kind == BS_TARGET_REAL)
    bs_test_host_path(t, path, filler_host);
  size_t chunk = 1u << 20;
  uint8_t *buf = calloc(1, chunk);
  assert_non_null(buf);
  memset(buf, 0x5a, chunk);
  assert_bs_ok(bs_create(st, path, 0600));
  int rc = 0;
  for (uint64_t off = 0; rc == 0; off += chunk)
    rc = bs_write(st, path, off, buf, chunk);
  free(buf);
  assert_bs_err(rc, BS_ENO_SPACE);
}

/* No name of @dir's listing is a temporary file of bs_replace. */
static void assert_no_tmp(bs_store *st, const char *dir) {
  char names[BS_TEST_LISTING_MAX];
  bs_test_listing(st, dir, names);
  if (strstr(names, "bs-tmp"))
    fail_msg("a temporary file is left in %s: %s", dir, names);
}

/* ---- a full volume ------------------------------------------------------------ */

/* On a full volume (with 1 MiB just freed, so that writes get part-way):
 * a replacement fails with NO_SPACE and leaves the old file as it was, or
 * no new file; a write fails with NO_SPACE and leaves the file's size as it
 * was (the sim's writes are all or nothing; the real backend gives back
 * what the failed write added past the old end).  With the space back, the
 * same replacement goes through. */
static void full_volume_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/old", 5000, 3);
  assert_bs_ok(bs_chmod(st, "/old", 0640));
  bs_test_put(st, "/small", 10, 1);
  bs_test_put(st, "/spacer", 1u << 20, 2);
  fill(st, t, "/filler");
  assert_bs_ok(bs_unlink(st, "/spacer"));

  assert_bs_err(replace_with(st, "/old", 0600, 3u << 20, 9), BS_ENO_SPACE);
  bs_test_assert_put(st, "/old", 5000, 3);
  assert_int_equal(mode_of(st, "/old"), 0640);
  assert_bs_err(replace_with(st, "/new", 0644, 3u << 20, 9), BS_ENO_SPACE);
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/new", &si), BS_ENOT_FOUND);

  size_t len = 4u << 20;
  uint8_t *buf = bs_test_pattern(len, 3);
  assert_bs_err(bs_write(st, "/small", 10, buf, len), BS_ENO_SPACE);
  free(buf);
  bs_test_assert_put(st, "/small", 10, 1);

  char names[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/", names);
  assert_string_equal(names, "filler;old;small;");
  bs_test_check(st, t);

  assert_bs_ok(bs_unlink(st, "/filler"));
  filler_host[0] = '\0';
  assert_bs_ok(replace_with(st, "/old", 0600, 3u << 20, 9));
  bs_test_assert_put(st, "/old", 3u << 20, 9);
  assert_int_equal(mode_of(st, "/old"), 0640);
  assert_no_tmp(st, "/");
  bs_test_check(st, t);
}

/* Every sim profile, on a 4 MiB volume (filling the default 64 MiB takes
 * seconds, minutes under valgrind), then the real volumes.  The darwin fake
 * is left out: its file operations are the sim's. */
static void each_fillable(bs_target_body body) {
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++) {
    bs_target t = {.backend = "sim", .profile = bs_sim_profile_names[i], .kind = BS_TARGET_SIM,
                   .label = bs_sim_profile_names[i]};
    bs_store *st = bs_test_open_sim_sized(t.profile, bs_test_seed(), 4u << 20);
    assert_bs_ok(bs_get_caps(st, &t.caps));
    print_message("    [ target   ] sim:%s (4 MiB)\n", t.profile);
    body(st, &t, NULL);
    bs_close(st);
  }
  const char *why = bs_test_real_unavailable();
  if (why)
    print_message("    [ skipped  ] real volumes: %s\n", why);
  else
    bs_test_each_backend_of(BS_KINDS(BS_TARGET_REAL), NULL, body, NULL, bs_test_seed());
}

static void full_volume_fails_replace_and_write_without_a_trace(void **state) {
  (void)state;
  each_fillable(full_volume_body);
}

/* ---- what a replacement keeps ------------------------------------------------ */

static void semantics_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  /* A new name gets the mode asked for; the data may come in any pieces. */
  pattern_src s = {.len = BS_REPLACE_CHUNK + 4321, .piece = 1000, .fill = 1};
  assert_bs_ok(bs_replace(st, "/a", 0640, pattern_bytes, &s));
  bs_test_assert_put(st, "/a", BS_REPLACE_CHUNK + 4321, 1);
  assert_int_equal(mode_of(st, "/a"), 0640);
  /* An existing file keeps its mode, less the set-ID bits. */
  assert_bs_ok(bs_chmod(st, "/a", 06751));
  assert_bs_ok(replace_with(st, "/a", 0600, 10, 2));
  bs_test_assert_put(st, "/a", 10, 2);
  assert_int_equal(mode_of(st, "/a"), 0751);
  /* An empty source makes an empty file. */
  assert_bs_ok(replace_with(st, "/a", 0600, 0, 0));
  bs_test_assert_put(st, "/a", 0, 0);

  /* Not a file name, or a directory there: INVALID, nothing made. */
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_err(replace_with(st, "/d", 0644, 10, 3), BS_EINVALID);
  assert_bs_err(replace_with(st, "/d/", 0644, 10, 3), BS_EINVALID);
  assert_bs_err(replace_with(st, "/", 0644, 10, 3), BS_EINVALID);
  assert_bs_err(replace_with(st, "d/x", 0644, 10, 3), BS_EINVALID);
  assert_bs_err(bs_replace(st, "/x", 0644, NULL, NULL), BS_EINVALID);
  /* A missing parent: NOT_FOUND, and the message names the target. */
  assert_bs_err(replace_with(st, "/nodir/x", 0644, 10, 3), BS_ENOT_FOUND);
  assert_non_null(strstr(bs_last_message(st), "replace: /nodir/x: "));

  /* A source that fails: its code, the old content, no temporary file. */
  pattern_src bad = {.len = 3u << 20, .fail_at = 2u << 20, .fill = 4};
  assert_bs_err(bs_replace(st, "/a", 0644, pattern_bytes, &bad), BS_EIO);
  assert_non_null(strstr(bs_last_message(st), "the source failed"));
  bs_test_assert_put(st, "/a", 0, 0);

  /* A leftover temporary file of a crashed replacement is left alone. */
  bs_test_put(st, "/d/.f.bs-tmp.0", 7, 5);
  assert_bs_ok(replace_with(st, "/d/f", 0644, 100, 6));
  bs_test_assert_put(st, "/d/f", 100, 6);
  bs_test_assert_put(st, "/d/.f.bs-tmp.0", 7, 5);
  char names[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/d", names);
  assert_string_equal(names, ".f.bs-tmp.0;f;");
  /* A name too long to prefix gets the short temporary name. */
  char longname[256] = "/";
  memset(longname + 1, 'n', 250);
  assert_bs_ok(replace_with(st, longname, 0644, 100, 7));
  bs_test_assert_put(st, longname, 100, 7);
  assert_no_tmp(st, "/");
  bs_test_check(st, t);
}

static void replace_keeps_mode_and_refuses_what_is_not_a_file(void **state) {
  (void)state;
  bs_test_each_backend(NULL, semantics_body, NULL, bs_test_seed());
}

/* ---- a fault at every step ---------------------------------------------------- */

/* Open a faults:@inner store with @spec: a sim store of the btrfs profile,
 * or a real store on @root. */
static bs_store *open_faulty(const char *inner, const char *root, const char *spec) {
  bs_store *st = NULL;
  char backend[32];
  snprintf(backend, sizeof(backend), "faults:%s", inner);
  bs_open_opts o = {.profile = root ? NULL : "btrfs", .root = root, .seed = 7, .faults = spec};
  assert_bs_ok(bs_open(&st, backend, &o));
  return st;
}

static uint64_t fired(bs_store *st) {
  uint64_t n = 0;
  assert_bs_ok(bs_faults_fired(st, &n));
  return n;
}

/* For every call of @point a replacement makes, in turn: fail it; the
 * replacement fails and leaves the old content and no temporary file, but
 * for the directory sync after the rename, which leaves the new content and
 * says so.  @root: a real store's directory (NULL: the sim).  Returns how
 * many calls failed inside a replacement. */
static int sweep_point(const char *inner, const char *root, const char *point) {
  int failures = 0;
  for (unsigned n = 1; n < 64; n++) {
    char spec[128];
    snprintf(spec, sizeof(spec), "%s=io@%u", point, n);
    bs_store *st = open_faulty(inner, root, spec);
    bs_unlink(st, "/old"); /* a real store's directory is reused */
    int rc = replace_with(st, "/old", 0644, 5000, 3);
    uint64_t before = fired(st);
    if (rc != 0 || before != 0) { /* the fault hit the setup: the next call */
      bs_close(st);
      continue;
    }
    rc = replace_with(st, "/old", 0600, BS_REPLACE_CHUNK + 1000, 8);
    if (fired(st) == before) { /* past the replacement's last call */
      assert_bs_ok(rc);
      bs_close(st);
      return failures;
    }
    failures++;
    if (rc == 0)
      fail_msg("%s: the fault fired, yet replace returned OK", spec);
    if (strstr(bs_last_message(st), "replaced, but syncing its directory failed"))
      bs_test_assert_put(st, "/old", BS_REPLACE_CHUNK + 1000, 8);
    else
      bs_test_assert_put(st, "/old", 5000, 3);
    assert_no_tmp(st, "/");
    bs_close(st);
  }
  fail_msg("%s: still failing replacements after 63 calls", point);
  return failures;
}

static const char *const op_points[] = {"bs/op/stat", "bs/op/create", "bs/op/write", "bs/op/chmod",
                                        "bs/op/sync", "bs/op/rename"};

static void replace_fault_at_each_step_keeps_the_old_file_in_the_sim(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(op_points) / sizeof(op_points[0]); i++)
    assert_true(sweep_point("sim", NULL, op_points[i]) >= 1);
  static const char *const sim_points[] = {"bs/sim/alloc", "bs/sim/write", "bs/sim/sync"};
  for (size_t i = 0; i < sizeof(sim_points) / sizeof(sim_points[0]); i++)
    assert_true(sweep_point("sim", NULL, sim_points[i]) >= 1);
  /* Both syncs fail in turn: the file's (before the rename) and the directory's. */
  assert_int_equal(sweep_point("sim", NULL, "bs/op/sync"), 2);
}

static void replace_fault_at_each_step_keeps_the_old_file_on_btrfs(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_target t = {.backend = "real", .profile = "btrfs", .kind = BS_TARGET_REAL};
  bs_store *base = bs_test_open_fresh(&t, 1);
  const char *root = bs_test_fresh_root(base);
  for (size_t i = 0; i < sizeof(op_points) / sizeof(op_points[0]); i++)
    assert_true(sweep_point("real", root, op_points[i]) >= 1);
#ifdef FIU_ENABLE
  static const char *const real_points[] = {"bs/real/open", "bs/real/write", "bs/real/chmod",
                                            "bs/real/fsync", "bs/real/rename"};
  for (size_t i = 0; i < sizeof(real_points) / sizeof(real_points[0]); i++)
    assert_true(sweep_point("real", root, real_points[i]) >= 1);
#endif
  bs_test_close_fresh(base);
}

/* A cleanup that fails too: the first error is returned, and the message
 * names the temporary file left behind. */
static void replace_says_which_temporary_file_a_failed_cleanup_left(void **state) {
  (void)state;
  bs_store *st = open_faulty("sim", NULL, "bs/op/rename=io@1,bs/op/unlink=permission@1");
  assert_bs_err(replace_with(st, "/f", 0644, 10, 1), BS_EIO);
  assert_non_null(strstr(bs_last_message(st), "the temporary file /.f.bs-tmp.0 is left (PERMISSION)"));
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/f", &si), BS_ENOT_FOUND);
  bs_close(st);
}

/* ---- other threads ------------------------------------------------------------ */

typedef struct lister {
  bs_store *st;
  volatile int stop;
  int listings, saw_tmp, errors;
} lister;

static int spot_tmp(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  if (strstr(name, "bs-tmp"))
    ((lister *)ctx)->saw_tmp++;
  return 0;
}

static void *list_until_stopped(void *arg) {
  lister *l = arg;
  while (!l->stop) {
    l->errors += bs_readdir(l->st, "/", spot_tmp, l) != 0; /* no cmocka assert off the main thread */
    l->listings++;
  }
  return NULL;
}

/* The store's lock is held for the whole replacement: another thread of
 * the store lists the directory all along and never sees the temporary file. */
static void replace_is_atomic_for_other_threads_of_the_store(void **state) {
  (void)state;
  bs_store *st = bs_test_open_sim("apfs", 1);
  lister l = {.st = st};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, list_until_stopped, &l), 0);
  int rounds = bs_test_iterations(100);
  for (int i = 0; i < rounds; i++)
    assert_bs_ok(replace_with(st, "/f", 0644, 3000 + (size_t)i, (uint8_t)i));
  l.stop = 1;
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(l.errors, 0);
  assert_int_equal(l.saw_tmp, 0);
  bs_test_assert_put(st, "/f", 3000 + (size_t)rounds - 1, (uint8_t)(rounds - 1));
  bs_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(full_volume_fails_replace_and_write_without_a_trace, remove_filler),
    cmocka_unit_test(replace_keeps_mode_and_refuses_what_is_not_a_file),
    cmocka_unit_test(replace_fault_at_each_step_keeps_the_old_file_in_the_sim),
    cmocka_unit_test(replace_fault_at_each_step_keeps_the_old_file_on_btrfs),
    cmocka_unit_test(replace_says_which_temporary_file_a_failed_cleanup_left),
    cmocka_unit_test(replace_is_atomic_for_other_threads_of_the_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
