/* Snapshots and branches of a host store (docs/snapshots.md).
 *
 * Layout below the reserved directory <root>/.bs:
 *   registry        the registry (src/snapreg.h), replaced atomically:
 *                   written to registry.tmp, fsynced, renamed, directory fsynced
 *   lock            advisory lock: shared to read the registry, exclusive to change it
 *   snap/<id>       snapshot trees (read-only)
 *   branch/<id>     branch trees
 *
 * A tree is made before the registry names it and unnamed before it is
 * removed, so a crash at any point leaves at worst an orphan tree that no
 * registry entry points at; the next change of the registry removes orphans
 * first (reconcile).  Every bs_* call holds the store's mutex (src/store.c),
 * and the file lock orders stores of other processes on the same root. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "real/host.h"
#include "src/snapreg.h"

static bs__host_store *H(bs_store *st) { return (bs__host_store *)st; }

/* The platform's own words for the failure when it has them (darwin: a
 * missing entitlement, a failing diskutil), else strerror. */
static const char *detail(bs_store *st, int e) {
  const bs_host_os *os = H(st)->os;
  const char *d = os->last_detail ? os->last_detail(os->ctx) : NULL;
  return d && *d ? d : strerror(e);
}

static int fail_errno(bs_store *st, const char *op, const char *what, int neg_errno) {
  int e = -neg_errno;
  if (e == BS__ESCAPE)
    return bs__host_fail_errno(st, op, what, neg_errno);
  return bs_store_fail(st, bs_err_from_errno(e), e, "%s: %s: %s", op, what, detail(st, e));
}

static int oom(bs_store *st, const char *op) {
  return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
}

/* A path of the reserved directory, as the seam takes it. */
static bs__hpath meta(bs_store *st, const char *abs) { return bs__host_meta_hpath(H(st), abs); }

/* ---- the method ----------------------------------------------------------- */

/* How this store makes trees, from its capabilities and flags. */
static int method(bs_store *st, const char *op, bs__snap_method *m) {
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  bs_caps c;
  int e = os->caps(os->ctx, h->root_len ? h->root : "/", &c);
  if (e != 0)
    return fail_errno(st, op, h->root_len ? h->root : "/", e);
  if (!os->snap_create)
    return bs_store_fail(st, BS_EUNSUPPORTED, 0, "%s: the %s platform has no snapshots", op, os->name);
  if (c.native_snapshots)
    *m = BS__SNAP_NATIVE;
  else if (c.native_reflink)
    *m = BS__SNAP_REFLINK;
  else if (h->flags & BS_OPEN_SNAPSHOT_COPY)
    *m = BS__SNAP_COPY;
  else
    return bs_store_fail(st, BS_EUNSUPPORTED, 0,
                         "%s: %s has no native snapshots and no reflink (open the store with "
                         "BS_OPEN_SNAPSHOT_COPY, or --copy-snapshots, for copied snapshots)",
                         op, c.fs_type_name);
  return 0;
}

/* ---- the registry file ------------------------------------------------------ */

typedef struct session {
  int locked;
  int handle;
  bs__snap_method m;
  bs__snapreg reg;
  uint8_t *old;   /* the registry file as loaded (NULL: there was none), to put back if a save fails late */
  size_t old_len;
  int landed;     /* a failed save left the new registry in place all the same */
} session;

static int lock(bs_store *st, const char *op, int exclusive, session *s) {
  const bs_host_os *os = H(st)->os;
  if (!os->lock)
    return 0;
  char *p = bs__host_meta_path(H(st), "/lock");
  if (!p)
    return oom(st, op);
  bs__hpath lp = meta(st, p);
  int e = os->lock(os->ctx, &lp, exclusive, &s->handle);
  free(p);
  if (e != 0)
    return fail_errno(st, op, "registry lock", e);
  s->locked = 1;
  return 0;
}

static void unlock(bs_store *st, session *s) {
  const bs_host_os *os = H(st)->os;
  if (s->locked)
    os->unlock(os->ctx, s->handle);
  s->locked = 0;
}

/* Load <root>/.bs/registry into @reg (empty if there is none); with @s, keep
 * its bytes there too. */
