/* The darwin-fake store: real/darwin.c over a sim volume (see darwin_fake.h). */
#include "tests/support/darwin_fake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "real/darwin.h"
#include "real/host.h"
#include "tests/support/darwin_fake_internal.h"

int bs__fake_errno(int rc) { return rc == 0 ? 0 : -bs_err_to_errno(rc); }
#define E bs__fake_errno

static bs_store *S(void *ctx) { return ((fake *)ctx)->sim; }

char *bs__fake_sim_path(const fake *f, const char *host) {
  const fake_mount *m = NULL;
  size_t best = 0;
  for (size_t i = 0; i < f->nmounts; i++) {
    size_t n = strlen(f->mounts[i].dir);
    if (n > best && strncmp(host, f->mounts[i].dir, n) == 0 && (host[n] == '\0' || host[n] == '/')) {
      m = &f->mounts[i];
      best = n;
    }
  }
  const char *rest = m ? host + best : strcmp(host, "/") == 0 ? "" : host;
  char snap[BS_NAME_MAX + 32] = "";
  if (m && bs_snapshot_path(snap, sizeof(snap), m->name) != 0)
    return NULL;
  size_t n = strlen(snap) + strlen(BS_FAKE_VOL) + strlen(rest) + 1;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s%s%s", snap, BS_FAKE_VOL, rest);
  return p;
}

/* @rc, once sim path @p is freed (the calls below take it as their path). */
static int freed(char *p, int rc) {
  free(p);
  return rc;
}

/* ---- file operations on the sim ------------------------------------------ */

static int f_create(void *ctx, const bs__hpath *hp, uint32_t mode) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_create(S(ctx), p, mode))) : -ENOMEM;
}
static int f_mkdir(void *ctx, const bs__hpath *hp, uint32_t mode) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_mkdir(S(ctx), p, mode))) : -ENOMEM;
}
static int f_pwrite(void *ctx, const bs__hpath *hp, uint64_t off, const void *buf, size_t len) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_write(S(ctx), p, off, buf, len))) : -ENOMEM;
}
static int f_pread(void *ctx, const bs__hpath *hp, uint64_t off, void *buf, size_t len, size_t *nread) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_read(S(ctx), p, off, buf, len, nread))) : -ENOMEM;
}
static int f_truncate(void *ctx, const bs__hpath *hp, uint64_t size) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_truncate(S(ctx), p, size))) : -ENOMEM;
}
static int f_unlink(void *ctx, const bs__hpath *hp) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_unlink(S(ctx), p))) : -ENOMEM;
}
/* A mount point is busy, as rmdir(2) says on macOS. */
static int f_rmdir(void *ctx, const bs__hpath *hp) {
  fake *f = ctx;
  for (size_t i = 0; i < f->nmounts; i++)
    if (strcmp(f->mounts[i].dir, hp->abs) == 0)
      return -EBUSY;
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_rmdir(S(ctx), p))) : -ENOMEM;
}
static int f_rename(void *ctx, const bs__hpath *from, const bs__hpath *to) {
  char *p = bs__fake_sim_path(ctx, from->abs), *q = bs__fake_sim_path(ctx, to->abs);
  int rc = p && q ? E(bs_rename(S(ctx), p, q)) : -ENOMEM;
  free(p);
  free(q);
  return rc;
}
static int f_stat(void *ctx, const bs__hpath *hp, bs_stat_info *out) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_stat(S(ctx), p, out))) : -ENOMEM;
}
static int f_chmod(void *ctx, const bs__hpath *hp, uint32_t mode) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_chmod(S(ctx), p, mode))) : -ENOMEM;
}
static int f_chown(void *ctx, const bs__hpath *hp, uint32_t uid, uint32_t gid) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_chown(S(ctx), p, uid, gid))) : -ENOMEM;
}
static int f_utimens(void *ctx, const bs__hpath *hp, int64_t atime_ns, int64_t mtime_ns) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_utimens(S(ctx), p, atime_ns, mtime_ns))) : -ENOMEM;
}
static int f_readdir(void *ctx, const bs__hpath *hp, bs_readdir_cb cb, void *cb_ctx) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_readdir(S(ctx), p, cb, cb_ctx))) : -ENOMEM;
}
static int f_setxattr(void *ctx, const bs__hpath *hp, const char *name, const void *val, size_t len) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_setxattr(S(ctx), p, name, val, len))) : -ENOMEM;
}
/* The seam's contract: too small a buffer is ERANGE, as getxattr(2) says. */
static int f_getxattr(void *ctx, const bs__hpath *hp, const char *name, void *buf, size_t cap, size_t *len) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  if (!p)
    return -ENOMEM;
  int rc = bs_getxattr(S(ctx), p, name, buf, cap, len);
  size_t need = 0;
  if (rc == BS_EINVALID && cap > 0 && bs_getxattr(S(ctx), p, name, NULL, 0, &need) == 0 && need > cap)
    rc = -ERANGE;
  else
    rc = E(rc);
  free(p);
  return rc;
}
static int f_removexattr(void *ctx, const bs__hpath *hp, const char *name) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_removexattr(S(ctx), p, name))) : -ENOMEM;
}
static int f_listxattr(void *ctx, const bs__hpath *hp, bs_xattr_cb cb, void *cb_ctx) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_listxattr(S(ctx), p, cb, cb_ctx))) : -ENOMEM;
}
static int f_sync(void *ctx, const bs__hpath *hp) {
  char *p = bs__fake_sim_path(ctx, hp->abs);
  return p ? freed(p, E(bs_sync(S(ctx), p))) : -ENOMEM;
}
static int f_syncfs(void *ctx, const char *root) {
  (void)root;
  return E(bs_sync(S(ctx), NULL));
}
static int f_usage(void *ctx, const char *root, bs_usage *out) {
  (void)root;
  return E(bs_usage_get(S(ctx), out));
}

