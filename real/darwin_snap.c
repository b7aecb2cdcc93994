/* Snapshots and branches of a darwin store (bs_host_os snapshot members;
 * docs/darwin.md "Snapshots").
 *
 * Native (APFS).  An APFS snapshot is of a whole volume, so a native
 * snapshot needs the store root to be the root of its volume (statfs's
 * f_mntonname): then the volume is exactly the store.  snap_create(src,
 * dst) makes `dst` a directory, writes a record <src>/.bs/apfs/<snapshot>
 * holding `dst`, calls fs_snapshot_create(src, "com.backstore.<32 hex>"),
 * mounts the snapshot read-only on `dst` with fs_snapshot_mount, and asks
 * `diskutil apfs listSnapshots` for the snapshot's UUID.  The tree at `dst`
 * is the volume as it was, read-only by the kernel; its top-level ".bs" (the
 * reserved directory as it was) is hidden by host.c, which hides ".bs" at
 * the root of every tree.  Any failure undoes the steps before it.
 *
 * The record is written first, so a crash leaves a record (and maybe a
 * directory and a snapshot) that host.c's reconcile hands to tree_delete,
 * which finds the snapshot by the record: no volume snapshot is leaked
 * unnamed.  Mounts do not survive a restart: reserve(), which host.c calls
 * before every change, mounts again every recorded snapshot whose directory
 * is not a mount point.
 *
 * tree_delete of a recorded tree unmounts it, deletes the snapshot with
 * fs_snapshot_delete (falling back to `diskutil apfs deleteSnapshot -uuid`
 * when that is EPERM: diskutil carries the entitlement a plain process
 * lacks), then removes the record and the directory.  Any other tree
 * (branches, REFLINK and COPY snapshots) is removed file by file.
 *
 * Branches, and snapshots by BS_TREE_REFLINK or BS_TREE_COPY, are trees
 * made by darwin_tree.c.  HFS+ has neither snapshots nor clones, so host.c
 * offers it COPY only when asked for.
 *
 * EPERM from fs_snapshot_* (no root, or no com.apple.developer.vfs.snapshot
 * entitlement) comes back as -EPERM (host.c: PERMISSION) with last_detail
 * saying so; a failing diskutil is -ECHILD (TOOL_FAILED) and garbled output
 * -EBADMSG (PARSE), each with the parser's message as the detail. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "real/darwin_os.h"
#include "real/sys.h"

static bs__darwin_os *D(void *ctx) { return (bs__darwin_os *)ctx; }

int bs__darwin_fail(bs__darwin_os *d, int neg_errno, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
  va_end(ap);
  return neg_errno;
}

bool bs__darwin_sys_has_snapshots(const bs_darwin_sys *s) {
  return s->mount_info && s->fs_snapshot_create && s->fs_snapshot_delete && s->fs_snapshot_list &&
         s->fs_snapshot_mount && s->unmount && s->run_tool && s->random;
}

static const char ENTITLEMENT[] =
    "APFS snapshots need root and the com.apple.developer.vfs.snapshot entitlement";

/* ---- diskutil ------------------------------------------------------------------ */

/* -errno for a BS_E* code of the tool path. */
static int to_errno(int rc) {
  switch (rc) {
  case 0:
    return 0;
  case BS_ETOOL_FAILED:
    return -ECHILD;
  case BS_EPARSE:
    return -EBADMSG;
  case BS_EUNSUPPORTED:
    return -EOPNOTSUPP;
  default:
    return -bs_err_to_errno(rc);
  }
}

/* Run diskutil with @argv; the fault point makes it fail as diskutil would. */
static int run_diskutil(const bs_darwin_sys *sys, const char *const argv[], bs__tool_result *r,
                        char *msg, size_t cap) {
  memset(r, 0, sizeof(*r));
  if (bs__sys_fault("bs/real/exec/diskutil")) {
    r->status = 1; /* "diskutil exited with status 1", and nothing printed */
    return 0;
  }
  int e = sys->run_tool(sys->ctx, argv, r);
  if (e != 0) { /* a tool that cannot be started failed too (not found, not executable) */
    bs__tool_result_free(r);
    snprintf(msg, cap, "cannot run %s: %s", argv[0], strerror(-e));
    return e == -ENOMEM ? BS_ENO_MEMORY : BS_ETOOL_FAILED;
  }
  return 0;
}

