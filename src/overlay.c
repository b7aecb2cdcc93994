/* Overlay branches: resolution, merged listings, copy-up, whiteouts (see
 * overlay.h; docs/overlay.md). */
#include "src/overlay.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "src/snapshot.h"
#include "src/store_internal.h"

/* Bytes a byte copy moves at once. */
#define COPY_CHUNK (1u << 20)

static int oom(bs_store *st, const char *op) {
  return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "%s: out of memory", op);
}

/* "PREFIX" + "REST" (malloc'ed). */
static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 1;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s%s", a, b);
  return s;
}

/* The backend path of @rest in layer @i of @p (i = 0: the top).  The one
 * place that names the layers: a branch's upper "/.bs/branch/ID/upper", a
 * snapshot's tree "/.bs/snap/ID" (a stacked one's is its frozen upper). */
static char *layer_of(const bs__place *p, unsigned i, const char *rest) {
  const bs__layer *l = &p->layers[i];
  if (l->host) /* a host directory, reached through the backend */
    return bs__ns_host_lower_path(l->id, rest);
  if (l->kind != BS_TREE_BRANCH)
    return bs__ns_tree_path(BS_TREE_SNAPSHOT, l->id, rest);
  char *u = join(BS__OV_UPPER, rest);
  char *s = u ? bs__ns_tree_path(BS_TREE_BRANCH, l->id, u) : NULL;
  free(u);
  return s;
}

/* The top layer: where changes go (an overlay branch's upper). */
static char *upper_of(const bs__place *p, const char *rest) { return layer_of(p, 0, rest); }

/* Whether layer @i may hold whiteouts and opaque marks: every layer with
 * another below it (the bottom is a plain snapshot of a main tree, whose
 * files are never read as marks). */
static bool has_marks(const bs__place *p, unsigned i) { return i + 1 < p->nlayers; }

/* ---- the marks ---------------------------------------------------------------------- */

/* Whether upper entry @bpath (stat @si) is a whiteout: 1, 0, or the
 * error met looking (a missing xattr, or none at all, is no error). */
static int whiteout_check(bs_store *st, const char *bpath, const bs_stat_info *si) {
  if (si->kind != BS_KIND_FILE || si->size != 0 || !st->ops->getxattr)
    return 0;
  size_t len;
  int rc = st->ops->getxattr(st, bpath, BS__OV_WHITEOUT, NULL, 0, &len);
  if (rc != 0 && rc != BS_ENOT_FOUND && rc != BS_EUNSUPPORTED)
    return rc;
  bool w = rc == 0;
  if (!w && st->ops->read && (si->mode & 07777) == 0) {
    /* The kernel's own whiteout, a character device 0/0 of mode 0000 (what
     * overlayfs and the real backend write): bs_stat shows it as an empty
     * file, and opening it fails with ENXIO or ENODEV, which no file does.
     * Only a file of mode 0000 is probed: the read of the probe would set
     * an empty file's atime (relatime), so a lookup would change it. */
    char b;
    size_t n;
    int rrc = st->ops->read(st, bpath, 0, &b, 1, &n);
    int e = rrc == 0 ? 0 : bs_last_os_errno(st);
    /* A caller without privilege may not open it at all: the kernel makes
     * it with mode 0000, which an empty file of the caller's hardly has. */
    w = e == ENXIO || e == ENODEV || ((e == EACCES || e == EPERM) && (si->mode & 07777) == 0);
    if (rrc != 0 && !w && rrc != BS_EPERMISSION)
      return rrc; /* the probe failed (EIO): the lookup fails, it does not guess */
  }
  bs_store_clear_error(st);
  return w;
}

static bool is_whiteout(bs_store *st, const char *bpath, const bs_stat_info *si) {
  return whiteout_check(st, bpath, si) == 1;
}

/* The value of directory @bpath's opaque mark ('y', 'x') or 0 in *@out;
 * 0 or the error met reading it. */
static int opaque_get(bs_store *st, const char *bpath, char *out) {
  char v[2] = {0};
  size_t len = 0;
  int rc = st->ops->getxattr ? st->ops->getxattr(st, bpath, BS__OV_OPAQUE, v, sizeof(v), &len) : BS_EUNSUPPORTED;
  *out = rc == 0 && len == 1 ? v[0] : 0;
  if (rc == BS_ENOT_FOUND || rc == BS_EUNSUPPORTED || rc == BS_EINVALID) /* absent, or not one byte */
    rc = 0;
  if (rc == 0)
    bs_store_clear_error(st);
  return rc;
}

static char opaque_mark(bs_store *st, const char *bpath) {
  char m = 0;
  opaque_get(st, bpath, &m);
  bs_store_clear_error(st);
  return m;
}

/* ---- resolution ----------------------------------------------------------------------- */

typedef struct res {
  bool upper, lower;         /* shows from the top layer; shows from a lower one (or a directory
                              * merges one) */
  bool whiteout;             /* the top layer holds a whiteout at the name */
  bool lower_any;            /* a lower layer has an entry at the name that would show without
                              * the top's: removing the top one needs a whiteout */
  bs_stat_info us, ls;       /* their stats: the top's, the highest lower one's */
  unsigned from;             /* the layer @ls is of */
  bool lower_merged;         /* a directory whose lower part is merged */
  uint32_t dirs;             /* bit i: layer i's directory at the name takes part in it */
} res;

/* One layer's entry at a name: 0 with *@found (and @si, *@white) when it
 * is there; or the error met. */
static int layer_entry(bs_store *st, const bs__place *p, unsigned i, const char *lpath, bs_stat_info *si,
                       bool *found, bool *white) {
  *found = *white = false;
  int rc = st->ops->stat(st, lpath, si);
  if (rc == BS_ENOT_FOUND) {
    bs_store_clear_error(st);
    return 0;
  }
  if (rc != 0)
    return rc;
  int w = has_marks(p, i) ? whiteout_check(st, lpath, si) : 0;
  if (w < 0)
    return w;
  *found = true;
  *white = w == 1;
  return 0;
}

/* A root's "/.bs" is not part of a lower layer: the stand-in of the main
 * tree's reserved directory that a btrfs snapshot holds, or a name a
 * snapshot of a branch leaves out. */
