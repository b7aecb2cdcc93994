/* What the files of the core share about a store's calls (src/store.c,
 * src/snapshot.c, src/replace.c). */
#ifndef BS_SRC_STORE_INTERNAL_H
#define BS_SRC_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "backstore/backend.h"

/* Take @st's lock for one public call: exclusive for calls that change
 * snapshots and branches (and bs_replace()), shared for the others.  A
 * thread that holds the lock exclusively already (a call made inside
 * bs_replace()) does not take it again.  Returns whether it took it. */
bool bs__store_enter(bs_store *st, bool exclusive);
/* Let go of what bs__store_enter took (@took). */
void bs__store_leave(bs_store *st, bool took);

/* One public call on a store, from its checks to its end. */
typedef struct bs__call {
  bs_store *st;
  bool took;       /* the lock was taken for it */
  bool primitive;  /* the core owns the store's rules (bs__store_primitive) */
  bs_op_class cls; /* what it tells the backend when it ends */
} bs__call;

/* Start call @c of class @cls: lock (exclusive or shared) and forget the
 * calling thread's last failure on @st. */
void bs__call_begin(bs__call *c, bs_store *st, bool exclusive, bs_op_class cls);
/* End call @c with result @rc: tell a primitive backend (op_done), unlock;
 * returns @rc. */
int bs__call_end(bs__call *c, int rc);

/* Whether table @o has method slot @m, which version @since added: read
 * only after the version said the table is long enough to have it. */
#define BS__HAS(o, since, m) ((o)->version >= (since) && (o)->m != NULL)
/* UNSUPPORTED: the backend lacks method @what (or its table predates it). */
int bs__missing(bs_store *st, const char *what);
/* The whole target of the symlink at backend path @bpath (version-3 table),
 * NUL-terminated in @text, its length in *@len; CORRUPT when the backend
 * answers more than BS_SYMLINK_TARGET_MAX bytes. */
int bs__readlink_whole(bs_store *st, const char *bpath, char text[BS_SYMLINK_TARGET_MAX + 1], size_t *len);
/* INVALID "WHAT: WHY" for a bad argument. */
int bs__bad_arg(bs_store *st, const char *what, const char *why);
/* INVALID for a store path that is not absolute. */
int bs__bad_path(bs_store *st, const char *what, const char *path);

/* The calls of a primitive backend (src/snapshot.c). */
int bs__snap_create(bs_store *st, const char *name, bs_snapshot_info *out);
int bs__snap_list(bs_store *st, bs_snapshot_info **out, size_t *count);
int bs__snap_delete(bs_store *st, uint64_t id);
int bs__snap_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap);
int bs__branch_create(bs_store *st, uint64_t snapshot_id, const char *name, bs_branch_kind kind);
int bs__branch_info(bs_store *st, const char *name, bs_branch_info *out);
int bs__branch_layers(bs_store *st, const char *name, bs_branch_layers *out);
/* bs_branch_snapshot(): the snapshot of branch @branch (docs/overlay.md). */
int bs__snap_create_of(bs_store *st, const char *branch, const char *name, bs_snapshot_info *out);
/* bs_branch_create_host() and bs_branch_lower_dir_get() (docs/overlay.md). */
int bs__branch_create_host(bs_store *st, const char *dir, const char *name);
int bs__branch_lower_dir(bs_store *st, const char *name, char *buf, size_t cap);
int bs__branch_delete(bs_store *st, const char *name);
int bs__branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id);

/* The next serial of a store (src/lasterr.c). */
uint64_t bs__store_serial_next(void);

#endif
