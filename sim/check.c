/* check(): every invariant of the store, in O(blocks + references).
 *
 *  - every extent map (live and durable, every tree) is sorted, non-overlapping,
 *    inside the volume and inside its file's size; snapshot files are clean;
 *  - directories are sorted strictly in the profile's order, parents and
 *    subdirectory counts agree, no ".bs" entry at the main root;
 *  - each block's refcount equals the number of map references to it;
 *    free blocks hold no data; no block was written in place while shared;
 *  - the used/shared counters match the refcounts;
 *  - snapshot and branch trees are each in strict id order.  (Their names
 *    and references are the core's registry: src/snapreg.c checks it.)
 * The first violation is reported as BS_ECORRUPT with a message. */
#include <stdio.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

struct walk {
  bs__sim_store *s;
  uint32_t *exp; /* per-block reference counts, or NULL: ... */
  uint64_t sum;  /* ... the sum of the referenced blocks' hashes (bs__sim_walk_hash) */
  char *why;
  size_t cap;
};

static int add_map(struct walk *w, const bs__sim_inode *n, const bs__sim_emap *m, uint64_t size,
                   const char *which) {
  char buf[160];
  if (bs__sim_emap_validate(m, w->s->blk.n, size, buf, sizeof(buf)) != 0) {
    snprintf(w->why, w->cap, "inode %llu: %s map: %s", (unsigned long long)n->ino, which, buf);
    return BS_ECORRUPT;
  }
  if (!w->exp) { /* prefix sums: O(1) per extent */
    const uint64_t *p = w->s->blk.pref;
    for (size_t i = 0; i < m->n; i++)
      w->sum += p[m->v[i].pblk + m->v[i].len] - p[m->v[i].pblk];
    return BS_OK;
  }
  for (size_t i = 0; i < m->n; i++)
    for (uint64_t b = m->v[i].pblk; b < m->v[i].pblk + m->v[i].len; b++)
      w->exp[b]++;
  return BS_OK;
}

static int walk(struct walk *w, const bs__sim_inode *n, const bs__sim_tree *t, int depth) {
  bs__sim_store *s = w->s;
  if (depth > BS__SIM_MAX_DEPTH) {
    snprintf(w->why, w->cap, "inode %llu: tree deeper than %d", (unsigned long long)n->ino, BS__SIM_MAX_DEPTH);
    return BS_ECORRUPT;
  }
  if (n->kind != BS_KIND_DIR && n->nlink > 1) { /* a hard-linked inode: its maps once */
    if (n->mark == s->walk_mark)
      return BS_OK;
    ((bs__sim_inode *)n)->mark = s->walk_mark;
  }
  if (n->kind == BS_KIND_SYMLINK && (!n->target || n->nents || n->live.n || n->dur.n)) {
    snprintf(w->why, w->cap, "inode %llu: a symlink without a target, or with entries or extents",
             (unsigned long long)n->ino);
    return BS_ECORRUPT;
  }
  if (n->kind == BS_KIND_FILE) {
    if (n->nents) {
      snprintf(w->why, w->cap, "inode %llu: a file with directory entries", (unsigned long long)n->ino);
      return BS_ECORRUPT;
    }
    if (n->dirty && t->readonly) {
      snprintf(w->why, w->cap, "inode %llu: unsynced file in read-only tree %llu", (unsigned long long)n->ino,
               (unsigned long long)t->id);
      return BS_ECORRUPT;
    }
    if (!n->dirty && n->dur.n) {
      snprintf(w->why, w->cap, "inode %llu: clean file with a durable map", (unsigned long long)n->ino);
      return BS_ECORRUPT;
    }
    int rc = add_map(w, n, &n->live, n->size, "live");
    if (rc == 0 && n->dirty)
      rc = add_map(w, n, &n->dur, n->dsize, "durable");
    return rc;
  }
  if (n->live.n || n->dur.n) {
    snprintf(w->why, w->cap, "inode %llu: a directory with extents", (unsigned long long)n->ino);
    return BS_ECORRUPT;
  }
  uint32_t dirs = 0;
  for (size_t i = 0; i < n->nents; i++) {
    const bs__sim_dent *e = &n->ents[i];
    if (e->node->parent != n && e->node->kind == BS_KIND_DIR) { /* a file's: where it was put last */
      snprintf(w->why, w->cap, "inode %llu: entry \"%s\" has a wrong parent", (unsigned long long)n->ino, e->name);
      return BS_ECORRUPT;
    }
    if (i > 0 && bs__sim_name_cmp(s, n->ents[i - 1].name, n->ents[i - 1].nlen, e->name, e->nlen) >= 0) {
      snprintf(w->why, w->cap, "inode %llu: entries \"%s\" and \"%s\" out of order", (unsigned long long)n->ino,
               n->ents[i - 1].name, e->name);
      return BS_ECORRUPT;
    }
    if (n == s->main.root && bs__sim_name_cmp(s, e->name, e->nlen, BS__SIM_RESERVED, 3) == 0) {
      snprintf(w->why, w->cap, "the main root holds the reserved name \"%s\"", e->name);
      return BS_ECORRUPT;
    }
    dirs += e->node->kind == BS_KIND_DIR;
    int rc = walk(w, e->node, t, depth + 1);
    if (rc != 0)
      return rc;
  }
  if (dirs != n->ndirs) {
    snprintf(w->why, w->cap, "inode %llu: %u subdirectories counted as %u", (unsigned long long)n->ino,
             (unsigned)dirs, (unsigned)n->ndirs);
    return BS_ECORRUPT;
  }
  return BS_OK;
}

