/* The diskutil parsers (real/parse_diskutil*.c) on recorded outputs
 * (tests/data/diskutil/, see its README.md) and on malformed ones: what they
 * read, PARSE for garbage, TOOL_FAILED for a failing diskutil, the golden
 * ErrorResponse of both, and the writers the fake uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/wire.h"
#include "real/parse_diskutil.h"
#include "tests/support/bs_test.h"

typedef int (*list_parser)(const bs__tool_result *, bs__apfs_snap **, size_t *, char *, size_t);

/* A tool result of exit status @status with recorded stdout @out_file and
 * stderr @err_file (either may be NULL: no output). */
static bs__tool_result recorded(int status, const char *out_file, const char *err_file) {
  bs__tool_result r = {.status = status};
  char name[128];
  if (out_file) {
    snprintf(name, sizeof(name), "diskutil/%s", out_file);
    r.out = bs_test_data_load(name, &r.out_len);
  }
  if (err_file) {
    snprintf(name, sizeof(name), "diskutil/%s", err_file);
    r.err = bs_test_data_load(name, &r.err_len);
  }
  return r;
}

static int parse_file(list_parser p, const char *file, bs__apfs_snap **s, size_t *n, char *msg,
                      size_t cap) {
  bs__tool_result r = recorded(0, file, NULL);
  int rc = p(&r, s, n, msg, cap);
  bs__tool_result_free(&r);
  return rc;
}

static void assert_uuid(const bs__apfs_snap *s, const char *want) {
  char got[37];
  bs__uuid_format(s->uuid, got);
  assert_string_equal(got, want);
}

/* The four snapshots of list-several.{txt,plist}; the plist's last name
 * keeps what the text form cannot carry (a leading space, XML escapes). */
static void check_several(const bs__apfs_snap *s, size_t n, const char *last_name) {
  assert_int_equal(n, 4);
  assert_string_equal(s[0].name, "com.apple.TimeMachine.2024-03-07-101112.local");
  assert_uuid(&s[0], "0CB5ACBF-1477-4AF7-B59A-91ADD6D2C6AD");
  assert_int_equal(s[0].xid, 3661898);
  assert_true(s[0].purgeable);
  assert_string_equal(s[1].name, "nightly build 2024 03 08");
  assert_uuid(&s[1], "B3B9E4BD-6235-4915-A953-A72694CAF754"); /* lower case in the text form */
  assert_false(s[1].purgeable);
  assert_string_equal(s[2].name, "Übersicht — snapshot ✓ 日本語");
  assert_int_equal(s[2].xid, 4240901);
  assert_string_equal(s[3].name, last_name);
  assert_uuid(&s[3], "C1D2E3F4-A5B6-4C7D-8E9F-0A1B2C3D4E5F");
  assert_int_equal(s[3].xid, 4240999);
}

static void text_reads_recorded_lists(void **state) {
  (void)state;
  bs__apfs_snap *s = NULL;
  size_t n = 99;
  char msg[256];
  assert_bs_ok(parse_file(bs__diskutil_snapshots_text, "list-none.txt", &s, &n, msg, sizeof(msg)));
  assert_int_equal(n, 0);
  free(s);
  assert_bs_ok(parse_file(bs__diskutil_snapshots_text, "list-one.txt", &s, &n, msg, sizeof(msg)));
  assert_int_equal(n, 1);
  assert_string_equal(s[0].name, "com.backstore.5f1c2e9a0b7d4c3e8a6f1b2c3d4e5f60");
  assert_uuid(&s[0], "7E3F2A1C-5B8D-4C6E-9F01-23456789ABCD");
  assert_int_equal(s[0].xid, 812);
  assert_false(s[0].purgeable);
  free(s);
  assert_bs_ok(parse_file(bs__diskutil_snapshots_text, "list-several.txt", &s, &n, msg, sizeof(msg)));
  check_several(s, n, "com.backstore.0123456789abcdef0123456789abcdef");
  free(s);
  /* CRLF line ends, and Purgeable left out (older diskutil). */
  assert_bs_ok(parse_file(bs__diskutil_snapshots_text, "list-crlf.txt", &s, &n, msg, sizeof(msg)));
  assert_int_equal(n, 1);
  assert_string_equal(s[0].name, "crlf line ends");
  assert_int_equal(s[0].xid, 9);
  assert_false(s[0].purgeable);
  free(s);
}

