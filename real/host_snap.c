/* The tree and registry primitives of a host store (backstore/backend.h;
 * the rules are the core's, src/snapshot.c; docs/snapshots.md).
 *
 * Layout below the reserved directory <root>/.bs:
 *   registry        the registry bytes, replaced atomically: written to
 *                   registry.tmp, fsynced, renamed, directory fsynced
 *   lock            advisory lock: shared to read the registry, exclusive to change it
 *   snap/<id>       snapshot trees (read-only)
 *   branch/<id>     branch trees
 *
 * A change makes <root>/.bs if it is not there; if the change then fails
 * before any registry was saved, it takes .bs away again, so a failed
 * command leaves the user's directory as it found it. */
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

/* "WHAT: detail" for -@neg_errno (the core puts the call's name before). */
static int fail_errno(bs_store *st, const char *what, int neg_errno) {
  int e = -neg_errno;
  if (e == BS__ESCAPE)
    return bs__host_fail_errno(st, "reserved directory", what, neg_errno);
  return bs_store_fail(st, bs_err_from_errno(e), e, "%s: %s", what, detail(st, e));
}

static int oom(bs_store *st) { return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "out of memory"); }

/* A path of the reserved directory, as the seam takes it. */
static bs__hpath meta(bs_store *st, const char *abs) { return bs__host_meta_hpath(H(st), abs ? abs : ""); }

static const char *root_of(const bs__host_store *h) { return h->root_len ? h->root : "/"; }

/* ---- trees ------------------------------------------------------------------ */

int bs__host_tree_method(bs_store *st, bs_tree_method *m) {
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  bs_caps c;
  int e = os->caps(os->ctx, root_of(h), &c);
  if (e != 0)
    return fail_errno(st, root_of(h), e);
  if (!os->snap_create)
    return bs_store_fail(st, BS_EUNSUPPORTED, 0, "the %s platform has no snapshots", os->name);
  if (c.native_snapshots)
    *m = BS_TREE_NATIVE;
  else if (c.native_reflink)
    *m = BS_TREE_REFLINK;
  else if (h->flags & BS_OPEN_SNAPSHOT_COPY)
    *m = BS_TREE_COPY;
  else
    return bs_store_fail(st, BS_EUNSUPPORTED, 0,
                         "%s has no native snapshots and no reflink (open the store with "
                         "BS_OPEN_SNAPSHOT_COPY, or --copy-snapshots, for copied snapshots)",
                         c.fs_type_name);
  return 0;
}

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

static bool is_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

int bs__host_tree_create(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id, uint64_t src_snapshot,
                         uint8_t uuid[16]) {
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  char *dst = bs__host_tree_path(h, kind, id);
  bool empty = kind == BS_TREE_BRANCH && src_snapshot == BS_TREE_SRC_EMPTY;
  char *src = src_snapshot && !empty ? bs__host_tree_path(h, BS_TREE_SNAPSHOT, src_snapshot) : NULL;
  if (!dst || (src_snapshot && !empty && !src)) {
    free(dst);
    free(src);
    return oom(st);
  }
  bs__hpath dp = meta(st, dst), sp = src ? meta(st, src) : bs__host_root_hpath(h);
  memset(uuid, 0, 16);
  /* An overlay branch's tree is an empty directory: O(1) on every filesystem. */
  int e = empty ? os->mkdir(os->ctx, &dp, 0755)
          : kind == BS_TREE_SNAPSHOT ? os->snap_create(os->ctx, m, &sp, &dp, uuid)
                                     : os->branch_create(os->ctx, m, &sp, &dp);
  int rc = 0;
  if (e == -EOPNOTSUPP && m == BS_TREE_NATIVE && kind == BS_TREE_SNAPSHOT)
    rc = bs_store_fail(st, BS_EUNSUPPORTED, EOPNOTSUPP,
                       "%s cannot be snapshotted natively (%s): on btrfs the store must be a "
                       "subvolume ('bslab init --backend real --root DIR' makes one), on APFS the "
                       "root of a volume",
                       root_of(h), detail(st, EOPNOTSUPP));
  else if (e != 0)
    rc = fail_errno(st, dst, e);
  if (rc == 0 && is_zero(uuid, 16))
    bs__uuid_v4(uuid, entropy64, NULL);
  free(dst);
  free(src);
  return rc;
}

/* A snapshot of a directory of a branch tree: a reflink tree (or, with
 * COPY, a byte copy) of it, read-only as every snapshot tree.  A native
 * snapshot would need the directory to be a unit of its own (a btrfs
 * subvolume), which an overlay branch's upper is not: its copy-ups rename
 * from the work directory beside it, and a subvolume boundary between the
 * two would make that EXDEV.  So NATIVE freezes by reflink, which btrfs and
 * APFS have. */
