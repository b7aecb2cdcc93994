/* Attributes and listings: stat, chmod, chown, utimens, readdir.  The
 * directories that hold the trees (/.bs, /.bs/snap, /.bs/branch) are
 * read-only and list the trees by id; the core shows the store's own
 * /.bs/snapshots and /.bs/branches (src/ns.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/sim_internal.h"

static void stat_virtual(const bs__sim_store *s, bs__sim_virt v, bs_stat_info *out) {
  memset(out, 0, sizeof(*out));
  out->kind = BS_KIND_DIR;
  out->mode = 0555;
  size_t n = v == BS__SIM_V_BS ? 2 : v == BS__SIM_V_SNAPS ? s->nsnaps : s->nbranches;
  out->ino = v == BS__SIM_V_BS ? BS__SIM_INO_VBS : v == BS__SIM_V_SNAPS ? BS__SIM_INO_VSNAPS
                                                                       : BS__SIM_INO_VBRANCHES;
  out->nlink = (uint32_t)(2 + n);
  out->size = n;
  out->atime_ns = out->mtime_ns = out->ctime_ns = BS__SIM_EPOCH_NS;
  out->btime_ns = s->prof->has_btime ? BS__SIM_EPOCH_NS : 0;
}

int bs__sim_stat(bs__sim_store *s, const char *path, bs_stat_info *out) {
  bs__sim_loc l;
  int rc = bs__sim_lookup(s, "stat", path, &l);
  if (rc != 0)
    return rc;
  if (l.node)
    bs__sim_stat_fill(s, l.node, out);
  else
    stat_virtual(s, l.virt, out);
  return BS_OK;
}

int bs__sim_chmod(bs__sim_store *s, const char *path, uint32_t mode) {
  bs__sim_loc l;
  int rc = bs__sim_lookup_mut(s, "chmod", path, false, &l);
  if (rc == 0)
    rc = bs__sim_not_symlink(s, "chmod", path, l.node);
  if (rc != 0)
    return rc;
  l.node->mode = mode & 07777;
  l.node->ctime = s->clock_ns;
  return BS_OK;
}

/* The caller is root (docs/sim.md): any ids are allowed; (uint32_t)-1 keeps one,
 * as in chown(2).  On Linux even root's chown of a non-directory clears
 * S_ISUID, and S_ISGID when group-execute is set (S_ISGID without it marks
 * mandatory locking and stays), whatever the ids: setattr_should_drop_suidgid().
 * macOS clears them for non-root callers only. */
int bs__sim_chown(bs__sim_store *s, const char *path, uint32_t uid, uint32_t gid) {
  bs__sim_loc l;
  int rc = bs__sim_lookup_mut(s, "chown", path, false, &l);
  if (rc != 0)
    return rc;
  if (uid != BS_ID_KEEP)
    l.node->uid = uid;
  if (gid != BS_ID_KEEP)
    l.node->gid = gid;
  if (s->prof->chown_kills_setid && l.node->kind != BS_KIND_DIR) {
    l.node->mode &= ~04000u;
    if (l.node->mode & 0010)
      l.node->mode &= ~02000u;
  }
  l.node->ctime = s->clock_ns;
  return BS_OK;
}

/* A time as the profile's filesystem stores it: before its earliest second
 * it is that second, and in that second the nanoseconds are dropped, as
 * timestamp_truncate() does at either bound. */
static int64_t clamp_time(const bs__sim_profile *p, int64_t ns) {
  if (p->time_min_s == 0)
    return ns;
  int64_t min_ns = p->time_min_s * 1000000000LL;
  return ns < min_ns + 1000000000LL ? min_ns : ns;
}

int bs__sim_utimens(bs__sim_store *s, const char *path, int64_t atime_ns, int64_t mtime_ns) {
  bs__sim_loc l;
  int rc = bs__sim_lookup_mut(s, "utimens", path, false, &l);
  if (rc != 0)
    return rc;
  l.node->atime = clamp_time(s->prof, atime_ns);
  l.node->mtime = clamp_time(s->prof, mtime_ns);
  l.node->ctime = s->clock_ns;
  return BS_OK;
}

static int str_order(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of a virtual directory: the trees by id, in byte order. */
static int virtual_names(bs__sim_store *s, bs__sim_virt v, char ***names, size_t *n) {
  *names = NULL;
  *n = 0;
  size_t cnt = v == BS__SIM_V_BS ? 2 : v == BS__SIM_V_SNAPS ? s->nsnaps : s->nbranches;
  char **nv = bs__sim_calloc(cnt ? cnt : 1, sizeof(*nv));
  if (!nv)
    return BS_ENO_MEMORY;
  for (size_t i = 0; i < cnt; i++) {
    char id[24];
    if (v == BS__SIM_V_BS)
      snprintf(id, sizeof(id), "%s", i == 0 ? "branch" : "snap");
    else
      snprintf(id, sizeof(id), "%llu",
               (unsigned long long)(v == BS__SIM_V_SNAPS ? s->snaps[i] : s->branches[i])->id);
    if (!(nv[i] = bs__sim_strndup(id, strlen(id)))) {
      bs__sim_names_free(nv, i);
      return BS_ENO_MEMORY;
    }
  }
  if (cnt > 1)
    qsort(nv, cnt, sizeof(*nv), str_order);
  *names = nv;
  *n = cnt;
  return BS_OK;
}

int bs__sim_readdir(bs__sim_store *s, const char *path, bs_readdir_cb cb, void *ctx) {
  bs__sim_loc l;
  int rc = bs__sim_lookup(s, "readdir", path, &l);
  if (rc != 0)
    return rc;
  if (l.node && l.node->kind != BS_KIND_DIR)
    return bs_store_fail(&s->base, BS_EINVALID, 0, "readdir: %s: not a directory", path);
  /* Copy the listing first: the callback may change the store. */
  char **names = NULL;
  bs_file_kind *kinds = NULL;
  size_t n = 0;
  rc = l.node ? bs__sim_dir_names(l.node, &names, &kinds, &n) : virtual_names(s, l.virt, &names, &n);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < n; i++)
    if (cb(ctx, names[i], kinds ? kinds[i] : BS_KIND_DIR) != 0)
      break;
  bs__sim_names_free(names, n);
  free(kinds);
  return BS_OK;
}
