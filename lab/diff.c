/* Differential runs (lab/diff.h): one seed's stream against a
 * sim profile and a fresh directory on a real volume, compared after every
 * operation.  docs/diff.md. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backstore/sim.h"
#include "lab/diff_internal.h"

/* Operations between two sweeps of the whole tree. */
#define DF_SWEEP_EVERY 32u

static bool known_profile(const char *p) {
  for (int i = 0; p && i < BS_SIM_PROFILE_COUNT; i++)
    if (strcmp(bs_sim_profile_names[i], p) == 0)
      return true;
  return false;
}

int bs_diff_check_root(char *why, size_t cap, const char *profile, const char *root) {
  if (!known_profile(profile)) {
    snprintf(why, cap, "unknown profile '%s'", profile ? profile : "(null)");
    return BS_EINVALID;
  }
  if (!root) {
    snprintf(why, cap, "no root directory given");
    return BS_EINVALID;
  }
  bs_store *st = NULL;
  int rc = bs_open(&st, "real", &(bs_open_opts){.root = root});
  if (rc != 0) {
    snprintf(why, cap, "%s: cannot open a real store there: %s (%s)", root, bs_strerror(rc),
             bs_err_name(rc));
    return rc;
  }
  bs_fs_type t = BS_FS_OTHER;
  rc = bs_probe_fs_type(st, root, &t);
  if (rc != 0)
    snprintf(why, cap, "%s: %s", root, bs_last_message(st));
  else if (bs_fs_type_from_name(profile) != t) {
    snprintf(why, cap, "%s is on %s, not %s: a differential run needs a volume of the profile's "
             "filesystem", root, bs_fs_type_name(t), profile);
    rc = BS_EINVALID;
  }
  bs_close(st);
  return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
  return rc == 0 || errno == ENOENT ? 0 : -1;
}

/* Remove @dir and everything below it (no symlink is followed). */
static int remove_tree(const char *dir) {
  if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT)
    return 0;
  return bs_err_from_errno(errno);
}

/* The per-seed directory: fresh, 0755 like the sim's root, whatever the
 * umask.  With @trees, made as a store that can snapshot (a subvolume on
 * btrfs: bs_store_create). */
static int make_seed_dir(char *dir, size_t cap, const char *root, uint64_t seed, bool trees) {
  snprintf(dir, cap, "%s/bs-diff-%ld-%" PRIu64, root, (long)getpid(), seed);
  int rc = remove_tree(dir); /* left by an earlier process with this pid */
  if (rc == 0 && trees)
    rc = bs_store_create("real", &(bs_open_opts){.root = dir});
  else if (rc == 0 && mkdir(dir, 0700) != 0)
    rc = bs_err_from_errno(errno);
  if (rc == 0 && chmod(dir, 0755) != 0)
    rc = bs_err_from_errno(errno);
  return rc;
}

/* The parent directory of store path @p ("/" for a top-level name). */
static void parent_of(char *out, size_t cap, const char *p) {
  snprintf(out, cap, "%s", p);
  char *s = strrchr(out, '/');
  if (s == out || !s)
    snprintf(out, cap, "/");
  else
    *s = '\0';
}

/* Mask: on btrfs an xattr item must fit in one B-tree leaf beside its
 * neighbours, so a value whose name + value is between about 15 700 and
 * 16 228 bytes (BTRFS_MAX_XATTR_SIZE for 16 KiB nodes) fits or not
 * depending on the leaf's other items.  The sim allows up to 16 228 bytes;
 * where the kernel refused below that, the sim is brought to the kernel's
 * state and the difference counted as masked.  docs/diff.md, "Masks". */
static bool mask_btrfs_leaf(const bs__dmask *m, const bs__dop *op, const bs__dout *s,
                            const bs__dout *r, bs_store *sim, bs_store *real, uint8_t *scratch) {
  if (m->fs != BS_FS_BTRFS || op->kind != DF_SETXATTR || s->rc != BS_OK || r->rc != BS_ENO_SPACE ||
      strlen(op->xname) + op->len <= 15000 || strlen(op->xname) + op->len > 16228)
    return false;
  size_t n = 0;
  int rc = bs_getxattr(real, op->path, op->xname, scratch, DF_SCRATCH, &n);
  if (rc == BS_OK)
    bs_setxattr(sim, op->path, op->xname, scratch, n);
  else
    bs_removexattr(sim, op->path, op->xname);
  return true;
}

