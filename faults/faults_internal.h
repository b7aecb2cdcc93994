/* Internals of faults/ (docs/faults.md): the catalogue layout, the seeded
 * schedule and the libfiu arming shared by spec.c, sched.c, arm.c and
 * backend.c.  Names: `bs__fault_*` cross files; the rest is static. */
#ifndef BS_FAULTS_INTERNAL_H
#define BS_FAULTS_INTERNAL_H

#include "backstore/faults.h"

/* The methods the faults backend fails at "bs/op/<method>", in catalogue
 * order (the lab hooks power_loss, check and clock_ns are never failed:
 * they observe the store, they are not operations on it). */
#define BS__FAULT_OP_METHODS(XX)                                                            \
  XX(caps) XX(probe_fs_type) XX(reflink) XX(usage) XX(create) XX(mkdir) XX(write) XX(read)  \
  XX(truncate) XX(unlink) XX(rmdir) XX(rename) XX(stat) XX(chmod) XX(chown) XX(utimens)    \
  XX(readdir) XX(setxattr) XX(getxattr) XX(removexattr) XX(listxattr) XX(sync)              \
  XX(snapshot_create) XX(snapshot_list) XX(snapshot_delete) XX(snapshot_mount_ro)           \
  XX(branch_create) XX(branch_delete) XX(branch_parent) XX(symlink) XX(readlink) XX(link)

/* Catalogue index of "bs/op/<m>" is BS__FP_OP_<m>; sim and real points follow. */
enum {
#define BS__XX(m) BS__FP_OP_##m,
  BS__FAULT_OP_METHODS(BS__XX)
#undef BS__XX
  BS__FP_OP_COUNT
};

/* True for a catalogue point below the wrapper (bs/sim/..., bs/real/...),
 * which fires through libfiu. */
bool bs__fault_point_is_lower(size_t index);
/* True when glob @pat ('*' matches any run of bytes) matches @name. */
bool bs__fault_glob(const char *pat, const char *name);
/* Up to @cap catalogue names closest to @name (edit distance), joined by
 * ", " into @buf; "" if none is close. */
void bs__fault_near(char *buf, size_t cap, const char *name);

/* ---- the schedule (sched.c) ----------------------------------------------- */
typedef struct bs__fault_sched bs__fault_sched;

/* A schedule for @spec (copied) driven by @seed. */
int bs__fault_sched_new(bs__fault_sched **out, const bs_fault_spec *spec, uint64_t seed);
void bs__fault_sched_free(bs__fault_sched *s);
/* True when some term of the spec matches a lower point. */
bool bs__fault_sched_has_lower(const bs__fault_sched *s);
/* True when some term matches catalogue point @index. */
bool bs__fault_sched_matches(const bs__fault_sched *s, size_t index);
/* Count one call of catalogue point @index; 0, or the BS_E* code to inject
 * (the event is then recorded).  *@call gets the call's number if non-NULL. */
int bs__fault_sched_call(bs__fault_sched *s, size_t index, uint64_t *call);
int bs__fault_sched_drain(bs__fault_sched *s, bs_fault_event *out, size_t cap, size_t *n);
uint64_t bs__fault_sched_fired(const bs__fault_sched *s);

/* ---- libfiu arming (arm.c) ------------------------------------------------ */
/* Enable, through fiu_enable_external, every lower point @s matches.  One
 * schedule per process: BS_EBUSY while another is armed; BS_EUNSUPPORTED
 * without libfiu. */
int bs__fault_arm(bs__fault_sched *s);
/* Disable what bs__fault_arm() enabled; a no-op if @s is not armed. */
void bs__fault_disarm(bs__fault_sched *s);
/* Make armed schedule @s (or NULL: none) the one this thread's lower points
 * consult; returns the previous one, for nesting. */
bs__fault_sched *bs__fault_enter(bs__fault_sched *s);

#endif
