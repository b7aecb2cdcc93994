/* The macOS half of the real backend, behind its own seam (DESIGN §7).
 *
 * darwin.c holds the logic (which volume types there are, what the volume
 * capabilities mean for bs_caps, clonefile(2)'s contract and its cleanup) and
 * calls macOS only through a bs_darwin_sys table shaped like the macOS calls.
 * On macOS the table is darwin_libc.c (statfs, getattrlist, pathconf,
 * clonefile: one call each); in the Linux tests it is
 * tests/support/darwin_fake.c, backed by the sim's apfs and hfs profiles, so
 * darwin.c runs in `make check` on Linux too.  docs/darwin.md has the rest.
 *
 * Seam functions return 0 or -errno (macOS errno values on macOS, the host's
 * in the fake).  darwin.c is portable C: it needs no macOS header, so the
 * <sys/attr.h> and <sys/clonefile.h> values it uses are repeated here under a
 * BS_ prefix (darwin_libc.c checks them against the SDK at compile time). */
#ifndef BS_REAL_DARWIN_H
#define BS_REAL_DARWIN_H

#include <stddef.h>
#include <stdint.h>

#include "real/host.h"
#include "real/parse_diskutil.h"

/* The "real" backend on macOS (darwin_libc.c; built on Darwin only). */
extern const bs_backend_ops bs__real_ops;

/* <sys/attr.h>: indices of vol_capabilities_attr_t's two words we read. */
#define BS_VOL_CAPABILITIES_FORMAT 0
#define BS_VOL_CAPABILITIES_INTERFACES 1
/* Entries of vol_capabilities_set_t (u_int32_t[4]). */
#define BS_VOL_CAPABILITIES_COUNT 4

/* <sys/attr.h> VOL_CAP_FMT_* bits (capabilities[VOL_CAPABILITIES_FORMAT]). */
#define BS_VOL_CAP_FMT_SYMBOLICLINKS 0x00000002u
#define BS_VOL_CAP_FMT_HARDLINKS 0x00000004u
#define BS_VOL_CAP_FMT_JOURNAL 0x00000008u
#define BS_VOL_CAP_FMT_JOURNAL_ACTIVE 0x00000010u
#define BS_VOL_CAP_FMT_CASE_SENSITIVE 0x00000100u
#define BS_VOL_CAP_FMT_CASE_PRESERVING 0x00000200u
/* <sys/attr.h> VOL_CAP_INT_* bits (capabilities[VOL_CAPABILITIES_INTERFACES]). */
#define BS_VOL_CAP_INT_ATTRLIST 0x00000002u
#define BS_VOL_CAP_INT_EXTENDED_ATTR 0x00004000u
#define BS_VOL_CAP_INT_CLONE 0x00010000u
#define BS_VOL_CAP_INT_SNAPSHOT 0x00020000u

/* <sys/clonefile.h> flags of clonefile(2). */
#define BS_CLONE_NOFOLLOW 0x0001u    /* clone a symlink src itself */
#define BS_CLONE_NOOWNERCOPY 0x0002u /* never copy the owner, even as root */

/* statfs(2)'s f_fstypename is char[MFSTYPENAMELEN], NUL-terminated. */
#define BS_DARWIN_FSTYPENAME_LEN 16
/* statfs(2)'s f_mntonname and f_mntfromname are char[MAXPATHLEN]. */
#define BS_DARWIN_MNAMELEN 1024

/* <sys/mount.h> flags of unmount(2) and fs_snapshot_mount(2). */
#define BS_MNT_RDONLY 0x00000001u
#define BS_MNT_FORCE 0x00080000u

/* Where the volume holding a path is mounted: statfs(2)'s f_mntonname and
 * f_mntfromname ("/dev/disk3s5", or "<snapshot>@/dev/disk3s5" for a mounted
 * snapshot). */
typedef struct bs_darwin_mount {
  char on[BS_DARWIN_MNAMELEN];
  char from[BS_DARWIN_MNAMELEN];
} bs_darwin_mount;

/* Callback of fs_snapshot_list: one snapshot name; non-zero stops. */
typedef int (*bs_darwin_snap_cb)(void *ctx, const char *name);

/* What getattrlist(ATTR_VOL_INFO | ATTR_VOL_CAPABILITIES) reports about a
 * volume (vol_capabilities_attr_t, word for word), plus pathconf's
 * _PC_NAME_MAX.  A bit of capabilities[i] means "the volume does it" only
 * where the same bit of valid[i] is set ("the filesystem knows"). */
typedef struct bs_darwin_volcaps {
  uint32_t capabilities[BS_VOL_CAPABILITIES_COUNT];
  uint32_t valid[BS_VOL_CAPABILITIES_COUNT];
  uint32_t name_max; /* longest name in bytes; 0 when pathconf reports no limit */
} bs_darwin_volcaps;

/* The darwin seam: every macOS call darwin.c makes.  Methods are only
 * appended. @ctx is the table's own context (NULL for libc). */
