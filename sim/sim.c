/* The "sim" backend: the ops table, store lifecycle and the sim-only extras
 * (deliberate bugs).  A primitive backend (backstore/backend.h): the core
 * owns the store's rules.  Every public call advances the virtual clock once,
 * after it ran, by the profile's latency for its class (op_done, which the
 * core calls at the end of each); file times use the clock value at the
 * start of the call.  Pure observations (caps, probe_fs_type, usage,
 * clock_ns, check) and power_loss do not advance the clock, so a checker
 * that looks more often does not change what it looks at.  Every method
 * holds the store's mutex: the core runs file calls at once. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"
#include "src/snapshot.h"

bs__sim_store *bs__sim_cast(bs_store *st) { return (bs__sim_store *)st; }

void bs__sim_tree_free(bs__sim_store *s, bs__sim_tree *t, bool release) {
  if (!t)
    return;
  bs__sim_inode_free(s, t->root, release);
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
  free(s->reg);
  free(s->rname);
  bs__sim_blocks_free(&s->blk);
  free(s->scratch);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int bs__sim_store_new(bs__sim_store **out, const bs__sim_profile *prof, uint64_t nblocks, uint64_t seed) {
  *out = NULL;
  bs__sim_store *s = bs__sim_calloc(1, sizeof(*s));
  if (!s)
    return BS_ENO_MEMORY;
  s->base.ops = &bs__sim_ops;
  pthread_mutex_init(&s->mu, NULL);
  s->prof = prof;
  int rc = bs_caps_for_type(&s->caps, prof->type);
  if (rc == 0)
    rc = bs__sim_blocks_init(&s->blk, nblocks);
  if (rc != 0) {
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
  }
  s->clock_ns = BS__SIM_EPOCH_NS;
  uint64_t sm = seed;
  bs__rng_seed(&s->rng, bs__splitmix64(&sm));
  bs__rng_seed(&s->lat_rng, bs__splitmix64(&sm));
  s->scratch = bs__sim_calloc((size_t)nblocks, sizeof(*s->scratch));
  s->main.root = bs__sim_inode_new(s, BS_KIND_DIR, 0755, s->clock_ns);
  if (!s->scratch || !s->main.root) {
    bs__sim_store_free(s);
    return BS_ENO_MEMORY;
  }
  s->main.root->ino = BS__SIM_ROOT_INO;
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

/* Every method: the store's state under its mutex. */
static bs__sim_store *take(bs_store *st) {
  bs__sim_store *s = bs__sim_cast(st);
  pthread_mutex_lock(&s->mu);
  return s;
}

static int give(bs__sim_store *s, int rc) {
  pthread_mutex_unlock(&s->mu);
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
  bs__sim_store *s = take(st);
  const bs__sim_blocks *b = &s->blk;
  out->block_size = BS__SIM_B;
  out->total_bytes = b->n * BS__SIM_B;
  out->used_bytes = b->used * BS__SIM_B;
  out->free_bytes = (b->n - b->used) * BS__SIM_B;
  out->shared_bytes = b->shared * BS__SIM_B;
  return give(s, BS_OK);
}

static int sim_reflink(bs_store *st, const char *src, const char *dst) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_reflink(s, src, dst));
}

static int sim_create(bs_store *st, const char *path, uint32_t mode) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_create(s, path, mode));
}

static int sim_mkdir(bs_store *st, const char *path, uint32_t mode) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_mkdir(s, path, mode));
}

static int sim_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_write(s, path, off, buf, len));
}

static int sim_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_read(s, path, off, buf, len, nread));
}

static int sim_truncate(bs_store *st, const char *path, uint64_t size) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_truncate(s, path, size));
}

static int sim_unlink(bs_store *st, const char *path) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_unlink(s, path));
}

static int sim_rmdir(bs_store *st, const char *path) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_rmdir(s, path));
}

static int sim_rename(bs_store *st, const char *from, const char *to) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_rename(s, from, to));
}

