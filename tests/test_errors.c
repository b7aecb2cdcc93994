/* The error table: names, messages, wire numbers and errno mapping are
 * generated from one X-macro and must agree with DESIGN §2. */
#include <errno.h>
#include <string.h>

#include "tests/support/bs_test.h"

/* DESIGN §2, written out independently of the X-macro. */
static const struct {
  int code;
  uint16_t wire;
  const char *name;
} design[] = {
  {BS_OK, 0, "OK"},
  {BS_EUNSUPPORTED, 1, "UNSUPPORTED"},
  {BS_ENOT_FOUND, 2, "NOT_FOUND"},
  {BS_EEXISTS, 3, "EXISTS"},
  {BS_EBUSY, 4, "BUSY"},
  {BS_ENO_SPACE, 5, "NO_SPACE"},
  {BS_EINVALID, 6, "INVALID"},
  {BS_ENAME_TOO_LONG, 7, "NAME_TOO_LONG"},
  {BS_EPERMISSION, 8, "PERMISSION"},
  {BS_ECROSS_DEVICE, 9, "CROSS_DEVICE"},
  {BS_EIO, 10, "IO"},
  {BS_ETOOL_FAILED, 11, "TOOL_FAILED"},
  {BS_EPARSE, 12, "PARSE"},
  {BS_ENO_MEMORY, 13, "NO_MEMORY"},
  {BS_ECORRUPT, 14, "CORRUPT"},
};
#define N_DESIGN (sizeof(design) / sizeof(design[0]))

static void error_wire_numbers_match_design(void **state) {
  (void)state;
  assert_int_equal(N_DESIGN, BS_ERROR_COUNT);
  for (size_t i = 0; i < N_DESIGN; i++) {
    assert_int_equal(bs_err_wire(design[i].code), design[i].wire);
    assert_int_equal(bs_err_from_wire(design[i].wire), design[i].code);
    assert_string_equal(bs_err_name(design[i].code), design[i].name);
  }
}

static void error_codes_are_negative_and_distinct(void **state) {
  (void)state;
  for (size_t i = 1; i < N_DESIGN; i++) {
    assert_true(design[i].code < 0);
    for (size_t j = 0; j < i; j++)
      assert_int_not_equal(design[i].code, design[j].code);
  }
}

static void error_messages_are_nonempty_and_distinct(void **state) {
  (void)state;
  for (size_t i = 0; i < N_DESIGN; i++) {
    const char *m = bs_strerror(design[i].code);
    assert_true(strlen(m) > 3);
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(m, bs_strerror(design[j].code));
  }
}

static void error_unknown_values_are_rejected(void **state) {
  (void)state;
  int bogus[] = {1, 42, -15, -1000, -BS_ERROR_COUNT};
  for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
    assert_string_equal(bs_err_name(bogus[i]), "UNKNOWN");
    assert_string_equal(bs_strerror(bogus[i]), "unknown error");
    assert_int_equal(bs_err_wire(bogus[i]), 0xffff);
  }
  assert_int_equal(bs_err_from_wire(15), BS_EINVALID);
  assert_int_equal(bs_err_from_wire(0xffff), BS_EINVALID);
}

static void errno_mapping_follows_design_table(void **state) {
  (void)state;
  static const struct {
    int eno, code;
  } map[] = {
    {0, BS_OK},
    {ENOTSUP, BS_EUNSUPPORTED},     {EOPNOTSUPP, BS_EUNSUPPORTED}, {ENOTTY, BS_EUNSUPPORTED},
    {ENOENT, BS_ENOT_FOUND},        {ENODATA, BS_ENOT_FOUND},
    {EEXIST, BS_EEXISTS},           {ENOTEMPTY, BS_EEXISTS},
    {EBUSY, BS_EBUSY},
    {ENOSPC, BS_ENO_SPACE},         {EDQUOT, BS_ENO_SPACE},
    {EINVAL, BS_EINVALID},          {E2BIG, BS_EINVALID},
    {ENAMETOOLONG, BS_ENAME_TOO_LONG},
    {EPERM, BS_EPERMISSION},        {EACCES, BS_EPERMISSION},      {EROFS, BS_EPERMISSION},
    {EXDEV, BS_ECROSS_DEVICE},
    {EIO, BS_EIO},                  {EPIPE, BS_EIO},
    {ENOMEM, BS_ENO_MEMORY},
    {EUCLEAN, BS_ECORRUPT},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    if (bs_err_from_errno(map[i].eno) != map[i].code)
      fail_msg("errno %d (%s) maps to %s, expected %s", map[i].eno, strerror(map[i].eno),
               bs_err_name(bs_err_from_errno(map[i].eno)), bs_err_name(map[i].code));
  }
}