static void f_release(void *ctx) {
  fake *f = ctx;
  bs__fake_snap_release(f);
  bs_close(f->sim);
  free(f);
}

/* ---- the darwin seam, as macOS answers on APFS and HFS+ ------------------- */

/* statfs and friends fail on a path that does not exist. */
static int exists(fake *f, const char *path) {
  bs_stat_info si;
  return f_stat(f, BS__HOST_PATH(path), &si);
}

static int s_statfs_typename(void *ctx, const char *path, char out[BS_DARWIN_FSTYPENAME_LEN]) {
  fake *f = ctx;
  int rc = exists(f, path);
  if (rc == 0)
    snprintf(out, BS_DARWIN_FSTYPENAME_LEN, "%s", f->fstypename[0] ? f->fstypename : f->profile);
  return rc;
}

/* The bits darwin.c reads, set the way the real filesystems set them: APFS
 * knows clones and snapshots; HFS+ leaves both out of `valid` (hfs_vfsops.c
 * hfs_vfs_getattr), which darwin.c must read as "no".  Capabilities come from
 * the sim profile; a few other common bits make the words look real. */
static int s_volume_caps(void *ctx, const char *path, bs_darwin_volcaps *out) {
  fake *f = ctx;
  int rc = exists(f, path);
  bs_caps c;
  if (rc == 0)
    rc = E(bs_get_caps(f->sim, &c));
  if (rc != 0)
    return rc;
  bool apfs = strcmp(f->profile, "apfs") == 0;
  memset(out, 0, sizeof(*out));
  uint32_t *cap = out->capabilities, *valid = out->valid;
  const int F = BS_VOL_CAPABILITIES_FORMAT, I = BS_VOL_CAPABILITIES_INTERFACES;
  cap[F] = BS_VOL_CAP_FMT_SYMBOLICLINKS | BS_VOL_CAP_FMT_HARDLINKS | BS_VOL_CAP_FMT_CASE_PRESERVING |
           (apfs ? 0 : BS_VOL_CAP_FMT_JOURNAL | BS_VOL_CAP_FMT_JOURNAL_ACTIVE) |
           (c.case_sensitive ? BS_VOL_CAP_FMT_CASE_SENSITIVE : 0);
  valid[F] = BS_VOL_CAP_FMT_SYMBOLICLINKS | BS_VOL_CAP_FMT_HARDLINKS | BS_VOL_CAP_FMT_JOURNAL |
             BS_VOL_CAP_FMT_JOURNAL_ACTIVE | BS_VOL_CAP_FMT_CASE_SENSITIVE |
             BS_VOL_CAP_FMT_CASE_PRESERVING;
  cap[I] = BS_VOL_CAP_INT_ATTRLIST | (c.xattrs ? BS_VOL_CAP_INT_EXTENDED_ATTR : 0) |
           (c.native_reflink ? BS_VOL_CAP_INT_CLONE : 0) |
           (c.native_snapshots ? BS_VOL_CAP_INT_SNAPSHOT : 0);
  valid[I] = BS_VOL_CAP_INT_ATTRLIST | BS_VOL_CAP_INT_EXTENDED_ATTR |
             (apfs ? BS_VOL_CAP_INT_CLONE | BS_VOL_CAP_INT_SNAPSHOT : 0);
  out->name_max = c.max_name_len;
  for (int i = 0; i < 2; i++) {
    cap[i] |= f->tweak.set_caps[i];
    valid[i] &= ~f->tweak.clear_valid[i];
  }
  if (f->tweak.name_max)
    out->name_max = f->tweak.name_max;
  return 0;
}