static bool reserved_name(const char *prefix) {
  return strncmp(prefix, "/.bs", 4) == 0 && (prefix[4] == '\0' || prefix[4] == '/');
}

static int resolve_one(bs_store *st, const bs__place *p, uint32_t live, const char *prefix, res *r);

/* resolve_one()'s answer when a host lower's root is missing (no BS_E*
 * code is positive): resolve() words it. */
#define LOWER_GONE 1

/* Whether, without the top layer's entry at @prefix, a lower one would
 * show (the layers of @live, whose parent directories take part). */
static int lower_shows(bs_store *st, const bs__place *p, uint32_t live, const char *prefix, bool *out) {
  res below = {0};
  int rc = resolve_one(st, p, live & ~1u, prefix, &below);
  *out = rc == 0 && below.lower;
  return rc;
}

/* The entry at @prefix through the layers of @live (whose parents take
 * part), top first: the first found shows; a whiteout, a non-directory or
 * an opaque directory hides everything below it; directories below a
 * shown one merge into it (bits in r->dirs). */
static int resolve_one(bs_store *st, const bs__place *p, uint32_t live, const char *prefix, res *r) {
  bool shown = false, have_ls = false;
  for (unsigned i = 0; i < p->nlayers; i++) {
    if (!(live & (1u << i)) || (i > 0 && reserved_name(prefix)))
      continue;
    char *l = layer_of(p, i, prefix);
    if (!l)
      return BS_ENO_MEMORY;
    bs_stat_info si;
    bool found, white;
    int rc = layer_entry(st, p, i, l, &si, &found, &white);
    if (rc == 0 && !found && p->layers[i].host && prefix[0] == '\0') {
      /* A host lower's root is never missing: the host directory is gone
       * (stated again for the backend's message, which layer_entry cleared). */
      st->ops->stat(st, l, &si);
      free(l);
      return LOWER_GONE;
    }
    char mark = 0;
    if (rc == 0 && found && !white && si.kind == BS_KIND_DIR && has_marks(p, i))
      rc = opaque_get(st, l, &mark);
    free(l);
    if (rc != 0)
      return rc;
    if (!found)
      continue;
    if (white) {
      r->whiteout = i == 0;
      break;
    }
    if (shown && si.kind != BS_KIND_DIR)
      break; /* a non-directory below a directory: hidden, and so is what is below it */
    if (i == 0) {
      r->us = si;
      r->upper = true;
    } else if (!have_ls) {
      r->ls = si;
      r->from = i;
      have_ls = true;
      r->lower = true;
    }
    shown = true;
    if (si.kind != BS_KIND_DIR)
      break;
    r->dirs |= 1u << i;
    if (mark == 'y')
      break;
  }
  r->lower_merged = r->lower && r->ls.kind == BS_KIND_DIR;
  return 0;
}

/* Resolve @rest ("" or "/a/b") of the overlay of @p through its layers.
 * NOT_FOUND when it does not show (whiteout, missing); INVALID when a
 * component is not a directory. */
static int resolve(bs_store *st, const char *op, const char *path, const bs__place *p, const char *rest, res *r) {
  memset(r, 0, sizeof(*r));
  char *buf = strdup(rest);
  if (!buf)
    return oom(st, op);
  uint32_t live = (1u << p->nlayers) - 1;
  int rc = 0;
  size_t len = strlen(buf);
  size_t i = 0;
  /* Each prefix, from the root ("") to the whole path. */
  for (;;) {
    size_t end = i;
    char save = buf[end];
    buf[end] = '\0';
    bool last = end >= len;
    memset(r, 0, sizeof(*r));
    rc = resolve_one(st, p, live, buf, r);
    if (rc == 0 && last && r->upper)
      rc = r->lower ? (r->lower_any = true, 0) : lower_shows(st, p, live, buf, &r->lower_any);
    else if (rc == 0)
      r->lower_any = r->lower;
    buf[end] = save;
    if (rc == BS_ENO_MEMORY) {
      rc = oom(st, op);
      break;
    }
    if (rc == LOWER_GONE) {
      char why[256];
      snprintf(why, sizeof(why), "%s", bs_last_message(st));
      rc = bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: %s: the branch's lower layer is gone: %s", op, path, why);
      break;
    }
    if (rc != 0) {
      /* Only an absent entry is absent: any other failure (EIO) is the call's. */
      char why[256];
      snprintf(why, sizeof(why), "%s", bs_last_message(st));
      rc = bs_store_fail(st, rc, bs_last_os_errno(st), "%s: %s: %s", op, path, why);
      break;
    }
    bs_store_clear_error(st);
    if (!r->upper && !r->lower) {
      rc = bs_store_fail(st, BS_ENOT_FOUND, ENOENT, "%s: %s: no such file or directory", op, path);
      break;
    }
    if (last)
      break;
    if ((r->upper ? r->us.kind : r->ls.kind) != BS_KIND_DIR) {
      rc = bs_store_fail(st, BS_EINVALID, ENOTDIR, "%s: %s: a component is not a directory", op, path);
      break;
    }
    live = r->dirs;
    /* Next component: up to the following '/'. */
    i = end + 1 + strcspn(buf + end + 1, "/");
  }
  free(buf);
  return rc;
}

/* Kind of what shows. */
static bs_file_kind shown_kind(const res *r) { return r->upper ? r->us.kind : r->ls.kind; }

/* The parent part of @rest ("/a/b" -> "/a", "/a" -> ""), malloc'ed; *@leaf the last name. */
static char *parent_of(const char *rest, const char **leaf) {
  const char *s = strrchr(rest, '/');
  *leaf = s ? s + 1 : rest;
  size_t n = s ? (size_t)(s - rest) : 0;
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, rest, n);
    p[n] = '\0';
  }
  return p;
}

int bs__ov_visible(bs_store *st, const char *op, const char *path, const bs__place *p, char **out) {
  *out = NULL;
  res r;
  int rc = resolve(st, op, path, p, p->rest, &r);
  if (rc != 0)
    return rc;
  *out = layer_of(p, r.upper ? 0 : r.from, p->rest);
  return *out ? 0 : oom(st, op);
}

/* ---- merged listings ------------------------------------------------------------------ */

typedef struct names {
  char **v;
  bs_file_kind *k;
  size_t n, cap;
  bool oom;
} names;

