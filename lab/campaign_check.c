/* The campaign's invariant checks: the backend's own check, file content and
 * xattrs against the model, directory listings, space accounting.  Each
 * returns 0, or records the first failure of the seed and returns -1. */
#include <inttypes.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/sim.h"
#include "lab/campaign_internal.h"

int bs__camp_fail(bs__camp *c, const char *check, const char *expected, const char *actual,
                  const char *fmt, ...) {
  bs_campaign_result *r = c->res;
  if (r->failed)
    return -1;
  r->failed = true;
  bs_campaign_failure *f = &r->failure;
  f->seed = r->seed;
  f->op_index = c->op_index;
  snprintf(f->op, sizeof(f->op), "%s", c->op_text);
  snprintf(f->check, sizeof(f->check), "%s", check);
  snprintf(f->expected, sizeof(f->expected), "%s", expected);
  snprintf(f->actual, sizeof(f->actual), "%s", actual);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->message, sizeof(f->message), fmt, ap);
  va_end(ap);
  return -1;
}

int bs__camp_check_store(bs__camp *c, bool full) {
  if (!c->has_check)
    return 0;
  /* After each operation, the sim's incremental check (as strong, cheaper);
   * the full one at every sweep: every BS_CAMPAIGN_SWEEP_EVERY operations,
   * after every power loss and at the end of a seed. */
  int rc = !full && bs_sim_is_sim(c->st) ? bs_sim_check_incremental(c->st) : bs_check(c->st);
  if (rc == 0)
    return 0;
  return bs__camp_fail(c, "check", "OK", bs_err_name(rc), "%s", bs_last_message(c->st));
}

static const char *kind_name(bs_file_kind k) {
  return k == BS_KIND_FILE ? "file" : k == BS_KIND_DIR ? "directory" : "symlink";
}

/* Names listed by bs_listxattr(): bit x for user.bsX; other names (a real
 * volume's security.* say) are not the model's and are left alone. */
static int listed_xattr(void *ctx, const char *name) {
  unsigned *bits = ctx;
  if (strncmp(name, "user.bs", 7) == 0 && name[7] >= '0' && name[7] < '0' + CM_XATTRS && !name[8])
    *bits |= 1u << (name[7] - '0');
  return 0;
}

static const char *const xattr_names[CM_XATTRS] = {"user.bs0", "user.bs1", "user.bs2", "user.bs3"};

/* Xattr @x of @nd reads back as the model has it (absent: NOT_FOUND). */
static int check_xattr(bs__camp *c, const bs__cm_node *nd, int x) {
  const char *name = xattr_names[x];
  size_t len = 0;
  int rc = bs_getxattr(c->st, nd->path, name, c->buf2, CM_XATTR_LEN + 8, &len);
  bool set = nd->xlen[x] != CM_XATTR_UNSET;
  int want = set ? BS_OK : BS_ENOT_FOUND;
  if (rc != want)
    return bs__camp_fail(c, "content", bs_err_name(want), bs_err_name(rc),
                         "getxattr %s %s: %s", nd->path, name, bs_last_message(c->st));
  if (set && (len != nd->xlen[x] || memcmp(c->buf2, nd->xval[x], len) != 0))
    return bs__camp_fail(c, "content", "model value", "other value",
                         "xattr %s of %s: %zu bytes, model has %u", name, nd->path, len,
                         nd->xlen[x]);
  return 0;
}

/* The xattrs of @nd.  On the sim: the listing names exactly the model's set
 * ones, each reads back with the model's value (one listing instead of a
 * getxattr per absent name, which fails and formats a message).  Elsewhere a
 * getxattr per name, as the full comparison always did (bs__camp_charge_node
 * says why). */
static int check_xattrs(bs__camp *c, const bs__cm_node *nd) {
  if (!c->held_checks) {
    for (int x = 0; x < CM_XATTRS; x++)
      if (check_xattr(c, nd, x) != 0)
        return -1;
    return 0;
  }
  unsigned listed = 0, want = 0;
  for (int x = 0; x < CM_XATTRS; x++)
    if (nd->xlen[x] != CM_XATTR_UNSET)
      want |= 1u << x;
  int rc = bs_listxattr(c->st, nd->path, listed_xattr, &listed);
  if (rc != 0)
    return bs__camp_fail(c, "content", "listxattr OK", bs_err_name(rc), "listxattr %s: %s",
                         nd->path, bs_last_message(c->st));
  for (int x = 0; x < CM_XATTRS; x++) {
    bool set = want & (1u << x);
    if (set != ((listed & (1u << x)) != 0))
      return bs__camp_fail(c, "content", set ? "listed" : "not listed", set ? "not listed" : "listed",
                           "listxattr %s: %s %s", nd->path, xattr_names[x],
                           set ? "is missing" : "is listed but the model has none");
    if (set && check_xattr(c, nd, x) != 0)
      return -1;
  }
  return 0;
}

