/* The snapshot registry (docs/snapshots.md): snapshot id <-> UUID <-> name,
 * the branches and the reference each holds on its snapshot.
 *
 * A pure value: no I/O, no locking.  The core (src/snapshot.c) keeps one for
 * every primitive backend, read and saved through the backend's registry
 * primitives (a file under <root>/.bs on a real store, a blob of the sim's
 * image), and takes every rule of the API from it.  Snapshot ids count up
 * from 1 and are never reused (next_id only grows), branch ids the same;
 * the trees are named by id, never by the user's name. */
#ifndef BS_SNAPREG_H
#define BS_SNAPREG_H

#include <stddef.h>
#include <stdint.h>

#include "backstore.h"

/* The snapshot_id of an overlay branch whose lower is a host directory
 * (bs_branch_create_host(); docs/overlay.md): no snapshot has id 0, and
 * such a branch holds no reference.  The directory itself is recorded in
 * the branch's tree ("/.bs/branch/ID/lowerdir", src/snapshot.c), not here,
 * so the registry's format is unchanged (a version-2 record of kind 2). */
#define BS__SNAPREG_HOST_LOWER 0

typedef struct bs__branch_rec {
  uint64_t id;          /* branch id: names its tree on disk */
  uint64_t snapshot_id; /* the snapshot it holds a reference on; BS__SNAPREG_HOST_LOWER: none */
  uint8_t kind;         /* BS_BRANCH_NATIVE (a tree copy) or BS_BRANCH_OVERLAY (upper over the snapshot) */
  char name[BS_NAME_MAX + 1];
} bs__branch_rec;

/* A snapshot of an overlay branch (docs/overlay.md, "Snapshots of an overlay
 * branch"): snapshot @snapshot_id froze the branch's upper layer, and its
 * lower is snapshot @lower_id (itself perhaps stacked). */
typedef struct bs__stack_rec {
  uint64_t snapshot_id;
  uint64_t lower_id;
} bs__stack_rec;

/* Most layers below an overlay branch's upper (its lower chain). */
#define BS__OV_DEPTH_MAX 8u

typedef struct bs__snapreg {
  uint64_t next_id;        /* id of the next snapshot */
  uint64_t next_branch_id; /* id of the next branch */
  bs_snapshot_info *snaps; /* id order; branch_count kept equal to the branches */
  size_t nsnaps;
  bs__branch_rec *branches; /* name byte order */
  size_t nbranches;
  bs__stack_rec *stacks; /* snapshot_id order: the stacked snapshots */
  size_t nstacks;
} bs__snapreg;

/* Most snapshots, and most branches, one registry holds (decoder limit). */
#define BS__SNAPREG_MAX 65536u

void bs__snapreg_init(bs__snapreg *r);
void bs__snapreg_free(bs__snapreg *r);

const bs_snapshot_info *bs__snapreg_find_id(const bs__snapreg *r, uint64_t id);
const bs_snapshot_info *bs__snapreg_find_name(const bs__snapreg *r, const char *name);
const bs__branch_rec *bs__snapreg_find_branch(const bs__snapreg *r, const char *name);

/* Record snapshot @name (a valid name: the API checks names, src/snapapi.c)
 * with id r->next_id.  BS_EEXISTS for a taken name, BS_ENO_SPACE past
 * BS__SNAPREG_MAX, BS_ENO_MEMORY.  @out (may be NULL) gets the record. */
int bs__snapreg_add(bs__snapreg *r, const char *name, const uint8_t uuid[16], uint64_t created_ns,
                    bs_snapshot_info *out);
/* Record snapshot @name as bs__snapreg_add does, stacked on snapshot
 * @lower_id (the frozen upper of an overlay branch over @lower_id), taking a
 * reference on @lower_id: BS_ENOT_FOUND (no @lower_id), BS_ENO_SPACE when
 * its chain would be deeper than BS__OV_DEPTH_MAX, or bs__snapreg_add's. */
