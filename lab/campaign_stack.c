/* Stacked snapshots in the campaign's overlay mix (docs/campaign.md, "The
 * overlay mix"): branch-snapshot takes a snapshot of a branch
 * (bs_branch_snapshot), of an overlay branch a stacked one, whose lower is
 * the branch's snapshot and which holds it (BUSY on its delete); a branch of
 * any snapshot is drawn as before, so overlay branches of stacked snapshots
 * (a chain of layers) come from overlay-create.  The model keeps each
 * snapshot's frozen view as a tree of nodes, as for a snapshot of the main
 * tree: a copy of the branch's view as it shows (the model knows what a path
 * shows; layers are src/overlay.c's business), made durable with every tree
 * first (the sim syncs all before any snapshot tree, sim/snap.c), and the
 * oracle compares that view with the store's after the call and at every
 * check.  The chain never reaches the depth limit (CM_SNAPS snapshots), so
 * no flatten is drawn.  A native branch of a stacked snapshot is not drawn:
 * it is a copy of the merged view, which keeps no hard links, where the
 * model's copies do. */
#include <stdio.h>
#include <string.h>

#include "lab/campaign_internal.h"

bool bs__cm_snap_busy(const bs__cm *m, int snap) { return m->snaps[snap].branches || m->snaps[snap].holders; }

/* The branch-snapshot's expected result, or CM_REDRAW when two are right. */
static int expect(const bs__cm *m, const bs__op *op) {
  bool branch = op->branch >= 0 && m->branches[op->branch].live, exists = m->snaps[op->snap].live;
  if (!m->caps.native_snapshots)
    return BS_EUNSUPPORTED;
  if (!branch)
    return exists ? CM_REDRAW : BS_ENOT_FOUND;
  return exists ? BS_EEXISTS : BS_OK;
}

void bs__camp_draw_branch_snap(bs__camp *c, bs__op *op) {
  op->snap = (int)bs__rng_below(&c->rng, CM_SNAPS);
  op->branch = (int)bs__rng_below(&c->rng, CM_BRANCHES);
  snprintf(op->name, sizeof(op->name), "s%d", op->snap);
  snprintf(op->path2, sizeof(op->path2), "b%d", op->branch);
  op->expect = expect(&c->m, op);
}

int bs__camp_expect_branch_snap(const bs__cm *m, bs__op *op, char *why, size_t cap) {
  if (op->snap < 0 || op->branch < 0) {
    snprintf(why, cap, "branch-snapshot: %s of %s: not pool names (s0..s3, b0..b2)", op->name, op->path2);
    return -1;
  }
  op->expect = expect(m, op);
  if (op->expect == CM_REDRAW) { /* the core looks for the branch first */
    op->expect = BS_ENOT_FOUND;
    op->also = BS__ALSO(BS_EEXISTS);
  }
  return 0;
}

int bs__cm_snap_made(bs__cm *m, const bs__op *op, const bs_snapshot_info *si) {
  bs__cm_snap s = {.live = true, .id = si->id, .lower = -1};
  char root[CM_PATH], from[CM_PATH] = "";
  if (op->kind == BS__OP_BRANCH_SNAP) {
    const bs__cm_branch *b = &m->branches[op->branch];
    bs__cm_branch_root(from, sizeof(from), op->branch);
    if (b->overlay) {
      s.stacked = true;
      s.lower = b->snap;
      m->snaps[b->snap].holders++;
    }
  }
  m->snaps[op->snap] = s;
  for (size_t k = 0; k < m->n; k++) /* a snapshot syncs every tree first */
    bs__cm_make_durable(&m->nodes[k]);
  bs__cm_snap_root(root, sizeof(root), op->snap);
  if (bs__cm_add(m, root, BS_KIND_DIR) < 0 || bs__cm_copy_tree(m, from, root) != 0)
    return BS_ENO_MEMORY;
  return 0;
}

void bs__cm_snap_gone(bs__cm *m, int snap) {
  char root[CM_PATH];
  bs__cm_snap_root(root, sizeof(root), snap);
  bs__cm_remove_tree(m, root);
  if (m->snaps[snap].stacked)
    m->snaps[m->snaps[snap].lower].holders--;
  m->snaps[snap].live = false;
}
