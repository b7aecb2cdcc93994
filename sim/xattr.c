/* Extended attributes: a sorted array of {name, value} per inode.
 *
 * Profile rules: the Linux profiles (btrfs, xfs, ext4, tmpfs) accept only the
 * "user.", "trusted." and "security." namespaces (anything else is
 * UNSUPPORTED, like EOPNOTSUPP) with names up to 255 bytes; apfs and hfs take
 * any name of 1..127 bytes.  Names are compared byte for byte.  Values are up
 * to 65536 bytes (more is INVALID, like E2BIG).  Xattrs, like all metadata,
 * use no blocks of the block store. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

void bs__sim_xattrs_free(bs__sim_inode *n) {
  for (size_t i = 0; i < n->nxa; i++) {
    free(n->xa[i].name);
    free(n->xa[i].val);
  }
  free(n->xa);
  n->xa = NULL;
  n->nxa = 0;
}

int bs__sim_xattrs_copy(bs__sim_inode *dst, const bs__sim_inode *src) {
  dst->xa = NULL;
  dst->nxa = 0;
  if (src->nxa == 0)
    return BS_OK;
  dst->xa = bs__sim_calloc(src->nxa, sizeof(*dst->xa));
  if (!dst->xa)
    return BS_ENO_MEMORY;
  for (size_t i = 0; i < src->nxa; i++) {
    const bs__sim_xattr *x = &src->xa[i];
    bs__sim_xattr *y = &dst->xa[i];
    y->name = bs__sim_strndup(x->name, strlen(x->name));
    y->val = x->len ? bs__sim_malloc(x->len) : NULL;
    dst->nxa = i + 1;
    if (!y->name || (x->len && !y->val)) {
      bs__sim_xattrs_free(dst);
      return BS_ENO_MEMORY;
    }
    if (x->len)
      memcpy(y->val, x->val, x->len);
    y->len = x->len;
  }
  return BS_OK;
}

int bs__sim_xattr_name_check(bs__sim_store *s, const char *op, const char *name) {
  size_t n = strlen(name);
  const bs__sim_profile *p = s->prof;
  if (n == 0)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: empty xattr name", op);
  if (n > p->xattr_name_max)
    return bs_store_fail(&s->base, BS_ENAME_TOO_LONG, 0, "%s: xattr name of %zu bytes (%s max %u)", op,
                         n, p->name, (unsigned)p->xattr_name_max);
  if (p->linux_xattrs) {
    static const char *const ns[] = {"user.", "trusted.", "security."};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
      size_t k = strlen(ns[i]);
      if (strncmp(name, ns[i], k) == 0)
        return n > k ? BS_OK
                     : bs_store_fail(&s->base, BS_EINVALID, 0, "%s: xattr name \"%s\" has no name after the namespace",
                                     op, name);
    }
    return bs_store_fail(&s->base, BS_EUNSUPPORTED, 0,
                         "%s: xattr \"%s\": %s supports only the user., trusted. and security. namespaces", op,
                         name, p->name);
  }
  return BS_OK;
}

/* An xattr name to find, for bs__sim_search. */
struct xa_key {
  const bs__sim_inode *n;
  const char *name;
};

static int xa_cmp(const void *ctx, size_t i) {
  const struct xa_key *k = ctx;
  return strcmp(k->n->xa[i].name, k->name);
}

/* Index of @name in @n's xattrs, or where it would go (*found false). */
static size_t xfind(const bs__sim_inode *n, const char *name, bool *found) {
  const struct xa_key k = {n, name};
  size_t at;
  *found = bs__sim_search(n->nxa, xa_cmp, &k, &at);
  return at;
}

