/* Fault injection (docs/faults.md): the spec language, the catalogue, the
 * seeded schedule, and the faults:<inner> backend's promise that an injected
 * failure leaves no partial result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backstore/faults.h"
#include "backstore/sim.h"
#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

#define BLK BS_SIM_BLOCK_SIZE

/* ---- spec language ---------------------------------------------------------- */

static bs_fault_spec *parse_ok(const char *text) {
  bs_fault_spec *s = NULL;
  char err[512];
  int rc = bs_fault_spec_parse(&s, text, err, sizeof(err));
  if (rc != 0)
    fail_msg("parse \"%s\": %s: %s", text, bs_err_name(rc), err);
  return s;
}

static char *format_ok(const bs_fault_spec *s) {
  char *text = NULL;
  assert_bs_ok(bs_fault_spec_format(&text, s));
  return text;
}

static void spec_parses_every_trigger_form(void **state) {
  (void)state;
  bs_fault_spec *s = parse_ok("bs/real/ficlone=enospc@3, bs/op/write=io@3+ ,bs/sim/write=eio%0.01,"
                              "bs/op/sync=busy,bs/op/snapshot_*=no_memory%1");
  assert_int_equal(s->count, 5);
  assert_string_equal(s->terms[0].point, "bs/real/ficlone");
  assert_int_equal(s->terms[0].error, BS_ENO_SPACE);
  assert_int_equal(s->terms[0].trigger, BS_FAULT_NTH);
  assert_int_equal(s->terms[0].nth, 3);
  assert_int_equal(s->terms[1].error, BS_EIO);
  assert_int_equal(s->terms[1].trigger, BS_FAULT_FROM);
  assert_int_equal(s->terms[1].nth, 3);
  assert_int_equal(s->terms[2].trigger, BS_FAULT_PROB);
  assert_int_equal(s->terms[2].ppm, 10000);
  assert_int_equal(s->terms[3].error, BS_EBUSY);
  assert_int_equal(s->terms[3].trigger, BS_FAULT_FROM); /* no trigger: every call */
  assert_int_equal(s->terms[3].nth, 1);
  assert_string_equal(s->terms[4].point, "bs/op/snapshot_*");
  assert_int_equal(s->terms[4].ppm, BS_FAULT_PPM);
  char *text = format_ok(s);
  assert_string_equal(text, "bs/real/ficlone=no_space@3,bs/op/write=io@3+,bs/sim/write=io%0.01,"
                            "bs/op/sync=busy@1+,bs/op/snapshot_*=no_memory%1");
  free(text);
  bs_fault_spec_free(s);
}

static void spec_format_then_parse_is_identity(void **state) {
  (void)state;
  static const char *const texts[] = {
    "", "   ", "bs/op/read=not_found@1", "bs/op/*=io%0.000001", "bs/*/write=permission@18446744073709551615",
    "bs/real/fsync=eio%0.5,bs/real/fsync=enospc@2+", "bs/sim/alloc=enospc%1.000000",
    "bs/op/rename=exdev@7,bs/op/chown=eperm@1,bs/op/probe_fs_type=enotsup%0.25",
  };
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    bs_fault_spec *a = parse_ok(texts[i]);
    char *t1 = format_ok(a);
    bs_fault_spec *b = parse_ok(t1);
    assert_true(bs_fault_spec_equal(a, b));
    char *t2 = format_ok(b);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    bs_fault_spec_free(a);
    bs_fault_spec_free(b);
  }
}

/* Every way a spec can be wrong: the code, and the message's column and words. */
static void spec_errors_name_the_column_and_term(void **state) {
  (void)state;
  static const struct {
    const char *text, *want;
  } bad[] = {
    {"bs/op/write", "column 1: term 'bs/op/write': expected POINT=ERROR"},
    {"bs/op/wirte=eio", "unknown fault point 'bs/op/wirte'; did you mean bs/op/write?"},
    {"bs/sim/ficlone=eio", "did you mean bs/real/ficlone?"},
    {"bs/nope/*=eio", "glob 'bs/nope/*' matches no fault point"},
    {"=eio", "missing fault point before '='"},
    {"bs/op/write=", "column 13: term 'bs/op/write=': missing error name"},
    {"bs/op/write=@3", "missing error name"},
    {"bs/op/write=enospace@3", "column 13: term 'bs/op/write=enospace@3': unknown error 'enospace'"},
    {"bs/op/write=ENOSPC", "unknown error 'ENOSPC'"},
    {"bs/op/write=eio@0", "column 17: term 'bs/op/write=eio@0': '@' needs a call number N >= 1"},
    {"bs/op/write=eio@", "'@' needs a call number"},
    {"bs/op/write=eio@18446744073709551616", "'@' needs a call number"},
    {"bs/op/write=eio@3x", "column 18: term 'bs/op/write=eio@3x': unexpected 'x' after the trigger"},
    {"bs/op/write=eio@3++", "unexpected '+' after the trigger"},
    {"bs/op/write=eio%0", "'%' needs a probability 0 < P <= 1"},
    {"bs/op/write=eio%1.5", "'%' needs a probability"},
    {"bs/op/write=eio%0.0000001", "at most 6 decimals"},
    {"bs/op/write=eio%.5", "'%' needs a probability"},
    {"bs/op/write=eio%0.", "'%' needs a probability"},
    {"bs/op/write=eio,,bs/op/read=eio", "column 17: empty term"},
    {",bs/op/write=eio", "column 1: empty term"},
    {"bs/op/write=eio,", "column 17: empty term"},
    {"bs/op/write=eio bs/op/read=eio", "column 17: blank inside a term"},
    {"bs/op/write =eio", "column 13: blank inside a term"},
    {"bs/op/write=eio@3%0.5", "unexpected '%' after the trigger"},
    {"bs/op/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=eio",
     "fault point longer than 63 bytes"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    bs_fault_spec *s = (bs_fault_spec *)&s; /* must be reset to NULL */
    char err[512];
    int rc = bs_fault_spec_parse(&s, bad[i].text, err, sizeof(err));
    if (rc != BS_EINVALID)
      fail_msg("\"%s\": %s, expected INVALID", bad[i].text, bs_err_name(rc));
    assert_null(s);
    if (!strstr(err, bad[i].want))
      fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].text, err, bad[i].want);
  }
  bs_fault_spec *s = NULL;
  assert_bs_err(bs_fault_spec_parse(&s, NULL, NULL, 0), BS_EINVALID);
  assert_bs_err(bs_fault_spec_parse(NULL, "", NULL, 0), BS_EINVALID);
}