/* What clonefile leaves behind when it runs out of space midway: a
 * destination with part of the data. */
static void partial_clone(fake *f, const char *src, const char *dst) {
  bs_stat_info si;
  uint8_t buf[4096];
  size_t n = 0;
  if (f_stat(f, BS__HOST_PATH(src), &si) != 0 || f_create(f, BS__HOST_PATH(dst), si.mode) != 0)
    return;
  if (f_pread(f, BS__HOST_PATH(src), 0, buf, sizeof(buf), &n) == 0 && n > 0)
    (void)f_pwrite(f, BS__HOST_PATH(dst), 0, buf, n);
}

typedef struct names {
  char **v;
  size_t n;
  int oom;
} names;

static int add_name(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  names *l = ctx;
  char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
  char *s = strdup(name);
  if (!v || !s) {
    free(s);
    if (v)
      l->v = v;
    l->oom = 1;
    return 1;
  }
  l->v = v;
  l->v[l->n++] = s;
  return 0;
}

static int add_xattr_name(void *ctx, const char *name) { return add_name(ctx, name, BS_KIND_FILE); }

/* Every xattr of @src on @dst; names first (a callback may not call the sim). */
static int copy_xattrs(fake *f, const char *src, const char *dst) {
  names l = {0};
  int rc = f_listxattr(f, BS__HOST_PATH(src), add_xattr_name, &l);
  if (rc == 0 && l.oom)
    rc = -ENOMEM;
  for (size_t i = 0; i < l.n; i++) {
    char buf[4096];
    size_t len = 0;
    if (rc == 0)
      rc = f_getxattr(f, BS__HOST_PATH(src), l.v[i], buf, sizeof(buf), &len);
    if (rc == 0)
      rc = f_setxattr(f, BS__HOST_PATH(dst), l.v[i], buf, len);
    free(l.v[i]);
  }
  free(l.v);
  return rc;
}

/* clonefile(2) of a directory: "as if each item was cloned individually",
 * then the directory's owner, xattrs, mode and times. */
