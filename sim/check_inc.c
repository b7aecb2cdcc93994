/* The incremental check: what the calls since the last check could have
 * broken, at a cost that does not grow with the volume (docs/sim.md,
 * "Incremental checks").
 *
 * The full check (check.c) compares every block's refcount with the number
 * of map references to it: O(blocks).  Here the same equality is checked on
 * sums instead: while tracking, blocks.c keeps rhash = sum of ref[i] * h(i)
 * over every refcount change (a store nobody checks incrementally pays
 * nothing), and the walk of every map adds h(b) for each reference,
 * O(1) per extent through prefix sums of h.  Equal multisets give equal
 * sums; a missing, extra or misplaced reference changes the sum (a 64-bit
 * mix per block: a defect that cancels out is a 2^-64 accident).  The other
 * per-block invariants (data exactly while referenced, no in-place write of
 * a shared block, the used/shared counters, the allocator hint) are checked
 * on the blocks that changed: blocks.c lists each once with its refcount at
 * the last check.  The structure of every tree (maps, directories) is
 * walked as in the full check.
 *
 * Any doubt runs the full check, which finds and reports the first
 * violation exactly as bs_check() does.  Without tracking (the first check
 * of a store, after an image load, after a failed check or a lost touch)
 * the full check runs too and starts tracking when it passes. */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

/* A full check passed: the current state is the new base. */
void bs__sim_inc_rebase(bs__sim_store *s) {
  bs__sim_blocks *b = &s->blk;
  if (!b->tmark) {
    b->tmark = bs__sim_calloc((size_t)b->n, 1);
    b->pref = bs__sim_malloc(((size_t)b->n + 1) * sizeof(*b->pref));
    if (!b->tmark || !b->pref) { /* no tracking: every check stays full */
      free(b->tmark);
      free(b->pref);
      b->tmark = NULL;
      b->pref = NULL;
      return;
    }
    b->pref[0] = 0;
    for (uint64_t i = 0; i < b->n; i++)
      b->pref[i + 1] = b->pref[i] + bs__sim_block_hash(i);
  }
  if (!b->trk) { /* rhash was not kept while not tracking: from the refcounts */
    b->rhash = 0;
    for (uint64_t i = 0; i < b->n; i++)
      b->rhash += b->ref[i] * (b->pref[i + 1] - b->pref[i]);
  }
  for (size_t k = 0; k < b->tn; k++)
    b->tmark[b->tl[k].blk] = 0;
  b->tn = 0;
  b->tlost = false;
  b->trk = true;
  b->base_used = b->used;
  b->base_shared = b->shared;
  b->base_hint = b->hint;
}

/* The changed blocks agree with the invariants, and the counters with them. */
static bool changes_ok(const bs__sim_blocks *b) {
  uint64_t used = b->base_used, shared = b->base_shared;
  for (size_t k = 0; k < b->tn; k++) {
    uint64_t i = b->tl[k].blk;
    uint32_t old = b->tl[k].old, r = b->ref[i];
    used = used + (r > 0) - (old > 0);
    shared = shared + (r > 1) - (old > 1);
    if ((b->flag[i] & BS__SIM_BLK_SHARED_WRITE) || (r == 0) != (b->data[i] == NULL) || (r == 0 && i < b->hint))
      return false;
  }
  if (used != b->used || shared != b->shared)
    return false;
  /* Untouched free blocks were at or past the old hint; a hint that moved
   * up must have passed only used blocks. */
  for (uint64_t i = b->base_hint; i < b->hint; i++)
    if (b->ref[i] == 0)
      return false;
  return true;
}

int bs__sim_check_incremental(bs__sim_store *s) {
  bs__sim_blocks *b = &s->blk;
  if (!b->trk || b->tlost) {
    int rc = bs__sim_check(s);
    if (rc == 0)
      bs__sim_inc_rebase(s); /* starts tracking */
    return rc;
  }
  char why[200] = "";
  uint64_t sum = 0;
  int rc = bs__sim_walk_hash(s, &sum, why, sizeof(why));
  if (rc == 0)
    rc = bs__sim_trees_ok(s, why, sizeof(why));
  if (rc != 0) {
    b->trk = false;
    return bs_store_fail(&s->base, BS_ECORRUPT, 0, "%s", why);
  }
  if (sum != b->rhash || !changes_ok(b))
    return bs__sim_check(s); /* finds the first violation, as bs_check() reports it */
  bs__sim_inc_rebase(s);
  return BS_OK;
}