static void spec_format_refuses_a_term_the_parser_would_not_read(void **state) {
  (void)state;
  bs_fault_term t = {.point = "bs/op/write", .error = BS_EIO, .trigger = BS_FAULT_NTH, .nth = 1};
  bs_fault_spec s = {1, &t};
  char *text = NULL;
  assert_bs_ok(bs_fault_spec_format(&text, &s));
  assert_string_equal(text, "bs/op/write=io@1");
  free(text);
  bs_fault_term bad[] = {
    {.point = "bs/op/write", .error = BS_EIO, .trigger = BS_FAULT_NTH, .nth = 0},
    {.point = "bs/op/write", .error = 0, .trigger = BS_FAULT_NTH, .nth = 1},
    {.point = "bs/op/write", .error = -99, .trigger = BS_FAULT_NTH, .nth = 1},
    {.point = "bs/op/write", .error = BS_EIO, .trigger = BS_FAULT_PROB, .ppm = BS_FAULT_PPM + 1},
    {.point = "bs/op/write", .error = BS_EIO, .trigger = BS_FAULT_PROB, .ppm = 0},
    {.point = "bs/op/nope", .error = BS_EIO, .trigger = BS_FAULT_NTH, .nth = 1},
    {.point = "bs/op/write,x", .error = BS_EIO, .trigger = BS_FAULT_NTH, .nth = 1},
    {.point = "bs/op/write", .error = BS_EIO, .trigger = (bs_fault_trigger)7, .nth = 1},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    s.terms = &bad[i];
    text = (char *)&text;
    assert_bs_err(bs_fault_spec_format(&text, &s), BS_EINVALID);
    assert_null(text);
  }
}

static void error_names_cover_every_code(void **state) {
  (void)state;
  for (int w = 1; w < BS_ERROR_COUNT; w++) {
    int code = bs_err_from_wire((uint16_t)w), back = 0;
    const char *name = bs_fault_error_name(code);
    assert_non_null(name);
    assert_bs_ok(bs_fault_error_parse(&back, name));
    assert_int_equal(back, code);
    /* The errno spelling of the representative errno maps to the same code
     * through the errno table too: the failinfo of a lower point round-trips. */
    assert_int_equal(bs_err_from_errno(bs_err_to_errno(code)), code);
  }
  assert_null(bs_fault_error_name(BS_OK));
  assert_null(bs_fault_error_name(-1000));
  int e = 0;
  assert_bs_ok(bs_fault_error_parse(&e, "enospc"));
  assert_int_equal(e, BS_ENO_SPACE);
  assert_bs_ok(bs_fault_error_parse(&e, "eperm"));
  assert_int_equal(e, BS_EPERMISSION);
  assert_bs_ok(bs_fault_error_parse(&e, "euclean"));
  assert_int_equal(e, BS_ECORRUPT);
  assert_bs_err(bs_fault_error_parse(&e, "ok"), BS_EINVALID);
  assert_bs_err(bs_fault_error_parse(&e, "No_space"), BS_EINVALID);
}

/* ---- catalogue ----------------------------------------------------------------- */

static void catalogue_lists_every_layer_once(void **state) {
  (void)state;
  const bs_fault_point_info *cat = NULL;
  size_t n = bs_fault_catalogue(&cat);
  size_t ops = 0, sims = 0, reals = 0;
  for (size_t i = 0; i < n; i++) {
    assert_true(strlen(cat[i].name) <= BS_FAULT_POINT_MAX);
    assert_true(cat[i].meaning[0] != '\0');
    ops += strncmp(cat[i].name, "bs/op/", 6) == 0;
    sims += strncmp(cat[i].name, "bs/sim/", 7) == 0;
    reals += strncmp(cat[i].name, "bs/real/", 8) == 0;
    size_t at = n;
    assert_bs_ok(bs_fault_point_find(&at, cat[i].name));
    assert_int_equal(at, i); /* names are unique */
  }
  assert_int_equal(ops + sims + reals, n);
  assert_int_equal(ops, 32); /* the ops of table version 3 with symlink, readlink, link */
  assert_true(sims >= 5);
  assert_true(reals >= 18);
  assert_bs_ok(bs_fault_point_find(NULL, "bs/real/ficlone"));
  assert_bs_ok(bs_fault_point_find(NULL, "bs/sim/alloc"));
  assert_bs_ok(bs_fault_point_find(NULL, "bs/op/reflink"));
  assert_bs_err(bs_fault_point_find(NULL, "bs/op/power_loss"), BS_ENOT_FOUND);
}

/* ---- the faults backend and its schedule --------------------------------------- */

