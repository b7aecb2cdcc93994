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
  bool borrowed;        /* bs_faults_wrap(): the inner store is the caller's to close */
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
  if (!f->borrowed)
    bs_close(f->inner);
  bs__fault_sched_free(f->sched);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

/* A faults store with the schedule of @text and @seed, no inner store yet. */
static int faults_new(fstore **out, const char *text, uint64_t seed) {
  *out = NULL;
  bs_fault_spec *spec = NULL;
  int rc = bs_fault_spec_parse(&spec, text ? text : "", NULL, 0);
  if (rc != 0)
    return rc;
  fstore *f = calloc(1, sizeof(*f));
  if (!f) {
    bs_fault_spec_free(spec);
    return BS_ENO_MEMORY;
  }
  f->base.ops = &bs__faults_ops;
  pthread_mutex_init(&f->mu, NULL);
  rc = bs__fault_sched_new(&f->sched, spec, seed);
  bs_fault_spec_free(spec);
  if (rc == 0 && bs__fault_sched_has_lower(f->sched)) {
    rc = bs__fault_arm(f->sched);
    f->armed = rc == 0;
  }
  if (rc != 0) {
    f->borrowed = true; /* no inner store to close */
    faults_close(&f->base);
    return rc;
  }
  *out = f;
  return BS_OK;
}

static int faults_open(bs_store **out, const bs_open_opts *opts, const char *inner) {
  *out = NULL;
  if (!inner || !*inner)
    return BS_EINVALID; /* "faults" alone: the inner backend must be named */
  fstore *f = NULL;
  int rc = faults_new(&f, opts->faults, opts->seed);
  if (rc != 0)
    return rc;
  /* The spec is this store's; an inner "faults" would need its own. */
  bs_open_opts in = *opts;
  in.faults = NULL;
  rc = bs_open(&f->inner, inner, &in);
  if (rc != 0) {
    faults_close(&f->base);
    return rc;
  }
  *out = &f->base;
  return BS_OK;
}

int bs_faults_wrap(bs_store **out, bs_store *inner, const char *spec, uint64_t seed) {
  if (!out)
    return BS_EINVALID;
  *out = NULL;
  if (!inner)
    return BS_EINVALID;
  fstore *f = NULL;
  int rc = faults_new(&f, spec, seed);
  if (rc != 0)
    return rc;
  f->inner = inner;
  f->borrowed = true;
  bs_store_init(&f->base, &bs__faults_ops);
  *out = &f->base;
  return BS_OK;
}

/* Store creation has no store, hence no schedule yet: forwarded as it is. */
static int faults_create_store(const bs_open_opts *opts, const char *inner) {
  if (!inner || !*inner)
    return BS_EINVALID;
  bs_open_opts in = *opts;
  in.faults = NULL;
  return bs_store_create(inner, &in);
}

/* The inner store's failure (this thread's) becomes this store's. */
static int carry(fstore *f, int rc) {
  if (rc != 0)
    bs_store_fail(&f->base, rc, bs_last_os_errno(f->inner), "%s", bs_last_message(f->inner));
  return rc;
}

/* One forwarded call, from begin_call to end_call: the wrapper, its inner
 * store, and the thread's schedule to put back after the inner store ran. */
typedef struct fwd {
  fstore *f;
  bs_store *inner;
  bs__fault_sched *prev;
} fwd;

/* Count a call of method point @op ("bs/op/<method>"): its scheduled error,
 * with the message, or 0 with this store's schedule made the one the lower
 * points consult on this thread until end_call.  The schedule counts every
 * call, so calls the core runs at once take turns (the store's mutex, held
 * from here to end_call). */
static int begin_call(bs_store *st, size_t op, fwd *c) {
  c->f = cast(st);
  c->inner = c->f->inner;
  c->prev = NULL;
  uint64_t n = 0;
  pthread_mutex_lock(&c->f->mu); /* until end_call */
  int rc = bs__fault_sched_call(c->f->sched, op, &n);
  if (rc != 0) {
    pthread_mutex_unlock(&c->f->mu);
    const bs_fault_point_info *cat = NULL;
    bs_fault_catalogue(&cat);
    return bs_store_fail(st, rc, 0, "%s: injected fault (call %llu): %s", cat[op].name, (unsigned long long)n,
                         bs_strerror(rc));
  }
  /* Only the armed store changes the thread's schedule, so an unarmed
   * wrapper inside or around it leaves the armed one in force. */
  if (c->f->armed)
    c->prev = bs__fault_enter(c->f->sched);
  return 0;
}

/* The inner store answered @rc: the thread's schedule back, a failure's
 * errno and message carried up. */
static int end_call(const fwd *c, int rc) {
  if (c->f->armed)
    bs__fault_enter(c->prev);
  pthread_mutex_unlock(&c->f->mu);
  return carry(c->f, rc);
}

static bs_store *inner_of(bs_store *st) { return cast(st)->inner; }

