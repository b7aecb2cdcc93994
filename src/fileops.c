/* The file calls of backstore.h.  Each checks its arguments, takes the
 * store's lock shared, and then either hands the store path to a complete
 * backend, or, for a primitive backend, places it in the store namespace
 * (src/ns.c) and hands the backend path on; virtual directories are
 * answered here.  Listings are collected under the lock and handed to the
 * caller's callback after it, so a callback may call the store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "src/ns.h"
#include "src/overlay.h"
#include "src/store_internal.h"

static bool absolute(const char *p) { return p != NULL && p[0] == '/'; }

/* ---- placing a path -------------------------------------------------------------- */

/* Place @path of call @op for @intent on a primitive backend; a virtual
 * directory is INVALID (a directory) unless @virt_ok. */
static int place(bs__call *c, const char *op, const char *path, bs__intent intent, bool virt_ok,
                 bs__place *p) {
  int rc = bs__ns_locate(c->st, op, path, intent, p);
  if (rc == 0 && p->virt != BS__V_NONE && !virt_ok)
    rc = bs_store_fail(c->st, BS_EINVALID, EISDIR, "%s: %s: a directory", op, path);
  return rc;
}

/* The path the backend gets: @path for a complete backend, else its place. */
static const char *target(const bs__call *c, const char *path, const bs__place *p) {
  return c->primitive ? p->bpath : path;
}

/* In an overlay branch (src/overlay.c): a read goes to the layer that
 * shows @path, a change copies it up first; new names and removals are
 * the calls' own. */
static int overlay_prepare(bs_store *st, const char *op, const char *path, bs__intent intent, bs__place *p) {
  if (!p->overlay)
    return 0;
  if (intent == BS__MODIFY)
    return bs__ov_copy_up(st, op, path, p);
  if (intent != BS__READ)
    return 0;
  char *v;
  int rc = bs__ov_visible(st, op, path, p, &v);
  if (rc == 0) {
    free(p->bpath);
    p->bpath = v;
  }
  return rc;
}

/* A call of one path: begin, place (primitive backends), and the slot's
 * presence; 0 with @p ready (bs__place_free), or the failure (the call is
 * then ended). */
static int one_path(bs__call *c, bs_store *st, bs_op_class cls, const char *op, const char *path,
                    bs__intent intent, bool present, bs__place *p) {
  memset(p, 0, sizeof(*p));
  bs__call_begin(c, st, false, cls);
  int rc = !present ? bs__missing(st, op) : c->primitive ? place(c, op, path, intent, false, p) : 0;
  if (rc == 0)
    rc = overlay_prepare(st, op, path, intent, p);
  if (rc != 0)
    bs__place_free(p);
  return rc == 0 ? 0 : bs__call_end(c, rc);
}

/* The overlay's own xattrs ("user.overlay.*") are its format, not the
 * caller's: hidden, and not to be set. */
static bool ov_reserved_xattr(const bs__place *p, const char *name) {
  return p->overlay && strncmp(name, BS__OV_XATTR_PREFIX, strlen(BS__OV_XATTR_PREFIX)) == 0;
}

static int make_file(bs_store *st, const char *bpath, void *ctx) {
  return st->ops->create(st, bpath, *(const uint32_t *)ctx);
}

static int make_dir(bs_store *st, const char *bpath, void *ctx) {
  return st->ops->mkdir(st, bpath, *(const uint32_t *)ctx);
}

static int make_symlink(bs_store *st, const char *bpath, void *ctx) {
  return st->ops->symlink(st, (const char *)ctx, bpath);
}

/* @ctx: the backend path of the old name, in the upper after its copy-up. */
static int make_link(bs_store *st, const char *bpath, void *ctx) {
  return st->ops->link(st, (const char *)ctx, bpath);
}

/* A backend's message names the backend path ("/.bs/branch/3/f"): the
 * caller named the store path ("/.bs/branches/b/f"), so that is said. */