int bs__sim_setxattr(bs__sim_store *s, const char *path, const char *name, const void *value, size_t len) {
  int rc = bs__sim_xattr_name_check(s, "setxattr", name);
  if (rc != 0)
    return rc;
  if (len > BS__SIM_XATTR_VALUE_MAX)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "setxattr: %s: value of %zu bytes (max %u)", name, len,
                         BS__SIM_XATTR_VALUE_MAX);
  bs__sim_loc l;
  rc = bs__sim_lookup_mut(s, "setxattr", path, false, &l);
  if (rc != 0)
    return rc;
  bs__sim_inode *n = l.node;
  uint8_t *val = len ? bs__sim_malloc(len) : NULL;
  if (len && !val)
    return BS_ENO_MEMORY;
  if (len)
    memcpy(val, value, len);
  bool found;
  size_t i = xfind(n, name, &found);
  if (found) {
    free(n->xa[i].val);
  } else {
    char *nm = bs__sim_strndup(name, strlen(name));
    bs__sim_xattr *v = nm ? bs__sim_realloc_array(n->xa, n->nxa + 1, sizeof(*v)) : NULL;
    if (!v) {
      free(nm);
      free(val);
      return BS_ENO_MEMORY;
    }
    n->xa = v;
    memmove(&v[i + 1], &v[i], (n->nxa - i) * sizeof(*v));
    v[i].name = nm;
    n->nxa++;
  }
  n->xa[i].val = val;
  n->xa[i].len = len;
  n->ctime = s->clock_ns;
  return BS_OK;
}

int bs__sim_getxattr(bs__sim_store *s, const char *path, const char *name, void *buf, size_t cap,
                     size_t *len) {
  int rc = bs__sim_xattr_name_check(s, "getxattr", name);
  if (rc != 0)
    return rc;
  bs__sim_loc l;
  rc = bs__sim_lookup(s, "getxattr", path, &l);
  if (rc != 0)
    return rc;
  bool found = false;
  size_t i = l.node ? xfind(l.node, name, &found) : 0;
  if (!found)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "getxattr: %s: no xattr \"%s\"", path, name);
  const bs__sim_xattr *x = &l.node->xa[i];
  *len = x->len;
  if (cap == 0)
    return BS_OK;
  if (cap < x->len)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "getxattr: %s: \"%s\" is %zu bytes, buffer %zu", path,
                         name, x->len, cap);
  if (x->len)
    memcpy(buf, x->val, x->len);
  return BS_OK;
}

int bs__sim_removexattr(bs__sim_store *s, const char *path, const char *name) {
  int rc = bs__sim_xattr_name_check(s, "removexattr", name);
  if (rc != 0)
    return rc;
  bs__sim_loc l;
  rc = bs__sim_lookup_mut(s, "removexattr", path, false, &l);
  if (rc != 0)
    return rc;
  bs__sim_inode *n = l.node;
  bool found;
  size_t i = xfind(n, name, &found);
  if (!found)
    return bs_store_fail(&s->base, BS_ENOT_FOUND, 0, "removexattr: %s: no xattr \"%s\"", path, name);
  free(n->xa[i].name);
  free(n->xa[i].val);
  memmove(&n->xa[i], &n->xa[i + 1], (n->nxa - i - 1) * sizeof(*n->xa));
  n->nxa--;
  n->ctime = s->clock_ns;
  return BS_OK;
}

int bs__sim_listxattr(bs__sim_store *s, const char *path, bs_xattr_cb cb, void *ctx) {
  bs__sim_loc l;
  int rc = bs__sim_lookup(s, "listxattr", path, &l);
  if (rc != 0 || !l.node)
    return rc;
  /* Copy the names first: the callback may change the store. */
  size_t n = l.node->nxa;
  char **names = bs__sim_calloc(n, sizeof(*names));
  if (!names)
    return BS_ENO_MEMORY;
  size_t got = 0;
  for (; got < n; got++) {
    names[got] = bs__sim_strndup(l.node->xa[got].name, strlen(l.node->xa[got].name));
    if (!names[got]) {
      bs__sim_names_free(names, got);
      return BS_ENO_MEMORY;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (cb(ctx, names[i]) != 0)
      break;
  bs__sim_names_free(names, n);
  return BS_OK;
}
