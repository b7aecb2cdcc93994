/**
 * @file lab/trace.h
 * @brief Campaign traces: record, parse, replay and shrink (docs/traces.md).
 *
 * A trace is a versioned text file: a header (format version, seed, backend,
 * profile, fault spec, number of operations, the recorded failure), then one
 * line per operation with its full arguments and its result, one line per
 * full sweep and one per fired fault.  bslab campaign writes the trace of
 * every failing seed; bs_trace_replay() re-runs a trace on a fresh store and
 * checks every result against the reference model and against the
 * recording; bs_trace_shrink() removes lines (delta debugging) while the
 * same failure still reproduces.
 */
#ifndef BACKSTORE_TRACE_H
#define BACKSTORE_TRACE_H

#include <stdio.h>

#include "lab/lab.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The newest trace format version this library reads.  Version 1 (campaign
 * traces, still written as version 1) and version 2 (adds mount traces,
 * whose writes carry their bytes) are both read.
 */
#define BS_TRACE_VERSION 2

/** The most data bytes one operation of a trace carries (a write, an xattr value). */
#define BS_TRACE_DATA_MAX (1u << 20)

/**
 * The most bytes bs_trace_load() reads: a larger regular file is refused
 * before it is read, a pipe that goes on past it is cut off with an error.
 * (A trace of a 5 000-operation seed is about 0.5 MB.)
 */
#define BS_TRACE_MAX_BYTES (64u << 20)

/** What one body line of a trace is. */
typedef enum bs_trace_line_kind {
  BS_TRACE_OP = 1,    /**< an operation with its arguments and result */
  BS_TRACE_SWEEP = 2, /**< a full sweep of every file and directory */
  BS_TRACE_FAULT = 3, /**< a fault that fired during the operation before it */
} bs_trace_line_kind;

/** One body line. */
typedef struct bs_trace_line {
  bs_trace_line_kind kind; /**< what it is */
  uint32_t lineno;         /**< its line number in the parsed text; 0 if recorded */
  char *text;              /**< canonical text, without the newline */
  unsigned char *data;     /**< mount traces: the bytes a write carries, or NULL */
  size_t data_len;         /**< bytes at data */
} bs_trace_line;

/** A parsed or recorded trace; release with bs_trace_free(). */
typedef struct bs_trace {
  uint32_t version;      /**< format version (BS_TRACE_VERSION) */
  uint64_t seed;         /**< the campaign seed (the store's seed derives from it) */
  char backend[64];      /**< registry name of the backend, e.g. "sim" */
  char profile[32];      /**< sim profile, e.g. "apfs" */
  char *faults;          /**< fault spec (docs/faults.md), or NULL for none */
  char sim_bug[32];      /**< test only: a bs_sim_bug_from_name() name, or "" */
  bool no_backend_check; /**< test only: bs_check() was not run */
  bool mount;            /**< a mount trace ("source mount", version 2): bslab mount's requests */
  bool failed;           /**< the header records a failure */
  /** The recorded failure (valid when failed is set); op starts with the kind. */
  bs_campaign_failure failure;
  bs_trace_line *lines;  /**< the body */
  size_t n_lines;        /**< entries in lines */
  uint32_t n_ops;        /**< BS_TRACE_OP entries in lines */
} bs_trace;

/** Where and why a trace could not be parsed or run. */
typedef struct bs_trace_error {
  uint32_t line;      /**< 1-based line number, 0 if not about one line */
  char message[320];  /**< what is wrong */
} bs_trace_error;

/**
 * Parse the trace text @p text of @p len bytes.
 * @return 0; BS_EINVALID for a malformed trace, with the line number and the
 * reason in @p err (an unknown format version included); BS_ENO_MEMORY.
 */
int bs_trace_parse(bs_trace **out, const char *text, size_t len, bs_trace_error *err);

/**
 * Read and parse the trace file @p path, a line at a time: memory holds one
 * line (at most 1 000 bytes) besides the parsed trace, and a line over the
 * limit fails as soon as it passes it.  @p path must be a regular file of at
 * most BS_TRACE_MAX_BYTES bytes or a pipe (a FIFO, a shell's process
 * substitution), which is read up to that many bytes.
 * @return 0; BS_ENOT_FOUND or BS_EIO if it cannot be read (reason in @p err);
 * BS_EINVALID for a directory, a device or a socket, for a file over the
 * size limit, and for what bs_trace_parse() refuses; BS_ENO_MEMORY.
 */
