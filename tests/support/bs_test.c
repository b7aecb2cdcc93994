#include "tests/support/bs_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"

uint64_t bs_test_seed(void) {
  const char *s = getenv("BS_TEST_SEED");
  return s && *s ? strtoull(s, NULL, 0) : 0x5eed2026ull;
}

int bs_test_env_count(const char *name, int dflt) {
  const char *s = getenv(name);
  int n = s && *s ? atoi(s) : 0;
  return n > 0 ? n : dflt;
}

int bs_test_iterations(int dflt) { return bs_test_env_count("BS_TEST_ITER", dflt); }

const char *bs_test_bslab(void) {
  const char *s = getenv("BSLAB");
  return s && *s ? s : "build/bslab";
}

bs_store *bs_test_open_sim(const char *profile, uint64_t seed) {
  return bs_test_open_sim_sized(profile, seed, 0);
}

bs_store *bs_test_open_sim_sized(const char *profile, uint64_t seed, uint64_t capacity) {
  bs_store *st = NULL;
  bs_open_opts o = {.profile = profile, .seed = seed, .capacity = capacity};
  int rc = bs_open(&st, "sim", &o);
  if (rc != 0)
    fail_msg("bs_open(sim, %s) returned %s", profile, bs_err_name(rc));
  return st;
}

bool bs_want_reflink(const bs_caps *c) { return c->native_reflink; }
bool bs_want_no_reflink(const bs_caps *c) { return !c->native_reflink; }
bool bs_want_snapshots(const bs_caps *c) { return c->native_snapshots; }
bool bs_want_no_snapshots(const bs_caps *c) { return !c->native_snapshots; }

void bs_test_each_target(bs_target_pred want, bs_target_body body, void *ctx, uint64_t seed) {
  int ran = 0;
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++) {
    bs_target t = {.backend = "sim", .profile = bs_sim_profile_names[i]};
    char label[64];
    snprintf(label, sizeof(label), "sim:%s", t.profile);
    t.label = label;
    bs_store *st = bs_test_open_sim(t.profile, seed);
    assert_bs_ok(bs_get_caps(st, &t.caps));
    if (want && !want(&t.caps)) {
      bs_close(st);
      continue;
    }
    print_message("    [ target   ] %s\n", label);
    body(st, &t, ctx);
    bs_close(st);
    ran++;
  }
  if (ran == 0)
    fail_msg("no target supports this behaviour");
}

uint8_t *bs_test_pattern(size_t len, uint8_t fill) {
  uint8_t *p = malloc(len ? len : 1);
  assert_non_null(p);
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(fill + i * 7);
  return p;
}

void bs_test_put(bs_store *st, const char *path, size_t len, uint8_t fill) {
  uint8_t *buf = bs_test_pattern(len, fill);
  assert_bs_ok(bs_create(st, path, 0644));
  if (len)
    assert_bs_ok(bs_write(st, path, 0, buf, len));
  free(buf);
}

uint8_t *bs_test_slurp(bs_store *st, const char *path, size_t *len) {
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, path, &si));
  uint8_t *buf = malloc(si.size ? si.size : 1);
  assert_non_null(buf);
  size_t got = 0;
  assert_bs_ok(bs_read(st, path, 0, buf, si.size, &got));
  assert_int_equal(got, si.size);
  *len = got;
  return buf;
}

void bs_test_assert_content(bs_store *st, const char *path, const uint8_t *want, size_t len) {
  size_t got = 0;
  uint8_t *buf = bs_test_slurp(st, path, &got);
  assert_int_equal(got, len);
  if (len)
    assert_memory_equal(buf, want, len);
  free(buf);
}

void bs_test_assert_put(bs_store *st, const char *path, size_t len, uint8_t fill) {
  uint8_t *want = bs_test_pattern(len, fill);
  bs_test_assert_content(st, path, want, len);
  free(want);
}

bs_usage bs_test_usage(bs_store *st) {
  bs_usage u;
  assert_bs_ok(bs_usage_get(st, &u));
  return u;
}

static int append_name(void *ctx, const char *name, bs_file_kind kind) {
  char *acc = ctx;
  size_t n = strlen(acc);
  snprintf(acc + n, BS_TEST_LISTING_MAX - n, "%s%s;", name, kind == BS_KIND_DIR ? "/" : "");
  return 0;
}

void bs_test_listing(bs_store *st, const char *path, char out[BS_TEST_LISTING_MAX]) {
  out[0] = '\0';
  assert_bs_ok(bs_readdir(st, path, append_name, out));
}