static int list_snapshots(const bs_darwin_sys *sys, const char *vol, bs__apfs_snap **out,
                          size_t *count, char *msg, size_t cap) {
  *out = NULL;
  *count = 0;
  bool plist = bs__diskutil_have_plist();
  const char *argv[] = {BS_DARWIN_DISKUTIL, "apfs", "listSnapshots", vol, plist ? "-plist" : NULL, NULL};
  bs__tool_result r;
  int rc = run_diskutil(sys, argv, &r, msg, cap);
  if (rc != 0)
    return rc;
  rc = plist ? bs__diskutil_snapshots_plist(&r, out, count, msg, cap)
             : bs__diskutil_snapshots_text(&r, out, count, msg, cap);
  bs__tool_result_free(&r);
  return rc;
}

int bs__darwin_list_snapshots(const bs_host_os *os, const char *vol, bs__apfs_snap **out,
                              size_t *count, char *msg, size_t cap) {
  *out = NULL;
  *count = 0;
  const bs_darwin_sys *sys = bs__darwin_sys(os);
  if (!sys || !sys->run_tool) {
    snprintf(msg, cap, "not a darwin table with a tool runner");
    return BS_EINVALID;
  }
  return list_snapshots(sys, vol, out, count, msg, cap);
}

/* The UUID of snapshot @name of @vol, from diskutil. */
static int snapshot_uuid(bs__darwin_os *d, const char *vol, const char *name, uint8_t uuid[16]) {
  bs__apfs_snap *s = NULL;
  size_t n = 0;
  int rc = list_snapshots(&d->sys, vol, &s, &n, d->detail, sizeof(d->detail));
  if (rc != 0)
    return to_errno(rc);
  size_t i = 0;
  while (i < n && strcmp(s[i].name, name) != 0)
    i++;
  if (i < n)
    memcpy(uuid, s[i].uuid, 16);
  free(s);
  if (i == n)
    return bs__darwin_fail(d, -EBADMSG, "diskutil apfs listSnapshots %s does not list %s", vol, name);
  return 0;
}

/* `diskutil apfs deleteSnapshot <vol> -uuid <uuid>` of snapshot @name. */
static int diskutil_delete(bs__darwin_os *d, const char *vol, const char *name) {
  uint8_t u[16];
  int e = snapshot_uuid(d, vol, name, u);
  if (e != 0)
    return e;
  char us[37];
  bs__uuid_format(u, us);
  const char *argv[] = {BS_DARWIN_DISKUTIL, "apfs", "deleteSnapshot", vol, "-uuid", us, NULL};
  bs__tool_result r;
  int rc = run_diskutil(&d->sys, argv, &r, d->detail, sizeof(d->detail));
  if (rc == 0)
    rc = bs__diskutil_delete(&r, d->detail, sizeof(d->detail));
  bs__tool_result_free(&r);
  return to_errno(rc);
}

/* ---- records: <vol>/.bs/apfs/<snapshot> holds the directory it is mounted on -- */

static char *rec_dir(const char *vol) { return bs__darwin_join(vol, ".bs/apfs"); }

static int rec_write(bs__darwin_os *d, const char *vol, const char *name, const char *dst) {
  const bs_host_os *f = &d->files;
  char *dir = rec_dir(vol), *p = dir ? bs__darwin_join(dir, name) : NULL;
  int rc = p ? f->mkdir(f->ctx, BS__HOST_PATH(dir), 0700) : -ENOMEM;
  if (rc == -EEXIST)
    rc = 0;
  if (rc == 0)
    rc = f->create(f->ctx, BS__HOST_PATH(p), 0600);
  if (rc == 0) {
    rc = f->pwrite(f->ctx, BS__HOST_PATH(p), 0, dst, strlen(dst));
    if (rc == 0)
      rc = f->sync(f->ctx, BS__HOST_PATH(p));
    if (rc != 0)
      (void)f->unlink(f->ctx, BS__HOST_PATH(p));
  }
  free(p);
  free(dir);
  return rc;
}

/* The directory record @p names, malloc'd in *@out. */
static int rec_read(const bs__darwin_os *d, const char *p, char **out) {
  const bs_host_os *f = &d->files;
  bs_stat_info si;
  int rc = f->stat(f->ctx, BS__HOST_PATH(p), &si);
  if (rc == 0 && (si.kind != BS_KIND_FILE || si.size == 0 || si.size > 4096))
    rc = -EBADMSG;
  char *s = rc == 0 ? malloc(si.size + 1) : NULL;
  if (rc == 0 && !s)
    rc = -ENOMEM;
  size_t n = 0;
  if (rc == 0)
    rc = f->pread(f->ctx, BS__HOST_PATH(p), 0, s, si.size, &n);
  if (rc == 0 && (n != si.size || memchr(s, '\0', n)))
    rc = -EBADMSG;
  if (rc != 0) {
    free(s);
    return rc;
  }
  s[n] = '\0';
  *out = s;
  return 0;
}