int bs__host_tree_freeze(bs_store *st, bs_tree_method m, uint64_t id, const char *src, uint8_t uuid[16]) {
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  memset(uuid, 0, 16);
  if (strncmp(src, "/.bs/branch/", 12) != 0)
    return bs_store_fail(st, BS_EINVALID, 0, "%s: not a directory of a branch tree", src);
  bs__host_loc sl;
  int rc = bs__host_locate(st, "snapshot", src, &sl);
  if (rc != 0)
    return rc;
  char *dst = bs__host_tree_path(h, BS_TREE_SNAPSHOT, id);
  if (!dst) {
    free(sl.host);
    return oom(st);
  }
  bs__hpath dp = meta(st, dst);
  int e = os->snap_create(os->ctx, m == BS_TREE_NATIVE ? BS_TREE_REFLINK : m, &sl.hp, &dp, uuid);
  if (e != 0)
    rc = fail_errno(st, dst, e);
  if (rc == 0 && is_zero(uuid, 16))
    bs__uuid_v4(uuid, entropy64, NULL);
  free(dst);
  free(sl.host);
  return rc;
}

int bs__host_tree_may_delete(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id) {
  const bs_host_os *os = H(st)->os;
  if (!os->tree_may_delete)
    return 0;
  char *t = bs__host_tree_path(H(st), kind, id);
  if (!t)
    return oom(st);
  bs__hpath tp = meta(st, t);
  char why[256] = "";
  int e = os->tree_may_delete(os->ctx, m, &tp, why, sizeof(why));
  int rc = e == 0 ? 0
                  : bs_store_fail(st, bs_err_from_errno(-e), -e, "%s (tree %s)", why[0] ? why : strerror(-e), t);
  free(t);
  return rc;
}

int bs__host_tree_delete(bs_store *st, bs_tree_method m, bs_tree_kind kind, uint64_t id) {
  const bs_host_os *os = H(st)->os;
  char *t = bs__host_tree_path(H(st), kind, id);
  if (!t)
    return oom(st);
  bs__hpath tp = meta(st, t);
  int e = os->tree_delete(os->ctx, m, &tp);
  int rc = e == 0 ? 0 : fail_errno(st, t, e);
  free(t);
  return rc;
}

typedef struct ids_ctx {
  int (*cb)(void *ctx, uint64_t id);
  void *ctx;
  bool stopped;
} ids_ctx;

/* A tree's directory name is its id in decimal, without leading zeros. */
static int one_id(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  ids_ctx *c = ctx;
  char *end;
  errno = 0;
  unsigned long long id = strtoull(name, &end, 10);
  if (*end || errno || name[0] == '0' || name[0] == '\0')
    return 0;
  if (c->cb(c->ctx, id) != 0)
    c->stopped = true;
  return c->stopped;
}

int bs__host_tree_list(bs_store *st, bs_tree_kind kind, int (*cb)(void *ctx, uint64_t id), void *ctx) {
  const bs_host_os *os = H(st)->os;
  char *p = bs__host_meta_path(H(st), kind == BS_TREE_SNAPSHOT ? "/snap" : "/branch");
  if (!p)
    return oom(st);
  bs__hpath dp = meta(st, p);
  ids_ctx c = {cb, ctx, false};
  int e = os->readdir(os->ctx, &dp, one_id, &c);
  int rc = e == 0 || e == -ENOENT ? 0 : fail_errno(st, p, e);
  free(p);
  return rc;
}

int bs__host_tree_revive(bs_store *st) {
  int e = bs__host_revive(H(st));
  return e == 0 ? 0 : fail_errno(st, "bringing back the snapshot views", e);
}

/* ---- the registry ------------------------------------------------------------ */

struct bs_registry {
  bool locked;
  int handle;
  uint8_t *old;  /* the registry as loaded (NULL: there was none), to put back if a save fails late */
  size_t old_len;
  bool made_meta; /* this change made <root>/.bs: a failure takes it away again */
  bs_stat_info root_before; /* the root as it was then (its times are put back) */
};

static int lock(bs_store *st, bool exclusive, struct bs_registry *r) {
  const bs_host_os *os = H(st)->os;
  if (!os->lock)
    return 0;
  char *p = bs__host_meta_path(H(st), "/lock");
  if (!p)
    return oom(st);
  bs__hpath lp = meta(st, p);
  int e = os->lock(os->ctx, &lp, exclusive, &r->handle);
  free(p);
  if (e != 0)
    return fail_errno(st, "registry lock", e);
  r->locked = true;
  return 0;
}

