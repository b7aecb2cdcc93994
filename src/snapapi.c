/* The snapshot and branch calls of backstore.h: names checked (here, once,
 * for every backend), the store's lock taken exclusively for a change and
 * shared for a look, then src/snapshot.c for a primitive backend or the
 * backend's own method for a complete one. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "src/names.h"
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

int bs_snapshot_create(bs_store *st, const char *name, bs_snapshot_info *out) {
  int rc = check_name(st, "snapshot create", name, true);
  if (!st)
    return BS_EINVALID;
  if (rc != 0)
    return rc;
  bs__call c;
  begin(&c, st, true);
  if (c.primitive)
    rc = bs__snap_create(st, name, out);
  else
    rc = st->ops->snapshot_create ? st->ops->snapshot_create(st, name, out) : bs__missing(st, "snapshot_create");
  return bs__call_end(&c, rc);
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
  int rc = check_name(st, "branch create", name, true);
  if (!st)
    return BS_EINVALID;
  if (rc != 0)
    return rc;
  bs__call c;
  begin(&c, st, true);
  if (c.primitive)
    rc = bs__branch_create(st, snapshot_id, name);
  else
    rc = st->ops->branch_create ? st->ops->branch_create(st, snapshot_id, name) : bs__missing(st, "branch_create");
  return bs__call_end(&c, rc);
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
  int rc = check_name(st, "branch parent", name, false);
  if (!st)
    return BS_EINVALID;
  if (rc != 0)
    return rc;
  bs__call c;
  begin(&c, st, false);
  if (c.primitive)
    rc = bs__branch_parent(st, name, snapshot_id);
  else
    rc = BS__HAS(st->ops, 2, branch_parent) ? st->ops->branch_parent(st, name, snapshot_id)
                                            : bs__missing(st, "branch_parent");
  return bs__call_end(&c, rc);
}