static int restate(bs_store *st, int rc, const bs__place *p, const char *path) {
  if (rc == 0 || !p->bpath || strcmp(p->bpath, path) == 0)
    return rc;
  const char *m = bs_last_message(st);
  const char *at = strstr(m, p->bpath);
  if (!at)
    return rc;
  /* The message with the backend path replaced, cut to the buffer. */
  char buf[256];
  const char *part[3] = {m, path, at + strlen(p->bpath)};
  size_t len[3] = {(size_t)(at - m), strlen(path), strlen(part[2])}, n = 0;
  for (int i = 0; i < 3; i++) {
    size_t k = len[i] < sizeof(buf) - 1 - n ? len[i] : sizeof(buf) - 1 - n;
    memcpy(buf + n, part[i], k);
    n += k;
  }
  buf[n] = '\0';
  return bs_store_fail(st, rc, bs_last_os_errno(st), "%s", buf);
}

static int done(bs__call *c, bs__place *p, const char *path, int rc) {
  rc = restate(c->st, rc, p, path);
  bs__place_free(p);
  return bs__call_end(c, rc);
}

/* ---- the calls ---------------------------------------------------------------------- */

int bs_create(bs_store *st, const char *path, uint32_t mode) {
  if (st && !absolute(path))
    return bs__bad_path(st, "create", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "create", path, BS__NEW, st->ops->create != NULL, &p);
  if (rc != 0)
    return rc;
  return done(&c, &p, path, p.overlay ? bs__ov_new(st, "create", path, &p, false, make_file, &mode)
                                      : st->ops->create(st, target(&c, path, &p), mode));
}

int bs_mkdir(bs_store *st, const char *path, uint32_t mode) {
  if (st && !absolute(path))
    return bs__bad_path(st, "mkdir", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "mkdir", path, BS__NEW, st->ops->mkdir != NULL, &p);
  if (rc != 0)
    return rc;
  return done(&c, &p, path, p.overlay ? bs__ov_new(st, "mkdir", path, &p, true, make_dir, &mode)
                                      : st->ops->mkdir(st, target(&c, path, &p), mode));
}

int bs_write(bs_store *st, const char *path, uint64_t off, const void *buf, size_t len) {
  if (!buf && len)
    return bs__bad_arg(st, "write", "NULL buffer with a non-zero length");
  if (st && !absolute(path))
    return bs__bad_path(st, "write", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_WRITE, "write", path, BS__MODIFY, st->ops->write != NULL, &p);
  return rc != 0 ? rc : done(&c, &p, path, st->ops->write(st, target(&c, path, &p), off, buf, len));
}

int bs_read(bs_store *st, const char *path, uint64_t off, void *buf, size_t len, size_t *nread) {
  if ((!buf && len) || !nread)
    return bs__bad_arg(st, "read", "NULL buffer with a non-zero length, or NULL nread");
  *nread = 0;
  if (st && !absolute(path))
    return bs__bad_path(st, "read", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_READ, "read", path, BS__READ, st->ops->read != NULL, &p);
  return rc != 0 ? rc : done(&c, &p, path, st->ops->read(st, target(&c, path, &p), off, buf, len, nread));
}

int bs_truncate(bs_store *st, const char *path, uint64_t size) {
  if (st && !absolute(path))
    return bs__bad_path(st, "truncate", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_WRITE, "truncate", path, BS__MODIFY, st->ops->truncate != NULL, &p);
  return rc != 0 ? rc : done(&c, &p, path, st->ops->truncate(st, target(&c, path, &p), size));
}

int bs_unlink(bs_store *st, const char *path) {
  if (st && !absolute(path))
    return bs__bad_path(st, "unlink", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "unlink", path, BS__REMOVE, st->ops->unlink != NULL, &p);
  if (rc != 0)
    return rc;
  return done(&c, &p, path, p.overlay ? bs__ov_remove(st, "unlink", path, &p, false)
                                      : st->ops->unlink(st, target(&c, path, &p)));
}