static bs_store *open_faults(const char *inner, const char *spec, uint64_t seed) {
  bs_open_opts o = {.profile = "apfs", .seed = seed, .faults = spec};
  bs_store *st = NULL;
  int rc = bs_open(&st, inner, &o);
  if (rc != 0)
    fail_msg("open %s with \"%s\": %s", inner, spec, bs_err_name(rc));
  return st;
}

/* Drain every event of @st into @out (capacity @cap); returns the count. */
static size_t drain(bs_store *st, bs_fault_event *out, size_t cap) {
  size_t n = 0;
  assert_bs_ok(bs_faults_drain(st, out, cap, &n));
  return n;
}

static void nth_call_fails_once_and_from_nth_fails_on(void **state) {
  (void)state;
  bs_store *st = open_faults("faults:sim", "bs/op/create=io@3,bs/op/mkdir=permission@2+", 1);
  char path[32];
  for (int i = 1; i <= 5; i++) {
    snprintf(path, sizeof(path), "/f%d", i);
    int rc = bs_create(st, path, 0644);
    assert_int_equal(rc, i == 3 ? BS_EIO : BS_OK);
    if (i == 3) {
      assert_non_null(strstr(bs_last_message(st), "bs/op/create: injected fault (call 3)"));
      bs_stat_info si;
      assert_bs_err(bs_stat(st, path, &si), BS_ENOT_FOUND);
    }
    snprintf(path, sizeof(path), "/d%d", i);
    assert_int_equal(bs_mkdir(st, path, 0755), i >= 2 ? BS_EPERMISSION : BS_OK);
  }
  bs_fault_event ev[8];
  size_t n = drain(st, ev, 2);
  assert_int_equal(n, 2); /* the rest stay queued */
  assert_string_equal(ev[0].point, "bs/op/mkdir");
  assert_int_equal(ev[0].error, BS_EPERMISSION);
  assert_int_equal(ev[0].call, 2);
  assert_string_equal(ev[1].point, "bs/op/create");
  assert_int_equal(ev[1].error, BS_EIO);
  assert_int_equal(ev[1].call, 3);
  n = drain(st, ev, 8);
  assert_int_equal(n, 3);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(ev[i].point, "bs/op/mkdir");
    assert_int_equal(ev[i].call, 3 + i);
  }
  assert_int_equal(drain(st, ev, 8), 0);
  uint64_t fired = 0;
  assert_bs_ok(bs_faults_fired(st, &fired));
  assert_int_equal(fired, 5);
  assert_bs_ok(bs_check(st));
  bs_close(st);
}

/* Which of @n stat calls failed under "bs/op/stat=io%0.3" with @seed. */
static void prob_pattern(uint64_t seed, char *out, size_t n) {
  bs_store *st = open_faults("faults:sim", "bs/op/stat=io%0.3,bs/op/usage=io%0.5", seed);
  bs_stat_info si;
  bs_usage u;
  for (size_t i = 0; i < n; i++) {
    int rc = bs_stat(st, "/", &si);
    assert_true(rc == BS_OK || rc == BS_EIO);
    out[i] = rc ? 'x' : '.';
    if (i % 2) /* another point's draws never shift this one's */
      (void)bs_usage_get(st, &u);
  }
  out[n] = '\0';
  bs_close(st);
}

enum { PROB_N = 400 };

/* @pattern of a point failing with probability 0.3 is the same twice for
 * @seed, another for @seed + 1, and fails about as often as it should;
 * @a gets @seed's pattern. */
static void assert_seeded_pattern(void (*pattern)(uint64_t, char *, size_t), uint64_t seed,
                                  char a[PROB_N + 1]) {
  char b[PROB_N + 1], c[PROB_N + 1];
  pattern(seed, a, PROB_N);
  pattern(seed, b, PROB_N);
  pattern(seed + 1, c, PROB_N);
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  size_t fails = 0;
  for (size_t i = 0; i < PROB_N; i++)
    fails += a[i] == 'x';
  /* Binomial(400, 0.3): mean 120, sd 9.2; far outside means a broken draw. */
  assert_in_range(fails, 75, 165);
}

static void probability_is_seeded_and_reproducible(void **state) {
  (void)state;
  char a[PROB_N + 1];
  assert_seeded_pattern(prob_pattern, 7, a);
  /* The same stream with the other point never called: stat's draws are its own. */
  bs_store *st = open_faults("faults:sim", "bs/op/stat=io%0.3,bs/op/usage=io%0.5", 7);
  bs_stat_info si;
  for (size_t i = 0; i < PROB_N; i++)
    assert_int_equal(bs_stat(st, "/", &si), a[i] == 'x' ? BS_EIO : BS_OK);
  bs_close(st);
}

/* Which of @n writes failed under "bs/sim/write=io%0.3" with @seed: a
 * lower point, decided in libfiu's external callback by the schedule. */
static void sim_prob_pattern(uint64_t seed, char *out, size_t n) {
  bs_store *st = open_faults("faults:sim", "bs/sim/write=io%0.3", seed);
  assert_bs_ok(bs_create(st, "/f", 0644));
  for (size_t i = 0; i < n; i++) {
    uint8_t b = (uint8_t)i;
    int rc = bs_write(st, "/f", i, &b, 1);
    assert_true(rc == BS_OK || rc == BS_EIO);
    out[i] = rc ? 'x' : '.';
  }
  out[n] = '\0';
  bs_fault_event ev[8];
  size_t fired = 0, got;
  while ((got = drain(st, ev, 8)) > 0)
    fired += got;
  size_t want = 0;
  for (size_t i = 0; i < n; i++)
    want += out[i] == 'x';
  assert_int_equal(fired, want); /* every failure is a logged fault */
  bs_close(st);
}

