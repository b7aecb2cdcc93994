/* The store namespace (docs/snapshots.md, "Store paths"): what a store path
 * names, and the rules of the reserved directory, for every primitive
 * backend (backstore/backend.h).
 *
 *   /                       the main tree                  backend "/"
 *   /.bs                    virtual, read-only; not listed by readdir("/")
 *   /.bs/snapshots          virtual: one entry per snapshot name
 *   /.bs/branches           virtual: one entry per branch name
 *   /.bs/snapshots/<name>   snapshot tree ID (read-only)   backend "/.bs/snap/ID"
 *   /.bs/branches/<name>    branch tree ID (writable)      backend "/.bs/branch/ID"
 *
 * Names reach a backend only as ids from the registry (src/snapshot.c).
 * The errors: a path of PATH_MAX bytes or more is NAME_TOO_LONG, "." and
 * ".." components are INVALID (store paths are canonical, and ".." could
 * climb out of a tree), a missing object is NOT_FOUND before a read-only
 * one is PERMISSION, "/.bs" itself is INVALID for name operations, a tree's
 * root is BUSY for unlink, rmdir and rename. */
#ifndef BS_SRC_NS_H
#define BS_SRC_NS_H

#include <stdbool.h>
#include <stdint.h>

#include "backstore/backend.h"
#include "src/snapreg.h"

/* What a call does to the path it names; it decides the error met at
 * read-only and virtual places. */
typedef enum bs__intent {
  BS__READ = 0,   /* stat, read, readdir, xattr reads, sync, a reflink's source */
  BS__MODIFY = 1, /* write, truncate, chmod, chown, utimens, xattr writes */
  BS__REMOVE = 2, /* unlink, rmdir, the source of a rename */
  BS__NEW = 3,    /* create, mkdir, the destination of a rename or reflink */
} bs__intent;

typedef enum bs__virt {
  BS__V_NONE = 0,
  BS__V_BS,       /* /.bs */
  BS__V_SNAPS,    /* /.bs/snapshots */
  BS__V_BRANCHES, /* /.bs/branches */
} bs__virt;

/* One layer of an overlay (docs/overlay.md): a branch's upper directory
 * ("/.bs/branch/ID/upper", @kind BS_TREE_BRANCH) or a snapshot tree
 * ("/.bs/snap/ID"). */
typedef struct bs__layer {
  bs_tree_kind kind;
  uint64_t id;
  bool host; /* a host directory as the bottom lower: "/.bs/lower/<id>", @id the branch's */
} bs__layer;

/* Most layers of an overlay: its top and the chain below it. */
#define BS__OV_LAYERS_MAX (1 + BS__OV_DEPTH_MAX)

/* Where a store path lies. */
typedef struct bs__place {
  bs__virt virt;     /* a virtual directory (no backend path), or NONE */
  bs_tree_kind tree; /* main, a snapshot or a branch */
  uint64_t tree_id;  /* the snapshot's or branch's id */
  bool tree_root;    /* the path is the root of its tree */
  char *bpath;       /* the backend path (malloc'ed), NULL for a virtual directory;
                      * in an overlay branch, the path in its upper layer */
  bool overlay;      /* in an overlay branch or a stacked snapshot (src/overlay.c resolves it) */
  unsigned nlayers;  /* an overlay's layers, top first: the branch's upper (or the stacked */
  bs__layer layers[BS__OV_LAYERS_MAX]; /* snapshot's own tree), then each lower of its chain */
  char *rest;        /* an overlay branch: the path below its root ("" for the root), malloc'ed */
} bs__place;

/* The layers of an overlay whose top is tree (@top, @top_id) over the chain
 * of snapshots @chain[0..@n) (bs__snapreg_chain), into @p. */
void bs__ns_layers(bs__place *p, bs_tree_kind top, uint64_t top_id, const uint64_t *chain, unsigned n);

/* The upper and work directories of an overlay branch, below its tree. */
#define BS__OV_UPPER "/upper"
#define BS__OV_WORK "/work"

/* Locate store path @path of call @op for @intent: 0 with @out filled
 * (bs__place_free), or the error (recorded on @st) the intent meets. */
int bs__ns_locate(bs_store *st, const char *op, const char *path, bs__intent intent, bs__place *out);
void bs__place_free(bs__place *p);

/* stat and readdir of a virtual directory. */
int bs__ns_virt_stat(bs_store *st, bs__virt v, bs_stat_info *out);
int bs__ns_virt_readdir(bs_store *st, bs__virt v, bs_readdir_cb cb, void *ctx);

/* Whether readdir of @p must leave ".bs" out: the main tree's root (where a
 * backend keeps its reserved directory) and a snapshot's root (where btrfs
 * shows an empty stand-in for it). */
bool bs__ns_hides_reserved(const bs__place *p);

/* The backend path of tree (@kind, @id) followed by @rest, malloc'ed. */
char *bs__ns_tree_path(bs_tree_kind kind, uint64_t id, const char *rest);

/* A host directory as an overlay branch's lower (docs/overlay.md): its
 * path is recorded in the branch's tree, in file BS__HOST_LOWER_REC, and
 * the backend reaches it at backend path "/.bs/lower/<branch id>" (a
 * backend that cannot answers UNSUPPORTED there). */
#define BS__HOST_LOWER_DIR "/.bs/lower"
#define BS__HOST_LOWER_REC "/lowerdir"
/* "/.bs/lower/<branch_id>" followed by @rest, malloc'ed. */
char *bs__ns_host_lower_path(uint64_t branch_id, const char *rest);

#endif
