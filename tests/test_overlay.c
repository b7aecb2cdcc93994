/* Overlay branches (issue 17, docs/overlay.md): one body per behaviour, run
 * on every target where snapshots work (the sim profiles, real btrfs, xfs,
 * ext4 and tmpfs with copies, darwin apfs through its fake): lookups through
 * upper and lower, the merged listing, whiteouts and opaque directories,
 * copy-up on the first write and on a metadata change, rename, the copy-up policy's refusals, and the
 * registry's branch kinds (format 2, format 1 still read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/snapreg.h"
#include "tests/support/bs_test.h"
#include "tests/support/overlay_view.h"

#define B "/.bs/branches/b"

/* The main tree every body starts from, a snapshot "s" of it and overlay
 * branch "b" of that. */
static void setup(bs_store *st, const bs_target *t) {
  bs_test_put_text(st, "/a", "lower-a");
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  bs_test_put_text(st, "/d/x", "x");
  bs_test_put_text(st, "/d/y", "y");
  if (t->caps.xattrs)
    assert_bs_ok(bs_setxattr(st, "/d/y", "user.k", "v", 1));
  assert_bs_ok(bs_mkdir(st, "/e", 0750));
  bs_test_put_text(st, "/e/z", "z");
  assert_bs_ok(bs_mkdir(st, "/empty", 0755));
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
}

static void each(bs_target_body body) {
  bs_test_each_backend_if(BS_KINDS_ALL, bs_test_snapshots_work, body, NULL, bs_test_seed());
}

/* ---- overlay_branch_shows_its_snapshot ----------------------------------------------- */

static void shows_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st, t);
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "b", &bi));
  assert_int_equal(bi.kind, BS_BRANCH_OVERLAY);
  assert_int_equal(bi.depth, 1);
  assert_string_equal(bi.name, "b");
  bs_branch_layers ly;
  assert_bs_ok(bs_branch_layers_get(st, "b", &ly));
  char want[64];
  snprintf(want, sizeof(want), "/.bs/branch/%llu/upper", (unsigned long long)bi.id);
  assert_string_equal(ly.upper, want);
  snprintf(want, sizeof(want), "/.bs/snap/%llu", (unsigned long long)bi.snapshot_id);
  assert_string_equal(ly.lower, want);
  uint64_t parent = 0;
  assert_bs_ok(bs_branch_parent(st, "b", &parent));
  assert_int_equal(parent, bi.snapshot_id);
  bs_test_assert_listing(st, B, "a;d/;e/;empty/;");
  bs_test_assert_listing(st, B "/d", "x;y;");
  bs_test_assert_text(st, B "/a", "lower-a");
  bs_stat_info s1, s2;
  assert_bs_ok(bs_stat(st, B "/e", &s1));
  assert_int_equal(s1.kind, BS_KIND_DIR);
  assert_int_equal(s1.mode, 0750);
  assert_bs_ok(bs_stat(st, B "/d/x", &s2));
  assert_int_equal(s2.size, 1);
  assert_bs_err(bs_stat(st, B "/nope", &s1), BS_ENOT_FOUND);
  assert_bs_err(bs_stat(st, B "/a/under-a-file", &s1), BS_EINVALID);
  /* A snapshot with an overlay branch on it is BUSY, as with any branch. */
  assert_bs_err(bs_snapshot_delete(st, bi.snapshot_id), BS_EBUSY);
  assert_bs_ok(bs_branch_delete(st, "b"));
  assert_bs_ok(bs_snapshot_delete(st, bi.snapshot_id));
  bs_test_check(st, t);
}

static void overlay_branch_shows_its_snapshot(void **state) {
  (void)state;
  each(shows_body);
}

/* ---- copy_up_on_write_keeps_the_lower --------------------------------------------------- */