static int load(bs_store *st, const char *op, bs__snapreg *reg, session *s) {
  const bs_host_os *os = H(st)->os;
  bs__snapreg_init(reg);
  char *p = bs__host_meta_path(H(st), "/registry");
  if (!p)
    return oom(st, op);
  bs_stat_info si;
  bs__hpath rp = meta(st, p);
  int e = os->stat(os->ctx, &rp, &si);
  if (e == -ENOENT || e == -ENOTDIR) {
    free(p);
    return 0;
  }
  uint8_t *buf = NULL;
  size_t got = 0;
  if (e == 0 && !(buf = malloc(si.size ? si.size : 1)))
    e = -ENOMEM;
  while (e == 0 && got < si.size) {
    size_t n = 0;
    e = os->pread(os->ctx, &rp, got, buf + got, si.size - got, &n);
    if (e == 0 && n == 0)
      break;
    got += n;
  }
  int rc = e != 0 ? fail_errno(st, op, p, e) : 0;
  if (rc == 0 && bs__snapreg_decode(reg, buf, got) != 0)
    rc = bs_store_fail(st, BS_ECORRUPT, 0, "%s: %s: the snapshot registry is damaged", op, p);
  if (rc == 0 && s) {
    s->old = buf; /* never NULL: at least one byte was allocated */
    s->old_len = got;
    buf = NULL;
  }
  free(buf);
  free(p);
  return rc;
}

/* Write @buf to <root>/.bs/registry.tmp, fsync it and rename it over the
 * registry.  *@renamed says whether the rename was done. */
static int install(const bs_host_os *os, const bs__hpath *tmp, const bs__hpath *dst, const uint8_t *buf,
                   size_t n, int *renamed) {
  *renamed = 0;
  int e = os->unlink(os->ctx, tmp);
  if (e == -ENOENT)
    e = 0;
  if (e == 0)
    e = os->create(os->ctx, tmp, 0600);
  if (e == 0)
    e = os->pwrite(os->ctx, tmp, 0, buf, n);
  if (e == 0)
    e = os->sync(os->ctx, tmp);
  if (e == 0 && (e = os->rename(os->ctx, tmp, dst)) == 0)
    *renamed = 1;
  if (e != 0)
    os->unlink(os->ctx, tmp);
  return e;
}

/* Replace the registry file with s->reg atomically.  When the directory
 * fsync after the rename fails, the registry that was loaded is put back, so
 * that a failed change has changed nothing; only if that fails too does the
 * new one stay (s->landed), and the caller must keep what it names. */
static int save(bs_store *st, const char *op, session *s) {
  const bs_host_os *os = H(st)->os;
  uint8_t *buf;
  size_t n;
  if (bs__snapreg_encode(&s->reg, &buf, &n) != 0)
    return bs_store_fail(st, BS_ECORRUPT, 0, "%s: the snapshot registry cannot be encoded", op);
  char *tmp = bs__host_meta_path(H(st), "/registry.tmp");
  char *dst = bs__host_meta_path(H(st), "/registry");
  char *dir = bs__host_meta_path(H(st), "");
  int renamed = 0;
  bs__hpath tp = meta(st, tmp ? tmp : ""), dp = meta(st, dst ? dst : ""), mp = meta(st, dir ? dir : "");
  int e = (tmp && dst && dir) ? install(os, &tp, &dp, buf, n, &renamed) : -ENOMEM;
  if (e == 0)
    e = os->sync(os->ctx, &mp);
  if (e != 0 && renamed) {
    int back = 0;
    int e2 = s->old ? install(os, &tp, &dp, s->old, s->old_len, &back) : os->unlink(os->ctx, &dp);
    if (e2 == 0)
      os->sync(os->ctx, &mp); /* best effort: the first one just failed */
    s->landed = e2 != 0;
  }
  int rc = 0;
  if (s->landed)
    rc = bs_store_fail(st, bs_err_from_errno(-e), -e,
                       "%s: saving the snapshot registry: %s, and the old one could not be put back: "
                       "the change is in the registry, but may not survive a power loss",
                       op, strerror(-e));
  else if (e != 0)
    rc = fail_errno(st, op, "saving the snapshot registry", e);
  free(buf);
  free(tmp);
  free(dst);
  free(dir);
  return rc;
}

