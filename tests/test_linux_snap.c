/* The snapshot members of the Linux seam (real/linux_snap.c) on real
 * volumes, called directly: btrfs subvolume snapshots and branches, the
 * reflink-tree fallback on xfs, the copying fallback on ext4 and tmpfs,
 * deletion that frees space, and faults in the middle that leave nothing. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <fiu-control.h>
#include <fiu.h>

#include "real/linux.h"
#include "real/sys.h"
#include "tests/support/bs_test.h"
#include "tests/support/host_tree.h"
#include "tests/support/volume.h"

#define MIB (1024u * 1024u)

/* The shared volume of @fs, or skip (with the reason) where real volumes
 * cannot be made and $BS_REQUIRE_REAL is not 1. */

/* A fresh store root on @fs (make_root) with its reserved directory
 * <root>/.bs holding snap/; paths into @root (4096). */
static void fresh_root(const char *fs, char *root) {
  const bs_vol *v = bs_test_volume(fs);
  static unsigned n;
  snprintf(root, 4096, "%.4000s/snap-%u-%u", v->mnt, (unsigned)getpid(), n++);
  assert_int_equal(bs__linux_make_root(NULL, root), 0);
  char p[4200];
  snprintf(p, sizeof(p), "%s/.bs", root);
  assert_int_equal(bs__linux_reserve(NULL, BS__HOST_PATH(root), BS__HOST_PATH(p)), 0);
  snprintf(p, sizeof(p), "%s/.bs/snap", root);
  assert_int_equal(mkdir(p, 0700), 0);
}

static void at(char *out, const char *root, const char *rel) {
  if (snprintf(out, 4300, "%s/%s", root, rel) >= 4300)
    fail_msg("path too long");
}

static bool exists(const char *path) {
  struct stat sb;
  return lstat(path, &sb) == 0;
}

static void write_big(const char *path, size_t len, uint8_t fill) {
  uint8_t *buf = bs_test_pattern(len, fill);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  assert_int_equal(fsync(fd), 0);
  close(fd);
  free(buf);
}

static int inode_flags(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0)
    fail_msg("open %s: %s", path, strerror(errno));
  int fl = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &fl) != 0)
    fail_msg("FS_IOC_GETFLAGS %s: %s", path, strerror(errno));
  close(fd);
  return fl;
}

/* Writing to, creating in and removing from the tree at @snap all fail
 * with EROFS (a read-only subvolume) or EPERM (immutable). */
static void assert_read_only(const char *snap, const char *file) {
  char p[4300];
  at(p, snap, file);
  errno = 0;
  assert_int_equal(open(p, O_WRONLY), -1);
  assert_true(errno == EROFS || errno == EPERM);
  errno = 0;
  assert_int_equal(unlink(p), -1);
  assert_true(errno == EROFS || errno == EPERM);
  at(p, snap, "new-file");
  errno = 0;
  assert_int_equal(open(p, O_WRONLY | O_CREAT, 0644), -1);
  assert_true(errno == EROFS || errno == EPERM);
}

static bool zero_uuid(const uint8_t u[16]) {
  for (int i = 0; i < 16; i++)
    if (u[i])
      return false;
  return true;
}

/* ---- btrfs ------------------------------------------------------------------- */

