/* SSZ codec and wire messages: primitives, golden files (made independently
 * by scripts/gen-golden.py), round trips, and rejection of malformed input. */
#include "tests/support/bs_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"
#include "backstore/wire.h"
#include "src/rng.h"
#include "src/ssz.h"

#define BUF_MAX 512

/* ---- helpers ------------------------------------------------------------ */

static void assert_caps_equal(const bs_caps *a, const bs_caps *b) {
  assert_int_equal(a->schema_version, b->schema_version);
  assert_int_equal(a->fs_type, b->fs_type);
  assert_int_equal(a->native_snapshots, b->native_snapshots);
  assert_int_equal(a->native_reflink, b->native_reflink);
  assert_int_equal(a->xattrs, b->xattrs);
  assert_int_equal(a->case_sensitive, b->case_sensitive);
  assert_int_equal(a->max_name_len, b->max_name_len);
  assert_string_equal(a->fs_type_name, b->fs_type_name);
}

/* Decode @in as one message kind; if that works, re-encode into @out. */
typedef int (*recode_fn)(const uint8_t *in, size_t n, uint8_t *out, size_t *outn);

#define RECODE(fn_name, type, decode, encode, max)                                   \
  static int fn_name(const uint8_t *in, size_t n, uint8_t *out, size_t *outn) {      \
    type v;                                                                          \
    int rc = decode(&v, in, n);                                                      \
    if (rc == 0)                                                                     \
      assert_bs_ok(encode(out, max, outn, &v)); /* decodable => encodable */         \
    return rc;                                                                       \
  }
RECODE(recode_caps, bs_caps, bs_caps_decode, bs_caps_encode, BS_CAPS_SSZ_MAX)
RECODE(recode_error, bs_error_response, bs_error_response_decode, bs_error_response_encode,
       BS_ERROR_RESPONSE_SSZ_MAX)
RECODE(recode_snap, bs_snapshot_info, bs_snapshot_info_decode, bs_snapshot_info_encode,
       BS_SNAPSHOT_INFO_SSZ_MAX)

/* What the malformed-input tests need to know about each message. */
struct kind {
  const char *name;
  recode_fn recode;
  size_t fixed, limit, offset_pos; /* fixed-part size, list limit, where the offset is */
  size_t bools[4], n_bools;          /* where the booleans are */
  bool empty_list_ok;                /* may the list be empty? */
};
static const struct kind CAPS = {"caps", recode_caps, BS_CAPS_SSZ_MIN, BS_CAPS_NAME_MAX, 9,
                                 {3, 4, 5, 6}, 4, false};
static const struct kind ERR = {"error", recode_error, BS_ERROR_RESPONSE_SSZ_MIN,
                                BS_ERROR_MESSAGE_MAX, 6, {0}, 0, true};
static const struct kind SNAP = {"snapshot", recode_snap, BS_SNAPSHOT_INFO_SSZ_MIN, BS_NAME_MAX,
                                 24, {28}, 1, false};

/* A valid encoding of some kind. */
struct sample {
  const struct kind *kind;
  uint8_t buf[BUF_MAX];
  size_t len;
};

static void fill_snapshot(bs_snapshot_info *s, size_t name_len) {
  memset(s, 0, sizeof(*s));
  s->id = 0x0102030405060708ull;
  for (int i = 0; i < 16; i++)
    s->uuid[i] = (uint8_t)(0xa0 + i);
  memset(s->name, 'n', name_len);
  s->readonly = true;
  s->branch_count = 0xdeadbeef;
  s->created_ns = 1700000000123456789ull;
}

