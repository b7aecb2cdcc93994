/* macOS RAM disks through the DESIGN §7 seam, on Linux: the steps of
 * real/ramdisk_darwin.c (hdiutil attach -nomount ram://N, diskutil apfs
 * createContainer, addVolume, info; eject) run against a scripted tool
 * runner that answers with recorded outputs (tests/data/ramdisk/).  What
 * runs here is the logic and the parsers; the real tools run on macOS only
 * (macos.yml): "not run here". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "real/ramdisk.h"
#include "tests/support/bs_test.h"

/* One scripted step: the command it expects (argv joined by spaces, without
 * the tool's directory) and what the tool answers. */
typedef struct step {
  const char *cmd;
  int status;       /* exit status, or -1: the tool cannot be started (ENOENT) */
  const char *out;  /* file of tests/data/ramdisk/ for stdout, or NULL */
  const char *err;  /* file for stderr, or NULL */
} step;

typedef struct script {
  const step *steps;
  size_t n, at;
  char log[8][256]; /* the commands run */
} script;

static int run(void *ctx, const char *const argv[], bs__tool_result *r) {
  script *s = ctx;
  char cmd[256] = "";
  for (size_t i = 0; argv[i]; i++) {
    const char *a = i == 0 && strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
    snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", i ? " " : "", a);
  }
  if (s->at >= s->n)
    fail_msg("unexpected command after the script: %s", cmd);
  const step *st = &s->steps[s->at];
  snprintf(s->log[s->at < 8 ? s->at : 7], sizeof(s->log[0]), "%s", cmd);
  s->at++;
  assert_string_equal(cmd, st->cmd);
  if (st->status < 0)
    return -ENOENT;
  char name[128];
  memset(r, 0, sizeof(*r));
  r->status = st->status;
  if (st->out) {
    snprintf(name, sizeof(name), "ramdisk/%s", st->out);
    r->out = bs_test_data_load(name, &r->out_len);
  }
  if (st->err) {
    snprintf(name, sizeof(name), "ramdisk/%s", st->err);
    r->err = bs_test_data_load(name, &r->err_len);
  }
  return 0;
}

#define ATTACH "hdiutil attach -nomount ram://204800"
#define CREATE "diskutil apfs createContainer /dev/disk4"
#define ADD "diskutil apfs addVolume disk5 APFS scratch"
#define INFO "diskutil info disk5s1"
#define EJECT "diskutil eject /dev/disk4"

static int make(const step *steps, size_t n, bs__darwin_rd *rd, char *msg, size_t cap) {
  script s = {steps, n, 0, {{0}}};
  int rc = bs__ramdisk_darwin_make(run, &s, 100, "scratch", rd, msg, cap);
  if (s.at != n)
    fail_msg("the script has %zu steps, %zu ran", n, s.at);
  return rc;
}

static void darwin_ramdisk_is_made_from_the_tools_output(void **state) {
  (void)state;
  static const step ok[] = {{ATTACH, 0, "hdiutil-attach.txt", NULL},
                            {CREATE, 0, "create-container.txt", NULL},
                            {ADD, 0, "add-volume.txt", NULL},
                            {INFO, 0, "info-volume.txt", NULL}};
  bs__darwin_rd rd;
  char msg[256] = "";
  assert_bs_ok(make(ok, 4, &rd, msg, sizeof(msg)));
  assert_string_equal(rd.ram_dev, "/dev/disk4");
  assert_string_equal(rd.container, "disk5");
  assert_string_equal(rd.volume, "disk5s1");
  assert_string_equal(rd.mount, "/Volumes/scratch");
  static const step ej[] = {{EJECT, 0, "eject.txt", NULL}};
  script s = {ej, 1, 0, {{0}}};
  assert_bs_ok(bs__ramdisk_darwin_eject(run, &s, rd.ram_dev, msg, sizeof(msg)));
  assert_int_equal(s.at, 1);
}

/* A failure at each step: the error (TOOL_FAILED quoting the tool, PARSE for
 * output we cannot read), and the RAM device ejected once it exists. */
