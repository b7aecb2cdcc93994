/* Overlay branches given bad conditions (issue 17, "bad input"):
 * - a copy-up that meets a full volume (a small sim volume; a small real
 *   tmpfs volume, where the copy-up is a byte copy): NO_SPACE with a
 *   message, the lower untouched, the branch consistent, nothing left in
 *   the work directory, and the same change works once there is room;
 * - a lower that disappears behind the library's back (the snapshot's tree
 *   moved away on a real btrfs store): clear errors, no crash, and all is
 *   well once it is back.
 * (A snapshot still in use by an overlay branch is BUSY: test_overlay;
 * the policy refusals: test_overlay too.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"

#define B "/.bs/branches/b"

static void fill(bs_store *st, const char *path) {
  static uint8_t chunk[64 * 1024];
  memset(chunk, 0xf1, sizeof(chunk));
  assert_bs_ok(bs_create(st, path, 0644));
  uint64_t off = 0;
  int rc;
  while ((rc = bs_write(st, path, off, chunk, sizeof(chunk))) == 0)
    off += sizeof(chunk);
  assert_bs_err(rc, BS_ENO_SPACE);
  /* The last bytes of room, a block at a time. */
  while ((rc = bs_write(st, path, off, chunk, 4096)) == 0)
    off += 4096;
  assert_bs_err(rc, BS_ENO_SPACE);
  assert_bs_ok(bs_sync(st, path));
}

static void assert_content(bs_store *st, const char *path, size_t len, uint8_t byte0, uint8_t rest) {
  uint8_t *buf = malloc(len + 1);
  assert_non_null(buf);
  size_t got = 0;
  assert_bs_ok(bs_read(st, path, 0, buf, len + 1, &got));
  assert_int_equal(got, len);
  assert_int_equal(buf[0], byte0);
  for (size_t i = 1; i < len; i++)
    if (buf[i] != rest)
      fail_msg("%s: byte %zu is %u, expected %u", path, i, buf[i], rest);
  free(buf);
}

/* The work directory of branch b (real stores) is empty. */
static void assert_work_empty(bs_store *st, const bs_target *t) {
  if (t->kind != BS_TARGET_REAL)
    return;
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, "b", &ly));
  char host[4096];
  bs_test_host_path(t, ly.work, host);
  assert_int_equal(bs_test_host_entries(host), 0);
}

#define LOWER_LEN (256 * 1024)

static void no_space_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  uint8_t *buf = malloc(LOWER_LEN);
  assert_non_null(buf);
  memset(buf, 0x4c, LOWER_LEN);
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_create(st, "/d/x", 0644));
  assert_bs_ok(bs_write(st, "/d/x", 0, buf, LOWER_LEN));
  free(buf);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
  fill(st, "/fill");
  /* The write needs a copy-up (a byte copy on tmpfs, a reflink then a
   * block of its own on the sim): no room. */
  int rc = bs_write(st, B "/d/x", 0, "W", 1);
  assert_bs_err(rc, BS_ENO_SPACE);
  const char *msg = bs_last_message(st);
  assert_true(msg && strstr(msg, B "/d/x"));
  /* The message says why (a copy-up's cleanup once wiped it: "copy-up: "). */
  size_t ml = strlen(msg);
  assert_true(ml > 2 && strcmp(msg + ml - 2, ": ") != 0);
  printf("    %s: %s\n", t->label, msg);
  /* The lower is untouched, the branch shows it whole. */
  assert_content(st, "/.bs/snapshots/s/d/x", LOWER_LEN, 0x4c, 0x4c);
  assert_content(st, B "/d/x", LOWER_LEN, 0x4c, 0x4c);
  char l[BS_TEST_LISTING_MAX];
  bs_test_listing(st, B "/d", l);
  assert_string_equal(l, "x;");
  assert_work_empty(st, t);
  bs_test_check(st, t);
  /* With room again the same write works. */
  assert_bs_ok(bs_unlink(st, "/fill"));
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_ok(bs_write(st, B "/d/x", 0, "W", 1));
  assert_content(st, B "/d/x", LOWER_LEN, 'W', 0x4c);
  assert_content(st, "/.bs/snapshots/s/d/x", LOWER_LEN, 0x4c, 0x4c);
  assert_work_empty(st, t);
  bs_test_check(st, t);
}

static bool small_volume(const bs_target *t) {
  if (t->kind == BS_TARGET_SIM)
    return bs_test_snapshots_work(t);
  return strcmp(t->profile, "tmpfs") == 0 && bs_test_snapshots_work(t);
}

static void copy_up_on_a_full_volume_is_no_space_and_leaves_the_lower(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL), small_volume, no_space_body, NULL,
                          bs_test_seed());
}

/* ---- a lower that disappears ---- */

static void gone_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  assert_bs_ok(bs_create(st, "/d/x", 0644));
  assert_bs_ok(bs_write(st, "/d/x", 0, "lower", 5));
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, "b", &ly));
  char lower[4096], aside[4200];
  bs_test_host_path(t, ly.lower, lower);
  snprintf(aside, sizeof(aside), "%s.gone", lower);
  if (rename(lower, aside) != 0)
    fail_msg("rename %s: %s", lower, strerror(errno));
  /* Every call answers, with an error or without the lower's names. */
  size_t got = 0;
  char buf[16];
  int rc = bs_read(st, B "/d/x", 0, buf, sizeof(buf), &got);
  printf("    %s: read with the lower gone: %s (%s)\n", t->label, bs_err_name(rc), bs_last_message(st));
  assert_int_not_equal(rc, 0);
  rc = bs_write(st, B "/d/x", 0, "W", 1);
  printf("    %s: write with the lower gone: %s (%s)\n", t->label, bs_err_name(rc), bs_last_message(st));
  assert_int_not_equal(rc, 0);
  rc = bs_unlink(st, B "/d/x");
  printf("    %s: unlink with the lower gone: %s (%s)\n", t->label, bs_err_name(rc), bs_last_message(st));
  assert_int_not_equal(rc, 0);
  char l[BS_TEST_LISTING_MAX];
  bs_stat_info s;
  rc = bs_stat(st, B, &s);
  printf("    %s: stat of the root with the lower gone: %s\n", t->label, bs_err_name(rc));
  /* The branch's own files still work. */
  assert_bs_ok(bs_create(st, B "/own", 0644));
  assert_bs_ok(bs_write(st, B "/own", 0, "mine", 4));
  /* Back again: as before, nothing changed below. */
  if (rename(aside, lower) != 0)
    fail_msg("rename %s: %s", aside, strerror(errno));
  assert_bs_ok(bs_read(st, B "/d/x", 0, buf, sizeof(buf), &got));
  assert_int_equal(got, 5);
  assert_memory_equal(buf, "lower", 5);
  bs_test_listing(st, B, l);
  assert_string_equal(l, "d/;own;");
  assert_bs_ok(bs_write(st, B "/d/x", 0, "W", 1));
  bs_test_check(st, t);
}

static bool btrfs(const bs_target *t) { return strcmp(t->profile, "btrfs") == 0 && bs_test_snapshots_work(t); }

static void a_lower_that_disappears_gives_errors_not_a_crash(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), btrfs, gone_body, NULL, bs_test_seed());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(copy_up_on_a_full_volume_is_no_space_and_leaves_the_lower),
    cmocka_unit_test(a_lower_that_disappears_gives_errors_not_a_crash),
  };
  return cmocka_run_group_tests_name("overlay_bad", tests, NULL, NULL);
}
