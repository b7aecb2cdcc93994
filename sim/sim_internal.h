/* Internals of the deterministic simulated filesystem (docs/sim.md).
 *
 * One store = one simulated volume: a block store with per-block reference
 * counts, a main tree of inodes, and (on apfs/btrfs) read-only snapshot trees
 * and writable branch trees.  Files are sorted extent lists over the block
 * store; a file with unsynced writes keeps a second, durable extent map that
 * holds its own block references.  Everything is ordered (sorted arrays, id
 * counters), every random choice comes from the store's seeded PRNGs, and time
 * is a virtual clock, so the same seed and ops give bit-identical results.
 *
 * Names: `bs__sim_*` cross files in sim/; everything else is static. */
#ifndef BS_SIM_INTERNAL_H
#define BS_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "backstore/backend.h"
#include "backstore/sim.h"
#include "src/rng.h"

/* ---- limits and fixed numbers --------------------------------------------- */
#define BS__SIM_B ((uint64_t)BS_SIM_BLOCK_SIZE)
#define BS__SIM_HOLE UINT64_MAX                 /* emap lookup: no block mapped */
#define BS__SIM_EPOCH_NS (1700000000LL * 1000000000LL) /* virtual clock start */
#define BS__SIM_PATH_MAX 4096                   /* paths of >= 4096 bytes: NAME_TOO_LONG */
#define BS__SIM_NAME_MAX 255                    /* longest path component */
#define BS__SIM_XFS_SYMLINK_MAX 1024            /* XFS_SYMLINK_MAXLEN: longest xfs symlink target */
#define BS__SIM_MAX_FILE (1ull << 44)           /* 16 TiB: larger is NO_SPACE (EFBIG) */
#define BS__SIM_MIN_BLOCKS 1ull
#define BS__SIM_MAX_BLOCKS (1ull << 22)         /* 16 GiB volumes at most */
#define BS__SIM_XATTR_VALUE_MAX 65536u
#define BS__SIM_BTRFS_XATTR_MAX 16228u /* BTRFS_MAX_XATTR_SIZE, 16 KiB nodes: name + value */
#define BS__SIM_MAX_DEPTH 2048                  /* deepest tree a 4095-byte path can name */
#define BS__SIM_ROOT_INO 2ull                   /* main tree root */
#define BS__SIM_INO_VBS 3ull                    /* virtual /.bs */
#define BS__SIM_INO_VSNAPS 4ull                 /* virtual /.bs/snapshots */
#define BS__SIM_INO_VBRANCHES 5ull              /* virtual /.bs/branches */
#define BS__SIM_FIRST_INO 16ull                 /* first inode number handed out */
#define BS__SIM_RESERVED ".bs"                  /* reserved entry of the store root */

/* Block flag: written in place while shared (a CoW violation check() reports). */
#define BS__SIM_BLK_SHARED_WRITE 0x01u

/* Op classes of the latency model (sim/profile.c). */
typedef enum bs__sim_op_class {
  BS__SIM_OP_META = 0,
  BS__SIM_OP_READ,
  BS__SIM_OP_WRITE,
  BS__SIM_OP_SYNC,
  BS__SIM_OP_REFLINK,
  BS__SIM_OP_SNAPSHOT,
  BS__SIM_OP_CLASSES
} bs__sim_op_class;

/* ---- profiles -------------------------------------------------------------- */
typedef struct bs__sim_latency {
  uint32_t base_ns;     /* fixed cost of one op of the class */
  uint32_t ps_per_byte; /* picoseconds per byte moved */
} bs__sim_latency;

/* What a directory's st_size counts (sim/inode.c). */
typedef enum bs__sim_dir_size {
  BS__SIM_DSIZE_ENTRIES = 0, /* its entries: not the filesystem's own figure (apfs, hfs, xfs, ext4) */
  BS__SIM_DSIZE_BTRFS,       /* 2 x the bytes of its names (a dir item and a dir index each) */
  BS__SIM_DSIZE_TMPFS,       /* 20 per entry, plus 40 for "." and ".." (BOGO_DIRENT_SIZE) */
} bs__sim_dir_size;

