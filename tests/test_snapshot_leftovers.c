/* A failed snapshot, branch or init command leaves the user's directory as
 * it found it (issue 12, item 9): the listing of every entry below it,
 * hidden ones included, with kind, mode, owner, size and modification time
 * (of the directory itself too) is byte-identical before and after.  Cases:
 * a plain directory on btrfs (not a subvolume: UNSUPPORTED), ext4 and tmpfs
 * without --copy-snapshots (UNSUPPORTED), calls that find nothing on a fresh
 * store (NOT_FOUND), through the library and the CLI; and the first snapshot
 * of a fresh store, and the making of a store, with the Nth call of every
 * OS wrapper they pass through failing, for every N. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"

#ifdef __linux__
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real/linux.h"
#include "tests/support/volume.h"

#ifdef FIU_ENABLE
#include <fiu-control.h>
#endif

/* ---- the listing ------------------------------------------------------------------ */

typedef struct text {
  char *s;
  size_t n, cap;
} text;

static void add_line(text *t, const char *rel, const struct stat *sb) {
  char line[4400];
  int n = snprintf(line, sizeof(line), "%s %o %u:%u %lld %lld.%09ld\n", rel, (unsigned)sb->st_mode,
                   (unsigned)sb->st_uid, (unsigned)sb->st_gid, (long long)sb->st_size,
                   (long long)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec);
  assert_true(n > 0 && (size_t)n < sizeof(line));
  if (t->n + (size_t)n + 1 > t->cap) {
    t->cap = (t->n + (size_t)n + 1) * 2;
    t->s = realloc(t->s, t->cap);
    assert_non_null(t->s);
  }
  memcpy(t->s + t->n, line, (size_t)n + 1);
  t->n += (size_t)n;
}

static void list_into(text *t, const char *host, const char *rel) {
  struct stat sb;
  if (lstat(host, &sb) != 0)
    fail_msg("lstat %s: %s", host, strerror(errno));
  add_line(t, rel, &sb);
  if (!S_ISDIR(sb.st_mode))
    return;
  struct dirent **names = NULL;
  int n = scandir(host, &names, NULL, alphasort);
  if (n < 0)
    fail_msg("scandir %s: %s", host, strerror(errno));
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
      char h[4300], r[4300];
      snprintf(h, sizeof(h), "%s/%s", host, name);
      snprintf(r, sizeof(r), "%s/%s", rel, name);
      list_into(t, h, r);
    }
    free(names[i]);
  }
  free(names);
}

/* Every entry below host directory @dir, and @dir itself, one per line. */
static char *listing(const char *dir) {
  text t = {0};
  list_into(&t, dir, ".");
  return t.s;
}

static void assert_same_listing(const char *before, const char *dir, const char *what) {
  char *after = listing(dir);
  if (strcmp(before, after) != 0)
    fail_msg("%s changed %s:\n--- before\n%s--- after\n%s", what, dir, before, after);
  free(after);
}

/* ---- plain directories: UNSUPPORTED, and NOT_FOUND ----------------------------------- */

/* A new directory with a file and a hidden file on @fs; path into @out. */
static void plain_dir(const char *fs, char *out) {
  const bs_vol *v = bs_test_volume(fs);
  static unsigned n;
  snprintf(out, 4096, "%.4000s/plain-%u-%u", v->mnt, (unsigned)getpid(), n++);
  assert_int_equal(mkdir(out, 0755), 0);
  char p[4300];
  snprintf(p, sizeof(p), "%s/file", out);
  bs_cli_write_text(p, "user data\n");
  snprintf(p, sizeof(p), "%s/.hidden", out);
  bs_cli_write_text(p, "dot file\n");
}

/* What the snapshot calls answer on a directory. */
typedef enum answer {
  ALL_UNSUPPORTED,    /* no snapshots at all (ext4, tmpfs without --copy-snapshots) */
  CREATE_UNSUPPORTED, /* snapshots, but not of this directory (btrfs, not a subvolume) */
  NONE_YET,           /* a store without snapshots yet (create is not tried) */
} answer;

/* Every snapshot call on @dir but a create that would work fails (@a) and
 * leaves it as it was; the list of a store without snapshots is empty. */