static void btrfs_snapshot_is_read_only_subvolume_without_bs(void **state) {
  (void)state;
  char root[4096], p[4300], s1[4300], s2[4300];
  fresh_root("btrfs", root);
  struct stat sb;
  assert_int_equal(stat(root, &sb), 0);
  assert_int_equal(sb.st_ino, 256); /* the store root is a subvolume */
  assert_int_equal(sb.st_mode & 07777, 0755);
  assert_int_equal(bs__linux_make_root(NULL, root), -EEXIST);
  at(p, root, ".bs");
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_ino, 256); /* so is .bs: a snapshot of the root leaves it out */
  assert_int_equal(sb.st_mode & 07777, 0700);
  assert_int_equal(bs__linux_reserve(NULL, BS__HOST_PATH(root), BS__HOST_PATH(p)), 0); /* there already */
  at(p, root, ".bs/registry");
  bs_test_write_host(p, "registry\n");
  bs_test_fill_tree(root);
  struct timespec ts[2] = {{1600000000, 5}, {1600000001, 6}};
  assert_int_equal(utimensat(AT_FDCWD, root, ts, 0), 0);

  uint8_t u1[16], u2[16], ur[16];
  at(s1, root, ".bs/snap/1");
  at(s2, root, ".bs/snap/2");
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(root), BS__HOST_PATH(s1), u1), 0);
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(root), BS__HOST_PATH(s2), u2), 0);
  assert_false(zero_uuid(u1));
  assert_memory_not_equal(u1, u2, 16);
  int fd = open(root, O_RDONLY | O_DIRECTORY);
  uint64_t id = 0;
  assert_int_equal(bs__sys_subvol_info(fd, &id, ur), 0);
  close(fd);
  assert_memory_not_equal(u1, ur, 16);
  fd = open(s1, O_RDONLY | O_DIRECTORY);
  uint8_t again[16];
  assert_int_equal(bs__sys_subvol_info(fd, &id, again), 0);
  close(fd);
  assert_memory_equal(u1, again, 16); /* the UUID is the subvolume's own */

  for (size_t k = 0; k < BS_TEST_TREE_ENTRIES; k++)
    bs_test_same_entry(root, s1, bs_test_tree_entries[k]);
  /* .bs is left out: btrfs shows an empty placeholder there (host.c hides
   * it), and nothing below it, so no earlier snapshot or registry. */
  at(p, s1, ".bs");
  struct stat pb;
  assert_int_equal(lstat(p, &pb), 0);
  assert_true(S_ISDIR(pb.st_mode) && pb.st_ino == 2);
  at(p, s1, ".bs/registry");
  assert_false(exists(p));
  at(p, s2, ".bs/snap/1");
  assert_false(exists(p));
  assert_read_only(s1, "top");
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(root), BS__HOST_PATH(s1), u1), -EEXIST);

  /* The live tree goes on; the snapshot does not follow. */
  at(p, root, "top");
  bs_test_write_host(p, "changed\n");
  at(p, s1, "top");
  size_t len = 0;
  uint8_t *got = bs_test_read_host(p, &len);
  assert_int_equal(len, 4);
  assert_memory_equal(got, "top\n", 4);
  free(got);

  assert_int_equal(bs__linux_tree_delete(NULL, BS_TREE_NATIVE, BS__HOST_PATH(s1)), 0);
  assert_int_equal(bs__linux_tree_delete(NULL, BS_TREE_NATIVE, BS__HOST_PATH(s2)), 0);
  assert_false(exists(s1) || exists(s2));
  assert_int_equal(bs__linux_tree_delete(NULL, BS_TREE_NATIVE, BS__HOST_PATH(s1)), -ENOENT);
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}

