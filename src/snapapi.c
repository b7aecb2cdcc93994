/* The snapshot and branch calls of backstore.h: names checked (here, once,
 * for every backend), the store's lock taken exclusively for a change and
 * shared for a look, then src/snapshot.c for a primitive backend or the
 * backend's own method for a complete one. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "src/names.h"
#include "src/ns.h"
#include "src/snapshot.h"
#include "src/store_internal.h"

/* A new name by bs_name_validate(), the name of an existing branch by the
 * rules its name may have been made under (src/names.h). */
static int check_name(bs_store *st, const char *what, const char *name, bool new_name) {
  int rc = new_name ? bs_name_validate(name) : bs__name_validate_held(name);
  if (rc != 0 && st && new_name && bs__name_validate_held(name) == 0)
    return bs_store_fail(st, rc, 0, "%s: bad name: a new name may not hold a control character", what);
  if (rc != 0 && st)
    return bs_store_fail(st, rc, 0, "%s: bad name: %s", what, bs_strerror(rc));
  return rc;
}

/* Begin a snapshot or branch call: exclusive when it @changes something. */
static void begin(bs__call *c, bs_store *st, bool changes) {
  bs__call_begin(c, st, changes, changes ? BS_OPC_SNAPSHOT : BS_OPC_META);
}

/* Begin call @op that makes snapshot or branch @name: 0 with @c begun
 * (exclusive), or the failure of the name's check. */
static int begin_new(bs__call *c, bs_store *st, const char *op, const char *name) {
  int rc = check_name(st, op, name, true);
  if (!st)
    return BS_EINVALID;
  if (rc == 0)
    begin(c, st, true);
  return rc;
}

/* A snapshot of the main tree (@branch NULL) or of branch @branch. */
static int snapshot_of(bs_store *st, const char *branch, const char *name, bs_snapshot_info *out) {
  int rc = branch ? check_name(st, "snapshot create", branch, false) : 0;
  if (rc != 0)
    return rc;
  bs__call c;
  if ((rc = begin_new(&c, st, "snapshot create", name)) != 0)
    return rc;
  if (c.primitive)
    rc = branch ? bs__snap_create_of(st, branch, name, out) : bs__snap_create(st, name, out);
  else if (branch)
    rc = bs_store_fail(st, BS_EUNSUPPORTED, 0, "snapshot create: the %s backend has no snapshots of a branch",
                       st->ops->name);
  else
    rc = st->ops->snapshot_create ? st->ops->snapshot_create(st, name, out) : bs__missing(st, "snapshot_create");
  return bs__call_end(&c, rc);
}

int bs_snapshot_create(bs_store *st, const char *name, bs_snapshot_info *out) {
  return snapshot_of(st, NULL, name, out);
}

int bs_branch_snapshot(bs_store *st, const char *branch, const char *name, bs_snapshot_info *out) {
  return snapshot_of(st, branch, name, out);
}

int bs_snapshot_list(bs_store *st, bs_snapshot_info **out, size_t *count) {
  if (!out || !count)
    return bs__bad_arg(st, "snapshot list", "NULL output or count");
  *out = NULL;
  *count = 0;
  if (!st)
    return BS_EINVALID;
  bs__call c;
  begin(&c, st, false);
  int rc;
  if (c.primitive)
    rc = bs__snap_list(st, out, count);
  else
    rc = st->ops->snapshot_list ? st->ops->snapshot_list(st, out, count) : bs__missing(st, "snapshot_list");
  return bs__call_end(&c, rc);
}

int bs_snapshot_lookup(bs_store *st, const char *name, bs_snapshot_info *out) {
  if (!name || !out)
    return bs__bad_arg(st, "snapshot lookup", "NULL name or output");
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

int bs_snapshot_delete(bs_store *st, uint64_t id) {
  if (!st)
    return BS_EINVALID;
  bs__call c;
  begin(&c, st, true);
  int rc;
  if (c.primitive)
    rc = bs__snap_delete(st, id);
  else
    rc = st->ops->snapshot_delete ? st->ops->snapshot_delete(st, id) : bs__missing(st, "snapshot_delete");
  return bs__call_end(&c, rc);
}

int bs_snapshot_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap) {
  if (!path || cap == 0)
    return bs__bad_arg(st, "snapshot mount", "NULL or empty path buffer");
  if (!st)
    return BS_EINVALID;
  bs__call c;
  begin(&c, st, false);
  int rc;
  if (c.primitive)
    rc = bs__snap_mount_ro(st, id, path, cap);
  else
    rc = st->ops->snapshot_mount_ro ? st->ops->snapshot_mount_ro(st, id, path, cap)
                                    : bs__missing(st, "snapshot_mount_ro");
  return bs__call_end(&c, rc);
}

