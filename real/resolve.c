/* Confined path resolution (see resolve.h). */
#include "real/resolve.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real/sys.h"

/* As the kernel: at most 40 symlinks in one resolution. */
#define MAX_SYMLINKS 40
/* Levels a walk keeps open (one fd each): deeper paths are ENAMETOOLONG. */
#define WALK_MAX 256
/* fast()'s answer when only a walk can tell (not an errno). */
#define WALK_NEEDED (-0x20000)

#ifdef O_PATH
#define WALK_OPEN (O_PATH | O_NOFOLLOW)
#else
#define WALK_OPEN (O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
#endif

bs__hpath bs__hpath_host(const char *abs) {
  return (bs__hpath){.abs = abs, .scope = BS__HP_HOST};
}

/* The directory a resolution hands out is opened for reading where the
 * caller may read it, so that ioctls and fsync work on it (btrfs subvolume
 * calls take the parent's fd); O_PATH is the fallback for a directory that
 * can only be searched. */
static int readable_dir(int fd) {
#ifdef O_PATH
  int r = bs__sys_openat(fd, ".", O_RDONLY | O_DIRECTORY, 0);
  if (r < 0 && errno == EACCES)
    return fd;
  int e = errno;
  close(fd);
  return r >= 0 ? r : -e;
#else
  return fd;
#endif
}

/* ---- the walk --------------------------------------------------------------- */

typedef struct walk {
  int fds[WALK_MAX]; /* fds[0] is the base (borrowed); the rest are ours */
  int depth;
  int links;         /* symlinks followed so far */
  bool strict;       /* a symlink is an escape */
  bool reserved;     /* ".bs" at depth 0 is an escape (the main tree) */
  const char *base_abs; /* canonical absolute path of the base, for absolute targets */
} walk;

static void walk_pop_all(walk *w) {
  while (w->depth > 0)
    close(w->fds[w->depth--]);
}

static bool is_name(const char *s, size_t n, const char *lit) { return strlen(lit) == n && memcmp(s, lit, n) == 0; }

/* An absolute symlink target: the rest of it beneath the base, or NULL when
 * it names a place outside. */
static const char *beneath_base(const walk *w, const char *target) {
  if (!w->base_abs)
    return NULL;
  size_t n = strlen(w->base_abs);
  if (n == 1 && w->base_abs[0] == '/')
    return target + 1;
  if (strncmp(target, w->base_abs, n) != 0 || (target[n] != '/' && target[n] != '\0'))
    return NULL;
  return target + n;
}

/* Walk @path (relative) from the base, following symlinks as @w allows.
 * 0, -errno or -BS__ESCAPE; on success the directory reached is on top of
 * the stack. */