static void native_needs_a_subvolume_root(void **state) {
  (void)state;
  uint8_t u[16];
  char p[4300], dst[4300];
  /* A plain directory on btrfs: the ioctl would snapshot its whole subvolume. */
  const bs_vol *v = bs_test_volume("btrfs");
  char plain[4096];
  snprintf(plain, sizeof(plain), "%.4000s/plain-%u", v->mnt, (unsigned)getpid());
  assert_int_equal(mkdir(plain, 0755), 0);
  at(dst, plain, "snap");
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(plain), BS__HOST_PATH(dst), u), -EOPNOTSUPP);
  assert_false(exists(dst));
  assert_int_equal(bs__linux_branch_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(plain), BS__HOST_PATH(dst)), -EOPNOTSUPP);
  /* reserve on a plain directory makes a plain 0700 .bs. */
  at(p, plain, ".bs");
  assert_int_equal(bs__linux_reserve(NULL, BS__HOST_PATH(plain), BS__HOST_PATH(p)), 0);
  struct stat sb;
  assert_int_equal(stat(p, &sb), 0);
  assert_true(sb.st_ino != 256 && (sb.st_mode & 07777) == 0700);
  assert_int_equal(bs__linux_remove_tree(plain, false), 0);

  /* A subvolume whose .bs is a plain directory would copy .bs: refused. */
  char root[4096];
  snprintf(root, sizeof(root), "%.4000s/subvol-%u", v->mnt, (unsigned)getpid());
  assert_int_equal(bs__linux_make_root(NULL, root), 0);
  at(p, root, ".bs");
  assert_int_equal(mkdir(p, 0700), 0);
  at(dst, root, ".bs/s");
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(root), BS__HOST_PATH(dst), u), -EOPNOTSUPP);
  assert_false(exists(dst));
  assert_int_equal(bs__linux_remove_tree(root, false), 0);

  /* No btrfs, no native snapshots; no reflink, no reflink trees. */
  const char *others[] = {"xfs", "ext4", "tmpfs"};
  for (int i = 0; i < 3; i++) {
    fresh_root(others[i], root);
    at(dst, root, ".bs/snap/1");
    assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(root), BS__HOST_PATH(dst), u), -EOPNOTSUPP);
    assert_false(exists(dst));
    if (i > 0) {
      assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_REFLINK, BS__HOST_PATH(root), BS__HOST_PATH(dst), u), -EOPNOTSUPP);
      assert_false(exists(dst));
    }
    assert_int_equal(bs__linux_snap_create(NULL, (bs_tree_method)99, BS__HOST_PATH(root), BS__HOST_PATH(dst), u), -EINVAL);
    assert_int_equal(bs__linux_remove_tree(root, false), 0);
  }
}

static void btrfs_branch_is_writable_and_independent(void **state) {
  (void)state;
  char root[4096], snap[4300], br[4300], br2[4300], p[4300];
  fresh_root("btrfs", root);
  bs_test_fill_tree(root);
  uint8_t u[16];
  at(snap, root, ".bs/snap/1");
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(root), BS__HOST_PATH(snap), u), 0);
  at(p, root, ".bs/branch");
  assert_int_equal(mkdir(p, 0700), 0);
  at(br, root, ".bs/branch/b1");
  at(br2, root, ".bs/branch/b2");
  assert_int_equal(bs__linux_branch_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(snap), BS__HOST_PATH(br)), 0);
  assert_int_equal(bs__linux_branch_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(snap), BS__HOST_PATH(br2)), 0);
  assert_int_equal(bs__linux_branch_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(snap), BS__HOST_PATH(br2)), -EEXIST);
  for (size_t k = 0; k < BS_TEST_TREE_ENTRIES; k++)
    bs_test_same_entry(snap, br, bs_test_tree_entries[k]);
  at(p, br, ".bs");
  assert_false(exists(p)); /* a branch has not even the placeholder */
  at(p, br, "top");
  bs_test_write_host(p, "branch one\n");
  at(p, br, "a/new");
  bs_test_write_host(p, "new\n");
  /* Neither the snapshot, the other branch nor the live tree changed. */
  const char *others[] = {snap, br2, root};
  for (int i = 0; i < 3; i++) {
    at(p, others[i], "top");
    size_t len = 0;
    uint8_t *got = bs_test_read_host(p, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(got, "top\n", 4);
    free(got);
    at(p, others[i], "a/new");
    assert_false(exists(p));
  }
  assert_int_equal(bs__linux_tree_delete(NULL, BS_TREE_NATIVE, BS__HOST_PATH(br)), 0);
  assert_false(exists(br));
  at(p, snap, "top");
  assert_true(exists(p)); /* the snapshot outlives its branch */
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}

