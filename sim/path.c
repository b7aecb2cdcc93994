/* Path resolution over the backend namespace (backstore/backend.h; the
 * core maps store paths onto it, src/ns.c):
 *
 *   /                       main tree (writable)
 *   /.bs                    where the trees are, read-only
 *   /.bs/snap/<id>          root of snapshot tree <id> (read-only)
 *   /.bs/branch/<id>        root of branch tree <id> (writable)
 *   /.bs/lower/<id>         a host lower: UNSUPPORTED (no host directories here)
 *
 * Paths are absolute; empty components ("//") are skipped and a trailing "/"
 * sets loc.slash ("must be a directory", checked by lookups and the ops).
 * "." and ".." never come (the core refuses them).  A component over 255
 * bytes is NAME_TOO_LONG, met where a kernel walk meets it. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

static bool is(const char *c, size_t n, const char *lit) { return strlen(lit) == n && memcmp(c, lit, n) == 0; }

/* The tree whose id is the decimal @c (@n bytes), or NULL. */
static bs__sim_tree *tree_named(bs__sim_store *s, bool branches, const char *c, size_t n) {
  uint64_t id = 0;
  if (n == 0 || n > 19 || c[0] == '0')
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (c[i] < '0' || c[i] > '9')
      return NULL;
    id = id * 10 + (uint64_t)(c[i] - '0');
  }
  return bs__sim_tree_by_id(s, branches, id, NULL);
}

/* What one pass of the walk met: a symlink before the last component, at
 * path[at, at + len), in the tree whose root ends at path[tree_off]. */
typedef struct sym_hit {
  size_t at, len, tree_off;
  const bs__sim_inode *link;
} sym_hit;
#define MET_SYMLINK 1

static int walk_once(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out, sym_hit *hit) {
  memset(out, 0, sizeof(*out));
  size_t tree_off = 0, last_at = 0;
  size_t plen = strlen(path);
  /* Current position: an inode of a tree, or a virtual directory. */
  out->tree = &s->main;
  out->node = s->main.root;
  out->name = path;
  const char *p = path;
  while (*p) {
    while (*p == '/')
      p++;
    /* A symlink with a '/' after it is followed (bs__sim_resolve), as the
     * kernel does: before a further component, or at a trailing '/'. */
    if (p > path && out->virt == BS__SIM_V_NONE && out->node && out->node->kind == BS_KIND_SYMLINK) {
      *hit = (sym_hit){last_at, out->nlen, tree_off, out->node};
      return MET_SYMLINK;
    }
    if (!*p)
      break;
    const char *c = p;
    while (*p && *p != '/')
      p++;
    size_t n = (size_t)(p - c);
    /* The previous component must exist and be a directory (checked first, as
     * a kernel walk finds a missing parent before it looks at the next name). */
    if (out->virt == BS__SIM_V_NONE && !out->node)
      return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "%s: %s: no such directory", op, path);
    if (out->virt == BS__SIM_V_NONE && out->node->kind != BS_KIND_DIR)
      return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: a component is not a directory", op, path);
    if (n > BS__SIM_NAME_MAX)
      return bs_store_fail(&s->base, BS_ENAME_TOO_LONG, 0, "%s: %s: a component is %zu bytes (max %d)",
                           op, path, n, BS__SIM_NAME_MAX);
    bs__sim_virt at = out->virt;
    bs__sim_inode *dir = out->node;
    bool at_root = at == BS__SIM_V_NONE && dir == s->main.root;
    out->name = c;
    out->nlen = n;
    last_at = (size_t)(c - path);
    out->dir = NULL;
    out->node = NULL;
    out->virt = BS__SIM_V_NONE;
    out->pvirt = at;
    if (at == BS__SIM_V_NONE) {
      out->dir = dir;
      out->pvirt = BS__SIM_V_NONE;
      if (at_root && is(c, n, BS__SIM_RESERVED)) {
        out->virt = BS__SIM_V_BS;
        out->tree = NULL;
        continue;
      }
      out->node = bs__sim_dir_find(s, dir, c, n, &out->pos);
    } else if (at == BS__SIM_V_BS && is(c, n, "lower")) {
      /* An overlay branch's host lower (docs/overlay.md): the sim is an
       * image of one volume and models no host directory outside it. */
      return bs_store_fail(&s->base, BS_EUNSUPPORTED, 0,
                           "%s: %s: the sim models no host directory: a host lower needs a real store", op, path);
    } else if (at == BS__SIM_V_BS) {
      out->virt = is(c, n, "snap") ? BS__SIM_V_SNAPS : is(c, n, "branch") ? BS__SIM_V_BRANCHES : BS__SIM_V_NONE;
    } else {
      bs__sim_tree *t = tree_named(s, at == BS__SIM_V_BRANCHES, c, n);
      if (t) {
        out->tree = t;
        out->node = t->root;
        tree_off = (size_t)(p - path);
      }
    }
  }
  /* A trailing slash says "a directory" (checked by the callers). */
  out->slash = plen > 1 && path[plen - 1] == '/';
  return BS_OK;
}

