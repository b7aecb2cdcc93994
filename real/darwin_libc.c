/* The macOS side of the darwin seam: bs_darwin_sys on libc (statfs,
 * getattrlist, pathconf, clonefile; the snapshot members are in
 * darwin_libc_snap.c), and the `real` backend's ops table on
 * macOS (darwin.c's platform operations over real/posix.c's file operations).
 *
 * Only macOS builds this file (the Makefile adds it on Darwin); anywhere else
 * it compiles to nothing.  It is not run on Linux: the logic above it,
 * darwin.c, is, through tests/support/darwin_fake.c. */
#ifdef __APPLE__

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>
#include <sys/attr.h>
#include <sys/clonefile.h>
#include <sys/mount.h>
#include <sys/param.h>
#include <unistd.h>

#include "real/darwin.h"
#include "real/darwin_libc.h"
#include "real/posix.h"
#include "real/sys.h"

/* darwin.h repeats these SDK values so darwin.c builds anywhere: keep them equal. */
_Static_assert(BS_VOL_CAPABILITIES_FORMAT == VOL_CAPABILITIES_FORMAT, "sys/attr.h");
_Static_assert(BS_VOL_CAPABILITIES_INTERFACES == VOL_CAPABILITIES_INTERFACES, "sys/attr.h");
_Static_assert(sizeof(vol_capabilities_set_t) == BS_VOL_CAPABILITIES_COUNT * sizeof(uint32_t),
               "sys/attr.h");
_Static_assert(BS_VOL_CAP_FMT_SYMBOLICLINKS == VOL_CAP_FMT_SYMBOLICLINKS, "sys/attr.h");
_Static_assert(BS_VOL_CAP_FMT_HARDLINKS == VOL_CAP_FMT_HARDLINKS, "sys/attr.h");
_Static_assert(BS_VOL_CAP_FMT_JOURNAL == VOL_CAP_FMT_JOURNAL, "sys/attr.h");
_Static_assert(BS_VOL_CAP_FMT_JOURNAL_ACTIVE == VOL_CAP_FMT_JOURNAL_ACTIVE, "sys/attr.h");
_Static_assert(BS_VOL_CAP_FMT_CASE_SENSITIVE == VOL_CAP_FMT_CASE_SENSITIVE, "sys/attr.h");
_Static_assert(BS_VOL_CAP_FMT_CASE_PRESERVING == VOL_CAP_FMT_CASE_PRESERVING, "sys/attr.h");
_Static_assert(BS_VOL_CAP_INT_ATTRLIST == VOL_CAP_INT_ATTRLIST, "sys/attr.h");
_Static_assert(BS_VOL_CAP_INT_EXTENDED_ATTR == VOL_CAP_INT_EXTENDED_ATTR, "sys/attr.h");
_Static_assert(BS_VOL_CAP_INT_CLONE == VOL_CAP_INT_CLONE, "sys/attr.h");
_Static_assert(BS_VOL_CAP_INT_SNAPSHOT == VOL_CAP_INT_SNAPSHOT, "sys/attr.h");
_Static_assert(BS_CLONE_NOFOLLOW == CLONE_NOFOLLOW, "sys/clonefile.h");
_Static_assert(BS_CLONE_NOOWNERCOPY == CLONE_NOOWNERCOPY, "sys/clonefile.h");
_Static_assert(BS_DARWIN_FSTYPENAME_LEN == MFSTYPENAMELEN, "sys/mount.h");

static int libc_statfs_typename(void *ctx, const char *path, char out[BS_DARWIN_FSTYPENAME_LEN]) {
  (void)ctx;
  struct statfs sf;
  if (bs__sys_fault("bs/real/statfs") || statfs(path, &sf) != 0)
    return -errno;
  memcpy(out, sf.f_fstypename, BS_DARWIN_FSTYPENAME_LEN);
  out[BS_DARWIN_FSTYPENAME_LEN - 1] = '\0';
  return 0;
}

/* getattrlist answers volume attributes only for a volume's root directory
 * (EINVAL elsewhere), so ask statfs where the volume holding @path is mounted. */
static int libc_volume_caps(void *ctx, const char *path, bs_darwin_volcaps *out) {
  (void)ctx;
  struct statfs sf;
  if (bs__sys_fault("bs/real/statfs") || statfs(path, &sf) != 0)
    return -errno;
  struct attrlist al;
  memset(&al, 0, sizeof(al));
  al.bitmapcount = ATTR_BIT_MAP_COUNT;
  al.volattr = ATTR_VOL_INFO | ATTR_VOL_CAPABILITIES;
  /* The reply: a u_int32_t length, then the attribute (getattrlist(2)). */
  alignas(4) unsigned char buf[sizeof(uint32_t) + sizeof(vol_capabilities_attr_t)];
  if (bs__sys_fault("bs/real/statfs") || getattrlist(sf.f_mntonname, &al, buf, sizeof(buf), 0) != 0)
    return -errno;
  uint32_t len;
  memcpy(&len, buf, sizeof(len));
  if (len < sizeof(buf))
    return -EIO; /* the volume did not return its capabilities */
  vol_capabilities_attr_t vc;
  memcpy(&vc, buf + sizeof(uint32_t), sizeof(vc));
  for (int i = 0; i < BS_VOL_CAPABILITIES_COUNT; i++) {
    out->capabilities[i] = vc.capabilities[i];
    out->valid[i] = vc.valid[i];
  }
  errno = 0;
  long n = pathconf(path, _PC_NAME_MAX);
  if (n < 0 && errno != 0)
    return -errno;
  out->name_max = n < 0 ? 0 : n > (long)UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  return 0;
}

static int libc_clonefile(void *ctx, const char *src, const char *dst, uint32_t flags) {
  (void)ctx;
  if (bs__sys_fault("bs/real/clonefile") || clonefile(src, dst, flags) != 0)
    return -errno;
  return 0;
}

static const bs_darwin_sys libc_sys = {
  .ctx = NULL,
  .statfs_typename = libc_statfs_typename,
  .volume_caps = libc_volume_caps,
  .clonefile = libc_clonefile,
  .mount_info = bs__libc_mount_info,
  .fs_snapshot_create = bs__libc_snap_create,
  .fs_snapshot_delete = bs__libc_snap_delete,
  .fs_snapshot_list = bs__libc_snap_list,
  .fs_snapshot_mount = bs__libc_snap_mount,
  .unmount = bs__libc_unmount,
  .run_tool = bs__libc_run_tool,
  .random = bs__libc_random,
};

static const bs_host_os libc_files = {
  .name = "darwin",
  .ctx = NULL,
  BS__POSIX_FILE_OPS,
};

static int real_open(bs_store **out, const bs_open_opts *opts, const char *inner) {
  if (inner || !opts->root)
    return BS_EINVALID;
  const bs_host_os *os = NULL;
  int rc = bs__darwin_make_os(&os, &libc_sys, &libc_files);
  if (rc != 0)
    return rc;
  rc = bs__host_open(out, &bs__real_ops, os, opts->root, opts->flags);
  if (rc != 0)
    os->release(os->ctx);
  return rc;
}

const bs_backend_ops bs__real_ops = {
  .version = BS_BACKEND_OPS_VERSION,
  .name = "real",
  .open = real_open,
  BS__HOST_METHODS,
};

#else
/* Not macOS: the libc seam of darwin.c is built on Darwin only (docs/darwin.md). */
typedef int bs__darwin_libc_unused; /* ISO C wants a translation unit to declare something */
#endif
