/* Extended attributes: a sorted array of {name, value} per inode.
 *
 * Profile rules: the Linux profiles (btrfs, xfs, ext4, tmpfs) accept only the
 * "user.", "trusted." and "security." namespaces (anything else is
 * UNSUPPORTED, like EOPNOTSUPP) with names up to 255 bytes; apfs and hfs take
 * any name of 1..127 bytes.  Names are compared byte for byte.  Values are up
 * to 65536 bytes (more is INVALID, like E2BIG); btrfs and ext4 have less room
 * (NO_SPACE, like their ENOSPC; see value_room below).  Xattrs, like all
 * metadata, use no blocks of the block store. */
#include <errno.h>
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
    y->in_block = x->in_block;
  }
  return BS_OK;
}

/* The checks Linux makes while copying the name in (setxattr_copy(),
 * before the path is looked up): empty or too long. */
int bs__sim_xattr_name_check(bs__sim_store *s, const char *op, const char *name) {
  size_t n = strlen(name);
  const bs__sim_profile *p = s->prof;
  if (n == 0)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: empty xattr name", op);
  /* Linux answers ERANGE for a name over XATTR_NAME_MAX; macOS ENAMETOOLONG. */
  if (n > p->xattr_name_max)
    return bs_store_fail(&s->base, p->linux_xattrs ? BS_EINVALID : BS_ENAME_TOO_LONG, 0,
                         "%s: xattr name of %zu bytes (%s max %u)", op, n, p->name,
                         (unsigned)p->xattr_name_max);
  return BS_OK;
}

/* The namespace, which Linux checks once the path is found
 * (xattr_resolve_name() in vfs_*xattr). */
static int ns_check(bs__sim_store *s, const char *op, const char *name) {
  const bs__sim_profile *p = s->prof;
  if (!p->linux_xattrs)
    return BS_OK;
  static const char *const ns[] = {"user.", "trusted.", "security."};
  for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
    size_t k = strlen(ns[i]);
    if (strncmp(name, ns[i], k) == 0)
      return strlen(name) > k ? BS_OK
                              : bs_store_fail(&s->base, BS_EINVALID, 0,
                                              "%s: xattr name \"%s\" has no name after the namespace",
                                              op, name);
  }
  return bs_store_fail(&s->base, BS_EUNSUPPORTED, 0,
                       "%s: xattr \"%s\": %s supports only the user., trusted. and security. namespaces",
                       op, name, p->name);
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

/* ---- room for values --------------------------------------------------------
 * btrfs keeps each xattr in one B-tree item: name + value at most
 * BTRFS_MAX_XATTR_SIZE (16 228 bytes with 16 KiB nodes).  A value that also
 * must share its leaf with neighbours can fail a little below that; the
 * differential runs mask that band (docs/diff.md).
 * ext4 (4 KiB blocks, 256-byte inodes, no ea_inode feature, mkfs defaults)
 * keeps xattrs in the inode body (88 bytes of room) and one xattr block
 * (4060 bytes of room).  An entry takes 16 bytes + the name without its
 * namespace prefix, rounded up to 4, plus the value rounded up to 4.  A set
 * goes to the inode body if it fits there, else to the block (leaving the
 * body), else fails with ENOSPC and changes nothing: ext4_xattr_set_handle(). */
#define EXT4_IBODY_ROOM 88u  /* 256 - 128 - i_extra_isize 32 - magic 4 - end marker 4 */
#define EXT4_BLOCK_ROOM 4060u /* 4096 - header 32 - end marker 4 */

static size_t ext4_entry_size(const char *name, size_t vlen) {
  static const char *const ns[] = {"user.", "trusted.", "security."};
  size_t n = strlen(name);
  for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
    if (strncmp(name, ns[i], strlen(ns[i])) == 0) {
      n -= strlen(ns[i]);
      break;
    }
  return ((16 + n + 3) & ~(size_t)3) + ((vlen + 3) & ~(size_t)3);
}

/* Where xattr @name with a value of @len bytes can go on @n, the entry at
 * @skip (being replaced; n->nxa if none) left out: 0 the inode body, 1 the
 * block, -1 nowhere. */
static int ext4_place(const bs__sim_inode *n, size_t skip, const char *name, size_t len) {
  size_t body = 0, block = 0, need = ext4_entry_size(name, len);
  for (size_t i = 0; i < n->nxa; i++)
    if (i != skip)
      *(n->xa[i].in_block ? &block : &body) += ext4_entry_size(n->xa[i].name, n->xa[i].len);
  if (body + need <= EXT4_IBODY_ROOM)
    return 0;
  return block + need <= EXT4_BLOCK_ROOM ? 1 : -1;
}

/* 0 if the profile has room for the value, with *@in_block set for ext4;
 * else NO_SPACE. */
static int value_room(bs__sim_store *s, const bs__sim_inode *n, size_t skip, const char *path,
                      const char *name, size_t len, bool *in_block) {
  *in_block = false;
  switch (s->prof->xattr_space) {
  case BS__SIM_XA_LEAF:
    if (strlen(name) + len <= BS__SIM_BTRFS_XATTR_MAX)
      return BS_OK;
    break;
  case BS__SIM_XA_EXT4: {
    int where = ext4_place(n, skip, name, len);
    *in_block = where == 1;
    if (where >= 0)
      return BS_OK;
    break;
  }
  case BS__SIM_XA_64K: return BS_OK;
  }
  return bs_store_fail(&s->base, BS_ENO_SPACE, ENOSPC,
                       "setxattr: %s: no room for \"%s\" of %zu bytes on %s", path, name, len,
                       s->prof->name);
}

/* Re-place every xattr of @n in name order (ext4), as the real backend's
 * copy sets them: after an image load, which does not record placements. */
void bs__sim_xattrs_place(const bs__sim_store *s, bs__sim_inode *n) {
  if (s->prof->xattr_space != BS__SIM_XA_EXT4)
    return;
  size_t all = n->nxa;
  for (size_t i = 0; i < all; i++) {
    n->nxa = i; /* only the ones placed so far */
    n->xa[i].in_block = ext4_place(n, i, n->xa[i].name, n->xa[i].len) == 1;
  }
  n->nxa = all;
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
  if (rc == 0)
    rc = ns_check(s, "setxattr", name);
  if (rc != 0)
    return rc;
  bs__sim_inode *n = l.node;
  bool found, in_block;
  size_t i = xfind(n, name, &found);
  rc = value_room(s, n, found ? i : n->nxa, path, name, len, &in_block);
  if (rc != 0)
    return rc;
  uint8_t *val = len ? bs__sim_malloc(len) : NULL;
  if (len && !val)
    return BS_ENO_MEMORY;
  if (len)
    memcpy(val, value, len);
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
  n->xa[i].in_block = in_block;
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
  if (rc == 0)
    rc = ns_check(s, "getxattr", name);
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
  if (rc == 0)
    rc = ns_check(s, "removexattr", name);
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
