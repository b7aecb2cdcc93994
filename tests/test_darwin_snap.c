/* Snapshots and branches of the darwin backend (real/darwin_snap.c,
 * real/darwin_tree.c) on Linux, through the bs_* API of a darwin-fake store
 * and through the host seam directly: native APFS snapshots mounted
 * read-only, remounted after a restart, PERMISSION without the entitlement,
 * the diskutil tool path with TOOL_FAILED / PARSE and their golden
 * ErrorResponses, branches as clone trees, HFS+ copies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FIU_ENABLE
#include <fiu-control.h>
#include <fiu.h>
#endif

#include "backstore/sim.h"
#include "backstore/wire.h"
#include "real/darwin.h"
#include "real/host.h"
#include "tests/support/bs_test.h"
#include "tests/support/darwin_fake.h"

#define BLK BS_SIM_BLOCK_SIZE

static bs_store *open_fake(const char *profile, uint32_t flags) {
  bs_store *st = NULL;
  int rc = bs_darwin_fake_open_flags(&st, profile, bs_test_seed(), flags);
  if (rc != 0)
    fail_msg("bs_darwin_fake_open(%s) returned %s", profile, bs_err_name(rc));
  return st;
}

static const bs_host_os *os_of(bs_store *st) { return ((bs__host_store *)st)->os; }

static const char *detail(bs_store *st) { return os_of(st)->last_detail(os_of(st)->ctx); }

/* The snapshots diskutil lists on the fake's volume. */
static size_t volume_snapshots(bs_store *st, bs__apfs_snap **out) {
  bs__apfs_snap *s = NULL;
  size_t n = 0;
  char msg[256];
  int rc = bs__darwin_list_snapshots(os_of(st), "/", &s, &n, msg, sizeof(msg));
  if (rc != 0)
    fail_msg("diskutil listSnapshots: %s: %s", bs_err_name(rc), msg);
  if (out)
    *out = s;
  else
    free(s);
  return n;
}

static uint64_t snap(bs_store *st, const char *name) {
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, name, &si));
  return si.id;
}

static void read_in_snapshot(bs_store *st, uint64_t id, const char *file, size_t len, uint8_t fill) {
  char root[512], path[1024];
  assert_bs_ok(bs_snapshot_mount_ro(st, id, root, sizeof(root)));
  snprintf(path, sizeof(path), "%s%s", root, file);
  bs_test_assert_put(st, path, len, fill);
}

static int count_entry(void *ctx, const char *name, bs_file_kind kind) {
  (void)name;
  (void)kind;
  ++*(int *)ctx;
  return 0;
}

/* Nothing of a failed native snapshot is left: no volume snapshot, no
 * mount, no tree, no registry entry, and the record directory is empty. */
