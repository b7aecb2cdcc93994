/* The bslab CLI contract (docs/bslab.1, DESIGN 5): exit status 0/1/2, help on
 * every verb, caps in every format against the golden files, a clone /
 * snapshot / branch round trip through an image file, error messages, and
 * the campaign's summary and reproduce command.  Runs the binary from
 * bs_test_bslab() ($BSLAB, default build/bslab). */
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backstore/sim.h"
#include "lab/trace.h"
#include "backstore/wire.h"
#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

static void image_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s.img", bs_cli_tmp(), name);
  unlink(buf);
}

static void cli_exit_status_follows_the_contract(void **state) {
  (void)state;
  EXPECT(0, "fs_type_name:", NULL, "caps");
  EXPECT(0, "bslab 0.1.0\n", NULL, "--version");
  const char *const usage_errors[][4] = {
    {"frobnicate"}, {"caps", "--format", "yaml"}, {"caps", "--ops", "3"}, {"clone", "/a"},
    {"campaign", "--ops", "0"}, {"campaign", "--profile", "zfs"}, {"campaign", "--seeds", "x"},
    {"caps", "--backend", "real"}, {"replay", "t"}, {"snapshot", "rename", "a"}, {"--bogus"},
    {"campaign", "--faults", "x"}, {"campaign", "--trace", "-", "--jobs=2"},
  };
  for (size_t i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++) {
    const char *const *a = usage_errors[i];
    bs_cli_run r;
    bs_cli_in(&r, NULL, (const char *const[]){a[0], a[1], a[2], a[3], NULL});
    bs_cli_expect_status(&r, 2, a[0]);
    bs_cli_expect_contains(r.err, "bslab: ", a[0]);
    assert_string_equal(r.out, "");
    bs_cli_free(&r);
  }
  EXPECT(2, NULL, "usage: bslab", NULL); /* no verb */
  EXPECT(1, "FAILED", NULL, "campaign", "--ops", "300", "--sim-bug", "cow-in-place", "--quiet");
}

static const char *const all_verbs[] = {"caps",  "probe", "clone", "snapshot", "branch", "campaign",
                                        "init",  "put",   "cat",      "ls",     "stat",
                                        "usage", "mkdir", "rm",       "help",   "diff", "calibrate",
                                        "ramdisk"};
#define N_VERBS (sizeof(all_verbs) / sizeof(all_verbs[0]))

static void cli_help_on_every_verb(void **state) {
  (void)state;
  const char *const tops[] = {"--help", "-h", "help"};
  for (int i = 0; i < 3; i++) {
    bs_cli_run r;
    BSLAB(&r, tops[i]);
    bs_cli_expect_status(&r, 0, tops[i]);
    bs_cli_expect_contains(r.out, "usage: bslab [GLOBAL OPTIONS] VERB", tops[i]);
    for (size_t v = 0; v < N_VERBS; v++)
      bs_cli_expect_contains(r.out, all_verbs[v], "top-level help lists every verb");
    bs_cli_free(&r);
  }
  for (size_t v = 0; v < N_VERBS; v++) {
    char want[64];
    snprintf(want, sizeof(want), "usage: bslab %s", all_verbs[v]);
    const char *const forms[][2] = {{all_verbs[v], "--help"}, {all_verbs[v], "-h"}, {"help", all_verbs[v]}};
    for (int f = 0; f < 3; f++) {
      bs_cli_run r;
      bs_cli_in(&r, NULL, (const char *const[]){forms[f][0], forms[f][1], NULL});
      bs_cli_expect_status(&r, 0, want);
      bs_cli_expect_contains(r.out, want, all_verbs[v]);
      assert_string_equal(r.err, "");
      bs_cli_free(&r);
    }
    EXPECT(2, NULL, "unknown option '--no-such-option'", all_verbs[v], "--no-such-option");
  }
}

static void cli_caps_ssz_matches_golden_for_every_profile(void **state) {
  (void)state;
  const char *dir = getenv("BS_GOLDEN_DIR");
  dir = dir && *dir ? dir : "golden";
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++) {
    const char *p = bs_sim_profile_names[i];
    char path[256];
    snprintf(path, sizeof(path), "%s/caps-%s.ssz", dir, p);
    if (access(path, R_OK) != 0)
      fail_msg("golden file %s is missing", path);
    size_t glen = 0;
    char *golden = bs_cli_slurp(path, &glen);
    bs_cli_run r;
    BSLAB(&r, "caps", "--profile", p, "--format", "ssz");
    bs_cli_expect_status(&r, 0, p);
    if (r.outlen != glen || memcmp(r.out, golden, glen) != 0)
      fail_msg("caps --profile %s --format ssz: %zu bytes differ from %s (%zu bytes)", p, r.outlen,
               path, glen);
    bs_cli_free(&r);
    /* hex is the same bytes as one lowercase line */
    char hex[2 * BS_CAPS_SSZ_MAX + 2] = "";
    for (size_t k = 0; k < glen && k < BS_CAPS_SSZ_MAX; k++)
      snprintf(hex + 2 * k, 3, "%02x", (unsigned char)golden[k]);
    strcat(hex, "\n");
    BSLAB(&r, "caps", "--profile", p, "--format", "hex");
    bs_cli_expect_status(&r, 0, p);
    assert_string_equal(r.out, hex);
    bs_cli_free(&r);
    free(golden);
  }
}

