/* Control characters in snapshot and branch names (docs/names.md, "Control
 * characters"): a new name with one is INVALID, in the library and in
 * bslab; a name a store already holds (a registry or an image written
 * before that rule) is listed as one escaped row, reached and deleted; and
 * no text bslab prints carries the raw character to the terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/image.h"
#include "src/snapreg.h"
#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

/* Names with one control character each, and how bslab shows them. */
static const struct {
  const char *name, *shown;
} controls[] = {
    {"line\nbreak", "line\\x0abreak"},     {"tab\there", "tab\\x09here"},
    {"esc\x1b[31mred", "esc\\x1b[31mred"}, {"del\x7f" "ete", "del\\x7fete"},
    {"nel\xc2\x85next", "nel\\xc2\\x85next"}, {"cr\rreturn", "cr\\x0dreturn"},
    {"csi\xc2\x9b" "c1", "csi\\xc2\\x9bc1"},
};
#define N_CONTROLS (sizeof(controls) / sizeof(controls[0]))
/* The held-name tests take snapshot controls[i] with branch controls[i + 1]
 * for these i: every kind of control character once, in fewer bslab runs. */
static const int held[] = {0, 2, 4};
#define N_HELD (sizeof(held) / sizeof(held[0]))

/* True when @s holds a C0 or C1 control character or DEL (the bytes of
 * U+0080..U+009F are C2 80..C2 9F). */
static bool has_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p < 0x20 && *p != '\n') || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
      return true;
  return false;
}

/* @text has no control character but the newline at the end of each line,
 * and exactly @lines lines. */
static void expect_safe_lines(const char *text, int lines, const char *what) {
  if (has_control(text))
    fail_msg("%s: a raw control character reached the output:\n%s", what, text);
  int n = 0;
  for (const char *p = text; *p; p++)
    n += *p == '\n';
  if (n != lines)
    fail_msg("%s: %d lines, expected %d:\n%s", what, n, lines, text);
}

