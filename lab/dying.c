/* A backend table that "dies" after a number of calls (lab/dying.h): the
 * store's own methods, counted, and failing with BS_EIO past a limit, as
 * calls of a process that was killed would never reach the filesystem.
 * Used by the campaign's crash-in (lab/campaign_crashin.c) and
 * tests/test_overlay_crash.c. */
#include "lab/dying.h"

#include <stdint.h>

static _Thread_local const bs_backend_ops *inner_ops; /* the store's own table */
static _Thread_local bs_backend_ops dying;            /* inner's, with the file methods counted */
static _Thread_local uint64_t calls;                  /* file-method calls so far */
static _Thread_local uint64_t limit = UINT64_MAX;     /* calls past this one fail: the process is gone */

#define DIE_OR(call) return ++calls > limit ? BS_EIO : inner_ops->call

static int d_reflink(bs_store *st, const char *a, const char *b) { DIE_OR(reflink(st, a, b)); }
static int d_create(bs_store *st, const char *p, uint32_t m) { DIE_OR(create(st, p, m)); }
static int d_mkdir(bs_store *st, const char *p, uint32_t m) { DIE_OR(mkdir(st, p, m)); }
static int d_write(bs_store *st, const char *p, uint64_t o, const void *b, size_t n) { DIE_OR(write(st, p, o, b, n)); }
static int d_read(bs_store *st, const char *p, uint64_t o, void *b, size_t n, size_t *r) {
  DIE_OR(read(st, p, o, b, n, r));
}
static int d_truncate(bs_store *st, const char *p, uint64_t s) { DIE_OR(truncate(st, p, s)); }
static int d_unlink(bs_store *st, const char *p) { DIE_OR(unlink(st, p)); }
static int d_rmdir(bs_store *st, const char *p) { DIE_OR(rmdir(st, p)); }
static int d_rename(bs_store *st, const char *a, const char *b) { DIE_OR(rename(st, a, b)); }
static int d_stat(bs_store *st, const char *p, bs_stat_info *o) { DIE_OR(stat(st, p, o)); }
static int d_chmod(bs_store *st, const char *p, uint32_t m) { DIE_OR(chmod(st, p, m)); }
static int d_chown(bs_store *st, const char *p, uint32_t u, uint32_t g) { DIE_OR(chown(st, p, u, g)); }
static int d_utimens(bs_store *st, const char *p, int64_t a, int64_t m) { DIE_OR(utimens(st, p, a, m)); }
static int d_readdir(bs_store *st, const char *p, bs_readdir_cb cb, void *c) { DIE_OR(readdir(st, p, cb, c)); }
static int d_setxattr(bs_store *st, const char *p, const char *n, const void *v, size_t l) {
  DIE_OR(setxattr(st, p, n, v, l));
}
static int d_getxattr(bs_store *st, const char *p, const char *n, void *b, size_t c, size_t *l) {
  DIE_OR(getxattr(st, p, n, b, c, l));
}
static int d_removexattr(bs_store *st, const char *p, const char *n) { DIE_OR(removexattr(st, p, n)); }
static int d_listxattr(bs_store *st, const char *p, bs_xattr_cb cb, void *c) { DIE_OR(listxattr(st, p, cb, c)); }
static int d_sync(bs_store *st, const char *p) { DIE_OR(sync(st, p)); }
static int d_symlink(bs_store *st, const char *t, const char *l) { DIE_OR(symlink(st, t, l)); }
static int d_readlink(bs_store *st, const char *p, char *b, size_t c, size_t *l) { DIE_OR(readlink(st, p, b, c, l)); }
static int d_link(bs_store *st, const char *a, const char *b) { DIE_OR(link(st, a, b)); }
static int d_whiteout(bs_store *st, const char *p) { DIE_OR(whiteout(st, p)); }
/* The tree and registry methods (bs__dying_install_all). */
static int d_tree_create(bs_store *st, bs_tree_method m, bs_tree_kind k, uint64_t id, uint64_t src, uint8_t u[16]) {
  DIE_OR(tree_create(st, m, k, id, src, u));
}
static int d_tree_delete(bs_store *st, bs_tree_method m, bs_tree_kind k, uint64_t id) {
  DIE_OR(tree_delete(st, m, k, id));
}
static int d_tree_freeze(bs_store *st, bs_tree_method m, uint64_t id, const char *src, uint8_t u[16]) {
  DIE_OR(tree_freeze(st, m, id, src, u));
}
static int d_registry_open(bs_store *st, bool change, bs_registry **out, uint8_t **buf, size_t *len) {
  DIE_OR(registry_open(st, change, out, buf, len));
}
static int d_registry_save(bs_store *st, bs_registry *r, const uint8_t *buf, size_t len, bool *landed) {
  DIE_OR(registry_save(st, r, buf, len, landed));
}

void bs__dying_install(bs_store *st) {
  inner_ops = st->ops;
  dying = *inner_ops;
#define SET(m)                                                                                                        \
  if (inner_ops->m)                                                                                                   \
  dying.m = d_##m
  SET(reflink); SET(create); SET(mkdir); SET(write); SET(read); SET(truncate); SET(unlink); SET(rmdir);
  SET(rename); SET(stat); SET(chmod); SET(chown); SET(utimens); SET(readdir); SET(setxattr); SET(getxattr);
  SET(removexattr); SET(listxattr); SET(sync); SET(symlink); SET(readlink); SET(link); SET(whiteout);
#undef SET
  st->ops = &dying;
}

void bs__dying_install_all(bs_store *st) {
  bs__dying_install(st);
#define SET(m)                                                                                                        \
  if (inner_ops->m)                                                                                                   \
  dying.m = d_##m
  SET(tree_create); SET(tree_delete); SET(registry_open); SET(registry_save);
  if (inner_ops->version >= 5 && inner_ops->tree_freeze)
    dying.tree_freeze = d_tree_freeze;
#undef SET
}

void bs__dying_uninstall(bs_store *st) {
  if (st->ops == &dying)
    st->ops = inner_ops;
  limit = UINT64_MAX;
}

uint64_t bs__dying_calls(void) { return calls; }

void bs__dying_limit(uint64_t last) { limit = last; }
