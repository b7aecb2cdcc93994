/**
 * @file backstore.h
 * @brief Public API of backstore: the storage layer of an agent filesystem.
 *
 * A consumer opens a *store* on a backend chosen by name at run time
 * (`"sim"`, `"real"`, `"faults:<inner>"`), then clones files copy-on-write
 * (reflink, with clonefile(2) semantics), takes read-only snapshots and makes
 * writable branches from them.  Every function returns 0 or a negative
 * `BS_E*` code from the error table below; out parameters come first.
 *
 * Paths are store-relative and absolute ("/dir/file").  Snapshots and branches
 * are reachable below the reserved directory "/.bs" (see bs_snapshot_path()
 * and bs_branch_path()); a consumer cannot create anything there itself.
 */
#ifndef BACKSTORE_H
#define BACKSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Marks a declaration as part of the public ABI.  The library is built with
 * -fvisibility=hidden, so only what carries BS_API is exported from
 * libbackstore.so (scripts/check-symbols.sh checks exactly that).
 */
#ifndef BS_API
#if defined(__GNUC__) || defined(__clang__)
#define BS_API __attribute__((visibility("default")))
#else
#define BS_API
#endif
#endif

/** Library major version (semantic versioning: incompatible API changes). */
#define BS_VERSION_MAJOR 0
/** Library minor version (compatible additions). */
#define BS_VERSION_MINOR 1
/** Library patch version (fixes). */
#define BS_VERSION_PATCH 0

/**
 * The version of the library actually loaded, "MAJOR.MINOR.PATCH" (it may
 * be newer than the BS_VERSION_* macros a program was compiled with).
 * Static storage; never NULL.
 */
BS_API const char *bs_version(void);

/**
 * The error table: XX(NAME, wire number, representative errno, message).
 *
 * The enum value of `BS_E<NAME>` is minus the wire number, so 0 is success
 * and every failure is negative.  Wire numbers are fixed forever (they are
 * sent in ErrorResponse); new codes are only appended.
 */
#define BS_ERRNO_MAP(XX)                                                        \
  XX(UNSUPPORTED,    1, EOPNOTSUPP, "operation not supported by this filesystem or backend") \
  XX(NOT_FOUND,      2, ENOENT,  "no such file, snapshot, branch or volume")    \
  XX(EXISTS,         3, EEXIST,  "destination or name already exists")         \
  XX(BUSY,           4, EBUSY,   "resource busy (snapshot has branches, volume mounted)") \
  XX(NO_SPACE,       5, ENOSPC,  "no space left on volume")                     \
  XX(INVALID,        6, EINVAL,  "invalid argument or name")                    \
  XX(NAME_TOO_LONG,  7, ENAMETOOLONG, "name too long")                          \
  XX(PERMISSION,     8, EACCES,  "permission denied (read-only, EPERM/EACCES, missing entitlement)") \
  XX(CROSS_DEVICE,   9, EXDEV,   "source and destination are on different volumes") \
  XX(IO,            10, EIO,     "input/output error")                          \
  XX(TOOL_FAILED,   11, ECHILD,  "an external tool exited with an error")       \
  XX(PARSE,         12, EBADMSG, "output of an external tool could not be parsed") \
  XX(NO_MEMORY,     13, ENOMEM,  "out of memory")                               \
  XX(CORRUPT,       14, EUCLEAN, "internal invariant or on-disk record is inconsistent")

/** Error codes: 0 is success, failures are negative. */
typedef enum bs_error {
  BS_OK = 0,
/** @cond INTERNAL */
#define BS__XX(name, wire, eno, msg) BS_E##name = -(wire),
  BS_ERRNO_MAP(BS__XX)
#undef BS__XX
  /** @endcond */
} bs_error;

/** Number of wire codes including OK (largest wire number + 1). */
#define BS_ERROR_COUNT 15

/** Short upper-case name of @p err ("NOT_FOUND"); "UNKNOWN" if not a code. */
BS_API const char *bs_err_name(int err);
/** One-line human message for @p err. */
BS_API const char *bs_strerror(int err);
/** Wire number of @p err (0 for OK); 0xffff if @p err is not a code. */
BS_API uint16_t bs_err_wire(int err);
/** Code for wire number @p wire; BS_EINVALID if the number is unknown. */
BS_API int bs_err_from_wire(uint16_t wire);
/** Map an OS errno (positive) to a code; unknown errnos map to BS_EIO. */
BS_API int bs_err_from_errno(int os_errno);
/** Representative OS errno of @p err (0 for OK). */
BS_API int bs_err_to_errno(int err);

/** Filesystem type numbers, as sent in CapabilityResponse.fs_type. */
typedef enum bs_fs_type {
  BS_FS_OTHER = 0,
  BS_FS_APFS = 1,
  BS_FS_HFS = 2,
  BS_FS_BTRFS = 3,
  BS_FS_XFS = 4,
  BS_FS_EXT4 = 5,
  BS_FS_TMPFS = 6,
} bs_fs_type;