/* Linux refuses user.* xattrs on a symlink (EPERM from xattr_permission(),
 * before the name is looked at); the sim keeps xattrs on symlinks like on
 * any inode.  Where the kernel said PERMISSION for a set or remove on a
 * symlink, the sim is brought to the kernel's state (no xattr there) and the
 * difference counted as masked.  docs/diff.md, "Links". */
static bool mask_symlink_xattr(const bs__dop *op, const bs__dout *s, const bs__dout *r, bs_store *sim,
                               bs_store *real) {
  bs_stat_info si;
  if ((op->kind != DF_SETXATTR && op->kind != DF_REMOVEXATTR) || r->rc != BS_EPERMISSION ||
      bs_stat(real, op->path, &si) != 0 || si.kind != BS_KIND_SYMLINK)
    return false;
  if (op->kind == DF_SETXATTR && s->rc == BS_OK)
    bs_removexattr(sim, op->path, op->xname);
  return true;
}

/* Two errors at once in the links and overlay mixes: an invalid xattr name
 * on a path that does not resolve (a dangling symlink followed by a
 * trailing slash; a path below a missing directory).  The sim checks the
 * name first (INVALID), the real store resolves the path first
 * (NOT_FOUND); nothing changed on either side.  docs/diff.md, "Links". */
static bool mask_xattr_order(const bs__dgen *g, const bs__dop *op, const bs__dout *s, const bs__dout *r,
                             bs_store *real) {
  bs_stat_info si;
  return (g->links || g->overlay) && op->kind >= DF_SETXATTR && op->kind <= DF_LISTXATTR && s->rc == BS_EINVALID &&
         r->rc == BS_ENOT_FOUND && bs_stat(real, op->path, &si) == BS_ENOT_FOUND;
}

/* Whether the real volume holding @root is out of inodes, or nearly out of
 * space for an operation that needs @need bytes: then a NO_SPACE there is
 * the volume's size, which the sim's model does not have, not a divergence.
 * "Nearly": less free than @need plus 1 MiB or 1/32 of the volume, whichever
 * is more (a filesystem's own metadata needs room too).  @why names what
 * ran out. */
static bool volume_full(const char *root, uint64_t need, char *why, size_t cap) {
  struct statvfs v;
  if (statvfs(root, &v) != 0)
    return false;
  if (v.f_files > 0 && (v.f_ffree == 0 || v.f_favail == 0)) {
    snprintf(why, cap, "out of inodes: %.300s has %llu, none free", root, (unsigned long long)v.f_files);
    return true;
  }
  uint64_t unit = v.f_frsize ? v.f_frsize : v.f_bsize;
  uint64_t total = (uint64_t)v.f_blocks * unit, avail = (uint64_t)v.f_bavail * unit;
  uint64_t slack = total / 32 > (1u << 20) ? total / 32 : (1u << 20);
  if (avail >= need + slack)
    return false;
  snprintf(why, cap, "out of space: %.300s has %llu of %llu KiB free", root,
           (unsigned long long)(avail >> 10), (unsigned long long)(total >> 10));
  return true;
}

typedef struct seed_run {
  const bs_diff_opts *o;
  bs_diff_result *res;
  bs_store *sim, *real;
  bs__dmask mask;
  uint8_t *scratch;
  bs__dgen gen;
} seed_run;

static void divergence_op(seed_run *r, uint32_t i, const char *text) {
  r->res->diverged = true;
  r->res->div.seed = r->res->seed;
  r->res->div.op_index = i;
  snprintf(r->res->div.op, sizeof(r->res->div.op), "%s", text);
}

