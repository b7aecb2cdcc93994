/* The backend registry, the life of a store, its lock, and the calls that
 * only look at the volume (caps, probe, usage, clock, check, power loss).
 * The file calls are in src/fileops.c, the snapshot and branch calls in
 * src/snapapi.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "src/snapshot.h"
#include "src/store_internal.h"

extern const bs_backend_ops bs__sim_ops;
extern const bs_backend_ops bs__real_ops;   /* real/linux.c or real/darwin_libc.c */
extern const bs_backend_ops bs__faults_ops; /* faults/backend.c */

/* ---- the backend registry ----------------------------------------------------- */

/* Built-in backends are always found; bs_backend_register() adds to the
 * rest, under the mutex (a store may be opened on another thread meanwhile). */
static const bs_backend_ops *const builtin[] = {&bs__sim_ops, &bs__real_ops, &bs__faults_ops};
#define MAX_REGISTERED 16
static const bs_backend_ops *registered[MAX_REGISTERED];
static int n_registered;
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;

static bool named(const bs_backend_ops *o, const char *name, size_t len) {
  return strlen(o->name) == len && strncmp(o->name, name, len) == 0;
}

const bs_backend_ops *bs_backend_find(const char *name) {
  if (!name)
    return NULL;
  size_t len = strcspn(name, ":");
  for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
    if (named(builtin[i], name, len))
      return builtin[i];
  const bs_backend_ops *found = NULL;
  pthread_mutex_lock(&registry_mu);
  for (int i = 0; i < n_registered && !found; i++)
    if (named(registered[i], name, len))
      found = registered[i];
  pthread_mutex_unlock(&registry_mu);
  return found;
}

int bs_backend_register(const bs_backend_ops *ops) {
  if (!ops || ops->version < 1 || !ops->name || !*ops->name || strchr(ops->name, ':') || !ops->open ||
      !ops->close)
    return BS_EINVALID;
  int rc = BS_OK;
  pthread_mutex_lock(&registry_mu);
  bool taken = false;
  for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
    taken |= named(builtin[i], ops->name, strlen(ops->name));
  for (int i = 0; i < n_registered; i++)
    taken |= named(registered[i], ops->name, strlen(ops->name));
  if (taken)
    rc = BS_EEXISTS;
  else if (n_registered == MAX_REGISTERED)
    rc = BS_ENO_MEMORY;
  else
    registered[n_registered++] = ops;
  pthread_mutex_unlock(&registry_mu);
  return rc;
}

/* ---- the life of a store ------------------------------------------------------ */

void bs_store_init(bs_store *st, const bs_backend_ops *ops) {
  if (!st->ops)
    st->ops = ops;
  pthread_rwlock_init(&st->lock, NULL);
  st->serial = bs__store_serial_next();
  /* Without its state the core still works: it decodes the registry at
   * every use instead of keeping it. */
  st->core = bs__core_new();
}

int bs_open(bs_store **out, const char *backend, const bs_open_opts *opts) {
  if (!out)
    return BS_EINVALID;
  *out = NULL;
  const bs_backend_ops *ops = bs_backend_find(backend);
  if (!ops)
    return BS_ENOT_FOUND;
  bs_open_opts none = {0}, on_ram;
  bs_ramdisk *rd = NULL;
  if (opts && opts->ramdisk) { /* the RAM-disk mode: a new RAM disk, the store at its mount */
    if (strcmp(backend, "real") != 0 || opts->root)
      return BS_EINVALID;
    int rc = bs_ramdisk_create(&rd, opts->ramdisk);
    if (rc != 0)
      return rc;
    on_ram = *opts;
    on_ram.root = bs_ramdisk_info_of(rd)->mount;
    opts = &on_ram;
  }
  const char *colon = strchr(backend, ':');
  bs_store *st = NULL;
  int rc = ops->open(&st, opts ? opts : &none, colon ? colon + 1 : NULL);
  if (rc != 0) {
    bs_ramdisk_free(rd);
    return rc;
  }
  bs_store_init(st, ops);
  st->ramdisk = rd;
  *out = st;
  return BS_OK;
}

int bs_store_create(const char *backend, const bs_open_opts *opts) {
  const bs_backend_ops *ops = bs_backend_find(backend);
  if (!ops)
    return BS_ENOT_FOUND;
  if (!opts || !opts->root || !*opts->root)
    return BS_EINVALID;
  if (!BS__HAS(ops, 2, create_store))
    return BS_EUNSUPPORTED;
  const char *colon = strchr(backend, ':');
  return ops->create_store(opts, colon ? colon + 1 : NULL);
}

void bs_close(bs_store *st) {
  if (!st)
    return;
  bs__core_free(st->core);
  pthread_rwlock_destroy(&st->lock);
  bs_ramdisk *rd = st->ramdisk;
  st->ops->close(st);
  bs_ramdisk_free(rd); /* after the store let go of every file on it */
}

/* ---- the lock ------------------------------------------------------------------ */

/* The stores this thread holds exclusively (nested calls of bs_replace()). */
#define HELD_MAX 8
static _Thread_local bs_store *held[HELD_MAX];
static _Thread_local int nheld;