static void assert_nothing_left(bs_store *st) {
  assert_int_equal(volume_snapshots(st, NULL), 0);
  assert_int_equal(bs_darwin_fake_mount_count(st), 0);
  char listing[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots", listing);
  assert_string_equal(listing, "");
  bs_snapshot_info *v = NULL;
  size_t n = 9;
  assert_bs_ok(bs_snapshot_list(st, &v, &n));
  assert_int_equal(n, 0);
  free(v);
  bs_stat_info si;
  const bs_host_os *os = os_of(st);
  assert_int_equal(os->stat(os->ctx, BS__HOST_PATH("/.bs/snap/1"), &si), -ENOENT);
  int records = 0;
  int rc = os->readdir(os->ctx, BS__HOST_PATH("/.bs/apfs"), count_entry, &records);
  assert_true(rc == 0 || rc == -ENOENT);
  assert_int_equal(records, 0);
  assert_bs_ok(bs_check(bs_darwin_fake_sim(st)));
}

/* ---- native ----------------------------------------------------------------------- */

static void native_snapshot_is_a_mounted_apfs_snapshot(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  bs_test_put(st, "/a.txt", 3 * BLK + 7, 1);
  assert_bs_ok(bs_mkdir(st, "/dir", 0750));
  bs_test_put(st, "/dir/b", 100, 2);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "nightly 2024 ✓", &si));
  assert_int_equal(bs_darwin_fake_mount_count(st), 1);
  /* diskutil was asked for the UUID, and the snapshot has diskutil's UUID. */
  const char *want = bs__diskutil_have_plist() ? BS_DARWIN_DISKUTIL " apfs listSnapshots / -plist"
                                               : BS_DARWIN_DISKUTIL " apfs listSnapshots /";
  assert_string_equal(bs_darwin_fake_last_tool(st), want);
  bs__apfs_snap *vs = NULL;
  assert_int_equal(volume_snapshots(st, &vs), 1);
  assert_memory_equal(vs[0].uuid, si.uuid, 16);
  assert_int_equal(strncmp(vs[0].name, BS_DARWIN_SNAP_PREFIX, strlen(BS_DARWIN_SNAP_PREFIX)), 0);
  assert_int_equal(strlen(vs[0].name), strlen(BS_DARWIN_SNAP_PREFIX) + 32);
  free(vs);
  /* The tree is the store as it was; ".bs" (frozen in the volume snapshot) is hidden. */
  char listing[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots/nightly 2024 ✓", listing);
  assert_string_equal(listing, "a.txt;dir/;");
  assert_bs_ok(bs_write(st, "/a.txt", 0, "changed", 7));
  assert_bs_ok(bs_unlink(st, "/dir/b"));
  read_in_snapshot(st, si.id, "/a.txt", 3 * BLK + 7, 1);
  read_in_snapshot(st, si.id, "/dir/b", 100, 2);
  /* Read-only: writes are PERMISSION. */
  assert_bs_err(bs_write(st, "/.bs/snapshots/nightly 2024 ✓/a.txt", 0, "x", 1), BS_EPERMISSION);
  assert_bs_err(bs_create(st, "/.bs/snapshots/nightly 2024 ✓/new", 0644), BS_EPERMISSION);
  /* Delete: unmounted, volume snapshot gone, tree gone. */
  assert_bs_ok(bs_snapshot_delete(st, si.id));
  assert_nothing_left(st);
  bs_close(st);
}

static void native_snapshot_needs_the_volume_root(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  const bs_host_os *os = os_of(st);
  assert_bs_ok(bs_mkdir(st, "/sub", 0755));
  assert_bs_ok(bs_mkdir(st, "/sub/.bs", 0700));
  uint8_t uuid[16];
  memset(uuid, 0xaa, sizeof(uuid));
  assert_int_equal(os->snap_create(os->ctx, BS_TREE_NATIVE, BS__HOST_PATH("/sub"), BS__HOST_PATH("/sub/.bs/t"), uuid), -EOPNOTSUPP);
  if (!strstr(detail(st), "root of its volume") || !strstr(detail(st), "mounted at /"))
    fail_msg("detail: %s", detail(st));
  uint8_t zero[16] = {0};
  assert_memory_equal(uuid, zero, 16);
  assert_int_equal(volume_snapshots(st, NULL), 0);
  bs_stat_info si;
  assert_int_equal(os->stat(os->ctx, BS__HOST_PATH("/sub/.bs/t"), &si), -ENOENT);
  bs_close(st);
}

static void snapshot_without_entitlement_is_PERMISSION(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  bs_test_put(st, "/f", BLK, 3);
  bs_darwin_fake_deny_snapshots(st, EPERM);
  int rc = bs_snapshot_create(st, "s", NULL);
  assert_bs_err(rc, BS_EPERMISSION);
  assert_int_equal(bs_err_wire(rc), 8);
  if (!strstr(detail(st), "com.apple.developer.vfs.snapshot") || !strstr(detail(st), "root"))
    fail_msg("last_detail does not say what is missing: %s", detail(st));
  assert_nothing_left(st);
  /* With the entitlement, the same store works. */
  bs_darwin_fake_deny_snapshots(st, 0);
  uint64_t id = snap(st, "s");
  read_in_snapshot(st, id, "/f", BLK, 3);
  bs_close(st);
}