/* Another program's snapshot whose name we cannot carry ('/', "..", invalid
 * UTF-8, a TAB) is listed nameless and flagged, so that it cannot fail the
 * listing our own snapshots are found in. */
static void foreign_names_are_listed_nameless(void **state) {
  (void)state;
  static const char *const files[] = {"foreign-name-slash.txt", "foreign-name-utf8.txt",
                                      "foreign-name-control.txt", "foreign-name.plist"};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    bool plist = strstr(files[i], ".plist") != NULL;
    if (plist && !bs__diskutil_have_plist())
      continue;
    bs__apfs_snap *s = NULL;
    size_t n = 0;
    char msg[256] = "";
    int rc = parse_file(plist ? bs__diskutil_snapshots_plist : bs__diskutil_snapshots_text, files[i], &s, &n,
                        msg, sizeof(msg));
    if (rc != 0)
      fail_msg("%s: %s (%s)", files[i], bs_err_name(rc), msg);
    assert_int_equal(n, 1);
    assert_true(s[0].foreign_name);
    assert_string_equal(s[0].name, "");
    assert_uuid(&s[0], "7E3F2A1C-5B8D-4C6E-9F01-23456789ABCD");
    /* The writer's nameless entry reads back the same. */
    bs__tool_result w = {.out = plist ? bs__diskutil_snapshots_write_plist(s, n)
                                      : bs__diskutil_snapshots_write_text("disk3s5", s, n)};
    assert_non_null(w.out);
    w.out_len = strlen(w.out);
    bs__apfs_snap *t = NULL;
    size_t m = 0;
    assert_bs_ok(plist ? bs__diskutil_snapshots_plist(&w, &t, &m, msg, sizeof(msg))
                       : bs__diskutil_snapshots_text(&w, &t, &m, msg, sizeof(msg)));
    assert_int_equal(m, 1);
    assert_memory_equal(s, t, sizeof(*s));
    free(t);
    free(w.out);
    free(s);
  }
  /* A name we can carry is not foreign. */
  bs__apfs_snap ok = {0};
  bs__apfs_snap_set_name(&ok, "com.apple.TimeMachine.local", 27);
  assert_false(ok.foreign_name);
  assert_string_equal(ok.name, "com.apple.TimeMachine.local");
}