static void cli_caps_json_and_text_show_the_design_table(void **state) {
  (void)state;
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++) {
    const char *p = bs_sim_profile_names[i];
    bs_caps c;
    assert_bs_ok(bs_caps_for_type(&c, bs_fs_type_from_name(p)));
    const char *t = "true", *f = "false";
    char json[512], text[128];
    snprintf(json, sizeof(json),
             "{\"schema_version\":1,\"fs_type\":%u,\"fs_type_name\":\"%s\",\"native_snapshots\":%s,"
             "\"native_reflink\":%s,\"xattrs\":%s,\"case_sensitive\":%s,\"max_name_len\":255}\n",
             c.fs_type, p, c.native_snapshots ? t : f, c.native_reflink ? t : f, c.xattrs ? t : f,
             c.case_sensitive ? t : f);
    bs_cli_run r;
    BSLAB(&r, "caps", "--profile", p, "--format", "json");
    bs_cli_expect_status(&r, 0, p);
    assert_string_equal(r.out, json);
    bs_cli_free(&r);
    snprintf(text, sizeof(text), "fs_type_name:     %s\nnative_snapshots: %s\nnative_reflink:   %s\n",
             p, c.native_snapshots ? t : f, c.native_reflink ? t : f);
    /* a global option before the verb; text is the default format */
    EXPECT(0, text, NULL, "--profile", p, "caps");
    EXPECT(0, "schema_version:   1\n", NULL, "--profile", p, "caps", "--format=text");
    EXPECT(0, "max_name_len:     255\n", NULL, "caps", "--profile", p);
  }
}

static void cli_real_backend_usage_and_environment_errors(void **state) {
  (void)state;
  EXPECT(2, NULL, "bslab: caps: backend 'real' needs --root DIR", "caps", "--backend", "real");
  EXPECT(2, NULL, "--profile names a sim profile", "caps", "--backend", "real", "--root", "/",
         "--profile", "apfs");
  EXPECT(2, NULL, "--image is the sim's volume file", "caps", "--backend", "real", "--root", "/",
         "--image", "x.img");
  EXPECT(2, NULL, "cannot open a 'real' store on '/nonexistent-bs': no such file",
         "caps", "--backend", "real", "--root", "/nonexistent-bs");
  EXPECT(2, NULL, "unknown backend 'nosuch'", "caps", "--backend", "nosuch");
  EXPECT(2, NULL, "init --backend real needs --root DIR", "init", "--backend", "real");
  EXPECT(2, NULL, "--image and --profile are the sim's", "init", "--backend", "real", "--root",
         "/tmp/x", "--profile", "btrfs");
  EXPECT(2, NULL, "the campaign runs on the sim only", "campaign", "--backend", "real");
  /* probe: a host path's filesystem; a missing path is NOT_FOUND, exit 1. */
  EXPECT(0, "\n", NULL, "probe", "/");
  EXPECT(0, "\"fs_type_name\":", NULL, "probe", "--format", "json", "/");
  EXPECT(1, NULL, "bslab: probe: /nonexistent-bs: no such file", "probe", "/nonexistent-bs");
  EXPECT(2, NULL, "missing argument", "probe");
  EXPECT(2, NULL, "does not apply", "probe", "--backend", "sim", "/");
}

/* On real volumes: caps --format ssz is the golden file of the filesystem,
 * probe names it, and clone works where it can share blocks and is
 * UNSUPPORTED (exit 1, nothing left) where it cannot. */
/* --root only means something to a real backend, so it implies --backend
 * real on every verb that takes --backend (issue 16); --backend sim with
 * --root stays a usage error that says why. */
static void cli_root_implies_the_real_backend(void **state) {
  (void)state;
  EXPECT(0, "fs_type_name:", NULL, "caps", "--root", "/");
  EXPECT(2, NULL, "--root names a real backend's store; the sim keeps its volume in --image FILE",
         "caps", "--backend", "sim", "--root", "/");
  EXPECT(2, NULL, "--root names a real backend's store", "snapshot", "create", "--backend", "sim",
         "--root", "/", "s");
  char root[512], file[600], src[600];
  snprintf(root, sizeof(root), "%s/implied-real", bs_cli_tmp()); /* the suite's fresh temp dir */
  snprintf(file, sizeof(file), "%s/d/hello", root);
  snprintf(src, sizeof(src), "%s/implied-real-src", bs_cli_tmp());
  FILE *f = fopen(src, "w");
  assert_non_null(f);
  fputs("hello\n", f);
  assert_int_equal(fclose(f), 0);
  EXPECT(0, "created store", NULL, "init", "--root", root);
  EXPECT(0, NULL, NULL, "mkdir", "--root", root, "/d");
  struct stat sb;
  assert_int_equal(stat(file, &sb), -1); /* nothing yet */
  EXPECT(0, NULL, NULL, "put", "--root", root, src, "/d/hello");
  assert_int_equal(stat(file, &sb), 0); /* on the host, in the real store */
  EXPECT(0, "s1", NULL, "snapshot", "create", "--root", root, "--copy-snapshots", "s1");
  EXPECT(0, "s1", NULL, "snapshot", "list", "--root", root, "--copy-snapshots");
  EXPECT(0, NULL, NULL, "snapshot", "delete", "--root", root, "--copy-snapshots", "s1");
}

static void cli_caps_probe_clone_on_real_volumes(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  static const char *const fs[] = {"btrfs", "xfs", "ext4", "tmpfs"};
  for (int i = 0; i < 4; i++) {
    const bs_vol *v = bs_test_volume(fs[i]);
    char golden[64];
    snprintf(golden, sizeof(golden), "golden/caps-%s.ssz", fs[i]);
    size_t glen = 0;
    char *want = bs_cli_slurp(golden, &glen);
    bs_cli_run r;
    BSLAB(&r, "caps", "--backend", "real", "--root", v->mnt, "--format", "ssz");
    bs_cli_expect_status(&r, 0, fs[i]);
    if (r.outlen != glen || memcmp(r.out, want, glen) != 0)
      fail_msg("caps --backend real on %s differs from %s", fs[i], golden);
    bs_cli_free(&r);
    free(want);
    char line[32];
    snprintf(line, sizeof(line), "%s\n", fs[i]);
    EXPECT(0, line, NULL, "probe", v->mnt);

    char src[4200], dst[4200];
    snprintf(src, sizeof(src), "%s/cli-%d", v->mnt, (int)getpid());
    snprintf(dst, sizeof(dst), "%s/cli-%d.clone", v->mnt, (int)getpid());
    FILE *f = fopen(src, "w");
    assert_non_null(f);
    fputs("cloned by bslab\n", f);
    assert_int_equal(fclose(f), 0);
    bool reflink = strcmp(fs[i], "btrfs") == 0 || strcmp(fs[i], "xfs") == 0;
    if (reflink) {
      EXPECT(0, NULL, NULL, "clone", "--backend", "real", src, dst);
      char *got = bs_cli_slurp(dst, NULL);
      assert_string_equal(got, "cloned by bslab\n");
      free(got);
      EXPECT(1, NULL, "(EXISTS)", "clone", "--backend", "real", src, dst);
      /* Store paths below --root. */
      char rel_src[64], rel_dst[64];
      snprintf(rel_src, sizeof(rel_src), "/cli-%d", (int)getpid());
      snprintf(rel_dst, sizeof(rel_dst), "/cli-%d.2", (int)getpid());
      EXPECT(0, NULL, NULL, "clone", "--backend", "real", "--root", v->mnt, rel_src, rel_dst);
    } else {
      char msg[64];
      snprintf(msg, sizeof(msg), "%s has no native reflink", fs[i]);
      EXPECT(1, NULL, msg, "clone", "--backend", "real", src, dst);
      assert_int_equal(access(dst, F_OK), -1);
    }
  }
}