int bs_branch_create(bs_store *st, uint64_t snapshot_id, const char *name) {
  bs_branch_opts o = {.kind = BS_BRANCH_NATIVE};
  return bs_branch_create_opts(st, snapshot_id, name, &o);
}

int bs_branch_create_opts(bs_store *st, uint64_t snapshot_id, const char *name, const bs_branch_opts *opts) {
  bs_branch_kind kind = opts ? opts->kind : BS_BRANCH_AUTO;
  if (kind != BS_BRANCH_AUTO && kind != BS_BRANCH_NATIVE && kind != BS_BRANCH_OVERLAY)
    return bs__bad_arg(st, "branch create", "unknown branch kind");
  bs__call c;
  int rc = begin_new(&c, st, "branch create", name);
  if (rc != 0)
    return rc;
  if (c.primitive)
    rc = bs__branch_create(st, snapshot_id, name, kind);
  else if (kind == BS_BRANCH_OVERLAY)
    rc = bs_store_fail(st, BS_EUNSUPPORTED, 0, "branch create: the %s backend has no overlay branches",
                       st->ops->name);
  else
    rc = st->ops->branch_create ? st->ops->branch_create(st, snapshot_id, name) : bs__missing(st, "branch_create");
  return bs__call_end(&c, rc);
}

int bs_branch_create_host(bs_store *st, const char *dir, const char *name) {
  const char *op = "branch create";
  if (!dir)
    return bs__bad_arg(st, op, "NULL lower directory");
  size_t n = strnlen(dir, BS_LOWER_DIR_MAX);
  if (n >= BS_LOWER_DIR_MAX)
    return bs_store_fail(st, BS_ENAME_TOO_LONG, ENAMETOOLONG, "%s: the lower directory is %d bytes or more", op,
                         BS_LOWER_DIR_MAX);
  if (dir[0] != '/' || strchr(dir, '\n'))
    return bs__bad_arg(st, op, "the lower directory must be an absolute path (without a newline)");
  bs__call c;
  int rc = begin_new(&c, st, op, name);
  if (rc != 0)
    return rc;
  if (c.primitive)
    rc = bs__branch_create_host(st, dir, name);
  else
    rc = bs_store_fail(st, BS_EUNSUPPORTED, 0, "%s: the %s backend has no overlay branches", op, st->ops->name);
  return bs__call_end(&c, rc);
}

/* Begin call @op that looks at branch @name: 0 with @c begun (shared), or
 * the failure of the name's check. */
static int begin_look(bs__call *c, bs_store *st, const char *op, const char *name) {
  int rc = check_name(st, op, name, false);
  if (!st)
    return BS_EINVALID;
  if (rc == 0)
    begin(c, st, false);
  return rc;
}

int bs_branch_info_get(bs_store *st, const char *name, bs_branch_info *out) {
  if (!out)
    return bs__bad_arg(st, "branch info", "NULL output");
  bs__call c;
  int rc = begin_look(&c, st, "branch info", name);
  if (rc != 0)
    return rc;
  rc = c.primitive ? bs__branch_info(st, name, out) : bs__missing(st, "branch info");
  return bs__call_end(&c, rc);
}

int bs_branch_layers_get(bs_store *st, const char *name, bs_branch_layers *out) {
  if (!out)
    return bs__bad_arg(st, "branch layers", "NULL output");
  bs__call c;
  int rc = begin_look(&c, st, "branch layers", name);
  if (rc != 0)
    return rc;
  rc = c.primitive ? bs__branch_layers(st, name, out) : bs__missing(st, "branch layers");
  return bs__call_end(&c, rc);
}

int bs_branch_lower_dir_get(bs_store *st, const char *name, char *buf, size_t cap) {
  if (!buf || cap == 0)
    return bs__bad_arg(st, "branch lower dir", "NULL or empty buffer");
  bs__call c;
  int rc = begin_look(&c, st, "branch lower dir", name);
  if (rc != 0)
    return rc;
  rc = c.primitive ? bs__branch_lower_dir(st, name, buf, cap) : bs__missing(st, "branch lower dir");
  return bs__call_end(&c, rc);
}

