/* `diskutil apfs listSnapshots <vol> -plist`, read with libplist (see
 * parse_diskutil.h).  The document is a dict whose "Snapshots" array holds
 * one dict per snapshot:
 *
 *   SnapshotName  string   required, must pass bs_name_validate()
 *   SnapshotUUID  string   required, "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"
 *   SnapshotXID   integer  required
 *   Purgeable     boolean  optional (false when absent)
 *
 * Other keys (LimitingContainerShrink, ...) are skipped.  A missing array,
 * a wrong type, a bad name or UUID, or two equal UUIDs is PARSE for the whole
 * output.  Only libplist's XML reader is used: diskutil prints XML, and
 * plist_from_xml has the same arguments in libplist 2.2 (Debian 12) and 2.3+
 * (Homebrew), where only its return type changed. */
#include "real/parse_diskutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore.h"

#ifdef BS_HAVE_PLIST
#include <plist/plist.h>
#endif

#define WHAT "diskutil apfs listSnapshots -plist"

__attribute__((format(printf, 4, 5))) static int say(int rc, char *msg, size_t cap, const char *fmt,
                                                     ...) {
  if (msg && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

bool bs__diskutil_have_plist(void) {
#ifdef BS_HAVE_PLIST
  return true;
#else
  return false;
#endif
}

#ifdef BS_HAVE_PLIST

/* The string of @node (a PLIST_STRING), or NULL. */
static const char *str(plist_t node, size_t *len) {
  if (!node || plist_get_node_type(node) != PLIST_STRING)
    return NULL;
  uint64_t n = 0;
  const char *s = plist_get_string_ptr(node, &n);
  if (!s)
    return NULL;
  *len = (size_t)n;
  return s;
}

/* One dict of the array into @a. */
static int one(bs__apfs_snaps *a, plist_t d, uint32_t i, char *msg, size_t cap) {
  if (!d || plist_get_node_type(d) != PLIST_DICT)
    return say(BS_EPARSE, msg, cap, WHAT ": snapshot %u is not a dict", i + 1);
  size_t nlen = 0, ulen = 0;
  const char *name = str(plist_dict_get_item(d, "SnapshotName"), &nlen);
  const char *uuid = str(plist_dict_get_item(d, "SnapshotUUID"), &ulen);
  plist_t xid = plist_dict_get_item(d, "SnapshotXID");
  plist_t purge = plist_dict_get_item(d, "Purgeable");
  if (!name || !uuid || !xid || plist_get_node_type(xid) != PLIST_UINT)
    return say(BS_EPARSE, msg, cap, WHAT ": snapshot %u lacks a SnapshotName, SnapshotUUID or SnapshotXID",
               i + 1);
  if (purge && plist_get_node_type(purge) != PLIST_BOOLEAN)
    return say(BS_EPARSE, msg, cap, WHAT ": snapshot %u: Purgeable is not a boolean", i + 1);
  bs__apfs_snap *s = bs__apfs_snaps_add(a);
  if (!s)
    return say(BS_ENO_MEMORY, msg, cap, WHAT ": out of memory");
  plist_get_uint_val(xid, &s->xid);
  uint8_t b = 0;
  if (purge)
    plist_get_bool_val(purge, &b);
  s->purgeable = b != 0;
  bs__apfs_snap_set_name(s, name, nlen);
  if (bs__uuid_parse(uuid, ulen, s->uuid) != 0)
    return say(BS_EPARSE, msg, cap, WHAT ": snapshot %u: not a snapshot UUID", i + 1);
  return 0;
}

static int parse(const bs__tool_result *r, bs__apfs_snaps *a, char *msg, size_t cap) {
  if (!r->out || r->out_len == 0)
    return say(BS_EPARSE, msg, cap, WHAT ": no output");
  if (r->out_len > UINT32_MAX)
    return say(BS_EPARSE, msg, cap, WHAT ": output too long");
  plist_t root = NULL;
  plist_from_xml(r->out, (uint32_t)r->out_len, &root);
  if (!root)
    return say(BS_EPARSE, msg, cap, WHAT ": output is not a property list");
  int rc = 0;
  plist_t arr = plist_get_node_type(root) == PLIST_DICT ? plist_dict_get_item(root, "Snapshots") : NULL;
  if (!arr || plist_get_node_type(arr) != PLIST_ARRAY)
    rc = say(BS_EPARSE, msg, cap, WHAT ": no Snapshots array");
  uint32_t n = rc == 0 ? plist_array_get_size(arr) : 0;
  for (uint32_t i = 0; rc == 0 && i < n; i++)
    rc = one(a, plist_array_get_item(arr, i), i, msg, cap);
  if (rc == 0)
    rc = bs__apfs_snaps_unique(a, WHAT, msg, cap);
  plist_free(root);
  return rc;
}

#endif /* BS_HAVE_PLIST */

int bs__diskutil_snapshots_plist(const bs__tool_result *r, bs__apfs_snap **out, size_t *count,
                                 char *msg, size_t cap) {
  *out = NULL;
  *count = 0;
  int rc = bs__tool_check("diskutil", r, msg, cap);
  if (rc != 0)
    return rc;
#ifdef BS_HAVE_PLIST
  bs__apfs_snaps a = {0};
  rc = parse(r, &a, msg, cap);
  if (rc != 0) {
    free(a.v);
    return rc;
  }
  *out = a.v;
  *count = a.n;
  return 0;
#else
  return say(BS_EUNSUPPORTED, msg, cap, WHAT ": this build has no libplist");
#endif
}