/* On real volumes: init makes a store (a subvolume on btrfs), snapshots and
 * branches work where the filesystem has snapshots or reflink, and on ext4
 * and tmpfs only with --copy-snapshots (else UNSUPPORTED, exit 1).  The
 * flag changes nothing where the filesystem needs no copies. */
static void cli_snapshot_branch_on_real_volumes(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  static const char *const fs[] = {"btrfs", "xfs", "ext4", "tmpfs"};
  for (int i = 0; i < 4; i++) {
    const bs_vol *v = bs_test_volume(fs[i]);
    char store[4200], file[4300];
    snprintf(store, sizeof(store), "%s/cli-snap-%d", v->mnt, (int)getpid());
    EXPECT(0, "created store", NULL, "init", "--backend", "real", "--root", store);
    EXPECT(1, NULL, "(EXISTS)", "init", "--backend", "real", "--root", store);
    snprintf(file, sizeof(file), "%s/f", store);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("before\n", f);
    assert_int_equal(fclose(f), 0);
    bool copies = strcmp(fs[i], "ext4") == 0 || strcmp(fs[i], "tmpfs") == 0;
    if (copies)
      EXPECT(1, NULL, "--copy-snapshots", "snapshot", "create", "--backend", "real", "--root", store,
             "nightly 1");
#define REAL(...) "--copy-snapshots", "--backend", "real", "--root", store, __VA_ARGS__
    EXPECT(0, NULL, NULL, "snapshot", "create", REAL("nightly 1"));
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("after\n", f);
    assert_int_equal(fclose(f), 0);
    EXPECT(0, "before\n", NULL, "cat", REAL("/.bs/snapshots/nightly 1/f"));
    EXPECT(0, "\"name\":\"nightly 1\"", NULL, "snapshot", "list", REAL("--format", "json"));
    EXPECT(1, NULL, "(EXISTS)", "snapshot", "create", REAL("nightly 1"));
    EXPECT(0, NULL, NULL, "branch", "create", REAL("nightly 1", "work"));
    EXPECT(0, "before\n", NULL, "cat", REAL("/.bs/branches/work/f"));
    EXPECT(1, NULL, "(BUSY)", "snapshot", "delete", REAL("nightly 1"));
    EXPECT(0, NULL, NULL, "branch", "delete", REAL("work"));
    EXPECT(0, NULL, NULL, "snapshot", "delete", REAL("nightly 1"));
    EXPECT(1, NULL, "(NOT_FOUND)", "snapshot", "delete", REAL("nightly 1"));
#undef REAL
  }
}

/* Write @len bytes of a pattern to a host file in the temp dir. */
static void host_file(char *path, size_t cap, const char *name, size_t len) {
  snprintf(path, cap, "%s/%s", bs_cli_tmp(), name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < len; i++)
    fputc((int)((i * 31 + 7) & 0xff), f);
  fclose(f);
}

static void expect_cat(const char *image, const char *path, const char *host) {
  size_t want_len = 0;
  char *want = bs_cli_slurp(host, &want_len);
  bs_cli_run r;
  BSLAB(&r, "--image", image, "cat", path);
  bs_cli_expect_status(&r, 0, path);
  if (r.outlen != want_len || memcmp(r.out, want, want_len) != 0)
    fail_msg("cat %s: %zu bytes, differ from %s (%zu bytes)", path, r.outlen, host, want_len);
  bs_cli_free(&r);
  free(want);
}

static void cli_clone_snapshot_branch_round_trip(void **state) {
  (void)state;
  char img[128], host[128], small[128];
  image_path(img, sizeof(img), "round");
  host_file(host, sizeof(host), "data.bin", 20000);
  host_file(small, sizeof(small), "small.bin", 100);
  EXPECT(0, NULL, NULL, "--image", img, "--profile", "apfs", "--seed", "9", "mkdir", "/d");
  assert_int_equal(access(img, F_OK), 0);
  EXPECT(0, NULL, NULL, "--image", img, "put", host, "/d/a");
  EXPECT(0, NULL, NULL, "clone", "--image", img, "/d/a", "/d/b"); /* options after the verb too */
  expect_cat(img, "/d/b", host);
  EXPECT(0, "\"shared_bytes\":20480", NULL, "--image", img, "usage", "--format", "json");

  bs_cli_run r;
  BSLAB(&r, "--image", img, "snapshot", "create", "nightly 1");
  bs_cli_expect_status(&r, 0, "snapshot create");
  bs_cli_expect_contains(r.out, "created snapshot nightly 1: id ", "snapshot create");
  char id[24] = "";
  sscanf(strstr(r.out, ": id ") + 5, "%20[0-9]", id);
  assert_true(id[0] != '\0');
  bs_cli_free(&r);
  EXPECT(0, "\"name\":\"nightly 1\",\"readonly\":true,\"branch_count\":0", NULL, "--image", img,
         "snapshot", "list", "--format", "json");
  BSLAB(&r, "--image", img, "ls", "/.bs/snapshots/nightly 1/d");
  bs_cli_expect_status(&r, 0, "ls snapshot");
  assert_string_equal(r.out, "a\nb\n");
  bs_cli_free(&r);
  EXPECT(0, "created branch work", NULL, "--image", img, "branch", "create", "nightly 1", "work");
  expect_cat(img, "/.bs/branches/work/d/a", host);
  EXPECT(0, "ID     BRANCHES", NULL, "--image", img, "snapshot", "list");

  /* A write to the branch leaves the snapshot and the main tree alone. */
  EXPECT(0, NULL, NULL, "--image", img, "put", small, "/.bs/branches/work/d/a");
  expect_cat(img, "/.bs/branches/work/d/a", small);
  expect_cat(img, "/.bs/snapshots/nightly 1/d/a", host);
  expect_cat(img, "/d/a", host);
  EXPECT(1, NULL, "(PERMISSION)", "--image", img, "put", small, "/.bs/snapshots/nightly 1/d/a");

  EXPECT(1, NULL, "bslab: snapshot delete: nightly 1: resource busy", "--image", img, "snapshot",
         "delete", "nightly 1");
  EXPECT(0, NULL, NULL, "--image", img, "branch", "delete", "work");
  EXPECT(0, NULL, NULL, "--image", img, "snapshot", "delete", id); /* by id */
  BSLAB(&r, "--image", img, "snapshot", "list", "--format", "json");
  assert_string_equal(r.out, "[]\n");
  bs_cli_free(&r);
  EXPECT(0, NULL, NULL, "--image", img, "rm", "/d/b");
  EXPECT(1, NULL, "bslab: stat: /d/b: no such file", "--image", img, "stat", "/d/b");
  EXPECT(0, "size:     20000\n", NULL, "--image", img, "stat", "/d/a");
}