static void darwin_ramdisk_failure_at_each_step_ejects_what_was_made(void **state) {
  (void)state;
  bs__darwin_rd rd;
  char msg[256];
  static const step attach_fails[] = {{ATTACH, 1, NULL, "hdiutil-attach-nospace.err"}};
  assert_int_equal(make(attach_fails, 1, &rd, msg, sizeof(msg)), BS_ETOOL_FAILED);
  assert_string_equal(msg, "hdiutil exited with status 1: hdiutil: attach failed - No space left on device");
  assert_string_equal(rd.ram_dev, "");
  static const step no_tool[] = {{ATTACH, -1, NULL, NULL}};
  assert_int_equal(make(no_tool, 1, &rd, msg, sizeof(msg)), BS_ETOOL_FAILED);
  assert_non_null(strstr(msg, "cannot run"));
  static const step attach_garbled[] = {{ATTACH, 0, "create-container.txt", NULL}};
  assert_int_equal(make(attach_garbled, 1, &rd, msg, sizeof(msg)), BS_EPARSE);
  assert_non_null(strstr(msg, "/dev/diskN"));
  static const step create_garbled[] = {{ATTACH, 0, "hdiutil-attach.txt", NULL},
                                        {CREATE, 0, "hdiutil-attach.txt", NULL},
                                        {EJECT, 0, "eject.txt", NULL}};
  assert_int_equal(make(create_garbled, 3, &rd, msg, sizeof(msg)), BS_EPARSE);
  assert_non_null(strstr(msg, "createContainer"));
  static const step add_fails[] = {{ATTACH, 0, "hdiutil-attach.txt", NULL},
                                   {CREATE, 0, "create-container.txt", NULL},
                                   {ADD, 1, NULL, "add-volume-failed.err"},
                                   {EJECT, 0, "eject.txt", NULL}};
  assert_int_equal(make(add_fails, 4, &rd, msg, sizeof(msg)), BS_ETOOL_FAILED);
  assert_string_equal(msg, "diskutil exited with status 1: Error: -69624: Unable to add a new APFS Volume to an APFS Container");
  assert_string_equal(rd.volume, "");
  static const step not_mounted[] = {{ATTACH, 0, "hdiutil-attach.txt", NULL},
                                     {CREATE, 0, "create-container.txt", NULL},
                                     {ADD, 0, "add-volume.txt", NULL},
                                     {INFO, 0, "info-unmounted.txt", NULL},
                                     {EJECT, 0, "eject.txt", NULL}};
  assert_int_equal(make(not_mounted, 5, &rd, msg, sizeof(msg)), BS_ENOT_FOUND);
  assert_non_null(strstr(msg, "not mounted"));
  assert_string_equal(rd.mount, "");
  /* eject failing is reported by eject itself */
  static const step ej_fails[] = {{EJECT, 1, NULL, "add-volume-failed.err"}};
  script s = {ej_fails, 1, 0, {{0}}};
  assert_int_equal(bs__ramdisk_darwin_eject(run, &s, "/dev/disk4", msg, sizeof(msg)), BS_ETOOL_FAILED);
}

/* The parsers on their own: killed tools, blank and odd output. */
static void darwin_ramdisk_parsers_refuse_what_the_tools_do_not_print(void **state) {
  (void)state;
  char v[64], msg[256];
  bs__tool_result r = {.status = -9};
  assert_int_equal(bs__hdiutil_attach_dev(&r, v, sizeof(v), msg, sizeof(msg)), BS_ETOOL_FAILED);
  assert_string_equal(msg, "hdiutil was killed by signal 9");
  char out[] = "/dev/diskX\n";
  bs__tool_result g = {.status = 0, .out = out, .out_len = sizeof(out) - 1};
  assert_int_equal(bs__hdiutil_attach_dev(&g, v, sizeof(v), msg, sizeof(msg)), BS_EPARSE);
  char out2[] = "Disk from APFS operation: disk5s\n";
  bs__tool_result g2 = {.status = 0, .out = out2, .out_len = sizeof(out2) - 1};
  assert_int_equal(bs__diskutil_apfs_disk(&g2, "addVolume", v, sizeof(v), msg, sizeof(msg)), BS_EPARSE);
  bs__tool_result none = {.status = 0};
  assert_int_equal(bs__diskutil_info_mount(&none, v, sizeof(v), msg, sizeof(msg)), BS_EPARSE);
  char out3[] = "/dev/disk12   \r\n";
  bs__tool_result g3 = {.status = 0, .out = out3, .out_len = sizeof(out3) - 1};
  assert_bs_ok(bs__hdiutil_attach_dev(&g3, v, sizeof(v), msg, sizeof(msg)));
  assert_string_equal(v, "/dev/disk12");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(darwin_ramdisk_is_made_from_the_tools_output),
    cmocka_unit_test(darwin_ramdisk_failure_at_each_step_ejects_what_was_made),
    cmocka_unit_test(darwin_ramdisk_parsers_refuse_what_the_tools_do_not_print),
  };
  return cmocka_run_group_tests_name("ramdisk_darwin", tests, NULL, NULL);
}
