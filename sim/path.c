/* Path resolution over the backend namespace (backstore/backend.h; the
 * core maps store paths onto it, src/ns.c):
 *
 *   /                       main tree (writable)
 *   /.bs                    where the trees are, read-only
 *   /.bs/snap/<id>          root of snapshot tree <id> (read-only)
 *   /.bs/branch/<id>        root of branch tree <id> (writable)
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

int bs__sim_resolve(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out) {
  memset(out, 0, sizeof(*out));
  size_t plen = strlen(path);
  /* Current position: an inode of a tree, or a virtual directory. */
  out->tree = &s->main;
  out->node = s->main.root;
  out->name = path;
  const char *p = path;
  while (*p) {
    while (*p == '/')
      p++;
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
    } else if (at == BS__SIM_V_BS) {
      out->virt = is(c, n, "snap") ? BS__SIM_V_SNAPS : is(c, n, "branch") ? BS__SIM_V_BRANCHES : BS__SIM_V_NONE;
    } else {
      bs__sim_tree *t = tree_named(s, at == BS__SIM_V_BRANCHES, c, n);
      if (t) {
        out->tree = t;
        out->node = t->root;
      }
    }
  }
  /* A trailing slash says "a directory" (checked by the callers). */
  out->slash = plen > 1 && path[plen - 1] == '/';
  return BS_OK;
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