static void cli_clone_onto_existing_is_EXISTS_with_exit_1(void **state) {
  (void)state;
  char img[128], host[128];
  image_path(img, sizeof(img), "exists");
  host_file(host, sizeof(host), "e.bin", 10);
  EXPECT(0, NULL, NULL, "--image", img, "put", host, "/a");
  EXPECT(0, NULL, NULL, "--image", img, "put", host, "/b");
  bs_cli_run r;
  BSLAB(&r, "--image", img, "clone", "/a", "/b");
  bs_cli_expect_status(&r, 1, "clone onto existing");
  static const char want[] = "bslab: clone: /b: destination or name already exists (EXISTS)";
  if (strncmp(r.err, want, strlen(want)) != 0)
    fail_msg("stderr: %s\nexpected it to start with: %s", r.err, want);
  const char *nl = strchr(r.err, '\n');
  assert_non_null(nl);
  assert_string_equal(nl, "\n"); /* one line */
  assert_string_equal(r.out, "");
  bs_cli_free(&r);
  EXPECT(1, NULL, "(NOT_FOUND)", "--image", img, "clone", "/missing", "/c");
}

static void cli_clone_error_names_the_path_at_fault(void **state) {
  (void)state;
  char img[128], host[128];
  image_path(img, sizeof(img), "fault");
  host_file(host, sizeof(host), "f.bin", 10);
  EXPECT(0, NULL, NULL, "--image", img, "put", host, "/a");
  EXPECT(0, NULL, NULL, "--image", img, "mkdir", "/d");
  EXPECT(1, NULL, "bslab: clone: /missing: no such file", "--image", img, "clone", "/missing", "/c");
  EXPECT(1, NULL, "bslab: clone: /d: invalid argument", "--image", img, "clone", "/d", "/c");
  EXPECT(1, NULL, "bslab: clone: /nodir/c: no such file", "--image", img, "clone", "/a", "/nodir/c");
}

static void cli_snapshot_on_hfs_is_UNSUPPORTED_with_exit_1(void **state) {
  (void)state;
  char img[128];
  image_path(img, sizeof(img), "hfs");
  EXPECT(0, NULL, NULL, "--image", img, "--profile", "hfs", "init");
  EXPECT(1, NULL, "(EXISTS)", "--image", img, "init");
  EXPECT(1, NULL, "bslab: snapshot create: s: operation not supported", "--image", img, "snapshot",
         "create", "s");
  EXPECT(1, NULL, "(UNSUPPORTED)", "--image", img, "snapshot", "list");
  EXPECT(1, NULL, "(UNSUPPORTED)", "--image", img, "branch", "create", "s", "b");
  EXPECT(1, NULL, "(NOT_FOUND)", "--image", img, "clone", "/x", "/y");
  EXPECT(2, NULL, "has profile hfs, not apfs", "--image", img, "--profile", "apfs", "ls");
}

/* ls of /.bs/branches on @img must be exactly @want. */
static void expect_branches(const char *img, const char *want) {
  bs_cli_run r;
  BSLAB(&r, "--image", img, "ls", "/.bs/branches");
  bs_cli_expect_status(&r, 0, "ls /.bs/branches");
  assert_string_equal(r.out, want);
  bs_cli_free(&r);
}

static void cli_branch_delete_checks_the_snapshot(void **state) {
  (void)state;
  char img[128];
  image_path(img, sizeof(img), "branches");
  EXPECT(0, NULL, NULL, "--image", img, "snapshot", "create", "s2");
  EXPECT(0, NULL, NULL, "--image", img, "snapshot", "create", "s3");
  EXPECT(0, NULL, NULL, "--image", img, "branch", "create", "s2", "b1");
  EXPECT(1, NULL, "bslab: branch delete: b1: no such file", "--image", img, "branch", "delete", "s3",
         "b1");
  EXPECT(1, NULL, "(NOT_FOUND); b1 is not a branch of s3", "--image", img, "branch", "delete", "s3",
         "b1");
  expect_branches(img, "b1/\n");
  /* s3 has a branch too: b1 is still not one of them. */
  EXPECT(0, NULL, NULL, "--image", img, "branch", "create", "s3", "b3");
  EXPECT(1, NULL, "b1 is not a branch of s3", "--image", img, "branch", "delete", "s3", "b1");
  EXPECT(1, NULL, "(NOT_FOUND)", "--image", img, "branch", "delete", "nosuch", "b1");
  expect_branches(img, "b1/\nb3/\n");
  EXPECT(0, "deleted branch b1", NULL, "--image", img, "branch", "delete", "s2", "b1");
  EXPECT(0, "deleted branch b3", NULL, "--image", img, "branch", "delete", "b3");
  expect_branches(img, "");
}

