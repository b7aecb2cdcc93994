/**
 * @file lab/lab.h
 * @brief The lab: seeded campaigns of random operations checked against a
 * reference model after every operation (docs/campaign.md).
 *
 * For each seed a campaign opens a fresh store, draws a weighted random
 * stream of operations from a PRNG seeded with that seed only, runs each
 * operation on the store and on an in-memory reference model, and checks the
 * invariants after every operation: the backend's own consistency check, the
 * operation's result code, file contents of the operation's clone lineage,
 * space accounting and, after a simulated power loss, crash consistency.  The
 * first violated invariant ends the seed and is reported with everything
 * needed to reproduce it.  Each seed also yields a trace digest: the same
 * seed, options and library give the same digest in any process.
 */
#ifndef BACKSTORE_LAB_H
#define BACKSTORE_LAB_H

#include <signal.h>
#include <stdio.h>

#include "backstore/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Operations per seed when bs_campaign_opts.ops is 0. */
#define BS_CAMPAIGN_DEFAULT_OPS 1000u
/** Failures kept in a bs_campaign_summary (more are only counted). */
#define BS_CAMPAIGN_MAX_FAILURES 64u
/** Operations between two full sweeps of every file and directory. */
#define BS_CAMPAIGN_SWEEP_EVERY 64u

/** Progress of a running campaign (see bs_campaign_opts.progress). */
typedef struct bs_campaign_progress {
  uint32_t seeds_done;  /**< seeds finished */
  uint32_t seeds_total; /**< seeds asked for */
  uint64_t ops_done;    /**< operations run so far, all seeds together */
  uint64_t ops_total;   /**< seeds_total * ops per seed, less those a failed seed skipped */
  uint32_t failures;    /**< failing seeds so far */
} bs_campaign_progress;

/** The first invariant a seed violated. */
typedef struct bs_campaign_failure {
  uint64_t seed;         /**< the campaign seed */
  uint32_t op_index;     /**< 0-based index of the failing operation */
  char op[192];          /**< canonical text of the operation ("write /d0/f3 off=.. len=..") */
  char check[24];        /**< the invariant: result, content, listing, space, check, crash */
  char expected[160];    /**< what the model expected */
  char actual[160];      /**< what the store did */
  char message[256];     /**< bs_last_message() or a description of the mismatch */
  char trace[256];       /**< the trace file written for this seed (bs_campaign_opts.trace_dir), or "" */
} bs_campaign_failure;

/** What one seed did. */
typedef struct bs_campaign_result {
  uint64_t seed;          /**< the campaign seed */
  uint32_t ops_run;       /**< operations run (the failing one included) */
  uint64_t digest;        /**< FNV-1a 64 of the canonical trace lines */
  uint32_t power_losses;  /**< simulated power losses injected (faults fired) */
  uint32_t faults_fired;  /**< faults of bs_campaign_opts.faults that fired */
  uint32_t expected_errors; /**< operations that failed exactly as the model said */
  uint32_t unsupported;   /**< of those, BS_EUNSUPPORTED for a missing capability */
  uint32_t sweeps;        /**< full sweeps of every file and directory */
  uint64_t sim_ns;        /**< virtual time the seed's store advanced (0 without a virtual clock) */
  bool failed;            /**< an invariant was violated; see failure */
  bs_campaign_failure failure; /**< valid when failed is set */
} bs_campaign_result;

/** Options of a campaign; zero-initialise, then set what you need. */
typedef struct bs_campaign_opts {
  const char *backend;  /**< registry name; NULL = "sim" */
  const char *profile;  /**< sim profile; NULL = "apfs" */
  uint64_t first_seed;  /**< first seed; seeds run first_seed, first_seed + 1, ... */
  uint32_t seeds;       /**< number of seeds; 0 = 1 */
  uint32_t ops;         /**< operations per seed; 0 = BS_CAMPAIGN_DEFAULT_OPS */
  /**
   * Processes for bs_campaign_run(); 0 = 1.  With more than one, seeds run
   * in forked processes (each a slice of the seeds, reporting through a
   * pipe); callbacks still run in the calling process, in seed order.
   */
  uint32_t jobs;
  /**
   * Fault spec (docs/faults.md): the store is opened as "faults:<backend>"
   * with this schedule, seeded by the campaign seed.  NULL or "" = none.
   */
  const char *faults;
  const char *sim_bug;  /**< test only: a bs_sim_bug_from_name() name to turn on, or NULL */
  /**
   * Draw the overlay mix too (docs/campaign.md, "The overlay mix"): symlink,
   * readlink and overlay-branch creation, with every file operation also
   * meeting overlay branches (copy-up, whiteouts, merged readdir).  Off, the
   * seeded streams are those of the default mix.  Not with faults.
   */
  bool overlay_mix;
  bool no_backend_check; /**< test only: skip bs_check(), rely on the model's checks alone */
  /**
   * If set, every canonical trace line (the digest's input, '\n'-terminated)
   * is written here, after a "# seed S" line per seed.  Needs jobs 1:
   * bs_campaign_run() refuses a trace with jobs > 1 (BS_EINVALID).
   */
  FILE *trace;
  /**
   * If set, the trace of every failing seed (docs/traces.md) is written to
   * "<trace_dir>/<profile>-seed-<S>.trace", the directory made when the first
   * seed fails; bs_campaign_failure.trace names the file.
   */
  const char *trace_dir;
  /** Write the trace of every seed to trace_dir, passing ones too. */
  bool trace_all;
  /** Called now and then with the overall progress (serialised, any thread). */
  void (*progress)(void *ctx, const bs_campaign_progress *p);
  /** Called once per seed, in seed order, when it finished (serialised). */
  void (*seed_done)(void *ctx, const bs_campaign_result *r);
  void *ctx;            /**< passed to progress and seed_done */
  /**
   * If set, bs_campaign_run() stops soon after *stop becomes nonzero (the
   * flag of a SIGINT handler, say): between two operations.  The seeds that
   * were running are abandoned (not counted, no trace written); the ones
   * that finished are summarised, and bs_campaign_summary.interrupted is
   * set.  With jobs > 1 the job processes ignore SIGINT: this process stops
   * them.  bs_campaign_run_seed() does not look at it.
   */
  const volatile sig_atomic_t *stop;
} bs_campaign_opts;