int bs__camp_check_node(bs__camp *c, int i) { return bs__camp_check_parts(c, i, BS__CK_ALL); }

int bs__camp_check_parts(bs__camp *c, int i, unsigned parts) {
  return bs__camp_check_range(c, i, parts, 0, SIZE_MAX);
}

/* Bytes [@off, @off + @n) of node @i read into c->buf2 equal the model's. */
static int check_bytes(bs__camp *c, const bs__cm_node *nd, size_t off, size_t n) {
  if (n == 0 || memcmp(c->buf2, nd->live.p + off, n) == 0)
    return 0;
  size_t k = 0;
  while (c->buf2[k] == nd->live.p[off + k])
    k++;
  char want[16], got[16];
  snprintf(want, sizeof(want), "0x%02x", nd->live.p[off + k]);
  snprintf(got, sizeof(got), "0x%02x", c->buf2[k]);
  return bs__camp_fail(c, "content", want, got, "%s differs from the model at byte %zu (block %zu)",
                       nd->path, off + k, (off + k) / CM_BLOCK);
}

/* On the sim every public call advances the virtual clock, and the clock is
 * in every trace line, so in every digest.  The checks of a node make fewer
 * and other calls than its full comparison (a stat, a read of the whole
 * file or the readlink, a getxattr per name): they run with the clock held
 * and charge it what the full comparison costs, call by call, so virtual
 * time, the seeds' streams and their digests are what they were when every
 * check was a full comparison.  On other stores (a faults wrapper counts
 * calls too) every check of a node is its full comparison. */
int bs__camp_charge_node(bs__camp *c, int i) {
  const bs__cm_node *nd = &c->m.nodes[i];
  if (!c->held_checks)
    return bs__camp_check_node(c, i);
  bs_sim_clock_charge(c->st, BS_OPC_META, 0); /* stat */
  if (nd->kind == BS_KIND_SYMLINK)
    bs_sim_clock_charge(c->st, BS_OPC_META, 0); /* readlink */
  if (nd->kind != BS_KIND_FILE)
    return 0;
  bs_sim_clock_charge(c->st, BS_OPC_READ, nd->live.n);
  for (int x = 0; c->m.caps.xattrs && x < CM_XATTRS; x++)
    bs_sim_clock_charge(c->st, BS_OPC_META, 0); /* getxattr */
  return 0;
}

static int check_range_now(bs__camp *c, int i, unsigned parts, size_t off, size_t len);

int bs__camp_check_range(bs__camp *c, int i, unsigned parts, size_t off, size_t len) {
  if (!c->held_checks)
    return check_range_now(c, i, BS__CK_ALL, 0, SIZE_MAX);
  bs_sim_clock_hold(c->st, true);
  int rc = check_range_now(c, i, parts, off, len);
  bs_sim_clock_hold(c->st, false);
  return rc == 0 ? bs__camp_charge_node(c, i) : rc;
}