/* Run "bslab ARGS > /dev/full"; its exit status, its stderr in @err. */
static int run_to_dev_full(const char *args, char *err, size_t cap) {
  char cmd[512], errp[128];
  snprintf(errp, sizeof(errp), "%s/full.err", bs_cli_tmp());
  snprintf(cmd, sizeof(cmd), "%s %s >/dev/full 2>%s", bs_test_bslab(), args, errp);
  int ws = system(cmd);
  char *e = bs_cli_slurp(errp, NULL);
  snprintf(err, cap, "%s", e);
  free(e);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
}

static void cli_write_error_on_stdout_is_exit_2(void **state) {
  (void)state;
  if (access("/dev/full", W_OK) != 0)
    skip();
  const char *const cmds[] = {"caps --format ssz", "caps", "--version", "help caps"};
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
    char err[512];
    int st = run_to_dev_full(cmds[i], err, sizeof(err));
    if (st != 2 || !strstr(err, "bslab: write error: "))
      fail_msg("bslab %s > /dev/full: exit %d, stderr: %s", cmds[i], st, err);
  }
}

static void cli_options_a_verb_does_not_use_are_usage_errors(void **state) {
  (void)state;
  char img[128];
  image_path(img, sizeof(img), "opts");
  EXPECT(2, NULL, "'--image' does not apply", "campaign", "--image", img, "--ops", "10");
  EXPECT(2, NULL, "'--image' does not apply", "--image", img, "campaign", "--ops", "10");
  EXPECT(2, NULL, "'--root' does not apply", "campaign", "--root", "/tmp", "--ops", "10");
  /* --root implies --backend real (cli_root_implies_the_real_backend): with
   * the sim named, or with the sim's --image, it is a usage error. */
  EXPECT(2, NULL, "--root", "caps", "--backend", "sim", "--root", "/tmp");
  EXPECT(2, NULL, "--image is the sim's volume file", "--root", "/tmp", "--image", img, "ls");
  assert_int_not_equal(access(img, F_OK), 0);
  /* caps --image: the image's profile, and the image must exist. */
  EXPECT(2, NULL, "does not exist", "caps", "--image", img);
  EXPECT(0, NULL, NULL, "--image", img, "--profile", "hfs", "init");
  EXPECT(0, "fs_type_name:     hfs\n", NULL, "caps", "--image", img);
  EXPECT(2, NULL, "has profile hfs, not apfs", "caps", "--image", img, "--profile", "apfs");
  /* --backend sim:FS names the profile, as bs_open() reads it. */
  EXPECT(2, NULL, "different profiles", "caps", "--backend", "sim:apfs", "--profile", "hfs");
  EXPECT(0, "fs_type_name:     btrfs\n", NULL, "caps", "--backend", "sim:btrfs");
  EXPECT(0, "fs_type_name:     hfs\n", NULL, "--backend", "sim:hfs", "caps", "--image", img);
  EXPECT(2, NULL, "has profile hfs, not apfs", "--backend", "sim:apfs", "--image", img, "ls");
  EXPECT(0, "profile xfs, seeds 1..1", NULL, "campaign", "--backend", "sim:xfs", "--ops", "20",
         "--quiet");
}

static void cli_volume_verbs_need_an_image(void **state) {
  (void)state;
  EXPECT(2, NULL, "--image FILE or set BSLAB_IMAGE", "clone", "/a", "/b");
  char img[128], junk[128];
  image_path(img, sizeof(img), "absent");
  EXPECT(2, NULL, "does not exist", "--image", img, "ls", "/");
  assert_int_not_equal(access(img, F_OK), 0);
  EXPECT(1, NULL, "(NOT_FOUND)", "--image", img, "rm", "/nothing");
  assert_int_not_equal(access(img, F_OK), 0); /* a failed verb does not create the image */
  /* $BSLAB_IMAGE stands for --image */
  setenv("BSLAB_IMAGE", img, 1);
  EXPECT(0, NULL, NULL, "mkdir", "/x");
  EXPECT(0, "x/\n", NULL, "ls");
  unsetenv("BSLAB_IMAGE");
  host_file(junk, sizeof(junk), "junk.img", 100);
  EXPECT(2, NULL, "cannot load image", "--image", junk, "ls");
}

static void cli_snapshot_list_ssz_is_length_framed(void **state) {
  (void)state;
  char img[128];
  image_path(img, sizeof(img), "ssz");
  const char *names[] = {"alpha", "b\xc3\xa9ta"};
  for (int i = 0; i < 2; i++)
    EXPECT(0, NULL, NULL, "--image", img, "--profile", "btrfs", "snapshot", "create", names[i]);
  bs_cli_run r;
  BSLAB(&r, "--image", img, "snapshot", "list", "--format", "ssz");
  bs_cli_expect_status(&r, 0, "list ssz");
  const uint8_t *p = (const uint8_t *)r.out, *end = p + r.outlen;
  uint64_t last_id = 0;
  for (int i = 0; i < 2; i++) {
    assert_true(end - p >= 4);
    uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    p += 4;
    assert_true((size_t)(end - p) >= len);
    bs_snapshot_info si;
    assert_bs_ok(bs_snapshot_info_decode(&si, p, len));
    assert_string_equal(si.name, names[i]);
    assert_true(si.id > last_id); /* id order */
    last_id = si.id;
    assert_true(si.readonly);
    p += len;
  }
  assert_true(p == end);
  bs_cli_free(&r);
  BSLAB(&r, "--image", img, "snapshot", "create", "--format", "ssz", "gamma");
  bs_cli_expect_status(&r, 0, "create ssz");
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_info_decode(&si, (const uint8_t *)r.out, r.outlen));
  assert_string_equal(si.name, "gamma");
  bs_cli_free(&r);
}

