/* The snapshot half of the darwin fake (see darwin_fake.h): statfs's mount
 * points, fs_snapshot_* and unmount on the sim, and diskutil.
 *
 * The volume is the sim's main tree: host "/" is sim "/v", mounted on "/"
 * from /dev/disk3s5.  fs_snapshot_create is the sim's bs_snapshot_create,
 * which snapshots the whole main tree, as APFS snapshots the whole volume.
 * A mounted snapshot maps its host directory onto the sim's snapshot tree
 * (/.bs/snapshots/<name>/v), read-only as the sim keeps snapshot trees.
 * diskutil answers `apfs listSnapshots <vol> [-plist]` and `apfs
 * deleteSnapshot <vol> -uuid <UUID>` from the sim's snapshots, printed by
 * the writers of real/parse_diskutil.c in diskutil's own formats; a test
 * can script the next answer with a recorded output instead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/darwin_fake_internal.h"

#define E bs__fake_errno

static bool is_apfs(const fake *f) { return strcmp(f->profile, "apfs") == 0; }

static bs_stat_info stat_of(fake *f, const char *host, int *rc) {
  bs_stat_info si = {0};
  char *p = bs__fake_sim_path(f, host);
  *rc = p ? E(bs_stat(f->sim, p, &si)) : -ENOMEM;
  free(p);
  return si;
}

static fake_mount *mount_at(fake *f, const char *dir) {
  for (size_t i = 0; i < f->nmounts; i++)
    if (strcmp(f->mounts[i].dir, dir) == 0)
      return &f->mounts[i];
  return NULL;
}

static bool mounted(const fake *f, const char *name) {
  for (size_t i = 0; i < f->nmounts; i++)
    if (strcmp(f->mounts[i].name, name) == 0)
      return true;
  return false;
}

static int s_mount_info(void *ctx, const char *path, bs_darwin_mount *out) {
  fake *f = ctx;
  int rc;
  (void)stat_of(f, path, &rc);
  if (rc != 0)
    return rc;
  const fake_mount *m = NULL;
  size_t best = 0;
  for (size_t i = 0; i < f->nmounts; i++) {
    size_t n = strlen(f->mounts[i].dir);
    if (n > best && strncmp(path, f->mounts[i].dir, n) == 0 && (path[n] == '\0' || path[n] == '/')) {
      m = &f->mounts[i];
      best = n;
    }
  }
  snprintf(out->on, sizeof(out->on), "%s%s", m && f->resolved_mounts ? "/private" : "",
           m ? m->dir : "/");
  snprintf(out->from, sizeof(out->from), "%s%s/dev/" BS_FAKE_DEV, m ? m->name : "", m ? "@" : "");
  return 0;
}

/* The checks every fs_snapshot_* call makes: the entitlement, APFS, the volume. */
static int snap_call(fake *f, const char *vol) {
  if (f->snap_errno)
    return -f->snap_errno;
  if (!is_apfs(f))
    return -ENOTSUP;
  return strcmp(vol, "/") == 0 ? 0 : -EINVAL;
}

static int s_snap_create(void *ctx, const char *vol, const char *name) {
  fake *f = ctx;
  int rc = snap_call(f, vol);
  return rc != 0 ? rc : E(bs_snapshot_create(f->sim, name, NULL));
}

static int s_snap_delete(void *ctx, const char *vol, const char *name) {
  fake *f = ctx;
  int rc = snap_call(f, vol);
  if (rc != 0)
    return rc;
  if (mounted(f, name))
    return -EBUSY;
  bs_snapshot_info si;
  rc = bs_snapshot_lookup(f->sim, name, &si);
  return rc != 0 ? E(rc) : E(bs_snapshot_delete(f->sim, si.id));
}

static int s_snap_list(void *ctx, const char *vol, bs_darwin_snap_cb cb, void *cb_ctx) {
  fake *f = ctx;
  int rc = snap_call(f, vol);
  bs_snapshot_info *v = NULL;
  size_t n = 0;
  if (rc == 0)
    rc = E(bs_snapshot_list(f->sim, &v, &n));
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (cb(cb_ctx, v[i].name) != 0)
      break;
  free(v);
  return rc;
}

