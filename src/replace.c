/* bs_replace(): atomic whole-file replacement (docs/guarantees.md), written
 * once above the ops table out of bs_create, bs_write, bs_chmod, bs_sync,
 * bs_rename and bs_unlink, so every backend (sim, real, faults:<inner>)
 * gets the same sequence and the same failure behaviour. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backend.h"
#include "src/store_internal.h"

/* Names tried for the temporary file before giving up with EXISTS: more
 * than this many leftovers of crashed replacements of one name is a store
 * someone should look at. */
#define MAX_TMP_TRIES 100
/* Longest path a replacement takes, its temporary name included. */
#define PATH_CAP 4096

/* The parts of @path a replacement needs: the directory to sync and the
 * prefix (everything up to the last '/') and name of the file. */
typedef struct target {
  char dir[PATH_CAP]; /* "/" or "/a/b" */
  char tmp[PATH_CAP]; /* the temporary file */
  size_t prefix;      /* bytes of @path up to and with its last '/' */
  const char *base;   /* the last component */
} target;

static int split(bs_store *st, const char *path, target *t) {
  const char *slash = strrchr(path, '/');
  t->base = slash + 1;
  t->prefix = (size_t)(t->base - path);
  if (!*t->base || strcmp(t->base, ".") == 0 || strcmp(t->base, "..") == 0)
    return bs_store_fail(st, BS_EINVALID, EISDIR, "names a directory, not a file");
  if (strlen(path) + 32 > sizeof(t->tmp))
    return bs_store_fail(st, BS_ENAME_TOO_LONG, ENAMETOOLONG, "path too long");
  size_t n = t->prefix;
  while (n > 1 && path[n - 1] == '/')
    n--;
  memcpy(t->dir, path, n);
  t->dir[n] = '\0';
  return 0;
}

/* The @i-th temporary name: ".NAME.bs-tmp.I" beside the target, or
 * ".bs-tmp.I" where NAME is too long for that to be a valid name. */
static void tmp_name(target *t, const char *path, unsigned i) {
  size_t blen = strlen(t->base);
  if (1 + blen + 8 + 3 <= BS_NAME_MAX)
    snprintf(t->tmp, sizeof(t->tmp), "%.*s.%s.bs-tmp.%u", (int)t->prefix, path, t->base, i);
  else
    snprintf(t->tmp, sizeof(t->tmp), "%.*s.bs-tmp.%u", (int)t->prefix, path, i);
}

/* The mode of the new file: an existing file's permission bits without its
 * set-user-ID and set-group-ID bits (the new inode belongs to the caller,
 * so a kept set-ID bit would run the new content with the caller's ids), or
 * @mode for a new name.  A directory cannot be replaced. */
static int new_mode(bs_store *st, const char *path, uint32_t mode, uint32_t *out) {
  bs_stat_info si;
  int rc = bs_stat(st, path, &si);
  if (rc == BS_ENOT_FOUND) {
    *out = mode & 07777;
    return 0;
  }
  if (rc != 0)
    return rc;
  if (si.kind == BS_KIND_DIR)
    return bs_store_fail(st, BS_EINVALID, EISDIR, "is a directory");
  *out = si.kind == BS_KIND_FILE ? si.mode & 01777 : mode & 07777;
  return 0;
}

static int make_tmp(bs_store *st, target *t, const char *path) {
  int rc = BS_EEXISTS;
  for (unsigned i = 0; i < MAX_TMP_TRIES && rc == BS_EEXISTS; i++) {
    tmp_name(t, path, i);
    rc = bs_create(st, t->tmp, 0600);
  }
  if (rc == BS_EEXISTS)
    bs_store_fail(st, rc, EEXIST, "%d temporary names taken (%s and before)", MAX_TMP_TRIES, t->tmp);
  return rc;
}