/** Number of bs_fs_type values. */
#define BS_FS_TYPE_COUNT 7

/** Canonical lower-case name of @p t ("apfs"); "other" for unknown values. */
BS_API const char *bs_fs_type_name(int t);
/** Type for a name ("btrfs"); BS_FS_OTHER when the name is not known. */
BS_API bs_fs_type bs_fs_type_from_name(const char *name);

/** Capabilities of a store's filesystem (DESIGN §4 CapabilityResponse). */
typedef struct bs_caps {
  uint16_t schema_version;    /**< always 1 for this layout */
  uint8_t fs_type;            /**< a bs_fs_type */
  bool native_snapshots;      /**< snapshots are a filesystem feature */
  bool native_reflink;        /**< reflink shares blocks (clonefile/FICLONE) */
  bool xattrs;                /**< extended attributes are supported */
  bool case_sensitive;        /**< name lookups are case-sensitive */
  uint16_t max_name_len;      /**< longest path component, in bytes */
  char fs_type_name[17];      /**< NUL-terminated ASCII, at most 16 bytes */
} bs_caps;

/** Fill @p out with the DESIGN §4 table row for @p t. */
BS_API int bs_caps_for_type(bs_caps *out, bs_fs_type t);

/** Opaque handle of an open store. */
typedef struct bs_store bs_store;

/** Options for bs_open(); zero-initialise, then set what you need. */
typedef struct bs_open_opts {
  const char *root;       /**< real backends: directory of the store */
  const char *profile;    /**< sim: apfs, hfs, btrfs, xfs, ext4 or tmpfs */
  uint64_t seed;          /**< sim: seed of every random choice (jitter, tears) */
  uint64_t capacity;      /**< sim: volume size in bytes; 0 = 64 MiB */
  uint32_t flags;         /**< BS_OPEN_* bits; 0 for the defaults */
  /**
   * "faults:<inner>": the fault spec (backstore/faults.h, docs/faults.md);
   * NULL or "" injects nothing.  Other backends ignore it.  Appended field:
   * zero-initialised options keep working.
   */
  const char *faults;
  /**
   * The RAM-disk store mode (docs/ramdisk.md): with backend "real" and
   * @c root NULL, bs_open() makes a new RAM disk from these options, opens
   * the store at its mount, and bs_close() destroys it.  NULL: an ordinary
   * store.  Appended field.
   */
  const struct bs_ramdisk_opts *ramdisk;
} bs_open_opts;

/**
 * bs_open_opts.flags: on a real filesystem with neither native snapshots nor
 * reflink (ext4, tmpfs), make snapshots and branches as full byte copies
 * instead of answering BS_EUNSUPPORTED.  Copies take time and space in
 * proportion to the tree; capabilities still say native_snapshots false.
 */
#define BS_OPEN_SNAPSHOT_COPY 0x1u

/**
 * Open a store on backend @p backend ("sim", "real", "faults:sim", ...).
 * The store may be shared by threads: file calls run at once where the
 * backend allows, snapshot and branch calls one at a time, and each call is
 * atomic with respect to those (docs/architecture.md, "Threads").
 * @return 0, BS_ENOT_FOUND for an unknown backend, BS_EINVALID for bad options.
 */
BS_API int bs_open(bs_store **out, const char *backend, const bs_open_opts *opts);
/**
 * Make the directory @p opts->root of a new store on backend @p backend, ready
 * for every feature the filesystem has: on btrfs a subvolume (so snapshots
 * are native), elsewhere a plain directory (mode 0755).  Its parent must
 * exist.  @return 0; BS_EEXISTS if @p opts->root exists; BS_EUNSUPPORTED for
 * a backend whose stores are not directories (the sim); BS_EINVALID without
 * a root; the mapped OS error otherwise.
 */
BS_API int bs_store_create(const char *backend, const bs_open_opts *opts);
/** Close @p st and release everything it holds; NULL is ignored. */
BS_API void bs_close(bs_store *st);

/**
 * OS errno behind the calling thread's last failure on @p st (0 if none or
 * not an OS error).  Failures are kept per thread, so threads sharing a
 * store never read each other's; a thread keeps those of the last few
 * stores it used (BS_LAST_ERROR_STORES).
 */
BS_API int bs_last_os_errno(const bs_store *st);
/** Message describing the calling thread's last failure on @p st ("" if
 * none); valid until that thread's next call on a store. */
BS_API const char *bs_last_message(const bs_store *st);
/** How many stores' last failures each thread keeps. */
#define BS_LAST_ERROR_STORES 8

/** Capabilities of the store's filesystem. */
BS_API int bs_get_caps(bs_store *st, bs_caps *out);
/** Filesystem type of the volume holding @p path (a host path for real). */
BS_API int bs_probe_fs_type(bs_store *st, const char *path, bs_fs_type *out);