static int s_snap_mount(void *ctx, const char *vol, const char *dir, const char *name, uint32_t flags) {
  (void)flags;
  fake *f = ctx;
  int rc = snap_call(f, vol);
  if (rc != 0)
    return rc;
  bs_stat_info si = stat_of(f, dir, &rc);
  if (rc != 0)
    return rc;
  if (si.kind != BS_KIND_DIR)
    return -ENOTDIR;
  if (mount_at(f, dir))
    return -EBUSY;
  bs_snapshot_info snap;
  if ((rc = bs_snapshot_lookup(f->sim, name, &snap)) != 0)
    return E(rc);
  fake_mount *v = realloc(f->mounts, (f->nmounts + 1) * sizeof(*v));
  char *d = strdup(dir);
  if (!v || !d) {
    free(d);
    if (v)
      f->mounts = v;
    return -ENOMEM;
  }
  f->mounts = v;
  f->mounts[f->nmounts].dir = d;
  snprintf(f->mounts[f->nmounts].name, sizeof(f->mounts[0].name), "%s", name);
  f->nmounts++;
  return 0;
}

static int s_unmount(void *ctx, const char *dir, uint32_t flags) {
  (void)flags;
  fake *f = ctx;
  fake_mount *m = mount_at(f, dir);
  if (!m)
    return -EINVAL; /* not a mount point */
  free(m->dir);
  *m = f->mounts[--f->nmounts];
  return 0;
}

static void s_random(void *ctx, void *buf, size_t len) {
  fake *f = ctx;
  uint8_t *p = buf;
  for (size_t i = 0; i < len; i++) {
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    p[i] = (uint8_t)(f->rng >> 24);
  }
}

/* ---- diskutil -------------------------------------------------------------------- */

static char *dup_str(const char *s, size_t *len) {
  *len = s ? strlen(s) : 0;
  return s ? strdup(s) : NULL;
}

static int fail_tool(bs__tool_result *out, const char *err) {
  out->status = 1;
  out->err = dup_str(err, &out->err_len);
  return 0;
}

/* The sim's snapshots as diskutil lists them (the sim id is the XID). */
static int list(fake *f, bool plist, bs__tool_result *out) {
  bs_snapshot_info *v = NULL;
  size_t n = 0;
  int rc = E(bs_snapshot_list(f->sim, &v, &n));
  bs__apfs_snap *s = rc == 0 ? calloc(n ? n : 1, sizeof(*s)) : NULL;
  if (rc == 0 && !s)
    rc = -ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    snprintf(s[i].name, sizeof(s[i].name), "%s", v[i].name);
    memcpy(s[i].uuid, v[i].uuid, 16);
    s[i].xid = v[i].id;
  }
  if (rc == 0) {
    out->out = plist ? bs__diskutil_snapshots_write_plist(s, n)
                     : bs__diskutil_snapshots_write_text(BS_FAKE_DEV, s, n);
    out->out_len = out->out ? strlen(out->out) : 0;
    rc = out->out ? 0 : -ENOMEM;
  }
  free(s);
  free(v);
  return rc;
}

static int delete_by_uuid(fake *f, const char *uuid, bs__tool_result *out) {
  uint8_t u[16];
  if (bs__uuid_parse(uuid, strlen(uuid), u) != 0)
    return fail_tool(out, "Error: Invalid UUID");
  bs_snapshot_info *v = NULL;
  size_t n = 0, i = 0;
  int rc = E(bs_snapshot_list(f->sim, &v, &n));
  while (rc == 0 && i < n && memcmp(v[i].uuid, u, 16) != 0)
    i++;
  if (rc == 0 && i == n)
    rc = fail_tool(out, "Error deleting APFS Snapshot: The specified APFS Snapshot was not found (-69506)");
  else if (rc == 0 && mounted(f, v[i].name))
    rc = fail_tool(out, "Error deleting APFS Snapshot: The APFS Snapshot is mounted (-69509)");
  else if (rc == 0 && (rc = E(bs_snapshot_delete(f->sim, v[i].id))) == 0) {
    char buf[512];
    snprintf(buf, sizeof(buf),
             "Deleting APFS Snapshot %s \"%s\" from APFS Volume " BS_FAKE_DEV "\n"
             "Started APFS operation\nFinished APFS operation\n",
             uuid, v[i].name);
    out->out = dup_str(buf, &out->out_len);
    rc = out->out ? 0 : -ENOMEM;
  }
  free(v);
  return rc;
}

