/* Confined path resolution: every path of a host store is looked up beneath
 * the store's root directory fd, so that no symlink, ".." or concurrent
 * rename takes an operation outside the store (docs/guarantees.md, "Path
 * confinement").
 *
 * A bs__hpath names one place: the absolute host path (for messages, the
 * darwin fake and the tools that need one) and, for a store, where it lies
 * in the store: in the main tree, in a snapshot or branch tree, or in the
 * reserved directory.  The rules:
 *   - the last component is never followed (as O_NOFOLLOW, lstat, lchown);
 *   - a symlink met before it is followed while its target stays in the
 *     same tree: the main tree (never into <root>/.bs), or one snapshot or
 *     branch tree; an absolute target is allowed when it names a place in
 *     that tree; anything else is -BS__ESCAPE;
 *   - the reserved directory and the way to a tree's root are followed
 *     strictly: a symlink there is -BS__ESCAPE.
 * On Linux 5.6+ one openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) call
 * resolves a path without symlinks; a path with one (or a kernel without
 * openat2, or another OS) is walked component by component with O_NOFOLLOW,
 * keeping an fd for every level so that ".." never leaves the tree. */
#ifndef BS_REAL_RESOLVE_H
#define BS_REAL_RESOLVE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What a resolution answers when a path would leave its tree: not an OS
 * errno, so that host.c can say "leads outside the store" (PERMISSION). */
#define BS__ESCAPE 0x10001

/* The root of a store, open for the store's lifetime. */
typedef struct bs__hroot {
  int fd;     /* the root directory */
  char *real; /* its canonical absolute path, for absolute symlink targets */
} bs__hroot;

/* Where a path lies. */
typedef enum bs__hscope {
  BS__HP_HOST = 0, /* no store: @abs is resolved as the OS does */
  BS__HP_MAIN,     /* the main tree: beneath the root, never into <root>/.bs */
  BS__HP_TREE,     /* a snapshot or branch tree <root>/.bs/<dir>/<id> */
  BS__HP_META,     /* the reserved directory: no symlinks at all */
} bs__hscope;

/* One place, see above.  Only @abs is owned by someone else; the rest is
 * offsets into it. */
typedef struct bs__hpath {
  const char *abs;       /* the absolute host path */
  const bs__hroot *root; /* the store's root (NULL for BS__HP_HOST) */
  bs__hscope scope;
  size_t rel_off;        /* abs + rel_off: the path beneath the root (no leading '/') */
  size_t tree_len;       /* BS__HP_TREE: the tree root's length in that path */
} bs__hpath;

/* A place of no store: @abs as it is. */
bs__hpath bs__hpath_host(const char *abs);
/* The same as a pointer to a compound literal, for a call's argument. */
#define BS__HOST_PATH(path_) (&(const bs__hpath){.abs = (path_), .scope = BS__HP_HOST})

/* Room for a last component and its '/': longer than NAME_MAX, because the
 * kernel, not us, decides what an over-long name meets first (a create of
 * "name/" is EISDIR before its length counts). */
#define BS__AT_NAME_MAX (PATH_MAX + 2)

/* The last component of a resolved path in the directory that holds it. */
typedef struct bs__at {
  int dir;                     /* open directory (O_PATH where it cannot be read) */
  char leaf[BS__AT_NAME_MAX];  /* "." for the root of a tree or store itself */
  bool slash;                  /* the path ended in '/': it must be a directory */
} bs__at;

/* Resolve all of @p but its last component.  0 with @at filled (close
 * at->dir), or -errno; -BS__ESCAPE when the way leads out of @p's tree. */
int bs__resolve(const bs__hpath *p, bs__at *at);

/* The same for a call that looks its object up (stat, open, readdir, the
 * metadata and xattr calls): a path ending in '/' names a directory, and a
 * symlink there is followed, as the kernel does, confined as any other; the
 * leaf is then ".".  (unlink, rmdir and rename never follow: bs__resolve.) */
int bs__resolve_lookup(const bs__hpath *p, bs__at *at);

/* @at->leaf with its '/' put back, for the calls that create (mkdir and
 * rename's target accept it; create refuses it as the kernel does). */
const char *bs__at_name(const bs__at *at, char buf[BS__AT_NAME_MAX]);

/* Fail with -ENOTDIR when @at ended in '/' but its leaf is not a directory
 * (a symlink is not: unlink, rmdir and rename never follow one). */
int bs__at_check_dir(const bs__at *at);

/* Open @p itself with @flags after bs__resolve_lookup (O_NOFOLLOW is added:
 * a symlink as the last component is -@eloop_as, as it is not a file nor a
 * directory).  The fd or -errno. */
int bs__resolve_open(const bs__hpath *p, int flags, int eloop_as);

/* Walk every path, never openat2: what a kernel before 5.6 and macOS do.
 * For the tests, which run the confinement suite both ways. */
void bs__resolve_walk_only(bool on);

#endif