static int add_name(void *ctx, const char *name, bs_file_kind kind) {
  names *l = ctx;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **v = realloc(l->v, cap * sizeof(*v));
    if (v)
      l->v = v;
    bs_file_kind *k = v ? realloc(l->k, cap * sizeof(*k)) : NULL;
    if (!v || !k) {
      l->oom = true;
      return 1;
    }
    l->k = k;
    l->cap = cap;
  }
  if (!(l->v[l->n] = strdup(name))) {
    l->oom = true;
    return 1;
  }
  l->k[l->n++] = kind;
  return 0;
}

static int add_xattr(void *ctx, const char *name) { return add_name(ctx, name, BS_KIND_FILE); }

static void names_free(names *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  free(l->k);
  memset(l, 0, sizeof(*l));
}

/* Does @l have @name?  @fold: compare as a case-insensitive filesystem's
 * lookup does (ASCII letters folded, as the sim's apfs and hfs profiles
 * compare names, sim/dir.c), so an upper "f7" hides a lower "F7". */
static bool has_name(const names *l, const char *name, bool fold) {
  for (size_t i = 0; i < l->n; i++)
    if (fold ? strcasecmp(l->v[i], name) == 0 : strcmp(l->v[i], name) == 0)
      return true;
  return false;
}

typedef struct entry {
  const char *name;
  bs_file_kind kind;
} entry;

static int by_name(const void *a, const void *b) {
  return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* The merged entries of directory @rest: @vis (shown) and @wh (whiteouts
 * in the top layer).  Both are filled; free them with names_free. */
static int merged(bs_store *st, const char *op, const char *path, const bs__place *p, const char *rest, names *vis,
                  names *wh) {
  res r;
  int rc = resolve(st, op, path, p, rest, &r);
  if (rc == 0 && shown_kind(&r) != BS_KIND_DIR)
    rc = bs_store_fail(st, BS_EINVALID, ENOTDIR, "%s: %s: not a directory", op, path);
  if (rc != 0)
    return rc;
  names hid = {0}; /* whiteouts of lower layers */
  /* On a case-insensitive filesystem a name hides the names below it that
   * its lookup would find (an upper "f7" hides a lower "F7"). */
  bool fold = !bs__store_case_sensitive(st);
  for (unsigned i = 0; rc == 0 && i < p->nlayers; i++) {
    if (!(r.dirs & (1u << i)))
      continue;
    names l = {0};
    char *d = layer_of(p, i, rest), *e = d ? join(d, "/") : NULL;
    rc = e ? st->ops->readdir(st, d, add_name, &l) : BS_ENO_MEMORY;
    if (rc == 0 && l.oom)
      rc = BS_ENO_MEMORY;
    for (size_t k = 0; rc == 0 && k < l.n; k++) {
      const char *n = l.v[k];
      if (has_name(vis, n, fold) || has_name(wh, n, fold) || has_name(&hid, n, fold) ||
          (i > 0 && rest[0] == '\0' && strcmp(n, ".bs") == 0))
        continue;
      bool white = false;
      if (l.k[k] == BS_KIND_FILE && has_marks(p, i)) {
        char *f = join(e, n);
        bs_stat_info si;
        white = f && st->ops->stat(st, f, &si) == 0 && is_whiteout(st, f, &si);
        bs_store_clear_error(st);
        free(f);
      }
      add_name(white ? (i == 0 ? wh : &hid) : vis, n, l.k[k]);
    }
    names_free(&l);
    free(d);
    free(e);
  }
  if (rc == 0 && (vis->oom || wh->oom || hid.oom))
    rc = BS_ENO_MEMORY;
  if (rc == BS_ENO_MEMORY)
    rc = oom(st, op);
  names_free(&hid);
  return rc;
}

int bs__ov_readdir(bs_store *st, const char *path, const bs__place *p, bs_readdir_cb cb, void *ctx) {
  names vis = {0}, wh = {0};
  int rc = merged(st, "readdir", path, p, p->rest, &vis, &wh);
  entry *e = rc == 0 && vis.n ? malloc(vis.n * sizeof(*e)) : NULL;
  if (rc == 0 && vis.n && !e)
    rc = oom(st, "readdir");
  if (rc == 0) {
    for (size_t i = 0; i < vis.n; i++)
      e[i] = (entry){vis.v[i], vis.k[i]};
    if (vis.n > 1)
      qsort(e, vis.n, sizeof(*e), by_name);
    for (size_t i = 0; i < vis.n; i++)
      if (cb(ctx, e[i].name, e[i].kind) != 0)
        break;
  }
  free(e);
  names_free(&vis);
  names_free(&wh);
  return rc;
}

/* ---- the work directory ------------------------------------------------------------- */

/* "@a/@b", malloc'ed. */
static char *child_of(const char *a, const char *b) {
  char *e = join(a, "/"), *f = e ? join(e, b) : NULL;
  free(e);
  return f;
}

static atomic_uint_fast64_t tmp_counter;

/* The work names of this process in use (docs/overlay.md, "Leftovers"):
 * the numbers N of its "#bs.PID.N", from work_tmp() to work_release(), so
 * that a reap (of any store of the process) leaves them alone. */
static pthread_mutex_t inflight_mu = PTHREAD_MUTEX_INITIALIZER;
static uint_fast64_t *inflight;
static size_t ninflight, inflight_cap;

static bool inflight_add(uint_fast64_t n) {
  pthread_mutex_lock(&inflight_mu);
  bool ok = ninflight < inflight_cap;
  if (!ok) {
    size_t cap = inflight_cap ? inflight_cap * 2 : 16;
    uint_fast64_t *v = realloc(inflight, cap * sizeof(*v));
    if ((ok = v != NULL)) {
      inflight = v;
      inflight_cap = cap;
    }
  }
  if (ok)
    inflight[ninflight++] = n;
  pthread_mutex_unlock(&inflight_mu);
  return ok;
}

static bool inflight_has(uint_fast64_t n) {
  pthread_mutex_lock(&inflight_mu);
  bool has = false;
  for (size_t i = 0; !has && i < ninflight; i++)
    has = inflight[i] == n;
  pthread_mutex_unlock(&inflight_mu);
  return has;
}

/* "#bs.PID.N" (the leaf of a work name): 1 with *@pid and *@n, else 0. */
static int work_leaf_parse(const char *leaf, long *pid, uint_fast64_t *n) {
  if (strncmp(leaf, "#bs.", 4) != 0)
    return 0;
  const char *s = leaf + 4;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end != '.' || v <= 0 || !(*s >= '0' && *s <= '9'))
    return 0;
  s = end + 1;
  unsigned long long u = strtoull(s, &end, 10);
  if (errno || end == s || *end != '\0' || !(*s >= '0' && *s <= '9'))
    return 0;
  *pid = v;
  *n = (uint_fast64_t)u;
  return 1;
}

