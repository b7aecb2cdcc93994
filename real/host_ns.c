/* Backend paths of a host store (see host.h): the layout below <root>,
 *
 *   /...                    the main tree: <root>/...
 *   /.bs/snap/ID/...        snapshot tree <root>/.bs/snap/ID (read-only)
 *   /.bs/branch/ID/...      branch tree <root>/.bs/branch/ID (writable)
 *   /.bs/lower/ID/...       the host directory recorded as branch ID's lower,
 *                           in <root>/.bs/branch/ID/lowerdir (read-only)
 *
 * and each as a place beneath the root fd: the main tree without .bs, a
 * tree by itself (no symlink leads out of it), the containers strictly. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "real/host.h"
#include "src/ns.h"

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

/* The length of ".bs/lower/ID" that @rel starts with (0: none). */
static size_t lower_prefix(const char *rel) {
  const size_t n = strlen(".bs/lower/");
  if (strncmp(rel, ".bs/lower/", n) != 0 || rel[n] < '1' || rel[n] > '9')
    return 0;
  size_t d = n + strspn(rel + n, "0123456789");
  return rel[d] == '\0' || rel[d] == '/' ? d : 0;
}

/* The calls that may reach a host lower: it is read-only to the store. */
static bool reads(const char *op) {
  static const char *const ok[] = {"stat", "read", "readdir", "getxattr", "listxattr", "readlink", "reflink"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    if (strcmp(op, ok[i]) == 0)
      return true;
  return false;
}

/* Whether canonical path @a is @b or below it. */
static bool within(const char *a, const char *b) {
  size_t n = strlen(b);
  return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/' || (n > 0 && b[n - 1] == '/'));
}

/* "/.bs/lower/ID/REST" (@rel without its '/', prefix @plen long): REST in
 * the host directory recorded as branch ID's lower (docs/overlay.md),
 * opened as a root of its own, so REST resolves beneath it as the main
 * tree does beneath the store root (real/resolve.c: no symlink or ".."
 * leads out of it). */
static int locate_lower(bs_store *st, const char *op, const char *bpath, const char *rel, size_t plen,
                        bs__host_loc *out) {
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  if (!h->hr || !os->root_open)
    return bs_store_fail(st, BS_EUNSUPPORTED, 0, "%s: %s: the %s platform table cannot confine a host lower", op,
                         bpath, os->name);
  if (!reads(op))
    return bs_store_fail(st, BS_EPERMISSION, EROFS, "%s: %s: the host lower is read-only to the store", op, bpath);
  char leaf[64];
  snprintf(leaf, sizeof(leaf), "/branch/%.*s%s", (int)(plen - strlen(".bs/lower/")), rel + strlen(".bs/lower/"),
           BS__HOST_LOWER_REC);
  char *rec = bs__host_meta_path(h, leaf);
  char *dir = malloc(BS_LOWER_DIR_MAX + 1);
  if (!rec || !dir) {
    free(rec);
    free(dir);
    return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
  }
  bs__hpath mp = bs__host_meta_hpath(h, rec);
  size_t n = 0;
  int e = os->pread(os->ctx, &mp, 0, dir, BS_LOWER_DIR_MAX + 1, &n);
  int rc = 0;
  if (e != 0)
    rc = bs__host_fail_errno(st, op, rec, e);
  else if (n < 2 || n > BS_LOWER_DIR_MAX || dir[0] != '/' || dir[n - 1] != '\n' || memchr(dir, '\0', n))
    rc = bs_store_fail(st, BS_ECORRUPT, 0, "%s: %s: the record of the branch's lower (%s) is damaged", op, bpath, rec);
  if (rc == 0) {
    dir[n - 1] = '\0';
    if ((e = os->root_open(os->ctx, dir, &out->lower)) != 0)
      rc = bs_store_fail(st, bs_err_from_errno(-e), -e, "%s: %s: the host directory %s (the branch's lower): %s", op,
                         bpath, dir, strerror(-e));
  }
  if (rc == 0) {
    out->has_lower = true;
    if (within(out->lower.real, h->hroot.real) || within(h->hroot.real, out->lower.real))
      rc = bs_store_fail(st, BS_EINVALID, 0, "%s: %s: the host directory %s (the branch's lower) %s the store %s", op,
                         bpath, dir, within(out->lower.real, h->hroot.real) ? "is inside" : "holds", h->root);
  }
  const char *rest = rel + plen;
  size_t ln = rc == 0 ? strlen(out->lower.real) : 0;
  if (rc == 0 && !(out->host = malloc(ln + strlen(rest) + 1)))
    rc = bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
  if (rc == 0) {
    snprintf(out->host, ln + strlen(rest) + 1, "%s%s", out->lower.real, rest);
    size_t off = ln;
    while (out->host[off] == '/')
      off++;
    out->hp = (bs__hpath){.abs = out->host, .root = &out->lower, .scope = BS__HP_MAIN, .rel_off = off};
  } else {
    bs__host_loc_free(st, out);
  }
  free(rec);
  free(dir);
  return rc;
}

void bs__host_loc_free(bs_store *st, bs__host_loc *l) {
  if (l->has_lower)
    H(st)->os->root_close(H(st)->os->ctx, &l->lower);
  free(l->host);
  memset(l, 0, sizeof(*l));
}

int bs__host_locate(bs_store *st, const char *op, const char *bpath, bs__host_loc *out) {
  bs__host_store *h = H(st);
  memset(out, 0, sizeof(*out));
  const char *lrel = bpath + strspn(bpath, "/");
  size_t lp = lower_prefix(lrel);
  if (lp)
    return locate_lower(st, op, bpath, lrel, lp, out);
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