typedef int (*rec_fn)(bs__darwin_os *d, const char *vol, const char *name, const char *dir, void *ctx);

/* Call @fn for every record of @vol (none when there is no record directory). */
static int rec_each(bs__darwin_os *d, const char *vol, rec_fn fn, void *ctx) {
  char *dir = rec_dir(vol);
  if (!dir)
    return -ENOMEM;
  bs__names names;
  int rc = bs__darwin_list_dir(d, dir, &names);
  if (rc == -ENOENT)
    rc = 0;
  for (size_t i = 0; rc == 0 && i < names.n; i++) {
    char *p = bs__darwin_join(dir, names.v[i]), *target = NULL;
    rc = p ? rec_read(d, p, &target) : -ENOMEM;
    if (rc == -EBADMSG)
      rc = 0; /* a record cut short by a crash: its tree is an orphan host.c removes */
    else if (rc == 0)
      rc = fn(d, vol, names.v[i], target, ctx);
    free(target);
    free(p);
  }
  bs__names_free(&names);
  free(dir);
  return rc > 0 ? 0 : rc; /* > 0: fn stopped the walk */
}

static int rec_remove(bs__darwin_os *d, const char *vol, const char *name) {
  char *dir = rec_dir(vol), *p = dir ? bs__darwin_join(dir, name) : NULL;
  int rc = p ? d->files.unlink(d->files.ctx, BS__HOST_PATH(p)) : -ENOMEM;
  free(p);
  free(dir);
  return rc == -ENOENT ? 0 : rc;
}

/* ---- native snapshots ------------------------------------------------------------ */

/* Snapshot @name is mounted on @dir: statfs says @dir is a mount point, or
 * that it is mounted from "<name>@/dev/..." (f_mntonname is the resolved
 * path, which differs from @dir when a component of it is a symlink). */
static bool mounted_on(const bs__darwin_os *d, const char *dir, const char *name) {
  bs_darwin_mount m;
  if (d->sys.mount_info(d->sys.ctx, dir, &m) != 0)
    return false;
  size_t n = strlen(name);
  return strcmp(m.on, dir) == 0 || (strncmp(m.from, name, n) == 0 && m.from[n] == '@');
}

/* -EPERM from an fs_snapshot_* call, with the reason in words. */
static int snap_errno(bs__darwin_os *d, int e, const char *call, const char *vol, const char *name) {
  if (e == -EPERM || e == -EACCES)
    return bs__darwin_fail(d, -EPERM, "%s(%s, %s): %s: %s", call, vol, name, strerror(-e), ENTITLEMENT);
  return bs__darwin_fail(d, e, "%s(%s, %s): %s", call, vol, name, strerror(-e));
}

static int native_snap(bs__darwin_os *d, const char *src, const char *dst, uint8_t uuid[16]) {
  const bs_darwin_sys *s = &d->sys;
  const bs_host_os *f = &d->files;
  bs_darwin_mount m;
  int e = s->mount_info(s->ctx, src, &m);
  if (e != 0)
    return bs__darwin_fail(d, e, "statfs %s: %s", src, strerror(-e));
  if (strcmp(m.on, src) != 0)
    return bs__darwin_fail(d, -EOPNOTSUPP,
                           "an APFS snapshot is of a whole volume: the store root %s must be the root "
                           "of its volume (it is on the volume mounted at %s)",
                           src, m.on);
  uint8_t r[16];
  s->random(s->ctx, r, sizeof(r));
  char name[sizeof(BS_DARWIN_SNAP_PREFIX) + 32];
  int k = snprintf(name, sizeof(name), "%s", BS_DARWIN_SNAP_PREFIX);
  for (int i = 0; i < 16; i++)
    k += snprintf(name + k, sizeof(name) - (size_t)k, "%02x", r[i]);
  /* Each step is undone, in reverse, if a later one fails. */
  int step = 0;
  if ((e = f->mkdir(f->ctx, BS__HOST_PATH(dst), 0755)) != 0)
    return e;
  step = 1;
  if ((e = rec_write(d, src, name, dst)) != 0)
    goto undo;
  step = 2;
  if ((e = s->fs_snapshot_create(s->ctx, src, name)) != 0) {
    e = snap_errno(d, e, "fs_snapshot_create", src, name);
    goto undo;
  }
  step = 3;
  if ((e = s->fs_snapshot_mount(s->ctx, src, dst, name, BS_MNT_RDONLY)) != 0) {
    e = snap_errno(d, e, "fs_snapshot_mount", src, name);
    goto undo;
  }
  step = 4;
  if ((e = snapshot_uuid(d, src, name, uuid)) == 0)
    return 0;
undo:
  if (step >= 4)
    (void)s->unmount(s->ctx, dst, BS_MNT_FORCE);
  if (step >= 3)
    (void)s->fs_snapshot_delete(s->ctx, src, name);
  if (step >= 2)
    (void)rec_remove(d, src, name);
  (void)f->rmdir(f->ctx, BS__HOST_PATH(dst));
  memset(uuid, 0, 16);
  return e;
}