int bs_rmdir(bs_store *st, const char *path) {
  if (st && !absolute(path))
    return bs__bad_path(st, "rmdir", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "rmdir", path, BS__REMOVE, st->ops->rmdir != NULL, &p);
  if (rc != 0)
    return rc;
  return done(&c, &p, path, p.overlay ? bs__ov_remove(st, "rmdir", path, &p, true)
                                      : st->ops->rmdir(st, target(&c, path, &p)));
}

int bs_chmod(bs_store *st, const char *path, uint32_t mode) {
  if (st && !absolute(path))
    return bs__bad_path(st, "chmod", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "chmod", path, BS__MODIFY, st->ops->chmod != NULL, &p);
  return rc != 0 ? rc : done(&c, &p, path, st->ops->chmod(st, target(&c, path, &p), mode));
}

int bs_chown(bs_store *st, const char *path, uint32_t uid, uint32_t gid) {
  if (st && !absolute(path))
    return bs__bad_path(st, "chown", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "chown", path, BS__MODIFY, BS__HAS(st->ops, 2, chown), &p);
  return rc != 0 ? rc : done(&c, &p, path, st->ops->chown(st, target(&c, path, &p), uid, gid));
}

int bs_utimens(bs_store *st, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  if (st && !absolute(path))
    return bs__bad_path(st, "utimens", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "utimens", path, BS__MODIFY, st->ops->utimens != NULL, &p);
  return rc != 0 ? rc : done(&c, &p, path, st->ops->utimens(st, target(&c, path, &p), atime_ns, mtime_ns));
}

int bs_setxattr(bs_store *st, const char *path, const char *name, const void *value, size_t len) {
  if (!name || (!value && len))
    return bs__bad_arg(st, "setxattr", "NULL name, or NULL value with a non-zero length");
  if (st && !absolute(path))
    return bs__bad_path(st, "setxattr", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "setxattr", path, BS__MODIFY, st->ops->setxattr != NULL, &p);
  if (rc != 0)
    return rc;
  if (ov_reserved_xattr(&p, name))
    return done(&c, &p, path, bs_store_fail(st, BS_EPERMISSION, EPERM, "setxattr: %s: \"%s\" is reserved for the overlay", path, name));
  return done(&c, &p, path, st->ops->setxattr(st, target(&c, path, &p), name, value, len));
}

int bs_removexattr(bs_store *st, const char *path, const char *name) {
  if (!name)
    return bs__bad_arg(st, "removexattr", "NULL name");
  if (st && !absolute(path))
    return bs__bad_path(st, "removexattr", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "removexattr", path, BS__MODIFY, st->ops->removexattr != NULL, &p);
  if (rc != 0)
    return rc;
  if (ov_reserved_xattr(&p, name))
    return done(&c, &p, path, bs_store_fail(st, BS_EPERMISSION, EPERM, "removexattr: %s: \"%s\" is reserved for the overlay", path, name));
  return done(&c, &p, path, st->ops->removexattr(st, target(&c, path, &p), name));
}

/* ---- calls of two paths ------------------------------------------------------------- */

int bs_rename(bs_store *st, const char *from, const char *to) {
  if (st && !absolute(to))
    return bs__bad_path(st, "rename", to);
  if (st && !absolute(from))
    return bs__bad_path(st, "rename", from);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place f = {0}, t = {0};
  bs__call_begin(&c, st, false, BS_OPC_META);
  int rc = st->ops->rename ? 0 : bs__missing(st, "rename");
  if (rc == 0 && c.primitive) {
    rc = place(&c, "rename", from, BS__REMOVE, false, &f);
    if (rc == 0)
      rc = place(&c, "rename", to, BS__NEW, false, &t);
    /* A rename stays inside its tree: between trees it is CROSS_DEVICE, as
     * between btrfs subvolumes. */
    if (rc == 0 && (f.tree != t.tree || f.tree_id != t.tree_id))
      rc = bs_store_fail(st, BS_ECROSS_DEVICE, EXDEV, "rename: %s -> %s: between trees", from, to);
  }
  if (rc == 0 && f.overlay)
    rc = bs__ov_rename(st, from, &f, to, &t);
  else if (rc == 0)
    rc = restate(st, restate(st, st->ops->rename(st, target(&c, from, &f), target(&c, to, &t)), &f, from), &t, to);
  bs__place_free(&f);
  bs__place_free(&t);
  return bs__call_end(&c, rc);
}

