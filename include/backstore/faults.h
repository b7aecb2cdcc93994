/**
 * @file backstore/faults.h
 * @brief Fault injection: the fault-point catalogue, the fault-spec language
 * and the `faults:<inner>` wrapping backend (docs/faults.md).
 *
 * A *fault point* is a libfiu name `bs/<layer>/<op>`: `bs/real/...` in the
 * thin OS wrappers of real/, `bs/sim/...` at the simulated filesystem's
 * allocation, write, sync, clone and snapshot places, and `bs/op/<method>`
 * at every forwarded method of the faults backend.  A *fault spec* says
 * which points fail, with which error, on which calls:
 *
 *     bs/real/ficlone=no_space@3          the 3rd call only (transient)
 *     bs/op/write=io@3+                   the 3rd call and every later one (persistent)
 *     bs/sim/write=eio%0.01               each call with probability 0.01 (seeded)
 *     bs/op/snapshot_*=busy@2             a glob ("*") over the catalogue
 *
 * Terms are comma-separated; ERROR is a lower-case BS_E* name (`no_space`)
 * or the errno spelling of its representative errno (`enospc`).
 *
 * A store opened as `bs_open(&st, "faults:sim", &opts)` with
 * `opts.faults = "SPEC"` forwards every method to the inner store and fails
 * calls as the spec says, deterministically for `opts.seed`: the Nth-call
 * counters are per point, and each point draws its probabilities from its
 * own PRNG seeded from (seed, point name).  Every fired fault is recorded
 * as a bs_fault_event; bs_faults_drain() hands them out.
 */
#ifndef BACKSTORE_FAULTS_H
#define BACKSTORE_FAULTS_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest fault-point name or glob in a spec, in bytes. */
#define BS_FAULT_POINT_MAX 63
/** Probabilities are kept in parts per million (6 decimal places). */
#define BS_FAULT_PPM 1000000u

/** One entry of the fault-point catalogue. */
typedef struct bs_fault_point_info {
  const char *name;    /**< libfiu name, "bs/<layer>/<op>" */
  const char *meaning; /**< one line: what failing this point simulates */
} bs_fault_point_info;

/**
 * The fault-point catalogue: every point a spec may name, sorted by layer
 * (op, sim, real) and then in declaration order.  The real/ entries are
 * generated from real/sys.h's BS_REAL_FAULT_POINTS, so a point added there
 * appears here.
 * @param out gets the array (static storage; never freed).
 * @return the number of entries.
 */
BS_API size_t bs_fault_catalogue(const bs_fault_point_info **out);

/**
 * Index of point @p name in the catalogue.
 * @return 0 with *@p index set; BS_ENOT_FOUND if no point has that name.
 */
BS_API int bs_fault_point_find(size_t *index, const char *name);

/**
 * Does the POINT of a spec term, @p glob (a catalogue name, or a glob where
 * '*' matches any run of characters, docs/faults.md), name point @p point?
 * @return true if it does; false if not, or if either is NULL.
 */
BS_API bool bs_fault_point_matches(const char *glob, const char *point);

/** When a term fires. */
typedef enum bs_fault_trigger {
  BS_FAULT_NTH = 1,  /**< "@N": the Nth call only (transient) */
  BS_FAULT_FROM = 2, /**< "@N+": the Nth call and every later one (persistent) */
  BS_FAULT_PROB = 3, /**< "%P": each call, with probability ppm / BS_FAULT_PPM */
} bs_fault_trigger;

/** One term "POINT=ERROR TRIGGER" of a spec. */
typedef struct bs_fault_term {
  char point[BS_FAULT_POINT_MAX + 1]; /**< a catalogue name, or a glob with '*' */
  int error;                          /**< the BS_E* code the failing call returns */
  bs_fault_trigger trigger;           /**< which calls fail */
  uint64_t nth;                       /**< NTH, FROM: 1-based call number; else 0 */
  uint32_t ppm;                       /**< PROB: 1..BS_FAULT_PPM; else 0 */
} bs_fault_term;