/* Remove recorded snapshot @name mounted (or not) on @dir. */
static int native_delete(bs__darwin_os *d, const char *vol, const char *name, const char *dir) {
  const bs_darwin_sys *s = &d->sys;
  int e = 0;
  if (mounted_on(d, dir, name) && (e = s->unmount(s->ctx, dir, 0)) != 0)
    return bs__darwin_fail(d, e, "unmount %s: %s%s", dir, strerror(-e),
                           e == -EBUSY ? " (the snapshot is in use)" : "");
  e = s->fs_snapshot_delete(s->ctx, vol, name);
  if (e == -EPERM || e == -EACCES)
    e = diskutil_delete(d, vol, name); /* diskutil has the entitlement */
  else if (e != 0 && e != -ENOENT)
    e = snap_errno(d, e, "fs_snapshot_delete", vol, name);
  if (e == 0)
    e = rec_remove(d, vol, name);
  if (e == 0) {
    e = d->files.rmdir(d->files.ctx, BS__HOST_PATH(dir));
    e = e == -ENOENT ? 0 : e;
  }
  return e;
}

typedef struct find_ctx {
  const char *dir;
  char name[BS__APFS_SNAP_NAME_MAX + 1];
} find_ctx;

static int find_rec(bs__darwin_os *d, const char *vol, const char *name, const char *dir, void *ctx) {
  (void)d;
  (void)vol;
  find_ctx *fc = ctx;
  if (strcmp(dir, fc->dir) != 0)
    return 0;
  snprintf(fc->name, sizeof(fc->name), "%s", name);
  return 1;
}

/* Mount again a recorded snapshot whose directory is not a mount point. */
static int remount(bs__darwin_os *d, const char *vol, const char *name, const char *dir, void *ctx) {
  (void)ctx;
  bs_stat_info si;
  if (d->files.stat(d->files.ctx, BS__HOST_PATH(dir), &si) != 0 || si.kind != BS_KIND_DIR || mounted_on(d, dir, name))
    return 0;
  int e = d->sys.fs_snapshot_mount(d->sys.ctx, vol, dir, name, BS_MNT_RDONLY);
  if (e == -ENOENT)
    return 0; /* the snapshot is gone: the tree is an orphan for host.c to remove */
  return e == 0 ? 0 : snap_errno(d, e, "fs_snapshot_mount (again, after a restart)", vol, name);
}

typedef struct coll_t {
  bs__names names;
  int oom;
} coll_t;

/* Snapshot names of @vol that are ours (BS_DARWIN_SNAP_PREFIX). */
static int ours(void *ctx, const char *name) {
  if (strncmp(name, BS_DARWIN_SNAP_PREFIX, strlen(BS_DARWIN_SNAP_PREFIX)) != 0)
    return 0;
  coll_t *c = ctx;
  c->oom = bs__names_add(&c->names, name, strlen(name)) != 0;
  return c->oom;
}

/* Delete our volume snapshots that no record names.  The record is written
 * before a snapshot is made and removed after it is deleted, so such a
 * snapshot is one whose record someone removed: unreachable, but holding
 * space.  Best effort, tried again at every change: a volume snapshot we
 * cannot delete (mounted, no entitlement and no diskutil) must not stop the
 * store. */