/* Every golden file plus encodings at the list limits. Returns the count. */
static size_t samples_load(struct sample *s) {
  static const char *const errs[] = {"error-tool-failed.ssz", "error-unsupported.ssz",
                                     "error-parse.ssz", "error-parse-plist.ssz"};
  char name[64];
  size_t n = 0;
  for (int t = 1; t < BS_FS_TYPE_COUNT; t++, n++) {
    snprintf(name, sizeof(name), "caps-%s.ssz", bs_fs_type_name(t));
    s[n].kind = &CAPS;
    s[n].len = bs_test_golden_load(name, s[n].buf, BUF_MAX);
  }
  for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++, n++) {
    s[n].kind = &ERR;
    s[n].len = bs_test_golden_load(errs[i], s[n].buf, BUF_MAX);
  }
  bs_error_response e;
  char big[BS_ERROR_MESSAGE_MAX + 1];
  memset(big, 'm', BS_ERROR_MESSAGE_MAX);
  big[BS_ERROR_MESSAGE_MAX] = '\0';
  assert_bs_ok(bs_error_response_make(&e, BS_EIO, 5, big));
  s[n].kind = &ERR;
  assert_bs_ok(bs_error_response_encode(s[n].buf, BUF_MAX, &s[n].len, &e));
  n++;
  static const size_t name_lens[] = {1, 9, BS_NAME_MAX};
  for (size_t i = 0; i < 3; i++, n++) {
    bs_snapshot_info si;
    fill_snapshot(&si, name_lens[i]);
    s[n].kind = &SNAP;
    assert_bs_ok(bs_snapshot_info_encode(s[n].buf, BUF_MAX, &s[n].len, &si));
  }
  return n;
}
#define SAMPLES_MAX 16

/* Recode @in as kind @k; expect @want (0 or BS_EINVALID).  A success must
 * give back exactly the input bytes (one canonical encoding per value). */
static int check_recode(const struct kind *k, const uint8_t *in, size_t n) {
  uint8_t out[BUF_MAX];
  size_t outn = 0;
  int rc = k->recode(in, n, out, &outn);
  if (rc != 0 && rc != BS_EINVALID)
    fail_msg("%s decode returned %s", k->name, bs_err_name(rc));
  if (rc == 0 && (outn != n || memcmp(out, in, n) != 0))
    fail_msg("%s: %zu input bytes decode but re-encode differently", k->name, n);
  return rc;
}

/* ---- primitives --------------------------------------------------------- */

