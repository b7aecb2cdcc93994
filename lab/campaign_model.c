/* The campaign's reference model: every file and directory of every tree
 * (main, snapshots, branches) with its expected content, its durable content
 * and its clone lineage, plus the snapshots and branches that exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lab/campaign_internal.h"

void bs__cm_init(bs__cm *m, const bs_caps *caps) {
  memset(m, 0, sizeof(*m));
  m->caps = *caps;
  m->next_group = 1;
}

static void buf_free(bs__cm_buf *b) {
  if (b->refs && --*b->refs > 0) { /* the others keep the bytes */
    memset(b, 0, sizeof(*b));
    return;
  }
  free(b->refs);
  free(b->p);
  memset(b, 0, sizeof(*b));
}

/* Make @b's bytes its own before they change: a shared buffer gets a copy. */
static int buf_own(bs__cm_buf *b) {
  if (!b->refs)
    return BS_OK;
  if (*b->refs == 1) {
    free(b->refs);
    b->refs = NULL;
    return BS_OK;
  }
  uint8_t *q = malloc(b->cap);
  if (!q)
    return BS_ENO_MEMORY;
  if (b->n)
    memcpy(q, b->p, b->n);
  --*b->refs;
  b->refs = NULL;
  b->p = q;
  return BS_OK;
}

/* @dst becomes a copy of @src that shares its bytes. */
static int buf_share(bs__cm_buf *dst, bs__cm_buf *src) {
  if (dst->p && dst->p == src->p)
    return BS_OK; /* shared already */
  if (src->p && !src->refs) {
    if (!(src->refs = malloc(sizeof(*src->refs))))
      return BS_ENO_MEMORY;
    *src->refs = 1;
  }
  buf_free(dst);
  *dst = *src;
  if (dst->refs)
    ++*dst->refs;
  return BS_OK;
}

void bs__cm_free(bs__cm *m) {
  for (size_t i = 0; i < m->n; i++) {
    buf_free(&m->nodes[i].live);
    buf_free(&m->nodes[i].dur);
  }
  free(m->nodes);
  memset(m, 0, sizeof(*m));
}

static int buf_reserve(bs__cm_buf *b, size_t n) {
  if (buf_own(b) != 0)
    return BS_ENO_MEMORY;
  if (n <= b->cap)
    return BS_OK;
  size_t cap = b->cap ? b->cap : CM_BLOCK;
  while (cap < n)
    cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p)
    return BS_ENO_MEMORY;
  b->p = p;
  b->cap = cap;
  return BS_OK;
}

int bs__cm_buf_set(bs__cm_buf *b, const uint8_t *p, size_t n) {
  if (buf_reserve(b, n) != 0)
    return BS_ENO_MEMORY;
  if (n)
    memcpy(b->p, p, n);
  b->n = n;
  return BS_OK;
}

int bs__cm_buf_write(bs__cm_buf *b, uint64_t off, const uint8_t *p, size_t n) {
  size_t end = (size_t)off + n;
  if (buf_reserve(b, end) != 0)
    return BS_ENO_MEMORY;
  if (off > b->n)
    memset(b->p + b->n, 0, (size_t)off - b->n);
  memcpy(b->p + off, p, n);
  if (end > b->n)
    b->n = end;
  return BS_OK;
}

int bs__cm_buf_truncate(bs__cm_buf *b, uint64_t size) {
  if (buf_reserve(b, (size_t)size) != 0)
    return BS_ENO_MEMORY;
  if (size > b->n)
    memset(b->p + b->n, 0, (size_t)size - b->n);
  b->n = (size_t)size;
  return BS_OK;
}

void bs__cm_make_durable(bs__cm_node *nd) {
  /* A clean file's durable bytes are its live ones already (every change
   * of live marks it dirty): no copy. */
  if (nd->kind != BS_KIND_FILE || !nd->dirty)
    return;
  /* Cannot fail for lack of memory in a way that matters: dur never outgrows
   * CM_FILE_MAX, and on failure the node just stays dirty (a weaker check). */
  if (buf_share(&nd->dur, &nd->live) == 0)
    nd->dirty = false;
}

/* Path comparison follows the profile: apfs and hfs fold ASCII case. */
static int path_eq(const bs__cm *m, const char *a, const char *b) {
  return m->caps.case_sensitive ? strcmp(a, b) == 0 : strcasecmp(a, b) == 0;
}

/* FNV-1a of @path, ASCII case folded unless the profile is case-sensitive:
 * equal paths (path_eq) have equal hashes, so most nodes are passed over
 * without comparing their paths. */
static uint32_t path_hash(const bs__cm *m, const char *path) {
  uint32_t h = 2166136261u;
  bool fold = !m->caps.case_sensitive;
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    unsigned ch = fold && *p >= 'A' && *p <= 'Z' ? *p + 32u : *p;
    h = (h ^ ch) * 16777619u;
  }
  return h;
}

