/* Running one differential operation on one store, and writing down what it
 * returned in a canonical text (so the sim's and the kernel's answers compare
 * as strings).  The state the operation left behind is compared separately
 * (lab/diff_state.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lab/campaign_internal.h" /* bs__fnv1a */
#include "lab/diff_internal.h"

/* Text of a name list, built by the readdir and listxattr callbacks. */
typedef struct list_ctx {
  char *buf;
  size_t cap, len;
  bool truncated;
} list_ctx;

static void list_add(list_ctx *l, const char *name, const char *suffix) {
  int w = snprintf(l->buf + l->len, l->cap - l->len, "%.40s%s%s;", name,
                   strlen(name) > 40 ? "..." : "", suffix);
  if (w < 0 || (size_t)w >= l->cap - l->len) {
    l->truncated = true;
    return;
  }
  l->len += (size_t)w;
}

static int on_dirent(void *ctx, const char *name, bs_file_kind kind) {
  list_add(ctx, name, kind == BS_KIND_DIR ? "/" : kind == BS_KIND_SYMLINK ? "@" : "");
  return 0;
}

static int on_xattr(void *ctx, const char *name) {
  list_add(ctx, name, "");
  return 0;
}

/* The bytes of a replace: @left more from one seeded stream, in whatever
 * pieces bs_replace asks for. */
typedef struct replace_src {
  bs__rng rng;
  uint64_t left;
} replace_src;

static int replace_bytes(void *ctx, void *buf, size_t cap, size_t *n) {
  replace_src *s = ctx;
  size_t k = s->left < cap ? (size_t)s->left : cap;
  for (size_t i = 0; i < k; i += 8) {
    uint64_t x = bs__rng_next(&s->rng);
    memcpy((uint8_t *)buf + i, &x, k - i < 8 ? k - i : 8);
  }
  s->left -= k;
  *n = k;
  return 0;
}

void bs__dop_run(bs_store *st, const bs__dop *op, uint8_t *scratch, bs__dout *out) {
  memset(out, 0, sizeof(*out));
  char *t = out->text;
  size_t cap = sizeof(out->text);
  switch (op->kind) {
  case DF_CREATE: out->rc = bs_create(st, op->path, op->mode); break;
  case DF_MKDIR: out->rc = bs_mkdir(st, op->path, op->mode); break;
  case DF_WRITE:
    bs__dfill(scratch, (size_t)op->len, op->dseed);
    out->rc = bs_write(st, op->path, op->off, scratch, (size_t)op->len);
    break;
  case DF_READ: {
    size_t n = 0;
    out->rc = bs_read(st, op->path, op->off, scratch, (size_t)op->len, &n);
    if (out->rc == 0)
      snprintf(t, cap, "n=%zu hash=%016" PRIx64, n, bs__fnv1a(BS__FNV_OFFSET, scratch, n));
    break;
  }
  case DF_TRUNCATE: out->rc = bs_truncate(st, op->path, op->off); break;
  case DF_UNLINK: out->rc = bs_unlink(st, op->path); break;
  case DF_RMDIR: out->rc = bs_rmdir(st, op->path); break;
  case DF_RENAME: out->rc = bs_rename(st, op->path, op->path2); break;
  case DF_STAT: {
    bs_stat_info si;
    out->rc = bs_stat(st, op->path, &si);
    if (out->rc == 0) /* the fields are compared by the state check */
      snprintf(t, cap, "kind=%d", (int)si.kind);
    break;
  }
  case DF_CHMOD: out->rc = bs_chmod(st, op->path, op->mode); break;
  case DF_CHOWN: out->rc = bs_chown(st, op->path, op->uid, op->gid); break;
  case DF_UTIMENS: out->rc = bs_utimens(st, op->path, op->atime, op->mtime); break;
  case DF_SETXATTR:
    bs__dfill(scratch, (size_t)op->len, op->dseed);
    out->rc = bs_setxattr(st, op->path, op->xname, scratch, (size_t)op->len);
    break;
  case DF_GETXATTR: {
    size_t n = 0;
    out->rc = bs_getxattr(st, op->path, op->xname, scratch, (size_t)op->len, &n);
    if (out->rc == 0)
      snprintf(t, cap, "len=%zu hash=%016" PRIx64, n,
               op->len ? bs__fnv1a(BS__FNV_OFFSET, scratch, n) : 0);
    break;
  }
  case DF_REMOVEXATTR: out->rc = bs_removexattr(st, op->path, op->xname); break;
  case DF_LISTXATTR:
  case DF_READDIR: {
    list_ctx l = {.buf = t, .cap = cap};
    out->rc = op->kind == DF_READDIR ? bs_readdir(st, op->path, on_dirent, &l)
                                     : bs_listxattr(st, op->path, on_xattr, &l);
    if (out->rc != 0)
      t[0] = '\0';
    break;
  }
  case DF_REFLINK: out->rc = bs_reflink(st, op->path, op->path2); break;
  case DF_SYNC: out->rc = bs_sync(st, op->path[0] ? op->path : NULL); break;
  case DF_REPLACE: {
    replace_src src = {.left = op->len};
    bs__rng_seed(&src.rng, op->dseed);
    out->rc = bs_replace(st, op->path, op->mode, replace_bytes, &src);
    break;
  }
  case DF_SYMLINK: out->rc = bs_symlink(st, op->path2, op->path); break;
  case DF_READLINK: {
    size_t n = 0;
    out->rc = bs_readlink(st, op->path, (char *)scratch, 4096, &n);
    if (out->rc == 0)
      snprintf(t, cap, "n=%zu text=%.*s", n, (int)(n < 200 ? n : 200), (const char *)scratch);
    break;
  }
  case DF_LINK: out->rc = bs_link(st, op->path, op->path2); break;
  case DF_CAPS: {
    bs_caps c;
    out->rc = bs_get_caps(st, &c);
    if (out->rc == 0)
      snprintf(t, cap, "type=%u/%s snapshots=%d reflink=%d xattrs=%d case=%d max_name=%u",
               c.fs_type, c.fs_type_name, c.native_snapshots, c.native_reflink, c.xattrs,
               c.case_sensitive, c.max_name_len);
    break;
  }
  case DF_OVERLAY: { /* the ids are the store's own: not compared */
    bs_snapshot_info si;
    bs_branch_opts bo = {.kind = BS_BRANCH_OVERLAY};
    out->rc = bs_snapshot_create(st, "s", &si);
    if (out->rc == 0)
      out->rc = bs_branch_create_opts(st, si.id, "b", &bo);
    break;
  }
  case DF_KIND_COUNT: break;
  }
}