static void drop_unrecorded(bs__darwin_os *d, const char *vol) {
  coll_t c = {{0}, 0};
  int e = d->sys.fs_snapshot_list(d->sys.ctx, vol, ours, &c);
  char *dir = rec_dir(vol);
  for (size_t i = 0; e == 0 && !c.oom && dir && i < c.names.n; i++) {
    char *p = bs__darwin_join(dir, c.names.v[i]);
    bs_stat_info si;
    if (p && d->files.stat(d->files.ctx, BS__HOST_PATH(p), &si) == -ENOENT) {
      int x = d->sys.fs_snapshot_delete(d->sys.ctx, vol, c.names.v[i]);
      if (x == -EPERM || x == -EACCES)
        (void)diskutil_delete(d, vol, c.names.v[i]);
    }
    free(p);
  }
  free(dir);
  bs__names_free(&c.names);
  d->detail[0] = '\0'; /* reserve succeeds whatever happened here */
}

/* ---- the bs_host_os members -------------------------------------------------------- */

int bs__darwin_make_root(void *ctx, const char *path) {
  bs__darwin_os *d = D(ctx);
  d->detail[0] = '\0';
  return d->files.mkdir(d->files.ctx, BS__HOST_PATH(path), 0755);
}

int bs__darwin_reserve(void *ctx, const bs__hpath *root_p, const bs__hpath *dir_p) {
  const char *root = root_p->abs, *dir = dir_p->abs;
  bs__darwin_os *d = D(ctx);
  d->detail[0] = '\0';
  int e = d->files.mkdir(d->files.ctx, BS__HOST_PATH(dir), 0700);
  if (e == -EEXIST) {
    bs_stat_info si;
    e = d->files.stat(d->files.ctx, BS__HOST_PATH(dir), &si);
    if (e == 0 && si.kind != BS_KIND_DIR)
      e = -ENOTDIR;
  }
  bs_darwin_mount m;
  if (e == 0 && bs__darwin_sys_has_snapshots(&d->sys) &&
      d->sys.mount_info(d->sys.ctx, root, &m) == 0 && strcmp(m.on, root) == 0) {
    e = rec_each(d, root, remount, NULL);
    if (e == 0)
      drop_unrecorded(d, root);
  }
  return e;
}

int bs__darwin_snap_create(void *ctx, bs_tree_method m, const bs__hpath *src_p, const bs__hpath *dst_p,
                           uint8_t uuid[16]) {
  const char *src = src_p->abs, *dst = dst_p->abs;
  bs__darwin_os *d = D(ctx);
  d->detail[0] = '\0';
  memset(uuid, 0, 16);
  switch (m) {
  case BS_TREE_NATIVE:
    if (!bs__darwin_sys_has_snapshots(&d->sys))
      return bs__darwin_fail(d, -EOPNOTSUPP, "this darwin table has no fs_snapshot calls");
    return native_snap(d, src, dst, uuid);
  case BS_TREE_REFLINK:
  case BS_TREE_COPY:
    return bs__darwin_copy_tree(d, src, dst, m == BS_TREE_COPY);
  }
  return -EINVAL;
}

int bs__darwin_branch_create(void *ctx, bs_tree_method m, const bs__hpath *src, const bs__hpath *dst) {
  bs__darwin_os *d = D(ctx);
  d->detail[0] = '\0';
  if (m != BS_TREE_NATIVE && m != BS_TREE_REFLINK && m != BS_TREE_COPY)
    return -EINVAL;
  /* A native snapshot's tree holds the reserved directory as it was: not copied. */
  return bs__darwin_copy_tree(d, src->abs, dst->abs, m == BS_TREE_COPY);
}

int bs__darwin_tree_delete(void *ctx, bs_tree_method m, const bs__hpath *p) {
  const char *path = p->abs;
  bs__darwin_os *d = D(ctx);
  d->detail[0] = '\0';
  if (m == BS_TREE_NATIVE && bs__darwin_sys_has_snapshots(&d->sys)) {
    /* The volume is the one holding the tree's parent (the store root's). */
    char *parent = strdup(path);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    if (!slash) {
      free(parent);
      return parent ? -EINVAL : -ENOMEM;
    }
    slash[slash == parent ? 1 : 0] = '\0';
    bs_darwin_mount vm;
    int e = d->sys.mount_info(d->sys.ctx, parent, &vm);
    free(parent);
    if (e == -ENOENT)
      return 0;
    if (e != 0)
      return e;
    find_ctx fc = {.dir = path};
    if ((e = rec_each(d, vm.on, find_rec, &fc)) != 0)
      return e;
    if (fc.name[0])
      return native_delete(d, vm.on, fc.name, path);
  }
  return bs__darwin_remove_tree(d, path);
}