/* How much room a profile's xattr values have (sim/xattr.c). */
typedef enum bs__sim_xattr_space {
  BS__SIM_XA_64K = 0, /* each value up to 64 KiB (xfs, tmpfs, apfs, hfs) */
  BS__SIM_XA_LEAF,    /* btrfs: name + value of one xattr up to BS__SIM_BTRFS_XATTR_MAX */
  BS__SIM_XA_EXT4,    /* ext4: all xattrs share the inode body and one 4 KiB block */
} bs__sim_xattr_space;

typedef struct bs__sim_profile {
  const char *name;
  bs_fs_type type;
  bool has_btime;         /* tmpfs has no birth time (0) */
  bool clone_keeps_btime; /* apfs clonefile keeps the source's birth time */
  bool linux_xattrs;      /* names need a user./trusted./security. prefix */
  uint16_t xattr_name_max;
  bs__sim_latency lat[BS__SIM_OP_CLASSES];
  /* Kernel behaviour found by differential runs (docs/diff.md). */
  bool dir_nlink_one;     /* btrfs: a directory's st_nlink is always 1 */
  bool chown_kills_setid; /* Linux: chown clears S_ISUID, and S_ISGID with S_IXGRP, even for root */
  bs__sim_xattr_space xattr_space; /* where xattr values must fit */
  int64_t time_min_s;     /* earliest storable time (s_time_min); 0: no limit */
  bs__sim_dir_size dir_size; /* what a directory's size counts */
} bs__sim_profile;

/* ---- data structures ------------------------------------------------------- */
typedef struct bs__sim_extent {
  uint64_t lblk; /* first logical block */
  uint64_t pblk; /* first physical block */
  uint64_t len;  /* blocks, > 0 */
} bs__sim_extent;

/* Sorted by lblk, non-overlapping; holes are gaps. */
typedef struct bs__sim_emap {
  bs__sim_extent *v;
  size_t n, cap;
} bs__sim_emap;

typedef struct bs__sim_inode bs__sim_inode;

typedef struct bs__sim_dent {
  char *name;      /* NUL-terminated, 1..255 bytes, no '/' */
  size_t nlen;
  bs__sim_inode *node;
} bs__sim_dent;

typedef struct bs__sim_xattr {
  char *name;
  uint8_t *val;    /* NULL when len == 0 */
  size_t len;
  bool in_block;   /* ext4: kept in the xattr block, not the inode body */
} bs__sim_xattr;

struct bs__sim_inode {
  uint64_t ino;
  bs_file_kind kind;            /* FILE, DIR or SYMLINK */
  uint32_t nlink;               /* names of a file or symlink (hard links); 1 for a directory */
  char *target;                 /* symlinks: the target text, NUL-terminated */
  bs__sim_inode *copy;          /* bs__sim_tree_copy: this inode's copy (hard links); NULL after */
  uint64_t mark;                /* walks that must meet a hard-linked inode once (check) */
  uint32_t mode;                /* 07777 */
  uint32_t uid, gid;            /* owner; 0 (root) for new inodes */
  int64_t atime, mtime, ctime, btime;
  bs__sim_inode *parent;        /* NULL at a tree root */
  bs__sim_xattr *xa;            /* sorted by name bytes */
  size_t nxa;
  /* directories: entries sorted by the profile's name order */
  bs__sim_dent *ents;
  size_t nents, capents;
  uint32_t ndirs;               /* subdirectories (nlink = 2 + ndirs) */
  /* regular files */
  uint64_t size;                /* live size */
  bs__sim_emap live;            /* live extent map */
  bool dirty;                   /* unsynced writes: dur/dsize hold the durable state */
  uint64_t dsize;
  bs__sim_emap dur;
};

/* A tree: the main one, or a snapshot or branch tree the core made
 * (backstore/backend.h tree primitives); their names, UUIDs and references
 * are the core's registry, which the sim keeps as bytes (reg below). */
typedef struct bs__sim_tree {
  bs__sim_inode *root;
  bool readonly;     /* snapshots */
  uint64_t id;       /* the core's id of the snapshot or branch; 0 for the main tree */
} bs__sim_tree;

