/* A real store on a read-only mount (issue 12, item 7): everything that only
 * reads works, through the library and the CLI: the snapshot list, lookups,
 * branch parents, reads, stats and listings through snapshots and branches.
 * Every change fails with PERMISSION and a message that names the operation
 * the user ran, never the snapshot list it may read first.  The mount is a
 * read-only bind mount of the store (below the fixture volume's registry
 * directory, so the fixture unmounts it even when a test fails midway). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/snap_test.h"

#ifdef __linux__
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real/linux.h"
#include "tests/support/volume.h"

/* A read-only bind mount of @src (a store on volume @fs) into @out (4096). */
static void ro_bind(const char *fs, const char *src, char *out) {
  const bs_vol *v = bs_test_volume(fs);
  static unsigned n;
  snprintf(out, 4096, "%.4000s/ro-%u-%u", v->dir, (unsigned)getpid(), n++);
  if (mkdir(out, 0700) != 0)
    fail_msg("mkdir %s: %m", out);
  if (mount(src, out, "none", MS_BIND, NULL) != 0)
    fail_msg("bind mount of %s: %m", src);
  if (mount("none", out, "none", MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) {
    umount2(out, MNT_DETACH);
    fail_msg("read-only remount of %s: %m", out);
  }
}

static void ro_unbind(const char *dir) {
  assert_int_equal(umount2(dir, MNT_DETACH), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* @rc is PERMISSION and the store's message starts with "@op: ". */
static void assert_refused(bs_store *st, int rc, const char *op, const char *label) {
  const char *msg = bs_last_message(st);
  if (rc != BS_EPERMISSION)
    fail_msg("%s: %s on a read-only mount: %s (%s), expected PERMISSION", label, op, bs_err_name(rc), msg);
  if (strncmp(msg, op, strlen(op)) != 0 || strncmp(msg + strlen(op), ": ", 2) != 0)
    fail_msg("%s: %s on a read-only mount says \"%s\": it must name %s", label, op, msg, op);
}

static bs_store *open_at(const bs_target *t, const char *root) {
  bs_open_opts o = {.root = root, .flags = t->open_flags};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  return st;
}

/* Run bslab @verb (NULL-terminated) on the real store at @root, opened as
 * @t opens it; expect @status and @out_has in stdout; returns stderr. */
static char *cli(const bs_target *t, const char *root, int status, const char *out_has,
                 const char *const *verb) {
  const char *args[16];
  size_t n = 0;
  while (verb[n]) {
    args[n] = verb[n];
    n++;
  }
  const char *tail[] = {"--backend", "real", "--root", root, "--copy-snapshots"};
  size_t ntail = t->open_flags & BS_OPEN_SNAPSHOT_COPY ? 5 : 4;
  assert_true(n + ntail < sizeof(args) / sizeof(args[0]));
  memcpy(args + n, tail, ntail * sizeof(*tail));
  args[n + ntail] = NULL;
  bs_cli_run r;
  bs_cli_in(&r, NULL, args);
  char what[256];
  snprintf(what, sizeof(what), "%s: bslab %s %s", t->label, verb[0], verb[1] ? verb[1] : "");
  bs_cli_expect_status(&r, status, what);
  if (out_has)
    bs_cli_expect_contains(r.out, out_has, what);
  char *err = strdup(r.err);
  bs_cli_free(&r);
  return err;
}

static void read_only_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_snap_test_make_tree(st, t, "", 3);
  bs_test_put(st, "/f", 1000, 7);
  assert_bs_ok(bs_create(st, "/hello", 0644));
  assert_bs_ok(bs_write(st, "/hello", 0, "hello, read-only\n", 17));
  bs_snapshot_info s;
  assert_bs_ok(bs_snapshot_create(st, "s", &s));
  assert_bs_ok(bs_branch_create(st, s.id, "b"));
  bs_test_put(st, "/.bs/branches/b/g", 500, 9);
  assert_bs_ok(bs_sync(st, NULL));

  char ro[4096];
  ro_bind(t->profile, t->root, ro);
  bs_store *r = open_at(t, ro);

  /* Reads. */
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(r, &all, &n));
  assert_int_equal(n, 1);
  assert_string_equal(all[0].name, "s");
  assert_int_equal(all[0].branch_count, 1);
  free(all);
  bs_snapshot_info found;
  assert_bs_ok(bs_snapshot_lookup(r, "s", &found));
  assert_int_equal(found.id, s.id);
  uint64_t parent = 0;
  assert_bs_ok(bs_branch_parent(r, "b", &parent));
  assert_int_equal(parent, s.id);
  char path[BS_NAME_MAX + 32];
  assert_bs_ok(bs_snapshot_mount_ro(r, s.id, path, sizeof(path)));
  assert_string_equal(path, "/.bs/snapshots/s");
  bs_test_assert_put(r, "/.bs/snapshots/s/f", 1000, 7);
  bs_test_assert_put(r, "/.bs/branches/b/f", 1000, 7);
  bs_test_assert_put(r, "/.bs/branches/b/g", 500, 9);
  bs_snap_test_assert_same_tree(r, "/.bs/snapshots/s", "/");
  bs_stat_info si;
  assert_bs_ok(bs_stat(r, "/.bs/snapshots", &si));
  assert_int_equal(si.nlink, 3);
  assert_bs_ok(bs_stat(r, "/.bs/snapshots/s/d/b", &si));
  assert_int_equal(si.size, 4096);
  char listing[BS_TEST_LISTING_MAX];
  bs_test_listing(r, "/.bs/snapshots", listing);
  assert_string_equal(listing, "s/;");
  bs_test_listing(r, "/.bs/branches", listing);
  assert_string_equal(listing, "b/;");

  /* Changes: refused, each in its own name. */
  assert_refused(r, bs_snapshot_create(r, "s2", NULL), "snapshot create", t->label);
  assert_refused(r, bs_snapshot_delete(r, s.id), "snapshot delete", t->label);
  assert_refused(r, bs_branch_create(r, s.id, "b2"), "branch create", t->label);
  assert_refused(r, bs_branch_delete(r, "b"), "branch delete", t->label);
  assert_refused(r, bs_write(r, "/.bs/branches/b/g", 0, "x", 1), "write", t->label);

  /* The same through the CLI. */
  static const char *const reads[][5] = {
    {"s", "snapshot", "list", NULL},
    {"hello, read-only", "cat", "/.bs/snapshots/s/hello", NULL},
    {"g", "ls", "/.bs/branches/b", NULL},
    {"size:     1000", "stat", "/.bs/snapshots/s/f", NULL},
  };
  for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
    free(cli(t, ro, 0, reads[i][0], reads[i] + 1));
  static const char *const changes[][5] = {
    {"branch", "create", "s", "b2", NULL},
    {"snapshot", "delete", "s", NULL},
    {"branch", "delete", "b", NULL},
    {"snapshot", "create", "s3", NULL},
  };
  for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
    char verb[64];
    snprintf(verb, sizeof(verb), "bslab: %s %s: ", changes[i][0], changes[i][1]);
    char *err = cli(t, ro, 1, NULL, changes[i]);
    bs_cli_expect_contains(err, verb, t->label);
    bs_cli_expect_contains(err, "(PERMISSION)", t->label);
    bs_cli_expect_contains(err, "Read-only file system", t->label);
    if (strstr(err, "snapshot list"))
      fail_msg("%s: %s%s names the snapshot list: %s", t->label, verb, changes[i][2], err);
    free(err);
  }

  bs_close(r);
  ro_unbind(ro);
  /* Nothing changed underneath. */
  assert_int_equal(bs_snap_test_count(st), 1);
  bs_snap_test_assert_host_trees(st, t, t->label);
}