static void ssz_uints_are_little_endian_and_round_trip(void **state) {
  (void)state;
  uint8_t buf[15];
  static const uint8_t want[15] = {0xab, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xef,
                                   0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
  bs__ssz_writer w;
  size_t len;
  bs__ssz_writer_init(&w, buf, sizeof(buf));
  bs__ssz_put_u8(&w, 0xab);
  bs__ssz_put_u16(&w, 0x1234);
  bs__ssz_put_u32(&w, 0x12345678);
  bs__ssz_put_u64(&w, 0x0123456789abcdefull);
  assert_bs_ok(bs__ssz_writer_finish(&w, &len));
  assert_int_equal(len, 15);
  assert_memory_equal(buf, want, 15);

  bs__ssz_reader r;
  uint8_t a;
  uint16_t b;
  uint32_t c;
  uint64_t d;
  bs__ssz_reader_init(&r, buf, len, 15);
  bs__ssz_get_u8(&r, &a);
  bs__ssz_get_u16(&r, &b);
  bs__ssz_get_u32(&r, &c);
  bs__ssz_get_u64(&r, &d);
  assert_bs_ok(bs__ssz_reader_finish(&r));
  assert_int_equal(a, 0xab);
  assert_int_equal(b, 0x1234);
  assert_int_equal(c, 0x12345678);
  assert_true(d == 0x0123456789abcdefull);
}

static void ssz_bool_accepts_only_0_and_1(void **state) {
  (void)state;
  for (int v = 0; v < 256; v++) {
    uint8_t byte = (uint8_t)v;
    bool out = true;
    bs__ssz_reader r;
    bs__ssz_reader_init(&r, &byte, 1, 1);
    bs__ssz_get_bool(&r, &out);
    int rc = bs__ssz_reader_finish(&r);
    assert_int_equal(rc, v <= 1 ? 0 : BS_EINVALID);
    assert_int_equal(out, v == 1);
  }
}

static void ssz_writer_stops_at_capacity_without_overrun(void **state) {
  (void)state;
  bs_caps c;
  bs_snapshot_info si;
  bs_error_response e;
  assert_bs_ok(bs_caps_for_type(&c, BS_FS_BTRFS));
  fill_snapshot(&si, 200);
  assert_bs_ok(bs_error_response_make(&e, BS_EBUSY, 16, "in use"));
  for (size_t cap = 0; cap < BS_SNAPSHOT_INFO_SSZ_MIN + 200; cap++) {
    uint8_t buf[BUF_MAX];
    size_t len = 99;
    memset(buf, 0xee, sizeof(buf)); /* canary: nothing at or past cap may change */
    if (cap < 18)
      assert_bs_err(bs_caps_encode(buf, cap, &len, &c), BS_ENO_SPACE);
    if (cap < 16)
      assert_bs_err(bs_error_response_encode(buf, cap, &len, &e), BS_ENO_SPACE);
    assert_bs_err(bs_snapshot_info_encode(buf, cap, &len, &si), BS_ENO_SPACE);
    assert_int_equal(len, 0);
    for (size_t i = cap; i < sizeof(buf); i++)
      assert_int_equal(buf[i], 0xee);
  }
  size_t len;
  assert_bs_err(bs_caps_encode(NULL, 0, &len, &c), BS_ENO_SPACE);
}

static void ssz_bytelist_limit_enforced_both_ways(void **state) {
  (void)state;
  uint8_t buf[16], data[8] = "abcdefg";
  size_t slot, len;
  bs__ssz_writer w;
  bs__ssz_writer_init(&w, buf, sizeof(buf));
  bs__ssz_put_offset(&w, &slot);
  bs__ssz_put_bytelist(&w, slot, data, 8, 7);
  assert_bs_err(bs__ssz_writer_finish(&w, &len), BS_EINVALID);

  bs__ssz_writer_init(&w, buf, sizeof(buf));
  bs__ssz_put_offset(&w, &slot);
  bs__ssz_put_bytelist(&w, slot, data, 7, 7);
  assert_bs_ok(bs__ssz_writer_finish(&w, &len));
  assert_int_equal(len, 11);
  for (size_t max = 5; max <= 8; max++) {
    const uint8_t *p;
    size_t n;
    bs__ssz_reader r;
    bs__ssz_reader_init(&r, buf, len, 4);
    bs__ssz_get_offset(&r);
    bs__ssz_get_bytelist(&r, max, &p, &n);
    assert_int_equal(bs__ssz_reader_finish(&r), max >= 7 ? 0 : BS_EINVALID);
    assert_int_equal(n, max >= 7 ? 7 : 0);
  }
  /* A list read before the rest of the fixed part would not know its end. */
  const uint8_t *p;
  size_t n;
  uint8_t b;
  static const uint8_t msg[] = {5, 0, 0, 0, 0x42, 'x', 'y'}; /* {list, uint8} */
  bs__ssz_reader r;
  bs__ssz_reader_init(&r, msg, sizeof(msg), 5);
  bs__ssz_get_offset(&r);
  bs__ssz_get_bytelist(&r, 7, &p, &n);
  bs__ssz_get_u8(&r, &b);
  assert_bs_err(bs__ssz_reader_finish(&r), BS_EINVALID);
  assert_null(p);
}

static void ssz_fixed_container_rejects_short_and_trailing_input(void **state) {
  (void)state;
  uint8_t buf[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  for (size_t len = 0; len <= sizeof(buf); len++) {
    bs__ssz_reader r;
    uint64_t a;
    uint32_t b;
    bs__ssz_reader_init(&r, buf, len, 12);
    bs__ssz_get_u64(&r, &a);
    bs__ssz_get_u32(&r, &b);
    assert_int_equal(bs__ssz_reader_finish(&r), len == 12 ? 0 : BS_EINVALID);
  }
}

/* Container {a: ByteList[max], b: uint8, c: ByteList[max]}: fixed part 9
 * bytes, all zero but for the two offsets. */
static int two_lists(uint32_t off_a, uint32_t off_c, size_t len, size_t max) {
  uint8_t buf[32] = {0}, b;
  const uint8_t *p;
  size_t n;
  bs__ssz_reader r;
  for (int i = 0; i < 4; i++) {
    buf[i] = (uint8_t)(off_a >> (8 * i));
    buf[5 + i] = (uint8_t)(off_c >> (8 * i));
  }
  bs__ssz_reader_init(&r, buf, len, 9);
  bs__ssz_get_offset(&r);
  bs__ssz_get_u8(&r, &b);
  bs__ssz_get_offset(&r);
  bs__ssz_get_bytelist(&r, max, &p, &n);
  bs__ssz_get_bytelist(&r, max, &p, &n);
  return bs__ssz_reader_finish(&r);
}

static void ssz_offsets_must_start_at_fixed_size_and_not_decrease(void **state) {
  (void)state;
  /* No list limit here, so only the offset rules can refuse. */
  const size_t any = SIZE_MAX;
  assert_bs_ok(two_lists(9, 9, 9, any));   /* both lists empty */
  assert_bs_ok(two_lists(9, 12, 15, any)); /* 3 + 3 bytes */
  assert_bs_ok(two_lists(9, 15, 15, any)); /* 6 + 0: c empty at the very end */
  assert_bs_err(two_lists(8, 12, 15, any), BS_EINVALID);  /* into the fixed part */
  assert_bs_err(two_lists(0, 12, 15, any), BS_EINVALID);
  assert_bs_err(two_lists(10, 12, 15, any), BS_EINVALID); /* gap after the fixed part */
  assert_bs_err(two_lists(9, 8, 15, any), BS_EINVALID);   /* decreasing */
  assert_bs_err(two_lists(9, 16, 15, any), BS_EINVALID);  /* past the end */
  assert_bs_err(two_lists(9, 0xffffffffu, 15, any), BS_EINVALID);
  assert_bs_err(two_lists(9, 9, 8, any), BS_EINVALID);    /* short fixed part */
  /* And each list's limit applies to its own length. */
  assert_bs_ok(two_lists(9, 17, 25, 8));
  assert_bs_err(two_lists(9, 18, 25, 8), BS_EINVALID);
  assert_bs_err(two_lists(9, 12, 21, 8), BS_EINVALID);
}

/* ---- golden files --------------------------------------------------------- */

/* Whether @c encodes to exactly the bytes of golden file caps-@fs.ssz. */
static bool caps_match_golden(const bs_caps *c, const char *fs) {
  uint8_t want[BUF_MAX], got[BS_CAPS_SSZ_MAX];
  char name[64];
  size_t want_len, got_len;
  snprintf(name, sizeof(name), "caps-%s.ssz", fs);
  want_len = bs_test_golden_load(name, want, sizeof(want));
  assert_bs_ok(bs_caps_encode(got, sizeof(got), &got_len, c));
  return got_len == want_len && memcmp(got, want, want_len) == 0;
}

static void caps_golden_matches_caps_for_type(void **state) {
  (void)state;
  for (int t = 1; t < BS_FS_TYPE_COUNT; t++) {
    bs_caps c;
    assert_bs_ok(bs_caps_for_type(&c, (bs_fs_type)t));
    if (!caps_match_golden(&c, bs_fs_type_name(t)))
      fail_msg("encoding of bs_caps_for_type(%s) differs from caps-%s.ssz", bs_fs_type_name(t),
               bs_fs_type_name(t));
  }
}

static void caps_golden_matches_sim_profiles(void **state) {
  (void)state;
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++) {
    const char *profile = bs_sim_profile_names[i];
    bs_caps c;
    bs_store *st = bs_test_open_sim(profile, bs_test_seed());
    int rc = bs_get_caps(st, &c);
    bs_close(st);
    assert_bs_ok(rc);
    if (!caps_match_golden(&c, profile))
      fail_msg("sim profile %s reports caps that differ from caps-%s.ssz", profile, profile);
  }
}

static void golden_decodes_to_table_values_and_reencodes_identically(void **state) {
  (void)state;
  struct sample s[SAMPLES_MAX];
  size_t n = samples_load(s);
  for (size_t i = 0; i < n; i++)
    assert_bs_ok(check_recode(s[i].kind, s[i].buf, s[i].len));
  for (int t = 1; t < BS_FS_TYPE_COUNT; t++) { /* samples 0..5 are caps-<t> */
    bs_caps got, want;
    assert_bs_ok(bs_caps_decode(&got, s[t - 1].buf, s[t - 1].len));
    assert_bs_ok(bs_caps_for_type(&want, (bs_fs_type)t));
    assert_caps_equal(&got, &want);
  }
}

static void error_golden_files_match_encoder(void **state) {
  (void)state;
  static const struct {
    const char *file;
    int code, os_errno;
    const char *msg;
  } g[] = {
      {"error-tool-failed.ssz", BS_ETOOL_FAILED, 0, "diskutil exited with status 1"},
      {"error-unsupported.ssz", BS_EUNSUPPORTED, 95, "snapshots are not supported on hfs"},
  };
  for (size_t i = 0; i < 2; i++) {
    uint8_t want[BUF_MAX], got[BS_ERROR_RESPONSE_SSZ_MAX];
    size_t want_len = bs_test_golden_load(g[i].file, want, sizeof(want)), got_len;
    bs_error_response e, d;
    assert_bs_ok(bs_error_response_make(&e, g[i].code, g[i].os_errno, g[i].msg));
    assert_bs_ok(bs_error_response_encode(got, sizeof(got), &got_len, &e));
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_bs_ok(bs_error_response_decode(&d, want, want_len));
    assert_int_equal(d.code, g[i].code);
    assert_int_equal(d.os_errno, g[i].os_errno);
    assert_string_equal(d.message, g[i].msg);
  }
}

/* ---- message values ---------------------------------------------------- */

static void caps_decode_rejects_values_outside_the_schema(void **state) {
  (void)state;
  uint8_t g[BUF_MAX], b[BUF_MAX];
  size_t len = bs_test_golden_load("caps-btrfs.ssz", g, sizeof(g));
  bs_caps c;
  for (int v = 0; v < 0x10000; v++) { /* schema_version: only 1 */
    memcpy(b, g, len);
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    assert_int_equal(bs_caps_decode(&c, b, len), v == 1 ? 0 : BS_EINVALID);
  }
  for (int v = 0; v < 256; v++) { /* fs_type: 0..6 */
    memcpy(b, g, len);
    b[2] = (uint8_t)v;
    assert_int_equal(bs_caps_decode(&c, b, len), v < BS_FS_TYPE_COUNT ? 0 : BS_EINVALID);
  }
  for (int v = 0; v < 256; v++) { /* name bytes: printable ASCII */
    memcpy(b, g, len);
    b[len - 1] = (uint8_t)v;
    assert_int_equal(bs_caps_decode(&c, b, len), v >= 0x20 && v <= 0x7e ? 0 : BS_EINVALID);
  }
  assert_bs_err(bs_caps_decode(&c, g, BS_CAPS_SSZ_MIN), BS_EINVALID); /* empty name */
  assert_int_equal(c.fs_type, 0); /* zeroed on failure */
}

static void caps_encode_rejects_values_outside_the_schema(void **state) {
  (void)state;
  uint8_t buf[BUF_MAX];
  size_t len;
  bs_caps c, ok;
  assert_bs_ok(bs_caps_for_type(&ok, BS_FS_APFS));
  c = ok, c.schema_version = 2;
  assert_bs_err(bs_caps_encode(buf, sizeof(buf), &len, &c), BS_EINVALID);
  c = ok, c.fs_type = BS_FS_TYPE_COUNT;
  assert_bs_err(bs_caps_encode(buf, sizeof(buf), &len, &c), BS_EINVALID);
  c = ok, c.fs_type_name[0] = '\0';
  assert_bs_err(bs_caps_encode(buf, sizeof(buf), &len, &c), BS_EINVALID);
  c = ok, c.fs_type_name[1] = (char)0xc3;
  assert_bs_err(bs_caps_encode(buf, sizeof(buf), &len, &c), BS_EINVALID);
  c = ok, memset(c.fs_type_name, 'x', sizeof(c.fs_type_name)); /* no NUL at all */
  assert_bs_err(bs_caps_encode(buf, sizeof(buf), &len, &c), BS_EINVALID);
  c = ok, memset(c.fs_type_name, 'x', BS_CAPS_NAME_MAX), c.fs_type_name[BS_CAPS_NAME_MAX] = 0;
  assert_bs_ok(bs_caps_encode(buf, sizeof(buf), &len, &c));
  assert_int_equal(len, BS_CAPS_SSZ_MAX);
}

static void error_response_round_trips_every_code_and_length(void **state) {
  (void)state;
  static const size_t lens[] = {0, 1, 255, BS_ERROR_MESSAGE_MAX};
  for (int code = 0; code > -BS_ERROR_COUNT; code--) {
    for (size_t i = 0; i < 4; i++) {
      char msg[BS_ERROR_MESSAGE_MAX + 1];
      memset(msg, 'a' + (int)i, lens[i]);
      msg[lens[i]] = '\0';
      uint8_t buf[BS_ERROR_RESPONSE_SSZ_MAX];
      size_t len;
      bs_error_response e, d;
      assert_bs_ok(bs_error_response_make(&e, code, 0, msg));
      e.os_errno = UINT32_MAX - (uint32_t)i;
      assert_bs_ok(bs_error_response_encode(buf, sizeof(buf), &len, &e));
      assert_int_equal(len, BS_ERROR_RESPONSE_SSZ_MIN + lens[i]);
      assert_bs_ok(bs_error_response_decode(&d, buf, len));
      assert_int_equal(d.code, code);
      assert_int_equal(d.os_errno, e.os_errno);
      assert_string_equal(d.message, msg);
    }
  }
  uint8_t b[BUF_MAX];
  size_t len = bs_test_golden_load("error-unsupported.ssz", b, sizeof(b));
  bs_error_response d;
  for (int w = 0; w < 0x10000; w++) { /* unknown wire codes */
    b[0] = (uint8_t)w;
    b[1] = (uint8_t)(w >> 8);
    assert_int_equal(bs_error_response_decode(&d, b, len), w < BS_ERROR_COUNT ? 0 : BS_EINVALID);
  }
  bs_error_response bad = {.code = -BS_ERROR_COUNT};
  assert_bs_err(bs_error_response_encode(b, sizeof(b), &len, &bad), BS_EINVALID);
  bad.code = 1;
  assert_bs_err(bs_error_response_encode(b, sizeof(b), &len, &bad), BS_EINVALID);
  memset(bad.message, 'z', sizeof(bad.message)), bad.code = BS_EIO; /* unterminated */
  assert_bs_err(bs_error_response_encode(b, sizeof(b), &len, &bad), BS_EINVALID);
}

/* make(msg) keeps @want_len bytes of @msg. */
static void check_make(const char *msg, size_t want_len) {
  bs_error_response e;
  assert_bs_ok(bs_error_response_make(&e, BS_EPARSE, 0, msg));
  assert_int_equal(strlen(e.message), want_len);
  assert_memory_equal(e.message, msg, want_len);
}

static void error_response_make_truncates_at_utf8_boundary(void **state) {
  (void)state;
  static const char *const chars[] = {"x", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x92\xbe"};
  char msg[BUF_MAX];
  for (size_t c = 0; c < 4; c++) {
    size_t w = strlen(chars[c]);
    for (size_t pad = 0; pad < 4; pad++) { /* put a character across byte 256 */
      memset(msg, 'p', pad);
      size_t n = pad;
      while (n + w <= 300)
        memcpy(msg + n, chars[c], w), n += w;
      msg[n] = '\0';
      size_t keep = pad + (BS_ERROR_MESSAGE_MAX - pad) / w * w;
      check_make(msg, keep);
    }
  }
  memset(msg, 'q', 256), msg[256] = '\0';
  check_make(msg, 256);
  memset(msg, 0x80, 300), msg[300] = '\0'; /* garbage: cut anyway, never overrun */
  check_make(msg, 256);
  bs_error_response e;
  assert_bs_ok(bs_error_response_make(&e, BS_EBUSY, 16, NULL));
  assert_string_equal(e.message, bs_strerror(BS_EBUSY));
  assert_bs_err(bs_error_response_make(&e, 7, 0, "x"), BS_EINVALID);
  assert_bs_err(bs_error_response_make(&e, BS_EIO, -1, "x"), BS_EINVALID);
}

static void snapshot_info_round_trips_names_up_to_255_bytes(void **state) {
  (void)state;
  for (size_t n = 1; n <= BS_NAME_MAX; n++) {
    uint8_t buf[BS_SNAPSHOT_INFO_SSZ_MAX];
    size_t len;
    bs_snapshot_info s, d;
    fill_snapshot(&s, n);
    s.name[0] = (char)(0x80 + n % 64); /* names are bytes, not checked UTF-8 */
    assert_bs_ok(bs_snapshot_info_encode(buf, sizeof(buf), &len, &s));
    assert_int_equal(len, BS_SNAPSHOT_INFO_SSZ_MIN + n);
    assert_bs_ok(bs_snapshot_info_decode(&d, buf, len));
    assert_true(d.id == s.id && d.created_ns == s.created_ns);
    assert_memory_equal(d.uuid, s.uuid, 16);
    assert_string_equal(d.name, s.name);
    assert_int_equal(d.readonly, true);
    assert_int_equal(d.branch_count, s.branch_count);
    buf[len - 1] = 0; /* NUL inside the name */
    assert_bs_err(bs_snapshot_info_decode(&d, buf, len), BS_EINVALID);
  }
  bs_snapshot_info s;
  uint8_t buf[BUF_MAX];
  size_t len;
  fill_snapshot(&s, 0);
  assert_bs_err(bs_snapshot_info_encode(buf, sizeof(buf), &len, &s), BS_EINVALID);
  memset(s.name, 'n', sizeof(s.name)); /* 256 bytes, unterminated */
  assert_bs_err(bs_snapshot_info_encode(buf, sizeof(buf), &len, &s), BS_EINVALID);
}

/* ---- malformed input ---------------------------------------------------- */

/* SSZ stores no length for the last list: it runs to the end.  So a cut
 * inside it is a shorter, valid list; every other cut must be refused. */
static void every_truncation_is_rejected_or_shortens_the_last_list(void **state) {
  (void)state;
  struct sample s[SAMPLES_MAX];
  size_t n = samples_load(s);
  for (size_t i = 0; i < n; i++)
    for (size_t cut = 0; cut < s[i].len; cut++) {
      const struct kind *k = s[i].kind;
      bool bad = cut < k->fixed || (cut == k->fixed && !k->empty_list_ok);
      assert_int_equal(check_recode(k, s[i].buf, cut), bad ? BS_EINVALID : 0);
    }
}

static void trailing_bytes_are_rejected_or_extend_the_last_list(void **state) {
  (void)state;
  struct sample s[SAMPLES_MAX];
  size_t n = samples_load(s);
  for (size_t i = 0; i < n; i++) {
    const struct kind *k = s[i].kind;
    uint8_t b[BUF_MAX];
    size_t room = k->fixed + k->limit - s[i].len;
    memcpy(b, s[i].buf, s[i].len);
    for (size_t extra = 1; extra <= room + 8; extra++) {
      memset(b + s[i].len, 'x', extra);
      assert_int_equal(check_recode(k, b, s[i].len + extra), extra <= room ? 0 : BS_EINVALID);
      b[s[i].len + extra - 1] = 0; /* a trailing NUL never fits a C string */
      assert_int_equal(check_recode(k, b, s[i].len + extra), BS_EINVALID);
    }
  }
}

static void corrupt_offsets_are_rejected(void **state) {
  (void)state;
  struct sample s[SAMPLES_MAX];
  size_t n = samples_load(s);
  for (size_t i = 0; i < n; i++) {
    const struct kind *k = s[i].kind;
    uint8_t b[BUF_MAX];
    memcpy(b, s[i].buf, s[i].len);
    /* Every value of each offset byte, other bytes as they were. */
    for (size_t byte = 0; byte < 4; byte++)
      for (int v = 0; v < 256; v++) {
        b[k->offset_pos + byte] = (uint8_t)v;
        int want = v == s[i].buf[k->offset_pos + byte] ? 0 : BS_EINVALID;
        assert_int_equal(check_recode(k, b, s[i].len), want);
        b[k->offset_pos + byte] = s[i].buf[k->offset_pos + byte];
      }
    /* Too small, too large, past the end, far past it. */
    static const uint32_t far[] = {0x7fffffffu, 0x80000000u, 0xfffffffcu, 0xffffffffu};
    for (uint32_t off = 0; off < s[i].len + 16 + 4; off++) {
      uint32_t o = off < s[i].len + 16 ? off : far[off - s[i].len - 16];
      for (int j = 0; j < 4; j++)
        b[k->offset_pos + j] = (uint8_t)(o >> (8 * j));
      assert_int_equal(check_recode(k, b, s[i].len), o == k->fixed ? 0 : BS_EINVALID);
    }
  }
}

static void corrupt_booleans_are_rejected(void **state) {
  (void)state;
  struct sample s[SAMPLES_MAX];
  size_t n = samples_load(s);
  for (size_t i = 0; i < n; i++) {
    const struct kind *k = s[i].kind;
    for (size_t j = 0; j < k->n_bools; j++)
      for (int v = 0; v < 256; v++) {
        uint8_t b[BUF_MAX];
        memcpy(b, s[i].buf, s[i].len);
        b[k->bools[j]] = (uint8_t)v;
        assert_int_equal(check_recode(k, b, s[i].len), v <= 1 ? 0 : BS_EINVALID);
      }
  }
}

static void lists_over_their_limit_are_rejected(void **state) {
  (void)state;
  struct sample s[SAMPLES_MAX];
  size_t n = samples_load(s);
  for (size_t i = 0; i < n; i++) {
    const struct kind *k = s[i].kind;
    uint8_t b[BUF_MAX];
    memcpy(b, s[i].buf, k->fixed);
    memset(b + k->fixed, 'L', k->limit + 64);
    for (size_t len = k->limit; len <= k->limit + 64; len++)
      assert_int_equal(check_recode(k, b, k->fixed + len), len == k->limit ? 0 : BS_EINVALID);
  }
}

/* Seeded random damage: decoders never crash or overread (ASan build), and
 * whatever any of them accepts re-encodes to the very same bytes. */
static void random_mutations_never_crash_and_reencode_identically(void **state) {
  (void)state;
  static const struct kind *const kinds[] = {&CAPS, &ERR, &SNAP};
  static const uint8_t interesting[] = {0, 1, 2, 0x0a, 0x0d, 0x20, 0x29, 0x7f, 0x80, 0xff};
  struct sample s[SAMPLES_MAX];
  size_t n = samples_load(s), accepted = 0;
  uint64_t seed = bs_test_seed();
  int iters = bs_test_iterations(20000);
  bs__rng rng;
  bs__rng_seed(&rng, seed);
  print_message("    seed 0x%llx, %d iterations (BS_TEST_SEED / BS_TEST_ITER)\n",
                (unsigned long long)seed, iters);
  for (int it = 0; it < iters; it++) {
    const struct sample *src = &s[bs__rng_below(&rng, n)];
    uint8_t *b = malloc(BUF_MAX); /* heap: ASan sees any read past len */
    assert_non_null(b);
    size_t len = src->len;
    memcpy(b, src->buf, len);
    for (int m = 0, count = 1 + (int)bs__rng_below(&rng, 4); m < count; m++) {
      size_t at = len ? bs__rng_below(&rng, len) : 0;
      switch (bs__rng_below(&rng, 5)) {
      case 0: if (len) b[at] ^= (uint8_t)(1u << bs__rng_below(&rng, 8)); break;
      case 1: if (len) b[at] = interesting[bs__rng_below(&rng, sizeof(interesting))]; break;
      case 2: if (len) b[at] = (uint8_t)bs__rng_next(&rng); break;
      case 3: len = bs__rng_below(&rng, len + 1); break;
      default:
        for (size_t add = 1 + bs__rng_below(&rng, 24); add && len < BUF_MAX; add--)
          b[len++] = (uint8_t)bs__rng_next(&rng);
      }
    }
    uint8_t *exact = malloc(len ? len : 1); /* exactly len bytes for ASan */
    assert_non_null(exact);
    memcpy(exact, b, len);
    for (size_t k = 0; k < 3; k++) {
      uint8_t out[BUF_MAX];
      size_t outn = 0;
      int rc = kinds[k]->recode(exact, len, out, &outn);
      if (rc != 0 && rc != BS_EINVALID)
        fail_msg("seed 0x%llx iteration %d: %s decode returned %s",
                 (unsigned long long)seed, it, kinds[k]->name, bs_err_name(rc));
      if (rc == 0 && (outn != len || memcmp(out, exact, len) != 0))
        fail_msg("seed 0x%llx iteration %d: %s input decodes but re-encodes differently",
                 (unsigned long long)seed, it, kinds[k]->name);
      accepted += rc == 0;
    }
    free(exact);
    free(b);
  }
  print_message("    %zu of %d mutants x 3 decoders accepted\n", accepted, iters);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ssz_uints_are_little_endian_and_round_trip),
      cmocka_unit_test(ssz_bool_accepts_only_0_and_1),
      cmocka_unit_test(ssz_writer_stops_at_capacity_without_overrun),
      cmocka_unit_test(ssz_bytelist_limit_enforced_both_ways),
      cmocka_unit_test(ssz_fixed_container_rejects_short_and_trailing_input),
      cmocka_unit_test(ssz_offsets_must_start_at_fixed_size_and_not_decrease),
      cmocka_unit_test(caps_golden_matches_caps_for_type),
      cmocka_unit_test(caps_golden_matches_sim_profiles),
      cmocka_unit_test(golden_decodes_to_table_values_and_reencodes_identically),
      cmocka_unit_test(error_golden_files_match_encoder),
      cmocka_unit_test(caps_decode_rejects_values_outside_the_schema),
      cmocka_unit_test(caps_encode_rejects_values_outside_the_schema),
      cmocka_unit_test(error_response_round_trips_every_code_and_length),
      cmocka_unit_test(error_response_make_truncates_at_utf8_boundary),
      cmocka_unit_test(snapshot_info_round_trips_names_up_to_255_bytes),
      cmocka_unit_test(every_truncation_is_rejected_or_shortens_the_last_list),
      cmocka_unit_test(trailing_bytes_are_rejected_or_extend_the_last_list),
      cmocka_unit_test(corrupt_offsets_are_rejected),
      cmocka_unit_test(corrupt_booleans_are_rejected),
      cmocka_unit_test(lists_over_their_limit_are_rejected),
      cmocka_unit_test(random_mutations_never_crash_and_reencode_identically),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