static void inflight_drop(uint_fast64_t n) {
  pthread_mutex_lock(&inflight_mu);
  for (size_t i = 0; i < ninflight; i++)
    if (inflight[i] == n) {
      inflight[i] = inflight[--ninflight];
      break;
    }
  pthread_mutex_unlock(&inflight_mu);
}

/* Work name @bpath no longer in use by this process: freed. */
static void work_release(char *bpath) {
  if (!bpath)
    return;
  const char *leaf = strrchr(bpath, '/');
  long pid;
  uint_fast64_t n;
  if (leaf && work_leaf_parse(leaf + 1, &pid, &n) && pid == (long)getpid())
    inflight_drop(n);
  free(bpath);
}

/* A fresh name in the branch's work directory (malloc'ed, in use until
 * work_release); the caller makes it exclusively and asks again on EXISTS. */
static char *work_tmp(const bs__place *p) {
  char leaf[64];
  uint_fast64_t n = (uint_fast64_t)atomic_fetch_add(&tmp_counter, 1);
  snprintf(leaf, sizeof(leaf), "%s/#bs.%ld.%" PRIuFAST64, BS__OV_WORK, (long)getpid(), n);
  if (!inflight_add(n))
    return NULL;
  char *t = bs__ns_tree_path(BS_TREE_BRANCH, p->tree_id, leaf);
  if (!t)
    inflight_drop(n);
  return t;
}

static void discard(bs_store *st, const char *bpath);

/* Whether work name @leaf is a leftover no live copy-up can be using: one
 * of this process that no call of it holds, or one of a process that no
 * longer exists (kill(PID, 0) says ESRCH; a PID reused since keeps it). */
static bool work_leftover(const char *leaf) {
  long pid;
  uint_fast64_t n;
  if (!work_leaf_parse(leaf, &pid, &n))
    return false; /* not ours (a kernel mount's "work" directory) */
  if (pid == (long)getpid())
    return !inflight_has(n);
  return (pid_t)pid == pid && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Remove the leftovers of the work directory of @p's branch (crashes, failed
 * cleanups), once per store and branch: at the first use of the work
 * directory.  Tidying only: errors are ignored and the caller's stay. */
static void work_reap(bs_store *st, const bs__place *p) {
  if (p->layers[0].kind != BS_TREE_BRANCH || !bs__core_ov_reap_due(st, p->tree_id))
    return;
  char *w = bs__ns_tree_path(BS_TREE_BRANCH, p->tree_id, BS__OV_WORK);
  names l = {0};
  char why[256];
  snprintf(why, sizeof(why), "%s", bs_last_message(st));
  int os_errno = bs_last_os_errno(st);
  if (w && st->ops->readdir(st, w, add_name, &l) == 0)
    for (size_t i = 0; i < l.n; i++)
      if (work_leftover(l.v[i])) {
        char *f = child_of(w, l.v[i]);
        if (f)
          discard(st, f);
        free(f);
      }
  names_free(&l);
  free(w);
  bs_store_clear_error(st);
  if (why[0])
    bs_store_fail(st, 0, os_errno, "%s", why);
}

/* Make something new in the work directory with @make: its path in *@out. */
static int make_in_work(bs_store *st, const char *op, const bs__place *p, bs__ov_make_fn make, void *ctx,
                        char **out) {
  work_reap(st, p);
  for (int tries = 0; tries < 100; tries++) {
    char *t = work_tmp(p);
    if (!t)
      return oom(st, op);
    int rc = make(st, t, ctx);
    if (rc == 0) {
      *out = t;
      return 0;
    }
    work_release(t);
    if (rc != BS_EEXISTS)
      return rc;
  }
  return bs_store_fail(st, BS_EEXISTS, EEXIST, "%s: no free name in the work directory", op);
}

/* Remove @bpath (a file, or a directory of whiteouts) whatever it is;
 * cleanup: errors are ignored. */
static void discard(bs_store *st, const char *bpath) {
  bs_stat_info si;
  if (st->ops->stat(st, bpath, &si) == 0 && si.kind == BS_KIND_DIR) {
    names l = {0};
    if (st->ops->readdir(st, bpath, add_name, &l) == 0)
      for (size_t i = 0; i < l.n; i++) {
        char *e = join(bpath, "/"), *f = e ? join(e, l.v[i]) : NULL;
        if (f)
          discard(st, f);
        free(e);
        free(f);
      }
    names_free(&l);
    st->ops->rmdir(st, bpath);
  } else {
    st->ops->unlink(st, bpath);
  }
  bs_store_clear_error(st);
}

/* discard() after a failure: the failure's message stays for the caller. */
static void discard_failed(bs_store *st, const char *bpath) {
  char why[256];
  snprintf(why, sizeof(why), "%s", bs_last_message(st));
  int os_errno = bs_last_os_errno(st);
  discard(st, bpath);
  if (why[0])
    bs_store_fail(st, 0, os_errno, "%s", why);
}

/* Directory @bpath of the upper: durable (its entries). */
static int sync_dir(bs_store *st, const char *bpath) { return st->ops->sync ? st->ops->sync(st, bpath) : 0; }

/* The whiteout: the kernel's character device 0/0 where the backend can
 * make one (Linux overlayfs reads xattr whiteouts only in lower layers),
 * else the xattr form; *@ctx says whether the xattr form was used. */