static void errno_round_trip_of_representatives(void **state) {
  (void)state;
  for (size_t i = 0; i < N_DESIGN; i++)
    assert_int_equal(bs_err_from_errno(bs_err_to_errno(design[i].code)), design[i].code);
}

static void fs_type_names_round_trip(void **state) {
  (void)state;
  const char *names[] = {"other", "apfs", "hfs", "btrfs", "xfs", "ext4", "tmpfs"};
  for (int t = 0; t < BS_FS_TYPE_COUNT; t++) {
    assert_string_equal(bs_fs_type_name(t), names[t]);
    if (t > 0)
      assert_int_equal(bs_fs_type_from_name(names[t]), t);
  }
  assert_int_equal(bs_fs_type_from_name("zfs"), BS_FS_OTHER);
  assert_int_equal(bs_fs_type_from_name(NULL), BS_FS_OTHER);
  assert_string_equal(bs_fs_type_name(99), "other");
}

static void caps_table_matches_design(void **state) {
  (void)state;
  /* fs_type, snapshots, reflink, xattrs, case_sensitive: DESIGN §4. */
  static const bool rows[][4] = {
    [BS_FS_APFS] = {true, true, true, false},   [BS_FS_HFS] = {false, false, true, false},
    [BS_FS_BTRFS] = {true, true, true, true},   [BS_FS_XFS] = {false, true, true, true},
    [BS_FS_EXT4] = {false, false, true, true},  [BS_FS_TMPFS] = {false, false, true, true},
  };
  for (int t = 1; t < BS_FS_TYPE_COUNT; t++) {
    bs_caps c;
    assert_bs_ok(bs_caps_for_type(&c, (bs_fs_type)t));
    assert_int_equal(c.schema_version, 1);
    assert_int_equal(c.fs_type, t);
    assert_int_equal(c.native_snapshots, rows[t][0]);
    assert_int_equal(c.native_reflink, rows[t][1]);
    assert_int_equal(c.xattrs, rows[t][2]);
    assert_int_equal(c.case_sensitive, rows[t][3]);
    assert_int_equal(c.max_name_len, 255);
    assert_string_equal(c.fs_type_name, bs_fs_type_name(t));
  }
  bs_caps c;
  assert_bs_err(bs_caps_for_type(&c, (bs_fs_type)7), BS_EINVALID);
  assert_bs_err(bs_caps_for_type(NULL, BS_FS_APFS), BS_EINVALID);
}

static void open_unknown_backend_is_NOT_FOUND(void **state) {
  (void)state;
  bs_store *st = (bs_store *)0x1;
  assert_bs_err(bs_open(&st, "zfs", NULL), BS_ENOT_FOUND);
  assert_null(st);
  assert_bs_err(bs_open(&st, NULL, NULL), BS_ENOT_FOUND);
  assert_bs_err(bs_open(NULL, "sim", NULL), BS_EINVALID);
  assert_null(bs_backend_find("nosuch:sim"));
  assert_non_null(bs_backend_find("sim"));
}

static void registry_rejects_bad_and_duplicate_tables(void **state) {
  (void)state;
  static const bs_backend_ops no_open = {.version = 1, .name = "broken"};
  assert_bs_err(bs_backend_register(&no_open), BS_EINVALID);
  assert_bs_err(bs_backend_register(NULL), BS_EINVALID);
  assert_bs_err(bs_backend_register(bs_backend_find("sim")), BS_EEXISTS);
}

static void store_rejects_relative_paths_with_message(void **state) {
  (void)state;
  bs_store *st = bs_test_open_sim("apfs", 1);
  assert_bs_err(bs_create(st, "relative", 0644), BS_EINVALID);
  assert_non_null(strstr(bs_last_message(st), "absolute"));
  assert_bs_err(bs_create(st, NULL, 0644), BS_EINVALID);
  assert_bs_err(bs_reflink(st, "/a", "b"), BS_EINVALID);
  assert_bs_ok(bs_create(st, "/ok", 0644));
  assert_string_equal(bs_last_message(st), "");
  bs_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(error_wire_numbers_match_design),
    cmocka_unit_test(error_codes_are_negative_and_distinct),
    cmocka_unit_test(error_messages_are_nonempty_and_distinct),
    cmocka_unit_test(error_unknown_values_are_rejected),
    cmocka_unit_test(errno_mapping_follows_design_table),
    cmocka_unit_test(errno_round_trip_of_representatives),
    cmocka_unit_test(fs_type_names_round_trip),
    cmocka_unit_test(caps_table_matches_design),
    cmocka_unit_test(open_unknown_backend_is_NOT_FOUND),
    cmocka_unit_test(registry_rejects_bad_and_duplicate_tables),
    cmocka_unit_test(store_rejects_relative_paths_with_message),
  };
  return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
