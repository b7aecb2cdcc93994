/**
 * @file backstore/backend.h
 * @brief The backend-author API: the versioned ops table and the registry.
 *
 * A backend fills a `bs_backend_ops` table (SQLite-VFS style: `version`
 * first, methods only ever appended) and embeds `struct bs_store` as the
 * first member of its own store struct, casting back in its methods.
 * Callers go through the bs_* functions of backstore.h, which check
 * `version` before they read a method and treat a NULL method as
 * BS_EUNSUPPORTED.
 *
 * Two kinds of backend (docs/architecture.md):
 * - A *primitive* backend (sim, real) fills the version-2 tree and registry
 *   primitives (tree_method ... registry_close).  The core then owns the
 *   store's rules: the namespace of "/.bs", snapshot and branch names, ids,
 *   UUIDs, branch counts, BUSY, the order of registry writes against tree
 *   creation and removal, and orphan reconciliation (src/ns.c,
 *   src/snapshot.c).  Its file methods get *backend paths*: the main tree at
 *   "/", snapshot tree ID at "/.bs/snap/ID" and branch tree ID at
 *   "/.bs/branch/ID" (a decimal id), and nothing else below "/.bs" but
 *   "/.bs/lower/ID": the host directory that overlay branch ID has as its
 *   lower (bs_branch_create_host()), whose absolute path the core records
 *   in file "/.bs/branch/ID/lowerdir" (the path and a newline).  A backend
 *   that reaches host directories resolves "/.bs/lower/ID/..." beneath that
 *   directory, read-only (only stat, read, readdir, getxattr, listxattr,
 *   readlink and a reflink's source), no symlink or ".." leading out of it;
 *   one that cannot (the sim) answers BS_EUNSUPPORTED there.  Its
 *   snapshot_* and branch_* methods are never called.
 * - A *complete* backend (a version-1 table, or a wrapper such as faults)
 *   implements every bs_* contract itself with store paths; the core only
 *   checks arguments and dispatches.
 */
#ifndef BACKSTORE_BACKEND_H
#define BACKSTORE_BACKEND_H

#include <pthread.h>
#include <stdbool.h>

#include "../backstore.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the ops layout this header describes.  Version 1 ends with
 * clock_ns; version 2 appends chown, branch_parent, create_store and the
 * tree and registry primitives; version 3 appends symlink, readlink and
 * link; version 4 appends whiteout; version 5 appends tree_freeze. */
#define BS_BACKEND_OPS_VERSION 5

/** Kinds of simulated power loss (see bs_backend_ops.power_loss). */
typedef enum bs_power_loss_mode {
  BS_POWER_LOSS_DROP = 1, /**< every unsynced write is lost */
  BS_POWER_LOSS_TEAR = 2, /**< each unsynced block survives or not (seeded) */
} bs_power_loss_mode;

/** The ops table of a backend (struct bs_backend_ops below). */
typedef struct bs_backend_ops bs_backend_ops;

/** Kinds of tree of a store (the version-2 primitives). */
typedef enum bs_tree_kind {
  BS_TREE_MAIN = 0,     /**< the main tree, "/" */
  BS_TREE_SNAPSHOT = 1, /**< a read-only snapshot tree, "/.bs/snap/ID" */
  BS_TREE_BRANCH = 2,   /**< a writable branch tree, "/.bs/branch/ID" */
} bs_tree_kind;

/** tree_create's @p src_snapshot for an empty branch tree (an overlay
 * branch's, docs/overlay.md): no copy of anything, O(1). */
#define BS_TREE_SRC_EMPTY UINT64_MAX

/** How a primitive backend makes snapshot and branch trees. */
typedef enum bs_tree_method {
  BS_TREE_NATIVE = 1,  /**< the filesystem's own snapshots (btrfs subvolumes, APFS, the sim) */
  BS_TREE_REFLINK = 2, /**< a recursive reflink copy (xfs), made read-only for a snapshot */
  BS_TREE_COPY = 3,    /**< a recursive byte copy (ext4, tmpfs), only when asked for */
} bs_tree_method;