static int clone_tree(fake *f, const char *src, const char *dst) {
  bs_stat_info si;
  int rc = f_stat(f, BS__HOST_PATH(src), &si);
  if (rc != 0)
    return rc;
  if (si.kind == BS_KIND_FILE) {
    char *p = bs__fake_sim_path(f, src), *q = bs__fake_sim_path(f, dst);
    rc = p && q ? bs_reflink(f->sim, p, q) : BS_ENO_MEMORY;
    free(p);
    free(q);
    return rc == BS_EUNSUPPORTED ? -ENOTSUP : E(rc); /* HFS+: ENOTSUP, as macOS says */
  }
  bs_caps c;
  if (si.kind != BS_KIND_DIR || bs_get_caps(f->sim, &c) != 0 || !c.native_reflink)
    return -ENOTSUP;
  if ((rc = f_mkdir(f, BS__HOST_PATH(dst), 0700)) != 0)
    return rc;
  names l = {0};
  rc = f_readdir(f, BS__HOST_PATH(src), add_name, &l);
  if (rc == 0 && l.oom)
    rc = -ENOMEM;
  for (size_t i = 0; i < l.n; i++) {
    size_t a = strlen(src) + strlen(l.v[i]) + 2, b = strlen(dst) + strlen(l.v[i]) + 2;
    char *s = malloc(a), *t = malloc(b);
    if (rc == 0 && s && t) {
      snprintf(s, a, "%s/%s", src, l.v[i]);
      snprintf(t, b, "%s/%s", dst, l.v[i]);
      rc = clone_tree(f, s, t);
    } else if (rc == 0) {
      rc = -ENOMEM;
    }
    free(s);
    free(t);
    free(l.v[i]);
  }
  free(l.v);
  if (rc == 0)
    rc = copy_xattrs(f, src, dst);
  if (rc == 0)
    rc = f_chown(f, BS__HOST_PATH(dst), si.uid, si.gid);
  if (rc == 0)
    rc = f_chmod(f, BS__HOST_PATH(dst), si.mode);
  if (rc == 0)
    rc = f_utimens(f, BS__HOST_PATH(dst), si.atime_ns, si.mtime_ns);
  return rc;
}

static int s_clonefile(void *ctx, const char *src, const char *dst, uint32_t flags) {
  fake *f = ctx;
  f->last_clone_flags = flags;
  int err = f->fail_next_clone;
  if (err) {
    f->fail_next_clone = 0;
    if (err == ENOSPC)
      partial_clone(f, src, dst);
    else if (err == EEXIST)
      (void)f_create(f, BS__HOST_PATH(dst), 0600); /* someone else's file */
    return -err;
  }
  bs_stat_info si;
  if (f_stat(f, BS__HOST_PATH(dst), &si) == 0)
    return -EEXIST;
  return clone_tree(f, src, dst);
}

/* ---- the store ------------------------------------------------------------ */

static int fake_open(bs_store **out, const bs_open_opts *opts, const char *inner);
static int fake_check(bs_store *st);
static int fake_clock(bs_store *st, int64_t *out);

/* The host methods, with two of the sim's: its invariant check, and its
 * clock, which is the one the files' times come from.  Filled in on the
 * first open (a designated initializer cannot override one of
 * BS__HOST_METHODS without a warning). */
static const bs_backend_ops host_methods = {BS__HOST_METHODS};
static bs_backend_ops fake_ops;

static const bs_backend_ops *fake_table(void) {
  if (!fake_ops.open) {
    fake_ops = host_methods;
    fake_ops.version = BS_BACKEND_OPS_VERSION;
    fake_ops.name = "darwin-fake";
    fake_ops.check = fake_check;
    fake_ops.clock_ns = fake_clock;
    fake_ops.open = fake_open;
  }
  return &fake_ops;
}

fake *bs__fake_of(bs_store *st) {
  if (!st || st->ops != &fake_ops)
    return NULL;
  const bs_darwin_sys *sys = bs__darwin_sys(((bs__host_store *)st)->os);
  return sys ? sys->ctx : NULL;
}

static int fake_check(bs_store *st) {
  fake *f = bs__fake_of(st);
  int rc = bs_check(f->sim);
  return rc == 0 ? 0 : bs_store_fail(st, rc, 0, "%s", bs_last_message(f->sim));
}

static int fake_clock(bs_store *st, int64_t *out) { return bs_clock_ns(bs__fake_of(st)->sim, out); }

/* The table's open method (bs_darwin_fake_open() calls it): opts->profile,
 * or the text after "darwin-fake:", and opts->seed. */
