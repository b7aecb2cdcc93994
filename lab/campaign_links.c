/* Hard links in the campaign's overlay mix (docs/campaign.md, "Hard
 * links"): bs_link of a file to a new name in the same tree.  The model
 * gives the names of one inode the same nonzero bs__cm_node.ino (per tree:
 * a snapshot or branch copy keeps the numbers, and names only share within
 * their tree), and a change through one name is copied to the others
 * (bs__cm_links_sync).  In an overlay branch the old name is copied up
 * first and the link made in the upper layer; a copy-up of a name that
 * shared the lower inode with others gives it an inode of its own: "Hard
 * links are not kept across a copy-up" (docs/overlay.md). */
#include <stdio.h>
#include <string.h>

#include "lab/campaign_internal.h"

/* Length of the root of the tree holding @path: 0 for the main tree, 16 for
 * "/.bs/branches/bN" or "/.bs/snapshots/sN" paths... (-1: in /.bs but in no tree). */
static int tree_len(const char *path) {
  if (strncmp(path, "/.bs/", 5) != 0)
    return 0;
  if (strncmp(path, "/.bs/branches/b", 15) == 0 && path[15] && (path[16] == '/' || !path[16]))
    return 16;
  if (strncmp(path, "/.bs/snapshots/s", 16) == 0 && path[16] && (path[17] == '/' || !path[17]))
    return 17;
  return -1;
}

static bool same_tree(const char *a, const char *b) {
  int la = tree_len(a), lb = tree_len(b);
  return la >= 0 && la == lb && strncmp(a, b, (size_t)la) == 0;
}

void bs__cm_links_sync(bs__cm *m, int i) {
  if (i < 0 || m->nodes[i].ino == 0)
    return;
  for (size_t k = 0; k < m->n; k++) {
    bs__cm_node *s = &m->nodes[i], *d = &m->nodes[k];
    if ((int)k == i || d->ino != s->ino || !same_tree(s->path, d->path))
      continue;
    d->dirty = s->dirty;
    memcpy(d->xlen, s->xlen, sizeof(d->xlen));
    memcpy(d->xval, s->xval, sizeof(d->xval));
    /* dur and live never outgrow CM_FILE_MAX; on a failure the name stays
     * as it was (its checks then fail loudly, not silently). */
    (void)bs__cm_buf_set(&d->live, s->live.p, s->live.n);
    (void)bs__cm_buf_set(&d->dur, s->dur.p, s->dur.n);
  }
}

int bs__cm_link(bs__cm *m, const char *from, const char *to) {
  int i = bs__cm_find(m, from);
  int k = bs__cm_copy_node(m, i, to);
  if (k < 0)
    return k;
  if (m->nodes[i].ino == 0)
    m->nodes[i].ino = ++m->next_ino;
  m->nodes[k].ino = m->nodes[i].ino;
  return 0;
}

static uint64_t below(bs__camp *c, uint64_t n) { return bs__rng_below(&c->rng, n); }

void bs__camp_draw_link(bs__camp *c, bs__op *op) {
  op->expect = CM_REDRAW;
  /* The old name: mostly a file of a writable tree, else a missing one. */
  size_t count = 0;
  for (size_t i = 0; i < c->m.n; i++)
    count += c->m.nodes[i].kind == BS_KIND_FILE && !bs__cm_in_snapshot(c->m.nodes[i].path);
  if (count == 0)
    return;
  uint64_t r = below(c, count);
  size_t i = 0;
  for (;; i++)
    if (c->m.nodes[i].kind == BS_KIND_FILE && !bs__cm_in_snapshot(c->m.nodes[i].path) && r-- == 0)
      break;
  const char *from = c->m.nodes[i].path;
  int root = tree_len(from);
  /* The new name: in the same tree, in a directory that exists. */
  unsigned f = (unsigned)below(c, CM_FILES), d = (unsigned)below(c, CM_DIRS + 1);
  char to[CM_LONG];
  if (d == CM_DIRS)
    snprintf(to, sizeof(to), "%.*s/f%u", root, from, f);
  else
    snprintf(to, sizeof(to), "%.*s/d%u/f%u", root, from, d, f);
  snprintf(op->path2, sizeof(op->path2), "%s", to);
  if (below(c, 100) < 10) /* a missing old name */
    snprintf(op->path, sizeof(op->path), "%.*s/missing%u", root, from, f);
  else
    snprintf(op->path, sizeof(op->path), "%s", from);
  char why[96];
  if (bs__camp_expect_link(&c->m, op, why, sizeof(why)) != 0)
    op->expect = CM_REDRAW;
}

int bs__camp_expect_link(const bs__cm *m, bs__op *op, char *why, size_t cap) {
  int i = bs__cm_find(m, op->path), k = bs__cm_find(m, op->path2);
  const char *no = NULL;
  if (!same_tree(op->path, op->path2) || bs__cm_in_snapshot(op->path) || bs__cm_in_snapshot(op->path2))
    no = "names in two trees or in a snapshot";
  else if (i >= 0 && m->nodes[i].kind != BS_KIND_FILE)
    no = "a directory or a symlink";
  else if (!bs__cm_parent_exists(m, op->path2) || strlen(op->path2) >= CM_PATH)
    no = "a new name in a missing directory";
  if (no) {
    snprintf(why, cap, "link of %s", no);
    return -1;
  }
  op->expect = i < 0 ? BS_ENOT_FOUND : k >= 0 ? BS_EEXISTS : BS_OK;
  return 0;
}
