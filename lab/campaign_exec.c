/* Running one drawn operation: call the store, record the trace line, compare
 * the result code with the model's, apply the operation to the model and run
 * the checks that belong to it (docs/campaign.md, "Invariants"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/campaign_internal.h"

static void xattr_name(char *buf, size_t cap, int x) { snprintf(buf, cap, "user.bs%d", x); }

/* Call the store for @op; @extra gets trace details of what came back. */
int bs__camp_call(bs__camp *c, const bs__op *op, bs_snapshot_info *si, char *extra, size_t cap) {
  bs_store *st = c->st;
  char xn[24];
  xattr_name(xn, sizeof(xn), op->xattr);
  switch (op->kind) {
  case BS__OP_CREATE: return bs_create(st, op->path, 0644);
  case BS__OP_MKDIR: return bs_mkdir(st, op->path, 0755);
  case BS__OP_WRITE:
    bs__camp_fill(c->buf, (size_t)op->len, op->dseed);
    return bs_write(st, op->path, op->off, c->buf, (size_t)op->len);
  case BS__OP_READ: {
    size_t n = 0;
    int rc = bs_read(st, op->path, op->off, c->buf, (size_t)op->len, &n);
    c->nread = n;
    snprintf(extra, cap, " n=%zu h=%016" PRIx64, n, bs__content_hash(BS__FNV_OFFSET, c->buf, n));
    return rc;
  }
  case BS__OP_TRUNCATE: return bs_truncate(st, op->path, op->off);
  case BS__OP_REFLINK: return bs_reflink(st, op->path, op->path2);
  case BS__OP_SETXATTR:
    bs__camp_fill(c->buf, (size_t)op->len, op->dseed);
    return bs_setxattr(st, op->path, xn, c->buf, (size_t)op->len);
  case BS__OP_REMOVEXATTR: return bs_removexattr(st, op->path, xn);
  case BS__OP_SNAP_CREATE:
  case BS__OP_BRANCH_SNAP: {
    int rc = op->kind == BS__OP_SNAP_CREATE ? bs_snapshot_create(st, op->name, si)
                                            : bs_branch_snapshot(st, op->path2, op->name, si);
    if (rc == 0) {
      char u[33];
      for (int i = 0; i < 16; i++)
        snprintf(u + 2 * i, 3, "%02x", si->uuid[i]);
      snprintf(extra, cap, " id=%" PRIu64 " uuid=%s created=%" PRIu64, si->id, u, si->created_ns);
    }
    return rc;
  }
  case BS__OP_SNAP_DELETE: return bs_snapshot_delete(st, op->id);
  case BS__OP_BRANCH_CREATE: return bs_branch_create(st, op->id, op->name);
  case BS__OP_BRANCH_DELETE: return bs_branch_delete(st, op->name);
  case BS__OP_OVERLAY_CREATE: {
    bs_branch_opts bo = {.kind = BS_BRANCH_OVERLAY};
    return bs_branch_create_opts(st, op->id, op->name, &bo);
  }
  case BS__OP_SYMLINK: return bs_symlink(st, op->path2, op->path);
  case BS__OP_READLINK: {
    size_t n = 0;
    int rc = bs_readlink(st, op->path, (char *)c->buf, CM_FILE_MAX, &n);
    c->nread = n;
    if (rc == 0)
      snprintf(extra, cap, " n=%zu h=%016" PRIx64, n, bs__content_hash(BS__FNV_OFFSET, c->buf, n));
    return rc;
  }
  case BS__OP_UNLINK: return bs_unlink(st, op->path);
  case BS__OP_LINK: return bs_link(st, op->path, op->path2);
  case BS__OP_RMDIR: return bs_rmdir(st, op->path);
  case BS__OP_SYNC: return bs_sync(st, op->path[0] ? op->path : NULL);
  case BS__OP_POWER_LOSS: return bs_power_loss(st, (bs_power_loss_mode)op->mode);
  case BS__OP_CRASH_IN: /* bs__camp_crash_in */
  case BS__OP_COUNT: break;
  }
  return BS_EINVALID;
}

