/* Snapshot and branch name validation (docs/names.md). */
#include <string.h>

#include "tests/support/bs_test.h"

static void names_valid_set_is_accepted(void **state) {
  (void)state;
  const char *ok[] = {
    "a", "nightly", "with spaces", " leading and trailing ", "...", ".hidden", "a.b",
    "caf\xc3\xa9",                 /* é, 2-byte */
    "\xe6\x97\xa5\xe6\x9c\xac",    /* 日本, 3-byte */
    "\xf0\x9f\x93\xb8 snap",       /* 📸, 4-byte */
    "-dash", "--option-looking", "$(reboot)", "; reboot", "name'with\"quotes", "back\\slash",
    "\xc2\xa0nbsp", /* U+00A0, just past the C1 controls */
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    if (bs_name_validate(ok[i]) != 0)
      fail_msg("\"%s\" rejected with %s", ok[i], bs_err_name(bs_name_validate(ok[i])));
}

static void names_invalid_set_is_INVALID(void **state) {
  (void)state;
  const char *bad[] = {
    "", ".", "..", "/", "a/b", "/leading", "trailing/",
    "\xc3",             /* truncated 2-byte */
    "\xc0\xaf",         /* overlong '/' */
    "\xe0\x80\xaf",     /* overlong 3-byte */
    "\xed\xa0\x80",     /* surrogate U+D800 */
    "\xf4\x90\x80\x80", /* above U+10FFFF */
    "\xff", "\x80", "ok\xfe",
    "tab\there", "new\nline", "\x1b[31m", "del\x7f", "\x01",  /* C0 controls and DEL */
    "nel\xc2\x85", "\xc2\x80", "\xc2\x9f", /* C1 controls U+0085, U+0080, U+009F */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (bs_name_validate(bad[i]) != BS_EINVALID)
      fail_msg("bad name #%zu accepted or misclassified: %s", i, bs_err_name(bs_name_validate(bad[i])));
  assert_int_equal(bs_name_validate(NULL), BS_EINVALID);
}

static void names_length_limit_is_255_bytes(void **state) {
  (void)state;
  char name[300];
  memset(name, 'x', sizeof(name));
  name[255] = '\0';
  assert_bs_ok(bs_name_validate(name));
  name[255] = 'x';
  name[256] = '\0';
  assert_bs_err(bs_name_validate(name), BS_ENAME_TOO_LONG);
  /* 85 three-byte characters are exactly 255 bytes; one more is 258. */
  char *p = name;
  for (int i = 0; i < 85; i++, p += 3)
    memcpy(p, "\xe2\x82\xac", 3);
  *p = '\0';
  assert_int_equal(strlen(name), 255);
  assert_bs_ok(bs_name_validate(name));
  memcpy(p, "\xe2\x82\xac", 4);
  assert_bs_err(bs_name_validate(name), BS_ENAME_TOO_LONG);
}

static void names_never_produce_paths_outside_their_tree(void **state) {
  (void)state;
  char buf[512];
  assert_bs_ok(bs_snapshot_path(buf, sizeof(buf), "nightly 1"));
  assert_string_equal(buf, "/.bs/snapshots/nightly 1");
  assert_bs_ok(bs_branch_path(buf, sizeof(buf), "agent-7"));
  assert_string_equal(buf, "/.bs/branches/agent-7");
  assert_bs_err(bs_snapshot_path(buf, sizeof(buf), ".."), BS_EINVALID);
  assert_bs_err(bs_branch_path(buf, sizeof(buf), "../../etc"), BS_EINVALID);
  assert_bs_err(bs_snapshot_path(buf, 10, "fits-not"), BS_ENAME_TOO_LONG);
}

/* A name with a control character is refused as a new name, but a store may
 * hold one from before that rule: its tree still has a path. */
static void names_held_with_control_characters_still_have_paths(void **state) {
  (void)state;
  char buf[64];
  assert_bs_err(bs_name_validate("old\nname"), BS_EINVALID);
  assert_bs_ok(bs_snapshot_path(buf, sizeof(buf), "old\nname"));
  assert_string_equal(buf, "/.bs/snapshots/old\nname");
  assert_bs_ok(bs_branch_path(buf, sizeof(buf), "esc\x1b[0m"));
  assert_string_equal(buf, "/.bs/branches/esc\x1b[0m");
  assert_bs_err(bs_branch_path(buf, sizeof(buf), "a/\n"), BS_EINVALID); /* the other rules hold */
}

/* A buffer too small is refused untouched: a truncated "/.bs/snapshots/a"
 * would name another snapshot (found by fuzz/names_fuzzer.c). */
static void names_path_too_small_writes_nothing(void **state) {
  (void)state;
  char buf[32];
  const char *want = "/.bs/snapshots/ab";
  memset(buf, 'Z', sizeof(buf));
  assert_bs_err(bs_snapshot_path(buf, strlen(want), "ab"), BS_ENAME_TOO_LONG);
  for (size_t i = 0; i < sizeof(buf); i++)
    assert_int_equal(buf[i], 'Z');
  assert_bs_ok(bs_snapshot_path(buf, strlen(want) + 1, "ab"));
  assert_string_equal(buf, want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(names_valid_set_is_accepted),
    cmocka_unit_test(names_invalid_set_is_INVALID),
    cmocka_unit_test(names_length_limit_is_255_bytes),
    cmocka_unit_test(names_never_produce_paths_outside_their_tree),
    cmocka_unit_test(names_path_too_small_writes_nothing),
    cmocka_unit_test(names_held_with_control_characters_still_have_paths),
  };
  return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
