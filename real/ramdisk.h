/* RAM disks (include/backstore.h, docs/ramdisk.md): internals shared by
 * real/ramdisk.c (the registry, Linux), real/ramdisk_darwin.c (macOS, over
 * a tool seam), src/store.c (the store mode) and the test volume fixture
 * (process identity, mounts), which builds on them instead of copying. */
#ifndef BS_REAL_RAMDISK_H
#define BS_REAL_RAMDISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backstore.h"
#include "real/tool.h"

/* State letter and start time (clock ticks after boot, /proc/<pid>/stat
 * field 22) of process @pid.  0, or -1 when there is no such process. */
int bs__proc_stat(pid_t pid, char *state, unsigned long long *start);
/* True if process @pid, started at @start, runs (a zombie does not). */
bool bs__proc_alive(pid_t pid, unsigned long long start);
/* True if @path is @dir or lies below it. */
bool bs__path_under(const char *path, const char *dir);
/* Read the small file @path into @buf (NUL-terminated, one trailing newline
 * removed).  0 or -errno. */
int bs__read_small(const char *path, char *buf, size_t cap);
/* The mount points at or below @dir, in /proc/self/mountinfo order (so
 * upper mounts last): a malloc'd array of malloc'd strings.  0 or -errno. */
int bs__mounts_under(const char *dir, char ***out, size_t *count);
/* Free what bs__mounts_under gave. */
void bs__mounts_free(char **list, size_t n);

/* The store mode: make a RAM disk for bs_open() (src/store.c). */
int bs__ramdisk_for_store(bs_ramdisk **out, const bs_ramdisk_opts *opts, char *msg, size_t cap);

/* ---- macOS, behind the DESIGN §7 seam (real/ramdisk_darwin.c) ---------- */

/* Runs one tool (hdiutil, diskutil): the libc runner on macOS, a recorded
 * transcript in the Linux tests.  0 with @r filled, or -errno. */
typedef int (*bs__ramdisk_run_fn)(void *ctx, const char *const argv[], bs__tool_result *r);

/* What the macOS steps made: the RAM device, the APFS container and volume,
 * the volume's mount point. */
typedef struct bs__darwin_rd {
  char ram_dev[64];   /* "/dev/disk4" from hdiutil attach */
  char container[64]; /* "disk5" from diskutil apfs createContainer */
  char volume[64];    /* "disk5s1" from diskutil apfs addVolume */
  char mount[1024];   /* its mount point, from diskutil info */
} bs__darwin_rd;

/* `hdiutil attach -nomount ram://<512-byte sectors>`, `diskutil apfs
 * createContainer <dev>`, `diskutil apfs addVolume <container> APFS
 * <label>`, `diskutil info <volume>`, each through @run.  All or nothing:
 * on failure what was made is ejected (`diskutil eject <dev>`).  0,
 * BS_ETOOL_FAILED (a tool failed: @msg quotes it), BS_EPARSE (output we do
 * not understand), BS_ENO_MEMORY. */
int bs__ramdisk_darwin_make(bs__ramdisk_run_fn run, void *ctx, uint64_t size_mb, const char *label,
                            bs__darwin_rd *out, char *msg, size_t cap);
/* `diskutil eject <ram_dev>`: the container and volume go with it. */
int bs__ramdisk_darwin_eject(bs__ramdisk_run_fn run, void *ctx, const char *ram_dev, char *msg,
                             size_t cap);

/* The parsers (real/parse_hdiutil.c): each takes the whole tool result;
 * BS_ETOOL_FAILED when it failed, BS_EPARSE when its output is not what it
 * prints. */
/* `hdiutil attach -nomount ram://N`: "/dev/diskN" (spaces after it). */
int bs__hdiutil_attach_dev(const bs__tool_result *r, char *dev, size_t cap, char *msg, size_t mcap);
/* `diskutil apfs createContainer` / `addVolume`: the "Disk from APFS
 * operation: diskN[sM]" line. */
int bs__diskutil_apfs_disk(const bs__tool_result *r, const char *what, char *disk, size_t cap,
                           char *msg, size_t mcap);
/* `diskutil info <disk>`: the "Mount Point:" line (NOT_FOUND when the line
 * says "Not applicable (no file system)" or is absent). */
int bs__diskutil_info_mount(const bs__tool_result *r, char *mount, size_t cap, char *msg,
                            size_t mcap);

#endif