/* Snapshot and branch bookkeeping of a successful operation. */
static int apply_snapshots(bs__camp *c, const bs__op *op, const bs_snapshot_info *si) {
  bs__cm *m = &c->m;
  char root[CM_PATH], from[CM_PATH];
  switch (op->kind) {
  case BS__OP_SNAP_CREATE:
  case BS__OP_BRANCH_SNAP:
    if (strcmp(si->name, op->name) != 0 || !si->readonly || si->branch_count != 0)
      return bs__camp_fail(c, "result", "info {name, readonly, 0 branches}", si->name,
                           "snapshot info: name \"%s\" readonly %d branch_count %u", si->name,
                           si->readonly, si->branch_count);
    return bs__cm_snap_made(m, op, si);
  case BS__OP_SNAP_DELETE:
    bs__cm_snap_gone(m, op->snap);
    m->dead_id = op->id;
    return 0;
  case BS__OP_BRANCH_CREATE:
  case BS__OP_OVERLAY_CREATE: /* an overlay shows its snapshot's tree until changed */
    m->branches[op->branch] =
        (bs__cm_branch){.live = true, .overlay = op->kind == BS__OP_OVERLAY_CREATE, .snap = op->snap};
    m->snaps[op->snap].branches++;
    bs__cm_snap_root(from, sizeof(from), op->snap);
    bs__cm_branch_root(root, sizeof(root), op->branch);
    if (bs__cm_add(m, root, BS_KIND_DIR) < 0 || bs__cm_copy_tree(m, from, root) != 0)
      return BS_ENO_MEMORY;
    return 0;
  case BS__OP_BRANCH_DELETE:
    bs__cm_branch_root(root, sizeof(root), op->branch);
    bs__cm_remove_tree(m, root);
    m->snaps[m->branches[op->branch].snap].branches--;
    m->branches[op->branch].live = false;
    return 0;
  default: return 0;
  }
}

/* A change of content or xattrs of file @nd (write, truncate, setxattr,
 * removexattr); 0 or BS_ENO_MEMORY. */
static int apply_change(bs__camp *c, bs__cm_node *nd, const bs__op *op) {
  switch (op->kind) {
  case BS__OP_WRITE: /* c->buf still holds the bytes call() filled and wrote */
    nd->dirty = true;
    return bs__cm_buf_write(&nd->live, op->off, c->buf, (size_t)op->len);
  case BS__OP_TRUNCATE:
    nd->dirty = true;
    return bs__cm_buf_truncate(&nd->live, op->off);
  case BS__OP_SETXATTR:
    nd->xlen[op->xattr] = (uint8_t)op->len;
    bs__camp_fill(nd->xval[op->xattr], (size_t)op->len, op->dseed);
    return 0;
  default: nd->xlen[op->xattr] = CM_XATTR_UNSET; return 0;
  }
}

/* Apply a successful operation to the model. */
static int apply(bs__camp *c, const bs__op *op, const bs_snapshot_info *si) {
  bs__cm *m = &c->m;
  int i = bs__cm_find(m, op->path);
  bs__cm_node *nd = i >= 0 ? &m->nodes[i] : NULL;
  switch (op->kind) {
  case BS__OP_CREATE: return bs__cm_add(m, op->path, BS_KIND_FILE) < 0 ? BS_ENO_MEMORY : 0;
  case BS__OP_MKDIR: return bs__cm_add(m, op->path, BS_KIND_DIR) < 0 ? BS_ENO_MEMORY : 0;
  case BS__OP_SYMLINK: {
    int k = bs__cm_add(m, op->path, BS_KIND_SYMLINK);
    if (k < 0)
      return BS_ENO_MEMORY;
    bs__cm_node *ln = &m->nodes[k];
    const uint8_t *t = (const uint8_t *)op->path2;
    return bs__cm_buf_set(&ln->live, t, strlen(op->path2)) || bs__cm_buf_set(&ln->dur, t, strlen(op->path2));
  }
  case BS__OP_READLINK: return 0;
  case BS__OP_WRITE:
  case BS__OP_TRUNCATE:
  case BS__OP_SETXATTR:
  case BS__OP_REMOVEXATTR: {
    int rc = apply_change(c, nd, op);
    bs__cm_links_sync(m, i); /* the other names of a hard-linked file */
    return rc;
  }
  case BS__OP_REFLINK: /* the source's pending writes become durable first */
    bs__cm_make_durable(nd);
    bs__cm_links_sync(m, i);
    return bs__cm_copy_node(m, i, op->path2) < 0 ? BS_ENO_MEMORY : 0;
  case BS__OP_LINK: return bs__cm_link(m, op->path, op->path2);
  case BS__OP_UNLINK:
  case BS__OP_RMDIR: bs__cm_remove(m, i); return 0;
  case BS__OP_SYNC:
    if (nd) {
      bs__cm_make_durable(nd);
      bs__cm_links_sync(m, i);
    } else
      for (size_t k = 0; k < m->n; k++)
        bs__cm_make_durable(&m->nodes[k]);
    return 0;
  default: return apply_snapshots(c, op, si);
  }
}

