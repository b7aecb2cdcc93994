/* The regression gate's decision logic (bench/gate.py, docs/bench.md), fast
 * enough for make check: its self-test on synthetic data, and the compare
 * command's exit status and table on a +5 % boundary.  (The gate itself,
 * under valgrind, is make bench-gate; bench/prove-gate.sh proves it.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"

static char dir[] = "/tmp/bs-gate-test-XXXXXX";

static void write_counts(const char *name, unsigned long a, unsigned long b) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "{\"version\": 1, \"ir\": {\"campaign-apfs\": %lu, \"ssz\": %lu}}\n", a, b);
  fclose(f);
}

static void gate_self_test_passes(void **state) {
  (void)state;
  char out[4096];
  assert_int_equal(bs_cli_shell("python3 bench/gate.py self-test 2>&1", out, sizeof(out)), 0);
  assert_non_null(strstr(out, "self-test: passed"));
}

static void gate_compare_fails_above_five_percent(void **state) {
  (void)state;
  char out[4096], cmd[512];
  write_counts("base.json", 1000000, 500);
  write_counts("same.json", 1000000, 500);
  write_counts("plus5.json", 1050000, 500);  /* exactly +5 %: passes */
  write_counts("plus6.json", 1060000, 500);  /* +6 %: fails */
  snprintf(cmd, sizeof(cmd), "python3 bench/gate.py compare %s/base.json %s/same.json 2>&1", dir, dir);
  assert_int_equal(bs_cli_shell(cmd, out, sizeof(out)), 0);
  snprintf(cmd, sizeof(cmd), "python3 bench/gate.py compare %s/base.json %s/plus5.json 2>&1", dir, dir);
  assert_int_equal(bs_cli_shell(cmd, out, sizeof(out)), 0);
  assert_non_null(strstr(out, "+5.00%"));
  snprintf(cmd, sizeof(cmd), "python3 bench/gate.py compare %s/base.json %s/plus6.json 2>&1", dir, dir);
  assert_int_equal(bs_cli_shell(cmd, out, sizeof(out)), 1);
  assert_non_null(strstr(out, "+6.00%"));
  assert_non_null(strstr(out, "FAIL"));
}

static int setup(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(gate_self_test_passes),
    cmocka_unit_test(gate_compare_fails_above_five_percent),
  };
  return cmocka_run_group_tests_name("bench_gate", tests, setup, teardown);
}