/* fs_snapshot_delete without the entitlement: diskutil (entitled) deletes it. */
static void delete_without_entitlement_goes_through_diskutil(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  uint64_t id = snap(st, "s");
  bs__apfs_snap *vs = NULL;
  assert_int_equal(volume_snapshots(st, &vs), 1);
  char u[37], want[128];
  bs__uuid_format(vs[0].uuid, u);
  free(vs);
  bs_darwin_fake_deny_snapshots(st, EPERM);
  assert_bs_ok(bs_snapshot_delete(st, id));
  snprintf(want, sizeof(want), BS_DARWIN_DISKUTIL " apfs deleteSnapshot / -uuid %s", u);
  assert_string_equal(bs_darwin_fake_last_tool(st), want);
  bs_darwin_fake_deny_snapshots(st, 0);
  assert_nothing_left(st);
  bs_close(st);
}

static void snapshots_are_mounted_again_after_a_restart(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  bs_test_put(st, "/f", 2 * BLK, 4);
  uint64_t a = snap(st, "a");
  bs_darwin_fake_restart(st);
  assert_int_equal(bs_darwin_fake_mount_count(st), 0);
  char listing[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots/a", listing);
  assert_string_equal(listing, ""); /* the bare mount point */
  /* Asking for the read-only view mounts it again. */
  read_in_snapshot(st, a, "/f", 2 * BLK, 4);
  assert_int_equal(bs_darwin_fake_mount_count(st), 1);
  /* So does the next change of the store (reserve). */
  bs_darwin_fake_restart(st);
  uint64_t b = snap(st, "b");
  assert_int_equal(bs_darwin_fake_mount_count(st), 2);
  bs_test_listing(st, "/.bs/snapshots/a", listing);
  assert_string_equal(listing, "f;");
  read_in_snapshot(st, b, "/f", 2 * BLK, 4);
  /* A view that cannot come back is an error, not an empty tree. */
  bs_darwin_fake_restart(st);
  bs_darwin_fake_deny_snapshots(st, EPERM);
  char root[512];
  assert_int_equal(bs_snapshot_mount_ro(st, a, root, sizeof(root)), BS_EPERMISSION);
  assert_non_null(strstr(bs_last_message(st), "entitlement"));
  bs_darwin_fake_deny_snapshots(st, 0);
  read_in_snapshot(st, a, "/f", 2 * BLK, 4);
  /* A snapshot deleted while unmounted goes all the same. */
  bs_darwin_fake_restart(st);
  assert_bs_ok(bs_snapshot_delete(st, a));
  assert_int_equal(volume_snapshots(st, NULL), 1);
  assert_bs_ok(bs_snapshot_delete(st, b));
  assert_nothing_left(st);
  bs_close(st);
}

/* A volume snapshot of ours that no record names (its record was removed)
 * is deleted at the next change; other software's snapshots are left alone. */
static void unrecorded_snapshots_of_ours_are_dropped(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  bs_store *sim = bs_darwin_fake_sim(st);
  assert_bs_ok(bs_snapshot_create(sim, BS_DARWIN_SNAP_PREFIX "00112233445566778899aabbccddeeff", NULL));
  assert_bs_ok(bs_snapshot_create(sim, "com.apple.TimeMachine.2024-03-07-101112.local", NULL));
  uint64_t id = snap(st, "x");
  bs__apfs_snap *vs = NULL;
  assert_int_equal(volume_snapshots(st, &vs), 2);
  assert_string_equal(vs[0].name, "com.apple.TimeMachine.2024-03-07-101112.local");
  assert_int_equal(strncmp(vs[1].name, BS_DARWIN_SNAP_PREFIX, strlen(BS_DARWIN_SNAP_PREFIX)), 0);
  free(vs);
  assert_string_equal(detail(st), "");
  assert_bs_ok(bs_snapshot_delete(st, id));
  assert_int_equal(volume_snapshots(st, NULL), 1);
  bs_close(st);
}

/* statfs may name a mount point by another spelling of its path (symlinks
 * resolved): a mounted snapshot is still known by its "<name>@/dev/..." source. */
static void mounts_are_known_by_their_source_too(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  bs_test_put(st, "/f", BLK, 2);
  bs_darwin_fake_resolve_mounts(st, true);
  uint64_t a = snap(st, "a");
  uint64_t b = snap(st, "b"); /* reserve does not mount "a" a second time */
  assert_int_equal(bs_darwin_fake_mount_count(st), 2);
  read_in_snapshot(st, a, "/f", BLK, 2);
  assert_bs_ok(bs_snapshot_delete(st, a)); /* unmounted before the delete */
  assert_bs_ok(bs_snapshot_delete(st, b));
  assert_nothing_left(st);
  bs_close(st);
}

/* A crash between making a snapshot and naming it in the registry leaves a
 * recorded, mounted volume snapshot; the next change removes it. */
static void orphan_native_snapshot_is_reconciled(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  uint64_t id = snap(st, "kept");
  const bs_host_os *os = os_of(st);
  uint8_t uuid[16];
  assert_int_equal(os->snap_create(os->ctx, BS_TREE_NATIVE, BS__HOST_PATH("/"), BS__HOST_PATH("/.bs/snap/77"), uuid), 0);
  assert_int_equal(volume_snapshots(st, NULL), 2);
  assert_int_equal(bs_darwin_fake_mount_count(st), 2);
  assert_bs_ok(bs_branch_create(st, id, "br")); /* any change reconciles first */
  assert_int_equal(volume_snapshots(st, NULL), 1);
  assert_int_equal(bs_darwin_fake_mount_count(st), 1);
  bs_stat_info si;
  assert_int_equal(os->stat(os->ctx, BS__HOST_PATH("/.bs/snap/77"), &si), -ENOENT);
  bs_close(st);
}

/* ---- the tool path ---------------------------------------------------------------- */

static void check_golden(int rc, const char *msg, const char *golden) {
  bs_error_response e;
  assert_bs_ok(bs_error_response_make(&e, rc, 0, msg));
  uint8_t got[512], want[512];
  size_t gn = 0;
  assert_bs_ok(bs_error_response_encode(got, sizeof(got), &gn, &e));
  size_t wn = bs_test_golden_load(golden, want, sizeof(want));
  if (gn != wn || memcmp(got, want, gn) != 0)
    fail_msg("ErrorResponse of %s \"%s\" differs from %s", bs_err_name(rc), msg, golden);
}

/* A diskutil that fails: TOOL_FAILED, the golden ErrorResponse, nothing left. */
static void failing_diskutil_is_TOOL_FAILED(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  bs_test_put(st, "/f", BLK, 1);
  /* Through the fault point of the run-tool wrapper where libfiu is built
   * in, else through the fake: the same failure (status 1, no output). */
#ifdef FIU_ENABLE
  fiu_init(0);
  assert_int_equal(fiu_enable("bs/real/exec/diskutil", 1, NULL, FIU_ONETIME), 0);
#else
  assert_bs_ok(bs_darwin_fake_script_tool(st, 1, NULL, 0, NULL, 0));
#endif
  int rc = bs_snapshot_create(st, "s", NULL);
  assert_bs_err(rc, BS_ETOOL_FAILED);
  assert_string_equal(detail(st), "diskutil exited with status 1");
  check_golden(rc, detail(st), "error-tool-failed.ssz");
  assert_nothing_left(st);
  /* A recorded failure keeps diskutil's stderr in the message. */
  size_t elen = 0;
  char *err = bs_test_data_load("diskutil/err-not-apfs.stderr", &elen);
  assert_bs_ok(bs_darwin_fake_script_tool(st, 1, NULL, 0, err, elen));
  free(err);
  assert_bs_err(bs_snapshot_create(st, "s", NULL), BS_ETOOL_FAILED);
  assert_string_equal(detail(st), "diskutil exited with status 1: Error: disk3 is not an APFS Volume");
  assert_nothing_left(st);
  /* A diskutil that cannot even be started failed as well; out of memory is NO_MEMORY. */
  bs_darwin_fake_fail_next_tool(st, ENOENT);
  assert_bs_err(bs_snapshot_create(st, "s", NULL), BS_ETOOL_FAILED);
  assert_string_equal(detail(st), "cannot run " BS_DARWIN_DISKUTIL ": No such file or directory");
  assert_nothing_left(st);
  bs_darwin_fake_fail_next_tool(st, ENOMEM);
  assert_bs_err(bs_snapshot_create(st, "s", NULL), BS_ENO_MEMORY);
  assert_nothing_left(st);
  bs_close(st);
}

/* Garbled output: PARSE, nothing left; the text form's message is the golden one. */
static void garbled_diskutil_is_PARSE(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  static const char *const files[] = {"bad-header.txt", "bad-garbage.plist", "list-one.txt",
                                      "bad-uuid.plist"};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    char name[64];
    snprintf(name, sizeof(name), "diskutil/%s", files[i]);
    size_t len = 0;
    char *out = bs_test_data_load(name, &len);
    assert_bs_ok(bs_darwin_fake_script_tool(st, 0, out, len, NULL, 0));
    free(out);
    int rc = bs_snapshot_create(st, "s", NULL);
    if (rc != BS_EPARSE)
      fail_msg("%s: %s (%s), expected PARSE", files[i], bs_err_name(rc), detail(st));
    /* The store asks for the -plist form where it can read it. */
    if (bs__diskutil_have_plist() ? i == 1 : i == 0)
      check_golden(rc, detail(st), bs__diskutil_have_plist() ? "error-parse-plist.ssz" : "error-parse.ssz");
    assert_nothing_left(st);
  }
  /* A list that parses but lacks the new snapshot is PARSE too. */
  size_t len = 0;
  char *out = bs_test_data_load(bs__diskutil_have_plist() ? "diskutil/list-one.plist" : "diskutil/list-one.txt", &len);
  assert_bs_ok(bs_darwin_fake_script_tool(st, 0, out, len, NULL, 0));
  free(out);
  assert_bs_err(bs_snapshot_create(st, "s", NULL), BS_EPARSE);
  if (!strstr(detail(st), "does not list " BS_DARWIN_SNAP_PREFIX))
    fail_msg("detail: %s", detail(st));
  assert_nothing_left(st);
  bs_close(st);
}

