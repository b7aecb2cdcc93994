/* Path resolution over the store namespace:
 *
 *   /                       main tree (writable)
 *   /.bs                    virtual, read-only; not listed by readdir("/")
 *   /.bs/snapshots/<name>   root of a snapshot tree (read-only)
 *   /.bs/branches/<name>    root of a branch tree (writable)
 *
 * Paths are absolute; empty components ("//") are skipped and a trailing "/"
 * sets loc.slash ("must be a directory", checked by lookups and the ops);
 * "." and ".." are rejected (INVALID): store paths are canonical, and a
 * ".." could otherwise climb out of a snapshot tree.  A path of 4096 bytes or
 * more, or a component over 255 bytes, is NAME_TOO_LONG.  Snapshot and branch
 * names are matched byte for byte; file names use the profile's order. */
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

bs__sim_tree *bs__sim_snap_by_name(bs__sim_store *s, const char *name, size_t nlen) {
  for (size_t i = 0; i < s->nsnaps; i++) {
    bs__sim_tree *t = s->snaps[i];
    if (strlen(t->name) == nlen && memcmp(t->name, name, nlen) == 0)
      return t;
  }
  return NULL;
}

/* A branch name to find, for bs__sim_search. */
struct branch_key {
  const bs__sim_store *s;
  const char *name;
  size_t nlen;
};

static int branch_cmp(const void *ctx, size_t i) {
  const struct branch_key *k = ctx;
  const char *m = k->s->branches[i]->name;
  return bs__sim_bytes_cmp(m, strlen(m), k->name, k->nlen);
}

bs__sim_tree *bs__sim_branch_by_name(bs__sim_store *s, const char *name, size_t nlen, size_t *pos) {
  const struct branch_key k = {s, name, nlen};
  size_t at;
  bool found = bs__sim_search(s->nbranches, branch_cmp, &k, &at);
  if (pos)
    *pos = at;
  return found ? s->branches[at] : NULL;
}

static bool is(const char *c, size_t n, const char *lit) { return strlen(lit) == n && memcmp(c, lit, n) == 0; }

int bs__sim_resolve(bs__sim_store *s, const char *op, const char *path, bs__sim_loc *out) {
  memset(out, 0, sizeof(*out));
  size_t plen = strlen(path);
  if (plen >= BS__SIM_PATH_MAX)
    return bs_store_fail(&s->base, BS_ENAME_TOO_LONG, 0, "%s: path of %zu bytes is too long", op, plen);
  if (path[0] != '/')
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: path must be absolute", op);
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
    if (is(c, n, ".") || is(c, n, ".."))
      return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: \".\" and \"..\" are not allowed", op, path);
    bs__sim_virt at = out->virt;
    bs__sim_inode *dir = out->node;
    bool at_root = at == BS__SIM_V_NONE && dir == s->main.root;
    out->name = c;
    out->nlen = n;
    out->dir = NULL;
    out->node = NULL;
    out->virt = BS__SIM_V_NONE;
    out->pvirt = at;
    out->reserved = false;
    if (at == BS__SIM_V_NONE) {
      out->dir = dir;
      out->pvirt = BS__SIM_V_NONE;
      if (at_root && bs__sim_name_cmp(s, c, n, BS__SIM_RESERVED, strlen(BS__SIM_RESERVED)) == 0) {
        out->virt = BS__SIM_V_BS;
        out->reserved = true;
        out->tree = NULL;
        continue;
      }
      out->node = bs__sim_dir_find(s, dir, c, n, &out->pos);
    } else if (at == BS__SIM_V_BS) {
      out->virt = is(c, n, "snapshots") ? BS__SIM_V_SNAPS : is(c, n, "branches") ? BS__SIM_V_BRANCHES
                                                                                  : BS__SIM_V_NONE;
    } else {
      bs__sim_tree *t = at == BS__SIM_V_SNAPS ? bs__sim_snap_by_name(s, c, n)
                                              : bs__sim_branch_by_name(s, c, n, NULL);
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
  if (out->reserved && names)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: \"/.bs\" is reserved", op, path);
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
  if (out->reserved)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: \"/.bs\" is reserved", op, path);
  if (out->virt != BS__SIM_V_NONE || out->pvirt != BS__SIM_V_NONE || out->tree->readonly)
    return bs_store_fail(&s->base, BS_EPERMISSION, 0, "%s: %s: read-only", op, path);
  if (out->node) /* mkdir "file/" too: EEXIST */
    return bs_store_fail(&s->base, BS_EEXISTS, 0, "%s: %s: already exists", op, path);
  return BS_OK;
}
