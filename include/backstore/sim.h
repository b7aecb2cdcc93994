/**
 * @file backstore/sim.h
 * @brief Extras of the deterministic simulated backend ("sim").
 *
 * The sim is opened like any backend (bs_open(&st, "sim", &opts) with
 * opts.profile and opts.seed).  These functions reach what only the sim has:
 * saving its whole state to an image file (so the bslab CLI can work on one
 * simulated volume across invocations), and deliberate bugs that prove the
 * campaign's invariant checks catch real defects.
 */
#ifndef BACKSTORE_SIM_H
#define BACKSTORE_SIM_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Sim block size in bytes. */
#define BS_SIM_BLOCK_SIZE 4096u
/** Default sim volume size (bs_open_opts.capacity == 0). */
#define BS_SIM_DEFAULT_CAPACITY (64u * 1024u * 1024u)

/** Names of the sim profiles, in bs_fs_type order (apfs first). */
BS_API extern const char *const bs_sim_profile_names[];
/** Number of entries in bs_sim_profile_names. */
#define BS_SIM_PROFILE_COUNT 6

/** True when @p st is a sim store (not a wrapper around one). */
BS_API bool bs_sim_is_sim(const bs_store *st);

/**
 * Save the complete state of sim store @p st (blocks, inodes, snapshots,
 * branches, clock, PRNG state) to @p file atomically: write a temporary file,
 * fsync, rename.  A loaded image behaves exactly as the saved store would.
 */
BS_API int bs_sim_save(bs_store *st, const char *file);
/**
 * Load a store saved by bs_sim_save().
 * @return 0, BS_ENOT_FOUND, BS_ECORRUPT for a damaged or foreign file.
 */
BS_API int bs_sim_load(bs_store **out, const char *file);
/**
 * Load a store from the @p len bytes of an image at @p buf (what
 * bs_sim_save() wrote).  Every byte is checked: header, checksum, records,
 * and the invariants across records (unique inodes, block references,
 * snapshot/branch links), so a store that loads passes bs_check().
 * @return 0, BS_EINVALID for NULL arguments, BS_ECORRUPT for anything else
 * than a valid image, BS_ENO_MEMORY.
 */
BS_API int bs_sim_load_buf(bs_store **out, const void *buf, size_t len);

/**
 * Deliberate defects, for testing the checkers only (never set in normal use).
 */
typedef enum bs_sim_bug {
  BS_SIM_BUG_NONE = 0,
  BS_SIM_BUG_COW_IN_PLACE = 1, /**< writes to shared blocks overwrite them in place */
  BS_SIM_BUG_LEAK_BLOCK = 2,   /**< releasing a block forgets to drop its refcount */
  /** the overlay's copy-up of a file makes the copy in the upper layer and
   * fills it there (a byte copy, synced last): a power loss in between
   * shows a partial file (docs/campaign.md, "Power loss in a copy-up") */
  BS_SIM_BUG_COPY_UP_ORDER = 3,
  /**
   * A write also flips a byte of another file of the written file's
   * directory (its first block, when not shared): a defect in a file the
   * operation did not touch, which no refcount or structure check sees.
   */
  BS_SIM_BUG_STRAY_WRITE = 4,
} bs_sim_bug;

/**
 * Check sim store @p st incrementally: every invariant bs_check() checks,
 * at a cost that depends on what changed since the last check and on the
 * number of files and extents, not on the volume's size (docs/sim.md,
 * "Incremental checks").  Any doubt, the first check of a store and the
 * first after a failure run the full check.  On a violation returns
 * BS_ECORRUPT with the message bs_check() would give; BS_EINVALID when
 * @p st is not a sim store.
 */
BS_API int bs_sim_check_incremental(bs_store *st);

/**
 * Hold (@p hold true) or release the virtual clock of sim store @p st.
 * While it is held, public calls on @p st do not advance the clock: a
 * checker's observations (stat, read, listxattr ...) leave time as it was,
 * and the checker accounts for time itself with bs_sim_clock_charge()
 * (docs/sim.md, "Time and checkers").  BS_EINVALID when @p st is not a sim
 * store.
 */
BS_API int bs_sim_clock_hold(bs_store *st, bool hold);
/**
 * Advance the virtual clock of sim store @p st exactly as one public call
 * of class @p cls that moved @p bytes bytes would have (latency and jitter
 * drawn as for that call), whether or not the clock is held.  BS_EINVALID
 * when @p st is not a sim store or @p cls is not a bs_op_class.
 */
BS_API int bs_sim_clock_charge(bs_store *st, bs_op_class cls, uint64_t bytes);

/** Turn on deliberate defect @p bug in sim store @p st. */
BS_API int bs_sim_set_bug(bs_store *st, bs_sim_bug bug);
/**
 * Let sim store @p st make snapshot and branch trees (as the btrfs profile
 * makes them) even where its profile has no native snapshots (xfs, ext4,
 * tmpfs, hfs), so that overlay branches exist there as on a real store of
 * that filesystem; its caps are unchanged.  For the differential runs'
 * overlay mix (docs/diff.md, "Overlay branches").  @return 0; BS_EINVALID
 * when @p st is not a sim store.
 */
BS_API int bs_sim_set_trees(bs_store *st, bool on);
/** Parse a bug name ("cow-in-place", "leak-block", "copy-up-order", "stray-write"); BS_EINVALID if unknown. */
BS_API int bs_sim_bug_from_name(const char *name, bs_sim_bug *out);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_SIM_H */