static int walk_path(walk *w, const char *path) {
  /* The work list: what is left to walk; a symlink's target is put in
   * front of the rest. */
  size_t cap = strlen(path) + 1;
  char *todo = malloc(cap);
  if (!todo)
    return -ENOMEM;
  memcpy(todo, path, cap);
  size_t pos = 0;
  int rc = 0;
  while (rc == 0) {
    while (todo[pos] == '/')
      pos++;
    if (!todo[pos])
      break;
    const char *name = todo + pos;
    size_t n = strcspn(name, "/");
    pos += n;
    if (is_name(name, n, "."))
      continue;
    if (is_name(name, n, "..")) {
      if (w->depth == 0)
        rc = -BS__ESCAPE;
      else
        close(w->fds[w->depth--]);
      continue;
    }
    if (n > NAME_MAX) {
      rc = -ENAMETOOLONG;
      break;
    }
    if (w->depth == 0 && w->reserved && is_name(name, n, ".bs")) {
      rc = -BS__ESCAPE;
      break;
    }
    if (w->depth + 1 == WALK_MAX) {
      rc = -ENAMETOOLONG;
      break;
    }
    char comp[NAME_MAX + 1];
    memcpy(comp, name, n);
    comp[n] = '\0';
    int cur = w->fds[w->depth];
    int fd = bs__sys_openat(cur, comp, WALK_OPEN, 0);
    struct stat sb;
#ifdef O_PATH
    if (fd >= 0 && bs__sys_fstat(fd, &sb) != 0) {
      rc = -errno;
      close(fd);
      break;
    }
#else
    if (fd < 0 && errno == ELOOP && bs__sys_fstatat(cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(sb.st_mode)) {
      /* no O_PATH: a symlink is known by the ELOOP of O_NOFOLLOW */
    } else if (fd >= 0 && bs__sys_fstat(fd, &sb) != 0) {
      rc = -errno;
      close(fd);
      break;
    }
#endif
    else if (fd < 0) {
      rc = -errno;
      break;
    }
    if (S_ISDIR(sb.st_mode)) {
      w->fds[++w->depth] = fd;
      continue;
    }
    if (!S_ISLNK(sb.st_mode)) {
      close(fd);
      rc = -ENOTDIR;
      break;
    }
    char target[PATH_MAX];
    ssize_t tn = bs__sys_readlinkat(cur, comp, target, sizeof(target) - 1);
    if (fd >= 0)
      close(fd);
    if (tn < 0) {
      rc = -errno;
      break;
    }
    target[tn] = '\0';
    if (w->strict) {
      rc = -BS__ESCAPE;
      break;
    }
    if (++w->links > MAX_SYMLINKS) {
      rc = -ELOOP;
      break;
    }
    const char *t = target;
    if (t[0] == '/') {
      if (!(t = beneath_base(w, target))) {
        rc = -BS__ESCAPE;
        break;
      }
      walk_pop_all(w);
    }
    /* todo := t + "/" + rest */
    size_t tl = strlen(t), rest = strlen(todo + pos);
    char *next = malloc(tl + 1 + rest + 1);
    if (!next) {
      rc = -ENOMEM;
      break;
    }
    memcpy(next, t, tl);
    next[tl] = '/';
    memcpy(next + tl + 1, todo + pos, rest + 1);
    free(todo);
    todo = next;
    pos = 0;
  }
  free(todo);
  return rc;
}

/* ---- one resolution --------------------------------------------------------- */

/* Set once a kernel answers ENOSYS to openat2 (or by a test): walk always. */
static _Atomic bool walk_only;

void bs__resolve_walk_only(bool on) { walk_only = on; }

#ifdef __linux__
#include <linux/openat2.h>

/* The whole of @dirpath beneath @base without any symlink: one syscall.  The
 * fd, -errno, or WALK_NEEDED when the walk must decide (a symlink on the
 * way, a rename racing, or no openat2 in this kernel). */
static int fast(int base, const char *dirpath) {
  if (walk_only)
    return WALK_NEEDED;
  struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  int fd = bs__sys_openat2(base, *dirpath ? dirpath : ".", &how, sizeof(how));
  if (fd < 0 && errno == EACCES) { /* searchable, not readable: see readable_dir */
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    fd = bs__sys_openat2(base, *dirpath ? dirpath : ".", &how, sizeof(how));
  }
  if (fd >= 0)
    return fd;
  if (errno == ENOSYS) {
    walk_only = true; /* this kernel has no openat2: do not ask again */
    return WALK_NEEDED;
  }
  return (errno == ELOOP || errno == EXDEV || errno == EAGAIN) ? WALK_NEEDED : -errno;
}
#else
static int fast(int base, const char *dirpath) {
  (void)base;
  (void)dirpath;
  return WALK_NEEDED;
}
#endif

/* Split @rel into its directory part (copied to @dir, "" for none) and its
 * last component; "" and "/" name the base itself (".").  With @lookup, a
 * trailing '/' makes all of @rel the directory part. */
static int split_last(const char *rel, char **dir, bs__at *at, bool lookup) {
  size_t len = strlen(rel);
  at->slash = false;
  while (len > 0 && rel[len - 1] == '/') {
    len--;
    at->slash = true;
  }
  if (lookup && at->slash) {
    strcpy(at->leaf, ".");
    at->slash = false;
    *dir = strndup(rel, len);
    return *dir ? 0 : -ENOMEM;
  }
  size_t start = len;
  while (start > 0 && rel[start - 1] != '/')
    start--;
  size_t n = len - start;
  if (n + 2 > BS__AT_NAME_MAX)
    return -ENAMETOOLONG;
  if (n == 0) {
    strcpy(at->leaf, ".");
    at->slash = false;
  } else {
    memcpy(at->leaf, rel + start, n);
    at->leaf[n] = '\0';
  }
  if ((n == 1 && rel[start] == '.') || (n == 2 && rel[start] == '.' && rel[start + 1] == '.'))
    return -EINVAL; /* store paths never end so; a caller's bug otherwise */
  *dir = strndup(rel, start);
  return *dir ? 0 : -ENOMEM;
}

/* No store: open @abs's directory as the OS resolves it. */
static int resolve_host(const char *abs, bs__at *at, bool lookup) {
  char *dir = NULL;
  int rc = split_last(abs, &dir, at, lookup);
  if (rc != 0)
    return rc;
  const char *d = *dir ? dir : (abs[0] == '/' ? "/" : ".");
  at->dir = bs__sys_open(d, O_RDONLY | O_DIRECTORY, 0);
#ifdef O_PATH
  if (at->dir < 0 && errno == EACCES)
    at->dir = bs__sys_open(d, O_PATH | O_DIRECTORY, 0);
#endif
  rc = at->dir >= 0 ? 0 : -errno;
  free(dir);
  return rc;
}

/* The canonical path of the tree root (@root's real path + "/" + @tree). */
static char *tree_abs(const bs__hroot *root, const char *tree, size_t tree_len) {
  size_t rn = strlen(root->real);
  char *s = malloc(rn + 1 + tree_len + 1);
  if (s) {
    memcpy(s, root->real, rn);
    size_t o = rn;
    if (o == 0 || s[o - 1] != '/')
      s[o++] = '/';
    memcpy(s + o, tree, tree_len);
    s[o + tree_len] = '\0';
  }
  return s;
}

/* The directory @w reached, as an fd of the caller's (the base is
 * borrowed: it is duplicated); the rest of @w is closed. */
static int walk_take(walk *w, bs__at *at) {
  int fd;
  if (w->depth > 0) {
    fd = readable_dir(w->fds[w->depth--]);
  } else {
    fd = bs__sys_openat(w->fds[0], ".", O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0 && errno == EACCES)
      fd = bs__sys_openat(w->fds[0], ".", WALK_OPEN | O_DIRECTORY, 0);
    if (fd < 0)
      fd = -errno;
  }
  walk_pop_all(w);
  at->dir = fd < 0 ? -1 : fd;
  return fd < 0 ? fd : 0;
}

/* The slow way: the tree's root strictly, then @dir within it; for the main
 * tree and the reserved directory, @dir from the store root.  *@at_base
 * tells whether the directory reached is the store root itself. */
static int walk_store(const bs__hpath *p, const char *rel, const char *dir, bs__at *at, bool *at_base) {
  walk w = {.fds = {p->root->fd}, .strict = p->scope != BS__HP_MAIN,
            .reserved = p->scope == BS__HP_MAIN, .base_abs = p->root->real};
  if (p->scope != BS__HP_TREE) {
    int rc = walk_path(&w, dir);
    *at_base = rc == 0 && w.depth == 0 && p->scope == BS__HP_MAIN;
    if (rc != 0) {
      walk_pop_all(&w);
      return rc;
    }
    return walk_take(&w, at);
  }
  char *tree = strndup(rel, p->tree_len);
  char *tabs = tree_abs(p->root, rel, p->tree_len);
  int rc = tree && tabs ? walk_path(&w, tree) : -ENOMEM;
  bs__at troot = {.dir = -1};
  if (rc == 0)
    rc = walk_take(&w, &troot);
  else
    walk_pop_all(&w);
  if (rc == 0) {
    /* The tree root is the base now: ".." never climbs out of it. */
    walk tw = {.fds = {troot.dir}, .base_abs = tabs};
    rc = walk_path(&tw, dir + p->tree_len);
    if (rc == 0)
      rc = walk_take(&tw, at);
    else
      walk_pop_all(&tw);
    close(troot.dir);
  }
  free(tree);
  free(tabs);
  return rc;
}

static int resolve(const bs__hpath *p, bs__at *at, bool lookup) {
  at->dir = -1;
  if (p->scope == BS__HP_HOST || !p->root)
    return resolve_host(p->abs, at, lookup);
  size_t alen = strlen(p->abs);
  const char *rel = p->abs + (p->rel_off < alen ? p->rel_off : alen);
  char *dir = NULL;
  int rc = split_last(rel, &dir, at, lookup);
  if (rc != 0)
    return rc;
  /* The tree root itself: its directory is the tree root. */
  if (p->scope == BS__HP_TREE && strlen(dir) < p->tree_len) {
    free(dir);
    dir = strndup(rel, p->tree_len);
    strcpy(at->leaf, ".");
    at->slash = false;
    if (!dir)
      return -ENOMEM;
  }
  bool at_base = false;
  int fd = fast(p->root->fd, dir);
  if (fd >= 0) {
    at->dir = fd;
    at_base = p->scope == BS__HP_MAIN && !*dir;
  } else if (fd == WALK_NEEDED) {
    rc = walk_store(p, rel, dir, at, &at_base);
  } else {
    rc = fd;
  }
  free(dir);
  /* The reserved directory is not the main tree's, however it was reached. */
  if (rc == 0 && at_base && strcmp(at->leaf, ".bs") == 0) {
    close(at->dir);
    at->dir = -1;
    rc = -BS__ESCAPE;
  }
  return rc;
}

int bs__resolve(const bs__hpath *p, bs__at *at) { return resolve(p, at, false); }

int bs__resolve_lookup(const bs__hpath *p, bs__at *at) { return resolve(p, at, true); }

const char *bs__at_name(const bs__at *at, char buf[BS__AT_NAME_MAX]) {
  if (!at->slash)
    return at->leaf;
  size_t n = strlen(at->leaf);
  memcpy(buf, at->leaf, n);
  buf[n] = '/';
  buf[n + 1] = '\0';
  return buf;
}

int bs__at_check_dir(const bs__at *at) {
  if (!at->slash)
    return 0;
  struct stat sb;
  if (bs__sys_fstatat(at->dir, at->leaf, &sb, AT_SYMLINK_NOFOLLOW) != 0)
    return -errno;
  return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

int bs__resolve_open(const bs__hpath *p, int flags, int eloop_as) {
  bs__at at;
  int rc = bs__resolve_lookup(p, &at);
  if (rc != 0)
    return rc;
  if ((rc = bs__at_check_dir(&at)) == 0) {
    int fd = bs__sys_openat(at.dir, at.leaf, flags | O_NOFOLLOW, 0);
    rc = fd >= 0 ? fd : errno == ELOOP ? -eloop_as : -errno;
  }
  close(at.dir);
  return rc;
}
