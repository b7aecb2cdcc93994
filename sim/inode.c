/* Inodes: creation, release, deep copy (snapshots, branches) and stat. */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

bs__sim_inode *bs__sim_inode_new(bs__sim_store *s, bs_file_kind kind, uint32_t mode, int64_t now) {
  bs__sim_inode *n = bs__sim_calloc(1, sizeof(*n));
  if (!n)
    return NULL;
  n->ino = s->next_ino++;
  n->kind = kind;
  n->nlink = 1;
  n->mode = mode & 07777;
  n->atime = n->mtime = n->ctime = now;
  n->btime = s->prof->has_btime ? now : 0;
  return n;
}

void bs__sim_inode_free(bs__sim_store *s, bs__sim_inode *n, bool release) {
  if (!n)
    return;
  if (n->kind != BS_KIND_DIR && n->nlink > 1) { /* another name keeps it */
    n->nlink--;
    return;
  }
  for (size_t i = 0; i < n->nents; i++) {
    bs__sim_inode_free(s, n->ents[i].node, release);
    free(n->ents[i].name);
  }
  free(n->ents);
  free(n->target);
  bs__sim_xattrs_free(n);
  if (release) {
    bs__sim_emap_release(s, &n->live);
    bs__sim_emap_release(s, &n->dur);
  } else {
    bs__sim_emap_free(&n->live);
    bs__sim_emap_free(&n->dur);
  }
  free(n);
}

/* Copy @src (clean) into a new inode; children are copied by the caller. */
static bs__sim_inode *copy_one(bs__sim_store *s, const bs__sim_inode *src) {
  bs__sim_inode *n = bs__sim_calloc(1, sizeof(*n));
  if (!n)
    return NULL;
  n->ino = s->next_ino++;
  n->kind = src->kind;
  n->nlink = 1;
  n->mode = src->mode;
  n->uid = src->uid;
  n->gid = src->gid;
  n->atime = src->atime;
  n->mtime = src->mtime;
  n->ctime = src->ctime;
  n->btime = src->btime;
  n->size = n->dsize = src->size;
  if ((src->target && !(n->target = bs__sim_strndup(src->target, strlen(src->target)))) ||
      bs__sim_xattrs_copy(n, src) != 0 || bs__sim_emap_copy(&n->live, &src->live) != 0) {
    bs__sim_inode_free(s, n, false);
    return NULL;
  }
  bs__sim_emap_ref(s, &n->live);
  return n;
}

static int copy_rec(bs__sim_store *s, const bs__sim_inode *src, bs__sim_inode **out, int depth) {
  *out = NULL;
  if (depth > BS__SIM_MAX_DEPTH)
    return BS_ECORRUPT;
  if (src->copy) { /* a further name of a hard-linked inode: the same copy */
    src->copy->nlink++;
    *out = src->copy;
    return BS_OK;
  }
  bs__sim_inode *n = copy_one(s, src);
  if (!n)
    return BS_ENO_MEMORY;
  if (src->kind != BS_KIND_DIR && src->nlink > 1)
    ((bs__sim_inode *)src)->copy = n;
  if (src->nents) {
    n->ents = bs__sim_calloc(src->nents, sizeof(*n->ents));
    if (!n->ents) {
      bs__sim_inode_free(s, n, true);
      return BS_ENO_MEMORY;
    }
    n->capents = src->nents;
  }
  for (size_t i = 0; i < src->nents; i++) {
    const bs__sim_dent *e = &src->ents[i];
    char *name = bs__sim_strndup(e->name, e->nlen);
    bs__sim_inode *child = NULL;
    int rc = name ? copy_rec(s, e->node, &child, depth + 1) : BS_ENO_MEMORY;
    if (rc != 0) {
      free(name);
      bs__sim_inode_free(s, n, true);
      return rc;
    }
    bs__sim_dir_insert(n, n->nents, name, e->nlen, child);
  }
  *out = n;
  return BS_OK;
}

/* Forget the copies a tree copy noted on its source's hard-linked inodes. */
static void forget_copies(bs__sim_inode *n) {
  n->copy = NULL;
  for (size_t i = 0; i < n->nents; i++)
    forget_copies(n->ents[i].node);
}

int bs__sim_tree_copy(bs__sim_store *s, const bs__sim_inode *src, bs__sim_inode **out) {
  uint64_t ino = s->next_ino;
  int rc = copy_rec(s, src, out, 0);
  forget_copies((bs__sim_inode *)src);
  if (rc != 0)
    s->next_ino = ino; /* all or nothing, inode numbers included */
  return rc;
}

/* A directory's st_size as the profile's filesystem reports it, where the
 * sim models that (checked against the kernel by the differential runs,
 * docs/diff.md); elsewhere its entry count. */
static uint64_t dir_size(const bs__sim_profile *p, const bs__sim_inode *d) {
  switch (p->dir_size) {
  case BS__SIM_DSIZE_BTRFS: {
    uint64_t bytes = 0;
    for (size_t i = 0; i < d->nents; i++)
      bytes += d->ents[i].nlen;
    return 2 * bytes;
  }
  case BS__SIM_DSIZE_TMPFS: return 40 + 20 * (uint64_t)d->nents;
  case BS__SIM_DSIZE_ENTRIES: break;
  }
  return d->nents;
}

void bs__sim_stat_fill(const bs__sim_store *s, const bs__sim_inode *n, bs_stat_info *out) {
  memset(out, 0, sizeof(*out));
  out->ino = n->ino;
  out->kind = n->kind;
  out->mode = n->mode;
  out->uid = n->uid;
  out->gid = n->gid;
  if (n->kind == BS_KIND_DIR) {
    out->nlink = s->prof->dir_nlink_one ? 1 : 2 + n->ndirs;
    out->size = dir_size(s->prof, n);
  } else if (n->kind == BS_KIND_SYMLINK) {
    out->nlink = n->nlink;
    out->size = strlen(n->target);
  } else {
    out->nlink = n->nlink;
    out->size = n->size;
    /* POSIX st_blocks: 512-byte units of the blocks the live map references. */
    out->blocks = bs__sim_emap_blocks(&n->live) * (BS__SIM_B / 512);
  }
  out->atime_ns = n->atime;
  out->mtime_ns = n->mtime;
  out->ctime_ns = n->ctime;
  out->btime_ns = n->btime;
}

void bs__sim_touch(bs__sim_inode *n, int64_t now) { n->mtime = n->ctime = now; }