int bs__snapreg_add_stacked(bs__snapreg *r, const char *name, const uint8_t uuid[16], uint64_t created_ns,
                            uint64_t lower_id, bs_snapshot_info *out);
/* The snapshot snapshot @id is stacked on, or 0. */
uint64_t bs__snapreg_lower(const bs__snapreg *r, uint64_t id);
/* Layers in snapshot @id's chain: 1 for a plain snapshot, 1 + its lower's
 * for a stacked one; 0 when there is no snapshot @id. */
unsigned bs__snapreg_depth(const bs__snapreg *r, uint64_t id);
/* Snapshot @id's chain, @id first, then its lower, and so on, in @out:
 * how many (bs__snapreg_depth; a damaged chain is cut at the limit). */
unsigned bs__snapreg_chain(const bs__snapreg *r, uint64_t id, uint64_t out[BS__OV_DEPTH_MAX]);
/* Forget snapshot @id: BS_ENOT_FOUND, or BS_EBUSY while a branch or a
 * stacked snapshot holds it. */
int bs__snapreg_remove(bs__snapreg *r, uint64_t id);
/* Record branch @name (valid, as above) of snapshot @snapshot_id with id
 * r->next_branch_id, taking a reference: BS_ENOT_FOUND (snapshot),
 * BS_EEXISTS, BS_ENO_SPACE, BS_ENO_MEMORY. */
int bs__snapreg_add_branch(bs__snapreg *r, uint64_t snapshot_id, const char *name, bs__branch_rec *out);
/* The same, of @kind (BS_BRANCH_NATIVE or BS_BRANCH_OVERLAY; else BS_EINVALID);
 * an overlay of @snapshot_id BS__SNAPREG_HOST_LOWER holds no snapshot. */
int bs__snapreg_add_branch_kind(bs__snapreg *r, uint64_t snapshot_id, const char *name, uint8_t kind,
                                bs__branch_rec *out);
/* Forget branch @name and drop its reference: BS_ENOT_FOUND.  @out (may be
 * NULL) gets the record it had. */
int bs__snapreg_remove_branch(bs__snapreg *r, const char *name, bs__branch_rec *out);

/* Every invariant: both counters at least 1, unique names that pass
 * bs__name_validate_held() (a registry may predate the control-character
 * rule new names pass), ids ascending and below next_id, branches sorted
 * with unique names and ids, each on an existing snapshot, branch counts
 * exact; stack records sorted, on existing snapshots, each lower older
 * than its snapshot (no cycle), chains no deeper than BS__OV_DEPTH_MAX.
 * 0 or BS_ECORRUPT. */
int bs__snapreg_check(const bs__snapreg *r);

/* The file format (docs/snapshots.md): "BSREG001" ("BSREG002" when an
 * overlay branch exists: each BranchRecord has a u8 kind after
 * snapshot_id), u64 next_id,
 * u64 next_branch_id, u32 n, n x (u32 len, SnapshotInfo SSZ), u32 m,
 * m x (u32 len, BranchRecord SSZ), then, in "BSREG003" only (written when a
 * stacked snapshot exists; branch records as in version 2), u32 k,
 * k x (u64 snapshot_id, u64 lower_id); u64 FNV-1a of everything before it; all
 * little-endian.  *@out is malloc'ed. */
int bs__snapreg_encode(const bs__snapreg *r, uint8_t **out, size_t *len);
/* Decode into @r (initialised by the call; freed on failure): BS_ECORRUPT
 * for any malformed or inconsistent input, BS_ENO_MEMORY. */
int bs__snapreg_decode(bs__snapreg *r, const uint8_t *buf, size_t len);

/* A random RFC 4122 version-4 UUID from @r64 (8 random bytes per call). */
void bs__uuid_v4(uint8_t uuid[16], uint64_t (*r64)(void *ctx), void *ctx);

#endif
