/* Power loss in the middle of a copy-up or a whiteout (docs/campaign.md,
 * "Power loss in a copy-up"): the overlay mix's crash-in operation takes a
 * write, truncate, setxattr, removexattr or unlink of a file of an overlay
 * branch, syncs the file, lets the operation make op->steps backend calls (the process "dies" there:
 * every later call fails, the overlay's own cleanup included), and then the
 * power goes.  Whatever the cut, the file must show its old view or its new
 * one, never a partial file: its content is held to the crash check
 * (lab/campaign_crash.c) with the old content durable and the new one
 * live; an xattr must have its old or its new value; an unlinked name
 * must show with its old content or be gone. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backstore/backend.h"
#include "lab/campaign_internal.h"
#include "lab/dying.h"

/* ---- the operation ---------------------------------------------------------------- */

bool bs__crash_in_inner_ok(bs__op_kind k) {
  return k == BS__OP_WRITE || k == BS__OP_TRUNCATE || k == BS__OP_SETXATTR || k == BS__OP_REMOVEXATTR ||
         k == BS__OP_UNLINK;
}

static int overlay_of(const bs__cm *m, const char *path) { return bs__cm_ov_branch_of(m, path); }

static uint64_t below(bs__camp *c, uint64_t n) { return bs__rng_below(&c->rng, n); }

void bs__camp_draw_crash_in(bs__camp *c, bs__op *op) {
  op->expect = CM_REDRAW;
  if (!c->has_power_loss)
    return;
  size_t count = 0;
  for (size_t i = 0; i < c->m.n; i++)
    count += c->m.nodes[i].kind == BS_KIND_FILE && overlay_of(&c->m, c->m.nodes[i].path) >= 0;
  if (count == 0)
    return;
  uint64_t k = below(c, count);
  size_t i = 0;
  for (;; i++)
    if (c->m.nodes[i].kind == BS_KIND_FILE && overlay_of(&c->m, c->m.nodes[i].path) >= 0 && k-- == 0)
      break;
  snprintf(op->path, sizeof(op->path), "%s", c->m.nodes[i].path);
  static const bs__op_kind kinds[] = {BS__OP_WRITE, BS__OP_WRITE, BS__OP_TRUNCATE, BS__OP_SETXATTR,
                                      BS__OP_REMOVEXATTR, BS__OP_UNLINK, BS__OP_UNLINK};
  op->inner = kinds[below(c, sizeof(kinds) / sizeof(kinds[0]))];
  op->mode = below(c, 2) ? BS_POWER_LOSS_DROP : BS_POWER_LOSS_TEAR;
  op->steps = (uint32_t)below(c, 24); /* a copy-up or a whiteout takes about 10-20 calls */
  op->off = below(c, 3) == 0 ? below(c, 12000) : below(c, 3) * CM_BLOCK;
  op->len = op->inner == BS__OP_WRITE ? 1 + below(c, 6000) : below(c, CM_XATTR_LEN + 1);
  op->xattr = (int)below(c, CM_XATTRS);
  op->dseed = bs__rng_next(&c->rng);
  op->expect = BS_OK;
}

int bs__camp_expect_crash_in(const bs__cm *m, bool has_power_loss, bs__op *op, char *why, size_t cap) {
  int i = bs__cm_find(m, op->path);
  const char *no = !has_power_loss                      ? "a store without power loss"
                   : !bs__crash_in_inner_ok(op->inner) ? "an operation it cannot cut"
                   : i < 0 || m->nodes[i].kind != BS_KIND_FILE || overlay_of(m, op->path) < 0
                       ? "a path that is not a file of an overlay branch"
                       : NULL;
  if (no) {
    snprintf(why, cap, "crash-in of %s", no);
    return -1;
  }
  op->expect = BS_OK;
  return 0;
}

/* Mark @path and the directories above it in its branch as in the upper
 * layer: the cut may have copied them up.  Safe either way: the model then
 * predicts fewer syncs than the store makes, and a file the model keeps
 * dirty may read back as either version. */
static void mark_upper(bs__cm *m, const char *path) {
  char buf[CM_LONG];
  snprintf(buf, sizeof(buf), "%s", path);
  for (size_t n = strlen(buf); n > 16; n--) {
    if (buf[n] != '\0' && buf[n] != '/')
      continue;
    char was = buf[n];
    buf[n] = '\0';
    int k = bs__cm_find(m, buf);
    if (k >= 0 && !m->nodes[k].upper && m->nodes[k].kind == BS_KIND_FILE)
      m->nodes[k].ino = 0; /* a copy-up keeps no hard links (lab/campaign_links.c) */
    if (k >= 0)
      m->nodes[k].upper = true;
    buf[n] = was;
  }
}