/** What bs_campaign_run() measured; release with bs_campaign_summary_free(). */
typedef struct bs_campaign_summary {
  uint32_t seeds_run;     /**< seeds that ran to the end or to their first failure */
  uint64_t ops;           /**< operations run, all seeds */
  double seconds;         /**< wall time (CLOCK_MONOTONIC), for reporting only */
  double ops_per_sec;     /**< ops / seconds */
  /**
   * Virtual time the seeds' stores advanced, all seeds (the sim's clock,
   * docs/sim.md): deterministic, as the digests are.  0 without a clock.
   */
  uint64_t sim_ns;
  double time_compression; /**< simulated seconds / wall seconds (0 if either is 0) */
  uint64_t power_losses;  /**< simulated power losses injected, all seeds */
  uint64_t faults_fired;  /**< faults of bs_campaign_opts.faults that fired, all seeds */
  uint64_t expected_errors; /**< operations that failed as the model said, all seeds */
  uint64_t violations;    /**< invariant violations (failing seeds: a seed stops at its first) */
  bs_campaign_failure *failures; /**< the first BS_CAMPAIGN_MAX_FAILURES, in seed order */
  size_t n_failures;      /**< entries in failures */
  char error[256];        /**< why the campaign could not run, when it returned an error */
  bool interrupted;       /**< bs_campaign_opts.stop ended the campaign before every seed ran */
} bs_campaign_summary;

/**
 * Run one seed.  A violated invariant is not an error of this function: it
 * returns 0 with @p out->failed set.
 * @return 0; BS_EINVALID for bad options (unknown profile or bug name, with a
 * description in @p out->failure.message); the bs_open() error if the store
 * cannot be opened; BS_ENO_MEMORY.
 */
int bs_campaign_run_seed(bs_campaign_result *out, const bs_campaign_opts *o, uint64_t seed);

/**
 * Run every seed of @p o, in o->jobs processes, and summarise.  A job
 * process that dies (a crash in the library) makes the seed it was running
 * a failure with invariant "signal".
 * @return 0 when every seed ran (failures are in @p out), or when
 * bs_campaign_opts.stop ended it (@p out->interrupted, with the seeds that
 * finished), else the error that stopped the campaign, described in
 * @p out->error: BS_EINVALID for a trace with jobs > 1, or for seeds that
 * would run past UINT64_MAX.
 */
int bs_campaign_run(bs_campaign_summary *out, const bs_campaign_opts *o);

/** Time compression: @p sim_ns of virtual time in seconds over @p wall_seconds (0 if that is 0). */
double bs_campaign_time_compression(uint64_t sim_ns, double wall_seconds);

/** Release what bs_campaign_run() allocated in @p s; NULL is ignored. */
void bs_campaign_summary_free(bs_campaign_summary *s);

/**
 * A host file the lab writes for the user (a trace, a JSON summary), made
 * all at once: bs_lab_file_open() gives a FILE on a temporary file beside
 * the target, bs_lab_file_commit() flushes, fsyncs and renames it over the
 * target and fsyncs the directory, bs_lab_file_abort() removes it.  Until
 * the commit succeeds the target is exactly as it was (absent, or its old
 * content), so a failure never leaves a partial or truncated file.
 * docs/guarantees.md, "Files the lab writes".
 */
typedef struct bs_lab_file {
  FILE *f;          /**< write the content here */
  char path[4096];  /**< the file replaced: the target, or a symlink's target */
  char tmp[4200];   /**< the temporary file; "" when the target is written in place */
} bs_lab_file;

/**
 * Start writing host file @p path.  The temporary file is
 * "DIR/.NAME.tmp-PID-N" and gets @p path's mode if it exists (a new file's,
 * 0666 less the umask, otherwise).  A symlink is followed: its target is
 * replaced.  An existing file that is not a regular one (/dev/null, a FIFO)
 * is written in place, as there is nothing to replace atomically.
 * @return 0; else the mapped errno (BS_EINVALID for a directory), with
 * "cannot write PATH: reason" in @p why (capacity @p cap).
 */
int bs_lab_file_open(bs_lab_file *lf, const char *path, char *why, size_t cap);

/**
 * Finish @p lf: on success the target holds exactly what was written, and
 * is durable.  On any failure before the rename the temporary file is
 * removed and the target is untouched; if only the directory fsync fails,
 * the new file is in place.  @p lf is closed either way.
 * @return 0, or the mapped errno with the reason in @p why.
 */
int bs_lab_file_commit(bs_lab_file *lf, char *why, size_t cap);

/** Give up on @p lf: close and remove the temporary file. */
void bs_lab_file_abort(bs_lab_file *lf);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_LAB_H */
