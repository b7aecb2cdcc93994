/* Internals of differential runs (lab/diff.h), shared by
 * lab/diff*.c only: the operation record, the generator and the state
 * comparison.  docs/diff.md describes the behaviour. */
#ifndef BS_DIFF_INTERNAL_H
#define BS_DIFF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/diff.h"
#include "src/rng.h"

#define DF_PATH 600        /* longest path an operation carries */
#define DF_XNAME 300       /* longest xattr name an operation carries */
#define DF_KNOWN 64        /* paths the generator keeps track of */
#define DF_READ_MAX 70000u /* longest read an operation asks for */
#define DF_FILE_MAX (1u << 20) /* the generator keeps files below this size */
#define DF_OV_ROOT "/.bs/branches/b" /* the overlay mix's branch */
#define DF_OV_AT 40u               /* the operation that makes it */

typedef enum bs__dop_kind {
  DF_CREATE,
  DF_MKDIR,
  DF_WRITE,
  DF_READ,
  DF_TRUNCATE,
  DF_UNLINK,
  DF_RMDIR,
  DF_RENAME,
  DF_STAT,
  DF_CHMOD,
  DF_CHOWN,
  DF_UTIMENS,
  DF_SETXATTR,
  DF_GETXATTR,
  DF_REMOVEXATTR,
  DF_LISTXATTR,
  DF_READDIR,
  DF_REFLINK,
  DF_SYNC,
  DF_CAPS,
  DF_REPLACE,
  /* The links mix only (bs_diff_opts.links): the default stream is unchanged. */
  DF_SYMLINK,  /* path = link, path2 = target text */
  DF_READLINK,
  DF_LINK,     /* path = existing name, path2 = new name */
  /* The overlay mix only (bs_diff_opts.overlay), once per seed: snapshot
   * "s" of the main tree, then overlay branch "b" of it (DF_OV_ROOT). */
  DF_OVERLAY,
  DF_KIND_COUNT
} bs__dop_kind;

/* One operation of a differential stream. */
typedef struct bs__dop {
  bs__dop_kind kind;
  char path[DF_PATH];   /* target ("" for a store-wide sync and caps) */
  char path2[DF_PATH];  /* rename and reflink destination */
  char xname[DF_XNAME]; /* xattr name */
  uint64_t off;         /* write/read offset; truncate size */
  uint64_t len;         /* write/read/replace length; xattr value length; getxattr capacity */
  uint64_t dseed;       /* seed of written bytes and xattr values */
  uint32_t mode;        /* create, mkdir, chmod, replace */
  uint32_t uid, gid;    /* chown */
  int64_t atime, mtime; /* utimens */
} bs__dop;

/* The generator: a seeded PRNG and the paths known to exist (learnt from
 * results both stores agreed on), so that operations keep meeting each other. */
typedef struct bs__dgen {
  bs__rng rng;
  char known[DF_KNOWN][DF_PATH];
  bs_file_kind kinds[DF_KNOWN];
  size_t n;
  uint16_t max_name;
  uint32_t drawn; /* operations drawn so far: the first is caps */
  bool links;     /* draw symlink, readlink and link too */
  bool overlay;   /* make an overlay branch at DF_OV_AT, then draw paths in it too */
  bool branched;  /* the overlay branch exists */
} bs__dgen;

/* diff_gen.c */
void bs__dgen_init(bs__dgen *g, uint64_t seed, uint16_t max_name);
void bs__dgen_draw(bs__dgen *g, bs__dop *op);
/* Learn from @op, which succeeded on both stores. */
void bs__dgen_learn(bs__dgen *g, const bs__dop *op);
/* Canonical one-line text of @op. */
void bs__dop_format(char *buf, size_t cap, const bs__dop *op);
/* Fill @n bytes of @p from @seed. */
void bs__dfill(uint8_t *p, size_t n, uint64_t seed);

/* What one operation returned on one store: its code and, for the ops that
 * return data, a canonical text of it. */
typedef struct bs__dout {
  int rc;
  char text[384];
} bs__dout;

/* diff_exec.c: run @op on @st. */
void bs__dop_run(bs_store *st, const bs__dop *op, uint8_t *scratch, bs__dout *out);

/* The profile's filesystem behaviour the comparison needs (masks). */
typedef struct bs__dmask {
  bs_fs_type fs;
  bool trees; /* the overlay mix: the real root holds the store's .bs directory */
} bs__dmask;

/* diff_state.c: compare the state of @path in both stores; false with
 * @d's what/subject/sim/real filled on a difference.  @times: compare
 * atime and mtime (right after a utimens). */
bool bs__dstate_same(bs_store *sim, bs_store *real, const bs__dmask *m, const char *path,
                     bool times, uint8_t *scratch, bs_diff_divergence *d, uint32_t *masked);
/* Compare every path below "/" (directories first, byte order). */
bool bs__dstate_sweep(bs_store *sim, bs_store *real, const bs__dmask *m, uint8_t *scratch,
                      bs_diff_divergence *d, uint32_t *masked);
/* Scratch bytes the two functions above and bs__dop_run need. */
#define DF_SCRATCH (128u * 1024u)

#endif