static int check_range_now(bs__camp *c, int i, unsigned parts, size_t off, size_t len) {
  const bs__cm_node *nd = &c->m.nodes[i];
  bs_stat_info si;
  int rc = bs_stat(c->st, nd->path, &si);
  if (rc != 0)
    return bs__camp_fail(c, "content", "stat OK", bs_err_name(rc), "stat %s: %s", nd->path,
                         bs_last_message(c->st));
  if (si.kind != nd->kind)
    return bs__camp_fail(c, "content", kind_name(nd->kind), kind_name(si.kind), "%s has the wrong kind",
                         nd->path);
  if (nd->kind == BS_KIND_SYMLINK) {
    size_t n = 0;
    rc = bs_readlink(c->st, nd->path, (char *)c->buf2, CM_FILE_MAX, &n);
    if (rc != 0 || n != nd->live.n || memcmp(c->buf2, nd->live.p, n) != 0)
      return bs__camp_fail(c, "content", "model target", rc ? bs_err_name(rc) : "other target",
                           "readlink %s: %zu bytes, model has %zu", nd->path, n, nd->live.n);
    return 0;
  }
  if (nd->kind != BS_KIND_FILE)
    return 0;
  /* The whole file is read with room for more than it should hold; a range
   * up to the model's end of file. */
  bool whole = off == 0 && len == SIZE_MAX;
  size_t end = CM_FILE_MAX + CM_BLOCK;
  if (!whole)
    end = off >= nd->live.n ? off : nd->live.n - off < len ? nd->live.n : off + len;
  size_t n = 0;
  if ((parts & BS__CK_CONTENT) && end > off) {
    rc = bs_read(c->st, nd->path, off, c->buf2, end - off, &n);
    if (rc != 0)
      return bs__camp_fail(c, "content", "read OK", bs_err_name(rc), "read %s: %s", nd->path,
                           bs_last_message(c->st));
  }
  bool short_read = (parts & BS__CK_CONTENT) && n != (whole ? nd->live.n : end - off);
  if (si.size != nd->live.n || short_read) {
    char want[32], got[48];
    snprintf(want, sizeof(want), "size %zu", nd->live.n);
    snprintf(got, sizeof(got), "size %" PRIu64 ", read %zu", si.size, n);
    return bs__camp_fail(c, "content", want, got, "%s has the wrong size", nd->path);
  }
  if ((parts & BS__CK_CONTENT) && check_bytes(c, nd, off, n) != 0)
    return -1;
  return c->m.caps.xattrs && (parts & BS__CK_XATTRS) ? check_xattrs(c, nd) : 0;
}

int bs__camp_check_group(bs__camp *c, uint32_t group, unsigned parts) {
  for (size_t i = 0; i < c->m.n; i++)
    if (c->m.nodes[i].group == group && bs__camp_check_parts(c, (int)i, parts) != 0)
      return -1;
  return 0;
}

int bs__camp_check_absent(bs__camp *c, const char *path) {
  bs_stat_info si;
  int rc = bs_stat(c->st, path, &si);
  if (rc == BS_ENOT_FOUND)
    return 0;
  return bs__camp_fail(c, "content", "NOT_FOUND", bs_err_name(rc), "%s should not exist", path);
}

int bs__camp_check_usage(bs__camp *c, bs_usage *u) {
  int rc = bs_usage_get(c->st, u);
  if (rc != 0)
    return bs__camp_fail(c, "space", "usage OK", bs_err_name(rc), "%s", bs_last_message(c->st));
  /* Every block in use belongs to some version of some file the model knows:
   * sharing only lowers the count, a leak raises it. */
  uint64_t bound = 0, bs = u->block_size ? u->block_size : CM_BLOCK;
  for (size_t i = 0; i < c->m.n; i++) {
    const bs__cm_node *nd = &c->m.nodes[i];
    bound += (nd->live.n + bs - 1) / bs;
    if (nd->dirty)
      bound += (nd->dur.n + bs - 1) / bs;
  }
  bound *= bs;
  const char *what = NULL;
  if (u->block_size == 0)
    what = "block_size is 0";
  else if (u->used_bytes + u->free_bytes != u->total_bytes)
    what = "used + free != total";
  else if (u->shared_bytes > u->used_bytes)
    what = "shared > used";
  else if (u->used_bytes % u->block_size || u->free_bytes % u->block_size)
    what = "used or free not a multiple of block_size";
  else if (u->used_bytes > bound)
    what = "used exceeds every block the model's files can hold";
  if (!what)
    return 0;
  char got[128], want[40];
  snprintf(got, sizeof(got), "total %" PRIu64 " used %" PRIu64 " free %" PRIu64 " shared %" PRIu64,
           u->total_bytes, u->used_bytes, u->free_bytes, u->shared_bytes);
  snprintf(want, sizeof(want), "used <= %" PRIu64, bound);
  return bs__camp_fail(c, "space", want, got, "space accounting: %s", what);
}

/* Directory listings: names collected by bs_readdir(). */
#define LIST_MAX 96
typedef struct listing {
  char names[LIST_MAX][CM_PATH];
  size_t n;
  bool overflow;
  bool root;
} listing;