/* What @op can change in the files of its targets' lineages (the clones,
 * snapshot and branch copies that may share their blocks), checked after
 * it: the target (the file at op->path) and the others each for their
 * parts in bytes [lo, hi) (the whole file: 0, SIZE_MAX).  A write changes
 * the target's bytes, and a write that fails to copy a shared block changes
 * the others in the blocks it covered; a truncate likewise, in the block it
 * cuts (the only one it writes: the zeroed tail); a sync makes the target's
 * bytes durable and changes no bytes; setxattr and removexattr change the
 * target's xattrs (the sim does not share xattrs); an unlink only drops the
 * target's references (its absence is checked below, the references by the
 * backend check); a read or readlink changes nothing (its bytes were
 * compared); a reflink syncs its source (target) and makes its destination
 * (checked whole, as every new file) share the source's blocks, writing
 * none; a create, mkdir, symlink or rmdir over a file is refused and
 * changes nothing: the file is checked whole.  An operation not listed here
 * (a new one) gets every part of every file of the groups.  Whatever is not
 * checked here waits for the next sweep (docs/campaign.md, "Invariants"). */
typedef struct reach {
  unsigned target, others;
  size_t lo, hi;
} reach;

static reach op_reach(const bs__op *op) {
  size_t lo = (size_t)op->off / CM_BLOCK * CM_BLOCK;
  switch (op->kind) {
  case BS__OP_WRITE:
    return (reach){BS__CK_CONTENT, BS__CK_CONTENT, lo,
                   ((size_t)(op->off + op->len) + CM_BLOCK - 1) / CM_BLOCK * CM_BLOCK};
  case BS__OP_TRUNCATE: return (reach){BS__CK_CONTENT, BS__CK_CONTENT, lo, lo + CM_BLOCK};
  case BS__OP_SYNC: return (reach){BS__CK_CONTENT, 0, 0, SIZE_MAX};
  case BS__OP_SETXATTR:
  case BS__OP_REMOVEXATTR: return (reach){BS__CK_XATTRS, 0, 0, SIZE_MAX};
  case BS__OP_REFLINK: return (reach){BS__CK_CONTENT, 0, 0, SIZE_MAX};
  case BS__OP_UNLINK:
  case BS__OP_READ:
  case BS__OP_READLINK: return (reach){0, 0, 0, SIZE_MAX};
  case BS__OP_CREATE:
  case BS__OP_MKDIR:
  case BS__OP_SYMLINK:
  case BS__OP_RMDIR: return (reach){BS__CK_ALL, 0, 0, SIZE_MAX};
  default: return (reach){BS__CK_ALL, BS__CK_ALL, 0, SIZE_MAX};
  }
}

/* The content checks that follow @op; @groups are the lineages of its
 * targets before the operation (0: none). */
