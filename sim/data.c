/* File contents: read, write and truncate over the extent map.
 *
 * Copy-on-write: a block whose reference count is 1 (only this file's live
 * map holds it) is written in place; any other mapped block is copied to a
 * newly allocated one first (the old content is kept for a partial write).
 * A clean file's first write or truncate after a sync makes it dirty: its
 * map is duplicated as the durable map, which takes its own references, so
 * that first write copies every block it touches, like a CoW filesystem.
 *
 * All or nothing: the blocks an op needs are counted and allocated, and every
 * array grown, before anything changes; a shortage is NO_SPACE, a failed
 * allocation NO_MEMORY, and the file is then untouched.
 *
 * Bytes past the size of a file always read as zero: a truncate that ends
 * inside a block zeroes the rest of that block (which may need a CoW copy). */
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/fault.h"
#include "sim/sim_internal.h"

#define B BS__SIM_B

/* Whether writing mapped block @p of @f needs a fresh block. */
static bool needs_copy(const bs__sim_store *s, const bs__sim_inode *f, uint64_t p) {
  if (p == BS__SIM_HOLE)
    return true;
  if (s->bug == BS_SIM_BUG_COW_IN_PLACE)
    return false; /* deliberate defect: shared blocks are overwritten */
  return !f->dirty || s->blk.ref[p] > 1;
}

/* Prepared change of one file: new blocks and the durable copy, not yet applied. */
struct prep {
  uint64_t *fresh;   /* allocated blocks, refcount 1 */
  uint64_t nfresh;
  bs__sim_emap dur;  /* the durable copy for a clean file */
  bool made_dur;
};

static void prep_undo(bs__sim_store *s, struct prep *p) {
  for (uint64_t i = 0; i < p->nfresh; i++)
    bs__sim_blocks_unref(s, p->fresh[i], 1);
  bs__sim_emap_free(&p->dur);
  free(p->fresh);
  memset(p, 0, sizeof(*p));
}

/* Allocate @need blocks and, for a clean file, the durable copy of its map. */
static int prep_make(bs__sim_store *s, bs__sim_inode *f, uint64_t need, struct prep *p, const char *op,
                     const char *path) {
  memset(p, 0, sizeof(*p));
  if (need > bs__sim_blocks_free_count(&s->blk))
    return bs_store_fail(&s->base, BS_ENO_SPACE, 0, "%s: %s: needs %llu block(s), %llu free", op, path,
                         (unsigned long long)need, (unsigned long long)bs__sim_blocks_free_count(&s->blk));
  p->fresh = bs__sim_calloc((size_t)need, sizeof(*p->fresh));
  if (!p->fresh)
    return BS_ENO_MEMORY;
  int rc = bs__sim_blocks_alloc(s, need, p->fresh);
  if (rc != 0) {
    free(p->fresh);
    p->fresh = NULL;
    return rc;
  }
  p->nfresh = need;
  if (!f->dirty) {
    rc = bs__sim_emap_copy(&p->dur, &f->live);
    if (rc != 0) {
      prep_undo(s, p);
      return rc;
    }
    p->made_dur = true;
  }
  return BS_OK;
}

/* Apply the durable copy: the file becomes dirty.  Cannot fail. */
static void prep_commit_dur(bs__sim_store *s, bs__sim_inode *f, struct prep *p) {
  if (!p->made_dur)
    return;
  f->dur = p->dur;
  memset(&p->dur, 0, sizeof(p->dur));
  bs__sim_emap_ref(s, &f->dur);
  f->dsize = f->size;
  f->dirty = true;
}