static void unlock(bs_store *st, struct bs_registry *r) {
  const bs_host_os *os = H(st)->os;
  if (r->locked)
    os->unlock(os->ctx, r->handle);
  r->locked = false;
}

/* The bytes of <root>/.bs/registry into *@buf (NULL when there is none). */
static int load(bs_store *st, uint8_t **out, size_t *len) {
  const bs_host_os *os = H(st)->os;
  *out = NULL;
  *len = 0;
  char *p = bs__host_meta_path(H(st), "/registry");
  if (!p)
    return oom(st);
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
  int rc = e != 0 ? fail_errno(st, p, e) : 0;
  if (rc == 0) {
    *out = buf; /* never NULL: at least one byte was allocated */
    *len = got;
  } else {
    free(buf);
  }
  free(p);
  return rc;
}

/* Make a directory of the layout if it is not there. */
static int layout_dir(bs_store *st, const char *leaf) {
  const bs_host_os *os = H(st)->os;
  char *p = bs__host_meta_path(H(st), leaf);
  if (!p)
    return oom(st);
  bs__hpath mp = meta(st, p);
  int e = os->mkdir(os->ctx, &mp, 0700);
  int rc = (e == 0 || e == -EEXIST) ? 0 : fail_errno(st, p, e);
  free(p);
  return rc;
}

/* Make <root>/.bs if it is not there (the platform's reserve), noting
 * whether this change made it, and the root's times before it did. */
static int reserve(bs_store *st, struct bs_registry *r) {
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  char *mpath = bs__host_meta_path(h, "");
  if (!mpath)
    return oom(st);
  bs_stat_info si;
  bs__hpath rp = bs__host_root_hpath(h), mp = meta(st, mpath);
  r->made_meta = os->stat(os->ctx, &mp, &si) == -ENOENT && os->stat(os->ctx, &rp, &r->root_before) == 0;
  int e = os->reserve(os->ctx, &rp, &mp);
  int rc = e == 0 ? 0 : fail_errno(st, mpath, e);
  if (rc != 0)
    r->made_meta = false; /* the platform's reserve leaves nothing when it fails */
  free(mpath);
  return rc;
}

typedef struct names_ctx {
  char **v;
  size_t n, cap;
  bool oom;
} names_ctx;

static int collect(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  names_ctx *o = ctx;
  if (o->n == o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 16;
    char **v = realloc(o->v, cap * sizeof(*v));
    if (!v) {
      o->oom = true;
      return 1;
    }
    o->v = v;
    o->cap = cap;
  }
  if (!(o->v[o->n] = strdup(name))) {
    o->oom = true;
    return 1;
  }
  o->n++;
  return 0;
}

/* <root>/.bs/@leaf (a file or an empty directory) taken away; best effort. */
static void remove_entry(bs_store *st, const char *leaf) {
  const bs_host_os *os = H(st)->os;
  char *p = bs__host_meta_path(H(st), leaf);
  bs__hpath pp = meta(st, p);
  if (p && os->rmdir(os->ctx, &pp) != 0)
    (void)os->unlink(os->ctx, &pp);
  free(p);
}

/* A change that made <root>/.bs failed: take it away again (its times put
 * back too).  Only under the exclusive lock and only while no registry was
 * ever saved there: another process that waits for the lock then finds its
 * lock file gone and starts again (bs_host_os.lock).  Only what is empty
 * goes: the lock file, the layout directories, .bs itself. */
static void unreserve(bs_store *st, struct bs_registry *r) {
  bs__host_store *h = H(st);
  const bs_host_os *os = h->os;
  char *lockp = bs__host_meta_path(h, "/lock"), *reg = bs__host_meta_path(h, "/registry");
  char *mpath = bs__host_meta_path(h, "");
  bs__hpath lp = meta(st, lockp), regp = meta(st, reg), mp = meta(st, mpath), rp = bs__host_root_hpath(h);
  bs_stat_info si;
  names_ctx o = {0};
  if (lockp && !r->locked && os->lock && os->lock(os->ctx, &lp, 1, &r->handle) == 0)
    r->locked = true;
  if (mpath && reg && (r->locked || !os->lock) && os->stat(os->ctx, &regp, &si) == -ENOENT &&
      os->readdir(os->ctx, &mp, collect, &o) == 0 && !o.oom) {
    for (size_t i = 0; i < o.n; i++) {
      char leaf[300];
      snprintf(leaf, sizeof(leaf), "/%s", o.v[i]);
      remove_entry(st, leaf);
    }
    if (os->rmdir(os->ctx, &mp) == 0)
      (void)os->utimens(os->ctx, &rp, r->root_before.atime_ns, r->root_before.mtime_ns);
  }
  for (size_t i = 0; i < o.n; i++)
    free(o.v[i]);
  free(o.v);
  free(lockp);
  free(reg);
  free(mpath);
}