/** What one public call was, for a backend that models time (op_done). */
typedef enum bs_op_class {
  BS_OPC_META = 0,  /**< namespace and metadata calls, snapshot and branch lookups */
  BS_OPC_READ,      /**< bs_read */
  BS_OPC_WRITE,     /**< bs_write, bs_truncate */
  BS_OPC_SYNC,      /**< bs_sync */
  BS_OPC_REFLINK,   /**< bs_reflink */
  BS_OPC_SNAPSHOT,  /**< snapshot and branch create and delete */
} bs_op_class;

/** An open registry of a primitive backend (its own type). */
typedef struct bs_registry bs_registry;

/** The base every backend store embeds first. */
struct bs_store {
  const bs_backend_ops *ops;  /**< the backend that made this store */
  /**
   * Serialises the bs_* calls on this store, so a store may be shared by
   * threads: calls that change snapshots and branches (and bs_replace())
   * hold it exclusively, the others shared, so they run at once where the
   * backend allows.  Every call is atomic with respect to the snapshot and
   * branch calls, which are linearizable.  bs_open() sets it up through
   * bs_store_init(); backends never take it (a backend whose own state is
   * not thread-safe locks that itself).
   */
  pthread_rwlock_t lock;
  /** Tells the calling thread's last failure on this store from one of an
   * earlier store at the same address (set by bs_store_init()). */
  uint64_t serial;
  /** The core's own state of the store (its registry cache); backends never
   * touch it. */
  struct bs__core *core;
  /** The RAM disk of a store opened in the RAM-disk mode (bs_open_opts.ramdisk),
   * destroyed by bs_close() after the backend's close; else NULL.  Set by
   * bs_open(); backends never touch it. */
  struct bs_ramdisk *ramdisk;
};

/**
 * The ops table.  Every method but open/close may be NULL (BS_EUNSUPPORTED).
 * Paths are store-relative absolute paths, already checked non-NULL.
 */
struct bs_backend_ops {
  int version;        /**< BS_BACKEND_OPS_VERSION the table was written for */
  const char *name;   /**< registry name ("sim", "real", "faults") */

  /** Open a store; @p inner is the text after "name:" or NULL. */
  int (*open)(bs_store **out, const bs_open_opts *opts, const char *inner);
  /** Release everything @p st holds (bs_close()). */
  void (*close)(bs_store *st);

  int (*caps)(bs_store *st, bs_caps *out);  /**< contract of bs_get_caps() */
  int (*probe_fs_type)(bs_store *st, const char *path, bs_fs_type *out);  /**< contract of bs_probe_fs_type() */
  int (*reflink)(bs_store *st, const char *src, const char *dst);  /**< contract of bs_reflink() */
  int (*usage)(bs_store *st, bs_usage *out);  /**< contract of bs_usage_get() */

  int (*create)(bs_store *st, const char *path, uint32_t mode);  /**< contract of bs_create() */
  int (*mkdir)(bs_store *st, const char *path, uint32_t mode);  /**< contract of bs_mkdir() */
  int (*write)(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len);  /**< contract of bs_write() */
  int (*read)(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread);  /**< contract of bs_read() */
  int (*truncate)(bs_store *st, const char *path, uint64_t size);  /**< contract of bs_truncate() */
  int (*unlink)(bs_store *st, const char *path);  /**< contract of bs_unlink() */
  int (*rmdir)(bs_store *st, const char *path);  /**< contract of bs_rmdir() */
  int (*rename)(bs_store *st, const char *from, const char *to);  /**< contract of bs_rename() */
  int (*stat)(bs_store *st, const char *path, bs_stat_info *out);  /**< contract of bs_stat() */
  int (*chmod)(bs_store *st, const char *path, uint32_t mode);  /**< contract of bs_chmod() */
  int (*utimens)(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns);  /**< contract of bs_utimens() */
  int (*readdir)(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx);  /**< contract of bs_readdir() */
  int (*setxattr)(bs_store *st, const char *path, const char *name, const void *value, size_t len);  /**< contract of bs_setxattr() */
  int (*getxattr)(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len);  /**< contract of bs_getxattr() */
  int (*removexattr)(bs_store *st, const char *path, const char *name);  /**< contract of bs_removexattr() */
  int (*listxattr)(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx);  /**< contract of bs_listxattr() */
  int (*sync)(bs_store *st, const char *path);  /**< contract of bs_sync() */

