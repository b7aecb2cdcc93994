/* Snapshots and branches (profiles with native snapshots: apfs, btrfs).
 *
 * snapshot_create syncs every tree, then copies the main tree: new inodes,
 * the same extent maps (refcount++), so a snapshot allocates no blocks.  It
 * lives at /.bs/snapshots/<name>, read-only.  branch_create copies a
 * snapshot's tree the same way into a writable /.bs/branches/<name> and
 * holds a reference on the snapshot (branch_count), which makes
 * snapshot_delete BUSY until the branch is deleted.  Snapshot ids count up
 * from 1 and are never reused; uuids are RFC 4122 version 4 from the store's
 * PRNG.  Names are compared byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/fault.h"
#include "sim/sim_internal.h"
#include "src/snapreg.h"

static uint64_t store_rng(void *rng) { return bs__rng_next(rng); }

static int unsupported(bs__sim_store *s, const char *op) {
  return bs_store_fail(&s->base, BS_EUNSUPPORTED, 0, "%s: %s has no native snapshots", op, s->prof->name);
}

/* A snapshot id to find, for bs__sim_search (snapshots are kept in id order). */
struct snap_key {
  const bs__sim_store *s;
  uint64_t id;
};

static int snap_cmp(const void *ctx, size_t i) {
  const struct snap_key *k = ctx;
  uint64_t id = k->s->snaps[i]->id;
  return id < k->id ? -1 : id > k->id;
}

/* Index of snapshot @id, or SIZE_MAX. */
static size_t snap_index(const bs__sim_store *s, uint64_t id) {
  const struct snap_key k = {s, id};
  size_t at;
  return bs__sim_search(s->nsnaps, snap_cmp, &k, &at) ? at : SIZE_MAX;
}

static void info_of(const bs__sim_tree *t, bs_snapshot_info *out) {
  memset(out, 0, sizeof(*out));
  out->id = t->id;
  memcpy(out->uuid, t->uuid, sizeof(out->uuid));
  strncpy(out->name, t->name, BS_NAME_MAX);
  out->readonly = true;
  out->branch_count = t->branch_count;
  out->created_ns = (uint64_t)t->created_ns;
}

/* A new tree record copying @root; all or nothing. */
static int tree_new(bs__sim_store *s, const bs__sim_inode *root, const char *name, bs__sim_tree **out) {
  *out = NULL;
  bs__sim_tree *t = bs__sim_calloc(1, sizeof(*t));
  char *nm = bs__sim_strndup(name, strlen(name));
  int rc = (t && nm) ? bs__sim_tree_copy(s, root, &t->root) : BS_ENO_MEMORY;
  if (rc != 0) {
    free(t);
    free(nm);
    return rc;
  }
  t->name = nm;
  t->created_ns = s->clock_ns;
  *out = t;
  return BS_OK;
}

int bs__sim_snapshot_create(bs__sim_store *s, const char *name, bs_snapshot_info *out) {
  if (!s->caps.native_snapshots)
    return unsupported(s, "snapshot create");
  if (bs_name_validate(name) != 0)
    return bs_store_fail(&s->base, bs_name_validate(name), 0, "snapshot create: bad name");
  if (bs__sim_snap_by_name(s, name, strlen(name)))
    return bs_store_fail(&s->base, BS_EEXISTS, 0, "snapshot create: \"%s\" exists", name);
  int frc = bs__sim_fault(s, "bs/sim/snapshot");
  if (frc != 0)
    return frc;
  bs__sim_tree **v = bs__sim_realloc_array(s->snaps, s->nsnaps + 1, sizeof(*v));
  if (!v)
    return BS_ENO_MEMORY;
  s->snaps = v;
  bs__sim_sync_all(s);
  bs__sim_tree *t;
  int rc = tree_new(s, s->main.root, name, &t);
  if (rc != 0)
    return rc;
  t->readonly = true;
  t->id = s->next_snap_id++;
  bs__uuid_v4(t->uuid, store_rng, &s->rng);
  s->snaps[s->nsnaps++] = t;
  if (out)
    info_of(t, out);
  return BS_OK;
}

int bs__sim_snapshot_list(bs__sim_store *s, bs_snapshot_info **out, size_t *count) {
  *out = NULL;
  *count = 0;
  if (!s->caps.native_snapshots)
    return unsupported(s, "snapshot list");
  if (s->nsnaps == 0)
    return BS_OK;
  bs_snapshot_info *v = bs__sim_calloc(s->nsnaps, sizeof(*v));
  if (!v)
    return BS_ENO_MEMORY;
  for (size_t i = 0; i < s->nsnaps; i++)
    info_of(s->snaps[i], &v[i]);
  *out = v;
  *count = s->nsnaps;
  return BS_OK;
}