static double since_ms(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static uint64_t free_bytes(const char *path) {
  struct statvfs sv;
  assert_int_equal(statvfs(path, &sv), 0);
  return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* The space a big file holds once only the snapshot has it comes back when
 * the snapshot is deleted, and is visible as soon as delete returns. */
static void delete_releases_space(const char *fs, bs_tree_method m, size_t big) {
  char root[4096], snap[4300], p[4300];
  fresh_root(fs, root);
  at(p, root, "big");
  write_big(p, big, 9);
  uint8_t u[16];
  at(snap, root, ".bs/snap/1");
  assert_int_equal(bs__linux_snap_create(NULL, m, BS__HOST_PATH(root), BS__HOST_PATH(snap), u), 0);
  assert_int_equal(unlink(p), 0); /* now only the snapshot holds those blocks */
  int fd = open(root, O_RDONLY | O_DIRECTORY);
  assert_int_equal(syncfs(fd), 0);
  close(fd);
  uint64_t before = free_bytes(root);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(bs__linux_tree_delete(NULL, m, BS__HOST_PATH(snap)), 0);
  double ms = since_ms(&t0);
  uint64_t after = free_bytes(root);
  print_message("    [ delete   ] %s: %zu MiB snapshot deleted in %.1f ms, %.1f MiB freed\n", fs,
                big / MIB, ms, (double)(after - before) / MIB);
  if (after < before + big - big / 8)
    fail_msg("%s: free went from %llu to %llu bytes after deleting a snapshot holding %zu", fs,
             (unsigned long long)before, (unsigned long long)after, big);
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}

static void delete_waits_until_the_space_is_free(void **state) {
  (void)state;
  delete_releases_space("btrfs", BS_TREE_NATIVE, 96 * MIB);
  delete_releases_space("xfs", BS_TREE_REFLINK, 96 * MIB);
  delete_releases_space("ext4", BS_TREE_COPY, 48 * MIB);
}

/* ---- reflink and copy trees ------------------------------------------------------ */

static void assert_tree_immutable(const char *snap, bool want) {
  const char *marked[] = {".", "a", "a/deep", "a/deep/file", "top"};
  for (size_t i = 0; i < sizeof(marked) / sizeof(marked[0]); i++) {
    char p[4300];
    at(p, snap, marked[i]);
    if (((inode_flags(p) & FS_IMMUTABLE_FL) != 0) != want)
      fail_msg("%s: immutable flag %s", p, want ? "missing" : "set on a writable tree");
  }
}

/* A snapshot by @m on @fs: a full copy but for .bs, read-only, every entry
 * immutable; a branch of it: the same, writable. */
static void tree_snapshot_and_branch(const char *fs, bs_tree_method m, bool shares) {
  char root[4096], snap[4300], br[4300], p[4300];
  fresh_root(fs, root);
  bs_test_fill_tree(root);
  at(p, root, "big");
  write_big(p, 2 * MIB, 3);
  at(p, root, ".bs/registry");
  bs_test_write_host(p, "registry\n");
  uint8_t u[16];
  memset(u, 0xaa, sizeof(u));
  at(snap, root, ".bs/snap/1");
  assert_int_equal(bs__linux_snap_create(NULL, m, BS__HOST_PATH(root), BS__HOST_PATH(snap), u), 0);
  assert_true(zero_uuid(u)); /* no filesystem UUID: host.c makes one */
  for (size_t k = 0; k < BS_TEST_TREE_ENTRIES; k++)
    bs_test_same_entry(root, snap, bs_test_tree_entries[k]);
  at(p, snap, ".bs");
  assert_false(exists(p));
  assert_tree_immutable(snap, true);
  assert_read_only(snap, "top");
  assert_read_only(snap, "a/deep/file");
  char src_big[4300], snap_big[4300];
  at(src_big, root, "big");
  at(snap_big, snap, "big");
  uint64_t shared = strcmp(fs, "tmpfs") == 0 ? 0 : bs_test_shared_bytes(snap_big); /* no FIEMAP */
  if (shares) {
    assert_int_equal(shared, 2 * MIB);
    bs_test_extent *a = calloc(BS_TEST_EXTENTS_MAX, sizeof(*a));
    bs_test_extent *b = calloc(BS_TEST_EXTENTS_MAX, sizeof(*b));
    size_t na = bs_test_fiemap(src_big, a), nb = bs_test_fiemap(snap_big, b);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
      assert_int_equal(a[i].physical, b[i].physical);
    free(a);
    free(b);
  } else {
    assert_int_equal(shared, 0);
  }

  at(p, root, ".bs/branch");
  assert_int_equal(mkdir(p, 0700), 0);
  at(br, root, ".bs/branch/b");
  assert_int_equal(bs__linux_branch_create(NULL, m, BS__HOST_PATH(snap), BS__HOST_PATH(br)), 0);
  for (size_t k = 0; k < BS_TEST_TREE_ENTRIES; k++)
    bs_test_same_entry(snap, br, bs_test_tree_entries[k]);
  assert_tree_immutable(br, false);
  at(p, br, "top");
  bs_test_write_host(p, "branch\n");
  at(p, snap, "top");
  size_t len = 0;
  uint8_t *got = bs_test_read_host(p, &len);
  assert_int_equal(len, 4);
  free(got);

  assert_int_equal(bs__linux_tree_delete(NULL, m, BS__HOST_PATH(br)), 0);
  assert_int_equal(bs__linux_tree_delete(NULL, m, BS__HOST_PATH(snap)), 0);
  assert_false(exists(br) || exists(snap));
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}

static void xfs_reflink_tree_shares_extents_and_is_immutable(void **state) {
  (void)state;
  tree_snapshot_and_branch("xfs", BS_TREE_REFLINK, true);
  tree_snapshot_and_branch("btrfs", BS_TREE_REFLINK, true);
}

static void copy_tree_on_ext4_tmpfs_shares_nothing(void **state) {
  (void)state;
  tree_snapshot_and_branch("ext4", BS_TREE_COPY, false);
  tree_snapshot_and_branch("tmpfs", BS_TREE_COPY, false);
  tree_snapshot_and_branch("btrfs", BS_TREE_COPY, false); /* a byte copy even where it could share */
}

static void copy_keeps_holes(void **state) {
  (void)state;
  char root[4096], snap[4300], p[4300];
  fresh_root("ext4", root);
  at(p, root, "sparse");
  int fd = open(p, O_WRONLY | O_CREAT, 0644);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "end", 3, 64 * MIB), 3);
  close(fd);
  uint8_t u[16];
  at(snap, root, ".bs/snap/1");
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_COPY, BS__HOST_PATH(root), BS__HOST_PATH(snap), u), 0);
  at(p, snap, "sparse");
  struct stat sb;
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_size, 64 * MIB + 3);
  assert_true(sb.st_blocks * 512 <= 64 * 1024); /* not 64 MiB of zeros */
  fd = open(p, O_RDONLY);
  char end[4] = "";
  assert_int_equal(pread(fd, end, 3, 64 * MIB), 3);
  close(fd);
  assert_memory_equal(end, "end", 3);
  assert_int_equal(bs__linux_remove_tree(root, false), 0);
}