static void copy_up_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st, t);
  assert_bs_ok(bs_write(st, B "/a", 0, "UPPER", 5));
  bs_test_assert_text(st, B "/a", "UPPER-a");
  bs_test_assert_text(st, "/.bs/snapshots/s/a", "lower-a");
  bs_test_assert_text(st, "/a", "lower-a");
  /* A change in the main tree after the snapshot is not seen. */
  assert_bs_ok(bs_write(st, "/d/y", 0, "Y", 1));
  bs_test_assert_text(st, B "/d/y", "y");
  /* Metadata copy-up: the content comes along, the lower keeps its mode. */
  assert_bs_ok(bs_chmod(st, B "/d/x", 0600));
  bs_stat_info si;
  assert_bs_ok(bs_stat(st, B "/d/x", &si));
  assert_int_equal(si.mode, 0600);
  bs_test_assert_text(st, B "/d/x", "x");
  assert_bs_ok(bs_stat(st, "/.bs/snapshots/s/d/x", &si));
  assert_int_equal(si.mode, 0644);
  /* The parent came up with its mode. */
  assert_bs_ok(bs_truncate(st, B "/e/z", 0));
  assert_bs_ok(bs_stat(st, B "/e", &si));
  assert_int_equal(si.mode, 0750);
  assert_bs_ok(bs_stat(st, B "/e/z", &si));
  assert_int_equal(si.size, 0);
  bs_test_assert_listing(st, B "/e", "z;");
  bs_test_assert_text(st, "/.bs/snapshots/s/e/z", "z");
  if (t->caps.xattrs) {
    /* xattrs come along; the overlay's own are neither shown nor settable. */
    assert_bs_ok(bs_chmod(st, B "/d/y", 0640));
    char v[8];
    size_t n = 0;
    assert_bs_ok(bs_getxattr(st, B "/d/y", "user.k", v, sizeof(v), &n));
    assert_int_equal(n, 1);
    assert_bs_err(bs_setxattr(st, B "/d/y", "user.overlay.opaque", "y", 1), BS_EPERMISSION);
  }
  bs_test_check(st, t);
}

static void copy_up_on_write_keeps_the_lower(void **state) {
  (void)state;
  each(copy_up_body);
}

/* ---- whiteouts_and_opaque_directories ----------------------------------------------------- */

static void whiteout_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st, t);
  bs_stat_info si;
  assert_bs_ok(bs_unlink(st, B "/d/x"));
  assert_bs_err(bs_stat(st, B "/d/x", &si), BS_ENOT_FOUND);
  assert_bs_err(bs_unlink(st, B "/d/x"), BS_ENOT_FOUND);
  bs_test_assert_listing(st, B "/d", "y;");
  bs_test_assert_text(st, "/.bs/snapshots/s/d/x", "x");
  /* A copied-up file removed: its lower one stays hidden. */
  assert_bs_ok(bs_write(st, B "/a", 0, "A", 1));
  assert_bs_ok(bs_unlink(st, B "/a"));
  assert_bs_err(bs_stat(st, B "/a", &si), BS_ENOT_FOUND);
  bs_test_put_text(st, B "/a", "again");
  bs_test_assert_text(st, B "/a", "again");
  /* A new file over the whiteout is a new, empty file. */
  assert_bs_ok(bs_create(st, B "/d/x", 0640));
  assert_bs_ok(bs_stat(st, B "/d/x", &si));
  assert_int_equal(si.size, 0);
  assert_int_equal(si.mode, 0640);
  bs_test_assert_listing(st, B "/d", "x;y;");
  assert_bs_err(bs_create(st, B "/d/y", 0644), BS_EEXISTS);
  /* rmdir: a merged directory must be empty; then it is whited out. */
  assert_bs_err(bs_rmdir(st, B "/e"), BS_EEXISTS);
  assert_bs_err(bs_unlink(st, B "/e"), BS_EINVALID);
  assert_bs_ok(bs_unlink(st, B "/e/z"));
  assert_bs_ok(bs_rmdir(st, B "/e"));
  assert_bs_ok(bs_rmdir(st, B "/empty"));
  bs_test_assert_listing(st, B, "a;d/;");
  /* A directory made where one was removed is opaque: the lower's stay hidden. */
  assert_bs_ok(bs_mkdir(st, B "/e", 0700));
  bs_test_assert_listing(st, B "/e", "");
  assert_bs_err(bs_stat(st, B "/e/z", &si), BS_ENOT_FOUND);
  bs_test_put_text(st, B "/e/new", "n");
  bs_test_assert_listing(st, B "/e", "new;");
  bs_test_assert_listing(st, B, "a;d/;e/;");
  /* Upper-only entries go without a trace. */
  assert_bs_ok(bs_unlink(st, B "/e/new"));
  assert_bs_ok(bs_rmdir(st, B "/e"));
  bs_test_assert_listing(st, B, "a;d/;");
  bs_test_assert_listing(st, "/.bs/snapshots/s", "a;d/;e/;empty/;");
  /* The root of the branch stays. */
  assert_bs_err(bs_rmdir(st, B), BS_EBUSY);
  bs_test_check(st, t);
}