/**
 * Clone @p src to @p dst with clonefile(2) semantics: @p dst must not exist
 * (BS_EEXISTS); the clone is a new file sharing every block with @p src until
 * either is written; mode, owner, times and xattrs are preserved.  All or
 * nothing: on failure @p dst does not exist and @p src is unchanged.
 */
BS_API int bs_reflink(bs_store *st, const char *src, const char *dst);

/** Kinds of inode. */
typedef enum bs_file_kind { BS_KIND_FILE = 1, BS_KIND_DIR = 2, BS_KIND_SYMLINK = 3 } bs_file_kind;

/** What bs_stat() reports. Times are nanoseconds since the epoch. */
typedef struct bs_stat_info {
  uint64_t ino;           /**< inode number, unique among live inodes of the store */
  bs_file_kind kind;      /**< file, directory or symlink */
  uint32_t mode;          /**< permission bits (07777) */
  uint32_t uid;           /**< owner */
  uint32_t gid;           /**< group */
  uint32_t nlink;         /**< hard links (directories: 2 + subdirectories) */
  uint64_t size;          /**< length in bytes */
  uint64_t blocks;        /**< 512-byte units allocated to the file (shared ones too), as st_blocks */
  int64_t atime_ns;       /**< last access */
  int64_t mtime_ns;       /**< last change of the contents */
  int64_t ctime_ns;       /**< last change of the inode */
  int64_t btime_ns;       /**< birth time; 0 when the filesystem has none */
} bs_stat_info;

/** Volume usage. shared_bytes counts blocks referenced more than once. */
typedef struct bs_usage {
  uint64_t block_size;    /**< allocation unit in bytes */
  uint64_t total_bytes;   /**< size of the volume */
  uint64_t used_bytes;    /**< bytes of allocated blocks, each counted once */
  uint64_t free_bytes;    /**< total_bytes - used_bytes */
  uint64_t shared_bytes;  /**< bytes of blocks referenced more than once */
} bs_usage;

/** Usage of the volume (statvfs-like, exact in the sim). */
BS_API int bs_usage_get(bs_store *st, bs_usage *out);

/** Create an empty regular file; BS_EEXISTS if @p path exists. */
BS_API int bs_create(bs_store *st, const char *path, uint32_t mode);
/** Create a directory; BS_EEXISTS if @p path exists. */
BS_API int bs_mkdir(bs_store *st, const char *path, uint32_t mode);
/** Write @p len bytes at @p off, extending the file as needed. */
BS_API int bs_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len);
/** Read up to @p len bytes at @p off; *@p nread gets the count (0 at EOF). */
BS_API int bs_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread);
/** Set the size of a regular file, releasing or zero-extending. */
BS_API int bs_truncate(bs_store *st, const char *path, uint64_t size);
/** Remove a file. */
BS_API int bs_unlink(bs_store *st, const char *path);
/** Remove an empty directory. */
BS_API int bs_rmdir(bs_store *st, const char *path);
/** Rename @p from to @p to, replacing a file at @p to. */
BS_API int bs_rename(bs_store *st, const char *from, const char *to);
/** Metadata of @p path. */
BS_API int bs_stat(bs_store *st, const char *path, bs_stat_info *out);
/** Change permission bits. */
BS_API int bs_chmod(bs_store *st, const char *path, uint32_t mode);
/** A uid or gid for bs_chown() that leaves that id unchanged (chown(2)'s -1). */
#define BS_ID_KEEP UINT32_MAX
/**
 * Change the owner and group of @p path and set its ctime; either id may be
 * BS_ID_KEEP.  The sim models a privileged (root) caller: any ids are allowed
 * and the mode bits are left as they are.  BS_ENOT_FOUND if @p path does not
 * exist; BS_EPERMISSION inside a read-only snapshot tree or a /.bs directory;
 * BS_EUNSUPPORTED if the backend lacks the method.
 */
BS_API int bs_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid);
/** Set access and modification times (ns since the epoch). */
BS_API int bs_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns);

/** Longest symlink target bs_symlink() accepts, in bytes (PATH_MAX less its NUL). */
#define BS_SYMLINK_TARGET_MAX 4095

