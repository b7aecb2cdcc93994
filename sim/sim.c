/* The "sim" backend: the ops table, store lifecycle and the sim-only extras
 * (deliberate bugs).  Every op advances the virtual clock once, after it ran,
 * by the profile's latency for its class; file times use the clock value at
 * the start of the op.  Pure observations (caps, probe_fs_type, usage,
 * clock_ns, check) and power_loss do not advance the clock, so a checker
 * that looks more often does not change what it looks at. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

bs__sim_store *bs__sim_cast(bs_store *st) { return (bs__sim_store *)st; }

void bs__sim_tree_free(bs__sim_store *s, bs__sim_tree *t, bool release) {
  if (!t)
    return;
  bs__sim_inode_free(s, t->root, release);
  free(t->name);
  free(t);
}

void bs__sim_store_free(bs__sim_store *s) {
  if (!s)
    return;
  bs__sim_inode_free(s, s->main.root, false);
  for (size_t i = 0; i < s->nsnaps; i++)
    bs__sim_tree_free(s, s->snaps[i], false);
  for (size_t i = 0; i < s->nbranches; i++)
    bs__sim_tree_free(s, s->branches[i], false);
  free(s->snaps);
  free(s->branches);
  bs__sim_blocks_free(&s->blk);
  free(s->scratch);
  free(s);
}

int bs__sim_store_new(bs__sim_store **out, const bs__sim_profile *prof, uint64_t nblocks, uint64_t seed) {
  *out = NULL;
  bs__sim_store *s = bs__sim_calloc(1, sizeof(*s));
  if (!s)
    return BS_ENO_MEMORY;
  s->base.ops = &bs__sim_ops;
  s->prof = prof;
  int rc = bs_caps_for_type(&s->caps, prof->type);
  if (rc == 0)
    rc = bs__sim_blocks_init(&s->blk, nblocks);
  if (rc != 0) {
    free(s);
    return rc;
  }
  s->clock_ns = BS__SIM_EPOCH_NS;
  uint64_t sm = seed;
  bs__rng_seed(&s->rng, bs__splitmix64(&sm));
  bs__rng_seed(&s->lat_rng, bs__splitmix64(&sm));
  s->next_snap_id = 1;
  s->scratch = bs__sim_calloc((size_t)nblocks, sizeof(*s->scratch));
  s->main.root = bs__sim_inode_new(s, BS_KIND_DIR, 0755, s->clock_ns);
  if (!s->scratch || !s->main.root) {
    bs__sim_store_free(s);
    return BS_ENO_MEMORY;
  }
  s->main.root->ino = BS__SIM_ROOT_INO;
  s->main.created_ns = s->clock_ns;
  s->next_ino = BS__SIM_FIRST_INO;
  *out = s;
  return BS_OK;
}

static int sim_open(bs_store **out, const bs_open_opts *opts, const char *inner) {
  const char *pname = opts->profile;
  if (inner && *inner) { /* "sim:btrfs" names the profile too */
    if (pname && strcmp(pname, inner) != 0)
      return BS_EINVALID;
    pname = inner;
  }
  const bs__sim_profile *prof = bs__sim_profile_find(pname ? pname : "apfs");
  if (!prof)
    return BS_EINVALID;
  uint64_t cap = opts->capacity ? opts->capacity : BS_SIM_DEFAULT_CAPACITY;
  uint64_t nblocks = cap / BS__SIM_B; /* a partial last block is not usable */
  if (nblocks < BS__SIM_MIN_BLOCKS || nblocks > BS__SIM_MAX_BLOCKS)
    return BS_EINVALID;
  bs__sim_store *s;
  int rc = bs__sim_store_new(&s, prof, nblocks, opts->seed);
  if (rc != 0)
    return rc;
  *out = &s->base;
  return BS_OK;
}

static void sim_close(bs_store *st) { bs__sim_store_free(bs__sim_cast(st)); }

/* An op runs between begin_op, which starts its byte count, and end_op,
 * which advances the clock once by the latency of its class. */
static bs__sim_store *begin_op(bs_store *st) {
  bs__sim_store *s = bs__sim_cast(st);
  s->op_bytes = 0;
  return s;
}

/* The op of class @cls answered @rc: tick the clock, answer @rc. */
static int end_op(bs__sim_store *s, bs__sim_op_class cls, int rc) {
  bs__sim_tick(s, cls, s->op_bytes);
  return rc;
}

static int sim_caps(bs_store *st, bs_caps *out) {
  *out = bs__sim_cast(st)->caps;
  return BS_OK;
}

static int sim_probe(bs_store *st, const char *path, bs_fs_type *out) {
  (void)path; /* every path of a sim store is on its one volume */
  *out = bs__sim_cast(st)->prof->type;
  return BS_OK;
}

static int sim_usage(bs_store *st, bs_usage *out) {
  const bs__sim_blocks *b = &bs__sim_cast(st)->blk;
  out->block_size = BS__SIM_B;
  out->total_bytes = b->n * BS__SIM_B;
  out->used_bytes = b->used * BS__SIM_B;
  out->free_bytes = (b->n - b->used) * BS__SIM_B;
  out->shared_bytes = b->shared * BS__SIM_B;
  return BS_OK;
}

