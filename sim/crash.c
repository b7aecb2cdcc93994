/* Durability and simulated power loss.
 *
 * Metadata operations (create, mkdir, unlink, rmdir, rename, chmod, chown,
 * utimens, xattrs, reflink) are durable as soon as they return, as with a
 * metadata journal.  Data writes and truncates are buffered: a dirty file
 * keeps its durable extent map and size (with their own block references)
 * beside the live ones.  sync makes live durable; a power loss reverts (DROP) or tears
 * (TEAR) every dirty file, after which every file is clean.  Timestamps are
 * metadata and survive a power loss. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/fault.h"
#include "sim/sim_internal.h"

#define B BS__SIM_B

void bs__sim_sync_file(bs__sim_store *s, bs__sim_inode *f) {
  if (!f->dirty)
    return;
  bs__sim_emap_release(s, &f->dur);
  f->dirty = false;
  f->dsize = f->size;
}

void bs__sim_sync_tree(bs__sim_store *s, bs__sim_inode *n) {
  if (n->kind == BS_KIND_FILE)
    bs__sim_sync_file(s, n);
  for (size_t i = 0; i < n->nents; i++)
    bs__sim_sync_tree(s, n->ents[i].node);
}

void bs__sim_sync_all(bs__sim_store *s) {
  bs__sim_sync_tree(s, s->main.root);
  for (size_t i = 0; i < s->nbranches; i++)
    bs__sim_sync_tree(s, s->branches[i]->root);
}

int bs__sim_sync(bs__sim_store *s, const char *path) {
  bs__sim_loc l;
  int rc = path ? bs__sim_lookup(s, "sync", path, &l) : BS_OK;
  if (rc == 0)
    rc = bs__sim_fault(s, "bs/sim/sync");
  if (rc != 0)
    return rc;
  if (!path) {
    bs__sim_sync_all(s);
    return BS_OK;
  }
  /* A directory syncs everything below it (snapshots are always clean). */
  if (l.node)
    bs__sim_sync_tree(s, l.node);
  else if (l.virt == BS__SIM_V_BS || l.virt == BS__SIM_V_BRANCHES)
    for (size_t i = 0; i < s->nbranches; i++)
      bs__sim_sync_tree(s, s->branches[i]->root);
  return BS_OK;
}

/* ---- power loss ------------------------------------------------------------ */

/* The torn state of one dirty file, built before anything changes. */
struct torn {
  bs__sim_inode *f;
  bs__sim_emap map;
  uint64_t size;
};

struct torn_list {
  struct torn *v;
  size_t n, cap;
};

/* Is @f in @tl already?  A file with hard links is met once per name, and
 * must be reverted or torn once: a second pass would release its durable
 * blocks as if they were live ones. */
static bool collected(const struct torn_list *tl, const bs__sim_inode *f) {
  for (size_t i = 0; i < tl->n; i++)
    if (tl->v[i].f == f)
      return true;
  return false;
}

static int collect(bs__sim_inode *n, struct torn_list *tl) {
  if (n->kind == BS_KIND_FILE && n->dirty && !(n->nlink > 1 && collected(tl, n))) {
    if (tl->n == tl->cap) {
      size_t cap = tl->cap ? tl->cap * 2 : 16;
      struct torn *v = bs__sim_realloc_array(tl->v, cap, sizeof(*v));
      if (!v)
        return BS_ENO_MEMORY;
      tl->v = v;
      tl->cap = cap;
    }
    tl->v[tl->n++] = (struct torn){n, {0}, 0};
  }
  for (size_t i = 0; i < n->nents; i++) {
    int rc = collect(n->ents[i].node, tl);
    if (rc != 0)
      return rc;
  }
  return BS_OK;
}

/* Choose, per block that differs, the durable or the live version (seeded). */
static int tear(bs__sim_store *s, struct torn *t) {
  bs__sim_inode *f = t->f;
  uint64_t size = f->size;
  if (f->dsize != f->size && bs__rng_below(&s->rng, 2) == 0)
    size = f->dsize;
  t->size = size;
  uint64_t nb = (size + B - 1) / B;
  /* The block holding the end of the chosen size takes the version that goes
   * with that size, so bytes past the size stay zero. */
  uint64_t tail = (size % B != 0 && f->dsize != f->size) ? size / B : UINT64_MAX;
  uint64_t L = 0;
  for (;;) {
    uint64_t a = bs__sim_emap_next(&f->live, L), b = bs__sim_emap_next(&f->dur, L);
    L = a < b ? a : b;
    if (L >= nb)
      break;
    uint64_t lv = bs__sim_emap_lookup(&f->live, L), dv = bs__sim_emap_lookup(&f->dur, L);
    uint64_t pick = lv;
    if (lv != dv) {
      if (L == tail)
        pick = size == f->size ? lv : dv;
      else
        pick = bs__rng_below(&s->rng, 2) ? lv : dv;
    }
    if (pick != BS__SIM_HOLE) {
      int rc = bs__sim_emap_append(&t->map, L, pick);
      if (rc != 0)
        return rc;
    }
    L++;
  }
  return BS_OK;
}

int bs__sim_power_loss(bs__sim_store *s, bs_power_loss_mode mode) {
  struct torn_list tl = {0};
  bs__rng saved = s->rng;
  int rc = collect(s->main.root, &tl);
  for (size_t i = 0; rc == 0 && i < s->nbranches; i++)
    rc = collect(s->branches[i]->root, &tl);
  for (size_t i = 0; rc == 0 && mode == BS_POWER_LOSS_TEAR && i < tl.n; i++)
    rc = tear(s, &tl.v[i]);
  if (rc != 0) { /* all or nothing, PRNG state included */
    s->rng = saved;
    for (size_t i = 0; i < tl.n; i++)
      bs__sim_emap_free(&tl.v[i].map);
    free(tl.v);
    return rc;
  }
  for (size_t i = 0; i < tl.n; i++) {
    struct torn *t = &tl.v[i];
    bs__sim_inode *f = t->f;
    if (mode == BS_POWER_LOSS_DROP) {
      bs__sim_emap_release(s, &f->live);
      f->live = f->dur;
      f->size = f->dsize;
    } else {
      bs__sim_emap_ref(s, &t->map); /* take the new references before dropping the old */
      bs__sim_emap_release(s, &f->live);
      bs__sim_emap_release(s, &f->dur);
      f->live = t->map;
      f->size = t->size;
    }
    memset(&f->dur, 0, sizeof(f->dur));
    f->dirty = false;
    f->dsize = f->size;
  }
  free(tl.v);
  return BS_OK;
}