static void cli_campaign_prints_summary_and_progress(void **state) {
  (void)state;
  bs_cli_run r;
  BSLAB(&r, "campaign", "--profile", "btrfs", "--seeds", "3", "--ops", "200");
  bs_cli_expect_status(&r, 0, "campaign");
  const char *const lines[] = {
    "profile btrfs, seeds 1..3, 200 ops per seed", "  seeds run             3\n",
    "  ops                   600\n", "  ops/s ", "(faults fired)", "  invariant violations  0\n",
    "PASSED",
  };
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    bs_cli_expect_contains(r.out, lines[i], "summary");
  /* Not a terminal: about one progress line per 10%. */
  int n = 0;
  for (const char *s = r.err; (s = strstr(s, "campaign: ")) != NULL; s++)
    n++;
  assert_true(n >= 2 && n <= 11);
  bs_cli_free(&r);
  BSLAB(&r, "campaign", "--seeds", "2", "--ops", "50", "--quiet", "--jobs", "2");
  bs_cli_expect_status(&r, 0, "campaign --quiet");
  assert_string_equal(r.err, "");
  bs_cli_free(&r);
}

static void cli_campaign_edge_cases(void **state) {
  (void)state;
  EXPECT(2, NULL, "past the last seed", "campaign", "--seed", "18446744073709551615", "--seeds", "2");
  EXPECT(2, NULL, "past the last seed", "campaign", "--seeds", "10", "--seed",
         "18446744073709551607");
  EXPECT(0, "seeds 18446744073709551606..18446744073709551615", NULL, "campaign", "--seeds", "10",
         "--seed", "18446744073709551606", "--ops", "10", "--quiet");
  /* Seeds stop at their first failure: the last progress line is still 100%. */
  bs_cli_run r;
  BSLAB(&r, "campaign", "--sim-bug", "cow-in-place", "--seeds", "3", "--ops", "1000");
  bs_cli_expect_status(&r, 1, "campaign with failing seeds");
  const char *last = r.err, *p = r.err;
  while ((p = strstr(p, "campaign: ")) != NULL)
    last = p++;
  if (strncmp(last, "campaign: 100%  seeds done 3/3", 30) != 0)
    fail_msg("last progress line: %s", last);
  bs_cli_free(&r);
}

static void cli_campaign_failure_prints_reproduce_command(void **state) {
  (void)state;
  bs_cli_run r;
  BSLAB(&r, "campaign", "--sim-bug", "leak-block", "--seeds", "2", "--ops", "400", "--quiet");
  bs_cli_expect_status(&r, 1, "campaign with a sim bug");
  bs_cli_expect_contains(r.out, "FAILED", "failure");
  const char *rep = strstr(r.out, "reproduce  bslab campaign --profile apfs --seed ");
  const char *fail = strstr(r.out, "FAIL seed ");
  assert_non_null(rep);
  assert_non_null(fail);
  char line[256], fail_line[256];
  sscanf(rep + strlen("reproduce  "), "%255[^\n]", line);
  sscanf(fail, "%255[^\n]", fail_line);
  bs_cli_free(&r);
  /* Run the printed command (minus "bslab"): the same failure again. */
  const char *args[16] = {0};
  int n = 0;
  for (char *tok = strtok(line + strlen("bslab "), " "); tok && n < 14; tok = strtok(NULL, " "))
    args[n++] = tok;
  args[n++] = "--quiet";
  bs_cli_in(&r, NULL, args);
  bs_cli_expect_status(&r, 1, "reproduce");
  bs_cli_expect_contains(r.out, fail_line, "reproduce");
  bs_cli_expect_contains(r.out, "seeds run             1\n", "reproduce");
  bs_cli_free(&r);
}

/* ---- traces: campaign --trace-dir/--json, replay, shrink, --jobs ---------- */

/* The value after @key on the line of @text that has it ("" if none). */
static void line_after(const char *text, const char *key, char *out, size_t cap) {
  const char *p = strstr(text, key);
  out[0] = '\0';
  if (p)
    snprintf(out, cap, "%.*s", (int)strcspn(p + strlen(key), "\n"), p + strlen(key));
}