static int f_caps(bs_store *st, bs_caps *out) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_caps, &c);
  return rc != 0 ? rc : end_call(&c, bs_get_caps(c.inner, out));
}
static int f_probe(bs_store *st, const char *path, bs_fs_type *out) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_probe_fs_type, &c);
  return rc != 0 ? rc : end_call(&c, bs_probe_fs_type(c.inner, path, out));
}
static int f_reflink(bs_store *st, const char *src, const char *dst) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_reflink, &c);
  return rc != 0 ? rc : end_call(&c, bs_reflink(c.inner, src, dst));
}
static int f_usage(bs_store *st, bs_usage *out) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_usage, &c);
  return rc != 0 ? rc : end_call(&c, bs_usage_get(c.inner, out));
}
static int f_create(bs_store *st, const char *path, uint32_t mode) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_create, &c);
  return rc != 0 ? rc : end_call(&c, bs_create(c.inner, path, mode));
}
static int f_mkdir(bs_store *st, const char *path, uint32_t mode) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_mkdir, &c);
  return rc != 0 ? rc : end_call(&c, bs_mkdir(c.inner, path, mode));
}
static int f_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_write, &c);
  return rc != 0 ? rc : end_call(&c, bs_write(c.inner, path, off, buf, len));
}
static int f_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_read, &c);
  return rc != 0 ? rc : end_call(&c, bs_read(c.inner, path, off, buf, len, nread));
}
static int f_truncate(bs_store *st, const char *path, uint64_t size) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_truncate, &c);
  return rc != 0 ? rc : end_call(&c, bs_truncate(c.inner, path, size));
}
static int f_unlink(bs_store *st, const char *path) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_unlink, &c);
  return rc != 0 ? rc : end_call(&c, bs_unlink(c.inner, path));
}
static int f_rmdir(bs_store *st, const char *path) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_rmdir, &c);
  return rc != 0 ? rc : end_call(&c, bs_rmdir(c.inner, path));
}
static int f_rename(bs_store *st, const char *from, const char *to) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_rename, &c);
  return rc != 0 ? rc : end_call(&c, bs_rename(c.inner, from, to));
}
static int f_symlink(bs_store *st, const char *target, const char *path) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_symlink, &c);
  return rc != 0 ? rc : end_call(&c, bs_symlink(c.inner, target, path));
}
static int f_readlink(bs_store *st, const char *path, char *buf, size_t cap, size_t *len) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_readlink, &c);
  return rc != 0 ? rc : end_call(&c, bs_readlink(c.inner, path, buf, cap, len));
}
static int f_link(bs_store *st, const char *from, const char *to) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_link, &c);
  return rc != 0 ? rc : end_call(&c, bs_link(c.inner, from, to));
}
static int f_stat(bs_store *st, const char *path, bs_stat_info *out) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_stat, &c);
  return rc != 0 ? rc : end_call(&c, bs_stat(c.inner, path, out));
}
static int f_chmod(bs_store *st, const char *path, uint32_t mode) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_chmod, &c);
  return rc != 0 ? rc : end_call(&c, bs_chmod(c.inner, path, mode));
}
static int f_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_chown, &c);
  return rc != 0 ? rc : end_call(&c, bs_chown(c.inner, path, uid, gid));
}
static int f_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_utimens, &c);
  return rc != 0 ? rc : end_call(&c, bs_utimens(c.inner, path, atime_ns, mtime_ns));
}
static int f_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_readdir, &c);
  return rc != 0 ? rc : end_call(&c, bs_readdir(c.inner, path, cb, ctx));
}
static int f_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_setxattr, &c);
  return rc != 0 ? rc : end_call(&c, bs_setxattr(c.inner, path, name, value, len));
}
static int f_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_getxattr, &c);
  return rc != 0 ? rc : end_call(&c, bs_getxattr(c.inner, path, name, buf, cap, len));
}
static int f_removexattr(bs_store *st, const char *path, const char *name) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_removexattr, &c);
  return rc != 0 ? rc : end_call(&c, bs_removexattr(c.inner, path, name));
}
static int f_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_listxattr, &c);
  return rc != 0 ? rc : end_call(&c, bs_listxattr(c.inner, path, cb, ctx));
}
static int f_sync(bs_store *st, const char *path) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_sync, &c);
  return rc != 0 ? rc : end_call(&c, bs_sync(c.inner, path));
}
static int f_snapshot_create(bs_store *st, const char *name, bs_snapshot_info *out) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_snapshot_create, &c);
  return rc != 0 ? rc : end_call(&c, bs_snapshot_create(c.inner, name, out));
}
static int f_snapshot_list(bs_store *st, bs_snapshot_info **out, size_t *count) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_snapshot_list, &c);
  return rc != 0 ? rc : end_call(&c, bs_snapshot_list(c.inner, out, count));
}
static int f_snapshot_delete(bs_store *st, uint64_t id) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_snapshot_delete, &c);
  return rc != 0 ? rc : end_call(&c, bs_snapshot_delete(c.inner, id));
}
static int f_snapshot_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_snapshot_mount_ro, &c);
  return rc != 0 ? rc : end_call(&c, bs_snapshot_mount_ro(c.inner, id, path, cap));
}
static int f_branch_create(bs_store *st, uint64_t snapshot_id, const char *name) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_branch_create, &c);
  return rc != 0 ? rc : end_call(&c, bs_branch_create(c.inner, snapshot_id, name));
}
static int f_branch_delete(bs_store *st, const char *name) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_branch_delete, &c);
  return rc != 0 ? rc : end_call(&c, bs_branch_delete(c.inner, name));
}
static int f_branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id) {
  fwd c;
  int rc = begin_call(st, BS__FP_OP_branch_parent, &c);
  return rc != 0 ? rc : end_call(&c, bs_branch_parent(c.inner, name, snapshot_id));
}

/* Lab hooks: forwarded as they are. */
static int f_power_loss(bs_store *st, bs_power_loss_mode mode) {
  return carry(cast(st), bs_power_loss(inner_of(st), mode));
}
static int f_check(bs_store *st) { return carry(cast(st), bs_check(inner_of(st))); }
static int f_clock(bs_store *st, int64_t *out) { return carry(cast(st), bs_clock_ns(inner_of(st), out)); }

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
  .symlink = f_symlink,
  .readlink = f_readlink,
  .link = f_link,
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