/** A parsed fault spec: its terms, in the order written. */
typedef struct bs_fault_spec {
  size_t count;          /**< number of terms (0: no faults) */
  bs_fault_term *terms;  /**< count terms */
} bs_fault_spec;

/**
 * Parse fault-spec @p text (grammar in docs/faults.md).  The empty string
 * (or only blanks) is the empty spec.  Every point must be in the
 * catalogue, and every glob must match at least one point.
 * @param out gets the spec; free it with bs_fault_spec_free().
 * @param text the spec text, e.g. "bs/real/ficlone=enospc@3".
 * @param err if not NULL, gets a one-line message naming the column (1-based)
 *   and term that is wrong, and near matches for an unknown point.
 * @param errcap capacity of @p err.
 * @return 0; BS_EINVALID for a bad spec; BS_ENO_MEMORY.
 */
BS_API int bs_fault_spec_parse(bs_fault_spec **out, const char *text, char *err, size_t errcap);

/**
 * Canonical text of @p spec: terms joined by ',' without blanks, canonical
 * error names, "@N", "@N+" or "%P" with P in shortest decimal form.
 * bs_fault_spec_parse() of the text gives a spec equal to @p spec.
 * @param out gets a NUL-terminated string; free it with free().
 * @param spec the spec.
 * @return 0; BS_EINVALID for a term that does not satisfy the parser's rules;
 *   BS_ENO_MEMORY.
 */
BS_API int bs_fault_spec_format(char **out, const bs_fault_spec *spec);

/** True when @p a and @p b have the same terms in the same order. */
BS_API bool bs_fault_spec_equal(const bs_fault_spec *a, const bs_fault_spec *b);

/** Free a spec from bs_fault_spec_parse(); NULL is ignored. */
BS_API void bs_fault_spec_free(bs_fault_spec *spec);

/** Canonical spec name of error @p err ("no_space"); NULL if not a failure code. */
BS_API const char *bs_fault_error_name(int err);

/**
 * Error code for spec name @p name: a lower-case BS_E* name ("no_space") or
 * the errno spelling of a representative errno ("enospc", also "enotsup",
 * "eperm").
 * @return 0 with *@p err set; BS_EINVALID for an unknown name.
 */
BS_API int bs_fault_error_parse(int *err, const char *name);

/** One fired fault. */
typedef struct bs_fault_event {
  const char *point;  /**< catalogue name (static storage) */
  int error;          /**< the BS_E* code injected */
  uint64_t call;      /**< 1-based number of the call of this point that failed */
} bs_fault_event;

/**
 * Move up to @p cap recorded fault events of faults store @p st, oldest
 * first, into @p out; *@p n gets how many.  Events not taken stay queued.
 * @return 0; BS_EINVALID if @p st is not a faults store or an argument is NULL.
 */
BS_API int bs_faults_drain(bs_store *st, bs_fault_event *out, size_t cap, size_t *n);

/**
 * Number of faults that fired on faults store @p st since it was opened,
 * drained or not.
 * @return 0; BS_EINVALID if @p st is not a faults store or @p count is NULL.
 */
BS_API int bs_faults_fired(bs_store *st, uint64_t *count);

/**
 * Wrap the open store @p inner in a faults store with spec @p spec (the
 * language of bs_fault_spec_parse()) seeded by @p seed: what
 * bs_open("faults:<inner>") gives, for a store that is already open (a sim
 * volume loaded from an image, say).  The wrapper borrows @p inner:
 * bs_close() of the wrapper leaves @p inner open, and @p inner must outlive
 * it (close the wrapper first).
 * @return 0; BS_EINVALID for a NULL argument or a bad spec; BS_EUNSUPPORTED
 *         or BS_EBUSY as bs_open() of a faults store says for lower points.
 */
BS_API int bs_faults_wrap(bs_store **out, bs_store *inner, const char *spec, uint64_t seed);

/**
 * True when the sim and real fault points (`bs/sim/...`, `bs/real/...`) can
 * fire: the library was built with libfiu.  Without it a spec naming such a
 * point is refused by bs_open() with BS_EUNSUPPORTED; `bs/op/...` points
 * always work.
 */
BS_API bool bs_faults_lower_available(void);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_FAULTS_H */