/* As the kernel: at most 40 symlinks in one resolution. */
#define MAX_SYMLINKS 40

/* @path with the symlink @h names replaced by its target, in @buf: the
 * target is taken in the symlink's directory, its "." and ".." applied to
 * the components before it, and it must stay in the same tree (not above
 * its root, not absolute, not into the main tree's reserved "/.bs"), as
 * real/resolve.c confines a real store. */
static int substitute(bs__sim_store *s, const char *op, const char *orig, const char *path, const sym_hit *h,
                      char *buf) {
  const char *t = h->link->target;
  if (t[0] == '/')
    goto escape;
  /* Components of the directory, then of the target. */
  size_t n = h->tree_off;
  memcpy(buf, path, n);
  size_t root = n; /* buf[0, root): the tree's root */
  const char *srcs[2] = {path + h->tree_off, t};
  size_t ends[2] = {h->at - h->tree_off, strlen(t)};
  for (int k = 0; k < 2; k++) {
    const char *q = srcs[k], *end = srcs[k] + ends[k];
    while (q < end) {
      while (q < end && *q == '/')
        q++;
      const char *c = q;
      while (q < end && *q != '/')
        q++;
      size_t cn = (size_t)(q - c);
      if (cn == 0 || (cn == 1 && c[0] == '.'))
        continue;
      if (cn == 2 && c[0] == '.' && c[1] == '.') {
        if (n == root)
          goto escape;
        while (n > root && buf[n - 1] != '/')
          n--;
        n--; /* the '/' before it */
        continue;
      }
      if (n + 1 + cn >= BS__SIM_PATH_MAX)
        return bs_store_fail(&s->base, BS_ENAME_TOO_LONG, 0, "%s: %s: the path through a symlink is too long", op,
                             orig);
      if (cn > BS__SIM_NAME_MAX)
        return bs_store_fail(&s->base, BS_ENAME_TOO_LONG, 0, "%s: %s: a component is %zu bytes (max %d)", op,
                             orig, cn, BS__SIM_NAME_MAX);
      /* Into the main tree's reserved directory: out of the tree. */
      if (root == 0 && n == 0 && bs__sim_name_cmp(s, c, cn, BS__SIM_RESERVED, 3) == 0)
        goto escape;
      buf[n++] = '/';
      memcpy(buf + n, c, cn);
      n += cn;
    }
  }
  const char *rest = path + h->at + h->len;
  size_t rl = strlen(rest);
  if (n + rl + 1 >= BS__SIM_PATH_MAX)
    return bs_store_fail(&s->base, BS_ENAME_TOO_LONG, 0, "%s: %s: the path through a symlink is too long", op, orig);
  if (n == 0 && rl == 0)
    buf[n++] = '/';
  memcpy(buf + n, rest, rl + 1);
  return BS_OK;
escape:
  return bs_store_fail(&s->base, BS_EPERMISSION, 0,
                       "%s: %s: a symlink on the way leads outside its tree (out of the store, or into its "
                       "reserved directory .bs): refused",
                       op, orig);
}

