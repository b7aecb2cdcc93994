/* Loading a sim image (format in sim/image.c): the header, the checksum, the
 * body (records in sim/image_read.c) and the checks across records.  A
 * damaged, truncated or foreign file is BS_ECORRUPT, a missing one
 * BS_ENOT_FOUND. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backstore/backend.h"
#include "sim/image.h"

static int u64_order(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Everything after the header. */
static int get_body(bs__sim_ld *c, uint32_t version, bs__sim_store **out) {
  bs__sim_rbuf *r = &c->r;
  const bs__sim_profile *prof = bs__sim_profile_for_type((bs_fs_type)bs__sim_img_get(r, 1));
  uint64_t bug = bs__sim_img_get(r, 1), zero = bs__sim_img_get(r, 2), nblocks = bs__sim_img_get(r, 8);
  if (r->bad || !prof || bug > BS_SIM_BUG_STRAY_WRITE || bug == BS_SIM_BUG_COPY_UP_ORDER || zero != 0 || nblocks < BS__SIM_MIN_BLOCKS ||
      nblocks > BS__SIM_MAX_BLOCKS)
    return BS_ECORRUPT;
  bs__sim_store *s;
  int rc = bs__sim_store_new(&s, prof, nblocks, 0);
  if (rc != 0)
    return rc;
  c->s = s;
  *out = s;
  bs__sim_inode_free(s, s->main.root, false);
  s->main.root = NULL;
  s->bug = (bs_sim_bug)bug;
  s->clock_ns = (int64_t)bs__sim_img_get(r, 8);
  uint64_t any = 0, lany = 0;
  for (int i = 0; i < 4; i++)
    any |= s->rng.s[i] = bs__sim_img_get(r, 8);
  for (int i = 0; i < 4; i++)
    lany |= s->lat_rng.s[i] = bs__sim_img_get(r, 8);
  s->next_ino = bs__sim_img_get(r, 8);
  uint64_t next_snap_id = version == 2 ? bs__sim_img_get(r, 8) : 1;
  if (r->bad || any == 0 || lany == 0 || s->next_ino < BS__SIM_FIRST_INO || next_snap_id == 0 ||
      s->clock_ns < BS__SIM_EPOCH_NS)
    return BS_ECORRUPT;
  if ((rc = bs__sim_img_blocks(c)) != 0 || (rc = bs__sim_img_inode(c, true, true, 0, &s->main.root)) != 0)
    return rc;
  if (s->main.root->kind != BS_KIND_DIR || s->main.root->ino != BS__SIM_ROOT_INO)
    return BS_ECORRUPT;
  if ((rc = bs__sim_img_trees(c, version, next_snap_id)) != 0)
    return rc;
  if (r->off != r->n || !bs__sim_img_links_complete(c))
    return BS_ECORRUPT; /* trailing bytes, or a hard link's names missing */
  /* Inode numbers are unique. */
  qsort(c->inos, c->ninos, sizeof(*c->inos), u64_order);
  for (size_t i = 1; i < c->ninos; i++)
    if (c->inos[i - 1] == c->inos[i])
      return BS_ECORRUPT;
  /* Structure of every tree, and every block is held by exactly as many
   * references as map it: more only when an image was saved with LEAK_BLOCK
   * on, whose releases forget to drop references. */
  char why[200];
  if (bs__sim_count_refs(s, s->scratch, why, sizeof(why)) != 0)
    return BS_ECORRUPT;
  for (uint64_t i = 0; i < s->blk.n; i++)
    if (s->blk.ref[i] < s->scratch[i] || (s->blk.ref[i] != s->scratch[i] && s->bug != BS_SIM_BUG_LEAK_BLOCK))
      return BS_ECORRUPT;
  bs__sim_blocks_recount(&s->blk);
  return BS_OK;
}

/* Read all of @file; BS_ENOT_FOUND if it is absent. */
static int slurp(const char *file, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? BS_ENOT_FOUND : bs_err_from_errno(errno);
  struct stat sb;
  int rc = BS_OK;
  uint8_t *p = NULL;
  if (fstat(fd, &sb) != 0) {
    rc = bs_err_from_errno(errno);
    goto out;
  }
  if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > SIZE_MAX / 2) {
    rc = BS_ECORRUPT;
    goto out;
  }
  size_t n = (size_t)sb.st_size, got = 0;
  if (!(p = bs__sim_malloc(n))) {
    rc = BS_ENO_MEMORY;
    goto out;
  }
  while (got < n) {
    ssize_t k = read(fd, p + got, n - got);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      rc = k == 0 ? BS_ECORRUPT : bs_err_from_errno(errno);
      goto out;
    }
    got += (size_t)k;
  }
  *out = p;
  *len = n;
  p = NULL;
out:
  free(p);
  close(fd);
  return rc;
}

int bs_sim_load_buf(bs_store **out, const void *buf, size_t n) {
  if (!out || (!buf && n))
    return BS_EINVALID;
  *out = NULL;
  const uint8_t *img = buf;
  bs__sim_ld c = {0};
  bs__sim_store *s = NULL;
  int rc = BS_ECORRUPT;
  if (n < BS__SIM_IMAGE_HEADER + 8 || memcmp(img, BS__SIM_IMAGE_MAGIC, 8) != 0)
    goto out;
  bs__sim_rbuf h = {img, n, 8, false, false};
  uint64_t version = bs__sim_img_get(&h, 4), flags = bs__sim_img_get(&h, 4), body = bs__sim_img_get(&h, 8);
  if ((version != BS__SIM_IMAGE_VERSION && version != 3 && version != 2) || flags != 0 || body != n - BS__SIM_IMAGE_HEADER - 8)
    goto out;
  bs__sim_rbuf t = {img, n, n - 8, false, false};
  if (bs__sim_img_get(&t, 8) != bs__sim_fnv1a(img, n - 8))
    goto out;
  c.r = (bs__sim_rbuf){img, n - 8, BS__SIM_IMAGE_HEADER, false, false};
  c.version = (uint32_t)version;
  rc = get_body(&c, (uint32_t)version, &s);
  if (rc == BS_ECORRUPT && c.r.oom)
    rc = BS_ENO_MEMORY;
out:
  free(c.inos);
  free(c.linked);
  free(c.declared);
  if (rc != 0) {
    bs__sim_store_free(s);
    return rc;
  }
  bs_store_init(&s->base, &bs__sim_ops);
  *out = &s->base;
  return BS_OK;
}

int bs_sim_load(bs_store **out, const char *file) {
  if (!out || !file)
    return BS_EINVALID;
  *out = NULL;
  uint8_t *img;
  size_t n;
  int rc = slurp(file, &img, &n);
  if (rc != 0)
    return rc;
  rc = bs_sim_load_buf(out, img, n);
  free(img);
  return rc;
}