static void library_refuses_control_characters_in_new_names(void **state) {
  (void)state;
  bs_store *st = bs_test_open_sim("btrfs", 1);
  for (size_t i = 0; i < N_CONTROLS; i++) {
    assert_bs_err(bs_name_validate(controls[i].name), BS_EINVALID);
    assert_bs_err(bs_snapshot_create(st, controls[i].name, NULL), BS_EINVALID);
  }
  bs_snapshot_info s;
  assert_bs_ok(bs_snapshot_create(st, "base", &s));
  for (size_t i = 0; i < N_CONTROLS; i++)
    assert_bs_err(bs_branch_create(st, s.id, controls[i].name), BS_EINVALID);
  /* The length rule still comes first. */
  char long_name[300];
  memset(long_name, '\n', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';
  assert_bs_err(bs_name_validate(long_name), BS_ENAME_TOO_LONG);
  bs_close(st);
}

static void text_escape_leaves_no_control_character(void **state) {
  (void)state;
  char buf[64];
  for (size_t i = 0; i < N_CONTROLS; i++) {
    size_t n = bs_text_escape(buf, sizeof(buf), controls[i].name);
    assert_string_equal(buf, controls[i].shown);
    assert_int_equal(n, strlen(controls[i].shown));
  }
  /* Valid UTF-8 without controls is copied; a stray byte is escaped. */
  assert_int_equal(bs_text_escape(buf, sizeof(buf), "caf\xc3\xa9 \\x0a"), 10);
  assert_string_equal(buf, "caf\xc3\xa9 \\x0a");
  bs_text_escape(buf, sizeof(buf), "bad\x9b\xff");
  assert_string_equal(buf, "bad\\x9b\\xff");
  /* Cut before an escape that does not fit, never inside one. */
  assert_int_equal(bs_text_escape(buf, 6, "ab\ncd"), 8);
  assert_string_equal(buf, "ab");
  assert_int_equal(bs_text_escape(buf, 7, "ab\ncd"), 8);
  assert_string_equal(buf, "ab\\x0a");
}

/* A library message that quotes a name is one safe line. */
static void library_messages_escape_the_names_they_quote(void **state) {
  (void)state;
  bs_store *st = bs_test_open_sim("btrfs", 1);
  bs_snapshot_info s;
  assert_bs_err(bs_snapshot_lookup(st, "x\n\x1b[2Jy", &s), BS_ENOT_FOUND);
  const char *m = bs_last_message(st);
  if (has_control(m) || strchr(m, '\n') || !strstr(m, "x\\x0a\\x1b[2Jy"))
    fail_msg("message not escaped: %s", m);
  bs_close(st);
}

static void cli_refuses_control_characters_in_new_names(void **state) {
  (void)state;
  char img[256];
  snprintf(img, sizeof(img), "%s/new.img", bs_cli_tmp());
  EXPECT(0, NULL, NULL, "--image", img, "snapshot", "create", "base");
  for (size_t i = 0; i < N_CONTROLS; i++) {
    for (int branch = 0; branch < 2; branch++) {
      bs_cli_run r;
      if (branch)
        BSLAB(&r, "--image", img, "branch", "create", "base", controls[i].name);
      else
        BSLAB(&r, "--image", img, "snapshot", "create", controls[i].name);
      bs_cli_expect_status(&r, 1, controls[i].shown);
      bs_cli_expect_contains(r.err, "(INVALID)", controls[i].shown);
      bs_cli_expect_contains(r.err, "may not hold a control character", controls[i].shown);
      bs_cli_expect_contains(r.err, controls[i].shown, "the name, escaped");
      expect_safe_lines(r.err, 1, controls[i].shown);
      bs_cli_free(&r);
    }
  }
  bs_cli_run r;
  BSLAB(&r, "--image", img, "snapshot", "list");
  bs_cli_expect_status(&r, 0, "snapshot list");
  expect_safe_lines(r.out, 2, "snapshot list after refused creates"); /* header + base */
  bs_cli_free(&r);
}

/* What bslab shows of a store that holds snapshot @snap with branch
 * @branch (both with control characters), through the volume options
 * @vol (NULL-terminated, at most 6). */
static void expect_held_names_listed_and_reachable(const char *const *vol, int i) {
  const char *snap = controls[i].name, *branch = controls[(i + 1) % N_CONTROLS].name;
  const char *snap_shown = controls[i].shown, *branch_shown = controls[(i + 1) % N_CONTROLS].shown;
#define VOL vol[0], vol[1], vol[2], vol[3], vol[4], vol[5]
  bs_cli_run r;
  BSLAB(&r, "snapshot", "list", VOL);
  bs_cli_expect_status(&r, 0, "snapshot list");
  expect_safe_lines(r.out, 2, "snapshot list of a held name"); /* the header and one row */
  bs_cli_expect_contains(r.out, snap_shown, "snapshot list");
  bs_cli_free(&r);

  /* JSON carries the exact bytes, escaped as JSON does. */
  BSLAB(&r, "snapshot", "list", "--format", "json", VOL);
  bs_cli_expect_status(&r, 0, "snapshot list --format json");
  expect_safe_lines(r.out, 1, "snapshot list --format json");
  bs_cli_free(&r);

  /* Named by the user, the held names are reached: BUSY quotes the name. */
  BSLAB(&r, "snapshot", "delete", snap, VOL);
  bs_cli_expect_status(&r, 1, "snapshot delete of a snapshot with a branch");
  bs_cli_expect_contains(r.err, "(BUSY)", "snapshot delete");
  bs_cli_expect_contains(r.err, snap_shown, "snapshot delete");
  expect_safe_lines(r.err, 1, "BUSY message");
  bs_cli_free(&r);

  BSLAB(&r, "branch", "delete", snap, branch, VOL);
  bs_cli_expect_status(&r, 0, "branch delete of a held name");
  bs_cli_expect_contains(r.out, branch_shown, "branch delete");
  expect_safe_lines(r.out, 1, "branch delete");
  bs_cli_free(&r);

  BSLAB(&r, "snapshot", "delete", snap, VOL);
  bs_cli_expect_status(&r, 0, "snapshot delete of a held name");
  bs_cli_expect_contains(r.out, snap_shown, "snapshot delete");
  expect_safe_lines(r.out, 1, "snapshot delete");
  bs_cli_free(&r);
#undef VOL
}

/* Find @from (a placeholder name) in @buf and overwrite it with @to, of the
 * same length. */
static void patch_name(uint8_t *buf, size_t len, const char *from, const char *to) {
  size_t n = strlen(from);
  assert_int_equal(strlen(to), n);
  uint8_t *p = memmem(buf, len, from, n);
  if (!p)
    fail_msg("placeholder %s not found", from);
  memcpy(p, to, n);
  assert_null(memmem(p + n, len - (size_t)(p + n - buf), from, n)); /* only one */
}

/* A placeholder of the length of @name: as many 'Q's. */
static void placeholder(char *out, const char *name, char fill) {
  size_t n = strlen(name);
  memset(out, fill, n);
  out[n] = '\0';
}

/* The registry bytes a sim image holds (version 3: "u32 length, bytes"
 * just before the image's trailer) get their checksum redone after a patch. */
static void resum_registry(uint8_t *buf, size_t len) {
  uint8_t *reg = memmem(buf, len, "BSREG001", 8);
  assert_non_null(reg);
  size_t rlen = (size_t)reg[-4] | (size_t)reg[-3] << 8 | (size_t)reg[-2] << 16 | (size_t)reg[-1] << 24;
  assert_int_equal((size_t)(reg - buf) + rlen, len - 8);
  uint64_t sum = bs__sim_fnv1a(reg, rlen - 8);
  for (int k = 0; k < 8; k++)
    reg[rlen - 8 + k] = (uint8_t)(sum >> (8 * k));
}

/* A sim image saved before the rule: its names are patched in through the
 * image and registry codecs (the checksums redone), as an older bslab would
 * have written. */
static void cli_lists_held_names_of_a_sim_image_as_one_escaped_row(void **state) {
  (void)state;
  for (size_t h = 0; h < N_HELD; h++) {
    int i = held[h];
    const char *snap = controls[i].name, *branch = controls[(i + 1) % N_CONTROLS].name;
    char img[256], ps[64], pb[64];
    snprintf(img, sizeof(img), "%s/held-%d.img", bs_cli_tmp(), i);
    placeholder(ps, snap, 'Q');
    placeholder(pb, branch, 'Z');
    EXPECT(0, NULL, NULL, "--image", img, "snapshot", "create", ps);
    EXPECT(0, NULL, NULL, "--image", img, "branch", "create", ps, pb);
    size_t len = 0;
    uint8_t *buf = (uint8_t *)bs_cli_slurp(img, &len);
    patch_name(buf, len, ps, snap);
    patch_name(buf, len, pb, branch);
    resum_registry(buf, len);
    uint64_t sum = bs__sim_fnv1a(buf, len - 8);
    for (int k = 0; k < 8; k++)
      buf[len - 8 + k] = (uint8_t)(sum >> (8 * k));
    FILE *f = fopen(img, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(buf);
    const char *vol[] = {"--image", img, NULL, NULL, NULL, NULL};
    expect_held_names_listed_and_reachable(vol, i);
  }
}

/* A real store whose registry was written before the rule: the names are
 * put in through the registry codec (src/snapreg.c). */
static void cli_lists_held_names_of_a_registry_as_one_escaped_row(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  const bs_vol *v = bs_test_volume("tmpfs");
  for (size_t h = 0; h < N_HELD; h++) {
    int i = held[h];
    char store[4200], reg[4300], ps[64], pb[64];
    snprintf(store, sizeof(store), "%s/held-%d-%d", v->mnt, (int)getpid(), i);
    assert_int_equal(mkdir(store, 0755), 0);
    const char *vol[] = {"--backend", "real", "--root", store, "--copy-snapshots", NULL};
    placeholder(ps, controls[i].name, 'Q');
    placeholder(pb, controls[(i + 1) % N_CONTROLS].name, 'Z');
    EXPECT(0, NULL, NULL, "snapshot", "create", ps, vol[0], vol[1], vol[2], vol[3], vol[4]);
    EXPECT(0, NULL, NULL, "branch", "create", ps, pb, vol[0], vol[1], vol[2], vol[3], vol[4]);

    snprintf(reg, sizeof(reg), "%s/.bs/registry", store);
    size_t len = 0;
    uint8_t *buf = (uint8_t *)bs_cli_slurp(reg, &len);
    bs__snapreg r;
    assert_bs_ok(bs__snapreg_decode(&r, buf, len));
    free(buf);
    assert_int_equal(r.nsnaps, 1);
    assert_int_equal(r.nbranches, 1);
    strcpy(r.snaps[0].name, controls[i].name);
    strcpy(r.branches[0].name, controls[(i + 1) % N_CONTROLS].name);
    assert_bs_ok(bs__snapreg_encode(&r, &buf, &len));
    bs__snapreg_free(&r);
    FILE *f = fopen(reg, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(buf);
    expect_held_names_listed_and_reachable(vol, i);
  }
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("names");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(library_refuses_control_characters_in_new_names),
      cmocka_unit_test(text_escape_leaves_no_control_character),
      cmocka_unit_test(library_messages_escape_the_names_they_quote),
      cmocka_unit_test(cli_refuses_control_characters_in_new_names),
      cmocka_unit_test(cli_lists_held_names_of_a_sim_image_as_one_escaped_row),
      cmocka_unit_test(cli_lists_held_names_of_a_registry_as_one_escaped_row),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
