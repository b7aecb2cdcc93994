/* Extent maps: a file's logical blocks -> physical blocks, as a sorted array
 * of {lblk, pblk, len} runs.  Holes are gaps.  These functions change maps
 * only; reference counts are changed by the callers, except in
 * bs__sim_emap_cut/_ref/_release which exist to keep counts and maps in step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

static uint64_t ext_end(const bs__sim_extent *e) { return e->lblk + e->len; }

void bs__sim_emap_free(bs__sim_emap *m) {
  free(m->v);
  memset(m, 0, sizeof(*m));
}

int bs__sim_emap_reserve(bs__sim_emap *m, size_t extra) {
  if (extra > SIZE_MAX / 2 - m->n)
    return BS_ENO_MEMORY;
  size_t want = m->n + extra;
  if (want <= m->cap)
    return BS_OK;
  size_t cap = m->cap ? m->cap : 4;
  while (cap < want)
    cap *= 2;
  bs__sim_extent *v = bs__sim_realloc_array(m->v, cap, sizeof(*v));
  if (!v)
    return BS_ENO_MEMORY;
  m->v = v;
  m->cap = cap;
  return BS_OK;
}

int bs__sim_emap_copy(bs__sim_emap *dst, const bs__sim_emap *src) {
  memset(dst, 0, sizeof(*dst));
  if (src->n == 0)
    return BS_OK;
  int rc = bs__sim_emap_reserve(dst, src->n);
  if (rc != 0)
    return rc;
  memcpy(dst->v, src->v, src->n * sizeof(*src->v));
  dst->n = src->n;
  return BS_OK;
}

/* Index of the first extent that ends after @lblk (m->n if none). */
static size_t find(const bs__sim_emap *m, uint64_t lblk) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ext_end(&m->v[mid]) <= lblk)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

uint64_t bs__sim_emap_lookup(const bs__sim_emap *m, uint64_t lblk) {
  size_t i = find(m, lblk);
  if (i < m->n && m->v[i].lblk <= lblk)
    return m->v[i].pblk + (lblk - m->v[i].lblk);
  return BS__SIM_HOLE;
}

uint64_t bs__sim_emap_next(const bs__sim_emap *m, uint64_t from) {
  size_t i = find(m, from);
  if (i == m->n)
    return BS__SIM_HOLE;
  return m->v[i].lblk > from ? m->v[i].lblk : from;
}

int bs__sim_emap_append(bs__sim_emap *m, uint64_t lblk, uint64_t pblk) {
  if (m->n > 0) {
    bs__sim_extent *last = &m->v[m->n - 1];
    if (ext_end(last) == lblk && last->pblk + last->len == pblk) {
      last->len++;
      return BS_OK;
    }
  }
  int rc = bs__sim_emap_reserve(m, 1);
  if (rc != 0)
    return rc;
  m->v[m->n++] = (bs__sim_extent){lblk, pblk, 1};
  return BS_OK;
}

/* Merge v[i] into v[i-1] when they are contiguous logically and physically. */
static void merge_at(bs__sim_emap *m, size_t i) {
  if (i == 0 || i >= m->n)
    return;
  bs__sim_extent *a = &m->v[i - 1], *b = &m->v[i];
  if (ext_end(a) == b->lblk && a->pblk + a->len == b->pblk) {
    a->len += b->len;
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
    m->n--;
  }
}

void bs__sim_emap_replace(bs__sim_emap *m, uint64_t l0, uint64_t l1, const bs__sim_extent *rep,
                          size_t nrep) {
  /* Keep the parts of extents outside [l0, l1): a head piece and a tail piece. */
  size_t i = find(m, l0);
  bs__sim_extent head = {0, 0, 0}, tail = {0, 0, 0};
  size_t j = i;
  while (j < m->n && m->v[j].lblk < l1) {
    bs__sim_extent *e = &m->v[j];
    if (e->lblk < l0)
      head = (bs__sim_extent){e->lblk, e->pblk, l0 - e->lblk};
    if (ext_end(e) > l1)
      tail = (bs__sim_extent){l1, e->pblk + (l1 - e->lblk), ext_end(e) - l1};
    j++;
  }
  /* Extents [i, j) are replaced by head + rep + tail. */
  size_t add = (head.len ? 1 : 0) + nrep + (tail.len ? 1 : 0);
  size_t removed = j - i;
  memmove(&m->v[i + add], &m->v[j], (m->n - j) * sizeof(*m->v));
  size_t k = i;
  if (head.len)
    m->v[k++] = head;
  for (size_t r = 0; r < nrep; r++)
    m->v[k++] = rep[r];
  if (tail.len)
    m->v[k++] = tail;
  m->n = m->n - removed + add;
  /* Merge at the seams (from the right so indices stay valid). */
  merge_at(m, k);
  for (size_t x = k; x > i; x--)
    merge_at(m, x - 1);
}

void bs__sim_emap_cut(bs__sim_store *s, bs__sim_emap *m, uint64_t from) {
  size_t i = find(m, from);
  if (i < m->n && m->v[i].lblk < from) { /* straddles: keep the head */
    bs__sim_extent *e = &m->v[i];
    uint64_t keep = from - e->lblk;
    bs__sim_blocks_unref(s, e->pblk + keep, e->len - keep);
    e->len = keep;
    i++;
  }
  for (size_t j = i; j < m->n; j++)
    bs__sim_blocks_unref(s, m->v[j].pblk, m->v[j].len);
  m->n = i;
}

void bs__sim_emap_ref(bs__sim_store *s, const bs__sim_emap *m) {
  for (size_t i = 0; i < m->n; i++)
    bs__sim_blocks_ref(s, m->v[i].pblk, m->v[i].len);
}

void bs__sim_emap_release(bs__sim_store *s, bs__sim_emap *m) {
  for (size_t i = 0; i < m->n; i++)
    bs__sim_blocks_unref(s, m->v[i].pblk, m->v[i].len);
  bs__sim_emap_free(m);
}

uint64_t bs__sim_emap_blocks(const bs__sim_emap *m) {
  uint64_t t = 0;
  for (size_t i = 0; i < m->n; i++)
    t += m->v[i].len;
  return t;
}

int bs__sim_emap_validate(const bs__sim_emap *m, uint64_t nblocks, uint64_t size, char *why,
                          size_t cap) {
  uint64_t limit = (size + BS__SIM_B - 1) / BS__SIM_B; /* blocks the size covers */
  for (size_t i = 0; i < m->n; i++) {
    const bs__sim_extent *e = &m->v[i];
    if (e->len == 0) {
      snprintf(why, cap, "extent %zu is empty", i);
      return BS_ECORRUPT;
    }
    if (e->pblk >= nblocks || e->len > nblocks - e->pblk) {
      snprintf(why, cap, "extent %zu (blocks %llu+%llu) is outside the volume", i,
               (unsigned long long)e->pblk, (unsigned long long)e->len);
      return BS_ECORRUPT;
    }
    if (e->lblk >= limit || e->len > limit - e->lblk) {
      snprintf(why, cap, "extent %zu (logical %llu+%llu) is beyond the size %llu", i,
               (unsigned long long)e->lblk, (unsigned long long)e->len,
               (unsigned long long)size);
      return BS_ECORRUPT;
    }
    if (i > 0 && e->lblk < ext_end(&m->v[i - 1])) {
      snprintf(why, cap, "extent %zu overlaps or is out of order", i);
      return BS_ECORRUPT;
    }
  }
  return BS_OK;
}