typedef struct bs_darwin_sys {
  void *ctx;
  /* statfs(2) of @path: its f_fstypename ("apfs", "hfs", "msdos", ...),
   * NUL-terminated in @out. */
  int (*statfs_typename)(void *ctx, const char *path, char out[BS_DARWIN_FSTYPENAME_LEN]);
  /* getattrlist(2) ATTR_VOL_CAPABILITIES of the volume holding @path (asked of
   * the volume's root, where getattrlist wants it) and pathconf(2)
   * _PC_NAME_MAX of @path. */
  int (*volume_caps)(void *ctx, const char *path, bs_darwin_volcaps *out);
  /* clonefile(2): @dst must not exist; @flags are BS_CLONE_*. */
  int (*clonefile)(void *ctx, const char *src, const char *dst, uint32_t flags);

  /* ---- snapshots and tools (docs/darwin.md "Snapshots").  A table may
   * leave all of these NULL: the darwin store then has no snapshots. */
  /* statfs(2) of @path: where its volume is mounted. */
  int (*mount_info)(void *ctx, const char *path, bs_darwin_mount *out);
  /* fs_snapshot_create(2) of snapshot @name on the volume mounted at @vol
   * (an open(2) of @vol, then the call).  EPERM without root or the
   * com.apple.developer.vfs.snapshot entitlement. */
  int (*fs_snapshot_create)(void *ctx, const char *vol, const char *name);
  /* fs_snapshot_delete(2) of @name on @vol (EBUSY while it is mounted). */
  int (*fs_snapshot_delete)(void *ctx, const char *vol, const char *name);
  /* The names of @vol's snapshots: getattrlistbulk(2) with
   * FSOPT_LIST_SNAPSHOT on @vol, in the order the volume gives them. */
  int (*fs_snapshot_list)(void *ctx, const char *vol, bs_darwin_snap_cb cb, void *cb_ctx);
  /* fs_snapshot_mount(2): mount snapshot @name of @vol, read-only, on the
   * existing directory @dir; @flags are BS_MNT_*. */
  int (*fs_snapshot_mount)(void *ctx, const char *vol, const char *dir, const char *name,
                           uint32_t flags);
  /* unmount(2) of the mount point @dir; @flags are BS_MNT_*. */
  int (*unmount)(void *ctx, const char *dir, uint32_t flags);
  /* Run @argv (argv[0] an absolute path, no shell) to completion and fill
   * @out with its exit status and what it wrote on stdout and stderr (free
   * with bs__tool_result_free).  0, or -errno when it could not be started:
   * a tool that ran and failed is 0 with out->status != 0. */
  int (*run_tool)(void *ctx, const char *const argv[], bs__tool_result *out);
  /* @len random bytes (arc4random_buf(3)); names of new snapshots. */
  void (*random)(void *ctx, void *buf, size_t len);
} bs_darwin_sys;

/* diskutil, as darwin.c runs it. */
#define BS_DARWIN_DISKUTIL "/usr/sbin/diskutil"
/* APFS snapshots darwin.c makes are named this prefix and 32 hex digits. */
#define BS_DARWIN_SNAP_PREFIX "com.backstore."

/* Build the host table of a darwin store: the file operations forward to
 * @files (its ctx included), the platform operations (fs_type, caps, clone,
 * and when @sys has the snapshot members make_root, reserve, snap_create,
 * branch_create, tree_delete, last_detail) are darwin.c's, on top of @sys.  Both tables are copied.  *@out lives until
 * its release method runs, which bs__host_close() calls; release first calls
 * @files->release(@files->ctx) if set (that is where a caller frees what
 * both tables' ctx point at).  If bs__host_open() fails, call
 * (*out)->release((*out)->ctx) yourself.
 * @return 0, BS_EINVALID for a NULL or incomplete table, BS_ENO_MEMORY. */
int bs__darwin_make_os(const bs_host_os **out, const bs_darwin_sys *sys, const bs_host_os *files);

/* The darwin seam inside a table made by bs__darwin_make_os(), or NULL if
 * @os is not such a table (tests reach their fake's context this way). */
const bs_darwin_sys *bs__darwin_sys(const bs_host_os *os);

/* The filesystem type of an f_fstypename: "apfs" and "hfs" (HFS+ and HFSX
 * both report "hfs"), other names of the DESIGN §4 table, else BS_FS_OTHER. */
bs_fs_type bs__darwin_type_from_name(const char *fstypename);

/* bs_caps from a volume's type name and capabilities (what the caps method
 * reports; see darwin.c for the rules). */
void bs__darwin_caps_from(bs_caps *out, const char *fstypename, const bs_darwin_volcaps *vc);

/* The snapshots of the volume mounted at @vol as `diskutil apfs
 * listSnapshots` reports them (-plist when libplist is built in, else the
 * text form), through @os's run_tool.  BS_E* code; on failure @msg says why
 * (TOOL_FAILED, also for a tool that cannot be started; PARSE; NO_MEMORY).  The
 * run goes through the fault point bs/real/exec/diskutil: when it fires,
 * diskutil "exits with status 1" and prints nothing. */
int bs__darwin_list_snapshots(const bs_host_os *os, const char *vol, bs__apfs_snap **out,
                              size_t *count, char *msg, size_t cap);

#endif