static void text_rejects_malformed_lists(void **state) {
  (void)state;
  static const struct {
    const char *file, *says;
  } bad[] = {
    {"bad-header.txt", "not a snapshot list (line 1)"},
    {"bad-usage.txt", "not a snapshot list (line 1)"},
    {"bad-count.txt", "2 found, 1 listed"},
    {"bad-uuid.txt", "line 3: not a snapshot UUID"},
    {"bad-xid.txt", "XID is not a number"},
    {"bad-dup-uuid.txt", "same UUID"},
    {"bad-no-name.txt", "without a name"},
    {"bad-purgeable.txt", "Purgeable is not Yes or No"},
    {"bad-twice.txt", "Name given twice"},
    {"bad-trailer.txt", "line 6: unexpected text"},
    {"bad-truncated.txt", "not a snapshot UUID"},
    {"bad-none-then-block.txt", "more snapshots than the header says"},
    {"list-one.plist", "not a snapshot list"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    bs__apfs_snap *s = (bs__apfs_snap *)1;
    size_t n = 99;
    char msg[256] = "";
    int rc = parse_file(bs__diskutil_snapshots_text, bad[i].file, &s, &n, msg, sizeof(msg));
    if (rc != BS_EPARSE || !strstr(msg, bad[i].says))
      fail_msg("%s: %s \"%s\", want PARSE saying \"%s\"", bad[i].file, bs_err_name(rc), msg, bad[i].says);
    assert_null(s); /* no partial result */
    assert_int_equal(n, 0);
  }
  /* Blanks after the header are not part of it. */
  bs__tool_result r = {.out = strdup("\n  \nNo snapshots for disk3s5  \t\n\n")};
  r.out_len = strlen(r.out);
  bs__apfs_snap *s0 = NULL;
  size_t n0 = 5;
  char m0[128];
  assert_bs_ok(bs__diskutil_snapshots_text(&r, &s0, &n0, m0, sizeof(m0)));
  assert_int_equal(n0, 0);
  free(s0);
  bs__tool_result_free(&r);
  /* No output at all. */
  bs__apfs_snap *s = NULL;
  size_t n = 0;
  char msg[128];
  assert_int_equal(bs__diskutil_snapshots_text(&r, &s, &n, msg, sizeof(msg)), BS_EPARSE);
  assert_string_equal(msg, "diskutil apfs listSnapshots: no output");
}

static void plist_reads_recorded_lists(void **state) {
  (void)state;
  if (!bs__diskutil_have_plist())
    skip(); /* built without libplist: scripts/deps.sh installs it */
  bs__apfs_snap *s = NULL;
  size_t n = 99;
  char msg[256];
  assert_bs_ok(parse_file(bs__diskutil_snapshots_plist, "list-none.plist", &s, &n, msg, sizeof(msg)));
  assert_int_equal(n, 0);
  free(s);
  assert_bs_ok(parse_file(bs__diskutil_snapshots_plist, "list-one.plist", &s, &n, msg, sizeof(msg)));
  assert_int_equal(n, 1);
  assert_string_equal(s[0].name, "com.backstore.5f1c2e9a0b7d4c3e8a6f1b2c3d4e5f60");
  assert_uuid(&s[0], "7E3F2A1C-5B8D-4C6E-9F01-23456789ABCD");
  assert_int_equal(s[0].xid, 812);
  free(s);
  assert_bs_ok(parse_file(bs__diskutil_snapshots_plist, "list-several.plist", &s, &n, msg, sizeof(msg)));
  check_several(s, n, " leading space & <angle>");
  free(s);
}

static void plist_rejects_malformed_lists(void **state) {
  (void)state;
  if (!bs__diskutil_have_plist())
    skip();
  static const struct {
    const char *file, *says;
  } bad[] = {
    {"bad-garbage.plist", "not a property list"},
    {"bad-truncated.plist", "not a property list"},
    {"list-several.txt", "not a property list"},
    {"bad-no-array.plist", "no Snapshots array"},
    {"bad-uuid.plist", "snapshot 1: not a snapshot UUID"},
    {"bad-xid-type.plist", "lacks a SnapshotName, SnapshotUUID or SnapshotXID"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    bs__apfs_snap *s = (bs__apfs_snap *)1;
    size_t n = 99;
    char msg[256] = "";
    int rc = parse_file(bs__diskutil_snapshots_plist, bad[i].file, &s, &n, msg, sizeof(msg));
    if (rc != BS_EPARSE || !strstr(msg, bad[i].says))
      fail_msg("%s: %s \"%s\", want PARSE saying \"%s\"", bad[i].file, bs_err_name(rc), msg, bad[i].says);
    assert_null(s);
    assert_int_equal(n, 0);
  }
}

/* A failing diskutil is TOOL_FAILED for every parser, whatever its stdout
 * says, with the status and the first line of stderr in the message. */
static void failing_diskutil_is_TOOL_FAILED(void **state) {
  (void)state;
  const list_parser parsers[2] = {bs__diskutil_snapshots_text, bs__diskutil_snapshots_plist};
  for (int p = 0; p < 2; p++) {
    bs__tool_result r = recorded(1, "list-one.txt", "err-not-apfs.stderr");
    bs__apfs_snap *s = (bs__apfs_snap *)1;
    size_t n = 5;
    char msg[256];
    assert_int_equal(parsers[p](&r, &s, &n, msg, sizeof(msg)), BS_ETOOL_FAILED);
    assert_string_equal(msg, "diskutil exited with status 1: Error: disk3 is not an APFS Volume");
    assert_null(s);
    assert_int_equal(n, 0);
    bs__tool_result_free(&r);
  }
  bs__tool_result r = recorded(1, NULL, "err-delete-not-found.stderr");
  char msg[256];
  assert_int_equal(bs__diskutil_delete(&r, msg, sizeof(msg)), BS_ETOOL_FAILED);
  assert_string_equal(msg, "diskutil exited with status 1: Error deleting APFS Snapshot: The specified "
                           "APFS Snapshot was not found (-69506)");
  bs__tool_result_free(&r);
  /* Killed by a signal; nothing on stderr but something on stdout. */
  r = (bs__tool_result){.status = -9, .out = strdup("\n  half a line  \nmore\n")};
  r.out_len = strlen(r.out);
  assert_int_equal(bs__tool_check("diskutil", &r, msg, sizeof(msg)), BS_ETOOL_FAILED);
  assert_string_equal(msg, "diskutil was killed by signal 9: half a line");
  bs__tool_result_free(&r);
  assert_null(r.out);
}

static void delete_output_is_checked(void **state) {
  (void)state;
  char msg[256];
  bs__tool_result r = recorded(0, "delete-ok.txt", NULL);
  assert_bs_ok(bs__diskutil_delete(&r, msg, sizeof(msg)));
  bs__tool_result_free(&r);
  static const char *const bad[] = {"bad-delete-unfinished.txt", "list-one.txt", "bad-usage.txt"};
  for (size_t i = 0; i < 3; i++) {
    r = recorded(0, bad[i], NULL);
    assert_int_equal(bs__diskutil_delete(&r, msg, sizeof(msg)), BS_EPARSE);
    assert_string_equal(msg, "diskutil apfs deleteSnapshot: output does not say the operation finished");
    bs__tool_result_free(&r);
  }
  r = (bs__tool_result){0};
  assert_int_equal(bs__diskutil_delete(&r, msg, sizeof(msg)), BS_EPARSE);
}

/* The ErrorResponse of each failure is its golden file, byte for byte. */
static void diskutil_errors_match_golden(void **state) {
  (void)state;
  static const struct {
    int status;
    const char *out, *golden;
    int want;
  } cases[] = {
    {1, NULL, "error-tool-failed.ssz", BS_ETOOL_FAILED}, /* what the fault point gives */
    {0, "bad-header.txt", "error-parse.ssz", BS_EPARSE},
    {0, "bad-garbage.plist", "error-parse-plist.ssz", BS_EPARSE}, /* the -plist form */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    bool plist = i == 2;
    if (plist && !bs__diskutil_have_plist())
      continue; /* built without libplist: the -plist form is never asked for */
    bs__tool_result r = recorded(cases[i].status, cases[i].out, NULL);
    bs__apfs_snap *s = NULL;
    size_t n = 0;
    char msg[BS_ERROR_MESSAGE_MAX + 1];
    int rc = plist ? bs__diskutil_snapshots_plist(&r, &s, &n, msg, sizeof(msg))
                   : bs__diskutil_snapshots_text(&r, &s, &n, msg, sizeof(msg));
    bs__tool_result_free(&r);
    assert_int_equal(rc, cases[i].want);
    bs_error_response e;
    assert_bs_ok(bs_error_response_make(&e, rc, 0, msg));
    uint8_t got[512], want[512];
    size_t gn = 0;
    assert_bs_ok(bs_error_response_encode(got, sizeof(got), &gn, &e));
    size_t wn = bs_test_golden_load(cases[i].golden, want, sizeof(want));
    if (gn != wn || memcmp(got, want, gn) != 0)
      fail_msg("%s: ErrorResponse of \"%s\" differs from the golden file", cases[i].golden, msg);
  }
}

/* The writers print what the parsers read back, in both forms. */
static void writers_round_trip(void **state) {
  (void)state;
  bs__apfs_snap *s = NULL, *t = NULL;
  size_t n = 0, m = 0;
  char msg[256];
  assert_bs_ok(parse_file(bs__diskutil_snapshots_text, "list-several.txt", &s, &n, msg, sizeof(msg)));
  for (size_t k = 0; k <= n; k++) { /* every prefix, 0 included */
    bs__tool_result r = {.out = bs__diskutil_snapshots_write_text("disk3s5", s, k)};
    assert_non_null(r.out);
    r.out_len = strlen(r.out);
    assert_bs_ok(bs__diskutil_snapshots_text(&r, &t, &m, msg, sizeof(msg)));
    assert_int_equal(m, k);
    if (k)
      assert_memory_equal(s, t, k * sizeof(*s));
    free(t);
    if (bs__diskutil_have_plist()) {
      free(r.out);
      r.out = bs__diskutil_snapshots_write_plist(s, k);
      r.out_len = strlen(r.out);
      assert_bs_ok(bs__diskutil_snapshots_plist(&r, &t, &m, msg, sizeof(msg)));
      assert_int_equal(m, k);
      if (k)
        assert_memory_equal(s, t, k * sizeof(*s));
      free(t);
    }
    bs__tool_result_free(&r);
  }
  free(s);
  bs__tool_result r = recorded(0, "list-none.txt", NULL);
  char *again = bs__diskutil_snapshots_write_text("disk3s5", NULL, 0);
  assert_string_equal(again, r.out); /* byte for byte the recorded output */
  free(again);
  bs__tool_result_free(&r);
}

static void uuids_parse_strictly(void **state) {
  (void)state;
  uint8_t u[16];
  const char *good = "0cb5acbf-1477-4AF7-B59A-91ADD6D2C6AD";
  assert_bs_ok(bs__uuid_parse(good, strlen(good), u));
  assert_int_equal(u[0], 0x0c);
  assert_int_equal(u[15], 0xad);
  char back[37];
  bs__uuid_format(u, back);
  assert_string_equal(back, "0CB5ACBF-1477-4AF7-B59A-91ADD6D2C6AD");
  static const char *const bad[] = {"0CB5ACBF-1477-4AF7-B59A-91ADD6D2C6A", "0CB5ACBF14774AF7B59A91ADD6D2C6AD1234",
                                    "0CB5ACBF-1477-4AF7-B59A_91ADD6D2C6AD", "0CB5ACBF-1477-4AF7-B59A-91ADD6D2C6AX",
                                    ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(bs__uuid_parse(bad[i], strlen(bad[i]), u), BS_EPARSE);
}

/* On macOS CI: outputs of the real diskutil, captured by
 * .github/workflows/macos.yml into $BS_DISKUTIL_LIVE_DIR as list.txt and
 * list.plist (the same volume, one after the other), must parse, and both
 * forms must list the same snapshots.  Skipped elsewhere. */
static void live_diskutil_outputs_parse_alike(void **state) {
  (void)state;
  const char *dir = getenv("BS_DISKUTIL_LIVE_DIR");
  if (!dir || !*dir)
    skip();
  char path[512];
  bs__tool_result r[2] = {{0}, {0}};
  const char *const files[2] = {"list.txt", "list.plist"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
    FILE *f = fopen(path, "rb");
    if (!f)
      fail_msg("cannot open %s", path);
    r[i].out = calloc(1, 1 << 20);
    assert_non_null(r[i].out);
    r[i].out_len = fread(r[i].out, 1, (1 << 20) - 1, f);
    fclose(f);
  }
  bs__apfs_snap *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  char msg[256];
  if (bs__diskutil_snapshots_text(&r[0], &a, &na, msg, sizeof(msg)) != 0)
    fail_msg("live text output: %s", msg);
  if (bs__diskutil_have_plist()) {
    if (bs__diskutil_snapshots_plist(&r[1], &b, &nb, msg, sizeof(msg)) != 0)
      fail_msg("live -plist output: %s", msg);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
      assert_string_equal(a[i].name, b[i].name);
      assert_memory_equal(a[i].uuid, b[i].uuid, 16);
      assert_int_equal(a[i].xid, b[i].xid);
    }
  }
  print_message("    [ live     ] %zu snapshot(s) parsed from the real diskutil\n", na);
  free(a);
  free(b);
  bs__tool_result_free(&r[0]);
  bs__tool_result_free(&r[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(text_reads_recorded_lists),
    cmocka_unit_test(text_rejects_malformed_lists),
    cmocka_unit_test(foreign_names_are_listed_nameless),
    cmocka_unit_test(plist_reads_recorded_lists),
    cmocka_unit_test(plist_rejects_malformed_lists),
    cmocka_unit_test(failing_diskutil_is_TOOL_FAILED),
    cmocka_unit_test(delete_output_is_checked),
    cmocka_unit_test(diskutil_errors_match_golden),
    cmocka_unit_test(writers_round_trip),
    cmocka_unit_test(uuids_parse_strictly),
    cmocka_unit_test(live_diskutil_outputs_parse_alike),
  };
  return cmocka_run_group_tests_name("parse_diskutil", tests, NULL, NULL);
}
