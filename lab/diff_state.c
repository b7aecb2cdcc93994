/* Comparing what one path looks like in the sim and in the real store:
 * metadata, contents, xattrs and listings, field by field, so that a
 * divergence names the first field that differs.  The masks (what the sim
 * deliberately does not model) are here, each with its reason; docs/diff.md
 * lists them. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lab/campaign_internal.h" /* bs__fnv1a */
#include "lab/diff_internal.h"

/* The state of one path in one store. */
typedef struct pstate {
  int rc;                 /* of stat */
  bs_stat_info st;
  int crc;                /* of reading the whole file */
  uint64_t clen, chash;   /* its length and hash */
  int xrc;                /* of listing and reading the xattrs */
  char xattrs[1024];      /* "name=len:hash;" in byte order */
  int lrc;                /* of readdir */
  char listing[2048];     /* "name;" / "name/;" in byte order */
} pstate;

/* xattr names, '\0'-terminated one after another: listxattr's callback may
 * not call the store again (bs_* calls hold the store's lock), so the values
 * are read after the listing. */
typedef struct xnames {
  char buf[4096];
  size_t len;
} xnames;

static int on_xattr(void *ctx, const char *name) {
  xnames *x = ctx;
  size_t n = strlen(name) + 1;
  if (x->len + n <= sizeof(x->buf)) {
    memcpy(x->buf + x->len, name, n);
    x->len += n;
  }
  return 0;
}

/* "name=len:hash;" for each xattr of @path, in the listing's (byte) order. */
static void xattr_text(bs_store *st, const char *path, const xnames *x, uint8_t *buf, pstate *ps) {
  size_t o = 0, cap = sizeof(ps->xattrs);
  for (size_t i = 0; i < x->len; i += strlen(x->buf + i) + 1) {
    const char *name = x->buf + i;
    size_t n = 0;
    int rc = bs_getxattr(st, path, name, buf, DF_SCRATCH, &n);
    int w = rc == 0 ? snprintf(ps->xattrs + o, cap - o, "%.40s=%zu:%08" PRIx64 ";", name, n,
                               bs__fnv1a(BS__FNV_OFFSET, buf, n) & 0xffffffffu)
                    : snprintf(ps->xattrs + o, cap - o, "%.40s=%s;", name, bs_err_name(rc));
    if (w > 0 && (size_t)w < cap - o)
      o += (size_t)w;
  }
}

typedef struct lctx {
  char *buf;
  size_t cap, len;
} lctx;

static int on_dirent(void *ctx, const char *name, bs_file_kind kind) {
  lctx *l = ctx;
  int w = snprintf(l->buf + l->len, l->cap - l->len, "%.40s%s%s;", name,
                   strlen(name) > 40 ? "..." : "", kind == BS_KIND_DIR ? "/" : "");
  if (w > 0 && (size_t)w < l->cap - l->len)
    l->len += (size_t)w;
  return 0;
}

static void describe(bs_store *st, const char *path, uint8_t *buf, pstate *ps) {
  memset(ps, 0, sizeof(*ps));
  ps->rc = bs_stat(st, path, &ps->st);
  if (ps->rc != 0)
    return;
  if (ps->st.kind == BS_KIND_FILE) {
    uint64_t h = BS__FNV_OFFSET, off = 0;
    for (;;) {
      size_t n = 0;
      ps->crc = bs_read(st, path, off, buf, DF_READ_MAX, &n);
      if (ps->crc != 0 || n == 0)
        break;
      h = bs__fnv1a(h, buf, n);
      off += n;
    }
    ps->clen = off;
    ps->chash = h;
  }
  xnames x = {.len = 0};
  ps->xrc = bs_listxattr(st, path, on_xattr, &x);
  if (ps->xrc == 0)
    xattr_text(st, path, &x, buf, ps);
  if (ps->st.kind == BS_KIND_DIR) {
    lctx l = {.buf = ps->listing, .cap = sizeof(ps->listing)};
    ps->lrc = bs_readdir(st, path, on_dirent, &l);
  }
}

static bool differ(bs_diff_divergence *d, const char *what, const char *path, const char *fmt_sim,
                   const char *fmt_real) {
  snprintf(d->what, sizeof(d->what), "%s", what);
  snprintf(d->subject, sizeof(d->subject), "%s", path);
  snprintf(d->sim, sizeof(d->sim), "%s", fmt_sim);
  snprintf(d->real, sizeof(d->real), "%s", fmt_real);
  return false;
}

static bool differ_u64(bs_diff_divergence *d, const char *what, const char *path, uint64_t s,
                       uint64_t r, bool octal) {
  char a[32], b[32];
  snprintf(a, sizeof(a), octal ? "%04" PRIo64 : "%" PRIu64, s);
  snprintf(b, sizeof(b), octal ? "%04" PRIo64 : "%" PRIu64, r);
  return differ(d, what, path, a, b);
}