/* A read-only tree the incremental walk found sound before adds its sum
 * without a walk (sim_internal.h, bs__sim_tree.walked); the full check's
 * walk (w->exp) walks every tree. */
static int walk_tree(struct walk *w, bs__sim_tree *t) {
  if (!w->exp && t->readonly && t->walked) {
    w->sum += t->wsum;
    return BS_OK;
  }
  uint64_t before = w->sum;
  int rc = walk(w, t->root, t, 0);
  if (rc == 0 && !w->exp && t->readonly) {
    t->walked = true;
    t->wsum = w->sum - before;
  }
  return rc;
}

static int walk_all(struct walk *w) {
  bs__sim_store *s = w->s;
  s->walk_mark++; /* a hard-linked inode's maps count once per walk (inodes are never shared by trees) */
  int rc = walk(w, s->main.root, &s->main, 0);
  for (size_t i = 0; rc == 0 && i < s->nsnaps; i++)
    rc = walk_tree(w, s->snaps[i]);
  for (size_t i = 0; rc == 0 && i < s->nbranches; i++)
    rc = walk(w, s->branches[i]->root, s->branches[i], 0);
  return rc;
}

int bs__sim_count_refs(bs__sim_store *s, uint32_t *exp, char *why, size_t cap) {
  struct walk w = {s, exp, 0, why, cap};
  memset(exp, 0, (size_t)s->blk.n * sizeof(*exp));
  return walk_all(&w);
}

int bs__sim_walk_hash(bs__sim_store *s, uint64_t *sum, char *why, size_t cap) {
  struct walk w = {s, NULL, 0, why, cap};
  int rc = walk_all(&w);
  *sum = w.sum;
  return rc;
}

static int in_order(bs__sim_tree *const *v, size_t n, const char *what, char *why, size_t cap) {
  for (size_t i = 0; i < n; i++)
    if (v[i]->id == 0 || (i > 0 && v[i - 1]->id >= v[i]->id)) {
      snprintf(why, cap, "%s tree %llu out of order", what, (unsigned long long)v[i]->id);
      return BS_ECORRUPT;
    }
  return BS_OK;
}

