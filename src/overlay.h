/* Overlay branches (docs/overlay.md): the file calls of a path in an
 * overlay branch, resolved through its upper layer ("/.bs/branch/ID/upper")
 * and its lowers (the snapshot tree "/.bs/snap/SID" and, below a stacked
 * snapshot, the chain of its lowers: bs__place.layers), in the format of
 * Linux overlayfs with -o userxattr:
 *
 *   whiteout        a zero-size regular file with xattr "user.overlay.whiteout"
 *                   (its directory is marked "user.overlay.opaque" = "x")
 *   opaque dir      xattr "user.overlay.opaque" = "y": the lower is not merged below
 *
 * Written over the backend primitives (file methods on backend paths), so it
 * works alike on the sim and on real stores.  Every function takes the
 * place ns.c made (p->overlay), the call's name @op and the store path
 * @path for its messages, and returns 0 or a BS_E* code recorded on @st. */
#ifndef BS_SRC_OVERLAY_H
#define BS_SRC_OVERLAY_H

#include "src/ns.h"

/* The xattrs of the format; hidden from the caller's xattr calls. */
#define BS__OV_XATTR_PREFIX "user.overlay."
#define BS__OV_WHITEOUT "user.overlay.whiteout"
#define BS__OV_OPAQUE "user.overlay.opaque"

/* Reads: the backend path of the layer that shows @p (malloc'ed) in *@out. */
int bs__ov_visible(bs_store *st, const char *op, const char *path, const bs__place *p, char **out);
/* The merged listing of directory @p (upper and lower, less whiteouts,
 * byte order) handed to @cb. */
int bs__ov_readdir(bs_store *st, const char *path, const bs__place *p, bs_readdir_cb cb, void *ctx);
/* Before a change of @p's data or metadata: copy it (and its parents) up. */
int bs__ov_copy_up(bs_store *st, const char *op, const char *path, const bs__place *p);

/* What makes a new object at a backend path (create, mkdir, a reflink). */
typedef int (*bs__ov_make_fn)(bs_store *st, const char *bpath, void *ctx);
/* Make a new object at @p with @make: its parents copied up, EXISTS when
 * something shows there, a whiteout replaced atomically; @dir: the object
 * is a directory (made opaque when it replaces a whiteout). */
int bs__ov_new(bs_store *st, const char *op, const char *path, const bs__place *p, bool dir, bs__ov_make_fn make,
               void *ctx);
/* unlink and rmdir of @p: the upper entry removed, a whiteout left where a
 * lower one would show again. */
int bs__ov_remove(bs_store *st, const char *op, const char *path, const bs__place *p, bool dir);
/* rename @f (@from) to @t (@to), both in the same overlay branch. */
int bs__ov_rename(bs_store *st, const char *from, const bs__place *f, const char *to, const bs__place *t);

/* The merged view of the overlay of @p (its root) built as a tree of its
 * own in the top layer's work directory: files reflinked where the
 * filesystem shares blocks, else copied, with their metadata; no
 * whiteouts nor opaque marks.  Its backend path in *@out (malloc'ed), for
 * a snapshot of it (flattening, docs/overlay.md); nothing is left on
 * failure. */
int bs__ov_flatten(bs_store *st, const char *op, const bs__place *p, char **out);
/* The merged view of the overlay of @p copied into existing directory @dst
 * (its root's metadata too), as bs__ov_flatten builds it: a native branch of
 * a stacked snapshot.  On failure @dst holds part of it (the caller removes
 * it). */
int bs__ov_copy_view(bs_store *st, const char *op, const bs__place *p, const char *dst);
/* Remove the tree bs__ov_flatten built at @bpath (errors are ignored: a
 * leftover is reaped later) and free @bpath. */
void bs__ov_flatten_done(bs_store *st, char *bpath);

#endif