static int sim_symlink(bs_store *st, const char *target, const char *path) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_symlink(s, target, path));
}

static int sim_readlink(bs_store *st, const char *path, char *buf, size_t cap, size_t *len) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_readlink(s, path, buf, cap, len));
}

static int sim_link(bs_store *st, const char *from, const char *to) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_link(s, from, to));
}

static int sim_stat(bs_store *st, const char *path, bs_stat_info *out) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_stat(s, path, out));
}

static int sim_chmod(bs_store *st, const char *path, uint32_t mode) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_chmod(s, path, mode));
}

static int sim_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_chown(s, path, uid, gid));
}

static int sim_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_utimens(s, path, atime_ns, mtime_ns));
}

static int sim_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_readdir(s, path, cb, ctx));
}

static int sim_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_setxattr(s, path, name, value, len));
}

static int sim_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_getxattr(s, path, name, buf, cap, len));
}

static int sim_removexattr(bs_store *st, const char *path, const char *name) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_removexattr(s, path, name));
}

static int sim_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_listxattr(s, path, cb, ctx));
}

static int sim_sync(bs_store *st, const char *path) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_sync(s, path));
}

/* ---- the tree and registry primitives (sim/snap.c) ---------------------- */

static int sim_tree_method(bs_store *st, bs_tree_method *out) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_tree_method(s, out));
}

static int sim_tree_create(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id, uint64_t src_snapshot,
                           uint8_t uuid[16]) {
  (void)m; /* always native */
  bs__sim_store *s = take(st);
  return give(s, bs__sim_tree_create(s, kind, id, src_snapshot, uuid));
}

static int sim_tree_freeze(bs_store *st, bs_tree_method m, uint64_t id, const char *src, uint8_t uuid[16]) {
  (void)m; /* always native: the same copy of inodes over shared extents */
  bs__sim_store *s = take(st);
  return give(s, bs__sim_tree_freeze(s, id, src, uuid));
}

static int sim_tree_may_delete(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id) {
  (void)m;
  bs__sim_store *s = take(st);
  return give(s, bs__sim_tree_may_delete(s, kind, id));
}

static int sim_tree_delete(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id) {
  (void)m;
  bs__sim_store *s = take(st);
  return give(s, bs__sim_tree_delete(s, kind, id));
}

static int sim_tree_list(bs_store *st, bs_tree_kind kind, int (*cb)(void *ctx, uint64_t id), void *ctx) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_tree_list(s, kind, cb, ctx));
}

/* The registry is one value of the store: the core's exclusive lock on the
 * store orders its changes, so there is nothing to lock here. */
struct bs_registry {
  int unused;
};
static struct bs_registry sim_registry;

static int sim_registry_open(bs_store *st, bool change, bs_registry **out, uint8_t **buf, size_t *len) {
  (void)change;
  *out = &sim_registry;
  bs__sim_store *s = take(st);
  return give(s, bs__sim_registry_open(s, buf, len));
}

static int sim_registry_save(bs_store *st, bs_registry *r, const uint8_t *buf, size_t len, bool *landed) {
  (void)r;
  *landed = false;
  bs__sim_store *s = take(st);
  return give(s, bs__sim_registry_save(s, buf, len));
}

static void sim_registry_close(bs_store *st, bs_registry *r, bool failed) {
  (void)st;
  (void)r;
  (void)failed;
}

/* One public call ended: the clock advances by its latency. */
static void sim_op_done(bs_store *st, bs_op_class cls) {
  bs__sim_store *s = take(st);
  if (!s->clock_held)
    bs__sim_tick(s, (bs__sim_op_class)cls, s->op_bytes);
  s->op_bytes = 0;
  give(s, 0);
}

static int sim_power_loss(bs_store *st, bs_power_loss_mode mode) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_power_loss(s, mode));
}

static int sim_check(bs_store *st) {
  bs__sim_store *s = take(st);
  return give(s, bs__sim_check(s));
}