int bs__host_reg_read(bs_store *st, const char *op, bs__snapreg *out) {
  session s = {0};
  int rc = lock(st, op, 0, &s);
  if (rc == 0)
    rc = load(st, op, out, NULL);
  unlock(st, &s);
  return rc;
}

/* ---- sessions that change the registry --------------------------------------- */

typedef struct orphan_ctx {
  char **names;
  size_t n, cap;
  int oom;
} orphan_ctx;

static int collect(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  orphan_ctx *o = ctx;
  if (o->n == o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 16;
    char **v = realloc(o->names, cap * sizeof(*v));
    if (!v) {
      o->oom = 1;
      return 1;
    }
    o->names = v;
    o->cap = cap;
  }
  if (!(o->names[o->n] = strdup(name))) {
    o->oom = 1;
    return 1;
  }
  o->n++;
  return 0;
}

static int known(const bs__snapreg *reg, int branches, uint64_t id) {
  if (!branches)
    return bs__snapreg_find_id(reg, id) != NULL;
  for (size_t i = 0; i < reg->nbranches; i++)
    if (reg->branches[i].id == id)
      return 1;
  return 0;
}

/* Remove the trees below <root>/.bs/@dir that the registry does not name:
 * what a crash between making a tree and naming it (or unnaming and
 * removing it) left behind. */
static int reconcile_dir(bs_store *st, const char *op, session *s, const char *dir, int branches) {
  const bs_host_os *os = H(st)->os;
  char leaf[16];
  snprintf(leaf, sizeof(leaf), "/%s", dir);
  char *p = bs__host_meta_path(H(st), leaf);
  if (!p)
    return oom(st, op);
  orphan_ctx o = {0};
  bs__hpath dp = meta(st, p);
  int e = os->readdir(os->ctx, &dp, collect, &o);
  int rc = o.oom ? oom(st, op) : e != 0 ? fail_errno(st, op, p, e) : 0;
  for (size_t i = 0; i < o.n; i++) {
    char *end;
    errno = 0;
    unsigned long long id = strtoull(o.names[i], &end, 10);
    if (rc == 0 && *end == '\0' && errno == 0 && o.names[i][0] != '0' && !known(&s->reg, branches, id)) {
      char *t = bs__host_tree_path(H(st), dir, id);
      bs__hpath tp = meta(st, t ? t : "");
      e = t ? os->tree_delete(os->ctx, s->m, &tp) : -ENOMEM;
      if (e != 0)
        rc = fail_errno(st, op, t ? t : "orphan tree", e);
      free(t);
    }
    free(o.names[i]);
  }
  free(o.names);
  free(p);
  return rc;
}

/* Make a directory of the layout if it is not there. */
static int layout_dir(bs_store *st, const char *op, const char *leaf) {
  const bs_host_os *os = H(st)->os;
  char *p = bs__host_meta_path(H(st), leaf);
  if (!p)
    return oom(st, op);
  bs__hpath mp = meta(st, p);
  int e = os->mkdir(os->ctx, &mp, 0700);
  int rc = (e == 0 || e == -EEXIST) ? 0 : fail_errno(st, op, p, e);
  free(p);
  return rc;
}

/* Start a change: method, layout, exclusive lock, registry, no orphans. */
static int begin(bs_store *st, const char *op, session *s) {
  memset(s, 0, sizeof(*s));
  bs__snapreg_init(&s->reg);
  bs__host_store *h = H(st);
  int rc = method(st, op, &s->m);
  if (rc != 0)
    return rc;
  char *meta = bs__host_meta_path(h, "");
  if (!meta)
    return oom(st, op);
  bs__hpath rp = bs__host_root_hpath(h), mp = bs__host_meta_hpath(h, meta);
  int e = h->os->reserve(h->os->ctx, &rp, &mp);
  rc = e == 0 ? 0 : fail_errno(st, op, meta, e);
  free(meta);
  if (rc == 0)
    rc = layout_dir(st, op, "/snap");
  if (rc == 0)
    rc = layout_dir(st, op, "/branch");
  if (rc == 0)
    rc = lock(st, op, 1, s);
  if (rc == 0)
    rc = load(st, op, &s->reg, s);
  if (rc == 0)
    rc = reconcile_dir(st, op, s, "snap", 0);
  if (rc == 0)
    rc = reconcile_dir(st, op, s, "branch", 1);
  if (rc != 0) {
    unlock(st, s);
    bs__snapreg_free(&s->reg);
    free(s->old);
  }
  return rc;
}

