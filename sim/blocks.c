/* The block store: a fixed array of 4 KiB blocks with a reference count each
 * (the CoW bitmap).  A block's data buffer exists exactly while its count is
 * non-zero.  Allocation is deterministic: always the lowest free block, found
 * by scanning from a hint below which every block is known to be in use. */
#include <stdlib.h>
#include <string.h>

#include "sim/fault.h"
#include "sim/sim_internal.h"

int bs__sim_blocks_init(bs__sim_blocks *b, uint64_t n) {
  memset(b, 0, sizeof(*b));
  if (n < BS__SIM_MIN_BLOCKS || n > BS__SIM_MAX_BLOCKS)
    return BS_EINVALID;
  b->ref = bs__sim_calloc((size_t)n, sizeof(*b->ref));
  b->data = bs__sim_calloc((size_t)n, sizeof(*b->data));
  b->flag = bs__sim_calloc((size_t)n, sizeof(*b->flag));
  if (!b->ref || !b->data || !b->flag) {
    bs__sim_blocks_free(b);
    return BS_ENO_MEMORY;
  }
  b->n = n;
  return BS_OK;
}

void bs__sim_blocks_free(bs__sim_blocks *b) {
  if (b->data)
    for (uint64_t i = 0; i < b->n; i++)
      free(b->data[i]);
  free(b->data);
  free(b->ref);
  free(b->flag);
  free(b->tmark);
  free(b->tl);
  free(b->pref);
  memset(b, 0, sizeof(*b));
}

uint64_t bs__sim_blocks_free_count(const bs__sim_blocks *b) { return b->n - b->used; }

void bs__sim_blocks_touch(bs__sim_blocks *b, uint64_t i) {
  if (b->tmark[i])
    return;
  if (b->tn == b->tcap) {
    size_t cap = b->tcap ? 2 * b->tcap : 64;
    struct bs__sim_touch *v = bs__sim_realloc_array(b->tl, cap, sizeof(*v));
    if (!v) { /* the next check cannot trust the list: it runs in full */
      b->tlost = true;
      return;
    }
    b->tl = v;
    b->tcap = cap;
  }
  b->tmark[i] = 1;
  b->tl[b->tn].blk = i;
  b->tl[b->tn++].old = b->ref[i];
}

/* Return block @i to the free pool. */
static void drop(bs__sim_blocks *b, uint64_t i) {
  free(b->data[i]);
  b->data[i] = NULL;
  b->flag[i] = 0;
  b->used--;
  if (i < b->hint)
    b->hint = i;
}

int bs__sim_blocks_alloc(bs__sim_store *s, uint64_t n, uint64_t *out) {
  bs__sim_blocks *b = &s->blk;
  if (n > 0) {
    int rc = bs__sim_fault(s, "bs/sim/alloc");
    if (rc != 0)
      return rc;
  }
  if (n > bs__sim_blocks_free_count(b))
    return BS_ENO_SPACE;
  uint64_t got = 0;
  for (uint64_t i = b->hint; got < n && i < b->n; i++) {
    if (b->ref[i] != 0)
      continue;
    uint8_t *d = bs__sim_malloc(BS_SIM_BLOCK_SIZE);
    if (!d) {
      while (got > 0) { /* give back what this call took */
        uint64_t j = out[--got];
        b->ref[j] = 0;
        if (b->trk)
          b->rhash -= bs__sim_block_hash(j);
        drop(b, j);
      }
      return BS_ENO_MEMORY;
    }
    if (b->trk) {
      bs__sim_blocks_touch(b, i);
      b->rhash += bs__sim_block_hash(i);
    }
    b->ref[i] = 1;
    b->data[i] = d;
    b->used++;
    out[got++] = i;
    b->hint = i + 1;
  }
  return BS_OK;
}

void bs__sim_blocks_ref(bs__sim_store *s, uint64_t pblk, uint64_t len) {
  bs__sim_blocks *b = &s->blk;
  if (b->trk) /* apart: the loop without tracking stays as tight as before it */
    for (uint64_t i = pblk; i < pblk + len; i++) {
      bs__sim_blocks_touch(b, i);
      b->rhash += bs__sim_block_hash(i);
    }
  for (uint64_t i = pblk; i < pblk + len; i++)
    if (++b->ref[i] == 2)
      b->shared++;
}

void bs__sim_blocks_unref(bs__sim_store *s, uint64_t pblk, uint64_t len) {
  bs__sim_blocks *b = &s->blk;
  if (s->bug == BS_SIM_BUG_LEAK_BLOCK)
    return; /* deliberate defect: the reference is never dropped */
  if (b->trk)
    for (uint64_t i = pblk; i < pblk + len; i++)
      if (b->ref[i] != 0) {
        bs__sim_blocks_touch(b, i);
        b->rhash -= bs__sim_block_hash(i);
      }
  for (uint64_t i = pblk; i < pblk + len; i++) {
    if (b->ref[i] == 0)
      continue; /* already inconsistent; check() reports it */
    if (b->ref[i]-- == 2)
      b->shared--;
    if (b->ref[i] == 0)
      drop(b, i);
  }
}

uint8_t *bs__sim_blocks_write_in_place(bs__sim_store *s, uint64_t pblk) {
  bs__sim_blocks *b = &s->blk;
  if (b->ref[pblk] > 1) {
    if (b->trk)
      bs__sim_blocks_touch(b, pblk);
    b->flag[pblk] |= BS__SIM_BLK_SHARED_WRITE; /* only COW_IN_PLACE gets here */
  }
  return b->data[pblk];
}

/* Recompute the counters and the hint from the arrays (after loading an image). */
void bs__sim_blocks_recount(bs__sim_blocks *b) {
  b->used = b->shared = 0;
  b->hint = b->n;
  b->trk = false; /* the arrays were written directly: the next check is full */
  for (uint64_t i = 0; i < b->n; i++) {
    if (b->ref[i] > 0)
      b->used++;
    else if (b->hint == b->n)
      b->hint = i;
    if (b->ref[i] > 1)
      b->shared++;
  }
}