int bs__sim_resolve(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out) {
  sym_hit h;
  int rc = walk_once(s, op, path, out, &h);
  if (rc != MET_SYMLINK)
    return rc;
  /* Follow: two buffers in turn, the path rewritten each time.  The last
   * component is never a followed symlink, so it is the original's own text
   * (callers keep out->name): it is pointed back into @path at the end. */
  char *bufs = bs__sim_malloc(2 * (size_t)BS__SIM_PATH_MAX);
  if (!bufs)
    return bs_store_fail(&s->base, BS_ENO_MEMORY, 0, "%s: %s: out of memory", op, path);
  const char *cur = path;
  size_t tail = strlen(path); /* the end of @path that every rewrite kept */
  for (int links = 1; rc == MET_SYMLINK; links++) {
    if (links > MAX_SYMLINKS) {
      rc = bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: too many levels of symlinks", op, path);
      break;
    }
    char *next = bufs + (links % 2) * BS__SIM_PATH_MAX;
    if ((rc = substitute(s, op, path, cur, &h, next)) != 0)
      break;
    size_t kept = strlen(cur + h.at + h.len);
    tail = kept < tail ? kept : tail;
    cur = next;
    rc = walk_once(s, op, cur, out, &h);
  }
  if (rc == 0) {
    size_t from_end = strlen(cur) - (size_t)(out->name - cur);
    if (from_end <= tail) { /* the last component is @path's own */
      out->name = path + strlen(path) - from_end;
    } else { /* it came from a target ("l/"): kept by the store until the next one */
      char *nm = bs__sim_strndup(out->name, out->nlen);
      if (!nm) {
        rc = bs_store_fail(&s->base, BS_ENO_MEMORY, 0, "%s: %s: out of memory", op, path);
      } else {
        free(s->rname);
        s->rname = nm;
        out->name = nm;
      }
    }
  }
  free(bufs);
  return rc;
}

int bs__sim_walk_parent(bs__sim_store *s, const char *op, const char *path) {
  size_t end = strlen(path);
  while (end > 0 && path[end - 1] == '/') /* trailing slashes */
    end--;
  while (end > 0 && path[end - 1] != '/') /* the last component */
    end--;
  if (end == 0 || end >= BS__SIM_PATH_MAX) /* relative, or too long: resolve says so */
    return BS_OK;
  char parent[BS__SIM_PATH_MAX];
  memcpy(parent, path, end);
  parent[end] = '\0';
  bs__sim_loc l;
  int rc = bs__sim_resolve(s, op, parent, &l);
  if (rc != 0 || l.virt != BS__SIM_V_NONE)
    return rc;
  if (!l.node)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "%s: %s: no such directory", op, path);
  if (l.node->kind != BS_KIND_DIR)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: a component is not a directory", op, path);
  return BS_OK;
}

int bs__sim_lookup(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out) {
  int rc = bs__sim_resolve(s, op, path, out);
  if (rc != 0)
    return rc;
  if (!out->node && out->virt == BS__SIM_V_NONE)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "%s: %s: no such file or directory", op, path);
  if (out->slash && out->node && out->node->kind != BS_KIND_DIR)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: not a directory", op, path);
  return BS_OK;
}

int bs__sim_lookup_mut(bs__sim_store *s, const char *op, const char *path, bool names,
                       bs__sim_loc *out) {
  int rc = bs__sim_lookup(s, op, path, out);
  if (rc != 0)
    return rc;
  if (out->virt != BS__SIM_V_NONE || out->tree->readonly)
    return bs_store_fail(&s->base, BS_EPERMISSION, 0, "%s: %s: read-only", op, path);
  if (names && !out->dir)
    return bs_store_fail(&s->base, BS_EBUSY, 0, "%s: %s: the root of a tree cannot be removed or renamed",
                         op, path);
  return BS_OK;
}

int bs__sim_resolve_new(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out) {
  int rc = bs__sim_resolve(s, op, path, out);
  if (rc != 0)
    return rc;
  if (out->virt != BS__SIM_V_NONE || out->pvirt != BS__SIM_V_NONE || out->tree->readonly)
    return bs_store_fail(&s->base, BS_EPERMISSION, 0, "%s: %s: read-only", op, path);
  if (out->node) /* mkdir "file/" too: EEXIST */
    return bs_store_fail(&s->base, BS_EEXISTS, 0, "%s: %s: already exists", op, path);
  return BS_OK;
}