/* ---- faults ---------------------------------------------------------------------- */

/* Every fault point a create passes, failed on its @nth call, fails the
 * create with that errno and leaves nothing at the destination; the source
 * is untouched and the same create then succeeds. */
static void fault_mid_tree_leaves_nothing(void **state) {
  (void)state;
  static const struct {
    const char *fs;
    bs_tree_method m;
    bool branch;
    const char *point;
    int nth, err;
  } faults[] = {
    {"btrfs", BS_TREE_NATIVE, false, "bs/real/snap_create", 1, ENOSPC},
    {"btrfs", BS_TREE_NATIVE, false, "bs/real/subvol_info", 1, EIO}, /* the UUID */
    {"btrfs", BS_TREE_NATIVE, true, "bs/real/snap_create", 1, EDQUOT},
    {"btrfs", BS_TREE_NATIVE, true, "bs/real/unlink", 1, EIO}, /* the .bs placeholder */
    {"btrfs", BS_TREE_NATIVE, true, "bs/real/utimens", 1, EIO},
    {"xfs", BS_TREE_REFLINK, false, "bs/real/ficlone", 3, ENOSPC},
    {"xfs", BS_TREE_REFLINK, false, "bs/real/setflags", 6, EIO},
    {"xfs", BS_TREE_REFLINK, false, "bs/real/mkdir", 3, ENOSPC},
    {"xfs", BS_TREE_REFLINK, false, "bs/real/symlink", 1, EIO},
    {"xfs", BS_TREE_REFLINK, false, "bs/real/mknod", 2, EIO},
    {"xfs", BS_TREE_REFLINK, true, "bs/real/ficlone", 2, ENOSPC},
    {"ext4", BS_TREE_COPY, false, "bs/real/write", 2, ENOSPC},
    {"ext4", BS_TREE_COPY, false, "bs/real/read", 3, EIO},
    {"ext4", BS_TREE_COPY, false, "bs/real/setxattr", 1, ENOSPC},
    {"tmpfs", BS_TREE_COPY, false, "bs/real/setflags", 4, EIO},
    {"tmpfs", BS_TREE_COPY, true, "bs/real/chmod", 3, EIO},
  };
  for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
    char root[4096], snap[4300], dst[4300], p[4300];
    fresh_root(faults[i].fs, root);
    bs_test_fill_tree(root);
    at(p, root, "big");
    write_big(p, MIB, 1);
    uint8_t u[16];
    at(snap, root, ".bs/snap/1");
    at(dst, root, ".bs/snap/2");
    const char *src = root;
    if (faults[i].branch) {
      assert_int_equal(bs__linux_snap_create(NULL, faults[i].m, BS__HOST_PATH(root), BS__HOST_PATH(snap), u), 0);
      src = snap;
    }
    bs_test_fail_nth(faults[i].point, faults[i].nth, faults[i].err);
    int rc = faults[i].branch ? bs__linux_branch_create(NULL, faults[i].m, BS__HOST_PATH(src), BS__HOST_PATH(dst))
                              : bs__linux_snap_create(NULL, faults[i].m, BS__HOST_PATH(src), BS__HOST_PATH(dst), u);
    fiu_disable(faults[i].point);
    if (rc != -faults[i].err)
      fail_msg("%s %s call %d: %s, expected %s", faults[i].fs, faults[i].point, faults[i].nth,
               strerror(-rc), strerror(faults[i].err));
    if (exists(dst))
      fail_msg("%s %s call %d: %s is left behind", faults[i].fs, faults[i].point, faults[i].nth, dst);
    rc = faults[i].branch ? bs__linux_branch_create(NULL, faults[i].m, BS__HOST_PATH(src), BS__HOST_PATH(dst))
                          : bs__linux_snap_create(NULL, faults[i].m, BS__HOST_PATH(src), BS__HOST_PATH(dst), u);
    assert_int_equal(rc, 0);
    for (size_t k = 0; k < BS_TEST_TREE_ENTRIES; k++)
      bs_test_same_entry(src, dst, bs_test_tree_entries[k]);
    assert_int_equal(bs__linux_remove_tree(root, false), 0);
  }
}