static void cli_campaign_trace_replay_reproduces_and_passes_when_fixed(void **state) {
  (void)state;
  char dir[128], json[128], trace[256], cmd[300];
  snprintf(dir, sizeof(dir), "%s/tr", bs_cli_tmp());
  snprintf(json, sizeof(json), "%s/summary.json", bs_cli_tmp());
  bs_cli_run r;
  BSLAB(&r, "campaign", "--sim-bug", "cow-in-place", "--seeds", "2", "--ops", "500", "--quiet",
        "--trace-dir", dir, "--json", json);
  bs_cli_expect_status(&r, 1, "campaign with a sim bug");
  line_after(r.out, "  replay     ", cmd, sizeof(cmd));
  snprintf(trace, sizeof(trace), "%s/apfs-seed-1.trace", dir);
  char want[300];
  snprintf(want, sizeof(want), "bslab replay %s", trace);
  assert_string_equal(cmd, want);
  bs_cli_free(&r);
  /* The JSON summary names both failures, their traces and replay commands. */
  char *j = bs_cli_slurp(json, NULL);
  const char *const keys[] = {"\"seeds_run\": 2", "\"violations\": 2", "\"passed\": false",
                              "\"check\": \"check\"", "\"faults_fired\": ", "\"ops_per_sec\": ",
                              want, "\"reproduce\": \"bslab campaign --profile apfs --seed 2"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    bs_cli_expect_contains(j, keys[i], "summary.json");
  free(j);
  /* The printed command reproduces the failure: exit 1. */
  BSLAB(&r, "replay", trace);
  bs_cli_expect_status(&r, 1, "replay");
  bs_cli_expect_contains(r.out, "REPRODUCED: the recorded failure (write, invariant check)", "replay");
  bs_cli_expect_contains(r.out, "every line as recorded", "replay");
  bs_cli_free(&r);
  /* The same trace without the bug passes: exit 0. */
  char *text = bs_cli_slurp(trace, NULL);
  char *bug = strstr(text, "sim-bug cow-in-place\n");
  assert_non_null(bug);
  memmove(bug, bug + 21, strlen(bug + 21) + 1);
  char fixed[160];
  snprintf(fixed, sizeof(fixed), "%s/fixed.trace", bs_cli_tmp());
  bs_cli_write_text(fixed, text);
  free(text);
  BSLAB(&r, "replay", fixed);
  bs_cli_expect_status(&r, 0, "replay of the fixed trace");
  bs_cli_expect_contains(r.out, "PASSED: the recorded failure (write, invariant check) no longer happens",
                  "replay");
  bs_cli_free(&r);
}

static void cli_replay_malformed_trace_is_exit_2_with_the_line(void **state) {
  (void)state;
  char path[128], want[160];
  snprintf(path, sizeof(path), "%s/bad.trace", bs_cli_tmp());
  bs_cli_write_text(path, "bstrace 1\nseed 1\nbackend sim\nprofile apfs\nfaults none\nops 2\n"
                   "0 create /f1 -> OK t=1\n1 write /f1 off=0 len=70000 data=0000000000000001 -> OK\n");
  snprintf(want, sizeof(want), "bslab: replay: %s:8: write range", path);
  EXPECT(2, NULL, want, "replay", path);
  snprintf(want, sizeof(want), "bslab: shrink: %s:8: write range", path);
  EXPECT(2, NULL, want, "shrink", path, "-o", "/dev/null");
  EXPECT(2, NULL, "cannot read", "replay", "/nonexistent/x.trace");
  EXPECT(2, NULL, "missing -o", "shrink", path);
  EXPECT(2, NULL, "missing argument", "replay");
}

static void cli_shrink_writes_a_minimal_trace_that_still_fails(void **state) {
  (void)state;
  char dir[128], trace[200], min[128];
  snprintf(dir, sizeof(dir), "%s/sh", bs_cli_tmp());
  snprintf(min, sizeof(min), "%s/min.trace", bs_cli_tmp());
  bs_cli_run r;
  BSLAB(&r, "campaign", "--sim-bug", "cow-in-place", "--seed", "4", "--ops", "300", "--quiet",
        "--trace-dir", dir);
  bs_cli_expect_status(&r, 1, "campaign");
  bs_cli_free(&r);
  snprintf(trace, sizeof(trace), "%s/apfs-seed-4.trace", dir);
  BSLAB(&r, "shrink", trace, "-o", min);
  bs_cli_expect_status(&r, 0, "shrink");
  bs_cli_expect_contains(r.out, "shrink: ", "shrink");
  bs_cli_expect_contains(r.out, "replay     bslab replay ", "shrink");
  bs_cli_expect_contains(r.err, "replays", "shrink progress");
  bs_cli_free(&r);
  bs_trace *t = NULL;
  assert_bs_ok(bs_trace_load(&t, min, NULL));
  assert_true(t->n_ops >= 1 && t->n_ops <= 5);
  bs_trace_free(t);
  EXPECT(1, "REPRODUCED", NULL, "replay", min);
}

static void cli_campaign_jobs_give_the_same_output(void **state) {
  (void)state;
  bs_cli_run a, b;
  BSLAB(&a, "campaign", "--seeds", "6", "--ops", "300", "--digest", "--quiet", "--jobs", "1",
        "--sim-bug", "leak-block");
  BSLAB(&b, "campaign", "--seeds", "6", "--ops", "300", "--digest", "--quiet", "--jobs", "3",
        "--sim-bug", "leak-block");
  bs_cli_expect_status(&a, 1, "--jobs 1");
  bs_cli_expect_status(&b, 1, "--jobs 3");
  /* Everything but the measured rate is the same, in the same order. */
  char *ra = strstr(a.out, "  ops/s"), *rb = strstr(b.out, "  ops/s");
  assert_non_null(ra);
  assert_non_null(rb);
  assert_memory_equal(a.out, b.out, (size_t)(ra - a.out));
  assert_int_equal(ra - a.out, rb - b.out);
  assert_string_equal(strchr(ra + 1, '\n'), strchr(rb + 1, '\n'));
  bs_cli_expect_contains(a.out, "seed 6 digest ", "digests");
  bs_cli_free(&a);
  bs_cli_free(&b);
  char json[128];
  snprintf(json, sizeof(json), "%s/pass.json", bs_cli_tmp());
  EXPECT(0, "PASSED", NULL, "campaign", "--seeds", "3", "--ops", "100", "--jobs", "2", "--quiet",
         "--json", json);
  char *j = bs_cli_slurp(json, NULL);
  bs_cli_expect_contains(j, "\"passed\": true", "pass.json");
  bs_cli_expect_contains(j, "\"failures\": []", "pass.json");
  bs_cli_expect_contains(j, "\"jobs\": 2", "pass.json");
  free(j);
}

static void cli_campaign_faults_are_traced_and_replayed(void **state) {
  (void)state;
  char dir[128], trace[200];
  snprintf(dir, sizeof(dir), "%s/fa", bs_cli_tmp());
  bs_cli_run r;
  BSLAB(&r, "campaign", "--seed", "5", "--ops", "300", "--quiet", "--trace-dir", dir, "--trace-all",
        "--faults", "bs/op/write=no_space%0.1");
  bs_cli_expect_status(&r, 0, "campaign --faults");
  bs_cli_expect_contains(r.out, "  injected faults       ", "summary");
  bs_cli_expect_contains(r.out, "(faults fired: bs/op/write=no_space%0.1)", "summary");
  bs_cli_free(&r);
  snprintf(trace, sizeof(trace), "%s/apfs-seed-5.trace", dir);
  char *text = bs_cli_slurp(trace, NULL);
  bs_cli_expect_contains(text, "\nfaults bs/op/write=no_space%0.1\n", "trace header");
  bs_cli_expect_contains(text, "\nfault bs/op/write no_space call=", "fault line");
  free(text);
  EXPECT(0, "every line as recorded", NULL, "replay", trace);
  BSLAB(&r, "replay", "--faults", "none", trace);
  bs_cli_expect_status(&r, 0, "replay --faults none");
  bs_cli_expect_contains(r.out, "lines differ from the recording", "replay --faults none");
  bs_cli_free(&r);
  EXPECT(2, NULL, "the campaign's checks use", "campaign", "--ops", "10", "--faults",
         "bs/op/read=io@1");
}

/* bslab diff: usage and environment errors are exit 2, with a message. */
static void cli_diff_usage_and_environment_errors(void **state) {
  (void)state;
  EXPECT(2, NULL, "--root DIR is needed", "diff");
  EXPECT(2, NULL, "bslab: diff: ", "diff", "--root", "/nonexistent-bs-diff");
  EXPECT(2, NULL, "unknown profile 'zfs'", "diff", "--profile", "zfs", "--root", "/tmp");
  EXPECT(2, NULL, "does not apply", "diff", "--root", "/tmp", "--jobs", "2");
  EXPECT(2, NULL, "--ops needs a number", "diff", "--root", "/tmp", "--ops", "0");
}

/* On real volumes: a short run agrees and prints the summary; a --profile
 * that is not the volume's filesystem is exit 2; --trace writes every op. */
static void cli_diff_on_real_volumes(void **state) {
  (void)state;
  const bs_vol *v = bs_test_volume("tmpfs");
  EXPECT(2, NULL, "is on tmpfs, not xfs", "diff", "--profile", "xfs", "--root", v->mnt);
  char trace[128];
  snprintf(trace, sizeof(trace), "%s/diff.trace", bs_cli_tmp());
  bs_cli_run r;
  BSLAB(&r, "diff", "--root", v->mnt, "--seed", "5", "--seeds", "2", "--ops", "150", "--trace", trace);
  bs_cli_expect_status(&r, 0, "diff");
  const char *const lines[] = {"diff: profile tmpfs, root ", "seeds 5..6, 150 ops per seed",
                               "  seeds run          2\n", "  ops                300\n",
                               "  ops/s ", "  divergences        0\n", "AGREED\n"};
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    bs_cli_expect_contains(r.out, lines[i], "diff summary");
  bs_cli_expect_contains(r.err, "diff: seed 6 (2/2) ok, 150 ops", "diff progress");
  bs_cli_free(&r);
  char *t = bs_cli_slurp(trace, NULL);
  bs_cli_expect_contains(t, "# profile tmpfs seed 5 ops 150\n", "trace");
  bs_cli_expect_contains(t, "# profile tmpfs seed 6 ops 150\n", "trace");
  bs_cli_expect_contains(t, "\n149 ", "trace");
  free(t);
  BSLAB(&r, "diff", "--root", v->mnt, "--ops", "20", "--quiet");
  bs_cli_expect_status(&r, 0, "diff --quiet");
  assert_string_equal(r.err, "");
  bs_cli_free(&r);
}

/* bslab calibrate: the table and the LAT line for sim/profile.c; the store
 * it measured in is gone afterwards. */
static void cli_calibrate_prints_the_latency_model(void **state) {
  (void)state;
  EXPECT(2, NULL, "--root DIR is needed", "calibrate");
  EXPECT(2, NULL, "bslab: calibrate: ", "calibrate", "--root", "/nonexistent-bs-cal");
  const bs_vol *v = bs_test_volume("tmpfs");
  char root[4200];
  snprintf(root, sizeof(root), "%s/cal-%d", v->mnt, (int)getpid());
  assert_int_equal(mkdir(root, 0755), 0);
  bs_cli_run r;
  BSLAB(&r, "calibrate", "--root", root, "--ops", "5", "--quiet");
  bs_cli_expect_status(&r, 0, "calibrate");
  const char *const lines[] = {"(tmpfs): medians of 5\n", "  meta ", "  read ", "  write ",
                               "  sync ", "  reflink ", "UNSUPPORTED: fails at about a metadata op",
                               "sim/profile.c: LAT("};
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    bs_cli_expect_contains(r.out, lines[i], "calibrate output");
  assert_string_equal(r.err, "");
  bs_cli_free(&r);
  assert_int_equal(rmdir(root), 0); /* empty again: the measuring store was removed */
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("cli");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(cli_exit_status_follows_the_contract),
    cmocka_unit_test(cli_help_on_every_verb),
    cmocka_unit_test(cli_caps_ssz_matches_golden_for_every_profile),
    cmocka_unit_test(cli_caps_json_and_text_show_the_design_table),
    cmocka_unit_test(cli_real_backend_usage_and_environment_errors),
    cmocka_unit_test(cli_root_implies_the_real_backend),
    cmocka_unit_test(cli_caps_probe_clone_on_real_volumes),
    cmocka_unit_test(cli_snapshot_branch_on_real_volumes),
    cmocka_unit_test(cli_clone_snapshot_branch_round_trip),
    cmocka_unit_test(cli_clone_onto_existing_is_EXISTS_with_exit_1),
    cmocka_unit_test(cli_clone_error_names_the_path_at_fault),
    cmocka_unit_test(cli_branch_delete_checks_the_snapshot),
    cmocka_unit_test(cli_write_error_on_stdout_is_exit_2),
    cmocka_unit_test(cli_options_a_verb_does_not_use_are_usage_errors),
    cmocka_unit_test(cli_snapshot_on_hfs_is_UNSUPPORTED_with_exit_1),
    cmocka_unit_test(cli_volume_verbs_need_an_image),
    cmocka_unit_test(cli_snapshot_list_ssz_is_length_framed),
    cmocka_unit_test(cli_campaign_prints_summary_and_progress),
    cmocka_unit_test(cli_campaign_failure_prints_reproduce_command),
    cmocka_unit_test(cli_campaign_edge_cases),
    cmocka_unit_test(cli_campaign_trace_replay_reproduces_and_passes_when_fixed),
    cmocka_unit_test(cli_replay_malformed_trace_is_exit_2_with_the_line),
    cmocka_unit_test(cli_shrink_writes_a_minimal_trace_that_still_fails),
    cmocka_unit_test(cli_campaign_jobs_give_the_same_output),
    cmocka_unit_test(cli_campaign_faults_are_traced_and_replayed),
    cmocka_unit_test(cli_diff_usage_and_environment_errors),
    cmocka_unit_test(cli_diff_on_real_volumes),
    cmocka_unit_test(cli_calibrate_prints_the_latency_model),
  };
  return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
