/* The requests of `bslab mount` as trace operations (docs/traces.md, "Mount
 * traces"; docs/mount.md, "Record and replay").  One function runs a request
 * on a store, the same for the FUSE server and for a replay, so that a replay
 * makes exactly the store calls the mount made; one formats it as the text of
 * a trace line, one parses that text back.  Shared by lab/trace*.c and
 * tools/bslab/mount.c. */
#ifndef BS_TRACE_MOUNT_H
#define BS_TRACE_MOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "backstore.h"
#include "lab/campaign_internal.h"
#include "lab/trace.h"

/* The longest path or symlink target a mount operation carries (PATH_MAX - 1). */
#define BS_MOP_PATH_MAX 4095
/* The longest xattr name. */
#define BS_MOP_NAME_MAX 255
/* The longest line of a version-2 trace: an operation with two paths of
 * BS_MOP_PATH_MAX bytes, every byte escaped (\xHH), and its result. */
#define BS_TRACE_MAX_LINE_V2 34000
/* Data bytes carried by one "+ HEX" line of a trace. */
#define BS_TRACE_DATA_PER_LINE 2048

typedef enum bs_mop_kind {
  BS_MOP_STAT, BS_MOP_READDIR, BS_MOP_CREATE, BS_MOP_OPEN, BS_MOP_READ, BS_MOP_WRITE,
  BS_MOP_FSYNC, BS_MOP_TRUNCATE, BS_MOP_CHMOD, BS_MOP_CHOWN, BS_MOP_UTIMENS, BS_MOP_RENAME,
  BS_MOP_UNLINK, BS_MOP_RMDIR, BS_MOP_MKDIR, BS_MOP_SYMLINK, BS_MOP_LINK, BS_MOP_READLINK,
  BS_MOP_SETXATTR, BS_MOP_GETXATTR, BS_MOP_LISTXATTR, BS_MOP_REMOVEXATTR, BS_MOP_STATFS,
  BS_MOP_COPY, BS_MOP_POWER_LOSS, BS_MOP_COUNT
} bs_mop_kind;

/* "Keep" for chown's uid or gid, "omit" for a time of utimens. */
#define BS_MOP_OMIT INT64_MIN

/* One request. */
typedef struct bs_mop {
  bs_mop_kind kind;
  const char *path;  /* the file (symlink: the link's path) */
  const char *path2; /* rename, link, copy: the destination; symlink: the target text */
  const char *name;  /* xattr name */
  uint64_t off, len; /* read, write, copy (len; off is off-in); setxattr: len */
  uint64_t off2;     /* copy: off-out */
  uint64_t size;     /* truncate: new size; readlink, getxattr, listxattr: caller's buffer */
  uint32_t mode;     /* create, mkdir, chmod */
  uint32_t uid, gid; /* chown (BS_ID_KEEP) */
  int64_t atime, mtime; /* utimens (BS_MOP_OMIT) */
  uint32_t flags;    /* open: 1 = O_TRUNC; rename: 1 = NOREPLACE; setxattr: 1 CREATE, 2 REPLACE;
                        copy: copy_file_range's flags; power-loss: 1 = tear, 0 = drop */
  const void *data;  /* write, setxattr: len bytes */
  uint64_t bytes_hash; /* parsed: the bytes= hash, formatted when data is NULL */
} bs_mop;

/* What a request gave besides its result code. */
typedef struct bs_mop_out {
  void *buf;          /* read, readlink, getxattr, listxattr: where the bytes go */
  size_t cap;         /* its size (read: at least len) */
  size_t n;           /* bytes read / text length / value length / list length */
  uint64_t hash;      /* FNV-1a 64 of what was read or listed, or of the stat fields */
  bs_stat_info st;    /* stat, open */
  bs_usage usage;     /* statfs */
  bs_caps caps;       /* statfs */
  /* readdir: each entry with its inode number (UINT32_MAX when its stat failed). */
  int (*entry)(void *ctx, const char *name, bs_file_kind kind, uint64_t ino);
  void *ctx;
  bool mutated;       /* a call that changes the store was made */
  bool probe;         /* setxattr: the code is the existence probe's */
} bs_mop_out;

/* Run @op on @st; returns a BS_* code.  For open, a directory is 0 with
 * out->st.kind == BS_KIND_DIR (the caller answers EISDIR); copy answers
 * BS_EUNSUPPORTED for what is not a whole-file copy into an empty file. */
int bs_mop_exec(bs_store *st, const bs_mop *op, bs_mop_out *out);

/* Does @kind carry data bytes (write, setxattr)? */
bool bs_mop_has_data(bs_mop_kind kind);

/* The operation text of @op (no index, no result) appended to @b. */
void bs_mop_format(bs__tbuf *b, const bs_mop *op);

/* The " -> CODE details" of a result appended to @b. */
void bs_mop_format_result(bs__tbuf *b, const bs_mop *op, int rc, const bs_mop_out *out);

/* Storage for a parsed operation. */
typedef struct bs_mop_text {
  bs_mop op;
  char path[BS_MOP_PATH_MAX + 1], path2[BS_MOP_PATH_MAX + 1], name[BS_MOP_NAME_MAX + 1];
} bs_mop_text;

/* Parse operation text @s (what bs_mop_format writes); 0 or BS_EINVALID with
 * the reason in @why.  Data bytes are not part of the text: op.data is NULL. */
int bs_mop_parse(const char *s, bs_mop_text *out, char *why, size_t why_cap);

/* Append a body line with @len data bytes (copied) to @t. */
int bs__trace_add_data_line(bs_trace *t, const char *text, size_t n, const void *data,
                            size_t len);

/* Replay of a mount trace (trace_replay.c calls it for t->mount). */
int bs__trace_replay_mount(bs_replay_result *out, const bs_trace *t, bs_trace **recording,
                           const char *save_image, bs_trace_error *err);

#endif