static void lower_point_probability_is_seeded_and_reproducible(void **state) {
  (void)state;
  if (!bs_faults_lower_available())
    skip();
  char a[PROB_N + 1];
  assert_seeded_pattern(sim_prob_pattern, 11, a);
}

static void reflink_failure_leaves_no_destination(bs_store *st, const char *point_desc, int want) {
  bs_test_put(st, "/src", 3 * BLK + 17, 5);
  assert_bs_ok(bs_setxattr(st, "/src", "user.k", "v", 1));
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage before = bs_test_usage(st);
  assert_bs_err(bs_reflink(st, "/src", "/dst"), want);
  assert_non_null(strstr(bs_last_message(st), point_desc));
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/dst", &si), BS_ENOT_FOUND);
  bs_test_assert_put(st, "/src", 3 * BLK + 17, 5);
  bs_usage after = bs_test_usage(st);
  assert_memory_equal(&before, &after, sizeof(before));
  assert_bs_ok(bs_check(st));
  /* The fault was transient: the retry works and shares every block. */
  assert_bs_ok(bs_reflink(st, "/src", "/dst"));
  bs_test_assert_put(st, "/dst", 3 * BLK + 17, 5);
  after = bs_test_usage(st);
  assert_int_equal(after.used_bytes, before.used_bytes);
  assert_bs_ok(bs_check(st));
}

static void injected_reflink_failure_leaves_no_partial_result(void **state) {
  (void)state;
  bs_store *st = open_faults("faults:sim", "bs/op/reflink=enospc@1", 3);
  reflink_failure_leaves_no_destination(st, "bs/op/reflink: injected fault", BS_ENO_SPACE);
  bs_close(st);
  if (!bs_faults_lower_available()) {
    print_message("    [ skipped  ] bs/sim/reflink: built without libfiu\n");
    return;
  }
  st = open_faults("faults:sim", "bs/sim/reflink=enospc@1", 3);
  reflink_failure_leaves_no_destination(st, "bs/sim/reflink: injected fault", BS_ENO_SPACE);
  bs_fault_event ev[4];
  assert_int_equal(drain(st, ev, 4), 1);
  assert_string_equal(ev[0].point, "bs/sim/reflink");
  assert_int_equal(ev[0].error, BS_ENO_SPACE);
  assert_int_equal(ev[0].call, 1);
  bs_close(st);
}

static void sim_alloc_point_fires_inside_the_sim(void **state) {
  (void)state;
  if (!bs_faults_lower_available())
    skip();
  bs_store *st = open_faults("faults:sim", "bs/sim/alloc=enospc@2", 4);
  bs_test_put(st, "/a", 2 * BLK, 1); /* allocation call 1 */
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage before = bs_test_usage(st);
  uint8_t *buf = bs_test_pattern(BLK, 9);
  /* Rewriting a synced block copies it (CoW): allocation call 2 fails. */
  assert_bs_err(bs_write(st, "/a", BLK, buf, BLK), BS_ENO_SPACE);
  assert_non_null(strstr(bs_last_message(st), "bs/sim/alloc: injected fault"));
  bs_test_assert_put(st, "/a", 2 * BLK, 1);
  bs_usage after = bs_test_usage(st);
  assert_memory_equal(&before, &after, sizeof(before));
  assert_bs_ok(bs_check(st));
  assert_bs_ok(bs_write(st, "/a", BLK, buf, BLK)); /* call 3 */
  bs_fault_event ev[4];
  assert_int_equal(drain(st, ev, 4), 1);
  assert_string_equal(ev[0].point, "bs/sim/alloc");
  assert_int_equal(ev[0].call, 2);
  free(buf);
  bs_close(st);
}

/* A failing snapshot or branch delete frees nothing: the tree is still
 * listed and reads back, the space and the branch count are as before. */
static void sim_snapshot_delete_fault_frees_nothing(void **state) {
  (void)state;
  if (!bs_faults_lower_available())
    skip();
  for (int round = 0; round < 2; round++) {
    /* Round 0 fails the branch delete (call 1), round 1 the snapshot delete
     * (call 2: a BUSY answer does not reach the point). */
    bs_store *st = open_faults("faults:sim",
                               round == 0 ? "bs/sim/snapshot_delete=tool_failed@1" : "bs/sim/snapshot_delete=io@2", 6);
    bs_test_put(st, "/a", 3 * BLK, 7);
    bs_snapshot_info si;
    assert_bs_ok(bs_snapshot_create(st, "s", &si));
    assert_bs_ok(bs_branch_create(st, si.id, "b"));
    uint8_t *own = bs_test_pattern(3 * BLK, 8);
    assert_bs_ok(bs_write(st, "/.bs/branches/b/a", 0, own, 3 * BLK)); /* blocks of the branch's own */
    free(own);
    assert_bs_err(bs_snapshot_delete(st, si.id), BS_EBUSY);
    bs_usage before = bs_test_usage(st);
    if (round == 0) {
      assert_bs_err(bs_branch_delete(st, "b"), BS_ETOOL_FAILED);
      assert_non_null(strstr(bs_last_message(st), "bs/sim/snapshot_delete: injected fault"));
      bs_test_assert_put(st, "/.bs/branches/b/a", 3 * BLK, 8);
      bs_usage after = bs_test_usage(st);
      assert_memory_equal(&before, &after, sizeof(before));
      assert_bs_err(bs_snapshot_delete(st, si.id), BS_EBUSY); /* the branch still holds it */
    }
    assert_bs_ok(bs_branch_delete(st, "b"));
    if (round == 1) {
      before = bs_test_usage(st);
      assert_bs_err(bs_snapshot_delete(st, si.id), BS_EIO);
      bs_test_assert_put(st, "/.bs/snapshots/s/a", 3 * BLK, 7);
      bs_usage after = bs_test_usage(st);
      assert_memory_equal(&before, &after, sizeof(before));
    }
    assert_bs_ok(bs_check(st));
    assert_bs_ok(bs_snapshot_delete(st, si.id));
    bs_fault_event ev[4];
    assert_int_equal(drain(st, ev, 4), 1);
    assert_string_equal(ev[0].point, "bs/sim/snapshot_delete");
    assert_int_equal(ev[0].call, round + 1);
    bs_close(st);
  }
}