/* A failing delete reports the error and leaves a tree that a second delete
 * removes. */
static void fault_in_delete_is_reported_and_retried(void **state) {
  (void)state;
  static const struct {
    const char *fs;
    bs_tree_method m;
    const char *point;
    int nth, err;
  } faults[] = {
    {"btrfs", BS_TREE_NATIVE, "bs/real/snap_destroy", 1, EIO},
    {"btrfs", BS_TREE_NATIVE, "bs/real/tree_search", 2, EIO}, /* the cleaner wait */
    {"btrfs", BS_TREE_NATIVE, "bs/real/tree_search", 1, EIO}, /* nested subvolumes? */
    {"xfs", BS_TREE_REFLINK, "bs/real/setflags", 3, EIO},
    {"xfs", BS_TREE_REFLINK, "bs/real/unlink", 2, EIO},
    {"tmpfs", BS_TREE_COPY, "bs/real/fsync", 1, EIO},
  };
  for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
    char root[4096], snap[4300];
    fresh_root(faults[i].fs, root);
    bs_test_fill_tree(root);
    uint8_t u[16];
    at(snap, root, ".bs/snap/1");
    assert_int_equal(bs__linux_snap_create(NULL, faults[i].m, BS__HOST_PATH(root), BS__HOST_PATH(snap), u), 0);
    bs_test_fail_nth(faults[i].point, faults[i].nth, faults[i].err);
    int rc = bs__linux_tree_delete(NULL, faults[i].m, BS__HOST_PATH(snap));
    fiu_disable(faults[i].point);
    if (rc != -faults[i].err)
      fail_msg("%s %s: %s", faults[i].fs, faults[i].point, strerror(-rc));
    rc = bs__linux_tree_delete(NULL, faults[i].m, BS__HOST_PATH(snap));
    assert_true(rc == 0 || rc == -ENOENT); /* ENOENT: it went before the fault */
    assert_false(exists(snap));
    assert_int_equal(bs__linux_remove_tree(root, false), 0);
  }
}