static int end(bs_store *st, session *s, int rc) {
  unlock(st, s);
  bs__snapreg_free(&s->reg);
  free(s->old);
  return rc;
}

/* ---- the methods --------------------------------------------------------------- */

static uint64_t entropy64(void *ctx) {
  (void)ctx;
  uint64_t v = 0;
  if (getentropy(&v, sizeof(v)) != 0) { /* never expected; still unique enough with the clock */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 48);
  }
  return v;
}

static int is_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

/* The registry, for a call that changes nothing (the store must still be one
 * that has snapshots: UNSUPPORTED otherwise, as in the sim). */
static int peek(bs_store *st, const char *op, bs__snapreg *reg) {
  bs__snap_method m;
  int rc = method(st, op, &m);
  return rc != 0 ? rc : bs__host_reg_read(st, op, reg);
}

/* Remove the tree <root>/.bs/@dir/@id, which the registry no longer names:
 * if that fails, the next change of the registry (reconcile) finishes it. */
static int remove_unnamed(bs_store *st, const char *op, const session *s, const char *dir, uint64_t id) {
  const bs_host_os *os = H(st)->os;
  char *t = bs__host_tree_path(H(st), dir, id);
  bs__hpath tp = meta(st, t ? t : "");
  int e = t ? os->tree_delete(os->ctx, s->m, &tp) : -ENOMEM;
  free(t);
  if (e == 0)
    return 0;
  return bs_store_fail(st, bs_err_from_errno(-e), -e,
                       "%s: removing tree %s/%" PRIu64 ": %s (it is gone from the registry; the next "
                       "snapshot operation removes the tree)",
                       op, dir, id, strerror(-e));
}

int bs__host_snapshot_create(bs_store *st, const char *name, bs_snapshot_info *out) {
  const char *op = "snapshot create";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  if (bs__snapreg_find_name(&s.reg, name))
    return end(st, &s, bs_store_fail(st, BS_EEXISTS, EEXIST, "%s: \"%s\" exists", op, name));
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  char *dst = bs__host_tree_path(h, "snap", s.reg.next_id);
  if (!dst)
    return end(st, &s, oom(st, op));
  uint8_t uuid[16] = {0};
  bs__hpath rp = bs__host_root_hpath(h), dp = meta(st, dst);
  int e = os->snap_create(os->ctx, s.m, &rp, &dp, uuid);
  if (e == -EOPNOTSUPP && s.m == BS__SNAP_NATIVE)
    rc = bs_store_fail(st, BS_EUNSUPPORTED, EOPNOTSUPP,
                       "%s: %s cannot be snapshotted natively (%s): on btrfs the store must be a "
                       "subvolume ('bslab init --backend real --root DIR' makes one), on APFS the "
                       "root of a volume",
                       op, h->root_len ? h->root : "/", detail(st, EOPNOTSUPP));
  else if (e != 0)
    rc = fail_errno(st, op, name, e);
  if (rc == 0) {
    if (is_zero(uuid, sizeof(uuid)))
      bs__uuid_v4(uuid, entropy64, NULL);
    int64_t now;
    st->ops->clock_ns(st, &now); /* the store's clock: the darwin fake's is the sim's */
    rc = bs__snapreg_add(&s.reg, name, uuid, (uint64_t)now, out);
    if (rc != 0)
      rc = bs_store_fail(st, rc, 0, "%s: \"%s\": %s", op, name, bs_strerror(rc));
    if (rc == 0)
      rc = save(st, op, &s);
    if (rc != 0 && !s.landed)
      os->tree_delete(os->ctx, s.m, &dp);
  }
  free(dst);
  return end(st, &s, rc);
}

int bs__host_snapshot_list(bs_store *st, bs_snapshot_info **out, size_t *count) {
  bs__snapreg reg;
  int rc = peek(st, "snapshot list", &reg);
  if (rc != 0)
    return rc;
  if (reg.nsnaps > 0) {
    *out = reg.snaps; /* handed over: the caller frees it */
    *count = reg.nsnaps;
    reg.snaps = NULL;
    reg.nsnaps = 0;
  }
  bs__snapreg_free(&reg);
  return 0;
}