static void whiteouts_and_opaque_directories(void **state) {
  (void)state;
  each(whiteout_body);
}

/* ---- rename_across_layers ------------------------------------------------------------ */

static void rename_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st, t);
  bs_stat_info si;
  assert_bs_ok(bs_rename(st, B "/d/y", B "/y2"));
  bs_test_assert_text(st, B "/y2", "y");
  assert_bs_err(bs_stat(st, B "/d/y", &si), BS_ENOT_FOUND);
  bs_test_assert_listing(st, B "/d", "x;");
  bs_test_assert_listing(st, B, "a;d/;e/;empty/;y2;");
  /* Over a lower file: replaced. */
  assert_bs_ok(bs_rename(st, B "/y2", B "/a"));
  bs_test_assert_text(st, B "/a", "y");
  bs_test_assert_listing(st, B, "a;d/;e/;empty/;");
  /* A directory of the lower: EXDEV, as overlayfs without redirect_dir. */
  assert_bs_err(bs_rename(st, B "/d", B "/d2"), BS_ECROSS_DEVICE);
  /* A directory of the upper alone moves. */
  assert_bs_ok(bs_mkdir(st, B "/u", 0755));
  bs_test_put_text(st, B "/u/f", "f");
  assert_bs_ok(bs_rename(st, B "/u", B "/u2"));
  bs_test_assert_text(st, B "/u2/f", "f");
  /* A reflink reads its source through the layers and makes its clone like
   * a new file: over a whiteout, never over a lower file. */
  if (t->caps.native_reflink) {
    assert_bs_ok(bs_reflink(st, B "/d/x", B "/x-clone"));
    bs_test_assert_text(st, B "/x-clone", "x");
    assert_bs_err(bs_reflink(st, B "/d/x", B "/e/z"), BS_EEXISTS);
    assert_bs_ok(bs_unlink(st, B "/e/z"));
    assert_bs_ok(bs_reflink(st, B "/d/x", B "/e/z"));
    bs_test_assert_text(st, B "/e/z", "x");
    bs_test_assert_text(st, "/.bs/snapshots/s/e/z", "z");
  } else {
    assert_bs_err(bs_reflink(st, B "/d/x", B "/x-clone"), BS_EUNSUPPORTED);
  }
  /* Between the branch and the main tree: CROSS_DEVICE, as for every tree. */
  assert_bs_err(bs_rename(st, B "/d/x", "/x"), BS_ECROSS_DEVICE);
  bs_test_assert_text(st, "/.bs/snapshots/s/d/y", "y");
  bs_test_check(st, t);
}

/* ---- links_in_an_overlay_branch ------------------------------------------------------ */

static void assert_link_text(bs_store *st, const char *path, const char *want) {
  char buf[64];
  size_t n = 0;
  assert_bs_ok(bs_readlink(st, path, buf, sizeof(buf), &n));
  assert_int_equal(n, strlen(want));
  assert_string_equal(buf, want);
}