int bs__sim_snapshot_delete(bs__sim_store *s, uint64_t id) {
  if (!s->caps.native_snapshots)
    return unsupported(s, "snapshot delete");
  size_t i = snap_index(s, id);
  if (i == SIZE_MAX)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "snapshot delete: no snapshot %llu",
                         (unsigned long long)id);
  bs__sim_tree *t = s->snaps[i];
  if (t->branch_count > 0)
    return bs_store_fail(&s->base, BS_EBUSY, 0, "snapshot delete: \"%s\" has %u branch(es)", t->name,
                         (unsigned)t->branch_count);
  int frc = bs__sim_fault(s, "bs/sim/snapshot_delete");
  if (frc != BS_OK)
    return frc;
  memmove(&s->snaps[i], &s->snaps[i + 1], (s->nsnaps - i - 1) * sizeof(*s->snaps));
  s->nsnaps--;
  bs__sim_tree_free(s, t, true);
  return BS_OK;
}

int bs__sim_snapshot_mount_ro(bs__sim_store *s, uint64_t id, char *path, size_t cap) {
  if (!s->caps.native_snapshots)
    return unsupported(s, "snapshot mount");
  size_t i = snap_index(s, id);
  if (i == SIZE_MAX)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "snapshot mount: no snapshot %llu",
                         (unsigned long long)id);
  int rc = bs_snapshot_path(path, cap, s->snaps[i]->name);
  if (rc != 0)
    return bs_store_fail(&s->base, rc, 0, "snapshot mount: path buffer of %zu bytes is too small", cap);
  return BS_OK;
}

int bs__sim_branch_create(bs__sim_store *s, uint64_t snapshot_id, const char *name) {
  if (!s->caps.native_snapshots)
    return unsupported(s, "branch create");
  if (bs_name_validate(name) != 0)
    return bs_store_fail(&s->base, bs_name_validate(name), 0, "branch create: bad name");
  size_t si = snap_index(s, snapshot_id);
  if (si == SIZE_MAX)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "branch create: no snapshot %llu",
                         (unsigned long long)snapshot_id);
  size_t pos;
  if (bs__sim_branch_by_name(s, name, strlen(name), &pos))
    return bs_store_fail(&s->base, BS_EEXISTS, 0, "branch create: \"%s\" exists", name);
  int frc = bs__sim_fault(s, "bs/sim/snapshot");
  if (frc != 0)
    return frc;
  bs__sim_tree **v = bs__sim_realloc_array(s->branches, s->nbranches + 1, sizeof(*v));
  if (!v)
    return BS_ENO_MEMORY;
  s->branches = v;
  bs__sim_tree *snap = s->snaps[si], *t;
  int rc = tree_new(s, snap->root, name, &t);
  if (rc != 0)
    return rc;
  t->id = snap->id;
  snap->branch_count++;
  memmove(&v[pos + 1], &v[pos], (s->nbranches - pos) * sizeof(*v));
  v[pos] = t;
  s->nbranches++;
  return BS_OK;
}

/* Branch @name for operation @what, at @pos: UNSUPPORTED without snapshots,
 * NOT_FOUND without such a branch (both described in the store's message). */
static int branch_find(bs__sim_store *s, const char *what, const char *name, bs__sim_tree **t,
                       size_t *pos) {
  if (!s->caps.native_snapshots)
    return unsupported(s, what);
  *t = bs__sim_branch_by_name(s, name, strlen(name), pos);
  if (!*t)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "%s: no branch \"%s\"", what, name);
  return BS_OK;
}

int bs__sim_branch_parent(bs__sim_store *s, const char *name, uint64_t *snapshot_id) {
  bs__sim_tree *t;
  size_t pos;
  int rc = branch_find(s, "branch parent", name, &t, &pos);
  if (rc == BS_OK)
    *snapshot_id = t->id;
  return rc;
}

int bs__sim_branch_delete(bs__sim_store *s, const char *name) {
  bs__sim_tree *t;
  size_t pos;
  int rc = branch_find(s, "branch delete", name, &t, &pos);
  if (rc == BS_OK)
    rc = bs__sim_fault(s, "bs/sim/snapshot_delete");
  if (rc != BS_OK)
    return rc;
  size_t si = snap_index(s, t->id);
  if (si != SIZE_MAX && s->snaps[si]->branch_count > 0)
    s->snaps[si]->branch_count--;
  memmove(&s->branches[pos], &s->branches[pos + 1], (s->nbranches - pos - 1) * sizeof(*s->branches));
  s->nbranches--;
  bs__sim_tree_free(s, t, true);
  return BS_OK;
}