static int fake_open(bs_store **out, const bs_open_opts *opts, const char *inner) {
  const char *profile = inner && *inner ? inner : opts->profile;
  if (!profile || (strcmp(profile, "apfs") != 0 && strcmp(profile, "hfs") != 0))
    return BS_EINVALID;
  fake *f = calloc(1, sizeof(*f));
  if (!f)
    return BS_ENO_MEMORY;
  f->profile = strcmp(profile, "apfs") == 0 ? "apfs" : "hfs";
  f->last_clone_flags = UINT32_MAX;
  bs_open_opts so = {.profile = f->profile, .seed = opts->seed, .capacity = opts->capacity};
  int rc = bs_open(&f->sim, "sim", &so);
  if (rc == 0 && (rc = bs_mkdir(f->sim, BS_FAKE_VOL, 0755)) != 0)
    bs_close(f->sim);
  if (rc != 0) {
    free(f);
    return rc;
  }
  f->rng = opts->seed ^ 0x9e3779b97f4a7c15ull;
  if (!f->rng)
    f->rng = 1;
  const bs_host_os files = {
    .name = "darwin-fake",
    .ctx = f,
    .create = f_create,
    .mkdir = f_mkdir,
    .pwrite = f_pwrite,
    .pread = f_pread,
    .truncate = f_truncate,
    .unlink = f_unlink,
    .rmdir = f_rmdir,
    .rename = f_rename,
    .stat = f_stat,
    .chmod = f_chmod,
    .chown = f_chown,
    .utimens = f_utimens,
    .readdir = f_readdir,
    .setxattr = f_setxattr,
    .getxattr = f_getxattr,
    .removexattr = f_removexattr,
    .listxattr = f_listxattr,
    .sync = f_sync,
    .syncfs = f_syncfs,
    .usage = f_usage,
    .release = f_release,
  };
  bs_darwin_sys sys = {
    .ctx = f,
    .statfs_typename = s_statfs_typename,
    .volume_caps = s_volume_caps,
    .clonefile = s_clonefile,
  };
  bs__fake_snap_sys(&sys);
  const bs_host_os *os = NULL;
  rc = bs__darwin_make_os(&os, &sys, &files);
  if (rc != 0) {
    f_release(f);
    return rc;
  }
  rc = bs__host_open(out, fake_table(), os, "/", opts->flags);
  if (rc != 0)
    os->release(os->ctx); /* and so f_release(f) */
  return rc;
}

int bs_darwin_fake_open(bs_store **out, const char *profile, uint64_t seed) {
  return bs_darwin_fake_open_flags(out, profile, seed, 0);
}

int bs_darwin_fake_open_flags(bs_store **out, const char *profile, uint64_t seed, uint32_t flags) {
  if (!out)
    return BS_EINVALID;
  *out = NULL;
  bs_open_opts o = {.profile = profile, .seed = seed, .flags = flags};
  int rc = fake_open(out, &o, NULL);
  if (rc == 0) /* what bs_open() would do: the store's lock */
    bs_store_init(*out, (*out)->ops);
  return rc;
}

void bs_darwin_fake_fail_next_clone(bs_store *st, int err) {
  fake *f = bs__fake_of(st);
  if (f)
    f->fail_next_clone = err;
}

uint32_t bs_darwin_fake_last_clone_flags(bs_store *st) {
  fake *f = bs__fake_of(st);
  return f ? f->last_clone_flags : UINT32_MAX;
}

void bs_darwin_fake_tweak_seam(bs_store *st, const bs_darwin_fake_tweak *t) {
  fake *f = bs__fake_of(st);
  if (!f)
    return;
  memset(&f->tweak, 0, sizeof(f->tweak));
  f->fstypename[0] = '\0';
  if (!t)
    return;
  f->tweak = *t;
  f->tweak.fstypename = NULL;
  if (t->fstypename)
    snprintf(f->fstypename, sizeof(f->fstypename), "%s", t->fstypename);
}

bs_store *bs_darwin_fake_sim(bs_store *st) {
  fake *f = bs__fake_of(st);
  return f ? f->sim : NULL;
}