static void links_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  int rc = bs_symlink(st, "a", "/ln");
  if (rc == BS_EUNSUPPORTED) { /* darwin's host has no link methods */
    setup(st, t);
    assert_bs_err(bs_link(st, B "/d/x", B "/x-hard"), BS_EUNSUPPORTED);
    return;
  }
  assert_bs_ok(rc);
  setup(st, t);
  /* A symlink of the lower reads through the branch, and moves by a
   * copy-up of its text. */
  assert_link_text(st, B "/ln", "a");
  assert_bs_ok(bs_rename(st, B "/ln", B "/d/ln2"));
  assert_link_text(st, B "/d/ln2", "a");
  bs_stat_info si;
  assert_bs_err(bs_stat(st, B "/ln", &si), BS_ENOT_FOUND);
  assert_link_text(st, "/.bs/snapshots/s/ln", "a");
  /* A new symlink goes to the upper, also over a whiteout. */
  assert_bs_ok(bs_symlink(st, "elsewhere", B "/new-ln"));
  assert_link_text(st, B "/new-ln", "elsewhere");
  assert_bs_err(bs_symlink(st, "x", B "/a"), BS_EEXISTS);
  assert_bs_ok(bs_unlink(st, B "/e/z"));
  assert_bs_ok(bs_symlink(st, "z-was-here", B "/e/z"));
  assert_link_text(st, B "/e/z", "z-was-here");
  bs_test_assert_text(st, "/.bs/snapshots/s/e/z", "z");
  /* A hard link of a lower file: the file is copied up, then both names
   * share the upper inode; the snapshot keeps its own. */
  assert_bs_ok(bs_link(st, B "/d/x", B "/x-hard"));
  bs_test_assert_text(st, B "/x-hard", "x");
  assert_bs_ok(bs_stat(st, B "/d/x", &si));
  assert_int_equal(si.nlink, 2);
  assert_bs_ok(bs_write(st, B "/x-hard", 0, "X", 1));
  bs_test_assert_text(st, B "/d/x", "X");
  bs_test_assert_text(st, "/.bs/snapshots/s/d/x", "x");
  assert_bs_err(bs_link(st, B "/d", B "/d-hard"), BS_EPERMISSION);
  assert_bs_err(bs_link(st, B "/d/x", B "/a"), BS_EEXISTS);
  bs_test_assert_listing(st, B, "a;d/;e/;empty/;new-ln;x-hard;");
  bs_test_check(st, t);
}

static void links_in_an_overlay_branch(void **state) {
  (void)state;
  each(links_body);
}

static void rename_across_layers(void **state) {
  (void)state;
  each(rename_body);
}

/* ---- survives_a_reopen ------------------------------------------------------------ */

static void reopen_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st, t);
  assert_bs_ok(bs_write(st, B "/a", 0, "A", 1));
  assert_bs_ok(bs_unlink(st, B "/d/x"));
  assert_bs_ok(bs_sync(st, NULL));
  st = bs_test_reopen(t, st);
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "b", &bi));
  assert_int_equal(bi.kind, BS_BRANCH_OVERLAY);
  bs_test_assert_text(st, B "/a", "Aower-a");
  bs_test_assert_listing(st, B "/d", "y;");
  bs_test_check(st, t);
}

static void survives_a_reopen(void **state) {
  (void)state;
  bs_test_each_backend_if((BS_KINDS(BS_TARGET_SIM) | BS_KINDS(BS_TARGET_REAL)), bs_test_snapshots_work, reopen_body, NULL, bs_test_seed());
}

/* ---- copy_up_policy_refusals ------------------------------------------------------------ */

static void assert_refused(bs_store *st, int rc, const char *reason) {
  assert_bs_err(rc, BS_EPERMISSION);
  if (!strstr(bs_last_message(st), reason))
    fail_msg("message \"%s\" does not name \"%s\"", bs_last_message(st), reason);
}

static void policy_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  setup(st, t);
  char v[32];
  assert_bs_ok(bs_interpose_get(st, "forwarding", v, sizeof(v)));
  assert_string_equal(v, "eager_upperize");
  assert_bs_err(bs_interpose_set(st, "forwarding", "sometimes"), BS_EINVALID);
  assert_bs_err(bs_interpose_set(st, "colour", "red"), BS_EINVALID);
  assert_bs_err(bs_interpose_set(st, "max_copy_bytes", "-1"), BS_EINVALID);
  assert_bs_err(bs_interpose_get(st, "forwarding", v, 3), BS_ENAME_TOO_LONG);

  assert_bs_ok(bs_interpose_set(st, "forwarding", "disabled"));
  assert_refused(st, bs_write(st, B "/a", 0, "X", 1), "policy");
  bs_test_assert_text(st, B "/a", "lower-a");
  assert_refused(st, bs_chmod(st, B "/d/x", 0600), "policy");
  /* Names only in the upper need no copy-up of a file. */
  bs_test_put_text(st, B "/new", "n");
  assert_bs_ok(bs_interpose_set(st, "forwarding", "eager_upperize"));

  assert_bs_ok(bs_interpose_set(st, "require_reflink", "true"));
  assert_bs_ok(bs_interpose_get(st, "require_reflink", v, sizeof(v)));
  assert_string_equal(v, "true");
  int rc = bs_write(st, B "/a", 0, "X", 1);
  if (t->caps.native_reflink)
    assert_bs_ok(rc);
  else
    assert_refused(st, rc, "no_reflink");
  assert_bs_ok(bs_interpose_set(st, "require_reflink", "false"));

  assert_bs_ok(bs_interpose_set(st, "max_copy_bytes", "1"));
  assert_bs_ok(bs_interpose_get(st, "max_copy_bytes", v, sizeof(v)));
  assert_string_equal(v, "1");
  rc = bs_write(st, B "/d/y", 0, "Y", 1); /* 1 byte: within the limit */
  assert_bs_ok(rc);
  rc = bs_write(st, B "/e/z", 0, "Z", 1);
  assert_bs_ok(rc);
  bs_test_put_text(st, "/big", "0123456789"); /* not in the snapshot: no copy-up */
  rc = bs_truncate(st, B "/a", 2);
  if (t->caps.native_reflink)
    assert_bs_ok(rc); /* a reflink copy-up is not bound by max_copy_bytes */
  else
    assert_refused(st, rc, "size_threshold");
  bs_test_check(st, t);
}