static int check_after(bs__camp *c, const bs__op *op, int rc, const uint32_t groups[2]) {
  char root[CM_PATH];
  reach r = op_reach(op);
  int t = bs__cm_find(&c->m, op->path);
  int made = op->kind == BS__OP_REFLINK ? bs__cm_find(&c->m, op->path2) : -1;
  for (int g = 0; g < 2; g++) {
    for (size_t k = 0; groups[g] && k < c->m.n; k++) {
      if (c->m.nodes[k].group != groups[g])
        continue;
      unsigned parts = (int)k == made ? BS__CK_ALL : (int)k == t ? r.target : r.others;
      bool whole = (int)k == t || (int)k == made || r.hi == SIZE_MAX;
      int bad = !parts ? bs__camp_charge_node(c, (int)k)
                : whole ? bs__camp_check_parts(c, (int)k, parts)
                        : bs__camp_check_range(c, (int)k, parts, r.lo, r.hi - r.lo);
      if (bad)
        return -1;
    }
  }
  const char *target = op->kind == BS__OP_REFLINK ? op->path2 : op->path;
  if (rc == BS_ENOT_FOUND && op->kind <= BS__OP_REMOVEXATTR && bs__cm_find(&c->m, target) < 0)
    return bs__camp_check_absent(c, target);
  if (rc == BS_EPERMISSION && op->kind == BS__OP_REFLINK && bs__cm_find(&c->m, op->path2) < 0)
    return bs__camp_check_absent(c, op->path2);
  if (rc != 0)
    return 0;
  int i = bs__cm_find(&c->m, op->path);
  switch (op->kind) {
  case BS__OP_CREATE:
  case BS__OP_MKDIR:
  case BS__OP_SYMLINK: return bs__camp_check_node(c, i);
  case BS__OP_UNLINK:
  case BS__OP_RMDIR: return bs__camp_check_absent(c, op->path);
  case BS__OP_SNAP_CREATE:
  case BS__OP_BRANCH_SNAP:
  case BS__OP_BRANCH_CREATE:
  case BS__OP_OVERLAY_CREATE:
    if (op->kind == BS__OP_SNAP_CREATE || op->kind == BS__OP_BRANCH_SNAP)
      bs__cm_snap_root(root, sizeof(root), op->snap);
    else
      bs__cm_branch_root(root, sizeof(root), op->branch);
    for (size_t k = 0; k < c->m.n; k++)
      if (strncmp(c->m.nodes[k].path, root, strlen(root)) == 0 && bs__camp_check_node(c, (int)k))
        return -1;
    return 0;
  case BS__OP_SNAP_DELETE:
  case BS__OP_BRANCH_DELETE:
    if (op->kind == BS__OP_SNAP_DELETE)
      bs__cm_snap_root(root, sizeof(root), op->snap);
    else
      bs__cm_branch_root(root, sizeof(root), op->branch);
    return bs__camp_check_absent(c, root);
  default: return 0;
  }
}

/* Snapshot list agrees with the model after snapshot and branch operations. */
static int check_snapshot_list(bs__camp *c) {
  bs_snapshot_info *all = NULL;
  size_t n = 0, live = 0;
  int rc = bs_snapshot_list(c->st, &all, &n);
  if (rc != 0)
    return bs__camp_fail(c, "result", "snapshot list OK", bs_err_name(rc), "%s",
                         bs_last_message(c->st));
  for (int s = 0; s < CM_SNAPS; s++) {
    if (!c->m.snaps[s].live)
      continue;
    live++;
    size_t k = 0;
    while (k < n && all[k].id != c->m.snaps[s].id)
      k++;
    char name[16];
    snprintf(name, sizeof(name), "s%d", s);
    if (k == n || strcmp(all[k].name, name) != 0 || all[k].branch_count != c->m.snaps[s].branches) {
      char want[64];
      snprintf(want, sizeof(want), "%s id %" PRIu64 " with %u branches", name, c->m.snaps[s].id,
               c->m.snaps[s].branches);
      free(all);
      return bs__camp_fail(c, "listing", want, k == n ? "missing" : all[k].name,
                           "snapshot list disagrees with the model");
    }
  }
  free(all);
  if (n != live) {
    char want[32], got[32];
    snprintf(want, sizeof(want), "%zu snapshots", live);
    snprintf(got, sizeof(got), "%zu snapshots", n);
    return bs__camp_fail(c, "listing", want, got, "snapshot list has extra entries");
  }
  return 0;
}

/* Blocks the sync implied by @op may release: reflink syncs its source and
 * snapshot create syncs every tree first, which drops durable copies; a
 * reflink into an overlay branch may copy its parents up, which syncs
 * their directories (bounded by the whole branch). */
static uint64_t sync_release_bound(const bs__cm *m, const bs__op *op) {
  uint64_t blocks = 0;
  int ob = op->kind == BS__OP_REFLINK ? bs__cm_ov_branch_of(m, op->path2) : -1;
  int src = op->kind == BS__OP_REFLINK ? bs__cm_find(m, op->path) : -1;
  for (size_t k = 0; k < m->n; k++) {
    const bs__cm_node *nd = &m->nodes[k];
    bool synced = op->kind == BS__OP_SNAP_CREATE || op->kind == BS__OP_BRANCH_SNAP ||
                  (src >= 0 && k == (size_t)src) ||
                  (ob >= 0 && bs__cm_ov_branch_of(m, nd->path) == ob);
    if (synced && nd->dirty)
      blocks += (nd->dur.n + CM_BLOCK - 1) / CM_BLOCK;
  }
  return blocks * CM_BLOCK;
}

