/* The backend registry and the public bs_* entry points: argument checks,
 * version checks and dispatch into a backend's ops table. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "src/names.h"

extern const bs_backend_ops bs__sim_ops;
extern const bs_backend_ops bs__real_ops; /* real/linux.c or real/darwin_libc.c */
extern const bs_backend_ops bs__faults_ops; /* faults/backend.c */

/* Built-in backends are always found; bs_backend_register() adds to the rest. */
static const bs_backend_ops *const builtin[] = {&bs__sim_ops, &bs__real_ops, &bs__faults_ops};
#define MAX_REGISTERED 16
static const bs_backend_ops *registered[MAX_REGISTERED];
static int n_registered;

const bs_backend_ops *bs_backend_find(const char *name) {
  if (!name)
    return NULL;
  size_t len = strcspn(name, ":");
  for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
    if (strlen(builtin[i]->name) == len && strncmp(builtin[i]->name, name, len) == 0)
      return builtin[i];
  for (int i = 0; i < n_registered; i++)
    if (strlen(registered[i]->name) == len && strncmp(registered[i]->name, name, len) == 0)
      return registered[i];
  return NULL;
}

int bs_backend_register(const bs_backend_ops *ops) {
  if (!ops || !ops->name || !*ops->name || strchr(ops->name, ':') || ops->version < 1 ||
      !ops->open || !ops->close)
    return BS_EINVALID;
  if (bs_backend_find(ops->name))
    return BS_EEXISTS;
  if (n_registered == MAX_REGISTERED)
    return BS_ENO_MEMORY;
  registered[n_registered++] = ops;
  return BS_OK;
}

void bs_store_init(bs_store *st, const bs_backend_ops *ops) {
  if (!st->ops)
    st->ops = ops;
  /* Recursive: a readdir or listxattr callback may call the store again on
   * the same thread; other threads wait. */
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&st->lock, &attr);
  pthread_mutexattr_destroy(&attr);
  bs_store_clear_error(st);
}

int bs_store_fail(bs_store *st, int err, int os_errno, const char *fmt, ...) {
  if (!st)
    return err;
  st->last_os_errno = os_errno;
  char raw[sizeof(st->last_msg)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof(raw), fmt, ap);
  va_end(ap);
  /* A message may quote a name or path with a newline or an escape
   * sequence in it; whoever prints it gets one safe line (docs/names.md). */
  bs_text_escape(st->last_msg, sizeof(st->last_msg), raw);
  return err;
}

void bs_store_clear_error(bs_store *st) {
  st->last_os_errno = 0;
  st->last_msg[0] = '\0';
}

int bs_last_os_errno(const bs_store *st) { return st ? st->last_os_errno : 0; }
const char *bs_last_message(const bs_store *st) { return st ? st->last_msg : ""; }

int bs_open(bs_store **out, const char *backend, const bs_open_opts *opts) {
  if (!out)
    return BS_EINVALID;
  *out = NULL;
  const bs_backend_ops *ops = bs_backend_find(backend);
  if (!ops)
    return BS_ENOT_FOUND;
  bs_open_opts none = {0};
  const char *colon = strchr(backend, ':');
  bs_store *st = NULL;
  int rc = ops->open(&st, opts ? opts : &none, colon ? colon + 1 : NULL);
  if (rc != 0)
    return rc;
  bs_store_init(st, ops);
  *out = st;
  return BS_OK;
}

int bs_store_create(const char *backend, const bs_open_opts *opts) {
  const bs_backend_ops *ops = bs_backend_find(backend);
  if (!ops)
    return BS_ENOT_FOUND;
  if (!opts || !opts->root || !*opts->root)
    return BS_EINVALID;
  if (!ops->create_store)
    return BS_EUNSUPPORTED;
  const char *colon = strchr(backend, ':');
  return ops->create_store(opts, colon ? colon + 1 : NULL);
}

void bs_close(bs_store *st) {
  if (!st)
    return;
  pthread_mutex_destroy(&st->lock);
  st->ops->close(st);
}

/* A method the backend lacks, or that is newer than its table, is UNSUPPORTED. */
static int missing(bs_store *st, const char *what) {
  return bs_store_fail(st, BS_EUNSUPPORTED, 0, "%s: not supported by backend %s (ops version %d)",
                       what, st->ops->name, st->ops->version);
}

/* A bad argument is INVALID with a message, so bs_last_message() never
 * describes an earlier call. */
static int bad_arg(bs_store *st, const char *what, const char *why) {
  return bs_store_fail(st, BS_EINVALID, 0, "%s: %s", what, why);
}

