/* A stand-in for macOS under real/darwin.c, so its logic runs in the Linux
 * tests (DESIGN §7).  A "darwin-fake" store is a host store (real/host.c)
 * whose OS table darwin.c builds from two fakes backed by one sim store of
 * profile apfs or hfs: the file operations call the matching bs_* on the sim
 * and return -errno, and the darwin seam answers as macOS would on that
 * volume: statfs's f_fstypename is the profile name; getattrlist's volume
 * capabilities carry the bits (and `valid` masks) real APFS and HFS+ report;
 * clonefile is the sim's reflink (a directory is cloned item by item, as
 * clonefile(2) does), ENOTSUP on hfs like real HFS+.  The root is "/", so
 * host paths are store paths; the volume is the sim directory /v (so the
 * store's /.bs is an ordinary directory there).  The snapshot half of the
 * seam (mount points, fs_snapshot_*, unmount, diskutil) is
 * darwin_fake_snap.c.  Closing the store closes the sim. */
#ifndef BS_DARWIN_FAKE_H
#define BS_DARWIN_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "backstore/backend.h"

/* Open a darwin-fake store on a fresh sim volume of @profile ("apfs" or
 * "hfs") seeded with @seed.  @return 0, BS_EINVALID for another profile,
 * BS_ENO_MEMORY. */
int bs_darwin_fake_open(bs_store **out, const char *profile, uint64_t seed);
/* The same with bs_open_opts.flags @flags (BS_OPEN_SNAPSHOT_COPY). */
int bs_darwin_fake_open_flags(bs_store **out, const char *profile, uint64_t seed, uint32_t flags);

/* The next clonefile fails with errno @err.  With ENOSPC it first leaves a
 * partial destination, as a clone running out of space midway can; with
 * EEXIST it first creates the destination, as a racing process would. */
void bs_darwin_fake_fail_next_clone(bs_store *st, int err);

/* Flags of the last clonefile call (UINT32_MAX if none yet). */
uint32_t bs_darwin_fake_last_clone_flags(bs_store *st);

/* Changes to what the fake's seam reports, for tests of darwin.c's mapping.
 * Index 0 is capabilities[VOL_CAPABILITIES_FORMAT], 1 [..._INTERFACES]. */
typedef struct bs_darwin_fake_tweak {
  const char *fstypename; /* statfs's type name instead of the profile's; NULL keeps it */
  uint32_t set_caps[2];   /* bits to set in capabilities[] */
  uint32_t clear_valid[2];/* bits to clear in valid[] */
  uint32_t name_max;      /* pathconf's answer instead of the profile's; 0 keeps it */
} bs_darwin_fake_tweak;
/* Apply @t to every later answer of the seam (replacing earlier tweaks). */
void bs_darwin_fake_tweak_seam(bs_store *st, const bs_darwin_fake_tweak *t);

/* The sim store beneath (for its clock and its invariant check). */
bs_store *bs_darwin_fake_sim(bs_store *st);

/* Every later fs_snapshot_* call fails with errno @err (EPERM: a process
 * without root or the com.apple.developer.vfs.snapshot entitlement); 0
 * lets them through again.  diskutil is not affected (it is entitled). */
void bs_darwin_fake_deny_snapshots(bs_store *st, int err);
/* The next run_tool ends with exit status @status and prints @out / @err
 * (either NULL: nothing), whatever it was asked: a recorded output. */
int bs_darwin_fake_script_tool(bs_store *st, int status, const char *out, size_t out_len,
                               const char *err, size_t err_len);
/* The next run_tool cannot start the tool: it returns -@err (ENOENT: no
 * such program). */
void bs_darwin_fake_fail_next_tool(bs_store *st, int err);
/* The argv of the last run_tool, joined by spaces ("" if none yet). */
const char *bs_darwin_fake_last_tool(bs_store *st);
/* How many snapshots are mounted. */
size_t bs_darwin_fake_mount_count(bs_store *st);
/* statfs names every mount point by a resolved path ("/private" + the
 * directory), as macOS does when a component of the path is a symlink. */
void bs_darwin_fake_resolve_mounts(bs_store *st, bool on);
/* A restart of macOS: every snapshot mount is gone (the snapshots stay). */
void bs_darwin_fake_restart(bs_store *st);

#endif
