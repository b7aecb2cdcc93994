/* Sim profiles: behaviour that is not a capability (capabilities come from
 * bs_caps_for_type(), src/caps.c) and the latency model of the virtual clock.
 *
 * Latency model: every op advances the clock by
 *     (base_ns + ps_per_byte * bytes / 1000) * (1 + j),  j uniform in [-10 %, +10 %]
 * with j drawn from the store's latency PRNG (seeded from opts.seed).
 *
 * THE NUMBERS BELOW ARE PROVISIONAL.  They are order-of-magnitude figures for
 * a local NVMe SSD (macOS for apfs/hfs, Linux for the others) taken from
 * public benchmarks and experience, not yet measured by this project; they
 * will be calibrated against real volumes (tracked as a separate issue).
 * Until then only their ordering is meaningful: tmpfs < ext4/xfs < btrfs <
 * apfs/hfs; sync >> meta; snapshots cost milliseconds.  Classes a profile
 * cannot do (reflink on hfs/ext4/tmpfs, snapshots without native snapshots)
 * cost one metadata op: the call fails fast. */
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
   LAT(9000, 4000, 220, 7000, 380, 600000, 30000, 1, 12000000),
   .dir_nlink_one = true, .chown_kills_setid = true, .xattr_space = BS__SIM_XA_LEAF},
  {"xfs", BS_FS_XFS, true, false, true, 255,
   LAT(6000, 3000, 200, 5000, 330, 350000, 25000, 1, 6000),
   .chown_kills_setid = true, .time_min_s = BS__SIM_TIME_MIN_1901},
  {"ext4", BS_FS_EXT4, true, false, true, 255,
   LAT(5000, 3000, 200, 5000, 330, 400000, 5000, 0, 5000),
   .chown_kills_setid = true, .xattr_space = BS__SIM_XA_EXT4, .time_min_s = BS__SIM_TIME_MIN_1901},
  /* tmpfs has birth times since Linux 6.6 (shmem STATX_BTIME). */
  {"tmpfs", BS_FS_TMPFS, true, false, true, 255,
   LAT(1500, 700, 70, 900, 90, 300, 1500, 0, 1500),
   .chown_kills_setid = true},
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