static bool real_with_snapshots(const bs_target *t) {
  return t->kind == BS_TARGET_REAL && bs_test_snapshots_work(t);
}

static void read_only_mount_reads_work_and_changes_name_their_operation(void **state) {
  (void)state;
  bs_test_each_backend_if(BS_KINDS(BS_TARGET_REAL), real_with_snapshots, read_only_body, NULL,
                          bs_test_seed());
}

/* A lookup that fails for another reason (here a damaged registry) is part
 * of the verb the user ran: the message says so, and names no snapshot list. */
static void lookup_failures_name_the_verb_the_user_ran(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  const bs_vol *v = bs_test_volume("btrfs");
  char root[4096], reg[4200];
  snprintf(root, sizeof(root), "%.4000s/lookup-%u", v->mnt, (unsigned)getpid());
  bs_open_opts o = {.root = root};
  assert_bs_ok(bs_store_create("real", &o));
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  assert_bs_ok(bs_snapshot_create(st, "s", NULL));
  bs_close(st);
  snprintf(reg, sizeof(reg), "%s/.bs/registry", root);
  bs_cli_write_text(reg, "not a registry");
  static const char *const verbs[][4] = {
    {"branch", "create", "s", "b"}, {"snapshot", "delete", "s", NULL}, {"branch", "delete", "s", "b"},
  };
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    bs_cli_run r;
    if (verbs[i][3])
      BSLAB(&r, verbs[i][0], verbs[i][1], verbs[i][2], verbs[i][3], "--backend", "real", "--root", root);
    else
      BSLAB(&r, verbs[i][0], verbs[i][1], verbs[i][2], "--backend", "real", "--root", root);
    char verb[64];
    snprintf(verb, sizeof(verb), "bslab: %s %s: s: ", verbs[i][0], verbs[i][1]);
    bs_cli_expect_status(&r, 1, verb);
    bs_cli_expect_contains(r.err, verb, verb);
    bs_cli_expect_contains(r.err, "(CORRUPT)", verb);
    bs_cli_expect_contains(r.err, "looking up snapshot \"s\": ", verb);
    if (strstr(r.err, "snapshot list"))
      fail_msg("%s names the snapshot list: %s", verb, r.err);
    bs_cli_free(&r);
  }
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("snapshot-readonly");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(read_only_mount_reads_work_and_changes_name_their_operation),
    cmocka_unit_test(lookup_failures_name_the_verb_the_user_ran),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
#else
int main(void) {
  fprintf(stderr, "test_snapshot_readonly: read-only bind mounts are Linux's: not run\n");
  return 77;
}
#endif