typedef struct bs__sim_blocks {
  uint64_t n;        /* total blocks */
  uint32_t *ref;     /* reference count per block */
  uint8_t **data;    /* BS_SIM_BLOCK_SIZE bytes per used block, NULL when free */
  uint8_t *flag;     /* BS__SIM_BLK_* */
  uint64_t used;     /* blocks with ref > 0 */
  uint64_t shared;   /* blocks with ref > 1 */
  uint64_t hint;     /* every block below hint is in use */
  /* Incremental checking (sim/check_inc.c), while trk is on: rhash is the
   * sum of ref[i] * bs__sim_block_hash(i), kept by every refcount change,
   * and every block whose refcount, data or flag changes is listed once in
   * tl with its refcount at the last check. */
  uint64_t rhash;
  bool trk;          /* tracking since the last check */
  bool tlost;        /* a touch could not be recorded: the next check is full */
  uint8_t *tmark;    /* per block: listed in tl */
  struct bs__sim_touch {
    uint64_t blk;
    uint32_t old;    /* refcount at the last check */
  } *tl;
  size_t tn, tcap;
  uint64_t *pref;    /* pref[i]: sum of bs__sim_block_hash(j) for j < i (n + 1 entries) */
  uint64_t base_used, base_shared, base_hint; /* the counters at the last check */
} bs__sim_blocks;

typedef struct bs__sim_store {
  struct bs_store base;            /* first: bs_store * casts to this */
  const bs__sim_profile *prof;
  bs_caps caps;                    /* from bs_caps_for_type(): the one source */
  bs_sim_bug bug;
  bool trees; /* bs_sim_set_trees: snapshot and branch trees without native snapshots */
  bs__sim_blocks blk;
  int64_t clock_ns;                /* virtual clock */
  bs__rng rng;                     /* choices: uuids, torn writes */
  bs__rng lat_rng;                 /* latency jitter only */
  uint64_t next_ino;
  bs__sim_tree main;
  bs__sim_tree **snaps;            /* sorted by id */
  size_t nsnaps;
  bs__sim_tree **branches;         /* sorted by id */
  size_t nbranches;
  uint8_t *reg;                    /* the core's registry bytes (NULL: none yet) */
  size_t reglen;
  uint32_t *scratch;               /* check(): expected refcounts, blk.n entries */
  uint64_t op_bytes;               /* bytes the current call moved (latency model) */
  bool clock_held;                 /* bs_sim_clock_hold(): calls do not advance the clock */
  uint64_t walk_mark;              /* the last mark handed to a walk (bs__sim_inode.mark) */
  char *rname;                     /* a last component met through a symlink ("l/"): loc.name */
  /* The core lets file calls run at once (a shared lock): the sim's state
   * is one structure, so each of its methods holds this. */
  pthread_mutex_t mu;
} bs__sim_store;

/* Where a path leads (sim/path.c). */
typedef enum bs__sim_virt {
  BS__SIM_V_NONE = 0,
  BS__SIM_V_BS,        /* /.bs */
  BS__SIM_V_SNAPS,     /* /.bs/snap: the snapshot trees */
  BS__SIM_V_BRANCHES,  /* /.bs/branch: the branch trees */
} bs__sim_virt;

typedef struct bs__sim_loc {
  bs__sim_tree *tree;   /* tree of node/dir; NULL inside the virtual part */
  bs__sim_inode *dir;   /* directory holding the last component; NULL at a tree root */
  bs__sim_inode *node;  /* the inode named; NULL when missing or virtual */
  bs__sim_virt virt;    /* the path names this virtual directory */
  bs__sim_virt pvirt;   /* the last component sits in this virtual directory */
  size_t pos;           /* index of node in dir, or where it would be inserted */
  const char *name;     /* last component, pointing into the path */
  size_t nlen;
  bool slash;           /* a '/' follows the last component: it must be a directory */
} bs__sim_loc;

/* ---- memory (sim/mem.c): the one allocation seam ---------------------------- */
void *bs__sim_malloc(size_t n);
void *bs__sim_calloc(size_t n, size_t size);
void *bs__sim_realloc_array(void *p, size_t n, size_t size);
char *bs__sim_strndup(const char *s, size_t n);

/* ---- profiles and clock (sim/profile.c) ----------------------------------- */
const bs__sim_profile *bs__sim_profile_find(const char *name);
const bs__sim_profile *bs__sim_profile_for_type(bs_fs_type t);
/* Advance the virtual clock by the latency of one op of @cls moving @bytes. */
void bs__sim_tick(bs__sim_store *s, bs__sim_op_class cls, uint64_t bytes);