static void sim_points_fire_only_in_the_faults_store(void **state) {
  (void)state;
  if (!bs_faults_lower_available())
    skip();
  bs_store *st = open_faults("faults:sim", "bs/sim/write=io@1+", 5);
  bs_store *plain = bs_test_open_sim("apfs", 5);
  bs_test_put(plain, "/p", 100, 2); /* a plain sim store is never faulted */
  uint8_t b = 1;
  assert_bs_ok(bs_create(st, "/f", 0644));
  assert_bs_err(bs_write(st, "/f", 0, &b, 1), BS_EIO);
  assert_bs_err(bs_truncate(st, "/f", 10), BS_EIO);
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, "/f", &si));
  assert_int_equal(si.size, 0);
  /* One armed schedule per process: a second one is BUSY, an op-only one is not. */
  bs_open_opts o = {.profile = "apfs", .faults = "bs/sim/sync=io@1"};
  bs_store *other = NULL;
  assert_bs_err(bs_open(&other, "faults:sim", &o), BS_EBUSY);
  assert_null(other);
  o.faults = "bs/op/sync=io@1";
  assert_bs_ok(bs_open(&other, "faults:sim", &o));
  bs_close(other);
  bs_close(plain);
  bs_close(st);
  /* A wrapper inside the armed one (its own spec is empty) keeps it in force. */
  st = open_faults("faults:faults:sim", "bs/sim/write=io@1", 5);
  assert_bs_ok(bs_create(st, "/f", 0644));
  assert_bs_err(bs_write(st, "/f", 0, &b, 1), BS_EIO);
  assert_bs_ok(bs_write(st, "/f", 0, &b, 1));
  bs_close(st);
  /* Closing released the slot. */
  o.faults = "bs/sim/sync=io@1";
  assert_bs_ok(bs_open(&other, "faults:sim", &o));
  bs_close(other);
}

static void open_refuses_bad_arguments(void **state) {
  (void)state;
  bs_open_opts o = {.profile = "apfs", .faults = "bs/op/write=eio@0"};
  bs_store *st = NULL;
  assert_bs_err(bs_open(&st, "faults:sim", &o), BS_EINVALID);
  o.faults = NULL;
  assert_bs_err(bs_open(&st, "faults", &o), BS_EINVALID);
  assert_bs_err(bs_open(&st, "faults:", &o), BS_EINVALID);
  assert_bs_err(bs_open(&st, "faults:nosuch", &o), BS_ENOT_FOUND);
  assert_null(st);
  if (!bs_faults_lower_available()) { /* built without libfiu: lower points cannot fire */
    o.faults = "bs/sim/write=io@1";
    assert_bs_err(bs_open(&st, "faults:sim", &o), BS_EUNSUPPORTED);
    o.faults = NULL;
  }
  assert_bs_ok(bs_open(&st, "faults:sim", &o)); /* no spec: a transparent wrapper */
  bs_caps c;
  assert_bs_ok(bs_get_caps(st, &c));
  assert_string_equal(c.fs_type_name, "apfs");
  bs_fault_event ev[1];
  size_t n = 1;
  assert_bs_ok(bs_faults_drain(st, ev, 1, &n));
  assert_int_equal(n, 0);
  bs_close(st);
  bs_store *plain = bs_test_open_sim("apfs", 1);
  assert_bs_err(bs_faults_drain(plain, ev, 1, &n), BS_EINVALID);
  uint64_t fired;
  assert_bs_err(bs_faults_fired(plain, &fired), BS_EINVALID);
  bs_close(plain);
}

static void store_create_is_forwarded_to_the_inner_backend(void **state) {
  (void)state;
  char base[] = "/tmp/bs-faults-XXXXXX";
  assert_non_null(mkdtemp(base));
  char plain_root[64], root[64];
  snprintf(plain_root, sizeof(plain_root), "%s/plain", base);
  snprintf(root, sizeof(root), "%s/store", base);
  /* Whatever the inner backend answers, the wrapper answers the same. */
  bs_open_opts o = {.root = plain_root};
  int want = bs_store_create("real", &o);
  o.root = root;
  o.faults = "bs/op/create=io@1";
  assert_int_equal(bs_store_create("faults:real", &o), want);
  struct stat sb;
  if (want == 0) {
    assert_int_equal(stat(root, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_bs_err(bs_store_create("faults:real", &o), BS_EEXISTS);
  } else {
    assert_int_equal(mkdir(root, 0755), 0);
  }
  assert_bs_err(bs_store_create("faults", &o), BS_EINVALID);
  assert_bs_err(bs_store_create("faults:sim", &o), BS_EUNSUPPORTED);
  /* A store there opens through the wrapper, and its spec applies. */
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "faults:real", &o));
  assert_bs_err(bs_create(st, "/a", 0644), BS_EIO);
  assert_bs_ok(bs_create(st, "/a", 0644));
  bs_close(st);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
  assert_int_equal(system(cmd), 0);
}

/* ---- invariants under random faults ---------------------------------------------- */