static int sim_reflink(bs_store *st, const char *src, const char *dst) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_REFLINK, bs__sim_reflink(s, src, dst));
}
static int sim_create(bs_store *st, const char *path, uint32_t mode) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_create(s, path, mode));
}
static int sim_mkdir(bs_store *st, const char *path, uint32_t mode) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_mkdir(s, path, mode));
}
static int sim_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_WRITE, bs__sim_write(s, path, off, buf, len));
}
static int sim_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_READ, bs__sim_read(s, path, off, buf, len, nread));
}
static int sim_truncate(bs_store *st, const char *path, uint64_t size) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_WRITE, bs__sim_truncate(s, path, size));
}
static int sim_unlink(bs_store *st, const char *path) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_unlink(s, path));
}
static int sim_rmdir(bs_store *st, const char *path) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_rmdir(s, path));
}
static int sim_rename(bs_store *st, const char *from, const char *to) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_rename(s, from, to));
}
static int sim_stat(bs_store *st, const char *path, bs_stat_info *out) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_stat(s, path, out));
}
static int sim_chmod(bs_store *st, const char *path, uint32_t mode) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_chmod(s, path, mode));
}
static int sim_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_chown(s, path, uid, gid));
}
static int sim_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_utimens(s, path, atime_ns, mtime_ns));
}
static int sim_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_readdir(s, path, cb, ctx));
}
static int sim_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_setxattr(s, path, name, value, len));
}
static int sim_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_getxattr(s, path, name, buf, cap, len));
}
static int sim_removexattr(bs_store *st, const char *path, const char *name) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_removexattr(s, path, name));
}
static int sim_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_listxattr(s, path, cb, ctx));
}
static int sim_sync(bs_store *st, const char *path) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_SYNC, bs__sim_sync(s, path));
}
static int sim_snapshot_create(bs_store *st, const char *name, bs_snapshot_info *out) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_SNAPSHOT, bs__sim_snapshot_create(s, name, out));
}
static int sim_snapshot_list(bs_store *st, bs_snapshot_info **out, size_t *count) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_snapshot_list(s, out, count));
}
static int sim_snapshot_delete(bs_store *st, uint64_t id) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_SNAPSHOT, bs__sim_snapshot_delete(s, id));
}
static int sim_snapshot_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_snapshot_mount_ro(s, id, path, cap));
}
static int sim_branch_create(bs_store *st, uint64_t snapshot_id, const char *name) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_SNAPSHOT, bs__sim_branch_create(s, snapshot_id, name));
}
static int sim_branch_delete(bs_store *st, const char *name) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_SNAPSHOT, bs__sim_branch_delete(s, name));
}
static int sim_branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id) {
  bs__sim_store *s = begin_op(st);
  return end_op(s, BS__SIM_OP_META, bs__sim_branch_parent(s, name, snapshot_id));
}

static int sim_power_loss(bs_store *st, bs_power_loss_mode mode) {
  return bs__sim_power_loss(bs__sim_cast(st), mode);
}
static int sim_check(bs_store *st) { return bs__sim_check(bs__sim_cast(st)); }
static int sim_clock(bs_store *st, int64_t *out) {
  *out = bs__sim_cast(st)->clock_ns;
  return BS_OK;
}

const bs_backend_ops bs__sim_ops = {
  .version = BS_BACKEND_OPS_VERSION,
  .name = "sim",
  .open = sim_open,
  .close = sim_close,
  .caps = sim_caps,
  .probe_fs_type = sim_probe,
  .reflink = sim_reflink,
  .usage = sim_usage,
  .create = sim_create,
  .mkdir = sim_mkdir,
  .write = sim_write,
  .read = sim_read,
  .truncate = sim_truncate,
  .unlink = sim_unlink,
  .rmdir = sim_rmdir,
  .rename = sim_rename,
  .stat = sim_stat,
  .chmod = sim_chmod,
  .utimens = sim_utimens,
  .readdir = sim_readdir,
  .setxattr = sim_setxattr,
  .getxattr = sim_getxattr,
  .removexattr = sim_removexattr,
  .listxattr = sim_listxattr,
  .sync = sim_sync,
  .snapshot_create = sim_snapshot_create,
  .snapshot_list = sim_snapshot_list,
  .snapshot_delete = sim_snapshot_delete,
  .snapshot_mount_ro = sim_snapshot_mount_ro,
  .branch_create = sim_branch_create,
  .branch_delete = sim_branch_delete,
  .branch_parent = sim_branch_parent,
  .power_loss = sim_power_loss,
  .check = sim_check,
  .clock_ns = sim_clock,
  .chown = sim_chown,
};

bool bs_sim_is_sim(const bs_store *st) { return st && st->ops == &bs__sim_ops; }

int bs_sim_set_bug(bs_store *st, bs_sim_bug bug) {
  if (!bs_sim_is_sim(st))
    return BS_EINVALID;
  if (bug != BS_SIM_BUG_NONE && bug != BS_SIM_BUG_COW_IN_PLACE && bug != BS_SIM_BUG_LEAK_BLOCK)
    return bs_store_fail(st, BS_EINVALID, 0, "sim: unknown bug %d", (int)bug);
  bs__sim_cast(st)->bug = bug;
  return BS_OK;
}

int bs_sim_bug_from_name(const char *name, bs_sim_bug *out) {
  static const struct {
    const char *name;
    bs_sim_bug bug;
  } bugs[] = {{"none", BS_SIM_BUG_NONE}, {"cow-in-place", BS_SIM_BUG_COW_IN_PLACE},
              {"leak-block", BS_SIM_BUG_LEAK_BLOCK}};
  if (!name || !out)
    return BS_EINVALID;
  for (size_t i = 0; i < sizeof(bugs) / sizeof(bugs[0]); i++)
    if (strcmp(name, bugs[i].name) == 0) {
      *out = bugs[i].bug;
      return BS_OK;
    }
  return BS_EINVALID;
}