/* bs_reflink's contract (clonefile(2)), checked once for every primitive
 * backend in the order the kernel meets them: the source exists and is a
 * regular file; a destination named as a directory ("d/") is EXISTS when a
 * directory is there and INVALID otherwise (a clone is a file); the
 * destination does not exist.  The backend then only clones. */
static int reflink_preconditions(bs__call *c, const char *src, bs__place *s, const char *dst, bs__place *d) {
  bs_store *st = c->st;
  bs_stat_info si;
  int rc = place(c, "reflink", src, BS__READ, false, s);
  if (rc == 0)
    rc = overlay_prepare(st, "reflink", src, BS__READ, s);
  if (rc == 0)
    rc = st->ops->stat(st, s->bpath, &si);
  if (rc != 0)
    return rc;
  if (si.kind != BS_KIND_FILE)
    return bs_store_fail(st, BS_EINVALID, 0, "reflink: %s: not a regular file", src);
  if ((rc = place(c, "reflink", dst, BS__NEW, false, d)) != 0)
    return rc;
  size_t dl = strlen(dst);
  if (d->overlay && !(dl > 1 && dst[dl - 1] == '/'))
    return 0; /* bs__ov_new checks the destination through the layers */
  rc = st->ops->stat(st, d->bpath, &si);
  if (dl > 1 && dst[dl - 1] == '/') {
    if (rc != 0 && rc != BS_ENOT_FOUND)
      return restate(st, rc, d, dst);
    if (rc == 0 && si.kind == BS_KIND_DIR)
      return bs_store_fail(st, BS_EEXISTS, EEXIST, "reflink: %s: destination exists", dst);
    return bs_store_fail(st, BS_EINVALID, 0, "reflink: %s: a clone's name cannot end in '/'", dst);
  }
  if (rc == 0)
    return bs_store_fail(st, BS_EEXISTS, EEXIST, "reflink: %s: destination exists", dst);
  if (rc == BS_ENOT_FOUND)
    bs_store_clear_error(st);
  return rc == BS_ENOT_FOUND ? 0 : restate(st, rc, d, dst);
}

static int make_clone(bs_store *st, const char *bpath, void *ctx) { return st->ops->reflink(st, ctx, bpath); }

int bs_reflink(bs_store *st, const char *src, const char *dst) {
  if (st && !absolute(dst))
    return bs__bad_path(st, "reflink", dst);
  if (st && !absolute(src))
    return bs__bad_path(st, "reflink", src);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place s = {0}, d = {0};
  bs__call_begin(&c, st, false, BS_OPC_REFLINK);
  int rc = st->ops->reflink ? 0 : bs__missing(st, "reflink");
  if (rc == 0 && c.primitive)
    rc = reflink_preconditions(&c, src, &s, dst, &d);
  if (rc == 0 && d.overlay)
    rc = bs__ov_new(st, "reflink", dst, &d, false, make_clone, s.bpath);
  else if (rc == 0)
    rc = restate(st, restate(st, st->ops->reflink(st, target(&c, src, &s), target(&c, dst, &d)), &s, src), &d, dst);
  bs__place_free(&s);
  bs__place_free(&d);
  return bs__call_end(&c, rc);
}

/* ---- calls that answer for a virtual directory too ------------------------------------- */

/* Begin a read of @path that a virtual directory may answer. */
static int read_place(bs__call *c, bs_store *st, bs_op_class cls, const char *op, const char *path,
                      bool present, bs__place *p) {
  memset(p, 0, sizeof(*p));
  bs__call_begin(c, st, false, cls);
  int rc = !present ? bs__missing(st, op) : c->primitive ? place(c, op, path, BS__READ, true, p) : 0;
  if (rc == 0)
    rc = overlay_prepare(st, op, path, BS__READ, p);
  if (rc != 0)
    bs__place_free(p);
  return rc == 0 ? 0 : bs__call_end(c, rc);
}