static int make_whiteout(bs_store *st, const char *bpath, void *ctx) {
  bool *xattr_form = ctx;
  *xattr_form = false;
  if (BS__HAS(st->ops, 4, whiteout)) {
    int rc = st->ops->whiteout(st, bpath);
    if (rc != BS_EUNSUPPORTED && rc != BS_EPERMISSION)
      return rc;
    bs_store_clear_error(st);
  }
  *xattr_form = true;
  int rc = st->ops->create(st, bpath, 0);
  if (rc == 0 && (rc = st->ops->setxattr(st, bpath, BS__OV_WHITEOUT, "", 0)) != 0)
    discard_failed(st, bpath);
  return rc;
}

/* Upper directory @udir holds a whiteout: mark it "x" (unless opaque). */
static int mark_xwhiteouts(bs_store *st, const char *udir) {
  char m = opaque_mark(st, udir);
  return m == 'y' || m == 'x' ? 0 : st->ops->setxattr(st, udir, BS__OV_OPAQUE, "x", 1);
}

/* ---- copy-up -------------------------------------------------------------------------- */

/* Copy every xattr of @src to @dst (the overlay's own marks too: a copied
 * directory keeps none, it never had any in the lower). */
static int copy_xattrs(bs_store *st, const char *src, const char *dst) {
  if (!st->ops->listxattr)
    return 0;
  names l = {0};
  int rc = st->ops->listxattr(st, src, add_xattr, &l);
  if (rc == BS_EUNSUPPORTED) {
    bs_store_clear_error(st);
    rc = 0;
  }
  uint8_t *buf = NULL;
  for (size_t i = 0; rc == 0 && i < l.n; i++) {
    size_t len = 0;
    if ((rc = st->ops->getxattr(st, src, l.v[i], NULL, 0, &len)) != 0)
      break;
    uint8_t *b = realloc(buf, len ? len : 1);
    if (!b) {
      rc = BS_ENO_MEMORY;
      break;
    }
    buf = b;
    if ((rc = st->ops->getxattr(st, src, l.v[i], buf, len, &len)) == 0)
      rc = st->ops->setxattr(st, dst, l.v[i], buf, len);
  }
  free(buf);
  names_free(&l);
  return rc;
}

/* Owner, times and xattrs of @si / @src onto @dst (the mode was given at creation). */
static int copy_meta(bs_store *st, const char *src, const bs_stat_info *si, const char *dst) {
  int rc = copy_xattrs(st, src, dst);
  if (rc == 0 && BS__HAS(st->ops, 2, chown)) {
    rc = st->ops->chown(st, dst, si->uid, si->gid);
    if (rc == BS_EPERMISSION) { /* an unprivileged caller keeps its own ids, as cp -p does */
      bs_store_clear_error(st);
      rc = 0;
    }
  }
  if (rc == 0 && si->kind != BS_KIND_DIR)
    rc = st->ops->chmod(st, dst, si->mode);
  if (rc == 0)
    rc = st->ops->utimens(st, dst, si->atime_ns, si->mtime_ns);
  return rc;
}

typedef struct mkdir_ctx {
  uint32_t mode;
} mkdir_ctx;

static int do_mkdir(bs_store *st, const char *bpath, void *ctx) {
  return st->ops->mkdir(st, bpath, ((mkdir_ctx *)ctx)->mode);
}

/* A symlink of the lower (@ctx, its backend path) made again at @bpath:
 * the same text; a symlink has no mode, and its times are not kept (as
 * overlayfs, which copies only the link's text up). */
static int copy_symlink(bs_store *st, const char *bpath, void *ctx) {
  if (!BS__HAS(st->ops, 3, readlink) || !BS__HAS(st->ops, 3, symlink))
    return bs__missing(st, "symlink");
  char text[BS_SYMLINK_TARGET_MAX + 1];
  size_t n = 0;
  int rc = bs__readlink_whole(st, (const char *)ctx, text, &n);
  return rc != 0 ? rc : st->ops->symlink(st, text, bpath);
}

/* The byte copy of @src (stat @si) to new file @dst. */
static int byte_copy(bs_store *st, const char *src, const bs_stat_info *si, const char *dst) {
  uint8_t *buf = malloc(COPY_CHUNK);
  if (!buf)
    return BS_ENO_MEMORY;
  int rc = 0;
  for (uint64_t off = 0; rc == 0 && off < si->size;) {
    size_t n = 0;
    if ((rc = st->ops->read(st, src, off, buf, COPY_CHUNK, &n)) != 0 || n == 0)
      break;
    rc = st->ops->write(st, dst, off, buf, n);
    off += n;
  }
  free(buf);
  return rc;
}

/* The bytes, then the mode, times and xattrs of @src (stat @si) into the
 * new, empty file @dst. */
static int fill_copy(bs_store *st, const char *src, const bs_stat_info *si, const char *dst) {
  int rc = byte_copy(st, src, si, dst);
  return rc != 0 ? rc : copy_meta(st, src, si, dst);
}

typedef struct file_ctx {
  const char *src;
  const bs_stat_info *si;
  bool reflinked;
  int refused; /* a policy refusal: its code is returned as is */
} file_ctx;

/* Make the copy of a lower file at work path @bpath: a reflink where the
 * filesystem shares blocks, else a byte copy the policy allows. */
static int copy_file(bs_store *st, const char *bpath, void *ctx) {
  file_ctx *f = ctx;
  int rc = st->ops->reflink ? st->ops->reflink(st, f->src, bpath) : BS_EUNSUPPORTED;
  if (rc == 0 || rc == BS_EEXISTS || rc == BS_ENO_SPACE) {
    f->reflinked = rc == 0;
    return rc;
  }
  bs_store_clear_error(st);
  bs__ov_policy pol = {0};
  if (bs__core_ov_policy(st))
    pol = *bs__core_ov_policy(st);
  if (pol.require_reflink)
    return f->refused = bs_store_fail(st, BS_EPERMISSION, EPERM,
                                      "copy-up refused (no_reflink): the file cannot be cloned here and "
                                      "require_reflink is true");
  if (pol.max_copy_bytes && f->si->size > pol.max_copy_bytes)
    return f->refused = bs_store_fail(st, BS_EPERMISSION, EPERM,
                                      "copy-up refused (size_threshold): %" PRIu64 " bytes to copy, "
                                      "max_copy_bytes is %" PRIu64,
                                      f->si->size, pol.max_copy_bytes);
  if ((rc = st->ops->create(st, bpath, 0600)) != 0)
    return rc;
  if ((rc = fill_copy(st, f->src, f->si, bpath)) != 0)
    discard_failed(st, bpath);
  return rc;
}