int bs__sim_file_write(bs__sim_store *s, bs__sim_inode *f, uint64_t off, const uint8_t *buf, size_t len,
                       int64_t now, const char *path) {
  if (len == 0)
    return BS_OK;
  int frc = bs__sim_fault(s, "bs/sim/write");
  if (frc != 0)
    return frc;
  if (off > BS__SIM_MAX_FILE || len > BS__SIM_MAX_FILE - off)
    return bs_store_fail(&s->base, BS_ENO_SPACE, 0, "write: %s: file would exceed %llu bytes", path,
                         (unsigned long long)BS__SIM_MAX_FILE);
  uint64_t end = off + len, l0 = off / B, l1 = (end + B - 1) / B, n = l1 - l0;
  uint64_t *old = bs__sim_calloc((size_t)n, sizeof(*old));
  uint64_t *tgt = bs__sim_calloc((size_t)n, sizeof(*tgt));
  bs__sim_extent *rep = bs__sim_calloc((size_t)n, sizeof(*rep));
  struct prep p = {0};
  int rc = BS_ENO_MEMORY;
  if (!old || !tgt || !rep)
    goto out;
  uint64_t need = 0;
  for (uint64_t i = 0; i < n; i++) {
    old[i] = bs__sim_emap_lookup(&f->live, l0 + i);
    need += needs_copy(s, f, old[i]);
  }
  rc = prep_make(s, f, need, &p, "write", path);
  if (rc != 0)
    goto out;
  /* The new mapping of [l0, l1), merged into runs. */
  size_t nrep = 0;
  for (uint64_t i = 0, k = 0; i < n; i++) {
    tgt[i] = needs_copy(s, f, old[i]) ? p.fresh[k++] : old[i];
    if (nrep && rep[nrep - 1].lblk + rep[nrep - 1].len == l0 + i &&
        rep[nrep - 1].pblk + rep[nrep - 1].len == tgt[i])
      rep[nrep - 1].len++;
    else
      rep[nrep++] = (bs__sim_extent){l0 + i, tgt[i], 1};
  }
  rc = bs__sim_emap_reserve(&f->live, nrep + 1);
  if (rc != 0) {
    prep_undo(s, &p);
    goto out;
  }
  /* Commit: nothing below can fail.  The durable copy first, so that the
   * refcounts seen by the writes include it. */
  prep_commit_dur(s, f, &p);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t bstart = (l0 + i) * B;
    uint64_t a = i == 0 ? off - bstart : 0;
    uint64_t b = i == n - 1 ? end - bstart : B;
    uint8_t *d;
    if (tgt[i] != old[i]) { /* fresh block */
      d = s->blk.data[tgt[i]];
      if (a > 0 || b < B) {
        if (old[i] != BS__SIM_HOLE)
          memcpy(d, s->blk.data[old[i]], B);
        else
          memset(d, 0, B);
      }
    } else {
      d = bs__sim_blocks_write_in_place(s, tgt[i]);
    }
    memcpy(d + a, buf + (bstart + a - off), (size_t)(b - a));
  }
  for (uint64_t i = 0; i < n; i++) /* the live map lets go of replaced blocks */
    if (tgt[i] != old[i] && old[i] != BS__SIM_HOLE)
      bs__sim_blocks_unref(s, old[i], 1);
  bs__sim_emap_replace(&f->live, l0, l1, rep, nrep);
  if (end > f->size)
    f->size = end;
  bs__sim_touch(f, now);
  free(p.fresh);
  rc = BS_OK;
out:
  free(old);
  free(tgt);
  free(rep);
  return rc;
}

void bs__sim_file_read(bs__sim_store *s, const bs__sim_inode *f, uint64_t off, uint8_t *buf, size_t len,
                       size_t *nread) {
  *nread = 0;
  if (off >= f->size)
    return;
  uint64_t n = f->size - off < len ? f->size - off : len;
  for (uint64_t done = 0; done < n;) {
    uint64_t pos = off + done, a = pos % B, c = B - a < n - done ? B - a : n - done;
    uint64_t p = bs__sim_emap_lookup(&f->live, pos / B);
    if (p == BS__SIM_HOLE)
      memset(buf + done, 0, (size_t)c);
    else
      memcpy(buf + done, s->blk.data[p] + a, (size_t)c);
    done += c;
  }
  *nread = (size_t)n;
}

