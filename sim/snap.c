/* Snapshot and branch trees (profiles with native snapshots: apfs, btrfs):
 * the tree and registry primitives of backstore/backend.h.  The rules
 * (names, ids, BUSY, the order of registry and trees) are the core's
 * (src/snapshot.c); the sim keeps the trees and the registry's bytes.
 *
 * A snapshot tree syncs every tree, then copies the main tree: new inodes,
 * the same extent maps (refcount++), so a snapshot allocates no blocks; it
 * is read-only.  A branch tree copies a snapshot's tree the same way,
 * writable.  A snapshot's UUID is RFC 4122 version 4 from the store's PRNG.
 * Both are durable at once, as is the registry. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/fault.h"
#include "sim/sim_internal.h"
#include "src/snapreg.h"

static uint64_t store_rng(void *rng) { return bs__rng_next(rng); }

/* A tree id to find, for bs__sim_search (trees are kept in id order). */
struct tree_key {
  bs__sim_tree *const *v;
  uint64_t id;
};

static int tree_cmp(const void *ctx, size_t i) {
  const struct tree_key *k = ctx;
  uint64_t id = k->v[i]->id;
  return id < k->id ? -1 : id > k->id;
}

bs__sim_tree *bs__sim_tree_by_id(bs__sim_store *s, bool branches, uint64_t id, size_t *pos) {
  const struct tree_key k = {branches ? s->branches : s->snaps, id};
  size_t at;
  bool found = bs__sim_search(branches ? s->nbranches : s->nsnaps, tree_cmp, &k, &at);
  if (pos)
    *pos = at;
  return found ? k.v[at] : NULL;
}

int bs__sim_tree_method(bs__sim_store *s, bs_tree_method *out) {
  if (!s->caps.native_snapshots && !s->trees)
    return bs_store_fail(&s->base, BS_EUNSUPPORTED, 0, "%s has no native snapshots", s->prof->name);
  *out = BS_TREE_NATIVE;
  return BS_OK;
}

/* Add tree (@branch, @id) at @pos: a copy of @src (NULL: an empty
 * directory), read-only unless a branch, after the fault point of making a
 * tree.  All or nothing. */
static int add_tree(bs__sim_store *s, bool branch, uint64_t id, size_t pos, const bs__sim_inode *src,
                    uint8_t uuid[16]) {
  int frc = bs__sim_fault(s, "bs/sim/snapshot");
  if (frc != 0)
    return frc;
  bs__sim_tree ***vp = branch ? &s->branches : &s->snaps;
  size_t *np = branch ? &s->nbranches : &s->nsnaps;
  bs__sim_tree **v = bs__sim_realloc_array(*vp, *np + 1, sizeof(*v));
  if (!v)
    return BS_ENO_MEMORY;
  *vp = v;
  if (!branch)
    bs__sim_sync_all(s);
  bs__sim_tree *t = bs__sim_calloc(1, sizeof(*t));
  int rc = !t ? BS_ENO_MEMORY : src ? bs__sim_tree_copy(s, src, &t->root) : 0;
  if (rc == 0 && !src && !(t->root = bs__sim_inode_new(s, BS_KIND_DIR, 0755, s->clock_ns)))
    rc = BS_ENO_MEMORY;
  if (rc != 0) {
    free(t);
    return rc;
  }
  t->readonly = !branch;
  t->id = id;
  if (!branch)
    bs__uuid_v4(uuid, store_rng, &s->rng);
  memmove(&v[pos + 1], &v[pos], (*np - pos) * sizeof(*v));
  v[pos] = t;
  (*np)++;
  return BS_OK;
}

/* Tree (@branch, @id) must not exist yet: 0 with its place in *@pos. */
static int tree_absent(bs__sim_store *s, bool branch, uint64_t id, size_t *pos) {
  if (id == 0 || bs__sim_tree_by_id(s, branch, id, pos))
    return bs_store_fail(&s->base, BS_EEXISTS, 0, "tree %llu exists", (unsigned long long)id);
  return BS_OK;
}