enum { NFILES = 4, FMAX = 6 * BLK };

typedef struct model {
  uint8_t live[NFILES][FMAX], dur[NFILES][FMAX];
  uint64_t lsize[NFILES], dsize[NFILES];
} model;

static void assert_file(bs_store *st, int i, const uint8_t *want, uint64_t size, int step) {
  char path[16];
  snprintf(path, sizeof(path), "/f%d", i);
  size_t len = 0;
  uint8_t *got = bs_test_slurp(st, path, &len);
  if (len != size || memcmp(got, want, len) != 0)
    fail_msg("step %d: %s holds %zu bytes, the model %llu (or different bytes)", step, path, len,
             (unsigned long long)size);
  free(got);
}

/* Writes, truncates, syncs, clones, snapshots and power losses under random
 * sim and op faults: a failed op changes nothing (not even the space
 * accounting; no clone or snapshot is left half made), space and refcounts
 * stay exact (bs_check), and after a power loss every file reads back as it
 * was when it was last made durable (sync, clone source, snapshot). */
static void faults_keep_synced_data_and_exact_space(void **state) {
  (void)state;
  const char *spec = bs_faults_lower_available()
                         ? "bs/sim/write=io%0.1,bs/sim/alloc=enospc%0.1,bs/sim/sync=io%0.2,"
                           "bs/sim/reflink=enospc%0.2,bs/sim/snapshot=tool_failed%0.3,"
                           "bs/op/write=io%0.05,bs/op/truncate=no_space%0.05"
                         : "bs/op/write=io%0.1,bs/op/truncate=no_space%0.1,bs/op/sync=io%0.2,"
                           "bs/op/reflink=enospc%0.2,bs/op/snapshot_create=tool_failed%0.3";
  bs_store *st = open_faults("faults:sim", spec, bs_test_seed());
  model *m = calloc(1, sizeof(*m));
  assert_non_null(m);
  uint64_t x = bs_test_seed() * 2654435761u + 1;
#define NEXT() (x = x * 6364136223846793005ull + 1442695040888963407ull, x >> 33)
  char path[16];
  for (int i = 0; i < NFILES; i++) {
    snprintf(path, sizeof(path), "/f%d", i);
    assert_bs_ok(bs_create(st, path, 0644));
  }
  int fired_ops = 0;
  /* At least 200 steps, so even a short (valgrind) run sees faults of each kind. */
  int steps = bs_test_iterations(1500) < 200 ? 200 : bs_test_iterations(1500);
  for (int step = 0; step < steps; step++) {
    int i = (int)(NEXT() % NFILES), what = (int)(NEXT() % 13);
    snprintf(path, sizeof(path), "/f%d", i);
    bs_usage before = bs_test_usage(st);
    int rc;
    if (what < 5) {
      uint64_t off = NEXT() % (FMAX - 1), len = 1 + NEXT() % (FMAX - off);
      uint8_t buf[FMAX];
      for (uint64_t k = 0; k < len; k++)
        buf[k] = (uint8_t)NEXT();
      rc = bs_write(st, path, off, buf, (size_t)len);
      if (rc == 0) {
        memcpy(m->live[i] + off, buf, len);
        if (off + len > m->lsize[i])
          m->lsize[i] = off + len;
      }
    } else if (what < 7) {
      uint64_t size = NEXT() % (FMAX + 1);
      rc = bs_truncate(st, path, size);
      if (rc == 0) {
        if (size < m->lsize[i])
          memset(m->live[i] + size, 0, m->lsize[i] - size);
        m->lsize[i] = size;
      }
    } else if (what < 9) {
      rc = bs_sync(st, NULL);
      if (rc == 0)
        for (int k = 0; k < NFILES; k++) {
          memcpy(m->dur[k], m->live[k], FMAX);
          m->dsize[k] = m->lsize[k];
        }
    } else if (what < 10) {
      assert_bs_ok(bs_power_loss(st, BS_POWER_LOSS_DROP));
      for (int k = 0; k < NFILES; k++) {
        memcpy(m->live[k], m->dur[k], FMAX);
        m->lsize[k] = m->dsize[k];
      }
      rc = 0;
    } else if (what < 12) {
      /* Clone f<j> over f<i>: reflink to a fresh name (this makes f<j>
       * durable, like FICLONE), then rename it over. */
      int j = (int)(NEXT() % NFILES);
      char src[16];
      snprintf(src, sizeof(src), "/f%d", j);
      rc = bs_reflink(st, src, "/c");
      bs_stat_info si;
      if (rc != 0) {
        assert_bs_err(bs_stat(st, "/c", &si), BS_ENOT_FOUND); /* no half-made clone */
      } else {
        assert_bs_ok(bs_rename(st, "/c", path));
        memcpy(m->dur[j], m->live[j], FMAX);
        m->dsize[j] = m->lsize[j];
        memcpy(m->live[i], m->live[j], FMAX);
        memcpy(m->dur[i], m->live[j], FMAX);
        m->lsize[i] = m->dsize[i] = m->lsize[j];
      }
    } else {
      /* A snapshot syncs everything and holds exactly the live files. */
      bs_snapshot_info old;
      if (bs_snapshot_lookup(st, "s", &old) == 0) {
        assert_bs_ok(bs_snapshot_delete(st, old.id));
        before = bs_test_usage(st);
      }
      rc = bs_snapshot_create(st, "s", NULL);
      if (rc != 0) {
        assert_bs_err(bs_snapshot_lookup(st, "s", &old), BS_ENOT_FOUND); /* no half-made snapshot */
      } else {
        for (int k = 0; k < NFILES; k++) {
          memcpy(m->dur[k], m->live[k], FMAX);
          m->dsize[k] = m->lsize[k];
          char sp[64];
          snprintf(sp, sizeof(sp), "/.bs/snapshots/s/f%d", k);
          bs_test_assert_content(st, sp, m->live[k], m->lsize[k]);
        }
      }
    }
    if (rc != 0) {
      fired_ops++;
      if (rc != BS_EIO && rc != BS_ENO_SPACE && rc != BS_ETOOL_FAILED)
        fail_msg("step %d: %s (%s)", step, bs_err_name(rc), bs_last_message(st));
      bs_usage after = bs_test_usage(st);
      if (memcmp(&before, &after, sizeof(before)) != 0)
        fail_msg("step %d: a failed op (%s) changed the space accounting", step, bs_last_message(st));
    }
    if (bs_check(st) != 0)
      fail_msg("step %d: check: %s", step, bs_last_message(st));
    for (int k = 0; k < NFILES; k++)
      assert_file(st, k, m->live[k], m->lsize[k], step);
  }
  uint64_t fired = 0;
  assert_bs_ok(bs_faults_fired(st, &fired));
  assert_int_equal(fired, (uint64_t)fired_ops); /* every failure was an injected one */
  assert_true(fired >= (uint64_t)steps / 50);
  free(m);
  bs_close(st);
#undef NEXT
}

