/* Shared by the overlay crash and fault suites: a small lower tree, the
 * changes an overlay branch makes to it (a copy-up, a whiteout, a directory
 * over a whiteout, a copy-up of a directory) and a dump of a branch's whole
 * view to compare before and after. */
#ifndef BS_TEST_OVERLAY_VIEW_H
#define BS_TEST_OVERLAY_VIEW_H

#include <stdio.h>
#include <string.h>

#include "tests/support/bs_test.h"

#define OV_VIEW_MAX 4096

typedef enum ov_change {
  OV_WRITE_LOWER,
  OV_UNLINK_LOWER,
  OV_MKDIR_OVER_WHITEOUT,
  OV_CHMOD_LOWER_DIR,
  OV_CHMOD_LOWER_FILE,
  OV_NCHANGES
} ov_change;
static const char *const ov_change_names[] = {"write of a lower file", "unlink of a lower file",
                                              "mkdir over a whiteout", "chmod of a lower directory", "chmod of a lower file"};

/* The lower tree the changes work on (snapshot it next). */
static inline void ov_view_setup(bs_store *st) {
  bs_test_put_text(st, "/a", "a");
  assert_bs_ok(bs_mkdir(st, "/d", 0755));
  bs_test_put_text(st, "/d/x", "lower-x");
  bs_test_put_text(st, "/d/y", "lower-y");
  assert_bs_ok(bs_mkdir(st, "/e", 0755));
  bs_test_put_text(st, "/e/z", "z");
}

/* The whole view of directory @top: "path/ mode" or "path mode size content" lines. */
static inline void ov_dump(bs_store *st, const char *top, const char *rel, char *out) {
  char l[BS_TEST_LISTING_MAX], p[4096];
  snprintf(p, sizeof(p), "%s%s", top, rel);
  bs_test_listing(st, p, l);
  for (char *name = l, *semi; (semi = strchr(name, ';')); name = semi + 1) {
    *semi = '\0';
    size_t n = strlen(name);
    bool dir = n && name[n - 1] == '/';
    if (dir)
      name[n - 1] = '\0';
    char r[2048], full[4096];
    snprintf(r, sizeof(r), "%s/%s", rel, name);
    snprintf(full, sizeof(full), "%s%s", top, r);
    bs_stat_info si;
    assert_bs_ok(bs_stat(st, full, &si));
    size_t at = strlen(out);
    if (dir) {
      snprintf(out + at, OV_VIEW_MAX - at, "%s/ %o\n", r, si.mode);
      ov_dump(st, top, r, out);
    } else {
      char c[64] = "";
      size_t got = 0;
      assert_bs_ok(bs_read(st, full, 0, c, sizeof(c) - 1, &got));
      c[got] = '\0';
      snprintf(out + at, OV_VIEW_MAX - at, "%s %o %llu %s\n", r, si.mode, (unsigned long long)si.size, c);
    }
  }
}

/* Run change @c on branch @br. */
static inline int ov_run(bs_store *st, const char *br, ov_change c) {
  char p[256];
  switch (c) {
  case OV_WRITE_LOWER:
    snprintf(p, sizeof(p), "%s/d/x", br);
    return bs_write(st, p, 1, "NEW", 3);
  case OV_UNLINK_LOWER:
    snprintf(p, sizeof(p), "%s/d/y", br);
    return bs_unlink(st, p);
  case OV_MKDIR_OVER_WHITEOUT:
    snprintf(p, sizeof(p), "%s/e", br);
    return bs_mkdir(st, p, 0700);
  case OV_CHMOD_LOWER_DIR:
    snprintf(p, sizeof(p), "%s/d", br);
    return bs_chmod(st, p, 0711);
  case OV_CHMOD_LOWER_FILE:
    snprintf(p, sizeof(p), "%s/e/z", br);
    return bs_chmod(st, p, 0600);
  case OV_NCHANGES:
    break;
  }
  return BS_EINVALID;
}

/* Make new overlay branch @name ready for change @c. */
static inline void ov_prepare(bs_store *st, const char *name, ov_change c) {
  if (c == OV_MKDIR_OVER_WHITEOUT) {
    char p[256];
    snprintf(p, sizeof(p), "/.bs/branches/%s/e/z", name);
    assert_bs_ok(bs_unlink(st, p));
    snprintf(p, sizeof(p), "/.bs/branches/%s/e", name);
    assert_bs_ok(bs_rmdir(st, p));
  }
}

/* A fresh overlay branch @name of snapshot @snap, ready for change @c. */
static inline void ov_fresh(bs_store *st, uint64_t snap, const char *name, ov_change c) {
  bs_branch_opts o = {.kind = BS_BRANCH_OVERLAY};
  assert_bs_ok(bs_branch_create_opts(st, snap, name, &o));
  ov_prepare(st, name, c);
}

#endif