static void copy_up_policy_refusals(void **state) {
  (void)state;
  each(policy_body);
}

/* ---- auto_kind_and_bad_input ------------------------------------------------------------ */

static void kinds_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put_text(st, "/a", "a");
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  assert_bs_ok(bs_branch_create_opts(st, si.id, "auto", NULL));
  bs_branch_info bi;
  assert_bs_ok(bs_branch_info_get(st, "auto", &bi));
  /* AUTO: native where the filesystem snapshots natively, else an overlay. */
  bool native = t->caps.native_snapshots;
  assert_int_equal(bi.kind, native ? BS_BRANCH_NATIVE : BS_BRANCH_OVERLAY);
  assert_bs_ok(bs_branch_create(st, si.id, "plain"));
  assert_bs_ok(bs_branch_info_get(st, "plain", &bi));
  assert_int_equal(bi.kind, BS_BRANCH_NATIVE);
  assert_int_equal(bi.depth, 0);
  bs_branch_layers ly;
  assert_bs_err(bs_branch_layers_get(st, "plain", &ly), BS_EINVALID);
  bs_branch_opts bad = {.kind = (bs_branch_kind)7};
  assert_bs_err(bs_branch_create_opts(st, si.id, "bad", &bad), BS_EINVALID);
  bs_branch_opts ov = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_err(bs_branch_create_opts(st, si.id + 9, "o", &ov), BS_ENOT_FOUND);
  assert_bs_err(bs_branch_create_opts(st, si.id, "plain", &ov), BS_EEXISTS);
  assert_bs_err(bs_branch_info_get(st, "none", &bi), BS_ENOT_FOUND);
  bs_test_assert_listing(st, "/.bs/branches", "auto/;plain/;");
  bs_test_check(st, t);
}

static void auto_kind_and_bad_input(void **state) {
  (void)state;
  each(kinds_body);
}


/* ---- branch_from_snapshot_clones_only_metadata / copy_up_of_a_big_file_shares_its_blocks ---- */

#define BIG (16u * 1024 * 1024)