static int bad_path(bs_store *st, const char *what, const char *path) {
  return bs_store_fail(st, BS_EINVALID, 0, "%s: path must be absolute, got %s%s%s", what,
                       path ? "\"" : "", path ? path : "NULL", path ? "\"" : "");
}

#define VALID_PATH(p) ((p) != NULL && (p)[0] == '/')

/* Dispatch to method @m, first in ops table version @since: check the store,
 * clear the last error, call.  The version is checked before the method is
 * read, because an older table ends before a newer method's slot. */
#define DISPATCH_SINCE(st, since, m, ...)                                                 \
  do {                                                                                    \
    if (!(st))                                                                            \
      return BS_EINVALID;                                                                 \
    pthread_mutex_lock(&(st)->lock);                                                      \
    bs_store_clear_error(st);                                                             \
    int drc_ = ((st)->ops->version < (since) || !(st)->ops->m) ? missing((st), #m)        \
                                                               : (st)->ops->m((st), __VA_ARGS__); \
    pthread_mutex_unlock(&(st)->lock);                                                    \
    return drc_;                                                                          \
  } while (0)

/* Every method of table version 1; methods added later use DISPATCH_SINCE. */
#define DISPATCH(st, m, ...) DISPATCH_SINCE(st, 1, m, __VA_ARGS__)

/* The same for methods whose first argument is a store path. */
#define DISPATCH_PATH(st, m, path, ...)                                                   \
  do {                                                                                    \
    if ((st) && !VALID_PATH(path))                                                        \
      return bad_path((st), #m, (path));                                                  \
    DISPATCH(st, m, path, __VA_ARGS__);                                                   \
  } while (0)

int bs_get_caps(bs_store *st, bs_caps *out) {
  if (!out)
    return bad_arg(st, "caps", "NULL output");
  DISPATCH(st, caps, out);
}

int bs_probe_fs_type(bs_store *st, const char *path, bs_fs_type *out) {
  if (!path || !out)
    return bad_arg(st, "probe_fs_type", "NULL path or output");
  DISPATCH(st, probe_fs_type, path, out);
}

int bs_reflink(bs_store *st, const char *src, const char *dst) {
  if (st && !VALID_PATH(dst))
    return bad_path(st, "reflink", dst);
  DISPATCH_PATH(st, reflink, src, dst);
}

int bs_usage_get(bs_store *st, bs_usage *out) {
  if (!out)
    return bad_arg(st, "usage", "NULL output");
  DISPATCH(st, usage, out);
}

int bs_create(bs_store *st, const char *path, uint32_t mode) { DISPATCH_PATH(st, create, path, mode); }
int bs_mkdir(bs_store *st, const char *path, uint32_t mode) { DISPATCH_PATH(st, mkdir, path, mode); }

int bs_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len) {
  if (!buf && len)
    return bad_arg(st, "write", "NULL buffer with a non-zero length");
  DISPATCH_PATH(st, write, path, off, buf, len);
}

int bs_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  if ((!buf && len) || !nread)
    return bad_arg(st, "read", "NULL buffer with a non-zero length, or NULL nread");
  *nread = 0;
  DISPATCH_PATH(st, read, path, off, buf, len, nread);
}

int bs_truncate(bs_store *st, const char *path, uint64_t size) { DISPATCH_PATH(st, truncate, path, size); }

int bs_unlink(bs_store *st, const char *path) {
  if (st && !VALID_PATH(path))
    return bad_path(st, "unlink", path);
  DISPATCH(st, unlink, path);
}

int bs_rmdir(bs_store *st, const char *path) {
  if (st && !VALID_PATH(path))
    return bad_path(st, "rmdir", path);
  DISPATCH(st, rmdir, path);
}

int bs_rename(bs_store *st, const char *from, const char *to) {
  if (st && !VALID_PATH(to))
    return bad_path(st, "rename", to);
  DISPATCH_PATH(st, rename, from, to);
}

int bs_stat(bs_store *st, const char *path, bs_stat_info *out) {
  if (!out)
    return bad_arg(st, "stat", "NULL output");
  DISPATCH_PATH(st, stat, path, out);
}

int bs_chmod(bs_store *st, const char *path, uint32_t mode) { DISPATCH_PATH(st, chmod, path, mode); }

int bs_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid) {
  DISPATCH_PATH(st, chown, path, uid, gid);
}

int bs_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  DISPATCH_PATH(st, utimens, path, atime_ns, mtime_ns);
}

int bs_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx) {
  if (!cb)
    return bad_arg(st, "readdir", "NULL callback");
  DISPATCH_PATH(st, readdir, path, cb, ctx);
}

int bs_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len) {
  if (!name || (!value && len))
    return bad_arg(st, "setxattr", "NULL name, or NULL value with a non-zero length");
  DISPATCH_PATH(st, setxattr, path, name, value, len);
}