/**
 * Make a symbolic link @p linkpath whose target text is @p target (stored as
 * it is, not resolved: it may name nothing).  @p target is 1 to
 * BS_SYMLINK_TARGET_MAX bytes (empty: BS_EINVALID; longer:
 * BS_ENAME_TOO_LONG, checked before anything is allocated).  BS_EEXISTS if
 * @p linkpath exists; BS_EPERMISSION in a snapshot tree or in /.bs.
 *
 * Confinement: a symlink never takes a store call outside its tree.  The
 * last component of a path is never followed (bs_stat() reports the link
 * itself, BS_KIND_SYMLINK, size = target length; bs_read(), bs_write(),
 * bs_truncate() and bs_chmod() on a symlink are BS_EINVALID; bs_unlink() and
 * bs_rename() act on the link).  A symlink met earlier in a path is followed
 * while its target stays in the same tree (the main tree, never into /.bs; or
 * one snapshot or branch tree); a target that leaves it, an absolute target
 * outside the store ("/", "/etc") or a ".." above the tree's root, makes the
 * call BS_EPERMISSION with a message saying the symlink leads outside its
 * tree.  At most 40 symlinks are followed in one path (more: BS_EINVALID,
 * ELOOP).
 */
BS_API int bs_symlink(bs_store *st, const char *target, const char *linkpath);
/**
 * Read the target text of symlink @p path.  *@p len gets the full target
 * length (without a NUL).  When @p cap > *@p len the text is copied and
 * NUL-terminated; when text and NUL do not fit (@p cap <= *@p len) the
 * call fails with BS_EINVALID (errno ERANGE, as bs_getxattr()) and @p buf is
 * left untouched (no partial copy), *@p len still set: call again with
 * *@p len + 1 bytes.  @p buf may be NULL with @p cap 0 to learn the length
 * (then the call succeeds and copies nothing).  BS_EINVALID if @p path is
 * not a symlink, BS_ENOT_FOUND if it does not exist.
 */
BS_API int bs_readlink(bs_store *st, const char *path, char *buf, size_t cap, size_t *len);
/**
 * Make @p newpath a second name (hard link) of the file or symlink
 * @p oldpath: both names share one inode (bs_stat() nlink counts them) and
 * its data; removing one name keeps the data for the others.  Not for
 * directories (BS_EPERMISSION, EPERM as link(2)); both names in one tree
 * (the main tree, or one branch: between trees BS_ECROSS_DEVICE); not in a
 * snapshot tree nor in /.bs (BS_EPERMISSION).  BS_EEXISTS if @p newpath
 * exists, BS_ENOT_FOUND if @p oldpath does not.  The last component of
 * @p oldpath is not followed (a link to a symlink links the symlink).
 */
BS_API int bs_link(bs_store *st, const char *oldpath, const char *newpath);

/**
 * Callback of bs_readdir(); return non-zero to stop early.  It may call the
 * store (on the same thread): the listing was taken before the first call.
 */
typedef int (*bs_readdir_cb)(void *ctx, const char *name, bs_file_kind kind);
/** List a directory in a stable order (byte order of names). */
BS_API int bs_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx);

/** Set xattr @p name to @p value (creating or replacing). */
BS_API int bs_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len);
/**
 * Read xattr @p name into @p buf (capacity @p cap); *@p len gets its size.
 * With @p cap 0 only the size is reported.  BS_ENOT_FOUND if absent,
 * BS_EINVALID if @p cap is non-zero and too small.
 */
BS_API int bs_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len);
/** Remove xattr @p name; BS_ENOT_FOUND if absent. */
BS_API int bs_removexattr(bs_store *st, const char *path, const char *name);
/** Callback of bs_listxattr(); return non-zero to stop early. */
typedef int (*bs_xattr_cb)(void *ctx, const char *name);
/** List xattr names in byte order. */
BS_API int bs_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx);

/** Make buffered writes of @p path durable; NULL syncs the whole store. */
BS_API int bs_sync(bs_store *st, const char *path);

/**
 * Source of the bytes of bs_replace(): put up to @p cap bytes into @p buf
 * and their number into *@p n (fewer than @p cap is fine); *@p n = 0 ends
 * the data.  Return 0, or a negative BS_E* code to abandon the replacement:
 * bs_replace() then returns that code and leaves the target as it was.
 */
typedef int (*bs_source_cb)(void *ctx, void *buf, size_t cap, size_t *n);

/** The most bs_replace() asks of its source at once: its one buffer. */
#define BS_REPLACE_CHUNK (1u << 20)