/* ---- real points through faults:real ----------------------------------------------- */

/* A fresh store directory on @fs's shared volume (a subvolume on btrfs, as
 * bs_store_create makes it), or skip where real volumes cannot be made. */
static void real_root(const char *fs, char dir[4096]) {
  if (!bs_faults_lower_available())
    skip();
  const bs_vol *v = bs_test_volume(fs);
  static unsigned n;
  if (snprintf(dir, 4096, "%.4000s/faults-%u-%u", v->mnt, (unsigned)getpid(), n++) >= 4096)
    fail_msg("mount point too long");
  bs_open_opts o = {.root = dir};
  assert_bs_ok(bs_store_create("real", &o));
}

static bs_store *open_real_faults(const char *dir, const char *spec) {
  bs_open_opts o = {.root = dir, .seed = 1, .faults = spec};
  bs_store *st = NULL;
  int rc = bs_open(&st, "faults:real", &o);
  if (rc != 0)
    fail_msg("open faults:real on %s with \"%s\": %s", dir, spec, bs_err_name(rc));
  return st;
}

static void assert_no_host_file(const char *dir, const char *name) {
  char host[4200];
  snprintf(host, sizeof(host), "%s/%s", dir, name);
  struct stat sb;
  if (lstat(host, &sb) == 0)
    fail_msg("%s exists after a failed clone", host);
}

/* A clone that fails in the kernel (ficlone) or while copying its xattrs
 * leaves no destination, and the source as it was. */
static void real_clone_faults_leave_no_destination(void **state) {
  (void)state;
  static const char *const fs[] = {"btrfs", "xfs"};
  for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
    char dir[4096];
    real_root(fs[i], dir);
    bs_store *st = open_real_faults(dir, "bs/real/ficlone=enospc@1");
    bs_test_put(st, "/src", 5 * BLK + 3, 7);
    assert_bs_ok(bs_setxattr(st, "/src", "user.k", "v", 1));
    assert_bs_ok(bs_sync(st, NULL));
    assert_bs_err(bs_reflink(st, "/src", "/dst"), BS_ENO_SPACE);
    assert_int_equal(bs_last_os_errno(st), ENOSPC);
    assert_no_host_file(dir, "dst");
    bs_test_assert_put(st, "/src", 5 * BLK + 3, 7);
    bs_fault_event ev[2];
    assert_int_equal(drain(st, ev, 2), 1);
    assert_string_equal(ev[0].point, "bs/real/ficlone");
    assert_int_equal(ev[0].error, BS_ENO_SPACE);
    assert_bs_ok(bs_reflink(st, "/src", "/dst")); /* transient: the retry clones */
    bs_test_assert_put(st, "/dst", 5 * BLK + 3, 7);
    bs_close(st);
    /* The same store again: the clone's xattr copy fails, after the ioctl. */
    st = open_real_faults(dir, "bs/real/setxattr=permission@1");
    assert_bs_err(bs_reflink(st, "/src", "/dst2"), BS_EPERMISSION);
    assert_no_host_file(dir, "dst2");
    assert_int_equal(drain(st, ev, 2), 1);
    assert_string_equal(ev[0].point, "bs/real/setxattr");
    size_t len = 0;
    char val[4];
    assert_bs_ok(bs_getxattr(st, "/src", "user.k", val, sizeof(val), &len));
    assert_int_equal(len, 1);
    bs_test_assert_put(st, "/src", 5 * BLK + 3, 7);
    bs_close(st);
  }
}

/* A btrfs snapshot whose ioctl fails is not half made: not listed, and the
 * name is free for the retry. */
static void real_snapshot_fault_leaves_no_snapshot(void **state) {
  (void)state;
  char dir[4096];
  real_root("btrfs", dir);
  bs_store *st = open_real_faults(dir, "bs/real/snap_create=io@1");
  bs_test_put(st, "/a", 2 * BLK, 3);
  assert_bs_ok(bs_sync(st, NULL));
  assert_bs_err(bs_snapshot_create(st, "s1", NULL), BS_EIO);
  bs_snapshot_info *list = NULL;
  size_t n = 99;
  assert_bs_ok(bs_snapshot_list(st, &list, &n));
  assert_int_equal(n, 0);
  free(list);
  bs_snapshot_info info;
  assert_bs_err(bs_snapshot_lookup(st, "s1", &info), BS_ENOT_FOUND);
  bs_fault_event ev[2];
  assert_int_equal(drain(st, ev, 2), 1);
  assert_string_equal(ev[0].point, "bs/real/snap_create");
  assert_bs_ok(bs_snapshot_create(st, "s1", &info));
  bs_test_assert_put(st, "/.bs/snapshots/s1/a", 2 * BLK, 3);
  assert_bs_ok(bs_snapshot_delete(st, info.id));
  bs_close(st);
}