/* ---- branches and the other methods ------------------------------------------------ */

static void branch_is_a_clone_of_the_snapshot(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  const size_t len = 8 * BLK + 1;
  bs_test_put(st, "/big", len, 5);
  assert_bs_ok(bs_mkdir(st, "/d", 0700));
  assert_bs_ok(bs_setxattr(st, "/d", "user.x", "1", 1));
  bs_test_put(st, "/d/small", 10, 6);
  uint64_t id = snap(st, "s");
  bs_usage u0 = bs_test_usage(bs_darwin_fake_sim(st));
  assert_bs_ok(bs_branch_create(st, id, "work"));
  bs_usage u1 = bs_test_usage(bs_darwin_fake_sim(st));
  assert_true(u1.used_bytes - u0.used_bytes < 2 * BLK); /* metadata only: the data is shared */
  char listing[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/branches/work", listing);
  assert_string_equal(listing, "big;d/;"); /* no frozen .bs */
  bs_test_assert_put(st, "/.bs/branches/work/big", len, 5);
  bs_stat_info a, b;
  assert_bs_ok(bs_stat(st, "/d", &a));
  assert_bs_ok(bs_stat(st, "/.bs/branches/work/d", &b));
  assert_int_equal(b.mode, 0700);
  char v[4];
  size_t n = 0;
  assert_bs_ok(bs_getxattr(st, "/.bs/branches/work/d", "user.x", v, sizeof(v), &n));
  assert_int_equal(n, 1);
  /* Writable, and independent of the snapshot. */
  assert_bs_ok(bs_write(st, "/.bs/branches/work/big", 0, "zz", 2));
  read_in_snapshot(st, id, "/big", len, 5);
  assert_bs_err(bs_snapshot_delete(st, id), BS_EBUSY);
  assert_bs_ok(bs_branch_delete(st, "work"));
  assert_bs_ok(bs_snapshot_delete(st, id));
  assert_nothing_left(st);
  bs_close(st);
}

/* clonefile cannot reach out of a mounted snapshot on some systems (EXDEV):
 * the branch is then a byte copy, with the same contents and metadata. */
static void branch_falls_back_to_a_copy_on_EXDEV(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  bs_test_put(st, "/f", 3 * BLK, 8);
  assert_bs_ok(bs_chmod(st, "/f", 0640));
  uint64_t id = snap(st, "s");
  bs_darwin_fake_fail_next_clone(st, EXDEV);
  assert_bs_ok(bs_branch_create(st, id, "b"));
  bs_test_assert_put(st, "/.bs/branches/b/f", 3 * BLK, 8);
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, "/.bs/branches/b/f", &si));
  assert_int_equal(si.mode, 0640);
  /* Any other clonefile failure fails the branch, leaving nothing. */
  bs_darwin_fake_fail_next_clone(st, ENOSPC);
  assert_bs_err(bs_branch_create(st, id, "c"), BS_ENO_SPACE);
  char listing[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/branches", listing);
  assert_string_equal(listing, "b/;");
  bs_close(st);
}