  int (*snapshot_create)(bs_store *st, const char *name, bs_snapshot_info *out);  /**< contract of bs_snapshot_create() */
  int (*snapshot_list)(bs_store *st, bs_snapshot_info **out, size_t *count);  /**< contract of bs_snapshot_list() */
  int (*snapshot_delete)(bs_store *st, uint64_t id);  /**< contract of bs_snapshot_delete() */
  int (*snapshot_mount_ro)(bs_store *st, uint64_t id, char *path, size_t cap);  /**< contract of bs_snapshot_mount_ro() */
  int (*branch_create)(bs_store *st, uint64_t snapshot_id, const char *name);  /**< contract of bs_branch_create() */
  int (*branch_delete)(bs_store *st, const char *name);  /**< contract of bs_branch_delete() */

  /* Lab hooks: the sim implements them; wrappers forward them. */

  /** Simulate a power loss: unsynced writes are dropped or torn (seeded). */
  int (*power_loss)(bs_store *st, bs_power_loss_mode mode);
  /**
   * Check every internal invariant (block refcounts against all extent maps,
   * space accounting).  On failure returns BS_ECORRUPT and describes the
   * first violation in st->last_msg.
   */
  int (*check)(bs_store *st);
  /** Virtual clock in ns (sim) or CLOCK_REALTIME (real). */
  int (*clock_ns)(bs_store *st, int64_t *out);

  /* ---- version 2: methods are only ever appended, after the lab hooks too ---- */

  int (*chown)(bs_store *st, const char *path, uint32_t uid, uint32_t gid);  /**< contract of bs_chown() */
  int (*branch_parent)(bs_store *st, const char *name, uint64_t *snapshot_id); /**< contract of bs_branch_parent() (complete backends) */
  /** Contract of bs_store_create(); @p inner as for open. */
  int (*create_store)(const bs_open_opts *opts, const char *inner);

  /* The tree and registry primitives of a primitive backend.  Each returns
   * 0 or a BS_E* code with a message (bs_store_fail()) that the core puts
   * after the name of the call ("snapshot create: ..."). */

  /** How this store makes trees (from its filesystem and bs_open_opts.flags);
   * BS_EUNSUPPORTED when it cannot. */
  int (*tree_method)(bs_store *st, bs_tree_method *out);
  /**
   * Make tree (@p kind, @p id), which must not exist, a copy of the main tree
   * (@p src_snapshot 0) or of snapshot tree @p src_snapshot, by method @p m:
   * read-only for a snapshot, leaving out the main tree's "/.bs".  All or
   * nothing.  @p uuid gets the filesystem's UUID of the new tree, or a fresh
   * random version-4 UUID.
   */
  int (*tree_create)(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id, uint64_t src_snapshot,
                     uint8_t uuid[16]);
  /* (BS_TREE_SRC_EMPTY as @p src_snapshot of a branch: an empty writable
   * directory, mode 0755, whatever @p m; an overlay branch's tree.) */
  /** Whether tree_delete of (@p kind, @p id) would succeed for this caller:
   * 0, or the refusal (BS_EPERMISSION with the reason); NULL: always. */
  int (*tree_may_delete)(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id);
  /** Remove tree (@p kind, @p id) whatever it holds; 0 when it is gone or was
   * not there.  Returns once the space it held shows as free in usage. */
  int (*tree_delete)(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id);
  /** Call @p cb with the id of every tree of @p kind there is (any order);
   * a non-zero return stops. */
  int (*tree_list)(bs_store *st, bs_tree_kind kind, int (*cb)(void *ctx, uint64_t id), void *ctx);
  /**
   * Open the registry to read it (@p change false: shared with other
   * processes, and it must work on a read-only store) or to change it
   * (exclusive: made where it is kept if need be).  *@p buf (malloc'ed;
   * NULL with *@p len 0 when there is none yet) gets its bytes as saved.
   */
  int (*registry_open)(bs_store *st, bool change, bs_registry **out, uint8_t **buf, size_t *len);
  /**
   * Replace the registry's bytes with @p buf, atomically and durably.  On
   * failure the old bytes stay, unless *@p landed says the new ones could
   * neither be made durable nor be taken back: the caller must then keep
   * what they name.
   */
  int (*registry_save)(bs_store *st, bs_registry *r, const uint8_t *buf, size_t len, bool *landed);
  /** Close what registry_open opened; @p failed: the change did not go
   * through, so what opening made for it may be taken away again. */
  void (*registry_close)(bs_store *st, bs_registry *r, bool failed);
  /** Make the trees viewable after a restart (darwin mounts its snapshot
   * views again); NULL: nothing to do. */
  int (*tree_revive)(bs_store *st);
  /** One public call of class @p cls ended (after it ran, whatever its
   * result): a backend with a virtual clock advances it here.  NULL: none. */
  void (*op_done)(bs_store *st, bs_op_class cls);

