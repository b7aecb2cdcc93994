#include "tests/support/snap_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* @dir joined with @name into @out (4096 bytes); @dir "" or "/" is the root. */
static void join(char *out, const char *dir, const char *name) {
  size_t n = strlen(dir);
  int w = snprintf(out, 4096, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
  assert_true(w > 0 && w < 4096);
}

void bs_snap_test_make_tree(bs_store *st, const bs_target *t, const char *dir, uint8_t fill) {
  char p[4096];
  join(p, dir, "a");
  bs_test_put(st, p, 3 * 4096 + 17, fill);
  assert_bs_ok(bs_chmod(st, p, 0640));
  if (t->caps.xattrs)
    assert_bs_ok(bs_setxattr(st, p, "user.tag", "alpha", 5));
  join(p, dir, "empty");
  bs_test_put(st, p, 0, fill);
  join(p, dir, "d");
  assert_bs_ok(bs_mkdir(st, p, 0750));
  join(p, dir, "d/b");
  bs_test_put(st, p, 4096, (uint8_t)(fill + 1));
  assert_bs_ok(bs_chmod(st, p, 0600));
  join(p, dir, "d/e");
  assert_bs_ok(bs_mkdir(st, p, 0700));
  join(p, dir, "d/e/c with space");
  bs_test_put(st, p, 100, (uint8_t)(fill + 2));
  if (bs_chown(st, p, 1000, 2000) != BS_EUNSUPPORTED) /* owners travel too, where there are any */
    assert_bs_ok(bs_chown(st, p, 1000, 2000));
  if (t->caps.xattrs)
    assert_bs_ok(bs_setxattr(st, p, "user.k", "v", 1));
}

/* The names of one directory, in readdir order. */
#define MAX_ENTRIES 64
typedef struct names {
  size_t n;
  char name[MAX_ENTRIES][256];
} names;

static int add_name(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  names *ns = ctx;
  assert_true(ns->n < MAX_ENTRIES);
  snprintf(ns->name[ns->n++], 256, "%s", name);
  return 0;
}

static int add_xattr(void *ctx, const char *name) { return add_name(ctx, name, BS_KIND_FILE); }

static void list_dir(bs_store *st, const char *dir, bool top, names *out) {
  names all = {0};
  assert_bs_ok(bs_readdir(st, dir, add_name, &all));
  out->n = 0;
  for (size_t i = 0; i < all.n; i++)
    if (!(top && strcmp(all.name[i], ".bs") == 0))
      memcpy(out->name[out->n++], all.name[i], 256);
}

static void same_xattrs(bs_store *st, const char *a, const char *b) {
  names xa = {0}, xb = {0};
  int ra = bs_listxattr(st, a, add_xattr, &xa), rb = bs_listxattr(st, b, add_xattr, &xb);
  if (ra != rb)
    fail_msg("listxattr %s: %s, %s: %s", a, bs_err_name(ra), b, bs_err_name(rb));
  if (xa.n != xb.n)
    fail_msg("%s has %zu xattrs, %s has %zu", a, xa.n, b, xb.n);
  for (size_t i = 0; i < xa.n; i++) {
    assert_string_equal(xa.name[i], xb.name[i]);
    char va[256], vb[256];
    size_t la = 0, lb = 0;
    assert_bs_ok(bs_getxattr(st, a, xa.name[i], va, sizeof(va), &la));
    assert_bs_ok(bs_getxattr(st, b, xb.name[i], vb, sizeof(vb), &lb));
    assert_int_equal(la, lb);
    assert_memory_equal(va, vb, la);
  }
}

static void same_entry(bs_store *st, const char *a, const char *b, bool top) {
  bs_stat_info sa, sb;
  assert_bs_ok(bs_stat(st, a, &sa));
  assert_bs_ok(bs_stat(st, b, &sb));
  if (sa.kind != sb.kind || sa.mode != sb.mode || sa.uid != sb.uid || sa.gid != sb.gid)
    fail_msg("%s (kind %d mode %o owner %u:%u) differs from %s (kind %d mode %o owner %u:%u)", a,
             sa.kind, sa.mode, sa.uid, sa.gid, b, sb.kind, sb.mode, sb.uid, sb.gid);
  /* The top directories: making the snapshot changed the store root (/.bs). */
  if (!top && sa.mtime_ns != sb.mtime_ns)
    fail_msg("%s mtime %lld, %s mtime %lld", a, (long long)sa.mtime_ns, b, (long long)sb.mtime_ns);
  same_xattrs(st, a, b);
  if (sa.kind == BS_KIND_FILE) {
    size_t la = 0;
    uint8_t *ca = bs_test_slurp(st, a, &la);
    bs_test_assert_content(st, b, ca, la);
    free(ca);
    return;
  }
  if (sa.kind != BS_KIND_DIR)
    return;
  names *na = malloc(sizeof(*na)), *nb = malloc(sizeof(*nb));
  assert_true(na && nb);
  list_dir(st, a, top, na);
  list_dir(st, b, top, nb);
  if (na->n != nb->n)
    fail_msg("%s has %zu entries, %s has %zu", a, na->n, b, nb->n);
  for (size_t i = 0; i < na->n; i++) {
    assert_string_equal(na->name[i], nb->name[i]);
    char pa[4096], pb[4096];
    join(pa, a, na->name[i]);
    join(pb, b, nb->name[i]);
    same_entry(st, pa, pb, false);
  }
  free(na);
  free(nb);
}

void bs_snap_test_assert_same_tree(bs_store *st, const char *a, const char *b) {
  same_entry(st, a, b, true);
}

size_t bs_snap_test_count(bs_store *st) {
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  free(all);
  return n;
}

void bs_snap_test_assert_uuid(const bs_target *t, const uint8_t u[16]) {
  static const uint8_t zero[16];
  if (memcmp(u, zero, 16) == 0)
    fail_msg("%s: the snapshot uuid is all zeroes", t->label);
  if (t->kind != BS_TARGET_SIM && t->caps.native_snapshots)
    return;
  if (u[6] >> 4 != 4 || (u[8] & 0xc0) != 0x80)
    fail_msg("uuid byte 6 = %02x, byte 8 = %02x: not an RFC 4122 version-4 uuid", u[6], u[8]);
}

void bs_snap_test_assert_host_trees(bs_store *st, const bs_target *t, const char *what) {
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  assert_bs_ok(bs_snapshot_list(st, &all, &n));
  size_t branches = 0;
  for (size_t i = 0; i < n; i++)
    branches += all[i].branch_count;
  free(all);
  size_t snaps_on_disk = bs_snap_test_host_entries(t, "/.bs/snap");
  size_t branches_on_disk = bs_snap_test_host_entries(t, "/.bs/branch");
  if (snaps_on_disk != n || branches_on_disk != branches)
    fail_msg("%s: %zu snapshot and %zu branch trees on disk, the registry has %zu and %zu", what,
             snaps_on_disk, branches_on_disk, n, branches);
}

size_t bs_snap_test_host_entries(const bs_target *t, const char *rel) {
  char dir[4096];
  bs_test_host_path(t, rel, dir);
  return bs_test_host_entries(dir);
}
