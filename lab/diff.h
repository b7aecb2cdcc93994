/**
 * @file lab/diff.h
 * @brief Differential runs: the same operation stream against a sim profile
 * and the real kernel, compared after every operation (docs/diff.md).
 *
 * For each seed a seeded stream of file operations (create, mkdir, write,
 * read, truncate, unlink, rmdir, rename, stat, chmod, chown, utimens, the
 * xattr calls, readdir, reflink, sync, caps, replace) runs on a fresh sim store of
 * the profile and on a fresh directory of a real volume of the same
 * filesystem.  After each operation the result codes and what the operation
 * returned are compared, then the state of every path it touched (kind,
 * mode, owner, size, links, contents, xattrs, directory listings).  The first
 * difference ends the seed.  What the sim deliberately does not model is
 * masked explicitly and listed in docs/diff.md.
 */
#ifndef BACKSTORE_DIFF_H
#define BACKSTORE_DIFF_H

#include <stdio.h>

#include "backstore/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Operations per seed when bs_diff_opts.ops is 0. */
#define BS_DIFF_DEFAULT_OPS 400u

/** The first difference between the sim and the real kernel in a seed. */
typedef struct bs_diff_divergence {
  uint64_t seed;       /**< the seed */
  uint32_t op_index;   /**< 0-based index of the operation after which it showed */
  char op[640];        /**< canonical text of that operation */
  char what[24];       /**< result, data, stat.mode, stat.size, content, xattrs, listing, caps, ... */
  char subject[320];   /**< the path whose state differs ("" for an op result) */
  char sim[384];       /**< what the sim gave */
  char real[384];      /**< what the real kernel gave */
} bs_diff_divergence;

/** What one seed did. */
typedef struct bs_diff_result {
  uint64_t seed;           /**< the seed */
  uint32_t ops_run;        /**< operations run (the diverging one included) */
  uint32_t errors_agreed;  /**< operations that failed with the same code on both */
  uint32_t masked;         /**< differences hidden by a documented mask (docs/diff.md) */
  bool diverged;           /**< a difference was found; see div */
  bs_diff_divergence div;  /**< valid when diverged is set */
} bs_diff_result;

/** Options of a differential run; zero-initialise, then set what you need. */
typedef struct bs_diff_opts {
  const char *profile;  /**< sim profile: btrfs, xfs, ext4, tmpfs (apfs, hfs on macOS) */
  const char *root;     /**< host directory on a real volume of that filesystem */
  uint32_t ops;         /**< operations per seed; 0 = BS_DIFF_DEFAULT_OPS */
  /**
   * If set, every operation is written here as one line with both results
   * ("12 rename /d0 /d1/f2 => sim EXISTS real EXISTS"); nothing else: a
   * header, if any, is the caller's (bslab's is in docs/diff.md).
   */
  FILE *trace;
  /**
   * Draw symlink, readlink and link too (docs/diff.md, "Links"); off, the
   * stream of a seed is what it always was.
   */
  bool links;
  /**
   * Make snapshot "s" and overlay branch "b" of it after the first
   * operations, then draw paths in the branch too (docs/diff.md, "Overlay
   * branches"); off, the stream of a seed is what it always was.
   */
  bool overlay;
  /** Called every few operations with the seed and the ops it has run. */
  void (*progress)(void *ctx, uint64_t seed, uint32_t ops_done);
  void *ctx;            /**< passed to progress */
} bs_diff_opts;

/**
 * Check that @p root is a directory on a filesystem of type @p profile.
 * @return 0; BS_EINVALID for an unknown profile or one whose filesystem
 * differs from the one holding @p root (described in @p why); the probe's
 * error when @p root cannot be probed.
 */
int bs_diff_check_root(char *why, size_t cap, const char *profile, const char *root);

/**
 * Run seed @p seed: a fresh sim store and a fresh directory
 * `<root>/bs-diff-<pid>-<seed>` (removed afterwards, whatever happened).  A
 * divergence is not an error of this function: it returns 0 with
 * @p out->diverged set.  Nor is a NO_SPACE of the real side where the sim
 * succeeded while the real volume is out of inodes or (nearly) out of space
 * (docs/diff.md): that volume is too small for the run, and the seed ends
 * with BS_ENO_SPACE, @p out->div.what "volume full", @p out->div.real
 * naming what ran out, and @p out->div.op_index and @p out->div.op the
 * operation ("(making the seed's directory ...)" before the first).
 * @return 0; BS_EINVALID for bad options; BS_ENO_SPACE for a full real
 * volume; the error that kept the stores from being opened or the directory
 * from being made or removed (described in @p out->div.real).
 */
int bs_diff_run_seed(bs_diff_result *out, const bs_diff_opts *o, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_DIFF_H */