/* The state of every path @op touched, and of their directories. */
static bool touched_same(seed_run *r, const bs__dop *op, bool times) {
  const char *paths[2] = {op->path, op->path2};
  for (int k = 0; k < 2; k++) {
    if (!paths[k][0])
      continue;
    char parent[DF_PATH];
    parent_of(parent, sizeof(parent), paths[k]);
    if (!bs__dstate_same(r->sim, r->real, &r->mask, paths[k], times && k == 0, r->scratch,
                         &r->res->div, &r->res->masked) ||
        !bs__dstate_same(r->sim, r->real, &r->mask, parent, false, r->scratch, &r->res->div,
                         &r->res->masked))
      return false;
  }
  return true;
}

static void trace_line(seed_run *r, uint32_t i, const char *text, const bs__dout *s,
                       const bs__dout *x) {
  if (!r->o->trace)
    return;
  fprintf(r->o->trace, "%" PRIu32 " %s => sim %s%s%s real %s%s%s\n", i, text, bs_err_name(s->rc),
          s->text[0] ? " " : "", s->text, bs_err_name(x->rc), x->text[0] ? " " : "", x->text);
}

/* The real side failed with NO_SPACE where the sim did not, on a full
 * volume: say so in the result, and end the seed with BS_ENO_SPACE. */
static int real_volume_full(seed_run *r, uint32_t i, const char *text, const bs__dop *op,
                            const bs__dout *s) {
  bs_diff_divergence *d = &r->res->div;
  uint64_t need = op->kind == DF_WRITE || op->kind == DF_SETXATTR ? op->len : 0;
  if (!volume_full(r->o->root, need, d->real, sizeof(d->real)))
    return 0;
  d->seed = r->res->seed;
  d->op_index = i;
  snprintf(d->op, sizeof(d->op), "%s", text);
  snprintf(d->what, sizeof(d->what), "volume full");
  snprintf(d->sim, sizeof(d->sim), "%.20s%s%.300s", bs_err_name(s->rc), s->text[0] ? " " : "", s->text);
  return BS_ENO_SPACE;
}

/* 0, or BS_ENO_SPACE when the real volume filled up (not a divergence). */
static int run_ops(seed_run *r) {
  uint32_t ops = r->o->ops ? r->o->ops : BS_DIFF_DEFAULT_OPS;
  char text[640];
  for (uint32_t i = 0; i < ops; i++) {
    bs__dop op;
    bs__dgen_draw(&r->gen, &op);
    bs__dop_format(text, sizeof(text), &op);
    bs__dout s, x;
    bs__dop_run(r->sim, &op, r->scratch, &s);
    bs__dop_run(r->real, &op, r->scratch, &x);
    r->res->ops_run = i + 1;
    trace_line(r, i, text, &s, &x);
    if (r->o->progress && (i + 1) % 50 == 0)
      r->o->progress(r->o->ctx, r->res->seed, i + 1);
    if (s.rc != x.rc || strcmp(s.text, x.text) != 0) {
      if (mask_btrfs_leaf(&r->mask, &op, &s, &x, r->sim, r->real, r->scratch) ||
          mask_symlink_xattr(&op, &s, &x, r->sim, r->real) ||
          mask_xattr_order(&r->gen, &op, &s, &x, r->real)) {
        r->res->masked++;
      } else if (x.rc == BS_ENO_SPACE && s.rc != BS_ENO_SPACE &&
                 real_volume_full(r, i, text, &op, &s) != 0) {
        return BS_ENO_SPACE;
      } else {
        divergence_op(r, i, text);
        bs_diff_divergence *d = &r->res->div;
        snprintf(d->what, sizeof(d->what), "result");
        d->subject[0] = '\0';
        snprintf(d->sim, sizeof(d->sim), "%.20s%s%.300s", bs_err_name(s.rc), s.text[0] ? " " : "", s.text);
        snprintf(d->real, sizeof(d->real), "%.20s%s%.300s", bs_err_name(x.rc),
                 x.text[0] ? " " : "", x.text);
        return 0;
      }
    } else if (s.rc == BS_OK) {
      bs__dgen_learn(&r->gen, &op);
    } else {
      r->res->errors_agreed++;
    }
    bool ok = touched_same(r, &op, op.kind == DF_UTIMENS && s.rc == BS_OK);
    if (ok && ((i + 1) % DF_SWEEP_EVERY == 0 || i + 1 == ops))
      ok = bs__dstate_sweep(r->sim, r->real, &r->mask, r->scratch, &r->res->div, &r->res->masked);
    if (!ok) {
      divergence_op(r, i, text);
      return 0;
    }
  }
  return 0;
}