/* ---- block store (sim/blocks.c) ------------------------------------------- */
int bs__sim_blocks_init(bs__sim_blocks *b, uint64_t n);
void bs__sim_blocks_free(bs__sim_blocks *b);
uint64_t bs__sim_blocks_free_count(const bs__sim_blocks *b);
/* Allocate @n blocks (refcount 1, data buffer uninitialised), lowest free first. */
int bs__sim_blocks_alloc(bs__sim_store *s, uint64_t n, uint64_t *out);
void bs__sim_blocks_ref(bs__sim_store *s, uint64_t pblk, uint64_t len);
void bs__sim_blocks_unref(bs__sim_store *s, uint64_t pblk, uint64_t len);
/* Data of a used block, for an in-place write: records a write while shared. */
uint8_t *bs__sim_blocks_write_in_place(bs__sim_store *s, uint64_t pblk);
void bs__sim_blocks_recount(bs__sim_blocks *b);
/* The weight of block @i in rhash and in the maps' sum (a 64-bit mix of i). */
static inline uint64_t bs__sim_block_hash(uint64_t i) {
  uint64_t z = i + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
/* Record that block @i is about to change (call only while tracking). */
void bs__sim_blocks_touch(bs__sim_blocks *b, uint64_t i);

/* ---- extent maps (sim/extents.c) ------------------------------------------ */
void bs__sim_emap_free(bs__sim_emap *m);
int bs__sim_emap_copy(bs__sim_emap *dst, const bs__sim_emap *src);
int bs__sim_emap_reserve(bs__sim_emap *m, size_t extra);
uint64_t bs__sim_emap_lookup(const bs__sim_emap *m, uint64_t lblk);
/* First mapped logical block >= @from, or BS__SIM_HOLE. */
uint64_t bs__sim_emap_next(const bs__sim_emap *m, uint64_t from);
/* Append one block at @lblk (> every mapped block), merging when contiguous. */
int bs__sim_emap_append(bs__sim_emap *m, uint64_t lblk, uint64_t pblk);
/* Replace the mapping of [l0, l1) by @rep (sorted, inside [l0, l1)); needs
 * bs__sim_emap_reserve(m, nrep + 1) first.  No refcount changes. */
void bs__sim_emap_replace(bs__sim_emap *m, uint64_t l0, uint64_t l1, const bs__sim_extent *rep,
                          size_t nrep);
/* Drop every block at or past @from, releasing its reference. */
void bs__sim_emap_cut(bs__sim_store *s, bs__sim_emap *m, uint64_t from);
void bs__sim_emap_ref(bs__sim_store *s, const bs__sim_emap *m);
/* Release every reference of @m and free it. */
void bs__sim_emap_release(bs__sim_store *s, bs__sim_emap *m);
uint64_t bs__sim_emap_blocks(const bs__sim_emap *m);
/* 0, or a description of the first defect in @why. */
int bs__sim_emap_validate(const bs__sim_emap *m, uint64_t nblocks, uint64_t size, char *why,
                          size_t cap);

/* ---- names and directories (sim/dir.c) ------------------------------------ */
/* Byte order of two names (memcmp, then the shorter first). */
int bs__sim_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* The profile's name order: byte order, after ASCII case folding if the
 * profile is case-insensitive. */
int bs__sim_name_cmp(const bs__sim_store *s, const char *a, size_t alen, const char *b, size_t blen);

/* Binary search of @n sorted entries; @cmp(@ctx, i) orders entry i against
 * the key.  True on a match; *@pos gets its index, or where the key would be
 * inserted.  Inline so that each caller's comparison is inlined as well:
 * directory lookups are on every path walk. */
static inline bool bs__sim_search(size_t n, int (*cmp)(const void *ctx, size_t i), const void *ctx,
                                  size_t *pos) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp(ctx, mid);
    if (c == 0) {
      *pos = mid;
      return true;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *pos = lo;
  return false;
}

bs__sim_inode *bs__sim_dir_find(const bs__sim_store *s, const bs__sim_inode *dir, const char *name,
                                size_t nlen, size_t *pos);
int bs__sim_dir_reserve(bs__sim_inode *dir);
/* Insert @node under @name (owned by the dir from now on) at @pos. */
void bs__sim_dir_insert(bs__sim_inode *dir, size_t pos, char *name, size_t nlen, bs__sim_inode *node);
/* Unlink entry @pos and return its inode (not freed). */
bs__sim_inode *bs__sim_dir_remove(bs__sim_inode *dir, size_t pos);
/* Names of @dir in byte order, copied (free with bs__sim_names_free). */
int bs__sim_dir_names(const bs__sim_inode *dir, char ***names, bs_file_kind **kinds, size_t *n);
void bs__sim_names_free(char **names, size_t n);

/* ---- path resolution (sim/path.c) ----------------------------------------- */
int bs__sim_resolve(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out);
/* Walk to the directory that holds the last component of @path (which may
 * be missing): NOT_FOUND, INVALID (not a directory) or NAME_TOO_LONG on the
 * way, as the kernel's parent walk (filename_parentat) fails. */
int bs__sim_walk_parent(bs__sim_store *s, const char *op, const char *path);
/* An existing inode or virtual directory. */
int bs__sim_lookup(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out);
/* An existing inode that will be changed; @names: the op adds/removes names. */
int bs__sim_lookup_mut(bs__sim_store *s, const char *op, const char *path, bool names,
                       bs__sim_loc *out);
/* A name that does not exist yet, in a writable directory. */
int bs__sim_resolve_new(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out);
/* The snapshot (@branches false) or branch tree @id, or NULL; *@pos (may be
 * NULL) gets its index, or where it would be inserted. */
bs__sim_tree *bs__sim_tree_by_id(bs__sim_store *s, bool branches, uint64_t id, size_t *pos);

/* ---- inodes (sim/inode.c) -------------------------------------------------- */
bs__sim_inode *bs__sim_inode_new(bs__sim_store *s, bs_file_kind kind, uint32_t mode, int64_t now);
/* Free @n and everything below it; @release drops block references. */
void bs__sim_inode_free(bs__sim_store *s, bs__sim_inode *n, bool release);
/* Deep copy of a tree for a snapshot/branch: new inode numbers, shared blocks.
 * The source must be clean (synced). */
int bs__sim_tree_copy(bs__sim_store *s, const bs__sim_inode *src, bs__sim_inode **out);
void bs__sim_stat_fill(const bs__sim_store *s, const bs__sim_inode *n, bs_stat_info *out);
void bs__sim_touch(bs__sim_inode *n, int64_t now);  /* mtime = ctime = now */

/* ---- xattrs (sim/xattr.c) -------------------------------------------------- */
int bs__sim_xattrs_copy(bs__sim_inode *dst, const bs__sim_inode *src);
void bs__sim_xattrs_free(bs__sim_inode *n);
/* Empty or too long (checked before the path is looked up). */
int bs__sim_xattr_name_check(bs__sim_store *s, const char *op, const char *name);
/* ext4: place every xattr of @n afresh, in name order (after an image load). */
void bs__sim_xattrs_place(const bs__sim_store *s, bs__sim_inode *n);

/* ---- file data (sim/data.c) ------------------------------------------------ */
int bs__sim_file_write(bs__sim_store *s, bs__sim_inode *f, uint64_t off, const uint8_t *buf,
                       size_t len, int64_t now, const char *path);
void bs__sim_file_read(bs__sim_store *s, const bs__sim_inode *f, uint64_t off, uint8_t *buf,
                       size_t len, size_t *nread);
int bs__sim_file_truncate(bs__sim_store *s, bs__sim_inode *f, uint64_t size, int64_t now,
                          const char *path);

/* ---- durability (sim/crash.c) ---------------------------------------------- */
void bs__sim_sync_file(bs__sim_store *s, bs__sim_inode *f);
void bs__sim_sync_tree(bs__sim_store *s, bs__sim_inode *n);
void bs__sim_sync_all(bs__sim_store *s);

/* ---- lifecycle (sim/sim.c) ------------------------------------------------- */
int bs__sim_store_new(bs__sim_store **out, const bs__sim_profile *prof, uint64_t nblocks,
                      uint64_t seed);
void bs__sim_store_free(bs__sim_store *s);
void bs__sim_tree_free(bs__sim_store *s, bs__sim_tree *t, bool release);
bs__sim_store *bs__sim_cast(bs_store *st);
extern const bs_backend_ops bs__sim_ops;

/* ---- the ops (one file per family) ----------------------------------------- */
/* sim/ns.c */
int bs__sim_create(bs__sim_store *s, const char *path, uint32_t mode);
int bs__sim_mkdir(bs__sim_store *s, const char *path, uint32_t mode);
int bs__sim_unlink(bs__sim_store *s, const char *path);
int bs__sim_rmdir(bs__sim_store *s, const char *path);
int bs__sim_rename(bs__sim_store *s, const char *from, const char *to);
/* sim/links.c */
int bs__sim_symlink(bs__sim_store *s, const char *target, const char *path);
int bs__sim_readlink(bs__sim_store *s, const char *path, char *buf, size_t cap, size_t *len);
int bs__sim_link(bs__sim_store *s, const char *from, const char *to);
/* BS_EINVALID when @n is a symlink (data and mode calls never follow the
 * last component, as the real backend's O_NOFOLLOW). */
int bs__sim_not_symlink(bs__sim_store *s, const char *op, const char *path, const bs__sim_inode *n);
/* sim/attr.c */
int bs__sim_stat(bs__sim_store *s, const char *path, bs_stat_info *out);
int bs__sim_chmod(bs__sim_store *s, const char *path, uint32_t mode);
int bs__sim_chown(bs__sim_store *s, const char *path, uint32_t uid, uint32_t gid);
int bs__sim_utimens(bs__sim_store *s, const char *path, int64_t atime_ns, int64_t mtime_ns);
int bs__sim_readdir(bs__sim_store *s, const char *path, bs_readdir_cb cb, void *ctx);
/* sim/data.c */
int bs__sim_write(bs__sim_store *s, const char *path, uint64_t off, const void *buf, size_t len);
int bs__sim_read(bs__sim_store *s, const char *path, uint64_t off, void *buf, size_t len,
                 size_t *nread);
int bs__sim_truncate(bs__sim_store *s, const char *path, uint64_t size);
/* sim/xattr.c */
int bs__sim_setxattr(bs__sim_store *s, const char *path, const char *name, const void *value,
                     size_t len);
int bs__sim_getxattr(bs__sim_store *s, const char *path, const char *name, void *buf, size_t cap,
                     size_t *len);
int bs__sim_removexattr(bs__sim_store *s, const char *path, const char *name);
int bs__sim_listxattr(bs__sim_store *s, const char *path, bs_xattr_cb cb, void *ctx);
/* sim/reflink.c */
int bs__sim_reflink(bs__sim_store *s, const char *src, const char *dst);
/* sim/crash.c */
int bs__sim_sync(bs__sim_store *s, const char *path);
int bs__sim_power_loss(bs__sim_store *s, bs_power_loss_mode mode);
/* sim/snap.c: the tree and registry primitives (backstore/backend.h) */
int bs__sim_tree_method(bs__sim_store *s, bs_tree_method *out);
/* Snapshot tree @id, a copy of the directory at backend path @src
 * (backstore/backend.h, tree_freeze). */
int bs__sim_tree_freeze(bs__sim_store *s, uint64_t id, const char *src, uint8_t uuid[16]);
int bs__sim_tree_create(bs__sim_store *s, bs_tree_kind kind, uint64_t id, uint64_t src_snapshot,
                        uint8_t uuid[16]);
int bs__sim_tree_may_delete(bs__sim_store *s, bs_tree_kind kind, uint64_t id);
int bs__sim_tree_delete(bs__sim_store *s, bs_tree_kind kind, uint64_t id);
int bs__sim_tree_list(bs__sim_store *s, bs_tree_kind kind, int (*cb)(void *ctx, uint64_t id), void *ctx);
int bs__sim_registry_open(bs__sim_store *s, uint8_t **buf, size_t *len);
int bs__sim_registry_save(bs__sim_store *s, const uint8_t *buf, size_t len);
/* sim/check.c */
int bs__sim_check(bs__sim_store *s);
/* Walk every map of every tree, adding expected references into @exp (n entries).
 * 0, or BS_ECORRUPT with a description in @why. */
int bs__sim_count_refs(bs__sim_store *s, uint32_t *exp, char *why, size_t cap);
/* The same walk without the per-block counts: *@sum gets the sum of
 * bs__sim_block_hash over every map reference (b->pref must exist). */
int bs__sim_walk_hash(bs__sim_store *s, uint64_t *sum, char *why, size_t cap);
/* Snapshot and branch trees each in strict id order. */
int bs__sim_trees_ok(bs__sim_store *s, char *why, size_t cap);
/* sim/check_inc.c: check what changed since the last check (docs/sim.md,
 * "Incremental checks"); the full check on any doubt, and when not tracking. */
int bs__sim_check_incremental(bs__sim_store *s);
/* A full check passed: track changes from the current state on. */
void bs__sim_inc_rebase(bs__sim_store *s);

#endif