/**
 * Replace the whole content of file @p path atomically with the bytes
 * @p src gives, on any backend (docs/guarantees.md, "Atomic replacement").
 *
 * The bytes go to a temporary file in the same directory, named
 * ".NAME.bs-tmp.N" (".bs-tmp.N" where NAME is too long for that), N the
 * first free number from 0; it is written BS_REPLACE_CHUNK bytes at a time,
 * given its mode, synced, renamed over @p path, and the directory is synced.
 * Readers see the old file or the new one, never a mix or an empty file.
 *
 * On a failure at any step up to the rename (the source's included) the
 * temporary file is removed and @p path is exactly as it was: its old
 * content, or absent.  Only when the last step, the directory sync, fails
 * is the new content already in place; the error says that it may not
 * survive a crash.
 *
 * An existing file keeps its permission bits, less set-user-ID and
 * set-group-ID; a new file gets @p mode (07777).  The replacement is a new
 * inode: its owner and group are the caller's, as for bs_create(); xattrs
 * and times are not carried over; other hard links of the old file keep the
 * old content.  A symlink at @p path is itself replaced (its target is not
 * written).  The sim's directory sync makes every file below the directory
 * durable, as its bs_sync() of a directory does.
 *
 * The store's lock is held for the whole sequence, so other threads of this
 * store never see the temporary file or a half-done step; @p src runs under
 * it, so it may call this store from its own thread but must not wait for
 * another thread that uses the store.  Other processes sharing a real store
 * may see the temporary file while it is written.
 *
 * @return 0; BS_EINVALID for a relative path, a path ending in '/', "." or
 * "..", a directory at @p path, or a NULL @p src; BS_EEXISTS when the
 * first 100 temporary names are all taken; the code of the step that failed
 * (NOT_FOUND for a missing parent, NO_SPACE, PERMISSION in a snapshot, ...)
 * or of @p src.
 */
BS_API int bs_replace(bs_store *st, const char *path, uint32_t mode, bs_source_cb src, void *ctx);

/** Longest snapshot or branch name, in bytes. */
#define BS_NAME_MAX 255

/** What a snapshot list reports (DESIGN §4 SnapshotInfo). */
typedef struct bs_snapshot_info {
  uint64_t id;                 /**< internal id, unique in the store, never reused */
  uint8_t uuid[16];            /**< filesystem UUID (RFC 4122 layout) */
  char name[BS_NAME_MAX + 1];  /**< NUL-terminated */
  bool readonly;               /**< snapshots are always read-only (true) */
  uint32_t branch_count;       /**< branches that depend on this snapshot */
  uint64_t created_ns;         /**< creation time, ns since the epoch (the sim's virtual clock) */
} bs_snapshot_info;

/**
 * Take a read-only snapshot of the store's main tree, named @p name.
 * BS_EUNSUPPORTED without native snapshots; BS_EEXISTS for a duplicate name;
 * BS_EINVALID / BS_ENAME_TOO_LONG for a bad name.  @p out may be NULL.
 */
BS_API int bs_snapshot_create(bs_store *st, const char *name, bs_snapshot_info *out);
/** List snapshots in id order; free *@p out with free(). */
BS_API int bs_snapshot_list(bs_store *st, bs_snapshot_info **out, size_t *count);
/** Find a snapshot by name. */
BS_API int bs_snapshot_lookup(bs_store *st, const char *name, bs_snapshot_info *out);
/**
 * Take a read-only snapshot of branch @p branch named @p name
 * (docs/overlay.md, "Snapshots of an overlay branch").  Of an overlay
 * branch it freezes the upper layer only (a reflink tree: O(changed
 * files)) and records the branch's snapshot as its lower: a *stacked*
 * snapshot, which reads as the branch's view and holds its lower (BUSY on
 * the lower's delete).  A chain deeper than 8 layers is not made: the
 * branch's merged view is frozen instead, a plain snapshot.  Of a native
 * branch it is a plain snapshot of the branch's tree.  All or nothing.
 * @return 0; BS_ENOT_FOUND (no such branch), BS_EEXISTS (name taken),
 * BS_EINVALID (bad name), BS_EUNSUPPORTED where the backend cannot.
 */
BS_API int bs_branch_snapshot(bs_store *st, const char *branch, const char *name, bs_snapshot_info *out);
/** Delete snapshot @p id; BS_EBUSY while a branch depends on it, or a
 * stacked snapshot has it as its lower. */
BS_API int bs_snapshot_delete(bs_store *st, uint64_t id);
/**
 * Give a read-only view of snapshot @p id: its store path is written to
 * @p path (capacity @p cap).  In the sim this is bs_snapshot_path().
 */
BS_API int bs_snapshot_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap);
/** Create writable branch @p name from snapshot @p id. */
BS_API int bs_branch_create(bs_store *st, uint64_t snapshot_id, const char *name);
/** Delete branch @p name, dropping its reference on the snapshot. */
BS_API int bs_branch_delete(bs_store *st, const char *name);
/**
 * The id of the snapshot branch @p name was made from, in @p snapshot_id
 * (0 for an overlay branch over a host directory, bs_branch_create_host()).
 * @return 0; BS_ENOT_FOUND if there is no such branch; BS_EUNSUPPORTED where
 * the filesystem has no snapshots; BS_EINVALID for a bad name.
 */
BS_API int bs_branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id);

/** What a branch is made of (docs/overlay.md). */
typedef enum bs_branch_kind {
  BS_BRANCH_AUTO = 0,    /**< NATIVE where the filesystem has native snapshots (btrfs, APFS, the sim), else (and for a stacked snapshot) OVERLAY */
  BS_BRANCH_NATIVE = 1,  /**< a writable copy of the snapshot's tree (native snapshot, reflink or byte copy) */
  BS_BRANCH_OVERLAY = 2, /**< an empty upper layer over the snapshot: O(1) to make, files copied up on first write */
} bs_branch_kind;