static void metadata_body(bs_store *st, const bs_target *t, void *ctx) {
  (void)ctx;
  bs_test_put(st, "/big", BIG, 3);
  bs_snapshot_info si;
  assert_bs_ok(bs_snapshot_create(st, "s", &si));
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage before = bs_test_usage(st);
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, si.id, "b", &o));
  assert_bs_ok(bs_sync(st, NULL));
  bs_usage after = bs_test_usage(st);
  /* Three directories, whatever the tree holds: a few blocks (a real
   * volume's own bookkeeping may move by a little more). */
  uint64_t slack = bs_test_exact_space(t) ? 8 * before.block_size : 1024 * 1024;
  if (after.used_bytes > before.used_bytes + slack)
    fail_msg("%s: an overlay branch of a %u-byte tree took %llu bytes", t->label, BIG,
             (unsigned long long)(after.used_bytes - before.used_bytes));
  /* The first write of one byte copies the file up by reflink: its blocks
   * stay shared, less than 1 % of them new. */
  if (t->caps.native_reflink) {
    assert_bs_ok(bs_write(st, B "/big", 12345, "!", 1));
    assert_bs_ok(bs_sync(st, NULL));
    bs_usage written = bs_test_usage(st);
    if (written.used_bytes > after.used_bytes + BIG / 100 + slack)
      fail_msg("%s: a 1-byte write copied up %llu bytes of a %u-byte file", t->label,
               (unsigned long long)(written.used_bytes - after.used_bytes), BIG);
    if (t->kind == BS_TARGET_REAL) {
      bs_branch_layers ly;
      assert_bs_ok(bs_branch_layers_get(st, "b", &ly));
      char rel[128], host[4096];
      snprintf(rel, sizeof(rel), "%s/big", ly.upper);
      bs_test_host_path(t, rel, host);
      uint64_t shared = bs_test_shared_bytes(host);
      if (shared < BIG - BIG / 100)
        fail_msg("%s: only %llu of %u bytes of the copy-up share extents (FIEMAP)", t->label,
                 (unsigned long long)shared, BIG);
    }
    char c = 0;
    size_t n = 0;
    assert_bs_ok(bs_read(st, "/.bs/snapshots/s/big", 12345, &c, 1, &n));
    assert_int_not_equal(c, '!');
  }
  bs_test_check(st, t);
}

static void branch_from_snapshot_clones_only_metadata(void **state) {
  (void)state;
  each(metadata_body);
}

/* ---- registry_format_2_keeps_format_1_readable ----------------------------------------------- */

static void registry_format_2_keeps_format_1_readable(void **state) {
  (void)state;
  bs__snapreg r, back;
  bs__snapreg_init(&r);
  uint8_t uuid[16] = {1};
  assert_bs_ok(bs__snapreg_add(&r, "s", uuid, 5, NULL));
  assert_bs_ok(bs__snapreg_add_branch(&r, 1, "native", NULL));
  uint8_t *buf;
  size_t len;
  /* Without an overlay branch the bytes are format 1, as older builds wrote. */
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &len));
  assert_memory_equal(buf, "BSREG001", 8);
  assert_bs_ok(bs__snapreg_decode(&back, buf, len));
  assert_int_equal(back.branches[0].kind, BS_BRANCH_NATIVE);
  bs__snapreg_free(&back);
  free(buf);
  assert_bs_ok(bs__snapreg_add_branch_kind(&r, 1, "over", BS_BRANCH_OVERLAY, NULL));
  assert_bs_err(bs__snapreg_add_branch_kind(&r, 1, "bad", 9, NULL), BS_EINVALID);
  assert_bs_ok(bs__snapreg_encode(&r, &buf, &len));
  assert_memory_equal(buf, "BSREG002", 8);
  assert_bs_ok(bs__snapreg_decode(&back, buf, len));
  assert_int_equal(back.nbranches, 2);
  assert_string_equal(back.branches[0].name, "native");
  assert_int_equal(back.branches[0].kind, BS_BRANCH_NATIVE);
  assert_string_equal(back.branches[1].name, "over");
  assert_int_equal(back.branches[1].kind, BS_BRANCH_OVERLAY);
  assert_int_equal(back.snaps[0].branch_count, 2);
  bs__snapreg_free(&back);
  /* Format 2 with a format-1 magic is damaged, not misread. */
  memcpy(buf, "BSREG001", 8);
  assert_bs_err(bs__snapreg_decode(&back, buf, len), BS_ECORRUPT);
  free(buf);
  bs__snapreg_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(overlay_branch_shows_its_snapshot),
    cmocka_unit_test(copy_up_on_write_keeps_the_lower),
    cmocka_unit_test(whiteouts_and_opaque_directories),
    cmocka_unit_test(rename_across_layers),
    cmocka_unit_test(links_in_an_overlay_branch),
    cmocka_unit_test(survives_a_reopen),
    cmocka_unit_test(copy_up_policy_refusals),
    cmocka_unit_test(auto_kind_and_bad_input),
    cmocka_unit_test(branch_from_snapshot_clones_only_metadata),
    cmocka_unit_test(registry_format_2_keeps_format_1_readable),
  };
  return cmocka_run_group_tests_name("overlay", tests, NULL, NULL);
}
