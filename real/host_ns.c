/* The namespace of a host store (docs/snapshots.md):
 *
 *   /                       the main tree: <root>
 *   /.bs                    virtual, read-only; not listed by readdir("/")
 *   /.bs/snapshots/<name>   snapshot tree <root>/.bs/snap/<id> (read-only)
 *   /.bs/branches/<name>    branch tree <root>/.bs/branch/<id> (writable)
 *
 * Names reach the host only as ids looked up in the registry, never as path
 * components.  Errors follow the sim (sim/path.c) so one test body holds on
 * both: a missing object is NOT_FOUND before a read-only one is PERMISSION,
 * "/.bs" itself is INVALID for name operations, a tree root is BUSY. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "real/host.h"
#include "src/snapreg.h"

static bs__host_store *H(bs_store *st) { return (bs__host_store *)st; }

char *bs__host_meta_path(const bs__host_store *h, const char *leaf) {
  size_t n = h->root_len + strlen("/.bs") + strlen(leaf) + 1;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%.*s/.bs%s", (int)h->root_len, h->root, leaf);
  return s;
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

char *bs__host_tree_path(const bs__host_store *h, const char *dir, uint64_t id) {
  char leaf[48];
  snprintf(leaf, sizeof(leaf), "/%s/%" PRIu64, dir, id);
  return bs__host_meta_path(h, leaf);
}

static int oom(bs_store *st, const char *op) {
  return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
}

/* One path component: [*p, *p + n). */
typedef struct comp {
  const char *p;
  size_t n;
} comp;

/* Split @path into up to 3 leading components and the rest (from the
 * fourth component on, with its leading '/').  Refuses "." and "..". */
static int split(bs_store *st, const char *op, const char *path, comp c[3], size_t *nc, const char **rest) {
  *nc = 0;
  *rest = "";
  for (const char *p = path; *p;) {
    while (*p == '/')
      p++;
    if (!*p)
      break;
    size_t n = strcspn(p, "/");
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return bs_store_fail(st, BS_EINVALID, 0, "%s: %s: \".\" and \"..\" are not allowed in store paths",
                           op, path);
    if (*nc == 3) {
      if (!*rest[0])
        *rest = p - 1;
    } else {
      c[(*nc)++] = (comp){p, n};
    }
    p += n;
  }
  return 0;
}

static int is(comp c, const char *lit) { return strlen(lit) == c.n && memcmp(c.p, lit, c.n) == 0; }

/* @a + @b joined, malloc'ed. */
static char *join(const char *a, size_t an, const char *b) {
  size_t bn = strlen(b);
  char *s = malloc(an + bn + 1);
  if (s) {
    memcpy(s, a, an);
    memcpy(s + an, b, bn + 1);
  }
  return s;
}

/* Is there anything at @p? */
static int exists(bs_store *st, const bs__hpath *p) {
  const bs_host_os *os = H(st)->os;
  bs_stat_info si;
  return os->stat(os->ctx, p, &si) == 0;
}

static int not_found(bs_store *st, const char *op, const char *path) {
  return bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: %s: no such file or directory", op, path);
}

static int read_only(bs_store *st, const char *op, const char *path) {
  return bs_store_fail(st, BS_EPERMISSION, EROFS, "%s: %s: read-only", op, path);
}

/* A virtual directory, or a name directly below one that does not exist. */
static int at_virtual(bs_store *st, const char *op, const char *path, bs__host_intent intent,
                      bs__host_virt v, bs__host_loc *out) {
  if (v == BS__HOST_V_BS && (intent == BS__HOST_REMOVE || intent == BS__HOST_NEW))
    return bs_store_fail(st, BS_EINVALID, 0, "%s: %s: \"/.bs\" is reserved", op, path);
  if (intent != BS__HOST_READ)
    return read_only(st, op, path);
  out->virt = v;
  return 0;
}

static int missing_below_virtual(bs_store *st, const char *op, const char *path, bs__host_intent intent,
                                 int direct) {
  if (intent == BS__HOST_NEW && direct)
    return read_only(st, op, path);
  return not_found(st, op, path);
}

/* A snapshot (@tree 1) or branch (@tree 2) tree. */
static int in_tree(bs_store *st, const char *op, const char *path, bs__host_intent intent, int tree,
                   uint64_t id, const char *rest, bs__host_loc *out) {
  char *dir = bs__host_tree_path(H(st), tree == 1 ? "snap" : "branch", id);
  size_t dir_len = dir ? strlen(dir) : 0;
  char *hp = dir ? join(dir, dir_len, rest) : NULL;
  free(dir);
  if (!hp)
    return oom(st, op);
  bs__hpath p = place(H(st), hp, BS__HP_TREE, 0);
  if (p.scope == BS__HP_TREE)
    p.tree_len = dir_len - p.rel_off;
  int root = rest[0] == '\0';
  int rc = 0;
  size_t skip = strspn(rest, "/");
  bool placeholder = tree == 1 && strncmp(rest + skip, ".bs", 3) == 0 && (rest[skip + 3] == '/' || !rest[skip + 3]);
  if (placeholder) /* the empty stand-in of <root>/.bs in a btrfs snapshot */
    rc = intent == BS__HOST_NEW ? read_only(st, op, path) : not_found(st, op, path);
  else if (tree == 1 && intent == BS__HOST_NEW)
    rc = read_only(st, op, path);
  else if (tree == 1 && intent != BS__HOST_READ)
    rc = exists(st, &p) ? read_only(st, op, path) : not_found(st, op, path);
  else if (tree == 2 && root && intent == BS__HOST_REMOVE)
    rc = bs_store_fail(st, BS_EBUSY, EBUSY, "%s: %s: the root of a tree cannot be removed or renamed", op,
                       path);
  if (rc != 0) {
    free(hp);
    return rc;
  }
  out->tree = tree;
  out->tree_id = id;
  out->tree_root = root;
  out->host = hp;
  out->hp = p;
  return 0;
}

