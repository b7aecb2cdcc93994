/* Sim images: the complete state of a sim store in one file (docs/sim.md).
 *
 * Layout, little-endian:
 *   header   magic "BSSIMIMG", u32 version (4), u32 flags (0), u64 body length
 *   body     u8 fs_type, u8 bug, u16 0, u64 blocks, i64 clock, u64 rng[4],
 *            u64 latency rng[4], u64 next_ino,
 *            u64 used blocks, each {u64 index, u32 refcount, u8 flags, 4096 bytes},
 *            main tree (inode record),
 *            u32 snapshot trees, each {u64 id, inode record} (id order),
 *            u32 branch trees, each {u64 id, inode record} (id order),
 *            u32 length, the core's registry bytes (src/snapreg.h; 0: none)
 * Version 2 (read, converted) had u64 next_snap_id after next_ino, snapshots
 * {u64 id, u8 uuid[16], name, i64 created, u32 branch_count, inode record}
 * and branches {name, u64 snapshot id, i64 created, inode record}.
 *   trailer  u64 FNV-1a 64 of header and body
 * inode record: u64 ino, u8 kind, u32 mode, u32 uid, u32 gid, i64 atime, mtime, ctime, btime,
 *   u32 xattrs {name, u32 length, bytes}; a file: u64 size, map, u8 dirty,
 *   (dirty: u64 durable size, map), u32 nlink; a symlink (kind 3): u16 length + target
 *   bytes, u32 nlink; a directory: u32 entries {name, inode record}.  A further name of
 *   an inode of nlink > 1 already written is u64 ino, u8 kind 4, and nothing more.
 * Version 3 (read) had no symlinks, no nlink and no kind 4.
 * name: u16 length + bytes; map: u32 extents {u64 lblk, u64 pblk, u64 len}.
 * Saving writes a temporary file, fsyncs it, renames it over @file and
 * fsyncs the directory.  Loading is in sim/image_load.c and sim/image_read.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backstore/backend.h"
#include "sim/image.h"
#include "src/dirsync.h"

uint64_t bs__sim_fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* ---- writer ----------------------------------------------------------------- */
struct wbuf {
  uint8_t *p;
  size_t n, cap;
  bool oom;
};

static void put(struct wbuf *w, const void *src, size_t n) {
  if (w->oom)
    return;
  if (n > w->cap - w->n) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->n < n) {
      if (cap > SIZE_MAX / 2) {
        w->oom = true;
        return;
      }
      cap *= 2;
    }
    uint8_t *p = bs__sim_realloc_array(w->p, cap, 1);
    if (!p) {
      w->oom = true;
      return;
    }
    w->p = p;
    w->cap = cap;
  }
  memcpy(w->p + w->n, src, n);
  w->n += n;
}

static void put_le(struct wbuf *w, uint64_t v, size_t n) {
  uint8_t b[8];
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(v >> (8 * i));
  put(w, b, n);
}

static void put_name(struct wbuf *w, const char *s, size_t n) {
  put_le(w, n, 2);
  put(w, s, n);
}

static void put_map(struct wbuf *w, const bs__sim_emap *m) {
  put_le(w, m->n, 4);
  for (size_t i = 0; i < m->n; i++) {
    put_le(w, m->v[i].lblk, 8);
    put_le(w, m->v[i].pblk, 8);
    put_le(w, m->v[i].len, 8);
  }
}

static void put_inode(struct wbuf *w, const bs__sim_store *s, bs__sim_inode *n) {
  put_le(w, n->ino, 8);
  if (n->kind != BS_KIND_DIR && n->nlink > 1) { /* hard-linked: written once */
    if (n->mark == s->walk_mark) {
      put_le(w, BS__SIM_IMG_ANOTHER_NAME, 1);
      return;
    }
    n->mark = s->walk_mark;
  }
  put_le(w, (uint64_t)n->kind, 1);
  put_le(w, n->mode, 4);
  put_le(w, n->uid, 4);
  put_le(w, n->gid, 4);
  put_le(w, (uint64_t)n->atime, 8);
  put_le(w, (uint64_t)n->mtime, 8);
  put_le(w, (uint64_t)n->ctime, 8);
  put_le(w, (uint64_t)n->btime, 8);
  put_le(w, n->nxa, 4);
  for (size_t i = 0; i < n->nxa; i++) {
    put_name(w, n->xa[i].name, strlen(n->xa[i].name));
    put_le(w, n->xa[i].len, 4);
    if (n->xa[i].len)
      put(w, n->xa[i].val, n->xa[i].len);
  }
  if (n->kind == BS_KIND_FILE) {
    put_le(w, n->size, 8);
    put_map(w, &n->live);
    put_le(w, n->dirty, 1);
    if (n->dirty) {
      put_le(w, n->dsize, 8);
      put_map(w, &n->dur);
    }
    put_le(w, n->nlink, 4);
  } else if (n->kind == BS_KIND_SYMLINK) {
    put_name(w, n->target, strlen(n->target));
    put_le(w, n->nlink, 4);
  } else {
    put_le(w, n->nents, 4);
    for (size_t i = 0; i < n->nents; i++) {
      put_name(w, n->ents[i].name, n->ents[i].nlen);
      put_inode(w, s, n->ents[i].node);
    }
  }
}