int bs__sim_file_truncate(bs__sim_store *s, bs__sim_inode *f, uint64_t size, int64_t now, const char *path) {
  int frc = bs__sim_fault(s, "bs/sim/write");
  if (frc != 0)
    return frc;
  if (size > BS__SIM_MAX_FILE)
    return bs_store_fail(&s->base, BS_ENO_SPACE, 0, "truncate: %s: %llu bytes is over the %llu limit", path,
                         (unsigned long long)size, (unsigned long long)BS__SIM_MAX_FILE);
  if (size == f->size) {
    bs__sim_touch(f, now);
    return BS_OK;
  }
  /* Shrinking into the middle of a mapped block zeroes its tail: that block may need a copy. */
  uint64_t tail = BS__SIM_HOLE, old = BS__SIM_HOLE;
  if (size < f->size && size % B != 0) {
    tail = size / B;
    old = bs__sim_emap_lookup(&f->live, tail);
  }
  bool copy = old != BS__SIM_HOLE && needs_copy(s, f, old);
  struct prep p;
  int rc = prep_make(s, f, copy ? 1 : 0, &p, "truncate", path);
  if (rc != 0)
    return rc;
  if (copy && (rc = bs__sim_emap_reserve(&f->live, 2)) != 0) {
    prep_undo(s, &p);
    return rc;
  }
  prep_commit_dur(s, f, &p);
  if (size < f->size) {
    bs__sim_emap_cut(s, &f->live, (size + B - 1) / B);
    if (old != BS__SIM_HOLE) {
      uint8_t *d;
      if (copy) {
        d = s->blk.data[p.fresh[0]];
        memcpy(d, s->blk.data[old], B);
        bs__sim_extent e = {tail, p.fresh[0], 1};
        bs__sim_blocks_unref(s, old, 1);
        bs__sim_emap_replace(&f->live, tail, tail + 1, &e, 1);
      } else {
        d = bs__sim_blocks_write_in_place(s, old);
      }
      memset(d + size % B, 0, (size_t)(B - size % B));
    }
  }
  f->size = size;
  bs__sim_touch(f, now);
  free(p.fresh);
  return BS_OK;
}

/* ---- path level ------------------------------------------------------------ */

static int regular(bs__sim_store *s, const char *op, const char *path, const bs__sim_loc *l) {
  if (l->virt != BS__SIM_V_NONE || l->node->kind != BS_KIND_FILE)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "%s: %s: not a regular file", op, path);
  return BS_OK;
}

/* Deliberate defect STRAY_WRITE: the first block of another file of @f's
 * directory, if that block is not shared, gets a byte flipped behind the
 * back of blocks.c (nothing records it: only a comparison of content finds
 * it). */
static void stray_write(bs__sim_store *s, const bs__sim_inode *f) {
  const bs__sim_inode *dir = f->parent;
  for (size_t i = 0; dir && i < dir->nents; i++) {
    const bs__sim_inode *g = dir->ents[i].node;
    if (g == f || g->kind != BS_KIND_FILE || g->size == 0)
      continue;
    uint64_t p = bs__sim_emap_lookup(&g->live, 0);
    if (p == BS__SIM_HOLE || s->blk.ref[p] != 1)
      continue;
    s->blk.data[p][0] ^= 0x5a;
    return;
  }
}

int bs__sim_write(bs__sim_store *s, const char *path, uint64_t off, const void *buf, size_t len) {
  bs__sim_loc l;
  int rc = bs__sim_lookup(s, "write", path, &l);
  if (rc == 0)
    rc = regular(s, "write", path, &l);
  if (rc == 0)
    rc = bs__sim_lookup_mut(s, "write", path, false, &l);
  if (rc != 0)
    return rc;
  rc = bs__sim_file_write(s, l.node, off, buf, len, s->clock_ns, path);
  if (rc == 0)
    s->op_bytes = len;
  if (rc == 0 && s->bug == BS_SIM_BUG_STRAY_WRITE)
    stray_write(s, l.node);
  return rc;
}

int bs__sim_read(bs__sim_store *s, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  bs__sim_loc l;
  *nread = 0;
  int rc = bs__sim_lookup(s, "read", path, &l);
  if (rc == 0)
    rc = regular(s, "read", path, &l);
  if (rc != 0)
    return rc;
  bs__sim_inode *f = l.node;
  bs__sim_file_read(s, f, off, buf, len, nread);
  s->op_bytes = *nread;
  /* relatime: update atime when it is not newer than mtime/ctime, or a day old.
   * Read-only trees (snapshots) keep their atime, like a read-only mount. */
  int64_t now = s->clock_ns;
  if (!l.tree->readonly &&
      (f->atime <= f->mtime || f->atime <= f->ctime || f->atime <= now - 86400LL * 1000000000LL))
    f->atime = now;
  return BS_OK;
}

int bs__sim_truncate(bs__sim_store *s, const char *path, uint64_t size) {
  bs__sim_loc l;
  int rc = bs__sim_lookup(s, "truncate", path, &l);
  if (rc == 0)
    rc = regular(s, "truncate", path, &l);
  if (rc == 0)
    rc = bs__sim_lookup_mut(s, "truncate", path, false, &l);
  if (rc != 0)
    return rc;
  return bs__sim_file_truncate(s, l.node, size, s->clock_ns, path);
}