int bs__host_locate(bs_store *st, const char *op, const char *path, bs__host_intent intent,
                    bs__host_loc *out) {
  memset(out, 0, sizeof(*out));
  bs__host_store *h = H(st);
  comp c[3];
  size_t nc;
  const char *rest;
  int rc = split(st, op, path, c, &nc, &rest);
  if (rc != 0)
    return rc;
  if (nc == 0 || !is(c[0], ".bs")) {
    if (nc == 0 && intent == BS__HOST_REMOVE)
      return bs_store_fail(st, BS_EBUSY, EBUSY, "%s: %s: the root of a tree cannot be removed or renamed",
                           op, path);
    /* "/" is the root itself; a root of "/" is kept as "". */
    out->host = join(h->root, h->root_len, nc == 0 ? "" : path);
    if (out->host && !out->host[0]) {
      free(out->host);
      out->host = strdup("/");
    }
    out->tree_root = nc == 0;
    if (!out->host)
      return oom(st, op);
    out->hp = place(h, out->host, BS__HP_MAIN, 0);
    return 0;
  }
  if (nc == 1)
    return at_virtual(st, op, path, intent, BS__HOST_V_BS, out);
  bs__host_virt v = is(c[1], "snapshots") ? BS__HOST_V_SNAPS : is(c[1], "branches") ? BS__HOST_V_BRANCHES
                                                                                    : BS__HOST_V_NONE;
  if (v == BS__HOST_V_NONE)
    return missing_below_virtual(st, op, path, intent, nc == 2);
  if (nc == 2)
    return at_virtual(st, op, path, intent, v, out);
  /* A tree: look its name up in the registry. */
  char name[BS_NAME_MAX + 1];
  if (c[2].n > BS_NAME_MAX)
    return not_found(st, op, path);
  memcpy(name, c[2].p, c[2].n);
  name[c[2].n] = '\0';
  bs__snapreg reg;
  rc = bs__host_reg_read(st, op, &reg);
  if (rc != 0)
    return rc;
  uint64_t id = 0;
  if (v == BS__HOST_V_SNAPS) {
    const bs_snapshot_info *s = bs__snapreg_find_name(&reg, name);
    id = s ? s->id : 0;
  } else {
    const bs__branch_rec *b = bs__snapreg_find_branch(&reg, name);
    id = b ? b->id : 0;
  }
  bs__snapreg_free(&reg);
  if (id == 0)
    return missing_below_virtual(st, op, path, intent, rest[0] == '\0');
  return in_tree(st, op, path, intent, v == BS__HOST_V_SNAPS ? 1 : 2, id, rest, out);
}

int bs__host_virt_stat(bs_store *st, bs__host_virt v, bs_stat_info *out) {
  bs__snapreg reg;
  int rc = bs__host_reg_read(st, "stat", &reg);
  if (rc != 0)
    return rc;
  size_t n = v == BS__HOST_V_BS ? 2 : v == BS__HOST_V_SNAPS ? reg.nsnaps : reg.nbranches;
  bs__snapreg_free(&reg);
  memset(out, 0, sizeof(*out));
  /* Times and inode number of <root>/.bs when it exists (else the root's). */
  char *meta = bs__host_meta_path(H(st), "");
  if (!meta)
    return oom(st, "stat");
  const bs_host_os *os = H(st)->os;
  bs__hpath mp = bs__host_meta_hpath(H(st), meta), rp = bs__host_root_hpath(H(st));
  if (os->stat(os->ctx, &mp, out) != 0)
    os->stat(os->ctx, &rp, out);
  free(meta);
  out->ino += (uint64_t)v << 48; /* three distinct numbers, outside any real inode range */
  out->kind = BS_KIND_DIR;
  out->mode = 0555;
  out->nlink = (uint32_t)(2 + n);
  out->size = n;
  out->blocks = 0;
  return 0;
}

static int by_bytes(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int bs__host_virt_readdir(bs_store *st, bs__host_virt v, bs_readdir_cb cb, void *ctx) {
  if (v == BS__HOST_V_BS) {
    if (cb(ctx, "branches", BS_KIND_DIR) == 0)
      cb(ctx, "snapshots", BS_KIND_DIR);
    return 0;
  }
  bs__snapreg reg;
  int rc = bs__host_reg_read(st, "readdir", &reg);
  if (rc != 0)
    return rc;
  if (v == BS__HOST_V_BRANCHES) {
    for (size_t i = 0; i < reg.nbranches; i++) /* kept in name order */
      if (cb(ctx, reg.branches[i].name, BS_KIND_DIR) != 0)
        break;
  } else {
    /* Snapshots are kept in id order; list them by name. */
    const char **names = malloc((reg.nsnaps + 1) * sizeof(*names));
    if (!names) {
      bs__snapreg_free(&reg);
      return oom(st, "readdir");
    }
    for (size_t i = 0; i < reg.nsnaps; i++)
      names[i] = reg.snaps[i].name;
    qsort(names, reg.nsnaps, sizeof(*names), by_bytes);
    for (size_t i = 0; i < reg.nsnaps; i++)
      if (cb(ctx, names[i], BS_KIND_DIR) != 0)
        break;
    free(names);
  }
  bs__snapreg_free(&reg);
  return 0;
}