/* The deliberate defect BS_SIM_BUG_COPY_UP_ORDER (for the checkers only):
 * the copy of @src is made at its upper path @dst and filled there, then
 * its directory is synced as after a right copy-up, so only a crash in
 * between (a partial file in sight) tells. */
static int defective_copy(bs_store *st, const char *src, const bs_stat_info *si, const char *dst) {
  int rc = st->ops->create(st, dst, 0600);
  if (rc == 0)
    rc = fill_copy(st, src, si, dst);
  char *dir = rc == 0 ? strdup(dst) : NULL;
  if (rc == 0 && !dir)
    return BS_ENO_MEMORY;
  if (dir) {
    *strrchr(dir, '/') = '\0';
    rc = sync_dir(st, dir);
    free(dir);
  }
  return rc;
}

/* Copy the lower object at @rest (not in the upper; its parent is) up:
 * built in the work directory, made durable, renamed into place. */
static int copy_one(bs_store *st, const char *op, const char *path, const bs__place *p, const char *rest,
                    const res *r) {
  char *l = layer_of(p, r->from, rest), *u = upper_of(p, rest), *t = NULL;
  if (!l || !u) {
    free(l);
    free(u);
    return oom(st, op);
  }
  int rc = 0;
  if (r->ls.kind == BS_KIND_SYMLINK) {
    rc = make_in_work(st, op, p, copy_symlink, l, &t);
  } else if (r->ls.kind == BS_KIND_DIR) {
    mkdir_ctx m = {r->ls.mode};
    if ((rc = make_in_work(st, op, p, do_mkdir, &m, &t)) == 0)
      rc = copy_meta(st, l, &r->ls, t);
  } else if (bs__core_ov_policy(st) && bs__core_ov_policy(st)->bug_copy_up_order) {
    rc = defective_copy(st, l, &r->ls, u); /* a deliberate defect: in sight, then filled */
    goto out;
  } else {
    file_ctx f = {.src = l, .si = &r->ls};
    rc = make_in_work(st, op, p, copy_file, &f, &t);
    if (rc != 0 && f.refused) {
      char why[256];
      snprintf(why, sizeof(why), "%s", bs_last_message(st));
      rc = bs_store_fail(st, rc, EPERM, "%s: %s: %s", op, path, why);
      goto out;
    }
  }
  if (rc == 0 && r->ls.kind != BS_KIND_SYMLINK) /* a symlink's text is durable with its directory */
    rc = sync_dir(st, t);
  /* A file is linked into place, not renamed: if another process copied it
   * up meanwhile (the mutex is per store), its copy, and the writes made to
   * it since, stay; ours goes. */
  bool linked = false;
  if (rc == 0 && r->ls.kind == BS_KIND_FILE && st->ops->link) {
    rc = st->ops->link(st, t, u);
    linked = rc == 0 || rc == BS_EEXISTS;
    if (rc == BS_EUNSUPPORTED || rc == BS_EEXISTS) {
      bs_store_clear_error(st);
      rc = 0;
    }
  }
  if (rc == 0 && !linked) {
    rc = st->ops->rename(st, t, u);
    /* A directory another process copied up meanwhile, and put something
     * in (ENOTEMPTY): its copy stays, ours goes, as for a file. */
    bs_stat_info us;
    if (rc == BS_EEXISTS && r->ls.kind == BS_KIND_DIR && st->ops->stat(st, u, &us) == 0 &&
        us.kind == BS_KIND_DIR) {
      bs_store_clear_error(st);
      rc = 0;
      linked = true; /* the work name goes below */
    }
  }
  if (rc == 0) {
    const char *leaf;
    char *pr = parent_of(rest, &leaf);
    char *pu = pr ? upper_of(p, pr) : NULL;
    rc = pu ? sync_dir(st, pu) : BS_ENO_MEMORY;
    free(pr);
    free(pu);
    if (linked)
      discard(st, t); /* the work name, after the upper is durable: unreachable if this fails */
    work_release(t);
    t = NULL;
  }
  if (rc != 0 && rc != BS_ENO_MEMORY) {
    char why[256];
    snprintf(why, sizeof(why), "%s", bs_last_message(st));
    rc = bs_store_fail(st, rc, bs_last_os_errno(st), "%s: %s: copy-up: %s", op, path, why);
  } else if (rc == BS_ENO_MEMORY) {
    rc = oom(st, op);
  }
out:
  if (t)
    discard_failed(st, t);
  free(l);
  free(u);
  work_release(t);
  return rc;
}

/* Copy up every component of @rest that is only in the lower, parents first.
 * Under the store's copy-up mutex, so threads never copy one file twice. */
static int copy_up_rest(bs_store *st, const char *op, const char *path, const bs__place *p, const char *rest) {
  if (p->layers[0].kind != BS_TREE_BRANCH) /* a stacked snapshot: its layers are all read-only */
    return bs_store_fail(st, BS_EPERMISSION, EROFS, "%s: %s: read-only", op, path);
  bs__ov_policy pol = {0};
  pthread_mutex_t *mu = bs__core_ov_mutex(st);
  if (mu)
    pthread_mutex_lock(mu);
  if (bs__core_ov_policy(st))
    pol = *bs__core_ov_policy(st);
  char *buf = strdup(rest);
  int rc = buf ? 0 : oom(st, op);
  size_t len = buf ? strlen(buf) : 0;
  for (size_t i = 0; rc == 0 && i < len;) {
    size_t end = i + 1 + strcspn(buf + i + 1, "/");
    char save = buf[end];
    buf[end] = '\0';
    res r;
    if ((rc = resolve(st, op, path, p, buf, &r)) == 0 && !r.upper) {
      if (pol.disabled)
        rc = bs_store_fail(st, BS_EPERMISSION, EPERM,
                           "%s: %s: copy-up refused (policy): forwarding is disabled", op, path);
      else
        rc = copy_one(st, op, path, p, buf, &r);
    }
    buf[end] = save;
    i = end;
  }
  free(buf);
  if (mu)
    pthread_mutex_unlock(mu);
  return rc;
}

int bs__ov_copy_up(bs_store *st, const char *op, const char *path, const bs__place *p) {
  return copy_up_rest(st, op, path, p, p->rest);
}