int bs_trace_load(bs_trace **out, const char *path, bs_trace_error *err);

/** Write @p t as trace text to @p f.  @return 0, or BS_EIO on a write error. */
int bs_trace_write(FILE *f, const bs_trace *t);

/**
 * Write @p t to the file @p path through bs_lab_file_open() (a temporary
 * file, fsync'ed and renamed over @p path): on a failure @p path is as it
 * was, never half written.  @return 0, or the mapped errno (BS_EIO,
 * BS_ENO_SPACE, ...) with the reason in @p err.
 */
int bs_trace_save(const bs_trace *t, const char *path, bs_trace_error *err);

/** Release @p t; NULL is ignored. */
void bs_trace_free(bs_trace *t);

/**
 * Is @p a the same failure as @p b: the same operation kind (the first word
 * of op), the same invariant, and for a "result" failure the same code?
 */
bool bs_trace_same_failure(const bs_campaign_failure *a, const bs_campaign_failure *b);

/** What bs_trace_replay() found. */
typedef struct bs_replay_result {
  uint32_t ops_run;          /**< operation lines run (the failing one included) */
  uint32_t faults_fired;     /**< faults that fired */
  uint64_t digest;           /**< FNV-1a 64 of the operation lines, as a campaign computes it */
  bool failed;               /**< an invariant was violated; see failure */
  bs_campaign_failure failure; /**< the first violation, when failed */
  bool reproduced;           /**< failed as the trace's header records */
  uint32_t differences;      /**< lines whose result differs from the recording */
  uint32_t first_difference; /**< line number of the first such line, 0 if none */
  char recorded[256];        /**< that line as recorded (shortened) */
  char actual[256];          /**< that line as it ran now (shortened) */
} bs_replay_result;

/**
 * Re-run trace @p t on a fresh store of its backend, profile, seed and
 * faults.  Every operation is judged by the reference model, exactly as the
 * campaign judged it, and its result compared with the recorded one.  A
 * violated invariant is not an error of this function: it returns 0 with
 * @p out->failed set.  If @p recording is not NULL it gets the trace of this
 * run (the same header, this run's results and failure).
 * @return 0; BS_EINVALID when the trace cannot be run (an unknown backend,
 * profile or bug, an operation outside the model), with the line in @p err;
 * the bs_open() error; BS_ENO_MEMORY.
 */
int bs_trace_replay(bs_replay_result *out, const bs_trace *t, bs_trace **recording,
                    bs_trace_error *err);

/**
 * bs_trace_replay() of mount trace @p t (without recording), then the final
 * state of the sim store saved to @p image with bs_sim_save(), so that it
 * can be compared with the image the mount saved.
 * @return what bs_trace_replay() returns; BS_EUNSUPPORTED for a campaign
 * trace; the bs_sim_save() error (reason in @p err).
 */
int bs_trace_replay_save(bs_replay_result *out, const bs_trace *t, const char *image,
                         bs_trace_error *err);

/** Progress of bs_trace_shrink(). */
typedef struct bs_shrink_progress {
  uint32_t tests;       /**< replays run so far */
  uint32_t ops;         /**< operation lines in the smallest failing trace so far */
  uint32_t lines;       /**< body lines in it */
  uint32_t chunks;      /**< the current ddmin granularity */
  double seconds;       /**< wall time so far (for reporting only) */
} bs_shrink_progress;

/** Options of bs_trace_shrink(); zero-initialise. */
typedef struct bs_shrink_opts {
  /** Called after every replay that made the trace smaller, and every 64 replays. */
  void (*progress)(void *ctx, const bs_shrink_progress *p);
  void *ctx;          /**< passed to progress */
  uint32_t max_tests; /**< stop after this many replays; 0 = no limit */
} bs_shrink_opts;

/**
 * Minimise the failing trace @p t by delta debugging (ddmin over its body
 * lines): the result is a trace whose every body line is needed — removing
 * any one makes the failure go away or change — that fails the same way
 * (bs_trace_same_failure()).  @p *out is the recording of its last replay.
 * @p stats, if not NULL, gets the final progress.
 * @return 0; BS_EINVALID if @p t records no failure or its failure does not
 * reproduce (reason in @p err); what bs_trace_replay() returns.
 */
int bs_trace_shrink(bs_trace **out, const bs_trace *t, const bs_shrink_opts *o,
                    bs_shrink_progress *stats, bs_trace_error *err);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_TRACE_H */