/* HFS+: no snapshots, unless copies are asked for; then trees are byte copies. */
static void hfs_snapshots_are_copies_when_asked(void **state) {
  (void)state;
  bs_store *st = open_fake("hfs", 0);
  bs_test_put(st, "/f", BLK, 9);
  assert_bs_err(bs_snapshot_create(st, "s", NULL), BS_EUNSUPPORTED);
  bs_close(st);
  st = open_fake("hfs", BS_OPEN_SNAPSHOT_COPY);
  bs_test_put(st, "/f", 2 * BLK, 9);
  uint64_t id = snap(st, "s");
  assert_int_equal(bs_darwin_fake_mount_count(st), 0);
  assert_bs_ok(bs_write(st, "/f", 0, "new", 3));
  read_in_snapshot(st, id, "/f", 2 * BLK, 9);
  assert_bs_ok(bs_branch_create(st, id, "b"));
  bs_test_assert_put(st, "/.bs/branches/b/f", 2 * BLK, 9);
  assert_bs_ok(bs_branch_delete(st, "b"));
  assert_bs_ok(bs_snapshot_delete(st, id));
  char listing[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/.bs/snapshots", listing);
  assert_string_equal(listing, "");
  assert_bs_ok(bs_check(bs_darwin_fake_sim(st)));
  bs_close(st);
}

/* The seam keeps its all-or-nothing contract when called directly. */
static void seam_members_keep_their_contracts(void **state) {
  (void)state;
  bs_store *st = open_fake("apfs", 0);
  const bs_host_os *os = os_of(st);
  assert_int_equal(os->make_root(os->ctx, "/r"), 0);
  assert_int_equal(os->make_root(os->ctx, "/r"), -EEXIST);
  assert_int_equal(os->reserve(os->ctx, BS__HOST_PATH("/r"), BS__HOST_PATH("/r/.bs")), 0);
  assert_int_equal(os->reserve(os->ctx, BS__HOST_PATH("/r"), BS__HOST_PATH("/r/.bs")), 0); /* there already */
  bs_test_put(st, "/r/.bs2", 1, 1);
  assert_int_equal(os->reserve(os->ctx, BS__HOST_PATH("/r"), BS__HOST_PATH("/r/.bs2")), -ENOTDIR);
  bs_stat_info si;
  assert_int_equal(os->stat(os->ctx, BS__HOST_PATH("/r/.bs"), &si), 0);
  assert_int_equal(si.mode, 0700);
  /* A destination that exists is EEXIST, and is not touched. */
  bs_test_put(st, "/r/x", 10, 1);
  assert_bs_ok(bs_mkdir(st, "/r/.bs/t", 0755));
  assert_int_equal(os->branch_create(os->ctx, BS_TREE_REFLINK, BS__HOST_PATH("/r"), BS__HOST_PATH("/r/.bs/t")), -EEXIST);
  uint8_t uuid[16];
  assert_int_equal(os->snap_create(os->ctx, BS_TREE_REFLINK, BS__HOST_PATH("/r"), BS__HOST_PATH("/r/.bs/t"), uuid), -EEXIST);
  assert_int_equal(os->stat(os->ctx, BS__HOST_PATH("/r/.bs/t"), &si), 0);
  /* A reflink-method tree: no UUID from the filesystem, .bs left out. */
  memset(uuid, 1, sizeof(uuid));
  assert_int_equal(os->snap_create(os->ctx, BS_TREE_REFLINK, BS__HOST_PATH("/r"), BS__HOST_PATH("/r/.bs/u"), uuid), 0);
  uint8_t zero[16] = {0};
  assert_memory_equal(uuid, zero, 16);
  char listing[BS_TEST_LISTING_MAX];
  bs_test_listing(st, "/r/.bs/u", listing);
  assert_string_equal(listing, ".bs2;x;"); /* only ".bs" itself is left out */
  assert_int_equal(os->tree_delete(os->ctx, BS_TREE_REFLINK, BS__HOST_PATH("/r/.bs/u")), 0);
  assert_int_equal(os->tree_delete(os->ctx, BS_TREE_NATIVE, BS__HOST_PATH("/r/.bs/u")), 0); /* gone: fine */
  assert_int_equal(os->stat(os->ctx, BS__HOST_PATH("/r/.bs/u"), &si), -ENOENT);
  assert_int_equal(os->snap_create(os->ctx, (bs_tree_method)9, BS__HOST_PATH("/r"), BS__HOST_PATH("/r/.bs/v"), uuid), -EINVAL);
  bs_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(native_snapshot_is_a_mounted_apfs_snapshot),
    cmocka_unit_test(native_snapshot_needs_the_volume_root),
    cmocka_unit_test(snapshot_without_entitlement_is_PERMISSION),
    cmocka_unit_test(delete_without_entitlement_goes_through_diskutil),
    cmocka_unit_test(snapshots_are_mounted_again_after_a_restart),
    cmocka_unit_test(unrecorded_snapshots_of_ours_are_dropped),
    cmocka_unit_test(mounts_are_known_by_their_source_too),
    cmocka_unit_test(orphan_native_snapshot_is_reconciled),
    cmocka_unit_test(failing_diskutil_is_TOOL_FAILED),
    cmocka_unit_test(garbled_diskutil_is_PARSE),
    cmocka_unit_test(branch_is_a_clone_of_the_snapshot),
    cmocka_unit_test(branch_falls_back_to_a_copy_on_EXDEV),
    cmocka_unit_test(hfs_snapshots_are_copies_when_asked),
    cmocka_unit_test(seam_members_keep_their_contracts),
  };
  return cmocka_run_group_tests_name("darwin_snap", tests, NULL, NULL);
}