static void snapshot_calls_leave_no_trace(const char *dir, answer a, const char *label) {
  char *before = listing(dir);
  bs_open_opts o = {.root = dir};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  int other = a == ALL_UNSUPPORTED ? BS_EUNSUPPORTED : BS_ENOT_FOUND;
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  char path[64];
  uint64_t parent = 0;
  if (a != NONE_YET)
    assert_bs_err(bs_snapshot_create(st, "s", NULL), BS_EUNSUPPORTED);
  if (a == ALL_UNSUPPORTED) {
    assert_bs_err(bs_snapshot_list(st, &all, &n), BS_EUNSUPPORTED);
  } else {
    assert_bs_ok(bs_snapshot_list(st, &all, &n));
    assert_int_equal(n, 0);
  }
  assert_bs_err(bs_snapshot_delete(st, 1), other);
  assert_bs_err(bs_snapshot_mount_ro(st, 1, path, sizeof(path)), other);
  assert_bs_err(bs_branch_create(st, 1, "b"), other);
  assert_bs_err(bs_branch_delete(st, "b"), other);
  assert_bs_err(bs_branch_parent(st, "b", &parent), other);
  bs_stat_info si;
  assert_bs_err(bs_stat(st, "/.bs/snapshots/s", &si), BS_ENOT_FOUND);
  bs_close(st);
  assert_same_listing(before, dir, label);

  static const char *const verbs[][4] = {
    {"snapshot", "create", "s", NULL}, {"snapshot", "list", NULL, NULL}, {"snapshot", "delete", "1", NULL},
    {"branch", "create", "1", "b"},    {"branch", "delete", "b", NULL},
  };
  for (size_t i = a == NONE_YET ? 1 : 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    const char *args[10];
    size_t k = 0;
    for (size_t j = 0; j < 4 && verbs[i][j]; j++)
      args[k++] = verbs[i][j];
    args[k++] = "--backend";
    args[k++] = "real";
    args[k++] = "--root";
    args[k++] = dir;
    args[k] = NULL;
    bs_cli_run r;
    bs_cli_in(&r, NULL, args);
    char what[128];
    snprintf(what, sizeof(what), "%s: bslab %s %s", label, verbs[i][0], verbs[i][1]);
    bs_cli_expect_status(&r, a != ALL_UNSUPPORTED && strcmp(verbs[i][1], "list") == 0 ? 0 : 1, what);
    bs_cli_free(&r);
    assert_same_listing(before, dir, what);
  }
  free(before);
  assert_int_equal(bs__linux_remove_tree(dir, false), 0);
}

static void failed_snapshot_calls_leave_a_plain_directory_as_found(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  char dir[4096];
  plain_dir("btrfs", dir); /* not a subvolume: no native snapshots */
  snapshot_calls_leave_no_trace(dir, CREATE_UNSUPPORTED, "btrfs, a plain directory");
  plain_dir("ext4", dir); /* no snapshots without --copy-snapshots */
  snapshot_calls_leave_no_trace(dir, ALL_UNSUPPORTED, "ext4");
  plain_dir("tmpfs", dir);
  snapshot_calls_leave_no_trace(dir, ALL_UNSUPPORTED, "tmpfs");
  plain_dir("xfs", dir); /* reflink trees work: only NOT_FOUND */
  snapshot_calls_leave_no_trace(dir, NONE_YET, "xfs, no snapshots yet");
}

/* A fresh btrfs store (a subvolume) has snapshots, but none yet. */
static void failed_calls_leave_a_fresh_store_as_found(void **state) {
  (void)state;
  const bs_vol *v = bs_test_volume("btrfs");
  char dir[4096];
  snprintf(dir, sizeof(dir), "%.4000s/fresh-%u", v->mnt, (unsigned)getpid());
  bs_open_opts o = {.root = dir};
  assert_bs_ok(bs_store_create("real", &o));
  snapshot_calls_leave_no_trace(dir, NONE_YET, "a fresh btrfs store");
}

#ifdef FIU_ENABLE
/* ---- under faults --------------------------------------------------------------------- */

/* The points the first snapshot of a store, and the making of a store,
 * pass through on Linux. */
static const char *const points[] = {
  "bs/real/open",     "bs/real/read",      "bs/real/write",         "bs/real/fsync",
  "bs/real/mkdir",    "bs/real/unlink",    "bs/real/rename",        "bs/real/statfs",
  "bs/real/ficlone",  "bs/real/setflags",  "bs/real/chmod",         "bs/real/chown",
  "bs/real/utimens",  "bs/real/getxattr",  "bs/real/setxattr",      "bs/real/subvol_create",
  "bs/real/snap_create", "bs/real/subvol_info", "bs/real/snap_destroy", "bs/real/tree_search",
};

