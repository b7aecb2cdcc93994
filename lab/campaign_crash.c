/* Crash consistency after a simulated power loss (docs/campaign.md, "Power
 * loss"): a file without unsynced changes must read back exactly as synced; a
 * dirty file must have the size of one of its two versions and every 4 KiB
 * block must equal that block of its durable or of its pre-crash live
 * version (zero past a version's end).  Files never vanish: namespace
 * operations are durable at once.  What was read is then adopted as the file's live and durable
 * content, and everything is swept. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lab/campaign_internal.h"

/* Bytes [off, off + n) of version @b, zero beyond its end, equal @p? */
static bool block_matches(const bs__cm_buf *b, size_t off, const uint8_t *p, size_t n) {
  size_t have = off < b->n ? b->n - off : 0;
  if (have > n)
    have = n;
  if (have && memcmp(b->p + off, p, have) != 0)
    return false;
  for (size_t k = have; k < n; k++)
    if (p[k] != 0)
      return false;
  return true;
}

static int check_file(bs__camp *c, bs__cm_node *nd, const uint8_t *got, size_t n) {
  char want[64], have[64];
  if (!nd->dirty) {
    if (n == nd->dur.n && (n == 0 || memcmp(got, nd->dur.p, n) == 0))
      return 0;
    snprintf(want, sizeof(want), "synced content, %zu bytes", nd->dur.n);
    snprintf(have, sizeof(have), "%zu bytes%s", n, n == nd->dur.n ? ", other content" : "");
    return bs__camp_fail(c, "crash", want, have, "%s had no unsynced changes but changed in the crash",
                         nd->path);
  }
  if (n != nd->dur.n && n != nd->live.n) {
    snprintf(want, sizeof(want), "size %zu (synced) or %zu (live)", nd->dur.n, nd->live.n);
    snprintf(have, sizeof(have), "size %zu", n);
    return bs__camp_fail(c, "crash", want, have, "%s has a size it never had", nd->path);
  }
  for (size_t off = 0; off < n; off += CM_BLOCK) {
    size_t len = n - off < CM_BLOCK ? n - off : CM_BLOCK;
    if (block_matches(&nd->dur, off, got + off, len) || block_matches(&nd->live, off, got + off, len))
      continue;
    snprintf(want, sizeof(want), "block %zu synced or live", off / CM_BLOCK);
    return bs__camp_fail(c, "crash", want, "a mix or other bytes",
                         "%s block %zu matches neither version", nd->path, off / CM_BLOCK);
  }
  return 0;
}

int bs__camp_after_power_loss(bs__camp *c, uint64_t *content_hash) {
  uint64_t h = BS__FNV_OFFSET;
  for (size_t i = 0; i < c->m.n; i++) {
    bs__cm_node *nd = &c->m.nodes[i];
    if (nd->kind != BS_KIND_FILE)
      continue;
    size_t n = 0;
    int rc = bs_read(c->st, nd->path, 0, c->buf2, CM_FILE_MAX + CM_BLOCK, &n);
    if (rc != 0)
      return bs__camp_fail(c, "crash", "file survives", bs_err_name(rc), "%s after power loss: %s",
                           nd->path, bs_last_message(c->st));
    if (check_file(c, nd, c->buf2, n) != 0)
      return -1;
    if (!nd->dirty)
      continue; /* read back exactly as synced: nothing to adopt or to record */
    if (bs__cm_buf_set(&nd->live, c->buf2, n) != 0)
      return bs__camp_fail(c, "check", "memory", "none", "model ran out of memory");
    bs__cm_make_durable(nd);
    /* What the crash chose for each dirty file goes into the trace. */
    h = bs__fnv1a(h, nd->path, strlen(nd->path) + 1);
    h = bs__content_hash(h, c->buf2, n);
  }
  *content_hash = h;
  /* Every file's bytes were just read and compared: the sweep checks the
   * rest (kinds, sizes, xattrs, listings, the backend's check). */
  return bs__camp_sweep_parts(c, BS__CK_XATTRS);
}