int bs__host_snapshot_delete(bs_store *st, uint64_t id) {
  const char *op = "snapshot delete";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  const bs_snapshot_info *si = bs__snapreg_find_id(&s.reg, id);
  if (!si)
    return end(st, &s, bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no snapshot %" PRIu64, op, id));
  if (si->branch_count > 0)
    return end(st, &s, bs_store_fail(st, BS_EBUSY, EBUSY, "%s: \"%s\" has %u branch(es)", op, si->name,
                                     (unsigned)si->branch_count));
  bs__snapreg_remove(&s.reg, id);
  rc = save(st, op, &s);
  if (rc == 0)
    rc = remove_unnamed(st, op, &s, "snap", id);
  return end(st, &s, rc);
}

int bs__host_snapshot_mount_ro(bs_store *st, uint64_t id, char *path, size_t cap) {
  const char *op = "snapshot mount";
  bs__snapreg reg;
  int rc = peek(st, op, &reg);
  if (rc != 0)
    return rc;
  /* The view must show the snapshot, not a bare mount point that a reboot
   * or a hand unmount left (darwin mounts it again). */
  int e = bs__host_revive(H(st));
  if (e != 0) {
    bs__snapreg_free(&reg);
    return fail_errno(st, op, "bringing back the snapshot views", e);
  }
  const bs_snapshot_info *si = bs__snapreg_find_id(&reg, id);
  if (!si)
    rc = bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no snapshot %" PRIu64, op, id);
  else if ((rc = bs_snapshot_path(path, cap, si->name)) != 0)
    rc = bs_store_fail(st, rc, 0, "%s: path buffer of %zu bytes is too small", op, cap);
  bs__snapreg_free(&reg);
  return rc;
}

int bs__host_branch_create(bs_store *st, uint64_t snapshot_id, const char *name) {
  const char *op = "branch create";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  bs__branch_rec b;
  rc = bs__snapreg_add_branch(&s.reg, snapshot_id, name, &b);
  if (rc == BS_ENOT_FOUND)
    return end(st, &s, bs_store_fail(st, rc, ENOENT, "%s: no snapshot %" PRIu64, op, snapshot_id));
  if (rc != 0)
    return end(st, &s, bs_store_fail(st, rc, 0, "%s: \"%s\": %s", op, name, bs_strerror(rc)));
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  char *src = bs__host_tree_path(h, "snap", snapshot_id), *dst = bs__host_tree_path(h, "branch", b.id);
  bs__hpath sp = meta(st, src ? src : ""), dp = meta(st, dst ? dst : "");
  int e = (src && dst) ? os->branch_create(os->ctx, s.m, &sp, &dp) : -ENOMEM;
  rc = e == 0 ? 0 : fail_errno(st, op, name, e);
  if (rc == 0 && (rc = save(st, op, &s)) != 0 && !s.landed)
    os->tree_delete(os->ctx, s.m, &dp);
  free(src);
  free(dst);
  return end(st, &s, rc);
}

int bs__host_branch_delete(bs_store *st, const char *name) {
  const char *op = "branch delete";
  session s;
  int rc = begin(st, op, &s);
  if (rc != 0)
    return rc;
  bs__branch_rec b;
  if (bs__snapreg_remove_branch(&s.reg, name, &b) != 0)
    return end(st, &s, bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no branch \"%s\"", op, name));
  rc = save(st, op, &s);
  if (rc == 0)
    rc = remove_unnamed(st, op, &s, "branch", b.id);
  return end(st, &s, rc);
}

int bs__host_branch_parent(bs_store *st, const char *name, uint64_t *snapshot_id) {
  const char *op = "branch parent";
  bs__snapreg reg;
  int rc = peek(st, op, &reg);
  if (rc != 0)
    return rc;
  const bs__branch_rec *b = bs__snapreg_find_branch(&reg, name);
  if (b)
    *snapshot_id = b->snapshot_id;
  else
    rc = bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: no branch \"%s\"", op, name);
  bs__snapreg_free(&reg);
  return rc;
}