  /* ---- version 3: links ---- */

  /** Contract of bs_symlink(); @p target is the text stored, never a path the
   * core placed (it is not resolved when the link is made). */
  int (*symlink)(bs_store *st, const char *target, const char *linkpath);
  /** Contract of bs_readlink(); @p cap >= 1 and @p buf non-NULL. */
  int (*readlink)(bs_store *st, const char *path, char *buf, size_t cap, size_t *len);
  /** Contract of bs_link(): both paths in one tree (the core checked it). */
  int (*link)(bs_store *st, const char *oldpath, const char *newpath);

  /* ---- version 4: overlay ---- */

  /**
   * Make an overlay whiteout at backend path @p path, which must not exist:
   * a character device 0/0, the form Linux overlayfs writes and reads in an
   * upper layer (docs/overlay.md).  NULL or BS_EUNSUPPORTED: the core writes
   * the xattr form instead (a zero-size file with "user.overlay.whiteout").
   */
  int (*whiteout)(bs_store *st, const char *path);

  /* ---- version 5: snapshots of a branch ---- */

  /**
   * Make snapshot tree @p id, which must not exist, a read-only copy of the
   * directory at backend path @p src, a directory below a branch tree
   * ("/.bs/branch/ID/upper": an overlay branch's upper layer, or a tree the
   * core built there), by method @p m as tree_create makes a snapshot of
   * the main tree: everything below @p src is kept as it is, special files
   * (overlay whiteouts, character devices 0/0) and xattrs (opaque marks)
   * too, and a top-level ".bs" is left out.  All or nothing.  @p uuid as
   * for tree_create.  NULL: snapshots of a branch are UNSUPPORTED.
   */
  int (*tree_freeze)(bs_store *st, bs_tree_method m, uint64_t id, const char *src, uint8_t uuid[16]);
};

/**
 * Register a backend under ops->name.  Built-in backends are always present.
 * @return 0, BS_EEXISTS if the name is taken, BS_EINVALID for a bad table,
 * BS_ENO_MEMORY when the registry is full.
 */
BS_API int bs_backend_register(const bs_backend_ops *ops);
/** Find a backend by name (the part before ':'); NULL if none. */
BS_API const bs_backend_ops *bs_backend_find(const char *name);

/**
 * Set up the base of a new store made by backend @p ops (bs_open() does this
 * for every store it returns; a backend that hands out stores another way,
 * like bs_sim_load(), calls it itself).  bs_close() tears it down.
 */
BS_API void bs_store_init(bs_store *st, const bs_backend_ops *ops);

/** Record a failure on @p st for the calling thread: @p err is returned,
 * errno and message are kept (bs_last_message() of that thread). */
BS_API int bs_store_fail(bs_store *st, int err, int os_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Forget the calling thread's last failure on @p st. */
BS_API void bs_store_clear_error(bs_store *st);

/** Simulate a power loss (sim only; BS_EUNSUPPORTED elsewhere). */
BS_API int bs_power_loss(bs_store *st, bs_power_loss_mode mode);
/** Run the backend's invariant check (BS_EUNSUPPORTED if it has none). */
BS_API int bs_check(bs_store *st);
/** Backend clock in ns (virtual in the sim). */
BS_API int bs_clock_ns(bs_store *st, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_BACKEND_H */
