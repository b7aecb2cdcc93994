/* The macOS side of the snapshot half of the darwin seam (darwin.h): statfs
 * mount points, fs_snapshot_create/delete/mount and the snapshot listing by
 * getattrlistbulk(FSOPT_LIST_SNAPSHOT), unmount(2), running a tool with
 * posix_spawn, arc4random_buf.  One call each; the logic is darwin_snap.c.
 *
 * Only macOS builds this file (the Makefile adds it on Darwin); anywhere else
 * it compiles to nothing.  NOT RUN on Linux: only compile-checked there
 * against stub headers (docs/darwin.md "What runs where"). */
#ifdef __APPLE__

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/attr.h>
#include <sys/mount.h>
#include <sys/param.h>
#include <sys/snapshot.h>
#include <sys/wait.h>
#include <unistd.h>

#include "real/darwin_libc.h"
#include "real/sys.h"

_Static_assert(sizeof(((struct statfs *)0)->f_mntonname) == BS_DARWIN_MNAMELEN &&
                   sizeof(((struct statfs *)0)->f_mntfromname) == BS_DARWIN_MNAMELEN,
               "sys/mount.h: the 64-bit-inode struct statfs (MAXPATHLEN names)");
_Static_assert(BS_MNT_RDONLY == MNT_RDONLY, "sys/mount.h");
_Static_assert(BS_MNT_FORCE == MNT_FORCE, "sys/mount.h");

int bs__libc_mount_info(void *ctx, const char *path, bs_darwin_mount *out) {
  (void)ctx;
  struct statfs sf;
  if (bs__sys_fault("bs/real/statfs") || statfs(path, &sf) != 0)
    return -errno;
  memcpy(out->on, sf.f_mntonname, sizeof(out->on));
  memcpy(out->from, sf.f_mntfromname, sizeof(out->from));
  out->on[sizeof(out->on) - 1] = out->from[sizeof(out->from) - 1] = '\0';
  return 0;
}

/* The fs_snapshot calls take a descriptor of the volume's root. */
static int open_vol(const char *vol) {
  int fd = open(vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int bs__libc_snap_create(void *ctx, const char *vol, const char *name) {
  (void)ctx;
  int fd = open_vol(vol);
  if (fd < 0)
    return fd;
  int rc = fs_snapshot_create(fd, name, 0) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__libc_snap_delete(void *ctx, const char *vol, const char *name) {
  (void)ctx;
  int fd = open_vol(vol);
  if (fd < 0)
    return fd;
  int rc = fs_snapshot_delete(fd, name, 0) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__libc_snap_mount(void *ctx, const char *vol, const char *dir, const char *name, uint32_t flags) {
  (void)ctx;
  int fd = open_vol(vol);
  if (fd < 0)
    return fd;
  int rc = fs_snapshot_mount(fd, dir, name, flags) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

int bs__libc_unmount(void *ctx, const char *dir, uint32_t flags) {
  (void)ctx;
  return unmount(dir, (int)flags) == 0 ? 0 : -errno;
}

/* getattrlistbulk(2) with FSOPT_LIST_SNAPSHOT on the volume's root lists its
 * snapshots as directory entries; each record is: u32 length, the returned
 * attribute_set_t, then ATTR_CMN_NAME's attrreference_t (offset from itself). */
int bs__libc_snap_list(void *ctx, const char *vol, bs_darwin_snap_cb cb, void *cb_ctx) {
  (void)ctx;
  int fd = open_vol(vol);
  if (fd < 0)
    return fd;
  struct attrlist al;
  memset(&al, 0, sizeof(al));
  al.bitmapcount = ATTR_BIT_MAP_COUNT;
  al.commonattr = ATTR_CMN_RETURNED_ATTRS | ATTR_CMN_NAME;
  enum { BUF = 64 * 1024 };
  char *buf = malloc(BUF);
  int rc = buf ? 0 : -ENOMEM, n = 0, stop = 0;
  while (rc == 0 && !stop && (n = getattrlistbulk(fd, &al, buf, BUF, FSOPT_LIST_SNAPSHOT)) > 0) {
    char *p = buf;
    for (int i = 0; i < n && !stop; i++) {
      uint32_t len;
      attribute_set_t got;
      memcpy(&len, p, sizeof(len));
      memcpy(&got, p + sizeof(len), sizeof(got));
      char *field = p + sizeof(len) + sizeof(got);
      if (got.commonattr & ATTR_CMN_NAME) {
        attrreference_t ref;
        memcpy(&ref, field, sizeof(ref));
        stop = cb(cb_ctx, field + ref.attr_dataoffset) != 0;
      }
      p += len;
    }
  }
  if (rc == 0 && n < 0)
    rc = -errno;
  free(buf);
  close(fd);
  return rc;
}

/* ---- run_tool ------------------------------------------------------------------ */

/* The one tool runner of real/ (real/sys.c). */
int bs__libc_run_tool(void *ctx, const char *const argv[], bs__tool_result *out) {
  (void)ctx;
  return bs__sys_run_tool(argv, out);
}

void bs__libc_random(void *ctx, void *buf, size_t len) {
  (void)ctx;
  arc4random_buf(buf, len);
}

#else
/* Not macOS: the libc seam of darwin.c is built on Darwin only (docs/darwin.md). */
typedef int bs__darwin_libc_snap_unused; /* ISO C wants a translation unit to declare something */
#endif