/* Space around an operation that must allocate nothing: used_bytes may only
 * drop by what its implied sync released. */
static int check_same_space(bs__camp *c, const bs__op *op, const bs_usage *before,
                            const bs_usage *after, uint64_t released) {
  if (after->used_bytes <= before->used_bytes && after->used_bytes + released >= before->used_bytes)
    return 0;
  char want[80], got[40];
  if (released)
    snprintf(want, sizeof(want), "used_bytes in [%" PRIu64 ", %" PRIu64 "]",
             before->used_bytes - released, before->used_bytes);
  else
    snprintf(want, sizeof(want), "used_bytes %" PRIu64, before->used_bytes);
  snprintf(got, sizeof(got), "used_bytes %" PRIu64, after->used_bytes);
  return bs__camp_fail(c, "space", want, got, "%s must not allocate blocks", bs__op_names[op->kind]);
}

/* Is @rc a right result of @op? */
static bool accepted(const bs__op *op, int rc) {
  if (rc == op->expect)
    return true;
  return rc < 0 && rc > -32 && (op->also & BS__ALSO(rc)) != 0;
}

/* Campaign: the oracle that judges replays must agree with the generator on
 * every drawn operation, or a replay would judge it differently. */
static int check_oracle(bs__camp *c, const bs__op *op) {
  bs__op o = *op;
  char why[160] = "";
  if (bs__camp_expect(&c->m, c->has_power_loss, &o, why, sizeof(why)) == 0 &&
      o.expect == op->expect && o.also == 0)
    return 0;
  char got[64];
  snprintf(got, sizeof(got), "%s (also %#x)", why[0] ? "none" : bs_err_name(o.expect), o.also);
  return bs__camp_fail(c, "oracle", bs_err_name(op->expect), got,
                       "the replay oracle disagrees with the generator%s%s", why[0] ? ": " : "", why);
}

/* After an operation failed by an injected fault: nothing changed.  Its
 * targets' lineages are as the model has them, what it would have made does
 * not exist, the backend and space checks pass. */
static int check_injected(bs__camp *c, const bs__op *op, const uint32_t groups[2]) {
  if (bs__camp_check_store(c, false) != 0)
    return -1;
  for (int g = 0; g < 2; g++)
    if (groups[g] && bs__camp_check_group(c, groups[g], BS__CK_ALL) != 0)
      return -1;
  char root[CM_PATH];
  const char *made = NULL;
  switch (op->kind) {
  case BS__OP_CREATE:
  case BS__OP_MKDIR:
  case BS__OP_SYMLINK: made = op->path; break;
  case BS__OP_REFLINK: made = op->path2; break;
  case BS__OP_BRANCH_CREATE:
  case BS__OP_OVERLAY_CREATE:
    if (op->branch >= 0 && !c->m.branches[op->branch].live) {
      bs__cm_branch_root(root, sizeof(root), op->branch);
      made = root;
    }
    break;
  default: break;
  }
  /* Only where the call would have made something: a name the store refuses
   * anyway (too long, say) cannot be looked up to prove it absent. */
  if (made && op->expect == BS_OK && bs__cm_find(&c->m, made) < 0 && bs__camp_check_absent(c, made) != 0)
    return -1;
  bs_usage u;
  if (bs__camp_check_usage(c, &u) != 0)
    return -1;
  if (bs__op_pool(op->kind) &&
      c->m.caps.native_snapshots)
    return check_snapshot_list(c);
  return 0;
}

