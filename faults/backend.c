/* The "faults:<inner>" wrapping backend (STYLE 4, SQLite test_vfs.c style).
 *
 * Every method is forwarded to the inner store through the public bs_*
 * functions.  Before forwarding, the method's own point "bs/op/<method>" is
 * counted: if it fires, the call fails with the scheduled error and the
 * inner store is not called at all, so nothing can be half done.  While the
 * inner store runs, this store's schedule is the one the lower points
 * (bs/sim/..., bs/real/...) consult; an inner operation failed there must
 * itself be all or nothing (the sim's ops are; real/ cleans up a failed
 * clone's destination).  The lab hooks (power_loss, check, clock_ns) are
 * forwarded with no point armed: they observe the store. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "faults/faults_internal.h"

typedef struct fstore {
  struct bs_store base; /* first: bs_store * casts to this */
  bs_store *inner;
  bs__fault_sched *sched;
  bool armed;           /* holds the process's libfiu slot */
  /* The schedule counts every call: calls that the core lets run at once
   * (it holds the store's lock shared for file calls) take turns here. */
  pthread_mutex_t mu;
} fstore;

extern const bs_backend_ops bs__faults_ops;

static fstore *cast(bs_store *st) { return (fstore *)st; }

static void faults_close(bs_store *st) {
  fstore *f = cast(st);
  if (f->armed)
    bs__fault_disarm(f->sched);
  bs_close(f->inner);
  bs__fault_sched_free(f->sched);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

static int faults_open(bs_store **out, const bs_open_opts *opts, const char *inner) {
  *out = NULL;
  if (!inner || !*inner)
    return BS_EINVALID; /* "faults" alone: the inner backend must be named */
  bs_fault_spec *spec = NULL;
  int rc = bs_fault_spec_parse(&spec, opts->faults ? opts->faults : "", NULL, 0);
  if (rc != 0)
    return rc;
  fstore *f = calloc(1, sizeof(*f));
  if (!f) {
    bs_fault_spec_free(spec);
    return BS_ENO_MEMORY;
  }
  f->base.ops = &bs__faults_ops;
  pthread_mutex_init(&f->mu, NULL);
  rc = bs__fault_sched_new(&f->sched, spec, opts->seed);
  bs_fault_spec_free(spec);
  if (rc != 0)
    goto fail;
  if (bs__fault_sched_has_lower(f->sched)) {
    rc = bs__fault_arm(f->sched);
    if (rc != 0)
      goto fail;
    f->armed = true;
  }
  /* The spec is this store's; an inner "faults" would need its own. */
  bs_open_opts in = *opts;
  in.faults = NULL;
  rc = bs_open(&f->inner, inner, &in);
  if (rc != 0)
    goto fail;
  *out = &f->base;
  return BS_OK;
fail:
  faults_close(&f->base);
  return rc;
}

/* Store creation has no store, hence no schedule yet: forwarded as it is. */
static int faults_create_store(const bs_open_opts *opts, const char *inner) {
  if (!inner || !*inner)
    return BS_EINVALID;
  bs_open_opts in = *opts;
  in.faults = NULL;
  return bs_store_create(inner, &in);
}

/* Fail at "bs/op/<m>" if scheduled; else run @call with the lower points
 * armed for this thread, and carry the inner store's failure up. */
#define FORWARD(op, call)                                                                   \
  do {                                                                                      \
    fstore *f_ = cast(st);                                                                  \
    uint64_t n_ = 0;                                                                        \
    pthread_mutex_lock(&f_->mu);                                                            \
    int rc_ = bs__fault_sched_call(f_->sched, BS__FP_OP_##op, &n_);                         \
    if (rc_ != 0) {                                                                         \
      pthread_mutex_unlock(&f_->mu);                                                        \
      return bs_store_fail(st, rc_, 0, "bs/op/" #op ": injected fault (call %llu): %s",     \
                           (unsigned long long)n_, bs_strerror(rc_));                       \
    }                                                                                       \
    /* Only the armed store changes the thread's schedule, so an unarmed     \
     * wrapper inside or around it leaves the armed one in force. */         \
    bs__fault_sched *prev_ = f_->armed ? bs__fault_enter(f_->sched) : NULL;                 \
    rc_ = (call);                                                                           \
    if (f_->armed)                                                                          \
      bs__fault_enter(prev_);                                                               \
    pthread_mutex_unlock(&f_->mu);                                                          \
    return carry(f_, rc_);                                                                  \
  } while (0)

/* The inner store's failure (this thread's) becomes this store's. */
static int carry(fstore *f, int rc) {
  if (rc != 0)
    bs_store_fail(&f->base, rc, bs_last_os_errno(f->inner), "%s", bs_last_message(f->inner));
  return rc;
}

#define IN cast(st)->inner

static int f_caps(bs_store *st, bs_caps *out) { FORWARD(caps, bs_get_caps(IN, out)); }
static int f_probe(bs_store *st, const char *path, bs_fs_type *out) {
  FORWARD(probe_fs_type, bs_probe_fs_type(IN, path, out));
}
static int f_reflink(bs_store *st, const char *src, const char *dst) {
  FORWARD(reflink, bs_reflink(IN, src, dst));
}
static int f_usage(bs_store *st, bs_usage *out) { FORWARD(usage, bs_usage_get(IN, out)); }
static int f_create(bs_store *st, const char *path, uint32_t mode) {
  FORWARD(create, bs_create(IN, path, mode));
}
static int f_mkdir(bs_store *st, const char *path, uint32_t mode) { FORWARD(mkdir, bs_mkdir(IN, path, mode)); }
static int f_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len) {
  FORWARD(write, bs_write(IN, path, off, buf, len));
}
static int f_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  FORWARD(read, bs_read(IN, path, off, buf, len, nread));
}
static int f_truncate(bs_store *st, const char *path, uint64_t size) {
  FORWARD(truncate, bs_truncate(IN, path, size));
}
static int f_unlink(bs_store *st, const char *path) { FORWARD(unlink, bs_unlink(IN, path)); }
static int f_rmdir(bs_store *st, const char *path) { FORWARD(rmdir, bs_rmdir(IN, path)); }
static int f_rename(bs_store *st, const char *from, const char *to) {
  FORWARD(rename, bs_rename(IN, from, to));
}
static int f_stat(bs_store *st, const char *path, bs_stat_info *out) { FORWARD(stat, bs_stat(IN, path, out)); }
static int f_chmod(bs_store *st, const char *path, uint32_t mode) { FORWARD(chmod, bs_chmod(IN, path, mode)); }
static int f_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid) {
  FORWARD(chown, bs_chown(IN, path, uid, gid));
}
static int f_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  FORWARD(utimens, bs_utimens(IN, path, atime_ns, mtime_ns));
}
static int f_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx) {
  FORWARD(readdir, bs_readdir(IN, path, cb, ctx));
}
static int f_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len) {
  FORWARD(setxattr, bs_setxattr(IN, path, name, value, len));
}
static int f_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  FORWARD(getxattr, bs_getxattr(IN, path, name, buf, cap, len));
}
static int f_removexattr(bs_store *st, const char *path, const char *name) {
  FORWARD(removexattr, bs_removexattr(IN, path, name));
}
static int f_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx) {
  FORWARD(listxattr, bs_listxattr(IN, path, cb, ctx));
}
static int f_sync(bs_store *st, const char *path) { FORWARD(sync, bs_sync(IN, path)); }
static int f_snapshot_create(bs_store *st, const char *name, bs_snapshot_info *out) {
  FORWARD(snapshot_create, bs_snapshot_create(IN, name, out));
}
static int f_snapshot_list(bs_store *st, bs_snapshot_info **out, size_t *count) {
  FORWARD(snapshot_list, bs_snapshot_list(IN, out, count));
}
static int f_snapshot_delete(bs_store *st, uint64_t id) { FORWARD(snapshot_delete, bs_snapshot_delete(IN, id)); }
static int f_snapshot_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap) {
  FORWARD(snapshot_mount_ro, bs_snapshot_mount_ro(IN, id, path, cap));
}
static int f_branch_create(bs_store *st, uint64_t snapshot_id, const char *name) {
  FORWARD(branch_create, bs_branch_create(IN, snapshot_id, name));
}
static int f_branch_delete(bs_store *st, const char *name) { FORWARD(branch_delete, bs_branch_delete(IN, name)); }
static int f_branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id) {
  FORWARD(branch_parent, bs_branch_parent(IN, name, snapshot_id));
}