/* Without CAP_SYS_ADMIN (every BTRFS_IOC_TREE_SEARCH refused), a delete
 * still deletes: nested subvolumes are found by walking the tree, and the
 * wait for the cleaner is skipped. */
static void btrfs_delete_without_tree_search(void **state) {
  (void)state;
  char root[4096], snap[4300], p[4300];
  fresh_root("btrfs", root);
  bs_test_fill_tree(root);
  uint8_t u[16];
  at(snap, root, ".bs/snap/1");
  assert_int_equal(bs__linux_snap_create(NULL, BS_TREE_NATIVE, BS__HOST_PATH(root), BS__HOST_PATH(snap), u), 0);
  at(p, root, ".bs/branch");
  assert_int_equal(mkdir(p, 0700), 0);
  fiu_init(0);
  assert_int_equal(fiu_enable("bs/real/tree_search", 1, (void *)(intptr_t)EPERM, 0), 0);
  int rc = bs__linux_tree_delete(NULL, BS_TREE_NATIVE, BS__HOST_PATH(snap));
  /* The store root holds .bs, a nested subvolume: found by the walk. */
  int rc_root = bs__linux_remove_tree(root, true);
  fiu_disable("bs/real/tree_search");
  assert_int_equal(rc, 0);
  assert_false(exists(snap));
  assert_int_equal(rc_root, 0);
  assert_false(exists(root));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(btrfs_snapshot_is_read_only_subvolume_without_bs),
    cmocka_unit_test(native_needs_a_subvolume_root),
    cmocka_unit_test(btrfs_branch_is_writable_and_independent),
    cmocka_unit_test(delete_waits_until_the_space_is_free),
    cmocka_unit_test(xfs_reflink_tree_shares_extents_and_is_immutable),
    cmocka_unit_test(copy_tree_on_ext4_tmpfs_shares_nothing),
    cmocka_unit_test(copy_keeps_holes),
    cmocka_unit_test(fault_mid_tree_leaves_nothing),
    cmocka_unit_test(fault_in_delete_is_reported_and_retried),
    cmocka_unit_test(btrfs_delete_without_tree_search),
  };
  return cmocka_run_group_tests_name("linux_snap", tests, NULL, NULL);
}