/** Options of bs_branch_create_opts(); zero-initialise (AUTO). */
typedef struct bs_branch_opts {
  bs_branch_kind kind; /**< what to make; AUTO picks by the filesystem */
} bs_branch_opts;

/**
 * Create writable branch @p name from snapshot @p snapshot_id, of the kind
 * @p opts asks for (NULL: AUTO).  An overlay branch costs O(1): an empty
 * upper directory and a reference on the snapshot, whatever the tree's
 * size; it exists on every filesystem the store can snapshot on.
 * @return as bs_branch_create(); BS_EINVALID for an unknown kind;
 * BS_EUNSUPPORTED for OVERLAY on a backend that keeps its own snapshot
 * rules (a complete backend, such as faults:).
 */
BS_API int bs_branch_create_opts(bs_store *st, uint64_t snapshot_id, const char *name, const bs_branch_opts *opts);

/** Longest host directory bs_branch_create_host() takes, in bytes, with its NUL. */
#define BS_LOWER_DIR_MAX 4096

/**
 * Create overlay branch @p name whose lower layer is host directory
 * @p dir, outside the store (the user's workspace), not a snapshot
 * (docs/overlay.md, "A host directory as the lower").  O(1) as any overlay
 * branch: an empty upper in the store, and a record of @p dir.  The lower
 * is read-only to the store: nothing is ever written, renamed or chmod'ed
 * in it, a copy-up only reads it (a byte copy when it is on another
 * filesystem than the store, under the bs_interpose_set() policy); no
 * symlink or ".." in it leads outside it (PERMISSION).  @p dir is taken
 * as it is named at every use (symlinks on its way are followed); it must
 * be absolute.  The branch holds no snapshot (bs_branch_info_get() gives
 * snapshot_id 0).  A lower that is gone later makes every call in the
 * branch fail BS_ENOT_FOUND with a message that says so.
 * @return 0; BS_EINVALID for a bad name, a relative @p dir, or a @p dir
 * inside the store or holding it; BS_ENAME_TOO_LONG for a @p dir of
 * BS_LOWER_DIR_MAX bytes or more; BS_ENOT_FOUND when @p dir does not
 * exist; BS_EEXISTS for a taken name; BS_EUNSUPPORTED on a backend that
 * cannot reach host directories (the sim, complete backends such as
 * faults:).
 */
BS_API int bs_branch_create_host(bs_store *st, const char *dir, const char *name);

/**
 * The host directory that overlay branch @p name has as its lower, as
 * bs_branch_create_host() took it, into @p buf (capacity @p cap,
 * NUL-terminated).  @return 0; BS_ENOT_FOUND if there is no such branch;
 * BS_EINVALID if its lower is not a host directory (a snapshot, or a
 * native branch); BS_ENAME_TOO_LONG if it does not fit in @p cap.
 */
BS_API int bs_branch_lower_dir_get(bs_store *st, const char *name, char *buf, size_t cap);

/** What bs_branch_info() reports of a branch. */
typedef struct bs_branch_info {
  uint64_t id;                /**< branch id: names its tree, "/.bs/branch/<id>" */
  uint64_t snapshot_id;       /**< the snapshot it was made from (its lower, for an overlay); 0 for a host lower */
  bs_branch_kind kind;        /**< NATIVE or OVERLAY (never AUTO) */
  uint32_t depth;             /**< layers below the upper: 0 for a native branch, 1 for an overlay over a plain snapshot, the chain's length over a stacked one (registry format 3) */
  char name[BS_NAME_MAX + 1]; /**< NUL-terminated */
} bs_branch_info;

/**
 * Describe branch @p name.  @return 0; BS_ENOT_FOUND if there is no such
 * branch; BS_EUNSUPPORTED on a backend that keeps its own snapshot rules.
 */
BS_API int bs_branch_info_get(bs_store *st, const char *name, bs_branch_info *out);

/** Longest backend path bs_branch_layers() writes, with its NUL. */
#define BS_LAYER_PATH_MAX 64

/** Most lower layers bs_branch_layers holds (the chain of a branch of a
 * stacked snapshot is at most 8 deep, docs/overlay.md; the rest is room). */
#define BS_BRANCH_LAYERS_MAX 16

/** The layers of an overlay branch, as backend paths below the store's
 * root ("/.bs/branch/3/upper"): prefix a real store's root to get host
 * paths a kernel overlayfs mount takes (docs/overlay.md). */