/* ---- the copy-up policy (control-protocol.md, "Interpose keys") ---- */

int bs_interpose_set(bs_store *st, const char *key, const char *value) {
  if (!st || !key || !value)
    return bs__bad_arg(st, "interpose set", "NULL store, key or value");
  bs__ov_policy *pol = bs__core_ov_policy(st);
  pthread_mutex_t *mu = bs__core_ov_mutex(st);
  if (!pol || !mu)
    return bs__missing(st, "interpose set");
  pthread_mutex_lock(mu);
  int rc = 0;
  if (strcmp(key, "forwarding") == 0) {
    if (strcmp(value, "eager_upperize") == 0 || strcmp(value, "disabled") == 0)
      pol->disabled = value[0] == 'd';
    else
      rc = BS_EINVALID;
  } else if (strcmp(key, "max_copy_bytes") == 0) {
    char *end;
    errno = 0;
    unsigned long long v = value[0] >= '0' && value[0] <= '9' ? strtoull(value, &end, 10) : 0;
    if (value[0] < '0' || value[0] > '9' || *end || errno)
      rc = BS_EINVALID;
    else
      pol->max_copy_bytes = v;
  } else if (strcmp(key, "require_reflink") == 0) {
    if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
      pol->require_reflink = value[0] == 't';
    else
      rc = BS_EINVALID;
  } else {
    rc = BS_ENOT_FOUND;
  }
  pthread_mutex_unlock(mu);
  if (rc == BS_ENOT_FOUND)
    return bs_store_fail(st, BS_EINVALID, 0, "interpose set: unknown key \"%s\"", key);
  if (rc != 0)
    return bs_store_fail(st, rc, 0, "interpose set: %s: bad value \"%s\"", key, value);
  return 0;
}

int bs_interpose_get(bs_store *st, const char *key, char *buf, size_t cap) {
  if (!st || !key || !buf || !cap)
    return bs__bad_arg(st, "interpose get", "NULL store, key or buffer");
  bs__ov_policy *pol = bs__core_ov_policy(st);
  pthread_mutex_t *mu = bs__core_ov_mutex(st);
  if (!pol || !mu)
    return bs__missing(st, "interpose get");
  pthread_mutex_lock(mu);
  bs__ov_policy p = *pol;
  pthread_mutex_unlock(mu);
  char v[32];
  if (strcmp(key, "forwarding") == 0)
    snprintf(v, sizeof(v), "%s", p.disabled ? "disabled" : "eager_upperize");
  else if (strcmp(key, "max_copy_bytes") == 0)
    snprintf(v, sizeof(v), "%" PRIu64, p.max_copy_bytes);
  else if (strcmp(key, "require_reflink") == 0)
    snprintf(v, sizeof(v), "%s", p.require_reflink ? "true" : "false");
  else
    return bs_store_fail(st, BS_EINVALID, 0, "interpose get: unknown key \"%s\"", key);
  if (strlen(v) >= cap)
    return bs_store_fail(st, BS_ENAME_TOO_LONG, 0, "interpose get: %s: buffer of %zu bytes is too small", key, cap);
  memcpy(buf, v, strlen(v) + 1);
  return 0;
}

int bs_branch_delete(bs_store *st, const char *name) {
  int rc = check_name(st, "branch delete", name, false);
  if (!st)
    return BS_EINVALID;
  if (rc != 0)
    return rc;
  bs__call c;
  begin(&c, st, true);
  if (c.primitive)
    rc = bs__branch_delete(st, name);
  else
    rc = st->ops->branch_delete ? st->ops->branch_delete(st, name) : bs__missing(st, "branch_delete");
  return bs__call_end(&c, rc);
}

int bs_branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id) {
  if (!snapshot_id)
    return bs__bad_arg(st, "branch parent", "NULL output");
  *snapshot_id = 0;
  bs__call c;
  int rc = begin_look(&c, st, "branch parent", name);
  if (rc != 0)
    return rc;
  if (c.primitive)
    rc = bs__branch_parent(st, name, snapshot_id);
  else
    rc = BS__HAS(st->ops, 2, branch_parent) ? st->ops->branch_parent(st, name, snapshot_id)
                                            : bs__missing(st, "branch_parent");
  return bs__call_end(&c, rc);
}