/* Copy everything @src gives into the temporary file, a chunk at a time. */
static int fill(bs_store *st, const target *t, bs_source_cb src, void *ctx) {
  uint8_t *buf = malloc(BS_REPLACE_CHUNK);
  if (!buf)
    return bs_store_fail(st, BS_ENO_MEMORY, ENOMEM, "no memory for a %u-byte buffer",
                         BS_REPLACE_CHUNK);
  int rc = 0;
  for (uint64_t off = 0;;) {
    size_t n = 0;
    rc = src(ctx, buf, BS_REPLACE_CHUNK, &n);
    if (rc > 0 || (rc == 0 && n > BS_REPLACE_CHUNK)) {
      rc = bs_store_fail(st, BS_EINVALID, 0, "the source returned %d with %zu bytes for %u",
                         rc, n, BS_REPLACE_CHUNK);
      break;
    }
    if (rc != 0) {
      bs_store_fail(st, rc, 0, "the source failed: %s", bs_strerror(rc));
      break;
    }
    if (n == 0)
      break;
    if ((rc = bs_write(st, t->tmp, off, buf, n)) != 0)
      break;
    off += n;
  }
  free(buf);
  return rc;
}

/* Every step up to the rename; a failure leaves the temporary file for the
 * caller to remove. */
static int write_tmp(bs_store *st, target *t, uint32_t mode, bs_source_cb src, void *ctx) {
  int rc = fill(st, t, src, ctx);
  if (rc == 0 && mode != 0600)
    rc = bs_chmod(st, t->tmp, mode);
  if (rc == 0)
    rc = bs_sync(st, t->tmp);
  return rc;
}

/* Fail with @rc, the current message after "replace: PATH: ", and what
 * became of the temporary file @tmp (NULL: none was made).  The cleanup's
 * own calls clear the message, so it is kept first. */
static int fail_after(bs_store *st, int rc, const char *path, const char *tmp) {
  char why[256];
  int os = bs_last_os_errno(st);
  snprintf(why, sizeof(why), "%s", bs_last_message(st));
  int urc = tmp ? bs_unlink(st, tmp) : 0;
  if (urc != 0)
    return bs_store_fail(st, rc, os, "replace: %s: %s; and the temporary file %s is left (%s)", path,
                         why, tmp, bs_err_name(urc));
  return bs_store_fail(st, rc, os, "replace: %s: %s", path, why);
}

static int replace(bs_store *st, const char *path, uint32_t mode, bs_source_cb src, void *ctx) {
  target t;
  uint32_t final_mode = 0;
  int rc = split(st, path, &t);
  if (rc == 0)
    rc = new_mode(st, path, mode, &final_mode);
  if (rc == 0)
    rc = make_tmp(st, &t, path);
  if (rc != 0)
    return fail_after(st, rc, path, NULL);
  rc = write_tmp(st, &t, final_mode, src, ctx);
  if (rc == 0)
    rc = bs_rename(st, t.tmp, path);
  if (rc != 0)
    return fail_after(st, rc, path, t.tmp);
  /* Past the rename nothing can be undone: the new content is in place. */
  rc = bs_sync(st, t.dir);
  if (rc != 0) {
    char why[256];
    snprintf(why, sizeof(why), "%s", bs_last_message(st));
    bs_store_fail(st, rc, bs_last_os_errno(st),
                  "replace: %s: replaced, but syncing its directory failed, so the replacement may "
                  "not survive a crash: %.120s", path, why);
  }
  return rc;
}

int bs_replace(bs_store *st, const char *path, uint32_t mode, bs_source_cb src, void *ctx) {
  if (!st)
    return BS_EINVALID;
  if (!path || path[0] != '/')
    return bs_store_fail(st, BS_EINVALID, 0, "replace: path must be absolute, got %s",
                         path ? path : "NULL");
  if (!src)
    return bs_store_fail(st, BS_EINVALID, 0, "replace: NULL source");
  /* One exclusive lock for the whole sequence: other threads of this store
   * see the old file or the new one, never the temporary one or a half-done
   * step.  The calls inside take it again as the holder (src/store.c). */
  bool took = bs__store_enter(st, true);
  bs_store_clear_error(st);
  int rc = replace(st, path, mode, src, ctx);
  bs__store_leave(st, took);
  return rc;
}