typedef struct bs_branch_layers {
  char upper[BS_LAYER_PATH_MAX];  /**< upperdir: the branch's own changes, whiteouts, opaque marks */
  char work[BS_LAYER_PATH_MAX];   /**< workdir: where copy-ups and whiteouts are built */
  char lower[BS_LAYER_PATH_MAX];  /**< the top lower layer, the branch's snapshot's tree (= lowers[0]); "" for a host lower (bs_branch_lower_dir_get()) */
  uint32_t nlowers;               /**< how many lower layers: 1 over a plain snapshot, the chain's length over a stacked one, 0 over a host directory */
  char lowers[BS_BRANCH_LAYERS_MAX][BS_LAYER_PATH_MAX]; /**< the lower layers, top first: overlayfs lowerdir=lowers[0]:lowers[1]:... */
} bs_branch_layers;

/**
 * The layers of overlay branch @p name.  @return 0; BS_ENOT_FOUND if there
 * is no such branch; BS_EINVALID for a native branch (it has one tree:
 * bs_branch_path()); BS_EUNSUPPORTED as bs_branch_info_get().
 */
BS_API int bs_branch_layers_get(bs_store *st, const char *name, bs_branch_layers *out);

/**
 * Set the copy-up policy key @p key of @p st to @p value (the "Interpose
 * keys" of the control protocol): "forwarding" = "eager_upperize" (copy up
 * on the first write, the default) or "disabled" (refuse every copy-up);
 * "max_copy_bytes" = decimal bytes, the largest file a copy-up may copy
 * byte by byte ("0", the default: no limit; a reflink copy-up is not
 * bound); "require_reflink" = "true" or "false" (default): refuse a copy-up
 * that cannot share blocks.  A refused copy-up fails BS_EPERMISSION and
 * its message names the reason: "no_reflink", "size_threshold" or
 * "policy".  @return 0; BS_EINVALID for an unknown key or a bad value.
 */
BS_API int bs_interpose_set(bs_store *st, const char *key, const char *value);
/**
 * The current value of policy key @p key (as bs_interpose_set() takes it)
 * into @p buf (capacity @p cap, NUL-terminated).  @return 0; BS_EINVALID
 * for an unknown key; BS_ENAME_TOO_LONG if it does not fit.
 */
BS_API int bs_interpose_get(bs_store *st, const char *key, char *buf, size_t cap);

/**
 * Store path of a snapshot's tree: "/.bs/snapshots/<name>".
 * @return 0; BS_EINVALID or BS_ENAME_TOO_LONG for a bad name (see
 * bs_name_validate(); a name with control characters, which a store may
 * hold from before that rule, is accepted), BS_ENAME_TOO_LONG if the path does not fit in @p cap
 * bytes; on an error nothing is written to @p buf.
 */
BS_API int bs_snapshot_path(char *buf, size_t cap, const char *name);
/** Store path of a branch's tree: "/.bs/branches/<name>"; as bs_snapshot_path(). */
BS_API int bs_branch_path(char *buf, size_t cap, const char *name);

/**
 * Check a new snapshot or branch name: non-empty valid UTF-8 of at most
 * BS_NAME_MAX bytes, not "." or "..", without '/' and without control
 * characters: C0 (U+0001..U+001F: tab, newline, escape ...), DEL (U+007F)
 * and C1 (U+0080..U+009F).  NUL cannot occur in a C string.  Names a store
 * already holds from before the control-character rule are still listed,
 * reached and deleted (docs/names.md).
 * @return 0, BS_EINVALID or BS_ENAME_TOO_LONG.
 */
BS_API int bs_name_validate(const char *name);

/** Room bs_text_escape() needs for any name: 4 bytes per byte, and the NUL. */
#define BS_NAME_ESCAPED_MAX (4 * BS_NAME_MAX + 1)

/**
 * Make @p text safe for a line of a terminal or a log: each byte of a
 * control character (C0, DEL, C1) and each byte that is not part of valid
 * UTF-8 is written as "\xHH" (lower-case hex); everything else is copied.
 * The result is valid UTF-8 without control characters.  It is written to
 * @p buf (capacity @p cap, always NUL-terminated when @p cap > 0), cut
 * before the first character or escape that does not fit.
 * @return the length of the whole escaped text, without the NUL (as
 * snprintf(): a result >= @p cap means it was cut).  NULL @p text is "".
 */
BS_API size_t bs_text_escape(char *buf, size_t cap, const char *text);

/* ---- RAM disks ------------------------------------------------------------ */

/** Options for bs_ramdisk_create(); zero-initialise, then set what you need. */
typedef struct bs_ramdisk_opts {
  const char *fs;    /**< "btrfs", "xfs", "ext4", "tmpfs" (Linux); "apfs" (macOS) */
  uint64_t size_mb;  /**< size in MiB, at least 1 and at most the memory available */
  const char *label; /**< optional volume label: no '/', at most 255 bytes; NULL or "" for none */
  /**
   * The process whose end releases the RAM disk (bs_ramdisk_reap() removes it
   * once that process is gone): 0 for the calling process; `bslab ramdisk
   * create` gives its parent, so the RAM disk outlives the command.
   */
  int owner_pid;
} bs_ramdisk_opts;