int bs__cm_find(const bs__cm *m, const char *path) {
  uint32_t h = path_hash(m, path);
  for (size_t i = 0; i < m->n; i++)
    if (m->nodes[i].phash == h && path_eq(m, m->nodes[i].path, path))
      return (int)i;
  return -1;
}

bool bs__cm_in_snapshot(const char *path) {
  return strncmp(path, "/.bs/snapshots/", 15) == 0;
}

bool bs__cm_parent_exists(const bs__cm *m, const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    return false;
  size_t len = (size_t)(slash - path);
  if (len == 0)
    return true; /* the root */
  char parent[CM_LONG];
  if (len >= sizeof(parent))
    return false;
  memcpy(parent, path, len);
  parent[len] = '\0';
  if (strcmp(parent, "/.bs") == 0 || strcmp(parent, "/.bs/snapshots") == 0 ||
      strcmp(parent, "/.bs/branches") == 0)
    return true;
  int i = bs__cm_find(m, parent);
  return i >= 0 && m->nodes[i].kind == BS_KIND_DIR;
}

/* True when @path lies strictly below directory @dir. */
static bool below(const bs__cm *m, const char *path, const char *dir) {
  size_t len = strlen(dir);
  if (strlen(path) <= len || path[len] != '/')
    return false;
  return m->caps.case_sensitive ? strncmp(path, dir, len) == 0 : strncasecmp(path, dir, len) == 0;
}

bool bs__cm_dir_empty(const bs__cm *m, const char *dir) {
  for (size_t i = 0; i < m->n; i++)
    if (below(m, m->nodes[i].path, dir))
      return false;
  return true;
}

int bs__cm_add(bs__cm *m, const char *path, bs_file_kind kind) {
  if (strlen(path) >= CM_PATH)
    return BS_ENAME_TOO_LONG;
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    bs__cm_node *p = realloc(m->nodes, cap * sizeof(*p));
    if (!p)
      return BS_ENO_MEMORY;
    m->nodes = p;
    m->cap = cap;
  }
  bs__cm_node *nd = &m->nodes[m->n];
  memset(nd, 0, sizeof(*nd));
  snprintf(nd->path, sizeof(nd->path), "%s", path);
  nd->phash = path_hash(m, nd->path);
  nd->kind = kind;
  nd->group = m->next_group++;
  memset(nd->xlen, CM_XATTR_UNSET, sizeof(nd->xlen));
  return (int)m->n++;
}

/* Removal moves the last node into the hole: indexes change, order stays
 * deterministic. */
void bs__cm_remove(bs__cm *m, int i) {
  buf_free(&m->nodes[i].live);
  buf_free(&m->nodes[i].dur);
  m->nodes[i] = m->nodes[--m->n];
}

int bs__cm_copy_node(bs__cm *m, int src, const char *dst) {
  int i = bs__cm_add(m, dst, m->nodes[src].kind);
  if (i < 0)
    return i;
  bs__cm_node *s = &m->nodes[src], *d = &m->nodes[i];
  d->group = s->group;
  d->dirty = s->dirty;
  memcpy(d->xlen, s->xlen, sizeof(d->xlen));
  memcpy(d->xval, s->xval, sizeof(d->xval));
  if (buf_share(&d->live, &s->live) != 0 || buf_share(&d->dur, &s->dur) != 0)
    return BS_ENO_MEMORY;
  return i;
}

/* Is @path in the tree rooted at @root ("" = the main tree, without /.bs)? */
static bool in_tree(const bs__cm *m, const char *path, const char *root) {
  if (!*root)
    return strncmp(path, "/.bs/", 5) != 0;
  return below(m, path, root);
}

int bs__cm_copy_tree(bs__cm *m, const char *from, const char *to) {
  size_t n = m->n, flen = strlen(from);
  for (size_t i = 0; i < n; i++) {
    if (!in_tree(m, m->nodes[i].path, from))
      continue;
    char dst[CM_LONG];
    snprintf(dst, sizeof(dst), "%s%s", to, m->nodes[i].path + flen);
    int rc = bs__cm_copy_node(m, (int)i, dst);
    if (rc < 0)
      return rc;
    m->nodes[rc].ino = m->nodes[i].ino; /* hard links stay within the copy */
  }
  return BS_OK;
}

void bs__cm_remove_tree(bs__cm *m, const char *root) {
  for (size_t i = m->n; i-- > 0;)
    if (in_tree(m, m->nodes[i].path, root) || path_eq(m, m->nodes[i].path, root))
      bs__cm_remove(m, (int)i);
}

void bs__cm_sync_below(bs__cm *m, const char *dir) {
  for (size_t i = 0; i < m->n; i++)
    if (below(m, m->nodes[i].path, dir)) {
      bs__cm_make_durable(&m->nodes[i]);
      bs__cm_links_sync(m, (int)i); /* the inode's other names, wherever they are */
    }
}

void bs__cm_snap_root(char *buf, size_t cap, int snap) {
  snprintf(buf, cap, "/.bs/snapshots/s%d", snap);
}

void bs__cm_branch_root(char *buf, size_t cap, int branch) {
  snprintf(buf, cap, "/.bs/branches/b%d", branch);
}