int bs_stat(bs_store *st, const char *path, bs_stat_info *out) {
  if (!out)
    return bs__bad_arg(st, "stat", "NULL output");
  if (st && !absolute(path))
    return bs__bad_path(st, "stat", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = read_place(&c, st, BS_OPC_META, "stat", path, st->ops->stat != NULL, &p);
  if (rc != 0)
    return rc;
  return done(&c, &p, path, p.virt != BS__V_NONE ? bs__ns_virt_stat(st, p.virt, out)
                                           : st->ops->stat(st, target(&c, path, &p), out));
}

int bs_getxattr(bs_store *st, const char *path, const char *name, void *buf, size_t cap, size_t *len) {
  if (!name || (!buf && cap) || !len)
    return bs__bad_arg(st, "getxattr", "NULL name or length, or NULL buffer with a non-zero capacity");
  if (st && !absolute(path))
    return bs__bad_path(st, "getxattr", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = read_place(&c, st, BS_OPC_META, "getxattr", path, st->ops->getxattr != NULL, &p);
  if (rc != 0)
    return rc;
  if (p.virt != BS__V_NONE || ov_reserved_xattr(&p, name)) /* virtual directories have no xattrs */
    rc = bs_store_fail(st, BS_ENOT_FOUND, ENODATA, "getxattr: %s: no xattr \"%s\"", path, name);
  else
    rc = st->ops->getxattr(st, target(&c, path, &p), name, buf, cap, len);
  return done(&c, &p, path, rc);
}

int bs_sync(bs_store *st, const char *path) {
  if (st && path && !absolute(path))
    return bs__bad_path(st, "sync", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = path ? read_place(&c, st, BS_OPC_SYNC, "sync", path, st->ops->sync != NULL, &p) : 0;
  if (rc != 0)
    return rc;
  if (!path) {
    memset(&p, 0, sizeof(p));
    bs__call_begin(&c, st, false, BS_OPC_SYNC);
    return bs__call_end(&c, st->ops->sync ? st->ops->sync(st, NULL) : bs__missing(st, "sync"));
  }
  /* A virtual directory stands for the trees below it: the backend path of
   * the place that holds them. */
  const char *b = p.virt == BS__V_SNAPS ? "/.bs/snap" : p.virt != BS__V_NONE ? "/.bs/branch" : NULL;
  return done(&c, &p, path, st->ops->sync(st, b ? b : target(&c, path, &p)));
}

/* A listing: names and kinds collected, handed over after the lock. */
typedef struct listing {
  char **names;
  bs_file_kind *kinds;
  size_t n, cap;
  bool oom;
  bool hide_reserved; /* leave ".bs" out (bs__ns_hides_reserved) */
  bool hide_ov;       /* leave the overlay's own xattrs out */
} listing;

static int collect(void *ctx, const char *name, bs_file_kind kind) {
  listing *l = ctx;
  if (l->hide_reserved && strcmp(name, ".bs") == 0)
    return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **v = realloc(l->names, cap * sizeof(*v));
    bs_file_kind *k = v ? realloc(l->kinds, cap * sizeof(*k)) : NULL;
    if (v)
      l->names = v;
    if (!v || !k) {
      l->oom = true;
      return 1;
    }
    l->kinds = k;
    l->cap = cap;
  }
  if (!(l->names[l->n] = strdup(name))) {
    l->oom = true;
    return 1;
  }
  l->kinds[l->n++] = kind;
  return 0;
}

static int collect_xattr(void *ctx, const char *name) {
  listing *l = ctx;
  if (l->hide_ov && strncmp(name, BS__OV_XATTR_PREFIX, strlen(BS__OV_XATTR_PREFIX)) == 0)
    return 0;
  return collect(ctx, name, BS_KIND_FILE);
}

/* Hand the listing to @cb (readdir) or @xcb (listxattr) and free it. */
static int deliver(bs_store *st, const char *op, listing *l, int rc, bs_readdir_cb cb, bs_xattr_cb xcb,
                   void *ctx) {
  if (rc == 0 && l->oom)
    rc = bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
  for (size_t i = 0; rc == 0 && i < l->n; i++)
    if (cb ? cb(ctx, l->names[i], l->kinds[i]) != 0 : xcb(ctx, l->names[i]) != 0)
      break;
  for (size_t i = 0; i < l->n; i++)
    free(l->names[i]);
  free(l->names);
  free(l->kinds);
  return rc;
}

int bs_readdir(bs_store *st, const char *path, bs_readdir_cb cb, void *ctx) {
  if (!cb)
    return bs__bad_arg(st, "readdir", "NULL callback");
  if (st && !absolute(path))
    return bs__bad_path(st, "readdir", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = read_place(&c, st, BS_OPC_META, "readdir", path, st->ops->readdir != NULL, &p);
  if (rc != 0)
    return rc;
  listing l = {.hide_reserved = c.primitive && bs__ns_hides_reserved(&p)};
  if (p.virt != BS__V_NONE)
    rc = bs__ns_virt_readdir(st, p.virt, collect, &l);
  else if (p.overlay)
    rc = bs__ov_readdir(st, path, &p, collect, &l);
  else
    rc = st->ops->readdir(st, target(&c, path, &p), collect, &l);
  rc = done(&c, &p, path, rc);
  return deliver(st, "readdir", &l, rc, cb, NULL, ctx);
}

int bs_listxattr(bs_store *st, const char *path, bs_xattr_cb cb, void *ctx) {
  if (!cb)
    return bs__bad_arg(st, "listxattr", "NULL callback");
  if (st && !absolute(path))
    return bs__bad_path(st, "listxattr", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = read_place(&c, st, BS_OPC_META, "listxattr", path, st->ops->listxattr != NULL, &p);
  if (rc != 0)
    return rc;
  listing l = {.hide_ov = p.overlay};
  if (p.virt == BS__V_NONE) /* virtual directories have none */
    rc = st->ops->listxattr(st, target(&c, path, &p), collect_xattr, &l);
  rc = done(&c, &p, path, rc);
  return deliver(st, "listxattr", &l, rc, NULL, cb, ctx);
}

/* ---- links (ops version 3) ------------------------------------------------------------- */

int bs_symlink(bs_store *st, const char *text, const char *linkpath) {
  if (!text)
    return bs__bad_arg(st, "symlink", "NULL target");
  if (st && !absolute(linkpath))
    return bs__bad_path(st, "symlink", linkpath);
  if (!st)
    return BS_EINVALID;
  /* The target's limit, before anything is allocated for it. */
  size_t tl = strnlen(text, BS_SYMLINK_TARGET_MAX + 1);
  if (tl == 0)
    return bs_store_fail(st, BS_EINVALID, ENOENT, "symlink: %s: an empty target", linkpath);
  if (tl > BS_SYMLINK_TARGET_MAX)
    return bs_store_fail(st, BS_ENAME_TOO_LONG, ENAMETOOLONG, "symlink: %s: the target is over %d bytes",
                         linkpath, BS_SYMLINK_TARGET_MAX);
  bs__call c;
  bs__place p;
  int rc = one_path(&c, st, BS_OPC_META, "symlink", linkpath, BS__NEW, BS__HAS(st->ops, 3, symlink), &p);
  if (rc != 0)
    return rc;
  return done(&c, &p, linkpath, p.overlay ? bs__ov_new(st, "symlink", linkpath, &p, false, make_symlink, (void *)text)
                                          : st->ops->symlink(st, text, target(&c, linkpath, &p)));
}

int bs__readlink_whole(bs_store *st, const char *bpath, char text[BS_SYMLINK_TARGET_MAX + 1], size_t *len) {
  int rc = st->ops->readlink(st, bpath, text, BS_SYMLINK_TARGET_MAX + 1, len);
  if (rc == 0 && *len > BS_SYMLINK_TARGET_MAX)
    rc = bs_store_fail(st, BS_ECORRUPT, 0, "readlink: %s: the backend answered %zu bytes", bpath, *len);
  if (rc == 0)
    text[*len] = '\0';
  return rc;
}

int bs_readlink(bs_store *st, const char *path, char *buf, size_t cap, size_t *len) {
  if ((!buf && cap) || !len)
    return bs__bad_arg(st, "readlink", "NULL length, or NULL buffer with a non-zero capacity");
  *len = 0;
  if (st && !absolute(path))
    return bs__bad_path(st, "readlink", path);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place p;
  int rc = read_place(&c, st, BS_OPC_META, "readlink", path, BS__HAS(st->ops, 3, readlink), &p);
  if (rc != 0)
    return rc;
  /* The backend reads into room for any target; the caller's buffer gets
   * all of it or nothing. */
  char tmp[BS_SYMLINK_TARGET_MAX + 1];
  size_t n = 0;
  if (p.virt != BS__V_NONE)
    rc = bs_store_fail(st, BS_EINVALID, EINVAL, "readlink: %s: not a symlink", path);
  else
    rc = bs__readlink_whole(st, target(&c, path, &p), tmp, &n);
  if (rc == 0) {
    *len = n;
    if (cap > n) {
      memcpy(buf, tmp, n);
      buf[n] = '\0';
    } else if (cap != 0) {
      rc = bs_store_fail(st, BS_EINVALID, ERANGE, "readlink: %s: the target is %zu bytes, the buffer %zu", path,
                         n, cap);
    }
  }
  return done(&c, &p, path, rc);
}

/* bs_link's rules, for every primitive backend: both names in one tree,
 * the new one absent (the backend says EXISTS), the old one not a
 * directory. */
static int link_preconditions(bs__call *c, const char *from, bs__place *f, const char *to, bs__place *t) {
  bs_store *st = c->st;
  int rc = place(c, "link", from, BS__READ, false, f);
  if (rc == 0)
    rc = place(c, "link", to, BS__NEW, false, t);
  if (rc != 0)
    return rc;
  /* As between btrfs subvolumes: a hard link never joins two trees. */
  if (f->tree != t->tree || f->tree_id != t->tree_id)
    return bs_store_fail(st, BS_ECROSS_DEVICE, EXDEV, "link: %s -> %s: between trees", from, to);
  /* In an overlay branch the old name is linked in the upper: copied up
   * first (invisible to readers, so harmless if the link then fails). */
  if (f->overlay && (rc = bs__ov_copy_up(st, "link", from, f)) != 0)
    return rc;
  bs_stat_info si;
  if ((rc = st->ops->stat(st, f->bpath, &si)) != 0)
    return restate(st, rc, f, from);
  if (si.kind == BS_KIND_DIR)
    return bs_store_fail(st, BS_EPERMISSION, EPERM, "link: %s: a directory cannot be hard-linked", from);
  return 0;
}

int bs_link(bs_store *st, const char *oldpath, const char *newpath) {
  if (st && !absolute(newpath))
    return bs__bad_path(st, "link", newpath);
  if (st && !absolute(oldpath))
    return bs__bad_path(st, "link", oldpath);
  if (!st)
    return BS_EINVALID;
  bs__call c;
  bs__place f = {0}, t = {0};
  bs__call_begin(&c, st, false, BS_OPC_META);
  int rc = BS__HAS(st->ops, 3, link) ? 0 : bs__missing(st, "link");
  if (rc == 0 && c.primitive)
    rc = link_preconditions(&c, oldpath, &f, newpath, &t);
  if (rc == 0 && t.overlay)
    rc = restate(st, bs__ov_new(st, "link", newpath, &t, false, make_link, f.bpath), &t, newpath);
  else if (rc == 0)
    rc = restate(st, restate(st, st->ops->link(st, target(&c, oldpath, &f), target(&c, newpath, &t)), &f, oldpath),
                 &t, newpath);
  bs__place_free(&f);
  bs__place_free(&t);
  return bs__call_end(&c, rc);
}