int bs__sim_tree_create(bs__sim_store *s, bs_tree_kind kind, uint64_t id, uint64_t src_snapshot,
                        uint8_t uuid[16]) {
  memset(uuid, 0, 16);
  bool branch = kind == BS_TREE_BRANCH;
  size_t pos;
  int rc = tree_absent(s, branch, id, &pos);
  if (rc != 0)
    return rc;
  bool empty = branch && src_snapshot == BS_TREE_SRC_EMPTY;
  const bs__sim_tree *src = empty ? NULL : src_snapshot ? bs__sim_tree_by_id(s, false, src_snapshot, NULL) : &s->main;
  if (!src && !empty)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "no snapshot tree %llu", (unsigned long long)src_snapshot);
  return add_tree(s, branch, id, pos, src ? src->root : NULL, uuid);
}

int bs__sim_tree_freeze(bs__sim_store *s, uint64_t id, const char *src, uint8_t uuid[16]) {
  memset(uuid, 0, 16);
  if (strncmp(src, "/.bs/branch/", 12) != 0)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: not a directory of a branch tree", src);
  size_t pos;
  int rc = tree_absent(s, false, id, &pos);
  bs__sim_loc loc;
  if (rc == 0)
    rc = bs__sim_lookup(s, "snapshot", src, &loc);
  if (rc == 0 && (!loc.node || loc.node->kind != BS_KIND_DIR))
    rc = bs_store_fail(&s->base, BS_EINVALID, 0, "%s: not a directory", src);
  /* The source is found before anything is made: add_tree cannot fail half way. */
  return rc != 0 ? rc : add_tree(s, false, id, pos, loc.node, uuid);
}

/* A failing delete changes nothing: the fault is met here, before the core
 * lets go of the tree. */
int bs__sim_tree_may_delete(bs__sim_store *s, bs_tree_kind kind, uint64_t id) {
  (void)kind;
  (void)id;
  return bs__sim_fault(s, "bs/sim/snapshot_delete");
}

int bs__sim_tree_delete(bs__sim_store *s, bs_tree_kind kind, uint64_t id) {
  bool branch = kind == BS_TREE_BRANCH;
  size_t pos;
  bs__sim_tree *t = bs__sim_tree_by_id(s, branch, id, &pos);
  if (!t)
    return BS_OK;
  bs__sim_tree **v = branch ? s->branches : s->snaps;
  size_t *np = branch ? &s->nbranches : &s->nsnaps;
  memmove(&v[pos], &v[pos + 1], (*np - pos - 1) * sizeof(*v));
  (*np)--;
  bs__sim_tree_free(s, t, true);
  return BS_OK;
}

int bs__sim_tree_list(bs__sim_store *s, bs_tree_kind kind, int (*cb)(void *ctx, uint64_t id), void *ctx) {
  bool branch = kind == BS_TREE_BRANCH;
  size_t n = branch ? s->nbranches : s->nsnaps;
  for (size_t i = 0; i < n; i++)
    if (cb(ctx, (branch ? s->branches : s->snaps)[i]->id) != 0)
      break;
  return BS_OK;
}

int bs__sim_registry_open(bs__sim_store *s, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  if (!s->reg)
    return BS_OK;
  if (!(*buf = bs__sim_malloc(s->reglen ? s->reglen : 1)))
    return BS_ENO_MEMORY;
  memcpy(*buf, s->reg, s->reglen);
  *len = s->reglen;
  return BS_OK;
}

int bs__sim_registry_save(bs__sim_store *s, const uint8_t *buf, size_t len) {
  uint8_t *copy = bs__sim_malloc(len ? len : 1);
  if (!copy)
    return BS_ENO_MEMORY;
  memcpy(copy, buf, len);
  free(s->reg);
  s->reg = copy;
  s->reglen = len;
  return BS_OK;
}