int bs__sim_trees_ok(bs__sim_store *s, char *why, size_t cap) {
  int rc = in_order(s->snaps, s->nsnaps, "snapshot", why, cap);
  return rc != 0 ? rc : in_order(s->branches, s->nbranches, "branch", why, cap);
}

/* Every per-block invariant holds: the loop below, without branches
 * (most of a full check's time on a sound store); when it does not, that
 * loop finds the first violation and reports it. */
static bool blocks_sound(const bs__sim_blocks *b, const uint32_t *exp) {
  if (memcmp(b->ref, exp, (size_t)b->n * sizeof(*exp)) != 0)
    return false;
  uint64_t used = 0, shared = 0;
  unsigned bad = 0;
  for (uint64_t i = 0; i < b->n; i++) {
    uint32_t r = b->ref[i];
    used += r > 0;
    shared += r > 1;
    bad |= (unsigned)((r == 0) != (b->data[i] == NULL)) | (b->flag[i] & BS__SIM_BLK_SHARED_WRITE);
  }
  for (uint64_t i = 0; i < b->hint && i < b->n; i++) /* the hint is past no free block */
    bad |= b->ref[i] == 0;
  return !bad && used == b->used && shared == b->shared;
}

static int full_check(bs__sim_store *s) {
  char why[200] = "";
  int rc = bs__sim_count_refs(s, s->scratch, why, sizeof(why));
  if (rc == 0)
    rc = bs__sim_trees_ok(s, why, sizeof(why));
  if (rc != 0)
    return bs_store_fail(&s->base, BS_ECORRUPT, 0, "%s", why);
  const bs__sim_blocks *b = &s->blk;
  if (blocks_sound(b, s->scratch))
    return BS_OK;
  uint64_t used = 0, shared = 0, first_free = b->n;
  for (uint64_t i = 0; i < b->n; i++) {
    if (b->ref[i] != s->scratch[i])
      return bs_store_fail(&s->base, BS_ECORRUPT, 0, "block %llu: refcount %u, referenced by %u map(s)",
                           (unsigned long long)i, (unsigned)b->ref[i], (unsigned)s->scratch[i]);
    if (b->ref[i] == 0 && b->data[i])
      return bs_store_fail(&s->base, BS_ECORRUPT, 0, "block %llu: free but holds data", (unsigned long long)i);
    if (b->ref[i] > 0 && !b->data[i])
      return bs_store_fail(&s->base, BS_ECORRUPT, 0, "block %llu: in use without data", (unsigned long long)i);
    if (b->flag[i] & BS__SIM_BLK_SHARED_WRITE)
      return bs_store_fail(&s->base, BS_ECORRUPT, 0,
                           "block %llu: written in place while shared (refcount %u): copy-on-write broken",
                           (unsigned long long)i, (unsigned)b->ref[i]);
    if (b->ref[i] == 0 && first_free == b->n)
      first_free = i;
    used += b->ref[i] > 0;
    shared += b->ref[i] > 1;
  }
  if (used != b->used || shared != b->shared)
    return bs_store_fail(&s->base, BS_ECORRUPT, 0, "space: %llu used / %llu shared blocks counted as %llu / %llu",
                         (unsigned long long)used, (unsigned long long)shared, (unsigned long long)b->used,
                         (unsigned long long)b->shared);
  if (b->hint > first_free)
    return bs_store_fail(&s->base, BS_ECORRUPT, 0, "allocator hint %llu is past free block %llu",
                         (unsigned long long)b->hint, (unsigned long long)first_free);
  return BS_OK;
}

int bs__sim_check(bs__sim_store *s) {
  int rc = full_check(s);
  if (rc == 0 && s->blk.tmark) {
    bs__sim_inc_rebase(s); /* what the next incremental check starts from */
    return rc;
  }
  s->blk.trk = false;
  for (size_t i = 0; rc != 0 && i < s->nsnaps; i++)
    s->snaps[i]->walked = false; /* nothing found sound before a failure is trusted */
  return rc;
}