static void put_body(struct wbuf *w, bs__sim_store *s) {
  s->walk_mark++; /* a hard-linked inode is written at its first name */
  put_le(w, s->prof->type, 1);
  put_le(w, s->bug, 1);
  put_le(w, 0, 2);
  put_le(w, s->blk.n, 8);
  put_le(w, (uint64_t)s->clock_ns, 8);
  for (int i = 0; i < 4; i++)
    put_le(w, s->rng.s[i], 8);
  for (int i = 0; i < 4; i++)
    put_le(w, s->lat_rng.s[i], 8);
  put_le(w, s->next_ino, 8);
  put_le(w, s->blk.used, 8);
  for (uint64_t i = 0; i < s->blk.n; i++) {
    if (s->blk.ref[i] == 0)
      continue;
    put_le(w, i, 8);
    put_le(w, s->blk.ref[i], 4);
    put_le(w, s->blk.flag[i], 1);
    put(w, s->blk.data[i], BS_SIM_BLOCK_SIZE);
  }
  put_inode(w, s, s->main.root);
  put_le(w, s->nsnaps, 4);
  for (size_t i = 0; i < s->nsnaps; i++) {
    put_le(w, s->snaps[i]->id, 8);
    put_inode(w, s, s->snaps[i]->root);
  }
  put_le(w, s->nbranches, 4);
  for (size_t i = 0; i < s->nbranches; i++) {
    put_le(w, s->branches[i]->id, 8);
    put_inode(w, s, s->branches[i]->root);
  }
  put_le(w, s->reglen, 4);
  if (s->reglen)
    put(w, s->reg, s->reglen);
}

/* Write all of @p to @fd. */
static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

int bs_sim_save(bs_store *st, const char *file) {
  if (!bs_sim_is_sim(st) || !file || !*file)
    return BS_EINVALID;
  bs__sim_store *s = bs__sim_cast(st);
  struct wbuf w = {0};
  put(&w, BS__SIM_IMAGE_MAGIC, 8);
  put_le(&w, BS__SIM_IMAGE_VERSION, 4);
  put_le(&w, 0, 4);
  put_le(&w, 0, 8); /* body length, filled in below */
  put_body(&w, s);
  if (w.oom) {
    free(w.p);
    return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "save: %s: out of memory", file);
  }
  uint64_t body = w.n - BS__SIM_IMAGE_HEADER;
  for (int i = 0; i < 8; i++)
    w.p[16 + i] = (uint8_t)(body >> (8 * i));
  put_le(&w, bs__sim_fnv1a(w.p, w.n), 8);
  if (w.oom) {
    free(w.p);
    return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "save: %s: out of memory", file);
  }
  char tmp[4200];
  int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", file, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof(tmp)) {
    free(w.p);
    return bs_store_fail(st, BS_ENAME_TOO_LONG, ENAMETOOLONG, "save: %s: path too long", file);
  }
  int e = 0;
  const char *what = "open";
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    e = errno;
  } else {
    if ((e = write_all(fd, w.p, w.n)) != 0)
      what = "write";
    else if (fsync(fd) != 0)
      e = errno, what = "fsync";
    if (close(fd) != 0 && e == 0)
      e = errno, what = "close";
    if (e == 0 && rename(tmp, file) != 0)
      e = errno, what = "rename";
    if (e != 0)
      unlink(tmp);
    else if ((e = bs__fsync_dir_of(file)) != 0)
      what = "fsync directory";
  }
  free(w.p);
  if (e != 0)
    return bs_store_fail(st, bs_err_from_errno(e), e, "save: %s: %s: %s", file, what, strerror(e));
  return BS_OK;
}