static int s_run_tool(void *ctx, const char *const argv[], bs__tool_result *out) {
  fake *f = ctx;
  memset(out, 0, sizeof(*out));
  size_t k = 0, argc = 0;
  f->last_tool[0] = '\0';
  for (; argv[argc]; argc++) {
    if (k < sizeof(f->last_tool))
      k += (size_t)snprintf(f->last_tool + k, sizeof(f->last_tool) - k, "%s%s", argc ? " " : "",
                            argv[argc]);
  }
  if (f->fail_next_tool) {
    int e = f->fail_next_tool;
    f->fail_next_tool = 0;
    return -e;
  }
  if (f->scripted) {
    f->scripted = false;
    *out = f->script;
    memset(&f->script, 0, sizeof(f->script));
    return 0;
  }
  if (strcmp(argv[0], BS_DARWIN_DISKUTIL) != 0)
    return -ENOENT;
  if (argc < 4 || strcmp(argv[1], "apfs") != 0)
    return fail_tool(out, "Usage:  diskutil [quiet] ap[fs] <verb> <options>");
  if (strcmp(argv[3], "/") != 0 && strcmp(argv[3], BS_FAKE_DEV) != 0)
    return fail_tool(out, "Could not find disk");
  if (!is_apfs(f))
    return fail_tool(out, "Error: " BS_FAKE_DEV " is not an APFS Volume");
  if (strcmp(argv[2], "listSnapshots") == 0 && (argc == 4 || (argc == 5 && strcmp(argv[4], "-plist") == 0)))
    return list(f, argc == 5, out);
  if (strcmp(argv[2], "deleteSnapshot") == 0 && argc == 6 && strcmp(argv[4], "-uuid") == 0)
    return delete_by_uuid(f, argv[5], out);
  return fail_tool(out, "Usage:  diskutil [quiet] ap[fs] <verb> <options>");
}

void bs__fake_snap_sys(bs_darwin_sys *sys) {
  sys->mount_info = s_mount_info;
  sys->fs_snapshot_create = s_snap_create;
  sys->fs_snapshot_delete = s_snap_delete;
  sys->fs_snapshot_list = s_snap_list;
  sys->fs_snapshot_mount = s_snap_mount;
  sys->unmount = s_unmount;
  sys->run_tool = s_run_tool;
  sys->random = s_random;
}

void bs__fake_snap_release(fake *f) {
  for (size_t i = 0; i < f->nmounts; i++)
    free(f->mounts[i].dir);
  free(f->mounts);
  f->mounts = NULL;
  f->nmounts = 0;
  bs__tool_result_free(&f->script);
}

/* ---- test hooks --------------------------------------------------------------------- */

void bs_darwin_fake_deny_snapshots(bs_store *st, int err) {
  fake *f = bs__fake_of(st);
  if (f)
    f->snap_errno = err;
}

int bs_darwin_fake_script_tool(bs_store *st, int status, const char *out, size_t out_len,
                               const char *err, size_t err_len) {
  fake *f = bs__fake_of(st);
  if (!f)
    return BS_EINVALID;
  bs__tool_result_free(&f->script);
  f->script.status = status;
  if (out) {
    f->script.out = malloc(out_len + 1);
    if (!f->script.out)
      return BS_ENO_MEMORY;
    memcpy(f->script.out, out, out_len);
    f->script.out[out_len] = '\0';
    f->script.out_len = out_len;
  }
  if (err) {
    f->script.err = malloc(err_len + 1);
    if (!f->script.err) {
      bs__tool_result_free(&f->script);
      return BS_ENO_MEMORY;
    }
    memcpy(f->script.err, err, err_len);
    f->script.err[err_len] = '\0';
    f->script.err_len = err_len;
  }
  f->scripted = true;
  return 0;
}

void bs_darwin_fake_fail_next_tool(bs_store *st, int err) {
  fake *f = bs__fake_of(st);
  if (f)
    f->fail_next_tool = err;
}

const char *bs_darwin_fake_last_tool(bs_store *st) {
  fake *f = bs__fake_of(st);
  return f ? f->last_tool : "";
}

size_t bs_darwin_fake_mount_count(bs_store *st) {
  fake *f = bs__fake_of(st);
  return f ? f->nmounts : 0;
}

void bs_darwin_fake_resolve_mounts(bs_store *st, bool on) {
  fake *f = bs__fake_of(st);
  if (f)
    f->resolved_mounts = on;
}

void bs_darwin_fake_restart(bs_store *st) {
  fake *f = bs__fake_of(st);
  if (!f)
    return;
  for (size_t i = 0; i < f->nmounts; i++)
    free(f->mounts[i].dir);
  f->nmounts = 0;
}