/* ---- flattening --------------------------------------------------------------------- */

/* Deep enough for any store path (PATH_MAX); bounds the recursion. */
#define FLAT_MAX_DEPTH 2048


/* A file of the merged view (@src, stat @si) at new path @dst: a reflink
 * where the filesystem shares blocks, else a byte copy with its metadata.
 * Not a copy-up: the copy-up policy does not apply. */
static int flat_file(bs_store *st, const char *src, const bs_stat_info *si, const char *dst) {
  int rc = st->ops->reflink ? st->ops->reflink(st, src, dst) : BS_EUNSUPPORTED;
  if (rc == 0 || rc == BS_EEXISTS || rc == BS_ENO_SPACE)
    return rc;
  bs_store_clear_error(st);
  if ((rc = st->ops->create(st, dst, 0600)) == 0 && (rc = byte_copy(st, src, si, dst)) == 0)
    rc = copy_meta(st, src, si, dst);
  return rc;
}

/* Copy directory @rest of the merged view of @p into the existing
 * directory @dst, recursively; its own metadata last (from @src, @si). */
static int flat_dir(bs_store *st, const char *op, const bs__place *p, const char *rest, const char *src,
                    const bs_stat_info *si, const char *dst, int depth) {
  if (depth > FLAT_MAX_DEPTH)
    return bs_store_fail(st, BS_EINVALID, ELOOP, "%s: the merged view is deeper than %d", op, FLAT_MAX_DEPTH);
  names vis = {0}, wh = {0};
  int rc = merged(st, op, "the merged view", p, rest, &vis, &wh);
  for (size_t i = 0; rc == 0 && i < vis.n; i++) {
    char *cr = child_of(rest, vis.v[i]), *cd = child_of(dst, vis.v[i]);
    res r;
    rc = cr && cd ? resolve(st, op, "the merged view", p, cr, &r) : oom(st, op);
    char *cs = rc == 0 ? layer_of(p, r.upper ? 0 : r.from, cr) : NULL;
    if (rc == 0 && !cs)
      rc = oom(st, op);
    const bs_stat_info *csi = r.upper ? &r.us : &r.ls;
    if (rc == 0 && csi->kind == BS_KIND_DIR) {
      if ((rc = st->ops->mkdir(st, cd, 0700)) == 0)
        rc = flat_dir(st, op, p, cr, cs, csi, cd, depth + 1);
    } else if (rc == 0 && csi->kind == BS_KIND_SYMLINK) {
      rc = copy_symlink(st, cd, cs);
    } else if (rc == 0) {
      rc = flat_file(st, cs, csi, cd);
    }
    free(cr);
    free(cd);
    free(cs);
  }
  names_free(&vis);
  names_free(&wh);
  if (rc == 0 && (rc = copy_meta(st, src, si, dst)) == 0 && si->kind == BS_KIND_DIR)
    rc = st->ops->chmod(st, dst, si->mode);
  return rc;
}

int bs__ov_copy_view(bs_store *st, const char *op, const bs__place *p, const char *dst) {
  res r;
  int rc = resolve(st, op, "the merged view", p, "", &r);
  if (rc != 0)
    return rc;
  char *root = layer_of(p, r.upper ? 0 : r.from, "");
  if (!root)
    return oom(st, op);
  rc = flat_dir(st, op, p, "", root, r.upper ? &r.us : &r.ls, dst, 0);
  free(root);
  return rc;
}

int bs__ov_flatten(bs_store *st, const char *op, const bs__place *p, char **out) {
  mkdir_ctx m = {0700};
  int rc = make_in_work(st, op, p, do_mkdir, &m, out);
  if (rc == 0 && (rc = bs__ov_copy_view(st, op, p, *out)) != 0) {
    discard_failed(st, *out);
    work_release(*out);
    *out = NULL;
  }
  return rc;
}

void bs__ov_flatten_done(bs_store *st, char *bpath) {
  discard(st, bpath);
  work_release(bpath);
}

/* ---- new names, removal, rename ------------------------------------------------------- */

/* The parent of @rest must show as a directory; it is copied up. */
static int parent_ready(bs_store *st, const char *op, const char *path, const bs__place *p, const char *rest) {
  const char *leaf;
  char *pr = parent_of(rest, &leaf);
  if (!pr)
    return oom(st, op);
  res r;
  int rc = resolve(st, op, path, p, pr, &r);
  if (rc == 0 && shown_kind(&r) != BS_KIND_DIR)
    rc = bs_store_fail(st, BS_EINVALID, ENOTDIR, "%s: %s: a component is not a directory", op, path);
  if (rc == 0)
    rc = copy_up_rest(st, op, path, p, pr);
  free(pr);
  return rc;
}

typedef struct new_ctx {
  bs__ov_make_fn make;
  void *ctx;
  bool dir;
} new_ctx;

/* A new directory over a whiteout hides the lower one: opaque. */
static int make_opaque(bs_store *st, const char *bpath, void *ctx) {
  new_ctx *n = ctx;
  int rc = n->make(st, bpath, n->ctx);
  if (rc == 0 && n->dir && (rc = st->ops->setxattr(st, bpath, BS__OV_OPAQUE, "y", 1)) != 0)
    discard_failed(st, bpath);
  return rc;
}

int bs__ov_new(bs_store *st, const char *op, const char *path, const bs__place *p, bool dir, bs__ov_make_fn make,
               void *ctx) {
  int rc = parent_ready(st, op, path, p, p->rest);
  if (rc != 0)
    return rc;
  res r;
  rc = resolve(st, op, path, p, p->rest, &r);
  if (rc == 0)
    return bs_store_fail(st, BS_EEXISTS, EEXIST, "%s: %s: exists", op, path);
  if (rc != BS_ENOT_FOUND)
    return rc;
  bs_store_clear_error(st);
  if (!r.whiteout)
    return make(st, p->bpath, ctx);
  /* Over a whiteout: built in the work directory, then put in its place. */
  new_ctx n = {make, ctx, dir};
  char *t = NULL;
  if ((rc = make_in_work(st, op, p, make_opaque, &n, &t)) != 0)
    return rc;
  /* A rename cannot put a directory over a file: the whiteout is moved
   * aside first, and back if the directory cannot take its place. */
  char *aside = dir ? work_tmp(p) : NULL;
  if (dir && !aside)
    rc = oom(st, op);
  if (rc == 0 && dir)
    rc = st->ops->rename(st, p->bpath, aside);
  if (rc == 0 && (rc = st->ops->rename(st, t, p->bpath)) != 0 && dir)
    st->ops->rename(st, aside, p->bpath);
  if (rc == 0 && dir)
    discard(st, aside);
  if (rc != 0)
    discard_failed(st, t);
  work_release(aside);
  work_release(t);
  return rc;
}