bool bs__dstate_same(bs_store *sim, bs_store *real, const bs__dmask *m, const char *path,
                     bool times, uint8_t *scratch, bs_diff_divergence *d, uint32_t *masked) {
  pstate s, r;
  describe(sim, path, scratch, &s);
  describe(real, path, scratch, &r);
  if (s.rc != r.rc)
    return differ(d, "stat", path, bs_err_name(s.rc), bs_err_name(r.rc));
  if (s.rc != 0)
    return true;
  const bs_stat_info *a = &s.st, *b = &r.st;
  if (a->kind != b->kind)
    return differ_u64(d, "stat.kind", path, a->kind, b->kind, false);
  if (a->mode != b->mode)
    return differ_u64(d, "stat.mode", path, a->mode, b->mode, true);
  if (a->uid != b->uid)
    return differ_u64(d, "stat.uid", path, a->uid, b->uid, false);
  if (a->gid != b->gid)
    return differ_u64(d, "stat.gid", path, a->gid, b->gid, false);
  /* Mask: with trees (the overlay mix) the real store's root holds its
   * ".bs" directory (hidden from listings), the sim's trees are outside its
   * namespace: the root's link count and size differ.  docs/diff.md. */
  bool root_bs = m->trees && path[strspn(path, "/")] == '\0';
  if (root_bs && (a->nlink != b->nlink || a->size != b->size))
    *masked += 1;
  else if (a->nlink != b->nlink)
    return differ_u64(d, "stat.nlink", path, a->nlink, b->nlink, false);
  /* Mask: on xfs and ext4 the size of a directory is the filesystem's block
   * bookkeeping (xfs's short form in the inode, then blocks; ext4's blocks,
   * which never shrink); the sim models btrfs's and tmpfs's figures only.
   * docs/diff.md, "Masks". */
  if (a->kind == BS_KIND_DIR && m->fs != BS_FS_BTRFS && m->fs != BS_FS_TMPFS)
    *masked += a->size != b->size;
  else if (a->size != b->size && !root_bs)
    return differ_u64(d, "stat.size", path, a->size, b->size, false);
  if ((a->btime_ns != 0) != (b->btime_ns != 0))
    return differ(d, "stat.btime", path, a->btime_ns ? "set" : "none", b->btime_ns ? "set" : "none");
  /* Mask: an empty file of mode 0000 in an overlay branch's upper might be
   * a kernel whiteout (a character device), so each lookup opens it
   * (src/overlay.c), which sets its atime to "now": the sim's virtual
   * clock against the kernel's.  docs/diff.md, "Overlay branches". */
  bool probed = m->trees && a->kind == BS_KIND_FILE && a->size == 0 && (a->mode & 07777) == 0 &&
                strncmp(path + strspn(path, "/"), ".bs/branches/", 13) == 0;
  if (times && a->atime_ns != b->atime_ns && probed)
    *masked += 1;
  else if (times && a->atime_ns != b->atime_ns)
    return differ_u64(d, "stat.atime", path, (uint64_t)a->atime_ns, (uint64_t)b->atime_ns, false);
  if (times && a->mtime_ns != b->mtime_ns)
    return differ_u64(d, "stat.mtime", path, (uint64_t)a->mtime_ns, (uint64_t)b->mtime_ns, false);
  if (s.crc != r.crc)
    return differ(d, "content", path, bs_err_name(s.crc), bs_err_name(r.crc));
  if (s.clen != r.clen || s.chash != r.chash) {
    char x[64], y[64];
    snprintf(x, sizeof(x), "len=%" PRIu64 " hash=%016" PRIx64, s.clen, s.chash);
    snprintf(y, sizeof(y), "len=%" PRIu64 " hash=%016" PRIx64, r.clen, r.chash);
    return differ(d, "content", path, x, y);
  }
  if (s.xrc != r.xrc)
    return differ(d, "xattrs", path, bs_err_name(s.xrc), bs_err_name(r.xrc));
  if (strcmp(s.xattrs, r.xattrs) != 0)
    return differ(d, "xattrs", path, s.xattrs, r.xattrs);
  if (s.lrc != r.lrc)
    return differ(d, "listing", path, bs_err_name(s.lrc), bs_err_name(r.lrc));
  if (strcmp(s.listing, r.listing) != 0)
    return differ(d, "listing", path, s.listing, r.listing);
  return true;
}

/* Full names of a directory, '\n'-separated (names hold no '\n' here). */
static int on_fullname(void *ctx, const char *name, bs_file_kind kind) {
  (void)kind;
  lctx *l = ctx;
  int w = snprintf(l->buf + l->len, l->cap - l->len, "%s\n", name);
  if (w > 0 && (size_t)w < l->cap - l->len)
    l->len += (size_t)w;
  return 0;
}

static bool sweep(bs_store *sim, bs_store *real, const bs__dmask *m, const char *path,
                  uint8_t *scratch, bs_diff_divergence *d, uint32_t *masked, int depth) {
  if (!bs__dstate_same(sim, real, m, path, false, scratch, d, masked))
    return false;
  bs_stat_info si;
  if (depth > 16 || bs_stat(sim, path, &si) != 0 || si.kind != BS_KIND_DIR)
    return true;
  char names[8192];
  lctx l = {.buf = names, .cap = sizeof(names)};
  names[0] = '\0';
  if (bs_readdir(sim, path, on_fullname, &l) != 0)
    return true;
  for (char *p = names, *e; (e = strchr(p, '\n')) != NULL; p = e + 1) {
    *e = '\0';
    char child[DF_PATH + 300];
    int w = snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") == 0 ? "" : path, p);
    if (w < 0 || (size_t)w >= sizeof(child))
      continue;
    if (!sweep(sim, real, m, child, scratch, d, masked, depth + 1))
      return false;
  }
  return true;
}

bool bs__dstate_sweep(bs_store *sim, bs_store *real, const bs__dmask *m, uint8_t *scratch,
                      bs_diff_divergence *d, uint32_t *masked) {
  return sweep(sim, real, m, "/", scratch, d, masked, 0);
}