/* The xattr @x of @path after the crash: the old or the new value, adopted. */
static int settle_xattr(bs__camp *c, bs__cm_node *nd, const bs__op *in, uint8_t old_len,
                        const uint8_t *old_val) {
  char name[24];
  snprintf(name, sizeof(name), "user.bs%d", in->xattr);
  uint8_t got[CM_XATTR_LEN + 1];
  size_t n = 0;
  int rc = bs_getxattr(c->st, in->path, name, got, sizeof(got), &n);
  uint8_t new_len = in->kind == BS__OP_SETXATTR ? (uint8_t)in->len : CM_XATTR_UNSET;
  uint8_t new_val[CM_XATTR_LEN];
  if (in->kind == BS__OP_SETXATTR)
    bs__camp_fill(new_val, (size_t)in->len, in->dseed);
  bool old_ok = old_len == CM_XATTR_UNSET ? rc == BS_ENOT_FOUND
                                          : rc == 0 && n == old_len && memcmp(got, old_val, n) == 0;
  bool new_ok = new_len == CM_XATTR_UNSET ? rc == BS_ENOT_FOUND
                                          : rc == 0 && n == new_len && memcmp(got, new_val, n) == 0;
  if (!old_ok && !new_ok)
    return bs__camp_fail(c, "crash", "the old or the new xattr value", rc ? bs_err_name(rc) : "another value",
                         "%s %s after a power loss in the middle of %s", in->path, name,
                         bs__op_names[in->kind]);
  if (new_ok && !old_ok) {
    nd->xlen[in->xattr] = new_len;
    if (new_len != CM_XATTR_UNSET)
      memcpy(nd->xval[in->xattr], new_val, new_len);
  }
  return 0;
}

int bs__camp_crash_in(bs__camp *c, const bs__op *op, const char *full) {
  bs__op in = *op;
  in.kind = op->inner;
  int i = bs__cm_find(&c->m, op->path);
  uint8_t old_len = c->m.nodes[i].xlen[in.xattr], old_val[CM_XATTR_LEN];
  memcpy(old_val, c->m.nodes[i].xval[in.xattr], sizeof(old_val));
  char extra[160] = "";
  bs_snapshot_info si;
  memset(&si, 0, sizeof(si));
  /* The file is synced first (part of the operation), so that after the
   * crash each block is the one from before the operation or its new one,
   * whether or not the cut came before the change. */
  int src = bs_sync(c->st, op->path);
  if (src != 0)
    return bs__camp_fail(c, "result", "OK", bs_err_name(src), "sync before a crash-in: %s",
                         bs_last_message(c->st));
  bs__cm_make_durable(&c->m.nodes[i]);
  bs__dying_install(c->st);
  uint64_t from = bs__dying_calls();
  bs__dying_limit(from + op->steps);
  int irc = bs__camp_call(c, &in, &si, extra, sizeof(extra));
  uint64_t made = bs__dying_calls() - from;
  bs__dying_uninstall(c->st);
  int rc = bs_power_loss(c->st, (bs_power_loss_mode)op->mode);
  snprintf(extra, sizeof(extra), " cut=%s calls=%" PRIu64, bs_err_name(irc), made);
  if (rc != 0) {
    bs__camp_trace(c, full, rc, extra);
    return bs__camp_fail(c, "result", "OK", bs_err_name(rc), "power loss after a cut %s: %s",
                         bs__op_names[in.kind], bs_last_message(c->st));
  }
  c->res->power_losses++;
  mark_upper(&c->m, op->path);
  bs__cm_node *nd = &c->m.nodes[i];
  int oom = 0, bad = 0;
  switch (in.kind) {
  case BS__OP_WRITE: /* the new content live, the old one durable: either may show */
    bs__camp_fill(c->buf, (size_t)in.len, in.dseed);
    nd->dirty = true;
    oom = bs__cm_buf_write(&nd->live, in.off, c->buf, (size_t)in.len);
    break;
  case BS__OP_TRUNCATE:
    nd->dirty = true;
    oom = bs__cm_buf_truncate(&nd->live, in.off);
    break;
  case BS__OP_SETXATTR:
  case BS__OP_REMOVEXATTR: bad = settle_xattr(c, nd, &in, old_len, old_val); break;
  default: { /* unlink: the name shows (held to its content below) or is gone */
    bs_stat_info st;
    int s = bs_stat(c->st, op->path, &st);
    if (s == BS_ENOT_FOUND)
      bs__cm_remove(&c->m, i);
    else if (s != 0 || st.kind != BS_KIND_FILE)
      bad = bs__camp_fail(c, "crash", "the file or nothing", s ? bs_err_name(s) : "another kind",
                          "%s after a power loss in the middle of unlink", op->path);
    break;
  }
  }
  if (oom)
    return bs__camp_fail(c, "check", "memory", "none", "model ran out of memory");
  if (in.kind != BS__OP_UNLINK)
    bs__cm_links_sync(&c->m, i); /* the other names of a hard-linked file */
  if (bad)
    return -1;
  uint64_t h = 0;
  if (bs__camp_after_power_loss(c, &h) != 0)
    return -1;
  size_t n = strlen(extra);
  snprintf(extra + n, sizeof(extra) - n, " h=%016" PRIx64, h);
  bs__camp_trace(c, full, rc, extra);
  return 0;
}