/* A fresh store of @fs, holding a file, in @out. */
static void fresh_store(const char *fs, char *out) {
  const bs_vol *v = bs_test_volume(fs);
  static unsigned n;
  snprintf(out, 4096, "%.4000s/faults-%u-%u", v->mnt, (unsigned)getpid(), n++);
  bs_open_opts o = {.root = out};
  assert_bs_ok(bs_store_create("real", &o));
  char p[4300];
  snprintf(p, sizeof(p), "%s/file", out);
  bs_cli_write_text(p, "user data\n");
}

/* Fail call @nth of @point in the first snapshot of a fresh store of @fs
 * (opened with @flags): false once the snapshot makes fewer calls. */
static bool first_snapshot_fails(const char *fs, uint32_t flags, const char *point, int nth) {
  char dir[4096], what[512];
  fresh_store(fs, dir);
  snprintf(what, sizeof(what), "%s: the first snapshot, %s call %d failing", fs, point, nth);
  char *before = listing(dir);
  bs_open_opts o = {.root = dir, .flags = flags};
  bs_store *st = NULL;
  assert_bs_ok(bs_open(&st, "real", &o));
  bs_test_fail_nth(point, nth, EIO);
  int rc = bs_snapshot_create(st, "s", NULL);
  bool fired = bs_test_fault_fired();
  fiu_disable(point);
  char msg[256];
  snprintf(msg, sizeof(msg), "%s", bs_last_message(st));
  bs_close(st);
  if (fired && rc != 0) {
    size_t len = strlen(what);
    snprintf(what + len, sizeof(what) - len, " (%s)", msg);
    assert_same_listing(before, dir, what);
  } else if (rc != 0) {
    fail_msg("%s: no fault, yet %s (%s)", what, bs_err_name(rc), msg);
  }
  free(before);
  assert_int_equal(bs__linux_remove_tree(dir, false), 0);
  return fired;
}

static void failed_first_snapshot_leaves_the_store_as_found_under_faults(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  static const struct {
    const char *fs;
    uint32_t flags;
  } stores[] = {{"btrfs", 0}, {"xfs", 0}, {"ext4", BS_OPEN_SNAPSHOT_COPY}};
  for (size_t s = 0; s < sizeof(stores) / sizeof(stores[0]); s++)
    for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++)
      for (int nth = 1; first_snapshot_fails(stores[s].fs, stores[s].flags, points[p], nth); nth++)
        ;
}

/* Fail call @nth of @point in making a store on @fs: false once it makes
 * fewer calls. */
static bool store_create_fails(const char *fs, const char *point, int nth) {
  const bs_vol *v = bs_test_volume(fs);
  char parent[4096], dir[4200], what[256];
  snprintf(parent, sizeof(parent), "%.4000s/init-%u", v->mnt, (unsigned)getpid());
  snprintf(dir, sizeof(dir), "%s/store", parent);
  snprintf(what, sizeof(what), "%s: making a store, %s call %d failing", fs, point, nth);
  assert_int_equal(mkdir(parent, 0755), 0);
  char *before = listing(parent);
  bs_open_opts o = {.root = dir};
  bs_test_fail_nth(point, nth, EIO);
  int rc = bs_store_create("real", &o);
  bool fired = bs_test_fault_fired();
  fiu_disable(point);
  if (fired && rc != 0)
    assert_same_listing(before, parent, what);
  else if (rc != 0)
    fail_msg("%s: no fault, yet %s", what, bs_err_name(rc));
  free(before);
  assert_int_equal(bs__linux_remove_tree(parent, false), 0);
  return fired;
}

static void failed_store_create_leaves_nothing_under_faults(void **state) {
  (void)state;
  BS_TEST_SKIP_WITHOUT_REAL();
  static const char *const fss[] = {"btrfs", "ext4"};
  for (size_t f = 0; f < sizeof(fss) / sizeof(fss[0]); f++)
    for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++)
      for (int nth = 1; store_create_fails(fss[f], points[p], nth); nth++)
        ;
}
#endif

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("snapshot-leftovers");
}

static int teardown(void **state) {
  (void)state;
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(failed_snapshot_calls_leave_a_plain_directory_as_found),
    cmocka_unit_test(failed_calls_leave_a_fresh_store_as_found),
#ifdef FIU_ENABLE
    cmocka_unit_test(failed_first_snapshot_leaves_the_store_as_found_under_faults),
    cmocka_unit_test(failed_store_create_leaves_nothing_under_faults),
#endif
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
#else
int main(void) {
  fprintf(stderr, "test_snapshot_leftovers: real volumes are Linux's: not run\n");
  return 77;
}
#endif
