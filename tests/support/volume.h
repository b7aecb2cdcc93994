/* Real volumes for tests and benchmarks: a fresh btrfs, xfs, ext4 (a sparse
 * image on a loop device) or tmpfs, mounted on an empty directory.
 *
 * Every volume is registered in its own directory under the registry root
 * ($BS_VOL_ROOT, default /dev/shm/backstore-vols) before anything is attached
 * or mounted, with its owner's pid and process start time, so a volume whose
 * owner died (crash, SIGKILL) is found and removed by bs_vol_reap_orphans()
 * (`volctl reap`).  Nothing outside the registry is ever unmounted, detached
 * or removed.  Needs root and /dev/loop-control; see docs/testing.md. */
#ifndef BS_TEST_VOLUME_H
#define BS_TEST_VOLUME_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* One volume.  All strings are NUL-terminated. */
typedef struct bs_vol {
  char fs[16];        /* "btrfs", "xfs", "ext4", "tmpfs" */
  char dir[4096];     /* the volume's registry directory */
  char image[4096];   /* backing image file ("" for tmpfs) */
  char loopdev[64];   /* "/dev/loopN" ("" for tmpfs) */
  char mnt[4096];     /* mount point: an empty, writable directory on the new volume */
  uint64_t size;      /* bytes */
} bs_vol;

/* NULL when real volumes can be made here; else why not ("not root",
 * "no /dev/loop-control", "mkfs.xfs not installed"...). */
const char *bs_vol_unavailable(void);

/* Make a fresh volume of @fs (btrfs | xfs | ext4 | tmpfs) of @size bytes (0:
 * 320 MiB for btrfs/xfs/ext4, 64 MiB for tmpfs), owned by this process.  xfs
 * is made with -m reflink=1.  0 or a negative BS_E* code (BS_EINVALID bad
 * argument, BS_EPERMISSION not root, BS_EUNSUPPORTED no loop devices or no
 * mkfs, BS_ETOOL_FAILED mkfs failed, ...); on failure nothing is left behind,
 * *out is zeroed and bs_vol_last_error() says why (with mkfs's output). */
int bs_vol_create(bs_vol *out, const char *fs, uint64_t size);

/* bs_vol_create for the process @owner (alive; e.g. the shell of a bench
 * script): the volume is reaped once @owner is gone. */
int bs_vol_create_owned(bs_vol *out, const char *fs, uint64_t size, pid_t owner);

/* Unmount, detach, remove: idempotent, never fails loudly (a failure only
 * sets bs_vol_last_error()); safe on a zeroed or half-made volume.  Zeroes *v. */
void bs_vol_destroy(bs_vol *v);

/* Destroy the registry entry @dir, which must be a directory directly inside
 * the registry root, whoever owns it.  0, BS_EINVALID (not an entry of the
 * registry), BS_ENOT_FOUND, or the error that kept it from being removed. */
int bs_vol_destroy_dir(const char *dir);

/* Remove every registered volume whose owner process is dead (pid + process
 * start time, so a reused pid is not mistaken for the owner), and detach loop
 * devices backed by files under the registry whose entry is gone.  Prints
 * one line per reaped volume (and per failure) to @log (may be NULL).
 * Returns how many were reaped. */
int bs_vol_reap_orphans(FILE *log);

/* Print one line per registry entry to @out: directory, fs, size, owner pid,
 * alive|dead, loop device, mounted|unmounted.  Returns the number of entries
 * or a negative BS_E* code. */
int bs_vol_list(FILE *out);

/* The registry root: $BS_VOL_ROOT if set (absolute), else /dev/shm/backstore-vols. */
const char *bs_vol_root(void);

/* Make a private registry inside the current one, owned by this process, named
 * <pid>-<starttime>-@tag; its path goes to @out.  Point $BS_VOL_ROOT at it to
 * test the fixture without touching other users' volumes; once this process
 * is dead the outer reaper removes it with everything in it. 0 or BS_E*. */
int bs_vol_make_subroot(const char *tag, char *out, size_t cap);

/* Cached per process: the first call for @fs creates a volume, later calls
 * return the same one; all are destroyed at exit (atexit, by the process
 * that made them only).  NULL if unavailable (reason in bs_vol_last_error()). */
const bs_vol *bs_vol_shared(const char *fs);

/* Why the last failing call of this thread failed ("" if none did). */
const char *bs_vol_last_error(void);

#endif