/* Delete the overlay mix's branch and the snapshots of real store @st: a
 * snapshot's files may be immutable (xfs, ext4, tmpfs), and on btrfs they
 * are subvolumes, so only the store removes them.  0 or the first error. */
static int drop_trees(bs_store *st) {
  int rc = bs_branch_delete(st, "b");
  if (rc == BS_ENOT_FOUND)
    rc = 0;
  bs_snapshot_info *all = NULL;
  size_t n = 0;
  if (rc == 0)
    rc = bs_snapshot_list(st, &all, &n);
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = bs_snapshot_delete(st, all[i].id);
  free(all);
  return rc;
}

int bs_diff_run_seed(bs_diff_result *out, const bs_diff_opts *o, uint64_t seed) {
  memset(out, 0, sizeof(*out));
  out->seed = seed;
  if (!o || !known_profile(o->profile) || !o->root) {
    snprintf(out->div.real, sizeof(out->div.real), "bad options: a known profile and a root are needed");
    return BS_EINVALID;
  }
  seed_run r = {.o = o, .res = out, .mask = {.fs = bs_fs_type_from_name(o->profile), .trees = o->overlay}};
  char dir[4096];
  int rc = make_seed_dir(dir, sizeof(dir), o->root, seed, o->overlay);
  if (rc == BS_ENO_SPACE && volume_full(o->root, 0, out->div.real, sizeof(out->div.real))) {
    snprintf(out->div.what, sizeof(out->div.what), "volume full");
    out->div.seed = seed;
    snprintf(out->div.op, sizeof(out->div.op), "(making the seed's directory %.300s)", dir);
    remove_tree(dir);
    return rc;
  }
  if (rc != 0) {
    snprintf(out->div.real, sizeof(out->div.real), "cannot make %.300s: %s", dir, bs_strerror(rc));
    return rc;
  }
  r.scratch = malloc(DF_SCRATCH);
  if (!r.scratch)
    rc = BS_ENO_MEMORY;
  if (rc == 0 && (rc = bs_open(&r.sim, "sim", &(bs_open_opts){.profile = o->profile, .seed = seed})) != 0)
    snprintf(out->div.real, sizeof(out->div.real), "cannot open the sim: %s", bs_strerror(rc));
  /* The overlay mix snapshots: by copy where the filesystem cannot clone. */
  bs_open_opts ro = {.root = dir, .flags = o->overlay ? BS_OPEN_SNAPSHOT_COPY : 0};
  if (rc == 0 && (rc = bs_open(&r.real, "real", &ro)) != 0)
    snprintf(out->div.real, sizeof(out->div.real), "cannot open a real store on %.300s: %s", dir,
             bs_strerror(rc));
  if (rc == 0) {
    bs_caps c;
    bs__dgen_init(&r.gen, seed, bs_get_caps(r.sim, &c) == 0 ? c.max_name_len : 255);
    r.gen.links = o->links;
    r.gen.overlay = o->overlay;
    if (o->overlay) /* the real store makes trees on every filesystem */
      rc = bs_sim_set_trees(r.sim, true);
    if (rc == 0)
      rc = run_ops(&r);
  }
  bs_close(r.sim);
  int rm = r.real && o->overlay ? drop_trees(r.real) : 0;
  bs_close(r.real);
  free(r.scratch);
  if (rm == 0)
    rm = remove_tree(dir);
  if (rc == 0 && rm != 0) {
    snprintf(out->div.real, sizeof(out->div.real), "cannot remove %.300s: %s", dir, bs_strerror(rm));
    rc = rm;
  }
  return rc;
}