/** Opaque handle of a RAM disk made by bs_ramdisk_create(). */
typedef struct bs_ramdisk bs_ramdisk;

/** What the library knows of one RAM disk (bs_ramdisk_info_of(), bs_ramdisk_list()). */
typedef struct bs_ramdisk_info {
  char id[64];        /**< "<owner pid>-<owner start time>-<n>", unique on the machine */
  char fs[16];        /**< the filesystem asked for */
  uint64_t size_mb;   /**< its size in MiB */
  char label[256];    /**< the label ("" for none) */
  char mount[4096];   /**< the mount point (a private directory of the runtime directory) */
  char device[64];    /**< "/dev/loopN" or "/dev/diskN" ("" for tmpfs, or not made yet) */
  int owner_pid;      /**< the process that made it */
  bool owner_alive;   /**< that process (with its start time) still runs */
  bool mounted;       /**< its mount point is mounted */
  bool supports_native_snapshots; /**< the filesystem has native snapshots (btrfs, apfs) */
} bs_ramdisk_info;

/**
 * Make, format and mount a RAM disk (docs/ramdisk.md).  On Linux its memory
 * is a memfd on a loop device (LOOP_CONFIGURE with autoclear), formatted by
 * mkfs.btrfs, mkfs.xfs -m reflink=1 or mkfs.ext4, and mounted in a private
 * directory of the runtime directory (`$BS_RAMDISK_DIR`, else
 * `$XDG_RUNTIME_DIR/backstore`, else `/run/backstore`); tmpfs is a size=
 * mount.  It is recorded there (owner pid and start time) before anything
 * is made, so bs_ramdisk_reap() removes it once its owner is gone, even
 * after kill -9; this call reaps first.  All or nothing: on failure nothing
 * is left and *out is NULL.
 * @return 0; BS_EINVALID (size 0, an unknown fs, a label with '/' or over
 * 255 bytes); BS_ENO_SPACE (more than the memory available: the message
 * gives both figures); BS_EPERMISSION (not root); BS_EUNSUPPORTED (no loop
 * devices, mkfs not installed); BS_ETOOL_FAILED (mkfs failed: the message
 * quotes it); the mapped OS error otherwise.  bs_ramdisk_last_message()
 * says why.
 */
BS_API int bs_ramdisk_create(bs_ramdisk **out, const bs_ramdisk_opts *opts);
/**
 * Tear @p rd down: lazy unmount, detach the loop device, free the memory,
 * remove its record.  The handle stays valid for bs_ramdisk_info_of() until
 * bs_ramdisk_free().  @return 0; BS_ENOT_FOUND when it was already
 * destroyed; BS_EINVALID for NULL; else what kept it (the record stays, so
 * a later destroy or reap finishes).
 */
BS_API int bs_ramdisk_destroy(bs_ramdisk *rd);
/** Free the handle @p rd, destroying its RAM disk first if that was not done; NULL is ignored. */
BS_API void bs_ramdisk_free(bs_ramdisk *rd);
/**
 * Free the handle @p rd and leave its RAM disk as it is: it stays recorded,
 * and bs_ramdisk_reap() removes it once its owner is gone (what `bslab
 * ramdisk create` does, whose RAM disk outlives it).  NULL is ignored.
 */
BS_API void bs_ramdisk_release(bs_ramdisk *rd);
/** What @p rd is: its id, fs, size, label, mount point and device. */
BS_API const bs_ramdisk_info *bs_ramdisk_info_of(const bs_ramdisk *rd);
/**
 * Destroy the RAM disk whose id or mount point is @p which, whoever made it
 * (`bslab ramdisk destroy`).  @return 0; BS_ENOT_FOUND when the library made
 * no such RAM disk (a mount it did not make is never touched); the error
 * that kept it otherwise.
 */
BS_API int bs_ramdisk_destroy_id(const char *which);
/**
 * Every recorded RAM disk, live or orphaned: a malloc'd array in *@p out
 * (free() it; NULL when none) of *@p count entries.  @return 0 or an error.
 */
BS_API int bs_ramdisk_list(bs_ramdisk_info **out, size_t *count);
/**
 * Tear down every recorded RAM disk whose owner is gone (in order: lazy
 * unmount, detach, free), and what a crash left half-made at any step: a
 * record without a device, a loop device of a dead owner without a record.
 * RAM disks of live processes are never touched.  @p reaped (may be NULL)
 * gets how many were removed.  @return 0, or the first error (the others
 * are still tried).
 */
BS_API int bs_ramdisk_reap(size_t *reaped);
/** Why the calling thread's last failing bs_ramdisk_* call failed ("" if none did). */
BS_API const char *bs_ramdisk_last_message(void);

#ifdef __cplusplus
}
#endif
#endif /* BACKSTORE_H */