/* ---- bslab faults ------------------------------------------------------------------ */

/* Run "bslab ARGS" through the shell; its stdout (and stderr) into @out. */
static int run_bslab(const char *args, char *out, size_t cap) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s %s 2>&1", bs_test_bslab(), args);
  return bs_cli_shell(cmd, out, cap);
}

static void cli_lists_the_catalogue_and_checks_specs(void **state) {
  (void)state;
  static char out[1 << 16];
  const bs_fault_point_info *cat;
  size_t n = bs_fault_catalogue(&cat);
  assert_int_equal(run_bslab("faults list", out, sizeof(out)), 0);
  size_t lines = 0;
  for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
    lines++;
  assert_int_equal(lines, n);
  for (size_t i = 0; i < n; i++) {
    const char *at = strstr(out, cat[i].name);
    if (!at || !strstr(at, cat[i].meaning))
      fail_msg("bslab faults list lacks %s with its meaning", cat[i].name);
  }
  assert_int_equal(run_bslab("faults list --format json", out, sizeof(out)), 0);
  assert_true(out[0] == '[');
  assert_non_null(strstr(out, "{\"point\": \"bs/real/ficlone\", \"meaning\": "));
  assert_int_equal(run_bslab("faults check 'bs/op/write=eio@3, bs/sim/*=enospc%0.010'", out, sizeof(out)), 0);
  assert_string_equal(out, "bs/op/write=io@3,bs/sim/*=no_space%0.01\n");
  assert_int_equal(run_bslab("faults check bs/op/wrte=eio", out, sizeof(out)), 2);
  assert_non_null(strstr(out, "column 1: term 'bs/op/wrte=eio': unknown fault point"));
  assert_non_null(strstr(out, "did you mean bs/op/write?"));
  assert_int_equal(run_bslab("faults list --format ssz", out, sizeof(out)), 2);
  assert_int_equal(run_bslab("faults frobnicate", out, sizeof(out)), 2);
  assert_int_equal(run_bslab("faults --help", out, sizeof(out)), 0);
  assert_non_null(strstr(out, "usage: bslab faults list"));
}

/* bs_faults_wrap: an open store wrapped with a spec; the injected error
 * changes nothing, the wrapper's close leaves the inner store open. */
static void wrap_borrows_an_open_store(void **state) {
  (void)state;
  bs_store *sim = bs_test_open_sim("apfs", 3), *w = NULL;
  assert_int_equal(bs_create(sim, "/f", 0644), 0);
  assert_int_equal(bs_faults_wrap(&w, NULL, "", 0), BS_EINVALID);
  assert_int_equal(bs_faults_wrap(&w, sim, "bs/op/wirte=eio", 0), BS_EINVALID);
  assert_null(w);
  assert_int_equal(bs_faults_wrap(&w, sim, "bs/op/write=no_space@2", 3), 0);
  assert_int_equal(bs_write(w, "/f", 0, "a", 1), 0);
  assert_int_equal(bs_write(w, "/f", 1, "b", 1), BS_ENO_SPACE);
  assert_int_equal(bs_write(w, "/f", 1, "c", 1), 0);
  uint64_t fired = 0;
  assert_int_equal(bs_faults_fired(w, &fired), 0);
  assert_int_equal(fired, 1);
  bs_close(w);
  char buf[4] = {0};
  size_t got = 0;
  assert_int_equal(bs_read(sim, "/f", 0, buf, sizeof(buf), &got), 0); /* still open */
  assert_int_equal(got, 2);
  assert_string_equal(buf, "ac");
  assert_int_equal(bs_check(sim), 0);
  bs_close(sim);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(spec_parses_every_trigger_form),
    cmocka_unit_test(wrap_borrows_an_open_store),
    cmocka_unit_test(spec_format_then_parse_is_identity),
    cmocka_unit_test(spec_errors_name_the_column_and_term),
    cmocka_unit_test(spec_format_refuses_a_term_the_parser_would_not_read),
    cmocka_unit_test(error_names_cover_every_code),
    cmocka_unit_test(catalogue_lists_every_layer_once),
    cmocka_unit_test(nth_call_fails_once_and_from_nth_fails_on),
    cmocka_unit_test(probability_is_seeded_and_reproducible),
    cmocka_unit_test(lower_point_probability_is_seeded_and_reproducible),
    cmocka_unit_test(injected_reflink_failure_leaves_no_partial_result),
    cmocka_unit_test(sim_alloc_point_fires_inside_the_sim),
    cmocka_unit_test(sim_snapshot_delete_fault_frees_nothing),
    cmocka_unit_test(sim_points_fire_only_in_the_faults_store),
    cmocka_unit_test(open_refuses_bad_arguments),
    cmocka_unit_test(store_create_is_forwarded_to_the_inner_backend),
    cmocka_unit_test(faults_keep_synced_data_and_exact_space),
    cmocka_unit_test(real_clone_faults_leave_no_destination),
    cmocka_unit_test(real_snapshot_fault_leaves_no_snapshot),
    cmocka_unit_test(cli_lists_the_catalogue_and_checks_specs),
  };
  return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