/* Put a whiteout at upper path @u (replacing what is there). */
static int whiteout_at(bs_store *st, const char *op, const bs__place *p, const char *rest, const char *u) {
  const char *leaf;
  char *pr = parent_of(rest, &leaf);
  char *pu = pr ? upper_of(p, pr) : NULL;
  char *t = NULL;
  bool xattr_form = false;
  int rc = pu ? 0 : oom(st, op);
  if (rc == 0)
    rc = make_in_work(st, op, p, make_whiteout, &xattr_form, &t);
  if (rc == 0 && xattr_form && (rc = mark_xwhiteouts(st, pu)) != 0)
    discard_failed(st, t);
  if (rc == 0 && (rc = st->ops->rename(st, t, u)) != 0)
    discard_failed(st, t);
  if (rc == 0)
    rc = sync_dir(st, pu);
  work_release(t);
  free(pr);
  free(pu);
  return rc;
}

/* Remove the whiteouts an upper directory holds (its merged listing is empty). */
static int clear_whiteouts(bs_store *st, const char *u, const names *wh) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < wh->n; i++) {
    char *e = join(u, "/"), *f = e ? join(e, wh->v[i]) : NULL;
    rc = f ? st->ops->unlink(st, f) : BS_ENO_MEMORY;
    free(e);
    free(f);
  }
  return rc;
}

static int ov_remove(bs_store *st, const char *op, const char *path, const bs__place *p, bool dir);

/* @s without its trailing slashes ("/" stays), malloc'ed. */
static char *no_slash(const char *s) {
  size_t n = strlen(s);
  while (n > 1 && s[n - 1] == '/')
    n--;
  return strndup(s, n);
}

int bs__ov_remove(bs_store *st, const char *op, const char *path, const bs__place *p, bool dir) {
  size_t n = strlen(p->rest);
  if (!dir || n < 2 || p->rest[n - 1] != '/')
    return ov_remove(st, op, path, p, dir);
  /* rmdir "d/" names d: its whiteout goes at d, its parent is d's. */
  bs__place q = *p;
  q.rest = no_slash(p->rest);
  q.bpath = no_slash(p->bpath);
  int rc = q.rest && q.bpath ? ov_remove(st, op, path, &q, dir) : oom(st, op);
  free(q.rest);
  free(q.bpath);
  return rc;
}

static int ov_remove(bs_store *st, const char *op, const char *path, const bs__place *p, bool dir) {
  res r;
  int rc = resolve(st, op, path, p, p->rest, &r);
  if (rc != 0)
    return rc;
  bs_file_kind k = shown_kind(&r);
  if (!dir && k == BS_KIND_DIR)
    return bs_store_fail(st, BS_EINVALID, EISDIR, "%s: %s: a directory", op, path);
  if (dir && k != BS_KIND_DIR)
    return bs_store_fail(st, BS_EINVALID, ENOTDIR, "%s: %s: not a directory", op, path);
  if ((rc = parent_ready(st, op, path, p, p->rest)) != 0)
    return rc;
  names vis = {0}, wh = {0};
  if (dir && (rc = merged(st, op, path, p, p->rest, &vis, &wh)) == 0 && vis.n)
    rc = bs_store_fail(st, BS_EEXISTS, ENOTEMPTY, "%s: %s: directory not empty", op, path);
  if (rc == 0 && r.upper && dir)
    rc = clear_whiteouts(st, p->bpath, &wh);
  names_free(&vis);
  names_free(&wh);
  if (rc != 0)
    return rc;
  if (!r.lower_any) /* only in the upper */
    return dir ? st->ops->rmdir(st, p->bpath) : st->ops->unlink(st, p->bpath);
  if (r.upper && dir) {
    /* A directory cannot be renamed over: moved aside first. */
    char *t = work_tmp(p);
    if (!t)
      return oom(st, op);
    if ((rc = st->ops->rename(st, p->bpath, t)) == 0) {
      rc = whiteout_at(st, op, p, p->rest, p->bpath);
      if (rc == 0)
        discard(st, t);
      else
        st->ops->rename(st, t, p->bpath); /* back as it was */
    }
    work_release(t);
    return rc;
  }
  return whiteout_at(st, op, p, p->rest, p->bpath);
}

int bs__ov_rename(bs_store *st, const char *from, const bs__place *f, const char *to, const bs__place *t) {
  const char *op = "rename";
  res rf, rt;
  int rc = resolve(st, op, from, f, f->rest, &rf);
  if (rc != 0)
    return rc;
  if (shown_kind(&rf) == BS_KIND_DIR && rf.lower)
    return bs_store_fail(st, BS_ECROSS_DEVICE, EXDEV,
                         "rename: %s: a directory of the lower layer cannot be renamed (overlayfs without "
                         "redirect_dir answers EXDEV too)",
                         from);
  if ((rc = parent_ready(st, op, to, t, t->rest)) != 0)
    return rc;
  int trc = resolve(st, op, to, t, t->rest, &rt);
  if (trc != 0 && trc != BS_ENOT_FOUND)
    return trc;
  bs_store_clear_error(st);
  if (trc == 0 && shown_kind(&rt) == BS_KIND_DIR && rt.lower)
    return bs_store_fail(st, BS_ECROSS_DEVICE, EXDEV,
                         "rename: %s: a directory of the lower layer cannot be replaced", to);
  if ((rc = copy_up_rest(st, op, from, f, f->rest)) != 0)
    return rc;
  if ((rc = st->ops->rename(st, f->bpath, t->bpath)) != 0)
    return rc;
  if (rf.lower_any) /* the lower entry would show again at the old name */
    rc = whiteout_at(st, op, f, f->rest, f->bpath);
  return rc;
}
