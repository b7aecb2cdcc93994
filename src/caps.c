/* Filesystem type names and the DESIGN §4 capability table. */
#include <string.h>

#include "backstore.h"

struct caps_row {
  const char *name;
  bool native_snapshots, native_reflink, xattrs, case_sensitive;
};

/* DESIGN §4: the one place these facts live; sim profiles and real probes use it. */
static const struct caps_row table[BS_FS_TYPE_COUNT] = {
  [BS_FS_OTHER] = {"other", false, false, false, true},
  [BS_FS_APFS] = {"apfs", true, true, true, false},
  [BS_FS_HFS] = {"hfs", false, false, true, false},
  [BS_FS_BTRFS] = {"btrfs", true, true, true, true},
  [BS_FS_XFS] = {"xfs", false, true, true, true},
  [BS_FS_EXT4] = {"ext4", false, false, true, true},
  [BS_FS_TMPFS] = {"tmpfs", false, false, true, true},
};

const char *bs_fs_type_name(int t) {
  return (t >= 0 && t < BS_FS_TYPE_COUNT) ? table[t].name : table[BS_FS_OTHER].name;
}

bs_fs_type bs_fs_type_from_name(const char *name) {
  for (int t = 1; name && t < BS_FS_TYPE_COUNT; t++)
    if (strcmp(name, table[t].name) == 0)
      return (bs_fs_type)t;
  return BS_FS_OTHER;
}

int bs_caps_for_type(bs_caps *out, bs_fs_type t) {
  if (!out || (int)t < 0 || (int)t >= BS_FS_TYPE_COUNT)
    return BS_EINVALID;
  const struct caps_row *r = &table[t];
  memset(out, 0, sizeof(*out));
  out->schema_version = 1;
  out->fs_type = (uint8_t)t;
  out->native_snapshots = r->native_snapshots;
  out->native_reflink = r->native_reflink;
  out->xattrs = r->xattrs;
  out->case_sensitive = r->case_sensitive;
  out->max_name_len = 255;
  strncpy(out->fs_type_name, r->name, sizeof(out->fs_type_name) - 1);
  return BS_OK;
}
