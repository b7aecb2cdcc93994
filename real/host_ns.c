/* Backend paths of a host store (see host.h): the layout below <root>,
 *
 *   /...                    the main tree: <root>/...
 *   /.bs/snap/ID/...        snapshot tree <root>/.bs/snap/ID (read-only)
 *   /.bs/branch/ID/...      branch tree <root>/.bs/branch/ID (writable)
 *
 * and each as a place beneath the root fd: the main tree without .bs, a
 * tree by itself (no symlink leads out of it), the containers strictly. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "real/host.h"

static bs__host_store *H(bs_store *st) { return (bs__host_store *)st; }

char *bs__host_meta_path(const bs__host_store *h, const char *leaf) {
  size_t n = h->root_len + strlen("/.bs") + strlen(leaf) + 1;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%.*s/.bs%s", (int)h->root_len, h->root, leaf);
  return s;
}

char *bs__host_tree_path(const bs__host_store *h, bs_tree_kind kind, uint64_t id) {
  char leaf[48];
  snprintf(leaf, sizeof(leaf), "/%s/%" PRIu64, kind == BS_TREE_SNAPSHOT ? "snap" : "branch", id);
  return bs__host_meta_path(h, leaf);
}

/* @abs as a place of store @h: @scope, and for a tree the length of its
 * root in the path beneath the store root. */
static bs__hpath place(const bs__host_store *h, const char *abs, bs__hscope scope, size_t tree_len) {
  if (!h->hr)
    return bs__hpath_host(abs);
  size_t off = h->root_len;
  while (abs[off] == '/')
    off++;
  return (bs__hpath){.abs = abs, .root = h->hr, .scope = scope, .rel_off = off, .tree_len = tree_len};
}

bs__hpath bs__host_meta_hpath(const bs__host_store *h, const char *abs) {
  return place(h, abs, BS__HP_META, 0);
}

bs__hpath bs__host_root_hpath(const bs__host_store *h) {
  return place(h, h->root_len ? h->root : "/", BS__HP_MAIN, 0);
}

/* The length of the tree prefix ".bs/snap/ID" or ".bs/branch/ID" that @rel
 * starts with (0: none); *@container for ".bs/snap" or ".bs/branch" alone. */
static size_t tree_prefix(const char *rel, bool *container) {
  *container = false;
  size_t n = 0;
  if (strncmp(rel, ".bs/snap", 8) == 0)
    n = 8;
  else if (strncmp(rel, ".bs/branch", 10) == 0)
    n = 10;
  if (n == 0)
    return 0;
  if (rel[n] == '\0') {
    *container = true;
    return 0;
  }
  if (rel[n] != '/' || rel[n + 1] < '1' || rel[n + 1] > '9')
    return 0;
  size_t d = n + 1 + strspn(rel + n + 1, "0123456789");
  return rel[d] == '\0' || rel[d] == '/' ? d : 0;
}

int bs__host_locate(bs_store *st, const char *op, const char *bpath, bs__host_loc *out) {
  bs__host_store *h = H(st);
  memset(out, 0, sizeof(*out));
  size_t n = h->root_len + strlen(bpath) + 2;
  if (!(out->host = malloc(n)))
    return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
  /* "/" is the root itself; a root of "/" is kept as "". */
  snprintf(out->host, n, "%.*s%s", (int)h->root_len, h->root, h->root_len && !bpath[1] ? "" : bpath);
  const char *rel = bpath + strspn(bpath, "/");
  bool container;
  size_t tlen = tree_prefix(rel, &container);
  if (tlen)
    out->hp = place(h, out->host, BS__HP_TREE, tlen);
  else if (container)
    out->hp = place(h, out->host, BS__HP_META, 0);
  else if (strncmp(rel, ".bs", 3) == 0 && (rel[3] == '\0' || rel[3] == '/'))
    goto refused;
  else
    out->hp = place(h, out->host, BS__HP_MAIN, 0);
  return 0;
refused:
  free(out->host);
  out->host = NULL;
  return bs_store_fail(st, BS_EINVALID, 0, "%s: %s: not a path of the store's trees", op, bpath);
}
