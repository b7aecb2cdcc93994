/* Sim profiles: behaviour that is not a capability (capabilities come from
 * bs_caps_for_type(), src/caps.c) and the latency model of the virtual clock.
 *
 * Latency model: every op advances the clock by
 *     (base_ns + ps_per_byte * bytes / 1000) * (1 + j),  j uniform in [-10 %, +10 %]
 * with j drawn from the store's latency PRNG (seeded from opts.seed).
 *
 * btrfs, xfs, ext4 and tmpfs are CALIBRATED: `bench/calibrate.sh` (`bslab
 * calibrate` on fresh volumes) measured the real backend through the same
 * bs_* calls, medians of 400, two runs, rounded to two significant digits
 * (docs/sim.md, "Calibration", has the raw numbers and how to recalibrate).
 * The volumes were loop devices on RAM (/dev/shm) on Linux 6.18, so sync is
 * a RAM-backed device's, not a disk's.  apfs and hfs cannot be measured on
 * Linux: their numbers are still the provisional order-of-magnitude figures
 * for a local NVMe SSD on macOS.  Classes a profile cannot do (reflink on
 * hfs/ext4/tmpfs, snapshots without native snapshots) cost one metadata op:
 * the call fails fast. */
#include <string.h>

#include "sim/sim_internal.h"

const char *const bs_sim_profile_names[BS_SIM_PROFILE_COUNT] = {"apfs", "hfs", "btrfs", "xfs", "ext4", "tmpfs"};

/*                      meta        read          write         sync          reflink      snapshot */
#define LAT(m, rb, rp, wb, wp, sy, fb, fp, sn) \
  {{m, 0}, {rb, rp}, {wb, wp}, {sy, 0}, {fb, fp}, {sn, 0}}

/* xfs and ext4 (256-byte inodes) store times from 1901-12-13 20:45:52 on;
 * the kernel clamps earlier ones (timestamp_truncate()).  Their latest times
 * (2486, 2446) are past what an int64 of nanoseconds can say (2262). */
#define BS__SIM_TIME_MIN_1901 (-2147483648LL)

static const bs__sim_profile profiles[BS_SIM_PROFILE_COUNT] = {
  {"apfs", BS_FS_APFS, true, true, false, 127,
   LAT(14000, 6000, 250, 9000, 400, 1200000, 45000, 1, 30000000)},
  {"hfs", BS_FS_HFS, true, false, false, 127,
   LAT(16000, 7000, 300, 11000, 450, 1500000, 16000, 0, 16000)},
  {"btrfs", BS_FS_BTRFS, true, false, true, 255,
   LAT(15000, 3100, 31, 3000, 610, 150000, 28000, 0, 2000000),
   .dir_nlink_one = true, .chown_kills_setid = true, .xattr_space = BS__SIM_XA_LEAF,
   .dir_size = BS__SIM_DSIZE_BTRFS},
  {"xfs", BS_FS_XFS, true, false, true, 255,
   LAT(8000, 3100, 19, 3400, 16, 25000, 31000, 0, 8000),
   .chown_kills_setid = true, .time_min_s = BS__SIM_TIME_MIN_1901},
  {"ext4", BS_FS_EXT4, true, false, true, 255,
   LAT(11000, 3000, 18, 3700, 21, 26000, 11000, 0, 11000),
   .chown_kills_setid = true, .xattr_space = BS__SIM_XA_EXT4, .time_min_s = BS__SIM_TIME_MIN_1901},
  /* tmpfs has birth times since Linux 6.6 (shmem STATX_BTIME). */
  {"tmpfs", BS_FS_TMPFS, true, false, true, 255,
   LAT(3100, 2700, 47, 2500, 60, 2200, 3100, 0, 3100),
   .chown_kills_setid = true, .dir_size = BS__SIM_DSIZE_TMPFS},
};

const bs__sim_profile *bs__sim_profile_find(const char *name) {
  for (int i = 0; name && i < BS_SIM_PROFILE_COUNT; i++)
    if (strcmp(profiles[i].name, name) == 0)
      return &profiles[i];
  return NULL;
}

const bs__sim_profile *bs__sim_profile_for_type(bs_fs_type t) {
  for (int i = 0; i < BS_SIM_PROFILE_COUNT; i++)
    if (profiles[i].type == t)
      return &profiles[i];
  return NULL;
}

void bs__sim_tick(bs__sim_store *s, bs__sim_op_class cls, uint64_t bytes) {
  const bs__sim_latency *l = &s->prof->lat[cls];
  if (bytes > BS__SIM_MAX_FILE)
    bytes = BS__SIM_MAX_FILE; /* keeps every product below 2^53 */
  int64_t ns = (int64_t)l->base_ns + (int64_t)(bytes * l->ps_per_byte / 1000);
  /* Jitter in per-mille: [-100, +100]. */
  int64_t j = (int64_t)bs__rng_below(&s->lat_rng, 201) - 100;
  int64_t delta = ns + ns * j / 1000;
  if (delta < 1)
    delta = 1;
  if (s->clock_ns > INT64_MAX - delta)
    s->clock_ns = INT64_MAX; /* saturates, ~290 years of virtual time after the epoch */
  else
    s->clock_ns += delta;
}