int bs_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  if (!name || (!buf && cap) || !len)
    return bad_arg(st, "getxattr", "NULL name or length, or NULL buffer with a non-zero capacity");
  DISPATCH_PATH(st, getxattr, path, name, buf, cap, len);
}

int bs_removexattr(bs_store *st, const char *path, const char *name) {
  if (!name)
    return bad_arg(st, "removexattr", "NULL name");
  DISPATCH_PATH(st, removexattr, path, name);
}

int bs_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx) {
  if (!cb)
    return bad_arg(st, "listxattr", "NULL callback");
  DISPATCH_PATH(st, listxattr, path, cb, ctx);
}

int bs_sync(bs_store *st, const char *path) {
  if (st && path && !VALID_PATH(path))
    return bad_path(st, "sync", path);
  DISPATCH(st, sync, path);
}

/* Snapshot and branch names are checked here once, for every backend: a new
 * name by bs_name_validate(), the name of an existing branch by the rules
 * its name may have been made under (src/names.h). */
static int check_name(bs_store *st, const char *what, const char *name, bool new_name) {
  int rc = new_name ? bs_name_validate(name) : bs__name_validate_held(name);
  if (rc != 0 && st && new_name && bs__name_validate_held(name) == 0)
    return bs_store_fail(st, rc, 0, "%s: bad name: a new name may not hold a control character", what);
  if (rc != 0 && st)
    return bs_store_fail(st, rc, 0, "%s: bad name: %s", what, bs_strerror(rc));
  return rc;
}

int bs_snapshot_create(bs_store *st, const char *name, bs_snapshot_info *out) {
  int rc = check_name(st, "snapshot create", name, true);
  if (rc != 0 && st)
    return rc;
  DISPATCH(st, snapshot_create, name, out);
}

int bs_snapshot_list(bs_store *st, bs_snapshot_info **out, size_t *count) {
  if (!out || !count)
    return bad_arg(st, "snapshot list", "NULL output or count");
  *out = NULL;
  *count = 0;
  DISPATCH(st, snapshot_list, out, count);
}

int bs_snapshot_lookup(bs_store *st, const char *name, bs_snapshot_info *out) {
  if (!name || !out)
    return bad_arg(st, "snapshot lookup", "NULL name or output");
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  int rc = bs_snapshot_list(st, &all, &n);
  if (rc != 0)
    return rc;
  rc = bs_store_fail(st, BS_ENOT_FOUND, 0, "snapshot \"%s\" not found", name);
  for (size_t i = 0; i < n; i++)
    if (strcmp(all[i].name, name) == 0) {
      *out = all[i];
      bs_store_clear_error(st);
      rc = BS_OK;
      break;
    }
  free(all);
  return rc;
}

int bs_snapshot_delete(bs_store *st, uint64_t id) { DISPATCH(st, snapshot_delete, id); }

int bs_snapshot_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap) {
  if (!path || cap == 0)
    return bad_arg(st, "snapshot mount", "NULL or empty path buffer");
  DISPATCH(st, snapshot_mount_ro, id, path, cap);
}

int bs_branch_create(bs_store *st, uint64_t snapshot_id, const char *name) {
  int rc = check_name(st, "branch create", name, true);
  if (rc != 0 && st)
    return rc;
  DISPATCH(st, branch_create, snapshot_id, name);
}

int bs_branch_delete(bs_store *st, const char *name) {
  int rc = check_name(st, "branch delete", name, false);
  if (rc != 0 && st)
    return rc;
  DISPATCH(st, branch_delete, name);
}

int bs_branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id) {
  if (!snapshot_id)
    return bad_arg(st, "branch parent", "NULL output");
  *snapshot_id = 0;
  int rc = check_name(st, "branch parent", name, false);
  if (rc != 0 && st)
    return rc;
  DISPATCH(st, branch_parent, name, snapshot_id);
}

int bs_power_loss(bs_store *st, bs_power_loss_mode mode) {
  if (mode != BS_POWER_LOSS_DROP && mode != BS_POWER_LOSS_TEAR)
    return bad_arg(st, "power_loss", "mode is neither DROP nor TEAR");
  DISPATCH(st, power_loss, mode);
}

int bs_check(bs_store *st) {
  if (!st)
    return BS_EINVALID;
  pthread_mutex_lock(&st->lock);
  bs_store_clear_error(st);
  int rc = st->ops->check ? st->ops->check(st) : missing(st, "check");
  pthread_mutex_unlock(&st->lock);
  return rc;
}

int bs_clock_ns(bs_store *st, int64_t *out) {
  if (!out)
    return bad_arg(st, "clock_ns", "NULL output");
  DISPATCH(st, clock_ns, out);
}
