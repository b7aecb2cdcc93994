/**
 * @file backstore/backend.h
 * @brief The backend-author API: the versioned ops table and the registry.
 *
 * A backend fills a `bs_backend_ops` table (SQLite-VFS style: `version`
 * first, methods only ever appended) and embeds `struct bs_store` as the
 * first member of its own store struct, casting back in its methods.
 * Callers go through the bs_* functions of backstore.h, which check
 * `version` and treat a NULL method as BS_EUNSUPPORTED.
 */
#ifndef BACKSTORE_BACKEND_H
#define BACKSTORE_BACKEND_H

#include <pthread.h>

#include "../backstore.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the ops layout this header describes. */
#define BS_BACKEND_OPS_VERSION 1

/** Kinds of simulated power loss (see bs_backend_ops.power_loss). */
typedef enum bs_power_loss_mode {
  BS_POWER_LOSS_DROP = 1, /**< every unsynced write is lost */
  BS_POWER_LOSS_TEAR = 2, /**< each unsynced block survives or not (seeded) */
} bs_power_loss_mode;

/** The ops table of a backend (struct bs_backend_ops below). */
typedef struct bs_backend_ops bs_backend_ops;

/** The base every backend store embeds first. */
struct bs_store {
  const bs_backend_ops *ops;  /**< the backend that made this store */
  int last_os_errno;          /**< errno behind the last failure, or 0 */
  char last_msg[256];         /**< message of the last failure, or "" */
  /**
   * Serialises the bs_* calls on this store, so a store may be shared by
   * threads and every call is atomic with respect to the others (snapshot
   * and branch calls are linearizable).  Recursive, so a bs_readdir() or
   * bs_listxattr() callback may call the store on its own thread.
   * bs_open() sets it up through bs_store_init(); backends never take it
   * themselves.
   */
  pthread_mutex_t lock;
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

  /* Later file ops: methods are only ever appended, after the lab hooks too. */

  int (*chown)(bs_store *st, const char *path, uint32_t uid, uint32_t gid);  /**< contract of bs_chown() */
  int (*branch_parent)(bs_store *st, const char *name, uint64_t *snapshot_id); /**< contract of bs_branch_parent() */
  /** Contract of bs_store_create(); @p inner as for open. */
  int (*create_store)(const bs_open_opts *opts, const char *inner);
};

/**
 * Register a backend under ops->name.  Built-in backends are always present.
 * @return 0, BS_EEXISTS if the name is taken, BS_EINVALID for a bad table,
 * BS_ENO_MEMORY when the registry is full.
 */
int bs_backend_register(const bs_backend_ops *ops);
/** Find a backend by name (the part before ':'); NULL if none. */
const bs_backend_ops *bs_backend_find(const char *name);

/**
 * Set up the base of a new store made by backend @p ops (bs_open() does this
 * for every store it returns; a backend that hands out stores another way,
 * like bs_sim_load(), calls it itself).  bs_close() tears it down.
 */
void bs_store_init(bs_store *st, const bs_backend_ops *ops);

/** Record a failure on @p st: @p err is returned, errno and message are kept. */
int bs_store_fail(bs_store *st, int err, int os_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Forget the last failure of @p st. */
void bs_store_clear_error(bs_store *st);

/** Simulate a power loss (sim only; BS_EUNSUPPORTED elsewhere). */
int bs_power_loss(bs_store *st, bs_power_loss_mode mode);
/** Run the backend's invariant check (BS_EUNSUPPORTED if it has none). */
int bs_check(bs_store *st);
/** Backend clock in ns (virtual in the sim). */
int bs_clock_ns(bs_store *st, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_BACKEND_H */