/* Lab hooks: forwarded as they are. */
static int f_power_loss(bs_store *st, bs_power_loss_mode mode) {
  return carry(cast(st), bs_power_loss(IN, mode));
}
static int f_check(bs_store *st) { return carry(cast(st), bs_check(IN)); }
static int f_clock(bs_store *st, int64_t *out) { return carry(cast(st), bs_clock_ns(IN, out)); }

const bs_backend_ops bs__faults_ops = {
  .version = BS_BACKEND_OPS_VERSION,
  .name = "faults",
  .open = faults_open,
  .close = faults_close,
  .caps = f_caps,
  .probe_fs_type = f_probe,
  .reflink = f_reflink,
  .usage = f_usage,
  .create = f_create,
  .mkdir = f_mkdir,
  .write = f_write,
  .read = f_read,
  .truncate = f_truncate,
  .unlink = f_unlink,
  .rmdir = f_rmdir,
  .rename = f_rename,
  .stat = f_stat,
  .chmod = f_chmod,
  .utimens = f_utimens,
  .readdir = f_readdir,
  .setxattr = f_setxattr,
  .getxattr = f_getxattr,
  .removexattr = f_removexattr,
  .listxattr = f_listxattr,
  .sync = f_sync,
  .snapshot_create = f_snapshot_create,
  .snapshot_list = f_snapshot_list,
  .snapshot_delete = f_snapshot_delete,
  .snapshot_mount_ro = f_snapshot_mount_ro,
  .branch_create = f_branch_create,
  .branch_delete = f_branch_delete,
  .power_loss = f_power_loss,
  .check = f_check,
  .clock_ns = f_clock,
  .chown = f_chown,
  .branch_parent = f_branch_parent,
  .create_store = faults_create_store,
};

static bs__fault_sched *sched_of(bs_store *st) {
  return st && st->ops == &bs__faults_ops ? cast(st)->sched : NULL;
}

/* The schedule is changed by calls on the store, under its mutex. */
int bs_faults_drain(bs_store *st, bs_fault_event *out, size_t cap, size_t *n) {
  bs__fault_sched *s = sched_of(st);
  if (!s || (!out && cap) || !n)
    return BS_EINVALID;
  pthread_mutex_lock(&cast(st)->mu);
  int rc = bs__fault_sched_drain(s, out, cap, n);
  pthread_mutex_unlock(&cast(st)->mu);
  return rc;
}

int bs_faults_fired(bs_store *st, uint64_t *count) {
  bs__fault_sched *s = sched_of(st);
  if (!s || !count)
    return BS_EINVALID;
  pthread_mutex_lock(&cast(st)->mu);
  *count = bs__fault_sched_fired(s);
  pthread_mutex_unlock(&cast(st)->mu);
  return BS_OK;
}