bool bs__store_enter(bs_store *st, bool exclusive) {
  for (int i = 0; i < nheld; i++)
    if (held[i] == st)
      return false;
  if (exclusive) {
    pthread_rwlock_wrlock(&st->lock);
    if (nheld < HELD_MAX)
      held[nheld++] = st;
  } else {
    pthread_rwlock_rdlock(&st->lock);
  }
  return true;
}

void bs__store_leave(bs_store *st, bool took) {
  if (!took)
    return;
  for (int i = 0; i < nheld; i++)
    if (held[i] == st) {
      held[i] = held[--nheld];
      break;
    }
  pthread_rwlock_unlock(&st->lock);
}

void bs__call_begin(bs__call *c, bs_store *st, bool exclusive, bs_op_class cls) {
  c->st = st;
  c->cls = cls;
  c->took = bs__store_enter(st, exclusive);
  c->primitive = bs__store_primitive(st);
  bs_store_clear_error(st);
}

int bs__call_end(bs__call *c, int rc) {
#ifdef BS_BENCH_SLOWDOWN
  /* Proving the regression gate (bench/prove-gate.sh): a build with this
   * defined does BS_BENCH_SLOWDOWN loop turns of extra work in every call.
   * Never defined in a normal build. */
  for (volatile unsigned spin = 0; spin < (unsigned)(BS_BENCH_SLOWDOWN); spin++)
    ;
#endif
  if (c->primitive && BS__HAS(c->st->ops, 2, op_done))
    c->st->ops->op_done(c->st, c->cls);
  bs__store_leave(c->st, c->took);
  return rc;
}

int bs__missing(bs_store *st, const char *what) {
  return bs_store_fail(st, BS_EUNSUPPORTED, 0, "%s: not supported by backend %s (ops version %d)", what,
                       st->ops->name, st->ops->version);
}

/* A bad argument is INVALID with a message, so bs_last_message() never
 * describes an earlier call. */
int bs__bad_arg(bs_store *st, const char *what, const char *why) {
  return bs_store_fail(st, BS_EINVALID, 0, "%s: %s", what, why);
}

int bs__bad_path(bs_store *st, const char *what, const char *path) {
  return bs_store_fail(st, BS_EINVALID, 0, "%s: path must be absolute, got %s%s%s", what, path ? "\"" : "",
                       path ? path : "NULL", path ? "\"" : "");
}

/* ---- the calls that only look ------------------------------------------------------
 * They take the lock shared and tell no backend that an operation ended: a
 * checker that looks more often does not change what it looks at. */

/* Begin a look at @st; 0, or INVALID for no store. */
static bool look(bs__call *c, bs_store *st) {
  if (!st)
    return false;
  bs__call_begin(c, st, false, BS_OPC_META);
  c->primitive = false; /* nothing to tell the backend */
  return true;
}

int bs_get_caps(bs_store *st, bs_caps *out) {
  if (!out)
    return bs__bad_arg(st, "caps", "NULL output");
  bs__call c;
  if (!look(&c, st))
    return BS_EINVALID;
  return bs__call_end(&c, st->ops->caps ? st->ops->caps(st, out) : bs__missing(st, "caps"));
}

int bs_probe_fs_type(bs_store *st, const char *path, bs_fs_type *out) {
  if (!path || !out)
    return bs__bad_arg(st, "probe_fs_type", "NULL path or output");
  bs__call c;
  if (!look(&c, st))
    return BS_EINVALID;
  return bs__call_end(&c, st->ops->probe_fs_type ? st->ops->probe_fs_type(st, path, out)
                                                  : bs__missing(st, "probe_fs_type"));
}

int bs_usage_get(bs_store *st, bs_usage *out) {
  if (!out)
    return bs__bad_arg(st, "usage", "NULL output");
  bs__call c;
  if (!look(&c, st))
    return BS_EINVALID;
  return bs__call_end(&c, st->ops->usage ? st->ops->usage(st, out) : bs__missing(st, "usage"));
}

int bs_clock_ns(bs_store *st, int64_t *out) {
  if (!out)
    return bs__bad_arg(st, "clock_ns", "NULL output");
  bs__call c;
  if (!look(&c, st))
    return BS_EINVALID;
  return bs__call_end(&c, st->ops->clock_ns ? st->ops->clock_ns(st, out) : bs__missing(st, "clock_ns"));
}

int bs_check(bs_store *st) {
  bs__call c;
  if (!look(&c, st))
    return BS_EINVALID;
  return bs__call_end(&c, st->ops->check ? st->ops->check(st) : bs__missing(st, "check"));
}

/* A power loss changes the whole volume: exclusive, and no operation. */
int bs_power_loss(bs_store *st, bs_power_loss_mode mode) {
  if (mode != BS_POWER_LOSS_DROP && mode != BS_POWER_LOSS_TEAR)
    return bs__bad_arg(st, "power_loss", "mode is neither DROP nor TEAR");
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__call_begin(&c, st, true, BS_OPC_META);
  c.primitive = false;
  return bs__call_end(&c, st->ops->power_loss ? st->ops->power_loss(st, mode) : bs__missing(st, "power_loss"));
}