int bs__camp_exec(bs__camp *c, const bs__op *op) {
  char full[CM_LINE];
  bs__op_format(full, sizeof(full), op);
  if (bs__op_short_is_full(op)) { /* one formatting instead of two */
    size_t n = strnlen(full, sizeof(c->op_text) - 1);
    memcpy(c->op_text, full, n);
    c->op_text[n] = '\0';
  } else {
    bs__op_format_short(c->op_text, sizeof(c->op_text), op);
  }
  if (!c->replaying && check_oracle(c, op) != 0)
    return -1;
  if (op->kind == BS__OP_CRASH_IN)
    return bs__camp_crash_in(c, op, full);
  bool same_space = op->expect == BS_OK &&
                    (op->kind == BS__OP_REFLINK || op->kind == BS__OP_SNAP_CREATE || op->kind == BS__OP_BRANCH_SNAP ||
                     op->kind == BS__OP_BRANCH_CREATE || op->kind == BS__OP_OVERLAY_CREATE);
  bs_usage before = {0}, after;
  uint64_t released = same_space ? sync_release_bound(&c->m, op) : 0;
  if (same_space && bs__camp_check_usage(c, &before) != 0)
    return -1;
  uint32_t groups[2] = {0, 0};
  const char *targets[2] = {op->path, op->kind == BS__OP_REFLINK ? op->path2 : ""};
  for (int g = 0; g < 2; g++) {
    int i = bs__cm_find(&c->m, targets[g]);
    if (i >= 0 && c->m.nodes[i].kind == BS_KIND_FILE)
      groups[g] = c->m.nodes[i].group;
  }

  char extra[128] = "";
  bs_snapshot_info si;
  memset(&si, 0, sizeof(si));
  int rc = bs__camp_call(c, op, &si, extra, sizeof(extra));
  const char *msg = bs_last_message(c->st);
  char saved[256];
  snprintf(saved, sizeof(saved), "%s", msg);
  if (op->kind == BS__OP_POWER_LOSS && rc == 0) {
    uint64_t h = 0;
    c->res->power_losses++;
    if (bs__camp_after_power_loss(c, &h) != 0)
      return -1;
    snprintf(extra, sizeof(extra), " h=%016" PRIx64, h);
  }
  bs__camp_trace(c, full, rc, extra);
  c->fault_lines.n = 0;
  int injected = 0;
  if (bs__camp_faults_drain(c, &injected) > 0) {
    /* A fault fired: the operation must fail with it and change nothing. */
    if (rc != injected) {
      char want[48];
      snprintf(want, sizeof(want), "%s (injected)", bs_err_name(injected));
      return bs__camp_fail(c, "result", want, bs_err_name(rc), "%s",
                           saved[0] ? saved : "(no message)");
    }
    return check_injected(c, op, groups);
  }
  if (!accepted(op, rc)) {
    char want[160];
    int n = snprintf(want, sizeof(want), "%s", bs_err_name(op->expect));
    for (int k = 1; k < 32 && n > 0 && (size_t)n < sizeof(want); k++)
      if (op->also & BS__ALSO(-k))
        n += snprintf(want + n, sizeof(want) - (size_t)n, " or %s", bs_err_name(-k));
    return bs__camp_fail(c, "result", want, bs_err_name(rc), "%s", saved[0] ? saved : "(no message)");
  }
  if (rc != 0) {
    c->res->expected_errors++;
    if (rc == BS_EUNSUPPORTED)
      c->res->unsupported++;
  }
  if (op->kind == BS__OP_READLINK && rc == 0) {
    const bs__cm_node *nd = &c->m.nodes[bs__cm_find(&c->m, op->path)];
    if (c->nread != nd->live.n || memcmp(c->buf, nd->live.p, nd->live.n) != 0)
      return bs__camp_fail(c, "content", "model target", "other target",
                           "readlink of %s returned %zu bytes, model has %zu", op->path, c->nread,
                           nd->live.n);
  }
  if (op->kind == BS__OP_READ && rc == 0) {
    const bs__cm_node *nd = &c->m.nodes[bs__cm_find(&c->m, op->path)];
    size_t want = op->off >= nd->live.n ? 0 : nd->live.n - (size_t)op->off;
    if (want > op->len)
      want = (size_t)op->len;
    size_t got = c->nread;
    if (got != want || (want && memcmp(c->buf, nd->live.p + op->off, want) != 0))
      return bs__camp_fail(c, "content", "model bytes", "other bytes",
                           "read of %s returned %zu bytes, model has %zu", op->path, got, want);
  }
  bs__cm_ov ov;
  bs__cm_ov_before(&c->m, op, rc, &ov);
  if (rc == 0 && op->kind != BS__OP_POWER_LOSS && apply(c, op, &si) != 0)
    return bs__camp_fail(c, "check", "memory", "none", "model ran out of memory");
  if (rc == 0)
    bs__cm_ov_after(&c->m, op, &ov);
  if (bs__camp_check_store(c, false) != 0 || check_after(c, op, rc, groups) != 0)
    return -1;
  if (bs__camp_check_usage(c, &after) != 0)
    return -1;
  if (same_space && check_same_space(c, op, &before, &after, released) != 0)
    return -1;
  if (bs__op_pool(op->kind) &&
      c->m.caps.native_snapshots)
    return check_snapshot_list(c);
  return 0;
}
