/* What processes did to the snapshots and branches of one store, logged in
 * shared memory, and the check that it all happened in some order that the
 * registry's rules allow (docs/snapshots.md): each call either happened
 * whole, at one instant between its start and its return, with the answer
 * the rules give at that instant, or not at all.  For the cross-process
 * suites (tests/test_snapshot_procs.c). */
#ifndef BS_SNAP_LOG_H
#define BS_SNAP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backstore.h"

/* The calls a log records. */
typedef enum bs_log_kind {
  BS_LOG_SNAP_CREATE = 1, /* bs_snapshot_create(name) -> id */
  BS_LOG_SNAP_DELETE,     /* bs_snapshot_delete(id) */
  BS_LOG_BRANCH_CREATE,   /* bs_branch_create(id, name) */
  BS_LOG_BRANCH_DELETE,   /* bs_branch_delete(name) */
  BS_LOG_LOOKUP,          /* bs_snapshot_lookup(name) -> id */
} bs_log_kind;

#define BS_LOG_NAME_MAX 24

/* One call.  A call whose process was killed before it returned stays
 * started: it may have happened or not. */
typedef struct bs_log_op {
  int state;   /* 0 not yet, 1 started, 2 returned */
  int kind;    /* bs_log_kind */
  int rc;      /* the answer (returned calls) */
  uint64_t id; /* the snapshot id: argument of a delete or branch create, answer of a create or lookup */
  char name[BS_LOG_NAME_MAX]; /* snapshot name (create, lookup), branch name (branch calls) */
  int64_t t0, t1;             /* CLOCK_MONOTONIC ns before the call and after it returned */
} bs_log_op;

/* The calls of one process, in its order, in memory shared with the parent. */
typedef struct bs_log {
  size_t cap;
  bs_log_op op[];
} bs_log;

/* A log of room for @cap calls, shared with children forked later; fails
 * the test if it cannot be made. */
bs_log *bs_log_new(size_t cap);
void bs_log_free(bs_log *l);
/* Forget every call (before a new run of the same processes). */
void bs_log_clear(bs_log *l);
/* Calls recorded (started or returned). */
size_t bs_log_len(const bs_log *l);
/* Record the start of a call (NULL when the log is full: the caller stops). */
bs_log_op *bs_log_begin(bs_log *l, bs_log_kind kind, const char *name, uint64_t id);
/* Record its return with answer @rc (and @id for a create or lookup). */
void bs_log_end(bs_log_op *op, int rc, uint64_t id);
/* The name of @kind, for messages. */
const char *bs_log_kind_name(int kind);

/* The registry as the API shows it: snapshots in id order, branches in name
 * order, and the id the next create will get (0: not known). */
#define BS_REG_MAX 32
typedef struct bs_reg_state {
  size_t nsnaps, nbranches;
  struct {
    uint64_t id;
    uint32_t branches;
    char name[BS_LOG_NAME_MAX];
  } snap[BS_REG_MAX];
  struct {
    uint64_t parent;
    char name[BS_LOG_NAME_MAX];
  } branch[BS_REG_MAX];
  uint64_t next_id;
} bs_reg_state;

/* Read @st's registry through the API (bs_snapshot_list, the listing of
 * /.bs/branches, bs_branch_parent); next_id is left 0.  Fails the test on
 * an error, or on a name or count the model has no room for. */
void bs_reg_state_read(bs_store *st, bs_reg_state *out);
/* Add snapshot @name, @id (no branches) to @s, as the create that made it. */
void bs_reg_state_add(bs_reg_state *s, const char *name, uint64_t id);

/* Whether the calls of the @nlogs logs can be put in one order, each at an
 * instant inside its [t0, t1] (a started call at any instant after t0, or
 * never), in which every answer is the one the rules give, starting from
 * @from and ending exactly at @to (to->next_id too, unless it is 0).  The
 * rules: a create of a name in use is EXISTS, else OK with the next id; a
 * delete of an id not there is NOT_FOUND, of a snapshot with branches BUSY;
 * a branch create on an id not there is NOT_FOUND, of a name in use
 * EXISTS (either, when both hold); a branch delete of a name not there is
 * NOT_FOUND; a lookup answers the id of the name or NOT_FOUND.  Any other
 * answer fails.  When no order exists, @why (of @cap bytes) names the call
 * the search could not place furthest in. */
bool bs_log_linearizable(const bs_log *const *logs, size_t nlogs, const bs_reg_state *from,
                         const bs_reg_state *to, char *why, size_t cap);

#endif