static int sim_clock(bs_store *st, int64_t *out) {
  bs__sim_store *s = take(st);
  *out = s->clock_ns;
  return give(s, BS_OK);
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
  .power_loss = sim_power_loss,
  .check = sim_check,
  .clock_ns = sim_clock,
  .chown = sim_chown,
  .tree_method = sim_tree_method,
  .tree_create = sim_tree_create,
  .tree_may_delete = sim_tree_may_delete,
  .tree_delete = sim_tree_delete,
  .tree_list = sim_tree_list,
  .registry_open = sim_registry_open,
  .registry_save = sim_registry_save,
  .registry_close = sim_registry_close,
  .op_done = sim_op_done,
  .symlink = sim_symlink,
  .readlink = sim_readlink,
  .link = sim_link,
  .tree_freeze = sim_tree_freeze,
};

bool bs_sim_is_sim(const bs_store *st) { return st && st->ops == &bs__sim_ops; }

int bs_sim_check_incremental(bs_store *st) {
  if (!bs_sim_is_sim(st))
    return BS_EINVALID;
  bs__sim_store *s = take(st);
  return give(s, bs__sim_check_incremental(s));
}

int bs_sim_clock_hold(bs_store *st, bool hold) {
  if (!bs_sim_is_sim(st))
    return BS_EINVALID;
  bs__sim_store *s = take(st);
  s->clock_held = hold;
  return give(s, 0);
}

int bs_sim_clock_charge(bs_store *st, bs_op_class cls, uint64_t bytes) {
  if (!bs_sim_is_sim(st) || (unsigned)cls > BS_OPC_SNAPSHOT)
    return BS_EINVALID;
  bs__sim_store *s = take(st);
  bs__sim_tick(s, (bs__sim_op_class)cls, bytes);
  return give(s, 0);
}

int bs_sim_set_bug(bs_store *st, bs_sim_bug bug) {
  if (!bs_sim_is_sim(st))
    return BS_EINVALID;
  if (bug != BS_SIM_BUG_NONE && bug != BS_SIM_BUG_COW_IN_PLACE && bug != BS_SIM_BUG_LEAK_BLOCK &&
      bug != BS_SIM_BUG_COPY_UP_ORDER && bug != BS_SIM_BUG_STRAY_WRITE)
    return bs_store_fail(st, BS_EINVALID, 0, "sim: unknown bug %d", (int)bug);
  /* The copy-up order is the core's (src/overlay.c), over this store. */
  bs__ov_policy *pol = bs__core_ov_policy(st);
  if (pol)
    pol->bug_copy_up_order = bug == BS_SIM_BUG_COPY_UP_ORDER;
  bs__sim_cast(st)->bug = bug == BS_SIM_BUG_COPY_UP_ORDER ? BS_SIM_BUG_NONE : bug;
  return BS_OK;
}

int bs_sim_set_trees(bs_store *st, bool on) {
  if (!bs_sim_is_sim(st))
    return BS_EINVALID;
  bs__sim_cast(st)->trees = on;
  return BS_OK;
}

int bs_sim_bug_from_name(const char *name, bs_sim_bug *out) {
  static const struct {
    const char *name;
    bs_sim_bug bug;
  } bugs[] = {{"none", BS_SIM_BUG_NONE}, {"cow-in-place", BS_SIM_BUG_COW_IN_PLACE},
              {"leak-block", BS_SIM_BUG_LEAK_BLOCK}, {"copy-up-order", BS_SIM_BUG_COPY_UP_ORDER},
              {"stray-write", BS_SIM_BUG_STRAY_WRITE}};
  if (!name || !out)
    return BS_EINVALID;
  for (size_t i = 0; i < sizeof(bugs) / sizeof(bugs[0]); i++)
    if (strcmp(name, bugs[i].name) == 0) {
      *out = bugs[i].bug;
      return BS_OK;
    }
  return BS_EINVALID;
}