/* How often a change makes .bs again when it vanished meanwhile. */
#define RESERVE_TRIES 8

/* For a change: .bs, its layout and the exclusive lock.  ENOENT below .bs:
 * the failing first change of another process took the directory away
 * between our reserve and our lock (unreserve), so it is made again. */
static int open_for_change(bs_store *st, struct bs_registry *r) {
  int rc, tries = 0;
  do {
    rc = reserve(st, r);
    if (rc == 0)
      rc = layout_dir(st, "/snap");
    if (rc == 0)
      rc = layout_dir(st, "/branch");
    if (rc == 0)
      rc = lock(st, true, r);
  } while (rc == BS_ENOT_FOUND && bs_last_os_errno(st) == ENOENT && ++tries < RESERVE_TRIES);
  return rc;
}

int bs__host_registry_open(bs_store *st, bool change, bs_registry **out, uint8_t **buf, size_t *len) {
  *out = NULL;
  *buf = NULL;
  *len = 0;
  struct bs_registry *r = calloc(1, sizeof(*r));
  if (!r)
    return oom(st);
  int rc = change ? open_for_change(st, r) : lock(st, false, r);
  if (rc == 0)
    rc = load(st, buf, len);
  if (rc == 0 && change && *buf) { /* kept to put back if a save fails late */
    if ((r->old = malloc(*len ? *len : 1)) != NULL) {
      memcpy(r->old, *buf, *len);
      r->old_len = *len;
    } else {
      rc = oom(st);
    }
  }
  if (rc != 0) {
    free(*buf);
    *buf = NULL;
    *len = 0;
    bs__host_registry_close(st, r, true);
    return rc;
  }
  *out = r;
  return 0;
}

/* Write @buf to <root>/.bs/registry.tmp, fsync it and rename it over the
 * registry.  *@renamed says whether the rename was done. */
static int install(const bs_host_os *os, const bs__hpath *tmp, const bs__hpath *dst, const uint8_t *buf,
                   size_t n, bool *renamed) {
  *renamed = false;
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
    *renamed = true;
  if (e != 0)
    os->unlink(os->ctx, tmp);
  return e;
}

/* When the directory fsync after the rename fails, the registry that was
 * loaded is put back, so that a failed change has changed nothing; only if
 * that fails too does the new one stay (*@landed). */
int bs__host_registry_save(bs_store *st, bs_registry *r, const uint8_t *buf, size_t n, bool *landed) {
  const bs_host_os *os = H(st)->os;
  *landed = false;
  char *tmp = bs__host_meta_path(H(st), "/registry.tmp");
  char *dst = bs__host_meta_path(H(st), "/registry");
  char *dir = bs__host_meta_path(H(st), "");
  bool renamed = false;
  bs__hpath tp = meta(st, tmp), dp = meta(st, dst), mp = meta(st, dir);
  int e = (tmp && dst && dir) ? install(os, &tp, &dp, buf, n, &renamed) : -ENOMEM;
  if (e == 0)
    e = os->sync(os->ctx, &mp);
  if (e != 0 && renamed) {
    bool back = false;
    int e2 = r->old ? install(os, &tp, &dp, r->old, r->old_len, &back) : os->unlink(os->ctx, &dp);
    if (e2 == 0)
      os->sync(os->ctx, &mp); /* best effort: the first one just failed */
    *landed = e2 != 0;
  }
  int rc = 0;
  if (*landed)
    rc = bs_store_fail(st, bs_err_from_errno(-e), -e,
                       "saving the snapshot registry: %s, and the old one could not be put back: "
                       "the change is in the registry, but may not survive a power loss",
                       strerror(-e));
  else if (e != 0)
    rc = fail_errno(st, "saving the snapshot registry", e);
  if (rc == 0 || *landed) /* the registry exists now: .bs stays */
    r->made_meta = false;
  free(tmp);
  free(dst);
  free(dir);
  return rc;
}

void bs__host_registry_close(bs_store *st, bs_registry *r, bool failed) {
  if (!r)
    return;
  if (failed && r->made_meta)
    unreserve(st, r);
  unlock(st, r);
  free(r->old);
  free(r);
}