/* @s into a listing's slot, cut to CM_PATH - 1 bytes (as snprintf would). */
static void put_name(char *dst, const char *s) {
  size_t n = strnlen(s, CM_PATH - 1);
  memcpy(dst, s, n);
  dst[n] = '\0';
}

static int collect(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  listing *l = ctx;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || (l->root && strcmp(name, ".bs") == 0))
    return 0;
  if (l->n == LIST_MAX) {
    l->overflow = true;
    return 1;
  }
  put_name(l->names[l->n++], name);
  return 0;
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

/* Children of @dir in the model, sorted. */
static void model_children(const bs__cm *m, const char *dir, listing *l) {
  size_t len = strlen(dir);
  l->n = 0;
  if (strcmp(dir, "/.bs/snapshots") == 0 || strcmp(dir, "/.bs/branches") == 0) {
    bool snaps = dir[5] == 's';
    for (int k = 0; k < (snaps ? CM_SNAPS : CM_BRANCHES); k++)
      if (snaps ? m->snaps[k].live : m->branches[k].live)
        snprintf(l->names[l->n++], CM_PATH, "%c%d", snaps ? 's' : 'b', k);
  } else {
    for (size_t i = 0; i < m->n && l->n < LIST_MAX; i++) {
      const char *p = m->nodes[i].path;
      bool under = len == 1 ? strncmp(p, "/.bs/", 5) != 0 : strncmp(p, dir, len) == 0 && p[len] == '/';
      const char *rest = p + (len == 1 ? 1 : len + 1);
      if (under && !strchr(rest, '/'))
        put_name(l->names[l->n++], rest);
    }
  }
  qsort(l->names, l->n, CM_PATH, cmp_name);
}

static void join(char *out, size_t cap, const listing *l) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < l->n && o + 1 < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? " " : "", l->names[i]);
}

static int check_listing(bs__camp *c, const char *dir, listing *want, listing *got) {
  model_children(&c->m, dir, want);
  got->n = 0; /* (not a memset: the names are written before they are read) */
  got->overflow = false;
  got->root = strcmp(dir, "/") == 0;
  int rc = bs_readdir(c->st, dir, collect, got);
  if (rc == BS_ENOT_FOUND && want->n == 0 && strncmp(dir, "/.bs/", 5) == 0 && !strchr(dir + 5, '/'))
    return 0; /* /.bs/snapshots may not exist before the first snapshot */
  if (rc != 0)
    return bs__camp_fail(c, "listing", "readdir OK", bs_err_name(rc), "readdir %s: %s", dir,
                         bs_last_message(c->st));
  qsort(got->names, got->n, CM_PATH, cmp_name);
  bool same = !got->overflow && got->n == want->n;
  for (size_t i = 0; same && i < got->n; i++)
    same = strcmp(got->names[i], want->names[i]) == 0;
  if (same)
    return 0;
  char w[160], g[160];
  join(w, sizeof(w), want);
  join(g, sizeof(g), got);
  return bs__camp_fail(c, "listing", w, g, "listing of %s differs from the model", dir);
}

int bs__camp_sweep(bs__camp *c) { return bs__camp_sweep_parts(c, BS__CK_ALL); }

int bs__camp_sweep_parts(bs__camp *c, unsigned file_parts) {
  c->res->sweeps++;
  if (bs__camp_check_store(c, true) != 0)
    return -1;
  for (size_t i = 0; i < c->m.n; i++)
    if (bs__camp_check_parts(c, (int)i, c->m.nodes[i].kind == BS_KIND_FILE ? file_parts : BS__CK_ALL) != 0)
      return -1;
  listing *l = malloc(2 * sizeof(*l));
  if (!l)
    return bs__camp_fail(c, "check", "memory", "none", "out of memory");
  int rc = check_listing(c, "/", &l[0], &l[1]);
  if (rc == 0 && c->m.caps.native_snapshots)
    rc = check_listing(c, "/.bs/snapshots", &l[0], &l[1]);
  if (rc == 0 && c->m.caps.native_snapshots)
    rc = check_listing(c, "/.bs/branches", &l[0], &l[1]);
  for (size_t i = 0; rc == 0 && i < c->m.n; i++)
    if (c->m.nodes[i].kind == BS_KIND_DIR)
      rc = check_listing(c, c->m.nodes[i].path, &l[0], &l[1]);
  free(l);
  return rc;
}
