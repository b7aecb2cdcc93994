/* Snapshots and branches of a primitive backend (docs/snapshots.md): the
 * registry read and changed through the backend's registry primitives, the
 * trees made and removed through its tree primitives, in the order that
 * keeps a crash from leaving a registered-but-missing tree, and the orphans
 * a crash can leave (unregistered-but-present) removed by the next change. */
#ifndef BS_SRC_SNAPSHOT_H
#define BS_SRC_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "backstore/backend.h"
#include "src/snapreg.h"

/* The id of the snapshot or branch (@kind) named @name in *@id, or 0 when
 * there is none; with @chain (a snapshot), its chain of lowers
 * (bs__snapreg_chain: itself first) in @chain and its length in *@n.  0 or
 * the error reading the registry met. */
int bs__snap_lookup_tree(bs_store *st, const char *op, bs_tree_kind kind, const char *name, uint64_t *id,
                         uint64_t *chain, unsigned *n);
/* Branch @name's record in *@out, *@found whether there is one; with
 * @chain, the chain of its snapshot as above.  0 or the error reading the
 * registry met. */
struct bs__branch_rec;
int bs__snap_lookup_branch(bs_store *st, const char *op, const char *name, struct bs__branch_rec *out, bool *found,
                           uint64_t *chain, unsigned *n);
/* How many snapshots or branches (@kind) there are. */
int bs__snap_count(bs_store *st, const char *op, bs_tree_kind kind, size_t *n);
/* Call @cb with every snapshot or branch name (@kind) in byte order. */
int bs__snap_names(bs_store *st, const char *op, bs_tree_kind kind, bs_readdir_cb cb, void *ctx);

/* Whether the core owns the store's rules for @st (its backend fills the
 * tree and registry primitives: backstore/backend.h). */
bool bs__store_primitive(const bs_store *st);
/* Whether names in @st's filesystem are compared byte for byte. */
bool bs__store_case_sensitive(bs_store *st);

/* The copy-up policy of a store (bs_interpose_set(), docs/overlay.md). */
typedef struct bs__ov_policy {
  bool disabled;           /* forwarding = disabled */
  uint64_t max_copy_bytes; /* 0: no limit */
  bool require_reflink;
  /* A deliberate defect for the checkers (bs_sim_set_bug COPY_UP_ORDER):
   * a file's copy is made in the upper layer itself and filled there, so
   * it is in sight before its data is durable. */
  bool bug_copy_up_order;
} bs__ov_policy;
/* The store's copy-up mutex (held while a copy-up runs, and to read or
 * change the policy) and its policy; NULL for a store without a core. */
pthread_mutex_t *bs__core_ov_mutex(bs_store *st);
bs__ov_policy *bs__core_ov_policy(bs_store *st);
/* Whether this store has yet to reap the work directory of branch tree
 * @tree_id (docs/overlay.md, "Leftovers"): true once per tree and store,
 * false after (and for a store without a core). */
bool bs__core_ov_reap_due(bs_store *st, uint64_t tree_id);

/* The core's state of a store (bs_store.core): created by bs_store_init(),
 * freed by bs_close(). */
struct bs__core;
struct bs__core *bs__core_new(void);
void bs__core_free(struct bs__core *c);

#endif
