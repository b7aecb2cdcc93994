/* Reading the records of a sim image (format in sim/image.c): names, extent
 * maps, inodes, blocks, snapshot and branch trees.  Every field is
 * bounds-checked; counts are limited by the bytes left, so a damaged file
 * cannot make the reader allocate more than the file could describe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "sim/image.h"
#include "src/names.h"
#include "src/snapreg.h"

const uint8_t *bs__sim_img_take(bs__sim_rbuf *r, size_t n) {
  if (r->bad || n > r->n - r->off) {
    r->bad = true;
    return NULL;
  }
  const uint8_t *p = r->p + r->off;
  r->off += n;
  return p;
}

uint64_t bs__sim_img_get(bs__sim_rbuf *r, size_t n) {
  const uint8_t *p = bs__sim_img_take(r, n);
  uint64_t v = 0;
  for (size_t i = 0; p && i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* A count of records of at least @min bytes each: no more than could fit. */
uint64_t bs__sim_img_count(bs__sim_rbuf *r, size_t width, size_t min) {
  uint64_t c = bs__sim_img_get(r, width);
  if (!r->bad && c > (r->n - r->off) / min)
    r->bad = true;
  return r->bad ? 0 : c;
}

/* A file or xattr name: 1..@max bytes, no NUL (and no '/' or dot names if @path). */
static char *get_name(bs__sim_rbuf *r, size_t max, bool path, size_t *len) {
  size_t n = (size_t)bs__sim_img_get(r, 2);
  const uint8_t *p = bs__sim_img_take(r, n);
  if (!p || n == 0 || n > max || memchr(p, 0, n) || (path && memchr(p, '/', n)) ||
      (path && ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')))) {
    r->bad = true;
    return NULL;
  }
  char *s = bs__sim_strndup((const char *)p, n);
  if (!s)
    r->bad = r->oom = true;
  if (len)
    *len = n;
  return s;
}

static int get_map(bs__sim_rbuf *r, bs__sim_emap *m, uint64_t nblocks, uint64_t size) {
  size_t n = (size_t)bs__sim_img_count(r, 4, 24);
  if (r->bad)
    return BS_ECORRUPT;
  if (n && bs__sim_emap_reserve(m, n) != 0)
    return BS_ENO_MEMORY;
  for (size_t i = 0; i < n; i++) {
    m->v[i].lblk = bs__sim_img_get(r, 8);
    m->v[i].pblk = bs__sim_img_get(r, 8);
    m->v[i].len = bs__sim_img_get(r, 8);
  }
  m->n = n;
  char why[160];
  if (r->bad || bs__sim_emap_validate(m, nblocks, size, why, sizeof(why)) != 0)
    return BS_ECORRUPT;
  return BS_OK;
}

static int get_entries(bs__sim_ld *c, bs__sim_inode *n, bool writable, bool main_root, int depth) {
  bs__sim_store *s = c->s;
  bs__sim_rbuf *r = &c->r;
  size_t cnt = (size_t)bs__sim_img_count(r, 4, 3 + 50);
  if (r->bad)
    return BS_ECORRUPT;
  if (cnt) {
    n->ents = bs__sim_calloc(cnt, sizeof(*n->ents));
    if (!n->ents)
      return BS_ENO_MEMORY;
    n->capents = cnt;
  }
  for (size_t i = 0; i < cnt; i++) {
    size_t len = 0;
    char *name = get_name(r, BS__SIM_NAME_MAX, true, &len);
    if (!name)
      return BS_ECORRUPT;
    if ((n->nents && bs__sim_name_cmp(s, n->ents[n->nents - 1].name, n->ents[n->nents - 1].nlen, name, len) >= 0) ||
        (main_root && bs__sim_name_cmp(s, name, len, BS__SIM_RESERVED, 3) == 0)) {
      free(name);
      return BS_ECORRUPT;
    }
    bs__sim_inode *child = NULL;
    int rc = bs__sim_img_inode(c, writable, false, depth + 1, &child);
    if (rc != 0) {
      free(name);
      return rc;
    }
    bs__sim_dir_insert(n, n->nents, name, len, child);
  }
  return BS_OK;
}

static int get_xattrs(bs__sim_store *s, bs__sim_rbuf *r, bs__sim_inode *n) {
  size_t cnt = (size_t)bs__sim_img_count(r, 4, 7);
  if (r->bad)
    return BS_ECORRUPT;
  if (cnt && !(n->xa = bs__sim_calloc(cnt, sizeof(*n->xa))))
    return BS_ENO_MEMORY;
  for (size_t i = 0; i < cnt; i++) {
    bs__sim_xattr *x = &n->xa[i];
    x->name = get_name(r, s->prof->xattr_name_max, false, NULL);
    n->nxa = i + 1;
    if (!x->name || (i > 0 && strcmp(n->xa[i - 1].name, x->name) >= 0))
      return BS_ECORRUPT;
    x->len = (size_t)bs__sim_img_get(r, 4);
    const uint8_t *v = bs__sim_img_take(r, x->len);
    if (!v || x->len > BS__SIM_XATTR_VALUE_MAX)
      return BS_ECORRUPT;
    if (x->len) {
      if (!(x->val = bs__sim_malloc(x->len)))
        return BS_ENO_MEMORY;
      memcpy(x->val, v, x->len);
    }
  }
  return BS_OK;
}

/* Version 4: the nlink a file or symlink record declares; one of more than
 * one name is kept for the further names (kind BS__SIM_IMG_ANOTHER_NAME). */
static int note_links(bs__sim_ld *c, bs__sim_inode *n) {
  uint64_t declared = bs__sim_img_get(&c->r, 4);
  if (c->r.bad || declared == 0)
    return BS_ECORRUPT;
  if (declared == 1)
    return BS_OK;
  if (c->nlinked == c->caplinked) {
    size_t cap = c->caplinked ? c->caplinked * 2 : 16;
    bs__sim_inode **v = bs__sim_realloc_array(c->linked, cap, sizeof(*v));
    if (v)
      c->linked = v;
    uint32_t *d = v ? bs__sim_realloc_array(c->declared, cap, sizeof(*d)) : NULL;
    if (!d)
      return BS_ENO_MEMORY;
    c->declared = d;
    c->caplinked = cap;
  }
  c->linked[c->nlinked] = n;
  c->declared[c->nlinked++] = (uint32_t)declared;
  return BS_OK;
}

bool bs__sim_img_links_complete(const bs__sim_ld *c) {
  for (size_t i = 0; i < c->nlinked; i++)
    if (c->linked[i]->nlink != c->declared[i])
      return false;
  return true;
}

int bs__sim_img_inode(bs__sim_ld *c, bool writable, bool main_root, int depth, bs__sim_inode **out) {
  bs__sim_store *s = c->s;
  bs__sim_rbuf *r = &c->r;
  *out = NULL;
  if (depth > BS__SIM_MAX_DEPTH)
    return BS_ECORRUPT;
  bs__sim_inode *n = bs__sim_calloc(1, sizeof(*n));
  if (!n)
    return BS_ENO_MEMORY;
  n->ino = bs__sim_img_get(r, 8);
  uint64_t kind = bs__sim_img_get(r, 1);
  if (kind == BS__SIM_IMG_ANOTHER_NAME && c->version >= 4 && !r->bad) {
    /* A further name of an inode written before: the same inode. */
    uint64_t ino = n->ino;
    free(n);
    for (size_t i = 0; i < c->nlinked; i++)
      if (c->linked[i]->ino == ino) {
        if (c->linked[i]->nlink >= c->declared[i])
          return BS_ECORRUPT;
        c->linked[i]->nlink++;
        *out = c->linked[i];
        return BS_OK;
      }
    return BS_ECORRUPT;
  }
  uint64_t mode = bs__sim_img_get(r, 4);
  uint64_t uid = bs__sim_img_get(r, 4), gid = bs__sim_img_get(r, 4);
  n->atime = (int64_t)bs__sim_img_get(r, 8);
  n->mtime = (int64_t)bs__sim_img_get(r, 8);
  n->ctime = (int64_t)bs__sim_img_get(r, 8);
  n->btime = (int64_t)bs__sim_img_get(r, 8);
  int rc = BS_ECORRUPT; /* an id of (uint32_t)-1 (BS_ID_KEEP) cannot be set */
  bool known = kind == BS_KIND_FILE || kind == BS_KIND_DIR || (kind == BS_KIND_SYMLINK && c->version >= 4);
  if (r->bad || !known || mode > 07777 ||
      uid == BS_ID_KEEP || gid == BS_ID_KEEP || n->ino >= s->next_ino ||
      n->ino < BS__SIM_ROOT_INO || (n->ino >= BS__SIM_INO_VBS && n->ino <= BS__SIM_INO_VBRANCHES))
    goto fail;
  if (c->ninos == c->capinos) {
    size_t cap = c->capinos ? c->capinos * 2 : 64;
    uint64_t *v = bs__sim_realloc_array(c->inos, cap, sizeof(*v));
    rc = BS_ENO_MEMORY;
    if (!v)
      goto fail;
    c->inos = v;
    c->capinos = cap;
  }
  c->inos[c->ninos++] = n->ino;
  n->kind = (bs_file_kind)kind;
  n->nlink = 1; /* counted up as its further names are read (version 4) */
  n->mode = (uint32_t)mode;
  n->uid = (uint32_t)uid;
  n->gid = (uint32_t)gid;
  if ((rc = get_xattrs(s, r, n)) == 0)
    bs__sim_xattrs_place(s, n); /* placements are not in the image */
  if (rc != 0)
    goto fail;
  if (n->kind == BS_KIND_FILE) {
    n->size = bs__sim_img_get(r, 8);
    rc = BS_ECORRUPT;
    if (r->bad || n->size > BS__SIM_MAX_FILE || (rc = get_map(r, &n->live, s->blk.n, n->size)) != 0)
      goto fail;
    uint64_t dirty = bs__sim_img_get(r, 1);
    rc = BS_ECORRUPT;
    if (r->bad || dirty > 1 || (dirty && !writable))
      goto fail;
    n->dirty = dirty;
    n->dsize = n->size;
    if (dirty) {
      n->dsize = bs__sim_img_get(r, 8);
      if (r->bad || n->dsize > BS__SIM_MAX_FILE || (rc = get_map(r, &n->dur, s->blk.n, n->dsize)) != 0)
        goto fail;
    }
  } else if (n->kind == BS_KIND_SYMLINK) {
    size_t tl = 0;
    rc = BS_ECORRUPT;
    if (!(n->target = get_name(r, BS_SYMLINK_TARGET_MAX, false, &tl)))
      goto fail;
  } else if ((rc = get_entries(c, n, writable, main_root, depth)) != 0) {
    goto fail;
  }
  if (n->kind != BS_KIND_DIR && c->version >= 4 && (rc = note_links(c, n)) != 0)
    goto fail;
  *out = n;
  return BS_OK;
fail:
  bs__sim_inode_free(s, n, false);
  return rc;
}


int bs__sim_img_blocks(bs__sim_ld *c) {
  bs__sim_store *s = c->s;
  bs__sim_rbuf *r = &c->r;
  uint64_t cnt = bs__sim_img_count(r, 8, 13 + BS_SIM_BLOCK_SIZE);
  uint64_t prev = 0;
  for (uint64_t k = 0; !r->bad && k < cnt; k++) {
    uint64_t i = bs__sim_img_get(r, 8), ref = bs__sim_img_get(r, 4), flag = bs__sim_img_get(r, 1);
    const uint8_t *d = bs__sim_img_take(r, BS_SIM_BLOCK_SIZE);
    /* Only a sim with COW_IN_PLACE on writes a shared block in place: the
     * mark of that defect in an image saved without it is damage. */
    if (!d || i >= s->blk.n || (k > 0 && i <= prev) || ref == 0 || flag > BS__SIM_BLK_SHARED_WRITE ||
        (flag && s->bug != BS_SIM_BUG_COW_IN_PLACE))
      return BS_ECORRUPT;
    prev = i;
    if (!(s->blk.data[i] = bs__sim_malloc(BS_SIM_BLOCK_SIZE)))
      return BS_ENO_MEMORY;
    memcpy(s->blk.data[i], d, BS_SIM_BLOCK_SIZE);
    s->blk.ref[i] = (uint32_t)ref;
    s->blk.flag[i] = (uint8_t)flag;
  }
  return r->bad ? BS_ECORRUPT : BS_OK;
}

/* A snapshot or branch record's tree. */
static int get_tree_root(bs__sim_ld *c, bs__sim_tree *t, bool writable) {
  int rc = bs__sim_img_inode(c, writable, false, 0, &t->root);
  if (rc == 0 && t->root->kind != BS_KIND_DIR)
    rc = BS_ECORRUPT;
  return rc;
}

/* A new tree record of @s's snapshots or branches. */
static bs__sim_tree *new_tree(bs__sim_store *s, bool branches, size_t cap) {
  bs__sim_tree ***v = branches ? &s->branches : &s->snaps;
  size_t *n = branches ? &s->nbranches : &s->nsnaps;
  if (!*v && cap && !(*v = bs__sim_calloc(cap, sizeof(**v))))
    return NULL;
  bs__sim_tree *t = bs__sim_calloc(1, sizeof(*t));
  if (t) {
    t->readonly = !branches;
    (*v)[(*n)++] = t;
  }
  return t;
}

static char *get_tree_name(bs__sim_rbuf *r) {
  char *name = get_name(r, BS_NAME_MAX, true, NULL);
  if (name && bs__name_validate_held(name) != 0) { /* may predate the control-character rule */
    free(name);
    r->bad = true;
    return NULL;
  }
  return name;
}

/* ---- version 3: trees by id, the core's registry as bytes --------------------- */

static int trees_v3(bs__sim_ld *c, bool branches) {
  bs__sim_rbuf *r = &c->r;
  size_t n = (size_t)bs__sim_img_count(r, 4, 8 + 50);
  if (r->bad)
    return BS_ECORRUPT;
  for (size_t i = 0; i < n; i++) {
    bs__sim_tree *t = new_tree(c->s, branches, n);
    if (!t)
      return BS_ENO_MEMORY;
    t->id = bs__sim_img_get(r, 8);
    bs__sim_tree *const *v = branches ? c->s->branches : c->s->snaps;
    if (r->bad || t->id == 0 || (i > 0 && v[i - 1]->id >= t->id))
      return BS_ECORRUPT;
    int rc = get_tree_root(c, t, branches);
    if (rc != 0)
      return rc;
  }
  return BS_OK;
}

/* Every tree the registry names is there (trees it does not name are
 * orphans of a crash, which the core removes). */
static int registry_matches(bs__sim_store *s, const bs__snapreg *reg) {
  for (size_t i = 0; i < reg->nsnaps; i++)
    if (!bs__sim_tree_by_id(s, false, reg->snaps[i].id, NULL))
      return BS_ECORRUPT;
  for (size_t i = 0; i < reg->nbranches; i++)
    if (!bs__sim_tree_by_id(s, true, reg->branches[i].id, NULL))
      return BS_ECORRUPT;
  return BS_OK;
}

static int registry_v3(bs__sim_ld *c) {
  bs__sim_rbuf *r = &c->r;
  size_t len = (size_t)bs__sim_img_count(r, 4, 1);
  const uint8_t *p = len ? bs__sim_img_take(r, len) : NULL;
  if (r->bad)
    return BS_ECORRUPT;
  if (!len)
    return BS_OK;
  bs__snapreg reg;
  int rc = bs__snapreg_decode(&reg, p, len);
  if (rc != 0)
    return rc == BS_ENO_MEMORY ? rc : BS_ECORRUPT;
  rc = registry_matches(c->s, &reg);
  bs__snapreg_free(&reg);
  if (rc == 0)
    rc = bs__sim_registry_save(c->s, p, len);
  return rc;
}

/* ---- version 2: names in the tree records (the sim kept its own registry) ------ */

/* A version-2 image's snapshots and branches, made into the core's
 * registry: ids, UUIDs, names and times as they were; branches get ids
 * 1..n in name order (they had none). */
static int trees_v2(bs__sim_ld *c, uint64_t next_snap_id) {
  bs__sim_store *s = c->s;
  bs__sim_rbuf *r = &c->r;
  bs__snapreg reg;
  bs__snapreg_init(&reg);
  reg.next_id = next_snap_id;
  int rc = BS_OK;
  size_t n = (size_t)bs__sim_img_count(r, 4, 8 + 16 + 3 + 8 + 4 + 50);
  if (r->bad)
    rc = BS_ECORRUPT;
  if (rc == 0 && n && !(reg.snaps = bs__sim_calloc(n, sizeof(*reg.snaps))))
    rc = BS_ENO_MEMORY;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    bs_snapshot_info *si = &reg.snaps[reg.nsnaps++];
    bs__sim_tree *t = new_tree(s, false, n);
    if (!t) {
      rc = BS_ENO_MEMORY;
      break;
    }
    si->readonly = true;
    t->id = si->id = bs__sim_img_get(r, 8);
    const uint8_t *u = bs__sim_img_take(r, 16);
    if (u)
      memcpy(si->uuid, u, 16);
    char *name = get_tree_name(r);
    if (!name) {
      rc = BS_ECORRUPT;
      break;
    }
    snprintf(si->name, sizeof(si->name), "%s", name);
    free(name);
    si->created_ns = bs__sim_img_get(r, 8);
    si->branch_count = (uint32_t)bs__sim_img_get(r, 4);
    if (r->bad || t->id == 0 || t->id >= next_snap_id || (i > 0 && s->snaps[i - 1]->id >= t->id))
      rc = BS_ECORRUPT;
    if (rc == 0)
      rc = get_tree_root(c, t, false);
  }
  n = rc == 0 ? (size_t)bs__sim_img_count(r, 4, 3 + 8 + 8 + 50) : 0;
  if (rc == 0 && r->bad)
    rc = BS_ECORRUPT;
  if (rc == 0 && n && !(reg.branches = bs__sim_calloc(n, sizeof(*reg.branches))))
    rc = BS_ENO_MEMORY;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    bs__branch_rec *b = &reg.branches[reg.nbranches++];
    bs__sim_tree *t = new_tree(s, true, n);
    char *name = get_tree_name(r);
    if (!t || !name) {
      free(name);
      rc = t ? BS_ECORRUPT : BS_ENO_MEMORY;
      break;
    }
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->kind = BS_BRANCH_NATIVE; /* images before the registry moved to the core had no others */
    free(name);
    t->id = b->id = i + 1;
    b->snapshot_id = bs__sim_img_get(r, 8);
    (void)bs__sim_img_get(r, 8); /* the branch's creation time: the registry has none */
    if (r->bad)
      rc = BS_ECORRUPT;
    if (rc == 0)
      rc = get_tree_root(c, t, true);
  }
  reg.next_branch_id = reg.nbranches + 1;
  /* Names unique and sorted, branch counts exact: the registry's own check. */
  if (rc == 0 && bs__snapreg_check(&reg) != 0)
    rc = BS_ECORRUPT;
  uint8_t *buf = NULL;
  size_t len = 0;
  if (rc == 0 && (reg.nsnaps || reg.nbranches) && (rc = bs__snapreg_encode(&reg, &buf, &len)) == 0)
    rc = bs__sim_registry_save(s, buf, len);
  free(buf);
  bs__snapreg_free(&reg);
  return rc;
}

int bs__sim_img_trees(bs__sim_ld *c, uint32_t version, uint64_t next_snap_id) {
  if (version == 2)
    return trees_v2(c, next_snap_id);
  int rc = trees_v3(c, false);
  if (rc == 0)
    rc = trees_v3(c, true);
  if (rc == 0)
    rc = registry_v3(c);
  return rc;
}
